"""Feature tables on Apache Spark: the pandas feature code, run per bucket of customers.

``predictor features --engine spark`` writes the same frame as the pandas engine (same
customers, same columns, same values) as a Parquet dataset through Spark's committer.

Two stages keep it one implementation:

1. Per bucket (``groupBy(bucket).applyInPandas``), predictor's own validation and
   ``features.build_features`` (without the fitted ``bgnbd`` family) run on the bucket's
   customers, and ``features.probabilistic.rfm_stats`` gives each purchaser's ``(x, t_x, T)``.
   Every family but ``bgnbd`` depends on one customer's own rows only.
2. The ``bgnbd`` family is fitted on the whole population, as the pandas engine fits it: the
   fit takes the ``FIT_SAMPLE`` purchasers with the smallest seeded hash of their ids, so the
   driver collects exactly those rows (Spark sorts by the hash; at most ``FIT_SAMPLE`` rows
   reach the driver) and ``probabilistic.fit_stats`` fits the same parameters. Each bucket's
   frame then gets the family from those parameters (``probabilistic.from_stats``), the
   per-value columns another bucket saw (``scoring.fill_absent_label_columns``) and the
   union's column order.

Spark is optional (``pip install 'predictor[spark]'``); this module imports it lazily.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from predictor.config import Config
from predictor.contract.errors import ContractError, ContractIssue
from predictor.spark_engine import (
    BUCKET,
    _commit,
    _from_ipc,
    _issue,
    _issue_rows,
    _plain,
    _to_ipc,
    bucketed,
    locate_tables,
    read_tables,
    spark_session,
    validate_bucket,
)

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

KIND = "_kind"
DETAIL = "_detail"
CURRENT = "current"
DAY_ONE = "day-one"
_RFM = ("x", "t_x", "T")
_STAGE_SCHEMA = (
    f"{BUCKET} int, {KIND} string, {DETAIL} string, customer_id string, _key string, "
    "x double, t_x double, T double, _payload binary"
)


@dataclass(frozen=True)
class FeatureJob:
    """What each bucket runs: the config, the cutoff and the feature view."""

    config: Config
    end_date: pd.Timestamp
    columns: dict[str, list[str]]
    as_of: pd.Timestamp | None = None
    view: str = CURRENT

    @property
    def fits_bgnbd(self) -> bool:
        """Whether the view holds the population-fitted ``bgnbd`` family."""
        return self.view == CURRENT and self.config.model.probabilistic_features

    def validated(self, group: pd.DataFrame):
        """The bucket's tables, typed and checked with the config's date rules."""
        from predictor.io.tables import date_rules

        return validate_bucket(group, self.columns, self.end_date, date_rules(self.config))

    def latest(self, group: pd.DataFrame) -> pd.DataFrame:
        """The latest valid event date of the bucket (the default cutoff is the maximum)."""
        from predictor.datasets import data_span

        tables = self.validated(group).tables
        latest = pd.NaT
        if tables is not None and len(tables.customers):
            latest = data_span(tables, self.config)[1]
        return pd.DataFrame({"latest": pd.to_datetime([latest]).astype("datetime64[us]")})

    def frame(self, group: pd.DataFrame) -> tuple[pd.DataFrame | None, pd.DataFrame, list]:
        """(the bucket's features without ``bgnbd``, its purchasers' RFM stats, its issues)."""
        from predictor.features import build_day_one_features, build_features
        from predictor.timeline import truncate

        result = self.validated(group)
        if result.errors or result.tables is None:
            return None, pd.DataFrame(), result.issues
        if self.view == DAY_ONE:
            frame = build_day_one_features(truncate(result.tables, self.as_of), self.config)
            return frame, pd.DataFrame(), result.issues
        frame = build_features(result.tables, self.as_of, self.config, None)
        stats = bgnbd_stats(result.tables, self.as_of, frame.index) if self.fits_bgnbd else None
        return frame, stats if stats is not None else pd.DataFrame(), result.issues

    def stage(self, group: pd.DataFrame) -> pd.DataFrame:
        """Stage 1 of a bucket: issues, its columns, its fit candidates and its frame payload."""
        bucket = int(group[BUCKET].iloc[0])
        frame, stats, issues = self.frame(group)
        rows = [_issue_rows(issues)]
        if frame is not None:
            rows.append(stage_rows(frame, stats, self.config.model.random_state))
        out = pd.concat(rows, ignore_index=True).assign(**{BUCKET: bucket})
        return _plain(out.reindex(columns=[c.split()[0] for c in _STAGE_SCHEMA.split(", ")]))


def bgnbd_stats(tables: Any, as_of: pd.Timestamp, ids: pd.Index) -> pd.DataFrame:
    """Each purchaser's ``(x, t_x, T)`` at ``as_of``, what the ``bgnbd`` fit and family need."""
    from predictor.features.probabilistic import rfm_stats
    from predictor.timeline import day_end, truncate

    limit = pd.Series(day_end(as_of), index=ids, name="as_of")
    return rfm_stats(truncate(tables, as_of), limit)


def stage_rows(frame: pd.DataFrame, stats: pd.DataFrame, seed: int) -> pd.DataFrame:
    """A bucket's frame as stage-1 rows: its column kinds, the frame payload, fit candidates."""
    kinds = {c: "category" if isinstance(t, pd.CategoricalDtype) else "number"
             for c, t in frame.dtypes.items()}  # fmt: skip
    shape = pd.DataFrame(
        {KIND: ["columns"], DETAIL: [json.dumps({"kinds": kinds, "rows": len(frame)})]}
    )
    body = frame.join(stats) if len(stats) else frame
    text = {c: body[c].astype(object).where(body[c].notna(), None)
            for c in kinds if kinds[c] == "category"}  # fmt: skip
    body = body.assign(**text).reset_index()
    payload = pd.DataFrame({KIND: ["frame"], "_payload": [_to_ipc(body)]})
    return pd.concat([shape, payload, _fit_rows(stats, seed)], ignore_index=True)


def _fit_rows(stats: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The bucket's candidates for the BG/NBD fit, with their seeded key.

    ``probabilistic.fit_stats`` fits on the ``FIT_SAMPLE`` purchasers with the smallest 64-bit
    hash of their ids; those are among each bucket's ``FIT_SAMPLE`` smallest, so no more
    reach the driver (at most buckets x ``FIT_SAMPLE`` rows of four numbers). The key is
    zero-padded text, so its text order is the numeric order.
    """
    if not len(stats):
        return pd.DataFrame()
    from predictor.features.probabilistic import FIT_SAMPLE

    stats = stats.dropna()
    keys = pd.util.hash_array(stats.index.to_numpy(dtype=str), hash_key=f"{seed:016d}")
    keep = np.sort(np.argsort(keys, kind="stable")[:FIT_SAMPLE])
    stats, keys = stats.iloc[keep], keys[keep]
    return pd.DataFrame({
        KIND: "fit", "customer_id": stats.index.astype(str), "_key": [f"{k:020d}" for k in keys],
        **{c: stats[c].to_numpy(dtype=float) for c in _RFM},
    })  # fmt: skip


def union_columns(orders: list[list[str]]) -> list[str]:
    """One column order holding every bucket's columns, consistent with each bucket's order.

    Buckets differ only by per-value columns (a channel one bucket never saw); those sit in a
    sorted run inside their family, so among columns free to come next the smallest name wins.
    """
    after: dict[str, set[str]] = {}
    waiting: dict[str, int] = {}
    for order in orders:
        for col in order:
            after.setdefault(col, set())
            waiting.setdefault(col, 0)
        for before, col in zip(order, order[1:], strict=False):
            if col not in after[before]:
                after[before].add(col)
                waiting[col] += 1
    ready = [c for c, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    out: list[str] = []
    while ready:
        col = heapq.heappop(ready)
        out.append(col)
        for nxt in after[col]:
            waiting[nxt] -= 1
            if not waiting[nxt]:
                heapq.heappush(ready, nxt)
    return out


@dataclass
class SparkFeatures:
    """What a Spark feature run wrote."""

    as_of: pd.Timestamp
    customers: int
    columns: list[str]
    buckets: int
    warnings: list[ContractIssue] = field(default_factory=list)


def features_with_spark(
    config: Config,
    out: str,
    *,
    as_of: str | pd.Timestamp | None = None,
    view: str = CURRENT,
    buckets: int | None = None,
    master: str | None = None,
    spark: SparkSession | None = None,
) -> SparkFeatures:
    """Write the point-in-time feature table of ``config.data`` as a Parquet dataset at ``out``.

    The same frame as ``predictor features`` (pandas): one row per customer signed up by the
    cutoff, ``customer_id``, ``as_of`` and the features. ``as_of`` defaults to the data's
    latest valid date. The dataset appears whole or not at all (Spark's committer, then a
    rename; an existing output is replaced only if it is a Spark dataset).

    Raises:
        ContractError: the data break the contract (its ``issues`` list every error).

    """
    from predictor.jobs.data_job import resolve_data_end

    spark = spark or spark_session(master)
    data = str(config.data.path) if config.data.path is not None else ""
    end = resolve_data_end(config)
    located = locate_tables(spark, data, {k: str(v) for k, v in config.data.tables.items()})
    frames = read_tables(spark, located, config)
    columns = {name: list(frame.columns) for name, frame in frames.items()}
    job = FeatureJob(config, end, columns, view=view)
    with bucketed(spark, frames, buckets) as (packed, n_buckets):
        cutoff = pd.Timestamp(as_of) if as_of is not None else _latest(packed, job)
        job = FeatureJob(config, end, columns, cutoff.normalize(), view)
        stage = lambda group: job.stage(group)  # noqa: E731 - applyInPandas wants a plain function
        staged = packed.groupBy(BUCKET).applyInPandas(stage, _STAGE_SCHEMA).persist()
        try:
            written = _finish(staged, job, out)
        finally:
            staged.unpersist()
    customers, names, warnings = written
    return SparkFeatures(cutoff.normalize(), customers, names, n_buckets, warnings)


def _latest(packed: DataFrame, job: FeatureJob) -> pd.Timestamp:
    if job.config.data.end_date is not None:
        return pd.Timestamp(job.config.data.end_date)
    latest = lambda group: job.latest(group)  # noqa: E731
    rows = packed.groupBy(BUCKET).applyInPandas(latest, "latest timestamp").collect()
    dates = [pd.Timestamp(r["latest"]) for r in rows if r["latest"] is not None]
    if not dates:
        raise ContractError("no customer with valid rows: no features to build")
    return max(dates).normalize()


def _finish(staged: DataFrame, job: FeatureJob, out: str) -> tuple[int, list[str], list]:
    """Check the issues, fit ``bgnbd`` on the population, write the aligned frames."""
    from pyspark.sql import functions as F

    wanted = ["issue", "columns", "fit"] if job.fits_bgnbd else ["issue", "columns"]
    small = staged.filter(F.col(KIND).isin(*wanted)).drop("_payload").toPandas()  # one job
    finish, customers, warnings = finisher(small, job)
    schema = finish.schema()
    result = staged.filter(F.col(KIND) == "frame").select("_payload").mapInPandas(finish, schema)
    _commit(result, out)
    return customers, finish.output_columns, warnings


def finisher(small: pd.DataFrame, job: FeatureJob) -> tuple[_Finish, int, list[ContractIssue]]:
    """Stage 2's work from stage 1's small rows: (the ``_Finish``, customers, warnings).

    Raises the buckets' contract errors; fits ``bgnbd`` on the population's candidates.
    """
    from predictor.features.probabilistic import FIT_SAMPLE, fit_stats
    from predictor.jobs import merge_warnings

    candidates = small[small[KIND] == "fit"]
    small = [row for _, row in small[small[KIND] != "fit"].iterrows()]
    issues = [_issue(r[DETAIL]) for r in small if r[KIND] == "issue"]
    if any(i.severity == "error" for i in issues):
        raise ContractError.from_issues(issues)
    shapes = [json.loads(r[DETAIL]) for r in small if r[KIND] == "columns"]
    if not sum(s["rows"] for s in shapes):
        raise ContractError(f"no customer had signed up by {job.as_of.date()}: no features")
    kinds = {c: k for s in shapes for c, k in s["kinds"].items()}
    names = union_columns([list(s["kinds"]) for s in shapes])
    params = None
    if job.fits_bgnbd:
        chosen = candidates.sort_values("_key", kind="stable").head(FIT_SAMPLE)
        stats = chosen.set_index("customer_id")[list(_RFM)].astype(float)
        params = fit_stats(stats, job.config.model.random_state)
    finish = _Finish(job, names, params, kinds)
    return finish, sum(s["rows"] for s in shapes), merge_warnings(issues)


@dataclass(frozen=True)
class _Finish:
    """Stage 2 of a bucket: the ``bgnbd`` family from the fitted parameters, then alignment."""

    job: FeatureJob
    names: list[str]
    params: dict[str, float] | None
    kinds: dict[str, str]

    @property
    def output_columns(self) -> list[str]:
        """The feature columns written, in order (the ``bgnbd`` family last, as in pandas)."""
        from predictor.features.probabilistic import PREFIX, from_stats

        if not self.job.fits_bgnbd:
            return list(self.names)
        empty = pd.DataFrame({c: [] for c in _RFM}, dtype=float)
        family = from_stats(empty, self.job.config, self.params).columns
        return [*self.names, *[c for c in family if c.startswith(PREFIX)]]

    def schema(self) -> Any:
        """The Spark schema of the written frame: text for categorical features, else double."""
        from pyspark.sql.types import DateType, DoubleType, StringType, StructField, StructType

        fields = [StructField("customer_id", StringType(), False),
                  StructField("as_of", DateType(), False)]  # fmt: skip
        for col in self.output_columns:
            text = self.kinds.get(col) == "category"
            fields.append(StructField(col, StringType() if text else DoubleType(), True))
        return StructType(fields)

    def __call__(self, batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        from predictor.features.probabilistic import from_stats
        from predictor.scoring import fill_absent_label_columns

        columns = self.output_columns
        for batch in batches:
            for payload in batch["_payload"]:
                body = _from_ipc(payload).set_index("customer_id")
                frame = body.drop(columns=[c for c in _RFM if c in body.columns])
                if self.job.fits_bgnbd:
                    extra = from_stats(body[list(_RFM)], self.job.config, self.params)
                    frame = pd.concat([frame, extra.reindex(frame.index)], axis=1)
                frame = fill_absent_label_columns(frame, columns).reindex(columns=columns)
                yield _plain(pd.DataFrame(
                    {"customer_id": frame.index.astype(str), "as_of": self.job.as_of.date(),
                     **{c: self._typed(frame[c]) for c in columns}}
                ))  # fmt: skip

    def _typed(self, values: pd.Series) -> np.ndarray:
        """Text (``None`` when missing) for a categorical feature, else float64."""
        if self.kinds.get(values.name) == "category":
            return values.astype(object).where(values.notna(), None).to_numpy()
        return values.to_numpy(dtype=np.float64)

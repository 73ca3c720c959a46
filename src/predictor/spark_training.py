"""Training on Apache Spark: Spark checks all the data and builds the sample's frames.

``predictor train --engine spark`` reads every table where it lives (any URI Spark reads,
folders of part files included), packs the rows per bucket of customers and runs predictor's
own validation on each bucket, so a contract error anywhere in the data stops the run as it
does with the pandas engine. Each bucket keeps the customers whose seeded hash falls in the
sample share (at most ``customers`` customers in all, every row of each); Spark keeps those
rows, and the driver gets them too.

The driver plans the training cutoffs from the sample as the pandas trainer does
(``training.planned_cutoffs``); a second pass over the kept rows builds, per bucket, every
planned cutoff's feature frame with the trainer's own code (``training.FeatureCache``, without
the population-fitted ``bgnbd`` family) and the churn and value labels (``FrameJob``).
``SparkFrames`` serves them to the unchanged ``training.train`` one cutoff at a time, adding the
``bgnbd`` family fitted on the sample's candidates (``spark_features.finisher``). Models,
evaluation, MLflow run and model folder are the pandas engine's.

When the data hold no more customers than the sample size, every customer is kept: the driver
gets exactly the tables the pandas engine reads (sorted canonically, so the run does not depend
on Spark's shuffle order) and the frames the pandas trainer builds from them.

What is not built: baselines, level rules, segment thresholds, the Day One model and the labels
the fits read are computed on the driver from the sample's rows; XGBoost fits on the driver
(``xgboost.spark`` was measured, docs/spark.md, and is not used).

Spark is optional (``pip install 'predictor[spark]'``); this module imports it lazily.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import reduce
from typing import TYPE_CHECKING, Any

import pandas as pd

from predictor.config import ChurnConfig, Config, CutoffConfig
from predictor.contract.errors import ContractError, ContractIssue
from predictor.contract.tables import Tables
from predictor.customer_sample import sample_share, sampled_ids
from predictor.spark_engine import (
    BUCKET,
    DETAIL,
    KIND,
    _from_ipc,
    _issue,
    _issue_rows,
    _plain,
    _to_ipc,
    bucketed,
    default_buckets,
    locate_tables,
    read_tables,
    spark_session,
    validate_bucket,
)
from predictor.spark_features import (
    _STAGE_SCHEMA,
    FeatureJob,
    bgnbd_stats,
    finisher,
    stage_rows,
)

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

CUTOFF = "_cutoff"

DEFAULT_SAMPLE_CUSTOMERS = CutoffConfig().sample_customers
"""Customers collected to the driver by default (``cutoffs.sample_customers``): every churn and
value cutoff then has far more rows than ``cutoffs.max_customers_per_cutoff`` lets the fit use."""

_SCHEMA = f"{BUCKET} int, {KIND} string, _table string, {DETAIL} string, _payload binary"


@dataclass(frozen=True)
class SampleJob:
    """What each bucket runs: validate its tables and keep the sampled customers' rows."""

    config: Config
    end_date: pd.Timestamp
    columns: dict[str, list[str]]
    share: float
    """Share of customers kept (1.0 keeps everyone)."""

    def validated(self, group: pd.DataFrame):
        """The bucket's tables, typed and checked with the config's date rules."""
        from predictor.io.tables import date_rules

        return validate_bucket(group, self.columns, self.end_date, date_rules(self.config))

    def kept(self, tables: Tables) -> Tables:
        """The rows of the bucket's sampled customers (a seeded hash of the id below ``share``)."""
        ids = tables.customers["customer_id"]
        return tables.subset(sampled_ids(ids, self.share, self.config.model.random_state))

    def run(self, group: pd.DataFrame) -> pd.DataFrame:
        """The bucket's issues, its customer counts and the kept rows of every table."""
        bucket = int(group[BUCKET].iloc[0])
        result = self.validated(group)
        rows = [_issue_rows(result.issues)]
        if not result.errors and result.tables is not None:
            kept = self.kept(result.tables)
            count = {"customers": len(result.tables.customers), "kept": len(kept.customers)}
            rows.append(pd.DataFrame({KIND: ["count"], DETAIL: [json.dumps(count)]}))
            rows.append(pd.DataFrame({
                KIND: "table",
                "_table": [name for name, _ in kept.items()],
                "_payload": [_to_ipc(frame) for _, frame in kept.items()],
            }))  # fmt: skip
        out = pd.concat(rows, ignore_index=True).assign(**{BUCKET: bucket})
        return _plain(out.reindex(columns=[c.split()[0] for c in _SCHEMA.split(", ")]))


@dataclass
class SparkSample:
    """The training sample collected to the driver and what it stands for."""

    tables: Tables
    customers: int
    """Valid customers in the whole data."""
    kept: int
    """Customers in the sample (all of them when ``kept == customers``)."""
    buckets: int
    sources: dict[str, str] = field(default_factory=dict)
    """Table name -> the URI Spark read it from."""
    warnings: list[ContractIssue] = field(default_factory=list)


@dataclass
class SparkTraining:
    """A Spark training run's sample and the feature frames its buckets build for it."""

    sample: SparkSample
    features: SparkFrames


@contextmanager
def training_on_spark(
    config: Config,
    *,
    customers: int | None = DEFAULT_SAMPLE_CUSTOMERS,
    buckets: int | None = None,
    master: str | None = None,
    spark: SparkSession | None = None,
    progress: Callable[[str], None] | None = None,
) -> Iterator[SparkTraining]:
    """Spark validates all the data, samples customers; their frames are built in Spark.

    Yields the sample (about ``customers`` customers, every one when ``None``: a seeded hash
    share of the valid ones, each with all their rows, as ``Tables``) and ``features``, the
    ``training.FeatureSource`` to pass to ``training.train`` with the sample's tables. Spark
    keeps the packed buckets until the block ends.

    Raises:
        ContractError: the data break the contract (its ``issues`` list every error).

    """
    from pyspark import StorageLevel

    from predictor.jobs.data_job import resolve_data_end

    if customers is not None and customers < 1:
        raise ContractError(f"the training sample needs at least 1 customer, not {customers}")
    spark = spark or spark_session(master)
    data = str(config.data.path) if config.data.path is not None else ""
    located = locate_tables(spark, data, {k: str(v) for k, v in config.data.tables.items()})
    frames = read_tables(spark, located, config)
    total = frames["customers"].count()
    share = sample_share(total, customers)
    columns = {name: list(frame.columns) for name, frame in frames.items()}
    job = SampleJob(config, resolve_data_end(config), columns, share)
    with bucketed(spark, frames, buckets or default_buckets(spark, total)) as (packed, n_buckets):
        run = lambda group: job.run(group)  # noqa: E731 - applyInPandas wants a plain function
        sampled = packed.groupBy(BUCKET).applyInPandas(run, _SCHEMA)
        sampled = sampled.persist(StorageLevel.DISK_ONLY)
        try:
            rows = sampled.collect()
            sample = _sample(rows, list(frames), n_buckets, located)
            kept = sampled.filter(sampled[KIND] == "table")
            source = SparkFrames(kept, job, sample.tables, progress or (lambda _m: None))
            try:
                yield SparkTraining(sample, source)
            finally:
                source.close()
        finally:
            sampled.unpersist()


def _sample(rows: list, names: list[str], n_buckets: int, located: dict[str, str]) -> SparkSample:
    """The driver's sample from the buckets' rows; raises the data's contract errors."""
    from predictor.jobs import merge_warnings

    issues = [_issue(r[DETAIL]) for r in rows if r[KIND] == "issue"]
    errors = [i for i in issues if i.severity == "error"]
    if errors:
        raise ContractError.from_issues(errors)
    counts = [json.loads(r[DETAIL]) for r in rows if r[KIND] == "count"]
    tables = _assemble(rows, names)
    return SparkSample(
        tables,
        customers=sum(c["customers"] for c in counts),
        kept=sum(c["kept"] for c in counts),
        buckets=n_buckets,
        sources=dict(located),
        warnings=merge_warnings(issues),
    )


_FRAME_SCHEMA = f"{_STAGE_SCHEMA}, {CUTOFF} string, _target string, label double"
LABELS = ("churn", "value_13m")
"""The labels the bucket pass gives at every cutoff (``SparkFrames.labels``)."""


@dataclass(frozen=True)
class FrameJob:
    """What each bucket runs for training: its sampled customers' frames and labels per cutoff.

    Its input is pass 1's output for the bucket: the sampled customers' rows, validated there
    and assembled here as the driver assembles the sample (``_tables``), so nothing is
    validated twice.

    The same pandas code as ``training.train`` (``training.FeatureCache``), without the
    ``bgnbd`` family: that is fitted per cutoff on every bucket's candidates afterwards, as
    ``predictor features --engine spark`` does. Labels: ``labels.churn_label`` (its rule
    resolved on the whole sample beforehand: a bucket without subscriptions must not switch
    rules) and ``labels.value_label`` at the configured horizon; both are per customer.
    """

    sample: SampleJob
    cutoffs: tuple[pd.Timestamp, ...]
    churn: ChurnConfig

    def run(self, group: pd.DataFrame) -> pd.DataFrame:
        """Per cutoff: column kinds, frame payload, fit candidates and the labels' rows."""
        from predictor.training import FeatureCache

        config = self.sample.config
        pairs = zip(group["_table"], group["_payload"], strict=True)
        kept = _tables(pairs, list(self.sample.columns))
        rows = []
        if kept is not None:
            cache = FeatureCache(kept, config, None)
            fits = config.model.probabilistic_features
            for as_of in self.cutoffs:
                frame = cache.transient(as_of)
                stats = bgnbd_stats(kept, as_of, frame.index) if fits else pd.DataFrame()
                found = (stage_rows(frame, stats, config.model.random_state),
                         self.label_rows(kept, as_of))  # fmt: skip
                rows += [part.assign(**{CUTOFF: as_of.isoformat()}) for part in found]
        out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
        out = out.assign(**{BUCKET: int(group[BUCKET].iloc[0])})
        return _plain(out.reindex(columns=[c.split()[0] for c in _FRAME_SCHEMA.split(", ")]))

    def label_rows(self, tables: Tables, as_of: pd.Timestamp) -> pd.DataFrame:
        """The ``LABELS`` of the bucket's customers at ``as_of``, a row per customer each."""
        from predictor.labels import churn_label, value_label

        found = {"churn": churn_label(tables, as_of, self.churn),
                 "value_13m": value_label(tables, as_of, self.sample.config.value)}  # fmt: skip
        return pd.concat([pd.DataFrame({
            KIND: "label", "_target": target, "customer_id": y.index.astype(str),
            "label": y.to_numpy(dtype=float),
        }) for target, y in found.items()], ignore_index=True)  # fmt: skip


class SparkFrames:
    """``training.FeatureSource`` over the frames Spark's buckets build for the sample.

    The first request plans the cutoffs the trainer uses (``training.planned_cutoffs``) and
    builds the frames and labels of all of them in one pass over the buckets (kept by Spark).
    A cutoff's frame is collected only when the trainer asks for it (so the driver holds what
    the pandas trainer holds) and finished there: ``bgnbd`` fitted on the sample's candidates,
    columns aligned (``predictor features --engine spark``'s stage 2, on the collected
    payloads). A cutoff outside the plan gets a pass of its own.
    """

    def __init__(
        self, kept: DataFrame, job: SampleJob, tables: Tables, say: Callable[[str], None]
    ) -> None:
        self.kept, self.job, self.tables, self.say = kept, job, tables, say
        """``kept``: pass 1's rows of the sampled customers' tables, per bucket (Spark keeps them)."""
        self._passes: list[DataFrame] = []
        self._small: dict[pd.Timestamp, tuple[int, pd.DataFrame]] = {}
        """Cutoff -> (its pass, its stage-1 rows but the frame payloads and labels)."""
        self._cache: dict[pd.Timestamp, pd.DataFrame] = {}

    def __call__(self, as_of: pd.Timestamp) -> pd.DataFrame:
        """The frame of a cutoff, kept for later calls."""
        if as_of not in self._cache:
            self._cache[as_of] = self.transient(as_of)
        return self._cache[as_of]

    def transient(self, as_of: pd.Timestamp) -> pd.DataFrame:
        """The frame of a cutoff, collected from Spark unless kept."""
        if as_of in self._cache:
            return self._cache[as_of]
        payloads, finish = self._stage_two(as_of)
        payloads = pd.DataFrame({"_payload": [r[0] for r in payloads.collect()]})
        rows = pd.concat(finish(iter([payloads])), ignore_index=True)
        return _feature_frame(rows, finish.kinds)

    def spark_frame(self, as_of: pd.Timestamp) -> tuple[DataFrame, dict[str, str]]:
        """A cutoff's finished frame as a Spark DataFrame (not collected), and column kinds.

        Columns as ``predictor features --engine spark`` writes them: ``customer_id``,
        ``as_of``, then the features (text for a categorical one, else double).
        """
        payloads, finish = self._stage_two(as_of)
        return payloads.mapInPandas(finish, finish.schema()), finish.kinds

    def labels(self, cutoffs: list[pd.Timestamp], target: str) -> DataFrame:
        """The sample's ``target`` labels at ``cutoffs`` (built per bucket with the frames).

        A Spark DataFrame ``customer_id, as_of, label`` (``as_of`` a date), not collected;
        ``target`` is one of ``LABELS``.
        """
        from pyspark.sql import functions as F

        wanted: dict[int, list[str]] = {}
        for as_of in cutoffs:
            wanted.setdefault(self._pass(as_of), []).append(as_of.isoformat())
        parts = [self._passes[i].filter((F.col(KIND) == "label") & F.col(CUTOFF).isin(*found))
                 for i, found in wanted.items()]  # fmt: skip
        rows = reduce(lambda a, b: a.unionByName(b), parts).filter(F.col("_target") == target)
        as_of = F.to_date(F.substring(F.col(CUTOFF), 1, 10)).alias("as_of")
        return rows.select("customer_id", as_of, "label")

    def _pass(self, as_of: pd.Timestamp) -> int:
        """The pass holding a cutoff: the planned one, or one of its own if not planned."""
        if as_of not in self._small:
            from predictor.training import planned_cutoffs

            planned = [] if self._passes else planned_cutoffs(self.tables, self.job.config)
            self._build(sorted({as_of, *planned}))
        return self._small[as_of][0]

    def _stage_two(self, as_of: pd.Timestamp) -> tuple[DataFrame, Any]:
        """A cutoff's frame payloads in Spark, and the stage 2 that finishes them."""
        from pyspark.sql import functions as F

        staged = self._passes[self._pass(as_of)]
        mine = (F.col(KIND) == "frame") & (F.col(CUTOFF) == as_of.isoformat())
        base, small = self.job, self._small[as_of][1]
        finish = finisher(small, FeatureJob(base.config, base.end_date, base.columns, as_of))[0]
        return staged.filter(mine).select("_payload"), finish

    def _build(self, cutoffs: list[pd.Timestamp]) -> None:
        """One pass over the buckets for ``cutoffs``: frames and labels, kept by Spark."""
        from pyspark.sql import functions as F

        from predictor.labels import churn_rule

        self.say(f"spark: building the frames and labels of {len(cutoffs)} cutoff(s) per bucket")
        config = self.job.config
        churn = config.churn.model_copy(update={"rule": churn_rule(self.tables, config.churn)})
        job = FrameJob(self.job, tuple(cutoffs), churn)
        run = lambda group: job.run(group)  # noqa: E731 - applyInPandas wants a plain function
        staged = self.kept.groupBy(BUCKET).applyInPandas(run, _FRAME_SCHEMA).persist()
        self._passes.append(staged)
        small = staged.filter(F.col(KIND).isin("issue", "columns", "fit"))
        small = small.drop("_payload").toPandas()
        for as_of in cutoffs:
            self._small[as_of] = (len(self._passes) - 1, small[small[CUTOFF] == as_of.isoformat()])

    def close(self) -> None:
        """Release what Spark keeps for the frames."""
        for staged in self._passes:
            staged.unpersist()
        self._passes.clear()


def _feature_frame(rows: pd.DataFrame, kinds: dict[str, str]) -> pd.DataFrame:
    """A collected frame as ``build_features`` gives it: indexed by customer, sorted by id."""
    frame = rows.drop(columns="as_of").set_index("customer_id").sort_index()
    text = [c for c in frame.columns if kinds.get(c) == "category"]
    return frame.astype({c: "category" for c in text})


def _assemble(rows: list, names: list[str]) -> Tables:
    """The driver's sample: one frame per table from the buckets' payloads."""
    pairs = ((r["_table"], r["_payload"]) for r in rows if r[KIND] == "table")
    tables = _tables(pairs, names)
    if tables is None:
        raise ContractError("no customer with valid rows: nothing to train on")
    return tables


def _tables(pairs: Iterable[tuple[str, bytes]], names: list[str]) -> Tables | None:
    """Validated tables from ``(table, payload)`` pairs, rows in a canonical order.

    The driver assembles the sample with it, and each bucket of pass 2 its own part of it
    (the payloads pass 1 validated and kept), so both hold the same rows in the same order.
    """
    parts: dict[str, list[pd.DataFrame]] = {name: [] for name in names}
    for name, payload in pairs:
        parts[name].append(_from_ipc(payload))
    if not parts.get("customers"):
        return None
    frames = {name: _canonical(pd.concat(p, ignore_index=True)) for name, p in parts.items() if p}
    return Tables(**frames)


def _canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows sorted by every column (customer first), so Spark's shuffle order never matters."""
    order = ["customer_id", *[c for c in frame.columns if c != "customer_id"]]
    return frame.sort_values(order, kind="mergesort", na_position="last").reset_index(drop=True)

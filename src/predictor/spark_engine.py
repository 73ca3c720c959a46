"""Scoring and scoring features on Apache Spark: the same pandas code, run per bucket of customers.

Why: past a few million customers, or where the data already sit in a lakehouse, one process is
the ceiling. Spark spreads the work; it does not re-implement it.

How it stays one implementation: Spark reads every table (any URI it can read, a file or a
folder of part files), assigns each row to one of ``buckets`` by a hash of the normalised
customer id, packs each bucket's rows of every table into Arrow IPC payloads, and
``groupBy(bucket).applyInPandas`` runs predictor's own validation (``contract.validate``) and
scoring (``scoring.score`` / ``scoring.scoring_frame``) on each bucket. Every feature is computed
from one customer's own rows (the chunked scoring path relies on the same fact), so a bucket's
scores are exactly those of scoring everyone at once. The model is broadcast once.

Spark is optional (``pip install 'predictor[spark]'``); this module imports it lazily.
"""

from __future__ import annotations

import hashlib
import io as _io
import json
import os
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import reduce
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from predictor.contract.columns import checked_columns
from predictor.contract.errors import ContractError, ContractIssue
from predictor.contract.schema import SPECS
from predictor.contract.validate import DateRules, validate
from predictor.errors import PredictorError

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

    from predictor.api import Predictor

BUCKET = "_bucket"
KIND = "_kind"
DETAIL = "_detail"
DEFAULT_MASTER = "local[*]"
MASTER_ENV = "PREDICTOR_SPARK_MASTER"
DRIVER_MEMORY_ENV = "PREDICTOR_SPARK_DRIVER_MEMORY"
DEFAULT_DRIVER_MEMORY = "4g"
"""Heap of a driver JVM predictor starts itself (in ``local[*]`` it also runs every task);
Spark's own default of 1g runs out on a bucket's payloads past about 50,000 customers."""
CUSTOMERS_PER_BUCKET = 20_000
"""Default bucket size: a bucket's rows travel as one Arrow payload per table, so buckets are
kept to tens of megabytes, and large enough that the fixed cost per bucket stays small."""
_PAYLOAD_SCHEMA = f"{BUCKET} int, _table string, _payload binary"


class SparkUnavailableError(ContractError):
    """Spark (the ``predictor[spark]`` extra) or Java is not installed."""


class SparkMemoryError(PredictorError):
    """A Spark job ran out of Java heap; the message says which settings give it room."""


# -- the session ---------------------------------------------------------------------------


def spark_session(master: str | None = None) -> SparkSession:
    """The active session (spark-submit, Databricks), or a new one on ``master``.

    ``master`` defaults to ``$PREDICTOR_SPARK_MASTER``, then ``local[*]``. Sessions are pinned
    to UTC so Spark never shifts the naive, business-local timestamps predictor works with. A
    session started here gets ``$PREDICTOR_SPARK_DRIVER_MEMORY`` (default 4g) of driver heap.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkUnavailableError(
            "the Spark engine needs pyspark: pip install 'predictor[spark]' (and Java 17+)"
        ) from None
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        return active
    builder = SparkSession.builder.appName("predictor").master(
        master or os.environ.get(MASTER_ENV, DEFAULT_MASTER)
    )
    session = (
        builder.config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", os.environ.get(DRIVER_MEMORY_ENV, DEFAULT_DRIVER_MEMORY))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    session.conf.set("spark.sql.session.timeZone", "UTC")
    return session


# -- reading -------------------------------------------------------------------------------


def locate_tables(spark: SparkSession, data: str, explicit: dict[str, str]) -> dict[str, str]:
    """One location per table: ``explicit`` first, then ``<data>/<table>[.parquet|.csv|.csv.gz]``.

    Works for any URI Spark's file systems know (local, s3a, abfss, gs, hdfs). Names match
    in any case (``CUSTOMERS/`` as a warehouse unload writes it), as for the pandas engine. A
    required table with no location, or a table with two, is a clear error.
    """
    found: dict[str, str] = {}
    base = str(data).rstrip("/")
    entries = _entries(spark, base) if len(explicit) < len(SPECS) else []
    for name in SPECS:
        if name in explicit:
            found[name] = str(explicit[name])
            continue
        wanted = {f"{name}{suffix}" for suffix in ("", ".parquet", ".csv", ".csv.gz")}
        hits = [f"{base}/{entry}" for entry in entries if entry.lower() in wanted]
        if len(hits) > 1:
            raise ContractError(f"{name}: {len(hits)} sources for one table ({', '.join(hits)})")
        if hits:
            found[name] = hits[0]
        elif SPECS[name].required:
            raise ContractError(f"{name}: required table is missing from {data}", table=name)
    return found


def _entries(spark: SparkSession, folder: str) -> list[str]:
    """The names of the files and folders directly in ``folder`` (none if it does not exist)."""
    if "://" not in folder:
        path = Path(folder)
        return sorted(p.name for p in path.iterdir()) if path.is_dir() else []
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(folder)
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not fs.exists(path):
        return []
    return sorted(str(status.getPath().getName()) for status in fs.listStatus(path))


def read_table(spark: SparkSession, name: str, uri: str, mapping: dict[str, str]) -> DataFrame:
    """One table as Spark reads it, with the user's columns renamed to the contract's.

    CSV is read as text (types are decided by ``contract.validate``, as for the pandas engine);
    Parquet keeps its own types. Column names are matched as the pandas engine matches them
    (``contract.columns.match_columns``: mapping first, then case).
    """
    from pyspark.errors import AnalysisException

    kind = _kind(uri)
    reader = spark.read
    try:
        if kind == "parquet":
            frame = reader.option("recursiveFileLookup", "false").parquet(uri)
        else:
            frame = reader.option("header", True).option("inferSchema", False).csv(uri)
    except AnalysisException as exc:
        reason = str(exc).strip().splitlines()[0]
        raise ContractError(f"{name}: Spark cannot read {uri}: {reason}", table=name) from None
    header = [c.strip() for c in frame.columns]
    matched = checked_columns(name, header, mapping, uri)
    frame = frame.toDF(*matched.names)
    if "customer_id" not in frame.columns:
        raise ContractError(
            f"{name}.customer_id: required column is missing from {uri} "
            f"(found: {', '.join(frame.columns)})",
            table=name,
            column="customer_id",
        )
    return frame


def _kind(uri: str) -> str:
    lowered = uri.lower().rstrip("/")
    if lowered.endswith((".csv", ".csv.gz")):
        return "csv"
    if lowered.endswith(".parquet"):
        return "parquet"
    if "://" not in uri and Path(uri).is_dir():
        names = [p.name.lower() for p in Path(uri).rglob("*") if p.is_file()]
        if any(n.endswith((".csv", ".csv.gz")) for n in names) and not any(
            n.endswith(".parquet") for n in names
        ):
            return "csv"
    return "parquet"


# -- bucketing -----------------------------------------------------------------------------


def bucket_column(buckets: int) -> Any:
    """Bucket of a row: hash of the customer id as the contract normalises it (``12.0`` = ``12``)."""
    from pyspark.sql import functions as F

    text = F.trim(F.col("customer_id").cast("string"))
    ids = F.regexp_replace(text, r"^(-?\d+)\.0+$", "$1")
    return F.pmod(F.xxhash64(ids), F.lit(buckets)).cast("int")


def _pack(name: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def pack(frame: pd.DataFrame) -> pd.DataFrame:
        bucket = int(frame[BUCKET].iloc[0])
        body = frame.drop(columns=[BUCKET])
        return _plain(
            pd.DataFrame({BUCKET: [bucket], "_table": [name], "_payload": [_to_ipc(body)]})
        )

    return pack


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns as Python objects: PySpark's Arrow bridge cannot take pandas' string dtype."""
    text = [c for c in frame.columns if isinstance(frame[c].dtype, pd.StringDtype)]
    return frame.astype({c: object for c in text}) if text else frame


def _to_ipc(frame: pd.DataFrame) -> bytes:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    sink = _io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def _from_ipc(payload: bytes) -> pd.DataFrame:
    return pa.ipc.open_stream(payload).read_all().to_pandas()


def payloads(frames: dict[str, DataFrame], buckets: int) -> DataFrame:
    """Every table's rows packed per bucket: ``(_bucket, _table, _payload)``."""
    parts = [
        frame.withColumn(BUCKET, bucket_column(buckets))
        .groupBy(BUCKET)
        .applyInPandas(_pack(name), _PAYLOAD_SCHEMA)
        for name, frame in frames.items()
    ]
    return reduce(lambda a, b: a.unionByName(b), parts)


def unpack(group: pd.DataFrame, columns: dict[str, list[str]]) -> dict[str, pd.DataFrame]:
    """The raw tables of one bucket; a table with no rows here is an empty frame, not absent."""
    raw = {name: pd.DataFrame(columns=cols) for name, cols in columns.items()}
    for name, payload in zip(group["_table"], group["_payload"], strict=True):
        raw[name] = _from_ipc(payload)
    return raw


# -- work per bucket (pure pandas: the same code as the pandas engine) ---------------------


def validate_bucket(
    group: pd.DataFrame,
    columns: dict[str, list[str]],
    end_date: pd.Timestamp,
    dates: DateRules | None,
):
    """A bucket's tables, typed and checked as the pandas engine checks a chunk of customers."""
    return validate(unpack(group, columns), end_date=end_date, chunk=True, dates=dates)


_LOADED: dict[str, Predictor] = {}
"""Models loaded in this worker process, by content hash: each worker loads a bundle once."""


def bundle_files(predictor: Predictor) -> dict[str, bytes]:
    """The model as the bytes of its bundle files (XGBoost JSON and plain JSON, no pickle)."""
    from predictor.bundle import save_bundle

    with tempfile.TemporaryDirectory(prefix="predictor-bundle-") as tmp:
        folder = save_bundle(predictor.model, Path(tmp) / "model")
        return {
            str(path.relative_to(folder)): path.read_bytes()
            for path in sorted(folder.rglob("*"))
            if path.is_file()
        }


def load_files(files: dict[str, bytes]) -> Predictor:
    """Load (once per process) the model whose bundle files are ``files``; the hash is checked."""
    from predictor.api import Predictor
    from predictor.bundle import load_bundle

    key = hashlib.sha256(files["metadata.json"]).hexdigest()
    if key not in _LOADED:
        with tempfile.TemporaryDirectory(prefix="predictor-bundle-") as tmp:
            for name, body in files.items():
                target = Path(tmp) / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(body)
            _LOADED[key] = Predictor(*load_bundle(Path(tmp)))
    return _LOADED[key]


@dataclass(frozen=True)
class BucketJob:
    """What each bucket runs: the model, the cutoff and which output to produce."""

    model: Any
    """The bundle files, or a Spark broadcast of them (shipped to each executor once)."""
    end_date: pd.Timestamp
    columns: dict[str, list[str]]
    dates: DateRules | None = None
    """The model's date formats and time zone (``data.date_format(s)``, ``data.timezone``)."""
    as_of: pd.Timestamp | None = None
    drivers: int = 0
    output: str = "scores"
    """``scores`` (score rows + rejects) or ``features`` (the scoring frame)."""
    allow_missing: tuple[str, ...] = ()
    """Absent tables the user accepts (``--allow-missing``; see ``scoring.check_features``)."""

    @property
    def predictor(self) -> Predictor:
        """The model, loaded from its bundle files in this process."""
        files = self.model.value if hasattr(self.model, "value") else self.model
        return load_files(files)

    def validated(self, group: pd.DataFrame):
        """The bucket's tables, typed and checked with the model's date rules."""
        return validate_bucket(group, self.columns, self.end_date, self.dates)

    def latest(self, group: pd.DataFrame) -> pd.DataFrame:
        """The latest valid event date of the bucket (for the default as-of date)."""
        from predictor.datasets import data_span

        result = self.validated(group)
        tables = result.tables
        latest = pd.NaT
        if tables is not None and len(tables.customers):
            latest = data_span(tables, self.predictor.data_config("."))[1]
        return pd.DataFrame({"latest": pd.to_datetime([latest]).astype("datetime64[us]")})

    def run(self, group: pd.DataFrame) -> pd.DataFrame:
        """Score rows, rejects and contract issues of one bucket, in one frame."""
        from predictor.jobs import input_rejects
        from predictor.scoring import late_rejects, score, scoring_frame

        result = self.validated(group)
        issues = _issue_rows(result.issues)
        if result.errors or result.tables is None:
            return _plain(issues)
        if self.output == "features":
            frame = scoring_frame(
                result.tables, self.as_of, self.predictor.model, self.allow_missing
            )
            body = _features_out(frame)
            late = late_rejects(result.tables, self.as_of)
            rejects = pd.concat([input_rejects(result), late], ignore_index=True)
        else:
            body, late = score(
                self.predictor.model, result.tables, self.as_of, self.drivers, self.allow_missing
            )
            body = body.assign(as_of=pd.to_datetime(body["as_of"]).dt.date)
            rejects = pd.concat([input_rejects(result), late], ignore_index=True)
        body = body.assign(**{KIND: "row", DETAIL: None})
        reject_rows = pd.DataFrame(
            {"customer_id": rejects["customer_id"].astype(str), KIND: "reject",
             DETAIL: rejects["reason"].astype(str)}
        )  # fmt: skip
        return _plain(pd.concat([body, reject_rows, issues], ignore_index=True))


def _features_out(frame: pd.DataFrame) -> pd.DataFrame:
    from predictor.scoring import pyfunc_frame

    return pyfunc_frame(frame)


def _issue_rows(issues: list[ContractIssue]) -> pd.DataFrame:
    rows = [
        json.dumps(
            {
                "check": i.check,
                "table": i.table,
                "column": i.column,
                "severity": i.severity,
                "count": int(i.count),
                "examples": [str(e) for e in i.examples],
                "message": i.message,
            }
        )  # fmt: skip
        for i in issues
    ]
    return pd.DataFrame({KIND: ["issue"] * len(rows), DETAIL: rows})


def _issue(text: str) -> ContractIssue:
    d = json.loads(text)
    return ContractIssue(
        d["check"], d["table"], d["column"], d["severity"], d["count"], d["examples"], d["message"]
    )


# -- the driver ----------------------------------------------------------------------------


@dataclass
class SparkRun:
    """What a Spark scoring run did: the counts add up (``customers == scored + rejected``)."""

    as_of: pd.Timestamp
    customers: int
    scored: int
    rejected: int
    buckets: int
    warnings: list[ContractIssue] = field(default_factory=list)


def read_tables(spark: SparkSession, located: dict[str, str], config: Any) -> dict[str, DataFrame]:
    """Every located table as Spark reads it, columns renamed by the config's mapping."""
    return {
        name: read_table(spark, name, uri, config.data.columns.get(name, {}))
        for name, uri in located.items()
    }


@contextmanager
def bucketed(
    spark: SparkSession, frames: dict[str, DataFrame], buckets: int | None
) -> Iterator[tuple[DataFrame, int]]:
    """The tables packed per bucket (kept on disk) and the bucket count, for the ``with`` block.

    Without ``buckets``, one bucket per ``CUSTOMERS_PER_BUCKET`` customers (at least two per
    core). Shuffles use one partition per bucket meanwhile; the setting and the cache are
    restored and released on the way out. A job of the block that runs out of Java heap is a
    ``SparkMemoryError`` naming the remedies, not a JVM stack trace.
    """
    from pyspark import StorageLevel

    n_buckets = buckets or default_buckets(spark, frames["customers"].count())
    previous = spark.conf.get("spark.sql.shuffle.partitions")
    spark.conf.set("spark.sql.shuffle.partitions", str(n_buckets))
    packed = payloads(frames, n_buckets).persist(StorageLevel.DISK_ONLY)
    try:
        yield packed, n_buckets
    except Exception as exc:
        if "OutOfMemoryError" in str(exc):
            raise SparkMemoryError(
                f"Spark ran out of Java heap with {n_buckets} buckets: give it more buckets "
                f"(--buckets) or more memory (${DRIVER_MEMORY_ENV} for a session predictor "
                "starts, default 4g; spark.executor.memory on a cluster)"
            ) from None
        raise
    finally:
        packed.unpersist()
        spark.conf.set("spark.sql.shuffle.partitions", previous)


def default_buckets(spark: SparkSession, customers: int) -> int:
    """Buckets for ``customers``: ``CUSTOMERS_PER_BUCKET`` each, at least two per core."""
    floor = max(2, spark.sparkContext.defaultParallelism * 2)
    return max(floor, -(-customers // CUSTOMERS_PER_BUCKET))


def score_with_spark(
    predictor: Predictor,
    data: str | Path,
    out: str,
    rejects: str,
    *,
    as_of: str | pd.Timestamp | None = None,
    drivers: int = 0,
    output: str = "scores",
    allow_missing: tuple[str, ...] | list[str] = (),
    buckets: int | None = None,
    master: str | None = None,
    spark: SparkSession | None = None,
) -> SparkRun:
    """Score (or build the scoring features of) every customer of ``data`` with Spark.

    Writes ``out`` (scores or features) and ``rejects`` as Parquet datasets through Spark's
    committer: each appears whole or not at all. ``as_of`` defaults to the data's latest
    valid date, found by the same validation as the pandas engine.

    A table the model was trained with but absent here is a warning naming the scores it
    changes, or an error when it drives a rule, unless it is in ``allow_missing`` (as for the
    pandas engine).

    Raises:
        ContractError: the data break the contract (its ``issues`` list every error), or a
            table cannot be found.

    """
    spark = spark or spark_session(master)
    config = predictor.data_config(str(data))
    from predictor.io.tables import date_rules
    from predictor.jobs.data_job import resolve_data_end
    from predictor.missing_inputs import check_inputs

    end = resolve_data_end(config)

    located = locate_tables(spark, str(data), dict(config.data.tables))
    notes = check_inputs(predictor.model, located, allow_missing)
    frames = read_tables(spark, located, config)
    with bucketed(spark, frames, buckets) as (packed, n_buckets):
        job = BucketJob(
            model=spark.sparkContext.broadcast(bundle_files(predictor)),
            end_date=end,
            columns={name: list(frame.columns) for name, frame in frames.items()},
            dates=date_rules(config),
            drivers=drivers,
            output=output,
            allow_missing=tuple(allow_missing),
        )
        cutoff = pd.Timestamp(as_of) if as_of is not None else _latest(packed, job, config)
        job = BucketJob(**{**job.__dict__, "as_of": cutoff.normalize()})
        schema = _output_schema(packed, job)
        result = (
            packed.groupBy(BUCKET).applyInPandas(lambda group: job.run(group), schema).persist()
        )
        try:
            warnings = _check_issues(result)
            counts = _write(result, out, rejects)
        finally:
            result.unpersist()
        customers = frames["customers"].count()
    return SparkRun(
        as_of=cutoff.normalize(),
        customers=customers,
        scored=counts[0],
        rejected=counts[1],
        buckets=n_buckets,
        warnings=notes + warnings,
    )


def _latest(packed: DataFrame, job: BucketJob, config: Any) -> pd.Timestamp:
    if config.data.end_date is not None:
        return pd.Timestamp(config.data.end_date)
    rows = (
        packed.groupBy(BUCKET)
        .applyInPandas(lambda group: job.latest(group), "latest timestamp")
        .collect()
    )
    dates = [pd.Timestamp(r["latest"]) for r in rows if r["latest"] is not None]
    if not dates:
        raise ContractError("no customer with valid rows: nothing to score")
    return max(dates).normalize()


def _output_schema(packed: DataFrame, job: BucketJob) -> Any:
    """The output's Spark schema, from running one bucket's pandas code on the driver.

    Probing keeps the schema in one place (the pandas scoring code) instead of a second
    declaration that could drift from it.
    """
    from pyspark.sql.pandas.types import from_arrow_schema

    for row in packed.select(BUCKET).distinct().orderBy(BUCKET).limit(8).collect():
        group = packed.filter(packed[BUCKET] == row[BUCKET]).toPandas()
        sample = job.run(group)
        if (sample[KIND] == "row").any():
            schema = pa.Table.from_pandas(_typed(sample), preserve_index=False).schema
            text = [f.with_type(pa.string()) if f.type == pa.null() else f for f in schema]
            return from_arrow_schema(pa.schema(text))
    raise ContractError("no customer could be scored in the first buckets; see the rejects")


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Probe frame with numbers as float64 and columns with no value yet as text.

    A probed bucket may hold only missing values in a column that other buckets fill.
    """
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_numeric_dtype(out[col]) and not pd.api.types.is_bool_dtype(out[col]):
            out[col] = out[col].astype(np.float64)
    return out


def _check_issues(result: DataFrame) -> list[ContractIssue]:
    from predictor.jobs import merge_warnings

    rows = result.filter(result[KIND] == "issue").select(DETAIL).collect()
    issues = [_issue(r[DETAIL]) for r in rows]
    errors = [i for i in issues if i.severity == "error"]
    if errors:
        raise ContractError.from_issues(errors)
    return merge_warnings(issues)


def _write(result: DataFrame, out: str, rejects: str) -> tuple[int, int]:
    from pyspark.sql import functions as F

    rows = result.filter(F.col(KIND) == "row").drop(KIND, DETAIL)
    rejected = result.filter(F.col(KIND) == "reject").select(
        "customer_id", F.col(DETAIL).alias("reason")
    )
    _commit(rows, out)
    _commit(rejected, rejects)
    return rows.count(), rejected.count()


def _commit(frame: DataFrame, target: str) -> None:
    """Write a Parquet dataset beside ``target``, then swap it in (Spark's committer + rename).

    An existing dataset at ``target`` is replaced only after the new one is complete, and
    only when it is a dataset (a folder with ``_SUCCESS``): nothing else is ever removed.
    """
    spark = frame.sparkSession
    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    final = jvm.org.apache.hadoop.fs.Path(target)
    fs = final.getFileSystem(conf)
    staging = jvm.org.apache.hadoop.fs.Path(f"{target.rstrip('/')}.predictor-{uuid.uuid4().hex}")
    frame.write.mode("errorifexists").parquet(staging.toString())
    old = None
    if fs.exists(final):
        if not fs.exists(jvm.org.apache.hadoop.fs.Path(final, "_SUCCESS")):
            fs.delete(staging, True)
            raise ContractError(
                f"{target} exists and is not a dataset written by Spark; not replaced"
            )
        old = jvm.org.apache.hadoop.fs.Path(
            f"{target.rstrip('/')}.predictor-old-{uuid.uuid4().hex}"
        )
        fs.rename(final, old)
    if not fs.rename(staging, final):
        raise ContractError(f"could not move the finished output into {target}")
    if old is not None:
        fs.delete(old, True)

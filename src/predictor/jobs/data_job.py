"""Data jobs: the run's defaults, resolved once at the entry, and the data commands' work.

``resolve_data_end`` (the configured ``data.end_date``, else today) and
``resolve_as_of`` (the given as-of date, else the data's last date) are where the CLI and the
``Predictor`` façade resolve their defaults. ``validate_data`` (``predictor validate``),
``feature_table`` (``predictor features``) and ``write_sample`` (``predictor sample``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from predictor.config import Config
from predictor.contract.errors import ContractError, ContractIssue
from predictor.contract.tables import Tables, concat_tables
from predictor.contract.validate import RowCounts, ValidationResult
from predictor.customer_sample import sample_share, sampled_ids
from predictor.datasets import data_span
from predictor.errors import PredictorError
from predictor.timeline import data_end

if TYPE_CHECKING:  # pragma: no cover
    from predictor.io.chunks import CustomerChunks


class InvalidDataError(PredictorError):
    """The data cannot be read at all (``predictor validate`` exits 1, as for any data error)."""

    exit_code = 1


def resolve_data_end(config: Config) -> pd.Timestamp:
    """The data's end: ``data.end_date`` when set, else today (rows dated later are refused).

    Resolved once at a run's entry (``timeline.data_end`` is the only clock read); the core
    always takes the date as an argument.
    """
    return data_end(config.data.end_date)


def resolve_as_of(as_of: str | pd.Timestamp | None, tables: Tables, config: Config) -> pd.Timestamp:
    """The as-of date of a run: the one given, else the data's last date (``data_span``)."""
    return pd.Timestamp(as_of) if as_of is not None else data_span(tables, config)[1]


def validate_data(config: Config) -> ValidationResult:
    """Read and validate the tables of ``config.data`` up to the data's end.

    Raises ``InvalidDataError`` (exit 1) when they cannot be read at all (a missing folder,
    colliding columns, ambiguous dates): ``predictor validate`` reports that as a data error.
    """
    from predictor.io.tables import load_tables

    try:
        return load_tables(config.data, end_date=resolve_data_end(config))
    except ContractError as exc:
        raise InvalidDataError(str(exc)) from exc


@dataclass(frozen=True)
class TrainingData:
    """The tables training learns from, and what they stand for."""

    tables: Tables
    """Every valid customer, or the seeded sample of ``cutoffs.sample_customers`` of them."""
    customers: int
    """Rows of the input's customers table."""
    warnings: list[ContractIssue]
    chunked: bool
    """True when the input was read chunk by chunk of customers (Parquet larger than the sample)."""


def load_training_data(
    config: Config, chunk_size: int = 100_000, workdir: str | Path | None = None
) -> TrainingData:
    """Read and validate the training data; keep only the sample when the input is larger.

    Parquet inputs with more customers than ``cutoffs.sample_customers`` are read and
    validated chunk by chunk of ``chunk_size`` customers (``io.open_customer_chunks``, spilled
    into ``workdir``), keeping only the sampled customers' rows: memory is bounded by a chunk
    plus the sample, and every row is still validated. Other inputs are read whole (the sample
    is then taken by ``training.train``).

    Raises:
        ContractError: the data break the contract (its ``issues`` list every error, from
            every chunk).

    """
    from predictor.io.chunks import open_customer_chunks
    from predictor.io.tables import load_tables

    end = resolve_data_end(config)
    limit = config.cutoffs.sample_customers
    chunks = None
    if limit is not None:
        chunks = open_customer_chunks(
            config, None, chunk_size, end_date=end, workdir=workdir, more_than=limit
        )
    if chunks is None:
        result = load_tables(config.data, end_date=end)
        tables = result.raise_for_errors()
        read = result.summary.set_index("table")["rows"]
        return TrainingData(tables, int(read["customers"]), result.warnings, False)
    with chunks:
        return _sampled_chunks(chunks, limit, config.model.random_state)


def _sampled_chunks(chunks: CustomerChunks, limit: int, seed: int) -> TrainingData:
    """Validate every chunk; keep the sampled customers' rows; raise every chunk's errors."""
    from predictor.jobs.score_job import merge_warnings

    share = sample_share(chunks.n_customers, limit)
    parts, issues, counts = [], [], RowCounts()
    for k in range(len(chunks)):
        result = chunks.validated(k)
        issues.extend(result.issues)
        counts.add(result)
        if result.tables is not None and not result.errors:
            ids = result.tables.customers["customer_id"]
            parts.append(result.tables.subset(sampled_ids(ids, share, seed)))
    warnings = merge_warnings([i for i in issues if i.severity == "warning"])
    warnings = counts.with_id_hints(warnings, chunks.customer_ids) + counts.empty_columns()
    errors = [i for i in issues if i.severity == "error"] + counts.errors(warnings)
    if errors:
        raise ContractError.from_issues(errors)
    return TrainingData(concat_tables(parts), chunks.n_customers, warnings, True)


def feature_table(
    tables: Tables,
    config: Config,
    as_of: pd.Timestamp,
    day_one: bool = False,
    labels: bool = False,
    tick: Callable[[], None] | None = None,
) -> pd.DataFrame:
    """The point-in-time feature table as of ``as_of`` (``predictor features``), ``as_of`` first.

    ``day_one``: the Day One view (each customer's first days, of those signed up by
    ``as_of``). ``labels`` adds the labels whose window is complete by the data's end;
    ``tick()`` is called after each step (features, labels).
    """
    from predictor.features import build_day_one_features, build_features
    from predictor.labels import (
        churn_label,
        churn_label_end,
        day_one_label,
        value_label,
        value_label_end,
    )
    from predictor.timeline import day_end, truncate

    step = tick or (lambda: None)
    end = data_span(tables, config)[1]
    if day_one:
        frame = build_day_one_features(truncate(tables, as_of), config)
        step()
        if labels:
            frame = frame.join(day_one_label(tables, config.day_one.window_days, config.value, end))
            step()
    else:
        frame = build_features(tables, as_of, config)
        step()
        if labels and value_label_end(as_of, config.value) <= day_end(end):
            frame = frame.join(value_label(tables, as_of, config.value))
        if labels and churn_label_end(as_of, config.churn) <= day_end(end):
            frame = frame.join(churn_label(tables, as_of, config.churn))
        if labels:
            step()
    frame.insert(0, "as_of", as_of.normalize())
    return frame


def write_sample(
    out_dir: Path,
    customers: int,
    seed: int,
    mode: str = "subscription",
    fmt: str = "csv",
    truth_as_of: str | None = None,
) -> str:
    """Write the built-in sample business and its hidden truth beside it; say what was written.

    ``mode`` ``snapshot`` writes the single-snapshot sample (``predictor.sample.snapshot``),
    ``usage`` the usage-heavy subscription sample (``predictor.sample.usage``; its truth is the
    churn probability), the others the event sample (``predictor.sample``); each with its
    traits and, for ``truth_as_of``, the truth as of that date.
    """
    from predictor.io.atomic import write_frame_atomic, write_tables
    from predictor.output_schema import SAMPLE_DAY_COLUMNS

    truth_dir = out_dir.parent / f"{out_dir.name}_truth"
    if mode == "snapshot":
        from predictor.sample.snapshot import generate_snapshot

        snap = generate_snapshot(n_customers=customers, seed=seed)
        write_tables(snap.tables, out_dir, fmt=fmt, days=SAMPLE_DAY_COLUMNS)
        truth_path = truth_dir / f"truth_{snap.as_of.date()}.parquet"
        write_frame_atomic(snap.truth.reset_index(), truth_path)
        return (
            f"wrote {out_dir} ({len(snap.tables.customers):,} customers, snapshot as of "
            f"{snap.as_of.date()}, data to {snap.end_date.date()}; train with --set "
            f"churn.horizon_days={(snap.end_date - snap.as_of).days}); truth in {truth_path}"
        )
    if mode == "usage":
        from predictor.sample.usage import generate_usage, usage_truth

        business, truth_of = generate_usage(n_accounts=customers, seed=seed), usage_truth
    else:
        from predictor.sample import generate_sample, ground_truth

        business, truth_of = (
            generate_sample(n_customers=customers, seed=seed, mode=mode),
            ground_truth,
        )
    write_tables(business.tables, out_dir, fmt=fmt, days=SAMPLE_DAY_COLUMNS)
    write_frame_atomic(business.traits.reset_index(), truth_dir / "traits.parquet")
    if truth_as_of:
        truth = truth_of(business, pd.Timestamp(truth_as_of))
        write_frame_atomic(truth.reset_index(), truth_dir / f"truth_{truth_as_of}.parquet")
    counts = ", ".join(f"{name} {len(frame):,}" for name, frame in business.tables.items())
    return f"wrote {out_dir} ({counts}); ground truth in {truth_dir} (never an input)"

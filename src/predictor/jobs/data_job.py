"""Data jobs: the run's defaults, resolved once at the entry, and the data commands' work.

``resolve_data_end`` (the configured ``data.end_date``, else today) and
``resolve_as_of`` (the given as-of date, else the data's last date) are where the CLI and the
``Predictor`` façade resolve their defaults. ``validate_data`` (``predictor validate``),
``feature_table`` (``predictor features``) and ``write_sample`` (``predictor sample``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from predictor.config import Config
from predictor.contract.errors import ContractError, ContractIssue
from predictor.contract.tables import TABLE_NAMES, Tables
from predictor.contract.validate import BatchValidation, ValidationResult, no_valid_rows_issue
from predictor.customer_sample import sample_share, sampled_ids
from predictor.datasets import data_span
from predictor.errors import OutputError, PredictorError
from predictor.keys import KeyIndex
from predictor.timeline import data_end

if TYPE_CHECKING:  # pragma: no cover
    from predictor.io.chunks import ParquetSource


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
    """True when the input was read batch by batch (Parquet with more customers than the sample)."""


def load_training_data(config: Config, batch_rows: int | None = None) -> TrainingData:
    """Read and validate the training data; keep only the sample when the input is larger.

    Parquet inputs with more customers than ``cutoffs.sample_customers`` are read in one pass:
    the customers whole, then each event table ``batch_rows`` rows at a time (default
    ``io.chunks.SPILL_BATCH_ROWS``), every row validated against the customers
    (``contract.BatchValidation``) and only the sampled customers' rows kept. Memory is bounded
    by the customers, one batch and the sample. Other inputs are read whole (the sample is
    then taken by ``training.train``).

    Raises:
        ContractError: the data break the contract (its ``issues`` list every error, from
            every batch).

    """
    from predictor.io.chunks import open_parquet_source, source_rows
    from predictor.io.tables import load_tables

    end = resolve_data_end(config)
    limit = config.cutoffs.sample_customers
    source = None if limit is None else open_parquet_source(config)
    if source is None or limit is None or source_rows(source, "customers") <= limit:
        result = load_tables(config.data, end_date=end)
        summary = result.summary.set_index("table")
        errors = churn_rule_errors(config, summary["rows"], summary["kept"], result.warnings)
        if errors:
            raise ContractError.from_issues(result.errors + errors)
        tables = result.raise_for_errors()
        return TrainingData(tables, int(summary["rows"]["customers"]), result.warnings, False)
    return _sampled_batches(source, config, end, batch_rows)


def churn_rule_errors(
    config: Config, rows: Mapping[str, int], kept: Mapping[str, int], warnings: list[ContractIssue]
) -> list[ContractIssue]:
    """``no_valid_rows`` when a subscriptions table is given but none of its rows passed.

    Under ``churn.rule: auto`` the table decides the churn rule: with every row set aside
    (ids in another form, unreadable values) training would switch to the no-purchase rule
    in silence. Leaving the table out, or ``churn.rule: no_order``, says that on purpose.
    """
    table = "subscriptions"
    if config.churn.rule == "no_order" or not rows.get(table) or kept.get(table):
        return []
    issue = no_valid_rows_issue(table, int(rows[table]), warnings)
    message = (
        f"{issue.message}. The subscriptions table decides the churn rule: without a single "
        "valid row churn would be 'no purchase' instead of the end of subscriptions. Fix the "
        "rows, or leave the table out (or set churn.rule: no_order) to train with that rule"
    )
    return [replace(issue, message=message)]


def _sampled_batches(
    source: ParquetSource, config: Config, end: pd.Timestamp, batch_rows: int | None
) -> TrainingData:
    """Validate every row batch by batch; keep the sampled customers' rows; raise every error."""
    from predictor.io.chunks import SPILL_BATCH_ROWS, empty_table_issue, table_batches
    from predictor.jobs.score_job import merge_warnings

    rows = batch_rows or SPILL_BATCH_ROWS
    customers = pd.concat(
        [f for f, _ in table_batches(source, "customers", rows)], ignore_index=True
    )
    check = BatchValidation(customers, end_date=end, dates=source.rules)
    share = sample_share(len(customers), config.cutoffs.sample_customers)
    ids = sampled_ids(check.customers["customer_id"], share, config.model.random_state)
    sample = KeyIndex(ids)
    frames = {"customers": _rows_of(check.customers, sample)}
    for name in source.files:
        if name == "customers":
            continue
        parts = [
            _rows_of(kept, sample)
            for raw, first in table_batches(source, name, rows)
            if (kept := check.events(name, raw, first)) is not None
        ]
        if parts:
            frames[name] = pd.concat(parts, ignore_index=True)
    issues = check.issues + [empty_table_issue(name) for name in source.empty]
    warnings = merge_warnings([i for i in issues if i.severity == "warning"])
    warnings += check.counts.empty_columns()
    errors = [i for i in issues if i.severity == "error"] + check.counts.errors(warnings)
    errors += churn_rule_errors(config, check.counts.rows, check.counts.kept, warnings)
    if errors:
        raise ContractError.from_issues(errors)
    return TrainingData(Tables(**frames), len(customers), warnings, True)


def _rows_of(frame: pd.DataFrame, customers: KeyIndex) -> pd.DataFrame:
    """The rows of ``frame`` whose customer is one of ``customers``."""
    return frame[customers.positions(frame["customer_id"]) >= 0].reset_index(drop=True)


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


def _check_no_other_format(out_dir: Path, fmt: str) -> None:
    """Refuse to write the sample beside table sources of another format (or part folders).

    ``sample --format csv`` into a folder holding the Parquet sample left both, and every
    command on that folder then stopped with "two sources for one table". Nothing there is
    removed: the user chooses which to keep.
    """
    if not out_dir.is_dir():
        return
    ours = {f"{name}.{fmt}" for name in TABLE_NAMES}
    other = sorted(
        entry.name
        for entry in out_dir.iterdir()
        if entry.name.split(".")[0].lower() in TABLE_NAMES and entry.name.lower() not in ours
    )
    if other:
        raise OutputError(
            f"{out_dir} already holds {', '.join(other[:3])}{', ...' if len(other) > 3 else ''}: "
            f"a {fmt} sample beside it would give a table two sources; write it to another "
            "folder, or remove those first"
        )


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

    _check_no_other_format(out_dir, fmt)
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

"""The score-to-files job: what ``predictor score`` runs (``score_files``).

Every customer of a data folder gets a score row or a row with a reason in the rejects file;
inputs are read and scored chunk by chunk, and both files moved into place together at the end
(both or neither).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from predictor.config import Config
from predictor.contract.errors import ContractError, ContractIssue
from predictor.contract.tables import Tables
from predictor.contract.validate import RowCounts, ValidationResult
from predictor.datasets import data_span
from predictor.errors import OutputError
from predictor.jobs.data_job import resolve_data_end
from predictor.missing_inputs import (
    check_categories,
    check_columns,
    check_inputs,
    check_rule_rows,
)
from predictor.output_schema import REJECTS, SCORES
from predictor.runfiles import output_lock, spill_folder, sweep_leftovers
from predictor.scoring import check_drivers, score
from predictor.timeline import parse_as_of

if TYPE_CHECKING:  # pragma: no cover
    from predictor.api import Predictor


@dataclass(frozen=True)
class ScoreRun:
    """What ``score_files`` did: the counts add up (``customers == scored + rejected``)."""

    as_of: pd.Timestamp
    customers: int
    """Rows of the input's customers table."""
    scored: int
    rejected: int
    chunks: int
    chunked_read: bool
    """True when the input was read chunk by chunk (Parquet), False when read whole."""
    warnings: list[ContractIssue] = field(default_factory=list)
    leftovers: list[Path] = field(default_factory=list)
    """Files and spill folders of killed runs that this run found and removed."""


def score_files(
    predictor: Predictor,
    data: str | Path,
    out: str | Path,
    rejects: str | Path | None = None,
    *,
    as_of: str | pd.Timestamp | None = None,
    drivers: int = 0,
    chunk_size: int = 100_000,
    on_start: Callable[[int], None] | None = None,
    on_chunk: Callable[[int], None] | None = None,
    workdir: str | Path | None = None,
    allow_missing: Iterable[str] = (),
    data_end: str | pd.Timestamp | None = None,
) -> ScoreRun:
    """Score every customer of the data folder ``data`` into ``out``; what ``predictor score`` runs.

    Parquet inputs are read chunk by chunk of ``chunk_size`` customers
    (``io.open_customer_chunks``), so memory is bounded by a chunk; other inputs are read
    whole, then scored chunk by chunk. Every input customer gets a score row in ``out`` or a
    row with a reason in ``rejects`` (default: ``<out stem>_rejects.csv`` beside ``out``).
    Both files are written atomically and moved into place together, only once everything is
    scored: an error or an interrupt leaves no output and both previous files untouched.
    ``as_of`` defaults to the data's latest date; the model's data settings (column mapping,
    ``end_date``) apply, but
    ``data_end`` (a day) replaces the model's ``end_date``, the end of its training data:
    rows after the data end are set aside, and a warning says when that end is the model's.
    ``on_start(n_customers)`` and ``on_chunk(n_done)`` report progress, once per scoring
    batch (``progress_batch``: once per chunk at the default chunk size).

    While it runs, ``out`` and ``rejects`` are locked (``.<name>.lock`` beside each): a second
    run writing either fails with ``OutputLockedError``. Parquet input is spilled into a
    ``.predictor-spill-<pid>-*`` folder in ``workdir`` (default: beside ``out``), removed at
    the end; leftovers of runs killed there are removed first and listed in the result.
    Tables the model was trained with but absent here are checked by
    ``missing_inputs.check_inputs`` (``allow_missing`` accepts them).

    Raises:
        ContractError: the data break the contract (its ``issues`` list every error).
        OutputLockedError: another run is writing ``out`` or ``rejects``.
        OutputError: ``out`` and ``rejects`` are one file, or either is a folder (before
            anything is read), or a file cannot be written.
        AsOfError, TypeError, ValueError: ``as_of`` is not a day, ``drivers`` not a whole
            number of 0 or more.

    """
    from predictor.io.atomic import AtomicFrameWriter, commit_together

    out = Path(out)
    allow_missing = tuple(allow_missing)
    rejects = Path(rejects) if rejects is not None else default_rejects_path(out)
    check_outputs(out, rejects)
    day = parse_as_of(as_of) if as_of is not None else None
    drivers = check_drivers(drivers)
    config = predictor.data_config(data, data_end)
    end = resolve_data_end(config)
    scratch = Path(workdir) if workdir is not None else out.absolute().parent
    with ExitStack() as stack:
        stack.enter_context(output_lock(out, rejects))
        leftovers = sweep_leftovers(out.absolute().parent, [out])
        leftovers += sweep_leftovers(rejects.absolute().parent, [rejects])
        if scratch != out.absolute().parent:
            leftovers += sweep_leftovers(scratch)
        spill = stack.enter_context(spill_folder(scratch))
        source = _open_input(config, chunk_size, end, spill, stack)
        cutoff = day if day is not None else source.latest()
        notes = [] if day is None else _as_of_outside(cutoff, source)
        if on_start is not None:
            on_start(source.customers)
        stamp = output_metadata(predictor.version, cutoff)
        writer = stack.enter_context(AtomicFrameWriter(out, schema=SCORES, metadata=stamp))
        reject_writer = stack.enter_context(
            AtomicFrameWriter(rejects, schema=REJECTS, metadata=stamp)
        )
        rejected, counts = [], RowCounts()
        for k, result in enumerate(source.chunks()):
            if result.errors or result.tables is None:
                raise ContractError.from_issues(result.issues)
            counts.add(result)
            if k == 0:
                present = [name for name, _ in result.tables.items()]
                notes += check_inputs(predictor.model, present, allow_missing)
                notes += check_columns(predictor.model, result.tables, cutoff, allow_missing)
                notes += check_categories(predictor.model, result.tables)
            notes.extend(result.warnings)
            set_aside = input_rejects(result)
            rejected.append(set_aside)
            for batch in _batches(result.tables):
                scores, late = score(predictor.model, batch, cutoff, drivers, allow_missing)
                writer.write(scores)
                rejected.append(late)
                if on_chunk is not None:
                    on_chunk(len(batch.customers))
            if on_chunk is not None and len(set_aside):
                on_chunk(len(set_aside))
        if source.chunked:  # read whole, validation already checked the empty columns
            notes += counts.empty_columns()
        warnings = merge_warnings(notes) + _model_end_note(notes, config, data_end)
        if source.customer_ids is not None:  # read whole, validation already gave the hint
            warnings = counts.with_id_hints(warnings, source.customer_ids)
        errors = counts.errors(warnings)  # chunk by chunk: no required table left empty
        errors += check_rule_rows(
            predictor.model, counts.rows, counts.kept, warnings, allow_missing
        )
        if errors:
            raise ContractError.from_issues(errors)
        reject_writer.write(pd.concat(rejected, ignore_index=True))
        commit_together(writer, reject_writer)
    return ScoreRun(
        as_of=cutoff,
        customers=source.customers,
        scored=writer.rows,
        rejected=reject_writer.rows,
        chunks=source.n_chunks,
        chunked_read=source.chunked,
        warnings=warnings,
        leftovers=leftovers,
    )


def _model_end_note(
    notes: list[ContractIssue], config: Config, data_end: object
) -> list[ContractIssue]:
    """A warning when rows were set aside as after the data end and that end is the model's.

    A model trained with ``data.end_date`` keeps it; scoring data that go further lost every
    later row with no word of where that date came from.
    """
    fixed = config.data.end_date
    if data_end is not None or fixed is None:
        return []
    late = sum(i.count for i in notes if i.check == "after_end_date")
    if not late:
        return []
    message = (
        f"the data end {fixed} is the model's data.end_date (the end of its training data): "
        f"{late:,} rows after it were set aside. To score data that go further, pass "
        "--data-end YYYY-MM-DD (Python: data_end=)"
    )
    return [ContractIssue("after_end_date", "", None, "warning", 0, [], message)]


def check_outputs(out: str | Path, rejects: str | Path) -> None:
    """Refuse, before any work, outputs that cannot both be written: one file, or a folder.

    The scores and the rejects written to one path would leave only the file moved last,
    while the run reports both; a folder would fail only at the final move, after scoring.

    Raises:
        OutputError: naming the path.

    """
    from predictor.io.atomic import check_target

    if _same_file(Path(out), Path(rejects)):
        raise OutputError(
            f"the rejects file and the scores file are the same file ({out}); "
            "write the rejects to another path"
        )
    check_target(out)
    check_target(rejects)


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file (``./out/../out/x.csv`` is ``out/x.csv``; links too)."""
    if a.resolve() == b.resolve():
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _batches(tables: Tables) -> Iterator[Tables]:
    """A validated chunk in scoring batches of ``progress_batch`` customers, in id order.

    A chunk that fits one batch is scored as it is: splitting it would cost a pass over
    every table for nothing (validation has already set aside rows of unknown customers).
    """
    ids = pd.Index(tables.customers["customer_id"]).sort_values()
    step = progress_batch(len(ids))
    if len(ids) <= step:
        yield tables
        return
    yield from tables.partition([ids[start : start + step] for start in range(0, len(ids), step)])


def _as_of_outside(as_of: pd.Timestamp, source: _Input) -> list[ContractIssue]:
    """``as_of_notes`` for the input being scored (nothing when its span cannot be found)."""
    try:
        latest = source.latest()
    except ContractError:
        return []  # the chunks report the data's errors themselves
    return as_of_notes(as_of, source.first(), latest)


def as_of_notes(
    as_of: pd.Timestamp, first: pd.Timestamp | None, latest: pd.Timestamp
) -> list[ContractIssue]:
    """A warning when ``as_of`` lies outside the data: after its last date or before its first.

    After: every customer looks inactive since the data's end (churn risk up, value down).
    Before: no customer had signed up, so there is nothing to score.
    """
    gap = (as_of.normalize() - latest.normalize()).days
    if gap > 0:
        message = (
            f"as of {as_of.date()} is {gap} days after the data's last date {latest.date()}: "
            "the data say nothing about that period, so every customer looks inactive since "
            "then (churn risk up, value down); score as of the data's end unless this is intended"
        )
        return [ContractIssue("as_of_after_data", "customers", None, "warning", 0, [], message)]
    if first is not None and as_of.normalize() < first.normalize():
        message = (
            f"as of {as_of.date()} is before the data's first date {first.date()} (the first "
            "signup): no customer had signed up by then"
        )
        return [ContractIssue("as_of_before_data", "customers", None, "warning", 0, [], message)]
    return []


PROGRESS_STEPS = 10
"""Progress reports per read chunk: a chunk is scored in up to this many batches."""
MIN_PROGRESS_BATCH = 100_000
"""Fewest customers per batch. Each batch costs fixed feature-building work, and splitting a
chunk costs a pass over its tables: 100,000 sample customers took 4.9 s CPU in one batch,
5.3 s in 2 of 50,000, 7.7 s in 10 of 10,000 (issue 19). A chunk of the default size is
therefore scored in one batch, and progress moves once per chunk."""


def progress_batch(n_customers: int) -> int:
    """Customers per scoring batch within a chunk, so the progress bar moves within it.

    Scores do not depend on who is scored together (``scoring`` module), so batching changes
    only how often progress is reported.
    """
    return max(MIN_PROGRESS_BATCH, -(-n_customers // PROGRESS_STEPS))


def output_metadata(model_version: str | None, as_of: pd.Timestamp) -> dict[str, str]:
    """The key-value metadata of a Parquet output: model version, as-of day, package version."""
    from predictor import __version__

    stamp = {"as_of": pd.Timestamp(as_of).date().isoformat(), "package_version": __version__}
    return stamp | ({"model_version": model_version} if model_version is not None else {})


def merge_warnings(issues: list[ContractIssue]) -> list[ContractIssue]:
    """One warning per check and place, counts summed over the chunks that reported it.

    Row numbers quoted in a chunk's message count within that chunk; ``predictor validate``
    gives the rows of the files.
    """
    groups: dict[tuple[str, str, str | None], list[ContractIssue]] = {}
    for issue in issues:
        groups.setdefault((issue.check, issue.table, issue.column), []).append(issue)
    merged = []
    for (check, table, column), group in groups.items():
        if len(group) == 1:
            merged.append(group[0])
            continue
        total = sum(i.count for i in group)
        message = (
            f"{group[0].location}: {total} rows set aside by the {check} check in "
            f"{len(group)} chunks (first: {group[0].message})"
        )
        merged.append(ContractIssue(check, table, column, "warning", total, [], message))
    return merged


def default_rejects_path(out: str | Path) -> Path:
    """Where ``score_files`` writes the rejects when not told: ``<stem>_rejects.csv`` beside."""
    out = Path(out)
    stem = out.name.removesuffix(".gz").rsplit(".", 1)[0]
    return out.with_name(f"{stem}_rejects.csv")


def input_rejects(result: ValidationResult) -> pd.DataFrame:
    """Customers that validation set aside, with a reason: rejected ones and rows without id."""
    no_id = result.rejects[
        (result.rejects["table"] == "customers") & (result.rejects["column"] == "customer_id")
    ]
    return pd.concat(
        [result.rejected_customers[["customer_id", "reason"]], no_id[["customer_id", "reason"]]],
        ignore_index=True,
    )


@dataclass
class _Input:
    """The scored input, chunk by chunk, whether read in chunks or whole."""

    customers: int
    n_chunks: int
    chunked: bool
    latest: Callable[[], pd.Timestamp]
    chunks: Callable[[], Iterator[ValidationResult]]
    first: Callable[[], pd.Timestamp | None]
    customer_ids: Callable[[], pd.Series] | None
    """Chunked input: every customer id (read only when a message about ids needs them)."""


def _open_input(
    config: Config, chunk_size: int, end: pd.Timestamp, workdir: Any, stack: ExitStack
) -> _Input:
    """Open the input for chunked reading (Parquet), or read and validate it whole."""
    from predictor.io.chunks import open_customer_chunks
    from predictor.io.tables import load_tables

    chunks = open_customer_chunks(config, None, chunk_size, end_date=end, workdir=workdir)
    fixed_end = config.data.end_date
    if chunks is not None:
        stack.enter_context(chunks)
        return _Input(
            customers=chunks.n_customers,
            n_chunks=len(chunks),
            chunked=True,
            latest=lambda: pd.Timestamp(fixed_end) if fixed_end else chunks.latest_date(),
            chunks=lambda: (chunks.validated(k) for k in range(len(chunks))),
            first=chunks.first_date,
            customer_ids=chunks.customer_ids,
        )
    whole = load_tables(config, end_date=end)
    if whole.tables is None:
        raise ContractError.from_issues(whole.issues)
    tables = whole.tables
    ids = pd.Index(tables.customers["customer_id"]).sort_values()
    groups = [ids[i : i + chunk_size] for i in range(0, len(ids), chunk_size)] or [ids]

    def split() -> Iterator[ValidationResult]:
        for k, part in enumerate(tables.partition(groups)):
            first = k == 0
            yield ValidationResult(
                tables=part,
                issues=whole.issues if first else [],
                rejects=whole.rejects if first else whole.rejects.iloc[:0],
                rejected_customers=whole.rejected_customers.iloc[: None if first else 0],
                summary=whole.summary if first else whole.summary.iloc[:0],
            )

    rows = int(whole.summary.set_index("table").loc["customers", "rows"])
    return _Input(
        customers=rows,
        n_chunks=len(groups),
        chunked=False,
        latest=lambda: data_span(tables, config)[1],
        chunks=split,
        first=lambda: data_span(tables, config)[0],
        customer_ids=None,
    )

"""Validate and type the input tables at the boundary: the contract's checks, in one place.

``validate(raw, end_date=...)`` takes the tables as read (already renamed to the contract's
column names, but not typed), coerces every contract column to its type, runs the checks
below, and returns a ``ValidationResult``: the clean typed ``Tables`` (``None`` when there is
an error), the list of issues (errors first), the rows set aside (``rejects``) and the
customers who cannot be scored at all (``rejected_customers``). It never reads files and
never raises for a data problem: problems become issues. Everything is vectorised.

Decisions (also in ``docs/contract.md``). An *error* stops the run (``tables`` is ``None``);
a *warning* lets it continue with the offending rows set aside and listed in ``rejects``.

======================  ========  =============================================================
check                   severity  what happens
======================  ========  =============================================================
missing_table           error     customers or orders not given
empty_table             error     customers or orders has no rows
empty_table             warning   an optional table has no rows: treated as absent
unknown_table           warning   a table the contract does not know: ignored
unread_column           warning   a column of an event table file the contract does not know:
                                  not read (named, so a mis-mapped column is not lost unseen)
partial_column          warning   a column some part files of a table folder lack: empty in
                                  their rows (the files named)
duplicate_column        error     two columns with one name (e.g. after column mapping)
missing_column          error     a required column is absent (available columns listed)
missing_value           warning   empty cell in a required column: row set aside
date_format             error     a text date column whose day/month order is ambiguous (no
                                  day above 12) or mixed (some rows only day-first, others
                                  only month-first); the remedy is ``data.date_formats``
unparseable_date        warning   date that cannot be read: row set aside (any date column,
                                  including the optional ``end_date``/``resolved_at``: an
                                  unreadable end date is ambiguous between active and ended)
unparseable_number      warning   number that cannot be read (or is infinite): row set aside
unparseable_bool        warning   ``escalated`` not one of true/false/1/0/yes/no: row set aside
duplicate_customer_id   error     an id appears more than once in customers (ids listed)
duplicate_row           warning   a customers row repeats an earlier one exactly (copy set aside)
out_of_range            warning   csat outside 1..5, nps score outside 0..10, negative seats:
                                  row set aside
date_order              warning   resolved_at before opened_at (timestamps), or end_date
                                  before start_date (calendar days): row set aside
after_end_date          warning   row dated after the data end: set aside
rejected_customer       warning   event of a rejected customer: set aside
unknown_customer        warning   event of a customer not in customers: set aside
before_signup           warning   event dated (by calendar day) before the customer's signup:
                                  set aside, so that nothing precedes a customer's timeline and
                                  the Day One window only sees rows from signup on
no_valid_rows           error     customers or orders has rows, but none passed the checks
empty_column            warning   an optional column is empty in every row: nothing set aside,
                                  the models leave it out
======================  ========  =============================================================

A customer whose ``signup_date`` is missing, unreadable or after the data end is *rejected*:
their row is set aside, they are listed in ``rejected_customers`` with a reason, and all their
events are set aside (``rejected_customer``). Negative amounts are refunds and are allowed.

Row numbers (``rejects.row`` and the examples in messages) are 0-based positions in the table
as given: row 0 is the first data row, i.e. line 2 of a CSV file with a header. A row failing
several checks is set aside once, under the first check it fails (missing customer_id, then
unreadable values, then the other checks in the order of the table above), so the counts of
the warnings add up to the rows in ``rejects``.

Types of the clean tables: ids are strings (whitespace stripped; ``1.0`` becomes ``"1"``),
dates ``datetime64[ns]`` tz-naive in the business's time zone (``DateRules.timezone``: times
with a zone or offset are converted to it; naive times are taken as already in it; formats
are read as ``contract.dates`` describes), numbers ``float64``, ``escalated`` ``bool``
(empty means false), text columns strings. In id, date, number and bool columns the tokens
``NA``, ``N/A``, ``NULL``, ``None``, ``NaN``, ``NaT``, ``#N/A`` (any case) and empty cells
mean missing; in text columns
only empty cells do. Customer attribute columns are numeric (``float64``) when every non-empty
value is a number (and none has a leading zero, like a postal code), ``bool`` when every value
is true/false, dates when typed as dates (Parquet), and text otherwise. Extra columns of event
tables are kept unchanged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from predictor.contract.dates import DateFormatError, has_zone, parse_dates
from predictor.contract.errors import (
    MAX_EXAMPLES,
    ContractError,
    ContractIssue,
    Severity,
    format_examples,
)
from predictor.contract.schema import SPECS, TableSpec
from predictor.contract.tables import TABLE_NAMES, Tables
from predictor.keys import KeyIndex, arrow_strings, positions, string_buffers
from predictor.timeline import day_end

NULL_TOKENS: frozenset[str] = frozenset({"", "na", "n/a", "nan", "nat", "null", "none", "#n/a"})
"""Lower-cased cell values that mean "missing" in id, date, number and bool columns."""
_LONGEST_NULL_TOKEN = max(map(len, NULL_TOKENS))

TRUE_TOKENS: frozenset[str] = frozenset({"true", "t", "yes", "y", "1", "1.0"})
FALSE_TOKENS: frozenset[str] = frozenset({"false", "f", "no", "n", "0", "0.0"})

ID_COLUMNS: frozenset[str] = frozenset({"customer_id", "order_id"})

REJECT_COLUMNS: tuple[str, ...] = ("table", "row", "customer_id", "check", "column", "reason")


@dataclass(frozen=True)
class DateRules:
    """How date columns are read: the business's time zone and any configured formats.

    ``timezone`` is an IANA name: zoned times are converted to it and naive ones taken as
    already in it. ``date_format`` is the strftime format of non-ISO text dates in every
    column, ``date_formats`` (``{table: {column: format}}``) overrides it per column; without
    either the format is detected per column (``contract.dates``).
    """

    timezone: str = "UTC"
    date_format: str | None = None
    date_formats: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def format_of(self, table: str, column: str) -> str | None:
        """The configured format of ``table.column`` (``None``: detect it)."""
        return self.date_formats.get(table, {}).get(column, self.date_format)


@dataclass
class ValidationResult:
    """The outcome of ``validate``: clean tables (or ``None``), issues and what was set aside.

    Attributes:
        tables: the typed tables without the rows set aside; ``None`` when there is an error.
        issues: every finding, errors first, then warnings; within each, by table in the
            contract's order, then in the order the checks ran.
        rejects: one row per row set aside: ``table``, ``row`` (0-based position in the
            table as given), ``customer_id``, ``check``, ``column``, ``reason``.
        rejected_customers: ``customer_id``, ``reason`` for customers who cannot be scored.
        summary: per table given, ``rows`` read, ``kept`` and ``set_aside``.

    """

    tables: Tables | None
    issues: list[ContractIssue]
    rejects: pd.DataFrame
    rejected_customers: pd.DataFrame
    summary: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def errors(self) -> list[ContractIssue]:
        """The issues that stop the run."""
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[ContractIssue]:
        """The issues that set rows aside but let the run continue."""
        return [i for i in self.issues if i.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not self.errors

    def raise_for_errors(self) -> Tables:
        """Return the clean tables, or raise ``ContractError`` naming every error."""
        if self.errors or self.tables is None:
            raise ContractError.from_issues(self.errors)
        return self.tables


@dataclass
class _Work:
    """One table under validation: the raw rows, their typed copy and what is set aside."""

    name: str
    spec: TableSpec
    raw: pd.DataFrame
    typed: pd.DataFrame
    aside: np.ndarray
    ids: pd.Series

    @property
    def kept(self) -> np.ndarray:
        return ~self.aside


class _Report:
    """Collects issues, rejected rows and rejected customers while the checks run."""

    def __init__(self, first_row: int = 0, numbers: Mapping[str, np.ndarray] | None = None) -> None:
        self.issues: list[ContractIssue] = []
        self.rejects: list[pd.DataFrame] = []
        self.rejected: list[pd.DataFrame] = []
        self.first_row = first_row
        """Number of the first row checked (a batch's place in its table; 0: the whole table)."""
        self.numbers = dict(numbers or {})
        """Per table, each row's number in the table as read whole (a chunk's rows)."""

    def numbered(self, table: str, rows: np.ndarray) -> np.ndarray:
        """The numbers in ``table`` as read whole of the checked rows at positions ``rows``."""
        given = self.numbers.get(table)
        return given[rows] if given is not None else rows + self.first_row

    def issue(
        self,
        check: str,
        table: str,
        column: str | None,
        severity: Severity,
        count: int,
        examples: list[Any],
        message: str,
    ) -> None:
        self.issues.append(
            ContractIssue(check, table, column, severity, int(count), list(examples), message)
        )

    def set_aside(
        self,
        work: _Work,
        mask: np.ndarray | pd.Series,
        *,
        check: str,
        column: str,
        problem: str,
        reason: str | Callable[[np.ndarray], pd.Series],
        shown: pd.Series | None = None,
        reject_customers: bool = False,
        hint: Callable[[np.ndarray], str] | None = None,
    ) -> None:
        """Set aside the rows in ``mask`` not already set aside, and report them as a warning.

        ``problem`` is the plural predicate of the message ("have unparseable dates");
        ``reason`` is the per-row reason, a string or a function of the row positions (built
        lazily, so clean data cost nothing); ``shown`` holds the values to quote next to the
        example rows. With ``reject_customers`` the rows are customers: the examples are their
        ids and they are added to ``rejected_customers``. ``hint(rows)`` may add a likely cause
        to the message (empty string: none).
        """
        new = np.asarray(mask, dtype=bool) & ~work.aside
        count = int(new.sum())
        if not count:
            return
        rows = np.flatnonzero(new)
        reasons = _reasons(reason, rows)
        self.rejects.append(
            pd.DataFrame(
                {
                    "table": work.name,
                    "row": self.numbered(work.name, rows).astype("int64"),
                    "customer_id": work.ids.iloc[rows].to_numpy(),
                    "check": check,
                    "column": column,
                    "reason": reasons,
                }
            )
        )
        work.aside |= new
        head = rows[:MAX_EXAMPLES]
        if reject_customers:
            ids = work.ids.iloc[rows]
            self.rejected.append(pd.DataFrame({"customer_id": ids.to_numpy(), "reason": reasons}))
            examples = [str(v) for v in ids.iloc[:MAX_EXAMPLES]]
            detail = format_examples([_show(v) for v in examples], count, noun="ids")
            subject = _plural(count, "customer")
            action = "customers rejected and their events set aside"
        else:
            examples = self.numbered(work.name, head).tolist()
            detail = format_examples(examples, count)
            subject = _plural(count, "row")
            action = "set aside"
        if shown is not None:
            detail += ": " + ", ".join(_show(v) for v in shown.iloc[head])
        cause = hint(rows) if hint is not None else ""
        cause = f"; {cause}" if cause else ""
        message = (
            f"{work.name}.{column}: {subject} {_agree(problem, count)} ({detail}){cause}; {action}"
        )
        self.issue(check, work.name, column, "warning", count, examples, message)


def validate(
    raw: Mapping[str, pd.DataFrame],
    *,
    end_date: pd.Timestamp | dt.date | str,
    chunk: bool = False,
    dates: DateRules | None = None,
) -> ValidationResult:
    """Type and check the input tables against the contract.

    Args:
        raw: table name -> frame, with the contract's column names (column mapping already
            applied) but untyped (e.g. every column read from CSV as text).
        end_date: the last day covered by the data (inclusive, the whole day). Rows dated
            after it are set aside; customers who sign up after it are rejected.
        chunk: ``raw`` holds some customers of a larger input with all their rows (see
            ``io.iter_customer_chunks``). A table with no rows is then kept as an empty typed
            table (a chunk's customers may have no orders; an absent table would change
            the features), and ``no_valid_rows`` is left to the whole input.
        dates: the time zone and date formats (default: UTC, formats detected per column).

    Returns:
        The ``ValidationResult``; see the module docstring for every check and its outcome.

    """
    limit = day_end(_naive(pd.Timestamp(end_date)))
    numbers = {n: f.attrs[ROW_NUMBERS] for n, f in raw.items() if ROW_NUMBERS in f.attrs}
    report = _Report(numbers=numbers)
    for name in raw:
        if name not in SPECS:
            known = ", ".join(TABLE_NAMES)
            report.issue(
                "unknown_table", name, None, "warning", 0, [],
                f"{name}: not a table of the contract; ignored (known tables: {known})",
            )  # fmt: skip
    works: dict[str, _Work] = {}
    for name, spec in SPECS.items():
        frame = raw.get(name)
        if _structure_ok(name, spec, frame, report, chunk):
            works[name] = _coerce(name, spec, frame, report, dates or DateRules())
    customers = works.get("customers")
    known = None
    if customers is not None:
        _check_customers(customers, limit, report)
        known = _Known.of(customers)
    for name, work in works.items():
        if name != "customers":
            _check_events(work, limit, known, report)
    if not chunk:
        _check_empty_columns(works, report)
    for name, work in works.items():
        if work.spec.required and not work.kept.any() and not chunk:
            report.issues.append(no_valid_rows_issue(name, len(work.raw), report.issues))
    return _result(works, report)


def no_valid_rows_issue(name: str, rows: int, issues: list[ContractIssue]) -> ContractIssue:
    """The ``no_valid_rows`` error of table ``name``, carrying the reasons its rows were set aside.

    A run stopped by an error shows the errors only (``predictor score`` prints the error, not
    the warnings), so the error quotes the warnings of its table: the user sees at once that
    every ``order_date`` is unreadable or every ``customer_id`` unknown.
    """
    reasons = [
        i.message.removesuffix("; set aside")
        for i in issues
        if i.table == name and i.severity == "warning" and i.count
    ]
    why = "; ".join(reasons) or "see the warnings"
    message = f"{name}: none of its {rows} rows passed the checks: {why}"
    return ContractIssue("no_valid_rows", name, None, "error", rows, [], message)


@dataclass
class RowCounts:
    """Rows read and kept per table, summed over the chunks of one input.

    ``validate(..., chunk=True)`` leaves ``no_valid_rows`` to the whole input: the chunked
    readers (``predictor score`` and training on large Parquet inputs) ``add`` every chunk's
    result and ask ``errors`` at the end, so a required table none of whose rows passed stops
    the run as it does when the input is read whole.
    """

    rows: dict[str, int] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)
    unknown: dict[str, list[Any]] = field(default_factory=dict)
    """Per event table, up to ``ID_HINT_SAMPLE`` distinct ids not found in customers."""
    filled: dict[str, dict[str, bool]] = field(default_factory=dict)
    """Per table, whether each column ``empty_column`` checks has a value in some chunk."""

    def add(self, result: ValidationResult) -> None:
        """Count the rows of one chunk's result, and keep a sample of its unknown ids."""
        if result.summary.empty:
            return
        for table, rows, kept in result.summary[["table", "rows", "kept"]].itertuples(index=False):
            self._count(table, int(rows), int(kept))
        for table, frame in [] if result.tables is None else result.tables.items():
            self._fill(table, frame)
        unknown = result.rejects[result.rejects["check"] == "unknown_customer"]
        for table, ids in unknown.groupby("table", sort=False)["customer_id"]:
            seen = self.unknown.setdefault(str(table), [])
            room = ID_HINT_SAMPLE - len(seen)
            if room > 0:
                seen.extend(ids.dropna().drop_duplicates().head(room).tolist())

    def add_table(self, table: str, rows: int, kept: pd.DataFrame) -> None:
        """Count one part of ``table``: ``rows`` read, of which ``kept`` (typed) passed."""
        self._count(table, rows, len(kept))
        self._fill(table, kept)

    def _count(self, table: str, rows: int, kept: int) -> None:
        self.rows[table] = self.rows.get(table, 0) + rows
        self.kept[table] = self.kept.get(table, 0) + kept

    def _fill(self, table: str, frame: pd.DataFrame) -> None:
        seen = self.filled.setdefault(table, {})
        for column in _may_be_empty(table, frame):
            seen[column] = seen.get(column, False) or bool(frame[column].notna().any())

    def with_id_hints(
        self, warnings: list[ContractIssue], customer_ids: Callable[[], pd.Series]
    ) -> list[ContractIssue]:
        """``warnings`` with the id-mismatch hint added to ``unknown_customer`` ones lacking it.

        A chunk holds the customers of one id range, so ``C001`` in customers and ``c001`` in
        orders fall in different chunks and no chunk can name the cause; this looks at the
        unknown ids of every chunk against every customer id (``customer_ids()``, read only
        when some warning needs it).
        """
        known: pd.Series | None = None
        out = []
        for issue in warnings:
            sample = self.unknown.get(issue.table)
            if issue.check == "unknown_customer" and sample and ID_HINT_LEAD not in issue.message:
                known = customer_ids() if known is None else known
                hint = _id_mismatch_hint(pd.Series(sample, dtype=object), known)
                if hint:
                    issue = replace(issue, message=_with_cause(issue.message, hint))
            out.append(issue)
        return out

    def empty_columns(self) -> list[ContractIssue]:
        """``empty_column`` for the columns empty in every kept row of every chunk.

        ``validate(..., chunk=True)`` leaves this check to the whole input too: a chunk's
        customers may lack a value that others have.
        """
        return [
            empty_column_issue(table, column, self.kept.get(table, 0))
            for table, columns in self.filled.items()
            for column, filled in columns.items()
            if not filled and self.kept.get(table, 0)
        ]

    def errors(self, warnings: list[ContractIssue]) -> list[ContractIssue]:
        """``no_valid_rows`` for each required table with rows but none kept (quoting ``warnings``)."""
        return [
            no_valid_rows_issue(name, self.rows[name], warnings)
            for name, spec in SPECS.items()
            if spec.required and self.rows.get(name, 0) and not self.kept.get(name, 0)
        ]


class BatchValidation:
    """``validate`` for an input read in batches: the customers at once, then event batches.

    Built from the raw customers table, typed and checked whole (duplicate ids need every
    row). ``events(name, raw, first_row)`` then types and checks one batch of an event table
    against those customers, as ``validate`` checks each row of the whole input, and returns
    the batch's rows that pass; messages and rejects number rows from ``first_row``, the
    batch's place in its table. ``issues`` gathers every batch's findings (a table's missing
    or duplicated columns once); ``counts`` holds what the whole-table checks need
    (``no_valid_rows``, ``empty_column``). Memory holds the customers and one batch: training
    reads an input larger than its sample this way, every row checked, no copy on disk.
    """

    def __init__(
        self,
        customers: pd.DataFrame,
        *,
        end_date: pd.Timestamp | dt.date | str,
        dates: DateRules | None = None,
    ) -> None:
        self._limit = day_end(_naive(pd.Timestamp(end_date)))
        self._dates = dates or DateRules()
        self.issues: list[ContractIssue] = []
        self.counts = RowCounts()
        self._usable: dict[str, bool] = {}
        """Per table, whether its columns passed the structural checks (first batch)."""
        self._known: _Known | None = None
        self.customers = customers.iloc[:0]
        """The typed customers that pass every check."""
        report = _Report()
        if self._usable_columns("customers", customers, report):
            work = _coerce("customers", SPECS["customers"], customers, report, self._dates)
            _check_customers(work, self._limit, report)
            self._known = _Known.of(work)
            self.customers = self._tally(work)
        self.issues.extend(report.issues)

    def events(self, name: str, raw: pd.DataFrame, first_row: int = 0) -> pd.DataFrame | None:
        """The typed rows of one batch of event table ``name`` that pass every check.

        None when the table's columns are unusable (a required one missing; reported once).
        """
        report = _Report(first_row)
        kept = None
        if self._usable_columns(name, raw, report):
            work = _coerce(name, SPECS[name], raw, report, self._dates)
            _check_events(work, self._limit, self._known, report)
            kept = self._tally(work)
        self.issues.extend(report.issues)
        return kept

    def _usable_columns(self, name: str, raw: pd.DataFrame, report: _Report) -> bool:
        if name not in self._usable:
            self._usable[name] = _structure_ok(name, SPECS[name], raw, report, chunk=True)
        return self._usable[name]

    def _tally(self, work: _Work) -> pd.DataFrame:
        kept = work.typed.loc[work.kept].reset_index(drop=True)
        self.counts.add_table(work.name, len(work.raw), kept)
        return kept


EMPTY_MEANS_SOMETHING: frozenset[tuple[str, str]] = frozenset(
    {("subscriptions", "end_date"), ("support_tickets", "resolved_at"), ("orders", "order_id")}
)
"""Optional columns where an empty cell has a meaning (still active, unresolved, no id)."""


def _check_empty_columns(works: dict[str, _Work], report: _Report) -> None:
    """Warn about an optional column that is empty in every row: it cannot inform a model.

    Nothing is set aside (the count is 0); training leaves such a column out of the models.
    Only the rows kept count: values that could not be read set their rows aside (and are
    reported so), they are not empty.
    """
    for name, work in works.items():
        kept = work.kept
        rows = int(kept.sum())
        if not rows:
            continue
        for column in _may_be_empty(name, work.typed):
            if not work.typed[column].notna().to_numpy()[kept].any():
                report.issues.append(empty_column_issue(name, column, rows))


def _may_be_empty(name: str, frame: pd.DataFrame) -> list[str]:
    """The columns of table ``name`` that ``empty_column`` checks: optional, no meaning empty."""
    required = SPECS[name].required_columns
    return [
        c for c in frame.columns if c not in required and (name, c) not in EMPTY_MEANS_SOMETHING
    ]


def empty_column_issue(name: str, column: str, rows: int) -> ContractIssue:
    """The ``empty_column`` warning of ``name.column``, empty in all its ``rows``."""
    message = (
        f"{name}.{column}: empty in all {rows:,} rows (empty means missing); it carries no "
        "information and is left out of the models"
    )
    return ContractIssue("empty_column", name, column, "warning", 0, [], message)


ROW_NUMBERS = "predictor_row_numbers"
"""``DataFrame.attrs`` key: a part's rows' numbers in the table as read whole (a chunk's rows
come from all over the file), so that messages and rejects name the rows of the file."""

PARTIAL_COLUMNS = "predictor_partial_columns"
"""``DataFrame.attrs`` key under which a folder reader lists, per column (contract name), the
part files that lack it, and the number of part files under ``"__parts__"``."""

UNREAD_COLUMNS = "predictor_unread_columns"
"""``DataFrame.attrs`` key under which a file reader lists the columns it left unread."""


def _note_unread_columns(name: str, frame: pd.DataFrame, report: _Report) -> None:
    """Name the file columns the reader skipped: not in the contract, so no model uses them."""
    unread = list(frame.attrs.get(UNREAD_COLUMNS, []))
    if unread:
        listed = ", ".join(unread)
        report.issue(
            "unread_column", name, None, "warning", 0, unread[:MAX_EXAMPLES],
            f"{name}: {len(unread)} column(s) not in the contract, not read: {listed} "
            "(if one is a contract column under another name, map it in data.columns)",
        )  # fmt: skip


def _note_partial_columns(name: str, frame: pd.DataFrame, report: _Report) -> None:
    """Name the columns some part files lack: empty in those files' rows, not missing."""
    partial = dict(frame.attrs.get(PARTIAL_COLUMNS, {}))
    total = partial.pop("__parts__", 0)
    for column, parts in partial.items():
        if column not in frame.columns:
            continue
        shown = format_examples(list(parts[:MAX_EXAMPLES]), len(parts), noun="files")
        report.issue(
            "partial_column", name, column, "warning", 0, list(parts[:MAX_EXAMPLES]),
            f"{name}.{column}: absent from {len(parts)} of {total} part files ({shown}); "
            "empty in their rows",
        )  # fmt: skip


def _structure_ok(
    name: str, spec: TableSpec, frame: pd.DataFrame | None, report: _Report, chunk: bool = False
) -> bool:
    """Table-level checks: present, not empty (unless a chunk), unique names, required columns."""
    if frame is None:
        if spec.required:
            report.issue(
                "missing_table", name, None, "error", 0, [],
                f"{name}: required table is missing (give {name}.csv or {name}.parquet)",
            )  # fmt: skip
        return False
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{name}: expected a pandas DataFrame, got {type(frame).__name__}")
    if len(frame) == 0 and not chunk:
        if spec.required:
            report.issue("empty_table", name, None, "error", 0, [], f"{name}: table has no rows")
        else:
            report.issue(
                "empty_table", name, None, "warning", 0, [],
                f"{name}: table has no rows; treated as absent",
            )  # fmt: skip
        return False
    _note_unread_columns(name, frame, report)
    _note_partial_columns(name, frame, report)
    columns = [str(c) for c in frame.columns]
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    for column in duplicated:
        report.issue(
            "duplicate_column", name, column, "error", columns.count(column), [],
            f"{name}.{column}: {columns.count(column)} columns have this name "
            "(check the column mapping)",
        )  # fmt: skip
    available = ", ".join(columns) or "none"
    missing = [c for c in spec.required_columns if c not in columns]
    for column in missing:
        report.issue(
            "missing_column", name, column, "error", 0, [],
            f"{name}.{column}: required column is missing (available columns: {available})",
        )  # fmt: skip
    return not duplicated and not missing


def _coerce(
    name: str, spec: TableSpec, frame: pd.DataFrame, report: _Report, dates: DateRules
) -> _Work:
    """Type every column and set aside rows whose required or typed values are unusable."""
    raw = frame.reset_index(drop=True)
    raw.columns = [str(c) for c in raw.columns]
    typed = raw.copy(deep=False)  # every checked column is replaced; the others are shared
    ids = _to_id(raw["customer_id"])
    typed["customer_id"] = ids
    work = _Work(name, spec, raw, typed, np.zeros(len(raw), dtype=bool), ids)
    is_customers = name == "customers"
    report.set_aside(
        work, ids.isna(), check="missing_value", column="customer_id",
        problem="have no customer_id", reason="customer_id is empty",
    )  # fmt: skip
    bad: dict[str, np.ndarray] = {}
    failed: set[str] = set()
    for column in raw.columns:
        if column == "customer_id":
            continue
        if is_customers and column not in spec.columns:
            typed[column] = _attribute_checked(work, column, report, dates)
            continue
        try:
            values, unreadable = _coerce_column(spec, column, raw[column], is_customers, dates)
        except DateFormatError as exc:
            report.issue(
                "date_format", name, column, "error", exc.count, exc.rows, str(exc)
            )  # fmt: skip
            values, unreadable = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]"), None
            failed.add(column)
        typed[column] = values
        if unreadable is not None:
            bad[column] = unreadable
    for column, unreadable in bad.items():
        check, what, single = _unreadable_kind(spec, column)
        hint = None
        if check == "unparseable_number":
            hint = lambda rows, text=raw[column]: _number_hint(text.iloc[rows])  # noqa: E731
        elif check == "unparseable_date":
            hint = lambda rows, text=raw[column]: _date_hint(text.iloc[rows])  # noqa: E731
        report.set_aside(
            work, unreadable, check=check, column=column, problem=f"have {what}",
            reason=_quoting(f"{column} ", raw[column], f" {single}", quote=True),
            shown=raw[column],
            reject_customers=is_customers and column == "signup_date",
            hint=hint,
        )  # fmt: skip
    for column in spec.required_columns:
        if column == "customer_id" or column in failed:
            continue
        report.set_aside(
            work, typed[column].isna(), check="missing_value", column=column,
            problem=f"have no {column}", reason=f"{column} is empty",
            reject_customers=is_customers and column == "signup_date",
        )  # fmt: skip
    work.typed = typed
    return work


def _date_hint(text: pd.Series) -> str:
    """Name the likely cause of unreadable dates: a placeholder year, or numbers for dates."""
    return _year_hint(text) or _number_date_hint(text)


NUMBER_DATES: tuple[tuple[float, float, str, str], ...] = (
    (20_000, 80_000, "D", "spreadsheet day numbers (Excel serial dates)"),
    (1e8, 1e10, "s", "Unix times in seconds"),
    (1e11, 1e13, "ms", "Unix times in milliseconds"),
    (1e14, 1e16, "us", "Unix times in microseconds"),
)
"""Numbers that stand for dates, as (low, high, unit, what the hint calls them)."""


def _number_date_hint(text: pd.Series) -> str:
    """Name numbers written for dates (Excel serials, Unix times) when they are most values.

    The contract reads written dates only: a number's unit and epoch cannot be told for
    sure (Excel counts days from 1899-12-30, or from 1904 on old Macs), so nothing is
    guessed; the hint shows what one value would be and says what to export.
    """
    if pd.api.types.is_datetime64_any_dtype(text.dtype):
        return ""
    sample = pd.Series(pd.unique(text.dropna().astype("str").str.strip())).head(ID_HINT_SAMPLE)
    numbers = pd.to_numeric(sample, errors="coerce").dropna()
    if sample.empty or len(numbers) * 2 < len(sample):
        return ""
    for low, high, unit, what in NUMBER_DATES:
        inside = numbers[numbers.between(low, high)]
        if len(inside) * 2 < len(sample):
            continue
        start = pd.Timestamp("1899-12-30") if unit == "D" else pd.Timestamp("1970-01-01")
        when = start + pd.to_timedelta(float(inside.iloc[0]), unit=unit)
        return (
            f"they look like {what}: {sample[inside.index[0]]!r} would be "
            f"{when:%Y-%m-%d %H:%M}; export the column as dates (2024-06-30 or "
            "2024-06-30 14:05:00)"
        )
    return ""


def _year_hint(text: pd.Series) -> str:
    """Name years a date cannot hold (placeholders such as ``0001-01-01``) as the cause.

    Dates are held to the nanosecond, which spans the years 1678 to 2261; a date outside
    them is unreadable here even though it is well written.
    """
    if pd.api.types.is_datetime64_any_dtype(text.dtype):
        return ""
    year = pd.to_numeric(
        text.astype("str").str.extract(r"^\s*(\d{4})[-/]", expand=False), errors="coerce"
    )
    outside = (year < 1678) | (year > 2261)
    if not len(text) or outside.mean() < 0.5:
        return ""
    return (
        "they are written as dates but fall outside the years 1678-2261 that a date can hold "
        "here: export an empty value instead of a placeholder date"
    )


def _unreadable_kind(spec: TableSpec, column: str) -> tuple[str, str, str]:
    """Return the check name, the message's noun phrase and the reason's phrase for ``column``."""
    if column in spec.date_columns:
        return "unparseable_date", "unparseable dates", "is not a readable date"
    if column in spec.bool_columns:
        return "unparseable_bool", "values that are not true/false", "is not true/false"
    return "unparseable_number", "values that are not numbers", "is not a number"


def _coerce_column(
    spec: TableSpec, column: str, values: pd.Series, is_customers: bool, dates: DateRules
) -> tuple[pd.Series, np.ndarray | None]:
    """Typed values of one column, and which present values could not be read (if typed)."""
    if column in ID_COLUMNS:
        return _to_id(values), None
    if column in spec.date_columns:
        late = (spec.name, column) in EMPTY_MEANS_SOMETHING  # 9999-12-31: not ended (yet)
        return _to_datetime(values, dates, f"{spec.name}.{column}", late_is_missing=late)
    if column in spec.numeric_columns:
        return _to_number(values)
    if column in spec.bool_columns:
        return _to_bool(values)
    if column in spec.columns:
        return _to_text(values), None
    if is_customers:
        return _to_attribute(values, dates)[0], None
    return values, None


def _check_customers(work: _Work, limit: pd.Timestamp, report: _Report) -> None:
    """Reject customers who sign up after the data end; report duplicate ids as an error."""
    signup = work.typed["signup_date"]
    report.set_aside(
        work, (signup > limit).to_numpy(), check="after_end_date", column="signup_date",
        problem=f"signed up after the data end {limit.date()}", shown=signup,
        reason=_quoting("signup_date ", signup, f" is after the data end {limit.date()}"),
        reject_customers=True,
    )  # fmt: skip
    _set_aside_copies(work, report)
    ids = work.ids[work.kept]
    dup_rows = ids.duplicated(keep=False) & ids.notna()
    if dup_rows.any():
        dup_ids = pd.unique(ids[dup_rows])
        shown = [_show(v) for v in dup_ids[:MAX_EXAMPLES]]
        report.issue(
            "duplicate_customer_id", "customers", "customer_id", "error", len(dup_ids),
            [str(v) for v in dup_ids[:MAX_EXAMPLES]],
            f"customers.customer_id: {_plural(len(dup_ids), 'id')} "
            f"{_agree('appear', len(dup_ids))} more than once "
            f"({format_examples(shown, len(dup_ids), noun='ids')}; {int(dup_rows.sum())} rows); "
            "customer ids must be unique",
        )  # fmt: skip


def _set_aside_copies(work: _Work, report: _Report) -> None:
    """Set aside customers rows that repeat an earlier row exactly (a unioned export).

    The first copy is kept, so the customer is scored once; the copies go to the rejects
    file. Rows that share an id but differ stay, and are the ``duplicate_customer_id`` error.
    """
    ids = work.ids
    same_id = (ids.duplicated(keep=False) & ids.notna()).to_numpy()
    if not same_id.any():
        return
    copies = np.zeros(len(ids), dtype=bool)
    copies[same_id] = work.raw[same_id].duplicated(keep="first").to_numpy()
    report.set_aside(
        work, copies, check="duplicate_row", column="customer_id",
        problem="repeat an earlier row exactly", shown=ids,
        reason="an exact copy of an earlier customers row (the first copy is kept)",
    )  # fmt: skip


def _set_aside_out_of_range(
    work: _Work, report: _Report, column: str, low: int, high: int, plural: str
) -> None:
    """Set aside the rows whose ``column`` is outside ``low..high`` (``plural``: its noun)."""
    value, raw, span = work.typed[column], work.raw[column], f"{low}..{high}"
    report.set_aside(
        work, (value < low) | (value > high), check="out_of_range", column=column,
        problem=f"have {plural} outside {span}", shown=raw,
        reason=_quoting(f"{column} ", raw, f" is outside {span}"),
    )  # fmt: skip


def _check_events(work: _Work, limit: pd.Timestamp, known: _Known | None, report: _Report) -> None:
    """Event tables: value ranges, date order, data end, and the link to customers."""
    typed, name = work.typed, work.name
    if name == "support_tickets" and "csat" in typed:
        _set_aside_out_of_range(work, report, "csat", 1, 5, "csat")
    if name == "nps":
        _set_aside_out_of_range(work, report, "score", 0, 10, "scores")
    if name == "subscriptions" and "seats" in typed:
        seats, raw = typed["seats"], work.raw["seats"]
        report.set_aside(
            work, seats < 0, check="out_of_range", column="seats",
            problem="have negative seats", shown=raw,
            reason=_quoting("seats ", raw, " is negative"),
        )  # fmt: skip
    if name == "support_tickets" and "resolved_at" in typed:
        opened, resolved = typed["opened_at"], typed["resolved_at"]
        report.set_aside(
            work, resolved < opened, check="date_order", column="resolved_at",
            problem="are resolved before they were opened", shown=resolved,
            reason=_comparing("resolved_at", resolved, "is before", "opened_at", opened),
        )  # fmt: skip
    if name == "subscriptions" and "end_date" in typed:
        start, end = typed["start_date"], typed["end_date"]
        report.set_aside(
            work, end.dt.normalize() < start.dt.normalize(), check="date_order",
            column="end_date", problem="end before they start", shown=end,
            reason=_comparing("end_date", end, "is before", "start_date", start),
        )  # fmt: skip
    when_col = work.spec.event_date
    when = typed[when_col]
    report.set_aside(
        work, when.to_numpy() > np.datetime64(limit), check="after_end_date", column=when_col,
        problem=f"are dated after the data end {limit.date()}", shown=when,
        reason=_quoting(f"{when_col} ", when, f" is after the data end {limit.date()}"),
    )  # fmt: skip
    if known is not None:
        _check_links(work, known, report)


@dataclass(frozen=True)
class _Known:
    """The accepted customers as event rows are matched to them (built once per validation)."""

    ids: pd.Series
    signup_days: np.ndarray
    """Signup day (midnight) per id, then one ``NaT`` that position -1 (no match) picks."""
    aside: pd.Series
    index: KeyIndex
    """The ids made ready for look-ups, once for every table (and every batch) checked."""

    @classmethod
    def of(cls, customers: _Work) -> _Known:
        kept = customers.typed.loc[customers.kept, ["customer_id", "signup_date"]]
        kept = kept.drop_duplicates("customer_id")
        days = kept["signup_date"].dt.normalize().to_numpy(dtype="datetime64[ns]")
        days = np.append(days, np.datetime64("NaT", "ns"))
        ids = kept["customer_id"]
        return cls(ids, days, customers.ids[customers.aside].dropna(), KeyIndex(ids))

    @cached_property
    def loose(self) -> pd.Series:
        """``_loose_ids`` of the ids, made when a hint first needs them."""
        return _loose_ids(self.ids)


def _check_links(work: _Work, customers: _Known, report: _Report) -> None:
    """Check that events belong to a known, accepted customer and do not precede the signup."""
    ids = work.ids
    position = customers.index.positions(ids)
    known = position >= 0
    aside = customers.aside
    rejected = (
        ~known & (_positions(ids, aside) >= 0) if len(aside) else np.zeros(len(ids), dtype=bool)
    )  # no look-up of every event row when no customer was set aside
    report.set_aside(
        work, rejected, check="rejected_customer", column="customer_id",
        problem="belong to rejected customers", shown=ids,
        reason=_quoting("customer ", ids, " was rejected (see customers)"),
    )  # fmt: skip
    report.set_aside(
        work, ~known, check="unknown_customer",
        column="customer_id", problem="belong to customers not in customers", shown=ids,
        reason=_quoting("customer ", ids, " is not in customers"),
        hint=lambda rows: _unknown_ids_hint(ids.iloc[rows], customers.ids, customers.loose),
    )  # fmt: skip
    signup = pd.Series(customers.signup_days[position], index=ids.index)  # -1: the NaT
    when_col = work.spec.event_date
    when = work.typed[when_col]
    report.set_aside(
        work, _day_before(when, signup), check="before_signup",
        column=when_col, problem="are dated before the customer's signup day", shown=when,
        reason=_comparing(when_col, when, "is before the signup day", "of", signup),
        hint=lambda rows: _offset_hint(
            work.raw[when_col].iloc[rows], when.iloc[rows], signup.iloc[rows]
        ),
    )  # fmt: skip


def _offset_hint(raw: pd.Series, when: pd.Series, signup: pd.Series) -> str:
    """Name a time zone mismatch as the likely cause of events dated before the signup.

    Times written with a UTC offset are converted to ``data.timezone`` (UTC unless set): an
    order placed at 00:30+02:00 on the signup day lands on the day before. When most of the
    rows carry an offset and none is more than a day early, say so.
    """
    if getattr(raw.dtype, "tz", None) is not None:
        zoned = 1.0
    elif raw.dtype == object or pd.api.types.is_string_dtype(raw.dtype):
        zoned = float(has_zone(raw.astype("str")).mean()) if len(raw) else 0.0
    else:
        return ""
    early = signup.to_numpy(dtype="datetime64[ns]") - when.to_numpy(dtype="datetime64[ns]")
    if zoned < 0.5 or (early > np.timedelta64(1, "D")).any():
        return ""
    return (
        "these times carry a UTC offset and fall less than a day before the signup once "
        "converted to data.timezone: if the offsets are the business's local time, set "
        "data.timezone to its zone (e.g. Europe/Berlin)"
    )


NUMBER_LOOKS: tuple[tuple[str, str], ...] = (
    (r"^[-+]?\d+,\d{1,2}$", "a decimal comma ('12,50')"),
    (r"^[-+]?\d{1,3}(?:[,.' ]\d{3})+(?:[.,]\d+)?$", "thousands separators ('1,234.50')"),
    (r"[$€£¥₹]|^[-+]?\d[\d.,]*\s*[A-Za-z]{3}$|^[A-Za-z]{3}\s*[-+]?\d", "a currency ('$12.00')"),
    (r"^\(\s*\d[\d.,]*\s*\)$", "accounting negatives ('(5.00)')"),
)
"""Ways spreadsheets and BI tools format numbers, as (pattern, what the hint calls it)."""


def _number_hint(text: pd.Series) -> str:
    """Name the number formatting behind unreadable numbers, when one explains most of them.

    The contract reads plain numbers only (``1234.5``, ``-5``): ``1,234`` is 1234 in one
    locale and 1.234 in another, so nothing is guessed; the hint says what to export.
    """
    sample = pd.Series(pd.unique(text.dropna().astype("str").str.strip())).head(ID_HINT_SAMPLE)
    if sample.empty:
        return ""
    for pattern, what in NUMBER_LOOKS:
        if sample.str.contains(pattern, regex=True).sum() * 2 >= len(sample):
            return f"they look like numbers written with {what}: export plain numbers (1234.5)"
    return ""


ID_HINT_SAMPLE = 1000
"""Unknown ids looked at for a likely cause (enough to tell a systematic mismatch)."""


def _id_key(ids: pd.Series) -> pd.Series:
    """Ids compared loosely: lower case, leading zeros dropped (``'C007'``, ``'c7'`` alike)."""
    text = ids.astype("string").str.lower()
    return text.str.replace(r"^([^0-9]*)0+(?=\d)", r"\1", regex=True)


def _loose_ids(known: pd.Series) -> pd.Series:
    """Each id of ``known`` under its loose key (``_id_key``), the first of ids sharing one."""
    loose = pd.Series(known.to_numpy(), index=_id_key(known).to_numpy())
    return loose[~loose.index.duplicated()]


def _id_mismatch_hint(unknown: pd.Series, known: pd.Series, loose: pd.Series | None = None) -> str:
    """Why event ids miss customers when it is systematic: case or leading zeros differ.

    Exports from two systems often disagree on one of these (``00123`` kept as text in the
    CRM, ``123`` as a number in the order system; ``C001`` vs ``c001``). Ids are matched
    exactly (the contract), so the rows are set aside; this names the likely cause. Empty
    when fewer than half of a sample of the unknown ids would match loosely. ``loose``:
    ``_loose_ids(known)``, when made once for many batches.
    """
    sample = unknown.dropna().drop_duplicates().head(ID_HINT_SAMPLE)
    if sample.empty or known.empty:
        return ""
    loose = _loose_ids(known) if loose is None else loose
    keys = _id_key(sample)
    hits = keys.isin(loose.index)
    if hits.sum() * 2 < len(sample):
        return ""
    first = hits.to_numpy().argmax()
    mine, theirs = sample.iloc[first], loose[keys.iloc[first]]
    return (
        f"{ID_HINT_LEAD} ({_show(mine)} here, {_show(theirs)} in customers): export "
        "customer_id as the same text in every table"
    )


def _unknown_ids_hint(unknown: pd.Series, known: pd.Series, loose: pd.Series | None = None) -> str:
    """Why events miss customers when it is systematic, else how many customers they are of.

    A customers export that misses some customers of the order system leaves them out of
    the scores and of the rejects (which list the customers table's rows): the count says
    how many are lost. Ids that differ only in case or leading zeros get the id-mismatch hint.
    """
    mismatch = _id_mismatch_hint(unknown, known, loose)
    if mismatch:
        return mismatch
    return f"{unknown.nunique()} customer id(s) absent from customers, so not scored"


ID_HINT_LEAD = "they match customers when letter case and leading zeros are ignored"
"""The start of the id-mismatch hint (``_id_mismatch_hint``)."""


def _with_cause(message: str, cause: str) -> str:
    """``message`` with ``; cause`` added before its closing ``; set aside`` (if any)."""
    action = "; set aside"
    if message.endswith(action):
        return f"{message.removesuffix(action)}; {cause}{action}"
    return f"{message}; {cause}"


def _day_before(when: pd.Series, day: pd.Series) -> np.ndarray:
    """Whether ``when`` falls on an earlier calendar day than ``day``, a midnight (NaT: False).

    Before a midnight is before its day, so no ``dt.normalize`` of ``when`` (a second per 40
    million rows; issue 19).
    """
    return when.to_numpy(dtype="datetime64[ns]") < day.to_numpy(dtype="datetime64[ns]")


def _positions(values: pd.Series, keys: pd.Series) -> np.ndarray:
    """Position of each value in ``keys`` (-1 when absent or missing), via a hash join in Arrow."""
    return positions(keys, values)


def _result(works: dict[str, _Work], report: _Report) -> ValidationResult:
    """Assemble the result: clean tables when there is no error, issues errors first."""
    order = {name: i for i, name in enumerate(TABLE_NAMES)}
    issues = sorted(
        report.issues, key=lambda i: (i.severity != "error", order.get(i.table, len(order)))
    )
    has_errors = any(i.severity == "error" for i in issues)
    tables = None
    if not has_errors:
        tables = Tables(
            **{
                name: work.typed.loc[work.kept].reset_index(drop=True)
                for name, work in works.items()
            }
        )
    rejects = _concat(report.rejects, REJECT_COLUMNS)
    rejects["row"] = rejects["row"].astype("int64")
    rejects = rejects.sort_values(
        ["table", "row"], key=lambda c: c.map(order) if c.name == "table" else c, kind="stable"
    ).reset_index(drop=True)
    rejected_customers = _concat(report.rejected, ("customer_id", "reason"))
    summary = pd.DataFrame(
        {
            "table": list(works),
            "rows": [len(w.raw) for w in works.values()],
            "kept": [int(w.kept.sum()) for w in works.values()],
            "set_aside": [int(w.aside.sum()) for w in works.values()],
        }
    )
    return ValidationResult(tables, issues, rejects, rejected_customers, summary)


def _concat(pieces: list[pd.DataFrame], columns: tuple[str, ...]) -> pd.DataFrame:
    if not pieces:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "row" else "str") for c in columns})
    out = pd.concat(pieces, ignore_index=True)
    for column in columns:
        if column != "row":
            out[column] = out[column].astype("str")
    return out[list(columns)]


# -- coercion ------------------------------------------------------------------------------


def _text(values: pd.Series) -> pd.Series:
    """Values as stripped strings; real missing values stay missing."""
    if not pd.api.types.is_string_dtype(values) or values.dtype == object:
        values = values.astype("str")
    if not _may_need_strip(values):
        return values.copy()  # stripping 40 million clean ids took seconds (issue 19)
    return values.str.strip()


_EDGE_BYTES = np.zeros(256, dtype=bool)
_EDGE_BYTES[[*range(0x09, 0x0E), *range(0x1C, 0x21), *range(0x80, 0x100)]] = True
"""First or last UTF-8 bytes of a value that stripping might remove: ASCII whitespace and
separators, and any byte of a multi-byte character (Unicode spaces are multi-byte)."""


def _may_need_strip(values: pd.Series) -> bool:
    """False only when no value starts or ends with a byte ``str.strip`` could remove.

    Reads the first and last byte of every value from the Arrow buffers, without building a
    stripped copy; ``True`` (strip) whenever the storage is not Arrow text. A chunk none of
    whose bytes is whitespace, a separator or non-ASCII (the usual ids) is passed after one
    look at its smallest and largest byte.
    """
    data = arrow_strings(values)
    if data is None:
        return True
    for chunk in data.chunks:
        if chunk.type not in (pa.string(), pa.large_string()):
            return True  # e.g. string views: other buffers
        if len(chunk) == chunk.null_count:
            continue
        offsets, chars = string_buffers(chunk)
        body = chars[int(offsets[0]) : int(offsets[-1])]
        if not len(body) or (body.min() > 0x20 and body.max() < 0x80):
            continue  # no edge byte anywhere (ids): the min and max are 10x cheaper than below
        starts, ends = offsets[:-1], offsets[1:]
        filled = ends > starts
        if not filled.all():  # empty values have no edge byte; else no copy of the offsets
            if not filled.any():
                continue
            starts, ends = starts[filled], ends[filled]
        if _EDGE_BYTES[chars[starts]].any() or _EDGE_BYTES[chars[ends - 1]].any():
            return True
    return False


def _nullify(text: pd.Series) -> pd.Series:
    """Replace the missing-value tokens (empty, NA, NULL, ...) with a real missing value.

    Only values as short as a token are lower-cased and compared: ids are rarely that short,
    and lower-casing millions of them took a tenth of validation (issue 19).
    """
    short = _char_lengths_at_most(text, _LONGEST_NULL_TOKEN)
    if not short.any():
        return text.copy()
    missing = np.zeros(len(text), dtype=bool)
    missing[short] = text[short].str.lower().isin(NULL_TOKENS).to_numpy(dtype=bool)
    return text.where(~missing)


def _char_lengths_at_most(text: pd.Series, limit: int) -> np.ndarray:
    """Which values have at most ``limit`` characters (missing values: False).

    Arrow's ``utf8_length`` straight on the column: pandas' ``str.len`` builds a nullable
    integer column first and was ten times slower on 40 million ids (issue 19).
    """
    data = arrow_strings(text)
    if data is None:
        return (text.str.len() <= limit).to_numpy(dtype=bool, na_value=False)
    parts = [_ascii_lengths_at_most(chunk, limit) for chunk in data.chunks]
    if all(part is not None for part in parts):
        return np.concatenate([np.zeros(0, dtype=bool), *parts])
    short = pc.less_equal(pc.utf8_length(data), limit).fill_null(False)
    return np.asarray(short.to_numpy(zero_copy_only=False), dtype=bool)


def _ascii_lengths_at_most(chunk: pa.Array, limit: int) -> np.ndarray | None:
    """``_char_lengths_at_most`` of a chunk from its offsets when its bytes are all ASCII.

    A character is then one byte, and the offsets give every length (4x faster than
    ``utf8_length`` on ids). None for a chunk with missing values or other bytes.
    """
    if chunk.null_count or chunk.type not in (pa.string(), pa.large_string()):
        return None
    if not len(chunk):
        return np.zeros(0, dtype=bool)
    offsets, chars = string_buffers(chunk)
    body = chars[int(offsets[0]) : int(offsets[-1])]
    if len(body) and body.max() >= 0x80:
        return None
    return np.diff(offsets) <= limit


def _to_text(values: pd.Series) -> pd.Series:
    """Type a text column: stripped strings, empty cells missing."""
    text = _text(values)
    return text.where(text != "")


def _to_id(values: pd.Series) -> pd.Series:
    """Ids as strings: stripped, missing tokens missing, integral numbers without ``.0``."""
    if pd.api.types.is_bool_dtype(values):
        return _nullify(_text(values))
    if pd.api.types.is_integer_dtype(values):  # exact: 64-bit ids pass 2**53 (Steam, Snowflake)
        return values.astype("str")
    if pd.api.types.is_numeric_dtype(values):
        numbers = values.astype("float64")
        integral = np.isfinite(numbers) & (numbers == np.floor(numbers)) & (numbers.abs() < 2**53)
        out = numbers.astype("str")
        out[integral] = numbers[integral].astype("int64").astype("str")
        return out.where(numbers.notna())
    text = _nullify(_text(values))
    if not _any_contains(text, "."):
        return text  # the regex below is slow on millions of ids; most have no dot
    return text.str.replace(r"^(-?\d+)\.0+$", r"\1", regex=True)


def _any_contains(text: pd.Series, part: str) -> bool:
    """Whether any value contains ``part`` (Arrow's kernel straight on Arrow-backed text).

    A one-byte ``part`` (an ASCII character) is looked for in the values' bytes directly: in
    UTF-8 such a byte is always that character, and the scan is several times faster than
    the kernel on 40 million ids (issue 19).
    """
    data = arrow_strings(text)
    if data is None:
        return bool(text.str.contains(part, regex=False).any())
    byte = part.encode()
    if len(byte) == 1 and byte.isascii() and data.null_count == 0:
        return any(_has_byte(chunk, byte[0]) for chunk in data.chunks)
    return bool(pc.any(pc.match_substring(data, part)).as_py())


def _has_byte(chunk: pa.Array, byte: int) -> bool:
    """Whether any value of a string chunk (no missing values) holds ``byte``."""
    if not len(chunk):
        return False
    offsets, chars = string_buffers(chunk)
    return bool((chars[int(offsets[0]) : int(offsets[-1])] == byte).any())


def _to_datetime(
    values: pd.Series,
    rules: DateRules | None = None,
    where: str = "date",
    *,
    late_is_missing: bool = False,
) -> tuple[pd.Series, np.ndarray]:
    """Dates as ``datetime64[ns]`` tz-naive business-local, and which present values failed.

    See ``contract.dates.parse_dates``: one format per column, zoned times converted to
    ``rules.timezone``. Dates outside the ``datetime64[ns]`` range count as unreadable, but
    with ``late_is_missing`` those after it are missing (an end date of ``9999-12-31``).
    """
    rules = rules or DateRules()
    if not pd.api.types.is_datetime64_any_dtype(values):
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            values = _to_id(values)
        values = _nullify(_text(values))
    table, _, column = where.partition(".")
    return parse_dates(
        values,
        timezone=rules.timezone,
        fmt=rules.format_of(table, column),
        where=where,
        late_is_missing=late_is_missing,
    )


def _to_number(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Numbers as ``float64`` and which present values are not (finite) numbers."""
    if pd.api.types.is_numeric_dtype(values):
        numbers = values.astype("float64")
        present = numbers.notna().to_numpy()
    else:
        text = _nullify(_text(values))
        present = text.notna().to_numpy()
        numbers = _parse_numbers(text)
    numbers = numbers.where(np.isfinite(numbers))
    return numbers, present & numbers.isna().to_numpy()


def _parse_numbers(text: pd.Series) -> pd.Series:
    """Parse number strings: Arrow's fast cast when all are clean, else ``pd.to_numeric``."""
    try:
        cast = pc.cast(pa.array(text.array), pa.float64())
        return pd.Series(cast.to_numpy(zero_copy_only=False), index=text.index, dtype="float64")
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return pd.to_numeric(text, errors="coerce").astype("float64")


def _to_bool(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Booleans from true/false/1/0/yes/no (any case); missing means false."""
    if pd.api.types.is_bool_dtype(values):
        flags = values.astype("boolean")
        return flags.fillna(False).astype(bool), np.zeros(len(values), dtype=bool)
    lower = _nullify(_text(values)).str.lower()
    is_true = lower.isin(TRUE_TOKENS).to_numpy()
    is_false = lower.isin(FALSE_TOKENS).to_numpy()
    bad = lower.notna().to_numpy() & ~is_true & ~is_false
    return pd.Series(is_true, index=values.index, dtype=bool), bad


NUMERIC_ATTRIBUTE_SHARE = 0.95
"""Share of an attribute's values that must be numbers for the others to be read as missing."""


def _attribute_checked(work: _Work, column: str, report: _Report, dates: DateRules) -> pd.Series:
    """Type a customer attribute (``_to_attribute``), warning about the values read as missing.

    A column of numbers with a few odd values (``1,019.50``, ``n/a?``) was typed as text
    whole, and its hundreds of distinct numbers became capped categories, moving every
    customer's scores. Nothing is set aside: the attribute is optional, the customer stays.
    """
    raw = work.raw[column]
    values, odd = _to_attribute(raw, dates)
    if odd is not None and odd.any():
        rows = np.flatnonzero(odd)
        head = rows[:MAX_EXAMPLES]
        shown = report.numbered(work.name, head).tolist()
        detail = format_examples(shown, len(rows))
        detail += ": " + ", ".join(_show(v) for v in raw.iloc[head])
        cause = _number_hint(raw.iloc[rows])
        verb = "is not a number" if len(rows) == 1 else "are not numbers"
        message = (
            f"{work.name}.{column}: {_plural(len(rows), 'value')} of a column of numbers {verb} "
            f"({detail}){f'; {cause}' if cause else ''}; read as missing"
        )
        report.issue("unparseable_number", work.name, column, "warning", 0, shown, message)
    return values


def _to_attribute(
    values: pd.Series, dates: DateRules | None = None
) -> tuple[pd.Series, np.ndarray | None]:
    """Type a customer attribute: numbers as float64, true/false as bool, anything else as text.

    A column whose values are numbers but for a few (at most ``1 -
    NUMERIC_ATTRIBUTE_SHARE`` of the rows with a value) is numbers, those few missing: the
    second item marks them (``None`` when no value was dropped).
    """
    if pd.api.types.is_bool_dtype(values):
        return values, None
    if pd.api.types.is_datetime64_any_dtype(values):
        return _to_datetime(values, dates)[0], None
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("float64"), None
    text = _to_text(values)
    # decided on the distinct values (a handful per attribute, a million customer rows)
    codes, distinct = pd.factorize(text)
    unique = pd.Series(distinct, dtype=text.dtype)
    lower = unique.str.lower()
    present = ~lower.isin(NULL_TOKENS)
    if not present.any():
        return text, None
    numbers = pd.to_numeric(unique.where(present), errors="coerce").astype("float64")
    leading_zero = unique.str.match(r"^-?0\d").fillna(False)
    if not leading_zero.any():
        if numbers[present].notna().all():
            return _spread(numbers.to_numpy(), codes, np.nan, text), None
        odd = _odd_numbers(codes, (present & numbers.isna()).to_numpy(), present.to_numpy())
        if odd is not None:
            return _spread(numbers.to_numpy(), codes, np.nan, text), odd
    if (codes >= 0).all() and lower.isin(["true", "false"]).all():
        return _spread((lower == "true").to_numpy(), codes, False, text), None
    return text, None


def _odd_numbers(codes: np.ndarray, odd: np.ndarray, present: np.ndarray) -> np.ndarray | None:
    """Rows whose distinct value (``codes``) is ``odd``, or ``None`` when they are too many.

    Few enough: at most ``1 - NUMERIC_ATTRIBUTE_SHARE`` of the rows with a value
    (``present``), so that the column is numbers with a few odd cells.
    """
    valued = codes >= 0
    rows_odd = valued & odd[np.maximum(codes, 0)]
    rows_present = valued & present[np.maximum(codes, 0)]
    if rows_odd.sum() > (1 - NUMERIC_ATTRIBUTE_SHARE) * rows_present.sum():
        return None
    return rows_odd


def _spread(values: np.ndarray, codes: np.ndarray, missing: Any, like: pd.Series) -> pd.Series:
    """Per-row values from per-distinct-value ``values`` (``codes`` -1: ``missing``)."""
    out = np.where(codes >= 0, values[np.maximum(codes, 0)], missing)
    return pd.Series(out.astype(values.dtype), index=like.index, name=like.name)


# -- message helpers -------------------------------------------------------------------------


def _naive(ts: pd.Timestamp) -> pd.Timestamp:
    return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo is not None else ts


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


_SINGULAR = {"have": "has", "are": "is", "belong": "belongs", "appear": "appears", "end": "ends"}


def _agree(predicate: str, count: int) -> str:
    """Turn a plural predicate ("have no amount") singular when ``count`` is 1."""
    if count != 1:
        return predicate
    verb, _, rest = predicate.partition(" ")
    return " ".join(p for p in (_SINGULAR.get(verb, verb), rest) if p)


def _show(value: Any) -> str:
    """Render one offending value, short and quoted, for a message."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "(empty)"
    if isinstance(value, pd.Timestamp):
        return str(value.date()) if value == value.normalize() else str(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value)
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _reasons(reason: str | Callable[[np.ndarray], pd.Series], rows: np.ndarray) -> np.ndarray:
    if isinstance(reason, str):
        return np.full(len(rows), reason, dtype=object)
    return pd.Series(reason(rows)).astype("str").to_numpy(dtype=object)


def _quoting(
    prefix: str, values: pd.Series, suffix: str = "", *, quote: bool = False
) -> Callable[[np.ndarray], Any]:
    """Build reasons lazily: ``prefix`` + the row's value (quoted when asked) + ``suffix``."""

    def build(rows: np.ndarray) -> pd.Series:
        text = _text(values.iloc[rows])
        if quote:
            text = "'" + text + "'"
        return prefix + text.fillna("(empty)") + suffix

    return build


def _comparing(
    left_col: str, left: pd.Series, relation: str, right_col: str, right: pd.Series
) -> Callable[[np.ndarray], Any]:
    """Build reasons lazily comparing two values ("resolved_at X is before opened_at Y")."""

    def build(rows: np.ndarray) -> pd.Series:
        a = _text(left.iloc[rows]).fillna("(empty)")
        b = _text(right.iloc[rows]).fillna("(empty)")
        return f"{left_col} " + a + f" {relation} {right_col} " + b

    return build

"""Errors and issue records of the data contract.

``ContractIssue`` is one finding of validation (an error or a warning) in a form that a report
or the CLI can render as a table row. ``ContractError`` is raised when the data cannot be used
at all; it names the table, the column and the first offending rows so that a user can find the
problem in their own files without reading a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from predictor.errors import PredictorError

Severity = Literal["error", "warning"]

MAX_EXAMPLES = 5
"""How many offending row numbers or ids an issue or error lists."""


@dataclass(frozen=True)
class ContractIssue:
    """One finding of validation: which check, where, how bad, how many, and examples.

    ``examples`` holds up to five offending row numbers (0-based positions in the table as
    given) or customer ids, depending on the check; ``message`` is the full human-readable
    sentence, already naming table, column, count and examples.
    """

    check: str
    table: str
    column: str | None
    severity: Severity
    count: int
    examples: list[Any] = field(default_factory=list)
    message: str = ""

    @property
    def location(self) -> str:
        """``table.column`` (or just ``table`` when the issue concerns the whole table)."""
        return f"{self.table}.{self.column}" if self.column else self.table

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form, for reports."""
        return asdict(self)


class ContractError(PredictorError, ValueError):
    """The input data break the contract in a way that stops the run.

    Attributes:
        table: the table concerned (``None`` when not about one table, e.g. a missing folder).
        column: the column concerned, if any.
        rows: the first few offending row numbers (0-based) or ids.
        count: how many rows or values are affected (0 when not about rows).
        issues: every error issue behind this exception (the message lists them all).

    """

    def __init__(
        self,
        message: str,
        *,
        table: str | None = None,
        column: str | None = None,
        rows: Sequence[Any] = (),
        count: int = 0,
        issues: Sequence[ContractIssue] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.table = table
        self.column = column
        self.rows = list(rows)[:MAX_EXAMPLES]
        self.count = count
        self.issues = list(issues) or [
            ContractIssue(
                check="contract",
                table=table or "",
                column=column,
                severity="error",
                count=count,
                examples=self.rows,
                message=message,
            )
        ]

    @classmethod
    def from_issues(cls, issues: Sequence[ContractIssue]) -> ContractError:
        """Build the error for the first error issue, with a message listing every error."""
        errors = [i for i in issues if i.severity == "error"]
        if not errors:
            raise ValueError("from_issues needs at least one error issue")
        first = errors[0]
        if len(errors) == 1:
            message = first.message
        else:
            lines = "\n".join(f"- {i.message}" for i in errors)
            message = f"{len(errors)} data contract errors:\n{lines}"
        return cls(
            message,
            table=first.table,
            column=first.column,
            rows=first.examples,
            count=first.count,
            issues=errors,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        """Keep the attributes when pickled (exceptions cross process boundaries)."""
        return (
            _rebuild,
            (self.message, self.table, self.column, self.rows, self.count, self.issues),
        )


def _rebuild(
    message: str,
    table: str | None,
    column: str | None,
    rows: list[Any],
    count: int,
    issues: list[ContractIssue],
) -> ContractError:
    return ContractError(message, table=table, column=column, rows=rows, count=count, issues=issues)


def format_examples(values: Sequence[Any], count: int, *, noun: str = "rows") -> str:
    """Render ``"rows 4, 17, 20"``, ``"row 4"``, or ``"rows 4, 17, 20, 31, 40, ..."``."""
    shown = ", ".join(str(v) for v in list(values)[:MAX_EXAMPLES])
    if count == 1 and noun.endswith("s"):
        noun = noun[:-1]
    more = ", ..." if count > MAX_EXAMPLES else ""
    return f"{noun} {shown}{more}"

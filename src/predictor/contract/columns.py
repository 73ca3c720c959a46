"""Match the column names of a user's file to the contract's: mapping first, then case.

Warehouses write names in their own case (Snowflake: ``CUSTOMER_ID``, ``ORDER_DATE``). A file
whose column names are all upper case (how Snowflake writes unquoted names) has them lower-cased
first, so that customer attributes (``COUNTRY``) get the names they have in other exports
(``country``). After the configured mapping (``data.columns``, whose keys are matched
exactly, or ignoring case when no column has the exact name) a column whose name equals one
of the table's contract columns ignoring case, spaces, ``_``, ``-`` and ``.`` takes the
contract's spelling: ``Customer ID``, ``CustomerId`` and ``customer-id`` are ``customer_id``
(spreadsheets, BI tools and camel-case schemas name them so). Other columns keep their names. Two columns that end up with one name ignoring case (``amount`` and
``AMOUNT``, a CSV header naming ``amount`` twice, or two columns mapped onto one name) are
the ``duplicate_column`` error: the data cannot say which one is meant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from predictor.contract.errors import ContractError, ContractIssue
from predictor.contract.schema import SPECS


@dataclass(frozen=True)
class ColumnNames:
    """The outcome of matching one file's columns: the new names, or why they cannot be used."""

    names: list[str]
    """The contract's name (or the user's, for other columns) of each column, in file order."""
    unmapped: str | None = None
    """A mapped column that is not in the file (the first one), if any."""
    clash: tuple[str, list[str]] | None = None
    """The first name given to several columns, and the file's names of those columns."""


def match_columns(table: str, columns: Sequence[str], mapping: Mapping[str, str]) -> ColumnNames:
    """Rename ``columns`` (a file's header, in order) to the contract's names of ``table``."""
    written = [str(c) for c in columns]
    upper = all(c == c.upper() for c in written) and any(c != c.lower() for c in written)
    columns = [c.lower() for c in written] if upper else written
    by_lower: dict[str, list[str]] = {}
    for column in columns:
        by_lower.setdefault(column.lower(), []).append(column)
    resolved: dict[str, str] = {}
    for key, target in mapping.items():
        if key in columns:
            resolved[key] = target
        elif len(by_lower.get(key.lower(), [])) == 1:
            resolved[by_lower[key.lower()][0]] = target
        else:
            return ColumnNames(written, unmapped=key)
    contract = {_squashed(c): c for c in SPECS[table].columns} if table in SPECS else {}
    names = []
    for column in columns:
        name = resolved.get(column, column)
        names.append(contract.get(_squashed(name), name))
    seen: dict[str, list[str]] = {}
    for column, name in zip(written, names, strict=True):
        seen.setdefault(name.lower(), []).append(column)
    for name in names:
        sources = seen[name.lower()]
        if len(sources) > 1:
            return ColumnNames(names, clash=(name, sources))
    return ColumnNames(names)


def _squashed(name: str) -> str:
    """``name`` lower-cased without spaces, ``_``, ``-`` and ``.``: how contract names match."""
    return "".join(ch for ch in name.lower() if ch not in " _-.")


def clash_error(table: str, name: str, sources: Sequence[str], where: str) -> ContractError:
    """The ``duplicate_column`` error for columns of ``where`` that all read as ``name``."""
    listed = ", ".join(repr(s) for s in sources)
    message = (
        f"{table}.{name}: {len(sources)} columns of {where} have this name ignoring case or "
        f"after the column mapping ({listed}); keep one, or map one to another name in "
        f"data.columns.{table}"
    )
    issue = ContractIssue("duplicate_column", table, name, "error", len(sources), [], message)
    return ContractError(message, table=table, column=name, count=len(sources), issues=[issue])


def checked_columns(
    table: str, columns: Sequence[str], mapping: Mapping[str, str], where: str
) -> ColumnNames:
    """``match_columns``, raising the user's error for a mapping to an absent column or a clash.

    ``where`` names the source in the message (a file, a folder, a Spark URI).
    """
    matched = match_columns(table, columns, mapping)
    if matched.unmapped is not None:
        raise ContractError(
            f"{table}: data.columns.{table} maps column {matched.unmapped!r}, which is not in "
            f"{where} (available columns: {', '.join(columns)})",
            table=table,
            column=matched.unmapped,
        )
    if matched.clash is not None:
        raise clash_error(table, *matched.clash, where=where)
    return matched

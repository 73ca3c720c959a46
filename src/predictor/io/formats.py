"""File kinds and headers: which files are tables, their separator, duplicate columns and decimals.

Shared by the readers (``files``, ``tables``, ``chunks``) and the writers (``atomic``).
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from predictor.contract.errors import ContractError, ContractIssue
from predictor.contract.tables import TABLE_NAMES

TABLE_SUFFIXES: tuple[str, ...] = (".csv", ".csv.gz", ".parquet")
"""File name endings written as tables (and read), in the order they are listed in messages."""

READ_SUFFIXES: tuple[str, ...] = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".parquet")
"""File name endings read as tables: tab-separated text is read as CSV (the separator is
detected from the header either way); outputs are written in ``TABLE_SUFFIXES`` only."""

_KINDS: dict[str, str] = {
    ".csv.gz": "csv.gz",
    ".tsv.gz": "csv.gz",
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
"""The reader kind of each file name ending (longest endings first)."""


_SEPARATORS: tuple[str, ...] = (",", ";", "\t", "|")

_UTF16_MARKS: tuple[bytes, ...] = (b"\xff\xfe", b"\xfe\xff")
"""Byte-order marks of UTF-16 text (little and big endian)."""


def _open(path: Path, mode: str, **text: Any) -> IO[Any]:
    """Open a text table for reading, through ``gzip`` when its name ends with ``.gz``."""
    opener: Callable[..., IO[Any]] = gzip.open if path.name.lower().endswith(".gz") else open
    return opener(path, mode, **text)


def text_encoding(path: Path) -> str:
    """How to decode a CSV file: UTF-16 after its byte-order mark, else UTF-8.

    Windows PowerShell's ``>`` and ``Out-File`` and Excel's "Unicode Text" write UTF-16 with
    a byte-order mark, which makes the encoding certain; no other encoding is guessed. UTF-8
    may start with a byte-order mark too.
    """
    with _open(path, "rb") as handle:
        start = handle.read(2)
    return "utf-16" if start in _UTF16_MARKS else "utf-8-sig"


def undecodable_line(path: Path) -> tuple[int, str] | None:
    """The first line of ``path`` that is not UTF-8: its number (1-based) and its text.

    The text is read as Windows-1252, what a non-UTF-8 export from Excel or a
    Western-European system most often is, so the user sees the name at fault.
    """
    with _open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return number, line.decode("cp1252", errors="replace").strip()[:80]
    return None


def _csv_header(path: Path) -> list[str]:
    """The header line of a CSV file as written (duplicate names kept)."""
    with _open(path, "rt", encoding=text_encoding(path), newline="") as handle:
        line = handle.readline()
    if not line.strip():
        return []
    return next(csv.reader([line], delimiter=_sniff_separator(path)))


def _plain_types(table: pa.Table) -> pa.Table:
    """Cast decimal columns to plain numbers and date columns to times (``_plain_schema``)."""
    target = _plain_schema(table.schema)
    return table if target.equals(table.schema) else table.cast(target)


def _plain_schema(schema: pa.Schema) -> pa.Schema:
    """Decimals as numbers: ``float64``, or ``int64`` when integral and up to 18 digits.

    Integral decimals of more digits (Snowflake's ``NUMBER(38,0)`` ids) become text, which
    ``validate`` reads as ids or numbers without losing digits. Calendar dates (``date32``,
    ``date64``) become midnight times: pandas would hold them as Python ``date`` objects, which
    ``validate`` had to print and parse back (a second per million rows; issue 19).
    """
    fields = []
    for f in schema:
        if pa.types.is_date32(f.type):
            f = f.with_type(pa.timestamp("s"))
        elif pa.types.is_date64(f.type):
            f = f.with_type(pa.timestamp("ms"))
        elif pa.types.is_decimal(f.type):
            if f.type.scale != 0:
                f = f.with_type(pa.float64())
            else:
                f = f.with_type(pa.int64() if f.type.precision <= 18 else pa.string())
        fields.append(f)
    return pa.schema(fields, metadata=schema.metadata)


def _shown(path: Path) -> str:
    """A source's name for messages: folders end with ``/``."""
    return f"{path.name}/" if path.is_dir() else path.name


def _name_kind(name: str, read: bool = True) -> str | None:
    """``"csv"``, ``"csv.gz"`` or ``"parquet"`` from a file name, ``None`` when none fits.

    ``read=False`` (an output file) accepts the written endings only: a ``.tsv`` output would
    be written with commas.
    """
    lower = name.lower()
    for suffix, kind in _KINDS.items():
        if lower.endswith(suffix) and (read or not suffix.startswith(".tsv")):
            return kind
    return None


def _file_kind(path: Path, read: bool = True) -> str:
    """``"csv"``, ``"csv.gz"`` or ``"parquet"`` from the file name; anything else is an error."""
    kind = _name_kind(path.name, read)
    if kind is None:
        endings = READ_SUFFIXES if read else TABLE_SUFFIXES
        raise ContractError(f"{path}: unsupported file type (use {', '.join(endings)})")
    return kind


def _check_header(path: Path, kind: str) -> None:
    """Raise the ``duplicate_column`` error when two columns of the file share a name.

    pandas would rename the second ``amount`` to ``amount.1`` and the contract would then drop
    it as an unknown column: data lost in silence.
    """
    if kind == "parquet":
        names = pq.read_schema(path).names
    else:
        opener = gzip.open if kind == "csv.gz" else open
        with opener(path, "rt", encoding=text_encoding(path), errors="replace", newline="") as f:
            names = next(csv.reader(f, delimiter=_sniff_separator(path)), [])
    names = [str(n).strip() for n in names]
    twice = [n for n in dict.fromkeys(names) if names.count(n) > 1]
    if not twice:
        return
    column = twice[0]
    places = [i + 1 for i, n in enumerate(names) if n == column]
    table = next((t for t in TABLE_NAMES if path.name.lower().startswith(t + ".")), path.stem)
    message = (
        f"{table}.{column}: the header of {path} has {len(places)} columns named {column!r} "
        f"(columns {', '.join(map(str, places))}); rename or remove all but one"
    )
    issue = ContractIssue("duplicate_column", table, column, "error", len(places), places, message)
    raise ContractError(message, table=table, column=column, rows=places, issues=[issue])


def _sniff_separator(path: Path) -> str:
    """Detect the separator: the most frequent of , ; tab | in the header (comma on ties)."""
    with _open(path, "rt", encoding=text_encoding(path), errors="replace") as handle:
        header = handle.readline()
    return _separator_of(header)


def _separator_of(line: str) -> str:
    """The most frequent of , ; tab | in ``line`` (the earliest listed on ties: comma first)."""
    counts = {sep: line.count(sep) for sep in _SEPARATORS}
    return max(_SEPARATORS, key=lambda sep: counts[sep])


def csv_head_lines(path: Path, count: int) -> list[str]:
    """The first ``count`` lines of a CSV file (gzip too), as text (undecodable bytes replaced)."""
    with _open(path, "rt", encoding=text_encoding(path), errors="replace", newline="") as handle:
        lines = [handle.readline() for _ in range(count)]
    return [line for line in lines if line]


def split_header_line(line: str) -> list[str]:
    """The column names of one header line, split at its most frequent separator."""
    return [n.strip() for n in next(csv.reader([line], delimiter=_separator_of(line)), [])]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__

"""Find the input tables, read them with the column mapping applied, and validate them.

``find_table_files`` locates one source per table (``data.tables`` first, then the data folder);
``read_raw_tables`` renames the user's columns to the contract's (``contract.columns``) and reads
only the contract's columns of event tables; ``load_tables`` adds ``validate``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from predictor.config import Config, DataConfig
from predictor.contract.columns import checked_columns, match_columns
from predictor.contract.errors import ContractError
from predictor.contract.schema import SPECS
from predictor.contract.tables import TABLE_NAMES
from predictor.contract.validate import (
    PARTIAL_COLUMNS,
    UNREAD_COLUMNS,
    DateRules,
    ValidationResult,
    validate,
)
from predictor.io.files import _source_kind, partial_columns, read_table_file, table_columns
from predictor.io.formats import READ_SUFFIXES, _shown, csv_head_lines, split_header_line
from predictor.timeline import data_end


def read_raw_tables(
    config: DataConfig | Config | None = None,
    folder: str | Path | None = None,
    *,
    tables: Iterable[str] | None = None,
) -> dict[str, pd.DataFrame]:
    """Read the input tables, untyped, with the user's columns renamed to the contract's.

    Args:
        config: where the files are (``path``, ``tables``) and the column mapping
            (``columns``: ``{table: {user_column: contract_column}}``).
        folder: the data folder; overrides ``config.path``. A table is ``<table>.csv``,
            ``<table>.csv.gz``, ``<table>.tsv`` (``.tsv.gz``), ``<table>.parquet``, or a
            folder ``<table>/`` (or ``<table>.parquet/``, ...) of part files;
            ``config.tables`` may name a file or folder per table instead (paths relative to
            the working directory).
        tables: read only these tables (default: every contract table that is present).

    Returns:
        ``{table: frame}`` for every table found; optional tables without a file are absent.

    Raises:
        ContractError: the folder does not exist, a required table has no file (the message
            lists the files found), a table has two sources, a file cannot be parsed, the
            column mapping does not fit the file, or two columns have one name ignoring case
            (``duplicate_column``).

    """
    data = _data_config(config)
    wanted = _wanted_tables(tables, data)
    files = find_table_files(data, folder, wanted)
    return {
        name: _read_table(name, path, data.columns.get(name, {})) for name, path in files.items()
    }


def _read_table(name: str, path: Path, mapping: Mapping[str, str]) -> pd.DataFrame:
    """Read one table's source with its columns renamed to the contract's (see the module)."""
    header = [h.strip() for h in table_columns(path)]
    if not header:
        return read_table_file(path)
    matched = checked_columns(name, header, mapping, _shown(path))
    spec = SPECS[name]
    if not all(c in matched.names for c in spec.required_columns):
        _check_header_line(name, path, mapping, header)
    keep = None
    if name != "customers" and all(c in matched.names for c in spec.required_columns):
        keep = [h for h, c in zip(header, matched.names, strict=True) if c in spec.columns]
    frame = read_table_file(path, columns=keep)
    frame = frame.rename(columns=dict(zip(header, matched.names, strict=True)))
    partial = partial_columns(path, dict(zip(header, matched.names, strict=True)))
    if partial:
        frame.attrs[PARTIAL_COLUMNS] = partial
    if keep is not None and len(keep) < len(header):
        frame.attrs[UNREAD_COLUMNS] = [
            h or f"column {i + 1} (no name)" for i, h in enumerate(header) if h not in set(keep)
        ]
    return frame


HEADER_SEARCH_LINES = 10
"""Lines of a CSV file searched for a header below the first (title or comment lines)."""


def _check_header_line(
    name: str, path: Path, mapping: Mapping[str, str], header: list[str]
) -> None:
    """Raise naming the cause when a CSV source's first line is not its header.

    A title (``Orders export 2024-06-30``), a comment or Excel's ``sep=;`` line above the
    header made every required column "missing", listing the title as the only column; a
    file without a header (Snowflake's ``COPY INTO`` writes none unless told) listed its
    first row as the columns, or failed in the CSV reader on a repeated value. ``header``
    is the first line's names (of the first part file, for a folder).
    """
    if _source_kind(path) == "parquet":
        return
    names = match_columns(name, header, mapping).names
    if not set(names) & set(SPECS[name].columns) and any(map(_looks_like_a_value, header)):
        raise ContractError(
            f"{name}: the first line of {_shown(path)} looks like a row of data, not a header "
            f"({', '.join(header[:6])}{', ...' if len(header) > 6 else ''}); export the table "
            "with a header line naming its columns (Snowflake COPY INTO: HEADER = TRUE)",
            table=name,
        )
    if not path.is_file():
        return
    lines = csv_head_lines(path, HEADER_SEARCH_LINES)
    required = SPECS[name].required_columns
    for number, line in enumerate(lines[1:], start=2):
        names = match_columns(name, split_header_line(line), mapping).names
        if all(c in names for c in required):
            above = "; ".join(repr(x.strip()) for x in lines[: number - 1])
            raise ContractError(
                f"{name}: the header of {path} is on line {number}, below {number - 1} line(s) "
                f"that are not part of the table ({above}); remove them",
                table=name,
            )


def _looks_like_a_value(name: str) -> bool:
    """Whether a header name is a number or a date: a row of data, not column names."""
    return bool(
        re.fullmatch(
            r"[-+]?\d+(?:\.\d+)?|\d{4}-\d{2}-\d{2}.*|\d{1,2}[/.]\d{1,2}[/.]\d{2,4}.*", name
        )
    )


def find_table_files(
    config: DataConfig | None, folder: str | Path | None, tables: Iterable[str] = TABLE_NAMES
) -> dict[str, Path]:
    """Locate one source (a file or a part-file folder) per table.

    ``config.tables`` first, then the data folder. Two sources for one table (``orders.csv``
    and ``orders.parquet``, or ``orders.parquet`` and ``orders/``) are an error naming both.
    """
    data = config or DataConfig()
    root = folder if folder is not None else data.path
    explicit = {name: Path(path) for name, path in data.tables.items()}
    found: dict[str, Path] = {}
    candidates: dict[str, list[Path]] = {}
    if root is not None:
        root = Path(root)
        if not root.is_dir():
            what = "is not a folder" if root.exists() else "does not exist"
            raise ContractError(f"data folder {root} {what}")
        candidates = _folder_files(root)
    for name in tables:
        if name in explicit:
            found[name] = _checked_file(name, explicit[name])
            continue
        matches = candidates.get(name, [])
        if len(matches) > 1:
            listed = ", ".join(_shown(p) for p in matches)
            raise ContractError(
                f"{name}: {len(matches)} sources for one table in {root} ({listed}); keep one",
                table=name,
            )
        if matches:
            found[name] = matches[0]
        elif SPECS[name].required:
            raise ContractError(_missing_table_message(name, root, candidates), table=name)
    return found


def load_tables(
    config: DataConfig | Config | None = None,
    folder: str | Path | None = None,
    *,
    end_date: pd.Timestamp | dt.date | str | None = None,
) -> ValidationResult:
    """Read and validate the input tables: ``read_raw_tables`` then ``validate``.

    ``end_date`` (the last day the data cover) defaults to ``config.end_date``, then to
    today. File problems raise ``ContractError``; data problems are in the result's issues
    (call ``result.raise_for_errors()`` to get the clean ``Tables`` or an exception).
    """
    data = _data_config(config)
    if end_date is None:
        end_date = data_end(data.end_date)
    raw = read_raw_tables(data, folder)
    return validate(raw, end_date=pd.Timestamp(end_date), dates=date_rules(data))


def date_rules(config: DataConfig | Config | None = None) -> DateRules:
    """The time zone and date formats of the data settings, as ``validate`` takes them."""
    data = _data_config(config)
    return DateRules(data.timezone, data.date_format, data.date_formats)


def _data_config(config: DataConfig | Config | None) -> DataConfig:
    if config is None:
        return DataConfig()
    return config.data if isinstance(config, Config) else config


def _wanted_tables(tables: Iterable[str] | None, data: DataConfig) -> list[str]:
    """Return the tables to read, checking the table names in the call and in the config."""
    for where, names in (
        ("data.tables", data.tables),
        ("data.columns", data.columns),
        ("tables", [] if tables is None else list(tables)),
    ):
        unknown = [n for n in names if n not in SPECS]
        if unknown:
            raise ContractError(
                f"{where} names unknown table {unknown[0]!r} (known: {', '.join(TABLE_NAMES)})",
                table=unknown[0],
            )
    return list(TABLE_NAMES) if tables is None else [n for n in TABLE_NAMES if n in set(tables)]


def _folder_files(root: Path) -> dict[str, list[Path]]:
    """Table sources in ``root`` by table name (case-insensitive), ignoring anything else.

    A source is a file ``<table><suffix>`` or a folder ``<table>`` / ``<table><suffix>``.
    """
    out: dict[str, list[Path]] = {}
    for entry in sorted(root.iterdir()):
        if entry.name.startswith((".", "_")) or not (entry.is_file() or entry.is_dir()):
            continue
        lower = entry.name.lower()
        stem = next((lower.removesuffix(s) for s in READ_SUFFIXES if lower.endswith(s)), None)
        if stem is None and entry.is_dir():
            stem = lower
        if stem in SPECS:
            out.setdefault(stem, []).append(entry)
    return out


def _missing_table_message(name: str, root: Path | None, found: dict[str, list[Path]]) -> str:
    names = " or ".join(f"{name}{s}" for s in READ_SUFFIXES)
    if root is None:
        return f"{name}: required table is missing (no data folder given and no data.tables.{name})"
    listing = sorted(_shown(p) for p in root.iterdir() if not p.name.startswith("."))
    shown = ", ".join(listing[:20]) + (", ..." if len(listing) > 20 else "")
    return (
        f"{name}: required table is missing: no {names} (or {name}/ folder of part files) "
        f"in {root} (found: {shown or 'nothing'})"
    )


def _checked_file(name: str, path: Path) -> Path:
    if not path.exists():
        raise ContractError(f"{name}: file {path} (data.tables.{name}) does not exist", table=name)
    _source_kind(path)
    return path

"""The file edge: read the input tables, write outputs atomically, load the configuration.

Everything that touches the file system lives here, so the core (``contract.validate``,
``features``, ``modeling``) stays pure. Problems with the user's files raise ``ContractError``
naming the file; problems with the configuration raise ``ConfigError`` naming the setting.

A table is one file or a folder of part files (what Spark, Snowflake ``COPY INTO``, DuckDB
``COPY ... PARTITION_BY`` write): every Parquet, CSV or ``.csv.gz`` file under it, in
``key=value`` (hive) sub-folders too, whose name does not start with ``_`` or ``.`` (so
``_SUCCESS``, ``.crc`` and ``_delta_log`` are skipped). Folders are read through
``pyarrow.dataset``; a hive key becomes a text column. Only the contract's columns of event
tables are read (every column of ``customers``, whose extra columns are attributes). Column
names are matched to the contract's ignoring case, after the column mapping
(``contract.columns``); decimals are read as numbers.

CSV files are read with every column as text (``dtype=str``), and only empty cells count as
missing at this stage: typing is left to ``contract.validate``, so that pandas never guesses
(ids such as ``"007"`` keep their zeros, a country code ``"NA"`` stays a string). The
separator (``,``, ``;``, tab or ``|``) is detected from the header line; files must be UTF-8
(a byte-order mark is fine).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime as dt
import difflib
import gzip
import json
import math
import os
import shutil
import tempfile
import types
import typing
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import yaml
from pydantic import BaseModel, ValidationError

from predictor.config import Config, DataConfig
from predictor.contract.columns import clash_error, match_columns
from predictor.contract.errors import ContractError, ContractIssue
from predictor.contract.schema import SPECS
from predictor.contract.tables import TABLE_NAMES, Tables
from predictor.contract.validate import DateRules, ValidationResult, validate
from predictor.errors import OutputError, PredictorError, os_reason
from predictor.output_schema import OutputSchema, OutputTypeError, to_arrow
from predictor.timeline import day_end

TABLE_SUFFIXES: tuple[str, ...] = (".csv", ".csv.gz", ".parquet")
"""File name endings read as tables, in the order they are listed in messages."""

_SEPARATORS: tuple[str, ...] = (",", ";", "\t", "|")


class ConfigError(PredictorError, ValueError):
    """The configuration is invalid; the message names each offending setting by key path.

    Attributes:
        problems: ``(key, message)`` pairs, e.g. ``("churn.horizon_days", "Input should be
            greater than or equal to 7 (got 3)")``; the key is ``""`` for file-level problems.

    """

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = list(problems)
        lines = [f"{key}: {msg}" if key else msg for key, msg in self.problems]
        super().__init__(lines[0] if len(lines) == 1 else "\n".join(lines))

    @property
    def key(self) -> str:
        """The key path of the first problem."""
        return self.problems[0][0] if self.problems else ""


# -- reading tables ------------------------------------------------------------------------


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
            ``<table>.csv.gz``, ``<table>.parquet``, or a folder ``<table>/`` (or
            ``<table>.parquet/``, ...) of part files; ``config.tables`` may name a file or
            folder per table instead (paths relative to the working directory).
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
    matched = match_columns(name, header, mapping)
    if matched.unmapped is not None:
        raise ContractError(
            f"{name}: data.columns.{name} maps column {matched.unmapped!r}, which is not in "
            f"{_shown(path)} (available columns: {', '.join(header)})",
            table=name,
            column=matched.unmapped,
        )
    if matched.clash is not None:
        raise clash_error(name, *matched.clash, where=_shown(path))
    spec = SPECS[name]
    keep = None
    if name != "customers" and all(c in matched.names for c in spec.required_columns):
        keep = [h for h, c in zip(header, matched.names, strict=True) if c in spec.columns]
    frame = read_table_file(path, columns=keep)
    return frame.rename(columns=dict(zip(header, matched.names, strict=True)))


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


def read_table_file(path: str | Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read one table file or part-file folder as is (CSV as text, Parquet in its types).

    Decimals are read as numbers. ``columns`` (header names, stripped) selects columns
    (default: all). Header names are stripped of surrounding whitespace. A 0-byte file or a
    folder without part files reads as an empty table. Any parse failure raises
    ``ContractError`` naming the file.
    """
    path = Path(path)
    kind = _source_kind(path)
    try:
        if path.is_file() and path.stat().st_size > 0:
            _check_header(path, kind)
        if path.is_dir() or kind == "parquet":
            frame = _read_arrow(path, columns)
        elif path.stat().st_size == 0:
            return pd.DataFrame()
        else:
            frame = pd.read_csv(
                path,
                dtype=str,
                keep_default_na=False,
                na_values=[""],
                sep=_sniff_separator(path),
                encoding="utf-8-sig",
                compression="gzip" if kind == "csv.gz" else None,
            )
            frame.columns = [str(c).strip() for c in frame.columns]
            if columns is not None:
                frame = frame[list(columns)]
    except UnicodeDecodeError as exc:
        raise ContractError(
            f"{path}: cannot be read as UTF-8 text ({exc.reason} at byte {exc.start}); "
            "save it as UTF-8"
        ) from None
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except ContractError:
        raise
    except Exception as exc:  # any parser failure (pandas, pyarrow, OS) is about this file
        raise ContractError(f"{path}: cannot be read as {kind} ({_first_line(exc)})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def table_columns(path: str | Path) -> list[str]:
    """The column names of a table file or part-file folder, as written (duplicates kept).

    CSV: the header line (of the first part file); Parquet: the schema; a folder adds its
    hive keys. Empty for a 0-byte file or a folder without part files.
    """
    path = Path(path)
    kind = _source_kind(path)
    try:
        if path.is_file() and path.stat().st_size > 0:
            _check_header(path, kind)
        if kind != "parquet":
            first = path if path.is_file() else next(iter(_nonempty_parts(path)), None)
            if first is None or first.stat().st_size == 0:
                return []
            keys = [] if path.is_file() else _partition_keys(path, _nonempty_parts(path))
            return _csv_header(first) + keys
        dataset = _open_dataset(path)
        names = [] if dataset is None else dataset.schema.names
    except UnicodeDecodeError as exc:
        raise ContractError(
            f"{path}: cannot be read as UTF-8 text ({exc.reason} at byte {exc.start}); "
            "save it as UTF-8"
        ) from None
    except ContractError:
        raise
    except Exception as exc:  # noqa: BLE001 - any reader failure is about this file
        raise ContractError(f"{path}: cannot be read as {kind} ({_first_line(exc)})") from None
    return [n for n in names if not n.startswith("__index_level_")]


def _read_arrow(path: Path, columns: Sequence[str] | None) -> pd.DataFrame:
    """Read a Parquet file or a part-file folder through ``pyarrow.dataset``."""
    dataset = _open_dataset(path)
    if dataset is None:
        return pd.DataFrame()
    if columns is not None:
        by_stripped = {n.strip(): n for n in dataset.schema.names}
        columns = [by_stripped.get(c, c) for c in columns]
    return _plain_types(dataset.to_table(columns=columns)).to_pandas()


def _open_dataset(path: Path) -> ds.Dataset | None:
    """A ``pyarrow.dataset`` over a Parquet file or a part-file folder (``None``: no parts)."""
    if path.is_file():
        return ds.dataset(str(path), format="parquet")
    kind, _ = _part_files(path)
    parts = _nonempty_parts(path)
    if not parts:
        return None
    keys = _partition_keys(path, parts)
    partitioning = (
        ds.partitioning(pa.schema([(k, pa.string()) for k in keys]), flavor="hive")
        if keys
        else None
    )
    fmt: str | ds.FileFormat = "parquet"
    if kind != "parquet":
        sep = _sniff_separator(parts[0])
        header = _csv_header(parts[0])
        fmt = ds.CsvFileFormat(
            parse_options=pacsv.ParseOptions(delimiter=sep),
            convert_options=pacsv.ConvertOptions(
                column_types={h: pa.string() for h in header},
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    return ds.dataset(
        [str(p) for p in parts], format=fmt, partitioning=partitioning, partition_base_dir=str(path)
    )


def _part_files(folder: Path) -> tuple[str, list[Path]]:
    """The kind (``parquet``, ``csv``, ``csv.gz``) and the part files of a table folder.

    Every file under ``folder`` counts except those with a path part starting with ``_`` or
    ``.`` (``_SUCCESS``, ``.part-0.crc``, ``_delta_log/``) and ``.crc`` files. Files without a
    known suffix take the folder's own (``orders.parquet/part-00000``). One kind only.
    """
    default = _name_kind(folder.name)
    kinds: dict[str, list[Path]] = {}
    for entry in sorted(folder.rglob("*")):
        relative = entry.relative_to(folder).parts
        if not entry.is_file() or any(p.startswith(("_", ".")) for p in relative):
            continue
        if entry.name.lower().endswith(".crc"):
            continue
        kind = _name_kind(entry.name) or default
        if kind is None:
            raise ContractError(
                f"{entry}: part file of unknown type in the table folder {folder} "
                f"(use {', '.join(TABLE_SUFFIXES)})"
            )
        kinds.setdefault(kind, []).append(entry)
    if len(kinds) > 1:
        listed = "; ".join(f"{k}: {v[0].name}" for k, v in sorted(kinds.items()))
        raise ContractError(f"{folder}: part files of more than one type ({listed}); keep one")
    if not kinds:
        return default or "parquet", []
    kind, files = next(iter(kinds.items()))
    return kind, files


def _nonempty_parts(folder: Path) -> list[Path]:
    """The part files of ``folder`` that are not 0 bytes (writers leave empty ones)."""
    return [p for p in _part_files(folder)[1] if p.stat().st_size > 0]


def _partition_keys(folder: Path, parts: Sequence[Path]) -> list[str]:
    """Hive keys of the part files' sub-folders (``order_month=2024-01`` -> ``order_month``)."""
    keys: list[str] = []
    for part in parts:
        for piece in part.relative_to(folder).parts[:-1]:
            key, sep, _ = piece.partition("=")
            if sep and key not in keys:
                keys.append(key)
    return keys


def _csv_header(path: Path) -> list[str]:
    """The header line of a CSV file as written (duplicate names kept)."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:
        line = handle.readline()
    if not line.strip():
        return []
    return next(csv.reader([line], delimiter=_sniff_separator(path)))


def _plain_types(table: pa.Table) -> pa.Table:
    """Cast decimal columns to plain numbers (see ``_plain_schema``)."""
    target = _plain_schema(table.schema)
    return table if target.equals(table.schema) else table.cast(target)


def _plain_schema(schema: pa.Schema) -> pa.Schema:
    """Decimals as numbers: ``float64``, or ``int64`` when integral and up to 18 digits.

    Integral decimals of more digits (Snowflake's ``NUMBER(38,0)`` ids) become text, which
    ``validate`` reads as ids or numbers without losing digits.
    """
    fields = []
    for f in schema:
        if pa.types.is_decimal(f.type):
            if f.type.scale != 0:
                f = f.with_type(pa.float64())
            else:
                f = f.with_type(pa.int64() if f.type.precision <= 18 else pa.string())
        fields.append(f)
    return pa.schema(fields, metadata=schema.metadata)


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
        end_date = data.end_date or dt.date.today()
    raw = read_raw_tables(data, folder)
    return validate(raw, end_date=pd.Timestamp(end_date), dates=date_rules(data))


def date_rules(config: DataConfig | Config | None = None) -> DateRules:
    """The time zone and date formats of the data settings, as ``validate`` takes them."""
    data = _data_config(config)
    return DateRules(data.timezone, data.date_format, data.date_formats)


# -- reading in chunks of customers --------------------------------------------------------

SPILL_BATCH_ROWS = 1_000_000
"""Rows read from an input file at a time while splitting it by chunk (bounds memory)."""


@dataclasses.dataclass(frozen=True)
class _ParquetSource:
    """Per table: the dataset, the columns to read, and which hold the id and the event date."""

    files: dict[str, ds.Dataset]
    """A ``pyarrow.dataset`` per table (over its Parquet file or part-file folder)."""
    read_columns: dict[str, list[str]]
    ids: dict[str, str]
    dates: dict[str, str]
    mappings: dict[str, dict[str, str]]
    empty: tuple[str, ...]
    """Optional tables whose file has no rows: absent, as ``validate`` treats them."""
    rules: DateRules = DateRules()
    """The time zone (and formats) dates are read with."""


@dataclasses.dataclass
class _Spilled:
    """One table copied into an Arrow IPC file, grouped by chunk."""

    path: Path
    batches: dict[int, list[int]]
    """Per chunk, the record batches of the file holding its rows."""
    latest: dict[int, pd.Timestamp]
    """Per chunk, the latest event date on or before the data end (before validation)."""
    first: list[pd.Timestamp] = dataclasses.field(default_factory=list)
    """The earliest event date on or before the data end, per input batch."""


class CustomerChunks:
    """Parquet input tables (files or part-file folders) read chunk by chunk of customers.

    Built by ``open_customer_chunks``. Opening reads each file once, ``SPILL_BATCH_ROWS`` rows
    at a time (only the contract's columns of event tables; every column of ``customers``),
    and copies the rows into a temporary Arrow file grouped by chunk, so that a chunk is
    later read alone; each chunk holds all the rows of its customers. Memory is bounded by
    one batch plus one chunk, whatever the row order of the files. Chunk ``k`` holds the
    ``k``-th ``chunk_size`` customer ids in sorted order, so the chunks' scores concatenate
    into the order of one-shot scoring. Rows whose
    customer is not in ``customers`` go with chunk 0, where validation reports them as it
    would for the whole input. Use as a context manager: the temporary files are removed on
    exit.
    """

    def __init__(
        self, source: _ParquetSource, chunk_size: int, end_date: pd.Timestamp, workdir: Path
    ) -> None:
        self.source = source
        self.chunk_size = chunk_size
        self.end_date = pd.Timestamp(end_date)
        self._end = day_end(end_date)
        self._dir = workdir
        column = source.files["customers"].to_table(columns=[source.ids["customers"]])
        ids = _arrow_ids(_plain_types(column).column(0))
        self.n_customers = len(ids)
        """Rows of the customers file: every one is scored, rejected or reported."""
        self._keys = pc.unique(ids.drop_null()).sort()
        self.n_chunks = max(1, -(-len(self._keys) // chunk_size))
        self._spilled = {name: self._spill(name) for name in source.files}

    def __enter__(self) -> CustomerChunks:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return self.n_chunks

    def close(self) -> None:
        """Remove the temporary files."""
        shutil.rmtree(self._dir, ignore_errors=True)

    def validated(self, k: int, as_of: pd.Timestamp | None = None) -> ValidationResult:
        """Chunk ``k`` typed and checked by ``validate(..., chunk=True)`` (see ``raw``)."""
        result = validate(
            self.raw(k, as_of), end_date=self.end_date, chunk=True, dates=self.source.rules
        )
        if k == 0:
            result.issues.extend(_empty_table_issue(name) for name in self.source.empty)
        return result

    def raw(self, k: int, as_of: pd.Timestamp | None = None) -> dict[str, pd.DataFrame]:
        """Chunk ``k`` as ``read_raw_tables`` would give it (column mapping applied, untyped).

        With ``as_of``, event rows dated after that day are left out: they cannot change a
        score. Rows dated after the data end stay, for validation to report as usual.
        """
        out = {}
        for name, spilled in self._spilled.items():
            with pa.memory_map(str(spilled.path)) as source:
                reader = pa.ipc.open_file(source)
                parts = [reader.get_batch(i) for i in spilled.batches.get(k, [])]
                table = pa.Table.from_batches(parts, schema=reader.schema)
            if as_of is not None and name != "customers":
                when = _instants(table.column(self.source.dates[name]), self.source.rules.timezone)
                keep = pc.or_kleene(
                    pc.less_equal(when, _scalar(day_end(as_of), when.type)),
                    pc.greater(when, _scalar(self._end, when.type)),
                )
                table = table.filter(pc.fill_null(keep, True))
            frame = table.to_pandas()
            out[name] = frame.rename(columns=self.source.mappings[name])
        return out

    def latest_date(self) -> pd.Timestamp:
        """The data's latest date, as ``datasets.data_span`` finds it in the whole input.

        That is the latest event (or signup) date among the rows that pass validation.
        Chunks are validated from the one with the latest raw date down, until no chunk
        left can hold a later one: usually a single chunk.
        """
        raw: dict[int, pd.Timestamp] = {}
        for spilled in self._spilled.values():
            for k, top in spilled.latest.items():
                raw[k] = max(top, raw.get(k, top))
        best: pd.Timestamp | None = None
        for k in sorted(raw, key=raw.__getitem__, reverse=True):
            if best is not None and raw[k] <= best:
                break
            tables = self.validated(k).raise_for_errors()
            for name, frame in tables.items():
                top = frame[SPECS[name].event_date].max()
                if pd.notna(top) and (best is None or top > best):
                    best = pd.Timestamp(top)
        if best is None:
            raise ContractError("no row passed validation: the data have no latest date")
        return best.normalize()

    def first_date(self) -> pd.Timestamp | None:
        """The earliest signup day on or before the data end (before validation)."""
        low = min(self._spilled["customers"].first, default=None)
        return None if low is None else pd.Timestamp(low).normalize()

    def _chunk_of(self, values: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """Chunk number of each row's customer (0 for ids not in ``customers``)."""
        if not pa.types.is_dictionary(values.type):
            values = pc.dictionary_encode(values)  # normalise each distinct id once
        if isinstance(values, pa.ChunkedArray):
            values = values.unify_dictionaries().combine_chunks()
        known = pc.index_in(_arrow_ids(values.dictionary), value_set=self._keys)
        known = np.asarray(known.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)
        codes = values.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        pos = np.where(codes >= 0, known[np.maximum(codes, 0)], -1) if len(known) else codes
        return np.where(pos >= 0, pos // self.chunk_size, 0)

    def _spill(self, name: str) -> _Spilled:
        """Copy one table into an Arrow IPC file, one record batch per (input batch, chunk)."""
        dataset = self.source.files[name]
        columns = self.source.read_columns[name]
        plain = _plain_schema(dataset.schema)
        schema = pa.schema([plain.field(c) for c in columns])
        spilled = _Spilled(self._dir / f"{name}.arrow", {}, {})
        written = 0
        zone = self.source.rules.timezone
        with pa.OSFile(str(spilled.path), "wb") as sink, pa.ipc.new_file(sink, schema) as out:
            for batch in dataset.to_batches(columns=columns, batch_size=SPILL_BATCH_ROWS):
                if not batch.num_rows:
                    continue
                batch = batch.cast(schema)
                chunk = self._chunk_of(batch.column(self.source.ids[name]))
                order = np.argsort(chunk, kind="stable")
                batch, chunk = batch.take(pa.array(order)), chunk[order]
                when = _instants(batch.column(self.source.dates[name]), zone)
                when = pc.if_else(pc.less_equal(when, _scalar(self._end, when.type)), when, None)
                low = pc.min(when).as_py()
                if low is not None:
                    spilled.first.append(pd.Timestamp(low))
                starts = np.flatnonzero(np.r_[True, chunk[1:] != chunk[:-1]]) if len(chunk) else []
                for start, stop in zip(starts, [*starts[1:], len(chunk)], strict=True):
                    k = int(chunk[start])
                    out.write_batch(batch.slice(start, stop - start))
                    spilled.batches.setdefault(k, []).append(written)
                    written += 1
                    top = pc.max(when.slice(start, stop - start)).as_py()
                    if top is not None:
                        top = pd.Timestamp(top)
                        spilled.latest[k] = max(top, spilled.latest.get(k, top))
        return spilled


def open_customer_chunks(
    config: DataConfig | Config | None,
    folder: str | Path | None,
    chunk_size: int,
    *,
    end_date: pd.Timestamp | dt.date | str | None = None,
    workdir: str | Path | None = None,
) -> CustomerChunks | None:
    """Split Parquet input tables into chunks of ``chunk_size`` customers (``CustomerChunks``).

    Tables may be Parquet files or folders of Parquet part files. Returns ``None`` when the
    input cannot be read chunk by chunk: a table in CSV, an id or event date column missing
    or unreadable, a date column not stored as a date (text dates have their format
    detected over the whole column, so they are read whole), a required
    table without rows, or a column mapping that does not fit. Read it whole with
    ``load_tables`` then, which also reports any such problem. ``end_date`` (default: the
    config's, then today) is the data end passed to ``validate``; ``workdir`` holds the
    temporary copy of the input (default: the system's temporary folder).
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1 (got {chunk_size})")
    data = _data_config(config)
    source = _parquet_source(data, folder)
    if source is None:
        return None
    end = pd.Timestamp(end_date or data.end_date or dt.date.today())
    tmp = Path(tempfile.mkdtemp(prefix="predictor-chunks-", dir=workdir))
    try:
        return CustomerChunks(source, chunk_size, end, tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _parquet_source(data: DataConfig, folder: str | Path | None) -> _ParquetSource | None:
    """Describe the input files for chunked reading, or ``None`` when that is not possible."""
    try:
        files = find_table_files(data, folder)
        if any(_source_kind(path) != "parquet" for path in files.values()):
            return None
        datasets = {name: _open_dataset(path) for name, path in files.items()}
    except Exception:  # noqa: BLE001 - the whole read reports it, naming the file
        return None
    parts: dict[str, tuple[list[str], str, str, dict[str, str]]] = {}
    empty = []
    for name, dataset in datasets.items():
        if dataset is None:
            return None
        try:
            described = _describe_columns(
                name, _plain_schema(dataset.schema), data.columns.get(name, {})
            )
            rows = dataset.count_rows() if described is not None else 0
        except Exception:  # noqa: BLE001 - the whole read reports it, naming the file
            return None
        if described is None:
            return None
        if rows == 0:
            if SPECS[name].required:
                return None
            empty.append(name)
            continue
        parts[name] = described
    return _ParquetSource(
        files={name: datasets[name] for name in parts},
        read_columns={name: p[0] for name, p in parts.items()},
        ids={name: p[1] for name, p in parts.items()},
        dates={name: p[2] for name, p in parts.items()},
        mappings={name: p[3] for name, p in parts.items()},
        empty=tuple(empty),
        rules=date_rules(data),
    )


def _describe_columns(
    name: str, schema: pa.Schema, mapping: Mapping[str, str]
) -> tuple[list[str], str, str, dict[str, str]] | None:
    """Columns to read, id column, date column and renaming of one file (``None``: read whole)."""
    names = [n for n in schema.names if not n.startswith("__index_level_")]
    if any(n != n.strip() for n in names):
        return None
    matched = match_columns(name, names, mapping)
    if matched.unmapped is not None or matched.clash is not None:
        return None
    contract = matched.names
    source_of = dict(zip(contract, names, strict=True))
    spec = SPECS[name]
    id_col, date_col = source_of.get("customer_id"), source_of.get(spec.event_date or "")
    if id_col is None or date_col is None:
        return None
    id_type = schema.field(id_col).type
    if pa.types.is_dictionary(id_type):
        id_type = id_type.value_type
    if not (pa.types.is_string(id_type) or pa.types.is_large_string(id_type)) and not (
        pa.types.is_integer(id_type)
    ):
        return None
    for column in spec.date_columns:
        kind = schema.field(source_of[column]).type if column in source_of else None
        if kind is not None and not (pa.types.is_timestamp(kind) or pa.types.is_date(kind)):
            return None
    events = [n for n, c in zip(names, contract, strict=True) if c in spec.columns]
    read = names if name == "customers" else events
    renames = {n: c for n, c in zip(names, contract, strict=True) if n != c}
    return read, id_col, date_col, renames


def _arrow_ids(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Customer ids as text the way ``validate`` types them (trimmed; ``7.0`` is ``7``)."""
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    if not pa.types.is_large_string(values.type):
        values = values.cast(pa.large_string())
    values = pc.utf8_trim_whitespace(values)
    if not pc.any(pc.match_substring(values, ".")).as_py():
        return values
    return pc.replace_substring_regex(values, r"^(-?\d+)\.0+$", r"\1")


def _instants(
    values: pa.Array | pa.ChunkedArray, timezone: str = "UTC"
) -> pa.Array | pa.ChunkedArray:
    """Dates as naive business-local timestamps (as ``validate`` types them), ``us`` or ``ns``.

    Zoned timestamps are converted to ``timezone``; naive ones are taken as already in it.
    """
    kind = values.type
    if pa.types.is_date(kind):
        return values.cast(pa.timestamp("us"))
    unit = kind.unit if kind.unit in ("us", "ns") else "us"
    if kind.tz is None:
        return values.cast(pa.timestamp(unit))
    return pc.local_timestamp(values.cast(pa.timestamp(unit, timezone)))


def _scalar(when: pd.Timestamp, kind: pa.DataType) -> pa.Scalar:
    return pa.scalar(pd.Timestamp(when), type=kind)


def _empty_table_issue(name: str) -> ContractIssue:
    """The warning ``validate`` gives for an optional table without rows."""
    return ContractIssue(
        "empty_table", name, None, "warning", 0, [], f"{name}: table has no rows; treated as absent"
    )


# -- writing -------------------------------------------------------------------------------


def write_frame_atomic(
    frame: pd.DataFrame,
    path: str | Path,
    *,
    schema: OutputSchema | None = None,
    days: Collection[str] = (),
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Write ``frame`` to ``path`` (CSV, ``.csv.gz`` or Parquet by suffix) atomically.

    The data go to a temporary file in the same folder, which then replaces the target in
    one ``os.replace``: readers see the old file or the new one, never half a file. On any
    failure the temporary file is removed and the target is left untouched. The index is
    not written.

    Both formats hold the portable types of ``output_schema.to_arrow`` (``schema``'s
    declared columns, ``days`` and ``as_of`` as calendar days, microsecond timestamps,
    float64 numbers, text ids); Parquet files also carry ``metadata`` as key-value metadata.
    CSV has no types: days are written ``YYYY-MM-DD``, timestamps
    ``YYYY-MM-DD HH:MM:SS[.ffffff]``.

    Raises:
        OutputTypeError: the frame does not fit the declared types (naming column and rows).

    """
    path = Path(path)
    kind = _file_kind(path)
    table = to_arrow(frame, schema, days=days, metadata=metadata)
    return _atomic_write(path, lambda tmp: _write_table(table, tmp, kind))


def _write_table(table: pa.Table, path: Path, kind: str) -> None:
    """Write an Arrow table (from ``to_arrow``) to ``path`` as ``kind``, no index."""
    if kind == "parquet":
        pq.write_table(table, path)
    else:
        compression = "gzip" if kind == "csv.gz" else None
        _csv_frame(table).to_csv(path, index=False, compression=compression)


def _csv_frame(table: pa.Table) -> pd.DataFrame:
    """The frame a CSV file is written from: exactly the values of the Parquet file."""
    ints = {pa.int64(): pd.Int64Dtype(), pa.int32(): pd.Int64Dtype()}
    return table.to_pandas(types_mapper=ints.get, date_as_object=True)


class AtomicFrameWriter:
    """Write frames one after another into one file that appears only when complete.

    CSV, ``.csv.gz`` or Parquet by suffix, like ``write_frame_atomic``, but in pieces: each
    ``write`` appends to a temporary file beside ``path`` (Parquet through a
    ``pyarrow.parquet.ParquetWriter``, one row group per piece), so the rows need not all be
    in memory. Every piece is typed as ``write_frame_atomic`` types a frame (``schema``,
    ``days``, ``metadata``); columns the schema does not declare keep the types of the
    first piece. Leaving the ``with`` block normally moves the file onto ``path`` in one
    ``os.replace``; leaving it with an exception (an interrupt included) removes the
    temporary file and leaves ``path`` as it was. The index is not written.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        schema: OutputSchema | None = None,
        days: Collection[str] = (),
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        self.path = Path(path)
        self._types = {"schema": schema, "days": days, "metadata": metadata}
        self.kind = _file_kind(self.path)
        self.rows = 0
        self._tmp: Path | None = None
        self._handle: Any = None
        self._parquet: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None
        self._template: pd.DataFrame | None = None

    def __enter__(self) -> AtomicFrameWriter:
        with _output_errors(self.path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(
                prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
            )
        os.close(fd)
        self._tmp = Path(name)
        return self

    def write(self, frame: pd.DataFrame) -> None:
        """Append ``frame`` (the first non-empty piece fixes the columns and their types)."""
        with _output_errors(self.path):
            self._write(frame)

    def _write(self, frame: pd.DataFrame) -> None:
        if self._tmp is None:
            raise RuntimeError("use AtomicFrameWriter as a context manager")
        if self._template is None:
            self._template = frame.iloc[:0]
        if len(frame) == 0:
            return
        table = to_arrow(frame, **self._types)
        if self._schema is None:
            self._schema = table.schema
        elif not table.schema.equals(self._schema):
            table = _conform_piece(table, self._schema)
        if self.kind == "parquet":
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self._tmp, self._schema)
            self._parquet.write_table(table)
        else:
            if self._handle is None:
                opener = gzip.open if self.kind == "csv.gz" else open
                self._handle = opener(self._tmp, "wt", encoding="utf-8", newline="")
            _csv_frame(table).to_csv(self._handle, index=False, header=self.rows == 0)
        self.rows += len(frame)

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        tmp, self._tmp = self._tmp, None
        if tmp is None:
            return
        try:
            with _output_errors(self.path):
                self._close()
                if exc_type is not None:
                    return
                if self.rows == 0:
                    empty = self._template if self._template is not None else pd.DataFrame()
                    _write_table(to_arrow(empty, **self._types), tmp, self.kind)
                mode = self.path.stat().st_mode & 0o777 if self.path.exists() else 0o644
                with open(tmp, "rb+") as handle:
                    os.fsync(handle.fileno())
                os.chmod(tmp, mode)
                os.replace(tmp, self.path)
        finally:
            tmp.unlink(missing_ok=True)

    def _close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def _conform_piece(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """A later piece of an ``AtomicFrameWriter`` in the columns and types of the first."""
    if table.column_names != schema.names:
        raise OutputTypeError(
            f"a piece has columns {', '.join(table.column_names)}; the file has "
            f"{', '.join(schema.names)}"
        )
    try:
        return table.cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise OutputTypeError(f"a piece does not fit the file's types ({exc})") from None


def write_tables(
    tables: Tables | Mapping[str, pd.DataFrame | None],
    folder: str | Path,
    fmt: str = "csv",
    *,
    days: Mapping[str, Collection[str]] | None = None,
) -> dict[str, Path]:
    """Write one ``<table>.<fmt>`` file per present table into ``folder`` (each atomically).

    ``fmt`` is ``"csv"``, ``"csv.gz"`` or ``"parquet"``. ``days`` names, per table, the
    columns that are calendar days (written as dates; e.g. ``SAMPLE_DAY_COLUMNS``); other
    timestamps are written at microsecond precision. Returns ``{table: path}``.
    """
    if f".{fmt}" not in TABLE_SUFFIXES:
        raise ValueError(f"fmt must be one of {', '.join(s[1:] for s in TABLE_SUFFIXES)}")
    folder = Path(folder)
    return {
        name: write_frame_atomic(frame, folder / f"{name}.{fmt}", days=(days or {}).get(name, ()))
        for name, frame in tables.items()
        if frame is not None
    }


def write_json_atomic(obj: Any, path: str | Path) -> Path:
    """Write ``obj`` as indented UTF-8 JSON, atomically.

    Timestamps and dates become ISO strings, numpy scalars plain numbers, NaN and infinities
    ``null`` (strict JSON), paths strings, pydantic models and dataclasses their fields.
    """
    text = json.dumps(_jsonable(obj), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    return write_text_atomic(text, path)


def write_text_atomic(text: str, path: str | Path) -> Path:
    """Write UTF-8 text atomically (a temporary file beside ``path``, then one rename)."""
    return _atomic_write(Path(path), lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _atomic_write(path: Path, write: Callable[[Path], object]) -> Path:
    """Run ``write(tmp)`` on a temporary file beside ``path``, then move it onto ``path``.

    An OS error (read-only folder, full disk, no permission) raises ``OutputError`` naming
    ``path``; the temporary file is removed and ``path`` left as it was.
    """
    with _output_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        tmp = Path(name)
        try:
            write(tmp)
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return path


@contextlib.contextmanager
def _output_errors(path: Path) -> Iterator[None]:
    """Turn an OS error while writing ``path`` into a one-line ``OutputError`` naming it."""
    try:
        yield
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {os_reason(exc)}") from exc


# -- configuration -------------------------------------------------------------------------


def load_config(
    paths: Sequence[str | Path] | str | Path | None = None, overrides: Iterable[str] = ()
) -> Config:
    """Build the ``Config`` from YAML files and ``key.sub=value`` overrides.

    Later files override earlier ones (mappings are merged key by key; lists and values are
    replaced). Each override's value is parsed as YAML (``60``, ``true``, ``[a, b]``,
    ``2024-06-30``); an empty value means null. Unknown keys, in a file or an override, are
    errors that name the key.

    Raises:
        ConfigError: a file is missing or not YAML, an override is malformed or names an
            unknown setting, or a value is invalid; the message names each key path.

    """
    merged: dict[str, Any] = {}
    for path in _as_paths(paths):
        merged = _deep_merge(merged, _read_yaml(path))
    for item in overrides:
        key, value = _parse_override(item)
        _set_key(merged, key, value)
    try:
        return Config.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(_pydantic_problems(exc)) from None


def _as_paths(paths: Sequence[str | Path] | str | Path | None) -> list[Path]:
    if paths is None:
        return []
    if isinstance(paths, str | Path):
        return [Path(paths)]
    return [Path(p) for p in paths]


def _read_yaml(path: Path) -> dict[str, Any]:
    """Read one YAML config file; it must hold a mapping (an empty file is an empty one)."""
    if not path.is_file():
        raise ConfigError([("", f"config file {path} does not exist")])
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError([("", f"{path}: not valid YAML: {' '.join(str(exc).split())}")]) from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError([("", f"{path}: expected a mapping of settings at the top level")])
    return loaded


def _deep_merge(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``update`` into a copy of ``base``; nested mappings merge, anything else replaces."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def _parse_override(item: str) -> tuple[str, Any]:
    """Split ``"churn.horizon_days=60"`` into the key path and the YAML-parsed value."""
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError([("", f"override {item!r}: expected key.sub=value")])
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError:
        value = text
    _check_key(key)
    return key, value


def _check_key(key: str) -> None:
    """Raise ``ConfigError`` unless ``key`` names a setting (or a key inside a mapping one)."""
    model: type[BaseModel] | None = Config
    parts = key.split(".")
    for depth, part in enumerate(parts):
        if model is None:
            return
        fields = model.model_fields
        if part not in fields:
            raise ConfigError([(".".join(parts[: depth + 1]), _unknown(part, list(fields)))])
        annotation = fields[part].annotation
        if _is_model(annotation):
            model = annotation
        elif typing.get_origin(annotation) in (dict, Mapping):
            return
        elif depth < len(parts) - 1:
            prefix = ".".join(parts[: depth + 1])
            raise ConfigError([(key, f"{prefix} is a single setting, not a section")])
        else:
            model = None


def _set_key(data: dict[str, Any], key: str, value: Any) -> None:
    """Set ``data[a][b][c] = value`` for ``key = "a.b.c"``, creating sections as needed."""
    *sections, last = key.split(".")
    node = data
    for part in sections:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[last] = value


def _pydantic_problems(exc: ValidationError) -> list[tuple[str, str]]:
    """Turn pydantic's errors into ``(key path, readable message)`` pairs."""
    problems = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        key = ".".join(loc)
        if err["type"] == "extra_forbidden":
            problems.append((key, _unknown(loc[-1], _known_keys(loc[:-1]))))
            continue
        msg = err["msg"].removeprefix("Value error, ")
        if not loc:
            key, msg = _split_leading_key(msg)
        value = err.get("input")
        if loc and not isinstance(value, dict | list) and value is not None:
            msg = f"{msg} (got {value!r})"
        problems.append((key, msg))
    return problems


def _split_leading_key(msg: str) -> tuple[str, str]:
    """Split ``"segments.x must ..."`` (a model-level message) into its key and the rest."""
    head, _, rest = msg.partition(" ")
    try:
        _check_key(head)
    except ConfigError:
        return "", msg
    return (head, rest) if "." in head and rest else ("", msg)


def _known_keys(loc: Sequence[str]) -> list[str]:
    """List the setting names of the config section at ``loc`` (empty when not a section)."""
    model: Any = Config
    for part in loc:
        if not _is_model(model) or part not in model.model_fields:
            return []
        model = model.model_fields[part].annotation
    return list(model.model_fields) if _is_model(model) else []


def _unknown(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean {close[0]}?" if close else f"known: {', '.join(known)}"
    return f"unknown setting ({hint})" if known else "unknown setting"


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


# -- helpers -------------------------------------------------------------------------------


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
        stem = next((lower.removesuffix(s) for s in TABLE_SUFFIXES if lower.endswith(s)), None)
        if stem is None and entry.is_dir():
            stem = lower
        if stem in SPECS:
            out.setdefault(stem, []).append(entry)
    return out


def _missing_table_message(name: str, root: Path | None, found: dict[str, list[Path]]) -> str:
    names = " or ".join(f"{name}{s}" for s in TABLE_SUFFIXES)
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


def _shown(path: Path) -> str:
    """A source's name for messages: folders end with ``/``."""
    return f"{path.name}/" if path.is_dir() else path.name


def _source_kind(path: Path) -> str:
    """The kind of a table file, or of the part files of a table folder."""
    return _part_files(path)[0] if path.is_dir() else _file_kind(path)


def _name_kind(name: str) -> str | None:
    """``"csv"``, ``"csv.gz"`` or ``"parquet"`` from a file name, ``None`` when none fits."""
    lower = name.lower()
    for suffix in (".csv.gz", ".csv", ".parquet", ".pq"):
        if lower.endswith(suffix):
            return "parquet" if suffix == ".pq" else suffix[1:]
    return None


def _file_kind(path: Path) -> str:
    """``"csv"``, ``"csv.gz"`` or ``"parquet"`` from the file name; anything else is an error."""
    kind = _name_kind(path.name)
    if kind is None:
        raise ContractError(f"{path}: unsupported file type (use {', '.join(TABLE_SUFFIXES)})")
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
        with opener(path, "rt", encoding="utf-8-sig", errors="replace", newline="") as handle:
            names = next(csv.reader(handle, delimiter=_sniff_separator(path)), [])
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
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8-sig", errors="replace") as handle:
        header = handle.readline()
    counts = {sep: header.count(sep) for sep in _SEPARATORS}
    best = max(_SEPARATORS, key=lambda sep: counts[sep])
    return best if counts[best] > 0 else ","


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _jsonable(obj: Any) -> Any:
    """Convert ``obj`` into plain JSON types (see ``write_json_atomic``)."""
    if isinstance(obj, BaseModel):
        return _jsonable(obj.model_dump(mode="json"))
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _jsonable(dataclasses.asdict(obj))
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset | np.ndarray | pd.Series | pd.Index):
        return [_jsonable(v) for v in list(obj)]
    if isinstance(obj, np.datetime64):
        obj = pd.Timestamp(obj)
    elif isinstance(obj, np.generic):
        obj = obj.item()
    if obj is None or obj is pd.NaT or obj is pd.NA:
        return None
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, bool | int | str):
        return obj
    if isinstance(obj, dt.date | dt.datetime | pd.Timestamp):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, types.SimpleNamespace):
        return _jsonable(vars(obj))
    return str(obj)

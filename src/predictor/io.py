"""The file edge: read the input tables, write outputs atomically, load the configuration.

Everything that touches the file system lives here, so the core (``contract.validate``,
``features``, ``modeling``) stays pure. Problems with the user's files raise ``ContractError``
naming the file; problems with the configuration raise ``ConfigError`` naming the setting.

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
import pyarrow.parquet as pq
import yaml
from pydantic import BaseModel, ValidationError

from predictor.config import Config, DataConfig
from predictor.contract.errors import ContractError, ContractIssue
from predictor.contract.schema import SPECS
from predictor.contract.tables import TABLE_NAMES, Tables
from predictor.contract.validate import ValidationResult, validate
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
        folder: the data folder; overrides ``config.path``. Files are ``<table>.csv``,
            ``<table>.csv.gz`` or ``<table>.parquet``; ``config.tables`` may name a file per
            table instead (paths relative to the working directory).
        tables: read only these tables (default: every contract table that is present).

    Returns:
        ``{table: frame}`` for every table found; optional tables without a file are absent.

    Raises:
        ContractError: the folder does not exist, a required table has no file (the message
            lists the files found), a table has two files, a file cannot be parsed, or the
            column mapping does not fit the file.

    """
    data = _data_config(config)
    wanted = _wanted_tables(tables, data)
    files = find_table_files(data, folder, wanted)
    out: dict[str, pd.DataFrame] = {}
    for name, path in files.items():
        frame = read_table_file(path)
        out[name] = _apply_mapping(name, frame, data.columns.get(name, {}), path)
    return out


def find_table_files(
    config: DataConfig | None, folder: str | Path | None, tables: Iterable[str] = TABLE_NAMES
) -> dict[str, Path]:
    """Locate one file per table: explicit ``config.tables`` first, then the data folder."""
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
            listed = ", ".join(p.name for p in matches)
            raise ContractError(
                f"{name}: {len(matches)} files for one table in {root} ({listed}); keep one",
                table=name,
            )
        if matches:
            found[name] = matches[0]
        elif SPECS[name].required:
            raise ContractError(_missing_table_message(name, root, candidates), table=name)
    return found


def read_table_file(path: str | Path) -> pd.DataFrame:
    """Read one table file as is (CSV: every column as text; Parquet: its own types).

    Header names are stripped of surrounding whitespace. A 0-byte file reads as an empty
    table. Any parse failure raises ``ContractError`` naming the file.
    """
    path = Path(path)
    kind = _file_kind(path)
    try:
        if path.stat().st_size == 0:
            return pd.DataFrame()
        _check_header(path, kind)
        if kind == "parquet":
            frame = pd.read_parquet(path, engine="pyarrow")
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
    return validate(raw, end_date=pd.Timestamp(end_date))


# -- reading in chunks of customers --------------------------------------------------------

SPILL_BATCH_ROWS = 1_000_000
"""Rows read from an input file at a time while splitting it by chunk (bounds memory)."""


@dataclasses.dataclass(frozen=True)
class _ParquetSource:
    """Per table: the file, the columns to read, and which hold the id and the event date."""

    files: dict[str, Path]
    read_columns: dict[str, list[str]]
    ids: dict[str, str]
    dates: dict[str, str]
    mappings: dict[str, dict[str, str]]
    empty: tuple[str, ...]
    """Optional tables whose file has no rows: absent, as ``validate`` treats them."""


@dataclasses.dataclass
class _Spilled:
    """One table copied into an Arrow IPC file, grouped by chunk."""

    path: Path
    batches: dict[int, list[int]]
    """Per chunk, the record batches of the file holding its rows."""
    latest: dict[int, pd.Timestamp]
    """Per chunk, the latest event date on or before the data end (before validation)."""


class CustomerChunks:
    """Parquet input tables read chunk by chunk of customers, each with all of its rows.

    Built by ``open_customer_chunks``. Opening reads each file once, ``SPILL_BATCH_ROWS`` rows
    at a time (only the contract's columns of event tables; every column of ``customers``),
    and copies the rows into a temporary Arrow file grouped by chunk, so that a chunk is
    later read alone. Memory is bounded by one batch plus one chunk, whatever the row order
    of the files. Chunk ``k`` holds the ``k``-th ``chunk_size`` customer ids in sorted order,
    so the chunks' scores concatenate into the order of one-shot scoring. Rows whose
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
        column = pq.read_table(source.files["customers"], columns=[source.ids["customers"]])
        ids = _arrow_ids(column.column(0))
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
        result = validate(self.raw(k, as_of), end_date=self.end_date, chunk=True)
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
                when = _instants(table.column(self.source.dates[name]))
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
        handle = pq.ParquetFile(self.source.files[name])
        columns = self.source.read_columns[name]
        schema = pa.schema([handle.schema_arrow.field(c) for c in columns])
        spilled = _Spilled(self._dir / f"{name}.arrow", {}, {})
        written = 0
        with pa.OSFile(str(spilled.path), "wb") as sink, pa.ipc.new_file(sink, schema) as out:
            for batch in handle.iter_batches(batch_size=SPILL_BATCH_ROWS, columns=columns):
                chunk = self._chunk_of(batch.column(self.source.ids[name]))
                order = np.argsort(chunk, kind="stable")
                batch, chunk = batch.take(pa.array(order)), chunk[order]
                when = _instants(batch.column(self.source.dates[name]))
                when = pc.if_else(pc.less_equal(when, _scalar(self._end, when.type)), when, None)
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

    Returns ``None`` when the input cannot be read chunk by chunk: a table in CSV, an id or
    event date column missing or unreadable, a date column not stored as a date, a required
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
    except ContractError:
        return None
    if any(_file_kind(path) != "parquet" for path in files.values()):
        return None
    parts: dict[str, tuple[list[str], str, str, dict[str, str]]] = {}
    empty = []
    for name, path in files.items():
        try:
            handle = pq.ParquetFile(path)
        except Exception:  # noqa: BLE001 - the whole read reports it, naming the file
            return None
        described = _describe_columns(name, handle.schema_arrow, data.columns.get(name, {}))
        if described is None:
            return None
        if handle.metadata.num_rows == 0:
            if SPECS[name].required:
                return None
            empty.append(name)
            continue
        parts[name] = described
    return _ParquetSource(
        files={name: files[name] for name in parts},
        read_columns={name: p[0] for name, p in parts.items()},
        ids={name: p[1] for name, p in parts.items()},
        dates={name: p[2] for name, p in parts.items()},
        mappings={name: p[3] for name, p in parts.items()},
        empty=tuple(empty),
    )


def _describe_columns(
    name: str, schema: pa.Schema, mapping: Mapping[str, str]
) -> tuple[list[str], str, str, dict[str, str]] | None:
    """Columns to read, id column, date column and renaming of one file (``None``: read whole)."""
    names = [n for n in schema.names if not n.startswith("__index_level_")]
    if any(n != n.strip() for n in names) or any(c not in names for c in mapping):
        return None
    contract = [mapping.get(n, n) for n in names]
    if len(set(contract)) < len(contract):
        return None
    source_of = dict(zip(contract, names, strict=True))
    spec = SPECS[name]
    id_col, date_col = source_of.get("customer_id"), source_of.get(spec.event_date or "")
    if id_col is None or date_col is None:
        return None
    id_type, date_type = schema.field(id_col).type, schema.field(date_col).type
    if pa.types.is_dictionary(id_type):
        id_type = id_type.value_type
    if not (pa.types.is_string(id_type) or pa.types.is_large_string(id_type)) and not (
        pa.types.is_integer(id_type)
    ):
        return None
    if not (pa.types.is_timestamp(date_type) or pa.types.is_date(date_type)):
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


def _instants(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Dates as naive timestamps in UTC (as ``validate`` types them), in ``us`` or ``ns``."""
    kind = values.type
    if pa.types.is_date(kind):
        return values.cast(pa.timestamp("us"))
    unit = kind.unit if kind.unit in ("us", "ns") else "us"
    return values.cast(pa.timestamp(unit, kind.tz)).cast(pa.timestamp(unit))


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
    """Table files in ``root`` by table name (case-insensitive), ignoring anything else."""
    out: dict[str, list[Path]] = {}
    for entry in sorted(root.iterdir()):
        if not entry.is_file():
            continue
        lower = entry.name.lower()
        for suffix in TABLE_SUFFIXES:
            stem = lower.removesuffix(suffix)
            if stem != lower and stem in SPECS:
                out.setdefault(stem, []).append(entry)
                break
    return out


def _missing_table_message(name: str, root: Path | None, found: dict[str, list[Path]]) -> str:
    names = " or ".join(f"{name}{s}" for s in TABLE_SUFFIXES)
    if root is None:
        return f"{name}: required table is missing (no data folder given and no data.tables.{name})"
    listing = sorted(p.name for p in root.iterdir() if not p.name.startswith("."))
    shown = ", ".join(listing[:20]) + (", ..." if len(listing) > 20 else "")
    return f"{name}: required table is missing: no {names} in {root} (found: {shown or 'nothing'})"


def _checked_file(name: str, path: Path) -> Path:
    if not path.is_file():
        raise ContractError(f"{name}: file {path} (data.tables.{name}) does not exist", table=name)
    _file_kind(path)
    return path


def _file_kind(path: Path) -> str:
    """``"csv"``, ``"csv.gz"`` or ``"parquet"`` from the file name; anything else is an error."""
    lower = path.name.lower()
    for suffix in (".csv.gz", ".csv", ".parquet", ".pq"):
        if lower.endswith(suffix):
            return "parquet" if suffix == ".pq" else suffix[1:]
    raise ContractError(f"{path}: unsupported file type (use {', '.join(TABLE_SUFFIXES)})")


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


def _apply_mapping(
    name: str, frame: pd.DataFrame, mapping: Mapping[str, str], path: Path
) -> pd.DataFrame:
    """Rename the user's columns to the contract's; every mapped column must be in the file."""
    if not mapping or len(frame.columns) == 0:
        return frame
    columns = list(frame.columns)
    missing = [c for c in mapping if c not in columns]
    if missing:
        raise ContractError(
            f"{name}: data.columns.{name} maps column {missing[0]!r}, which is not in {path.name} "
            f"(available columns: {', '.join(columns)})",
            table=name,
            column=missing[0],
        )
    renamed = [mapping.get(c, c) for c in columns]
    clashes = sorted({c for c in renamed if renamed.count(c) > 1})
    if clashes:
        sources = [c for c in columns if mapping.get(c, c) == clashes[0]]
        raise ContractError(
            f"{name}.{clashes[0]}: column mapping gives two columns this name "
            f"({', '.join(sources)} in {path.name})",
            table=name,
            column=clashes[0],
        )
    return frame.rename(columns=dict(mapping))


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

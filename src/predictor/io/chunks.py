"""Read large Parquet inputs in parts: customer chunks for scoring, row batches for training.

``open_customer_chunks`` returns ``CustomerChunks`` (or ``None`` when the input must be read whole
with ``load_tables``): each chunk holds every row of its customers, spilled to temporary Arrow
files; memory is bounded by one input batch plus one chunk (and, until the scoring pass
reaches it, the validated chunk that held the data's latest date). ``open_parquet_source`` and
``table_batches`` read a table a batch of rows at a time, with no copy on disk, for readers that
do not need a customer's rows together (training's sample, validated batch by batch).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from predictor.config import Config, DataConfig
from predictor.contract.columns import match_columns
from predictor.contract.errors import ContractError, ContractIssue
from predictor.contract.schema import SPECS
from predictor.contract.validate import (
    PARTIAL_COLUMNS,
    ROW_NUMBERS,
    UNREAD_COLUMNS,
    DateRules,
    ValidationResult,
    validate,
)
from predictor.datasets import latest_event
from predictor.io.files import _open_dataset, _source_kind, partial_columns
from predictor.io.formats import _plain_schema, _plain_types
from predictor.io.tables import (
    _data_config,
    date_rules,
    find_table_files,
)
from predictor.keys import NumberedBounds
from predictor.timeline import data_end, day_end

SPILL_BATCH_ROWS = 1_000_000
"""Rows read from an input file at a time while splitting it by chunk (bounds memory)."""
ROW_COLUMN = "__predictor_row__"
"""Spilled beside each row: its number in the table as read whole (``ROW_NUMBERS``)."""
MAX_COMPARED_BOUNDS = 16
"""Up to this many chunk boundaries, rows are routed by one vectorised comparison per
boundary; beyond, by a binary search over the distinct ids of the batch."""


@dataclasses.dataclass(frozen=True)
class ParquetSource:
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
    paths: dict[str, Path] = dataclasses.field(default_factory=dict)
    """The file or part-file folder of each table."""


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
    into the order of one-shot scoring. A row goes to the chunk whose id range holds its
    customer id (compared with the chunks' first ids, not looked up among a million ids);
    rows whose customer is not in ``customers`` land in the chunk of their id's range and
    rows without an id in chunk 0, where validation reports them (``unknown_customer``,
    ``missing_value``) as for the whole input, the counts summed over chunks. Use as a
    context manager: the temporary files are removed on exit.
    """

    def __init__(
        self, source: ParquetSource, chunk_size: int, end_date: pd.Timestamp, workdir: Path
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
        keys = pc.unique(ids.drop_null()).sort()
        self.n_chunks = max(1, -(-len(keys) // chunk_size))
        self._bounds = keys.take(pa.array(np.arange(1, self.n_chunks) * chunk_size))
        """The first (smallest) customer id of chunks 1 and later."""
        self._numbered = NumberedBounds.of(self._bounds) if len(self._bounds) else None
        """The bounds as numbers when the ids are prefix-and-digits (``C0000001``), else None."""
        del keys
        self._latest: pd.Timestamp | None = None
        self._checked: dict[int, ValidationResult] = {}
        """Chunks validated by ``latest_date``, kept for the scoring pass (see ``validated``)."""
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

    def validated(self, k: int) -> ValidationResult:
        """Chunk ``k`` typed and checked by ``validate(..., chunk=True)`` (see ``raw``).

        A chunk that ``latest_date`` validated is handed over once instead of being read
        and validated again. Every row is validated whatever the as-of date, as when the
        input is read whole: leaving out the rows after it would hide their faults (every
        order's id unknown) and drop them from the rejects when the as-of date is early.
        """
        kept = self._checked.pop(k, None)
        if kept is not None:
            return kept
        result = validate(self.raw(k), end_date=self.end_date, chunk=True, dates=self.source.rules)
        if k == 0:
            result.issues.extend(empty_table_issue(name) for name in self.source.empty)
        return result

    def raw(self, k: int) -> dict[str, pd.DataFrame]:
        """Chunk ``k`` as ``read_raw_tables`` would give it (column mapping applied, untyped)."""
        out = {}
        for name, spilled in self._spilled.items():
            with pa.memory_map(str(spilled.path)) as source:
                reader = pa.ipc.open_file(source)
                parts = [reader.get_batch(i) for i in spilled.batches.get(k, [])]
                table = pa.Table.from_batches(parts, schema=reader.schema)
            numbers = table.column(ROW_COLUMN).to_numpy()
            frame = table.drop_columns([ROW_COLUMN]).to_pandas()
            out[name] = frame.rename(columns=self.source.mappings[name])
            out[name].attrs[ROW_NUMBERS] = numbers
            if k == 0:  # named once, as reading the input whole names them
                out[name].attrs.update(_column_notes(self.source, name))
        return out

    def latest_date(self) -> pd.Timestamp:
        """The data's latest date, as ``datasets.data_span`` finds it in the whole input.

        That is the latest event (or signup) date among the rows that pass validation.
        Chunks are validated from the one with the latest raw date down, until no chunk
        left can hold a later one: usually a single chunk.
        """
        if self._latest is not None:
            return self._latest
        raw = {k: self._raw_latest(k) for k in range(self.n_chunks)}
        raw = {k: top for k, top in raw.items() if pd.notna(top)}
        best: pd.Timestamp | None = None
        for k in sorted(raw, key=raw.__getitem__, reverse=True):
            if best is not None and raw[k] <= best:
                break
            result = self.validated(k)
            top = latest_event(result.raise_for_errors())
            self._checked[k] = result
            if pd.notna(top) and (best is None or top > best):
                best = top
        if best is None:
            raise ContractError("no row passed validation: the data have no latest date")
        self._latest = best.normalize()
        return self._latest

    def _raw_latest(self, k: int) -> pd.Timestamp:
        """Chunk ``k``'s latest date on or before the data end, any table (``NaT``: none)."""
        tops = [s.latest[k] for s in self._spilled.values() if k in s.latest]
        return max(tops, default=pd.NaT)

    def customer_ids(self) -> pd.Series:
        """Every id of the customers file, as read (for messages about ids; one column read)."""
        column = self.source.files["customers"].to_table(columns=[self.source.ids["customers"]])
        return _plain_types(column).column(0).to_pandas()

    def first_date(self) -> pd.Timestamp | None:
        """The earliest signup day on or before the data end (before validation)."""
        low = min(self._spilled["customers"].first, default=None)
        return None if low is None else pd.Timestamp(low).normalize()

    def _chunk_of(self, values: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """Chunk number of each row's customer: how many chunks' first ids its id reaches.

        Rows without an id go with chunk 0. Comparing with the few chunk boundaries avoids
        a hash look-up of every row among all customer ids, which took most of the spill
        (a million-id hash table rebuilt for every batch; issue 19).
        """
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        if len(self._bounds) > MAX_COMPARED_BOUNDS:
            return self._chunk_by_search(values)
        reached = self._reached_as_read(values)
        if reached is not None:
            return reached
        ids = _arrow_ids(values)
        reached = None if self._numbered is None else self._numbered.reached(ids)
        if reached is not None:  # ids like C0000001 once trimmed: a look-up of their numbers
            return reached
        chunk = np.zeros(len(ids), dtype=np.int64)
        for bound in self._bounds:
            reached = pc.fill_null(pc.greater_equal(ids, bound), False)
            chunk += reached.to_numpy(zero_copy_only=False)
        return chunk

    def _reached_as_read(self, values: pa.Array) -> np.ndarray | None:
        """``_chunk_of`` straight from the ids as read, when all are prefix-and-digits ids.

        Such ids (``C0000001``: no space, no dot, none missing) are what ``_arrow_ids`` makes
        of them, so its trimmed copy (a third of the routing at 1,000,000 customers; issue
        19) is skipped. None when any id is not of the bounds' form.
        """
        if self._numbered is None or not (
            pa.types.is_string(values.type) or pa.types.is_large_string(values.type)
        ):
            return None
        return self._numbered.reached(values)

    def _chunk_by_search(self, values: pa.Array) -> np.ndarray:
        """``_chunk_of`` for many chunks: a binary search of each distinct id in the bounds."""
        encoded = pc.dictionary_encode(values)
        distinct = _arrow_ids(encoded.dictionary).to_numpy(zero_copy_only=False)
        bounds = self._bounds.to_numpy(zero_copy_only=False)
        within = np.append(np.searchsorted(bounds, distinct, side="right"), 0)
        codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
        return within[codes.astype(np.int64)]  # code -1 (no id) picks the appended chunk 0

    def _spill(self, name: str) -> _Spilled:
        """Copy one table into an Arrow IPC file, one record batch per (input batch, chunk)."""
        dataset = self.source.files[name]
        columns = self.source.read_columns[name]
        schema = _read_schema(self.source, name)
        spilled = _Spilled(self._dir / f"{name}.arrow", {}, {})
        written = read = 0
        zone = self.source.rules.timezone
        width = pa.int32() if dataset.count_rows() < 2**31 else pa.int64()
        numbered = schema.append(pa.field(ROW_COLUMN, width))
        with pa.OSFile(str(spilled.path), "wb") as sink, pa.ipc.new_file(sink, numbered) as out:
            for batch in dataset.to_batches(columns=columns, batch_size=SPILL_BATCH_ROWS):
                if not batch.num_rows:
                    continue
                rows = pa.array(np.arange(read, read + batch.num_rows), type=width)
                batch = batch.cast(schema).append_column(ROW_COLUMN, rows)
                read += batch.num_rows
                chunk = self._chunk_of(batch.column(self.source.ids[name]))
                order = _stable_order(chunk, self.n_chunks)
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


def _stable_order(chunk: np.ndarray, n_chunks: int) -> np.ndarray:
    """``np.argsort(chunk, kind="stable")``, sorting 16-bit copies when the numbers fit.

    NumPy sorts 16-bit integers stably by radix sort: about 4x faster than its merge sort of
    ``int64`` on a million rows; the stable order is unique, so the result is the same.
    """
    if n_chunks <= np.iinfo(np.int16).max:
        chunk = chunk.astype(np.int16)
    return np.argsort(chunk, kind="stable")


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
    end = pd.Timestamp(end_date) if end_date else data_end(data.end_date)
    tmp = Path(tempfile.mkdtemp(prefix="predictor-chunks-", dir=workdir))
    try:
        return CustomerChunks(source, chunk_size, end, tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def open_parquet_source(
    config: DataConfig | Config | None, folder: str | Path | None = None
) -> ParquetSource | None:
    """The input's Parquet tables ready to be read in parts, or None (then read it whole).

    None in the cases ``open_customer_chunks`` lists (a CSV table, dates stored as text, ...).
    """
    return _parquet_source(_data_config(config), folder)


def source_rows(source: ParquetSource, name: str) -> int:
    """Rows of table ``name`` (from the Parquet metadata)."""
    return source.files[name].count_rows()


def table_batches(
    source: ParquetSource, name: str, batch_rows: int = SPILL_BATCH_ROWS
) -> Iterator[tuple[pd.DataFrame, int]]:
    """Table ``name`` as raw frames of up to ``batch_rows`` rows, each with its first row's number.

    The frames are what ``read_raw_tables`` gives for those rows (the column mapping applied,
    untyped); the numbers count rows in the table as read whole, so messages name its rows.
    """
    dataset = source.files[name]
    columns = source.read_columns[name]
    schema = _read_schema(source, name)
    first = 0
    for batch in dataset.to_batches(columns=columns, batch_size=batch_rows):
        if not batch.num_rows:
            continue
        frame = batch.cast(schema).to_pandas(split_blocks=True)
        frame = frame.rename(columns=source.mappings[name])
        if not first:  # named once, as reading the input whole names them
            frame.attrs.update(_column_notes(source, name))
        yield frame, first
        first += batch.num_rows


def _read_schema(source: ParquetSource, name: str) -> pa.Schema:
    """The columns of table ``name`` that are read, in plain types (``_plain_schema``)."""
    plain = _plain_schema(source.files[name].schema)
    return pa.schema([plain.field(c) for c in source.read_columns[name]])


def unread_columns(source: ParquetSource, name: str) -> list[str]:
    """The columns of table ``name``'s files that are not read (not in the contract)."""
    read = set(source.read_columns[name])
    names = source.files[name].schema.names
    return [n for n in names if n not in read and not n.startswith("__index_level_")]


def _column_notes(source: ParquetSource, name: str) -> dict[str, object]:
    """What the whole read notes on table ``name``'s frame: unread columns, columns parts lack."""
    notes: dict[str, object] = {UNREAD_COLUMNS: unread_columns(source, name)}
    path = source.paths.get(name)
    partial = partial_columns(path, source.mappings[name]) if path is not None else {}
    if partial:
        notes[PARTIAL_COLUMNS] = partial
    return notes


def _parquet_source(data: DataConfig, folder: str | Path | None) -> ParquetSource | None:
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
    return ParquetSource(
        files={name: datasets[name] for name in parts},
        read_columns={name: p[0] for name, p in parts.items()},
        ids={name: p[1] for name, p in parts.items()},
        dates={name: p[2] for name, p in parts.items()},
        mappings={name: p[3] for name, p in parts.items()},
        empty=tuple(empty),
        rules=date_rules(data),
        paths={name: files[name] for name in parts},
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


def empty_table_issue(name: str) -> ContractIssue:
    """The warning ``validate`` gives for an optional table without rows."""
    return ContractIssue(
        "empty_table", name, None, "warning", 0, [], f"{name}: table has no rows; treated as absent"
    )

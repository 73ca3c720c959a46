"""Atomic writers: a file appears complete or not at all, and the previous one stays on failure.

Frames (CSV, ``.csv.gz``, Parquet, in the portable types of ``output_schema.to_arrow``), frames
written piece by piece (``AtomicFrameWriter``; several moved into place together, all or none,
by ``commit_together``), and text. OS errors raise ``OutputError`` naming
the path.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import os
import secrets
import shutil
from collections.abc import Callable, Collection, Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from predictor.contract.tables import Tables
from predictor.errors import OutputError, os_reason
from predictor.io.formats import TABLE_SUFFIXES, _file_kind
from predictor.output_schema import OutputSchema, OutputTypeError, to_arrow


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
    kind = _file_kind(path, read=False)
    if kind == "parquet" and len(frame) > ROW_GROUP_ROWS and _types_fixed_by_dtypes(frame):
        with AtomicFrameWriter(path, schema=schema, days=days, metadata=metadata) as writer:
            for start in range(0, len(frame), ROW_GROUP_ROWS):
                writer.write(frame.iloc[start : start + ROW_GROUP_ROWS])
        return path
    table = to_arrow(frame, schema, days=days, metadata=metadata)
    return _atomic_write(path, lambda tmp: _write_table(table, tmp, kind))


ROW_GROUP_ROWS = 1 << 20
"""Rows per Parquet row group: ``pyarrow.parquet.write_table``'s default.

Larger frames are written to Parquet one row group at a time (``AtomicFrameWriter``): the
same file, but only one row group's Arrow copy is in memory at a time and its buffers are
reused. At 1,000,000 customers the sample's tables were written in about 15% less time with
0.7-0.8 GiB less peak than from one Arrow copy of each table, the gain nearly all the
kernel's time for fresh memory (issue 19).
"""


def _types_fixed_by_dtypes(frame: pd.DataFrame) -> bool:
    """Whether every column's Arrow type follows from its dtype alone (no object columns).

    Arrow infers the type of an object (or categorical) column from its values, so a piece
    of such a column may get another type than the whole column (all missing: text).
    """
    return not any(
        pd.api.types.is_object_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype)
        for dtype in frame.dtypes
    )


def _write_table(table: pa.Table, path: Path, kind: str) -> None:
    """Write an Arrow table (from ``to_arrow``) to ``path`` as ``kind``, no index."""
    if kind == "parquet":
        pq.write_table(table, path, use_dictionary=_dictionary_columns(table.schema))
    else:
        compression = "gzip" if kind == "csv.gz" else None
        _csv_frame(table).to_csv(path, index=False, compression=compression)


def _dictionary_columns(schema: pa.Schema) -> list[str]:
    """Columns whose Parquet pages try dictionary encoding: all but the timestamps.

    Times to the second are nearly all distinct, so their dictionary filled up and was
    dropped in every row group: the sample tables of 100,000 customers are written in 1.04 s
    instead of 1.15 s (medians of five), in 3% smaller files. The pages are plain instead,
    which every Parquet reader reads.
    """
    return [f.name for f in schema if not pa.types.is_timestamp(f.type)]


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
    temporary file and leaves ``path`` as it was. Files that belong together (scores and
    their rejects) are moved by ``commit_together`` inside their blocks: all or none. The
    index is not written.
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
        self.kind = _file_kind(self.path, read=False)
        self.rows = 0
        self._tmp: Path | None = None
        self._handle: Any = None
        self._parquet: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None
        self._template: pd.DataFrame | None = None
        self._staged = False

    def __enter__(self) -> AtomicFrameWriter:
        with _output_errors(self.path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._tmp = temp_name(self.path)
            try:
                _create(self._tmp)
            except BaseException:
                self._tmp.unlink(missing_ok=True)
                self._tmp = None
                raise
        return self

    def write(self, frame: pd.DataFrame) -> None:
        """Append ``frame`` (the first non-empty piece fixes the columns and their types)."""
        with _output_errors(self.path):
            self._write(frame)

    def _write(self, frame: pd.DataFrame) -> None:
        if self._tmp is None:
            raise RuntimeError("use AtomicFrameWriter as a context manager")
        if self._staged:
            raise RuntimeError("the file is staged: no more pieces can be written")
        if self._template is None:
            self._template = frame.iloc[:0]
        if len(frame) == 0:
            return
        table = to_arrow(frame, **self._types, first_row=self.rows)
        if self._schema is None:
            self._schema = table.schema
        elif not table.schema.equals(self._schema):
            table = _conform_piece(table, self._schema)
        if self.kind == "parquet":
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(
                    self._tmp, self._schema, use_dictionary=_dictionary_columns(self._schema)
                )
            self._parquet.write_table(table)
        else:
            if self._handle is None:
                opener = gzip.open if self.kind == "csv.gz" else open
                self._handle = opener(self._tmp, "wt", encoding="utf-8", newline="")
            _csv_frame(table).to_csv(self._handle, index=False, header=self.rows == 0)
        self.rows += len(frame)

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if self._tmp is None:
            return  # committed (``commit_together``), or never entered
        try:
            if exc_type is None:
                commit_together(self)
        finally:
            self._discard()

    def stage(self) -> Path:
        """Finish the temporary file (closed, synced, the target's mode) without moving it.

        After this no piece can be written; ``commit_together`` moves the file into place.
        Returns the temporary file's path.
        """
        if self._tmp is None:
            raise RuntimeError("use AtomicFrameWriter as a context manager")
        if self._staged:
            return self._tmp
        with _output_errors(self.path):
            self._close()
            if self.rows == 0:
                empty = self._template if self._template is not None else pd.DataFrame()
                _write_table(to_arrow(empty, **self._types), self._tmp, self.kind)
            mode = self.path.stat().st_mode & 0o777 if self.path.exists() else 0o644
            with open(self._tmp, "rb+") as handle:
                os.fsync(handle.fileno())
            os.chmod(self._tmp, mode)
        self._staged = True
        return self._tmp

    def _discard(self) -> None:
        """Close and remove the temporary file, if still there (a failure, an interrupt)."""
        tmp, self._tmp = self._tmp, None
        if tmp is None:
            return
        try:
            with _output_errors(self.path):
                self._close()
        finally:
            tmp.unlink(missing_ok=True)

    def _close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def commit_together(*writers: AtomicFrameWriter) -> None:
    """Move the files of ``writers`` into place together: all of them, or none.

    Each file is staged (complete and synced) first, so a failure while finishing one leaves
    every target as it was. Targets that are folders are refused before any move. Should a
    later move still fail, the files already moved are put back (the previous file, or none),
    so the targets stay a consistent set (scores and their rejects).
    """
    staged = [(writer.stage(), writer.path) for writer in writers]
    for _, path in staged:
        check_target(path)
    _replace_all(staged)
    for writer in writers:
        writer._tmp = None  # moved: nothing left to remove


def check_target(path: str | Path) -> None:
    """Refuse an output path that is a folder: the final move would fail after all the work.

    Raises:
        OutputError: naming the path (``cannot write PATH: Is a directory``).

    """
    if Path(path).is_dir():
        raise OutputError(f"cannot write {path}: {os.strerror(errno.EISDIR)}")


def _replace_all(staged: list[tuple[Path, Path]]) -> None:
    """``os.replace`` each ``(tmp, target)``; on a failure put the moved targets back.

    The previous file of each target but the last is kept as a hard link (a copy where links
    are not supported) until every move is done: the last move needs none, as it is the one
    that either happens or not.
    """
    moved: list[tuple[Path, Path | None]] = []
    kept: list[Path] = []
    try:
        for k, (tmp, path) in enumerate(staged):
            with _output_errors(path):
                previous = _keep_previous(path) if k < len(staged) - 1 else None
                if previous is not None:
                    kept.append(previous)
                os.replace(tmp, path)
            moved.append((path, previous))
    except BaseException:
        for path, previous in reversed(moved):
            _put_back(path, previous)
        raise
    finally:
        for path in kept:
            path.unlink(missing_ok=True)


def _keep_previous(path: Path) -> Path | None:
    """A hard link (or copy) of ``path``'s current file beside it; None when there is none."""
    if not path.exists():
        return None
    keep = temp_name(path)
    try:
        os.link(path, keep)
    except OSError:
        shutil.copy2(path, keep)
    return keep


def _put_back(path: Path, previous: Path | None) -> None:
    """Undo a move onto ``path``: its previous file back, or no file when there was none."""
    with contextlib.suppress(OSError):
        if previous is not None:
            os.replace(previous, path)
        else:
            path.unlink(missing_ok=True)


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
        tmp = temp_name(path)
        try:
            _create(tmp)
            write(tmp)
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return path


def temp_name(path: Path) -> Path:
    """A fresh temporary name beside ``path`` (``.<name>.<random>.tmp``), not yet created.

    The name is known before the file exists, so an interrupt (SIGTERM, Ctrl-C) arriving at any
    point leaves a name the caller's cleanup can remove: never an unnamed file on disk.
    """
    return path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"


def _create(tmp: Path) -> None:
    """Create ``tmp`` empty and private, failing if it exists."""
    os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


@contextlib.contextmanager
def _output_errors(path: Path) -> Iterator[None]:
    """Turn an OS error while writing ``path`` into a one-line ``OutputError`` naming it."""
    try:
        yield
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {os_reason(exc)}") from exc

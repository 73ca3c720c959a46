"""Read one table source as is: a file, or a folder of part files (``pyarrow.dataset``).

CSV is read as text, Parquet in its types (decimals as numbers); a folder's hive keys become text
columns. Parse failures raise ``ContractError`` naming the file.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from predictor.contract.errors import ContractError
from predictor.io.formats import (
    READ_SUFFIXES,
    _check_header,
    _csv_header,
    _file_kind,
    _first_line,
    _name_kind,
    _plain_types,
    _sniff_separator,
    text_encoding,
    undecodable_line,
)


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
            frame = _read_csv(path, kind)
            if columns is not None:
                frame = frame[list(columns)]
    except UnicodeDecodeError as exc:
        raise _not_utf8(path, exc) from None
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except ContractError:
        raise
    except Exception as exc:  # any parser failure (pandas, pyarrow, OS) is about this file
        raise ContractError(f"{path}: cannot be read as {kind} ({_first_line(exc)})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _read_csv(path: Path, kind: str) -> pd.DataFrame:
    """Read a CSV file as text, header names stripped.

    A delimiter ending every line (``a,b,c,``, as some exports write) adds no column: with
    ``index_col=False`` pandas does not take the first column as an index when the rows
    have one field more than the header (that shifted every column one place: amounts
    read as dates), and an unnamed column empty in every row (the header ends with the
    delimiter too) is dropped. Rows with more values than the header names are an error
    naming the file: those values would be lost.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.ParserWarning)
        try:
            frame = pd.read_csv(
                path,
                dtype=str,
                keep_default_na=False,
                na_values=[""],
                sep=_sniff_separator(path),
                encoding=text_encoding(path),
                compression="gzip" if kind == "csv.gz" else None,
                index_col=False,
            )
        except pd.errors.ParserWarning:
            raise ContractError(
                f"{path}: some rows have more values than the header has column names; "
                "name every column in the header (the extra values would be lost)"
            ) from None
    header = _csv_header(path)
    blank = [
        column
        for column, name in zip(frame.columns, header, strict=False)
        if not name.strip() and frame[column].isna().all()
    ]
    frame = frame.drop(columns=blank)
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def table_columns(path: str | Path) -> list[str]:
    """The column names of a table file or part-file folder, as written (duplicates kept).

    CSV: the header line (of a folder: every part file's, ``_parts_schema``); Parquet: the
    schema; a folder adds its hive keys. Empty for a 0-byte file or a folder without part files.
    """
    path = Path(path)
    kind = _source_kind(path)
    try:
        if path.is_file() and path.stat().st_size > 0:
            _check_header(path, kind)
        if kind != "parquet" and path.is_file():
            return _csv_header(path) if path.stat().st_size > 0 else []
        if kind != "parquet":
            parts = _nonempty_parts(path)
            keys = _partition_keys(path, parts)
            return _parts_schema(path, kind, parts, keys).names if parts else []
        dataset = _open_dataset(path)
        names = [] if dataset is None else dataset.schema.names
    except UnicodeDecodeError as exc:
        raise _not_utf8(path, exc) from None
    except ContractError:
        raise
    except Exception as exc:  # noqa: BLE001 - any reader failure is about this file
        raise ContractError(f"{path}: cannot be read as {kind} ({_first_line(exc)})") from None
    return [n for n in names if not n.startswith("__index_level_")]


def _not_utf8(path: Path, exc: UnicodeDecodeError) -> ContractError:
    """The error for a text file that is not UTF-8, naming its first such line."""
    where = f"{exc.reason} at byte {exc.start}"
    found = undecodable_line(path) if path.is_file() else None
    if found is not None:
        where = f"line {found[0]}: {found[1]!r} as Windows-1252"
    return ContractError(
        f"{path}: cannot be read as UTF-8 text ({where}); save it as UTF-8 "
        "(Excel: 'CSV UTF-8'), or UTF-16 with a byte-order mark"
    )


def _read_arrow(path: Path, columns: Sequence[str] | None) -> pd.DataFrame:
    """Read a Parquet file or a part-file folder through ``pyarrow.dataset``."""
    dataset = _open_dataset(path)
    if dataset is None:
        return pd.DataFrame()
    if columns is not None:
        by_stripped = {n.strip(): n for n in dataset.schema.names}
        columns = [by_stripped.get(c, c) for c in columns]
    return _plain_types(dataset.to_table(columns=columns)).to_pandas()


def _parquet_format() -> ds.ParquetFileFormat:
    """Parquet read with INT96 timestamps in microseconds.

    Spark (and Hive, Impala) write timestamps as INT96 by default; pyarrow reads them as
    nanoseconds, where the warehouses' "no end" ``9999-12-31`` overflows into 1816 (every
    open subscription then "ends before it starts" and is set aside). Microseconds hold it,
    as they hold every other timestamp type.
    """
    options = ds.ParquetReadOptions(coerce_int96_timestamp_unit="us")
    return ds.ParquetFileFormat(read_options=options)


def _open_dataset(path: Path) -> ds.Dataset | None:
    """A ``pyarrow.dataset`` over a Parquet file or a part-file folder (``None``: no parts)."""
    if path.is_file():
        return ds.dataset(str(path), format=_parquet_format())
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
    schema = _parts_schema(path, kind, parts, keys)
    fmt: ds.FileFormat = _parquet_format()
    if kind != "parquet":
        sep = _sniff_separator(parts[0])
        fmt = ds.CsvFileFormat(
            parse_options=pacsv.ParseOptions(delimiter=sep),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in schema.names},
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    return ds.dataset(
        [str(p) for p in parts],
        schema=schema,
        format=fmt,
        partitioning=partitioning,
        partition_base_dir=str(path),
    )


def _parts_schema(folder: Path, kind: str, parts: Sequence[Path], keys: list[str]) -> pa.Schema:
    """Every column of every part file, then the folder's hive keys (as text).

    Exports add columns over time and writers type an all-empty column as ``null``: taken
    from the first part alone, a column it lacks was dropped from every part in silence, and
    a ``null`` column made the others unreadable. A column some parts lack is empty in their
    rows; types that disagree are widened where Arrow can (``null`` to any, ``int32`` to
    ``int64``), else named in the error.
    """
    schemas = list(_part_schemas(kind, parts).values())
    if kind == "parquet":
        merged = _merged_parquet_schema(folder, schemas)
    else:
        first = schemas[0].names  # as written, a repeated name kept (``duplicate_column``)
        later = dict.fromkeys(n for schema in schemas[1:] for n in schema.names if n not in first)
        merged = pa.schema([(name, pa.string()) for name in [*first, *later]])
    clash = [key for key in keys if key in merged.names]
    if clash:
        raise ContractError(
            f"{folder}: '{clash[0]}' is both a folder key ({clash[0]}=...) and a column inside "
            "the part files; keep one of them"
        )
    fields = list(merged) + [pa.field(key, pa.string()) for key in keys]
    return pa.schema(fields, metadata=merged.metadata)


def partial_columns(path: str | Path, renames: Mapping[str, str] | None = None) -> dict:
    """The columns of a part-file folder that some parts lack: column -> those parts (relative).

    Empty for a single file; else also ``"__parts__"``: the number of part files. Such a
    column is empty in the rows of the parts that lack it (``_parts_schema``); the reader
    attaches this to the frame (``PARTIAL_COLUMNS``) so that validation says so. ``renames``
    maps names as written (stripped) to the contract's.
    """
    path = Path(path)
    if not path.is_dir():
        return {}
    schemas = _part_schemas(_part_files(path)[0], _nonempty_parts(path))
    names = {part: set(schema.names) for part, schema in schemas.items()}
    every = dict.fromkeys(n for found in names.values() for n in found)
    renames = renames or {}
    lacking = {
        renames.get(c.strip(), c.strip()): [
            p.relative_to(path).as_posix() for p, found in names.items() if c not in found
        ]
        for c in every
    }
    lacking = {c: parts for c, parts in lacking.items() if parts}
    return {"__parts__": len(names), **lacking} if lacking else {}


def _part_schemas(kind: str, parts: Sequence[Path]) -> dict[Path, pa.Schema]:
    """Each part file's columns: a Parquet footer's schema, or a CSV header (as text)."""
    schemas = {}
    for part in parts:
        if kind != "parquet":
            schemas[part] = pa.schema([(name, pa.string()) for name in _csv_header(part)])
            continue
        try:
            schemas[part] = pq.read_schema(part)
        except Exception as exc:  # noqa: BLE001 - any reader failure is about this file
            raise ContractError(f"{part}: cannot be read as parquet ({_first_line(exc)})") from None
    return schemas


def _merged_parquet_schema(folder: Path, schemas: list[pa.Schema]) -> pa.Schema:
    """The union of the part files' Parquet schemas."""
    try:
        return pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise ContractError(
            f"{folder}: the part files disagree on a column's type ({_first_line(exc)}); "
            "write every part with the same types"
        ) from None


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
                f"(use {', '.join(READ_SUFFIXES)})"
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


def _source_kind(path: Path) -> str:
    """The kind of a table file, or of the part files of a table folder."""
    return _part_files(path)[0] if path.is_dir() else _file_kind(path)

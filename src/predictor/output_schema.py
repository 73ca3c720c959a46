"""The types of every file ``predictor`` writes, in code: one Arrow schema per output.

Outputs must load as they are into Spark (3.5, 4.x), DuckDB, pandas, polars and the usual
warehouses, so every Parquet file follows one set of rules, applied once, in the writers of
``predictor.io`` (``to_arrow``):

* calendar days (``as_of``, ``signup_date``, a subscription's ``start_date``/``end_date`` in
  the sample data) are ``date32``;
* other timestamps are ``timestamp[us]`` without a time zone (Parquet
  ``TIMESTAMP(MICROS, isAdjustedToUTC=false)``, Spark ``TIMESTAMP_NTZ``), in the business's
  local time (``data.timezone``: times read with a zone are converted to it, times without
  one are taken as already in it); digits below the microsecond are dropped. Nanosecond
  timestamps, pandas' default, are rejected by Spark and mangled by several warehouses;
* money, probabilities and every other non-integer number are ``float64``;
* ids (``customer_id``, ``order_id``) and text are ``string``; categoricals are written as
  their text.

The scores have a declared schema (``SCORES``): column names, types, nullability and meaning,
documented in ``docs/contract.md`` (the table there is ``markdown_table(SCORES)``; a test keeps
them equal). Their Parquet key-value metadata carries the model version and the as-of date.
Pure: builds Arrow tables and schemas, never touches files.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from predictor.errors import PredictorError

ID_COLUMNS: tuple[str, ...] = ("customer_id", "order_id")
"""Columns written as text whatever their type in memory."""

DAY_COLUMNS: tuple[str, ...] = ("as_of",)
"""Columns that are calendar days in every output (``date32``)."""

SAMPLE_DAY_COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": ("signup_date",),
    "subscriptions": ("start_date", "end_date"),
}
"""Per sample table, the columns the generator keeps at midnight: written as ``date32``."""

METADATA_PREFIX = "predictor."
"""Prefix of the Parquet key-value metadata keys ``predictor`` writes."""

SCORE_TARGETS: tuple[str, ...] = ("day_one_value", "value_13m", "churn_risk")
"""The scores that can carry drivers (``--drivers K``)."""


@dataclass(frozen=True)
class Column:
    """One column of an output: its name (or name pattern), Arrow type, nullability, meaning.

    A ``name`` holding ``{score}`` or ``{k}`` is a pattern: ``{score}`` stands for each of
    ``SCORE_TARGETS`` and ``{k}`` for a rank 1, 2, ...
    """

    name: str
    type: pa.DataType
    nullable: bool
    meaning: str

    @property
    def is_pattern(self) -> bool:
        """True when ``name`` stands for a family of columns (``{score}_driver_{k}``)."""
        return "{" in self.name

    def matches(self, column: str) -> bool:
        """True when ``column`` is this column or one of its family."""
        if not self.is_pattern:
            return column == self.name
        targets = "|".join(map(re.escape, SCORE_TARGETS))
        pattern = re.escape(self.name).replace(r"\{score\}", f"(?:{targets})")
        return re.fullmatch(pattern.replace(r"\{k\}", r"[1-9][0-9]*"), column) is not None


@dataclass(frozen=True)
class OutputSchema:
    """The declared columns of one output file; undeclared columns follow the general rules."""

    name: str
    columns: tuple[Column, ...]
    required: tuple[str, ...] = ()
    """Columns every file of this output has (the others appear when they apply)."""
    metadata_keys: tuple[str, ...] = field(default=())
    """Key-value metadata every Parquet file of this output carries (without the prefix)."""

    def column(self, name: str) -> Column | None:
        """The declaration that covers ``name`` (exact names first), or ``None``."""
        for col in self.columns:
            if not col.is_pattern and col.name == name:
                return col
        return next((col for col in self.columns if col.matches(name)), None)

    def undeclared(self, names: Collection[str]) -> list[str]:
        """The names in ``names`` this schema does not declare."""
        return [n for n in names if self.column(n) is None]


_NUMBER = pa.float64()
_TEXT = pa.string()

SCORES = OutputSchema(
    name="scores",
    columns=(
        Column("customer_id", _TEXT, False, "the customer, as in the input's customers table"),
        Column("as_of", pa.date32(), False, "the cutoff day: scores use data up to its end"),
        Column(
            "day_one_value",
            _NUMBER,
            True,
            "predicted value in the 13 months after the customer's Day One window, from that "
            "window and the signup attributes only (null when the model has no Day One view)",
        ),
        Column(
            "value_13m",
            _NUMBER,
            True,
            "predicted value in the `value.horizon_months` months after `as_of` (revenue, or "
            "margin minus cost to serve); null only if the model was trained without it",
        ),
        Column(
            "churn_risk",
            _NUMBER,
            True,
            "probability in [0, 1] of churning within `churn.horizon_days` after `as_of`; 1 for "
            "customers already inactive; null only if the model was trained without it",
        ),
        Column(
            "value_segment",
            _TEXT,
            True,
            "lapsed for customers already gone at `as_of` (outside the churn population), "
            "negative for a negative predicted value, else below_average / average / "
            "above_average against the thresholds stored with the model",
        ),
        Column(
            "risk_band",
            _TEXT,
            True,
            "inactive for the lapsed, else low / medium / high from `churn_risk` and the "
            "thresholds stored with the model",
        ),
        Column("model_version", _TEXT, False, "the model that produced the row"),
        Column(
            "value_13m_p10",
            _NUMBER,
            True,
            "10th percentile of the predicted `value_13m` (present when the model "
            "predicts intervals; null where it has none)",
        ),
        Column(
            "value_13m_p90",
            _NUMBER,
            True,
            "90th percentile of the predicted `value_13m` (present when the model "
            "predicts intervals; null where it has none)",
        ),
        Column(
            "day_one_value_p10",
            _NUMBER,
            True,
            "10th percentile of the predicted `day_one_value` (present when the model "
            "predicts intervals; null where it has none)",
        ),
        Column(
            "day_one_value_p90",
            _NUMBER,
            True,
            "90th percentile of the predicted `day_one_value` (present when the model "
            "predicts intervals; null where it has none)",
        ),
        Column(
            "{score}_driver_{k}",
            _TEXT,
            True,
            "with `--drivers K`: the k-th strongest driver of the score, in plain words "
            "(churn drivers are empty where churn_risk is 1 by rule: lapsed customers)",
        ),
        Column(
            "{score}_driver_{k}_feature",
            _TEXT,
            True,
            "the feature behind that driver (its column name in `predictor features`)",
        ),
        Column(
            "{score}_driver_{k}_contribution",
            _NUMBER,
            True,
            "its signed contribution to the score, in the score's units (currency for "
            "values, probability for churn)",
        ),
    ),
    required=(
        "customer_id",
        "as_of",
        "day_one_value",
        "value_13m",
        "churn_risk",
        "value_segment",
        "risk_band",
        "model_version",
    ),
    metadata_keys=("output", "model_version", "as_of", "package_version"),
)
"""The scores file of ``predictor score`` (and the frame of ``Predictor.score``)."""

REJECTS = OutputSchema(
    name="rejects",
    columns=(
        Column("customer_id", _TEXT, True, "the customer not scored (null: the row had no id)"),
        Column("reason", _TEXT, False, "why it was not scored"),
    ),
    required=("customer_id", "reason"),
    metadata_keys=("output", "model_version", "as_of", "package_version"),
)
"""The rejects file of ``predictor score``: one row per input customer not scored."""

VALIDATION_REJECTS = OutputSchema(
    name="validation_rejects",
    columns=(
        Column("table", _TEXT, False, "the input table"),
        Column("row", pa.int64(), False, "0-based row number in that table"),
        Column("customer_id", _TEXT, True, "the row's customer (null when it had none)"),
        Column("check", _TEXT, False, "the check that set the row aside"),
        Column("column", _TEXT, True, "the column at fault"),
        Column("reason", _TEXT, False, "what was wrong, with the offending value"),
    ),
    required=("table", "row", "customer_id", "check", "column", "reason"),
    metadata_keys=("output",),
)
"""The rows set aside by validation (``predictor validate --rejects``)."""

FEATURES = OutputSchema(
    name="features",
    columns=(
        Column("customer_id", _TEXT, False, "the customer"),
        Column("as_of", pa.date32(), False, "the cutoff day the features are computed at"),
    ),
    required=("customer_id", "as_of"),
    metadata_keys=("output", "as_of", "package_version"),
)
"""The feature table of ``predictor features``; feature columns follow the general rules."""


class OutputTypeError(PredictorError, ValueError):
    """A frame cannot be written with the declared types; the message names column and rows."""


def to_arrow(
    frame: pd.DataFrame,
    schema: OutputSchema | None = None,
    *,
    days: Collection[str] = (),
    metadata: Mapping[str, str] | None = None,
    first_row: int = 0,
) -> pa.Table:
    """The frame as an Arrow table in portable types (see the module docstring).

    Columns declared by ``schema`` get the declared type and nullability; the others get the
    general rules. ``days`` names further calendar-day columns (``date32``). ``metadata`` is
    stored as Parquet key-value metadata, each key prefixed ``predictor.``. The index is not
    written, nor pandas' own metadata (readers get the types of the file, not of a pandas
    frame). ``first_row``: the frame is a piece of a larger one starting at that row, and
    the rows named in errors are counted in the larger one.

    Raises:
        OutputTypeError: a non-nullable column holds nulls, a day column holds a time of day,
            or a column cannot take its declared type; the message names the column and rows.

    """
    table = pa.Table.from_pandas(_plain(frame), preserve_index=False)
    day_set = set(days) | set(DAY_COLUMNS)
    fields, arrays = [], []
    for name, values in zip(table.column_names, table.columns, strict=True):
        declared = schema.column(name) if schema is not None else None
        target = declared.type if declared is not None else _general_type(name, values.type)
        if name in day_set and pa.types.is_timestamp(target):
            target = pa.date32()
        arrays.append(_cast(name, values, target, frame, first_row))
        nullable = True if declared is None else declared.nullable
        if not nullable and arrays[-1].null_count:
            rows = _rows(pc.is_null(arrays[-1]), first_row=first_row)
            raise OutputTypeError(f"{_label(schema)}{name}: {arrays[-1].null_count} empty {rows}")
        fields.append(pa.field(name, target, nullable=nullable))
    out = pa.Table.from_arrays(arrays, schema=pa.schema(fields))
    meta = {"output": schema.name} if schema is not None else {}
    meta |= dict(metadata or {})
    return out.replace_schema_metadata(
        {f"{METADATA_PREFIX}{k}": str(v) for k, v in meta.items()} or None
    )


def as_written(
    frame: pd.DataFrame, schema: OutputSchema | None = None, *, days: Collection[str] = ()
) -> pd.DataFrame:
    """The frame as ``pd.read_parquet`` gives it back once written (see ``to_arrow``).

    Days come back as ``datetime.date`` objects, timestamps at microsecond resolution.
    """
    return to_arrow(frame, schema, days=days).to_pandas()


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Categoricals as their values, so Arrow sees plain columns (not dictionaries)."""
    cats = [c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    if not cats:
        return frame
    out = frame.copy(deep=False)
    for col in cats:
        out[col] = np.asarray(out[col].astype(object))
    return out


def _general_type(name: str, kind: pa.DataType) -> pa.DataType:
    """The portable type of an undeclared column inferred by Arrow as ``kind``."""
    if name in ID_COLUMNS or pa.types.is_large_string(kind) or pa.types.is_null(kind):
        return _TEXT
    if pa.types.is_dictionary(kind):
        return _general_type(name, kind.value_type)
    if pa.types.is_timestamp(kind):
        return pa.timestamp("us", kind.tz)
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return _NUMBER
    if pa.types.is_integer(kind):
        return pa.int64() if not pa.types.is_uint64(kind) else kind
    if pa.types.is_date64(kind):
        return pa.date32()
    return kind


def _cast(
    name: str, values: pa.ChunkedArray, target: pa.DataType, frame: pd.DataFrame, first_row: int
) -> pa.ChunkedArray:
    """``values`` as ``target``: timestamps cut to microseconds, days checked to be midnights."""
    kind = values.type
    if pa.types.is_timestamp(kind) and pa.types.is_date32(target):
        if kind.tz is not None:
            values = values.cast(pa.timestamp(kind.unit))
        day = pc.floor_temporal(values, unit="day")
        timed = pc.fill_null(pc.not_equal(day, values), False)
        if pc.any(timed).as_py():
            raise OutputTypeError(
                f"{name}: a calendar-day column holds times of day {_rows(timed, frame[name], first_row)}"
            )
        return day.cast(target)
    if pa.types.is_timestamp(kind) and pa.types.is_timestamp(target) and kind.unit != target.unit:
        if kind.unit == "ns":
            values = _floor_microseconds(values, target)
        return values.cast(target, safe=False)
    if pa.types.is_string(target) and not (
        pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind)
    ):
        values = values.cast(_TEXT) if not pa.types.is_floating(kind) else _float_ids(values)
    try:
        return values.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise OutputTypeError(f"{name}: cannot be written as {target} ({exc})") from None


def _floor_microseconds(values: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray:
    """Nanosecond times floored to the microsecond.

    Times that are whole microseconds already (every time the sample generator makes) are
    cast directly: Arrow's checked cast fails on any digit below the microsecond, and only
    then is ``floor_temporal`` run (a second pass over 41M interactions at 1M customers).
    """
    try:
        return values.cast(target)
    except pa.ArrowInvalid:
        return pc.floor_temporal(values, unit="microsecond")


def _float_ids(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """Ids held as floats (``12.0``) as the text ``12``, as ``validate`` reads them."""
    text = values.cast(_TEXT)
    return pc.replace_substring_regex(text, r"^(-?\d+)\.0$", r"\1")


def _rows(mask: pa.ChunkedArray, values: pd.Series | None = None, first_row: int = 0) -> str:
    """``(rows 3, 8: '2024-01-01 10:00', ...)``: the first five rows where ``mask`` holds."""
    flat = np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)
    where = np.flatnonzero(flat)[:5]
    listed = ", ".join(str(first_row + i) for i in where)
    if values is None:
        return f"(rows {listed})"
    shown = ", ".join(repr(str(values.iloc[i])) for i in where)
    return f"(rows {listed}: {shown})"


def _label(schema: OutputSchema | None) -> str:
    return f"{schema.name}." if schema is not None else ""


def markdown_table(schema: OutputSchema) -> str:
    """The schema as the Markdown table of ``docs/contract.md``."""
    lines = ["| column | type | nullable | meaning |", "|---|---|---|---|"]
    for col in schema.columns:
        name = col.name.replace("{score}", "<score>").replace("{k}", "<k>")
        lines.append(
            f"| `{name}` | {_type_name(col.type)} | {'yes' if col.nullable else 'no'} "
            f"| {col.meaning} |"
        )
    return "\n".join(lines)


def _type_name(kind: pa.DataType) -> str:
    names = {pa.date32(): "date32 (day)", pa.string(): "string", pa.float64(): "float64"}
    return names.get(kind, str(kind))


def column_kind(values: pd.Series) -> str:
    """The portable kind of a column (``string``, ``datetime``, ``boolean``, ``double``).

    What lineage records and what MLflow's column types are named after.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        return "datetime"
    if pd.api.types.is_bool_dtype(values):
        return "boolean"
    if pd.api.types.is_numeric_dtype(values):
        return "double"
    return "string"

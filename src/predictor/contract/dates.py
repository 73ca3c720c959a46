"""Read a date column: one format per column, never half-parsed, cut in the business's zone.

Text values are read as follows (distinct values once each, vectorised):

1. ISO-8601 values (``2024-01-31``, ``2024-01-31 22:00``, ``2024-01-31T22:00:00-05:00``) are
   always read as ISO: they are unambiguous.
2. The other values are read with the column's configured format when there is one
   (``data.date_formats`` / ``data.date_format``); a value it cannot read is unreadable.
3. Without one, numeric dates (``31/12/2023``, ``12-31-23 10:00``, ``31.12.2023 10:00:00 PM``,
   ``2023/12/31``) are read as day-first or as month-first, the same for the whole column:
   the reading under which every value is a real date. When both readings fit every value
   and give different dates (every day is 12 or less), or neither fits every value (some
   rows are day-first only, others month-first only), the column cannot be read and
   ``DateFormatError`` names it, the rows and the setting to use. Values that fit neither
   reading (``31/31/2023``) are unreadable rows, whatever the others are.
4. What is left (``3 Feb 2024``, ``Feb 3, 2024``) goes through formats guessed from the values.

Times: a value with a zone or offset (text with ``Z``/``+02:00``, or a zone-aware timestamp
column) is converted to the business zone (``data.timezone``); a value without one is taken as
already in it. The result is tz-naive business-local wall time, so that a calendar day is the
business's day everywhere downstream.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.tseries.api import guess_datetime_format

from predictor.contract.errors import MAX_EXAMPLES, format_examples
from predictor.keys import positions

_PARSED = "datetime64[us, UTC]"
"""Dates are parsed at microsecond resolution (years 1 to 9999), then checked against the
``datetime64[ns]`` range, so an out-of-range date is reported instead of raising."""

_TS_MIN = pd.Timestamp.min.tz_localize("UTC")
_TS_MAX = pd.Timestamp.max.tz_localize("UTC")
_MAX_GUESSED_FORMATS = 4
_MIXED_PROBE = 200

_NUMERIC = (
    r"^(?P<a>\d{1,4})(?P<sep>[/.\-])(?P<b>\d{1,2})(?P=sep)(?P<c>\d{1,4})"
    r"(?:(?:[ T]+)(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})"
    r"(?:[.,](?P<fraction>\d{1,9}))?)?\s*(?P<ampm>[AaPp]\.?[Mm]\.?)?)?$"
)
"""Numeric dates: day, month and year (in some order) with one separator, maybe a time."""

_ZONED = r"\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[Zz]|UTC|GMT|[+-]\d{2}(?::?\d{2})?)$"
"""A time followed by a zone or offset: the value names its instant, not a local time."""


class DateFormatError(ValueError):
    """A date column whose format cannot be told: ambiguous or mixed day/month order.

    Attributes:
        rows: the first offending row numbers (0-based positions in the column).
        count: how many rows are concerned.

    """

    def __init__(self, message: str, rows: list[int], count: int) -> None:
        super().__init__(message)
        self.rows = rows
        self.count = count


@dataclass(frozen=True)
class _Problem:
    """What ``_read_numeric`` found wrong: the message parts and the values at fault."""

    kind: str
    values: list[str]
    other: list[str]
    formats: tuple[str, str]


def parse_dates(
    values: pd.Series,
    *,
    timezone: str = "UTC",
    fmt: str | None = None,
    where: str = "date",
    late_is_missing: bool = False,
) -> tuple[pd.Series, np.ndarray]:
    """Type a date column (see the module docstring) and say which present values failed.

    Args:
        values: a datetime column (zone-aware or not), or text stripped with the missing
            values already missing.
        timezone: the business's IANA zone; zoned values are converted to it.
        fmt: the strftime format of the non-ISO values (default: detected).
        where: ``table.column``, for messages.
        late_is_missing: a date after the supported range (``9999-12-31``, the usual
            "no end yet" of warehouse tables) is missing, not unreadable.

    Returns:
        ``(dates, unreadable)``: ``datetime64[ns]`` tz-naive business-local, and a boolean
        mask of the present values that could not be read (or fall outside 1677..2262).

    Raises:
        DateFormatError: the day/month order of the column is ambiguous or mixed.

    """
    if pd.api.types.is_datetime64_dtype(values):  # naive: already wall time, only the range
        return _naive_dates(values, late_is_missing)
    if pd.api.types.is_datetime64_any_dtype(values):
        present = values.notna().to_numpy()
        zoned = getattr(values.dtype, "tz", None) is not None
        parsed = pd.to_datetime(values, utc=True)
        aware = np.full(len(values), zoned)
    else:
        text = values
        present = text.notna().to_numpy()
        parsed = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
        parsed = parsed.astype(_PARSED)
        retry = present & parsed.isna().to_numpy()
        if retry.any():
            rest = text[retry]
            unique = pd.Series(pd.unique(rest.to_numpy()), dtype="str")
            try:
                parsed_unique = _parse_non_iso(unique, fmt)
            except _ProblemFound as found:
                raise _date_format_error(found.problem, text, where) from None
            parsed[retry] = parsed_unique.array.take(positions(unique, rest))
        aware = np.zeros(len(text), dtype=bool)
        if timezone != "UTC" and present.any():
            aware = has_zone(text)
    in_range = ((parsed >= _TS_MIN) & (parsed <= _TS_MAX)).to_numpy()
    late = (parsed > _TS_MAX).to_numpy() if late_is_missing else np.zeros(len(parsed), bool)
    parsed = parsed.where(in_range)
    local = parsed.dt.tz_localize(None)
    if aware.any():
        converted = parsed.dt.tz_convert(timezone).dt.tz_localize(None)
        local = local.where(~aware, converted)
    out = local.astype("datetime64[ns]")
    return out, present & out.isna().to_numpy() & ~late


def _naive_dates(values: pd.Series, late_is_missing: bool = False) -> tuple[pd.Series, np.ndarray]:
    """``parse_dates`` of naive datetimes: the values in ``datetime64[ns]`` range, as they are.

    The same result as converting through UTC and back, without the conversions (they took
    a fifth of validating typed Parquet input; issue 19).
    """
    raw = values.to_numpy()
    ticks = raw.view("int64")
    present = ~np.isnat(raw)
    if raw.dtype == np.dtype("datetime64[ns]"):
        return values.copy(), np.zeros(len(values), dtype=bool)  # every ns value is in range
    unit, count = np.datetime_data(raw.dtype)
    factor = int(np.timedelta64(count, unit).astype("timedelta64[ns]").view("int64"))
    lowest = -(-pd.Timestamp.min.value // factor)  # rounded inwards: the ns range
    highest = pd.Timestamp.max.value // factor
    in_range = present & (ticks >= lowest) & (ticks <= highest)
    ns = np.where(in_range, raw, np.datetime64("NaT", unit)).astype("datetime64[ns]")
    unreadable = present & ~in_range
    if late_is_missing:
        unreadable &= ticks <= highest
    return pd.Series(ns, index=values.index, name=values.name), unreadable


def has_zone(text: pd.Series) -> np.ndarray:
    """Which values end with a zone or offset (``_ZONED``), via Arrow's fast regex engine."""
    values = pa.array(text.to_numpy(dtype=object), type=pa.large_string(), from_pandas=True)
    found = pc.match_substring_regex(values, _ZONED)
    return np.asarray(found.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


class _ProblemFound(Exception):
    def __init__(self, problem: _Problem) -> None:
        super().__init__(problem.kind)
        self.problem = problem


def _parse_non_iso(unique: pd.Series, fmt: str | None) -> pd.Series:
    """Parse distinct non-ISO strings (UTC-aware; naive values as if UTC wall time)."""
    if fmt is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = pd.to_datetime(unique, utc=True, errors="coerce", format=fmt)
        return found.astype(_PARSED)
    parsed, matched = _read_numeric(unique)
    if not matched.all():
        parsed[~matched] = _parse_other_formats(unique[~matched]).array
    return parsed


def _read_numeric(text: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Read numeric dates in one day/month order; return them and which values matched."""
    parts = text.str.extract(_NUMERIC)
    matched = parts["a"].notna().to_numpy()
    out = pd.Series(pd.NaT, index=text.index, dtype=_PARSED)
    if not matched.any():
        return out, matched
    parts = parts[matched]
    a, b, c = (parts[k] for k in "abc")
    year_first = a.str.len().to_numpy() == 4
    clock = _clock(parts)
    ymd = _build(a, b, c, clock)
    day_first = _build(_year(c), b, a, clock)
    month_first = _build(_year(c), a, b, clock)
    ok_d = (day_first.notna() & ~year_first).to_numpy()
    ok_m = (month_first.notna() & ~year_first).to_numpy()
    dm = ~year_first & (ok_d | ok_m)
    chosen = day_first
    if dm.any():
        values = parts.index.to_numpy()
        formats = _formats(parts, dm)
        if ok_d[dm].all() and ok_m[dm].all():
            differ = dm & (day_first != month_first).to_numpy()
            if differ.any():
                raise _ProblemFound(
                    _Problem("ambiguous", text.loc[values[differ]].tolist(), [], formats)
                )
        elif ok_m[dm].all():
            chosen = month_first
        elif not ok_d[dm].all():
            only_d = text.loc[values[ok_d & ~ok_m]].tolist()
            only_m = text.loc[values[ok_m & ~ok_d]].tolist()
            raise _ProblemFound(_Problem("mixed", only_d, only_m, formats))
    result = np.where(year_first, ymd.to_numpy(), chosen.to_numpy())
    out[matched] = pd.Series(result, dtype="datetime64[us]").dt.tz_localize("UTC").array
    return out, matched


def _year(c: pd.Series) -> pd.Series:
    """Four-digit years as they are; two-digit ones 1969..2068 (as strptime's ``%y``)."""
    number = pd.to_numeric(c, errors="coerce")
    two = c.str.len() == 2
    pivot = np.where(number < 69, 2000, 1900)
    return pd.Series(np.where(two, number + pivot, np.where(c.str.len() == 4, number, -1)), c.index)


def _clock(parts: pd.DataFrame) -> pd.DataFrame:
    """Hour, minute, second and nanoseconds of each value (zero when there is no time)."""
    hour = pd.to_numeric(parts["hour"], errors="coerce").fillna(0)
    ampm = parts["ampm"].str.lower().str.replace(".", "", regex=False)
    bad = ampm.notna() & ((hour < 1) | (hour > 12))
    hour = np.where(ampm == "pm", hour % 12 + 12, np.where(ampm == "am", hour % 12, hour))
    hour = np.where(bad, -1, hour)
    fraction = parts["fraction"].fillna("0").str.ljust(9, "0")
    return pd.DataFrame(
        {
            "hour": hour,
            "minute": pd.to_numeric(parts["minute"], errors="coerce").fillna(0),
            "second": pd.to_numeric(parts["second"], errors="coerce").fillna(0),
            "ns": pd.to_numeric(fraction, errors="coerce").fillna(0),
        },
        index=parts.index,
    )


def _build(year: pd.Series, month: pd.Series, day: pd.Series, clock: pd.DataFrame) -> pd.Series:
    """Datetimes from parts; impossible ones (31 February, month 13, hour 25) are missing."""
    frame = pd.DataFrame(
        {
            "year": pd.to_numeric(year, errors="coerce"),
            "month": pd.to_numeric(month, errors="coerce"),
            "day": pd.to_numeric(day, errors="coerce"),
            "hour": clock["hour"],
            "minute": clock["minute"],
            "second": clock["second"],
        }
    )
    valid = (
        frame["year"].between(1, 9999)
        & frame["month"].between(1, 12)
        & frame["day"].between(1, 31)
        & frame["hour"].between(0, 23)
        & frame["minute"].between(0, 59)
        & frame["second"].between(0, 59)
    )
    safe = frame.where(valid, 1).fillna(1).astype("int64")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        when = pd.to_datetime(safe, errors="coerce").astype("datetime64[us]")
    when = when + pd.to_timedelta(clock["ns"] // 1000, unit="us")
    return when.where(valid & when.notna())


def _formats(parts: pd.DataFrame, rows: np.ndarray) -> tuple[str, str]:
    """The day-first and month-first strftime formats of the values, for the message."""
    first = parts[rows].iloc[0]
    sep, year = first["sep"], "%Y" if len(first["c"]) == 4 else "%y"
    time = ""
    if pd.notna(first["hour"]):
        time = " %H:%M" + (":%S" if pd.notna(first["second"]) else "")
        if pd.notna(first["ampm"]):
            time = time.replace("%H", "%I") + " %p"
    return f"%d{sep}%m{sep}{year}{time}", f"%m{sep}%d{sep}{year}{time}"


def _date_format_error(problem: _Problem, text: pd.Series, where: str) -> DateFormatError:
    """The error naming the column, the rows and the setting that resolves it."""
    table, _, column = where.partition(".")
    day_first, month_first = problem.formats
    remedy = (
        f"set data.date_formats.{table}.{column} (or data.date_format) to "
        f"'{day_first}' (day first) or '{month_first}' (month first)"
    )
    bad = text.isin(problem.values).to_numpy()
    rows = np.flatnonzero(bad)
    shown = ", ".join(repr(v) for v in text.iloc[rows[:3]])
    where_rows = format_examples(rows[:MAX_EXAMPLES].tolist(), len(rows))
    if problem.kind == "ambiguous":
        message = (
            f"{where}: the dates can be read day first or month first, and no day above 12 "
            f"says which ({where_rows}: {shown}); {remedy}"
        )
        return DateFormatError(message, rows[:MAX_EXAMPLES].tolist(), len(rows))
    other = np.flatnonzero(text.isin(problem.other).to_numpy())
    other_shown = ", ".join(repr(v) for v in text.iloc[other[:3]])
    message = (
        f"{where}: the dates mix day-first and month-first values "
        f"({where_rows} read only day first: {shown}; "
        f"{format_examples(other[:MAX_EXAMPLES].tolist(), len(other))} read only month first: "
        f"{other_shown}); fix them, then {remedy}"
    )
    both = np.union1d(rows, other)
    return DateFormatError(message, both[:MAX_EXAMPLES].tolist(), len(both))


def _parse_other_formats(text: pd.Series) -> pd.Series:
    """Parse the remaining date strings (as UTC), e.g. ``3 Feb 2024`` or ``Feb 3, 2024``.

    Formats guessed from the values are parsed vectorised; what is left goes through the
    per-value ``format="mixed"`` parser. That parser is slow (tens of microseconds per
    value), so when many values are left and none of a sample of them parses, the rest is
    taken as unreadable without trying each one.
    """
    unique = pd.Series(text.to_numpy(), dtype="str").reset_index(drop=True)
    parsed = pd.Series(pd.NaT, index=unique.index, dtype=_PARSED)
    tried: set[str] = set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(_MAX_GUESSED_FORMATS):
            todo = parsed.isna().to_numpy()
            fmt = _guess_format(unique[todo].iloc[:20], tried)
            if fmt is None:
                break
            tried.add(fmt)
            found = pd.to_datetime(unique[todo], utc=True, errors="coerce", format=fmt)
            parsed[todo] = found.astype(_PARSED).array
        todo = parsed.isna().to_numpy().copy()
        if todo.sum() > _MIXED_PROBE:
            probe = unique[todo].iloc[:: max(1, int(todo.sum()) // _MIXED_PROBE)]
            if pd.to_datetime(probe, utc=True, errors="coerce", format="mixed").isna().all():
                todo[:] = False
        if todo.any():
            found = pd.to_datetime(unique[todo], utc=True, errors="coerce", format="mixed")
            parsed[todo] = found.astype(_PARSED).array
    return pd.Series(parsed.array, index=text.index)


def _guess_format(values: pd.Series, tried: set[str]) -> str | None:
    """Return the first strftime format guessed from ``values`` that was not tried yet."""
    for value in values:
        fmt = guess_datetime_format(value)
        if fmt is not None and fmt not in tried:
            return fmt
    return None

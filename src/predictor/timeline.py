"""Point-in-time rules: the one place that decides which rows a cutoff may see.

A cutoff (``as_of``) is inclusive and means "the end of that day": rows dated on the cutoff day
are known, rows dated later are not. Dates later than the cutoff inside a visible row
(a subscription's ``end_date``, a ticket's ``resolved_at``) are unknown at the cutoff and are
masked to ``NaT``, so a subscription that ends after the cutoff looks active, as it did then;
values that only follow such a date (the CSAT of a ticket resolved after the cutoff) are masked
too.

The module also owns the other time rules that every layer shares: the unit constants
(``DAYS_PER_MONTH``, ``WEEK_DAYS``), the label windows that follow a cutoff
(``months_after``, ``days_after``) and what counts as a *purchase* (``is_purchase``).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa

from predictor.contract.schema import SPECS
from predictor.contract.tables import Tables
from predictor.errors import PredictorError
from predictor.keys import contains, positions

_LATER_DATES: dict[str, tuple[str, ...]] = {
    "subscriptions": ("end_date",),
    "support_tickets": ("resolved_at",),
}
_KNOWN_WITH: dict[str, tuple[str, ...]] = {"resolved_at": ("csat",)}
"""Values that only exist once a later date has passed (a CSAT answer follows the resolution)."""

DAYS_PER_MONTH: float = 365.25 / 12
"""Average length of a calendar month in days (tenures and horizons expressed in months)."""
WEEK_DAYS: float = 7.0
"""Days per week: the time unit of the BG/NBD statistics."""

Dates = TypeVar("Dates", pd.Series, np.ndarray)
Amounts = TypeVar("Amounts", pd.Series, np.ndarray)


class AsOfError(PredictorError, ValueError):
    """An as-of date that is not a day: text other than ``YYYY-MM-DD``, a zone, NaT, no date."""


ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
"""The one way an as-of day is written as text: a day-first or relative date would be misread."""


def parse_as_of(value: object, name: str = "as_of") -> pd.Timestamp:
    """The as-of day of ``value`` (midnight): an ISO day ``YYYY-MM-DD`` or a date object.

    Text is read only as ``YYYY-MM-DD``: pandas would read ``06/07/2025`` month first and
    ``yesterday`` as a date, silently. A ``datetime.date``, ``datetime`` or ``pd.Timestamp``
    is taken as its day, unless it carries a time zone (which day it is depends on the
    business's zone: pass the day instead).

    Raises:
        AsOfError: naming ``name`` and the value.

    """
    if isinstance(value, str):
        text = value.strip()
        try:
            if not ISO_DAY.fullmatch(text):
                raise ValueError(text)
            return _day(dt.date.fromisoformat(text))
        except ValueError:
            raise AsOfError(_named(name, f"expected a date as YYYY-MM-DD, got {value!r}")) from None
    if value is None:
        raise AsOfError(_named(name, "a date is required, as YYYY-MM-DD"))
    if not isinstance(value, dt.date | np.datetime64) or pd.isna(value):
        raise AsOfError(_named(name, f"expected a date as YYYY-MM-DD, got {value!r}"))
    if pd.Timestamp(value).tz is not None:
        zoned = f"{value!r} has a time zone; pass the business's day as YYYY-MM-DD"
        raise AsOfError(_named(name, zoned))
    return _day(value)


def _named(name: str, problem: str) -> str:
    return f"{name}: {problem}" if name else problem


def _day(value: dt.date | np.datetime64) -> pd.Timestamp:
    """Midnight of ``value``'s day, in one resolution whatever the input's (seconds)."""
    return pd.Timestamp(value).normalize().as_unit("s")


def data_end(configured: dt.date | str | pd.Timestamp | None) -> pd.Timestamp:
    """The data's last day: the configured ``data.end_date``, else today.

    The only place predictor reads the clock; runs resolve it once at their entry
    (``jobs.resolve_data_end``) and pass the date down.
    """
    return pd.Timestamp(configured) if configured else pd.Timestamp(dt.date.today())


def day_end(as_of: pd.Timestamp | str) -> pd.Timestamp:
    """The last instant of the cutoff day (cutoffs are inclusive of the whole day)."""
    ts = pd.Timestamp(as_of).normalize()
    return ts + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)


def known_at(dates: Dates, limit: pd.Timestamp | np.ndarray) -> Dates:
    """Which rows are known at ``limit`` (a ``day_end`` instant, or one per row).

    The one point-in-time test: a row is known when its date is on or before the limit; a
    missing date is never known. Works on a Series or a ``datetime64`` array.
    """
    return dates <= limit


def hide_later(dates: np.ndarray, limit: pd.Timestamp | np.ndarray) -> np.ndarray:
    """``dates`` with every date after ``limit`` set to ``NaT``: not yet known at the limit.

    A subscription that ends after the cutoff looked active at the cutoff, so its end date is
    unknown there; the same holds for a ticket resolved after the cutoff.
    """
    return np.where(_later(dates, limit), np.datetime64("NaT"), dates)


def _later(dates: np.ndarray, limit: pd.Timestamp | np.ndarray) -> np.ndarray:
    """Which dates lie after ``limit`` (missing dates do not)."""
    return np.asarray(dates > limit, dtype=bool)


def is_purchase(amount: Amounts) -> Amounts:
    """Which order rows are purchases: every row whose ``amount`` is not negative.

    The contract records a refund as an order row with a negative amount; every other row,
    including a zero-amount order (a free item, a fully discounted order) and a row whose
    amount is unknown, is a purchase. Counts of purchases, recency, purchase days (BG/NBD),
    the churn labels' "no order" rule and the report's purchase levers all use this rule,
    while spend and value sum every row, refunds included (net revenue).
    """
    return ~(amount < 0)


def purchases(orders: pd.DataFrame) -> pd.DataFrame:
    """The purchase rows of an orders frame (``is_purchase``); all rows without ``amount``."""
    if "amount" not in orders.columns:
        return orders
    keep = is_purchase(orders["amount"]).to_numpy(dtype=bool)
    return orders if keep.all() else orders.loc[keep]


def months_after(as_of: pd.Timestamp | str, months: int) -> pd.Timestamp:
    """End of a window of whole calendar months after the cutoff day (a value label's end)."""
    return day_end(add_months(pd.Timestamp(as_of), months))


def months_later(instants: pd.Series, months: int) -> pd.Series:
    """Each instant moved by whole calendar months (the end of each Day One label window)."""
    return instants + pd.DateOffset(months=months)


def days_after(as_of: pd.Timestamp | str, days: int) -> pd.Timestamp:
    """End of a window of ``days`` days after the cutoff day (a churn label's end)."""
    return day_end(pd.Timestamp(as_of) + pd.Timedelta(days=days))


def truncate(tables: Tables, as_of: pd.Timestamp | str) -> Tables:
    """Return the tables as they were known at the end of ``as_of``.

    Customers who signed up after the cutoff are dropped with all their rows.
    """
    limit = day_end(as_of)
    customers = tables.customers
    known = known_at(customers["signup_date"], limit).to_numpy()
    late = customers.loc[~known, "customer_id"]
    out: dict[str, pd.DataFrame] = {"customers": _take(customers, known)}
    for name, frame in tables.items():
        if name == "customers":
            continue
        keep = known_at(frame[SPECS[name].event_date], limit).to_numpy()
        if len(late):
            keep = keep & ~contains(late, frame["customer_id"])
        out[name] = _mask_later_dates(name, _take(frame, keep), limit)
    return Tables(**out)


def day_one_windows(customers: pd.DataFrame, window_days: int) -> pd.Series:
    """Per customer, the end of their Day One window (inclusive): signup day + window - 1 day."""
    start = customers.set_index("customer_id")["signup_date"].dt.normalize()
    return start + pd.Timedelta(days=window_days) - pd.Timedelta(microseconds=1)


def truncate_day_one(tables: Tables, window_days: int) -> Tables:
    """Return each customer's rows up to the end of their own Day One window.

    Later dates inside kept rows are masked as in ``truncate``.
    """
    return cut_day_one(tables, window_days)[0]


def cut_day_one(tables: Tables, window_days: int) -> tuple[Tables, dict[str, np.ndarray]]:
    """``truncate_day_one``, and per event table its kept rows' customer positions.

    A position indexes ``tables.customers`` (``int64``); the look-up that decides which rows
    are kept finds them anyway, so a caller that needs them (the Day One features) does not
    look the kept rows up again.
    """
    limits = day_one_windows(tables.customers, window_days)
    ends = np.append(limits.to_numpy(), np.datetime64("NaT"))
    out: dict[str, pd.DataFrame] = {"customers": tables.customers}
    kept: dict[str, np.ndarray] = {}
    for name, frame in tables.items():
        if name == "customers":
            continue
        pos = positions(limits.index, frame["customer_id"])
        limit = ends.take(pos)  # pos -1 (unknown customer) takes the trailing NaT
        keep = known_at(frame[SPECS[name].event_date].to_numpy(), limit) & (pos >= 0)
        rows = np.flatnonzero(keep)
        out[name] = _mask_later_dates(name, _take(frame, keep), limit.take(rows))
        kept[name] = pos.take(rows).astype(np.int64, copy=False)
    return Tables(**out), kept


def _take(frame: pd.DataFrame, keep: np.ndarray) -> pd.DataFrame:
    """The rows where ``keep`` holds (the frame itself when all are kept: no copy).

    The same frame as ``frame[keep]``, built column by column: pandas turns a boolean
    selection into a ``take`` of positions, and Arrow's ``take`` of a text column first joins
    its chunks (a copy of every string), whereas Arrow's ``filter`` works chunk by chunk
    (41M interactions, 4% kept: 0.11 s against 0.30 s). NumPy columns are gathered; other
    columns, and frames with repeated column names, take pandas' own path.
    """
    if keep.all():
        return frame
    if not frame.columns.is_unique:
        return frame[keep]
    rows = np.flatnonzero(keep)
    mask: pa.Array | None = None
    columns: dict[object, object] = {}
    for name in frame.columns:
        values = frame[name].array
        if isinstance(values, pd.arrays.ArrowStringArray):
            mask = pa.array(keep) if mask is None else mask
            data = values.__arrow_array__().filter(mask)
            columns[name] = type(values)(data, dtype=values.dtype)
        else:
            columns[name] = values.take(rows)
    out = pd.DataFrame(columns, index=frame.index.take(rows), copy=False)
    out.columns = frame.columns
    return out.__finalize__(frame)


def _mask_later_dates(
    name: str, frame: pd.DataFrame, limit: pd.Timestamp | np.ndarray
) -> pd.DataFrame:
    """Set dates inside visible rows that lie after the row's limit to ``NaT`` (unknown yet)."""
    later = {}
    for col in _LATER_DATES.get(name, ()):
        if col in frame.columns:
            hidden = _later(frame[col].to_numpy(), limit)
            if hidden.any():
                later[col] = frame[col].where(~hidden)
                for dependent in _KNOWN_WITH.get(col, ()):
                    if dependent in frame.columns:
                        later[dependent] = frame[dependent].where(~hidden)
    return frame.assign(**later) if later else frame


def add_months(ts: pd.Timestamp, months: int) -> pd.Timestamp:
    """``ts`` moved by whole calendar months (day clipped to month end)."""
    return pd.Timestamp(ts) + pd.DateOffset(months=months)


def monthly_cutoffs(start: pd.Timestamp, end: pd.Timestamp, step_days: int) -> list[pd.Timestamp]:
    """Cutoffs from ``end`` backwards every ``step_days`` days, not before ``start``, ascending.

    The automatic cutoff plan (``datasets.candidate_cutoffs``) steps back this way.
    """
    cutoffs = []
    cur = pd.Timestamp(end).normalize()
    while cur >= pd.Timestamp(start).normalize():
        cutoffs.append(cur)
        cur = cur - pd.Timedelta(days=step_days)
    return sorted(cutoffs)


def horizon_days(as_of: pd.Timestamp | str, months: int) -> int:
    """Whole days from the end of ``as_of`` to the end of the day ``months`` months later."""
    return (day_end(add_months(pd.Timestamp(as_of), months)) - day_end(as_of)).days

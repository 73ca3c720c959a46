"""Point-in-time rules: the one place that decides which rows a cutoff may see.

A cutoff (``as_of``) is inclusive and means "the end of that day": rows dated on the cutoff day
are known, rows dated later are not. Dates later than the cutoff inside a visible row
(a subscription's ``end_date``, a ticket's ``resolved_at``) are unknown at the cutoff and are
masked to ``NaT``, so a subscription that ends after the cutoff looks active, as it did then.
"""

from __future__ import annotations

import pandas as pd

from predictor.contract.schema import SPECS
from predictor.contract.tables import Tables

_LATER_DATES: dict[str, tuple[str, ...]] = {
    "subscriptions": ("end_date",),
    "support_tickets": ("resolved_at",),
}


def day_end(as_of: pd.Timestamp | str) -> pd.Timestamp:
    """The last instant of the cutoff day (cutoffs are inclusive of the whole day)."""
    ts = pd.Timestamp(as_of).normalize()
    return ts + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)


def truncate(tables: Tables, as_of: pd.Timestamp | str) -> Tables:
    """Return the tables as they were known at the end of ``as_of``.

    Customers who signed up after the cutoff are dropped with all their rows.
    """
    limit = day_end(as_of)
    out: dict[str, pd.DataFrame] = {}
    for name, frame in tables.items():
        spec = SPECS[name]
        kept = frame[frame[spec.event_date] <= limit]
        masked = [c for c in _LATER_DATES.get(name, ()) if c in kept.columns]
        if masked:
            kept = kept.copy()
            for col in masked:
                kept[col] = kept[col].where(kept[col] <= limit)
        out[name] = kept
    known = out["customers"]["customer_id"]
    for name, frame in out.items():
        if name != "customers":
            out[name] = frame[frame["customer_id"].isin(known)]
    return Tables(**out)


def day_one_windows(customers: pd.DataFrame, window_days: int) -> pd.Series:
    """Per customer, the end of their Day One window (inclusive): signup day + window - 1 day."""
    start = customers.set_index("customer_id")["signup_date"].dt.normalize()
    return start + pd.Timedelta(days=window_days) - pd.Timedelta(microseconds=1)


def truncate_day_one(tables: Tables, window_days: int) -> Tables:
    """Return each customer's rows up to the end of their own Day One window.

    Later dates inside kept rows are masked as in ``truncate``.
    """
    limits = day_one_windows(tables.customers, window_days)
    out: dict[str, pd.DataFrame] = {"customers": tables.customers}
    for name, frame in tables.items():
        if name == "customers":
            continue
        spec = SPECS[name]
        limit = frame["customer_id"].map(limits)
        kept = frame[frame[spec.event_date] <= limit]
        masked = [c for c in _LATER_DATES.get(name, ()) if c in kept.columns]
        if masked:
            kept = kept.copy()
            row_limit = limit.loc[kept.index]
            for col in masked:
                kept[col] = kept[col].where(kept[col] <= row_limit)
        out[name] = kept
    return Tables(**out)


def add_months(ts: pd.Timestamp, months: int) -> pd.Timestamp:
    """``ts`` moved by whole calendar months (day clipped to month end)."""
    return pd.Timestamp(ts) + pd.DateOffset(months=months)


def monthly_cutoffs(start: pd.Timestamp, end: pd.Timestamp, step_days: int) -> list[pd.Timestamp]:
    """Cutoffs from ``end`` backwards every ``step_days`` days, not before ``start``, ascending."""
    cutoffs = []
    cur = pd.Timestamp(end).normalize()
    while cur >= pd.Timestamp(start).normalize():
        cutoffs.append(cur)
        cur = cur - pd.Timedelta(days=step_days)
    return sorted(cutoffs)

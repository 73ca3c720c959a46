"""Subscriptions family: the contract a customer holds and its history (``subscriptions__``).

Only subscriptions started on or before ``as_of`` are seen, and an ``end_date`` after ``as_of``
is unknown then, so such a subscription counts as active. A subscription that ends on the
cutoff day has ended at the (end-of-day) cutoff. Day counts are whole calendar days.

Columns: ``count`` (subscriptions started), ``active`` (1 when one is running at ``as_of``),
``current_tenure_days`` (days since the latest running subscription started; NaN if none),
``first_start_days`` (days since the first one started), ``total_days`` (days subscribed,
summed over subscriptions), ``cancellations`` (ended subscriptions not renewed within
``RENEWAL_DAYS``), ``days_since_last_cancellation``. With ``plan``: ``current_plan``
(category; ``none`` when nothing runs) and ``plan_changes`` (consecutive subscriptions with a
different plan). With ``mrr``: ``current_mrr`` (summed over running subscriptions),
``upgrades`` and ``downgrades`` (consecutive subscriptions whose MRR went up / down).

Recent contract changes (a downgrade often comes before a cancellation): ``days_to_renewal``
(days from ``as_of`` to the next monthly anniversary of the running subscription's start, the
usual renewal and billing day; NaN when nothing runs), ``days_since_plan_change`` (with
``plan``: days since the latest subscription whose plan differs from the one before it), and
with ``mrr``: ``downgrades_90d`` (MRR decreases started in the last 90 days) and
``mrr_change_90d`` (running MRR now against running MRR 90 days earlier, in [-1, 1]).

With ``seats`` (licensed seats or users of a subscription; a change of seats is a new row, like
a change of plan): ``current_seats`` (summed over running subscriptions), ``seat_change_90d``
(running seats now against 90 days earlier, in [-1, 1]) and ``seat_decreases_90d``
(subscriptions started in the last 90 days with fewer seats than the one before). Seats dropping
often come before a cancellation; per-seat usage rates are in the channels family.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from predictor.config import Config
from predictor.features._base import (
    Events,
    balance,
    categorical,
    day_number,
    event_family,
)

PREFIX = "subscriptions__"
RENEWAL_DAYS = 1
"""An ended subscription followed by another starting within this many days is a change of
plan or a renewal, not a cancellation."""
NO_PLAN = "none"


def _features(ev: Events, config: Config) -> pd.DataFrame:
    """Subscription features for every customer as of their own ``as_of`` (inclusive)."""
    pop = ev.pop
    if ev.has("end_date"):
        end = ev.later_dates("end_date")
    else:
        end = np.full(len(ev), np.datetime64("NaT"), dtype="datetime64[us]")
    running = np.isnat(end)
    end_day = np.where(running, ev.pop.as_of_day[ev.code], day_number(end))
    plan_codes, plans = ev.labels("plan", cap=10**9) if ev.has("plan") else (None, [])
    mrr = ev.numbers("mrr") if ev.has("mrr") else None
    rows = _sorted_rows(ev, end, plan_codes, mrr)
    code = ev.code[rows]
    follows = np.zeros(len(rows), dtype=bool)
    follows[1:] = code[1:] == code[:-1]

    cols: dict[str, object] = {"count": ev.count()}
    cols["active"] = (ev.count(running) > 0).astype(np.float64)
    current_start = ev.last_day(running)
    cols["current_tenure_days"] = pop.as_of_day - current_start
    cols["first_start_days"] = pop.as_of_day - ev.first_day()
    cols["total_days"] = ev.total((end_day - ev.day).astype(np.float64))
    cancelled = _cancelled(ev, rows, follows, running, end_day)
    cols["cancellations"] = ev.count(cancelled)
    cols["days_since_last_cancellation"] = pop.as_of_day - ev.maximum(
        end_day.astype(np.float64), cancelled
    )
    cols["days_to_renewal"] = _days_to_renewal(pop.as_of_day, current_start)
    if plan_codes is not None:
        cols["current_plan"] = _current_plan(ev, running, plan_codes, plans)
        changed = np.zeros(len(rows), dtype=bool)
        changed[1:] = plan_codes[rows][1:] != plan_codes[rows][:-1]
        cols["plan_changes"] = _count_rows(ev, code[follows & changed])
        cols["days_since_plan_change"] = pop.as_of_day - _last_day(
            ev, code[follows & changed], ev.day[rows][follows & changed]
        )
    if mrr is not None:
        cols["current_mrr"] = ev.total(mrr, running)
        step = np.zeros(len(rows))
        step[1:] = mrr[rows][1:] - mrr[rows][:-1]
        cols["upgrades"] = _count_rows(ev, code[follows & (step > 0)])
        down = follows & (step < 0)
        cols["downgrades"] = _count_rows(ev, code[down])
        recent = down & (pop.as_of_day[code] - ev.day[rows] < 90)
        cols["downgrades_90d"] = _count_rows(ev, code[recent])
        before = pop.as_of_day - 90
        then = (ev.day <= before[ev.code]) & (end_day > before[ev.code])
        cols["mrr_change_90d"] = balance(cols["current_mrr"], ev.total(mrr, then))
    if ev.has("seats"):
        cols.update(_seat_features(ev, rows, follows, running, end_day))
    return pop.frame({PREFIX + k: v for k, v in cols.items()})


def _seat_features(
    ev: Events, rows: np.ndarray, follows: np.ndarray, running: np.ndarray, end_day: np.ndarray
) -> dict[str, np.ndarray]:
    """Seats (licensed users) now, their change over 90 days and recent seat reductions.

    A subscription whose ``seats`` is missing counts no seats; reductions compare consecutive
    subscriptions (in start order) of one customer.
    """
    seats = np.nan_to_num(ev.numbers("seats"), nan=0.0)
    pop = ev.pop
    current = ev.total(seats, running)
    before = pop.as_of_day - 90
    then = (ev.day <= before[ev.code]) & (end_day > before[ev.code])
    step = np.zeros(len(rows))
    step[1:] = seats[rows][1:] - seats[rows][:-1]
    code = ev.code[rows]
    recent = follows & (step < 0) & (pop.as_of_day[code] - ev.day[rows] < 90)
    return {
        "current_seats": current,
        "seat_change_90d": balance(current, ev.total(seats, then)),
        "seat_decreases_90d": _count_rows(ev, code[recent]),
    }


compute = event_family("subscriptions", "start_date", _features)


def _sorted_rows(
    ev: Events, end: np.ndarray, plan_codes: np.ndarray | None, mrr: np.ndarray | None
) -> np.ndarray:
    """Rows ordered by customer, start, end (running last), MRR and plan: a row-order-free order."""
    end_key = np.where(
        np.isnat(end), np.iinfo(np.int64).max, end.astype("datetime64[us]").view(np.int64)
    )
    keys = [
        plan_codes if plan_codes is not None else np.zeros(len(ev), dtype=np.int64),
        np.nan_to_num(mrr, nan=-np.inf) if mrr is not None else np.zeros(len(ev)),
        end_key,
        ev.time.astype("datetime64[us]").view(np.int64),
        ev.code,
    ]
    return np.lexsort(keys)


def _cancelled(
    ev: Events, rows: np.ndarray, follows: np.ndarray, running: np.ndarray, end_day: np.ndarray
) -> np.ndarray:
    """Ended subscriptions whose customer started no next subscription within ``RENEWAL_DAYS``.

    The next subscription is the following one in start order; one that started before the
    end (an overlap) is a renewal too. Returns a mask over the visible rows.
    """
    start_sorted = ev.day[rows]
    has_next = np.zeros(len(rows), dtype=bool)
    has_next[:-1] = follows[1:]
    next_start = np.zeros(len(rows), dtype=np.int64)
    next_start[:-1] = start_sorted[1:]
    renewed = has_next & (next_start <= end_day[rows] + RENEWAL_DAYS)
    out = np.zeros(len(rows), dtype=bool)
    out[rows] = ~running[rows] & ~renewed
    return out


def _days_to_renewal(as_of_day: np.ndarray, start_day: np.ndarray) -> np.ndarray:
    """Days from ``as_of_day`` to the next monthly anniversary of ``start_day`` (NaN if none).

    The anniversary of a start on the 31st is the last day of shorter months.
    """
    out = np.full(len(as_of_day), np.nan)
    ok = ~np.isnan(start_day)
    if not ok.any():
        return out
    start = start_day[ok].astype(np.int64).astype("datetime64[D]")
    as_of = as_of_day[ok].astype(np.int64).astype("datetime64[D]")
    dom = (start - start.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64)
    month = as_of.astype("datetime64[M]")
    best = None
    for k in (1, 0):
        m = month + np.timedelta64(k, "M")
        length = ((m + 1).astype("datetime64[D]") - m.astype("datetime64[D]")).astype(np.int64)
        day = m.astype("datetime64[D]") + np.minimum(dom, length - 1)
        best = day if best is None else np.where(day > as_of, day, best)
    out[ok] = (best - as_of).astype(np.int64)
    return out


def _last_day(ev: Events, code: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Latest ``day`` per customer code (NaN when none)."""
    out = np.full(ev.n, np.nan)
    if len(code):
        latest = np.full(ev.n, np.iinfo(np.int64).min)
        np.maximum.at(latest, code, day)
        out = np.where(latest == np.iinfo(np.int64).min, np.nan, latest.astype(np.float64))
    return out


def _count_rows(ev: Events, code: np.ndarray) -> np.ndarray:
    return np.bincount(code, minlength=ev.n).astype(np.float64)


def _current_plan(
    ev: Events, running: np.ndarray, plan_codes: np.ndarray, plans: list[str]
) -> pd.Categorical:
    """Plan of the latest-started running subscription, ``none`` when nothing runs.

    Two running subscriptions started at the same instant: the plan whose name sorts last.
    """
    categories = sorted(set(plans) | {NO_PLAN})
    position = np.array([categories.index(p) for p in plans], dtype=np.float64)
    chosen = ev.at_latest(position[plan_codes], running)
    codes = np.where(np.isnan(chosen), categories.index(NO_PLAN), np.nan_to_num(chosen))
    return categorical(codes.astype(np.int64), categories)

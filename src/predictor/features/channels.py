"""Channels family: marketing touches and engagement across channels (``channels__``).

Reads the ``interactions`` table (``channel``: email, sms, push, web, app, store, ...;
``kind``: sent, open, click, visit, session, ...). An *engagement* is an interaction the
customer made: any kind except those in ``PASSIVE_KINDS`` (``sent``, deliveries, bounces,
unsubscribes). Windows end on the ``as_of`` day and include it (``_90d``: the cutoff day and
the 89 days before).

Columns: ``interactions_30d/90d/365d`` (all kinds), ``engagements_90d``, ``open_rate_90d`` and
``click_rate_90d`` (opens and clicks per ``sent`` over 90 days; NaN when nothing was sent),
``active_channels_90d`` and ``active_channels_ever`` (distinct channels with an engagement:
omnichannel breadth), ``days_since_engagement`` (NaN without one), ``engagement_trend``
(engagements per day over the last 30 days against the 60 days before, in [-1, 1]), and the
bounded per-value counts ``channel_90d__<channel>`` and ``kind_90d__<kind>`` (at most
``MAX_LABELS`` each; rarer values pooled as ``other``).

Usage trends (the signal before a cancellation is in trends, not totals), all on engagements:
``engagements_7d``/``30d``; ``engagement_trend_7d_60d`` and ``engagement_trend_30d_90d`` (daily
rate of the last 7 / 30 days against the 60 / 90 days before them, in [-1, 1]);
``engagement_slope_12w`` (least-squares slope of the weekly counts over the last 12 weeks, as a
share of their mean per week; negative = declining); ``engagement_vs_peak`` (the last 28 days
against the busiest 28-day block of the last 364 days, in [0, 1]; 1 = at its peak);
``active_days_share_90d`` (days with an engagement over the days of the last 90 the customer
had signed up for); ``engagement_vs_baseline_7d`` (daily rate of the last 7 days against the
customer's own baseline: the daily rate from 28 to 363 days back, over the days signed up then,
in [-1, 1]; a fade that has lasted weeks has already lowered the shorter windows before it);
and ``days_since__<channel>`` (days since the last engagement per channel).

Accounts (B2B products): when the subscriptions carry ``seats``, ``engagements_per_seat_7d``,
``_30d`` and ``_90d`` (engagements per seat of the running subscriptions at ``as_of``). When the
interactions record failed payments (a kind in ``PAYMENT_FAILED``, e.g. ``payment_failed``; not
an engagement): ``payment_failures_30d``/``90d``, ``days_since_payment_failure`` and
``payment_failure_unpaid`` (1 when no purchase, e.g. a paid invoice, came after the latest failed
payment: the account is in dunning, a common road to involuntary churn).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from predictor.config import Config
from predictor.features import subscriptions
from predictor.features._base import (
    Events,
    Source,
    balance,
    day_number,
    event_family,
    events,
    micros,
    population,
    ratio,
    subset,
)

PREFIX = "channels__"
WINDOWS = (30, 90, 365)
SLOPE_WEEKS = 12
"""Weeks of weekly engagement counts behind ``engagement_slope_12w``."""
PEAK_BLOCKS = 13
"""28-day blocks (364 days) searched for the customer's own peak."""
BASELINE_GAP = 28
"""``engagement_vs_baseline_7d`` compares with the days from this many days back to 364."""
SENT = frozenset({"sent", "send"})
OPEN = frozenset({"open", "opened"})
CLICK = frozenset({"click", "clicked"})
PAYMENT_FAILED = frozenset(
    {"payment_failed", "payment_failure", "charge_failed", "invoice_payment_failed"}
)
"""Kinds that record a failed payment (billing events logged as interactions)."""
PASSIVE_KINDS = (
    SENT
    | PAYMENT_FAILED
    | {
        "delivered",
        "bounce",
        "bounced",
        "unsubscribe",
        "unsubscribed",
        "failed",
    }
)
PER_SEAT_WINDOWS = (7, 30, 90)
_LAST_FAILURE = "_last_payment_failure_us"  # internal: dropped by ``compute``


def _features(ev: Events, config: Config) -> pd.DataFrame:
    """Engagement features for every customer as of their own ``as_of`` (inclusive)."""
    pop = ev.pop
    kind_codes, kinds = ev.labels("kind")
    channel_codes, channels = ev.labels("channel")
    engaged = ~_membership(kind_codes, kinds)(PASSIVE_KINDS)
    recent, d90 = ev.window(0, 90)
    recent_kind, recent_channel = subset(kind_codes, d90), subset(channel_codes, d90)
    recent_engaged = subset(engaged, d90)
    is_kind = _membership(recent_kind, kinds)
    sent_90 = recent.count(is_kind(SENT))

    cols: dict[str, object] = {
        "interactions_30d": recent.window_count(0, 30),
        "interactions_90d": recent.count(),
        "interactions_365d": ev.window_count(0, 365),
        "engagements_90d": recent.count(recent_engaged),
        "open_rate_90d": ratio(recent.count(is_kind(OPEN)), sent_90),
        "click_rate_90d": ratio(recent.count(is_kind(CLICK)), sent_90),
    }
    per_channel = recent.per_label(recent_channel, len(channels), recent_engaged)
    cols["active_channels_90d"] = (per_channel > 0).sum(axis=1).astype(np.float64)
    last_engaged = ev.last_day_per_label(channel_codes, len(channels), engaged)
    # a channel was ever engaged with exactly when it has a last engagement day
    cols["active_channels_ever"] = (~np.isnan(last_engaged)).sum(axis=1).astype(np.float64)
    # every row has a channel label, so the last engagement is the latest of the channels'
    cols["days_since_engagement"] = pop.as_of_day - _latest(last_engaged)
    last_30 = recent.window_count(0, 30, recent_engaged) / 30
    days_30_89 = recent.window_count(30, 90, recent_engaged) / 60
    cols["engagement_trend"] = balance(last_30, days_30_89)
    active_days = _engaged_days(recent, recent_engaged)
    cols.update(_usage_trends(_engagement_counter(ev, engaged), active_days))
    for i, name in enumerate(channels):
        cols[f"days_since__{name}"] = pop.as_of_day - last_engaged[:, i]
    per_channel = recent.per_label(recent_channel, len(channels))
    for i, name in enumerate(channels):
        cols[f"channel_90d__{name}"] = per_channel[:, i]
    per_kind = recent.per_label(recent_kind, len(kinds))
    for i, name in enumerate(kinds):
        cols[f"kind_90d__{name}"] = per_kind[:, i]
    failed = _membership(kind_codes, kinds)(PAYMENT_FAILED) if PAYMENT_FAILED & set(kinds) else None
    if failed is not None and failed.any():
        cols["payment_failures_30d"] = ev.window_count(0, 30, failed)
        cols["payment_failures_90d"] = ev.window_count(0, 90, failed)
        cols["days_since_payment_failure"] = ev.days_since_last(failed)
        cols[_LAST_FAILURE] = ev.maximum(micros(ev.time).astype(np.float64), failed)
    return pop.frame({PREFIX + k: v for k, v in cols.items()})


_interaction_features = event_family("interactions", "occurred_at", _features)


def compute(tables: Source, as_of: pd.Series, config: Config) -> pd.DataFrame:
    """The interaction features, plus per-seat engagement rates when seats are known.

    ``engagements_per_seat_7d/30d/90d``: engagements in the window divided by the seats of the
    running subscriptions at ``as_of`` (``subscriptions.seats``; NaN without seats).
    """
    frame = _interaction_features(tables, as_of, config)
    if PREFIX + _LAST_FAILURE in frame.columns:
        last_failure = frame.pop(PREFIX + _LAST_FAILURE).to_numpy(dtype=np.float64)
        frame[PREFIX + "payment_failure_unpaid"] = _unpaid(tables, as_of, last_failure)
    subs = tables.get("subscriptions")
    if not len(frame.columns) or subs is None or "seats" not in subs.columns:
        return frame
    seats = subscriptions.compute(tables, as_of, config)[subscriptions.PREFIX + "current_seats"]
    seats = seats.reindex(frame.index).to_numpy(dtype=np.float64)
    for days in PER_SEAT_WINDOWS:
        engaged = frame[f"{PREFIX}engagements_{days}d"].to_numpy(dtype=np.float64)
        frame[f"{PREFIX}engagements_per_seat_{days}d"] = ratio(engaged, seats)
    return frame


def _unpaid(tables: Source, as_of: pd.Series, last_failure_us: np.ndarray) -> np.ndarray:
    """1 when the latest failed payment has no purchase (order with amount > 0) after it.

    0 when the customer has no failed payment; ``last_failure_us``: its instant (microseconds,
    NaN when none), per customer in ``tables.customers`` order.
    """
    orders = events(population(tables, as_of), tables, "orders", "order_date")
    if orders is None:
        return (~np.isnan(last_failure_us)).astype(np.float64)
    paid = orders.numbers("amount") > 0
    last_paid = orders.maximum(micros(orders.time).astype(np.float64), paid)
    failed = ~np.isnan(last_failure_us)
    settled = failed & ~np.isnan(last_paid) & (last_paid > np.nan_to_num(last_failure_us))
    return (failed & ~settled).astype(np.float64)


def _latest(last_days: np.ndarray) -> np.ndarray:
    """Per customer, the largest of the per-label last days (NaN when every label has none)."""
    if not last_days.shape[1]:
        return np.full(last_days.shape[0], np.nan)
    return np.fmax.reduce(last_days, axis=1)


class _Counter:
    """Engagements per customer in age windows of the last 364 days (``count(lo, hi)``).

    ``ev`` holds the last 364 days. On ``ordered`` rows (``engaged``: which of them are
    engagements) every interval between consecutive ``USAGE_EDGES`` is counted once, as a
    slice of rows, and a window is the sum of its intervals' counts: each row is counted once,
    nothing is gathered for the whole year, and the counts are whole numbers, so the sums equal
    the window's own count. Otherwise ``ev`` holds engagements only (``engaged`` None) and each
    window is counted on its own.
    """

    def __init__(self, ev: Events, engaged: np.ndarray | None) -> None:
        self.ev = ev
        self.engaged = engaged
        self.parts: list[np.ndarray] = []
        if ev.ordered:
            self.parts = [
                ev.window_count(lo, hi, engaged)
                for lo, hi in zip(USAGE_EDGES[:-1], USAGE_EDGES[1:], strict=True)
            ]

    def count(self, lo: int, hi: int) -> np.ndarray:
        """Engagements per customer aged ``lo`` to ``hi - 1`` days (``float64``)."""
        if not self.parts:
            return self.ev.window_count(lo, hi, self.engaged)
        first, last = USAGE_EDGES.index(lo), USAGE_EDGES.index(hi)
        total = self.parts[first].copy()
        for part in self.parts[first + 1 : last]:
            total += part
        return total


def _usage_windows() -> tuple[int, ...]:
    """Every window edge of ``_usage_trends`` (days of age), sorted."""
    edges = {0, 7, 30, 67, 120, BASELINE_GAP, 364}
    edges |= {7 * b for b in range(SLOPE_WEEKS + 1)} | {28 * b for b in range(PEAK_BLOCKS + 1)}
    return tuple(sorted(edges))


USAGE_EDGES = _usage_windows()
"""Edges of the age intervals the usage trends add up (``_Counter``); the last is 364."""


def _engagement_counter(ev: Events, engaged: np.ndarray) -> _Counter:
    """The usage trends' counter over the engagements (``engaged``) of the last 364 days.

    On ``ordered`` events the year is one slice and the intervals are counted through the
    mask; else the engaged rows are gathered first, so the year's mask covers only them.
    """
    if ev.ordered:
        year, rows = ev.window(0, 364)
        return _Counter(year, subset(engaged, rows))
    return _Counter(ev.restrict(engaged).window(0, 364)[0], None)


def _engaged_days(recent: Events, engaged: np.ndarray) -> np.ndarray:
    """Distinct days with an engagement in the last 90 days, per customer."""
    return recent.distinct(recent.age, engaged)


def _usage_trends(counter: _Counter, active_days: np.ndarray) -> dict[str, np.ndarray]:
    """Trend features of engagements (``counter``: engagements of the last 364 days only)."""
    pop = counter.ev.pop
    count = counter.count
    cols: dict[str, np.ndarray] = {
        "engagements_7d": count(0, 7),
        "engagements_30d": count(0, 30),
    }
    cols["engagement_trend_7d_60d"] = balance(cols["engagements_7d"] / 7, count(7, 67) / 60)
    cols["engagement_trend_30d_90d"] = balance(cols["engagements_30d"] / 30, count(30, 120) / 90)
    weeks = _binned(counter, 7, SLOPE_WEEKS)
    t = np.arange(SLOPE_WEEKS, dtype=np.float64)[::-1]  # weeks[:, 0] is the newest week
    t = t - t.mean()
    slope = (weeks - weeks.mean(axis=1, keepdims=True)) @ t / (t @ t)
    cols["engagement_slope_12w"] = ratio(slope, weeks.mean(axis=1))
    blocks = _binned(counter, 28, PEAK_BLOCKS)
    cols["engagement_vs_peak"] = ratio(blocks[:, 0], blocks.max(axis=1))
    age_days = pop.as_of_day - day_number(pop.signup) + 1
    cols["active_days_share_90d"] = ratio(active_days, np.clip(age_days, 1, 90))
    baseline_days = np.clip(age_days - BASELINE_GAP, 0, 364 - BASELINE_GAP)
    baseline = ratio(count(BASELINE_GAP, 364), baseline_days)
    cols["engagement_vs_baseline_7d"] = balance(cols["engagements_7d"] / 7, baseline)
    return cols


def _binned(counter: _Counter, width: int, n_bins: int) -> np.ndarray:
    """Counts per customer and ``width``-day bin of age (bin 0 = the latest), shape (n, bins).

    On ``ordered`` events each bin adds up the counter's interval counts (each interval one
    run of rows, counted alone into a customer-sized array: no per-row bin arithmetic);
    otherwise one count over (customer, bin) keys of the engagements. The counts are the same.
    """
    ev = counter.ev
    if counter.parts:
        out = np.empty((ev.n, n_bins))
        for b in range(n_bins):
            out[:, b] = counter.count(b * width, (b + 1) * width)
        return out
    inside = np.flatnonzero(ev.age < width * n_bins)
    code = ev.code.take(inside) * n_bins + ev.age.take(inside) // width
    flat = np.bincount(code, minlength=ev.n * n_bins).astype(np.float64)
    return flat.reshape(ev.n, n_bins)


def _membership(codes: np.ndarray, names: list[str]) -> Callable[[frozenset[str]], np.ndarray]:
    """A function telling, per row, whether the row's label is in a set of names."""

    def within(allowed: frozenset[str]) -> np.ndarray:
        hit = np.array([n in allowed for n in names], dtype=bool)
        return hit[codes] if len(names) else np.zeros(len(codes), dtype=bool)

    return within

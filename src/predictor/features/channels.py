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
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from predictor.config import Config
from predictor.contract.tables import Tables
from predictor.features._base import Events, balance, population, ratio

PREFIX = "channels__"
WINDOWS = (30, 90, 365)
SENT = frozenset({"sent", "send"})
OPEN = frozenset({"open", "opened"})
CLICK = frozenset({"click", "clicked"})
PASSIVE_KINDS = SENT | {
    "delivered",
    "bounce",
    "bounced",
    "unsubscribe",
    "unsubscribed",
    "failed",
}


def compute(tables: Tables, as_of: pd.Series, config: Config) -> pd.DataFrame:
    """Engagement features for every customer as of their own ``as_of`` (inclusive)."""
    pop = population(tables, as_of)
    if tables.interactions is None:
        return pop.empty()
    ev = Events(pop, tables.interactions, "occurred_at")
    kind_codes, kinds = ev.labels("kind")
    channel_codes, channels = ev.labels("channel")
    engaged = ~_membership(kind_codes, kinds)(PASSIVE_KINDS)
    d90 = ev.age < 90
    recent = ev.restrict(d90)
    recent_kind, recent_channel, recent_engaged = kind_codes[d90], channel_codes[d90], engaged[d90]
    is_kind = _membership(recent_kind, kinds)
    sent_90 = recent.count(is_kind(SENT))

    cols: dict[str, object] = {
        "interactions_30d": recent.count(recent.age < 30),
        "interactions_90d": recent.count(),
        "interactions_365d": ev.count(ev.age < 365),
        "engagements_90d": recent.count(recent_engaged),
        "open_rate_90d": ratio(recent.count(is_kind(OPEN)), sent_90),
        "click_rate_90d": ratio(recent.count(is_kind(CLICK)), sent_90),
    }
    per_channel = recent.per_label(recent_channel, len(channels), recent_engaged)
    cols["active_channels_90d"] = (per_channel > 0).sum(axis=1).astype(np.float64)
    per_channel = ev.per_label(channel_codes, len(channels), engaged)
    cols["active_channels_ever"] = (per_channel > 0).sum(axis=1).astype(np.float64)
    cols["days_since_engagement"] = ev.days_since_last(engaged)
    last_30 = recent.count(recent_engaged & (recent.age < 30)) / 30
    days_30_89 = recent.count(recent_engaged & (recent.age >= 30)) / 60
    cols["engagement_trend"] = balance(last_30, days_30_89)
    per_channel = recent.per_label(recent_channel, len(channels))
    for i, name in enumerate(channels):
        cols[f"channel_90d__{name}"] = per_channel[:, i]
    per_kind = recent.per_label(recent_kind, len(kinds))
    for i, name in enumerate(kinds):
        cols[f"kind_90d__{name}"] = per_kind[:, i]
    return pop.frame({PREFIX + k: v for k, v in cols.items()})


def _membership(codes: np.ndarray, names: list[str]) -> Callable[[frozenset[str]], np.ndarray]:
    """A function telling, per row, whether the row's label is in a set of names."""

    def within(allowed: frozenset[str]) -> np.ndarray:
        hit = np.array([n in allowed for n in names], dtype=bool)
        return hit[codes] if len(names) else np.zeros(len(codes), dtype=bool)

    return within

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
    d90 = ev.age < 90
    is_kind = _membership(kind_codes, kinds)
    engaged = ~is_kind(PASSIVE_KINDS)
    sent_90 = ev.count(d90 & is_kind(SENT))

    cols: dict[str, object] = {}
    for w in WINDOWS:
        cols[f"interactions_{w}d"] = ev.count(ev.age < w)
    cols["engagements_90d"] = ev.count(d90 & engaged)
    cols["open_rate_90d"] = ratio(ev.count(d90 & is_kind(OPEN)), sent_90)
    cols["click_rate_90d"] = ratio(ev.count(d90 & is_kind(CLICK)), sent_90)
    per_channel_engaged = ev.per_label(channel_codes, len(channels), engaged & d90)
    cols["active_channels_90d"] = (per_channel_engaged > 0).sum(axis=1).astype(np.float64)
    per_channel_ever = ev.per_label(channel_codes, len(channels), engaged)
    cols["active_channels_ever"] = (per_channel_ever > 0).sum(axis=1).astype(np.float64)
    cols["days_since_engagement"] = ev.days_since_last(engaged)
    recent = ev.count(engaged & (ev.age < 30)) / 30
    earlier = ev.count(engaged & (ev.age >= 30) & d90) / 60
    cols["engagement_trend"] = balance(recent, earlier)
    per_channel = ev.per_label(channel_codes, len(channels), d90)
    for i, name in enumerate(channels):
        cols[f"channel_90d__{name}"] = per_channel[:, i]
    per_kind = ev.per_label(kind_codes, len(kinds), d90)
    for i, name in enumerate(kinds):
        cols[f"kind_90d__{name}"] = per_kind[:, i]
    return pop.frame({PREFIX + k: v for k, v in cols.items()})


def _membership(codes: np.ndarray, names: list[str]) -> Callable[[frozenset[str]], np.ndarray]:
    """A function telling, per row, whether the row's label is in a set of names."""

    def within(allowed: frozenset[str]) -> np.ndarray:
        hit = np.array([n in allowed for n in names], dtype=bool)
        return hit[codes] if len(names) else np.zeros(len(codes), dtype=bool)

    return within

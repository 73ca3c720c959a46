"""Support family: how much help the customer needed and how it went (``support__``).

Tickets opened on or before ``as_of`` are seen. A ``resolved_at`` after ``as_of`` is unknown
then, so such a ticket is open at ``as_of``. Windows end on the ``as_of`` day and include it
(``_30d``: the cutoff day and the 29 days before). Resolution times are in hours.

Columns: ``tickets``, ``tickets_30d/90d/365d``, ``days_since_last_ticket`` (NaN without one),
``repeat_tickets`` (tickets opened at most ``REPEAT_DAYS`` days after the customer's previous
one). With ``resolved_at``: ``open_tickets`` (unresolved at ``as_of``),
``resolution_hours_mean`` and ``resolution_hours_max`` (resolved tickets),
``sla_breach_share`` (share of tickets resolved after more than ``support.sla_hours``, or still
open for longer than that at ``as_of``). With ``csat`` (1-5): ``csat_mean``, ``csat_min``,
``csat_last`` (rating of the latest rated ticket); when ``resolved_at`` exists only tickets
resolved by ``as_of`` count, since a rating follows the resolution. With ``escalated``:
``escalations``. With ``channel``: ``live_chat_share``. With ``category``: ``tickets__<category>``
(tickets ever opened per category, at most ``MAX_CATEGORIES`` columns).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from predictor.config import Config
from predictor.features._base import Events, event_family, hours, ratio

PREFIX = "support__"
WINDOWS = (30, 90, 365)
REPEAT_DAYS = 30
MAX_CATEGORIES = 10
LIVE_CHAT = "live_chat"


def _features(ev: Events, config: Config) -> pd.DataFrame:
    """Support features for every customer as of their own ``as_of`` (inclusive)."""
    pop = ev.pop
    tickets = ev.count()
    cols: dict[str, object] = {"tickets": tickets}
    for w in WINDOWS:
        cols[f"tickets_{w}d"] = ev.count(ev.age < w)
    cols["days_since_last_ticket"] = ev.days_since_last()
    cols["repeat_tickets"] = _repeats(ev)
    resolved = None
    if ev.has("resolved_at"):
        resolved = ev.later_dates("resolved_at")
        cols.update(_resolution(ev, resolved, tickets, config.support.sla_hours))
    if ev.has("csat"):
        csat = ev.numbers("csat")
        rated = ~np.isnan(csat)
        if resolved is not None:
            rated &= ~np.isnat(resolved)
        cols["csat_mean"] = ev.mean(csat, rated)
        cols["csat_min"] = ev.minimum(csat, rated)
        cols["csat_last"] = ev.at_latest(csat, rated)
    if ev.has("escalated"):
        cols["escalations"] = ev.count(ev.flags("escalated"))
    if ev.has("channel"):
        codes, names = ev.labels("channel", cap=10**9)
        live = np.array([n == LIVE_CHAT for n in names], dtype=bool)
        via_chat = live[codes] if len(names) else np.zeros(0, dtype=bool)
        cols["live_chat_share"] = ratio(ev.count(via_chat), tickets)
    if ev.has("category"):
        codes, names = ev.labels("category", cap=MAX_CATEGORIES)
        per = ev.per_label(codes, len(names))
        for i, name in enumerate(names):
            cols[f"tickets__{name}"] = per[:, i]
    return pop.frame({PREFIX + k: v for k, v in cols.items()})


compute = event_family("support_tickets", "opened_at", _features)


def _resolution(
    ev: Events, resolved: np.ndarray, tickets: np.ndarray, sla_hours: float
) -> dict[str, np.ndarray]:
    """Open tickets, resolution hours and the share of tickets breaching the SLA."""
    is_open = np.isnat(resolved)
    took = np.clip(hours(resolved, ev.time), 0, None)
    waiting = hours(ev.pop.as_of[ev.code], ev.time)
    breach = np.where(is_open, waiting > sla_hours, took > sla_hours)
    return {
        "open_tickets": ev.count(is_open),
        "resolution_hours_mean": ev.mean(took),
        "resolution_hours_max": ev.maximum(took),
        "sla_breach_share": ratio(ev.count(breach), tickets),
    }


def _repeats(ev: Events) -> np.ndarray:
    """Tickets opened within ``REPEAT_DAYS`` calendar days after the customer's previous ticket."""
    code, gap = ev.gaps()
    return np.bincount(code[gap <= REPEAT_DAYS], minlength=ev.n).astype(np.float64)

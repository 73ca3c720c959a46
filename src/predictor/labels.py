"""Targets the models learn from. Every label reads only the window after its cutoff.

Windows are half-open on the left: a label for cutoff ``t`` covers events dated in
``(end of day t, end of day t + horizon]`` (``timeline.months_after`` / ``timeline.days_after``),
so an event on the cutoff day belongs to the features, never to the label. A "purchase" is
``timeline.is_purchase``: a refund row (negative amount) is not one. A label exists only when its window ends on or before the
data's end (``data_end``); incomplete windows are never used for training or evaluation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from predictor.config import ChurnConfig, ValueConfig
from predictor.contract.tables import Tables
from predictor.timeline import (
    day_end,
    day_one_windows,
    days_after,
    is_purchase,
    known_at,
    months_after,
    months_later,
)


def order_value(orders: pd.DataFrame, value: ValueConfig) -> pd.Series:
    """Value of each order: revenue, or gross margin (configured rate where unknown)."""
    if value.kind == "revenue":
        return orders["amount"].astype(float)
    estimated = orders["amount"].astype(float) * value.margin_rate
    if "margin" not in orders.columns:
        return estimated
    return orders["margin"].astype(float).fillna(estimated)


def _window_value(
    tables: Tables, starts: pd.Series, ends: pd.Series, value: ValueConfig
) -> pd.Series:
    """Per customer, value of events in ``(starts, ends]`` (both per-customer instants)."""
    orders = _in_windows(tables.orders, "order_date", starts, ends)
    amounts = order_value(orders, value)
    total = amounts.groupby(orders["customer_id"]).sum()
    result = total.reindex(starts.index, fill_value=0.0)
    tickets = tables.support_tickets
    if value.kind == "margin" and value.cost_per_ticket > 0 and tickets is not None:
        count = _in_windows(tickets, "opened_at", starts, ends).groupby("customer_id").size()
        result = result - value.cost_per_ticket * count.reindex(result.index, fill_value=0)
    return result.astype(float).rename("value")


def _in_windows(
    frame: pd.DataFrame, date_column: str, starts: pd.Series, ends: pd.Series
) -> pd.DataFrame:
    """Rows dated in their customer's ``(start, end]``.

    Rows outside the span of all windows are dropped first by a plain date comparison, so the
    per-customer look-ups run only on the rows that can be inside one (a 13-month window
    over years of history reads a fraction of the table).
    """
    if starts.empty:
        return frame.iloc[:0]
    dates = frame[date_column]
    frame = frame[(dates > starts.min()) & (dates <= ends.max())]
    dates = frame[date_column]
    lo = frame["customer_id"].map(starts)
    hi = frame["customer_id"].map(ends)
    return frame[(dates > lo) & (dates <= hi)]


def value_label(tables: Tables, as_of: pd.Timestamp, value: ValueConfig) -> pd.Series:
    """Value in the ``value.horizon_months`` calendar months after the cutoff.

    Population: customers who signed up on or before the cutoff.
    """
    cutoff = day_end(as_of)
    customers = tables.customers
    ids = customers.loc[known_at(customers["signup_date"], cutoff), "customer_id"]
    start = pd.Series(cutoff, index=pd.Index(ids, name="customer_id"))
    end = pd.Series(value_label_end(as_of, value), index=start.index)
    return _window_value(tables, start, end, value).rename("value_13m")


def value_label_end(as_of: pd.Timestamp, value: ValueConfig) -> pd.Timestamp:
    """The last instant the value label of a cutoff reads."""
    return months_after(as_of, value.horizon_months)


def day_one_label(
    tables: Tables, window_days: int, value: ValueConfig, data_end: pd.Timestamp
) -> pd.Series:
    """Value in the ``horizon_months`` after each customer's Day One window.

    Only customers whose whole label window ends on or before ``data_end`` get a label.
    """
    window_end = day_one_windows(tables.customers, window_days)
    label_end = months_later(window_end, value.horizon_months)
    complete = label_end <= day_end(data_end)
    if not complete.any():
        return pd.Series(dtype=float, name="day_one_value", index=pd.Index([], name="customer_id"))
    labels = _window_value(tables, window_end[complete], label_end[complete], value)
    return labels.rename("day_one_value")


def churn_rule(tables: Tables, churn: ChurnConfig) -> str:
    """The churn rule in force: 'subscription' or 'no_order'."""
    if churn.rule != "auto":
        return churn.rule
    subs = tables.subscriptions
    return "subscription" if subs is not None and len(subs) else "no_order"


def _active_subscribers(subs: pd.DataFrame, instant: pd.Timestamp) -> pd.Index:
    """Customers holding a subscription that covers ``instant``."""
    end = subs["end_date"] if "end_date" in subs.columns else pd.Series(pd.NaT, index=subs.index)
    covering = (subs["start_date"] <= instant) & (end.isna() | (end > instant))
    return pd.Index(subs.loc[covering, "customer_id"].unique())


def _purchasers(orders: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.Index:
    """Customers with a purchase dated in ``(start, end]``; a refund row is not a purchase."""
    inside = (orders["order_date"] > start) & known_at(orders["order_date"], end)
    if "amount" in orders.columns:
        inside &= is_purchase(orders["amount"])
    return pd.Index(orders.loc[inside, "customer_id"].unique())


def _by_subscription(tables: Tables, rule: str) -> bool:
    """Whether churn is read from subscriptions (the rule says so and the table exists)."""
    return rule == "subscription" and tables.subscriptions is not None


def churn_population(
    tables: Tables, as_of: pd.Timestamp, churn: ChurnConfig, rule: str
) -> pd.Index:
    """Customers who can churn after the cutoff: the population of ``churn_label``.

    Rule 'subscription': a subscription covers the end of the cutoff day. Rule 'no_order' (and
    'subscription' on data without a subscriptions table): a purchase in the ``lookback_days``
    ending on the cutoff day. Scoring flags the same customers as active, so training and
    scoring cannot disagree on who is at risk.
    """
    cutoff = day_end(as_of)
    if _by_subscription(tables, rule):
        return _active_subscribers(tables.subscriptions, cutoff)
    lookback_start = cutoff - pd.Timedelta(days=churn.lookback_days)
    return _purchasers(tables.orders, lookback_start, cutoff)


def churn_label(tables: Tables, as_of: pd.Timestamp, churn: ChurnConfig) -> pd.Series:
    """1 when a customer active at the cutoff churns within ``churn.horizon_days``, else 0.

    Population: ``churn_population``. Churned under rule 'subscription': no subscription covers
    the end of the horizon; under rule 'no_order': no purchase (refunds do not count) in
    ``(cutoff, cutoff + horizon_days]``. The index is the population.
    """
    cutoff = day_end(as_of)
    horizon_end = churn_label_end(as_of, churn)
    rule = churn_rule(tables, churn)
    population = churn_population(tables, as_of, churn, rule)
    if _by_subscription(tables, rule):
        still = _active_subscribers(tables.subscriptions, horizon_end)
    else:
        still = _purchasers(tables.orders, cutoff, horizon_end)
    churned = ~population.isin(still)
    label = pd.Series(np.asarray(churned, dtype=int), index=population, name="churn")
    label.index.name = "customer_id"
    return label.sort_index()


def churn_label_end(as_of: pd.Timestamp, churn: ChurnConfig) -> pd.Timestamp:
    """The last instant the churn label of a cutoff reads."""
    return days_after(as_of, churn.horizon_days)

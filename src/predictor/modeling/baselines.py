"""Naive baselines a marketer would compute, to benchmark the learned models against.

Every baseline takes ``(orders, customers, as_of, ...)``, uses only orders dated on or before
the end of the ``as_of`` day (the cutoff is inclusive, as everywhere in ``predictor``) and
returns a Series indexed by ``customer_id`` covering every customer of ``customers`` whose
``signup_date`` is on or before ``as_of`` (in ``customers``' order), including customers
without any order. Pure functions: no file I/O, no tracking.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from predictor.timeline import DAYS_PER_MONTH, add_months, day_end, known_at, purchases

__all__ = [
    "formula_clv",
    "mean_value",
    "monthly_churn_rate",
    "recency_churn_score",
    "trailing_value",
]


def _population(customers: pd.DataFrame, as_of: pd.Timestamp | str) -> pd.Series:
    """Signup dates of the customers known at the cutoff, indexed by ``customer_id``."""
    known = customers.loc[known_at(customers["signup_date"], day_end(as_of))]
    signup = known.set_index("customer_id")["signup_date"]
    return signup[~signup.index.duplicated()]


def _visible_orders(orders: pd.DataFrame, as_of: pd.Timestamp | str) -> pd.DataFrame:
    """Orders dated on or before the end of the ``as_of`` day."""
    return orders.loc[known_at(orders["order_date"], day_end(as_of))]


def trailing_value(
    orders: pd.DataFrame,
    customers: pd.DataFrame,
    as_of: pd.Timestamp | str,
    months: int = 13,
    value_col: str = "amount",
) -> pd.Series:
    """Value in the last ``months`` calendar months, used as the prediction of the next ones.

    The window is ``(as_of - months calendar months, as_of]`` by day: for ``as_of`` =
    2020-12-31 and 13 months, orders of 2019-12-01..2020-12-31. "Next year looks like last
    year": the simplest value forecast there is. Customers younger than the window are not
    extrapolated; customers without orders in the window get 0.
    """
    population = _population(customers, as_of)
    start = add_months(pd.Timestamp(as_of).normalize(), -months)
    visible = _visible_orders(orders, as_of)
    window = visible.loc[visible["order_date"] >= start + pd.Timedelta(days=1)]
    value = window.groupby("customer_id")[value_col].sum()
    out = value.reindex(population.index, fill_value=0.0).astype("float64")
    return out.rename("trailing_value")


def monthly_churn_rate(
    orders: pd.DataFrame,
    customers: pd.DataFrame,
    as_of: pd.Timestamp | str,
) -> float:
    """Estimate the population's monthly churn rate from its history up to ``as_of`` (or NaN).

    A period-over-period retention estimate, as a marketer would compute it: with periods of
    ``P`` calendar months, the customers who purchased in the previous period
    ``(as_of - 2P, as_of - P]`` are the active base, and the retained ones purchased again in
    the latest period ``(as_of - P, as_of]`` (a refund is not a purchase: ``is_purchase``). With retention ``R`` = retained / active, the
    monthly churn rate is ``1 - R ** (1 / P)``. ``P`` is 12 months when two full years of
    history exist and shrinks to half the available history otherwise (at least one month),
    so the estimate works on short histories too. Returns NaN when the previous period holds
    no active customer.
    """
    visible = purchases(_visible_orders(orders, as_of))
    visible = visible.loc[visible["customer_id"].isin(_population(customers, as_of).index)]
    if visible.empty:
        return float("nan")
    end = pd.Timestamp(as_of).normalize()
    history_days = (end - visible["order_date"].min().normalize()).days + 1
    period = int(min(12, max(1, (history_days / DAYS_PER_MONTH) // 2)))
    mid = add_months(end, -period)
    start = add_months(end, -2 * period)
    day = visible["order_date"].dt.normalize()
    previous = set(visible.loc[(day > start) & (day <= mid), "customer_id"])
    latest = set(visible.loc[day > mid, "customer_id"])
    if not previous:
        return float("nan")
    retention = len(previous & latest) / len(previous)
    return float(1.0 - retention ** (1.0 / period))


def formula_clv(
    orders: pd.DataFrame,
    customers: pd.DataFrame,
    as_of: pd.Timestamp | str,
    horizon_months: int = 13,
    value_col: str = "amount",
) -> pd.Series:
    """Compute the textbook CLV = AOV x purchase frequency x expected lifespan, per customer.

    * AOV: the customer's mean order value (order rows up to ``as_of``, refund rows included,
      so AOV x frequency is the customer's net spend per month); customers without
      orders get the population's mean order value (irrelevant for them, see frequency).
    * Purchase frequency: the customer's orders per month over their observed tenure, from
      signup to the end of ``as_of``, with a minimum tenure of one month (so a customer who
      signed up yesterday with one order has frequency 1 per month, not 30).
    * Expected lifespan in months: ``1 / monthly_churn_rate(...)`` (period-over-period
      retention of the population, see there), capped at ``horizon_months``; when the churn
      rate is unknown (too little history) or zero, the lifespan is the horizon.

    Value = AOV x frequency x min(lifespan, horizon_months). It is 0 for customers without
    orders and positive for customers whose orders have a positive mean value (negative when
    refunds dominate a customer's orders).
    """
    population = _population(customers, as_of)
    visible = _visible_orders(orders, as_of)
    visible = visible.loc[visible["customer_id"].isin(population.index)]
    by_customer = visible.groupby("customer_id")[value_col]
    population_aov = float(visible[value_col].mean()) if len(visible) else 0.0
    aov = by_customer.mean().reindex(population.index).fillna(population_aov)
    n_orders = by_customer.size().reindex(population.index, fill_value=0)
    tenure_days = (day_end(as_of) - population).dt.total_seconds() / 86400.0
    tenure_months = np.maximum(tenure_days / DAYS_PER_MONTH, 1.0)
    frequency = n_orders / tenure_months

    churn = monthly_churn_rate(orders, customers, as_of)
    lifespan = float(horizon_months) if not churn > 0 else min(1.0 / churn, horizon_months)
    return (aov * frequency * lifespan).astype("float64").rename("formula_clv")


def recency_churn_score(
    orders: pd.DataFrame,
    customers: pd.DataFrame,
    as_of: pd.Timestamp | str,
    default_gap_days: float = 90.0,
) -> pd.Series:
    """Churn risk in [0, 1] from how long a customer has been silent relative to their habit.

    The rule: ``score = 1 - exp(-silence / usual_gap)``, where ``silence`` is the number of
    days from the customer's last purchase day to ``as_of`` and ``usual_gap`` is their mean gap
    between distinct purchase days (refunds are not purchases: ``timeline.is_purchase``). If purchase gaps were exponential with that mean,
    ``exp(-silence / usual_gap)`` would be the chance that a still-active customer is silent
    this long, so the score is how unusual the silence is: 0 right after an order, 0.63 after
    one usual gap, 0.95 after three.

    Customers with a single order day use the population's median gap between order days
    (``default_gap_days`` when nobody has ordered twice, 90 days = the contract's default
    churn horizon); customers without orders count their silence from signup. Gaps are at
    least one day.
    """
    population = _population(customers, as_of)
    visible = purchases(_visible_orders(orders, as_of))
    visible = visible.loc[visible["customer_id"].isin(population.index)]
    days = (
        visible.assign(day=visible["order_date"].dt.normalize())
        .drop_duplicates(["customer_id", "day"])
        .sort_values(["customer_id", "day"])
    )
    gaps = days.groupby("customer_id")["day"].diff().dt.days.dropna()
    typical = float(gaps.median()) if len(gaps) else float(default_gap_days)

    by_customer = days.groupby("customer_id")["day"]
    first, last, n_days = by_customer.min(), by_customer.max(), by_customer.size()
    own_gap = ((last - first).dt.days / (n_days - 1)).where(n_days > 1)
    usual_gap = own_gap.reindex(population.index).fillna(typical).clip(lower=1.0)

    last_seen = last.reindex(population.index).fillna(population.dt.normalize())
    silence = (pd.Timestamp(as_of).normalize() - last_seen).dt.days.clip(lower=0)
    score = 1.0 - np.exp(-silence / usual_gap)
    return score.astype("float64").rename("recency_churn_score")


def mean_value(
    train_target: pd.Series,
    customers: pd.DataFrame,
    as_of: pd.Timestamp | str,
) -> pd.Series:
    """Predict the mean of the training labels for every customer (the constant baseline).

    Any model worth shipping must beat it; ``R^2`` against this prediction is 0 on the
    training population. NaN labels are ignored; an empty target gives 0.
    """
    population = _population(customers, as_of)
    mean = float(train_target.mean()) if train_target.notna().any() else 0.0
    return pd.Series(mean, index=population.index, dtype="float64", name="mean_value")

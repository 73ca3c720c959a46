"""Orders family: recency, frequency, monetary value and their trends (``orders__`` prefix).

A *purchase* is an order row with ``amount >= 0`` (or an unknown amount; ``timeline.is_purchase``);
a *refund* is a row with ``amount < 0``. *Spend* is net revenue: purchases plus refunds. All windows end on the
``as_of`` day and include it: ``_30d`` covers the cutoff day and the 29 days before it. Day
counts are whole calendar days (an order on the cutoff day is 0 days ago).

Columns always present: ``count``, ``count_30d/90d/365d`` (purchases), ``recency_days`` (days
since the last purchase, NaN without one), ``days_since_first``, ``first_order_delay_days``
(signup to first purchase), ``count_first_30d`` (purchases in the first 30 days from signup),
``spend_total`` (monetary value), ``spend_30d/90d/365d``, ``spend_prev_90d`` (days 90-179
before ``as_of``), ``spend_trend_90d`` (last 90 days vs the 90 before, in [-1, 1]), ``aov``
(mean purchase amount), ``first_order_amount``, ``margin_total`` and ``margin_rate`` (the
``margin`` column when known, else ``value.margin_rate`` x amount), ``ipt_mean_days`` and
``ipt_std_days`` (inter-purchase time: days between consecutive purchases), ``recency_vs_ipt``
(recency over the usual gap: above 1 means overdue), ``refund_count``, ``refund_amount``.

With the optional columns: ``first_order_items`` and ``items_per_order`` (``items``),
``n_product_lines`` (``product_line``), ``n_channels`` and ``channel_share__<channel>``
(``channel``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from predictor.config import Config
from predictor.features._base import Events, balance, event_family, ratio
from predictor.features._encoding import micros
from predictor.timeline import is_purchase

PREFIX = "orders__"
WINDOWS = (30, 90, 365)
EARLY_DAYS = 30
"""``count_first_30d`` counts purchases made on days 0-29 after the signup day."""


def _features(ev: Events, config: Config) -> pd.DataFrame:
    """Order features for every customer as of their own ``as_of`` (inclusive).

    Purchases are nearly every row, so the purchase-only aggregates read one restricted view
    (``bought``) instead of masking every array of all the rows each time.
    """
    pop = ev.pop
    amount = ev.numbers("amount")
    buy = is_purchase(amount)
    refund = ~buy
    bought, bought_rows = ev.select(buy)
    cols: dict[str, object] = {}
    count = bought.count()
    cols["count"] = count
    for w in WINDOWS:
        cols[f"count_{w}d"] = bought.window_count(0, w)
    last_day = bought.last_day()
    cols["recency_days"] = pop.as_of_day - last_day
    first_day = bought.first_day()
    cols["days_since_first"] = pop.as_of_day - first_day
    signup_day = pop.signup.astype("datetime64[D]").astype(np.int64)
    cols["first_order_delay_days"] = first_day - signup_day
    since_signup = bought.day - signup_day[bought.code]
    cols["count_first_30d"] = bought.count(since_signup < EARLY_DAYS)
    cols["spend_total"] = ev.total(amount)
    for w in WINDOWS:
        cols[f"spend_{w}d"] = ev.window_total(0, w, amount)
    previous = ev.window_total(90, 180, amount)
    cols["spend_prev_90d"] = previous
    cols["spend_trend_90d"] = balance(cols["spend_90d"], previous)
    bought_amount = bought.numbers("amount")
    cols["aov"] = bought.mean(bought_amount)
    first_basket = _FirstBasket(bought)
    cols["first_order_amount"] = first_basket.total(bought_amount)
    cols.update(_margin(ev, amount, cols["spend_total"], config.value.margin_rate))
    cols.update(_inter_purchase(bought, count, first_day, last_day, cols["recency_days"]))
    cols["refund_count"] = ev.count(refund)
    cols["refund_amount"] = ev.total(-amount, refund)
    if ev.has("items"):
        items = bought.numbers("items")
        cols["first_order_items"] = first_basket.total(items)
        cols["items_per_order"] = bought.mean(items)
    if ev.has("product_line"):
        lines, _ = bought.labels("product_line", cap=10**9)
        cols["n_product_lines"] = bought.distinct(lines)
    if ev.has("channel"):
        cols.update(_channels(ev, bought_rows, bought, count))
    return pop.frame({PREFIX + k: v for k, v in cols.items()})


compute = event_family("orders", "order_date", _features)


class _FirstBasket:
    """The purchases at each customer's earliest purchase instant, found once for every total.

    ``bought`` holds the purchases only. Orders placed at exactly the same instant are one
    basket; summing them keeps the result independent of row order.
    """

    def __init__(self, bought: Events) -> None:
        t = micros(bought.time).astype(np.float64)
        first = bought.minimum(t)
        self.view, self.rows = bought.select(t == first[bought.code])
        self.none = np.isnan(first)

    def total(self, values: np.ndarray) -> np.ndarray:
        """Sum of ``values`` (aligned to ``bought``) over the basket; NaN without a purchase."""
        out = self.view.total(values.take(self.rows))
        out[self.none] = np.nan
        return out


def _margin(
    ev: Events, amount: np.ndarray, spend: np.ndarray, rate: float
) -> dict[str, np.ndarray]:
    """Gross margin over all visible orders and its share of net revenue."""
    margin = rate * amount
    if ev.has("margin"):
        known = ev.numbers("margin")
        margin = np.where(np.isnan(known), margin, known)
    total = ev.total(margin)
    return {"margin_total": total, "margin_rate": ratio(total, np.where(spend > 0, spend, 0))}


def _inter_purchase(
    bought: Events,
    count: np.ndarray,
    first_day: np.ndarray,
    last_day: np.ndarray,
    recency: np.ndarray,
) -> dict[str, np.ndarray]:
    """Mean and sample std of the days between consecutive purchases (calendar days).

    The mean is ``(last day - first day) / (purchases - 1)`` (NaN below 2 purchases); the std
    needs at least 2 gaps (3 purchases). ``recency_vs_ipt`` divides recency by the mean gap.
    """
    mean = ratio(last_day - first_day, count - 1)
    gap_code, gap = bought.gaps()
    n = np.bincount(gap_code, minlength=bought.n).astype(np.float64)
    total = np.bincount(gap_code, weights=gap, minlength=bought.n)
    squares = np.bincount(gap_code, weights=gap * gap, minlength=bought.n)
    gap_mean = ratio(total, n)
    var = ratio(squares - n * gap_mean**2, n - 1)
    var[n < 2] = np.nan
    std = np.sqrt(np.clip(var, 0, None))
    return {
        "ipt_mean_days": mean,
        "ipt_std_days": std,
        "recency_vs_ipt": ratio(recency, mean),
    }


def _channels(
    ev: Events, bought_rows: np.ndarray, bought: Events, count: np.ndarray
) -> dict[str, np.ndarray]:
    """Number of distinct order channels and the share of purchases per channel.

    The channel names come from every visible order (refunds too), the shares from purchases
    (``bought``: the rows ``bought_rows`` of ``ev``).
    """
    codes, names = ev.labels("channel")
    per = bought.per_label(codes.take(bought_rows), len(names))
    cols: dict[str, np.ndarray] = {"n_channels": (per > 0).sum(axis=1).astype(np.float64)}
    for i, name in enumerate(names):
        cols[f"channel_share__{name}"] = ratio(per[:, i], count)
    return cols

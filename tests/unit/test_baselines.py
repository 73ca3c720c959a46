"""Marketer baselines: cutoff rules, coverage, and the behaviour each one documents."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from predictor.modeling.baselines import (
    formula_clv,
    mean_value,
    monthly_churn_rate,
    recency_churn_score,
    trailing_value,
)
from predictor.timeline import DAYS_PER_MONTH

AS_OF = "2024-06-30"


def _customers() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["new", "old", "none", "edge", "later"],
            "signup_date": pd.to_datetime(
                ["2024-06-01", "2023-01-01", "2024-01-01", "2023-05-01", "2024-07-01"]
            ),
        }
    )


def _orders() -> pd.DataFrame:
    rows = [
        ("new", "2024-06-29 18:00", 50.0),  # yesterday (before the cutoff)
        ("old", "2023-03-01 10:00", 100.0),  # before the 13-month window
        ("old", "2023-06-01 10:00", 100.0),  # in the 13-month window; old is silent since
        ("edge", "2023-05-30 12:00", 7.0),  # 13 months before the cutoff day: outside
        ("edge", "2023-05-31 00:00", 11.0),  # first day of the 13-month window: inside
        ("edge", "2024-06-30 23:59", 13.0),  # ON the as_of day: inside
        ("edge", "2024-07-01 00:00", 1000.0),  # the day after as_of: ignored
        ("later", "2024-07-02 09:00", 80.0),  # customer signs up after the cutoff
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "order_date", "amount"])
    frame["order_date"] = pd.to_datetime(frame["order_date"])
    return frame


ELIGIBLE = ["new", "old", "none", "edge"]
BASELINES = [trailing_value, formula_clv, recency_churn_score]


@pytest.mark.parametrize("baseline", BASELINES)
def test_baselines_cover_every_signed_up_customer(baseline):
    result = baseline(_orders(), _customers(), AS_OF)
    assert isinstance(result, pd.Series)
    assert list(result.index) == ELIGIBLE
    assert result.index.name == "customer_id"
    assert result.notna().all()


@pytest.mark.parametrize("baseline", BASELINES)
def test_baselines_ignore_future_rows_and_row_order(baseline):
    orders, customers = _orders(), _customers()
    reference = baseline(orders, customers, AS_OF)
    future = pd.DataFrame(
        {
            "customer_id": ["new", "old", "none"],
            "order_date": pd.to_datetime(["2024-07-01", "2024-12-24", "2025-03-03"]),
            "amount": [500.0, 500.0, 500.0],
        }
    )
    with_future = pd.concat([orders, future], ignore_index=True)
    pd.testing.assert_series_equal(baseline(with_future, customers, AS_OF), reference)
    shuffled = with_future.sample(frac=1.0, random_state=3).reset_index(drop=True)
    pd.testing.assert_series_equal(baseline(shuffled, customers, AS_OF), reference)


def test_trailing_value_window():
    value = trailing_value(_orders(), _customers(), AS_OF)
    assert value["edge"] == pytest.approx(11.0 + 13.0)  # 2023-05-31 .. 2024-06-30
    assert value["old"] == pytest.approx(100.0)
    assert value["new"] == pytest.approx(50.0)
    assert value["none"] == 0.0
    three = trailing_value(_orders(), _customers(), AS_OF, months=3)
    assert three["old"] == 0.0 and three["edge"] == pytest.approx(13.0)


def test_recency_churn_score_rule():
    score = recency_churn_score(_orders(), _customers(), AS_OF)
    assert score.between(0, 1).all()
    # Ordered yesterday vs silent for more than a year.
    assert score["new"] < 0.05 < 0.95 < score["old"]
    # old: usual gap 2023-03-01 -> 2023-06-01 = 92 days, silent 2023-06-01 -> 2024-06-30.
    assert score["old"] == pytest.approx(1 - math.exp(-395 / 92))
    # edge ordered ON the as_of day: no silence at all.
    assert score["edge"] == 0.0
    # new has a single order: the population's median gap between order days is used.
    gaps = [92, 1, 396]  # old; edge 05-30 -> 05-31 -> 2024-06-30
    assert score["new"] == pytest.approx(1 - math.exp(-1 / np.median(gaps)))
    # none never ordered: silence counts from signup (2024-01-01 -> 2024-06-30 = 181 days).
    assert score["none"] == pytest.approx(1 - math.exp(-181 / np.median(gaps)))


def test_recency_churn_score_without_any_repeat_uses_default_gap():
    orders = _orders().drop_duplicates("customer_id")
    score = recency_churn_score(orders, _customers(), AS_OF, default_gap_days=30.0)
    assert score["new"] == pytest.approx(1 - math.exp(-1 / 30))


def _retention_history() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Four customers active in 2023; only ``a`` orders again in 2024 (retention 1/4)."""
    customers = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d", "e"],
            "signup_date": pd.to_datetime(
                ["2023-01-01", "2023-02-01", "2023-03-01", "2023-04-01", "2024-12-01"]
            ),
        }
    )
    rows = [
        ("a", "2023-01-01", 100.0),  # previous period (2022-12-31, 2023-12-31]
        ("a", "2024-06-01", 200.0),  # latest period (2023-12-31, 2024-12-31]: a is retained
        ("b", "2023-02-01", 40.0),  # previous period only: lost
        ("c", "2023-03-01", 60.0),  # previous period only: lost
        ("d", "2023-04-01", 80.0),  # previous period only: lost
        # e signed up in December 2024 and has not ordered yet
    ]
    orders = pd.DataFrame(rows, columns=["customer_id", "order_date", "amount"])
    orders["order_date"] = pd.to_datetime(orders["order_date"])
    return customers, orders


def test_monthly_churn_rate_from_period_retention():
    customers, orders = _retention_history()
    # 24 months of history -> 12-month periods; retention 1/4 per year.
    churn = monthly_churn_rate(orders, customers, "2024-12-31")
    assert churn == pytest.approx(1 - 0.25 ** (1 / 12))
    # No orders, or less than a month of history (nobody active in a previous period): unknown.
    assert math.isnan(monthly_churn_rate(orders.iloc[:0], customers, "2024-12-31"))
    assert math.isnan(monthly_churn_rate(orders.iloc[:1], customers, "2023-01-20"))


def test_formula_clv_unknown_churn_uses_horizon():
    customers, orders = _retention_history()
    clv = formula_clv(orders.iloc[:1], customers, "2023-01-20", horizon_months=13)
    assert clv["a"] == pytest.approx(100.0 * 1.0 * 13)  # tenure < 1 month -> 1 order/month


def test_formula_clv_value():
    customers, orders = _retention_history()
    clv = formula_clv(orders, customers, "2024-12-31", horizon_months=13)
    assert list(clv.index) == ["a", "b", "c", "d", "e"]
    lifespan = 1 / (1 - 0.25 ** (1 / 12))  # about 9.2 months, below the 13-month cap
    tenure_a = 731 / DAYS_PER_MONTH  # 2023-01-01 to the end of 2024-12-31
    assert clv["a"] == pytest.approx(150.0 * 2 / tenure_a * lifespan)
    assert clv["e"] == 0.0  # no orders: no value
    assert (clv[["a", "b", "c", "d"]] > 0).all()


def test_formula_clv_caps_lifespan_at_horizon():
    customers, orders = _retention_history()
    loyal = pd.concat(
        [
            orders,
            pd.DataFrame(
                {
                    "customer_id": ["b", "c", "d"],
                    "order_date": pd.to_datetime(["2024-05-01"] * 3),
                    "amount": [40.0, 60.0, 80.0],
                }
            ),
        ],
        ignore_index=True,
    )
    assert monthly_churn_rate(loyal, customers, "2024-12-31") == 0.0
    clv = formula_clv(loyal, customers, "2024-12-31", horizon_months=13)
    tenure_b = 700 / DAYS_PER_MONTH  # 2023-02-01 to the end of 2024-12-31
    assert clv["b"] == pytest.approx(40.0 * 2 / tenure_b * 13)


def test_formula_clv_min_tenure_is_one_month():
    clv = formula_clv(_orders(), _customers(), AS_OF)
    churn = monthly_churn_rate(_orders(), _customers(), AS_OF)
    lifespan = min(1 / churn, 13)
    # new signed up 30 days before the cutoff (< 1 month): 1 order per month.
    assert clv["new"] == pytest.approx(50.0 * 1.0 * lifespan)
    assert clv["none"] == 0.0


def test_mean_value_is_constant():
    target = pd.Series([10.0, 20.0, np.nan, 60.0], index=["x", "y", "z", "w"])
    result = mean_value(target, _customers(), AS_OF)
    assert list(result.index) == ELIGIBLE
    assert (result == 30.0).all()
    assert (mean_value(target.iloc[:0], _customers(), AS_OF) == 0.0).all()


def test_recency_churn_score_ignores_refunds():
    """A refund is not a purchase: it neither ends a silence nor shortens the usual gap."""
    refund = pd.DataFrame(
        {"customer_id": ["old"], "order_date": pd.to_datetime(["2024-06-20"]), "amount": [-100.0]}
    )
    orders = pd.concat([_orders(), refund], ignore_index=True)
    with_refund = recency_churn_score(orders, _customers(), AS_OF)
    pd.testing.assert_series_equal(with_refund, recency_churn_score(_orders(), _customers(), AS_OF))

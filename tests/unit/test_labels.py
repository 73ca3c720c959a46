"""Labels read only the window after the cutoff; boundaries are as documented."""

import pandas as pd
import pytest

from predictor.config import ChurnConfig, ValueConfig
from predictor.contract.tables import Tables
from predictor.labels import churn_label, churn_population, day_one_label, value_label

AS_OF = pd.Timestamp("2024-03-31")


def _tables(orders, subscriptions=None, tickets=None):
    customers = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "late"],
            "signup_date": pd.to_datetime(["2024-01-01", "2024-01-10", "2024-02-01", "2024-04-02"]),
        }
    )
    return Tables(
        customers=customers, orders=orders, subscriptions=subscriptions, support_tickets=tickets
    )


def _orders(rows):
    frame = pd.DataFrame(rows, columns=["customer_id", "order_date", "amount", "margin"])
    frame["order_date"] = pd.to_datetime(frame["order_date"], format="ISO8601")
    return frame


ORDERS = _orders(
    [
        ("a", "2024-03-31 23:00", 100.0, 30.0),  # on the cutoff day: feature side, not label
        ("a", "2024-04-01 00:00", 10.0, 2.0),  # first instant after the cutoff: label
        ("a", "2025-04-30 12:00", 5.0, 1.0),  # last day of the 13-month window: label
        ("a", "2025-05-01 00:00", 1000.0, 10.0),  # after the window: ignored
        ("b", "2024-02-01", 50.0, None),  # before the cutoff: ignored by the label
        ("b", "2024-06-01", -20.0, None),  # refund inside the window: negative value
        ("late", "2024-04-03", 70.0, 7.0),  # customer not yet acquired at the cutoff
    ]
)


def test_value_label_reads_only_the_window_after_the_cutoff():
    label = value_label(_tables(ORDERS), AS_OF, ValueConfig())
    assert label.to_dict() == {"a": 15.0, "b": -20.0, "c": 0.0}


def test_value_label_margin_uses_rate_when_unknown_and_subtracts_cost_to_serve():
    tickets = pd.DataFrame(
        {
            "customer_id": ["a", "a"],
            "opened_at": pd.to_datetime(["2024-03-31", "2024-05-01"]),  # before / inside window
        }
    )
    cfg = ValueConfig(kind="margin", margin_rate=0.5, cost_per_ticket=4.0)
    label = value_label(_tables(ORDERS, tickets=tickets), AS_OF, cfg)
    assert label["a"] == pytest.approx(2.0 + 1.0 - 4.0)
    assert label["b"] == pytest.approx(-10.0)


def test_appending_rows_beyond_the_window_changes_no_label():
    extra = _orders([("c", "2026-01-01", 999.0, 1.0)])
    base = value_label(_tables(ORDERS), AS_OF, ValueConfig())
    more = value_label(_tables(pd.concat([ORDERS, extra])), AS_OF, ValueConfig())
    pd.testing.assert_series_equal(base, more)


def test_no_order_churn_population_and_label():
    orders = _orders(
        [
            ("a", "2024-03-31", 1.0, None),  # active (ordered on the cutoff day)
            ("a", "2024-06-29", 1.0, None),  # inside the 90-day horizon: not churned
            ("b", "2024-02-01", 1.0, None),  # active, no order afterwards: churned
            ("c", "2023-01-01", 1.0, None),  # outside the lookback: not in the population
            ("c", "2024-04-05", 1.0, None),
        ]
    )
    label = churn_label(_tables(orders), AS_OF, ChurnConfig(horizon_days=90, lookback_days=365))
    assert label.to_dict() == {"a": 0, "b": 1}


def test_no_order_rule_does_not_count_refunds_as_purchases():
    orders = _orders(
        [
            ("a", "2024-03-01", 50.0, None),  # active
            ("a", "2024-04-10", -50.0, None),  # only a refund in the horizon: churned
            ("b", "2024-03-01", 20.0, None),  # active
            ("b", "2024-04-10", 0.0, None),  # a free order is still an order: not churned
            ("c", "2024-03-20", -5.0, None),  # only a refund in the lookback: not in population
            ("c", "2024-04-20", 5.0, None),
        ]
    )
    churn = ChurnConfig(horizon_days=90, lookback_days=365)
    label = churn_label(_tables(orders), AS_OF, churn)
    assert label.to_dict() == {"a": 1, "b": 0}
    population = churn_population(_tables(orders), AS_OF, churn, "no_order")
    assert sorted(population) == ["a", "b"]


def test_subscription_churn_is_the_end_of_all_subscriptions():
    subs = pd.DataFrame(
        {
            "customer_id": ["a", "b", "b", "c"],
            "start_date": pd.to_datetime(["2024-01-01", "2024-01-10", "2024-05-01", "2024-02-01"]),
            "end_date": pd.to_datetime([None, "2024-05-01", None, "2024-04-15"]),
        }
    )
    label = churn_label(_tables(ORDERS, subscriptions=subs), AS_OF, ChurnConfig())
    # a: never ends; b: upgrades (new period starts the day the old ends); c: ends in horizon
    assert label.to_dict() == {"a": 0, "b": 0, "c": 1}


def test_day_one_label_only_for_complete_windows():
    label = day_one_label(_tables(ORDERS), 1, ValueConfig(), data_end=pd.Timestamp("2025-01-31"))
    # a's window (2024-01-01) + 13 months ends 2025-02-01 > data end: incomplete
    assert label.empty
    label = day_one_label(_tables(ORDERS), 1, ValueConfig(), data_end=pd.Timestamp("2025-06-30"))
    assert set(label.index) == {"a", "b", "c", "late"}
    # a's Day One window is 2024-01-01; label covers (2024-01-01 end, 2025-02-01 end]
    assert label["a"] == pytest.approx(100.0 + 10.0)

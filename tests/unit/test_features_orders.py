"""Orders family: exact values on a hand-made table, cutoff 2024-03-31 (inclusive)."""

import numpy as np
import pandas as pd
import pytest

from predictor.contract.tables import Tables
from predictor.features import orders

CUTOFF = "2024-03-31"


@pytest.fixture
def result(make_frame, as_of_at, feature_config) -> pd.DataFrame:
    customers = make_frame(
        [
            ("A", "2023-01-01", "ads"),
            ("B", "2024-03-01", "ads"),
            ("C", "2024-01-01", "ads"),  # no orders at all
        ],
        ["customer_id", "signup_date", "acquisition_channel"],
        dates=("signup_date",),
    )
    cols = ["customer_id", "order_date", "amount", "margin", "channel", "items", "product_line"]
    rows = [
        # A: first purchase, 451 days before the cutoff (outside every window); margin unknown
        ("A", "2023-01-05 10:00", 50.0, None, "web", 2, "shoes"),
        # A: 121 days before: in 365d and in the previous-90d window (days 90-179)
        ("A", "2023-12-01 12:00", 100.0, 40.0, "App", 1, "bags"),
        # A: 45 days before: in 90d, not in 30d
        ("A", "2024-02-15 08:00", 30.0, None, "web", 3, "shoes"),
        # A: refund 21 days before (30d window); not a purchase
        ("A", "2024-03-10 08:00", -20.0, None, "web", None, None),
        # A: on the cutoff day (age 0): counts
        ("A", "2024-03-31 23:00", 20.0, None, "app", 1, "hats"),
        # A: the day after the cutoff: invisible (and its channel must not become a column)
        ("A", "2024-04-01 00:00", 999.0, None, "phone", 9, "coats"),
        # B: two orders at the same instant on the signup day, 30 days before: 90d, not 30d
        ("B", "2024-03-01 09:00", 10.0, None, "store", 1, "hats"),
        ("B", "2024-03-01 09:00", 15.0, None, "store", 2, "hats"),
    ]
    tables = Tables(customers=customers, orders=make_frame(rows, cols, dates=("order_date",)))
    return orders.compute(tables, as_of_at(customers, CUTOFF), feature_config)


def test_counts_and_windows(result):
    a = result.loc["A"]
    assert a["orders__count"] == 4
    assert a["orders__count_30d"] == 1  # only the cutoff-day order; the refund is not a purchase
    assert a["orders__count_90d"] == 2
    assert a["orders__count_365d"] == 3
    assert a["orders__count_first_30d"] == 1
    assert result.loc["B", "orders__count_30d"] == 0  # 30 days ago is outside the 30-day window
    assert result.loc["B", "orders__count_90d"] == 2


def test_recency_and_timing(result):
    a = result.loc["A"]
    assert a["orders__recency_days"] == 0
    assert a["orders__days_since_first"] == 451
    assert a["orders__first_order_delay_days"] == 4
    assert result.loc["B", "orders__recency_days"] == 30
    assert result.loc["B", "orders__first_order_delay_days"] == 0


def test_spend_margin_and_refunds(result, feature_config):
    a = result.loc["A"]
    assert a["orders__spend_total"] == pytest.approx(180.0)
    assert a["orders__spend_30d"] == pytest.approx(0.0)
    assert a["orders__spend_90d"] == pytest.approx(30.0)
    assert a["orders__spend_365d"] == pytest.approx(130.0)
    assert a["orders__spend_prev_90d"] == pytest.approx(100.0)
    assert a["orders__spend_trend_90d"] == pytest.approx((30 - 100) / 130)
    assert a["orders__aov"] == pytest.approx(50.0)
    rate = feature_config.value.margin_rate
    margin = rate * 50 + 40 + rate * 30 + rate * -20 + rate * 20
    assert a["orders__margin_total"] == pytest.approx(margin)
    assert a["orders__margin_rate"] == pytest.approx(margin / 180)
    assert a["orders__refund_count"] == 1
    assert a["orders__refund_amount"] == pytest.approx(20.0)


def test_inter_purchase_time(result):
    a = result.loc["A"]
    assert a["orders__ipt_mean_days"] == pytest.approx(451 / 3)
    assert a["orders__ipt_std_days"] == pytest.approx(np.std([330, 76, 45], ddof=1))
    assert a["orders__recency_vs_ipt"] == 0
    assert result.loc["B", "orders__ipt_mean_days"] == 0  # two orders the same day
    assert np.isnan(result.loc["B", "orders__ipt_std_days"])  # needs two gaps
    assert np.isnan(result.loc["B", "orders__recency_vs_ipt"])


def test_first_order_items_lines_and_channels(result):
    a = result.loc["A"]
    assert a["orders__first_order_amount"] == 50
    assert a["orders__first_order_items"] == 2
    assert a["orders__items_per_order"] == pytest.approx(7 / 4)
    assert a["orders__n_product_lines"] == 3
    assert a["orders__n_channels"] == 2
    assert a["orders__channel_share__web"] == 0.5
    assert a["orders__channel_share__app"] == 0.5  # "App" and "app" are one channel
    assert result.loc["B", "orders__first_order_amount"] == 25  # same-instant orders: one basket
    assert result.loc["B", "orders__first_order_items"] == 3
    assert result.loc["B", "orders__channel_share__store"] == 1
    assert "orders__channel_share__phone" not in result.columns  # seen only after the cutoff


def test_customer_without_orders(result):
    c = result.loc["C"]
    assert c["orders__count"] == 0
    assert c["orders__spend_total"] == 0
    assert c["orders__n_channels"] == 0
    for name in ["recency_days", "aov", "first_order_amount", "margin_rate", "ipt_mean_days"]:
        assert np.isnan(c[f"orders__{name}"])
    assert np.isnan(c["orders__channel_share__web"])


def test_optional_columns_absent(make_frame, as_of_at, feature_config):
    customers = make_frame([("A", "2024-01-01")], ["customer_id", "signup_date"], ("signup_date",))
    rows = [("A", "2024-02-01", 10.0)]  # 59 days before the cutoff
    tables = Tables(
        customers=customers,
        orders=make_frame(rows, ["customer_id", "order_date", "amount"], ("order_date",)),
    )
    out = orders.compute(tables, as_of_at(customers, CUTOFF), feature_config)
    assert out.loc["A", "orders__count_90d"] == 1
    assert out.loc["A", "orders__margin_total"] == pytest.approx(
        10.0 * feature_config.value.margin_rate
    )
    assert not [c for c in out.columns if "channel" in c or "items" in c or "product" in c]

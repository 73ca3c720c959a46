"""Pure parts of the report: summaries on hand-made frames and HTML escaping."""

import pandas as pd
import pytest

from predictor.config import ValueConfig
from predictor.report import (
    customer_levers,
    family_shares,
    segment_summary,
    table,
    value_at_risk,
)


def scores_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "value_13m": [1000.0, 500.0, 100.0, 900.0],
            "churn_risk": [0.1, 0.8, 0.5, 1.0],
            "value_segment": ["above_average", "average", "below_average", "above_average"],
            "risk_band": ["low", "high", "medium", "inactive"],
        }
    )


def test_customer_levers_count_the_last_365_days():
    orders = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "b"],
            "order_date": pd.to_datetime(
                [
                    "2023-06-30",  # 366 days before the cutoff: outside
                    "2024-01-10",  # inside
                    "2024-06-30",  # the cutoff day: inside
                    "2024-07-01",  # after the cutoff: outside
                ]
            ),
            "amount": [99.0, 100.0, 50.0, 70.0],
            "margin": [None, 40.0, None, 10.0],
        }
    )
    levers = customer_levers(orders, pd.Timestamp("2024-06-30"), ValueConfig(margin_rate=0.2))
    assert list(levers.index) == ["a"]
    assert levers.loc["a"].to_dict() == {"orders": 2, "spend": 150.0, "margin": 50.0}


def test_segment_summary_levers_and_active_only_risk():
    levers = pd.DataFrame(
        {"orders": [4, 2], "spend": [400.0, 100.0], "margin": [100.0, 30.0]},
        index=pd.Index(["a", "d"], name="customer_id"),
    )
    summary = segment_summary(scores_frame(), levers, high_risk=0.6)
    top = summary.loc["above_average"]
    assert top["customers"] == 2 and top["total_value"] == 1900.0
    assert top["aov"] == pytest.approx(500.0 / 6)
    assert top["orders_per_customer"] == 3.0
    assert top["margin_rate"] == pytest.approx(130.0 / 500.0)
    assert top["mean_churn_risk"] == pytest.approx(0.1)  # d is already gone
    assert summary.loc["average", "high_risk_share"] == 1.0
    assert summary.loc["below_average", "orders_per_customer"] == 0.0


def test_value_at_risk_ranks_active_customers_only():
    top = value_at_risk(scores_frame(), 2)
    assert list(top["customer_id"]) == ["b", "a"]
    assert list(top["value_at_risk"]) == [400.0, 100.0]


def test_family_shares_group_features_by_family():
    importance = pd.Series(
        {"orders__aov": 0.5, "orders__count": 0.2, "nps__last_score": 0.3, "new__x": 0.0}
    )
    shares = family_shares({"value": importance})
    assert shares.loc["Orders", "value"] == pytest.approx(0.7)
    assert shares.loc["NPS", "value"] == pytest.approx(0.3)
    assert list(shares.index)[0] == "Orders"


def test_tables_escape_text():
    frame = pd.DataFrame({"name": ["<script>x</script>"], "n": [1.0]}, index=["a&b"])
    html = table(frame, {"n": lambda v: f"{v:.1f}"})
    assert "<script>" not in html and "&lt;script&gt;" in html and "a&amp;b" in html

"""Pure parts of the report: summaries on hand-made frames and HTML escaping."""

import numpy as np
import pandas as pd
import pytest

from predictor.config import ValueConfig
from predictor.report.customers import empty_band_notes
from predictor.report.markup import table
from predictor.report.quality import _constant_verdict, headline_comparison, verdict
from predictor.report.summaries import (
    action_table,
    customer_levers,
    family_shares,
    segment_summary,
    value_at_risk,
)


def scores_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "value_13m": [1000.0, 500.0, 100.0, 900.0],
            "churn_risk": [0.1, 0.8, 0.5, 1.0],
            "value_segment": ["above_average", "average", "below_average", "lapsed"],
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


def test_customer_levers_count_purchases_as_the_models_do():
    """A refund is net spend but not a purchase; a zero-amount order is a purchase."""
    orders = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a"],
            "order_date": pd.to_datetime(["2024-05-01", "2024-05-02", "2024-05-03"]),
            "amount": [100.0, -40.0, 0.0],
        }
    )
    levers = customer_levers(orders, pd.Timestamp("2024-06-30"), ValueConfig(margin_rate=0.5))
    assert levers.loc["a"].to_dict() == {"orders": 2, "spend": 60.0, "margin": 30.0}


def test_segment_summary_levers_and_active_only_risk():
    levers = pd.DataFrame(
        {"orders": [4, 2], "spend": [400.0, 100.0], "margin": [100.0, 30.0]},
        index=pd.Index(["a", "d"], name="customer_id"),
    )
    summary = segment_summary(scores_frame(), levers)
    top = summary.loc["above_average"]
    assert top["customers"] == 1 and top["total_value"] == 1000.0
    assert top["aov"] == pytest.approx(100.0)
    assert top["orders_per_customer"] == 4.0
    assert top["margin_rate"] == pytest.approx(100.0 / 400.0)
    assert top["mean_churn_risk"] == pytest.approx(0.1)
    assert summary.loc["average", "high_risk_share"] == 1.0  # from the band, not a threshold
    assert summary.loc["below_average", "orders_per_customer"] == 0.0
    gone = summary.loc["lapsed"]  # d is already gone: its own row, no churn risk
    assert gone["customers"] == 1 and np.isnan(gone["mean_churn_risk"])
    assert "negative" not in summary.index


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


def metric_rows(rows: dict[str, dict[str, float]]) -> pd.DataFrame:
    return pd.DataFrame.from_dict(rows, orient="index")


def test_headline_compares_with_the_strongest_baseline_per_metric():
    churn = metric_rows(
        {
            "model": {"roc_auc": 0.80, "brier": 0.114, "calibration_error": 0.075},
            "recency_rule": {"roc_auc": 0.70, "brier": 0.300, "calibration_error": 0.200},
            "base_rate": {"roc_auc": 0.50, "brier": 0.106, "calibration_error": 0.010},
        }
    )
    comparison = headline_comparison(churn, "churn")
    assert list(comparison["baseline"]) == ["recency_rule", "base_rate", "base_rate"]
    assert list(comparison["baseline_wins"]) == [False, True, True]
    sentence = verdict(comparison)
    assert sentence.startswith("A baseline beats the model: Same risk for everyone")
    assert "Brier score (0.106 vs 0.114 for the model)" in sentence
    assert "calibration error (1.0% vs 7.5% for the model)" in sentence
    assert sentence.count(".") <= 6 and "\n" not in sentence


def test_value_headline_bias_is_judged_by_distance_from_zero():
    value = metric_rows(
        {
            "model": {"normalized_gini": 0.6, "aggregate_bias": -0.08},
            "trailing_13m": {"normalized_gini": 0.5, "aggregate_bias": 0.05},
            "constant_mean": {"normalized_gini": np.nan, "aggregate_bias": -0.2},
        }
    )
    comparison = headline_comparison(value, "value")
    assert comparison.loc["aggregate_bias", "baseline"] == "trailing_13m"
    assert comparison.loc["aggregate_bias", "baseline_wins"]
    assert not comparison.loc["normalized_gini", "baseline_wins"]
    assert "Last 13 months' value on total predicted vs actual" in verdict(comparison)
    value.loc["model", "aggregate_bias"] = 0.01
    assert verdict(headline_comparison(value, "value")).startswith("The model beats every")


def test_action_table_lists_every_cell_with_its_lever():
    scores = scores_frame()
    scores.loc[3, "value_segment"] = "lapsed"
    levers = pd.Series(["loyalty_reward", "retention_offer", "grow", "win_back"])
    facts = pd.DataFrame({"value_last_13m": [0.0, 0.0, 0.0, 321.0]}, index=pd.Index(list("abcd")))
    actions = action_table(scores, levers, facts)
    assert len(actions) == 3 * 3 + 1  # no negative customers: no negative row
    assert actions.loc[("above_average", "low"), "customers"] == 1
    assert actions.loc[("average", "high"), "value_at_risk"] == pytest.approx(400.0)
    assert actions.loc[("average", "high"), "lever"] == "retention_offer"
    assert actions.loc[("lapsed", "inactive"), "value_last_13m"] == 321.0
    assert actions.loc[("above_average", "high"), "customers"] == 0
    assert actions.loc[("above_average", "high"), "lever"] == "loyalty_retention"


def test_an_empty_band_is_explained():
    from predictor.segments import Segmenter

    scores = scores_frame()
    scores["risk_band"] = ["low", "medium", "medium", "inactive"]
    seg = Segmenter(
        (1.0, 2.0), (0.05, 0.9), "relative", "relative", (0.5, 1.5), (0.5, 2.0), 100.0, 0.45
    )
    notes = empty_band_notes(scores, seg)
    assert len(notes) == 1
    assert (
        "highest risk is 80.0%, below the high-risk limit of 90.0% (2x the churn rate" in (notes[0])
    )
    seg = Segmenter(
        (1.0, 2.0), (0.3, 1.1), "relative", "relative", (0.5, 1.5), (0.5, 2.0), 100.0, 0.55
    )
    assert "above 100%" in empty_band_notes(scores, seg)[0]


def test_churn_headline_says_when_risks_are_no_better_than_a_constant():
    metrics = pd.DataFrame(
        {"brier": [0.114, 0.106], "log_loss": [0.465, 0.368]}, index=["model", "base_rate"]
    )
    ((label, value, detail),) = _constant_verdict(metrics)
    assert value.startswith("NO") and "0.465 vs 0.368" in detail
    metrics.loc["model"] = [0.100, 0.350]
    assert _constant_verdict(metrics)[0][1] == "yes"
    assert _constant_verdict(metrics.drop(index="base_rate")) == []

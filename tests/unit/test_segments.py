"""Value segments, risk bands and levers on hand-made scores and tables."""

import numpy as np
import pandas as pd
import pytest
from tests.unit.conftest import frame

from predictor.config import Config, SegmentConfig, SupportConfig
from predictor.contract.tables import Tables
from predictor.evaluation import lift_at
from predictor.segments import (
    LEVER_RULES,
    LEVERS,
    Segmenter,
    assign_levers,
    customer_facts,
)


def test_default_cuts_are_relative_to_active_customers():
    seg = Segmenter.fit(np.array([100.0, 200.0, 300.0]), 0.1, SegmentConfig())
    assert seg.value_cuts == pytest.approx((100.0, 300.0))  # 0.5x and 1.5x the mean of 200
    assert seg.risk_cuts == pytest.approx((0.05, 0.2))  # 0.5x and 2x the base rate
    assert (seg.value_rule, seg.risk_rule) == ("relative", "relative")
    assert "2x the churn rate of active customers, 10.0%" in seg.risk_rule_text()
    assert "mean predicted value of active customers, 200" in seg.value_rule_text("EUR")


def test_quantile_and_absolute_rules_remain_settings():
    config = SegmentConfig(value_rule="quantile", risk_rule="absolute")
    seg = Segmenter.fit(np.arange(101, dtype=float), 0.1, config)
    assert seg.value_cuts == pytest.approx((50.0, 80.0))
    assert seg.risk_cuts == pytest.approx((0.3, 0.6))
    assert "fixed probabilities" in seg.risk_rule_text()


def test_gone_customers_are_lapsed_and_only_they():
    seg = Segmenter(value_cuts=(100.0, 300.0), risk_cuts=(0.05, 0.2))
    value = pd.Series([0.0, 50.0, 150.0, 400.0, -20.0, 500.0], index=list("abcdef"))
    active = pd.Series([False, True, True, True, True, False], index=list("abcdef"))
    segments = seg.value_segment(value, active)
    assert segments.to_dict() == {
        "a": "lapsed",
        "b": "below_average",
        "c": "average",
        "d": "above_average",
        "e": "negative",
        "f": "lapsed",  # a high predicted value does not make a gone customer active
    }


def test_band_limits_are_inclusive():
    seg = Segmenter(value_cuts=(1.0, 2.0), risk_cuts=(0.05, 0.2))
    risk = pd.Series([0.05, 0.0501, 0.1999, 0.2, 1.0])
    active = pd.Series([True, True, True, True, False])
    assert list(seg.risk_band(risk, active)) == ["low", "medium", "medium", "high", "inactive"]


def test_models_saved_before_the_rules_load_as_quantile_and_absolute():
    old = {"value_cuts": [10.0, 20.0], "risk_cuts": [0.3, 0.6]}
    seg = Segmenter.from_dict(old)
    assert (seg.value_rule, seg.risk_rule) == ("quantile", "absolute")
    assert Segmenter.from_dict(seg.to_dict()) == seg
    fitted = Segmenter.fit(np.array([1.0, 3.0]), 0.2, SegmentConfig(), reference="2024-01-31")
    assert Segmenter.from_dict(fitted.to_dict()) == fitted


@pytest.mark.parametrize("seed", range(6))
def test_high_band_is_not_empty_when_the_top_decile_lift_reaches_1_5(seed):
    """Calibrated risks (outcomes drawn from them): lift >= 1.5 means someone is >= 2x base."""
    rng = np.random.default_rng(seed)
    spread = [0.3, 0.6, 1.0, 2.0, 4.0, 8.0][seed]
    p = rng.beta(spread, spread * 6, 5000)
    y = rng.random(5000) < p
    lift = lift_at(y, p)
    seg = Segmenter.fit(np.ones(5), float(y.mean()), SegmentConfig())
    bands = seg.risk_band(pd.Series(p))
    if lift >= 1.5:
        assert (bands == "high").any()
    else:  # the narrowest spread: nobody stands out, and that is what the lift says
        assert spread == 8.0 and lift < 1.5


def test_empty_relative_cuts_config_is_refused():
    with pytest.raises(ValueError, match="risk_multiples"):
        Config.model_validate({"segments": {"risk_multiples": [2.0, 0.5]}})


def test_lever_rules_first_match_wins():
    segment = pd.Series(
        ["lapsed", "negative", "above_average", "above_average", "below_average", "average"]
        + ["above_average", "below_average", "average"]
    )
    band = pd.Series(
        ["inactive", "high", "high", "high", "low", "high"] + ["low", "high", "medium"]
    )
    new = pd.Series([False, False, False, True, True, False, False, False, False])
    poor = pd.Series([True, True, True, False, False, False, False, False, False])
    levers = assign_levers(segment, band, new, poor)
    assert list(levers) == [
        "win_back",
        "cost_to_serve",
        "service_recovery",  # above average, at risk after poor support
        "loyalty_retention",  # new but above average: loyalty, not onboarding
        "onboarding",  # new low-value customer
        "retention_offer",
        "loyalty_reward",
        "light_touch",
        "grow",
    ]
    without_facts = assign_levers(segment, band)
    assert without_facts[2] == "loyalty_retention" and without_facts[4] == "grow"


def test_every_lever_rule_names_a_documented_lever_and_every_cell_has_one():
    assert {rule.lever for rule in LEVER_RULES} == set(LEVERS)
    cells = [
        (s, b)
        for s in ("above_average", "average", "below_average", "negative")
        for b in ("low", "medium", "high")
    ] + [("lapsed", "inactive")]
    segment = pd.Series([s for s, _ in cells])
    band = pd.Series([b for _, b in cells])
    assert (assign_levers(segment, band) != "").all()


def test_customer_facts_windows():
    as_of = pd.Timestamp("2024-06-30")
    customers = frame(
        [
            ("old", "2023-01-01"),
            ("new", "2024-04-02"),  # the 90th day up to and including the cutoff: new
            ("edge", "2024-04-01"),  # the 91st day: not new
            ("was", "2023-05-01"),
            ("late", "2024-07-01"),  # after the cutoff: not in the frame
        ],
        ["customer_id", "signup_date"],
        ("signup_date",),
    )
    orders = frame(
        [
            ("old", "2023-05-30", 100.0),  # 13 months before the cutoff: outside
            ("old", "2023-05-31", 40.0),  # inside
            ("old", "2024-06-30 23:00", 10.0),  # the cutoff day: inside
            ("old", "2024-07-01", 999.0),  # future: outside
        ],
        ["customer_id", "order_date", "amount"],
        ("order_date",),
    )
    tickets = frame(
        [
            ("old", "2024-06-01", "2024-06-01 02:00", 1.0, False),  # poor CSAT
            ("new", "2024-06-01", "2024-06-01 02:00", 5.0, True),  # escalated
            ("edge", "2024-06-01", "2024-06-05", 5.0, False),  # 96 h > 48 h SLA
            ("was", "2024-03-01", "2024-03-01 01:00", 1.0, False),  # older than 90 days
        ],
        ["customer_id", "opened_at", "resolved_at", "csat", "escalated"],
        ("opened_at", "resolved_at"),
    )
    config = Config(support=SupportConfig(sla_hours=48))
    facts = customer_facts(Tables(customers, orders, support_tickets=tickets), as_of, config)
    assert list(facts.index) == ["old", "new", "edge", "was"]
    assert facts["new"].to_dict() == {"old": False, "new": True, "edge": False, "was": False}
    assert facts["poor_support"].to_dict() == {
        "old": True,
        "new": True,
        "edge": True,
        "was": False,
    }
    assert facts.loc["old", "value_last_13m"] == 50.0
    no_support = customer_facts(Tables(customers, orders), as_of, config)
    assert no_support["poor_support"].isna().all()


def test_high_cut_drops_to_the_riskiest_tenth_only_when_it_ranks_well_above_the_base_rate():
    from predictor.config import SegmentConfig
    from predictor.segments import Segmenter

    base = 0.10
    ranked = np.r_[np.full(90, 0.08), np.linspace(0.17, 0.19, 10)]  # top tenth at 1.7x-1.9x
    seg = Segmenter.fit(np.ones(100), base, SegmentConfig(), active_risk=ranked)
    assert seg.risk_cuts[1] == pytest.approx(0.17)
    assert (seg.risk_band(pd.Series(ranked)) == "high").sum() >= 10
    assert "riskiest tenth" in seg.risk_rule_text()
    flat = np.r_[np.full(90, 0.09), np.full(10, 0.12)]  # top tenth only 1.2x: no ranking
    seg = Segmenter.fit(np.ones(100), base, SegmentConfig(), active_risk=flat)
    assert seg.risk_cuts[1] == pytest.approx(2 * base)
    assert "riskiest tenth" not in seg.risk_rule_text()


@pytest.mark.parametrize("base", [0.4, 0.69, 0.9])
def test_high_band_stays_reachable_when_most_customers_churn(base):
    """2x a 69% churn rate is 138%: the high cut stops half way from the rate to certainty."""
    rng = np.random.default_rng(0)
    risk = np.clip(rng.normal(base, 0.1, 2000), 0.001, 0.999)
    seg = Segmenter.fit(np.ones(5), base, SegmentConfig(), active_risk=risk)
    low, high = seg.risk_cuts
    assert low == pytest.approx(0.5 * base)
    assert base < high < 1.0
    assert high <= base + (1 - base) / 2 + 1e-12
    assert (seg.risk_band(pd.Series(risk)) == "high").any()
    text = seg.risk_rule_text()
    assert "%.1f%%" % (base * 100) in text and "%.1f%%" % (high * 100) in text
    no_ranking = Segmenter.fit(np.ones(5), base, SegmentConfig())
    assert no_ranking.risk_cuts[1] == pytest.approx(base + (1 - base) / 2)
    assert (
        "half way" in no_ranking.risk_rule_text() or "50% of the way" in no_ranking.risk_rule_text()
    )


def test_plain_multiple_below_a_third():
    seg = Segmenter.fit(np.ones(5), 0.3, SegmentConfig())
    assert seg.risk_cuts == pytest.approx((0.15, 0.6))

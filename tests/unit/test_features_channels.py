"""Channels family: exact values on a hand-made table, cutoff 2024-03-31 (inclusive)."""

import numpy as np
import pandas as pd
import pytest

from predictor.contract.tables import Tables
from predictor.features import channels
from predictor.features._base import MAX_LABELS

CUTOFF = "2024-03-31"


@pytest.fixture
def result(make_frame, as_of_at, feature_config, empty_orders) -> pd.DataFrame:
    customers = make_frame(
        [("A", "2023-01-01"), ("B", "2023-01-01")],
        ["customer_id", "signup_date"],
        dates=("signup_date",),
    )
    rows = [
        ("A", "2024-03-31 10:00", "email", "sent"),  # cutoff day (age 0)
        ("A", "2024-03-31 11:00", "email", "open"),  # cutoff day, engagement
        ("A", "2024-03-20 10:00", "email", "sent"),  # age 11
        ("A", "2024-03-21 10:00", "email", "click"),  # age 10, engagement
        ("A", "2024-02-15 10:00", "app", "session"),  # age 45: in 90d, the 60 days before 30d
        ("A", "2024-01-05 10:00", "web", "visit"),  # age 86: in 90d, the 60 days before 30d
        ("A", "2023-10-01 10:00", "sms", "click"),  # age 182: 365d only
        ("A", "2024-04-01 00:00", "push", "visit"),  # the day after: invisible
        # B: no interaction
    ]
    interactions = make_frame(
        rows, ["customer_id", "occurred_at", "channel", "kind"], dates=("occurred_at",)
    )
    tables = Tables(customers=customers, orders=empty_orders, interactions=interactions)
    return channels.compute(tables, as_of_at(customers, CUTOFF), feature_config)


def test_window_counts_and_rates(result):
    a = result.loc["A"]
    assert a["channels__interactions_30d"] == 4
    assert a["channels__interactions_90d"] == 6
    assert a["channels__interactions_365d"] == 7
    assert a["channels__engagements_90d"] == 4
    assert a["channels__open_rate_90d"] == 0.5
    assert a["channels__click_rate_90d"] == 0.5


def test_breadth_recency_and_trend(result):
    a = result.loc["A"]
    assert a["channels__active_channels_90d"] == 3  # email, app, web
    assert a["channels__active_channels_ever"] == 4  # + sms
    assert a["channels__days_since_engagement"] == 0
    recent, earlier = 2 / 30, 2 / 60
    assert a["channels__engagement_trend"] == pytest.approx((recent - earlier) / (recent + earlier))


def test_per_channel_and_per_kind(result):
    a = result.loc["A"]
    assert a["channels__channel_90d__email"] == 4
    assert a["channels__channel_90d__app"] == 1
    assert a["channels__channel_90d__sms"] == 0
    assert a["channels__kind_90d__sent"] == 2
    assert a["channels__kind_90d__visit"] == 1
    assert "channels__channel_90d__push" not in result.columns


def test_customer_without_interactions(result):
    b = result.loc["B"]
    assert b["channels__interactions_365d"] == 0
    assert b["channels__active_channels_ever"] == 0
    for name in ["open_rate_90d", "days_since_engagement", "engagement_trend"]:
        assert np.isnan(b[f"channels__{name}"])


def test_rare_values_are_pooled(make_frame, as_of_at, feature_config, empty_orders):
    customers = make_frame([("A", "2024-01-01")], ["customer_id", "signup_date"], ("signup_date",))
    rows = [("A", "2024-03-01", f"channel {i}", "visit") for i in range(30)]  # 30 channels
    rows += [("A", "2024-03-02", "email", "open")] * 2  # email is the most used
    interactions = make_frame(
        rows, ["customer_id", "occurred_at", "channel", "kind"], dates=("occurred_at",)
    )
    tables = Tables(customers=customers, orders=empty_orders, interactions=interactions)
    out = channels.compute(tables, as_of_at(customers, CUTOFF), feature_config)
    per_channel = [c for c in out.columns if c.startswith("channels__channel_90d__")]
    assert len(per_channel) == MAX_LABELS
    assert out.loc["A", "channels__channel_90d__email"] == 2
    assert out.loc["A", "channels__channel_90d__other"] == 30 - 18


def test_usage_trends(result):
    a = result.loc["A"]
    assert a["channels__engagements_7d"] == 1  # the open on the cutoff day
    assert a["channels__engagements_30d"] == 2  # + the click at age 10
    # 7 days against ages 7..66 (click at 10, session at 45), per day
    assert a["channels__engagement_trend_7d_60d"] == pytest.approx(
        (1 / 7 - 2 / 60) / (1 / 7 + 2 / 60)
    )
    # 30 days against ages 30..119 (session at 45, visit at 86), per day
    assert a["channels__engagement_trend_30d_90d"] == pytest.approx(0.5)
    # weekly counts, newest first: weeks 0, 1 and 6 hold one engagement each
    weeks = np.array([1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0], dtype=float)
    t = np.arange(12)[::-1] - 5.5
    assert a["channels__engagement_slope_12w"] == pytest.approx(
        (weeks @ t / (t @ t)) / weeks.mean()
    )
    assert a["channels__engagement_vs_peak"] == 1.0  # the last 28 days (2) are the busiest
    assert a["channels__active_days_share_90d"] == pytest.approx(4 / 90)
    # the open today against ages 28..363 (session at 45, visit at 86, click at 182) per day
    assert a["channels__engagement_vs_baseline_7d"] == pytest.approx(
        (1 / 7 - 3 / 336) / (1 / 7 + 3 / 336)
    )
    assert a["channels__days_since__email"] == 0
    assert a["channels__days_since__app"] == 45
    assert a["channels__days_since__sms"] == 182
    b = result.loc["B"]
    assert b["channels__engagements_7d"] == 0 and b["channels__active_days_share_90d"] == 0
    for name in ["engagement_slope_12w", "engagement_vs_peak", "engagement_vs_baseline_7d",
                 "days_since__email"]:  # fmt: skip
        assert np.isnan(b[f"channels__{name}"])


def test_fading_customer_has_negative_slope_and_is_below_peak(
    make_frame, as_of_at, feature_config, empty_orders
):
    customers = make_frame([("A", "2023-01-01")], ["customer_id", "signup_date"], ("signup_date",))
    cutoff = pd.Timestamp(CUTOFF)
    # 6 sessions a week a year ago, then one fewer each week over the last 12 weeks
    rows = [("A", cutoff - pd.Timedelta(days=300 + d), "app", "session") for d in range(24)]
    for week in range(12):
        for i in range(week // 2):
            rows.append(("A", cutoff - pd.Timedelta(days=7 * week + i), "app", "session"))
    interactions = make_frame(
        rows, ["customer_id", "occurred_at", "channel", "kind"], dates=("occurred_at",)
    )
    tables = Tables(customers=customers, orders=empty_orders, interactions=interactions)
    a = channels.compute(tables, as_of_at(customers, CUTOFF), feature_config).loc["A"]
    assert a["channels__engagement_slope_12w"] < -0.1
    assert a["channels__engagement_vs_peak"] < 0.2
    assert a["channels__engagement_vs_baseline_7d"] == -1  # nothing in the last week

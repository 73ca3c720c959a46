"""Subscriptions family: exact values on a hand-made table, cutoff 2024-03-31 (inclusive)."""

import numpy as np
import pandas as pd
import pytest

from predictor.contract.tables import Tables
from predictor.features import subscriptions

CUTOFF = "2024-03-31"


@pytest.fixture
def result(make_frame, as_of_at, feature_config, empty_orders) -> pd.DataFrame:
    customers = make_frame(
        [("A", "2023-01-01"), ("B", "2023-06-01"), ("C", "2023-01-01"), ("D", "2023-01-01")],
        ["customer_id", "signup_date"],
        dates=("signup_date",),
    )
    rows = [
        # A: ended 2023-06-30, renewed the next day (not a cancellation)
        ("A", "2023-01-01", "2023-06-30", "basic", 10.0),
        # A: upgrade; its end after the cutoff is unknown at the cutoff, so it is running
        ("A", "2023-07-01", "2024-05-01", "plus", 20.0),
        # B: ended 2023-12-31 without renewal: a cancellation 91 days before the cutoff
        ("B", "2023-06-01", "2023-12-31", "pro", 40.0),
        # B: came back on a cheaper plan (downgrade), still running
        ("B", "2024-02-01", None, "basic", 10.0),
        # B: starts after the cutoff: invisible
        ("B", "2024-04-02", None, "pro", 40.0),
        # C: ends ON the cutoff day: ended at the end of that day
        ("C", "2023-01-01", "2024-03-31", "basic", 10.0),
        # D: no subscription
    ]
    subs = make_frame(
        rows,
        ["customer_id", "start_date", "end_date", "plan", "mrr"],
        dates=("start_date", "end_date"),
    )
    tables = Tables(customers=customers, orders=empty_orders, subscriptions=subs)
    return subscriptions.compute(tables, as_of_at(customers, CUTOFF), feature_config)


def test_running_subscription_with_future_end(result):
    a = result.loc["A"]
    assert a["subscriptions__count"] == 2
    assert a["subscriptions__active"] == 1
    assert a["subscriptions__current_plan"] == "plus"
    assert a["subscriptions__current_mrr"] == 20
    assert a["subscriptions__current_tenure_days"] == 274
    assert a["subscriptions__first_start_days"] == 455
    assert a["subscriptions__total_days"] == 180 + 274
    assert a["subscriptions__plan_changes"] == 1
    assert a["subscriptions__upgrades"] == 1
    assert a["subscriptions__downgrades"] == 0
    assert a["subscriptions__cancellations"] == 0
    assert np.isnan(a["subscriptions__days_since_last_cancellation"])


def test_cancellation_and_comeback(result):
    b = result.loc["B"]
    assert b["subscriptions__count"] == 2  # the post-cutoff start is invisible
    assert b["subscriptions__active"] == 1
    assert b["subscriptions__current_plan"] == "basic"
    assert b["subscriptions__current_tenure_days"] == 59
    assert b["subscriptions__cancellations"] == 1
    assert b["subscriptions__days_since_last_cancellation"] == 91
    assert b["subscriptions__downgrades"] == 1
    assert b["subscriptions__upgrades"] == 0


def test_end_on_cutoff_day_has_ended(result):
    c = result.loc["C"]
    assert c["subscriptions__active"] == 0
    assert c["subscriptions__current_plan"] == "none"
    assert c["subscriptions__current_mrr"] == 0
    assert np.isnan(c["subscriptions__current_tenure_days"])
    assert c["subscriptions__cancellations"] == 1
    assert c["subscriptions__days_since_last_cancellation"] == 0


def test_customer_without_subscription(result):
    d = result.loc["D"]
    assert d["subscriptions__count"] == 0
    assert d["subscriptions__active"] == 0
    assert d["subscriptions__current_plan"] == "none"
    assert d["subscriptions__total_days"] == 0
    assert isinstance(result["subscriptions__current_plan"].dtype, pd.CategoricalDtype)


def test_without_plan_and_mrr_columns(make_frame, as_of_at, feature_config, empty_orders):
    customers = make_frame([("A", "2024-01-01")], ["customer_id", "signup_date"], ("signup_date",))
    subs = make_frame([("A", "2024-01-01")], ["customer_id", "start_date"], ("start_date",))
    tables = Tables(customers=customers, orders=empty_orders, subscriptions=subs)
    out = subscriptions.compute(tables, as_of_at(customers, CUTOFF), feature_config)
    assert out.loc["A", "subscriptions__active"] == 1  # no end_date column: still running
    assert "subscriptions__current_plan" not in out.columns
    assert "subscriptions__current_mrr" not in out.columns


def test_recent_contract_changes(result):
    a, b, c, d = (result.loc[k] for k in "ABCD")
    assert a["subscriptions__days_to_renewal"] == 1  # started on the 1st: renews 2024-04-01
    assert a["subscriptions__days_since_plan_change"] == 274
    assert a["subscriptions__downgrades_90d"] == 0
    assert a["subscriptions__mrr_change_90d"] == 0  # 20 now and 20 on 2024-01-01
    assert b["subscriptions__days_since_plan_change"] == 59  # pro -> basic on 2024-02-01
    assert b["subscriptions__downgrades_90d"] == 1
    assert b["subscriptions__mrr_change_90d"] == 1  # nothing ran on 2024-01-01
    assert np.isnan(c["subscriptions__days_to_renewal"])  # ended on the cutoff day
    assert c["subscriptions__mrr_change_90d"] == -1
    assert np.isnan(d["subscriptions__mrr_change_90d"])
    assert np.isnan(d["subscriptions__days_since_plan_change"])


def test_renewal_of_a_start_on_the_31st(make_frame, as_of_at, feature_config, empty_orders):
    customers = make_frame([("A", "2024-01-01")], ["customer_id", "signup_date"], ("signup_date",))
    subs = make_frame(
        [("A", "2024-01-31", None, "basic", 10.0)],
        ["customer_id", "start_date", "end_date", "plan", "mrr"],
        dates=("start_date", "end_date"),
    )
    tables = Tables(customers=customers, orders=empty_orders, subscriptions=subs)
    for cutoff, expected in [("2024-02-10", 19), ("2024-04-15", 15), ("2024-04-30", 31)]:
        out = subscriptions.compute(tables, as_of_at(customers, cutoff), feature_config)
        assert out.loc["A", "subscriptions__days_to_renewal"] == expected, cutoff

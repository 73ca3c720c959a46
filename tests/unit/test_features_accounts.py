"""Account features of B2B products: seats, per-seat usage and failed payments.

Exact values on hand-made tables at cutoff 2024-03-31 (inclusive), and leakage: rows after the
cutoff (a seat change, usage, a failed payment) change nothing.
"""

import numpy as np
import pandas as pd
import pytest

from predictor.contract.tables import Tables
from predictor.features import channels, subscriptions

CUTOFF = "2024-03-31"
SUB_COLUMNS = ["customer_id", "start_date", "end_date", "plan", "mrr", "seats"]
INTERACTION_COLUMNS = ["customer_id", "occurred_at", "channel", "kind"]


@pytest.fixture
def tables(make_frame, empty_orders) -> Tables:
    customers = make_frame(
        [("A", "2023-01-01"), ("B", "2023-01-01"), ("C", "2023-01-01")],
        ["customer_id", "signup_date"],
        dates=("signup_date",),
    )
    subs = make_frame(
        [
            # A: 10 seats, down to 8 on 2024-03-01 (in the last 90 days), still running
            ("A", "2023-01-01", "2024-03-01", "team", 150.0, 10),
            ("A", "2024-03-01", None, "team", 120.0, 8),
            # B: 4 seats, up to 5 on 2023-06-01 (an increase, long ago)
            ("B", "2023-01-01", "2023-06-01", "team", 60.0, 4),
            ("B", "2023-06-01", None, "team", 75.0, 5),
            # C: cancelled before the cutoff: no running seats
            ("C", "2023-01-01", "2024-02-01", "team", 30.0, 2),
        ],
        SUB_COLUMNS,
        dates=("start_date", "end_date"),
    )
    rows = [
        ("A", "2024-03-31 09:00", "web", "session"),  # age 0
        ("A", "2024-03-28 09:00", "web", "feature_use"),  # age 3
        ("A", "2024-03-10 09:00", "app", "session"),  # age 21
        ("A", "2024-02-01 09:00", "web", "session"),  # age 59
        ("A", "2024-03-05 03:00", "billing", "payment_failed"),  # age 26: not an engagement
        ("A", "2023-12-20 03:00", "billing", "payment_failed"),  # age 102: outside 90 days
        ("B", "2024-03-30 09:00", "web", "session"),  # age 1
        ("C", "2024-01-15 09:00", "web", "session"),  # age 76
    ]
    interactions = make_frame(rows, INTERACTION_COLUMNS, dates=("occurred_at",))
    return Tables(
        customers=customers, orders=empty_orders, subscriptions=subs, interactions=interactions
    )


def _future(tables: Tables, make_frame) -> Tables:
    """The same tables with rows dated after the cutoff: seats cut, usage, a failed payment."""
    subs = make_frame(
        [("A", "2024-04-01", None, "starter", 8.0, 1), ("B", "2024-04-05", None, "team", 15.0, 1)],
        SUB_COLUMNS,
        dates=("start_date", "end_date"),
    )
    events = make_frame(
        [("A", "2024-04-01 00:00", "billing", "payment_failed"),
         ("B", "2024-04-01 00:00", "web", "session"),
         ("C", "2024-05-01 00:00", "billing", "payment_failed")],
        INTERACTION_COLUMNS,
        dates=("occurred_at",),
    )  # fmt: skip
    orders = make_frame(
        [("A", "2024-04-01 10:00", 120.0)],
        ["customer_id", "order_date", "amount"],
        dates=("order_date",),
    )  # a later payment must not settle the failure as of the cutoff
    return tables.replace(
        subscriptions=pd.concat([tables.subscriptions, subs], ignore_index=True),
        interactions=pd.concat([tables.interactions, events], ignore_index=True),
        orders=pd.concat([tables.orders, orders], ignore_index=True),
    )


def test_seat_features(tables, as_of_at, feature_config):
    got = subscriptions.compute(tables, as_of_at(tables.customers, CUTOFF), feature_config)
    assert got["subscriptions__current_seats"].tolist() == [8.0, 5.0, 0.0]
    a, b = got.loc["A"], got.loc["B"]
    assert a["subscriptions__seat_change_90d"] == pytest.approx((8 - 10) / (8 + 10))
    assert a["subscriptions__seat_decreases_90d"] == 1
    assert b["subscriptions__seat_change_90d"] == 0  # 5 seats now and 90 days ago
    assert b["subscriptions__seat_decreases_90d"] == 0


def test_per_seat_rates_and_payment_failures(tables, as_of_at, feature_config):
    got = channels.compute(tables, as_of_at(tables.customers, CUTOFF), feature_config)
    a, b, c = got.loc["A"], got.loc["B"], got.loc["C"]
    assert a["channels__engagements_30d"] == 3  # the failed payment is not an engagement
    assert a["channels__engagements_per_seat_7d"] == pytest.approx(2 / 8)
    assert a["channels__engagements_per_seat_30d"] == pytest.approx(3 / 8)
    assert a["channels__engagements_per_seat_90d"] == pytest.approx(4 / 8)
    assert b["channels__engagements_per_seat_7d"] == pytest.approx(1 / 5)
    assert np.isnan(c["channels__engagements_per_seat_90d"])  # no running subscription
    assert a["channels__payment_failures_30d"] == 1
    assert a["channels__payment_failures_90d"] == 1
    assert a["channels__days_since_payment_failure"] == 26
    assert b["channels__payment_failures_90d"] == 0
    assert np.isnan(b["channels__days_since_payment_failure"])
    assert a["channels__payment_failure_unpaid"] == 1  # no payment after 2024-03-05 03:00
    assert b["channels__payment_failure_unpaid"] == 0  # never failed


def test_a_payment_after_the_failure_settles_it(tables, make_frame, as_of_at, feature_config):
    paid = make_frame(
        [("A", "2024-03-05 03:00", 120.0), ("A", "2024-03-07 10:00", 120.0),
         ("A", "2024-03-20 10:00", -120.0)],  # a refund is not a payment
        ["customer_id", "order_date", "amount"],
        dates=("order_date",),
    )  # fmt: skip
    as_of = as_of_at(tables.customers, CUTOFF)
    settled = channels.compute(tables.replace(orders=paid), as_of, feature_config)
    assert settled.loc["A", "channels__payment_failure_unpaid"] == 0
    same_time = tables.replace(orders=paid.iloc[[0]])  # paid at the failure's instant: not after
    unpaid = channels.compute(same_time, as_of, feature_config)
    assert unpaid.loc["A", "channels__payment_failure_unpaid"] == 1


def test_no_seat_or_payment_columns_without_such_data(tables, as_of_at, feature_config):
    plain = tables.replace(
        subscriptions=tables.subscriptions.drop(columns="seats"),
        interactions=tables.interactions[tables.interactions["channel"] != "billing"],
    )
    as_of = as_of_at(plain.customers, CUTOFF)
    cols = [*channels.compute(plain, as_of, feature_config).columns,
            *subscriptions.compute(plain, as_of, feature_config).columns]  # fmt: skip
    assert not [c for c in cols if "seat" in c or "payment" in c]


@pytest.mark.parametrize("family", [subscriptions, channels])
def test_rows_after_the_cutoff_change_nothing(tables, make_frame, as_of_at, feature_config, family):
    as_of = as_of_at(tables.customers, CUTOFF)
    base = family.compute(tables, as_of, feature_config)
    later = family.compute(_future(tables, make_frame), as_of, feature_config)
    pd.testing.assert_frame_equal(base, later, check_exact=True)
    assert any("seat" in c for c in base.columns)

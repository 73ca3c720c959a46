"""The joined feature frame: schema, both views, missing tables, invariance to row order."""

import numpy as np
import pandas as pd
import pytest

from predictor.config import Config, DayOneConfig
from predictor.contract.tables import Tables
from predictor.features import (
    DAY_ONE_DROPPED,
    DERIVED_FAMILIES,
    FAMILIES,
    FITTED_FAMILIES,
    build_day_one_features,
    build_features,
    categorical_columns,
    numeric_columns,
)

CUTOFF = "2024-03-31"


def _shuffled(tables: Tables, seed: int) -> Tables:
    rng = np.random.default_rng(seed)
    return Tables(
        **{
            name: frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)
            for name, frame in tables.items()
        }
    )


def test_schema_is_stable(rich_tables, feature_config):
    out = build_features(rich_tables, CUTOFF, feature_config)
    assert out.index.name == "customer_id"
    assert out.index.is_unique and out.index.is_monotonic_increasing
    prefixes = [c.split("__")[0] for c in out.columns]
    assert prefixes == sorted(prefixes, key=[*FAMILIES, *DERIVED_FAMILIES, *FITTED_FAMILIES].index)
    for col in out.columns:
        assert out[col].dtype == np.float64 or isinstance(out[col].dtype, pd.CategoricalDtype)
    cats = categorical_columns(out)
    assert "nps__category" in cats and "customer__acquisition_channel" in cats
    assert set(cats) | set(numeric_columns(out)) == set(out.columns)
    again = build_features(rich_tables, CUTOFF, feature_config)
    pd.testing.assert_frame_equal(out, again)


def test_customers_who_signed_up_later_are_excluded(rich_tables, feature_config):
    out = build_features(rich_tables, CUTOFF, feature_config)
    signup = rich_tables.customers.set_index("customer_id")["signup_date"]
    expected = signup[signup <= pd.Timestamp(CUTOFF) + pd.Timedelta(hours=23)].index
    assert sorted(out.index) == sorted(expected)
    assert len(out) < len(signup)


def test_row_order_changes_nothing(rich_tables, feature_config):
    base = build_features(rich_tables, CUTOFF, feature_config)
    pd.testing.assert_frame_equal(
        base, build_features(_shuffled(rich_tables, 1), CUTOFF, feature_config)
    )
    base_d1 = build_day_one_features(rich_tables, feature_config)
    pd.testing.assert_frame_equal(
        base_d1, build_day_one_features(_shuffled(rich_tables, 2), feature_config)
    )


def test_missing_optional_tables_give_no_columns(rich_tables, feature_config):
    minimal = Tables(customers=rich_tables.customers, orders=rich_tables.orders)
    out = build_features(minimal, CUTOFF, feature_config)
    assert {c.split("__")[0] for c in out.columns} == {"customer", "orders", "bgnbd"}
    full = build_features(rich_tables, CUTOFF, feature_config)
    pd.testing.assert_index_equal(out.index, full.index)
    pd.testing.assert_frame_equal(out, full[out.columns])
    assert not build_day_one_features(minimal, feature_config).empty


def test_customers_without_events_are_present(make_frame, feature_config):
    customers = make_frame(
        [("A", "2024-01-01"), ("B", "2024-02-01")], ["customer_id", "signup_date"], ("signup_date",)
    )
    orders = make_frame([("A", "2024-01-02", 5.0)], ["customer_id", "order_date", "amount"])
    orders["order_date"] = pd.to_datetime(orders["order_date"])
    empty = {
        "onboarding": make_frame([], ["customer_id", "step", "completed_at"], ("completed_at",)),
        "support_tickets": make_frame([], ["customer_id", "opened_at"], ("opened_at",)),
        "nps": make_frame([], ["customer_id", "responded_at", "score"], ("responded_at",)),
    }
    out = build_features(
        Tables(customers=customers, orders=orders, **empty), CUTOFF, feature_config
    )
    assert list(out.index) == ["A", "B"]
    assert out.loc["B", "orders__count"] == 0
    assert np.isnan(out.loc["B", "orders__recency_days"])
    assert out.loc["B", "support__tickets"] == 0
    assert out.loc["B", "onboarding__stalled_at"] == "account_created"
    assert out.loc["B", "nps__category"] == "no_response"


def test_day_one_view_uses_only_the_window(make_frame):
    customers = make_frame(
        [("A", "2024-03-01"), ("B", "2024-03-10")], ["customer_id", "signup_date"], ("signup_date",)
    )
    rows = [
        ("A", "2024-03-01 09:00", 10.0),  # signup day: in a 1-day window
        ("A", "2024-03-02 09:00", 20.0),  # day 1: only in windows of 2+ days
        ("A", "2024-03-05 09:00", 40.0),  # day 4: outside both windows
        ("B", "2024-03-10 23:59", 5.0),  # B's signup day, after A's window ended
    ]
    orders = make_frame(rows, ["customer_id", "order_date", "amount"], ("order_date",))
    tables = Tables(customers=customers, orders=orders)
    one = build_day_one_features(tables, Config())
    assert one.loc["A", "orders__count"] == 1
    assert one.loc["A", "orders__spend_total"] == 10
    assert one.loc["B", "orders__count"] == 1
    assert one.loc["A", "orders__recency_days"] == 0
    assert not set(DAY_ONE_DROPPED) & set(one.columns)
    two = build_day_one_features(tables, Config(day_one=DayOneConfig(window_days=2)))
    assert two.loc["A", "orders__count"] == 2
    assert two.loc["A", "orders__recency_days"] == 0  # the window ends on day 1
    assert two.loc["A", "orders__spend_total"] == 30


def test_day_one_view_has_every_customer(rich_tables, feature_config):
    out = build_day_one_features(rich_tables, feature_config)
    assert sorted(out.index) == sorted(rich_tables.customers["customer_id"])
    assert "customer__tenure_days" not in out.columns
    assert "customer__signup_month" in out.columns


@pytest.mark.parametrize("cutoff", ["2024-03-31", pd.Timestamp("2024-03-31 15:00")])
def test_cutoff_is_the_whole_day(make_frame, feature_config, cutoff):
    customers = make_frame([("A", "2024-01-01")], ["customer_id", "signup_date"], ("signup_date",))
    rows = [
        ("A", "2024-03-31 23:59:59", 10.0),  # on the cutoff day: counts
        ("A", "2024-04-01 00:00:00", 99.0),  # the next day: does not
    ]
    orders = make_frame(rows, ["customer_id", "order_date", "amount"], ("order_date",))
    out = build_features(Tables(customers=customers, orders=orders), cutoff, feature_config)
    assert out.loc["A", "orders__count"] == 1
    assert out.loc["A", "orders__spend_total"] == 10

"""Features never see the future: rows dated after ``as_of`` change nothing, bit for bit.

For the cutoff view the future is everything after the cutoff day; for the Day One view it is
everything after each customer's own Day One window. The appended rows also carry new values
(a new channel, plan, kind, step, ticket category) that must not create columns, and later dates
inside visible rows (``end_date``, ``resolved_at``) are rewritten when they lie in the future.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from predictor.config import Config, DayOneConfig
from predictor.contract.tables import Tables
from predictor.features import (
    FAMILIES,
    EncodedTables,
    build_day_one_features,
    build_features,
    compute_features,
)
from predictor.testing import synthetic_tables
from predictor.timeline import day_end, day_one_windows, truncate, truncate_day_one

CUTOFFS = ["2023-09-30", "2024-03-31"]
EVENT_DATES = {
    "orders": "order_date",
    "subscriptions": "start_date",
    "onboarding": "completed_at",
    "support_tickets": "opened_at",
    "interactions": "occurred_at",
    "nps": "responded_at",
}
LATER_DATES = {"subscriptions": "end_date", "support_tickets": "resolved_at"}
RATES = {"orders": 8.0, "support_tickets": 3.0, "interactions": 25.0, "nps": 2.0}
"""Rows per customer: dense enough that every family has rows on both sides of both cutoffs."""
NEW_VALUES = {
    "orders": {"channel": "tiktok_shop", "product_line": "gadgets"},
    "subscriptions": {"plan": "platinum"},
    "onboarding": {"step": "app_installed"},
    "support_tickets": {"channel": "carrier_pigeon", "category": "fraud"},
    "interactions": {"channel": "whatsapp", "kind": "unsubscribe"},
}


def _append_future(tables: Tables, limits: pd.Series, seed: int) -> Tables:
    """Copy rows of every event table and date them after their customer's limit (+ new values)."""
    rng = np.random.default_rng(seed)
    out: dict[str, pd.DataFrame] = {}
    for name, frame in tables.items():
        if name == "customers":
            continue
        extra = frame.sample(n=min(len(frame), 200), random_state=seed, replace=True).copy()
        limit = extra["customer_id"].map(limits)
        minutes = rng.integers(1, 400 * 24 * 60, len(extra))
        extra[EVENT_DATES[name]] = limit + pd.to_timedelta(minutes, unit="min")
        if name in LATER_DATES:
            extra[LATER_DATES[name]] = extra[EVENT_DATES[name]] + pd.Timedelta(days=3)
        for col, value in NEW_VALUES.get(name, {}).items():
            extra[col] = value
        out[name] = pd.concat([frame, extra], ignore_index=True)
    return tables.replace(**out)


def _rewrite_later_dates(tables: Tables, limits: pd.Series) -> Tables:
    """Move every future ``end_date`` / ``resolved_at`` of a visible row to another future date."""
    out = {}
    for name, col in LATER_DATES.items():
        frame = tables.get(name).copy()
        limit = frame["customer_id"].map(limits)
        future = frame[col] > limit
        frame.loc[future, col] = frame.loc[future, col] + pd.Timedelta(days=45)
        out[name] = frame
    return tables.replace(**out)


@pytest.fixture(scope="module")
def tables() -> Tables:
    """Every table and optional column; signups 2023-01 .. 2024-08, events around both cutoffs."""
    return synthetic_tables(150, seed=0, signup_days=600, event_days=400, rates=RATES)


@pytest.mark.parametrize("cutoff", CUTOFFS)
def test_future_rows_change_nothing_at_a_cutoff(tables, cutoff):
    config = Config()
    base = build_features(tables, cutoff, config)
    ids = tables.customers["customer_id"]
    limits = pd.Series(day_end(cutoff), index=ids)
    future = _append_future(tables, limits, seed=1)
    newcomers = tables.customers.head(5).assign(
        customer_id=[f"new{i}" for i in range(5)],
        signup_date=pd.Timestamp(cutoff) + pd.Timedelta(days=1),
        country="XX",
    )
    future = future.replace(customers=pd.concat([tables.customers, newcomers], ignore_index=True))
    pd.testing.assert_frame_equal(base, build_features(future, cutoff, config), check_exact=True)
    rewritten = _rewrite_later_dates(tables, limits)
    pd.testing.assert_frame_equal(base, build_features(rewritten, cutoff, config), check_exact=True)


@pytest.mark.parametrize("window_days", [1, 7])
def test_rows_after_the_day_one_window_change_nothing(tables, window_days):
    config = Config(day_one=DayOneConfig(window_days=window_days))
    base = build_day_one_features(tables, config)
    limits = day_one_windows(tables.customers, window_days)
    future = _append_future(tables, limits, seed=2)
    pd.testing.assert_frame_equal(base, build_day_one_features(future, config), check_exact=True)
    rewritten = _rewrite_later_dates(tables, limits)
    pd.testing.assert_frame_equal(base, build_day_one_features(rewritten, config), check_exact=True)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_families_ignore_rows_after_as_of_even_untruncated(tables, family):
    """Families re-apply the limit themselves: untruncated and truncated tables agree."""
    config = Config()
    cutoff = CUTOFFS[1]
    visible = truncate(tables, cutoff)
    as_of = pd.Series(day_end(cutoff), index=pd.Index(visible.customers["customer_id"]))
    raw = tables.replace(customers=visible.customers)
    compute = FAMILIES[family]
    pd.testing.assert_frame_equal(
        compute(visible, as_of, config), compute(raw, as_of, config), check_exact=True
    )
    limits = day_one_windows(tables.customers, 3)
    windowed = truncate_day_one(tables, 3)
    pd.testing.assert_frame_equal(
        compute(windowed, limits, config), compute(tables, limits, config), check_exact=True
    )


def test_joined_frame_agrees_with_truncation(tables):
    cutoff = CUTOFFS[0]
    visible = truncate(tables, cutoff)
    as_of = pd.Series(day_end(cutoff), index=pd.Index(visible.customers["customer_id"]))
    raw = tables.replace(customers=visible.customers)
    pd.testing.assert_frame_equal(
        build_features(tables, cutoff, Config(), bgnbd_params=None),
        compute_features(raw, as_of, Config()),
        check_exact=True,
    )


def test_one_encoding_serves_every_cutoff_without_seeing_the_future(tables):
    """Training encodes the tables once for all cutoffs: each cutoff's features still equal,
    bit for bit, those built from the tables truncated to that cutoff, whatever the order."""
    config = Config()
    latest = pd.Series(day_end(CUTOFFS[-1]), index=tables.customers["customer_id"])
    future = _append_future(tables, latest, seed=3)
    encoded = EncodedTables(future)
    for cutoff in [*reversed(CUTOFFS), CUTOFFS[-1]]:
        expected = build_features(truncate(tables, cutoff), cutoff, config)
        got = build_features(future, cutoff, config, encoded=encoded)
        pd.testing.assert_frame_equal(expected, got, check_exact=True)
    day_one = Config(day_one=DayOneConfig(window_days=7))
    expected = build_day_one_features(truncate_day_one(future, 7), day_one)
    got = build_day_one_features(future, day_one, encoded=encoded)
    pd.testing.assert_frame_equal(expected, got, check_exact=True)


def test_an_encoding_of_other_tables_is_refused(tables):
    with pytest.raises(ValueError, match="other tables"):
        build_features(
            tables, CUTOFFS[0], Config(), encoded=EncodedTables(truncate(tables, "2024-01-31"))
        )

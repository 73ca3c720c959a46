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
from predictor.features import FAMILIES, build_day_one_features, build_features, compute_features
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
NEW_VALUES = {
    "orders": {"channel": "tiktok_shop", "product_line": "gadgets"},
    "subscriptions": {"plan": "platinum"},
    "onboarding": {"step": "app_installed"},
    "support_tickets": {"channel": "carrier_pigeon", "category": "fraud"},
    "interactions": {"channel": "whatsapp", "kind": "unsubscribe"},
}


def _tables(n: int = 150, seed: int = 0) -> Tables:
    """Every table and optional column; events from 2023-01 to 2024-12, around both cutoffs."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"c{i:03d}" for i in range(n)], dtype=object)
    signup = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 600, n), unit="D")

    def rows(rate: float) -> tuple[np.ndarray, pd.Series]:
        owner = np.repeat(np.arange(n), rng.poisson(rate, n))
        minutes = rng.integers(0, 400 * 24 * 60, len(owner))
        return owner, pd.Series(signup[owner] + pd.to_timedelta(minutes, unit="min"))

    def later(start: pd.Series, max_hours: int) -> pd.Series:
        end = start + pd.to_timedelta(rng.integers(1, max_hours, len(start)), unit="h")
        return end.where(rng.random(len(start)) > 0.2)

    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "signup_date": signup,
            "acquisition_channel": rng.choice(["ads", "organic", "referral"], n),
            "region": rng.choice(["north", "south"], n),
            "age": rng.integers(18, 80, n).astype(float),
        }
    )
    o, t = rows(8)
    amount = np.round(rng.lognormal(3, 0.5, len(o)), 2) * np.where(rng.random(len(o)) < 0.05, -1, 1)
    orders = pd.DataFrame(
        {
            "customer_id": ids[o],
            "order_date": t,
            "amount": amount,
            "margin": np.where(rng.random(len(o)) < 0.5, np.nan, amount * 0.3),
            "channel": rng.choice(["web", "app", "store"], len(o)),
            "items": rng.integers(1, 5, len(o)).astype(float),
            "product_line": rng.choice(["a", "b", "c"], len(o)),
        }
    )
    s, t = rows(1.5)
    subscriptions = pd.DataFrame(
        {
            "customer_id": ids[s],
            "start_date": t,
            "end_date": later(t, 24 * 300),
            "plan": rng.choice(["basic", "plus"], len(s)),
            "mrr": rng.choice([10.0, 20.0], len(s)),
        }
    )
    b, t = rows(4)
    steps = np.array(Config().onboarding.steps)
    onboarding = pd.DataFrame(
        {"customer_id": ids[b], "step": rng.choice(steps[:3], len(b)), "completed_at": t}
    )
    k, t = rows(3)
    support = pd.DataFrame(
        {
            "customer_id": ids[k],
            "opened_at": t,
            "resolved_at": later(t, 200),
            "channel": rng.choice(["email", "live_chat"], len(k)),
            "csat": np.where(rng.random(len(k)) < 0.3, np.nan, rng.integers(1, 6, len(k))),
            "category": rng.choice(["billing", "delivery"], len(k)),
            "escalated": rng.random(len(k)) < 0.2,
        }
    )
    i, t = rows(25)
    interactions = pd.DataFrame(
        {
            "customer_id": ids[i],
            "occurred_at": t,
            "channel": rng.choice(["email", "sms", "app"], len(i)),
            "kind": rng.choice(["sent", "open", "click", "session"], len(i)),
        }
    )
    v, t = rows(2)
    nps = pd.DataFrame(
        {"customer_id": ids[v], "responded_at": t, "score": rng.integers(0, 11, len(v))}
    )
    return Tables(
        customers=customers,
        orders=orders,
        subscriptions=subscriptions,
        onboarding=onboarding,
        support_tickets=support,
        interactions=interactions,
        nps=nps,
    )


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
    return _tables()


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
        region="east",
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

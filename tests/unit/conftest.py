"""Shared fixtures of the unit tests: tiny table builders and a seeded rich synthetic table set."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from predictor.config import Config
from predictor.contract.tables import Tables
from predictor.timeline import day_end

START = pd.Timestamp("2023-01-01")


def frame(rows: list[tuple], columns: list[str], dates: tuple[str, ...] = ()) -> pd.DataFrame:
    """A small frame from literal rows; ``dates`` columns are parsed to ``datetime64``."""
    out = pd.DataFrame(rows, columns=columns)
    for col in dates:
        out[col] = pd.to_datetime(out[col], format="ISO8601")
    return out


@pytest.fixture
def feature_config() -> Config:
    """The default configuration."""
    return Config()


@pytest.fixture
def make_frame() -> Callable[..., pd.DataFrame]:
    """``make_frame(rows, columns, dates=(...))``: build a tiny table inline."""
    return frame


def make_rich_tables(n_customers: int = 300, seed: int = 0) -> Tables:
    """Every table with every optional column, seeded; events from 2023-01-01 to ~2024-09."""
    rng = np.random.default_rng(seed)
    n = n_customers
    ids = np.array([f"c{i:04d}" for i in range(n)], dtype=object)
    signup = START + pd.to_timedelta(rng.integers(0, 540, n), unit="D")
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "signup_date": signup,
            "acquisition_channel": rng.choice(["paid_search", "organic", "referral", "social"], n),
            "country": rng.choice(["FR", "DE", "US", None], n),
            "age": np.where(rng.random(n) < 0.1, np.nan, rng.integers(18, 80, n)),
            "is_business": rng.random(n) < 0.2,
            "first_visit": signup - pd.to_timedelta(rng.integers(0, 30, n), unit="D"),
        }
    )

    def events(rate: float, spread_days: int) -> tuple[np.ndarray, pd.Series]:
        counts = rng.poisson(rate, n)
        owner = np.repeat(np.arange(n), counts)
        offset = rng.integers(0, spread_days * 24 * 60, len(owner))
        when = signup[owner] + pd.to_timedelta(offset, unit="min")
        return owner, pd.Series(when)

    owner, when = events(6, 500)
    m = len(owner)
    amount = np.round(rng.lognormal(3.5, 0.6, m), 2)
    amount[rng.random(m) < 0.05] *= -1
    orders = pd.DataFrame(
        {
            "customer_id": ids[owner],
            "order_date": when,
            "amount": amount,
            "order_id": [f"o{i}" for i in range(m)],
            "margin": np.where(rng.random(m) < 0.3, np.nan, amount * 0.4),
            "channel": rng.choice(["web", "app", "store", "Phone Order"], m),
            "items": rng.integers(1, 6, m).astype(float),
            "product_line": rng.choice(["shoes", "bags", "hats", "socks", "coats"], m),
        }
    )

    sub_owner = np.flatnonzero(rng.random(n) < 0.5)
    periods = rng.integers(1, 4, len(sub_owner))
    s_owner = np.repeat(sub_owner, periods)
    first = np.r_[0, np.cumsum(periods)[:-1]]
    idx = np.arange(len(s_owner)) - np.repeat(first, periods)
    start = signup[s_owner] + pd.to_timedelta(idx * 120, unit="D")
    length = pd.to_timedelta(np.where(idx == np.repeat(periods, periods) - 1, 200, 120), unit="D")
    end = pd.Series(start + length)
    end[rng.random(len(s_owner)) < 0.3] = pd.NaT
    plan = rng.choice(["basic", "plus", "pro"], len(s_owner))
    subscriptions = pd.DataFrame(
        {
            "customer_id": ids[s_owner],
            "start_date": start,
            "end_date": end,
            "plan": plan,
            "mrr": pd.Series(plan).map({"basic": 10.0, "plus": 20.0, "pro": 40.0}).to_numpy(),
        }
    )

    steps = Config().onboarding.steps
    done = rng.random((n, len(steps))) < np.linspace(0.95, 0.4, len(steps))
    o_owner, o_step = np.nonzero(done)
    onboarding = pd.DataFrame(
        {
            "customer_id": ids[o_owner],
            "step": np.array(steps)[o_step],
            "completed_at": signup[o_owner]
            + pd.to_timedelta(rng.integers(0, 30 * 24, len(o_owner)), unit="h"),
        }
    )

    t_owner, opened = events(1.5, 500)
    k = len(t_owner)
    resolved = pd.Series(opened + pd.to_timedelta(rng.integers(1, 120, k), unit="h"))
    resolved[rng.random(k) < 0.1] = pd.NaT
    support = pd.DataFrame(
        {
            "customer_id": ids[t_owner],
            "opened_at": opened,
            "resolved_at": resolved,
            "channel": rng.choice(["email", "phone", "live_chat", "Live Chat", "social"], k),
            "csat": np.where(rng.random(k) < 0.4, np.nan, rng.integers(1, 6, k)),
            "category": rng.choice(["billing", "delivery", "product", "account"], k),
            "escalated": rng.random(k) < 0.1,
        }
    )

    i_owner, occurred = events(20, 500)
    q = len(i_owner)
    interactions = pd.DataFrame(
        {
            "customer_id": ids[i_owner],
            "occurred_at": occurred,
            "channel": rng.choice(["email", "sms", "push", "web", "app"], q),
            "kind": rng.choice(["sent", "open", "click", "visit", "session"], q),
        }
    )

    n_owner, responded = events(0.8, 500)
    nps = pd.DataFrame(
        {
            "customer_id": ids[n_owner],
            "responded_at": responded,
            "score": rng.integers(0, 11, len(n_owner)).astype(float),
        }
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


@pytest.fixture(scope="session")
def rich_tables() -> Tables:
    """A seeded synthetic set of every table with every optional column (300 customers)."""
    return make_rich_tables()


def cutoff_series(customers: pd.DataFrame, cutoff: str) -> pd.Series:
    """The per-customer ``as_of`` of a scalar cutoff: the last instant of that day."""
    ids = pd.Index(customers["customer_id"], name="customer_id")
    return pd.Series(day_end(cutoff), index=ids)


def no_orders() -> pd.DataFrame:
    """An empty orders table (orders are required; most family tests do not need any)."""
    return frame([], ["customer_id", "order_date", "amount"], dates=("order_date",))


@pytest.fixture
def as_of_at() -> Callable[[pd.DataFrame, str], pd.Series]:
    """``as_of_at(customers, "2024-03-31")``: everyone's ``as_of`` at the end of that day."""
    return cutoff_series


@pytest.fixture
def empty_orders() -> pd.DataFrame:
    """An empty orders table."""
    return no_orders()

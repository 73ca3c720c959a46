"""One seeded synthetic-table factory for the tests and the benchmarks.

``synthetic_tables`` draws every table of the contract with every optional column: plain
random data (no business story, unlike ``predictor.sample``), fast to build at any size and
the same for the same arguments. Tests use it where they need realistic shapes (many
customers, every column, refunds, open subscriptions, unresolved tickets) rather than
hand-made rows; ``benchmarks/bench_features.py`` uses it as its plain generator. Pure: no
file I/O.

Each customer signs up on a day drawn from ``signup_days`` days after ``start``; each event
table has a Poisson number of rows per customer (``rates``), dated uniformly in the
``event_days`` days after the customer's signup, so the data reaches past any single cutoff.
A share ``refund_share`` of the orders are refunds (negative amounts), 10% of the tickets and
30% of the subscriptions are still open (no ``resolved_at`` / ``end_date``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import numpy as np
import pandas as pd

from predictor.config import Config
from predictor.contract.tables import Tables

RATES: Mapping[str, float] = MappingProxyType(
    {"orders": 6.0, "support_tickets": 1.5, "interactions": 20.0, "nps": 0.8}
)
"""Mean rows per customer of the event tables drawn per customer (Poisson)."""
SUBSCRIBER_SHARE = 0.5
"""Share of customers with subscriptions (one to three consecutive periods each)."""


def synthetic_tables(
    n_customers: int = 300,
    seed: int = 0,
    *,
    start: str | pd.Timestamp = "2023-01-01",
    signup_days: int = 540,
    event_days: int = 500,
    rates: Mapping[str, float] = RATES,
    refund_share: float = 0.05,
) -> Tables:
    """Every table with every optional column, seeded (see the module docstring).

    With the defaults: 300 customers signed up in 2023-01-01 .. 2024-06, events up to ~2025-05.
    ``rates`` may name only some of ``RATES``' tables; the others keep their default rate.
    """
    rng = np.random.default_rng(seed)
    rate = {**RATES, **rates}
    n = n_customers
    ids = np.array([f"c{i:04d}" for i in range(n)], dtype=object)
    signup = pd.Timestamp(start) + pd.to_timedelta(rng.integers(0, signup_days, n), unit="D")
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

    def events(mean: float) -> tuple[np.ndarray, pd.Series]:
        owner = np.repeat(np.arange(n), rng.poisson(mean, n))
        offset = rng.integers(0, event_days * 24 * 60, len(owner))
        return owner, pd.Series(signup[owner] + pd.to_timedelta(offset, unit="min"))

    owner, when = events(rate["orders"])
    orders = _orders(rng, ids, owner, when, refund_share)
    subscriptions = _subscriptions(rng, ids, signup)
    onboarding = _onboarding(rng, ids, signup)
    t_owner, opened = events(rate["support_tickets"])
    support = _tickets(rng, ids, t_owner, opened)
    i_owner, occurred = events(rate["interactions"])
    q = len(i_owner)
    interactions = pd.DataFrame(
        {
            "customer_id": ids[i_owner],
            "occurred_at": occurred,
            "channel": rng.choice(["email", "sms", "push", "web", "app"], q),
            "kind": rng.choice(["sent", "open", "click", "visit", "session"], q),
        }
    )
    n_owner, responded = events(rate["nps"])
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


def _orders(
    rng: np.random.Generator,
    ids: np.ndarray,
    owner: np.ndarray,
    when: pd.Series,
    refund_share: float,
) -> pd.DataFrame:
    """Orders with every optional column; ``refund_share`` of them have a negative amount."""
    m = len(owner)
    amount = np.round(rng.lognormal(3.5, 0.6, m), 2)
    amount[rng.random(m) < refund_share] *= -1
    return pd.DataFrame(
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


def _subscriptions(
    rng: np.random.Generator, ids: np.ndarray, signup: pd.DatetimeIndex
) -> pd.DataFrame:
    """One to three consecutive periods for ``SUBSCRIBER_SHARE`` of the customers."""
    sub_owner = np.flatnonzero(rng.random(len(ids)) < SUBSCRIBER_SHARE)
    periods = rng.integers(1, 4, len(sub_owner))
    s_owner = np.repeat(sub_owner, periods)
    first = np.r_[0, np.cumsum(periods)[:-1]]
    idx = np.arange(len(s_owner)) - np.repeat(first, periods)
    start = signup[s_owner] + pd.to_timedelta(idx * 120, unit="D")
    length = pd.to_timedelta(np.where(idx == np.repeat(periods, periods) - 1, 200, 120), unit="D")
    end = pd.Series(start + length)
    end[rng.random(len(s_owner)) < 0.3] = pd.NaT
    plan = rng.choice(["basic", "plus", "pro"], len(s_owner))
    return pd.DataFrame(
        {
            "customer_id": ids[s_owner],
            "start_date": start,
            "end_date": end,
            "plan": plan,
            "mrr": pd.Series(plan).map({"basic": 10.0, "plus": 20.0, "pro": 40.0}).to_numpy(),
        }
    )


def _onboarding(
    rng: np.random.Generator, ids: np.ndarray, signup: pd.DatetimeIndex
) -> pd.DataFrame:
    """The configured steps, each less often completed than the one before, in the first 30 days."""
    steps = Config().onboarding.steps
    done = rng.random((len(ids), len(steps))) < np.linspace(0.95, 0.4, len(steps))
    o_owner, o_step = np.nonzero(done)
    return pd.DataFrame(
        {
            "customer_id": ids[o_owner],
            "step": np.array(steps)[o_step],
            "completed_at": signup[o_owner]
            + pd.to_timedelta(rng.integers(0, 30 * 24, len(o_owner)), unit="h"),
        }
    )


def _tickets(
    rng: np.random.Generator, ids: np.ndarray, owner: np.ndarray, opened: pd.Series
) -> pd.DataFrame:
    """Support tickets with every optional column; 10% unresolved, 40% without a CSAT."""
    k = len(owner)
    resolved = pd.Series(opened + pd.to_timedelta(rng.integers(1, 120, k), unit="h"))
    resolved[rng.random(k) < 0.1] = pd.NaT
    return pd.DataFrame(
        {
            "customer_id": ids[owner],
            "opened_at": opened,
            "resolved_at": resolved,
            "channel": rng.choice(["email", "phone", "live_chat", "Live Chat", "social"], k),
            "csat": np.where(rng.random(k) < 0.4, np.nan, rng.integers(1, 6, k)),
            "category": rng.choice(["billing", "delivery", "product", "account"], k),
            "escalated": rng.random(k) < 0.1,
        }
    )

"""A usage-heavy B2B subscription sample: daily product usage driven by a hidden account health.

``generate_usage`` simulates accounts of a per-seat SaaS product day by day and returns the
contract tables (customers, subscriptions with ``seats``, orders = paid invoices, interactions =
daily usage events and failed payments, support tickets, NPS) plus the hidden traits;
``usage_truth`` gives the exact probability that an account active at a cutoff cancels within
the churn horizon, from its hidden state then. Truth is never a model input.

The process (``predictor.sample.usage_process``), one calendar day at a time:

* Accounts sign up throughout the span (acquisition doubling over it) with a company size
  (which sets the seats), acquisition channel, industry, country and plan; hidden traits: a
  base cancellation hazard, a mean health, a usage rate per seat, a fading speed, a support
  need and a card-failure rate, all with heavy individual noise.
* The hidden state: *health* (a daily AR(1) around the account's mean, pushed down by badly
  handled tickets and failed payments), *fade* (0, or growing by the account's own speed per
  day from an onset whose chance rises with low health and grievance; it recovers to 0 with
  a small daily chance), *grievance* (bad tickets, decaying), *seats*, *plan* and *dunning*
  (days left to pay a failed invoice).
* Daily cancellation hazard = base x tenure (higher while new) x plan x
  exp(-0.5 health + 1.6 fade + 0.25 grievance), plus 0.01 while an invoice is unpaid.
  Fading is what precedes most cancellations: usage decays over the weeks before them, at a
  speed that differs between accounts.
* Observed, each day an account is active: usage events ~ Poisson(seats x rate x
  exp(0.8 health - 0.9 fade) x weekday factor) (healthier accounts use more per seat), each with a channel (web,
  app, mobile, api) and a kind (login, session, feature_use, report, admin, api_call) drawn
  from the account's usage profile; support tickets (more frequent when fading or aggrieved;
  badly handled ones are slow with low CSAT); NPS surveys every 90 days from day 30 (40%
  answer; the score falls with low health, fade and grievance); seats added (healthy) and
  removed (fading), downgrades (fading, unhealthy) and upgrades; a monthly invoice per seat
  on the signup's day of month, which fails with the account's card-failure rate (an
  interaction of channel ``billing``, kind ``payment_failed``) and is then paid late with a
  25% daily chance for up to 21 days.

Tables: a plan or seat change ends one subscription row and starts the next the same day;
a cancellation on day ``d`` ends the subscription at midnight of ``d`` (no usage that day).
Events carry a time of day. The state draws and the observation draws use separate seeded
streams per day, so the truth replays the state without redrawing 50M usage events.
Pure: no file I/O and no clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from predictor.contract.tables import Tables
from predictor.sample.usage_frames import PROFILE_P, _Collector, _traits
from predictor.sample.usage_process import (
    NEVER,
    _Accounts,
    _Day,
    _day_of_month,
    _draw_accounts,
    _enter,
    _rng,
    _State,
    _step,
)

_MC_ELEMENTS = 262_144
"""Simulated futures per block of the truth (bounds its memory)."""


@dataclass(frozen=True)
class UsageSample:
    """A generated usage-heavy business: contract tables, hidden traits and what made them.

    ``traits`` (index ``customer_id``) hold hidden per-account properties and the realised
    ``churn_date``; they are for benchmarks and must never be a model input. ``end_date`` is
    the last day of data (midnight of that day).
    """

    tables: Tables
    traits: pd.DataFrame
    seed: int
    start_date: pd.Timestamp
    end_date: pd.Timestamp
    _accounts: _Accounts


def generate_usage(
    n_accounts: int = 12_500,
    seed: int = 0,
    start: str = "2022-07-01",
    years: float = 3.0,
    activity: float = 1.0,
) -> UsageSample:
    """Simulate ``n_accounts`` accounts over ``years`` from ``start``; same seed, same data.

    ``activity`` scales the usage event rate only (1.0: 12,500 accounts log about 50M events
    over the default three years; small tests use less). The hidden process, the
    cancellations and the truth do not depend on it.
    """
    if n_accounts < 1 or seed < 0 or years <= 0 or activity <= 0:
        raise ValueError("n_accounts must be >= 1, seed >= 0, years > 0 and activity > 0")
    start_ts = pd.Timestamp(start).normalize()
    n_days = int(round(years * 365.25))
    acc = _draw_accounts(seed, n_accounts, start_ts, n_days, PROFILE_P)
    collector = _Collector(acc, seed, n_days, activity)
    death, _ = _simulate(acc, seed, n_days, collector.day)
    return UsageSample(
        tables=collector.tables(death),
        traits=_traits(acc, death, n_days),
        seed=seed,
        start_date=start_ts,
        end_date=start_ts + pd.Timedelta(days=n_days - 1),
        _accounts=acc,
    )


def _simulate(
    acc: _Accounts,
    seed: int,
    n_days: int,
    hook: Callable[[int, _Day, _State], None] | None = None,
) -> tuple[np.ndarray, _State]:
    """Run days ``0 .. n_days-1``: cancellation days and the state after the last day.

    Returns each account's cancellation day (NEVER if none) and the state at the end of the
    last day (of the accounts still active then). ``hook(day, draws, next_state)`` sees every day (the collector of rows).
    """
    starts = np.searchsorted(acc.signup, np.arange(n_days + 1))
    dom = _day_of_month(acc.start, n_days)
    death = np.full(len(acc.signup), NEVER, dtype=np.int64)
    st = _enter(acc, np.zeros(0, dtype=np.int64))
    for d in range(n_days):
        if starts[d + 1] > starts[d]:
            st = _State.concat([st, _enter(acc, np.arange(starts[d], starts[d + 1]))])
        if not len(st):
            continue
        before = st.idx
        _, died, draws, st = _step(acc, st, d, int(dom[d]), _rng(seed, d, 0), kill=True)
        death[before[died]] = d
        if hook is not None:
            hook(d, draws, st)
    return death, st


def usage_truth(
    sample: UsageSample,
    as_of: pd.Timestamp | str,
    *,
    churn_horizon_days: int = 90,
    n_sims: int = 64,
    seed: int = 0,
) -> pd.DataFrame:
    """True probability of cancelling within the horizon, for accounts signed up by ``as_of``.

    Index ``customer_id``; columns ``alive`` and ``in_churn_population`` (a subscription
    covers the end of ``as_of``: the churn label's population) and ``true_churn_prob``
    (NaN outside the population): the probability that the account's subscription ends in
    ``(as_of, as_of + churn_horizon_days]`` given its hidden state at the end of ``as_of``.
    The state is replayed exactly; its futures are simulated without cancellations and every
    day weighted by the probability of still being subscribed (exact in expectation).
    """
    if churn_horizon_days < 1 or n_sims < 1:
        raise ValueError("churn_horizon_days and n_sims must be >= 1")
    acc = sample._accounts
    a = int((pd.Timestamp(as_of).normalize() - sample.start_date) // pd.Timedelta(days=1))
    if a < 0:
        raise ValueError(f"as_of {as_of} is before the sample starts ({sample.start_date.date()})")
    n_in = int(np.searchsorted(acc.signup, a, side="right"))
    _, st = _simulate(acc, sample.seed, a + 1)
    p_churn = np.full(n_in, np.nan)
    p_churn[st.idx] = _futures(acc, st, a, churn_horizon_days, n_sims, [seed, sample.seed])
    alive = np.zeros(n_in, dtype=bool)
    alive[st.idx] = True
    ids = sample.tables.customers["customer_id"].iloc[:n_in].to_numpy()
    return pd.DataFrame(
        {"alive": alive, "in_churn_population": alive, "true_churn_prob": p_churn},
        index=pd.Index(ids, name="customer_id"),
    )


def _futures(
    acc: _Accounts, st: _State, a: int, horizon: int, n_sims: int, seeds: list[int]
) -> np.ndarray:
    """Mean probability of cancelling on days ``a+1 .. a+horizon`` over ``n_sims`` futures."""
    n = len(st)
    out = np.zeros(n)
    dom = _day_of_month(acc.start, a + horizon + 1)
    block = max(1, _MC_ELEMENTS // n_sims)
    for b0 in range(0, n, block):
        rows = np.arange(b0, min(n, b0 + block))
        fut = st.take(np.tile(rows, n_sims))
        surv = np.ones(len(fut), dtype=np.float64)
        rng = np.random.default_rng([*seeds, a, b0, 99])
        for d in range(a + 1, a + horizon + 1):
            h, _, _, fut = _step(acc, fut, d, int(dom[d]), rng, kill=False)
            surv *= 1.0 - h.astype(np.float64)
        out[rows] = 1.0 - surv.reshape(n_sims, len(rows)).mean(axis=0)
    return out

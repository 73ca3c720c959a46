"""``generate_sample``: one draw of the process, as contract tables plus the hidden traits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

from predictor.contract.tables import Tables
from predictor.sample.emit import _Collector
from predictor.sample.frames import _traits_frame
from predictor.sample.params import _MODE_KEY
from predictor.sample.weeks import _run
from predictor.sample.world import _make_world, _span_days, _World


@dataclass(frozen=True)
class SampleBusiness:
    """A generated business: the contract tables, the hidden traits, and what made them.

    ``traits`` (index ``customer_id``) are hidden per-customer properties and realised
    outcomes (``churn_date``); they are for benchmarks and must never be a model input.
    ``end_date`` is the last day of data (midnight of that day); events on it carry a time.
    """

    tables: Tables
    traits: pd.DataFrame
    mode: str
    seed: int
    start_date: pd.Timestamp
    end_date: pd.Timestamp
    _world: _World = field(repr=False, compare=False)


def generate_sample(
    n_customers: int = 5000,
    seed: int = 0,
    mode: Literal["subscription", "retail"] = "subscription",
    start: str = "2022-01-01",
    years: float = 3.5,
) -> SampleBusiness:
    """Simulate ``n_customers`` customers over ``years`` from ``start``; same seed, same data.

    Subscription mode has a subscriptions table and monthly charges as orders; retail mode has
    no subscriptions (``tables.subscriptions is None``) and churn is silent.
    """
    if mode not in _MODE_KEY:
        raise ValueError(f"mode must be 'subscription' or 'retail', not {mode!r}")
    if n_customers < 1 or seed < 0 or years <= 0:
        raise ValueError("n_customers must be >= 1, seed >= 0 and years > 0")
    start_ts = pd.Timestamp(start).normalize()
    n_days = _span_days(start_ts, years)
    world = _make_world(n_customers, seed, mode, start_ts, n_days)
    collector = _Collector(world)
    death = _run(world, -(-n_days // 7), collector)
    tables = collector.tables(death)
    return SampleBusiness(
        tables=tables,
        traits=_traits_frame(world, death),
        mode=mode,
        seed=seed,
        start_date=start_ts,
        end_date=start_ts + pd.Timedelta(days=n_days - 1),
        _world=world,
    )

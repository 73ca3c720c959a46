"""Shared fixtures of the unit tests: tiny table builders and a seeded rich synthetic table set.

The rich set comes from ``predictor.testing.synthetic_tables``, the factory the leakage tests and
the feature benchmark share.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from predictor.config import Config
from predictor.contract.tables import Tables
from predictor.features import _base, _encoding
from predictor.testing import synthetic_tables
from predictor.timeline import day_end


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


@pytest.fixture(scope="session")
def rich_tables() -> Tables:
    """A seeded synthetic set of every table with every optional column (300 customers)."""
    return synthetic_tables()


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


def encoded_events(frame: pd.DataFrame, customers: int, limit: pd.Timestamp) -> _base.Events:
    """Event rows (time column ``at``) of customers ``C0``.. seen by everyone at ``limit``."""
    ids = pd.Index([f"C{i}" for i in range(customers)], name="customer_id")
    as_of = np.full(customers, np.datetime64(limit, "us"))
    pop = _base.Population(
        ids=ids,
        as_of=as_of,
        as_of_day=_encoding.day_number(as_of),
        signup=np.full(customers, np.datetime64("2020-01-01", "us")),
    )
    return _base.Events(pop, _encoding.EncodedTable(frame, "at", ids))

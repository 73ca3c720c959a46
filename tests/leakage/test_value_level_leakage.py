"""The recent and structural value levels read nothing after the date they are computed for."""

from __future__ import annotations

import numpy as np
import pandas as pd

from predictor.config import Config
from predictor.datasets import Frame
from predictor.modeling.value import ValueModel
from predictor.testing import synthetic_tables
from predictor.timeline import add_months
from predictor.training import (
    FeatureCache,
    _prior_level,
    _recent_level,
    _short_level,
    _value_orders,
    closed_months,
)

REFERENCE, NOW = pd.Timestamp("2023-09-30"), pd.Timestamp("2024-06-30")


def _fitted(tables, config: Config) -> tuple[ValueModel, pd.DataFrame, np.ndarray]:
    """A small value model fitted on the reference cutoff's frame, with that frame and labels."""
    X = FeatureCache(tables, config)(REFERENCE)
    y = np.random.default_rng(0).gamma(1.0, 50.0, len(X))
    return ValueModel(objective="tweedie", n_estimators=20, level_correction=False).fit(X, y), X, y


def _with_future_orders(tables):
    """The tables plus 60 large orders dated the day after ``NOW``."""
    future = tables.orders.sample(60, random_state=0).copy()
    future["order_date"] = NOW + pd.Timedelta(days=1)
    future["order_id"] = future["order_id"].astype(str) + "_future"
    future["amount"] = future["amount"] * 100
    return tables.replace(orders=pd.concat([tables.orders, future], ignore_index=True))


def _level(tables, model: ValueModel, config: Config, reference: Frame) -> float:
    return _recent_level(model, tables, FeatureCache(tables, config), config, 13, reference, NOW)


def test_orders_after_now_do_not_move_the_recent_level():
    config = Config()
    tables = synthetic_tables(80, seed=3)
    model, X, y = _fitted(tables, config)
    meta = pd.DataFrame({"customer_id": X.index, "as_of": REFERENCE})
    reference = Frame(X.reset_index(drop=True), y, meta)
    base = _level(tables, model, config, reference)

    assert _level(_with_future_orders(tables), model, config, reference) == base

    # the last months before NOW do count: more spend there raises the level
    orders = tables.orders
    recent = orders[orders["order_date"] > add_months(NOW, -3)]
    assert len(recent) > 0
    richer = orders.copy()
    richer.loc[recent.index, "amount"] *= 3
    assert _level(tables.replace(orders=richer), model, config, reference) > base


def test_orders_after_now_do_not_move_the_structural_level():
    config = Config()
    tables = synthetic_tables(80, seed=3)
    model, _, _ = _fitted(tables, config)
    level = lambda t: _prior_level(  # noqa: E731
        model, t, _value_orders(t, config), FeatureCache(t, config), NOW, 13
    )
    base = level(tables)
    assert np.isfinite(base) and base > 0
    later = _with_future_orders(tables)
    assert level(later) == base


def test_orders_after_now_do_not_move_the_short_history_level():
    """The window level pools spend up to ``now`` only; spend inside the windows does count."""
    config = Config()
    tables = synthetic_tables(80, seed=3)
    model, _, _ = _fitted(tables, config)
    cutoffs = [add_months(NOW, -6), add_months(NOW, -4)]

    def level(t) -> tuple[str, float]:
        return _short_level(model, t, FeatureCache(t, config), config, cutoffs, 2, NOW)

    rule, base = level(tables)
    assert rule == "window" and np.isfinite(base)
    later = _with_future_orders(tables)
    assert level(later) == (rule, base)

    orders = tables.orders
    inside = orders[(orders["order_date"] > cutoffs[0]) & (orders["order_date"] <= NOW)]
    assert len(inside) > 0
    richer = orders.copy()
    richer.loc[inside.index, "amount"] *= 3
    assert level(tables.replace(orders=richer))[1] > base


def test_short_history_level_falls_back_without_a_longer_window():
    config = Config()
    tables = synthetic_tables(80, seed=3)
    features = FeatureCache(tables, config)
    X = features(REFERENCE)
    y = np.random.default_rng(0).gamma(1.0, 50.0, len(X))
    model = ValueModel(objective="tweedie", n_estimators=20).fit(X, y, eval_set=(X, y))
    # a 2-month model and a cutoff only 2 months before now: no window longer than it learned
    rule, level = _short_level(model, tables, features, config, [add_months(NOW, -2)], 2, NOW)
    assert (rule, level) == ("validation", model.level_)


def test_closed_months_counts_whole_months_whose_label_has_closed():
    assert closed_months(REFERENCE, add_months(REFERENCE, 5), 13) == 5
    assert closed_months(REFERENCE, add_months(REFERENCE, 5) - pd.Timedelta(days=1), 13) == 4
    assert closed_months(REFERENCE, add_months(REFERENCE, 20), 13) == 13
    assert closed_months(REFERENCE, REFERENCE, 13) == 0

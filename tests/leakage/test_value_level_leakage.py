"""The recent and structural value levels read nothing after the date they are computed for."""

from __future__ import annotations

import numpy as np
import pandas as pd

from predictor.config import Config
from predictor.datasets import Frame
from predictor.modeling.value import ValueModel
from predictor.testing import synthetic_tables
from predictor.timeline import add_months
from predictor.training import FeatureCache, _prior_level, _recent_level, _value_orders

REFERENCE, NOW = pd.Timestamp("2023-09-30"), pd.Timestamp("2024-06-30")


def _level(tables, model: ValueModel, config: Config, reference: Frame) -> float:
    return _recent_level(model, tables, FeatureCache(tables, config), config, 13, reference, NOW)


def test_orders_after_now_do_not_move_the_recent_level():
    config = Config()
    tables = synthetic_tables(80, seed=3)
    features = FeatureCache(tables, config)
    X = features(REFERENCE)
    y = np.random.default_rng(0).gamma(1.0, 50.0, len(X))
    model = ValueModel(objective="tweedie", n_estimators=20, level_correction=False).fit(X, y)
    meta = pd.DataFrame({"customer_id": X.index, "as_of": REFERENCE})
    reference = Frame(X.reset_index(drop=True), y, meta)
    base = _level(tables, model, config, reference)

    orders = tables.orders
    future = orders.sample(60, random_state=0).copy()
    future["order_date"] = NOW + pd.Timedelta(days=1)
    future["order_id"] = future["order_id"].astype(str) + "_future"
    future["amount"] = future["amount"] * 100
    later = tables.replace(orders=pd.concat([orders, future], ignore_index=True))
    assert _level(later, model, config, reference) == base

    # the last months before NOW do count: more spend there raises the level
    recent = orders[orders["order_date"] > add_months(NOW, -3)]
    assert len(recent) > 0
    richer = orders.copy()
    richer.loc[recent.index, "amount"] *= 3
    assert _level(tables.replace(orders=richer), model, config, reference) > base


def test_orders_after_now_do_not_move_the_structural_level():
    config = Config()
    tables = synthetic_tables(80, seed=3)
    X = FeatureCache(tables, config)(REFERENCE)
    y = np.random.default_rng(0).gamma(1.0, 50.0, len(X))
    model = ValueModel(objective="tweedie", n_estimators=20, level_correction=False).fit(X, y)
    level = lambda t: _prior_level(  # noqa: E731
        model, t, _value_orders(t, config), FeatureCache(t, config), NOW, 13
    )
    base = level(tables)
    assert np.isfinite(base) and base > 0
    future = tables.orders.sample(60, random_state=0).copy()
    future["order_date"] = NOW + pd.Timedelta(days=1)
    future["order_id"] = future["order_id"].astype(str) + "_future"
    future["amount"] = future["amount"] * 100
    later = tables.replace(orders=pd.concat([tables.orders, future], ignore_index=True))
    assert level(later) == base

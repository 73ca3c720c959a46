"""The value levels read nothing after the date they are computed for."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from predictor.config import Config
from predictor.contract.tables import Tables
from predictor.datasets import Frame, data_span
from predictor.labels import value_label
from predictor.modeling.horizon import HorizonExtension
from predictor.modeling.value import ValueModel
from predictor.testing import synthetic_tables
from predictor.timeline import add_months
from predictor.training import (
    FeatureCache,
    _final_bgnbd_params,
    _fresh_reference,
    _prior_level,
    _recent_level,
    _short_level,
    _value_orders,
    closed_months,
    horizon_cutoffs,
    planned_cutoffs,
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


LATER = pd.Timestamp("2025-05-01")
"""A date with a year of cutoffs whose 13 months closed (the synthetic signups start 2023-01)."""


def _horizon_config(**cutoffs) -> Config:
    return Config.model_validate(
        {"value": {"level": "horizon", "learn_months": 3}, "cutoffs": cutoffs}
    )


def _horizon_reference(tables, model: ValueModel, config: Config, now: pd.Timestamp):
    train_cutoffs = [add_months(now, -6), add_months(now, -4)]
    features = FeatureCache(tables, config)
    return _fresh_reference(model, tables, features, config, train_cutoffs, now)


def test_horizon_cutoffs_are_a_year_of_closed_whole_horizons():
    config = _horizon_config()
    first = synthetic_tables(80, seed=3).customers["signup_date"].min().normalize()
    year = horizon_cutoffs(first, LATER, config)
    assert len(year) == 13  # 30-day steps over one year
    assert all(add_months(c, 13) <= LATER for c in year)
    assert add_months(year[-1] + pd.Timedelta(days=30), 13) > LATER  # the latest closed one
    assert year[-1] - year[0] == pd.Timedelta(days=360)
    # a month earlier the earliest cutoff allowed (90 days after the first signup) is less
    # than a year before the latest closed one: no horizon cutoffs
    assert horizon_cutoffs(first, add_months(LATER, -1), config) == []
    # explicit cutoff dates are used as given when their horizon closed and they cover the year
    dates = [add_months(pd.Timestamp("2023-05-01"), k) for k in range(13)]
    explicit = _horizon_config(dates=[str(d.date()) for d in dates])
    assert horizon_cutoffs(first, LATER, explicit) == dates[:-1]  # 2024-05-01 + 13 > LATER
    half = _horizon_config(dates=[str(d.date()) for d in dates[6:]])
    assert horizon_cutoffs(first, LATER, half) == []


@pytest.fixture(scope="module")
def horizon_fit() -> tuple[Config, Tables, ValueModel]:
    """A 3-month value model fitted under the 'horizon' level, on 80 synthetic customers."""
    config = _horizon_config()
    tables = synthetic_tables(80, seed=3)
    model, _, _ = _fitted(tables, config)
    return config, tables, model


def test_horizon_level_pools_actual_over_predicted_whole_horizons(horizon_fit):
    config, tables, model = horizon_fit
    rule, level = _horizon_reference(tables, model, config, LATER)
    assert rule == "horizon"

    first = tables.customers["signup_date"].min().normalize()
    params = _final_bgnbd_params(tables, LATER, config)
    actual = predicted = 0.0
    for as_of in horizon_cutoffs(first, LATER, config):
        y = value_label(tables, as_of, config.value)
        X = FeatureCache(tables, config)(as_of)
        ids = y.index.intersection(X.index)
        extend = HorizonExtension(params, 3, 13).factor(X.loc[ids])
        actual += y.loc[ids].sum()
        predicted += (model.predict_raw(X.loc[ids]) * extend).sum()
    assert np.isclose(level, np.clip(actual / predicted, 0.5, 2.0))


def test_orders_after_now_do_not_move_the_horizon_level(horizon_fit):
    config, tables, model = horizon_fit
    base = _horizon_reference(tables, model, config, LATER)
    future = tables.orders.sample(60, random_state=0).copy()
    future["order_date"] = LATER + pd.Timedelta(days=1)
    future["amount"] = future["amount"] * 100
    later = tables.replace(orders=pd.concat([tables.orders, future], ignore_index=True))
    assert _horizon_reference(later, model, config, LATER) == base

    # spend inside the windows (after the latest cutoff, up to now) counts
    orders = tables.orders
    inside = (orders["order_date"] > add_months(LATER, -13)) & (orders["order_date"] <= LATER)
    assert inside.any()
    richer = orders.copy()
    richer.loc[inside, "amount"] *= 3
    assert _horizon_reference(tables.replace(orders=richer), model, config, LATER)[1] > base[1]


def test_horizon_level_falls_back_to_window_blend_without_a_year_of_horizons(horizon_fit):
    config, tables, model = horizon_fit
    rule, level = _horizon_reference(tables, model, config, NOW)
    assert rule == "window_blend"
    cutoffs = [add_months(NOW, -6), add_months(NOW, -4)]
    window = _short_level(model, tables, FeatureCache(tables, config), config, cutoffs, 3, NOW)
    assert level == window[1]


def test_planned_cutoffs_hold_the_horizon_level_cutoffs():
    """The Spark engine builds ahead what the 'horizon' level asks for (``planned_cutoffs``)."""
    tables = synthetic_tables(80, seed=3)
    first, end = data_span(tables, Config())
    horizon = _horizon_config()
    wanted = set(horizon_cutoffs(first, end, horizon))
    assert len(wanted) == 13
    assert wanted <= set(planned_cutoffs(tables, horizon))
    blend = Config.model_validate({"value": {"level": "window_blend"}})
    assert not wanted <= set(planned_cutoffs(tables, blend))  # window_blend: not needed

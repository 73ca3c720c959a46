"""Per-bin reshaping of value predictions: keeps the ranking and the total, fixes bin levels."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from predictor.modeling.level import BinLevels
from predictor.modeling.value import ValueModel


def _miscalibrated(n: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Predictions whose low half spends 3x what is predicted, the high half as predicted."""
    rng = np.random.default_rng(seed)
    pred = np.exp(rng.normal(2.0, 1.0, n))
    truth = np.where(pred < np.median(pred), 3.0 * pred, pred)
    return rng.poisson(truth).astype(float), pred


def test_bins_keep_the_ranking_strictly():
    y, pred = _miscalibrated()
    bins = BinLevels.fit(y, pred)
    grid = np.sort(np.exp(np.linspace(-3, 8, 500)))
    shaped = bins.apply(grid)
    assert np.all(np.diff(shaped) > 0)
    assert bins.apply(np.array([0.0, 0.0])).tolist() == [0.0, 0.0]


def test_bins_keep_the_held_out_total_and_fix_the_low_bins():
    y, pred = _miscalibrated()
    shaped = BinLevels.fit(y, pred).apply(pred)
    np.testing.assert_allclose(shaped.sum(), pred.sum(), rtol=1e-9)
    low = pred < np.quantile(pred, 0.3)
    high = pred > np.quantile(pred, 0.7)
    before = (y[low].sum() / pred[low].sum()) / (y[high].sum() / pred[high].sum())
    after = (y[low].sum() / shaped[low].sum()) / (y[high].sum() / shaped[high].sum())
    assert before > 2.5 and abs(after - 1) < 0.2


def test_bins_need_enough_rows_and_spend():
    y, pred = _miscalibrated(n=60)
    assert BinLevels.fit(y, pred) is None
    assert BinLevels.fit(np.zeros(1000), np.ones(1000) + np.arange(1000)) is None


def test_value_model_with_bins_round_trips_and_explains_its_prediction():
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"a": rng.normal(size=1200), "b": rng.normal(size=1200)})
    y = rng.gamma(2.0, np.exp(X["a"].to_numpy()))
    model = ValueModel(objective="tweedie", n_estimators=30, n_jobs=1, bin_levels=True)
    model.fit(X[:800], y[:800], eval_set=(X[800:], y[800:]))
    assert model.bins_ is not None
    state = json.loads(json.dumps(model.get_state()))
    again = ValueModel.from_state(state, model.boosters_)
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    contribs, base = model.contributions(X)
    np.testing.assert_allclose(contribs.sum(axis=1) + base, model.predict(X), rtol=1e-4)
    plain = ValueModel(objective="tweedie", n_estimators=30, n_jobs=1)
    plain.fit(X[:800], y[:800], eval_set=(X[800:], y[800:]))
    order = np.argsort(plain.predict_raw(X), kind="stable")
    assert np.all(np.diff(model.predict_raw(X)[order]) >= 0)  # same boosters, same ranking

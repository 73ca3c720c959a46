"""Value intervals: normalized split conformal by prediction bin, and the interval metrics."""

import json

import numpy as np
import pytest

from predictor.modeling.intervals import ConformalInterval, interval_metrics, pinball


def _spend(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Zero-inflated, heavy-tailed spend around a known expectation (like 13-month value)."""
    rng = np.random.default_rng(seed)
    expected = rng.lognormal(4.0, 1.0, n)
    buys = rng.random(n) < 0.6
    y = np.where(buys, rng.gamma(2.0, expected / (2.0 * 0.6)), 0.0)
    return y, expected


def test_interval_covers_80_percent_of_fresh_rows_in_every_value_band():
    y_cal, pred_cal = _spend(6000, seed=0)
    y, pred = _spend(6000, seed=1)
    lo, hi = ConformalInterval.fit(y_cal, pred_cal).predict(pred)
    assert 0.77 <= interval_metrics(y, lo, hi)["interval_coverage"] <= 0.83
    high = pred > np.quantile(pred, 0.9)
    assert 0.72 <= np.mean((y[high] >= lo[high]) & (y[high] <= hi[high])) <= 0.88


def test_bounds_bracket_the_prediction_and_stay_nonnegative():
    y, pred = _spend(2000, seed=2)
    lo, hi = ConformalInterval.fit(y, pred).predict(pred * 3)
    assert (lo >= 0).all()
    assert (lo <= pred * 3).all() and (hi >= pred * 3).all()


def test_signed_values_keep_negative_lower_bounds():
    rng = np.random.default_rng(3)
    pred = rng.lognormal(3.0, 0.5, 2000)
    y = pred + rng.normal(0, 40, 2000)
    lo, _ = ConformalInterval.fit(y, pred).predict(pred)
    assert (lo < 0).any()


def test_json_round_trip_gives_the_same_bounds():
    y, pred = _spend(1000, seed=4)
    interval = ConformalInterval.fit(y, pred)
    again = ConformalInterval.from_dict(json.loads(json.dumps(interval.to_dict())))
    np.testing.assert_array_equal(interval.predict(pred)[1], again.predict(pred)[1])


def test_empty_calibration_is_refused():
    with pytest.raises(ValueError, match="zero rows"):
        ConformalInterval.fit(np.array([]), np.array([]))


def test_pinball_prefers_the_true_quantile():
    y = np.random.default_rng(5).exponential(10.0, 20000)
    true_p90 = np.quantile(y, 0.9)
    assert pinball(y, np.full_like(y, true_p90), 0.9) < pinball(
        y, np.full_like(y, 2 * true_p90), 0.9
    )
    assert pinball(y, np.full_like(y, true_p90), 0.9) < pinball(
        y, np.full_like(y, true_p90 / 2), 0.9
    )

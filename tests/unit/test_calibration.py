"""Calibration choice on held-out folds: never worse than none, never exactly 0 or 1."""

import numpy as np
import pytest

from predictor.modeling.calibration import (
    EPS,
    Calibration,
    choose_calibration,
    fit_calibration,
    log_loss,
)


def _scores(n: int, seed: int, distort: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Outcomes drawn from true probabilities; raw scores are those probabilities distorted."""
    rng = np.random.default_rng(seed)
    z = rng.normal(-2.0, 1.0, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    raw = 1 / (1 + np.exp(-(distort * z + 1.0)))
    return raw, y, np.arange(n) % 4


def test_miscalibrated_scores_are_fixed_on_held_out_folds():
    raw, y, folds = _scores(8000, 0, distort=2.0)
    choice = choose_calibration(raw, y, folds)
    assert choice.calibration.kind in ("sigmoid", "isotonic")
    assert choice.log_loss[choice.calibration.kind] < choice.log_loss["none"] - 0.01
    fresh_raw, fresh_y, _ = _scores(8000, 1, distort=2.0)
    calibrated = choice.calibration.apply(fresh_raw)
    assert log_loss(fresh_y, calibrated) < log_loss(fresh_y, fresh_raw)
    assert abs(calibrated.mean() - fresh_y.mean()) < 0.01


def test_well_calibrated_scores_keep_none_when_nothing_helps():
    rng = np.random.default_rng(3)
    raw = rng.uniform(0.05, 0.5, 3000)
    y = (rng.random(3000) < raw).astype(int)
    choice = choose_calibration(raw, y, np.arange(3000) % 3)
    best = min(choice.log_loss.values())
    assert choice.log_loss[choice.calibration.kind] == best
    assert choice.log_loss[choice.calibration.kind] <= choice.log_loss["none"]


def test_isotonic_needs_enough_positives():
    raw, y, folds = _scores(600, 2, distort=2.0)
    choice = choose_calibration(raw, y, folds, min_positives=int(y.sum()) + 1)
    assert "isotonic" not in choice.log_loss
    choice = choose_calibration(raw, y, folds, min_positives=1)
    assert "isotonic" in choice.log_loss


def test_isotonic_is_smooth_and_risks_stay_inside_the_open_interval():
    raw, y, _ = _scores(5000, 4, distort=1.5)
    iso = fit_calibration("isotonic", raw, y)
    p = iso.apply(raw)
    assert p.min() >= EPS and p.max() <= 1 - EPS
    assert np.all(np.diff(p[np.argsort(raw)]) >= -1e-12)  # monotone
    assert len(np.unique(np.round(p, 12))) >= 0.2 * len(p)  # not a step function
    extremes = Calibration().apply(np.array([0.0, 1.0]))
    assert extremes.tolist() == [EPS, 1 - EPS]


def test_state_round_trip_and_old_state_is_refused():
    raw, y, _ = _scores(2000, 5, distort=2.0)
    for kind in ("sigmoid", "isotonic"):
        cal = fit_calibration(kind, raw, y)
        again = Calibration.from_dict(cal.to_dict())
        np.testing.assert_array_equal(cal.apply(raw), again.apply(raw))
    with pytest.raises(ValueError, match="older predictor version"):
        Calibration.from_dict([[0.1, 0.2], [0.0, 1.0]])

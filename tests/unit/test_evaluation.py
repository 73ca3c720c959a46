"""Metrics on hand-checked numbers."""

from __future__ import annotations

import numpy as np
import pytest

from predictor.evaluation import (
    calibration_error,
    churn_metrics,
    decile_mape,
    lift_at,
    normalized_gini,
    top_decile_capture,
    value_metrics,
)


def test_normalized_gini_is_one_for_a_perfect_ranking_and_sign_flips():
    y = np.array([0.0, 1.0, 2.0, 5.0, 10.0])
    assert normalized_gini(y, y) == pytest.approx(1.0)
    assert normalized_gini(y, 2 * y + 3) == pytest.approx(1.0)  # only the order matters
    assert normalized_gini(y, -y) == pytest.approx(-1.0)


def test_decile_mape_compares_decile_means_and_skips_empty_deciles():
    y = np.repeat([0.0, 10.0], 10)  # the lower decile spends nothing
    pred = np.repeat([0.5, 12.0], 10)
    # deciles of 2 customers each; the five lowest hold zero spend and are skipped
    assert decile_mape(y, pred) == pytest.approx(0.2)
    almost_nothing = np.where(y == 0, 0.001, y)  # below 1% of the mean: skipped too
    assert decile_mape(almost_nothing, pred) == pytest.approx(0.2)


def test_aggregate_bias_and_top_decile_capture():
    y = np.arange(1.0, 11.0)
    metrics = value_metrics(y, y * 1.1)
    assert metrics["aggregate_bias"] == pytest.approx(0.1)
    assert top_decile_capture(y, y) == pytest.approx(10 / 55)


def test_calibration_error_and_lift():
    y = np.array([0, 0, 0, 1] * 25)
    assert calibration_error(y, np.full(100, 0.25)) == pytest.approx(0.0)
    assert calibration_error(y, np.full(100, 0.75)) == pytest.approx(0.5)
    perfect = y.astype(float)
    assert lift_at(y, perfect, 0.1) == pytest.approx(4.0)


def test_value_metrics_of_missing_predictions_are_nan_not_made_up():
    """A model trained without value predicts NaN: no ranking or sizing can be claimed."""
    y = np.arange(1.0, 21.0)
    for pred in (np.full(20, np.nan), np.where(y > 10, np.nan, y)):
        metrics = value_metrics(y, pred)
        assert set(metrics) == set(value_metrics(y, y))
        assert all(np.isnan(v) for v in metrics.values()), metrics


def test_churn_metrics_of_missing_predictions_are_nan_and_do_not_raise():
    y = np.array([0, 1] * 10)
    metrics = churn_metrics(y, np.full(20, np.nan))
    assert set(metrics) == set(churn_metrics(y, np.full(20, 0.5)))
    assert metrics["churn_rate"] == pytest.approx(0.5)  # a fact of the labels, still known
    assert all(np.isnan(v) for k, v in metrics.items() if k != "churn_rate"), metrics

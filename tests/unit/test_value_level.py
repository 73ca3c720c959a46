"""The level of value predictions: total ratio and the drift of recent windows."""

import numpy as np

from predictor.modeling.level import (
    WindowTotals,
    combine,
    drift,
    prior_ratio,
    total_ratio,
    window_ratio,
)


def test_drift_is_the_change_in_actual_over_predicted():
    reference = WindowTotals(actual=100.0, predicted=200.0)
    assert drift(reference, WindowTotals(actual=60.0, predicted=100.0)) == 1.2
    assert drift(reference, WindowTotals(actual=50.0, predicted=100.0)) == 1.0


def test_drift_is_clipped_and_neutral_when_undefined():
    reference = WindowTotals(actual=100.0, predicted=100.0)
    assert drift(reference, WindowTotals(actual=1000.0, predicted=10.0)) == 2.0
    assert drift(reference, WindowTotals(actual=0.0, predicted=10.0)) == 1.0
    assert drift(WindowTotals(0.0, 0.0), reference) == 1.0


def test_total_ratio_keeps_the_total_within_limits():
    y, pred = np.array([10.0, 30.0]), np.array([10.0, 10.0])
    assert total_ratio(y, pred) == 2.0
    assert total_ratio(y, pred * 1.6) == 1.25
    assert total_ratio(np.zeros(2), pred) == 1.0


def test_prior_ratio_is_the_structural_total_over_the_model_total():
    pred = np.array([10.0, 30.0])
    assert prior_ratio(np.array([30.0, 50.0]), pred) == 2.0
    assert prior_ratio(np.array([1000.0, 0.0]), pred) == 4.0  # clipped
    assert np.isnan(prior_ratio(np.zeros(2), pred))
    assert np.isnan(prior_ratio(np.array([1.0, np.nan]) * 0, pred))


def test_each_level_rule_combines_its_parts():
    reference, drift_, prior = 1.5, 1.2, 2.0
    assert combine("validation", reference, drift_, prior) == 1.5
    assert np.isclose(combine("recent", reference, drift_, prior), 1.8)
    assert combine("structural", reference, drift_, prior) == 2.0
    assert np.isclose(combine("blend", reference, drift_, prior), np.sqrt(1.8 * 2.0))
    # without a structural estimate the blend is the recent level
    assert np.isclose(combine("blend", reference, drift_, float("nan")), 1.8)
    assert np.isclose(combine("structural", reference, drift_, float("nan")), 1.8)


def test_window_ratio_pools_actual_over_predicted_across_cutoffs():
    windows = [WindowTotals(300.0, 100.0), WindowTotals(100.0, 300.0)]
    assert window_ratio(windows) == 1.0  # pooled, not the mean of 3 and 1/3
    assert window_ratio([WindowTotals(actual=150.0, predicted=100.0)]) == 1.5
    assert window_ratio([WindowTotals(actual=1000.0, predicted=10.0)]) == 2.0  # clipped


def test_window_ratio_is_undefined_without_spend_or_windows():
    assert np.isnan(window_ratio([]))
    assert np.isnan(window_ratio([WindowTotals(actual=0.0, predicted=100.0)]))


def test_window_rules_combine_their_pooled_reference_like_validation_and_blend():
    window, prior = 1.1, 1.3
    assert combine("window", window, 1.0, prior) == 1.1
    assert np.isclose(combine("window_blend", window, 1.0, prior), np.sqrt(1.1 * 1.3))
    assert combine("window_blend", window, 1.0, float("nan")) == 1.1


def test_horizon_rule_is_its_pooled_whole_horizon_reference():
    assert combine("horizon", 1.1, 1.4, 1.3) == 1.1
    assert combine("horizon", 1.1, 1.0, float("nan")) == 1.1

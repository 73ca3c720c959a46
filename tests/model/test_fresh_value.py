"""The 13-month value learned over a short horizon on the latest cutoffs (value.learn_months)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tests.conftest import fast_config

from predictor.timeline import add_months
from predictor.training import train


def test_value_learns_three_months_on_the_latest_cutoffs_and_is_judged_on_thirteen(trained):
    model, evaluation = trained
    result = evaluation.tasks["value_13m"]
    assert model.info["value_method"] == "xgboost_3m_extended_by_bgnbd"
    assert result.plan["horizon_months"] == 3
    test_cutoff = pd.Timestamp(result.plan["test"][0])
    # the held-out model's short labels all closed by the test cutoff
    for cutoff in result.plan["train"] + result.plan["valid"]:
        assert add_months(pd.Timestamp(cutoff), 3) <= test_cutoff
    # the saved model is refitted on later cutoffs than the held-out one
    refit = [pd.Timestamp(c) for c in result.plan["refit"]["train"] + result.plan["refit"]["valid"]]
    assert max(refit) > test_cutoff
    # ... with the objective the held-out check chose, so the evaluation describes it
    assert model.value.kind_ == result.plan["objective"]
    # level: the default rule, actual / predicted over whole 13-month windows of the latest
    # closed year (the fixture business has a year of them at both dates)
    assert result.plan["level_rule"] == "horizon"
    assert result.plan["level_rule_saved"] == "horizon"
    assert result.plan["level_reference"] > 0 and result.plan["level"] > 0
    assert result.table.loc["model", "normalized_gini"] > 0.5
    assert 0.5 < result.predictions["model"].sum() / result.y_true.sum() < 2.0


@pytest.fixture(scope="module")
def later_orders_tripled(business):
    """Value results trained on the business, then with every order after the test cutoff x3."""
    config = fast_config(cutoffs={"max_cutoffs": 2}).model_copy(update={"models": ["value_13m"]})
    tables = business.tables
    _, evaluation = train(tables, config)
    result = evaluation.tasks["value_13m"]
    test_cutoff = pd.Timestamp(result.plan["test"][0])

    orders = tables.orders.copy()
    later = orders["order_date"] > test_cutoff + pd.Timedelta(days=1)
    assert later.any()
    orders.loc[later, "amount"] *= 3
    _, evaluation2 = train(tables.replace(orders=orders), config)
    return result, evaluation2.tasks["value_13m"]


def test_held_out_value_model_reads_nothing_after_the_test_cutoff(later_orders_tripled):
    result, result2 = later_orders_tripled
    assert result2.plan["test"] == result.plan["test"]
    np.testing.assert_allclose(result2.predictions["model"], result.predictions["model"])
    # the labels (and the refitted model) do see the later orders
    assert result2.y_true.sum() > result.y_true.sum()


def test_horizon_level_pools_whole_horizons_in_training(business):
    """``value.level: horizon``: both the held-out check and the saved model use it here."""
    config = fast_config(value={"level": "horizon"}).model_copy(update={"models": ["value_13m"]})
    model, evaluation = train(business.tables, config)
    result = evaluation.tasks["value_13m"]
    assert result.plan["level_rule"] == "horizon" and result.plan["level_rule_saved"] == "horizon"
    assert result.plan["level"] == result.plan["level_reference"]  # no structural part
    assert 0.5 < result.predictions["model"].sum() / result.y_true.sum() < 2.0
    assert model.value.level_ > 0


def test_constant_mean_baseline_reads_no_held_out_label(later_orders_tripled):
    """The constant baseline predicts the training labels' mean, not the held-out answers'."""
    result, result2 = later_orders_tripled
    assert result2.y_true.sum() > result.y_true.sum()  # the held-out labels changed
    baseline = result.predictions["constant_mean"]
    np.testing.assert_array_equal(result2.predictions["constant_mean"], baseline)
    assert baseline[0] != pytest.approx(result.y_true.mean())
    assert result.table.loc["constant_mean", "aggregate_bias"] != pytest.approx(0.0)

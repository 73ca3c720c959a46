"""A model trained without churn (``models: [value_13m]``): promotion, explanation, segments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tests.conftest import fast_config

from predictor.datasets import data_span
from predictor.explain import explain_customer, explanation_lines
from predictor.promotion import compare, evaluate_at, newest_heldout
from predictor.scoring import active_customers
from predictor.training import FeatureCache, train

METRICS = ["value_13m.normalized_gini", "churn.log_loss"]


@pytest.fixture(scope="module")
def value_only(business):
    """(TrainedModel, tables) of a model trained on the 13-month value alone."""
    config = fast_config(cutoffs={"max_cutoffs": 2}).model_copy(update={"models": ["value_13m"]})
    model, _ = train(business.tables, config)
    assert model.churn is None and model.day_one is None
    return model, business.tables


def test_promotion_without_a_churn_model_keeps_the_champion_and_says_n_a(value_only):
    model, tables = value_only
    scores = evaluate_at(model, tables, newest_heldout(tables, model), model)
    assert np.isfinite(scores["value_13m.normalized_gini"])
    assert np.isnan(scores["churn.log_loss"]) and np.isnan(scores["churn.roc_auc"])

    champion = {"value_13m.normalized_gini": 0.0, "churn.log_loss": 0.4}
    decision = compare(champion, scores, METRICS)
    assert not decision.promote
    assert decision.comparison.loc["churn.log_loss", "better"] == "n/a"
    assert "churn.log_loss 0.4000 vs n/a" in decision.summary()


def test_explain_says_which_targets_were_not_trained(value_only):
    model, tables = value_only
    as_of = data_span(tables, model.config)[1].normalize()
    customer = str(tables.customers["customer_id"].iloc[0])
    lines = explanation_lines(explain_customer(model, tables, customer, as_of), as_of, 3, "EUR")
    headline = lines[1:4]
    assert headline[0].split()[:2] == ["13-month", "value"] and "not trained" not in headline[0]
    assert "not trained" in headline[1] and "Churn risk" in headline[1]
    assert "not trained" in headline[2] and "Day One value" in headline[2]
    assert not any("nan" in line for line in lines)


def test_value_cuts_without_churn_come_from_the_customers_scoring_calls_active(value_only):
    """Documented rule: the cuts are multiples of the mean predicted value of active customers."""
    model, tables = value_only
    cutoff = pd.Timestamp(model.segmenter.reference)
    frame = FeatureCache(tables, model.config)(cutoff)
    active = active_customers(tables, cutoff, model)
    assert 0 < len(active) < len(frame)  # some customers are lapsed at the cutoff
    expected = model.value.predict(frame.loc[frame.index.isin(active)]).mean()
    assert model.segmenter.mean_value == pytest.approx(expected, rel=1e-9)

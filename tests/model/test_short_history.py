"""A young business: less history than the value horizon still trains, honestly labelled."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tests.conftest import fast_config

from predictor.bundle import load_bundle, save_bundle
from predictor.datasets import ShortHistoryError
from predictor.scoring import scoring_frame
from predictor.timeline import truncate
from predictor.training import train

HISTORY_DAYS = 300


def _young(business, days: int):
    start = business.tables.customers["signup_date"].min()
    end = start + pd.Timedelta(days=days)
    return truncate(business.tables, end), fast_config(data={"end_date": str(end.date())})


@pytest.fixture(scope="module")
def young_model(retail_business):
    tables, config = _young(retail_business, HISTORY_DAYS)
    model, evaluation = train(tables, config)
    return tables, model, evaluation


def test_short_history_learns_a_shorter_horizon_and_says_so(young_model):
    _, model, evaluation = young_model
    months = model.info["value_trained_horizon_months"]
    assert 1 <= months < 13
    assert model.info["value_method"] == f"xgboost_{months}m_extended_by_bgnbd"
    assert evaluation.tasks["value_13m"].plan["horizon_months"] == months
    assert model.info["bgnbd_params"] is not None


def test_saved_model_is_refitted_on_every_closed_short_label(young_model):
    """The held-out check trains on cutoffs before its test cutoff; the saved model on all."""
    _, model, evaluation = young_model
    plan = evaluation.tasks["value_13m"].plan
    refit = plan["refit"]
    assert len(refit["train"]) > len(plan["train"])
    assert max(refit["train"]) > max(plan["train"]) and refit["valid"][0] >= plan["test"][0]
    assert plan["level_rule"] == "window"
    assert model.value.level_ == refit["level"] > 0


def test_extension_stretches_each_value_by_the_bgnbd_profile(young_model):
    tables, model, _ = young_model
    as_of = pd.Timestamp(model.info["data_end"])
    frame = scoring_frame(tables, as_of, model)
    current = frame[model.value.schema_.features_]
    extended = model.value.predict(current)
    extension = model.value.horizon_extension_
    factor = extension.factor(current)
    assert (factor >= 1).all() and factor.max() > 1.5
    assert np.ptp(factor) > 0  # per customer, not one constant
    model.value.extend_horizon(None)
    try:
        raw = model.value.predict(current)
    finally:
        model.value.extend_horizon(extension)
    np.testing.assert_allclose(extended, raw * factor, rtol=1e-6)  # float32 booster outputs
    contribs, base = model.value.contributions(current)
    np.testing.assert_allclose(contribs.sum(axis=1) + base, raw * factor, rtol=1e-3, atol=1e-2)


def test_extended_model_round_trips(young_model, tmp_path):
    tables, model, _ = young_model
    loaded, meta = load_bundle(save_bundle(model, tmp_path / "m"))
    as_of = pd.Timestamp(model.info["data_end"])
    frame = scoring_frame(tables, as_of, model)
    cols = model.value.schema_.features_
    np.testing.assert_array_equal(
        model.value.predict(frame[cols]), loaded.value.predict(frame[cols])
    )
    assert meta["info"]["value_method"] == model.info["value_method"]


def test_too_short_history_is_a_clear_error(retail_business):
    tables, config = _young(retail_business, 100)
    with pytest.raises(ShortHistoryError, match="too short"):
        train(tables, config)

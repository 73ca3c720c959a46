"""The boosted-estimator base: one set of shared hyperparameters, read from the config once."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from predictor.config import Config
from predictor.modeling.boosting import BOOSTING_PARAMS, boosting_params
from predictor.modeling.churn import ChurnModel
from predictor.modeling.value import ValueModel


def _config() -> Config:
    return Config.model_validate(
        {
            "model": {
                "n_estimators": 17,
                "max_depth": 3,
                "learning_rate": 0.3,
                "random_state": 5,
                "value_objective": "tweedie",
                "calibration": "sigmoid",
            }
        }
    )


@pytest.mark.parametrize("cls", [ValueModel, ChurnModel])
def test_models_take_the_shared_hyperparameters_from_the_config(cls):
    model = cls.from_config(_config().model)
    params = model.get_params()
    assert {k: params[k] for k in BOOSTING_PARAMS} == boosting_params(_config().model)
    assert params["n_estimators"] == 17 and params["random_state"] == 5
    assert clone(model).get_params() == params


def test_model_specific_settings_come_from_the_same_section():
    assert ValueModel.from_config(_config().model).objective == "tweedie"
    assert ChurnModel.from_config(_config().model).calibration == "sigmoid"
    assert ValueModel.from_config(_config().model, level_correction=False).level_correction is False


def test_defaults_are_the_config_defaults():
    defaults = boosting_params(Config().model)
    for cls in (ValueModel, ChurnModel):
        assert {k: cls().get_params()[k] for k in BOOSTING_PARAMS} == defaults


def test_an_unknown_parameter_is_named():
    with pytest.raises(TypeError, match="max_dept"):
        ValueModel(max_dept=4)


def test_state_round_trip_keeps_schema_and_parameters():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=300), "c": pd.Categorical(rng.choice(["x", "y"], 300))})
    y = np.exp(X["a"].to_numpy()) * rng.gamma(2.0, 1.0, 300)
    model = ValueModel.from_config(_config().model, n_jobs=1).fit(X, y, eval_set=(X, y))
    state = json.loads(json.dumps(model.get_state()))  # what a model folder stores
    again = ValueModel.from_state(state, model.boosters_)
    assert again.get_params() == model.get_params()
    assert list(again.feature_names_in_) == ["a", "c"]
    np.testing.assert_array_equal(again.predict(X), model.predict(X))

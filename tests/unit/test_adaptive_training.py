"""Pieces of adaptive training: the customer split, uninformative columns, targets, checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from predictor.config import Config
from predictor.datasets import Frame, customer_split, split_frame
from predictor.modeling.churn import ChurnModel
from predictor.modeling.preprocess import FeatureSchema
from predictor.training import UnsupportedTargetError, check_class_rows, check_finite


def test_customer_split_is_stratified_seeded_and_disjoint():
    rng = np.random.default_rng(0)
    ids = np.repeat([f"c{i}" for i in range(400)], 2)  # two rows per customer
    y = np.repeat((rng.random(400) < 0.2).astype(float), 2)
    held = customer_split(ids, y, 0.25, seed=3)
    assert set(ids[held]).isdisjoint(ids[~held])
    assert abs(held.mean() - 0.25) < 0.01
    assert abs(y[held].mean() - y[~held].mean()) < 0.02
    np.testing.assert_array_equal(held, customer_split(ids, y, 0.25, seed=3))
    assert not np.array_equal(held, customer_split(ids, y, 0.25, seed=4))


def test_split_frame_keeps_rows_aligned():
    X = pd.DataFrame({"a": np.arange(100.0)})
    meta = pd.DataFrame({"customer_id": [f"c{i}" for i in range(100)], "as_of": 0})
    frame = Frame(X, (np.arange(100) % 4 == 0).astype(float), meta)
    kept, held = split_frame(frame, 0.2, seed=0)
    assert len(kept) + len(held) == 100
    for part in (kept, held):
        ids = part.meta["customer_id"].str[1:].astype(float).to_numpy()
        np.testing.assert_array_equal(part.X["a"].to_numpy(), ids)


def test_empty_and_constant_columns_are_dropped_and_named():
    X = pd.DataFrame(
        {
            "signal": [1.0, 2.0, 3.0, 4.0],
            "empty": [np.nan] * 4,
            "constant": [5.0] * 4,
            "sometimes": [1.0, np.nan, 1.0, np.nan],  # missingness can inform: kept
            "no_category": pd.Categorical([None] * 4, categories=["web"]),
        }
    )
    schema = FeatureSchema().fit(X)
    assert schema.dropped_ == {
        "empty": "entirely empty",
        "constant": "constant",
        "no_category": "entirely empty",
    }
    assert schema.features_ == ["signal", "sometimes"]
    assert list(schema.transform(X).columns) == ["signal", "sometimes"]
    again = FeatureSchema.from_dict(schema.to_dict())
    assert again.dropped_ == schema.dropped_


def test_a_categorical_without_categories_never_reaches_xgboost():
    rng = np.random.default_rng(1)
    n = 300
    x = rng.normal(size=n)
    X = pd.DataFrame({"x": x, "channel": pd.Categorical(pd.Series([None] * n, dtype="string"))})
    y = (x + rng.normal(size=n) > 0).astype(int)
    model = ChurnModel(n_estimators=20, n_jobs=1).fit(X, y, eval_set=(X, y))
    assert model.schema_.features_ == ["x"]
    assert model.predict_proba(X).shape == (n, 2)


def test_models_setting_chooses_targets_and_says_when_explicit():
    assert Config().targets == ["day_one", "value_13m", "churn"]
    assert not Config().targets_explicit
    chosen = Config.model_validate({"models": ["churn", "day_one"]})
    assert chosen.targets == ["day_one", "churn"] and chosen.targets_explicit
    with pytest.raises(ValueError, match="models"):
        Config.model_validate({"models": ["ltv"]})
    with pytest.raises(ValueError, match="at least one"):
        Config.model_validate({"models": []})


def test_degenerate_populations_are_refused():
    with pytest.raises(UnsupportedTargetError, match="0 churner"):
        check_class_rows("churn", np.zeros(500), 100, 20, "training")
    check_class_rows("churn", np.r_[np.zeros(480), np.ones(20)], 100, 20, "training")
    table = pd.DataFrame({"roc_auc": [np.nan], "log_loss": [0.3]}, index=["model"])
    with pytest.raises(UnsupportedTargetError, match="roc_auc"):
        check_finite("churn", table, ("roc_auc", "log_loss"))


def test_day_one_model_takes_its_own_tree_limits_or_the_shared_ones():
    from predictor.training import day_one_model

    config = Config.model_validate({"model": {"max_depth": 6, "min_child_weight": 2.0}})
    own = day_one_model(config)
    assert (own.max_depth, own.min_child_weight) == (3, 50.0)
    shared = config.model_copy(
        update={"day_one": config.day_one.model_copy(update={"max_depth": None})}
    )
    assert (day_one_model(shared).max_depth, day_one_model(shared).min_child_weight) == (6, 50.0)


def test_value_model_takes_its_own_tree_limits_or_the_shared_ones():
    from predictor.training import _value_model

    config = Config.model_validate({"model": {"max_depth": 6, "min_child_weight": 2.0}})
    own = _value_model(config)
    assert (own.max_depth, own.min_child_weight) == (4, 20.0)
    shared = config.model_copy(
        update={"value": config.value.model_copy(update={"min_child_weight": None})}
    )
    assert (_value_model(shared).max_depth, _value_model(shared).min_child_weight) == (4, 2.0)
    # explicit settings of the caller (the refit's objective) still win
    assert _value_model(config, objective="tweedie", max_depth=2).max_depth == 2

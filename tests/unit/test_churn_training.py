"""Churn training plumbing: more cutoffs, bounded rows, leak-free calibration folds."""

import numpy as np
import pandas as pd
import xgboost as xgb

from predictor.config import ChurnConfig, Config
from predictor.datasets import calibration_folds
from predictor.labels import churn_label_end
from predictor.modeling.boosting import booster_params
from predictor.modeling.calibration import EPS
from predictor.modeling.churn import ChurnModel
from predictor.timeline import day_end
from predictor.training import _per_cutoff_limit, churn_model, churn_plan


def _config(**cutoffs) -> Config:
    return Config.model_validate({"cutoffs": cutoffs})


def test_churn_uses_two_years_of_monthly_cutoffs_by_default(business):
    plan = churn_plan(business.tables, Config())
    train = plan.train + plan.valid
    assert len(train) == 24
    gaps = {(b - a).days for a, b in zip(train, train[1:], strict=False)}
    assert gaps == {30}
    label_end = lambda c: churn_label_end(c, ChurnConfig())  # noqa: E731
    assert all(label_end(c) <= day_end(plan.test[0]) for c in train)
    assert len(churn_plan(business.tables, _config(churn_max_cutoffs=None)).train) == 11


def test_rows_per_cutoff_are_bounded():
    assert _per_cutoff_limit(_config(churn_max_rows=24_000), 24) == 1000
    assert _per_cutoff_limit(_config(churn_max_rows=None), 24) is None


def test_calibration_folds_never_fit_on_outcomes_after_the_held_out_cutoff():
    cutoffs = pd.date_range("2024-01-31", periods=8, freq="30D")
    meta = pd.DataFrame({"as_of": np.repeat(cutoffs, 5), "customer_id": "x"})
    label_end = lambda c: churn_label_end(c, ChurnConfig(horizon_days=90))  # noqa: E731
    folds = calibration_folds(meta, label_end, 3)
    assert len(folds) == 3
    for (fit_rows, held_rows), held in zip(folds, cutoffs[-3:], strict=True):
        assert set(meta.loc[held_rows, "as_of"]) == {held}
        seen = meta.loc[fit_rows, "as_of"]
        assert all(label_end(c) <= day_end(held) for c in seen)
        assert len(seen.unique()) == len([c for c in cutoffs if label_end(c) <= day_end(held)])


def test_model_with_folds_chooses_a_calibration_and_keeps_risks_open():
    rng = np.random.default_rng(0)
    n, k = 4000, 8
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    y = (rng.random(n) < 1 / (1 + np.exp(-(2 * X["a"] - 2)))).astype(int).to_numpy()
    group = np.arange(n) % k
    valid = group == k - 1
    pooled = np.concatenate([group[~valid], group[valid]])  # rows of X, then of eval_set
    folds = [(np.flatnonzero(pooled < g), np.flatnonzero(pooled == g)) for g in range(5, k)]
    model = ChurnModel(n_estimators=60, n_jobs=1, random_state=0, calibration_min_positives=50)
    model.fit(X[~valid], y[~valid], eval_set=(X[valid], y[valid]), calibration_folds=folds)
    check = model.calibration_check_
    assert check["folds"] == 3 and set(check["log_loss"]) >= {"none", "sigmoid", "isotonic"}
    assert check["log_loss"][check["chosen"]] == min(check["log_loss"].values())
    p = model.predict_proba(X)[:, 1]
    assert p.min() >= EPS and p.max() <= 1 - EPS
    assert len(np.unique(p)) > 0.2 * n
    again = ChurnModel.from_state(model.get_state(), model.booster_)
    np.testing.assert_array_equal(again.predict_proba(X), model.predict_proba(X))


def _cutoff_rows(seed: int = 0, k: int = 8, per_cutoff: int = 500, signal: float = 1.0):
    """Stacked synthetic cutoffs: (X, y, eval_set, folds) as training passes them to the model."""
    rng = np.random.default_rng(seed)
    n = k * per_cutoff
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.normal(size=n)})
    y = (rng.random(n) < 1 / (1 + np.exp(-(signal * X["a"] - 1.5)))).astype(int).to_numpy()
    group = np.arange(n) // per_cutoff
    valid = group == k - 1
    folds = [(np.flatnonzero(group < g - 2), np.flatnonzero(group == g)) for g in range(k - 3, k)]
    return X[~valid], y[~valid], (X[valid], y[valid]), folds


def test_churn_model_takes_its_own_tree_limits_and_round_choice():
    model = churn_model(Config())
    assert model.max_depth == Config().model.max_depth
    assert model.min_child_weight == Config().model.min_child_weight
    assert model.round_choice == "folds"
    config = Config.model_validate(
        {"churn": {"max_depth": 3, "min_child_weight": 50.0, "round_choice": "validation"}}
    )
    model = churn_model(config)
    assert (model.max_depth, model.min_child_weight, model.round_choice) == (3, 50.0, "validation")


def test_rounds_chosen_on_folds_stop_early_and_the_final_model_learns_every_row():
    X, y, eval_set, folds = _cutoff_rows(signal=0.8)
    eval_set[0]["b"] = 0.0
    eval_set[0].loc[eval_set[0].index[:50], "b"] = 1.0  # "b" varies only in the validation rows
    X = X.assign(b=0.0)
    kw = {"n_estimators": 300, "learning_rate": 0.3, "max_depth": 4, "n_jobs": 1}
    model = ChurnModel(round_choice="folds", **kw).fit(
        X, y, eval_set=eval_set, calibration_folds=folds
    )
    check = model.rounds_check_
    assert check["chosen_by"] == "folds" and check["folds"] == 3
    assert 1 <= check["rounds"] < 300  # a weak signal and a fast learner: stops well short
    assert model.booster_.num_boosted_rounds() == check["rounds"]
    assert "b" in model.schema_.features_  # constant in X: only the validation rows inform it
    assert model.calibration_check_["folds"] == 3
    old = ChurnModel(round_choice="validation", **kw).fit(
        X, y, eval_set=eval_set, calibration_folds=folds
    )
    assert old.rounds_check_["chosen_by"] == "validation" and "b" not in old.schema_.features_
    again = ChurnModel.from_state(model.get_state(), model.booster_)
    np.testing.assert_array_equal(again.predict_proba(X), model.predict_proba(X))
    assert again.rounds_check_ == check
    contribs, base = model.contributions(X.head(200))
    np.testing.assert_allclose(
        contribs.sum(axis=1) + base, model.predict_proba(X.head(200))[:, 1], atol=1e-9
    )


def test_rounds_fall_back_to_early_stopping_without_folds():
    X, y, eval_set, _ = _cutoff_rows()
    model = ChurnModel(round_choice="folds", n_estimators=40, n_jobs=1)
    model.fit(X, y, eval_set=eval_set)
    assert model.rounds_check_["chosen_by"] == "validation"
    assert model.rounds_check_["rounds"] == model.booster_.num_boosted_rounds() <= 40


def test_fold_boosters_stop_early_yet_choose_the_rounds_of_boosting_every_fold_to_the_cap():
    """Each fold stops 2 x early_stopping_rounds past its own best; the summed-loss choice is
    the one the full curves (every fold boosted to the cap) give."""
    X, y, eval_set, folds = _cutoff_rows(signal=0.8)
    kw = {"n_estimators": 400, "learning_rate": 0.3, "max_depth": 4, "n_jobs": 1}
    model = ChurnModel(round_choice="folds", early_stopping_rounds=10, **kw).fit(
        X, y, eval_set=eval_set, calibration_folds=folds
    )
    check = model.rounds_check_
    assert max(check["fold_rounds"]) < 400  # no fold ran to the cap
    assert check["rounds"] <= min(check["fold_rounds"])
    pool_X = model.schema_.transform(pd.concat([X, eval_set[0]], ignore_index=True))
    pool_y = np.concatenate([y, eval_set[1]])
    params = booster_params(model) | {"objective": "binary:logistic", "eval_metric": "logloss"}
    total = 0.0
    for fit_rows, held_rows in folds:
        est = xgb.XGBClassifier(**params)  # no early stopping: every round to the cap
        held = (pool_X.iloc[held_rows], pool_y[held_rows])
        est.fit(pool_X.iloc[fit_rows], pool_y[fit_rows], eval_set=[held], verbose=False)
        curve = np.asarray(est.evals_result()["validation_0"]["logloss"])
        assert len(curve) == 400
        total = total + curve * len(held_rows)
    assert check["rounds"] == int(np.argmin(total)) + 1

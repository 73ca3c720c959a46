"""Shared XGBoost plumbing: the boosted-estimator base, fitting, additive contributions.

``BoostedModel`` is the base of every gradient-boosted model (``ValueModel``, ``ChurnModel``;
the Day One model is a ``ValueModel``). It holds the hyperparameters they share, written once
here and read from the config's ``model`` section once (``from_config``), the feature schema
(``FeatureSchema``: the columns and categories seen in training), and the part of the saved
state that every model has (the schema and the parameters).

Models keep plain ``xgboost.Booster`` objects trimmed to the best iteration, so predictions
after fit and after a save/load round-trip go through the same code and are identical.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.base import BaseEstimator

from predictor.config import ModelConfig
from predictor.modeling.preprocess import FeatureSchema

BOOSTING_PARAMS: tuple[str, ...] = (
    "n_estimators",
    "learning_rate",
    "max_depth",
    "min_child_weight",
    "subsample",
    "colsample_bytree",
    "reg_lambda",
    "early_stopping_rounds",
    "device",
    "n_jobs",
    "random_state",
)
"""The hyperparameters every boosted model shares; defaults and meaning: ``config.ModelConfig``."""


def boosting_params(model: ModelConfig) -> dict[str, Any]:
    """The shared hyperparameters, as estimator keyword arguments, from the config's model section."""
    return {name: getattr(model, name) for name in BOOSTING_PARAMS}


_DEFAULTS: dict[str, Any] = boosting_params(ModelConfig())


class BoostedModel(BaseEstimator):
    """Base of the gradient-boosted models: shared hyperparameters, feature schema, state.

    Subclasses declare their own parameters in ``__init__`` and pass ``**boosting`` on; the
    shared ones (``BOOSTING_PARAMS``) are still ordinary scikit-learn parameters
    (``get_params``, ``clone``) and are saved with the model's state.
    """

    _FROM_CONFIG: ClassVar[dict[str, str]] = {}
    """The model's own parameters read from the config's model section: parameter -> setting."""

    def __init__(self, **boosting: Any) -> None:
        unknown = sorted(set(boosting) - set(BOOSTING_PARAMS))
        if unknown:
            raise TypeError(f"{type(self).__name__} got unknown parameter(s) {unknown}")
        for name, default in _DEFAULTS.items():
            setattr(self, name, boosting.get(name, default))

    @classmethod
    def _get_param_names(cls) -> list[str]:
        """The subclass's own parameters and the shared ones (scikit-learn reads this)."""
        return sorted(set(super()._get_param_names()) | set(BOOSTING_PARAMS))

    @classmethod
    def from_config(cls, model: ModelConfig, **own: Any) -> Self:
        """An unfitted model with its settings from the config's model section, read once.

        The shared hyperparameters and the model's own settings (``_FROM_CONFIG``) come from
        ``model``; ``own`` overrides any of them (``n_jobs=1``, ``level_correction=False``).
        """
        settings = {param: getattr(model, name) for param, name in cls._FROM_CONFIG.items()}
        return cls(**(boosting_params(model) | settings | own))

    def _fit_schema(self, X: pd.DataFrame) -> pd.DataFrame:
        """Learn the feature schema from the training rows and return them transformed."""
        self.schema_ = FeatureSchema().fit(X)
        self._set_features()
        return self.schema_.transform(X)

    def _set_features(self) -> None:
        self.n_features_in_ = len(self.schema_.features_)
        self.feature_names_in_ = np.asarray(self.schema_.features_, dtype=object)

    def _base_state(self) -> dict[str, Any]:
        """The saved state every boosted model has: its feature schema and its parameters."""
        return {"schema": self.schema_.to_dict(), "params": self.get_params()}

    @classmethod
    def _from_base_state(cls, state: dict[str, Any]) -> Self:
        """A model with the parameters and schema of a saved state (the subclass adds the rest)."""
        model = cls(**state["params"])
        model.schema_ = FeatureSchema.from_dict(state["schema"])
        model._set_features()
        return model


def booster_params(est: BoostedModel) -> dict[str, Any]:
    """XGBoost keyword arguments shared by every learner of an estimator."""
    return {
        "n_estimators": est.n_estimators,
        "learning_rate": est.learning_rate,
        "max_depth": est.max_depth,
        "min_child_weight": est.min_child_weight,
        "subsample": est.subsample,
        "colsample_bytree": est.colsample_bytree,
        "reg_lambda": est.reg_lambda,
        "tree_method": "hist",
        "enable_categorical": True,
        "max_cat_to_onehot": 1,
        "device": est.device,
        "n_jobs": est.n_jobs,
        "random_state": est.random_state,
    }


def fit_booster(
    cls: type[xgb.XGBModel],
    params: dict[str, Any],
    X: pd.DataFrame,
    y: np.ndarray,
    eval_set: tuple[pd.DataFrame, np.ndarray] | None,
    early_stopping_rounds: int,
) -> xgb.Booster:
    """Fit one XGBoost learner and return its booster, trimmed to the best iteration."""
    if eval_set is None:
        model = cls(**params)
        model.fit(X, y, verbose=False)
        return model.get_booster()
    model = cls(**params, early_stopping_rounds=early_stopping_rounds)
    model.fit(X, y, eval_set=[eval_set], verbose=False)
    booster = model.get_booster()
    return booster[: model.best_iteration + 1]


def margin(booster: xgb.Booster, X: pd.DataFrame) -> np.ndarray:
    """Raw (untransformed) prediction: log for log-link objectives, logit for binary.

    ``inplace_predict`` reads the frame without building a ``DMatrix`` (half the time, the
    same numbers).
    """
    return np.asarray(booster.inplace_predict(X, predict_type="margin"))


def contributions(booster: xgb.Booster, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """TreeSHAP contributions in margin space: (per-feature matrix, bias vector).

    In float64: rescaled to currency they can be large against a small prediction (a horizon
    extension multiplies them), and float32 sums would then lose their exact additivity.
    """
    raw = booster.predict(xgb.DMatrix(X, enable_categorical=True), pred_contribs=True)
    raw = np.asarray(raw, dtype=np.float64)
    return raw[:, :-1], raw[:, -1]


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function."""
    return 1.0 / (1.0 + np.exp(-x))


def to_output_space(contribs: np.ndarray, prediction: np.ndarray, base: np.ndarray) -> np.ndarray:
    """Rescale margin-space contributions so they add up to ``prediction - base`` exactly.

    Each feature keeps its share of the margin-space movement (a secant rescaling of the link
    function), so contributions are in the unit of the score (currency or probability).
    """
    total = contribs.sum(axis=1)
    safe = np.where(np.abs(total) < 1e-12, 1.0, total)
    scale = np.where(np.abs(total) < 1e-12, 0.0, (prediction - base) / safe)
    return contribs * scale[:, None]


def booster_to_bytes(booster: xgb.Booster) -> bytes:
    """Serialise a booster in XGBoost's own JSON format."""
    return bytes(booster.save_raw(raw_format="json"))


def booster_from_bytes(data: bytes) -> xgb.Booster:
    """Load a booster saved by ``booster_to_bytes``."""
    booster = xgb.Booster()
    booster.load_model(bytearray(data))
    return booster


def gain_importance(booster: xgb.Booster, features: list[str]) -> pd.Series:
    """Total gain per feature, normalised to sum to 1 (zero for unused features)."""
    gains = booster.get_score(importance_type="total_gain")
    series = pd.Series({f: float(gains.get(f, 0.0)) for f in features})
    total = series.sum()
    return series / total if total > 0 else series

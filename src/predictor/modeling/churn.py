"""``ChurnModel``: calibrated probability of churning within the horizon.

A gradient-boosted classifier with early stopping on later (validation) cutoffs. Calibration
is checked on held-out rows: half of the validation rows fit an isotonic map, the other half
judge it; when it lowers the calibration error (``calibration="auto"``), the map is refitted
on all validation rows and kept.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.isotonic import IsotonicRegression
from sklearn.utils.validation import check_is_fitted

from predictor.evaluation import calibration_error
from predictor.modeling.boosting import (
    booster_params,
    contributions,
    fit_booster,
    gain_importance,
    margin,
    sigmoid,
    to_output_space,
)
from predictor.modeling.preprocess import FeatureSchema


class ChurnModel(ClassifierMixin, BaseEstimator):
    """XGBoost churn classifier with optional isotonic calibration."""

    def __init__(
        self,
        *,
        calibration: Literal["auto", "isotonic", "none"] = "auto",
        n_estimators: int = 600,
        learning_rate: float = 0.05,
        max_depth: int = 5,
        min_child_weight: float = 5.0,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        reg_lambda: float = 1.0,
        early_stopping_rounds: int = 40,
        device: str = "cpu",
        n_jobs: int = 2,
        random_state: int = 0,
    ) -> None:
        self.calibration = calibration
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.min_child_weight = min_child_weight
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.early_stopping_rounds = early_stopping_rounds
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        *,
        eval_set: tuple[pd.DataFrame, np.ndarray] | None = None,
    ) -> ChurnModel:
        """Fit on ``X, y`` (1 = churned); ``eval_set`` drives early stopping and calibration."""
        y = np.asarray(y, dtype=int)
        self.classes_ = np.array([0, 1])
        self.schema_ = FeatureSchema().fit(X)
        Xt = self.schema_.transform(X)
        valid = None
        if eval_set is not None:
            valid = (self.schema_.transform(eval_set[0]), np.asarray(eval_set[1], dtype=int))
        params = booster_params(self) | {"objective": "binary:logistic", "eval_metric": "logloss"}
        self.booster_ = fit_booster(
            xgb.XGBClassifier, params, Xt, y, valid, self.early_stopping_rounds
        )
        self.calibrator_ = self._fit_calibration(valid)
        self.n_features_in_ = Xt.shape[1]
        self.feature_names_in_ = np.asarray(self.schema_.features_, dtype=object)
        return self

    def _fit_calibration(
        self, valid: tuple[pd.DataFrame, np.ndarray] | None
    ) -> tuple[list[float], list[float]] | None:
        if self.calibration == "none" or valid is None or len(np.unique(valid[1])) < 2:
            self.calibration_check_ = {}
            return None
        raw = sigmoid(margin(self.booster_, valid[0]))
        y = valid[1]
        rng = np.random.default_rng(self.random_state)
        half = rng.permutation(len(y)) < len(y) // 2
        probe = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(raw[half], y[half])
        before = calibration_error(y[~half], raw[~half])
        after = calibration_error(y[~half], probe.predict(raw[~half]))
        self.calibration_check_ = {"ece_raw": before, "ece_isotonic": after}
        if self.calibration == "auto" and after >= before:
            return None
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(raw, y)
        return [float(v) for v in iso.X_thresholds_], [float(v) for v in iso.y_thresholds_]

    def _calibrate(self, raw: np.ndarray) -> np.ndarray:
        if self.calibrator_ is None:
            return raw
        xs, ys = self.calibrator_
        return np.interp(raw, xs, ys)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Probabilities of staying and of churning, shape (n, 2)."""
        check_is_fitted(self, "booster_")
        p = self._calibrate(sigmoid(margin(self.booster_, self.schema_.transform(X))))
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """1 where the churn probability is at least one half."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def contributions(self, X: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        """Per-feature contributions in probability that add up to ``p(X) - base``."""
        check_is_fitted(self, "booster_")
        Xt = self.schema_.transform(X)
        contribs, bias = contributions(self.booster_, Xt)
        p = self._calibrate(sigmoid(contribs.sum(axis=1) + bias))
        base = self._calibrate(sigmoid(bias))
        out = to_output_space(contribs, p, base)
        return pd.DataFrame(out, index=X.index, columns=self.schema_.features_), base

    def feature_importance(self) -> pd.Series:
        """Share of total gain per feature."""
        check_is_fitted(self, "booster_")
        return gain_importance(self.booster_, self.schema_.features_).sort_values(ascending=False)

    def get_state(self) -> dict[str, Any]:
        """Everything learned except the booster (saved natively)."""
        check_is_fitted(self, "booster_")
        return {
            "calibrator": self.calibrator_,
            "calibration_check": self.calibration_check_,
            "schema": self.schema_.to_dict(),
            "params": self.get_params(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], booster: xgb.Booster) -> ChurnModel:
        """Rebuild a fitted model from ``get_state`` and its booster."""
        model = cls(**state["params"])
        model.classes_ = np.array([0, 1])
        model.calibrator_ = state["calibrator"]
        model.calibration_check_ = state["calibration_check"]
        model.schema_ = FeatureSchema.from_dict(state["schema"])
        model.booster_ = booster
        model.n_features_in_ = len(model.schema_.features_)
        model.feature_names_in_ = np.asarray(model.schema_.features_, dtype=object)
        return model

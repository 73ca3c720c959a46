"""``ValueModel``: expected value over a horizon from one row of features per customer.

Spend is zero-inflated and heavy-tailed, so two objectives compete on the validation rows:
a Tweedie regression (one model, log link) and a two-part model (probability of any spend ×
expected spend when positive, a gamma regression). The one with the higher normalized Gini on
validation is kept. When more than 1% of labels are negative (margin minus cost to serve)
neither applies and a squared-error regression is used; otherwise the rare negative totals
(net refunds) are treated as zero.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.base import RegressorMixin
from sklearn.utils.validation import check_is_fitted

from predictor.evaluation import normalized_gini
from predictor.modeling.boosting import (
    BoostedModel,
    booster_params,
    contributions,
    fit_booster,
    gain_importance,
    margin,
    sigmoid,
    to_output_space,
)
from predictor.modeling.horizon import HorizonExtension
from predictor.modeling.intervals import ConformalInterval
from predictor.modeling.level import BinLevels, total_ratio


class ValueModel(RegressorMixin, BoostedModel):
    """XGBoost value regression with a Tweedie vs two-part choice made on validation data."""

    _FROM_CONFIG: ClassVar[dict[str, str]] = {
        "objective": "value_objective",
        "tweedie_variance_power": "tweedie_variance_power",
    }

    def __init__(
        self,
        *,
        objective: Literal["auto", "tweedie", "two_part", "squared_error"] = "auto",
        tweedie_variance_power: float = 1.5,
        level_correction: bool = True,
        bin_levels: bool = False,
        **boosting: Any,
    ) -> None:
        super().__init__(**boosting)
        self.objective = objective
        self.tweedie_variance_power = tweedie_variance_power
        self.level_correction = level_correction
        self.bin_levels = bin_levels

    def _candidates(self, y: np.ndarray) -> list[str]:
        """Objectives to try; the two-part model needs both spenders and non-spenders.

        When (almost) every customer spends, as in a snapshot where nobody left before the
        last month, the "any spend" part has one class and Tweedie is used (``kind_`` says so).
        """
        if (y < 0).mean() > 0.01:
            return ["squared_error"]
        two_part = (y > 0).sum() >= 10 and (y <= 0).sum() >= 10
        if self.objective == "auto":
            return ["tweedie", "two_part"] if two_part else ["tweedie"]
        if self.objective == "two_part" and not two_part:
            return ["tweedie"]
        return [self.objective]

    def fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        *,
        eval_set: tuple[pd.DataFrame, np.ndarray] | None = None,
    ) -> ValueModel:
        """Fit on ``X, y``; ``eval_set`` drives early stopping and the objective choice."""
        y = np.asarray(y, dtype=float)
        kinds = self._candidates(y)
        if kinds != ["squared_error"]:
            y = np.clip(y, 0, None)
            if eval_set is not None:
                eval_set = (eval_set[0], np.clip(np.asarray(eval_set[1], dtype=float), 0, None))
        Xt = self._fit_schema(X)
        valid = None
        if eval_set is not None:
            valid = (self.schema_.transform(eval_set[0]), np.asarray(eval_set[1], dtype=float))
        fitted: dict[str, dict[str, xgb.Booster]] = {}
        scores: dict[str, float] = {}
        for kind in kinds:
            fitted[kind] = self._fit_kind(kind, Xt, y, valid)
            if valid is not None:
                pred = self._predict_kind(kind, fitted[kind], valid[0])
                scores[kind] = normalized_gini(valid[1], pred)
        self.validation_scores_ = scores
        self.kind_ = (
            max(scores, key=lambda k: np.nan_to_num(scores[k], nan=-1))
            if scores
            else next(iter(fitted))
        )
        self.boosters_ = fitted[self.kind_]
        self.horizon_extension_: HorizonExtension | None = None
        self.level_ = 1.0
        self.interval_: ConformalInterval | None = None
        self.bins_: BinLevels | None = None
        if valid is not None and len(valid[1]):
            raw = self._predict_kind(self.kind_, self.boosters_, valid[0])
            if self.bin_levels and self.kind_ != "squared_error":
                self.bins_ = BinLevels.fit(valid[1], raw)
                raw = self._reshape(raw)
            if self.level_correction:
                self.level_ = total_ratio(valid[1], raw)
            self.interval_ = ConformalInterval.fit(valid[1] / self.level_, raw)
        return self

    def _fit_kind(
        self,
        kind: str,
        X: pd.DataFrame,
        y: np.ndarray,
        valid: tuple[pd.DataFrame, np.ndarray] | None,
    ) -> dict[str, xgb.Booster]:
        params = booster_params(self)
        rounds = self.early_stopping_rounds
        if kind == "tweedie":
            params |= {
                "objective": "reg:tweedie",
                "tweedie_variance_power": self.tweedie_variance_power,
                "eval_metric": f"tweedie-nloglik@{self.tweedie_variance_power}",
            }
            return {"main": fit_booster(xgb.XGBRegressor, params, X, y, valid, rounds)}
        if kind == "squared_error":
            params |= {"objective": "reg:squarederror", "eval_metric": "rmse"}
            return {"main": fit_booster(xgb.XGBRegressor, params, X, y, valid, rounds)}
        any_spend = fit_booster(
            xgb.XGBClassifier,
            params | {"objective": "binary:logistic", "eval_metric": "logloss"},
            X,
            (y > 0).astype(int),
            None if valid is None else (valid[0], (valid[1] > 0).astype(int)),
            rounds,
        )
        pos, pos_valid = y > 0, None
        if valid is not None and (valid[1] > 0).any():
            pos_valid = (valid[0][valid[1] > 0], valid[1][valid[1] > 0])
        amount = fit_booster(
            xgb.XGBRegressor,
            params | {"objective": "reg:gamma", "eval_metric": "gamma-nloglik"},
            X[pos],
            y[pos],
            pos_valid,
            rounds,
        )
        return {"any": any_spend, "amount": amount}

    @staticmethod
    def _predict_kind(kind: str, boosters: dict[str, xgb.Booster], X: pd.DataFrame) -> np.ndarray:
        if kind == "two_part":
            return sigmoid(margin(boosters["any"], X)) * np.exp(margin(boosters["amount"], X))
        raw = margin(boosters["main"], X)
        return raw if kind == "squared_error" else np.exp(raw)

    def _reshape(self, raw: np.ndarray) -> np.ndarray:
        """The per-bin reshaping learned on validation (``modeling.level.BinLevels``), if any."""
        bins = getattr(self, "bins_", None)
        return raw if bins is None else bins.apply(raw)

    def _raw(self, Xt: pd.DataFrame) -> np.ndarray:
        """The boosters' prediction for transformed rows, reshaped by bin when learned."""
        return self._reshape(self._predict_kind(self.kind_, self.boosters_, Xt))

    def predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        """The boosters' prediction before the level and horizon factors (see ``modeling.level``)."""
        check_is_fitted(self, "boosters_")
        return self._raw(self.schema_.transform(X))

    def set_level(self, level: float) -> ValueModel:
        """Replace the level factor (actual / predicted total) applied to every prediction."""
        check_is_fitted(self, "boosters_")
        self.level_ = float(level)
        return self

    def extend_horizon(self, extension: HorizonExtension | None) -> ValueModel:
        """Predict over a longer horizon than the labels covered (see ``modeling.horizon``)."""
        check_is_fitted(self, "boosters_")
        self.horizon_extension_ = extension
        return self

    def _factor(self, X: pd.DataFrame) -> np.ndarray | float:
        ext = getattr(self, "horizon_extension_", None)
        level = getattr(self, "level_", 1.0)
        return level if ext is None else level * ext.factor(X)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Expected value per row (currency units over the horizon, extended when set)."""
        check_is_fitted(self, "boosters_")
        return self._raw(self.schema_.transform(X)) * self._factor(X)

    def predict_interval(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(P10, P90) per row: the 80% interval around ``predict(X)`` (NaN when uncalibrated).

        Calibrated on the validation rows by normalized split conformal
        (``modeling.intervals``) on the unscaled predictions, then moved by the same level and
        horizon factor as the prediction itself.
        """
        _, lo, hi = self.predict_with_interval(X)
        return lo, hi

    def predict_with_interval(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``predict(X)`` and ``predict_interval(X)`` from one pass of the boosters."""
        check_is_fitted(self, "boosters_")
        raw = self._raw(self.schema_.transform(X))
        factor = self._factor(X)
        pred = raw * factor  # exactly ``predict(X)``, so the bounds bracket it after rounding
        interval = getattr(self, "interval_", None)
        if interval is None:
            nan = np.full(len(raw), np.nan)
            return pred, nan, nan.copy()
        lo, hi = interval.predict(raw)
        return pred, np.minimum(lo * factor, pred), np.maximum(hi * factor, pred)

    def contributions(self, X: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        """Per-feature contributions in currency that add up to ``predict(X) - base``.

        Returns the contribution frame and the per-row ``base`` (the prediction with every
        contribution at zero). Log-link TreeSHAP values are rescaled to currency; the two-part
        model's logit contributions are first rescaled to log-probability.
        """
        check_is_fitted(self, "boosters_")
        Xt = self.schema_.transform(X)
        pred = self._raw(Xt)
        if self.kind_ == "two_part":
            ca, ba = contributions(self.boosters_["any"], Xt)
            cb, bb = contributions(self.boosters_["amount"], Xt)
            p, p0 = sigmoid(ca.sum(axis=1) + ba), sigmoid(ba)
            log_ca = to_output_space(ca, np.log(p), np.log(p0))
            log_c, base = log_ca + cb, p0 * np.exp(bb)
        else:
            log_c, bias = contributions(self.boosters_["main"], Xt)
            base = bias if self.kind_ == "squared_error" else np.exp(bias)
        base = self._reshape(np.asarray(base, dtype=float))
        out = to_output_space(log_c, pred, base) if self.kind_ != "squared_error" else log_c
        factor = np.asarray(self._factor(X), dtype=float)
        base = np.broadcast_to(base * factor, (len(X),)).copy()
        out = out * (factor[:, None] if factor.ndim else factor)
        return pd.DataFrame(out, index=X.index, columns=self.schema_.features_), base

    def feature_importance(self) -> pd.Series:
        """Share of total gain per feature (summed over the parts of a two-part model)."""
        check_is_fitted(self, "boosters_")
        parts = [gain_importance(b, self.schema_.features_) for b in self.boosters_.values()]
        return (sum(parts) / len(parts)).sort_values(ascending=False)

    def get_state(self) -> dict[str, Any]:
        """Everything learned, except the boosters themselves (saved natively)."""
        check_is_fitted(self, "boosters_")
        return {
            "kind": self.kind_,
            "validation_scores": self.validation_scores_,
            **self._base_state(),
            "level": self.level_,
            "interval": None if self.interval_ is None else self.interval_.to_dict(),
            "bins": None if getattr(self, "bins_", None) is None else self.bins_.to_dict(),
            "horizon_extension": (
                None if self.horizon_extension_ is None else self.horizon_extension_.to_dict()
            ),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], boosters: dict[str, xgb.Booster]) -> ValueModel:
        """Rebuild a fitted model from ``get_state`` and its boosters."""
        model = cls._from_base_state(state)
        model.kind_ = state["kind"]
        model.validation_scores_ = state["validation_scores"]
        model.boosters_ = boosters
        model.level_ = float(state.get("level", 1.0))
        interval = state.get("interval")
        model.interval_ = None if interval is None else ConformalInterval.from_dict(interval)
        bins = state.get("bins")
        model.bins_ = None if bins is None else BinLevels.from_dict(bins)
        ext = state.get("horizon_extension")
        model.horizon_extension_ = None if ext is None else HorizonExtension.from_dict(ext)
        return model

"""``ChurnModel``: calibrated probability of churning within the horizon.

A gradient-boosted classifier, then a calibration map chosen on out-of-fold scores
(``modeling.calibration``). ``calibration_folds`` are the latest few training cutoffs, each
paired with the rows whose labels were complete before it.

The number of boosting rounds (``round_choice``):

- ``folds`` (with folds): a booster is fitted on each fold's rows and its held-out cutoff's log
  loss is recorded after every round, until ``FOLD_PATIENCE`` x ``early_stopping_rounds`` rounds
  pass without a better loss on that fold; the round with the lowest loss summed over the
  held-out rows of every fold (up to the round all of them reached) is kept, and the final
  booster is fitted with that many rounds on every row, validation cutoff included. One validation cutoff picks the round by its own noise (on
  the sample it ran to the cap on one cutoff and lost out of time); three cutoffs judged out of
  time agree on fewer rounds, and the latest cutoff is learnt from instead of only judged
  (benchmarks/analysis.md, "Churn hyperparameters").
- ``validation`` (or without folds): early stopping on ``eval_set``; each fold is then refitted
  with the main model's rounds.

The fold boosters' held-out scores choose the map by log loss (``calibration="auto"``: none,
sigmoid or isotonic, isotonic only with enough churners) and fit it. Without folds the main
booster's scores on the validation rows are used, split in halves. Risks are never exactly 0 or
1.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.base import ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from predictor.evaluation import calibration_error
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
from predictor.modeling.calibration import (
    KINDS,
    MIN_POSITIVES,
    Calibration,
    choose_calibration,
    fit_calibration,
)

Folds = list[tuple[np.ndarray, np.ndarray]]

FOLD_PATIENCE = 2
"""Each fold booster stops this many times ``early_stopping_rounds`` after its own best round.

The rounds are chosen on the loss summed over folds, up to the round every fold reached. On
the samples each fold's curve then ends 40-130 rounds past the chosen round, and patience 1, 1.5,
2 or 2.5 chose the same rounds as boosting every fold to the cap, at a third of the fold rounds
(benchmarks/analysis.md, "Churn fold boosters stop early")."""


def _usable_folds(
    folds: Folds | None, y: np.ndarray, eval_set: tuple[pd.DataFrame, np.ndarray] | None
) -> Folds:
    """The folds with held-out rows whose fitting rows hold both classes."""
    pool_y = y if eval_set is None else np.concatenate([y, np.asarray(eval_set[1], dtype=int)])
    return [
        (fit_rows, held_rows)
        for fit_rows, held_rows in folds or []
        if len(held_rows) and len(np.unique(pool_y[fit_rows])) == 2
    ]


class ChurnModel(ClassifierMixin, BoostedModel):
    """XGBoost churn classifier with a calibration chosen on held-out cutoffs."""

    _FROM_CONFIG: ClassVar[dict[str, str]] = {
        "calibration": "calibration",
        "calibration_min_positives": "calibration_min_positives",
    }

    def __init__(
        self,
        *,
        calibration: Literal["auto", "isotonic", "sigmoid", "none"] = "auto",
        calibration_min_positives: int = MIN_POSITIVES,
        round_choice: Literal["folds", "validation"] = "folds",
        **boosting: Any,
    ) -> None:
        super().__init__(**boosting)
        self.calibration = calibration
        self.calibration_min_positives = calibration_min_positives
        self.round_choice = round_choice

    def fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        *,
        eval_set: tuple[pd.DataFrame, np.ndarray] | None = None,
        calibration_folds: Folds | None = None,
    ) -> ChurnModel:
        """Fit on ``X, y`` (1 = churned); ``eval_set``: the validation cutoff.

        ``calibration_folds``: ``(fit_rows, held_rows)`` pairs of positions into the rows of
        ``X`` followed by those of ``eval_set``; each held-out part (one cutoff) is scored by a
        booster fitted on its ``fit_rows`` only, and those scores choose the calibration (and,
        with ``round_choice="folds"``, the number of rounds; the final booster then learns
        from ``eval_set`` too).
        """
        y = np.asarray(y, dtype=int)
        self.classes_ = np.array([0, 1])
        params = booster_params(self) | {"objective": "binary:logistic", "eval_metric": "logloss"}
        folds = _usable_folds(calibration_folds, y, eval_set)
        if self.round_choice == "folds" and folds:
            pool_X = X if eval_set is None else pd.concat([X, eval_set[0]], ignore_index=True)
            pool_y = y if eval_set is None else np.concatenate([y, np.asarray(eval_set[1], int)])
            held = self._fit_on_folds(params, self._fit_schema(pool_X), pool_y, folds)
        else:
            Xt = self._fit_schema(X)
            valid = None
            if eval_set is not None:
                valid = (self.schema_.transform(eval_set[0]), np.asarray(eval_set[1], dtype=int))
            self.booster_ = fit_booster(
                xgb.XGBClassifier, params, Xt, y, valid, self.early_stopping_rounds
            )
            rounds = self.booster_.num_boosted_rounds()
            self.rounds_check_ = {"chosen_by": "validation", "rounds": rounds}
            held = self._held_out_scores(params, Xt, y, valid, calibration_folds)
        self.calibrator_ = self._fit_calibration(held)
        return self

    def _fit_on_folds(
        self, params: dict[str, Any], Xt: pd.DataFrame, y: np.ndarray, folds: Folds
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Choose the rounds by out-of-fold log loss, fit the final booster on every row.

        Returns the fold boosters' held-out scores at the chosen round (for the calibration),
        or None when no calibration is wanted.
        """
        losses, boosters = [], []
        patience = FOLD_PATIENCE * self.early_stopping_rounds
        for fit_rows, held_rows in folds:
            est = xgb.XGBClassifier(**params, early_stopping_rounds=patience)
            held = (Xt.iloc[held_rows], y[held_rows])
            est.fit(Xt.iloc[fit_rows], y[fit_rows], eval_set=[held], verbose=False)
            curve = np.asarray(est.evals_result()["validation_0"]["logloss"], dtype=float)
            losses.append(curve * len(held_rows))
            boosters.append(est.get_booster())
        reached = min(len(curve) for curve in losses)
        total = np.sum([curve[:reached] for curve in losses], axis=0)
        rounds = int(np.argmin(total)) + 1
        self.rounds_check_ = {
            "chosen_by": "folds",
            "rounds": rounds,
            "log_loss": float(total[rounds - 1] / sum(len(h) for _, h in folds)),
            "folds": len(folds),
            "fold_rounds": [len(curve) for curve in losses],
        }
        final = params | {"n_estimators": rounds}
        self.booster_ = fit_booster(xgb.XGBClassifier, final, Xt, y, None, 0)
        if self.calibration == "none":
            return None
        helds = [h for _, h in folds]
        raws = [
            sigmoid(margin(b[:rounds], Xt.iloc[h])) for b, h in zip(boosters, helds, strict=True)
        ]
        ids = [np.full(len(h), i) for i, h in enumerate(helds)]
        return np.concatenate(raws), np.concatenate([y[h] for h in helds]), np.concatenate(ids)

    def _held_out_scores(
        self,
        params: dict[str, Any],
        Xt: pd.DataFrame,
        y: np.ndarray,
        valid: tuple[pd.DataFrame, np.ndarray] | None,
        folds: Folds | None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Raw probabilities, outcomes and fold ids of rows scored by a model that never saw them."""
        if self.calibration == "none":
            return None
        if not folds:
            if valid is None:
                return None
            raw = sigmoid(margin(self.booster_, valid[0]))
            return raw, valid[1], np.zeros(len(raw), dtype=int)
        pool_X = pd.concat([Xt, valid[0]], ignore_index=True) if valid is not None else Xt
        pool_y = np.concatenate([y, valid[1]]) if valid is not None else y
        fold_params = params | {"n_estimators": max(1, self.booster_.num_boosted_rounds())}
        raws, ys, ids = [], [], []
        for i, (fit_rows, held_rows) in enumerate(folds):
            fit_y = pool_y[fit_rows]
            if len(held_rows) == 0 or len(np.unique(fit_y)) < 2:
                continue
            booster = fit_booster(
                xgb.XGBClassifier, fold_params, pool_X.iloc[fit_rows], fit_y, None, 0
            )
            raws.append(sigmoid(margin(booster, pool_X.iloc[held_rows])))
            ys.append(pool_y[held_rows])
            ids.append(np.full(len(held_rows), i))
        if not raws:
            return None
        return np.concatenate(raws), np.concatenate(ys), np.concatenate(ids)

    def _fit_calibration(
        self, held: tuple[np.ndarray, np.ndarray, np.ndarray] | None
    ) -> dict[str, Any] | None:
        """Choose (``auto``) or fit the configured calibration on held-out scores."""
        self.calibration_check_: dict[str, Any] = {}
        if held is None or len(np.unique(held[1])) < 2:
            return None
        raw, y, folds = held
        if self.calibration == "auto":
            choice = choose_calibration(
                raw,
                y,
                folds,
                candidates=KINDS,
                min_positives=self.calibration_min_positives,
                seed=self.random_state,
            )
            cal = choice.calibration
            self.calibration_check_ = {
                "chosen": cal.kind,
                "log_loss": choice.log_loss,
                "rows": choice.n_rows,
                "positives": choice.n_positives,
                "folds": choice.n_folds,
            }
        else:
            cal = fit_calibration(self.calibration, raw, y)
            self.calibration_check_ = {"chosen": cal.kind, "rows": int(len(y))}
        self.calibration_check_["ece_raw"] = calibration_error(y, raw)
        self.calibration_check_["ece_calibrated"] = calibration_error(y, cal.apply(raw))
        return cal.to_dict() if cal.kind != "none" else None

    def _calibrate(self, raw: np.ndarray) -> np.ndarray:
        return Calibration.from_dict(self.calibrator_).apply(raw)

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
        p = self._calibrate(sigmoid(margin(self.booster_, Xt)))  # exactly predict_proba's risk
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
            "rounds_check": self.rounds_check_,
            **self._base_state(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], booster: xgb.Booster) -> ChurnModel:
        """Rebuild a fitted model from ``get_state`` and its booster."""
        model = cls._from_base_state(state)
        model.classes_ = np.array([0, 1])
        model.calibrator_ = state["calibrator"]
        model.calibration_check_ = state["calibration_check"]
        model.rounds_check_ = state.get("rounds_check", {})  # absent from older bundles
        model.booster_ = booster
        return model

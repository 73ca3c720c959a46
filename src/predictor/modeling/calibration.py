"""Probability calibration of churn scores, chosen on held-out (out-of-fold) predictions.

Three candidates map a raw classifier probability to a calibrated one:

- ``none``: the raw probability;
- ``sigmoid``: Platt scaling on the logit of the raw probability (two parameters);
- ``isotonic``: a monotone fit on the logit, *smoothed*: the isotonic steps are replaced by a
  straight line between the centres of consecutive blocks, so the map keeps ranking customers
  within a block instead of giving hundreds of them the same risk.

The choice is made by log loss on held-out folds (``choose_calibration``): each fold is one
training cutoff whose scores came from a model that never saw it; every candidate is fitted on
the other folds and judged on the held-out one. Isotonic is only a candidate with enough
positives (``min_positives``), and ``none`` wins ties, so a calibration that does not beat the
raw probability is never shipped. Every calibrated probability is clipped to ``[EPS, 1 - EPS]``:
a risk is never exactly 0 or 1.

Pure: no I/O. State is a small JSON-ready dict (``Calibration.to_dict``); nothing is pickled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy.optimize import minimize
from sklearn.isotonic import IsotonicRegression

Kind = Literal["none", "sigmoid", "isotonic"]
KINDS: tuple[Kind, ...] = ("none", "sigmoid", "isotonic")
EPS = 1e-4
"""Calibrated risks lie in ``[EPS, 1 - EPS]``."""
MIN_POSITIVES = 200
"""Default fewest churners needed before isotonic calibration is considered."""


def logit(p: np.ndarray) -> np.ndarray:
    """Log-odds of probabilities clipped away from 0 and 1."""
    p = np.clip(np.asarray(p, dtype=float), 1e-7, 1 - 1e-7)
    return np.log(p) - np.log1p(-p)


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    """Mean binary log loss (probabilities clipped to ``[EPS, 1 - EPS]``)."""
    y = np.asarray(y, dtype=float)
    p = np.clip(np.asarray(p, dtype=float), EPS, 1 - EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))


@dataclass(frozen=True)
class Calibration:
    """A fitted calibration map ``raw probability -> calibrated probability``."""

    kind: Kind = "none"
    params: dict[str, list[float]] = field(default_factory=dict)

    def apply(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of raw ones, clipped to ``[EPS, 1 - EPS]``."""
        raw = np.asarray(raw, dtype=float)
        if self.kind == "sigmoid":
            a, b = self.params["coef"]
            out = 1.0 / (1.0 + np.exp(-(a * logit(raw) + b)))
        elif self.kind == "isotonic":
            out = np.interp(logit(raw), self.params["x"], self.params["y"])
        else:
            out = raw
        return np.clip(out, EPS, 1 - EPS)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state."""
        return {"kind": self.kind, "params": {k: list(v) for k, v in self.params.items()}}

    @classmethod
    def from_dict(cls, state: dict[str, Any] | None) -> Calibration:
        """Rebuild from ``to_dict`` output (``None`` means no calibration)."""
        if not state:
            return cls()
        if not isinstance(state, dict):
            raise ValueError(
                "the churn calibration was saved by an older predictor version; retrain the model"
            )
        return cls(state["kind"], {k: [float(x) for x in v] for k, v in state["params"].items()})


def fit_calibration(kind: Kind, raw: np.ndarray, y: np.ndarray) -> Calibration:
    """Fit one calibration map on raw probabilities ``raw`` and outcomes ``y`` (0/1)."""
    raw = np.asarray(raw, dtype=float)
    y = np.asarray(y, dtype=float)
    if kind == "none" or len(np.unique(y)) < 2:
        return Calibration()
    if kind == "sigmoid":
        return Calibration("sigmoid", {"coef": list(_platt(logit(raw), y))})
    if kind == "isotonic":
        x, v = _smooth_isotonic(logit(raw), y)
        return Calibration("isotonic", {"x": x.tolist(), "y": v.tolist()})
    raise ValueError(f"unknown calibration {kind!r}; expected one of {', '.join(KINDS)}")


def _platt(z: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Maximum-likelihood ``a, b`` of ``P(y=1) = sigmoid(a z + b)`` (lightly regularised)."""

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        s = theta[0] * z + theta[1]
        p = 1.0 / (1.0 + np.exp(-s))
        nll = np.mean(np.logaddexp(0.0, s) - y * s) + 1e-6 * theta[0] ** 2
        r = p - y
        return float(nll), np.array([np.mean(r * z) + 2e-6 * theta[0], np.mean(r)])

    result = minimize(loss, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B")
    return float(result.x[0]), float(result.x[1])


def _smooth_isotonic(z: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Knots of a piecewise-linear monotone map: each isotonic block's mean score and rate.

    Interpolating between block centres keeps the fit monotone and its mean close to the
    isotonic step function, while customers inside a block keep distinct risks.
    """
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
    fitted = iso.fit_transform(z, y)
    order = np.argsort(z, kind="stable")
    zs, fs = z[order], fitted[order]
    block = np.r_[0, np.cumsum(np.diff(fs) != 0)]
    counts = np.bincount(block)
    centre = np.bincount(block, weights=zs) / counts
    value = np.bincount(block, weights=fs) / counts
    return centre, value


@dataclass(frozen=True)
class CalibrationChoice:
    """The chosen map and the held-out evidence behind the choice."""

    calibration: Calibration
    log_loss: dict[str, float]
    """Held-out log loss per candidate considered."""
    n_rows: int
    n_positives: int
    n_folds: int


def choose_calibration(
    raw: np.ndarray,
    y: np.ndarray,
    folds: np.ndarray,
    *,
    candidates: tuple[Kind, ...] = KINDS,
    min_positives: int = MIN_POSITIVES,
    seed: int = 0,
) -> CalibrationChoice:
    """Pick the candidate with the lowest held-out log loss and refit it on all rows.

    ``folds`` labels each row's fold (a training cutoff). Every candidate is fitted on all
    folds but one and scored on that one; losses are pooled over rows. With a single fold,
    rows are split in two halves at random (seeded). ``none`` wins ties.
    """
    raw = np.asarray(raw, dtype=float)
    y = np.asarray(y, dtype=int)
    folds = np.asarray(folds)
    n_pos = int(y.sum())
    kinds = [k for k in candidates if k != "isotonic" or n_pos >= min_positives]
    if "none" not in kinds:
        kinds.insert(0, "none")
    if len(np.unique(y)) < 2:
        return CalibrationChoice(Calibration(), {}, len(y), n_pos, 0)
    groups = np.unique(folds)
    if len(groups) < 2:
        folds = np.random.default_rng(seed).permutation(len(y)) % 2
        groups = np.array([0, 1])
    losses = {}
    for kind in kinds:
        held = np.empty(len(y))
        for g in groups:
            hold = folds == g
            held[hold] = fit_calibration(kind, raw[~hold], y[~hold]).apply(raw[hold])
        losses[kind] = log_loss(y, held)
    best = min(kinds, key=lambda k: (round(losses[k], 12), kinds.index(k)))
    if losses[best] >= losses["none"]:
        best = "none"
    return CalibrationChoice(fit_calibration(best, raw, y), losses, len(y), n_pos, len(groups))

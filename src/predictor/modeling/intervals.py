"""P10-P90 intervals for value predictions: normalized split conformal by prediction bin.

Spend is zero-inflated and heavy-tailed, so a symmetric ``pred +/- q`` band is wrong at both
ends: most low-value customers spend nothing (the P10 is 0) and a few spend many times their
expectation. The interval is calibrated on rows the model did not train on (the validation
cutoff): residuals are normalized by the prediction, ``r = (y - pred) / max(pred, floor)``, and
their lower and upper bounds are taken separately within bins of the prediction (Mondrian
conformal), so low and high predictions get their own spread. Then

    P10 = pred + s * q_lo(bin),   P90 = pred + s * q_hi(bin),   s = max(pred, floor)

Because the band scales with the prediction, a level correction applied to the prediction moves
the band with it. The bounds use split-conformal finite-sample ranks, which guarantee at least
the nominal coverage on exchangeable rows. The lower bound is the 10th percentile; the upper
bound is the 90th percentile unless more than 10% of similar customers spend exactly the lower
bound (nothing), where it is lowered so that the interval holds 80% of them, not 90%.
(Quantile boosting with ``reg:quantileerror`` was compared and lost on held-out coverage; see
benchmarks/analysis.md, "Value level".)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

LOWER, UPPER = 0.1, 0.9
MIN_ROWS_PER_BIN = 50


@dataclass(frozen=True)
class ConformalInterval:
    """Per-bin normalized residual quantiles; JSON-ready (see ``to_dict``)."""

    edges: list[float]
    lower: list[float]
    upper: list[float]
    floor: float
    nonnegative: bool

    @classmethod
    def fit(
        cls,
        y: np.ndarray,
        pred: np.ndarray,
        n_bins: int = 10,
        quantiles: tuple[float, float] = (LOWER, UPPER),
    ) -> ConformalInterval:
        """Calibrate on held-out ``y`` and the model's predictions ``pred`` for the same rows."""
        y, pred = np.asarray(y, dtype=float), np.asarray(pred, dtype=float)
        if len(y) == 0:
            raise ValueError("cannot calibrate value intervals on zero rows")
        positive = pred[pred > 0]
        floor = float(np.quantile(positive, 0.05)) if len(positive) else 1.0
        floor = floor if floor > 0 else 1.0
        bins = max(1, min(n_bins, len(y) // MIN_ROWS_PER_BIN))
        edges = np.unique(np.quantile(pred, np.linspace(0, 1, bins + 1)[1:-1]))
        which = np.searchsorted(edges, pred, side="right")
        resid = (y - pred) / np.maximum(pred, floor)
        lower, upper = [], []
        for b in range(len(edges) + 1):
            lo, hi = _conformal_bounds(resid[which == b], quantiles)
            lower.append(lo)
            upper.append(hi)
        return cls([float(e) for e in edges], lower, upper, floor, bool((y >= 0).all()))

    def predict(self, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(P10, P90) for predictions ``pred`` (on the same scale as the calibration)."""
        pred = np.asarray(pred, dtype=float)
        which = np.searchsorted(np.asarray(self.edges, dtype=float), pred, side="right")
        scale = np.maximum(pred, self.floor)
        lo = pred + scale * np.asarray(self.lower)[which]
        hi = pred + scale * np.asarray(self.upper)[which]
        if self.nonnegative:
            lo = np.maximum(lo, 0.0)
        return np.minimum(lo, pred), np.maximum(hi, pred)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state."""
        return asdict(self)

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> ConformalInterval:
        """Rebuild from ``to_dict``."""
        return cls(
            [float(e) for e in state["edges"]],
            [float(v) for v in state["lower"]],
            [float(v) for v in state["upper"]],
            float(state["floor"]),
            bool(state["nonnegative"]),
        )


def _conformal_bounds(resid: np.ndarray, quantiles: tuple[float, float]) -> tuple[float, float]:
    """Lower and upper normalized residual bounds holding ``q_hi - q_lo`` of ``resid``.

    The lower bound is the split-conformal ``q_lo`` quantile (rank ``floor((n + 1) q_lo)``).
    The upper bound is the smallest residual such that ``ceil((n + 1) (q_hi - q_lo))`` rows lie
    in ``[lower, upper]``: for continuous residuals that is the ``q_hi`` quantile; where many
    customers spend exactly nothing (ties at the lower bound) it is lower, so the interval
    still holds 80% of similar customers rather than all the zeros plus 80% of the others.
    """
    n = len(resid)
    if n == 0:
        return 0.0, 0.0
    r = np.sort(resid)
    lo = r[max(1, int(np.floor((n + 1) * quantiles[0]))) - 1]
    above = r[r >= lo]
    need = int(np.ceil((n + 1) * (quantiles[1] - quantiles[0])))
    return float(lo), float(above[min(len(above), max(1, need)) - 1])


def interval_metrics(
    y: np.ndarray, lo: np.ndarray, hi: np.ndarray, quantiles: tuple[float, float] = (LOWER, UPPER)
) -> dict[str, float]:
    """Coverage of ``[lo, hi]`` and mean pinball loss of the two bounds (lower is better)."""
    y, lo, hi = (np.asarray(a, dtype=float) for a in (y, lo, hi))
    return {
        "interval_coverage": float(np.mean((y >= lo) & (y <= hi))),
        "pinball_loss": float((pinball(y, lo, quantiles[0]) + pinball(y, hi, quantiles[1])) / 2),
    }


def pinball(y: np.ndarray, q_pred: np.ndarray, q: float) -> float:
    """Mean pinball (quantile) loss of ``q_pred`` as the ``q`` quantile of ``y``."""
    diff = np.asarray(y, dtype=float) - np.asarray(q_pred, dtype=float)
    return float(np.mean(np.maximum(q * diff, (q - 1) * diff)))

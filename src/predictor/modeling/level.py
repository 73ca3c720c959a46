"""The level of the value predictions: carry the last known total forward with recent drift.

A boosted Tweedie or two-part model ranks well but does not keep the total, and the latest
cutoff whose whole 13-month label is known (the *reference*) lies at least 13 months before the
date a prediction is made for (*now*). Tree models cannot extrapolate tenure-like features, and
spend per customer drifts, so the ratio of actual to predicted total at the reference is out of
date by the time it is used. What *is* known at ``now`` is how the first ``w`` months went for
the customers of the cutoff ``now - w`` months. Comparing that with how the first ``w`` months
went at the reference measures the drift since then:

    level(now) = L_ref x (A_w(now - w) / P(now - w)) / (A_w(ref) / P(ref))

where ``L_ref`` is actual / predicted 13-month total at the reference, ``A_w(c)`` the actual
spend in the ``w`` months after cutoff ``c`` and ``P(c)`` the model's unscaled predicted total
for the customers of ``c``. It assumes the share of the 13-month value that falls in the first
``w`` months is the same now as at the reference (it measures drift in the level, not in the
timing of spend). The drift factor is clipped to ``limits``.

Measured on the sample business (benchmarks/analysis.md, "Value level"), that assumption fails
on a base that ages: the share of the 13-month value falling in the first 3 months moves, so the
drift alone misses much of the change (retail ran 18% low). A second, independent estimate of the
level comes from a structural model that is refitted at ``now`` on all history and so follows the
ageing base: BG/NBD x Gamma-Gamma's expected total for the customers of ``now`` over the model's
unscaled predicted total for them (``prior_ratio``). Its own error has a different source
(misspecification, e.g. subscription charges are not BG/NBD purchases), so a model of the whole
horizon (``value.learn_months: null``) is levelled by ``blend``, the geometric mean of the two
(``combine``).

A model that learns a few months on the latest cutoffs (``value.learn_months``) is levelled on
past windows. ``horizon`` (the default) pools actual / predicted over exactly the horizon, for
the cutoffs of the latest year whose whole horizon has closed by ``now``: each window holds a
full seasonal year and the year of start dates averages out the start month
(benchmarks/analysis.md, "Value level over seeds"). Without a year of such cutoffs it falls back
to ``window_blend``: the geometric mean of the structural estimate and ``window``, which pools
actual / predicted over the longest window closed after each training cutoff (windows of 4 to
13 months that all end at ``now``, so they weigh the months the model learned from more than
the test horizon does and cover different parts of the seasonal year).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

RECENT_MONTHS = 3
DRIFT_LIMITS = (0.5, 2.0)
LEVEL_LIMITS = (0.5, 2.0)
PRIOR_LIMITS = (0.25, 4.0)
LevelRule = Literal[
    "validation", "recent", "structural", "blend", "window", "window_blend", "horizon"
]
ShortLevelRule = Literal["window", "validation"]


def total_ratio(
    y: np.ndarray, pred: np.ndarray, limits: tuple[float, float] = LEVEL_LIMITS
) -> float:
    """Actual / predicted total on rows with known labels (1 when undefined), clipped.

    Boosted Tweedie and two-part models rank well but can miss the overall level; this ratio
    on held-out rows puts the aggregate back on their level.
    """
    total, predicted = float(np.sum(y)), float(np.sum(pred))
    if total <= 0 or predicted <= 0:
        return 1.0
    return float(np.clip(total / predicted, *limits))


@dataclass(frozen=True)
class WindowTotals:
    """Actual spend in the first ``w`` months after a cutoff, and the model's predicted total."""

    actual: float
    predicted: float

    @property
    def ratio(self) -> float:
        """Actual / predicted (NaN when either is not positive)."""
        if self.actual <= 0 or self.predicted <= 0:
            return float("nan")
        return self.actual / self.predicted


def drift(
    reference: WindowTotals, recent: WindowTotals, limits: tuple[float, float] = DRIFT_LIMITS
) -> float:
    """How much the actual / predicted ratio moved from the reference to the recent cutoff.

    1 when either ratio is undefined (no spend or no prediction), so the level then stays at
    the reference's.
    """
    ratio = recent.ratio / reference.ratio
    if not np.isfinite(ratio):
        return 1.0
    return float(np.clip(ratio, *limits))


def window_ratio(totals: list[WindowTotals], limits: tuple[float, float] = LEVEL_LIMITS) -> float:
    """Pooled actual / predicted spend over several cutoffs' long windows (NaN when undefined).

    The short-history level: a model that learned a few months of value is judged, at every
    past cutoff, over the longest window that has closed since (its prediction extended to that
    window by the BG/NBD time profile). Pooling months and cutoffs averages out what a single
    short validation window is dominated by (a seasonal dip, one cohort's early decay), and
    checks the extension together with the level. Clipped to ``limits``.
    """
    actual = sum(t.actual for t in totals)
    predicted = sum(t.predicted for t in totals)
    if not (actual > 0 and predicted > 0):
        return float("nan")
    return float(np.clip(actual / predicted, *limits))


def prior_ratio(
    prior: np.ndarray, pred: np.ndarray, limits: tuple[float, float] = PRIOR_LIMITS
) -> float:
    """A structural model's expected total / the model's unscaled total (NaN when undefined)."""
    total, predicted = float(np.nansum(prior)), float(np.sum(pred))
    if not (total > 0 and predicted > 0):
        return float("nan")
    return float(np.clip(total / predicted, *limits))


def combine(rule: LevelRule, reference: float, drift: float, prior: float) -> float:
    """The level a rule gives from its parts.

    ``reference``: actual / predicted total on the latest cutoff with a complete label;
    ``drift``: its change since then (``drift``); ``prior``: ``prior_ratio`` at ``now``.
    'validation' is the reference, 'recent' the reference times the drift, 'structural' the
    prior, 'blend' the geometric mean of 'recent' and 'structural'. Without a prior (NaN),
    'structural' and 'blend' fall back to 'recent'. 'window' and 'window_blend' combine like
    'validation' and 'blend'; their caller passes the pooled long-window ratio
    (``window_ratio``) as the reference. 'horizon' is its reference: the ratio pooled over
    whole-horizon windows.
    """
    recent = reference * drift
    if rule in ("validation", "window", "horizon"):
        return reference
    if rule == "recent" or not np.isfinite(prior):
        return recent
    if rule == "structural":
        return prior
    return float(np.sqrt(recent * prior))


BIN_RATIO_LIMITS = (0.25, 4.0)
MIN_BIN_SLOPE = 0.2
MIN_ROWS_PER_BIN = 50


@dataclass(frozen=True)
class BinLevels:
    """A strictly increasing reshaping of the predictions fitted per prediction bin.

    A single level ratio keeps the total, but a boosted model can be miscalibrated by bin: on
    the retail sample the customers with a small chance of buying were predicted a quarter to
    two thirds of what they spent, while the top deciles were right (benchmarks/analysis.md,
    "Retail 13-month value"). ``fit`` takes actual / predicted per bin of the prediction on
    held-out rows, and ``apply`` moves each prediction by its bin's ratio, interpolated in
    log-log space between the bins' centres. Two constraints keep it safe: the map from the
    prediction to the reshaped one rises with slope at least ``MIN_BIN_SLOPE`` (log-log), so the
    ranking (and Gini) is unchanged; and the reshaping keeps the held-out total, so the level
    stays the level rule's business. JSON-ready (``to_dict``).
    """

    log_centres: list[float]
    log_values: list[float]

    @classmethod
    def fit(cls, y: np.ndarray, pred: np.ndarray, n_bins: int = 10) -> BinLevels | None:
        """Fit on held-out ``y`` and predictions; None when fewer than two bins can be formed."""
        y, pred = np.asarray(y, dtype=float), np.asarray(pred, dtype=float)
        keep = pred > 0
        y, pred = np.clip(y[keep], 0, None), pred[keep]
        bins = min(n_bins, len(pred) // MIN_ROWS_PER_BIN)
        if bins < 2 or y.sum() <= 0:
            return None
        edges = np.unique(np.quantile(pred, np.linspace(0, 1, bins + 1)[1:-1]))
        which = np.searchsorted(edges, pred, side="right")
        centres, values = [], []
        for b in np.unique(which):
            p, a = pred[which == b], y[which == b]
            ratio = np.clip(a.sum() / p.sum(), *BIN_RATIO_LIMITS)
            centre = float(np.mean(np.log(p)))
            centres.append(centre)
            values.append(centre + float(np.log(ratio)))
        if len(centres) < 2:
            return None
        for i in range(1, len(values)):  # strictly increasing: the ranking is kept
            floor = values[i - 1] + MIN_BIN_SLOPE * (centres[i] - centres[i - 1])
            values[i] = max(values[i], floor)
        shaped = cls(centres, values)
        shift = float(np.log(pred.sum() / shaped.apply(pred).sum()))
        return cls(centres, [v + shift for v in values])

    def apply(self, pred: np.ndarray) -> np.ndarray:
        """Reshaped predictions (0 stays 0; beyond the end bins, their ratio)."""
        shape = np.shape(pred)
        pred = np.asarray(pred, dtype=float).reshape(-1)
        out = np.zeros_like(pred)
        pos = pred > 0
        x = np.log(pred[pos])
        c, v = np.asarray(self.log_centres), np.asarray(self.log_values)
        inner = np.interp(x, c, v)
        below, above = x < c[0], x > c[-1]
        inner[below] = x[below] + (v[0] - c[0])
        inner[above] = x[above] + (v[-1] - c[-1])
        out[pos] = np.exp(inner)
        return out.reshape(shape)

    def to_dict(self) -> dict[str, list[float]]:
        """JSON-ready state."""
        return {"log_centres": list(self.log_centres), "log_values": list(self.log_values)}

    @classmethod
    def from_dict(cls, state: dict[str, list[float]]) -> BinLevels:
        """Rebuild from ``to_dict``."""
        return cls(
            [float(c) for c in state["log_centres"]], [float(v) for v in state["log_values"]]
        )

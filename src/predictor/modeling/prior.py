"""A structural prior for the value model: BG/NBD x Gamma-Gamma as a boosting offset.

With ``value.prior: bgnbd`` the value model's Tweedie booster starts, per customer, from

    log(prior) = log(E[purchases over the label's months] x E[spend per purchase]) + scale

(``base_margin`` in XGBoost) and its trees learn a multiplicative correction of that prior
instead of the whole value. The hope (issue 17): the prior already knows how recency and
frequency thin out a customer's purchases at the cutoff, where the trees alone under-predict
one-time buyers whose order is a few months old (benchmarks/analysis.md, "Value: a structural
prior as offset").

Everything is computed from the row's own features, so the offset is one function of the
frame, applied identically at fit, early stopping, level fitting, prediction and scoring:

* expected purchases: ``bgnbd__expected_purchases_value_horizon`` (fitted at the row's own
  cutoff by the ``bgnbd__`` family, from data up to it) brought from the value horizon down to
  the label's months by the BG/NBD profile ``modeling.horizon.HorizonExtension`` with the
  parameters fitted here on the training rows;
* spend per purchase: Gamma-Gamma's expectation from the repeat purchase days
  (``bgnbd__frequency``) and the average order value (``orders__aov``), with Gamma-Gamma fitted
  here on the training rows (customers without a repeat purchase get the population mean);
* customers without a purchase, and priors below ``FLOOR_SHARE`` of the training rows' mean
  prior, get that floor; ``scale`` makes the offset's total match the training labels'.

The learned state (parameters, floor, scale) is plain numbers saved with the model.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import gammaln, hyp2f1

from predictor.modeling.horizon import STATS, HorizonExtension, months_to_weeks
from predictor.modeling.probabilistic import FEATURE_PREFIX, BetaGeoModel, GammaGammaModel

EXPECTED = FEATURE_PREFIX + "expected_purchases_value_horizon"
FREQUENCY = FEATURE_PREFIX + "frequency"
AOV = "orders__aov"
COLUMNS = (*STATS, EXPECTED, AOV)
FLOOR_SHARE = 0.02
"""Smallest prior, as a share of the training rows' mean prior (no purchase, long lapsed)."""
FIT_ROWS = 20_000
"""At most this many training rows (every k-th, in order) enter the BG/NBD and GG fits."""


class PriorError(ValueError):
    """The frame lacks what the structural prior needs (its features or repeat buyers)."""


@dataclass(frozen=True)
class StructuralPrior:
    """BG/NBD x Gamma-Gamma expected value over ``months``, as a log offset for boosting."""

    bgnbd: dict[str, float]
    gamma_gamma: dict[str, float]
    months: int
    horizon_months: int
    floor: float
    scale: float
    purchases_floor: float = 0.0
    any_scale: float = 0.0
    process: str = "bgnbd"
    mbgnbd: dict[str, float] | None = None

    @classmethod
    def fit(
        cls,
        X: pd.DataFrame,
        y: np.ndarray,
        months: int,
        horizon_months: int,
        process: str = "bgnbd",
    ) -> StructuralPrior:
        """Fit on training rows: BG/NBD (the horizon profile), Gamma-Gamma, floor and scale.

        ``months``: the label's horizon; ``horizon_months``: the horizon of the
        ``bgnbd__expected_purchases_value_horizon`` feature (``value.horizon_months``).
        """
        missing = [c for c in COLUMNS if c not in X.columns]
        if missing:
            raise PriorError(
                f"value.prior 'bgnbd' needs the feature(s) {missing} "
                "(model.probabilistic_features and an orders table)"
            )
        rows = _fit_rows(X)
        stats = rows.loc[:, list(STATS)].to_numpy(dtype=float)
        aov = rows[AOV].to_numpy(dtype=float)
        known = ~np.isnan(stats).any(axis=1)
        x, t_x, age = stats[known].T
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                bg = dict(BetaGeoModel().fit(x, t_x, age).params_)
                gg = dict(GammaGammaModel().fit(x, np.nan_to_num(aov[known])).params_)
            except ValueError as err:
                raise PriorError(f"value.prior 'bgnbd' cannot be fitted: {err}") from err
        if gg["q"] <= 1:
            raise PriorError(f"value.prior 'bgnbd': Gamma-Gamma q = {gg['q']:.3f} <= 1")
        mbg = _fit_mbgnbd(x, t_x, age) if process == "mbgnbd" else None
        draft = cls(bg, gg, months, horizon_months, 0.0, 0.0, 0.0, 0.0, process, mbg)
        raw = draft.expected_value(X)
        floor = FLOOR_SHARE * float(np.nanmean(raw)) if np.isfinite(raw).any() else 1.0
        floored = draft.with_floor(floor).value(X)
        total = float(np.clip(y, 0, None).sum())
        scale = float(np.log(total / floored.sum())) if total > 0 else 0.0
        purchases = draft.purchases(X)
        known = np.isfinite(purchases)
        p_floor = FLOOR_SHARE * float(np.mean(purchases[known])) if known.any() else 1e-3
        prior = cls(bg, gg, months, horizon_months, floor, scale, p_floor, 0.0, process, mbg)
        logits = prior.any_offset(X)
        any_scale = _logit_shift(logits, float(np.mean(np.asarray(y) > 0)))
        return cls(bg, gg, months, horizon_months, floor, scale, p_floor, any_scale, process, mbg)

    def with_floor(self, floor: float) -> StructuralPrior:
        """The same prior with another floor."""
        state = self.to_dict() | {"floor": floor}
        return StructuralPrior.from_dict(state)

    def purchases(self, X: pd.DataFrame) -> np.ndarray:
        """BG/NBD expected purchase days over ``months`` per row; NaN without a purchase."""
        if self.process == "mbgnbd" and self.mbgnbd is not None:
            stats = X.loc[:, list(STATS)].to_numpy(dtype=float)
            return _mbg_expected(self.mbgnbd, months_to_weeks(self.months), *stats.T)
        ratio = HorizonExtension(self.bgnbd, self.months, self.horizon_months).factor(X)
        return X[EXPECTED].to_numpy(dtype=float) / ratio

    def expected_value(self, X: pd.DataFrame) -> np.ndarray:
        """BG/NBD x Gamma-Gamma value over ``months`` per row; NaN without a purchase."""
        purchases = self.purchases(X)
        x = X[FREQUENCY].to_numpy(dtype=float)
        aov = X[AOV].to_numpy(dtype=float)
        p, q, v = (self.gamma_gamma[k] for k in ("p", "q", "v"))
        usable = (x > 0) & (aov > 0)
        x_eff, m_eff = np.where(usable, x, 0.0), np.where(usable, aov, 0.0)
        spend = p * (v + x_eff * m_eff) / (p * x_eff + q - 1)
        return purchases * spend

    def value(self, X: pd.DataFrame) -> np.ndarray:
        """The floored prior per row (currency over ``months``, before ``scale``)."""
        raw = self.expected_value(X)
        return np.maximum(np.nan_to_num(raw, nan=self.floor), self.floor)

    def offset(self, X: pd.DataFrame) -> np.ndarray:
        """The log-link offset per row: ``log(value(X)) + scale``."""
        return np.log(self.value(X)) + self.scale

    def any_offset(self, X: pd.DataFrame) -> np.ndarray:
        """Logit offset of "any spend over ``months``" for the two-part model's first part.

        ``1 - exp(-E)`` with ``E`` the floored expected purchase days (the chance of at least
        one purchase if they came as a Poisson process), shifted by ``any_scale`` so that the
        training rows' mean probability is their share of spenders.
        """
        e = self.purchases(X)
        e = np.maximum(np.nan_to_num(e, nan=self.purchases_floor), self.purchases_floor)
        p = np.clip(-np.expm1(-e), 1e-6, 1 - 1e-6)
        return np.log(p) - np.log1p(-p) + self.any_scale

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state."""
        return asdict(self)

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> StructuralPrior:
        """Rebuild from ``to_dict``."""
        return cls(
            {k: float(v) for k, v in state["bgnbd"].items()},
            {k: float(v) for k, v in state["gamma_gamma"].items()},
            int(state["months"]),
            int(state["horizon_months"]),
            float(state["floor"]),
            float(state["scale"]),
            float(state.get("purchases_floor", 0.0)),
            float(state.get("any_scale", 0.0)),
            str(state.get("process", "bgnbd")),
            state.get("mbgnbd"),
        )


def _logit_shift(logits: np.ndarray, target: float) -> float:
    """The shift ``s`` with mean(sigmoid(logits + s)) = ``target`` (bisection; 0 if degenerate)."""
    if not 0 < target < 1:
        return 0.0
    lo, hi = -30.0, 30.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if np.mean(1 / (1 + np.exp(-(logits + mid)))) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _fit_rows(X: pd.DataFrame) -> pd.DataFrame:
    """At most ``FIT_ROWS`` rows, every k-th in order (deterministic, spread over cutoffs)."""
    step = max(1, int(np.ceil(len(X) / FIT_ROWS)))
    return X.iloc[::step]


def _fit_mbgnbd(x: np.ndarray, t_x: np.ndarray, age: np.ndarray) -> dict[str, float]:
    """MBG/NBD (Batislam et al. 2007) parameters by maximum likelihood (Nelder-Mead, log scale)."""

    def nll(lp: np.ndarray) -> float:
        r, al, a, b = np.exp(lp)
        a1 = gammaln(r + x) - gammaln(r) + r * np.log(al)
        a2 = gammaln(a + b) + gammaln(b + x + 1) - gammaln(b) - gammaln(a + b + x + 1)
        a3 = -(r + x) * np.log(al + age)
        a4 = np.log(a) - np.log(b + x) + (r + x) * (np.log(al + age) - np.log(al + t_x))
        return float(-np.mean(a1 + a2 + a3 + np.logaddexp(a4, 0)))

    opts = {"maxiter": 4000, "xatol": 1e-6, "fatol": 1e-10}
    res = minimize(nll, np.zeros(4), method="Nelder-Mead", options=opts)
    r, al, a, b = np.exp(res.x)
    return {"r": float(r), "alpha": float(al), "a": float(a), "b": float(b)}


def _mbg_expected(
    params: dict[str, float], t: float, x: np.ndarray, t_x: np.ndarray, age: np.ndarray
) -> np.ndarray:
    """MBG/NBD expected purchases over ``t`` weeks given ``(x, t_x, T)`` (NaN stays NaN)."""
    r, al, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    with np.errstate(all="ignore"):
        h = hyp2f1(r + x, b + x + 1, a + b + x, t / (al + age + t))
        num = (a + b + x) / (a - 1) * (1 - h * ((al + age) / (al + t + age)) ** (r + x))
        return num / (1 + (a / (b + x)) * ((al + age) / (al + t_x)) ** (r + x))

"""Probabilistic customer-base models: BG/NBD for purchase counts, Gamma-Gamma for spend.

These are the classical benchmarks for non-contractual customer lifetime value that the
XGBoost models of ``predictor`` are compared against:

* **BG/NBD** (Fader, Hardie & Lee 2005, "Counting Your Customers the Easy Way: An Alternative
  to the Pareto/NBD Model", Marketing Science 24(2), 275-284). While alive, a customer buys
  with a Poisson rate ``lambda ~ Gamma(r, alpha)``; after every repeat purchase they drop out
  for good with probability ``p ~ Beta(a, b)``. Fitted by maximum likelihood on the
  sufficient statistics ``(x, t_x, T)`` = (frequency, recency, age) per customer.
* **Gamma-Gamma** (Fader, Hardie & Lee 2005, "RFM and CLV: Using Iso-Value Curves for Customer
  Base Analysis", Journal of Marketing Research 42(4), 415-430; after Colombo & Jiang 1999,
  "A stochastic RFM model", Journal of Interactive Marketing 13(3)). Transaction values of a
  customer are ``Gamma(p, nu)`` with ``nu ~ Gamma(q, gamma)`` across customers, independent of
  the purchase process; fitted on the mean repeat-transaction value of repeat customers.

Everything here is pure computation on DataFrames and arrays: no file I/O, no tracking.

Time conventions (those of Hardie's CDNOW files and of the ``lifetimes`` package, so published
parameters are reproduced exactly): orders are placed on their calendar day (several orders of
a customer on one day are one transaction whose value is their sum), every transaction is
taken to happen at the end of its day, and the cutoff ``as_of`` is the end of its day. So a
customer whose first purchase was on ``as_of`` has ``T = 0``, and ``T`` and ``recency`` are
whole numbers of days divided by ``time_unit_days``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, Self

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import digamma, expit, gammaln, hyp2f1
from threadpoolctl import threadpool_limits

from predictor.errors import PredictorError
from predictor.timeline import day_end, known_at, purchases

ArrayLike = pd.Series | np.ndarray | list[float] | float

__all__ = [
    "FEATURE_PREFIX",
    "BetaGeoModel",
    "GammaGammaModel",
    "NotFittedError",
    "bgnbd_from_params",
    "bgnbd_gg_value",
    "rfm_summary",
]

FEATURE_PREFIX = "bgnbd__"
"""Prefix of the BG/NBD feature columns: ``features.probabilistic`` writes them and
``modeling.horizon`` reads them, so the name lives here, below both (features import modeling,
never the other way round)."""


class NotFittedError(PredictorError, RuntimeError):
    """A model was asked to predict before ``fit`` was called."""


# --------------------------------------------------------------------------------------------
# RFM summary
# --------------------------------------------------------------------------------------------

RFM_COLUMNS: tuple[str, ...] = (
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "n_orders",
    "first_purchase",
)


def rfm_summary(
    orders: pd.DataFrame,
    as_of: pd.Timestamp | str,
    *,
    time_unit_days: float = 7.0,
    value_col: str = "amount",
    first_dates: pd.Series | None = None,
) -> pd.DataFrame:
    """Per-customer sufficient statistics ``(frequency, recency, T, monetary_value)`` at a cutoff.

    Only purchases (``timeline.is_purchase``: refund rows, with a negative ``amount``, are left
    out) with ``order_date <= end of the as_of day`` are used (cutoff inclusive); later rows
    are ignored, so appending future orders changes nothing. Orders of one customer on
    the same calendar day are merged into one transaction (their values summed), as in
    Fader & Hardie's CDNOW analyses and in ``lifetimes``.

    Columns (index ``customer_id``, sorted):

    * ``frequency`` - number of repeat purchase days: distinct purchase days minus one (``x``).
    * ``recency`` - first to last purchase day, in time units (``t_x``).
    * ``T`` - first purchase day to the ``as_of`` day, in time units (the customer's age).
    * ``monetary_value`` - mean value of the repeat purchase days (the first day excluded),
      0 when ``frequency == 0`` (the ``lifetimes`` convention; Gamma-Gamma uses repeat spend).
    * ``n_orders`` - number of purchase rows up to the cutoff (before same-day merging).
    * ``first_purchase`` - date of the first purchase (``NaT`` for customers without one).

    Customers without any order up to ``as_of`` are **absent** unless ``first_dates`` is given:
    a Series ``customer_id -> date`` (e.g. signup dates). Then every customer of ``first_dates``
    dated on or before ``as_of`` who has no order yet appears with ``frequency = 0``,
    ``recency = 0``, ``monetary_value = 0``, ``n_orders = 0`` and ``T`` counted from that date,
    i.e. the signup is treated as the "birth" the BG/NBD model counts from. Customers with
    orders always count from their first purchase.
    """
    if time_unit_days <= 0:
        raise ValueError(f"time_unit_days must be positive, got {time_unit_days}")
    missing = {"customer_id", "order_date", value_col} - set(orders.columns)
    if missing:
        raise ValueError(f"orders lacks column(s) {sorted(missing)} needed by rfm_summary")

    cutoff_day = pd.Timestamp(as_of).normalize()
    bought = purchases(orders)
    visible = bought.loc[
        known_at(bought["order_date"], day_end(cutoff_day)),
        ["customer_id", "order_date", value_col],
    ]
    days = (
        visible.assign(day=visible["order_date"].dt.normalize())
        .groupby(["customer_id", "day"], sort=True)[value_col]
        .agg(["sum", "size"])
        .reset_index()
    )
    # One row per purchase day, in date order within a customer; the first day is not a repeat.
    is_first = ~days["customer_id"].duplicated()
    by_customer = days.groupby("customer_id", sort=True)
    first = by_customer["day"].min()
    last = by_customer["day"].max()
    unit = pd.Timedelta(days=1) * time_unit_days
    summary = pd.DataFrame(
        {
            "frequency": (by_customer.size() - 1).astype("int64"),
            "recency": (last - first) / unit,
            "T": (cutoff_day - first) / unit,
            "monetary_value": (
                days.loc[~is_first].groupby("customer_id")["sum"].mean().reindex(first.index)
            ),
            "n_orders": by_customer["size"].sum().astype("int64"),
            "first_purchase": first,
        }
    )
    summary["monetary_value"] = summary["monetary_value"].fillna(0.0).astype("float64")

    if first_dates is not None:
        births = pd.to_datetime(first_dates).dt.normalize()
        births = births[(births <= cutoff_day) & ~births.index.isin(summary.index)]
        births = births[~births.index.duplicated()]
        if len(births):
            silent = pd.DataFrame(
                {
                    "frequency": np.zeros(len(births), dtype="int64"),
                    "recency": 0.0,
                    "T": ((cutoff_day - births) / unit).to_numpy(dtype="float64"),
                    "monetary_value": 0.0,
                    "n_orders": np.zeros(len(births), dtype="int64"),
                    "first_purchase": pd.Series(pd.NaT, index=births.index, dtype=first.dtype),
                },
                index=births.index,
            )
            summary = pd.concat([summary, silent]).sort_index()

    summary.index.name = "customer_id"
    return summary.loc[:, list(RFM_COLUMNS)]


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _as_float_array(values: ArrayLike, name: str) -> np.ndarray:
    """``values`` as a 1-d float array, rejecting NaN and infinities with a clear message."""
    arr = np.atleast_1d(np.asarray(values, dtype="float64"))
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _like(result: np.ndarray, template: Any, name: str) -> pd.Series | np.ndarray:
    """Return ``result`` as a Series with ``template``'s index when the input was a Series."""
    if isinstance(template, pd.Series):
        return pd.Series(result, index=template.index, name=name)
    return result


def _check_rft(frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> tuple[np.ndarray, ...]:
    """Validate BG/NBD inputs: ``x >= 0`` whole, ``0 <= t_x <= T``, ``t_x = 0`` when ``x = 0``."""
    x = _as_float_array(frequency, "frequency")
    t_x = _as_float_array(recency, "recency")
    age = _as_float_array(T, "T")
    if not (x.shape == t_x.shape == age.shape):
        raise ValueError("frequency, recency and T must have the same length")
    if np.any(x < 0) or np.any(x != np.round(x)):
        raise ValueError("frequency must hold non-negative whole numbers (repeat purchases)")
    if np.any(t_x < 0) or np.any(t_x > age + 1e-9):
        raise ValueError("recency must lie between 0 and T")
    if np.any((x == 0) & (t_x != 0)):
        raise ValueError("recency must be 0 for customers with frequency 0")
    return x, t_x, age


def _distinct_rows(*columns: np.ndarray) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """The distinct rows of equal-length columns and each one's share of all rows.

    A likelihood over many customers with the same sufficient statistics is evaluated once per
    distinct row, weighted by how many customers share it.
    """
    stacked = np.column_stack(columns)
    rows, counts = np.unique(stacked, axis=0, return_counts=True)
    return tuple(rows.T), counts / len(stacked)


def _penalized_objective(
    log_likelihood: Any, gradient: Any, weight: np.ndarray, penalizer: float
) -> Any:
    """``_minimize``'s objective: penalized weighted mean negative log-likelihood and gradient.

    Over log-parameters: ``-sum(weight * log_likelihood) + penalizer * sum(params**2)``.
    ``log_likelihood(params)`` and ``gradient(params)`` are per distinct row (``_distinct_rows``;
    ``weight`` their shares); a non-finite value counts as ``1e300`` so the line search backs off.
    """

    def objective(log_params: np.ndarray) -> tuple[float, np.ndarray]:
        params = np.exp(log_params)
        value = -float(np.sum(weight * log_likelihood(params))) + penalizer * float(
            np.sum(params**2)
        )
        if not np.isfinite(value):
            return 1e300, np.zeros(params.size)
        grad = -np.einsum("i,ij->j", weight, gradient(params))
        return value, (grad + 2 * penalizer * params) * params

    return objective


GRADIENT_TOLERANCE: float = 1e-5
"""A point where no log-parameter moves the mean log-likelihood per customer by more than this
per unit is taken as a maximum when L-BFGS-B's line search stops there without reporting
convergence: its relative tolerances sit at the limit of float precision, and on a flat ridge
(no heterogeneity to estimate) a Nelder-Mead polish would spend thousands of evaluations for
nothing the predictions can show."""


def _stationary(result: Any) -> bool:
    """Whether an L-BFGS-B result with its own gradient stopped at a stationary point."""
    return bool(
        np.all(np.isfinite(result.jac)) and np.max(np.abs(result.jac)) <= GRADIENT_TOLERANCE
    )


LOG_BOUND: float = 20.0
"""Fitted log-parameters are kept in ``[-20, 20]`` (in rescaled units), so the optimiser cannot
run off to infinity when the likelihood has no interior maximum."""


def _minimize(objective: Any, n_params: int) -> tuple[np.ndarray, bool]:
    """Deterministic minimisation over log-parameters, starting from all parameters = 1.

    ``objective`` returns ``(value, gradient)``. L-BFGS-B (tight tolerances) within
    ``[-LOG_BOUND, LOG_BOUND]``; when it stops short of a stationary point, a bounded
    Nelder-Mead continues from its end point and the better of the two is kept. Returns the
    log-parameters and whether the optimiser converged to an interior point (``False`` when it
    failed or an estimate sits on the bound, i.e. the likelihood keeps rising towards a
    degenerate model). BLAS runs on one thread: with 3-4 parameters its threads only add
    waiting, and the result must not depend on their number.
    """
    bounds = [(-LOG_BOUND, LOG_BOUND)] * n_params
    with threadpool_limits(limits=1, user_api="blas"):
        best = minimize(
            objective,
            np.zeros(n_params),
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 2000},
        )
        success = bool(best.success) or _stationary(best)
        if not success:
            polish = minimize(
                lambda z: objective(z)[0],
                best.x,
                method="Nelder-Mead",
                bounds=bounds,
                options={"maxiter": 1000, "xatol": 1e-8, "fatol": 1e-12},
            )
            if polish.fun <= best.fun:
                best, success = polish, bool(polish.success)
    at_bound = bool(np.any(np.abs(best.x) >= LOG_BOUND - 1e-3))
    return best.x, success and not at_bound


# --------------------------------------------------------------------------------------------
# BG/NBD
# --------------------------------------------------------------------------------------------


class BetaGeoModel:
    """The BG/NBD model of repeat purchasing (Fader, Hardie & Lee 2005, Marketing Science).

    Fit with ``fit(frequency, recency, T)`` (from ``rfm_summary``). Parameters are estimated
    by maximum likelihood over ``log(r), log(alpha), log(a), log(b)`` (so they stay positive,
    and within ``exp(+-LOG_BOUND)``), on times rescaled so that ``max(T) = 10`` (as ``lifetimes``
    does; the optimiser then behaves the same in days or weeks), from a fixed start: the fit
    is deterministic. When the data show no heterogeneity in dropout, ``a`` and ``b`` grow
    very large together (the Beta collapses to a point); that is the maximum-likelihood
    answer, and ``penalizer > 0`` is the remedy if it is unwanted.

    ``penalizer`` adds ``penalizer * sum(params**2)`` (params in the rescaled time units) to
    the mean negative log-likelihood per customer, the ``lifetimes`` convention; 0 is plain
    maximum likelihood.

    Learned state: ``params_`` (``r``, ``alpha``, ``a``, ``b``; ``alpha`` in the caller's time
    unit), ``log_likelihood_`` (total, unpenalised, in the caller's time unit, comparable with
    published values), ``n_customers_``, ``converged_``.
    """

    def __init__(self, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    # -- fitting -------------------------------------------------------------------------

    @staticmethod
    def _log_likelihood(
        params: np.ndarray, x: np.ndarray, t_x: np.ndarray, age: np.ndarray
    ) -> np.ndarray:
        """Per-customer log-likelihood, Fader, Hardie & Lee (2005) eq. 6 / section 7.

        ``ln L = ln G(r+x) - ln G(r) + r ln(alpha) + ln B(a, b+x) - ln B(a, b)
        + ln[ (alpha+T)^-(r+x) + 1{x>0} a/(b+x-1) (alpha+t_x)^-(r+x) ]``.
        """
        r, alpha, a, b = params
        a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
        a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
        a3 = -(r + x) * np.log(alpha + age)
        with np.errstate(divide="ignore", invalid="ignore"):
            a4 = np.where(
                x > 0,
                np.log(a) - np.log(b + np.maximum(x, 1) - 1) - (r + x) * np.log(alpha + t_x),
                -np.inf,
            )
        return a1 + a2 + np.logaddexp(a3, a4)

    @staticmethod
    def _log_likelihood_gradient(
        params: np.ndarray, x: np.ndarray, t_x: np.ndarray, age: np.ndarray
    ) -> np.ndarray:
        """Per-customer gradient of ``_log_likelihood`` in ``(r, alpha, a, b)``: shape (n, 4).

        Differentiates each term of eq. 6; the ``logaddexp`` of the last two terms passes
        each side's gradient on with its share of the sum.
        """
        r, alpha, a, b = params
        rx = r + x
        repeat = x > 0
        ln_t, ln_tx = np.log(alpha + age), np.log(alpha + t_x)
        a3 = -rx * ln_t
        with np.errstate(divide="ignore", invalid="ignore"):
            a4 = np.where(
                repeat, np.log(a) - np.log(b + np.maximum(x, 1) - 1) - rx * ln_tx, -np.inf
            )
        share4 = np.exp(a4 - np.logaddexp(a3, a4))  # 0 without a repeat purchase
        share3 = 1.0 - share4
        dg_ab, dg_abx = digamma(a + b), digamma(a + b + x)
        grad = np.empty((x.size, 4))
        grad[:, 0] = digamma(rx) - digamma(r) + np.log(alpha) - share3 * ln_t - share4 * ln_tx
        grad[:, 1] = r / alpha - share3 * rx / (alpha + age) - share4 * rx / (alpha + t_x)
        grad[:, 2] = dg_ab - dg_abx + share4 / a
        grad[:, 3] = (
            dg_ab + digamma(b + x) - digamma(b) - dg_abx
            - share4 / (b + np.maximum(x, 1) - 1)
        )  # fmt: skip
        return grad

    def fit(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> Self:
        """Estimate ``r, alpha, a, b`` by maximum likelihood and return ``self``.

        Raises ``ValueError`` when the data cannot identify the model: no customers, all
        ``T == 0``, or nobody with a repeat purchase (then the likelihood has no interior
        maximum: the rate and dropout cannot be told apart).
        """
        x, t_x, age = _check_rft(frequency, recency, T)
        if x.size == 0:
            raise ValueError("BetaGeoModel.fit needs at least one customer")
        if not np.any(x > 0):
            raise ValueError("BetaGeoModel.fit needs at least one customer with a repeat purchase")
        if age.max() <= 0:
            raise ValueError("BetaGeoModel.fit needs customers observed for some time (T > 0)")

        scale = 10.0 / age.max()
        (xs, ts, ages), weight = _distinct_rows(x, t_x * scale, age * scale)

        objective = _penalized_objective(
            lambda params: self._log_likelihood(params, xs, ts, ages),
            lambda params: self._log_likelihood_gradient(params, xs, ts, ages),
            weight,
            self.penalizer,
        )
        log_params, converged = _minimize(objective, 4)
        r, alpha, a, b = np.exp(log_params)
        self.params_ = {"r": float(r), "alpha": float(alpha / scale), "a": float(a), "b": float(b)}
        self.log_likelihood_ = float(self._log_likelihood(self._params(), x, t_x, age).sum())
        self.n_customers_ = int(x.size)
        self.converged_ = _warn_unless(converged, type(self).__name__)
        return self

    def _params(self) -> np.ndarray:
        return _fitted(self, ("r", "alpha", "a", "b"))

    # -- prediction ----------------------------------------------------------------------

    def log_likelihood(
        self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> pd.Series | np.ndarray:
        """Per-customer log-likelihood of ``(x, t_x, T)`` under the fitted parameters."""
        params = self._params()
        x, t_x, age = _check_rft(frequency, recency, T)
        return _like(self._log_likelihood(params, x, t_x, age), frequency, "log_likelihood")

    def probability_alive(
        self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> pd.Series | np.ndarray:
        """P(customer still alive at T | x, t_x, T) (Fader, Hardie & Lee 2005, eq. 11).

        ``1 / (1 + 1{x>0} a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x))``; 1 when ``x = 0``, since
        in the BG/NBD a customer can only drop out right after a repeat purchase.
        """
        r, alpha, a, b = self._params()
        x, t_x, age = _check_rft(frequency, recency, T)
        log_odds_dead = (r + x) * np.log((alpha + age) / (alpha + t_x)) + np.log(
            a / (b + np.maximum(x, 1) - 1)
        )
        p_alive = np.where(x > 0, expit(-log_odds_dead), 1.0)
        return _like(p_alive, frequency, "p_alive")

    def expected_purchases(
        self, t: float, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> pd.Series | np.ndarray:
        """E[number of purchases in (T, T+t] | x, t_x, T] (Fader, Hardie & Lee 2005, eq. 10).

        ``(a+b+x-1)/(a-1) * [1 - ((alpha+T)/(alpha+T+t))^(r+x) * 2F1(r+x, b+x; a+b+x-1; z)]
        / [1 + 1{x>0} a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)]`` with ``z = t/(alpha+T+t)``.
        ``t`` is in the same time unit as ``T``.
        """
        r, alpha, a, b = self._params()
        x, t_x, age = _check_rft(frequency, recency, T)
        if t < 0:
            raise ValueError(f"t must be non-negative, got {t}")
        result = self._conditional_expectation(float(t), x, t_x, age, r, alpha, a, b)
        return _like(result, frequency, "expected_purchases")

    @staticmethod
    def _conditional_expectation(
        t: float,
        x: np.ndarray,
        t_x: np.ndarray,
        age: np.ndarray,
        r: float,
        alpha: float,
        a: float,
        b: float,
    ) -> np.ndarray:
        if t == 0:
            return np.zeros_like(x)
        hyp_a, hyp_b, hyp_c = r + x, b + x, a + b + x - 1
        z = t / (alpha + age + t)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            log_hyp = np.log(hyp2f1(hyp_a, hyp_b, hyp_c, z))
            # Euler's transformation, for arguments where the direct series overflows.
            log_hyp_alt = np.log(hyp2f1(hyp_c - hyp_a, hyp_c - hyp_b, hyp_c, z)) + (
                hyp_c - hyp_a - hyp_b
            ) * np.log1p(-z)
        log_hyp = np.where(np.isfinite(log_hyp), log_hyp, log_hyp_alt)
        first = (a + b + x - 1) / (a - 1)
        second = -np.expm1(log_hyp + (r + x) * np.log((alpha + age) / (alpha + age + t)))
        denominator = 1 + (x > 0) * (a / (b + np.maximum(x, 1) - 1)) * (
            (alpha + age) / (alpha + t_x)
        ) ** (r + x)
        return first * second / denominator

    def expected_purchases_between(
        self,
        t_start: float,
        t_end: float,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
    ) -> pd.Series | np.ndarray:
        """Return the expected purchases in ``(T + t_start, T + t_end]``.

        Eq. 10 at ``t_end`` minus eq. 10 at ``t_start``; useful for time profiles (e.g.
        expected purchases per future month).
        """
        if not 0 <= t_start <= t_end:
            raise ValueError(f"need 0 <= t_start <= t_end, got {t_start}, {t_end}")
        r, alpha, a, b = self._params()
        x, t_x, age = _check_rft(frequency, recency, T)
        end = self._conditional_expectation(float(t_end), x, t_x, age, r, alpha, a, b)
        start = self._conditional_expectation(float(t_start), x, t_x, age, r, alpha, a, b)
        return _like(end - start, frequency, "expected_purchases")

    def expected_purchases_new_customer(self, t: float) -> float:
        """E[repeat purchases in (0, t]] for a newly acquired customer (FHL 2005, eq. 9).

        ``(a+b-1)/(a-1) * [1 - (alpha/(alpha+t))^r * 2F1(r, b; a+b-1; t/(alpha+t))]``.
        """
        r, alpha, a, b = self._params()
        hyp = hyp2f1(r, b, a + b - 1, t / (alpha + t))
        return float((a + b - 1) / (a - 1) * (1 - hyp * (alpha / (alpha + t)) ** r))


# --------------------------------------------------------------------------------------------
# Gamma-Gamma
def _fitted(model: Any, names: tuple[str, ...]) -> np.ndarray:
    """The fitted ``params_`` of a model in ``names`` order; ``NotFittedError`` before ``fit``."""
    if not hasattr(model, "params_"):
        raise NotFittedError(f"{type(model).__name__} is not fitted yet: call fit() first")
    return np.array([model.params_[k] for k in names])


def _warn_unless(converged: bool, model: str) -> bool:
    """Warn (``RuntimeWarning``) when the optimiser did not converge; return ``converged``."""
    if not converged:
        warnings.warn(
            f"{model}: optimiser did not report convergence; check params_",
            RuntimeWarning,
            stacklevel=3,
        )
    return converged


def bgnbd_from_params(params: Mapping[str, float]) -> BetaGeoModel:
    """A fitted BG/NBD model carrying saved ``params`` (``r``, ``alpha``, ``a``, ``b``)."""
    model = BetaGeoModel()
    model.params_ = {k: float(params[k]) for k in ("r", "alpha", "a", "b")}
    return model


# --------------------------------------------------------------------------------------------


class GammaGammaModel:
    """The Gamma-Gamma model of average transaction value (Fader, Hardie & Lee 2005, JMR).

    A customer's transaction values are ``Gamma(p, nu)`` around their own mean ``p/nu``;
    ``nu ~ Gamma(q, gamma)`` across customers (Colombo & Jiang 1999). Fit with
    ``fit(frequency, monetary_value)`` where ``monetary_value`` is the mean of the customer's
    ``frequency`` repeat transactions; only customers with ``frequency > 0`` and a positive
    ``monetary_value`` enter the fit (the gamma distribution has positive support), the
    others are ignored. Values are rescaled by their mean for the optimiser (``gamma`` is
    reported in the caller's currency); the fit is deterministic.

    ``penalizer`` adds ``penalizer * sum(params**2)`` (``gamma`` in mean-scaled units) to the
    mean negative log-likelihood per customer.

    Learned state: ``params_`` (``p``, ``q``, ``v`` = the paper's ``gamma``),
    ``log_likelihood_`` (total, unpenalised), ``n_customers_`` (customers used),
    ``mean_value_`` (plain mean of the monetary values used), ``converged_``.
    """

    def __init__(self, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    @staticmethod
    def _log_likelihood(params: np.ndarray, x: np.ndarray, m: np.ndarray) -> np.ndarray:
        """Per-customer log-likelihood of the mean ``m`` of ``x`` transactions (FHL 2005 JMR).

        ``ln G(px+q) - ln G(px) - ln G(q) + q ln v + (px-1) ln m + px ln x - (px+q) ln(v + x m)``.
        """
        p, q, v = params
        px = p * x
        return (
            gammaln(px + q)
            - gammaln(px)
            - gammaln(q)
            + q * np.log(v)
            + (px - 1) * np.log(m)
            + px * np.log(x)
            - (px + q) * np.log(v + x * m)
        )

    @staticmethod
    def _log_likelihood_gradient(params: np.ndarray, x: np.ndarray, m: np.ndarray) -> np.ndarray:
        """Per-customer gradient of ``_log_likelihood`` in ``(p, q, v)``: shape (n, 3)."""
        p, q, v = params
        px, ln_vxm = p * x, np.log(v + x * m)
        dg = digamma(px + q)
        grad = np.empty((x.size, 3))
        grad[:, 0] = x * (dg - digamma(px) + np.log(m) + np.log(x) - ln_vxm)
        grad[:, 1] = dg - digamma(q) + np.log(v) - ln_vxm
        grad[:, 2] = q / v - (px + q) / (v + x * m)
        return grad

    def fit(self, frequency: ArrayLike, monetary_value: ArrayLike) -> Self:
        """Estimate ``p, q, v`` by maximum likelihood on repeat customers; return ``self``.

        Raises ``ValueError`` when fewer than two customers have ``frequency > 0`` and a
        positive ``monetary_value``: the model is not identified then.
        """
        x = _as_float_array(frequency, "frequency")
        m = _as_float_array(monetary_value, "monetary_value")
        if x.shape != m.shape:
            raise ValueError("frequency and monetary_value must have the same length")
        keep = (x > 0) & (m > 0)
        x, m = x[keep], m[keep]
        if x.size < 2:
            raise ValueError(
                "GammaGammaModel.fit needs at least two customers with a repeat purchase and a "
                f"positive monetary value, got {x.size}"
            )
        scale = float(m.mean())
        (xs, ms), weight = _distinct_rows(x, m / scale)

        objective = _penalized_objective(
            lambda params: self._log_likelihood(params, xs, ms),
            lambda params: self._log_likelihood_gradient(params, xs, ms),
            weight,
            self.penalizer,
        )
        log_params, converged = _minimize(objective, 3)
        p, q, v = np.exp(log_params)
        self.params_ = {"p": float(p), "q": float(q), "v": float(v * scale)}
        self.log_likelihood_ = float(self._log_likelihood(self._params(), x, m).sum())
        self.n_customers_ = int(x.size)
        self.mean_value_ = scale
        self.converged_ = _warn_unless(converged, type(self).__name__)
        return self

    def _params(self) -> np.ndarray:
        return _fitted(self, ("p", "q", "v"))

    @property
    def population_mean_(self) -> float:
        """Mean transaction value of a random customer, ``p v / (q - 1)`` (infinite if q <= 1)."""
        p, q, v = self._params()
        return float(p * v / (q - 1)) if q > 1 else float("inf")

    def expected_average_value(
        self, frequency: ArrayLike, monetary_value: ArrayLike
    ) -> pd.Series | np.ndarray:
        """E[M | p, q, v, m_x, x]: the customer's expected average transaction value.

        Fader, Hardie & Lee (2005, JMR) eq. 5 / Hardie's note 025:
        ``(q-1)/(px+q-1) * pv/(q-1) + px/(px+q-1) * m_x``, a weighted average of the population
        mean and the customer's observed mean, written as ``p (v + x m_x) / (px + q - 1)``.
        Customers with ``x = 0`` get the population mean. Customers whose ``m_x`` is not
        positive are outside the model's support and also get the population mean.
        Requires ``q > 1`` (otherwise the population mean is infinite): raises ``ValueError``.
        """
        p, q, v = self._params()
        if q <= 1:
            raise ValueError(
                f"GammaGammaModel: q = {q:.3f} <= 1, the population mean value is infinite"
            )
        x = _as_float_array(frequency, "frequency")
        m = _as_float_array(monetary_value, "monetary_value")
        usable = (x > 0) & (m > 0)
        x_eff = np.where(usable, x, 0.0)
        m_eff = np.where(usable, m, 0.0)
        value = p * (v + x_eff * m_eff) / (p * x_eff + q - 1)
        return _like(value, frequency, "expected_avg_value")


# --------------------------------------------------------------------------------------------
# Convenience: BG/NBD x Gamma-Gamma expected value over a horizon
# --------------------------------------------------------------------------------------------


def bgnbd_gg_value(
    orders: pd.DataFrame,
    as_of: pd.Timestamp | str,
    horizon_days: float,
    *,
    first_dates: pd.Series | None = None,
    time_unit_days: float = 7.0,
    value_col: str = "amount",
) -> pd.DataFrame:
    """Fit BG/NBD and Gamma-Gamma on data up to ``as_of`` and predict value over a horizon.

    Returns, indexed by ``customer_id`` (the customers of ``rfm_summary(..., first_dates)``):

    * ``p_alive`` - BG/NBD probability of being alive at ``as_of``;
    * ``expected_purchases`` - BG/NBD expected purchases (purchase days) in the next
      ``horizon_days`` days;
    * ``expected_avg_value`` - Gamma-Gamma expected average transaction value;
    * ``expected_value`` - ``expected_purchases * expected_avg_value`` (undiscounted; the
      usual BG/NBD x Gamma-Gamma value, which by the models' independence assumption is the
      expected spend in the horizon).

    Fitted parameters and any fallback used are stored in ``result.attrs`` under
    ``"bgnbd_params"``, ``"gamma_gamma_params"`` and ``"fallbacks"`` (a list of messages).

    Degenerate data never crash; each fallback is also emitted as a ``RuntimeWarning``:

    * nobody has a repeat purchase (BG/NBD not identified): ``expected_purchases = 0`` and
      ``p_alive = 1`` (the BG/NBD value for ``x = 0``);
    * Gamma-Gamma cannot be fitted (fewer than two repeat customers with positive spend) or
      is unusable (``q <= 1``): every customer's ``expected_avg_value`` is the plain mean of
      the repeat customers' ``monetary_value`` (or, without repeat customers, the mean
      purchase-day value), floored at 0;
    * repeat customers whose ``monetary_value`` is not positive (zero-value orders, refunds)
      are left out of the Gamma-Gamma fit and get the population mean, like customers
      without repeat purchases.
    """
    summary = rfm_summary(
        orders, as_of, time_unit_days=time_unit_days, value_col=value_col, first_dates=first_dates
    )
    out = pd.DataFrame(
        index=summary.index,
        columns=["p_alive", "expected_purchases", "expected_avg_value", "expected_value"],
        dtype="float64",
    )
    fallbacks: list[str] = []
    out.attrs = {"bgnbd_params": None, "gamma_gamma_params": None, "fallbacks": fallbacks}
    if summary.empty:
        return out

    x, t_x, age = summary["frequency"], summary["recency"], summary["T"]
    horizon = horizon_days / time_unit_days
    if (x > 0).any() and age.max() > 0:
        bg = BetaGeoModel().fit(x, t_x, age)
        out["p_alive"] = bg.probability_alive(x, t_x, age)
        out["expected_purchases"] = bg.expected_purchases(horizon, x, t_x, age)
        out.attrs["bgnbd_params"] = dict(bg.params_)
    else:
        fallbacks.append("BG/NBD not fitted (no repeat purchase): expected_purchases = 0")
        out["p_alive"] = 1.0
        out["expected_purchases"] = 0.0

    m = summary["monetary_value"]
    gg: GammaGammaModel | None = None
    try:
        gg = GammaGammaModel().fit(x, m)
        if gg.params_["q"] <= 1:
            raise ValueError(f"q = {gg.params_['q']:.3f} <= 1 (infinite population mean)")
    except ValueError as err:
        gg = None
        repeat = m[x > 0]
        if len(repeat):
            fallback = float(repeat.mean())
        else:
            bought = purchases(orders)
            fallback = float(
                bought.loc[known_at(bought["order_date"], day_end(as_of)), value_col].sum()
                / max(summary["n_orders"].gt(0).sum(), 1)
            )
        fallback = max(fallback, 0.0)
        fallbacks.append(f"Gamma-Gamma not used ({err}): expected_avg_value = {fallback:.4g}")
        out["expected_avg_value"] = fallback
    if gg is not None:
        out["expected_avg_value"] = gg.expected_average_value(x, m)
        out.attrs["gamma_gamma_params"] = dict(gg.params_)
        n_bad = int(((x > 0) & (m <= 0)).sum())
        if n_bad:
            fallbacks.append(
                f"{n_bad} repeat customer(s) with non-positive monetary_value left out of "
                "Gamma-Gamma; they get the population mean"
            )

    out["expected_value"] = out["expected_purchases"] * out["expected_avg_value"]
    for message in fallbacks:
        warnings.warn(f"bgnbd_gg_value: {message}", RuntimeWarning, stacklevel=2)
    return out

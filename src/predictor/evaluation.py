"""Metrics for value and churn predictions, and the model-vs-baseline tables.

Value metrics follow the CLV literature: the normalized Gini (Wang et al. 2019, "A Deep
Probabilistic Model for Customer Lifetime Value Prediction", google/lifetime_value) measures
ranking, aggregate bias and decile MAPE measure sizing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    roc_auc_score,
)


def gini(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Gini of the cumulative true value captured when customers are sorted by prediction."""
    y_true = np.asarray(y_true, dtype=float)
    order = np.lexsort((np.arange(len(y_pred)), -np.asarray(y_pred, dtype=float)))
    total = y_true.sum()
    if len(y_true) == 0 or total == 0:
        return float("nan")
    captured = np.cumsum(y_true[order]) / total
    random = np.arange(1, len(y_true) + 1) / len(y_true)
    return float((captured - random).sum() / len(y_true))


def normalized_gini(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Gini of the prediction divided by the Gini of a perfect ranking (1 = perfect)."""
    best = gini(y_true, y_true)
    if not best or np.isnan(best):
        return float("nan")
    return gini(y_true, y_pred) / best


def decile_mape(y_true: np.ndarray, y_pred: np.ndarray, n_bins: int = 10) -> float:
    """Mean absolute percentage error of the mean value per predicted decile.

    Customers are cut into deciles by prediction; in each, the mean prediction is compared with
    the mean actual value. Deciles whose actual mean is below 1% of the overall mean are
    skipped: a percentage of (almost) nothing says nothing about sizing, yet one such decile
    (mean actual 0.03 against a prediction of 0.7) would otherwise dominate the average.
    """
    frame = _deciles(y_true, y_pred, n_bins)
    floor = max(0.01 * abs(float(np.mean(y_true))), 1e-9) if len(frame) else 1e-9
    nonzero = frame[frame["actual"].abs() > floor]
    if nonzero.empty:
        return float("nan")
    return float(
        ((nonzero["predicted"] - nonzero["actual"]).abs() / nonzero["actual"].abs()).mean()
    )


def _deciles(y_true: np.ndarray, y_pred: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    ranks = pd.Series(y_pred).rank(method="first").to_numpy()
    bins = np.minimum((ranks - 1) * n_bins // len(y_pred), n_bins - 1).astype(int)
    frame = pd.DataFrame({"bin": bins + 1, "actual": y_true, "predicted": y_pred})
    return frame.groupby("bin")[["actual", "predicted"]].mean()


def decile_table(y_true: np.ndarray, y_pred: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """Mean predicted and actual value per decile of prediction (1 = lowest)."""
    return _deciles(y_true, y_pred, n_bins)


def top_decile_capture(y_true: np.ndarray, y_pred: np.ndarray, share: float = 0.1) -> float:
    """Share of total actual value held by the top ``share`` of customers by prediction."""
    y_true = np.asarray(y_true, dtype=float)
    total = y_true.sum()
    if total <= 0:
        return float("nan")
    n = max(1, int(round(share * len(y_true))))
    order = np.lexsort((np.arange(len(y_pred)), -np.asarray(y_pred, dtype=float)))
    return float(y_true[order[:n]].sum() / total)


VALUE_METRICS = (
    "normalized_gini",
    "spearman",
    "mae",
    "rmse",
    "aggregate_bias",
    "decile_mape",
    "top_decile_capture",
)
"""The metrics ``value_metrics`` returns, in order."""


def missing_predictions(p: np.ndarray) -> bool:
    """True when any prediction is NaN (e.g. a model trained without the target).

    Metrics of such predictions are NaN, never a number: ranking NaN scores gives an arbitrary
    order, and metrics on the rest would judge other customers than the labels name.
    """
    p = np.asarray(p, dtype=float)
    return bool(len(p)) and bool(np.isnan(p).any())


def value_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Ranking and sizing metrics of a value prediction (all NaN when predictions are missing)."""
    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    if missing_predictions(y_pred):
        return dict.fromkeys(VALUE_METRICS, float("nan"))
    total = y_true.sum()
    # max - min, not the standard deviation: that of a constant float array can be 1e-14
    varies = len(y_pred) > 0 and np.ptp(y_pred) > 0
    spearman = spearmanr(y_true, y_pred).statistic if varies else float("nan")
    return {
        "normalized_gini": normalized_gini(y_true, y_pred),
        "spearman": float(spearman),
        "mae": float(np.mean(np.abs(y_true - y_pred))),
        "rmse": float(np.sqrt(np.mean((y_true - y_pred) ** 2))),
        "aggregate_bias": float((y_pred.sum() - total) / total) if total else float("nan"),
        "decile_mape": decile_mape(y_true, y_pred),
        "top_decile_capture": top_decile_capture(y_true, y_pred),
    }


def calibration_error(y_true: np.ndarray, p: np.ndarray, n_bins: int = 10) -> float:
    """Expected calibration error: weighted mean |observed rate - mean prediction| per bin.

    Bins are quantile bins of the predicted probability; tied predictions share a bin.
    """
    y_true = np.asarray(y_true, dtype=float)
    p = np.asarray(p, dtype=float)
    frame = calibration_table(y_true, p, n_bins)
    return float((frame["count"] * (frame["observed"] - frame["predicted"]).abs()).sum() / len(p))


def calibration_table(y_true: np.ndarray, p: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """Mean predicted probability and observed rate per quantile bin (ties kept together).

    Splitting tied predictions (a calibrated model has many) across bins by row order would
    make the error depend on the order of the rows.
    """
    p = np.asarray(p, dtype=float)
    edges = np.unique(np.quantile(p, np.linspace(0, 1, n_bins + 1)[1:-1])) if len(p) else []
    bins = np.searchsorted(edges, p, side="right")
    frame = pd.DataFrame({"bin": bins + 1, "observed": y_true, "predicted": p})
    grouped = frame.groupby("bin")
    table = grouped[["predicted", "observed"]].mean()
    table["count"] = grouped.size()
    return table


def lift_at(y_true: np.ndarray, p: np.ndarray, share: float = 0.1) -> float:
    """Churn rate among the top ``share`` by risk divided by the overall churn rate."""
    y_true = np.asarray(y_true, dtype=float)
    base = y_true.mean()
    if base == 0:
        return float("nan")
    n = max(1, int(round(share * len(y_true))))
    order = np.lexsort((np.arange(len(p)), -np.asarray(p, dtype=float)))
    return float(y_true[order[:n]].mean() / base)


CHURN_METRICS = (
    "roc_auc",
    "pr_auc",
    "brier",
    "log_loss",
    "calibration_error",
    "lift_top10",
    "churn_rate",
    "mean_predicted",
)
"""The metrics ``churn_metrics`` returns, in order."""


def churn_metrics(y_true: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """Separation and calibration metrics of churn probabilities.

    When predictions are missing (``missing_predictions``) every metric of the predictions is
    NaN; ``churn_rate``, a fact of the labels, is still given.
    """
    y_true = np.asarray(y_true, dtype=int)
    if missing_predictions(p):
        return dict.fromkeys(CHURN_METRICS, float("nan")) | {"churn_rate": _rate(y_true)}
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    both = len(np.unique(y_true)) == 2
    return {
        "roc_auc": float(roc_auc_score(y_true, p)) if both else float("nan"),
        "pr_auc": float(average_precision_score(y_true, p)) if both else float("nan"),
        "brier": float(brier_score_loss(y_true, p)),
        "log_loss": float(log_loss(y_true, p, labels=[0, 1])),
        "calibration_error": calibration_error(y_true, p),
        "lift_top10": lift_at(y_true, p),
        "churn_rate": _rate(y_true),
        "mean_predicted": float(p.mean()),
    }


def _rate(y_true: np.ndarray) -> float:
    """Share of positive labels; NaN when there are none."""
    return float(y_true.mean()) if len(y_true) else float("nan")


def comparison_table(
    y_true: np.ndarray, predictions: dict[str, np.ndarray], kind: str
) -> pd.DataFrame:
    """One row per predictor (model and baselines), one column per metric."""
    metric = value_metrics if kind == "value" else churn_metrics
    rows = {name: metric(y_true, pred) for name, pred in predictions.items()}
    return pd.DataFrame.from_dict(rows, orient="index")


def bootstrap_ci(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    metric=normalized_gini,
    n_boot: int = 200,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of a metric (customers resampled)."""
    rng = np.random.default_rng(seed)
    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    n = len(y_true)
    stats = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        stats.append(metric(y_true[idx], y_pred[idx]))
    lo, hi = np.nanpercentile(stats, [(1 - level) / 2 * 100, (1 + level) / 2 * 100])
    return float(lo), float(hi)

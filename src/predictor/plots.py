"""Matplotlib figures of model quality. Pure: figures are returned, the caller saves them."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from predictor.evaluation import calibration_table, decile_table  # noqa: E402


def gains_figure(y_true: np.ndarray, predictions: dict[str, np.ndarray], title: str) -> Figure:
    """Cumulative share of actual value captured when customers are ranked by each predictor."""
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    y_true = np.asarray(y_true, dtype=float)
    total = y_true.sum() or 1.0
    share = np.arange(1, len(y_true) + 1) / len(y_true) * 100
    for name, pred in predictions.items():
        order = np.lexsort((np.arange(len(pred)), -np.asarray(pred, dtype=float)))
        ax.plot(share, np.cumsum(y_true[order]) / total * 100, label=name, lw=1.6)
    ax.plot(share, np.cumsum(np.sort(y_true)[::-1]) / total * 100, "k:", label="perfect", lw=1)
    ax.plot([0, 100], [0, 100], color="grey", lw=0.8, ls="--", label="random")
    ax.set(
        xlabel="Customers targeted, ranked by prediction (%)",
        ylabel="Actual value captured (%)",
        title=title,
    )
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def calibration_figure(y_true: np.ndarray, p: np.ndarray, title: str) -> Figure:
    """Observed churn rate against mean predicted probability, per decile of prediction."""
    table = calibration_table(np.asarray(y_true, float), np.asarray(p, float))
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=0.8, label="perfectly calibrated")
    ax.plot(table["predicted"], table["observed"], "o-", label="model")
    ax.set(
        xlabel="Predicted churn probability (decile mean)",
        ylabel="Observed churn rate",
        title=title,
        xlim=(0, 1),
        ylim=(0, 1),
    )
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def decile_figure(
    y_true: np.ndarray, y_pred: np.ndarray, title: str, unit: str = "currency"
) -> Figure:
    """Mean predicted vs actual value per decile of prediction."""
    table = decile_table(y_true, y_pred)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    x = np.arange(len(table))
    ax.bar(x - 0.2, table["predicted"], width=0.4, label="predicted")
    ax.bar(x + 0.2, table["actual"], width=0.4, label="actual")
    ax.set_xticks(x, [str(i) for i in table.index])
    ax.set(
        xlabel="Decile of prediction (1 = lowest)",
        ylabel=f"Mean value per customer ({unit})",
        title=title,
    )
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig


def roc_figure(y_true: np.ndarray, predictions: dict[str, np.ndarray], title: str) -> Figure:
    """ROC curves of the churn model and its baselines."""
    from sklearn.metrics import roc_auc_score, roc_curve

    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    for name, p in predictions.items():
        if len(np.unique(y_true)) < 2 or np.std(p) == 0:
            continue
        fpr, tpr, _ = roc_curve(y_true, p)
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(y_true, p):.3f})")
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=0.8)
    ax.set(xlabel="False positive rate", ylabel="True positive rate", title=title)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def importance_figure(importance: dict[str, float], title: str) -> Figure:
    """Horizontal bars of importance shares (e.g. per signal family)."""
    names = list(importance)[::-1]
    fig, ax = plt.subplots(figsize=(6.4, 0.35 * len(names) + 1.4))
    ax.barh(names, [importance[n] * 100 for n in names])
    ax.set(xlabel="Share of model gain (%)", title=title)
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    return fig

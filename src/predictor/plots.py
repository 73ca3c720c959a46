"""Matplotlib figures of model quality. Pure: figures are returned, the caller saves them."""

from __future__ import annotations

from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from predictor.evaluation import calibration_table, decile_table  # noqa: E402


def _finish(
    fig: Figure, ax: Axes, legend_loc: str | None = None, grid_axis: str = "both", **labels: object
) -> Figure:
    """The common end of a chart: axis labels and title, small legend, light grid, tight layout."""
    ax.set(**labels)
    ax.legend(fontsize=8, **({"loc": legend_loc} if legend_loc else {}))
    ax.grid(alpha=0.3, axis=grid_axis)
    fig.tight_layout()
    return fig


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
    return _finish(
        fig,
        ax,
        legend_loc="lower right",
        xlabel="Customers targeted, ranked by prediction (%)",
        ylabel="Actual value captured (%)",
        title=title,
    )


def calibration_figure(y_true: np.ndarray, p: np.ndarray, title: str) -> Figure:
    """Observed churn rate against mean predicted probability, per decile of prediction."""
    table = calibration_table(np.asarray(y_true, float), np.asarray(p, float))
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=0.8, label="perfectly calibrated")
    ax.plot(table["predicted"], table["observed"], "o-", label="model")
    return _finish(
        fig,
        ax,
        xlabel="Predicted churn probability (decile mean)",
        ylabel="Observed churn rate",
        title=title,
        xlim=(0, 1),
        ylim=(0, 1),
    )


def decile_figure(y_true: np.ndarray, y_pred: np.ndarray, title: str, unit: str) -> Figure:
    """Mean predicted vs actual value per decile of prediction."""
    table = decile_table(y_true, y_pred)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    x = np.arange(len(table))
    ax.bar(x - 0.2, table["predicted"], width=0.4, label="predicted")
    ax.bar(x + 0.2, table["actual"], width=0.4, label="actual")
    ax.set_xticks(x, [str(i) for i in table.index])
    return _finish(
        fig,
        ax,
        grid_axis="y",
        xlabel="Decile of prediction (1 = lowest)",
        ylabel=f"Mean value per customer ({unit})",
        title=title,
    )


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
    return _finish(
        fig,
        ax,
        legend_loc="lower right",
        xlabel="False positive rate (share of stayers flagged)",
        ylabel="True positive rate (share of churners caught)",
        title=title,
    )


def importance_figure(importance: dict[str, float], title: str) -> Figure:
    """Horizontal bars of importance shares (e.g. per signal family)."""
    names = list(importance)[::-1]
    fig, ax = plt.subplots(figsize=(6.4, 0.35 * len(names) + 1.4))
    ax.barh(names, [importance[n] * 100 for n in names])
    ax.set(xlabel="Share of model gain (%)", title=title)
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    return fig


def distribution_figure(
    value: np.ndarray,
    risk: np.ndarray,
    value_cuts: tuple[float, float],
    risk_cuts: tuple[float, float],
    value_label: str = "Predicted 13-month value",
    gone: np.ndarray | None = None,
) -> Figure:
    """Histograms of predicted value (all customers) and churn risk (active customers only).

    The segment and band limits are marked. ``gone`` flags customers already lost at the
    as-of date, drawn in grey in the value histogram. Value is drawn up to its 99th percentile
    so a few very large customers do not squash the picture; the title says how many are beyond.
    """
    value = np.asarray(value, dtype=float)
    risk = np.asarray(risk, dtype=float)
    gone = np.zeros(len(value), bool) if gone is None else np.asarray(gone, dtype=bool)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.9))
    top = float(np.nanquantile(value, 0.99)) if len(value) else 1.0
    beyond = int((value > top).sum())
    clipped = np.clip(value, None, top)
    left.hist(
        [clipped[~gone], clipped[gone]],
        bins=40,
        stacked=True,
        color=["#4C72B0", "#BBBBBB"],
        label=["active", "already gone"],
    )
    _mark(left, value_cuts, ("average from", "above average from"), lambda c: f"{c:,.0f}")
    extra = f" ({beyond:,} above {top:,.0f} not shown)" if beyond else ""
    left.set(xlabel=value_label, ylabel="Customers", title=f"Predicted value{extra}")
    left.legend(fontsize=8, loc="center right")
    right.hist(risk * 100, bins=np.linspace(0, 100, 41), color="#DD8452")
    _mark(
        right,
        tuple(c * 100 for c in risk_cuts),
        ("medium above", "high risk from"),
        lambda c: f"{c:.0f}%",
    )
    right.set(
        xlabel="Churn risk (% probability of churning within the horizon)",
        ylabel="Active customers",
        title="Churn risk of active customers",
    )
    for ax in (left, right):
        ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig


def _mark(
    ax: Axes, cuts: tuple[float, ...], names: tuple[str, ...], fmt: Callable[[float], str]
) -> None:
    """Dashed vertical limits with a boxed label at the top (staggered, so close ones can't hide)."""
    for i, (cut, name) in enumerate(zip(cuts, names, strict=True)):
        ax.axvline(cut, color="#C44E52", ls="--", lw=1.2)
        ax.annotate(
            f"{name}\n{fmt(cut)}",
            (cut, 1),
            xycoords=("data", "axes fraction"),
            xytext=(4, -4 - 26 * i),
            textcoords="offset points",
            va="top",
            fontsize=8,
            color="#C44E52",
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.85},
        )


LEVER_PANELS: dict[str, tuple[str, str, float]] = {
    "aov": ("Average order value", "{currency} per order", 1.0),
    "orders_per_customer": ("Purchase frequency", "orders per customer, last 12 months", 1.0),
    "margin_rate": ("Margin", "% of net spend, last 12 months", 100.0),
    "mean_churn_risk": ("Churn risk", "mean % probability (active customers)", 100.0),
}
"""Lever column -> (panel title, y-axis label, display scale)."""


SEGMENT_COLORS: dict[str, str] = {
    "above_average": "#55A868",
    "average": "#4C72B0",
    "below_average": "#8172B3",
    "negative": "#C44E52",
    "lapsed": "#BBBBBB",
}


def segment_levers_figure(levers: pd.DataFrame, currency: str = "") -> Figure:
    """The four CLV levers per value segment: one bar panel each (missing levers are skipped).

    ``levers`` is indexed by segment, with any of the columns named in ``LEVER_PANELS``;
    ``currency`` labels the money axis.
    """
    panels = [c for c in LEVER_PANELS if c in levers and levers[c].notna().any()]
    n = max(len(panels), 1)
    fig, axes = plt.subplots(1, n, figsize=(min(2.5 * n, 10.0), 3.6))
    axes = np.atleast_1d(axes)
    labels = [str(s).replace("_", " ") for s in levers.index]
    colors = [SEGMENT_COLORS.get(str(s), "#999999") for s in levers.index]
    for ax, col in zip(axes, panels, strict=False):
        title, unit, scale = LEVER_PANELS[col]
        values = levers[col].to_numpy(dtype=float) * scale
        bars = ax.bar(labels, values, color=colors)
        small = scale == 1.0 and np.nanmax(values, initial=0.0) < 20
        ax.bar_label(bars, fmt="%.1f" if small else "%.0f", fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(unit.format(currency=currency or "money").strip(), fontsize=8)
        ax.tick_params(axis="x", labelsize=8, rotation=20)
        ax.grid(alpha=0.3, axis="y")
        ax.margins(y=0.15)
    fig.suptitle("CLV levers by value segment", fontsize=11)
    fig.tight_layout()
    return fig


def family_importance_figure(shares: pd.DataFrame, title: str) -> Figure:
    """Grouped horizontal bars: share of each model's gain per signal family.

    ``shares`` is indexed by family (plain-language names), one column per model, values in
    [0, 1]; families are drawn in the order given, top to bottom.
    """
    families = list(shares.index)[::-1]
    models = list(shares.columns)
    height = 0.8 / max(len(models), 1)
    y = np.arange(len(families))
    fig, ax = plt.subplots(figsize=(8, 0.2 * len(families) * max(len(models), 1) + 1.3))
    for i, model in enumerate(models):
        values = shares.loc[families, model].to_numpy(dtype=float) * 100
        ax.barh(y + (len(models) - 1 - i) * height - 0.4 + height / 2, values, height, label=model)
    ax.set_yticks(y, families)
    return _finish(
        fig,
        ax,
        legend_loc="lower right",
        grid_axis="x",
        xlabel="Share of what the model learned (% of total gain)",
        title=title,
    )


def value_at_risk_figure(
    value: np.ndarray,
    risk: np.ndarray,
    highlight: np.ndarray,
    value_label: str = "Predicted 13-month value",
    currency: str = "",
) -> Figure:
    """Value against churn risk per active customer; the act-first customers are highlighted.

    Dashed curves join customers with the same value at risk (value x risk), so customers up
    and to the right hold the most value that churn would take away.
    """
    value = np.asarray(value, dtype=float)
    risk = np.asarray(risk, dtype=float)
    highlight = np.asarray(highlight, dtype=bool)
    fig, ax = plt.subplots(figsize=(8, 4.8))
    ax.scatter(
        value[~highlight],
        risk[~highlight] * 100,
        s=8,
        alpha=0.35,
        color="#4C72B0",
        label="active customers",
    )
    ax.scatter(
        value[highlight],
        risk[highlight] * 100,
        s=28,
        color="#C44E52",
        label="act first (most value at risk)",
    )
    at_risk = value * risk
    right = float(np.nanmax(value)) if len(value) else 1.0
    levels = np.nanquantile(at_risk, [0.5, 0.9, 0.99]) if len(value) else []
    xs = np.linspace(max(right / 200, 1e-9), right, 200)
    for level in levels:
        if level > 0:
            ax.plot(xs, np.clip(level / xs, 0, 1) * 100, color="grey", ls="--", lw=0.8)
            ax.annotate(
                f"{level:,.0f} {currency} at risk".replace("  ", " "),
                (right, level / right * 100),
                fontsize=8,
                color="grey",
                ha="right",
                va="bottom",
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8},
            )
    return _finish(
        fig,
        ax,
        legend_loc="upper right",
        xlabel=value_label,
        ylabel="Churn risk (%)",
        ylim=(0, min(100.0, float(np.nanmax(risk, initial=0.0)) * 115 + 5)),
        title="Value at risk: predicted value x churn risk",
    )

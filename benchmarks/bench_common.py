"""Shared pieces of the benchmark sections: results, metric columns, "where it loses" sentences."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from predictor.evaluation import bootstrap_ci, comparison_table, normalized_gini

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = REPO / "configs" / "default.yaml"

Progress = Callable[[str], None]

VALUE_COLUMNS = [
    "normalized_gini",
    "gini_95ci",
    "spearman",
    "aggregate_bias",
    "decile_mape",
    "top_decile_capture",
]
CHURN_COLUMNS = ["roc_auc", "pr_auc", "brier", "log_loss", "calibration_error", "lift_top10"]
HIGHER_BETTER = {
    "normalized_gini", "spearman", "top_decile_capture", "roc_auc", "pr_auc", "lift_top10"
}  # fmt: skip
LOWER_BETTER = {"decile_mape", "brier", "log_loss", "calibration_error"}
ABS_LOWER_BETTER = {"aggregate_bias"}
MODEL = "model"
TRUTH = "best achievable (truth)"


@dataclass
class SectionResult:
    """A benchmark section: its markdown, generated "where predictor loses" lines, raw numbers."""

    title: str
    markdown: str
    losses: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


class Timer:
    """Wall-clock seconds since creation."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def seconds(self) -> float:
        """Seconds elapsed."""
        return time.perf_counter() - self.start


def value_table(
    y: np.ndarray, preds: dict[str, np.ndarray], n_boot: int, seed: int = 0
) -> pd.DataFrame:
    """Value metrics per predictor with a bootstrap 95% interval of the normalized Gini."""
    full = comparison_table(y, preds, "value")
    cis = {
        name: bootstrap_ci(y, p, normalized_gini, n_boot=n_boot, seed=seed)
        for name, p in preds.items()
    }
    full["gini_95ci"] = [f"[{cis[n][0]:.3f}, {cis[n][1]:.3f}]" for n in full.index]
    full = full[VALUE_COLUMNS].astype(object)
    for name, p in preds.items():
        if np.ptp(np.asarray(p, dtype=float)) == 0:  # a constant does not rank anyone
            full.loc[name, ["normalized_gini", "gini_95ci", "top_decile_capture"]] = np.nan
    return full


def add_interval(table: pd.DataFrame, found: Mapping[str, Any] | None) -> pd.DataFrame:
    """Columns ``coverage_80`` and ``pinball`` of the model's P10-P90 interval (its row only).

    ``found`` holds ``interval_coverage`` and ``pinball_loss`` as ``modeling.intervals``'s
    ``interval_metrics`` gives them (a training plan carries them for its held-out rows).
    Coverage is the share of held-out customers whose actual value lies in the interval (the
    target is 75-85%); pinball is the mean quantile loss of the two bounds, the measure that
    stays comparable where most customers spend nothing and a correct interval covers more.
    """
    out = table.copy()
    out["coverage_80"], out["pinball"] = np.nan, np.nan
    if found and "interval_coverage" in found:
        out.loc[MODEL, "coverage_80"] = float(found["interval_coverage"])
        out.loc[MODEL, "pinball"] = float(found["pinball_loss"])
    return out


def churn_table(y: np.ndarray, preds: dict[str, np.ndarray]) -> pd.DataFrame:
    """Churn metrics per predictor."""
    return comparison_table(y, preds, "churn")[CHURN_COLUMNS]


def add_ratios(table: pd.DataFrame, metrics: list[str], reference: str = TRUTH) -> pd.DataFrame:
    """Columns ``<metric> / best``: each predictor's metric over the truth's (1 = as good)."""
    out = table.copy()
    for metric in metrics:
        best = float(out.loc[reference, metric])
        out[f"{metric} / best"] = out[metric].astype(float) / best if best else np.nan
    return out


def spearman_with(preds: dict[str, np.ndarray], truth: np.ndarray) -> dict[str, float]:
    """Spearman correlation of each prediction with the true expectation (NaN for constants)."""
    ranked = pd.Series(truth).rank().to_numpy()
    out = {}
    for name, p in preds.items():
        p = np.asarray(p, dtype=float)
        out[name] = (
            float(np.corrcoef(pd.Series(p).rank().to_numpy(), ranked)[0, 1])
            if np.std(p) > 0 and np.std(truth) > 0
            else float("nan")
        )
    return out


def losses(table: pd.DataFrame, where: str, model: str = MODEL) -> list[str]:
    """Sentences naming each metric on which a baseline (not the truth) beats the model."""
    lines = []
    others = [r for r in table.index if r not in (model, TRUTH)]
    for metric in table.columns:
        if metric not in HIGHER_BETTER | LOWER_BETTER | ABS_LOWER_BETTER:
            continue
        m = _score(table.loc[model, metric], metric)
        if np.isnan(m):
            continue
        better = [(r, float(table.loc[r, metric])) for r in others]
        better = [(r, v) for r, v in better if not np.isnan(_score(v, metric))]
        better = [(r, v) for r, v in better if _score(v, metric) > m + 1e-9]
        if better:
            name, value = max(better, key=lambda rv: _score(rv[1], metric))
            lines.append(
                f"{where}: `{name}` beats the model on {metric} "
                f"({value:.3f} vs {float(table.loc[model, metric]):.3f})."
            )
    return lines


def _score(value: object, metric: str) -> float:
    """A number where larger is better for ``metric``."""
    v = float(value)  # type: ignore[arg-type]
    if metric in HIGHER_BETTER:
        return v
    if metric in ABS_LOWER_BETTER:
        return -abs(v)
    return -v


def bucket_means(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray) -> np.ndarray:
    """Mean training value per decile of the first-order amount (a marketer's Day One rule)."""
    edges = np.unique(np.quantile(train_x, np.linspace(0, 1, 11))[1:-1])
    means = pd.Series(train_y).groupby(np.digitize(train_x, edges)).mean()
    return pd.Series(np.digitize(test_x, edges)).map(means).fillna(train_y.mean()).to_numpy()

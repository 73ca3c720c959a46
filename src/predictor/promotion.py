"""Champion and challenger: evaluate two models on the same held-out cutoff and decide.

Pure logic: no files, no MLflow. ``tracking.py`` reads and moves the registry aliases; the
CLI (``predictor promote``, ``predictor train --promote auto``) wires the two together.

The rule: the challenger replaces the champion only when it is at least as good on every
configured metric and strictly better on at least one. A metric that cannot be computed for
either model (NaN) blocks the promotion, so a champion is never replaced on missing evidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from predictor.config import METRIC_HIGHER_IS_BETTER, check_metric_names
from predictor.contract.tables import Tables
from predictor.datasets import data_span, plan_cutoffs
from predictor.evaluation import churn_metrics, value_metrics
from predictor.labels import churn_label, churn_label_end, value_label
from predictor.model_types import TrainedModel
from predictor.scoring import predict_frame, scoring_frame
from predictor.training import value_horizon


@dataclass(frozen=True)
class HeldOut:
    """The newest cutoff per target whose label window is complete in the data."""

    cutoffs: dict[str, pd.Timestamp]


def newest_heldout(tables: Tables, labels_from: TrainedModel) -> HeldOut:
    """The newest complete cutoff of each target, by the label rules of ``labels_from``."""
    config = labels_from.config
    first, end = data_span(tables, config)
    value_plan, _ = value_horizon(first, end, config)
    churn_plan = plan_cutoffs(
        first, end, lambda c: churn_label_end(c, config.churn), config.cutoffs, "churn"
    )
    return HeldOut({"value_13m": value_plan.test[-1], "churn": churn_plan.test[-1]})


def evaluate_at(
    model: TrainedModel, tables: Tables, heldout: HeldOut, labels_from: TrainedModel
) -> dict[str, float]:
    """``{target.metric: value}`` of ``model`` at the held-out cutoffs (value and churn).

    Features are built as of each cutoff with ``model``'s own feature settings; labels (the
    truth both models are judged against) follow ``labels_from``, so two models compared with
    the same ``labels_from`` face the same customers and the same answers. A target ``model``
    was trained without has NaN scores, so its metrics are NaN (and ``compare`` keeps the
    champion on them).
    """
    config = labels_from.config
    first, end = data_span(tables, config)
    _, value_cfg = value_horizon(first, end, config)
    out: dict[str, float] = {}
    as_of = heldout.cutoffs["value_13m"]
    truth = value_label(tables, as_of, value_cfg)
    scores = _scores(model, tables, as_of, truth.index)
    for metric, v in value_metrics(truth.to_numpy(float), scores["value_13m"]).items():
        out[f"value_13m.{metric}"] = v
    as_of = heldout.cutoffs["churn"]
    truth = churn_label(tables, as_of, config.churn)
    scores = _scores(model, tables, as_of, truth.index)
    for metric, v in churn_metrics(truth.to_numpy(float), scores["churn_risk"]).items():
        out[f"churn.{metric}"] = v
    return out


def _scores(
    model: TrainedModel, tables: Tables, as_of: pd.Timestamp, ids: pd.Index
) -> pd.DataFrame:
    """Scores of ``ids`` as of a cutoff, in the order of ``ids``."""
    frame = scoring_frame(tables.subset(pd.Index(ids.astype(str))), as_of, model)
    scores = predict_frame(model, frame, as_of).set_index("customer_id")
    return scores.reindex(ids.astype(str))


def shown(value: float) -> str:
    """A metric as printed: four decimals, or "n/a" when it cannot be computed (NaN)."""
    return "n/a" if math.isnan(value) else f"{value:.4f}"


@dataclass(frozen=True)
class Decision:
    """The outcome of comparing a challenger with the champion."""

    promote: bool
    reason: str
    comparison: pd.DataFrame = field(default_factory=pd.DataFrame)
    """One row per metric: champion, challenger, better (which side), higher_is_better."""

    def summary(self) -> str:
        """One line for a registry tag: the verdict and each metric's two values."""
        parts = [
            f"{name} {shown(row['champion'])} vs {shown(row['challenger'])}"
            for name, row in self.comparison.iterrows()
        ]
        verdict = "promoted" if self.promote else "kept champion"
        return f"{verdict}: {self.reason}" + (f" ({'; '.join(parts)})" if parts else "")


def compare(
    champion: dict[str, float], challenger: dict[str, float], metrics: list[str]
) -> Decision:
    """Decide whether the challenger replaces the champion on ``metrics``.

    Promotes only when the challenger is at least as good on every metric and strictly better
    on one; a metric missing or NaN on either side keeps the champion.
    """
    check_metric_names(metrics)
    rows, worse, better, missing = [], [], [], []
    for name in metrics:
        higher = METRIC_HIGHER_IS_BETTER[name.split(".", 1)[1]]
        a, b = champion.get(name, math.nan), challenger.get(name, math.nan)
        if math.isnan(a) or math.isnan(b):
            side = "n/a"
            missing.append(name)
        elif a == b:
            side = "tie"
        else:
            side = "challenger" if (b > a) == higher else "champion"
            (better if side == "challenger" else worse).append(name)
        rows.append({"metric": name, "champion": a, "challenger": b, "better": side})
    table = pd.DataFrame(rows).set_index("metric")
    if missing:
        return Decision(False, f"cannot compare {', '.join(missing)} (not computable)", table)
    if worse:
        return Decision(False, f"challenger is worse on {', '.join(worse)}", table)
    if not better:
        return Decision(False, "challenger is no better on any metric", table)
    return Decision(True, f"challenger is better on {', '.join(better)}", table)

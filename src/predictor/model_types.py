"""What training produces and everything downstream reads: the trained model and its evaluation.

``TrainedModel`` (the fitted estimators, segment thresholds, config and info), ``Evaluation``
and its per-target ``TaskResult`` live here, apart from the training orchestrator, so that
scoring, saving, the report and the explanations depend on the types and not on training.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from predictor.datasets import TIME_SPLIT

if TYPE_CHECKING:  # pragma: no cover
    from predictor.config import Config
    from predictor.modeling.churn import ChurnModel
    from predictor.modeling.value import ValueModel
    from predictor.segments import Segmenter


@dataclass
class TaskResult:
    """Held-out evaluation of one target: metric table and the predictions behind it."""

    table: pd.DataFrame
    y_true: np.ndarray
    predictions: dict[str, np.ndarray]
    plan: dict[str, Any]
    n_rows: dict[str, int]
    evaluation: str = TIME_SPLIT
    warnings: list[str] = field(default_factory=list)


@dataclass
class TrainedModel:
    """The fitted models (``None`` for a target skipped), the segment thresholds and info."""

    day_one: ValueModel | None
    value: ValueModel | None
    churn: ChurnModel | None
    segmenter: Segmenter
    config: Config
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class Evaluation:
    """Per-target held-out results."""

    tasks: dict[str, TaskResult]

    def metrics(self) -> dict[str, float]:
        """Flat ``{target.predictor.metric: value}`` for tracking."""
        out = {}
        for task, result in self.tasks.items():
            for predictor, row in result.table.iterrows():
                for metric, value in row.items():
                    if pd.notna(value):
                        out[f"{task}.{predictor}.{metric}"] = float(value)
        return out

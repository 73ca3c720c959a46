"""``Predictor``: a trained model loaded from a folder or an MLflow URI, ready to score."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from predictor.bundle import load_bundle
from predictor.contract.tables import Tables
from predictor.datasets import data_span
from predictor.scoring import predict_frame, score, scoring_frame
from predictor.training import TrainedModel

MLFLOW_SCHEMES = ("models:/", "runs:/", "mlflow-artifacts:/")


class Predictor:
    """Scores customers with a trained model: ``score`` from tables, ``predict`` from features."""

    def __init__(self, model: TrainedModel, metadata: dict[str, Any]) -> None:
        self.model = model
        self.metadata = metadata

    @classmethod
    def load(cls, path_or_uri: str | Path, tracking_uri: str | None = None) -> Predictor:
        """Load a model folder (``models/<name>``) or an MLflow model URI."""
        text = str(path_or_uri)
        if text.startswith(MLFLOW_SCHEMES):
            from predictor.tracking import load_from_uri

            path = load_from_uri(text, tracking_uri)
        else:
            path = Path(text)
        model, metadata = load_bundle(path)
        return cls(model, metadata)

    @property
    def version(self) -> str:
        """The model version stamped on every score row."""
        return str(self.model.info.get("model_version", "unversioned"))

    def _tables(self, tables_or_folder: Tables | str | Path) -> Tables:
        if isinstance(tables_or_folder, Tables):
            return tables_or_folder
        from predictor.io import load_tables

        result = load_tables(self.model.config.data, Path(tables_or_folder))
        result.raise_for_errors()
        return result.tables

    def score(
        self,
        tables_or_folder: Tables | str | Path,
        as_of: str | pd.Timestamp | None = None,
        drivers: int = 0,
    ) -> pd.DataFrame:
        """Scores of every customer signed up by ``as_of`` (default: the data's last date)."""
        return self.score_with_rejects(tables_or_folder, as_of, drivers)[0]

    def score_with_rejects(
        self,
        tables_or_folder: Tables | str | Path,
        as_of: str | pd.Timestamp | None = None,
        drivers: int = 0,
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Scores and the customers that could not be scored, with a reason."""
        tables = self._tables(tables_or_folder)
        as_of = (
            pd.Timestamp(as_of) if as_of is not None else data_span(tables, self.model.config)[1]
        )
        return score(self.model, tables, as_of, drivers)

    def features(self, tables: Tables, as_of: str | pd.Timestamp) -> pd.DataFrame:
        """The scoring frame (current and Day One features) that ``predict`` takes."""
        return scoring_frame(tables, pd.Timestamp(as_of), self.model)

    def predict(self, frame: pd.DataFrame, as_of: str | pd.Timestamp | None = None) -> pd.DataFrame:
        """Scores for a scoring frame (index or column ``customer_id``)."""
        if "customer_id" in frame.columns:
            frame = frame.set_index("customer_id")
        return predict_frame(self.model, frame, None if as_of is None else pd.Timestamp(as_of))


def load_model(path_or_uri: str | Path, tracking_uri: str | None = None) -> Predictor:
    """Load a trained model from a folder or an MLflow URI (``models:/name@alias``)."""
    return Predictor.load(path_or_uri, tracking_uri)

"""MLflow models-from-code file: the pyfunc model of a predictor bundle.

MLflow copies this file into every logged model and runs it on load; it defines the model as
code, so no pickle is written or read. ``PredictorPyfunc.load_context`` loads the ``bundle``
artifact (XGBoost JSON and plain JSON) and checks its content hash. Not imported by the package
(so that ``predictor.tracking`` itself can be imported without MLflow).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd
from mlflow.models import set_model


class PredictorPyfunc(mlflow.pyfunc.PythonModel):
    """MLflow pyfunc face of a predictor bundle: predict(scoring frame) -> scores."""

    def load_context(self, context: Any) -> None:
        """Load the bundle saved as the ``bundle`` artifact, checking its content hash."""
        from predictor.bundle import load_bundle

        self.model, self.metadata = load_bundle(Path(context.artifacts["bundle"]))

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict | None = None
    ) -> pd.DataFrame:
        """Scores for a scoring frame; params ``as_of`` and ``drivers`` (see ``pyfunc_predict``)."""
        from predictor.scoring import pyfunc_predict

        return pyfunc_predict(self.model, model_input, params)


set_model(PredictorPyfunc())

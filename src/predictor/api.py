"""The public API: ``train`` -> ``save_model`` -> ``load_model``, and ``score`` what it returns.

``Predictor`` is the façade user code holds: a trained model (just trained, or loaded from a
folder or an MLflow URI) ready to score tables or a data folder. The work is done by the
core (``training``, ``scoring``) and the jobs (``predictor.jobs``); this module only wires
them behind a small, symmetric surface::

    model = predictor.train(tables, config)     # -> Predictor
    predictor.save_model(model, "models/mine")   # the model folder (no MLflow needed)
    model = predictor.load_model("models/mine")  # -> Predictor (or "models:/name@alias")
    scores = predictor.score(model, tables)      # or model.score(tables)
"""

from __future__ import annotations

import datetime as dt
import os
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from predictor.bundle import bundle_metadata, load_bundle, save_bundle
from predictor.config import Config
from predictor.contract.tables import Tables
from predictor.missing_inputs import check_categories, check_columns, check_inputs
from predictor.model_types import Evaluation, TrainedModel
from predictor.scoring import (
    check_drivers,
    check_frame,
    customer_index,
    predict_frame,
    scoring_frame,
)
from predictor.scoring import score as score_tables
from predictor.timeline import parse_as_of

MLFLOW_SCHEMES = ("models:/", "runs:/", "mlflow-artifacts:/")


class Predictor:
    """Scores customers with a trained model: ``score`` from tables, ``predict`` from features."""

    def __init__(
        self,
        model: TrainedModel,
        metadata: dict[str, Any],
        evaluation: Evaluation | None = None,
    ) -> None:
        self.model = model
        self.metadata = metadata
        self.evaluation = evaluation
        """Held-out results of a model just trained (``None`` once loaded: see the report)."""

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

    def data_config(self, folder: str | Path, data_end: str | dt.date | None = None) -> Config:
        """The model's configuration (column mapping, time rules) reading tables from ``folder``.

        ``data_end`` (a day, as ``as_of``) replaces the model's ``data.end_date``: that is the
        last day of the data the model was trained on, and later data would have every row
        after it set aside.
        """
        base = self.model.config
        update: dict[str, object] = {"path": str(folder), "tables": {}}
        if data_end is not None:
            update["end_date"] = parse_as_of(data_end, "data_end").date()
        return base.model_copy(update={"data": base.data.model_copy(update=update)})

    def _tables(
        self, tables_or_folder: Tables | str | Path, config: Config | None = None
    ) -> Tables:
        """The tables given, or those read and validated from the data folder given.

        ``config``: whose data settings read the folder (default: the model's). Validation's
        warnings (rows set aside, with why) are ``UserWarning``s, as the CLI prints them.
        """
        if isinstance(tables_or_folder, Tables):
            return tables_or_folder
        if not isinstance(tables_or_folder, str | os.PathLike):
            hint = (
                " (a scoring frame goes to predict)"
                if isinstance(tables_or_folder, pd.DataFrame)
                else ""
            )
            raise TypeError(
                "tables_or_folder: expected Tables or a data folder path, got "
                f"{type(tables_or_folder).__name__}{hint}"
            )
        from predictor.io.tables import load_tables

        data = (config or self.model.config).data
        result = load_tables(data, Path(tables_or_folder))
        tables = result.raise_for_errors()
        for issue in result.warnings:  # rows set aside, as the CLI prints them
            warnings.warn(issue.message, UserWarning, stacklevel=3)
        return tables

    def score(
        self,
        tables_or_folder: Tables | str | Path,
        as_of: str | pd.Timestamp | None = None,
        drivers: int = 0,
        allow_missing: Iterable[str] = (),
        data_end: str | dt.date | None = None,
    ) -> pd.DataFrame:
        """Scores of every customer signed up by ``as_of`` (default: the data's last date)."""
        return self.score_with_rejects(tables_or_folder, as_of, drivers, allow_missing, data_end)[0]

    def score_with_rejects(
        self,
        tables_or_folder: Tables | str | Path,
        as_of: str | pd.Timestamp | None = None,
        drivers: int = 0,
        allow_missing: Iterable[str] = (),
        data_end: str | dt.date | None = None,
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Scores and the customers that could not be scored, with a reason.

        ``data_end``: the last day the data cover when it is not the model's ``data.end_date``
        (see ``data_config``); by default the model's data settings apply.

        A table the model was trained with but absent here gives a ``UserWarning`` naming
        the scores it changes, or a ``ContractError`` when it drives a rule (see
        ``missing_inputs.check_inputs``); tables in ``allow_missing`` are accepted silently.
        A given table lacking columns the model learned from, or attributes whose values the
        model never saw, give a ``UserWarning`` too (``missing_inputs.check_columns``,
        ``check_categories``).

        ``as_of`` is a day: ``YYYY-MM-DD`` text (as the CLI's ``--as-of``), a ``datetime.date``
        or a ``pd.Timestamp`` without a time zone; anything else raises ``AsOfError``, before
        any data is read. ``drivers`` is a whole number, 0 or more (``TypeError``,
        ``ValueError``).
        """
        from predictor.jobs import resolve_as_of

        day = parse_as_of(as_of) if as_of is not None else None
        drivers = check_drivers(drivers)
        config = self.data_config("", data_end)
        tables = self._tables(tables_or_folder, config)
        allow_missing = tuple(allow_missing)
        issues = check_inputs(self.model, (n for n, _ in tables.items()), allow_missing)
        cutoff = resolve_as_of(day, tables, config)
        issues += check_columns(self.model, tables, cutoff, allow_missing)
        issues += check_categories(self.model, tables)
        for issue in issues:
            warnings.warn(issue.message, UserWarning, stacklevel=2)
        return score_tables(self.model, tables, cutoff, drivers, allow_missing)

    def features(
        self, tables_or_folder: Tables | str | Path, as_of: str | pd.Timestamp
    ) -> pd.DataFrame:
        """The scoring frame (current and Day One features) that ``predict`` takes.

        One row per customer, ``customer_id`` the first column (not the index), as in the
        frames of ``score`` and ``predict``. ``as_of`` is required, a day as ``score`` takes it.
        """
        day = parse_as_of(as_of)
        frame = scoring_frame(self._tables(tables_or_folder), day, self.model)
        return frame.reset_index()

    def predict(self, frame: pd.DataFrame, as_of: str | pd.Timestamp | None = None) -> pd.DataFrame:
        """Scores for a scoring frame with a ``customer_id`` column (see ``features``).

        ``as_of`` (a day, as ``score`` takes it) stamps the rows; without it they carry NaT.
        """
        day = parse_as_of(as_of) if as_of is not None else None
        frame = customer_index(check_frame(frame, "frame"))
        return predict_frame(self.model, frame, day)


def train(
    tables: Tables,
    config: Config | None = None,
    *,
    progress: Callable[[str], None] | None = None,
    on_step: Callable[[str, int, int], None] | None = None,
) -> Predictor:
    """Fit the configured targets on ``tables`` and evaluate them on held-out data.

    Returns the ``Predictor`` of the new model (its held-out results in ``.evaluation``); no
    file is written and nothing is tracked (``predictor train`` does both, ``save_model``
    writes the folder). ``progress`` receives messages, ``on_step(target, done, total)``
    counts training steps. Raises ``UnsupportedTargetError`` when nothing can be trained.
    """
    from predictor.training import train as fit

    model, evaluation = fit(tables, config or Config(), progress, on_step=on_step)
    plans = {"evaluation_plan": {k: r.plan for k, r in evaluation.tasks.items()}}
    return Predictor(model, bundle_metadata(model, plans), evaluation)


def save_model(predictor: Predictor, path: str | Path) -> Path:
    """Write ``predictor``'s model folder at ``path``, what ``load_model`` reads back.

    The folder is the bundle (plain JSON and XGBoost JSON, content-hashed; no pickle, no
    MLflow), written complete beside ``path`` and swapped in; an existing model folder there is
    replaced, anything else is refused (``OutputError``). Held-out predictions of a model just
    trained are saved with it, so ``predictor report`` can draw its charts.
    """
    from predictor.jobs import install_model

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    base = bundle_metadata(predictor.model)
    extra = {k: v for k, v in predictor.metadata.items() if k not in base and k != "content_hash"}
    write = lambda folder: save_bundle(predictor.model, folder, extra, predictor.evaluation)  # noqa: E731
    return install_model(target, write)


def load_model(path_or_uri: str | Path, tracking_uri: str | None = None) -> Predictor:
    """Load a trained model from a folder or an MLflow URI (``models:/name@alias``)."""
    return Predictor.load(path_or_uri, tracking_uri)


def score(
    predictor: Predictor,
    tables_or_folder: Tables | str | Path,
    as_of: str | pd.Timestamp | None = None,
    drivers: int = 0,
) -> pd.DataFrame:
    """Scores of every customer signed up by ``as_of`` (default: the data's last date).

    ``predictor`` is what ``train`` or ``load_model`` returns; see ``Predictor.score``.
    """
    return predictor.score(tables_or_folder, as_of, drivers)

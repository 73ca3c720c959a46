"""The self-describing model folder: save and load without MLflow.

Layout of ``models/<name>/`` (the bundle may also sit in ``artifacts/bundle/`` of an MLflow
pyfunc folder, which ``find_bundle`` resolves)::

    metadata.json          versions, config, time rules, features, segments, metrics, hashes
    day_one/state.json     fitted schema and choices; boosters in XGBoost JSON beside it
    value_13m/state.json
    churn/state.json
    evaluation/<task>.parquet   held-out predictions: ``y_true`` and one column per predictor
                                (absent in bundles saved before the report existed)
"""

from __future__ import annotations

import hashlib
import json
import platform
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sklearn
import xgboost as xgb

import predictor
from predictor.config import Config
from predictor.modeling.boosting import booster_from_bytes, booster_to_bytes
from predictor.modeling.churn import ChurnModel
from predictor.modeling.value import ValueModel
from predictor.segments import Segmenter
from predictor.training import Evaluation, TrainedModel

FORMAT_VERSION = 1
MODEL_TYPE = "predictor.bundle"
EVALUATION_DIR = "evaluation"


class ModelLoadError(ValueError):
    """A model folder is missing, corrupt, or was made by an incompatible version."""


def library_versions() -> dict[str, str]:
    """Versions that decide whether a saved model can be trusted to load identically."""
    return {
        "predictor": predictor.__version__,
        "xgboost": xgb.__version__,
        "scikit-learn": sklearn.__version__,
        "pandas": pd.__version__,
        "python": platform.python_version(),
    }


def _write_boosters(folder: Path, boosters: dict[str, xgb.Booster]) -> None:
    for name, booster in boosters.items():
        (folder / f"{name}.json").write_bytes(booster_to_bytes(booster))


def _read_booster(folder: Path, name: str) -> xgb.Booster:
    path = folder / f"{name}.json"
    if not path.exists():
        raise ModelLoadError(f"model folder is incomplete: {path} is missing")
    return booster_from_bytes(path.read_bytes())


def content_hash(folder: Path) -> str:
    """SHA-256 over the model files (everything but metadata.json), in a stable order."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "metadata.json"):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def evaluation_frames(evaluation: Evaluation) -> dict[str, pd.DataFrame]:
    """Held-out predictions per target: ``y_true`` and one column per predictor (model first)."""
    frames = {}
    for task, result in evaluation.tasks.items():
        columns = {"y_true": np.asarray(result.y_true, dtype=float)}
        columns |= {name: np.asarray(p, dtype=float) for name, p in result.predictions.items()}
        frames[task] = pd.DataFrame(columns)
    return frames


def _write_evaluation(folder: Path, evaluation: Evaluation) -> None:
    sub = folder / EVALUATION_DIR
    sub.mkdir(exist_ok=True)
    for task, frame in evaluation_frames(evaluation).items():
        frame.to_parquet(sub / f"{task}.parquet", engine="pyarrow", index=False)


def load_evaluation(path: Path) -> dict[str, pd.DataFrame]:
    """The held-out predictions saved with a model (``{}`` for bundles saved without them).

    ``path`` is a model folder or an MLflow pyfunc folder around one, as for ``load_bundle``.
    The report draws its gains, ROC, calibration and decile charts from these frames.
    """
    sub = find_bundle(Path(path)) / EVALUATION_DIR
    if not sub.is_dir():
        return {}
    return {p.stem: pd.read_parquet(p) for p in sorted(sub.glob("*.parquet"))}


def save_bundle(
    model: TrainedModel,
    folder: Path,
    extra: dict[str, Any] | None = None,
    evaluation: Evaluation | None = None,
) -> Path:
    """Write the model folder (boosters as XGBoost JSON, state and metadata as JSON).

    With ``evaluation``, the held-out predictions are saved too (``evaluation/<task>.parquet``,
    covered by the content hash), so that a report can be drawn later from the folder alone.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if evaluation is not None:
        _write_evaluation(folder, evaluation)
    for name, est in (("day_one", model.day_one), ("value_13m", model.value)):
        sub = folder / name
        sub.mkdir(exist_ok=True)
        _write_boosters(sub, est.boosters_)
        (sub / "state.json").write_text(json.dumps(est.get_state(), indent=1, default=str))
    sub = folder / "churn"
    sub.mkdir(exist_ok=True)
    _write_boosters(sub, {"main": model.churn.booster_})
    (sub / "state.json").write_text(json.dumps(model.churn.get_state(), indent=1, default=str))
    metadata = {
        "model_type": MODEL_TYPE,
        "format_version": FORMAT_VERSION,
        "versions": library_versions(),
        "config": model.config.model_dump(mode="json"),
        "config_digest": model.config.digest(),
        "info": model.info,
        "segments": model.segmenter.to_dict(),
        "features": {
            "day_one": model.day_one.schema_.features_,
            "value_13m": model.value.schema_.features_,
            "churn": model.churn.schema_.features_,
        },
        "content_hash": content_hash(folder),
        **(extra or {}),
    }
    (folder / "metadata.json").write_text(json.dumps(metadata, indent=1, default=str))
    return folder


def find_bundle(path: Path) -> Path:
    """The folder holding ``metadata.json``: the path itself or its MLflow artifacts copy."""
    path = Path(path)
    for candidate in (path, path / "artifacts" / "bundle"):
        if (candidate / "metadata.json").exists():
            return candidate
    raise ModelLoadError(f"{path} is not a predictor model folder (no metadata.json found)")


def read_metadata(folder: Path) -> dict[str, Any]:
    """Read and check ``metadata.json``: model type, format version and library versions."""
    try:
        meta = json.loads((folder / "metadata.json").read_text())
    except json.JSONDecodeError as exc:
        raise ModelLoadError(f"{folder / 'metadata.json'} is not valid JSON: {exc}") from exc
    if meta.get("model_type") != MODEL_TYPE:
        raise ModelLoadError(f"{folder} holds a {meta.get('model_type')!r}, not a predictor model")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelLoadError(
            f"{folder} uses model format {meta.get('format_version')}; this predictor reads "
            f"format {FORMAT_VERSION}. Retrain the model or install the matching predictor."
        )
    saved_major = str(meta["versions"]["xgboost"]).split(".")[0]
    if saved_major != xgb.__version__.split(".")[0]:
        raise ModelLoadError(
            f"model saved with xgboost {meta['versions']['xgboost']}, installed is "
            f"{xgb.__version__}: install a matching xgboost major version or retrain"
        )
    if content_hash(folder) != meta["content_hash"]:
        raise ModelLoadError(f"{folder}: model files do not match their recorded content hash")
    return meta


def load_bundle(path: Path) -> tuple[TrainedModel, dict[str, Any]]:
    """Load a model folder written by ``save_bundle`` and check it."""
    folder = find_bundle(Path(path))
    meta = read_metadata(folder)
    values = {}
    for name in ("day_one", "value_13m"):
        state = json.loads((folder / name / "state.json").read_text())
        parts = ["any", "amount"] if state["kind"] == "two_part" else ["main"]
        boosters = {p: _read_booster(folder / name, p) for p in parts}
        values[name] = ValueModel.from_state(state, boosters)
    churn_state = json.loads((folder / "churn" / "state.json").read_text())
    churn = ChurnModel.from_state(churn_state, _read_booster(folder / "churn", "main"))
    model = TrainedModel(
        day_one=values["day_one"],
        value=values["value_13m"],
        churn=churn,
        segmenter=Segmenter.from_dict(meta["segments"]),
        config=Config.model_validate(meta["config"]),
        info=meta["info"],
    )
    return model, meta

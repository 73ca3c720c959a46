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
from predictor.errors import PredictorError, os_reason
from predictor.model_types import Evaluation, TrainedModel
from predictor.modeling.boosting import booster_from_bytes, booster_to_bytes
from predictor.modeling.churn import ChurnModel
from predictor.modeling.value import ValueModel
from predictor.segments import Segmenter

FORMAT_VERSION = 2
"""Version 2: the content hash covers metadata.json too (version 1 folders are refused)."""
MODEL_TYPE = "predictor.bundle"
METADATA = "metadata.json"
EVALUATION_DIR = "evaluation"


class ModelLoadError(PredictorError, ValueError):
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


def content_hash(folder: Path, metadata: dict[str, Any]) -> str:
    """SHA-256 over every file of the bundle and ``metadata`` (all but its own hash field).

    Files are taken in a stable order, each as its path relative to ``folder`` and its bytes;
    ``metadata.json`` enters as its parsed content without ``content_hash``, serialised with
    sorted keys, so that the hash can be stored inside the file it covers. Any edit, addition
    or removal of a file, or of a metadata field, changes the hash. It detects accidental and
    naive edits; it is not a signature: whoever can edit the folder can recompute it.
    """
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != METADATA):
        digest.update(str(path.relative_to(folder).as_posix()).encode())
        digest.update(path.read_bytes())
    fields = {k: v for k, v in metadata.items() if k != "content_hash"}
    digest.update(METADATA.encode())
    digest.update(json.dumps(fields, sort_keys=True, default=str).encode())
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


def bundle_metadata(model: TrainedModel, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The plain-JSON metadata of a model (``metadata.json`` without its content hash)."""
    metadata = {
        "model_type": MODEL_TYPE,
        "format_version": FORMAT_VERSION,
        "versions": library_versions(),
        "config": model.config.model_dump(mode="json"),
        "config_digest": model.config.digest(),
        "info": model.info,
        "segments": model.segmenter.to_dict(),
        "features": {
            name: est.schema_.features_
            for name, est in (
                ("day_one", model.day_one),
                ("value_13m", model.value),
                ("churn", model.churn),
            )
            if est is not None
        },
        **(extra or {}),
    }
    return json.loads(json.dumps(metadata, default=str))


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
        if est is None:
            continue
        sub = folder / name
        sub.mkdir(exist_ok=True)
        _write_boosters(sub, est.boosters_)
        (sub / "state.json").write_text(json.dumps(est.get_state(), indent=1, default=str))
    if model.churn is not None:
        sub = folder / "churn"
        sub.mkdir(exist_ok=True)
        _write_boosters(sub, {"main": model.churn.booster_})
        state = model.churn.get_state()
        (sub / "state.json").write_text(json.dumps(state, indent=1, default=str))
    metadata = bundle_metadata(model, extra)
    metadata["content_hash"] = content_hash(folder, metadata)
    (folder / METADATA).write_text(json.dumps(metadata, indent=1))
    return folder


def find_bundle(path: Path) -> Path:
    """The folder holding ``metadata.json``: the path itself or its MLflow artifacts copy."""
    path = Path(path)
    for candidate in (path, path / "artifacts" / "bundle"):
        if (candidate / "metadata.json").exists():
            return candidate
    raise ModelLoadError(f"{path} is not a predictor model folder (no metadata.json found)")


def read_metadata(folder: Path) -> dict[str, Any]:
    """Read and check ``metadata.json``: type, format and package versions, content hash.

    Raises ``ModelLoadError`` with a one-line reason when the folder was made by a format or a
    predictor version this one cannot honour, or when any file or metadata field differs from
    what was saved.
    """
    path = folder / METADATA
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ModelLoadError(f"cannot read {path}: {os_reason(exc)}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(meta, dict) or meta.get("model_type") != MODEL_TYPE:
        kind = meta.get("model_type") if isinstance(meta, dict) else None
        raise ModelLoadError(f"{folder} holds a {kind!r}, not a predictor model")
    _check_format(folder, meta.get("format_version"))
    versions = meta.get("versions")
    if not isinstance(versions, dict) or not isinstance(meta.get("content_hash"), str):
        raise ModelLoadError(f"{path} lacks its versions or content hash: the folder is damaged")
    _check_package_version(folder, str(versions.get("predictor", "")))
    saved_major = str(versions.get("xgboost", "")).split(".")[0]
    if saved_major != xgb.__version__.split(".")[0]:
        raise ModelLoadError(
            f"model saved with xgboost {versions.get('xgboost')}, installed is "
            f"{xgb.__version__}: install a matching xgboost major version or retrain"
        )
    if content_hash(folder, meta) != meta["content_hash"]:
        raise ModelLoadError(
            f"{folder}: model files or metadata do not match their recorded content hash "
            "(edited or damaged after saving); retrain or restore the folder"
        )
    return meta


def _check_format(folder: Path, version: Any) -> None:
    """Refuse a format this loader does not read (newer: upgrade; older: retrain)."""
    if version == FORMAT_VERSION:
        return
    if isinstance(version, int) and version > FORMAT_VERSION:
        raise ModelLoadError(
            f"{folder} uses model format {version}, newer than format {FORMAT_VERSION} that this "
            f"predictor {predictor.__version__} reads: upgrade predictor to load it"
        )
    raise ModelLoadError(
        f"{folder} uses model format {version}; this predictor reads format {FORMAT_VERSION} "
        "only. Retrain the model with this predictor."
    )


def _release(text: str) -> tuple[int, ...] | None:
    """``(major, minor)`` of a version string, ``None`` when it is not ``N.N...``."""
    parts = text.split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts[:2]):
        return None
    return int(parts[0]), int(parts[1])


def _check_package_version(folder: Path, saved: str) -> None:
    """Refuse a model saved by an unreadable or newer predictor release (major.minor)."""
    recorded, installed = _release(saved), _release(predictor.__version__)
    if recorded is None:
        raise ModelLoadError(f"{folder}: recorded predictor version {saved!r} is not a version")
    if installed is not None and recorded > installed:
        raise ModelLoadError(
            f"{folder} was saved by predictor {saved}, newer than the installed "
            f"{predictor.__version__}: install predictor {saved} or later to load it"
        )


def _trained_targets(meta: dict[str, Any]) -> list[str]:
    """Targets the bundle holds a model for (all three in bundles saved before skipping)."""
    return list(meta.get("info", {}).get("targets", ["day_one", "value_13m", "churn"]))


def _read_state(folder: Path, name: str) -> dict[str, Any]:
    path = folder / name / "state.json"
    if not path.exists():
        raise ModelLoadError(f"model folder is incomplete: {path} is missing")
    return json.loads(path.read_text())


def load_bundle(path: Path) -> tuple[TrainedModel, dict[str, Any]]:
    """Load a model folder written by ``save_bundle`` and check it."""
    folder = find_bundle(Path(path))
    meta = read_metadata(folder)
    trained = _trained_targets(meta)
    values: dict[str, ValueModel | None] = {"day_one": None, "value_13m": None}
    for name in [n for n in values if n in trained]:
        state = _read_state(folder, name)
        parts = ["any", "amount"] if state["kind"] == "two_part" else ["main"]
        boosters = {p: _read_booster(folder / name, p) for p in parts}
        values[name] = ValueModel.from_state(state, boosters)
    churn = None
    if "churn" in trained:
        churn_state = _read_state(folder, "churn")
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

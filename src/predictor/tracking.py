"""MLflow at the edge: the only module that imports mlflow.

``Tracker`` is the small interface training talks to; ``MlflowTracker`` records a run (params,
metrics, artifacts, the model as an MLflow pyfunc model with signature and input example,
registration and alias); ``NullTracker`` does nothing, for library use and tests.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol

import pandas as pd


class Tracker(Protocol):
    """What the training pipeline records."""

    def log_params(self, params: dict[str, Any]) -> None:
        """Record run parameters."""

    def log_metrics(self, metrics: dict[str, float]) -> None:
        """Record metrics."""

    def log_artifact(self, path: Path, folder: str | None = None) -> None:
        """Record a file or folder."""

    def set_tags(self, tags: dict[str, str]) -> None:
        """Record tags."""

    def log_dataset(self, summary: pd.DataFrame, name: str, digest: str) -> None:
        """Record the training data's summary and hash."""


class NullTracker:
    """A tracker that records nothing."""

    run_id: str | None = None

    def log_params(self, params: dict[str, Any]) -> None:
        """Ignore params."""

    def log_metrics(self, metrics: dict[str, float]) -> None:
        """Ignore metrics."""

    def log_artifact(self, path: Path, folder: str | None = None) -> None:
        """Ignore artifacts."""

    def set_tags(self, tags: dict[str, str]) -> None:
        """Ignore tags."""

    def log_dataset(self, summary: pd.DataFrame, name: str, digest: str) -> None:
        """Ignore datasets."""


def default_tracking_uri(project_dir: Path) -> str:
    """``$MLFLOW_TRACKING_URI`` or an embedded SQLite store in the project folder."""
    return (
        os.environ.get("MLFLOW_TRACKING_URI")
        or f"sqlite:///{Path(project_dir).resolve()}/mlflow.db"
    )


def git_commit(cwd: Path) -> str | None:
    """The current git commit of ``cwd``, if it is a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


class MlflowTracker(AbstractContextManager):
    """Record one training run in an MLflow experiment."""

    def __init__(self, uri: str, experiment: str, run_name: str | None = None) -> None:
        self.uri, self.experiment, self.run_name = uri, experiment, run_name
        self.run_id: str | None = None

    def __enter__(self) -> MlflowTracker:
        import mlflow

        mlflow.set_tracking_uri(self.uri)
        mlflow.set_experiment(self.experiment)
        self._run = mlflow.start_run(run_name=self.run_name)
        self.run_id = self._run.info.run_id
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        import mlflow

        mlflow.end_run(status="FAILED" if exc_type else "FINISHED")

    def log_params(self, params: dict[str, Any]) -> None:
        """Log params (values stringified; MLflow caps value length)."""
        import mlflow

        mlflow.log_params({k: str(v)[:6000] for k, v in params.items()})

    def log_metrics(self, metrics: dict[str, float]) -> None:
        """Log metrics, with names made MLflow-safe."""
        import mlflow

        clean = {k.replace("@", "_at_"): float(v) for k, v in metrics.items()}
        mlflow.log_metrics(clean)

    def log_artifact(self, path: Path, folder: str | None = None) -> None:
        """Log a file or folder as run artifacts."""
        import mlflow

        if Path(path).is_dir():
            mlflow.log_artifacts(str(path), artifact_path=folder)
        else:
            mlflow.log_artifact(str(path), artifact_path=folder)

    def set_tags(self, tags: dict[str, str]) -> None:
        """Set run tags."""
        import mlflow

        mlflow.set_tags(tags)

    def log_dataset(self, summary: pd.DataFrame, name: str, digest: str) -> None:
        """Log a data summary as an MLflow dataset input (training context)."""
        import mlflow

        dataset = mlflow.data.from_pandas(summary, name=name, digest=digest[:32])
        mlflow.log_input(dataset, context="training")

    def log_model(
        self,
        bundle_dir: Path,
        input_example: pd.DataFrame,
        output_example: pd.DataFrame,
        registered_name: str | None,
        alias: str | None,
    ) -> str | None:
        """Log the bundle as an MLflow pyfunc model; register it and set an alias if asked.

        Returns the registered version, if registered.
        """
        import mlflow
        from mlflow.models import infer_signature

        signature = infer_signature(input_example, output_example)
        with pyfunc_files(bundle_dir) as files:
            info = mlflow.pyfunc.log_model(
                name="model",
                signature=signature,
                input_example=input_example,
                registered_model_name=registered_name,
                **files,
            )
        version = getattr(info, "registered_model_version", None)
        if registered_name and alias and version is not None:
            mlflow.MlflowClient().set_registered_model_alias(registered_name, alias, str(version))
        return None if version is None else str(version)


MODEL_CODE = Path(__file__).with_name("pyfunc_model.py")
"""The models-from-code file: MLflow runs it to build the pyfunc model (nothing is pickled)."""

RUNTIME_DEPENDENCIES = (
    "pandas",
    "numpy",
    "pyarrow",
    "scipy",
    "scikit-learn",
    "xgboost",
    "mlflow",
    "pydantic",
    "pyyaml",
    "typer",
    "rich",
    "matplotlib",
)
"""What predictor needs at run time, used when its installed metadata cannot be read."""


def pinned_requirements() -> list[str]:
    """``name==version`` for every runtime dependency of predictor, as installed now.

    Predictor itself is not listed: its source ships with the model as MLflow code paths
    (``code/predictor``), since ``predictor`` on the public package index is another project.
    """
    from importlib import metadata

    try:
        declared = metadata.requires("predictor") or []
        names = [re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0] for r in declared if "extra ==" not in r]
    except metadata.PackageNotFoundError:
        names = list(RUNTIME_DEPENDENCIES)
    return [f"{name}=={metadata.version(name)}" for name in dict.fromkeys(names)]


@contextmanager
def pyfunc_files(bundle_dir: Path) -> Iterator[dict[str, Any]]:
    """Arguments of ``mlflow.pyfunc.save_model``/``log_model`` shared by both: code, not pickle.

    The model is the code file ``pyfunc_model.py`` (MLflow's models from code) reading the
    ``bundle`` artifact; the package source, without bytecode, ships as code paths; the
    requirements pin every runtime dependency.
    """
    with tempfile.TemporaryDirectory(prefix="predictor-code-") as tmp:
        source = Path(__file__).parent
        code = Path(tmp) / "predictor"
        shutil.copytree(source, code, ignore=shutil.ignore_patterns("__pycache__", "*.py[co]"))
        yield {
            "python_model": str(MODEL_CODE),
            "artifacts": {"bundle": str(bundle_dir)},
            "code_paths": [str(code)],
            "pip_requirements": pinned_requirements(),
        }


def save_pyfunc(bundle_dir: Path, target: Path, input_example: pd.DataFrame) -> Path:
    """Write an MLflow pyfunc model folder around a bundle (for mlflow.pyfunc.load_model).

    ``target`` must not exist or be empty: this never removes anything.
    """
    import mlflow

    with pyfunc_files(bundle_dir) as files:
        mlflow.pyfunc.save_model(path=str(target), input_example=input_example, **files)
    return target


def load_from_uri(uri: str, tracking_uri: str | None = None) -> Path:
    """Download an MLflow model URI (models:/..., runs:/...) and return its local bundle folder.

    Raises ``ModelLoadError`` naming the URI when MLflow cannot resolve or download it.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    from predictor.bundle import ModelLoadError

    if tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)
    try:
        return Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))
    except MlflowException as exc:
        reason = " ".join(str(exc.message).split())[:300]
        where = mlflow.get_tracking_uri()
        raise ModelLoadError(f"cannot load {uri} from tracking store {where}: {reason}") from None
    except OSError as exc:
        raise ModelLoadError(f"cannot download {uri}: {exc}") from None


def set_pyfunc_model() -> None:
    """Declare the pyfunc model of ``pyfunc_model.py`` (MLflow models from code)."""
    from mlflow.models import set_model

    set_model(PredictorPyfunc())


try:
    import mlflow.pyfunc as _pyfunc

    _Base = _pyfunc.PythonModel
except ImportError:  # pragma: no cover - mlflow is a hard dependency
    _Base = object


class PredictorPyfunc(_Base):
    """MLflow pyfunc face of a predictor bundle: predict(scoring frame) -> scores."""

    def load_context(self, context: Any) -> None:
        """Load the bundle saved as the ``bundle`` artifact, checking its content hash."""
        from predictor.bundle import load_bundle

        self.model, self.metadata = load_bundle(Path(context.artifacts["bundle"]))

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict | None = None
    ) -> pd.DataFrame:
        """Scores for a scoring frame with a ``customer_id`` column (see ``scoring.pyfunc_frame``)."""
        from predictor.scoring import customer_index, predict_frame

        frame = customer_index(model_input)
        as_of = (params or {}).get("as_of")
        return predict_frame(self.model, frame, as_of)

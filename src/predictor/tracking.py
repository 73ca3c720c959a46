"""MLflow at the edge: the only module that talks to MLflow (imported lazily, inside functions).

``Tracker`` is the typed interface the training job talks to: it records a run (params,
metrics, artifacts, one dataset per input table) and owns the model's MLflow side too: writing
the model folder and logging (and registering) the model. ``MlflowTracker`` does all of that
with MLflow (the folder is an MLflow pyfunc model with signature and params schema);
``NullTracker`` records nothing and writes the bare bundle, so a run without tracking never
imports MLflow (importing this module does not either). The registry helpers below move the
``champion`` and ``challenger`` aliases and record every promotion decision; the decision
itself is made in ``predictor.promotion``.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import pandas as pd

from predictor.errors import PredictorError
from predictor.output_schema import column_kind


class SystemMetricsError(PredictorError, RuntimeError):
    """``tracking.system_metrics`` is on but psutil, which MLflow samples with, is missing."""


class TrackingStoreError(PredictorError, RuntimeError):
    """The MLflow tracking store refuses the run, before any training starts.

    For example a ``file://`` store, which MLflow no longer accepts by default.
    """


@dataclass(frozen=True)
class TableInput:
    """One input table as the run's lineage records it (an MLflow dataset per table)."""

    name: str
    source: str
    """Absolute path or URI the table was read from, or ``in-memory``."""
    digest: str
    """SHA-256 of the table as loaded (after validation; row-order independent)."""
    columns: dict[str, str]
    """Column name -> type (``string``, ``double``, ``datetime``, ``boolean``)."""


@dataclass(frozen=True)
class ModelExample:
    """What is recorded beside a model: its scoring frame, an input example and its scores.

    ``frame`` is the whole scoring frame, so the signature lists every column of the model, not
    only those that happen to be filled in the example rows; ``inputs`` are its first rows in
    pyfunc types (``scoring.pyfunc_frame``) and ``outputs`` their scores.
    """

    frame: pd.DataFrame
    inputs: pd.DataFrame
    outputs: pd.DataFrame


@runtime_checkable
class Tracker(Protocol):
    """What the training job records, and how the model folder is written and logged.

    The recording methods here do nothing: a subclass (``NullTracker``) may keep them.
    """

    run_id: str | None
    """The run's id (``None`` without tracking); stamped into the model version."""

    def log_params(self, params: dict[str, Any]) -> None:
        """Record run parameters."""

    def log_metrics(self, metrics: dict[str, float]) -> None:
        """Record metrics."""

    def log_artifact(self, path: Path, folder: str | None = None) -> None:
        """Record a file or folder."""

    def set_tags(self, tags: dict[str, str]) -> None:
        """Record tags."""

    def log_table_inputs(self, inputs: list[TableInput]) -> None:
        """Record each input table: where it was read from and its content hash."""

    def save_model(self, bundle_dir: Path, target: Path, example: ModelExample) -> None:
        """Write the model folder around the bundle into ``target`` (a new, empty folder)."""

    def log_model(
        self, bundle_dir: Path, example: ModelExample, registered_name: str | None
    ) -> str | None:
        """Log the model with the run (registered as ``registered_name`` when given).

        Returns the registered version, if any.
        """


class NullTracker(Tracker, AbstractContextManager):
    """A tracker that records nothing; the model folder is the bundle alone (no MLflow).

    The recording methods are the protocol's own, which do nothing.
    """

    run_id: str | None = None

    def __enter__(self) -> NullTracker:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        return None

    def save_model(self, bundle_dir: Path, target: Path, example: ModelExample) -> None:
        """Copy the bundle (plain JSON and XGBoost JSON, content-hashed) into ``target``."""
        shutil.copytree(bundle_dir, target, dirs_exist_ok=True)

    def log_model(
        self, bundle_dir: Path, example: ModelExample, registered_name: str | None
    ) -> str | None:
        """Log nothing; nothing is registered."""
        return None


def default_tracking_uri(project_dir: Path) -> str:
    """``$MLFLOW_TRACKING_URI`` or an embedded SQLite store in the project folder."""
    return (
        os.environ.get("MLFLOW_TRACKING_URI")
        or f"sqlite:///{Path(project_dir).resolve()}/mlflow.db"
    )


def lineage_tags(project_dir: Path, config_digest: str) -> dict[str, str]:
    """MLflow's standard git commit tag (when ``project_dir`` is a checkout) and the config hash."""
    from mlflow.utils.mlflow_tags import MLFLOW_GIT_COMMIT

    tags = {"config_digest": config_digest}
    commit = git_commit(project_dir)
    if commit:
        tags[MLFLOW_GIT_COMMIT] = commit
    return tags


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

    def __init__(
        self,
        uri: str,
        experiment: str,
        run_name: str | None = None,
        system_metrics: bool = False,
    ) -> None:
        import mlflow  # noqa: F401 - configures its loggers on import: before a run captures them

        self.uri, self.experiment, self.run_name = uri, experiment, run_name
        self.system_metrics = system_metrics
        self.run_id: str | None = None

    def __enter__(self) -> MlflowTracker:
        import mlflow

        if self.system_metrics:
            check_system_metrics()
        from mlflow.exceptions import MlflowException

        mlflow.set_tracking_uri(self.uri)
        mlflow.set_registry_uri(self.uri)  # register where the run is, not in an earlier store
        try:
            mlflow.set_experiment(self.experiment)
            self._run = mlflow.start_run(
                run_name=self.run_name, log_system_metrics=self.system_metrics
            )
        except MlflowException as exc:
            reason = " ".join(str(exc.message).split())[:1000]
            raise TrackingStoreError(
                f"MLflow tracking store {self.uri} cannot record the run; point tracking.uri "
                f"or --tracking-uri at a database store such as sqlite:///mlflow.db. "
                f"MLflow says: {reason}"
            ) from None
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

    def log_table_inputs(self, inputs: list[TableInput]) -> None:
        """Log one MLflow dataset per input table (source, digest, schema; context training).

        A metadata-only dataset: the run points at the file the table came from and records its
        hash and columns, without copying the data.
        """
        import mlflow
        from mlflow.data.dataset_source_registry import resolve_dataset_source
        from mlflow.data.meta_dataset import MetaDataset
        from mlflow.types.schema import ColSpec, Schema

        for item in inputs:
            schema = Schema([ColSpec(kind, name) for name, kind in item.columns.items()])
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "The specified dataset source can be")
                source = resolve_dataset_source(item.source)
            dataset = MetaDataset(
                source=source,
                name=item.name,
                digest=item.digest[:32],
                schema=schema,
            )
            mlflow.log_input(dataset, context="training")

    def save_model(self, bundle_dir: Path, target: Path, example: ModelExample) -> None:
        """Write an MLflow pyfunc model folder (signature, input example) around the bundle."""
        save_pyfunc(bundle_dir, target, example.inputs, example_signature(example))

    def log_model(
        self, bundle_dir: Path, example: ModelExample, registered_name: str | None
    ) -> str | None:
        """Log the bundle as an MLflow pyfunc model and register it when a name is given.

        Returns the registered version, if registered; ``mark_new_version`` sets its aliases.
        """
        import mlflow

        with pyfunc_files(bundle_dir) as files:
            info = mlflow.pyfunc.log_model(
                name="model",
                signature=example_signature(example),
                input_example=example.inputs,
                registered_model_name=registered_name,
                **files,
            )
        version = getattr(info, "registered_model_version", None)
        return None if version is None else str(version)


def example_signature(example: ModelExample) -> Any:
    """The pyfunc signature of a model example: its whole scoring frame and its scores."""
    from predictor.scoring import pyfunc_frame

    return model_signature(pyfunc_frame(example.frame), example.outputs)


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
        names = [
            re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0] for r in declared if "extra ==" not in r
        ]
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


def check_system_metrics() -> None:
    """Refuse ``tracking.system_metrics: true`` without psutil, which MLflow needs to sample."""
    try:
        import psutil  # noqa: F401
    except ImportError:
        raise SystemMetricsError(
            "tracking.system_metrics is true but psutil is not installed; "
            "pip install 'predictor[system-metrics]' or set tracking.system_metrics: false"
        ) from None


def model_signature(frame: pd.DataFrame, output: pd.DataFrame | None = None) -> Any:
    """The pyfunc signature: the scoring frame's columns, and params ``as_of`` and ``drivers``.

    ``frame`` is a whole scoring frame in pyfunc types (``scoring.pyfunc_frame``), so the
    columns are the model's, not those that happen to be filled in a few example rows. Every
    column may hold missing values: numbers are ``double`` (NaN-capable), text is ``string``.
    ``customer_id`` is required; every feature column is optional, because a customer (or an
    input without an optional table) may lack a whole family. ``as_of`` (ISO date) stamps the
    output rows; ``drivers`` adds the top-K drivers per score.
    """
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema

    inputs = Schema(
        [
            ColSpec(column_kind(frame[col]), col, required=col == "customer_id")
            for col in frame.columns
        ]
    )
    outputs = None
    if output is not None:
        outputs = Schema([ColSpec(column_kind(output[c]), c) for c in output.columns])
    params = ParamSchema([ParamSpec("as_of", "string", None), ParamSpec("drivers", "long", 0)])
    return ModelSignature(inputs=inputs, outputs=outputs, params=params)


def save_pyfunc(
    bundle_dir: Path, target: Path, input_example: pd.DataFrame, signature: Any = None
) -> Path:
    """Write an MLflow pyfunc model folder around a bundle (for mlflow.pyfunc.load_model).

    ``target`` must not exist or be empty: this never removes anything.
    """
    import mlflow

    with pyfunc_files(bundle_dir) as files:
        mlflow.pyfunc.save_model(
            path=str(target), input_example=input_example, signature=signature, **files
        )
    return target


def load_from_uri(uri: str, tracking_uri: str | None = None) -> Path:
    """Download an MLflow model URI (models:/..., runs:/...) and return its local bundle folder.

    Raises:
        ModelLoadError: no tracking store at the URI (never creates an empty one), or the
            store does not hold the model, version or alias.

    """
    import mlflow
    from mlflow.exceptions import MlflowException

    from predictor.bundle import ModelLoadError

    use_store(tracking_uri)
    try:
        return Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))
    except MlflowException as exc:
        reason = " ".join(str(exc.message).split())[:300]
        where = mlflow.get_tracking_uri()
        raise ModelLoadError(f"cannot load {uri} from tracking store {where}: {reason}") from None
    except OSError as exc:
        raise ModelLoadError(f"cannot download {uri}: {exc}") from None


def use_store(tracking_uri: str | None = None) -> str:
    """Point MLflow at an existing tracking store and return its URI.

    ``tracking_uri`` defaults to the URI set in this process (``mlflow.set_tracking_uri`` or
    ``$MLFLOW_TRACKING_URI``), else ``./mlflow.db``. A SQLite or
    file store that does not exist is an error: reading a model from it would silently create
    an empty store and then fail with "not found".

    Raises:
        ModelLoadError: the store does not exist.

    """
    import mlflow

    from predictor.bundle import ModelLoadError

    if tracking_uri is None and mlflow.is_tracking_uri_set():
        uri = mlflow.get_tracking_uri()
    else:
        uri = tracking_uri or default_tracking_uri(Path.cwd())
    path = _local_store_path(uri)
    if path is not None and not path.exists():
        hint = "" if tracking_uri else " and MLFLOW_TRACKING_URI is not set"
        raise ModelLoadError(
            f"no MLflow tracking store at {uri}: {path} does not exist{hint}; pass "
            "--tracking-uri (or set MLFLOW_TRACKING_URI) to the store `predictor train` used, "
            "or give a model folder instead"
        )
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def _local_store_path(uri: str) -> Path | None:
    """The file or folder of a local SQLite or file store URI; None for a server."""
    for prefix in ("sqlite:///", "file://"):
        if uri.startswith(prefix):
            return Path(uri.removeprefix(prefix))
    if "://" not in uri:
        return Path(uri)
    return None


CHAMPION, CHALLENGER = "champion", "challenger"
"""Registry aliases: the model in use, and the newest registered version."""


def mark_new_version(name: str, version: str) -> bool:
    """Give a newly registered version the alias ``challenger``; the first one is also champion.

    Returns True when the version became champion (there was none). That decision is tagged
    on the version, like every promotion decision.
    """
    from mlflow import MlflowClient

    client = MlflowClient()
    client.set_registered_model_alias(name, CHALLENGER, version)
    if CHAMPION in client.get_registered_model(name).aliases:
        return False
    client.set_registered_model_alias(name, CHAMPION, version)
    record_decision(name, [version], f"v{version}", "champion: the first registered model")
    return True


def champion_and_challenger(name: str) -> dict[str, str | None]:
    """The versions holding the ``champion`` and ``challenger`` aliases (None when unset)."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from predictor.bundle import ModelLoadError

    try:
        aliases = MlflowClient().get_registered_model(name).aliases
    except MlflowException:
        raise ModelLoadError(f"registered model {name!r} not found in the MLflow store") from None
    return {
        alias: None if aliases.get(alias) is None else str(aliases[alias])
        for alias in (CHAMPION, CHALLENGER)
    }


def record_decision(name: str, versions: Iterable[str], key: str, summary: str) -> None:
    """Tag each version with a promotion decision (``promotion.<key>``), stamped with the time."""
    from mlflow import MlflowClient

    client = MlflowClient()
    when = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    for version in versions:
        client.set_model_version_tag(name, version, f"promotion.{key}", f"{when} {summary}"[:5000])


def promote(name: str, champion: str, challenger: str, summary: str, promoted: bool) -> None:
    """Record a comparison on both versions and, when ``promoted``, move ``champion``."""
    from mlflow import MlflowClient

    record_decision(name, [champion, challenger], f"v{challenger}_vs_v{champion}", summary)
    if promoted:
        MlflowClient().set_registered_model_alias(name, CHAMPION, challenger)

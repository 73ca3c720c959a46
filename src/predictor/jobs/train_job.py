"""The training job: train every target, save the model folder, track the run, draw the report.

``run_training`` is what ``predictor train`` runs. The ``Tracker`` it is given records the run
and writes and logs the model (``tracking.NullTracker``: nothing recorded, the bare bundle as
model folder, and MLflow never imported). Also the report job (``report_html``, what
``predictor report`` runs too).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from predictor.bundle import evaluation_frames, save_bundle
from predictor.config import Config
from predictor.contract.schema import SPECS
from predictor.contract.tables import Tables
from predictor.errors import OutputError, PredictorError
from predictor.jobs.data_job import resolve_as_of
from predictor.model_types import Evaluation, TrainedModel
from predictor.output_schema import column_kind
from predictor.plots import calibration_figure, decile_figure, gains_figure, roc_figure
from predictor.report.build import build_report
from predictor.report.summaries import customer_levers
from predictor.scoring import predict_frame, pyfunc_frame, score, scoring_frame
from predictor.segments import customer_facts
from predictor.tracking import ModelExample, TableInput, Tracker
from predictor.training import FeatureSource, Progress, StepProgress, train


class ScoresFileError(PredictorError):
    """A scores file given to the report is missing or is not a scores file."""


REPORT_DRIVERS = 3
"""Drivers per score shown for the act-first customers of the report."""


@dataclass
class TrainingOutcome:
    """What a training job produced."""

    model_dir: Path
    model: TrainedModel
    evaluation: Evaluation
    run_id: str | None
    registered_version: str | None


def data_summary(tables: Tables) -> pd.DataFrame:
    """Rows, customers and date range per table."""
    rows = []
    for name, frame in tables.items():
        col = SPECS[name].event_date
        rows.append(
            {
                "table": name,
                "rows": len(frame),
                "customers": int(frame["customer_id"].nunique()),
                "first_date": str(frame[col].min().date()) if len(frame) else "",
                "last_date": str(frame[col].max().date()) if len(frame) else "",
            }
        )
    return pd.DataFrame(rows)


def data_digest(tables: Tables) -> str:
    """Content hash of the tables (row-order independent per table)."""
    digest = hashlib.sha256()
    for name, frame in tables.items():
        digest.update(name.encode())
        digest.update(_frame_hash(frame))
    return digest.hexdigest()


def _frame_hash(frame: pd.DataFrame) -> bytes:
    """Row hashes of a table sorted by its first two columns (row order does not matter)."""
    hashed = pd.util.hash_pandas_object(frame.sort_values(list(frame.columns[:2])), index=False)
    return hashed.to_numpy().tobytes()


def table_inputs(
    tables: Tables, sources: dict[str, Path] | dict[str, str] | None = None
) -> list[TableInput]:
    """The lineage record of each input table: its file or URI, content hash and column types."""
    sources = sources or {}
    out = []
    for name, frame in tables.items():
        out.append(
            TableInput(
                name=name,
                source=_source(sources.get(name)),
                digest=hashlib.sha256(_frame_hash(frame)).hexdigest(),
                columns={str(c): column_kind(frame[c]) for c in frame.columns},
            )
        )
    return out


def _source(where: Path | str | None) -> str:
    """Where a table was read: an absolute path, a URI as given (``s3a://...``), or in-memory."""
    if where is None:
        return "in-memory"
    return str(where) if "://" in str(where) else str(Path(where).resolve())


def _save_figures(evaluation: Evaluation, folder: Path, currency: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    figures = {}
    for task in [t for t in ("day_one", "value_13m") if t in evaluation.tasks]:
        res = evaluation.tasks[task]
        figures[f"gains_{task}.png"] = gains_figure(res.y_true, res.predictions, f"Gains: {task}")
        figures[f"deciles_{task}.png"] = decile_figure(
            res.y_true,
            res.predictions["model"],
            f"Predicted vs actual by decile: {task}",
            currency,
        )
    churn = evaluation.tasks.get("churn")
    if churn is not None:
        figures["calibration_churn.png"] = calibration_figure(
            churn.y_true, churn.predictions["model"], "Churn calibration (held-out cutoff)"
        )
        figures["roc_churn.png"] = roc_figure(
            churn.y_true, churn.predictions, "Churn ROC (held-out cutoff)"
        )
    paths = []
    for name, fig in figures.items():
        path = folder / name
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def install_model(target: Path, write: Callable[[Path], Any]) -> Path:
    """Write a model folder with ``write(folder)`` and swap it in for ``target``.

    The new folder is written complete in a temporary sibling, the previous version (if any)
    is renamed aside, the new one renamed onto ``target``, and only then the previous version
    is removed. Nothing else is ever removed: a ``target`` that is not a model folder (no
    ``MLmodel`` or ``metadata.json``) is refused, and a failed swap puts the old one back. The
    installed folder has the permissions of a folder made by ``mkdir`` (the umask's), so
    whoever may read its neighbours may read it.
    """
    check_model_target(target)
    staging = _staging_folder(target)
    try:
        write(staging)
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}.old-{staging.name.rsplit('-', 1)[-1]}")
            target.rename(old)
        try:
            staging.rename(target)
        except BaseException:
            if old is not None:
                old.rename(target)
            raise
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return target


def check_model_target(target: Path) -> None:
    """Refuse, before any work, a model folder ``install_model`` could not install.

    ``target`` must be absent or a model folder (never replace anything else), and the folder
    that holds it must be a folder this process can write, or be creatable. Cheap: a run
    calls it before reading data or training, so a doomed run fails in a second.

    Raises:
        OutputError: naming the path and the reason.

    """
    target = Path(target)
    if target.exists() and not _is_model_folder(target):
        raise OutputError(
            f"{target} exists and is not a predictor model folder; refusing to replace it "
            "(choose another model_name or --models-dir)"
        )
    parent = target.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"cannot write {target}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {target}: {os.strerror(errno.EACCES)} ({parent})")


def _staging_folder(target: Path) -> Path:
    """A new empty folder beside ``target`` to write into, made like ``mkdir`` makes one.

    Not ``tempfile.mkdtemp``: its folders are private (0700), and the rename would leave the
    installed model unreadable to everyone else.
    """
    staging = target.with_name(f".{target.name}.new-{secrets.token_hex(4)}")
    staging.mkdir()
    return staging


def _is_model_folder(path: Path) -> bool:
    """True for a folder written by ``install_model``: an MLflow pyfunc folder or a bundle."""
    return path.is_dir() and ((path / "MLmodel").is_file() or (path / "metadata.json").is_file())


def input_example(model: TrainedModel, tables: Tables, n: int = 5) -> pd.DataFrame:
    """A few rows of the scoring frame, categoricals as strings (what the pyfunc model takes)."""
    as_of = pd.Timestamp(model.info["data_end"])
    ids = tables.customers["customer_id"].iloc[:n]
    return pyfunc_frame(scoring_frame(tables.subset(ids), as_of, model))


def model_example(model: TrainedModel, frame: pd.DataFrame, n: int = 5) -> ModelExample:
    """What a tracker records beside the model: the scoring frame, its first rows and scores."""
    inputs = pyfunc_frame(frame.head(n))
    outputs = predict_frame(model, inputs.set_index("customer_id"), None)
    return ModelExample(frame=frame, inputs=inputs, outputs=outputs)


def run_training(
    tables: Tables,
    config: Config,
    models_dir: Path,
    tracker: Tracker,
    progress: Progress | None = None,
    created_at: str = "",
    sources: dict[str, Path] | dict[str, str] | None = None,
    on_step: StepProgress | None = None,
    features: FeatureSource | None = None,
) -> TrainingOutcome:
    """Train, evaluate, save ``models_dir/<model_name>`` and record everything in the tracker.

    The tracker writes the model folder (``MlflowTracker``: an MLflow pyfunc folder around the
    bundle; ``NullTracker``: the bundle alone) and logs the model. ``sources`` (table -> file
    read) gives each input table's dataset its source in the run's lineage;
    ``on_step(target, done, total)`` reports training progress; ``features`` serves the
    cutoffs' feature frames when they are built elsewhere (``train``; the Spark engine).
    """
    say = progress or (lambda _m: None)
    check_model_target(Path(models_dir) / config.model_name)
    summary = data_summary(tables)
    digest = data_digest(tables)
    tracker.log_params(config.flat())
    tracker.log_table_inputs(table_inputs(tables, sources))
    model, evaluation = train(tables, config, say, on_step=on_step, features=features)
    run_id = tracker.run_id
    model.info["model_version"] = f"{config.model_name}-{(run_id or digest)[:8]}"
    model.info["created_at"] = created_at
    metrics = evaluation.metrics()
    check = model.churn.calibration_check_ if model.churn is not None else {}
    for kind, loss in check.get("log_loss", {}).items():
        metrics[f"churn.calibration.heldout_log_loss.{kind}"] = float(loss)
    tracker.log_metrics(metrics)
    tracker.set_tags(training_tags(model))
    extra = {
        "data_summary": summary.to_dict(orient="records"),
        "data_digest": digest,
        "metrics": metrics,
        "evaluation_plan": {k: r.plan for k, r in evaluation.tasks.items()},
        "evaluation_rows": {k: r.n_rows for k, r in evaluation.tasks.items()},
        "mlflow_run_id": run_id,
    }
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=models_dir, prefix=".build-") as tmp:
        tmp = Path(tmp)
        bundle = save_bundle(model, tmp / "bundle", extra, evaluation)
        say("scoring customers as of the data end (signature and report)")
        as_of = pd.Timestamp(model.info["data_end"])
        frame = scoring_frame(tables, as_of, model)
        example = model_example(model, frame)
        say("saving model folder and plots")
        target = install_model(
            models_dir / config.model_name,
            lambda folder: tracker.save_model(bundle, folder, example),
        )
        plots = _save_figures(evaluation, tmp / "plots", config.report.currency)
        for path in plots:
            tracker.log_artifact(path, "plots")
        scores = predict_frame(model, frame, as_of, REPORT_DRIVERS)
        plans = extra["evaluation_plan"]
        html = report_html(model, evaluation_frames(evaluation), plans, tables, scores)
        tracker.log_artifact(write_report(html, tmp / "report" / "report.html"), "report")
        tables_dir = tmp / "metrics"
        tables_dir.mkdir()
        for task, res in evaluation.tasks.items():
            res.table.to_csv(tables_dir / f"{task}_metrics.csv")
        importance = {
            name: est.feature_importance().to_dict()
            for name, est in (
                ("day_one", model.day_one),
                ("value_13m", model.value),
                ("churn", model.churn),
            )
            if est is not None
        }
        (tables_dir / "feature_importance.json").write_text(json.dumps(importance, indent=1))
        tracker.log_artifact(tables_dir, "metrics")
        registered = config.tracking.registered_name if config.tracking.register_model else None
        version = tracker.log_model(bundle, example, registered)
    return TrainingOutcome(target, model, evaluation, run_id, version)


def training_tags(model: TrainedModel) -> dict[str, str]:
    """MLflow tags of what training adapted: targets, evaluation design, skips, warnings."""
    info = model.info
    tags = {"targets": ",".join(info.get("targets", []))}
    tags |= {f"evaluation.{t}": e for t, e in info.get("evaluation", {}).items()}
    tags |= {f"skipped.{t}": r[:5000] for t, r in info.get("skipped", {}).items()}
    if "training_customers" in info:
        tags["predictor.training_customers"] = str(info["training_customers"])
    if info.get("warnings"):
        tags["warnings"] = " | ".join(info["warnings"])[:5000]
    if any("base rate" in w for w in info.get("warnings", [])):
        tags["churn_beats_base_rate"] = "false"
    return tags


def report_html(
    model: TrainedModel,
    evaluation: dict[str, pd.DataFrame],
    plans: dict[str, dict[str, Any]],
    tables: Tables | None = None,
    scores: pd.DataFrame | None = None,
    as_of: pd.Timestamp | None = None,
    currency: str | None = None,
) -> str:
    """The HTML report of a model, with its customer sections drawn from scores or tables.

    With ``tables`` and no ``scores``, every customer is scored as of ``as_of`` (default: the
    data's end) with the top drivers; with ``tables`` the segment levers (order value,
    frequency, margin) and the facts of the lever rules (new customer, poor support, last 13
    months' value) are computed for the scores' date. Without either, the report says which
    sections need them. ``currency`` overrides the model's ``report.currency``.
    """
    if currency:
        report = model.config.report.model_copy(update={"currency": currency})
        model = replace(model, config=model.config.model_copy(update={"report": report}))
    levers = facts = None
    if tables is not None:
        if scores is None:
            cutoff = resolve_as_of(as_of, tables, model.config)
            scores = score(model, tables, cutoff, drivers=REPORT_DRIVERS)[0]
        if len(scores):
            as_of_scores = pd.Timestamp(scores["as_of"].iloc[0])
            levers = customer_levers(tables.orders, as_of_scores, model.config.value)
            facts = customer_facts(tables, as_of_scores, model.config)
    return build_report(model, evaluation, scores, levers, plans, facts)


def read_scores(path: Path) -> pd.DataFrame:
    """Read a scores file of ``predictor score`` (CSV or Parquet) for the report.

    Raises ``ScoresFileError`` when the file is missing or is not a scores file.
    """
    path = Path(path)
    if not path.exists():
        raise ScoresFileError(f"scores file {path} does not exist")
    frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    if "customer_id" not in frame.columns or "value_13m" not in frame.columns:
        raise ScoresFileError(
            f"{path} is not a scores file of `predictor score` (no customer_id/value_13m)"
        )
    frame["customer_id"] = frame["customer_id"].astype(str)
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    return frame


def write_report(html: str, path: Path) -> Path:
    """Write the report file atomically (a temporary file beside it, then one rename)."""
    from predictor.io.atomic import write_text_atomic

    return write_text_atomic(html, path)

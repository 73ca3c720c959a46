"""Commands that make and promote models: ``train``, ``promote``."""

from __future__ import annotations

import datetime as dt
import tempfile
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.markup import escape
from rich.table import Table

from predictor.cli.app import (
    DEFAULT_SAMPLE_DIR,
    PROJECT_DIR,
    ConfigOpt,
    Promote,
    SetOpt,
    VerboseOpt,
    app,
    captured_output,
    config_from,
    console,
    fail,
    load_data,
    out,
    print_table,
    render_issues,
)
from predictor.cli.data_commands import sample
from predictor.cli.score_commands import Engine


def _ensure_sample(data: Path) -> Path:
    """Create the built-in sample business on first use."""
    if not (data / "customers.csv").exists() and not (data / "customers.parquet").exists():
        console.print(f"no data given: generating the built-in sample business in {data}")
        sample(
            out_dir=data, customers=5000, seed=0, mode="subscription", fmt="csv", truth_as_of=None
        )
    return data


@app.command()
def train(
    config: ConfigOpt = None,
    data: Annotated[
        str | None,
        typer.Option(help="Data folder (default: the built-in sample); Spark: any URI it reads."),
    ] = None,
    set_: SetOpt = None,
    tracking_uri: Annotated[
        str | None,
        typer.Option(help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI or ./mlflow.db)."),
    ] = None,
    models_dir: Annotated[Path, typer.Option(help="Where model folders are written.")] = Path(
        "models"
    ),
    promote: Annotated[
        Promote,
        typer.Option(
            help="auto: compare the new version with the champion on the newest held-out "
            "cutoff and promote it when better on tracking.promote_metrics."
        ),
    ] = Promote.never,
    verbose: VerboseOpt = False,
    models: Annotated[
        list[str] | None,
        typer.Option(
            "--models",
            help="Targets to train, e.g. --models day_one,churn (default: every target the "
            "data supports). A target named here that the data cannot support is an error.",
        ),
    ] = None,
    engine: Annotated[
        Engine,
        typer.Option(
            help="pandas (one process) or spark: Spark reads and validates all the data and "
            "the driver trains on a seeded sample of --sample-customers customers."
        ),
    ] = Engine.pandas,
    sample_customers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Train on a seeded sample of about this many whole customers when the data "
            "hold more (= --set cutoffs.sample_customers=N) [default: 200,000].",
        ),
    ] = None,
    spark_master: Annotated[str | None, typer.Option(help="Spark master (see score).")] = None,
    buckets: Annotated[int | None, typer.Option(min=1, help="Spark: customer buckets.")] = None,
) -> None:
    """Train the Day One, 13-month value and churn models; record the run in MLflow.

    The registered version gets the alias 'challenger' (the first one also 'champion');
    library warnings go to the run's log (logs/train.log), on screen only with --verbose.
    """
    from predictor.io.tables import find_table_files
    from predictor.jobs import run_training
    from predictor.tracking import (
        MlflowTracker,
        check_system_metrics,
        default_tracking_uri,
        lineage_tags,
    )

    set_ = [*(set_ or []), *_models_override(models)]
    if sample_customers is not None:
        set_.append(f"cutoffs.sample_customers={sample_customers}")
    cfg = config_from(config, set_)
    _check_before_training(cfg, models_dir, promote)
    if cfg.data.path is None and data is None and not cfg.data.tables:
        data = str(_ensure_sample(DEFAULT_SAMPLE_DIR))
    if data is not None:
        cfg = config_from(config, set_, data)
    if cfg.tracking.system_metrics:
        check_system_metrics()
    engine_tags = {"predictor.engine": Engine(engine).value}
    with ExitStack() as stack:
        features = None
        if engine is Engine.spark:
            spark_run = _train_on_spark(cfg, spark_master, buckets)
            tables, sources, more, features = stack.enter_context(spark_run)
            engine_tags |= more
        else:
            tables, more = _training_data(cfg)
            engine_tags |= more
            sources = find_table_files(cfg.data, None)
        uri = tracking_uri or cfg.tracking.uri or default_tracking_uri(PROJECT_DIR)
        tracker = MlflowTracker(
            uri, cfg.tracking.experiment, cfg.model_name, system_metrics=cfg.tracking.system_metrics
        )
        with tempfile.TemporaryDirectory(prefix="predictor-log-") as tmp:
            log_file = Path(tmp) / "train.log"
            with captured_output(verbose, log_file), _training_bar() as (say, on_step), tracker:
                try:
                    tracker.set_tags(lineage_tags(PROJECT_DIR, cfg.digest()) | engine_tags)
                    outcome = run_training(
                        tables,
                        cfg,
                        models_dir,
                        tracker,
                        progress=say,
                        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                        sources=sources,
                        on_step=on_step,
                        features=features,
                    )
                finally:
                    tracker.log_artifact(log_file, "logs")
        for task, result in outcome.evaluation.tasks.items():
            _print_metrics(task, result.table)
        for task, reason in outcome.model.info.get("skipped", {}).items():
            console.print(f"[yellow]skipped:[/] {escape(task)} - {escape(reason)}")
        out.print(f"model folder: {outcome.model_dir}")
        out.print(f"MLflow run {outcome.run_id} in experiment '{cfg.tracking.experiment}' at {uri}")
        version = outcome.registered_version
        if version:
            _after_registration(cfg, uri, version, promote, tables, verbose)


def _check_before_training(cfg, models_dir: Path, promote: Promote) -> None:
    """Refuse up front what would only fail after training: minutes of work for nothing.

    ``--promote auto`` compares registered versions, so it needs ``tracking.register_model``;
    the model folder must be one ``install_model`` may replace or create.
    """
    from predictor.jobs.train_job import check_model_target

    if promote == Promote.auto and not cfg.tracking.register_model:
        raise fail(
            "--promote auto needs tracking.register_model: true: promotion compares "
            "registered versions (champion and challenger)"
        )
    check_model_target(models_dir / cfg.model_name)


def _training_data(cfg):
    """Read and validate the training data (only the sample of a large Parquet input)."""
    from predictor.contract.errors import ContractError
    from predictor.jobs import load_training_data

    try:
        data = load_training_data(cfg)
    except ContractError as exc:
        render_issues(exc.issues)
        raise fail(f"{len(exc.issues)} data error(s); nothing was done") from None
    for issue in data.warnings:
        console.print(f"[yellow]warning:[/] {escape(issue.message)}", soft_wrap=True)
    kept = len(data.tables.customers)
    if data.chunked:
        out.print(f"validated all {data.customers:,} customers batch by batch; training on "
                  f"{kept:,} of them (a seeded sample, cutoffs.sample_customers)")  # fmt: skip
    tags = {"predictor.data_customers": str(data.customers)}
    return data.tables, tags


@contextmanager
def _train_on_spark(cfg, master: str | None, buckets: int | None):
    """Validate all the data on Spark: the sample's tables, sources, tags and Spark's frames."""
    from predictor.spark_training import training_on_spark

    customers = cfg.cutoffs.sample_customers
    say = lambda message: console.print(f"[dim]{escape(message)}[/]")  # noqa: E731
    with training_on_spark(
        cfg, customers=customers, buckets=buckets, master=master, progress=say
    ) as spark_run:
        tables, sources, tags = _sample_report(spark_run.sample)
        yield tables, sources, tags, spark_run.features


def _sample_report(run):
    """Print the sample's warnings and size; its tables, sources and run tags."""
    for issue in run.warnings:
        console.print(f"[yellow]warning:[/] {escape(issue.message)}", soft_wrap=True)
    share = "every customer" if run.kept == run.customers else "a seeded sample"
    out.print(f"Spark validated {run.customers:,} customers ({run.buckets} buckets); training "
              f"on {run.kept:,} of them ({share})")  # fmt: skip
    tags = {"predictor.data_customers": str(run.customers),
            "predictor.training_customers": str(run.kept)}  # fmt: skip
    return run.tables, run.sources, tags


@contextmanager
def _training_bar():
    """A progress bar per target (one step per cutoff and per fit) and a message line."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console
    ) as bar:
        tasks: dict[str, int] = {}

        def on_step(target: str, done: int, total: int) -> None:
            if target not in tasks:
                tasks[target] = bar.add_task(f"train {target}", total=total)
            bar.update(tasks[target], completed=done, total=total)

        yield (lambda message: bar.console.print(f"[dim]{message}[/]")), on_step


def _after_registration(cfg, uri: str, version: str, promote: Promote, tables, verbose: bool):
    """Alias the new version (challenger; champion if first) and promote it when asked."""
    from predictor.tracking import mark_new_version

    name = cfg.tracking.registered_name
    with captured_output(verbose):
        first = mark_new_version(name, version)
    roles = "challenger and champion (the first registered model)" if first else "challenger"
    out.print(f"registered {name} version {version} as {roles}")
    if promote == Promote.auto and not first:
        _promote(name, uri, cfg.tracking.promote_metrics, tables, verbose)


def _promote(name: str, uri: str, metrics: list[str], tables, verbose: bool) -> None:
    """Compare champion and challenger on the newest held-out cutoffs; move champion if better."""
    from predictor.jobs import compare_registered
    from predictor.promotion import shown

    with captured_output(verbose), console.status("re-evaluating champion and challenger"):
        run = compare_registered(name, uri, metrics, tables)
    champ, chall, heldout, decision = run.champion, run.challenger, run.heldout, run.decision
    if heldout is None or decision is None:
        out.print(f"{name} version {chall} is already champion; nothing to compare")
        return
    cutoffs = ", ".join(f"{t} {c.date()}" for t, c in heldout.cutoffs.items())
    table = Table(title=f"champion v{champ} vs challenger v{chall} (held out: {cutoffs})")
    for col in ("metric", "champion", "challenger", "better"):
        table.add_column(col, justify="left" if col in ("metric", "better") else "right")
    for metric, row in decision.comparison.iterrows():
        table.add_row(metric, shown(row["champion"]), shown(row["challenger"]), row["better"])
    print_table(table)
    verdict = f"promoted v{chall} to champion" if decision.promote else f"kept v{champ} as champion"
    out.print(f"{verdict}: {decision.reason} (decision tagged on both versions)")


@app.command()
def promote(
    data: Annotated[Path, typer.Option(help="Data folder to re-evaluate both models on.")],
    model_name: Annotated[str, typer.Option(help="Registered model name.")] = "predictor",
    metrics: Annotated[
        list[str] | None,
        typer.Option(
            "--metrics",
            help="Deciding metric(s), target.metric (default: tracking.promote_metrics), "
            "e.g. --metrics value_13m.normalized_gini --metrics churn.log_loss.",
        ),
    ] = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    tracking_uri: Annotated[
        str | None,
        typer.Option(help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI or ./mlflow.db)."),
    ] = None,
    verbose: VerboseOpt = False,
) -> None:
    """Compare champion and challenger on the newest held-out cutoff; promote only if better.

    Both are scored on the same customers at the newest cutoff whose labels are complete in
    --data; the challenger becomes champion only when at least as good on every metric and
    better on one. The decision is tagged on both versions either way.
    """
    from predictor.jobs import check_promote_metrics
    from predictor.tracking import use_store

    cfg = config_from(config, set_, data)
    chosen = check_promote_metrics(list(metrics or cfg.tracking.promote_metrics), "--metrics")
    uri = use_store(tracking_uri or cfg.tracking.uri)
    tables = load_data(cfg).tables
    _promote(model_name, uri, chosen, tables, verbose)


def _models_override(models: list[str] | None) -> list[str]:
    """``--models a,b`` (or repeated) as a ``models=[a, b]`` override; unknown names fail."""
    from predictor.config import TARGETS

    if not models:
        return []
    names = [n.strip() for item in models for n in item.split(",") if n.strip()]
    unknown = [n for n in names if n not in TARGETS]
    if unknown or not names:
        raise fail(
            f"--models: unknown target(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(TARGETS)}"
        )
    return [f"models=[{', '.join(dict.fromkeys(names))}]"]


def _print_metrics(task: str, frame: pd.DataFrame) -> None:
    table = Table(title=f"{task}: held-out evaluation")
    table.add_column("predictor")
    for col in frame.columns:
        table.add_column(col, justify="right")
    for name, row in frame.iterrows():
        table.add_row(str(name), *("-" if pd.isna(v) else f"{v:.3f}" for v in row))
    print_table(table)

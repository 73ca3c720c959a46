"""The ``predictor`` command line: a thin typer app over the library.

Only this module configures logging and talks to the terminal (rich). Each command parses its
options, loads the config, calls the library and writes outputs atomically; a data problem
exits with status 2 and a message naming the table, column and rows at fault.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import signal
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import click
import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table
from typer.core import TyperGroup

from predictor.config import Config
from predictor.contract.errors import ContractError
from predictor.errors import PredictorError, os_reason

console = Console(stderr=True)
out = Console(soft_wrap=True)


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that every ``with``/``finally`` cleanup runs."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated()


class _App(TyperGroup):
    """The command group: every expected error becomes one line and an exit code, here only.

    ``PredictorError`` (data, config, model, output problems) gives its message and its exit
    code (2 for usage and data problems); an OS error on a user's file gives one line naming
    the file; an interrupt (Ctrl-C or SIGTERM) removes partial outputs and exits 130/143.
    With ``--debug`` the full traceback is shown instead.
    """

    def invoke(self, ctx: click.Context) -> object:
        debug = bool(ctx.params.get("debug"))
        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGTERM, _on_sigterm)
        try:
            return super().invoke(ctx)
        except PredictorError as exc:
            if debug:
                raise
            raise _fail(str(exc), exc.exit_code) from None
        except OSError as exc:
            if debug:
                raise
            where = f"{exc.filename}: " if exc.filename else ""
            raise _fail(f"{where}{os_reason(exc)}", 2) from None
        except KeyboardInterrupt as exc:
            if debug:
                raise
            signal_name = "SIGTERM" if isinstance(exc, _Terminated) else "interrupt"
            console.print(f"[yellow]stopped by {signal_name}:[/] partial outputs were removed")
            raise typer.Exit(143 if isinstance(exc, _Terminated) else 130) from None
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)


app = typer.Typer(
    cls=_App,
    add_completion=False,
    no_args_is_help=True,
    help="Predict customer churn risk and lifetime value (Day One and 13-month).",
)


def _version(value: bool) -> None:
    if value:
        from predictor import __version__

        typer.echo(f"predictor {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the full traceback of an error.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Predict customer churn risk and lifetime value (Day One and 13-month)."""


def _check_date(value: str | None) -> str | None:
    """Parse-time check of a date option: an ISO date ``YYYY-MM-DD``, nothing else.

    ``yesterday``, ``31/12/2023`` or ``2023-12-31T10:00`` exit with status 2 before any input
    is read: a day-first or relative date would otherwise be read silently wrong.
    """
    if value is None:
        return None
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
            raise ValueError(value)
        dt.date.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(f"expected a date as YYYY-MM-DD, got {value!r}") from None
    return value.strip()


def _check_tables(values: list[str] | None) -> list[str] | None:
    """Parse-time check of table names (``--allow-missing``)."""
    from predictor.contract.tables import TABLE_NAMES

    for value in values or []:
        if value not in TABLE_NAMES:
            raise typer.BadParameter(f"{value!r} is not a table ({', '.join(TABLE_NAMES)})")
    return values

PROJECT_DIR = Path.cwd()
DEFAULT_SAMPLE_DIR = Path("data/sample")

ConfigOpt = Annotated[
    list[Path] | None,
    typer.Option("--config", "-c", help="YAML config file(s); later files override earlier ones."),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a setting, e.g. --set churn.horizon_days=60."),
]
VerboseOpt = Annotated[
    bool,
    typer.Option(
        "--verbose", "-v", help="Also show library warnings and log messages on screen."
    ),
]


class Mode(StrEnum):
    """Kind of sample business."""

    subscription = "subscription"
    retail = "retail"
    snapshot = "snapshot"


class FileFormat(StrEnum):
    """File format of written tables."""

    csv = "csv"
    parquet = "parquet"


class View(StrEnum):
    """Feature view."""

    current = "current"
    day_one = "day-one"


class Promote(StrEnum):
    """Whether training may promote the new version to champion."""

    never = "never"
    auto = "auto"


LIBRARY_LOGGERS = ("py.warnings", "mlflow", "alembic", "matplotlib", "xgboost")
"""Loggers whose messages go to the run's log (and to the screen only with --verbose)."""


@contextmanager
def captured_output(verbose: bool, log_file: Path | None = None) -> Iterator[None]:
    """Route library warnings and log messages to ``log_file``; to the screen only if verbose.

    Python warnings (MLflow's schema hints, SciPy's ConstantInputWarning, ...) become log
    records of ``py.warnings``; those and the libraries' loggers are written to ``log_file``
    (the run's log) and shown on stderr only with ``--verbose``. Everything is restored on exit.
    """
    from rich.logging import RichHandler

    handlers: list[logging.Handler] = []
    if log_file is not None:
        handler = logging.FileHandler(log_file, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handlers.append(handler)
    if verbose:
        handlers.append(RichHandler(console=console, show_path=False, show_time=False))
    saved = []
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.handlers[:], logger.propagate, logger.level))
        logger.handlers = handlers[:] or [logging.NullHandler()]
        logger.propagate = False
        logger.setLevel(logging.INFO)
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        logging.captureWarnings(True)
        try:
            yield
        finally:
            logging.captureWarnings(False)
            for logger, old, propagate, level in saved:
                logger.handlers, logger.propagate = old, propagate
                logger.setLevel(level)
            for handler in handlers:
                handler.close()


def print_table(table: Table) -> None:
    """Print a table on stdout: terminal width on a terminal, else as wide as its content."""
    if out.is_terminal:
        out.print(table)
        return
    width = Measurement.get(out, out.options.update(max_width=100_000), table).maximum
    Console(width=max(width, out.width), soft_wrap=True).print(table)


def _fail(message: str, code: int = 2) -> typer.Exit:
    console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    return typer.Exit(code)


def _config(
    paths: list[Path] | None, overrides: list[str] | None, data: Path | None = None
) -> Config:
    from predictor.io.config_files import load_config

    sets = list(overrides or [])
    if data is not None:
        sets.append(f"data.path={data}")
    return load_config(paths or [], sets)


def _today() -> pd.Timestamp:
    return pd.Timestamp(dt.date.today())


def _warn_as_of(as_of: pd.Timestamp, start: pd.Timestamp, end: pd.Timestamp) -> None:
    """Warn (not fail) when the as-of date lies outside the data's span."""
    from predictor.api import as_of_notes

    for note in as_of_notes(as_of, start, end):
        console.print(f"[yellow]warning:[/] {escape(note.message)}", soft_wrap=True)


def _load(config: Config, show_warnings: bool = True):
    from predictor.io.tables import load_tables

    if config.data.path is None and not config.data.tables:
        raise _fail("no data given: pass --data DIR or set data.path in the config")
    end = pd.Timestamp(config.data.end_date) if config.data.end_date else _today()
    result = load_tables(config.data, end_date=end)
    if result.errors:
        _render_issues(result.issues)
        raise _fail(f"{len(result.errors)} data error(s); nothing was done")
    if show_warnings and result.warnings:
        for issue in result.warnings:
            console.print(f"[yellow]warning:[/] {issue.message}")
    return result


def _render_issues(issues) -> None:
    if not issues:
        out.print("[green]All checks passed.[/]")
        return
    table = Table(title="Validation report", show_lines=False)
    for col in ("severity", "check", "table", "column", "count", "examples"):
        table.add_column(col)
    for issue in issues:
        style = "red" if issue.severity == "error" else "yellow"
        table.add_row(
            f"[{style}]{issue.severity}[/]",
            issue.check,
            issue.table,
            issue.column or "",
            str(issue.count),
            ", ".join(map(str, issue.examples)),
        )
    print_table(table)
    for issue in issues:
        out.print(f"- {issue.message}")



class Engine(StrEnum):
    """Where scoring runs."""

    pandas = "pandas"
    spark = "spark"


@app.command()
def sample(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder to write the tables to.")
    ] = DEFAULT_SAMPLE_DIR,
    customers: Annotated[int, typer.Option(min=1, help="Number of customers.")] = 5000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    mode: Annotated[
        Mode,
        typer.Option(
            help="Kind of business; snapshot: one row per customer, churn in the last month "
            "(train it with --set churn.horizon_days=31)."
        ),
    ] = Mode.subscription,
    fmt: Annotated[FileFormat, typer.Option("--format", help="File format.")] = FileFormat.csv,
    truth_as_of: Annotated[
        str | None,
        typer.Option(
            callback=_check_date,
            help="Also write ground truth (true churn probability and 13-month value) as of this "
            "date (YYYY-MM-DD).",
        ),
    ] = None,
) -> None:
    """Write the built-in sample business (all seven tables) and its hidden traits."""
    from predictor.io.atomic import write_frame_atomic, write_tables
    from predictor.output_schema import SAMPLE_DAY_COLUMNS
    from predictor.sample import generate_sample, ground_truth

    if mode == Mode.snapshot:
        _sample_snapshot(out_dir, customers, seed, FileFormat(fmt).value)
        return
    with console.status(f"generating {customers:,} customers"):
        business = generate_sample(n_customers=customers, seed=seed, mode=Mode(mode).value)
    write_tables(business.tables, out_dir, fmt=FileFormat(fmt).value, days=SAMPLE_DAY_COLUMNS)
    truth_dir = out_dir.parent / f"{out_dir.name}_truth"
    write_frame_atomic(business.traits.reset_index(), truth_dir / "traits.parquet")
    if truth_as_of:
        truth = ground_truth(business, pd.Timestamp(truth_as_of))
        write_frame_atomic(truth.reset_index(), truth_dir / f"truth_{truth_as_of}.parquet")
    counts = ", ".join(f"{name} {len(frame):,}" for name, frame in business.tables.items())
    out.print(f"wrote {out_dir} ({counts}); ground truth in {truth_dir} (never an input)")


def _sample_snapshot(out_dir: Path, customers: int, seed: int, fmt: str) -> None:
    """Write the single-snapshot sample and its truth (``predictor.sample_snapshot``)."""
    from predictor.io.atomic import write_frame_atomic, write_tables
    from predictor.output_schema import SAMPLE_DAY_COLUMNS
    from predictor.sample.snapshot import generate_snapshot

    snap = generate_snapshot(n_customers=customers, seed=seed)
    write_tables(snap.tables, out_dir, fmt=fmt, days=SAMPLE_DAY_COLUMNS)
    truth_dir = out_dir.parent / f"{out_dir.name}_truth"
    truth_path = truth_dir / f"truth_{snap.as_of.date()}.parquet"
    write_frame_atomic(snap.truth.reset_index(), truth_path)
    out.print(
        f"wrote {out_dir} ({len(snap.tables.customers):,} customers, snapshot as of "
        f"{snap.as_of.date()}, data to {snap.end_date.date()}; train with --set "
        f"churn.horizon_days={(snap.end_date - snap.as_of).days}); truth in {truth_path}"
    )


@app.command()
def validate(
    data: Annotated[Path, typer.Argument(help="Folder with customers.csv, orders.csv, ...")],
    config: ConfigOpt = None,
    set_: SetOpt = None,
    rejects: Annotated[
        Path | None, typer.Option(help="Write the rows set aside to this file.")
    ] = None,
) -> None:
    """Check a data folder against the contract; exit 1 when there are errors."""
    from predictor.io.atomic import write_frame_atomic
    from predictor.io.tables import load_tables
    from predictor.output_schema import VALIDATION_REJECTS

    cfg = _config(config, set_, data)
    end = pd.Timestamp(cfg.data.end_date) if cfg.data.end_date else _today()
    try:
        result = load_tables(cfg.data, end_date=end)
    except ContractError as exc:
        raise _fail(str(exc), 1) from exc
    _render_issues(result.issues)
    if rejects is not None:
        write_frame_atomic(result.rejects, rejects, schema=VALIDATION_REJECTS)
    if result.tables is not None:
        sizes = ", ".join(f"{n} {len(f):,}" for n, f in result.tables.items())
        out.print(f"tables: {sizes}")
    if result.errors:
        raise typer.Exit(1)


@app.command()
def features(
    data: Annotated[Path, typer.Option(help="Data folder.")],
    out_path: Annotated[Path, typer.Option("--out", help="Output file (.parquet or .csv).")],
    as_of: Annotated[
        str | None,
        typer.Option(callback=_check_date, help="Cutoff date, YYYY-MM-DD (default: latest date in the data)."),
    ] = None,
    view: Annotated[View, typer.Option(help="Feature view.")] = View.current,
    labels: Annotated[
        bool, typer.Option(help="Add labels where their window is complete.")
    ] = False,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Write the point-in-time feature table (optionally with labels)."""
    from rich.progress import Progress

    from predictor.api import output_metadata
    from predictor.datasets import data_span
    from predictor.features import build_day_one_features, build_features
    from predictor.io.atomic import write_frame_atomic
    from predictor.labels import (
        churn_label,
        churn_label_end,
        day_one_label,
        value_label,
        value_label_end,
    )
    from predictor.output_schema import FEATURES
    from predictor.timeline import day_end, truncate

    cfg = _config(config, set_, data)
    tables = _load(cfg).tables
    start, end = data_span(tables, cfg)
    cutoff = pd.Timestamp(as_of) if as_of else end
    _warn_as_of(cutoff, start, end)
    with captured_output(verbose), Progress(console=console, transient=True) as bar:
        task = bar.add_task(f"features ({View(view).value})", total=3 if labels else 2)
        if view == View.day_one:
            frame = build_day_one_features(truncate(tables, cutoff), cfg)
            bar.advance(task)
            if labels:
                frame = frame.join(day_one_label(tables, cfg.day_one.window_days, cfg.value, end))
                bar.advance(task)
        else:
            frame = build_features(tables, cutoff, cfg)
            bar.advance(task)
            if labels and value_label_end(cutoff, cfg.value) <= day_end(end):
                frame = frame.join(value_label(tables, cutoff, cfg.value))
            if labels and churn_label_end(cutoff, cfg.churn) <= day_end(end):
                frame = frame.join(churn_label(tables, cutoff, cfg.churn))
            if labels:
                bar.advance(task)
        frame.insert(0, "as_of", cutoff.normalize())
        stamp = output_metadata(None, cutoff)
        write_frame_atomic(frame.reset_index(), out_path, schema=FEATURES, metadata=stamp)
        bar.advance(task)
    out.print(f"wrote {len(frame):,} customers x {frame.shape[1] - 1} features to {out_path}")


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
        Path | None, typer.Option(help="Data folder (default: the built-in sample).")
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
) -> None:
    """Train the Day One, 13-month value and churn models; record the run in MLflow.

    The registered version gets the alias 'challenger' (the first one also 'champion');
    library warnings go to the run's log (logs/train.log), on screen only with --verbose.
    """
    from predictor.datasets import ShortHistoryError
    from predictor.io.tables import find_table_files
    from predictor.pipeline import run_training
    from predictor.tracking import (
        MlflowTracker,
        check_system_metrics,
        default_tracking_uri,
        lineage_tags,
    )

    set_ = [*(set_ or []), *_models_override(models)]
    cfg = _config(config, set_)
    if cfg.data.path is None and data is None and not cfg.data.tables:
        data = _ensure_sample(DEFAULT_SAMPLE_DIR)
    if data is not None:
        cfg = _config(config, set_, data)
    if cfg.tracking.system_metrics:
        try:
            check_system_metrics()
        except RuntimeError as exc:
            raise _fail(str(exc)) from exc
    tables = _load(cfg).tables
    sources = find_table_files(cfg.data, None)
    uri = tracking_uri or cfg.tracking.uri or default_tracking_uri(PROJECT_DIR)
    tracker = MlflowTracker(
        uri, cfg.tracking.experiment, cfg.model_name, system_metrics=cfg.tracking.system_metrics
    )
    with tempfile.TemporaryDirectory(prefix="predictor-log-") as tmp:
        log_file = Path(tmp) / "train.log"
        with captured_output(verbose, log_file), _training_bar() as (say, on_step):
            try:
                with tracker:
                    try:
                        tracker.set_tags(lineage_tags(PROJECT_DIR, cfg.digest()))
                        outcome = run_training(
                            tables,
                            cfg,
                            models_dir,
                            tracker,
                            progress=say,
                            created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                            sources=sources,
                            on_step=on_step,
                        )
                    finally:
                        tracker.log_artifact(log_file, "logs")
            except ShortHistoryError as exc:
                raise _fail(str(exc)) from exc
    for task, result in outcome.evaluation.tasks.items():
        _print_metrics(task, result.table)
    for task, reason in outcome.model.info.get("skipped", {}).items():
        console.print(f"[yellow]skipped:[/] {escape(task)} - {escape(reason)}")
    out.print(f"model folder: {outcome.model_dir}")
    out.print(f"MLflow run {outcome.run_id} in experiment '{cfg.tracking.experiment}' at {uri}")
    version = outcome.registered_version
    if version:
        _after_registration(cfg, uri, version, promote, tables, verbose)


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
    from predictor.api import load_model
    from predictor.bundle import ModelLoadError
    from predictor.promotion import compare, evaluate_at, newest_heldout
    from predictor.tracking import champion_and_challenger
    from predictor.tracking import promote as move_champion

    with captured_output(verbose):
        try:
            versions = champion_and_challenger(name)
            champ, chall = versions["champion"], versions["challenger"]
            if champ is None or chall is None:
                raise _fail(f"{name}: needs both a champion and a challenger to compare")
            if champ == chall:
                out.print(f"{name} version {chall} is already champion; nothing to compare")
                return
            models = {
                role: load_model(f"models:/{name}/{version}", uri).model
                for role, version in (("champion", champ), ("challenger", chall))
            }
        except ModelLoadError as exc:
            raise _fail(str(exc)) from exc
        with console.status("re-evaluating champion and challenger"):
            heldout = newest_heldout(tables, models["challenger"])
            scores = {
                role: evaluate_at(model, tables, heldout, models["challenger"])
                for role, model in models.items()
            }
        decision = compare(scores["champion"], scores["challenger"], metrics)
        move_champion(name, champ, chall, decision.summary(), decision.promote)
    cutoffs = ", ".join(f"{t} {c.date()}" for t, c in heldout.cutoffs.items())
    table = Table(title=f"champion v{champ} vs challenger v{chall} (held out: {cutoffs})")
    for col in ("metric", "champion", "challenger", "better"):
        table.add_column(col, justify="left" if col in ("metric", "better") else "right")
    for metric, row in decision.comparison.iterrows():
        table.add_row(metric, f"{row['champion']:.4f}", f"{row['challenger']:.4f}", row["better"])
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
    from predictor.bundle import ModelLoadError
    from predictor.config import check_metric_names
    from predictor.tracking import use_store

    cfg = _config(config, set_, data)
    chosen = list(metrics or cfg.tracking.promote_metrics)
    try:
        check_metric_names(chosen)
    except ValueError as exc:
        raise _fail(str(exc).replace("tracking.promote_metrics", "--metrics")) from exc
    try:
        uri = use_store(tracking_uri or cfg.tracking.uri)
    except ModelLoadError as exc:
        raise _fail(str(exc)) from exc
    tables = _load(cfg).tables
    _promote(model_name, uri, chosen, tables, verbose)


def _progress(message: str) -> None:
    """Print a training progress line; warnings stand out."""
    if message.startswith("warning: "):
        console.print(f"[yellow]warning:[/] {escape(message.removeprefix('warning: '))}")
    else:
        console.print(escape(message), style="dim")


def _models_override(models: list[str] | None) -> list[str]:
    """``--models a,b`` (or repeated) as a ``models=[a, b]`` override; unknown names fail."""
    from predictor.config import TARGETS

    if not models:
        return []
    names = [n.strip() for item in models for n in item.split(",") if n.strip()]
    unknown = [n for n in names if n not in TARGETS]
    if unknown or not names:
        raise _fail(
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


@app.command()
def score(
    model: Annotated[
        str, typer.Option(help="Model folder (models/<name>) or MLflow URI (models:/name@alias).")
    ],
    data: Annotated[
        str, typer.Option(help="Data folder to score (Spark: any URI it reads, e.g. s3a://...).")
    ],
    out_path: Annotated[
        Path, typer.Option("--out", help="Scores file (.parquet or .csv); Spark: a dataset.")
    ],
    as_of: Annotated[
        str | None,
        typer.Option(callback=_check_date, help="As-of date, YYYY-MM-DD (default: latest date in the data)."),
    ] = None,
    drivers: Annotated[int, typer.Option(min=0, help="Top K drivers per score.")] = 0,
    rejects: Annotated[
        Path | None, typer.Option(help="Rejects file (default: beside --out).")
    ] = None,
    chunk_size: Annotated[int, typer.Option(min=1, help="Customers per chunk.")] = 100_000,
    tracking_uri: Annotated[
        str | None, typer.Option(help="MLflow tracking URI for models:/ URIs.")
    ] = None,
    allow_missing: Annotated[
        list[str] | None,
        typer.Option(
            callback=_check_tables,
            help="Accept that this table (trained with) is absent; repeatable.",
        ),
    ] = None,
    scratch_dir: Annotated[
        Path | None,
        typer.Option(help="Folder for the temporary spill of Parquet input (default: beside --out)."),
    ] = None,
    verbose: VerboseOpt = False,
    engine: Annotated[
        Engine, typer.Option(help="pandas (one process) or spark (predictor[spark] extra).")
    ] = Engine.pandas,
    spark_master: Annotated[
        str | None,
        typer.Option(help="Spark master (default: $PREDICTOR_SPARK_MASTER, then local[*]).",),
    ] = None,
    buckets: Annotated[
        int | None, typer.Option(min=1, help="Spark: customer buckets (default: 2 x cores).")
    ] = None,
) -> None:
    """Score every customer of a data folder; unscorable ones go to the rejects file.

    Parquet inputs are read chunk by chunk of customers (bounded memory); CSV inputs are read
    whole, so convert large inputs to Parquet. Both files appear only when scoring is done.
    """
    from rich.progress import Progress

    from predictor.api import default_rejects_path, load_model, score_files
    from predictor.modeling.preprocess import SchemaMismatchError

    with captured_output(verbose):
        predictor = load_model(model, tracking_uri)
    rejects_path = rejects or default_rejects_path(out_path)
    if engine is Engine.spark:
        _score_on_spark(predictor, data, str(out_path), rejects, as_of, drivers,
                        spark_master, buckets, allow_missing or [])  # fmt: skip
        return
    with captured_output(verbose), Progress(console=console, transient=True) as bar:
        task = bar.add_task("scoring", total=None)
        try:
            run = score_files(
                predictor,
                data,
                out_path,
                rejects_path,
                as_of=as_of,
                drivers=drivers,
                chunk_size=chunk_size,
                on_start=lambda n: bar.update(task, total=n),
                on_chunk=lambda n: bar.advance(task, n),
                workdir=scratch_dir,
                allow_missing=allow_missing or (),
            )
        except ContractError as exc:
            bar.stop()
            if len(exc.issues) == 1:
                raise _fail(f"{exc.issues[0].message}; nothing was written") from exc
            _render_issues(exc.issues)
            raise _fail(f"{len(exc.issues)} data error(s); nothing was written") from exc
        except SchemaMismatchError as exc:
            bar.stop()
            raise _fail(f"{exc}; nothing was written") from exc
    for path in run.leftovers:
        console.print(f"[yellow]removed the leftover of an interrupted run:[/] {path}")
    for issue in run.warnings:
        console.print(f"[yellow]warning:[/] {escape(issue.message)}", soft_wrap=True)
    out.print(
        f"input customers {run.customers:,} = scored {run.scored:,} + rejected {run.rejected:,}"
        f" (as of {run.as_of.date()}); scores in {out_path}, rejects in {rejects_path}"
    )
    segmenter = predictor.model.segmenter
    out.print(segmenter.value_rule_text(predictor.model.config.report.currency))
    out.print(segmenter.risk_rule_text())
    if run.scored + run.rejected != run.customers:
        raise _fail("internal error: scored + rejected does not equal the input customers", 3)


def _score_on_spark(
    predictor: Any,
    data: str,
    out_path: str,
    rejects: Path | None,
    as_of: str | None,
    drivers: int,
    master: str | None,
    buckets: int | None,
    allow_missing: list[str],
) -> None:
    """``predictor score --engine spark``: Parquet datasets of scores and rejects, via Spark."""
    from predictor.spark_engine import score_with_spark

    rejects_path = str(rejects) if rejects else f"{out_path.rstrip('/')}_rejects"
    try:
        run = score_with_spark(
            predictor, data, out_path, rejects_path, as_of=as_of, drivers=drivers,
            allow_missing=allow_missing, buckets=buckets, master=master,
        )  # fmt: skip
    except ContractError as exc:
        _render_issues(exc.issues)
        raise _fail(f"{exc}; nothing was written") from exc
    for issue in run.warnings:
        console.print(f"[yellow]warning:[/] {issue.message}")
    out.print(
        f"input customers {run.customers:,} = scored {run.scored:,} + rejected {run.rejected:,}"
        f" (as of {run.as_of.date()}, {run.buckets} buckets on Spark); scores in {out_path}, "
        f"rejects in {rejects_path}"
    )
    if run.scored + run.rejected != run.customers:
        raise _fail("internal error: scored + rejected does not equal the input customers", 3)


def _model_with_data(model: str, tracking_uri: str | None, data: Path | None):
    """Load a model (folder or MLflow URI) and, when given, the data folder with its config."""
    from predictor.api import load_model

    predictor = load_model(model, tracking_uri)
    if data is None:
        return predictor, None
    return predictor, _load(predictor.data_config(data)).tables


def _model_folder(model: str, tracking_uri: str | None) -> Path:
    """The local folder of a model given as a folder or an MLflow URI."""
    from predictor.api import MLFLOW_SCHEMES

    if model.startswith(MLFLOW_SCHEMES):
        from predictor.tracking import load_from_uri

        return Path(load_from_uri(model, tracking_uri))
    return Path(model)


def _read_scores(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise _fail(f"scores file {path} does not exist")
    frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    if "customer_id" not in frame.columns or "value_13m" not in frame.columns:
        raise _fail(f"{path} is not a scores file of `predictor score` (no customer_id/value_13m)")
    frame["customer_id"] = frame["customer_id"].astype(str)
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    return frame


@app.command()
def report(
    model: Annotated[str, typer.Option(help="Model folder (models/<name>) or MLflow URI.")],
    out_path: Annotated[Path, typer.Option("--out", help="HTML file to write.")],
    scores: Annotated[
        Path | None, typer.Option(help="Scores file of `predictor score` (CSV or Parquet).")
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(help="Data folder: scores its customers (without --scores) and adds levers."),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            callback=_check_date,
            help="As-of date for scoring --data, YYYY-MM-DD (default: data's end).",
        ),
    ] = None,
    tracking_uri: Annotated[
        str | None, typer.Option(help="MLflow tracking URI for models:/ URIs.")
    ] = None,
    currency: Annotated[
        str | None,
        typer.Option(help="Currency shown with money (default: the model's report.currency)."),
    ] = None,
) -> None:
    """Write one self-contained HTML report: model quality, segments, drivers, who to act on."""
    from predictor.bundle import load_evaluation
    from predictor.datasets import data_span
    from predictor.pipeline import report_html, write_report

    cutoff = pd.Timestamp(as_of) if as_of else None
    predictor, tables = _model_with_data(model, tracking_uri, data)
    evaluation = load_evaluation(_model_folder(model, tracking_uri))
    plans = predictor.metadata.get("evaluation_plan", {})
    frame = _read_scores(scores) if scores is not None else None
    if cutoff is not None and tables is not None:
        _warn_as_of(cutoff, *data_span(tables, predictor.model.config))
    with console.status("building the report"):
        html = report_html(predictor.model, evaluation, plans, tables, frame, cutoff, currency)
    write_report(html, out_path)
    out.print(f"wrote {out_path}")


@app.command()
def explain(
    model: Annotated[str, typer.Option(help="Model folder (models/<name>) or MLflow URI.")],
    data: Annotated[Path, typer.Option(help="Data folder holding the customer.")],
    customer: Annotated[str, typer.Option(help="The customer_id to explain.")],
    as_of: Annotated[
        str | None,
        typer.Option(callback=_check_date, help="As-of date, YYYY-MM-DD (default: latest date in the data)."),
    ] = None,
    drivers: Annotated[int, typer.Option(min=0, help="Drivers listed per score.")] = 5,
    tracking_uri: Annotated[
        str | None, typer.Option(help="MLflow tracking URI for models:/ URIs.")
    ] = None,
) -> None:
    """Print one customer's scores and, per score, the drivers that add up to it."""
    from predictor.datasets import data_span
    from predictor.explain import explain_customer

    predictor, tables = _model_with_data(model, tracking_uri, data)
    start, end = data_span(tables, predictor.model.config)
    cutoff = pd.Timestamp(as_of) if as_of else end
    _warn_as_of(cutoff, start, end)
    explained = explain_customer(predictor.model, tables, customer, cutoff)
    for line in _explain_lines(
        explained, cutoff, max(drivers, 0), predictor.model.config.report.currency
    ):
        typer.echo(line)


def _explain_lines(explained, as_of: pd.Timestamp, k: int, currency: str) -> list[str]:
    """Plain-text lines: the headline scores, then one block per score (base, drivers, total)."""
    row = explained.scores
    lines = [
        f"Customer {explained.customer_id} as of {as_of.date()}",
        f"  13-month value   {row['value_13m']:,.2f}   ({row['value_segment']})",
        f"  Churn risk       {100 * row['churn_risk']:.2f}%   ({row['risk_band']})",
        f"  Day One value    {row['day_one_value']:,.2f}",
    ]
    units = {"value_13m": currency, "day_one_value": currency, "churn_risk": "points"}
    for exp in explained.explanations:
        scale = 100.0 if exp.score == "churn_risk" else 1.0
        lines += ["", f"{exp.label} ({units[exp.score]}; contributions add up to the score)"]
        if exp.note:
            lines += [f"  {exp.note}", f"  = {scale * exp.prediction:,.2f}  the score"]
            continue
        top = exp.contributions.head(k)
        rest = exp.contributions["contribution"].iloc[k:].sum()
        lines.append(f"  {scale * exp.base:,.2f}  starting point (the average customer)")
        for _, c in top.iterrows():
            value = c["value"]
            shown = "missing" if value is None or pd.isna(value) else value
            lines.append(
                f"  {scale * c['contribution']:+,.2f}  {c['description'].rstrip('.')} "
                f"(here: {shown})"
            )
        lines.append(f"  {scale * rest:+,.2f}  all other signals together")
        lines.append(f"  = {scale * exp.prediction:,.2f}  the score")
    return lines


@app.command("config-schema")
def config_schema() -> None:
    """Print the JSON schema of the configuration (every setting, documented)."""
    out.print_json(json.dumps(Config.model_json_schema()))


def main() -> None:  # pragma: no cover - console entry point
    """Entry point for ``python -m predictor``."""
    app(prog_name="predictor")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

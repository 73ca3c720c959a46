"""The ``predictor`` app: the typer group, its one error handler and what commands share.

Only the CLI configures logging and talks to the terminal (rich). ``_App.invoke`` is the one
place an expected error (``PredictorError``) becomes a one-line message and its exit code; an
OS error on a user's file becomes one line naming the file; an interrupt removes partial
outputs. Shared here: the options, parse-time checks, log capture and table printing.
"""

from __future__ import annotations

import logging
import signal
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
            raise _fail_with(exc, ctx.invoked_subcommand) from None
        except OSError as exc:
            if debug:
                raise
            where = f"{exc.filename}: " if exc.filename else ""
            raise fail(f"{where}{os_reason(exc)}", 2) from None
        except KeyboardInterrupt as exc:
            if debug:
                raise
            signal_name = "SIGTERM" if isinstance(exc, _Terminated) else "interrupt"
            console.print(f"[yellow]stopped by {signal_name}:[/] partial outputs were removed")
            raise typer.Exit(143 if isinstance(exc, _Terminated) else 130) from None
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)


def _fail_with(exc: PredictorError, command: str | None) -> typer.Exit:
    """The one rendering of an expected error: its issues' table when several, then one line.

    A data error while scoring adds that nothing was written (outputs appear only complete).
    """
    from predictor.modeling.preprocess import SchemaMismatchError

    issues = getattr(exc, "issues", [])
    message = str(exc)
    if len(issues) > 1:
        render_issues(issues)
        message = f"{len(issues)} data error(s)"
    if command == "score" and isinstance(exc, ContractError | SchemaMismatchError):
        message += "; nothing was written"
    return fail(message, exc.exit_code)


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
    from predictor.runtime import tune_for_large_tables

    tune_for_large_tables()


def check_date(value: str | None) -> str | None:
    """Parse-time check of a date option: an ISO date ``YYYY-MM-DD``, nothing else.

    ``yesterday``, ``31/12/2023`` or ``2023-12-31T10:00`` exit with status 2 before any input
    is read: a day-first or relative date would otherwise be read silently wrong.
    """
    from predictor.timeline import AsOfError, parse_as_of

    if value is None:
        return None
    try:
        parse_as_of(value, name="")
    except AsOfError as exc:
        raise typer.BadParameter(str(exc)) from None
    return value.strip()


AsOfOption = Annotated[
    str | None,
    typer.Option(
        callback=check_date,
        help="As-of date (the cutoff), YYYY-MM-DD (default: the latest date in the data).",
    ),
]
"""The ``--as-of`` option every command that reads data at a date shares."""


def check_tables(values: list[str] | None) -> list[str] | None:
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
    typer.Option("--verbose", "-v", help="Also show library warnings and log messages on screen."),
]


class Mode(StrEnum):
    """Kind of sample business."""

    subscription = "subscription"
    retail = "retail"
    snapshot = "snapshot"
    usage = "usage"


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


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``message`` as the one error line; the ``Exit`` to raise with ``code``."""
    console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    return typer.Exit(code)


def config_from(
    paths: list[Path] | None, overrides: list[str] | None, data: Path | None = None
) -> Config:
    """The configuration: config files, then ``--set`` overrides, then ``--data``."""
    from predictor.io.config_files import load_config

    sets = list(overrides or [])
    if data is not None:
        sets.append(f"data.path={data}")
    return load_config(paths or [], sets)


def _warn_as_of(as_of: pd.Timestamp, start: pd.Timestamp, end: pd.Timestamp) -> None:
    """Warn (not fail) when the as-of date lies outside the data's span."""
    from predictor.jobs import as_of_notes

    for note in as_of_notes(as_of, start, end):
        console.print(f"[yellow]warning:[/] {escape(note.message)}", soft_wrap=True)


def cutoff_of(as_of: str | None, tables: Any, config: Config) -> pd.Timestamp:
    """The as-of date (default: the data's last date), with a warning when outside the data."""
    from predictor.datasets import data_span
    from predictor.jobs import resolve_as_of

    cutoff = resolve_as_of(as_of, tables, config)
    _warn_as_of(cutoff, *data_span(tables, config))
    return cutoff


def load_data(config: Config, show_warnings: bool = True):
    """Read and validate the data of ``config``: data errors are shown, then the run stops."""
    from predictor.io.tables import load_tables
    from predictor.jobs import resolve_data_end

    if config.data.path is None and not config.data.tables:
        raise fail("no data given: pass --data DIR or set data.path in the config")
    result = load_tables(config.data, end_date=resolve_data_end(config))
    if result.errors:
        render_issues(result.issues)
        raise fail(f"{len(result.errors)} data error(s); nothing was done")
    if show_warnings and result.warnings:
        for issue in result.warnings:
            console.print(f"[yellow]warning:[/] {issue.message}")
    return result


def render_issues(issues) -> None:
    """Print validation issues as a table, then each one's full message."""
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


def main() -> None:  # pragma: no cover - console entry point
    """Entry point for ``python -m predictor``."""
    app(prog_name="predictor")

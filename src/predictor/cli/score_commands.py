"""Commands that use a model: ``score``, ``report``, ``explain``."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.markup import escape

from predictor.cli.app import (
    AsOfOption,
    VerboseOpt,
    app,
    captured_output,
    check_date,
    check_tables,
    console,
    cutoff_of,
    fail,
    load_data,
    out,
)


class Engine(StrEnum):
    """Where scoring runs."""

    pandas = "pandas"
    spark = "spark"


@app.command()
def score(
    model: Annotated[
        str, typer.Option(help="Model folder (models/<name>) or MLflow URI (models:/name@alias).")
    ],
    data: Annotated[
        str, typer.Option(help="Data folder to score (Spark: any URI it reads, e.g. s3a://...).")
    ],
    out_path: Annotated[
        str, typer.Option("--out", help="Scores file (.parquet or .csv); Spark: a dataset URI.")
    ],
    as_of: AsOfOption = None,
    drivers: Annotated[int, typer.Option(min=0, help="Top K drivers per score.")] = 0,
    data_end: Annotated[
        str | None,
        typer.Option(
            callback=check_date,
            help="Last day the data cover, YYYY-MM-DD (default: the model's data.end_date if "
            "it was trained with one, else today); rows after it are set aside.",
        ),
    ] = None,
    rejects: Annotated[
        str | None,
        typer.Option(help="Rejects file (default: beside --out); Spark: a dataset URI."),
    ] = None,
    chunk_size: Annotated[int, typer.Option(min=1, help="Customers per chunk.")] = 100_000,
    tracking_uri: Annotated[
        str | None, typer.Option(help="MLflow tracking URI for models:/ URIs.")
    ] = None,
    allow_missing: Annotated[
        list[str] | None,
        typer.Option(
            callback=check_tables,
            help="Accept that this table (trained with) is absent; repeatable.",
        ),
    ] = None,
    scratch_dir: Annotated[
        Path | None,
        typer.Option(
            help="Folder for the temporary spill of Parquet input (default: beside --out)."
        ),
    ] = None,
    verbose: VerboseOpt = False,
    engine: Annotated[
        Engine, typer.Option(help="pandas (one process) or spark (predictor[spark] extra).")
    ] = Engine.pandas,
    spark_master: Annotated[
        str | None,
        typer.Option(
            help="Spark master (default: $PREDICTOR_SPARK_MASTER, then local[*]).",
        ),
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

    from predictor.api import load_model
    from predictor.jobs import default_rejects_path, score_files
    from predictor.jobs.score_job import check_outputs

    if engine is Engine.spark:  # URIs (s3a://...) stay text: a Path would fold the "//"
        if data_end is not None:
            raise fail(
                "--data-end is not supported with --engine spark; score with --engine pandas"
            )
        _check_spark_outputs(out_path, rejects)
        with captured_output(verbose):
            predictor = load_model(model, tracking_uri)
        _score_on_spark(predictor, data, out_path, rejects, as_of, drivers,
                        spark_master, buckets, allow_missing or [])  # fmt: skip
        return
    out_path = Path(out_path)
    rejects_path = Path(rejects) if rejects else default_rejects_path(out_path)
    check_outputs(out_path, rejects_path)  # before the model is loaded or any data read
    with captured_output(verbose):
        predictor = load_model(model, tracking_uri)
    with captured_output(verbose), Progress(console=console, transient=True) as bar:
        task = bar.add_task("scoring", total=None)
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
            data_end=data_end,
        )
    for path in run.leftovers:
        console.print(f"[yellow]removed the leftover of an interrupted run:[/] {path}")
    for issue in run.warnings:
        console.print(f"[yellow]warning:[/] {escape(issue.message)}", soft_wrap=True)
    out.print(
        f"input customers {run.customers:,} = scored {run.scored:,} + rejected {run.rejected:,}"
        f" (as of {run.as_of.date()}); scores in {out_path}, rejects in {rejects_path}"
    )
    _print_rules(predictor.model)
    if run.scored + run.rejected != run.customers:
        raise fail("internal error: scored + rejected does not equal the input customers", 3)


def _print_rules(model) -> None:
    """The segment and band rules of the scores; a target the model lacks is named instead."""
    segmenter = model.segmenter
    if model.value is not None:
        out.print(segmenter.value_rule_text(model.config.report.currency))
    else:
        out.print("No 13-month value model: value_13m and value_segment are empty.")
    if model.churn is not None:
        out.print(segmenter.risk_rule_text())
    else:
        out.print("No churn model: churn_risk and risk_band are empty.")


def _check_spark_outputs(out_path: str, rejects: str | None) -> None:
    """Refuse ``--rejects`` naming the ``--out`` dataset: one would overwrite the other."""
    if rejects is not None and rejects.rstrip("/") == out_path.rstrip("/"):
        raise fail(f"--rejects and --out are the same dataset ({out_path}); give another path")


def _score_on_spark(
    predictor: Any,
    data: str,
    out_path: str,
    rejects: str | None,
    as_of: str | None,
    drivers: int,
    master: str | None,
    buckets: int | None,
    allow_missing: list[str],
) -> None:
    """``predictor score --engine spark``: Parquet datasets of scores and rejects, via Spark."""
    from predictor.spark_engine import score_with_spark

    rejects_path = rejects or f"{out_path.rstrip('/')}_rejects"
    run = score_with_spark(
        predictor, data, out_path, rejects_path, as_of=as_of, drivers=drivers,
        allow_missing=allow_missing, buckets=buckets, master=master,
    )  # fmt: skip
    for issue in run.warnings:
        console.print(f"[yellow]warning:[/] {issue.message}")
    out.print(
        f"input customers {run.customers:,} = scored {run.scored:,} + rejected {run.rejected:,}"
        f" (as of {run.as_of.date()}, {run.buckets} buckets on Spark); scores in {out_path}, "
        f"rejects in {rejects_path}"
    )
    if run.scored + run.rejected != run.customers:
        raise fail("internal error: scored + rejected does not equal the input customers", 3)


def _model_with_data(model: str, tracking_uri: str | None, data: Path | None):
    """Load a model (folder or MLflow URI) and, when given, the data folder with its config."""
    from predictor.api import load_model

    predictor = load_model(model, tracking_uri)
    if data is None:
        return predictor, None
    return predictor, load_data(predictor.data_config(data)).tables


def _model_folder(model: str, tracking_uri: str | None) -> Path:
    """The local folder of a model given as a folder or an MLflow URI."""
    from predictor.api import MLFLOW_SCHEMES

    if model.startswith(MLFLOW_SCHEMES):
        from predictor.tracking import load_from_uri

        return Path(load_from_uri(model, tracking_uri))
    return Path(model)


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
    as_of: AsOfOption = None,
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
    from predictor.jobs import read_scores, report_html, write_report

    predictor, tables = _model_with_data(model, tracking_uri, data)
    evaluation = load_evaluation(_model_folder(model, tracking_uri))
    plans = predictor.metadata.get("evaluation_plan", {})
    frame = read_scores(scores) if scores is not None else None
    if frame is not None:
        _check_scores_fit(frame, predictor.version, as_of)
    cutoff = None
    if as_of and tables is not None:
        cutoff = cutoff_of(as_of, tables, predictor.model.config)
    elif as_of:
        cutoff = pd.Timestamp(as_of)
    with console.status("building the report"):
        html = report_html(predictor.model, evaluation, plans, tables, frame, cutoff, currency)
    write_report(html, out_path)
    out.print(f"wrote {out_path}")


def _check_scores_fit(frame: pd.DataFrame, version: str, as_of: str | None) -> None:
    """Refuse ``--as-of`` that the scores file cannot honour; warn about another model's scores.

    A scores file carries its own as-of date: ``--as-of`` was ignored in silence. Scores of
    another model version describe customers with numbers this model did not give.
    """
    if not len(frame):
        return
    scored = pd.Timestamp(frame["as_of"].iloc[0]).date().isoformat()
    if as_of is not None and as_of != scored:
        raise fail(
            f"the --scores file was scored as of {scored}; --as-of {as_of} cannot change that "
            "(drop --as-of, or score again with it)"
        )
    if "model_version" in frame:
        others = sorted(set(frame["model_version"].astype(str)) - {version})
        if others:
            console.print(
                f"[yellow]warning:[/] the --scores file holds scores of model version "
                f"{escape(', '.join(others[:3]))}, not of this model ({escape(version)}); the "
                "report's model sections describe this model",
                soft_wrap=True,
            )


@app.command()
def explain(
    model: Annotated[str, typer.Option(help="Model folder (models/<name>) or MLflow URI.")],
    data: Annotated[Path, typer.Option(help="Data folder holding the customer.")],
    customer: Annotated[str, typer.Option(help="The customer_id to explain.")],
    as_of: AsOfOption = None,
    drivers: Annotated[int, typer.Option(min=0, help="Drivers listed per score.")] = 5,
    tracking_uri: Annotated[
        str | None, typer.Option(help="MLflow tracking URI for models:/ URIs.")
    ] = None,
) -> None:
    """Print one customer's scores and, per score, the drivers that add up to it."""
    from predictor.explain import explain_customer, explanation_lines

    predictor, tables = _model_with_data(model, tracking_uri, data)
    cutoff = cutoff_of(as_of, tables, predictor.model.config)
    explained = explain_customer(predictor.model, tables, customer, cutoff)
    currency = predictor.model.config.report.currency
    for line in explanation_lines(explained, cutoff, max(drivers, 0), currency):
        typer.echo(line)

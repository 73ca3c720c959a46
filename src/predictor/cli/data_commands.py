"""Commands on data: ``sample``, ``validate``, ``features``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from predictor.cli.app import (
    DEFAULT_SAMPLE_DIR,
    AsOfOption,
    ConfigOpt,
    FileFormat,
    Mode,
    SetOpt,
    VerboseOpt,
    View,
    app,
    captured_output,
    check_date,
    config_from,
    console,
    cutoff_of,
    fail,
    load_data,
    out,
    render_issues,
)
from predictor.cli.score_commands import Engine


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
            "(train it with --set churn.horizon_days=31); usage: a per-seat SaaS product with "
            "daily usage events (about 4,000 per account over three years; --customers is accounts)."
        ),
    ] = Mode.subscription,
    fmt: Annotated[FileFormat, typer.Option("--format", help="File format.")] = FileFormat.csv,
    truth_as_of: Annotated[
        str | None,
        typer.Option(
            callback=check_date,
            help="Also write ground truth (true churn probability and 13-month value) as of this "
            "date (YYYY-MM-DD).",
        ),
    ] = None,
) -> None:
    """Write the built-in sample business (all seven tables) and its hidden traits."""
    from predictor.jobs import write_sample

    with console.status(f"generating {customers:,} customers"):
        summary = write_sample(
            out_dir, customers, seed, Mode(mode).value, FileFormat(fmt).value, truth_as_of
        )
    out.print(summary)


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
    from predictor.jobs import validate_data
    from predictor.output_schema import VALIDATION_REJECTS

    result = validate_data(config_from(config, set_, data))
    render_issues(result.issues)
    if rejects is not None:
        write_frame_atomic(result.rejects, rejects, schema=VALIDATION_REJECTS)
    if result.tables is not None:
        sizes = ", ".join(f"{n} {len(f):,}" for n, f in result.tables.items())
        out.print(f"tables: {sizes}")
    if result.errors:
        raise typer.Exit(1)


@app.command()
def features(
    data: Annotated[str, typer.Option(help="Data folder (Spark: any URI it reads).")],
    out_path: Annotated[
        str, typer.Option("--out", help="Output file (.parquet or .csv); Spark: a dataset URI.")
    ],
    as_of: AsOfOption = None,
    view: Annotated[View, typer.Option(help="Feature view.")] = View.current,
    labels: Annotated[
        bool, typer.Option(help="Add labels where their window is complete.")
    ] = False,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    verbose: VerboseOpt = False,
    engine: Annotated[
        Engine, typer.Option(help="pandas (one process) or spark (a Parquet dataset).")
    ] = Engine.pandas,
    spark_master: Annotated[str | None, typer.Option(help="Spark master (see score).")] = None,
    buckets: Annotated[int | None, typer.Option(min=1, help="Spark: customer buckets.")] = None,
) -> None:
    """Write the point-in-time feature table (optionally with labels)."""
    from rich.progress import Progress

    from predictor.io.atomic import write_frame_atomic
    from predictor.jobs import feature_table, output_metadata
    from predictor.output_schema import FEATURES

    cfg = config_from(config, set_, data)
    if engine is Engine.spark:  # URIs (s3a://...) stay text: a Path would fold the "//"
        _features_on_spark(cfg, out_path, as_of, View(view).value, labels, spark_master, buckets)
        return
    out_path = Path(out_path)
    tables = load_data(cfg).tables
    cutoff = cutoff_of(as_of, tables, cfg)
    with captured_output(verbose), Progress(console=console, transient=True) as bar:
        task = bar.add_task(f"features ({View(view).value})", total=3 if labels else 2)
        tick = lambda: bar.advance(task)  # noqa: E731
        frame = feature_table(tables, cfg, cutoff, view == View.day_one, labels, tick)
        stamp = output_metadata(None, cutoff)
        write_frame_atomic(frame.reset_index(), out_path, schema=FEATURES, metadata=stamp)
        bar.advance(task)
    out.print(f"wrote {len(frame):,} customers x {frame.shape[1] - 1} features to {out_path}")


def _features_on_spark(cfg, out_path, as_of, view, labels, master, buckets) -> None:
    """``predictor features --engine spark``: the feature table as a Parquet dataset."""
    from predictor.spark_features import features_with_spark

    if labels:
        raise fail("--labels is not available with --engine spark yet; build labels with pandas")
    run = features_with_spark(cfg, out_path, as_of=as_of, view=view, buckets=buckets,
                              master=master)  # fmt: skip
    for issue in run.warnings:
        console.print(f"[yellow]warning:[/] {escape(issue.message)}", soft_wrap=True)
    out.print(f"wrote {run.customers:,} customers x {len(run.columns)} features (as of "
              f"{run.as_of.date()}, {run.buckets} buckets on Spark) to {out_path}")  # fmt: skip

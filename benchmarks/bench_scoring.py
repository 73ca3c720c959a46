"""Throughput and memory of scoring from files, against bare feature building and prediction.

Usage::

    python benchmarks/bench_scoring.py [--customers 1000000] [--chunk-size 100000]
        [--workdir DIR] [--quick] [--data DIR --model DIR] [--no-parts]

Writes ``--customers`` sample customers (``predictor.sample.generate_sample``, seed 0) as
Parquet and trains a small model once on a 5,000-customer sample (fast settings), both kept in
``--workdir`` for later runs. Then, each in a fresh child process (so that its peak resident
memory, ``VmHWM``, is its own):

- ``end_to_end``: ``predictor.jobs.score_files``, what ``predictor score`` runs: chunked Parquet
  reading, validation, features, prediction and the atomic write of scores and rejects;
- ``features``: the scoring frames (current and Day One features) of the same customers from
  tables already in memory, in chunks of the same size (reading and validation not timed);
- ``bare_predict``: XGBoost ``inplace_predict`` of every booster of the model on the same
  feature matrix (already aligned to the model's columns);
- ``in_memory``: ``Predictor.score`` of every customer at once on tables already loaded and
  validated (the load not timed), the speed table's "scoring end to end".

The ratio ``end_to_end / (features + bare_predict)`` is the overhead of reading, validating,
aligning and writing; the target is at most 3, with the end-to-end peak memory under 4 GiB.
The ratio ``end_to_end / in_memory`` is issue 19's (target at most 1.3, end to end at most
120 s and 3 GiB at 1,000,000 customers). Each child reports its wall and CPU seconds (user +
system of the timed part). ``--data`` and ``--model`` reuse a sample and a model folder;
``--no-parts`` skips the features and bare-prediction children. ``measure`` returns the
figures for ``benchmarks/run.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

TRAIN_CUSTOMERS = 5_000
FAST = {
    "model": {"n_estimators": 120, "learning_rate": 0.1, "early_stopping_rounds": 15},
    "cutoffs": {"max_cutoffs": 4, "step_days": 60},
}
GIB = 1024**3


def prepare(n_customers: int, workdir: Path) -> tuple[Path, Path]:
    """Write the sample (Parquet) and the model folder unless already there; return both."""
    from predictor.bundle import save_bundle
    from predictor.config import Config
    from predictor.io import write_tables
    from predictor.output_schema import SAMPLE_DAY_COLUMNS
    from predictor.sample import generate_sample
    from predictor.training import train

    data = workdir / f"data_{n_customers}"
    if not (data / ".complete").exists():
        business = generate_sample(n_customers=n_customers, seed=0, mode="subscription")
        write_tables(business.tables, data, fmt="parquet", days=SAMPLE_DAY_COLUMNS)
        del business
        (data / ".complete").touch()
    model = workdir / f"model_{TRAIN_CUSTOMERS}"
    if not (model / "metadata.json").exists():
        business = generate_sample(n_customers=TRAIN_CUSTOMERS, seed=1, mode="subscription")
        trained, _ = train(business.tables, Config.model_validate(FAST))
        save_bundle(trained, model)
    return data, model


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process so far (all its threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _end_to_end(model: Path, data: Path, chunk_size: int, out: Path) -> dict[str, float]:
    from predictor.api import load_model
    from predictor.jobs import score_files

    predictor = load_model(model)
    start, cpu = time.perf_counter(), _cpu_seconds()
    run = score_files(predictor, data, out / "scores.parquet", chunk_size=chunk_size)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds, "cpu_seconds": _cpu_seconds() - cpu, "scored": run.scored,
        "as_of": str(run.as_of.date()),
    }  # fmt: skip


def _in_memory(model: Path, data: Path, as_of: str) -> dict[str, float]:
    """``Predictor.score`` on tables already loaded and validated (the load not timed)."""
    from predictor.api import load_model
    from predictor.io import load_tables

    predictor = load_model(model)
    tables = load_tables(predictor.model.config.data, data, end_date=as_of).raise_for_errors()
    start, cpu = time.perf_counter(), _cpu_seconds()
    scores = predictor.score(tables, as_of)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "cpu_seconds": _cpu_seconds() - cpu, "scored": len(scores)}


def _features_and_predict(model: Path, data: Path, chunk_size: int, as_of: str) -> dict[str, float]:
    import numpy as np
    import pandas as pd

    from predictor.api import load_model
    from predictor.io import load_tables
    from predictor.scoring import DAY_ONE_PREFIX, scoring_frame

    predictor = load_model(model)
    trained = predictor.model
    tables = load_tables(trained.config.data, data, end_date=as_of).raise_for_errors()
    ids = pd.Index(tables.customers["customer_id"]).sort_values()
    features, frames = 0.0, []
    for start in range(0, len(ids), chunk_size):
        subset = tables.subset(ids[start : start + chunk_size])
        begin = time.perf_counter()
        frames.append(scoring_frame(subset, pd.Timestamp(as_of), trained))
        features += time.perf_counter() - begin
    del tables
    frame = pd.concat(frames)
    day_one = frame[[c for c in frame.columns if c.startswith(DAY_ONE_PREFIX)]]
    day_one = day_one.rename(columns=lambda c: c.removeprefix(DAY_ONE_PREFIX))
    jobs = [(trained.day_one.schema_.transform(day_one), trained.day_one.boosters_.values())]
    current = trained.value.schema_.transform(frame)
    jobs.append((current, trained.value.boosters_.values()))
    jobs.append((trained.churn.schema_.transform(frame), [trained.churn.booster_]))
    begin = time.perf_counter()
    for matrix, boosters in jobs:
        for booster in boosters:
            np.asarray(booster.inplace_predict(matrix))
    bare = time.perf_counter() - begin
    return {"features": features, "bare_predict": bare, "rows": len(frame)}


def _child(args: argparse.Namespace) -> None:
    """Run one measurement in this (child) process and print it as JSON with the peak RSS."""
    model, data = Path(args.model), Path(args.data)
    if args.child == "end_to_end":
        result: dict[str, Any] = _end_to_end(model, data, args.chunk_size, Path(args.workdir))
    elif args.child == "in_memory":
        result = _in_memory(model, data, args.as_of)
    else:
        result = _features_and_predict(model, data, args.chunk_size, args.as_of)
    result["peak_rss_gib"] = _peak_rss_bytes() / GIB
    print(json.dumps(result))


def _peak_rss_bytes() -> int:
    """This process's peak resident memory since its ``exec`` (``VmHWM``).

    Not ``ru_maxrss``: Linux carries the parent's peak into a child across fork and exec, so a
    child of the (large) process that generated the sample would report the parent's peak.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _run_child(
    kind: str, model: Path, data: Path, chunk_size: int, workdir: Path, as_of: str = ""
) -> dict[str, Any]:
    command = [
        sys.executable, __file__, "--child", kind, "--model", str(model), "--data", str(data),
        "--chunk-size", str(chunk_size), "--workdir", str(workdir), "--as-of", as_of,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} measurement failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(
    n_customers: int,
    workdir: Path,
    chunk_size: int = 100_000,
    data: Path | None = None,
    model: Path | None = None,
    parts: bool = True,
) -> dict[str, float]:
    """Score ``n_customers`` sample customers from Parquet files and time the parts.

    ``data`` and ``model`` reuse a sample folder and a model folder already written (the speed
    benchmark passes its own); without them both are prepared in ``workdir``.

    Returns ``n_customers``, ``end_to_end_s``, ``customers_per_s``, ``features_s``,
    ``bare_predict_s``, ``ratio_end_to_end_vs_features_plus_predict`` and ``peak_rss_gib``
    (the end-to-end run's peak resident memory; ``features_peak_rss_gib`` is that of the
    in-memory comparison, which holds every table at once), and issue 19's comparison with
    ``Predictor.score`` in memory: ``end_to_end_cpu_s``, ``in_memory_s``, ``in_memory_cpu_s``,
    ``ratio_end_to_end_vs_in_memory``, ``in_memory_peak_rss_gib`` and ``load_average`` (1 min,
    at the start). ``parts=False`` skips the features and bare-prediction measurement (its
    keys are then absent).
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    if data is None or model is None:
        data, model = prepare(n_customers, workdir)
    load = os.getloadavg()[0]
    e2e = _run_child("end_to_end", model, data, chunk_size, workdir)
    memory = _run_child("in_memory", model, data, chunk_size, workdir, as_of=e2e["as_of"])
    figures = {
        "n_customers": float(n_customers),
        "end_to_end_s": e2e["seconds"],
        "end_to_end_cpu_s": e2e["cpu_seconds"],
        "customers_per_s": n_customers / e2e["seconds"],
        "peak_rss_gib": e2e["peak_rss_gib"],
        "in_memory_s": memory["seconds"],
        "in_memory_cpu_s": memory["cpu_seconds"],
        "in_memory_peak_rss_gib": memory["peak_rss_gib"],
        "ratio_end_to_end_vs_in_memory": e2e["seconds"] / memory["seconds"],
        "load_average": load,
    }
    if not parts:
        return figures
    split = _run_child("features", model, data, chunk_size, workdir, as_of=e2e["as_of"])
    base = split["features"] + split["bare_predict"]
    return figures | {
        "features_s": split["features"],
        "bare_predict_s": split["bare_predict"],
        "ratio_end_to_end_vs_features_plus_predict": e2e["seconds"] / base,
        "features_peak_rss_gib": split["peak_rss_gib"],
    }


def _print(figures: dict[str, float], chunk_size: int) -> None:
    rows = [
        ("customers", f"{figures['n_customers']:,.0f}"),
        ("chunk size", f"{chunk_size:,}"),
        ("load average (1 min) at start", f"{figures['load_average']:.2f}"),
        ("end to end (files -> scores file)", f"{figures['end_to_end_s']:.1f} s, {figures['end_to_end_cpu_s']:.1f} s CPU"),
        ("throughput", f"{figures['customers_per_s']:,.0f} customers/s"),
        ("Predictor.score in memory", f"{figures['in_memory_s']:.1f} s, {figures['in_memory_cpu_s']:.1f} s CPU"),
        ("end to end / in memory", f"{figures['ratio_end_to_end_vs_in_memory']:.2f}x (target <= 1.3)"),
        ("peak memory, end to end", f"{figures['peak_rss_gib']:.2f} GiB (target <= 3)"),
        ("peak memory, Predictor.score", f"{figures['in_memory_peak_rss_gib']:.2f} GiB"),
    ]  # fmt: skip
    if "features_s" in figures:
        rows += [
            ("feature building (in memory)", f"{figures['features_s']:.1f} s"),
            ("bare XGBoost prediction", f"{figures['bare_predict_s']:.2f} s"),
            ("end to end / (features + prediction)", f"{figures['ratio_end_to_end_vs_features_plus_predict']:.2f}x (target <= 3)"),
            ("peak memory, features comparison", f"{figures['features_peak_rss_gib']:.2f} GiB"),
        ]  # fmt: skip
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments and run the benchmark (or one child measurement)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--chunk-size", type=int, default=100_000)
    parser.add_argument("--workdir", default="/tmp/predictor-bench-scoring")
    parser.add_argument("--quick", action="store_true", help="10,000 customers")
    parser.add_argument("--data", help="a Parquet sample folder to reuse (with --model)")
    parser.add_argument("--model", help="a model folder to reuse (with --data)")
    parser.add_argument("--no-parts", action="store_true", help="skip features/bare predict")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--as-of", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args)
        return
    n = 10_000 if args.quick else args.customers
    data, model = (Path(args.data), Path(args.model)) if args.data and args.model else (None, None)
    figures = measure(n, Path(args.workdir), args.chunk_size, data, model, not args.no_parts)
    _print(figures, args.chunk_size)


if __name__ == "__main__":
    main()

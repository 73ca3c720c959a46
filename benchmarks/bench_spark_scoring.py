"""File-to-file scoring: Spark ``local[N]`` against the pandas chunked path (docs/spark.md).

Usage: ``python benchmarks/bench_spark_scoring.py N_CUSTOMERS BUCKETS [MASTER]`` (``BUCKETS`` 0:
predictor's default, one bucket per 20,000 customers). ``BENCH_SPARK_ROOT=DIR`` keeps the work
in ``DIR`` and reuses a sample already written there by an earlier run. Generates the
seeded subscription sample (seed 1) as Parquet, trains a small model on a separate 5,000-customer
sample (its quality does not matter here), then runs ``predictor score`` twice as child
processes, pandas (chunked Parquet path) and ``--engine spark``, and prints for each the wall
time, the peak resident memory of the whole process tree (the CLI, and for Spark the JVM and its
Python workers; sampled every 0.2 s) and the CLI process's own peak (``ru_maxrss``). It checks
that both wrote the same customers and the same scores.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

from predictor.api import save_model, train
from predictor.config import Config
from predictor.io import write_tables
from predictor.sample import generate_sample

GIB = 1024**3
FAST_MODEL = {"n_estimators": 80, "learning_rate": 0.15}


def _tree_rss(proc: psutil.Process) -> int:
    """Resident bytes of a process and all its descendants (0 for those already gone)."""
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


def run(cmd: list[str], log: Path) -> dict[str, float]:
    """Wall seconds, peak tree RSS and largest-process RSS (GiB) of one child command."""
    start = time.perf_counter()
    with open(log, "w") as out:
        child = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        proc, peak = psutil.Process(child.pid), 0
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            with contextlib.suppress(psutil.Error):
                peak = max(peak, _tree_rss(proc))
            time.sleep(0.2)
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    if child.returncode != 0:
        raise SystemExit(f"{cmd} failed:\n{log.read_text()[-2000:]}")
    return {"seconds": seconds, "tree_gib": peak / GIB, "cli_gib": usage.ru_maxrss / 1024**2}


def main(n: int, buckets: int, master: str) -> None:
    root = Path(os.environ.get("BENCH_SPARK_ROOT") or tempfile.mkdtemp(prefix="bench-spark-score-"))
    start = time.perf_counter()
    if (root / "data.complete").exists():
        print(f"reusing the sample in {root / 'data'}")
    else:
        write_tables(generate_sample(n_customers=n, seed=1, mode="subscription").tables,
                     root / "data", fmt="parquet")  # fmt: skip
        (root / "data.complete").touch()
        print(f"sample of {n:,} customers written in {time.perf_counter() - start:.1f} s")
    small = generate_sample(n_customers=5000, seed=2, mode="subscription").tables
    config = Config.model_validate({"model": FAST_MODEL})
    save_model(train(small, config), root / "model")
    cli = [sys.executable, "-m", "predictor"]
    common = ["score", "--model", str(root / "model"), "--data", str(root / "data")]
    load = os.getloadavg()
    pandas_run = run([*cli, *common, "--out", str(root / "p.parquet")], root / "pandas.log")
    spark_cmd = [*cli, *common, "--out", str(root / "s"), "--engine", "spark",
                 "--spark-master", master]  # fmt: skip
    spark_cmd += ["--buckets", str(buckets)] if buckets else []
    spark_run = run(spark_cmd, root / "spark.log")
    ours = pd.read_parquet(root / "p.parquet").set_index("customer_id").sort_index()
    theirs = pd.read_parquet(root / "s").set_index("customer_id").sort_index()
    same_ids = ours.index.equals(theirs.index)
    cols = [c for c in ours.columns if pd.api.types.is_float_dtype(ours[c]) and c in theirs]
    diff = float(np.nanmax(np.abs(ours[cols].to_numpy(float) - theirs[cols].to_numpy(float))))
    print(f"load average at start {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}; "
          f"{len(ours):,} customers scored; same customers: {same_ids}; max |diff| {diff:.1e}")  # fmt: skip
    print("| engine | seconds | peak RSS, process tree (GiB) | CLI process (GiB) |")
    print("|---|---|---|---|")
    for name, r in (("pandas (chunked Parquet)", pandas_run), (f"spark {master}", spark_run)):
        print(f"| {name} | {r['seconds']:.1f} | {r['tree_gib']:.2f} | {r['cli_gib']:.2f} |")
    print(f"spark / pandas time: {spark_run['seconds'] / pandas_run['seconds']:.2f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "local[2]")

"""Fitting on Spark-built training frames: collect to the driver + XGBoost vs ``xgboost.spark``.

Usage: ``python benchmarks/bench_spark_training.py N_CUSTOMERS [MASTER]`` (default
``local[2]``); ``... --same N_CUSTOMERS [MASTER]`` trains all targets on Spark-built frames and
with the pandas engine and prints the difference of their held-out metrics (``same``). Writes the seeded subscription sample (seed 1) as Parquet, then runs two child
processes, one per arm, each measured for wall time and peak resident memory (the whole
process tree: the driver's Python, the JVM and its Python workers; and the driver's Python
alone):

- ``collect``: Spark builds the churn training frame (features of every churn training cutoff
  per bucket, ``spark_training.SparkFrames``, joined with the labels computed per bucket),
  collects it to the driver and fits ``xgboost.XGBClassifier`` there;
- ``distributed``: the same frame, fitted by ``xgboost.spark.SparkXGBClassifier`` on the
  Spark workers (``num_workers`` = the master's cores), nothing collected.

Both fit the numeric features only (``xgboost.spark`` takes numeric columns) with the same
booster parameters (``modeling.boosting.booster_params`` of the configured churn model, no
early stopping). Each child prints its own step times as JSON on its last line.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import time
from functools import reduce
from pathlib import Path

from bench_spark_scoring import run

ROUNDS = 200


def child(arm: str, data: str, master: str) -> None:
    """One arm in this process; prints its step times (``fit_s`` includes ``collect_s``)."""
    from predictor.io.config_files import load_config
    from predictor.modeling.boosting import booster_params
    from predictor.modeling.churn import ChurnModel
    from predictor.spark_engine import spark_session
    from predictor.spark_training import training_on_spark
    from predictor.training import churn_plan

    config = load_config([], [f"data.path={data}", "models=[churn]"])
    spark = spark_session(master)
    start = time.perf_counter()
    with training_on_spark(config, customers=10**9, spark=spark) as training:
        frames = training.features
        cutoffs = churn_plan(training.sample.tables, config).train
        built = [frames.spark_frame(c) for c in cutoffs]
        features = reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True),
                          [frame for frame, _ in built])  # fmt: skip
        numeric = [c for c, t in features.dtypes if t == "double"]
        labels = frames.labels(cutoffs, "churn")
        table = features.join(labels, ["customer_id", "as_of"]).select(*numeric, "label")
        table = table.persist()
        rows = table.count()
        frame_s = time.perf_counter() - start
        params = booster_params(ChurnModel.from_config(config.model))
        params |= {"n_estimators": ROUNDS, "enable_categorical": False, "n_jobs": cores(master)}
        start, collect_s = time.perf_counter(), 0.0
        if arm == "collect":
            import xgboost as xgb

            local = table.toPandas()
            collect_s = time.perf_counter() - start
            xgb.XGBClassifier(**params).fit(local[numeric], local["label"])
        else:
            from xgboost.spark import SparkXGBClassifier

            for key in ("n_jobs", "enable_categorical", "max_cat_to_onehot", "random_state"):
                params.pop(key)
            params["device"] = "cpu"
            SparkXGBClassifier(features_col=numeric, label_col="label",
                               num_workers=cores(master), seed=0, **params).fit(table)  # fmt: skip
        fit_s = time.perf_counter() - start
        table.unpersist()
    out = {"frame_s": frame_s, "collect_s": collect_s, "fit_s": fit_s, "rows": rows,
           "columns": len(numeric)}  # fmt: skip
    print(json.dumps(out))


def cores(master: str) -> int:
    """The cores of a ``local[N]`` master (``local[*]``: this machine's)."""
    found = re.fullmatch(r"local\[(\d+)\]", master)
    return int(found.group(1)) if found else os.cpu_count() or 1


def main(n: int, master: str) -> None:
    from predictor.io import write_tables
    from predictor.sample import generate_sample

    root = Path(tempfile.mkdtemp(prefix="bench-spark-train-"))
    write_tables(generate_sample(n_customers=n, seed=1, mode="subscription").tables,
                 root / "data", fmt="parquet")  # fmt: skip
    load = os.getloadavg()
    print(f"{n:,} customers; load average at start {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}")
    print("| arm | frame rows | frame build (s) | collect (s) | collect + fit (s) | wall (s) "
          "| peak RSS tree (GiB) | driver Python (GiB) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for arm in ("collect", "distributed"):
        log = root / f"{arm}.log"
        measured = run([sys.executable, __file__, "--child", arm, str(root / "data"), master], log)
        steps = json.loads(log.read_text().strip().splitlines()[-1])
        print(f"| {arm} | {steps['rows']:,} x {steps['columns']} | {steps['frame_s']:.1f} | "
              f"{steps['collect_s']:.1f} | {steps['fit_s']:.1f} | {measured['seconds']:.1f} | "
              f"{measured['tree_gib']:.2f} | {measured['cli_gib']:.2f} |")  # fmt: skip


def same(n: int, master: str) -> None:
    """Train all targets twice on ``n`` customers: Spark-built frames vs the pandas engine.

    Every customer is kept, so both see the same tables; prints both times and, per target,
    the largest difference between the two held-out metric tables.
    """
    import numpy as np

    from predictor.io import write_tables
    from predictor.io.config_files import load_config
    from predictor.sample import generate_sample
    from predictor.spark_engine import spark_session
    from predictor.spark_training import training_on_spark
    from predictor.training import train

    root = Path(tempfile.mkdtemp(prefix="bench-spark-same-"))
    write_tables(generate_sample(n_customers=n, seed=1, mode="subscription").tables,
                 root / "data", fmt="parquet")  # fmt: skip
    config = load_config([], [f"data.path={root / 'data'}", "model.n_jobs=1"])
    said: list[str] = []
    with training_on_spark(config, customers=n, spark=spark_session(master),
                           progress=said.append) as run:  # fmt: skip
        start = time.perf_counter()
        _, on_spark = train(run.sample.tables, config, features=run.features)
        spark_s = time.perf_counter() - start
    start = time.perf_counter()
    _, on_pandas = train(run.sample.tables, config)
    pandas_s = time.perf_counter() - start
    print(
        f"{n:,} customers; {said}; train with Spark frames {spark_s:.1f} s, pandas {pandas_s:.1f} s"
    )
    for task, result in on_pandas.tasks.items():
        ours, theirs = on_spark.tasks[task].table, result.table
        print(task, "max |diff| of the held-out metrics:",
              float(np.nanmax(np.abs(ours.to_numpy(float) - theirs.to_numpy(float)))))  # fmt: skip


if __name__ == "__main__":
    if sys.argv[1] == "--child":
        child(*sys.argv[2:5])
    elif sys.argv[1] == "--same":
        same(int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "local[2]")
    else:
        main(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "local[2]")

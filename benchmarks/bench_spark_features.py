"""Per-bucket cost of ``features --engine spark`` against the pandas engine (docs/spark.md).

Usage: ``python benchmarks/bench_spark_features.py N_CUSTOMERS BUCKETS [MASTER]``. Generates
the seeded subscription sample (seed 1) as Parquet, builds the features at the data's end with
pandas and with Spark, checks they agree and prints wall times and the per-bucket cost.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from predictor.config import Config
from predictor.datasets import data_span
from predictor.features import build_features
from predictor.io import write_tables
from predictor.io.tables import load_tables
from predictor.sample import generate_sample
from predictor.spark_engine import spark_session
from predictor.spark_features import features_with_spark


def main(n: int, buckets: int, master: str) -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-spark-"))
    start = time.perf_counter()
    business = generate_sample(n_customers=n, seed=1, mode="subscription")
    write_tables(business.tables, root / "data", fmt="parquet")
    print(f"sample of {n:,} customers written in {time.perf_counter() - start:.1f} s")
    config = Config.model_validate({"data": {"path": str(root / "data")}})
    tables = load_tables(config.data).tables
    as_of = data_span(tables, config)[1]
    start = time.perf_counter()
    ours = build_features(tables, as_of, config)
    pandas_s = time.perf_counter() - start
    spark = spark_session(master)
    spark.range(1).count()  # session start-up is not the per-bucket cost
    start = time.perf_counter()
    run = features_with_spark(
        config, str(root / "spark"), as_of=as_of, buckets=buckets, spark=spark
    )
    spark_s = time.perf_counter() - start
    theirs = pd.read_parquet(root / "spark").set_index("customer_id").sort_index()
    numbers = [c for c in ours.columns if pd.api.types.is_numeric_dtype(ours[c])]
    diff = np.nanmax(np.abs(theirs[numbers].to_numpy(float) - ours[numbers].to_numpy(float)))
    load = os.getloadavg()[0]
    print(f"customers {run.customers:,}, columns {len(run.columns)}, max |diff| {diff:.2e}")
    print(
        f"pandas build_features: {pandas_s:.1f} s; spark {master} {buckets} buckets: "
        f"{spark_s:.1f} s ({spark_s / buckets:.2f} s per bucket, "
        f"{1e3 * spark_s / run.customers:.2f} ms per customer); load average {load:.1f}"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "local[2]")

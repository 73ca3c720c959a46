"""``predictor features --engine spark`` writes the pandas engine's feature table.

Same customers, same columns, values within 1e-6, the population-fitted ``bgnbd`` family
included. Runs on the suite's one ``local[2]`` session; one Spark run, a few dozen customers.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from predictor.spark_features import union_columns

pyspark = pytest.importorskip("pyspark", reason="the Spark extra (predictor[spark]) is absent")
if shutil.which("java") is None:  # pragma: no cover
    pytest.skip("Java is not installed: Spark cannot start", allow_module_level=True)

N_CUSTOMERS = 36
FIT_SAMPLE = 12
"""Fewer than the purchasers here: the BG/NBD fit must pick the same seeded subset on Spark."""


@pytest.fixture(scope="module")
def folder(first_customers_folder) -> Path:
    return first_customers_folder(N_CUSTOMERS, "spark_features")


def test_spark_features_equal_the_pandas_engine(spark, folder, tmp_path, monkeypatch):
    from predictor.cli import app

    monkeypatch.setattr("predictor.features.probabilistic.FIT_SAMPLE", FIT_SAMPLE)
    common = ["features", "--data", str(folder), "--as-of", "2025-06-01"]
    pandas_run = CliRunner().invoke(app, [*common, "--out", str(tmp_path / "p.parquet")])
    assert pandas_run.exit_code == 0, pandas_run.output
    args = [*common, "--out", str(tmp_path / "s"), "--engine", "spark", "--buckets", "3"]
    spark_run = CliRunner().invoke(app, args)
    assert spark_run.exit_code == 0, spark_run.output
    assert "3 buckets on Spark" in spark_run.output

    ours = pd.read_parquet(tmp_path / "p.parquet").sort_values("customer_id")
    theirs = spark.read.parquet(str(tmp_path / "s")).toPandas().sort_values("customer_id")
    assert (tmp_path / "s" / "_SUCCESS").exists()
    assert list(theirs.columns) == list(ours.columns)
    assert list(theirs["customer_id"]) == list(ours["customer_id"])
    assert len(ours) > N_CUSTOMERS // 2
    assert (pd.to_datetime(theirs["as_of"]) == pd.Timestamp("2025-06-01")).all()
    features = [c for c in ours.columns if c not in ("customer_id", "as_of")]
    numbers = [c for c in features if pd.api.types.is_numeric_dtype(ours[c])]
    text = [c for c in features if c not in numbers]
    assert {"bgnbd__p_alive", "orders__count"} <= set(numbers)
    assert ours["bgnbd__p_alive"].notna().sum() > FIT_SAMPLE
    for col in text:
        assert list(theirs[col]) == list(ours[col]), col
    np.testing.assert_allclose(
        theirs[numbers].to_numpy(dtype=float), ours[numbers].to_numpy(dtype=float),
        atol=1e-6, rtol=0, equal_nan=True,
    )  # fmt: skip


def test_union_of_bucket_columns_keeps_each_bucket_order():
    buckets = [
        [
            "customer__age",
            "channels__channel_90d__email",
            "channels__channel_90d__sms",
            "nps__last",
        ],
        ["customer__age", "channels__channel_90d__app", "channels__channel_90d__sms", "nps__last"],
        ["customer__age", "nps__last"],
    ]
    assert union_columns(buckets) == [
        "customer__age", "channels__channel_90d__app", "channels__channel_90d__email",
        "channels__channel_90d__sms", "nps__last",
    ]  # fmt: skip


def test_labels_are_refused_on_spark_before_any_work(folder, tmp_path):
    from predictor.cli import app

    args = ["features", "--data", str(folder), "--out", str(tmp_path / "s"), "--engine", "spark",
            "--labels"]  # fmt: skip
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 2
    assert "--labels is not available with --engine spark" in refused.output
    assert not (tmp_path / "s").exists()

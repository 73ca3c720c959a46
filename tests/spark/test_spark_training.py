"""``predictor train --engine spark``: Spark validates all the data, the driver trains on a sample.

The sample holds whole customers chosen by a seeded hash; when it covers every customer, the
driver gets exactly the tables the pandas engine reads. Runs on the suite's ``local[2]``
session.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from typer.testing import CliRunner

from predictor.io.config_files import load_config
from predictor.io.tables import load_tables
from predictor.jobs import resolve_data_end
from predictor.spark_training import (
    _canonical,
    sample_keys,
    sample_with_spark,
    training_on_spark,
)

pyspark = pytest.importorskip("pyspark", reason="the Spark extra (predictor[spark]) is absent")
if shutil.which("java") is None:  # pragma: no cover
    pytest.skip("Java is not installed: Spark cannot start", allow_module_level=True)

N_CUSTOMERS = 900
SAMPLE = 700
FAST = [
    "--set", "model.n_estimators=40", "--set", "model.n_jobs=1",
    "--set", "cutoffs.churn_max_cutoffs=4", "--set", "cutoffs.step_days=60",
]  # fmt: skip


@pytest.fixture(scope="module")
def folder(first_customers_folder) -> Path:
    return first_customers_folder(N_CUSTOMERS, "spark_training")


def test_a_sample_of_everyone_is_exactly_what_pandas_reads(spark, folder):
    config = load_config([], [f"data.path={folder}"])
    run = sample_with_spark(config, customers=10 * N_CUSTOMERS, buckets=3, spark=spark)
    assert run.customers == run.kept == N_CUSTOMERS
    ours = load_tables(config.data, end_date=resolve_data_end(config)).tables
    assert [name for name, _ in run.tables.items()] == [name for name, _ in ours.items()]
    for name, frame in ours.items():
        pd.testing.assert_frame_equal(run.tables.get(name), _canonical(frame), obj=name)
    assert run.sources["orders"].endswith("orders.parquet")


def test_cli_trains_on_a_seeded_sample_and_tracks_it(folder, tmp_path):
    from predictor.cli import app

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    args = [
        "train", "--data", str(folder), "--engine", "spark", "--sample-customers", str(SAMPLE),
        "--buckets", "2", "--models", "churn", "--tracking-uri", uri,
        "--models-dir", str(tmp_path / "models"), "--set", "model_name=sparky", *FAST,
    ]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    config = load_config([], [f"data.path={folder}"])
    ids = load_tables(config.data).tables.customers["customer_id"]
    expected = int((sample_keys(ids, config.model.random_state) < SAMPLE / N_CUSTOMERS).sum())
    assert f"training on {expected:,} of them" in result.output
    assert 0.8 * SAMPLE < expected < 1.2 * SAMPLE
    assert (tmp_path / "models" / "sparky" / "MLmodel").exists()
    client = mlflow.MlflowClient(uri)
    run = client.search_runs([client.get_experiment_by_name("predictor").experiment_id])[0]
    assert run.data.tags["predictor.engine"] == "spark"
    assert run.data.tags["predictor.training_customers"] == str(expected)
    assert run.data.tags["predictor.data_customers"] == str(N_CUSTOMERS)
    assert "churn.model.roc_auc" in run.data.metrics


def test_frames_built_in_spark_are_the_pandas_trainers_frames(spark, folder):
    """Every planned cutoff: Spark's buckets give the frame ``train`` builds on the sample."""
    from predictor.training import FeatureCache, planned_cutoffs

    cuts = ["cutoffs.step_days=60", "cutoffs.max_cutoffs=3", "cutoffs.churn_max_cutoffs=4"]
    config = load_config([], [f"data.path={folder}", *cuts])
    with training_on_spark(config, customers=SAMPLE, buckets=3, spark=spark) as run:
        tables = run.sample.tables
        assert run.sample.kept < N_CUSTOMERS
        cutoffs = planned_cutoffs(tables, config)
        assert len(cutoffs) >= 4
        pandas_frames = FeatureCache(tables, config)
        for as_of in [*cutoffs[:2], cutoffs[-1]]:
            ours, theirs = run.features(as_of), pandas_frames(as_of)
            assert list(ours.index) == list(theirs.index)
            assert list(ours.columns) == list(theirs.columns)
            numbers = theirs.select_dtypes("number").columns
            assert any(c.startswith("bgnbd__") for c in numbers)
            diff = (ours[numbers].astype(float) - theirs[numbers].astype(float)).abs()
            assert float(diff.max().max()) <= 1e-6, as_of
            assert ours[numbers].isna().equals(theirs[numbers].isna())
            for col in theirs.columns.difference(numbers):
                assert ours[col].astype(object).equals(theirs[col].astype(object)), col
        assert run.features.transient(cutoffs[-1]) is run.features(cutoffs[-1])

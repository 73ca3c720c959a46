"""``predictor train --engine spark``: Spark validates the data and builds the training frames.

The sample holds whole customers chosen by a seeded hash; when it covers every customer, the
driver gets exactly the tables the pandas engine reads, and Spark's buckets build exactly the
feature frames and labels the pandas trainer builds. Runs on the suite's ``local[2]`` session.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from typer.testing import CliRunner

from predictor.customer_sample import sample_keys
from predictor.io.config_files import load_config
from predictor.io.tables import load_tables
from predictor.jobs import resolve_data_end
from predictor.spark_training import _canonical, training_on_spark

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


def test_everyone_sampled_gives_exactly_pandas_tables_frames_and_labels(spark, folder):
    """With every customer kept, Spark's tables, frames and labels are the pandas trainer's.

    The frames: every planned cutoff is built per bucket; the first two and the last are
    compared with ``training.FeatureCache`` on the same tables (``bgnbd`` fitted per cutoff).
    """
    from predictor.labels import churn_label, value_label
    from predictor.training import FeatureCache, churn_plan, planned_cutoffs

    cuts = ["cutoffs.step_days=60", "cutoffs.max_cutoffs=1", "cutoffs.churn_max_cutoffs=2"]
    config = load_config([], [f"data.path={folder}", *cuts])
    with training_on_spark(config, customers=10 * N_CUSTOMERS, buckets=2, spark=spark) as run:
        assert run.sample.customers == run.sample.kept == N_CUSTOMERS
        ours = load_tables(config.data, end_date=resolve_data_end(config)).tables
        tables = run.sample.tables
        assert [name for name, _ in tables.items()] == [name for name, _ in ours.items()]
        for name, frame in ours.items():
            pd.testing.assert_frame_equal(tables.get(name), _canonical(frame), obj=name)
        assert run.sample.sources["orders"].endswith("orders.parquet")
        cutoffs = planned_cutoffs(tables, config)
        assert len(cutoffs) >= 4
        pandas_frames = FeatureCache(tables, config)
        for as_of in [*cutoffs[:2], cutoffs[-1]]:
            spark_frame, pandas_frame = run.features(as_of), pandas_frames(as_of)
            assert_same_frame(spark_frame, pandas_frame)
        assert run.features.transient(cutoffs[-1]) is run.features(cutoffs[-1])
        at = churn_plan(tables, config).train[-2:]
        for target, label in (
            ("churn", lambda c: churn_label(tables, c, config.churn)),
            ("value_13m", lambda c: value_label(tables, c, config.value)),
        ):
            got = run.features.labels(at, target).toPandas()
            got = got.set_index(["as_of", "customer_id"])["label"].sort_index()
            want = pd.concat({c.date(): label(c).astype(float) for c in at}, names=["as_of"])
            assert got.index.equals(want.index) and got.sum() > 0, target
            assert float((got - want).abs().max()) <= 1e-6, target


def assert_same_frame(ours: pd.DataFrame, theirs: pd.DataFrame) -> None:
    """Same customers and columns in order; numbers within 1e-6, missing alike; same text."""
    assert list(ours.index) == list(theirs.index)
    assert list(ours.columns) == list(theirs.columns)
    numbers = theirs.select_dtypes("number").columns
    assert any(c.startswith("bgnbd__") for c in numbers)
    diff = (ours[numbers].astype(float) - theirs[numbers].astype(float)).abs()
    assert float(diff.max().max()) <= 1e-6
    assert ours[numbers].isna().equals(theirs[numbers].isna())
    for col in theirs.columns.difference(numbers):
        assert ours[col].astype(object).equals(theirs[col].astype(object)), col


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
    # the frames of every cutoff the trainer used came from the one planned pass in Spark
    assert result.output.count("spark: building the frames and labels of") == 1
    assert (tmp_path / "models" / "sparky" / "MLmodel").exists()
    client = mlflow.MlflowClient(uri)
    run = client.search_runs([client.get_experiment_by_name("predictor").experiment_id])[0]
    assert run.data.tags["predictor.engine"] == "spark"
    assert run.data.tags["predictor.training_customers"] == str(expected)
    assert run.data.tags["predictor.data_customers"] == str(N_CUSTOMERS)
    assert "churn.model.roc_auc" in run.data.metrics

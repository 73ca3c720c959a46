"""The Spark engine runs predictor's own pandas code per bucket: same customers, same scores.

Runs in the default suite on ``local[2]``; skipped (with the reason) only where pyspark or Java
is absent. Kept small: the suite's one Spark session, a few dozen customers, two CLI runs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from predictor.api import Predictor
from predictor.jobs import score_files

pyspark = pytest.importorskip("pyspark", reason="the Spark extra (predictor[spark]) is absent")
if shutil.which("java") is None:  # pragma: no cover
    pytest.skip("Java is not installed: Spark cannot start", allow_module_level=True)

N_CUSTOMERS = 40


@pytest.fixture(scope="module")
def predictor(trained) -> Predictor:
    return Predictor(trained[0], {})


@pytest.fixture(scope="module")
def folder(business, tmp_path_factory) -> Path:
    """A few customers as a CSV folder, with one customer signed up after the as-of date."""
    from predictor.io import write_tables

    ids = sorted(business.tables.customers["customer_id"])[:N_CUSTOMERS]
    tables = business.tables.subset(ids)
    customers = tables.customers.copy()
    customers.loc[customers.index[0], "signup_date"] = pd.Timestamp("2025-06-29")
    folder = tmp_path_factory.mktemp("spark") / "data"
    write_tables(tables.replace(customers=customers), folder, fmt="csv")
    return folder


def _cli_args(predictor: Predictor, folder: Path, root: Path) -> list[str]:
    from predictor.bundle import save_bundle

    model = save_bundle(predictor.model, root / "model")
    return ["score", "--model", str(model), "--data", str(folder), "--out", str(root / "scores"),
            "--engine", "spark", "--buckets", "3", "--as-of", "2025-06-01", "--drivers", "2"]  # fmt: skip


@pytest.fixture(scope="module")
def cli_run(spark, predictor, folder, tmp_path_factory) -> tuple[Path, list[str], str]:
    """One ``predictor score --engine spark`` run: (its folder, its arguments, its output)."""
    from predictor.cli import app

    root = tmp_path_factory.mktemp("spark_cli")
    args = _cli_args(predictor, folder, root)
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    return root, args, first.output


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("customer_id").reset_index(drop=True)


def test_spark_scores_equal_the_pandas_engine(spark, predictor, folder, cli_run, tmp_path):
    root, _, output = cli_run
    as_of = pd.Timestamp("2025-06-01")
    pandas_run = score_files(predictor, folder, tmp_path / "p.parquet", as_of=as_of, drivers=2)
    counts = (pandas_run.customers, pandas_run.scored, pandas_run.rejected)
    assert counts == (N_CUSTOMERS, N_CUSTOMERS - 1, 1)
    assert "input customers 40 = scored 39 + rejected 1" in output
    ours = _sorted(pd.read_parquet(tmp_path / "p.parquet"))
    theirs = _sorted(spark.read.parquet(str(root / "scores")).toPandas())
    assert list(ours["customer_id"]) == list(theirs["customer_id"])
    for col in ("day_one_value", "value_13m", "churn_risk", "value_13m_driver_1_contribution"):
        np.testing.assert_allclose(theirs[col].astype(float), ours[col].astype(float), atol=1e-6)
    for col in ("value_segment", "risk_band", "churn_risk_driver_1_feature", "model_version"):
        assert list(theirs[col]) == list(ours[col])
    assert (pd.to_datetime(theirs["as_of"]) == as_of).all()
    rejects = spark.read.parquet(str(root / "scores_rejects")).toPandas()
    assert len(rejects) == 1 and "signed up after" in rejects["reason"].iloc[0]


def test_cli_spark_engine_replaces_only_its_own_dataset(cli_run):
    from predictor.cli import app

    root, args, _ = cli_run
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output
    assert (root / "scores" / "_SUCCESS").exists()
    assert not [p for p in root.iterdir() if ".predictor-" in p.name]
    stranger = root / "not_a_dataset"
    stranger.mkdir()
    (stranger / "keep.txt").write_text("mine")
    refused = CliRunner().invoke(
        app, [str(stranger) if a == str(root / "scores") else a for a in args]
    )
    assert refused.exit_code != 0
    assert (stranger / "keep.txt").read_text() == "mine"


def test_spark_scoring_frame_equals_predictor_features(spark, predictor, folder, tmp_path):
    """``output="features"`` writes the scoring frame (the input of mlflow's spark_udf)."""
    from predictor.spark_engine import score_with_spark

    as_of = pd.Timestamp("2025-06-01")
    run = score_with_spark(predictor, folder, str(tmp_path / "frame"), str(tmp_path / "rejects"),
                           as_of=as_of, output="features", buckets=2, spark=spark)  # fmt: skip
    assert (run.customers, run.scored, run.rejected) == (N_CUSTOMERS, N_CUSTOMERS - 1, 1)
    from predictor.scoring import pyfunc_frame

    ours = _sorted(pyfunc_frame(predictor.features(folder, as_of)))
    theirs = _sorted(spark.read.parquet(str(tmp_path / "frame")).toPandas())
    assert list(theirs.columns) == list(ours.columns)
    assert list(theirs["customer_id"]) == list(ours["customer_id"])
    numbers = [c for c in ours.columns if pd.api.types.is_float_dtype(ours[c])]
    assert len(numbers) > 50
    np.testing.assert_allclose(
        theirs[numbers].to_numpy(dtype=float), ours[numbers].to_numpy(dtype=float),
        atol=1e-6, rtol=0, equal_nan=True,
    )  # fmt: skip
    for col in [c for c in ours.columns if c not in numbers]:
        assert list(theirs[col]) == list(ours[col]), col


def test_tables_are_found_in_any_case_as_warehouse_exports_name_them(tmp_path):
    from predictor.contract.errors import ContractError
    from predictor.spark_engine import locate_tables

    (tmp_path / "CUSTOMERS").mkdir()
    (tmp_path / "Orders.parquet").write_bytes(b"")
    found = locate_tables(None, str(tmp_path), {})  # local folders need no Spark session
    assert found == {"customers": f"{tmp_path}/CUSTOMERS", "orders": f"{tmp_path}/Orders.parquet"}
    (tmp_path / "orders.csv").write_text("customer_id\n")
    with pytest.raises(ContractError, match="orders: 2 sources for one table"):
        locate_tables(None, str(tmp_path), {})


def test_cli_passes_dataset_uris_to_spark_as_written(predictor, tmp_path, monkeypatch):
    """``--out``/``--rejects`` URIs reach Spark untouched (a path would fold ``s3a://`` to ``s3a:/``)."""
    from predictor.cli import app
    from predictor.spark_engine import SparkRun

    seen = {}

    def fake(_predictor, data, out, rejects, **_kw):
        seen.update(data=data, out=out, rejects=rejects)
        return SparkRun(pd.Timestamp("2025-06-01"), 3, 2, 1, 2)

    monkeypatch.setattr("predictor.spark_engine.score_with_spark", fake)
    args = _cli_args(predictor, tmp_path, tmp_path)
    args[args.index("--out") + 1] = "s3a://bucket/scores"
    args[args.index("--data") + 1] = "s3a://bucket/in/"
    result = CliRunner().invoke(app, [*args, "--rejects", "s3a://bucket/rejects"])
    assert result.exit_code == 0, result.output
    assert seen == {"data": "s3a://bucket/in/", "out": "s3a://bucket/scores",
                    "rejects": "s3a://bucket/rejects"}  # fmt: skip
    assert "input customers 3 = scored 2 + rejected 1" in result.output


def test_a_job_out_of_java_heap_is_one_line_naming_the_remedies(spark):
    from predictor.spark_engine import SparkMemoryError, bucketed, default_buckets

    frames = {"customers": spark.createDataFrame(pd.DataFrame({"customer_id": ["a", "b"]}))}
    with pytest.raises(SparkMemoryError, match="--buckets") as caught, bucketed(spark, frames, 2):
        raise RuntimeError("py4j...: java.lang.OutOfMemoryError: Java heap space")
    assert "PREDICTOR_SPARK_DRIVER_MEMORY" in str(caught.value)
    assert default_buckets(spark, 10) == 4  # two per core of local[2]
    assert default_buckets(spark, 1_000_000) == 50  # 20,000 customers per bucket


def test_allow_missing_reaches_the_buckets(spark, predictor, folder, tmp_path):
    """Scoring without most signal tables, allowed: Spark scores as the pandas engine does."""
    from predictor.spark_engine import score_with_spark

    absent = ("interactions", "nps", "onboarding", "support_tickets")
    data = tmp_path / "data"
    shutil.copytree(folder, data)
    for table in absent:
        (data / f"{table}.csv").unlink()
    as_of = pd.Timestamp("2025-06-01")
    pandas_run = score_files(
        predictor, data, tmp_path / "p.parquet", as_of=as_of, allow_missing=absent
    )
    run = score_with_spark(predictor, data, str(tmp_path / "s"), str(tmp_path / "r"),
                           as_of=as_of, allow_missing=absent, buckets=2, spark=spark)  # fmt: skip
    assert (run.scored, run.rejected) == (pandas_run.scored, pandas_run.rejected) == (39, 1)
    ours = _sorted(pd.read_parquet(tmp_path / "p.parquet"))
    theirs = _sorted(spark.read.parquet(str(tmp_path / "s")).toPandas())
    np.testing.assert_allclose(theirs["churn_risk"], ours["churn_risk"], atol=1e-6)

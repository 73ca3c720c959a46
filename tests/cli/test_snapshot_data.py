"""Single-snapshot churn data through the CLI: train, score, and the cases that used to crash.

The snapshot sample (``predictor sample --mode snapshot``) holds one row per customer, an empty
``acquisition_channel`` and churn only in the last month, so no earlier cutoff has a churner:
churn is learned on a customer split and the other targets train only where the data allow.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from predictor.bundle import find_bundle
from predictor.cli import app

runner = CliRunner()
HORIZON = ["--set", "churn.horizon_days=31"]
FAST = [
    "--set", "model.n_estimators=150", "--set", "model.learning_rate=0.1",
    "--set", "cutoffs.max_cutoffs=3", "--set", "model.probabilistic_features=false",
]  # fmt: skip
"""Speed only (fewer rounds and value cutoffs): the defaults are measured by
``benchmarks/bench_snapshot.py`` (numbers in benchmarks/analysis.md, "Snapshot data")."""
AS_OF = "2023-12-31"


def metadata(root: Path, name: str) -> dict:
    """The metadata.json of a trained model folder (the bundle inside the MLflow folder)."""
    return json.loads((find_bundle(root / "models" / name) / "metadata.json").read_text())


def invoke(*args: str):
    return runner.invoke(app, list(args))


def sample(folder: Path, customers: int, seed: int) -> pd.DataFrame:
    """Write a snapshot sample; return its truth (true churn probability and outcome)."""
    result = invoke(
        "sample", "--mode", "snapshot", "--out", str(folder), "--customers", str(customers),
        "--seed", str(seed),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return pd.read_parquet(folder.parent / f"{folder.name}_truth" / f"truth_{AS_OF}.parquet")


def train(root: Path, data: Path, name: str, *extra: str):
    return invoke(
        "train", "--data", str(data), "--tracking-uri", f"sqlite:///{root}/mlflow.db",
        "--models-dir", str(root / "models"), "--set", f"model_name={name}", *extra,
    )  # fmt: skip


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory):
    """Train on a 1,200-customer snapshot with only the churn horizon set (and FAST)."""
    root = tmp_path_factory.mktemp("snapshot")
    data = root / "data"
    sample(data, 1200, seed=1)
    result = train(root, data, "snap", *HORIZON, *FAST)
    assert result.exit_code == 0, result.output
    return root, data, result.output


def test_snapshot_trains_with_only_the_horizon_set(snapshot):
    root, _, output = snapshot
    assert "Traceback" not in output
    assert "acquisition_channel" in output  # the empty column is named, and left out
    meta = metadata(root, "snap")
    info = meta["info"]
    assert info["evaluation"]["churn"] == "customer_split"
    assert info["evaluation"]["value_13m"] == "time_split"
    assert "customer__acquisition_channel" in info["dropped_features"]["churn"]
    assert "churn" in info["targets"]
    for target, reason in info["skipped"].items():
        assert target not in info["targets"] and reason
    mlflow.set_tracking_uri(f"sqlite:///{root}/mlflow.db")
    run = mlflow.search_runs(experiment_names=["predictor"], output_format="list")[0]
    assert run.data.tags["evaluation.churn"] == "customer_split"
    for target in info["skipped"]:
        assert run.data.tags[f"skipped.{target}"]
    assert all(v == v for v in meta["metrics"].values())  # no NaN metric recorded


def test_snapshot_reaches_the_truth_on_held_out_customers(snapshot, tmp_path):
    """Score an independent snapshot (new customers): >= 95% of the truth's ROC AUC."""
    root, _, _ = snapshot
    fresh = tmp_path / "fresh"
    truth = sample(fresh, 2000, seed=2)
    out = tmp_path / "scores.csv"
    result = invoke(
        "score", "--model", str(root / "models" / "snap"), "--data", str(fresh),
        "--out", str(out), "--as-of", AS_OF,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    scores = pd.read_csv(out, dtype={"customer_id": str}).merge(truth, on="customer_id")
    assert len(scores) == len(truth)
    model_auc = roc_auc_score(scores["churned"], scores["churn_risk"])
    truth_auc = roc_auc_score(scores["churned"], scores["true_churn_prob"])
    assert model_auc >= 0.95 * truth_auc, (model_auc, truth_auc)
    skipped = metadata(root, "snap")["info"]["skipped"]
    for target, column in (("day_one", "day_one_value"), ("value_13m", "value_13m")):
        if target in skipped:
            assert scores[column].isna().all()  # a skipped target leaves its column empty


def test_skipped_target_leaves_scores_empty_and_loads_everywhere(snapshot, tmp_path):
    root, data, _ = snapshot
    from predictor import load_model

    predictor = load_model(str(root / "models" / "snap"))
    skipped = predictor.model.info["skipped"]
    assert skipped, "the 1,200-customer snapshot has too few Day One test customers"
    scores = predictor.score(data, as_of=AS_OF)
    assert scores["churn_risk"].notna().all()
    if "day_one" in skipped:
        assert scores["day_one_value"].isna().all()
    pyfunc = mlflow.pyfunc.load_model(str(root / "models" / "snap"))
    frame = predictor.features(data, AS_OF).head(20)
    from predictor.scoring import pyfunc_frame

    out = pyfunc.predict(pyfunc_frame(frame))
    assert len(out) == 20 and out["churn_risk"].notna().all()
    report = tmp_path / "report.html"
    result = invoke("report", "--model", str(root / "models" / "snap"), "--out", str(report))
    assert result.exit_code == 0, result.output
    html = report.read_text()
    for target in skipped:
        assert f"{target}: not trained" in html


def test_validate_warns_about_the_empty_column(snapshot):
    _, data, _ = snapshot
    result = invoke("validate", str(data))
    assert result.exit_code == 0, result.output
    assert "customers.acquisition_channel" in result.output and "empty" in result.output


def test_explicit_target_the_cutoffs_cannot_serve_is_a_clear_error(snapshot):
    root, data, _ = snapshot
    result = train(
        root, data, "short", *HORIZON, *FAST, "--set", "cutoffs.dates=[2023-12-31]",
        "--models", "churn,value_13m",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "value_13m" in result.output and "Traceback" not in result.output
    assert not (root / "models" / "short").exists()


def test_unknown_target_is_a_usage_error(snapshot):
    root, data, _ = snapshot
    result = train(root, data, "bad", "--models", "churn,ltv")
    assert result.exit_code == 2 and "ltv" in result.output


def test_churn_without_an_ended_subscription_is_never_registered(snapshot, tmp_path):
    """No subscription ever ends: churn has one class, so `--models churn` stops, unregistered."""
    root, data, _ = snapshot
    flat = tmp_path / "flat"
    flat.mkdir()
    for path in data.iterdir():
        frame = pd.read_csv(path)
        if path.stem == "subscriptions":
            frame["end_date"] = None
        frame.to_csv(flat / path.name, index=False)
    result = train(tmp_path, flat, "flat", *HORIZON, *FAST, "--models", "churn")
    assert result.exit_code == 2
    assert "churn" in result.output and "both churners" in result.output
    assert "Traceback" not in result.output
    store = f"sqlite:///{tmp_path}/mlflow.db"
    client = mlflow.MlflowClient(tracking_uri=store, registry_uri=store)
    assert not client.search_model_versions("name='predictor'")

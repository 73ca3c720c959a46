"""End to end through the CLI: sample -> validate -> train (tracked) -> score -> reload."""

import json
import shutil
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from typer.testing import CliRunner

import predictor
from predictor.cli import app
from predictor.output_schema import SCORES, as_written
from predictor.scoring import pyfunc_frame

runner = CliRunner()

FAST = [
    "--set",
    "model.n_estimators=80",
    "--set",
    "model.n_jobs=1",
    "--set",
    "model.learning_rate=0.15",
    "--set",
    "cutoffs.max_cutoffs=3",
    "--set",
    "cutoffs.churn_max_cutoffs=4",
    "--set",
    "cutoffs.step_days=60",
]


def invoke(*args: str):
    result = runner.invoke(app, list(args), catch_exceptions=False)
    return result


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    data = root / "data"
    result = invoke("sample", "--out", str(data), "--customers", "800", "--seed", "3")
    assert result.exit_code == 0, result.output
    uri = f"sqlite:///{root}/mlflow.db"
    result = invoke(
        "train",
        "--data",
        str(data),
        "--tracking-uri",
        uri,
        "--models-dir",
        str(root / "models"),
        "--set",
        "model_name=e2e",
        *FAST,
    )
    assert result.exit_code == 0, result.output
    return root, data, uri


def test_validate_accepts_the_sample(workspace):
    _, data, _ = workspace
    result = invoke("validate", str(data), "--set", "data.end_date=2030-01-01")
    assert result.exit_code == 0, result.output
    assert "All checks passed" in result.output


def test_validate_fails_on_bad_data(tmp_path):
    (tmp_path / "customers.csv").write_text("customer_id,signup_date\n1,2024-01-01\n1,2024-01-02\n")
    (tmp_path / "orders.csv").write_text("customer_id,order_date,amount\n1,2024-02-01,10\n")
    result = invoke("validate", str(tmp_path))
    assert result.exit_code == 1
    assert "customers" in result.output and "customer_id" in result.output


def test_training_run_is_recorded_in_mlflow(workspace):
    root, _, uri = workspace
    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(experiment_names=["predictor"], output_format="list")
    assert len(runs) == 1
    run = runs[0]
    assert run.data.params["churn.horizon_days"] == "90"
    assert run.data.metrics["churn.model.roc_auc"] > 0.5
    assert "value_13m.bgnbd_gamma_gamma.normalized_gini" in run.data.metrics
    assert run.data.tags["config_digest"]
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id, "plots")}
    assert "plots/gains_value_13m.png" in artifacts and "plots/calibration_churn.png" in artifacts
    version = mlflow.MlflowClient().get_model_version_by_alias("predictor", "champion")
    assert version.run_id == run.info.run_id


def test_score_then_reload_gives_identical_numbers(workspace):
    root, data, uri = workspace
    out = root / "scores.parquet"
    rejects = root / "rejects.csv"
    result = invoke(
        "score",
        "--model",
        str(root / "models" / "e2e"),
        "--data",
        str(data),
        "--out",
        str(out),
        "--rejects",
        str(rejects),
        "--drivers",
        "2",
    )
    assert result.exit_code == 0, result.output
    scores = pd.read_parquet(out)
    n_customers = len(pd.read_csv(data / "customers.csv"))
    assert len(scores) + len(pd.read_csv(rejects)) == n_customers
    expected_cols = [
        "customer_id",
        "as_of",
        "day_one_value",
        "value_13m",
        "churn_risk",
        "value_segment",
        "risk_band",
        "model_version",
    ]
    assert list(scores.columns[:8]) == expected_cols
    assert "churn_risk_driver_1" in scores.columns

    model = predictor.load_model(root / "models" / "e2e")
    as_of = scores["as_of"].iloc[0]
    api_scores = model.score(data, as_of=as_of)
    pd.testing.assert_series_equal(
        api_scores.set_index("customer_id")["value_13m"].sort_index(),
        scores.set_index("customer_id")["value_13m"].sort_index(),
        check_exact=False,
        rtol=1e-6,
    )
    frame = pyfunc_frame(model.features(model._tables(data), as_of))
    pyfunc = mlflow.pyfunc.load_model(str(root / "models" / "e2e"))
    via_mlflow = pyfunc.predict(frame)
    merged = via_mlflow.set_index("customer_id")[["value_13m", "churn_risk"]].sort_index()
    direct = api_scores.set_index("customer_id")[["value_13m", "churn_risk"]].sort_index()
    pd.testing.assert_frame_equal(merged, direct, check_exact=False, rtol=1e-6)

    registered = predictor.load_model("models:/predictor@champion", tracking_uri=uri)
    assert registered.version == model.version


def test_every_command_has_help():
    for command in ("sample", "validate", "features", "train", "score", "config-schema"):
        result = invoke(command, "--help")
        assert result.exit_code == 0 and "Usage" in result.output


def test_unknown_setting_is_a_clear_error(tmp_path):
    result = invoke("train", "--data", str(tmp_path), "--set", "churn.horizon_dayz=3")
    assert result.exit_code == 2
    assert "churn.horizon_dayz" in result.output


def test_features_export(workspace, tmp_path):
    _, data, _ = workspace
    out = tmp_path / "features.parquet"
    result = invoke(
        "features", "--data", str(data), "--as-of", "2024-05-31", "--out", str(out), "--labels"
    )
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(out)
    assert "value_13m" in frame.columns and frame["customer_id"].is_unique


def score_args(root, data, out, *extra: str) -> list[str]:
    model = str(root / "models" / "e2e")
    return ["score", "--model", model, "--data", str(data), "--out", str(out), *extra]


def test_parquet_input_is_scored_in_chunks_like_the_api(workspace, tmp_path):
    root, data, _ = workspace
    from predictor.io import load_tables, write_tables

    model = predictor.load_model(root / "models" / "e2e")
    tables = load_tables(model.model.config.data, data).raise_for_errors()
    parquet = write_tables(tables, tmp_path / "pq", fmt="parquet")["customers"].parent
    out = tmp_path / "scores.parquet"
    result = invoke(*score_args(root, parquet, out, "--chunk-size", "150", "--as-of", "2025-03-31"))
    assert result.exit_code == 0, result.output
    assert "input customers 800 = scored" in result.output
    expected = model.score(data, as_of="2025-03-31")
    pd.testing.assert_frame_equal(
        pd.read_parquet(out), as_written(expected, SCORES), check_exact=True
    )


def test_interrupted_score_leaves_no_output(workspace, tmp_path, monkeypatch):
    root, data, _ = workspace
    out = tmp_path / "scores.csv"
    out.write_text("previous run\n")
    calls = []
    import predictor.jobs.score_job as score_job

    real = score_job.score

    def failing_second_chunk(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("killed while scoring the second chunk")
        return real(*args, **kwargs)

    monkeypatch.setattr(score_job, "score", failing_second_chunk)
    with pytest.raises(RuntimeError, match="second chunk"):
        invoke(*score_args(root, data, out, "--chunk-size", "300"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.csv"]
    assert out.read_text() == "previous run\n"


def readme_example(readme: Path) -> str:
    """The python block of the README section "From your own code"."""
    section = readme.read_text(encoding="utf-8").split("## From your own code", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_readme_example_runs(workspace, tmp_path, monkeypatch):
    root, data, _ = workspace
    (tmp_path / "models").mkdir()
    shutil.copytree(root / "models" / "e2e", tmp_path / "models" / "sample")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "sample").symlink_to(data)
    monkeypatch.chdir(tmp_path)
    code = readme_example(Path(__file__).parents[2] / "README.md")
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    assert len(namespace["scores"]) > 0


def test_signature_covers_the_scoring_frame_and_params_reach_predict(workspace):
    from mlflow.models import validate_serving_input

    from predictor.scoring import scoring_columns

    root, data, _ = workspace
    folder = str(root / "models" / "e2e")
    signature = mlflow.models.get_model_info(folder).signature
    inputs = {c.name: c for c in signature.inputs.inputs}
    assert inputs["customer_id"].required
    assert not any(c.required for name, c in inputs.items() if name != "customer_id")
    assert {c.type.name for c in inputs.values()} == {"double", "string"}
    model = predictor.load_model(folder)
    assert set(scoring_columns(model.model)) <= set(inputs)
    assert {p.name for p in signature.params.params} == {"as_of", "drivers"}

    frame = pyfunc_frame(model.features(model._tables(data), "2025-03-31")).head(20)
    params = {"as_of": "2025-03-31", "drivers": 2}
    via_pyfunc = mlflow.pyfunc.load_model(folder).predict(frame, params=params)
    assert (via_pyfunc["as_of"] == pd.Timestamp("2025-03-31")).all()
    assert "churn_risk_driver_2" in via_pyfunc.columns
    body = {
        "dataframe_split": json.loads(frame.head(3).to_json(orient="split", index=False)),
        "params": params,
    }
    via_rest = validate_serving_input(folder, json.dumps(body))
    assert (via_rest["as_of"] == pd.Timestamp("2025-03-31")).all()
    pd.testing.assert_frame_equal(
        via_rest[["customer_id", "value_13m", "churn_risk", "churn_risk_driver_2"]],
        via_pyfunc.head(3)[["customer_id", "value_13m", "churn_risk", "churn_risk_driver_2"]],
        check_exact=False,
        rtol=1e-9,
    )


def test_training_run_lineage(workspace):
    from predictor.cli import PROJECT_DIR
    from predictor.tracking import git_commit

    root, data, uri = workspace
    mlflow.set_tracking_uri(uri)
    run = mlflow.search_runs(experiment_names=["predictor"], output_format="list")[0]
    inputs = {d.dataset.name: d for d in run.inputs.dataset_inputs}
    assert set(inputs) == {p.stem for p in data.glob("*.csv")}
    for name, item in inputs.items():
        assert json.loads(item.dataset.source)["uri"] == str((data / f"{name}.csv").resolve())
        assert {t.key: t.value for t in item.tags}["mlflow.data.context"] == "training"
    assert len({item.dataset.digest for item in inputs.values()}) == len(inputs)
    assert run.data.tags.get("mlflow.source.git.commit") == git_commit(PROJECT_DIR)
    assert run.data.tags["config_digest"]
    logs = mlflow.MlflowClient().list_artifacts(run.info.run_id, "logs")
    assert [a.path for a in logs] == ["logs/train.log"]


def test_score_progress_moves_within_a_chunk(workspace, tmp_path, monkeypatch):
    import predictor.jobs.score_job as score_job
    from predictor.jobs import score_files

    monkeypatch.setattr(score_job, "MIN_PROGRESS_BATCH", 250)
    root, data, _ = workspace
    model = predictor.load_model(root / "models" / "e2e")
    steps: list[int] = []
    run = score_files(model, data, tmp_path / "s.csv", chunk_size=100_000, on_chunk=steps.append)
    assert run.chunks == 1 and len(steps) >= 3
    assert sum(steps) == run.customers


def test_champion_moves_only_when_the_challenger_is_better(workspace, tmp_path):
    root, data, uri = workspace
    weak = [
        *FAST,
        *("--set", "model.n_estimators=1", "--set", "model.max_depth=1"),
        *("--set", "model.value_objective=tweedie", "--set", "model.calibration=none"),
        *("--set", "model.probabilistic_features=false"),
        *("--set", "tracking.experiment=weak", "--set", "model_name=weak"),
    ]
    result = invoke(
        "train", "--data", str(data), "--tracking-uri", uri,
        "--models-dir", str(tmp_path), "--promote", "auto", *weak,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "registered predictor version 2 as challenger" in result.output
    assert "kept v1 as champion: challenger is worse on value_13m.normalized_gini" in result.output
    assert "normalized_gini" in result.output and "roc_auc" in result.output  # full headers
    assert "train churn" in result.output  # the per-target progress bar
    assert "Warning" not in result.output  # library warnings went to the run's log
    client = mlflow.MlflowClient(tracking_uri=uri)
    assert str(client.get_model_version_by_alias("predictor", "champion").version) == "1"
    assert str(client.get_model_version_by_alias("predictor", "challenger").version) == "2"
    for version in ("1", "2"):
        assert (
            "kept champion"
            in client.get_model_version("predictor", version).tags["promotion.v2_vs_v1"]
        )

    client.set_registered_model_alias("predictor", "champion", "2")
    client.set_registered_model_alias("predictor", "challenger", "1")
    result = invoke(
        "promote", "--data", str(data), "--tracking-uri", uri,
        "--metrics", "value_13m.normalized_gini",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "champion v2 vs challenger v1" in result.output
    assert "promoted v1 to champion" in result.output
    assert str(client.get_model_version_by_alias("predictor", "champion").version) == "1"
    assert "promoted" in client.get_model_version("predictor", "2").tags["promotion.v1_vs_v2"]
    client.set_registered_model_alias("predictor", "challenger", "2")


def test_models_uri_without_a_store_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setattr("mlflow.tracking._tracking_service.utils._tracking_uri", None)
    monkeypatch.chdir(tmp_path)
    result = invoke(
        "score", "--model", "models:/predictor@champion",
        "--data", str(tmp_path), "--out", str(tmp_path / "s.csv"),
    )  # fmt: skip
    assert result.exit_code == 2
    assert "no MLflow tracking store" in result.output
    assert not (tmp_path / "mlflow.db").exists()


def test_version_and_fixed_choices_in_help():
    assert invoke("--version").output.strip() == f"predictor {predictor.__version__}"
    for command, choices in (
        ("sample", ["subscription|retail", "csv|parquet"]),
        ("features", ["current|day-one"]),
        ("train", ["never|auto"]),
    ):
        result = invoke(command, "--help")
        assert all(c in result.output for c in choices), result.output
    assert invoke("sample", "--mode", "wholesale").exit_code == 2


def test_library_warnings_go_to_the_log_and_on_screen_only_when_verbose(tmp_path, capsys):
    import logging
    import warnings

    from predictor.cli import captured_output

    log = tmp_path / "run.log"
    with captured_output(False, log):
        warnings.warn("integer column hint", UserWarning, stacklevel=1)
        logging.getLogger("mlflow.models").warning("a message from mlflow")
    text = log.read_text()
    assert "integer column hint" in text and "a message from mlflow" in text
    seen = capsys.readouterr()
    assert "integer column hint" not in seen.err + seen.out
    with captured_output(True):
        warnings.warn("shown when verbose", UserWarning, stacklevel=1)
    assert "shown when verbose" in capsys.readouterr().err

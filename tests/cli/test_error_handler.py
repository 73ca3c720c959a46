"""The CLI handles every expected error in one place: one ``error:`` line, its exit code, no
traceback. Each case hits an error that a command used to catch itself."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from predictor.cli import app
from predictor.errors import PredictorError

runner = CliRunner()


def one_error_line(result, code: int, *words: str) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    text = " ".join(result.output.split())
    for word in words:
        assert word in text, result.output


def short_history(folder: Path) -> Path:
    """Thirty customers with six weeks of orders: no target has a complete label window."""
    folder.mkdir()
    ids = [f"c{i}" for i in range(30)]
    rows = "\n".join(f"{c},2024-01-{1 + i % 28:02d}" for i, c in enumerate(ids))
    (folder / "customers.csv").write_text(f"customer_id,signup_date\n{rows}\n")
    orders = "\n".join(f"{c},2024-02-{1 + i % 10:02d},{10 + i}" for i, c in enumerate(ids))
    (folder / "orders.csv").write_text(f"customer_id,order_date,amount\n{orders}\n")
    return folder


def test_unknown_promote_metric(tmp_path):
    store = f"sqlite:///{tmp_path}/none.db"
    result = runner.invoke(
        app, ["promote", "--data", str(tmp_path), "--metrics", "churn.accuracy",
              "--tracking-uri", store],
    )  # fmt: skip
    one_error_line(result, 2, "--metrics", "churn.accuracy")


def test_missing_tracking_store(tmp_path):
    store = f"sqlite:///{tmp_path}/none.db"
    result = runner.invoke(app, ["promote", "--data", str(tmp_path), "--tracking-uri", store])
    one_error_line(result, 2, "no MLflow tracking store")
    assert not (tmp_path / "none.db").exists()


def test_system_metrics_without_psutil(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "psutil", None)
    result = runner.invoke(
        app, ["train", "--data", str(tmp_path), "--set", "tracking.system_metrics=true"]
    )
    one_error_line(result, 2, "psutil is not installed")


def test_refused_tracking_store_is_one_error_line(tmp_path, monkeypatch):
    """MLflow refuses a ``file://`` store unless told otherwise: said plainly, before training."""
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    data = short_history(tmp_path / "data")
    store = f"file://{tmp_path}/mlruns"
    result = runner.invoke(
        app, ["train", "--data", str(data), "--tracking-uri", store,
              "--models-dir", str(tmp_path / "models")],
    )  # fmt: skip
    one_error_line(result, 2, store, "cannot record the run", "sqlite:///mlflow.db")
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())


def test_too_short_history_to_train(tmp_path):
    data = short_history(tmp_path / "data")
    store = f"sqlite:///{tmp_path}/m.db"
    result = runner.invoke(
        app, ["train", "--data", str(data), "--set", "data.end_date=2024-02-15",
              "--tracking-uri", store, "--models-dir", str(tmp_path / "models")],
    )  # fmt: skip
    one_error_line(result, 2, "no target can be trained")
    assert not (tmp_path / "models" / "sample").exists()


@pytest.mark.parametrize("command", ["score", "report", "explain"])
def test_missing_model_folder(tmp_path, command):
    args = {
        "score": ["--data", str(tmp_path), "--out", str(tmp_path / "s.csv")],
        "report": ["--out", str(tmp_path / "r.html")],
        "explain": ["--data", str(tmp_path), "--customer", "c1"],
    }[command]
    result = runner.invoke(app, [command, "--model", str(tmp_path / "nothing"), *args])
    one_error_line(result, 2, "not a predictor model folder")


def test_unreadable_data_folder_is_a_validation_failure(tmp_path):
    result = runner.invoke(app, ["validate", str(tmp_path / "absent")])
    one_error_line(result, 1, "absent", "does not exist")


def test_errors_raised_for_the_handler_are_predictor_errors(tmp_path):
    from predictor.jobs import InvalidDataError, PromotionError, ScoresFileError, read_scores
    from predictor.tracking import SystemMetricsError
    from predictor.training import UnsupportedTargetError

    for cls in (
        InvalidDataError,
        PromotionError,
        ScoresFileError,
        SystemMetricsError,
        UnsupportedTargetError,
    ):
        assert issubclass(cls, PredictorError), cls
    with pytest.raises(ScoresFileError, match="does not exist"):
        read_scores(tmp_path / "scores.csv")
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ScoresFileError, match="not a scores file"):
        read_scores(tmp_path / "other.csv")

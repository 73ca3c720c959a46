"""No pickle anywhere; every loader (the MLflow pyfunc too) checks the content hash and versions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml

import predictor
from predictor.bundle import ModelLoadError, load_bundle
from predictor.scoring import pyfunc_frame

PICKLE_HEADERS = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")


def copy(model_dir: Path, tmp_path: Path) -> tuple[Path, Path]:
    target = tmp_path / "m"
    shutil.copytree(model_dir, target)
    return target, target / "artifacts" / "bundle"


def edit_metadata(bundle: Path, change) -> None:
    path = bundle / "metadata.json"
    meta = json.loads(path.read_text())
    change(meta)
    path.write_text(json.dumps(meta, indent=1))


def test_no_pickle_anywhere_in_the_model_folder(model_dir):
    files = [p for p in model_dir.rglob("*") if p.is_file()]
    assert not [p for p in files if p.suffix in (".pkl", ".pickle", ".joblib", ".cloudpickle")]
    assert not [p for p in files if p.read_bytes()[:2] in PICKLE_HEADERS]
    flavor = yaml.safe_load((model_dir / "MLmodel").read_text())["flavors"]["python_function"]
    assert "python_model" not in flavor
    assert flavor["loader_module"] == "mlflow.pyfunc.loaders.code_model"
    assert (model_dir / Path(flavor["model_code_path"]).name).is_file()


def test_logged_environment_pins_every_dependency_and_ships_the_source(model_dir):
    lines = [
        line.strip()
        for line in (model_dir / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    names = {line.split("==")[0].lower() for line in lines}
    assert all("==" in line for line in lines), lines
    assert {"xgboost", "pandas", "scikit-learn", "pyarrow", "mlflow", "pydantic"} <= names
    assert "predictor" not in names  # predictor on the public index is another project
    assert (model_dir / "code" / "predictor" / "bundle.py").is_file()
    assert not list((model_dir / "code").rglob("__pycache__"))


def test_pyfunc_scores_like_the_library(model_dir, small_tables):
    model = predictor.load_model(model_dir)
    frame = pyfunc_frame(model.features(small_tables, "2024-12-31"))
    via_mlflow = mlflow.pyfunc.load_model(str(model_dir)).predict(frame)
    direct = model.predict(frame)
    cols = ["value_13m", "churn_risk", "day_one_value"]
    pd.testing.assert_frame_equal(via_mlflow[cols], direct[cols])


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda m: m["info"].update(model_version="forged-1"), id="model_version"),
        pytest.param(lambda m: m["segments"].update(risk_cuts=[0.01, 0.02]), id="risk_cuts"),
        pytest.param(lambda m: m["config"]["churn"].update(horizon_days=30), id="config"),
        pytest.param(lambda m: m.pop("features"), id="removed_field"),
    ],
)
def test_edited_metadata_is_refused_by_every_loader(model_dir, tmp_path, change):
    folder, bundle = copy(model_dir, tmp_path)
    edit_metadata(bundle, change)
    with pytest.raises(ModelLoadError, match="content hash"):
        predictor.load_model(folder)
    with pytest.raises(ModelLoadError, match="content hash"):
        mlflow.pyfunc.load_model(str(folder))


def test_a_replaced_or_added_file_is_refused(model_dir, tmp_path):
    folder, bundle = copy(model_dir, tmp_path)
    (bundle / "python_model.pkl").write_bytes(b"\x80\x04payload")
    with pytest.raises(ModelLoadError, match="content hash"):
        load_bundle(folder)
    (bundle / "python_model.pkl").unlink()
    load_bundle(folder)
    booster = bundle / "churn" / "main.json"
    booster.write_text(booster.read_text().replace('"', '"', 1) + " ")
    with pytest.raises(ModelLoadError, match="content hash"):
        mlflow.pyfunc.load_model(str(folder))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m["versions"].update(predictor="99.0.0"), "saved by predictor 99.0.0, newer"),
        (lambda m: m.update(format_version=3), "format 3, newer than format 2"),
        (lambda m: m.update(format_version=1), "Retrain"),
        (lambda m: m["versions"].update(predictor="banana"), "is not a version"),
        (lambda m: m.update(model_type="other.thing"), "not a predictor model"),
    ],
)
def test_versions_the_loader_cannot_honour_are_refused(model_dir, tmp_path, change, message):
    folder, bundle = copy(model_dir, tmp_path)
    edit_metadata(bundle, change)
    with pytest.raises(ModelLoadError, match=message):
        predictor.load_model(folder)


def test_a_version_refusal_is_one_line_from_the_cli(model_dir, tmp_path, small_csv):
    from typer.testing import CliRunner

    from predictor.cli import app

    folder, bundle = copy(model_dir, tmp_path)
    edit_metadata(bundle, lambda m: m["versions"].update(predictor="99.0.0"))
    out = tmp_path / "scores.csv"
    args = ["score", "--model", str(folder), "--data", str(small_csv), "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "newer than the installed" in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_registered_model_has_no_pickle_and_a_missing_version_is_one_line(
    model_dir, small_tables, small_csv, tmp_path
):
    from typer.testing import CliRunner

    from predictor.cli import app
    from predictor.tracking import MlflowTracker, ModelExample

    model = predictor.load_model(model_dir)
    example = pyfunc_frame(model.features(small_tables, "2024-12-31")).head(5)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    with MlflowTracker(uri, "reliability") as tracker:
        shown = ModelExample(frame=example, inputs=example, outputs=model.predict(example))
        version = tracker.log_model(model_dir / "artifacts" / "bundle", shown, "rel")
    local = Path(mlflow.artifacts.download_artifacts(f"models:/rel/{version}", dst_path=tmp_path))
    files = [p for p in local.rglob("*") if p.is_file()]
    assert files and not [p for p in files if p.read_bytes()[:2] in PICKLE_HEADERS]
    assert not [p for p in files if p.suffix == ".pkl"]
    via_registry = predictor.load_model(f"models:/rel/{version}", tracking_uri=uri)
    assert via_registry.version == model.version
    args = [
        "score",
        "--model",
        "models:/rel/99",
        "--data",
        str(small_csv),
        "--out",
        str(tmp_path / "s.csv"),
        "--tracking-uri",
        uri,
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "models:/rel/99" in result.output

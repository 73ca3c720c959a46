"""Installing a model never removes anything but the previous version of that same model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from predictor.cli import app
from predictor.config import Config
from predictor.errors import OutputError
from predictor.io import ConfigError, load_config

runner = CliRunner()

BAD_NAMES = [".", "", "..", "../x", "/abs", "a/b", ".hidden", "x\\y"]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("name", BAD_NAMES)
def test_model_name_must_be_a_simple_name(name):
    with pytest.raises(ConfigError, match="model_name: must be a simple folder name"):
        load_config([], [f"model_name={json.dumps(name)}"])


@pytest.mark.parametrize("name", ["sample", "churn-2024.06", "A_b.1"])
def test_simple_names_are_accepted(name):
    assert Config(model_name=name).model_name == name


@pytest.mark.parametrize("name", [".", '""', "../x", "/abs"])
def test_train_with_a_path_as_model_name_touches_nothing(tmp_path, small_csv, name):
    models = tmp_path / "models"
    (models / "other-team").mkdir(parents=True)
    (models / "other-team" / "keep.txt").write_text("theirs")
    before = snapshot(tmp_path)
    result = runner.invoke(
        app,
        [
            "train",
            "--data",
            str(small_csv),
            "--models-dir",
            str(models),
            "--set",
            f"model_name={name}",
            "--tracking-uri",
            f"sqlite:///{tmp_path}/m.db",
        ],
    )
    assert result.exit_code == 2, result.output
    assert "model_name" in result.output and "Traceback" not in result.output
    assert snapshot(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models"]


def test_reinstall_replaces_only_that_model(model_dir, tmp_path, trained, business):
    from predictor.bundle import save_bundle
    from predictor.jobs import input_example, install_model
    from predictor.tracking import save_pyfunc

    models = tmp_path / "models"
    shutil.copytree(model_dir, models / "rel")
    (models / "other").mkdir()
    (models / "other" / "keep.txt").write_text("theirs")
    (models / "rel" / "marker.txt").write_text("old version")
    model, _ = trained
    bundle = save_bundle(model, tmp_path / "build" / "bundle")
    example = input_example(model, business.tables)
    install_model(models / "rel", lambda folder: save_pyfunc(bundle, folder, example))
    assert sorted(p.name for p in models.iterdir()) == ["other", "rel"]
    assert (models / "other" / "keep.txt").read_text() == "theirs"
    assert not (models / "rel" / "marker.txt").exists()
    assert (models / "rel" / "MLmodel").is_file()


def test_failed_install_keeps_the_previous_version(model_dir, tmp_path):
    from predictor.jobs import install_model

    models = tmp_path / "models"
    shutil.copytree(model_dir, models / "rel")
    before = snapshot(models)

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        install_model(models / "rel", disk_full)
    assert snapshot(models) == before
    assert sorted(p.name for p in models.iterdir()) == ["rel"]


def test_install_refuses_to_replace_a_folder_that_is_not_a_model(model_dir, tmp_path):
    from predictor.jobs import install_model

    target = tmp_path / "models" / "data"
    target.mkdir(parents=True)
    (target / "customers.csv").write_text("customer_id\n1\n")
    with pytest.raises(OutputError, match="not a predictor model folder"):
        install_model(target, lambda folder: None)
    assert (target / "customers.csv").read_text() == "customer_id\n1\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["data"]

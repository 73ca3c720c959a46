"""`predictor train` refuses what would fail only after training, before any work; the model
folder it installs is readable like any folder the user makes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from predictor.cli import app
from predictor.config import Config
from predictor.errors import OutputError
from predictor.jobs import train_job
from predictor.testing import synthetic_tables
from predictor.tracking import NullTracker

runner = CliRunner()


def train_args(tmp_path: Path, *extra: str) -> list[str]:
    """A train command on a data folder that does not exist: any data reading fails."""
    return [
        "train",
        "--data",
        str(tmp_path / "no-data"),
        "--tracking-uri",
        f"sqlite:///{tmp_path}/m.db",
        *extra,
    ]


def test_a_folder_that_is_not_a_model_is_refused_before_the_data_are_read(tmp_path):
    models = tmp_path / "models"
    (models / "sibling").mkdir(parents=True)
    (models / "sibling" / "keep.txt").write_text("theirs")
    args = train_args(tmp_path, "--models-dir", str(models), "--set", "model_name=sibling")
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert f"{models / 'sibling'} exists and is not a predictor model folder" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models"]
    assert (models / "sibling" / "keep.txt").read_text() == "theirs"


def test_a_models_dir_inside_a_file_is_refused_before_the_data_are_read(tmp_path):
    (tmp_path / "notes.txt").write_text("a file")
    args = train_args(tmp_path, "--models-dir", str(tmp_path / "notes.txt" / "models"))
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "notes.txt is not a folder" in result.output


def test_promote_auto_without_registration_is_refused_up_front(tmp_path):
    args = train_args(
        tmp_path,
        "--models-dir",
        str(tmp_path / "models"),
        "--promote",
        "auto",
        "--set",
        "tracking.register_model=false",
    )
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "--promote auto needs tracking.register_model: true" in result.output
    assert not (tmp_path / "m.db").exists()


def test_the_training_job_checks_the_model_folder_before_training(tmp_path, monkeypatch):
    (tmp_path / "sibling").mkdir()
    monkeypatch.setattr(train_job, "train", lambda *a, **k: pytest.fail("trained first"))
    with pytest.raises(OutputError, match="not a predictor model folder"):
        train_job.run_training(
            synthetic_tables(20), Config(model_name="sibling"), tmp_path, NullTracker()
        )


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o755), (0o027, 0o750)])
def test_an_installed_model_folder_follows_the_umask(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        target = train_job.install_model(
            tmp_path / "m", lambda folder: (folder / "metadata.json").write_text("{}")
        )
    finally:
        os.umask(previous)
    assert stat.S_IMODE(target.stat().st_mode) == mode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]

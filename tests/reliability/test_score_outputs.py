"""The outputs of a score run: scores and rejects both written or neither, never one file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.reliability.conftest import one_line_error as shared_one_line_error
from tests.reliability.conftest import score
from typer.testing import CliRunner

import predictor.io.atomic as atomic
import predictor.jobs.score_job as score_job
from predictor.api import Predictor
from predictor.errors import OutputError
from predictor.jobs import score_files

runner = CliRunner()


def one_line_error(result, *words: str) -> None:
    """The error, its words anywhere in the output (paths make the message wrap)."""
    shared_one_line_error(result, *words, in_line=False)


@pytest.mark.parametrize("rejects", ["out/same.csv", "./out/../out/same.csv"])
def test_rejects_naming_the_scores_file_is_refused_up_front(
    model_dir, small_csv, tmp_path, monkeypatch, rejects
):
    monkeypatch.chdir(tmp_path)
    result = score(model_dir, small_csv, "out/same.csv", "--rejects", rejects)
    one_line_error(result, "same file", "out/same.csv")
    assert not (tmp_path / "out").exists()


def test_score_files_refuses_one_file_for_scores_and_rejects(trained, small_csv, tmp_path):
    out = tmp_path / "same.parquet"
    with pytest.raises(OutputError, match="same file"):
        score_files(Predictor(trained[0], {}), small_csv, out, tmp_path / "." / out.name)
    assert list(tmp_path.iterdir()) == []


def test_an_out_path_that_is_a_folder_leaves_the_rejects_untouched(model_dir, small_csv, tmp_path):
    out, rejects = tmp_path / "dir.csv", tmp_path / "dir_rejects.csv"
    out.mkdir()
    rejects.write_text("old\n")
    one_line_error(score(model_dir, small_csv, out), f"cannot write {out}: Is a directory")
    assert rejects.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.csv", "dir_rejects.csv"]


def test_a_failed_move_of_the_scores_leaves_both_previous_files(
    model_dir, small_csv, tmp_path, monkeypatch
):
    out, rejects = tmp_path / "s.csv", tmp_path / "s_rejects.csv"
    out.write_text("old scores\n")
    rejects.write_text("old rejects\n")
    real = os.replace

    def full_disk_for_scores(src, dst):
        if Path(dst) == out:
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(atomic.os, "replace", full_disk_for_scores)
    one_line_error(score(model_dir, small_csv, out), f"cannot write {out}", "No space left")
    assert out.read_text() == "old scores\n"
    assert rejects.read_text() == "old rejects\n"


def test_a_folder_appearing_during_the_run_leaves_the_rejects_untouched(
    trained, small_csv, tmp_path, monkeypatch
):
    out, rejects = tmp_path / "dir.csv", tmp_path / "dir_rejects.csv"
    rejects.write_text("old\n")
    monkeypatch.setattr(score_job, "check_outputs", lambda *paths: out.mkdir())
    with pytest.raises(OutputError, match="Is a directory"):
        score_files(Predictor(trained[0], {}), small_csv, out)
    assert rejects.read_text() == "old\n"


def test_spark_rejects_naming_the_scores_dataset_is_refused_up_front(
    model_dir, small_csv, tmp_path
):
    out = f"{tmp_path}/scores"
    result = score(model_dir, small_csv, out, "--rejects", f"{out}/", "--engine", "spark")
    one_line_error(result, "--rejects and --out are the same dataset")
    assert list(tmp_path.iterdir()) == []


def _fixed_end(trained, end) -> Predictor:
    """The trained model as if it had been trained with ``data.end_date: end``."""
    import dataclasses

    model = trained[0]
    data = model.config.data.model_copy(update={"end_date": end})
    config = model.config.model_copy(update={"data": data})
    return Predictor(dataclasses.replace(model, config=config), {})


def test_a_model_data_end_is_named_and_can_be_moved_for_later_data(trained, small_csv, tmp_path):
    """A model trained with data.end_date set aside every later row of new data, unexplained."""
    import pandas as pd

    from predictor.datasets import latest_event
    from predictor.io import load_tables

    last = latest_event(load_tables(None, small_csv, end_date="2099-12-31").tables).normalize()
    end = (last - pd.Timedelta(days=60)).date()
    model = _fixed_end(trained, end)
    run = score_files(model, small_csv, tmp_path / "a.csv")
    notes = [w.message for w in run.warnings if "model's data.end_date" in w.message]
    assert len(notes) == 1 and str(end) in notes[0] and "--data-end" in notes[0]
    assert run.as_of.date() == end
    later = score_files(model, small_csv, tmp_path / "b.csv", data_end=last.date().isoformat())
    assert later.as_of.date() == last.date()
    assert not [w for w in later.warnings if w.check == "after_end_date"]
    assert later.scored + later.rejected == later.customers
    with pytest.raises(ValueError, match="data_end"):
        score_files(model, small_csv, tmp_path / "c.csv", data_end="31/12/2024")
    in_memory = model.score(small_csv, data_end=last.date())  # the API moves it too
    assert (in_memory["as_of"] == last).all() and len(in_memory) == later.scored

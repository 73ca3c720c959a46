"""Clean interruption: SIGTERM and kill -9 leave nothing behind for long; one writer per output."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

import predictor
from predictor.cli import app
from predictor.jobs import score_files
from predictor.runfiles import SPILL_PREFIX, lock_path, output_lock

runner = CliRunner()
SRC = Path(__file__).resolve().parents[2] / "src"


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def start_score(model_dir: Path, data: Path, out: Path) -> subprocess.Popen:
    """``predictor score`` in a child process, in small chunks so that it runs a while."""
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    args = ["score", "--model", str(model_dir), "--data", str(data), "--out", str(out)]
    return subprocess.Popen(
        [sys.executable, "-m", "predictor", *args, "--chunk-size", "4", "--drivers", "3"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_until_writing(child: subprocess.Popen, folder: Path, timeout: float = 240) -> None:
    """Wait until the child has its spill folder and the temporary output file open."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        names = leftovers(folder)
        if any(n.startswith(SPILL_PREFIX) for n in names) and any(
            n.endswith(".tmp") for n in names
        ):
            return
        assert child.poll() is None, child.communicate()
        time.sleep(0.05)
    child.kill()
    raise AssertionError("the child never started writing")


def test_sigterm_removes_temporary_files_and_spill(model_dir, small_parquet, tmp_path):
    out = tmp_path / "scores.parquet"
    child = start_score(model_dir, small_parquet, out)
    wait_until_writing(child, tmp_path)
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=120)
    assert child.returncode == 143, err.decode()
    assert "stopped by SIGTERM" in err.decode()
    assert leftovers(tmp_path) == []
    assert not out.exists()


def test_leftovers_of_a_killed_run_are_removed_by_the_next(model_dir, small_parquet, tmp_path):
    out = tmp_path / "scores.parquet"
    child = start_score(model_dir, small_parquet, out)
    wait_until_writing(child, tmp_path)
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=60)
    left = leftovers(tmp_path)
    assert lock_path(out).name in left and any(n.startswith(SPILL_PREFIX) for n in left)
    args = ["score", "--model", str(model_dir), "--data", str(small_parquet), "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "removed the leftover of an interrupted run" in result.output
    assert leftovers(tmp_path) == []
    assert len(pd.read_parquet(out)) > 0


def test_a_second_run_on_the_same_output_fails_clearly(model_dir, small_csv, tmp_path):
    out = tmp_path / "scores.csv"
    out.write_text("first run's file\n")
    args = ["score", "--model", str(model_dir), "--data", str(small_csv), "--out", str(out)]
    with output_lock(out):
        result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert f"pid {os.getpid()}" in result.output and "another predictor run" in result.output
    assert out.read_text() == "first run's file\n"
    assert leftovers(tmp_path) == []


def test_a_stale_lock_is_taken_over(model_dir, small_csv, tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    out = tmp_path / "scores.csv"
    import socket

    lock_path(out).write_text(f"{dead.pid} {socket.gethostname()}\n")
    args = ["score", "--model", str(model_dir), "--data", str(small_csv), "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert leftovers(tmp_path) == []


def test_spill_folder_sits_beside_the_output_or_in_the_scratch_dir(
    model_dir, small_parquet, tmp_path
):
    model = predictor.load_model(model_dir)
    seen: list[list[str]] = []
    for workdir, where in ((None, tmp_path / "out"), (tmp_path / "scratch", tmp_path / "scratch")):
        (tmp_path / "out").mkdir(exist_ok=True)
        seen.clear()
        score_files(
            model,
            small_parquet,
            tmp_path / "out" / "scores.parquet",
            chunk_size=50,
            workdir=workdir,
            on_chunk=lambda n, where=where: seen.append(leftovers(where)),
        )
        assert seen and all(any(n.startswith(SPILL_PREFIX) for n in names) for names in seen)
        assert not [n for n in leftovers(where) if n.startswith(SPILL_PREFIX)]

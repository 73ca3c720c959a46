"""Files that belong together (scores and rejects) are moved into place together: all or none."""

from __future__ import annotations

import errno
import os
from contextlib import ExitStack
from pathlib import Path

import pandas as pd
import pytest

import predictor.io.atomic as atomic
from predictor.errors import OutputError
from predictor.io.atomic import AtomicFrameWriter, commit_together


def write_pair(first: Path, second: Path) -> None:
    """Write one row into each file and move both into place together."""
    with ExitStack() as stack:
        writers = [stack.enter_context(AtomicFrameWriter(p)) for p in (first, second)]
        for writer in writers:
            writer.write(pd.DataFrame({"customer_id": ["C1"], "value": [1.0]}))
        commit_together(*writers)


def previous_files(tmp_path: Path) -> tuple[Path, Path]:
    first, second = tmp_path / "scores.csv", tmp_path / "scores_rejects.csv"
    first.write_text("old scores\n")
    second.write_text("old rejects\n")
    return first, second


def test_both_files_appear_and_no_temporary_file_is_left(tmp_path):
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    write_pair(first, second)
    assert pd.read_csv(first)["customer_id"].tolist() == ["C1"]
    assert pd.read_csv(second)["customer_id"].tolist() == ["C1"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "b.csv"]


def test_a_target_that_is_a_folder_leaves_the_other_file_untouched(tmp_path):
    folder, other = tmp_path / "dir.csv", tmp_path / "dir_rejects.csv"
    folder.mkdir()
    other.write_text("old rejects\n")
    with pytest.raises(OutputError, match="dir.csv: Is a directory"):
        write_pair(other, folder)
    assert other.read_text() == "old rejects\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.csv", "dir_rejects.csv"]


def fail_moves_onto(path: Path, monkeypatch) -> None:
    """Make the move of a finished file onto ``path`` fail, as on a full disk."""
    real = os.replace

    def replace(src, dst):
        if Path(dst) == path:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(atomic.os, "replace", replace)


def test_a_failed_later_move_puts_the_earlier_file_back(tmp_path, monkeypatch):
    first, second = previous_files(tmp_path)
    fail_moves_onto(second, monkeypatch)
    with pytest.raises(OutputError, match="No space left on device"):
        write_pair(first, second)
    assert first.read_text() == "old scores\n"
    assert second.read_text() == "old rejects\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [first.name, second.name]


def test_a_failed_later_move_removes_an_earlier_file_that_was_new(tmp_path, monkeypatch):
    first, second = tmp_path / "new.csv", tmp_path / "new_rejects.csv"
    fail_moves_onto(second, monkeypatch)
    with pytest.raises(OutputError):
        write_pair(first, second)
    assert list(tmp_path.iterdir()) == []

"""``predictor sample`` into a folder that already holds a sample of another format."""

from __future__ import annotations

from typer.testing import CliRunner

from predictor.cli import app

runner = CliRunner()


def test_a_sample_is_not_written_beside_one_of_another_format(tmp_path):
    out = tmp_path / "data"
    args = ["sample", "--out", str(out), "--customers", "60", "--seed", "1"]
    assert runner.invoke(app, [*args, "--format", "parquet"]).exit_code == 0
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    result = runner.invoke(app, [*args, "--format", "csv"])
    assert result.exit_code == 2, result.output
    assert "two sources" in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before  # nothing touched
    again = runner.invoke(app, [*args, "--format", "parquet"])  # same format: rewritten
    assert again.exit_code == 0, again.output

"""Fixtures of the reliability suite: one installed model folder and tiny data folders.

The model is the session model of ``tests/conftest.py`` (trained once), installed as MLflow
pyfunc folder the way ``predictor train`` does; the data are its first customers, so that
every scoring run here takes a second or two.
"""

from __future__ import annotations

from pathlib import Path

import pytest

N_SCORED = 120
"""Customers in the small scoring folders."""


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory, trained, business) -> Path:
    """A model folder as ``predictor train`` leaves it: bundle inside an MLflow pyfunc folder."""
    from predictor.bundle import save_bundle
    from predictor.jobs import input_example, install_model
    from predictor.tracking import save_pyfunc

    model, evaluation = trained
    root = tmp_path_factory.mktemp("installed")
    bundle = save_bundle(model, root / "build" / "bundle", None, evaluation)
    models = root / "models"
    models.mkdir()
    example = input_example(model, business.tables)
    return install_model(models / "rel", lambda folder: save_pyfunc(bundle, folder, example))


@pytest.fixture(scope="session")
def small_tables(business):
    """The first ``N_SCORED`` customers of the session sample, with all their rows."""
    ids = business.tables.customers["customer_id"].iloc[:N_SCORED]
    return business.tables.subset(ids)


@pytest.fixture(scope="session")
def small_csv(tmp_path_factory, small_tables) -> Path:
    from predictor.io import write_tables

    folder = tmp_path_factory.mktemp("small") / "csv"
    write_tables(small_tables, folder, fmt="csv")
    return folder


@pytest.fixture(scope="session")
def small_parquet(tmp_path_factory, small_tables) -> Path:
    from predictor.io import write_tables

    folder = tmp_path_factory.mktemp("small") / "parquet"
    write_tables(small_tables, folder, fmt="parquet")
    return folder


def without(folder: Path, table: str, target: Path) -> Path:
    """A copy of the data folder ``folder`` lacking ``table``."""
    import shutil

    shutil.copytree(folder, target)
    for path in target.glob(f"{table}.*"):
        path.unlink()
    return target


def score(model_dir: Path, data: Path, out: Path | str, *extra: str):
    """``predictor score`` through the CLI runner."""
    from typer.testing import CliRunner

    from predictor.cli import app

    args = ["score", "--model", str(model_dir), "--data", str(data), "--out", str(out), *extra]
    return CliRunner().invoke(app, args)


def one_line_error(result, *words: str, in_line: bool = True) -> None:
    """Exit 2 with exactly one ``error:`` line and no traceback; ``words`` in that line
    (``in_line``), or anywhere in the output with whitespace folded (a message that wraps)."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    text = errors[0] if in_line else " ".join(result.output.split())
    for word in words:
        assert word in text, result.output

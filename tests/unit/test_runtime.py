"""The process-wide setting for large inputs: NumPy's huge-page advice is switched off."""

from __future__ import annotations

import pytest

from predictor import runtime


@pytest.fixture
def numpy_advice():
    """NumPy's huge-page advice, restored after the test."""
    toggle = runtime._numpy_hugepage_toggle()
    if toggle is None:
        pytest.skip("this NumPy has no huge-page switch")
    before = toggle(True)
    yield toggle
    toggle(before)


def test_tune_for_large_tables_turns_the_advice_off(numpy_advice):
    runtime.tune_for_large_tables()
    assert numpy_advice(False) is False  # the switch returns the setting it replaces


def test_the_cli_applies_it_before_a_command(numpy_advice):
    from typer.testing import CliRunner

    from predictor.cli import app

    result = CliRunner().invoke(app, ["config-schema"])
    assert result.exit_code == 0, result.output
    assert numpy_advice(False) is False


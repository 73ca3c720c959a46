"""The ``predictor`` command line: a thin typer app over the library.

Each command parses its options, loads the config, calls a job (``predictor.jobs``) or the
façade and prints the outcome; every expected error is turned into one line and an exit code
in one place (``cli.app._App``): status 2 and a message naming the table, column and rows at
fault for a data problem. Commands by group: ``data_commands`` (sample, validate, features),
``model_commands`` (train, promote), ``score_commands`` (score, report, explain);
``config-schema`` is here.
"""

from __future__ import annotations

import json

from predictor.cli import data_commands, model_commands, score_commands
from predictor.cli.app import PROJECT_DIR, app, captured_output, main, out
from predictor.config import Config

__all__ = [
    "PROJECT_DIR",
    "app",
    "captured_output",
    "data_commands",
    "main",
    "model_commands",
    "score_commands",
]


@app.command("config-schema")
def config_schema() -> None:
    """Print the JSON schema of the configuration (every setting, documented)."""
    out.print_json(json.dumps(Config.model_json_schema()))

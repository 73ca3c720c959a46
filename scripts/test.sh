#!/usr/bin/env bash
# Set up a virtual environment (.venv) with the project, its dev tools, the Spark extra and psutil (system metrics)
# (the Spark tests run on local[2] with the machine's Java), then run lint and tests.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dev,spark,system-metrics]"
.venv/bin/ruff check src tests benchmarks
.venv/bin/python -m pytest -q "$@"

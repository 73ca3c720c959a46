#!/usr/bin/env bash
# Set up a virtual environment (.venv) with the project, its dev tools, the Spark extra and psutil (system metrics)
# (the Spark tests run on local[2] with the machine's Java), then run lint and tests.
# Tests run in PYTEST_WORKERS processes (default 2, pytest-xdist; 0 runs them in this process),
# one test module per worker at a time so module fixtures are built once.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dev,spark,system-metrics]"
.venv/bin/ruff check src tests benchmarks
workers="${PYTEST_WORKERS:-2}"
if [ "$workers" = "0" ]; then
  .venv/bin/python -m pytest -q "$@"
else
  .venv/bin/python -m pytest -q -n "$workers" --dist loadscope "$@"
fi

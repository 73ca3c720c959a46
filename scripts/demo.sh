#!/usr/bin/env bash
# Set up .venv, generate the built-in sample business, train the three models (tracked in
# ./mlflow.db), score every sample customer into out/scores.csv and draw out/report.html.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
P=.venv/bin/predictor
$P sample --out data/sample --customers 5000 --seed 0
$P validate data/sample
$P train --config configs/default.yaml --config configs/sample.yaml
$P score --model models/sample --data data/sample --out out/scores.csv --drivers 3
$P report --model models/sample --scores out/scores.csv --data data/sample --out out/report.html
head -n 5 out/scores.csv

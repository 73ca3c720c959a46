"""Smoke test of the benchmark suite: its tiny mode runs end to end and writes every section.

The benchmark itself is not part of the test suite (it takes most of an hour); this runs
``benchmarks/run.py --tiny`` (hundreds of customers, fast model settings, the CDNOW 1/10
sample) so that the script cannot rot as the package changes.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SECTIONS = (
    "Quality on the sample business",
    "Quality on CDNOW (real data)",
    "Speed and memory",
    "Where predictor loses",
)
NUMERIC_ROW = re.compile(r"^\| [^|]+ \|(?: [^|]*\|)*? -?[\d,]+\.\d+ \|", re.MULTILINE)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> tuple[str, dict]:
    out = tmp_path_factory.mktemp("bench")
    cmd = [
        sys.executable,
        str(REPO / "benchmarks" / "run.py"),
        "--tiny",
        "--out",
        str(out / "BENCHMARKS.md"),
        "--json",
        str(out / "results.json"),
    ]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return (out / "BENCHMARKS.md").read_text(), json.loads((out / "results.json").read_text())


@pytest.mark.slow
def test_tiny_mode_writes_every_section_with_numeric_tables(tiny_run):
    markdown, _ = tiny_run
    for title in SECTIONS:
        assert re.search(rf"^## \d+\. {re.escape(title)}$", markdown, re.MULTILINE), title
    for part in markdown.split("\n## ")[1:4]:
        assert NUMERIC_ROW.search(part), part[:200]
    for header in ("**Machine:**", "**Python:**", "**Libraries:**", "**Date:**", "**Command:**"):
        assert header in markdown


@pytest.mark.slow
def test_tiny_mode_compares_with_truth_and_reproduces_cdnow(tiny_run):
    markdown, results = tiny_run
    quality = markdown.split("\n## 2. ")[0]  # the generated section, not the hand-written analysis
    assert quality.count("| best achievable (truth) |") == 7  # 3 targets x 2 modes + usage churn
    published = results["sections"][1]["data"]["parameters"]["published"]
    by_name = {row["quantity"]: row for row in published}
    for name in ("r", "alpha", "a", "b", "p"):
        assert abs(by_name[name]["difference"]) < 0.01 * abs(by_name[name]["published"])
    assert "| model |" in markdown.split("39-week holdout")[1]


@pytest.mark.slow
def test_render_from_results_rebuilds_the_same_tables(tiny_run, tmp_path):
    markdown, results = tiny_run
    saved = tmp_path / "results.json"
    saved.write_text(json.dumps(results))
    again = tmp_path / "again.md"
    cmd = [sys.executable, str(REPO / "benchmarks" / "run.py"), "--render-from", str(saved)]
    subprocess.run([*cmd, "--out", str(again)], cwd=REPO, check=True, timeout=120)
    assert again.read_text() == markdown


def test_speed_parts_are_each_their_own_median():
    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_speed import _median_parts

    runs = [
        {"seconds": 10.0, "read_seconds": 9.0, "cpu": {"seconds": [9, 1], "read_seconds": [8, 1]}},
        {"seconds": 11.0, "read_seconds": 2.0, "cpu": {"seconds": [10, 1], "read_seconds": [2, 0]}},
        {"seconds": 12.0, "read_seconds": 3.0, "cpu": {"seconds": [11, 1], "read_seconds": [3, 0]}},
    ]
    out = _median_parts(runs, runs[1])
    assert out["seconds"] == 11.0 and out["read_seconds"] == 3.0
    assert out["cpu"]["read_seconds"] == [3, 0] and out["cpu"]["seconds"] == [10, 1]
    assert runs[1]["read_seconds"] == 2.0, "the runs are not changed"

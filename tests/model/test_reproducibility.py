"""Same data, config and seed give the same model and the same metrics, in separate processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import json, sys
from pathlib import Path
from predictor.bundle import save_bundle
from predictor.sample import generate_sample
from predictor.training import train
from tests.conftest import fast_config

business = generate_sample(n_customers=700, seed=5, mode="retail")
model, evaluation = train(business.tables, fast_config())
folder = save_bundle(model, Path(sys.argv[1]))
meta = json.loads((folder / "metadata.json").read_text())
print(json.dumps({"hash": meta["content_hash"], "metrics": evaluation.metrics()}))
"""


def _start(folder: Path) -> subprocess.Popen:
    root = Path(__file__).resolve().parents[2]
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(folder)],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"PYTHONHASHSEED": str(len(str(folder))), "PATH": "", "PYTHONPATH": str(root)},
    )


def _result(process: subprocess.Popen) -> dict:
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def test_training_is_reproducible_across_processes(tmp_path):
    # Both processes run at once: different hash seeds, competing for the same cores.
    runs = [_start(tmp_path / "a"), _start(tmp_path / "bb")]
    first, second = (_result(run) for run in runs)
    assert first["hash"] == second["hash"]
    assert first["metrics"] == second["metrics"]
    assert any(k.startswith("value_13m.model.") for k in first["metrics"])

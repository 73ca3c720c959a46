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


def _run(folder: Path) -> dict:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(folder)],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": str(len(str(folder))), "PATH": "", "PYTHONPATH": str(root)},
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_training_is_reproducible_across_processes(tmp_path):
    first, second = _run(tmp_path / "a"), _run(tmp_path / "bb")
    assert first["hash"] == second["hash"]
    assert first["metrics"] == second["metrics"]
    assert any(k.startswith("value_13m.model.") for k in first["metrics"])

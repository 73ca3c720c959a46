"""The tracker is a typed protocol that also writes and logs the model.

Without tracking (``predictor.train``, or the training job with ``NullTracker``) MLflow is never
imported; the model folder is then the bundle alone, which ``predictor.load_model`` reads and
scores exactly as the model just trained. ``MlflowTracker`` satisfies the same protocol.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from predictor.tracking import MlflowTracker, NullTracker, Tracker

SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    import pandas as pd

    import predictor
    import predictor.jobs.train_job as train_job
    from predictor.config import Config
    from predictor.sample import generate_sample
    from predictor.tracking import NullTracker

    config = Config.model_validate({
        "model": {"n_estimators": 30, "learning_rate": 0.2, "early_stopping_rounds": 5},
        "models": ["day_one"],
        "model_name": "untracked",
    })
    tables = generate_sample(n_customers=400, seed=1).tables
    root = Path(sys.argv[1])

    # the public API: train -> save_model -> load_model -> score, the same scores throughout
    fresh = predictor.train(tables, config)
    loaded = predictor.load_model(predictor.save_model(fresh, root / "saved"))
    scores = predictor.score(fresh, tables)
    pd.testing.assert_frame_equal(predictor.score(loaded, tables), scores, check_exact=True)

    # the training job without tracking, on the model just fitted (not fitted twice)
    train_job.train = lambda *args, **kwargs: (fresh.model, fresh.evaluation)
    outcome = train_job.run_training(tables, config, root / "models", NullTracker())
    rescored = predictor.score(predictor.load_model(outcome.model_dir), tables)
    print(sorted(p.name for p in outcome.model_dir.iterdir()))
    print(len(scores), len(rescored), outcome.run_id, outcome.registered_version)
    print("mlflow imported:", any(m.split(".")[0] == "mlflow" for m in sys.modules))
    """
)


def test_a_run_without_tracking_imports_no_mlflow(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "models")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    folder, counts, imported = done.stdout.strip().splitlines()[-3:]
    assert imported == "mlflow imported: False"
    assert "metadata.json" in folder and "MLmodel" not in folder
    assert counts == "400 400 None None"


def test_both_trackers_follow_the_protocol(tmp_path: Path) -> None:
    assert isinstance(NullTracker(), Tracker)
    assert isinstance(MlflowTracker(f"sqlite:///{tmp_path}/m.db", "x"), Tracker)

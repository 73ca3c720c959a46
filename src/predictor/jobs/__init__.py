"""The jobs: what ``predictor train``, ``score``, ``features`` and ``promote`` run.

They wire the pure core (``training``, ``scoring``, ``features``) to files and tracking; the
``Predictor`` façade (``predictor.api``) and the CLI commands call them.

- ``data_job``: the run's defaults resolved once at the entry (``resolve_data_end``, the only
  clock read; ``resolve_as_of``), validation, the feature table and the sample business.
- ``train_job``: the training job (``run_training``: train, save the model folder, track the
  run through a ``Tracker``, draw the report) and the report.
- ``promote_job``: champion versus challenger on the registered versions.
- ``score_job``: the score-to-files job (``score_files``: chunked, scores and rejects written
  atomically).
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "InvalidDataError": "data_job",
    "TrainingData": "data_job",
    "load_training_data": "data_job",
    "feature_table": "data_job",
    "resolve_as_of": "data_job",
    "resolve_data_end": "data_job",
    "validate_data": "data_job",
    "write_sample": "data_job",
    "ScoreRun": "score_job",
    "as_of_notes": "score_job",
    "default_rejects_path": "score_job",
    "input_rejects": "score_job",
    "merge_warnings": "score_job",
    "output_metadata": "score_job",
    "progress_batch": "score_job",
    "score_files": "score_job",
    "PromotionError": "promote_job",
    "PromotionRun": "promote_job",
    "ScoresFileError": "train_job",
    "TrainingOutcome": "train_job",
    "check_promote_metrics": "promote_job",
    "compare_registered": "promote_job",
    "data_digest": "train_job",
    "data_summary": "train_job",
    "input_example": "train_job",
    "install_model": "train_job",
    "model_example": "train_job",
    "read_scores": "train_job",
    "report_html": "train_job",
    "run_training": "train_job",
    "table_inputs": "train_job",
    "training_tags": "train_job",
    "write_report": "train_job",
}
"""Public name -> the job module defining it (imported on first use: ``predictor score`` does
not load the training job's plotting and report code)."""

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    """Import a job's module on first use of one of its names."""
    if name in _HOMES:
        return getattr(importlib.import_module(f"predictor.jobs.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'predictor.jobs' has no attribute {name!r}")

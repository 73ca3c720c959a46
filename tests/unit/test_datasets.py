"""Cutoff plans: label windows of training cutoffs end before the test cutoff."""

import pandas as pd

from predictor.config import CutoffConfig, ValueConfig
from predictor.datasets import ShortHistoryError, plan_cutoffs
from predictor.labels import value_label_end
from predictor.timeline import day_end


def _plan(first, end, **kw):
    label_end = lambda c: value_label_end(c, ValueConfig())  # noqa: E731
    return plan_cutoffs(
        pd.Timestamp(first), pd.Timestamp(end), label_end, CutoffConfig(**kw), "v"
    ), label_end


def test_automatic_plan_is_leak_free():
    plan, label_end = _plan("2022-01-01", "2025-06-30")
    assert label_end(plan.test[0]) <= day_end("2025-06-30")
    for cutoff in plan.train + plan.valid:
        assert label_end(cutoff) <= day_end(plan.test[0])
    assert max(plan.train) < min(plan.valid) < min(plan.test)


def test_explicit_cutoffs_are_used():
    plan, _ = _plan(
        "2022-01-01", "2025-06-30", dates=["2022-06-30", "2022-12-31", "2023-02-28", "2024-05-31"]
    )
    assert [d.date().isoformat() for d in plan.train] == ["2022-06-30", "2022-12-31"]
    assert [d.date().isoformat() for d in plan.test] == ["2024-05-31"]


def test_short_history_is_a_clear_error():
    try:
        _plan("2024-01-01", "2024-09-30")
    except ShortHistoryError as exc:
        assert "no cutoff has a complete label window" in str(exc)
    else:
        raise AssertionError("expected ShortHistoryError")

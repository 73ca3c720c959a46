"""Cutoff plans: label windows of training cutoffs end before the test cutoff."""

import pandas as pd

from predictor.config import CutoffConfig, ValueConfig
from predictor.datasets import ShortHistoryError, day_one_cohort_plan, plan_cutoffs
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


def _signups(n: int) -> tuple[pd.Series, pd.Series]:
    ids = pd.Index([f"c{i}" for i in range(n)], name="customer_id")
    signup = pd.Series(pd.date_range("2022-01-01", periods=n, freq="D"), index=ids)
    return signup, signup + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)


def test_day_one_cohorts_at_a_given_test_start_close_their_windows_before_it():
    signup, window_end = _signups(900)
    start = pd.Timestamp("2024-01-01")
    plan = day_one_cohort_plan(signup, window_end, 3, start)
    assert plan.test_start == start
    assert (signup.iloc[plan.test] > start).all() and len(plan.test) == (signup > start).sum()
    learned = list(plan.train) + list(plan.valid)
    assert (window_end.iloc[learned] + pd.DateOffset(months=3) <= start).all()
    # every customer whose 3-month window closed learns: many more than 13 months would allow
    assert len(learned) == (window_end + pd.DateOffset(months=3) <= start).sum()
    assert signup.iloc[plan.valid].min() >= signup.iloc[plan.train].max()


def test_day_one_cohorts_at_a_given_test_start_never_fall_back_to_leaking_windows():
    signup, window_end = _signups(60)
    plan = day_one_cohort_plan(signup, window_end, 3, signup.iloc[40])
    assert len(plan.train) + len(plan.valid) == 0  # no closed window: none borrowed
    assert len(day_one_cohort_plan(signup, window_end, 3).train) > 0  # the default does

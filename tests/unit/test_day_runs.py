"""Time-ordered rows read day by day: the same per-customer days as the general paths.

On rows in time order under one cutoff (``Events.ordered``) with enough rows per day, the
first and last days, the per-label last days, the distinct days and the gaps between days come
from one pass over the day runs (``_base.DayPass``, ``_day_runs``) instead of ``maximum.at`` and
sorts. Shuffling the same rows takes the general paths, so the two must agree exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from tests.unit.conftest import encoded_events

from predictor.features import _base, channels

CUSTOMERS = 30


def _dense_events(shuffle: bool, as_of: str = "2021-02-20") -> _base.Events:
    """~40 rows a day over 60 days, many customers with several rows on one day."""
    rng = np.random.default_rng(11)
    n = 2_400
    seconds = rng.integers(0, 60 * 86_400, n)
    seconds[:200] = seconds[200:400] - seconds[200:400] % 86_400  # same-day repeats, midnight
    codes = rng.integers(0, CUSTOMERS - 2, n)  # the last two customers have no rows
    order = rng.permutation(n) if shuffle else np.argsort(seconds, kind="stable")
    times = np.datetime64("2021-01-01", "s") + seconds[order].astype("m8[s]")
    frame = pd.DataFrame({"customer_id": [f"C{c}" for c in codes[order]], "at": times})
    as_of_end = pd.Timestamp(as_of) + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
    return encoded_events(frame, CUSTOMERS, as_of_end)


def _pairs(code: np.ndarray, gap: np.ndarray) -> np.ndarray:
    """(customer, gap) pairs in one canonical order."""
    pairs = np.stack([code.astype(np.float64), gap])
    return pairs[:, np.lexsort(pairs[::-1])]


def test_day_runs_are_used_only_on_ordered_rows() -> None:
    assert _dense_events(False)._day_runs() is not None
    assert _dense_events(True)._day_runs() is None


def test_day_pass_agrees_with_the_general_paths() -> None:
    for as_of in ["2021-02-20", "2021-03-31", "2021-01-15"]:
        ordered, shuffled = _dense_events(False, as_of), _dense_events(True, as_of)
        np.testing.assert_array_equal(ordered.first_day(), shuffled.first_day())
        np.testing.assert_array_equal(ordered.last_day(), shuffled.last_day())
        np.testing.assert_array_equal(ordered.distinct_days(), shuffled.distinct_days())
        np.testing.assert_array_equal(_pairs(*ordered.gaps()), _pairs(*shuffled.gaps()))
        assert np.isnan(ordered.last_day()[-2:]).all()


def test_day_pass_equals_direct_definitions() -> None:
    ev = _dense_events(False)
    day = ev.day
    first, last = ev.first_day(), ev.last_day()
    distinct = ev.distinct_days()
    for c in range(CUSTOMERS):
        days = np.sort(day[ev.code == c])
        if not len(days):
            assert np.isnan(first[c]) and np.isnan(last[c]) and distinct[c] == 0
            continue
        assert (first[c], last[c], distinct[c]) == (days[0], days[-1], len(np.unique(days)))
    code, gap = ev.gaps()
    for c in range(CUSTOMERS):
        days = np.sort(day[ev.code == c])
        np.testing.assert_array_equal(np.sort(gap[code == c]), np.sort(np.diff(days)))


def _label_and_mask(ev: _base.Events) -> tuple[np.ndarray, np.ndarray]:
    """A label in 0..3 and a mask that depend on the row only (not on its position)."""
    key = ev.code * 100_003 + ev.time.view(np.int64) % 100_003
    return (key % 4).astype(np.int32), (key % 3) > 0


def test_last_day_per_label_by_runs_equals_the_masked_maximum() -> None:
    results = []
    for ev in (_dense_events(False), _dense_events(True)):
        label, mask = _label_and_mask(ev)
        got = ev.last_day_per_label(label, 4, mask)
        for i in range(4):
            np.testing.assert_array_equal(got[:, i], ev.last_day(mask & (label == i)))
        results.append(got)
    np.testing.assert_array_equal(results[0], results[1])
    assert not np.isnan(results[0]).all()


def test_usage_counter_sums_of_intervals_equal_each_window() -> None:
    ev = _dense_events(False)
    _, engaged = _label_and_mask(ev)
    counter = channels._Counter(ev, engaged)
    assert counter.parts  # ordered rows: the intervals are counted once
    windows = [(0, 7), (0, 30), (7, 67), (30, 120), (28, 364), (28, 35), (0, 364)]
    for lo, hi in windows:
        np.testing.assert_array_equal(counter.count(lo, hi), ev.window_count(lo, hi, engaged))
    assert counter.count(0, 364).sum() == engaged.sum()

"""Time-ordered event rows: age windows as slices give exactly what the masks give.

``Events.window`` on rows in time order (one cutoff for everyone) finds each window by binary
search and shares views; otherwise it masks. The rows, their order and every aggregate must be
the same, and whole feature frames must not depend on whether a table was written in time order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tests.unit.conftest import encoded_events

from predictor.config import Config
from predictor.contract.schema import SPECS
from predictor.contract.tables import Tables
from predictor.features import (
    EncodedTables,
    _base,
    _encoding,
    build_day_one_features,
    build_features,
)
from predictor.testing import synthetic_tables


def test_is_ordered_checks_order_and_missing_dates_across_blocks(monkeypatch) -> None:
    monkeypatch.setattr(_encoding, "_ORDER_BLOCK", 2)
    days = np.array(["2021-01-01", "2021-01-01", "2021-01-02", "2021-01-05", "2021-02-01"])
    times = days.astype("datetime64[s]")
    assert _encoding.is_ordered(times)
    assert _encoding.is_ordered(times[:0]) and _encoding.is_ordered(times[:1])
    for i in range(1, len(times)):
        swapped = times.copy()
        swapped[[i - 1, i]] = swapped[[i, i - 1]]
        assert _encoding.is_ordered(swapped) == (times[i - 1] == times[i])
    with_nat = np.concatenate([np.array(["NaT"], dtype="datetime64[s]"), times])
    assert not _encoding.is_ordered(with_nat)
    assert not _encoding.is_ordered(np.concatenate([times, with_nat[:1]]))


def _events(times: np.ndarray, codes: np.ndarray, as_of: str, customers: int) -> _base.Events:
    frame = pd.DataFrame({
        "customer_id": [f"C{c}" for c in codes],
        "at": times,
        "amount": np.linspace(0.1, 9.7, len(times)),
    })  # fmt: skip
    return encoded_events(frame, customers, _day_end(as_of))


def _day_end(day: str) -> pd.Timestamp:
    return pd.Timestamp(day) + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("as_of", ["2021-03-31", "2021-02-14", "2020-12-01"])
def test_windows_equal_the_masks(shuffle: bool, as_of: str) -> None:
    rng = np.random.default_rng(3)
    n = 400
    times = np.sort(
        np.datetime64("2021-01-01", "s") + rng.integers(0, 120 * 86_400, n).astype("m8[s]")
    )
    codes = rng.integers(0, 7, n)
    if shuffle:
        order = rng.permutation(n)
        times, codes = times[order], codes[order]
    ev = _events(times, codes, as_of, customers=7)
    assert ev.ordered == (not shuffle)
    if not shuffle:
        assert ev.rows is None or isinstance(ev.rows, slice)
    amount = ev.numbers("amount")
    for lo, hi in [(0, 1), (0, 7), (0, 30), (7, 67), (30, 90), (90, 180), (0, 10_000), (5, 5)]:
        view, sel = ev.window(lo, hi)
        mask = (ev.age >= lo) & (ev.age < hi)
        assert isinstance(sel, slice) == (not shuffle)
        np.testing.assert_array_equal(view.code, ev.code[mask])
        np.testing.assert_array_equal(view.age, ev.age[mask])
        np.testing.assert_array_equal(view.time, ev.time[mask])
        np.testing.assert_array_equal(_base.subset(amount, sel), amount[mask])
        np.testing.assert_array_equal(view.numbers("amount"), amount[mask])
        np.testing.assert_array_equal(view.count(), ev.count(mask))
        inner, inner_sel = view.window(0, 3)
        np.testing.assert_array_equal(inner.code, ev.code[mask & (ev.age < 3)])
        np.testing.assert_array_equal(_base.subset(view.code, inner_sel), inner.code)


def test_known_prefix_agrees_with_known_at_across_units() -> None:
    times = np.array(["2021-01-01T10:00", "2021-01-02T23:59:59", "2021-01-03"], "datetime64[s]")
    for day in ["2020-12-31", "2021-01-01", "2021-01-02", "2021-01-03", "2021-01-04"]:
        limit = np.datetime64(_day_end(day), "us")
        assert _base._known_prefix(times, limit) == int((times <= limit).sum())


def _in_time_order(tables: Tables, shuffle: bool, seed: int = 0) -> Tables:
    """The tables with the event rows sorted by date, or shuffled (same rows)."""
    rng = np.random.default_rng(seed)
    frames = {}
    for name, frame in tables.items():
        if name != "customers":
            dates = frame[SPECS[name].event_date].to_numpy()
            order = rng.permutation(len(frame)) if shuffle else np.argsort(dates, kind="stable")
            frames[name] = frame.iloc[order].reset_index(drop=True)
    return tables.replace(**frames)


def test_features_do_not_depend_on_the_rows_being_in_time_order() -> None:
    tables = synthetic_tables(120, seed=5)
    ordered, shuffled = _in_time_order(tables, False), _in_time_order(tables, True)
    config = Config()
    enc_o, enc_s = EncodedTables(ordered), EncodedTables(shuffled)
    assert enc_o.table("orders", "order_date").ordered
    assert not enc_s.table("orders", "order_date").ordered
    for cutoff in ["2025-03-31", "2024-09-30"]:
        a = build_features(ordered, cutoff, config, encoded=enc_o)
        b = build_features(shuffled, cutoff, config, encoded=enc_s)
        pd.testing.assert_frame_equal(a, b, rtol=1e-12)
    a, b = build_day_one_features(ordered, config), build_day_one_features(shuffled, config)
    pd.testing.assert_frame_equal(a, b, rtol=1e-12)


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_ordered_day_numbers_equal_the_division(unit: str) -> None:
    rng = np.random.default_rng(4)
    for low, days in [(-400, 30), (18_000, 3), (0, 1), (19_000, 2_000)]:
        seconds = np.sort(rng.integers(low * 86_400, (low + days) * 86_400, 5_000))
        times = seconds.astype("datetime64[s]").astype(f"datetime64[{unit}]")
        np.testing.assert_array_equal(
            _encoding.ordered_day_number(times), _encoding.day_number(times)
        )
    assert len(_encoding.ordered_day_number(np.zeros(0, "datetime64[ns]"))) == 0


def test_gaps_equal_the_division_path() -> None:
    rng = np.random.default_rng(6)
    n = 300
    times = np.sort(
        np.datetime64("2021-01-01", "s") + rng.integers(0, 400 * 86_400, n).astype("m8[s]")
    )
    ev = _events(times, rng.integers(0, 9, n), "2022-03-01", customers=9)
    code, gap = ev.gaps()
    ref_code, ref_gap = _base._gaps_by_division(ev.code, ev.day, int(ev.day.min()))
    np.testing.assert_array_equal(code, ref_code)
    np.testing.assert_array_equal(gap, ref_gap)
    assert gap.dtype == np.float64


def test_labels_of_whole_tables_skip_the_counts_only_when_nothing_is_pooled() -> None:
    times = np.array(["2021-01-01", "2021-01-02", "2021-01-03", "2021-01-04"], "datetime64[s]")
    ev = _events(times, np.array([0, 1, 2, 0]), "2021-02-01", customers=3)
    for values in (["Web", "app", "web ", None], ["a", "b", "c", "d"], ["x", "x", "x", "x"]):
        ev.table.frame["channel"] = pd.array(values, dtype="str")
        ev.table._cache.clear()
        raw, uniques = ev.table.factorized("channel")
        names = [_base.clean_label(u) for u in uniques] + ["unknown"]
        counts = np.bincount(raw, minlength=len(names))
        for cap in (1, 2, 20):
            codes, final = ev.labels("channel", cap=cap)
            expected = sorted(set(_base._pooled(names, counts, cap).values()))
            assert final == expected
            assert ev.rows is None


def test_windows_search_instants_or_days_alike() -> None:
    rng = np.random.default_rng(8)
    n = 200
    for unit in ("s", "ms", "ns"):
        seconds = np.sort(rng.integers(1_600_000_000, 1_600_000_000 + 90 * 86_400, n))
        times = seconds.astype("datetime64[s]").astype(f"datetime64[{unit}]")
        codes = rng.integers(0, 4, n)
        by_time = _events(times, codes, "2020-11-15", customers=4)
        by_day = _events(times, codes, "2020-11-15", customers=4)
        assert by_time._day is None and len(by_day.day) == len(by_day) < n
        for lo, hi in [(0, 7), (10, 40), (0, 1), (80, 100_000)]:
            assert by_time.window(lo, hi)[1] == by_day.window(lo, hi)[1]
        assert by_time._day is None  # counted windows never made the day numbers

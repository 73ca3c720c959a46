"""The sample generator's fast column builders give exactly what the plain expressions give.

The generated data must not change when the builders do (every benchmark number depends on
it), so each builder is compared, bit for bit, with the NumPy or Arrow expression it replaced.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from predictor.sample.columns import (
    _fixed_width_take,
    _id_strings,
    _stamps,
    _stamps_of_seconds,
    _strings,
    _time_order,
)
from predictor.sample.emit import _kinds, _row_sum
from predictor.sample.weeks import _poisson


def _arrow_ids(prefix: str, n: int) -> pa.Array:
    """The former id builder: Arrow's cast, pad and join."""
    width = max(6, len(str(n)))
    digits = pc.utf8_lpad(pc.cast(pa.array(np.arange(1, n + 1)), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


@pytest.mark.parametrize("n", [0, 1, 9, 10, 999_999, 1_000_000, 1_234_567])
def test_id_strings_match_arrow_padding(n: int) -> None:
    ids = _id_strings("C", n)
    assert ids.type == pa.large_string()
    assert ids.equals(_arrow_ids("C", n).cast(pa.large_string()))


def test_strings_take_values_as_arrow_does() -> None:
    rng = np.random.default_rng(0)
    ids = _id_strings("O", 5000)
    codes = rng.integers(0, 5000, 20_000)
    expected = pc.take(ids, pa.array(codes)).to_pylist()
    assert _strings(ids, codes).tolist() == expected
    assert _strings(ids, codes).dtype == "str"
    words = ("email", "sms", "in_app", "")
    few = rng.integers(0, len(words), 1000).astype(np.int8)
    assert _strings(words, few).tolist() == [words[c] for c in few]


def test_fixed_width_take_only_for_one_width() -> None:
    assert _fixed_width_take(pa.array(["ab", "abc"], pa.large_string()), np.array([0])) is None
    sliced = pa.array(["x1", "y22", "z3", "w4"], pa.large_string()).slice(2)
    assert _fixed_width_take(sliced, np.array([1, 0, 1])).to_pylist() == ["w4", "z3", "w4"]


@pytest.mark.parametrize("n", [0, 1, 2, 1000, 70_000])
def test_time_order_is_the_stable_argsort(n: int) -> None:
    rng = np.random.default_rng(n)
    day = rng.integers(0, 30, n).astype(np.int32)
    sec = rng.integers(0, 50, n).astype(np.int32)  # many equal times: ties keep row order
    order, seconds = _time_order(day, sec)
    key = day.astype(np.int64) * 86_400 + sec
    expected = np.argsort(key, kind="stable")
    np.testing.assert_array_equal(order, expected)
    np.testing.assert_array_equal(seconds, key[expected])


def test_stamps_of_seconds_equal_stamps() -> None:
    start = pd.Timestamp("2022-01-01")
    day, sec = np.array([0, 3, 1200], np.int32), np.array([0, 59, 86_399], np.int32)
    seconds = day.astype(np.int64) * 86_400 + sec
    np.testing.assert_array_equal(_stamps_of_seconds(start, seconds), _stamps(start, day, sec))


def test_row_sum_rounds_as_numpy_sums_rows() -> None:
    rng = np.random.default_rng(3)
    for width in (8, 11, 16, 19):
        cols = [np.exp(rng.normal(0, 4, 50_000)) * (rng.random(50_000) < 0.7) for _ in range(width)]
        matrix = np.stack(cols, axis=1)
        np.testing.assert_array_equal(_row_sum(cols), matrix.sum(axis=1), strict=True)
        elem = np.repeat(np.arange(50_000), rng.integers(0, 3, 50_000))
        u = rng.random(len(elem)) * matrix.sum(axis=1)[elem]
        cum = np.cumsum(matrix, axis=1)
        expected = (cum[elem] < u[:, None]).sum(axis=1, dtype=np.int8).clip(0, 10)
        np.testing.assert_array_equal(_kinds(cols, elem, u), expected, strict=True)


def _plain_poisson(rng: np.random.Generator, mu: np.ndarray) -> np.ndarray:
    """The former draw: every candidate stepped until the last one is final."""
    u = rng.random(mu.shape, dtype=np.float32)
    k = np.zeros(mu.shape, dtype=np.int32)
    cand = np.flatnonzero(u < mu)
    mean = mu[cand].astype(float)
    v = np.maximum(u[cand], 1e-12)
    p = np.exp(-mean)
    tail = 1.0 - p
    count = np.zeros(len(cand), dtype=np.int32)
    for j in range(1, 10_000):
        more = tail >= v
        if not more.any():
            break
        count += more
        p = p * mean / j
        tail = tail - p
    k[cand] = count
    return k


def test_poisson_draws_unchanged() -> None:
    mu = np.exp(np.random.default_rng(1).normal(-1, 1.5, 200_000)).astype(np.float32)
    mu[:10] = 0
    got = _poisson(np.random.default_rng(2), mu)
    np.testing.assert_array_equal(got, _plain_poisson(np.random.default_rng(2), mu), strict=True)

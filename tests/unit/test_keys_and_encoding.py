"""Fast paths of the feature encoding give exactly what the plain computations give.

Customer look-ups of prefix-and-digits ids, floor-division day numbers, Arrow factorisation,
the no-copy path of ``Events`` when every row is visible, per-label last days and the hash that
picks the BG/NBD fit sample.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from tests.unit.conftest import encoded_events

from predictor import keys
from predictor.features import _base, _encoding
from predictor.features.probabilistic import _id_hashes


def _strings(values: list[str | None], chunks: int = 1, large: bool = True) -> pd.Series:
    kind = pa.large_string() if large else pa.string()
    parts = np.array_split(np.arange(len(values)), chunks)
    data = pa.chunked_array([pa.array([values[i] for i in p], kind) for p in parts], type=kind)
    return pd.Series(pd.arrays.ArrowStringArray(data))


def _ids(n: int, fmt: str, seed: int = 0) -> pd.Index:
    order = np.random.default_rng(seed).permutation(n) + 1
    return pd.Index([fmt.format(i) for i in order], name="customer_id")


CASES = {
    "prefix and 7 digits": (_ids(500, "C{:07d}"), ["X0000001", "C000000A", "C00000001", "c0000001", "", "C9999999"]),
    "digits only": (_ids(300, "{:05d}"), ["99999", "0000a", "1234", "123456", "00000"]),
    "two-byte prefix": (pd.Index(["AB12", "AB07", "AB99"]), ["AB00", "AC07", "ab07", "AB7"]),
    "one digit": (pd.Index(["1", "2", "3"]), ["4", "0", "10"]),
    "non-ascii prefix": (_ids(50, "é{:05d}"), ["e00001", "é0000x"]),
    "sparse numbers": (pd.Index(["12345678", "00000000", "99999999"]), ["1234567"]),
    "duplicate ids": (pd.Index(["A1", "A2", "A1"]), ["A3"]),
    "long ids": (pd.Index(["ABCDEFGHI1", "ABCDEFGHI2"]), ["ABCDEFGHI3"]),
    "no digits": (pd.Index(["abc", "abd"]), ["abe"]),
    "consecutive ids": (pd.Index([f"C{i:07d}" for i in range(1, 501)]), ["C0000000", "C0000501", "C9999999", "X0000001", "C000000A"]),
    "consecutive from 100": (pd.Index([f"{i:05d}" for i in range(100, 400)]), ["00099", "00400", "00000", "0010a"]),
    "consecutive, one gap": (pd.Index(["N1", "N2", "N4", "N5"]), ["N3", "N0", "N6"]),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("chunks", [1, 3])
def test_positions_equal_the_hash_join(name: str, chunks: int) -> None:
    ids, strangers = CASES[name]
    rng = np.random.default_rng(1)
    known = list(ids[rng.integers(0, len(ids), 400)])
    values = known + strangers + [None] * (chunks == 3)
    order = rng.permutation(len(values))
    keys_ = _strings([values[i] for i in order], chunks=chunks)
    expected = keys._hash_positions(ids, keys_)
    np.testing.assert_array_equal(keys.positions(ids, keys_), expected)


def test_numbered_ids_take_the_table_path_and_odd_blocks_the_hash_join() -> None:
    ids = _ids(1_000, "C{:07d}")
    found = keys._numbered_positions(ids, _strings(list(ids[:10]) + ["C0000001"]))
    assert found is not None
    mixed = _strings(list(ids) + ["zz", None] + list(ids), chunks=2, large=False)
    np.testing.assert_array_equal(keys.positions(ids, mixed), keys._hash_positions(ids, mixed))
    assert keys._numbered_positions(pd.Index(["A1", "A2", "A1"]), _strings(["A1"])) is None
    assert keys._numbered_positions(pd.Index([1, 2]), pd.Series([1])) is None


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_day_number_equals_the_datetime_cast(unit: str) -> None:
    raw = [
        "1969-12-31T23:59:59",
        "1970-01-01T00:00:00",
        "1900-03-01T05:00:01",
        "NaT",
        "2025-06-30T23:59:59",
    ]
    times = np.array(raw, dtype=f"datetime64[{unit}]")
    expected = times.astype("datetime64[D]").astype(np.int64)
    np.testing.assert_array_equal(_encoding.day_number(times), expected)
    days = np.array(["2020-01-01", "NaT"], dtype="datetime64[D]")
    np.testing.assert_array_equal(_encoding.day_number(days), days.astype(np.int64))


def test_factorize_matches_pandas_on_arrow_and_object_columns() -> None:
    values = ["b", None, "a", "b", "c", None, "a"]
    for series in (
        _strings(values, chunks=3),
        pd.Series(values, dtype=object),
        pd.Series([3, 1, 3]),
    ):
        codes, uniques = _encoding.factorize(series)
        ref_codes, ref_uniques = pd.factorize(series, use_na_sentinel=True)
        ref_codes = np.where(ref_codes < 0, len(ref_uniques), ref_codes)
        np.testing.assert_array_equal(codes, ref_codes)
        assert uniques == list(ref_uniques)


def _events(times: list[str], as_of: str, customers: int = 3) -> _base.Events:
    frame = pd.DataFrame({
        "customer_id": _strings([f"C{i % customers}" for i in range(len(times))]),
        "at": pd.to_datetime(times),
        "channel": _strings(["web", "app", "web", None, "app", "web"][: len(times)]),
        "amount": np.arange(len(times), dtype=float),
    })  # fmt: skip
    return encoded_events(frame, customers, pd.Timestamp(as_of))


def test_all_visible_events_share_read_only_arrays_and_match_the_cut() -> None:
    times = ["2021-01-01", "2021-02-01", "2021-03-01", "2021-03-02", "2021-04-01", "2021-05-01"]
    whole = _events(times, "2021-06-01")
    assert whole.rows is None
    assert not whole.numbers("amount").flags.writeable
    with pytest.raises(ValueError):
        whole.numbers("amount")[0] = 1.0
    cut = _events(times, "2021-03-01T23:00")
    np.testing.assert_array_equal(np.arange(len(times))[cut.rows], [0, 1, 2])  # array or slice
    np.testing.assert_array_equal(cut.age, [59, 28, 0])
    np.testing.assert_array_equal(whole.count(), [2.0, 2.0, 2.0])


def test_last_day_per_label_equals_one_mask_per_label() -> None:
    times = ["2021-01-01", "2021-02-01", "2021-03-01", "2021-03-02", "2021-04-01", "2021-05-01"]
    ev = _events(times, "2021-06-01")
    codes, names = ev.labels("channel", cap=10)
    mask = np.array([True, True, False, True, True, True])
    per = ev.last_day_per_label(codes, len(names), mask)
    for i in range(len(names)):
        np.testing.assert_array_equal(per[:, i], ev.last_day(mask & (codes == i)))


def test_fit_sample_hash_equals_the_text_hash() -> None:
    for ids in (
        pd.Index(["C1", "C2", "é"]),
        pd.Index([1, 2, 3]),
        pd.Index(["x", None], dtype=object),
    ):
        expected = pd.util.hash_array(ids.to_numpy(dtype=str), hash_key=f"{7:016d}")
        np.testing.assert_array_equal(_id_hashes(ids, 7), expected)


@pytest.mark.parametrize("chunks", [1, 4])
def test_coded_chunks_join_and_map_like_the_joined_codes(chunks: int) -> None:
    values = ["web", "app", None, "web", "sms", "app", "web", None, "store"]
    for series in (_strings(values, chunks=chunks), pd.Series(values, dtype=object)):
        codes = _encoding.coded(series)
        joined, uniques = _encoding.factorize(series)
        np.testing.assert_array_equal(codes.joined(), joined)
        assert codes.uniques == uniques and codes.missing
        lookup = np.arange(len(uniques) + 1, dtype=np.int32)[::-1].copy()
        np.testing.assert_array_equal(codes.mapped(lookup), lookup[joined])
    assert not _encoding.coded(_strings(["a", "b"], chunks=2)).missing

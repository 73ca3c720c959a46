"""The spill's routing of rows to chunks: the same chunks and order as the plain computations."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from predictor import keys
from predictor.io.chunks import CustomerChunks, _arrow_ids, _stable_order


@pytest.mark.parametrize("n_chunks", [1, 10, 300, 40_000])
def test_stable_order_equals_the_int64_stable_sort(n_chunks: int) -> None:
    chunk = np.random.default_rng(n_chunks).integers(0, n_chunks, 5_000)
    expected = np.argsort(chunk, kind="stable")
    np.testing.assert_array_equal(_stable_order(chunk, n_chunks), expected)


def _count_reached(ids: pa.Array, bounds: pa.Array) -> np.ndarray:
    chunk = np.zeros(len(ids), dtype=np.int64)
    for bound in bounds:
        chunk += pc.fill_null(pc.greater_equal(ids, bound), False).to_numpy(zero_copy_only=False)
    return chunk


@pytest.mark.parametrize("fmt", ["C{:07d}", "{:05d}", "AB{:04d}"])
def test_numbered_ids_find_their_chunk_as_the_text_comparison_does(fmt: str) -> None:
    rng = np.random.default_rng(2)
    ids = pa.array([fmt.format(i) for i in rng.integers(0, 9_999, 3_000)], pa.large_string())
    bounds = pc.unique(ids).sort().take(pa.array([500, 1_000, 2_000]))
    numbered = keys.NumberedBounds.of(bounds)
    assert numbered is not None
    reached = numbered.reached(ids)
    assert reached is not None
    np.testing.assert_array_equal(reached, _count_reached(ids, bounds))


def test_ids_of_other_forms_are_left_to_the_text_comparison() -> None:
    bounds = pa.array(["C0000100", "C0000200"], pa.large_string())
    numbered = keys.NumberedBounds.of(bounds)
    assert numbered is not None
    for odd in (["C0000001", "C00001"], ["C0000001", None], ["X0000001"], ["C00000x1"]):
        assert numbered.reached(pa.array(odd, pa.large_string())) is None
    assert keys.NumberedBounds.of(pa.array(["a1", "b"])) is None
    letter = keys.NumberedBounds.of(pa.array(["a1"]))
    assert letter is not None and letter.reached(pa.array(["1", "2"])) is None


def _router(bounds: pa.Array) -> CustomerChunks:
    """A ``CustomerChunks`` holding only its chunk bounds (what ``_chunk_of`` reads)."""
    chunks = CustomerChunks.__new__(CustomerChunks)
    chunks._bounds = bounds
    chunks._numbered = keys.NumberedBounds.of(bounds)
    return chunks


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string()])
@pytest.mark.parametrize(
    "odd",
    [[], [" C0000150", "C0000250 "], [None], ["C0000150.0"], ["C150"], ["X0000001"]],
)
def test_ids_are_routed_as_their_validated_text_compares(kind: pa.DataType, odd: list) -> None:
    rng = np.random.default_rng(4)
    clean = [f"C{i:07d}" for i in rng.integers(1, 400, 2_000)]
    values = pa.array(clean + odd, kind)
    router = _router(pa.array(["C0000100", "C0000200", "C0000300"], pa.large_string()))
    expected = _count_reached(_arrow_ids(values), router._bounds)
    np.testing.assert_array_equal(router._chunk_of(values), expected)
    if not odd:  # ids as read are already what validation makes of them: no trimmed copy
        assert router._reached_as_read(values) is not None
    else:
        assert router._reached_as_read(values) is None


def test_integer_ids_are_routed_as_their_text_compares() -> None:
    values = pa.array([5, 150, 99, 250, 1_000], pa.int64())
    router = _router(pa.array(["100", "200"], pa.large_string()))
    expected = _count_reached(_arrow_ids(values), router._bounds)
    np.testing.assert_array_equal(router._chunk_of(values), expected)


@pytest.mark.parametrize("top", [5_000, 9_000_000])  # looked up in a table / binary search
def test_numbered_bounds_count_reached_bounds_with_or_without_the_table(top: int) -> None:
    rng = np.random.default_rng(top)
    ids = pa.array([f"N{i:07d}" for i in rng.integers(0, top + 1_000, 4_000)], pa.string())
    bounds = pc.unique(ids).sort().take(pa.array([10, 1_000, 2_000]))
    numbered = keys.NumberedBounds.of(bounds)
    assert numbered is not None and (numbered.table is None) == (top > 1 << 22)
    reached = numbered.reached(ids)
    assert reached is not None
    np.testing.assert_array_equal(reached, _count_reached(ids, bounds))

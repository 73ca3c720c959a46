"""The spill's routing of rows to chunks: the same chunks and order as the plain computations."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from predictor import keys
from predictor.io.chunks import _stable_order


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

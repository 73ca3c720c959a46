"""The spill's stable order of rows by chunk equals NumPy's stable ``int64`` sort."""

from __future__ import annotations

import numpy as np
import pytest

from predictor.io.chunks import _stable_order


@pytest.mark.parametrize("n_chunks", [1, 10, 300, 40_000])
def test_stable_order_equals_the_int64_stable_sort(n_chunks: int) -> None:
    chunk = np.random.default_rng(n_chunks).integers(0, n_chunks, 5_000)
    expected = np.argsort(chunk, kind="stable")
    np.testing.assert_array_equal(_stable_order(chunk, n_chunks), expected)

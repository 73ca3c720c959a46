"""Fast look-ups of customer ids in large event tables (Arrow hash joins, not Python sets).

Missing ids never match anything (not even a missing id on the other side).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def _arrays(ids: pd.Index | pd.Series, keys: pd.Series) -> tuple[pa.Array, pa.Array]:
    """``keys`` and ``ids`` as Arrow arrays of one type (the keys' type)."""
    arr = pa.array(keys)
    value_set = pa.array(ids)
    if value_set.type != arr.type:
        value_set = value_set.cast(arr.type)
    return arr, value_set


def positions(ids: pd.Index | pd.Series, keys: pd.Series) -> np.ndarray:
    """Position of each key in ``ids`` (``-1`` when absent), via Arrow's hash join (fast on strings)."""
    try:
        arr, value_set = _arrays(ids, keys)
        found = pc.index_in(arr, value_set=value_set, skip_nulls=True)
        return np.asarray(found.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)
    except (pa.ArrowException, TypeError, ValueError):
        found = pd.Index(ids).get_indexer(keys)
        return np.where(pd.isna(np.asarray(keys, dtype=object)), -1, found).astype(np.int64)


def contains(ids: pd.Index | pd.Series, keys: pd.Series) -> np.ndarray:
    """Whether each key is one of ``ids`` (a fast ``keys.isin(ids)``)."""
    return positions(ids, keys) >= 0

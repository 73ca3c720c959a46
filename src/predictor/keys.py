"""Fast look-ups of customer ids in large event tables (Arrow hash joins, not Python sets)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def positions(ids: pd.Index | pd.Series, keys: pd.Series) -> np.ndarray:
    """Position of each key in ``ids`` (``-1`` when absent), via Arrow's hash join (fast on strings)."""
    try:
        arr = pa.array(keys)
        value_set = pa.array(ids)
        if value_set.type != arr.type:
            value_set = value_set.cast(arr.type)
        found = pc.index_in(arr, value_set=value_set)
        return np.asarray(found.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)
    except (pa.ArrowException, TypeError, ValueError):
        return np.asarray(pd.Index(ids).get_indexer(keys), dtype=np.int64)


def contains(ids: pd.Index | pd.Series, keys: pd.Series) -> np.ndarray:
    """Whether each key is one of ``ids`` (a fast ``keys.isin(ids)``)."""
    if len(ids) == 0:
        return np.zeros(len(keys), dtype=bool)
    try:
        arr = pa.array(keys)
        value_set = pa.array(ids)
        if value_set.type != arr.type:
            value_set = value_set.cast(arr.type)
        return pc.is_in(arr, value_set=value_set).to_numpy(zero_copy_only=False)
    except (pa.ArrowException, TypeError, ValueError):
        return keys.isin(ids).to_numpy()

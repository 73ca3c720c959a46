"""The training sample: a seeded share of whole customers, the same with every engine.

Training learns from at most ``cutoffs.sample_customers`` customers (every row of each), so
its time and memory stop growing with the customer base; scoring still scores everyone. A
customer is kept when a seeded hash of its id falls below the share ``n / customers``, so the
sample depends only on the ids, the seed and the share: the pandas engine reading chunk by
chunk, the same engine sampling tables already in memory and Spark's buckets all keep the
same customers.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from predictor.contract.tables import Tables


def sample_keys(ids: pd.Series | pd.Index, seed: int) -> np.ndarray:
    """A uniform number in [0, 1) per customer id, fixed by the id and ``seed`` alone.

    The same customer gets the same number in every process and on every run, so the sample
    does not depend on how the data are split into chunks or buckets.
    """
    key = hashlib.sha256(f"predictor-sample-{seed}".encode()).hexdigest()[:16]
    values = pd.Series(ids).astype(str).to_numpy(dtype=object)
    hashed = pd.util.hash_array(values, hash_key=key)
    return (hashed >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def sample_share(customers: int, limit: int | None) -> float:
    """The share of ``customers`` to keep for about ``limit`` of them (1.0: keep everyone)."""
    if limit is None or customers <= limit:
        return 1.0
    return limit / customers


def sampled_ids(ids: pd.Series | pd.Index, share: float, seed: int) -> pd.Index:
    """The ids whose seeded key falls below ``share`` (all of them when ``share >= 1``)."""
    ids = pd.Index(ids)
    if share >= 1.0:
        return ids
    return ids[sample_keys(ids, seed) < share]


def customer_sample(tables: Tables, limit: int | None, seed: int) -> Tables:
    """``tables`` restricted to a seeded sample of about ``limit`` whole customers.

    The tables themselves when they hold no more than ``limit`` customers (or ``limit`` is
    ``None``).
    """
    ids = tables.customers["customer_id"]
    share = sample_share(len(ids), limit)
    if share >= 1.0:
        return tables
    return tables.subset(sampled_ids(ids, share, seed))

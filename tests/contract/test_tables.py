"""``Tables``: restricting the input tables to groups of customers."""

from __future__ import annotations

import pandas as pd
import pandas.testing as pdt

from predictor.testing import synthetic_tables


def test_partition_gives_the_subset_of_each_group_in_order():
    tables = synthetic_tables(120, seed=3)
    ids = pd.Index(tables.customers["customer_id"]).sort_values()
    # uneven groups, one empty, and an id with no rows anywhere
    groups = [ids[:50], ids[50:50], ids[50:], pd.Index(["nobody"])]
    parts = list(tables.partition(groups))
    assert len(parts) == len(groups)
    for group, part in zip(groups, parts, strict=True):
        expected = tables.subset(group)
        assert [name for name, _ in part.items()] == [name for name, _ in expected.items()]
        for name, frame in expected.items():
            pdt.assert_frame_equal(part.get(name), frame)
    assert sum(len(p.orders) for p in parts) == len(tables.orders)

"""``Tables``: restricting the input tables to groups of customers."""

from __future__ import annotations

import pandas as pd
import pandas.testing as pdt

from predictor.contract.tables import Tables
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


def test_subset_keeps_every_row_of_the_given_customers_and_only_theirs():
    tables = synthetic_tables(80, seed=5)
    ids = pd.Index(tables.customers["customer_id"])
    wanted = [ids[3], ids[40], ids[7], "nobody"]  # any order; an id without rows
    part = tables.subset(wanted)
    for name, frame in tables.items():
        expected = frame[frame["customer_id"].astype(object).isin(wanted)].reset_index(drop=True)
        pdt.assert_frame_equal(part.get(name), expected)
    assert set(part.customers["customer_id"]) == set(wanted) - {"nobody"}
    assert all(len(frame) == 0 for _, frame in tables.subset([]).items())


def test_subset_of_odd_ids_and_rows_without_an_id():
    customers = pd.DataFrame({"customer_id": pd.array(["a 1", "b", "7.0", "b2"], dtype="str")})
    orders = pd.DataFrame(
        {"customer_id": pd.array(["b", None, "a 1", "b2", "7.0"], dtype="str"), "k": range(5)}
    )
    part = Tables(customers=customers, orders=orders).subset(pd.Index(["a 1", "7.0"]))
    assert part.customers["customer_id"].tolist() == ["a 1", "7.0"]
    assert part.orders["k"].tolist() == [2, 4]  # the row without an id matches nothing

"""Part files whose columns differ, 64-bit integer ids, and values that are unreadable, not empty.

Exports grow columns over time, writers type an all-empty column as ``null``, and ids from
some systems are 64-bit integers past 2**53: none of these may lose a column, a digit or a
reason in silence.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from predictor.config import Config
from predictor.contract.errors import ContractError
from predictor.io import load_tables, open_customer_chunks
from predictor.jobs import load_training_data

END = "2024-12-31"


def _customers(n: int = 30) -> pd.DataFrame:
    days = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(n) % 50, "D")
    return pd.DataFrame({"customer_id": [f"C{i:03d}" for i in range(n)], "signup_date": days})


def _orders(customers: pd.DataFrame) -> pd.DataFrame:
    rows = customers.loc[customers.index.repeat(3)].reset_index(drop=True)
    return pd.DataFrame(
        {
            "customer_id": rows["customer_id"],
            "order_date": rows["signup_date"] + pd.to_timedelta(np.arange(len(rows)) % 90, "D"),
            "amount": np.linspace(10, 100, len(rows)),
            "channel": np.where(np.arange(len(rows)) % 2, "web", "app"),
            "margin": np.linspace(1, 10, len(rows)),
        }
    )


def _write_parts(frame: pd.DataFrame, folder: Path, fmt: str, edit=None) -> None:
    folder.mkdir(parents=True)
    for k, idx in enumerate(np.array_split(np.arange(len(frame)), 3)):
        part = frame.iloc[idx].copy()
        part = edit(k, part) if edit else part
        if fmt == "parquet":
            part.to_parquet(folder / f"part-{k:04d}.parquet", index=False)
        else:
            part.to_csv(folder / f"part-{k:04d}.csv", index=False)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_a_column_the_first_part_lacks_is_read_from_the_other_parts(tmp_path, fmt):
    customers = _customers()
    orders = _orders(customers)
    customers.to_csv(tmp_path / "customers.csv", index=False)
    _write_parts(
        orders, tmp_path / "orders", fmt, lambda k, p: p.drop(columns="channel") if k == 0 else p
    )
    result = load_tables(None, tmp_path, end_date=END)
    named = [i.message for i in result.warnings if i.check == "partial_column"]
    assert named == [
        f"orders.channel: absent from 1 of 3 part files (file part-0000.{fmt}); empty in their rows"
    ]
    got = result.raise_for_errors().orders
    first = np.array_split(np.arange(len(orders)), 3)[0]
    assert got["channel"].isna().sum() == len(first)  # empty only in the first part's rows
    expected = orders.drop(index=first)["channel"].value_counts()
    pd.testing.assert_series_equal(got["channel"].value_counts(), expected, check_dtype=False)


def test_an_all_empty_column_typed_null_in_one_part_does_not_break_the_table(tmp_path):
    customers = _customers()
    customers.to_csv(tmp_path / "customers.csv", index=False)

    def empty_margin(k: int, part: pd.DataFrame) -> pd.DataFrame:
        return part.assign(margin=None) if k == 0 else part  # pandas writes Arrow type null

    _write_parts(_orders(customers), tmp_path / "orders", "parquet", empty_margin)
    orders = load_tables(None, tmp_path, end_date=END).raise_for_errors().orders
    assert orders["margin"].notna().sum() == len(orders) - len(orders) // 3
    config = Config.model_validate(
        {"data": {"path": str(tmp_path)}, "cutoffs": {"sample_customers": 10}}
    )
    (tmp_path / "customers.csv").unlink()
    customers.to_parquet(tmp_path / "customers.parquet", index=False)
    data = load_training_data(config, batch_rows=20)  # read in batches: no traceback either
    assert data.chunked and data.tables.orders["margin"].notna().any()


def test_part_files_that_disagree_on_a_type_are_named(tmp_path):
    customers = _customers()
    customers.to_csv(tmp_path / "customers.csv", index=False)

    def as_text(k: int, part: pd.DataFrame) -> pd.DataFrame:
        return part.assign(amount=part["amount"].astype(str)) if k == 1 else part

    _write_parts(_orders(customers), tmp_path / "orders", "parquet", as_text)
    with pytest.raises(ContractError, match=r"orders: the part files disagree on a column's type"):
        load_tables(None, tmp_path, end_date=END)


def test_64_bit_integer_ids_keep_every_digit(tmp_path):
    base = 76_561_197_960_265_728  # past 2**53: float64 would merge neighbours
    customers = _customers()
    numbers = customers["customer_id"].str[1:].astype("int64") + base
    orders = _orders(customers)
    orders["customer_id"] = orders["customer_id"].str[1:].astype("int64") + base
    customers.assign(customer_id=numbers).to_parquet(tmp_path / "customers.parquet", index=False)
    orders.to_parquet(tmp_path / "orders.parquet", index=False)
    result = load_tables(None, tmp_path, end_date=END)
    assert result.ok and not result.warnings, [i.message for i in result.issues]
    assert sorted(result.tables.customers["customer_id"]) == sorted(map(str, numbers))


def _with_unreadable_mrr(folder: Path) -> None:
    """30 customers with orders, and a subscription each whose ``mrr`` has a decimal comma."""
    customers = _customers()
    customers.to_csv(folder / "customers.csv", index=False)
    _orders(customers).to_csv(folder / "orders.csv", index=False)
    subs = customers.rename(columns={"signup_date": "start_date"}).assign(mrr="29,0")
    subs.to_csv(folder / "subscriptions.csv", index=False)


def test_unreadable_values_are_not_called_empty(tmp_path):
    _with_unreadable_mrr(tmp_path)
    result = load_tables(None, tmp_path, end_date=END)
    checks = {(i.check, i.column) for i in result.warnings}
    assert ("unparseable_number", "mrr") in checks
    assert ("empty_column", "mrr") not in checks  # every value is there, none readable


def test_training_stops_when_no_subscription_row_is_valid(tmp_path):
    """Every subscription set aside would switch the churn rule to 'no purchase' in silence."""
    _with_unreadable_mrr(tmp_path)
    config = Config.model_validate({"data": {"path": str(tmp_path), "end_date": END}})
    with pytest.raises(ContractError, match="subscriptions: none of its 30 rows") as err:
        load_training_data(config)
    assert "decides the churn rule" in str(err.value)
    chosen = Config.model_validate(
        {"data": {"path": str(tmp_path), "end_date": END}, "churn": {"rule": "no_order"}}
    )
    assert len(load_training_data(chosen).tables.customers) == 30  # the rule chosen on purpose


def test_read_in_parts_names_the_column_some_parts_lack(tmp_path):
    """Training's batches and scoring's chunks say what the whole read says."""
    customers = _customers()
    customers.to_parquet(tmp_path / "customers.parquet", index=False)
    _write_parts(
        _orders(customers),
        tmp_path / "orders",
        "parquet",
        lambda k, p: p.drop(columns="margin") if k == 2 else p,
    )
    config = Config.model_validate(
        {"data": {"path": str(tmp_path)}, "cutoffs": {"sample_customers": 10}}
    )
    data = load_training_data(config, batch_rows=25)
    named = [i for i in data.warnings if i.check == "partial_column"]
    assert [(i.table, i.column, i.examples) for i in named] == [
        ("orders", "margin", ["part-0002.parquet"])
    ]
    chunks = open_customer_chunks(config, None, 7, end_date=END, workdir=tmp_path)
    with chunks:
        issues = [i for k in range(len(chunks)) for i in chunks.validated(k).issues]
    assert [(i.check, i.column) for i in issues if i.check == "partial_column"] == [
        ("partial_column", "margin")
    ]

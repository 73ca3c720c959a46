"""The training sample (``cutoffs.sample_customers``): same customers on every path, all rows checked.

A Parquet input with more customers than the sample is read batch by batch, every row
validated, and only the sampled customers are kept (``jobs.load_training_data``); tables already in memory are sampled
by ``training.train``. Both keep the same whole customers; a bad row of a customer outside
the sample still stops the run.
"""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from predictor.cli import app
from predictor.config import Config
from predictor.contract.errors import ContractError
from predictor.contract.tables import Tables
from predictor.customer_sample import customer_sample, sample_keys, sample_share
from predictor.io import load_tables, write_tables
from predictor.jobs import load_training_data

N = 400
LIMIT = 150
SEED = 0


@pytest.fixture(scope="module")
def tables(business) -> Tables:
    """The first customers of the sample, every table's rows shuffled."""
    ids = sorted(business.tables.customers["customer_id"])[:N]
    subset = business.tables.subset(ids)
    return Tables(
        **{n: f.sample(frac=1.0, random_state=5).reset_index(drop=True) for n, f in subset.items()}
    )


def config_for(folder, limit: int | None = LIMIT, **data) -> Config:
    return Config.model_validate(
        {"data": {"path": str(folder), **data}, "cutoffs": {"sample_customers": limit}}
    )


def canonical(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def assert_same_tables(left: Tables, right: Tables) -> None:
    assert [n for n, _ in left.items()] == [n for n, _ in right.items()]
    for name, frame in left.items():
        pd.testing.assert_frame_equal(canonical(frame), canonical(right.get(name)), obj=name)


def test_sample_keys_are_uniform_and_fixed_by_id_and_seed():
    ids = pd.Series([f"C{i:06d}" for i in range(20_000)])
    keys = sample_keys(ids, SEED)
    assert ((keys >= 0) & (keys < 1)).all()
    assert abs((keys < 0.25).mean() - 0.25) < 0.015
    np.testing.assert_array_equal(keys[::-1], sample_keys(ids[::-1], SEED))
    assert not np.array_equal(keys, sample_keys(ids, SEED + 1))


def test_batched_read_keeps_the_in_memory_sample(tables, tmp_path):
    write_tables(tables, tmp_path / "data", fmt="parquet")
    config = config_for(tmp_path / "data")
    data = load_training_data(config, batch_rows=97)
    assert data.chunked and data.customers == N
    whole = load_tables(config.data, tmp_path / "data").raise_for_errors()
    expected = customer_sample(whole, LIMIT, SEED)
    assert_same_tables(data.tables, expected)
    kept = len(data.tables.customers)
    assert 0.5 * LIMIT < kept < 1.5 * LIMIT  # a hash share of N, about LIMIT
    assert set(data.tables.orders["customer_id"]) <= set(data.tables.customers["customer_id"])


def with_faults(tables: Tables) -> Tables:
    """Rows every check sets aside, spread over the tables (and over many batches of 61 rows)."""
    customers = tables.customers.copy()
    late = customers.index[7]
    customers.loc[late, "signup_date"] = pd.Timestamp("2099-01-01")  # rejected: events too
    orders = tables.orders.assign(coupon_code="X")  # not in the contract: named, not read
    orders.loc[200, "customer_id"] = "NOBODY-1"  # unknown customer, in the 4th batch
    orders.loc[[5, 130], "order_date"] = pd.Timestamp("2099-06-01")  # after the data end
    orders.loc[[70, 71], "amount"] = np.nan  # missing required value
    signups = customers.set_index("customer_id")["signup_date"]
    early = orders.index[orders["customer_id"] == customers.loc[0, "customer_id"]][:1]
    orders.loc[early, "order_date"] = signups.iloc[0] - pd.Timedelta(days=3)  # before signup
    tickets = tables.support_tickets.copy()
    tickets.loc[tickets.index[[3, 90]], "csat"] = 9.0  # out of range
    return tables.replace(customers=customers, orders=orders, support_tickets=tickets)


def test_batched_read_sets_aside_what_the_whole_read_sets_aside(tables, tmp_path):
    """Every check, batch by batch against the customers: the same rows kept, the same counts,
    row numbers of the whole table in the messages."""
    write_tables(with_faults(tables), tmp_path / "data", fmt="parquet")
    config = config_for(tmp_path / "data")
    data = load_training_data(config, batch_rows=61)
    whole = load_tables(config.data, tmp_path / "data")
    assert data.chunked
    assert_same_tables(data.tables, customer_sample(whole.raise_for_errors(), LIMIT, SEED))
    counts = {(i.check, i.table): i.count for i in data.warnings}
    expected = {(i.check, i.table): i.count for i in whole.warnings}
    assert counts == expected
    assert {
        "unknown_customer", "after_end_date", "before_signup", "rejected_customer", "unread_column"
    } <= {check for check, _ in counts}  # fmt: skip
    unknown = [i for i in data.warnings if i.check == "unknown_customer"]
    assert unknown[0].message == next(
        i.message for i in whole.warnings if i.check == "unknown_customer"
    )  # one batch reported it: row 200 of orders, as read whole
    assert "200" in unknown[0].message


def test_inputs_no_larger_than_the_sample_are_read_whole(tables, tmp_path):
    write_tables(tables, tmp_path / "data", fmt="parquet")
    data = load_training_data(config_for(tmp_path / "data", limit=N))
    assert not data.chunked and len(data.tables.customers) == N
    write_tables(tables, tmp_path / "csv", fmt="csv")
    data = load_training_data(config_for(tmp_path / "csv"))
    assert not data.chunked and len(data.tables.customers) == N  # CSV: train samples


def test_a_bad_row_outside_the_sample_still_stops_the_run(tables, tmp_path):
    whole = customer_sample(tables, None, SEED)
    share = sample_share(N, LIMIT)
    ids = whole.customers["customer_id"]
    outside = ids[sample_keys(ids, SEED) >= share].iloc[0]
    customers = tables.customers
    # a second, different row for one id (an exact copy would only be set aside)
    other = customers[customers["customer_id"] == outside].assign(acquisition_channel="other")
    twice = pd.concat([customers, other])
    write_tables(tables.replace(customers=twice), tmp_path / "data", fmt="parquet")
    with pytest.raises(ContractError) as err:
        load_training_data(config_for(tmp_path / "data"), batch_rows=50)
    assert "customer_id" in str(err.value) and outside in str(err.value)


def test_customer_sample_is_nested_and_a_no_op_below_the_limit(tables):
    assert customer_sample(tables, N, SEED) is tables
    assert customer_sample(tables, None, SEED) is tables
    small = customer_sample(tables, 100, SEED)
    smaller = customer_sample(tables, 50, SEED)
    assert set(smaller.customers["customer_id"]) <= set(small.customers["customer_id"])
    again = customer_sample(small, len(small.customers), SEED)
    assert again is small  # the sample of a sample is itself: train does not shrink it twice


def test_cli_trains_on_the_sample_and_records_both_counts(business, tmp_path):
    ids = sorted(business.tables.customers["customer_id"])[:900]
    write_tables(business.tables.subset(ids), tmp_path / "data", fmt="parquet")
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    result = CliRunner().invoke(
        app,
        [
            "train", "--data", str(tmp_path / "data"), "--tracking-uri", uri,
            "--models-dir", str(tmp_path / "models"), "--models", "churn",
            "--sample-customers", "600",
            "--set", "model.n_estimators=40", "--set", "model.n_jobs=1",
            "--set", "cutoffs.churn_max_cutoffs=3", "--set", "cutoffs.step_days=60",
            "--set", "tracking.register_model=false",
        ],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "validated all 900 customers batch by batch; training on" in result.output
    client = mlflow.MlflowClient(tracking_uri=uri)
    run = client.search_runs([client.get_experiment_by_name("predictor").experiment_id])[0]
    kept = run.data.params["cutoffs.sample_customers"]
    assert kept == "600" and run.data.tags["predictor.data_customers"] == "900"

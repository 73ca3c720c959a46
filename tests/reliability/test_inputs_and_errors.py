"""Missing inputs and errors at the edge: one line naming the file, setting or table; exit 2."""

from __future__ import annotations

import errno
import shutil
import warnings
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.reliability.conftest import one_line_error, score, without
from typer.testing import CliRunner

import predictor
from predictor.cli import app
from predictor.contract.errors import ContractError
from predictor.errors import PredictorError

runner = CliRunner()


# -- missing inputs ----------------------------------------------------------------------


def test_missing_table_that_feeds_scores_is_a_warning(model_dir, small_csv, tmp_path):
    data = without(small_csv, "support_tickets", tmp_path / "data")
    result = score(model_dir, data, tmp_path / "s.csv")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "warning: support_tickets: the model was trained with this table" in text
    assert "value_13m" in text and "churn_risk" in text
    quiet = score(model_dir, data, tmp_path / "q.csv", "--allow-missing", "support_tickets")
    assert quiet.exit_code == 0 and "support_tickets" not in quiet.output


def test_missing_table_that_drives_the_churn_rule_is_an_error(model_dir, small_csv, tmp_path):
    data = without(small_csv, "subscriptions", tmp_path / "data")
    out = tmp_path / "s.csv"
    result = score(model_dir, data, out)
    one_line_error(result, "subscriptions", "churn population", "--allow-missing subscriptions")
    assert " ".join(result.output.split()).count("churn_risk") == 1  # each score named once
    assert not out.exists()
    allowed = score(model_dir, data, out, "--allow-missing", "subscriptions")
    assert allowed.exit_code == 0, allowed.output
    assert len(pd.read_csv(out)) > 0


def test_a_churn_rule_table_without_rows_is_named_as_such(model_dir, small_csv, tmp_path):
    """A header-only ``subscriptions.csv`` was called "absent" while the file was there."""
    data = tmp_path / "data"
    shutil.copytree(small_csv, data)
    header = (data / "subscriptions.csv").read_text().splitlines()[0]
    (data / "subscriptions.csv").write_text(header + "\n")
    result = score(model_dir, data, tmp_path / "s.csv")
    one_line_error(result, "subscriptions", "(no file, or a file without rows)", "--allow-missing")


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_churn_rule_table_none_of_whose_rows_pass_is_an_error(
    model_dir, small_csv, small_parquet, tmp_path, fmt
):
    """Every subscription's id in lower case: all set aside, so everyone would be 'lapsed'
    (exit 0 before): it stops like an absent table, quoting why the rows were set aside."""
    data = tmp_path / "data"
    shutil.copytree(small_csv if fmt == "csv" else small_parquet, data)
    path = data / f"subscriptions.{fmt}"
    subs = pd.read_csv(path, dtype=str) if fmt == "csv" else pd.read_parquet(path)
    subs["customer_id"] = subs["customer_id"].str.lower()
    subs.to_csv(path, index=False) if fmt == "csv" else subs.to_parquet(path, index=False)
    out = tmp_path / "s.csv"
    result = score(model_dir, data, out, "--chunk-size", "40")
    one_line_error(
        result, f"subscriptions: none of its {len(subs)} rows passed", "not in customers",
        "churn population", "--allow-missing subscriptions",
    )  # fmt: skip
    assert not out.exists()
    allowed = score(model_dir, data, out, "--allow-missing", "subscriptions")
    assert allowed.exit_code == 0, allowed.output


def test_columns_the_model_learned_from_that_the_input_lacks_are_named(
    model_dir, small_csv, small_tables, tmp_path
):
    """An attribute left out of (or renamed in) the scoring export, orders without
    ``channel``: those features were missing for everyone, the scores moved, no word."""
    data = tmp_path / "data"
    shutil.copytree(small_csv, data)
    customers = pd.read_csv(data / "customers.csv", dtype=str, keep_default_na=False)
    customers.rename(columns={"device": "DeviceType"}).to_csv(data / "customers.csv", index=False)
    orders = pd.read_csv(data / "orders.csv", dtype=str, keep_default_na=False)
    orders.drop(columns=["channel"]).to_csv(data / "orders.csv", index=False)
    result = score(model_dir, data, tmp_path / "s.csv")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "warning: customers: lacks the column(s) device the model was trained with" in text
    assert "warning: orders: cannot build" in text and "orders__n_channels" in text
    assert "lacks the optional column(s) channel;" in text
    whole = score(model_dir, small_csv, tmp_path / "w.csv")
    assert whole.exit_code == 0 and "warning" not in whole.output, whole.output
    model = predictor.load_model(model_dir)
    with pytest.warns(UserWarning, match="customers: lacks the column.s. device"):
        model.score(small_tables.replace(customers=small_tables.customers.drop(columns="device")))


def test_attribute_values_the_model_never_saw_are_named(
    model_dir, small_csv, small_tables, tmp_path
):
    """``IOS`` where the model learned ``ios`` (or ``Yes`` for ``True``): scored as missing
    for every customer, no word."""
    data = tmp_path / "data"
    shutil.copytree(small_csv, data)
    customers = pd.read_csv(data / "customers.csv", dtype=str, keep_default_na=False)
    customers.assign(device=customers["device"].str.upper()).to_csv(
        data / "customers.csv", index=False
    )
    result = score(model_dir, data, tmp_path / "s.csv", "--chunk-size", "40")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "warning: customers.device: 40 of 40 values were not seen in training ('" in text
    assert "the model knows 'android'" in text
    model = predictor.load_model(model_dir)
    upper = small_tables.customers.assign(device=small_tables.customers["device"].str.upper())
    with pytest.warns(UserWarning, match="customers.device: 120 of 120 values were not seen"):
        model.score(small_tables.replace(customers=upper))


def test_a_parquet_column_empty_in_every_chunk_is_named(model_dir, small_parquet, tmp_path):
    """``orders.margin`` all null (Spark writes such a column as type null): a whole read
    warned, the chunked read said nothing while the margin features moved."""
    data = tmp_path / "data"
    shutil.copytree(small_parquet, data)
    orders = pq.read_table(data / "orders.parquet")
    at = orders.schema.get_field_index("margin")
    pq.write_table(orders.set_column(at, "margin", pa.nulls(len(orders))), data / "orders.parquet")
    result = score(model_dir, data, tmp_path / "s.csv", "--chunk-size", "30")
    assert result.exit_code == 0, result.output
    assert f"warning: orders.margin: empty in all {len(orders):,} rows" in result.output


def test_library_scoring_checks_missing_tables_too(model_dir, small_tables):
    model = predictor.load_model(model_dir)
    with pytest.raises(ContractError, match="subscriptions"):
        model.score(small_tables.replace(subscriptions=None))
    with pytest.warns(UserWarning, match="nps: the model was trained with this table"):
        model.score(small_tables.replace(nps=None))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        model.score(small_tables.replace(nps=None), allow_missing=["nps"])


def test_allow_missing_lets_an_input_lacking_most_tables_be_scored(model_dir, small_csv, tmp_path):
    """Without most signal tables the features fall below the model's share: refused with the
    options that accept it; given those options, every customer is scored or rejected."""
    absent = ["interactions", "nps", "onboarding", "support_tickets"]
    data = tmp_path / "data"
    shutil.copytree(small_csv, data)
    for table in absent:
        (data / f"{table}.csv").unlink()
    refused = score(model_dir, data, tmp_path / "r.csv")
    one_line_error(refused, "model features cannot be built", "--allow-missing interactions")
    out = tmp_path / "s.csv"
    allowed = score(model_dir, data, out, *[f"--allow-missing={t}" for t in absent])
    assert allowed.exit_code == 0, allowed.output
    scored, rejected = len(pd.read_csv(out)), len(pd.read_csv(tmp_path / "s_rejects.csv"))
    assert scored > 0 and scored + rejected == len(pd.read_csv(data / "customers.csv"))
    model = predictor.load_model(model_dir)
    tables = predictor.io.load_tables(model.model.config, data).raise_for_errors()
    assert len(model.score(tables, allow_missing=absent)) == scored


def test_allow_missing_names_a_table(model_dir, small_csv, tmp_path):
    result = score(model_dir, small_csv, tmp_path / "s.csv", "--allow-missing", "tickets")
    assert result.exit_code == 2 and "'tickets' is not a table" in result.output


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_duplicate_header_is_the_duplicate_column_error(small_csv, tmp_path, fmt):
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq

    data = tmp_path / "data"
    shutil.copytree(small_csv, data)
    orders = pd.read_csv(data / "orders.csv", dtype=str)
    (data / "orders.csv").unlink()
    if fmt == "csv":
        text = (data / "x").with_name("orders.csv")
        header, *rows = orders.to_csv(index=False).splitlines()
        text.write_text("\n".join([header + ",amount", *(r + ",1" for r in rows)]) + "\n")
    else:
        table = pa.Table.from_pandas(orders, preserve_index=False)
        table = table.append_column("amount", pa.array(["1"] * len(orders)))
        pq.write_table(table, data / "orders.parquet")
    result = runner.invoke(app, ["validate", str(data)])
    assert result.exit_code == 1
    assert "orders.amount" in result.output and "2 columns named 'amount'" in result.output


# -- errors at the edge -----------------------------------------------------------------


def test_every_error_class_derives_from_predictor_error():
    from predictor.bundle import ModelLoadError
    from predictor.datasets import ShortHistoryError
    from predictor.errors import OutputError, OutputLockedError
    from predictor.explain import UnknownCustomerError
    from predictor.io import ConfigError
    from predictor.modeling.preprocess import SchemaMismatchError
    from predictor.modeling.probabilistic import NotFittedError

    for cls in (
        ContractError,
        ModelLoadError,
        ShortHistoryError,
        UnknownCustomerError,
        ConfigError,
        SchemaMismatchError,
        NotFittedError,
        OutputError,
        OutputLockedError,
    ):
        assert issubclass(cls, PredictorError), cls
    assert issubclass(ContractError, ValueError)  # old `except ValueError` still works


def test_read_only_output_folder(model_dir, small_csv, tmp_path, monkeypatch):
    import os

    real = os.open
    ro = tmp_path / "ro"

    def read_only(path, flags, *args, **kwargs):
        """A read-only mount: creating any file in ``ro`` fails as the kernel would say."""
        if flags & os.O_CREAT and Path(path).parent == ro:
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real(path, flags, *args, **kwargs)

    ro.mkdir()
    monkeypatch.setattr(os, "open", read_only)
    out = ro / "scores.parquet"
    one_line_error(score(model_dir, small_csv, out), str(out), "Read-only file system")
    assert sorted(p.name for p in ro.iterdir()) == []


def test_full_disk_leaves_the_previous_output(model_dir, small_csv, tmp_path, monkeypatch):
    import os

    import predictor.io.atomic

    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    out = tmp_path / "scores.csv"
    out.write_text("previous\n")
    monkeypatch.setattr(predictor.io.atomic.os, "fsync", no_space)
    result = score(model_dir, small_csv, out)
    one_line_error(result, f"cannot write {tmp_path}", "No space left on device")
    monkeypatch.setattr(predictor.io.atomic.os, "fsync", os.fsync)
    assert out.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.csv"]


def test_unreadable_input_names_the_file(model_dir, small_csv, tmp_path, monkeypatch):
    import predictor.io.files

    def denied(path, *args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(predictor.io.files.pd, "read_csv", denied)
    result = score(model_dir, small_csv, tmp_path / "s.csv")
    one_line_error(result, "customers.csv", "Permission denied")


def test_missing_model_folder(small_csv, tmp_path):
    result = score(tmp_path / "nope", small_csv, tmp_path / "s.csv")
    one_line_error(result, "nope", "not a predictor model folder")


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("--as-of", "yesterday", ["--as-of", "YYYY-MM-DD", "yesterday"]),
        ("--as-of", "2024-13-45", ["--as-of"]),
        ("--chunk-size", "0", ["--chunk-size", "greater than or equal to 1"]),
        ("--drivers", "-1", ["--drivers", "greater than or equal to 0"]),
    ],
)
def test_bad_numbers_and_dates_are_refused_at_parse_time(
    model_dir, small_csv, tmp_path, option, value, words
):
    result = score(model_dir, small_csv, tmp_path / "s.csv", option, value)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for word in words:
        assert word in result.output
    assert not (tmp_path / "s.csv").exists()


def test_as_of_long_after_the_data_is_a_warning(model_dir, small_csv, tmp_path):
    out = tmp_path / "s.csv"
    result = score(model_dir, small_csv, out, "--as-of", "2030-01-01")
    assert result.exit_code == 0, result.output
    assert "days after the data's last date" in " ".join(result.output.split())


def test_debug_shows_the_traceback(small_csv, tmp_path):
    from predictor.bundle import ModelLoadError

    args = [
        "--debug",
        "score",
        "--model",
        str(tmp_path / "nope"),
        "--data",
        str(small_csv),
        "--out",
        str(tmp_path / "s.csv"),
    ]
    result = runner.invoke(app, args)
    assert isinstance(result.exception, ModelLoadError)


def test_a_text_column_blank_in_every_row_does_not_crash_training():
    import numpy as np

    from predictor.modeling.churn import ChurnModel

    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "orders__count": rng.poisson(3, 200).astype(float),
            "customer__country": pd.Categorical([None] * 200, categories=[]),
        }
    )
    y = (X["orders__count"] < 3).astype(int).to_numpy()
    model = ChurnModel(n_estimators=5, early_stopping_rounds=2).fit(X, y)
    assert model.schema_.features_ == ["orders__count"]
    later = X.assign(customer__country=pd.Categorical(["FR"] * 200))
    assert np.isfinite(model.predict_proba(later)).all()


# -- a required table none of whose rows pass, read chunk by chunk ------------------------------


def lower_case_order_ids(folder: Path, target: Path) -> Path:
    """A copy of the Parquet folder whose order ids are lower case: no order matches a customer."""
    import shutil

    shutil.copytree(folder, target)
    orders = pd.read_parquet(target / "orders.parquet")
    orders["customer_id"] = orders["customer_id"].str.lower()
    orders.to_parquet(target / "orders.parquet", index=False)
    return target


def test_parquet_scoring_stops_when_no_order_passes(model_dir, small_parquet, tmp_path):
    """Chunk by chunk as read whole: no order left is the no_valid_rows error, not 120 scores."""
    data = lower_case_order_ids(small_parquet, tmp_path / "data")
    out = tmp_path / "s.csv"
    result = score(model_dir, data, out, "--chunk-size", "50")
    one_line_error(result, "orders: none of its", "not in customers", "nothing was written")
    assert not out.exists() and not (tmp_path / "s_rejects.csv").exists()
    # the lower-case ids sort after every customer's, so they land in another chunk than
    # their customers: the cause is still named, from the ids of every chunk
    assert "letter case and leading zeros are ignored" in " ".join(result.output.split())


def test_an_early_as_of_does_not_hide_orders_that_fail_the_checks(
    model_dir, small_parquet, tmp_path
):
    """``--as-of`` before every order: the chunked read left the later orders out before the
    checks, so orders that all fail scored with exit 0 and no word (read whole: no_valid_rows)."""
    data = lower_case_order_ids(small_parquet, tmp_path / "data")
    first = pd.read_parquet(data / "orders.parquet", columns=["order_date"])["order_date"].min()
    as_of = (first - pd.Timedelta(days=1)).date().isoformat()
    out = tmp_path / "s.csv"
    for size in ("50", "100000"):
        result = score(model_dir, data, out, "--chunk-size", size, "--as-of", as_of)
        one_line_error(result, "orders: none of its", "not in customers", "nothing was written")
        assert not out.exists()


def test_sampled_parquet_training_stops_when_no_order_passes(small_parquet, tmp_path):
    data = lower_case_order_ids(small_parquet, tmp_path / "data")
    args = ["train", "--data", str(data), "--sample-customers", "60"]
    args += ["--tracking-uri", f"sqlite:///{tmp_path}/m.db", "--models-dir", str(tmp_path / "m")]
    result = runner.invoke(app, args)
    one_line_error(result, "1 data error(s); nothing was done")
    assert "orders: none of its" in result.output and "letter case" in result.output


def test_exact_copies_of_customer_rows_score_each_customer_once(model_dir, small_csv, tmp_path):
    """A unioned export repeats some customers rows exactly: each customer is scored once.

    The copies are listed in the rejects file (input rows not scored), so scored + rejected
    still adds up to the input rows."""
    data = tmp_path / "data"
    shutil.copytree(small_csv, data)
    customers = pd.read_csv(data / "customers.csv", dtype=str, keep_default_na=False)
    doubled = pd.concat([customers, customers.head(3)], ignore_index=True)
    doubled.to_csv(data / "customers.csv", index=False)
    out = tmp_path / "s.csv"
    result = score(model_dir, data, out)
    assert result.exit_code == 0, result.output
    assert "repeat an earlier row exactly" in " ".join(result.output.split())
    scored, rejected = pd.read_csv(out), pd.read_csv(tmp_path / "s_rejects.csv")
    assert scored["customer_id"].is_unique and len(scored) == len(customers)
    copies = rejected[rejected["reason"].str.contains("exact copy")]
    assert sorted(copies["customer_id"]) == sorted(customers["customer_id"].head(3))
    assert len(scored) + len(rejected) == len(doubled)  # every input row accounted for
    validated = runner.invoke(app, ["validate", str(data), "--rejects", str(tmp_path / "v.csv")])
    assert validated.exit_code == 0, validated.output
    rows = pd.read_csv(tmp_path / "v.csv")
    copies = rows[rows["check"] == "duplicate_row"]
    assert sorted(copies["customer_id"]) == sorted(customers["customer_id"].head(3))


def test_parquet_scoring_names_columns_outside_the_contract_once(
    model_dir, small_parquet, tmp_path
):
    """Read chunk by chunk, an export's extra column is named as reading it whole names it."""
    data = tmp_path / "data"
    shutil.copytree(small_parquet, data)
    orders = pd.read_parquet(data / "orders.parquet").assign(_LOAD_TS="2024-01-01")
    orders.to_parquet(data / "orders.parquet", index=False)
    result = score(model_dir, data, tmp_path / "s.csv", "--chunk-size", "50")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert text.count("not in the contract, not read: _LOAD_TS") == 1, result.output


def test_chunked_scoring_names_the_rows_of_the_file(model_dir, small_parquet, tmp_path):
    """A chunk holds rows from all over the file: messages count rows in the file, not the chunk."""
    data = tmp_path / "data"
    shutil.copytree(small_parquet, data)
    orders = pd.read_parquet(data / "orders.parquet")
    row = len(orders) - 3
    orders.loc[row, "amount"] = None
    orders.to_parquet(data / "orders.parquet", index=False)
    result = score(model_dir, data, tmp_path / "s.csv", "--chunk-size", "50")
    assert result.exit_code == 0, result.output
    assert f"1 row has no amount (row {row})" in " ".join(result.output.split())

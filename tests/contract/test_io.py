"""The file edge: reading tables, atomic writes and configuration loading."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from predictor.config import Config, DataConfig
from predictor.contract.errors import ContractError
from predictor.contract.validate import validate
from predictor.io import (
    ConfigError,
    load_config,
    load_tables,
    read_raw_tables,
    write_frame_atomic,
    write_json_atomic,
    write_tables,
)

END = pd.Timestamp("2024-06-30")

CUSTOMERS_CSV = """customer_id,signup_date,acquisition_channel,country,age
007,2023-01-01,search,NA,30
2,2023-02-01T10:00:00+02:00,social,FR,
"""
ORDERS_CSV = """customer_id,order_date,amount,order_id
007,2023-01-05,10.50,A1
2,2023-02-03 12:00:00Z,-4,A2
2,2023-03-01,20,A3
"""


def write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def csv_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "csv"
    folder.mkdir()
    write_text(folder / "customers.csv", CUSTOMERS_CSV)
    write_text(folder / "orders.csv", ORDERS_CSV)
    return folder


def test_csv_is_read_as_text_and_validates(csv_folder: Path):
    raw = read_raw_tables(folder=csv_folder)
    assert set(raw) == {"customers", "orders"}
    assert raw["customers"]["customer_id"].tolist() == ["007", "2"]
    assert raw["customers"]["country"].tolist() == ["NA", "FR"]
    result = load_tables(folder=csv_folder, end_date=END)
    assert result.issues == []
    customers = result.tables.customers
    assert customers["customer_id"].tolist() == ["007", "2"]
    assert customers["signup_date"].tolist() == [
        pd.Timestamp("2023-01-01"), pd.Timestamp("2023-02-01 08:00"),
    ]  # fmt: skip
    assert result.tables.orders["order_date"].iloc[1] == pd.Timestamp("2023-02-03 12:00")


def test_csv_and_parquet_read_the_same(csv_folder: Path, tmp_path: Path):
    parquet = tmp_path / "parquet"
    parquet.mkdir()
    customers = pd.DataFrame(
        {
            "customer_id": ["007", "2"],
            "signup_date": pd.to_datetime(
                ["2023-01-01 00:00:00+00:00", "2023-02-01 10:00:00+02:00"], utc=True
            ),
            "acquisition_channel": ["search", "social"],
            "country": ["NA", "FR"],
            "age": [30, None],
        }
    )
    orders = pd.DataFrame(
        {
            "customer_id": ["007", "2", "2"],
            "order_date": pd.to_datetime(
                ["2023-01-05", "2023-02-03 12:00:00", "2023-03-01"], format="ISO8601"
            ),
            "amount": [10.5, -4.0, 20.0],
            "order_id": ["A1", "A2", "A3"],
        }
    )
    customers.to_parquet(parquet / "customers.parquet")
    orders.to_parquet(parquet / "orders.parquet")
    from_csv = load_tables(folder=csv_folder, end_date=END).raise_for_errors()
    from_parquet = load_tables(folder=parquet, end_date=END).raise_for_errors()
    for name, frame in from_csv.items():
        pd.testing.assert_frame_equal(frame, from_parquet.get(name), check_dtype=True)


def test_gzipped_and_semicolon_csv(tmp_path: Path):
    with gzip.open(tmp_path / "customers.csv.gz", "wt", encoding="utf-8") as handle:
        handle.write(CUSTOMERS_CSV)
    write_text(tmp_path / "orders.csv", ORDERS_CSV.replace(",", ";"))
    raw = read_raw_tables(folder=tmp_path)
    assert raw["customers"].shape == (2, 5)
    assert list(raw["orders"].columns) == ["customer_id", "order_date", "amount", "order_id"]


def test_tab_separated_tables_read_as_their_csv(tmp_path: Path, csv_folder: Path):
    """A ``.tsv`` export (file, gzipped, or part files in a folder) reads like the CSV."""
    tsv = tmp_path / "tsv"
    (tsv / "orders").mkdir(parents=True)
    with gzip.open(tsv / "customers.tsv.gz", "wt", encoding="utf-8") as handle:
        handle.write(CUSTOMERS_CSV.replace(",", "\t"))
    rows = ORDERS_CSV.replace(",", "\t").splitlines(keepends=True)
    write_text(tsv / "orders" / "part-0.tsv", "".join(rows[:2]))
    write_text(tsv / "orders" / "part-1.tsv", rows[0] + "".join(rows[2:]))
    from_tsv = read_raw_tables(folder=tsv)
    from_csv = read_raw_tables(folder=csv_folder)
    for name, frame in from_csv.items():
        pd.testing.assert_frame_equal(from_tsv[name], frame)
    with pytest.raises(ContractError, match="unsupported file type"):
        write_frame_atomic(pd.DataFrame({"a": [1]}), tmp_path / "out.tsv")  # not comma CSV


def test_byte_order_mark_and_spaces_in_headers_are_ignored(tmp_path: Path):
    (tmp_path / "customers.csv").write_bytes(
        "\ufeff customer_id , signup_date\n1,2023-01-01\n".encode()
    )
    write_text(tmp_path / "orders.csv", ORDERS_CSV)
    assert list(read_raw_tables(folder=tmp_path)["customers"].columns) == [
        "customer_id", "signup_date",
    ]  # fmt: skip


def test_column_mapping_renames_user_columns(tmp_path: Path):
    write_text(tmp_path / "customers.csv", "cust,created\nc1,2023-01-01\n")
    write_text(tmp_path / "orders.csv", "cust,ts,total\nc1,2023-01-02,5\n")
    config = DataConfig(
        path=str(tmp_path),
        columns={
            "customers": {"cust": "customer_id", "created": "signup_date"},
            "orders": {"cust": "customer_id", "ts": "order_date", "total": "amount"},
        },
    )
    result = load_tables(config, end_date=END)
    assert result.issues == []
    assert result.tables.orders.columns.tolist() == ["customer_id", "order_date", "amount"]
    assert result.tables.orders["amount"].tolist() == [5.0]


def test_column_mapping_of_a_missing_column_names_it(tmp_path: Path):
    write_text(tmp_path / "customers.csv", "customer_id,signup_date\nc1,2023-01-01\n")
    write_text(tmp_path / "orders.csv", ORDERS_CSV)
    config = DataConfig(columns={"orders": {"total": "amount"}})
    with pytest.raises(ContractError, match="maps column 'total', which is not in orders.csv"):
        read_raw_tables(config, tmp_path)


def test_column_mapping_that_clashes_is_an_error(tmp_path: Path):
    write_text(tmp_path / "customers.csv", "customer_id,signup_date\nc1,2023-01-01\n")
    write_text(tmp_path / "orders.csv", ORDERS_CSV.replace("order_id", "total"))
    config = DataConfig(columns={"orders": {"total": "amount"}})
    with pytest.raises(ContractError, match=r"orders\.amount: 2 columns of orders.csv") as info:
        read_raw_tables(config, tmp_path)
    assert info.value.issues[0].check == "duplicate_column"


def test_unknown_table_in_config_is_an_error(tmp_path: Path, csv_folder: Path):
    with pytest.raises(ContractError, match="unknown table 'order'"):
        read_raw_tables(DataConfig(columns={"order": {"a": "b"}}), csv_folder)


def test_explicit_table_paths(tmp_path: Path, csv_folder: Path):
    other = write_text(tmp_path / "export_2024.csv", ORDERS_CSV)
    config = Config(data=DataConfig(tables={"orders": str(other)}))
    raw = read_raw_tables(config, csv_folder)
    assert len(raw["orders"]) == 3
    with pytest.raises(ContractError, match="does not exist"):
        read_raw_tables(DataConfig(tables={"orders": str(tmp_path / "nope.csv")}), csv_folder)


def test_only_some_tables_can_be_read(csv_folder: Path):
    assert set(read_raw_tables(folder=csv_folder, tables=["orders"])) == {"orders"}


def test_missing_folder_is_a_contract_error(tmp_path: Path):
    with pytest.raises(ContractError, match="does not exist"):
        read_raw_tables(folder=tmp_path / "nowhere")


def test_missing_required_table_lists_the_files_found(tmp_path: Path):
    write_text(tmp_path / "customers.csv", CUSTOMERS_CSV)
    write_text(tmp_path / "order.csv", ORDERS_CSV)
    with pytest.raises(ContractError) as info:
        read_raw_tables(folder=tmp_path)
    assert info.value.table == "orders"
    assert "orders: required table is missing" in str(info.value)
    assert "found: customers.csv, order.csv" in str(info.value)


def test_two_files_for_one_table_is_an_error(csv_folder: Path):
    pd.DataFrame({"customer_id": ["1"]}).to_parquet(csv_folder / "orders.parquet")
    with pytest.raises(ContractError, match=r"orders: 2 sources .*orders.csv, orders.parquet"):
        read_raw_tables(folder=csv_folder)


def test_unparseable_file_is_named(csv_folder: Path):
    (csv_folder / "nps.parquet").write_bytes(b"this is not parquet")
    with pytest.raises(ContractError, match=r"nps\.parquet: cannot be read as parquet"):
        read_raw_tables(folder=csv_folder)


def test_non_utf8_file_is_named(csv_folder: Path):
    (csv_folder / "orders.csv").write_bytes(
        "customer_id,order_date,amount\nJos\xe9,x,1\n".encode("latin-1")
    )
    with pytest.raises(ContractError, match=r"orders\.csv: cannot be read as UTF-8") as info:
        read_raw_tables(folder=csv_folder)
    assert "line 2: 'José,x,1' as Windows-1252" in str(info.value)  # was a byte offset


@pytest.mark.parametrize("gz", [False, True])
def test_utf16_with_a_byte_order_mark_reads_like_utf8(csv_folder: Path, tmp_path: Path, gz):
    """Windows PowerShell's ``>`` writes UTF-16 with a byte-order mark: was 'not UTF-8'."""
    folder = tmp_path / "utf16"
    folder.mkdir()
    write_text(folder / "customers.csv", CUSTOMERS_CSV)
    data = ORDERS_CSV.replace("\n", "\r\n").encode("utf-16")
    if gz:
        with gzip.open(folder / "orders.csv.gz", "wb") as handle:
            handle.write(data)
    else:
        (folder / "orders.csv").write_bytes(data)
    got, expected = read_raw_tables(folder=folder), read_raw_tables(folder=csv_folder)
    pd.testing.assert_frame_equal(got["orders"], expected["orders"])


def test_empty_optional_file_is_treated_as_absent(csv_folder: Path):
    (csv_folder / "nps.csv").write_bytes(b"")
    result = load_tables(folder=csv_folder, end_date=END)
    assert [i.check for i in result.issues] == ["empty_table"]
    assert result.tables.nps is None


def test_load_tables_takes_end_date_from_config(csv_folder: Path):
    config = Config(data=DataConfig(path=str(csv_folder), end_date="2023-02-15"))
    result = load_tables(config)
    assert [i.check for i in result.issues] == ["after_end_date"]
    assert result.rejects["row"].tolist() == [2]


def test_timezone_aware_parquet_timestamps_are_converted(tmp_path: Path):
    table = pa.table(
        {
            "customer_id": ["c1"],
            "signup_date": pa.array(
                [pd.Timestamp("2023-01-01 01:30", tz="Europe/Paris")],
                pa.timestamp("us", tz="Europe/Paris"),
            ),
        }
    )
    pq.write_table(table, tmp_path / "customers.parquet")
    write_text(tmp_path / "orders.csv", "customer_id,order_date,amount\nc1,2023-01-02,1\n")
    tables = load_tables(folder=tmp_path, end_date=END).raise_for_errors()
    assert tables.customers["signup_date"].dtype == "datetime64[ns]"
    assert tables.customers["signup_date"].iloc[0] == pd.Timestamp("2023-01-01 00:30")


# -- atomic writes ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["scores.csv", "scores.parquet", "scores.csv.gz"])
def test_write_frame_atomic_round_trips(tmp_path: Path, name: str):
    frame = pd.DataFrame({"customer_id": ["1", "2"], "score": [0.5, 0.25]})
    path = write_frame_atomic(frame, tmp_path / "out" / name)
    assert path == tmp_path / "out" / name
    back = (
        pd.read_parquet(path)
        if name.endswith("parquet")
        else pd.read_csv(path, dtype={"customer_id": str})
    )
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)
    assert [p.name for p in path.parent.iterdir()] == [name]


def test_failed_write_leaves_previous_file_intact(tmp_path: Path, monkeypatch):
    target = tmp_path / "scores.csv"
    target.write_text("old,content\n1,2\n")

    def half_write(self, path, *args, **kwargs):
        Path(path).write_text("customer_id,sc")  # half a file, then the disk "fails"
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", half_write)
    with pytest.raises(OSError, match="disk full"):
        write_frame_atomic(pd.DataFrame({"customer_id": ["1"]}), target)
    assert target.read_text() == "old,content\n1,2\n"
    assert [p.name for p in tmp_path.iterdir()] == ["scores.csv"]


def test_failed_write_creates_no_file(tmp_path: Path, monkeypatch):
    def broken(self, path, *args, **kwargs):
        Path(path).write_bytes(b"PAR1")
        raise KeyboardInterrupt

    monkeypatch.setattr(pq, "write_table", broken)
    with pytest.raises(KeyboardInterrupt):
        write_frame_atomic(pd.DataFrame({"a": [1]}), tmp_path / "x.parquet")
    assert list(tmp_path.iterdir()) == []


def test_unsupported_suffix_is_refused(tmp_path: Path):
    with pytest.raises(ContractError, match="unsupported file type"):
        write_frame_atomic(pd.DataFrame({"a": [1]}), tmp_path / "x.xlsx")


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_write_tables_then_read_back(tmp_path: Path, csv_folder: Path, fmt: str):
    tables = load_tables(folder=csv_folder, end_date=END).raise_for_errors()
    paths = write_tables(tables, tmp_path / "out", fmt=fmt)
    assert sorted(p.name for p in paths.values()) == [f"customers.{fmt}", f"orders.{fmt}"]
    again = validate(read_raw_tables(folder=tmp_path / "out"), end_date=END)
    assert again.issues == []
    pd.testing.assert_frame_equal(again.tables.orders, tables.orders)


def test_parquet_times_are_written_without_dictionary_pages(tmp_path: Path):
    times = pd.to_datetime(["2024-01-01 10:00:01", "2024-01-02 11:00:02"])
    frame = pd.DataFrame({"customer_id": ["C1", "C2"] * 25, "at": times[[0, 1] * 25]})
    path = write_tables({"a": frame, "b": None}, tmp_path, fmt="parquet")["a"]
    meta = pq.ParquetFile(path).metadata.row_group(0)
    assert "RLE_DICTIONARY" in meta.column(0).encodings  # text keeps its dictionary
    assert "RLE_DICTIONARY" not in meta.column(1).encodings
    assert pd.read_parquet(path)["at"].tolist() == frame["at"].tolist()


def test_write_json_atomic_makes_strict_json(tmp_path: Path):
    obj = {
        "auc": np.float64(0.75),
        "n": np.int64(3),
        "nan": float("nan"),
        "when": pd.Timestamp("2024-06-30"),
        "path": tmp_path,
        "list": (1, 2),
        "config": Config(),
    }
    path = write_json_atomic(obj, tmp_path / "meta.json")
    data = json.loads(path.read_text())
    assert data["auc"] == 0.75 and data["n"] == 3 and data["nan"] is None
    assert data["when"] == "2024-06-30T00:00:00"
    assert data["config"]["churn"]["horizon_days"] == 90
    assert not math.isnan(data["auc"])


# -- configuration ----------------------------------------------------------------------------


def test_defaults_without_files():
    assert load_config() == Config()


def test_later_files_override_earlier_ones_deep_merged(tmp_path: Path):
    base = write_text(tmp_path / "a.yaml", "churn:\n  horizon_days: 60\n  lookback_days: 100\n")
    over = write_text(tmp_path / "b.yaml", "churn:\n  horizon_days: 30\nmodel_name: demo\n")
    config = load_config([base, over])
    assert (config.churn.horizon_days, config.churn.lookback_days) == (30, 100)
    assert config.model_name == "demo"


def test_overrides_are_parsed_as_yaml(tmp_path: Path):
    base = write_text(tmp_path / "a.yaml", "churn:\n  horizon_days: 60\n")
    config = load_config(
        base,
        [
            "churn.horizon_days=45",
            "data.end_date=2024-06-30",
            "cutoffs.dates=[2024-01-31, 2024-02-29]",
            "data.columns.orders.total=amount",
            "tracking.uri=",
        ],
    )
    assert config.churn.horizon_days == 45
    assert str(config.data.end_date) == "2024-06-30"
    assert len(config.cutoffs.dates) == 2
    assert config.data.columns == {"orders": {"total": "amount"}}
    assert config.tracking.uri is None


def test_unknown_key_in_a_file_is_named(tmp_path: Path):
    path = write_text(tmp_path / "a.yaml", "churn:\n  horizon_dayz: 60\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == "churn.horizon_dayz: unknown setting (did you mean horizon_days?)"
    assert info.value.key == "churn.horizon_dayz"


def test_unknown_override_key_is_named():
    with pytest.raises(ConfigError, match=r"^churn\.horizon_dayz: unknown setting"):
        load_config(None, ["churn.horizon_dayz=3"])
    with pytest.raises(ConfigError, match=r"^nope: unknown setting"):
        load_config(None, ["nope.x=3"])
    with pytest.raises(ConfigError, match="single setting, not a section"):
        load_config(None, ["churn.horizon_days.x=3"])


def test_invalid_value_names_the_key_without_a_pydantic_dump():
    with pytest.raises(ConfigError) as info:
        load_config(None, ["churn.horizon_days=3"])
    message = str(info.value)
    assert message == "churn.horizon_days: Input should be greater than or equal to 7 (got 3)"
    assert "pydantic" not in message and "errors.pydantic.dev" not in message


def test_cross_field_error_names_the_key():
    with pytest.raises(ConfigError) as info:
        load_config(None, ["segments.value_quantiles=[0.9, 0.5]"])
    assert info.value.key == "segments.value_quantiles"


def test_bad_files_and_overrides(tmp_path: Path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
    bad = write_text(tmp_path / "bad.yaml", "churn: [\n")
    with pytest.raises(ConfigError, match="bad.yaml: not valid YAML"):
        load_config(bad)
    listy = write_text(tmp_path / "list.yaml", "- a\n- b\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(listy)
    with pytest.raises(ConfigError, match="expected key.sub=value"):
        load_config(None, ["churn.horizon_days"])


def test_parquet_calendar_dates_read_as_their_iso_text(tmp_path: Path):
    days = ["2023-01-01", "2023-02-01", "1500-01-01"]  # 1500: outside the supported range
    orders = ["2023-01-05", "2023-02-03", "2023-03-01"]
    for kind, convert in (("text", lambda d: d), ("date32", lambda d: dt.date.fromisoformat(d))):
        folder = tmp_path / kind
        folder.mkdir()
        customers = pa.table(
            {
                "customer_id": ["1", "2", "3"],
                "signup_date": pa.array([convert(d) for d in days]),
            }
        )
        order_table = pa.table(
            {
                "customer_id": ["1", "2", "2"],
                "order_date": pa.array([convert(d) for d in orders]),
                "amount": [10.5, -4.0, 20.0],
            }
        )
        if kind == "date32":
            assert customers.schema.field("signup_date").type == pa.date32()
        pq.write_table(customers, folder / "customers.parquet")
        pq.write_table(order_table, folder / "orders.parquet")
    text = load_tables(folder=tmp_path / "text", end_date=END)
    dated = load_tables(folder=tmp_path / "date32", end_date=END)
    for name, frame in text.raise_for_errors().items():
        pd.testing.assert_frame_equal(frame, dated.raise_for_errors().get(name))
    assert [(i.check, i.table, i.examples) for i in dated.issues] == [
        (i.check, i.table, i.examples) for i in text.issues
    ]
    assert any(i.check == "unparseable_date" for i in dated.issues)


def test_event_columns_outside_the_contract_are_named_not_lost_unseen(tmp_path: Path):
    folder = tmp_path / "extra"
    folder.mkdir()
    write_text(folder / "customers.csv", CUSTOMERS_CSV)
    orders = ORDERS_CSV.replace("order_id\n", "order_id,_LOAD_TS,Coupon\n", 1)
    orders = (
        orders.replace("A1\n", "A1,x,y\n").replace("A2\n", "A2,x,\n").replace("A3\n", "A3,x,z\n")
    )
    write_text(folder / "orders.csv", orders)
    result = load_tables(folder=folder, end_date=END)
    unread = [i for i in result.issues if i.check == "unread_column"]
    assert [(i.table, i.severity, i.examples) for i in unread] == [
        ("orders", "warning", ["_LOAD_TS", "Coupon"])
    ]
    assert "_LOAD_TS, Coupon" in unread[0].message
    assert len(result.tables.orders) == 3 and "Coupon" not in result.tables.orders


def _ending_each_line(text: str, header: bool) -> str:
    """``text`` with a delimiter ending each data line (and the header line when ``header``)."""
    first, *rows = text.splitlines()
    return "\n".join([first + ("," if header else "")] + [row + "," for row in rows]) + "\n"


@pytest.mark.parametrize("header", [False, True])
def test_a_delimiter_ending_every_line_adds_no_column(tmp_path: Path, csv_folder: Path, header):
    """``a,b,c,`` on the data lines (some exports): pandas took the first column as an index
    and shifted the others (ids read as dates); with the header ending so too, an unnamed
    empty column appeared as a customer attribute."""
    folder = tmp_path / "trailing"
    folder.mkdir()
    write_text(folder / "customers.csv", _ending_each_line(CUSTOMERS_CSV, header))
    write_text(folder / "orders.csv", _ending_each_line(ORDERS_CSV, header))
    got, expected = read_raw_tables(folder=folder), read_raw_tables(folder=csv_folder)
    for name, frame in expected.items():
        pd.testing.assert_frame_equal(got[name], frame)
    unread = [i.message for i in load_tables(folder=folder, end_date=END).issues]
    assert any("not read: column 5 (no name)" in m for m in unread) == header, unread


def test_values_beyond_the_header_are_an_error_naming_the_file(tmp_path: Path):
    write_text(tmp_path / "customers.csv", CUSTOMERS_CSV)
    lines = ORDERS_CSV.splitlines()
    lines[1:] = [line + ",note" for line in lines[1:]]
    write_text(tmp_path / "orders.csv", "\n".join(lines) + "\n")
    with pytest.raises(ContractError, match=r"orders\.csv: some rows have more values than"):
        read_raw_tables(folder=tmp_path)


def test_contract_names_match_ignoring_spaces_underscores_and_hyphens(tmp_path: Path):
    """``Customer ID`` (spreadsheets, BI tools), ``CustomerId`` (camel-case schemas): were
    ``missing_column`` errors; other columns keep their names."""
    write_text(
        tmp_path / "customers.csv",
        "Customer ID,Signup Date,Acquisition-Channel\nc1,2023-01-01,ads\n",
    )
    write_text(
        tmp_path / "orders.csv",
        "CustomerId,OrderDate,Amount,order.id,Gift Wrap\nc1,2023-01-02,5,A1,no\n",
    )
    raw = read_raw_tables(folder=tmp_path)
    assert raw["customers"].columns.tolist() == [
        "customer_id",
        "signup_date",
        "acquisition_channel",
    ]
    assert raw["orders"].columns.tolist() == ["customer_id", "order_date", "amount", "order_id"]
    write_text(
        tmp_path / "orders.csv", "customer_id,Customer ID,order_date,amount\nc1,c1,2023-01-02,5\n"
    )
    with pytest.raises(ContractError, match=r"orders\.customer_id: 2 columns of orders.csv"):
        read_raw_tables(folder=tmp_path)


@pytest.mark.parametrize(
    "above", ["Orders export 2024-06-30\n", "# from the warehouse\n\n", "sep=;\n"]
)
def test_lines_above_the_header_are_named_with_the_header_line(tmp_path: Path, above: str):
    """A title, a comment or Excel's ``sep=`` line above the header: every required column
    was "missing" and the title listed as the only column available."""
    write_text(tmp_path / "customers.csv", CUSTOMERS_CSV)
    write_text(tmp_path / "orders.csv", above + ORDERS_CSV.replace(",", ";"))
    line = above.count("\n") + 1
    with pytest.raises(
        ContractError, match=rf"orders: the header of .*orders\.csv is on line {line}"
    ):
        read_raw_tables(folder=tmp_path)


def test_spark_int96_timestamps_keep_the_year_9999(csv_folder: Path):
    """Spark writes INT96 timestamps by default; read as nanoseconds, ``9999-12-31`` (no end)
    overflowed to 1816: every open subscription 'ended before it started' and was set aside."""
    subs = pa.table(
        {
            "customer_id": ["007", "2"],
            "start_date": pa.array([dt.datetime(2023, 1, 1), dt.datetime(2023, 2, 1)]),
            "end_date": pa.array([dt.datetime(9999, 12, 31, 23, 59, 59), dt.datetime(2023, 6, 1)]),
        }
    )
    pq.write_table(subs, csv_folder / "subscriptions.parquet", use_deprecated_int96_timestamps=True)
    result = load_tables(folder=csv_folder, end_date=END)
    assert not [i.message for i in result.issues if i.table == "subscriptions"]
    ends = result.tables.subscriptions.set_index("customer_id")["end_date"]
    assert pd.isna(ends["007"]) and ends["2"] == pd.Timestamp("2023-06-01")


def test_a_table_without_a_header_line_is_named_as_such(tmp_path: Path):
    """Snowflake's COPY INTO writes no header unless told: the first row was listed as the
    columns, or the CSV reader failed on a value repeated in it ('multiple columns named')."""
    write_text(tmp_path / "customers.csv", CUSTOMERS_CSV)
    (tmp_path / "ORDERS").mkdir()
    rows = ORDERS_CSV.splitlines()[1:] + ["2,2023-03-05,20,20"]
    for k, part in enumerate((rows[:2], rows[2:])):
        with gzip.open(tmp_path / "ORDERS" / f"data_0_0_{k}.csv.gz", "wt") as handle:
            handle.write("\n".join(part) + "\n")
    with pytest.raises(ContractError, match=r"orders: the first line of ORDERS/ looks like a row"):
        read_raw_tables(folder=tmp_path)
    write_text(tmp_path / "customers.csv", "\n".join(CUSTOMERS_CSV.splitlines()[1:]) + "\n")
    with pytest.raises(ContractError, match=r"customers: the first line of customers.csv looks"):
        read_raw_tables(folder=tmp_path)

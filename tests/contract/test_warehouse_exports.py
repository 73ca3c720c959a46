"""Input in the shapes warehouses write: part files, upper-case names, decimals, zones, dates.

The data are a small generated sample rewritten the way Spark, Snowflake ``COPY INTO`` or
DuckDB ``COPY ... PARTITION_BY`` write a table: a folder of part files (Parquet, CSV, gzip
CSV), hive-partitioned sub-folders, ``_SUCCESS`` and ``.crc`` files beside the data. Every
shape must give the tables and the scores of the same data written as one file per table.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from predictor.api import Predictor
from predictor.cli import app
from predictor.config import Config, DataConfig
from predictor.contract.errors import ContractError
from predictor.contract.schema import SPECS
from predictor.contract.tables import Tables
from predictor.io import ConfigError, load_config, load_tables, open_customer_chunks, write_tables
from predictor.jobs import score_files
from predictor.output_schema import SCORES, as_written
from predictor.scoring import score

N_CUSTOMERS = 40
N_PARTS = 3
runner = CliRunner()


@pytest.fixture(scope="module")
def predictor(trained) -> Predictor:
    return Predictor(trained[0], {})


@pytest.fixture(scope="module")
def small(business) -> Tables:
    """The first customers of the sample, amounts in cents (as a warehouse decimal holds them)."""
    ids = sorted(business.tables.customers["customer_id"])[:N_CUSTOMERS]
    tables = business.tables.subset(ids)
    money = {"orders": ["amount", "margin"], "subscriptions": ["mrr"]}
    return tables.replace(
        **{name: tables.get(name).round({c: 2 for c in cols}) for name, cols in money.items()}
    )


def _parts(frame: pd.DataFrame) -> list[pd.DataFrame]:
    """The rows split into part files, as a parallel writer would (one per worker)."""
    return [frame.iloc[idx] for idx in np.array_split(np.arange(len(frame)), N_PARTS)]


def _write_part(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.name.endswith(".parquet"):
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False, compression="gzip" if path.suffix == ".gz" else None)


def _snowflake(frame: pd.DataFrame) -> pa.Table:
    """Upper-case names, money and counts as decimals, times zone-aware (TIMESTAMP_TZ)."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    fields = []
    for field in table.schema:
        kind = field.type
        if field.name in ("amount", "margin", "mrr"):
            kind = pa.decimal128(18, 2)
        elif field.name in ("items", "household_size", "score"):
            kind = pa.decimal128(38, 0)
        elif pa.types.is_timestamp(kind):
            kind = pa.timestamp(kind.unit, "UTC")
        fields.append(pa.field(field.name.upper(), kind))
    return table.rename_columns([f.name for f in fields]).cast(pa.schema(fields))


def export(tables: Tables, root: Path, shape: str) -> Path:
    """Write ``tables`` under ``root`` as a warehouse export of the given shape."""
    for name, frame in tables.items():
        if shape == "hive":  # orders.parquet/event_month=2024-01/part-0.snappy.parquet
            folder = root / f"{name}.parquet"
            when = SPECS[name].event_date
            if name == "customers":
                for i, part in enumerate(_parts(frame)):
                    _write_part(part, folder / f"part-{i:05d}.snappy.parquet")
            else:
                months = frame[when].dt.strftime("%Y-%m")
                for month in sorted(months.unique()):
                    part = frame[months == month]
                    _write_part(part, folder / f"event_month={month}" / "part-0.snappy.parquet")
        elif shape == "snowflake":  # ORDERS/data_0_0_0.snappy.parquet, upper-case, decimals
            folder = root / name.upper()
            folder.mkdir(parents=True)
            for i, part in enumerate(_parts(frame)):
                pq.write_table(_snowflake(part), folder / f"data_0_0_{i}.snappy.parquet")
        else:  # orders/part-00000.parquet|.csv|.csv.gz with _SUCCESS and .crc files
            ext = {"parquet_parts": "parquet", "csv_parts": "csv", "csv_gz_parts": "csv.gz"}[shape]
            folder = root / name
            for i, part in enumerate(_parts(frame)):
                _write_part(part, folder / f"part-{i:05d}.{ext}")
                (folder / f".part-{i:05d}.{ext}.crc").write_bytes(b"\x00crc")
        (folder / "_SUCCESS").write_text("")
    return root


def text(result) -> str:
    """The CLI's output with rich's line wrapping undone."""
    return " ".join(result.output.split())


def typed(folder: Path, **data) -> Tables:
    config = DataConfig(**data)
    return load_tables(config, folder, end_date=pd.Timestamp("2030-01-01")).raise_for_errors()


def _to_us(frame: pd.DataFrame) -> pd.DataFrame:
    times = [c for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])]
    return frame.assign(**{c: frame[c].dt.floor("us") for c in times})


def assert_same_tables(got: Tables, expected: Tables) -> None:
    """Equal tables, up to the row order (part files and partitions reorder rows).

    Times are compared to the microsecond: predictor writes tables with microsecond
    timestamps (the portable Parquet type), the exports here keep pandas' nanoseconds.
    """
    assert [n for n, _ in got.items()] == [n for n, _ in expected.items()]
    for name, frame in expected.items():
        other, frame = _to_us(got.get(name)), _to_us(frame)
        assert list(other.columns) == list(frame.columns), name
        order = list(frame.columns)
        pd.testing.assert_frame_equal(
            other.sort_values(order).reset_index(drop=True),
            frame.sort_values(order).reset_index(drop=True),
            check_dtype=False,
            obj=name,
        )


@pytest.mark.parametrize(
    ("shape", "single"),
    [
        ("parquet_parts", "parquet"),
        ("hive", "parquet"),
        ("snowflake", "parquet"),
        ("csv_parts", "csv"),
        ("csv_gz_parts", "csv"),
    ],
)
def test_part_file_folders_read_as_single_files(small, tmp_path, shape, single):
    reference = typed(write_tables_to(small, tmp_path / "single", single))
    assert_same_tables(typed(export(small, tmp_path / shape, shape)), reference)


def write_tables_to(tables: Tables, folder: Path, fmt: str) -> Path:
    write_tables(tables, folder, fmt=fmt)
    return folder


@pytest.fixture(scope="module")
def one_shot(predictor, small, tmp_path_factory) -> tuple[pd.Timestamp, pd.DataFrame]:
    """The as-of date and the scores of the sample written as one Parquet file per table."""
    as_of = pd.Timestamp(predictor.model.info["data_end"])
    single = write_tables_to(small, tmp_path_factory.mktemp("one_shot"), "parquet")
    scores, _ = score(predictor.model, typed(single), as_of)
    assert len(scores) > 0
    return as_of, scores


@pytest.mark.parametrize("shape", ["hive", "snowflake", "csv_gz_parts"])
def test_exports_score_as_single_files_also_chunked(predictor, small, one_shot, tmp_path, shape):
    as_of, expected = one_shot
    folder = export(small, tmp_path / shape, shape)
    out = tmp_path / "scores.parquet"
    run = score_files(predictor, folder, out, as_of=as_of, chunk_size=N_CUSTOMERS // 2)
    assert run.chunked_read == (shape != "csv_gz_parts")  # Parquet folders are read by chunk
    assert run.chunks == 2
    written = as_written(expected, SCORES)
    pd.testing.assert_frame_equal(pd.read_parquet(out), written, check_exact=True)
    assert run.scored + run.rejected == run.customers == N_CUSTOMERS


def test_explicit_table_path_may_be_a_folder(small, tmp_path):
    export(small, tmp_path / "export", "parquet_parts")
    write_tables_to(small, tmp_path / "single", "parquet")
    (tmp_path / "single" / "orders.parquet").unlink()
    tables = typed(tmp_path / "single", tables={"orders": str(tmp_path / "export" / "orders")})
    assert_same_tables(tables, typed(write_tables_to(small, tmp_path / "reference", "parquet")))


@pytest.mark.parametrize(
    ("extra", "listed"),
    [
        ("orders.csv", "orders.csv, orders.parquet/"),
        ("orders", "orders/, orders.parquet/"),
    ],
)
def test_two_sources_for_one_table_is_an_error_naming_both(small, tmp_path, extra, listed):
    folder = export(small, tmp_path / "export", "hive")
    if extra.endswith(".csv"):
        small.orders.to_csv(folder / extra, index=False)
    else:
        _write_part(small.orders, folder / extra / "part-0.parquet")
    with pytest.raises(ContractError, match=f"orders: 2 sources .*{listed}"):
        typed(folder)
    result = runner.invoke(app, ["validate", str(folder)])
    assert result.exit_code == 1
    assert listed in text(result) and "Traceback" not in result.output


# -- column names -----------------------------------------------------------------------------

CUSTOMERS = "customer_id,signup_date\nc1,2024-01-02\nc2,2024-01-05\n"


def _folder(tmp_path: Path, orders: str, customers: str = CUSTOMERS) -> Path:
    (tmp_path / "customers.csv").write_text(customers)
    (tmp_path / "orders.csv").write_text(orders)
    return tmp_path


def test_upper_case_names_match_the_contract_after_the_mapping(tmp_path):
    customers = CUSTOMERS.replace("customer_id,signup_date", "CUSTOMER_ID,SIGNUP_DATE")
    folder = _folder(tmp_path, "CUSTOMER_ID,ORDER_TS,Amount\nc1,2024-01-03,5\n", customers)
    tables = typed(folder, columns={"orders": {"order_ts": "order_date"}})
    assert list(tables.orders.columns) == ["customer_id", "order_date", "amount"]
    assert tables.customers["customer_id"].tolist() == ["c1", "c2"]


@pytest.mark.parametrize(
    "header", ["customer_id,order_date,amount,amount", "customer_id,order_date,amount,AMOUNT"]
)
def test_columns_that_collide_are_a_duplicate_column_error(tmp_path, header):
    folder = _folder(tmp_path, f"{header}\nc1,2024-01-03,5,6\n")
    with pytest.raises(ContractError, match=r"orders\.amount: .*2 columns") as info:
        typed(folder)
    assert info.value.issues[0].check == "duplicate_column"
    result = runner.invoke(app, ["validate", str(folder)])
    assert result.exit_code == 1 and "orders.amount" in text(result)


# -- time zones --------------------------------------------------------------------------------

LATE_NY = "2024-01-31T22:00:00-05:00"
"""22:00 in New York on the data's last day: 03:00 UTC the next day."""


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_zoned_times_are_cut_into_business_days(tmp_path, fmt):
    when = [LATE_NY, "2024-01-10T09:00:00Z"]
    orders = pd.DataFrame({"customer_id": ["c1", "c1"], "order_date": when, "amount": 5.0})
    customers = pd.DataFrame({"customer_id": ["c1"], "signup_date": ["2024-01-02"]})
    if fmt == "parquet":
        orders["order_date"] = pd.to_datetime(orders["order_date"], utc=True)
        customers["signup_date"] = pd.to_datetime(customers["signup_date"])
    folder = write_tables_to(Tables(customers, orders), tmp_path / "data", fmt)
    end = pd.Timestamp("2024-01-31")
    new_york = DataConfig(timezone="America/New_York")
    result = load_tables(new_york, folder, end_date=end)
    assert result.issues == []
    assert result.tables.orders["order_date"].tolist() == [
        pd.Timestamp("2024-01-31 22:00"), pd.Timestamp("2024-01-10 04:00"),
    ]  # fmt: skip
    utc = load_tables(DataConfig(), folder, end_date=end)
    assert [i.check for i in utc.issues] == ["after_end_date"]
    if fmt == "parquet":
        with open_customer_chunks(new_york, folder, 1, end_date=end) as chunks:
            assert chunks.latest_date() == pd.Timestamp("2024-01-31")
            assert chunks.validated(0).tables.orders["order_date"].max() == pd.Timestamp(
                "2024-01-31 22:00"
            )


def test_unknown_time_zone_is_a_config_error_naming_the_setting():
    with pytest.raises(ConfigError, match=r"data\.timezone: unknown time zone.*Mars/Olympus"):
        load_config(overrides=["data.timezone=Mars/Olympus"])
    assert load_config(overrides=["data.timezone=Europe/Paris"]).data.timezone == "Europe/Paris"


# -- date formats ------------------------------------------------------------------------------


def _day_first(small: Tables, tmp_path: Path, customers: pd.DataFrame | None = None) -> Path:
    customers = small.customers if customers is None else customers
    rewritten = customers.assign(signup_date=customers["signup_date"].dt.strftime("%d/%m/%Y"))
    ids = rewritten["customer_id"]
    tables = small.replace(customers=rewritten).subset(ids)
    return write_tables_to(tables, tmp_path / "data", "csv")


def test_day_first_dates_are_detected(small, tmp_path):
    days = small.customers["signup_date"].dt.day
    assert (days > 12).any() and (days <= 12).any(), "precondition: some dates look ambiguous"
    tables = typed(_day_first(small, tmp_path))
    expected = small.customers["signup_date"].dt.normalize()
    assert tables.customers["signup_date"].tolist() == expected.tolist()


def test_ambiguous_dates_are_an_error_naming_the_column_and_the_setting(small, tmp_path):
    ambiguous = small.customers[small.customers["signup_date"].dt.day <= 12]
    folder = _day_first(small, tmp_path, ambiguous)
    with pytest.raises(ContractError, match=r"customers\.signup_date: .*day first or month first"):
        typed(folder)
    result = runner.invoke(app, ["validate", str(folder)])
    assert result.exit_code == 1
    assert "data.date_formats.customers.signup_date" in text(result)
    assert "Traceback" not in result.output
    tables = typed(folder, date_format="%d/%m/%Y")
    expected = ambiguous["signup_date"].dt.normalize()
    assert tables.customers["signup_date"].tolist() == expected.tolist()


def test_dates_mixing_day_first_and_month_first_name_the_rows(tmp_path):
    customers = "customer_id,signup_date\nc1,25/01/2024\nc2,01/25/2024\nc3,03/01/2024\n"
    folder = _folder(tmp_path, "customer_id,order_date,amount\nc2,2024-02-01,5\n", customers)
    with pytest.raises(ContractError, match=r"customers\.signup_date: .*mix") as info:
        typed(folder)
    assert info.value.rows == [0, 1]
    tables = typed(folder, date_formats={"customers": {"signup_date": "%m/%d/%Y"}})
    assert tables.customers["customer_id"].tolist() == ["c2", "c3"]  # 25/01 is not month-first


# -- the as-of date on the command line --------------------------------------------------------


@pytest.mark.parametrize("bad", ["yesterday", "31/12/2023", "2023-12-31T10:00", "2023-02-30"])
@pytest.mark.parametrize(
    "command",
    [
        ["features", "--data", "missing", "--out", "x.csv"],
        ["score", "--model", "missing", "--data", "missing", "--out", "x.csv"],
        ["report", "--model", "missing", "--data", "missing", "--out", "x.html"],
        ["explain", "--model", "missing", "--data", "missing", "--customer", "c1"],
    ],
)
def test_bad_as_of_exits_2_before_reading_any_input(command, bad):
    result = runner.invoke(app, [*command, "--as-of", bad])
    assert result.exit_code == 2
    assert "--as-of" in text(result) and "YYYY-MM-DD" in text(result)
    assert "missing" not in result.output  # no input (model or data) was looked at
    assert "Traceback" not in result.output


def test_as_of_outside_the_data_is_a_warning(tmp_path):
    folder = _folder(tmp_path, "customer_id,order_date,amount\nc1,2024-01-03,5\n")
    out = tmp_path / "features.csv"
    for as_of, words in (
        ("2025-06-30", "days after the data's last date"),
        ("2023-01-01", "before the data's first date"),
    ):
        result = runner.invoke(
            app, ["features", "--data", str(folder), "--out", str(out), "--as-of", as_of]
        )
        assert result.exit_code == 0, result.output
        assert "warning" in result.output and words in text(result)
        features = pd.read_csv(out)
        assert len(features) == (2 if as_of > "2024" else 0)
        assert (features["as_of"] == as_of).all()


def test_config_names_the_new_settings():
    schema = Config.model_json_schema()["$defs"]["DataConfig"]["properties"]
    assert {"timezone", "date_format", "date_formats"} <= set(schema)

"""Every file ``predictor`` writes reads as it is in pyarrow, DuckDB and (when installed) Spark.

Spark rejects nanosecond timestamps (``Illegal Parquet type: INT64 (TIMESTAMP(NANOS,false))``)
and several warehouses mangle them, so outputs hold calendar days as ``date32``, timestamps in
microseconds, numbers as float64 and ids as text (``predictor.output_schema``). Each test
writes an output the way users get it, reads it back with pyarrow and checks the logical
types, then reads it with DuckDB and Spark and compares every value with pandas.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from predictor.api import Predictor
from predictor.cli import app
from predictor.io import write_frame_atomic, write_tables
from predictor.jobs import score_files
from predictor.output_schema import (
    FEATURES,
    REJECTS,
    SCORES,
    OutputTypeError,
    markdown_table,
    to_arrow,
)

ROOT = Path(__file__).resolve().parents[2]
N_SCORED = 40


# -- helpers ----------------------------------------------------------------------------------


NOT_PORTABLE = (
    pa.types.is_float16,
    pa.types.is_float32,
    pa.types.is_large_string,
    pa.types.is_dictionary,
    pa.types.is_null,
    pa.types.is_date64,
    pa.types.is_unsigned_integer,
)


def portable_problems(schema: pa.Schema) -> list[str]:
    """Columns whose type Spark, DuckDB or a warehouse would refuse or read differently."""
    bad = []
    for f in schema:
        t = f.type
        ns_or_zoned = pa.types.is_timestamp(t) and (t.unit != "us" or t.tz is not None)
        if ns_or_zoned or any(check(t) for check in NOT_PORTABLE):
            bad.append(f"{f.name}: {t}")
    return bad


def plain(value):
    """A cell as a plain Python value (NaN and NaT as None) for cross-engine comparison."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, np.generic):
        return value.item()
    return value


def pandas_rows(path: Path) -> tuple[list[str], list[tuple]]:
    frame = pd.read_parquet(path)
    rows = [tuple(map(plain, r)) for r in frame.astype(object).itertuples(index=False, name=None)]
    return list(frame.columns), rows


def assert_same_rows(path: Path, columns: list[str], rows: list[tuple]) -> None:
    """The engine's rows equal pandas' exactly: same columns, values and Python types."""
    want_columns, want = pandas_rows(path)
    assert columns == want_columns
    got = [tuple(map(plain, r)) for r in rows]
    assert len(got) == len(want)
    for a, b in zip(sorted(got, key=repr), sorted(want, key=repr), strict=True):
        assert [type(x) for x in a] == [type(x) for x in b], (a, b)
        assert a == b


def check_engines(path: Path, request: pytest.FixtureRequest) -> None:
    """Read ``path`` with DuckDB and Spark where installed; values must equal pandas'."""
    try:
        import duckdb
    except ImportError:
        duckdb = None
    if duckdb is not None:
        relation = duckdb.read_parquet(str(path))
        assert_same_rows(path, relation.columns, relation.fetchall())
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return
    frame = request.getfixturevalue("spark").read.parquet(str(path))
    assert_same_rows(path, frame.columns, frame.collect())


def test_duckdb_is_checked_when_the_dev_extra_is_installed():
    pytest.importorskip("duckdb", reason="duckdb not installed (pip install -e .[dev])")


def test_spark_reads_the_outputs_when_installed(spark, tmp_path):
    frame = pd.DataFrame(
        {
            "customer_id": ["7", "8"],
            "as_of": pd.to_datetime(["2024-06-30", "2024-06-30"]).astype("datetime64[ns]"),
            "at": pd.to_datetime(["2024-06-30 10:11:12.123456789", None]).astype("datetime64[ns]"),
        }
    )
    path = write_frame_atomic(frame, tmp_path / "x.parquet")
    read = spark.read.parquet(str(path))
    assert {f.name: f.dataType.simpleString() for f in read.schema.fields} == {
        "customer_id": "string",
        "as_of": "date",
        "at": "timestamp_ntz",
    }
    assert read.collect()[0]["at"] == dt.datetime(2024, 6, 30, 10, 11, 12, 123456)


# -- scores and rejects -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def scored(trained, business, tmp_path_factory):
    """``score_files`` on a few sample customers (Parquet input), one signing up after as_of."""
    model = trained[0]
    predictor = Predictor(model, {})
    as_of = pd.Timestamp(model.info["data_end"]) - pd.Timedelta(days=60)
    customers = business.tables.customers.sort_values("signup_date")
    ids = [*customers["customer_id"].iloc[:N_SCORED], customers["customer_id"].iloc[-1]]
    root = tmp_path_factory.mktemp("scored")
    write_tables(business.tables.subset(ids), root / "data", fmt="parquet")
    out, rejects = root / "scores.parquet", root / "rejects.parquet"
    run = score_files(predictor, root / "data", out, rejects, as_of=as_of, drivers=2, chunk_size=15)
    csv = root / "scores.csv"
    score_files(predictor, root / "data", csv, root / "r.csv", as_of=as_of, chunk_size=15)
    return predictor, run, out, rejects, csv


def test_scores_file_has_the_declared_types_and_metadata(scored, request):
    predictor, run, out, _, _ = scored
    schema = pq.read_schema(out)
    assert portable_problems(schema) == []
    assert SCORES.undeclared(schema.names) == []
    assert list(schema.names[: len(SCORES.required)]) == list(SCORES.required)
    for field in schema:
        declared = SCORES.column(field.name)
        assert field.type == declared.type, field.name
        assert field.nullable == declared.nullable, field.name
    assert schema.field("as_of").type == pa.date32()
    assert schema.field("value_13m").type == pa.float64()
    assert schema.field("customer_id").type == pa.string()
    assert "churn_risk_driver_2_contribution" in schema.names
    meta = {k.decode(): v.decode() for k, v in schema.metadata.items()}
    assert meta["predictor.model_version"] == predictor.version
    assert meta["predictor.as_of"] == run.as_of.date().isoformat()
    assert meta["predictor.output"] == "scores"
    assert pq.ParquetFile(out).metadata.num_row_groups >= 2, "written in chunks"
    check_engines(out, request)


def test_rejects_file_has_the_declared_types(scored, request):
    _, run, _, rejects, _ = scored
    schema = pq.read_schema(rejects)
    assert run.rejected == 1
    assert [(f.name, f.type) for f in schema] == [(c.name, c.type) for c in REJECTS.columns]
    assert pd.read_parquet(rejects)["reason"].str.contains("signed up after").all()
    check_engines(rejects, request)


def test_csv_scores_keep_iso_days_and_exact_values(scored):
    _, run, out, _, csv = scored
    text = pd.read_csv(csv, dtype=str, keep_default_na=False)
    assert (text["as_of"] == run.as_of.date().isoformat()).all()
    parquet = pd.read_parquet(out)
    back = pd.read_csv(csv, dtype={"customer_id": str})
    pd.testing.assert_series_equal(back["value_13m"], parquet["value_13m"], check_exact=True)


def test_in_memory_scores_are_float64_with_customer_id_a_column(scored, business):
    predictor, run, out, _, _ = scored
    ids = sorted(pd.read_parquet(out)["customer_id"])[:5]
    tables = business.tables.subset(ids)
    scores = predictor.score(tables, as_of=run.as_of)
    assert scores["value_13m"].dtype == np.float64 and scores["day_one_value"].dtype == np.float64
    frame = predictor.features(tables, run.as_of)
    assert frame.columns[0] == "customer_id" and isinstance(frame.index, pd.RangeIndex)
    pd.testing.assert_frame_equal(predictor.predict(frame, as_of=run.as_of), scores)
    with pytest.warns(FutureWarning, match="customer_id as the index"):
        old = predictor.predict(frame.set_index("customer_id"), as_of=run.as_of)
    pd.testing.assert_frame_equal(old, scores)


# -- features and sample tables ---------------------------------------------------------------

runner = CliRunner()


@pytest.fixture(scope="module")
def sample_parquet(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("sample") / "data"
    result = runner.invoke(
        app,
        ["sample", "--out", str(folder), "--customers", "60", "--seed", "2", "--format", "parquet"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return folder


def test_sample_tables_have_portable_types(sample_parquet, request):
    files = sorted(sample_parquet.glob("*.parquet"))
    assert len(files) == 7
    for path in files:
        schema = pq.read_schema(path)
        assert portable_problems(schema) == [], path.name
        assert schema.field("customer_id").type == pa.string()
        check_engines(path, request)
    customers = pq.read_schema(sample_parquet / "customers.parquet")
    assert customers.field("signup_date").type == pa.date32()
    subscriptions = pq.read_schema(sample_parquet / "subscriptions.parquet")
    assert subscriptions.field("end_date").type == pa.date32()
    assert pq.read_schema(sample_parquet / "orders.parquet").field("order_date").type == (
        pa.timestamp("us")
    )
    assert pq.read_schema(sample_parquet / "orders.parquet").field("order_id").type == pa.string()


def test_sample_tables_read_back_by_predictor_without_issues(sample_parquet):
    result = runner.invoke(app, ["validate", str(sample_parquet)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "All checks passed" in result.output


def test_features_file_has_portable_types(sample_parquet, tmp_path, request):
    out = tmp_path / "features.parquet"
    result = runner.invoke(
        app, ["features", "--data", str(sample_parquet), "--out", str(out), "--labels"]
    )
    assert result.exit_code == 0, result.output
    schema = pq.read_schema(out)
    assert portable_problems(schema) == []
    assert schema.names[:2] == ["customer_id", "as_of"]
    for name in FEATURES.required:
        assert schema.field(name).type == FEATURES.column(name).type
    assert b"predictor.as_of" in schema.metadata
    check_engines(out, request)


# -- the writer's rules -----------------------------------------------------------------------


def test_writer_refuses_a_time_of_day_in_a_day_column(tmp_path):
    days = [pd.Timestamp("2024-06-30"), pd.Timestamp("2024-06-30 12:00")]
    frame = pd.DataFrame({"as_of": days})
    with pytest.raises(OutputTypeError, match=r"as_of: .*times of day \(rows 1: '2024-06-30 12:00"):
        write_frame_atomic(frame, tmp_path / "x.parquet")
    assert list(tmp_path.iterdir()) == []


def test_large_frames_are_written_row_group_by_row_group_as_one_file(tmp_path, monkeypatch):
    from predictor.io import atomic

    rng = np.random.default_rng(0)
    n = 95
    frame = pd.DataFrame(
        {
            "customer_id": pd.Series([f"C{i:03d}" for i in range(n)], dtype="str"),
            "as_of": pd.Timestamp("2024-06-30") + pd.to_timedelta(rng.integers(0, 9, n), "D"),
            "ordered_at": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 10**6, n), "s"),
            "value": rng.normal(size=n),
        }
    )
    write_frame_atomic(frame, tmp_path / "whole.parquet", metadata={"run": "r1"})
    monkeypatch.setattr(atomic, "ROW_GROUP_ROWS", 20)
    write_frame_atomic(frame, tmp_path / "pieces.parquet", metadata={"run": "r1"})
    whole, pieces = (
        pq.ParquetFile(tmp_path / "whole.parquet"),
        pq.ParquetFile(tmp_path / "pieces.parquet"),
    )
    assert pieces.metadata.num_row_groups == 5
    assert pieces.schema_arrow.equals(whole.schema_arrow, check_metadata=True)
    assert pieces.read().equals(whole.read())
    late = frame.assign(
        as_of=frame["as_of"].where(frame.index != 57, pd.Timestamp("2024-07-01 09:30"))
    )
    with pytest.raises(
        OutputTypeError, match=r"as_of: .*times of day \(rows 57: '2024-07-01 09:30"
    ):
        write_frame_atomic(late, tmp_path / "late.parquet")
    assert sorted(f.name for f in tmp_path.iterdir()) == ["pieces.parquet", "whole.parquet"]


def test_object_columns_are_typed_from_the_whole_column(tmp_path, monkeypatch):
    from predictor.io import atomic

    monkeypatch.setattr(atomic, "ROW_GROUP_ROWS", 2)
    frame = pd.DataFrame({"note": pd.Series([None, None, 1.5, 2.5], dtype=object)})
    write_frame_atomic(frame, tmp_path / "x.parquet")
    assert pq.read_schema(tmp_path / "x.parquet").field("note").type == pa.float64()


def test_writer_refuses_nulls_in_a_required_score_column():
    frame = pd.DataFrame({"customer_id": ["1", None, "3"], "as_of": [dt.date(2024, 6, 30)] * 3})
    with pytest.raises(OutputTypeError, match=r"scores.customer_id: 1 empty \(rows 1\)"):
        to_arrow(frame, SCORES)


def test_writer_types_ids_as_text_and_floats_as_float64():
    frame = pd.DataFrame(
        {
            "customer_id": [12.0, 7.0],
            "order_id": [1, 2],
            "value_13m": np.array([1.5, 2.25], dtype=np.float32),
            "band": pd.Categorical(["low", "high"]),
        }
    )
    table = to_arrow(frame)
    assert table.column("customer_id").to_pylist() == ["12", "7"]
    assert table.column("order_id").to_pylist() == ["1", "2"]
    assert table.schema.field("value_13m").type == pa.float64()
    assert table.schema.field("band").type == pa.string()


def test_interval_columns_are_declared_nullable_float64():
    for name in ("value_13m_p10", "value_13m_p90", "day_one_value_p10", "day_one_value_p90"):
        column = SCORES.column(name)
        assert column is not None and column.nullable and column.type == pa.float64()
    assert SCORES.undeclared(["value_13m_driver_3_feature", "churn_risk_driver_12"]) == []
    assert SCORES.undeclared(["nps_driver_1"]) == ["nps_driver_1"]


def test_contract_doc_holds_the_scores_table_of_the_code():
    doc = (ROOT / "docs" / "contract.md").read_text(encoding="utf-8")
    assert markdown_table(SCORES) in doc, "regenerate with output_schema.markdown_table(SCORES)"
    for name in SCORES.metadata_keys:
        assert re.search(rf"`predictor\.{name}`", doc), name

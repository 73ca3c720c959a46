"""Scoring from files (``jobs.score_files``, what ``predictor score`` runs) on the session model.

Chunked reading must give exactly the scores of one-shot scoring, whatever the chunk size and
the row order of the files; bad input is a clear error; nothing is written when a run fails.
"""

from __future__ import annotations

import copy
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from predictor.api import Predictor
from predictor.contract.errors import ContractError
from predictor.contract.schema import SPECS
from predictor.contract.tables import Tables
from predictor.features import build_features
from predictor.io import load_tables, open_customer_chunks, write_tables
from predictor.jobs import score_files
from predictor.modeling.preprocess import SchemaMismatchError
from predictor.output_schema import SCORES, as_written
from predictor.scoring import LABEL_COLUMNS, score

N_SMALL = 30
N_TINY = 10
FUTURE = pd.Timestamp("2200-01-01")


@pytest.fixture(scope="module")
def predictor(trained) -> Predictor:
    return Predictor(trained[0], {})


@pytest.fixture(scope="module")
def small(business) -> Tables:
    """The first customers of the sample, every table's rows shuffled (no order to rely on)."""
    ids = sorted(business.tables.customers["customer_id"])[:N_SMALL]
    subset = business.tables.subset(ids)
    return Tables(
        **{n: f.sample(frac=1.0, random_state=3).reset_index(drop=True) for n, f in subset.items()}
    )


def as_of_of(predictor: Predictor) -> pd.Timestamp:
    return pd.Timestamp(predictor.model.info["data_end"])


def one_shot(predictor: Predictor, folder: Path, as_of: pd.Timestamp, drivers: int = 0):
    tables = load_tables(predictor.model.config.data, folder).raise_for_errors()
    return score(predictor.model, tables, as_of, drivers)


def write(tables: Tables | dict, folder: Path, fmt: str = "parquet") -> Path:
    write_tables(tables, folder, fmt=fmt)
    return folder


def test_chunked_scoring_equals_one_shot_with_categories_absent_from_chunks(
    predictor, small, tmp_path
):
    chunk_size = 2
    small = small.subset(sorted(small.customers["customer_id"])[:N_TINY])
    as_of = as_of_of(predictor)
    ids = sorted(small.customers["customer_id"])
    groups = [small.subset(ids[i : i + chunk_size]) for i in range(0, N_TINY, chunk_size)]
    columns = set(predictor.model.churn.schema_.features_)
    per_value = {c for c in columns if c.startswith(tuple(p for p, _, _ in LABEL_COLUMNS))}
    absent = [per_value - set(build_features(g, as_of, predictor.model.config)) for g in groups]
    assert any(absent), "precondition: some per-value column is absent from a small chunk"

    data = write(small, tmp_path / "data")
    out = tmp_path / "scores.parquet"
    run = score_files(predictor, data, out, as_of=as_of, drivers=2, chunk_size=chunk_size)
    assert run.chunked_read and run.chunks == N_TINY // chunk_size
    expected, rejects = one_shot(predictor, data, as_of, drivers=2)
    pd.testing.assert_frame_equal(
        pd.read_parquet(out), as_written(expected, SCORES), check_exact=True
    )
    assert run.scored + run.rejected == run.customers == N_TINY == len(expected) + len(rejects)


def test_default_as_of_is_the_datas_latest_valid_date(predictor, small, tmp_path):
    dates = [f[SPECS[n].event_date].max() for n, f in small.items()]
    latest = max(dates) + pd.Timedelta(days=3)
    unknown = small.orders.iloc[:1].assign(customer_id="nobody", order_date=latest)
    data = write(small.replace(orders=pd.concat([small.orders, unknown])), tmp_path / "d")
    chunks = open_customer_chunks(predictor.model.config, data, 4, end_date="2030-01-01")
    with chunks:
        found = chunks.latest_date()
    whole = load_tables(predictor.model.config.data, data, end_date="2030-01-01")
    from predictor.datasets import data_span

    assert found == data_span(whole.tables, predictor.model.config)[1]
    assert found < latest.normalize()  # the unknown customer's order does not count


def test_csv_input_is_scored_the_same(predictor, small, tmp_path):
    as_of = as_of_of(predictor)
    csv = write(small, tmp_path / "csv", fmt="csv")
    pq = write(small, tmp_path / "pq")
    run = score_files(predictor, csv, tmp_path / "a.csv", as_of=as_of, chunk_size=7)
    assert not run.chunked_read
    score_files(predictor, pq, tmp_path / "b.csv", as_of=as_of, chunk_size=7)
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()


def test_rejects_have_reasons_and_counts_add_up(predictor, small, tmp_path):
    as_of = as_of_of(predictor)
    customers = small.customers.copy()
    customers.loc[0, "signup_date"] = pd.NaT
    customers.loc[1, "customer_id"] = None
    late = customers.iloc[[2]].assign(customer_id="late", signup_date=as_of + pd.Timedelta(days=5))
    customers = pd.concat([customers, late], ignore_index=True)
    ids = sorted(small.customers["customer_id"])
    future = small.orders.iloc[:2].assign(customer_id=[ids[2], ids[-1]], order_date=FUTURE)
    orders = pd.concat([small.orders, future], ignore_index=True)
    data = write(small.replace(customers=customers, orders=orders), tmp_path / "d")
    run = score_files(predictor, data, tmp_path / "s.parquet", as_of=as_of, chunk_size=12)
    [late_rows] = [w for w in run.warnings if w.check == "after_end_date"]
    assert late_rows.count == 2 and "in 2 chunks" in late_rows.message
    rejects = pd.read_csv(tmp_path / "s_rejects.csv", keep_default_na=False)
    assert run.customers == N_SMALL + 1 == run.scored + run.rejected
    assert len(pd.read_parquet(tmp_path / "s.parquet")) == run.scored == N_SMALL - 2
    reasons = dict(zip(rejects["customer_id"], rejects["reason"], strict=True))
    assert reasons[customers.loc[0, "customer_id"]] == "signup_date is empty"
    assert reasons[""] == "customer_id is empty"
    assert "signed up after the as-of date" in reasons["late"]


def test_unusual_but_valid_input_scores_fine(predictor, small, tmp_path):
    """Unseen categories, missing optional tables, customers without events, shuffled columns."""
    as_of = as_of_of(predictor)
    customers = small.customers.copy()
    customers.loc[0, "acquisition_channel"] = "carrier_pigeon"
    newcomer = customers.iloc[[1]].assign(customer_id="new", signup_date=as_of)
    customers = pd.concat([customers, newcomer], ignore_index=True)
    interactions = small.interactions.assign(
        channel=np.where(np.arange(len(small.interactions)) % 5 == 0, "hologram", "email")
    )
    tables = {
        "customers": customers[customers.columns[::-1]],
        "orders": small.orders[small.orders.columns[::-1]],
        "subscriptions": small.subscriptions,
        "interactions": interactions,
        "onboarding": small.onboarding,
    }
    data = write(tables, tmp_path / "d")
    out = tmp_path / "s.parquet"
    run = score_files(predictor, data, out, as_of=as_of, chunk_size=12)
    scores = pd.read_parquet(out).set_index("customer_id")
    assert run.scored == N_SMALL + 1 and run.rejected == 0
    assert np.isfinite(scores[["value_13m", "churn_risk", "day_one_value"]].to_numpy()).all()
    expected = as_written(one_shot(predictor, data, as_of)[0], SCORES)
    pd.testing.assert_frame_equal(scores.reset_index(), expected)


def test_missing_required_column_is_named_and_nothing_is_written(predictor, small, tmp_path):
    data = write(small.replace(orders=small.orders.drop(columns="amount")), tmp_path / "d")
    out = tmp_path / "s.parquet"
    with pytest.raises(ContractError, match=r"orders\.amount: required column is missing"):
        score_files(predictor, data, out, chunk_size=12)
    assert list(tmp_path.iterdir()) == [data]


def test_features_too_far_from_the_models_are_a_clear_error(predictor, small, tmp_path):
    """Missing optional tables score (NaN features) until too many features are missing."""
    data = write({"customers": small.customers, "orders": small.orders}, tmp_path / "d")
    strict = copy.deepcopy(predictor.model)
    strict.churn.schema_.max_missing_share = 0.1
    with pytest.raises(SchemaMismatchError, match="trained with tables the input lacks: .*nps"):
        score_files(
            Predictor(strict, {}),
            data,
            tmp_path / "s.parquet",
            chunk_size=12,
            allow_missing=["subscriptions"],
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]


def test_failure_in_a_later_chunk_leaves_no_output(predictor, small, tmp_path, monkeypatch):
    data = write(small, tmp_path / "d")
    out, rejects = tmp_path / "out" / "s.parquet", tmp_path / "out" / "r.csv"
    out.parent.mkdir()
    out.write_bytes(b"previous scores")
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return score(*args, **kwargs)

    monkeypatch.setattr("predictor.jobs.score_job.score", failing)
    with pytest.raises(KeyboardInterrupt):
        score_files(predictor, data, out, rejects, as_of=as_of_of(predictor), chunk_size=10)
    assert len(calls) == 2
    assert sorted(p.name for p in out.parent.iterdir()) == ["s.parquet"]
    assert out.read_bytes() == b"previous scores"


def _relayout(folder: Path, root: Path, layout: str) -> Path:
    """The Parquet tables of ``folder`` rewritten with another row order or file layout.

    ``clustered``: every table sorted by customer id, in row groups of 7 rows (a sorted
    warehouse export); ``parts``: every table a folder of 3 part files, rows in file order.
    """
    import pyarrow.parquet as pq

    root.mkdir(parents=True)
    for path in sorted(folder.glob("*.parquet")):
        table = pq.read_table(path)
        if layout == "clustered":
            pq.write_table(table.sort_by("customer_id"), root / path.name, row_group_size=7)
            continue
        parts = root / path.stem
        parts.mkdir(parents=True)
        step = -(-table.num_rows // 3)
        for i in range(3):
            pq.write_table(table.slice(i * step, step), parts / f"part-{i:05d}.parquet")
    return root


def test_chunked_scores_and_rejects_do_not_depend_on_row_order_layout_or_chunk_size(
    predictor, small, tmp_path
):
    as_of = as_of_of(predictor)
    customers = small.customers.copy()
    customers.loc[3, "signup_date"] = pd.NaT  # a rejected customer, with a reason
    middle = sorted(customers["customer_id"])[N_SMALL // 2] + "x"  # sorts inside the id range
    nobody = small.orders.iloc[:2].assign(customer_id=[middle, "~last"])  # not in customers
    data = write(
        small.replace(customers=customers, orders=pd.concat([small.orders, nobody])),
        tmp_path / "shuffled",
    )
    folders = {"shuffled": data}
    for layout in ("clustered", "parts"):
        folders[layout] = _relayout(data, tmp_path / layout, layout)
    expected, _ = one_shot(predictor, data, as_of)
    reference = None
    # 1 customer per chunk: ids routed by binary search; 7: by comparison with the bounds
    for (layout, folder), chunk_size in itertools.product(folders.items(), (1, 7, N_SMALL)):
        out = tmp_path / f"{layout}-{chunk_size}.parquet"
        run = score_files(predictor, folder, out, as_of=as_of, chunk_size=chunk_size)
        assert run.chunked_read and run.chunks == -(-N_SMALL // chunk_size)
        pd.testing.assert_frame_equal(
            pd.read_parquet(out), as_written(expected, SCORES), check_exact=True
        )
        rejects = out.with_name(f"{out.stem}_rejects.csv").read_text()
        assert rejects == (reference := reference or rejects)
        assert "signup_date is empty" in rejects
        [unknown] = [w for w in run.warnings if w.check == "unknown_customer"]
        assert unknown.count == 2, (layout, chunk_size, unknown.message)
        assert run.scored == len(expected) and run.customers == N_SMALL


def _same_result(got, expected) -> None:
    for (name, frame), (_, other) in zip(got.tables.items(), expected.tables.items(), strict=True):
        pd.testing.assert_frame_equal(frame, other, obj=name)
    pd.testing.assert_frame_equal(got.rejects, expected.rejects)
    assert [i.message for i in got.issues] == [i.message for i in expected.issues]


def test_chunk_validated_for_the_latest_date_is_reused_once_and_keeps_every_row(
    predictor, small, tmp_path, monkeypatch
):
    """The chunk ``latest_date`` validated is handed over once, not validated again; every
    chunk holds all its rows whatever the as-of date (validation sees what a whole read sees)."""
    import predictor.io.chunks as chunks_module

    data = write(small, tmp_path / "d")
    open_chunks = lambda: open_customer_chunks(  # noqa: E731
        predictor.model.config, data, 8, end_date="2030-01-01"
    )
    calls = []
    counted = chunks_module.validate
    monkeypatch.setattr(
        chunks_module, "validate", lambda *a, **k: calls.append(1) or counted(*a, **k)
    )
    with open_chunks() as chunks, open_chunks() as fresh:
        chunks.latest_date()
        [k] = chunks._checked  # the chunk holding the latest date
        before = len(calls)
        _same_result(chunks.validated(k), fresh.validated(k))
        assert len(calls) == before + 1  # handed over: only ``fresh`` validated
        assert not chunks._checked  # handed over once, not kept
        rows = sum(len(fresh.validated(j).tables.orders) for j in range(len(fresh)))
        assert rows == int((small.orders["customer_id"].notna()).sum())

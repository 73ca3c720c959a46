"""NPS family: exact values on a hand-made table, cutoff 2024-03-31 (inclusive)."""

import numpy as np
import pandas as pd
import pytest

from predictor.contract.tables import Tables
from predictor.features import nps

CUTOFF = "2024-03-31"


@pytest.fixture
def result(make_frame, as_of_at, feature_config, empty_orders) -> pd.DataFrame:
    customers = make_frame(
        [("A", "2023-01-01"), ("B", "2023-01-01"), ("C", "2023-01-01"), ("D", "2023-01-01")],
        ["customer_id", "signup_date"],
        dates=("signup_date",),
    )
    rows = [
        ("A", "2023-06-01", 9),  # oldest answer
        ("A", "2024-01-10", 6),  # previous answer
        ("A", "2024-03-31 12:00", 8),  # on the cutoff day: the last answer
        ("A", "2024-04-01 00:00", 0),  # the day after: invisible
        ("B", "2024-03-01 10:00", 7),  # two answers at the same instant, 30 days ago:
        ("B", "2024-03-01 10:00", 10),  # ordered by score, so 10 is the last
        # C: never answered
        ("D", "2024-02-01", 3),  # a single answer
    ]
    answers = make_frame(rows, ["customer_id", "responded_at", "score"], dates=("responded_at",))
    tables = Tables(customers=customers, orders=empty_orders, nps=answers)
    return nps.compute(tables, as_of_at(customers, CUTOFF), feature_config)


def test_last_answer_and_change(result):
    a = result.loc["A"]
    assert a["nps__responses"] == 3
    assert a["nps__last_score"] == 8
    assert a["nps__mean_score"] == pytest.approx(23 / 3)
    assert a["nps__change"] == 2
    assert a["nps__days_since_last"] == 0
    assert a["nps__category"] == "passive"


def test_ties_are_ordered_by_score(result):
    b = result.loc["B"]
    assert b["nps__last_score"] == 10
    assert b["nps__change"] == 3
    assert b["nps__category"] == "promoter"
    assert b["nps__days_since_last"] == 30


def test_no_answer_and_single_answer(result):
    c = result.loc["C"]
    assert c["nps__responses"] == 0
    assert np.isnan(c["nps__last_score"])
    assert c["nps__category"] == "no_response"
    d = result.loc["D"]
    assert d["nps__category"] == "detractor"
    assert np.isnan(d["nps__change"])
    assert list(result["nps__category"].cat.categories) == nps.CATEGORIES

"""Arguments of the Python API and the MLflow pyfunc: checked as the CLI checks them.

An as-of date is a day written ``YYYY-MM-DD`` (or a date object without a time zone);
anything else is an ``AsOfError`` (a ``PredictorError``) naming the argument, raised before
any data is read. Wrong types and negative driver counts name the argument too.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

import predictor
from predictor.api import Predictor
from predictor.errors import PredictorError
from predictor.scoring import pyfunc_frame, pyfunc_predict
from predictor.timeline import AsOfError

BAD_AS_OF = [
    pytest.param("06/07/2025", id="month-first"),
    pytest.param("2025-06-30T23:59:59+05:00", id="time-and-zone"),
    pytest.param("garbage", id="garbage"),
    pytest.param(pd.Timestamp("2025-06-30", tz="UTC"), id="zoned-timestamp"),
    pytest.param(pd.NaT, id="NaT"),
]
DRIVERS = "churn_risk_driver_"


@pytest.fixture(scope="module")
def model(trained) -> Predictor:
    return Predictor(trained[0], {})


@pytest.fixture(scope="module")
def frame(model, small_tables) -> pd.DataFrame:
    return model.features(small_tables, "2024-12-31")


@pytest.mark.parametrize("as_of", BAD_AS_OF)
def test_score_refuses_an_as_of_that_is_not_a_day_before_reading(model, tmp_path, as_of):
    with pytest.raises(AsOfError, match=r"^as_of: ") as caught:
        model.score(tmp_path / "unread", as_of=as_of)
    assert isinstance(caught.value, PredictorError | ValueError)


@pytest.mark.parametrize("as_of", [*BAD_AS_OF, pytest.param(None, id="None")])
def test_features_refuses_an_as_of_that_is_not_a_day(model, tmp_path, as_of):
    with pytest.raises(AsOfError, match=r"^as_of: "):
        model.features(tmp_path / "unread", as_of=as_of)


@pytest.mark.parametrize("as_of", BAD_AS_OF)
def test_predict_refuses_an_as_of_that_is_not_a_day(model, frame, as_of):
    with pytest.raises(AsOfError, match=r"^as_of: "):
        model.predict(frame, as_of=as_of)


@pytest.mark.parametrize("as_of", BAD_AS_OF)
def test_pyfunc_refuses_an_as_of_that_is_not_a_day(trained, frame, as_of):
    with pytest.raises(AsOfError, match=r"^params\.as_of: "):
        pyfunc_predict(trained[0], pyfunc_frame(frame), {"as_of": as_of})


@pytest.mark.parametrize(
    "as_of",
    [pd.Timestamp("2024-12-31"), dt.date(2024, 12, 31), dt.datetime(2024, 12, 31, 10, 30)],
    ids=["Timestamp", "date", "datetime"],
)
def test_as_of_is_the_iso_day_or_a_date_object_never_month_first_text(model, small_tables, as_of):
    expected = model.score(small_tables, as_of="2024-12-31")
    pd.testing.assert_frame_equal(model.score(small_tables, as_of=as_of), expected)
    with pytest.raises(AsOfError, match="'12/31/2024'"):
        model.score(small_tables, as_of="12/31/2024")


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda m, f: m.score(f), TypeError, "tables_or_folder: expected Tables"),
        (lambda m, f: predictor.score(m, {}), TypeError, "tables_or_folder: expected Tables"),
        (lambda m, f: m.predict([1, 2, 3]), TypeError, "frame: expected a pandas DataFrame"),
        (lambda m, f: m.score("unread", drivers="3"), TypeError, "drivers: expected a whole"),
        (lambda m, f: m.score("unread", drivers=-1), ValueError, "drivers: -1 is negative"),
    ],
    ids=["score-DataFrame", "score-dict", "predict-list", "drivers-text", "drivers-negative"],
)
def test_wrong_arguments_are_named(model, frame, call, error, words):
    with pytest.raises(error, match=words):
        call(model, frame)


def test_pyfunc_names_a_drivers_param_that_is_not_a_number(trained, frame):
    with pytest.raises(TypeError, match="params.drivers: expected a whole number"):
        pyfunc_predict(trained[0], pyfunc_frame(frame), {"drivers": "many"})


def test_churn_drivers_are_empty_where_churn_risk_is_one_by_rule(model, small_tables):
    scores = model.score(small_tables, drivers=2)
    lapsed = scores["risk_band"] == "inactive"
    assert lapsed.any() and not lapsed.all(), "precondition: lapsed and active customers"
    churn = [c for c in scores.columns if c.startswith(DRIVERS)]
    value = [c for c in scores.columns if c.startswith("value_13m_driver_")]
    assert len(churn) == 6 and len(value) == 6
    assert (scores.loc[lapsed, "churn_risk"] == 1.0).all()
    assert scores.loc[lapsed, churn].isna().all().all()
    assert scores.loc[~lapsed, churn].notna().all().all()
    assert scores.loc[lapsed, value].notna().all().all()


def test_rows_set_aside_in_a_folder_are_warned_about(trained, small_csv, tmp_path):
    """The API read a folder, set rows aside and said nothing; the CLI prints why."""
    import shutil

    import pandas as pd

    from predictor.api import Predictor

    data = tmp_path / "data"
    shutil.copytree(small_csv, data)
    orders = pd.read_csv(data / "orders.csv", dtype=str, keep_default_na=False)
    orders.loc[3, "amount"] = "twelve"
    orders.to_csv(data / "orders.csv", index=False)
    with pytest.warns(UserWarning, match=r"orders.amount: 1 row has values that are not numbers"):
        Predictor(trained[0], {}).score(data)

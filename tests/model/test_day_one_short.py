"""Day One value learned over a short horizon on many more cohorts (day_one.learn_months)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tests.conftest import fast_config

from predictor.labels import day_one_label
from predictor.timeline import add_months
from predictor.training import train


def _config():
    return fast_config(day_one={"learn_months": 3}).model_copy(update={"models": ["day_one"]})


@pytest.fixture(scope="module")
def short_day_one(business):
    return train(business.tables, _config())


def test_short_day_one_adds_cohorts_and_is_judged_on_the_full_horizon(business, short_day_one):
    tables = business.tables
    model, evaluation = short_day_one
    result = evaluation.tasks["day_one"]
    assert model.info["day_one_method"] == "xgboost_3m_extended_by_bgnbd"
    assert result.plan["horizon_months"] == 3
    # the held-out training cohorts' 3-month windows closed before the test cohort signed up
    first_test = pd.Timestamp(result.plan["test_signups"][0])
    last_train = pd.Timestamp(result.plan["valid_signups"][1])
    assert add_months(last_train + pd.Timedelta(days=1), 3) <= first_test
    # ... and they reach later signups than a full 13-month window would allow
    assert add_months(last_train, 13) > first_test
    # judged against the 13-month Day One label of the test cohort
    full = day_one_label(tables, 1, _config().value, pd.Timestamp(model.info["data_end"]))
    assert set(result.y_true) <= set(full.to_numpy()) and len(result.y_true) >= 30
    refit_last = pd.Timestamp(result.plan["refit"]["valid_signups"][1])
    assert refit_last > first_test  # the saved model is refitted on the latest cohorts
    assert 0.3 < result.predictions["model"].sum() / result.y_true.sum() < 3.0


def test_held_out_short_day_one_reads_nothing_after_the_test_cohort_starts(business, short_day_one):
    tables = business.tables
    _, evaluation = short_day_one
    result = evaluation.tasks["day_one"]
    first_test = pd.Timestamp(result.plan["test_signups"][0]).normalize()
    signup = tables.customers.set_index("customer_id")["signup_date"]
    earlier = tables.orders["customer_id"].map(signup).lt(first_test).to_numpy()
    later = (tables.orders["order_date"] > first_test + pd.Timedelta(days=1)).to_numpy()
    assert (earlier & later).any()
    orders = tables.orders.copy()
    orders.loc[earlier & later, "amount"] *= 3
    _, evaluation2 = train(tables.replace(orders=orders), _config())
    result2 = evaluation2.tasks["day_one"]
    np.testing.assert_array_equal(result2.y_true, result.y_true)
    np.testing.assert_allclose(result2.predictions["model"], result.predictions["model"])

"""Customer family: tenure, signup season and attribute typing, cutoff 2024-03-31."""

import numpy as np
import pandas as pd
import pytest

from predictor.contract.tables import Tables
from predictor.features import customer

CUTOFF = "2024-03-31"


@pytest.fixture
def result(make_frame, as_of_at, feature_config, empty_orders) -> pd.DataFrame:
    customers = make_frame(
        [
            # signed up on the cutoff day (a Sunday): tenure 0
            ("A", "2024-03-31", "ads", "FR", 30, True, "2024-03-01"),
            # signed up a (leap) year before: 366 days
            ("B", "2023-03-31", "referral", None, None, False, "2023-03-30"),
        ],
        [
            "customer_id",
            "signup_date",
            "acquisition_channel",
            "country",
            "age",
            "vip",
            "first visit",
        ],
        dates=("signup_date", "first visit"),
    )
    tables = Tables(customers=customers, orders=empty_orders)
    return customer.compute(tables, as_of_at(customers, CUTOFF), feature_config)


def test_tenure_and_signup_season(result):
    assert result.loc["A", "customer__tenure_days"] == 0
    assert result.loc["B", "customer__tenure_days"] == 366
    assert result.loc["A", "customer__signup_month"] == 3
    assert result.loc["A", "customer__signup_weekday"] == 6


def test_attribute_types(result):
    assert list(result.columns[:4]) == [
        "customer__tenure_days",
        "customer__signup_month",
        "customer__signup_weekday",
        "customer__acquisition_channel",
    ]
    assert isinstance(result["customer__acquisition_channel"].dtype, pd.CategoricalDtype)
    assert isinstance(result["customer__country"].dtype, pd.CategoricalDtype)
    assert pd.isna(result.loc["B", "customer__country"])
    assert result["customer__age"].dtype == np.float64
    assert np.isnan(result.loc["B", "customer__age"])
    assert result.loc["A", "customer__vip"] == "True"
    assert result.loc["A", "customer__first_visit__days_ago"] == 30
    assert result.loc["B", "customer__first_visit__days_ago"] == 367


def test_many_categories_are_capped():
    values = pd.Series([f"v{i:03d}" for i in range(150)] + ["v000"] * 5)
    out = customer.to_category(values, cap=10)
    assert len(out.categories) == 10
    assert "other" in out.categories
    assert "v000" in out.categories  # the most frequent value survives

"""Onboarding family: exact values on a hand-made table, cutoff 2024-03-31 (inclusive)."""

import numpy as np
import pandas as pd
import pytest

from predictor.config import Config, OnboardingConfig
from predictor.contract.tables import Tables
from predictor.features import onboarding

CUTOFF = "2024-03-31"


@pytest.fixture
def small_config() -> Config:
    steps = ["account_created", "profile_completed", "first_purchase"]
    return Config(onboarding=OnboardingConfig(steps=steps, within_days=2))


@pytest.fixture
def result(make_frame, as_of_at, small_config, empty_orders) -> pd.DataFrame:
    customers = make_frame(
        [("A", "2024-03-01"), ("B", "2024-03-30"), ("C", "2024-03-01"), ("D", "2024-03-01")],
        ["customer_id", "signup_date"],
        dates=("signup_date",),
    )
    rows = [
        ("A", "account_created", "2024-03-01 00:30"),  # 0.5 h after signup
        ("A", "profile_completed", "2024-03-01 12:00"),  # 12 h
        ("A", "Profile Completed", "2024-03-02 00:00"),  # same step again, later: ignored
        ("A", "first_purchase", "2024-03-02 18:00"),  # 42 h, day 1 < within_days=2
        ("A", "newsletter", "2024-03-01 01:00"),  # not a configured step
        ("B", "account_created", "2024-03-30 08:00"),  # 8 h
        ("B", "first_purchase", "2024-03-31 23:59"),  # on the cutoff day: counts
        ("B", "profile_completed", "2024-04-01 00:00"),  # the day after: invisible
        # C: nothing done
        ("D", "account_created", "2024-03-01 01:00"),
        ("D", "profile_completed", "2024-03-01 02:00"),
        ("D", "first_purchase", "2024-03-03 00:00"),  # day 2: not within 2 days
    ]
    steps = make_frame(rows, ["customer_id", "step", "completed_at"], dates=("completed_at",))
    tables = Tables(customers=customers, orders=empty_orders, onboarding=steps)
    return onboarding.compute(tables, as_of_at(customers, CUTOFF), small_config)


def test_complete_journey(result):
    a = result.loc["A"]
    assert a["onboarding__steps_completed"] == 3
    assert a["onboarding__completion_ratio"] == 1
    assert a["onboarding__completed_all"] == 1
    assert a["onboarding__stalled_at"] == "none"
    assert a["onboarding__completed_within_days"] == 1
    assert a["onboarding__hours_to__account_created"] == 0.5
    assert a["onboarding__hours_to__profile_completed"] == 12
    assert a["onboarding__hours_to__first_purchase"] == 42


def test_stalled_journey_and_cutoff_boundary(result):
    b = result.loc["B"]
    assert b["onboarding__steps_completed"] == 2
    assert b["onboarding__completion_ratio"] == pytest.approx(2 / 3)
    assert b["onboarding__completed_all"] == 0
    assert b["onboarding__stalled_at"] == "profile_completed"
    assert np.isnan(b["onboarding__hours_to__profile_completed"])
    assert b["onboarding__hours_to__first_purchase"] == pytest.approx(47 + 59 / 60)


def test_nothing_done_and_late_completion(result):
    c = result.loc["C"]
    assert c["onboarding__steps_completed"] == 0
    assert c["onboarding__stalled_at"] == "account_created"
    assert np.isnan(c["onboarding__hours_to__account_created"])
    assert result.loc["D", "onboarding__completed_all"] == 1
    assert result.loc["D", "onboarding__completed_within_days"] == 0


def test_stalled_at_categories_follow_the_journey(result):
    dtype = result["onboarding__stalled_at"].dtype
    assert isinstance(dtype, pd.CategoricalDtype)
    assert list(dtype.categories) == [
        "account_created",
        "profile_completed",
        "first_purchase",
        "none",
    ]

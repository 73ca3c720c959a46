"""Shared fixtures: a small seeded sample business and one model trained on it per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from predictor.config import Config

N_CUSTOMERS = 1500


def fast_config(**overrides) -> Config:
    """A config that trains quickly on the small sample (fewer rounds and cutoffs).

    One XGBoost thread: the suite runs in two worker processes on two cores, and two threads
    per worker would oversubscribe them.
    """
    base = {
        "model": {
            "n_estimators": 120,
            "learning_rate": 0.1,
            "early_stopping_rounds": 15,
            "n_jobs": 1,
        },
        "cutoffs": {"max_cutoffs": 4, "step_days": 60, "churn_max_cutoffs": 6},
        "tracking": {"experiment": "tests"},
    }
    for key, value in overrides.items():
        base.setdefault(key, {}).update(value)
    return Config.model_validate(base)


@pytest.fixture(scope="session")
def business():
    from predictor.sample import generate_sample

    return generate_sample(n_customers=N_CUSTOMERS, seed=7, mode="subscription")


@pytest.fixture(scope="session")
def retail_business():
    from predictor.sample import generate_sample

    return generate_sample(n_customers=N_CUSTOMERS, seed=11, mode="retail")


@pytest.fixture(scope="session")
def trained(business):
    """(TrainedModel, Evaluation) on the subscription sample."""
    from predictor.training import train

    return train(business.tables, fast_config())


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory, business) -> Path:
    from predictor.io import write_tables

    folder = tmp_path_factory.mktemp("sample") / "data"
    write_tables(business.tables, folder, fmt="csv")
    return folder


@pytest.fixture(scope="session")
def spark():
    """The suite's one local Spark session (``local[2]``, UTC), started on first use.

    Skips the test where the Spark extra or Java is absent.
    """
    import shutil

    pytest.importorskip("pyspark", reason="the Spark extra (predictor[spark]) is absent")
    if shutil.which("java") is None:
        pytest.skip("Java is not installed: Spark cannot start")
    from predictor.spark_engine import spark_session

    session = spark_session("local[2]")
    yield session
    session.stop()

"""The usage-heavy subscription sample: valid contract data, exact truth, planted pre-churn fading."""

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from predictor.cli import app
from predictor.config import Config
from predictor.labels import churn_label
from predictor.sample.usage import generate_usage, usage_truth

CUTOFF = pd.Timestamp("2023-10-31")


@pytest.fixture(scope="module")
def sample():
    return generate_usage(160, seed=4, start="2022-01-01", years=2.0, activity=0.15)


def _small(seed: int = 4, activity: float = 0.2):
    return generate_usage(40, seed=seed, start="2023-01-01", years=1.0, activity=activity)


def test_same_seed_same_data_other_seed_other_data():
    first, again = _small(), _small()
    for name, frame in first.tables.items():
        pd.testing.assert_frame_equal(frame, again.tables.get(name), check_exact=True)
    pd.testing.assert_frame_equal(first.traits, again.traits)
    assert not _small(seed=5).tables.interactions.equals(first.tables.interactions)


def test_activity_scales_usage_but_not_the_process():
    quiet, busier = _small(), _small(activity=0.4)
    pd.testing.assert_series_equal(busier.traits["churn_date"], quiet.traits["churn_date"])
    pd.testing.assert_frame_equal(busier.tables.subscriptions, quiet.tables.subscriptions)
    assert len(busier.tables.interactions) > 1.7 * len(quiet.tables.interactions)


def test_truth_is_a_probability_on_the_label_population(sample):
    truth = usage_truth(sample, CUTOFF, n_sims=16)
    labels = churn_label(sample.tables, CUTOFF, Config().churn)
    population = truth.index[truth["in_churn_population"]]
    assert sorted(population) == sorted(labels.index)
    prob = truth.loc[population, "true_churn_prob"]
    assert prob.between(0, 1).all()
    assert truth.loc[~truth["in_churn_population"], "true_churn_prob"].isna().all()
    # the accounts that do cancel within the horizon had a much higher true risk
    churned = labels.astype(bool)
    assert prob[churned[churned].index].mean() > 2.5 * prob[churned[~churned].index].mean()


def test_usage_decays_in_the_weeks_before_a_cancellation(sample):
    """Usage in the 4 weeks before a cancellation against weeks 12-20 before it, per account."""
    it = sample.tables.interactions
    usage = it[it["kind"] != "payment_failed"]
    ends = sample.traits["churn_date"].dropna()
    signup = sample.tables.customers.set_index("customer_id")["signup_date"]
    ends = ends[ends - signup.reindex(ends.index) > pd.Timedelta(days=150)]
    assert len(ends) >= 10
    days_before = ends.reindex(usage["customer_id"]).to_numpy() - usage["occurred_at"].to_numpy()
    days_before = days_before / np.timedelta64(1, "D")
    who = usage["customer_id"].to_numpy()
    last = pd.Series((days_before > 0) & (days_before <= 28)).groupby(who).sum() / 28
    early = pd.Series((days_before > 84) & (days_before <= 140)).groupby(who).sum() / 56
    ratio = (last / early).reindex(ends.index)
    assert ratio.median() < 0.4


def test_cli_writes_usage_data_that_validates(tmp_path):
    runner = CliRunner()
    out = tmp_path / "usage"
    wrote = runner.invoke(
        app, ["sample", "--mode", "usage", "--customers", "8", "--seed", "1", "--out", str(out),
              "--format", "parquet"],
    )  # fmt: skip
    assert wrote.exit_code == 0, wrote.output
    checked = runner.invoke(app, ["validate", str(out)])
    assert checked.exit_code == 0, checked.output
    assert "interactions" in checked.output
    subs = pd.read_parquet(out / "subscriptions.parquet")
    assert {"seats", "mrr", "plan"} <= set(subs.columns)
    assert (tmp_path / "usage_truth" / "traits.parquet").exists()

"""On the sample business, features of the planted signals separate churners from the others."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from predictor.config import Config
from predictor.features import build_features
from predictor.labels import churn_label


@pytest.fixture(scope="module")
def pooled(business):
    """Features and churn labels stacked over seven quarterly cutoffs of the last two years."""
    tables, config = business.tables, Config()
    end = tables.orders["order_date"].max().normalize()
    frames, labels = [], []
    for months in range(4, 24, 3):
        cutoff = end - pd.Timedelta(days=30 * months)
        y = churn_label(tables, cutoff, config.churn)
        frames.append(build_features(tables, cutoff, config).loc[y.index])
        labels.append(y.to_numpy())
    return pd.concat(frames), np.concatenate(labels)


def _means(pooled, column: str) -> tuple[float, float]:
    features, churned = pooled
    values = features[column].astype(float)
    return values[churned == 0].mean(), values[churned == 1].mean()


@pytest.mark.parametrize(
    ("column", "churners_have_more"),
    [
        ("support__tickets_90d", True),  # repeated / recent support problems
        ("support__sla_breach_share", True),  # slow resolution (share of tickets past the SLA)
        ("support__csat_min", False),  # poor satisfaction
        ("support__live_chat_share", False),  # live chat helps retention
        ("channels__active_channels_90d", False),  # omnichannel customers stay
        ("onboarding__completion_ratio", False),  # finishing onboarding keeps customers
        ("bgnbd__frequency", False),  # repeat buyers stay
    ],
)
def test_planted_signal_differs_in_the_expected_direction(pooled, column, churners_have_more):
    stay, churn = _means(pooled, column)
    assert (churn > stay) == churners_have_more, (column, stay, churn)


def test_detractors_churn_more_than_promoters(pooled):
    features, churned = pooled
    rate = pd.Series(churned).groupby(features["nps__category"].astype(str).to_numpy()).mean()
    assert rate["detractor"] > rate["promoter"]

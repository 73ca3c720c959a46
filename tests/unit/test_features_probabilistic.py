"""BG/NBD features: the same statistics as the reference RFM summary, fitted without leakage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from predictor.features import build_features
from predictor.features.probabilistic import fit_params, rfm_stats
from predictor.modeling.probabilistic import rfm_summary
from predictor.testing import synthetic_tables
from predictor.timeline import day_end

CUTOFF = pd.Timestamp("2024-03-31")


@pytest.fixture(scope="module")
def rich():
    return synthetic_tables(400, seed=3)


def _limits(tables, as_of):
    ids = pd.Index(tables.customers["customer_id"], name="customer_id")
    return pd.Series(day_end(as_of), index=ids)


def test_stats_match_the_reference_rfm_summary(rich):
    purchases = rich.orders[rich.orders["amount"] >= 0]
    ref = rfm_summary(purchases, CUTOFF)
    got = rfm_stats(rich, _limits(rich, CUTOFF)).dropna()
    assert set(got.index) == set(ref.index)
    got = got.loc[ref.index]
    np.testing.assert_array_equal(got["x"], ref["frequency"])
    np.testing.assert_allclose(got["t_x"], ref["recency"])
    np.testing.assert_allclose(got["T"], ref["T"])


def test_customers_without_purchase_get_missing_values(rich, feature_config):
    frame = build_features(rich, CUTOFF, feature_config)
    buyers = rich.orders.loc[
        (rich.orders["amount"] >= 0) & (rich.orders["order_date"] <= day_end(CUTOFF)),
        "customer_id",
    ].unique()
    silent = frame.index.difference(pd.Index(buyers))
    assert len(silent) > 0
    assert frame.loc[silent].filter(like="bgnbd__").isna().all().all()
    p = frame.loc[frame.index.isin(buyers), "bgnbd__p_alive"]
    assert p.between(0, 1).all()


def test_fit_ignores_future_rows_and_row_order(rich):
    base = fit_params(rich, _limits(rich, CUTOFF))
    assert base is not None
    late = rich.orders.assign(order_date=rich.orders["order_date"] + pd.Timedelta(days=900))
    future = rich.replace(orders=pd.concat([rich.orders, late], ignore_index=True))
    shuffled = future.replace(orders=future.orders.sample(frac=1.0, random_state=1))
    assert fit_params(future, _limits(future, CUTOFF)) == base
    assert fit_params(shuffled, _limits(shuffled, CUTOFF)) == base


def test_given_parameters_make_features_per_customer(rich, feature_config):
    params = fit_params(rich, _limits(rich, CUTOFF))
    whole = build_features(rich, CUTOFF, feature_config, params)
    ids = rich.customers["customer_id"].iloc[:7]
    part = build_features(rich.subset(ids), CUTOFF, feature_config, params)
    cols = [c for c in whole.columns if c.startswith("bgnbd__")]
    pd.testing.assert_frame_equal(part[cols], whole.loc[part.index, cols])


def test_family_can_be_left_out(rich, feature_config):
    assert not build_features(rich, CUTOFF, feature_config, None).filter(like="bgnbd__").shape[1]
    off = feature_config.model_copy(
        update={"model": feature_config.model.model_copy(update={"probabilistic_features": False})}
    )
    assert not build_features(rich, CUTOFF, off).filter(like="bgnbd__").shape[1]

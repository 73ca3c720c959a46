"""The last sign of life: the later of the last purchase and the last engagement."""

import numpy as np
import pandas as pd
import pytest

from predictor.features import activity, build_features

CUTOFF = "2024-03-31"
COLUMN = activity.PREFIX + "days_since_any"


def _frame(**columns: list[float]) -> pd.DataFrame:
    return pd.DataFrame(columns, index=pd.Index(["a", "b", "c", "d"], name="customer_id"))


def test_the_later_signal_wins_and_none_is_nan():
    frame = _frame(
        orders__recency_days=[400.0, 3.0, np.nan, np.nan],
        channels__days_since_engagement=[12.0, 40.0, 7.0, np.nan],
        support__days_since_last_ticket=[1.0, 1.0, 1.0, 1.0],
    )
    out = activity.derive(frame)
    assert list(out.columns) == [COLUMN]
    assert out[COLUMN].tolist()[:3] == [12.0, 3.0, 7.0]
    assert np.isnan(out.loc["d", COLUMN])


def test_orders_alone_add_no_column():
    frame = _frame(orders__recency_days=[1.0, 2.0, 3.0, 4.0], orders__count=[1.0] * 4)
    assert activity.derive(frame).columns.empty


@pytest.mark.parametrize("cutoff", [CUTOFF, "2023-09-30"])
def test_feature_frame_holds_the_later_of_purchase_and_engagement(
    rich_tables, feature_config, cutoff
):
    out = build_features(rich_tables, cutoff, feature_config)
    sources = out[[activity.RECENCY, activity.ENGAGEMENT]]
    pd.testing.assert_series_equal(
        out[COLUMN], sources.min(axis=1, skipna=True), check_names=False, check_exact=True
    )
    assert (out[activity.RECENCY] > out[COLUMN]).any()  # engaged after the last purchase


def test_only_orders_in_the_tables_gives_no_activity_column(rich_tables, feature_config):
    orders_only = rich_tables.replace(
        subscriptions=None, onboarding=None, support_tickets=None, interactions=None, nps=None
    )
    out = build_features(orders_only, CUTOFF, feature_config)
    assert not any(c.startswith(activity.PREFIX) for c in out.columns)

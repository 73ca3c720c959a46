"""Support family: exact values on a hand-made table, cutoff 2024-03-31 (inclusive), SLA 48 h."""

import numpy as np
import pandas as pd
import pytest

from predictor.contract.tables import Tables
from predictor.features import support

CUTOFF = "2024-03-31"


@pytest.fixture
def result(make_frame, as_of_at, feature_config, empty_orders) -> pd.DataFrame:
    customers = make_frame(
        [("A", "2023-01-01"), ("B", "2023-01-01")],
        ["customer_id", "signup_date"],
        dates=("signup_date",),
    )
    cols = ["customer_id", "opened_at", "resolved_at", "channel", "csat", "category", "escalated"]
    rows = [
        # 121 days before: 365d only; resolved in 24 h (within SLA), rated 4
        ("A", "2023-12-01 10:00", "2023-12-02 10:00", "email", 4, "billing", False),
        # 26 days before: 30d; 72 h (SLA breach), rated 2, escalated
        ("A", "2024-03-05 09:00", "2024-03-08 09:00", "live_chat", 2, "delivery", True),
        # 11 days before, resolved after the cutoff: open at the cutoff for 279 h (breach);
        # its rating comes after the resolution and is unknown at the cutoff; a repeat (15 days)
        ("A", "2024-03-20 09:00", "2024-04-02 09:00", "Live Chat", 5, "delivery", False),
        # on the cutoff day, open for 4 h (no breach yet); a repeat (11 days)
        ("A", "2024-03-31 20:00", None, "phone", None, "billing", False),
        # the day after the cutoff: invisible
        ("A", "2024-04-01 00:00", None, "social", 1, "refund", True),
        # B: no ticket
    ]
    tickets = make_frame(rows, cols, dates=("opened_at", "resolved_at"))
    tables = Tables(customers=customers, orders=empty_orders, support_tickets=tickets)
    return support.compute(tables, as_of_at(customers, CUTOFF), feature_config)


def test_counts_and_windows(result):
    a = result.loc["A"]
    assert a["support__tickets"] == 4
    assert a["support__tickets_30d"] == 3
    assert a["support__tickets_90d"] == 3
    assert a["support__tickets_365d"] == 4
    assert a["support__days_since_last_ticket"] == 0
    assert a["support__repeat_tickets"] == 2
    assert a["support__escalations"] == 1
    assert a["support__live_chat_share"] == 0.5
    assert a["support__tickets__billing"] == 2
    assert a["support__tickets__delivery"] == 2
    assert "support__tickets__refund" not in result.columns


def test_resolution_and_sla(result):
    a = result.loc["A"]
    assert a["support__open_tickets"] == 2
    assert a["support__resolution_hours_mean"] == 48
    assert a["support__resolution_hours_max"] == 72
    assert a["support__sla_breach_share"] == 0.5


def test_csat_counts_only_ratings_known_at_the_cutoff(result):
    a = result.loc["A"]
    assert a["support__csat_mean"] == 3
    assert a["support__csat_min"] == 2
    assert a["support__csat_last"] == 2


def test_customer_without_tickets(result):
    b = result.loc["B"]
    assert b["support__tickets"] == 0
    assert b["support__open_tickets"] == 0
    assert b["support__tickets__billing"] == 0
    for name in ["days_since_last_ticket", "csat_mean", "live_chat_share", "sla_breach_share"]:
        assert np.isnan(b[f"support__{name}"])

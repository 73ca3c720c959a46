"""Point-in-time truncation: what a cutoff may see, on hand-made rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
from tests.unit.conftest import frame

from predictor.contract.tables import Tables
from predictor.keys import positions
from predictor.timeline import (
    cut_day_one,
    day_end,
    days_after,
    is_purchase,
    known_at,
    months_after,
    purchases,
    truncate,
    truncate_day_one,
)

CUSTOMERS = frame(
    [("a", "2024-01-01"), ("b", "2024-01-10"), ("late", "2024-03-01")],
    ["customer_id", "signup_date"],
    dates=("signup_date",),
)
TICKETS = frame(
    [
        ("a", "2024-01-05", "2024-01-06", 5.0),  # resolved and rated before the cutoff
        ("a", "2024-01-30", "2024-02-03", 2.0),  # opened before, resolved after: csat unknown
        ("b", "2024-02-02", "2024-02-02", 4.0),  # after the cutoff: invisible
        ("late", "2024-01-20", "2024-01-21", 1.0),  # customer signs up after the cutoff
    ],
    ["customer_id", "opened_at", "resolved_at", "csat"],
    dates=("opened_at", "resolved_at"),
)
ORDERS = frame(
    [("a", "2024-01-31 23:59", 10.0), ("b", "2024-01-10", 5.0), ("late", "2024-01-02", 1.0)],
    ["customer_id", "order_date", "amount"],
    dates=("order_date",),
)
TABLES = Tables(customers=CUSTOMERS, orders=ORDERS, support_tickets=TICKETS)


def test_cutoff_keeps_the_whole_day_and_drops_later_customers():
    seen = truncate(TABLES, "2024-01-31")
    assert list(seen.customers["customer_id"]) == ["a", "b"]
    assert list(seen.orders["customer_id"]) == ["a", "b"]  # 23:59 on the cutoff day counts
    assert list(seen.support_tickets["customer_id"]) == ["a", "a"]


def test_later_resolution_and_its_csat_are_unknown_at_the_cutoff():
    tickets = truncate(TABLES, "2024-01-31").support_tickets.reset_index(drop=True)
    assert tickets.loc[0, "csat"] == 5.0 and pd.notna(tickets.loc[0, "resolved_at"])
    assert pd.isna(tickets.loc[1, "resolved_at"]) and pd.isna(tickets.loc[1, "csat"])
    assert TABLES.support_tickets["csat"].notna().all()  # the input is not modified


def test_day_one_window_is_per_customer():
    seen = truncate_day_one(TABLES, window_days=7)
    assert list(seen.support_tickets["customer_id"]) == ["a", "late"]
    # a's order is on day 31; late's order predates its signup, so it is known on Day One
    assert list(seen.orders["customer_id"]) == ["b", "late"]


def test_day_one_cut_gives_the_kept_rows_customer_positions():
    seen, kept = cut_day_one(TABLES, window_days=7)
    for name in ("orders", "support_tickets"):
        expected = positions(pd.Index(CUSTOMERS["customer_id"]), seen.get(name)["customer_id"])
        assert kept[name].tolist() == expected.tolist()


def test_cut_keeps_text_spread_over_chunks_as_a_boolean_selection_does():
    chunks = pa.chunked_array([["a", None, "c"], ["b", "a"]], type=pa.large_string())
    text = pd.Series(pd.arrays.ArrowStringArray(chunks, dtype=pd.StringDtype("pyarrow", np.nan)))
    orders = pd.DataFrame(
        {
            "customer_id": text.fillna("b").array,
            "order_date": pd.to_datetime(
                ["2024-01-01", "2024-01-02", "2024-02-20", "2024-01-12", "2024-03-01"]
            ),
            "channel": text.array,
            "amount": [1.0, 2.0, 3.0, 4.0, 5.0],
        },
        index=[10, 11, 12, 13, 14],
    )
    seen = truncate_day_one(Tables(customers=CUSTOMERS, orders=orders), window_days=7)
    expected = orders[[True, True, False, True, False]]
    pd.testing.assert_frame_equal(seen.orders, expected, check_exact=True)
    assert seen.orders["channel"].dtype == orders["channel"].dtype


def test_purchase_rule_counts_zero_and_unknown_amounts_but_not_refunds():
    amounts = pd.Series([12.0, 0.0, float("nan"), -5.0])
    assert is_purchase(amounts).tolist() == [True, True, True, False]
    assert is_purchase(amounts.to_numpy()).tolist() == [True, True, True, False]
    orders = ORDERS.assign(amount=[10.0, -5.0, 0.0])
    assert list(purchases(orders)["customer_id"]) == ["a", "late"]


def test_label_windows_end_at_the_end_of_a_day():
    assert months_after("2024-01-31", 1) == pd.Timestamp("2024-02-29 23:59:59.999999")
    assert days_after("2024-01-31", 90) == pd.Timestamp("2024-04-30 23:59:59.999999")
    dates = pd.Series(pd.to_datetime(["2024-01-31 23:59", "2024-02-01 00:00", None]))
    assert known_at(dates, day_end("2024-01-31")).tolist() == [True, False, False]

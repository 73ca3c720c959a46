"""Contract checks: every check fires on a tiny crafted table and names table, column and rows."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from predictor.contract.errors import ContractError
from predictor.contract.validate import DateRules, validate

END = pd.Timestamp("2024-06-30")


def good_raw() -> dict[str, pd.DataFrame]:
    """Clean tables as read from CSV (every value a string), one row per case at most."""
    return {
        "customers": pd.DataFrame(
            {
                "customer_id": ["c1", "c2", "c3"],
                "signup_date": ["2023-01-01", "2023-02-01", "2023-03-01 12:00:00"],
                "acquisition_channel": ["search", "social", ""],
                "country": ["US", "NA", "FR"],  # "NA" is Namibia, not missing
                "age": ["30", "", "41"],
                "postcode": ["01234", "75001", "10115"],  # leading zero keeps it text
            }
        ),
        "orders": pd.DataFrame(
            {
                "customer_id": ["c1", "c1", "c2", "c3"],
                "order_date": ["2023-01-01", "2023-05-01", "2023-02-03", "2023-03-01 08:00"],
                "amount": ["10.5", "-3", "20", "7"],  # -3 is a refund; c3 orders on signup day
                "order_id": ["1", "2", "3", "4"],
                "channel": ["web", "app", "store", "web"],
            }
        ),
        "subscriptions": pd.DataFrame(
            {
                "customer_id": ["c1", "c2"],
                "start_date": ["2023-01-01", "2023-02-01"],
                "end_date": ["2023-06-01", ""],  # empty: still active
                "plan": ["basic", "pro"],
                "mrr": ["10", "30"],
            }
        ),
        "onboarding": pd.DataFrame(
            {
                "customer_id": ["c1", "c2"],
                "step": ["account_created", "first_purchase"],
                "completed_at": ["2023-01-01", "2023-02-02"],
            }
        ),
        "support_tickets": pd.DataFrame(
            {
                "customer_id": ["c1", "c2", "c3"],
                "opened_at": ["2023-02-01 10:00", "2023-03-01", "2023-04-01"],
                "resolved_at": ["2023-02-01 12:00", "", "NULL"],
                "channel": ["email", "chat", "phone"],
                "csat": ["5", "", "1"],
                "escalated": ["yes", "0", ""],
            }
        ),
        "interactions": pd.DataFrame(
            {
                "customer_id": ["c1", "c2"],
                "occurred_at": ["2023-01-02", "2023-02-02"],
                "channel": ["email", "push"],
                "kind": ["open", "click"],
            }
        ),
        "nps": pd.DataFrame(
            {
                "customer_id": ["c1", "c2"],
                "responded_at": ["2023-03-01", "2023-03-02"],
                "score": ["9", "0"],
            }
        ),
    }


def with_column(raw: dict[str, pd.DataFrame], table: str, column: str, values: list) -> dict:
    frame = raw[table].copy()
    frame[column] = values
    return {**raw, table: frame}


def with_order_dates(*dates: str) -> dict[str, pd.DataFrame]:
    """``good_raw()`` with the orders' dates replaced, one per order row."""
    raw = good_raw()
    raw["orders"] = raw["orders"].assign(order_date=list(dates))
    return raw


def only(result, check: str, table: str | None = None):
    found = [i for i in result.issues if i.check == check and table in (None, i.table)]
    assert len(found) == 1, [i.message for i in result.issues]
    return found[0]


# -- clean data -------------------------------------------------------------------------------


def test_good_data_passes_with_no_issues():
    result = validate(good_raw(), end_date=END)
    assert result.issues == []
    assert result.ok
    assert result.rejects.empty
    assert list(result.rejects.columns) == [
        "table", "row", "customer_id", "check", "column", "reason",
    ]  # fmt: skip
    assert result.rejected_customers.empty
    tables = result.raise_for_errors()
    assert [name for name, _ in tables.items()] == [
        "customers", "orders", "subscriptions", "onboarding", "support_tickets", "interactions",
        "nps",
    ]  # fmt: skip
    assert result.summary.set_index("table").loc["orders"].tolist() == [4, 4, 0]


def test_good_data_is_typed():
    tables = validate(good_raw(), end_date=END).raise_for_errors()
    customers, orders, tickets = tables.customers, tables.orders, tables.support_tickets
    assert pd.api.types.is_string_dtype(customers["customer_id"])
    assert customers["signup_date"].dtype == "datetime64[ns]"
    assert customers["signup_date"].iloc[2] == pd.Timestamp("2023-03-01 12:00")
    assert customers["age"].dtype == "float64" and np.isnan(customers["age"].iloc[1])
    assert customers["country"].tolist() == ["US", "NA", "FR"]
    assert customers["postcode"].tolist() == ["01234", "75001", "10115"]
    assert pd.isna(customers["acquisition_channel"].iloc[2])
    assert orders["amount"].dtype == "float64" and orders["amount"].tolist() == [10.5, -3, 20, 7]
    assert orders["order_date"].dtype == "datetime64[ns]"
    assert tables.subscriptions["end_date"].isna().tolist() == [False, True]
    assert tables.subscriptions["mrr"].dtype == "float64"
    assert tickets["escalated"].dtype == bool
    assert tickets["escalated"].tolist() == [True, False, False]
    assert tickets["resolved_at"].isna().tolist() == [False, True, True]
    assert tickets["csat"].tolist()[0] == 5.0
    assert tables.nps["score"].tolist() == [9.0, 0.0]


def test_ids_are_normalised_strings():
    raw = good_raw()
    raw["customers"] = raw["customers"].assign(customer_id=[" 1 ", "2.0", "007"])
    raw["orders"] = raw["orders"].assign(customer_id=[1.0, 1.0, 2.0, "007"])
    keep = {"customers", "orders"}
    result = validate({k: v for k, v in raw.items() if k in keep}, end_date=END)
    assert result.issues == []
    assert result.tables.customers["customer_id"].tolist() == ["1", "2", "007"]
    assert result.tables.orders["customer_id"].tolist() == ["1", "1", "2", "007"]


def test_numeric_id_column_from_parquet():
    raw = good_raw()
    raw["customers"] = raw["customers"].assign(customer_id=[1, 2, 3])
    raw["orders"] = raw["orders"].assign(customer_id=np.array([1.0, 1.0, 2.0, 3.0]))
    result = validate({"customers": raw["customers"], "orders": raw["orders"]}, end_date=END)
    assert result.issues == []
    assert result.tables.orders["customer_id"].tolist() == ["1", "1", "2", "3"]


def test_time_zones_are_converted_to_utc_and_dropped():
    raw = with_order_dates(
        "2023-01-01T23:30:00-02:00",  # 2023-01-02 01:30 UTC
        "2023-05-01T10:00:00Z",
        "2023-02-03 10:00:00+02:00",
        "2023-03-01",
    )
    result = validate(raw, end_date=END)
    assert result.issues == []
    assert result.tables.orders["order_date"].dtype == "datetime64[ns]"
    assert result.tables.orders["order_date"].tolist()[:3] == [
        pd.Timestamp("2023-01-02 01:30"), pd.Timestamp("2023-05-01 10:00"),
        pd.Timestamp("2023-02-03 08:00"),
    ]  # fmt: skip


def test_typed_datetime_columns_with_zone_are_converted():
    raw = good_raw()
    zoned = pd.to_datetime(
        ["2023-01-01 01:00", "2023-02-01 00:00", "2023-03-01 00:00"]
    ).tz_localize("Europe/Paris")
    raw["customers"] = raw["customers"].assign(signup_date=zoned)
    result = validate(raw, end_date=END)
    assert result.tables.customers["signup_date"].tolist()[0] == pd.Timestamp("2023-01-01 00:00")
    assert result.tables.customers["signup_date"].dtype == "datetime64[ns]"


def test_mixed_date_formats_are_accepted():
    raw = with_column(
        good_raw(), "orders", "order_date", ["2023-01-01", "25/01/2023", "3 Feb 2023", "20230301"]
    )
    result = validate(raw, end_date=END)
    assert result.issues == []
    assert result.tables.orders["order_date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2023-01-01", "2023-01-25", "2023-02-03", "2023-03-01",
    ]  # fmt: skip


def test_extra_event_columns_are_kept_unchanged():
    raw = with_column(good_raw(), "orders", "coupon", ["A", "", "B", "C"])
    result = validate(raw, end_date=END)
    assert result.issues == []
    assert result.tables.orders["coupon"].tolist()[::2] == ["A", "B"]


def test_input_frames_are_not_modified():
    raw = good_raw()
    before = {k: v.copy() for k, v in raw.items()}
    validate(raw, end_date=END)
    for name, frame in raw.items():
        pd.testing.assert_frame_equal(frame, before[name])


# -- table-level errors -----------------------------------------------------------------------


@pytest.mark.parametrize("table", ["customers", "orders"])
def test_missing_required_table_is_an_error(table):
    raw = good_raw()
    del raw[table]
    result = validate(raw, end_date=END)
    issue = only(result, "missing_table")
    assert (issue.severity, issue.table) == ("error", table)
    assert result.tables is None
    with pytest.raises(ContractError, match=f"{table}: required table is missing") as info:
        result.raise_for_errors()
    assert info.value.table == table


def test_missing_required_column_names_table_column_and_available_columns():
    raw = good_raw()
    raw["orders"] = raw["orders"].drop(columns="amount")
    result = validate(raw, end_date=END)
    issue = only(result, "missing_column")
    assert (issue.severity, issue.table, issue.column) == ("error", "orders", "amount")
    assert "orders.amount: required column is missing" in issue.message
    assert "available columns: customer_id, order_date, order_id, channel" in issue.message
    assert result.tables is None


def test_duplicate_column_is_an_error():
    raw = good_raw()
    orders = raw["orders"]
    raw["orders"] = pd.concat([orders, orders[["amount"]]], axis=1)
    issue = only(validate(raw, end_date=END), "duplicate_column")
    assert (issue.severity, issue.table, issue.column) == ("error", "orders", "amount")


@pytest.mark.parametrize("table", ["customers", "orders"])
def test_empty_required_table_is_an_error(table):
    raw = good_raw()
    raw[table] = raw[table].iloc[0:0]
    result = validate(raw, end_date=END)
    issue = [i for i in result.issues if i.check == "empty_table"][0]
    assert (issue.severity, issue.table) == ("error", table)
    assert result.tables is None


def test_empty_optional_table_is_a_warning_and_absent():
    raw = good_raw()
    raw["nps"] = raw["nps"].iloc[0:0]
    result = validate(raw, end_date=END)
    issue = only(result, "empty_table")
    assert (issue.severity, issue.table) == ("warning", "nps")
    assert result.tables.nps is None


def test_unknown_table_is_a_warning():
    raw = {**good_raw(), "returns": pd.DataFrame({"x": [1]})}
    issue = only(validate(raw, end_date=END), "unknown_table")
    assert (issue.severity, issue.table) == ("warning", "returns")


def test_duplicate_customer_ids_are_an_error_listing_the_ids():
    raw = good_raw()
    raw["customers"] = raw["customers"].assign(customer_id=["c1", "c1", "c3"])
    result = validate(raw, end_date=END)
    issue = only(result, "duplicate_customer_id")
    assert (issue.severity, issue.table, issue.column) == ("error", "customers", "customer_id")
    assert issue.examples == ["c1"]
    assert "'c1'" in issue.message and "2 rows" in issue.message
    with pytest.raises(ContractError) as info:
        result.raise_for_errors()
    assert info.value.rows == ["c1"]


def test_exact_copies_of_a_customer_row_are_set_aside_and_the_customer_kept():
    raw = good_raw()
    customers = raw["customers"]
    raw["customers"] = pd.concat([customers, customers.iloc[[0, 0]]], ignore_index=True)
    result = validate(raw, end_date=END)
    assert not result.errors
    issue = only(result, "duplicate_row")
    assert (issue.severity, issue.table, issue.count) == ("warning", "customers", 2)
    assert issue.examples == [3, 4]
    assert sorted(result.tables.customers["customer_id"]) == ["c1", "c2", "c3"]
    assert (result.rejects["check"] == "duplicate_row").sum() == 2


def test_rows_sharing_an_id_but_differing_stay_an_error_beside_exact_copies():
    raw = good_raw()
    customers = raw["customers"]
    other = customers.iloc[[1]].assign(country="DE")
    raw["customers"] = pd.concat([customers, customers.iloc[[0]], other], ignore_index=True)
    result = validate(raw, end_date=END)
    assert only(result, "duplicate_row").count == 1
    assert only(result, "duplicate_customer_id").examples == ["c2"]


def test_orders_pushed_before_the_signup_by_a_utc_offset_name_the_time_zone():
    raw = with_order_dates(
        "2023-01-01T00:30:00+02:00", "2023-05-01", "2023-02-03", "2023-03-01 08:00"
    )
    issue = only(validate(raw, end_date=END), "before_signup")
    assert issue.count == 1 and "data.timezone" in issue.message
    on_time = validate(raw, end_date=END, dates=DateRules(timezone="Europe/Athens"))
    assert not [i for i in on_time.issues if i.check == "before_signup"]


def test_orders_long_before_the_signup_do_not_blame_the_time_zone():
    raw = with_order_dates(
        "2022-12-01T10:00:00+02:00", "2023-05-01", "2023-02-03", "2023-03-01 08:00"
    )
    issue = only(validate(raw, end_date=END), "before_signup")
    assert "data.timezone" not in issue.message


def test_placeholder_dates_outside_the_years_a_date_holds_are_named():
    raw = with_order_dates("0001-01-01", "2023-05-01", "2999-12-31", "2023-03-01 08:00")
    issue = only(validate(raw, end_date=END), "unparseable_date")
    assert issue.count == 2 and "1678-2261" in issue.message


def test_garbled_dates_are_not_blamed_on_the_year_range():
    raw = with_order_dates("soon", "2023-05-01", "2023-02-03", "2023-03-01 08:00")
    issue = only(validate(raw, end_date=END), "unparseable_date")
    assert "1678-2261" not in issue.message


def test_raise_for_errors_lists_every_error():
    raw = good_raw()
    raw["orders"] = raw["orders"].drop(columns="amount")
    raw["customers"] = raw["customers"].assign(customer_id=["c1", "c1", "c3"])
    result = validate(raw, end_date=END)
    assert [i.severity for i in result.issues][:2] == ["error", "error"]
    with pytest.raises(ContractError) as info:
        result.raise_for_errors()
    message = str(info.value)
    assert "2 data contract errors" in message
    assert "customers.customer_id" in message and "orders.amount" in message
    assert info.value.table == "customers"
    assert len(info.value.issues) == 2


def test_contract_error_survives_pickling():
    error = ContractError("orders.amount: boom", table="orders", column="amount", rows=[1], count=1)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.table, copy.column, copy.rows, copy.count, str(copy)) == (
        "orders", "amount", [1], 1, "orders.amount: boom",
    )  # fmt: skip


# -- row-level warnings -----------------------------------------------------------------------

ROW_CASES = [
    # (table, column, values, check, expected rows set aside)
    (
        "orders",
        "order_date",
        ["2023-01-01", "yesterday", "2023-02-31", "2023-03-01"],
        "unparseable_date",
        [1, 2],
    ),
    ("orders", "amount", ["10", "ten", "1,5", "inf"], "unparseable_number", [1, 2, 3]),
    ("orders", "amount", ["10", "", "NaN", "7"], "missing_value", [1, 2]),
    ("orders", "customer_id", ["c1", "", "NULL", "c3"], "missing_value", [1, 2]),
    ("orders", "customer_id", ["c1", "c9", "c2", "zz"], "unknown_customer", [1, 3]),
    (
        "orders",
        "order_date",
        ["2023-01-01", "2024-07-01", "2024-06-30 23:59", "2030-01-01"],
        "after_end_date",
        [1, 3],
    ),
    (
        "orders",
        "order_date",
        ["2022-12-31 23:00", "2023-05-01", "2023-01-31", "2023-03-01"],
        "before_signup",
        [0, 2],
    ),
    ("orders", "margin", ["1", "x", "", "2"], "unparseable_number", [1]),
    ("subscriptions", "end_date", ["soon", ""], "unparseable_date", [0]),
    ("subscriptions", "end_date", ["2022-12-01", ""], "date_order", [0]),
    ("subscriptions", "seats", ["-1", "3"], "out_of_range", [0]),
    ("support_tickets", "csat", ["6", "0", "3"], "out_of_range", [0, 1]),
    ("support_tickets", "resolved_at", ["2023-02-01 09:00", "", ""], "date_order", [0]),
    ("support_tickets", "escalated", ["maybe", "no", "TRUE"], "unparseable_bool", [0]),
    ("nps", "score", ["11", "-1"], "out_of_range", [0, 1]),
    ("nps", "score", ["9", "great"], "unparseable_number", [1]),
    ("interactions", "kind", ["open", ""], "missing_value", [1]),
    ("onboarding", "completed_at", ["2023-01-01", "n/a"], "missing_value", [1]),
]


@pytest.mark.parametrize(("table", "column", "values", "check", "rows"), ROW_CASES)
def test_row_checks_set_rows_aside_with_a_warning(table, column, values, check, rows):
    raw = with_column(good_raw(), table, column, values)
    result = validate(raw, end_date=END)
    issue = only(result, check)
    assert (issue.severity, issue.table, issue.column, issue.count) == (
        "warning", table, column, len(rows),
    )  # fmt: skip
    assert issue.examples == rows
    noun = "row" if len(rows) == 1 else "rows"
    assert issue.message.startswith(f"{table}.{column}: {len(rows)} {noun} ")
    assert f"{noun} {', '.join(map(str, rows))}" in issue.message
    assert result.ok and result.tables is not None
    assert len(result.tables.get(table)) == len(values) - len(rows)
    rejected = result.rejects[result.rejects["table"] == table]
    assert rejected["row"].tolist() == rows
    assert set(rejected["check"]) == {check}
    assert rejected["reason"].str.len().gt(0).all()


def test_message_quotes_the_offending_values_and_the_format_is_readable():
    raw = with_column(good_raw(), "orders", "order_date", ["2023-01-01", "yesterday", "x", "?"])
    issue = only(validate(raw, end_date=END), "unparseable_date")
    assert issue.message == (
        "orders.order_date: 3 rows have unparseable dates (rows 1, 2, 3: 'yesterday', 'x', '?'); "
        "set aside"
    )


def test_only_five_examples_are_listed():
    n = 12
    raw = good_raw()
    raw["orders"] = pd.DataFrame(
        {
            "customer_id": ["c1"] * n,
            "order_date": ["bad"] * (n - 1) + ["2023-02-01"],
            "amount": ["1"] * n,
        }
    )
    issue = only(validate(raw, end_date=END), "unparseable_date")
    assert issue.count == 11 and issue.examples == [0, 1, 2, 3, 4]
    assert "rows 0, 1, 2, 3, 4, ...:" in issue.message


def test_a_row_is_set_aside_once_under_its_first_failing_check():
    raw = with_column(good_raw(), "orders", "customer_id", ["zz", "c1", "c2", "c3"])
    raw = with_column(
        raw, "orders", "order_date", ["2030-01-01", "2023-05-01", "2023-02-03", "2023-03-01"]
    )
    result = validate(raw, end_date=END)
    assert result.rejects[["row", "check"]].values.tolist() == [[0, "after_end_date"]]
    assert sum(i.count for i in result.warnings) == len(result.rejects)


def test_unparseable_signup_rejects_the_customer_and_sets_their_events_aside():
    raw = with_column(
        good_raw(), "customers", "signup_date", ["2023-01-01", "not a date", "2023-03-01"]
    )
    result = validate(raw, end_date=END)
    issue = only(result, "unparseable_date")
    assert (issue.table, issue.column, issue.examples) == ("customers", "signup_date", ["c2"])
    assert "customers.signup_date: 1 customer has unparseable dates (id 'c2': 'not a date')" in (
        issue.message
    )
    assert result.rejected_customers["customer_id"].tolist() == ["c2"]
    assert "not a readable date" in result.rejected_customers["reason"].iloc[0]
    events = only(result, "rejected_customer", "orders")
    assert events.table == "orders" and events.examples == [2]
    tables = result.raise_for_errors()
    for _, frame in tables.items():
        assert "c2" not in set(frame["customer_id"])
    aside = result.rejects[result.rejects["check"] == "rejected_customer"]
    assert set(aside["table"]) == {
        "orders", "subscriptions", "onboarding", "support_tickets", "interactions", "nps",
    }  # fmt: skip


def test_missing_signup_rejects_the_customer():
    raw = with_column(good_raw(), "customers", "signup_date", ["2023-01-01", "2023-02-01", ""])
    result = validate(raw, end_date=END)
    issue = only(result, "missing_value")
    assert (issue.table, issue.column, issue.examples) == ("customers", "signup_date", ["c3"])
    assert result.rejected_customers["customer_id"].tolist() == ["c3"]


def test_signup_after_end_date_rejects_the_customer():
    raw = with_column(
        good_raw(), "customers", "signup_date", ["2023-01-01", "2023-02-01", "2024-07-01"]
    )
    raw = with_column(
        raw, "orders", "order_date", ["2023-01-01", "2023-05-01", "2023-02-03", "2024-06-01"]
    )
    result = validate(raw, end_date=END)
    issue = only(result, "after_end_date")
    assert (issue.table, issue.column, issue.examples) == ("customers", "signup_date", ["c3"])
    assert "after the data end 2024-06-30" in issue.message
    assert result.rejected_customers["customer_id"].tolist() == ["c3"]
    assert only(result, "rejected_customer", "orders").examples == [3]


def test_end_date_is_inclusive_of_the_whole_day():
    raw = with_column(
        good_raw(),
        "orders",
        "order_date",
        ["2023-01-01", "2024-06-30 23:59:59", "2023-02-03", "2023-03-01"],
    )
    assert validate(raw, end_date=pd.Timestamp("2024-06-30")).issues == []


def test_events_on_the_signup_day_before_the_signup_time_are_kept():
    raw = with_column(
        good_raw(),
        "orders",
        "order_date",
        ["2023-01-01", "2023-05-01", "2023-02-03", "2023-03-01 01:00"],
    )
    assert validate(raw, end_date=END).issues == []


def test_subscription_ending_on_its_start_day_is_kept():
    raw = with_column(good_raw(), "subscriptions", "start_date", ["2023-01-01 15:00", "2023-02-01"])
    raw = with_column(raw, "subscriptions", "end_date", ["2023-01-01", ""])
    assert validate(raw, end_date=END).issues == []


def test_missing_customer_id_in_customers_sets_the_row_aside():
    raw = with_column(good_raw(), "customers", "customer_id", ["c1", "c2", " "])
    result = validate(raw, end_date=END)
    issue = only(result, "missing_value")
    assert (issue.table, issue.column, issue.examples) == ("customers", "customer_id", [2])
    assert only(result, "unknown_customer", "orders").examples == [3]


def test_no_valid_rows_left_in_a_required_table_is_an_error():
    raw = with_column(good_raw(), "orders", "amount", ["x", "y", "z", "w"])
    result = validate(raw, end_date=END)
    issue = only(result, "no_valid_rows")
    assert (issue.severity, issue.table) == ("error", "orders")
    assert result.tables is None


def test_no_valid_rows_error_says_why_the_rows_were_set_aside():
    """The error alone (all ``predictor score`` prints) names the column and the values."""
    raw = with_column(good_raw(), "orders", "order_date", ["1672531200"] * 4)  # epoch seconds
    message = only(validate(raw, end_date=END), "no_valid_rows").message
    assert message.startswith("orders: none of its 4 rows passed the checks: orders.order_date")
    assert "unparseable dates" in message and "'1672531200'" in message


@pytest.mark.parametrize(
    ("customer_ids", "order_ids", "shown"),
    [
        (["00001", "00002", "00003"], ["1", "1", "2", "3"], "('1' here, '00001' in customers)"),
        (["C1", "C2", "C3"], ["c1", "c1", "c2", "c3"], "('c1' here, 'C1' in customers)"),
    ],
)
def test_ids_that_differ_by_case_or_leading_zeros_are_named_as_the_cause(
    customer_ids, order_ids, shown
):
    raw = with_column(good_raw(), "customers", "customer_id", customer_ids)
    raw = with_column(raw, "orders", "customer_id", order_ids)
    result = validate({k: raw[k] for k in ("customers", "orders")}, end_date=END)
    warning = only(result, "unknown_customer", "orders").message
    assert f"they match customers when letter case and leading zeros are ignored {shown}" in (
        warning
    )
    assert "export customer_id as the same text" in only(result, "no_valid_rows").message


def test_unknown_ids_unlike_the_customers_get_no_id_hint():
    raw = with_column(good_raw(), "orders", "customer_id", ["c1", "x9", "c2", "x7"])
    warning = only(validate(raw, end_date=END), "unknown_customer", "orders").message
    assert "x9" in warning and "letter case" not in warning


def test_unknown_ids_say_how_many_customers_go_unscored():
    """Rows were counted, not customers: 1015 order rows of 50 customers missing from the
    customers export read like noise; they are 50 customers with no score and no reject."""
    raw = with_column(good_raw(), "orders", "customer_id", ["x9", "x9", "c2", "x7"])
    warning = only(validate(raw, end_date=END), "unknown_customer", "orders").message
    assert "3 rows belong to customers not in customers" in warning
    assert warning.endswith("; 2 customer id(s) absent from customers, so not scored; set aside")


def test_odd_python_objects_never_raise():
    raw = good_raw()
    raw["orders"] = pd.DataFrame(
        {
            "customer_id": ["c1", 2, None, 3.5],
            "order_date": [pd.Timestamp("2023-02-01"), "2023-02-02", 20230203, None],
            "amount": [1, "2", None, object()],
        }
    )
    result = validate(raw, end_date=END)
    assert result.ok
    assert sorted(result.rejects["check"]) == [
        "missing_value",
        "unknown_customer",
        "unparseable_number",
    ]


def test_end_date_with_time_zone_is_accepted():
    result = validate(good_raw(), end_date=pd.Timestamp("2024-06-30", tz="UTC"))
    assert result.issues == []


def test_dates_outside_the_supported_range_are_unparseable_not_a_crash():
    raw = with_column(
        good_raw(), "orders", "order_date", ["2023-01-01", "3000-01-01", "01/01/3000", "0001-01-01"]
    )
    issue = only(validate(raw, end_date=END), "unparseable_date")
    assert issue.examples == [1, 2, 3]


def test_many_distinct_garbage_dates_are_rejected_quickly():
    n = 5000
    raw = good_raw()
    raw["orders"] = pd.DataFrame(
        {
            "customer_id": ["c1"] * n,
            "order_date": ["2023-02-01"] + [f"junk{i}" for i in range(n - 1)],
            "amount": ["1"] * n,
        }
    )
    issue = only(validate(raw, end_date=END), "unparseable_date")
    assert issue.count == n - 1


@pytest.mark.parametrize(
    "spelled",
    [
        ["\u00a0c1", "c1\u3000", "\tc2", "c3\x1f"],  # Unicode and control whitespace
        ["c1 ", " c1", "c2\n", "c3"],
        ["c1", "c1", "c2", "c3"],  # nothing to strip
    ],
)
def test_event_ids_are_stripped_like_the_customer_ids(spelled):
    raw = with_column(good_raw(), "orders", "customer_id", spelled)
    typed = validate({k: raw[k] for k in ("customers", "orders")}, end_date=END)
    assert typed.issues == []
    expected = pd.Series(spelled, dtype="str").str.strip().tolist()
    assert typed.tables.orders["customer_id"].tolist() == expected == ["c1", "c1", "c2", "c3"]


def test_ids_in_sliced_and_chunked_arrow_columns_are_stripped():
    import pyarrow as pa

    whole = pa.array(["x", " c1", "c1", "c2 ", "c3", "y"])
    chunked = pa.chunked_array([whole.slice(1, 2), whole.slice(3, 2)])  # offsets into buffers
    orders = good_raw()["orders"].assign(customer_id=pd.Series(pd.arrays.ArrowStringArray(chunked)))
    typed = validate({"customers": good_raw()["customers"], "orders": orders}, end_date=END)
    assert typed.issues == []
    assert typed.tables.orders["customer_id"].tolist() == ["c1", "c1", "c2", "c3"]


def test_an_end_date_of_9999_means_not_ended_yet():
    """Warehouses write 9999-12-31 for "no end": read as empty, not set aside as unreadable."""
    raw = with_column(good_raw(), "subscriptions", "end_date", ["9999-12-31", "2023-06-01"])
    raw = with_column(raw, "support_tickets", "resolved_at", ["9999-12-31 00:00:00", "", ""])
    result = validate(raw, end_date=END)
    assert not [i for i in result.issues if i.check == "unparseable_date"]
    assert result.tables.subscriptions["end_date"].isna().tolist() == [True, False]
    assert result.tables.support_tickets["resolved_at"].isna().all()


def test_a_typed_end_date_of_9999_means_not_ended_yet():
    """The same from Parquet, where the date arrives typed (``date32`` as seconds)."""
    ends = pd.Series(np.array(["9999-12-31", "2023-06-01"], dtype="datetime64[s]"))
    raw = with_column(good_raw(), "subscriptions", "end_date", ends)
    result = validate(raw, end_date=END)
    assert not [i for i in result.issues if i.check == "unparseable_date"]
    assert result.tables.subscriptions["end_date"].isna().tolist() == [True, False]


def test_a_start_or_event_date_of_9999_is_still_unparseable():
    raw = with_column(good_raw(), "subscriptions", "start_date", ["9999-12-31", "2023-02-01"])
    issue = only(validate(raw, end_date=END), "unparseable_date")
    assert (issue.table, issue.column, issue.examples) == ("subscriptions", "start_date", [0])


@pytest.mark.parametrize(
    ("amounts", "named"),
    [
        (["12,50", "3,1", "7,00", "1,99"], "a decimal comma"),
        (["1,234.50", "2,000", "7", "1,000,000"], "thousands separators"),
        (["$12.00", "9.99 EUR", "€3", "7"], "a currency"),
    ],
)
def test_numbers_formatted_by_a_spreadsheet_are_named_as_the_cause(amounts, named):
    message = only(validate(with_column(good_raw(), "orders", "amount", amounts), end_date=END),
                   "unparseable_number").message  # fmt: skip
    assert f"they look like numbers written with {named} (" in message
    assert message.endswith(": export plain numbers (1234.5); set aside")


def test_numbers_that_are_plain_garbage_get_no_format_hint():
    raw = with_column(good_raw(), "orders", "amount", ["1", "n/a?", "-", "2"])
    assert (
        "look like numbers" not in only(validate(raw, end_date=END), "unparseable_number").message
    )


@pytest.mark.parametrize(
    ("dates", "named"),
    [
        (
            ["44927", "44958", "44986.5", "45000"],
            "spreadsheet day numbers (Excel serial dates): '44927' would be 2023-01-01 00:00",
        ),
        (
            ["1672617600", "1675209600", "1677628800", "1680307200"],
            "Unix times in seconds: '1672617600' would be 2023-01-02 00:00",
        ),
        (
            [1672617600000, 1675209600000, 1677628800000, 1680307200000],
            "Unix times in milliseconds: '1672617600000'",
        ),
    ],
)
def test_numbers_written_for_dates_are_named_as_the_cause(dates, named):
    """Excel serials and Unix times were 'unparseable dates' with no clue why."""
    message = only(validate(with_order_dates(*dates), end_date=END), "unparseable_date").message
    assert f"they look like {named}" in message, message
    assert message.endswith(
        "export the column as dates (2024-06-30 or 2024-06-30 14:05:00); set aside"
    )


def test_dates_that_are_plain_garbage_get_no_number_hint():
    message = only(
        validate(with_order_dates("abc", "12", "2023-02-01", "x"), end_date=END), "unparseable_date"
    ).message
    assert "look like" not in message


def _customers_with(column: str, values: list[str]) -> dict[str, pd.DataFrame]:
    n = len(values)
    customers = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "signup_date": ["2023-01-01"] * n,
            column: values,
        }
    )
    orders = pd.DataFrame({"customer_id": ["c0"], "order_date": ["2023-01-02"], "amount": ["5"]})
    return {"customers": customers, "orders": orders}


def test_a_column_of_numbers_with_a_few_odd_values_stays_numbers():
    """One ``1,019.50`` among 39 plain charges turned the column to text (its numbers then
    capped categories: every customer's scores moved); now those values are read as
    missing and named, and no customer is set aside."""
    charges = [f"{20 + i}.5" for i in range(39)] + ["1,019.50"]
    result = validate(_customers_with("monthly_charge", charges), end_date=END)
    typed = result.tables.customers["monthly_charge"]
    assert typed.dtype == "float64" and typed.iloc[0] == 20.5 and pd.isna(typed.iloc[39])
    issue = only(result, "unparseable_number", "customers")
    assert (issue.severity, issue.count, issue.examples) == ("warning", 0, [39])
    assert (
        "customers.monthly_charge: 1 value of a column of numbers is not a number" in issue.message
    )
    assert "thousands separators" in issue.message and issue.message.endswith("read as missing")
    assert len(result.tables.customers) == 40 and result.rejects.empty


def test_a_column_of_words_with_some_numbers_stays_text():
    plans = ["basic", "pro"] * 15 + ["1", "2", "3"] * 3
    result = validate(_customers_with("plan", plans), end_date=END)
    assert result.tables.customers["plan"].tolist() == plans
    assert not [i for i in result.issues if i.check == "unparseable_number"]


@pytest.mark.parametrize("kind", ["string", "large_string"])
def test_ids_written_with_a_decimal_zero_in_sliced_arrow_columns_lose_it(kind):
    import pyarrow as pa

    whole = pa.array(["7.0", "c1", "c1", "c2", "8.00", "c3", "9.0"], getattr(pa, kind)())
    customers = good_raw()["customers"].assign(customer_id=["c1", "c2", "8"])
    outside = pa.chunked_array([whole.slice(1, 3)])  # the buffer's dots lie outside the slice
    inside = pa.chunked_array([whole.slice(1, 2), whole.slice(4, 1)])
    for ids, expected in ((outside, ["c1", "c1", "c2"]), (inside, ["c1", "c1", "8"])):
        orders = (
            good_raw()["orders"]
            .iloc[:3]
            .assign(customer_id=pd.arrays.ArrowStringArray(ids), order_date="2023-06-01")
        )
        typed = validate({"customers": customers, "orders": orders}, end_date=END)
        assert typed.issues == []
        assert typed.tables.orders["customer_id"].tolist() == expected


@pytest.mark.parametrize("large", [False, True])
def test_the_byte_scan_finds_a_character_as_the_arrow_kernel_does(large):
    import pyarrow as pa
    import pyarrow.compute as pc

    from predictor.contract.validate import _any_contains

    kind = pa.large_string() if large else pa.string()
    whole = pa.array(["a.b", "ab", "", "é.", "cd", "x."], kind)
    cases = [
        pa.chunked_array([whole]),
        pa.chunked_array([whole.slice(1, 2), whole.slice(4, 1)]),  # no dot inside the slices
        pa.chunked_array([whole.slice(1, 1), whole.slice(3, 1)]),
        pa.chunked_array([pa.array(["ab", None, "c.d"], kind)]),  # missing values: the kernel
        pa.chunked_array([pa.array([], kind)], type=kind),
    ]
    for data in cases:
        text = pd.Series(pd.arrays.ArrowStringArray(data))
        expected = bool(pc.any(pc.match_substring(data, ".")).as_py())
        assert _any_contains(text, ".") is expected, data


@pytest.mark.parametrize(
    "values",
    [
        ["C0000001", "C0000002"],  # only plain ASCII bytes: decided by the smallest and largest
        ["a b", "c\td"],  # whitespace inside values only
        ["café", "naïve"],  # non-ASCII inside
        ["x", "", "y"],
        ["x", None, "y"],
        [" x", "y"],
        ["x", "y\u00a0"],
        ["\x01x", "y\x7f"],  # control bytes that strip keeps
    ],
)
def test_strip_is_skipped_only_when_no_value_would_change(values):
    import pyarrow as pa

    from predictor.contract.validate import _may_need_strip

    whole = pa.array([" pad ", *values, " pad "])
    text = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([whole.slice(1, len(values))])))
    changes = bool((text.str.strip() != text).fillna(False).any())
    assert _may_need_strip(text) or not changes
    if all(v is None or v.isascii() and v == v.strip() for v in values):
        assert not _may_need_strip(text)


@pytest.mark.parametrize(
    "values",
    [["C0000001", "na", "", "NULL", "x"], ["é", "ab", "abcdé"], ["a", None, "none"], []],
)
def test_short_values_are_found_as_arrow_counts_characters(values):
    import pyarrow as pa
    import pyarrow.compute as pc

    from predictor.contract.validate import _char_lengths_at_most

    whole = pa.array(["long padding", *values, "x"], pa.string())
    data = pa.chunked_array([whole.slice(1, len(values)), whole.slice(0, 1)])
    text = pd.Series(pd.arrays.ArrowStringArray(data))
    for limit in (0, 2, 4):
        expected = pc.less_equal(pc.utf8_length(data), limit).fill_null(False)
        got = _char_lengths_at_most(text, limit)
        assert got.dtype == bool
        np.testing.assert_array_equal(got, expected.to_numpy(zero_copy_only=False))

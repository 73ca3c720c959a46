"""The data contract in code: one ``TableSpec`` per input table.

Column names are the contract's defaults; a config may map a user's names onto them
(``data.columns``). See ``docs/contract.md`` for the user-facing description.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TableSpec:
    """What one table must and may hold, and how its columns are typed."""

    name: str
    required: bool
    required_columns: tuple[str, ...]
    optional_columns: tuple[str, ...] = ()
    date_columns: tuple[str, ...] = ()
    numeric_columns: tuple[str, ...] = ()
    bool_columns: tuple[str, ...] = ()
    event_date: str | None = None
    """The column that places a row in time (features use rows with this date <= cutoff)."""

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column the contract names for this table."""
        return self.required_columns + self.optional_columns


SPECS: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        TableSpec(
            "customers",
            required=True,
            required_columns=("customer_id", "signup_date"),
            optional_columns=("acquisition_channel",),
            date_columns=("signup_date",),
            event_date="signup_date",
        ),
        TableSpec(
            "orders",
            required=True,
            required_columns=("customer_id", "order_date", "amount"),
            optional_columns=("order_id", "margin", "channel", "items", "product_line"),
            date_columns=("order_date",),
            numeric_columns=("amount", "margin", "items"),
            event_date="order_date",
        ),
        TableSpec(
            "subscriptions",
            required=False,
            required_columns=("customer_id", "start_date"),
            optional_columns=("end_date", "plan", "mrr", "seats"),
            date_columns=("start_date", "end_date"),
            numeric_columns=("mrr", "seats"),
            event_date="start_date",
        ),
        TableSpec(
            "onboarding",
            required=False,
            required_columns=("customer_id", "step", "completed_at"),
            date_columns=("completed_at",),
            event_date="completed_at",
        ),
        TableSpec(
            "support_tickets",
            required=False,
            required_columns=("customer_id", "opened_at"),
            optional_columns=("resolved_at", "channel", "csat", "category", "escalated"),
            date_columns=("opened_at", "resolved_at"),
            numeric_columns=("csat",),
            bool_columns=("escalated",),
            event_date="opened_at",
        ),
        TableSpec(
            "interactions",
            required=False,
            required_columns=("customer_id", "occurred_at", "channel", "kind"),
            date_columns=("occurred_at",),
            event_date="occurred_at",
        ),
        TableSpec(
            "nps",
            required=False,
            required_columns=("customer_id", "responded_at", "score"),
            date_columns=("responded_at",),
            numeric_columns=("score",),
            event_date="responded_at",
        ),
    )
}

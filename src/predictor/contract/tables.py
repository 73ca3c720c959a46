"""The set of input tables a user hands in, after column mapping and validation."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields, replace

import pandas as pd

TABLE_NAMES: tuple[str, ...] = (
    "customers",
    "orders",
    "subscriptions",
    "onboarding",
    "support_tickets",
    "interactions",
    "nps",
)


@dataclass(frozen=True)
class Tables:
    """One DataFrame per contract table; optional tables absent from the input are ``None``.

    Column names are the contract's canonical names (see ``predictor.contract.schema``).
    Ids are strings and dates are ``datetime64[ns]``, tz-naive wall time in the business's time
    zone (``data.timezone``; zoned input times are converted to it).
    """

    customers: pd.DataFrame
    orders: pd.DataFrame
    subscriptions: pd.DataFrame | None = None
    onboarding: pd.DataFrame | None = None
    support_tickets: pd.DataFrame | None = None
    interactions: pd.DataFrame | None = None
    nps: pd.DataFrame | None = None

    def items(self) -> Iterator[tuple[str, pd.DataFrame]]:
        """Yield ``(name, frame)`` for every table that is present."""
        for f in fields(self):
            frame = getattr(self, f.name)
            if frame is not None:
                yield f.name, frame

    def get(self, name: str) -> pd.DataFrame | None:
        """Return the table called ``name``, or ``None`` when it is absent."""
        return getattr(self, name)

    def replace(self, **frames: pd.DataFrame | None) -> Tables:
        """Return a copy with some tables swapped."""
        return replace(self, **frames)

    def subset(self, customer_ids: pd.Index | list[str]) -> Tables:
        """Return the tables restricted to the given customers (all their rows, every table)."""
        ids = pd.Index(customer_ids)
        return Tables(
            **{
                name: frame[frame["customer_id"].isin(ids)].reset_index(drop=True)
                for name, frame in self.items()
            }
        )

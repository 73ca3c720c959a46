"""The set of input tables a user hands in, after column mapping and validation."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields, replace

import numpy as np
import pandas as pd

from predictor.keys import contains, positions

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

    def partition(self, groups: list[pd.Index]) -> Iterator[Tables]:
        """``self.subset(g)`` for each of ``groups`` in turn, from one pass over each table.

        Each table's rows are ordered by group once (stably, so every part keeps its rows in
        input order) instead of scanning every table once per group; parts are made one at a
        time, so memory holds one part beside the tables. Rows are matched to groups with an
        Arrow hash join (``keys.positions``): ``Index.get_indexer`` on text ids took most of
        the time of file-to-file scoring (issue 19).
        """
        ids = pd.Index(
            np.concatenate([np.asarray(g, dtype=object) for g in groups]) if groups else []
        )
        if not ids.is_unique:
            yield from (self.subset(g) for g in groups)
            return
        group_of = np.repeat(np.arange(len(groups)), [len(g) for g in groups])
        ranges = {}
        for name, frame in self.items():
            found = positions(ids, frame["customer_id"]) if len(ids) else np.full(len(frame), -1)
            group = np.where(found >= 0, group_of[np.maximum(found, 0)], -1)
            order = np.argsort(group, kind="stable")
            ranges[name] = (order, np.searchsorted(group[order], np.arange(len(groups) + 1)))
        for k in range(len(groups)):
            yield Tables(
                **{
                    name: self.get(name)
                    .take(order[bounds[k] : bounds[k + 1]])
                    .reset_index(drop=True)
                    for name, (order, bounds) in ranges.items()
                }
            )

    def subset(self, customer_ids: pd.Index | list[str]) -> Tables:
        """Return the tables restricted to the given customers (all their rows, every table).

        Rows are matched with ``keys.contains`` (an Arrow hash join; a row without an id
        matches nothing): pandas' ``isin`` of Arrow text made a Python scalar per wanted id,
        a quarter of the sampled training read at 1,000,000 customers (issue 19).
        """
        ids = pd.Index(customer_ids)
        return Tables(
            **{
                name: frame[contains(ids, frame["customer_id"])].reset_index(drop=True)
                for name, frame in self.items()
            }
        )

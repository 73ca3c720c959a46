"""Extend a value learned over a short horizon to the full horizon (the short-history fallback).

A young business may hold less history than the value horizon: no complete 13-month label
window exists, so nothing can learn 13-month value directly. ``predictor`` then learns value
over the longest horizon the data does support and stretches it with the BG/NBD time profile:

    value(long) = value(short) x E[purchases in long] / E[purchases in short]

where the expectations are BG/NBD conditional expectations for the customer's own history
``(x, t_x, T)`` (the ``bgnbd__`` features) and the parameters fitted on the training data. The
ratio keeps the model's ranking and level, and lets the probabilistic model say how purchases
thin out over time (customers who look dead get a smaller extension than steady buyers).
Customers without a purchase yet, and frames without ``bgnbd__`` columns (the Day One view),
use the profile of a newly acquired customer. Spend per purchase is assumed stable over time
(the Gamma-Gamma assumption), so it cancels out of the ratio.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from predictor.modeling.probabilistic import FEATURE_PREFIX as PREFIX
from predictor.modeling.probabilistic import bgnbd_from_params
from predictor.timeline import DAYS_PER_MONTH, WEEK_DAYS

STATS = (PREFIX + "frequency", PREFIX + "recency_weeks", PREFIX + "age_weeks")


def months_to_weeks(months: float) -> float:
    """Average length of ``months`` calendar months, in weeks."""
    return months * DAYS_PER_MONTH / WEEK_DAYS


@dataclass(frozen=True)
class HorizonExtension:
    """Multiply short-horizon values by the BG/NBD ratio of long- to short-horizon purchases."""

    params: dict[str, float]
    short_months: int
    long_months: int

    def factor(self, X: pd.DataFrame) -> np.ndarray:
        """Per-row multiplier (>= 1): expected purchases over the long vs the short horizon."""
        model = bgnbd_from_params(self.params)
        short, long = months_to_weeks(self.short_months), months_to_weeks(self.long_months)
        with np.errstate(all="ignore"):
            new = model.expected_purchases_new_customer(long) / (
                model.expected_purchases_new_customer(short)
            )
        if not np.isfinite(new):
            # the closed form overflows at degenerate fits (r, alpha -> inf, a -> 0: a fixed
            # purchase rate and no dropout), whose limit is purchases growing with time
            new = long / short
        out = np.full(len(X), new)
        if not all(c in X.columns for c in STATS):
            return out
        stats = X.loc[:, list(STATS)].to_numpy(dtype=float)
        known = ~np.isnan(stats).any(axis=1)
        if known.any():
            x, t_x, age = stats[known].T
            with np.errstate(all="ignore"):
                ratio = model.expected_purchases(long, x, t_x, age) / model.expected_purchases(
                    short, x, t_x, age
                )
            out[known] = np.where(np.isfinite(ratio), ratio, new)
        return np.maximum(out, 1.0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state."""
        return asdict(self)

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> HorizonExtension:
        """Rebuild from ``to_dict``."""
        return cls(dict(state["params"]), int(state["short_months"]), int(state["long_months"]))

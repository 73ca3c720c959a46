"""Value segments and churn risk bands: thresholds learned at training, applied at scoring."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

VALUE_SEGMENTS = ("below_average", "average", "above_average")
RISK_BANDS = ("low", "medium", "high")
INACTIVE_BAND = "inactive"


@dataclass(frozen=True)
class Segmenter:
    """Cut points of the value segments (currency) and risk bands (probability)."""

    value_cuts: tuple[float, float]
    risk_cuts: tuple[float, float]

    @classmethod
    def fit(
        cls,
        predicted_value: np.ndarray,
        quantiles: tuple[float, float],
        risk_cuts: tuple[float, float],
    ) -> Segmenter:
        """Learn value cut points as quantiles of the training predictions."""
        lo, hi = np.quantile(np.asarray(predicted_value, dtype=float), quantiles)
        return cls(value_cuts=(float(lo), float(hi)), risk_cuts=tuple(map(float, risk_cuts)))

    def value_segment(self, value: pd.Series) -> pd.Series:
        """below_average / average / above_average per customer."""
        return _cut(value, self.value_cuts, VALUE_SEGMENTS)

    def risk_band(self, risk: pd.Series, active: pd.Series | None = None) -> pd.Series:
        """Low / medium / high per customer; ``inactive`` where the customer is already gone."""
        bands = _cut(risk, self.risk_cuts, RISK_BANDS).astype(object)
        if active is not None:
            bands[~active.reindex(bands.index, fill_value=False).to_numpy(bool)] = INACTIVE_BAND
        return bands.astype(str)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state."""
        return asdict(self)

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> Segmenter:
        """Rebuild from ``to_dict`` output."""
        return cls(tuple(state["value_cuts"]), tuple(state["risk_cuts"]))


def _cut(values: pd.Series, cuts: tuple[float, float], labels: tuple[str, ...]) -> pd.Series:
    """Label values below cuts[0], between, and at or above cuts[1]."""
    arr = values.to_numpy(dtype=float)
    idx = np.searchsorted(np.asarray(cuts), arr, side="right")
    return pd.Series(np.asarray(labels, dtype=object)[idx], index=values.index).astype(str)

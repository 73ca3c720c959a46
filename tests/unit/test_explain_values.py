"""`predictor explain` shows each driver's value as a person reads it, not as a raw float."""

from __future__ import annotations

import pandas as pd
import pytest

from predictor.explain import CustomerExplanation, ScoreExplanation, explanation_lines


def lines_for(value: object) -> list[str]:
    """The explanation lines of one value score with a single driver of the given value."""
    contributions = pd.DataFrame(
        {
            "feature": ["f"],
            "description": ["The feature."],
            "value": pd.Series([value], dtype=object),
            "contribution": [2.0],
        }
    )
    scores = pd.Series({"value_13m": 12.0, "value_segment": "average"})
    explained = CustomerExplanation(
        "C1", scores, [ScoreExplanation("value_13m", 12.0, 10.0, contributions)]
    )
    return explanation_lines(explained, pd.Timestamp("2025-06-30"), 1, "EUR")


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (1242.1399999999999, "1,242"),
        (4.302638620733466e-06, "0.000004303"),
        (35.03301886792453, "35.03"),
        (1243.0, "1,243"),
        (999.96, "1,000"),
        (49.0, "49"),
        (pd.Timestamp("2024-03-01"), "2024-03-01"),
    ],
)
def test_driver_values_are_readable(value, shown):
    assert "  +2.00  The feature (here: " + shown + ")" in lines_for(value)

"""One customer's scores and every feature's contribution to them.

XGBoost's TreeSHAP contributions are additive: for each score, the base (the model's output with
every contribution at zero) plus the sum of all feature contributions is the prediction. The
value models give contributions in currency, the churn model in probability (see
``ValueModel.contributions`` and ``ChurnModel.contributions``), so a marketer can read "recent
spend adds 120 to the predicted value" directly. Pure: no file I/O.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from predictor.contract.tables import Tables
from predictor.errors import PredictorError
from predictor.features.descriptions import describe
from predictor.model_types import TrainedModel
from predictor.scoring import ACTIVE_COLUMN, DAY_ONE_PREFIX, predict_frame, scoring_frame
from predictor.timeline import day_end

SCORE_LABELS: dict[str, str] = {
    "value_13m": "13-month value",
    "churn_risk": "Churn risk",
    "day_one_value": "Day One value",
}
"""Score column -> plain name."""


class UnknownCustomerError(PredictorError, LookupError):
    """The customer is not in the data, or had not signed up by the as-of date."""


@dataclass(frozen=True)
class ScoreExplanation:
    """One score of one customer: its base, the contribution of every feature, the prediction.

    ``contributions`` has one row per feature (largest effect first) with columns ``feature``,
    ``description``, ``value`` (the feature's value for the customer) and ``contribution``
    (in the score's unit). ``note`` explains a score set by rule rather than by the model.
    """

    score: str
    prediction: float
    base: float
    contributions: pd.DataFrame
    note: str = ""

    @property
    def label(self) -> str:
        """Plain name of the score."""
        return SCORE_LABELS.get(self.score, self.score)

    @property
    def total(self) -> float:
        """Base plus every contribution: ``prediction`` up to XGBoost's float32 precision."""
        return float(self.base + self.contributions["contribution"].sum())


@dataclass(frozen=True)
class CustomerExplanation:
    """The score row of one customer and the explanation of each of its three scores."""

    customer_id: str
    scores: pd.Series
    explanations: list[ScoreExplanation]


def _frame(contribs: pd.DataFrame, values: pd.DataFrame) -> pd.DataFrame:
    row = contribs.iloc[0]
    order = np.argsort(-np.abs(row.to_numpy()), kind="stable")
    names = row.index[order]
    return pd.DataFrame(
        {
            "feature": names,
            "description": [describe(n) for n in names],
            "value": [values.iloc[0].get(n) for n in names],
            "contribution": row.to_numpy()[order],
        }
    )


def _explain(
    score: str,
    prediction: float,
    parts: tuple[pd.DataFrame, np.ndarray],
    values: pd.DataFrame,
) -> ScoreExplanation:
    contribs, base = parts
    return ScoreExplanation(score, float(prediction), float(base[0]), _frame(contribs, values))


def explain_customer(
    model: TrainedModel, tables: Tables, customer_id: str, as_of: pd.Timestamp
) -> CustomerExplanation:
    """Scores of one customer as of a date, each split into a base and feature contributions.

    Uses the same scoring frame and model outputs as ``scoring.score``, so the predictions here
    are the customer's scores. A customer already gone at ``as_of`` (outside the churn
    population) has churn risk 1 by rule: that explanation has no contributions and says so.
    Raises ``UnknownCustomerError`` when the customer is not in ``tables`` or signed up later.
    """
    as_of = pd.Timestamp(as_of).normalize()
    own = tables.subset([str(customer_id)])
    if own.customers.empty:
        raise UnknownCustomerError(f"customer {customer_id!r} is not in the customers table")
    if (own.customers["signup_date"] > day_end(as_of)).all():
        raise UnknownCustomerError(
            f"customer {customer_id!r} signed up after the as-of date {as_of.date()}"
        )
    frame = scoring_frame(own, as_of, model)
    row = predict_frame(model, frame, as_of).iloc[0]
    day_one_cols = [c for c in frame.columns if c.startswith(DAY_ONE_PREFIX)]
    day_one = frame[day_one_cols].rename(columns=lambda c: c[len(DAY_ONE_PREFIX) :])
    current = frame.drop(columns=[*day_one_cols, ACTIVE_COLUMN])
    explanations = []
    if model.value is not None:
        value = model.value.contributions(current)
        explanations.append(_explain("value_13m", row["value_13m"], value, current))
    if model.churn is not None:
        active = bool(frame[ACTIVE_COLUMN].iloc[0])
        explanations.append(_churn(model, current, active, row["churn_risk"]))
    if model.day_one is not None:
        day = model.day_one.contributions(day_one)
        explanations.append(_explain("day_one_value", row["day_one_value"], day, day_one))
    return CustomerExplanation(str(customer_id), row, explanations)


def _churn(
    model: TrainedModel, current: pd.DataFrame, active: bool, prediction: float
) -> ScoreExplanation:
    if active:
        return _explain("churn_risk", prediction, model.churn.contributions(current), current)
    empty = pd.DataFrame(columns=["feature", "description", "value", "contribution"])
    note = (
        "Already gone at the as-of date (not in the churn population), so churn risk is 1 "
        "by rule, not by the model."
    )
    return ScoreExplanation("churn_risk", float(prediction), float(prediction), empty, note)


NOT_TRAINED = "not trained (the model was trained without this target)"
"""What the headline says for a score of a target the model does not have."""


def _headline(explained: CustomerExplanation) -> list[str]:
    """One line per score; a target the model was trained without says so, not ``nan``."""
    row = explained.scores
    trained = {exp.score for exp in explained.explanations}
    texts = {
        "value_13m": lambda: f"{row['value_13m']:,.2f}   ({row['value_segment']})",
        "churn_risk": lambda: f"{100 * row['churn_risk']:.2f}%   ({row['risk_band']})",
        "day_one_value": lambda: f"{row['day_one_value']:,.2f}",
    }
    return [
        f"  {SCORE_LABELS[score]:<17}{text() if score in trained else NOT_TRAINED}"
        for score, text in texts.items()
    ]


def explanation_lines(
    explained: CustomerExplanation, as_of: pd.Timestamp, k: int, currency: str
) -> list[str]:
    """Plain-text lines: the headline scores, then one block per score (base, drivers, total)."""
    lines = [f"Customer {explained.customer_id} as of {as_of.date()}", *_headline(explained)]
    units = {"value_13m": currency, "day_one_value": currency, "churn_risk": "points"}
    for exp in explained.explanations:
        scale = 100.0 if exp.score == "churn_risk" else 1.0
        lines += ["", f"{exp.label} ({units[exp.score]}; contributions add up to the score)"]
        if exp.note:
            lines += [f"  {exp.note}", f"  = {scale * exp.prediction:,.2f}  the score"]
            continue
        top = exp.contributions.head(k)
        rest = exp.contributions["contribution"].iloc[k:].sum()
        lines.append(f"  {scale * exp.base:,.2f}  starting point (the average customer)")
        for _, c in top.iterrows():
            lines.append(
                f"  {scale * c['contribution']:+,.2f}  {c['description'].rstrip('.')} "
                f"(here: {feature_value_text(c['value'])})"
            )
        lines.append(f"  {scale * rest:+,.2f}  all other signals together")
        lines.append(f"  = {scale * exp.prediction:,.2f}  the score")
    return lines


SIGNIFICANT_DIGITS = 4
"""Significant digits of a feature value below 1,000 in an explanation (larger: whole units)."""


def feature_value_text(value: object) -> str:
    """A feature's value as a marketer reads it: ``1,242``, ``35.03``, ``0.0000043``, a date.

    Raw floats (``1242.1399999999999``, ``4.302638620733466e-06``) are noise to a reader:
    numbers from 1,000 up are rounded to whole units with thousands separators, smaller ones
    keep ``SIGNIFICANT_DIGITS`` significant digits without an exponent; whole numbers drop
    their ``.0``; times at midnight show as dates; a missing value says so.
    """
    if value is None or (not isinstance(value, str) and bool(np.all(pd.isna(value)))):
        return "missing"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, dt.date | np.datetime64):
        return _time_text(pd.Timestamp(value))
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        return _number_text(float(value))
    return str(value)


def _number_text(number: float) -> str:
    """A float in ``SIGNIFICANT_DIGITS`` significant digits, whole from 1,000 up.

    Thousands separators on large numbers; no exponent down to 0.000001.
    """
    if not np.isfinite(number):
        return str(number)
    rounded = float(f"{number:.{SIGNIFICANT_DIGITS}g}")
    if abs(rounded) >= 1000 or rounded == round(rounded):
        return f"{round(number):,}"
    if abs(rounded) < 1e-6:
        return f"{rounded:g}"  # 1e-20, not twenty zeros
    return np.format_float_positional(rounded, trim="-")


def _time_text(stamp: pd.Timestamp) -> str:
    """``YYYY-MM-DD`` for a day (midnight), else the time to the minute."""
    if stamp == stamp.normalize():
        return str(stamp.date())
    return stamp.strftime("%Y-%m-%d %H:%M")

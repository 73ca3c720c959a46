"""Summaries the report is drawn from: pure frames and numbers, no HTML.

Per-customer purchase levers, segment and action tables, value at risk, feature-family shares,
top features and the plain-words drivers text.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from predictor.config import ValueConfig
from predictor.features.descriptions import describe
from predictor.labels import order_value
from predictor.segments import (
    INACTIVE_BAND,
    LAPSED_SEGMENT,
    NEGATIVE_SEGMENT,
    RISK_BANDS,
    SEGMENTS,
    VALUE_SEGMENTS,
    assign_levers,
)
from predictor.timeline import day_end, is_purchase

FAMILY_NAMES: dict[str, str] = {
    "customer": "Customer attributes",
    "orders": "Orders",
    "subscriptions": "Subscriptions",
    "onboarding": "Onboarding",
    "support": "Support",
    "channels": "Channels & engagement",
    "nps": "NPS",
    "activity": "Last activity (purchase or engagement)",
    "bgnbd": "Purchase rhythm (BG/NBD)",
}
"""Feature prefix -> signal family as marketers call it."""


SEGMENT_ORDER = SEGMENTS


LEVER_WINDOW_DAYS = 365


def customer_levers(orders: pd.DataFrame, as_of: pd.Timestamp, value: ValueConfig) -> pd.DataFrame:
    """Per customer, purchases, net spend and margin over the 365 days up to ``as_of`` (inclusive).

    These are the purchase levers of CLV (order value, frequency, margin); margin uses the order
    margins where given and the configured margin rate elsewhere, as the value labels do.
    """
    end = day_end(pd.Timestamp(as_of))
    start = end - pd.Timedelta(days=LEVER_WINDOW_DAYS)
    recent = orders[(orders["order_date"] > start) & (orders["order_date"] <= end)]
    margin = order_value(recent, value.model_copy(update={"kind": "margin"}))
    frame = pd.DataFrame(
        {
            "customer_id": recent["customer_id"].to_numpy(),
            "orders": is_purchase(recent["amount"]).to_numpy(dtype=int),
            "spend": recent["amount"].to_numpy(dtype=float),
            "margin": margin.to_numpy(dtype=float),
        }
    )
    return frame.groupby("customer_id")[["orders", "spend", "margin"]].sum()


def is_active(scores: pd.DataFrame) -> pd.Series:
    """Customers still in the churn population (not already gone at the as-of date)."""
    return scores["risk_band"] != INACTIVE_BAND


def segment_summary(scores: pd.DataFrame, levers: pd.DataFrame | None) -> pd.DataFrame:
    """Per value segment: size, predicted value, the four CLV levers and the high-risk share.

    AOV is net spend per purchase, frequency is purchases per customer and margin is margin per
    net spend, all over the last 12 months; churn risk and the high-risk share (risk band
    ``high``) are over active customers. The three active segments always have a row,
    ``negative`` and ``lapsed`` only when they hold customers.
    """
    frame = scores.set_index("customer_id")
    if levers is not None:
        frame = frame.join(levers.reindex(frame.index, fill_value=0))
    active = frame["risk_band"] != INACTIVE_BAND
    rows = {}
    for segment in SEGMENT_ORDER:
        part = frame[frame["value_segment"] == segment]
        if segment not in VALUE_SEGMENTS and part.empty:
            continue
        bands = part.loc[active.loc[part.index], "risk_band"]
        risk = part.loc[active.loc[part.index], "churn_risk"]
        row = {
            "customers": len(part),
            "share": len(part) / max(len(frame), 1),
            "total_value": part["value_13m"].sum(),
            "mean_value": part["value_13m"].mean(),
            "mean_churn_risk": risk.mean(),
            "high_risk_share": (bands == "high").mean() if len(bands) else np.nan,
        }
        if levers is not None:
            orders = part["orders"].sum()
            row["aov"] = part["spend"].sum() / orders if orders else np.nan
            row["orders_per_customer"] = orders / len(part) if len(part) else np.nan
            spend = part["spend"].sum()
            row["margin_rate"] = part["margin"].sum() / spend if spend > 0 else np.nan
        rows[segment] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def customer_lever(scores: pd.DataFrame, facts_: pd.DataFrame | None) -> pd.Series:
    """The lever key (``segments.LEVERS``) of each scored customer, indexed like ``scores``.

    ``facts_`` (``segments.customer_facts``) adds the 'new customer' and 'poor support' rules;
    without it they are skipped.
    """
    ids = scores["customer_id"].astype(str)

    def flag(name: str) -> pd.Series | None:
        if facts_ is None or name not in facts_ or facts_[name].isna().all():
            return None
        return pd.Series(facts_[name].reindex(ids).to_numpy(), index=scores.index)

    return assign_levers(
        scores["value_segment"], scores["risk_band"], flag("new"), flag("poor_support")
    )


def action_table(
    scores: pd.DataFrame, levers: pd.Series, facts_: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per segment x risk band cell: customers, value at risk and levers.

    Every cell a segment can have is listed, empty ones too (they still name their lever).
    ``value_at_risk`` is predicted value x churn risk summed over the cell (active customers);
    ``value_last_13m`` the cell's order value in the last 13 months (from ``facts_``, for the
    lapsed). ``lever`` is the cell's own lever (``LEVER_RULES`` without the per-customer facts),
    ``lever_counts`` how many of its customers each lever applies to, most first.
    """
    frame = scores.assign(lever=levers.to_numpy(), var=scores["value_13m"] * scores["churn_risk"])
    if facts_ is not None and "value_last_13m" in facts_:
        past = facts_["value_last_13m"].reindex(scores["customer_id"].astype(str))
        frame["past"] = past.to_numpy()
    rows = []
    for segment in SEGMENT_ORDER:
        bands = (INACTIVE_BAND,) if segment == LAPSED_SEGMENT else RISK_BANDS
        for band in bands:
            part = frame[(frame["value_segment"] == segment) & (frame["risk_band"] == band)]
            if segment == NEGATIVE_SEGMENT and not (frame["value_segment"] == segment).any():
                continue
            own = assign_levers(pd.Series([segment]), pd.Series([band])).iloc[0]
            counts = part["lever"].value_counts()
            rows.append(
                {
                    "segment": segment,
                    "band": band,
                    "customers": len(part),
                    "predicted_value": part["value_13m"].sum(),
                    "value_at_risk": part["var"].sum() if band != INACTIVE_BAND else np.nan,
                    "value_last_13m": part["past"].sum() if "past" in part else np.nan,
                    "lever": own,
                    "lever_counts": {str(k): int(v) for k, v in counts.items()},
                }
            )
    return pd.DataFrame(rows).set_index(["segment", "band"])


def value_at_risk(scores: pd.DataFrame, n: int) -> pd.DataFrame:
    """The ``n`` active customers with the most value at risk (predicted value x churn risk)."""
    active = scores[is_active(scores)].copy()
    active["value_at_risk"] = active["value_13m"] * active["churn_risk"]
    active = active.sort_values(["value_at_risk", "customer_id"], ascending=[False, True])
    return active.head(n)


def family_shares(importances: dict[str, pd.Series]) -> pd.DataFrame:
    """Share of each model's gain per signal family (rows ordered by mean share, largest first)."""
    columns = {}
    for label, importance in importances.items():
        family = importance.index.str.split("__").str[0].map(lambda f: FAMILY_NAMES.get(f, f))
        columns[label] = importance.groupby(family).sum()
    shares = pd.DataFrame(columns).fillna(0.0)
    return shares.loc[shares.mean(axis=1).sort_values(ascending=False).index]


def top_features(importance: pd.Series, n: int = 6) -> pd.DataFrame:
    """The ``n`` features with the largest gain share, with their family and plain meaning."""
    top = importance.sort_values(ascending=False).head(n)
    return pd.DataFrame(
        {
            "signal": [describe(name).rstrip(".") for name in top.index],
            "family": [FAMILY_NAMES.get(name.split("__")[0], name) for name in top.index],
            "share": top.to_numpy(),
        }
    )


def drivers_text(row: pd.Series, score: str, unit: Callable[[float], str]) -> str:
    """The top drivers of one score of one scored customer, as 'meaning (+contribution)' lines."""
    parts, k = [], 1
    while f"{score}_driver_{k}" in row.index:
        name, contribution = row[f"{score}_driver_{k}"], row[f"{score}_driver_{k}_contribution"]
        if isinstance(name, str) and pd.notna(contribution):
            direction = "raises" if contribution > 0 else "lowers"
            parts.append(f"{name.rstrip('.')} ({direction}, {unit(contribution)})")
        k += 1
    return "; ".join(parts)

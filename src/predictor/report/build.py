"""The drivers and act-first sections, and ``build_report``, which joins the four sections into the page."""

from __future__ import annotations

from html import escape

import numpy as np
import pandas as pd

from predictor.model_types import TrainedModel
from predictor.plots import (
    family_importance_figure,
    value_at_risk_figure,
)
from predictor.report.customers import customers_section
from predictor.report.markup import (
    facts,
    image,
    missing,
    money,
    page,
    panel,
    pct,
    points,
    section,
    signed_money,
    table,
)
from predictor.report.quality import quality_section
from predictor.report.summaries import (
    customer_lever,
    drivers_text,
    family_shares,
    is_active,
    top_features,
    value_at_risk,
)
from predictor.segments import (
    INACTIVE_BAND,
    LAPSED_SEGMENT,
    LEVERS,
)

MAX_SCATTER_POINTS = 20_000


def drivers_section(model: TrainedModel) -> str:
    """Global importance by signal family, and the strongest single signals per model."""
    months = model.config.value.horizon_months
    estimators = {
        f"{months}-month value": model.value,
        "Churn risk": model.churn,
        "Day One score": model.day_one,
    }
    importances = {k: e.feature_importance() for k, e in estimators.items() if e is not None}
    shares = family_shares(importances)
    lead = ", ".join(
        f"{label.lower()}: {shares[label].idxmax()} ({pct(shares[label].max())})"
        for label in importances
    )
    tops = "".join(
        f"<h3>Strongest signals: {escape(label)}</h3>"
        + table(top_features(imp).set_index("signal"), {"share": pct})
        for label, imp in importances.items()
    )
    return section(
        "drivers",
        f'<p class="lead">Strongest signal family per model: {escape(lead)}.</p>'
        + panel(
            image(
                family_importance_figure(shares, "What the models learn from, by signal family"),
                "importance by signal family",
            ),
            "",
            "Share of each model's total gain (how much its trees rely on a family of signals). "
            "Importance is not direction: see the drivers per customer below for that.",
        )
        + tops,
    )


def _sample_every(n: int, limit: int) -> np.ndarray:
    return np.arange(0, n, max(1, -(-n // limit)))


def act_first_section(
    model: TrainedModel,
    scores: pd.DataFrame | None,
    hint: str,
    n: int,
    facts_: pd.DataFrame | None = None,
) -> str:
    """The active customers with the most value at risk, with their lever and top drivers."""
    if scores is None or scores.empty:
        return section("act-first", missing(hint))
    currency = model.config.report.currency
    months = model.config.value.horizon_months
    active = scores[is_active(scores)]
    top = value_at_risk(scores, n)
    keep = _sample_every(len(active), MAX_SCATTER_POINTS)
    background = active.iloc[keep]
    highlight = np.r_[np.zeros(len(background), bool), np.ones(len(top), bool)]
    fig = value_at_risk_figure(
        np.r_[background["value_13m"].to_numpy(), top["value_13m"].to_numpy()],
        np.r_[background["churn_risk"].to_numpy(), top["churn_risk"].to_numpy()],
        highlight,
        f"Predicted {months}-month value ({currency})",
        currency,
    )
    at_risk = active["value_13m"] * active["churn_risk"]
    share = top["value_at_risk"].sum() / at_risk.sum() if at_risk.sum() > 0 else np.nan
    head = facts(
        [
            (
                "Value at risk, all active customers",
                f"{money(at_risk.sum())} {currency}",
                "predicted value x churn risk",
            ),
            (
                f"Held by the top {len(top)}",
                pct(share),
                f"{money(top['value_at_risk'].sum())} {currency}",
            ),
        ]
    )
    rows = pd.DataFrame(
        {
            "value segment": top["value_segment"].str.replace("_", " ").to_numpy(),
            "risk band": top["risk_band"].to_numpy(),
            "lever": [LEVERS[k].name if k else "" for k in customer_lever(top, facts_)],
            f"predicted value ({currency})": top["value_13m"].to_numpy(),
            **_interval_column(top, "value_13m"),
            "churn risk": top["churn_risk"].to_numpy(),
            f"value at risk ({currency})": top["value_at_risk"].to_numpy(),
        },
        index=pd.Index(top["customer_id"].astype(str), name="customer"),
    )
    has_drivers = "churn_risk_driver_1" in top.columns
    if has_drivers:
        rows["why at risk"] = [drivers_text(r, "churn_risk", points) for _, r in top.iterrows()]
        rows["why valuable"] = [
            drivers_text(r, "value_13m", signed_money) for _, r in top.iterrows()
        ]
    note = (
        "Drivers: the signals that move this customer's score most, with their effect "
        f"(churn in percentage points, value in {currency}); `predictor explain` shows all of "
        "them."
        if has_drivers
        else "Score with `predictor score --drivers 3` to see each customer's top drivers here."
    )
    return section(
        "act-first",
        panel(
            image(fig, "value at risk map"),
            head,
            "Red: the customers listed below. Up and to the right = more value to lose.",
        )
        + table(
            rows,
            {
                f"predicted value ({currency})": money,
                "churn risk": lambda x: pct(x, 1),
                f"value at risk ({currency})": money,
            },
        )
        + f'<p class="note">{escape(note)}</p>',
    )


def build_report(
    model: TrainedModel,
    evaluation: dict[str, pd.DataFrame],
    scores: pd.DataFrame | None = None,
    levers: pd.DataFrame | None = None,
    plans: dict[str, dict] | None = None,
    facts_: pd.DataFrame | None = None,
    missing_scores: str = "These charts need scores: run `predictor report` with --scores "
    "(from `predictor score --drivers 3`) or with --data.",
    top_n: int = 20,
) -> str:
    """The whole report as one self-contained HTML page.

    ``evaluation`` holds the held-out predictions per target (``y_true`` plus one column per
    predictor, see ``bundle.evaluation_frames``); ``{}`` when unavailable. ``scores`` are score
    rows as ``scoring.score`` writes them (drivers optional), ``levers`` the output of
    ``customer_levers`` and ``facts_`` the output of ``segments.customer_facts`` for the same
    customers and date; without them the customer sections say what is missing
    (``missing_scores``). Money is labelled with ``report.currency`` of the model's config.
    """
    info = model.info
    value_kind = model.config.value.kind
    if scores is not None and not scores.empty:
        gone = scores["risk_band"] == INACTIVE_BAND  # scores of models older than `lapsed`
        scores = scores.assign(value_segment=scores["value_segment"].where(~gone, LAPSED_SEGMENT))
    subtitle = [
        f"Model {info.get('model_version', 'unversioned')}"
        + (f", trained {info['created_at']}" if info.get("created_at") else "")
        + f" on data from {info.get('data_start', '?')} to {info.get('data_end', '?')}.",
        f"Value = {value_kind} over the next {model.config.value.horizon_months} months; "
        f"churn = {_churn_words(info.get('churn_rule', ''))} within "
        f"{model.config.churn.horizon_days} days.",
    ]
    absent = [t for t, est in (("value_13m", model.value), ("churn", model.churn)) if est is None]
    if absent:
        why = (
            f"These charts need value and churn scores; {', '.join(absent)} was not trained "
            "(the model quality section says why)."
        )
        customers = section("customers", missing(why))
        act_first = section("act-first", missing(why))
    else:
        customers = customers_section(model, scores, levers, missing_scores, facts_)
        act_first = act_first_section(model, scores, missing_scores, top_n, facts_)
    return page(
        "Customer value and churn report",
        subtitle,
        [
            quality_section(model, evaluation, plans or {}),
            customers,
            drivers_section(model),
            act_first,
        ],
    )


def _churn_words(rule: str) -> str:
    return {
        "subscription": "the end of all subscriptions",
        "no_order": "no order",
    }.get(rule, rule or "leaving")


def _interval_column(scores: pd.DataFrame, score: str) -> dict[str, list[str]]:
    """``{"80% interval": ["P10 to P90", ...]}`` when the scores carry the interval, else {}."""
    lo, hi = f"{score}_p10", f"{score}_p90"
    if lo not in scores.columns or hi not in scores.columns:
        return {}
    return {
        "80% interval": [
            f"{money(a)} to {money(b)}" for a, b in zip(scores[lo], scores[hi], strict=True)
        ]
    }

"""The HTML report: model quality, customer base, drivers of value and churn, who to act on.

Pure: ``build_report`` takes a trained model, its held-out evaluation frames and (optionally)
scores and per-customer purchase levers, and returns one self-contained HTML page (inline CSS,
figures embedded as base64 PNG, no JavaScript), so the file opens offline and can be mailed
around. Writing the file, and tracking it, is the caller's job (``predictor.pipeline``).
"""

from __future__ import annotations

import base64
import io
import warnings
from collections.abc import Callable, Iterable
from html import escape

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from predictor.config import ValueConfig
from predictor.evaluation import comparison_table
from predictor.features.descriptions import describe
from predictor.labels import order_value
from predictor.plots import (
    calibration_figure,
    decile_figure,
    distribution_figure,
    family_importance_figure,
    gains_figure,
    roc_figure,
    segment_levers_figure,
    value_at_risk_figure,
)
from predictor.segments import (
    INACTIVE_BAND,
    LAPSED_SEGMENT,
    LEVER_RULES,
    LEVERS,
    NEGATIVE_SEGMENT,
    RISK_BANDS,
    SEGMENTS,
    VALUE_SEGMENTS,
    Segmenter,
    assign_levers,
)
from predictor.timeline import day_end
from predictor.training import TrainedModel

SECTIONS: dict[str, str] = {
    "quality": "How good are the models?",
    "customers": "Your customer base",
    "drivers": "What drives value and churn",
    "act-first": "Who to act on first",
}
"""Section id -> heading, in page order."""

PREDICTOR_NAMES: dict[str, str] = {
    "model": "Model",
    "trailing_13m": "Last 13 months' value",
    "formula_clv": "Formula CLV (AOV x frequency x lifespan)",
    "bgnbd_gamma_gamma": "BG/NBD + Gamma-Gamma",
    "constant_mean": "Same value for everyone",
    "mean_by_first_order": "Average by first-order size",
    "recency_rule": "Recency rule",
    "base_rate": "Same risk for everyone",
}
"""Plain names of the model and its baselines."""

FAMILY_NAMES: dict[str, str] = {
    "customer": "Customer attributes",
    "orders": "Orders",
    "subscriptions": "Subscriptions",
    "onboarding": "Onboarding",
    "support": "Support",
    "channels": "Channels & engagement",
    "nps": "NPS",
    "bgnbd": "Purchase rhythm (BG/NBD)",
}
"""Feature prefix -> signal family as marketers call it."""

SEGMENT_ORDER = SEGMENTS
LEVER_WINDOW_DAYS = 365
MAX_SCATTER_POINTS = 20_000

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;color:#222;
background:#f6f7f9;line-height:1.45}
main{max-width:1120px;margin:0 auto;padding:24px}
header{background:#1f3b57;color:#fff;padding:20px 24px}
header h1{margin:0 0 6px 0;font-size:26px}
header p{margin:2px 0;opacity:.9}
nav a{color:#fff;margin-right:16px}
section{background:#fff;border-radius:8px;padding:8px 24px 20px;margin:20px 0;
box-shadow:0 1px 3px rgba(0,0,0,.08)}
h2{border-bottom:2px solid #1f3b57;padding-bottom:6px}
h3{margin-top:28px}
.panel{display:flex;flex-wrap:wrap;gap:20px;align-items:flex-start;margin:12px 0}
.panel img{max-width:100%;height:auto;border:1px solid #eee}
.facts{flex:1 1 260px;min-width:240px}
.facts dt{font-size:13px;color:#555;margin-top:8px}
.facts dd{margin:0;font-size:20px;font-weight:600}
.facts dd small{font-size:12px;font-weight:400;color:#555}
.lead{font-size:16px}
.note{color:#555;font-size:13px}
.missing,.warn{background:#fff6e5;border-left:4px solid #e0a030;padding:10px 14px}
.verdict{font-size:15px;background:#eef6ee;border-left:4px solid #55A868;padding:8px 14px}
.verdict.lose{background:#fdecec;border-left-color:#C44E52}
.rule{margin:6px 0;font-size:14px}
.wide{max-width:100%;overflow-x:auto}
table.actions td.cell{min-width:150px;line-height:1.5}
table.actions td.na{color:#aaa}
.lever{font-weight:600;color:#1f3b57}
table{border-collapse:collapse;margin:10px 0;font-size:13px}
th,td{padding:5px 9px;border-bottom:1px solid #e3e3e3;text-align:right;vertical-align:top}
th{background:#eef1f5}
td.text,th.text{text-align:left}
"""


# -- summaries: pure frames the sections are drawn from -------------------------------------


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
            "orders": (recent["amount"] > 0).to_numpy(dtype=int),
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


# -- HTML building blocks --------------------------------------------------------------------


def figure_uri(fig: Figure, dpi: int = 100) -> str:
    """PNG data URI of a figure (the figure is closed afterwards)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def image(fig: Figure, alt: str) -> str:
    """An ``<img>`` with the figure embedded."""
    return f'<img src="{figure_uri(fig)}" alt="{escape(alt)}">'


def facts(items: Iterable[tuple[str, str, str]]) -> str:
    """Headline numbers: (label, value, small print) triples as a definition list."""
    rows = "".join(
        f"<dt>{escape(label)}</dt><dd>{escape(value)}"
        + (f" <small>{escape(extra)}</small>" if extra else "")
        + "</dd>"
        for label, value, extra in items
    )
    return f'<dl class="facts">{rows}</dl>'


def panel(figure_html: str, facts_html: str = "", caption: str = "") -> str:
    """A figure with its headline numbers beside it and a one-line reading guide below."""
    note = f'<p class="note">{escape(caption)}</p>' if caption else ""
    return f'<div class="panel"><div>{figure_html}{note}</div>{facts_html}</div>'


def table(frame: pd.DataFrame, formats: dict[str, Callable[[object], str]]) -> str:
    """An HTML table of ``frame`` (index as first column); ``formats`` maps column -> formatter.

    Column headers are the ``formats`` keys' display names given as ``frame`` column names;
    text columns (not in ``formats``) are left-aligned.
    """
    head = f'<th class="text">{escape(str(frame.index.name or ""))}</th>' + "".join(
        ("<th>" if col in formats else '<th class="text">') + f"{escape(str(col))}</th>"
        for col in frame.columns
    )
    body = []
    for index, row in frame.iterrows():
        cells = [f'<td class="text">{escape(str(index))}</td>']
        for col in frame.columns:
            value = row[col]
            if col in formats:
                cells.append(f"<td>{escape(formats[col](value))}</td>")
            else:
                cells.append(
                    f'<td class="text">{escape("" if pd.isna(value) else str(value))}</td>'
                )
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def missing(message: str) -> str:
    """A visible note that a part of the report could not be drawn, and why."""
    return f'<p class="missing">{escape(message)}</p>'


def section(key: str, body: str) -> str:
    """A report section with its standard heading (see ``SECTIONS``)."""
    return f'<section id="{key}"><h2>{escape(SECTIONS[key])}</h2>{body}</section>'


def page(title: str, subtitle: list[str], sections: list[str]) -> str:
    """The whole self-contained HTML document."""
    nav = "".join(f'<a href="#{k}">{escape(v)}</a>' for k, v in SECTIONS.items())
    lines = "".join(f"<p>{escape(s)}</p>" for s in subtitle)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{escape(title)}</h1>{lines}<nav>{nav}</nav></header>"
        f"<main>{''.join(sections)}</main></body></html>\n"
    )


# -- number formats ---------------------------------------------------------------------------


def money(x: object) -> str:
    """Currency amount, no decimals, thousands separated."""
    return "-" if pd.isna(x) else f"{float(x):,.0f}"


def pct(x: object, digits: int = 0) -> str:
    """A share as a percentage."""
    return "-" if pd.isna(x) else f"{float(x) * 100:.{digits}f}%"


def num(x: object, digits: int = 3) -> str:
    """A plain number."""
    return "-" if pd.isna(x) else f"{float(x):,.{digits}f}"


def points(x: float) -> str:
    """A probability change in percentage points."""
    return f"{x * 100:+.1f} pts"


def signed_money(x: float) -> str:
    """A signed currency amount."""
    return f"{x:+,.0f}"


# -- sections ---------------------------------------------------------------------------------


CONSTANT_PREDICTORS = ("constant_mean", "base_rate")
"""Baselines that give everyone the same score: in the tables, not in ranking charts."""


def _named(predictions: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {
        PREDICTOR_NAMES.get(k, k): v for k, v in predictions.items() if k not in CONSTANT_PREDICTORS
    }


def _metrics(y: np.ndarray, preds: dict[str, np.ndarray], kind: str) -> pd.DataFrame:
    """The model-vs-baseline table, quiet about undefined correlations of constant baselines."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return comparison_table(y, preds, kind)


def _split_eval(frame: pd.DataFrame) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    y = frame["y_true"].to_numpy(dtype=float)
    return y, {c: frame[c].to_numpy(dtype=float) for c in frame.columns if c != "y_true"}


HEADLINES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "value": (
        ("normalized_gini", "ranking quality (normalized Gini)", "higher"),
        ("aggregate_bias", "total predicted vs actual (aggregate bias)", "nearer 0"),
    ),
    "churn": (
        ("roc_auc", "ranking (ROC AUC)", "higher"),
        ("brier", "Brier score", "lower"),
        ("calibration_error", "calibration error", "lower"),
    ),
}
"""Headline metrics per kind of target: (metric, plain name, which way is better)."""


def _goodness(x: float, better: str) -> float:
    """A number that grows as the metric gets better."""
    return {"higher": x, "lower": -x, "nearer 0": -abs(x)}[better]


def _headline_format(metric: str) -> Callable[[object], str]:
    if metric == "aggregate_bias":
        return lambda x: "-" if pd.isna(x) else f"{float(x) * 100:+.1f}%"
    if metric == "calibration_error":
        return lambda x: pct(x, 1)
    return num


def headline_comparison(metrics: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Per headline metric: the model's value, the strongest baseline on it, and who wins.

    ``metrics`` is a ``comparison_table`` (row ``model`` plus one row per baseline). The
    strongest baseline is chosen per metric (highest Gini / AUC, lowest Brier / calibration
    error, bias nearest 0); it wins only when strictly better than the model.
    """
    rows = {}
    baselines = metrics.drop(index="model")
    for metric, name, better in HEADLINES[kind]:
        model = float(metrics.loc["model", metric])
        scores = baselines[metric].dropna()
        best = str(scores.map(lambda x, b=better: _goodness(x, b)).idxmax()) if len(scores) else ""
        value = float(scores[best]) if best else float("nan")
        rows[metric] = {
            "name": name,
            "model": model,
            "baseline": best,
            "baseline_value": value,
            "baseline_wins": bool(best) and _goodness(value, better) > _goodness(model, better),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def verdict(comparison: pd.DataFrame) -> str:
    """One sentence: which baseline beats the model on which headline metric, or that none does."""
    won = comparison[comparison["baseline_wins"]]
    if won.empty:
        names = ", ".join(comparison["name"])
        return f"The model beats every baseline on {names}."
    parts = []
    for baseline, rows in won.groupby("baseline", sort=False):
        claims = [
            f"{row['name']} ({_headline_format(metric)(row['baseline_value'])} vs "
            f"{_headline_format(metric)(row['model'])} for the model)"
            for metric, row in rows.iterrows()
        ]
        parts.append(f"{PREDICTOR_NAMES.get(str(baseline), baseline)} on {_and(claims)}")
    return "A baseline beats the model: " + "; ".join(parts) + "."


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _versus(comparison: pd.DataFrame, metric: str) -> tuple[str, str]:
    """(model value, 'best baseline Name: value') for one headline metric."""
    row = comparison.loc[metric]
    fmt = _headline_format(metric)
    name = PREDICTOR_NAMES.get(row["baseline"], row["baseline"])
    return fmt(row["model"]), (f"best baseline, {name}: {fmt(row['baseline_value'])}" if name else "")


def _verdict_html(comparison: pd.DataFrame) -> str:
    css = "verdict lose" if comparison["baseline_wins"].any() else "verdict"
    return f'<p class="{css}">{escape(verdict(comparison))}</p>'


def _coverage_fact(plan: dict) -> list[tuple[str, str, str]]:
    """The held-out coverage of the 80% value interval, when the model has one."""
    if "interval_coverage" not in plan:
        return []
    return [
        (
            "Customers inside their 80% interval (P10-P90)",
            pct(plan["interval_coverage"]),
            "of the held-out test (a calibrated interval holds about 80%)",
        )
    ]


def _value_quality(
    task: str, frame: pd.DataFrame, title: str, unit: str, period: str, plan: dict | None = None
) -> str:
    y, preds = _split_eval(frame)
    metrics = _metrics(y, preds, "value")
    model = metrics.loc["model"]
    comparison = headline_comparison(metrics, "value")
    best = comparison.loc["normalized_gini", "baseline"]
    best_row = metrics.loc[best] if best else model
    gini, gini_vs = _versus(comparison, "normalized_gini")
    bias, bias_vs = _versus(comparison, "aggregate_bias")
    gains_facts = facts(
        [
            ("Ranking quality (normalized Gini, 1 = perfect)", gini, gini_vs),
            (
                "Top 10% by the model hold",
                pct(model["top_decile_capture"]),
                f"of actual value ({PREDICTOR_NAMES.get(best, best)}: "
                f"{pct(best_row['top_decile_capture'])})",
            ),
            ("Customers in the held-out test", f"{len(y):,}", period),
        ]
    )
    decile_facts = facts(
        [
            ("Total predicted vs actual (aggregate bias)", bias, bias_vs),
            ("Typical error per decile", pct(model["decile_mape"]), "decile MAPE"),
            ("Mean absolute error per customer", money(model["mae"]), unit),
            *_coverage_fact(plan or {}),
        ]
    )
    shown = metrics[["normalized_gini", "top_decile_capture", "mae", "aggregate_bias"]].rename(
        index=PREDICTOR_NAMES,
        columns={
            "normalized_gini": "normalized Gini",
            "top_decile_capture": "top-10% capture",
            "mae": f"MAE ({unit})",
            "aggregate_bias": "aggregate bias",
        },
    )
    shown.index.name = "predictor"
    return (
        f"<h3>{escape(title)}</h3>"
        + _verdict_html(comparison)
        + panel(
            image(gains_figure(y, _named(preds), "Gains (held-out test)"), f"gains curve, {task}"),
            gains_facts,
            "Read: the higher the curve, the more of next year's value you reach by contacting "
            "the customers the predictor ranks first.",
        )
        + panel(
            image(
                decile_figure(y, preds["model"], "Predicted vs actual by decile", unit),
                f"decile chart, {task}",
            ),
            decile_facts,
            "Read: customers are cut into ten equal groups by predicted value; bars side by "
            "side should match.",
        )
        + table(
            shown,
            {
                "normalized Gini": num,
                "top-10% capture": pct,
                f"MAE ({unit})": money,
                "aggregate bias": lambda x: pct(x, 1),
            },
        )
    )


def _churn_quality(frame: pd.DataFrame, period: str) -> str:
    y, preds = _split_eval(frame)
    metrics = _metrics(y, preds, "churn")
    model = metrics.loc["model"]
    comparison = headline_comparison(metrics, "churn")
    auc, auc_vs = _versus(comparison, "roc_auc")
    brier, brier_vs = _versus(comparison, "brier")
    cal, cal_vs = _versus(comparison, "calibration_error")
    roc_facts = facts(
        [
            ("ROC AUC (0.5 = guessing, 1 = perfect)", auc, auc_vs),
            ("Riskiest 10% churn at", f"{num(model['lift_top10'], 1)}x", "the average rate (lift)"),
            ("Customers in the held-out test", f"{len(y):,}", period),
            *_constant_verdict(metrics),
        ]
    )
    calibration_facts = facts(
        [
            ("Brier score (lower is better)", brier, brier_vs),
            ("Calibration error", cal, cal_vs),
            (
                "Observed churn rate",
                pct(model["churn_rate"], 1),
                f"mean predicted risk {pct(model['mean_predicted'], 1)}",
            ),
        ]
    )
    columns = ["roc_auc", "pr_auc", "brier", "log_loss", "calibration_error", "lift_top10"]
    shown = metrics[columns].rename(
        index=PREDICTOR_NAMES,
        columns={
            "roc_auc": "ROC AUC",
            "pr_auc": "PR AUC",
            "brier": "Brier",
            "log_loss": "log loss",
            "calibration_error": "calibration error",
            "lift_top10": "top-10% lift",
        },
    )
    shown.index.name = "predictor"
    return (
        "<h3>Churn risk</h3>"
        + _verdict_html(comparison)
        + panel(
            image(roc_figure(y, _named(preds), "Churn ROC (held-out cutoff)"), "churn ROC curve"),
            roc_facts,
            "Read: the further the curve bows to the top left, the better the model tells "
            "leavers from stayers.",
        )
        + panel(
            image(
                calibration_figure(y, preds["model"], "Churn calibration (held-out cutoff)"),
                "churn calibration plot",
            ),
            calibration_facts,
            "Read: points on the diagonal mean a predicted 30% risk really churns 30% of the time.",
        )
        + table(
            shown,
            {
                "ROC AUC": num,
                "PR AUC": num,
                "Brier": num,
                "log loss": num,
                "calibration error": lambda x: pct(x, 1),
                "top-10% lift": lambda x: num(x, 2),
            },
        )
    )


def _constant_verdict(metrics: pd.DataFrame) -> list[tuple[str, str, str]]:
    """Say plainly whether the risks beat telling everyone the base rate (Brier and log loss)."""
    if "base_rate" not in metrics.index:
        return []
    model, base = metrics.loc["model"], metrics.loc["base_rate"]
    better = model["brier"] < base["brier"] and model["log_loss"] < base["log_loss"]
    detail = (
        f"Brier {num(model['brier'])} vs {num(base['brier'])}, log loss "
        f"{num(model['log_loss'])} vs {num(base['log_loss'])} for the base rate"
    )
    value = "yes" if better else "NO: the risks are no better than a constant"
    return [("Better than the same risk for everyone", value, detail)]


def _period(plan: dict, key: str) -> str:
    dates = plan.get(key) or []
    if not dates:
        return ""
    if key == "test_signups":
        return f"customers who signed up {dates[0]} to {dates[-1]}"
    return "as of " + ", ".join(dates)


def quality_section(
    model: TrainedModel, evaluation: dict[str, pd.DataFrame], plans: dict[str, dict]
) -> str:
    """Gains, deciles, ROC and calibration on the held-out test, with the headline numbers."""
    if not evaluation:
        return section(
            "quality",
            missing(
                "The held-out evaluation is not available: this model folder was saved before "
                "predictor kept its evaluation predictions. Retrain it to get these charts; the "
                "metrics are still in its metadata.json and in the MLflow run."
            ),
        )
    months = model.config.value.horizon_months
    body = [
        '<p class="lead">Every model is tested on customers and dates it never saw in training, '
        "beside the rules of thumb a marketer would otherwise use.</p>"
    ]
    if "value_13m" in evaluation:
        body.append(
            _value_quality(
                "value_13m",
                evaluation["value_13m"],
                f"{months}-month value of existing customers",
                model.config.report.currency,
                _period(plans.get("value_13m", {}), "test"),
                plans.get("value_13m", {}),
            )
        )
    if "day_one" in evaluation:
        body.append(
            _value_quality(
                "day_one",
                evaluation["day_one"],
                f"Day One score (value of a new customer's first {months} months)",
                model.config.report.currency,
                _period(plans.get("day_one", {}), "test_signups"),
                plans.get("day_one", {}),
            )
        )
    if "churn" in evaluation:
        body.append(_churn_quality(evaluation["churn"], _period(plans.get("churn", {}), "test")))
    body.append(skipped_note(model.info))
    return section("quality", "".join(body))


BAND_NAMES = {"low": "low risk", "medium": "medium risk", "high": "high risk", "inactive": "gone"}


def empty_band_notes(scores: pd.DataFrame, segmenter: Segmenter) -> list[str]:
    """Why a risk band holds no active customer, one sentence per empty band (none when full)."""
    risk = scores.loc[is_active(scores), "churn_risk"]
    if risk.empty:
        return ["No customer is active: everyone scored has already left, so every risk band "
                "is empty."]
    lo, hi = segmenter.risk_cuts
    present = set(scores.loc[is_active(scores), "risk_band"])
    rule = ""
    if segmenter.risk_rule == "relative" and segmenter.risk_params and segmenter.base_rate:
        a, b = segmenter.risk_params
        base = f"the churn rate of active customers, {pct(segmenter.base_rate, 1)}"
        rule = {"low": f" ({a:g}x {base})", "high": f" ({b:g}x {base})"}
    notes = []
    if "high" not in present:
        why = (
            "a limit above 100% that no probability can reach; lower segments.risk_multiples "
            "or set segments.risk_rule: absolute"
            if hi > 1
            else f"the high-risk limit of {pct(hi, 1)}{rule and rule['high']}"
        )
        notes.append(
            f"No active customer is in the high-risk band: the highest risk is "
            f"{pct(risk.max(), 1)}, below {why}."
        )
    if "low" not in present:
        notes.append(
            f"No active customer is in the low-risk band: the lowest risk is "
            f"{pct(risk.min(), 1)}, above the low-risk limit of {pct(lo, 1)}"
            f"{rule and rule['low']}."
        )
    if "medium" not in present:
        notes.append(
            f"No active customer is in the medium-risk band: every risk is at most "
            f"{pct(lo, 1)} or at least {pct(hi, 1)}."
        )
    return notes


def _cell(row: pd.Series, currency: str, months: int) -> str:
    """One cell of the action matrix: customers, value at risk (or last 13 months), levers."""
    lines = [f"<b>{int(row['customers']):,}</b> customers"]
    if row.name[1] == INACTIVE_BAND:
        lines.append(
            f"{money(row['value_last_13m'])} {escape(currency)} in their last {months} months"
        )
    elif row.name[0] == NEGATIVE_SEGMENT:
        lines.append(f"{money(row['predicted_value'])} {escape(currency)} predicted")
    else:
        lines.append(f"{money(row['value_at_risk'])} {escape(currency)} at risk")
    lines.append(f'<span class="lever">{escape(LEVERS[row["lever"]].name)}</span>')
    others = [(k, n) for k, n in row["lever_counts"].items() if k and k != row["lever"]]
    if others:
        lines.append(
            "<small>of which "
            + ", ".join(f"{n:,} {escape(LEVERS[k].name)}" for k, n in others)
            + "</small>"
        )
    return "<br>".join(lines)


def action_matrix(actions: pd.DataFrame, currency: str, months: int) -> str:
    """The action table as HTML: one row per segment, one column per risk band."""
    bands = [*RISK_BANDS, INACTIVE_BAND]
    head = '<th class="text">value segment</th>' + "".join(
        f'<th class="text">{escape(BAND_NAMES[b])}</th>' for b in bands
    )
    body = []
    for segment in dict.fromkeys(actions.index.get_level_values("segment")):
        cells = [f'<td class="text">{escape(segment.replace("_", " "))}</td>']
        for band in bands:
            key = (segment, band)
            cells.append(
                f'<td class="text cell">{_cell(actions.loc[key], currency, months)}</td>'
                if key in actions.index
                else '<td class="text na">n/a</td>'
            )
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        '<div class="wide"><table class="actions"><thead><tr>'
        f"{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def lever_legend(actions: pd.DataFrame) -> str:
    """The levers named in the action table, with what each stands for (fixed texts)."""
    used = dict.fromkeys(
        [*actions["lever"], *(k for c in actions["lever_counts"] for k in c if k)]
    )
    frame = pd.DataFrame(
        {"what to do": [LEVERS[k].action for k in LEVER_ORDER if k in used]},
        index=pd.Index([LEVERS[k].name for k in LEVER_ORDER if k in used], name="lever"),
    )
    return table(frame, {})


LEVER_ORDER = tuple(dict.fromkeys(rule.lever for rule in LEVER_RULES))


def _skipped_rules_note(facts_: pd.DataFrame | None) -> str:
    """A note naming the lever rules the report could not apply for lack of data (or '')."""
    lacking = []
    if facts_ is None:
        lacking.append("the 'new customer' rule (onboarding) needs the customers table")
    if facts_ is None or facts_["poor_support"].isna().all():
        lacking.append("the 'poor support' rule (service recovery) needs the support table")
    if not lacking:
        return ""
    text = _and(lacking) + "; without them those customers get their cell's lever."
    return f'<p class="note">{escape(text[0].upper() + text[1:])}</p>'


def skipped_note(info: dict) -> str:
    """Why a target has no model (skipped at training), and which targets used a customer split."""
    parts = [
        f"<p class=\"note\"><b>{escape(target)}: not trained.</b> {escape(reason)} Its score "
        "columns are left empty.</p>"
        for target, reason in info.get("skipped", {}).items()
    ]
    split = [t for t, e in info.get("evaluation", {}).items() if e == "customer_split"]
    if split:
        parts.append(
            f'<p class="note">{escape(", ".join(split))}: the data hold too few cutoffs with '
            "both outcomes for a time split, so held-out customers (a seeded, stratified "
            "customer split at the latest cutoff) judge the model instead of a later date.</p>"
        )
    return "".join(parts)


def customers_section(
    model: TrainedModel,
    scores: pd.DataFrame | None,
    levers: pd.DataFrame | None,
    hint: str,
    facts_: pd.DataFrame | None = None,
) -> str:
    """Value and risk of the customer base: segments, bands, their levers and what to do."""
    if scores is None or scores.empty:
        return section("customers", missing(hint))
    currency = model.config.report.currency
    active = is_active(scores)
    cuts = model.segmenter
    months = model.config.value.horizon_months
    value_label = f"Predicted {months}-month value ({currency})"
    as_of = pd.Timestamp(scores["as_of"].iloc[0])
    lever = customer_lever(scores, facts_)
    actions = action_table(scores, lever, facts_)
    lapsed = actions.xs(INACTIVE_BAND, level="band")
    past = lapsed["value_last_13m"].sum()
    base_facts = facts(
        [
            ("Customers scored", f"{len(scores):,}", f"as of {as_of.date()}"),
            ("Active customers", f"{int(active.sum()):,}", "segments and risk bands below"),
            (
                "Lapsed (already gone)",
                f"{int((~active).sum()):,}",
                f"{money(past)} {currency} in their last {months} months"
                if pd.notna(past) and facts_ is not None
                else "their past value needs the order data (--data)",
            ),
            (
                f"Predicted value of active customers, next {months} months",
                f"{money(scores.loc[active, 'value_13m'].sum())} {currency}",
                "",
            ),
            (
                "Mean churn risk of active customers",
                pct(scores.loc[active, "churn_risk"].mean()),
                f"within {model.config.churn.horizon_days} days",
            ),
            (
                "High-risk active customers",
                f"{int((scores.loc[active, 'risk_band'] == 'high').sum()):,}",
                f"risk {pct(cuts.risk_cuts[1], 1)} or more",
            ),
        ]
    )
    dist = distribution_figure(
        scores["value_13m"].to_numpy(),
        scores.loc[active, "churn_risk"].to_numpy(),
        cuts.value_cuts,
        cuts.risk_cuts,
        value_label,
        gone=~active.to_numpy(),
    )
    summary = segment_summary(scores, levers)
    shown = summary.rename(
        index=lambda s: s.replace("_", " "),
        columns={
            "customers": "customers",
            "share": "share",
            "total_value": f"total predicted value ({currency})",
            "mean_value": f"mean predicted value ({currency})",
            "aov": f"average order value ({currency})",
            "orders_per_customer": "purchases per customer",
            "margin_rate": "margin",
            "mean_churn_risk": "mean churn risk",
            "high_risk_share": "high-risk share",
        },
    )
    shown.index.name = "value segment"
    formats = {
        "customers": lambda x: f"{int(x):,}",
        "share": pct,
        f"total predicted value ({currency})": money,
        f"mean predicted value ({currency})": money,
        f"average order value ({currency})": money,
        "purchases per customer": lambda x: num(x, 1),
        "margin": pct,
        "mean churn risk": lambda x: pct(x, 1),
        "high-risk share": pct,
    }
    lever_note = (
        "Average order value, purchases per customer and margin are over the 12 months up to "
        "the as-of date."
        if levers is not None
        else "Average order value, purchase frequency and margin need the order data: run "
        "`predictor report` with --data."
    )
    rules = "".join(
        f'<p class="rule">{escape(t)}</p>'
        for t in (cuts.value_rule_text(currency), cuts.risk_rule_text())
    )
    empty = "".join(f'<p class="warn">{escape(n)}</p>' for n in empty_band_notes(scores, cuts))
    skipped = _skipped_rules_note(facts_)
    active_summary = summary.loc[[s for s in summary.index if s != LAPSED_SEGMENT]]
    return section(
        "customers",
        rules
        + empty
        + panel(
            image(dist, "distribution of predicted value and churn risk"),
            base_facts,
            "Dashed lines: where the value segments and risk bands start.",
        )
        + "<h3>What to do, per value segment and risk band</h3>"
        + '<p class="note">Each cell: customers, their value at risk (predicted value x churn '
        "risk; for the lapsed, what they spent in the last "
        f"{months} months) and the lever for the cell. 'Of which' counts customers a more "
        "specific rule sends elsewhere: new customers to onboarding, customers after poor "
        "support to service recovery.</p>"
        + action_matrix(actions, currency, months)
        + lever_legend(actions)
        + skipped
        + "<h3>Value segments and their CLV levers</h3>"
        + '<p class="note">Customer value grows with order value, purchase frequency, margin '
        "and retention: the four levers below.</p>"
        + table(shown, formats)
        + panel(
            image(
                segment_levers_figure(active_summary, currency),
                "CLV levers by value segment",
            )
        )
        + f'<p class="note">{escape(lever_note)}</p>',
    )


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

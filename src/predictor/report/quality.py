"""The "How good are the models?" section: the model against its baselines, per target."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from html import escape

import numpy as np
import pandas as pd

from predictor.evaluation import comparison_table
from predictor.model_types import TrainedModel
from predictor.plots import (
    calibration_figure,
    decile_figure,
    gains_figure,
    roc_figure,
)
from predictor.report import markup

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
        return lambda x: markup.pct(x, 1)
    return markup.num


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
        parts.append(f"{PREDICTOR_NAMES.get(str(baseline), baseline)} on {markup._and(claims)}")
    return "A baseline beats the model: " + "; ".join(parts) + "."


def _versus(comparison: pd.DataFrame, metric: str) -> tuple[str, str]:
    """(model value, 'best baseline Name: value') for one headline metric."""
    row = comparison.loc[metric]
    fmt = _headline_format(metric)
    name = PREDICTOR_NAMES.get(row["baseline"], row["baseline"])
    return fmt(row["model"]), (
        f"best baseline, {name}: {fmt(row['baseline_value'])}" if name else ""
    )


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
            markup.pct(plan["interval_coverage"]),
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
    gains_facts = markup.facts(
        [
            ("Ranking quality (normalized Gini, 1 = perfect)", gini, gini_vs),
            (
                "Top 10% by the model hold",
                markup.pct(model["top_decile_capture"]),
                f"of actual value ({PREDICTOR_NAMES.get(best, best)}: "
                f"{markup.pct(best_row['top_decile_capture'])})",
            ),
            ("Customers in the held-out test", f"{len(y):,}", period),
        ]
    )
    decile_facts = markup.facts(
        [
            ("Total predicted vs actual (aggregate bias)", bias, bias_vs),
            ("Typical error per decile", markup.pct(model["decile_mape"]), "decile MAPE"),
            ("Mean absolute error per customer", markup.money(model["mae"]), unit),
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
        + markup.panel(
            markup.image(
                gains_figure(y, _named(preds), "Gains (held-out test)"), f"gains curve, {task}"
            ),
            gains_facts,
            "Read: the higher the curve, the more of next year's value you reach by contacting "
            "the customers the predictor ranks first.",
        )
        + markup.panel(
            markup.image(
                decile_figure(y, preds["model"], "Predicted vs actual by decile", unit),
                f"decile chart, {task}",
            ),
            decile_facts,
            "Read: customers are cut into ten equal groups by predicted value; bars side by "
            "side should match.",
        )
        + markup.table(
            shown,
            {
                "normalized Gini": markup.num,
                "top-10% capture": markup.pct,
                f"MAE ({unit})": markup.money,
                "aggregate bias": lambda x: markup.pct(x, 1),
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
    roc_facts = markup.facts(
        [
            ("ROC AUC (0.5 = guessing, 1 = perfect)", auc, auc_vs),
            (
                "Riskiest 10% churn at",
                f"{markup.num(model['lift_top10'], 1)}x",
                "the average rate (lift)",
            ),
            ("Customers in the held-out test", f"{len(y):,}", period),
            *_constant_verdict(metrics),
        ]
    )
    calibration_facts = markup.facts(
        [
            ("Brier score (lower is better)", brier, brier_vs),
            ("Calibration error", cal, cal_vs),
            (
                "Observed churn rate",
                markup.pct(model["churn_rate"], 1),
                f"mean predicted risk {markup.pct(model['mean_predicted'], 1)}",
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
        + markup.panel(
            markup.image(
                roc_figure(y, _named(preds), "Churn ROC (held-out cutoff)"), "churn ROC curve"
            ),
            roc_facts,
            "Read: the further the curve bows to the top left, the better the model tells "
            "leavers from stayers.",
        )
        + markup.panel(
            markup.image(
                calibration_figure(y, preds["model"], "Churn calibration (held-out cutoff)"),
                "churn calibration plot",
            ),
            calibration_facts,
            "Read: points on the diagonal mean a predicted 30% risk really churns 30% of the time.",
        )
        + markup.table(
            shown,
            {
                "ROC AUC": markup.num,
                "PR AUC": markup.num,
                "Brier": markup.num,
                "log loss": markup.num,
                "calibration error": lambda x: markup.pct(x, 1),
                "top-10% lift": lambda x: markup.num(x, 2),
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
        f"Brier {markup.num(model['brier'])} vs {markup.num(base['brier'])}, log loss "
        f"{markup.num(model['log_loss'])} vs {markup.num(base['log_loss'])} for the base rate"
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
        return markup.section(
            "quality",
            markup.missing(
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
    return markup.section("quality", "".join(body))


def skipped_note(info: dict) -> str:
    """Why a target has no model (skipped at training), and which targets used a customer split."""
    parts = [
        f'<p class="note"><b>{escape(target)}: not trained.</b> {escape(reason)} Its score '
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

"""Quality on the built-in sample business: model vs baselines vs the generator's ground truth.

For each mode (subscription, retail; and churn on the usage-heavy sample) the sample is generated, ``predictor.training.train`` fits
the three models with the given config, and the held-out rows of each target are rebuilt here
(same cutoff, same customers, checked against the training's own ``TaskResult``) so that every
row can be joined to the hidden truth as of the same date: ``ground_truth`` (true expected
13-month value, true churn probability) and ``day_one_truth``. The truth is the best achievable
prediction: no model that sees only the data can do better in expectation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from bench_common import (
    MODEL,
    TRUTH,
    Progress,
    SectionResult,
    Timer,
    add_interval,
    add_ratios,
    bucket_means,
    churn_table,
    losses,
    spearman_with,
    value_table,
)
from bench_markdown import table

from predictor.config import Config
from predictor.datasets import data_span, sample_ids
from predictor.features import build_day_one_features, build_features
from predictor.labels import churn_label, day_one_label, value_label
from predictor.model_types import TaskResult
from predictor.sample import SampleBusiness, day_one_truth, generate_sample, ground_truth
from predictor.sample.usage import UsageSample, generate_usage, usage_truth
from predictor.timeline import day_one_windows
from predictor.training import churn_plan, train

LOGISTIC = "logistic_regression (bench)"
LOGISTIC_CUTOFFS = 6
"""The logistic-regression baseline is fitted on the latest few churn training cutoffs."""


class AlignmentError(RuntimeError):
    """The rebuilt held-out rows do not match the training's own held-out rows."""


@dataclass(frozen=True)
class QualitySettings:
    """Size of the sample, the config and the bootstrap draws."""

    n_customers: int
    config: Config
    config_note: str
    seed: int = 1
    n_boot: int = 200
    usage_accounts: int = 2_000
    """Accounts of the usage-heavy sample (churn only; 0 leaves it out)."""
    usage_activity: float = 1.0
    """Its usage event rate (1.0: about 4,000 events per account over the three years)."""


def _check(y: np.ndarray, result: TaskResult, model_pred: np.ndarray, task: str) -> None:
    if len(y) != len(result.y_true) or not np.allclose(y, result.y_true):
        raise AlignmentError(f"{task}: rebuilt labels differ from the training's test rows")
    if not np.allclose(model_pred, result.predictions[MODEL], rtol=1e-5, atol=1e-6):
        raise AlignmentError(f"{task}: rebuilt model predictions differ from the training's")


def _test_cutoff(result: TaskResult) -> pd.Timestamp:
    test = result.plan["test"]
    if len(test) != 1:
        raise AlignmentError(f"expected one test cutoff, got {test}")
    return pd.Timestamp(test[0])


def _cutoff_rows(labels: pd.Series, features: pd.DataFrame, config: Config) -> pd.Index:
    """The customers of a test cutoff, as ``training._frame`` picks them (salt 0)."""
    cap = config.cutoffs.max_customers_per_cutoff
    keep = sample_ids(labels.index, cap, config.model.random_state, 0)
    return keep.intersection(features.index)


def _value_block(
    business: SampleBusiness, model, result: TaskResult, settings: QualitySettings
) -> tuple[pd.DataFrame, dict]:
    config, tables = settings.config, business.tables
    cutoff = _test_cutoff(result)
    labels = value_label(tables, cutoff, config.value)
    X = build_features(tables, cutoff, config)
    ids = _cutoff_rows(labels, X, config)
    y = labels.loc[ids].to_numpy(dtype=float)
    if "refit" in result.plan:
        # held out by a model fitted before the test cutoff; the saved one is refitted on the
        # latest cutoffs (``value.learn_months``), so only the rows can be compared
        _check(y, result, result.predictions[MODEL], "value_13m")
    else:
        # the held-out predictions carry the level known at the test cutoff, the model the latest
        rescale = result.plan.get("level", model.value.level_) / model.value.level_
        _check(y, result, model.value.predict(X.loc[ids]) * rescale, "value_13m")
    truth = _event_truth(business, cutoff, config)["true_value_13m"]
    preds = dict(result.predictions)
    preds[TRUTH] = truth.reindex(ids).to_numpy(dtype=float)
    tab = add_interval(value_table(y, preds, settings.n_boot), result.plan)
    tab["spearman vs truth"] = pd.Series(spearman_with(preds, preds[TRUTH]))
    tab = add_ratios(tab, ["normalized_gini", "spearman"])
    info = {"cutoff": str(cutoff.date()), "rows": len(y), "mean_value": float(y.mean())}
    return tab, info


def _event_truth(business: SampleBusiness, cutoff: pd.Timestamp, config) -> pd.DataFrame:
    """The event sample's truth at ``cutoff`` over the configured value and churn windows."""
    return ground_truth(
        business,
        cutoff,
        value_horizon_months=config.value.horizon_months,
        churn_horizon_days=config.churn.horizon_days,
        churn_lookback_days=config.churn.lookback_days,
    )


def _churn_block(
    business: SampleBusiness | UsageSample,
    model,
    result: TaskResult,
    settings: QualitySettings,
    truth_of: Callable[[pd.Timestamp], pd.Series] | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Churn on the test cutoff; ``truth_of(cutoff)``: the true churn probabilities (default:
    the event sample's ``ground_truth``)."""
    config, tables = settings.config, business.tables
    cutoff = _test_cutoff(result)
    labels = churn_label(tables, cutoff, config.churn)
    X = build_features(tables, cutoff, config)
    ids = _cutoff_rows(labels, X, config)
    y = labels.loc[ids].to_numpy(dtype=float)
    _check(y, result, model.churn.predict_proba(X.loc[ids])[:, 1], "churn")
    if truth_of is None:
        truth = _event_truth(business, cutoff, config)["true_churn_prob"].reindex(ids)
    else:
        truth = truth_of(cutoff).reindex(ids)
    keep = truth.notna().to_numpy()
    preds = dict(result.predictions)
    preds[LOGISTIC] = _logistic_churn(business, model, X.loc[ids], settings)
    preds = {k: np.asarray(v)[keep] for k, v in preds.items()}
    preds[TRUTH] = truth.to_numpy(dtype=float)[keep]
    y = y[keep]
    tab = churn_table(y, preds)
    tab["spearman vs truth"] = pd.Series(spearman_with(preds, preds[TRUTH]))
    tab = add_ratios(tab, ["roc_auc", "pr_auc"])
    info = {
        "cutoff": str(cutoff.date()),
        "rows": int(keep.sum()),
        "dropped_outside_truth_population": int((~keep).sum()),
        "churn_rate": float(y.mean()),
    }
    return tab, info


def _logistic_churn(
    business: SampleBusiness | UsageSample, model, X_test: pd.DataFrame, settings: QualitySettings
) -> np.ndarray:
    """A logistic regression on the churn model's own features (latest training cutoffs).

    Numeric features: median-imputed with missing indicators, standardised; categorical ones
    one-hot encoded. Shows how much the boosted trees add over a linear model of the same data.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    config, tables = settings.config, business.tables
    plan = churn_plan(tables, config)
    cutoffs = (plan.train + plan.valid)[-LOGISTIC_CUTOFFS:]
    schema = model.churn.schema_
    xs, ys = [], []
    for as_of in cutoffs:
        labels = churn_label(tables, as_of, config.churn)
        feats = build_features(tables, as_of, config)
        ids = labels.index.intersection(feats.index)
        xs.append(schema.transform(feats.loc[ids]))
        ys.append(labels.loc[ids].to_numpy(dtype=int))
    X = pd.concat(xs, ignore_index=True)
    cats = [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
    nums = [c for c in X.columns if c not in cats]
    prep = ColumnTransformer(
        [
            (
                "num",
                make_pipeline(
                    SimpleImputer(strategy="median", add_indicator=True), StandardScaler()
                ),
                nums,
            ),
            ("cat", OneHotEncoder(handle_unknown="ignore"), cats),
        ]
    )
    to_str = lambda f: f.assign(**{c: f[c].astype("string").fillna("missing") for c in cats})  # noqa: E731
    nums_ok = [c for c in nums if X[c].notna().any()]
    prep.transformers[0] = (prep.transformers[0][0], prep.transformers[0][1], nums_ok)
    lr = make_pipeline(prep, LogisticRegression(max_iter=2000, C=1.0))
    lr.fit(to_str(X), np.concatenate(ys))
    return lr.predict_proba(to_str(schema.transform(X_test)))[:, 1]


def _day_one_block(
    business: SampleBusiness, model, result: TaskResult, settings: QualitySettings
) -> tuple[pd.DataFrame, dict]:
    config, tables = settings.config, business.tables
    _, end = data_span(tables, config)
    window = config.day_one.window_days
    labels = day_one_label(tables, window, config.value, end)
    signup = tables.customers.set_index("customer_id")["signup_date"].loc[labels.index]
    test = (signup > signup.max() - pd.Timedelta(days=90)).to_numpy()
    ids = labels.index[test]
    y = labels.loc[ids].to_numpy(dtype=float)
    features = build_day_one_features(tables, config)
    X = features.loc[ids]
    if "refit" in result.plan:
        # held out by a model fitted on cohorts before the test cohort; the saved one is
        # refitted on the latest cohorts (``day_one.learn_months``): only the rows compare
        _check(y, result, result.predictions[MODEL], "day_one")
    else:
        _check(y, result, model.day_one.predict(X), "day_one")
    before = labels.index[~test & _window_done(tables, config, labels.index, signup.max())]
    col = "orders__first_order_amount"
    truth = day_one_truth(
        business, window_days=window, value_horizon_months=config.value.horizon_months
    )["true_day_one_value"]
    preds = dict(result.predictions)
    if col in features.columns and len(before):
        preds["mean_by_first_order_amount (bench)"] = bucket_means(
            features.loc[before, col].fillna(0).to_numpy(dtype=float),
            labels.loc[before].to_numpy(dtype=float),
            X[col].fillna(0).to_numpy(dtype=float),
        )
    preds[TRUTH] = truth.reindex(ids).to_numpy(dtype=float)
    tab = add_interval(value_table(y, preds, settings.n_boot), result.plan)
    tab["spearman vs truth"] = pd.Series(spearman_with(preds, preds[TRUTH]))
    tab = add_ratios(tab, ["normalized_gini", "spearman"])
    info = {"test_signups": result.plan["test_signups"], "rows": len(y)}
    return tab, info


def _window_done(tables, config: Config, ids: pd.Index, last_signup: pd.Timestamp) -> np.ndarray:
    """Per id: its Day One label window ended before the test signups began."""
    windows = day_one_windows(tables.customers, config.day_one.window_days)
    ends = windows.reindex(ids) + pd.DateOffset(months=config.value.horizon_months)
    return ends.le(last_signup - pd.Timedelta(days=90)).to_numpy()


BLOCKS = {
    "value_13m": ("13-month value", _value_block),
    "churn": ("Churn risk", _churn_block),
    "day_one": ("Day One value", _day_one_block),
}


def _mode(mode: str, settings: QualitySettings, say: Progress) -> tuple[str, list[str], dict]:
    clock = Timer()
    business = generate_sample(settings.n_customers, seed=settings.seed, mode=mode)
    say(f"quality/{mode}: generated {settings.n_customers:,} customers, training")
    model, evaluation = train(business.tables, settings.config)
    train_s = clock.seconds
    parts = [f"### {mode.capitalize()} sample\n"]
    lost, data = [], {"train_seconds": train_s}
    for task, (label, block) in BLOCKS.items():
        say(f"quality/{mode}: {task} against the ground truth")
        result = evaluation.tasks[task]
        try:
            tab, info = block(business, model, result, settings)
        except AlignmentError as err:
            parts.append(f"**{label}:** not compared with the truth ({err}).\n")
            continue
        parts.append(f"**{label}** — held-out {_describe(info, result)}\n")
        parts.append(table(tab) + "\n")
        lost += losses(tab, f"sample {mode}, {label}")
        data[task] = {"table": tab.reset_index().to_dict(orient="records"), "info": info}
    parts.append(f"Training took {train_s:.0f} s (generation included).\n")
    return "\n".join(parts), lost, data


def _usage_mode(settings: QualitySettings, say: Progress) -> tuple[str, list[str], dict]:
    """Churn on the usage-heavy subscription sample (``predictor.sample.usage``)."""
    clock = Timer()
    n = settings.usage_accounts
    business = generate_usage(n, seed=settings.seed, activity=settings.usage_activity)
    events = len(business.tables.interactions)
    say(f"quality/usage: generated {n:,} accounts ({events:,} usage events), training churn")
    config = settings.config.model_copy(update={"models": ["churn"]})
    usage_settings = replace(settings, config=config)
    model, evaluation = train(business.tables, config)
    train_s = clock.seconds
    result = evaluation.tasks["churn"]

    def truth_of(cutoff: pd.Timestamp) -> pd.Series:
        horizon = config.churn.horizon_days
        return usage_truth(business, cutoff, churn_horizon_days=horizon)["true_churn_prob"]

    parts = [
        f"### Usage-heavy subscription sample\n\n{n:,} accounts, {events:,} daily usage events "
        f"(activity {settings.usage_activity:g}); churn only.\n"
    ]
    data: dict = {"train_seconds": train_s, "accounts": n, "events": events}
    try:
        tab, info = _churn_block(business, model, result, usage_settings, truth_of)
    except AlignmentError as err:
        parts.append(f"**Churn risk:** not compared with the truth ({err}).\n")
        return "\n".join(parts), [], data
    parts.append(f"**Churn risk** — held-out {_describe(info, result)}\n")
    parts.append(table(tab) + "\n")
    data["churn"] = {"table": tab.reset_index().to_dict(orient="records"), "info": info}
    parts.append(f"Training took {train_s:.0f} s (generation included).\n")
    return "\n".join(parts), losses(tab, "sample usage, Churn risk"), data


def _describe(info: dict, result: TaskResult) -> str:
    rows = result.n_rows
    where = (
        f"cutoff {info['cutoff']}"
        if "cutoff" in info
        else f"signups {info['test_signups'][0]}..{info['test_signups'][1]}"
    )
    extra = (
        f"; {info['dropped_outside_truth_population']} labelled rows outside the truth's "
        "churn population left out"
        if info.get("dropped_outside_truth_population")
        else ""
    )
    return (
        f"{where}, {info['rows']:,} rows (trained on {rows['train']:,} rows, "
        f"{rows['valid']:,} for early stopping){extra}."
    )


INTRO = """\
Each model is compared with its baselines and with the **best achievable** prediction: the
generator's hidden truth as of the same cutoff (the true expected value, the true churn
probability), which no model seeing only the data can beat in expectation. The truth rows are
scored against the same realised labels as the models. `/ best` columns are the predictor's
metric divided by the truth's (1.0 = as good as the truth); `spearman vs truth` is the rank
correlation of a predictor with the true expectation (how well it recovers the truth itself,
free of the noise of one realisation). Gini intervals: percentile bootstrap over customers.
`coverage_80` is the share of held-out customers whose actual value lies in the model's
P10-P90 interval (target 75-85%); `pinball` is the mean quantile loss of the two bounds (lower
is better), the comparable measure where most customers spend nothing and any interval that
holds zero covers them all.
"""


def run(settings: QualitySettings, say: Progress) -> SectionResult:
    """Both modes, every target; markdown with one table per target."""
    clock = Timer()
    header = (
        f"{INTRO}\nSample: {settings.n_customers:,} customers per mode (seed {settings.seed}); "
        f"config: {settings.config_note}; {settings.n_boot} bootstrap draws.\n"
    )
    parts, lost, data = [header], [], {}
    for mode in ("subscription", "retail"):
        text, mode_losses, mode_data = _mode(mode, settings, say)
        parts.append(text)
        lost += mode_losses
        data[mode] = mode_data
    if settings.usage_accounts:
        text, mode_losses, data["usage"] = _usage_mode(settings, say)
        parts.append(text)
        lost += mode_losses
    return SectionResult(
        "Quality on the sample business", "\n".join(parts), lost, data, clock.seconds
    )

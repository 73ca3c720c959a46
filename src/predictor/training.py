"""Train the Day One, 13-month value and churn models and evaluate them against baselines.

Pure orchestration of the core: no file I/O and no MLflow here. ``train`` returns the fitted
models and an ``Evaluation`` (metric tables and the held-out predictions behind the plots);
saving and tracking happen in ``predictor.pipeline``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from predictor.config import Config, ValueConfig
from predictor.contract.tables import Tables
from predictor.datasets import (
    CutoffPlan,
    Frame,
    ShortHistoryError,
    data_span,
    plan_cutoffs,
    sample_ids,
    stack,
)
from predictor.evaluation import comparison_table
from predictor.features import build_day_one_features, build_features
from predictor.features.probabilistic import fit_params
from predictor.labels import (
    churn_label,
    churn_label_end,
    churn_rule,
    day_one_label,
    order_value,
    value_label,
    value_label_end,
)
from predictor.modeling.baselines import formula_clv, recency_churn_score, trailing_value
from predictor.modeling.churn import ChurnModel
from predictor.modeling.horizon import HorizonExtension
from predictor.modeling.probabilistic import bgnbd_gg_value
from predictor.modeling.value import ValueModel
from predictor.segments import Segmenter
from predictor.timeline import day_end, day_one_windows, truncate

Progress = Callable[[str], None]
MIN_DAY_ONE_LABELS = 100
"""Fewest labelled customers the Day One model is trained on."""


@dataclass
class TaskResult:
    """Held-out evaluation of one target: metric table and the predictions behind it."""

    table: pd.DataFrame
    y_true: np.ndarray
    predictions: dict[str, np.ndarray]
    plan: dict[str, Any]
    n_rows: dict[str, int]


@dataclass
class TrainedModel:
    """The three fitted models, the segment thresholds and what describes them."""

    day_one: ValueModel
    value: ValueModel
    churn: ChurnModel
    segmenter: Segmenter
    config: Config
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class Evaluation:
    """Per-target held-out results."""

    tasks: dict[str, TaskResult]

    def metrics(self) -> dict[str, float]:
        """Flat ``{target.predictor.metric: value}`` for tracking."""
        out = {}
        for task, result in self.tasks.items():
            for predictor, row in result.table.iterrows():
                for metric, value in row.items():
                    if pd.notna(value):
                        out[f"{task}.{predictor}.{metric}"] = float(value)
        return out


def model_params(config: Config) -> dict[str, Any]:
    """Estimator keyword arguments shared by the three models."""
    m = config.model
    return {
        "n_estimators": m.n_estimators,
        "learning_rate": m.learning_rate,
        "max_depth": m.max_depth,
        "min_child_weight": m.min_child_weight,
        "subsample": m.subsample,
        "colsample_bytree": m.colsample_bytree,
        "reg_lambda": m.reg_lambda,
        "early_stopping_rounds": m.early_stopping_rounds,
        "device": m.device,
        "n_jobs": m.n_jobs,
        "random_state": m.random_state,
    }


class _FeatureCache:
    """Features per cutoff, built once and shared by the value and churn targets."""

    def __init__(self, tables: Tables, config: Config) -> None:
        self.tables, self.config, self._cache = tables, config, {}

    def __call__(self, as_of: pd.Timestamp) -> pd.DataFrame:
        if as_of not in self._cache:
            self._cache[as_of] = build_features(self.tables, as_of, self.config)
        return self._cache[as_of]

    def transient(self, as_of: pd.Timestamp) -> pd.DataFrame:
        """Features of a cutoff, cached or built without being kept (bounded memory)."""
        if as_of in self._cache:
            return self._cache[as_of]
        return build_features(self.tables, as_of, self.config)


def _frame(
    cutoffs: list[pd.Timestamp],
    features: Callable[[pd.Timestamp], pd.DataFrame],
    label: Callable[[pd.Timestamp], pd.Series],
    config: Config,
    limit: int | None = None,
) -> Frame:
    """Stacked rows of ``cutoffs``; at most ``limit`` (or the configured cap) customers each."""
    cap = config.cutoffs.max_customers_per_cutoff
    if limit is not None:
        cap = limit if cap is None else min(cap, limit)
    parts = []
    for i, as_of in enumerate(cutoffs):
        y = label(as_of)
        keep = sample_ids(y.index, cap, config.model.random_state, i)
        parts.append((as_of, features(as_of), y.loc[keep]))
    return stack(parts)


def _split_valid(frame: Frame, seed: int) -> tuple[Frame, Frame]:
    """When there is a single training cutoff, hold out 20% of customers for early stopping."""
    rng = np.random.default_rng(seed)
    mask = rng.random(len(frame)) < 0.2
    take = lambda m: Frame(frame.X[m].reset_index(drop=True), frame.y[m], frame.meta[m])  # noqa: E731
    return take(~mask), take(mask)


def _value_orders(tables: Tables, config: Config) -> pd.DataFrame:
    orders = tables.orders.copy()
    orders["value"] = order_value(orders, config.value).to_numpy()
    return orders


def _value_baselines(
    tables: Tables, orders: pd.DataFrame, as_of: pd.Timestamp, ids: pd.Index, months: int
) -> dict[str, np.ndarray]:
    """Value predictions of the marketer's baselines for ``ids`` over ``months`` from a cutoff."""
    customers = tables.customers
    horizon_days = (
        day_end(pd.Timestamp(as_of) + pd.DateOffset(months=months)) - day_end(as_of)
    ).days
    first = customers.set_index("customer_id")["signup_date"]
    first = first[first <= day_end(as_of)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bg = bgnbd_gg_value(orders, as_of, horizon_days, first_dates=first, value_col="value")
    out = {
        "trailing_13m": trailing_value(orders, customers, as_of, months=months, value_col="value"),
        "formula_clv": formula_clv(
            orders, customers, as_of, horizon_months=months, value_col="value"
        ),
        "bgnbd_gamma_gamma": bg["expected_value"],
    }
    return {k: v.reindex(ids).fillna(0.0).to_numpy(dtype=float) for k, v in out.items()}


def value_horizon(
    first: pd.Timestamp, end: pd.Timestamp, config: Config, what: str = "value_13m"
) -> tuple[CutoffPlan, ValueConfig]:
    """The cutoff plan at the configured value horizon, else at the longest shorter one.

    A young business may not hold one complete label window of the full horizon; then the
    longest horizon (in whole months) with a leak-free plan is learned instead, and the caller
    extends it (``modeling.horizon``). Raises ``ShortHistoryError`` when not even one month fits.
    """
    months = config.value.horizon_months
    for m in range(months, 0, -1):
        cfg = config.value.model_copy(update={"horizon_months": m})
        try:
            plan = plan_cutoffs(
                first, end, lambda c, v=cfg: value_label_end(c, v), config.cutoffs, what
            )
        except ShortHistoryError:
            continue
        return plan, cfg
    raise ShortHistoryError(
        f"{what}: the data ({first.date()} to {end.date()}) is too short for even a 1-month "
        f"value label window with {config.cutoffs.min_history_days} days of history before the "
        "first cutoff; collect more history or lower cutoffs.min_history_days"
    )


def _train_value(
    tables: Tables, config: Config, features: _FeatureCache, progress: Progress
) -> tuple[ValueModel, TaskResult]:
    first, end = data_span(tables, config)
    plan, vcfg = value_horizon(first, end, config)
    months = vcfg.horizon_months
    if months < config.value.horizon_months:
        progress(
            f"value_13m: SHORT HISTORY - no complete {config.value.horizon_months}-month label "
            f"window before {end.date()}; learning {months}-month value and extending it with "
            "the BG/NBD time profile"
        )
    label = lambda c: value_label(tables, c, vcfg)  # noqa: E731
    progress(f"value_13m: building frames for {len(plan.train) + len(plan.valid)} cutoffs")
    train = _frame(plan.train, features, label, config)
    valid = _frame(plan.valid, features, label, config)
    if not len(valid):
        train, valid = _split_valid(train, config.model.random_state)
    test = _frame(plan.test, features, label, config)
    progress(f"value_13m: fitting on {len(train):,} rows")
    model = ValueModel(
        objective=config.model.value_objective,
        tweedie_variance_power=config.model.tweedie_variance_power,
        **model_params(config),
    ).fit(train.X, train.y, eval_set=(valid.X, valid.y))
    orders = _value_orders(tables, config)
    preds = {"model": model.predict(test.X)}
    for as_of in plan.test:
        mask = (test.meta["as_of"] == as_of).to_numpy()
        ids = pd.Index(test.meta.loc[mask, "customer_id"])
        for name, values in _value_baselines(tables, orders, as_of, ids, months).items():
            preds.setdefault(name, np.zeros(len(test)))[mask] = values
    preds["constant_mean"] = np.full(len(test), train.y.mean())
    result = _task_result(test, preds, "value", plan, train, valid)
    result.plan["horizon_months"] = months
    return model, result


def churn_plan(tables: Tables, config: Config) -> CutoffPlan:
    """The churn cutoff plan: up to ``cutoffs.churn_max_cutoffs`` training cutoffs."""
    first, end = data_span(tables, config)
    n = config.cutoffs.churn_max_cutoffs or config.cutoffs.max_cutoffs
    cfg = config.cutoffs.model_copy(update={"max_cutoffs": n})
    return plan_cutoffs(first, end, lambda c: churn_label_end(c, config.churn), cfg, "churn")


def _per_cutoff_limit(config: Config, n_cutoffs: int) -> int | None:
    """Customers per churn cutoff so the fitting rows stay within ``churn_max_rows``."""
    total = config.cutoffs.churn_max_rows
    return None if total is None else max(100, total // max(1, n_cutoffs))


def calibration_folds(
    meta: pd.DataFrame, label_end: Callable[[pd.Timestamp], pd.Timestamp], n_folds: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Out-of-fold pairs over the latest ``n_folds`` cutoffs of stacked rows (``meta.as_of``).

    Each held-out cutoff is paired with the rows of every cutoff whose label window ended by
    that cutoff's day, so the fold model never saw an outcome from after the held-out cutoff.
    """
    as_of = pd.to_datetime(meta["as_of"]).to_numpy()
    cutoffs = sorted(pd.unique(meta["as_of"]))
    folds = []
    for held in cutoffs[-n_folds:]:
        held = pd.Timestamp(held)
        known = [c for c in cutoffs if label_end(pd.Timestamp(c)) <= day_end(held)]
        fit_rows = np.flatnonzero(np.isin(as_of, np.array(known, dtype=as_of.dtype)))
        held_rows = np.flatnonzero(as_of == np.datetime64(held))
        if len(fit_rows) and len(held_rows):
            folds.append((fit_rows, held_rows))
    return folds


def _train_churn(
    tables: Tables, config: Config, features: _FeatureCache, progress: Progress
) -> tuple[ChurnModel, TaskResult]:
    plan = churn_plan(tables, config)
    label = lambda c: churn_label(tables, c, config.churn)  # noqa: E731
    limit = _per_cutoff_limit(config, len(plan.train) + len(plan.valid))
    progress(f"churn: building frames for {len(plan.train) + len(plan.valid)} cutoffs")
    # many churn-only cutoffs: their full feature frames are not kept after sampling
    train = _frame(plan.train, features.transient, label, config, limit)
    valid = _frame(plan.valid, features.transient, label, config, limit)
    if not len(valid):
        train, valid = _split_valid(train, config.model.random_state)
    test = _frame(plan.test, features.transient, label, config)
    folds = calibration_folds(
        pd.concat([train.meta, valid.meta], ignore_index=True),
        lambda c: churn_label_end(c, config.churn),
        config.model.calibration_cutoffs,
    )
    progress(f"churn: fitting on {len(train):,} rows")
    model = ChurnModel(
        calibration=config.model.calibration,
        calibration_min_positives=config.model.calibration_min_positives,
        **model_params(config),
    ).fit(train.X, train.y, eval_set=(valid.X, valid.y), calibration_folds=folds)
    preds = {"model": model.predict_proba(test.X)[:, 1]}
    recency = np.zeros(len(test))
    for as_of in plan.test:
        mask = (test.meta["as_of"] == as_of).to_numpy()
        ids = pd.Index(test.meta.loc[mask, "customer_id"])
        score = recency_churn_score(tables.orders, tables.customers, as_of)
        recency[mask] = score.reindex(ids).fillna(1.0).to_numpy(dtype=float)
    preds["recency_rule"] = recency
    preds["base_rate"] = np.full(len(test), train.y.mean())
    return model, _task_result(test, preds, "churn", plan, train, valid)


def _first_order_bucket_baseline(
    train_X: pd.DataFrame, train_y: np.ndarray, test_X: pd.DataFrame
) -> np.ndarray:
    """Mean training value per decile of first-order amount (a marketer's Day One rule)."""
    col = next((c for c in train_X.columns if c.startswith("orders__first_order_amount")), None)
    if col is None:
        return np.full(len(test_X), train_y.mean())
    edges = np.unique(np.nanquantile(train_X[col].to_numpy(dtype=float), np.linspace(0, 1, 11)))
    bucket = lambda x: np.digitize(np.nan_to_num(x.to_numpy(dtype=float), nan=-1e9), edges)  # noqa: E731
    means = pd.Series(train_y).groupby(bucket(train_X[col])).mean()
    return pd.Series(bucket(test_X[col])).map(means).fillna(train_y.mean()).to_numpy()


def day_one_horizon(tables: Tables, config: Config, end: pd.Timestamp) -> tuple[pd.Series, int]:
    """Day One labels at the configured horizon, else at the longest shorter one with labels.

    Needs at least ``MIN_DAY_ONE_LABELS`` labelled customers; raises ``ShortHistoryError``
    when even a 1-month window after the Day One window is complete for too few customers.
    """
    window = config.day_one.window_days
    for m in range(config.value.horizon_months, 0, -1):
        cfg = config.value.model_copy(update={"horizon_months": m})
        labels = day_one_label(tables, window, cfg, end)
        if len(labels) >= MIN_DAY_ONE_LABELS:
            return labels, m
    raise ShortHistoryError(
        f"day_one: fewer than {MIN_DAY_ONE_LABELS} customers have even one complete month "
        f"after their {window}-day Day One window (data ends {end.date()})"
    )


def _train_day_one(
    tables: Tables, config: Config, progress: Progress
) -> tuple[ValueModel, TaskResult]:
    first, end = data_span(tables, config)
    labels, months = day_one_horizon(tables, config, end)
    if months < config.value.horizon_months:
        progress(
            f"day_one: SHORT HISTORY - too few complete {config.value.horizon_months}-month "
            f"windows; learning {months}-month value, extended with the BG/NBD time profile"
        )
    progress(f"day_one: building Day One features for {len(tables.customers):,} customers")
    features = build_day_one_features(tables, config).loc[labels.index]
    signup = tables.customers.set_index("customer_id")["signup_date"].loc[labels.index]
    window_end = day_one_windows(tables.customers, config.day_one.window_days).loc[labels.index]
    test_start = max(signup.max() - pd.Timedelta(days=90), signup.quantile(0.7))
    test = (signup > test_start).to_numpy()
    label_end = window_end + pd.DateOffset(months=months)
    eligible = (label_end <= test_start).to_numpy() & ~test
    if eligible.sum() < 50:
        eligible = ~test
    order = np.argsort(signup.to_numpy()[eligible], kind="stable")
    n_valid = max(1, len(order) // 5)
    idx = np.flatnonzero(eligible)[order]
    tr, va = idx[:-n_valid], idx[-n_valid:]
    y = labels.to_numpy(dtype=float)
    X = features.reset_index(drop=True)
    progress(f"day_one: fitting on {len(tr):,} customers")
    model = ValueModel(
        objective=config.model.value_objective,
        tweedie_variance_power=config.model.tweedie_variance_power,
        **model_params(config),
    ).fit(X.iloc[tr], y[tr], eval_set=(X.iloc[va], y[va]))
    te = np.flatnonzero(test)
    preds = {
        "model": model.predict(X.iloc[te]),
        "mean_by_first_order": _first_order_bucket_baseline(X.iloc[tr], y[tr], X.iloc[te]),
        "constant_mean": np.full(len(te), y[tr].mean()),
    }
    plan = {
        "train_signups": [str(signup.iloc[tr].min().date()), str(signup.iloc[tr].max().date())],
        "valid_signups": [str(signup.iloc[va].min().date()), str(signup.iloc[va].max().date())],
        "test_signups": [str(signup.iloc[te].min().date()), str(signup.iloc[te].max().date())],
    }
    plan["horizon_months"] = months
    table = comparison_table(y[te], preds, "value")
    rows = {"train": len(tr), "valid": len(va), "test": len(te)}
    return model, TaskResult(table, y[te], preds, plan, rows)


def _task_result(
    test: Frame,
    preds: dict[str, np.ndarray],
    kind: str,
    plan: CutoffPlan,
    train: Frame,
    valid: Frame,
) -> TaskResult:
    table = comparison_table(test.y, preds, kind)
    rows = {"train": len(train), "valid": len(valid), "test": len(test)}
    return TaskResult(table, test.y, preds, plan.as_dict(), rows)


def train(
    tables: Tables, config: Config, progress: Progress | None = None
) -> tuple[TrainedModel, Evaluation]:
    """Fit the three models on time-split training frames and evaluate them on held-out cutoffs.

    Raises ``ShortHistoryError`` with a plain explanation when the data holds no complete label
    window for a target.
    """
    say = progress or (lambda _msg: None)
    features = _FeatureCache(tables, config)
    value_model, value_result = _train_value(tables, config, features, say)
    churn_model, churn_result = _train_churn(tables, config, features, say)
    day_one_model, day_one_result = _train_day_one(tables, config, say)
    first, end = data_span(tables, config)
    bgnbd = _final_bgnbd_params(tables, end, config)
    full = config.value.horizon_months
    methods = {}
    for name, est, result in (
        ("value", value_model, value_result),
        ("day_one", day_one_model, day_one_result),
    ):
        months = int(result.plan["horizon_months"])
        methods[name] = _extend(est, bgnbd, months, full, say, name)
    segmenter = _fit_segmenter(tables, config, features, value_model, churn_result)
    info = {
        "churn_rule": churn_rule(tables, config.churn),
        "value_method": methods["value"],
        "day_one_method": methods["day_one"],
        "value_trained_horizon_months": int(value_result.plan["horizon_months"]),
        "day_one_trained_horizon_months": int(day_one_result.plan["horizon_months"]),
        "value_kind": value_model.kind_,
        "day_one_kind": day_one_model.kind_,
        "churn_calibrated": churn_model.calibrator_ is not None,
        "churn_calibration": churn_model.calibration_check_,
        "bgnbd_params": bgnbd,
        "data_start": str(first.date()),
        "data_end": str(end.date()),
    }
    model = TrainedModel(day_one_model, value_model, churn_model, segmenter, config, info)
    evaluation = Evaluation(
        {"day_one": day_one_result, "value_13m": value_result, "churn": churn_result}
    )
    return model, evaluation


def _fit_segmenter(
    tables: Tables,
    config: Config,
    features: _FeatureCache,
    value_model: ValueModel,
    churn_result: TaskResult,
) -> Segmenter:
    """Segment and band thresholds from the customers active at the latest held-out cutoff.

    The mean predicted value of those customers and their observed churn rate are what the
    relative rules are multiples of (see ``predictor.segments``).
    """
    cutoff = pd.Timestamp(churn_result.plan["test"][-1])
    labels = churn_label(tables, cutoff, config.churn)
    frame = features(cutoff)
    active = frame.loc[frame.index.isin(labels.index)]
    value = value_model.predict(active) if len(active) else np.zeros(0)
    rate = float(labels.mean()) if len(labels) else 0.0
    return Segmenter.fit(value, rate, config.segments, reference=str(cutoff.date()))


def _final_bgnbd_params(
    tables: Tables, end: pd.Timestamp, config: Config
) -> dict[str, float] | None:
    """BG/NBD parameters on all training data: used by scoring features and horizon extension."""
    visible = truncate(tables, end)
    ids = pd.Index(visible.customers["customer_id"], name="customer_id")
    return fit_params(visible, pd.Series(day_end(end), index=ids), config.model.random_state)


def _extend(
    model: ValueModel,
    params: dict[str, float] | None,
    months: int,
    full: int,
    say: Progress,
    name: str,
) -> str:
    """Attach the BG/NBD horizon extension when fewer than ``full`` months were learned."""
    if months >= full:
        return "xgboost"
    if params is None:
        raise ShortHistoryError(
            f"{name}: only {months} month(s) of value could be learned and the BG/NBD model "
            "needed to extend it to the full horizon cannot be fitted (no repeat purchases)"
        )
    model.extend_horizon(HorizonExtension(dict(params), months, full))
    say(f"{name}: {months}-month model extended to {full} months by the BG/NBD time profile")
    return f"xgboost_{months}m_extended_by_bgnbd"

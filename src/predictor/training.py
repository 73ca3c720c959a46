"""Train the Day One, 13-month value and churn models and evaluate them against baselines.

Pure orchestration of the core: no file I/O and no MLflow here. ``train`` returns the fitted
models and an ``Evaluation`` (metric tables and the held-out predictions behind the plots);
saving and tracking happen in the training job (``predictor.jobs``).

Training adapts to what the data supports: a target without a complete label window, with one
class only, too few rows or positives, or non-finite held-out metrics is skipped with its
reason (``info["skipped"]``), or is an ``UnsupportedTargetError`` when the user asked for it
(``config.models``). A model is never returned with a degenerate evaluation.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from contextlib import suppress
from typing import Any, Protocol

import numpy as np
import pandas as pd

from predictor.config import Config, ValueConfig
from predictor.contract.tables import Tables
from predictor.customer_sample import customer_sample
from predictor.datasets import (
    CUSTOMER_SPLIT,
    CUSTOMER_TEST_SHARE,
    INNER_VALID_SHARE,
    TIME_SPLIT,
    CutoffPlan,
    Frame,
    ShortHistoryError,
    both_classes,
    calibration_folds,
    candidate_cutoffs,
    data_span,
    day_one_cohort_plan,
    drift_cutoffs,
    plan_cutoffs,
    sample_ids,
    split_frame,
    stack,
)
from predictor.evaluation import comparison_table
from predictor.features import FIT, EncodedTables, build_day_one_features, build_features
from predictor.features.probabilistic import fit_params
from predictor.labels import (
    churn_label,
    churn_label_end,
    churn_population,
    churn_rule,
    day_one_label,
    order_value,
    value_label,
    value_label_end,
)
from predictor.model_types import Evaluation, TaskResult, TrainedModel
from predictor.modeling.baselines import formula_clv, recency_churn_score, trailing_value
from predictor.modeling.churn import ChurnModel
from predictor.modeling.horizon import HorizonExtension
from predictor.modeling.intervals import interval_metrics
from predictor.modeling.level import (
    RECENT_MONTHS,
    LevelRule,
    WindowTotals,
    combine,
    drift,
    prior_ratio,
    total_ratio,
    window_ratio,
)
from predictor.modeling.probabilistic import bgnbd_gg_value
from predictor.modeling.value import ValueModel
from predictor.segments import Segmenter
from predictor.timeline import day_end, day_one_windows, horizon_days, truncate

Progress = Callable[[str], None]
StepProgress = Callable[[str, int, int], None]
"""``on_step(target, done, total)``: a training step (one cutoff's frame, or a fit) is done."""


class _Steps:
    """Counts the steps of one target and reports each to an optional ``StepProgress``."""

    def __init__(self, on_step: StepProgress | None, target: str, total: int) -> None:
        self.on_step, self.target, self.total, self.done = on_step, target, total, 0
        self._report()

    def tick(self) -> None:
        self.done += 1
        self._report()

    def _report(self) -> None:
        if self.on_step is not None:
            self.on_step(self.target, self.done, self.total)


def _no_steps() -> _Steps:
    return _Steps(None, "", 0)


MIN_DAY_ONE_LABELS = 100
MODEL_ROW = "model"
"""Fewest labelled customers the Day One model is trained on."""
MIN_TRAIN_ROWS = 50
"""Fewest training rows (customers x cutoffs) a value or churn model is fitted on."""
MIN_TRAIN_CLASS_ROWS = 10
"""Fewest churners, and fewest customers who stayed, among the churn training rows."""
MIN_TEST_ROWS = 30
"""Fewest held-out rows a target is evaluated (and so registered) on."""
MIN_TEST_CLASS_ROWS = 5
"""Fewest churners, and fewest who stayed, among the held-out churn rows."""


class UnsupportedTargetError(ShortHistoryError):
    """The data cannot support a target: no complete label window, one class, too few rows.

    ``target`` names it; the message says why and what would help.
    """

    def __init__(self, target: str, reason: str) -> None:
        super().__init__(f"{target}: {reason}")
        self.target, self.reason = target, reason


class FeatureCache:
    """Features per cutoff, built once and shared by the value and churn targets.

    The event tables are encoded once (``EncodedTables``) for all cutoffs of the run.
    ``bgnbd_params`` is ``build_features``'s: ``FIT`` (training) fits the ``bgnbd`` family at
    each cutoff on these tables; ``None`` leaves it out (a Spark bucket, whose family is fitted
    on every bucket's customers afterwards, ``spark_training``).
    """

    def __init__(self, tables: Tables, config: Config, bgnbd_params: str | None = FIT) -> None:
        self.tables, self.config, self._cache = tables, config, {}
        self.encoded = EncodedTables(tables)
        self.bgnbd_params = bgnbd_params

    def __call__(self, as_of: pd.Timestamp) -> pd.DataFrame:
        """Features of a cutoff, built on first use and kept for the run."""
        if as_of not in self._cache:
            self._cache[as_of] = self._build(as_of)
        return self._cache[as_of]

    def transient(self, as_of: pd.Timestamp) -> pd.DataFrame:
        """Features of a cutoff, cached or built without being kept (bounded memory)."""
        if as_of in self._cache:
            return self._cache[as_of]
        return self._build(as_of)

    def _build(self, as_of: pd.Timestamp) -> pd.DataFrame:
        return build_features(
            self.tables, as_of, self.config, self.bgnbd_params, encoded=self.encoded
        )


class FeatureSource(Protocol):
    """Where ``train`` gets a cutoff's feature frame (``FeatureCache``, or Spark's frames)."""

    def __call__(self, as_of: pd.Timestamp) -> pd.DataFrame:
        """Features of a cutoff, kept for later calls."""
        ...

    def transient(self, as_of: pd.Timestamp) -> pd.DataFrame:
        """Features of a cutoff, not necessarily kept (bounded memory)."""
        ...


def planned_cutoffs(tables: Tables, config: Config) -> list[pd.Timestamp]:
    """The cutoffs whose feature frames ``train`` builds for its value and churn targets.

    The value plan (and the fresh-value cutoffs with ``value.learn_months``, with the
    'horizon' level's ``horizon_cutoffs``), the churn plan and the data's end, sorted. Built
    ahead in one pass by the Spark engine; a cutoff only a level rule or a fallback asks for
    (``drift_cutoffs``, the churn customer split) is not listed and is built when asked.
    """
    first, end = data_span(tables, config)
    found = {end}
    plans: list[CutoffPlan] = []
    learn = config.value.learn_months
    if "value_13m" in config.targets:
        with suppress(ShortHistoryError):
            plan, vcfg = value_horizon(first, end, config)
            plans.append(plan)
            if vcfg.horizon_months < config.value.horizon_months and config.value.short_refit:
                found.update(c for part in _fresh_cutoffs(first, end, config, vcfg) for c in part)
            elif learn is not None and learn < config.value.horizon_months:
                short = config.value.model_copy(update={"horizon_months": learn})
                for limit in (plans[-1].test[0], end):
                    train, valid = _fresh_cutoffs(first, limit, config, short)
                    found.update([*train, *valid])
                    if config.value.level == "horizon":
                        found.update(horizon_cutoffs(first, limit, config))
    if "churn" in config.targets:
        with suppress(ShortHistoryError):
            plans.append(churn_plan(tables, config))
    for plan in plans:
        found.update([*plan.train, *plan.valid, *plan.test])
    return sorted(pd.Timestamp(c) for c in found)


def _frame(
    cutoffs: list[pd.Timestamp],
    features: Callable[[pd.Timestamp], pd.DataFrame],
    label: Callable[[pd.Timestamp], pd.Series],
    config: Config,
    steps: _Steps | None = None,
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
        (steps or _no_steps()).tick()
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
    horizon = horizon_days(as_of, months)
    first = customers.set_index("customer_id")["signup_date"]
    first = first[first <= day_end(as_of)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bg = bgnbd_gg_value(orders, as_of, horizon, first_dates=first, value_col="value")
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
    tables: Tables,
    config: Config,
    features: FeatureSource,
    progress: Progress,
    on_step: StepProgress | None = None,
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
    learn = config.value.learn_months
    # only with a complete full-horizon label to judge it on (else: the short-history path)
    if learn is not None and learn < months == config.value.horizon_months:
        fresh = _train_fresh_value(tables, config, features, progress, on_step, plan, learn)
        if fresh is not None:
            return fresh
    label = lambda c: value_label(tables, c, vcfg)  # noqa: E731
    progress(f"value_13m: building frames for {len(plan.train) + len(plan.valid)} cutoffs")
    steps = _Steps(on_step, "value_13m", len(plan.train) + len(plan.valid) + len(plan.test) + 1)
    train = _frame(plan.train, features, label, config, steps)
    valid = _frame(plan.valid, features, label, config, steps)
    if not len(valid):
        train, valid = _split_valid(train, config.model.random_state)
    test = _frame(plan.test, features, label, config, steps)
    check_rows("value_13m", train.y, MIN_TRAIN_ROWS, "training")
    check_rows("value_13m", test.y, MIN_TEST_ROWS, "held-out")
    progress(f"value_13m: fitting on {len(train):,} rows")
    model = _value_model(config).fit(train.X, train.y, eval_set=(valid.X, valid.y))
    steps.tick()
    orders = _value_orders(tables, config)
    baselines: dict[str, np.ndarray] = {}
    for as_of in plan.test:
        mask = (test.meta["as_of"] == as_of).to_numpy()
        ids = pd.Index(test.meta.loc[mask, "customer_id"])
        for name, values in _value_baselines(tables, orders, as_of, ids, months).items():
            baselines.setdefault(name, np.zeros(len(test)))[mask] = values
    # the validation level is stale only when it is a full horizon old (not in the short-history
    # case, where the validation cutoff is a few months back and 3-month drift is mostly noise)
    full = model.level_correction and months == config.value.horizon_months
    short = model.level_correction and months < config.value.horizon_months
    # the window rules need a model of fewer months than the windows: on a full-horizon model
    # they are their validation-cutoff counterparts
    rule = FULL_HORIZON_RULE.get(config.value.level, config.value.level) if full else "validation"
    validation_level = model.level_
    raw_test = model.predict_raw(test.X)
    if short and config.value.short_level == "window":
        rule, level_at_test = _short_level(
            model, tables, features, config, [*plan.train, *plan.valid], months, plan.test[0]
        )
    else:
        level_at_test = _level(
            rule,
            validation_level,
            lambda: _recent_level(model, tables, features, config, months, valid, plan.test[0]),
            lambda: prior_ratio(baselines["bgnbd_gamma_gamma"], raw_test),
        )
    model.set_level(level_at_test)
    preds = {"model": model.predict(test.X)} | baselines
    preds["constant_mean"] = np.full(len(test), train.y.mean())
    result = _task_result(test, preds, "value", plan, train, valid)
    result.plan |= _add_interval_metrics(result.table, test.y, *model.predict_interval(test.X))
    result.plan["horizon_months"] = months
    result.plan["level"] = level_at_test
    result.plan["level_validation"] = validation_level
    result.plan["level_rule"] = rule
    if rule == "window":
        # the saved model: the same pooled windows, computed at the data's end
        cutoffs = [*plan.train, *plan.valid, *plan.test]
        model.set_level(_short_level(model, tables, features, config, cutoffs, months, end)[1])
    elif rule != "validation":
        # the saved model: the test cutoff's level, carried to the data's end the same way
        model.set_level(
            _level(
                rule,
                total_ratio(test.y, raw_test),
                lambda: _recent_level(model, tables, features, config, months, test, end),
                lambda: _prior_level(model, tables, orders, features, end, months),
            )
        )
    check_finite("value_13m", result.table, ("normalized_gini", "mae"))
    if months < config.value.horizon_months and config.value.short_refit:
        model = _refit_short(model, tables, features, config, vcfg, plan, result, progress)
    return model, result


FULL_HORIZON_RULE: dict[str, LevelRule] = {
    "window": "validation",
    "window_blend": "blend",
    "horizon": "blend",
}
YEAR_DAYS = 365


def _refit_short(
    model: ValueModel,
    tables: Tables,
    features: FeatureSource,
    config: Config,
    vcfg: ValueConfig,
    plan: CutoffPlan,
    result: TaskResult,
    progress: Progress,
) -> ValueModel:
    """Short history: the saved model refitted on every cutoff whose short label has closed.

    The held-out check can only train on cutoffs whose label ends by its test cutoff (on a
    young business often a single one); the saved model may use every later cutoff too, the
    latest for early stopping (benchmarks/analysis.md, "Value: short history, window level,
    bins"). The level is computed at the data's end the way the check computed it at its test
    cutoff. Returns ``model`` unchanged when the refit would add no training cutoff.
    """
    first, end = data_span(tables, config)
    fit_train, fit_valid = _fresh_cutoffs(first, end, config, vcfg)
    if len(fit_train) <= len(plan.train):
        return model
    months = vcfg.horizon_months
    label = lambda c: value_label(tables, c, vcfg)  # noqa: E731
    train = _frame(fit_train, features, label, config)
    valid = _frame(fit_valid, features, label, config)
    progress(f"value_13m: refitting on the {len(fit_train)} latest cutoffs ({len(train):,} rows)")
    final = _value_model(config, objective=model.kind_)
    final.fit(train.X, train.y, eval_set=(valid.X, valid.y))
    if config.value.short_level == "window":
        cutoffs = [*fit_train, *fit_valid]
        _, level = _short_level(final, tables, features, config, cutoffs, months, end)
        final.set_level(level)
    result.plan["refit"] = {
        "train": [str(c.date()) for c in fit_train],
        "valid": [str(c.date()) for c in fit_valid],
        "level": final.level_,
    }
    return final


def closed_months(as_of: pd.Timestamp, now: pd.Timestamp, longest: int) -> int:
    """Whole months (at most ``longest``) after ``as_of`` whose value label has closed by ``now``."""
    closed = [
        m
        for m in range(1, longest + 1)
        if value_label_end(as_of, ValueConfig(horizon_months=m)) <= day_end(now)
    ]
    return max(closed, default=0)


def _short_level(
    model: ValueModel,
    tables: Tables,
    features: FeatureSource,
    config: Config,
    cutoffs: list[pd.Timestamp],
    learn: int,
    now: pd.Timestamp,
    params: dict[str, float] | None = None,
) -> tuple[str, float]:
    """The short-history level at ``now``: ('window', ratio), else ('validation', its ratio).

    For each cutoff whose window closed by ``now`` is longer than the ``learn`` months the model
    learned, the actual spend over that window against the model's unscaled prediction extended
    to it by the BG/NBD profile fitted at ``now``, the one the saved model is extended with
    (``modeling.level.window_ratio``; BG/NBD fitted at each cutoff instead was worse on every
    set, benchmarks/analysis.md). Reads nothing after ``now``. Falls back to the model's
    validation level when no such window exists. ``params``: BG/NBD at ``now`` when already
    fitted.
    """
    visible = truncate(tables, now)
    params = params or _final_bgnbd_params(visible, now, config)
    totals = []
    for as_of in cutoffs:
        months = closed_months(as_of, now, config.value.horizon_months)
        if params is None or months <= learn:
            continue
        y = value_label(visible, as_of, config.value.model_copy(update={"horizon_months": months}))
        X = features.transient(as_of)
        ids = y.index.intersection(X.index)
        if not len(ids):
            continue
        pred = model.predict_raw(X.loc[ids]) * HorizonExtension(params, learn, months).factor(
            X.loc[ids]
        )
        totals.append(WindowTotals(float(y.loc[ids].sum()), float(pred.sum())))
    ratio = window_ratio(totals)
    return ("window", ratio) if np.isfinite(ratio) else ("validation", model.level_)


def _value_model(config: Config, fresh: bool = False, **own: Any) -> ValueModel:
    """An unfitted 13-month value model (``own`` overrides the configured settings).

    Its tree limits are ``value.max_depth`` / ``value.min_child_weight`` when set: value labels
    are sparse (most customers spend nothing in a few months), and smaller trees with larger
    leaves ranked better on every held-out set measured and sized the retail deciles better
    (benchmarks/analysis.md, "Value: smaller trees").

    Per-bin reshaping (``value.bin_levels``) only for the model of ``value.learn_months`` on the
    latest cutoffs (``fresh``): in the short-history case one short validation window is too
    noisy to shape by (benchmarks/analysis.md, "Value: short history, window level, bins").
    """
    bins = fresh and config.value.bin_levels
    limits = {
        "max_depth": config.value.max_depth,
        "min_child_weight": config.value.min_child_weight,
    }
    limits = {k: v for k, v in limits.items() if v is not None}
    return ValueModel.from_config(config.model, bin_levels=bins, **(limits | own))


def _fresh_cutoffs(
    first: pd.Timestamp, limit: pd.Timestamp, config: Config, cfg: ValueConfig
) -> tuple[list[pd.Timestamp], list[pd.Timestamp]]:
    """The latest training cutoffs (and one for validation) whose label ends by ``limit``."""
    label_end = lambda c: value_label_end(c, cfg)  # noqa: E731
    cutoffs = candidate_cutoffs(first, limit, label_end, config.cutoffs)
    cutoffs = cutoffs[-(config.cutoffs.max_cutoffs + 1) :]
    return cutoffs[:-1], cutoffs[-1:]


def _train_fresh_value(
    tables: Tables,
    config: Config,
    features: FeatureSource,
    progress: Progress,
    on_step: StepProgress | None,
    plan: CutoffPlan,
    learn: int,
) -> tuple[ValueModel, TaskResult] | None:
    """Learn ``learn``-month value on the latest cutoffs; judged on the full horizon.

    The full-horizon label of a cutoff closes a whole horizon later, so a model of it learns
    from a business at least that much older than the one it scores; on an ageing base it ranks
    worse and runs low (benchmarks/analysis.md, "Value level"). A short label lets the model
    learn from the latest cutoffs; ``train`` extends it by the BG/NBD time profile.

    Held-out evaluation: a model fitted only on cutoffs whose short label ends by the test
    cutoff, extended with BG/NBD fitted at the test cutoff, against the full-horizon label there.
    The returned model is refitted the same way on the latest cutoffs before the data's end,
    with the objective the held-out check chose (``plan["objective"]``).
    None (the caller learns the whole horizon) when there are too few cutoffs or BG/NBD
    cannot be fitted at a test cutoff.
    """
    first, end = data_span(tables, config)
    full = config.value.horizon_months
    short = config.value.model_copy(update={"horizon_months": learn})
    test_cut = plan.test[0]
    ev_train, ev_valid = _fresh_cutoffs(first, test_cut, config, short)
    fit_train, fit_valid = _fresh_cutoffs(first, end, config, short)
    params = {c: _final_bgnbd_params(tables, c, config) for c in [*plan.test, end]}
    if not (ev_train and fit_train) or any(p is None for p in params.values()):
        return None
    end_params = params[end]
    progress(
        f"value_13m: learning {learn}-month value on the latest cutoffs, extended to {full} "
        "months by the BG/NBD time profile"
    )
    label_short = lambda c: value_label(tables, c, short)  # noqa: E731
    label_full = lambda c: value_label(tables, c, config.value)  # noqa: E731
    n_steps = len(ev_train) + len(fit_train) + len(plan.test) + 5
    steps = _Steps(on_step, "value_13m", n_steps)
    train = _frame(ev_train, features, label_short, config, steps)
    valid = _frame(ev_valid, features, label_short, config, steps)
    test = _frame(plan.test, features, label_full, config, steps)
    check_rows("value_13m", train.y, MIN_TRAIN_ROWS, "training")
    check_rows("value_13m", test.y, MIN_TEST_ROWS, "held-out")
    progress(f"value_13m: fitting the held-out check on {len(train):,} rows")
    model = _value_model(config, fresh=True).fit(train.X, train.y, eval_set=(valid.X, valid.y))
    steps.tick()
    orders = _value_orders(tables, config)
    baselines: dict[str, np.ndarray] = {}
    extended = np.zeros(len(test))  # the model's unscaled prediction, extended to the horizon
    for as_of in plan.test:
        mask = (test.meta["as_of"] == as_of).to_numpy()
        ids = pd.Index(test.meta.loc[mask, "customer_id"])
        ext = HorizonExtension(dict(params[as_of]), learn, full)
        extended[mask] = model.predict_raw(test.X[mask]) * ext.factor(test.X[mask])
        for name, values in _value_baselines(tables, orders, as_of, ids, full).items():
            baselines.setdefault(name, np.zeros(len(test)))[mask] = values
    # the validation cutoff is only ``learn`` months old: no drift; 'blend' and 'structural'
    # still weigh in BG/NBD x Gamma-Gamma's total (``modeling.level``)
    prior = lambda: prior_ratio(baselines["bgnbd_gamma_gamma"], extended)  # noqa: E731
    validation_level = model.level_
    rule, reference = _fresh_reference(
        model, tables, features, config, [*ev_train, *ev_valid], test_cut, params[test_cut]
    )
    model.set_level(_level(rule, reference, lambda: 1.0, prior))
    preds = {"model": np.zeros(len(test))}
    lo, hi = np.zeros(len(test)), np.zeros(len(test))
    for as_of in plan.test:
        mask = (test.meta["as_of"] == as_of).to_numpy()
        model.extend_horizon(HorizonExtension(dict(params[as_of]), learn, full))
        preds["model"][mask] = model.predict(test.X[mask])
        lo[mask], hi[mask] = model.predict_interval(test.X[mask])
    preds |= baselines
    preds["constant_mean"] = np.full(len(test), _label_mean(tables, plan.train, config.value))
    used = CutoffPlan(train=ev_train, valid=ev_valid, test=plan.test)
    result = _task_result(test, preds, "value", used, train, valid)
    result.plan |= _add_interval_metrics(result.table, test.y, lo, hi)
    result.plan |= {"horizon_months": learn, "level": model.level_, "level_rule": rule}
    result.plan["objective"] = model.kind_
    result.plan["level_validation"] = validation_level
    result.plan["level_reference"] = reference
    result.plan["refit"] = {
        "train": [str(c.date()) for c in fit_train],
        "valid": [str(c.date()) for c in fit_valid],
    }
    check_finite("value_13m", result.table, ("normalized_gini", "mae"))
    steps.tick()
    train = _frame(fit_train, features, label_short, config, steps)
    valid = _frame(fit_valid, features, label_short, config, steps)
    progress(f"value_13m: fitting on the latest {len(train):,} rows")
    # the objective was chosen on the held-out check's validation cutoff: fit only that one
    final = _value_model(config, fresh=True, objective=model.kind_)
    final.fit(train.X, train.y, eval_set=(valid.X, valid.y))
    ext_end = HorizonExtension(dict(end_params), learn, full)
    rule_end, reference_end = _fresh_reference(
        final, tables, features, config, [*fit_train, *fit_valid], end, end_params
    )
    result.plan["level_rule_saved"] = rule_end
    final.set_level(
        _level(
            rule_end,
            reference_end,
            lambda: 1.0,
            lambda: _prior_level(final, tables, orders, features, end, full, ext_end),
        )
    )
    steps.tick()
    return final, result


def _label_mean(tables: Tables, cutoffs: list[pd.Timestamp], cfg: ValueConfig) -> float:
    """Mean ``cfg``-horizon value label over the customers of the training ``cutoffs``.

    The constant baseline of the short-label path: its own training labels cover fewer months
    than the held-out label, so the full-horizon labels of the plan's training cutoffs (closed
    before the test cutoff) give the mean; never the held-out labels, whose mean would make
    the baseline's aggregate bias 0 by construction.
    """
    labels = [value_label(tables, c, cfg).to_numpy(dtype=float) for c in cutoffs]
    return float(np.concatenate(labels).mean())


def _fresh_reference(
    model: ValueModel,
    tables: Tables,
    features: FeatureSource,
    config: Config,
    cutoffs: list[pd.Timestamp],
    now: pd.Timestamp,
    params: dict[str, float] | None = None,
) -> tuple[LevelRule, float]:
    """The level rule in force and its reference, for a model of ``value.learn_months`` months.

    'horizon': the ratio pooled over the whole horizon after each of ``horizon_cutoffs`` (the
    latest year of cutoffs whose horizon closed by ``now``), else, without a year of them,
    'window_blend'. The window rules: the ratio pooled over the longest window closed after
    each of ``cutoffs`` (``_short_level``). Both check the BG/NBD extension with the level.
    Otherwise the validation cutoff's ratio. Reads nothing after ``now``.
    """
    rule, learn = config.value.level, config.value.learn_months
    if learn is None:
        return rule, model.level_
    if rule == "horizon":
        year = horizon_cutoffs(data_span(tables, config)[0], now, config)
        if year:
            return rule, _short_level(model, tables, features, config, year, learn, now, params)[1]
        rule = "window_blend"
    if rule not in ("window", "window_blend"):
        return rule, model.level_
    return rule, _short_level(model, tables, features, config, cutoffs, learn, now, params)[1]


def horizon_cutoffs(first: pd.Timestamp, now: pd.Timestamp, config: Config) -> list[pd.Timestamp]:
    """The cutoffs of the latest year whose whole value horizon has closed by ``now``.

    Automatic cutoffs step back ``cutoffs.step_days`` from the latest such cutoff (explicit
    ``cutoffs.dates`` are used as given). Empty when they do not cover a year (the earliest is
    more than one step after the year's start): every calendar month should start a window,
    so that the start month's season averages out of the pooled ratio.
    """
    label_end = lambda c: value_label_end(c, config.value)  # noqa: E731
    found = candidate_cutoffs(first, now, label_end, config.cutoffs)
    if not found:
        return []
    start = found[-1] - pd.Timedelta(days=YEAR_DAYS)
    year = [c for c in found if c > start]
    if year[0] - start > pd.Timedelta(days=config.cutoffs.step_days):
        return []
    return year


def _level(
    rule: LevelRule,
    reference: float,
    recent_drift: Callable[[], float],
    prior: Callable[[], float],
) -> float:
    """The level under ``rule`` (``modeling.level.combine``); computes only the parts it needs."""
    drift_ = recent_drift() if rule in ("recent", "blend") else 1.0
    prior_ = prior() if rule in ("structural", "blend", "window_blend") else float("nan")
    return combine(rule, reference, drift_, prior_)


def _prior_level(
    model: ValueModel,
    tables: Tables,
    orders: pd.DataFrame,
    features: FeatureSource,
    now: pd.Timestamp,
    months: int,
    extension: HorizonExtension | None = None,
) -> float:
    """BG/NBD x Gamma-Gamma's expected total over the model's unscaled one, at ``now``.

    For the customers signed up by ``now`` (the scoring population), with BG/NBD and
    Gamma-Gamma fitted on the data up to ``now`` only; a model learned over fewer months is
    first extended to ``months`` (``extension``).
    """
    X = features(now)
    if not len(X):
        return float("nan")
    prior = _value_baselines(tables, orders, now, X.index, months)["bgnbd_gamma_gamma"]
    raw = model.predict_raw(X)
    if extension is not None:
        raw = raw * extension.factor(X)
    return prior_ratio(prior, raw)


def _recent_level(
    model: ValueModel,
    tables: Tables,
    features: FeatureSource,
    config: Config,
    months: int,
    reference: Frame,
    now: pd.Timestamp,
) -> float:
    """Drift of actual / predicted spend from the reference rows' cutoff to ``now``.

    Compares the first ``w`` months (at most 3, at most the learned horizon) after the
    reference cutoff with the last ``w`` months before ``now``, for the customers of the cutoff
    ``now - w``; reads nothing after ``now`` (see ``modeling.level``).
    """
    w = min(RECENT_MONTHS, months)
    cfg = config.value.model_copy(update={"horizon_months": w})
    totals = []
    for as_of in drift_cutoffs(reference.meta["as_of"].iloc[0], now, w):
        y = value_label(truncate(tables, now), as_of, cfg)
        X = features(as_of)
        ids = y.index.intersection(X.index)
        raw = model.predict_raw(X.loc[ids]) if len(ids) else np.zeros(0)
        totals.append(WindowTotals(float(y.loc[ids].sum()), float(raw.sum())))
    return drift(*totals)


def churn_plan(tables: Tables, config: Config) -> CutoffPlan:
    """The churn cutoff plan: up to ``cutoffs.churn_max_cutoffs`` training cutoffs."""
    first, end = data_span(tables, config)
    n = config.cutoffs.churn_max_cutoffs or config.cutoffs.max_cutoffs
    cfg = config.cutoffs.model_copy(update={"max_cutoffs": n})
    return plan_cutoffs(first, end, lambda c: churn_label_end(c, config.churn), cfg, "churn")


def churn_model(config: Config) -> ChurnModel:
    """An unfitted churn model: the shared settings, the churn tree limits and round choice.

    Rounds chosen on three out-of-time cutoffs: a higher expected AUC and a lower log loss on
    five of six samples measured, a tie on the sixth (benchmarks/analysis.md, "Churn
    hyperparameters").
    """
    churn = config.churn
    limits = {"max_depth": churn.max_depth, "min_child_weight": churn.min_child_weight}
    own = {k: v for k, v in limits.items() if v is not None}
    return ChurnModel.from_config(config.model, round_choice=churn.round_choice, **own)


def _per_cutoff_limit(config: Config, n_cutoffs: int) -> int | None:
    """Customers per churn cutoff so the fitting rows stay within ``churn_max_rows``."""
    total = config.cutoffs.churn_max_rows
    return None if total is None else max(100, total // max(1, n_cutoffs))


def _train_churn(
    tables: Tables,
    config: Config,
    features: FeatureSource,
    progress: Progress,
    on_step: StepProgress | None = None,
) -> tuple[ChurnModel, TaskResult]:
    """Churn on a time split when two or more cutoffs hold both classes, else a customer split."""
    first, end = data_span(tables, config)
    label_end = lambda c: churn_label_end(c, config.churn)  # noqa: E731
    candidates = candidate_cutoffs(first, end, label_end, config.cutoffs)
    if not candidates:
        raise ShortHistoryError(
            f"churn: no cutoff has a complete {config.churn.horizon_days}-day label window "
            f"(data {first.date()} to {end.date()}); lower churn.horizon_days or give cutoffs"
        )
    labels: dict[pd.Timestamp, pd.Series] = {}

    def label(as_of: pd.Timestamp) -> pd.Series:
        if as_of not in labels:
            labels[as_of] = churn_label(tables, as_of, config.churn)
        return labels[as_of]

    try:
        plan = churn_plan(tables, config)
    except ShortHistoryError:
        plan = None
    if plan is not None and _time_split_serves(plan, label):
        progress(f"churn: building frames for {len(plan.train) + len(plan.valid)} cutoffs")
        steps = _Steps(on_step, "churn", len(plan.train) + len(plan.valid) + len(plan.test) + 1)
        limit = _per_cutoff_limit(config, len(plan.train) + len(plan.valid))
        # many churn-only cutoffs: their full feature frames are not kept after sampling
        transient = features.transient
        train = _frame(plan.train, transient, label, config, steps, limit)
        valid = _frame(plan.valid, transient, label, config, steps, limit)
        if not len(valid):
            train, valid = _split_valid(train, config.model.random_state)
        test = _frame(plan.test, transient, label, config, steps)
        folds = calibration_folds(
            pd.concat([train.meta, valid.meta], ignore_index=True),
            label_end,
            config.model.calibration_cutoffs,
        )
        return _fit_churn(
            tables, config, plan, (train, valid, test), TIME_SPLIT, progress, steps, folds
        )
    with_both = [c for c in reversed(candidates) if both_classes(label(c).to_numpy())]
    if not with_both:
        churners = int(sum(label(c).sum() for c in candidates))
        raise UnsupportedTargetError(
            "churn",
            f"no cutoff with a complete label window holds both churners and customers who "
            f"stayed ({len(candidates)} cutoff(s) from {candidates[0].date()} to "
            f"{candidates[-1].date()}, {churners} churner row(s) in all); "
            f"rule {churn_rule(tables, config.churn)!r}",
        )
    as_of = with_both[0]
    progress(
        f"churn: fewer than two cutoffs hold both churners and stayers; learning at "
        f"{as_of.date()} and evaluating on a customer split ({CUSTOMER_TEST_SHARE:.0%} of "
        "customers held out)"
    )
    seed = config.model.random_state
    rest, test = split_frame(_frame([as_of], features, label, config), CUSTOMER_TEST_SHARE, seed)
    train, valid = split_frame(rest, INNER_VALID_SHARE, seed + 1)
    plan = CutoffPlan(train=[as_of], valid=[as_of], test=[as_of])
    steps = _Steps(on_step, "churn", 2)
    steps.tick()
    return _fit_churn(tables, config, plan, (train, valid, test), CUSTOMER_SPLIT, progress, steps)


def _time_split_serves(plan: CutoffPlan, label: Callable[[pd.Timestamp], pd.Series]) -> bool:
    """Two or more cutoffs hold both classes, and the training and test cutoffs each do."""
    fit = plan.train + plan.valid
    every = fit + [c for c in plan.test if c not in fit]
    n_both = sum(both_classes(label(c).to_numpy()) for c in every)
    fit_y = np.concatenate([label(c).to_numpy(dtype=float) for c in fit])
    test_y = np.concatenate([label(c).to_numpy(dtype=float) for c in plan.test])
    return n_both >= 2 and both_classes(fit_y) and both_classes(test_y)


def _fit_churn(
    tables: Tables,
    config: Config,
    plan: CutoffPlan,
    frames: tuple[Frame, Frame, Frame],
    design: str,
    progress: Progress,
    steps: _Steps | None = None,
    folds: list[tuple[np.ndarray, np.ndarray]] | None = None,
) -> tuple[ChurnModel, TaskResult]:
    """Fit the churn model on ``train`` (early stopping on ``valid``), evaluate on ``test``.

    ``folds`` (out-of-fold pairs over the latest training cutoffs) choose the calibration;
    without them (a customer split) the calibration is chosen on ``valid``.
    """
    train, valid, test = frames
    check_class_rows("churn", train.y, MIN_TRAIN_ROWS, MIN_TRAIN_CLASS_ROWS, "training")
    check_class_rows("churn", test.y, MIN_TEST_ROWS, MIN_TEST_CLASS_ROWS, "held-out")
    progress(f"churn: fitting on {len(train):,} rows")
    model = churn_model(config).fit(
        train.X, train.y, eval_set=(valid.X, valid.y), calibration_folds=folds or None
    )
    (steps or _no_steps()).tick()
    preds = {"model": model.predict_proba(test.X)[:, 1]}
    recency = np.zeros(len(test))
    for as_of in plan.test:
        mask = (test.meta["as_of"] == as_of).to_numpy()
        ids = pd.Index(test.meta.loc[mask, "customer_id"])
        score = recency_churn_score(tables.orders, tables.customers, as_of)
        recency[mask] = score.reindex(ids).fillna(1.0).to_numpy(dtype=float)
    preds["recency_rule"] = recency
    preds["base_rate"] = np.full(len(test), train.y.mean())
    result = _task_result(test, preds, "churn", plan, train, valid)
    result.evaluation = design
    check_finite("churn", result.table, ("roc_auc", "log_loss"))
    loss = result.table["log_loss"]
    if not loss["model"] < loss["base_rate"]:
        result.warnings.append(
            f"churn: the model does not beat the base rate on held-out log loss "
            f"({loss['model']:.4f} vs {loss['base_rate']:.4f}); its risks carry little signal"
        )
    return model, result


def check_class_rows(target: str, y: np.ndarray, min_rows: int, min_class: int, where: str) -> None:
    """Raise ``UnsupportedTargetError`` unless ``y`` has enough rows and of each class."""
    y = np.asarray(y, dtype=float)
    positives = int((y == 1).sum())
    negatives = len(y) - positives
    if len(y) < min_rows or positives < min_class or negatives < min_class:
        raise UnsupportedTargetError(
            target,
            f"too few {where} rows to learn from or to judge: {len(y):,} rows, {positives:,} "
            f"churner(s), {negatives:,} who stayed (needs at least {min_rows} rows and "
            f"{min_class} of each)",
        )


def check_rows(target: str, y: np.ndarray, min_rows: int, where: str) -> None:
    """Raise ``UnsupportedTargetError`` unless ``y`` has enough rows and is not constant."""
    y = np.asarray(y, dtype=float)
    if len(y) < min_rows:
        raise UnsupportedTargetError(
            target, f"too few {where} rows: {len(y):,} (needs at least {min_rows})"
        )
    if np.unique(y).size < 2:
        raise UnsupportedTargetError(
            target, f"every {where} label is {y[0]:g}: there is nothing to learn or judge"
        )


def check_finite(target: str, table: pd.DataFrame, metrics: tuple[str, ...]) -> None:
    """Raise ``UnsupportedTargetError`` when a key held-out metric of the model is not finite."""
    bad = [m for m in metrics if m in table.columns and not np.isfinite(table.loc["model", m])]
    if bad:
        raise UnsupportedTargetError(
            target, f"held-out {', '.join(bad)} of the model is not a number; it is not kept"
        )


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


def day_one_model(config: Config) -> ValueModel:
    """An unfitted Day One model: the shared settings with the Day One tree limits.

    It learns from a few thousand customers (one row each), so deeper trees with small leaves
    fit noise (benchmarks/analysis.md, "Day One").
    """
    day_one = config.day_one
    limits = {"max_depth": day_one.max_depth, "min_child_weight": day_one.min_child_weight}
    return ValueModel.from_config(
        config.model, **{k: v for k, v in limits.items() if v is not None}
    )


def _train_day_one(
    tables: Tables, config: Config, progress: Progress, on_step: StepProgress | None = None
) -> tuple[ValueModel, TaskResult]:
    steps = _Steps(on_step, "day_one", 2)
    first, end = data_span(tables, config)
    labels, months = day_one_horizon(tables, config, end)
    if months < config.value.horizon_months:
        progress(
            f"day_one: SHORT HISTORY - too few complete {config.value.horizon_months}-month "
            f"windows; learning {months}-month value, extended with the BG/NBD time profile"
        )
    progress(f"day_one: building Day One features for {len(tables.customers):,} customers")
    all_features = build_day_one_features(tables, config)
    features = all_features.loc[labels.index]
    steps.tick()
    signup = tables.customers.set_index("customer_id")["signup_date"].loc[labels.index]
    window_end = day_one_windows(tables.customers, config.day_one.window_days).loc[labels.index]
    cohorts = day_one_cohort_plan(signup, window_end, months)
    tr, va, te = cohorts.train, cohorts.valid, cohorts.test
    y = labels.to_numpy(dtype=float)
    X = features.reset_index(drop=True)
    check_rows("day_one", y[tr], MIN_TRAIN_ROWS, "training")
    check_rows("day_one", y[te], MIN_TEST_ROWS, "held-out")
    learn = config.day_one.learn_months
    short = None
    if learn is not None and learn < months == config.value.horizon_months:
        short = _day_one_short(tables, config, all_features, cohorts.test_start, learn, progress)
    if short is not None:
        model, final, extension, short_plan, short_rows = short
        model.extend_horizon(extension)
        months = learn
    else:
        progress(f"day_one: fitting on {len(tr):,} customers")
        model = day_one_model(config).fit(X.iloc[tr], y[tr], eval_set=(X.iloc[va], y[va]))
        final = model
    steps.tick()
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
    plan |= _add_interval_metrics(table, y[te], *model.predict_interval(X.iloc[te]))
    check_finite("day_one", table, ("normalized_gini", "mae"))
    rows = {"train": len(tr), "valid": len(va), "test": len(te)}
    if short is not None:
        plan |= short_plan
        rows |= short_rows
    return final, TaskResult(table, y[te], preds, plan, rows)


def _day_one_short(
    tables: Tables,
    config: Config,
    features: pd.DataFrame,
    test_start: pd.Timestamp,
    learn: int,
    progress: Progress,
) -> tuple[ValueModel, ValueModel, HorizonExtension, dict[str, Any], dict[str, int]] | None:
    """Day One value over ``learn`` months, learned on every cohort whose short window closed.

    A full-horizon Day One label closes a whole horizon after signup, so only the oldest
    cohorts can train; a short label adds every later cohort. Held-out check: a model fitted on
    the customers whose short label window ended by ``test_start`` (leak-free), extended by the
    BG/NBD time profile of a new customer fitted on the data up to ``test_start``. The returned
    final model is refitted the same way on every cohort whose window closed by the data's end
    (``train`` attaches its extension). None when too few customers or no BG/NBD fit.

    Returns (held-out model, final model, held-out extension, plan entries, row counts).
    """
    _, end = data_span(tables, config)
    window = config.day_one.window_days
    short = config.value.model_copy(update={"horizon_months": learn})
    labels = day_one_label(tables, window, short, end)
    signup = tables.customers.set_index("customer_id")["signup_date"].loc[labels.index]
    window_end = day_one_windows(tables.customers, window).loc[labels.index]
    X = features.loc[labels.index].reset_index(drop=True)
    y = labels.to_numpy(dtype=float)
    held = day_one_cohort_plan(signup, window_end, learn, test_start)
    params = _final_bgnbd_params(tables, test_start, config)
    if len(held.train) < MIN_TRAIN_ROWS or np.unique(y[held.train]).size < 2 or params is None:
        return None
    final_plan = day_one_cohort_plan(signup, window_end, learn, end)
    progress(f"day_one: learning {learn}-month value on {len(held.train):,} customers")
    fit = lambda p: day_one_model(config).fit(  # noqa: E731
        X.iloc[p.train], y[p.train], eval_set=(X.iloc[p.valid], y[p.valid])
    )
    span = lambda idx: [str(signup.iloc[idx].min().date()), str(signup.iloc[idx].max().date())]  # noqa: E731
    plan = {
        "train_signups": span(held.train),
        "valid_signups": span(held.valid),
        "refit": {"train_signups": span(final_plan.train), "valid_signups": span(final_plan.valid)},
    }
    rows = {"train": len(held.train), "valid": len(held.valid)}
    extension = HorizonExtension(dict(params), learn, config.value.horizon_months)
    return fit(held), fit(final_plan), extension, plan, rows


def _add_interval_metrics(
    table: pd.DataFrame, y: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> dict[str, float]:
    """Coverage of the model's 80% interval and its pinball loss, on the model's row.

    Returned too, so the plan (and with it the report's headline) carries the coverage.
    """
    if not (len(y) and np.isfinite(lo).all() and np.isfinite(hi).all()):
        return {}
    found = interval_metrics(y, lo, hi)
    for name, value in found.items():
        table.loc[MODEL_ROW, name] = value
    return found


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
    tables: Tables,
    config: Config,
    progress: Progress | None = None,
    on_step: StepProgress | None = None,
    features: FeatureSource | None = None,
) -> tuple[TrainedModel, Evaluation]:
    """Fit the chosen models (``config.targets``) and evaluate them on held-out data.

    ``progress`` receives messages; ``on_step(target, done, total)`` counts each target's
    steps (one per cutoff's frame, one per fit). A target the data cannot support is skipped
    with a message (``info["skipped"]``), unless
    the user chose the targets (``config.models``): then it raises ``UnsupportedTargetError``.
    It also raises when no target at all can be trained. ``features`` serves the cutoffs'
    feature frames of ``tables`` (default: ``FeatureCache``, built here; the Spark engine
    passes the frames its buckets built). Without ``features``, tables holding more than
    ``cutoffs.sample_customers`` customers are first reduced to that seeded sample of whole
    customers (``customer_sample``); ``info`` records how many customers it learned from.
    """
    say = progress or (lambda _msg: None)
    if features is None:
        tables = _training_sample(tables, config, say)
        features = FeatureCache(tables, config)
    first, end = data_span(tables, config)
    bgnbd = _final_bgnbd_params(tables, end, config)
    full = config.value.horizon_months
    trainers: dict[str, Callable[[], tuple[Any, TaskResult]]] = {
        "value_13m": lambda: _train_value(tables, config, features, say, on_step),
        "churn": lambda: _train_churn(tables, config, features, say, on_step),
        "day_one": lambda: _train_day_one(tables, config, say, on_step),
    }
    fitted: dict[str, Any] = {}
    results: dict[str, TaskResult] = {}
    skipped: dict[str, str] = {}
    methods: dict[str, str] = {}
    for target in [t for t in ("value_13m", "churn", "day_one") if t in config.targets]:
        try:
            est, result = trainers[target]()
            if target != "churn":
                months = int(result.plan["horizon_months"])
                methods[target] = _extend(est, bgnbd, months, full, say, target)
        except ShortHistoryError as exc:
            reason = str(exc).removeprefix(f"{target}: ")
            if config.targets_explicit:
                raise UnsupportedTargetError(
                    target, f"{reason} (it was asked for in `models`; drop it to train the others)"
                ) from exc
            say(f"warning: {target} SKIPPED - {reason}")
            skipped[target] = reason
            continue
        fitted[target], results[target] = est, result
        for message in result.warnings:
            say(f"warning: {message}")
    _report_dropped(fitted, say)
    if not fitted:
        raise UnsupportedTargetError(
            "training",
            "no target can be trained from these data: "
            + "; ".join(f"{t}: {r}" for t, r in skipped.items()),
        )
    value_model = fitted.get("value_13m")
    segmenter = _fit_segmenter(
        tables, config, features, value_model, results, end, fitted.get("churn")
    )
    info = {
        "targets": list(fitted),
        "skipped": skipped,
        "evaluation": {t: r.evaluation for t, r in results.items()},
        "warnings": [w for r in results.values() for w in r.warnings],
        "dropped_features": {t: dict(m.schema_.dropped_) for t, m in fitted.items()},
        "churn_rule": churn_rule(tables, config.churn),
        "bgnbd_params": bgnbd,
        "data_start": str(first.date()),
        "data_end": str(end.date()),
        "training_customers": len(tables.customers),
    }
    for target, key in (("value_13m", "value"), ("day_one", "day_one")):
        if target in fitted:
            info[f"{key}_method"] = methods[target]
            info[f"{key}_trained_horizon_months"] = int(results[target].plan["horizon_months"])
            info[f"{key}_kind"] = fitted[target].kind_
    if "churn" in fitted:
        info["churn_calibrated"] = fitted["churn"].calibrator_ is not None
        info["churn_calibration"] = fitted["churn"].calibration_check_
        info["churn_rounds"] = fitted["churn"].rounds_check_
    model = TrainedModel(
        fitted.get("day_one"), value_model, fitted.get("churn"), segmenter, config, info
    )
    order = ("day_one", "value_13m", "churn")
    evaluation = Evaluation({t: results[t] for t in order if t in results})
    return model, evaluation


def _training_sample(tables: Tables, config: Config, say: Progress) -> Tables:
    """The seeded sample of whole customers training learns from (``cutoffs.sample_customers``)."""
    kept = customer_sample(tables, config.cutoffs.sample_customers, config.model.random_state)
    if kept is not tables:
        say(f"training on a seeded sample of {len(kept.customers):,} of "
            f"{len(tables.customers):,} customers (cutoffs.sample_customers)")  # fmt: skip
    return kept


def _fit_segmenter(
    tables: Tables,
    config: Config,
    features: FeatureSource,
    value_model: ValueModel | None,
    results: dict[str, TaskResult],
    end: pd.Timestamp,
    churn_model: ChurnModel | None = None,
) -> Segmenter:
    """Segment and band thresholds from the customers active at the latest held-out cutoff.

    The mean predicted value of those customers and their observed churn rate are what the
    relative rules are multiples of (see ``predictor.segments``). Active is scoring's rule,
    ``churn_population``, with or without a churn model, so the cuts come from the customers
    scoring keeps out of ``lapsed``. Without a churn model the reference is the value test
    cutoff (or the data's end) and the churn rate 0; without a value model there is no
    predicted value (value segments of such scores are null).
    """
    source = results.get("churn") or results.get("value_13m")
    cutoff = pd.Timestamp(source.plan["test"][-1]) if source is not None else end
    frame = features(cutoff)
    labels = churn_label(tables, cutoff, config.churn) if "churn" in results else None
    population = churn_population(tables, cutoff, config.churn, churn_rule(tables, config.churn))
    active = frame.loc[frame.index.isin(population)]
    usable = value_model is not None and len(active)
    value = value_model.predict(active) if usable else np.zeros(0)
    rate = float(labels.mean()) if labels is not None and len(labels) else 0.0
    risk = churn_model.predict_proba(active)[:, 1] if churn_model and len(active) else None
    return Segmenter.fit(
        value, rate, config.segments, reference=str(cutoff.date()), active_risk=risk
    )


def _report_dropped(fitted: dict[str, Any], say: Progress) -> None:
    """One warning per feature left out as entirely empty or constant, naming its targets."""
    dropped: dict[tuple[str, str], list[str]] = {}
    for target, est in fitted.items():
        for col, why in est.schema_.dropped_.items():
            dropped.setdefault((col, why), []).append(target)
    for (col, why), targets in dropped.items():
        say(f"warning: feature {col} is {why}; left out of {', '.join(targets)}")


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

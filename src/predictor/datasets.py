"""Training frames: features and labels stacked over cutoffs, split by time without leaks.

Split rule (per target): the *test* cutoffs are the latest ones whose label window is complete;
*training* cutoffs are those whose whole label window ends on or before the first test cutoff,
so nothing a training label saw lies in the test period. Among the training cutoffs the latest
one is the *validation* cutoff (early stopping, objective choice, calibration).

When a time split cannot serve a classification target (fewer than two cutoffs hold both
classes, as in single-snapshot data where every churner left in the last month), the target is
learned at the latest complete cutoff holding both classes and evaluated on a *customer split*
(``customer_split``): stratified, seeded, no customer on both sides. Early stopping and
calibration then use an inner customer split of the training customers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from predictor.config import Config, CutoffConfig
from predictor.contract.schema import SPECS
from predictor.contract.tables import Tables
from predictor.errors import PredictorError
from predictor.timeline import day_end, monthly_cutoffs


class ShortHistoryError(PredictorError, ValueError):
    """The data is too short for even one complete label window before the test period."""


@dataclass(frozen=True)
class CutoffPlan:
    """Cutoffs of one target: fit on ``train``, early-stop on ``valid``, report on ``test``."""

    train: list[pd.Timestamp]
    valid: list[pd.Timestamp]
    test: list[pd.Timestamp]

    def as_dict(self) -> dict[str, list[str]]:
        """ISO dates per role."""
        return {k: [d.date().isoformat() for d in v] for k, v in self.__dict__.items()}


@dataclass
class Frame:
    """Stacked rows: features ``X``, target ``y`` and ``meta`` (customer_id, as_of)."""

    X: pd.DataFrame
    y: np.ndarray
    meta: pd.DataFrame = field(default_factory=pd.DataFrame)

    def __len__(self) -> int:
        return len(self.y)


def latest_complete_cutoff(
    data_end: pd.Timestamp, label_end: Callable[[pd.Timestamp], pd.Timestamp]
) -> pd.Timestamp:
    """The latest cutoff whose label window ends on or before the end of ``data_end``."""
    limit = day_end(data_end)
    cutoff = pd.Timestamp(data_end).normalize()
    while label_end(cutoff) > limit:
        cutoff -= pd.Timedelta(days=1)
    return cutoff


def candidate_cutoffs(
    first_date: pd.Timestamp,
    data_end: pd.Timestamp,
    label_end: Callable[[pd.Timestamp], pd.Timestamp],
    cfg: CutoffConfig,
) -> list[pd.Timestamp]:
    """Cutoffs with complete labels, ascending: explicit ones from the config, or automatic ones.

    Automatic cutoffs step back ``cfg.step_days`` from the latest complete cutoff, never earlier
    than ``cfg.min_history_days`` after the first signup.
    """
    limit = day_end(data_end)
    if cfg.dates:
        dates = [pd.Timestamp(d) for d in cfg.dates]
    else:
        latest = latest_complete_cutoff(data_end, label_end)
        if cfg.end is not None:
            latest = min(latest, pd.Timestamp(cfg.end))
        earliest = pd.Timestamp(first_date).normalize() + pd.Timedelta(days=cfg.min_history_days)
        if cfg.start is not None:
            earliest = max(earliest, pd.Timestamp(cfg.start))
        dates = monthly_cutoffs(earliest, latest, cfg.step_days)
    return sorted(d for d in set(dates) if label_end(d) <= limit)


def plan_cutoffs(
    first_date: pd.Timestamp,
    data_end: pd.Timestamp,
    label_end: Callable[[pd.Timestamp], pd.Timestamp],
    cfg: CutoffConfig,
    what: str,
) -> CutoffPlan:
    """Split the candidate cutoffs into train / valid / test without overlapping labels."""
    candidates = candidate_cutoffs(first_date, data_end, label_end, cfg)
    if not candidates:
        raise ShortHistoryError(
            f"{what}: no cutoff has a complete label window (data ends {data_end.date()}, the "
            f"first signup is {pd.Timestamp(first_date).date()})"
        )
    test = candidates[-cfg.valid_cutoffs :]
    eligible = [d for d in candidates if label_end(d) <= day_end(test[0])]
    if not eligible:
        raise ShortHistoryError(
            f"{what}: no training cutoff's label window ends before the test cutoff "
            f"{test[0].date()}; the data spans too little time for this horizon"
        )
    eligible = eligible[-cfg.max_cutoffs :]
    if len(eligible) == 1:
        return CutoffPlan(train=eligible, valid=[], test=test)
    return CutoffPlan(train=eligible[:-1], valid=eligible[-1:], test=test)


TIME_SPLIT = "time_split"
CUSTOMER_SPLIT = "customer_split"
"""Names of the two evaluation designs, as recorded in the model info and the MLflow run."""
CUSTOMER_TEST_SHARE = 0.25
"""Share of customers held out for evaluation by a customer split."""
INNER_VALID_SHARE = 0.2
"""Share of the training customers held out for early stopping and calibration."""


def customer_split(
    customer_ids: pd.Series | np.ndarray, y: np.ndarray, share: float, seed: int
) -> np.ndarray:
    """Boolean mask of the rows held out: ``share`` of the customers, stratified by class.

    Customers, not rows, are drawn (a customer with several rows is on one side only); a
    customer's class is its largest label, so churners are spread evenly over both sides.
    Seeded: the same ids, labels and seed give the same split.
    """
    ids = pd.Series(np.asarray(customer_ids, dtype=str))
    labels = pd.Series(np.asarray(y, dtype=float)).groupby(ids.to_numpy()).max()
    counts = labels.value_counts()
    stratify = labels.to_numpy() if len(counts) > 1 and counts.min() >= 2 else None
    _, held = train_test_split(
        labels.index.to_numpy(), test_size=share, random_state=seed, stratify=stratify
    )
    return ids.isin(set(held)).to_numpy()


def split_frame(frame: Frame, share: float, seed: int) -> tuple[Frame, Frame]:
    """Split a frame by customer (see ``customer_split``): (kept rows, held-out rows)."""
    held = customer_split(frame.meta["customer_id"], frame.y, share, seed)
    return take_rows(frame, ~held), take_rows(frame, held)


def take_rows(frame: Frame, mask: np.ndarray) -> Frame:
    """The rows of ``frame`` where ``mask`` is true, renumbered."""
    return Frame(
        frame.X[mask].reset_index(drop=True),
        frame.y[mask],
        frame.meta[mask].reset_index(drop=True),
    )


def both_classes(y: np.ndarray) -> bool:
    """True when the labels hold at least one 0 and one 1."""
    values = np.unique(np.asarray(y, dtype=float))
    return 0.0 in values and 1.0 in values


def sample_ids(ids: pd.Index, limit: int | None, seed: int, salt: int) -> pd.Index:
    """At most ``limit`` ids, drawn reproducibly (the same seed gives the same customers)."""
    if limit is None or len(ids) <= limit:
        return ids
    rng = np.random.default_rng([seed, salt])
    return ids[np.sort(rng.choice(len(ids), size=limit, replace=False))]


def stack(parts: list[tuple[pd.Timestamp, pd.DataFrame, pd.Series]]) -> Frame:
    """Stack per-cutoff (features, labels) pairs aligned on customer_id."""
    xs, ys, metas = [], [], []
    for as_of, features, labels in parts:
        ids = labels.index.intersection(features.index)
        xs.append(features.loc[ids])
        ys.append(labels.loc[ids].to_numpy(dtype=float))
        metas.append(pd.DataFrame({"customer_id": ids.astype(str), "as_of": as_of}))
    if not xs:
        return Frame(pd.DataFrame(), np.array([]), pd.DataFrame(columns=["customer_id", "as_of"]))
    X = _concat_features(xs)
    return Frame(X, np.concatenate(ys), pd.concat(metas, ignore_index=True))


def _concat_features(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate feature frames, unifying categorical columns' categories."""
    cats = {
        col
        for f in frames
        for col in f.columns
        if isinstance(f[col].dtype, pd.CategoricalDtype) or f[col].dtype == object
    }
    prepared = []
    for f in frames:
        f = f.copy()
        for col in cats & set(f.columns):
            f[col] = f[col].astype("string")
        prepared.append(f)
    out = pd.concat(prepared, ignore_index=True)
    for col in cats:
        out[col] = out[col].astype("category")
    return out


def data_span(tables: Tables, config: Config) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First signup and the data's end (configured, or the latest order or event date)."""
    first = tables.customers["signup_date"].min().normalize()
    if config.data.end_date is not None:
        return first, pd.Timestamp(config.data.end_date)
    return first, latest_event(tables).normalize()


def latest_event(tables: Tables) -> pd.Timestamp:
    """The latest event date (signup, order, ticket, ...) in any table: where the data end.

    NaT when no table holds a dated row.
    """
    tops = [frame[SPECS[name].event_date].max() for name, frame in tables.items() if len(frame)]
    return pd.Timestamp(max((t for t in tops if pd.notna(t)), default=pd.NaT))


# -- Day One cohorts, calibration folds, drift windows (moved here from training) -------------

DAY_ONE_TEST_DAYS = 90
"""The Day One test cohort holds at least the customers of the last 90 days of signups..."""
DAY_ONE_TEST_QUANTILE = 0.7
"""...and at most the latest 30% of signups: it starts at the later of the two dates."""
MIN_DAY_ONE_ELIGIBLE = 50
"""Fewest earlier customers whose label window closes before the test cohort starts. With
fewer, every customer signed up before the test cohort trains (label windows may then reach
into the test period: a young business has no other data)."""
DAY_ONE_VALID_DIVISOR = 5
"""One in five of the training customers (the latest signups, at least one) validates."""


@dataclass(frozen=True)
class DayOnePlan:
    """Positions (into the labelled customers) of the Day One train, validation and test cohorts.

    Cohorts follow signup time: the test cohort is the latest signups, validation the latest
    signups before it, training the earlier ones.
    """

    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    test_start: pd.Timestamp
    """Customers who signed up after this date are the test cohort."""


def day_one_cohort_plan(
    signup: pd.Series,
    window_end: pd.Series,
    months: int,
    test_start: pd.Timestamp | None = None,
) -> DayOnePlan:
    """Split labelled customers into Day One cohorts by signup date, without leaks if possible.

    ``signup`` and ``window_end`` (end of each customer's Day One window) are aligned, one row
    per labelled customer; ``months`` is the learned value horizon. Test: signups after the
    later of (last signup - ``DAY_ONE_TEST_DAYS``) and the ``DAY_ONE_TEST_QUANTILE`` signup
    quantile. Training and validation: earlier customers whose label window (``months`` after
    their Day One window) closes by the test start, or every earlier one when fewer than
    ``MIN_DAY_ONE_ELIGIBLE``; the latest ``1 / DAY_ONE_VALID_DIVISOR`` of them validate.

    A given ``test_start`` (the test cohort of another horizon's plan) is kept, and then the
    training cohorts are always leak-free: too few eligible customers leave them empty.
    """
    strict = test_start is not None
    if test_start is None:
        test_start = max(
            signup.max() - pd.Timedelta(days=DAY_ONE_TEST_DAYS),
            signup.quantile(DAY_ONE_TEST_QUANTILE),
        )
    test = (signup > test_start).to_numpy()
    label_end = window_end + pd.DateOffset(months=months)
    eligible = (label_end <= test_start).to_numpy() & ~test
    if eligible.sum() < MIN_DAY_ONE_ELIGIBLE and not strict:
        eligible = ~test
    order = np.argsort(signup.to_numpy()[eligible], kind="stable")
    n_valid = max(1, len(order) // DAY_ONE_VALID_DIVISOR)
    idx = np.flatnonzero(eligible)[order]
    return DayOnePlan(idx[:-n_valid], idx[-n_valid:], np.flatnonzero(test), test_start)


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


def drift_cutoffs(
    reference: pd.Timestamp, now: pd.Timestamp, months: int
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The two cutoffs the value level's drift compares: ``reference``, and ``now - months``.

    The second is the latest cutoff whose ``months``-month window ends by ``now``.
    """
    from predictor.timeline import add_months

    return pd.Timestamp(reference), add_months(now, -months)

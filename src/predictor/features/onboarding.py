"""Onboarding family: how far the customer got through the expected journey (``onboarding__``).

The journey is the ordered list ``config.onboarding.steps``; rows with other step names are
ignored. Step names are compared after cleaning (lower case, spaces and punctuation as ``_``).
A step counts once it was completed on or before ``as_of``.

Columns: ``steps_completed`` (distinct configured steps done), ``completion_ratio`` (done /
configured), ``completed_all`` (1 when every step is done), ``stalled_at`` (category: the first
configured step not done yet, ``none`` when the journey is complete), ``completed_within_days``
(1 when every step was done on days 0 .. ``within_days - 1`` after the signup day) and, per
configured step, ``hours_to__<step>`` (hours from signup to the first completion; NaN if not
done yet).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from predictor.config import Config
from predictor.features._base import (
    Events,
    Population,
    Source,
    categorical,
    clean_label,
    day_number,
    events,
    micros,
    population,
)

PREFIX = "onboarding__"
COMPLETE = "none"
"""``stalled_at`` value of a customer who completed every step."""


def compute(tables: Source, as_of: pd.Series, config: Config) -> pd.DataFrame:
    """Onboarding progress for every customer as of their own ``as_of`` (inclusive)."""
    pop = population(tables, as_of)
    steps = step_names(config)
    ev = events(pop, tables, "onboarding", "completed_at") if steps else None
    if ev is None:
        return pop.empty()
    done_at = _first_completion(ev, steps)
    done = ~np.isnan(done_at)
    n_done = done.sum(axis=1).astype(np.float64)
    n_steps = len(steps)
    all_done = n_done == n_steps
    cols: dict[str, object] = {
        "steps_completed": n_done,
        "completion_ratio": n_done / n_steps,
        "completed_all": all_done.astype(np.float64),
        "stalled_at": _stalled_at(done, steps),
        "completed_within_days": _within(done_at, all_done, pop, config.onboarding.within_days),
    }
    signup_us = micros(pop.signup).astype(np.float64)
    for j, step in enumerate(steps):
        cols[f"hours_to__{step}"] = (done_at[:, j] - signup_us) / 3_600_000_000
    return pop.frame({PREFIX + k: v for k, v in cols.items()})


def step_names(config: Config) -> list[str]:
    """The configured steps, cleaned and de-duplicated, in journey order."""
    return list(dict.fromkeys(clean_label(s) for s in config.onboarding.steps))


def _first_completion(ev: Events, steps: list[str]) -> np.ndarray:
    """Earliest completion instant (float microseconds) per customer and step; NaN if not done."""
    codes, names = ev.labels("step", cap=10**9)
    where = np.array([steps.index(n) if n in steps else -1 for n in names], dtype=np.int64)
    step = where[codes] if len(names) else np.zeros(0, dtype=np.int64)
    ok = step >= 0
    flat = np.full(ev.n * max(len(steps), 1), np.inf)
    np.minimum.at(flat, ev.code[ok] * len(steps) + step[ok], micros(ev.time[ok]).astype(float))
    flat[np.isinf(flat)] = np.nan
    return flat[: ev.n * len(steps)].reshape(ev.n, len(steps))


def _stalled_at(done: np.ndarray, steps: list[str]) -> pd.Categorical:
    """The first configured step not done (journey order), ``none`` when all are done.

    Categories are the configured steps in journey order, then ``none``.
    """
    categories = [s for s in steps if s != COMPLETE] + [COMPLETE]
    missing = ~done
    first = np.array([categories.index(s) for s in steps])[np.argmax(missing, axis=1)]
    codes = np.where(missing.any(axis=1), first, categories.index(COMPLETE))
    return categorical(codes.astype(np.int64), categories)


def _within(
    done_at: np.ndarray, all_done: np.ndarray, pop: Population, within_days: int
) -> np.ndarray:
    """1 when every step was done on calendar days 0 .. ``within_days - 1`` after signup."""
    last = np.where(all_done, np.nan_to_num(done_at, nan=0).max(axis=1), 0)
    last_day = day_number(last.astype(np.int64).astype("datetime64[us]"))
    days = last_day - day_number(pop.signup)
    return (all_done & (days < within_days)).astype(np.float64)

"""NPS family: what the customer said when asked to recommend us (``nps__``).

Survey answers (score 0-10) given on or before ``as_of`` are seen. Answers at the same instant
are ordered by score, so the result never depends on row order.

Columns: ``responses``, ``last_score``, ``mean_score``, ``change`` (last score minus the
previous one; NaN with fewer than two answers), ``days_since_last`` (calendar days; NaN without
an answer) and ``category`` (``promoter`` 9-10, ``passive`` 7-8, ``detractor`` 0-6 from the last
score, ``no_response`` without an answer).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from predictor.config import Config
from predictor.features._base import Events, categorical, event_family, micros

PREFIX = "nps__"
CATEGORIES = ["detractor", "no_response", "passive", "promoter"]


def _features(ev: Events, config: Config) -> pd.DataFrame:
    """NPS features for every customer as of their own ``as_of`` (inclusive)."""
    pop = ev.pop
    score = ev.numbers("score")
    answered = ~np.isnan(score)
    last, previous = _last_two(ev, score, answered)
    cols: dict[str, object] = {
        "responses": ev.count(answered),
        "last_score": last,
        "mean_score": ev.mean(score),
        "change": last - previous,
        "days_since_last": ev.days_since_last(answered),
        "category": _category(last),
    }
    return pop.frame({PREFIX + k: v for k, v in cols.items()})


compute = event_family("nps", "responded_at", _features)


def _last_two(ev: Events, score: np.ndarray, answered: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The latest and the second latest score per customer (NaN when missing)."""
    rows = np.flatnonzero(answered)
    rows = rows[np.lexsort((score[rows], micros(ev.time[rows]), ev.code[rows]))]
    code = ev.code[rows]
    is_last = np.ones(len(rows), dtype=bool)
    is_last[:-1] = code[:-1] != code[1:]
    is_previous = np.zeros(len(rows), dtype=bool)
    is_previous[:-1] = (code[:-1] == code[1:]) & is_last[1:]
    last = np.full(ev.n, np.nan)
    last[code[is_last]] = score[rows[is_last]]
    previous = np.full(ev.n, np.nan)
    previous[code[is_previous]] = score[rows[is_previous]]
    return last, previous


def _category(last: np.ndarray) -> pd.Categorical:
    """Promoter (9-10), passive (7-8), detractor (0-6) or no_response, from the last score."""
    label = np.select(
        [np.isnan(last), last >= 9, last >= 7],
        ["no_response", "promoter", "passive"],
        default="detractor",
    )
    codes = np.searchsorted(np.array(CATEGORIES), label)
    return categorical(codes.astype(np.int64), CATEGORIES)

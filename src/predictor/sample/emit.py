"""Rows from the weekly draws: orders and refunds, subscription charges, tickets, interactions, NPS.

``_Collector`` is the generation hook of ``weeks._run``; its extra draws use stream 1 of each
week, so the replay of the truth (stream 0 only) reproduces the data exactly.
"""

from __future__ import annotations

import numpy as np

from predictor.contract.tables import Tables
from predictor.sample.frames import _assemble
from predictor.sample.params import (
    _CAT_P,
    _DAY_NS,
    _ITYPES,
    _LOYAL_AOV,
    _NPS_EVERY,
    _NPS_FIRST,
    _NPS_RESPONSE,
    _OCH_P,
    _ORDER_SIGMA,
    _PL_MARGIN,
    _PL_OWN,
    _PL_P,
    _PL_PRICE,
    _PL_REFUND,
    _PLAN_PRICE,
    _REFUND_COST,
    _SEND_RATES,
    _SUB_MARGIN,
    ENGAGE_CHANNELS,
    I32,
)
from predictor.sample.weeks import _Cohort, _Draws, _engagement, _loyalty, _poisson
from predictor.sample.world import _World


class _Collector:
    """Generation hook: turns each week's draws into table rows (emission stream 1)."""

    def __init__(self, world: _World) -> None:
        self.world = world
        self.rows: dict[str, list[dict[str, np.ndarray]]] = {
            k: [] for k in ("orders", "tickets", "interactions", "nps", "plans")
        }

    def __call__(self, w: int, co: _Cohort, lo: np.ndarray, dr: _Draws, nxt: _Cohort) -> bool:
        rng = self.world.rng(w, 1)
        d_max = self.world.n_days - 1
        self.rows["orders"].extend(_emit_orders(self.world, rng, co, dr, d_max))
        if self.world.mode == "subscription":
            self.rows["orders"].append(_emit_charges(self.world, rng, co, w, lo, dr, d_max))
            ok = (nxt.plan != co.plan) & ~dr.died & (7 * w + 7 <= d_max)
            self.rows["plans"].append(
                {"cust": co.idx[ok], "day": np.full(ok.sum(), 7 * w + 7), "plan": nxt.plan[ok]}
            )
        self.rows["tickets"].append(_emit_tickets(self.world, rng, co, dr, d_max))
        self.rows["interactions"].append(_emit_interactions(self.world, rng, co, lo, dr, d_max))
        self.rows["nps"].append(_emit_nps(rng, co, lo, dr, d_max))
        return False

    def tables(self, death: np.ndarray) -> Tables:
        """Assemble the contract tables once the run is over."""
        return _assemble(self.world, self.rows, death)


def _emit_orders(
    world: _World, rng: np.random.Generator, co: _Cohort, dr: _Draws, d_max: int
) -> list[dict[str, np.ndarray]]:
    """Purchase rows and their refund rows (refunds are later rows with negative amounts)."""
    assert dr.o_elem is not None and dr.o_day is not None and dr.o_first is not None
    tr = world.tr
    elem, day = dr.o_elem, dr.o_day
    cust = co.idx[elem]
    n = len(elem)
    pl = np.where(rng.random(n) < _PL_OWN, tr.pl_pref[cust], rng.choice(len(_PL_P), n, p=_PL_P))
    noise = np.exp(_ORDER_SIGMA * rng.standard_normal(n) - _ORDER_SIGMA**2 / 2)
    aov = 1 + _LOYAL_AOV * _loyalty(co.n_orders[elem])
    amount = np.round(np.exp(tr.log_spend[cust]) * aov * _PL_PRICE[pl] * noise, 2)
    margin = np.round(amount * _PL_MARGIN[pl] * (1 + 0.1 * rng.standard_normal(n)), 2)
    items = 1 + rng.poisson(amount / 60.0)
    chan = np.where(rng.random(n) < 0.75, tr.och_pref[cust], rng.choice(4, n, p=_OCH_P))
    sec = rng.integers(0, 86_400, n)
    buy = {"cust": cust, "day": day, "sec": sec, "amount": amount, "margin": margin,
           "items": items, "chan": chan, "pl": pl, "first": dr.o_first}  # fmt: skip
    refund = rng.random(n) < _PL_REFUND[pl]
    frac = np.where(rng.random(n) < 0.7, 1.0, rng.uniform(0.2, 0.8, n))
    r_day = day + rng.integers(2, 22, n)
    r_sec = rng.integers(0, 86_400, n)
    keep = day <= d_max
    back = refund & (r_day <= d_max)
    ret = {
        "cust": cust, "day": r_day, "sec": r_sec, "amount": -np.round(frac * amount, 2),
        "margin": -np.round(frac * (margin + _REFUND_COST * amount), 2),
        "items": -np.maximum(1, np.round(frac * items)).astype(np.int64), "chan": chan,
        "pl": pl, "first": np.zeros(n, bool),
    }  # fmt: skip
    return [{k: v[keep] for k, v in buy.items()}, {k: v[back] for k, v in ret.items()}]


def _emit_charges(
    world: _World, rng: np.random.Generator, co: _Cohort, w: int, lo: np.ndarray,
    dr: _Draws, d_max: int,
) -> dict[str, np.ndarray]:  # fmt: skip
    """Monthly subscription charges on the billing day, while the subscription is active."""
    tr = world.tr
    b = world.bill[w, tr.anchor[co.idx]]
    on = (b >= lo) & (b <= dr.end) & (b <= d_max)
    cust = co.idx[on]
    amount = np.round(_PLAN_PRICE[co.plan[on]] * (1 - tr.discount[cust]), 2)
    n = len(cust)
    return {
        "cust": cust, "day": b[on], "sec": rng.integers(0, 86_400, n), "amount": amount,
        "margin": np.round(_SUB_MARGIN * amount, 2), "items": np.ones(n, np.int64),
        "chan": np.full(n, 4), "pl": np.full(n, 5), "first": np.zeros(n, bool),
    }  # fmt: skip


def _emit_tickets(
    world: _World, rng: np.random.Generator, co: _Cohort, dr: _Draws, d_max: int
) -> dict[str, np.ndarray]:
    """Ticket rows: resolution time, CSAT (answered sometimes, only once resolved), category."""
    t = dr.tickets
    n = len(t.elem)
    sec = rng.integers(0, 86_400, n)
    opened = t.day.astype(np.int64) * _DAY_NS + sec * 10**9
    resolved = opened + (t.res * 3600 * 1e9).astype(np.int64)
    is_resolved = resolved < (d_max + 1) * _DAY_NS
    score = 3.7 + 0.9 * t.qual - 0.6 * np.log1p(t.res / 24) + 0.6 * rng.standard_normal(n)
    answered = (rng.random(n) < 0.45) & is_resolved
    csat = np.where(answered, np.clip(np.round(score), 1, 5), np.nan)
    category = rng.choice(len(_CAT_P), n, p=_CAT_P)
    keep = t.day <= d_max
    out = {
        "cust": co.idx[t.elem], "opened": opened, "resolved": np.where(is_resolved, resolved, -1),
        "chan": t.chan, "csat": csat, "category": category, "esc": t.esc,
    }  # fmt: skip
    return {k: v[keep] for k, v in out.items()}


def _interaction_rates(world: _World, co: _Cohort, lo: np.ndarray) -> list[np.ndarray]:
    """Daily rate of each interaction type (``_ITYPES``) per element, one float64 array a type.

    Columns, not an (elements x types) matrix: with a million customers the matrix of a week
    no longer fits in the cache, and building it (then its cumulative sums) cost more than
    the rates themselves.
    """
    tr = world.tr
    mask = tr.mask[co.idx]
    has = [((mask >> b) & 1).astype(float) for b in range(len(ENGAGE_CHANNELS))]
    e = np.exp(_engagement(co))
    app = (co.s_app <= lo).astype(float)
    sms = tr.sms_opt[co.idx].astype(float)
    weekly = [
        np.full(len(co), _SEND_RATES[0]), 0.20 * e * has[0] + 0.02, 0.05 * e * has[0],
        _SEND_RATES[3] * sms, 0.04 * e * sms * has[1], _SEND_RATES[5] * app,
        0.12 * e * app * has[2], 0.20 * e * has[3] + 0.02, 0.35 * e * app * has[4],
        0.10 * e * has[5], 0.08 * e * has[6],
    ]  # fmt: skip
    return [np.asarray(r, dtype=np.float64) / 7.0 for r in weekly]


def _row_sum(cols: list[np.ndarray]) -> np.ndarray:
    """Element-wise sum of the columns, rounded exactly as ``np.stack(cols, 1).sum(axis=1)``.

    NumPy sums a row of 8 to 128 values in eight running partial sums, adds those pairwise,
    then adds the remaining values one by one; the same order on columns gives the same bits,
    so the generated data stay as they were (a unit test compares the two).
    """
    if not 8 <= len(cols) <= 128:
        raise ValueError("_row_sum takes 8 to 128 columns")
    whole = len(cols) - len(cols) % 8
    p = list(cols[:8])
    for i in range(8, whole, 8):
        p = [p[j] + cols[i + j] for j in range(8)]
    total = ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]))
    for col in cols[whole:]:
        total += col
    return total


def _kinds(rates: list[np.ndarray], elem: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Type of each event: the number of cumulative rates of its element below its ``u``."""
    kind = np.zeros(len(elem), dtype=np.int8)
    cum = np.zeros(0)
    for j, rate in enumerate(rates):
        cum = rate.copy() if j == 0 else cum + rate  # np.cumsum's order: one at a time
        kind += cum[elem] < u
    return kind.clip(0, len(_ITYPES) - 1)


def _emit_interactions(
    world: _World, rng: np.random.Generator, co: _Cohort, lo: np.ndarray, dr: _Draws,
    d_max: int,
) -> dict[str, np.ndarray]:  # fmt: skip
    """Sends and engagement on the alive days; engagement follows the hidden engagement level."""
    rates = _interaction_rates(world, co, lo)
    total = _row_sum(rates)
    m = dr.end - lo + 1
    cnt = _poisson(rng, total * m)
    elem = np.repeat(np.arange(len(co), dtype=I32), cnt)
    n = len(elem)
    kind = _kinds(rates, elem, rng.random(n) * total[elem])
    day = lo[elem] + (m[elem] * rng.random(n)).astype(I32)
    keep = day <= d_max
    sec = rng.integers(0, 86_400, n, dtype=I32)
    return {"cust": co.idx[elem][keep], "day": day[keep], "sec": sec[keep], "type": kind[keep]}


def _emit_nps(
    rng: np.random.Generator, co: _Cohort, lo: np.ndarray, dr: _Draws, d_max: int
) -> dict[str, np.ndarray]:
    """NPS surveys 30 days after signup and every 180 days; about 30% answer."""
    first = co.signup + _NPS_FIRST
    k = np.maximum(0, -((first - lo) // _NPS_EVERY))
    day = first + _NPS_EVERY * k
    n = len(co)
    score = 7.6 + 1.6 * co.sat - 1.5 * co.griev - 1.2 * co.fade + 1.3 * rng.standard_normal(n)
    answer = (day <= dr.end) & (day <= d_max) & (rng.random(n) < _NPS_RESPONSE)
    return {"cust": co.idx[answer], "day": day[answer],
            "sec": rng.integers(0, 86_400, n)[answer],
            "score": np.clip(np.round(score), 0, 10).astype(np.int64)[answer]}  # fmt: skip

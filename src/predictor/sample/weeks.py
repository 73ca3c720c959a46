"""The weekly process: churn hazard, orders, tickets and the hidden state, week by week.

``_run`` advances all living customers one week at a time (vectorised; a cohort element is a
customer, or a customer in one simulated future): it draws the week's deaths, orders and tickets
(``_week_draws``), then updates satisfaction, engagement, grievance, fade and plan
(``_end_week``). A hook sees every week: the collector of rows, or the truth's replay.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace

import numpy as np

from predictor.sample.params import (
    _BAD_HOURS,
    _BREADTH,
    _EARLY_DAYS,
    _EARLY_K,
    _ENG_H,
    _ENG_RHO,
    _ENG_SD,
    _FADE_GRIEV,
    _FADE_H,
    _FADE_MAX,
    _FADE_ON,
    _FADE_RECOVER,
    _FADE_SAT,
    _GRIEV_DECAY,
    _GRIEV_H,
    _H0,
    _LATE_K,
    _LIVE,
    _LOYAL_RATE,
    _LOYALTY,
    _NO_TICKET,
    _PLAN_HAZ,
    _QUICK_HOURS,
    _REPEAT_DAYS,
    _RES_MEDIAN_H,
    _SAT_H,
    _SAT_RHO,
    _SAT_SD,
    _SHOCK,
    _TCH_P,
    _TENURE,
    ENGAGE_CHANNELS,
    F32,
    I32,
    NEVER,
)
from predictor.sample.world import _Traits, _World


@dataclass
class _Cohort:
    """Per-element arrays: an element is a customer, or a customer in one simulated future.

    Static fields are copied from the traits when the customer signs up (``miss0``: onboarding
    steps that never complete, ``*_pull``: the mean-reversion targets of the AR(1) states);
    ``sat``, ``eng``, ``griev``, ``fade``, ``n_orders``, ``last_tix`` and ``plan`` evolve
    weekly (``fade``: 0 while not fading, see the module docstring; ``fspeed`` its growth).
    """

    idx: np.ndarray
    signup: np.ndarray
    hstat: np.ndarray
    dh_app: np.ndarray
    lam0: np.ndarray
    need: np.ndarray
    mu_eng: np.ndarray
    sat_pull: np.ndarray
    eng_pull: np.ndarray
    livechat: np.ndarray
    fp: np.ndarray
    s_app: np.ndarray
    s_other: np.ndarray
    miss0: np.ndarray
    sat: np.ndarray
    eng: np.ndarray
    griev: np.ndarray
    n_orders: np.ndarray
    last_tix: np.ndarray
    plan: np.ndarray
    fspeed: np.ndarray
    fade: np.ndarray

    def __len__(self) -> int:
        return len(self.idx)

    def take(self, sel: np.ndarray) -> _Cohort:
        """The elements selected by a mask or an index array."""
        return _Cohort(**{f.name: getattr(self, f.name)[sel] for f in fields(self)})

    @staticmethod
    def concat(parts: list[_Cohort]) -> _Cohort:
        """Stack cohorts."""
        names = [f.name for f in fields(_Cohort)]
        return _Cohort(**{k: np.concatenate([getattr(p, k) for p in parts]) for k in names})


def _enter(world: _World, new: np.ndarray) -> _Cohort:
    """Cohort elements for customers who sign up now, in their initial state."""
    tr = world.tr
    steps = tr.steps[new].astype(I32)
    others = steps[:, [0, 2, 3]]
    n = len(new)
    hstat = _base_hazard(tr, new, app=False)
    mu_sat, mu_eng = tr.mu_sat[new], tr.mu_eng[new]
    return _Cohort(
        idx=new.astype(I32), signup=tr.signup[new].astype(I32), hstat=hstat.astype(F32),
        dh_app=(_base_hazard(tr, new, app=True) - hstat).astype(F32), lam0=tr.lam0[new].astype(F32),
        need=tr.need[new].astype(F32), mu_eng=mu_eng.astype(F32),
        sat_pull=((1 - _SAT_RHO) * mu_sat - _SAT_SD * _SHOCK / 2).astype(F32),
        eng_pull=((1 - _ENG_RHO) * mu_eng - _ENG_SD * _SHOCK / 2).astype(F32),
        livechat=tr.livechat[new], fp=steps[:, 1], s_app=steps[:, 2], s_other=others,
        miss0=(3 - (others < NEVER).sum(axis=1)).astype(I32), sat=mu_sat.astype(F32),
        eng=mu_eng.astype(F32), griev=np.zeros(n, F32), n_orders=np.zeros(n, I32),
        last_tix=np.full(n, _NO_TICKET, I32),
        plan=tr.plan0[new].astype(I32) if world.mode == "subscription" else np.zeros(n, I32),
        fspeed=tr.fade_speed[new].astype(F32), fade=np.zeros(n, F32),
    )  # fmt: skip


def _base_hazard(tr: _Traits, new: np.ndarray, app: bool) -> np.ndarray:
    """Base hazard x channel breadth: engaged channels the customer can be reached on.

    SMS needs an opt-in, push and app need the app installed (an onboarding step).
    """
    blocked = np.where(tr.sms_opt[new], 0, 1 << 1)
    if not app:
        blocked = blocked | (1 << 2) | (1 << 4)
    reach = tr.mask[new] & ~blocked
    count = np.zeros(len(new), dtype=np.int64)
    for bit in range(len(ENGAGE_CHANNELS)):
        count += (reach >> bit) & 1
    return tr.base_h[new] * _BREADTH[count]


def _missing_steps(co: _Cohort, ref: np.ndarray, age: np.ndarray) -> np.ndarray:
    """Onboarding steps (of the four after account creation) not completed by day ``ref``."""
    missing = co.miss0 + (co.fp > ref)
    young = np.flatnonzero(age < 14)  # the other steps complete within 13 days or never
    if len(young):
        pending = (co.s_other[young] > ref[young, None]) & (co.s_other[young] < NEVER)
        missing[young] += pending.sum(axis=1, dtype=I32)
    return missing


def _hazard(co: _Cohort, ref: np.ndarray, mode: str) -> np.ndarray:
    """Daily churn hazard for the week, from the state at its start (``ref``: reference day)."""
    age = ref - co.signup
    slope = np.where(age < _EARLY_DAYS, F32(_EARLY_K), F32(_LATE_K))
    onboarding = _missing_steps(co, ref, age).astype(F32) * slope + F32(1)
    tenure = _TENURE[np.minimum(age, len(_TENURE) - 1)]
    mood = np.exp(co.sat * F32(-_SAT_H) - _engagement(co) * F32(_ENG_H) + co.fade * F32(_FADE_H))
    base = co.hstat + co.dh_app * (co.s_app <= ref)
    h = base * onboarding * tenure * mood
    if mode == "subscription":
        h *= _PLAN_HAZ[co.plan]
    h += co.griev * F32(_GRIEV_H)
    return np.clip(h, F32(1e-7), F32(0.5))


def _engagement(co: _Cohort) -> np.ndarray:
    """Effective engagement: the AR(1) level lowered by the fade level."""
    return co.eng - co.fade


def _loyalty(n_orders: np.ndarray) -> np.ndarray:
    """0 for a new customer, approaching 1 after several orders."""
    return _LOYALTY[np.minimum(n_orders, len(_LOYALTY) - 1)]


def _order_rate(co: _Cohort, season: np.ndarray | np.floating) -> np.ndarray:
    """Daily rate of regular orders: trait x season x loyalty x engagement."""
    boost = _loyalty(co.n_orders) * F32(_LOYAL_RATE) + F32(1)
    mood = np.clip((_engagement(co) - co.mu_eng) * F32(0.3) + F32(1), F32(0.2), F32(2.0))
    return co.lam0 * season * boost * mood


def _ticket_rate(co: _Cohort, age: np.ndarray) -> np.ndarray:
    """Daily rate of support tickets: trait, three times higher in the first month."""
    first_month = np.where(age < 30, F32(3), F32(1))
    trouble = np.clip(F32(1) - co.sat * F32(0.2), F32(0.5), F32(1.6))
    return co.need * first_month * trouble * (F32(1) + F32(0.5) * np.minimum(co.fade, F32(2)))


def _poisson(rng: np.random.Generator, mu: np.ndarray) -> np.ndarray:
    """Exact Poisson draws, fast when most means are small.

    Inverse CDF with one uniform per draw; only the draws that can be non-zero (``u < mu``,
    since ``P(K >= 1) = 1 - exp(-mu) <= mu``) do any further work. The tail ``P(K > j)`` only
    falls as ``j`` grows, so a draw whose tail is below its uniform is final: it leaves the
    working arrays at once (with a million customers the largest draw of a week is far above
    the typical one, and stepping every draw to it made this grow faster than the rows).
    """
    u = rng.random(mu.shape, dtype=F32)
    k = np.zeros(mu.shape, dtype=I32)
    cand = np.flatnonzero(u < mu)
    if not len(cand):
        return k
    mean = mu[cand].astype(float)
    v = np.maximum(u[cand], 1e-12)  # a uniform of exactly 0 would never stop
    p = np.exp(-mean)
    tail = 1.0 - p  # P(K > j), starting at j = 0
    for j in range(1, 10_000):
        more = tail >= v
        if not more.all():
            k[cand[~more]] = j - 1
            cand, mean, v, p, tail = cand[more], mean[more], v[more], p[more], tail[more]
            if not len(cand):
                return k
        p = p * mean / j
        tail = tail - p
    k[cand] = 9_999
    return k


def _death_days(
    rng: np.random.Generator, h: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    """Day of death (end of that day) within ``lo .. hi`` at daily hazard ``h``; NEVER if none.

    Exact geometric law; logs are only taken for the few draws that can die this week.
    """
    span = np.clip(hi - lo + 1, 0, None).astype(F32)
    v = rng.random(h.shape, dtype=F32)
    out = np.full(h.shape, NEVER, dtype=I32)
    cand = np.flatnonzero(v < span * h)  # P(death in span) = 1 - (1-h)^span <= span * h
    if len(cand):
        vc, hc = v[cand].astype(float), h[cand].astype(float)
        gap = np.floor(np.log1p(-vc) / np.log1p(-hc)).astype(np.int64)
        day = lo[cand] + gap
        out[cand] = np.where(day <= hi[cand], day, NEVER)
    return out


@dataclass
class _Tickets:
    """Tickets drawn in one week, sorted by element then day."""

    elem: np.ndarray
    day: np.ndarray
    chan: np.ndarray
    esc: np.ndarray
    res: np.ndarray
    qual: np.ndarray
    bad: np.ndarray
    quick: np.ndarray
    rep: np.ndarray


@dataclass
class _Draws:
    """Everything drawn for one week of a cohort (``end``: last day alive within the week)."""

    h: np.ndarray
    lam: np.ndarray
    rho: np.ndarray
    end: np.ndarray
    died: np.ndarray
    first: np.ndarray
    k: np.ndarray
    tickets: _Tickets
    o_elem: np.ndarray | None = None
    o_day: np.ndarray | None = None
    o_first: np.ndarray | None = None
    tau: np.ndarray | None = None


@dataclass
class _Agg:
    """A week's events that feed the state update: orders per element, and each ticket."""

    n_ord: np.ndarray
    t_elem: np.ndarray
    t_day: np.ndarray
    t_bad: np.ndarray
    t_quick: np.ndarray
    t_rep: np.ndarray

    def __add__(self, other: _Agg) -> _Agg:
        tickets = (np.concatenate([getattr(self, k), getattr(other, k)]) for k in _TICKET_KEYS)
        return _Agg(self.n_ord + other.n_ord, *tickets)


_TICKET_KEYS = ("t_elem", "t_day", "t_bad", "t_quick", "t_rep")


def _week_draws(
    world: _World, co: _Cohort, w: np.ndarray | int, lo: np.ndarray,
    rng: np.random.Generator, kill: bool,
) -> _Draws:  # fmt: skip
    """Draw one week (days ``lo`` .. week end) for every element.

    ``kill``: draw deaths (the data and its replay). Without it the element lives through the
    week (a simulated future, weighted later by the probability of being alive).
    """
    ws = np.asarray(7 * w, dtype=I32)
    hi = np.broadcast_to(ws + I32(6), lo.shape)
    ref = np.maximum(ws, co.signup)
    h = _hazard(co, ref, world.mode)
    if kill:
        death = _death_days(rng, h, lo, hi)
        died = death < NEVER
        end = np.where(died, death, hi)
    else:
        died = np.zeros(len(co), dtype=bool)
        end = hi
    first = (co.fp >= lo) & (co.fp <= end)
    reg_lo = np.maximum(lo, co.fp + 1)
    m_reg = np.clip(end - reg_lo + 1, 0, None)
    lam = _order_rate(co, world.season[w])
    k = _poisson(rng, lam * m_reg.astype(F32))
    rho = _ticket_rate(co, ref - co.signup)
    dr = _Draws(h, lam, rho, end, died, first, k, None)  # type: ignore[arg-type]
    if kill:
        dr.o_elem, dr.o_day, dr.o_first = _order_days(rng, k, first, reg_lo, m_reg, co.fp)
    elif world.mode == "retail":
        dr.tau = _first_order_day(rng, k, reg_lo, m_reg)
    dr.tickets = _draw_tickets(rng, co, lo, np.clip(end - lo + 1, 0, None), rho)
    return dr


def _order_days(
    rng: np.random.Generator, k: np.ndarray, first: np.ndarray, reg_lo: np.ndarray,
    m_reg: np.ndarray, fp: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Element, day and first-purchase flag of every order (uniform days over the alive span)."""
    elem_r = np.repeat(np.arange(len(k), dtype=I32), k)
    day_r = reg_lo[elem_r] + (m_reg[elem_r] * rng.random(len(elem_r))).astype(I32)
    elem_f = np.flatnonzero(first).astype(I32)
    elem = np.concatenate([elem_f, elem_r])
    day = np.concatenate([fp[elem_f], day_r])
    flag = np.concatenate([np.ones(len(elem_f), bool), np.zeros(len(elem_r), bool)])
    return elem, day, flag


def _first_order_day(
    rng: np.random.Generator, k: np.ndarray, reg_lo: np.ndarray, m_reg: np.ndarray
) -> np.ndarray:
    """Day of the earliest of ``k`` uniform order days (same law as ``_order_days``)."""
    out = np.full(len(k), NEVER, dtype=I32)
    some = np.flatnonzero(k)
    earliest = 1.0 - rng.random(len(some)) ** (1.0 / k[some])
    out[some] = reg_lo[some] + (m_reg[some] * earliest).astype(I32)
    return out


def _draw_tickets(
    rng: np.random.Generator, co: _Cohort, lo: np.ndarray, m: np.ndarray, rho: np.ndarray
) -> _Tickets:
    """Support tickets: channel, escalation, resolution hours and how well they went."""
    kt = _poisson(rng, rho * m.astype(F32))
    elem = np.repeat(np.arange(len(kt), dtype=I32), kt)
    nt = len(elem)
    day = lo[elem] + (m[elem] * rng.random(nt)).astype(I32)
    live = co.livechat[elem] & (rng.random(nt) < 0.7)
    chan = np.where(live, _LIVE, rng.choice(len(_TCH_P), nt, p=_TCH_P))
    esc = rng.random(nt) < 0.1
    res = _RES_MEDIAN_H[chan] * np.exp(0.9 * rng.standard_normal(nt)) * np.where(esc, 4.0, 1.0)
    qual = 0.3 * co.sat[elem] + rng.standard_normal(nt) + 0.4 * (chan == _LIVE)
    order = np.lexsort((day, elem))
    elem, day, chan, esc, res, qual = (x[order] for x in (elem, day, chan, esc, res, qual))
    same = np.r_[False, elem[1:] == elem[:-1]]
    prev = np.where(same, np.r_[0, day[:-1]], co.last_tix[elem])
    bad = (res > _BAD_HOURS) | (qual < -1.3)
    quick = (res < _QUICK_HOURS) & ~bad
    return _Tickets(elem, day, chan, esc, res, qual, bad, quick, day - prev < _REPEAT_DAYS)


def _aggregate(dr: _Draws, n: int, limit: np.ndarray | None = None) -> _Agg:
    """The week's orders per element and its tickets (only days <= ``limit`` if given)."""
    t = dr.tickets
    if limit is None:
        n_ord = dr.k + dr.first
        keep: slice | np.ndarray = slice(None)
    else:
        assert dr.o_elem is not None and dr.o_day is not None
        n_ord = np.bincount(dr.o_elem[dr.o_day <= limit[dr.o_elem]], minlength=n).astype(I32)
        keep = t.day <= limit[t.elem]
    return _Agg(
        n_ord, t.elem[keep], t.day[keep], t.bad[keep].astype(F32), t.quick[keep].astype(F32),
        t.rep[keep].astype(F32),
    )  # fmt: skip


def _end_week(world: _World, co: _Cohort, agg: _Agg, rng: np.random.Generator) -> _Cohort:
    """The state at the start of next week (before deaths are removed)."""
    n = len(co)
    sub = world.mode == "subscription"
    u = rng.random((4 if sub else 3, n), dtype=F32)
    sat = co.sat * F32(_SAT_RHO) + co.sat_pull + u[0] * F32(_SAT_SD * _SHOCK)
    eng = co.eng * F32(_ENG_RHO) + co.eng_pull + u[1] * F32(_ENG_SD * _SHOCK)
    griev = co.griev * F32(_GRIEV_DECAY)
    last_tix = co.last_tix
    if len(agg.t_elem):
        np.add.at(sat, agg.t_elem, agg.t_quick * F32(0.2) - agg.t_bad * F32(0.5))
        np.add.at(griev, agg.t_elem, agg.t_bad + agg.t_rep * F32(0.8))
        last_tix = last_tix.copy()
        np.maximum.at(last_tix, agg.t_elem, agg.t_day)
    plan = _plan_changes(co.plan, sat - co.fade, u[3]) if sub else co.plan
    return replace(
        co, sat=sat, eng=eng, griev=griev, n_orders=co.n_orders + agg.n_ord, plan=plan,
        last_tix=last_tix, fade=_fade_step(co, u[2], _H0[world.mode]),
    )  # fmt: skip


def _fade_step(co: _Cohort, u: np.ndarray, h0: float) -> np.ndarray:
    """Next week's fade level: onset, growth or recovery.

    The onset chance scales with the customer's own base hazard (traits, channel breadth),
    and rises with low satisfaction and with grievance.
    """
    fading = co.fade > 0
    prone = co.hstat * F32(1 / h0)
    mood = np.exp(co.sat * F32(-_FADE_SAT)) * (F32(1) + co.griev * F32(_FADE_GRIEV))
    onset = F32(_FADE_ON) * prone * mood
    start = ~fading & (u < onset)
    recover = fading & (u < F32(_FADE_RECOVER))
    grow = (fading & ~recover) | start
    grown = np.minimum(co.fade + co.fspeed, F32(_FADE_MAX))
    return np.where(grow, grown, np.where(recover, F32(0), co.fade)).astype(F32)


def _plan_changes(plan: np.ndarray, sat: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Upgrades (more likely when satisfied) and downgrades (when not), at most one a week."""
    cand = np.flatnonzero((u < 0.012) | (u > 1 - 0.009))  # the largest possible chances
    if not len(cand):
        return plan
    s, v, p = sat[cand], u[cand], plan[cand]
    up = (v < 0.004 * np.clip(1 + 0.5 * s, 0.2, 3)) & (p < 2)
    down = (v > 1 - 0.003 * np.clip(1 - 0.5 * s, 0.2, 3)) & (p > 0)
    plan = plan.copy()
    plan[cand] = p + up - down
    return plan


Hook = Callable[[int, _Cohort, np.ndarray, _Draws, _Cohort], bool]


def _run(world: _World, n_weeks: int, hook: Hook) -> np.ndarray:
    """Simulate weeks ``0 .. n_weeks-1`` with deaths; return each customer's death day.

    ``hook(w, cohort, lo, draws, nxt)`` sees every week (the cohort as at the week's start and
    as at the next week's start, deaths not yet removed) and may stop the run by returning
    True. The core draws use stream 0 of each week, so a replay reproduces the data exactly.
    """
    tr = world.tr
    starts = np.searchsorted(tr.signup, 7 * np.arange(n_weeks + 1))
    death = np.full(len(tr.signup), NEVER, dtype=np.int64)
    co: _Cohort | None = None
    for w in range(n_weeks):
        new = np.arange(starts[w], starts[w + 1])
        if len(new):
            co = _enter(world, new) if co is None else _Cohort.concat([co, _enter(world, new)])
        if co is None or not len(co):
            continue
        lo = np.maximum(I32(7 * w), co.signup)
        rng = world.rng(w, 0)
        dr = _week_draws(world, co, w, lo, rng, kill=True)
        nxt = _end_week(world, co, _aggregate(dr, len(co)), rng)
        if hook(w, co, lo, dr, nxt):
            break
        death[co.idx[dr.died]] = dr.end[dr.died]
        co = nxt.take(~dr.died)
    return death

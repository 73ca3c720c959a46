"""The benchmark answers from the exact hidden state: ``ground_truth`` and ``day_one_truth``.

The truth replays the same seeded draws to the cutoff, then simulates futures without death and
weights every future event by the probability of being alive then (survival weighting: exact in
expectation, low variance).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from predictor.sample import params as P
from predictor.sample.generator import SampleBusiness
from predictor.sample.weeks import (
    _TICKET_KEYS,
    _Agg,
    _aggregate,
    _Cohort,
    _Draws,
    _end_week,
    _loyalty,
    _run,
    _week_draws,
)
from predictor.sample.world import _World
from predictor.timeline import is_purchase


def ground_truth(
    sample: SampleBusiness,
    as_of: pd.Timestamp | str,
    *,
    churn_horizon_days: int = 90,
    churn_lookback_days: int = 365,
    value_horizon_months: int = 13,
    n_sims: int = 64,
    seed: int = 0,
) -> pd.DataFrame:
    """True churn probability and expected value for customers signed up by ``as_of``.

    Columns: ``alive`` (hidden state at the end of ``as_of``); ``in_churn_population``
    (subscription: a subscription covers the end of ``as_of``; retail: a purchase, i.e. an
    order with amount > 0, dated within the ``churn_lookback_days`` days ending on ``as_of``);
    ``true_churn_prob`` (subscription: all subscriptions end within the horizon; retail: no
    purchase within it; NaN outside the population); ``true_value_13m`` and
    ``true_margin_13m`` (expected sum of order amounts / margins dated in
    ``(as_of, as_of + value_horizon_months]``, refunds netted at order time); and
    ``true_tickets_13m`` (expected tickets opened in that window, for a cost to serve).
    """
    _check_positive(
        churn_horizon_days=churn_horizon_days, churn_lookback_days=churn_lookback_days,
        value_horizon_months=value_horizon_months, n_sims=n_sims,
    )  # fmt: skip
    world = sample._world
    a = _day_of(sample, as_of)
    n_in = int(np.searchsorted(world.tr.signup, a, side="right"))
    a_days = np.full(n_in, a, dtype=np.int64)
    vend = np.full(n_in, _add_months_day(world.start, a, value_horizon_months))
    cend = a_days + churn_horizon_days
    snap = _replay(world, a_days)
    fut = _futures(world, snap, vend, cend, n_sims, seed)
    ids = sample.tables.customers["customer_id"].iloc[:n_in]
    out = _truth_frame(ids, snap.alive, fut, "true_value_13m", "true_margin_13m")
    out["true_tickets_13m"] = fut["tickets"]
    population = _population(sample, a, churn_lookback_days, n_in)
    prob = np.where(snap.alive, fut["p_churn"], 1.0)
    out.insert(1, "in_churn_population", population)
    out.insert(2, "true_churn_prob", np.where(population, prob, np.nan))
    return out


def day_one_truth(
    sample: SampleBusiness,
    *,
    window_days: int = 1,
    value_horizon_months: int = 13,
    n_sims: int = 64,
    seed: int = 0,
) -> pd.DataFrame:
    """Expected value in the months after each customer's Day One window, from the hidden state.

    The window is the signup day plus ``window_days - 1`` days (inclusive). Columns: ``alive``
    (at the end of the window), ``true_day_one_value``, ``true_day_one_margin``. Windows may
    end after ``end_date``: the truth is defined for every customer.
    """
    _check_positive(
        window_days=window_days, value_horizon_months=value_horizon_months, n_sims=n_sims
    )
    world = sample._world
    a_days = world.tr.signup.astype(np.int64) + window_days - 1
    ends = pd.DatetimeIndex(world.start + pd.to_timedelta(a_days, unit="D"))
    ends = ends + pd.DateOffset(months=value_horizon_months)
    vend = ((ends - world.start) // pd.Timedelta(days=1)).to_numpy().astype(np.int64)
    snap = _replay(world, a_days)
    fut = _futures(world, snap, vend, a_days, n_sims, seed)
    ids = sample.tables.customers["customer_id"]
    return _truth_frame(ids, snap.alive, fut, "true_day_one_value", "true_day_one_margin")


@dataclass
class _Snapshot:
    """Hidden state at each customer's cutoff ``a`` (end of that day).

    ``co`` holds the state at the start of the cutoff's week for the customers alive at their
    cutoff, ``carry`` their realised events of that week up to the cutoff (tickets refer to
    snapshot rows). ``alive`` is per customer asked for, in customer order.
    """

    co: _Cohort
    carry: _Agg
    a: np.ndarray
    alive: np.ndarray


def _replay(world: _World, a_days: np.ndarray) -> _Snapshot:
    """Replay the seeded process up to each customer's cutoff ``a_days[i]`` (customers 0..m-1)."""
    m = len(a_days)
    if not m:
        return _snapshot([], 0)
    week_of = a_days // 7
    last = int(week_of.max())
    parts: list[tuple[_Cohort, _Agg, np.ndarray]] = []

    def hook(w: int, co: _Cohort, lo: np.ndarray, dr: _Draws, nxt: _Cohort) -> bool:
        mine = co.idx < m
        pos = np.minimum(co.idx, m - 1)
        limit = np.where(mine, a_days[pos], -1).astype(P.I32)
        sel = mine & (week_of[pos] == w) & (co.signup <= limit)
        if sel.any():
            alive = sel & (~dr.died | (dr.end > limit))
            parts.append(_snapshot_part(co, _aggregate(dr, len(co), limit), alive, limit))
        return w >= last

    _run(world.extend(int(a_days.max())), last + 1, hook)
    return _snapshot(parts, m)


def _snapshot_part(
    co: _Cohort, agg: _Agg, alive: np.ndarray, limit: np.ndarray
) -> tuple[_Cohort, _Agg, np.ndarray]:
    """The elements alive at their cutoff, with their realised events of the week so far."""
    keep = np.flatnonzero(alive)
    pos = np.full(len(co), -1, dtype=P.I32)
    pos[keep] = np.arange(len(keep), dtype=P.I32)
    t_new = pos[agg.t_elem]
    mine = t_new >= 0
    tickets = [t_new[mine]] + [getattr(agg, k)[mine] for k in _TICKET_KEYS[1:]]
    state = co.take(keep)
    state.last_tix = state.last_tix.copy()
    np.maximum.at(state.last_tix, tickets[0], tickets[1])
    return state, _Agg(agg.n_ord[keep], *tickets), limit[keep]


def _snapshot(parts: list[tuple[_Cohort, _Agg, np.ndarray]], m: int) -> _Snapshot:
    """Stack the per-week pieces of a replay (ticket rows renumbered)."""
    alive = np.zeros(m, dtype=bool)
    if not parts:
        return _Snapshot(None, None, np.zeros(0, P.I32), alive)  # type: ignore[arg-type]
    co = _Cohort.concat([p[0] for p in parts])
    offsets = np.cumsum([0] + [len(p[0]) for p in parts[:-1]])
    carry = _Agg(
        np.concatenate([p[1].n_ord for p in parts]),
        np.concatenate([p[1].t_elem + off for p, off in zip(parts, offsets, strict=True)]),
        *(np.concatenate([getattr(p[1], k) for p in parts]) for k in _TICKET_KEYS[1:]),
    )
    alive[co.idx] = True
    return _Snapshot(co, carry, np.concatenate([p[2] for p in parts]), alive)


def _expected_order(world: _World, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expected amount and margin of an order net of refunds, before loyalty, per customer.

    Customers who never make a first purchase never order: their expected order is zero.
    """
    tr = world.tr
    share = (1 - P._PL_OWN) * P._PL_P[None, :] + P._PL_OWN * np.eye(len(P._PL_P))[tr.pl_pref[idx]]
    refund = P._PL_REFUND * P._REFUND_FRAC
    amount = share @ (P._PL_PRICE * (1 - refund))
    margin = share @ (P._PL_PRICE * (P._PL_MARGIN - refund * (P._PL_MARGIN + P._REFUND_COST)))
    scale = np.exp(tr.log_spend[idx]) * (tr.steps[idx, 1] < P.NEVER)
    return (scale * amount).astype(P.F32), (scale * margin).astype(P.F32)


def _futures(
    world: _World, snap: _Snapshot, vend: np.ndarray, cend: np.ndarray, n_sims: int, seed: int
) -> dict[str, np.ndarray]:
    """Monte Carlo futures from the snapshot; per customer means (zeros when not alive)."""
    m = len(snap.alive)
    out = {k: np.zeros(m) for k in ("value", "margin", "tickets", "p_churn")}
    if snap.co is None or n_sims < 1:
        return out
    n = len(snap.co)
    length = np.maximum(vend[snap.co.idx], cend[snap.co.idx]) - snap.a
    world_x = world.extend(int(snap.a.max() + length.max()) + 14)
    block = min(n, P._MC_ELEMENTS)
    per = max(1, min(n_sims, P._MC_ELEMENTS // block))
    for b0 in range(0, n, block):
        rows = np.arange(b0, min(n, b0 + block))
        for s0 in range(0, n_sims, per):
            s = min(per, n_sims - s0)
            rng = np.random.default_rng([seed, world.seed, P._MODE_KEY[world.mode], b0, s0, 99])
            res = _future_chunk(world_x, snap, rows, s, (vend, cend), rng)
            cust = snap.co.idx[rows]
            for k, v in res.items():
                out[k][cust] += v.reshape(s, len(rows)).sum(axis=0, dtype=float) / n_sims
    return out


@dataclass
class _Paths:
    """Running totals of one chunk of simulated futures.

    ``surv`` is the probability of being alive during the first day of the current week's
    segment; every future event is weighted by the probability of being alive on its day.
    """

    surv: np.ndarray
    value: np.ndarray
    margin: np.ndarray
    tickets: np.ndarray
    surv_churn: np.ndarray
    p_order: np.ndarray
    found: np.ndarray


@dataclass
class _Fixed:
    """Per-element constants of a chunk of futures."""

    ev_amt: np.ndarray
    ev_mar: np.ndarray
    anchor: np.ndarray
    price: np.ndarray
    vend: np.ndarray
    cend: np.ndarray


def _chunk_carry(carry: _Agg, rows: np.ndarray, sims: int) -> _Agg:
    """The realised part of the cutoff's week for ``sims`` copies of contiguous ``rows``."""
    b0, size = int(rows[0]), len(rows)
    mine = (carry.t_elem >= b0) & (carry.t_elem < b0 + size)
    local = carry.t_elem[mine] - b0
    elem = (np.arange(sims, dtype=P.I32)[:, None] * size + local[None, :]).ravel()
    rest = (np.tile(getattr(carry, k)[mine], sims) for k in _TICKET_KEYS[1:])
    return _Agg(np.tile(carry.n_ord[rows], sims), elem.astype(P.I32), *rest)


def _future_chunk(
    world: _World, snap: _Snapshot, rows: np.ndarray, sims: int,
    ends: tuple[np.ndarray, np.ndarray], rng: np.random.Generator,
) -> dict[str, np.ndarray]:  # fmt: skip
    """Simulate ``sims`` futures of the snapshot rows ``rows`` (contiguous) to their horizons."""
    co = snap.co.take(np.tile(rows, sims))
    a = snap.a[np.tile(rows, sims)].astype(P.I32)
    ev_amt, ev_mar = _expected_order(world, co.idx)
    fixed = _Fixed(ev_amt, ev_mar, world.tr.anchor[co.idx],
                   (1 - world.tr.discount[co.idx]).astype(P.F32),
                   ends[0][co.idx].astype(P.I32), ends[1][co.idx].astype(P.I32))  # fmt: skip
    n = len(co)
    paths = _Paths(*(np.zeros(n, P.F32) for _ in range(6)), np.zeros(n, dtype=bool))
    paths.surv[:] = 1
    paths.surv_churn[:] = 1
    w0 = a // 7
    w0 = int(w0[0]) if np.all(w0 == w0[0]) else w0
    weeks = int(np.max(np.maximum(fixed.vend, fixed.cend) - a)) // 7 + 2
    carry = _chunk_carry(snap.carry, rows, sims)
    for r in range(weeks):
        w = w0 + r
        lo = a + P.I32(1) if r == 0 else np.broadcast_to(np.asarray(7 * w, dtype=P.I32), a.shape)
        dr = _week_draws(world, co, w, lo, rng, kill=False)
        _accrue(world, co, w, lo, dr, paths, fixed)
        agg = _aggregate(dr, n)
        co = _end_week(world, co, agg + carry if r == 0 else agg, rng)
    p_churn = 1 - (paths.surv_churn if world.mode == "subscription" else paths.p_order)
    return {"value": paths.value, "margin": paths.margin, "tickets": paths.tickets,
            "p_churn": p_churn}  # fmt: skip


def _geo(h: np.ndarray, count: np.ndarray) -> np.ndarray:
    """``sum_{j < count} (1 - h)^j`` (0 when ``count <= 0``), in float64."""
    h64 = h.astype(float)
    return -np.expm1(np.clip(count, 0, None) * np.log1p(-h64)) / h64


def _qpow(h: np.ndarray, days: np.ndarray) -> np.ndarray:
    """``(1 - h) ** days``: the probability of surviving ``days`` day ends, in float64."""
    return np.exp(days * np.log1p(-h.astype(float)))


def _geo_week(h: np.ndarray) -> np.ndarray:
    """``sum_{j < 7} (1 - h)^j`` as its exact polynomial in ``h`` (accurate for tiny ``h``)."""
    g = h - P.F32(7)
    for c in (21, -35, 35, -21, 7):
        g = g * h + P.F32(c)
    return g


def _accrue(
    world: _World, co: _Cohort, w: np.ndarray | int, lo: np.ndarray, dr: _Draws, p: _Paths,
    fx: _Fixed,
) -> None:  # fmt: skip
    """Add one week's survival-weighted expected value, tickets and churn terms to ``p``.

    Weeks are exact: an event on day ``d`` counts with ``surv * (1-h)^(d - lo)``. Full weeks
    use a polynomial; logs and exps are only taken where a window is partial.
    """
    h, hi = dr.h, np.asarray(7 * w + 6, dtype=P.I32)
    full = np.all(hi - lo == 6)
    g = _geo_week(h) if full else _geo(h, hi - lo + 1).astype(P.F32)
    q_week = P.F32(1) - h * g
    vhi = np.minimum(hi, fx.vend)
    part = np.flatnonzero(vhi < hi)
    g_value = g.copy()
    g_value[part] = _geo(h[part], vhi[part] - lo[part] + 1)
    _accrue_orders(co, lo, vhi, dr, p, g_value, fx)
    p.tickets += p.surv * dr.rho * g_value
    if world.mode == "subscription":
        _accrue_charges(world, co, w, lo, vhi, h, p, fx)
        sel = np.flatnonzero((fx.cend >= lo) & (fx.cend <= hi))
        p.surv_churn[sel] = p.surv[sel] * _qpow(h[sel], fx.cend[sel] - lo[sel] + 1)
    else:
        _accrue_first_purchase(co, lo, np.minimum(hi, fx.cend), dr, p)
    p.surv *= q_week


def _accrue_orders(
    co: _Cohort, lo: np.ndarray, vhi: np.ndarray, dr: _Draws, p: _Paths, g: np.ndarray,
    fx: _Fixed,
) -> None:  # fmt: skip
    """Expected order value: regular orders after the first purchase, and the first purchase."""
    h = dr.h
    pend = np.flatnonzero((co.fp + 1 > lo) & (co.fp < P.NEVER))
    if len(pend):
        g = g.copy()
        start = co.fp[pend] + 1
        g[pend] = _qpow(h[pend], start - lo[pend]) * _geo(h[pend], vhi[pend] - start + 1)
    reg = p.surv * dr.lam * g * (_loyalty(co.n_orders) * P.F32(P._LOYAL_AOV) + P.F32(1))
    p.value += reg * fx.ev_amt
    p.margin += reg * fx.ev_mar
    sel = np.flatnonzero((co.fp >= lo) & (co.fp <= vhi))
    first = p.surv[sel] * _qpow(h[sel], co.fp[sel] - lo[sel])
    p.value[sel] += first * fx.ev_amt[sel]
    p.margin[sel] += first * fx.ev_mar[sel]


def _accrue_charges(
    world: _World, co: _Cohort, w: np.ndarray | int, lo: np.ndarray, vhi: np.ndarray,
    h: np.ndarray, p: _Paths, fx: _Fixed,
) -> None:  # fmt: skip
    """Expected subscription charges on the billing days inside the window."""
    b = world.bill[w][fx.anchor] if np.ndim(w) == 0 else world.bill[w, fx.anchor]
    sel = np.flatnonzero((b >= lo) & (b <= vhi))
    fee = P._PLAN_PRICE[co.plan[sel]] * fx.price[sel]
    charge = p.surv[sel] * _qpow(h[sel], b[sel] - lo[sel]) * fee
    p.value[sel] += charge
    p.margin[sel] += P._SUB_MARGIN * charge


def _accrue_first_purchase(
    co: _Cohort, lo: np.ndarray, chi: np.ndarray, dr: _Draws, p: _Paths
) -> None:
    """Retail churn: probability of a purchase in the window, at the path's first order day."""
    assert dr.tau is not None
    fp_in = (co.fp >= lo) & (co.fp <= chi)
    cand = np.minimum(np.where(fp_in, co.fp, P.NEVER), dr.tau)
    sel = np.flatnonzero(~p.found & (cand <= chi))
    p.p_order[sel] += p.surv[sel] * _qpow(dr.h[sel], cand[sel] - lo[sel])
    p.found[sel] = True


def _check_positive(**values: int) -> None:
    """Refuse horizons, windows and simulation counts below 1."""
    bad = [name for name, value in values.items() if value < 1]
    if bad:
        raise ValueError(f"{', '.join(bad)} must be >= 1")


def _day_of(sample: SampleBusiness, as_of: pd.Timestamp | str) -> int:
    """Day index of a cutoff, which must lie within the data."""
    ts = pd.Timestamp(as_of).normalize()
    if ts.tzinfo is not None:
        ts = ts.tz_localize(None)
    if not sample.start_date <= ts <= sample.end_date:
        raise ValueError(f"as_of {ts.date()} is outside the data ({sample.start_date.date()} .. "
                         f"{sample.end_date.date()})")  # fmt: skip
    return int((ts - sample.start_date) // pd.Timedelta(days=1))


def _add_months_day(start: pd.Timestamp, day: int, months: int) -> int:
    """Day index of ``day`` moved by calendar months (day of month clipped to month end)."""
    ts = start + pd.Timedelta(days=day) + pd.DateOffset(months=months)
    return int((ts - start) // pd.Timedelta(days=1))


def _population(sample: SampleBusiness, a: int, lookback: int, n_in: int) -> np.ndarray:
    """Churn population at the end of day ``a``, from the tables (as the labels define it)."""
    ids = sample.tables.customers["customer_id"].iloc[:n_in]
    limit = sample.start_date + pd.Timedelta(days=a + 1)
    if sample.mode == "subscription":
        subs = sample.tables.subscriptions
        assert subs is not None
        cover = (subs["start_date"] < limit) & (
            subs["end_date"].isna() | (subs["end_date"] >= limit)
        )
        return ids.isin(subs.loc[cover, "customer_id"]).to_numpy()
    orders = sample.tables.orders
    lo = limit - pd.Timedelta(days=lookback)
    recent = (orders["order_date"] >= lo) & (orders["order_date"] < limit)
    recent &= is_purchase(orders["amount"])
    return ids.isin(orders.loc[recent, "customer_id"]).to_numpy()


def _truth_frame(
    ids: pd.Series, alive: np.ndarray, fut: dict[str, np.ndarray], value: str, margin: str
) -> pd.DataFrame:
    """The common columns of the truth tables, indexed by customer id."""
    return pd.DataFrame(
        {"alive": alive, value: fut["value"], margin: fut["margin"]},
        index=pd.Index(ids.to_numpy(), name="customer_id", dtype="str"),
    )

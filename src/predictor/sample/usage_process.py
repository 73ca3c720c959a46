"""The usage sample's hidden process: account traits, the daily state and the cancellation hazard.

One step is one calendar day, vectorised over the accounts alive at its start (an element is an
account, or an account in one simulated future of the truth). ``_step`` draws the day's
cancellations, support tickets, invoice outcome, seat and plan changes and the state's noise,
all from the day's *state stream*, so a replay of the data (``usage_truth``) reproduces the
state exactly without drawing any usage event (those come from a separate stream).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

F32 = np.float32
I32 = np.int32
NEVER = 1 << 30
_KEY = 0x05A6E  # separates the usage sample's random streams from the other modes'

USAGE_PLANS = ("starter", "team", "business", "enterprise")
SEAT_PRICE = np.array([8.0, 15.0, 25.0, 40.0])
"""Monthly price per seat of each plan."""
_PLAN_HAZ = np.array([1.3, 1.0, 0.8, 0.6], dtype=F32)
SIZE_BANDS = ("1-10", "11-50", "51-200", "201+")
_SIZE_P = np.array([0.45, 0.33, 0.16, 0.06])
_SIZE_SEATS = np.log(np.array([2.5, 7.0, 18.0, 40.0]))  # log median seats at signup
_SIZE_HAZ = np.array([0.35, 0.0, -0.3, -0.6])
ACQ_CHANNELS = ("self_serve", "sales", "partner", "marketplace")
_ACQ_P = np.array([0.5, 0.25, 0.1, 0.15])
_ACQ_HAZ = np.array([0.2, -0.25, -0.1, 0.15])
_ACQ_HEALTH = np.array([0.0, 0.2, 0.1, -0.15])
INDUSTRIES = ("software", "retail", "finance", "healthcare", "education", "media")
_IND_P = np.array([0.3, 0.15, 0.15, 0.12, 0.13, 0.15])
_IND_HAZ = np.array([0.0, 0.2, -0.2, -0.1, 0.25, 0.1])
COUNTRIES = ("US", "GB", "DE", "FR", "CA", "AU", "NL")
_COUNTRY_P = np.array([0.45, 0.15, 0.12, 0.08, 0.08, 0.06, 0.06])

# Hazard (per day): base x tenure x plan x exp(-_H_HEALTH h + _H_FADE f + _H_GRIEV g)
# + _H_DUNNING while a failed invoice is unpaid.
_H0 = 0.00008
_H_SD = 0.2
_H_HEALTH = 0.5
_H_FADE = 1.6
_H_GRIEV = 0.25
_H_DUNNING = 0.01
_TENURE_K, _TENURE_DAYS = 0.5, 60.0  # new accounts cancel more: x (1 + k exp(-age / days))
# Health: daily AR(1) around the account's own mean, hit by bad tickets and failed payments.
_RHO = 0.985
_HEALTH_SD = 0.5  # stationary sd of the daily noise part
_BAD_HIT, _FAIL_HIT = 0.25, 0.3
_GRIEV_DECAY = 0.97
# Fading: onset chance per day, growth per day (individual), recovery, cap.
_FADE_ON = 0.0006
_FADE_ON_HEALTH = 0.9
_FADE_ON_GRIEV = 0.5
_FADE_SPEED = 0.03
_FADE_SPEED_SD = 0.5
_FADE_RECOVER = 0.002
_FADE_MAX = 4.0
# Tickets, invoices, seats and plans.
_TICKETS_DAY = 0.012
_DUNNING_DAYS, _RECOVER_P = 21, 0.25
_SEAT_ADD, _SEAT_DROP = 0.0006, 0.0004
_DOWN_P, _UP_P = 0.0003, 0.0002


@dataclass(frozen=True)
class _Accounts:
    """Hidden per-account traits, indexed by account position (accounts sorted by signup)."""

    start: pd.Timestamp
    signup: np.ndarray
    size: np.ndarray
    acq: np.ndarray
    country: np.ndarray
    industry: np.ndarray
    plan0: np.ndarray
    seats0: np.ndarray
    rate: np.ndarray
    base_h: np.ndarray
    mu_health: np.ndarray
    speed: np.ndarray
    need: np.ndarray
    card: np.ndarray
    profile: np.ndarray
    anchor: np.ndarray


def _rng(seed: int, *keys: int) -> np.random.Generator:
    """A generator for one purpose (day ``d``, stream ``s``), seeded from ``seed``."""
    return np.random.default_rng([seed, _KEY, *keys])


def _draw_accounts(
    seed: int, n: int, start: pd.Timestamp, n_days: int, profile_p: np.ndarray
) -> _Accounts:
    """Signup days (growing acquisition) and every account's attributes and hidden traits."""
    rng = _rng(seed, 1 << 30)
    t = np.arange(n_days) / n_days
    density = np.exp(np.log(2.0) * t)
    signup = np.sort(rng.choice(n_days - 1, size=n, p=density[:-1] / density[:-1].sum()))
    size = rng.choice(len(SIZE_BANDS), n, p=_SIZE_P)
    acq = rng.choice(len(ACQ_CHANNELS), n, p=_ACQ_P)
    industry = rng.choice(len(INDUSTRIES), n, p=_IND_P)
    seats0 = np.maximum(1, np.round(np.exp(_SIZE_SEATS[size] + 0.5 * rng.standard_normal(n))))
    plan_score = 0.9 * size + 0.6 * (acq == 1) + rng.standard_normal(n)
    base = _ACQ_HAZ[acq] + _SIZE_HAZ[size] + _IND_HAZ[industry] + _H_SD * rng.standard_normal(n)
    dom = pd.DatetimeIndex(start + pd.to_timedelta(signup, unit="D")).day.to_numpy()
    return _Accounts(
        start=start, signup=signup.astype(np.int64), size=size, acq=acq,
        country=rng.choice(len(COUNTRIES), n, p=_COUNTRY_P), industry=industry,
        plan0=np.digitize(plan_score, [0.3, 1.6, 3.0]), seats0=seats0.astype(np.int64),
        rate=0.85 * np.exp(0.4 * rng.standard_normal(n)), base_h=_H0 * np.exp(base),
        mu_health=_ACQ_HEALTH[acq] + 0.45 * rng.standard_normal(n),
        speed=_FADE_SPEED * np.exp(_FADE_SPEED_SD * rng.standard_normal(n)),
        need=_TICKETS_DAY * rng.gamma(1.5, 1 / 1.5, n) * (1 + 0.15 * size),
        card=1 / (1 + np.exp(-(-3.6 + 0.9 * rng.standard_normal(n) + 0.5 * (acq == 0)))),
        profile=rng.choice(len(profile_p), n, p=profile_p), anchor=np.minimum(dom, 28),
    )  # fmt: skip


@dataclass
class _State:
    """Per-element state at the start of a day (``idx``: the account's position)."""

    idx: np.ndarray
    health: np.ndarray
    fade: np.ndarray
    griev: np.ndarray
    seats: np.ndarray
    plan: np.ndarray
    dunning: np.ndarray

    def __len__(self) -> int:
        return len(self.idx)

    def take(self, sel: np.ndarray) -> _State:
        """The elements selected by a mask or an index array."""
        return _State(**{f.name: getattr(self, f.name)[sel] for f in fields(self)})

    @staticmethod
    def concat(parts: list[_State]) -> _State:
        """Stack states."""
        names = [f.name for f in fields(_State)]
        return _State(**{k: np.concatenate([getattr(p, k) for p in parts]) for k in names})


def _enter(acc: _Accounts, new: np.ndarray) -> _State:
    """State of accounts signing up now: their own mean health, no fade, no grievance."""
    n = len(new)
    return _State(
        idx=new.astype(I32), health=acc.mu_health[new].astype(F32), fade=np.zeros(n, F32),
        griev=np.zeros(n, F32), seats=acc.seats0[new].astype(I32),
        plan=acc.plan0[new].astype(I32), dunning=np.zeros(n, I32),
    )  # fmt: skip


def _hazard(acc: _Accounts, st: _State, day: int) -> np.ndarray:
    """Daily cancellation hazard of each element on ``day``, from its state at the day's start."""
    age = (day - acc.signup[st.idx]).astype(F32)
    tenure = F32(1) + F32(_TENURE_K) * np.exp(-age / F32(_TENURE_DAYS))
    mood = np.exp(st.health * F32(-_H_HEALTH) + st.fade * F32(_H_FADE) + st.griev * F32(_H_GRIEV))
    h = acc.base_h[st.idx].astype(F32) * tenure * _PLAN_HAZ[st.plan] * mood
    h += F32(_H_DUNNING) * (st.dunning > 0)
    return np.clip(h, F32(1e-7), F32(0.5))


@dataclass
class _Day:
    """One day's state draws for the elements alive during it (positions in ``alive``).

    ``alive``: their state at the day's start; ``t_elem``/``t_bad``: tickets (one row each);
    ``paid``: an invoice is paid today (on time or late); ``failed``: an invoice failed today;
    ``changed``: plan or seats differ after the day.
    """

    alive: _State
    t_elem: np.ndarray
    t_bad: np.ndarray
    paid: np.ndarray
    failed: np.ndarray
    changed: np.ndarray


def _step(
    acc: _Accounts, st: _State, day: int, dom: int, rng: np.random.Generator, kill: bool
) -> tuple[np.ndarray, np.ndarray, _Day, _State]:
    """One day: hazard, cancellations (``kill``), the day's draws, and the next day's state.

    Returns the hazard and the cancellation flag of every element, the day's draws and the state at the next day's
    start (of the survivors when ``kill``, of every element otherwise). An account cancels at
    the start of the day (no activity that day); the signup day has no cancellation.
    """
    h = _hazard(acc, st, day)
    u = rng.random(len(st), dtype=F32)
    if kill:
        died = (u < h) & (acc.signup[st.idx] < day)
        st = st.take(~died)
    else:
        died = np.zeros(len(st), dtype=bool)
    day_draws, nxt = _draws(acc, st, day, dom, rng)
    return h, died, day_draws, nxt


def _draws(
    acc: _Accounts, st: _State, day: int, dom: int, rng: np.random.Generator
) -> tuple[_Day, _State]:
    """Tickets, invoice, seats, plan and state noise for the elements alive on ``day``."""
    n = len(st)
    idx = st.idx
    age = day - acc.signup[idx]
    rate = acc.need[idx] * (1 + 1.2 * np.minimum(st.fade, 2) + 0.5 * st.griev)
    rate = rate * np.where(age < 30, 2.0, 1.0)
    k = rng.poisson(rate)
    t_elem = np.repeat(np.arange(n, dtype=I32), k)
    p_bad = 1 / (1 + np.exp(1.0 + 0.8 * st.health[t_elem] - 0.5 * st.fade[t_elem]))
    t_bad = rng.random(len(t_elem)) < p_bad
    u = rng.random((5, n), dtype=F32)
    due = ((acc.anchor[idx] == dom) & (age > 0)) | (age == 0)
    clear = st.dunning == 0
    failed = due & clear & (u[0] < acc.card[idx])
    late = ~clear & (u[0] < F32(_RECOVER_P))
    paid = (due & clear & ~failed) | late
    seats = _seat_changes(rng, st, acc, idx)
    plan = _plan_changes(st, u[1])
    bad = np.bincount(t_elem[t_bad], minlength=n).astype(F32)
    noise = rng.standard_normal(n, dtype=F32) * F32(_HEALTH_SD * np.sqrt(1 - _RHO**2))
    health = (
        st.health + F32(1 - _RHO) * (acc.mu_health[idx].astype(F32) - st.health) + noise
        - F32(_BAD_HIT) * bad - F32(_FAIL_HIT) * failed
    )  # fmt: skip
    griev = st.griev * F32(_GRIEV_DECAY) + bad
    dunning = np.where(failed, _DUNNING_DAYS, np.where(late, 0, np.maximum(st.dunning - 1, 0)))
    nxt = _State(
        idx=idx, health=health.astype(F32), fade=_fade_step(acc, st, u[2], u[3]),
        griev=griev.astype(F32), seats=seats, plan=plan, dunning=dunning.astype(I32),
    )  # fmt: skip
    changed = (seats != st.seats) | (plan != st.plan)
    return _Day(st, t_elem, t_bad, paid, failed, changed), nxt


def _seat_changes(
    rng: np.random.Generator, st: _State, acc: _Accounts, idx: np.ndarray
) -> np.ndarray:
    """Seats added (healthy accounts grow) and removed (fading ones shrink), at least one left."""
    add = rng.poisson(st.seats * _SEAT_ADD * np.exp(0.6 * st.health - st.fade))
    drop_p = np.minimum(_SEAT_DROP * np.exp(-0.4 * st.health + 0.8 * st.fade), 0.5)
    drop = rng.binomial(st.seats - 1, drop_p)
    return (st.seats + add - drop).astype(I32)


def _plan_changes(st: _State, u: np.ndarray) -> np.ndarray:
    """Downgrades (fading, unhealthy accounts) and upgrades (healthy ones), one step at most."""
    down_p = _DOWN_P * np.exp(0.8 * st.fade - 0.5 * st.health)
    up_p = _UP_P * np.exp(0.5 * st.health - st.fade)
    down = (u < down_p) & (st.plan > 0)
    up = (u > 1 - up_p) & (st.plan < len(USAGE_PLANS) - 1)
    return (st.plan - down + up).astype(I32)


def _fade_step(acc: _Accounts, st: _State, u_on: np.ndarray, u_off: np.ndarray) -> np.ndarray:
    """Next day's fade level: onset, growth at the account's own speed, or recovery (to 0).

    The onset chance rises with low health and with grievance.
    """
    fading = st.fade > 0
    onset = (
        F32(_FADE_ON) * np.exp(st.health * F32(-_FADE_ON_HEALTH))
        * (F32(1) + st.griev * F32(_FADE_ON_GRIEV))
    )  # fmt: skip
    start = ~fading & (u_on < onset)
    recover = fading & (u_off < F32(_FADE_RECOVER))
    grown = np.minimum(st.fade + acc.speed[st.idx].astype(F32), F32(_FADE_MAX))
    return np.where((fading & ~recover) | start, grown, np.where(recover, F32(0), st.fade))


def _day_of_month(start: pd.Timestamp, n_days: int) -> np.ndarray:
    """Day of the month of every day index ``0 .. n_days-1``."""
    return pd.date_range(start, periods=n_days, freq="D").day.to_numpy()

"""Customers and their acquisition: signup days, attributes and the hidden traits they shift.

``_make_world`` draws every customer's signup day (growth plus January and Q4 peaks) and
attributes (channel, country, age band, device, household), then the hidden traits (spend level,
purchase rate, base hazard, onboarding, ...) with heavy noise; ``_World`` holds them with the
calendar and the seeded random streams.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from predictor.sample.params import (
    _ACQ_HAZ,
    _ACQ_ONB,
    _ACQ_P,
    _ACQ_RATE,
    _ACQ_SAT,
    _ACQ_SPEND,
    _AGE_HAZ,
    _AGE_ONB,
    _AGE_P,
    _AGE_RATE,
    _AGE_SPEND,
    _COUNTRY_P,
    _COUNTRY_SPEND,
    _DEVICE_P,
    _DEVICE_SPEND,
    _ENGAGE_W,
    _FADE_SPEED,
    _FADE_SPEED_SD,
    _H0,
    _MODE_KEY,
    _PL_P,
    _RATE_WEEK,
    _TICKETS_WEEK,
    _UNSUB_DAYS,
    ACQ_CHANNELS,
    AGE_BANDS,
    COUNTRIES,
    DEVICES,
    ENGAGE_CHANNELS,
    NEVER,
)


@dataclass(frozen=True)
class _Traits:
    """Hidden per-customer arrays, indexed by customer position (customers sorted by signup)."""

    signup: np.ndarray
    acq: np.ndarray
    country: np.ndarray
    age: np.ndarray
    device: np.ndarray
    household: np.ndarray
    log_spend: np.ndarray
    lam0: np.ndarray
    base_h: np.ndarray
    onb_z: np.ndarray
    mu_sat: np.ndarray
    mu_eng: np.ndarray
    livechat: np.ndarray
    n_channels: np.ndarray
    mask: np.ndarray
    need: np.ndarray
    steps: np.ndarray
    pl_pref: np.ndarray
    och_pref: np.ndarray
    sms_opt: np.ndarray
    unsub: np.ndarray
    anchor: np.ndarray
    plan0: np.ndarray
    discount: np.ndarray
    fade_speed: np.ndarray


@dataclass(frozen=True)
class _World:
    """Everything needed to replay the process: settings, calendar and hidden traits."""

    mode: str
    seed: int
    start: pd.Timestamp
    n_days: int
    tr: _Traits
    season: np.ndarray
    bill: np.ndarray

    def rng(self, *keys: int) -> np.random.Generator:
        """A generator for one purpose (e.g. week ``w``, stream ``s``), seeded from ``seed``."""
        return np.random.default_rng([self.seed, _MODE_KEY[self.mode], *keys])

    def extend(self, last_day: int) -> _World:
        """The same world with a calendar long enough to simulate up to ``last_day``."""
        if last_day < 7 * len(self.season) - 7:
            return self
        season, bill = _calendar(self.start, last_day + 400)
        return replace(self, season=season, bill=bill)


def _make_world(n: int, seed: int, mode: str, start: pd.Timestamp, n_days: int) -> _World:
    """Draw the customers' signup days, attributes and hidden traits."""
    season, bill = _calendar(start, n_days + 800)
    world = _World(mode, seed, start, n_days, None, season, bill)  # type: ignore[arg-type]
    rng = world.rng(1 << 20)
    signup = _signup_days(rng, n, start, n_days)
    return replace(world, tr=_draw_traits(rng, n, signup, start, mode))


def _bump(doy: np.ndarray, center: float, width: float) -> np.ndarray:
    """A circular Gaussian bump over the day of year."""
    dist = np.abs(doy - center)
    dist = np.minimum(dist, 365.25 - dist)
    return np.exp(-0.5 * (dist / width) ** 2)


def _calendar(start: pd.Timestamp, n_days: int) -> tuple[np.ndarray, np.ndarray]:
    """Weekly order seasonality and the billing table ``bill[week, day_of_month] -> day``."""
    n_weeks = -(-n_days // 7)
    dates = pd.date_range(start, periods=7 * n_weeks, freq="D")
    doy = dates.day_of_year.to_numpy().astype(float)
    daily = 0.93 + 0.45 * _bump(doy, 340, 18) + 0.2 * _bump(doy, 330, 3) - 0.1 * _bump(doy, 45, 25)
    season = daily.reshape(n_weeks, 7).mean(axis=1).astype(np.float32)
    bill = np.full((n_weeks, 32), -1, dtype=np.int64)
    days = np.arange(7 * n_weeks)
    bill[days // 7, dates.day.to_numpy()] = days
    return season, bill


def _signup_days(rng: np.random.Generator, n: int, start: pd.Timestamp, n_days: int) -> np.ndarray:
    """Signup day of each customer: growing acquisition with January and Q4 peaks, sorted."""
    doy = pd.date_range(start, periods=n_days, freq="D").day_of_year.to_numpy().astype(float)
    t = np.arange(n_days) / n_days
    density = np.exp(np.log(2.5) * t) * (1 + 0.3 * _bump(doy, 8, 15) + 0.25 * _bump(doy, 330, 20))
    return np.sort(rng.choice(n_days, size=n, p=density / density.sum())).astype(np.int64)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function."""
    return 1.0 / (1.0 + np.exp(-x))


def _draw_traits(
    rng: np.random.Generator, n: int, signup: np.ndarray, start: pd.Timestamp, mode: str
) -> _Traits:
    """Attributes and hidden traits; attributes shift the traits, with heavy noise."""
    acq = rng.choice(len(ACQ_CHANNELS), n, p=_ACQ_P)
    country = rng.choice(len(COUNTRIES), n, p=_COUNTRY_P)
    age = rng.choice(len(AGE_BANDS), n, p=_AGE_P)
    device = rng.choice(len(DEVICES), n, p=_DEVICE_P)
    household = 1 + np.minimum(rng.poisson(1.3, n), 7)
    log_spend = (
        3.55 + _ACQ_SPEND[acq] + _COUNTRY_SPEND[country] + _AGE_SPEND[age]
        + _DEVICE_SPEND[device] + 0.5 * rng.standard_normal(n)
    )  # fmt: skip
    rate_shift = _ACQ_RATE[acq] + _AGE_RATE[age] + 0.06 * (household - 2)
    lam0 = _RATE_WEEK[mode] / 7 * np.exp(rate_shift) * rng.gamma(0.6, 1 / 0.6, n)
    base_h = _H0[mode] * np.exp(
        _ACQ_HAZ[acq] + _AGE_HAZ[age] + 0.5 * rng.standard_normal(n) - 0.125
    )
    onb_z = rng.standard_normal(n) + _ACQ_ONB[acq] + _AGE_ONB[age]
    mu_sat = 0.7 * rng.standard_normal(n) + _ACQ_SAT[acq]
    livechat = rng.random(n) < 0.16 + 0.08 * (age <= 1)
    mu_eng = -0.2 + 0.5 * rng.standard_normal(n) + 0.35 * livechat + 0.15 * (acq == 5)
    n_channels = 1 + rng.binomial(5, _sigmoid(-1.3 + 1.2 * (mu_eng + 0.2)))
    mobile = device < 2
    return _Traits(
        signup=signup, acq=acq, country=country, age=age, device=device, household=household,
        log_spend=log_spend, lam0=lam0, base_h=base_h, onb_z=onb_z, mu_sat=mu_sat,
        mu_eng=mu_eng, livechat=livechat, n_channels=n_channels,
        mask=_channel_masks(rng, n_channels, mobile),
        need=_TICKETS_WEEK / 7 * rng.gamma(1.0, 1.0, n) * (1 + 0.3 * (device == 2)),
        steps=_onboarding_days(rng, signup, onb_z, lam0, mobile, mode),
        pl_pref=rng.choice(len(_PL_P), n, p=_PL_P),
        och_pref=_order_channel_pref(rng, device, age),
        sms_opt=rng.random(n) < _sigmoid(-0.7 + 1.2 * (mu_eng + 0.2)),
        unsub=rng.exponential(_UNSUB_DAYS, n).astype(np.int64),
        anchor=_billing_anchor(signup, start),
        plan0=_initial_plan(rng, log_spend),
        discount=rng.choice(np.array([0.0, 0.1, 0.2]), n, p=[0.7, 0.2, 0.1]),
        fade_speed=_FADE_SPEED * np.exp(_FADE_SPEED_SD * rng.standard_normal(n)),
    )  # fmt: skip


def _channel_masks(
    rng: np.random.Generator, n_channels: np.ndarray, mobile: np.ndarray
) -> np.ndarray:
    """Bitmask of the channels each customer engages on: ``n_channels`` weighted picks."""
    weights = np.tile(_ENGAGE_W, (len(n_channels), 1))
    weights[mobile, 4] *= 1.6
    keys = np.log(weights) + rng.gumbel(size=weights.shape)
    ranks = np.argsort(np.argsort(-keys, axis=1), axis=1)
    chosen = ranks < n_channels[:, None]
    return (chosen * (1 << np.arange(len(ENGAGE_CHANNELS)))).sum(axis=1).astype(np.int64)


def _onboarding_days(
    rng: np.random.Generator, signup: np.ndarray, z: np.ndarray, lam0: np.ndarray,
    mobile: np.ndarray, mode: str,
) -> np.ndarray:  # fmt: skip
    """Day each onboarding step completes (NEVER if not): profile, first purchase, app, tutorial.

    Profile, app and tutorial complete within 14 days or never; the first purchase happens on
    the signup day for most buyers, later for some, never for others.
    """
    n = len(signup)
    rel = np.log(lam0 * 7 / _RATE_WEEK[mode])
    probs = (
        _sigmoid(1.2 + 1.0 * z),
        _sigmoid(0.9 + 0.8 * z + 0.4 * rel),
        _sigmoid(0.2 + 1.1 * z + 0.7 * mobile),
        _sigmoid(0.0 + 1.3 * z),
    )
    delays = (
        rng.exponential(1.5, n),
        np.where(rng.random(n) < 0.55, 0.0, 1.0 + rng.exponential(10.0, n)),
        rng.exponential(3.0, n),
        rng.exponential(4.0, n),
    )
    out = np.empty((n, 4), dtype=np.int64)
    for j in range(4):
        delay = delays[j].astype(np.int64)
        done = (rng.random(n) < probs[j]) & ((delay <= 13) | (j == 1))
        out[:, j] = np.where(done, signup + delay, NEVER)
    return out


def _order_channel_pref(
    rng: np.random.Generator, device: np.ndarray, age: np.ndarray
) -> np.ndarray:
    """Preferred order channel: app on mobile, web on desktop, store/phone for older people."""
    n = len(device)
    p = np.where((device < 2)[:, None], [[0.40, 0.45, 0.10, 0.05]], [[0.75, 0.05, 0.12, 0.08]])
    older = age >= 4
    p[older] = p[older] * [0.8, 0.6, 1.6, 2.5]
    cum = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
    return (rng.random(n)[:, None] > cum).sum(axis=1).clip(0, 3)


def _billing_anchor(signup: np.ndarray, start: pd.Timestamp) -> np.ndarray:
    """Day of month of the monthly charge: the signup day of month (29-31 bill on the 28th)."""
    dom = pd.DatetimeIndex(start + pd.to_timedelta(signup, unit="D")).day.to_numpy()
    return np.minimum(dom, 28).astype(np.int64)


def _initial_plan(rng: np.random.Generator, log_spend: np.ndarray) -> np.ndarray:
    """Plan at signup (0 basic, 1 plus, 2 premium): bigger spenders choose bigger plans."""
    score = (log_spend - 3.55) / 0.6 + rng.standard_normal(len(log_spend))
    return np.digitize(score, [0.0, 1.25]).astype(np.int64)


def _span_days(start: pd.Timestamp, years: float) -> int:
    """Days in ``years`` from ``start``: whole calendar months, the rest as average days."""
    months = int(years * 12)
    rest = round((years * 12 - months) * 30.44)
    return int((start + pd.DateOffset(months=months) - start) // pd.Timedelta(days=1)) + rest

"""The built-in sample business: a simulated company whose hidden truth is known.

``generate_sample`` simulates the customers of a subscription or a retail business and returns
the seven contract tables plus every customer's hidden traits. ``ground_truth`` and
``day_one_truth`` return the benchmark answers (true churn probability, expected 13-month
value) computed from the exact hidden state at a cutoff. Truth is never a model input.

Why it exists: models need realistic data whose observable signals carry real but noisy
information, and benchmarks need to know what the best possible prediction is.

The process (one draw of it is the data; the truth simulates more draws of the same process):

* Customers sign up throughout the span (growth plus January and Q4 peaks). Attributes
  (acquisition channel, country, age band, device, household size) shift hidden traits
  (spend level, purchase rate, base churn hazard, onboarding propensity, ...) with heavy noise.
* Time advances in weekly steps, vectorised over customers; inside a week everything happens
  on calendar days. A customer is alive or not; death is absorbing (subscription: all
  subscriptions end; retail: silent, the customer simply stops buying and engaging).
* Daily churn hazard = base hazard x onboarding (missing steps raise it a lot in the first six
  weeks) x tenure x channel breadth x exp(-satisfaction, -engagement) x plan, plus an additive
  term from grievance (bad support tickets: slow, poorly handled, repeated).
* Orders are Poisson (rate grows with loyalty and engagement, Q4 seasonality) with lognormal
  amounts by product line, refunds as later negative rows; in subscription mode each monthly
  charge is also an order (channel and product line ``"subscription"``), so orders carry all
  revenue. Tickets, interactions (sends keep coming for a while after a silent churn) and NPS
  answers are emitted from the hidden state.
* Pre-churn fading (the behaviour a real product shows before a cancellation): each week a
  customer who is not fading starts to fade with a small probability that scales with the
  customer's base hazard and rises with low satisfaction (which also drives low NPS answers and poorly rated tickets) and with grievance
  (bad, slow or repeated support tickets). A fading customer's fade level then grows every
  week by an individual speed (a hidden trait, lognormal), unless the customer recovers (a
  small weekly chance). The fade level lowers the effective engagement: interactions, orders
  and NPS scores drop week by week, tickets become more frequent, downgrades more likely,
  and it multiplies the churn hazard by ``exp(_FADE_H x fade)``. So engagement decays over
  the weeks before most cancellations, at a speed that differs between customers.
* State (satisfaction, engagement, grievance, fade, order count, plan) is updated at each
  week's end. The truth replays the same seeded draws to the cutoff, then simulates futures without
  death and weights every future event by the probability of being alive then (survival
  weighting: exact in expectation, low variance).

Conventions of the generated data: ``signup_date``, subscription ``start_date``/``end_date``
are midnights (a subscription ending on day ``d`` no longer covers the end of ``d``); events
carry a time of day and none falls after the last day (``end_date``). Refunds are separate
order rows 2-21 days after the purchase (negative amount, margin and items). ``first_purchase``
is the first purchase that is not a subscription charge. Marketing sends (kind ``sent``)
continue for a while after a customer churned; engagement does not. A ticket's ``csat`` is
only known once it is resolved (mask it with ``resolved_at`` at a cutoff).

Pure: no file I/O and no clock; all randomness comes from generators seeded by ``seed``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from predictor.contract.tables import Tables

__all__ = ["SampleBusiness", "day_one_truth", "generate_sample", "ground_truth"]

Mode = Literal["subscription", "retail"]

NEVER = 1 << 30
"""Day index meaning "never" (a step not completed, a customer still alive)."""
_NO_TICKET = -(1 << 20)
_DAY_NS = 86_400 * 10**9
_MODE_KEY = {"subscription": 1, "retail": 2}

STEPS = ("account_created", "profile_completed", "first_purchase", "app_installed",
         "tutorial_completed")  # fmt: skip
ACQ_CHANNELS = ("paid_search", "organic", "social", "referral", "affiliate", "email")
_ACQ_P = np.array([0.28, 0.24, 0.16, 0.10, 0.09, 0.13])
_ACQ_SPEND = np.array([0.0, 0.05, -0.15, 0.15, -0.10, 0.05])
_ACQ_RATE = np.array([0.0, 0.10, -0.10, 0.20, -0.20, 0.15])
_ACQ_HAZ = np.array([0.10, -0.15, 0.20, -0.30, 0.30, -0.10])
_ACQ_ONB = np.array([0.0, 0.10, -0.20, 0.30, -0.30, 0.10])
_ACQ_SAT = np.array([0.0, 0.05, -0.10, 0.20, -0.15, 0.05])
COUNTRIES = ("US", "GB", "DE", "FR", "CA", "AU", "NL", "ES")
_COUNTRY_P = np.array([0.42, 0.15, 0.12, 0.09, 0.08, 0.06, 0.05, 0.03])
_COUNTRY_SPEND = np.array([0.10, 0.0, 0.05, -0.05, 0.05, 0.10, 0.0, -0.15])
AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
_AGE_P = np.array([0.14, 0.27, 0.23, 0.17, 0.12, 0.07])
_AGE_SPEND = np.array([-0.25, -0.05, 0.10, 0.15, 0.10, 0.0])
_AGE_RATE = np.array([0.10, 0.05, 0.0, 0.0, -0.05, -0.10])
_AGE_HAZ = np.array([0.25, 0.10, 0.0, -0.10, -0.15, -0.10])
_AGE_ONB = np.array([0.20, 0.15, 0.0, -0.05, -0.15, -0.30])
DEVICES = ("ios", "android", "desktop")
_DEVICE_P = np.array([0.38, 0.34, 0.28])
_DEVICE_SPEND = np.array([0.15, -0.10, 0.05])
PRODUCT_LINES = ("apparel", "electronics", "home", "beauty", "grocery", "subscription")
_PL_P = np.array([0.30, 0.12, 0.20, 0.18, 0.20])
_PL_PRICE = np.array([1.0, 2.6, 1.4, 0.6, 0.7])
_PL_MARGIN = np.array([0.45, 0.12, 0.35, 0.55, 0.20])
_PL_REFUND = np.array([0.12, 0.06, 0.05, 0.03, 0.02])
_PL_OWN = 0.5  # chance an order is in the customer's favourite product line
_REFUND_FRAC = 0.85  # mean refunded share (70% full refunds, 30% partial 20-80%)
_REFUND_COST = 0.05  # handling cost of a refund, share of the order amount
ORDER_CHANNELS = ("web", "app", "store", "phone", "subscription")
_OCH_P = np.array([0.55, 0.25, 0.12, 0.08])
TICKET_CHANNELS = ("email", "phone", "chat", "live_chat", "social")
_LIVE = 3
_TCH_P = np.array([0.38, 0.20, 0.22, 0.08, 0.12])
_RES_MEDIAN_H = np.array([30.0, 6.0, 3.0, 0.6, 20.0])
TICKET_CATEGORIES = ("billing", "delivery", "product", "account", "technical")
_CAT_P = np.array([0.22, 0.30, 0.22, 0.12, 0.14])
PLANS = ("basic", "plus", "premium")
_PLAN_PRICE = np.array([15.0, 29.0, 49.0])
_PLAN_HAZ = np.array([1.15, 1.0, 0.8], dtype=np.float32)
_SUB_MARGIN = 0.85
ENGAGE_CHANNELS = ("email", "sms", "push", "web", "app", "store", "social")
_ENGAGE_W = np.array([0.30, 0.05, 0.10, 0.25, 0.18, 0.06, 0.06])
INTERACTION_KINDS = ("sent", "open", "click", "visit", "session")
# (channel index in ENGAGE_CHANNELS, kind index in INTERACTION_KINDS)
_ITYPES = np.array(
    [[0, 0], [0, 1], [0, 2], [1, 0], [1, 2], [2, 0], [2, 1], [3, 3], [4, 4], [5, 3], [6, 2]]
)
_SEND_RATES = {0: 0.25, 3: 0.10, 5: 0.20}  # interaction type -> sends per week

# Behaviour (the planted effects). Hazards are per day.
_H0 = {"subscription": 0.0006, "retail": 0.0008}
_EARLY_DAYS = 42  # onboarding phase: missing steps raise the hazard a lot
_EARLY_K = 0.9
_LATE_K = 0.12
_BREADTH = np.array([2.2, 2.2, 1.4, 0.85, 0.6, 0.45, 0.4, 0.4])  # by engaged channels
_SAT_H = 0.45
_ENG_H = 0.35
_GRIEV_H = 0.006  # additive daily hazard per unit of grievance
_GRIEV_DECAY = 0.85
_BAD_HOURS = 72.0
_QUICK_HOURS = 4.0
_REPEAT_DAYS = 28
_RATE_WEEK = {"subscription": 0.03, "retail": 0.09}  # mean orders per week
_LOYAL_SCALE = 3.0
_LOYAL_RATE = 0.35
_LOYAL_AOV = 0.25
_ORDER_SIGMA = 0.55
_TICKETS_WEEK = 0.018
_NPS_FIRST, _NPS_EVERY, _NPS_RESPONSE = 30, 180, 0.3
_UNSUB_DAYS = 120.0
_FADE_ON = 0.006  # weekly chance to start fading, before the satisfaction/grievance effects
_FADE_SAT = 0.6  # low satisfaction raises the chance: x exp(-_FADE_SAT x satisfaction)
_FADE_GRIEV = 1.0  # grievance raises it: x (1 + _FADE_GRIEV x grievance)
_FADE_SPEED = 0.3  # median weekly growth of the fade level (individual, lognormal)
_FADE_SPEED_SD = 0.5
_FADE_H = 1.4  # hazard multiplier exp(_FADE_H x fade)
_FADE_RECOVER = 0.02  # weekly chance that a fading customer recovers (fade back to 0)
_FADE_MAX = 8.0  # the fade level stops growing here (the hazard is capped long before)
_MC_ELEMENTS = 262_144
_TENURE = (0.8 + 0.5 * np.exp(-np.arange(4096) / 180.0)).astype(np.float32)  # by age in days
_LOYALTY = (1.0 - np.exp(-np.arange(64) / _LOYAL_SCALE)).astype(np.float32)  # by orders so far
_SHOCK = np.sqrt(12.0)  # scales a centred uniform to unit variance


# ----------------------------------------------------------------------------- public API


@dataclass(frozen=True)
class SampleBusiness:
    """A generated business: the contract tables, the hidden traits, and what made them.

    ``traits`` (index ``customer_id``) are hidden per-customer properties and realised
    outcomes (``churn_date``); they are for benchmarks and must never be a model input.
    ``end_date`` is the last day of data (midnight of that day); events on it carry a time.
    """

    tables: Tables
    traits: pd.DataFrame
    mode: str
    seed: int
    start_date: pd.Timestamp
    end_date: pd.Timestamp
    _world: _World = field(repr=False, compare=False)


def generate_sample(
    n_customers: int = 5000,
    seed: int = 0,
    mode: Literal["subscription", "retail"] = "subscription",
    start: str = "2022-01-01",
    years: float = 3.5,
) -> SampleBusiness:
    """Simulate ``n_customers`` customers over ``years`` from ``start``; same seed, same data.

    Subscription mode has a subscriptions table and monthly charges as orders; retail mode has
    no subscriptions (``tables.subscriptions is None``) and churn is silent.
    """
    if mode not in _MODE_KEY:
        raise ValueError(f"mode must be 'subscription' or 'retail', not {mode!r}")
    if n_customers < 1 or seed < 0 or years <= 0:
        raise ValueError("n_customers must be >= 1, seed >= 0 and years > 0")
    start_ts = pd.Timestamp(start).normalize()
    n_days = _span_days(start_ts, years)
    world = _make_world(n_customers, seed, mode, start_ts, n_days)
    collector = _Collector(world)
    death = _run(world, -(-n_days // 7), collector)
    tables = collector.tables(death)
    return SampleBusiness(
        tables=tables,
        traits=_traits_frame(world, death),
        mode=mode,
        seed=seed,
        start_date=start_ts,
        end_date=start_ts + pd.Timedelta(days=n_days - 1),
        _world=world,
    )


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


# ----------------------------------------------------------------------------- the world


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


# ----------------------------------------------------------------------------- the state

F32 = np.float32  # state and rates: float32 is several times faster here and precise enough
I32 = np.int32  # day numbers and counts


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


_SAT_RHO, _SAT_SD = 0.97, 0.12  # weekly AR(1) of satisfaction
_ENG_RHO, _ENG_SD = 0.9, 0.2  # weekly AR(1) of engagement


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
    since ``P(K >= 1) = 1 - exp(-mu) <= mu``) do any further work.
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
    count = np.zeros(len(cand), dtype=I32)
    for j in range(1, 10_000):
        more = tail >= v
        if not more.any():
            break
        count += more
        p = p * mean / j
        tail = tail - p
    k[cand] = count
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


# ----------------------------------------------------------------------------- one week


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


# ----------------------------------------------------------------------------- emitting rows


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


def _interaction_rates(world: _World, co: _Cohort, lo: np.ndarray) -> np.ndarray:
    """Weekly rate of each interaction type (``_ITYPES``) per element."""
    tr = world.tr
    mask = tr.mask[co.idx]
    has = [((mask >> b) & 1).astype(float) for b in range(len(ENGAGE_CHANNELS))]
    e = np.exp(_engagement(co))
    app = (co.s_app <= lo).astype(float)
    sms = tr.sms_opt[co.idx].astype(float)
    rates = [
        np.full(len(co), _SEND_RATES[0]), 0.20 * e * has[0] + 0.02, 0.05 * e * has[0],
        _SEND_RATES[3] * sms, 0.04 * e * sms * has[1], _SEND_RATES[5] * app,
        0.12 * e * app * has[2], 0.20 * e * has[3] + 0.02, 0.35 * e * app * has[4],
        0.10 * e * has[5], 0.08 * e * has[6],
    ]  # fmt: skip
    return np.stack(rates, axis=1)


def _emit_interactions(
    world: _World, rng: np.random.Generator, co: _Cohort, lo: np.ndarray, dr: _Draws,
    d_max: int,
) -> dict[str, np.ndarray]:  # fmt: skip
    """Sends and engagement on the alive days; engagement follows the hidden engagement level."""
    rates = _interaction_rates(world, co, lo) / 7.0
    total = rates.sum(axis=1)
    m = dr.end - lo + 1
    cnt = _poisson(rng, total * m)
    elem = np.repeat(np.arange(len(co), dtype=I32), cnt)
    n = len(elem)
    cum = np.cumsum(rates, axis=1)
    u = rng.random(n) * total[elem]
    kind = (cum[elem] < u[:, None]).sum(axis=1, dtype=np.int8).clip(0, len(_ITYPES) - 1)
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


# ----------------------------------------------------------------------------- tables


def _cat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Concatenate row chunks column by column, emptying ``parts`` to free memory early."""
    out = {}
    for key in list(parts[0]):
        out[key] = np.concatenate([p.pop(key) for p in parts])
    parts.clear()
    return out


def _strings(values: tuple[str, ...] | pa.Array, codes: np.ndarray) -> pd.Series:
    """A ``str`` column holding ``values[codes]`` (built in Arrow, no Python objects)."""
    dictionary = values if isinstance(values, pa.Array) else pa.array(values, pa.string())
    taken = pc.take(dictionary, pa.array(np.asarray(codes, dtype=np.int32)))
    return pd.Series(taken, dtype="str")


def _id_strings(prefix: str, n: int) -> pa.Array:
    """``prefix`` + zero-padded 1-based numbers, e.g. ``C000001``."""
    width = max(6, len(str(n)))
    digits = pc.utf8_lpad(pc.cast(pa.array(np.arange(1, n + 1)), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


def _stamps(start: pd.Timestamp, day: np.ndarray, sec: np.ndarray | int = 0) -> np.ndarray:
    """``datetime64[ns]`` values for day indexes plus seconds."""
    ns = start.value + day.astype(np.int64) * _DAY_NS + np.asarray(sec, dtype=np.int64) * 10**9
    return ns.astype("datetime64[ns]")


def _sorted(frame: pd.DataFrame, by: str) -> pd.DataFrame:
    """Stable sort by one date column, fresh index."""
    order = np.argsort(frame[by].to_numpy(), kind="stable")
    return frame.take(order).reset_index(drop=True)


def _assemble(world: _World, rows: dict[str, list], death: np.ndarray) -> Tables:
    """All seven tables from the collected rows."""
    ids = _id_strings("C", len(world.tr.signup))
    orders = _cat(rows["orders"])
    rng = world.rng(1 << 21)
    return Tables(
        customers=_customers(world, ids),
        orders=_orders(world, ids, orders),
        subscriptions=_subscriptions(world, ids, rows["plans"], death)
        if world.mode == "subscription"
        else None,
        onboarding=_onboarding(world, ids, orders, death, rng),
        support_tickets=_tickets_frame(world, ids, _cat(rows["tickets"])),
        interactions=_interactions(world, ids, _cat(rows["interactions"]), death, rng),
        nps=_nps_frame(world, ids, _cat(rows["nps"])),
    )


def _customers(world: _World, ids: pa.Array) -> pd.DataFrame:
    """One row per customer: signup day and attributes known at signup."""
    tr = world.tr
    return pd.DataFrame(
        {
            "customer_id": pd.Series(ids, dtype="str"),
            "signup_date": _stamps(world.start, tr.signup),
            "acquisition_channel": _strings(ACQ_CHANNELS, tr.acq),
            "country": _strings(COUNTRIES, tr.country),
            "age_band": _strings(AGE_BANDS, tr.age),
            "device": _strings(DEVICES, tr.device),
            "household_size": tr.household.astype(np.int64),
        }
    )


def _orders(world: _World, ids: pa.Array, o: dict[str, np.ndarray]) -> pd.DataFrame:
    """Orders sorted by date, with ``O``-prefixed ids in date order."""
    order = np.lexsort((o["sec"], o["day"]))
    o = {k: v[order] for k, v in o.items()}
    return pd.DataFrame(
        {
            "order_id": pd.Series(_id_strings("O", len(order)), dtype="str"),
            "customer_id": _strings(ids, o["cust"]),
            "order_date": _stamps(world.start, o["day"], o["sec"]),
            "amount": o["amount"].astype(float),
            "margin": o["margin"].astype(float),
            "channel": _strings(ORDER_CHANNELS, o["chan"]),
            "items": o["items"].astype(np.int64),
            "product_line": _strings(PRODUCT_LINES, o["pl"]),
        }
    )


def _subscriptions(
    world: _World, ids: pa.Array, plans: list[dict[str, np.ndarray]], death: np.ndarray
) -> pd.DataFrame:
    """One row per subscription period; a plan change ends one row the day the next starts."""
    tr = world.tr
    n = len(tr.signup)
    ch = _cat(plans) if plans else {"cust": np.zeros(0, int), "day": np.zeros(0, int),
                                   "plan": np.zeros(0, int)}  # fmt: skip
    cust = np.concatenate([np.arange(n), ch["cust"]])
    day = np.concatenate([tr.signup, ch["day"]])
    plan = np.concatenate([tr.plan0, ch["plan"]])
    order = np.lexsort((day, cust))
    cust, day, plan = cust[order], day[order], plan[order]
    nxt_same = np.r_[cust[1:] == cust[:-1], False]
    last_day = np.where(death[cust] <= world.n_days - 1, death[cust], -1)
    end = np.where(nxt_same, np.r_[day[1:], 0], last_day)
    end_ts = pd.Series(_stamps(world.start, end)).where(end >= 0)
    frame = pd.DataFrame(
        {
            "customer_id": _strings(ids, cust),
            "start_date": _stamps(world.start, day),
            "end_date": end_ts.astype("datetime64[ns]").to_numpy(),
            "plan": _strings(PLANS, plan),
            "mrr": np.round(_PLAN_PRICE[plan] * (1 - tr.discount[cust]), 2),
        }
    )
    return _sorted(frame, "start_date")


def _onboarding(
    world: _World, ids: pa.Array, orders: dict[str, np.ndarray], death: np.ndarray,
    rng: np.random.Generator,
) -> pd.DataFrame:  # fmt: skip
    """Completed onboarding steps (only while alive and within the data)."""
    tr = world.tr
    n = len(tr.signup)
    limit = np.minimum(death, world.n_days - 1)
    cust, day, sec, step = [np.arange(n)], [tr.signup], [np.zeros(n, np.int64)], [np.zeros(n, int)]
    for j, col in ((1, 0), (3, 2), (4, 3)):
        ok = tr.steps[:, col] <= limit
        cust.append(np.flatnonzero(ok))
        day.append(tr.steps[ok, col])
        sec.append(rng.integers(0, 86_400, ok.sum()))
        step.append(np.full(ok.sum(), j))
    first = orders["first"]
    cust.append(orders["cust"][first])
    day.append(orders["day"][first])
    sec.append(orders["sec"][first])
    step.append(np.full(first.sum(), 2))
    c, d, s, k = (np.concatenate(x) for x in (cust, day, sec, step))
    frame = pd.DataFrame(
        {
            "customer_id": _strings(ids, c),
            "step": _strings(STEPS, k),
            "completed_at": _stamps(world.start, d, s),
        }  # fmt: skip
    )
    return _sorted(frame, "completed_at")


def _tickets_frame(world: _World, ids: pa.Array, t: dict[str, np.ndarray]) -> pd.DataFrame:
    """Support tickets sorted by opening time."""
    base = world.start.value
    resolved = pd.Series((t["resolved"] + base).astype("datetime64[ns]"))
    frame = pd.DataFrame(
        {
            "customer_id": _strings(ids, t["cust"]),
            "opened_at": (t["opened"] + base).astype("datetime64[ns]"),
            "resolved_at": resolved.where(t["resolved"] >= 0).to_numpy(),
            "channel": _strings(TICKET_CHANNELS, t["chan"]),
            "csat": t["csat"].astype(float),
            "category": _strings(TICKET_CATEGORIES, t["category"]),
            "escalated": t["esc"].astype(bool),
        }
    )
    return _sorted(frame, "opened_at")


def _tail_sends(
    world: _World, death: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Marketing sends that keep reaching customers after they churned, until they unsubscribe."""
    tr = world.tr
    d_max = world.n_days - 1
    stop = np.minimum(death + tr.unsub, d_max)
    span = np.clip(stop - death, 0, None)
    app = tr.steps[:, 2] <= death
    parts = []
    for kind, rate in _SEND_RATES.items():
        on = {0: np.ones(len(span), bool), 3: tr.sms_opt, 5: app}[kind]
        cnt = rng.poisson(rate / 7 * span * on)
        cust = np.repeat(np.arange(len(span), dtype=I32), cnt)
        day = death[cust] + 1 + (span[cust] * rng.random(len(cust))).astype(np.int64)
        sec = rng.integers(0, 86_400, len(cust), dtype=I32)
        kinds = np.full(len(cust), kind, dtype=np.int8)
        parts.append({"cust": cust, "day": day.astype(I32), "sec": sec, "type": kinds})
    return _cat(parts)


def _interactions(
    world: _World, ids: pa.Array, it: dict[str, np.ndarray], death: np.ndarray,
    rng: np.random.Generator,
) -> pd.DataFrame:  # fmt: skip
    """Interactions sorted by time, including the sends after churn."""
    it = _cat([it, _tail_sends(world, death, rng)])
    stamps = _stamps(world.start, it.pop("day"), it.pop("sec"))
    order = np.argsort(stamps, kind="stable")
    occurred = stamps[order]
    del stamps
    types = it.pop("type")[order]
    return pd.DataFrame(
        {
            "customer_id": _strings(ids, it.pop("cust")[order]),
            "occurred_at": occurred,
            "channel": _strings(ENGAGE_CHANNELS, _ITYPES[:, 0][types]),
            "kind": _strings(INTERACTION_KINDS, _ITYPES[:, 1][types]),
        }
    )


def _nps_frame(world: _World, ids: pa.Array, s: dict[str, np.ndarray]) -> pd.DataFrame:
    """NPS answers sorted by time."""
    frame = pd.DataFrame(
        {
            "customer_id": _strings(ids, s["cust"]),
            "responded_at": _stamps(world.start, s["day"], s["sec"]),
            "score": s["score"].astype(np.int64),
        }
    )
    return _sorted(frame, "responded_at")


def _traits_frame(world: _World, death: np.ndarray) -> pd.DataFrame:
    """The hidden traits and realised churn, one row per customer (benchmarks only)."""
    tr = world.tr
    d_max = world.n_days - 1
    churned = death <= d_max
    fp = tr.steps[:, 1]
    frame = pd.DataFrame(
        {
            "base_hazard": tr.base_h,
            "purchase_rate": tr.lam0 * 7,
            "spend_level": np.exp(tr.log_spend),
            "satisfaction_baseline": tr.mu_sat,
            "engagement_baseline": tr.mu_eng,
            "fade_speed": tr.fade_speed,
            "engaged_channels": tr.n_channels.astype(np.int64),
            "live_chat_user": tr.livechat,
            "ticket_rate": tr.need * 7,
            "onboarding_propensity": tr.onb_z,
            "planned_first_purchase": pd.Series(_stamps(world.start, np.minimum(fp, d_max)))
            .where(fp <= d_max)
            .to_numpy(),
            "churn_date": pd.Series(_stamps(world.start, np.minimum(death, d_max)))
            .where(churned)
            .to_numpy(),
            "alive_at_end": ~churned,
        },
        index=pd.Index(pd.Series(_id_strings("C", len(death)), dtype="str"), name="customer_id"),
    )
    if world.mode == "subscription":
        frame["plan_at_signup"] = _strings(PLANS, tr.plan0).to_numpy()
    return frame


# ----------------------------------------------------------------------------- truth


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
        limit = np.where(mine, a_days[pos], -1).astype(I32)
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
    pos = np.full(len(co), -1, dtype=I32)
    pos[keep] = np.arange(len(keep), dtype=I32)
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
        return _Snapshot(None, None, np.zeros(0, I32), alive)  # type: ignore[arg-type]
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
    share = (1 - _PL_OWN) * _PL_P[None, :] + _PL_OWN * np.eye(len(_PL_P))[tr.pl_pref[idx]]
    refund = _PL_REFUND * _REFUND_FRAC
    amount = share @ (_PL_PRICE * (1 - refund))
    margin = share @ (_PL_PRICE * (_PL_MARGIN - refund * (_PL_MARGIN + _REFUND_COST)))
    scale = np.exp(tr.log_spend[idx]) * (tr.steps[idx, 1] < NEVER)
    return (scale * amount).astype(F32), (scale * margin).astype(F32)


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
    block = min(n, _MC_ELEMENTS)
    per = max(1, min(n_sims, _MC_ELEMENTS // block))
    for b0 in range(0, n, block):
        rows = np.arange(b0, min(n, b0 + block))
        for s0 in range(0, n_sims, per):
            s = min(per, n_sims - s0)
            rng = np.random.default_rng([seed, world.seed, _MODE_KEY[world.mode], b0, s0, 99])
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
    elem = (np.arange(sims, dtype=I32)[:, None] * size + local[None, :]).ravel()
    rest = (np.tile(getattr(carry, k)[mine], sims) for k in _TICKET_KEYS[1:])
    return _Agg(np.tile(carry.n_ord[rows], sims), elem.astype(I32), *rest)


def _future_chunk(
    world: _World, snap: _Snapshot, rows: np.ndarray, sims: int,
    ends: tuple[np.ndarray, np.ndarray], rng: np.random.Generator,
) -> dict[str, np.ndarray]:  # fmt: skip
    """Simulate ``sims`` futures of the snapshot rows ``rows`` (contiguous) to their horizons."""
    co = snap.co.take(np.tile(rows, sims))
    a = snap.a[np.tile(rows, sims)].astype(I32)
    ev_amt, ev_mar = _expected_order(world, co.idx)
    fixed = _Fixed(ev_amt, ev_mar, world.tr.anchor[co.idx],
                   (1 - world.tr.discount[co.idx]).astype(F32),
                   ends[0][co.idx].astype(I32), ends[1][co.idx].astype(I32))  # fmt: skip
    n = len(co)
    paths = _Paths(*(np.zeros(n, F32) for _ in range(6)), np.zeros(n, dtype=bool))
    paths.surv[:] = 1
    paths.surv_churn[:] = 1
    w0 = a // 7
    w0 = int(w0[0]) if np.all(w0 == w0[0]) else w0
    weeks = int(np.max(np.maximum(fixed.vend, fixed.cend) - a)) // 7 + 2
    carry = _chunk_carry(snap.carry, rows, sims)
    for r in range(weeks):
        w = w0 + r
        lo = a + I32(1) if r == 0 else np.broadcast_to(np.asarray(7 * w, dtype=I32), a.shape)
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
    g = h - F32(7)
    for c in (21, -35, 35, -21, 7):
        g = g * h + F32(c)
    return g


def _accrue(
    world: _World, co: _Cohort, w: np.ndarray | int, lo: np.ndarray, dr: _Draws, p: _Paths,
    fx: _Fixed,
) -> None:  # fmt: skip
    """Add one week's survival-weighted expected value, tickets and churn terms to ``p``.

    Weeks are exact: an event on day ``d`` counts with ``surv * (1-h)^(d - lo)``. Full weeks
    use a polynomial; logs and exps are only taken where a window is partial.
    """
    h, hi = dr.h, np.asarray(7 * w + 6, dtype=I32)
    full = np.all(hi - lo == 6)
    g = _geo_week(h) if full else _geo(h, hi - lo + 1).astype(F32)
    q_week = F32(1) - h * g
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
    pend = np.flatnonzero((co.fp + 1 > lo) & (co.fp < NEVER))
    if len(pend):
        g = g.copy()
        start = co.fp[pend] + 1
        g[pend] = _qpow(h[pend], start - lo[pend]) * _geo(h[pend], vhi[pend] - start + 1)
    reg = p.surv * dr.lam * g * (_loyalty(co.n_orders) * F32(_LOYAL_AOV) + F32(1))
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
    fee = _PLAN_PRICE[co.plan[sel]] * fx.price[sel]
    charge = p.surv[sel] * _qpow(h[sel], b[sel] - lo[sel]) * fee
    p.value[sel] += charge
    p.margin[sel] += _SUB_MARGIN * charge


def _accrue_first_purchase(
    co: _Cohort, lo: np.ndarray, chi: np.ndarray, dr: _Draws, p: _Paths
) -> None:
    """Retail churn: probability of a purchase in the window, at the path's first order day."""
    assert dr.tau is not None
    fp_in = (co.fp >= lo) & (co.fp <= chi)
    cand = np.minimum(np.where(fp_in, co.fp, NEVER), dr.tau)
    sel = np.flatnonzero(~p.found & (cand <= chi))
    p.p_order[sel] += p.surv[sel] * _qpow(dr.h[sel], cand[sel] - lo[sel])
    p.found[sel] = True


# ----------------------------------------------------------------------------- helpers


def _check_positive(**values: int) -> None:
    """Refuse horizons, windows and simulation counts below 1."""
    bad = [name for name, value in values.items() if value < 1]
    if bad:
        raise ValueError(f"{', '.join(bad)} must be >= 1")


def _span_days(start: pd.Timestamp, years: float) -> int:
    """Days in ``years`` from ``start``: whole calendar months, the rest as average days."""
    months = int(years * 12)
    rest = round((years * 12 - months) * 30.44)
    return int((start + pd.DateOffset(months=months) - start) // pd.Timedelta(days=1)) + rest


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
    recent = (orders["order_date"] >= lo) & (orders["order_date"] < limit) & (orders["amount"] > 0)
    return ids.isin(orders.loc[recent, "customer_id"]).to_numpy()


def _truth_frame(
    ids: pd.Series, alive: np.ndarray, fut: dict[str, np.ndarray], value: str, margin: str
) -> pd.DataFrame:
    """The common columns of the truth tables, indexed by customer id."""
    return pd.DataFrame(
        {"alive": alive, value: fut["value"], margin: fut["margin"]},
        index=pd.Index(ids.to_numpy(), name="customer_id", dtype="str"),
    )

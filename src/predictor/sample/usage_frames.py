"""The usage sample's observed rows: drawn day by day from the hidden state, then the tables.

``_Collector.day`` is the simulation's hook: it draws the day's usage events, invoices, ticket
details and NPS answers from the day's *observation stream* (never the state stream, so the
truth's replay needs none of this); ``_Collector.tables`` assembles the contract tables.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from predictor.contract.tables import Tables
from predictor.sample.columns import _id_strings, _stamps, _strings
from predictor.sample.frames import _cat, _sorted
from predictor.sample.usage_process import (
    ACQ_CHANNELS,
    COUNTRIES,
    I32,
    INDUSTRIES,
    NEVER,
    SEAT_PRICE,
    SIZE_BANDS,
    USAGE_PLANS,
    _Accounts,
    _Day,
    _rng,
    _State,
)

USAGE_CHANNELS = ("web", "app", "mobile", "api", "billing")
USAGE_KINDS = ("login", "session", "feature_use", "report", "admin", "api_call", "payment_failed")
# (channel, kind) of each event type; the last one is a failed payment, never a usage event
_TYPES = np.array(
    [[0, 0], [0, 1], [0, 2], [0, 3], [0, 4], [1, 0], [1, 1], [1, 2], [2, 1], [2, 2], [3, 5],
     [4, 6]]
)  # fmt: skip
_FAILED_TYPE = len(_TYPES) - 1
_PROFILES = np.array(
    [
        [1.0, 3.0, 4.0, 0.6, 0.2, 0.0, 0.0, 0.0, 0.5, 0.5, 0.0],  # web
        [0.2, 0.6, 0.8, 0.2, 0.1, 1.0, 3.0, 4.0, 0.5, 0.5, 0.0],  # desktop app
        [0.5, 1.0, 1.2, 0.3, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0, 6.0],  # integrations (api)
        [0.6, 1.5, 2.0, 0.4, 0.15, 0.5, 1.5, 2.0, 0.8, 0.8, 1.5],  # mixed
    ]
)
PROFILE_P = np.array([0.4, 0.3, 0.1, 0.2])
"""Shares of the usage profiles (web, desktop app, api integrations, mixed)."""
_N_USE = _PROFILES.shape[1]
_CUM = (np.cumsum(_PROFILES, axis=1) / _PROFILES.sum(axis=1, keepdims=True)).ravel()
_CUM += np.repeat(np.arange(len(_PROFILES)), _N_USE)  # profile k's cumulative shares: (k, k + 1]
_USE_HEALTH, _USE_FADE = 0.8, 0.9
_WEEKDAY = np.array([1.12, 1.12, 1.12, 1.12, 1.12, 0.35, 0.35])  # Monday .. Sunday
TICKET_CHANNELS = ("email", "chat", "phone", "in_app")
_TCH_P = np.array([0.4, 0.35, 0.1, 0.15])
TICKET_CATEGORIES = ("technical", "account", "billing", "feature_request", "bug")
_CAT_P = np.array([0.35, 0.15, 0.12, 0.13, 0.25])
_BILLING = 2
_NPS_FIRST, _NPS_EVERY, _NPS_RESPONSE = 30, 90, 0.4
_DAY_S = 86_400
_ROWS: dict[str, dict[str, type]] = {
    "usage": {"cust": I32, "sec": I32, "type": np.int8},
    "orders": {"cust": I32, "day": I32, "sec": I32, "plan": I32, "seats": I32},
    "tickets": {"cust": I32, "day": I32, "sec": I32, "hours": np.float64, "chan": np.int64,
                "category": np.int64, "csat": np.float64, "esc": bool},
    "nps": {"cust": I32, "day": I32, "sec": I32, "score": np.int64},
    "changes": {"cust": I32, "day": I32, "plan": I32, "seats": I32},
}  # fmt: skip


class _Collector:
    """Draws and keeps the observed rows of every simulated day."""

    def __init__(self, acc: _Accounts, seed: int, n_days: int, activity: float) -> None:
        self.acc, self.seed, self.n_days, self.activity = acc, seed, n_days, activity
        self.weekday = _WEEKDAY[(acc.start.dayofweek + np.arange(n_days)) % 7]
        self.rows: dict[str, list[dict[str, np.ndarray]]] = {
            name: [{k: np.zeros(0, dtype) for k, dtype in columns.items()}]
            for name, columns in _ROWS.items()
        }  # an empty chunk first: every table has its columns even when no row is drawn
        self.usage_days: list[tuple[int, int]] = []  # (day, rows) of each usage chunk

    def day(self, d: int, draws: _Day, nxt: _State) -> None:
        """The hook: draw day ``d``'s observed rows for the accounts active on it."""
        rng = _rng(self.seed, d, 1)
        st, idx = draws.alive, draws.alive.idx
        self._usage(d, rng, draws)
        paid = np.flatnonzero(draws.paid)
        if len(paid):
            self.rows["orders"].append({
                "cust": idx[paid], "day": np.full(len(paid), d, I32),
                "sec": _business_seconds(rng, len(paid)), "plan": st.plan[paid],
                "seats": st.seats[paid],
            })  # fmt: skip
        self._tickets(d, rng, draws)
        self._nps(d, rng, st)
        ch = np.flatnonzero(draws.changed)
        if len(ch):
            self.rows["changes"].append({
                "cust": idx[ch], "day": np.full(len(ch), d + 1, I32), "plan": nxt.plan[ch],
                "seats": nxt.seats[ch],
            })  # fmt: skip

    def _usage(self, d: int, rng: np.random.Generator, draws: _Day) -> None:
        """Usage events (Poisson per account) and failed payments, sorted by time of day."""
        st, acc = draws.alive, self.acc
        idx = st.idx
        mood = np.exp(_USE_HEALTH * st.health - _USE_FADE * st.fade)
        lam = st.seats * acc.rate[idx] * mood * (self.weekday[d] * self.activity)
        k = rng.poisson(lam)
        elem = np.repeat(np.arange(len(st), dtype=I32), k)
        prof = acc.profile[idx[elem]]
        flat = np.searchsorted(_CUM, prof + rng.random(len(elem)), side="right")
        kind = np.minimum(flat - prof * _N_USE, _N_USE - 1)
        failed = np.flatnonzero(draws.failed).astype(I32)
        elem = np.concatenate([elem, failed])
        kind = np.concatenate([kind, np.full(len(failed), _FAILED_TYPE)]).astype(np.int8)
        sec = np.concatenate(
            [_business_seconds(rng, len(elem) - len(failed)),
             rng.integers(0, _DAY_S, len(failed), dtype=I32)]
        )  # fmt: skip
        order = np.argsort(sec, kind="stable")
        self.rows["usage"].append(
            {"cust": idx[elem[order]], "sec": sec[order], "type": kind[order]}
        )
        self.usage_days.append((d, len(elem)))

    def _tickets(self, d: int, rng: np.random.Generator, draws: _Day) -> None:
        """Ticket details: bad tickets take long, get low CSAT and escalate more often."""
        e, bad = draws.t_elem, draws.t_bad
        n = len(e)
        if not n:
            return
        hours = np.where(bad, 50.0, 4.0) * np.exp(0.8 * rng.standard_normal(n))
        billing = (draws.alive.dunning[e] > 0) & (rng.random(n) < 0.6)
        category = np.where(billing, _BILLING, rng.choice(len(_CAT_P), n, p=_CAT_P))
        score = np.where(bad, 1.6, 4.2) + 0.7 * rng.standard_normal(n)
        self.rows["tickets"].append({
            "cust": draws.alive.idx[e], "day": np.full(n, d, I32),
            "sec": _business_seconds(rng, n), "hours": hours,
            "chan": rng.choice(len(_TCH_P), n, p=_TCH_P), "category": category,
            "csat": np.where(rng.random(n) < 0.5, np.clip(np.round(score), 1, 5), np.nan),
            "esc": (bad & (rng.random(n) < 0.35)) | (rng.random(n) < 0.03),
        })  # fmt: skip

    def _nps(self, d: int, rng: np.random.Generator, st: _State) -> None:
        """Surveys from day 30 every 90 days; 40% answer, lower with low health, fade, grievance."""
        age = d - self.acc.signup[st.idx]
        asked = (age >= _NPS_FIRST) & ((age - _NPS_FIRST) % _NPS_EVERY == 0)
        if not asked.any():
            return
        n = len(st)
        score = 7.2 + 1.3 * st.health - 1.3 * st.fade - 0.6 * st.griev
        score = score + 1.3 * rng.standard_normal(n)
        answer = np.flatnonzero(asked & (rng.random(n) < _NPS_RESPONSE))
        self.rows["nps"].append({
            "cust": st.idx[answer], "day": np.full(len(answer), d, I32),
            "sec": _business_seconds(rng, len(answer)),
            "score": np.clip(np.round(score[answer]), 0, 10).astype(np.int64),
        })  # fmt: skip

    def tables(self, death: np.ndarray) -> Tables:
        """The contract tables (``onboarding`` is absent: the product has no onboarding log)."""
        ids = _id_strings("A", len(self.acc.signup))
        return Tables(
            customers=_customers(self.acc, ids),
            orders=self._orders(ids),
            subscriptions=self._subscriptions(ids, death),
            support_tickets=self._tickets_frame(ids),
            interactions=self._interactions(ids),
            nps=self._nps_frame(ids),
        )

    def _orders(self, ids) -> pd.DataFrame:
        o = _cat(self.rows["orders"])
        amount = np.round(SEAT_PRICE[o["plan"]] * o["seats"], 2)
        return pd.DataFrame({
            "order_id": pd.Series(_id_strings("I", len(amount)), dtype="str"),
            "customer_id": _strings(ids, o["cust"]),
            "order_date": _stamps(self.acc.start, o["day"], o["sec"]),
            "amount": amount, "margin": np.round(0.8 * amount, 2),
            "channel": _strings(("subscription",), np.zeros(len(amount), np.int64)),
            "items": o["seats"].astype(np.int64),
            "product_line": _strings(USAGE_PLANS, o["plan"]),
        })  # fmt: skip

    def _subscriptions(self, ids, death: np.ndarray) -> pd.DataFrame:
        """One row per period of constant plan and seats; the last ends on the cancellation."""
        acc, ch = self.acc, _cat(self.rows["changes"])
        keep = ch["day"] < np.minimum(death[ch["cust"]], self.n_days)
        n = len(acc.signup)
        cust = np.concatenate([np.arange(n), ch["cust"][keep]])
        day = np.concatenate([acc.signup, ch["day"][keep]])
        plan = np.concatenate([acc.plan0, ch["plan"][keep]])
        seats = np.concatenate([acc.seats0, ch["seats"][keep]])
        order = np.lexsort((day, cust))
        cust, day, plan, seats = cust[order], day[order], plan[order], seats[order]
        nxt_same = np.r_[cust[1:] == cust[:-1], False]
        last = np.where(death[cust] < NEVER, death[cust], -1)
        end = np.where(nxt_same, np.r_[day[1:], 0], last)
        frame = pd.DataFrame({
            "customer_id": _strings(ids, cust),
            "start_date": _stamps(acc.start, day),
            "end_date": pd.Series(_stamps(acc.start, np.maximum(end, 0))).where(end >= 0)
            .to_numpy(),
            "plan": _strings(USAGE_PLANS, plan),
            "mrr": np.round(SEAT_PRICE[plan] * seats, 2),
            "seats": seats.astype(np.int64),
        })  # fmt: skip
        return _sorted(frame, "start_date")

    def _tickets_frame(self, ids) -> pd.DataFrame:
        t = _cat(self.rows["tickets"])
        opened = _stamps(self.acc.start, t["day"], t["sec"]).astype(np.int64)
        resolved = opened + (t["hours"] * 3600e9).astype(np.int64)
        done = resolved < self.n_days * 86_400 * 10**9 + self.acc.start.value
        frame = pd.DataFrame({
            "customer_id": _strings(ids, t["cust"]),
            "opened_at": opened.astype("datetime64[ns]"),
            "resolved_at": pd.Series(resolved.astype("datetime64[ns]")).where(done).to_numpy(),
            "channel": _strings(TICKET_CHANNELS, t["chan"]),
            "csat": np.where(done, t["csat"], np.nan),
            "category": _strings(TICKET_CATEGORIES, t["category"]),
            "escalated": t["esc"].astype(bool),
        })  # fmt: skip
        return _sorted(frame, "opened_at")

    def _interactions(self, ids) -> pd.DataFrame:
        """Usage events in time order (built day by day, so no global sort is needed)."""
        it = _cat(self.rows["usage"])
        days, counts = np.array(self.usage_days, dtype=np.int64).reshape(-1, 2).T
        day = np.repeat(days.astype(I32), counts)
        occurred = _stamps(self.acc.start, day, it.pop("sec"))
        del day
        types = it.pop("type")
        return pd.DataFrame({
            "customer_id": _strings(ids, it.pop("cust")),
            "occurred_at": occurred,
            "channel": _strings(USAGE_CHANNELS, _TYPES[:, 0][types]),
            "kind": _strings(USAGE_KINDS, _TYPES[:, 1][types]),
        })  # fmt: skip

    def _nps_frame(self, ids) -> pd.DataFrame:
        s = _cat(self.rows["nps"])
        return pd.DataFrame({
            "customer_id": _strings(ids, s["cust"]),
            "responded_at": _stamps(self.acc.start, s["day"], s["sec"]),
            "score": s["score"],
        })  # fmt: skip


def _business_seconds(rng: np.random.Generator, n: int) -> np.ndarray:
    """Times of day (seconds), mostly in office hours."""
    return np.clip(rng.normal(13.5 * 3600, 3.2 * 3600, n), 0, _DAY_S - 1).astype(I32)


def _customers(acc: _Accounts, ids) -> pd.DataFrame:
    """One row per account: signup day and attributes known at signup."""
    return pd.DataFrame({
        "customer_id": pd.Series(ids, dtype="str"),
        "signup_date": _stamps(acc.start, acc.signup),
        "acquisition_channel": _strings(ACQ_CHANNELS, acc.acq),
        "country": _strings(COUNTRIES, acc.country),
        "industry": _strings(INDUSTRIES, acc.industry),
        "company_size": _strings(SIZE_BANDS, acc.size),
    })  # fmt: skip


def _traits(acc: _Accounts, death: np.ndarray, n_days: int) -> pd.DataFrame:
    """Hidden traits and realised cancellations, one row per account (benchmarks only)."""
    churned = death < n_days
    return pd.DataFrame(
        {
            "base_hazard": acc.base_h,
            "mean_health": acc.mu_health,
            "fade_speed": acc.speed,
            "usage_rate_per_seat": acc.rate,
            "card_failure_rate": acc.card,
            "ticket_rate": acc.need,
            "usage_profile": acc.profile,
            "seats_at_signup": acc.seats0,
            "plan_at_signup": _strings(USAGE_PLANS, acc.plan0).to_numpy(),
            "churn_date": pd.Series(_stamps(acc.start, np.where(churned, death, 0)))
            .where(churned)
            .to_numpy(),
            "alive_at_end": ~churned,
        },
        index=pd.Index(pd.Series(_id_strings("A", len(death)), dtype="str"), name="customer_id"),
    )

"""The contract tables (and the hidden traits frame) assembled from the collected rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from predictor.contract.tables import Tables
from predictor.sample.columns import (
    _id_strings,
    _stamps,
    _stamps_of_seconds,
    _strings,
    _time_order,
)
from predictor.sample.params import (
    _ITYPES,
    _PLAN_PRICE,
    _SEND_RATES,
    ACQ_CHANNELS,
    AGE_BANDS,
    COUNTRIES,
    DEVICES,
    ENGAGE_CHANNELS,
    I32,
    INTERACTION_KINDS,
    ORDER_CHANNELS,
    PLANS,
    PRODUCT_LINES,
    STEPS,
    TICKET_CATEGORIES,
    TICKET_CHANNELS,
)
from predictor.sample.world import _World


def _cat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Concatenate row chunks column by column, emptying ``parts`` to free memory early."""
    out = {}
    for key in list(parts[0]):
        out[key] = np.concatenate([p.pop(key) for p in parts])
    parts.clear()
    return out


def _sorted(frame: pd.DataFrame, by: str) -> pd.DataFrame:
    """Stable sort by one date column, fresh index."""
    order = np.argsort(frame[by].to_numpy(), kind="stable")
    return frame.take(order).reset_index(drop=True)


def _assemble(world: _World, rows: dict[str, list], death: np.ndarray) -> Tables:
    """All seven tables from the collected rows.

    The order rows are let go before the largest table (interactions) is built, so its
    columns can reuse their memory instead of new memory from the kernel.
    """
    ids = _id_strings("C", len(world.tr.signup))
    orders = _cat(rows["orders"])
    rng = world.rng(1 << 21)
    tables: dict[str, pd.DataFrame | None] = {
        "customers": _customers(world, ids),
        "orders": _orders(world, ids, orders),
        "subscriptions": _subscriptions(world, ids, rows["plans"], death)
        if world.mode == "subscription"
        else None,
        "onboarding": _onboarding(world, ids, orders, death, rng),
    }
    del orders
    tables["support_tickets"] = _tickets_frame(world, ids, _cat(rows["tickets"]))
    tables["interactions"] = _interactions(world, ids, _cat(rows["interactions"]), death, rng)
    tables["nps"] = _nps_frame(world, ids, _cat(rows["nps"]))
    return Tables(**tables)


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
    order, seconds = _time_order(o["day"], o["sec"])
    s = {k: o[k][order] for k in ("cust", "amount", "margin", "items", "chan", "pl")}
    del order
    return pd.DataFrame(
        {
            "order_id": pd.Series(_id_strings("O", len(seconds)), dtype="str"),
            "customer_id": _strings(ids, s["cust"]),
            "order_date": _stamps_of_seconds(world.start, seconds),
            "amount": s["amount"].astype(float, copy=False),
            "margin": s["margin"].astype(float, copy=False),
            "channel": _strings(ORDER_CHANNELS, s["chan"]),
            "items": s["items"].astype(np.int64, copy=False),
            "product_line": _strings(PRODUCT_LINES, s["pl"]),
        },
        copy=False,
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
    order, seconds = _time_order(np.concatenate(day), np.concatenate(sec))
    return pd.DataFrame(
        {
            "customer_id": _strings(ids, np.concatenate(cust)[order]),
            "step": _strings(STEPS, np.concatenate(step)[order]),
            "completed_at": _stamps_of_seconds(world.start, seconds),
        },
        copy=False,
    )


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
    order, seconds = _time_order(it.pop("day"), it.pop("sec"))
    cust, types = it.pop("cust")[order], it.pop("type")[order]
    del order
    return pd.DataFrame(
        {
            "customer_id": _strings(ids, cust),
            "occurred_at": _stamps_of_seconds(world.start, seconds),
            "channel": _strings(ENGAGE_CHANNELS, _ITYPES[:, 0].astype(np.int8)[types]),
            "kind": _strings(INTERACTION_KINDS, _ITYPES[:, 1].astype(np.int8)[types]),
        },
        copy=False,
    )


def _nps_frame(world: _World, ids: pa.Array, s: dict[str, np.ndarray]) -> pd.DataFrame:
    """NPS answers sorted by time."""
    order, seconds = _time_order(s["day"], s["sec"])
    return pd.DataFrame(
        {
            "customer_id": _strings(ids, s["cust"][order]),
            "responded_at": _stamps_of_seconds(world.start, seconds),
            "score": s["score"][order].astype(np.int64),
        }
    )


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

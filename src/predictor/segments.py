"""Value segments, churn risk bands and the marketing lever for each customer.

Thresholds are learned at training (``Segmenter.fit``), stored with the model and applied
unchanged at scoring, so a customer's segment never depends on who is scored with them.

- Customers already gone at the as-of date (outside the churn population: no active
  subscription, or no purchase within the no-order rule's lookback) are ``lapsed``, with risk
  band ``inactive``. No other segment holds them, and they are in no other segment's statistics.
- Active customers with a negative predicted value (possible with ``value.kind: margin``) are
  ``negative``: they cost more to serve than they bring.
- The other active customers are ``below_average`` / ``average`` / ``above_average``: by default
  cut at 0.5x and 1.5x the mean predicted value of active customers (``value_rule: relative``),
  or at quantiles of it (``value_rule: quantile``).
- Risk bands of active customers: by default relative to the active population's churn rate on
  the held-out cutoff (low <= 0.5x, high >= 2x, or half way from the rate to 100% when that is
  lower, as for businesses where most customers churn; ``risk_rule: relative``), or at fixed
  probabilities (``risk_rule: absolute``).

``LEVER_RULES`` names the action for each customer from segment, band and two facts from the
data (a new customer, a poor support experience); the report counts them per segment x band.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from predictor.config import Config, SegmentConfig
from predictor.contract.tables import Tables
from predictor.labels import order_value
from predictor.timeline import day_end, known_at, months_after

VALUE_SEGMENTS = ("below_average", "average", "above_average")
NEGATIVE_SEGMENT = "negative"
LAPSED_SEGMENT = "lapsed"
SEGMENTS = ("above_average", "average", "below_average", NEGATIVE_SEGMENT, LAPSED_SEGMENT)
"""Every value segment, in report order."""
RISK_BANDS = ("low", "medium", "high")
TOP_TENTH_MULTIPLE = 1.5
"""The riskiest tenth of active customers is high risk once it is at this multiple of the base
rate or more (the top-decile lift at which a ranking is worth acting on)."""
INACTIVE_BAND = "inactive"


def rate_multiple(base_rate: float, multiple: float) -> float:
    """``multiple`` x ``base_rate``, kept below certainty for common churn.

    A multiple above one goes at most ``(m - 1) / m`` of the way from the rate to 100% (2x:
    half way): at a 69% churn rate 2x would be 138%, which no risk reaches, so the high band
    would stay empty. Below a rate of ``1 / (m + 1)`` (a third for 2x) the plain multiple holds.
    """
    plain = base_rate * multiple
    if multiple <= 1:
        return plain
    return min(plain, base_rate + (1 - base_rate) * (multiple - 1) / multiple)


def _relative_risk_cuts(
    base_rate: float, multiples: tuple[float, float], active_risk: np.ndarray | None
) -> tuple[float, float]:
    """Low and high cuts as multiples of the base rate; high lowered to the riskiest tenth."""
    low, high = (rate_multiple(base_rate, m) for m in multiples)
    risk = np.asarray(active_risk if active_risk is not None else [], dtype=float)
    risk = risk[np.isfinite(risk)]
    if len(risk) >= 10 and base_rate > 0:
        top_tenth = float(np.quantile(risk, 0.9, method="higher"))
        if rate_multiple(base_rate, TOP_TENTH_MULTIPLE) <= top_tenth < high:
            high = top_tenth
    return low, high


@dataclass(frozen=True)
class Segmenter:
    """Cut points of the value segments (currency) and risk bands (probability), with their rule.

    ``value_rule`` / ``risk_rule`` say how the cuts were set; ``mean_value`` (mean predicted
    value of active customers) and ``base_rate`` (their churn rate) are what relative cuts are
    multiples of, ``value_params`` / ``risk_params`` the multiples, quantiles or thresholds.
    Models saved before the rules existed load as ``quantile`` / ``absolute``.
    """

    value_cuts: tuple[float, float]
    risk_cuts: tuple[float, float]
    value_rule: str = "quantile"
    risk_rule: str = "absolute"
    value_params: tuple[float, float] | None = None
    risk_params: tuple[float, float] | None = None
    mean_value: float | None = None
    base_rate: float | None = None
    reference: str | None = None

    @classmethod
    def fit(
        cls,
        active_value: np.ndarray,
        base_rate: float,
        config: SegmentConfig,
        reference: str | None = None,
        active_risk: np.ndarray | None = None,
    ) -> Segmenter:
        """Learn the cuts from the predicted values and churn rate of active customers.

        ``active_value``: predicted value of the customers active at a reference cutoff (the
        latest held-out churn cutoff in training), ``base_rate``: their observed churn rate.
        ``active_risk`` (their predicted risk), under the relative rule, lowers the high cut to
        where the riskiest tenth starts when that tenth is already at ``TOP_TENTH_MULTIPLE`` x
        the base rate or more: a model that ranks churners (top-decile lift >= 1.5) then
        always has a high band, even when calibrated risks rarely reach 2x the base rate.
        """
        value = np.asarray(active_value, dtype=float)
        value = value[np.isfinite(value)]
        mean = float(value.mean()) if len(value) else 0.0
        if config.value_rule == "relative":
            params = config.value_multiples
            value_cuts = tuple(max(mean, 0.0) * m for m in params)
        else:
            params = config.value_quantiles
            usable = value[value >= 0] if (value >= 0).any() else np.zeros(1)
            value_cuts = tuple(np.quantile(usable, params))
        if config.risk_rule == "relative":
            risk_params = config.risk_multiples
            risk_cuts = _relative_risk_cuts(float(base_rate), risk_params, active_risk)
        else:
            risk_params = config.risk_thresholds
            risk_cuts = tuple(risk_params)
        return cls(
            value_cuts=tuple(float(c) for c in value_cuts),
            risk_cuts=tuple(float(c) for c in risk_cuts),
            value_rule=config.value_rule,
            risk_rule=config.risk_rule,
            value_params=tuple(float(p) for p in params),
            risk_params=tuple(float(p) for p in risk_params),
            mean_value=mean,
            base_rate=float(base_rate),
            reference=reference,
        )

    def value_segment(self, value: pd.Series, active: pd.Series | None = None) -> pd.Series:
        """Segment per customer: lapsed (gone), negative, below_average, average, above_average.

        Below average: value < ``value_cuts[0]``; above average: value >= ``value_cuts[1]``.
        """
        arr = value.to_numpy(dtype=float)
        idx = np.searchsorted(np.asarray(self.value_cuts), arr, side="right")
        out = np.asarray(VALUE_SEGMENTS, dtype=object)[idx]
        out[arr < 0] = NEGATIVE_SEGMENT
        if active is not None:
            out[~_aligned(active, value.index)] = LAPSED_SEGMENT
        return pd.Series(out, index=value.index).astype(str)

    def risk_band(self, risk: pd.Series, active: pd.Series | None = None) -> pd.Series:
        """Low / medium / high per customer; ``inactive`` where the customer is already gone.

        Low: risk <= ``risk_cuts[0]``; high: risk >= ``risk_cuts[1]``; medium in between.
        """
        arr = risk.to_numpy(dtype=float)
        out = np.full(len(arr), "medium", dtype=object)
        out[arr <= self.risk_cuts[0]] = "low"
        out[arr >= self.risk_cuts[1]] = "high"
        if active is not None:
            out[~_aligned(active, risk.index)] = INACTIVE_BAND
        return pd.Series(out, index=risk.index).astype(str)

    def value_rule_text(self, currency: str = "") -> str:
        """The value segment rule in one plain sentence."""
        unit = f" {currency}" if currency else ""
        lo, hi = (f"{c:,.0f}{unit}" for c in self.value_cuts)
        head = (
            "Customers already gone are 'lapsed'; a negative predicted value is 'negative'. "
            "The other active customers are below average under "
            f"{lo}, above average from {hi}"
        )
        if self.value_rule == "relative" and self.value_params and self.mean_value is not None:
            a, b = self.value_params
            return (
                f"{head} ({_times(a)} and {_times(b)} the mean predicted value of active "
                f"customers, {self.mean_value:,.0f}{unit}{self._at()})."
            )
        if self.value_rule == "quantile" and self.value_params:
            a, b = self.value_params
            return f"{head} (quantiles {a:g} and {b:g} of active customers' predicted value)."
        return f"{head}."

    def risk_rule_text(self) -> str:
        """The risk band rule in one plain sentence."""
        lo, hi = (f"{c * 100:.1f}%" for c in self.risk_cuts)
        head = f"Risk bands of active customers: low up to {lo}, high from {hi}"
        if self.risk_rule == "relative" and self.risk_params and self.base_rate is not None:
            a, b = self.risk_params
            rate = f"the churn rate of active customers, {self.base_rate * 100:.1f}%{self._at()}"
            high = rate_multiple(self.base_rate, b)
            if self.risk_cuts[1] < high - 1e-12:
                ratio = self.risk_cuts[1] / self.base_rate
                return (
                    f"{head} (low: {_times(a)} {rate}; high: the riskiest tenth of active "
                    f"customers, from {ratio:.1f}x that rate, as fewer reach {high * 100:.1f}%)."
                )
            if high < b * self.base_rate - 1e-12:
                return (
                    f"{head} (low: {_times(a)} {rate}; high: {(b - 1) / b:.0%} of the way from "
                    f"that rate to 100%, as {_times(b)} the rate would pass 100%)."
                )
            return f"{head} ({_times(a)} and {_times(b)} {rate})."
        return f"{head} (fixed probabilities)."

    def _at(self) -> str:
        return f", as of {self.reference}" if self.reference else ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state, with the rules in words (``value_rule_text``, ``risk_rule_text``)."""
        return {
            **asdict(self),
            "value_rule_text": self.value_rule_text(),
            "risk_rule_text": self.risk_rule_text(),
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> Segmenter:
        """Rebuild from ``to_dict`` output (also of models saved before the rules existed)."""
        pair = lambda v: None if v is None else tuple(float(x) for x in v)  # noqa: E731
        return cls(
            value_cuts=pair(state["value_cuts"]),
            risk_cuts=pair(state["risk_cuts"]),
            value_rule=state.get("value_rule", "quantile"),
            risk_rule=state.get("risk_rule", "absolute"),
            value_params=pair(state.get("value_params")),
            risk_params=pair(state.get("risk_params")),
            mean_value=state.get("mean_value"),
            base_rate=state.get("base_rate"),
            reference=state.get("reference"),
        )


def _times(m: float) -> str:
    return f"{m:g}x"


def _aligned(flags: pd.Series, index: pd.Index) -> np.ndarray:
    return flags.reindex(index, fill_value=False).to_numpy(dtype=bool)


# -- levers: what to do about each customer ---------------------------------------------------


@dataclass(frozen=True)
class Lever:
    """A marketing lever: a short name and the action it stands for."""

    name: str
    action: str


LEVERS: dict[str, Lever] = {
    "win_back": Lever(
        "Win-back",
        "Already gone: a reactivation offer sized to what they spent in the last 13 months.",
    ),
    "cost_to_serve": Lever(
        "Cost to serve",
        "Cost more to serve than they bring: steer support to self-service, review discounts; "
        "no retention spend.",
    ),
    "service_recovery": Lever(
        "Service recovery",
        "At risk after a poor support experience: follow up, fix it, goodwill gesture before "
        "any offer.",
    ),
    "onboarding": Lever(
        "Onboarding",
        "New and not yet valuable: finish onboarding, first-month guidance, nudge the second "
        "purchase.",
    ),
    "loyalty_retention": Lever(
        "Loyalty: keep",
        "Above average and at risk: personal outreach, loyalty reward or retention offer.",
    ),
    "loyalty_reward": Lever(
        "Loyalty: reward",
        "Above average and safe: recognition, referral and early access; no discounts.",
    ),
    "retention_offer": Lever(
        "Retention offer",
        "Average value at high risk: a targeted incentive, capped by the value at risk.",
    ),
    "grow": Lever(
        "Grow",
        "Not at high risk: cross-sell and upsell to raise order value and purchase frequency.",
    ),
    "light_touch": Lever(
        "Automated nudge",
        "Below average at high risk: low-cost automated reminders; spend less than they bring.",
    ),
}
"""Lever key -> name and action. Fixed texts: the report never invents advice per run."""


@dataclass(frozen=True)
class LeverRule:
    """Who a lever is for. ``None`` in ``new`` / ``poor_support`` means 'either way'."""

    segments: tuple[str, ...]
    bands: tuple[str, ...]
    lever: str
    new: bool | None = None
    poor_support: bool | None = None


ACTIVE = VALUE_SEGMENTS
LEVER_RULES: tuple[LeverRule, ...] = (
    LeverRule((LAPSED_SEGMENT,), (INACTIVE_BAND,), "win_back"),
    LeverRule((NEGATIVE_SEGMENT,), RISK_BANDS, "cost_to_serve"),
    LeverRule(ACTIVE, ("medium", "high"), "service_recovery", poor_support=True),
    LeverRule(("below_average", "average"), RISK_BANDS, "onboarding", new=True),
    LeverRule(("above_average",), ("medium", "high"), "loyalty_retention"),
    LeverRule(("above_average",), ("low",), "loyalty_reward"),
    LeverRule(("average",), ("high",), "retention_offer"),
    LeverRule(("average", "below_average"), ("low", "medium"), "grow"),
    LeverRule(("below_average",), ("high",), "light_touch"),
)
"""The lever of each customer: the first rule that matches (segment, band, new, poor support).

| # | segment | risk band | also | lever |
|---|---|---|---|---|
| 1 | lapsed | inactive | | Win-back |
| 2 | negative | any | | Cost to serve |
| 3 | below / average / above | medium, high | poor support in the last 90 days | Service recovery |
| 4 | below / average | any | signed up in the last 90 days | Onboarding |
| 5 | above average | medium, high | | Loyalty: keep |
| 6 | above average | low | | Loyalty: reward |
| 7 | average | high | | Retention offer |
| 8 | average, below average | low, medium | | Grow |
| 9 | below average | high | | Automated nudge |

Without the customer and support tables (a report drawn from a scores file alone) rules 3 and 4
cannot be checked and are skipped; the report says so.
"""

NEW_CUSTOMER_DAYS = 90
"""A customer is 'new' when signed up within this many days up to the as-of date."""
POOR_SUPPORT_DAYS = 90
POOR_CSAT = 2
"""Poor support: within ``POOR_SUPPORT_DAYS`` up to the as-of date, a ticket rated CSAT <=
``POOR_CSAT``, escalated, or resolved later than ``support.sla_hours`` (or still open past it)."""


def customer_facts(tables: Tables, as_of: pd.Timestamp, config: Config) -> pd.DataFrame:
    """Per customer signed up by ``as_of``: the facts the lever rules and the report use.

    Columns: ``new`` (signed up in the ``NEW_CUSTOMER_DAYS`` up to and including ``as_of``),
    ``poor_support`` (see ``POOR_CSAT``; NaN when there is no support table) and
    ``value_last_13m`` (order value, revenue or margin as configured, in the
    ``value.horizon_months`` calendar months up to and including ``as_of``; ticket costs are
    not subtracted). Only rows dated on or before the end of ``as_of`` are read.
    """
    cutoff = day_end(pd.Timestamp(as_of))
    customers = tables.customers
    known = customers[known_at(customers["signup_date"], cutoff)]
    ids = pd.Index(known["customer_id"], name="customer_id")
    new = (known["signup_date"] > cutoff - pd.Timedelta(days=NEW_CUSTOMER_DAYS)).to_numpy()
    out = pd.DataFrame({"new": new}, index=ids)
    out["poor_support"] = _poor_support(tables, cutoff, config).reindex(ids)
    if tables.support_tickets is not None:
        out["poor_support"] = out["poor_support"].fillna(False).astype(bool)
    orders = tables.orders
    start = months_after(as_of, -config.value.horizon_months)
    window = orders[(orders["order_date"] > start) & known_at(orders["order_date"], cutoff)]
    value = order_value(window, config.value).groupby(window["customer_id"]).sum()
    out["value_last_13m"] = value.reindex(ids, fill_value=0.0).astype(float)
    return out


def _poor_support(tables: Tables, cutoff: pd.Timestamp, config: Config) -> pd.Series:
    """True for customers with a poor support experience in the window (see ``POOR_CSAT``)."""
    tickets = tables.support_tickets
    if tickets is None:
        return pd.Series(dtype=object)
    start = cutoff - pd.Timedelta(days=POOR_SUPPORT_DAYS)
    recent = tickets[(tickets["opened_at"] > start) & (tickets["opened_at"] <= cutoff)]
    poor = pd.Series(False, index=recent.index)
    if "csat" in recent.columns:
        poor |= recent["csat"].le(POOR_CSAT).fillna(False).astype(bool)
    if "escalated" in recent.columns:
        poor |= recent["escalated"].fillna(False).astype(bool)
    if "resolved_at" in recent.columns:
        sla = pd.Timedelta(hours=config.support.sla_hours)
        resolved = recent["resolved_at"].where(recent["resolved_at"] <= cutoff)
        late = (resolved - recent["opened_at"]) > sla
        open_too_long = resolved.isna() & ((cutoff - recent["opened_at"]) > sla)
        poor |= late | open_too_long
    return poor.groupby(recent["customer_id"]).any()


def assign_levers(
    segment: pd.Series,
    band: pd.Series,
    new: pd.Series | None = None,
    poor_support: pd.Series | None = None,
) -> pd.Series:
    """The key of ``LEVERS`` for each customer: the first matching rule of ``LEVER_RULES``.

    ``new`` / ``poor_support`` (booleans aligned on the same index) are optional: without them
    the rules that need them are skipped. A customer no rule matches gets ''.
    """
    seg, bnd = segment.to_numpy(dtype=object), band.to_numpy(dtype=object)
    flags = {
        "new": None if new is None else _aligned(new.fillna(False).astype(bool), segment.index),
        "poor_support": None
        if poor_support is None
        else _aligned(poor_support.fillna(False).astype(bool), segment.index),
    }
    out = np.full(len(seg), "", dtype=object)
    for rule in LEVER_RULES:
        hit = (out == "") & np.isin(seg, rule.segments) & np.isin(bnd, rule.bands)
        for name in ("new", "poor_support"):
            wanted = getattr(rule, name)
            if wanted is None:
                continue
            if flags[name] is None:
                hit &= False
            else:
                hit &= flags[name] == wanted
        out[hit] = rule.lever
    return pd.Series(out, index=segment.index, name="lever").astype(str)

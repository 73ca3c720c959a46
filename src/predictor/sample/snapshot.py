"""A single-snapshot churn data set laid on a calendar, with a known exact truth.

The most common shape of public churn data is one row per customer: tenure, contract type,
monthly charge and service attributes, plus "churned in the last month". ``generate_snapshot``
writes that shape into the contract the way a user would lay it out:

- ``customers``: one row per customer; ``signup_date`` is the snapshot's month end minus the
  tenure; contract, services, payment method, monthly charge, ... are attribute columns known at
  signup. ``acquisition_channel`` is present but empty for every customer (public churn tables
  have no such column; the contract says empty means missing).
- ``subscriptions``: one row per customer from signup; the churners' subscription ends in the
  last month of data (after the snapshot date ``as_of``), everybody else's is still open.
- ``orders``: the monthly charge, billed at signup and then at every month end up to the churn
  date (or the data's end), so the value targets have orders to learn from and the data
  visibly reach their last day.

Nobody churns before the last month (the snapshot holds only customers alive at its date), so
no earlier cutoff holds a churner: the churn target has to be evaluated on a customer split.

The churn probability of each customer is an exact logistic function of the attributes
(``SNAPSHOT_EFFECTS``); ``truth`` holds it with the realised outcome. It is for benchmarks and
tests and must never be a model input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from predictor.contract.tables import Tables

SNAPSHOT_END = "2024-01-31"
"""Default last day of data; the snapshot date is the month end before it."""
MAX_TENURE_MONTHS = 72

SNAPSHOT_EFFECTS: dict[str, float] = {
    "intercept": -1.1,
    "contract=month_to_month": 1.5,
    "contract=two_year": -1.2,
    "internet_service=fiber_optic": 0.75,
    "internet_service=none": -0.6,
    "payment_method=electronic_check": 0.45,
    "tech_support": -0.45,
    "online_security": -0.4,
    "senior_citizen": 0.3,
    "partner": -0.2,
    "tenure_years": -0.32,
    "monthly_charge_per_10": 0.08,
}
"""Log-odds of churning in the last month: the planted effects (``true_churn_prob``)."""


@dataclass(frozen=True)
class SnapshotSample:
    """Contract tables of a snapshot, the snapshot date and the hidden truth per customer."""

    tables: Tables
    truth: pd.DataFrame
    as_of: pd.Timestamp
    end_date: pd.Timestamp


def generate_snapshot(
    n_customers: int = 5000, seed: int = 0, end: str = SNAPSHOT_END
) -> SnapshotSample:
    """Simulate a snapshot of ``n_customers`` (same seed, same data) with data ending ``end``.

    The snapshot date ``as_of`` is the month end before ``end``; churners leave within
    (``as_of``, ``end``]. ``truth`` (index ``customer_id``) holds ``true_churn_prob`` (the
    exact probability of churning after ``as_of``), ``churned`` and ``churn_date``.
    """
    if n_customers < 1 or seed < 0:
        raise ValueError("n_customers must be >= 1 and seed >= 0")
    end_ts = pd.Timestamp(end).normalize()
    as_of = (end_ts.replace(day=1) - pd.Timedelta(days=1)).normalize()
    rng = np.random.default_rng([seed, 20240131])
    attrs = _attributes(rng, n_customers)
    signup = _signup_dates(rng, attrs["tenure_months"], as_of)
    prob = churn_probability(attrs)
    churned = rng.random(n_customers) < prob
    span = (end_ts - as_of).days
    churn_date = as_of + pd.to_timedelta(rng.integers(1, span + 1, n_customers), unit="D")
    churn_date = pd.Series(churn_date).where(churned)
    ids = pd.Index([f"S{i:06d}" for i in range(n_customers)], name="customer_id")
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "signup_date": signup,
            "acquisition_channel": pd.Series([None] * n_customers, dtype=object),
            **{k: v for k, v in attrs.items() if k != "tenure_months"},
        }
    )
    subscriptions = pd.DataFrame(
        {
            "customer_id": ids,
            "start_date": signup,
            "end_date": churn_date.to_numpy(),
            "plan": attrs["contract"],
            "mrr": attrs["monthly_charge"],
        }
    )
    orders = _monthly_charges(ids, signup, churn_date, attrs["monthly_charge"], end_ts)
    truth = pd.DataFrame(
        {"true_churn_prob": prob, "churned": churned, "churn_date": churn_date.to_numpy()},
        index=ids,
    )
    tables = Tables(customers=customers, orders=orders, subscriptions=subscriptions)
    return SnapshotSample(tables=tables, truth=truth, as_of=as_of, end_date=end_ts)


def _attributes(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Telco-like attributes: contract, services, payment, charge and tenure in months."""
    contract = rng.choice(["month_to_month", "one_year", "two_year"], n, p=[0.55, 0.21, 0.24])
    longer = np.where(contract == "two_year", 24, np.where(contract == "one_year", 10, 0))
    drawn = rng.integers(1, MAX_TENURE_MONTHS + 1, n) // 2 + rng.integers(0, 36, n) + longer
    tenure = np.clip(drawn, 1, MAX_TENURE_MONTHS)
    internet = rng.choice(["dsl", "fiber_optic", "none"], n, p=[0.34, 0.44, 0.22])
    has_net = internet != "none"
    tech = has_net & (rng.random(n) < 0.35)
    security = has_net & (rng.random(n) < 0.3)
    streaming = has_net & (rng.random(n) < 0.45)
    base = np.select([internet == "fiber_optic", internet == "dsl"], [70.0, 45.0], 20.0)
    charge = base + 5 * tech + 5 * security + 10 * streaming + rng.normal(0, 4, n)
    return {
        "tenure_months": tenure,
        "contract": contract,
        "internet_service": internet,
        "payment_method": rng.choice(
            ["electronic_check", "mailed_check", "bank_transfer", "credit_card"],
            n,
            p=[0.34, 0.23, 0.22, 0.21],
        ),
        "paperless_billing": rng.random(n) < 0.6,
        "senior_citizen": rng.random(n) < 0.16,
        "partner": rng.random(n) < 0.48,
        "dependents": rng.random(n) < 0.3,
        "tech_support": tech,
        "online_security": security,
        "streaming_tv": streaming,
        "monthly_charge": np.round(np.maximum(charge, 18.0), 2),
    }


def churn_probability(attrs: dict[str, np.ndarray]) -> np.ndarray:
    """The exact churn probability per customer: a logistic of the planted effects."""
    e = SNAPSHOT_EFFECTS
    logit = (
        e["intercept"]
        + e["contract=month_to_month"] * (attrs["contract"] == "month_to_month")
        + e["contract=two_year"] * (attrs["contract"] == "two_year")
        + e["internet_service=fiber_optic"] * (attrs["internet_service"] == "fiber_optic")
        + e["internet_service=none"] * (attrs["internet_service"] == "none")
        + e["payment_method=electronic_check"] * (attrs["payment_method"] == "electronic_check")
        + e["tech_support"] * attrs["tech_support"]
        + e["online_security"] * attrs["online_security"]
        + e["senior_citizen"] * attrs["senior_citizen"]
        + e["partner"] * attrs["partner"]
        + e["tenure_years"] * attrs["tenure_months"] / 12.0
        + e["monthly_charge_per_10"] * (attrs["monthly_charge"] - 60.0) / 10.0
    )
    return 1.0 / (1.0 + np.exp(-logit))


def _signup_dates(
    rng: np.random.Generator, tenure_months: np.ndarray, as_of: pd.Timestamp
) -> pd.Series:
    """A day (1st to 28th) in the month ``tenure`` months before the snapshot's month."""
    month = np.datetime64(as_of.strftime("%Y-%m"), "M") - tenure_months.astype("timedelta64[M]")
    days = rng.integers(0, 28, len(tenure_months)).astype("timedelta64[D]")
    return pd.Series((month.astype("datetime64[D]") + days).astype("datetime64[ns]"))


def _monthly_charges(
    ids: pd.Index,
    signup: pd.Series,
    churn_date: pd.Series,
    charge: np.ndarray,
    end: pd.Timestamp,
) -> pd.DataFrame:
    """The monthly charge at signup, then at every month end while subscribed (to ``end``)."""
    stop = churn_date.fillna(end).to_numpy(dtype="datetime64[ns]")
    first = signup.to_numpy(dtype="datetime64[ns]")
    month = first.astype("datetime64[M]")
    frames = [pd.DataFrame({"customer_id": ids, "order_date": first, "amount": charge})]
    for m in range(1, MAX_TENURE_MONTHS + 3):
        dates = ((month + np.timedelta64(m, "M")).astype("datetime64[D]") - 1).astype(
            "datetime64[ns]"
        )
        keep = dates <= stop
        if not keep.any():
            break
        frames.append(
            pd.DataFrame(
                {"customer_id": ids[keep], "order_date": dates[keep], "amount": charge[keep]}
            )
        )
    orders = pd.concat(frames, ignore_index=True).sort_values(["customer_id", "order_date"])
    orders.insert(0, "order_id", [f"O{i:08d}" for i in range(len(orders))])
    return orders.reset_index(drop=True)

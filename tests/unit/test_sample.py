"""The built-in sample business: contract, determinism, planted effects and consistent truth.

The planted effects are checked on the generated tables themselves (what a model can see),
and the ground truth is checked against the outcomes realised in the same tables: the data
is one draw of the process the truth simulates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from predictor.contract.tables import Tables
from predictor.sample import (
    PLANS,
    SampleBusiness,
    day_one_truth,
    generate_sample,
    ground_truth,
)

N = 5000
SEED = 7

COLUMNS = {
    "customers": [
        "customer_id", "signup_date", "acquisition_channel", "country", "age_band", "device",
        "household_size",
    ],
    "orders": [
        "order_id", "customer_id", "order_date", "amount", "margin", "channel", "items",
        "product_line",
    ],
    "subscriptions": ["customer_id", "start_date", "end_date", "plan", "mrr"],
    "onboarding": ["customer_id", "step", "completed_at"],
    "support_tickets": [
        "customer_id", "opened_at", "resolved_at", "channel", "csat", "category", "escalated",
    ],
    "interactions": ["customer_id", "occurred_at", "channel", "kind"],
    "nps": ["customer_id", "responded_at", "score"],
}  # fmt: skip
EVENT_DATE = {
    "orders": "order_date",
    "subscriptions": "start_date",
    "onboarding": "completed_at",
    "support_tickets": "opened_at",
    "interactions": "occurred_at",
    "nps": "responded_at",
}
STRING_COLUMNS = {
    "customer_id", "acquisition_channel", "country", "age_band", "device", "order_id",
    "channel", "product_line", "plan", "step", "category", "kind",
}  # fmt: skip


@pytest.fixture(scope="module")
def sub() -> SampleBusiness:
    return generate_sample(N, seed=SEED, mode="subscription")


@pytest.fixture(scope="module")
def retail() -> SampleBusiness:
    return generate_sample(N, seed=SEED, mode="retail")


@pytest.fixture(scope="module", params=["subscription", "retail"])
def business(request: pytest.FixtureRequest, sub: SampleBusiness, retail: SampleBusiness):
    return sub if request.param == "subscription" else retail


# ----------------------------------------------------------------------------- helpers


def churn_days(b: SampleBusiness) -> pd.Series:
    """Day each customer churned: subscription from the table, retail from the hidden truth."""
    if b.mode == "subscription":
        subs = b.tables.subscriptions
        last = subs.groupby("customer_id")["end_date"].max()
        active = subs["end_date"].isna().groupby(subs["customer_id"]).any()
        return last.where(~active)
    return b.traits["churn_date"]


def customers(b: SampleBusiness) -> pd.DataFrame:
    return b.tables.customers.set_index("customer_id")


def lifetime_days(b: SampleBusiness) -> pd.Series:
    """Days from signup to churn (NaN while still active)."""
    return (churn_days(b) - customers(b)["signup_date"]).dt.days


def churned_between(b: SampleBusiness, lo: int, hi: int) -> pd.Series:
    """Whether a customer churned between ``lo`` and ``hi`` days after signup."""
    life = lifetime_days(b)
    return life.between(lo, hi - 1).fillna(False).astype(bool)


def mature(b: SampleBusiness, days: int) -> pd.Series:
    """Customers whose first ``days`` days lie inside the data."""
    return customers(b)["signup_date"] <= b.end_date - pd.Timedelta(days=days)


def realised(b: SampleBusiness, as_of: pd.Timestamp) -> tuple[pd.Series, pd.Series]:
    """Realised churn (90 days, population as in the labels) and 13-month revenue."""
    t = b.tables
    cut = as_of + pd.Timedelta(days=1)
    horizon = cut + pd.Timedelta(days=90)
    orders = t.orders
    if b.mode == "subscription":
        subs = t.subscriptions

        def covering(instant: pd.Timestamp) -> pd.Index:
            end = subs["end_date"]
            ok = (subs["start_date"] < instant) & (end.isna() | (end >= instant))
            return pd.Index(subs.loc[ok, "customer_id"].unique())

        population, still = covering(cut), covering(horizon)
        churn = pd.Series(~population.isin(still), index=population)
    else:
        buys = orders[orders["amount"] > 0]
        recent = buys[(buys["order_date"] >= cut - pd.Timedelta(days=365))
                      & (buys["order_date"] < cut)]  # fmt: skip
        population = pd.Index(recent["customer_id"].unique())
        future = buys[(buys["order_date"] >= cut) & (buys["order_date"] < horizon)]
        churn = pd.Series(~population.isin(future["customer_id"].unique()), index=population)
    end = as_of + pd.DateOffset(months=13) + pd.Timedelta(days=1)
    inside = orders[(orders["order_date"] >= cut) & (orders["order_date"] < end)]
    value = inside.groupby("customer_id")["amount"].sum()
    return churn, value


# ----------------------------------------------------------------------------- determinism


def test_same_seed_same_data_and_other_seed_other_data() -> None:
    a = generate_sample(600, seed=3, mode="subscription", years=3.0)
    b = generate_sample(600, seed=3, mode="subscription", years=3.0)
    c = generate_sample(600, seed=4, mode="subscription", years=3.0)
    for name, frame in a.tables.items():
        pd.testing.assert_frame_equal(frame, b.tables.get(name))
    pd.testing.assert_frame_equal(a.traits, b.traits)
    assert not a.tables.orders["amount"].equals(c.tables.orders["amount"])
    assert not a.tables.customers["signup_date"].equals(c.tables.customers["signup_date"])


def test_truth_is_deterministic_for_a_seed(sub: SampleBusiness) -> None:
    as_of = sub.end_date - pd.DateOffset(months=20)
    first = ground_truth(sub, as_of, n_sims=4, seed=1)
    pd.testing.assert_frame_equal(first, ground_truth(sub, as_of, n_sims=4, seed=1))
    other = ground_truth(sub, as_of, n_sims=4, seed=2)
    assert not first["true_value_13m"].equals(other["true_value_13m"])


def test_bad_arguments_are_refused(sub: SampleBusiness) -> None:
    with pytest.raises(ValueError, match="mode"):
        generate_sample(10, mode="wholesale")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="outside the data"):
        ground_truth(sub, sub.end_date + pd.Timedelta(days=1))


# ----------------------------------------------------------------------------- the contract


def test_tables_have_the_contract_columns_and_types(business: SampleBusiness) -> None:
    t = business.tables
    assert isinstance(t, Tables)
    for name, frame in t.items():
        assert list(frame.columns) == COLUMNS[name], name
        for col in frame.columns:
            dtype = frame[col].dtype
            if col in STRING_COLUMNS:
                assert dtype == "str", (name, col, dtype)
            elif col in EVENT_DATE.values() or col.endswith(("_date", "_at")):
                assert dtype == "datetime64[ns]", (name, col, dtype)
    assert t.orders["amount"].dtype == float and t.orders["margin"].dtype == float
    assert t.orders["items"].dtype == np.int64 and t.nps["score"].dtype == np.int64
    assert t.support_tickets["escalated"].dtype == bool
    assert t.customers["household_size"].dtype == np.int64
    assert t.customers["customer_id"].is_unique and t.orders["order_id"].is_unique
    assert t.customers["customer_id"].str.fullmatch(r"C\d{6}").all()


def test_modes_differ_in_subscriptions(sub: SampleBusiness, retail: SampleBusiness) -> None:
    assert retail.tables.subscriptions is None
    subs = sub.tables.subscriptions
    assert set(subs["plan"]) <= set(PLANS) and (subs["mrr"] > 0).all()
    first = subs.groupby("customer_id")["start_date"].min()
    signup = customers(sub)["signup_date"]
    assert first.reindex(signup.index).eq(signup).all()  # everyone subscribes at signup
    charges = sub.tables.orders["channel"] == "subscription"
    assert charges.mean() > 0.5
    assert (retail.tables.orders["channel"] != "subscription").all()


def test_plan_changes_chain_without_gaps(sub: SampleBusiness) -> None:
    subs = sub.tables.subscriptions.sort_values(["customer_id", "start_date"])
    nxt = subs.groupby("customer_id")["start_date"].shift(-1)
    chained = nxt.notna()
    assert chained.sum() > 50  # upgrades and downgrades exist
    assert (subs.loc[chained, "end_date"] == nxt[chained]).all()
    assert (subs["end_date"].isna() | (subs["end_date"] >= subs["start_date"])).all()
    assert subs.groupby("customer_id")["end_date"].apply(lambda e: e.isna().sum()).max() <= 1


def test_events_lie_within_each_customers_timeline(business: SampleBusiness) -> None:
    t = business.tables
    signup = customers(business)["signup_date"]
    last_day = business.end_date
    assert signup.max() <= last_day
    assert business.end_date - business.start_date >= pd.Timedelta(days=3 * 365)
    for name, col in EVENT_DATE.items():
        frame = t.get(name)
        if frame is None:
            continue
        day = frame[col].dt.normalize()
        assert frame["customer_id"].isin(signup.index).all(), name
        assert (day >= frame["customer_id"].map(signup)).all(), name
        assert (day <= last_day).all(), name
        assert frame[col].is_monotonic_increasing, name
    tickets = t.support_tickets
    resolved = tickets["resolved_at"]
    assert (resolved.isna() | (resolved >= tickets["opened_at"])).all()
    assert (resolved.dropna().dt.normalize() <= last_day).all()
    assert tickets["csat"].dropna().between(1, 5).all() and tickets["csat"].isna().any()
    assert tickets.loc[resolved.isna(), "csat"].isna().all()
    assert t.nps["score"].between(0, 10).all()


def test_onboarding_steps_and_first_purchase_agree(business: SampleBusiness) -> None:
    onb = business.tables.onboarding
    assert set(onb["step"]) == {
        "account_created", "profile_completed", "first_purchase", "app_installed",
        "tutorial_completed",
    }  # fmt: skip
    assert not onb.duplicated(["customer_id", "step"]).any()
    created = onb[onb["step"] == "account_created"]
    assert len(created) == len(business.tables.customers)
    first = onb[onb["step"] == "first_purchase"].set_index("customer_id")["completed_at"]
    buys = business.tables.orders
    buys = buys[(buys["amount"] > 0) & (buys["channel"] != "subscription")]
    earliest = buys.groupby("customer_id")["order_date"].min()
    assert first.sort_index().equals(earliest.sort_index())


def test_acquisition_is_continuous_and_growing(business: SampleBusiness) -> None:
    signup = business.tables.customers["signup_date"]
    quarters = signup.dt.to_period("Q").value_counts()
    assert len(quarters) == 14 and quarters.min() > 0.5 * len(signup) / len(quarters)
    years = signup.dt.year.value_counts().sort_index()
    assert years.iloc[-2] > 1.3 * years.iloc[0]  # growth (the last year is partial)
    assert set(business.tables.customers["acquisition_channel"]) >= {
        "paid_search", "organic", "social", "referral", "affiliate", "email",
    }  # fmt: skip


# ----------------------------------------------------------------------------- planted effects


def test_poor_onboarding_loses_new_customers(business: SampleBusiness) -> None:
    onb = business.tables.onboarding.merge(business.tables.customers, on="customer_id")
    early = onb[onb["completed_at"] < onb["signup_date"] + pd.Timedelta(days=14)]
    steps = early.groupby("customer_id")["step"].nunique().reindex(customers(business).index)
    finished = steps.fillna(0) == 5
    ok = mature(business, 400)
    lost_early = churned_between(business, 0, 42)
    lost_year = churned_between(business, 0, 365)
    assert 0.15 < lost_early[ok].mean() < 0.30
    assert lost_early[ok & ~finished].mean() > 2 * lost_early[ok & finished].mean()
    # + 0.06: pre-churn fading (independent of onboarding) is a second route to churn
    assert lost_year[ok & ~finished].mean() > lost_year[ok & finished].mean() + 0.06


def test_omnichannel_customers_retain_better(business: SampleBusiness) -> None:
    it = business.tables.interactions.merge(business.tables.customers, on="customer_id")
    first90 = it[it["occurred_at"] < it["signup_date"] + pd.Timedelta(days=90)]
    breadth = first90.groupby("customer_id")["channel"].nunique()
    breadth = breadth.reindex(customers(business).index).fillna(0)
    life = lifetime_days(business)
    ok = mature(business, 455) & ~(life < 90)
    later = churned_between(business, 90, 455)
    omni, single = later[ok & (breadth >= 3)].mean(), later[ok & (breadth <= 1)].mean()
    assert single > omni + 0.08, (single, omni)


def test_detractors_churn_more_than_promoters(business: SampleBusiness) -> None:
    nps = business.tables.nps
    nps = nps[nps["responded_at"] < business.end_date - pd.Timedelta(days=200)]
    gap = (nps["customer_id"].map(churn_days(business)) - nps["responded_at"]).dt.days
    left = gap.between(0, 180)
    detractor, promoter = left[nps["score"] <= 6].mean(), left[nps["score"] >= 9].mean()
    assert detractor > promoter + 0.05, (detractor, promoter)


def test_poor_support_drives_customers_away(business: SampleBusiness) -> None:
    tk = business.tables.support_tickets
    tk = tk[tk["opened_at"] < business.end_date - pd.Timedelta(days=150)]
    hours = (tk["resolved_at"] - tk["opened_at"]).dt.total_seconds() / 3600
    bad = (hours > 72) | (tk["csat"] <= 2)
    gap = (tk["customer_id"].map(churn_days(business)) - tk["opened_at"]).dt.days
    left = gap.between(0, 120)
    assert 0.3 < left[bad].mean() < 0.55
    assert left[bad].mean() > left[~bad].mean() + 0.1
    channel = tk["channel"]
    assert left[channel == "live_chat"].mean() < left[channel == "email"].mean() - 0.04
    assert hours[channel == "live_chat"].median() < hours[channel == "email"].median() / 10


def test_engagement_fades_in_the_weeks_before_churn(business: SampleBusiness) -> None:
    """Planted fading: churners engage less in the last 4 weeks than 12-16 weeks before.

    Long-lived churners only (so both windows lie after signup); customers who stay serve as a
    control over the same calendar weeks, so the drop is not seasonality.
    """
    t = business.tables
    churn = churn_days(business).dropna()
    life = lifetime_days(business).reindex(churn.index)
    churn = churn[life > 240]
    engaged = t.interactions[t.interactions["kind"] != "sent"]
    weeks = (engaged["customer_id"].map(churn) - engaged["occurred_at"]).dt.days // 7
    late = (weeks.between(0, 3)).groupby(engaged["customer_id"]).sum().reindex(churn.index)
    early = (weeks.between(12, 15)).groupby(engaged["customer_id"]).sum().reindex(churn.index)
    late, early = late.fillna(0), early.fillna(0)
    assert late.sum() < 0.8 * early.sum(), (late.sum(), early.sum())
    # individual variation: some churners fade much more than others
    dropped = (early > 0) & (late == 0)
    kept = (early > 0) & (late >= early)
    assert dropped.mean() > 0.15 and kept.mean() > 0.05, (dropped.mean(), kept.mean())


def test_fading_is_hidden_and_individual(sub: SampleBusiness) -> None:
    speed = sub.traits["fade_speed"]
    assert speed.gt(0).all() and speed.quantile(0.9) > 2 * speed.quantile(0.1)


def test_live_chat_users_engage_more(business: SampleBusiness) -> None:
    t = business.tables
    chat = t.support_tickets.loc[t.support_tickets["channel"] == "live_chat", "customer_id"]
    others = t.support_tickets.loc[~t.support_tickets["customer_id"].isin(chat), "customer_id"]
    engaged = t.interactions[t.interactions["kind"] != "sent"].groupby("customer_id").size()
    per_chat = engaged.reindex(chat.unique()).fillna(0).mean()
    per_other = engaged.reindex(others.unique()).fillna(0).mean()
    assert per_chat > 1.3 * per_other


def test_repeat_customers_spend_more_per_active_month(retail: SampleBusiness) -> None:
    orders = retail.tables.orders
    month = orders["order_date"].dt.to_period("M")
    spend = orders.groupby([orders["customer_id"], month])["amount"].sum().reset_index()
    spend = spend[spend["amount"] > 0]
    rank = spend.groupby("customer_id").cumcount()
    uplift = spend.loc[rank > 0, "amount"].mean() / spend.loc[rank == 0, "amount"].mean() - 1
    assert 0.4 < uplift < 1.0, uplift


def test_spend_is_zero_inflated_heavy_tailed_and_seasonal(business: SampleBusiness) -> None:
    cut = business.end_date - pd.DateOffset(months=13)
    ids = customers(business).index[customers(business)["signup_date"] <= cut]
    orders = business.tables.orders
    later = orders[orders["order_date"] >= cut + pd.Timedelta(days=1)]
    spend = later.groupby("customer_id")["amount"].sum().reindex(ids).fillna(0)
    assert (spend <= 0).mean() > 0.3
    top = spend.sort_values().iloc[-len(spend) // 10 :].sum() / spend.sum()
    assert top > 0.4
    buys = orders[(orders["amount"] > 0) & (orders["channel"] != "subscription")]
    year = buys[buys["order_date"].dt.year == 2024]
    by_month = year.groupby(year["order_date"].dt.month).size()
    assert by_month[[11, 12]].mean() > 1.25 * by_month[[1, 2, 3]].mean()


def test_refunds_and_margins_by_product_line(retail: SampleBusiness) -> None:
    orders = retail.tables.orders
    refunds = orders[orders["amount"] < 0]
    assert 0.02 < len(refunds) / len(orders) < 0.1
    assert (refunds["items"] < 0).all() and (refunds["margin"] < 0).all()
    buys = orders[orders["amount"] > 0]
    rate = (
        buys.groupby("product_line")["margin"].sum() / buys.groupby("product_line")["amount"].sum()
    )
    assert rate.max() - rate.min() > 0.3


# ----------------------------------------------------------------------------- ground truth


@pytest.fixture(scope="module")
def truths(sub: SampleBusiness, retail: SampleBusiness) -> dict[str, pd.DataFrame]:
    return {
        b.mode: ground_truth(b, b.end_date - pd.DateOffset(months=14), n_sims=32)
        for b in (sub, retail)
    }


def test_truth_covers_signed_up_customers_with_valid_values(
    business: SampleBusiness, truths: dict[str, pd.DataFrame]
) -> None:
    truth = truths[business.mode]
    as_of = business.end_date - pd.DateOffset(months=14)
    signed = customers(business).index[customers(business)["signup_date"] <= as_of]
    assert truth.index.equals(pd.Index(signed, name="customer_id"))
    assert list(truth.columns[:5]) == [
        "alive", "in_churn_population", "true_churn_prob", "true_value_13m", "true_margin_13m",
    ]  # fmt: skip
    prob = truth["true_churn_prob"]
    assert prob.notna().eq(truth["in_churn_population"]).all()
    assert prob.dropna().between(0, 1).all()
    assert (truth["true_value_13m"] >= 0).all()
    dead = ~truth["alive"]
    assert (truth.loc[dead, "true_value_13m"] == 0).all()
    assert (prob[dead & truth["in_churn_population"]] == 1).all()


def test_truth_agrees_with_realised_outcomes(
    business: SampleBusiness, truths: dict[str, pd.DataFrame]
) -> None:
    truth = truths[business.mode]
    churn, value = realised(business, business.end_date - pd.DateOffset(months=14))
    population = truth.index[truth["in_churn_population"]]
    assert set(population) == set(churn.index)  # same population as the labels
    predicted = truth.loc[population, "true_churn_prob"]
    se = np.sqrt((predicted * (1 - predicted)).sum()) / len(predicted)
    assert abs(churn.mean() - predicted.mean()) < max(0.03, 4 * se)
    realised_total = value.reindex(truth.index).fillna(0).sum()
    assert realised_total == pytest.approx(truth["true_value_13m"].sum(), rel=0.1)
    quartile = pd.qcut(predicted.loc[churn.index].rank(method="first"), 4, labels=False)
    ranked = churn.astype(float).groupby(quartile).mean()
    assert ranked.is_monotonic_increasing  # truth ranks customers by realised churn


def test_truth_at_the_last_day_looks_past_the_data(sub: SampleBusiness) -> None:
    truth = ground_truth(sub, sub.end_date, n_sims=4)
    assert len(truth) == len(sub.tables.customers)
    assert truth["in_churn_population"].equals(truth["alive"])
    assert truth.loc[truth["alive"], "true_value_13m"].gt(0).all()


def test_day_one_truth_agrees_with_realised_value(business: SampleBusiness) -> None:
    truth = day_one_truth(business, n_sims=8)
    assert list(truth.columns) == ["alive", "true_day_one_value", "true_day_one_margin"]
    assert len(truth) == len(business.tables.customers) and truth.index.is_unique
    cust = business.tables.customers
    complete = cust[cust["signup_date"] + pd.DateOffset(months=13) < business.end_date]
    orders = business.tables.orders.merge(cust[["customer_id", "signup_date"]], on="customer_id")
    start = orders["signup_date"] + pd.Timedelta(days=1)
    inside = (orders["order_date"] >= start) & (
        orders["order_date"] < start + pd.DateOffset(months=13)
    )
    value = orders[inside].groupby("customer_id")["amount"].sum()
    ids = complete["customer_id"]
    realised_total = value.reindex(ids).fillna(0).sum()
    expected = truth.loc[ids, "true_day_one_value"]
    assert realised_total == pytest.approx(expected.sum(), rel=0.1)
    assert np.corrcoef(value.reindex(ids).fillna(0), expected)[0, 1] > 0.4

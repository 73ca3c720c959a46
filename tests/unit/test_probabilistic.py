"""BG/NBD and Gamma-Gamma: published CDNOW results, RFM summary rules, degenerate data."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from predictor.modeling.probabilistic import (
    BetaGeoModel,
    GammaGammaModel,
    NotFittedError,
    bgnbd_gg_value,
    rfm_summary,
)

REPO = Path(__file__).resolve().parents[2]
CDNOW_DIR = REPO / "benchmarks" / "data" / "cdnow"
CALIBRATION_END = "1997-09-30"
HOLDOUT_WEEKS = 39  # 1997-10-01 .. 1998-06-30 = 273 days


def _load_benchmark_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cdnow_loader", REPO / "benchmarks" / "cdnow.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def cdnow_sample() -> tuple[pd.DataFrame, pd.DataFrame]:
    return _load_benchmark_module().load_cdnow(CDNOW_DIR, sample=True)


@pytest.fixture(scope="module")
def calibration(cdnow_sample: tuple[pd.DataFrame, pd.DataFrame]) -> pd.DataFrame:
    _, orders = cdnow_sample
    return rfm_summary(orders, CALIBRATION_END, time_unit_days=7.0)


@pytest.fixture(scope="module")
def bgnbd(calibration: pd.DataFrame) -> BetaGeoModel:
    return BetaGeoModel().fit(calibration["frequency"], calibration["recency"], calibration["T"])


@pytest.fixture(scope="module")
def gamma_gamma(calibration: pd.DataFrame) -> GammaGammaModel:
    return GammaGammaModel().fit(calibration["frequency"], calibration["monetary_value"])


# ---------------------------------------------------------------------------------------------
# Known answers on the CDNOW 1/10 sample (Fader, Hardie & Lee 2005; Hardie's notes 004, 025)
# ---------------------------------------------------------------------------------------------


def test_cdnow_sample_loads_as_contract_tables(cdnow_sample):
    customers, orders = cdnow_sample
    assert len(orders) == 6919
    assert len(customers) == customers["customer_id"].nunique() == 2357
    assert list(customers.columns) == ["customer_id", "signup_date"]
    assert {"customer_id", "order_date", "amount", "items"} <= set(orders.columns)
    assert orders["order_date"].min() == pd.Timestamp("1997-01-01")
    assert orders["order_date"].max() == pd.Timestamp("1998-06-30")
    assert customers["signup_date"].max() <= pd.Timestamp("1997-03-25")


def test_calibration_summary_matches_hardie(calibration):
    assert len(calibration) == 2357
    assert (calibration["frequency"] > 0).sum() == 946
    # Hardie's summary file: the first customer has x=2, t_x=30.43, T=38.86 weeks.
    first = calibration.loc["00004"]
    assert first["frequency"] == 2
    assert first["recency"] == pytest.approx(30.43, abs=0.005)
    assert first["T"] == pytest.approx(38.86, abs=0.005)


def test_bgnbd_reproduces_published_parameters(bgnbd):
    rounded = {name: round(value, 3) for name, value in bgnbd.params_.items()}
    assert rounded == {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    assert bgnbd.log_likelihood_ == pytest.approx(-9582.4, abs=0.1)
    assert bgnbd.n_customers_ == 2357


def test_gamma_gamma_reproduces_published_parameters(gamma_gamma):
    assert gamma_gamma.n_customers_ == 946
    rounded = {name: round(value, 2) for name, value in gamma_gamma.params_.items()}
    assert rounded == {"p": 6.25, "q": 3.74, "v": 15.44}


def test_holdout_expected_repeat_transactions(bgnbd, calibration, cdnow_sample):
    expected = bgnbd.expected_purchases(
        HOLDOUT_WEEKS, calibration["frequency"], calibration["recency"], calibration["T"]
    )
    assert expected.sum() == pytest.approx(1654, rel=0.01)
    # The observed count the paper compares with: 1,882 repeat purchase days in the holdout.
    _, orders = cdnow_sample
    holdout = orders.loc[orders["order_date"] > CALIBRATION_END]
    assert holdout.groupby("customer_id")["order_date"].nunique().sum() == 1882


def test_bgnbd_is_time_unit_invariant(bgnbd, cdnow_sample, calibration):
    _, orders = cdnow_sample
    daily = rfm_summary(orders, CALIBRATION_END, time_unit_days=1.0)
    model = BetaGeoModel().fit(daily["frequency"], daily["recency"], daily["T"])
    assert model.params_["alpha"] == pytest.approx(bgnbd.params_["alpha"] * 7, rel=1e-4)
    weekly = bgnbd.expected_purchases(
        HOLDOUT_WEEKS, calibration["frequency"], calibration["recency"], calibration["T"]
    )
    in_days = model.expected_purchases(
        HOLDOUT_WEEKS * 7, daily["frequency"], daily["recency"], daily["T"]
    )
    np.testing.assert_allclose(in_days.to_numpy(), weekly.to_numpy(), rtol=1e-3, atol=1e-6)


def test_bgnbd_predictions_are_consistent(bgnbd, calibration):
    x, t_x, age = calibration["frequency"], calibration["recency"], calibration["T"]
    p_alive = bgnbd.probability_alive(x, t_x, age)
    assert isinstance(p_alive, pd.Series) and p_alive.index.equals(calibration.index)
    assert p_alive.between(0, 1).all()
    assert (p_alive[x == 0] == 1).all()
    # Purchases in (0, 10] + (10, 39] = purchases in (0, 39].
    total = bgnbd.expected_purchases(39, x, t_x, age)
    split = bgnbd.expected_purchases_between(0, 10, x, t_x, age) + (
        bgnbd.expected_purchases_between(10, 39, x, t_x, age)
    )
    np.testing.assert_allclose(split.to_numpy(), total.to_numpy(), rtol=1e-9)
    assert (total >= 0).all()
    # A frequent buyer seen recently is expected to buy more than one silent for long.
    recent, lapsed = bgnbd.expected_purchases(
        39, np.array([5, 5]), np.array([38.0, 5.0]), np.array([39.0, 39.0])
    )
    assert recent > lapsed
    assert bgnbd.expected_purchases_new_customer(39) > 0


def test_gamma_gamma_shrinks_towards_population_mean(gamma_gamma):
    population = gamma_gamma.population_mean_
    low, high, new = gamma_gamma.expected_average_value(
        np.array([1, 1, 0]), np.array([5.0, 500.0, 0.0])
    )
    assert 5.0 < low < population < high < 500.0
    assert new == pytest.approx(population)
    # More transactions: more weight on the customer's own mean.
    one, many = gamma_gamma.expected_average_value(np.array([1, 20]), np.array([100.0, 100.0]))
    assert one < many < 100.0


def test_bgnbd_gg_value_on_cdnow(cdnow_sample, bgnbd):
    _, orders = cdnow_sample
    value = bgnbd_gg_value(orders, CALIBRATION_END, horizon_days=HOLDOUT_WEEKS * 7)
    assert list(value.columns) == [
        "p_alive",
        "expected_purchases",
        "expected_avg_value",
        "expected_value",
    ]
    assert len(value) == 2357
    assert value["expected_purchases"].sum() == pytest.approx(1654, rel=0.01)
    assert value.attrs["fallbacks"] == []
    assert value.attrs["bgnbd_params"]["r"] == pytest.approx(bgnbd.params_["r"], rel=1e-5)
    np.testing.assert_allclose(
        value["expected_value"], value["expected_purchases"] * value["expected_avg_value"]
    )


# ---------------------------------------------------------------------------------------------
# rfm_summary on hand-made data (as_of = 2024-03-10, weekly units; 2024 is a leap year)
# ---------------------------------------------------------------------------------------------

AS_OF = "2024-03-10"


def _orders() -> pd.DataFrame:
    rows = [
        ("A", "2024-01-01 10:00", 10.0),  # A's first purchase day (before the cutoff)
        ("A", "2024-01-01 15:00", 5.0),  # same day as the first: merged into it
        ("A", "2024-01-15 09:00", 20.0),  # A's 1st repeat day (before the cutoff)
        ("A", "2024-03-10 23:00", 30.0),  # ON the as_of day: counts (2nd repeat day)
        ("A", "2024-03-11 00:00", 99.0),  # the day after as_of: ignored
        ("B", "2024-02-01 12:00", 40.0),  # B's only purchase (before the cutoff)
        ("C", "2024-03-11 08:00", 50.0),  # after the cutoff only: C is absent
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "order_date", "amount"])
    frame["order_date"] = pd.to_datetime(frame["order_date"])
    return frame


def test_rfm_summary_hand_made():
    summary = rfm_summary(_orders(), AS_OF)
    assert list(summary.index) == ["A", "B"]
    assert summary.index.name == "customer_id"
    a, b = summary.loc["A"], summary.loc["B"]
    assert a["frequency"] == 2  # repeat days 2024-01-15 and 2024-03-10
    assert a["recency"] == pytest.approx(69 / 7)  # 2024-01-01 -> 2024-03-10
    assert a["T"] == pytest.approx(69 / 7)
    assert a["monetary_value"] == pytest.approx(25.0)  # mean of 20 and 30; first day excluded
    assert a["n_orders"] == 4
    assert a["first_purchase"] == pd.Timestamp("2024-01-01")
    assert b["frequency"] == 0
    assert b["recency"] == 0
    assert b["T"] == pytest.approx(38 / 7)  # 2024-02-01 -> 2024-03-10
    assert b["monetary_value"] == 0
    assert b["n_orders"] == 1


def test_rfm_summary_cutoff_boundary():
    orders = _orders()
    day_before = rfm_summary(orders, "2024-03-09")
    assert day_before.loc["A", "frequency"] == 1  # the 2024-03-10 order is not seen yet
    assert day_before.loc["A", "monetary_value"] == pytest.approx(20.0)
    day_after = rfm_summary(orders, "2024-03-11")
    assert day_after.loc["A", "frequency"] == 3  # 2024-03-11 00:00 is on the new as_of day
    assert "C" in day_after.index


def test_rfm_summary_units_and_value_column():
    orders = _orders().assign(margin=lambda f: f["amount"] / 10)
    daily = rfm_summary(orders, AS_OF, time_unit_days=1.0, value_col="margin")
    assert daily.loc["A", "recency"] == 69
    assert daily.loc["A", "monetary_value"] == pytest.approx(2.5)


def test_rfm_summary_ignores_future_orders():
    orders = _orders()
    future = pd.DataFrame(
        {
            "customer_id": ["A", "B", "D"],
            "order_date": pd.to_datetime(["2024-03-11", "2025-01-01", "2024-04-01"]),
            "amount": [1000.0, 1000.0, 1000.0],
        }
    )
    pd.testing.assert_frame_equal(
        rfm_summary(orders, AS_OF),
        rfm_summary(pd.concat([orders, future], ignore_index=True), AS_OF),
    )


def test_rfm_summary_ignores_row_order():
    orders = _orders()
    shuffled = orders.sample(frac=1.0, random_state=7).reset_index(drop=True)
    pd.testing.assert_frame_equal(rfm_summary(orders, AS_OF), rfm_summary(shuffled, AS_OF))


def test_rfm_summary_first_dates_adds_silent_customers():
    signups = pd.Series(
        pd.to_datetime(["2023-12-20", "2024-01-31", "2024-03-03", "2024-03-11"]),
        index=["A", "B", "E", "F"],
    )
    summary = rfm_summary(_orders(), AS_OF, first_dates=signups)
    assert list(summary.index) == ["A", "B", "E"]  # F signs up after the cutoff
    e = summary.loc["E"]
    assert (e["frequency"], e["recency"], e["n_orders"]) == (0, 0, 0)
    assert e["T"] == pytest.approx(1.0)  # 2024-03-03 -> 2024-03-10
    assert pd.isna(e["first_purchase"])
    # Customers with orders still count from their first purchase, not from signup.
    assert summary.loc["A", "T"] == pytest.approx(69 / 7)


def test_rfm_summary_leaves_refunds_out():
    """A refund (negative amount) is not a purchase day; a zero-amount order is one."""
    orders = _orders()
    extra = pd.DataFrame(
        {
            "customer_id": ["B", "B"],
            "order_date": pd.to_datetime(["2024-02-20 10:00", "2024-03-01 10:00"]),
            "amount": [-40.0, 0.0],
        }
    )
    summary = rfm_summary(pd.concat([orders, extra], ignore_index=True), AS_OF)
    b = summary.loc["B"]
    assert b["frequency"] == 1  # 2024-03-01 (zero amount) repeats; the refund day does not
    assert b["recency"] == pytest.approx(29 / 7)  # 2024-02-01 -> 2024-03-01
    assert b["monetary_value"] == 0.0
    assert b["n_orders"] == 2


def test_rfm_summary_empty_and_missing_column():
    empty = rfm_summary(_orders(), "2023-01-01")
    assert empty.empty and list(empty.columns)[:4] == [
        "frequency",
        "recency",
        "T",
        "monetary_value",
    ]
    with pytest.raises(ValueError, match="amount"):
        rfm_summary(_orders().drop(columns="amount"), AS_OF)


# ---------------------------------------------------------------------------------------------
# Errors and degenerate data
# ---------------------------------------------------------------------------------------------


def test_models_refuse_to_predict_before_fit():
    with pytest.raises(NotFittedError, match="fit"):
        BetaGeoModel().probability_alive([1], [1.0], [2.0])
    with pytest.raises(NotFittedError, match="fit"):
        GammaGammaModel().expected_average_value([1], [10.0])


def test_bgnbd_rejects_invalid_inputs():
    with pytest.raises(ValueError, match="repeat purchase"):
        BetaGeoModel().fit([0, 0], [0.0, 0.0], [3.0, 4.0])
    with pytest.raises(ValueError, match="recency"):
        BetaGeoModel().fit([1, 2], [5.0, 1.0], [3.0, 4.0])
    with pytest.raises(ValueError, match="NaN"):
        BetaGeoModel().fit([1, 2], [np.nan, 1.0], [3.0, 4.0])


def test_gamma_gamma_needs_positive_repeat_values():
    with pytest.raises(ValueError, match="at least two"):
        GammaGammaModel().fit([1, 2, 0], [0.0, -5.0, 10.0])


def _repeaters(n: int = 60, seed: int = 0) -> pd.DataFrame:
    """Orders of ``n`` customers with a few purchase days each in 2023, positive values."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        start = pd.Timestamp("2023-01-01") + pd.Timedelta(days=int(rng.integers(0, 60)))
        for k in range(int(rng.integers(1, 6))):
            day = start + pd.Timedelta(days=int(k * rng.integers(10, 40)))
            rows.append((f"c{i:03d}", day, float(rng.gamma(4.0, 10.0))))
    return pd.DataFrame(rows, columns=["customer_id", "order_date", "amount"])


def test_bgnbd_gg_value_without_repeat_customers():
    orders = _repeaters().drop_duplicates("customer_id")
    with pytest.warns(RuntimeWarning) as record:
        value = bgnbd_gg_value(orders, "2023-12-31", horizon_days=365)
    messages = " | ".join(str(w.message) for w in record)
    assert "no repeat purchase" in messages and "Gamma-Gamma not used" in messages
    assert (value["expected_purchases"] == 0).all()
    assert (value["p_alive"] == 1).all()
    assert (value["expected_value"] == 0).all()
    assert value["expected_avg_value"].iloc[0] == pytest.approx(orders["amount"].mean())


def test_bgnbd_gg_value_with_all_zero_values():
    orders = _repeaters().assign(amount=0.0)
    with pytest.warns(RuntimeWarning, match="Gamma-Gamma not used"):
        value = bgnbd_gg_value(orders, "2023-12-31", horizon_days=365)
    assert (value["expected_avg_value"] == 0).all()
    assert (value["expected_value"] == 0).all()
    assert (value["expected_purchases"] > 0).all()


def test_bgnbd_gg_value_with_non_positive_values():
    orders = _repeaters(seed=1)
    repeaters = orders.groupby("customer_id").size().loc[lambda s: s > 1].index[:3]
    free = orders["customer_id"].isin(repeaters)
    orders.loc[free, "amount"] = 0.0  # zero-value orders are purchases worth nothing
    with pytest.warns(RuntimeWarning, match="non-positive"):
        value = bgnbd_gg_value(orders, "2023-12-31", horizon_days=365)
    assert value["expected_avg_value"].notna().all()
    gg = value.attrs["gamma_gamma_params"]
    population = gg["p"] * gg["v"] / (gg["q"] - 1)
    np.testing.assert_allclose(value.loc[repeaters, "expected_avg_value"], population)


def test_bgnbd_gg_value_with_no_orders_and_signups():
    orders = _repeaters().iloc[:0]
    signups = pd.Series(pd.to_datetime(["2023-01-01"]), index=["x"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        value = bgnbd_gg_value(orders, "2023-12-31", horizon_days=365, first_dates=signups)
    assert list(value.index) == ["x"]
    assert value.loc["x", "expected_value"] == 0
    assert bgnbd_gg_value(orders, "2023-12-31", horizon_days=365).empty


@pytest.mark.parametrize(
    ("model", "params"),
    [
        (BetaGeoModel, [0.24, 4.4, 0.79, 2.4]),
        (BetaGeoModel, [3.0, 0.5, 10.0, 0.3]),
        (GammaGammaModel, [6.0, 3.9, 15.4]),
        (GammaGammaModel, [0.5, 10.0, 2.0]),
    ],
)
def test_likelihood_gradient_matches_finite_differences(model, params):
    rng = np.random.default_rng(0)
    n = 500
    if model is BetaGeoModel:
        age = rng.integers(1, 400, n).astype(float)
        x = rng.poisson(2, n).astype(float)
        data = (x, np.where(x > 0, np.floor(rng.random(n) * age), 0.0), age)
    else:
        data = (rng.integers(1, 8, n).astype(float), rng.gamma(2.0, 20.0, n))
    theta = np.asarray(params)
    analytic = model._log_likelihood_gradient(theta, *data).sum(axis=0)
    for j in range(theta.size):
        step = np.zeros_like(theta)
        step[j] = 1e-6 * theta[j]
        up = model._log_likelihood(theta + step, *data).sum()
        down = model._log_likelihood(theta - step, *data).sum()
        numeric = (up - down) / (2 * step[j])
        assert numeric == pytest.approx(analytic[j], rel=1e-5, abs=1e-6)


def test_bgnbd_fit_weighs_repeated_customers_like_the_full_list(calibration):
    once = BetaGeoModel().fit(calibration["frequency"], calibration["recency"], calibration["T"])
    twice = BetaGeoModel().fit(
        *(np.tile(calibration[c].to_numpy(), 2) for c in ("frequency", "recency", "T"))
    )
    for name, value in once.params_.items():
        assert twice.params_[name] == pytest.approx(value, rel=1e-5)
    assert twice.log_likelihood_ == pytest.approx(2 * once.log_likelihood_, rel=1e-9)

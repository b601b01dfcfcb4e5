"""BG/NBD + Gamma-Gamma CLV: parameter recovery on simulated data, closed forms checked against
formulas evaluated independently here, conditional expectations against simulation."""

import math

import numpy as np
import pandas as pd
import pytest

from modeling.clv import (
    BgNbdParams,
    GammaGammaParams,
    clv,
    expected_order_value,
    expected_purchases,
    fit_bgnbd,
    fit_gamma_gamma,
    p_alive,
    score_customers,
)

TRUE_BG = BgNbdParams(r=0.25, alpha=4.0, a=0.8, b=2.5)  # alpha per week
TRUE_GG = GammaGammaParams(p=6.0, q=4.0, v=15.0)


def simulate_bgnbd(rng, params, T, horizon=0.0):
    """The BG/NBD story, customer by customer: λ ~ Gamma(r, rate α), p ~ Beta(a, b); purchases
    arrive as a Poisson process with rate λ; after each repeat purchase the customer drops out
    with probability p. The first purchase is at 0. Returns x and t_x observed in (0, T], the
    purchases in (T, T + horizon], and whether the customer was still active at T."""
    n = T.size
    lam = np.maximum(rng.gamma(params.r, 1.0 / params.alpha, n), 1e-12)
    p = rng.beta(params.a, params.b, n)
    x, tx, future = np.zeros(n), np.zeros(n), np.zeros(n)
    alive = np.ones(n, dtype=bool)
    clock = np.zeros(n)
    live = np.arange(n)
    while live.size:
        clock[live] += rng.exponential(1.0 / lam[live])
        live = live[clock[live] <= T[live] + horizon]
        observed = clock[live] <= T[live]
        x[live[observed]] += 1
        tx[live[observed]] = clock[live[observed]]
        future[live[~observed]] += 1
        drops = rng.random(live.size) < p[live]
        alive[live[drops & observed]] = False
        live = live[~drops]
    return x, tx, future, alive


def simulate_gamma_gamma(rng, params, x):
    """ν ~ Gamma(q, rate v) per customer; each order ~ Gamma(p, rate ν); returns the mean of x
    orders (the sum of x such orders is Gamma(p x, rate ν))."""
    nu = rng.gamma(params.q, 1.0 / params.v, x.size)
    return rng.gamma(params.p * x, 1.0 / nu) / x


def assert_close(fitted, truth, rel, names):
    for name in names:
        got, want = getattr(fitted, name), getattr(truth, name)
        assert abs(got / want - 1) < rel, f"{name}: fitted {got:.4f}, true {want:.4f}"


# --------------------------------------------------------------------------------------------
# Fitting
# --------------------------------------------------------------------------------------------


def test_bgnbd_recovers_simulated_parameters():
    rng = np.random.default_rng(7)
    T = rng.uniform(13, 104, 40_000)  # weeks since the first purchase
    x, tx, _, _ = simulate_bgnbd(rng, TRUE_BG, T)
    fitted = fit_bgnbd(x, tx, T)
    # Observed with this seed: r 0.2505, alpha 4.10, a 0.811, b 2.55.
    assert_close(fitted, TRUE_BG, 0.20, ["r", "alpha", "a", "b"])
    info = fitted.fit_info
    assert info["converged"] and not info["at_bound"]
    assert info["n_customers"] == 40_000 and info["n_unique_rows"] <= 40_000
    assert info["log_likelihood"] < 0


def test_bgnbd_weights_are_row_counts():
    rng = np.random.default_rng(3)
    T = rng.integers(1, 60, 3_000).astype(float)
    x, tx, _, _ = simulate_bgnbd(rng, TRUE_BG, T)
    tx = np.floor(tx)  # whole weeks, so many rows repeat
    rows = pd.DataFrame({"x": x, "tx": tx, "T": T}).value_counts().reset_index()
    expanded = fit_bgnbd(x, tx, T)
    weighted = fit_bgnbd(rows["x"], rows["tx"], rows["T"], weights=rows["count"])
    for name in ["r", "alpha", "a", "b"]:
        assert getattr(weighted, name) == pytest.approx(getattr(expanded, name), rel=1e-5)
    assert weighted.fit_info["log_likelihood"] == pytest.approx(
        expanded.fit_info["log_likelihood"], rel=1e-9
    )


def test_penalizer_shrinks_towards_one():
    rng = np.random.default_rng(5)
    T = rng.uniform(13, 104, 5_000)
    x, tx, _, _ = simulate_bgnbd(rng, TRUE_BG, T)
    free = fit_bgnbd(x, tx, T)
    shrunk = fit_bgnbd(x, tx, T, penalizer=0.1)

    def log_norm(p):
        return sum(math.log(v) ** 2 for v in (p.r, p.alpha, p.a, p.b))

    assert log_norm(shrunk) < log_norm(free)
    assert shrunk.fit_info["log_likelihood"] < free.fit_info["log_likelihood"]


def test_gamma_gamma_recovers_simulated_parameters():
    rng = np.random.default_rng(11)
    x = 1 + rng.poisson(2, 30_000)
    m = simulate_gamma_gamma(rng, TRUE_GG, x)
    # Customers without repeat orders or with a missing value are ignored by the fit.
    fitted = fit_gamma_gamma(np.r_[x, 0, 0, 3], np.r_[m, 0.0, np.nan, np.nan])
    # Observed with this seed: p 5.81, q 4.04, v 15.6 (population mean 29.85 vs 30).
    assert_close(fitted, TRUE_GG, 0.20, ["p", "q", "v"])
    assert fitted.population_mean == pytest.approx(TRUE_GG.population_mean, rel=0.03)
    assert fitted.fit_info["converged"] and fitted.fit_info["n_customers"] == 30_000


# --------------------------------------------------------------------------------------------
# P(alive) and expected purchases
# --------------------------------------------------------------------------------------------

# CDNOW-sized parameters (weeks).
PARAMS = BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)


def test_p_alive_is_one_without_repeat_purchases():
    assert p_alive(PARAMS, 0, 0, 0) == 1.0
    assert np.all(p_alive(PARAMS, [0, 0, 0], [0, 0, 0], [1.0, 52.0, 500.0]) == 1.0)


def test_p_alive_matches_hand_computation():
    r, alpha, a, b = PARAMS.r, PARAMS.alpha, PARAMS.a, PARAMS.b
    x, t_x, T = 2, 30.43, 38.86
    # 1 / (1 + a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x)), step by step
    odds = a / (b + x - 1) * math.exp((r + x) * (math.log(alpha + T) - math.log(alpha + t_x)))
    want = 1.0 / (1.0 + odds)
    assert p_alive(PARAMS, x, t_x, T) == pytest.approx(want, rel=1e-12)
    assert 0.5 < want < 0.9


def test_p_alive_falls_as_the_customer_stays_silent():
    T = np.array([10.0, 20.0, 40.0, 80.0, 160.0])
    values = p_alive(PARAMS, np.full(5, 3.0), np.full(5, 9.0), T)
    assert np.all(np.diff(values) < 0)
    assert np.all((values > 0) & (values <= 1))
    # A recent purchase raises it.
    assert p_alive(PARAMS, 3, 70, 80) > p_alive(PARAMS, 3, 20, 80)


def hyp2f1_series(a, b, c, z, terms=2000):
    total, term = 1.0, 1.0
    for n in range(terms):
        term *= (a + n) * (b + n) / ((c + n) * (n + 1)) * z
        total += term
        if abs(term) < 1e-17 * abs(total):
            break
    return total


def test_expected_purchases_of_a_new_customer_is_the_unconditional_mean():
    r, alpha, a, b = PARAMS.r, PARAMS.alpha, PARAMS.a, PARAMS.b
    for t in [1.0, 10.0, 30.0]:
        # FHL (2005): E[X(t)] = (a+b-1)/(a-1) [1 - (α/(α+t))^r 2F1(r, b; a+b-1; t/(α+t))]
        z = t / (alpha + t)
        want = (
            (a + b - 1)
            / (a - 1)
            * (1 - (alpha / (alpha + t)) ** r * hyp2f1_series(r, b, a + b - 1, z))
        )
        assert expected_purchases(PARAMS, t, 0, 0, 0) == pytest.approx(want, rel=1e-9)


def test_expected_purchases_vanishes_as_the_horizon_shrinks():
    assert expected_purchases(PARAMS, 0.0, 4, 20, 30) == 0.0
    # For a new customer the rate at t = 0 is E[λ] = r/α.
    small = expected_purchases(PARAMS, 1e-6, 0, 0, 0)
    assert small == pytest.approx(PARAMS.r / PARAMS.alpha * 1e-6, rel=1e-4)
    ts = np.array([0.0, 1.0, 4.0, 13.0, 52.0, 520.0])
    values = expected_purchases(PARAMS, ts, 5, 40, 52)
    assert values.shape == (6,) and np.all(np.diff(values) > 0)


def test_conditional_expectations_match_simulation():
    """Averages of P(alive) and of E[purchases in (T, T+t] | x, t_x, T] over groups selected on
    the observed (x, t_x, T) equal the simulated share alive and mean future purchases."""
    rng = np.random.default_rng(2024)
    T = rng.uniform(20, 80, 150_000)
    horizon = 26.0
    x, tx, future, alive = simulate_bgnbd(rng, PARAMS, T, horizon)
    predicted = expected_purchases(PARAMS, horizon, x, tx, T)
    alive_prob = p_alive(PARAMS, x, tx, T)
    groups = {
        "x = 0": x == 0,
        "x = 1-2": (x >= 1) & (x <= 2),
        "x >= 3, recent": (x >= 3) & (T - tx < 8),
        "x >= 3, silent": (x >= 3) & (T - tx >= 8),
    }
    for name, sel in groups.items():
        diff = future[sel] - predicted[sel]
        z = diff.mean() / (diff.std() / math.sqrt(sel.sum()))
        assert abs(z) < 4, (
            f"{name}: simulated {future[sel].mean():.4f}, model {predicted[sel].mean():.4f}"
        )
        assert future[sel].mean() == pytest.approx(predicted[sel].mean(), rel=0.08)
        if name != "x = 0":
            share = alive[sel].mean()
            assert share == pytest.approx(alive_prob[sel].mean(), abs=0.02), name


def test_expected_purchases_is_finite_for_extreme_inputs():
    x = np.array([0, 1, 50, 500, 5000, 1, 0], dtype=float)
    T = np.array([0, 0, 100, 700, 3650, 3650, 3650], dtype=float)
    tx = np.array([0, 0, 99, 690, 3649, 1, 0], dtype=float)
    for params in [
        PARAMS,
        BgNbdParams(0.05, 0.01, 0.1, 0.05),
        BgNbdParams(20.0, 300.0, 30.0, 1e4),
        BgNbdParams(0.3, 5.0, 1.0, 3.0),  # a = 1: the closed form is 0/0 there
        BgNbdParams(2.0, 1.0, 3e-6, 5e5),  # what a fit with no dropout evidence produces
    ]:
        for t in [0.5, 52.0, 5200.0]:
            values = expected_purchases(params, t, x, tx, T)
            assert np.all(np.isfinite(values)) and np.all(values >= 0), params
            # Never more than the expected purchases at the posterior mean rate with no dropout.
            bound = (params.r + x) / (params.alpha + T) * t
            assert np.all(values <= bound * (1 + 1e-9)), params


def test_expected_purchases_is_continuous_through_a_equal_one():
    around = [BgNbdParams(0.3, 5.0, a, 3.0) for a in (1 - 1e-3, 1.0, 1 + 1e-3)]
    lo, mid, hi = (expected_purchases(p, 52.0, [0, 4], [0, 30], [10, 40]) for p in around)
    np.testing.assert_allclose(mid, (lo + hi) / 2, rtol=1e-5)


# --------------------------------------------------------------------------------------------
# Order value and CLV
# --------------------------------------------------------------------------------------------


def test_expected_order_value_shrinks_towards_the_population_mean():
    gg = GammaGammaParams(p=6.25, q=3.74, v=15.44)
    population = 6.25 * 15.44 / (3.74 - 1)
    assert gg.population_mean == pytest.approx(population)
    assert expected_order_value(gg, 0, 0.0) == pytest.approx(population)
    assert expected_order_value(gg, 0, np.nan) == pytest.approx(population)
    # p (v + m x) / (p x + q - 1), between the population mean and the customer's own mean
    values = expected_order_value(gg, [1, 5, 50, 5000], [100.0] * 4)
    assert values[0] == pytest.approx(6.25 * (15.44 + 100) / (6.25 + 2.74))
    assert np.all(np.diff(values) > 0) and np.all(values > population) and values[-1] < 100
    assert values[-1] == pytest.approx(100, rel=1e-3)


def test_clv_is_the_discounted_sum_of_monthly_margins():
    gg = GammaGammaParams(p=6.25, q=3.74, v=15.44)
    x, tx, T, m = 3, 20.0, 40.0, 60.0
    month = 30.4375 / 7
    cumulative = [expected_purchases(PARAMS, k * month, x, tx, T) for k in range(13)]
    want = (
        sum((cumulative[k] - cumulative[k - 1]) / 1.01**k for k in range(1, 13))
        * expected_order_value(gg, x, m)
        * 0.3
    )
    got = clv(PARAMS, gg, x, tx, T, m, 0.3, months=12, monthly_discount_rate=0.01, time_unit_days=7)
    assert got == pytest.approx(want, rel=1e-9)


def test_clv_scales_with_margin_and_falls_with_discounting():
    gg = GammaGammaParams(p=6.25, q=3.74, v=15.44)
    x, tx, T = np.array([0, 2, 7.0]), np.array([0, 10, 35.0]), np.array([5, 30, 40.0])
    m = np.array([0, 45.0, 30.0])
    base = clv(PARAMS, gg, x, tx, T, m, 0.2, time_unit_days=7)
    assert np.all(base > 0)
    np.testing.assert_allclose(clv(PARAMS, gg, x, tx, T, m, 0.4, time_unit_days=7), 2 * base)
    np.testing.assert_array_equal(clv(PARAMS, gg, x, tx, T, m, 0.0, time_unit_days=7), 0.0)
    cheaper = clv(PARAMS, gg, x, tx, T, m, 0.2, monthly_discount_rate=0.03, time_unit_days=7)
    assert np.all(cheaper < base)
    undiscounted = clv(PARAMS, gg, x, tx, T, m, 0.2, monthly_discount_rate=0.0, time_unit_days=7)
    assert np.all(undiscounted > base)
    # A longer horizon adds value; no horizon, none.
    assert np.all(clv(PARAMS, gg, x, tx, T, m, 0.2, months=24, time_unit_days=7) > base)
    np.testing.assert_array_equal(clv(PARAMS, gg, x, tx, T, m, 0.2, months=0), 0.0)


# --------------------------------------------------------------------------------------------
# score_customers
# --------------------------------------------------------------------------------------------

SCORE_COLUMNS = [
    "customer_id",
    "p_alive",
    "expected_purchases_90d",
    "expected_purchases_365d",
    "expected_order_value",
    "predicted_clv_12m",
]


def small_frame():
    return pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(10)],
            "frequency": [0, 0, 1, 3, 0, 5, 2, 0, 1, 10],
            "recency_days": [0, 0, 20, 100, 0, 300, 50, 0, 0, 360],
            "tenure_days": [0, 30, 60, 200, 365, 400, 90, 5, 0, 365],  # two with tenure 0
            "monetary_value": [None, 0, 25.0, 40.0, None, 30.0, 55.0, 0, 20.0, 35.0],
            "gross_margin_ratio": [0.3, None, 0.4, 0.35, 0.3, None, 0.5, 0.2, 0.3, 0.45],
        }
    )


def test_score_customers_on_a_small_frame():
    scores, info = score_customers(small_frame())
    assert list(scores.columns) == SCORE_COLUMNS
    assert list(scores["customer_id"]) == [f"C{i}" for i in range(10)]
    assert not scores.isna().any().any()
    assert scores["p_alive"].between(0, 1).all()
    numbers = scores.drop(columns="customer_id")
    assert (numbers >= 0).all().all()
    assert (scores["expected_purchases_365d"] >= scores["expected_purchases_90d"]).all()
    # Six repeat buyers are too few for Gamma-Gamma: everyone gets the mean repeat order value.
    gg = info["gamma_gamma"]
    assert gg["fallback"] and "6 repeat buyers" in gg["fallback_reason"]
    mean_value = (25 + 3 * 40 + 5 * 30 + 2 * 55 + 20 + 10 * 35) / (1 + 3 + 5 + 2 + 1 + 10)
    assert gg["mean_repeat_order_value"] == pytest.approx(mean_value)
    assert np.allclose(scores["expected_order_value"], mean_value)
    assert info["gross_margin_ratio"] == {"median": pytest.approx(0.325), "n_imputed": 2}
    assert info["bgnbd"]["n_customers"] == 10 and "log_likelihood" in info["bgnbd"]
    assert info["bgnbd"]["n_unique_rows"] == 10 and isinstance(info["bgnbd"]["converged"], bool)
    assert any("repeat buyers" in w for w in info["warnings"])


def test_score_customers_with_enough_repeat_buyers():
    rng = np.random.default_rng(99)
    n = 4_000
    tenure = rng.integers(0, 730, n).astype(float)
    x, tx, _, _ = simulate_bgnbd(rng, BgNbdParams(0.25, 28.0, 0.8, 2.5), tenure)  # days
    m = np.where(x > 0, simulate_gamma_gamma(rng, TRUE_GG, np.maximum(x, 1)), np.nan)
    frame = pd.DataFrame(
        {
            "customer_id": np.arange(n),
            "frequency": x,
            "recency_days": np.floor(tx),
            "tenure_days": tenure,
            "monetary_value": m,
            "gross_margin_ratio": rng.uniform(0.2, 0.6, n),
        }
    )
    scores, info = score_customers(frame, horizon_days=(30, 90, 365), months=6)
    assert list(scores.columns) == [
        "customer_id",
        "p_alive",
        "expected_purchases_30d",
        "expected_purchases_90d",
        "expected_purchases_365d",
        "expected_order_value",
        "predicted_clv_6m",
    ]
    assert len(scores) == n and not scores.isna().any().any()
    assert scores["p_alive"].between(0, 1).all()
    gg = info["gamma_gamma"]
    assert not gg["fallback"] and gg["converged"] and gg["n_repeat_buyers"] == int((x > 0).sum())
    assert {"p", "q", "v", "log_likelihood", "frequency_monetary_corr"} <= gg.keys()
    # Weeks by default: alpha ≈ 28 days / 7.
    assert info["time_unit_days"] == 7.0 and 2.5 < info["bgnbd"]["alpha"] < 6.5
    assert info["bgnbd"]["converged"]
    # Customers with no repeat order get the fitted population mean order value.
    new = scores["expected_order_value"][x == 0]
    assert np.allclose(new, gg["population_mean_order_value"])


def test_score_customers_rejects_bad_input():
    frame = small_frame()
    with pytest.raises(ValueError, match="missing columns"):
        score_customers(frame.drop(columns="tenure_days"))
    bad = frame.copy()
    bad.loc[3, "recency_days"] = 500  # after the as-of date
    with pytest.raises(ValueError, match="recency"):
        score_customers(bad)
    bad = frame.copy()
    bad.loc[0, "frequency"] = -1
    with pytest.raises(ValueError, match="frequency"):
        score_customers(bad)


def test_unknown_costs_leave_clv_null_but_keep_the_purchase_model():
    frame = small_frame().assign(gross_margin_ratio=np.nan)
    scores, info = score_customers(frame)
    assert scores["predicted_clv_12m"].isna().all()
    assert scores["p_alive"].between(0, 1).all()
    assert any("null for every customer" in w for w in info["warnings"])


def test_the_fit_and_the_scoring_keep_blas_on_one_thread(monkeypatch):
    """A second OpenBLAS thread slows the fit and spins on a core DuckDB needs: each step of
    the BG/NBD fit inside score_customers sees one thread, and the caller's setting is back
    after it."""
    from threadpoolctl import threadpool_info, threadpool_limits

    import modeling.clv as clv_module

    def blas_threads() -> set[int]:
        return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}

    seen = []
    original = clv_module._bgnbd_objective

    def objective(*args, **kwargs):
        seen.append(blas_threads())
        return original(*args, **kwargs)

    monkeypatch.setattr(clv_module, "_bgnbd_objective", objective)
    with threadpool_limits(limits=2, user_api="blas"):
        if blas_threads() != {2}:
            pytest.skip("no BLAS library that threadpoolctl can set to two threads")
        score_customers(small_frame())
        assert blas_threads() == {2}
    assert seen and all(threads == {1} for threads in seen)

"""Downsampling and AME against their expectations on analytic games.

* ``downsampling``: on an additive game the expected value is
  ``c_i - Σ_{j≠i} c_j / (n - 1)`` exactly; on a non-additive game the expectation of
  eq. (10) by enumerating the subsets; the estimates converge to them within their
  standard errors, and equal the documented recipe recomputed by hand.
* ``ame``: recovers the coefficients of an additive utility (every AME is ``c_i``);
  equals the LASSO on the documented design recomputed by hand.
* Both through ``ShapleyValuator``: independent of ``n_jobs`` and ``draws_per_task``,
  flipped labels valued low, parameters checked.
"""

from __future__ import annotations

import warnings
from itertools import combinations

import joblib
import numpy as np
import pytest
import threadpoolctl
from sklearn.datasets import make_classification
from sklearn.linear_model import LassoCV, LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import InvalidParameterError

from skinfluence import ShapleyValuator
from skinfluence.valuation import (
    AME_PROBABILITIES,
    ModelUtility,
    ame_values,
    downsampling_values,
    subset_rows,
)


@pytest.fixture(autouse=True)
def one_blas_thread():
    with threadpoolctl.threadpool_limits(1):
        yield


def additive(c, c0=0.0):
    c = np.asarray(c, dtype=np.float64)
    return lambda S: float(c0 + c[np.asarray(S, dtype=np.intp)].sum())


def nonlinear(S):
    """A game with interactions: a saturating sum plus a pair bonus."""
    S = set(int(i) for i in S)
    w = np.array([0.5, 1.0, -0.3, 0.8, 0.2, -0.6])
    base = np.tanh(sum(w[i] for i in S))
    return float(base + 0.7 * (0 in S and 3 in S) - 0.4 * (1 in S and 2 in S))


def entropy_of(seed: int) -> int:
    return int(check_random_state(seed).randint(np.iinfo(np.int32).max))


# -- downsampling ------------------------------------------------------------------------------
def test_downsampling_converges_on_an_additive_game():
    rng = np.random.default_rng(0)
    n = 8
    c = rng.normal(size=n)
    want = c - (c.sum() - c) / (n - 1)  # E[u | i in] - E[u | i out], exactly
    coarse = downsampling_values(additive(c, 2.0), n, n_estimators=200, random_state=0)
    fine = downsampling_values(additive(c, 2.0), n, n_estimators=20_000, random_state=0)
    assert np.all(np.abs(fine.values - want) < 4 * fine.stderr)
    assert np.abs(fine.values - want).max() < 0.05
    assert np.abs(fine.values - want).max() < np.abs(coarse.values - want).max()
    assert fine.n_iter == fine.n_evaluations == 20_000 and fine.converged


def test_downsampling_converges_to_eq_10_on_a_nonadditive_game():
    n, frac = 6, 0.7
    m = round(frac * n)  # 4
    want = np.empty(n)
    for i in range(n):
        others = [j for j in range(n) if j != i]
        with_i = [nonlinear(sorted((*D, i))) for D in combinations(others, m - 1)]
        without = [nonlinear(list(D)) for D in combinations(others, m)]
        want[i] = np.mean(with_i) - np.mean(without)
    res = downsampling_values(nonlinear, n, n_estimators=20_000, random_state=1)
    assert np.all(np.abs(res.values - want) < 4 * res.stderr)
    assert np.abs(res.values - want).max() < 0.02


def test_downsampling_is_the_documented_recipe():
    n, K, seed = 9, 60, 3
    u = additive(np.arange(n) - 4.0)
    res = downsampling_values(u, n, n_estimators=K, subset_fraction=0.5, random_state=seed)
    m = round(0.5 * n)
    entropy = entropy_of(seed)
    masks = np.zeros((K, n), dtype=bool)
    us = np.empty(K)
    for k in range(K):
        rng = np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(k,)))
        rows = np.sort(rng.choice(n, size=m, replace=False))
        np.testing.assert_array_equal(rows, subset_rows("downsampling", entropy, k, n, m)[0])
        masks[k, rows] = True
        us[k] = u(rows)
    assert np.all(masks.sum(1) == m)
    want = np.array([us[masks[:, i]].mean() - us[~masks[:, i]].mean() for i in range(n)])
    np.testing.assert_allclose(res.values, want, rtol=1e-12)
    se = [
        np.sqrt(us[masks[:, i]].var(ddof=1) / masks[:, i].sum()
                + us[~masks[:, i]].var(ddof=1) / (~masks[:, i]).sum())
        for i in range(n)
    ]  # fmt: skip
    np.testing.assert_allclose(res.stderr, se, rtol=1e-8)
    # independent of the task size and of the workers
    for kw in ({"draws_per_task": 7}, {"draws_per_task": 1, "n_jobs": 2}):
        with joblib.parallel_config(backend="threading"):
            other = downsampling_values(
                u, n, n_estimators=K, subset_fraction=0.5, random_state=seed, **kw
            )
        np.testing.assert_allclose(other.values, res.values, rtol=1e-12)


def test_downsampling_rows_in_every_subset_or_none_are_nan():
    with pytest.warns(UserWarning, match="in every one or in none"):
        res = downsampling_values(additive(np.ones(10)), 10, n_estimators=3, random_state=0)
    assert np.isnan(res.values).any() and np.isfinite(res.values).any()


def test_downsampling_bad_input():
    u = additive(np.ones(4))
    for kw, match in (
        ({"n_estimators": 1}, "n_estimators"),
        ({"subset_fraction": 1.0}, "subset_fraction"),
        ({"subset_fraction": 0.0}, "subset_fraction"),
        ({"draws_per_task": 0}, "draws_per_task"),
    ):
        with pytest.raises(ValueError, match=match):
            downsampling_values(u, 4, **kw)
    with pytest.raises(ValueError, match="at least 2 rows"):
        downsampling_values(u, 1)


# -- AME -----------------------------------------------------------------------------------------
def test_ame_recovers_an_additive_utility():
    rng = np.random.default_rng(2)
    n = 12
    c = rng.normal(size=n)
    c[[2, 5, 7]] = 0.0  # some rows without effect
    res = ame_values(additive(c, 1.0), n, n_estimators=1500, random_state=0)
    assert np.abs(res.values - c).max() < 0.1
    assert np.abs(res.values[[2, 5, 7]]).max() < 0.05
    assert np.isnan(res.stderr).all() and res.n_iter == 1500


def test_ame_is_the_documented_lasso():
    n, K, seed = 7, 80, 4
    u = additive(np.linspace(-1, 1, n))
    res = ame_values(u, n, n_estimators=K, random_state=seed)
    entropy = entropy_of(seed)
    design = np.empty((K, n))
    us = np.empty(K)
    for k in range(K):
        rng = np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(k,)))
        p = float(rng.choice(AME_PROBABILITIES))
        inside = rng.random(n) < p
        design[k] = np.where(inside, 1.0 / p, -1.0 / (1.0 - p))
        us[k] = u(np.flatnonzero(inside))
    probs = np.array(AME_PROBABILITIES)
    lasso = LassoCV(cv=5, random_state=entropy, max_iter=10_000).fit(design, us)
    np.testing.assert_allclose(res.values, np.mean(1 / (probs * (1 - probs))) * lasso.coef_)
    with joblib.parallel_config(backend="threading"):
        other = ame_values(u, n, n_estimators=K, random_state=seed, draws_per_task=3, n_jobs=2)
    np.testing.assert_allclose(other.values, res.values, rtol=1e-10, atol=1e-14)


def test_ame_marginal_effect_of_a_nonadditive_game():
    """AME_i = E_p E_S[u(S ∪ i) - u(S)] by enumeration, against a large sample."""
    n = 6
    probs = np.array(AME_PROBABILITIES)
    want = np.zeros(n)
    for i in range(n):
        others = [j for j in range(n) if j != i]
        for p in probs:
            for k in range(n):
                for S in combinations(others, k):
                    weight = p**k * (1 - p) ** (n - 1 - k) / len(probs)
                    want[i] += weight * (nonlinear(sorted((*S, i))) - nonlinear(list(S)))
    res = ame_values(nonlinear, n, n_estimators=20_000, random_state=0)
    assert np.abs(res.values - want).max() < 0.03


def test_ame_bad_input():
    with pytest.raises(ValueError, match="n_estimators >= 5"):
        ame_values(additive(np.ones(3)), 3, n_estimators=4)
    with pytest.raises(ValueError, match="n_estimators >= 2"):
        ame_values(additive(np.ones(3)), 3, n_estimators=1)


# -- through ShapleyValuator -------------------------------------------------------------------
@pytest.fixture(scope="module")
def noisy():
    X, y = make_classification(n_samples=200, n_features=5, n_informative=3, random_state=0)
    X = StandardScaler().fit_transform(X)
    rng = np.random.default_rng(0)
    flipped = rng.choice(150, size=15, replace=False)
    y_noisy = y.copy()
    y_noisy[flipped] = 1 - y_noisy[flipped]
    return X[:150], y_noisy[:150], X[150:], y[150:], flipped


@pytest.mark.parametrize("method", ["downsampling", "ame"])
def test_valuator_finds_flipped_labels(noisy, method):
    X, y, Xv, yv, flipped = noisy
    est = ShapleyValuator(
        LogisticRegression(), method=method, n_estimators=600, budget=15, random_state=0,
    ).fit(X, y, X_val=Xv, y_val=yv)  # fmt: skip
    assert est.n_iter_ == est.n_evaluations_ == 600 and est.converged_
    clean = np.setdiff1d(np.arange(len(y)), flipped)
    assert est.values_[flipped].mean() < est.values_[clean].mean()
    assert len(np.intersect1d(est.trimmed_indices_, flipped)) >= 4  # random: 1.5
    if method == "ame":
        assert np.isnan(est.values_stderr_).all()
    else:
        assert np.isfinite(est.values_stderr_).all()


@pytest.mark.parametrize("method", ["downsampling", "ame"])
def test_valuator_is_the_engine_for_any_n_jobs(noisy, method):
    X, y, Xv, yv, _ = noisy
    kw = {"subset_fraction": 0.5} if method == "downsampling" else {}
    est = ShapleyValuator(
        LogisticRegression(), method=method, n_estimators=20, random_state=0, **kw
    ).fit(X, y, X_val=Xv, y_val=yv)
    engine = downsampling_values if method == "downsampling" else ame_values
    utility = ModelUtility(LogisticRegression(), X, y, Xv, yv)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        direct = engine(utility, len(y), n_estimators=20, random_state=0, **kw)
    np.testing.assert_allclose(est.values_, direct.values, rtol=1e-10, atol=1e-14)
    with joblib.parallel_config(backend="threading"):
        par = ShapleyValuator(
            LogisticRegression(), method=method, n_estimators=20, random_state=0, n_jobs=2,
            draws_per_task=3, **kw,
        ).fit(X, y, X_val=Xv, y_val=yv)  # fmt: skip
    np.testing.assert_allclose(par.values_, est.values_, rtol=1e-10, atol=1e-14)


def test_valuator_parameters(noisy):
    X, y, _, _, _ = noisy
    for bad in (0.0, 1.0, 1.5):
        with pytest.raises(InvalidParameterError):
            ShapleyValuator(method="downsampling", subset_fraction=bad).fit(X, y)
    with pytest.raises(InvalidParameterError):
        ShapleyValuator(method="ame", n_estimators=1).fit(X, y)

"""ShapleyValuator and the valuation engine: oracles, axioms, parallel determinism, contract."""

import ast
import subprocess
import sys
import time
import warnings
from itertools import combinations
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import threadpoolctl
from scipy.special import beta as beta_fn
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, make_classification
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skinfluence
from skinfluence import ShapleyValuator, UnsupportedModelError
from skinfluence.valuation import (
    EXACT_MAX_N,
    BetaSampler,
    KNNUtility,
    ModelUtility,
    MSRSampler,
    PermutationSampler,
    exact_values,
    gelman_rubin,
    knn_shapley,
    loo_values,
    permutation_importance,
    sampled_values,
    semivalue_weights,
)

VALUATION = Path(skinfluence.__file__).parent / "valuation"


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    # thousands of tiny fits: BLAS threads only spin (joblib's workers limit theirs)
    with threadpoolctl.threadpool_limits(1):
        yield


# -- small games with known values -----------------------------------------------------------
class Unanimity:
    """u(S) = 1 when T ⊆ S: Shapley 1/|T|, Beta(α, β) B(|T|-1+β, α)/B(β, α) on T."""

    def __init__(self, T):
        self.T = np.asarray(T)

    def __call__(self, S):
        return float(np.isin(self.T, S).all())


class Weighted:
    """A sum of unanimity games plus an additive part: values add up (linearity)."""

    def __init__(self, games, coefs, additive):
        self.games, self.coefs, self.additive = games, coefs, np.asarray(additive)

    def __call__(self, S):
        return float(sum(c * g(S) for g, c in zip(self.games, self.coefs)) + self.additive[S].sum())


def unanimity_value(T, n, kind, alpha=1.0, beta=1.0):
    """Closed form: each other member of T is in S with probability t ~ Beta(β, α)."""
    k = len(T) - 1
    if kind == "shapley":
        share = 1.0 / len(T)
    elif kind == "banzhaf":
        share = 0.5**k
    else:
        share = beta_fn(k + beta, alpha) / beta_fn(beta, alpha)
    out = np.zeros(n)
    out[list(T)] = share
    return out


def sampler(method, truncation_tol=0.01):
    """The sampler of a ShapleyValuator method, with its default Beta(16, 1)."""
    if method == "tmc":
        return PermutationSampler(truncation_tol)
    if method == "beta":
        return BetaSampler(16.0, 1.0, truncation_tol)
    return MSRSampler()


def nonlinear_game(n=8, seed=0):
    rng = np.random.default_rng(seed)
    coef = rng.normal(size=n)
    return lambda S: float(np.tanh(coef[S].sum()) + 0.1 * len(S) ** 1.5)


@pytest.mark.parametrize("kind", ["shapley", "banzhaf", "beta"])
def test_exact_on_unanimity_and_additive_games(kind):
    n = 7
    games = [Unanimity([0, 1]), Unanimity([2, 3, 4]), Unanimity([1, 5, 6, 3])]
    coefs = [2.0, -1.5, 0.75]
    additive = np.linspace(-1, 1, n)
    game = Weighted(games, coefs, additive)
    alpha, beta = (16.0, 1.0) if kind == "beta" else (1.0, 1.0)
    expected = additive + sum(
        c * unanimity_value(g.T, n, kind, alpha, beta) for g, c in zip(games, coefs)
    )
    got = exact_values(game, n, kind, beta_params=(alpha, beta)).values
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_exact_on_glove_and_symmetric_games():
    def glove(S):  # one left glove (row 0), two right ones
        return float(min(np.isin(S, [0]).sum(), np.isin(S, [1, 2]).sum()))

    np.testing.assert_allclose(exact_values(glove, 3).values, [2 / 3, 1 / 6, 1 / 6], atol=1e-12)

    def symmetric(S):  # everyone gets (f(n) - f(0)) / n
        return float(len(S) ** 2)

    np.testing.assert_allclose(exact_values(symmetric, 6).values, np.full(6, 6.0), atol=1e-12)
    # Beta(1, 1) is Shapley
    game = nonlinear_game(6)
    np.testing.assert_allclose(
        exact_values(game, 6, "beta", beta_params=(1, 1)).values,
        exact_values(game, 6).values,
        atol=1e-12,
    )


def test_semivalue_weights_are_distributions_over_subsets():
    from scipy.special import comb

    for kind, kw in [("shapley", {}), ("banzhaf", {}), ("beta", {"alpha": 16, "beta": 1})]:
        w = semivalue_weights(9, kind, **kw)
        assert np.isclose(np.sum(comb(8, np.arange(9)) * w), 1.0, atol=1e-12)
        assert np.isclose(permutation_importance(9, kind, **kw).mean(), 1.0, atol=1e-12)


def test_shapley_efficiency():
    game = nonlinear_game(8)
    res = exact_values(game, 8)
    assert abs(res.values.sum() - (game(np.arange(8)) - game(np.arange(0)))) < 1e-12
    # every untruncated permutation telescopes to u(N) - u(∅)
    tmc = sampled_values(game, 8, sampler("tmc", None), max_iter=37, random_state=0)
    assert abs(tmc.values.sum() - (tmc.u_full - tmc.u_empty)) < 1e-12


@pytest.mark.parametrize(
    "method, kind", [("tmc", "shapley"), ("beta", "beta"), ("banzhaf", "banzhaf")]
)
def test_samplers_converge_to_exact_within_stderr(method, kind):
    n = 8
    game = nonlinear_game(n)
    exact = exact_values(game, n, kind).values
    res = sampled_values(
        game,
        n,
        sampler(method, truncation_tol=None),
        tol=0.01,
        max_iter=200_000,
        random_state=0,
    )
    assert res.converged and res.stderr.max() <= 0.01
    z = np.abs(res.values - exact) / res.stderr
    assert z.max() < 4.0, z


@pytest.mark.parametrize("method", ["tmc", "beta", "banzhaf"])
def test_valuator_samplers_converge_to_exact_with_a_model(method):
    X, y = make_classification(n_samples=30, n_features=4, random_state=3)
    Xtr, ytr, Xv, yv = X[:9], y[:9], X[9:], y[9:]
    kind = {"tmc": "shapley", "beta": "beta", "banzhaf": "banzhaf"}[method]
    exact = exact_values(ModelUtility(GaussianNB(), Xtr, ytr, Xv, yv), 9, kind).values
    est = ShapleyValuator(
        GaussianNB(), method=method, tol=0.02, truncation_tol=None, budget=0, random_state=0
    ).fit(Xtr, ytr, X_val=Xv, y_val=yv)
    assert est.converged_
    assert np.all(np.abs(est.values_ - exact) <= 4 * est.values_stderr_ + 1e-12)


def test_exact_valuator_efficiency_and_orientation():
    X, y = make_classification(n_samples=40, n_features=4, random_state=1)
    Xtr, ytr, Xv, yv = X[:10], y[:10], X[10:], y[10:]
    est = ShapleyValuator(GaussianNB(), method="exact", budget=3).fit(Xtr, ytr, X_val=Xv, y_val=yv)
    u = ModelUtility(GaussianNB(), Xtr, ytr, Xv, yv)
    assert abs(est.values_.sum() - (u(np.arange(10)) - u.default_score_)) < 1e-12
    with pytest.warns(FutureWarning, match="scores_ is deprecated.*use values_"):
        np.testing.assert_array_equal(est.scores_, -est.values_)
    np.testing.assert_array_equal(est.values_stderr_, 0.0)
    lowest = np.argsort(est.values_, kind="stable")[:3]
    np.testing.assert_array_equal(est.trimmed_indices_, lowest)
    assert est.converged_ and est.n_iter_ == 1024


def test_exact_refuses_large_n():
    with pytest.raises(ValueError, match="above the limit of 20"):
        exact_values(lambda S: 0.0, EXACT_MAX_N + 1)
    X, y = make_classification(n_samples=40, random_state=0)
    with pytest.raises(ValueError, match="refused above 20 rows; there are 32"):
        ShapleyValuator(method="exact").fit(X, y)


# -- KNN-Shapley -----------------------------------------------------------------------------
@pytest.mark.parametrize("k, n", [(3, 9), (5, 4), (1, 7)])
def test_knn_closed_form_equals_enumeration(k, n):
    rng = np.random.default_rng(k + n)
    X, Xv = rng.normal(size=(n, 3)), rng.normal(size=(6, 3))
    y, yv = rng.integers(0, 3, n), rng.integers(0, 3, 6)
    utility = KNNUtility(X, y, Xv, yv, n_neighbors=k)
    exact = exact_values(utility, n)
    closed = knn_shapley(X, y, Xv, yv, n_neighbors=k)
    np.testing.assert_allclose(closed, exact.values, rtol=0, atol=1e-12)
    assert abs(closed.sum() - utility(np.arange(n))) < 1e-12  # efficiency, u(∅) = 0


def test_knn_chunks_and_jobs_do_not_change_values():
    X, y = make_classification(n_samples=300, n_features=5, random_state=0)
    ref = knn_shapley(X[:200], y[:200], X[200:], y[200:], 7)
    for chunk, jobs in [(13, 1), (100, 2)]:
        got = knn_shapley(X[:200], y[:200], X[200:], y[200:], 7, chunk_size=chunk, n_jobs=jobs)
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-15)


def test_knn_valuator_matches_function_and_manhattan_metric(binary_200x5):
    X, y = binary_200x5
    Xtr, ytr, Xv, yv = X[:150], y[:150], X[150:], y[150:]
    for knn in (KNeighborsClassifier(4), KNeighborsClassifier(4, p=1)):
        est = ShapleyValuator(knn, method="knn", budget=5).fit(Xtr, ytr, X_val=Xv, y_val=yv)
        ref = knn_shapley(Xtr, ytr, Xv, yv, 4, p=knn.p)
        np.testing.assert_allclose(est.values_, ref)
    small = slice(0, 8)
    util = KNNUtility(Xtr[small], ytr[small], Xv, yv, 3, p=1)
    np.testing.assert_allclose(
        knn_shapley(Xtr[small], ytr[small], Xv, yv, 3, p=1), exact_values(util, 8).values
    )


# -- leave-one-out ------------------------------------------------------------------------------
def test_loo_against_refits():
    X, y = make_classification(n_samples=60, n_features=4, random_state=2)
    Xtr, ytr, Xv, yv = X[:20], y[:20], X[20:], y[20:]
    est = ShapleyValuator(LogisticRegression(), method="loo", scoring="neg_log_loss", budget=2)
    est.fit(Xtr, ytr, X_val=Xv, y_val=yv)
    from sklearn.metrics import log_loss

    full = -log_loss(yv, LogisticRegression().fit(Xtr, ytr).predict_proba(Xv))
    for i in (0, 7, 19):
        keep = np.delete(np.arange(20), i)
        without = -log_loss(yv, LogisticRegression().fit(Xtr[keep], ytr[keep]).predict_proba(Xv))
        assert np.isclose(est.values_[i], full - without, rtol=1e-10, atol=1e-12)
    assert loo_values(lambda S: float(np.sum(S)), 4).values.tolist() == [0.0, 1.0, 2.0, 3.0]


# -- the utility --------------------------------------------------------------------------------
def test_model_utility_defaults_cache_and_failures():
    X, y = make_classification(n_samples=100, n_features=4, weights=[0.7], random_state=0)
    Xtr, ytr, Xv, yv = X[:60], y[:60], X[60:], y[60:]
    u = ModelUtility(LogisticRegression(), Xtr, ytr, Xv, yv)
    majority = np.bincount(ytr).argmax()
    assert u.default_score_ == np.mean(yv == majority)  # a feature-blind model's accuracy
    one_class = np.flatnonzero(ytr == 0)[:5]
    assert u(np.array([], dtype=int)) == u.default_score_ == u(one_class)
    auc = ModelUtility(LogisticRegression(), Xtr, ytr, Xv, yv, scoring="roc_auc")
    assert auc.default_score_ == 0.5
    assert ModelUtility(Ridge(), Xtr, ytr, Xv, yv, default_score=-1.0)(np.array([], int)) == -1.0
    # the plain-accuracy shortcut gives the scorer's number
    rows = np.arange(0, 60, 2)
    scored = accuracy_score(yv, LogisticRegression().fit(Xtr[rows], ytr[rows]).predict(Xv))
    assert u(rows) == scored
    assert ModelUtility(LogisticRegression(), Xtr, ytr, Xv, yv, scoring="accuracy")(rows) == scored
    # cache: the second call does not fit
    cached = ModelUtility(LogisticRegression(), Xtr, ytr, Xv, yv, cache=True)
    first = cached(rows)
    cached._model = None
    cached.estimator = None  # a refit would now fail
    assert cached(rows) == first
    # a fit that raises gets the default and is counted
    bad = ModelUtility(KNeighborsClassifier(n_neighbors=10), Xtr, ytr, Xv, yv)
    assert bad(np.arange(4)) == bad.default_score_ and bad.n_failed == 1
    assert "n_neighbors" in bad.first_error


def test_failed_fits_warn():
    X, y = make_classification(n_samples=80, n_features=4, random_state=0)
    est = ShapleyValuator(KNeighborsClassifier(n_neighbors=5), method="banzhaf", max_iter=64)
    with pytest.warns(FitFailedWarning, match="subset fits raised"):
        est.fit(X[:12], y[:12], X_val=X[40:], y_val=y[40:])


# -- stopping rules, budgets and progress ------------------------------------------------------
def test_stopping_rules_and_budgets():
    game = nonlinear_game(8)
    gr = sampled_values(
        game, 8, sampler("tmc", None), stopping="gelman_rubin", tol=0.01, max_iter=50_000
    )
    assert gr.converged and gr.status == "converged"
    from skinfluence.valuation._stopping import SampleMoments

    assert gelman_rubin(SampleMoments(8)).tolist() == [np.inf] * 8
    capped = sampled_values(game, 8, sampler("tmc"), tol=0.0, max_iter=30, random_state=0)
    assert not capped.converged and capped.status == "max_iter" and capped.n_iter == 30
    timed = sampled_values(game, 8, MSRSampler(), tol=0.0, max_iter=10**9, max_time=0.2)
    assert timed.status == "max_time" and not timed.converged and timed.n_iter < 10**9


@pytest.mark.parametrize("method", ["tmc", "banzhaf"])
def test_time_budget_is_kept(method):
    def slow(S):
        time.sleep(0.002)
        return float(len(S))

    start = time.perf_counter()
    res = sampled_values(
        slow, 30, sampler(method), tol=0.0, max_iter=10**7, max_time=0.3, draws_per_task=3
    )
    assert res.status == "max_time" and 0 < res.n_iter < 10**7
    assert time.perf_counter() - start < 5.0  # the deadline also stops the workers


def test_warns_when_truncation_would_cut_every_permutation():
    # accuracy on imbalanced classes: u(N) is within 1 % of u(empty)
    X, y = make_classification(n_samples=300, n_features=4, n_informative=1, n_redundant=0,
                               n_clusters_per_class=1, class_sep=0.1, weights=[0.9],
                               random_state=0)  # fmt: skip
    with pytest.warns(UserWarning, match="cut after a handful of rows"):
        ShapleyValuator(LogisticRegression(), max_iter=2, random_state=0).fit(X, y)


def test_truncation_saves_fits():
    X, y = make_classification(n_samples=150, n_features=4, class_sep=2.0, random_state=0)
    common = dict(max_iter=4, tol=0, budget=0, random_state=0)
    full = ShapleyValuator(GaussianNB(), truncation_tol=None, **common).fit(X, y)
    trunc = ShapleyValuator(GaussianNB(), truncation_tol=0.05, **common).fit(X, y)
    assert full.n_evaluations_ == 4 * (120 - 1) + 1
    assert trunc.n_evaluations_ < full.n_evaluations_ / 2


def test_verbose_progress_with_and_without_tqdm(capsys, monkeypatch):
    X, y = make_classification(n_samples=60, n_features=4, random_state=0)
    est = ShapleyValuator(GaussianNB(), method="banzhaf", max_iter=64, verbose=1)
    est.fit(X, y)
    err = capsys.readouterr()
    assert "[ShapleyValuator] banzhaf" in err.out and "banzhaf values" in err.err
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # import fails: plain lines
    est.fit(X, y)
    assert "[banzhaf values] done: 64/64" in capsys.readouterr().err
    ShapleyValuator(GaussianNB(), method="banzhaf", max_iter=64).fit(X, y)
    assert capsys.readouterr() == ("", "")


# -- determinism and parallel backends ----------------------------------------------------------
@pytest.fixture(scope="module")
def binary():
    X, y = make_classification(n_samples=80, n_features=5, random_state=0)
    return StandardScaler().fit_transform(X), y


@pytest.mark.parametrize("method", ["tmc", "banzhaf"])
def test_deterministic_for_any_n_jobs(binary, method):
    X, y = binary
    kw = dict(method=method, max_iter=6 if method == "tmc" else 128, random_state=7)
    kw["draws_per_task"] = 2 if method == "tmc" else 32  # several batches
    a = ShapleyValuator(LogisticRegression(), n_jobs=1, **kw).fit(X, y)
    b = ShapleyValuator(LogisticRegression(), n_jobs=2, **kw).fit(X, y)
    c = ShapleyValuator(LogisticRegression(), n_jobs=1, **kw).fit(X, y)
    d = ShapleyValuator(LogisticRegression(), n_jobs=1, **{**kw, "random_state": 8}).fit(X, y)
    np.testing.assert_array_equal(a.values_, b.values_)
    np.testing.assert_array_equal(a.values_stderr_, b.values_stderr_)
    np.testing.assert_array_equal(a.values_, c.values_)
    assert a.n_iter_ == b.n_iter_
    assert not np.array_equal(a.values_, d.values_)
    with joblib.parallel_backend("threading", n_jobs=2):
        e = ShapleyValuator(LogisticRegression(), **kw).fit(X, y)
    np.testing.assert_array_equal(a.values_, e.values_)


def test_stopping_point_does_not_depend_on_n_jobs(binary):
    X, y = binary
    kw = dict(method="banzhaf", tol=0.02, max_iter=10_000, random_state=0, draws_per_task=16)
    a = ShapleyValuator(LogisticRegression(), n_jobs=1, **kw).fit(X, y)
    b = ShapleyValuator(LogisticRegression(), n_jobs=2, **kw).fit(X, y)
    assert a.converged_ and a.n_iter_ == b.n_iter_ and a.n_iter_ < 10_000
    np.testing.assert_array_equal(a.values_, b.values_)


def _dask_equals_loky(X, y, processes):
    distributed = pytest.importorskip("distributed")
    kw = dict(method="tmc", max_iter=8, draws_per_task=2, random_state=3)
    loky = ShapleyValuator(LogisticRegression(), n_jobs=2, **kw).fit(X, y)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=processes, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        with joblib.parallel_backend("dask"):
            on_dask = ShapleyValuator(LogisticRegression(), **kw).fit(X, y)
    np.testing.assert_array_equal(on_dask.values_, loky.values_)
    np.testing.assert_array_equal(on_dask.values_stderr_, loky.values_stderr_)
    np.testing.assert_array_equal(on_dask.trimmed_indices_, loky.trimmed_indices_)


def test_dask_backend_equals_loky(binary):
    # a LocalCluster of in-process workers: the joblib-dask path, in about a second
    _dask_equals_loky(*binary, processes=False)


@pytest.mark.slow
def test_dask_worker_processes_equal_loky(binary):
    # worker processes (pickled tasks, fresh interpreters): about 10 s, mostly start-up
    _dask_equals_loky(*binary, processes=True)


# -- the estimator contract (scikit-learn's checks: test_estimator_checks.py) -------------------
def test_fitted_attributes_and_refit(binary):
    X, y = binary
    est = ShapleyValuator(
        LogisticRegression(), method="banzhaf", max_iter=128, budget=6, random_state=0
    ).fit(X, y)
    held_out = np.isnan(est.values_)
    assert held_out.sum() == 16 and np.array_equal(held_out, np.isnan(est.values_stderr_))
    with pytest.warns(FutureWarning, match="scores_ is deprecated.*use values_"):
        np.testing.assert_array_equal(est.scores_, -est.values_)
    trimmed = est.values_[est.trimmed_indices_]
    assert np.all(np.diff(trimmed) >= 0)  # lowest value first
    kept = np.setdiff1d(np.flatnonzero(~held_out), est.trimmed_indices_)
    assert est.values_[kept].min() >= trimmed.max()
    ref = LogisticRegression().fit(X[est.sample_indices_], y[est.sample_indices_])
    np.testing.assert_allclose(est.predict_proba(X), ref.predict_proba(X))
    assert est.score(X, y) == ref.score(X, y)
    assert est.n_iter_ == 128 and est.n_evaluations_ == 129


def test_pipeline_grid_search_and_resample(binary_200x5):
    X, y = binary_200x5
    pipe = make_pipeline(StandardScaler(), ShapleyValuator(KNeighborsClassifier(), method="knn"))
    grid = GridSearchCV(
        pipe,
        {"shapleyvaluator__budget": [0, 10, 30], "shapleyvaluator__estimator__n_neighbors": [3, 7]},
        cv=3,
    ).fit(X, y)
    assert len(grid.cv_results_["params"]) == 6
    assert np.isfinite(grid.cv_results_["mean_test_score"]).all()
    best = grid.best_estimator_[-1]
    assert len(best.trimmed_indices_) == grid.best_params_["shapleyvaluator__budget"]
    methods = GridSearchCV(
        ShapleyValuator(GaussianNB(), budget=5, max_iter=3, random_state=0),
        {"method": ["tmc", "loo", "banzhaf"]},
        cv=2,
    ).fit(X, y)
    assert np.isfinite(methods.cv_results_["mean_test_score"]).all()
    Xr, yr = ShapleyValuator(KNeighborsClassifier(), method="knn", budget=20).fit_resample(
        pd.DataFrame(X), pd.Series(y)
    )
    assert isinstance(Xr, pd.DataFrame) and Xr.shape == (180, 5) and len(yr) == 180


def test_knn_values_find_flipped_labels():
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    flipped = np.random.default_rng(0).choice(len(y), 50, replace=False)
    y_noisy = y.copy()
    y_noisy[flipped] = 1 - y_noisy[flipped]
    est = ShapleyValuator(KNeighborsClassifier(5), method="knn", budget=50, random_state=0)
    est.fit(X, y_noisy)
    assert np.isin(est.trimmed_indices_, flipped).sum() >= 25  # random: about 7


def test_caller_arrays_are_not_modified(binary):
    X, y = binary
    Xc, yc = X.copy(), y.copy()
    est = ShapleyValuator(GaussianNB(), method="banzhaf", max_iter=32)
    est.fit(X, y, X_val=X[:20], y_val=y[:20])
    np.testing.assert_array_equal(X, Xc)
    np.testing.assert_array_equal(y, yc)


# -- bad input ------------------------------------------------------------------------------------
def test_bad_input(binary):
    X, y = binary
    with pytest.raises(ValueError, match="both X_val and y_val"):
        ShapleyValuator(method="loo").fit(X, y, X_val=X[:10])
    with pytest.raises(ValueError, match="0 sample"):
        ShapleyValuator(method="loo").fit(X, y, X_val=X[:0], y_val=y[:0])
    with pytest.raises(ValueError, match="cannot hold out"):
        ShapleyValuator(method="loo").fit(X[:1], y[:1])
    with pytest.raises(ValueError, match="at least two classes"):
        ShapleyValuator(method="loo").fit(X, np.zeros(len(y), dtype=int))
    with pytest.raises(UnsupportedModelError, match="KNeighborsClassifier"):
        ShapleyValuator(LogisticRegression(), method="knn").fit(X, y)
    with pytest.raises(ValueError, match="beta_params must be two positive"):
        ShapleyValuator(method="beta", beta_params=(0, 1)).fit(X, y)
    with pytest.raises(ValueError, match="method"):
        ShapleyValuator(method="magic").fit(X, y)
    with pytest.raises(ValueError, match="scoring"):
        ShapleyValuator(scoring="no-such-scorer").fit(X, y)
    with pytest.raises(ValueError, match="NaN"):
        ShapleyValuator(method="loo").fit(np.where(X > 2, np.nan, X), y)


def test_broken_estimator_fails_loudly(binary):
    X, y = binary
    # an invalid parameter surfaces from the full fit, not as thousands of default scores
    with pytest.raises(ValueError, match="C"):
        ShapleyValuator(LogisticRegression(C=-1.0), method="tmc", max_iter=2).fit(X, y)


# -- layering ----------------------------------------------------------------------------------
def test_valuation_does_not_import_torch():
    code = (
        "import sys, skinfluence.valuation, skinfluence._shapley; "
        "assert 'torch' not in sys.modules, 'torch loaded'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("path", sorted(VALUATION.glob("*.py")), ids=lambda p: p.name)
def test_valuation_imports_only_utils(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level >= 2 or module.startswith("skinfluence"):
                assert module in ("utils", "skinfluence.utils") or module.startswith(
                    ("utils.", "skinfluence.utils.", "skinfluence.valuation")
                ), f"{path.name} imports {module}"
            assert not module.startswith("torch"), path.name
        elif isinstance(node, ast.Import):
            assert not any(a.name.split(".")[0] == "torch" for a in node.names), path.name


def test_combinations_helper_sanity():
    # the unanimity closed form against a direct sum over subsets (guards the oracle)
    n, T = 5, [0, 2, 3]
    w = semivalue_weights(n, "beta", alpha=3.0, beta=2.0)
    game = Unanimity(T)
    direct = sum(
        w[len(S)] * (game(sorted(S + (0,))) - game(list(S)))
        for k in range(n)
        for S in combinations(range(1, n), k)
    )
    assert np.isclose(direct, unanimity_value(T, n, "beta", 3.0, 2.0)[0], atol=1e-12)


# -- values pinned for fixed seeds (a refactoring must not change the random streams) -------
PINNED_GAME = {
    # method: (values, n_iter, n_evaluations) of nonlinear_game(8), random_state=0
    "tmc": (
        [0.33549353566269646, 0.19026183939819957, 0.5856348352405439, 0.3204627173070046,
         -0.00676680765692469, 0.456464223364993, 0.7086250168315615, 0.6654284476191243],
        40, 281,
    ),
    "beta": (
        [0.2652839215452956, -0.0186467390857177, 0.33685091569661696, 0.15444338116995818,
         -0.41401635300155004, 0.3535882002821704, 0.8513228354241846, 0.6568935266493037],
        40, 54,
    ),
    "banzhaf": (
        [0.3153393645316416, 0.35797061503277794, 0.4703816807241685, 0.41218498755724764,
         -0.009921003848356813, 0.4286072117168509, 0.7984343582739246, 0.6439615647379371],
        200, 201,
    ),
}  # fmt: skip


@pytest.mark.parametrize("method", ["tmc", "beta", "banzhaf"])
def test_sampled_values_pinned_for_a_fixed_seed(method):
    values, n_iter, n_evaluations = PINNED_GAME[method]
    res = sampled_values(
        nonlinear_game(8),
        8,
        sampler(method, truncation_tol=0.05),
        max_iter=200 if method == "banzhaf" else 40,
        draws_per_task=32 if method == "banzhaf" else 7,  # several batches, a short last one
        tol=0.0,
        random_state=0,
    )
    np.testing.assert_allclose(res.values, values, rtol=1e-12, atol=1e-15)
    assert (res.n_iter, res.n_evaluations) == (n_iter, n_evaluations)


_ = np.nan
PINNED_VALUATOR = {
    # method: (values_ of GaussianNB, n_evaluations_, trimmed_indices_); tmc's in units of
    # 1/48 (accuracy on 8 validation rows, averaged over 6 permutations)
    "tmc": (
        [-1, -2, 0, 0, _, 0, _, _, _, 0, 0, 1, 0, 2, _, -1, 0, -1, 0, 3, 2, 0, 2, 0, 1, _,
         -1, 0, -1, _, _, 1, 2, -1, 0, 1, -1, 3, 2, 1],
        164, [1, 0, 15],
    ),
    "beta": (
        [0, 0, 0, 0, _, 0, _, _, _, 0, 0, 0.2269503546099291, 0, 0, _, 0, 0, 0, 0, 0,
         0.4539007092198582, 0, 0, 0, 0, _, -0.4539007092198582, 0, 0.4539007092198582, _, _,
         0, 0, 0, 0, 0, 0, 0, 0, 0.2269503546099291],
        18, [26, 0, 1],
    ),
    "banzhaf": (
        [0.02333822091886608, -0.0003694581280788284, 0.019362745098039216,
         -0.019483805668016198, _, 0.05857843137254903, _, _, _, -0.0048076923076923045,
         -0.02333822091886608, -0.023275862068965515, -0.025512820512820514,
         0.025512820512820514, _, 0.00012218963831867047, -0.00794232649071358,
         -0.015394088669950734, -0.0032894736842105227, 0.00794232649071358,
         0.031896551724137925, 0.011386639676113364, 0.02333822091886608, -0.01953125,
         0.019345238095238103, _, 0.01171875, -0.008251231527093596, -0.00794232649071358, _,
         _, 0.028273809523809527, 0.012009803921568626, -0.03515625, -0.01613300492610837,
         -0.04692118226600985, 0.023275862068965515, 0.0076979472140762395,
         0.004464285714285712, 0.003676470588235295],
        65, [35, 33, 12],
    ),
}  # fmt: skip


@pytest.mark.parametrize("method", ["tmc", "beta", "banzhaf"])
def test_valuator_values_pinned_for_a_fixed_seed(method):
    values, n_evaluations, trimmed = PINNED_VALUATOR[method]
    if method == "tmc":
        values = np.array(values) / 48
    X, y = make_classification(n_samples=40, n_features=4, random_state=0)
    est = ShapleyValuator(
        GaussianNB(),
        method=method,
        max_iter=64 if method == "banzhaf" else 6,
        draws_per_task=16 if method == "banzhaf" else 2,
        budget=3,
        random_state=0,
    ).fit(X, y)
    np.testing.assert_allclose(est.values_, values, rtol=1e-12, atol=1e-15)
    assert est.n_evaluations_ == n_evaluations
    assert est.trimmed_indices_.tolist() == trimmed


def test_samplers_are_objects():
    import pickle

    game = nonlinear_game(6)
    with pytest.raises(TypeError, match="PermutationSampler"):
        sampled_values(game, 6, "tmc")
    with pytest.raises(ValueError, match="alpha, beta > 0"):
        sampled_values(game, 6, BetaSampler(0.0, 1.0))
    with pytest.raises(ValueError, match="truncation_tol"):
        sampled_values(game, 6, PermutationSampler(truncation_tol=-1.0))
    beta = BetaSampler(4.0, 2.0, truncation_tol=None)
    assert repr(beta) == "BetaSampler(alpha=4.0, beta=2.0, truncation_tol=None)"
    assert repr(MSRSampler()) == "MSRSampler()"
    again = pickle.loads(pickle.dumps(beta))  # they travel to the workers
    a = sampled_values(game, 6, beta, max_iter=20, random_state=1)
    b = sampled_values(game, 6, again, max_iter=20, random_state=1)
    np.testing.assert_array_equal(a.values, b.values)
    # the valuator's methods map to these samplers
    est = ShapleyValuator(method="beta", beta_params=(4, 2), truncation_tol=None)
    assert repr(est._sampler()) == repr(beta)
    assert isinstance(ShapleyValuator(method="banzhaf")._sampler(), MSRSampler)


def test_scores_is_a_deprecated_alias_of_minus_values(binary):
    X, y = binary
    est = ShapleyValuator(GaussianNB(), method="loo", budget=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not hasattr(est, "scores_")  # unfitted: no attribute, no warning
        est.fit(X, y)
    assert "scores_" not in vars(est)  # one attribute per idea: values_
    with pytest.warns(FutureWarning, match="removed in 0.2; use values_"):
        scores = est.scores_
    np.testing.assert_array_equal(scores, -est.values_)
    with pytest.raises(AttributeError):
        est.scores_ = scores  # read-only


def test_parameters_are_validated_once_per_fit(binary, monkeypatch):
    X, y = binary
    calls = []
    validate = ShapleyValuator._validate_params

    def counting(self):
        calls.append(type(self).__name__)
        return validate(self)

    monkeypatch.setattr(ShapleyValuator, "_validate_params", counting)
    est = ShapleyValuator(GaussianNB(), method="banzhaf", max_iter=16, random_state=0)
    est.fit(X, y)
    assert calls == ["ShapleyValuator"]
    est.fit_resample(X, y)
    make_pipeline(StandardScaler(), est).fit(X, y)
    assert calls == ["ShapleyValuator"] * 3


def test_batch_size_is_a_deprecated_alias_of_draws_per_task(binary):
    X, y = binary
    kw = dict(method="tmc", max_iter=6, random_state=7)
    new = ShapleyValuator(LogisticRegression(), draws_per_task=2, **kw).fit(X, y)
    old = ShapleyValuator(LogisticRegression(), batch_size=2, **kw)
    assert old.get_params()["batch_size"] == 2 and clone(old).batch_size == 2
    with pytest.warns(FutureWarning, match="renamed draws_per_task") as record:
        old.fit(X, y)
    assert record[0].filename == __file__  # points at the caller of fit
    np.testing.assert_array_equal(old.values_, new.values_)
    assert not np.array_equal(
        old.values_, ShapleyValuator(LogisticRegression(), **kw).fit(X, y).values_
    )  # "auto" is another stream: the alias is really used
    with pytest.raises(ValueError, match="pass only draws_per_task"):
        ShapleyValuator(batch_size=2, draws_per_task=3).fit(X, y)
    with pytest.raises(ValueError, match="batch_size"):
        ShapleyValuator(batch_size=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the default warns about nothing
        ShapleyValuator(GaussianNB(), method="banzhaf", max_iter=8).fit(X, y)
    assert "batch_size" not in repr(ShapleyValuator())

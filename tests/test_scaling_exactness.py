"""The faster paths give the former results: block solves, KNN ties, the trimmed mean."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.metrics.pairwise import euclidean_distances

from skinfluence.adapters import make_adapter
from skinfluence.curvature import CGSolver, ExactSolver
from skinfluence.influence import aggregate, fi_scores, loo_confidence_scores, self_scores
from skinfluence.influence._active import fi_active_scores
from skinfluence.valuation import KNNUtility, knn_shapley
from skinfluence.valuation._knn import sorted_neighbours


class _Padded:
    """The adapter without ``linear_outputs``: the zero-padded ``J_θ`` columns."""

    def __init__(self, adapter):
        self._adapter = adapter
        self.capabilities = adapter.capabilities - {"linear_outputs"}

    def __getattr__(self, name):
        return getattr(self._adapter, name)


@pytest.fixture(scope="module")
def multinomial():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 7))
    y = rng.integers(0, 4, 500)
    model = LogisticRegression(C=0.5).fit(X, y)
    adapter = make_adapter(model, X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the free intercepts: the pseudo-inverse
        solver = ExactSolver().fit(adapter)
    return adapter, solver, X, adapter.encode_y(y)


@pytest.mark.parametrize("scaling", ["appendix", "algorithm", "main"])
def test_block_structured_multinomial_fi_equals_the_padded_one(multinomial, scaling):
    adapter, solver, X, y = multinomial
    padded = _Padded(adapter)
    a = fi_scores(adapter, solver, X, y, X[:80], y[:80], scaling=scaling)
    b = fi_scores(padded, solver, X, y, X[:80], y[:80], scaling=scaling)
    assert np.abs(a - b).max() <= 1e-10 * np.abs(b).max()


def test_block_solves_of_every_solver(multinomial):
    adapter, solver, X, _ = multinomial
    A, index = adapter.output_features(X[:30])
    J = adapter.metric_factors(X[:30])[2]  # (30, K, m), zero-padded
    want = solver.solve(J.reshape(-1, adapter.n_params).T).T.reshape(J.shape)
    np.testing.assert_allclose(solver.solve_outputs(A, index), want, rtol=0, atol=1e-12)
    cg = CGSolver(tol=1e-12).fit(adapter)  # the default: build the columns and solve
    np.testing.assert_allclose(cg.solve_outputs(A, index), want, rtol=0, atol=1e-8)
    sparse = sp.csr_matrix(A)
    np.testing.assert_allclose(solver.solve_outputs(sparse, index), want, rtol=0, atol=1e-12)


def test_block_structured_leave_one_out_and_self_influence(multinomial):
    adapter, solver, X, y = multinomial
    padded = _Padded(adapter)
    for fn in (loo_confidence_scores, self_scores):
        a = fn(adapter, solver, X, y, None, None)
        b = fn(padded, solver, X, y, None, None)
        assert np.abs(a - b).max() <= 1e-10 * np.abs(b).max()


def test_fi_active_pool_major_blocks_equal_the_labeled_major_ones():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 5))
    y = (X[:, 0] + rng.logistic(size=120) > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    adapter = make_adapter(model, X, y)
    solver = ExactSolver().fit(adapter)
    pool = rng.normal(size=(70, 5))
    from skinfluence.influence._active import fi_pairs

    pairs = fi_pairs(adapter, solver, X, adapter.encode_y(y), pool)
    for agg in ("trimmed_mean", "mean", 0.3):
        got = fi_active_scores(
            adapter, solver, X, adapter.encode_y(y), pool, aggregation=agg, block_mb=0.01
        )
        np.testing.assert_allclose(got, aggregate(pairs, agg), rtol=1e-12)


def _former_trimmed_mean(values):
    lo, hi = np.quantile(values, [0.1, 0.9], axis=0)
    inside = (values >= lo) & (values <= hi)
    return np.where(inside, values, 0.0).sum(axis=0) / inside.sum(axis=0)


@pytest.mark.parametrize("n_lab", [1, 2, 3, 10, 11, 57, 1000])
def test_trimmed_mean_equals_the_former_one(n_lab):
    rng = np.random.default_rng(n_lab)
    values = rng.gamma(0.5, size=(n_lab, 40))
    values[:, :5] = np.round(values[:, :5], 1)  # ties, also at the percentiles
    got = aggregate(values, "trimmed_mean")
    np.testing.assert_allclose(got, _former_trimmed_mean(values), rtol=1e-13)
    for q in (0.1, 0.5, 0.93):
        assert np.array_equal(aggregate(values, q), np.quantile(values, q, axis=0))


def test_trimmed_mean_with_nan_and_callable():
    values = np.random.default_rng(0).random((20, 4))
    values[3, 1] = np.nan
    got = aggregate(values, "trimmed_mean")
    assert np.isnan(got[1]) and np.isfinite(got[[0, 2, 3]]).all()
    assert np.array_equal(aggregate(values, lambda v: v[0]), values[0])
    original = values.copy()
    aggregate(values, "trimmed_mean")
    assert np.array_equal(values, original, equal_nan=True)  # the caller's array is kept


def _former_knn_shapley(X, y, X_val, y_val, k):
    """The closed form with the stable sort, as written before (one block)."""
    n = len(y)
    order = np.argsort(euclidean_distances(X_val, X, squared=True), axis=1, kind="stable")
    match = (y[order] == y_val[:, None]).astype(np.float64)
    diff = (match[:, :-1] - match[:, 1:]) / np.maximum(k, np.arange(1, n, dtype=np.float64))
    s = np.empty_like(match)
    s[:, -1] = match[:, -1] / max(k, n)
    s[:, :-1] = s[:, -1:] + np.cumsum(diff[:, ::-1], axis=1)[:, ::-1]
    values = np.empty_like(s)
    np.put_along_axis(values, order, s, axis=1)
    return values.sum(axis=0) / len(y_val)


@pytest.mark.parametrize("grid", [None, 1.0, 0.25])
def test_knn_values_and_tie_breaks_unchanged(grid):
    rng = np.random.default_rng(0)
    X, X_val = rng.normal(size=(3_000, 3)), rng.normal(size=(40, 3))
    if grid is not None:  # coarse grid: few (1.0, > 64 runs) or many ties
        X, X_val = np.round(X / grid) * grid, np.round(X_val / grid) * grid
    X[100:150] = X[7]  # duplicated rows: a long run of ties
    y, y_val = rng.integers(0, 3, 3_000), rng.integers(0, 3, 40)
    order = sorted_neighbours(X, X_val)
    dist = euclidean_distances(X_val, X, squared=True)
    assert np.array_equal(order, np.argsort(dist, axis=1, kind="stable"))
    want = _former_knn_shapley(X, y, X_val, y_val, 5)
    np.testing.assert_allclose(knn_shapley(X, y, X_val, y_val, 5), want, rtol=0, atol=1e-15)
    np.testing.assert_allclose(
        knn_shapley(X, y, X_val, y_val, 5, chunk_size=7), want, rtol=0, atol=1e-15
    )
    utility = KNNUtility(X[:200], y[:200], X_val, y_val, 5)
    assert np.array_equal(utility.order, sorted_neighbours(X[:200], X_val))

"""Dask arrays of rows: the same scores as the in-memory rows, computed on a cluster."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, Ridge

from skinfluence import influence_scores
from skinfluence.curvature import AutoSolver
from skinfluence.influence import DASK_METHODS

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("dask.distributed")


@pytest.fixture(scope="module")
def cluster():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with (
            distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
            ) as c,
            distributed.Client(c) as client,
        ):
            yield client


def _problem(kind, n=2_400, p=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    X_val = rng.normal(size=(300, p))
    w = rng.normal(size=p)
    if kind == "binary":
        y, y_val = (X @ w + rng.logistic(size=n) > 0).astype(int), (X_val @ w > 0).astype(int)
        model = LogisticRegression(C=0.5)
    elif kind == "multinomial":
        y, y_val = rng.integers(0, 3, n), rng.integers(0, 3, 300)
        model = LogisticRegression(C=0.5)
    else:
        y, y_val = X @ w + rng.normal(size=n), X_val @ w
        model = Ridge(alpha=1.0)
    return model, X, y, X_val, y_val


def _scores(*args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the softmax's singular Hessian
        return influence_scores(*args, **kw)


def _close(a, b, tol=1e-10):
    assert np.abs(a - b).max() <= tol * max(np.abs(b).max(), 1e-300)


@pytest.mark.parametrize("kind", ["binary", "multinomial", "ridge"])
@pytest.mark.parametrize("method", DASK_METHODS)
def test_dask_equals_in_memory_on_a_cluster(cluster, kind, method):
    model, X, y, X_val, y_val = _problem(kind)
    model.fit(X, y)
    X_d = da.from_array(X, chunks=(500, X.shape[1])).persist()
    y_d = da.from_array(y, chunks=500).persist()
    want = _scores(model, X, y, X_val, y_val, method)
    _close(_scores(model, X_d, y_d, X_val, y_val, method), want)


@pytest.mark.parametrize("method", ["if", "fi", "loo_confidence"])
def test_dask_validation_rows_weights_and_in_memory_labels(method):
    model, X, y, X_val, y_val = _problem("binary", seed=1)
    w = np.random.default_rng(2).uniform(0.3, 3.0, len(y))
    model.fit(X, y, sample_weight=w)
    X_d = da.from_array(X, chunks=(700, X.shape[1]))  # the local scheduler
    X_val_d = da.from_array(X_val, chunks=(100, X.shape[1]))
    want = _scores(model, X, y, X_val, y_val, method, sample_weight=w)
    got = _scores(model, X_d, y, X_val_d, da.from_array(y_val, chunks=100), method, sample_weight=w)
    _close(got, want)


def test_columns_in_several_chunks_and_conjugate_gradient_for_if():
    model, X, y, X_val, y_val = _problem("binary", seed=3)
    model.fit(X, y)
    X_d = da.from_array(X, chunks=(600, 2))
    solver = AutoSolver(max_exact_params_one=2, tol=1e-12)  # 'if' goes to CG: HVPs on dask
    got = _scores(model, X_d, y, X_val, y_val, "if", solver=solver)
    _close(got, _scores(model, X, y, X_val, y_val, "if", solver="exact"), 1e-8)


def test_refusals():
    model, X, y, X_val, y_val = _problem("binary")
    model.fit(X, y)
    X_d = da.from_array(X, chunks=(600, X.shape[1]))
    with pytest.raises(ValueError, match="does not score a dask array"):
        influence_scores(model, X_d, y, X_val, y_val, "gif")
    with pytest.raises(ValueError, match="solves once per row"):
        influence_scores(model, X_d, y, X_val, y_val, "fi", solver="cg")
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        influence_scores(model, X_d[X_d[:, 0] > 0], y[X[:, 0] > 0], X_val, y_val, "if")
    with pytest.raises(ValueError, match="rows but y has"):
        influence_scores(model, X_d, y[:-1], X_val, y_val, "if")

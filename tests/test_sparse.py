"""Sparse rows end to end: the same scores as the dense rows, without an n × p array."""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import config_context
from sklearn.linear_model import (
    LinearRegression,
    LogisticRegression,
    Ridge,
    SGDClassifier,
    SGDRegressor,
)

from skinfluence import influence_scores
from skinfluence.adapters import make_adapter
from skinfluence.utils import as_rows

#: Every measure of a fitted linear model (tracin needs a skorch net's checkpoints).
METHODS = [
    "fi",
    "if",
    "gif",
    "ip",
    "ip_ensemble",
    "self",
    "loo_confidence",
    "datainf",
    "representer",
]


def _data(seed, n=240, p=30, n_val=60, density=0.15):
    rng = np.random.default_rng(seed)
    X = sp.random(n, p, density=density, random_state=seed, format="csr")
    X_val = sp.random(n_val, p, density=density, random_state=seed + 1, format="csr")
    w = rng.normal(size=p) * 2.0
    return rng, X, X_val, w


def _problem(kind):
    rng, X, X_val, w = _data(0)
    z, z_val = X @ w, X_val @ w
    if kind in ("binary", "sgd"):
        y = (z + rng.logistic(size=z.shape) > 0).astype(int)
        y_val = (z_val > 0).astype(int)
    elif kind == "multinomial":
        y, y_val = rng.integers(0, 3, X.shape[0]), rng.integers(0, 3, X_val.shape[0])
    else:
        y, y_val = z + rng.normal(size=z.shape), z_val
    model = {
        "binary": LogisticRegression(C=0.5),
        "multinomial": LogisticRegression(C=0.5),
        "sgd": SGDClassifier(loss="log_loss", alpha=0.01, random_state=0),
        "ridge": Ridge(alpha=1.0),
        "linear": LinearRegression(),
        "sgd_regressor": SGDRegressor(alpha=0.01, random_state=0),
    }[kind]
    return model.fit(X.toarray(), y), X, y, X_val, y_val


KINDS = ["binary", "multinomial", "sgd", "ridge", "linear", "sgd_regressor"]


def _scores(model, X, y, X_val, y_val, method, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # singular Hessians of the unpenalised models
        return influence_scores(model, X, y, X_val, y_val, method, random_state=0, **kw)


def _close(a, b, tol=1e-10):
    scale = max(np.abs(b).max(), 1e-300)
    assert np.abs(a - b).max() <= tol * scale, np.abs(a - b).max() / scale


# representer points need an L2 penalty: not defined for LinearRegression
@pytest.mark.parametrize(
    "kind, method",
    [(k, m) for k in KINDS for m in METHODS if not (m == "representer" and k == "linear")],
)
def test_sparse_equals_dense(kind, method):
    model, X, y, X_val, y_val = _problem(kind)
    dense = _scores(model, X.toarray(), y, X_val.toarray(), y_val, method)
    _close(_scores(model, X, y, X_val, y_val, method), dense)


@pytest.mark.parametrize("fmt", ["csc", "coo", "lil"])
def test_other_formats_are_read_as_csr(fmt):
    model, X, y, X_val, y_val = _problem("binary")
    converted = as_rows(X.asformat(fmt))
    assert converted.format == "csr" and converted.has_canonical_format
    for method in ("fi", "if", "self"):
        _close(
            _scores(model, X.asformat(fmt), y, X_val.asformat(fmt), y_val, method),
            _scores(model, X, y, X_val, y_val, method),
        )


def test_duplicate_entries_are_summed_not_dropped():
    model, X, y, X_val, y_val = _problem("binary")
    coo = X.tocoo()
    half = coo.data / 2
    twice = sp.coo_matrix(
        (np.r_[half, half], (np.r_[coo.row, coo.row], np.r_[coo.col, coo.col])), shape=X.shape
    ).tocsr()  # scipy keeps duplicates in the CSR until summed
    _close(_scores(model, twice, y, X_val, y_val, "fi"), _scores(model, X, y, X_val, y_val, "fi"))


@pytest.mark.parametrize("kind", ["binary", "multinomial", "ridge"])
def test_sparse_with_sample_weights_equals_dense(kind):
    model, X, y, X_val, y_val = _problem(kind)
    w = np.random.default_rng(3).uniform(0.2, 3.0, X.shape[0])
    model = model.fit(X.toarray(), y, sample_weight=w)
    for method in ("fi", "if", "self", "loo_confidence"):
        _close(
            _scores(model, X, y, X_val, y_val, method, sample_weight=w),
            _scores(model, X.toarray(), y, X_val.toarray(), y_val, method, sample_weight=w),
        )


@pytest.mark.parametrize("kind", ["binary", "multinomial", "ridge"])
def test_adapter_curvature_on_sparse_rows(kind):
    model, X, y, _, _ = _problem(kind)
    dense, sparse = make_adapter(model, X.toarray(), y), make_adapter(model, X, y)
    H = dense.hessian()
    _close(sparse.hessian(), H, 1e-13)
    V = np.random.default_rng(1).normal(size=(H.shape[0], 4))
    _close(sparse.hvp(V), H @ V, 1e-13)
    _close(sparse.hvp(V[:, 0]), H @ V[:, 0], 1e-13)
    _close(sparse.hessian_diagonal(), np.diag(H), 1e-13)
    blocks, index = sparse.hessian_diagonal_blocks()
    for j in range(index.shape[0]):
        _close(blocks[j], H[np.ix_(index[j], index[j])], 1e-13)
    N = sparse.hessian_null_space()
    if N.shape[1]:
        assert np.abs(H @ N).max() < 1e-12 * np.abs(H).max()


def _peak_bytes(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["binary", "multinomial", "ridge"])
def test_no_dense_copy_of_the_rows(kind):
    # 40,000 × 300 with 6 stored entries a row: a dense copy is 96 MB, the rows 2.9 MB
    n, p = 40_000, 300
    rng = np.random.default_rng(0)
    X = sp.random(n, p, density=6 / p, random_state=0, format="csr")
    X_val = sp.random(2_000, p, density=6 / p, random_state=1, format="csr")
    w = rng.normal(size=p) * 2.0
    if kind == "binary":
        y, y_val = ((X @ w + rng.logistic(size=n)) > 0).astype(int), (X_val @ w > 0).astype(int)
        model = LogisticRegression(C=0.5)
    elif kind == "multinomial":
        y, y_val = rng.integers(0, 3, n), rng.integers(0, 3, 2_000)
        model = LogisticRegression(C=0.5)
    else:
        y, y_val = X @ w + rng.normal(size=n), X_val @ w
        model = Ridge(alpha=1.0)
    model.fit(X, y)
    dense_copy = 8 * n * p
    with config_context(working_memory=4):
        for method in ("if", "fi", "self", "loo_confidence"):
            peak = _peak_bytes(lambda m=method: _scores(model, X, y, X_val, y_val, m))
            assert peak < dense_copy / 2, (method, peak / 2**20)

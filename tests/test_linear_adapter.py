"""Closed forms of the linear adapter against torch autograd in float64."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from _oracles import brute_force, theta_of, torch_model_of
from sklearn.base import is_regressor
from sklearn.linear_model import (
    LinearRegression,
    LogisticRegression,
    Ridge,
    SGDClassifier,
    SGDRegressor,
)

from skinfluence.adapters import LinearAdapter, make_adapter
from skinfluence.curvature import ExactSolver
from skinfluence.exceptions import SingularHessianWarning, UnsupportedModelError
from skinfluence.influence import fi_scale, fi_scores, if_scores

RTOL = 1e-8


def _data(n, p, kind, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    w = rng.normal(size=p)
    if kind == "binary":
        y = (X @ w + rng.normal(scale=1.0, size=n) > 0).astype(int)
    elif kind == "multi":
        y = np.argmax(X @ rng.normal(size=(p, 3)) + rng.normal(size=(n, 3)), axis=1)
    else:
        y = X @ w + rng.normal(scale=0.5, size=n)
    return X, y


CASES = {
    "lr-binary": (lambda: LogisticRegression(C=0.7, tol=1e-10, max_iter=10_000), "binary"),
    "lr-no-intercept": (
        lambda: LogisticRegression(C=2.0, fit_intercept=False, tol=1e-10, max_iter=10_000),
        "binary",
    ),
    "lr-liblinear": (
        lambda: LogisticRegression(C=0.5, solver="liblinear", intercept_scaling=2.0, tol=1e-10),
        "binary",
    ),
    "lr-unpenalised": (lambda: LogisticRegression(C=np.inf, tol=1e-10, max_iter=10_000), "binary"),
    "lr-multinomial": (lambda: LogisticRegression(C=0.5, tol=1e-10, max_iter=10_000), "multi"),
    "sgd-classifier": (
        lambda: SGDClassifier(loss="log_loss", alpha=0.01, random_state=0, tol=None, max_iter=200),
        "binary",
    ),
    "linear-regression": (LinearRegression, "reg"),
    "ridge": (lambda: Ridge(alpha=3.0), "reg"),
    "sgd-regressor": (
        lambda: SGDRegressor(alpha=0.01, random_state=0, tol=None, max_iter=200),
        "reg",
    ),
}


def _fitted(name, sparse=False):
    make, kind = CASES[name]
    X, y = _data(40, 4, kind)
    Xtr, ytr, Xva, yva = X[:30], y[:30], X[30:], y[30:]
    fit_X = sp.csr_matrix(Xtr) if sparse else Xtr
    est = make().fit(fit_X, ytr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularHessianWarning)
        adapter = make_adapter(est, fit_X, ytr)
    return est, adapter, Xtr, ytr, Xva, yva


def _close(a, b, rtol=RTOL):
    a, b = np.asarray(a), np.asarray(b)
    scale = max(np.abs(b).max(), 1e-300)
    assert np.abs(a - b).max() <= rtol * scale, np.abs(a - b).max() / scale


@pytest.mark.parametrize("name", list(CASES))
def test_closed_forms_match_autograd(name):
    est, adapter, X, y, Xv, yv = _fitted(name)
    ye, yve = adapter.encode_y(y), adapter.encode_y(yv)
    sigma = None
    if not adapter.is_classifier:
        sigma = np.sqrt(np.mean((est.predict(X) - y) ** 2))
    for scaling in ("appendix", "algorithm", "main"):
        ref = brute_force(adapter, X, ye, Xv, yve, fi_scale(scaling, len(X)), sigma=sigma)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SingularHessianWarning)
            solver = ExactSolver().fit(adapter)
        _close(fi_scores(adapter, solver, X, ye, Xv, yve, scaling=scaling), ref["fi"])
    _close(adapter.loss_grad(X, ye), ref["grads"])
    _close(adapter.hessian(), ref["H"])
    V = np.random.default_rng(1).normal(size=(adapter.n_params, 3))
    _close(adapter.hvp(V), ref["H"] @ V)
    _close(if_scores(adapter, solver, X, ye, Xv, yve), ref["if"])

    # mixed products, shared and per-row directions: U·M_i
    rng = np.random.default_rng(2)
    U_shared = rng.normal(size=(2, adapter.n_params))
    U_rows = rng.normal(size=(len(X), 2, adapter.n_params))
    _close(adapter.mixed_product(X, ye, U_shared), np.einsum("rm,nmp->nrp", U_shared, ref["mixed"]))
    _close(adapter.mixed_product(X, ye, U_rows), np.einsum("nrm,nmp->nrp", U_rows, ref["mixed"]))
    C_rows = rng.normal(size=(len(X), 2, adapter.n_features))
    _close(adapter.mixed_jvp(X, ye, C_rows), np.einsum("nmp,nrp->nrm", ref["mixed"], C_rows))

    # metric factors: D·J are the derivatives of log P(c|x) (or of the mean)
    w, D, J_theta, J_x = adapter.metric_factors(X)
    tm, theta = ref["tm"], ref["theta"]
    for i in range(3):
        x = torch.tensor(X[i])
        jt = torch.autograd.functional.jacobian(lambda t: tm.logp(t, x), theta).numpy()
        jx = torch.autograd.functional.jacobian(lambda xx: tm.logp(theta, xx), x).numpy()
        _close(D[i] @ J_theta[i], jt)
        _close(D[i] @ J_x[i], jx)
        if adapter.is_classifier:
            _close(w[i] ** 2, np.exp(tm.logp(theta, x).numpy()))


@pytest.mark.parametrize("name", ["lr-binary", "lr-multinomial", "ridge"])
def test_sparse_input_matches_dense(name):
    _, dense, X, y, Xv, yv = _fitted(name)
    _, sparse, *_ = _fitted(name, sparse=True)
    Xs, ye = sp.csr_matrix(X), dense.encode_y(y)
    _close(sparse.hessian(), dense.hessian())
    _close(sparse.loss_grad(Xs, ye), dense.loss_grad(X, ye))
    _close(sparse.hvp(np.eye(dense.n_params)), dense.hessian())


@pytest.mark.parametrize(
    "name",
    [
        "lr-binary",
        "lr-no-intercept",
        "lr-liblinear",
        "lr-multinomial",
        "ridge",
        "linear-regression",
    ],
)
def test_penalty_is_what_the_model_minimised(name):
    """At the fitted θ̂ the gradient of mean loss + ½Σλθ² vanishes: the λ scaling is right."""
    _, adapter, X, y, *_ = _fitted(name)
    grad = adapter.loss_grad(X, adapter.encode_y(y)).mean(axis=0)
    grad += adapter._penalty_diag() * theta_of(adapter).numpy()
    scale = np.abs(adapter.loss_grad(X, adapter.encode_y(y))).mean()
    assert np.abs(grad).max() < 1e-6 * max(scale, 1.0)


def test_torch_oracle_objective_matches_adapter_penalty():
    _, adapter, X, y, *_ = _fitted("lr-binary")
    tm = torch_model_of(adapter)
    assert tm.pen.numpy().max() == pytest.approx(1.0 / (0.7 * len(X)))


@pytest.mark.parametrize(
    "est, match",
    [
        (LogisticRegression(l1_ratio=1.0, solver="saga"), "L1"),
        (LogisticRegression(class_weight="balanced"), "class_weight"),
        (SGDClassifier(loss="hinge"), "log_loss"),
        (SGDClassifier(loss="log_loss", penalty="l1"), "L1"),
        (Ridge(positive=True), "positive"),
        (SGDRegressor(loss="huber"), "squared_error"),
    ],
)
def test_unsupported_settings_raise(est, match):
    X, y = _data(40, 4, "reg" if is_regressor(est) else "binary")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    with pytest.raises(UnsupportedModelError, match=match):
        LinearAdapter(est, X, y)


def test_multiclass_sgd_is_unsupported():
    X, y = _data(60, 4, "multi")
    est = SGDClassifier(loss="log_loss", random_state=0).fit(X, y)
    with pytest.raises(UnsupportedModelError, match="one-vs-rest"):
        make_adapter(est, X, y)


def test_multinomial_hessian_is_singular_and_warns():
    est, adapter, *_ = _fitted("lr-multinomial")
    with pytest.warns(SingularHessianWarning, match="pseudo-inverse"):
        ExactSolver().fit(adapter)
    # with damping the Cholesky path is taken and no warning is raised
    with warnings.catch_warnings():
        warnings.simplefilter("error", SingularHessianWarning)
        ExactSolver(damping=1e-3).fit(adapter)

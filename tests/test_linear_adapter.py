"""Closed forms of the linear adapter against torch autograd in float64.

The autograd oracles (``_oracles``, torch) are imported inside the torch-marked tests;
the tests that need no oracle (sparse input, refused settings, errors) run without torch.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import is_regressor
from sklearn.linear_model import (
    LinearRegression,
    LogisticRegression,
    Ridge,
    SGDClassifier,
    SGDRegressor,
)

from skinfluence.adapters import LinearAdapter, make_adapter
from skinfluence.adapters._links import LINKS, loss_gradient, metric_factors, output_curvature
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


@pytest.mark.torch
@pytest.mark.parametrize("name", list(CASES))
def test_closed_forms_match_autograd(name):
    import torch
    from _oracles import brute_force

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


@pytest.mark.torch
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
    from _oracles import theta_of

    _, adapter, X, y, *_ = _fitted(name)
    grad = adapter.loss_grad(X, adapter.encode_y(y)).mean(axis=0)
    grad += adapter._penalty_diag() * theta_of(adapter).numpy()
    scale = np.abs(adapter.loss_grad(X, adapter.encode_y(y))).mean()
    assert np.abs(grad).max() < 1e-6 * max(scale, 1.0)


@pytest.mark.torch
def test_torch_oracle_objective_matches_adapter_penalty():
    from _oracles import torch_model_of

    _, adapter, X, y, *_ = _fitted("lr-binary")
    tm = torch_model_of(adapter)
    assert tm.pen.numpy().max() == pytest.approx(1.0 / (0.7 * len(X)))


@pytest.mark.parametrize(
    "est, match",
    [
        (LogisticRegression(l1_ratio=1.0, solver="saga"), "L1"),
        (SGDClassifier(loss="log_loss", class_weight="balanced"), "class_weight"),
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


# -- the link-function math both adapters share -------------------------------------------
def _link_case(link, n=6, k=3, seed=0):
    """Raw outputs and encoded targets of ``link``, and its loss and ``l_r`` in torch."""
    import torch

    rng = np.random.default_rng(seed)
    if link in ("logistic", "squared"):
        z = rng.normal(size=(n, 1))
        y = rng.integers(0, 2, n) if link == "logistic" else rng.normal(size=n)
    else:
        z = rng.normal(size=(n, k))
        if link == "log_probability":  # the outputs are log-probabilities
            z = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        y = rng.integers(0, k, n)
    F = torch.nn.functional

    def loss(zr, yr):
        if link == "logistic":
            return F.softplus(zr[0]) - yr * zr[0]
        if link == "multinomial":  # yr one-hot
            return torch.logsumexp(zr, 0) - (yr * zr).sum()
        if link == "log_probability":
            return -(yr * zr).sum()
        return 0.5 * (zr[0] - yr) ** 2

    def l_r(zr):  # log P(r|z) per class, or the mean
        if link == "logistic":
            return torch.stack([-F.softplus(zr[0]), -F.softplus(-zr[0])])
        if link == "multinomial":
            return torch.log_softmax(zr, 0)
        return zr

    return z, y, loss, l_r


@pytest.mark.torch
@pytest.mark.parametrize("link", LINKS)
def test_links_against_autograd(link):
    """r = ∂L/∂z, S = ∂²L/∂z² (the Fisher form for log-probabilities), D = ∂l/∂z, w."""
    import torch

    z, y, loss, l_r = _link_case(link)
    Z, Y = torch.tensor(z), torch.tensor(y, dtype=torch.float64)
    if link in ("multinomial", "log_probability"):
        Y = torch.tensor(np.eye(z.shape[1])[y])
    r = torch.func.vmap(torch.func.grad(loss))(Z, Y).numpy()
    _close(loss_gradient(link, z, y), r, rtol=1e-12)
    D = torch.func.vmap(torch.func.jacrev(l_r))(Z).numpy()
    w, D_got = metric_factors(link, z, sigma=0.7)
    _close(D_got, D, rtol=1e-12)
    S = output_curvature(link, z)
    if link == "squared":
        _close(w, np.full((len(z), 1), 1 / 0.7), rtol=1e-12)
    else:
        P = np.exp(torch.func.vmap(l_r)(Z).numpy())
        _close(w**2, P, rtol=1e-12)
        # the Fisher information of P(c|z) in z: Σ_c P_c D_cᵀ D_c
        _close(S, np.einsum("nc,nck,ncl->nkl", P, D, D), rtol=1e-12)
    if link != "log_probability":  # L is linear in log-probabilities
        hess = torch.func.vmap(torch.func.hessian(loss))(Z, Y).numpy()
        _close(S, hess, rtol=1e-12)


def test_unknown_link_and_squared_metric_without_sigma():
    z = np.zeros((2, 1))
    with pytest.raises(ValueError, match="unknown link"):
        loss_gradient("probit", z, np.zeros(2))
    with pytest.raises(ValueError, match="unknown link"):
        output_curvature("probit", z)
    with pytest.raises(ValueError, match="sigma"):
        metric_factors("squared", z)

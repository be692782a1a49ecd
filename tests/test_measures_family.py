"""The Hessian-free and self-influence family against oracles.

* ``ip`` is ``if`` with an identity Hessian; ``ip_ensemble`` with ``dropout=0`` is
  ``ip``, and with dropout it equals IP averaged over independently masked models.
* ``self`` against explicit ``H⁻¹`` with autograd gradients in float64, and against
  the textbook Cook's distance of least squares.
* ``datainf`` against a direct per-row Sherman–Morrison-free implementation of its
  formula, and against the exact inverse where it is exact (one row).
* ``representer`` against its definition, and its decomposition of the
  pre-activations at stationarity.
* Every method through ``InfluenceTrimmer`` on LR and a small skorch net; bad input.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from skinfluence import InfluenceTrimmer, UnsupportedModelError, influence_scores
from skinfluence.adapters import LinearAdapter, make_adapter
from skinfluence.curvature import BaseSolver, ExactSolver
from skinfluence.influence import (
    MEASURES,
    BaseObjective,
    datainf_scores,
    if_scores,
    ip_ensemble_scores,
    ip_scores,
    representer_scores,
    self_scores,
)
from skinfluence.influence._representer import representer_values

RTOL = 1e-8


def rel_err(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


class IdentitySolver(BaseSolver):
    """``H⁻¹ ≈ I``."""

    def solve(self, B):
        return np.asarray(B, dtype=np.float64).copy()


# -- data and models -------------------------------------------------------------------
def binary_data(n=120, p=4, seed=0):
    X, y = make_classification(
        n_samples=n + 40, n_features=p, n_informative=3, n_redundant=0, random_state=seed
    )
    X = StandardScaler().fit_transform(X)
    return X[:n], y[:n], X[n:], y[n:]


def multiclass_data(n=120, p=4, seed=0):
    X, y = make_classification(
        n_samples=n + 40,
        n_features=p,
        n_informative=3,
        n_redundant=0,
        n_classes=3,
        random_state=seed,
    )
    X = StandardScaler().fit_transform(X)
    return X[:n], y[:n], X[n:], y[n:]


def regression_data(n=60, p=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n + 20, p))
    y = X @ rng.normal(size=p) + 0.3 + 0.5 * rng.normal(size=n + 20)
    return X[:n], y[:n], X[n:], y[n:]


LINEAR_CASES = {
    "binary": (binary_data, lambda: LogisticRegression(C=0.5, tol=1e-12, max_iter=10_000)),
    "multinomial": (
        multiclass_data,
        lambda: LogisticRegression(C=0.5, tol=1e-12, max_iter=10_000),
    ),
    "ridge": (regression_data, lambda: Ridge(alpha=2.0)),
}


@pytest.fixture(scope="module", params=list(LINEAR_CASES))
def linear_case(request):
    data, make = LINEAR_CASES[request.param]
    X, y, Xv, yv = data()
    est = make().fit(X, y)
    ad = LinearAdapter(est, X, y)
    return request.param, est, ad, X, ad.encode_y(y), Xv, ad.encode_y(yv)


def fit_mlp(X, y, seed=0, callbacks=None, **kwargs):
    """A fitted tanh MLP (torch, skorch): one hidden layer of 5, weight decay 1e-3."""
    import torch
    from _nets import MLP
    from skorch import NeuralNetClassifier

    torch.manual_seed(seed)
    params = dict(
        criterion=torch.nn.CrossEntropyLoss,
        max_epochs=15,
        lr=0.2,
        batch_size=32,
        train_split=None,
        verbose=0,
        optimizer__weight_decay=1e-3,
        module__p=X.shape[1],
        module__k=len(np.unique(y)),
    )
    params.update(kwargs)
    net = NeuralNetClassifier(MLP, callbacks=callbacks, **params)
    return net.fit(X.astype(np.float32), y.astype(np.int64))


@pytest.fixture(scope="module")
def net_case():
    X, y, Xv, yv = multiclass_data(n=90)
    X, Xv = X.astype(np.float32), Xv.astype(np.float32)
    net = fit_mlp(X, y)
    return net, X, y, Xv, yv


# -- ip and ip_ensemble ----------------------------------------------------------------
def test_ip_is_if_with_identity_hessian(linear_case):
    _, _, ad, X, y, Xv, yv = linear_case
    ip = ip_scores(ad, None, X, y, Xv, yv)
    assert rel_err(ip, if_scores(ad, IdentitySolver(), X, y, Xv, yv)) < RTOL
    # and the definition straight from the gradients
    G = ad.loss_grad(X, y)
    assert rel_err(ip, -(G @ ad.loss_grad(Xv, yv).mean(0)) / len(X)) < RTOL
    assert MEASURES["ip"].curvature == MEASURES["ip_ensemble"].curvature == "none"


@pytest.mark.torch
def test_ip_on_net_is_if_with_identity(net_case):
    net, X, y, Xv, yv = net_case
    ad = make_adapter(net, X, y)
    ye, yve = ad.encode_y(y), ad.encode_y(yv)
    ip = ip_scores(ad, None, X, ye, Xv, yve)
    assert rel_err(ip, if_scores(ad, IdentitySolver(), X, ye, Xv, yve)) < RTOL


@pytest.mark.torch
def test_ip_ensemble_dropout_zero_is_ip(linear_case, net_case):
    _, _, ad, X, y, Xv, yv = linear_case
    ens = ip_ensemble_scores(ad, None, X, y, Xv, yv, n_estimators=3, dropout=0.0)
    assert rel_err(ens, ip_scores(ad, None, X, y, Xv, yv)) < RTOL
    net, X, y, Xv, yv = net_case
    tad = make_adapter(net, X, y)
    ye, yve = tad.encode_y(y), tad.encode_y(yv)
    ens = ip_ensemble_scores(tad, None, X, ye, Xv, yve, n_estimators=2, dropout=0.0)
    assert rel_err(ens, ip_scores(tad, None, X, ye, Xv, yve)) < RTOL


def test_ip_ensemble_is_mean_of_masked_models():
    """Independent path: refit-free sklearn models carrying the masked coefficients."""
    X, y, Xv, yv = binary_data()
    est = LogisticRegression().fit(X, y)
    ad = LinearAdapter(est, X, y)
    p, E = 0.3, 4
    got = ip_ensemble_scores(
        ad, None, X, y, Xv, yv, n_estimators=E, dropout=p, random_state=np.random.RandomState(7)
    )
    rng = np.random.RandomState(7)
    theta = np.append(est.coef_[0], est.intercept_[0])
    total = np.zeros(len(X))
    for _ in range(E):
        t = theta * (rng.uniform(size=theta.shape) >= p) / (1 - p)
        masked = LogisticRegression()
        masked.coef_, masked.intercept_, masked.classes_ = t[None, :-1], t[-1:], est.classes_
        total += ip_scores(LinearAdapter(masked, X, y), None, X, y, Xv, yv)
    assert rel_err(got, total / E) < RTOL
    assert rel_err(got, ip_scores(ad, None, X, y, Xv, yv)) > 1e-3  # the masks matter
    # deterministic under random_state
    again = ip_ensemble_scores(
        ad, None, X, y, Xv, yv, n_estimators=E, dropout=p, random_state=np.random.RandomState(7)
    )
    np.testing.assert_array_equal(got, again)


# -- self-influence -----------------------------------------------------------------------
@pytest.mark.torch
@pytest.mark.parametrize("case", ["binary", "ridge"])
def test_self_against_autograd(case):
    from _oracles import brute_force

    data, make = LINEAR_CASES[case]
    X, y, Xv, yv = data()
    est = make().fit(X, y)
    ad = LinearAdapter(est, X, y)
    ye = ad.encode_y(y)
    ref = brute_force(ad, X, ye, Xv, ad.encode_y(yv), scale=1.0, sigma=1.0)
    G, Hinv = ref["grads"], np.linalg.inv(ref["H"])
    want = np.einsum("im,mk,ik->i", G, Hinv, G)
    got = self_scores(ad, ExactSolver().fit(ad), X, ye, None, None)
    assert rel_err(got, want) < RTOL
    assert np.all(got > 0)


def test_self_is_cooks_distance_for_least_squares():
    """``self_i = n q s² (1 - h_ii)² D_i`` with the textbook Cook's distance ``D_i``."""
    X, y, _, _ = regression_data(n=50, p=3)
    est = LinearRegression().fit(X, y)
    ad = LinearAdapter(est, X, y)
    got = self_scores(ad, ExactSolver().fit(ad), X, ad.encode_y(y), None, None)
    Xt = np.hstack([X, np.ones((len(X), 1))])
    n, q = Xt.shape
    h = np.einsum("ij,jk,ik->i", Xt, np.linalg.inv(Xt.T @ Xt), Xt)
    e = y - Xt @ np.linalg.lstsq(Xt, y, rcond=None)[0]
    s2 = e @ e / (n - q)
    cook = e**2 * h / (q * s2 * (1 - h) ** 2)
    assert rel_err(got, n * q * s2 * (1 - h) ** 2 * cook) < 1e-7
    # same ranking driver: the leave-one-out refit moves the coefficients by D_i
    assert np.argmax(got) == np.argmax(e**2 * h)


@pytest.mark.torch
@pytest.mark.filterwarnings("ignore::skinfluence.SingularHessianWarning")
@pytest.mark.parametrize("params", ["all", "last"])
def test_self_on_net_against_autograd(net_case, params):
    import torch

    net, X, y, Xv, yv = net_case
    X, y = X[:40], y[:40]
    ad = make_adapter(net, X, y, params=params)
    ye = ad.encode_y(y)
    got = self_scores(ad, ExactSolver().fit(ad), X, ye, None, None)

    module = net.module_
    names = [n for n, _ in module.named_parameters()]
    keep = names if params == "all" else ["head.weight", "head.bias"]
    full = {n: p.detach().double() for n, p in module.named_parameters()}
    shapes = [full[n].shape for n in keep]
    sizes = [int(np.prod(s)) for s in shapes]
    theta0 = torch.cat([full[n].reshape(-1) for n in keep])
    Xt, Tt = torch.tensor(X, dtype=torch.float64), torch.tensor(y)
    mod = _double_copy(module)

    def loss(theta, x, t):
        params_ = dict(full)
        for n, v, s in zip(keep, torch.split(theta, sizes), shapes, strict=True):
            params_[n] = v.reshape(s)
        out = torch.func.functional_call(mod, params_, (x,))
        return torch.nn.functional.cross_entropy(out, t, reduction="none")

    def objective(theta):
        return loss(theta, Xt, Tt).mean() + 0.5 * 1e-3 * (theta**2).sum()

    H = torch.autograd.functional.hessian(objective, theta0)
    G = torch.stack(
        [
            torch.func.grad(lambda t, i=i: loss(t, Xt[i : i + 1], Tt[i : i + 1])[0])(theta0)
            for i in range(len(X))
        ]
    )
    want = torch.einsum("im,im->i", G, torch.linalg.solve(H, G.T).T).numpy()
    assert rel_err(got, want) < 1e-7


def _double_copy(module):
    import copy

    return copy.deepcopy(module).double().eval()


# -- DataInf ----------------------------------------------------------------------------
def datainf_direct(G, v, blocks, n_train, damping=None):
    """Kwon et al.'s formula with explicit per-row inverses ``(g gᵀ + λ I)⁻¹``."""
    n = G.shape[0]
    w = np.empty_like(v)
    for idx in blocks:
        Gl = G[:, idx]
        lam = damping if damping else 0.1 * np.sum(Gl * Gl) / (n * len(idx))
        inv = np.mean([np.linalg.inv(np.outer(g, g) + lam * np.eye(len(idx))) for g in Gl], 0)
        w[idx] = inv @ v[idx]
    return -(G @ w) / n_train


@pytest.mark.torch
def test_datainf_against_direct_formula(linear_case, net_case):
    _, _, ad, X, y, Xv, yv = linear_case
    v = ad.loss_grad(Xv, yv).mean(0)
    G = ad.loss_grad(X, y)
    for damping in (0.0, 0.05):
        got = datainf_scores(ad, None, X, y, Xv, yv, damping=damping)
        want = datainf_direct(G, v, [np.arange(ad.n_params)], len(X), damping)
        assert rel_err(got, want) < RTOL
    net, X, y, Xv, yv = net_case
    tad = make_adapter(net, X, y)
    ye, yve = tad.encode_y(y), tad.encode_y(yv)
    blocks = [idx for _, idx in tad.layer_blocks()]
    assert len(blocks) == 2 and sum(map(len, blocks)) == tad.n_params  # body.0, head
    got = datainf_scores(tad, None, X, ye, Xv, yve)
    want = datainf_direct(tad.loss_grad(X, ye), tad.loss_grad(Xv, yve).mean(0), blocks, len(X))
    assert rel_err(got, want) < RTOL


@pytest.mark.torch
def test_datainf_is_exact_for_one_row(net_case):
    """With one row the empirical Fisher is rank one and Sherman–Morrison is exact."""
    net, X, y, Xv, yv = net_case
    tad = make_adapter(net, X, y)
    ye, yve = tad.encode_y(y), tad.encode_y(yv)
    v = tad.loss_grad(Xv, yve).mean(0)
    g = tad.loss_grad(X[:1], ye[:1])[0]
    lam = 0.03
    got = datainf_scores(tad, None, X[:1], ye[:1], Xv, yve, damping=lam)
    want = 0.0
    for _, idx in tad.layer_blocks():
        F = np.outer(g[idx], g[idx]) + lam * np.eye(len(idx))  # the exact damped Fisher
        want += g[idx] @ np.linalg.solve(F, v[idx])
    assert rel_err(got, [-want / len(X)]) < 1e-10


# -- representer points ---------------------------------------------------------------
@pytest.mark.parametrize("case", ["binary", "multinomial"])
def test_representer_against_definition(case):
    data, _ = LINEAR_CASES[case]
    X, y, Xv, yv = data()
    C = 0.5
    est = LogisticRegression(C=C, tol=1e-12, max_iter=10_000).fit(X, y)
    ad = LinearAdapter(est, X, y)
    got = representer_scores(ad, None, X, ad.encode_y(y), Xv, ad.encode_y(yv))
    n, lam = len(X), 1.0 / (C * len(X))

    def dL_ds(Xr, yr):  # ∂L/∂s from scikit-learn's own probabilities
        P = est.predict_proba(Xr)
        if case == "binary":
            return (P[:, 1] - yr)[:, None]
        return P - np.eye(P.shape[1])[yr]

    alpha = -dL_ds(X, y) / (lam * n)
    K = X @ Xv.T  # k(x_i, x_j) = x_iᵀ x_j; the unpenalised intercept is no row's
    want = np.einsum("jk,ik,ij->i", dL_ds(Xv, yv), alpha, K) / len(Xv)
    assert rel_err(got, want) < RTOL


@pytest.mark.parametrize("case", ["binary", "multinomial"])
def test_representer_decomposition_linear(case):
    data, _ = LINEAR_CASES[case]
    X, y, Xv, _ = data()
    est = LogisticRegression(C=0.5, tol=1e-14, max_iter=100_000).fit(X, y)
    ad = LinearAdapter(est, X, y)
    alpha, Phi, unpen = representer_values(ad, X, ad.encode_y(y))
    assert unpen.tolist() == [False] * X.shape[1] + [True]
    _, Phi_v, _ = representer_values(ad, Xv, ad.encode_y(est.predict(Xv)))
    s = (Phi_v @ Phi.T) @ alpha + est.intercept_  # Σ_i α_i k(x_i, x) + offset
    z = est.decision_function(Xv)
    assert rel_err(s.reshape(z.shape), z) < 1e-6


@pytest.mark.torch
def test_representer_on_net_decomposes_at_stationarity():
    """Fine-tune the head to stationarity (Yeh et al.), then Σ α_i k = s(x), bias included."""
    import torch

    X, y, Xv, yv = multiclass_data(n=90)
    X, Xv = X.astype(np.float32), Xv.astype(np.float32)
    wd = 0.01
    net = fit_mlp(X, y, optimizer__weight_decay=wd)
    head = net.module_.head
    with torch.no_grad():
        A = net.module_.body(torch.tensor(X)).double()
    T = torch.tensor(y)
    Wb = torch.cat([head.weight.detach(), head.bias.detach()[:, None]], 1).double()
    Wb.requires_grad_(True)
    At = torch.cat([A, torch.ones(len(A), 1, dtype=A.dtype)], 1)
    opt = torch.optim.LBFGS([Wb], lr=1, max_iter=500, tolerance_grad=1e-14, tolerance_change=0)

    def closure():
        opt.zero_grad()
        f = torch.nn.functional.cross_entropy(At @ Wb.T, T) + 0.5 * wd * (Wb**2).sum()
        f.backward()
        return f

    for _ in range(5):
        opt.step(closure)
    with torch.no_grad():
        head.weight.copy_(Wb[:, :-1].float())
        head.bias.copy_(Wb[:, -1].float())
    ad = make_adapter(net, X, y)
    alpha, Phi, unpen = representer_values(ad, X, ad.encode_y(y))
    assert not unpen.any()  # the bias is decayed too: it is in the kernel
    A_v, _, _, _ = ad.linear_head(Xv)
    _, Phi_v, _ = representer_values(ad, Xv, ad.encode_y(yv))
    s = (Phi_v @ Phi.T) @ alpha
    # the head rounded to float32 is stationary to ~1e-7 relative
    want = A_v @ np.hstack([head.weight.detach().double(), head.bias.detach().double()[:, None]]).T
    assert rel_err(s, want) < 1e-4
    # and the scores equal the definition with φ = penultimate features
    got = representer_scores(ad, None, X, ad.encode_y(y), Xv, ad.encode_y(yv))
    Pv = torch.softmax(torch.tensor(want), 1).numpy() - np.eye(3)[yv]
    want_scores = np.einsum("jk,ik,ij->i", Pv, alpha, Phi @ Phi_v.T) / len(Xv)
    assert rel_err(got, want_scores) < RTOL


def test_representer_needs_a_penalty():
    X, y, Xv, yv = binary_data()
    est = LogisticRegression(C=np.inf).fit(X, y)
    with pytest.raises(UnsupportedModelError, match="L2 penalty"):
        influence_scores(est, X, y, Xv, yv, "representer")


@pytest.mark.torch
def test_representer_needs_the_head_in_params(net_case):
    net, X, y, Xv, yv = net_case
    with pytest.raises(UnsupportedModelError, match="not in the parameter selection"):
        influence_scores(net, X, y, Xv, yv, "representer", params=["body.0.weight"])


# -- every method through the estimators -----------------------------------------------
#: measures of tree ensembles run on tree models only (tests/test_trees.py)
TREES = {m for m, spec in MEASURES.items() if "trees" in spec.needs}
ALL = [m for m in MEASURES if m not in ("tracin", "self_tracin") and m not in TREES]


@pytest.mark.parametrize("method", ALL)
def test_every_method_through_trimmer_on_lr(method):
    X, y, Xv, yv = binary_data(n=150)
    X = np.vstack([X, Xv])
    y = np.concatenate([y, yv])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trim = InfluenceTrimmer(
            LogisticRegression(), method=method, budget=10, validation=0.2, random_state=0
        )
        trim.fit(X, y)
    scored = np.isfinite(trim.scores_)
    assert scored.sum() == int(0.8 * len(X)) and len(trim.trimmed_indices_) == 10
    assert np.all(
        trim.scores_[trim.trimmed_indices_]
        >= np.nanmax(np.delete(trim.scores_, trim.trimmed_indices_))
    )
    assert trim.predict(X).shape == y.shape


@pytest.mark.torch
@pytest.mark.parametrize("method", [m for m in MEASURES if m not in TREES])
def test_every_method_through_trimmer_on_net(method):
    import torch
    from _nets import MLP
    from skorch import NeuralNetClassifier

    from skinfluence.callbacks import TracInCheckpoints

    X, y, _, _ = multiclass_data(n=100)
    net = NeuralNetClassifier(
        MLP,
        criterion=torch.nn.CrossEntropyLoss,
        max_epochs=5,
        lr=0.2,
        train_split=None,
        verbose=0,
        optimizer__weight_decay=1e-3,
        callbacks=[TracInCheckpoints(every=2)],
    )
    trim = InfluenceTrimmer(
        net, method=method, budget=5, validation=0.2, random_state=0, n_estimators=2
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trim.fit(X.astype(np.float32), y)
    assert len(trim.trimmed_indices_) == 5
    assert np.isfinite(trim.scores_).sum() == 80


def test_influence_scores_forwards_options():
    X, y, Xv, yv = binary_data()
    est = LogisticRegression().fit(X, y)
    a = influence_scores(est, X, y, Xv, yv, "ip_ensemble", n_estimators=2, dropout=0.0)
    b = influence_scores(est, X, y, Xv, yv, "ip")
    assert rel_err(a, b) < RTOL
    c = influence_scores(est, X, y, Xv, yv, "datainf", damping=0.05)
    ad = LinearAdapter(est, X, y)
    want = datainf_scores(ad, None, X, y, Xv, yv, damping=0.05)
    assert rel_err(c, want) < RTOL


def test_bad_options_raise():
    X, y, Xv, yv = binary_data()
    est = LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match="dropout"):
        influence_scores(est, X, y, Xv, yv, "ip_ensemble", dropout=1.0)
    with pytest.raises(ValueError, match="n_estimators"):
        influence_scores(est, X, y, Xv, yv, "ip_ensemble", n_estimators=0)
    with pytest.raises(InvalidParameterError):
        InfluenceTrimmer(method="ip_ensemble", dropout=1.5).fit(X, y)
    with pytest.raises(InvalidParameterError):
        InfluenceTrimmer(method="nope").fit(X, y)


class FirstRowLoss(BaseObjective):
    """A custom objective: the loss of the first validation row only."""

    name = "first_row"

    def grad(self, adapter, X_val, y_val_enc):
        return adapter.loss_grad(X_val[:1], y_val_enc[:1])[0]


@pytest.mark.parametrize(
    "measure", [ip_scores, ip_ensemble_scores, datainf_scores, representer_scores]
)
def test_measures_use_the_objective(measure, linear_case):
    """``objective=`` replaces the mean validation loss: same as scoring on one row."""
    _, _, ad, X, y, Xv, yv = linear_case
    kw = {"random_state": 0} if measure is ip_ensemble_scores else {}
    got = measure(ad, None, X, y, Xv, yv, objective=FirstRowLoss(), **kw)
    assert rel_err(got, measure(ad, None, X, y, Xv[:1], yv[:1], **kw)) < RTOL
    assert rel_err(got, measure(ad, None, X, y, Xv, yv, **kw)) > 1e-3

"""TorchAdapter against oracles: linear closed forms, autograd brute force, skorch.

* A skorch net whose module is one ``nn.Linear`` is a linear model: every adapter
  quantity must equal :class:`LinearAdapter` on a scikit-learn model carrying the
  same weights, with the penalty matched (``C = 1/(wd·n)`` for logistic regression,
  ``alpha = n·wd/2`` for Ridge), to 1e-8 relative in float64.
* The objective the adapter differentiates must be the one skorch trained:
  ``∂θ [get_loss + ½ wd‖θ‖²] = c (mean ∂θL + λθ)`` (``c = 2`` for ``MSELoss``).
* Mixed products against ``torch.autograd.functional.jacobian`` of ``∂θ get_loss``.
* The last-layer head: of a one-layer net, :meth:`LinearAdapter.linear_head` of the
  same weights; of an MLP, autograd of ``get_loss`` in the head's output; the torch
  output curvature equals the shared link module's.
"""

from __future__ import annotations

import copy
import warnings
from functools import partial

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge

from skinfluence.adapters import LinearAdapter, make_adapter
from skinfluence.adapters._links import output_curvature
from skinfluence.curvature import CGSolver, ExactSolver
from skinfluence.exceptions import SingularHessianWarning, UnsupportedModelError
from skinfluence.influence import fi_scores, if_scores, representer_scores

# torch-only module: skipped as a whole where torch or skorch cannot be imported
torch = pytest.importorskip("torch")
pytest.importorskip("skorch")
from _nets import MLP, Linear  # noqa: E402
from skorch import (  # noqa: E402
    NeuralNetBinaryClassifier,
    NeuralNetClassifier,
    NeuralNetRegressor,
)

from skinfluence.adapters._torch import TorchAdapter  # noqa: E402

pytestmark = pytest.mark.torch

N, P, K = 80, 4, 3
RTOL = 1e-8


def rel_err(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


# -- modules (P inputs, K outputs by default) ---------------------------------------------
SoftmaxLinear = partial(Linear, softmax=True)  # probabilities, for NLLLoss
TwoLayerMLP = partial(MLP, hidden=6, depth=2)  # softmax=True: probabilities (NLLLoss)


# -- data and nets -----------------------------------------------------------------------
def make_data(rng, kind, n=N, p=P):
    X = rng.normal(size=(n, p)).astype(np.float32)
    if kind == "multiclass":
        logits = X @ rng.normal(size=(p, K))
        y = np.argmax(logits + rng.gumbel(size=logits.shape), axis=1).astype(np.int64)
    elif kind == "binary":
        y = (X @ rng.normal(size=p) + rng.normal(size=n) > 0).astype(np.int64)
    else:
        y = (X @ rng.normal(size=p) + 0.5 * rng.normal(size=n)).astype(np.float32)
    return X, y


def fit_net(net_cls, module, X, y, seed=0, **kwargs):
    torch.manual_seed(seed)
    params = dict(max_epochs=10, lr=0.1, train_split=None, verbose=0, batch_size=32)
    params.update(kwargs)
    net = net_cls(module, **params)
    target = y.astype(np.float32) if net_cls is NeuralNetBinaryClassifier else y
    if net_cls is NeuralNetRegressor:
        target = y.reshape(-1, 1)
    return net.fit(X, target)


NO_BIAS_DECAY = [("*.bias", {"weight_decay": 0.0})]

# name: (data kind, net class, module, criterion or None, weight decay, decay biases)
LINEAR_CASES = {
    "multinomial_nll": ("multiclass", NeuralNetClassifier, SoftmaxLinear, None, 0.02),
    "multinomial_ce": (
        "multiclass",
        NeuralNetClassifier,
        Linear,
        torch.nn.CrossEntropyLoss,
        0.02,
    ),
    "binary": ("binary", NeuralNetBinaryClassifier, Linear, None, 0.05),
    "ridge": ("regression", NeuralNetRegressor, Linear, None, 0.1),
    "ols": ("regression", NeuralNetRegressor, Linear, None, 0.0),
}


def linear_pair(rng, case):
    """A fitted linear skorch net, its TorchAdapter and the matching LinearAdapter.

    Weight decay is matched to scikit-learn's penalty. scikit-learn never penalises
    intercepts except with liblinear (``λ_b = λ / intercept_scaling²``), so the
    multinomial and regression nets exclude their biases from weight decay through
    a parameter group, and the binary net decays everything against
    ``LogisticRegression(solver="liblinear", intercept_scaling=1)``.

    Returns the adapters and ``perm``: linear layout index -> torch layout index
    (torch flattens ``[W.ravel(), b]``, the linear adapter ``[W | b]`` row-major).
    """
    data, net_cls, module, criterion, wd = LINEAR_CASES[case]
    X, y = make_data(rng, data)
    k = K if data == "multiclass" else 1
    kwargs = {"module__k": k, "optimizer__weight_decay": wd}
    if criterion is not None:
        kwargs["criterion"] = criterion
    if case != "binary":
        kwargs["optimizer__param_groups"] = NO_BIAS_DECAY
    net = fit_net(net_cls, module, X, y, **kwargs)
    W = net.module_.lin.weight.detach().double().numpy()
    b = net.module_.lin.bias.detach().double().numpy()
    n = len(X)
    if data == "multiclass":
        est = LogisticRegression(C=1.0 / (wd * n))
        est.coef_, est.intercept_, est.classes_ = W, b, np.arange(K)
    elif data == "binary":
        est = LogisticRegression(C=1.0 / (wd * n), solver="liblinear", intercept_scaling=1)
        est.coef_, est.intercept_, est.classes_ = W, b, np.array([0, 1])
    else:
        est = Ridge(alpha=n * wd / 2) if wd else LinearRegression()
        est.coef_, est.intercept_ = W[0], float(b[0])
    tad = TorchAdapter(net, X, y)
    lad = LinearAdapter(est, X, y)
    perm = np.array([r * P + j if j < P else k * P + r for r in range(k) for j in range(P + 1)])
    return net, X, y, tad, lad, perm


@pytest.fixture(scope="module", params=list(LINEAR_CASES))
def linear_case(request):
    rng = np.random.default_rng(1)
    return (LINEAR_CASES[request.param][0], *linear_pair(rng, request.param))


# -- 1. linear nets against the closed forms ------------------------------------------
def test_linear_derivatives_match_closed_forms(linear_case, rng):
    _, net, X, y, tad, lad, perm = linear_case
    assert tad.n_params == lad.n_params
    assert (tad.n_features, tad.n_outputs) == (lad.n_features, lad.n_outputs)
    assert tad.is_classifier == lad.is_classifier and tad.n_train == lad.n_train
    y_enc = tad.encode_y(y)
    np.testing.assert_array_equal(y_enc, lad.encode_y(y))
    np.testing.assert_allclose(tad.lam[perm], lad._penalty_diag(), rtol=1e-12)

    assert rel_err(tad.loss_grad(X, y_enc)[:, perm], lad.loss_grad(X, y_enc)) < RTOL
    H = tad.hessian()[np.ix_(perm, perm)]
    assert rel_err(H, lad.hessian()) < RTOL
    # the Gauss-Newton matrix of a linear model is its Hessian
    tad_gn = TorchAdapter(net, X, y, gauss_newton=True)
    assert rel_err(tad_gn.hessian()[np.ix_(perm, perm)], lad.hessian()) < RTOL

    V = rng.normal(size=(tad.n_params, 3))
    assert rel_err(tad.hvp(V)[perm], lad.hvp(V[perm])) < RTOL
    assert rel_err(tad.hvp(V[:, 0])[perm], lad.hvp(V[perm, 0])) < RTOL

    rows = slice(0, 7)
    U = rng.normal(size=(2, tad.n_params))
    got = tad.mixed_product(X[rows], y_enc[rows], U)
    assert rel_err(got, lad.mixed_product(X[rows], y_enc[rows], U[:, perm])) < RTOL
    U3 = rng.normal(size=(7, 2, tad.n_params))
    got = tad.mixed_product(X[rows], y_enc[rows], U3)
    assert rel_err(got, lad.mixed_product(X[rows], y_enc[rows], U3[:, :, perm])) < RTOL
    C = rng.normal(size=(7, 2, tad.n_features))
    got = tad.mixed_jvp(X[rows], y_enc[rows], C)
    assert rel_err(got[:, :, perm], lad.mixed_jvp(X[rows], y_enc[rows], C)) < RTOL

    # metric factors: compare ∂θ l_r = D J_theta and ∂x l_r = D J_x (K vs K' outputs)
    w1, D1, Jt1, Jx1 = tad.metric_factors(X[rows])
    w2, D2, Jt2, Jx2 = lad.metric_factors(X[rows])
    assert rel_err(w1, w2) < RTOL
    assert rel_err((D1 @ Jt1)[:, :, perm], D2 @ Jt2) < RTOL
    assert rel_err(D1 @ Jx1, D2 @ Jx2) < RTOL
    if not tad.is_classifier:
        assert tad.sigma == pytest.approx(lad.sigma, rel=1e-12)


def test_linear_scores_match_closed_forms(linear_case, rng):
    data, net, X, y, tad, lad, _ = linear_case
    y_enc = tad.encode_y(y)
    X_val, y_val = make_data(rng, data, n=25)
    y_val_enc = tad.encode_y(y_val)
    with warnings.catch_warnings():
        # multinomial with unpenalised intercepts: singular along Σ intercepts, and
        # both adapters' solvers fall back to the same pseudo-inverse
        warnings.simplefilter("ignore", SingularHessianWarning)
        s_t, s_l = ExactSolver().fit(tad), ExactSolver().fit(lad)
    for scaling in ("appendix", "algorithm"):
        fi_t = fi_scores(tad, s_t, X, y_enc, X_val, y_val_enc, scaling=scaling)
        fi_l = fi_scores(lad, s_l, X, y_enc, X_val, y_val_enc, scaling=scaling)
        assert rel_err(fi_t, fi_l) < RTOL
    if_t = if_scores(tad, s_t, X, y_enc, X_val, y_val_enc)
    assert rel_err(if_t, if_scores(lad, s_l, X, y_enc, X_val, y_val_enc)) < RTOL


def test_linear_head_matches_closed_forms(linear_case):
    """The head of a one-layer net is the linear model: ``LinearAdapter.linear_head``."""
    _, net, X, y, tad, lad, perm = linear_case
    y_enc = tad.encode_y(y)
    A1, R1, lam1, index1 = tad.linear_head(X, y_enc)
    A2, R2, lam2, index2 = lad.linear_head(X, y_enc)
    assert rel_err(A1, A2) < 1e-12 and rel_err(R1, R2) < 1e-10
    np.testing.assert_allclose(lam1, lam2, rtol=1e-12)
    np.testing.assert_array_equal(index1, perm[index2])
    assert tad.linear_head(X[:3])[1] is None


@pytest.mark.parametrize("data", ["binary", "multiclass"])
def test_linear_head_of_a_linear_module_is_logistic_regression(data, rng):
    """A skorch net whose module is one ``nn.Linear`` (BCEWithLogits / CrossEntropy)
    carrying a fitted LogisticRegression's weights has its ``linear_head``, in float64."""
    X, y = make_data(rng, data)
    X = X.astype(np.float64)
    C = 0.5
    est = LogisticRegression(C=C, tol=1e-10, max_iter=10_000).fit(X, y)
    k = K if data == "multiclass" else 1
    net_cls = NeuralNetClassifier if data == "multiclass" else NeuralNetBinaryClassifier
    net = net_cls(
        torch.nn.Linear,
        module__in_features=P,
        module__out_features=k,
        criterion=torch.nn.CrossEntropyLoss if data == "multiclass" else None,
        optimizer__weight_decay=1.0 / (C * len(X)),
        optimizer__param_groups=[("bias", {"weight_decay": 0.0})],
    )
    if data == "binary":
        net.set_params(criterion=torch.nn.BCEWithLogitsLoss)
    net.initialize()
    net.module_.double()
    with torch.no_grad():
        net.module_.weight.copy_(torch.as_tensor(est.coef_))
        net.module_.bias.copy_(torch.as_tensor(est.intercept_))
    tad, lad = TorchAdapter(net, X, y), LinearAdapter(est, X, y)
    assert tad.link == lad.link == ("multinomial" if data == "multiclass" else "logistic")
    y_enc = lad.encode_y(y)
    A1, R1, lam1, index1 = tad.linear_head(X, y_enc)
    A2, R2, lam2, index2 = lad.linear_head(X, y_enc)
    np.testing.assert_array_equal(A1, A2)
    assert rel_err(R1, R2) < 1e-10
    np.testing.assert_allclose(lam1, lam2, rtol=1e-12)
    perm = np.array([r * P + j if j < P else k * P + r for r in range(k) for j in range(P + 1)])
    np.testing.assert_array_equal(index1, perm[index2])
    X_val, y_val = make_data(rng, data, n=20)
    y_val_enc = lad.encode_y(y_val)
    got = representer_scores(tad, None, X, y_enc, X_val.astype(np.float64), y_val_enc)
    want = representer_scores(lad, None, X, y_enc, X_val.astype(np.float64), y_val_enc)
    assert rel_err(got, want) < 1e-10


# -- small MLPs of every supported kind ------------------------------------------------
# name: (net class, criterion or None (the net's default), data kind)
KINDS = {
    "nll": (NeuralNetClassifier, None, "multiclass"),  # probabilities, NLLLoss
    "ce": (NeuralNetClassifier, torch.nn.CrossEntropyLoss, "multiclass"),
    "binary": (NeuralNetBinaryClassifier, None, "binary"),
    "regression": (NeuralNetRegressor, None, "regression"),
}


@pytest.fixture(scope="module", params=list(KINDS))
def tiny(request):
    """A small fitted MLP per kind, weight decay 0.03 except on ``head.bias``."""
    net_cls, criterion, data = KINDS[request.param]
    X, y = make_data(np.random.default_rng(2), data, n=30, p=3)
    kwargs = {
        "module__p": 3,
        "module__hidden": 4,
        "module__k": K if data == "multiclass" else 1,
        "module__softmax": request.param == "nll",
        "optimizer__weight_decay": 0.03,
        "optimizer__param_groups": [("head.bias", {"weight_decay": 0.0})],
        "max_epochs": 5,
    }
    if criterion is not None:
        kwargs["criterion"] = criterion
    return data, fit_net(net_cls, TwoLayerMLP, X, y, **kwargs), X, y


def test_objective_is_what_skorch_trained(tiny):
    """∂θ[get_loss + ½ Σ wd_g ‖θ_g‖²] = c (mean ∂θL + λ θ), c = 2 for MSELoss."""
    data, net, X, y = tiny
    tad = TorchAdapter(net, X, y)
    assert tad.lam[-tad.n_outputs if data == "multiclass" else -1] == 0.0
    theta = tad._theta.numpy()
    ours = tad.loss_grad(X, tad.encode_y(y)).mean(axis=0) + tad.lam * theta

    module_ = net.module_
    module_.zero_grad()
    target = y.reshape(-1, 1) if data == "regression" else y
    target = target.astype(np.float32) if data != "multiclass" else target
    loss = net.get_loss(net.infer(torch.as_tensor(X)), torch.as_tensor(target))
    loss.backward()
    for group in net.optimizer_.param_groups:
        for p in group["params"]:
            p.grad += group["weight_decay"] * p.detach()
    theirs = np.concatenate([p.grad.double().numpy().ravel() for p in module_.parameters()])
    module_.zero_grad()
    c = 2.0 if data == "regression" else 1.0
    np.testing.assert_allclose(c * ours, theirs, rtol=1e-4, atol=1e-6)


def test_gauss_newton_from_metric_factors(tiny):
    """GN = mean_i s Σ_r w_r² ∂θl_rᵀ ∂θl_r + diag(λ) (s = σ² for regression).

    For classifiers that is the Fisher information, which equals the Gauss-Newton
    matrix over the logits; the two sides come from different code paths (jvp/vjp
    against jacrev).
    """
    data, net, X, y = tiny
    ad = TorchAdapter(net, X, y, gauss_newton=True)
    w, D, J_theta, _ = ad.metric_factors(X)
    B = w[:, :, None] * (D @ J_theta)
    scale = ad.sigma**2 if data == "regression" else 1.0
    G = scale * np.einsum("nrm,nrl->ml", B, B) / len(X) + np.diag(ad.lam)
    H = ad.hessian()
    assert rel_err(H, G) < 1e-10
    assert np.linalg.eigvalsh(H).min() > -1e-12


def test_gauss_newton_matrix_equals_its_products(tiny):
    """The dense Gauss-Newton matrix (built from output Jacobians) is the matrix
    ``hvp`` multiplies by (built from jvp/vjp): ``hessian() = hvp(I)``."""
    data, net, X, y = tiny
    ad = TorchAdapter(net, X, y, gauss_newton=True)
    assert rel_err(ad.hessian(), ad.hvp(np.eye(ad.n_params))) < 1e-10


def test_output_curvature_is_the_links(tiny):
    """The torch ``Λ`` (used inside torch.func) is the link module's ``S``."""
    _, net, X, y = tiny
    ad = TorchAdapter(net, X, y)
    f = ad.outputs(X)
    got = ad._output_curvature(torch.as_tensor(f)).numpy()
    assert rel_err(got, output_curvature(ad.link, f)) < 1e-14


def head_gradient(net, X, y, data, module64=None):
    """``∂(Σ_i L_i)/∂s`` by autograd of skorch's ``get_loss`` on a float64 copy of the
    MLP, with its head's output ``s`` a leaf."""
    module64 = module64 or copy.deepcopy(net.module_).double().eval()
    with torch.no_grad():
        a = module64.body(torch.tensor(X, dtype=torch.float64))
    s = module64.head(a).detach().requires_grad_(True)
    out = torch.softmax(s, dim=-1) if module64.softmax else s
    if data == "multiclass":
        target = torch.tensor(y)
    elif data == "binary":
        out, target = out.reshape(-1), torch.tensor(y, dtype=torch.float64)
    else:
        target = torch.tensor(y.reshape(-1, 1), dtype=torch.float64)
    half = 0.5 if data == "regression" else 1.0  # MSELoss is 2 L
    loss = half * len(X) * net.get_loss(out, target)
    return a.numpy(), torch.autograd.grad(loss, s)[0].numpy()


def test_linear_head_against_autograd(tiny, monkeypatch):
    """``R = ∂L/∂s`` of the head: the closed form where the head's output is the
    module's (no autograd pass), autograd through the softmax of NLLLoss nets."""
    data, net, X, y = tiny
    ad = TorchAdapter(net, X, y)
    if ad.link != "log_probability":

        def no_autograd(*args, **kwargs):
            raise AssertionError("the head's output is the module's: use the closed form")

        monkeypatch.setattr(TorchAdapter, "_head_autograd", no_autograd)
    A, R, lam, index = ad.linear_head(X, ad.encode_y(y))
    a, R_want = head_gradient(net, X, y, data)
    assert rel_err(A, np.hstack([a, np.ones((len(X), 1))])) < RTOL
    assert rel_err(R, R_want) < RTOL
    wd = 0.03 / 2 if data == "regression" else 0.03  # λ = wd/2 for MSELoss
    np.testing.assert_array_equal(lam, [wd] * a.shape[1] + [0.0])  # head.bias undecayed
    head = dict(zip(ad.param_names, ad.param_groups(), strict=True))
    np.testing.assert_array_equal(index[:, :-1].ravel(), head["head.weight"])
    np.testing.assert_array_equal(index[:, -1], head["head.bias"])


class AfterHead(MLP):
    """An MLP that halves its last linear layer's output (out of place or in place)."""

    def __init__(self, inplace=False, **kwargs):
        super().__init__(hidden=6, depth=2, **kwargs)
        self.inplace = inplace

    def forward(self, x):
        s = self.head(self.body(x))
        return s.mul_(0.5) if self.inplace else 0.5 * s


@pytest.mark.parametrize("inplace", [False, True])
def test_linear_head_with_an_operation_after_it(inplace, rng):
    """An operation after the last linear layer: ``R`` by autograd through it."""
    X, y = make_data(rng, "multiclass", n=20)
    net = NeuralNetClassifier(
        AfterHead, module__inplace=inplace, criterion=torch.nn.CrossEntropyLoss
    ).initialize()
    ad = TorchAdapter(net, X, y)
    _, R, _, _ = ad.linear_head(X, ad.encode_y(y))
    module64 = copy.deepcopy(net.module_).double().eval()
    with torch.no_grad():
        s = module64.head(module64.body(torch.tensor(X, dtype=torch.float64))).numpy()
    P_half = np.exp(0.5 * s) / np.exp(0.5 * s).sum(axis=1, keepdims=True)
    assert rel_err(R, 0.5 * (P_half - np.eye(K)[y])) < RTOL


# -- 2. MLP: selections, Gauss-Newton, solvers --------------------------------------------
@pytest.fixture(scope="module")
def mlp_data():
    rng = np.random.default_rng(3)
    X, y = make_data(rng, "multiclass", n=60)
    net = fit_net(
        NeuralNetClassifier,
        TwoLayerMLP,
        X,
        y,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer__weight_decay=1e-3,
    )
    X_val, y_val = make_data(rng, "multiclass", n=20)
    return net, X, y, X_val, y_val


@pytest.mark.parametrize("params", ["all", "last", ["body.0.weight", "head.bias"]])
@pytest.mark.parametrize("gauss_newton", [False, True])
def test_mlp_scores_finite(mlp_data, rng, params, gauss_newton):
    net, X, y, X_val, y_val = mlp_data
    state = copy.deepcopy(net.module_.state_dict())
    net.module_.train()
    ad = make_adapter(net, X, y, params=params, gauss_newton=gauss_newton)
    named = dict(net.module_.named_parameters())
    if isinstance(params, list):
        expected = params
    else:
        expected = {"all": list(named), "last": ["head.weight", "head.bias"]}[params]
    assert ad.param_names == expected
    assert ad.n_params == sum(named[n].numel() for n in expected)

    H = ad.hessian()
    V = rng.normal(size=(ad.n_params, 2))
    assert rel_err(ad.hvp(V), H @ V) < 1e-10
    if gauss_newton:
        assert np.linalg.eigvalsh(H).min() > -1e-10

    with warnings.catch_warnings():
        # a briefly trained net is not at a minimum: its Hessian may be indefinite
        warnings.simplefilter("ignore" if not gauss_newton else "error")
        solver = ExactSolver(damping=1e-2).fit(ad)
    y_enc, y_val_enc = ad.encode_y(y), ad.encode_y(y_val)
    fi = fi_scores(ad, solver, X, y_enc, X_val, y_val_enc)
    iv = if_scores(ad, solver, X, y_enc, X_val, y_val_enc)
    assert fi.shape == iv.shape == (len(X),)
    assert np.all(np.isfinite(fi)) and np.all(np.isfinite(iv)) and np.all(fi >= 0)

    # nothing about the net changed: parameters, buffers and train/eval mode
    assert net.module_.training and all(m.training for m in net.module_.modules())
    for key, value in net.module_.state_dict().items():
        assert torch.equal(value, state[key])


def test_cg_agrees_with_exact_on_gauss_newton(mlp_data, rng):
    net, X, y, X_val, y_val = mlp_data
    ad = make_adapter(net, X, y, gauss_newton=True)
    exact = ExactSolver(damping=1e-2).fit(ad)
    cg = CGSolver(damping=1e-2, tol=1e-11).fit(ad)
    B = rng.normal(size=(ad.n_params, 3))
    assert rel_err(cg.solve(B), exact.solve(B)) < 1e-8
    y_enc, y_val_enc = ad.encode_y(y), ad.encode_y(y_val)
    fi_cg = fi_scores(ad, cg, X[:6], y_enc[:6], X_val, y_val_enc)
    fi_ex = fi_scores(ad, exact, X[:6], y_enc[:6], X_val, y_val_enc)
    assert rel_err(fi_cg, fi_ex) < 1e-7


# -- 3. mixed products and gradients against autograd brute force ---------------------------
@pytest.mark.parametrize("params", ["all", "last"])
def test_mixed_product_brute_force(tiny, rng, params):
    data, net, X, y = tiny
    ad = TorchAdapter(net, X, y, params=params)
    y_enc = ad.encode_y(y)

    # float64 copy of the module; the row loss is skorch's get_loss on it
    module64 = copy.deepcopy(net.module_).double().eval()
    named = dict(module64.named_parameters())
    chosen = [named[n] for n in ad.param_names]
    half = 0.5 if data == "regression" else 1.0  # MSELoss is 2 L

    def row_loss(x, i):
        out = module64(x[None])
        if data == "multiclass":
            target = torch.tensor([y[i]])
        elif data == "binary":
            out, target = out.reshape(-1), torch.tensor([float(y[i])], dtype=torch.float64)
        else:
            target = torch.tensor([[y[i]]], dtype=torch.float64)
        return half * net.get_loss(out, target)

    def theta_grad(x, i):
        g = torch.autograd.grad(row_loss(x, i), chosen, create_graph=True)
        return torch.cat([gi.reshape(-1) for gi in g])

    rows = range(4)
    U = rng.normal(size=(3, ad.n_params))
    U3 = rng.normal(size=(len(rows), 2, ad.n_params))
    got = ad.mixed_product(X[:4], y_enc[:4], U)
    got3 = ad.mixed_product(X[:4], y_enc[:4], U3)
    C = rng.normal(size=(len(rows), 2, ad.n_features))
    got_jvp = ad.mixed_jvp(X[:4], y_enc[:4], C)
    grads = ad.loss_grad(X[:4], y_enc[:4])
    for i in rows:
        x = torch.tensor(X[i], dtype=torch.float64)
        M = torch.autograd.functional.jacobian(lambda x_, i=i: theta_grad(x_, i), x)
        M = M.detach().numpy()  # (m, p)
        assert rel_err(got[i], U @ M) < RTOL
        assert rel_err(got3[i], U3[i] @ M) < RTOL
        assert rel_err(got_jvp[i], C[i] @ M.T) < RTOL
        assert rel_err(grads[i], theta_grad(x, i).detach().numpy()) < RTOL


# -- 4. errors --------------------------------------------------------------------------
def test_unsupported_criterion(rng):
    X, y = make_data(rng, "regression", n=20)
    net = fit_net(NeuralNetRegressor, Linear, X, y, module__k=1, criterion=torch.nn.L1Loss)
    with pytest.raises(UnsupportedModelError, match="L1Loss"):
        make_adapter(net, X, y)
    Xc, yc = make_data(rng, "multiclass", n=20)
    net = fit_net(
        NeuralNetClassifier,
        Linear,
        Xc,
        yc,
        criterion=torch.nn.CrossEntropyLoss,
        criterion__label_smoothing=0.1,
    )
    with pytest.raises(UnsupportedModelError, match="label_smoothing"):
        TorchAdapter(net, Xc, yc)


def test_unfitted_net(rng):
    X, y = make_data(rng, "multiclass", n=10)
    with pytest.raises(NotFittedError, match="not initialized"):
        TorchAdapter(NeuralNetClassifier(SoftmaxLinear), X, y)


def test_bad_params_and_labels(rng):
    X, y = make_data(rng, "multiclass", n=20)
    net = fit_net(NeuralNetClassifier, SoftmaxLinear, X, y, max_epochs=1)
    with pytest.raises(ValueError, match="nope"):
        TorchAdapter(net, X, y, params=["lin.weight", "nope"])
    with pytest.raises(ValueError, match="params must be"):
        TorchAdapter(net, X, y, params="first")
    ad = TorchAdapter(net, X, y)
    with pytest.raises(ValueError, match="do not match"):
        ad.encode_y(np.array([0, 7]))
    ad.max_dense_params = 3
    with pytest.raises(NotImplementedError, match="solver='cg'"):
        ad.hessian()


def test_eval_mode_with_dropout_and_batchnorm(rng):
    """Dropout and batch norm act as in eval mode; the net's train mode is restored."""
    X, y = make_data(rng, "multiclass", n=40)
    module = torch.nn.Sequential(
        torch.nn.Linear(P, 5),
        torch.nn.BatchNorm1d(5),
        torch.nn.Tanh(),
        torch.nn.Dropout(0.5),
        torch.nn.Linear(5, K),
    )
    net = fit_net(NeuralNetClassifier, module, X, y, criterion=torch.nn.CrossEntropyLoss)
    net.module_.train()
    ad = TorchAdapter(net, X, y)
    y_enc = ad.encode_y(y)
    G = ad.loss_grad(X[:5], y_enc[:5])
    np.testing.assert_array_equal(G, ad.loss_grad(X[:5], y_enc[:5]))
    assert net.module_.training and net.module_[3].training

    module64 = copy.deepcopy(net.module_).double().eval()
    for i in range(5):
        module64.zero_grad()
        out = module64(torch.tensor(X[i : i + 1], dtype=torch.float64))
        net.get_loss(out, torch.tensor(y[i : i + 1])).backward()
        brute = np.concatenate([p.grad.numpy().ravel() for p in module64.parameters()])
        assert rel_err(G[i], brute) < RTOL

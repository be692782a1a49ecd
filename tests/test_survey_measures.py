"""The survey's measures against their formulas, from quantities computed by hand.

* ``relatif``, ``renormalized_if``, ``gas``: the gradients, the Hessian and the
  validation gradient of binary logistic regression and of ridge rebuilt with numpy
  from scikit-learn's ``coef_`` / ``intercept_`` (float64), and of a small skorch net
  with torch autograd on a float64 copy of its module; the formulas applied to them.
  ``gas`` over the checkpoints of a net fitted with ``TracInCheckpoints`` against the
  sum recomputed from the saved states.
* ``gex``: no extra step is ``ip``; with steps, the average of ``ip`` over models
  rebuilt by hand with the documented SGD recipe (numpy for logistic regression,
  ``torch.optim.SGD`` for a net).
* Sample weights: zero-weight rows score 0, a weight-2 row scores as its two copies,
  and the weighted formulas by hand.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state

from skinfluence import InfluenceTrimmer, influence_scores
from skinfluence.adapters import make_adapter
from skinfluence.curvature import ExactSolver
from skinfluence.influence import (
    MEASURES,
    gas_scores,
    gex_models,
    gex_scores,
    if_scores,
    ip_scores,
    relatif_scores,
    renormalized_if_scores,
    segment_operator,
)
from skinfluence.influence._gex import default_learning_rate, gradient_noise, top_curvature

skorch = pytest.importorskip("skorch")
from skorch import NeuralNetClassifier  # noqa: E402

from skinfluence.callbacks import TracInCheckpoints  # noqa: E402

RTOL = 1e-8
SURVEY = ("relatif", "renormalized_if", "gas", "gex")  # "source" needs checkpoints


def rel_err(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# -- hand-made quantities of linear models ------------------------------------------------
def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def binary_data(n=100, p=4, seed=0):
    X, y = make_classification(
        n_samples=n + 40, n_features=p, n_informative=3, n_redundant=0, random_state=seed
    )
    X = StandardScaler().fit_transform(X)
    return X[:n], y[:n], X[n:], y[n:]


def logistic_quantities(model, X, y, Xv, yv, w=None):
    """Row gradients ``G``, validation gradient ``v`` and ``H`` of an L2 logistic fit.

    scikit-learn minimises ``C Σ s_i L_i + ½‖w‖²``: in mean-loss form
    ``Σ s_i L_i / W + ‖w‖² / (2 C W)`` (the intercept unpenalised).
    """
    s = np.ones(len(y)) if w is None else np.asarray(w, dtype=np.float64)
    W = s.sum()
    theta = np.concatenate([model.coef_.ravel(), model.intercept_])
    Xt = np.hstack([X, np.ones((len(X), 1))])
    Xvt = np.hstack([Xv, np.ones((len(Xv), 1))])
    P = sigmoid(Xt @ theta)
    G = (P - y)[:, None] * Xt
    v = ((sigmoid(Xvt @ theta) - yv)[:, None] * Xvt).mean(axis=0)
    lam = np.full(len(theta), 1.0 / (model.C * W))
    lam[-1] = 0.0
    H = (Xt * (s * P * (1 - P))[:, None]).T @ Xt / W + np.diag(lam)
    return G, v, H, lam, W


def ridge_quantities(model, X, y, Xv, yv):
    """The same for ridge: ``L = ½ r²``, ``λ = α / n`` on the coefficients."""
    n = len(y)
    theta = np.concatenate([model.coef_.ravel(), [model.intercept_]])
    Xt = np.hstack([X, np.ones((n, 1))])
    Xvt = np.hstack([Xv, np.ones((len(Xv), 1))])
    G = (Xt @ theta - y)[:, None] * Xt
    v = ((Xvt @ theta - yv)[:, None] * Xvt).mean(axis=0)
    lam = np.full(len(theta), model.alpha / n)
    lam[-1] = 0.0
    H = Xt.T @ Xt / n + np.diag(lam)
    return G, v, H


def formulas(G, v, H, W):
    """The three scores of the module docstring, from the raw quantities."""
    Hinv_G = np.linalg.solve(H, G.T)  # (m, n)
    infl = -(G @ np.linalg.solve(H, v)) / W  # "if"
    relatif = infl / np.linalg.norm(Hinv_G, axis=0)
    renorm = infl / np.linalg.norm(G, axis=1)
    gas = -(G @ v) / (np.linalg.norm(v) * np.linalg.norm(G, axis=1)) / W
    return {"if": infl, "relatif": relatif, "renormalized_if": renorm, "gas": gas}


@pytest.fixture(scope="module")
def logistic_case():
    X, y, Xv, yv = binary_data()
    model = LogisticRegression(C=0.5, tol=1e-12, max_iter=10_000).fit(X, y)
    return model, X, y, Xv, yv


def test_registered_as_declared():
    for name in ("relatif", "renormalized_if"):
        m = MEASURES[name]
        assert (m.curvature, m.objective, m.needs, m.weights) == (
            "solve",
            True,
            ("gradients",),
            "scale",
        )
    assert MEASURES["gas"].curvature == "none" and MEASURES["gas"].needs == ("gradients",)
    assert MEASURES["gex"].options == ("n_estimators", "random_state")
    assert MEASURES["gex"].function is gex_scores


@pytest.mark.parametrize("method", ["if", "relatif", "renormalized_if", "gas"])
def test_logistic_against_the_formula(logistic_case, method):
    model, X, y, Xv, yv = logistic_case
    G, v, H, _, W = logistic_quantities(model, X, y, Xv, yv)
    # the model is at its optimum: the hand-made objective's gradient vanishes
    theta = np.concatenate([model.coef_.ravel(), model.intercept_])
    assert np.abs(G.mean(0) + (1.0 / (model.C * W)) * np.r_[theta[:-1], 0.0]).max() < 1e-8
    want = formulas(G, v, H, W)[method]
    got = influence_scores(model, X, y, Xv, yv, method)
    assert rel_err(got, want) < RTOL


@pytest.mark.parametrize("method", ["if", "relatif", "renormalized_if", "gas"])
def test_ridge_against_the_formula(method):
    X, y = make_regression(n_samples=90, n_features=4, noise=5.0, random_state=2)
    Xt, yt, Xv, yv = X[:70], y[:70], X[70:], y[70:]
    model = Ridge(alpha=3.0).fit(Xt, yt)
    G, v, H = ridge_quantities(model, Xt, yt, Xv, yv)
    want = formulas(G, v, H, len(yt))[method]
    got = influence_scores(model, Xt, yt, Xv, yv, method)
    assert rel_err(got, want) < RTOL


def test_ratios_to_if_and_ip(logistic_case):
    """relatif = if / ‖H⁻¹g‖, renormalized_if = if / ‖g‖, gas = ip / (‖v‖‖g‖)."""
    model, X, y, Xv, yv = logistic_case
    ad = make_adapter(model, X, y)
    ye, yve = ad.encode_y(y), ad.encode_y(yv)
    solver = ExactSolver().fit(ad)
    G = ad.loss_grad(X, ye)
    infl = if_scores(ad, solver, X, ye, Xv, yve)
    step = np.linalg.norm(solver.solve(G.T), axis=0)
    assert rel_err(relatif_scores(ad, solver, X, ye, Xv, yve), infl / step) < RTOL
    assert (
        rel_err(
            renormalized_if_scores(ad, solver, X, ye, Xv, yve), infl / np.linalg.norm(G, axis=1)
        )
        < RTOL
    )
    v = ad.loss_grad(Xv, yve).mean(0)
    ip = ip_scores(ad, None, X, ye, Xv, yve)
    gas = gas_scores(ad, None, X, ye, Xv, yve)
    assert rel_err(gas, ip / (np.linalg.norm(v) * np.linalg.norm(G, axis=1))) < RTOL
    assert np.all(np.abs(gas * len(X)) <= 1 + 1e-12)  # a cosine, times 1/n
    # the renormalisation changes the ranking (else it would be pointless)
    assert not np.array_equal(np.argsort(gas), np.argsort(ip))


def test_damping_reaches_relatif(logistic_case):
    model, X, y, Xv, yv = logistic_case
    G, v, H, _, W = logistic_quantities(model, X, y, Xv, yv)
    want = formulas(G, v, H + 0.3 * np.eye(len(H)), W)["relatif"]
    got = influence_scores(model, X, y, Xv, yv, "relatif", damping=0.3)
    assert rel_err(got, want) < RTOL


def test_zero_gradient_rows_score_zero(logistic_case):
    model, X, y, Xv, yv = logistic_case
    ad = make_adapter(model, X, y)
    ye = ad.encode_y(y)

    class Zeroed:  # an adapter whose first rows have no gradient
        def __getattr__(self, name):
            return getattr(ad, name)

        def loss_grad(self, Xr, yr):
            G = ad.loss_grad(Xr, yr)
            G[: min(3, len(G))] = 0.0
            return G

    z = Zeroed()
    solver = ExactSolver().fit(ad)
    for fn, s in ((relatif_scores, solver), (renormalized_if_scores, solver), (gas_scores, None)):
        out = fn(z, s, X, ye, Xv, ad.encode_y(yv))
        assert np.all(np.isfinite(out)) and np.all(out[:3] == 0.0) and np.abs(out[3:]).max() > 0


# -- sample weights ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def weighted_case():
    X, y, Xv, yv = binary_data(n=120, seed=3)
    w = np.random.default_rng(0).uniform(0.2, 3.0, size=len(y))
    return X, y, w, Xv, yv


def _scores(model, X, y, Xv, yv, method, w, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return influence_scores(model, X, y, Xv, yv, method, sample_weight=w, **kw)


@pytest.mark.parametrize("method", ["relatif", "renormalized_if", "gas"])
def test_weighted_formula_by_hand(weighted_case, method):
    X, y, w, Xv, yv = weighted_case
    model = LogisticRegression(C=0.5, tol=1e-12, max_iter=10_000).fit(X, y, sample_weight=w)
    G, v, H, _, W = logistic_quantities(model, X, y, Xv, yv, w)
    want = w * formulas(G, v, H, W)[method]  # a row's score is its weighted term's
    assert rel_err(_scores(model, X, y, Xv, yv, method, w), want) < RTOL


@pytest.mark.parametrize("method", SURVEY)
def test_zero_weight_rows_have_zero_influence(weighted_case, method):
    X, y, w, Xv, yv = weighted_case
    w = w.copy()
    w[:10] = 0.0
    model = LogisticRegression().fit(X, y, sample_weight=w)
    scores = _scores(model, X, y, Xv, yv, method, w, random_state=0)
    np.testing.assert_allclose(scores[:10], 0.0, atol=1e-15)
    assert np.abs(scores[10:]).max() > 1e-8


@pytest.mark.parametrize("method", ["relatif", "renormalized_if", "gas"])
def test_weight_two_equals_the_row_duplicated(weighted_case, method):
    X, y, _, Xv, yv = weighted_case
    w = np.ones(len(y))
    w[0] = 2.0
    weighted = LogisticRegression(tol=1e-12, max_iter=10000).fit(X, y, sample_weight=w)
    Xd, yd = np.vstack([X, X[:1]]), np.concatenate([y, y[:1]])
    duplicated = LogisticRegression(tol=1e-12, max_iter=10000).fit(Xd, yd)
    a = _scores(weighted, X, y, Xv, yv, method, w)
    b = _scores(duplicated, Xd, yd, Xv, yv, method, None)
    np.testing.assert_allclose(a[0], b[0] + b[-1], rtol=1e-5)
    np.testing.assert_allclose(a[1:], b[1:-1], rtol=1e-5, atol=1e-12)


# -- a small skorch net, by autograd ------------------------------------------------------------
class MLP(torch.nn.Module):
    def __init__(self, p=4, k=3, hidden=5):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(p, hidden), torch.nn.Tanh())
        self.head = torch.nn.Linear(hidden, k)

    def forward(self, x):
        return self.head(self.body(x))


def net_data(n=60, seed=0):
    X, y = make_classification(
        n_samples=n + 25,
        n_features=4,
        n_informative=3,
        n_redundant=0,
        n_classes=3,
        random_state=seed,
    )
    X = StandardScaler().fit_transform(X).astype(np.float32)
    return X[:n], y[:n], X[n:], y[n:]


def fit_net(X, y, callbacks=(), **kwargs):
    torch.manual_seed(0)
    params = dict(
        criterion=torch.nn.CrossEntropyLoss,
        max_epochs=20,
        lr=0.2,
        batch_size=16,
        train_split=None,
        verbose=0,
        optimizer__weight_decay=1e-2,
        callbacks=list(callbacks),
    )
    params.update(kwargs)
    return NeuralNetClassifier(MLP, **params).fit(X, y)


def autograd_quantities(module, X, y, Xv, yv, wd):
    """Row gradients, validation gradient and the regularised Hessian, in float64."""
    mod = copy.deepcopy(module).double()
    names = [n for n, _ in mod.named_parameters()]
    theta0 = torch.cat([p.detach().reshape(-1) for p in mod.parameters()])
    shapes = [p.shape for p in mod.parameters()]

    def unflat(theta):
        out, start = {}, 0
        for name, shape in zip(names, shapes):
            size = int(np.prod(shape))
            out[name] = theta[start : start + size].reshape(shape)
            start += size
        return out

    def loss(theta, Xa, ya):
        f = torch.func.functional_call(mod, unflat(theta), (Xa,))
        return torch.nn.functional.cross_entropy(f, ya)

    Xt, yt = torch.tensor(X, dtype=torch.float64), torch.tensor(y)
    Xvt, yvt = torch.tensor(Xv, dtype=torch.float64), torch.tensor(yv)
    G = np.stack(
        [
            torch.autograd.grad(
                loss(theta0.requires_grad_(), Xt[i : i + 1], yt[i : i + 1]), theta0
            )[0]
            .detach()
            .numpy()
            for i in range(len(X))
        ]
    )
    v = torch.autograd.grad(loss(theta0.requires_grad_(), Xvt, yvt), theta0)[0].detach().numpy()

    def objective(theta):
        return loss(theta, Xt, yt) + 0.5 * wd * (theta**2).sum()

    H = torch.autograd.functional.hessian(objective, theta0.detach()).numpy()
    return G, v, H


@pytest.fixture(scope="module")
def net_case():
    X, y, Xv, yv = net_data()
    net = fit_net(X, y)
    return net, X, y, Xv, yv


@pytest.mark.parametrize("method", ["if", "relatif", "renormalized_if", "gas"])
def test_net_against_autograd(net_case, method):
    net, X, y, Xv, yv = net_case
    G, v, H = autograd_quantities(net.module_, X, y, Xv, yv, wd=1e-2)
    # damped: the net is not at an exact minimum (its Hessian is indefinite)
    want = formulas(G, v, H + 0.1 * np.eye(len(H)), len(X))[method]
    got = influence_scores(net, X, y, Xv, yv, method, damping=0.1)
    assert rel_err(got, want) < 1e-6


def test_gas_over_checkpoints_against_the_saved_states():
    X, y, Xv, yv = net_data()
    net = fit_net(
        X,
        y,
        callbacks=[TracInCheckpoints(every=2)],
        max_epochs=5,
        optimizer__param_groups=[("head.*", {"lr": 0.05})],
    )
    cb = next(c for _, c in net.callbacks_ if isinstance(c, TracInCheckpoints))
    assert [c["epoch"] for c in cb.checkpoints_] == [2, 4, 5]
    want = np.zeros(len(X))
    for c in cb.checkpoints_:
        mod = copy.deepcopy(net.module_)
        mod.load_state_dict({k: torch.tensor(a) for k, a in c["params"].items()})
        G, v, _ = autograd_quantities(mod, X, y, Xv, yv, wd=1e-2)
        eta = np.concatenate(
            [np.full(p.numel(), c["lr"][name]) for name, p in mod.named_parameters()]
        )
        want += (G @ (eta * v)) / (np.linalg.norm(v) * np.linalg.norm(G, axis=1))
    want = -want / len(X)
    got = influence_scores(net, X, y, Xv, yv, "gas")
    assert rel_err(got, want) < 1e-6
    # the checkpoints matter: not the final-model cosine alone
    G, v, H = autograd_quantities(net.module_, X, y, Xv, yv, wd=1e-2)
    final = formulas(G, v, H, len(X))["gas"]
    assert rel_err(got, 0.05 * final) > 1e-2 and rel_err(got, 0.2 * final) > 1e-2


def test_gas_last_layer_of_a_net(net_case):
    """``params="last"``: the norms are over the head's parameters only."""
    net, X, y, Xv, yv = net_case
    ad = make_adapter(net, X, y, params="last")
    ye, yve = ad.encode_y(y), ad.encode_y(yv)
    G = ad.loss_grad(X, ye)
    v = ad.loss_grad(Xv, yve).mean(0)
    want = -(G @ v) / (np.linalg.norm(v) * np.linalg.norm(G, axis=1)) / len(X)
    got = influence_scores(net, X, y, Xv, yv, "gas", params="last")
    assert G.shape[1] == 18 and rel_err(got, want) < RTOL


# -- gex ---------------------------------------------------------------------------------------
def test_gex_without_steps_is_ip(logistic_case):
    model, X, y, Xv, yv = logistic_case
    ad = make_adapter(model, X, y)
    ye, yve = ad.encode_y(y), ad.encode_y(yv)
    got = gex_scores(ad, None, X, ye, Xv, yve, n_steps=0, n_estimators=3, random_state=0)
    assert rel_err(got, ip_scores(ad, None, X, ye, Xv, yve)) < 1e-12


def hand_sgd_logistic(model, X, y, w, *, n_estimators, n_steps, batch_size, lr, seed):
    """The module's recipe, rebuilt: SGD on ``Σ s_i L_i / W + ‖w‖²/(2CW)`` from ``θ̂``."""
    s = np.ones(len(y)) if w is None else w
    n, W = len(y), s.sum()
    Xt = np.hstack([X, np.ones((n, 1))])
    lam = np.full(Xt.shape[1], 1.0 / (model.C * W))
    lam[-1] = 0.0
    theta0 = np.concatenate([model.coef_.ravel(), model.intercept_])
    rng = check_random_state(seed)
    out = []
    for _ in range(n_estimators):
        batches = []
        while len(batches) < n_steps:
            perm = rng.permutation(n)
            batches += [perm[i : i + batch_size] for i in range(0, n, batch_size)]
        theta = theta0.copy()
        for rows in batches[:n_steps]:
            g = (sigmoid(Xt[rows] @ theta) - y[rows])[:, None] * Xt[rows]
            grad = (n / W) * (s[rows] @ g) / len(rows)
            theta = theta - lr * (grad + lam * theta)
        out.append(theta)
    return out


def hand_ip(model_theta, X, y, Xv, yv, W):
    Xt = np.hstack([X, np.ones((len(X), 1))])
    Xvt = np.hstack([Xv, np.ones((len(Xv), 1))])
    G = (sigmoid(Xt @ model_theta) - y)[:, None] * Xt
    v = ((sigmoid(Xvt @ model_theta) - yv)[:, None] * Xvt).mean(0)
    return -(G @ v) / W


@pytest.mark.parametrize("weighted", [False, True])
def test_gex_is_ip_averaged_over_hand_made_sgd_models(weighted_case, weighted):
    X, y, w, Xv, yv = weighted_case
    w = w if weighted else None
    model = LogisticRegression(C=0.5, tol=1e-12, max_iter=10_000).fit(X, y, sample_weight=w)
    W = len(y) if w is None else w.sum()
    kw = dict(n_estimators=4, n_steps=11, batch_size=16, lr=0.5, seed=7)
    thetas = hand_sgd_logistic(model, X, y, w, **kw)
    want = np.mean([hand_ip(t, X, y, Xv, yv, W) for t in thetas], axis=0)
    if w is not None:
        want = w * want
    ad = make_adapter(model, X, y, sample_weight=w)
    got = gex_scores(
        ad, None, X, ad.encode_y(y), Xv, ad.encode_y(yv),
        n_estimators=4, n_steps=11, batch_size=16, learning_rate=0.5, random_state=7,
    )  # fmt: skip
    if w is not None:
        got = w * got  # what the dispatch does (weights="scale")
    assert rel_err(got, want) < 1e-10
    # the models moved, and the ensemble is not ip
    assert min(np.linalg.norm(t - ad.get_theta()) for t in thetas) > 1e-3
    assert rel_err(got, ip_scores(ad, None, X, ad.encode_y(y), Xv, ad.encode_y(yv))) > 1e-3


@pytest.mark.parametrize("weighted", [False, True])
def test_gex_default_learning_rate(weighted_case, weighted):
    """``min(2 b m / (n tr C), 1 / L)`` with ``tr C`` and ``L`` by hand."""
    X, y, w, Xv, yv = weighted_case
    w = w if weighted else None
    model = LogisticRegression(C=0.5, tol=1e-12, max_iter=10_000).fit(X, y, sample_weight=w)
    G, v, H, _, W = logistic_quantities(model, X, y, Xv, yv, w)
    n, m = G.shape
    Q = G if w is None else (n / W) * w[:, None] * G
    tr_c = np.mean(np.sum((Q - Q.mean(0)) ** 2, axis=1))
    top = np.max(np.abs(np.linalg.eigvalsh(H)))
    ad = make_adapter(model, X, y, sample_weight=w)
    ye = ad.encode_y(y)
    assert abs(gradient_noise(ad, X, ye) / tr_c - 1) < 1e-10
    estimate = top_curvature(ad, check_random_state(3))
    assert abs(estimate / top - 1) < 0.01  # 20 power iterations
    lr = min(2 * 32 * m / (n * tr_c), 1.0 / estimate)
    assert abs(default_learning_rate(ad, X, ye, 32, check_random_state(3)) / lr - 1) < 1e-10
    # the recipe: the power iteration's start comes first from the same stream
    rng = check_random_state(3)
    rng.normal(size=m)
    default = gex_models(ad, X, ye, n_estimators=2, n_steps=5, random_state=3)
    explicit = gex_models(ad, X, ye, n_estimators=2, n_steps=5, learning_rate=lr,
                          random_state=rng)  # fmt: skip
    np.testing.assert_allclose(default, explicit, rtol=1e-9)


def test_gex_on_a_net_against_torch_sgd(net_case):
    net, X, y, Xv, yv = net_case
    ad = make_adapter(net, X, y)
    ye, yve = ad.encode_y(y), ad.encode_y(yv)
    lr, steps, b, E = 0.3, 6, 16, 3
    got = gex_scores(ad, None, X, ye, Xv, yve, n_estimators=E, n_steps=steps, batch_size=b,
                     learning_rate=lr, random_state=1)  # fmt: skip
    rng = check_random_state(1)
    Xt, yt = torch.tensor(X, dtype=torch.float64), torch.tensor(y)
    want = np.zeros(len(X))
    for _ in range(E):
        batches = []
        while len(batches) < steps:
            perm = rng.permutation(len(X))
            batches += [perm[i : i + b] for i in range(0, len(X), b)]
        mod = copy.deepcopy(net.module_).double().eval()
        opt = torch.optim.SGD(mod.parameters(), lr=lr, weight_decay=1e-2)
        for rows in batches[:steps]:
            opt.zero_grad()
            torch.nn.functional.cross_entropy(mod(Xt[rows]), yt[rows]).backward()
            opt.step()
        G, v, _ = autograd_quantities(mod, X, y, Xv, yv, wd=1e-2)
        want += -(G @ v) / len(X)
    want /= E
    assert rel_err(got, want) < 1e-8


def test_gex_through_the_estimators(logistic_case):
    model, X, y, Xv, yv = logistic_case
    a = influence_scores(model, X, y, Xv, yv, "gex", n_estimators=3, random_state=0)
    b = influence_scores(model, X, y, Xv, yv, "gex", n_estimators=3, random_state=0)
    c = influence_scores(model, X, y, Xv, yv, "gex", n_estimators=3, random_state=1)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # related to ip on a convex model (seed 001 §6: "GEX simplif[ies] to IP")
    ip = influence_scores(model, X, y, Xv, yv, "ip")
    assert np.corrcoef(a, ip)[0, 1] > 0.5
    trim = InfluenceTrimmer(
        LogisticRegression(), method="gex", budget=5, validation=0.25, n_estimators=2,
        random_state=0,
    ).fit(np.vstack([X, Xv]), np.concatenate([y, yv]))  # fmt: skip
    assert len(trim.trimmed_indices_) == 5


def test_gex_bad_options(logistic_case):
    model, X, y, Xv, yv = logistic_case
    ad = make_adapter(model, X, y)
    ye, yve = ad.encode_y(y), ad.encode_y(yv)
    for kw, match in (
        ({"n_estimators": 0}, "n_estimators"),
        ({"n_steps": -1}, "n_steps"),
        ({"batch_size": 0}, "batch_size"),
        ({"learning_rate": 0.0}, "learning_rate"),
    ):
        with pytest.raises(ValueError, match=match):
            gex_scores(ad, None, X, ye, Xv, yve, **kw)


# -- the measures find flipped labels -------------------------------------------------------
@pytest.mark.parametrize("method", SURVEY)
def test_flipped_labels_rank_high_with_clean_validation(method):
    X, y, Xv, yv = binary_data(n=200, seed=5)
    rng = np.random.default_rng(0)
    flipped = rng.choice(len(y), size=20, replace=False)
    noisy = y.copy()
    noisy[flipped] = 1 - noisy[flipped]
    model = LogisticRegression().fit(X, noisy)
    scores = influence_scores(model, X, noisy, Xv, yv, method, random_state=0)
    top = np.argsort(-scores)[:20]
    assert len(np.intersect1d(top, flipped)) >= 8  # random: 2 expected


# -- source --------------------------------------------------------------------------------------
def callback_of(net) -> TracInCheckpoints:
    return next(c for _, c in net.callbacks_ if isinstance(c, TracInCheckpoints))


def hand_source(net, X, y, Xv, yv, damping, wd=1e-2):
    """Unrolled by hand: ``-(1/n) Σ_ℓ g_Vᵀ S_L⋯S_{ℓ+1} (I - S_ℓ) H_ℓ⁻¹ g_iℓ``, expm."""
    from scipy.linalg import expm

    ckpts = callback_of(net).checkpoints_
    starts = [0] + [c["step"] for c in ckpts[:-1]]
    parts = []
    for c, start in zip(ckpts, starts):
        mod = copy.deepcopy(net.module_)
        mod.load_state_dict({k: torch.tensor(a) for k, a in c["params"].items()})
        G, v, H = autograd_quantities(mod, X, y, Xv, yv, wd=wd)
        H = H + damping * np.eye(len(H))
        assert np.linalg.eigvalsh(H).min() > 0  # no clipping in the oracle
        D = np.diag(
            np.concatenate([np.full(p.numel(), c["lr"][n]) for n, p in mod.named_parameters()])
        )
        S = expm(-(c["step"] - start) * D @ H)
        parts.append((G, S, (np.eye(len(H)) - S) @ np.linalg.inv(H)))
    v_final = v  # the last checkpoint is the fitted net
    want = np.zeros(len(X))
    for ell, (G, _, A) in enumerate(parts):
        u = v_final.copy()
        for _, S_later, _ in reversed(parts[ell + 1 :]):
            u = S_later.T @ u
        want += G @ (A.T @ u)
    return -want / len(X)


def test_callback_counts_optimizer_steps():
    X, y, _, _ = net_data()  # 60 rows, batches of 16: 4 steps per epoch
    net = fit_net(X, y, callbacks=[TracInCheckpoints(every=2)], max_epochs=5)
    cb = callback_of(net)
    assert [(c["epoch"], c["step"]) for c in cb.checkpoints_] == [(2, 8), (4, 16), (5, 20)]
    net.partial_fit(X, y)  # appends, and keeps counting
    assert [c["step"] for c in cb.checkpoints_][-1] == 40 and cb.steps_ == 40


def test_source_one_converged_segment_is_if():
    X, y, Xv, yv = net_data()
    net = fit_net(X, y, callbacks=[TracInCheckpoints(every=20)], max_epochs=20)
    assert [c["step"] for c in callback_of(net).checkpoints_] == [80]
    # K η damping = 80 · 0.2 · 3 = 48: e^{-48} of every eigenvalue is left
    got = influence_scores(net, X, y, Xv, yv, "source", damping=3.0)
    want = influence_scores(net, X, y, Xv, yv, "if", damping=3.0)
    assert rel_err(got, want) < 1e-12


def test_source_one_segment_against_expm():
    X, y, Xv, yv = net_data()
    net = fit_net(X, y, callbacks=[TracInCheckpoints(every=20)], max_epochs=20)
    got = influence_scores(net, X, y, Xv, yv, "source", damping=0.1)
    want = hand_source(net, X, y, Xv, yv, damping=0.1)
    assert rel_err(got, want) < 1e-7
    # not yet converged: differs from if
    assert rel_err(got, influence_scores(net, X, y, Xv, yv, "if", damping=0.1)) > 1e-3


def test_source_unrolled_over_segments_against_expm():
    X, y, Xv, yv = net_data()
    net = fit_net(
        X,
        y,
        callbacks=[TracInCheckpoints(every=2)],
        max_epochs=5,
        optimizer__param_groups=[("head.*", {"lr": 0.05})],
    )
    got = influence_scores(net, X, y, Xv, yv, "source", damping=0.5)
    want = hand_source(net, X, y, Xv, yv, damping=0.5)
    assert rel_err(got, want) < 1e-7
    # the earlier segments matter: not the last segment alone
    last = copy.deepcopy(net)
    cb = callback_of(last)
    cb.checkpoints_ = [dict(cb.checkpoints_[-1], step=cb.checkpoints_[-1]["step"] - 4)]
    alone = influence_scores(last, X, y, Xv, yv, "source", damping=0.5)
    assert rel_err(got, alone) > 1e-2


def test_segment_operator():
    rng = np.random.default_rng(0)
    B = rng.normal(size=(5, 5))
    H = B @ B.T + 0.1 * np.eye(5)
    from scipy.linalg import expm

    eta = np.array([0.1, 0.1, 0.3, 0.0, 0.2])
    A = segment_operator(H, eta, 7)
    D = np.diag(eta)
    np.testing.assert_allclose(A, (np.eye(5) - expm(-7 * D @ H)) @ np.linalg.inv(H), atol=1e-12)
    np.testing.assert_allclose(A, A.T, atol=1e-14)
    assert np.all(A[3] == 0.0)  # a frozen parameter does not move
    np.testing.assert_allclose(segment_operator(np.zeros((5, 5)), eta, 7), 7 * D)  # flat: K D
    # an indefinite curvature: the negative direction is treated as flat
    Hn = np.diag([1.0, -2.0])
    np.testing.assert_allclose(
        segment_operator(Hn, np.array([0.5, 0.5]), 4),
        np.diag([(1 - np.exp(-4 * 0.5)) / 1.0, 4 * 0.5]),
    )


def test_source_objective_and_errors(net_case, logistic_case):
    from skinfluence import UnsupportedModelError
    from skinfluence.influence import BaseObjective

    model, X, y, Xv, yv = logistic_case
    with pytest.raises(UnsupportedModelError, match="TracInCheckpoints"):
        influence_scores(model, X, y, Xv, yv, "source")
    net, Xn, yn, Xvn, yvn = net_case  # fitted without the callback
    with pytest.raises(UnsupportedModelError, match="has no TracInCheckpoints callback"):
        influence_scores(net, Xn, yn, Xvn, yvn, "source")

    Xn, yn, Xvn, yvn = net_data()
    net = fit_net(Xn, yn, callbacks=[TracInCheckpoints(every=2)], max_epochs=4)

    class FirstRowLoss(BaseObjective):
        name = "first_row"

        def grad(self, adapter, X_val, y_val_enc):
            return adapter.loss_grad(X_val[:1], y_val_enc[:1])[0]

    got = influence_scores(net, Xn, yn, Xvn, yvn, "source", objective=FirstRowLoss(), damping=0.5)
    want = influence_scores(net, Xn, yn, Xvn[:1], yvn[:1], "source", damping=0.5)
    assert rel_err(got, want) < 1e-10
    old = copy.deepcopy(net)
    for c in callback_of(old).checkpoints_:
        del c["step"]
    with pytest.raises(UnsupportedModelError, match="without optimizer step counts"):
        influence_scores(old, Xn, yn, Xvn, yvn, "source")


def test_step_sizes_of_a_regressor_are_twice_the_learning_rate():
    from skorch import NeuralNetRegressor

    X, _, _, _ = net_data()
    t = (X[:, :1] * 2.0).astype(np.float32)
    torch.manual_seed(0)
    net = NeuralNetRegressor(
        torch.nn.Linear, module__in_features=4, module__out_features=1, max_epochs=2,
        lr=0.05, train_split=None, verbose=0, callbacks=[TracInCheckpoints()],
    ).fit(X, t)  # fmt: skip
    ad = make_adapter(net, X, t[:, 0])
    lr = callback_of(net).checkpoints_[-1]["lr"]
    np.testing.assert_allclose(ad.step_sizes(lr), 0.1)
    clf = make_adapter(*fit_and_data_for_classifier())
    np.testing.assert_allclose(clf.step_sizes({n: 0.2 for n in clf.param_names}), 0.2)


def fit_and_data_for_classifier():
    X, y, _, _ = net_data()
    return fit_net(X, y, max_epochs=1), X, y

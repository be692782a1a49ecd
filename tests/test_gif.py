"""The ``gif`` measure (seed 004): Moore-Penrose influence on selected parameters.

Oracles: ``if`` (every parameter selected), the dense formula
``-(1/n) g_iᵀ pinv(H[:, J])ᵀ ḡ_V[J]`` built here with numpy, and the selection rules
recomputed by hand from per-row gradients, weights and activations.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import InvalidParameterError

from skinfluence import InfluenceTrimmer, influence_scores
from skinfluence.adapters import LinearAdapter
from skinfluence.curvature import ExactSolver, ModifiedLiSSASolver
from skinfluence.exceptions import UnsupportedModelError
from skinfluence.influence import GIF_SELECTIONS, MEASURES, gif_scores, select_parameters


def rel_err(a, b) -> float:
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(260, 12)) * np.linspace(0.3, 2.0, 12)
    y = (X @ rng.normal(size=12) + rng.normal(size=260) > 0).astype(int)
    Xtr, ytr, Xva, yva = X[:200], y[:200], X[200:], y[200:]
    model = LogisticRegression(C=0.3).fit(Xtr, ytr)
    return model, Xtr, ytr, Xva, yva


def dense_gif(model, Xtr, ytr, Xva, yva, J):
    ad = LinearAdapter(model, Xtr, ytr)
    H = ad.hessian()
    g_val = ad.loss_grad(Xva, ad.encode_y(yva)).mean(axis=0)
    G = ad.loss_grad(Xtr, ad.encode_y(ytr))
    u = np.linalg.pinv(H[:, J]).T @ g_val[J]
    return -(G @ u) / len(Xtr)


def test_registered():
    assert MEASURES["gif"].function is gif_scores
    assert MEASURES["gif"].curvature == "restricted"  # it takes curvature, unfitted


def test_all_parameters_is_if(problem):
    model, Xtr, ytr, Xva, yva = problem
    ref = influence_scores(model, Xtr, ytr, Xva, yva, "if")
    exact = influence_scores(model, Xtr, ytr, Xva, yva, "gif", gif_selection="all")
    assert rel_err(exact, ref) < 1e-12
    series = influence_scores(
        model, Xtr, ytr, Xva, yva, "gif", gif_selection="all", solver="modified_lissa"
    )
    assert rel_err(series, ref) < 1e-6
    full = influence_scores(model, Xtr, ytr, Xva, yva, "gif", gif_fraction=1.0)
    assert rel_err(full, ref) < 1e-10  # a rule at 100 % selects everything


@pytest.mark.parametrize("selection", ["gradients", "outputs", "random", "lowest_gradients"])
def test_subset_is_the_moore_penrose_formula(problem, selection):
    model, Xtr, ytr, Xva, yva = problem
    ad = LinearAdapter(model, Xtr, ytr)
    J = select_parameters(ad, Xtr, ad.encode_y(ytr), selection, 0.3, random_state=0)
    assert J.size == 4  # ceil(0.3 · 13)
    expected = dense_gif(model, Xtr, ytr, Xva, yva, J)
    kw = dict(gif_selection=selection, gif_fraction=0.3, random_state=0)
    exact = influence_scores(model, Xtr, ytr, Xva, yva, "gif", **kw)
    assert rel_err(exact, expected) < 1e-9
    series = influence_scores(model, Xtr, ytr, Xva, yva, "gif", solver="modified_lissa", **kw)
    assert rel_err(series, expected) < 1e-6
    # explicit positions give the same scores
    explicit = influence_scores(model, Xtr, ytr, Xva, yva, "gif", gif_selection=J)
    np.testing.assert_allclose(explicit, exact, rtol=1e-12)
    mask = np.zeros(ad.n_params, dtype=bool)
    mask[J] = True
    np.testing.assert_allclose(
        influence_scores(model, Xtr, ytr, Xva, yva, "gif", gif_selection=mask), exact, rtol=1e-12
    )


def test_gif_is_not_the_projected_or_frozen_influence(problem):
    """Seed 004 §3: GIF differs from projecting IF onto J and from freezing θ_{-J}."""
    model, Xtr, ytr, Xva, yva = problem
    ad = LinearAdapter(model, Xtr, ytr)
    H = ad.hessian()
    J = np.array([0, 3, 7, 12])
    gif = dense_gif(model, Xtr, ytr, Xva, yva, J)
    g_val = ad.loss_grad(Xva, ad.encode_y(yva)).mean(axis=0)
    G = ad.loss_grad(Xtr, ad.encode_y(ytr))
    frozen = -(G[:, J] @ np.linalg.solve(H[np.ix_(J, J)], g_val[J])) / len(Xtr)
    assert rel_err(gif, frozen) > 1e-3
    scores = influence_scores(model, Xtr, ytr, Xva, yva, "gif", gif_selection=J)
    assert rel_err(scores, gif) < 1e-10


def test_damping_enters_the_hessian(problem):
    model, Xtr, ytr, Xva, yva = problem
    ad = LinearAdapter(model, Xtr, ytr)
    J = np.arange(0, 13, 2)
    H = ad.hessian() + 0.5 * np.eye(13)
    g_val = ad.loss_grad(Xva, ad.encode_y(yva)).mean(axis=0)
    G = ad.loss_grad(Xtr, ad.encode_y(ytr))
    expected = -(G @ (np.linalg.pinv(H[:, J]).T @ g_val[J])) / len(Xtr)
    got = influence_scores(model, Xtr, ytr, Xva, yva, "gif", gif_selection=J, damping=0.5)
    assert rel_err(got, expected) < 1e-10
    solver = ModifiedLiSSASolver(damping=0.5).fit(ad)
    got = gif_scores(ad, solver, Xtr, ad.encode_y(ytr), Xva, ad.encode_y(yva), gif_selection=J)
    assert rel_err(got, expected) < 1e-6


# -- selection rules ---------------------------------------------------------------------
def test_selection_rules_on_a_linear_model(problem):
    model, Xtr, ytr, *_ = problem
    ad = LinearAdapter(model, Xtr, ytr)
    y_enc = ad.encode_y(ytr)
    grad_size = np.abs(ad.loss_grad(Xtr, y_enc)).mean(axis=0)
    W = np.append(model.coef_[0], model.intercept_[0])
    out_size = np.abs(W) * np.abs(np.hstack([Xtr, np.ones((200, 1))])).mean(axis=0)
    for rule, size, sign in [
        ("gradients", grad_size, -1),
        ("lowest_gradients", grad_size, 1),
        ("outputs", out_size, -1),
        ("lowest_outputs", out_size, 1),
    ]:
        J = select_parameters(ad, Xtr, y_enc, rule, 0.25)
        assert J.size == 4
        np.testing.assert_array_equal(J, np.sort(np.argsort(sign * size)[:4]))
    r0 = select_parameters(ad, Xtr, y_enc, "random", 0.25, random_state=0)
    np.testing.assert_array_equal(
        r0, select_parameters(ad, Xtr, y_enc, "random", 0.25, random_state=0)
    )
    others = {
        tuple(select_parameters(ad, Xtr, y_enc, "random", 0.25, random_state=s))
        for s in range(1, 6)
    }
    assert len(others | {tuple(r0)}) > 1 and r0.size == 4 and len(set(r0)) == 4
    np.testing.assert_array_equal(select_parameters(ad, Xtr, y_enc, "all"), np.arange(13))
    assert set(GIF_SELECTIONS) >= {"gradients", "outputs", "random", "all"}


@pytest.mark.parametrize(
    "kwargs, err, match",
    [
        ({"gif_selection": "biggest"}, ValueError, "gif_selection must be one of"),
        ({"gif_fraction": 0.0}, ValueError, "gif_fraction"),
        ({"gif_fraction": 1.5}, ValueError, "gif_fraction"),
        ({"gif_selection": np.array([0, 40])}, ValueError, "outside"),
        ({"gif_selection": np.ones(3, dtype=bool)}, ValueError, "shape"),
        ({"gif_selection": np.array([0.5])}, ValueError, "positions"),
        ({"solver": "cg"}, ValueError, "modified_lissa"),
    ],
)
def test_bad_input(problem, kwargs, err, match):
    model, Xtr, ytr, Xva, yva = problem
    X_before = Xtr.copy()
    with pytest.raises(err, match=match):
        influence_scores(model, Xtr, ytr, Xva, yva, "gif", **kwargs)
    np.testing.assert_array_equal(Xtr, X_before)


def test_trimmer(problem):
    model, Xtr, ytr, Xva, yva = problem
    trim = InfluenceTrimmer(
        LogisticRegression(C=0.3), method="gif", budget=10, gif_fraction=0.3, random_state=0
    ).fit(Xtr, ytr, X_val=Xva, y_val=yva)
    expected = influence_scores(model, Xtr, ytr, Xva, yva, "gif", gif_fraction=0.3)
    np.testing.assert_allclose(trim.scores_, expected, rtol=1e-8, atol=1e-14)
    np.testing.assert_array_equal(trim.trimmed_indices_, np.argsort(-expected, kind="stable")[:10])
    with pytest.raises(InvalidParameterError, match="gif_fraction"):
        InfluenceTrimmer(method="gif", gif_fraction=2.0).fit(Xtr, ytr)
    with pytest.raises(InvalidParameterError, match="gif_selection"):
        InfluenceTrimmer(method="gif", gif_selection="nope").fit(Xtr, ytr)


# -- torch: per-tensor groups and layer outputs ------------------------------------------
def _fit_net(X, y, **kwargs):
    """The tanh MLP these tests score: 5 inputs, 6 hidden units, 3 classes."""
    import torch
    from _nets import MLP
    from skorch import NeuralNetClassifier

    torch.manual_seed(0)
    net = NeuralNetClassifier(
        MLP,
        module__p=5,
        module__hidden=6,
        criterion=torch.nn.CrossEntropyLoss,
        train_split=None,
        verbose=0,
        **kwargs,
    )
    return net.fit(X, y)


@pytest.fixture(scope="module")
def net_problem():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(90, 5)).astype(np.float32)
    y = rng.integers(0, 3, size=90).astype(np.int64)
    net = _fit_net(X[:60], y[:60], max_epochs=10, lr=0.1, optimizer__weight_decay=0.05)
    return net, X[:60], y[:60], X[60:], y[60:]


@pytest.mark.torch
def test_torch_selection_is_per_parameter_tensor(net_problem):
    from skinfluence.adapters._torch import TorchAdapter

    net, X, y, *_ = net_problem
    ad = TorchAdapter(net, X, y)
    y_enc = ad.encode_y(y)
    J = select_parameters(ad, X, y_enc, "gradients", 0.2)
    sizes = {"body.0.weight": 30, "body.0.bias": 6, "head.weight": 18, "head.bias": 3}
    expected_k = sum(int(np.ceil(0.2 * s)) for s in sizes.values())
    assert J.size == expected_k == 6 + 2 + 4 + 1
    grad_size = np.abs(ad.loss_grad(X, y_enc)).mean(axis=0)
    for g in ad.param_groups():
        k = int(np.ceil(0.2 * g.size))
        np.testing.assert_array_equal(
            np.intersect1d(J, g), np.sort(g[np.argsort(-grad_size[g])[:k]])
        )


@pytest.mark.torch
def test_torch_output_rule_uses_layer_inputs(net_problem):
    import torch

    from skinfluence.adapters._torch import TorchAdapter

    net, X, y, *_ = net_problem
    ad = TorchAdapter(net, X, y)
    m = net.module_
    with torch.no_grad():
        Xt = torch.as_tensor(X, dtype=torch.float32)
        h = m.body(Xt).double().numpy()  # tanh of the hidden layer
    hidden = m.body[0]
    Wh, bh = hidden.weight.detach().double().numpy(), hidden.bias.detach().double().numpy()
    Wo, bo = m.head.weight.detach().double().numpy(), m.head.bias.detach().double().numpy()
    expected = np.concatenate(
        [
            (np.abs(Wh) * np.abs(X).mean(axis=0)).ravel(),
            np.abs(bh),
            (np.abs(Wo) * np.abs(h).mean(axis=0)).ravel(),
            np.abs(bo),
        ]
    )
    np.testing.assert_allclose(ad.output_contributions(X), expected, rtol=1e-5)


@pytest.mark.torch
def test_torch_gif_all_is_if_and_subset_formula(net_problem):
    from skinfluence.adapters._torch import TorchAdapter

    net, X, y, Xv, yv = net_problem
    kw = dict(gauss_newton=True, damping=0.1)
    ref = influence_scores(net, X, y, Xv, yv, "if", **kw)
    gif = influence_scores(net, X, y, Xv, yv, "gif", gif_selection="all", **kw)
    assert rel_err(gif, ref) < 1e-10
    ad = TorchAdapter(net, X, y, gauss_newton=True)
    J = select_parameters(ad, X, ad.encode_y(y), "outputs", 0.3)
    H = ad.hessian() + 0.1 * np.eye(ad.n_params)
    g_val = ad.loss_grad(Xv, ad.encode_y(yv)).mean(axis=0)
    expected = -(ad.loss_grad(X, ad.encode_y(y)) @ (np.linalg.pinv(H[:, J]).T @ g_val[J])) / 60
    got = influence_scores(
        net, X, y, Xv, yv, "gif", gif_selection="outputs", gif_fraction=0.3, **kw
    )
    assert rel_err(got, expected) < 1e-8


@pytest.mark.torch
def test_torch_output_rule_needs_linear_layers(net_problem):
    from skinfluence.adapters._torch import TorchAdapter

    net, X, y, Xv, yv = net_problem
    scaled = _fit_net(X, y, module__scale=True, max_epochs=2)
    with pytest.raises(UnsupportedModelError, match="gradients"):
        influence_scores(scaled, X, y, Xv, yv, "gif", gif_selection="outputs", damping=0.1)
    # the gradient rule works on any parameter
    ad = TorchAdapter(scaled, X, y)
    J = select_parameters(ad, X, ad.encode_y(y), "gradients", 0.1)
    assert "scale" in ad.param_names and J.size == 3 + 1 + 2 + 1 + 1


def test_exact_solver_instance_is_accepted(problem):
    model, Xtr, ytr, Xva, yva = problem
    a = influence_scores(model, Xtr, ytr, Xva, yva, "gif", solver=ExactSolver(), gif_fraction=0.5)
    b = influence_scores(model, Xtr, ytr, Xva, yva, "gif", gif_fraction=0.5)
    np.testing.assert_allclose(a, b, rtol=1e-12)

"""KFSVD (seed 000 §4): the truncated SVD of the mixed derivative and FI^active with it.

Oracles: the explicit ``m × p`` mixed derivative of every row built here by torch
autograd in float64 (``jacobian`` in ``x`` of ``∂θ L``) and ``np.linalg.svd`` of it;
the exact pair factors of :func:`fi_pair_factors`.
"""

from __future__ import annotations

import numpy as np
import pytest

from skinfluence import InfluenceActiveLearner
from skinfluence.curvature import ExactSolver
from skinfluence.influence._active import fi_active_scores, fi_pair_factors
from skinfluence.influence._kfsvd import kfsvd_pair_factors, truncated_mixed_svd

# torch-only module: skipped as a whole where torch or skorch cannot be imported
torch = pytest.importorskip("torch")
pytest.importorskip("skorch")
from _nets import MLP  # noqa: E402
from skorch import NeuralNetClassifier  # noqa: E402

from skinfluence.adapters._torch import TorchAdapter  # noqa: E402

pytestmark = pytest.mark.torch


def fit_net(p, k=3, n=40, hidden=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)).astype(np.float32)
    score = X @ rng.normal(size=(p, k))
    y = np.argmax(score + rng.gumbel(size=score.shape), axis=1).astype(np.int64)
    torch.manual_seed(seed)
    net = NeuralNetClassifier(
        MLP,
        module__p=p,
        module__k=k,
        module__hidden=hidden,
        criterion=torch.nn.CrossEntropyLoss,
        max_epochs=10,
        lr=0.1,
        batch_size=16,
        train_split=None,
        verbose=0,
        optimizer__weight_decay=0.01,
    )
    return net.fit(X, y), X, y


def explicit_mixed(net, X, y) -> np.ndarray:
    """``M_i = ∂x ∂θ L(y_i, x; θ)`` at ``x_i`` for every row, (n, m, p), by autograd."""
    module = net.module_
    params = [p.detach().double().clone().requires_grad_(True) for p in module.parameters()]
    names = [n for n, _ in module.named_parameters()]
    out = []
    for x, t in zip(X, y):

        def grad_theta(x_):
            logits = torch.func.functional_call(module, dict(zip(names, params)), (x_[None],))
            loss = torch.nn.functional.cross_entropy(logits, torch.tensor([int(t)]))
            grads = torch.autograd.grad(loss, params, create_graph=True)
            return torch.cat([g.reshape(-1) for g in grads])

        x0 = torch.as_tensor(x, dtype=torch.float64)
        out.append(torch.autograd.functional.jacobian(grad_theta, x0).numpy())
    return np.stack(out)


@pytest.fixture(scope="module")
def wide():
    """p = 12 inputs, m = 12·5 + 5 + 5·3 + 3 = 83 parameters."""
    net, X, y = fit_net(p=12)
    ad = TorchAdapter(net, X, y, gauss_newton=True)
    return net, ad, X[:8], ad.encode_y(y[:8])


def test_explicit_mixed_derivative_agrees_with_the_adapter_products(wide):
    net, ad, X, y_enc = wide
    M = explicit_mixed(net, X, y_enc)
    assert M.shape == (8, ad.n_params, 12)
    C = np.random.default_rng(0).normal(size=(8, 2, 12))
    got = ad.mixed_jvp(X, y_enc, C)
    np.testing.assert_allclose(got, np.einsum("nmp,nrp->nrm", M, C), rtol=1e-9, atol=1e-12)


def test_full_width_svd_is_exact(wide):
    net, ad, X, y_enc = wide
    M = explicit_mixed(net, X, y_enc)
    sv = np.linalg.svd(M, compute_uv=False)
    U, S, V = truncated_mixed_svd(ad, X, y_enc, svd_rank=12, n_iter=0, random_state=0)
    assert U.shape == (8, ad.n_params, 12) and V.shape == (8, 12, 12)
    np.testing.assert_allclose(S, sv, rtol=1e-9, atol=1e-12 * sv.max())
    np.testing.assert_allclose(U * S[:, None, :] @ np.swapaxes(V, 1, 2), M, atol=1e-10 * sv.max())
    # a rank above min(m, p) is capped
    assert truncated_mixed_svd(ad, X, y_enc, svd_rank=50, random_state=0)[1].shape == (8, 12)


def test_truncated_svd_singular_values(wide):
    """Rank 3 from 3 + 5 directions and 3 power iterations.

    Randomized singular values never exceed the true ones (``Qᵀ M`` is a
    projection of ``M``); on this net the top three come within 2 % (measured
    0.8 %; 14 % without power iterations, 5.9 % with one), and the factors are
    orthonormal.
    """
    net, ad, X, y_enc = wide
    sv = np.linalg.svd(explicit_mixed(net, X, y_enc), compute_uv=False)[:, :3]
    U, S, V = truncated_mixed_svd(ad, X, y_enc, svd_rank=3, n_iter=3, random_state=0)
    assert np.all(S <= sv * (1 + 1e-10))
    assert np.max(np.abs(S - sv) / sv) < 0.02
    eye = np.broadcast_to(np.eye(3), (8, 3, 3))
    np.testing.assert_allclose(np.swapaxes(U, 1, 2) @ U, eye, atol=1e-10)
    np.testing.assert_allclose(np.swapaxes(V, 1, 2) @ V, eye, atol=1e-10)
    # seeded
    again = truncated_mixed_svd(ad, X, y_enc, svd_rank=3, n_iter=3, random_state=0)[1]
    np.testing.assert_array_equal(S, again)


def test_full_rank_pair_factors_equal_the_exact_ones():
    net, X, y = fit_net(p=4)
    ad = TorchAdapter(net, X, y)
    y_enc = ad.encode_y(y)
    solver = ExactSolver(damping=1e-3).fit(ad)
    exact = fi_pair_factors(ad, solver, X, y_enc)
    for n_iter in (0, 2):
        got = kfsvd_pair_factors(ad, solver, X, y_enc, svd_rank=4, n_iter=n_iter, random_state=1)
        assert got.shape == exact.shape == (40, 3, ad.n_params)
        assert np.max(np.abs(got - exact)) < 1e-8 * np.max(np.abs(exact))
    # the hook of fi_active_scores takes either
    X_pool = np.random.default_rng(5).normal(size=(15, 4))
    a = fi_active_scores(ad, solver, X, y_enc, X_pool)
    b = fi_active_scores(
        ad,
        solver,
        X,
        y_enc,
        X_pool,
        pair_factors=lambda *args: kfsvd_pair_factors(*args, svd_rank=4, random_state=0),
    )
    np.testing.assert_allclose(b, a, rtol=1e-7)
    # a lower rank is an approximation, not the same thing
    low = kfsvd_pair_factors(ad, solver, X, y_enc, svd_rank=2, random_state=1)
    assert np.max(np.abs(low - exact)) > 1e-3 * np.max(np.abs(exact))


def test_bad_arguments():
    net, X, y = fit_net(p=4, n=20)
    ad = TorchAdapter(net, X, y)
    with pytest.raises(ValueError, match="svd_rank"):
        truncated_mixed_svd(ad, X, ad.encode_y(y), svd_rank=0)
    with pytest.raises(ValueError, match="n_iter"):
        truncated_mixed_svd(ad, X, ad.encode_y(y), svd_rank=2, n_iter=-1)


@pytest.mark.filterwarnings("ignore::skinfluence.exceptions.SingularHessianWarning")
@pytest.mark.parametrize("solver", ["exact", "kfac"])
def test_learner_with_kfsvd_on_a_skorch_mlp(solver):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 5)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] ** 2 > 0.5).astype(np.int64)
    y_partial = np.where(np.arange(120) < 30, y, -1)
    net = NeuralNetClassifier(
        MLP,
        module__p=5,
        module__k=2,
        module__hidden=8,
        criterion=torch.nn.CrossEntropyLoss,
        max_epochs=10,
        lr=0.1,
        train_split=None,
        verbose=0,
        optimizer__weight_decay=1e-3,
    )
    kwargs = dict(batch_size=10, subsample=1.0, random_state=0, damping=1e-2)

    def learner(**params):
        torch.manual_seed(0)  # the clones train on torch's global generator
        return InfluenceActiveLearner(net, **kwargs, **params)

    fitted = learner(solver=solver, approximation="kfsvd", svd_rank=2, n_rounds=1)
    fitted.fit(X, y_partial, y_oracle=y)
    assert [h["n_labeled"] for h in fitted.history_] == [30, 40]
    pool = fitted.labeled_iter_ == -1
    assert np.isfinite(fitted.scores_[pool]).all() and fitted.query(5).shape == (5,)
    # full rank reproduces the learner without the approximation
    full = learner(solver=solver, approximation="kfsvd", svd_rank=5).fit(X, y_partial)
    exact = learner(solver=solver).fit(X, y_partial)
    np.testing.assert_allclose(full.scores_, exact.scores_, rtol=1e-6)
    with pytest.raises(ValueError, match="approximation"):
        InfluenceActiveLearner(net, approximation="svd").fit(X, y_partial)

"""LiSSA, the modified LiSSA of seed 004, Arnoldi and EK-FAC against exact inverses.

Oracles: ``ExactSolver`` / ``numpy.linalg`` on the dense Hessian (well-conditioned
L2 logistic regression through the linear adapter), explicit matrices through a small
test adapter (indefinite and singular cases), and the explicit Gauss-Newton blocks of
small skorch nets (EK-FAC).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from skinfluence.adapters import LinearAdapter
from skinfluence.curvature import (
    SOLVERS,
    ArnoldiSolver,
    EKFACSolver,
    ExactSolver,
    KFACSolver,
    LiSSADivergenceError,
    LiSSASolver,
    ModifiedLiSSASolver,
    make_solver,
)
from skinfluence.exceptions import (
    ConvergenceWarning,
    SingularHessianWarning,
    UnsupportedModelError,
)


def rel_err(a, b) -> float:
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


class MatrixAdapter:
    """A test double: the 'Hessian' is an explicit symmetric matrix."""

    capabilities = frozenset({"hvp", "hessian"})
    n_train = 1

    def __init__(self, A):
        self.A = np.asarray(A, dtype=np.float64)
        self.n_params = self.A.shape[0]

    def hvp(self, V):
        return self.A @ V

    def hessian(self):
        return self.A.copy()


def spectrum_matrix(eigenvalues, seed=0):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(len(eigenvalues), len(eigenvalues))))
    return (Q * np.asarray(eigenvalues, dtype=float)) @ Q.T


@pytest.fixture(scope="module")
def lr():
    """L2 logistic regression, 9 parameters, condition number about 6."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 8))
    y = (X @ rng.normal(size=8) + rng.normal(size=300) > 0).astype(int)
    model = LogisticRegression(C=0.5).fit(X, y)
    ad = LinearAdapter(model, X, y)
    B = np.random.default_rng(1).normal(size=(ad.n_params, 3))
    return ad, B, ExactSolver().fit(ad).solve(B)


def test_registry():
    for name, cls in [
        ("lissa", LiSSASolver),
        ("modified_lissa", ModifiedLiSSASolver),
        ("arnoldi", ArnoldiSolver),
        ("ekfac", EKFACSolver),
    ]:
        assert SOLVERS[name] is cls
        solver = make_solver(name, damping=0.3)
        assert isinstance(solver, cls) and solver.damping == 0.3


# -- minibatch HVPs --------------------------------------------------------------------
def test_linear_batch_hvp_is_the_mean_over_the_batch(lr):
    ad, B, _ = lr
    np.testing.assert_allclose(ad.batch_hvp(B, np.arange(ad.n_train)), ad.hvp(B), rtol=1e-12)
    parts = np.array_split(np.random.default_rng(0).permutation(ad.n_train), 3)
    mean = sum(ad.batch_hvp(B, p) for p in parts) / 3  # equal-sized parts
    np.testing.assert_allclose(mean, ad.hvp(B), rtol=1e-10)
    assert ad.batch_hvp(B[:, 0], parts[0]).shape == (ad.n_params,)


# -- LiSSA -----------------------------------------------------------------------------
def test_lissa_full_hvps_match_exact(lr):
    ad, B, exact = lr
    solver = LiSSASolver().fit(ad)  # documented settings: scale="auto", tol=1e-10
    assert rel_err(solver.solve(B), exact) <= 1e-4
    assert rel_err(solver.solve(B), exact) <= 1e-8  # what it actually reaches
    assert solver.solve(B[:, 0]).shape == (ad.n_params,)
    # damping: (H + d I)^-1
    ex_d = ExactSolver(damping=0.2).fit(ad).solve(B)
    assert rel_err(LiSSASolver(damping=0.2).fit(ad).solve(B), ex_d) <= 1e-8


def test_lissa_fixed_scale_and_koh_liang_damping(lr):
    ad, B, _ = lr
    # Koh & Liang's recursion with damping d has fixed point (H + d·s)^-1: ours with d·s
    s, d = 1.0, 0.01
    ours = LiSSASolver(damping=d * s, scale=s, max_iter=50000).fit(ad).solve(B)
    h = B.copy()
    for _ in range(20000):
        h = B + (1 - d) * h - ad.hvp(h) / s
    assert rel_err(ours, h / s) < 1e-6


def test_lissa_minibatches_are_unbiased_and_seeded(lr):
    ad, B, exact = lr
    kw = dict(batch_size=100, max_iter=400, random_state=0)
    few = LiSSASolver(n_repeats=1, **kw).fit(ad).solve(B)
    many = LiSSASolver(n_repeats=30, **kw).fit(ad).solve(B)
    assert rel_err(many, exact) < rel_err(few, exact)
    assert rel_err(many, exact) < 0.05
    np.testing.assert_array_equal(many, LiSSASolver(n_repeats=30, **kw).fit(ad).solve(B))


def test_lissa_divergence_raises_with_advice(lr):
    ad, B, _ = lr
    lam_max = np.linalg.eigvalsh(ad.hessian()).max()
    with pytest.raises(LiSSADivergenceError, match="Raise scale"):
        LiSSASolver(scale=lam_max / 3).fit(ad).solve(B)
    # indefinite "Hessian": the message points at damping / gauss_newton instead
    A = spectrum_matrix([-0.5, 1.0, 2.0, 3.0])
    with pytest.raises(LiSSADivergenceError, match="not positive definite"):
        LiSSASolver(scale=10.0).fit(MatrixAdapter(A)).solve(np.ones(4))
    # minibatch divergence is caught too
    with pytest.raises(LiSSADivergenceError, match="minibatch"):
        LiSSASolver(scale=lam_max / 5, batch_size=10, max_iter=200, random_state=0).fit(ad).solve(B)


def test_lissa_not_converged_warns(lr):
    ad, B, _ = lr
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        LiSSASolver(max_iter=3).fit(ad).solve(B)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"scale": 0}, "scale"),
        ({"scale": "big"}, "scale"),
        ({"tol": -1}, "tol"),
        ({"max_iter": 0}, "max_iter"),
        ({"batch_size": 0}, "batch_size"),
        ({"n_repeats": 0}, "n_repeats"),
        ({"damping": -1.0}, "damping"),
    ],
)
def test_lissa_bad_settings(lr, kwargs, match):
    with pytest.raises(ValueError, match=match):
        LiSSASolver(**kwargs).fit(lr[0])


# -- modified LiSSA (seed 004) ----------------------------------------------------------
def test_modified_lissa_all_parameters_is_the_inverse(lr):
    ad, B, exact = lr
    solver = ModifiedLiSSASolver().fit(ad)
    assert rel_err(solver.solve(B), exact) <= 1e-4
    assert rel_err(solver.solve(B), exact) <= 1e-7
    assert solver.n_restarts_ == 0


def test_modified_lissa_selection_is_the_moore_penrose_solve(lr):
    ad, B, _ = lr
    H = ad.hessian()
    J = np.array([0, 2, 5, 8])
    solver = ModifiedLiSSASolver(selection=J).fit(ad)
    pinv = np.linalg.pinv(H[:, J])
    assert rel_err(solver.solve_selected(B), pinv @ B) <= 1e-7  # eq. 6
    assert rel_err(solver.solve(B), pinv.T @ B[J]) <= 1e-7  # its adjoint
    assert solver.solve_selected(B[:, 0]).shape == (4,)


def test_modified_lissa_restarts_when_the_series_diverges(lr):
    ad, B, exact = lr
    lam_max = np.linalg.eigvalsh(ad.hessian()).max()
    solver = ModifiedLiSSASolver(scale=lam_max / 8).fit(ad)  # (H/M)² up to 64: diverges
    x = solver.solve(B)
    assert solver.n_restarts_ >= 2 and solver.scale_ >= lam_max / np.sqrt(2)
    assert rel_err(x, exact) <= 1e-6


def test_modified_lissa_converges_where_lissa_cannot():
    """Indefinite H: the Neumann series of H diverges at every scale; eq. 8 does not."""
    A = spectrum_matrix([-2.0, -0.7, 0.5, 1.0, 3.0], seed=2)
    b = np.random.default_rng(0).normal(size=(5, 2))
    with pytest.raises(LiSSADivergenceError):
        LiSSASolver().fit(MatrixAdapter(A)).solve(b)
    x = ModifiedLiSSASolver().fit(MatrixAdapter(A)).solve(b)
    assert rel_err(x, np.linalg.solve(A, b)) <= 1e-7


def test_modified_lissa_singular_hessian_gives_the_pseudo_inverse():
    rng = np.random.default_rng(4)
    M = rng.normal(size=(5, 5))
    M[1] = M[0]  # parameters 0 and 1 are the same direction: H and H_J are singular
    A = M @ M.T / 5
    b = rng.normal(size=5)
    J = np.array([0, 1, 3])
    assert np.linalg.matrix_rank(A[:, J]) == 2
    solver = ModifiedLiSSASolver(selection=J).fit(MatrixAdapter(A))
    pinv = np.linalg.pinv(A[:, J], rcond=1e-12)
    assert rel_err(solver.solve_selected(b), pinv @ b) <= 1e-6
    assert rel_err(solver.solve(b), pinv.T @ b[J]) <= 1e-6


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"selection": [0, 99]}, "outside"),
        ({"selection": []}, "non-empty"),
        ({"selection": [0.5]}, "ints"),
        ({"mu": 1.0}, "mu"),
        ({"scale": -1.0}, "scale"),
        ({"max_restarts": -1}, "max_restarts"),
    ],
)
def test_modified_lissa_bad_settings(lr, kwargs, match):
    with pytest.raises(ValueError, match=match):
        ModifiedLiSSASolver(**kwargs).fit(lr[0])


def test_modified_lissa_gives_up_with_a_clear_error():
    A = spectrum_matrix([1.0, 2.0, 3.0])
    with pytest.raises(LiSSADivergenceError, match="max_restarts"):
        ModifiedLiSSASolver(scale=1e-3, mu=1.5, max_restarts=2).fit(MatrixAdapter(A)).solve(
            np.ones(3)
        )


# -- Arnoldi ---------------------------------------------------------------------------
def test_arnoldi_with_every_component_is_exact(lr):
    ad, B, exact = lr
    solver = ArnoldiSolver(n_components=ad.n_params, random_state=0).fit(ad)
    assert rel_err(solver.solve(B), exact) <= 1e-10
    ex_d = ExactSolver(damping=0.5).fit(ad).solve(B)
    solver_d = ArnoldiSolver(damping=0.5, n_components=ad.n_params, random_state=0).fit(ad)
    assert rel_err(solver_d.solve(B), ex_d) <= 1e-10


def test_arnoldi_top_k_is_the_truncated_spectral_inverse():
    # 40 parameters, geometric spectrum: the top 5 are well separated
    evals = 2.0 ** -np.arange(40)
    A = spectrum_matrix(evals, seed=1)
    b = np.random.default_rng(0).normal(size=(40, 2))
    solver = ArnoldiSolver(n_components=5, damping=0.01, random_state=0).fit(MatrixAdapter(A))
    w, V = np.linalg.eigh(A)
    top = V[:, -5:]
    expected = top @ ((top.T @ b) / (w[-5:] + 0.01)[:, None])
    assert rel_err(solver.solve(b), expected) <= 1e-4  # default n_iter = 2k + 20
    np.testing.assert_allclose(np.sort(solver.eigenvalues_), w[-5:], rtol=1e-10)
    # off the subspace the inverse is zero
    assert np.abs(solver.solve(V[:, 0])).max() < 1e-8


def test_arnoldi_keeps_largest_magnitude_and_survives_repeated_eigenvalues():
    A = spectrum_matrix([-5.0] * 3 + [1.0] * 7, seed=4)  # two distinct eigenvalues
    top = ArnoldiSolver(n_components=3, n_iter=10, random_state=0).fit(MatrixAdapter(A))
    np.testing.assert_allclose(top.eigenvalues_, [-5.0] * 3, rtol=1e-10)
    # the Krylov space of one start vector is 2-dimensional here; fresh directions
    # after each invariant subspace still span everything with n_iter = m
    full = ArnoldiSolver(n_components=10, random_state=0).fit(MatrixAdapter(A))
    assert full.n_iter_ == 10
    b = np.random.default_rng(0).normal(size=10)
    assert rel_err(full.solve(b), np.linalg.solve(A, b)) <= 1e-10


def test_arnoldi_bad_settings_and_singular_warning(lr):
    with pytest.raises(ValueError, match="n_components"):
        ArnoldiSolver(n_components=0).fit(lr[0])
    with pytest.raises(ValueError, match="n_iter"):
        ArnoldiSolver(n_components=5, n_iter=3).fit(lr[0])
    A = spectrum_matrix([0.0, 1.0, 2.0])
    with pytest.warns(SingularHessianWarning):
        ArnoldiSolver(n_components=3, random_state=0).fit(MatrixAdapter(A))


# -- EK-FAC (torch: imported in the fixtures and tests that need it) ----------------------
def _gn_blocks(ad):
    GN = ad.hessian() - np.diag(ad.lam)
    return GN, {F.layer.module: F for F in ad.kfac_factors()}


def _kfac_matrix(ad):
    out = np.zeros((ad.n_params, ad.n_params))
    for F in ad.kfac_factors():
        out[np.ix_(F.layer.index, F.layer.index)] = np.kron(F.G, F.A)
    return out


@pytest.fixture(scope="module")
def onehot_binary():
    """One linear layer, one logit, one-hot inputs, no bias: EK-FAC is exact."""
    import torch
    from _nets import Linear
    from skorch import NeuralNetBinaryClassifier

    from skinfluence.adapters._torch import TorchAdapter

    rng = np.random.default_rng(0)
    cats = rng.integers(0, 4, size=80)
    X = np.eye(4, dtype=np.float32)[cats]
    y = (rng.random(80) < np.array([0.1, 0.4, 0.7, 0.95])[cats]).astype(np.float32)
    torch.manual_seed(0)
    net = NeuralNetBinaryClassifier(
        Linear, module__k=1, module__bias=False, max_epochs=30, lr=0.5, train_split=None, verbose=0
    ).fit(X, y)
    return TorchAdapter(net, X, y, gauss_newton=True)


@pytest.mark.torch
def test_ekfac_is_exact_when_the_block_is_diagonal_in_the_kfac_basis(onehot_binary):
    ad = onehot_binary
    GN = ad.hessian() - np.diag(ad.lam)
    solver = EKFACSolver(damping=0.05).fit(ad)
    ((index, M),) = solver.matrix_blocks()
    assert rel_err(M, GN[np.ix_(index, index)]) < 1e-10
    assert rel_err(_kfac_matrix(ad), GN) > 0.05  # K-FAC is not exact here
    B = np.random.default_rng(0).normal(size=(ad.n_params, 2))
    exact = ExactSolver(damping=0.05).fit(ad).solve(B)
    assert rel_err(solver.solve(B), exact) < 1e-10
    assert rel_err(KFACSolver(damping=0.05).fit(ad).solve(B), exact) > 1e-3


@pytest.fixture(scope="module")
def mlp_adapter():
    import torch
    from _nets import MLP
    from skorch import NeuralNetClassifier

    from skinfluence.adapters._torch import TorchAdapter

    rng = np.random.default_rng(3)
    X = rng.normal(size=(50, 4)).astype(np.float32)
    y = rng.integers(0, 3, size=50).astype(np.int64)
    torch.manual_seed(3)
    net = NeuralNetClassifier(
        MLP,
        criterion=torch.nn.CrossEntropyLoss,
        max_epochs=10,
        lr=0.1,
        train_split=None,
        verbose=0,
        optimizer__weight_decay=1e-2,
    ).fit(X, y)
    return net, X, y, TorchAdapter(net, X, y, gauss_newton=True)


@pytest.mark.torch
def test_ekfac_one_row_is_exact(mlp_adapter):
    from skinfluence.adapters._torch import TorchAdapter

    net, X, y, _ = mlp_adapter
    ad = TorchAdapter(net, X[:1], y[:1], gauss_newton=True)
    GN = ad.hessian() - np.diag(ad.lam)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularHessianWarning)
        solver = EKFACSolver().fit(ad)
    for index, M in solver.matrix_blocks():
        assert rel_err(M, GN[np.ix_(index, index)]) < 1e-10


@pytest.mark.torch
def test_ekfac_is_closer_than_kfac_in_frobenius_norm(mlp_adapter):
    *_, ad = mlp_adapter
    GN, factors = _gn_blocks(ad)
    solver = EKFACSolver().fit(ad)
    for (index, M), F in zip(solver.matrix_blocks(), factors.values(), strict=True):
        block = GN[np.ix_(index, index)]
        e_ek = np.linalg.norm(block - M)
        e_k = np.linalg.norm(block - np.kron(F.G, F.A))
        assert e_ek < 0.99 * e_k, (F.layer.module, e_ek, e_k)  # ≤ is a theorem


@pytest.mark.torch
def test_ekfac_solve_is_the_inverse_of_its_explicit_matrix(mlp_adapter):
    *_, ad = mlp_adapter
    solver = EKFACSolver(damping=0.01).fit(ad)
    explicit = np.zeros((ad.n_params, ad.n_params))
    for index, M in solver.matrix_blocks():
        explicit[np.ix_(index, index)] = M
    explicit += np.diag(ad.lam) + 0.01 * np.eye(ad.n_params)
    assert rel_err(solver.solve(np.eye(ad.n_params)), np.linalg.inv(explicit)) < 1e-8


@pytest.mark.torch
def test_torch_batch_hvp_and_solvers_on_a_net(mlp_adapter):
    *_, ad = mlp_adapter
    B = np.random.default_rng(0).normal(size=(ad.n_params, 2))
    np.testing.assert_allclose(ad.batch_hvp(B, np.arange(ad.n_train)), ad.hvp(B), rtol=1e-10)
    halves = np.array_split(np.arange(ad.n_train), 2)
    np.testing.assert_allclose(
        (ad.batch_hvp(B, halves[0]) + ad.batch_hvp(B, halves[1])) / 2, ad.hvp(B), rtol=1e-10
    )
    d = 0.3  # well conditioned: iterations stay few (each is a pass over the rows)
    exact = ExactSolver(damping=d).fit(ad).solve(B)
    assert rel_err(LiSSASolver(damping=d).fit(ad).solve(B), exact) <= 1e-4
    assert rel_err(ModifiedLiSSASolver(damping=d).fit(ad).solve(B), exact) <= 1e-4
    arn = ArnoldiSolver(damping=d, n_components=ad.n_params, random_state=0).fit(ad)
    assert rel_err(arn.solve(B), exact) <= 1e-8


def test_ekfac_needs_a_torch_model(lr):
    with pytest.raises(UnsupportedModelError, match="torch"):
        EKFACSolver().fit(lr[0])

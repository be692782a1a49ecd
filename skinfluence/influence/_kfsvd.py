"""KFSVD: FI^active with every labeled row's mixed derivative truncated to rank ``k``.

Seed ``000_c2daca84f3c63cf9.txt`` §4 ("KFSVD approximation") and Algorithm 2
(lines 4 and 11–12): the Hessian is approximated by K-FAC (``solver="kfac"``, see
:mod:`skinfluence.curvature._kfac`) and each labeled row's mixed derivative
``M_k = ∂x∂θ L(y_k, x_k; θ̂)`` (``m × p``) by its rank-``k`` truncated SVD::

    M_k ≈ U_k Λ_k V_kᵀ      U_k: m × k,  Λ_k: k × k diagonal,  V_k: p × k

stored in ``(m + p + 1) k`` numbers per row instead of ``m p``. FI^active is then
:mod:`~skinfluence.influence._active`'s computation with ``M_k`` replaced by its SVD
in both places it enters, ``u M_k ≈ ((u U_k) Λ_k) V_kᵀ`` (the metric ``G_{z_k}``, via
:func:`~skinfluence.influence.perturbation_root`) and ``M_k c ≈ U_k Λ_k (V_kᵀ c)``
(the factor ``N_k = s E_k M_kᵀ``). :func:`kfsvd_pair_factors` returns the same
``(n, R', m)`` stack as :func:`~skinfluence.influence._active.fi_pair_factors`, so
:func:`~skinfluence.influence._active.fi_active_scores` takes either.

**The SVD** never builds ``M_k``: randomized subspace iteration (Halko, Martinsson &
Tropp 2011, Algorithms 4.4 and 5.1) on the adapter's per-row products, batched over
rows with ``np.linalg.qr`` on stacks. With ``l = min(k + n_oversamples, m, p)``
Gaussian directions ``Ω`` (``p × l``, seeded)::

    Q ← qr(M Ω);  repeat n_iter times: Q ← qr(M qr(Mᵀ Q))
    Ũ Λ Vᵀ = svd(Qᵀ M)  (l × p);   U = Q Ũ,  keep the top k

``M C`` is :meth:`~skinfluence.adapters.BaseAdapter.mixed_jvp` and ``Qᵀ M`` is
:meth:`~skinfluence.adapters.BaseAdapter.mixed_product`. When ``l = min(m, p)`` the
subspace is the whole range and the SVD is exact (up to rounding), whatever
``n_iter``.

Cost per labeled row: ``(2 n_iter + 2) l`` mixed products (one forward-and-backward
pass each for torch nets) plus ``O(m l²)`` for the QRs, on top of FI^active's own
``K'`` inverse-Hessian-vector products and ``R' + K'`` products with the (now
low-rank, ``O(k (m + p))``) mixed derivative.

**What it buys here.** The exact path of :mod:`~skinfluence.influence._active`
never stores ``M_k`` either: it keeps only ``N_k`` (``R' m`` numbers per row, from
``K' + R'`` mixed products), which is less than ``(m + p + 1) k`` whenever
``k ≥ R'``, and the truncated SVD is computed on the way to the same ``N_k``. So in
this package KFSVD's truncated SVD adds error and ``O(n_iter · l)`` mixed products
per row and saves no memory; its K-FAC half (``solver="kfac"``) is what makes full
nets affordable. The SVD pays off only where ``M_k`` itself must be kept and applied
to many vectors that are not known in advance. ``docs/kfsvd.md`` measures both.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state

from ..utils import iter_chunks
from ._fi import _per_row, fi_scale, perturbation_root

__all__ = ["kfsvd_pair_factors", "truncated_mixed_svd"]


def _qr(Y: np.ndarray) -> np.ndarray:
    """Orthonormal bases of a stack ``(n, rows, l)`` (reduced QR)."""
    return np.linalg.qr(Y)[0]


def truncated_mixed_svd(
    adapter,
    X,
    y_enc,
    svd_rank: int,
    *,
    n_iter: int = 2,
    n_oversamples: int = 5,
    random_state=None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rank-``k`` truncated SVD ``M_i ≈ U_i diag(S_i) V_iᵀ`` of every row's mixed derivative.

    Randomized subspace iteration on the adapter's products (module docstring),
    batched over rows.

    Parameters
    ----------
    adapter : BaseAdapter
        Supplies ``mixed_jvp`` (``M C``) and ``mixed_product`` (``Uᵀ M``).
    X : array-like of shape (n, p)
        Rows.
    y_enc : ndarray of shape (n,)
        Their encoded labels.
    svd_rank : int
        ``k``; capped at ``min(m, p)``.
    n_iter : int, default=2
        Power (subspace) iterations; each costs ``2 l`` mixed products per row.
    n_oversamples : int, default=5
        Extra directions: ``l = min(k + n_oversamples, m, p)``.
    random_state : int, RandomState instance or None, default=None
        Seeds the Gaussian start directions.

    Returns
    -------
    U : ndarray of shape (n, m, k)
        Orthonormal left singular vectors.
    S : ndarray of shape (n, k)
        Singular values, in decreasing order.
    V : ndarray of shape (n, p, k)
        Orthonormal right singular vectors.
    """
    m, p = adapter.n_params, adapter.n_features
    if isinstance(svd_rank, bool) or int(svd_rank) != svd_rank or svd_rank < 1:
        raise ValueError(f"svd_rank must be an int >= 1, got {svd_rank!r}.")
    if n_iter < 0 or n_oversamples < 0:
        raise ValueError(
            f"n_iter and n_oversamples must be >= 0, got {n_iter!r} and {n_oversamples!r}."
        )
    k = int(min(svd_rank, m, p))
    width = int(min(k + n_oversamples, m, p))
    rng = check_random_state(random_state)
    n = X.shape[0]
    U_out, S_out, V_out = np.empty((n, m, k)), np.empty((n, k)), np.empty((n, p, k))
    for rows in iter_chunks(n, adapter.chunk_size(width)):
        Xc, yc = X[rows], y_enc[rows]
        omega = rng.standard_normal((Xc.shape[0], width, p))
        Q = _qr(np.swapaxes(adapter.mixed_jvp(Xc, yc, omega), 1, 2))  # (b, m, l)
        for _ in range(n_iter):
            Z = _qr(np.swapaxes(adapter.mixed_product(Xc, yc, np.swapaxes(Q, 1, 2)), 1, 2))
            Q = _qr(np.swapaxes(adapter.mixed_jvp(Xc, yc, np.swapaxes(Z, 1, 2)), 1, 2))
        small = adapter.mixed_product(Xc, yc, np.swapaxes(Q, 1, 2))  # Qᵀ M, (b, l, p)
        Ut, S, Vt = np.linalg.svd(small, full_matrices=False)
        U_out[rows] = Q @ Ut[:, :, :k]
        S_out[rows] = S[:, :k]
        V_out[rows] = np.swapaxes(Vt[:, :k, :], 1, 2)
    return U_out, S_out, V_out


class _LowRankMixed:
    """An adapter whose mixed products use ``M_i ≈ U_i diag(S_i) V_iᵀ`` for given rows.

    Everything else is the wrapped adapter's. Only valid for the rows the factors
    were computed on, in that order.
    """

    def __init__(self, adapter, U, S, V):
        self._adapter = adapter
        self._US = U * S[:, None, :]  # (b, m, k)
        self._V = V  # (b, p, k)

    def __getattr__(self, name):
        return getattr(self._adapter, name)

    def _check(self, X):
        if X.shape[0] != self._V.shape[0]:
            raise ValueError(f"low-rank factors hold {self._V.shape[0]} rows, got {X.shape[0]}.")

    def mixed_product(self, X, y, U):
        """``U[i, r] @ M_i`` from the SVD, shape (b, r, p)."""
        self._check(X)
        U = np.asarray(U, dtype=np.float64)
        if U.ndim == 2:
            return np.einsum("rm,bmk,bpk->brp", U, self._US, self._V, optimize=True)
        return (U @ self._US) @ np.swapaxes(self._V, 1, 2)

    def mixed_jvp(self, X, y, C):
        """``M_i @ C[i, r]`` from the SVD, shape (b, r, m)."""
        self._check(X)
        return (np.asarray(C, dtype=np.float64) @ self._V) @ np.swapaxes(self._US, 1, 2)


def kfsvd_pair_factors(
    adapter,
    solver,
    X,
    y_enc,
    scaling: str = "appendix",
    svd_rank: int = 10,
    n_iter: int = 2,
    random_state=None,
    *,
    n_oversamples: int = 5,
) -> np.ndarray:
    """The factors ``N_k = s E_k M_kᵀ`` of the labeled rows, with ``M_k`` truncated.

    :func:`~skinfluence.influence._active.fi_pair_factors` with every ``M_k``
    replaced by its rank-``svd_rank`` SVD (:func:`truncated_mixed_svd`) in both the
    metric root ``E_k`` and the product ``M_k E_kᵀ``. With ``svd_rank ≥ min(m, p)``
    it equals :func:`~skinfluence.influence._active.fi_pair_factors` up to rounding.

    Parameters
    ----------
    adapter : BaseAdapter
        Fitted on the labeled rows.
    solver : BaseSolver, already fitted on ``adapter``
        ``KFACSolver`` for seed 000's KFSVD; any solver works.
    X : array-like of shape (n, p)
        Labeled rows.
    y_enc : ndarray of shape (n,)
        Their encoded labels.
    scaling : {"appendix", "algorithm", "main"}, default="appendix"
        The factor ``s`` of ``∂ωθ̂`` (:mod:`~skinfluence.influence._fi`).
    svd_rank : int, default=10
        Rank ``k`` of the truncated SVD; capped at ``min(m, p)``.
    n_iter : int, default=2
        Power iterations of the randomized SVD.
    random_state : int, RandomState instance or None, default=None
        Seeds the randomized SVD.
    n_oversamples : int, default=5
        Extra directions of the randomized SVD.

    Returns
    -------
    ndarray of shape (n, R', m)
        ``R' = 1`` for one-output models, ``K`` otherwise.
    """
    s = fi_scale(scaling, adapter.weight_sum)
    k = int(min(svd_rank, adapter.n_params, adapter.n_features))
    width = min(k + n_oversamples, adapter.n_params, adapter.n_features)
    rng = check_random_state(random_state)
    weights = adapter.row_weights()
    out = None
    for rows in iter_chunks(X.shape[0], adapter.chunk_size(width + adapter.n_outputs + 2)):
        Xc, yc = X[rows], y_enc[rows]
        U, S, V = truncated_mixed_svd(
            adapter,
            Xc,
            yc,
            svd_rank,
            n_iter=n_iter,
            n_oversamples=n_oversamples,
            random_state=rng,
        )
        low_rank = _LowRankMixed(adapter, U, S, V)
        s_rows = s if weights is None else s * weights[rows]
        E = perturbation_root(low_rank, solver, Xc, yc, s_rows)
        N = _per_row(s_rows) * low_rank.mixed_jvp(Xc, yc, E)
        if out is None:
            out = np.empty((X.shape[0],) + N.shape[1:])
        out[rows] = N
    return out

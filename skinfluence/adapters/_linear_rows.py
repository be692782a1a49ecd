"""Products over blocks of rows, dense or CSR, for :mod:`._linear` (a sparse matrix is
never densified)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

#: Columns per sparse product: scipy's product with many dense columns reads rows of
#: the dense factor at random; in groups of 8 columns they stay in cache (2-3× faster
#: per column at 50,000 × 20,000 with 30 stored entries a row).
_SPARSE_GROUP = 8


class _Rows:
    """The per-chunk quantities of one block of rows, computed once.

    ``X`` in the layout of :func:`~skinfluence.utils.as_rows`, the outputs ``z`` and,
    for the targets ``y`` last asked for, ``r = ∂L/∂z`` and ``S = ∂²L/∂z²``.
    """

    __slots__ = ("X", "z", "y", "r", "S")

    def __init__(self, X, z):
        self.X, self.z = X, z
        self.y = self.r = self.S = None


def _row_products(X, U: np.ndarray) -> np.ndarray:
    """``Σ_j X[i, j] U[i, l, j]`` for every row ``i`` and ``l``: ``(n, L)``.

    ``X`` dense or CSR (only its stored entries are touched), ``U`` of shape (n, L, p).
    """
    if not sp.issparse(X):
        return np.einsum("np,nlp->nl", X, U)
    n = X.shape[0]
    counts = np.diff(X.indptr)
    rows = np.repeat(np.arange(n), counts)
    prod = X.data[:, None] * U[rows, :, X.indices]  # (nnz, L)
    out = np.zeros((n, U.shape[1]))
    full = counts > 0
    if prod.shape[0]:
        out[full] = np.add.reduceat(prod, X.indptr[:-1][full], axis=0)
    return out


def _squares(X):
    """``X ∘ X`` (dense, or CSR with the same pattern)."""
    if sp.issparse(X):
        return sp.csr_matrix((X.data**2, X.indices, X.indptr), shape=X.shape, copy=False)
    return X * X


def _times(A, B: np.ndarray) -> np.ndarray:
    """``A @ B`` for a dense or sparse ``A`` and dense ``B`` (n, r), as an ndarray."""
    if not sp.issparse(A) or B.shape[1] <= 2 * _SPARSE_GROUP:
        return np.asarray(A @ B)
    out = np.empty((A.shape[0], B.shape[1]))
    for start in range(0, B.shape[1], _SPARSE_GROUP):
        cols = slice(start, start + _SPARSE_GROUP)
        out[:, cols] = A @ np.ascontiguousarray(B[:, cols])
    return out


def _iadd(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a += b
    return a


def _weighted_gram(X, s: np.ndarray, intercept: bool, nonnegative: bool = False) -> np.ndarray:
    """``X̃ᵀ diag(s) X̃`` of a block of dense or CSR rows, ``X̃ = [X, 1]`` if ``intercept``.

    Dense rows with ``s ≥ 0`` (``nonnegative``): ``(√s ⊙ X)ᵀ (√s ⊙ X)``, a symmetric
    rank-k update. Sparse rows: the product of the stored entries, scattered into the
    dense result.
    """
    p = X.shape[1]
    q = p + int(intercept)
    G = np.empty((q, q)) if not sp.issparse(X) else np.zeros((q, q))
    if sp.issparse(X):
        scaled = X.data * np.repeat(s, np.diff(X.indptr))
        Xs = sp.csr_matrix((scaled, X.indices, X.indptr), shape=X.shape, copy=False)
        prod = (X.T @ Xs).tocoo()
        G[prod.row, prod.col] = prod.data
        col = np.asarray(X.T @ s).ravel()
    elif nonnegative and np.all(s >= 0):
        root = np.sqrt(s)
        Xs = X * root[:, None]
        G[:p, :p] = Xs.T @ Xs
        col = Xs.T @ root
    else:
        Xs = X * s[:, None]
        G[:p, :p] = Xs.T @ X
        col = X.T @ s
    if intercept:
        G[:p, p] = G[p, :p] = col
        G[p, p] = s.sum()
    return G

"""Pieces shared by the influence measures."""

from __future__ import annotations

import numpy as np

from ..utils import iter_chunks


def mean_loss_grad(adapter, X, y_enc: np.ndarray, weights=None) -> np.ndarray:
    """Mean validation-loss gradient ``ḡ_V = mean_v ∂θ L(y_v, x_v; θ̂)``, shape (m,).

    With ``weights`` (one per row) the weighted mean ``Σ_v w_v ∂θL_v / Σ_v w_v``.
    """
    total = np.zeros(adapter.n_params)
    w = None if weights is None else np.asarray(weights, dtype=np.float64)
    for rows in iter_chunks(X.shape[0], adapter.chunk_size()):
        total += adapter.loss_grad_sum(X[rows], y_enc[rows], None if w is None else w[rows])
    return total / (X.shape[0] if w is None else w.sum())


def inner_product_scores(adapter, X, y_enc, v: np.ndarray) -> np.ndarray:
    """Return ``∂θL(y_i, x_i)ᵀ v`` for every row, in chunks of bounded memory."""
    n = X.shape[0]
    out = np.empty(n)
    for rows in iter_chunks(n, adapter.chunk_size()):
        out[rows] = adapter.loss_grad_dot(X[rows], y_enc[rows], v)
    return out

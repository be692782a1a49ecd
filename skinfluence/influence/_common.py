"""Pieces shared by the influence measures."""

from __future__ import annotations

import numpy as np

from ..utils import iter_chunks


def mean_loss_grad(adapter, X, y_enc: np.ndarray) -> np.ndarray:
    """Mean validation-loss gradient ``ḡ_V = mean_v ∂θ L(y_v, x_v; θ̂)``, shape (m,)."""
    total = np.zeros(adapter.n_params)
    for rows in iter_chunks(X.shape[0], adapter.chunk_size()):
        total += adapter.loss_grad_sum(X[rows], y_enc[rows])
    return total / X.shape[0]


def inner_product_scores(adapter, X, y_enc, v: np.ndarray) -> np.ndarray:
    """Return ``∂θL(y_i, x_i)ᵀ v`` for every row, in chunks of bounded memory."""
    n = X.shape[0]
    out = np.empty(n)
    for rows in iter_chunks(n, adapter.chunk_size()):
        out[rows] = adapter.loss_grad_dot(X[rows], y_enc[rows], v)
    return out

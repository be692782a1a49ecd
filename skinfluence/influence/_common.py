"""Pieces shared by the influence measures."""

from __future__ import annotations

import numpy as np

from ..utils import iter_chunks


def mean_loss_grad(adapter, X, y_enc: np.ndarray) -> np.ndarray:
    """Mean validation-loss gradient ``ḡ_V = mean_v ∂θ L(y_v, x_v; θ̂)``, shape (m,)."""
    total = np.zeros(adapter.n_params)
    for rows in iter_chunks(X.shape[0], adapter.chunk_size()):
        total += adapter.loss_grad(X[rows], y_enc[rows]).sum(axis=0)
    return total / X.shape[0]

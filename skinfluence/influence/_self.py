"""Self-influence (``"self"``): Cook's distance in influence-function form.

Source: seed ``002_9df58ffddc6967f3.txt`` §II.A, eq. (1) with ``z = z_test`` ("exactly
identical to the influence measure introduced by Cook", Cook & Weisberg 1980), and
§II.B–C: computed on the network's last layer (``params="last"``) with a dense
Hessian or conjugate gradient. Also Self-LiSSA (Bejan et al. 2023) of seed 001::

    score_i = ∂θL(y_i, x_i; θ̂)ᵀ H⁻¹ ∂θL(y_i, x_i; θ̂)

with ``H`` the mean (regularised) training Hessian, as in the seed (which writes
``H = (1/n) Σ ∇²ℓ``; the model's own L2 penalty and ``damping`` are added, as in every
measure here). No validation set is used (``X_val`` is ignored).

Scaling, checked against the textbook: for least squares (``L = ½ r²``,
``H = XᵀX/n``) ``score_i = n r_i² h_ii`` with ``h_ii`` the leverage, while Cook's
distance is ``D_i = r_i² h_ii / (q s² (1 - h_ii)²)`` (``q`` parameters, ``s²`` the
residual variance), so ``score_i = n q s² (1 - h_ii)² D_i``: the first-order
(infinitesimal) version of ``D_i``, without the ``(1 - h_ii)⁻²`` leave-one-out factor.
Up to the factor ``1/n`` it is also the predicted increase of the row's own loss
when the row is removed, ``L_i(θ̂_{-i}) - L_i(θ̂) ≈ score_i / n``.

Sign: ``score_i ≥ 0`` when ``H`` is positive definite; the raw quantity is kept as
is (no sign change). Highest = trimmed first: the rows the model bends most to fit
(mislabeled or isolated rows, seed 002 §II.C).

Cost: ``n`` inverse-Hessian-vector products, solved in blocks of rows (one
factorisation and ``O(n m²)`` with the exact solver).
"""

from __future__ import annotations

import numpy as np

from ..utils import iter_chunks
from ._loo import output_leverages

__all__ = ["self_scores"]


def self_scores(adapter, solver, X, y_enc, X_val, y_val_enc) -> np.ndarray:
    """Self-influence ``∂θL_iᵀ H⁻¹ ∂θL_i`` of every training row (higher = trim first).

    Parameters
    ----------
    adapter : BaseAdapter
    solver : BaseSolver, already fitted on ``adapter``
    X, y_enc : training rows and encoded targets
    X_val, y_val_enc : ignored (self-influence needs no validation set)

    Returns
    -------
    ndarray of shape (n,)
    """
    n = X.shape[0]
    out = np.empty(n)
    caps = adapter.capabilities
    one_output = "linear_outputs" in caps and "link" in caps and adapter.n_raw_outputs == 1
    for rows in iter_chunks(n, adapter.chunk_size(width=3)):
        if one_output:  # ∂θL = r x̃: r² x̃ᵀ H⁻¹ x̃, without the gradients
            Xc = X[rows]
            r = adapter.link_derivatives(Xc, y_enc[rows])[1][:, 0]
            out[rows] = r * r * output_leverages(adapter, solver, Xc)[:, 0, 0]
            continue
        G = adapter.loss_grad(X[rows], y_enc[rows])  # (b, m)
        U = np.asarray(solver.solve(G.T)).reshape(G.shape[1], -1)  # (m, b)
        out[rows] = np.einsum("bm,mb->b", G, U)
    return out

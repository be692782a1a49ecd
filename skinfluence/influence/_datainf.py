"""DataInf (``"datainf"``): influence with a closed-form per-layer inverse.

Source: Kwon, Wu, Wu & Zou, "DataInf: Efficiently estimating data influence in
LoRA-tuned LLMs and diffusion models" (ICLR 2024), eqs. (3)–(5); a baseline of seed
``001_88d557979f1cfd41.txt`` ("swaps the order of matrix multiplication to obtain a
closed-form expression", App. B.2.5, ref. [31]).

The curvature of layer ``l`` (its block ``g_il`` of the row gradient ``g_i = ∂θL_i``)
is the damped empirical Fisher ``G_l + λ_l I`` with ``G_l = (1/n) Σ_i g_il g_ilᵀ``;
DataInf swaps the inverse and the mean and inverts every rank-one term by
Sherman–Morrison::

    (G_l + λ_l I)⁻¹ ≈ (1/n) Σ_i (g_il g_ilᵀ + λ_l I)⁻¹
                    = (1/(n λ_l)) Σ_i (I - g_il g_ilᵀ / (λ_l + ‖g_il‖²))

so, with ``v_l`` the layer-``l`` block of the validation-objective gradient
``∂θf_V`` (``objective=``, the mean validation loss by default)::

    w_l = (1/λ_l) (v_l - (1/n) Σ_i [(v_lᵀ g_il) / (λ_l + ‖g_il‖²)] g_il)
    score_k = -(1/n) Σ_l w_lᵀ g_kl

Layers: the parameters of each torch module (weight and bias together; the
``params`` selection), and the whole parameter vector as one layer for a linear
model. The approximation is exact when a layer's Fisher has one row (``n = 1``).
The model's own L2 penalty is not in DataInf's curvature (as in the paper).

Damping: ``damping > 0`` is used as ``λ_l`` for every layer; ``damping = 0`` (the
default) takes Kwon et al.'s rule ``λ_l = 0.1 · (n d_l)⁻¹ Σ_i ‖g_il‖²`` (``d_l`` the
layer's size), as we read the paper.

Sign: Kwon et al.'s influence ``-∂θf_Vᵀ Ĥ⁻¹ g_k`` is large for rows whose
up-weighting raises the validation objective; the score is that divided by ``n``,
the same orientation and scale as ``"if"``: the predicted decrease of ``f_V`` when the
row is removed. Highest = trimmed first.

Cost: two passes of per-row gradients over the training rows and one validation
gradient, ``O(n m)`` time, ``O(m)`` memory beyond a chunk — no Hessian
(``curvature="none"`` in the registry).
"""

from __future__ import annotations

import numpy as np

from ..utils import iter_chunks
from ._common import inner_product_scores
from ._objectives import UtilityObjective

__all__ = ["datainf_scores", "datainf_inverse"]


def datainf_inverse(adapter, X, y_enc, v: np.ndarray, damping: float = 0.0) -> np.ndarray:
    """Apply DataInf's approximate inverse curvature to ``v``, layer by layer.

    Parameters
    ----------
    adapter : BaseAdapter
        Needs ``layer_blocks`` and ``loss_grad``.
    X, y_enc : rows whose gradients form the empirical Fisher, and their targets
    v : ndarray of shape (m,)
    damping : float, default=0.0
        ``λ_l`` of every layer; 0 = Kwon et al.'s rule.

    Returns
    -------
    w : ndarray of shape (m,)
        ``w_l = (1/λ_l)(v_l - (1/n) Σ_i c_il g_il)`` per layer.
    """
    blocks = adapter.layer_blocks()
    n = X.shape[0]
    v = np.asarray(v, dtype=np.float64)
    lam = np.full(len(blocks), float(damping))
    if damping <= 0:
        sq = np.zeros(len(blocks))
        for rows in iter_chunks(n, adapter.chunk_size()):
            G = adapter.loss_grad(X[rows], y_enc[rows])
            sq += [np.einsum("bm,bm->", G[:, idx], G[:, idx]) for _, idx in blocks]
        lam = 0.1 * sq / np.array([n * len(idx) for _, idx in blocks])
        lam = np.maximum(lam, np.finfo(float).tiny)
    u = np.zeros_like(v)
    for rows in iter_chunks(n, adapter.chunk_size()):
        G = adapter.loss_grad(X[rows], y_enc[rows])
        for lam_l, (_, idx) in zip(lam, blocks):
            Gl = G[:, idx]
            c = (Gl @ v[idx]) / (lam_l + np.einsum("bm,bm->b", Gl, Gl))
            u[idx] += c @ Gl
    w = np.empty_like(v)
    for lam_l, (_, idx) in zip(lam, blocks):
        w[idx] = (v[idx] - u[idx] / n) / lam_l
    return w


def datainf_scores(
    adapter, solver, X, y_enc, X_val, y_val_enc, *, objective=None, damping: float = 0.0
) -> np.ndarray:
    """DataInf scores ``-(1/n) Σ_l w_lᵀ ∂θ_l L_k`` (higher = trim first).

    Parameters
    ----------
    adapter : BaseAdapter
    solver : None
        Unused (the inverse is DataInf's closed form).
    X, y_enc : training rows and encoded targets
    X_val, y_val_enc : validation rows and encoded targets
    objective : BaseObjective, default=None
        The validation objective ``f_V`` (``None``: the mean validation loss).
    damping : float, default=0.0
        ``λ_l`` of every layer; 0 = Kwon et al.'s rule.

    Returns
    -------
    ndarray of shape (n,)
    """
    objective = objective or UtilityObjective()
    w = datainf_inverse(adapter, X, y_enc, objective.grad(adapter, X_val, y_val_enc), damping)
    return -inner_product_scores(adapter, X, y_enc, w) / adapter.weight_sum

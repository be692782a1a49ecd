"""SOURCE (``"source"``): influence unrolled over segments of the training trajectory.

Source: Bae, Lin, Lorraine & Grosse, "Training data attribution via approximate
unrolled differentiation" (2024) — the "TDA" baseline of seed
``001_88d557979f1cfd41.txt`` ("a checkpoint-based segmentation approach ... combining
the techniques of implicit differentiation and unrolling", §2 and App. B.2.5); survey
``003_61d1aa66ad3d904f.txt`` §5.2.2 for the unrolling it approximates (HyDRA,
SGD-influence).

The checkpoints ``θ_1..θ_L`` that :class:`skinfluence.callbacks.TracInCheckpoints`
recorded on a skorch net cut training into ``L`` segments: segment ``ℓ`` runs the
``K_ℓ`` optimizer steps from checkpoint ``ℓ - 1`` (the initialisation for ``ℓ = 1``)
to checkpoint ``ℓ``, with step sizes ``η_ℓ`` (one per parameter: the learning rate
of its optimizer group recorded at ``θ_ℓ``; ``D_ℓ = diag(η_ℓ)``). Within a segment
SOURCE holds the curvature and the gradients fixed, at ``θ_ℓ`` here:
``H_ℓ = ∂²R(θ_ℓ) + damping·I`` (the adapter's dense Hessian, or its Gauss–Newton
matrix with ``gauss_newton=True`` as SOURCE uses; ``R`` the mean regularised training
loss) and ``g_iℓ = ∂θL(y_i, x_i; θ_ℓ)``. Up-weighting row ``i`` by ``ε`` then moves
the segment's linearised SGD dynamics ``δ ← (I - D_ℓ H_ℓ) δ - ε D_ℓ g_iℓ``; in the
continuous-time form SOURCE takes, after the segment::

    δ_ℓ = S_ℓ δ_{ℓ-1} - ε A_ℓ g_iℓ,    S_ℓ = exp(-K_ℓ D_ℓ H_ℓ) = I - A_ℓ H_ℓ,
    A_ℓ = D^½ Q diag((1 - e^{-K_ℓ λ}) / λ) Qᵀ D^½   with   D^½ H_ℓ D^½ = Q diag(λ) Qᵀ

(``A_ℓ = (I - S_ℓ) H_ℓ⁻¹`` when ``H_ℓ`` is invertible — Bae et al.'s segment term —
and ``K_ℓ D_ℓ`` along a flat direction, ``λ = 0``). Unrolled over the segments,
removing row ``i`` (``ε = -1/n``) moves the final parameters by
``(1/n) Σ_ℓ S_L ⋯ S_{ℓ+1} A_ℓ g_iℓ``, and the score is the predicted decrease of the
validation objective ``f_V`` (``objective=``; the mean validation loss by default) at
the fitted parameters ``θ_L``::

    score_i = -(1/n) Σ_ℓ ∂θf_V(θ_L)ᵀ S_L ⋯ S_{ℓ+1} A_ℓ ∂θL(y_i, x_i; θ_ℓ)

One segment that has converged (``e^{-K λ} → 0`` for every eigenvalue) gives
``A = H⁻¹`` and exactly ``"if"`` with the same curvature; a segment whose curvature
is flat adds ``K η`` times TracIn's term. Sign and scale as ``"if"``: highest =
trimmed first. An indefinite Hessian's negative eigenvalues (a net away from a
minimum) would make ``e^{-K λ}`` grow without bound: they are treated as flat
(``λ = 0``); ``gauss_newton=True`` avoids them, as SOURCE does.

Deviations from the paper, stated: Bae et al. average the curvature and the
gradients over several checkpoints inside a segment and use EK-FAC for large nets;
here each segment has one checkpoint (its end), the curvature is the dense matrix
(nets with at most ``max_dense_params`` parameters in the ``params`` selection;
``params="last"`` for the last layer), ``η_ℓ`` is the learning rate at the segment's
end (a schedule inside a segment is not averaged) and the dynamics are plain SGD's
(with momentum or Adam the step sizes are not ``η``, and the score is a heuristic,
as for ``"tracin"``). The step counts ``K_ℓ`` are those the callback counted (one
optimizer step per training batch).

Cost: per checkpoint, the dense ``m × m`` curvature (``m`` Hessian-vector passes
over the training rows, or the rows' output Jacobians for Gauss–Newton), one
``O(m³)`` eigendecomposition and one gradient per training row:
``O(L (n m² + m³))``; ``8 m²`` bytes.
"""

from __future__ import annotations

import numpy as np

from ..exceptions import UnsupportedModelError
from ._common import inner_product_scores
from ._objectives import UtilityObjective

__all__ = ["segment_operator", "source_scores"]


def segment_operator(H: np.ndarray, eta: np.ndarray, steps: int) -> np.ndarray:
    """``A = D^½ Q diag((1 - e^{-K λ}) / λ) Qᵀ D^½`` of one segment (the module docstring).

    Parameters
    ----------
    H : ndarray of shape (m, m)
        The segment's (damped) symmetric curvature.
    eta : ndarray of shape (m,)
        Step size of every parameter (``D = diag(eta)``, ``eta ≥ 0``).
    steps : int
        ``K``, the optimizer steps in the segment.

    Returns
    -------
    ndarray of shape (m, m)
        Symmetric; ``(I - exp(-K D H)) H⁻¹`` for an invertible ``H``, with the
        negative eigenvalues of ``D^½ H D^½`` treated as 0.
    """
    root = np.sqrt(np.clip(np.asarray(eta, dtype=np.float64), 0.0, None))
    M = root[:, None] * H * root[None, :]
    lam, Q = np.linalg.eigh(0.5 * (M + M.T))
    lam = np.clip(lam, 0.0, None)
    K = float(steps)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(lam * K > 1e-12, -np.expm1(-K * lam) / lam, K)
    A = (Q * f) @ Q.T
    return root[:, None] * A * root[None, :]


def source_scores(
    adapter, solver, X, y_enc, X_val, y_val_enc, *, objective=None, damping: float = 0.0
) -> np.ndarray:
    """SOURCE scores, unrolled over the net's checkpoint segments (higher = trim first).

    Parameters
    ----------
    adapter : BaseAdapter
        With ``checkpoints`` and ``hessian``: a skorch net fitted with
        ``TracInCheckpoints``.
    solver : None
        Unused (the segments' curvature is decomposed here).
    X, y_enc : training rows and encoded targets
    X_val, y_val_enc : validation rows and encoded targets
    objective : BaseObjective, default=None
        The validation objective ``f_V`` (``None``: the mean validation loss).
    damping : float, default=0.0
        Added to every segment's curvature.

    Returns
    -------
    ndarray of shape (n,)
    """
    checkpoints = adapter.checkpoints()
    if any("step" not in c for c in checkpoints):
        raise UnsupportedModelError(
            "the net's TracInCheckpoints holds checkpoints without optimizer step counts "
            "(recorded by an earlier version); fit the net again to use method='source'."
        )
    objective = objective or UtilityObjective()
    u = np.asarray(objective.grad(adapter, X_val, y_val_enc), dtype=np.float64)
    starts = [0] + [c["step"] for c in checkpoints[:-1]]
    total = np.zeros(X.shape[0])
    for ckpt, start in zip(reversed(checkpoints), reversed(starts)):
        model = adapter.at_state(ckpt["params"])
        H = np.asarray(model.hessian(), dtype=np.float64)
        if damping:
            H = H + damping * np.eye(H.shape[0])
        A = segment_operator(H, model.step_sizes(ckpt["lr"]), ckpt["step"] - start)
        w = A @ u
        total += inner_product_scores(model, X, y_enc, w)
        u = u - H @ w  # S_ℓᵀ u = (I - A H)ᵀ u, A and H symmetric
    return -total / adapter.weight_sum

"""FI^util: local influence of each training row on the mean validation loss (``"fi"``).

Seed ``000_c2daca84f3c63cf9.txt`` §2–3, Algorithm 1 and Appendix A. Perturb the
features of training row ``z = (x, y)`` by ``ω`` and refit; with
``J = ∂ωθ̂ = s H⁻¹ M`` (``M = ∂x∂θ L(y, x; θ̂)``, ``H`` the mean regularised
training Hessian)::

    v       = ∂ω L(V)  = ḡ_Vᵀ J = s (H⁻¹ ḡ_V)ᵀ M                       (eq. 2.2)
    a_c     = ∂θ log P(c|x) J + ∂x log P(c|x)                          (eq. 2.3)
    G_z     = Σ_c P(c|x) a_cᵀ a_c
    FI(z)   = v G_z^† vᵀ = ‖(B Bᵀ)^+ B vᵀ‖²,   B = diag(√P) [a_c]_c     (§3)

``G_z`` is ``p × p`` of rank ≤ K-1 (``Σ_c P(c) a_c = 0``), so the quadratic form is
evaluated through the ``K × K`` matrix ``B Bᵀ``. For regression the likelihood is
Gaussian, ``N(μ, σ²)``, and ``B = ∂ω μ / σ`` is a single row.

**The factor ``s``.** The paper writes ``∂ωθ̂`` three ways: ``+1/n`` (main text,
below eq. 2.2), ``-1/n`` (Appendix A, eq. A.7, the derivation) and no factor at all
(Algorithm 1, line 7). Because ``a_c`` adds ``s·∂θ log P · H⁻¹M`` to ``∂x log P``,
the factor changes the balance of the two terms and hence the ranking, not only the
scale. ``scaling="appendix"`` (``s = -1/n``, the derived value) is the default;
``"algorithm"`` (``s = 1``) and ``"main"`` (``s = +1/n``) reproduce the other two.

Higher FI = a small perturbation of the row moves the validation loss more; rows
are trimmed in decreasing FI (Algorithm 3), so ``scores_`` is FI itself.

Cost per row: ``K'`` inverse-Hessian-vector products (``K'`` model outputs: one for
binary classification and regression), ``K' + 1`` mixed products ``O(K' p)`` each
for linear models, and ``O(K² p + K³)`` for the ``K × K`` algebra. Never a
``p × p`` or ``m × p`` matrix per row.
"""

from __future__ import annotations

import numpy as np

from ..utils import iter_chunks
from ._common import mean_loss_grad

__all__ = ["fi_scores", "fi_scale", "FI_SCALINGS"]

FI_SCALINGS = ("appendix", "algorithm", "main")


def fi_scale(scaling: str, n: int) -> float:
    """The factor ``s`` of ``∂ωθ̂ = s H⁻¹ M`` for a ``scaling`` name."""
    if scaling == "appendix":
        return -1.0 / n
    if scaling == "main":
        return 1.0 / n
    if scaling == "algorithm":
        return 1.0
    raise ValueError(f"scaling must be one of {FI_SCALINGS}, got {scaling!r}.")


def pinv_quadratic(B: np.ndarray, v: np.ndarray, rcond: float = 1e-10) -> np.ndarray:
    """``v (BᵀB)^† vᵀ`` for a batch: ``B`` (n, R, p), ``v`` (n, p) → (n,).

    Uses ``(BᵀB)^† = Bᵀ (B Bᵀ)^{+2} B``: an ``R × R`` eigen-decomposition per row.
    Eigenvalues below ``rcond`` times the row's largest count as zero.
    """
    BBt = B @ np.swapaxes(B, 1, 2)
    Bv = np.einsum("nrp,np->nr", B, v)
    evals, evecs = np.linalg.eigh(BBt)
    top = evals.max(axis=1, keepdims=True)
    keep = evals > np.maximum(rcond * top, np.finfo(float).tiny)
    inv = np.where(keep, 1.0 / np.where(keep, evals, 1.0), 0.0)
    proj = np.einsum("nrk,nr->nk", evecs, Bv)
    return np.sum((inv * proj) ** 2, axis=1)


def _rank_one_quadratic(beta: np.ndarray, a: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``pinv_quadratic`` for ``B = β aᵀ`` (one model output): ``(a·v)² / (‖a‖⁴ ‖β‖²)``."""
    av = np.einsum("np,np->n", a, v)
    denom = np.einsum("np,np->n", a, a) ** 2 * np.einsum("nr,nr->n", beta, beta)
    return np.divide(av**2, denom, out=np.zeros_like(av), where=denom > 0)


def fi_scores(adapter, solver, X, y_enc, X_val, y_val_enc, scaling: str = "appendix") -> np.ndarray:
    """FI^util of every training row.

    Parameters
    ----------
    adapter : BaseAdapter
    solver : BaseSolver, already fitted on ``adapter``
    X, y_enc : training rows and encoded targets
    X_val, y_val_enc : validation rows and encoded targets
    scaling : {"appendix", "algorithm", "main"}
        The factor of ``∂ωθ̂`` (module docstring).

    Returns
    -------
    ndarray of shape (n,)
    """
    s = fi_scale(scaling, adapter.n_train)
    u = solver.solve(mean_loss_grad(adapter, X_val, y_val_enc))
    n = X.shape[0]
    out = np.empty(n)
    width = adapter.n_outputs + 2
    for rows in iter_chunks(n, adapter.chunk_size(width)):
        Xc, yc = X[rows], y_enc[rows]
        w, D, J_theta, J_x = adapter.metric_factors(Xc)
        b, k, m = J_theta.shape
        HJ = solver.solve(J_theta.reshape(b * k, m).T).T.reshape(b, k, m)
        A = adapter.mixed_product(Xc, yc, HJ)  # (b, K', p), per-row directions
        A *= s
        A += J_x  # ∂ω f_k, the outputs' derivatives
        v = adapter.mixed_product(Xc, yc, u[None, :])[:, 0, :]  # the shared direction
        v *= s
        if k == 1:
            out[rows] = _rank_one_quadratic(w * D[:, :, 0], A[:, 0, :], v)
        else:
            out[rows] = pinv_quadratic(w[:, :, None] * (D @ A), v)
    return out

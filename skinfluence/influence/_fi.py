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
from ._objectives import UtilityObjective

__all__ = [
    "FI_SCALINGS",
    "fi_row_scores",
    "fi_scale",
    "fi_scores",
    "metric_root",
    "perturbation_root",
    "solved_output_jacobians",
]

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


def metric_root(B: np.ndarray, rcond: float = 1e-10) -> np.ndarray:
    """A root ``E`` of ``(BᵀB)^†`` per row: ``v (BᵀB)^† vᵀ = ‖E v‖²``.

    With ``B Bᵀ = Q Λ Qᵀ`` (an ``R × R`` eigen-decomposition per row),
    ``(BᵀB)^† = Bᵀ (B Bᵀ)^{+2} B`` and ``E = Λ^+ Qᵀ B``. Eigenvalues below ``rcond``
    times the row's largest count as zero (their rows of ``E`` are zero).

    Parameters
    ----------
    B : ndarray of shape (n, R, p)
    rcond : float, default=1e-10

    Returns
    -------
    E : ndarray of shape (n, R, p)
    """
    evals, evecs = np.linalg.eigh(B @ np.swapaxes(B, 1, 2))
    top = evals.max(axis=1, keepdims=True)
    keep = evals > np.maximum(rcond * top, np.finfo(float).tiny)
    inv = np.where(keep, 1.0 / np.where(keep, evals, 1.0), 0.0)
    return inv[:, :, None] * (np.swapaxes(evecs, 1, 2) @ B)


def _rank_one_root(beta: np.ndarray, a: np.ndarray) -> np.ndarray:
    """``metric_root`` of ``B = β aᵀ`` (one model output): ``a / (‖β‖ ‖a‖²)``, (n, 1, p)."""
    denom = np.sqrt(np.einsum("nr,nr->n", beta, beta)) * np.einsum("np,np->n", a, a)
    scale = np.divide(1.0, denom, out=np.zeros_like(denom), where=denom > 0)
    return (scale[:, None] * a)[:, None, :]


def solved_output_jacobians(adapter, solver, X) -> tuple[np.ndarray, ...]:
    """The metric factors of ``X`` and ``H⁻¹ ∂θ f_k`` for every row and output.

    With the adapter's ``linear_outputs`` capability (outputs linear in the
    parameters, ``∂θ f_k = e_k ⊗ a``) the solve runs on the ``K'`` parameter blocks
    (:meth:`~skinfluence.curvature.BaseSolver.solve_outputs`) instead of ``K'``
    mostly-zero columns per row.

    Returns
    -------
    w : ndarray of shape (n, R)
    D : ndarray of shape (n, R, K')
    J_x : ndarray of shape (n, K', p)
    HJ : ndarray of shape (n, K', m)
        ``H⁻¹ J_θ[i, k]``.
    """
    if "linear_outputs" in adapter.capabilities:  # J_θ is never built
        w, D, J_x = adapter.output_metric(X)
        return w, D, J_x, solver.solve_outputs(*adapter.output_features(X))
    w, D, J_theta, J_x = adapter.metric_factors(X)
    b, k, m = J_theta.shape
    HJ = solver.solve(J_theta.reshape(b * k, m).T).T.reshape(b, k, m)
    return w, D, J_x, HJ


def _perturbation_factor(adapter, solver, X, y_enc, s):
    """``(w, D, A)`` with ``A = s (H⁻¹ J_θ)ᵀ M + J_x = ∂ω f``, shape (n, K', p)."""
    w, D, J_x, HJ = solved_output_jacobians(adapter, solver, X)
    A = adapter.mixed_product(X, y_enc, HJ)  # (b, K', p)
    A *= _per_row(s)
    A += J_x  # ∂ω f_k, the outputs' derivatives
    return w, D, A


def perturbation_root(adapter, solver, X, y_enc, s) -> np.ndarray:
    """``E`` with ``v G_z^† vᵀ = ‖E v‖²`` for every row ``z`` of ``(X, y_enc)``.

    Builds ``B = diag(w) D (s·(H⁻¹ J_θ)ᵀ M + J_x)`` from the adapter's metric factors:
    ``K'`` inverse-Hessian-vector products and one mixed product per row. ``s`` is
    the factor of ``∂ωθ̂``: one number, or one per row (a row of weight ``s_i`` in
    the objective moves the fit ``s_i`` times as much).

    Returns
    -------
    E : ndarray of shape (n, R', p)
        ``R' = 1`` for one-output models, ``K`` otherwise.
    """
    w, D, A = _perturbation_factor(adapter, solver, X, y_enc, s)
    if A.shape[1] == 1:
        return _rank_one_root(w * D[:, :, 0], A[:, 0, :])
    return metric_root(w[:, :, None] * (D @ A))


def _per_row(s):
    """``s`` ready to multiply ``(rows, r, p)`` blocks: a scalar or a (rows, 1, 1) array."""
    s = np.asarray(s, dtype=np.float64)
    return s if s.ndim == 0 else s[:, None, None]


def fi_scores(
    adapter, solver, X, y_enc, X_val, y_val_enc, *, scaling: str = "appendix", objective=None
) -> np.ndarray:
    """FI^util of every training row.

    Parameters
    ----------
    adapter : BaseAdapter
    solver : BaseSolver, already fitted on ``adapter``
    X, y_enc : training rows and encoded targets
    X_val, y_val_enc : validation rows and encoded targets
    scaling : {"appendix", "algorithm", "main"}
        The factor of ``∂ωθ̂`` (module docstring).
    objective : BaseObjective, default=None
        The validation objective ``f_V`` (``None``: the mean validation loss).

    Returns
    -------
    ndarray of shape (n,)
    """
    s = fi_scale(scaling, adapter.weight_sum)
    objective = objective or UtilityObjective()
    u = solver.solve(objective.grad(adapter, X_val, y_val_enc))
    return fi_row_scores(adapter, solver, X, y_enc, u, s, adapter.row_weights())


def fi_row_scores(adapter, solver, X, y_enc, u: np.ndarray, s: float, weights=None):
    """FI^util of the rows ``X`` given ``u = H⁻¹ ∂θ f_V`` and the factor ``s``.

    ``weights``: the rows' sample weights (``None``: unweighted); a row of weight
    ``s_i`` has the factor ``s · s_i``.

    Returns
    -------
    ndarray of shape (n,)
    """
    n = X.shape[0]
    out = np.empty(n)
    width = adapter.n_outputs + 2
    for rows in iter_chunks(n, adapter.chunk_size(width)):
        Xc, yc = X[rows], y_enc[rows]
        s_rows = s if weights is None else s * weights[rows]
        w, D, A = _perturbation_factor(adapter, solver, Xc, yc, s_rows)
        v = adapter.mixed_product(Xc, yc, u[None, :])[:, 0, :]
        v *= s_rows if np.ndim(s_rows) == 0 else s_rows[:, None]
        if A.shape[1] == 1:  # ‖E v‖² = (a·v)² / (‖β‖² ‖a‖⁴), E = a / (‖β‖ ‖a‖²)
            a = A[:, 0, :]
            beta = w * D[:, :, 0]
            denom = np.einsum("nr,nr->n", beta, beta) * np.einsum("np,np->n", a, a) ** 2
            av = np.einsum("np,np->n", a, v)
            out[rows] = np.divide(av * av, denom, out=np.zeros_like(av), where=denom > 0)
        else:
            E = metric_root(w[:, :, None] * (D @ A))
            out[rows] = np.sum(np.einsum("nrp,np->nr", E, v) ** 2, axis=1)
    return out

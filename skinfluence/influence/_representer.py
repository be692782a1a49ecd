"""Representer points (``"representer"``) of an L2-regularised linear head.

Source: Yeh, Kim, Yen & Ravikumar, "Representer point selection for explaining deep
neural networks" (NeurIPS 2018), Thm. 3.1; survey ``003_61d1aa66ad3d904f.txt``
§5.1.2, eqs. (37)–(47).

The head is the model's last linear map ``s = Θ ã(x)``: the model itself for a
linear model (``ã = [x, 1]``), the last ``nn.Linear`` layer of a skorch net over its
penultimate features ``a(x)`` (``ã = [a, 1]``; the layers below are a fixed feature
map, Yeh et al.'s "last layer" trick). The model minimised
``mean_i L_i + ½ Σ_j λ_j ‖Θ_{:, j}‖²`` (mean-loss form; Yeh et al. write ``λ‖Θ‖²``, so
their ``λ`` is half ours, and the survey's eq. (37) is ours). At a stationary point,
for every penalised column ``j`` (``λ_j > 0``),
``Θ_{:, j} = -(1/(n λ_j)) Σ_i ∂L_i/∂s · ã_ij``, hence for any ``x``::

    s(x) = Σ_i α_i k(x_i, x) + Σ_{j: λ_j = 0} Θ_{:, j} ã_j(x)
    α_i = -(1/(λ n)) ∂L(y_i, s_i)/∂s   (a K'-vector, the representer value)
    k(x_i, x) = Σ_{j: λ_j > 0} (λ / λ_j) ã_ij ã_j(x)

with ``λ`` the weights' penalty. With the usual penalty (weights ``λ``, intercept
unpenalised) ``k(x_i, x) = ⟨x_i, x⟩`` (``⟨φ(x_i), φ(x)⟩`` for nets) and the intercept
is an offset attributed to no row, as in Yeh et al. (who have no bias). liblinear's
penalised intercept gives the extra kernel term ``intercept_scaling²``.

One score per training row against the validation objective. Row ``i`` contributes
``c_ij = α_i k(x_i, x_j)`` to the pre-activation of validation row ``j``; removing that
term changes the mean validation loss by about ``-mean_j (∂L_j/∂s_j)ᵀ c_ij``. The
score is the predicted decrease::

    score_i = mean_j (∂L(y_j, s_j)/∂s)ᵀ α_i k(x_i, x_j)

(the survey's eq. (46) sums ``α_i k(x_i, x_te)`` at the test label; we weigh every
output by the validation loss's sensitivity to it instead). Written with the
validation-objective gradient ``v = ∂θf_V`` (``objective=``) on the head's penalised
coordinates, this is ``-(1/n) Σ_{k, j: λ_j > 0} (∂L_i/∂s_k) ã_ij v_kj / λ_j``, i.e. the
classic influence ``-(1/n) vᵀ H⁻¹ g_i`` of the head with ``H`` replaced by the penalty
``diag(λ)``; that form is what is computed, so fairness and robustness objectives
work too. Highest = trimmed first (removing the row's term lowers ``f_V`` most).

Requires ``λ > 0`` on the head's weights (``C < inf``, ``weight_decay > 0``); the
decomposition holds at stationarity, which Yeh et al. enforce by fine-tuning the
head (tight ``tol`` / enough epochs).

Cost: one forward pass and one output-gradient per training row, one validation
gradient: ``O(n K' d)`` for a head of width ``d`` (no Hessian: ``curvature="none"``
in the registry).
"""

from __future__ import annotations

import numpy as np

from ..exceptions import UnsupportedModelError
from ..utils import iter_chunks
from ._objectives import UtilityObjective

__all__ = ["representer_scores", "representer_values"]


def _head(adapter, X, y=None):
    A, R, lam, index = adapter.linear_head(X, y)
    lam_w = float(lam[0])  # column 0 of ã is always a weight column
    if lam_w <= 0:
        raise UnsupportedModelError(
            "representer points need an L2 penalty on the weights of the last linear "
            "layer (LogisticRegression with C < inf, Ridge with alpha > 0, a skorch net "
            f"with optimizer__weight_decay > 0); this model's penalty is {lam_w:g}."
        )
    return A, R, lam, index, lam_w


def representer_values(adapter, X, y_enc) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Representer values and kernel features of the rows ``X``.

    Parameters
    ----------
    adapter : BaseAdapter
        Needs ``linear_head``.
    X, y_enc : rows and encoded targets

    Returns
    -------
    alpha : ndarray of shape (n, K')
        ``α_i = -(1/(λ n)) ∂L_i/∂s`` with ``n = adapter.weight_sum``.
    Phi : ndarray of shape (n, d)
        Kernel features: ``k(x_i, x_j) = Phi_i · Phi_j`` (``√(λ/λ_j) ã_ij`` over the
        penalised columns).
    unpenalised : ndarray of shape (d_a,) of bool
        Columns of ``ã`` outside the kernel (offsets attributed to no row).
    """
    A, R, lam, _, lam_w = _head(adapter, X, y_enc)
    pen = lam > 0
    alpha = -R / (lam_w * adapter.weight_sum)
    Phi = A[:, pen] * np.sqrt(lam_w / lam[pen])
    return alpha, Phi, ~pen


def representer_scores(adapter, solver, X, y_enc, X_val, y_val_enc, *, objective=None):
    """Representer-point scores against the validation objective (higher = trim first).

    Parameters
    ----------
    adapter : BaseAdapter
        Needs ``linear_head``.
    solver : None
        Unused (no Hessian).
    X, y_enc : training rows and encoded targets
    X_val, y_val_enc : validation rows and encoded targets
    objective : BaseObjective, default=None
        The validation objective ``f_V`` (``None``: the mean validation loss).

    Returns
    -------
    ndarray of shape (n,)
    """
    objective = objective or UtilityObjective()
    _, _, lam, index, _ = _head(adapter, X[:1], y_enc[:1])
    pen = lam > 0
    v = objective.grad(adapter, X_val, y_val_enc)
    Vs = v[index][:, pen] / lam[pen]  # (K', d_pen)
    n = X.shape[0]
    out = np.empty(n)
    for rows in iter_chunks(n, adapter.chunk_size()):
        A, R, _, _ = adapter.linear_head(X[rows], y_enc[rows])
        out[rows] = -np.einsum("bk,bk->b", R, A[:, pen] @ Vs.T) / adapter.weight_sum
    return out

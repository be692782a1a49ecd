"""Approximate leave-one-out label quality (``"loo_confidence"``): no validation set.

How unlikely is a row's own label when the row is left out of the fit? Exact
leave-one-out needs ``n`` refits; one Newton step from the fitted model with the row
removed needs none (Rad & Maleki 2020, "A scalable estimate of the out-of-sample
prediction error via approximate leave-one-out"; Giordano et al. 2019, "A swiss army
infinitesimal jackknife"). With the summed regularised training Hessian
``H_Σ = n H`` (``H`` the mean one of the adapter), the row's gradient
``g_i = J_iᵀ r_i`` (``J_i = ∂θ f_i``, ``K' × m``; ``r_i = ∂L/∂f_i``) and its output
curvature ``Λ_i = ∂²L/∂f_i²``, removing the row leaves the gradient ``-g_i`` at
``θ̂`` and the Hessian ``H_Σ - J_iᵀ Λ_i J_i``, so the Newton step moves the row's
raw outputs to (with sample weights, ``H_Σ = Σ_j s_j ∂²L_j + ...`` and the row's
``A_i`` is multiplied by its weight ``s_i``; a zero-weight row keeps its fitted
prediction)::

    f_{-i} = f_i + J_i (H_Σ - J_iᵀ Λ_i J_i)⁻¹ J_iᵀ r_i = f_i + A_i (I - Λ_i A_i)⁻¹ r_i,
    A_i = J_i H_Σ⁻¹ J_iᵀ                                       (K' × K', Woodbury)

— for binary logistic regression ``η_{-i} = η_i + (p_i - y_i) a_i / (1 - w_i a_i)``
with ``a_i = x̃_iᵀ H_Σ⁻¹ x̃_i`` and ``w_i = p_i (1 - p_i)``. For least squares
(Ridge, LinearRegression) the step is exact: ``y_i - μ_{-i} = (y_i - μ_i)/(1 - h_ii)``
with ``h_ii = a_i`` the leverage (the hat-matrix identity). For skorch nets ``H`` is
the (Gauss-Newton) Hessian over the selected parameters and ``J_i`` the output
Jacobian: the same formula on the net's local quadratic model.

**Scores** (highest = trimmed first). Classifiers: ``P_{-i}`` = the link's class
probabilities at ``f_{-i}``, and one of cleanlab's label-quality scores
(Northcutt et al. 2021, "Confident learning"; cleanlab's ``rank`` module) on them,
as ``1 - quality``:

* ``"self_confidence"`` — ``P_{-i}(y_i)``;
* ``"normalized_margin"`` — ``(P_{-i}(y_i) - max_{k≠y_i} P_{-i}(k) + 1) / 2``;
* ``"confidence_weighted_entropy"`` — ``q = H_norm(P_{-i}) / max(P_{-i}(y_i), 1e-6)``,
  quality ``log(q + 1) / max(q, 1e-6)`` (``H_norm`` the entropy divided by ``log K``).

Regressors: the standardised leave-one-out residual ``|y_i - μ_{-i}| / s`` with
``s`` the root mean square of all leave-one-out residuals.

**Where the approximation is weak.** One Newton step is accurate when the row moves
the fit little: it degrades for high-leverage rows (``Λ_i A_i`` near 1, where the
exact refit moves far) and for (near-)separable classifiers, whose weakly
regularised optimum is flat, so that single rows move it a lot and the local
quadratic model is poor. A one-output row with ``1 - Λ_i a_i ≤ 10⁻⁶`` (leverage at
or above 1 in the metric of its curvature: the model fits it exactly) has no finite
step; its denominator is capped at ``10⁻⁶`` (a very large step, so it ranks as a row
the model cannot predict without itself), and a warning says how many rows were.
Tests compare against exact leave-one-out refits.

Cost: one factorisation of ``H`` (the fitted solver), then ``K'`` solves and a
``K' × K'`` system per row: with the exact solver's inverse ``O(m³ + n K' m²)``
(the same order as the factorisation when ``n K' ≈ m``; more on wide multiclass
models), never a per-row ``m × m`` matrix. No validation set, no refit.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp

from ..utils import iter_chunks

__all__ = [
    "LABEL_SCORES",
    "estimate_n_issues",
    "label_quality",
    "loo_confidence_scores",
    "loo_label_scores",
    "loo_outputs",
    "output_leverages",
]

#: ``label_score=`` choices (cleanlab's names).
LABEL_SCORES = ("self_confidence", "normalized_margin", "confidence_weighted_entropy")
_CLIP = 1e-6  # cleanlab's CLIPPING_LOWER_BOUND


def loo_outputs(adapter, solver, X, y_enc, weights="training") -> np.ndarray:
    """Approximate leave-one-out raw outputs ``f_{-i}`` of every row (module docstring).

    Parameters
    ----------
    adapter : BaseAdapter
        With the ``metric`` and ``link`` capabilities, fitted on ``(X, y_enc)``.
    solver : BaseSolver, fitted on ``adapter``
    X, y_enc : the training rows and their encoded targets
    weights : "training", ndarray of shape (n,) or None, default="training"
        The rows' sample weights: the adapter's (``X`` is its training rows), given
        ones (a block of them), or ``None`` (unweighted).

    Returns
    -------
    ndarray of shape (n, K')
    """
    n_sum = adapter.weight_sum
    if isinstance(weights, str):
        weights = adapter.row_weights()
    n = X.shape[0]
    out = None
    n_clipped = 0
    for rows in iter_chunks(n, adapter.chunk_size(adapter.n_raw_outputs + 2)):
        Xc = X[rows]
        f, r, Lam = adapter.link_derivatives(Xc, y_enc[rows])
        A = output_leverages(adapter, solver, Xc) / n_sum  # J H_Σ⁻¹ Jᵀ
        if weights is not None:  # the row's term in the objective is s_i L_i
            A *= weights[rows, None, None]
        A = 0.5 * (A + np.swapaxes(A, 1, 2))
        k = A.shape[1]
        M = np.eye(k)[None] - Lam @ A  # I - Λ A
        if k == 1:
            denom = M[:, 0, 0]
            bad = denom <= _CLIP
            n_clipped += int(bad.sum())
            step = A[:, 0, 0] * r[:, 0] / np.where(bad, _CLIP, denom)
            f_loo = f + step[:, None]
        else:
            f_loo = f + np.einsum("bkl,bl->bk", A, _solve_rows(M, r))
        if out is None:
            out = np.empty((n, f_loo.shape[1]))
        out[rows] = f_loo
    if n_clipped:
        warnings.warn(
            f"{n_clipped} of {n} rows have leverage at or above 1 in the leave-one-out "
            "step (the model can fit them exactly); their leave-one-out predictions are "
            "capped. Regularise more (smaller C, larger alpha) for a trustworthy ranking.",
            UserWarning,
            stacklevel=3,
        )
    return out


def output_leverages(adapter, solver, X) -> np.ndarray:
    """``J_i H⁻¹ J_iᵀ`` (``K' × K'``) of every row, ``J_i = ∂θ f(x_i)``.

    With the adapter's ``linear_outputs`` capability the solve runs on the
    parameter blocks (:meth:`~skinfluence.curvature.BaseSolver.solve_outputs`) and
    ``J`` is never built: ``(J H⁻¹ Jᵀ)[k, l] = a · (H⁻¹ J_l)[index[k]]``.

    Returns
    -------
    ndarray of shape (n, K', K')
    """
    if "linear_outputs" in adapter.capabilities:
        F, index = adapter.output_features(X)
        HJ = solver.solve_outputs(F, index)  # (b, K', m)
        k = index.shape[0]
        A = np.empty((HJ.shape[0], k, k))
        for out in range(k):
            A[:, out, :] = _row_dots(F, HJ[:, :, _positions(index[out])])
        return A
    J = adapter.metric_factors(X)[2]  # (b, K', m)
    b, k, m = J.shape
    HJ = solver.solve(J.reshape(b * k, m).T).T.reshape(b, k, m)
    return np.einsum("bkm,blm->bkl", J, HJ)


def _positions(idx: np.ndarray):
    """Consecutive positions as a slice (a view of the solves instead of a copy)."""
    if idx.size and idx[-1] - idx[0] + 1 == idx.size and np.all(np.diff(idx) == 1):
        return slice(int(idx[0]), int(idx[-1]) + 1)
    return idx


def _row_dots(F, M: np.ndarray) -> np.ndarray:
    """``F[i] · M[i, l]`` for dense or sparse ``F`` (n, q) and ``M`` (n, L, q): (n, L)."""
    if sp.issparse(F):
        F = F.tocsr()
        n = F.shape[0]
        rows = np.repeat(np.arange(n), np.diff(F.indptr))
        out = np.empty((n, M.shape[1]))
        for col in range(M.shape[1]):  # the stored entries against M, summed per row
            out[:, col] = np.bincount(rows, weights=F.data * M[rows, col, F.indices], minlength=n)
        return out
    if M.shape[1] == 1:
        return np.einsum("nq,nq->n", F, M[:, 0, :])[:, None]
    return np.einsum("nq,nlq->nl", F, M)


def _solve_rows(M: np.ndarray, r: np.ndarray) -> np.ndarray:
    """``M_i⁻¹ r_i`` per row, least squares where ``M_i`` is singular."""
    try:
        return np.linalg.solve(M, r[:, :, None])[:, :, 0]
    except np.linalg.LinAlgError:
        return np.stack([np.linalg.lstsq(Mi, ri, rcond=None)[0] for Mi, ri in zip(M, r)])


def label_quality(P: np.ndarray, y_enc: np.ndarray, label_score: str = "self_confidence"):
    """cleanlab's label-quality score of every row (lower = more likely mislabeled).

    Parameters
    ----------
    P : ndarray of shape (n, K)
        Class probabilities (out-of-sample: leave-one-out or out-of-fold).
    y_enc : ndarray of shape (n,)
        Given labels as class positions.
    label_score : {"self_confidence", "normalized_margin", "confidence_weighted_entropy"}

    Returns
    -------
    ndarray of shape (n,)
        In ``[0, 1]``.
    """
    if label_score not in LABEL_SCORES:
        raise ValueError(f"label_score must be one of {LABEL_SCORES}, got {label_score!r}.")
    P = np.asarray(P, dtype=np.float64)
    idx = np.arange(len(y_enc))
    own = P[idx, y_enc]
    if label_score == "self_confidence":
        return own
    if label_score == "normalized_margin":
        other = P.copy()
        other[idx, y_enc] = -np.inf
        return (own - other.max(axis=1) + 1.0) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(P > 0, P * np.log(np.where(P > 0, P, 1.0)), 0.0)
    entropy = -plogp.sum(axis=1) / np.log(P.shape[1])
    q = entropy / np.clip(own, _CLIP, None)
    return np.log(q + 1.0) / np.clip(q, _CLIP, None)


def loo_confidence_scores(
    adapter, solver, X, y_enc, X_val, y_val_enc, *, label_score: str = "self_confidence"
) -> np.ndarray:
    """``1 -`` label quality at the approximate leave-one-out predictions (higher = trim first).

    Parameters
    ----------
    adapter : BaseAdapter
        With the ``metric`` and ``link`` capabilities.
    solver : BaseSolver, fitted on ``adapter``
    X, y_enc : training rows and encoded targets
    X_val, y_val_enc : ignored (no validation set is used)
    label_score : {"self_confidence", "normalized_margin", "confidence_weighted_entropy"}
        Classifiers only; see the module docstring.

    Returns
    -------
    ndarray of shape (n,)
    """
    return loo_label_scores(adapter, loo_outputs(adapter, solver, X, y_enc), y_enc, label_score)


def loo_label_scores(adapter, f_loo, y_enc, label_score: str = "self_confidence") -> np.ndarray:
    """:func:`loo_confidence_scores` from the leave-one-out outputs ``f_loo`` (n, K').

    Returns
    -------
    ndarray of shape (n,)
    """
    check_label_score(label_score)
    P = adapter.output_proba(f_loo)
    return out_of_sample_scores(P, y_enc, label_score, adapter.is_classifier)


def check_label_score(label_score: str) -> None:
    """Raise ``ValueError`` unless ``label_score`` is one of :data:`LABEL_SCORES`."""
    if label_score not in LABEL_SCORES:
        raise ValueError(f"label_score must be one of {LABEL_SCORES}, got {label_score!r}.")


def out_of_sample_scores(P, y, label_score: str, classifier: bool) -> np.ndarray:
    """Scores from predictions made without each row (higher = trim first).

    Classifiers: ``1 -`` :func:`label_quality` of the class probabilities ``P``
    ``(n, K)`` at the encoded labels ``y``. Regressors: ``|y_i - μ_i| / s`` for the
    predicted means ``P`` ``(n,)``, ``s`` the root mean square of those residuals.
    The measures that predict each row without it (leave-one-out, out-of-fold,
    out-of-bag) share it.
    """
    if not classifier:
        resid = np.asarray(y, dtype=np.float64) - P
        scale = np.sqrt(np.mean(resid**2))
        return np.abs(resid) / (scale if scale > 0 else 1.0)
    return 1.0 - label_quality(P, y, label_score)


def estimate_n_issues(P: np.ndarray, y_enc: np.ndarray) -> int:
    """Number of label issues by the confident joint (Northcutt et al. 2021).

    Per-class thresholds ``t_k`` = the mean of ``P(k)`` over the rows labelled ``k``;
    a row is confidently of class ``k`` when ``P(k) ≥ t_k`` (of its most likely class
    when several pass); it counts as an issue when that class is not its label and
    not its most likely class either — cleanlab's ``num_label_issues`` with
    ``estimation_method="off_diagonal"`` (its default), on out-of-sample
    probabilities.

    Parameters
    ----------
    P : ndarray of shape (n, K)
        Out-of-sample class probabilities.
    y_enc : ndarray of shape (n,)
        Given labels as class positions.

    Returns
    -------
    int
    """
    P = np.asarray(P, dtype=np.float64)
    y_enc = np.asarray(y_enc)
    K = P.shape[1]
    thresholds = np.array(
        [P[y_enc == k, k].mean() if np.any(y_enc == k) else np.inf for k in range(K)]
    )
    confident = P >= thresholds - 1e-6
    n_confident = confident.sum(axis=1)
    argmax = P.argmax(axis=1)
    guess = np.where(n_confident > 1, argmax, confident.argmax(axis=1))
    issue = (n_confident > 0) & (guess != y_enc) & (argmax != y_enc)
    return int(issue.sum())

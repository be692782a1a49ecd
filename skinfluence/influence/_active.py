"""FI^active: influence of the labeled rows on a pool row's prediction (``"fi"`` in AL).

Seed ``000_c2daca84f3c63cf9.txt`` §4, eq. 4.1 and Algorithm 2. For a pool row
``x_u`` with the model's predicted label ``ŷ_u``, ``z_u = (x_u, ŷ_u)`` plays the
validation set of FI^util, and every labeled row ``z_k`` is perturbed::

    FI(z_u, z_k)    = v G_{z_k}^† vᵀ,   v = s (H⁻¹ ∂θL(z_u))ᵀ M_k
    FI^active(x_u)  = g({FI(z_u, z_k)}_k)

With the root ``E_k`` of ``G_{z_k}^†`` (:func:`~skinfluence.influence.perturbation_root`,
``v G^† vᵀ = ‖E_k v‖²``) every pair is ``‖N_k u_u‖²`` with ``N_k = s E_k M_kᵀ``
(``R' × m``, one mixed product ``M_k e`` per row of ``E_k``) and
``u_u = H⁻¹ ∂θL(z_u)``. All pairs are one matrix product of the stacked
``(n_L·R') × m`` factors with the ``m × n_U`` matrix ``[u_u]``, done in blocks of pool
rows so that memory stays bounded; the aggregation ``g`` runs over the labeled rows.

Aggregations: ``"trimmed_mean"`` (mean of the values between the 10th and the 90th
percentile, seed 000 §5.2, the default), ``"mean"``, a quantile in ``(0, 1)``, or a
callable mapping the ``(n_L, block)`` array of pair values to ``(block,)``.

Higher FI^active = perturbing the labeled rows moves the prediction for ``x_u`` more:
the row is queried first. The factor ``s`` is FI^util's (``scaling``).

Cost: FI^util's per-row cost for the labeled rows, one inverse-Hessian-vector product
per pool row, and ``O(n_L R' m n_U)`` for the product — never a per-row ``m × p``.
Storage: ``n_L R' m`` numbers (``R' = 1`` for binary models), less than the
``(m + p + 1) k`` per row of seed 000's truncated SVD whenever ``k ≥ R'``.
"""

from __future__ import annotations

from numbers import Real

import numpy as np

from ..utils import iter_chunks
from ._common import mean_loss_grad
from ._fi import _per_row, fi_scale, perturbation_root

__all__ = [
    "AGGREGATIONS",
    "aggregate",
    "trimmed_mean_rows",
    "fi_active_scores",
    "fi_pair_factors",
    "fi_pairs",
    "if_active_scores",
]

AGGREGATIONS = ("trimmed_mean", "mean")


def aggregate(values: np.ndarray, aggregation="trimmed_mean") -> np.ndarray:
    """Aggregate pair values over the labeled rows (axis 0) for every pool row.

    Parameters
    ----------
    values : ndarray of shape (n_labeled, n_pool)
    aggregation : "trimmed_mean", "mean", float in (0, 1) or callable

    Returns
    -------
    ndarray of shape (n_pool,)
    """
    values = np.asarray(values)
    if callable(aggregation):
        return _aggregate_rows(values.T, aggregation)
    # the labeled rows contiguous: one copy, then partitions along the last axis
    return _aggregate_rows(np.array(values.T, dtype=np.float64, order="C"), aggregation)


def _aggregate_rows(rows: np.ndarray, aggregation) -> np.ndarray:
    """:func:`aggregate` over the last axis of ``rows`` (n_pool, n_labeled).

    The built-in aggregations may reorder each row in place (a partition along the
    contiguous axis); pass an array the caller does not need any more.
    """
    if callable(aggregation):
        out = np.asarray(aggregation(rows.T), dtype=np.float64)
        if out.shape != rows.shape[:1]:
            raise ValueError(
                f"the aggregation callable must map an (n_labeled, n_pool) array to "
                f"(n_pool,), got shape {out.shape}."
            )
        return out
    if aggregation == "mean":
        return rows.mean(axis=1)
    if aggregation == "trimmed_mean":
        return trimmed_mean_rows(rows)
    if isinstance(aggregation, Real) and not isinstance(aggregation, bool):
        if 0.0 < aggregation < 1.0:
            return _quantiles_rows(rows, [float(aggregation)])[0]
    raise ValueError(
        f"aggregation must be one of {AGGREGATIONS}, a quantile in (0, 1) or a callable, "
        f"got {aggregation!r}."
    )


def _quantiles_rows(rows: np.ndarray, qs) -> list[np.ndarray]:
    """``np.quantile(rows, q, axis=1)`` (``method="linear"``) for each ``q``, by one
    in-place partition of every row along its contiguous axis.

    The same order statistics and the same interpolation as numpy's (its ``_lerp``),
    so the results are bit-identical; a row holding NaN gives NaN.
    """
    n = rows.shape[1]
    positions = []
    for q in qs:
        virtual = (n - 1) * q
        lo = int(np.floor(virtual))
        hi = min(lo + 1, n - 1)
        positions.append((lo, hi, virtual - lo))
    kth = sorted({0, n - 1} | {i for lo, hi, _ in positions for i in (lo, hi)})
    rows.partition(kth, axis=1)
    nan = np.isnan(rows[:, -1])  # NaN sorts last
    out = []
    for lo, hi, gamma in positions:
        a, b = rows[:, lo], rows[:, hi]
        diff = b - a
        value = a + diff * gamma
        if gamma >= 0.5:
            value = b - diff * (1 - gamma)
        out.append(np.where(nan, np.nan, value) if nan.any() else value)
    return out


def trimmed_mean_rows(rows: np.ndarray) -> np.ndarray:
    """Mean of the values between the 10th and the 90th percentile of every row.

    ``rows`` of shape (n_pool, n_labeled), C-contiguous; it is partitioned in place.
    The percentiles are numpy's (``method="linear"``); values equal to either bound
    count as inside.

    Returns
    -------
    ndarray of shape (n_pool,)
    """
    lo, hi = _quantiles_rows(rows, [0.1, 0.9])
    inside = (rows >= lo[:, None]) & (rows <= hi[:, None])
    total = np.einsum("ij,ij->i", rows, inside)
    return total / np.count_nonzero(inside, axis=1)


def fi_pair_factors(adapter, solver, X, y_enc, scaling: str = "appendix") -> np.ndarray:
    """The stacked factors ``N_k = s E_k M_kᵀ`` of the labeled rows, shape (n, R', m)."""
    s = fi_scale(scaling, adapter.weight_sum)
    weights = adapter.row_weights()
    out = None
    for rows in iter_chunks(X.shape[0], adapter.chunk_size(adapter.n_outputs + 2)):
        s_rows = s if weights is None else s * weights[rows]
        E = perturbation_root(adapter, solver, X[rows], y_enc[rows], s_rows)
        N = _per_row(s_rows) * adapter.mixed_jvp(X[rows], y_enc[rows], E)
        if out is None:
            out = np.empty((X.shape[0],) + N.shape[1:])
        out[rows] = N
    return out


def _predicted(adapter, X) -> np.ndarray:
    """The model's most likely class per row, encoded (``w = √P(c|x)``)."""
    w, *_ = adapter.metric_factors(X)
    return np.argmax(w, axis=1)


def _pool_directions(adapter, solver, X_pool) -> np.ndarray:
    """``u_u = H⁻¹ ∂θ L(x_u, ŷ_u)`` with the predicted label, shape (m, n_pool)."""
    return solver.solve(adapter.loss_grad(X_pool, _predicted(adapter, X_pool)).T)


def fi_pairs(adapter, solver, X, y_enc, X_pool, scaling: str = "appendix") -> np.ndarray:
    """Every ``FI(z_u, z_k)``: labeled rows ``k`` by pool rows ``u``, shape (n, n_pool).

    Meant for small problems and tests; :func:`fi_active_scores` aggregates without
    holding this matrix.
    """
    N = fi_pair_factors(adapter, solver, X, y_enc, scaling)
    P = np.einsum("krm,mu->kru", N, _pool_directions(adapter, solver, X_pool))
    return np.sum(P**2, axis=1)


def fi_active_scores(
    adapter,
    solver,
    X,
    y_enc,
    X_pool,
    *,
    aggregation="trimmed_mean",
    scaling: str = "appendix",
    block_mb: float = 64.0,
    pair_factors=fi_pair_factors,
) -> np.ndarray:
    """FI^active of every pool row against the labeled rows ``(X, y_enc)``.

    Parameters
    ----------
    adapter : BaseAdapter
        Fitted on the labeled rows; must be a classifier.
    solver : BaseSolver, already fitted on ``adapter``
    X, y_enc : labeled rows and encoded labels
    X_pool : unlabeled rows
    aggregation : "trimmed_mean", "mean", float in (0, 1) or callable
    scaling : {"appendix", "algorithm", "main"}
    block_mb : float, default=64.0
        Memory for one block of pair values.
    pair_factors : callable, default=fi_pair_factors
        ``(adapter, solver, X, y_enc, scaling) -> (n, R', m)`` stack of the factors
        ``N_k``: :func:`fi_pair_factors` (exact) or, through ``functools.partial``,
        :func:`~skinfluence.influence._kfsvd.kfsvd_pair_factors` (truncated SVD).

    Returns
    -------
    ndarray of shape (n_pool,)
    """
    if not adapter.is_classifier:
        raise ValueError(
            "FI^active needs a classifier: a pool row labelled with a regressor's own "
            "prediction has zero loss gradient, so every pair is zero."
        )
    N = pair_factors(adapter, solver, X, y_enc, scaling)
    n_lab, r, m = N.shape
    N2 = N.reshape(n_lab * r, m)
    n_pool = X_pool.shape[0]
    out = np.empty(n_pool)
    block = int(max(1, block_mb * 2**20 // (8 * n_lab * r)))
    for cols in iter_chunks(n_pool, block):
        U = _pool_directions(adapter, solver, X_pool[cols])
        PT = U.T @ N2.T  # (block, n_lab·R'): every pool row's values contiguous
        if r == 1:
            PT *= PT
            values = PT
        else:
            PT = PT.reshape(PT.shape[0], n_lab, r)
            values = np.einsum("ukr,ukr->uk", PT, PT)
        out[cols] = _aggregate_rows(values, aggregation)
    return out


def if_active_scores(adapter, solver, X_pool, X_val, y_val_enc) -> np.ndarray:
    """Classic influence of adding each pool row, with its predicted label (``"if"``).

    Chhabra et al. (2024), recomputed every round as seed 000 §5.2 does. Adding
    ``z_u = (x_u, ŷ_u)`` with weight ``1/n`` moves the parameters by about
    ``-(1/n) H⁻¹ ∂θL(z_u)`` and the mean validation loss by about
    ``-(1/n) ḡ_Vᵀ H⁻¹ ∂θL(z_u)``; the score is the predicted decrease,
    ``(1/n) ḡ_Vᵀ H⁻¹ ∂θL(z_u)``, so the highest score is queried first.

    Returns
    -------
    ndarray of shape (n_pool,)
    """
    u = solver.solve(mean_loss_grad(adapter, X_val, y_val_enc))
    return adapter.loss_grad_dot(X_pool, _predicted(adapter, X_pool), u) / adapter.weight_sum

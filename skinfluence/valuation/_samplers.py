r"""Samplers: one batch of draws, returned as sums (see :mod:`._stopping`).

Each function runs in a joblib task with its own ``numpy.random.Generator`` seeded
from a ``SeedSequence`` child the driver derived from ``random_state`` and the batch
number, so a batch draws the same subsets in any process.

Permutations (``tmc``, ``beta``; Ghorbani & Zou 2019, survey
``003_61d1aa66ad3d904f.txt`` §4.3.3)
    Draw a permutation ``π``; fit on the growing prefixes ``π_1…π_j``; row ``π_j``'s
    marginal contribution is ``u(π_{≤j}) − u(π_{<j})``. Each permutation is one
    unbiased draw of every Shapley value. *Truncation*: once ``|u(π_{≤j}) − u(N)| ≤
    truncation_tol · |u(N)|`` has held for more than ``TRUNCATION_PATIENCE`` prefixes
    in a row (as in Ghorbani & Zou's code), the remaining rows of the permutation get 0 and
    are not fitted — fewer fits, a small bias. ``u(N)`` and ``u(∅)`` are computed once.
    For a semivalue other than Shapley (Beta Shapley, Kwon & Zou 2022) the marginal at
    position ``k`` is multiplied by ``f(k) = n C(n-1, k) w(k)``
    (:func:`~._weights.permutation_importance`), which keeps each draw unbiased. Most
    of Beta(16, 1)'s weight sits on the first positions, so the permutation is also
    cut at a random length ``L`` with ``P(L > k) = m_k / m_0``, ``m_k = max_{j≥k} f(j)``,
    and the marginal at an evaluated position is divided by ``P(L > k)``: still
    unbiased, each weighted draw is at most ``m_0``, and a permutation costs
    ``Σ_k P(L > k)`` fits on average (about ``n / 16`` for Beta(16, 1)) instead of ``n``.

Maximum sample reuse (``banzhaf``; Wang & Jia 2023)
    Draw ``S`` with each row in it independently with probability 1/2; one fit gives a
    draw of ``u(S)`` for the "in" group of every member and the "out" group of every
    other row. ``φ_i ≈ mean(u | i ∈ S) − mean(u | i ∉ S)``.

Cost per draw: ``n`` fits for a permutation (fewer with truncation), one fit for a
maximum-sample-reuse subset.
"""

from __future__ import annotations

import time

import numpy as np

__all__ = ["TRUNCATION_PATIENCE", "msr_batch", "permutation_batch"]


def _past(deadline: float | None) -> bool:
    return deadline is not None and time.time() >= deadline


#: A permutation stops after more than this many consecutive prefixes within
#: ``truncation_tol`` of ``u(N)``.
TRUNCATION_PATIENCE = 5


def permutation_batch(
    utility,
    n: int,
    rng: np.random.Generator,
    size: int,
    *,
    u_empty: float,
    u_full: float,
    truncation_tol: float | None,
    importance: np.ndarray | None,
    survival: np.ndarray | None = None,
    deadline: float | None = None,
) -> dict:
    """Marginal contributions along ``size`` random permutations.

    Parameters
    ----------
    utility : callable
        ``utility(sorted_indices) -> float``.
    n : int
        Number of rows.
    rng : numpy.random.Generator
        Source of the permutations.
    size : int
        Permutations in this batch.
    u_empty, u_full : float
        ``u(∅)`` and ``u(N)``.
    truncation_tol : float or None
        Relative tolerance of the truncation; ``None`` never truncates.
    importance : ndarray of shape (n,) or None
        Factor per position (``None`` = Shapley, all ones).
    survival : ndarray of shape (n,) or None
        Non-increasing ``P(L > k)`` of the random permutation length (``None``: all
        permutations run to the end); evaluated marginals are divided by it.
    deadline : float or None
        ``time.time()`` after which the batch stops; a permutation cut short is
        dropped, so ``count`` may be less than ``size``.

    Returns
    -------
    sums : dict
        ``count``, ``s1`` (Σ draws per row), ``s2`` (Σ squared draws), ``evaluations``.
    """
    s1 = np.zeros(n)
    s2 = np.zeros(n)
    evaluations = 0
    bound = None if truncation_tol is None else truncation_tol * abs(u_full)
    count = 0
    for _ in range(size):
        if _past(deadline):
            break
        perm = rng.permutation(n)
        length = n if survival is None else int(np.count_nonzero(survival > rng.random()))
        mask = np.zeros(n, dtype=bool)
        marginal = np.zeros(n)
        previous, run, cut = u_empty, 0, False
        for j, row in enumerate(perm[:length]):
            mask[row] = True
            if j == n - 1:
                current = u_full
            else:
                if _past(deadline):
                    cut = True
                    break
                current = utility(np.flatnonzero(mask))
                evaluations += 1
            marginal[row] = current - previous
            previous = current
            if bound is not None:
                run = run + 1 if abs(current - u_full) <= bound else 0
                if run > TRUNCATION_PATIENCE:
                    break  # the rest of the permutation contributes 0
        if cut:
            break  # out of time in mid-permutation: drop it
        if importance is not None:
            factor = importance if survival is None else importance / survival
            position = np.empty(n, dtype=np.intp)
            position[perm] = np.arange(n)
            marginal *= factor[position]
        s1 += marginal
        s2 += marginal * marginal
        count += 1
    return {"count": count, "s1": s1, "s2": s2, "evaluations": evaluations}


def msr_batch(
    utility, n: int, rng: np.random.Generator, size: int, *, shift: float, deadline=None
) -> dict:
    """Maximum-sample-reuse draws: ``size`` subsets, each row in with probability 1/2.

    Parameters
    ----------
    utility : callable
        ``utility(sorted_indices) -> float``.
    n : int
        Number of rows.
    rng : numpy.random.Generator
        Source of the subsets.
    size : int
        Subsets in this batch.
    shift : float
        Subtracted from every utility before the moments are summed (``u(N)``), for
        accurate variances.
    deadline : float or None
        ``time.time()`` after which no more subsets are fitted.

    Returns
    -------
    sums : dict
        Counts, sums and sums of squares of the shifted utilities in and out of ``S``.
    """
    masks = rng.random((size, n)) < 0.5
    u = []
    for m in masks:
        if _past(deadline):
            break
        u.append(utility(np.flatnonzero(m)))
    masks = masks[: len(u)]
    size = len(u)
    u = np.asarray(u, dtype=np.float64) - shift
    inside = masks.astype(np.float64)
    outside = 1.0 - inside
    return {
        "count": size,
        "c_in": inside.sum(axis=0),
        "s1_in": u @ inside,
        "s2_in": (u * u) @ inside,
        "c_out": outside.sum(axis=0),
        "s1_out": u @ outside,
        "s2_out": (u * u) @ outside,
        "evaluations": size,
    }

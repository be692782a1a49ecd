"""Pieces shared by the tree measures (:mod:`._boostin`, :mod:`._leaf`, :mod:`._forest`).

Notation: trees ``s = 1..S``, boosting stages ``t(s)``, the raw output ``k(s)`` a tree
adds to, ``l_s(i)`` the leaf row ``i`` reaches in tree ``s``, ``w_i`` its weight in the
fit (1, or 0 for rows held out for early stopping), ``g_{is}`` / ``h_{is}`` the
gradient and Hessian of its loss at the raw outputs ``F^{(t(s)-1)}`` the stage was
fitted at (output ``k(s)``), ``G_l = Σ_{i ∈ l} w_i g_{is}``, ``H_l`` and
``N_l = Σ_{i ∈ l} w_i`` the per-leaf sums, and the leaf value
``v_l = -a G_l / (H_l + b)`` (the adapter's ``leaf_coefficients``).

A refit that leaves a leaf without rows undoes its parent's split (a tree learner
cannot keep an empty leaf): the leaf then predicts its parent node's value, computed
from the rows left under the parent (``parent_sum``; the parent always keeps the rows
of the other branch).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..exceptions import UnsupportedModelError
from ..utils import iter_chunks

__all__ = [
    "BoostingStats",
    "boosting_stats",
    "check_utility",
    "parent_sum",
    "row_blocks",
    "single_point_derivative",
    "tree_derivatives",
]

#: Memory for one block of rows, in bytes.
BLOCK_BYTES = 64 * 2**20


def row_blocks(n: int, floats_per_row: float, cap: int = 1 << 16):
    """Slices over ``range(n)`` so that a block holds ``BLOCK_BYTES`` of float64 at most."""
    size = int(max(1, min(cap, BLOCK_BYTES // (8 * max(float(floats_per_row), 1.0)))))
    return iter_chunks(n, size)


def parent_sum(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``Σ_{l' ∈ [lo_l, hi_l)} x[..., l']`` along the last axis: the sums of each leaf's
    parent node (leaves are numbered depth-first, see ``TreeLayout``)."""
    c = np.concatenate([np.zeros(x.shape[:-1] + (1,)), np.cumsum(x, axis=-1)], axis=-1)
    return np.take(c, hi, axis=-1) - np.take(c, lo, axis=-1)


@dataclass
class BoostingStats:
    """Per-leaf sums over the training rows, and the leaf values they give.

    Attributes
    ----------
    leaves : ndarray of shape (n, S)
        Global leaf positions of the training rows.
    weight : ndarray of shape (n,)
        Row weights ``w_i``.
    G, H, N : ndarray of shape (L,)
        ``Σ w g``, ``Σ w h``, ``Σ w`` per leaf.
    value : ndarray of shape (L,)
        ``v_l`` recomputed from the sums (equal to the stored values up to the
        library's float32 rounding; constant trees keep their stored values).
    denominator : ndarray of shape (L,)
        ``H_l + b``.
    refit_leaf : ndarray of bool of shape (L,)
        Leaves whose values the formula gives (False in constant trees).
    """

    leaves: np.ndarray
    weight: np.ndarray
    G: np.ndarray
    H: np.ndarray
    N: np.ndarray
    value: np.ndarray
    denominator: np.ndarray
    refit_leaf: np.ndarray


def boosting_stats(adapter, X, y_enc) -> BoostingStats:
    """Per-leaf sums of the training rows ``(X, y_enc)`` (the adapter's, computed once)."""
    lay = adapter.tree_layout()
    leaves = adapter.leaf_indices(X)
    weight = np.asarray(lay.row_weight[:, 0], dtype=np.float64)
    G, H, N = adapter.train_sums()
    refit_leaf = np.repeat(lay.refit, np.diff(lay.leaf_start))
    value = np.where(refit_leaf, adapter.leaf_formula(G, H, N), lay.leaf_value[:, 0])
    return BoostingStats(
        leaves, weight, G, H, N, value, H + adapter.leaf_coefficients()[1], refit_leaf
    )


def tree_derivatives(adapter, leaves, y_enc, *, second: bool = False):
    """Per-tree ``g_{is}``, ``h_{is}`` (each ``(b, S)``) of rows with leaves ``leaves``.

    With ``second=True`` also the per-stage raw outputs' derivative blocks
    ``∂g/∂F`` and ``∂h/∂F`` (each ``(b, T, K', K')``).
    """
    lay = adapter.tree_layout()
    F = adapter.stage_inputs(leaves)
    b, T, k = F.shape
    y_rep = np.repeat(y_enc, T)
    out = adapter.loss_derivatives(F.reshape(b * T, k), y_rep, order=2 if second else 1)
    g = out[0].reshape(b, T, k)[:, lay.tree_stage, lay.tree_output]
    h = out[1].reshape(b, T, k)[:, lay.tree_stage, lay.tree_output]
    if not second:
        return g, h
    return g, h, out[2].reshape(b, T, k, k), out[3].reshape(b, T, k, k)


def single_point_derivative(stats: BoostingStats, leaves, g, h, a: float) -> np.ndarray:
    """``δ_{is} = ∂v_{l_s(i)}/∂w_i = -(a g_{is} + v_l h_{is}) / (H_l + b)``, ``(b, S)``.

    Zero in constant trees and where ``H_l + b ≤ 1e-150`` (the leaf value is then 0).
    """
    den = stats.denominator[leaves]
    ok = stats.refit_leaf[leaves] & (den > 1e-150)
    num = a * g + stats.value[leaves] * h
    return np.where(ok, -num / np.where(ok, den, 1.0), 0.0)


def check_utility(objective, method: str) -> None:
    """Refuse an objective other than the mean validation loss for ``method``."""
    name = getattr(objective, "name", "utility")
    if name != "utility":
        raise UnsupportedModelError(
            f"method={method!r} measures the change of the mean validation loss "
            f"(objective='utility'), not objective={name!r}; use method='leaf_influence' "
            "or 'leaf_influence_sp', which take any objective's gradient over the leaf "
            "values."
        )

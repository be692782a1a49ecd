"""Forests: out-of-bag label quality (``"oob"``) and leaf refits without a cascade.

A forest's output is the mean over its ``S`` trees of the leaf values
``V_{s,l} = T_l / N_l`` with ``T_l = Σ_{j ∈ l} c_{js} y_j`` (one-hot classes, or the
target) and ``N_l = Σ_{j ∈ l} c_{js}``, ``c_{js}`` the number of times tree ``s``
drew row ``j`` (its bootstrap count; 1 without bootstrap). Trees do not depend on
each other, so removing a row changes only the leaves that hold it.

* ``"oob"`` — Data-OOB (Kwon & Zou 2023, "Data-OOB: Out-of-bag estimate as a simple
  and efficient data value", ICML) read from the forest's own bootstrap samples: the
  out-of-bag prediction ``P_oob(x_i) = mean_{s: c_{is} = 0} V_{s, l_s(i)}`` (what
  scikit-learn's ``oob_decision_function_`` holds) and ``1 -`` cleanlab's
  label-quality score on it (``label_score``; self-confidence by default,
  ``mean_{s: c_{is}=0} V_{s,l}(y_i)``). Data-OOB's value of a row is the mean over its
  out-of-bag trees of the indicator that the tree predicts its label; for fully grown
  trees (pure leaves, one-hot ``V``) the two are equal, otherwise this is its
  probabilistic form. Regressors: ``|y_i - μ_oob(x_i)| / s`` (``s`` the root mean
  square of these residuals; Data-OOB's ``-(y - f)²`` ranks the same way for a
  single tree). A row that no tree left out gets its leave-one-out prediction below.
  Highest = trimmed first. Cost: the leaves of every row, ``O(n S K)``.
* leave-one-out with the structures fixed (``"leaf_loo"``, ``"leaf_refit"`` on a
  forest): tree ``s`` refits the leaf ``l = l_s(i)`` to
  ``(T_l - c_{is} y_i) / (N_l - c_{is})``; a leaf left empty undoes its parent's split
  and predicts the parent node's rows without row ``i`` (for fully grown trees, whose
  leaves often hold one row, this is what makes the refit informative: the row is
  then predicted by the neighbours of its own branch). Exact, ``O(n S K)`` for the
  training rows' own
  predictions; ``"leaf_refit"`` (the decrease of the mean validation loss,
  ``score_i = L_V - L_V^{(-i)}``) needs every pair of a training and a validation row
  that share a leaf, ``O(Σ_l n_l n_{val,l})``, as sparse products. The validation loss
  of a forest classifier is the Brier score ``Σ_k (P_k - [y = k])²`` (the squared
  error its class-fraction leaves minimise; log-loss is infinite where a forest gives
  a label probability 0), of a regressor ``½ (y - μ)²``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ._loo import check_label_score, out_of_sample_scores
from ._trees_common import parent_sum, row_blocks

__all__ = ["forest_loo_proba", "forest_refit_scores", "oob_proba", "oob_scores"]


def _targets(adapter, y_enc) -> np.ndarray:
    """``(n, V)``: one-hot classes, or the target, what the leaves average."""
    if adapter.is_classifier:
        return np.eye(adapter.n_outputs)[y_enc]
    return np.asarray(y_enc, dtype=np.float64)[:, None]


def _totals(adapter, X, y_enc):
    """Leaves ``(n, S)``, counts ``(n, S)``, ``T_l`` ``(L, V)`` and ``N_l`` ``(L,)``."""
    lay = adapter.tree_layout()
    leaves = adapter.leaf_indices(X)
    counts = np.asarray(lay.row_weight, dtype=np.float64)
    Y = _targets(adapter, y_enc)
    flat, L = leaves.ravel(), lay.n_leaves
    T = np.column_stack(
        [np.bincount(flat, (counts * Y[:, [j]]).ravel(), L) for j in range(Y.shape[1])]
    )
    return leaves, counts, T, np.bincount(flat, counts.ravel(), L)


def _loo_parts(adapter, leaves, counts, y_enc, T, N, parents):
    """Per row and tree, the leaf value refit without the row, ``(b, S, V)``.

    An emptied leaf takes its parent's refit value; a tree whose every row is the
    removed one keeps its value.
    """
    lay = adapter.tree_layout()
    Y = _targets(adapter, y_enc)[:, None, :]  # (b, 1, V)
    c = counts[:, :, None]
    Tp, Np = parents
    left = N[leaves][:, :, None] - c
    num = np.where(left > 0.5, T[leaves] - c * Y, Tp[leaves] - c * Y)
    den = np.where(left > 0.5, left, Np[leaves][:, :, None] - c)
    return np.where(den > 0.5, num / np.where(den > 0.5, den, 1.0), lay.leaf_value[leaves])


def _parents(adapter, T, N):
    lay = adapter.tree_layout()
    return (
        parent_sum(T.T, lay.parent_lo, lay.parent_hi).T,
        parent_sum(N, lay.parent_lo, lay.parent_hi),
    )


def forest_loo_proba(adapter, X, y_enc) -> np.ndarray:
    """Exact leave-one-out predictions of the training rows, structures fixed.

    Returns
    -------
    ndarray
        ``(n, K)`` class probabilities, or ``(n,)`` means for regressors.
    """
    leaves, counts, T, N = _totals(adapter, X, y_enc)
    lay = adapter.tree_layout()
    n, V = len(leaves), lay.leaf_value.shape[1]
    parents = _parents(adapter, T, N)
    out = np.empty((n, V))
    for rows in row_blocks(n, lay.n_trees * (3 * V + 4)):
        out[rows] = _loo_parts(
            adapter, leaves[rows], counts[rows], y_enc[rows], T, N, parents
        ).mean(axis=1)
    return adapter.output_proba(out)


def oob_proba(adapter, X, y_enc) -> np.ndarray:
    """Out-of-bag predictions of the training rows (module docstring).

    Returns
    -------
    ndarray
        ``(n, K)`` class probabilities, or ``(n,)`` means for regressors.
    """
    lay = adapter.tree_layout()
    leaves = adapter.leaf_indices(X)
    out_of_bag = np.asarray(adapter.bootstrap_counts()) == 0
    n_oob = out_of_bag.sum(axis=1)
    V = lay.leaf_value.shape[1]
    total = np.empty((len(leaves), V))
    for rows in row_blocks(len(leaves), lay.n_trees * (V + 2)):
        total[rows] = np.einsum("bs,bsv->bv", out_of_bag[rows], lay.leaf_value[leaves[rows]])
    P = total / np.maximum(n_oob, 1)[:, None]
    never = n_oob == 0
    if never.any():
        P[never] = np.atleast_2d(forest_loo_proba(adapter, X, y_enc).reshape(len(leaves), -1))[
            never
        ]
    return adapter.output_proba(P)


def oob_scores(
    adapter, solver, X, y_enc, X_val, y_val_enc, *, label_score: str = "self_confidence"
) -> np.ndarray:
    """``1 -`` label quality at the out-of-bag predictions (higher = trim first).

    Parameters
    ----------
    adapter : BootstrapForestAdapter
    solver : None
        Unused.
    X, y_enc : training rows and encoded targets
    X_val, y_val_enc : ignored (no validation set is used)
    label_score : {"self_confidence", "normalized_margin", "confidence_weighted_entropy"}
        Classifiers only; cleanlab's label-quality score.

    Returns
    -------
    ndarray of shape (n,)
    """
    check_label_score(label_score)
    P = oob_proba(adapter, X, y_enc)
    return out_of_sample_scores(P, y_enc, label_score, adapter.is_classifier)


def forest_refit_scores(adapter, X, y_enc, X_val, y_val_enc) -> np.ndarray:
    """Decrease of the mean validation loss when each row is removed (module docstring).

    Returns
    -------
    ndarray of shape (n,)
    """
    leaves, counts, T, N = _totals(adapter, X, y_enc)
    lay = adapter.tree_layout()
    S, L, V = lay.n_trees, lay.n_leaves, lay.leaf_value.shape[1]
    val_leaves = adapter.leaf_indices(X_val)
    n, n_val = len(leaves), len(val_leaves)
    total_val = lay.leaf_value[val_leaves].sum(axis=1)  # (n_val, V)
    reference = adapter.loss(total_val / S, y_val_enc).mean()
    Bt = sp.csr_matrix(
        (np.ones(n_val * S), val_leaves.ravel(), np.arange(0, n_val * S + 1, S)), shape=(n_val, L)
    ).T.tocsr()  # (L, n_val): which validation rows reach each leaf
    parents = _parents(adapter, T, N)
    out = np.empty(n)
    for rows in row_blocks(n, 4 * n_val * V + 4 * S * V, cap=1024):
        b = rows.stop - rows.start
        lv = leaves[rows]
        delta_leaf = _loo_parts(adapter, lv, counts[rows], y_enc[rows], T, N, parents)
        delta_leaf = delta_leaf - lay.leaf_value[lv]  # (b, S, V); 0 where out of bag
        r_idx = np.broadcast_to(np.arange(b)[:, None], lv.shape)
        delta = np.empty((b, n_val, V))
        for j in range(V):
            M = sp.csr_matrix((delta_leaf[:, :, j].ravel(), (r_idx.ravel(), lv.ravel())), (b, L))
            delta[:, :, j] = (M @ Bt).toarray()  # Σ over shared leaves, (b, n_val)
        P = (total_val[None] + delta) / S
        loss = adapter.loss(P.reshape(b * n_val, V), np.tile(y_val_enc, b)).reshape(b, n_val)
        out[rows] = reference - loss.mean(axis=1)
    return out

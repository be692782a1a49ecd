"""Leaf influence and leaf refits with the tree structures fixed.

With the splits of every tree held fixed, a tree ensemble is a function of its leaf
values, and the leaf values a function of the row weights: for boosting
``v_l = -a G_l / (H_l + b)`` stage after stage, with ``G_l``, ``H_l`` sums over the
leaf's rows of ``w_j g_j``, ``w_j h_j`` at the stage's inputs (notation of
:mod:`._trees_common`). Removing row ``i`` (``w_i = 0``) changes the leaves it
reaches, which changes every later stage's inputs ``F^{(t)}`` of the rows sharing
those leaves, hence their gradients: the *cascade*. The baseline prediction is kept
fixed (its change, ``O(1/n)``, is the same for every row).

* ``"leaf_refit"`` — leave-one-out with the structures fixed (Sharchilev et al.
  2018, "Finding influential training samples for gradient boosted decision trees",
  ICML, LeafRefit; Brophy et al. 2023): the leaf values are recomputed exactly,
  stage after stage, with row ``i`` removed; ``score_i = L_V - L_V^{(-i)}``, the
  decrease of the mean validation loss when the row is removed (highest = trimmed
  first). The reference ``L_V`` is the same refit with no row removed; an emptied
  leaf takes its parent's value (:mod:`._trees_common`). Forests have
  no cascade: see :mod:`._forest`. Only the mean validation loss.
  Cost, boosting: ``O(n (n + n_val) S K')`` (every removal replays every stage for
  every row), vectorised over blocks of removed rows.
* ``"leaf_influence"`` — its first-order version (Sharchilev et al. 2018,
  LeafInfluence with the full update set): the derivative of every leaf value with
  respect to ``w_i``, traced through the cascade::

      dv_l/dw_i = -(a dG_l + v_l dH_l) / (H_l + b)
      dG_l = [l_s(i) = l] g_{is} + Σ_{j ∈ l} w_j (∂g_j/∂F) dF_j^{(t-1)}/dw_i
      dH_l = [l_s(i) = l] h_{is} + Σ_{j ∈ l} w_j (∂h_j/∂F) dF_j^{(t-1)}/dw_i
      dF_j^{(t)}/dw_i = dF_j^{(t-1)}/dw_i + Σ_{s ∈ stage t} e_{k(s)} dv_{l_s(j)}/dw_i

  (``∂g/∂F``, ``∂h/∂F`` the full ``K' × K'`` blocks — the reference code keeps only
  their diagonals). ``score_i = Σ_l u_l dv_l/dw_i`` with ``u = ∂f_V/∂v`` the
  validation objective's gradient over the final leaf values: the predicted
  decrease of ``f_V`` when the row is removed. Any objective the adapter can
  differentiate (the mean validation loss). Cost as ``"leaf_refit"``.
* ``"leaf_influence_sp"`` — the single-point version (Brophy et al. 2023,
  LeafInfluenceSP): only row ``i``'s own outputs follow the change of its weight,
  every other row's gradients stay at the fitted model's::

      δ^SP_{is} = -(a (g_{is} + w_i (∂g_i/∂F) j_i) + v_l (h_{is} + w_i (∂h_i/∂F) j_i)) / (H_l + b)

  with ``j_i = dF_i^{(t-1)}/dw_i = Σ_{s' earlier} e_{k(s')} δ^SP_{is'}``;
  ``score_i = Σ_s u_{l_s(i)} δ^SP_{is}``. Cost ``O(n S K'²)``.
* ``"leaf_loo"`` — label quality at the leave-one-out predictions with the
  structures fixed, no validation set: for boosting the single-point refit (the other
  rows' gradients at the fitted model's; exact for forests, :mod:`._forest`)::

      F_{-i}(x_i) = F(x_i) + Σ_s [v_l(G_l - w_i g_{is}, H_l - w_i h_{is}) - v_l]

  at ``l = l_s(i)`` (an emptied leaf takes its parent's value, :mod:`._trees_common`):
  the trees' counterpart of ``"loo_confidence"``. Classifiers: ``1 -`` cleanlab's
  label-quality score (``label_score``, :func:`~._loo.label_quality`) on the
  probabilities at ``F_{-i}``; regressors: ``|y_i - μ_{-i}(x_i)| / s`` with ``s`` the
  root mean square of those residuals. Highest = least likely label = trimmed first.
  Rows held out for early stopping are left unchanged (already out of sample). Cost
  ``O(n S K')``, about one pass of predictions. ``budget="auto"`` counts label
  issues on these probabilities (:func:`leaf_loo_proba`).

Tests compare ``leaf_refit`` with refits by hand, ``leaf_influence`` with finite
differences of the refit under reweighting, ``leaf_influence_sp`` with finite
differences of the single-point refit.
"""

from __future__ import annotations

import numpy as np

from ..adapters import require
from ._forest import forest_loo_proba, forest_refit_scores
from ._loo import check_label_score, out_of_sample_scores
from ._trees_common import (
    boosting_stats,
    check_utility,
    parent_sum,
    row_blocks,
    tree_derivatives,
)

__all__ = [
    "leaf_influence_scores",
    "leaf_influence_sp_scores",
    "leaf_loo_proba",
    "leaf_loo_scores",
    "leaf_refit_scores",
]

_TINY = 1e-150


def _stage_trees(lay) -> list[np.ndarray]:
    return [np.flatnonzero(lay.tree_stage == t) for t in range(lay.n_stages)]


def _objective_leaf_grad(adapter, objective, X_val, y_val_enc) -> np.ndarray:
    if objective is None:
        from ._objectives import UtilityObjective

        objective = UtilityObjective()
    return objective.grad(adapter, X_val, y_val_enc)


# -- leaf_influence: the full cascade ----------------------------------------------------------
def leaf_influence_scores(
    adapter, solver, X, y_enc, X_val, y_val_enc, *, objective=None
) -> np.ndarray:
    """LeafInfluence through the cascade: ``Σ_l u_l dv_l/dw_i`` (higher = trim first).

    Parameters
    ----------
    adapter : BoostingAdapter
    solver : None
        Unused.
    X, y_enc : training rows and encoded targets
    X_val, y_val_enc : validation rows and encoded targets
    objective : BaseObjective, default=None
        The validation objective (``None``: the mean validation loss).

    Returns
    -------
    ndarray of shape (n,)
    """
    require(adapter, "boosting", what="method='leaf_influence'")
    u = _objective_leaf_grad(adapter, objective, X_val, y_val_enc)
    lay = adapter.tree_layout()
    stats = boosting_stats(adapter, X, y_enc)
    a = adapter.leaf_coefficients()[0]
    n, K = len(stats.leaves), adapter.n_raw_outputs
    stages = _stage_trees(lay)
    out = np.empty(n)
    for block in row_blocks(n, n * K * 8, cap=4096):
        removed = np.arange(n)[block]
        b = len(removed)
        dF = np.zeros((b, n, K))
        F = np.tile(adapter.baseline, (n, 1))
        score = np.zeros(b)
        for trees in stages:
            g, h, dg, dh = adapter.loss_derivatives(F, y_enc, order=2)
            if K == 1:
                dgF = dg[None, :, 0, 0, None] * dF
                dhF = dh[None, :, 0, 0, None] * dF
            else:
                dgF = np.einsum("nkj,bnj->bnk", dg, dF)
                dhF = np.einsum("nkj,bnj->bnk", dh, dF)
            step = np.zeros_like(dF)
            for s in trees:
                k = lay.tree_output[s]
                F[:, k] += lay.leaf_value[stats.leaves[:, s], 0]
                if not lay.refit[s]:
                    continue
                start, stop = lay.leaf_start[s], lay.leaf_start[s + 1]
                Ls = stop - start
                loc = stats.leaves[:, s] - start
                flat = (np.arange(b)[:, None] * Ls + loc[None, :]).ravel()
                dG = np.bincount(flat, (stats.weight * dgF[:, :, k]).ravel(), b * Ls)
                dH = np.bincount(flat, (stats.weight * dhF[:, :, k]).ravel(), b * Ls)
                dG, dH = dG.reshape(b, Ls), dH.reshape(b, Ls)
                own = (np.arange(b), loc[removed])
                dG[own] += g[removed, k]
                dH[own] += h[removed, k]
                den = stats.denominator[start:stop]
                ok = den > _TINY
                dv = np.where(
                    ok, -(a * dG + stats.value[start:stop] * dH) / np.where(ok, den, 1), 0
                )
                score += dv @ u[start:stop]
                step[:, :, k] += dv[:, loc]
            dF += step
        out[block] = score
    return out


# -- leaf_influence_sp: the row's own cascade --------------------------------------------------
def leaf_influence_sp_scores(
    adapter, solver, X, y_enc, X_val, y_val_enc, *, objective=None
) -> np.ndarray:
    """LeafInfluenceSP: ``Σ_s u_{l_s(i)} δ^SP_{is}`` (higher = trim first).

    Parameters
    ----------
    adapter : BoostingAdapter
    solver : None
        Unused.
    X, y_enc : training rows and encoded targets
    X_val, y_val_enc : validation rows and encoded targets
    objective : BaseObjective, default=None
        The validation objective (``None``: the mean validation loss).

    Returns
    -------
    ndarray of shape (n,)
    """
    require(adapter, "boosting", what="method='leaf_influence_sp'")
    u = _objective_leaf_grad(adapter, objective, X_val, y_val_enc)
    lay = adapter.tree_layout()
    stats = boosting_stats(adapter, X, y_enc)
    a = adapter.leaf_coefficients()[0]
    K = adapter.n_raw_outputs
    stages = _stage_trees(lay)
    n = len(stats.leaves)
    out = np.empty(n)
    width = lay.n_trees * 4 + lay.n_stages * K * K * 2
    for rows in row_blocks(n, width):
        leaves = stats.leaves[rows]
        w = stats.weight[rows]
        g, h, dg, dh = tree_derivatives(adapter, leaves, y_enc[rows], second=True)
        j = np.zeros((len(leaves), K))
        score = np.zeros(len(leaves))
        for t, trees in enumerate(stages):
            dgj = np.einsum("bkj,bj->bk", dg[:, t], j)
            dhj = np.einsum("bkj,bj->bk", dh[:, t], j)
            step = np.zeros_like(j)
            for s in trees:
                if not lay.refit[s]:
                    continue
                k = lay.tree_output[s]
                leaf = leaves[:, s]
                den = stats.denominator[leaf]
                ok = den > _TINY
                num = a * (g[:, s] + w * dgj[:, k]) + stats.value[leaf] * (h[:, s] + w * dhj[:, k])
                delta = np.where(ok, -num / np.where(ok, den, 1.0), 0.0)
                score += u[leaf] * delta
                step[:, k] += delta
            j += step
        out[rows] = score
    return out


# -- leaf_refit: exact leave-one-out with the structures fixed --------------------------------
def _refit_values(adapter, lay, s, G, H, N) -> np.ndarray:
    """Leaf values of tree ``s`` from sums ``(b, L_s)``; emptied leaves take their parent's."""
    v = adapter.leaf_formula(G, H, N)
    empty = N < 0.5
    if empty.any():
        start, stop = lay.leaf_start[s], lay.leaf_start[s + 1]
        lo, hi = lay.parent_lo[start:stop] - start, lay.parent_hi[start:stop] - start
        parent = adapter.leaf_formula(
            parent_sum(G, lo, hi), parent_sum(H, lo, hi), parent_sum(N, lo, hi)
        )
        v = np.where(empty, parent, v)
    return v


def _boosting_refit_losses(adapter, stats, y_enc, val_leaves, y_val_enc, removed) -> np.ndarray:
    """Mean validation loss after refitting every stage without each row of ``removed``.

    ``removed`` holds row positions, -1 for "remove nothing" (the reference).
    """
    lay = adapter.tree_layout()
    n, K = len(stats.leaves), adapter.n_raw_outputs
    b = len(removed)
    m = n + len(val_leaves)
    leaves = np.vstack([stats.leaves, val_leaves])
    mask = np.tile(stats.weight, (b, 1))
    real = removed >= 0
    mask[np.flatnonzero(real), removed[real]] = 0.0
    F = np.tile(adapter.baseline, (b, m, 1))
    y_rep = np.tile(y_enc, b)
    for trees in _stage_trees(lay):
        g, h = adapter.loss_derivatives(F[:, :n].reshape(b * n, K), y_rep)
        g, h = g.reshape(b, n, K), h.reshape(b, n, K)
        step = np.zeros_like(F)
        for s in trees:
            k = lay.tree_output[s]
            start, stop = lay.leaf_start[s], lay.leaf_start[s + 1]
            if not lay.refit[s]:
                step[:, :, k] += lay.leaf_value[leaves[:, s], 0][None, :]
                continue
            Ls = stop - start
            loc = leaves[:, s] - start
            flat = (np.arange(b)[:, None] * Ls + loc[None, :n]).ravel()
            G = np.bincount(flat, (mask * g[:, :, k]).ravel(), b * Ls).reshape(b, Ls)
            H = np.bincount(flat, (mask * h[:, :, k]).ravel(), b * Ls).reshape(b, Ls)
            N = np.bincount(flat, mask.ravel(), b * Ls).reshape(b, Ls)
            step[:, :, k] += _refit_values(adapter, lay, s, G, H, N)[:, loc]
        F += step
    n_val = len(val_leaves)
    losses = adapter.loss(F[:, n:].reshape(b * n_val, K), np.tile(y_val_enc, b))
    return losses.reshape(b, n_val).mean(axis=1)


def leaf_refit_scores(adapter, solver, X, y_enc, X_val, y_val_enc, *, objective=None) -> np.ndarray:
    """Decrease of the mean validation loss when each row is removed and the leaf
    values are refit exactly with the structures fixed (higher = trim first).

    Parameters
    ----------
    adapter : TreeAdapter
    solver : None
        Unused.
    X, y_enc : training rows and encoded targets
    X_val, y_val_enc : validation rows and encoded targets
    objective : BaseObjective, default=None
        Must be the mean validation loss (``"utility"``).

    Returns
    -------
    ndarray of shape (n,)
    """
    if objective is not None:
        check_utility(objective, "leaf_refit")
    if adapter.tree_layout().kind == "forest":
        return forest_refit_scores(adapter, X, y_enc, X_val, y_val_enc)
    require(adapter, "boosting", what="method='leaf_refit'")
    stats = boosting_stats(adapter, X, y_enc)
    val_leaves = adapter.leaf_indices(X_val)
    n = len(stats.leaves)
    reference = _boosting_refit_losses(
        adapter, stats, y_enc, val_leaves, y_val_enc, np.array([-1])
    )[0]
    out = np.empty(n)
    per_row = (n + len(val_leaves)) * adapter.n_raw_outputs * 8
    for block in row_blocks(n, per_row, cap=4096):
        removed = np.arange(n)[block]
        out[block] = reference - _boosting_refit_losses(
            adapter, stats, y_enc, val_leaves, y_val_enc, removed
        )
    return out


# -- leaf_loo: label quality at the leave-one-out predictions ---------------------------------
def leaf_loo_proba(adapter, X, y_enc) -> np.ndarray:
    """Leave-one-out predictions of the training rows with the structures fixed.

    Boosting: the single-point refit (module docstring); forests: the exact refit
    (:func:`~._forest.forest_loo_proba`).

    Parameters
    ----------
    adapter : TreeAdapter
    X, y_enc : the training rows and their encoded targets

    Returns
    -------
    ndarray
        Class probabilities ``(n, K)`` for classifiers, the mean ``(n,)`` for
        regressors.
    """
    if adapter.tree_layout().kind == "forest":
        return forest_loo_proba(adapter, X, y_enc)
    require(adapter, "boosting", what="method='leaf_loo'")
    lay = adapter.tree_layout()
    stats = boosting_stats(adapter, X, y_enc)
    n = len(stats.leaves)
    out = None
    sums = (stats.G, stats.H, stats.N)
    parents = [parent_sum(x, lay.parent_lo, lay.parent_hi) for x in sums]
    for rows in row_blocks(n, lay.n_trees * 12 + 3 * lay.n_stages * adapter.n_raw_outputs):
        leaves = stats.leaves[rows]
        w = stats.weight[rows, None]
        g, h = tree_derivatives(adapter, leaves, y_enc[rows])
        own = (g, h, 1.0)
        left = [x[leaves] - w * o for x, o in zip(sums, own)]
        up = [x[leaves] - w * o for x, o in zip(parents, own)]
        v_minus = np.where(left[2] < 0.5, adapter.leaf_formula(*up), adapter.leaf_formula(*left))
        delta = np.where(stats.refit_leaf[leaves], v_minus - stats.value[leaves], 0.0)
        F = adapter.raw_outputs(leaves)
        for k in range(adapter.n_raw_outputs):
            F[:, k] += delta[:, lay.tree_output == k].sum(axis=1)
        P = adapter.output_proba(F)
        if out is None:
            out = np.empty((n,) + P.shape[1:])
        out[rows] = P
    return out


def leaf_loo_scores(
    adapter, solver, X, y_enc, X_val, y_val_enc, *, label_score: str = "self_confidence"
) -> np.ndarray:
    """``1 -`` label quality at the leave-one-out predictions (higher = trim first).

    Parameters
    ----------
    adapter : TreeAdapter
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
    P = leaf_loo_proba(adapter, X, y_enc)
    return out_of_sample_scores(P, y_enc, label_score, adapter.is_classifier)

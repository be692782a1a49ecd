"""BoostIn (``"boostin"``, ``"boostin_self"``): TracIn for gradient-boosted trees.

Source: Brophy, Hammoudeh & Lowd (2023), "Adapting and evaluating influence-estimation
methods for gradient-boosted decision trees", JMLR 24(154) — BoostIn, their reference
code ``tree_influence/explainers/boostin.py``. Like TracIn (Pruthi et al. 2020) it
sums, over the boosting stages (the "checkpoints"), the change the row's weight
makes to the stage's tree times the gradient of the scored loss at that stage,
ignoring how the change propagates through later stages' gradients.

With the notation of :mod:`._trees_common` (leaf values
``v_l = -a G_l / (H_l + b)``), the derivative of the leaf that row ``i`` reaches in
tree ``s`` with respect to the row's weight, all other rows' gradients fixed, is::

    δ_{is} = ∂v_{l_s(i)}/∂w_i = -(a g_{is} + v_l h_{is}) / (H_l + b)

(``a = η`` the learning rate, ``v_l = η ṽ_l``: ``-η (g_{is} + ṽ_l h_{is})/(H_l + b)``
with ``ṽ`` the unshrunk Newton value, the paper's leaf derivative; the reference code
multiplies the *shrunk* value by ``η`` once more, which scales the Hessian term by an
extra ``η``). A validation row ``e`` moves only in the trees where it shares the
leaf, so BoostIn's influence of upweighting row ``i`` on the loss of ``e`` is::

    I(i, e) = Σ_s [l_s(e) = l_s(i)] · ∂L(y_e, F_e^{(t(s)-1)})/∂F_{k(s)} · δ_{is}

with the validation gradient taken at the stage's input ``F^{(t(s)-1)}`` (the stage
"checkpoint", as in the reference code).

* ``"boostin"`` — on the mean validation loss: ``score_i = Σ_s U_{l_s(i)} δ_{is}``
  with ``U_l = mean_e [l_s(e) = l] g_{es}`` (the per-leaf sums of the validation
  rows' per-stage gradients, divided by ``n_val``). Raw: the first-order change of
  the mean validation loss per unit of ``w_i``; removing the row (``Δw_i = -1``)
  changes it by ``-score_i``, so the highest score — the row whose removal lowers
  the validation loss most — is trimmed first. Only the mean validation loss
  (``objective="utility"``): its per-stage gradients are a validation loss's, not an
  objective's; other objectives are refused with a pointer to ``"leaf_influence"``.
* ``"boostin_self"`` — self-influence, ``e = i``: ``score_i = -Σ_s g_{is} δ_{is}
  = Σ_s g_{is} (a g_{is} + v_l h_{is}) / (H_l + b)``, the predicted increase of the
  row's own loss when it is removed (≥ 0 up to the Hessian term): rows the trees bend
  to fit (mislabeled rows) rank first. No validation set.

Cost: the leaves of every row in every tree (``O((n + n_val) S)`` lookups), one pass
for the per-leaf sums and one for the scores, ``O((n + n_val) S K')``; no loop over
rows, no refit.
"""

from __future__ import annotations

import numpy as np

from ._trees_common import (
    boosting_stats,
    check_utility,
    row_blocks,
    single_point_derivative,
    tree_derivatives,
)

__all__ = ["boostin_scores", "boostin_self_scores"]


def _chunks(adapter, n: int):
    lay = adapter.tree_layout()
    return row_blocks(n, 6 * lay.n_trees + 3 * lay.n_stages * adapter.n_raw_outputs)


def boostin_scores(adapter, solver, X, y_enc, X_val, y_val_enc, *, objective=None) -> np.ndarray:
    """BoostIn influence on the mean validation loss (higher = trim first).

    Parameters
    ----------
    adapter : BoostingAdapter
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
        check_utility(objective, "boostin")
    lay = adapter.tree_layout()
    stats = boosting_stats(adapter, X, y_enc)
    val_leaves = adapter.leaf_indices(X_val)
    U = np.zeros(lay.n_leaves)
    for rows in _chunks(adapter, len(val_leaves)):
        g, _ = tree_derivatives(adapter, val_leaves[rows], y_val_enc[rows])
        U += np.bincount(val_leaves[rows].ravel(), g.ravel(), lay.n_leaves)
    U /= len(val_leaves)
    a = adapter.leaf_coefficients()[0]
    out = np.empty(len(stats.leaves))
    for rows in _chunks(adapter, len(out)):
        leaves = stats.leaves[rows]
        g, h = tree_derivatives(adapter, leaves, y_enc[rows])
        out[rows] = (U[leaves] * single_point_derivative(stats, leaves, g, h, a)).sum(axis=1)
    return out


def boostin_self_scores(adapter, solver, X, y_enc, X_val, y_val_enc) -> np.ndarray:
    """BoostIn self-influence ``-Σ_s g_{is} δ_{is}`` (higher = trim first).

    Parameters
    ----------
    adapter : BoostingAdapter
    solver : None
        Unused.
    X, y_enc : training rows and encoded targets
    X_val, y_val_enc : ignored (no validation set is used)

    Returns
    -------
    ndarray of shape (n,)
    """
    stats = boosting_stats(adapter, X, y_enc)
    a = adapter.leaf_coefficients()[0]
    out = np.empty(len(stats.leaves))
    for rows in _chunks(adapter, len(out)):
        leaves = stats.leaves[rows]
        g, h = tree_derivatives(adapter, leaves, y_enc[rows])
        out[rows] = -(g * single_point_derivative(stats, leaves, g, h, a)).sum(axis=1)
    return out

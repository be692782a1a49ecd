"""Influence with the gradient size divided out: "relatif", "renormalized_if", "gas".

Source: survey ``003_61d1aa66ad3d904f.txt`` §5.3 ("Trade-off between gradient magnitude
and direction"): RelatIF (Barshan, Brunet & Dziugaite, AISTATS 2020), eq. (66);
renormalized influence (Hammoudeh & Lowd, "Identifying a training-set attack's target
using renormalized influence estimation", CCS 2022), eqs. (68)–(69).

The gradient-based estimators are inner products, so a row with a large gradient —
one the model predicts wrongly or with little confidence — looks influential on every
validation objective (Barshan et al.'s "globally influential" rows; Hammoudeh &
Lowd's "low-loss penalty" from the other side). The three measures divide that
magnitude out. With ``g_i = ∂θL(y_i, x_i; θ̂)``, ``v = ∂θf_V(θ̂)`` (the validation
objective's gradient, ``objective=``; the mean validation loss by default) and ``H``
the mean regularised training Hessian (the solver's; ``damping`` added)::

    relatif:          score_i = -(1/n) vᵀ H⁻¹ g_i / ‖H⁻¹ g_i‖
    renormalized_if:  score_i = -(1/n) vᵀ H⁻¹ g_i / ‖g_i‖
    gas:              score_i = -(1/n) vᵀ g_i / (‖v‖ ‖g_i‖)

* ``"relatif"`` is θ-relative influence (eq. 66): ``"if"`` divided by the norm of the
  row's own parameter change ``H⁻¹ g_i`` (the influence per unit of parameter
  movement, Barshan et al.'s θ-relative form; their ℓ-relative form is not built).
* ``"renormalized_if"`` is ``"if"`` with the training row's gradient replaced by its
  unit vector (eq. 69). Hammoudeh & Lowd renormalise the validation gradient too; for
  a validation objective that is one positive constant ``1/‖v‖``, which changes no
  ranking, and eq. (69) as the survey writes it leaves it out: so do we.
* ``"gas"`` (gradient aggregated similarity, eq. 68) is TracIn-CP with every gradient
  — the row's and the validation objective's — replaced by its unit vector. On a
  skorch net fitted with :class:`skinfluence.callbacks.TracInCheckpoints` it is the
  sum over the recorded checkpoints ``θ_t`` with their learning rates ``η_t`` (one
  value per optimizer group, as in ``"tracin"``)::

      score_i = -(1/n) Σ_t Σ_j η_tj v̂_tj ĝ_itj,   v̂_t = v(θ_t)/‖v(θ_t)‖,  ĝ_it = g_i(θ_t)/‖g_i(θ_t)‖

  Any other model (scikit-learn linear models, a net without the callback) has one
  checkpoint, the fitted parameters, with ``η = 1``: ``score_i = -(1/n) cos(v, g_i)``,
  the cosine similarity of the validation and row gradients — ``"ip"`` renormalised.

The norms are over the parameters influence is taken over (``params``); a row whose
gradient (or parameter change) is zero scores 0, as does every row when ``v = 0``.

Sign and scale: the survey's raw estimators ``Î(z_i, z_V)`` approximate the
leave-one-out change ``L_V(θ̂_{-i}) - L_V(θ̂)`` of the validation loss (positive = a
helpful row). Each score is the raw estimator negated — the predicted decrease of
``f_V`` when the row is removed, highest = trimmed first, as for ``"if"``, ``"ip"`` and
``"tracin"`` — with the factor ``1/n`` of those measures kept (a positive constant, so
no ranking changes): ``relatif = if / ‖H⁻¹g_i‖``, ``renormalized_if = if / ‖g_i‖`` and,
at the fitted model, ``gas = ip / (‖v‖ ‖g_i‖)``. With sample weights the functions give
a row's score per unit of weight on the weighted fit and the dispatch multiplies by
``s_i`` (``weights="scale"``, as ``"if"`` and ``"ip"``): a zero-weight row scores 0, a
weight-2 row scores as its two copies together.

Cost: ``"renormalized_if"`` as ``"if"`` (one inverse-Hessian-vector product and one
gradient per row, ``O(n m)`` after the solver's fit); ``"relatif"`` adds one
inverse-Hessian-vector product per row, solved in blocks of rows (as ``"self"``: one
factorisation and ``O(n m²)`` with the exact solver); ``"gas"`` as ``"ip"`` (``O((n +
n_val) m)``), times the number of checkpoints on a net that recorded them. No measure
retrains.
"""

from __future__ import annotations

import numpy as np

from ..exceptions import UnsupportedModelError
from ..utils import iter_chunks
from ._objectives import UtilityObjective
from ._tracin import _checkpoint_adapters

__all__ = ["gas_scores", "relatif_scores", "renormalized_if_scores"]


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with 0 where ``den`` is 0 (a row that moves nothing scores 0)."""
    out = np.zeros_like(num, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _scaled_products(adapter, X, y_enc, w: np.ndarray, scale, width: int = 1) -> np.ndarray:
    """``(∂θL_i · w) / scale(∂θL_i)`` for every row, chunk by chunk (0 where the scale is 0).

    ``scale`` maps a ``(rows, m)`` block of gradients to one positive number per row:
    the gradient's norm (renormalized IF, GAS) or that of ``H⁻¹`` times it (RelatIF).
    """
    n = X.shape[0]
    out = np.empty(n)
    for rows in iter_chunks(n, adapter.chunk_size(width=width)):
        G = adapter.loss_grad(X[rows], y_enc[rows])
        out[rows] = _ratio(G @ w, scale(G))
    return out


def _row_norms(G: np.ndarray) -> np.ndarray:
    return np.linalg.norm(G, axis=1)


def relatif_scores(adapter, solver, X, y_enc, X_val, y_val_enc, *, objective=None) -> np.ndarray:
    """RelatIF (θ-relative): ``-(1/n) vᵀ H⁻¹ g_i / ‖H⁻¹ g_i‖`` (higher = trim first).

    Parameters
    ----------
    adapter : BaseAdapter
    solver : BaseSolver, already fitted on ``adapter``
    X, y_enc : training rows and encoded targets
    X_val, y_val_enc : validation rows and encoded targets
    objective : BaseObjective, default=None
        The validation objective ``f_V`` (``None``: the mean validation loss).

    Returns
    -------
    ndarray of shape (n,)
    """
    objective = objective or UtilityObjective()
    u = np.asarray(solver.solve(objective.grad(adapter, X_val, y_val_enc)))

    def step_norms(G):  # ‖H⁻¹ g_i‖ of a (b, m) block
        return np.linalg.norm(np.asarray(solver.solve(G.T)).reshape(G.shape[1], -1), axis=0)

    return -_scaled_products(adapter, X, y_enc, u, step_norms, width=3) / adapter.weight_sum


def renormalized_if_scores(
    adapter, solver, X, y_enc, X_val, y_val_enc, *, objective=None
) -> np.ndarray:
    """Renormalized influence: ``-(1/n) vᵀ H⁻¹ g_i / ‖g_i‖`` (higher = trim first).

    Parameters
    ----------
    adapter : BaseAdapter
    solver : BaseSolver, already fitted on ``adapter``
    X, y_enc : training rows and encoded targets
    X_val, y_val_enc : validation rows and encoded targets
    objective : BaseObjective, default=None
        The validation objective ``f_V`` (``None``: the mean validation loss).

    Returns
    -------
    ndarray of shape (n,)
    """
    objective = objective or UtilityObjective()
    u = np.asarray(solver.solve(objective.grad(adapter, X_val, y_val_enc)))
    return -_scaled_products(adapter, X, y_enc, u, _row_norms) / adapter.weight_sum


def _cosine_sum(model, X, y_enc, v: np.ndarray, eta) -> np.ndarray:
    """``Σ_j η_j v̂_j ĝ_ij`` for every row (``η = 1`` when ``eta`` is None)."""
    n = X.shape[0]
    norm_v = float(np.linalg.norm(v))
    if norm_v == 0.0:
        return np.zeros(n)
    w = v / norm_v if eta is None else eta * v / norm_v
    return _scaled_products(model, X, y_enc, w, _row_norms)


def _recorded_checkpoints(adapter):
    """The adapters at the recorded checkpoints and their ``η``, or None without any."""
    if "checkpoints" not in adapter.capabilities:
        return None
    try:
        adapter.checkpoints()
    except UnsupportedModelError:  # a net fitted without TracInCheckpoints
        return None
    return list(_checkpoint_adapters(adapter))


def gas_scores(adapter, solver, X, y_enc, X_val, y_val_enc, *, objective=None) -> np.ndarray:
    """GAS: renormalised TracIn-CP, ``-(1/n) Σ_t η_t cos(v_t, g_it)`` (higher = trim first).

    Parameters
    ----------
    adapter : BaseAdapter
        A skorch net fitted with ``TracInCheckpoints`` is scored over its checkpoints;
        any other model at its fitted parameters (one checkpoint, ``η = 1``).
    solver : None
        Unused (Hessian-free).
    X, y_enc : training rows and encoded targets
    X_val, y_val_enc : validation rows and encoded targets
    objective : BaseObjective, default=None
        The validation objective ``f_V`` (``None``: the mean validation loss).

    Returns
    -------
    ndarray of shape (n,)
    """
    objective = objective or UtilityObjective()
    checkpoints = _recorded_checkpoints(adapter)
    if checkpoints is None:
        v = objective.grad(adapter, X_val, y_val_enc)
        return -_cosine_sum(adapter, X, y_enc, v, None) / adapter.weight_sum
    total = np.zeros(X.shape[0])
    for model, eta in checkpoints:
        v = objective.grad(model, X_val, y_val_enc)
        total += _cosine_sum(model, X, y_enc, v, eta)
    return -total / adapter.weight_sum

"""Generalized influence (GIF): influence restricted to selected parameters (``"gif"``).

Seed ``004_5a093b8d3e7dd941.txt`` (§3, eq. 5–6, §3.1 eq. 8, §4, Alg. 1). Split ``θ``
into the selected parameters ``θ_J`` (``k`` of them) and the rest, held fixed, and
write ``H_J = H[:, J]`` (``m × k``: the columns of the full Hessian). Up-weighting a
training row by ``ε`` while only ``θ_J`` may move gives the over-determined first-order
condition ``0 ≈ ε ∂θL_i + H_J Δ`` (eq. 5) — the fixed parameters' gradient must stay
at zero too, which is what "nullifies" their hidden effect. Its least-squares
(Moore-Penrose) solution is eq. 6::

    dθ_J/dε = -H_J⁺ ∂θL_i,    H_J⁺ = (H_Jᵀ H_J)⁻¹ H_Jᵀ

(the paper writes it without the minus sign, for the direction ``I`` it then
subtracts). Removing row ``i`` (``ε = -1/n``) moves ``θ_J`` by ``(1/n) H_J⁺ ∂θL_i``
and changes the validation objective ``f_V`` (default: mean validation loss) by about
``(1/n) ∂_J f_Vᵀ H_J⁺ ∂θL_i``. The score is the negative of that change::

    score_i = -(1/n) ((H_J⁺)ᵀ ∂_J f_V)ᵀ ∂θL(y_i, x_i; θ̂)

so, as for ``"if"``, the highest score marks the row whose removal lowers the
validation objective most. With every parameter selected ``H_J⁺ = H⁻¹`` and ``gif``
equals ``if``. Computing ``u = (H_J⁺)ᵀ ∂_J f_V`` once serves every row.

**Parameter selection** (§4; ``gif_fraction`` is the paper's ``k %``, taken in every
parameter group — each weight or bias tensor of a net, the whole coefficient matrix of
a linear model — "proportional to the number of parameters for each layer", at least
one per group). The examined data are the training rows being scored:

* ``"gradients"`` (Highest-k gradients): largest ``mean_i |∂θ_j L_i|``;
* ``"outputs"`` (Highest-k outputs): largest ``mean_i |θ_j u_ij|``, the parameter's
  term in its layer's pre-activation (``u_ij`` the input it multiplies; linear models
  and ``nn.Linear`` layers);
* ``"lowest_gradients"``, ``"lowest_outputs"``: the paper's Lowest-k baselines;
* ``"random"``: ``k %`` uniformly per group (``random_state``);
* ``"all"``: every parameter (classic influence);
* an array of parameter positions, or a boolean mask of length ``m``.

**Curvature.** ``solver="exact"``: ``u`` is the minimum-norm least-squares solution of
``H_Jᵀ u = ∂_J f_V`` from the dense ``H + damping·I`` (``O(m³)``; the fitted exact
inverse itself when ``J`` is everything). ``solver="modified_lissa"``: the modified
LiSSA of §3.1 with its restart-on-divergence rescaling, two HVPs per step
(:class:`~skinfluence.curvature.ModifiedLiSSASolver`). Other solvers approximate
``H⁻¹``, not ``H_J⁺``, and are refused.

Cost: one pass of per-row gradients to select (``"gradients"``) or one forward pass
(``"outputs"``), the solve, then one gradient per row: ``O(n m)`` plus the solve.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.utils import check_random_state

from ..adapters import require
from ..exceptions import UnsupportedModelError
from ..utils import iter_chunks
from ._common import inner_product_scores
from ._objectives import UtilityObjective

__all__ = ["GIF_SELECTIONS", "gif_scores", "select_parameters"]

GIF_SELECTIONS = (
    "gradients",
    "outputs",
    "random",
    "lowest_gradients",
    "lowest_outputs",
    "all",
)


def _check_fraction(fraction) -> float:
    if isinstance(fraction, bool) or not isinstance(fraction, Real) or not 0 < fraction <= 1:
        raise ValueError(f"gif_fraction must be a float in (0, 1], got {fraction!r}.")
    return float(fraction)


def select_parameters(
    adapter, X, y_enc, selection="gradients", fraction: float = 0.05, random_state=None
) -> np.ndarray:
    """Return the positions ``J`` in ``θ`` that GIF takes influence over.

    Parameters
    ----------
    adapter : BaseAdapter
        Fitted adapter.
    X : array-like of shape (n, p)
        The examined rows (the training rows being scored).
    y_enc : ndarray of shape (n,)
        Their encoded targets.
    selection : str or array-like, default="gradients"
        A rule of :data:`GIF_SELECTIONS` (see the module docstring), an array of
        positions, or a boolean mask of length ``m``.
    fraction : float, default=0.05
        Share of each parameter group selected by a rule: ``ceil(fraction · size)``.
    random_state : int, RandomState instance or None, default=None
        Seeds ``selection="random"``.

    Returns
    -------
    ndarray of int
        Sorted positions.
    """
    m = adapter.n_params
    if not isinstance(selection, str):
        J = np.asarray(selection)
        if J.dtype == bool:
            if J.shape != (m,):
                raise ValueError(f"a boolean gif_selection must have shape ({m},), got {J.shape}.")
            J = np.flatnonzero(J)
        elif J.ndim != 1 or J.size == 0 or not np.issubdtype(J.dtype, np.integer):
            raise ValueError(
                f"gif_selection must be one of {GIF_SELECTIONS}, a non-empty array of "
                f"parameter positions or a boolean mask of length {m}; got {selection!r}."
            )
        J = np.unique(J)
        if J[0] < 0 or J[-1] >= m:
            raise ValueError(f"gif_selection holds positions outside [0, {m}).")
        return J
    if selection not in GIF_SELECTIONS:
        raise ValueError(f"gif_selection must be one of {GIF_SELECTIONS}, got {selection!r}.")
    if selection == "all":
        return np.arange(m)
    fraction = _check_fraction(fraction)
    groups = adapter.param_groups()
    if selection == "random":
        rng = check_random_state(random_state)
        picks = [
            rng.choice(g, max(1, int(np.ceil(fraction * g.size))), replace=False) for g in groups
        ]
        return np.sort(np.concatenate(picks))
    if selection.endswith("gradients"):
        size = np.zeros(m)
        for rows in iter_chunks(X.shape[0], adapter.chunk_size()):
            size += np.abs(adapter.loss_grad(X[rows], y_enc[rows])).sum(axis=0)
        size /= max(X.shape[0], 1)
    else:
        hint = "use gif_selection='gradients' or 'random'."
        require(adapter, "output_contributions", what=f"gif_selection={selection!r}", hint=hint)
        try:
            size = np.asarray(adapter.output_contributions(X), dtype=np.float64)
        except UnsupportedModelError as exc:
            raise UnsupportedModelError(
                f"gif_selection={selection!r} needs each parameter's layer output, which "
                f"{type(adapter).__name__} gives only for linear models and nn.Linear "
                f"layers ({exc}); {hint}"
            ) from exc
    sign = 1.0 if selection.startswith("lowest") else -1.0
    picks = []
    for g in groups:
        k = max(1, int(np.ceil(fraction * g.size)))
        order = np.argsort(sign * size[g], kind="stable")
        picks.append(g[order[:k]])
    return np.sort(np.concatenate(picks))


def gif_scores(
    adapter,
    solver,
    X,
    y_enc,
    X_val,
    y_val_enc,
    *,
    objective=None,
    gif_selection="gradients",
    gif_fraction: float = 0.05,
    random_state=None,
) -> np.ndarray:
    """Generalized influence of the training rows on the validation objective.

    Parameters
    ----------
    adapter : BaseAdapter
        Fitted adapter.
    solver : ExactSolver or ModifiedLiSSASolver, unfitted
        Its ``damping`` and settings give ``H_J⁺`` (:meth:`BaseSolver.solve_restricted`,
        which fits only what the selection needs: no full inverse is wasted on a
        subset).
    X, y_enc : training rows and encoded targets
    X_val, y_val_enc : validation rows and encoded targets
    objective : BaseObjective, default=None
        The validation objective ``f_V`` (``None``: the mean validation loss).
    gif_selection : str or array-like, default="gradients"
        How ``J`` is chosen; see :func:`select_parameters`.
    gif_fraction : float, default=0.05
        Share of each parameter group selected by a rule.
    random_state : int, RandomState instance or None, default=None
        Seeds ``gif_selection="random"``.

    Returns
    -------
    ndarray of shape (n,)
        Higher = trimmed first.
    """
    objective = objective or UtilityObjective()
    J = select_parameters(adapter, X, y_enc, gif_selection, gif_fraction, random_state)
    u = solver.solve_restricted(adapter, J, objective.grad(adapter, X_val, y_val_enc))
    return -inner_product_scores(adapter, X, y_enc, u) / adapter.weight_sum

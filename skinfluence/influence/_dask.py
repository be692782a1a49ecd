"""Influence of training rows held in a dask array, computed where the rows are.

For a linear model whose training rows ``X`` are a dask array of row chunks (on a
``dask.distributed`` cluster when a client is active, else dask's local scheduler):

1. the adapter's reductions over the training rows — the Hessian (exact solver),
   its products (conjugate gradient), its diagonal, a regressor's noise level — run
   block by block on the workers and only their sums come back
   (:func:`skinfluence.utils.row_sum`);
2. the validation objective's gradient likewise, when ``X_val`` is a dask array
   (in memory it is computed as usual);
3. the measure's one validation solve ``u = H⁻¹ ∂θ f_V`` on the client;
4. the scores block by block on the workers: each task gets one block of rows, a
   copy of the adapter without the training rows (``detached``) and of the fitted
   solver (``rebound``), shipped once per worker, and returns the block's scores.

The scores equal those of the in-memory rows up to the order of the floating-point
sums (about 1e-13 relative). Measures: ``"if"``, ``"ip"`` (one solve or none, any
solver: conjugate gradient's products are distributed reductions), and
``"fi"``, ``"self"``, ``"loo_confidence"``, which solve once per row and so need
the factorised Hessian on every worker: the exact solver (``solver="auto"`` up to
4,096 parameters).
"""

from __future__ import annotations

from functools import partial

import numpy as np

from ..adapters import make_adapter, require
from ..curvature import make_solver, solver_name
from ..utils import as_rows, dask_row_blocks, is_dask_array, row_sum
from ._common import inner_product_scores
from ._fi import fi_row_scores, fi_scale
from ._loo import loo_label_scores, loo_outputs
from ._objectives import UtilityObjective, make_objective
from ._self import self_scores

__all__ = ["DASK_METHODS", "dask_scores"]

#: Measures that score a dask array of training rows.
DASK_METHODS = ("if", "ip", "fi", "self", "loo_confidence")
_PER_ROW = ("fi", "self", "loo_confidence")


def _block_scores(method, adapter, solver, X, y, w, u, s):
    """One block's scores (run on a worker)."""
    X = as_rows(np.asarray(X))
    y_enc = adapter.encode_y(np.asarray(y))
    if method in ("if", "ip"):
        out = -inner_product_scores(adapter, X, y_enc, u) / adapter.weight_sum
    elif method == "self":
        out = self_scores(adapter, solver, X, y_enc, None, None)
    elif method == "fi":
        return fi_row_scores(adapter, solver, X, y_enc, u, s, w)
    else:  # loo_confidence: the outputs; the scores need every row (regressors)
        return loo_outputs(adapter, solver, X, y_enc, weights=w)
    return out if w is None else out * w


def _val_grad_block(adapter, X, y, w):
    """``Σ_v w_v ∂θL_v`` of one block of validation rows (run on a worker)."""
    return adapter.loss_grad_sum(as_rows(np.asarray(X)), adapter.encode_y(np.asarray(y)), w)


def _objective_grad(adapter, light, goal, X_val, y_val):
    """``∂θ f_V``: a reduction on the workers for dask rows and the mean loss."""
    if not is_dask_array(X_val):
        return goal.grad(adapter, X_val, adapter.encode_y(np.asarray(y_val)))
    if isinstance(goal, UtilityObjective):
        w = goal.weights
        total = row_sum(
            partial(_val_grad_block, light),
            X_val,
            y_val,
            None if w is None else np.asarray(w, dtype=np.float64),
            size=light.chunk_size(),
        )
        return total / (X_val.shape[0] if w is None else float(np.sum(w)))
    # other objectives read the validation rows several times: they are brought in
    X_val = as_rows(X_val.compute())
    y_val = np.asarray(y_val.compute() if is_dask_array(y_val) else y_val)
    return goal.grad(adapter, X_val, adapter.encode_y(y_val))


def dask_scores(
    measure,
    estimator,
    X,
    y,
    X_val,
    y_val,
    *,
    sample_weight=None,
    solver="auto",
    damping: float = 0.0,
    objective="utility",
    objective_options: dict | None = None,
    record: dict | None = None,
    scaling: str = "appendix",
    label_score: str = "self_confidence",
    on_solver=None,
) -> np.ndarray:
    """Scores of the training rows ``X`` (a dask array) of a fitted linear model.

    Parameters
    ----------
    measure : Measure
        One of :data:`DASK_METHODS`.
    estimator : fitted linear model
    X : dask array of shape (n, p)
        The training rows, chunked by rows.
    y : dask array or ndarray of shape (n,)
        Their labels.
    X_val, y_val : validation rows (dask or in memory), or None
    sample_weight, solver, damping, objective, objective_options, record, scaling, \
label_score
        As in :func:`~skinfluence.influence.compute_scores`.
    on_solver : callable, default=None
        Called with the fitted solver (the dispatch records it).

    Returns
    -------
    ndarray of shape (n,)
    """
    import dask

    method = measure.name
    if method not in DASK_METHODS:
        raise ValueError(
            f"method={method!r} does not score a dask array; use one of {DASK_METHODS}, "
            "or bring the rows into memory."
        )
    adapter = make_adapter(estimator, X, y, sample_weight=sample_weight)
    require(
        adapter,
        "distributed",
        *measure.needs,
        what=f"method={method!r} on a dask array",
        hint="Scikit-learn linear models score dask arrays.",
    )
    light = adapter.detached()
    fitted = None
    if measure.curvature == "solve":
        from ._dispatch import _with_solves

        fitted = _with_solves(make_solver(solver, damping), measure.solves).fit(adapter)
        if on_solver is not None:
            on_solver(fitted)
        if method in _PER_ROW and solver_name(fitted) != "exact":
            raise ValueError(
                f"method={method!r} solves once per row: on a dask array every worker "
                "needs the factorised Hessian, i.e. the exact solver (solver='auto' "
                f"chooses it up to 4,096 parameters; this model has {adapter.n_params:,} "
                f"and the solver is {solver_name(fitted)!r}). Use in-memory (sparse) "
                "rows for wider models."
            )
    u = None
    if measure.objective:
        goal = make_objective(objective, **(objective_options or {}))
        require(adapter, *goal.needs, what=f"objective={goal.name!r}")
        g = _objective_grad(adapter, light, goal, X_val, y_val)
        u = g if fitted is None else fitted.solve(g)
    s = fi_scale(scaling, adapter.weight_sum)
    blocks, (y_blocks, w_blocks), _ = dask_row_blocks(X, y, adapter.sample_weight)
    ship = partial(dask.delayed, pure=True)
    light_d = ship(light)
    solver_d = ship(None if fitted is None else fitted.rebound(light))
    u_d = ship(u)
    task = dask.delayed(_block_scores, pure=True)
    parts = dask.compute(
        *[
            task(method, light_d, solver_d, block, y_blocks[i], w_blocks[i], u_d, s)
            for i, block in enumerate(blocks)
        ]
    )
    out = np.concatenate(parts, axis=0)
    if method == "loo_confidence":
        y_all = np.asarray(y.compute() if is_dask_array(y) else y)
        return loo_label_scores(adapter, out, adapter.encode_y(y_all), label_score)
    return out

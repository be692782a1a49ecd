"""The one dispatch: from a fitted model and rows to scores.

:func:`compute_scores` (training rows, for :class:`~skinfluence.InfluenceTrimmer` and
:func:`~skinfluence.influence_scores`) and :func:`query_scores` (pool rows, for
:class:`~skinfluence.InfluenceActiveLearner`) are the only places that build an
adapter and a solver. They look the method up in its registry, check the adapter's
capabilities, clone and fit the solver as the measure declares, and pass the
measure exactly the options it declares.
"""

from __future__ import annotations

from functools import partial

import numpy as np
from joblib import Parallel, delayed
from sklearn.pipeline import Pipeline
from sklearn.utils import check_array

from ..adapters import is_torch_model, make_adapter, model_input, require
from ..curvature import AutoSolver, make_solver, solver_name
from ..utils import as_rows, is_dask_array
from ._active import fi_active_scores, fi_pair_factors, if_active_scores
from ._dask import dask_scores
from ._kfsvd import kfsvd_pair_factors
from ._leaf import leaf_loo_proba
from ._loo import estimate_n_issues, loo_outputs
from ._objectives import make_objective
from ._query import QUERY_STRATEGIES, bald_scores, bootstrap_proba, entropy_scores, margin_scores
from ._registry import get_measure

__all__ = [
    "QUERY_METHODS",
    "final_step",
    "compute_scores",
    "estimate_label_issues",
    "loo_probabilities",
    "query_scores",
]

#: ``method=`` names of the active learner: FI^active, influence of adding a row, the
#: uncertainty baselines and random.
QUERY_METHODS = ("fi", "if", "random", *QUERY_STRATEGIES)


def final_step(estimator, *Xs):
    """The model influence is taken of, and the rows as it sees them.

    For a fitted :class:`~sklearn.pipeline.Pipeline`, its last step and each of
    ``Xs`` transformed by the steps before it (sparse outputs stay sparse, ``None``
    stays ``None``); any other estimator and ``Xs`` unchanged. Influence of a
    pipeline is the influence of its final model on the transformed features, one
    score per input row (FI's perturbation then moves the transformed features).

    Returns
    -------
    tuple
        ``(model, *Xs)``.
    """
    if not isinstance(estimator, Pipeline):
        return (estimator, *Xs)
    head = estimator[:-1]
    out = []
    for X in Xs:
        if X is None:
            out.append(None)
            continue
        Xt = head.transform(X)
        out.append(check_array(Xt, accept_sparse=("csr", "csc"), dtype=np.float64))
    return (estimator[-1], *out)


def _as_float(X):
    """Rows as the adapters take them: float64 arrays or CSR matrices, or None."""
    if X is None:
        return None
    return as_rows(check_array(X, accept_sparse=("csr", "csc"), dtype=np.float64))


def compute_scores(
    estimator,
    X,
    y,
    X_val,
    y_val,
    *,
    method: str,
    sample_weight=None,
    solver="auto",
    damping: float = 0.0,
    params="all",
    gauss_newton: bool = False,
    objective="utility",
    objective_options: dict | None = None,
    record: dict | None = None,
    **options,
) -> np.ndarray:
    """Scores of the training rows ``(X, y)`` of ``estimator`` (fitted on them).

    Parameters
    ----------
    estimator : estimator
        Fitted on ``(X, y)`` for a measure of the fitted model; the unfitted
        estimator for a model-agnostic one (``inputs="estimator"``); ignored by
        ``"random"``.
    X, y : validated training rows and their (user) labels
    X_val, y_val : validated validation rows, or None for a validation-free measure
    method : str
        A name in :data:`~skinfluence.influence.MEASURES`.
    sample_weight : ndarray of shape (n,), default=None
        The weights the model was fitted with (see the measure's ``weights``).
    solver, damping : the curvature (:func:`~skinfluence.curvature.make_solver`;
        a solver object is cloned, never fitted in place)
    params, gauss_newton : passed to :func:`~skinfluence.adapters.make_adapter`
    objective, objective_options : the validation objective
        (:func:`~skinfluence.influence.make_objective`)
    record : dict, default=None
        Receives what ran: ``"solver"`` (the name of the fitted solver, what
        ``"auto"`` chose) and ``"solver_reason"`` (why, for ``"auto"``), when the
        measure uses curvature.
    **options
        Every option a measure may declare (``scaling``, ``random_state``,
        ``damping`` is added); the measure receives those it declares and that are
        given (one not given takes the measure function's default).

    Returns
    -------
    ndarray of shape (n,)
        Higher = trimmed first.
    """
    measure = get_measure(method)
    if sample_weight is not None and measure.weights == "unsupported":
        raise ValueError(
            f"method={method!r} does not support sample weights; drop sample_weight or "
            "use another method (e.g. 'if', 'ip', 'loo_confidence')."
        )
    options["damping"] = damping
    kwargs = {name: options[name] for name in measure.options if name in options}
    if measure.inputs == "none":
        return measure.function(None, None, X, None, X_val, None, **kwargs)
    if measure.inputs == "estimator":
        if sample_weight is not None:
            kwargs["sample_weight"] = sample_weight
        return measure.function(estimator, X, y, X_val, y_val, **kwargs)
    if is_dask_array(X):
        if isinstance(estimator, Pipeline):
            raise ValueError(
                "a Pipeline does not score a dask array: transform the rows with dask "
                "first (or with the pipeline's steps, chunk by chunk) and pass its final "
                "model."
            )
        return dask_scores(
            measure,
            estimator,
            X,
            y,
            X_val,
            y_val,
            sample_weight=sample_weight,
            solver=solver,
            damping=damping,
            objective=objective,
            objective_options=objective_options,
            scaling=options.get("scaling", "appendix"),
            label_score=options.get("label_score", "self_confidence"),
            on_solver=partial(_record, record),
        )
    estimator, X, X_val = final_step(estimator, X, X_val)
    X, X_val = as_rows(X), None if X_val is None else as_rows(X_val)  # CSR once
    adapter = make_adapter(
        estimator, X, y, sample_weight=sample_weight, params=params, gauss_newton=gauss_newton
    )
    require(adapter, *measure.needs, what=f"method={method!r}", hint=measure.hint)
    if measure.objective:
        goal = make_objective(objective, **(objective_options or {}))
        require(adapter, *goal.needs, what=f"objective={goal.name!r}")
        kwargs["objective"] = goal
    fitted_solver = None
    if measure.curvature != "none":
        fitted_solver = _with_solves(make_solver(solver, damping), measure.solves)
        if measure.curvature == "solve":
            fitted_solver.fit(adapter)
            _record(record, fitted_solver)
        else:  # the restricted solve fits on a copy: name a missing capability here
            what = f"{type(fitted_solver).__name__} (method={method!r})"
            require(adapter, *fitted_solver.needs, what=what, hint=fitted_solver.hint)
    y_val_enc = adapter.encode_y(y_val) if measure.validation else None
    scores = measure.function(
        adapter,
        fitted_solver,
        X,
        adapter.encode_y(y),
        X_val if measure.validation else None,
        y_val_enc,
        **kwargs,
    )
    weights = adapter.row_weights()
    if weights is not None and measure.weights == "scale":
        scores = scores * weights  # a removed row's influence is its weighted term's
    return scores


def _with_solves(solver, solves: str):
    """``solver="auto"`` told how many solves the measure makes (its own clone)."""
    if isinstance(solver, AutoSolver):
        solver.set_params(solves=solves)
    return solver


def _record(record: dict | None, solver) -> None:
    """Write the fitted solver's name (and ``"auto"``'s reason) into ``record``."""
    if record is None:
        return
    record["solver"] = solver_name(solver)
    reason = getattr(solver, "reason_", None)
    if reason is not None:
        record["solver_reason"] = reason


def loo_probabilities(
    estimator,
    X,
    y,
    *,
    sample_weight=None,
    solver="auto",
    damping: float = 0.0,
    params="all",
    gauss_newton=False,
    what: str = "leave-one-out probabilities",
    record: dict | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Approximate leave-one-out class probabilities of the rows a classifier was fitted on.

    Parameters
    ----------
    estimator : fitted classifier with an adapter (``metric`` and ``link``)
    X, y : the rows it was fitted on and their labels
    sample_weight, solver, damping, params, gauss_newton, record : as in
        :func:`compute_scores`
    what : str
        What needs them, for the error messages.

    Returns
    -------
    P : ndarray of shape (n, K)
    y_enc : ndarray of shape (n,)
        The labels as class positions.
    """
    estimator, X = final_step(estimator, X)
    X = as_rows(X)  # CSR once
    adapter = make_adapter(
        estimator, X, y, sample_weight=sample_weight, params=params, gauss_newton=gauss_newton
    )
    if "trees" not in adapter.capabilities:
        require(adapter, "metric", "link", what=what)
    if not adapter.is_classifier:
        raise ValueError(
            f"{what} estimates the number of mislabeled rows of a classifier; pass an int "
            "or a float budget for a regressor."
        )
    y_enc = adapter.encode_y(y)
    if "trees" in adapter.capabilities:
        return leaf_loo_proba(adapter, X, y_enc), y_enc
    fitted = make_solver(solver, damping).fit(adapter)
    _record(record, fitted)
    return adapter.output_proba(loo_outputs(adapter, fitted, X, y_enc)), y_enc


def estimate_label_issues(estimator, X, y, **options) -> int:
    """Number of label issues among ``(X, y)`` by the confident joint of the
    approximate leave-one-out probabilities (``budget="auto"``).

    The leave-one-out probabilities come from the adapter's capabilities: one Newton
    step (``metric`` and ``link``: linear models, nets) or, for tree ensembles
    (``trees``), the leaf values refit without each row with the structures fixed
    (:func:`~skinfluence.influence.leaf_loo_proba`).

    Parameters
    ----------
    estimator : fitted classifier with an adapter (``metric`` and ``link``, or ``trees``)
    X, y : the rows it was fitted on and their labels
    **options
        As :func:`loo_probabilities` takes them (``record`` included).

    Returns
    -------
    int
    """
    return estimate_n_issues(*loo_probabilities(estimator, X, y, what='budget="auto"', **options))


def query_scores(
    model,
    estimator,
    X,
    y,
    X_pool,
    X_val,
    y_val,
    *,
    method: str,
    rng: np.random.RandomState,
    sample_weight=None,
    solver="auto",
    damping: float = 0.0,
    params="all",
    gauss_newton: bool = False,
    aggregation="trimmed_mean",
    scaling: str = "appendix",
    approximation=None,
    svd_rank: int = 10,
    n_estimators: int = 10,
    n_jobs=None,
    record: dict | None = None,
) -> np.ndarray:
    """Query scores of the pool rows ``X_pool`` for ``model`` fitted on ``(X, y)``.

    Parameters
    ----------
    model : fitted classifier
    estimator : the unfitted estimator (BALD's bootstrap refits clone it)
    X, y : the labeled rows the model was fitted on
    X_pool : rows to score
    X_val, y_val : validation rows (``method="if"``)
    method : str
        A name in :data:`QUERY_METHODS`.
    rng : RandomState
        Draws the random scores, the KFSVD seed and the BALD seeds.
    sample_weight : ndarray of shape (n,), default=None
        Weights of the labeled rows (the model was fitted with them).
    solver, damping, params, gauss_newton, aggregation, scaling, approximation, \
svd_rank, n_estimators, n_jobs
        As in :class:`~skinfluence.InfluenceActiveLearner`.
    record : dict, default=None
        As in :func:`compute_scores`.

    Returns
    -------
    ndarray of shape (n_pool,)
        Higher = queried first.
    """
    if method == "random":
        return rng.uniform(size=X_pool.shape[0])
    if method in ("fi", "if"):
        model, X, X_pool, X_val = final_step(model, X, X_pool, X_val)
        X, X_pool, X_val = (_as_float(a) for a in (X, X_pool, X_val))
        adapter = make_adapter(
            model, X, y, sample_weight=sample_weight, params=params, gauss_newton=gauss_newton
        )
        needs = ("gradients", "mixed", "metric") if method == "fi" else ("gradients", "metric")
        require(adapter, *needs, what=f"method={method!r}")
        solves = "one" if method == "if" else "rows"
        fitted_solver = _with_solves(make_solver(solver, damping), solves).fit(adapter)
        _record(record, fitted_solver)
        if method == "if":
            return if_active_scores(adapter, fitted_solver, X_pool, X_val, adapter.encode_y(y_val))
        pair_factors = fi_pair_factors
        if approximation == "kfsvd":
            seed = rng.randint(np.iinfo(np.int32).max)
            pair_factors = partial(kfsvd_pair_factors, svd_rank=svd_rank, random_state=seed)
        return fi_active_scores(
            adapter,
            fitted_solver,
            X,
            adapter.encode_y(y),
            X_pool,
            aggregation=aggregation,
            scaling=scaling,
            pair_factors=pair_factors,
        )
    if method == "bald":
        seeds = rng.randint(np.iinfo(np.int32).max, size=n_estimators)
        if is_torch_model(model):
            adapter = make_adapter(model, X, y, params=params)
            require(adapter, "mc_dropout", what="method='bald'")
            members = adapter.mc_dropout_proba(X_pool, seeds)
        else:
            members = Parallel(n_jobs=n_jobs)(
                delayed(bootstrap_proba)(estimator, X, y, X_pool, s, sample_weight) for s in seeds
            )
        return bald_scores(np.stack(members))
    if method not in QUERY_METHODS:
        raise ValueError(f"method must be one of {QUERY_METHODS}, got {method!r}.")
    P = model.predict_proba(model_input(model, X_pool))
    return entropy_scores(P) if method == "entropy" else margin_scores(P)

"""The functional entry point: influence scores of a fitted estimator."""

from __future__ import annotations

import numpy as np
from sklearn.base import is_classifier
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from .adapters import check_row_weights
from .influence import FI_SCALINGS, compute_scores, final_step, get_measure
from .utils import (
    check_dask_xy,
    check_two_classes,
    check_validation_set,
    check_xy,
    is_dask_array,
)

__all__ = ["influence_scores"]


def influence_scores(
    estimator,
    X,
    y,
    X_val=None,
    y_val=None,
    method: str = "fi",
    *,
    sample_weight=None,
    solver="auto",
    damping: float = 0.0,
    scaling: str = "appendix",
    params="all",
    gauss_newton: bool = False,
    random_state=None,
    objective="utility",
    sensitive_val=None,
    epsilon: float | None = None,
    attack: str = "boundary",
    n_estimators: int | None = None,
    dropout: float = 0.1,
    gif_selection="gradients",
    gif_fraction: float = 0.05,
    label_score: str = "self_confidence",
    cv=5,
    n_jobs: int | None = None,
    verbose: int = 0,
) -> np.ndarray:
    """Score every training row of a fitted estimator by its influence.

    Parameters
    ----------
    estimator : fitted estimator
        A scikit-learn ``LogisticRegression``, ``SGDClassifier(loss="log_loss")``,
        ``LinearRegression``, ``Ridge``, ``SGDRegressor``, a skorch net or a tree
        ensemble (HistGradientBoosting, GradientBoosting, RandomForest, ExtraTrees,
        LightGBM, XGBoost; see ``docs/trees.md``), already
        fitted on ``(X, y)`` — or a fitted ``Pipeline`` ending in one: influence is
        then that of the final model on ``X`` (and ``X_val``) transformed by the
        steps before it, one score per row of ``X`` (sparse outputs stay sparse;
        FI's perturbation moves the transformed features). For ``"oof_confidence"``
        and ``"data_oob"`` any fitted classifier or regressor: they fit clones of it
        (of a pipeline's final model, on the transformed rows).
    X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
        The training rows the estimator was fitted on (raw rows for a pipeline). A
        sparse matrix is never densified (linear models). A dask array of row chunks
        (linear models, not in a pipeline; methods ``"if"``, ``"ip"``, ``"fi"``,
        ``"self"``, ``"loo_confidence"``) is scored where it lies: the Hessian and
        the validation gradient as reductions over its chunks, the scores chunk by
        chunk (see ``docs/scaling.md``).
    y : array-like of shape (n_samples,)
        Their targets.
    X_val : {array-like, sparse matrix} of shape (n_val, n_features), default=None
        Validation rows whose mean loss the influence refers to; not needed (and
        ignored) by the validation-free methods ``"loo_confidence"``,
        ``"oof_confidence"``, ``"data_oob"``, ``"self"``, ``"self_tracin"`` and
        ``"random"``.
    y_val : array-like of shape (n_val,), default=None
        Their targets.
    method : str, default="fi"
        A name in ``skinfluence.influence.MEASURES``; see
        :class:`~skinfluence.InfluenceTrimmer` for every method's formula and
        orientation. ``"fi"``: FI^util of seed 000 (local
        influence on the perturbation manifold); ``"if"``: classic influence on the
        validation loss (Koh & Liang, the IV baseline); ``"ip"`` / ``"ip_ensemble"``:
        Hessian-free inner products (seed 001), the latter averaged over dropout
        masks; ``"self"``: self-influence (Cook's distance, seed 002);
        ``"tracin"`` / ``"self_tracin"``: TracIn-CP over the checkpoints of a skorch
        net's ``skinfluence.callbacks.TracInCheckpoints``; ``"datainf"``: DataInf's
        closed-form per-layer inverse; ``"representer"``: representer points of
        the L2-regularised last linear layer; ``"gif"``: generalized influence on
        selected parameters (seed 004); ``"relatif"`` / ``"renormalized_if"``:
        ``"if"`` divided by the norm of the row's parameter change ``H⁻¹g_i`` / of its
        gradient ``g_i`` (survey 003 §5.3); ``"gas"``: the cosine of the validation
        and row gradients (TracIn-CP renormalised, over a net's checkpoints when it
        recorded them); ``"gex"``: ``"ip"`` averaged over SGD continuations of the
        fit (seed 001's GEX); ``"source"``: SOURCE, influence unrolled over the
        segments between a net's checkpoints (seed 001's TDA);
        ``"loo_confidence"`` / ``"oof_confidence"``:
        ``1 -`` the label quality at the leave-one-out / out-of-fold predictions;
        ``"data_oob"``: minus the Data-OOB value; ``"random"``: uniform random scores.
    sample_weight : array-like of shape (n_samples,), default=None
        The weights ``estimator`` was fitted with (``fit(X, y, sample_weight=...)``):
        the curvature and the ``1/n`` of influence are then the weighted ones, and a
        row's score is that of its weighted term (a zero-weight row scores 0, a row
        of weight 2 scores as its two copies would together). ``class_weight`` of a
        ``LogisticRegression`` is read from the model and needs no weights here.
        ``"oof_confidence"`` passes them to its fold fits, ``"data_oob"`` draws rows
        in proportion to them.
    solver : {"auto", "exact", "cg", "kfac", "ekfac", "lissa", "modified_lissa", \
            "arnoldi"} or BaseSolver, default="auto"
        How inverse-Hessian-vector products are computed (see
        ``docs/curvature.md``). ``"auto"``: ``"exact"`` up to 4,096 parameters (the
        factorisation then takes at most 384 MiB and about ``m³`` operations; 512
        for ``"if"``, which solves once), Jacobi-preconditioned ``"cg"`` above;
        ``verbose`` prints the choice.
        ``"exact"`` is refused above 4 GiB (13,377 parameters).
    damping : float, default=0.0
        Added to the Hessian's diagonal before inversion (``"source"``: to every
        segment's curvature). ``method="datainf"``: the per-layer damping ``λ_l``
        (0 = Kwon et al.'s rule).
    scaling : {"appendix", "algorithm", "main"}, default="appendix"
        ``"fi"`` only: the factor of ``∂ωθ̂`` (``-1/n``, ``1``, ``+1/n``); see
        :mod:`skinfluence.influence._fi`.
    params : "all", "last" or list of str, default="all"
        The parameters influence is taken over (skorch nets only): every one, the
        last linear layer, or the named ones.
    gauss_newton : bool, default=False
        Use the Gauss-Newton matrix instead of the Hessian (skorch nets only).
    random_state : int, RandomState instance or None, default=None
        Seed of ``method="random"``, of ``"ip_ensemble"``'s dropout masks, of
        ``"gex"``'s minibatches, of
        ``"oof_confidence"``'s folds and of ``"data_oob"``'s bootstrap draws.
    objective : {"utility", "fairness", "robustness"} or BaseObjective, \
            default="utility"
        The validation objective ``f_V`` whose change the gradient-based methods
        predict: the mean validation loss, the demographic-parity gap of the
        predicted probabilities between the two groups of ``sensitive_val``, or the
        mean loss on adversarially perturbed validation rows (``epsilon``,
        ``attack``). See :mod:`skinfluence.influence._objectives`.
    sensitive_val : array-like of shape (n_val,), default=None
        ``objective="fairness"`` only: the sensitive attribute of the validation
        rows (exactly two distinct values).
    epsilon : float or None, default=None
        ``objective="robustness"`` only: strength of the attack; ``None`` means 1.3
        for ``attack="boundary"`` (the seed's reference value) and 0.1 otherwise.
    attack : {"boundary", "linf", "l2"}, default="boundary"
        ``objective="robustness"`` only: the white-box adversary (move towards the
        decision boundary, FGSM step, FGM step).
    n_estimators : int or None, default=None
        ``method="ip_ensemble"``: number of dropout-masked models ``E`` (``None``:
        5); ``"gex"``: number of SGD continuations (``None``: 5); ``"data_oob"``:
        bootstrap models (``None``: 100, or a bagging
        ensemble's own members).
    dropout : float, default=0.1
        ``method="ip_ensemble"`` only: probability that a parameter is zeroed in a
        mask (the kept ones are scaled by ``1/(1 - dropout)``).
    gif_selection : str or array-like, default="gradients"
        ``method="gif"`` only (seed 004): the parameters ``J`` influence is restricted
        to — ``"gradients"`` / ``"outputs"`` (Highest-k), ``"lowest_gradients"`` /
        ``"lowest_outputs"``, ``"random"``, ``"all"`` (= ``"if"``), or positions in
        ``θ`` / a boolean mask. ``gif`` needs ``solver="auto"`` (up to 4,096
        parameters), ``"exact"`` or ``"modified_lissa"``; see
        :mod:`skinfluence.influence._gif`.
    gif_fraction : float, default=0.05
        ``method="gif"`` only: share of each parameter group a rule selects.
    label_score : {"self_confidence", "normalized_margin", \
            "confidence_weighted_entropy"}, default="self_confidence"
        ``method="loo_confidence"`` and ``"oof_confidence"`` (classifiers):
        cleanlab's label-quality score on the leave-one-out (out-of-fold)
        probabilities.
    cv : int, cross-validation generator or iterable, default=5
        ``method="oof_confidence"`` only: the folds (an int is shuffled
        ``StratifiedKFold`` / ``KFold`` seeded by ``random_state``).
    n_jobs : int or None, default=None
        ``method="oof_confidence"`` and ``"data_oob"``: joblib jobs for their fits.
    verbose : int, default=0
        Print the solver ``"auto"`` chose, and why.

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        One score per training row; the highest score is the row to trim first.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.preprocessing import scale
    >>> from skinfluence import influence_scores
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = scale(X)
    >>> model = LogisticRegression().fit(X[:400], y[:400])
    >>> scores = influence_scores(model, X[:400], y[:400], X[400:], y[400:], "if")
    >>> scores.shape
    (400,)
    """
    measure = get_measure(method)
    if scaling not in FI_SCALINGS:
        raise ValueError(f"scaling must be one of {FI_SCALINGS}, got {scaling!r}.")
    check_is_fitted(estimator)
    if is_dask_array(X) and isinstance(estimator, Pipeline):
        raise ValueError(
            "a Pipeline does not score a dask array: transform the rows with dask first "
            "and pass the pipeline's final model."
        )
    # a fitted pipeline: influence of its final model on the transformed rows
    estimator, X, X_val = final_step(estimator, X, X_val)
    classifier = is_classifier(estimator)
    n_in = getattr(estimator, "n_features_in_", None)
    for name, rows in (("X", X), ("X_val", X_val)):
        width = None if rows is None or np.ndim(rows) != 2 else np.shape(rows)[1]
        if n_in is not None and width is not None and width != n_in:
            raise ValueError(
                f"{name} has {width} features, but {type(estimator).__name__} was fitted "
                f"on {n_in}; pass the rows it was fitted on, transformed the same way."
            )
    dask_rows = is_dask_array(X)
    if dask_rows:  # its labels are checked in the same pass as its chunks
        X, y = check_dask_xy(X, y, classifier=classifier, who="influence_scores")
    else:
        X, y = check_xy(X, y, classifier=classifier)
    if measure.validation or X_val is not None or y_val is not None:
        if measure.validation and X_val is None and y_val is None:
            raise ValueError(
                f"method={method!r} scores against validation rows: pass X_val and y_val "
                "(or a validation-free method: 'loo_confidence', 'self')."
            )
        if is_dask_array(X_val):
            X_val, y_val = check_dask_xy(X_val, y_val, classifier=classifier, n_features=X.shape[1])
        else:
            X_val, y_val = check_validation_set(X_val, y_val, X.shape[1], classifier=classifier)
    if classifier and not dask_rows:
        check_two_classes(y, "influence_scores")
    sample_weight = check_row_weights(sample_weight, X.shape[0])
    record = {}
    scores = compute_scores(
        estimator,
        X,
        y,
        X_val,
        y_val,
        method=method,
        sample_weight=sample_weight,
        solver=solver,
        damping=damping,
        scaling=scaling,
        params=params,
        gauss_newton=gauss_newton,
        random_state=random_state,
        objective=objective,
        objective_options={"sensitive": sensitive_val, "epsilon": epsilon, "attack": attack},
        dropout=dropout,
        gif_selection=gif_selection,
        gif_fraction=gif_fraction,
        label_score=label_score,
        record=record,
        cv=cv,
        n_jobs=n_jobs,
        **({} if n_estimators is None else {"n_estimators": n_estimators}),
    )
    if verbose and "solver_reason" in record:
        print(
            f"[influence_scores] solver='auto' chose {record['solver']!r}: "
            f"{record['solver_reason']}",
            flush=True,
        )
    return scores

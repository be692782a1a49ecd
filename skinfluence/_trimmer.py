"""InfluenceTrimmer: drop the training rows an influence measure marks as harmful."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import _fit_context, is_classifier
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import has_fit_parameter

from ._base import BaseRowSelector, ScoredRows
from ._methods import auto_method
from ._reweight import ess_temperature, softmax_weights
from .adapters import model_input
from .curvature import SOLVERS, BaseSolver
from .influence import (
    ATTACKS,
    FI_SCALINGS,
    GIF_SELECTIONS,
    LABEL_SCORES,
    MEASURES,
    OBJECTIVES,
    BaseObjective,
    compute_scores,
    decision_proba,
    estimate_n_issues,
    label_quality,
    loo_probabilities,
)

#: ``noisy_validation=`` choices: how validation rows drawn from the training data are
#: protected from their own mislabeled rows (docs/label_issues.md).
NOISY_VALIDATION = ("keep", "drop_flagged", "trim_loss")

STRATEGIES = ("trim", "relabel", "reweight")

__all__ = ["InfluenceTrimmer"]


class InfluenceTrimmer(BaseRowSelector):
    """Trim the most harmful training rows by influence, then refit.

    ``fit`` fits a clone of ``estimator``, scores every training row with ``method``,
    drops the ``budget`` highest-scored rows and refits a clone on the kept rows. A
    method that needs no validation set (``"loo_confidence"``, ``"oof_confidence"``,
    ``"data_oob"``, ``"self"``) scores every row; a validation-based one scores
    against ``validation`` (by default 5-fold cross-fitting, so that every row is
    scored) or ``X_val, y_val``.

    Parameters
    ----------
    estimator : estimator object, default=None
        The model to clean the data for; ``None`` means
        ``LogisticRegression()``. Every method runs on ``LogisticRegression`` (L2 or
        no penalty), ``SGDClassifier(loss="log_loss")`` (binary),
        ``LinearRegression``, ``Ridge``, ``SGDRegressor(loss="squared_error")`` and
        skorch nets (they have an adapter); the model-agnostic methods
        ``"oof_confidence"`` and ``"data_oob"`` (what ``"auto"`` runs for any other
        model) on any scikit-learn classifier or regressor: ``SVC``,
        ``KNeighborsClassifier``, ``MLPClassifier``, ``GaussianNB``, forests,
        stacking models, pipelines.
    method : {"auto", "loo_confidence", "oof_confidence", "data_oob", "fi", "if", \
            "ip", "ip_ensemble", "self", "tracin", "self_tracin", "datainf", \
            "representer", "gif", "relatif", "renormalized_if", "gas", "gex", \
            "source", "random"}, default="auto"
        The influence measure. Every score is oriented so that higher = trimmed
        first:

        - ``"auto"`` — the method that found mislabeled rows best under the
          realistic protocol (validation rows drawn from the same noisy data) for
          the model family: ``"loo_confidence"`` for linear models and nets
          (``docs/label_issues.md``), ``"oof_confidence"`` for a model without an
          adapter (``docs/model_agnostic.md``; ``"data_oob"`` for a classifier with
          neither ``predict_proba`` nor ``decision_function``); :attr:`method_`
          records it.
        - ``"loo_confidence"`` — ``1 -`` the probability of the row's own label
          when the row is left out (``label_score``), from the one-Newton-step
          leave-one-out predictions (Rad & Maleki 2020); no validation set, no
          refit. Regressors: the standardised leave-one-out residual.
        - ``"oof_confidence"`` — the same score on out-of-fold predictions: clones
          fitted on ``cv`` folds (stratified for classifiers) predict the rows
          they did not see (``predict_proba``, else ``decision_function`` through a
          sigmoid / softmax); any classifier or regressor, ``cv`` fits.
        - ``"data_oob"`` — minus the Data-OOB value (Kwon & Zou 2023): the mean
          out-of-bag correctness of the row's label (classifiers; squared error
          for regressors) over ``n_estimators`` bootstrap fits, or over a
          forest's or bagging model's own members from one fit; any classifier or
          regressor. A row in every bootstrap sample gets the lowest score.

        - ``"fi"`` — FI^util of seed 000: the local influence of a perturbation of
          the row's features on the mean validation loss (≥ 0; large = the
          validation loss is sensitive to this row).
        - ``"if"`` — minus the classic influence on the mean validation loss
          (Koh & Liang; Chhabra et al.'s IV): the predicted decrease of the
          validation loss when the row is removed.
        - ``"ip"`` — Hessian-free inner product (seed 001 eq. 2):
          ``-(1/n) ∂θf_Vᵀ ∂θL_i``, i.e. ``"if"`` with ``H = I``; the raw IP
          (positive = helpful row) negated.
        - ``"ip_ensemble"`` — ``"ip"`` averaged over ``n_estimators`` models whose
          parameters are masked by inverted ``dropout`` (no retraining).
        - ``"self"`` — self-influence ``∂θL_iᵀ H⁻¹ ∂θL_i`` (Cook's distance of
          seed 002; ≥ 0, large = the model bends to fit the row); use
          ``params="last"`` for the last layer only, as in the seed.
        - ``"tracin"`` — TracIn-CP (Pruthi et al.):
          ``-(1/n) Σ_t η_t ∂θf_V(θ_t)ᵀ ∂θL_i(θ_t)`` over the checkpoints of a
          skorch net fitted with ``skinfluence.callbacks.TracInCheckpoints``; the
          raw TracIn (positive = proponent) negated.
        - ``"self_tracin"`` — ``Σ_t η_t ‖∂θL_i(θ_t)‖²`` over the same checkpoints
          (large = hard to fit throughout training).
        - ``"datainf"`` — ``"if"`` with DataInf's closed-form per-layer inverse of
          the damped empirical Fisher (Kwon et al. 2024).
        - ``"representer"`` — representer points of the L2-regularised last
          linear layer (Yeh et al. 2018): ``mean_j (∂L_j/∂s_j)ᵀ α_i k(x_i, x_j)``,
          the predicted decrease of the validation loss when row ``i``'s term is
          removed from the pre-activations.
        - ``"gif"`` — generalized influence (seed 004 eq. 6):
          ``-(1/n) ((H_J⁺)ᵀ ∂_J f_V)ᵀ ∂θL_i``, ``"if"`` restricted to the parameters
          ``J`` of ``gif_selection`` with the others held fixed (Moore-Penrose
          form); the raw GIF's predicted validation change on removal, negated.
          Needs ``solver="auto"`` (up to 4,096 parameters), ``"exact"`` or
          ``"modified_lissa"``.
        - ``"relatif"`` — RelatIF, θ-relative influence (Barshan et al. 2020;
          survey 003 eq. 66): ``"if"`` divided by ``‖H⁻¹ ∂θL_i‖``, the size of the
          row's own parameter change (one extra solve per row).
        - ``"renormalized_if"`` — ``"if"`` divided by ``‖∂θL_i‖`` (Hammoudeh & Lowd
          2022; survey eq. 69): the gradient magnitude that makes badly fitted rows
          look influential everywhere divided out.
        - ``"gas"`` — gradient aggregated similarity (Hammoudeh & Lowd; survey eq.
          68): TracIn-CP with unit gradients; at the fitted model
          ``-(1/n) cos(∂θf_V, ∂θL_i)``, over the checkpoints of a skorch net fitted
          with ``TracInCheckpoints`` when it has them.
        - ``"gex"`` — the geometric ensemble of seed 001's baselines (Kim et al.
          2023): ``"ip"`` averaged over ``n_estimators`` models made by one more
          epoch of minibatch SGD from the fitted parameters (no refit of the
          estimator).
        - ``"source"`` — SOURCE (Bae et al. 2024; seed 001's "TDA"): influence
          unrolled over the segments between the checkpoints of a skorch net fitted
          with ``TracInCheckpoints``, each segment with its own dense curvature,
          ``-(1/n) Σ_ℓ ∂θf_Vᵀ S_L⋯S_{ℓ+1} (I - S_ℓ) H_ℓ⁻¹ ∂θL_i(θ_ℓ)`` with
          ``S_ℓ = exp(-K_ℓ η_ℓ H_ℓ)``; one converged segment is ``"if"``. Use
          ``gauss_newton=True`` and ``params="last"`` for all but small nets.
        - ``"random"`` — uniform random scores (the baseline).

        Every gradient-based method but ``"self"`` and ``"self_tracin"`` measures
        influence on ``objective``. See ``docs/methods.md`` for sources and costs.
    budget : int, float or "auto", default=0.05
        Rows to drop: an int is a count, a float in ``[0, 1)`` a fraction of the
        scored training rows, 0 keeps every row, ``"auto"`` the number of label
        issues estimated by the confident joint of the leave-one-out probabilities
        (Northcutt et al. 2021; classifiers; :attr:`n_issues_`) — for
        ``"oof_confidence"`` of the out-of-fold probabilities, for ``"data_oob"`` of
        the out-of-bag vote shares (the ones the scores were made of: no more fits).
    validation : "auto", float, int or None, default="auto"
        The validation rows of a validation-based method, when ``X_val, y_val`` are
        not passed to :meth:`fit`: a float is a share held out (stratified for
        classifiers; never scored, never trimmed, used in the final refit), an int
        ``K ≥ 2`` is K-fold cross-fitting (each fold is the validation set of one fit
        on the others, which it scores; a row's score is the mean over the ``K - 1``
        fits that scored it), ``None`` holds nothing out (validation-free methods
        only). ``"auto"``: ``None`` for a validation-free method, 5 folds otherwise
        (fewer when a class has fewer rows; a 0.2 share below 2).
    label_score : {"self_confidence", "normalized_margin", \
            "confidence_weighted_entropy"}, default="self_confidence"
        ``method="loo_confidence"`` and ``"oof_confidence"`` (classifiers): cleanlab's
        label-quality score computed on the leave-one-out (out-of-fold)
        probabilities.
    noisy_validation : {"drop_flagged", "trim_loss", "keep"}, default="drop_flagged"
        Validation-based methods of a classifier, when the validation rows come
        from the training data (``validation`` a share or folds; ``X_val`` is used as
        given): their labels are as noisy as the rest, and influence on a noisy
        validation loss ranks mislabeled rows poorly (``docs/label_issues.md``).
        ``"drop_flagged"`` leaves out of the validation objective the rows
        ``"loo_confidence"`` flags as likely mislabeled (as many as
        ``budget="auto"`` estimates); ``"trim_loss"`` leaves out the same share of
        validation rows, those whose labels the scoring fit finds least likely (a
        trimmed validation loss); ``"keep"`` uses them all (regressors always do).
    solver : {"auto", "exact", "cg", "kfac", "ekfac", "lissa", "modified_lissa", \
            "arnoldi"} or BaseSolver, default="auto"
        Inverse-Hessian-vector products: ``"auto"`` is ``"exact"`` up to 4,096
        parameters (the factorisation then takes at most 384 MiB and about ``m³``
        operations; 512 for ``"if"``, which solves once) and Jacobi-preconditioned
        ``"cg"`` above, recorded in ``solver_``; ``"exact"`` is Cholesky
        (pseudo-inverse when singular; refused above 4 GiB, 13,377 parameters), then
        conjugate gradient, K-FAC / EK-FAC
        (skorch nets), LiSSA, seed 004's modified LiSSA, or Arnoldi's top
        eigenspace; see ``docs/curvature.md``.
    damping : float, default=0.0
        Added to the Hessian's diagonal before inversion. ``method="datainf"``:
        the per-layer damping ``λ_l`` (0 = Kwon et al.'s rule).
    scaling : {"appendix", "algorithm", "main"}, default="appendix"
        ``method="fi"`` only: the factor of ``∂ωθ̂`` — ``-1/n`` (Appendix A, the
        derivation), ``1`` (Algorithm 1) or ``+1/n`` (main text). It changes the
        ranking; see the user guide for measured differences.
    params : "all", "last" or list of str, default="all"
        Parameters the influence is taken over (skorch nets only): every one, the
        last linear layer, or the named ones.
    gauss_newton : bool, default=False
        Use the Gauss-Newton matrix instead of the Hessian (skorch nets only); it is
        positive semi-definite for non-convex nets.
    strategy : {"trim", "relabel", "reweight"}, default="trim"
        What is done with the scores (seed 001 §7):

        - ``"trim"`` — drop the ``budget`` highest-scored rows and refit.
        - ``"relabel"`` — give the ``budget`` highest-scored rows another label and
          refit on every row: binary targets are flipped; for more classes the row
          gets the class the scoring model finds most likely among the others.
          Classifiers only.
        - ``"reweight"`` — refit on every row with sample weights
          ``w_i = n_s · softmax(-scores_ / T)_i`` over the ``n_s`` scored rows
          (held-out validation rows weigh 1); the weights average 1, harmful
          rows weigh less. Needs an estimator whose ``fit`` takes
          ``sample_weight``.
    temperature : float or "auto", default="auto"
        ``strategy="reweight"`` only: ``T`` above. ``"auto"`` chooses ``T`` so that
        the weights' effective sample size ``(Σw)²/Σw²`` equals the number of rows
        trimming would keep (``n_s`` minus the ``budget``): reweighting then
        discounts as much data as trimming drops, ``budget=0`` gives equal weights,
        and the weights do not depend on the scores' scale. ``1.0`` is the literal
        softmax of the raw scores of seed 001 (our scores carry a ``1/n`` factor,
        so it gives nearly equal weights). The earlier rule, ``T`` = the standard
        deviation of the scores, put nearly all the weight on a handful of rows on
        Adult and Bank (effective size 1–8 of 18,292; see
        ``docs/objectives_strategies.md``).
    objective : {"utility", "fairness", "robustness"} or BaseObjective, \
            default="utility"
        The validation objective the gradient-based methods measure influence on
        (see the user guide ``docs/objectives_strategies.md``): the mean validation
        loss; the demographic-parity gap of the predicted probabilities between the
        two groups of a sensitive attribute (the ``sensitive`` fit parameter or
        ``sensitive_feature``); or the mean loss on adversarially perturbed
        validation rows (``epsilon``, ``attack``).
    epsilon : float or None, default=None
        ``objective="robustness"`` only: strength of the attack (fraction of the way
        to the decision boundary, or radius of the ball), in the estimator's input
        space. ``None``: 1.3 for ``attack="boundary"`` (the value of the seed's
        reference code, past the boundary), 0.1 otherwise.
    attack : {"boundary", "linf", "l2"}, default="boundary"
        ``objective="robustness"`` only: move each validation row towards the
        decision boundary (seed 001's adversary for linear models), or take an
        FGSM (``"linf"``) / FGM (``"l2"``) step.
    sensitive_feature : int, str or None, default=None
        ``objective="fairness"`` only: the column of ``X`` (position, or name when
        ``X`` is a DataFrame) that holds the sensitive attribute, as an alternative
        to the ``sensitive`` fit parameter. The column stays a model input.
    n_estimators : int or None, default=None
        ``method="ip_ensemble"``: number of dropout-masked models (``None``: 5).
        ``method="gex"``: number of SGD continuations of the fit (``None``: 5).
        ``method="data_oob"``: number of bootstrap models, at least 2 (``None``: 100,
        or the ``n_estimators`` of a forest or bagging model, whose own members are
        the bootstrap models).
    dropout : float in [0, 1), default=0.1
        ``method="ip_ensemble"`` only: probability that a parameter is zeroed (the
        kept ones are scaled by ``1/(1 - dropout)``).
    gif_selection : str or array-like, default="gradients"
        ``method="gif"`` only: the parameter-selection rule of seed 004 §4 —
        ``"gradients"`` / ``"outputs"`` (Highest-k), ``"lowest_gradients"`` /
        ``"lowest_outputs"``, ``"random"``, ``"all"`` (= ``"if"``) — or parameter
        positions in ``θ`` / a boolean mask.
    gif_fraction : float in (0, 1], default=0.05
        ``method="gif"`` only: share of each parameter group a rule selects.
    cv : int, cross-validation generator or iterable, default=5
        ``method="oof_confidence"`` only: the folds, as in scikit-learn (an int is
        ``StratifiedKFold`` for classifiers, ``KFold`` for regressors, both shuffled
        with ``random_state``); the test folds must cover every row once.
    n_jobs : int or None, default=None
        ``method="oof_confidence"`` and ``"data_oob"``: joblib jobs for their fits
        (``None`` defers to the active ``joblib.parallel_backend``, dask included).
    random_state : int, RandomState instance or None, default=None
        Seeds the validation split, ``method="random"``, the masks of
        ``"ip_ensemble"``, the minibatches of ``"gex"``, the folds of
        ``"oof_confidence"`` and the bootstrap draws of ``"data_oob"``.
    verbose : int, default=0
        Print the stages and their timings.

    Attributes
    ----------
    scores_ : ndarray of shape (n_samples,)
        One score per row of ``X``; higher = trimmed first. Held-out validation
        rows (``validation`` a float) are never scored and hold ``nan``.
    method_ : str
        The method that ran (``method``, or what ``"auto"`` chose).
    solver_ : str or None
        The solver that ran (``solver``'s name, or what ``"auto"`` chose: ``"exact"``
        or ``"cg"``); ``None`` for a method without curvature.
    n_issues_ : int
        ``budget="auto"`` only: the estimated number of label issues.
    trimmed_indices_ : ndarray of shape (n_dropped,)
        The ``budget`` highest-scored rows, most harmful first: removed
        (``"trim"``), relabeled (``"relabel"``) or only reported (``"reweight"``).
    sample_indices_ : ndarray of shape (n_kept,)
        Rows the final estimator was fitted on and :meth:`fit_resample` returns, in
        increasing order (imbalanced-learn's name): the rows not trimmed for
        ``"trim"``, every row otherwise.
    new_labels_ : ndarray of shape (n_dropped,)
        ``strategy="relabel"`` only: the labels given to ``trimmed_indices_``.
    sample_weight_ : ndarray of shape (n_samples,)
        ``strategy="reweight"`` only: the weight of every row in the final fit (the
        softmax weights times the ``sample_weight`` passed to :meth:`fit`).
    temperature_ : float
        ``strategy="reweight"`` only: the ``T`` used (``inf``: equal weights).
    estimator_ : estimator
        Clone of ``estimator`` refitted on the kept (relabeled, reweighted) rows.
    classes_ : ndarray of shape (n_classes,)
        Class labels (classifiers only).
    n_features_in_ : int
        Number of features seen in :meth:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when ``X`` had string column names.

    See Also
    --------
    skinfluence.influence_scores : The scores alone, for a fitted estimator.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skinfluence import InfluenceTrimmer
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> model = make_pipeline(
    ...     StandardScaler(),
    ...     InfluenceTrimmer(LogisticRegression(), budget=20, random_state=0),
    ... ).fit(X, y)
    >>> len(model[-1].trimmed_indices_)
    20
    """

    _parameter_constraints: dict = {
        **BaseRowSelector._parameter_constraints,
        "estimator": BaseRowSelector._parameter_constraints["estimator"] + [None],
        "method": [StrOptions({"auto", *MEASURES})],
        "budget": [*BaseRowSelector._parameter_constraints["budget"], StrOptions({"auto"})],
        "label_score": [StrOptions(set(LABEL_SCORES))],
        "noisy_validation": [StrOptions(set(NOISY_VALIDATION))],
        "solver": [StrOptions(set(SOLVERS)), BaseSolver],
        "damping": [Interval(Real, 0, None, closed="left")],
        "scaling": [StrOptions(set(FI_SCALINGS))],
        "params": [StrOptions({"all", "last"}), list],
        "gauss_newton": ["boolean"],
        "strategy": [StrOptions(set(STRATEGIES))],
        "temperature": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "objective": [StrOptions(set(OBJECTIVES)), BaseObjective],
        "epsilon": [Interval(Real, 0, None, closed="left"), None],
        "attack": [StrOptions(set(ATTACKS))],
        "sensitive_feature": [Interval(Integral, 0, None, closed="left"), str, None],
        "n_estimators": [Interval(Integral, 1, None, closed="left"), None],
        "cv": ["cv_object"],
        "n_jobs": [Integral, None],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "gif_selection": [StrOptions(set(GIF_SELECTIONS)), "array-like"],
        "gif_fraction": [Interval(Real, 0, 1, closed="right")],
    }

    #: ``validation="auto"`` for a validation-based method: 5-fold cross-fitting.
    _auto_validation = 5

    def __init__(
        self,
        estimator=None,
        *,
        method="auto",
        budget=0.05,
        validation="auto",
        label_score="self_confidence",
        noisy_validation="drop_flagged",
        solver="auto",
        damping=0.0,
        scaling="appendix",
        params="all",
        gauss_newton=False,
        strategy="trim",
        temperature="auto",
        objective="utility",
        epsilon=None,
        attack="boundary",
        sensitive_feature=None,
        n_estimators=None,
        dropout=0.1,
        gif_selection="gradients",
        gif_fraction=0.05,
        cv=5,
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.estimator = estimator
        self.method = method
        self.budget = budget
        self.validation = validation
        self.label_score = label_score
        self.noisy_validation = noisy_validation
        self.solver = solver
        self.damping = damping
        self.scaling = scaling
        self.params = params
        self.gauss_newton = gauss_newton
        self.strategy = strategy
        self.temperature = temperature
        self.objective = objective
        self.epsilon = epsilon
        self.attack = attack
        self.sensitive_feature = sensitive_feature
        self.n_estimators = n_estimators
        self.dropout = dropout
        self.gif_selection = gif_selection
        self.gif_fraction = gif_fraction
        self.cv = cv
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(
        self, X, y, sample_weight=None, X_val=None, y_val=None, sensitive=None, sensitive_val=None
    ):
        """Score the training rows, drop the ``budget`` most harmful, refit.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training rows.
        y : array-like of shape (n_samples,)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights: they reach every fit of the estimator (the scored one, the
            refit), the influence computation (a row's score is that of its weighted
            term; see :func:`~skinfluence.influence_scores`) and, for validation rows
            drawn from ``X``, the validation loss. ``strategy="reweight"`` multiplies
            them by its own weights. Inside a pipeline pass
            ``influencetrimmer__sample_weight=`` (or route it with
            ``set_fit_request(sample_weight=True)``).
        X_val : {array-like, sparse matrix} of shape (n_val, n_features), default=None
            Validation rows to score against, already transformed like ``X`` (inside
            a pipeline, earlier steps do not transform fit parameters). Overrides
            ``validation``; every row of ``X`` is then scored.
        y_val : array-like of shape (n_val,), default=None
            Validation targets.
        sensitive : array-like of shape (n_samples,), default=None
            ``objective="fairness"``: the sensitive attribute of every row of ``X``
            (two distinct values); the held-out validation rows' values are used.
            Inside a pipeline pass it as ``influencetrimmer__sensitive=`` (or route
            it with ``set_fit_request(sensitive=True)``); cross-validation slices it
            with the rows.
        sensitive_val : array-like of shape (n_val,), default=None
            The sensitive attribute of the rows of ``X_val``, when ``X_val`` is given.

        Returns
        -------
        self : InfluenceTrimmer
            The fitted trimmer.
        """
        self.method_ = auto_method(self._inner()) if self.method == "auto" else self.method
        self.solver_ = None
        if self.strategy == "relabel" and not is_classifier(self._inner()):
            raise ValueError(
                'strategy="relabel" gives rows another class label; it needs a '
                'classifier. Use strategy="trim" or "reweight" for regressors.'
            )
        if self.strategy == "reweight" and not has_fit_parameter(self._inner(), "sample_weight"):
            raise ValueError(
                f'strategy="reweight" refits with sample weights, but '
                f"{type(self._inner()).__name__}.fit takes no sample_weight; use "
                'strategy="trim" or "relabel".'
            )
        if self.sensitive_feature is not None and (
            sensitive is not None or sensitive_val is not None
        ):
            raise ValueError(
                "pass the sensitive attribute either as sensitive_feature (a column of "
                "X) or as the sensitive/sensitive_val fit parameters, not both."
            )
        return self._fit_selector(
            X,
            y,
            X_val,
            y_val,
            sample_weight=sample_weight,
            aligned={"sensitive": sensitive},
            aligned_val={"sensitive": sensitive_val},
        )

    def _sensitive_column(self, X_val):
        """The ``sensitive_feature`` column of the validation rows."""
        col = self.sensitive_feature
        if isinstance(col, str):
            names = getattr(self, "feature_names_in_", None)
            if names is None or col not in names:
                raise ValueError(
                    f"sensitive_feature={col!r} is not a column name of X "
                    f"({'X has no column names' if names is None else 'unknown name'}); "
                    "pass a column position, or the sensitive fit parameter (inside a "
                    "pipeline earlier steps usually drop the names)."
                )
            col = int(np.flatnonzero(names == col)[0])
        if col >= X_val.shape[1]:
            raise ValueError(
                f"sensitive_feature={col} is out of range for X with {X_val.shape[1]} columns."
            )
        column = X_val[:, [col]]
        column = column.toarray() if hasattr(column, "toarray") else np.asarray(column)
        return column[:, 0]

    def _needs_validation(self) -> bool:
        return MEASURES[self.method_].validation

    def _what_needs_validation(self) -> str:
        return f"method={self.method_!r}"

    def _record_solver(self, record: dict) -> None:
        """``solver_`` from what the dispatch ran; ``verbose`` says why for ``"auto"``."""
        if "solver" not in record:
            return
        if self.solver_ is None and "solver_reason" in record:
            self._log(f"solver='auto' chose {record['solver']!r}: {record['solver_reason']}")
        self.solver_ = record["solver"]

    def _loo(self, rows: ScoredRows) -> tuple[np.ndarray, np.ndarray]:
        """Leave-one-out probabilities of the rows' fit (once per fit on those rows)."""
        key = ("loo", tuple(rows.scored[[0, -1]]), len(rows.scored))
        if key not in rows.parent.cache:
            record = {}
            rows.parent.cache[key] = loo_probabilities(
                rows.model(),
                rows.X_scored,
                rows.y_scored,
                sample_weight=rows.weight_scored,
                solver=self.solver,
                damping=self.damping,
                params=self.params,
                gauss_newton=self.gauss_newton,
                what='budget="auto" and noisy_validation',
                record=record,
            )
            self._record_solver(record)
        return rows.parent.cache[key]

    def _auto_budget(self, rows: ScoredRows) -> int:
        if MEASURES[self.method_].inputs == "estimator":
            return self._auto_budget_model_agnostic(rows)
        return estimate_n_issues(*self._loo(rows))

    def _out_of_sample(self, rows: ScoredRows) -> dict:
        """Where a model-agnostic measure leaves the probabilities of the rows' scores."""
        key = ("out_of_sample", tuple(rows.scored[[0, -1]]), len(rows.scored))
        return rows.parent.cache.setdefault(key, {})

    def _auto_budget_model_agnostic(self, rows: ScoredRows) -> int:
        """The confident joint of the out-of-fold / out-of-bag probabilities of the scores."""
        if not is_classifier(self._inner()):
            raise ValueError(
                'budget="auto" estimates the number of mislabeled rows of a classifier; '
                "pass an int or a float budget for a regressor."
            )
        cache = self._out_of_sample(rows)
        if "proba" not in cache:  # the scores were made on other rows: make them here
            self._score_rows(rows)
        P = cache["proba"]
        seen = np.isfinite(P).all(axis=1)  # data_oob: rows never out of bag have no votes
        y_enc = np.searchsorted(self.classes_, rows.y_scored)
        return estimate_n_issues(P[seen], y_enc[seen])

    def _loo_flags(self, rows: ScoredRows) -> np.ndarray:
        """Rows of the whole training data that ``loo_confidence`` flags, as many as
        ``budget="auto"`` estimates."""
        parent = rows.parent
        P, y_enc = self._loo(parent)
        quality = label_quality(P, y_enc, self.label_score)
        flagged = np.zeros(len(parent.y), dtype=bool)
        order = np.argsort(quality, kind="stable")[: estimate_n_issues(P, y_enc)]
        flagged[parent.scored[order]] = True
        return flagged

    def _clean_validation(self, rows: ScoredRows) -> ScoredRows:
        """``rows`` with the suspicious validation rows left out (``noisy_validation``)."""
        if (
            self.noisy_validation == "keep"
            or rows.val is None
            or not is_classifier(self._inner())
            or not self._needs_validation()
        ):
            return rows
        flagged = self._loo_flags(rows)
        if self.noisy_validation == "drop_flagged":
            keep = ~flagged[rows.val]
        else:  # trim_loss: the same share, by the scoring fit's own probabilities
            share = flagged.mean()
            model = rows.model()
            proba = model.predict_proba(model_input(model, rows.X_val))
            own = proba[np.arange(len(rows.y_val)), np.searchsorted(model.classes_, rows.y_val)]
            n_drop = int(round(share * len(rows.val)))
            keep = np.ones(len(rows.val), dtype=bool)
            keep[np.argsort(own, kind="stable")[:n_drop]] = False
        if not keep.any():
            return rows
        cleaned = rows.parent.restricted(rows.scored, rows.val[keep])
        cleaned._model = rows._model  # the same scored rows: the same fit
        return cleaned

    def _scored_model(self, rows: ScoredRows):
        """What the measure scores: the fitted model, the unfitted estimator, or nothing."""
        inputs = MEASURES[self.method_].inputs
        if inputs == "adapter":
            return rows.model()
        return self._inner() if inputs == "estimator" else None

    def _score_rows(self, rows: ScoredRows) -> np.ndarray:
        cache = self._out_of_sample(rows)  # model-agnostic measures leave probabilities
        rows = self._clean_validation(rows)
        sensitive = rows.val_kw.get("sensitive")
        if self.sensitive_feature is not None and rows.X_val is not None:
            sensitive = self._sensitive_column(rows.X_val)
        X = rows.X_scored
        if MEASURES[self.method_].inputs == "estimator":
            # the clones see the rows as the trimmer's own fits do (pandas columns kept)
            X = _safe_indexing(rows.X_fit, rows.scored)
        # n_estimators=None: the measure's own default (ip_ensemble 5, data_oob 100)
        n_estimators = {} if self.n_estimators is None else {"n_estimators": self.n_estimators}
        record = {}
        scores = compute_scores(
            self._scored_model(rows),
            X,
            rows.y_scored,
            rows.X_val,
            rows.y_val,
            method=self.method_,
            sample_weight=rows.weight_scored,
            solver=self.solver,
            damping=self.damping,
            scaling=self.scaling,
            params=self.params,
            gauss_newton=self.gauss_newton,
            random_state=self.random_state,
            objective=self.objective,
            objective_options={
                "weights": rows.weight_val,
                "sensitive": sensitive,
                "epsilon": self.epsilon,
                "attack": self.attack,
            },
            dropout=self.dropout,
            gif_selection=self.gif_selection,
            gif_fraction=self.gif_fraction,
            label_score=self.label_score,
            cv=self.cv,
            n_jobs=self.n_jobs,
            cache=cache,
            record=record,
            **n_estimators,
        )
        self._record_solver(record)
        return scores

    # -- strategies --------------------------------------------------------------------
    def _new_labels(self, rows: ScoredRows) -> np.ndarray:
        """Labels for ``trimmed_indices_``: the other class, or the likeliest other one."""
        flagged = self.trimmed_indices_
        current = rows.y[flagged]
        if len(self.classes_) == 2 or len(flagged) == 0:
            return np.where(current == self.classes_[0], self.classes_[1], self.classes_[0])
        model = rows.model()
        X_flagged = model_input(model, rows.rows(flagged))
        if hasattr(model, "predict_proba"):
            proba = model.predict_proba(X_flagged)
        else:  # SVC(), ridge classifiers: the likeliest class by the decision values
            proba = decision_proba(model.decision_function(X_flagged), len(model.classes_))
        classes = np.asarray(model.classes_)
        proba = np.where(classes[None, :] == current[:, None], -np.inf, proba)
        return classes[np.argmax(proba, axis=1)]

    def _softmax_weights(self, scored) -> np.ndarray:
        """``n_s · softmax(-scores / T)`` over the scored rows, 1 for held-out rows."""
        scores = self.scores_[scored]
        if not np.isfinite(scores).all():
            raise ValueError('strategy="reweight" needs finite scores for every scored row.')
        if self.temperature == "auto":
            target = len(scored) - len(self.trimmed_indices_)
            self.temperature_ = ess_temperature(scores, target)
        else:
            self.temperature_ = float(self.temperature)
        weights = np.ones(len(self.scores_))
        weights[scored] = softmax_weights(scores, self.temperature_)
        return weights

    def _refit(self, rows: ScoredRows):
        if self.strategy == "trim":
            return super()._refit(rows)
        self.sample_indices_ = np.arange(len(rows.y))
        if self.strategy == "relabel":
            self.new_labels_ = self._new_labels(rows)
            self._log(f"relabeled {len(self.new_labels_)} rows; refitting on every row")
            return rows.fit_clone(self.sample_indices_, y_fit=self._relabeled(rows.y_fit))
        weights = self._softmax_weights(rows.scored)
        user = rows.sample_weight
        self.sample_weight_ = weights if user is None else weights * user
        self._log("refitting on every row with softmax weights")
        return rows.fit_clone(self.sample_indices_, weights=weights)

    def _relabeled(self, y):
        """A copy of ``y`` (array or pandas) with ``new_labels_`` at ``trimmed_indices_``."""
        if hasattr(y, "iloc"):
            out = y.copy()
            out.iloc[self.trimmed_indices_] = self.new_labels_
            return out
        out = np.array(y, copy=True)
        out[self.trimmed_indices_] = self.new_labels_
        return out

    def fit_resample(self, X, y, **fit_params):
        """Fit, then return the data the strategy made (imbalanced-learn's protocol).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training rows.
        y : array-like of shape (n_samples,)
            Targets.
        **fit_params : dict
            Passed to :meth:`fit` (``X_val``, ``y_val``, ``sensitive``,
            ``sensitive_val``).

        Returns
        -------
        X_resampled : {array-like, sparse matrix} of shape (n_kept, n_features)
            The rows in :attr:`sample_indices_`, of the same type as ``X``: the kept
            rows for ``"trim"``, every row for ``"relabel"`` and ``"reweight"``.
        y_resampled : array-like of shape (n_kept,)
            Their targets; for ``"relabel"`` with :attr:`new_labels_` in place of the
            flagged rows' labels. For ``"reweight"`` the targets are unchanged: a
            sampler cannot return weights, they are in :attr:`sample_weight_`.
        """
        X_res, y_res = super().fit_resample(X, y, **fit_params)
        if self.strategy == "relabel":
            y_res = self._relabeled(y_res)
        return X_res, y_res

"""ShapleyValuator: value the training rows by data Shapley or a relative, drop the lowest."""

from __future__ import annotations

import time
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import _fit_context
from sklearn.metrics import get_scorer_names
from sklearn.neighbors import KNeighborsClassifier
from sklearn.utils._param_validation import Hidden, Interval, StrOptions

from ._base import BaseRowSelector
from .adapters import model_input
from .exceptions import UnsupportedModelError
from .valuation import (
    EXACT_MAX_N,
    BetaSampler,
    ModelUtility,
    MSRSampler,
    PermutationSampler,
    ValuationResult,
    data_oob_values,
    exact_values,
    knn_shapley,
    loo_values,
    sampled_values,
)

__all__ = ["ShapleyValuator"]

METHODS = ("tmc", "beta", "banzhaf", "loo", "knn", "exact", "data_oob")


class ShapleyValuator(BaseRowSelector):
    """Value the training rows by data Shapley or a relative; drop the least valuable.

    ``fit`` holds out a stratified ``validation`` share of the rows (or takes
    ``X_val, y_val``). The utility of a set ``S`` of training rows is the validation
    score (``scoring``) of a clone of ``estimator`` fitted on ``S``; each row gets a
    value — higher = more valuable — by ``method``. The ``budget`` lowest-valued rows
    are dropped and a clone is refitted on the kept training rows plus the validation
    rows. ``method="data_oob"`` needs no validation rows: it values every row by the
    models fitted on bootstrap samples without it. Every fit runs through joblib
    (``n_jobs``, or any ``joblib.parallel_backend`` the caller sets, dask and ray
    included).

    Parameters
    ----------
    estimator : estimator object, default=None
        Any scikit-learn estimator with ``fit`` and ``predict``; ``None`` means
        ``LogisticRegression()``. ``method="knn"`` needs a ``KNeighborsClassifier``;
        ``method="data_oob"`` a classifier or a regressor.
    method : {"tmc", "beta", "banzhaf", "loo", "knn", "exact", "data_oob"}, \
            default="tmc"
        How values are computed:

        - ``"tmc"`` — Shapley values by truncated Monte Carlo permutations
          (Ghorbani & Zou 2019).
        - ``"beta"`` — Beta(α, β) Shapley (Kwon & Zou 2022) by importance-weighted
          permutations cut at a random length; ``beta_params=(16, 1)`` weighs small
          subsets most, and a permutation then costs about ``n / 16`` fits.
        - ``"banzhaf"`` — Banzhaf values by maximum sample reuse (Wang & Jia 2023):
          one fit per random subset serves every row.
        - ``"loo"`` — leave-one-out ``u(N) − u(N ∖ {i})``, exact, ``n + 1`` fits.
        - ``"knn"`` — exact KNN-Shapley in closed form (Jia et al. 2019) for the
          estimator's ``n_neighbors`` and metric, with Jia et al.'s utility (mean
          share of each validation row's ``k`` nearest rows with its label);
          ``scoring`` is not used; no model is fitted.
        - ``"exact"`` — exact Shapley values by enumerating all ``2^n`` subsets;
          refused above 20 training rows.
        - ``"data_oob"`` — Data-OOB (Kwon & Zou 2023): the mean out-of-bag score of
          the row's own target over ``n_estimators`` models fitted on bootstrap
          samples that left it out — the correctness of its label (classifiers), the
          negative squared error (regressors). No validation rows, no ``scoring``; a
          ``RandomForest*``, ``ExtraTrees*`` (``bootstrap=True``) or ``Bagging*``
          estimator is fitted once and its members' own bootstrap samples are read.
          A row in every bootstrap sample gets ``nan`` (with a warning) and is never
          dropped. See :func:`skinfluence.valuation.data_oob_values`.
    budget : int or float, default=0.05
        Rows to drop, lowest value first: an int is a count, a float in ``[0, 1)`` a
        fraction of the valued training rows, 0 keeps every row.
    validation : "auto", float or None, default="auto"
        Share of the rows held out (stratified for classifiers) to score subsets on
        when ``X_val, y_val`` are not passed to :meth:`fit`. Held-out rows are never
        valued or dropped, and join the final refit. ``"auto"``: 0.2 for the methods
        that score subsets on validation rows, none for ``"data_oob"`` (every row is
        valued); ``None`` holds nothing out (``"data_oob"`` only).
    scoring : str, callable or None, default=None
        Utility scorer (a scikit-learn scorer name or ``scorer(estimator, X, y)``);
        ``None`` uses ``estimator.score`` (accuracy or R²). Not used by ``"knn"``
        and ``"data_oob"``.
    default_score : float or None, default=None
        Utility of subsets that cannot be fitted: the empty set and, for classifiers,
        one-class subsets (and any subset whose fit raises, with a
        ``FitFailedWarning``). ``None``: the score of a model that ignores the
        features (``DummyClassifier(strategy="prior")`` / ``DummyRegressor()`` on the
        training targets) — for accuracy the validation share of the majority class.
    max_iter : int, default=1000
        Most permutations (``tmc``, ``beta``) or subsets (``banzhaf``) to sample.
    max_time : float or None, default=None
        Wall-clock budget of the sampling, in seconds (checked after every batch;
        the result then depends on the machine's speed).
    tol : float, default=0.01
        Threshold of the stopping rule: the largest standard error allowed, in score
        units (``stopping="stderr"``), or of ``R̂ − 1`` (``"gelman_rubin"``).
    stopping : {"stderr", "gelman_rubin"}, default="stderr"
        Convergence rule of the sampled methods; checked after every batch once
        every row has 100 draws.
    truncation_tol : float or None, default=0.01
        ``tmc``/``beta``: a permutation stops once more than 5 consecutive prefixes
        score within ``truncation_tol · |u(N)|`` of ``u(N)``; the rest of its rows get
        0. ``None`` disables truncation (unbiased, slower).
    beta_params : tuple of two floats, default=(16.0, 1.0)
        ``(α, β)`` of ``method="beta"``; ``(1, 1)`` is Shapley.
    draws_per_task : int or "auto", default="auto"
        Permutations (``tmc``, ``beta``) or subsets (``banzhaf``) per joblib task;
        ``"auto"`` aims at about 64 fits per task. It fixes the random stream: results
        depend on it, not on ``n_jobs``. ``data_oob``: bootstrap models per task
        (``"auto"``: about 32 tasks); each model's draw is seeded by its number, so
        the values do not depend on it.
    batch_size : int or "auto"
        Former name of ``draws_per_task``.

        .. deprecated:: 0.1
           ``batch_size`` was renamed ``draws_per_task`` and will be removed in 0.2.
    cache : bool, default=False
        Remember the utility of subsets already seen (within a process).
    n_estimators : int or None, default=None
        ``method="data_oob"`` only: the number of bootstrap models (at least 2).
        ``None``: 100 bootstrap fits, or the ``n_estimators`` of a bagging ensemble
        (whose own members are the bootstrap models); an int also sets the
        ensemble's.
    n_jobs : int or None, default=None
        Parallel jobs for the fits (joblib); ``None`` defers to the active
        ``joblib.parallel_backend`` / ``parallel_config``.
    random_state : int, RandomState instance or None, default=None
        Seeds the validation split and the sampling (``data_oob``: the bootstrap
        draws, or a bagging ensemble whose ``random_state`` is ``None``). Fixed, the
        values are the same for any ``n_jobs`` and backend (unless ``max_time`` stops
        the sampling).
    verbose : int, default=0
        Print the stages and show a progress bar (tqdm when installed).

    Attributes
    ----------
    values_ : ndarray of shape (n_samples,)
        Value of each row; higher = more valuable. Held-out validation rows are not
        valued and hold ``nan`` (as do, for ``data_oob``, rows never out of bag).
    values_stderr_ : ndarray of shape (n_samples,)
        Standard error of each value (0 for ``loo``, ``knn`` and ``exact``; ``nan``
        on held-out rows).
    n_iter_ : int
        Permutations (``tmc``, ``beta``) or subsets (``banzhaf``) sampled; subsets
        fitted for ``loo`` and ``exact``; 1 for ``knn`` (one closed-form pass);
        bootstrap models for ``data_oob``.
    n_evaluations_ : int
        Utility evaluations (fit and score of a subset); ``data_oob``: fits (1 for
        a bagging ensemble).
    converged_ : bool
        Whether the stopping rule was met (True for the exact methods and
        ``data_oob``).
    trimmed_indices_ : ndarray of shape (n_dropped,)
        Rows dropped, lowest value first.
    sample_indices_ : ndarray of shape (n_samples - n_dropped,)
        Rows kept, in increasing order (imbalanced-learn's name).
    estimator_ : estimator
        Clone of ``estimator`` refitted on the kept rows.
    classes_ : ndarray of shape (n_classes,)
        Class labels (classifiers only).
    n_features_in_ : int
        Number of features seen in :meth:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when ``X`` had string column names.

    See Also
    --------
    InfluenceTrimmer : Drop rows by influence (no refits; linear models and nets).
    skinfluence.valuation : The engine (utilities, samplers, stopping rules).

    Notes
    -----
    Cost in fits of the model: ``tmc`` and ``beta`` up to ``n − 1`` per permutation
    (fewer with truncation), ``banzhaf`` one per subset, ``loo`` ``n + 1``,
    ``exact`` ``2^n``, ``knn`` none (``O(n_val · n log n)``), ``data_oob``
    ``n_estimators`` (one for a bagging ensemble).

    To run the fits on a cluster, wrap ``fit`` in a joblib backend, for instance
    ``with joblib.parallel_backend("dask"): valuator.fit(X, y)`` with a
    ``dask.distributed.Client`` connected.

    .. deprecated:: 0.1
       ``scores_`` (``-values_``) is deprecated and will be removed in 0.2: read
       ``values_`` (higher = more valuable; ``budget`` drops the lowest first).

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skinfluence import ShapleyValuator
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> model = make_pipeline(
    ...     StandardScaler(),
    ...     ShapleyValuator(KNeighborsClassifier(), method="knn", budget=20, random_state=0),
    ... ).fit(X, y)
    >>> len(model[-1].trimmed_indices_), model[-1].values_.shape
    (20, (569,))
    """

    _result_attribute = "values_"
    _drop_highest = False  # budget drops the lowest-valued rows

    _parameter_constraints: dict = {
        **BaseRowSelector._parameter_constraints,
        "estimator": BaseRowSelector._parameter_constraints["estimator"] + [None],
        "method": [StrOptions(set(METHODS))],
        "scoring": [StrOptions(set(get_scorer_names())), callable, None],
        "default_score": [Real, None],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "max_time": [Interval(Real, 0, None, closed="neither"), None],
        "tol": [Interval(Real, 0, None, closed="left")],
        "stopping": [StrOptions({"stderr", "gelman_rubin"})],
        "truncation_tol": [Interval(Real, 0, None, closed="left"), None],
        "beta_params": [tuple, list],
        "draws_per_task": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "batch_size": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
            Hidden(StrOptions({"deprecated"})),
        ],
        "cache": ["boolean"],
        "n_estimators": [Interval(Integral, 2, None, closed="left"), None],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        estimator=None,
        *,
        method="tmc",
        budget=0.05,
        validation="auto",
        scoring=None,
        default_score=None,
        max_iter=1000,
        max_time=None,
        tol=0.01,
        stopping="stderr",
        truncation_tol=0.01,
        beta_params=(16.0, 1.0),
        draws_per_task="auto",
        batch_size="deprecated",
        cache=False,
        n_estimators=None,
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.estimator = estimator
        self.method = method
        self.budget = budget
        self.validation = validation
        self.scoring = scoring
        self.default_score = default_score
        self.max_iter = max_iter
        self.max_time = max_time
        self.tol = tol
        self.stopping = stopping
        self.truncation_tol = truncation_tol
        self.beta_params = beta_params
        self.draws_per_task = draws_per_task
        self.batch_size = batch_size
        self.cache = cache
        self.n_estimators = n_estimators
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, X_val=None, y_val=None, sample_weight=None):
        """Value the training rows, drop the ``budget`` least valuable, refit.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training rows.
        y : array-like of shape (n_samples,)
            Targets.
        X_val : {array-like, sparse matrix} of shape (n_val, n_features), default=None
            Validation rows the utility scores on, already transformed like ``X``
            (inside a pipeline, earlier steps do not transform fit parameters).
            Overrides ``validation``; every row of ``X`` is then valued. Not used
            by ``method="data_oob"``.
        y_val : array-like of shape (n_val,), default=None
            Validation targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the training rows, passed (sliced to the rows) to every fit of
            the estimator: each coalition's, the bootstrap fits of ``"data_oob"`` and
            the refit. A row of weight 0 changes no fit, so its value is 0 under the
            exact, leave-one-out and sampled methods. ``method="knn"`` takes no weights.

        Returns
        -------
        self : ShapleyValuator
            The fitted valuator.
        """
        if self.batch_size != "deprecated":
            if self.draws_per_task != "auto":
                raise ValueError(
                    "batch_size is the former name of draws_per_task; pass only "
                    f"draws_per_task (got draws_per_task={self.draws_per_task!r} and "
                    f"batch_size={self.batch_size!r})."
                )
            warnings.warn(
                "The batch_size parameter of ShapleyValuator was renamed draws_per_task in "
                "0.1 and will be removed in 0.2; pass draws_per_task instead.",
                FutureWarning,
                stacklevel=3,  # fit's caller (under the _fit_context wrapper)
            )
        return self._fit_selector(X, y, X_val, y_val, sample_weight=sample_weight)

    def _needs_validation(self) -> bool:
        return self.method != "data_oob"

    def _what_needs_validation(self) -> str:
        return f"method={self.method!r}"

    def _draws_per_task(self):
        """``draws_per_task``, or the deprecated ``batch_size`` when that was given."""
        return self.draws_per_task if self.batch_size == "deprecated" else self.batch_size

    @property
    def scores_(self):
        """Deprecated: ``-values_``; will be removed in 0.2, read ``values_`` instead."""
        values = self.values_  # AttributeError before fit, as for any fitted attribute
        warnings.warn(
            "ShapleyValuator.scores_ is deprecated and will be removed in 0.2; use values_ "
            "(scores_ is -values_: higher values_ = more valuable, the lowest are dropped).",
            FutureWarning,
            stacklevel=2,
        )
        return -values

    def _check_beta_params(self) -> tuple[float, float]:
        params = tuple(self.beta_params)
        if len(params) != 2 or not all(isinstance(v, Real) and v > 0 for v in params):
            raise ValueError(
                f"beta_params must be two positive numbers (alpha, beta), got {self.beta_params!r}."
            )
        return float(params[0]), float(params[1])

    def _sampler(self):
        """The sampler object of a sampled ``method`` ("tmc", "beta" or "banzhaf")."""
        if self.method == "tmc":
            return PermutationSampler(truncation_tol=self.truncation_tol)
        if self.method == "beta":
            return BetaSampler(*self._check_beta_params(), truncation_tol=self.truncation_tol)
        return MSRSampler()

    def _score_rows(self, rows):
        inner = self._inner()
        # the rows as the estimator takes them (float32 for a skorch net)
        X = model_input(inner, rows.X_scored)
        X_val = None if rows.X_val is None else model_input(inner, rows.X_val)
        y, y_val, weights = rows.y_scored, rows.y_val, rows.weight_scored
        self._check_beta_params()  # for every method, as a parameter check
        n = X.shape[0]
        start = time.perf_counter()
        if self.method == "knn":
            result = self._knn(inner, X, y, X_val, y_val)
        elif self.method == "data_oob":
            result = data_oob_values(
                inner,
                X,
                y,
                n_estimators=self.n_estimators,
                sample_weight=weights,
                draws_per_task=self._draws_per_task(),
                n_jobs=self.n_jobs,
                random_state=self.random_state,
                verbose=self.verbose,
            )
        else:
            if self.method == "exact" and n > EXACT_MAX_N:
                raise ValueError(
                    f"method='exact' enumerates 2^n subsets and is refused above "
                    f"{EXACT_MAX_N} rows; there are {n} rows to value. Use 'tmc', "
                    "'beta', 'banzhaf' or 'loo'."
                )
            utility = ModelUtility(
                inner,
                X,
                y,
                X_val,
                y_val,
                scoring=self.scoring,
                default_score=self.default_score,
                cache=self.cache,
                sample_weight=weights,
            )
            if self.method == "exact":
                result = exact_values(
                    utility, n, "shapley", n_jobs=self.n_jobs, verbose=self.verbose
                )
            elif self.method == "loo":
                result = loo_values(utility, n, n_jobs=self.n_jobs, verbose=self.verbose)
            else:
                result = sampled_values(
                    utility,
                    n,
                    self._sampler(),
                    max_iter=self.max_iter,
                    max_time=self.max_time,
                    tol=self.tol,
                    stopping=self.stopping,
                    draws_per_task=self._draws_per_task(),
                    n_jobs=self.n_jobs,
                    random_state=self.random_state,
                    verbose=self.verbose,
                )
        self._log(
            f"{self.method}: {result.n_evaluations} utility evaluations, "
            f"{result.n_iter} iterations, status {result.status}, "
            f"{time.perf_counter() - start:.2f}s"
        )
        self.values_stderr_ = np.full(len(rows.y), np.nan)
        self.values_stderr_[rows.scored] = result.stderr
        self.n_iter_ = int(result.n_iter)
        self.n_evaluations_ = int(result.n_evaluations)
        self.converged_ = bool(result.converged)
        return result.values  # the base stores them in values_ (nan on held-out rows)

    def _knn(self, inner, X, y, X_val, y_val):
        if not isinstance(inner, KNeighborsClassifier):
            raise UnsupportedModelError(
                f"method='knn' is the closed form for a KNeighborsClassifier; got "
                f"{type(inner).__name__}. Pass KNeighborsClassifier(n_neighbors=k) or "
                "use method='tmc'."
            )
        values = knn_shapley(
            X,
            y,
            X_val,
            y_val,
            inner.n_neighbors,
            metric=inner.metric,
            p=inner.p,
            metric_params=inner.metric_params,
            n_jobs=self.n_jobs,
        )
        return ValuationResult(
            values=values,
            stderr=np.zeros(len(values)),
            n_iter=1,
            n_evaluations=0,
            converged=True,
            status="exact",
            u_empty=0.0,
            u_full=float(values.sum()),
        )

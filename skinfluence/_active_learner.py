"""InfluenceActiveLearner: pick the pool rows worth labeling next."""

from __future__ import annotations

import numbers
import time

import numpy as np
import scipy.sparse as sp
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, MetaEstimatorMixin, _fit_context, clone, is_classifier
from sklearn.ensemble import RandomForestRegressor
from sklearn.pipeline import Pipeline
from sklearn.utils import (
    _safe_indexing,
    check_array,
    check_consistent_length,
    check_random_state,
    column_or_1d,
)
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    has_fit_parameter,
    validate_data,
)

from ._delegate import DelegateMixin
from .adapters import model_input
from .curvature import SOLVERS, BaseSolver
from .influence import AGGREGATIONS, FI_SCALINGS, QUERY_METHODS, final_step, query_scores
from .utils import check_two_classes, check_validation_set

__all__ = ["InfluenceActiveLearner", "QUERY_METHODS"]

_INFLUENCE = ("fi", "if")


def _is_nan(value) -> bool:
    return isinstance(value, float) and np.isnan(value)


def unlabeled_mask(y, missing_label=-1) -> np.ndarray:
    """Rows marked unlabeled: ``missing_label`` (``-1``, scikit-learn's convention, by
    default), and always ``NaN`` or ``None``."""
    y = np.asarray(y)
    if y.dtype.kind in "fc":
        mask = np.isnan(y)
        return mask if _is_nan(missing_label) else mask | (y == missing_label)
    if y.dtype.kind in "iub":
        if _is_nan(missing_label) or isinstance(missing_label, str):
            return np.zeros(y.shape, dtype=bool)
        return y == missing_label
    return np.array(
        [
            v is None or _is_nan(v) or (not _is_nan(missing_label) and v == missing_label)
            for v in y.ravel()
        ]
    ).reshape(y.shape)


class InfluenceActiveLearner(DelegateMixin, MetaEstimatorMixin, BaseEstimator):
    """Choose the unlabeled rows to label next by FI^active (or a baseline).

    ``fit(X, y)`` with ``y == -1`` (or ``NaN``) on the unlabeled rows fits a clone of
    ``estimator`` on the labeled rows and scores the pool; :meth:`query` returns the
    rows to label. With a row-aligned ``y_oracle`` (the true labels) ``fit`` runs
    ``n_rounds`` of query–label–refit and records :attr:`history_`.

    Parameters
    ----------
    estimator : classifier, default=None
        Model to label data for; ``None`` means ``LogisticRegression()``. ``"fi"`` and
        ``"if"`` need a model with an influence adapter (scikit-learn linear
        classifiers, skorch classifiers).
    method : {"fi", "if", "random", "entropy", "margin", "bald"}, default="fi"
        Query strategy; every score is oriented so that higher = queried first.

        - ``"fi"`` — FI^active of seed 000 §4: the ``aggregation`` over the labeled
          rows of the local influence of perturbing each labeled row on the loss of
          the pool row at its predicted label.
        - ``"if"`` — classic influence of adding the pool row (with its predicted
          label) on the validation loss, recomputed every round (needs ``X_val``).
        - ``"random"`` — uniform random scores.
        - ``"entropy"`` / ``"margin"`` — predictive entropy / minus the gap between
          the two most likely classes.
        - ``"bald"`` — mutual information between the prediction and the model:
          MC dropout (``n_estimators`` stochastic passes) for skorch nets, a
          bootstrap ensemble of ``n_estimators`` refits for scikit-learn models.
    batch_size : int, default=10
        Rows labeled per round.
    subsample : float in (0, 1], default=0.2
        ``"fi"`` and ``"if"`` only: share of the pool scored exactly each round; a
        ``surrogate`` regressor learns features → rank on it and predicts the rank of
        every pool row (seed 000 Algorithm 4). ``1.0`` scores every row exactly.
    surrogate : regressor, default=None
        The rank surrogate; ``None`` means
        ``RandomForestRegressor(n_estimators=100, n_jobs=n_jobs)``.
    aggregation : "trimmed_mean", "mean", float in (0, 1) or callable, \
            default="trimmed_mean"
        How ``"fi"`` aggregates the pair values over the labeled rows: the mean of
        those between the 10th and the 90th percentile (seed 000 §5.2), the mean, a
        quantile, or a callable from an ``(n_labeled, n_pool)`` array to ``(n_pool,)``.
    n_rounds : int, default=5
        Rounds of query–label–refit when ``y_oracle`` is passed to :meth:`fit`.
    n_estimators : int, default=10
        ``"bald"`` only: ensemble members or dropout passes.
    solver : {"auto", "exact", "cg", "kfac"} or BaseSolver, default="auto"
        Inverse-Hessian-vector products for ``"fi"`` and ``"if"``: ``"auto"`` is
        ``"exact"`` up to 4,096 parameters (at most 384 MiB and about ``m³``
        operations for the factorisation; 512 for ``"if"``, which solves once) and
        Jacobi-preconditioned ``"cg"`` above,
        recorded in ``solver_``; ``"kfac"`` (skorch nets whose selected parameters
        sit in ``nn.Linear`` layers) is the K-FAC approximation of the Gauss-Newton
        matrix.
    approximation : {None, "kfsvd"}, default=None
        ``"fi"`` only. ``"kfsvd"`` replaces each labeled row's mixed derivative
        ``∂x∂θL`` by its rank-``svd_rank`` truncated SVD (randomized power
        iteration, seeded by ``random_state``), the "SVD" of seed 000's KFSVD
        (§4, Algorithm 2); pass ``solver="kfac"`` too for its K-FAC half. It adds
        error and mixed products and saves no memory over the exact path, which
        never stores the mixed derivative (see ``docs/kfsvd.md``).
    svd_rank : int, default=10
        Rank of the truncated SVD when ``approximation="kfsvd"``.
    damping : float, default=0.0
        Added to the Hessian's diagonal.
    scaling : {"appendix", "algorithm", "main"}, default="appendix"
        The factor of ``∂ωθ̂`` in ``"fi"`` (as in :class:`InfluenceTrimmer`).
    params : "all", "last" or list of str, default="all"
        Parameters the influence is taken over (skorch nets only); seed 000 uses
        the last layer for image models.
    gauss_newton : bool, default=False
        Use the Gauss-Newton matrix instead of the Hessian (skorch nets only); it is
        positive semi-definite for non-convex nets.
    missing_label : int, float, str or None, default=-1
        The label that marks an unlabeled (pool) row in ``y``: ``-1`` by
        scikit-learn's semi-supervised convention; ``NaN`` and ``None`` always mark
        one too. Pass another marker (e.g. ``np.nan``) when ``-1`` is a real class.
    n_jobs : int, default=None
        Parallel jobs for the surrogate forest and the bootstrap ensemble.
    random_state : int, RandomState instance or None, default=None
        Seeds the subsample, the surrogate, ``"random"`` and ``"bald"``.
    verbose : int, default=0
        Print one line per round.

    Attributes
    ----------
    estimator_ : estimator
        Clone of ``estimator`` fitted on the rows labeled at the end of :meth:`fit`.
    solver_ : str or None
        The solver that ran for ``"fi"`` / ``"if"`` (``solver``'s name, or what
        ``"auto"`` chose); ``None`` for the other methods.
    scores_ : ndarray of shape (n_samples,)
        Query score of every pool row for the final model (higher = queried first;
        predicted ranks when the surrogate is used); ``nan`` on labeled rows.
    labeled_iter_ : ndarray of shape (n_samples,)
        Round in which each row was labeled: 0 for the rows labeled in ``y``, -1 for
        rows still in the pool (scikit-learn's ``SelfTrainingClassifier`` convention).
    transduction_ : ndarray of shape (n_samples,)
        The labels used for the final fit; ``-1`` (or ``nan``) on pool rows.
    history_ : list of dict
        One entry per round (round 0 is the initial fit): ``round``, ``n_labeled``,
        ``score`` (on ``X_val, y_val`` when given, else ``nan``) and ``seconds``
        (scoring, labeling and refitting that round).
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen in :meth:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when ``X`` had string column names.

    See Also
    --------
    InfluenceTrimmer : Drop harmful labeled rows instead of adding new ones.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.preprocessing import scale
    >>> from skinfluence import InfluenceActiveLearner
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = scale(X)
    >>> y_partial = np.where(np.arange(len(y)) < 50, y, -1)
    >>> learner = InfluenceActiveLearner(batch_size=20, random_state=0).fit(X, y_partial)
    >>> learner.query(5).shape
    (5,)
    >>> learner.fit(X, y_partial, y_oracle=y).history_[-1]["n_labeled"]
    150
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict_proba"]), None],
        "method": [StrOptions(set(QUERY_METHODS))],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "subsample": [Interval(numbers.Real, 0, 1, closed="right")],
        "surrogate": [HasMethods(["fit", "predict"]), None],
        "aggregation": [
            StrOptions(set(AGGREGATIONS)),
            Interval(numbers.Real, 0, 1, closed="neither"),
            callable,
        ],
        "n_rounds": [Interval(numbers.Integral, 0, None, closed="left")],
        "n_estimators": [Interval(numbers.Integral, 2, None, closed="left")],
        "solver": [StrOptions(set(SOLVERS)), BaseSolver],
        "approximation": [StrOptions({"kfsvd"}), None],
        "svd_rank": [Interval(numbers.Integral, 1, None, closed="left")],
        "damping": [Interval(numbers.Real, 0, None, closed="left")],
        "scaling": [StrOptions(set(FI_SCALINGS))],
        "params": [StrOptions({"all", "last"}), list],
        "gauss_newton": ["boolean"],
        "missing_label": [numbers.Real, str, None],
        "n_jobs": [numbers.Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimator=None,
        *,
        method="fi",
        batch_size=10,
        subsample=0.2,
        surrogate=None,
        aggregation="trimmed_mean",
        n_rounds=5,
        n_estimators=10,
        solver="auto",
        approximation=None,
        svd_rank=10,
        damping=0.0,
        scaling="appendix",
        params="all",
        gauss_newton=False,
        missing_label=-1,
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.estimator = estimator
        self.method = method
        self.batch_size = batch_size
        self.subsample = subsample
        self.surrogate = surrogate
        self.aggregation = aggregation
        self.n_rounds = n_rounds
        self.n_estimators = n_estimators
        self.solver = solver
        self.approximation = approximation
        self.svd_rank = svd_rank
        self.damping = damping
        self.scaling = scaling
        self.params = params
        self.gauss_newton = gauss_newton
        self.missing_label = missing_label
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    # -- scoring ---------------------------------------------------------------------
    def _exact_scores(self, model, X, y, w, lab, X_pool, X_val, y_val, rng) -> np.ndarray:
        """Query scores of ``X_pool`` for ``model`` fitted on rows ``lab``.

        ``X``, ``X_pool`` and ``X_val`` are in the container the model was fitted on
        (a DataFrame keeps its column names, a pipeline gets its raw rows).
        """
        record = {}
        scores = query_scores(
            model,
            self._inner(),
            _safe_indexing(X, lab),
            y[lab],
            X_pool,
            X_val,
            y_val,
            method=self.method,
            rng=rng,
            sample_weight=None if w is None else w[lab],
            solver=self.solver,
            damping=self.damping,
            params=self.params,
            gauss_newton=self.gauss_newton,
            aggregation=self.aggregation,
            scaling=self.scaling,
            approximation=self.approximation,
            svd_rank=self.svd_rank,
            n_estimators=self.n_estimators,
            n_jobs=self.n_jobs,
            record=record,
        )
        if "solver" in record:
            if self.verbose and self.solver_ is None and "solver_reason" in record:
                print(
                    f"[InfluenceActiveLearner] solver='auto' chose {record['solver']!r}: "
                    f"{record['solver_reason']}",
                    flush=True,
                )
            self.solver_ = record["solver"]
        return scores

    def _pool_scores(self, model, X, y, w, lab, pool, X_val, y_val, rng) -> np.ndarray:
        """Scores of the pool rows, through the rank surrogate where it applies."""
        n_pool = len(pool)
        n_exact = int(np.ceil(self.subsample * n_pool))
        if self.method not in _INFLUENCE or n_exact >= n_pool:
            return self._exact_scores(
                model, X, y, w, lab, _safe_indexing(X, pool), X_val, y_val, rng
            )
        sub = np.sort(rng.choice(n_pool, n_exact, replace=False))
        exact = self._exact_scores(
            model, X, y, w, lab, _safe_indexing(X, pool[sub]), X_val, y_val, rng
        )
        surrogate = (
            RandomForestRegressor(n_estimators=100, n_jobs=self.n_jobs)
            if self.surrogate is None
            else clone(self.surrogate)
        )
        if "random_state" in surrogate.get_params():
            surrogate.set_params(random_state=rng.randint(np.iinfo(np.int32).max))
        features = final_step(model, _safe_indexing(X, pool))[1]  # numbers the forest can split
        features = check_array(features, accept_sparse=("csr", "csc"), dtype=np.float64)
        surrogate.fit(features[sub], rankdata(exact))
        return np.asarray(surrogate.predict(features), dtype=np.float64)

    # -- fitting -------------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, sample_weight=None, y_oracle=None, X_val=None, y_val=None):
        """Fit on the labeled rows and score the pool; label ``n_rounds`` batches.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            All rows, labeled and unlabeled.
        y : array-like of shape (n_samples,)
            Labels, with ``missing_label`` (``-1`` by default) or ``NaN`` on the
            unlabeled (pool) rows.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights: the labeled rows' weights reach every fit and the influence
            computation (a pool row's queried label enters with its weight).
        y_oracle : array-like of shape (n_samples,), default=None
            The true labels, row-aligned with ``X`` (so cross-validation slices it
            like ``y``). When given, ``fit`` runs ``n_rounds`` rounds of query,
            labeling from ``y_oracle`` and refitting. A queried row whose oracle
            label is itself missing raises ``ValueError``.
        X_val : {array-like, sparse matrix} of shape (n_val, n_features), default=None
            Validation rows: scored in :attr:`history_`, and the validation set of
            ``method="if"`` (which needs it).
        y_val : array-like of shape (n_val,), default=None
            Validation labels.

        Returns
        -------
        self : InfluenceActiveLearner
            The fitted learner.
        """
        if not is_classifier(self._inner()):
            raise ValueError(
                f"InfluenceActiveLearner needs a classifier, got {type(self._inner()).__name__}."
            )
        X_in = X
        # a pipeline transforms the rows itself: they stay as given (strings, NaN)
        raw = isinstance(self._inner(), Pipeline)
        X = validate_data(
            self,
            X,
            accept_sparse=("csr", "csc"),
            dtype=None if raw else np.float64,
            ensure_all_finite=not raw,
        )
        y = column_or_1d(y, warn=True)
        check_consistent_length(X, y)
        pool_mask = unlabeled_mask(y, self.missing_label)
        if sample_weight is not None:
            if not has_fit_parameter(self._inner(), "sample_weight"):
                raise ValueError(
                    f"sample_weight was passed, but {type(self._inner()).__name__}.fit takes "
                    "no sample_weight; drop it or use an estimator that does."
                )
            sample_weight = _check_sample_weight(sample_weight, X, ensure_non_negative=True)
        if y_oracle is not None:
            y_oracle = column_or_1d(y_oracle)
            check_consistent_length(y, y_oracle)
        lab = np.flatnonzero(~pool_mask)
        if np.unique(y[lab]).size < 2 and pool_mask.any():
            raise ValueError(
                "InfluenceActiveLearner needs at least two classes among the labeled rows, "
                f"got one class ({np.unique(y[lab]).tolist()}); the {int(pool_mask.sum())} "
                f"rows labeled {self.missing_label!r} (missing_label) or NaN count as "
                f"unlabeled. If {self.missing_label!r} is a real class, pass another missing_label "
                "(e.g. np.nan) for the unlabeled rows."
            )
        check_two_classes(y[lab], "InfluenceActiveLearner")
        if X_val is not None or y_val is not None:
            X_val_in = X_val
            X_val, y_val = check_validation_set(X_val, y_val, X.shape[1], classifier=True, raw=raw)
            if hasattr(X_val_in, "iloc"):
                X_val = X_val_in  # the model sees the container it was fitted on
        elif self.method == "if":
            raise ValueError('method="if" needs a validation set: pass X_val and y_val to fit.')
        rng = check_random_state(self.random_state)
        X_fit = X_in if hasattr(X_in, "iloc") else model_input(self._inner(), X)
        if sp.issparse(X_fit) and X_fit.format not in ("csr", "csc"):
            X_fit = X_fit.tocsr()

        y_work = y.copy()
        self.solver_ = None
        self.labeled_iter_ = np.where(pool_mask, -1, 0)
        start = time.perf_counter()
        model = self._fit_labeled(X_fit, y_work, sample_weight, lab)
        self.history_ = [self._entry(model, 0, len(lab), X_val, y_val, start)]
        for round_ in range(1, self.n_rounds + 1 if y_oracle is not None else 1):
            pool = np.flatnonzero(self.labeled_iter_ == -1)
            if len(pool) == 0:
                break
            start = time.perf_counter()
            w = sample_weight
            scores = self._pool_scores(model, X_fit, y_work, w, lab, pool, X_val, y_val, rng)
            picked = pool[np.argsort(-scores, kind="stable")[: self.batch_size]]
            missing = unlabeled_mask(y_oracle[picked], self.missing_label)
            if missing.any():
                raise ValueError(
                    f"y_oracle has no label for the queried rows "
                    f"{picked[missing][:10].tolist()} (they hold NaN or the missing_label "
                    f"marker {self.missing_label!r}); give a true label for every pool row, "
                    f"or pass another missing_label if {self.missing_label!r} is a real class."
                )
            y_work[picked] = y_oracle[picked]
            self.labeled_iter_[picked] = round_
            lab = np.flatnonzero(self.labeled_iter_ >= 0)
            model = self._fit_labeled(X_fit, y_work, sample_weight, lab)
            self.history_.append(self._entry(model, round_, len(lab), X_val, y_val, start))
            self._log(self.history_[-1])
        # the scores of the final model, for query()
        pool = np.flatnonzero(self.labeled_iter_ == -1)
        self.scores_ = np.full(len(y), np.nan)
        if len(pool):
            self.scores_[pool] = self._pool_scores(
                model, X_fit, y_work, sample_weight, lab, pool, X_val, y_val, rng
            )
        self.estimator_ = model
        self.transduction_ = y_work
        self.classes_ = np.unique(y_work[lab])
        return self

    def _fit_labeled(self, X_fit, y, w, lab):
        """A clone of the estimator fitted on the labeled rows ``lab`` (with their weights)."""
        kwargs = {} if w is None else {"sample_weight": w[lab]}
        return clone(self._inner()).fit(_safe_indexing(X_fit, lab), y[lab], **kwargs)

    def _entry(self, model, round_, n_labeled, X_val, y_val, start) -> dict:
        score = np.nan if X_val is None else float(model.score(model_input(model, X_val), y_val))
        seconds = time.perf_counter() - start
        return {"round": round_, "n_labeled": n_labeled, "score": score, "seconds": seconds}

    def _log(self, entry: dict) -> None:
        if self.verbose:
            print(
                f"[InfluenceActiveLearner] round {entry['round']}: {entry['n_labeled']} "
                f"labeled, score {entry['score']:.4f}, {entry['seconds']:.2f}s",
                flush=True,
            )

    def query(self, n: int) -> np.ndarray:
        """Return the indices of the ``n`` pool rows to label next; changes nothing.

        Parameters
        ----------
        n : int
            Number of rows, at most the size of the pool.

        Returns
        -------
        indices : ndarray of shape (n,)
            Row indices into the ``X`` passed to :meth:`fit`, best first.
        """
        check_is_fitted(self)
        pool = np.flatnonzero(self.labeled_iter_ == -1)
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or not 0 <= n <= len(pool):
            raise ValueError(f"n must be an int in [0, {len(pool)}] (the pool size), got {n!r}.")
        return pool[np.argsort(-self.scores_[pool], kind="stable")[:n]]

    def score(self, X, y, sample_weight=None):
        """Accuracy of the final model on the labeled rows of ``(X, y)``.

        Rows marked unlabeled (``-1``, ``NaN``) are ignored, so that cross-validation
        on partly labeled data scores the held-out labeled rows.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Test rows.
        y : array-like of shape (n_samples,)
            Their labels, ``-1`` or ``NaN`` where unknown.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            ``estimator_.score`` on the labeled rows.
        """
        check_is_fitted(self)
        y = column_or_1d(y)
        keep = np.flatnonzero(~unlabeled_mask(y, self.missing_label))
        if len(keep) == 0:
            raise ValueError("y has no labeled row to score against.")
        weight = None if sample_weight is None else np.asarray(sample_weight)[keep]
        return self.estimator_.score(_safe_indexing(X, keep), y[keep], sample_weight=weight)

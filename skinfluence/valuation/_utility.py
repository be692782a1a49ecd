"""The utility of a subset of training rows: fit a clone on it, score on validation rows.

``u(S) = scoring(clone(estimator).fit(X[S], y[S], sample_weight=w[S]), X_val, y_val)``
(without ``sample_weight`` when the rows are unweighted)

A *utility* here is anything callable as ``u(indices) -> float`` where ``indices`` is
a sorted 1-d integer array of training rows; the samplers only ever call it that way,
so a plain function is a utility too (the tests use small analytic games).

Degenerate subsets — the empty set, and for classifiers a subset with fewer than two
classes — cannot be fitted (rows of weight 0 do not count: a subset of them alone is
empty to the model). They get ``default_score``; by default that is the score
of a model that ignores the features (``DummyClassifier(strategy="prior")`` or
``DummyRegressor()`` fitted on all the training targets): for accuracy the share of the
validation rows in the majority training class, for ROC AUC 0.5, for R² about 0. This
is Ghorbani & Zou's "random score" for the empty coalition, and it keeps the first
fitted subset from looking like a huge gain.

Cost: one ``fit`` and one score per call. Inside a sampling task the estimator is cloned
once and refitted (scikit-learn's ``fit`` starts afresh), with scikit-learn's parameter
validation and finiteness checks switched off (both were checked once on the full set);
plain accuracy (the default score of classifiers) is computed as
``mean(predict(X_val) == y_val)`` without the scorer's target-type checks.
"""

from __future__ import annotations

import copy

import numpy as np
from sklearn import config_context
from sklearn.base import ClassifierMixin, clone, is_classifier
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.metrics import check_scoring
from sklearn.utils import _safe_indexing

__all__ = ["ModelUtility", "CACHE_MAX_ENTRIES"]

#: The cache stops growing at this many subsets (a dict of packed bit masks).
CACHE_MAX_ENTRIES = 1 << 16


class ModelUtility:
    """Fit-and-score utility of subsets of training rows.

    Parameters
    ----------
    estimator : estimator object
        The model; cloned, never modified.
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        Training rows (the players).
    y : ndarray of shape (n_samples,)
        Their targets.
    X_val : {ndarray, sparse matrix} of shape (n_val, n_features)
        Validation rows.
    y_val : ndarray of shape (n_val,)
        Validation targets.
    scoring : str, callable or None, default=None
        A scikit-learn scorer name or callable ``scorer(estimator, X, y)``; ``None``
        uses ``estimator.score`` (accuracy, R²).
    default_score : float or None, default=None
        Utility of the degenerate subsets (empty; one class). ``None``: the score of
        a feature-blind dummy model fitted on all of ``y``.
    cache : bool, default=False
        Remember the utility of subsets already seen. Sequential and threaded runs
        share one cache; each worker process keeps its own. At most
        ``CACHE_MAX_ENTRIES`` subsets are stored.
    sample_weight : ndarray of shape (n_samples,) or None, default=None
        Weights of the training rows, passed (sliced to the subset) to every fit.

    Attributes
    ----------
    default_score_ : float
        The value given to degenerate subsets.
    n_failed : int
        Subsets whose fit or score raised (they got ``default_score_``).
    first_error : str or None
        The first such error, for the warning the samplers issue.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skinfluence.valuation import ModelUtility
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0, 0, 1, 1])
    >>> u = ModelUtility(LogisticRegression(), X, y, X, y)
    >>> u(np.array([0, 3])), u(np.array([0, 1]))
    (1.0, 0.5)
    """

    def __init__(
        self,
        estimator,
        X,
        y,
        X_val,
        y_val,
        *,
        scoring=None,
        default_score=None,
        cache=False,
        sample_weight=None,
    ):
        self.estimator = estimator
        self.X = X
        self.y = np.asarray(y)
        self.X_val = X_val
        self.y_val = np.asarray(y_val)
        self.scoring = scoring
        self.sample_weight = None if sample_weight is None else np.asarray(sample_weight)
        self.scorer = check_scoring(estimator, scoring=scoring)
        self.classifier = is_classifier(estimator)
        # accuracy without the scorer's target checks (the same number, a third faster)
        self._plain_accuracy = (
            self.classifier
            and scoring in (None, "accuracy")
            and getattr(type(estimator), "score", None) is ClassifierMixin.score
        )
        self._codes = np.unique(self.y, return_inverse=True)[1] if self.classifier else None
        self.default_score_ = (
            float(default_score) if default_score is not None else self._dummy_score()
        )
        self._cache = {} if cache else None
        self._model = None
        self.n_failed = 0
        self.first_error = None

    @property
    def n_samples(self) -> int:
        """Number of training rows (players)."""
        return len(self.y)

    def _dummy_score(self) -> float:
        dummy = DummyClassifier(strategy="prior") if self.classifier else DummyRegressor()
        dummy.fit(np.zeros((len(self.y), 1)), self.y)
        try:
            return float(self.scorer(dummy, self.X_val, self.y_val))
        except Exception as exc:  # a scorer that needs more than a constant model
            raise ValueError(
                f"could not score a constant model with scoring={self.scoring!r} ({exc}); "
                "pass default_score= for the empty and one-class subsets."
            ) from exc

    def degenerate(self, indices: np.ndarray) -> bool:
        """Whether ``indices`` is empty or (classifiers) holds a single class.

        Parameters
        ----------
        indices : ndarray of int
            Training rows.

        Returns
        -------
        degenerate : bool
            True when the subset cannot be fitted and gets ``default_score_``.
        """
        if self.sample_weight is not None:
            indices = indices[self.sample_weight[indices] > 0]
        if len(indices) == 0:
            return True
        if self.classifier:
            codes = self._codes[indices]
            return bool(codes.min() == codes.max())
        return False

    def _fit_score(self, indices: np.ndarray) -> float:
        if self._model is None:
            self._model = clone(self.estimator)
        model = self._model.fit(
            _safe_indexing(self.X, indices), self.y[indices], **self._weights(indices)
        )
        if self._plain_accuracy:
            return float(np.mean(model.predict(self.X_val) == self.y_val))
        return float(self.scorer(model, self.X_val, self.y_val))

    def __call__(self, indices) -> float:
        """Utility of the subset ``indices`` (sorted row numbers).

        Parameters
        ----------
        indices : array-like of int
            Training rows of the subset.

        Returns
        -------
        value : float
            The validation score of the model fitted on those rows, or
            ``default_score_`` for a degenerate subset or a fit that raised.
        """
        indices = np.asarray(indices, dtype=np.intp)
        if self.degenerate(indices):
            return self.default_score_
        key = None
        if self._cache is not None:
            mask = np.zeros(self.n_samples, dtype=bool)
            mask[indices] = True
            key = np.packbits(mask).tobytes()
            hit = self._cache.get(key)
            if hit is not None:
                return hit
        try:
            with config_context(assume_finite=True, skip_parameter_validation=True):
                value = self._fit_score(indices)
        except Exception as exc:  # noqa: BLE001 - reported once, as a warning
            self.n_failed += 1
            if self.first_error is None:
                self.first_error = f"{type(exc).__name__}: {exc}"
            value = self.default_score_
        if key is not None and len(self._cache) < CACHE_MAX_ENTRIES:
            self._cache[key] = value
        return value

    def full_value(self) -> float:
        """Utility of all rows, fitted with every check on; errors propagate.

        Returns
        -------
        value : float
            ``u(N)``.
        """
        model = clone(self.estimator).fit(self.X, self.y, **self._weights(slice(None)))
        return float(self.scorer(model, self.X_val, self.y_val))

    def _weights(self, indices) -> dict:
        """``fit``'s ``sample_weight`` for the rows ``indices`` (nothing when unweighted)."""
        return {} if self.sample_weight is None else {"sample_weight": self.sample_weight[indices]}

    def worker_copy(self) -> ModelUtility:
        """A copy for one sampling task: own model and failure count, shared cache.

        Returns
        -------
        utility : ModelUtility
            Shares the data and the cache dict (when in one process), never the
            fitted model, so that threads do not refit one object concurrently.
        """
        new = copy.copy(self)
        new._model = None
        new.n_failed = 0
        new.first_error = None
        return new

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_model"] = None
        return state


def worker_copy(utility):
    """``utility.worker_copy()`` where it exists, else ``utility`` itself."""
    make = getattr(utility, "worker_copy", None)
    return make() if make is not None else utility


def strict_full_value(utility, n: int) -> float:
    """``u(N)`` with errors propagated where the utility supports it."""
    full = getattr(utility, "full_value", None)
    if full is not None:
        return float(full())
    return float(utility(np.arange(n)))

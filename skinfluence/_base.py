"""Shared machinery of the row-selecting meta-estimators.

A selector scores the training rows with a fitted clone of ``estimator``, drops the
``budget`` rows with the highest score, refits a clone on the rest and delegates
prediction to it. Subclasses implement :meth:`BaseRowSelector._score_rows` only.
"""

from __future__ import annotations

import numbers
import time
from abc import abstractmethod

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.model_selection import train_test_split
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import validate_data

from ._delegate import DelegateMixin
from .adapters import model_input
from .utils import check_two_classes, check_validation_set, check_xy, n_to_drop

__all__ = ["BaseRowSelector"]


class BaseRowSelector(DelegateMixin, MetaEstimatorMixin, BaseEstimator):
    """Score rows, drop the ``budget`` highest-scored ones, refit, delegate."""

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict"])],
        "budget": [
            Interval(numbers.Integral, 0, None, closed="left"),
            Interval(numbers.Real, 0, 1, closed="left"),
        ],
        "validation": [Interval(numbers.Real, 0, 1, closed="neither")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    #: Whether :meth:`_score_rows` receives a clone fitted on the scored rows; a
    #: subclass that fits its own models (the valuator) sets False and gets ``None``.
    _fit_before_scoring = True

    # -- the step subclasses provide ---------------------------------------------------
    @abstractmethod
    def _score_rows(self, estimator, X, y, X_val, y_val) -> np.ndarray:
        """One score per row of ``X``; ``estimator`` is a fitted clone on ``(X, y)``.

        ``estimator`` is ``None`` when the class sets ``_fit_before_scoring = False``.
        """

    # -- fitting -----------------------------------------------------------------------
    def _log(self, message: str) -> None:
        if self.verbose:
            print(f"[{type(self).__name__}] {message}", flush=True)

    def _split(self, y):
        """Row indices of the scored (training) part and of the validation part."""
        idx = np.arange(len(y))
        classifier = is_classifier(self._inner())
        stratify = None
        if classifier:
            _, counts = np.unique(y, return_counts=True)
            n_val = int(np.ceil(self.validation * len(y)))
            if counts.min() >= 2 and n_val >= len(counts) and len(y) - n_val >= len(counts):
                stratify = y
        try:
            train, val = train_test_split(
                idx,
                test_size=self.validation,
                stratify=stratify,
                random_state=self.random_state,
            )
        except ValueError as exc:
            raise ValueError(
                f"cannot hold out validation={self.validation} of {len(y)} rows "
                f"({exc}); pass more rows, a larger validation share, or X_val and y_val."
            ) from exc
        return np.sort(train), np.sort(val)

    def _fit_selector(self, X, y, X_val=None, y_val=None):
        """Validate, score, select and refit. Sets every fitted attribute."""
        self._validate_params()
        classifier = is_classifier(self._inner())
        X_in, y_in = X, y
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=("csr", "csc"),
            dtype=np.float64,
            y_numeric=not classifier,
            multi_output=False,
        )
        X, y = check_xy(X, y, classifier=classifier)
        if classifier:
            self.classes_ = np.unique(y)
        if X_val is None and y_val is None:
            scored, val = self._split(y)
            X_val_arr, y_val_arr = X[val], y[val]
        else:
            X_val_arr, y_val_arr = check_validation_set(
                X_val, y_val, X.shape[1], classifier=classifier
            )
            scored = np.arange(len(y))
        if classifier:
            check_two_classes(y[scored], type(self).__name__)
        n_drop = n_to_drop(self.budget, len(scored))
        # fit on pandas rows when given, so that the inner estimator keeps the names
        X_fit = X_in if hasattr(X_in, "iloc") else model_input(self._inner(), X)
        y_fit = y_in if hasattr(y_in, "iloc") else y

        model = None
        if self._fit_before_scoring:
            start = time.perf_counter()
            model = clone(self._inner()).fit(
                _safe_indexing(X_fit, scored), _safe_indexing(y_fit, scored)
            )
            self._log(
                f"fitted the model on {len(scored)} rows in {time.perf_counter() - start:.2f}s"
            )
        start = time.perf_counter()
        row_scores = np.asarray(
            self._score_rows(model, X[scored], y[scored], X_val_arr, y_val_arr),
            dtype=np.float64,
        )
        self._log(f"scored {len(scored)} rows in {time.perf_counter() - start:.2f}s")

        self.scores_ = np.full(len(y), np.nan)
        self.scores_[scored] = row_scores
        order = np.argsort(-np.nan_to_num(row_scores, nan=-np.inf), kind="stable")
        self.trimmed_indices_ = scored[order[:n_drop]]
        keep = np.ones(len(y), dtype=bool)
        keep[self.trimmed_indices_] = False
        self.sample_indices_ = np.flatnonzero(keep)
        self._log(f"dropped {n_drop} rows; refitting on {keep.sum()} rows")
        self.estimator_ = clone(self._inner()).fit(
            _safe_indexing(X_fit, self.sample_indices_),
            _safe_indexing(y_fit, self.sample_indices_),
        )
        return self

    def fit_resample(self, X, y, **fit_params):
        """Fit, then return the kept rows (imbalanced-learn's sampler protocol).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training rows.
        y : array-like of shape (n_samples,)
            Targets.
        **fit_params : dict
            Passed to :meth:`fit` (``X_val``, ``y_val``).

        Returns
        -------
        X_resampled : {array-like, sparse matrix} of shape (n_kept, n_features)
            The rows in :attr:`sample_indices_`, of the same type as ``X``.
        y_resampled : array-like of shape (n_kept,)
            Their targets.
        """
        self.fit(X, y, **fit_params)
        return (
            _safe_indexing(X, self.sample_indices_),
            _safe_indexing(y, self.sample_indices_),
        )

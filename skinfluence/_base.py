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
from sklearn.utils.validation import _num_samples, validate_data

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

    def _fit_selector(self, X, y, X_val=None, y_val=None, *, aligned=None, aligned_val=None):
        """Validate, score, select and refit. Sets every fitted attribute.

        ``aligned`` holds extra row-aligned arrays (name -> array, one value per row
        of ``X``, ``None`` = not given) that the scorer needs on the validation rows:
        they are sliced to the held-out rows when ``validation`` splits internally.
        With explicit ``X_val``, ``aligned_val`` holds them for the rows of ``X_val``
        instead. The resolved arrays are passed to :meth:`_score_rows` as keywords
        (only when there are any).
        """
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
        aligned = {k: v for k, v in (aligned or {}).items() if v is not None}
        aligned_val = {k: v for k, v in (aligned_val or {}).items() if v is not None}
        for name, values in aligned.items():
            if _num_samples(values) != len(y):
                raise ValueError(
                    f"{name} must have one value per row of X ({len(y)}), got "
                    f"{_num_samples(values)}."
                )
        if X_val is None and y_val is None:
            if aligned_val:
                raise ValueError(
                    f"{', '.join(f'{k}_val' for k in aligned_val)} goes with X_val and "
                    f"y_val; without them pass {', '.join(aligned_val)} (one value per "
                    "row of X) and it is sliced to the held-out rows."
                )
            scored, val = self._split(y)
            X_val_arr, y_val_arr = X[val], y[val]
            val_kw = {k: _safe_indexing(v, val) for k, v in aligned.items()}
        else:
            X_val_arr, y_val_arr = check_validation_set(
                X_val, y_val, X.shape[1], classifier=classifier
            )
            scored = np.arange(len(y))
            missing = sorted(set(aligned) - set(aligned_val))
            if missing:
                raise ValueError(
                    f"with X_val, pass {', '.join(f'{k}_val' for k in missing)} (one "
                    f"value per row of X_val) instead of {', '.join(missing)}."
                )
            for name, values in aligned_val.items():
                if _num_samples(values) != X_val_arr.shape[0]:
                    raise ValueError(
                        f"{name}_val must have one value per row of X_val "
                        f"({X_val_arr.shape[0]}), got {_num_samples(values)}."
                    )
            val_kw = dict(aligned_val)
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
            self._score_rows(model, X[scored], y[scored], X_val_arr, y_val_arr, **val_kw),
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
        self.estimator_ = self._refit(X_fit, y_fit, X, y, model, scored)
        return self

    def _refit(self, X_fit, y_fit, X, y, model, scored):
        """Return the final estimator, once ``trimmed_indices_`` are set.

        The default drops the selected rows and refits on ``sample_indices_``.
        ``X_fit, y_fit`` are the rows as given (pandas kept), ``X, y`` the validated
        arrays, ``model`` the clone that was scored (``None`` when not fitted) and
        ``scored`` the positions of the scored rows.
        A subclass with another strategy overrides it (and may set its own fitted
        attributes here).
        """
        self._log(
            f"dropped {len(self.trimmed_indices_)} rows; refitting on "
            f"{len(self.sample_indices_)} rows"
        )
        return clone(self._inner()).fit(
            _safe_indexing(X_fit, self.sample_indices_),
            _safe_indexing(y_fit, self.sample_indices_),
        )

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

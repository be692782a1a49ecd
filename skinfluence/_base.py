"""Shared machinery of the row-selecting meta-estimators.

A selector scores the training rows, drops the ``budget`` rows with the highest
score, refits a clone of ``estimator`` on the rest and delegates prediction to it.
Subclasses implement :meth:`BaseRowSelector._score_rows` (and may override
:meth:`BaseRowSelector._refit`); both receive a :class:`ScoredRows`, which fits the
model on the scored rows the first time a subclass asks for it.
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

__all__ = ["BaseRowSelector", "ScoredRows"]


class ScoredRows:
    """The rows a selector scores, their validation rows, and the model fitted on them.

    Attributes
    ----------
    X, y : validated arrays of every training row (float64 ``X``)
    X_fit, y_fit : the training rows as given (pandas kept, so that the inner
        estimator sees the column names) or as the estimator takes them
    scored : ndarray of int
        Positions of the scored rows (every row unless some are held out).
    X_val, y_val : validated validation rows
    val_kw : dict
        Row-aligned extras for the validation rows (``sensitive``).
    """

    def __init__(self, selector, X, y, X_fit, y_fit, scored, X_val, y_val, val_kw):
        self._selector = selector
        self.X, self.y, self.X_fit, self.y_fit = X, y, X_fit, y_fit
        self.scored = scored
        self.X_val, self.y_val, self.val_kw = X_val, y_val, val_kw
        self._model = None

    @property
    def X_scored(self):
        """The validated scored rows."""
        return self.X[self.scored]

    @property
    def y_scored(self) -> np.ndarray:
        """Their targets."""
        return self.y[self.scored]

    @property
    def fitted(self) -> bool:
        """Whether :meth:`model` has been fitted."""
        return self._model is not None

    def model(self):
        """A clone of the estimator fitted on the scored rows (fitted once, then kept)."""
        if self._model is None:
            start = time.perf_counter()
            self._model = clone(self._selector._inner()).fit(
                _safe_indexing(self.X_fit, self.scored), _safe_indexing(self.y_fit, self.scored)
            )
            self._selector._log(
                f"fitted the model on {len(self.scored)} rows in {time.perf_counter() - start:.2f}s"
            )
        return self._model


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

    #: The fitted attribute that holds one result per row (``nan`` on held-out rows),
    #: and whether the rows with the highest result are dropped first (``scores_``:
    #: harm) or those with the lowest (``values_``: value).
    _result_attribute = "scores_"
    _drop_highest = True

    # -- the step subclasses provide ---------------------------------------------------
    @abstractmethod
    def _score_rows(self, rows: ScoredRows) -> np.ndarray:
        """One result per scored row (``rows.scored``), oriented as ``_drop_highest``.

        Call ``rows.model()`` for the estimator fitted on the scored rows.
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
        instead. The resolved arrays reach :meth:`_score_rows` as ``rows.val_kw``.
        The public ``fit`` validates the parameters (``_fit_context``) before.
        """
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

        rows = ScoredRows(self, X, y, X_fit, y_fit, scored, X_val_arr, y_val_arr, val_kw)
        start = time.perf_counter()
        result = np.asarray(self._score_rows(rows), dtype=np.float64)
        self._log(f"scored {len(scored)} rows in {time.perf_counter() - start:.2f}s")

        full = np.full(len(y), np.nan)
        full[scored] = result
        setattr(self, self._result_attribute, full)
        harm = result if self._drop_highest else -result
        order = np.argsort(-np.nan_to_num(harm, nan=-np.inf), kind="stable")
        self.trimmed_indices_ = scored[order[:n_drop]]
        keep = np.ones(len(y), dtype=bool)
        keep[self.trimmed_indices_] = False
        self.sample_indices_ = np.flatnonzero(keep)
        self.estimator_ = self._refit(rows)
        return self

    def _refit(self, rows: ScoredRows):
        """Return the final estimator, once ``trimmed_indices_`` are set.

        The default drops the selected rows and refits on ``sample_indices_``. A
        subclass with another strategy overrides it (and may set its own fitted
        attributes here).
        """
        self._log(
            f"dropped {len(self.trimmed_indices_)} rows; refitting on "
            f"{len(self.sample_indices_)} rows"
        )
        return clone(self._inner()).fit(
            _safe_indexing(rows.X_fit, self.sample_indices_),
            _safe_indexing(rows.y_fit, self.sample_indices_),
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

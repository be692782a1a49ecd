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
import scipy.sparse as sp
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import (
    _check_sample_weight,
    _num_samples,
    has_fit_parameter,
    validate_data,
)

from ._delegate import DelegateMixin
from .adapters import is_torch_model, model_input
from .utils import check_target, check_two_classes, check_validation_set, check_xy, n_to_drop

__all__ = ["BaseRowSelector", "ScoredRows"]


class ScoredRows:
    """The rows one fit scores, its validation rows, and the model fitted on them.

    Attributes
    ----------
    X, y : validated arrays of every training row (float64 ``X``)
    X_fit, y_fit : the training rows as given (pandas kept, so that the inner
        estimator sees the column names) or as the estimator takes them
    scored : ndarray of int
        Positions of the scored rows: every row, the rows outside the held-out
        share, or the other folds under cross-fitting.
    X_val, y_val : validated validation rows, or None when none are used
    val_kw : dict
        Row-aligned extras for the validation rows (``sensitive``).
    val : ndarray of int or None
        Positions of the validation rows among the training rows (None when they
        were passed apart, as ``X_val``, or when there are none).
    parent : ScoredRows
        The rows of the fit on every training row (itself when it is that fit): what
        is computed once per ``fit`` lives there (its model, its ``cache``).
    cache : dict
        Room for a subclass's once-per-fit results.
    sample_weight : ndarray of shape (n,) or None
        The weight of every training row (``None``: unweighted).
    raw : bool
        The estimator is a pipeline that transforms the rows itself: the rows it
        scores (:attr:`X_scored`, :attr:`X_val`) are the rows as given, not
        validated to floats.
    """

    def __init__(
        self, selector, X, y, X_fit, y_fit, scored, X_val, y_val, val_kw, sample_weight=None
    ):
        self._selector = selector
        self.X, self.y, self.X_fit, self.y_fit = X, y, X_fit, y_fit
        self.sample_weight = sample_weight
        self.scored = scored
        self.X_val, self.y_val, self.val_kw = X_val, y_val, val_kw
        self.val = None
        self.parent = self
        self.cache = {}
        self.raw = False
        self._model = None
        self._same_fit_as_parent = False

    @property
    def X_scored(self):
        """The scored rows (validated, or as given for a pipeline)."""
        return self.rows(self.scored)

    def rows(self, positions):
        """The training rows at ``positions`` as the estimator's measures take them."""
        return _safe_indexing(self.X_fit, positions) if self.raw else self.X[positions]

    @property
    def y_scored(self) -> np.ndarray:
        """Their targets."""
        return self.y[self.scored]

    @property
    def weight_scored(self) -> np.ndarray | None:
        """The scored rows' weights (``None`` when unweighted)."""
        return None if self.sample_weight is None else self.sample_weight[self.scored]

    @property
    def weight_val(self) -> np.ndarray | None:
        """The validation rows' weights, when they are training rows of a weighted fit."""
        if self.sample_weight is None or self.val is None:
            return None
        return self.sample_weight[self.val]

    def fit_clone(self, rows, y_fit=None, weights=None):
        """A clone of the estimator fitted on ``rows`` (their weights times ``weights``)."""
        y_fit = self.y_fit if y_fit is None else y_fit
        w = None if self.sample_weight is None else self.sample_weight[rows]
        if weights is not None:
            w = weights[rows] if w is None else w * weights[rows]
        kwargs = {} if w is None else {"sample_weight": w}
        return clone(self._selector._inner()).fit(
            _safe_indexing(self.X_fit, rows), _safe_indexing(y_fit, rows), **kwargs
        )

    @property
    def fitted(self) -> bool:
        """Whether :meth:`model` has been fitted."""
        return self._model is not None

    def model(self):
        """A clone of the estimator fitted on the scored rows (fitted once, then kept)."""
        if self._model is None and self._same_fit_as_parent:
            self._model = self.parent.model()
        if self._model is None:
            start = time.perf_counter()
            self._model = self.fit_clone(self.scored)
            self._selector._log(
                f"fitted the model on {len(self.scored)} rows in {time.perf_counter() - start:.2f}s"
            )
        return self._model

    def restricted(self, scored, val):
        """The same data with other scored rows and validation rows ``val`` (or None)."""
        X_val = None if val is None else self.rows(val)
        y_val = None if val is None else self.y[val]
        val_kw = {} if val is None else {k: _safe_indexing(v, val) for k, v in self.val_kw.items()}
        rows = ScoredRows(
            self._selector,
            self.X,
            self.y,
            self.X_fit,
            self.y_fit,
            scored,
            X_val,
            y_val,
            val_kw,
            self.sample_weight,
        )
        rows.val, rows.parent, rows.raw = val, self.parent, self.raw
        rows._same_fit_as_parent = np.array_equal(scored, self.parent.scored)
        return rows


class BaseRowSelector(DelegateMixin, MetaEstimatorMixin, BaseEstimator):
    """Score rows, drop the ``budget`` highest-scored ones, refit, delegate."""

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict"])],
        "budget": [
            Interval(numbers.Integral, 0, None, closed="left"),
            Interval(numbers.Real, 0, 1, closed="left"),
        ],
        "validation": [
            Interval(numbers.Real, 0, 1, closed="neither"),
            Interval(numbers.Integral, 2, None, closed="left"),
            StrOptions({"auto"}),
            None,
        ],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if tags.classifier_tags is not None:
            tags.classifier_tags.multi_label = False  # one target column, always
        return tags

    #: The fitted attribute that holds one result per row (``nan`` on held-out rows),
    #: and whether the rows with the highest result are dropped first (``scores_``:
    #: harm) or those with the lowest (``values_``: value).
    _result_attribute = "scores_"
    _drop_highest = True

    # -- the steps subclasses provide --------------------------------------------------
    @abstractmethod
    def _score_rows(self, rows: ScoredRows) -> np.ndarray:
        """One result per scored row (``rows.scored``), oriented as ``_drop_highest``.

        Call ``rows.model()`` for the estimator fitted on the scored rows.
        """

    @abstractmethod
    def _needs_validation(self) -> bool:
        """Whether the scores refer to validation rows (else nothing is held out)."""

    #: ``validation="auto"`` for a method that needs validation rows.
    _auto_validation = 0.2

    def _auto_budget(self, rows: ScoredRows) -> int:
        """Rows to drop for ``budget="auto"`` (subclasses that support it override)."""
        raise ValueError(f'budget="auto" is not supported by {type(self).__name__}.')

    # -- fitting -----------------------------------------------------------------------
    def _log(self, message: str) -> None:
        if self.verbose:
            print(f"[{type(self).__name__}] {message}", flush=True)

    def _split(self, y, share: float):
        """Row indices of the scored (training) part and of a held-out ``share``."""
        idx = np.arange(len(y))
        classifier = is_classifier(self._inner())
        stratify = None
        if classifier:
            _, counts = np.unique(y, return_counts=True)
            n_val = int(np.ceil(share * len(y)))
            if counts.min() >= 2 and n_val >= len(counts) and len(y) - n_val >= len(counts):
                stratify = y
        try:
            train, val = train_test_split(
                idx, test_size=share, stratify=stratify, random_state=self.random_state
            )
        except ValueError as exc:
            raise ValueError(
                f"cannot hold out validation={share} of {len(y)} rows "
                f"({exc}); pass more rows, a larger validation share, or X_val and y_val."
            ) from exc
        return np.sort(train), np.sort(val)

    def _folds(self, y, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """``validation=k``: (scored rows, validation fold) for each of ``k`` folds."""
        if k > len(y):
            raise ValueError(
                f"validation={k} folds need at least {k} rows, got n_samples={len(y)}."
            )
        if is_classifier(self._inner()):
            classes, counts = np.unique(y, return_counts=True)
            if counts.min() < k:
                raise ValueError(
                    f"validation={k} folds cannot be stratified: class "
                    f"{classes[np.argmin(counts)].item()!r} has only {counts.min()} rows. Pass "
                    "fewer folds, a held-out share (validation=0.2) or X_val and y_val."
                )
            splitter = StratifiedKFold(k, shuffle=True, random_state=self.random_state)
        else:
            splitter = KFold(k, shuffle=True, random_state=self.random_state)
        return [(np.sort(tr), np.sort(va)) for tr, va in splitter.split(np.zeros(len(y)), y)]

    def _validation_plan(self, y) -> list[tuple[np.ndarray, np.ndarray | None]]:
        """(scored rows, validation rows or None) for every fit that scores rows."""
        validation = self.validation
        if validation == "auto":
            validation = self._auto_validation if self._needs_validation() else None
            if isinstance(validation, numbers.Integral):
                # as many folds as the rarest class allows; a held-out share below 2
                smallest = len(y)
                if is_classifier(self._inner()):
                    smallest = np.unique(y, return_counts=True)[1].min()
                validation = int(min(validation, smallest, len(y)))
                validation = validation if validation >= 2 else 0.2
        if validation is None:
            if self._needs_validation():
                raise ValueError(
                    f"{self._what_needs_validation()} needs validation rows, but "
                    "validation=None holds none out: pass validation=0.2 (a held-out "
                    "share), an int K >= 2 (K-fold cross-fitting) or X_val and y_val."
                )
            return [(np.arange(len(y)), None)]
        if isinstance(validation, numbers.Integral):
            return self._folds(y, int(validation))
        return [self._split(y, float(validation))]

    def _what_needs_validation(self) -> str:
        return type(self).__name__

    def _fit_selector(
        self, X, y, X_val=None, y_val=None, *, sample_weight=None, aligned=None, aligned_val=None
    ):
        """Validate, score, select and refit. Sets every fitted attribute.

        ``aligned`` holds extra row-aligned arrays (name -> array, one value per row
        of ``X``, ``None`` = not given) that the scorer needs on the validation rows:
        they are sliced to the held-out rows when ``validation`` splits internally.
        With explicit ``X_val``, ``aligned_val`` holds them for the rows of ``X_val``
        instead. The resolved arrays reach :meth:`_score_rows` as ``rows.val_kw``.
        ``sample_weight`` (one per row of ``X``) reaches every fit of the estimator
        and the scoring. The public ``fit`` validates the parameters
        (``_fit_context``) before.
        """
        classifier = is_classifier(self._inner())
        # a pipeline transforms the rows itself: they stay as given (strings, NaN)
        raw = isinstance(self._inner(), Pipeline)
        X_in, y_in = X, y
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=("csr", "csc"),
            dtype=None if raw else np.float64,
            ensure_all_finite=not raw,
            y_numeric=not classifier,
            multi_output=False,
        )
        if raw:
            y = check_target(X, y, classifier=classifier)
        else:
            X, y = check_xy(X, y, classifier=classifier)
        if classifier:
            self.classes_ = np.unique(y)
            if is_torch_model(self._inner()) and y.dtype.kind not in "iubf":
                raise ValueError(
                    f"{type(self._inner()).__name__} trains on integer class indices "
                    f"0..K-1, but y holds {y.dtype} labels (e.g. {y[0]!r}); encode them "
                    "first, e.g. y = sklearn.preprocessing.LabelEncoder().fit_transform(y)."
                )
        aligned = {k: v for k, v in (aligned or {}).items() if v is not None}
        aligned_val = {k: v for k, v in (aligned_val or {}).items() if v is not None}
        for name, values in aligned.items():
            if _num_samples(values) != len(y):
                raise ValueError(
                    f"{name} must have one value per row of X ({len(y)}), got "
                    f"{_num_samples(values)}."
                )
        # fit on pandas rows when given, so that the inner estimator keeps the names
        X_fit = X_in if hasattr(X_in, "iloc") else model_input(self._inner(), X)
        if raw and sp.issparse(X_fit) and X_fit.format not in ("csr", "csc"):
            X_fit = X_fit.tocsr()
        y_fit = y_in if hasattr(y_in, "iloc") else y
        if sample_weight is not None:
            if not has_fit_parameter(self._inner(), "sample_weight"):
                raise ValueError(
                    f"sample_weight was passed, but {type(self._inner()).__name__}.fit takes "
                    "no sample_weight; drop it or use an estimator that does."
                )
            sample_weight = _check_sample_weight(sample_weight, X, ensure_non_negative=True)
        if X_val is None and y_val is None:
            if aligned_val:
                raise ValueError(
                    f"{', '.join(f'{k}_val' for k in aligned_val)} goes with X_val and "
                    f"y_val; without them pass {', '.join(aligned_val)} (one value per "
                    "row of X) and it is sliced to the held-out rows."
                )
            every = ScoredRows(
                self, X, y, X_fit, y_fit, np.arange(len(y)), None, None, aligned, sample_weight
            )
            every.raw = raw
            fits = [every.restricted(scored, val) for scored, val in self._validation_plan(y)]
        else:
            X_val_arr, y_val_arr = check_validation_set(
                X_val, y_val, X.shape[1], classifier=classifier, raw=raw
            )
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
            every = ScoredRows(
                self,
                X,
                y,
                X_fit,
                y_fit,
                np.arange(len(y)),
                X_val_arr,
                y_val_arr,
                aligned_val,
                sample_weight,
            )
            every.raw = raw
            fits = [every]
        if classifier:
            for rows in fits:
                check_two_classes(y[rows.scored], type(self).__name__)
        n_scored = len(np.unique(np.concatenate([rows.scored for rows in fits])))
        if not isinstance(self.budget, str):
            n_drop = n_to_drop(self.budget, n_scored)

        start = time.perf_counter()
        total = np.zeros(len(y))
        count = np.zeros(len(y))
        for rows in fits:
            total[rows.scored] += np.asarray(self._score_rows(rows), dtype=np.float64)
            count[rows.scored] += 1
        result = np.full(len(y), np.nan)
        np.divide(total, count, out=result, where=count > 0)
        scored = np.flatnonzero(count > 0)
        self._log(
            f"scored {len(scored)} rows ({len(fits)} fit{'s' if len(fits) > 1 else ''}) in "
            f"{time.perf_counter() - start:.2f}s"
        )
        setattr(self, self._result_attribute, result)
        # the final strategy refers to one fit on every scored row
        final = fits[0] if len(fits) == 1 else every.restricted(scored, None)
        if isinstance(self.budget, str):
            self.n_issues_ = self._auto_budget(final)
            n_drop = min(self.n_issues_, len(scored) - 1)
        harm = result[scored] if self._drop_highest else -result[scored]
        order = np.argsort(-np.nan_to_num(harm, nan=-np.inf), kind="stable")
        self.trimmed_indices_ = scored[order[:n_drop]]
        keep = np.ones(len(y), dtype=bool)
        keep[self.trimmed_indices_] = False
        self.sample_indices_ = np.flatnonzero(keep)
        self.estimator_ = self._refit(final)
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
        return rows.fit_clone(self.sample_indices_)

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
            The rows in :attr:`sample_indices_`, of the same type as ``X`` (a
            sparse matrix in a format without row indexing comes back as CSR).
        y_resampled : array-like of shape (n_kept,)
            Their targets.
        """
        self.fit(X, y, **fit_params)
        if sp.issparse(X) and X.format not in ("csr", "csc"):
            X = X.tocsr()  # COO, DIA, ... cannot be indexed by rows
        return (
            _safe_indexing(X, self.sample_indices_),
            _safe_indexing(y, self.sample_indices_),
        )

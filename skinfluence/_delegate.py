"""Delegation to a refitted inner estimator, shared by the meta-estimators."""

from __future__ import annotations

from sklearn.linear_model import LogisticRegression
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["DelegateMixin"]


def _estimator_has(attr: str):
    """Whether the fitted ``estimator_`` (or, before fit, ``estimator``) has ``attr``."""

    def check(self) -> bool:
        if hasattr(self, "estimator_"):
            return hasattr(self.estimator_, attr)
        return hasattr(self._inner(), attr)

    return check


class DelegateMixin:
    """``predict``, ``predict_proba``, ... and tags of ``estimator_``.

    The class stores the wrapped model in ``estimator`` (``None`` means
    ``LogisticRegression()``) and sets the fitted ``estimator_``.
    """

    def _inner(self):
        """The estimator to clone: ``estimator`` or the default ``LogisticRegression``."""
        if self.estimator is None:
            return LogisticRegression()
        return self.estimator

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = self._inner().__sklearn_tags__()
        tags.estimator_type = inner.estimator_type
        tags.input_tags.sparse = inner.input_tags.sparse
        tags.classifier_tags = inner.classifier_tags
        tags.regressor_tags = inner.regressor_tags
        return tags

    # -- delegation ------------------------------------------------------------------
    def _delegate(self, method: str, X):
        check_is_fitted(self)
        validate_data(
            self,
            X,
            reset=False,
            accept_sparse=("csr", "csc"),
            dtype=None,
            ensure_all_finite=False,
        )
        return getattr(self.estimator_, method)(X)

    @available_if(_estimator_has("predict"))
    def predict(self, X):
        """Predict with the estimator refitted on the kept rows.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to predict.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            ``estimator_.predict(X)``.
        """
        return self._delegate("predict", X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities of the refitted estimator.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to predict.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            ``estimator_.predict_proba(X)``.
        """
        return self._delegate("predict_proba", X)

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X):
        """Log class probabilities of the refitted estimator.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to predict.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            ``estimator_.predict_log_proba(X)``.
        """
        return self._delegate("predict_log_proba", X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """Decision function of the refitted estimator.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            ``estimator_.decision_function(X)``.
        """
        return self._delegate("decision_function", X)

    @available_if(_estimator_has("score"))
    def score(self, X, y, sample_weight=None):
        """Score of the refitted estimator on ``(X, y)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Test rows.
        y : array-like of shape (n_samples,)
            True targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            ``estimator_.score(X, y)``: accuracy for classifiers, R² for regressors.
        """
        check_is_fitted(self)
        validate_data(
            self,
            X,
            reset=False,
            accept_sparse=("csr", "csc"),
            dtype=None,
            ensure_all_finite=False,
        )
        return self.estimator_.score(X, y, sample_weight=sample_weight)

"""InfluenceTrimmer: drop the training rows an influence measure marks as harmful."""

from __future__ import annotations

from numbers import Real

from sklearn.utils._param_validation import Interval, StrOptions

from ._base import BaseRowSelector
from ._scores import METHODS, _compute_scores
from .curvature import SOLVERS, BaseSolver
from .influence import FI_SCALINGS

__all__ = ["InfluenceTrimmer"]


class InfluenceTrimmer(BaseRowSelector):
    """Trim the most harmful training rows by influence, then refit.

    ``fit`` holds out a stratified ``validation`` share of the rows (or takes
    ``X_val, y_val``), fits a clone of ``estimator`` on the rest, scores every
    training row with ``method``, drops the ``budget`` highest-scored rows and refits
    a clone on the kept training rows plus the validation rows.

    Parameters
    ----------
    estimator : estimator object, default=None
        The model to clean the data for; ``None`` means
        ``LogisticRegression()``. Supported: ``LogisticRegression`` (L2 or no
        penalty), ``SGDClassifier(loss="log_loss")`` (binary), ``LinearRegression``,
        ``Ridge``, ``SGDRegressor(loss="squared_error")`` and skorch nets.
    method : {"fi", "if", "random"}, default="fi"
        The influence measure. Every score is oriented so that higher = trimmed
        first:

        - ``"fi"`` — FI^util of seed 000: the local influence of a perturbation of
          the row's features on the mean validation loss (≥ 0; large = the
          validation loss is sensitive to this row).
        - ``"if"`` — minus the classic influence on the mean validation loss
          (Koh & Liang; Chhabra et al.'s IV): the predicted decrease of the
          validation loss when the row is removed.
        - ``"random"`` — uniform random scores (the baseline).
    budget : int or float, default=0.05
        Rows to drop: an int is a count, a float in ``[0, 1)`` a fraction of the
        scored training rows, 0 keeps every row.
    validation : float, default=0.2
        Share of the rows held out (stratified for classifiers) to score against
        when ``X_val, y_val`` are not passed to :meth:`fit`. Held-out rows are never
        trimmed and are used in the final refit.
    solver : {"exact", "cg"} or BaseSolver, default="exact"
        Inverse-Hessian-vector products: Cholesky (pseudo-inverse when singular) or
        conjugate gradient.
    damping : float, default=0.0
        Added to the Hessian's diagonal before inversion.
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
    random_state : int, RandomState instance or None, default=None
        Seeds the validation split and ``method="random"``.
    verbose : int, default=0
        Print the stages and their timings.

    Attributes
    ----------
    scores_ : ndarray of shape (n_samples,)
        One score per row of ``X``; higher = trimmed first. Held-out validation
        rows are never scored and hold ``nan``.
    trimmed_indices_ : ndarray of shape (n_dropped,)
        Rows removed, most harmful first.
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
        "method": [StrOptions(set(METHODS))],
        "solver": [StrOptions(set(SOLVERS)), BaseSolver],
        "damping": [Interval(Real, 0, None, closed="left")],
        "scaling": [StrOptions(set(FI_SCALINGS))],
        "params": [StrOptions({"all", "last"}), list],
        "gauss_newton": ["boolean"],
    }

    def __init__(
        self,
        estimator=None,
        *,
        method="fi",
        budget=0.05,
        validation=0.2,
        solver="exact",
        damping=0.0,
        scaling="appendix",
        params="all",
        gauss_newton=False,
        random_state=None,
        verbose=0,
    ):
        self.estimator = estimator
        self.method = method
        self.budget = budget
        self.validation = validation
        self.solver = solver
        self.damping = damping
        self.scaling = scaling
        self.params = params
        self.gauss_newton = gauss_newton
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X, y, X_val=None, y_val=None):
        """Score the training rows, drop the ``budget`` most harmful, refit.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training rows.
        y : array-like of shape (n_samples,)
            Targets.
        X_val : {array-like, sparse matrix} of shape (n_val, n_features), default=None
            Validation rows to score against, already transformed like ``X`` (inside
            a pipeline, earlier steps do not transform fit parameters). Overrides
            ``validation``; every row of ``X`` is then scored.
        y_val : array-like of shape (n_val,), default=None
            Validation targets.

        Returns
        -------
        self : InfluenceTrimmer
            The fitted trimmer.
        """
        return self._fit_selector(X, y, X_val, y_val)

    @property
    def _fit_before_scoring(self) -> bool:
        return self.method != "random"  # random scores need no model

    def _score_rows(self, estimator, X, y, X_val, y_val):
        return _compute_scores(
            estimator,
            X,
            y,
            X_val,
            y_val,
            method=self.method,
            solver=self.solver,
            damping=self.damping,
            scaling=self.scaling,
            params=self.params,
            gauss_newton=self.gauss_newton,
            random_state=self.random_state,
        )

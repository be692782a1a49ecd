"""Refit experiments over a grid: the trimming curve and the valuation (removal) curve.

Plain functions, like scikit-learn's ``learning_curve`` beside
``LearningCurveDisplay``: they clone and refit models and return the measured test
scores; the Displays of :mod:`skinfluence.plotting` call them and draw the result.
Every refit goes through joblib, so ``n_jobs`` (and ``joblib.parallel_backend``)
scale them out.
"""

from __future__ import annotations

import warnings

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.metrics import check_scoring
from sklearn.pipeline import Pipeline
from sklearn.utils import _safe_indexing

__all__ = ["trimming_curve", "valuation_curve"]

_BUDGETS = (0, 0.02, 0.05, 0.1, 0.2)
_METHODS = ("fi", "if", "random")
_FRACTIONS = (0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5)


def _test_score(model, X_test, y_test, scoring) -> float:
    """Score of a fitted ``model`` on ``(X_test, y_test)`` (``None``: its ``score``)."""
    return float(check_scoring(model, scoring=scoring)(model, X_test, y_test))


def _num_rows(X) -> int:
    return X.shape[0] if hasattr(X, "shape") else len(X)


# -- trimming curve ------------------------------------------------------------------
def _trimmer_param_prefix(estimator, caller: str = "trimming_curve") -> str:
    """``""`` for a trimmer, ``"<step>__"`` for a pipeline ending in one.

    ``caller`` names the function or Display in the error message.
    """
    if isinstance(estimator, Pipeline):
        name, last = estimator.steps[-1]
        prefix = f"{name}__"
    else:
        last, prefix = estimator, ""
    params = last.get_params(deep=False) if hasattr(last, "get_params") else {}
    if not {"method", "budget", "random_state"} <= set(params):
        raise TypeError(
            f"{caller} needs an InfluenceTrimmer or a Pipeline ending in one, "
            f"got {type(last).__name__}."
        )
    return prefix


def _fit_trimmer_score(estimator, params, X, y, X_test, y_test, scoring) -> float:
    model = clone(estimator).set_params(**params).fit(X, y)
    return _test_score(model, X_test, y_test, scoring)


def trimming_curve(
    estimator,
    X,
    y,
    X_test,
    y_test,
    *,
    budgets=_BUDGETS,
    methods=_METHODS,
    n_repeats: int = 5,
    scoring=None,
    random_state: int = 0,
    n_jobs: int | None = None,
) -> dict[str, np.ndarray]:
    """Test score of a trimmer refitted over a grid of budgets, for several methods.

    For every method and budget a clone of ``estimator`` is fitted on ``(X, y)``
    with that ``method`` and ``budget`` and scored on ``(X_test, y_test)``. Every
    method uses the same ``random_state`` (so the same validation split);
    ``"random"`` is repeated ``n_repeats`` times with seeds ``random_state + r``
    (which also change the validation split). Cost:
    ``(n_methods - 1 + n_repeats) * n_budgets`` trimmer fits.

    Parameters
    ----------
    estimator : InfluenceTrimmer or Pipeline
        An :class:`~skinfluence.InfluenceTrimmer`, or a pipeline whose last step is
        one; fitted or not (it is cloned).
    X : array-like of shape (n_samples, n_features)
        Training rows.
    y : array-like of shape (n_samples,)
        Training targets.
    X_test : array-like of shape (n_test, n_features)
        Rows the refitted models are scored on.
    y_test : array-like of shape (n_test,)
        Their targets.
    budgets : sequence of int or float, default=(0, 0.02, 0.05, 0.1, 0.2)
        The ``budget`` values: row counts or fractions of the scored rows.
    methods : sequence of str, default=("fi", "if", "random")
        Trimming methods.
    n_repeats : int, default=5
        Seeds of ``"random"``; other methods are fitted once.
    scoring : str, callable or None, default=None
        Test scorer; ``None`` uses the estimator's ``score``.
    random_state : int, default=0
        Seed of every fit (the validation split); repeat ``r`` of ``"random"``
        uses ``random_state + r``.
    n_jobs : int, default=None
        Parallel fits (joblib).

    Returns
    -------
    scores : dict of str to ndarray of shape (n_repeats_method, n_budgets)
        Test score of each method, one row per repeat (``n_repeats`` rows for
        ``"random"``, one for the others) and one column per budget, in the order
        given; what :class:`~skinfluence.TrimmingCurveDisplay` draws.

    See Also
    --------
    TrimmingCurveDisplay.from_estimator : Run this experiment and draw it.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skinfluence import InfluenceTrimmer, trimming_curve
    >>> X, y = make_classification(n_samples=120, random_state=0)
    >>> scores = trimming_curve(
    ...     InfluenceTrimmer(), X[:80], y[:80], X[80:], y[80:],
    ...     budgets=[0, 5], methods=["fi", "random"], n_repeats=2,
    ... )
    >>> sorted(scores), scores["fi"].shape, scores["random"].shape
    (['fi', 'random'], (1, 2), (2, 2))
    """
    prefix = _trimmer_param_prefix(estimator)
    if isinstance(n_repeats, bool) or not isinstance(n_repeats, (int, np.integer)):
        raise TypeError(f"n_repeats must be an int >= 1, got {n_repeats!r}.")
    if n_repeats < 1:
        raise ValueError(f"n_repeats must be >= 1, got {n_repeats}.")
    budgets, methods = list(budgets), list(methods)
    if not budgets or not methods:
        raise ValueError("pass at least one budget and one method.")
    if isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer)):
        raise TypeError(
            f"random_state must be an int (the seed of every fit), got {random_state!r}."
        )
    seed = int(random_state)
    jobs = [
        (
            method,
            r,
            j,
            {
                f"{prefix}method": method,
                f"{prefix}budget": budget,
                f"{prefix}random_state": seed + r,
            },
        )
        for method in methods
        for r in range(n_repeats if method == "random" else 1)
        for j, budget in enumerate(budgets)
    ]
    results = Parallel(n_jobs=n_jobs)(
        delayed(_fit_trimmer_score)(estimator, params, X, y, X_test, y_test, scoring)
        for _, _, _, params in jobs
    )
    scores = {
        m: np.full((n_repeats if m == "random" else 1, len(budgets)), np.nan) for m in methods
    }
    for (method, r, j, _), value in zip(jobs, results):
        scores[method][r, j] = value
    return scores


# -- valuation (removal) curve -------------------------------------------------------
def _safe_refit_score(estimator, X, y, keep, X_test, y_test, scoring) -> float:
    """Score of a clone of ``estimator`` fitted on rows ``keep``; ``nan`` if it fails."""
    try:
        model = clone(estimator).fit(_safe_indexing(X, keep), _safe_indexing(y, keep))
        return _test_score(model, X_test, y_test, scoring)
    except ValueError as exc:
        warnings.warn(
            f"refit on {len(keep)} rows failed ({exc}); its score is nan.",
            RuntimeWarning,
            stacklevel=2,
        )
        return float("nan")


def valuation_curve(
    estimator,
    values,
    X,
    y,
    X_test,
    y_test,
    *,
    fractions=_FRACTIONS,
    scoring=None,
    n_jobs: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Test score after removing training rows by value, high-value first and low first.

    The removal experiment of OpenDataVal (and Ghorbani & Zou): at fraction ``f``
    the ``floor(f · n_valued)`` highest- (or lowest-) valued rows are removed, ties
    broken by row order, and a clone of ``estimator`` is refitted on the rest and
    scored on ``(X_test, y_test)``. Rows with a ``nan`` value (e.g. a valuator's
    validation rows) are never removed and join every refit. Cost:
    ``2 * len(fractions)`` refits.

    Parameters
    ----------
    estimator : estimator
        The model to refit (cloned; fitted or not).
    values : array-like of shape (n_samples,)
        Value of each row of ``X``; higher = more valuable. Any per-row measure
        works, e.g. a valuator's ``values_`` or ``-trimmer.scores_``.
    X : array-like of shape (n_samples, n_features)
        Training rows.
    y : array-like of shape (n_samples,)
        Training targets.
    X_test : array-like of shape (n_test, n_features)
        Rows the refitted models are scored on.
    y_test : array-like of shape (n_test,)
        Their targets.
    fractions : sequence of float, default=(0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5)
        Shares of the valued rows to remove, each in ``[0, 1)``.
    scoring : str, callable or None, default=None
        Test scorer; ``None`` uses the estimator's ``score``.
    n_jobs : int, default=None
        Parallel refits (joblib).

    Returns
    -------
    high_first : ndarray of shape (n_fractions,)
        Test score after removing the highest-valued rows first, one per fraction.
    low_first : ndarray of shape (n_fractions,)
        Test score after removing the lowest-valued rows first. A refit that fails
        (e.g. one class left) scores ``nan`` with a warning.

    See Also
    --------
    ValuationCurveDisplay.from_values : Run this experiment and draw it.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skinfluence import ShapleyValuator, valuation_curve
    >>> X, y = make_classification(n_samples=120, random_state=0)
    >>> valuator = ShapleyValuator(method="loo", budget=0, random_state=0).fit(X[:80], y[:80])
    >>> high_first, low_first = valuation_curve(
    ...     LogisticRegression(), valuator.values_, X[:80], y[:80], X[80:], y[80:],
    ...     fractions=[0, 0.1, 0.2],
    ... )
    >>> high_first.shape, bool(high_first[0] == low_first[0])
    ((3,), True)
    """
    values = np.asarray(values, dtype=float)
    n = _num_rows(X)
    if values.ndim != 1 or len(values) != n:
        raise ValueError(f"values must have one entry per row of X ({n}), got {values.shape}.")
    fractions = np.asarray(fractions, dtype=float)
    if fractions.ndim != 1 or not np.all((fractions >= 0) & (fractions < 1)):
        raise ValueError("fractions must be a 1-D sequence of shares in [0, 1).")
    valued = np.flatnonzero(np.isfinite(values))
    if len(valued) == 0:
        raise ValueError("values has no finite entry: nothing to remove by value.")
    order = valued[np.argsort(-values[valued], kind="stable")]  # most valuable first
    keeps = []
    for direction in (order, order[::-1]):
        for f in fractions:
            mask = np.ones(n, dtype=bool)
            mask[direction[: int(np.floor(f * len(valued)))]] = False
            keeps.append(np.flatnonzero(mask))
    results = Parallel(n_jobs=n_jobs)(
        delayed(_safe_refit_score)(estimator, X, y, keep, X_test, y_test, scoring) for keep in keeps
    )
    results = np.asarray(results, dtype=float).reshape(2, len(fractions))
    return results[0], results[1]

"""``ValuationCurveDisplay``: removal curves by value (:func:`~skinfluence.valuation_curve`)."""

from __future__ import annotations

import numpy as np

from .._curves import valuation_curve
from ._base import _check_selector, _legend_below, _new_axes

__all__ = ["ValuationCurveDisplay"]


class ValuationCurveDisplay:
    """Test score after removing training rows by value: high-value first vs low first.

    The removal experiment of OpenDataVal (and Ghorbani & Zou): remove a growing
    share of the valued rows in order of their value and refit. Good values make the
    score fall fast when the most valuable rows go first and hold up (or rise, when
    the data is noisy) when the least valuable go first. Build it with
    :meth:`from_estimator` (a fitted :class:`~skinfluence.ShapleyValuator`) or
    :meth:`from_values` (any per-row values), which run
    :func:`~skinfluence.valuation_curve`; or pass scores you measured yourself.

    Parameters
    ----------
    fractions : array-like of shape (n_points,)
        Share of the valued rows removed.
    high_first : array-like of shape (n_points,)
        Test score after removing the highest-valued rows first.
    low_first : array-like of shape (n_points,)
        Test score after removing the lowest-valued rows first.
    score_name : str, default="test score"
        Label of the y axis.

    Attributes
    ----------
    lines_ : dict of str to matplotlib Line2D
        ``"high_first"`` and ``"low_first"`` curves.
    ax_ : matplotlib Axes
        Axes with the curves.
    figure_ : matplotlib Figure
        Figure containing the curves.

    See Also
    --------
    valuation_curve : The experiment, without drawing.
    TrimmingCurveDisplay : Test score against trimming budget.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skinfluence import ValuationCurveDisplay
    >>> display = ValuationCurveDisplay([0, 0.1], [0.9, 0.8], [0.9, 0.92]).plot()
    >>> sorted(display.lines_)
    ['high_first', 'low_first']
    """

    def __init__(self, fractions, high_first, low_first, *, score_name="test score"):
        self.fractions = np.asarray(fractions, dtype=float)
        self.high_first = np.asarray(high_first, dtype=float)
        self.low_first = np.asarray(low_first, dtype=float)
        if not (self.fractions.shape == self.high_first.shape == self.low_first.shape):
            raise ValueError("fractions, high_first and low_first must have the same length.")
        self.score_name = score_name

    def plot(self, ax=None, **kwargs):
        """Draw both curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when ``None``.
        **kwargs : dict
            Passed to ``ax.plot`` for both curves.

        Returns
        -------
        display : ValuationCurveDisplay
            This display, with ``lines_``, ``ax_`` and ``figure_`` set.
        """
        if ax is None:
            ax = _new_axes()
        kwargs.setdefault("marker", "o")
        self.lines_ = {}
        (self.lines_["high_first"],) = ax.plot(
            self.fractions, self.high_first, label="remove high value first", **kwargs
        )
        (self.lines_["low_first"],) = ax.plot(
            self.fractions, self.low_first, label="remove low value first", **kwargs
        )
        ax.set_xlabel("share of the valued rows removed")
        ax.set_ylabel(self.score_name)
        _legend_below(ax)
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @classmethod
    def from_values(
        cls,
        estimator,
        values,
        X,
        y,
        X_test,
        y_test,
        *,
        fractions=(0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5),
        scoring=None,
        n_jobs=None,
        ax=None,
        **kwargs,
    ):
        """Refit on the rows left after removing by ``values``; plot the test scores.

        Runs :func:`~skinfluence.valuation_curve`, then draws it. Rows with a
        ``nan`` value (e.g. a valuator's validation rows) are never removed and join
        every refit. At fraction ``f`` the ``floor(f · n_valued)`` highest- (or
        lowest-) valued rows are removed, ties broken by row order.

        Parameters
        ----------
        estimator : estimator
            The model to refit (cloned; fitted or not).
        values : array-like of shape (n_samples,)
            Value of each row of ``X``; higher = more valuable. Any per-row measure
            works, e.g. ``-trimmer.scores_``.
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
        ax : matplotlib Axes, default=None
            Axes to draw on.
        **kwargs : dict
            Passed to ``ax.plot``.

        Returns
        -------
        display : ValuationCurveDisplay
            The drawn display. A refit that fails (e.g. one class left) scores
            ``nan`` with a warning.
        """
        high_first, low_first = valuation_curve(
            estimator,
            values,
            X,
            y,
            X_test,
            y_test,
            fractions=fractions,
            scoring=scoring,
            n_jobs=n_jobs,
        )
        name = "test score" if scoring is None else f"test {scoring}"
        return cls(fractions, high_first, low_first, score_name=name).plot(ax=ax, **kwargs)

    @classmethod
    def from_estimator(
        cls,
        valuator,
        X,
        y,
        X_test,
        y_test,
        *,
        fractions=(0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5),
        scoring=None,
        n_jobs=None,
        ax=None,
        **kwargs,
    ):
        """Removal curves of a fitted :class:`~skinfluence.ShapleyValuator`.

        Parameters
        ----------
        valuator : ShapleyValuator or Pipeline
            Fitted on ``(X, y)`` (a pipeline ending in a valuator is refitted whole,
            its last step replaced by the valuator's inner estimator).
        X : array-like of shape (n_samples, n_features)
            The rows the valuator was fitted on.
        y : array-like of shape (n_samples,)
            Their targets.
        X_test : array-like of shape (n_test, n_features)
            Rows the refitted models are scored on.
        y_test : array-like of shape (n_test,)
            Their targets.
        fractions : sequence of float, default=(0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5)
            Shares of the valued rows to remove.
        scoring : str, callable or None, default=None
            Test scorer; ``None`` uses the estimator's ``score``.
        n_jobs : int, default=None
            Parallel refits (joblib).
        ax : matplotlib Axes, default=None
            Axes to draw on.
        **kwargs : dict
            Passed to ``ax.plot``.

        Returns
        -------
        display : ValuationCurveDisplay
            The drawn display.
        """
        from sklearn.base import clone
        from sklearn.pipeline import Pipeline

        selector = _check_selector(valuator, "values_")
        model = clone(selector._inner())
        if isinstance(valuator, Pipeline):
            model = clone(valuator)
            model.steps[-1] = (model.steps[-1][0], clone(selector._inner()))
        return cls.from_values(
            model,
            selector.values_,
            X,
            y,
            X_test,
            y_test,
            fractions=fractions,
            scoring=scoring,
            n_jobs=n_jobs,
            ax=ax,
            **kwargs,
        )

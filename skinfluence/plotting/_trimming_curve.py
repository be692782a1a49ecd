"""``TrimmingCurveDisplay``: test score against trimming budget, one curve per method."""

from __future__ import annotations

import numpy as np

from .._curves import _trimmer_param_prefix, trimming_curve
from ._base import _legend_below, _new_axes

__all__ = ["TrimmingCurveDisplay"]


def _budget_label(budgets) -> str:
    return (
        "rows removed"
        if all(isinstance(b, (int, np.integer)) for b in budgets)
        else "budget (share of the scored rows removed)"
    )


class TrimmingCurveDisplay:
    """Test score against trimming budget, one curve per method, random baseline band.

    Build it with :meth:`from_estimator`, which refits clones of an
    :class:`~skinfluence.InfluenceTrimmer` (or a pipeline ending in one) over a grid
    of budgets (:func:`~skinfluence.trimming_curve`); or pass scores you measured
    yourself, e.g. ``TrimmingCurveDisplay(budgets, trimming_curve(...))``.

    Parameters
    ----------
    budgets : array-like of shape (n_budgets,)
        The trimmer's ``budget`` values: row counts or fractions.
    scores : dict of str to array-like of shape (n_repeats, n_budgets)
        Test score for each method, one row per repeat (seed); a 1-D array is one
        repeat. Methods with several repeats are drawn as their mean with a band
        from the lowest to the highest repeat.
    score_name : str, default="test score"
        Label of the y axis.

    Attributes
    ----------
    lines_ : dict of str to matplotlib Line2D
        The mean curve of each method.
    bands_ : dict of str to matplotlib PolyCollection
        The min–max band of each method with more than one repeat.
    ax_ : matplotlib Axes
        Axes with the curves.
    figure_ : matplotlib Figure
        Figure containing the curves.

    See Also
    --------
    trimming_curve : The experiment, without drawing.
    ValuationCurveDisplay : Test score after removing rows by value.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skinfluence import TrimmingCurveDisplay
    >>> display = TrimmingCurveDisplay(
    ...     [0, 10, 20], {"fi": [0.80, 0.84, 0.86], "random": [[0.80, 0.79, 0.8],
    ...     [0.80, 0.81, 0.79]]}
    ... ).plot()
    >>> sorted(display.lines_), sorted(display.bands_)
    (['fi', 'random'], ['random'])
    """

    def __init__(self, budgets, scores, *, score_name="test score"):
        self.budgets = list(budgets)
        self.scores = {m: np.atleast_2d(np.asarray(s, dtype=float)) for m, s in scores.items()}
        for method, values in self.scores.items():
            if values.shape[1] != len(self.budgets):
                raise ValueError(
                    f"scores[{method!r}] has {values.shape[1]} columns, one per budget "
                    f"expected ({len(self.budgets)})."
                )
        self.score_name = score_name

    def plot(self, ax=None, **kwargs):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when ``None``.
        **kwargs : dict
            Passed to ``ax.plot`` for every curve.

        Returns
        -------
        display : TrimmingCurveDisplay
            This display, with ``lines_``, ``bands_``, ``ax_`` and ``figure_`` set.
        """
        if ax is None:
            ax = _new_axes()
        x = np.asarray(self.budgets, dtype=float)
        self.lines_, self.bands_ = {}, {}
        for method, values in self.scores.items():
            style = {"marker": "o", **kwargs}
            if method == "random":
                style.setdefault("linestyle", "--")
                style.setdefault("color", "0.4")
            mean = np.nanmean(values, axis=0)
            (line,) = ax.plot(x, mean, label=method, **style)
            self.lines_[method] = line
            if values.shape[0] > 1:
                self.bands_[method] = ax.fill_between(
                    x,
                    np.nanmin(values, axis=0),
                    np.nanmax(values, axis=0),
                    color=line.get_color(),
                    alpha=0.2,
                    linewidth=0,
                )
        ax.set_xlabel(_budget_label(self.budgets))
        ax.set_ylabel(self.score_name)
        _legend_below(ax)
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        y,
        X_test,
        y_test,
        *,
        budgets=(0, 0.02, 0.05, 0.1, 0.2),
        methods=("fi", "if", "random"),
        n_repeats=5,
        scoring=None,
        random_state=0,
        n_jobs=None,
        ax=None,
        **kwargs,
    ):
        """Refit clones of a trimmer over a budget grid and plot their test scores.

        Runs :func:`~skinfluence.trimming_curve`, then draws it: for every method
        and budget a clone of ``estimator`` is fitted on ``(X, y)`` with that
        ``method`` and ``budget`` and scored on ``(X_test, y_test)``. Every method
        uses the same ``random_state`` (so the same validation split); ``"random"``
        is repeated ``n_repeats`` times with different seeds (which also change the
        validation split) and drawn as a band.

        Parameters
        ----------
        estimator : InfluenceTrimmer or Pipeline
            An :class:`~skinfluence.InfluenceTrimmer`, or a pipeline whose last step
            is one; fitted or not (it is cloned).
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
            Trimming methods, one curve each.
        n_repeats : int, default=5
            Seeds of ``"random"`` (its band); other methods are fitted once.
        scoring : str, callable or None, default=None
            Test scorer; ``None`` uses the estimator's ``score``.
        random_state : int, default=0
            Seed of every fit (the validation split); repeat ``r`` of ``"random"``
            uses ``random_state + r``.
        n_jobs : int, default=None
            Parallel fits (joblib).
        ax : matplotlib Axes, default=None
            Axes to draw on.
        **kwargs : dict
            Passed to ``ax.plot``.

        Returns
        -------
        display : TrimmingCurveDisplay
            The drawn display; ``scores`` holds the measured values.
        """
        _trimmer_param_prefix(estimator, "TrimmingCurveDisplay")
        budgets = list(budgets)
        scores = trimming_curve(
            estimator,
            X,
            y,
            X_test,
            y_test,
            budgets=budgets,
            methods=methods,
            n_repeats=n_repeats,
            scoring=scoring,
            random_state=random_state,
            n_jobs=n_jobs,
        )
        name = "test score" if scoring is None else f"test {scoring}"
        return cls(budgets, scores, score_name=name).plot(ax=ax, **kwargs)

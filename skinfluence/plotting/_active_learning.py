"""``ActiveLearningDisplay``: the learning curve of an active-learning run."""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._base import _legend_below, _new_axes

__all__ = ["ActiveLearningDisplay"]


class ActiveLearningDisplay:
    """Learning curve of an active-learning run: score against labeled rows.

    Build it with :meth:`from_estimator` (a fitted
    :class:`~skinfluence.InfluenceActiveLearner`) or :meth:`from_history`; draw
    several runs on one ``ax`` to compare query strategies.

    Parameters
    ----------
    n_labeled : array-like of shape (n_rounds + 1,)
        Labeled rows after each round (round 0 is the initial fit).
    scores : array-like of shape (n_rounds + 1,)
        Score of the model after each round.
    label : str, default=None
        Legend entry.

    Attributes
    ----------
    line_ : matplotlib Line2D
        The curve.
    ax_ : matplotlib Axes
        Axes with the curve.
    figure_ : matplotlib Figure
        Figure containing the curve.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skinfluence import ActiveLearningDisplay
    >>> display = ActiveLearningDisplay([10, 20, 30], [0.7, 0.8, 0.85], label="fi").plot()
    >>> display.line_.get_label()
    'fi'
    """

    def __init__(self, n_labeled, scores, *, label=None):
        self.n_labeled = np.asarray(n_labeled)
        self.scores = np.asarray(scores, dtype=float)
        self.label = label

    def plot(self, ax=None, *, label=None, **kwargs):
        """Draw the curve.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when ``None``.
        label : str, default=None
            Legend entry; overrides the one given at construction.
        **kwargs : dict
            Passed to ``ax.plot``.

        Returns
        -------
        display : ActiveLearningDisplay
            This display, with ``line_``, ``ax_`` and ``figure_`` set.
        """
        if ax is None:
            ax = _new_axes()
        label = label if label is not None else self.label
        kwargs.setdefault("marker", "o")
        (self.line_,) = ax.plot(self.n_labeled, self.scores, label=label, **kwargs)
        ax.set_xlabel("labeled rows")
        ax.set_ylabel("score")
        if label is not None:
            _legend_below(ax)
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @classmethod
    def from_history(cls, history, *, label=None, ax=None, **kwargs):
        """Plot a ``history_`` list (``n_labeled`` and ``score`` of each round).

        Parameters
        ----------
        history : list of dict
            Entries with keys ``"n_labeled"`` and ``"score"``.
        label : str, default=None
            Legend entry.
        ax : matplotlib Axes, default=None
            Axes to draw on.
        **kwargs : dict
            Passed to ``ax.plot``.

        Returns
        -------
        display : ActiveLearningDisplay
            The drawn display.
        """
        scores = [entry["score"] for entry in history]
        if np.all(np.isnan(np.asarray(scores, dtype=float))):
            raise ValueError(
                "history_ has no scores: fit the learner with X_val and y_val to record them."
            )
        n_labeled = [entry["n_labeled"] for entry in history]
        return cls(n_labeled, scores, label=label).plot(ax=ax, **kwargs)

    @classmethod
    def from_estimator(cls, learner, *, label=None, ax=None, **kwargs):
        """Plot the ``history_`` of a fitted :class:`~skinfluence.InfluenceActiveLearner`.

        Parameters
        ----------
        learner : InfluenceActiveLearner
            Fitted with ``y_oracle`` and ``X_val, y_val``.
        label : str, default=None
            Legend entry; ``None`` uses the learner's ``method``.
        ax : matplotlib Axes, default=None
            Axes to draw on.
        **kwargs : dict
            Passed to ``ax.plot``.

        Returns
        -------
        display : ActiveLearningDisplay
            The drawn display.
        """
        check_is_fitted(learner, "history_")
        label = learner.method if label is None else label
        return cls.from_history(learner.history_, label=label, ax=ax, **kwargs)

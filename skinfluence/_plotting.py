"""Displays (scikit-learn's ``*Display`` style); matplotlib is imported lazily."""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted

__all__ = [
    "ActiveLearningDisplay",
    "InfluenceScatterDisplay",
    "TrimmingCurveDisplay",
    "ValuationCurveDisplay",
]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("plotting needs matplotlib: pip install 'skinfluence[plot]'") from exc
    return plt


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
        plt = _pyplot()
        if ax is None:
            _, ax = plt.subplots()
        label = label if label is not None else self.label
        kwargs.setdefault("marker", "o")
        (self.line_,) = ax.plot(self.n_labeled, self.scores, label=label, **kwargs)
        ax.set_xlabel("labeled rows")
        ax.set_ylabel("score")
        if label is not None:
            ax.legend(loc="lower right")
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


# -- shared helpers ------------------------------------------------------------------
def _check_selector(estimator, attribute: str):
    """The fitted row selector of ``estimator`` (itself or a pipeline's last step)."""
    from sklearn.pipeline import Pipeline

    selector = estimator[-1] if isinstance(estimator, Pipeline) else estimator
    if not hasattr(selector, "_inner"):
        raise TypeError(
            f"expected a fitted InfluenceTrimmer or ShapleyValuator (or a Pipeline ending "
            f"in one), got {type(selector).__name__}."
        )
    check_is_fitted(selector, "scores_")
    if not hasattr(selector, attribute):
        raise TypeError(
            f"{type(selector).__name__} has no {attribute}; pass a fitted ShapleyValuator, "
            "or use ValuationCurveDisplay.from_values with any per-row values "
            "(e.g. -trimmer.scores_)."
        )
    return selector


def _scorer(scoring):
    from sklearn.metrics import check_scoring

    return lambda estimator: check_scoring(estimator, scoring=scoring)


def _refit_score(estimator, X, y, keep, X_test, y_test, scoring) -> float:
    """Score on ``(X_test, y_test)`` of a clone of ``estimator`` fitted on rows ``keep``."""
    from sklearn.base import clone
    from sklearn.utils import _safe_indexing

    model = clone(estimator).fit(_safe_indexing(X, keep), _safe_indexing(y, keep))
    return float(_scorer(scoring)(model)(model, X_test, y_test))


def _budget_label(budgets) -> str:
    return (
        "rows removed"
        if all(isinstance(b, (int, np.integer)) for b in budgets)
        else "budget (share of the scored rows removed)"
    )


# -- trimming curve ------------------------------------------------------------------
def _trimmer_param_prefix(estimator) -> str:
    """``""`` for a trimmer, ``"<step>__"`` for a pipeline ending in one."""
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, Pipeline):
        name, last = estimator.steps[-1]
        prefix = f"{name}__"
    else:
        last, prefix = estimator, ""
    params = last.get_params(deep=False) if hasattr(last, "get_params") else {}
    if not {"method", "budget", "random_state"} <= set(params):
        raise TypeError(
            "TrimmingCurveDisplay needs an InfluenceTrimmer or a Pipeline ending in one, "
            f"got {type(last).__name__}."
        )
    return prefix


def _fit_trimmer_score(estimator, params, X, y, X_test, y_test, scoring) -> float:
    from sklearn.base import clone

    model = clone(estimator).set_params(**params).fit(X, y)
    return float(_scorer(scoring)(model)(model, X_test, y_test))


class TrimmingCurveDisplay:
    """Test score against trimming budget, one curve per method, random baseline band.

    Build it with :meth:`from_estimator`, which refits clones of an
    :class:`~skinfluence.InfluenceTrimmer` (or a pipeline ending in one) over a grid
    of budgets; or pass scores you measured yourself.

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
        plt = _pyplot()
        if ax is None:
            _, ax = plt.subplots()
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
        ax.legend(loc="best")
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

        For every method and budget a clone of ``estimator`` is fitted on
        ``(X, y)`` with that ``method`` and ``budget`` and scored on
        ``(X_test, y_test)``. Every method uses the same ``random_state`` (so the
        same validation split); ``"random"`` is repeated ``n_repeats`` times with
        different seeds (which also change the validation split) and drawn as a band.

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
        from joblib import Parallel, delayed

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
        name = "test score" if scoring is None else f"test {scoring}"
        return cls(budgets, scores, score_name=name).plot(ax=ax, **kwargs)


# -- influence scatter (2-D data) ----------------------------------------------------
class InfluenceScatterDisplay:
    """2-D training rows sized and coloured by score, removed rows marked, boundaries.

    The picture of seed 000's Figure 1: each training row is a point whose size and
    colour grow with its score (higher = trimmed first) and whose marker is its class;
    removed rows are ringed; decision boundaries of the model before trimming, after
    it, and of any other fitted models are drawn as contours of their predictions.

    Parameters
    ----------
    X : array-like of shape (n_samples, 2)
        The training rows.
    y : array-like of shape (n_samples,)
        Their targets.
    scores : array-like of shape (n_samples,)
        Score of each row (``nan`` where not scored, e.g. validation rows).
    removed : array-like of int
        Indices of the removed rows.
    grid : tuple of two ndarrays, default=None
        ``(xx0, xx1)`` meshgrid of the boundary responses.
    boundaries : dict of str to ndarray, default=None
        Label of each model → its predicted class index on ``grid``.
    score_name : str, default="score"
        Label of the colour bar.

    Attributes
    ----------
    scatter_ : dict of object to matplotlib PathCollection
        The points of each class.
    removed_ : matplotlib PathCollection
        Rings around the removed rows.
    contours_ : dict of str to matplotlib ContourSet
        The boundary of each model.
    colorbar_ : matplotlib Colorbar
        Colour scale of the scores.
    ax_ : matplotlib Axes
        Axes with the plot.
    figure_ : matplotlib Figure
        Figure containing the plot.

    See Also
    --------
    TrimmingCurveDisplay : Test score against budget.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import make_classification
    >>> from skinfluence import InfluenceScatterDisplay, InfluenceTrimmer
    >>> X, y = make_classification(n_features=2, n_redundant=0, random_state=0)
    >>> trimmer = InfluenceTrimmer(budget=5, random_state=0).fit(X, y)
    >>> display = InfluenceScatterDisplay.from_estimator(trimmer, X, y)
    >>> sorted(display.contours_)
    ['after', 'before']
    """

    _BOUNDARY_COLORS = ("tab:green", "tab:red", "tab:blue", "tab:purple", "tab:orange")

    def __init__(self, X, y, scores, removed, *, grid=None, boundaries=None, score_name="score"):
        self.X = _check_2d(X)
        self.y = np.asarray(y)
        self.scores = np.asarray(scores, dtype=float)
        if not (len(self.y) == len(self.scores) == self.X.shape[0]):
            raise ValueError(
                f"X, y and scores must have one entry per row, got {self.X.shape[0]}, "
                f"{len(self.y)} and {len(self.scores)}."
            )
        self.removed = np.asarray(removed, dtype=int)
        self.grid = grid
        self.boundaries = dict(boundaries or {})
        self.score_name = score_name

    def plot(self, ax=None, *, scale="rank", cmap="viridis", max_size=120.0):
        """Draw the points, the removed rings and the boundaries.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when ``None``.
        scale : {"rank", "linear"}, default="rank"
            What sizes and colours the points: the score's percentile among the
            scored rows (robust to the heavy tails influence scores have) or the
            score itself.
        cmap : str or matplotlib Colormap, default="viridis"
            Colour map.
        max_size : float, default=120.0
            Marker area of the highest-scored row; the lowest gets a tenth of it.

        Returns
        -------
        display : InfluenceScatterDisplay
            This display, with the artists, ``ax_`` and ``figure_`` set.
        """
        from scipy.stats import rankdata

        plt = _pyplot()
        if scale not in ("rank", "linear"):
            raise ValueError(f'scale must be "rank" or "linear", got {scale!r}.')
        if ax is None:
            _, ax = plt.subplots()
        finite = np.isfinite(self.scores)
        shown = np.full(len(self.scores), np.nan)
        if scale == "rank" and finite.any():
            shown[finite] = 100.0 * (rankdata(self.scores[finite]) - 1) / max(finite.sum() - 1, 1)
            label = f"{self.score_name} (percentile)"
        else:
            shown[finite] = self.scores[finite]
            label = self.score_name
        if finite.any():
            lo, hi = np.min(shown[finite]), np.max(shown[finite])
        else:
            lo, hi = 0.0, 1.0
        span = hi - lo if hi > lo else 1.0
        rel = np.where(finite, (np.nan_to_num(shown, nan=lo) - lo) / span, 0.0)
        sizes = max_size * (0.1 + 0.9 * rel)
        markers = "osD^vP*X"
        self.scatter_ = {}
        norm = plt.Normalize(lo, hi)
        for k, cls in enumerate(np.unique(self.y)):
            rows = self.y == cls
            scored, unscored = rows & finite, rows & ~finite
            self.scatter_[cls] = ax.scatter(
                self.X[scored, 0],
                self.X[scored, 1],
                c=shown[scored],
                s=sizes[scored],
                cmap=cmap,
                norm=norm,
                marker=markers[k % len(markers)],
                edgecolors="none",
                label=f"class {cls}",
            )
            if unscored.any():
                ax.scatter(
                    self.X[unscored, 0],
                    self.X[unscored, 1],
                    s=max_size * 0.1,
                    marker=markers[k % len(markers)],
                    facecolors="none",
                    edgecolors="0.6",
                )
        self.removed_ = ax.scatter(
            self.X[self.removed, 0],
            self.X[self.removed, 1],
            s=max_size * 2.0,
            facecolors="none",
            edgecolors="red",
            linewidths=1.5,
            label=f"removed ({len(self.removed)})",
        )
        self.colorbar_ = ax.figure.colorbar(
            plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=label
        )
        self.contours_ = {}
        handles = []
        for k, (name, response) in enumerate(self.boundaries.items()):
            color = self._BOUNDARY_COLORS[k % len(self._BOUNDARY_COLORS)]
            n_levels = int(np.nanmax(response)) if response.size else 0
            levels = np.arange(n_levels) + 0.5 if n_levels >= 1 else [0.5]
            self.contours_[name] = ax.contour(
                self.grid[0], self.grid[1], response, levels=levels, colors=[color]
            )
            handles.append(plt.Line2D([], [], color=color, label=f"boundary {name}"))
        ax.legend(handles=[*self.scatter_.values(), self.removed_, *handles], loc="best")
        ax.set_xlabel("feature 0")
        ax.set_ylabel("feature 1")
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @classmethod
    def from_estimator(
        cls, estimator, X, y, *, others=None, grid_resolution=200, ax=None, **kwargs
    ):
        """Plot a fitted trimmer's scores and removals on its 2-D training rows.

        Parameters
        ----------
        estimator : InfluenceTrimmer, ShapleyValuator or Pipeline
            Fitted on ``(X, y)``; a pipeline must end in the row selector (its
            earlier steps are applied to the boundary grid). Boundaries drawn:
            ``"before"`` — a clone of the inner estimator (pipeline) fitted on every
            row; ``"after"`` — the fitted estimator itself (refit on the kept rows).
        X : array-like of shape (n_samples, 2)
            The training rows the estimator was fitted on; exactly 2 columns.
        y : array-like of shape (n_samples,)
            Their targets.
        others : dict of str to estimator, default=None
            More fitted models to draw the boundary of, e.g. ``{"IV": iv_trimmer}``.
        grid_resolution : int, default=200
            Grid points per axis for the boundaries.
        ax : matplotlib Axes, default=None
            Axes to draw on.
        **kwargs : dict
            Passed to :meth:`plot`.

        Returns
        -------
        display : InfluenceScatterDisplay
            The drawn display. ``scores`` are the selector's ``scores_``
            (``-values_`` for a valuator: higher = dropped first).
        """
        from sklearn.base import clone
        from sklearn.pipeline import Pipeline

        X2 = _check_2d(X)
        selector = _check_selector(estimator, "scores_")
        y = np.asarray(y)
        if len(selector.scores_) != X2.shape[0]:
            raise ValueError(
                f"the estimator was fitted on {len(selector.scores_)} rows, X has "
                f"{X2.shape[0]}; pass the rows it was fitted on."
            )
        before = clone(estimator)
        if isinstance(before, Pipeline):
            name = before.steps[-1][0]
            before.steps[-1] = (name, clone(selector._inner()))
        else:
            before = clone(selector._inner())
        before.fit(X, y)
        models = {"before": before, "after": estimator, **(others or {})}
        pad = 0.05 * (X2.max(axis=0) - X2.min(axis=0) + 1e-12)
        axes = [
            np.linspace(X2[:, d].min() - pad[d], X2[:, d].max() + pad[d], grid_resolution)
            for d in range(2)
        ]
        xx0, xx1 = np.meshgrid(*axes)
        points = np.c_[xx0.ravel(), xx1.ravel()]
        if hasattr(X, "columns"):
            import pandas as pd

            points = pd.DataFrame(points, columns=X.columns)
        classes = np.unique(y)
        boundaries = {}
        for name, model in models.items():
            check_is_fitted(model)
            pred = np.asarray(model.predict(points))
            boundaries[name] = np.searchsorted(classes, pred).reshape(xx0.shape).astype(float)
        name = "score" if not hasattr(selector, "values_") else "-value"
        return cls(
            X2,
            y,
            selector.scores_,
            selector.trimmed_indices_,
            grid=(xx0, xx1),
            boundaries=boundaries,
            score_name=name,
        ).plot(ax=ax, **kwargs)


def _check_2d(X) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != 2:
        shape = X.shape if X.ndim != 2 else f"{X.shape[1]} columns"
        raise ValueError(
            f"InfluenceScatterDisplay needs 2-D data (exactly 2 feature columns), got "
            f"{shape}; fit on two features, or plot a 2-D projection fitted separately."
        )
    return X


# -- valuation / removal curve -------------------------------------------------------
class ValuationCurveDisplay:
    """Test score after removing training rows by value: high-value first vs low first.

    The removal experiment of OpenDataVal (and Ghorbani & Zou): remove a growing
    share of the valued rows in order of their value and refit. Good values make the
    score fall fast when the most valuable rows go first and hold up (or rise, when
    the data is noisy) when the least valuable go first.

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
        plt = _pyplot()
        if ax is None:
            _, ax = plt.subplots()
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
        ax.legend(loc="best")
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

        Rows with a ``nan`` value (e.g. a valuator's validation rows) are never
        removed and join every refit. At fraction ``f`` the
        ``floor(f · n_valued)`` highest- (or lowest-) valued rows are removed, ties
        broken by row order.

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
        from joblib import Parallel, delayed

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
            delayed(_safe_refit_score)(estimator, X, y, keep, X_test, y_test, scoring)
            for keep in keeps
        )
        results = np.asarray(results, dtype=float).reshape(2, len(fractions))
        name = "test score" if scoring is None else f"test {scoring}"
        return cls(fractions, results[0], results[1], score_name=name).plot(ax=ax, **kwargs)

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


def _num_rows(X) -> int:
    return X.shape[0] if hasattr(X, "shape") else len(X)


def _safe_refit_score(estimator, X, y, keep, X_test, y_test, scoring) -> float:
    import warnings

    try:
        return _refit_score(estimator, X, y, keep, X_test, y_test, scoring)
    except ValueError as exc:
        warnings.warn(
            f"refit on {len(keep)} rows failed ({exc}); its score is nan.",
            RuntimeWarning,
            stacklevel=2,
        )
        return float("nan")

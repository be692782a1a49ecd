"""``InfluenceScatterDisplay``: 2-D training rows by score, removals, boundaries."""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._base import _check_selector, _legend_below, _pyplot, harm_scores

__all__ = ["InfluenceScatterDisplay"]


class InfluenceScatterDisplay:
    """2-D training rows sized and coloured by score, removed rows marked, boundaries.

    The picture of seed 000's Figure 1: each training row is a point whose size and
    colour grow with its score (higher = trimmed first) and whose marker is its class;
    removed rows are ringed; decision boundaries of the model before trimming, after
    it, and of any other fitted models are drawn as contours of their predictions.
    Build it with :meth:`from_estimator` (a fitted trimmer or valuator) or
    :meth:`from_scores` (any per-row scores, e.g. :func:`~skinfluence.influence_scores`);
    both draw rows of more than 2 columns on a 2-D ``projection``.

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
    feature_names : sequence of two str, default=None
        Labels of the x and y axes; ``None``: ``"feature 0"`` and ``"feature 1"``.
        :meth:`from_estimator` and :meth:`from_scores` pass a DataFrame's column
        names, or the projection's component names.

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
    legend_ : matplotlib Legend
        Classes, removed rows and boundaries, below the axes (outside the data).
    projection_ : transformer or None
        :meth:`from_estimator` or :meth:`from_scores` with ``projection``: the
        fitted projection that gave the 2-D coordinates ``X``.
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

    def __init__(
        self,
        X,
        y,
        scores,
        removed,
        *,
        grid=None,
        boundaries=None,
        score_name="score",
        feature_names=None,
    ):
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
        if feature_names is None:
            feature_names = ("feature 0", "feature 1")
        feature_names = [str(name) for name in feature_names]
        if len(feature_names) != 2:
            raise ValueError(f"feature_names must name 2 axes, got {len(feature_names)}.")
        self.feature_names = feature_names
        self.projection_ = None

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
            _, ax = plt.subplots(layout="constrained")
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
        ax.set_xlabel(self.feature_names[0])
        ax.set_ylabel(self.feature_names[1])
        classes = [
            plt.Line2D(
                [],
                [],
                marker=markers[k % len(markers)],
                linestyle="",
                color="0.35",
                label=f"class {c}",
            )
            for k, c in enumerate(self.scatter_)
        ]
        self.legend_ = _legend_below(ax, [*classes, self.removed_, *handles], ncols=3)
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        y,
        *,
        projection=None,
        others=None,
        grid_resolution=200,
        ax=None,
        **kwargs,
    ):
        """Plot a fitted trimmer's scores and removals on its training rows.

        Parameters
        ----------
        estimator : InfluenceTrimmer, ShapleyValuator or Pipeline
            Fitted on ``(X, y)``; a pipeline must end in the row selector (its
            earlier steps are applied to the boundary grid). Boundaries drawn:
            ``"before"`` — a clone of the inner estimator (pipeline) fitted on every
            row; ``"after"`` — the fitted estimator itself (refit on the kept rows).
        X : array-like of shape (n_samples, n_features)
            The training rows the estimator was fitted on: exactly 2 columns, or any
            number with ``projection``. A DataFrame's column names label the axes.
        y : array-like of shape (n_samples,)
            Their targets.
        projection : None, "pca" or transformer, default=None
            How rows of more than 2 columns are drawn. ``None``: ``X`` must have 2
            columns, drawn as they are. ``"pca"``: the first two principal
            components of the standardised columns
            (``make_pipeline(StandardScaler(), PCA(2))``), axes labelled with the
            share of the variance each explains. A transformer with
            ``fit_transform`` to 2 columns (cloned, fitted on ``X``): e.g. a
            ``PCA``, ``TruncatedSVD`` or a pipeline ending in one. The boundaries
            are the models' predictions on the projection's plane (the grid mapped
            back with ``inverse_transform``: a slice through the data, not the
            whole boundary); a projection without ``inverse_transform`` (t-SNE,
            a ``ColumnTransformer``) draws no boundaries.
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
            (``-values_`` for a valuator: higher = dropped first); ``X`` the 2-D
            coordinates drawn; ``projection_`` the fitted projection (or ``None``).
        """
        from sklearn.base import clone
        from sklearn.pipeline import Pipeline

        fitted_projection, X2, names = _coordinates(X, projection)
        selector = _check_selector(estimator, "trimmed_indices_")
        scores = harm_scores(selector)
        y = np.asarray(y)
        if len(scores) != X2.shape[0]:
            raise ValueError(
                f"the estimator was fitted on {len(scores)} rows, X has "
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
        grid, boundaries = _boundaries(models, X, y, X2, fitted_projection, grid_resolution)
        display = cls(
            X2,
            y,
            scores,
            selector.trimmed_indices_,
            grid=grid,
            boundaries=boundaries,
            score_name="score" if not hasattr(selector, "values_") else "-value",
            feature_names=names,
        )
        display.projection_ = fitted_projection
        return display.plot(ax=ax, **kwargs)

    @classmethod
    def from_scores(
        cls,
        X,
        y,
        scores,
        *,
        removed=None,
        projection=None,
        estimators=None,
        score_name="score",
        grid_resolution=200,
        ax=None,
        **kwargs,
    ):
        """Plot any per-row scores on the rows they score, e.g. ``influence_scores``'.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The scored rows: exactly 2 columns, or any number with ``projection``.
            A DataFrame's column names label the axes.
        y : array-like of shape (n_samples,)
            Their targets.
        scores : array-like of shape (n_samples,)
            Score of each row, higher = more harmful (the orientation of
            :func:`~skinfluence.influence_scores` and ``scores_``); ``nan`` where not
            scored.
        removed : array-like of int, default=None
            Indices of the rows to ring as removed, e.g. ``np.argsort(-scores)[:10]``;
            ``None``: none.
        projection : None, "pca" or transformer, default=None
            How rows of more than 2 columns are drawn, as in :meth:`from_estimator`:
            ``"pca"`` is ``make_pipeline(StandardScaler(), PCA(2))`` fitted on ``X``;
            a transformer to 2 columns is cloned and fitted on ``X``.
        estimators : dict of str to estimator, default=None
            Fitted models (on ``X``'s columns) whose decision boundaries to draw,
            e.g. ``{"model": fitted_model}``; on a projection's plane through its
            ``inverse_transform``, as in :meth:`from_estimator`.
        score_name : str, default="score"
            Label of the colour bar.
        grid_resolution : int, default=200
            Grid points per axis for the boundaries.
        ax : matplotlib Axes, default=None
            Axes to draw on.
        **kwargs : dict
            Passed to :meth:`plot`.

        Returns
        -------
        display : InfluenceScatterDisplay
            The drawn display: ``X`` the 2-D coordinates drawn, ``projection_`` the
            fitted projection (or ``None``).

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sklearn.datasets import make_classification
        >>> from sklearn.linear_model import LogisticRegression
        >>> from skinfluence import InfluenceScatterDisplay, influence_scores
        >>> X, y = make_classification(n_features=5, random_state=0)
        >>> model = LogisticRegression().fit(X, y)
        >>> scores = influence_scores(model, X, y, method="self")
        >>> display = InfluenceScatterDisplay.from_scores(
        ...     X, y, scores, projection="pca", estimators={"model": model}
        ... )
        >>> display.X.shape, sorted(display.contours_)
        ((100, 2), ['model'])
        """
        fitted_projection, X2, names = _coordinates(X, projection)
        y = np.asarray(y)
        scores = np.asarray(scores, dtype=float)
        if not (len(y) == len(scores) == X2.shape[0]):
            raise ValueError(
                f"X, y and scores must have one entry per row, got {X2.shape[0]}, "
                f"{len(y)} and {len(scores)}."
            )
        removed = np.asarray([] if removed is None else removed, dtype=int)
        grid, boundaries = (None, {})
        if estimators:
            grid, boundaries = _boundaries(
                dict(estimators), X, y, X2, fitted_projection, grid_resolution
            )
        display = cls(
            X2,
            y,
            scores,
            removed,
            grid=grid,
            boundaries=boundaries,
            score_name=score_name,
            feature_names=names,
        )
        display.projection_ = fitted_projection
        return display.plot(ax=ax, **kwargs)


def _coordinates(X, projection):
    """The fitted projection (or ``None``), the 2-D rows and the axis labels of ``X``."""
    if projection is None:
        columns = list(X.columns) if hasattr(X, "columns") else None
        return None, _check_2d(X, hint=True), columns or ["feature 0", "feature 1"]
    return _project(projection, X)


def _boundaries(models, X, y, X2, projection, grid_resolution):
    """The grid over the drawn rows ``X2`` and each fitted model's class index on it.

    On a projection's plane the grid is mapped back to ``X``'s columns with its
    ``inverse_transform``; a projection without one gives no boundaries.
    """
    pad = 0.05 * (X2.max(axis=0) - X2.min(axis=0) + 1e-12)
    axes = [
        np.linspace(X2[:, d].min() - pad[d], X2[:, d].max() + pad[d], grid_resolution)
        for d in range(2)
    ]
    xx0, xx1 = np.meshgrid(*axes)
    points = np.c_[xx0.ravel(), xx1.ravel()]
    if projection is not None:
        if not hasattr(projection, "inverse_transform"):
            return (xx0, xx1), {}
        points = projection.inverse_transform(points)
    if hasattr(X, "columns"):
        import pandas as pd

        points = pd.DataFrame(points, columns=X.columns)
    classes = np.unique(y)
    boundaries = {}
    for name, model in models.items():
        check_is_fitted(model)
        pred = np.asarray(model.predict(points))
        boundaries[name] = np.searchsorted(classes, pred).reshape(xx0.shape).astype(float)
    return (xx0, xx1), boundaries


def _project(projection, X):
    """The fitted projection, the 2-D rows and the axis labels."""
    from sklearn.base import clone
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if isinstance(projection, str):
        if projection != "pca":
            raise ValueError(
                f'projection must be None, "pca" or a transformer, got {projection!r}.'
            )
        model = make_pipeline(StandardScaler(), PCA(n_components=2, random_state=0))
    elif hasattr(projection, "fit_transform"):
        model = clone(projection)
    else:
        raise TypeError(
            f'projection must be None, "pca" or a transformer, got {type(projection).__name__}.'
        )
    try:
        X2 = np.asarray(model.fit_transform(X), dtype=float)
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"the projection could not be fitted on X ({exc}); projection='pca' needs "
            "numeric columns: pass a transformer that encodes the others first."
        ) from exc
    if X2.ndim != 2 or X2.shape[1] != 2:
        raise ValueError(f"the projection must give 2 columns, it gave {X2.shape}.")
    last = model[-1] if hasattr(model, "steps") else model
    ratio = getattr(last, "explained_variance_ratio_", None)
    if ratio is not None and len(ratio) == 2:
        names = [f"PC {k + 1} ({100 * r:.0f} % of the variance)" for k, r in enumerate(ratio)]
    else:
        try:
            names = [str(n) for n in model.get_feature_names_out()]
        except (AttributeError, ValueError, TypeError):
            names = ["component 1", "component 2"]
    return model, X2, names


def _check_2d(X, hint: bool = False) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != 2:
        shape = X.shape if X.ndim != 2 else f"{X.shape[1]} columns"
        how = (
            'pass projection="pca" (or a 2-D transformer) to draw more columns'
            if hint
            else "pass the 2-D coordinates of the rows"
        )
        raise ValueError(
            f"InfluenceScatterDisplay needs 2-D data (exactly 2 feature columns), got "
            f"{shape}; {how}."
        )
    return X

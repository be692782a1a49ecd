"""What the Displays share: the lazy matplotlib import, the new axes, the legend below the
axes, and the row-selector check."""

from __future__ import annotations

from sklearn.utils.validation import check_is_fitted


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("plotting needs matplotlib: pip install 'skinfluence[plot]'") from exc
    return plt


def _new_axes():
    """A new figure's axes, laid out so that a legend outside the axes fits."""
    _, ax = _pyplot().subplots(layout="constrained")
    return ax


def _legend_below(ax, handles=None, *, ncols=None):
    """The legend of ``ax`` under its x label, outside the data.

    The legend is anchored a fixed distance (in points) below the axes, clear of the
    tick labels and the x label; ``constrained`` and ``tight`` layouts and
    ``savefig(bbox_inches="tight")`` make room for it.
    """
    from matplotlib import rcParams
    from matplotlib.font_manager import FontProperties
    from matplotlib.transforms import offset_copy

    if handles is None:
        handles, _ = ax.get_legend_handles_labels()
    size = FontProperties(size=rcParams["xtick.labelsize"]).get_size_in_points()
    label = FontProperties(size=rcParams["axes.labelsize"]).get_size_in_points()
    below = size + label + rcParams["xtick.major.size"] + rcParams["xtick.major.pad"] + 12
    anchor = offset_copy(ax.transAxes, fig=ax.figure, y=-below, units="points")
    return ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        bbox_transform=anchor,
        ncols=ncols or max(1, min(len(handles), 4)),
        frameon=False,
        borderaxespad=0.0,
    )


def _check_selector(estimator, attribute: str):
    """The fitted row selector of ``estimator`` (itself or a pipeline's last step)."""
    from sklearn.pipeline import Pipeline

    selector = estimator[-1] if isinstance(estimator, Pipeline) else estimator
    if not hasattr(selector, "_inner"):
        raise TypeError(
            f"expected a fitted InfluenceTrimmer or ShapleyValuator (or a Pipeline ending "
            f"in one), got {type(selector).__name__}."
        )
    check_is_fitted(selector, "trimmed_indices_")
    if not hasattr(selector, attribute):
        raise TypeError(
            f"{type(selector).__name__} has no {attribute}; pass a fitted ShapleyValuator, "
            "or use ValuationCurveDisplay.from_values with any per-row values "
            "(e.g. -trimmer.scores_)."
        )
    return selector


def harm_scores(selector):
    """One number per row, highest = dropped first: a trimmer's ``scores_``, a
    valuator's ``-values_``."""
    return -selector.values_ if hasattr(selector, "values_") else selector.scores_

"""What the Displays share: the lazy matplotlib import and the row-selector check."""

from __future__ import annotations

from sklearn.utils.validation import check_is_fitted


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("plotting needs matplotlib: pip install 'skinfluence[plot]'") from exc
    return plt


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

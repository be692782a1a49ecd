"""Displays in scikit-learn's ``*Display`` style; matplotlib is imported lazily.

One module per Display. The experiments they draw (refits over a grid) are the
functions :func:`~skinfluence.trimming_curve` and :func:`~skinfluence.valuation_curve`;
the Displays' ``from_estimator`` / ``from_values`` call them and draw the result.
"""

from ._active_learning import ActiveLearningDisplay
from ._scatter import InfluenceScatterDisplay
from ._trimming_curve import TrimmingCurveDisplay
from ._valuation_curve import ValuationCurveDisplay

__all__ = [
    "ActiveLearningDisplay",
    "InfluenceScatterDisplay",
    "TrimmingCurveDisplay",
    "ValuationCurveDisplay",
]

"""skinfluence: which training rows help or hurt a scikit-learn model, and acting on it."""

from importlib.metadata import PackageNotFoundError, version

from ._active_learner import InfluenceActiveLearner
from ._curves import trimming_curve, valuation_curve
from ._scores import influence_scores
from ._shapley import ShapleyValuator
from ._trimmer import InfluenceTrimmer
from .exceptions import InfluenceReliabilityWarning, SingularHessianWarning, UnsupportedModelError
from .plotting import (
    ActiveLearningDisplay,
    InfluenceScatterDisplay,
    TrimmingCurveDisplay,
    ValuationCurveDisplay,
)

try:
    __version__ = version("skinfluence")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "ActiveLearningDisplay",
    "InfluenceActiveLearner",
    "InfluenceReliabilityWarning",
    "InfluenceScatterDisplay",
    "InfluenceTrimmer",
    "ShapleyValuator",
    "SingularHessianWarning",
    "TrimmingCurveDisplay",
    "UnsupportedModelError",
    "ValuationCurveDisplay",
    "__version__",
    "influence_scores",
    "trimming_curve",
    "valuation_curve",
]

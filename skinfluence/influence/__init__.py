"""Influence measures (the math layer): functions of adapter quantities.

Each measure takes ``(adapter, solver, X, y_enc, X_val, y_val_enc, **options)`` and
returns one score per training row, oriented so that the highest score is trimmed
first. Module docstrings state the formula, source, sign convention and cost.
"""

from ._fi import FI_SCALINGS, fi_scale, fi_scores, metric_root, perturbation_root
from ._if import if_scores

__all__ = [
    "FI_SCALINGS",
    "MEASURES",
    "fi_scale",
    "fi_scores",
    "if_scores",
    "metric_root",
    "perturbation_root",
]

MEASURES = {"fi": fi_scores, "if": if_scores}

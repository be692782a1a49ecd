"""Influence measures (the math layer): functions of adapter quantities.

Each measure takes ``(adapter, solver, X, y_enc, X_val, y_val_enc, *, **options)``
and returns one score per training row, oriented so that the highest score is
trimmed first. Module docstrings state the formula, source, sign convention and cost.

Keyword options are passed by name when the measure's signature has them:
``scaling``, ``objective`` (a :class:`BaseObjective`; ``None`` = mean validation
loss), ``random_state``, ``estimator`` (the fitted model itself) and any
method-specific option the estimators forward. A measure that never inverts the
Hessian sets the function attribute ``hessian_free = True`` and gets
``solver=None``; one that builds its own curvature from the solver's settings sets
``fits_own_solver = True`` and gets the solver unfitted. Register a measure in
:data:`MEASURES` to make it a ``method=``.
"""

from ._datainf import datainf_scores
from ._fi import FI_SCALINGS, fi_scale, fi_scores, metric_root, perturbation_root
from ._gif import GIF_SELECTIONS, gif_scores, select_parameters
from ._if import if_scores
from ._ip import ip_ensemble_scores, ip_scores
from ._objectives import OBJECTIVES, BaseObjective, make_objective
from ._representer import representer_scores
from ._self import self_scores
from ._tracin import self_tracin_scores, tracin_scores

__all__ = [
    "FI_SCALINGS",
    "GIF_SELECTIONS",
    "gif_scores",
    "select_parameters",
    "MEASURES",
    "OBJECTIVES",
    "BaseObjective",
    "fi_scale",
    "fi_scores",
    "if_scores",
    "datainf_scores",
    "ip_ensemble_scores",
    "ip_scores",
    "representer_scores",
    "self_scores",
    "self_tracin_scores",
    "tracin_scores",
    "make_objective",
    "metric_root",
    "perturbation_root",
]

MEASURES = {
    "fi": fi_scores,
    "if": if_scores,
    "gif": gif_scores,
    "ip": ip_scores,
    "ip_ensemble": ip_ensemble_scores,
    "self": self_scores,
    "tracin": tracin_scores,
    "self_tracin": self_tracin_scores,
    "datainf": datainf_scores,
    "representer": representer_scores,
}

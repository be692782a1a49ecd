"""Influence measures (the math layer): functions of adapter quantities.

Every ``method=`` is declared once in :data:`MEASURES` (a :class:`Measure`: its
function, the adapter capabilities it needs, its curvature, whether it scores
against a validation objective, its options); :func:`compute_scores` is the one
dispatch from a fitted model to scores and :func:`query_scores` its twin for the
active learner's pool rows (:data:`QUERY_METHODS`). Module docstrings state each
measure's formula, source, sign convention and cost.
"""

from ._active import AGGREGATIONS, aggregate, fi_active_scores, fi_pairs, if_active_scores
from ._boostin import boostin_scores, boostin_self_scores
from ._dask import DASK_METHODS, dask_scores
from ._datainf import datainf_scores
from ._dispatch import (
    QUERY_METHODS,
    compute_scores,
    estimate_label_issues,
    final_step,
    loo_probabilities,
    query_scores,
)
from ._fi import FI_SCALINGS, fi_scale, fi_scores, metric_root, perturbation_root
from ._forest import oob_proba, oob_scores
from ._gex import gex_models, gex_scores
from ._gif import GIF_SELECTIONS, gif_scores, select_parameters
from ._if import if_scores
from ._ip import ip_ensemble_scores, ip_scores
from ._leaf import (
    leaf_influence_scores,
    leaf_influence_sp_scores,
    leaf_loo_proba,
    leaf_loo_scores,
    leaf_refit_scores,
)
from ._loo import LABEL_SCORES, estimate_n_issues, label_quality, loo_confidence_scores, loo_outputs
from ._objectives import ATTACKS, OBJECTIVES, BaseObjective, make_objective
from ._oof import (
    check_model_agnostic,
    decision_proba,
    oof_confidence_scores,
    oof_predictions,
    out_of_sample_output,
)
from ._query import QUERY_STRATEGIES, bald_scores, entropy_scores, margin_scores
from ._registry import MEASURES, Measure, get_measure, random_scores, register_measure
from ._renormalized import gas_scores, relatif_scores, renormalized_if_scores
from ._representer import representer_scores
from ._self import self_scores
from ._source import segment_operator, source_scores
from ._tracin import self_tracin_scores, tracin_scores

__all__ = [
    "DASK_METHODS",
    "dask_scores",
    "AGGREGATIONS",
    "ATTACKS",
    "FI_SCALINGS",
    "GIF_SELECTIONS",
    "LABEL_SCORES",
    "MEASURES",
    "OBJECTIVES",
    "QUERY_METHODS",
    "QUERY_STRATEGIES",
    "BaseObjective",
    "Measure",
    "aggregate",
    "bald_scores",
    "check_model_agnostic",
    "boostin_scores",
    "boostin_self_scores",
    "compute_scores",
    "datainf_scores",
    "decision_proba",
    "entropy_scores",
    "estimate_label_issues",
    "estimate_n_issues",
    "fi_active_scores",
    "fi_pairs",
    "fi_scale",
    "fi_scores",
    "final_step",
    "gas_scores",
    "gex_models",
    "gex_scores",
    "get_measure",
    "gif_scores",
    "if_active_scores",
    "if_scores",
    "ip_ensemble_scores",
    "ip_scores",
    "label_quality",
    "leaf_influence_scores",
    "leaf_influence_sp_scores",
    "leaf_loo_proba",
    "leaf_loo_scores",
    "leaf_refit_scores",
    "loo_confidence_scores",
    "loo_outputs",
    "loo_probabilities",
    "make_objective",
    "margin_scores",
    "metric_root",
    "oof_confidence_scores",
    "oof_predictions",
    "out_of_sample_output",
    "oob_proba",
    "oob_scores",
    "perturbation_root",
    "query_scores",
    "random_scores",
    "register_measure",
    "relatif_scores",
    "renormalized_if_scores",
    "representer_scores",
    "select_parameters",
    "self_scores",
    "segment_operator",
    "self_tracin_scores",
    "source_scores",
    "tracin_scores",
]

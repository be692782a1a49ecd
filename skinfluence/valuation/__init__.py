"""Data valuation engine (the Shapley family): utilities, samplers, stopping rules.

Pure numpy/scipy/joblib plus scikit-learn's ``fit``/``score``; it never imports torch
and sits beside :mod:`skinfluence.influence`, below the estimators; of skinfluence it may
import only :mod:`skinfluence.utils` (tests check both). :class:`skinfluence.ShapleyValuator`
is its estimator face.

* Utilities: :class:`ModelUtility` (fit a clone on a subset, score on validation rows),
  :class:`KNNUtility` (the k-NN utility of Jia et al.), or any callable
  ``u(sorted_indices) -> float``.
* Exact: :func:`exact_values` (enumeration, ``n ≤ EXACT_MAX_N``), :func:`loo_values`,
  :func:`knn_shapley` (closed form).
* Samplers: :class:`PermutationSampler` (truncated Monte Carlo Shapley),
  :class:`BetaSampler` (Beta(α, β) Shapley by weighted permutations), :class:`MSRSampler`
  (Banzhaf by maximum sample reuse); each draws a batch and makes the estimate of its
  draws (:class:`BaseSampler`).
* Sampled: :func:`sampled_values` — a sampler with the ``"stderr"`` or
  ``"gelman_rubin"`` stopping rule, ``max_iter`` and ``max_time``.
* Out-of-bag: :func:`data_oob_values` — Data-OOB (Kwon & Zou 2023), the mean
  out-of-bag score of each row's own target over bootstrap fits (or over the members
  of a bagging ensemble, read from one fit); no validation rows.
"""

from ._engine import (
    EXACT_MAX_N,
    ValuationResult,
    exact_values,
    loo_values,
    sampled_values,
)
from ._knn import KNNUtility, knn_shapley, sorted_neighbours
from ._oob import (
    DATA_OOB_N_ESTIMATORS,
    DataOOBResult,
    bootstrap_rows,
    data_oob_values,
    uses_own_bootstrap,
)
from ._samplers import (
    TRUNCATION_PATIENCE,
    BaseSampler,
    BetaSampler,
    MSRSampler,
    PermutationSampler,
)
from ._stopping import MIN_SAMPLES, N_CHAINS, GelmanRubinRule, StandardErrorRule, gelman_rubin
from ._utility import CACHE_MAX_ENTRIES, ModelUtility
from ._weights import SEMIVALUES, permutation_importance, semivalue_weights

__all__ = [
    "BaseSampler",
    "BetaSampler",
    "CACHE_MAX_ENTRIES",
    "DATA_OOB_N_ESTIMATORS",
    "DataOOBResult",
    "EXACT_MAX_N",
    "GelmanRubinRule",
    "KNNUtility",
    "MIN_SAMPLES",
    "MSRSampler",
    "ModelUtility",
    "N_CHAINS",
    "PermutationSampler",
    "SEMIVALUES",
    "StandardErrorRule",
    "TRUNCATION_PATIENCE",
    "ValuationResult",
    "bootstrap_rows",
    "data_oob_values",
    "exact_values",
    "gelman_rubin",
    "knn_shapley",
    "loo_values",
    "permutation_importance",
    "sampled_values",
    "semivalue_weights",
    "sorted_neighbours",
    "uses_own_bootstrap",
]

"""The estimator layer's methods: Data-OOB as a measure, and what ``method="auto"`` runs.

``data_oob`` is registered here because its engine lives in ``skinfluence.valuation``,
which the measures of ``skinfluence.influence`` may not import.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import is_classifier
from sklearn.pipeline import Pipeline

from .adapters import model_family, model_input
from .influence import Measure, check_model_agnostic, out_of_sample_output, register_measure
from .valuation import data_oob_values

__all__ = ["AUTO_METHOD", "AUTO_METHODS", "auto_method", "data_oob_scores"]


def data_oob_scores(
    estimator,
    X,
    y,
    X_val,
    y_val,
    *,
    n_estimators=None,
    n_jobs=None,
    random_state=None,
    sample_weight=None,
    cache=None,
) -> np.ndarray:
    """Minus the Data-OOB value of every row (``method="data_oob"``; higher = trim first).

    The measure of :func:`skinfluence.valuation.data_oob_values` (Kwon & Zou 2023): the
    mean out-of-bag correctness of the row's label (classifiers) or squared error
    (regressors) over bootstrap fits of the estimator, negated. Registered here, at
    the estimator layer, because its engine is in ``skinfluence.valuation``, which the
    measures of ``skinfluence.influence`` may not import. A row inside every bootstrap
    sample has no value (the engine warns); it gets the lowest score of the others,
    so it is trimmed last.

    Parameters
    ----------
    estimator : estimator object
        The unfitted classifier or regressor.
    X, y : training rows and their labels
    X_val, y_val : ignored (no validation set is used)
    n_estimators, n_jobs, random_state
        As in :func:`~skinfluence.valuation.data_oob_values` (``None``: 100 bootstrap
        fits, or a bagging ensemble's own members).
    sample_weight : ndarray of shape (n_samples,) or None, default=None
        Frequency weights: rows are drawn into the bootstrap samples in proportion.
    cache : dict or None, default=None
        When given, the out-of-bag vote shares of the classes are left in
        ``cache["proba"]`` (classifiers), for ``budget="auto"``.

    Returns
    -------
    ndarray of shape (n_samples,)
    """
    check_model_agnostic(estimator, "data_oob")
    result = data_oob_values(
        estimator,
        model_input(estimator, X),
        y,
        n_estimators=n_estimators,
        n_jobs=n_jobs,
        random_state=random_state,
        sample_weight=sample_weight,
    )
    scores = -np.asarray(result.values, dtype=np.float64)
    never = np.isnan(scores)
    if never.any():
        scores[never] = np.min(scores[~never]) if (~never).any() else 0.0
    if cache is not None and result.oob_proba is not None:
        cache["proba"] = result.oob_proba
    return scores


register_measure(
    Measure(
        "data_oob",
        data_oob_scores,
        (),
        "none",
        False,
        ("n_estimators", "n_jobs", "random_state", "cache"),
        inputs="estimator",
        weights="own",
    )
)

#: What ``method="auto"`` runs for each adapter family (``adapters.model_family``):
#: the best detector of mislabeled rows under the realistic protocol
#: (benchmarks/bench_label_issues.py, docs/label_issues.md).
AUTO_METHODS = {"linear": "loo_confidence", "torch": "loo_confidence", "trees": "leaf_loo"}
#: ``method="auto"`` for a model without an adapter family: the better model-agnostic
#: detector of the label-issue benchmark's ``--part agnostic`` (docs/model_agnostic.md).
AUTO_METHOD = "oof_confidence"


def auto_method(estimator) -> str:
    """The method ``method="auto"`` runs for ``estimator``.

    ``AUTO_METHODS`` for a model with an adapter (a pipeline's by its final model),
    else ``AUTO_METHOD``; a classifier with neither ``predict_proba`` nor
    ``decision_function`` gets ``"data_oob"`` (out-of-bag votes need only ``predict``).
    """
    # a pipeline is scored through its final model (influence.final_step)
    family = model_family(estimator[-1] if isinstance(estimator, Pipeline) else estimator)
    if family is not None:
        return AUTO_METHODS.get(family, AUTO_METHOD)
    if (
        AUTO_METHOD == "oof_confidence"
        and is_classifier(estimator)
        and out_of_sample_output(estimator) is None
    ):
        return "data_oob"
    return AUTO_METHOD

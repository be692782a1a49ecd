"""Adapters: the only code that knows model internals.

:func:`make_adapter` picks the adapter for a fitted estimator: closed forms for
scikit-learn linear models (:class:`LinearAdapter`), torch.func for skorch nets
(:class:`TorchAdapter`, imported lazily), leaves and per-stage derivatives for tree
ensembles (:class:`TreeAdapter`). Each adapter declares its capabilities;
:func:`require` names what a measure or solver needs and the adapter lacks.
"""

from __future__ import annotations

import numpy as np

from ..exceptions import UnsupportedModelError
from ._base import CAPABILITIES, BaseAdapter, check_row_weights, require
from ._linear import LINEAR_MODELS, LinearAdapter
from ._trees import TREE_MODELS, TreeAdapter, TreeLayout, is_tree_model, make_tree_adapter

__all__ = [
    "CAPABILITIES",
    "BaseAdapter",
    "LinearAdapter",
    "check_row_weights",
    "TREE_MODELS",
    "TreeAdapter",
    "TreeLayout",
    "is_torch_model",
    "is_tree_model",
    "make_adapter",
    "model_family",
    "model_input",
    "require",
]


def is_torch_model(estimator) -> bool:
    """Whether ``estimator`` is a skorch net (checked without importing skorch)."""
    return any(cls.__module__.startswith("skorch") for cls in type(estimator).__mro__)


def model_family(estimator) -> str | None:
    """Which adapter family ``estimator`` belongs to: ``"linear"``, ``"torch"``,
    ``"trees"`` or None.

    ``None``: no adapter (influence needs a model-agnostic method).
    """
    if type(estimator).__name__ in LINEAR_MODELS:
        return "linear"
    if is_torch_model(estimator):
        return "torch"
    if is_tree_model(estimator):
        return "trees"
    return None


def model_input(estimator, X):
    """``X`` as ``estimator`` takes it: float32 dense rows for skorch nets, else as is."""
    if not is_torch_model(estimator):
        return X
    import numpy as np

    return np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float32)


def make_adapter(estimator, X, y, *, sample_weight=None, params="all", gauss_newton: bool = False):
    """Return the adapter of a fitted ``estimator`` trained on ``(X, y)``.

    Parameters
    ----------
    estimator : fitted estimator
        A scikit-learn linear model (see ``LINEAR_MODELS``) or a skorch
        ``NeuralNetClassifier`` / ``NeuralNetBinaryClassifier`` /
        ``NeuralNetRegressor``, or a tree ensemble (see ``TREE_MODELS``: scikit-learn's
        HistGradientBoosting, GradientBoosting, RandomForest and ExtraTrees; LightGBM
        and XGBoost).
    X, y : the training rows the estimator was fitted on
    sample_weight : array-like of shape (n,), default=None
        The weights it was fitted with (linear models; skorch nets are fitted
        without sample weights, so weights for them raise ``UnsupportedModelError``).
    params : "all", "last" or list of str, default="all"
        Parameters influence is taken over (torch models only; linear models always
        use all their parameters).
    gauss_newton : bool, default=False
        Use the Gauss-Newton matrix instead of the Hessian (torch models only).
    """
    if type(estimator).__name__ in LINEAR_MODELS:
        return LinearAdapter(estimator, X, y, sample_weight=sample_weight)
    if is_torch_model(estimator):
        from ._torch import TorchAdapter

        if sample_weight is not None:
            raise UnsupportedModelError(
                f"{type(estimator).__name__}.fit takes no sample weights, so influence "
                "with sample_weight is refused for skorch nets; drop sample_weight or "
                "use a scikit-learn linear model."
            )
        return TorchAdapter(estimator, X, y, params=params, gauss_newton=gauss_newton)
    if is_tree_model(estimator):
        if sample_weight is not None and np.ptp(np.asarray(sample_weight, dtype=float)) > 0:
            raise UnsupportedModelError(
                f"influence of {type(estimator).__name__} fitted with sample weights is "
                "not supported (the leaf values are checked against unweighted sums); "
                "drop sample_weight, or use method='oof_confidence' or 'data_oob'."
            )
        return make_tree_adapter(estimator, X, y)
    raise UnsupportedModelError(
        f"{type(estimator).__name__} has no influence adapter. Supported: "
        f"{', '.join(LINEAR_MODELS)} from scikit-learn, and skorch NeuralNetClassifier, "
        "NeuralNetBinaryClassifier and NeuralNetRegressor, and the tree ensembles "
        f"{', '.join(TREE_MODELS)}. Inside a pipeline, wrap only "
        "the final estimator: make_pipeline(StandardScaler(), "
        "InfluenceTrimmer(LogisticRegression()))."
    )

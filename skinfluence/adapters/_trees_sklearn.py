"""scikit-learn tree ensembles for the tree adapter (:mod:`._trees`).

* ``HistGradientBoosting{Classifier,Regressor}`` — Newton boosting on binned features:
  stage ``t`` fits one tree per raw output to the gradients ``g`` and Hessians ``h``
  of the loss at ``F^{(t-1)}`` (``HalfBinomialLoss``: ``g = p - y``,
  ``h = p (1 - p)``; multiclass: one tree per class, ``h_k = p_k (1 - p_k)``;
  squared error ``h = 1``; Poisson / gamma with log link), leaf value
  ``learning_rate · (-G / (H + l2_regularization + 1e-15))`` (``splitting.pyx``,
  ``compute_node_value``; shrinkage applied after growing). A tree without any split
  predicts 0. Baseline: ``_baseline_prediction`` (the prior log-odds, the log of the
  class priors, the mean or the log of the mean). Leaves are read with the model's own
  ``TreePredictor`` on raw rows (categorical bitsets and missing values included).
  With early stopping on a ``validation_fraction`` of the training rows, the held-out
  rows are found again from the model's ``_random_seed`` and weigh 0 in every leaf.
  Unsupported: ``absolute_error`` / ``quantile`` losses (leaf values replaced by
  medians or quantiles), monotonic constraints (leaf values clipped), categorical
  columns that are not numbers (pandas strings: pass ordinal codes and
  ``categorical_features=[...]`` positions instead), ``class_weight``. Categorical
  splits on numeric codes are read through the model's own encoder and bitsets.
* ``GradientBoosting{Classifier,Regressor}`` — trees fitted to ``-g`` by
  ``friedman_mse``, leaves then set by one Newton step (``_gb.py``,
  ``_update_terminal_regions``): ``Σ (y - p) / Σ p (1 - p)`` for log-loss, times
  ``(K - 1)/K`` for multiclass, the mean residual for squared error; raw output
  ``+= learning_rate · value``; no L2 term (``_safe_divide``: 0 below ``1e-150``).
  Baseline: the ``init`` estimator's constant (``DummyClassifier`` prior log-odds /
  ``DummyRegressor`` mean) or 0 for ``init="zero"``. Unsupported: ``subsample < 1``
  (each stage's subsample is not kept), losses other than ``log_loss`` and
  ``squared_error`` (line searches by medians and quantiles, exponential loss), an
  ``init`` estimator (its own dependence on the rows is not traced), early stopping
  with a ``random_state`` that is not an int.
* ``RandomForest*`` / ``ExtraTrees*`` — leaf value = the bootstrap-count weighted class
  fractions (classifiers) or mean (regressors), forest output = the mean over trees;
  counts from ``estimators_samples_`` (all 1 without bootstrap). Unsupported:
  ``class_weight``, multi-output, ``criterion="absolute_error"`` (median leaves),
  models fitted with ``sample_weight``.
"""

from __future__ import annotations

import warnings
from numbers import Integral

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import check_is_fitted

from ..exceptions import UnsupportedModelError
from ._trees import (
    BinaryLogLoss,
    GammaLoss,
    MultinomialLoss,
    PoissonLoss,
    SquaredLoss,
    TreeOrder,
    TreeParts,
    encode_labels,
    tree_layout_kwargs,
)

__all__ = ["read_sklearn"]

_HGB_LOSSES = {
    "HalfBinomialLoss": lambda K: BinaryLogLoss(),
    "HalfMultinomialLoss": lambda K: MultinomialLoss(K),
    "HalfSquaredError": lambda K: SquaredLoss(),
    "HalfPoissonLoss": lambda K: PoissonLoss(),
    "HalfGammaLoss": lambda K: GammaLoss(),
}
_GB_LOSSES = ("HalfBinomialLoss", "HalfMultinomialLoss", "HalfSquaredError")


def _unsupported(model, setting: str, instead: str):
    raise UnsupportedModelError(
        f"{type(model).__name__} with {setting} has no tree influence adapter: {instead}"
    )


def _nonzero_constraints(cst) -> bool:
    if cst is None:
        return False
    values = cst.values() if isinstance(cst, dict) else np.ravel(cst)
    return any(v != 0 for v in values)


def _held_out(n, y, fraction, seed, stratify: bool) -> np.ndarray:
    """Row weights 1 / 0 of the early-stopping split ``train_test_split`` made in fit."""
    train, _ = train_test_split(
        np.arange(n), test_size=fraction, stratify=y if stratify else None, random_state=seed
    )
    w = np.zeros(n)
    w[train] = 1.0
    return w


def read_sklearn(model, X, y) -> TreeParts:
    """Read a fitted scikit-learn ensemble (module docstring)."""
    check_is_fitted(model)
    name = type(model).__name__
    if name.startswith("HistGradientBoosting"):
        return _read_hgb(model, X, y)
    if name.startswith("GradientBoosting"):
        return _read_gb(model, X, y)
    return _read_forest(model, X, y)


def _as_float32(X) -> np.ndarray:
    return np.ascontiguousarray(X, dtype=np.float32)


# -- HistGradientBoosting ------------------------------------------------------------------
def _read_hgb(model, X, y) -> TreeParts:
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
    from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

    preprocessor = getattr(model, "_preprocessor", None)
    if preprocessor is not None:
        try:  # the model's own ordinal encoding of its categorical columns
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                preprocessor.transform(np.asarray(X[:2], dtype=np.float64))
        except (ValueError, TypeError):
            _unsupported(
                model,
                "categorical columns that are not numbers",
                "encode them as numbers (OrdinalEncoder) and pass their positions as "
                "categorical_features=[...].",
            )
    if _nonzero_constraints(model.monotonic_cst):
        _unsupported(
            model,
            "monotonic_cst",
            "monotonic constraints clip leaf values; fit without them to score rows.",
        )
    if getattr(model, "class_weight", None) is not None:
        _unsupported(model, "class_weight", "fit without class weights to score rows.")
    loss_name = type(model._loss).__name__
    if loss_name not in _HGB_LOSSES:
        _unsupported(
            model,
            f"loss={model.loss!r}",
            "its leaf values are medians or quantiles, not Newton steps; use "
            "loss='squared_error' (or 'poisson' / 'gamma').",
        )
    classifier = hasattr(model, "classes_")
    classes = model.classes_ if classifier else None
    loss = _HGB_LOSSES[loss_name](len(classes) if classifier else 1)
    n = X.shape[0]
    weights = np.ones(n)
    hint = ""
    if model.do_early_stopping_ and model.validation_fraction is not None:
        y_enc = encode_labels(classes, y) if classifier else None
        weights = _held_out(n, y_enc, model.validation_fraction, model._random_seed, classifier)
        hint = (
            "Early stopping held out validation_fraction of the rows; if X_val was passed "
            "to fit, set validation_fraction=None."
        )
    known, f_idx_map = model._bin_mapper.make_known_categories_bitsets()
    n_threads = _openmp_effective_n_threads()
    orders, values, outputs, stages, refit, indexers = [], [], [], [], [], []
    offset = 0
    for t, predictors in enumerate(model._predictors):
        for k, predictor in enumerate(predictors):
            nodes = predictor.nodes
            is_leaf = nodes["is_leaf"].astype(bool)
            left = np.where(is_leaf, -1, nodes["left"].astype(np.int64))
            order = TreeOrder(left, nodes["right"].astype(np.int64))
            index_nodes = nodes.copy()
            index_nodes["value"] = np.where(is_leaf, order.position + offset, -1)
            indexers.append(
                TreePredictor(
                    index_nodes, predictor.binned_left_cat_bitsets, predictor.raw_left_cat_bitsets
                )
            )
            orders.append(order)
            values.append(nodes["value"][order.leaves])
            outputs.append(k)
            stages.append(t)
            refit.append(len(nodes) > 1)
            offset += len(order.leaves)

    def encoded(Xd):
        if preprocessor is None:
            return Xd
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return np.ascontiguousarray(preprocessor.transform(Xd), dtype=np.float64)

    def leaf_fn(Xd):
        Xd = encoded(Xd)
        out = np.empty((Xd.shape[0], len(indexers)), dtype=np.int64)
        for s, tp in enumerate(indexers):
            out[:, s] = tp.predict(Xd, known, f_idx_map, n_threads).astype(np.int64)
        return out

    def raw_fn(Xd):
        Xd = encoded(Xd)
        raw = np.zeros((Xd.shape[0], loss.n_raw)) + model._baseline_prediction.reshape(1, -1)
        for predictors in model._predictors:
            for k, predictor in enumerate(predictors):
                raw[:, k] += predictor.predict(Xd, known, f_idx_map, n_threads)
        return raw

    return TreeParts(
        kind="boosting",
        layout_kwargs=tree_layout_kwargs(orders, values, outputs, stages, refit),
        leaf_fn=leaf_fn,
        raw_fn=raw_fn,
        weights=weights,
        loss=loss,
        baseline=model._baseline_prediction.ravel(),
        leaf_coefficients=(float(model.learning_rate), float(model.l2_regularization) + 1e-15),
        classes=classes,
        is_classifier=classifier,
        hint=hint,
    )


# -- GradientBoosting ------------------------------------------------------------------------
def _read_gb(model, X, y) -> TreeParts:
    loss_name = type(model._loss).__name__
    if loss_name not in _GB_LOSSES:
        _unsupported(
            model,
            f"loss={model.loss!r}",
            "its leaf values come from a line search that is not a Newton step; use "
            "loss='log_loss' or 'squared_error'.",
        )
    if model.subsample < 1.0:
        _unsupported(
            model,
            f"subsample={model.subsample}",
            "each stage's random subsample is not kept by the model; use subsample=1.0.",
        )
    if model.init is not None and not (isinstance(model.init, str) and model.init == "zero"):
        _unsupported(
            model,
            "an init estimator",
            "its own dependence on the rows is not traced; use init=None or 'zero'.",
        )
    classifier = hasattr(model, "classes_")
    classes = model.classes_ if classifier else None
    K = len(classes) if classifier else 1
    n = X.shape[0]
    weights = np.ones(n)
    if model.n_iter_no_change is not None:
        if not isinstance(model.random_state, Integral):
            _unsupported(
                model,
                "n_iter_no_change and a random_state that is not an int",
                "the early-stopping split cannot be found again; pass random_state=<int> "
                "or n_iter_no_change=None.",
            )
        y_enc = encode_labels(classes, y) if classifier else None
        weights = _held_out(n, y_enc, model.validation_fraction, model.random_state, classifier)
    loss = {
        "HalfBinomialLoss": BinaryLogLoss,
        "HalfMultinomialLoss": lambda: MultinomialLoss(K),
        "HalfSquaredError": SquaredLoss,
    }[loss_name]()
    eta = float(model.learning_rate)
    scale = (K - 1) / K if loss_name == "HalfMultinomialLoss" else 1.0
    trees = model.estimators_
    orders, values, outputs, stages, maps = [], [], [], [], []
    offset = 0
    for t in range(trees.shape[0]):
        for k in range(trees.shape[1]):
            tree = trees[t, k].tree_
            order = TreeOrder(tree.children_left, tree.children_right)
            maps.append(np.where(order.position >= 0, order.position + offset, -1))
            orders.append(order)
            values.append(eta * tree.value[:, 0, 0][order.leaves])
            outputs.append(k)
            stages.append(t)
            offset += len(order.leaves)

    def leaf_fn(Xd):
        X32 = _as_float32(Xd)
        out = np.empty((Xd.shape[0], len(maps)), dtype=np.int64)
        s = 0
        for t in range(trees.shape[0]):
            for k in range(trees.shape[1]):
                out[:, s] = maps[s][trees[t, k].tree_.apply(X32)]
                s += 1
        return out

    baseline = np.zeros(loss.n_raw)
    if model.init_ != "zero":
        baseline = model._raw_predict_init(_as_float32(X[:1]))[0]

    return TreeParts(
        kind="boosting",
        layout_kwargs=tree_layout_kwargs(
            orders, values, outputs, stages, np.ones(len(values), dtype=bool)
        ),
        leaf_fn=leaf_fn,
        raw_fn=lambda Xd: model._raw_predict(_as_float32(Xd)),
        weights=weights,
        loss=loss,
        baseline=baseline,
        leaf_coefficients=(eta * scale, 0.0),
        classes=classes,
        is_classifier=classifier,
    )


# -- forests -----------------------------------------------------------------------------
def _read_forest(model, X, y) -> TreeParts:
    if getattr(model, "class_weight", None) is not None:
        _unsupported(model, "class_weight", "fit without class weights to score rows.")
    if model.n_outputs_ > 1:
        _unsupported(model, "several outputs", "score one output at a time.")
    if getattr(model, "_sample_weight", None) is not None:
        _unsupported(model, "sample_weight", "fit without sample weights to score rows.")
    if getattr(model, "criterion", None) == "absolute_error":
        _unsupported(
            model, "criterion='absolute_error'", "its leaves are medians; use 'squared_error'."
        )
    n = X.shape[0]
    if model.bootstrap and getattr(model, "_n_samples", n) != n:
        raise ValueError(
            f"{type(model).__name__} was fitted on {model._n_samples} rows, not the "
            f"{n} rows given: pass the rows it was fitted on."
        )
    classifier = hasattr(model, "classes_")
    classes = model.classes_ if classifier else None
    trees = model.estimators_
    orders, values, maps = [], [], []
    offset = 0
    for est in trees:
        tree = est.tree_
        order = TreeOrder(tree.children_left, tree.children_right)
        maps.append(np.where(order.position >= 0, order.position + offset, -1))
        value = tree.value[:, 0, :] if classifier else tree.value[:, 0, :1]
        if classifier:
            value = value / value.sum(axis=1, keepdims=True)
        orders.append(order)
        values.append(value[order.leaves])
        offset += len(order.leaves)
    if model.bootstrap:
        counts = np.column_stack(
            [np.bincount(idx, minlength=n) for idx in model.estimators_samples_]
        ).astype(np.float64)
    else:
        counts = np.ones((n, len(trees)))

    def leaf_fn(Xd):
        X32 = _as_float32(Xd)
        return np.column_stack([m[est.tree_.apply(X32)] for m, est in zip(maps, trees)])

    def raw_fn(Xd):
        X32 = _as_float32(Xd)
        if classifier:
            return np.mean([est.predict_proba(X32, check_input=False) for est in trees], axis=0)
        return np.mean([est.predict(X32, check_input=False) for est in trees], axis=0)

    S = len(trees)
    return TreeParts(
        kind="forest",
        layout_kwargs=tree_layout_kwargs(
            orders, values, np.zeros(S), np.arange(S), np.ones(S, bool)
        ),
        leaf_fn=leaf_fn,
        raw_fn=raw_fn,
        weights=counts,
        classes=classes,
        is_classifier=classifier,
        bootstrap=bool(model.bootstrap),
    )

"""XGBoost (``XGBClassifier``, ``XGBRegressor``) for the tree adapter (:mod:`._trees`).

Optional: ``pip install skinfluence[trees]``. Read from the fitted booster:

* leaves from ``Booster.predict(DMatrix(X), pred_leaf=True)`` (XGBoost's own traversal),
  the trees from ``Booster.save_raw("json")`` (children arrays; a leaf's value, ``eta``
  included, is its ``split_conditions`` entry; ``tree_info`` gives each tree's class),
  the training parameters from ``Booster.save_config()``;
* objectives ``binary:logistic`` (``g = p - y``, ``h = max(p (1 - p), 1e-16)``),
  ``multi:softprob`` / ``multi:softmax`` (``h_k = max(2 p_k (1 - p_k), 1e-16)``: XGBoost's
  factor 2) and ``reg:squarederror`` (``h = 1``);
* leaf value ``-eta · G / (H + lambda)``;
* the baseline is ``base_score`` as a margin (``logit`` of it for ``binary:logistic``),
  read as the model's margin minus the sum of its leaves.

Unsupported (named in the error): boosters other than ``gbtree`` (dart rescales trees,
gblinear has none), ``subsample < 1`` or ``sampling_method`` other than uniform
sampling of all rows (the samples are not kept), ``alpha > 0`` (soft-thresholded
leaves), ``max_delta_step > 0`` (clipped leaves), monotone constraints,
``num_parallel_tree > 1``, vector leaves (``multi_strategy="multi_output_tree"``),
categorical splits, ``scale_pos_weight != 1``, other objectives, and fits with
``sample_weight`` or ``base_margin`` (the adapter's check of the leaf values catches
those). Its float32 arithmetic makes scores agree with the scikit-learn path to about
``1e-6`` relative.
"""

from __future__ import annotations

import json
import re

import numpy as np

from ..exceptions import UnsupportedModelError
from ._trees import (
    BinaryLogLoss,
    MultinomialLoss,
    SquaredLoss,
    TreeOrder,
    TreeParts,
    tree_layout_kwargs,
)

__all__ = ["read_xgboost"]

_FLOOR = 1e-16


def _unsupported(model, setting: str, instead: str):
    raise UnsupportedModelError(
        f"{type(model).__name__} with {setting} has no tree influence adapter: {instead}"
    )


def _number(params, name, default=0.0) -> float:
    try:
        return float(params.get(name, default))
    except (TypeError, ValueError):
        return float(default)


def read_xgboost(model, X, y) -> TreeParts:
    """Read a fitted XGBoost model (module docstring)."""
    import xgboost as xgb
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(model)
    booster = model.get_booster()
    config = json.loads(booster.save_config())["learner"]
    raw = json.loads(booster.save_raw("json"))["learner"]
    gb_config = config["gradient_booster"]
    if gb_config["name"] != "gbtree":
        _unsupported(
            model,
            f"booster={gb_config['name']!r}",
            "dart rescales earlier trees and gblinear has no trees; use booster='gbtree'.",
        )
    train = gb_config.get("tree_train_param", {})
    if _number(train, "subsample", 1) < 1:
        _unsupported(model, "subsample < 1", "the row samples are not kept; use subsample=1.")
    if _number(train, "alpha") > 0:
        _unsupported(model, "reg_alpha > 0", "its leaf values are soft-thresholded; use 0.")
    if _number(train, "max_delta_step") > 0:
        _unsupported(model, "max_delta_step > 0", "its leaf values are clipped; use 0.")
    if re.search(r"[1-9]", train.get("monotone_constraints", "")):
        _unsupported(model, "monotone_constraints", "fit without monotone constraints.")
    model_json = raw["gradient_booster"]["model"]
    if int(model_json["gbtree_model_param"].get("num_parallel_tree", "1")) != 1:
        _unsupported(model, "num_parallel_tree > 1", "boost one tree per class per round.")
    objective = config["objective"]["name"]
    if _number(config["objective"].get("reg_loss_param", {}), "scale_pos_weight", 1) != 1:
        _unsupported(model, "scale_pos_weight", "it reweights rows; fit without it.")
    classifier = hasattr(model, "classes_")
    classes = model.classes_ if classifier else None
    if objective == "binary:logistic":
        loss, K = BinaryLogLoss(hessian_floor=_FLOOR), 1
    elif objective in ("multi:softprob", "multi:softmax"):
        K = len(classes)
        loss = MultinomialLoss(K, hessian_factor=2.0, hessian_floor=_FLOOR)
    elif objective == "reg:squarederror":
        loss, K = SquaredLoss(), 1
    else:
        _unsupported(
            model,
            f"objective={objective!r}",
            "supported: binary:logistic, multi:softprob / multi:softmax, reg:squarederror.",
        )
    best = getattr(model, "best_iteration", None)
    n_rounds = booster.num_boosted_rounds() if best is None else best + 1
    trees = model_json["trees"][: n_rounds * K]
    tree_class = np.asarray(model_json["tree_info"][: n_rounds * K], dtype=np.int64)
    orders, values, refit = [], [], []
    for tree in trees:
        if int(tree["tree_param"].get("size_leaf_vector", "1")) > 1:
            _unsupported(model, "vector leaves", "use multi_strategy='one_output_per_tree'.")
        if any(t != 0 for t in tree.get("split_type", [])):
            _unsupported(model, "categorical splits", "one-hot encode the categories instead.")
        left = np.asarray(tree["left_children"], dtype=np.int64)
        order = TreeOrder(left, np.asarray(tree["right_children"], dtype=np.int64))
        orders.append(order)
        values.append(np.asarray(tree["split_conditions"], dtype=np.float64)[order.leaves])
        refit.append(len(order.leaves) > 1)
    offsets = np.concatenate([[0], np.cumsum([len(o.leaves) for o in orders])])
    maps = [np.where(o.position >= 0, o.position + off, -1) for o, off in zip(orders, offsets)]
    iteration = (0, n_rounds)

    def leaf_fn(Xd):
        local = booster.predict(
            xgb.DMatrix(Xd), pred_leaf=True, iteration_range=iteration, validate_features=False
        )
        local = np.asarray(local, dtype=np.int64).reshape(len(Xd), -1)
        return np.column_stack([m[local[:, s]] for s, m in enumerate(maps)])

    def raw_fn(Xd):
        margin = booster.predict(
            xgb.DMatrix(Xd), output_margin=True, iteration_range=iteration, validate_features=False
        )
        return np.asarray(margin, dtype=np.float64).reshape(len(Xd), -1)

    Xd = np.ascontiguousarray(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float64)
    lay = tree_layout_kwargs(orders, values, tree_class, np.arange(len(trees)) // K, refit)
    leaves = leaf_fn(Xd)
    summed = np.zeros((len(Xd), K))
    for k in range(K):
        summed[:, k] = lay["leaf_value"][leaves[:, tree_class == k], 0].sum(axis=1)
    baseline = np.median(raw_fn(Xd) - summed, axis=0)
    return TreeParts(
        kind="boosting",
        layout_kwargs=lay,
        leaf_fn=leaf_fn,
        raw_fn=raw_fn,
        weights=np.ones(X.shape[0]),
        loss=loss,
        baseline=baseline,
        leaf_coefficients=(_number(train, "eta", 0.3), _number(train, "lambda", 1.0)),
        classes=classes,
        is_classifier=classifier,
        hint="If the model was fitted with base_margin or sample_weight, refit without.",
    )

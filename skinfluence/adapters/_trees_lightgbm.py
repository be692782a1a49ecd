"""LightGBM (``LGBMClassifier``, ``LGBMRegressor``) for the tree adapter (:mod:`._trees`).

Optional: ``pip install skinfluence[trees]``. Read from the fitted booster:

* leaves from ``Booster.predict(X, pred_leaf=True)`` (LightGBM's own traversal, so its
  binning and missing-value rules are the model's); the trees (children, leaf values
  with shrinkage included) and the resolved parameters (its ``parameters:`` section)
  from ``Booster.model_to_string()``;
* objectives ``binary`` (``g = p - y``, ``h = p (1 - p)``, ``sigmoid = 1``),
  ``multiclass`` (softmax; ``h_k = K/(K - 1) · p_k (1 - p_k)``, LightGBM's factor) and
  ``regression`` (L2: ``g = F - y``, ``h = 1``);
* leaf value ``-learning_rate · G / (H + lambda_l2)``;
* ``boost_from_average``: LightGBM adds the initial score (the prior log-odds,
  ``log`` of the class priors, the mean) to the first trees' leaves and fits them at
  it; the adapter moves it back into the baseline.

Unsupported (named in the error): ``boosting`` other than ``gbdt`` (dart, rf, goss),
bagging (``bagging_fraction < 1`` with ``bagging_freq > 0``: the bags are not kept),
``lambda_l1 > 0``, ``max_delta_step > 0``, ``path_smooth > 0``, ``linear_tree``,
monotone constraints, categorical splits (their leaves also take ``cat_l2``),
class weights / ``is_unbalance`` / ``scale_pos_weight`` (row weights), other
objectives, per-iteration learning rates, and fits with ``init_score`` or
``sample_weight`` (the adapter's check of the leaf values catches those).
"""

from __future__ import annotations

import re

import numpy as np

from ..exceptions import UnsupportedModelError
from ._trees import (
    BinaryLogLoss,
    MultinomialLoss,
    SquaredLoss,
    TreeOrder,
    TreeParts,
    encode_labels,
    tree_layout_kwargs,
)

__all__ = ["read_lightgbm"]


def _unsupported(model, setting: str, instead: str):
    raise UnsupportedModelError(
        f"{type(model).__name__} with {setting} has no tree influence adapter: {instead}"
    )


def _parameters(text: str) -> dict[str, str]:
    """The resolved ``[name: value]`` parameters stored with the model."""
    block = text[text.find("parameters:") :]
    return dict(re.findall(r"^\[([^:\]]+): ?(.*)\]$", block, flags=re.MULTILINE))


def _number(params, name, default=0.0) -> float:
    try:
        return float(params.get(name, default))
    except ValueError:
        return float(default)


def _trees(text: str) -> tuple[dict, list[dict]]:
    """The header fields and each tree's fields of ``Booster.model_to_string()``."""
    body = text[: text.find("end of trees")]
    parts = re.split(r"^Tree=\d+$", body, flags=re.MULTILINE)

    def fields(part):
        return dict(line.split("=", 1) for line in part.splitlines() if "=" in line)

    return fields(parts[0]), [fields(p) for p in parts[1:]]


def _tree_arrays(tree: dict):
    """Children arrays (-1 for leaves; internal nodes first, then the leaves) and the
    leaf values, from one tree of the text model (a child ``c < 0`` is leaf ``~c``)."""
    n_leaves = int(tree["num_leaves"])
    values = np.array(tree["leaf_value"].split(), dtype=np.float64)
    if n_leaves == 1:
        return np.array([-1]), np.array([-1]), values
    n_inner = n_leaves - 1
    children = [np.array(tree[k].split(), dtype=np.int64) for k in ("left_child", "right_child")]
    left, right = (
        np.concatenate([np.where(c >= 0, c, n_inner + ~c), np.full(n_leaves, -1)]) for c in children
    )
    return left, right, values


def _check_settings(model, params: dict) -> None:
    if getattr(model, "class_weight", None) is not None:
        _unsupported(model, "class_weight", "fit without class weights to score rows.")
    boosting = params.get("boosting", "gbdt")
    if boosting != "gbdt" or params.get("data_sample_strategy", "bagging") == "goss":
        _unsupported(
            model,
            f"boosting={boosting!r}",
            "dart rescales earlier trees, rf and goss reweight rows; use boosting_type='gbdt'.",
        )
    if _number(params, "bagging_fraction", 1) < 1 and _number(params, "bagging_freq") > 0:
        _unsupported(model, "bagging (subsample < 1)", "the bags are not kept; use subsample=1.0.")
    for name, what in (
        ("lambda_l1", "reg_alpha > 0 (its leaf values are soft-thresholded)"),
        ("max_delta_step", "max_delta_step > 0 (its leaf values are clipped)"),
        ("path_smooth", "path_smooth > 0 (its leaf values are shrunk to the parent's)"),
    ):
        if _number(params, name) > 0:
            _unsupported(model, what, f"set {name}=0 to score rows.")
    if params.get("linear_tree", "0") not in ("0", "false"):
        _unsupported(model, "linear_tree", "its leaves are linear models; fit constant leaves.")
    if re.search(r"[1-9]", params.get("monotone_constraints", "")):
        _unsupported(model, "monotone_constraints", "fit without monotone constraints.")
    if (
        params.get("is_unbalance", "0") not in ("0", "false")
        or _number(params, "scale_pos_weight", 1) != 1
    ):
        _unsupported(model, "is_unbalance / scale_pos_weight", "they reweight rows; fit without.")


def read_lightgbm(model, X, y) -> TreeParts:
    """Read a fitted LightGBM model (module docstring)."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(model)
    booster = model.booster_
    n_iter = model.best_iteration_ or booster.current_iteration()
    text = booster.model_to_string(num_iteration=n_iter)
    params = _parameters(text)
    _check_settings(model, params)
    header, info = _trees(text)
    objective = header["objective"].split()[0]
    classifier = hasattr(model, "classes_")
    classes = model.classes_ if classifier else None
    K = int(header["num_tree_per_iteration"])
    if objective == "binary" and "sigmoid:1" in header["objective"].split():
        loss = BinaryLogLoss()
    elif objective == "multiclass":
        loss = MultinomialLoss(K, hessian_factor=K / (K - 1))
    elif objective == "regression":
        loss = SquaredLoss()
    else:
        _unsupported(
            model,
            f"objective={header['objective']!r}",
            "supported: binary (sigmoid 1), multiclass, regression (L2).",
        )
    info = info[: n_iter * K]
    if any(int(t.get("num_cat", "0")) > 0 for t in info):
        _unsupported(
            model,
            "categorical splits",
            "their leaf values also take cat_l2; one-hot encode the categories instead.",
        )
    # the first trees report shrinkage 1 once boost_from_average has added the initial
    # score to them; their leaves were shrunk like the others
    eta = {round(float(t["shrinkage"]), 12) for t in info[K:]} or {
        round(_number(params, "learning_rate", 0.1), 12)
    }
    if len(eta) > 1:
        _unsupported(model, "a learning rate that changes", "fit with one learning_rate.")
    y_enc = encode_labels(classes, y) if classifier else np.asarray(y, dtype=np.float64)
    init = np.zeros(K)
    if params.get("boost_from_average", "1") not in ("0", "false"):
        if objective == "binary":
            p = np.clip(np.mean(y_enc), 1e-15, 1 - 1e-15)
            init[0] = np.log(p / (1 - p))
        elif objective == "regression":
            init[0] = np.mean(y_enc)
        else:
            prior = np.bincount(y_enc, minlength=K) / len(y_enc)
            init[:] = np.log(np.clip(prior, 1e-15, 1 - 1e-15))
    orders, values, lookups, refit = [], [], [], []
    offset = 0
    for s, tree in enumerate(info):
        left, right, leaf_value = _tree_arrays(tree)
        order = TreeOrder(left, right)
        n_inner = len(left) - len(leaf_value)
        lookup = order.position[n_inner:] + offset  # LightGBM leaf index -> position
        orders.append(order)
        values.append(leaf_value[order.leaves - n_inner] - (init[s] if s < K else 0.0))
        lookups.append(lookup)
        refit.append(len(leaf_value) > 1)
        offset += len(leaf_value)

    def leaf_fn(Xd):
        local = np.asarray(booster.predict(Xd, pred_leaf=True, num_iteration=n_iter), int)
        local = local.reshape(len(Xd), -1)
        return np.column_stack([lk[local[:, s]] for s, lk in enumerate(lookups)])

    S = len(info)
    return TreeParts(
        kind="boosting",
        layout_kwargs=tree_layout_kwargs(
            orders, values, np.arange(S) % K, np.arange(S) // K, refit
        ),
        leaf_fn=leaf_fn,
        raw_fn=lambda Xd: booster.predict(Xd, raw_score=True, num_iteration=n_iter),
        weights=np.ones(X.shape[0]),
        loss=loss,
        baseline=init,
        leaf_coefficients=(eta.pop(), _number(params, "lambda_l2")),
        classes=classes,
        is_classifier=classifier,
        hint="If the model was fitted with init_score or sample_weight, refit without.",
    )

"""Tree ensembles: leaf assignments, per-stage loss derivatives and leaf values.

The tree adapter is the only code that reads fitted trees. With the structures (the
splits) held fixed, a tree ensemble is a function of its leaf values only, and the
measures (:mod:`skinfluence.influence._boostin`, ``._leaf``, ``._forest``) need:

* **leaf assignments** — the leaf every row reaches in every tree, as one integer
  array ``(n, S)`` of *global* leaf positions (tree ``s`` owns positions
  ``leaf_start[s] .. leaf_start[s + 1] - 1``), so that per-leaf sums over all trees
  are one ``np.bincount``;
* **leaf values** — what each leaf adds to its raw output (boosting, shrinkage
  included) or predicts (forests: class fractions or the mean);
* **the weight of each training row in each tree** — 1 (or 0 for rows a boosted
  model held out for early stopping) for boosting, the bootstrap count for forests;
* for boosting, **the training loss as a function of the raw outputs** (its
  gradients ``g``, Hessians ``h`` and their derivatives, exactly as the library
  computes them) and **the leaf-value formula** ``v = -a G / (H + b)`` with
  ``G = Σ w g``, ``H = Σ w h`` over the leaf's rows: ``a`` is the learning rate
  (times GradientBoosting's multiclass factor ``(K - 1)/K``), ``b`` the L2 leaf
  regularisation (plus HistGradientBoosting's ``1e-15``). The baseline prediction
  (the prior log-odds, the mean...) is kept fixed.

Raw outputs ``F`` have ``K'`` columns: one for binary classifiers and regressors, one
per class for multiclass boosting (one tree per class per stage); forests predict
``K`` class fractions (one column for regressors).

Every adapter checks its reading of the model when it is built: the leaf values
replayed over the training rows reproduce the model's own raw predictions, and the
leaf-value formula recomputed from the training rows reproduces every stored leaf
value (the bootstrap-weighted class fractions or means for forests). A model fitted
with ``sample_weight``, ``class_weight``, on other rows, or with a setting this
module does not model fails that check with an
:class:`~skinfluence.exceptions.UnsupportedModelError` instead of giving wrong
scores.

Backends: :mod:`._trees_sklearn` (HistGradientBoosting, GradientBoosting,
RandomForest, ExtraTrees), :mod:`._trees_lightgbm` and :mod:`._trees_xgboost`
(optional: ``pip install skinfluence[trees]``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, log_softmax, logsumexp, softmax

from ..exceptions import UnsupportedModelError
from ._base import BaseAdapter

__all__ = [
    "BoostingAdapter",
    "BootstrapForestAdapter",
    "ForestAdapter",
    "TREE_MODELS",
    "TreeAdapter",
    "TreeLayout",
    "is_tree_model",
    "make_tree_adapter",
]

#: Supported tree ensembles: class name -> the package it comes from.
TREE_MODELS = {
    "HistGradientBoostingClassifier": "sklearn",
    "HistGradientBoostingRegressor": "sklearn",
    "GradientBoostingClassifier": "sklearn",
    "GradientBoostingRegressor": "sklearn",
    "RandomForestClassifier": "sklearn",
    "RandomForestRegressor": "sklearn",
    "ExtraTreesClassifier": "sklearn",
    "ExtraTreesRegressor": "sklearn",
    "LGBMClassifier": "lightgbm",
    "LGBMRegressor": "lightgbm",
    "XGBClassifier": "xgboost",
    "XGBRegressor": "xgboost",
}


def is_tree_model(estimator) -> bool:
    """Whether ``estimator`` is one of :data:`TREE_MODELS` (checked without imports)."""
    package = TREE_MODELS.get(type(estimator).__name__)
    return package is not None and type(estimator).__module__.split(".")[0] == package


# -- losses of boosting: gradients and Hessians as the libraries compute them ------------
class TreeLoss:
    """A boosting loss as a function of the raw outputs ``F`` (``n × K'``).

    ``derivatives`` returns what the library fits its trees to: the gradient ``g``
    and the diagonal Hessian ``h`` (with the library's factor and floor);
    ``second`` their derivatives ``∂g_k/∂F_j`` and ``∂h_k/∂F_j`` (``n × K' × K'``,
    floors ignored), for the measures that trace a row through later stages.
    """

    is_classifier = False
    n_raw = 1

    def derivatives(self, F, y):  # pragma: no cover - every loss has it
        raise NotImplementedError

    def second(self, F, y):  # pragma: no cover
        raise NotImplementedError

    def loss(self, F, y):  # pragma: no cover
        raise NotImplementedError

    def proba(self, F):  # pragma: no cover
        raise NotImplementedError


class BinaryLogLoss(TreeLoss):
    """``L = log(1 + e^F) - y F``; ``g = p - y``, ``h = max(p (1 - p), floor)``."""

    is_classifier = True

    def __init__(self, hessian_floor: float = 0.0):
        self.hessian_floor = hessian_floor

    def derivatives(self, F, y):
        p = expit(F[:, 0])
        return (p - y)[:, None], np.maximum(p * (1 - p), self.hessian_floor)[:, None]

    def second(self, F, y):
        p = expit(F[:, 0])
        h = p * (1 - p)
        return h[:, None, None], (h * (1 - 2 * p))[:, None, None]

    def loss(self, F, y):
        return np.logaddexp(0.0, F[:, 0]) - y * F[:, 0]

    def proba(self, F):
        p = expit(F[:, 0])
        return np.column_stack([1 - p, p])


class MultinomialLoss(TreeLoss):
    """``L = logsumexp(F) - F_y``; ``g_k = p_k - [y = k]``, ``h_k = max(c p_k (1 - p_k), floor)``.

    ``c`` is the library's Hessian factor: 1 (scikit-learn), ``K/(K - 1)`` (LightGBM),
    2 (XGBoost).
    """

    is_classifier = True

    def __init__(self, n_classes: int, hessian_factor: float = 1.0, hessian_floor: float = 0.0):
        self.n_raw = n_classes
        self.hessian_factor = hessian_factor
        self.hessian_floor = hessian_floor

    def derivatives(self, F, y):
        p = softmax(F, axis=1)
        g = p.copy()
        g[np.arange(len(y)), y] -= 1.0
        return g, np.maximum(self.hessian_factor * p * (1 - p), self.hessian_floor)

    def second(self, F, y):
        p = softmax(F, axis=1)
        dg = np.einsum("nk,kj->nkj", p, np.eye(p.shape[1])) - p[:, :, None] * p[:, None, :]
        dh = (self.hessian_factor * (1 - 2 * p))[:, :, None] * dg
        return dg, dh

    def loss(self, F, y):
        return logsumexp(F, axis=1) - F[np.arange(len(y)), y]

    def proba(self, F):
        return np.exp(log_softmax(F, axis=1))


class SquaredLoss(TreeLoss):
    """``L = ½ (y - F)²``; ``g = F - y``, ``h = 1``."""

    def derivatives(self, F, y):
        return F - y[:, None], np.ones_like(F)

    def second(self, F, y):
        return np.ones((len(F), 1, 1)), np.zeros((len(F), 1, 1))

    def loss(self, F, y):
        return 0.5 * (y - F[:, 0]) ** 2

    def proba(self, F):
        return F[:, 0].copy()


class PoissonLoss(TreeLoss):
    """``L = e^F - y F`` (log link); ``g = e^F - y``, ``h = e^F``."""

    def derivatives(self, F, y):
        mu = np.exp(F)
        return mu - y[:, None], mu

    def second(self, F, y):
        mu = np.exp(F)[:, :, None]
        return mu, mu

    def loss(self, F, y):
        return np.exp(F[:, 0]) - y * F[:, 0]

    def proba(self, F):
        return np.exp(F[:, 0])


class GammaLoss(TreeLoss):
    """``L = F + y e^{-F}`` (log link); ``g = 1 - y e^{-F}``, ``h = y e^{-F}``."""

    def derivatives(self, F, y):
        t = y[:, None] * np.exp(-F)
        return 1.0 - t, t

    def second(self, F, y):
        t = (y[:, None] * np.exp(-F))[:, :, None]
        return t, -t

    def loss(self, F, y):
        return F[:, 0] + y * np.exp(-F[:, 0])

    def proba(self, F):
        return np.exp(F[:, 0])


# -- what the backends read ----------------------------------------------------------------
@dataclass(frozen=True)
class TreeLayout:
    """The fixed part of a fitted tree ensemble, as arrays.

    Attributes
    ----------
    kind : {"boosting", "forest"}
    leaf_start : ndarray of shape (S + 1,)
        Tree ``s`` owns the global leaf positions ``leaf_start[s]:leaf_start[s + 1]``.
    leaf_value : ndarray of shape (L, V)
        What each leaf adds to its raw output (boosting, ``V = 1``, shrinkage
        included) or predicts (forests: ``V = K`` class fractions, or 1 mean).
    tree_output : ndarray of shape (S,)
        The raw output a boosting tree adds to (0 for forests).
    tree_stage : ndarray of shape (S,)
        The boosting stage of each tree (its position for forests).
    refit : ndarray of bool of shape (S,)
        False for trees whose leaf values are constants of the library (a
        HistGradientBoosting tree without a split predicts 0).
    parent_lo, parent_hi : ndarray of shape (L,)
        Leaves are numbered depth-first, so the leaves under a leaf's parent node are
        the positions ``[parent_lo, parent_hi)``: a refit that empties a leaf undoes
        its parent's split, and the leaf then predicts what the parent holds.
    row_weight : ndarray of shape (n_train, S)
        Weight of each training row in each tree's leaf values: 1, 0 for rows held
        out for early stopping, the bootstrap count for forests (a broadcast view
        for boosting).
    """

    kind: str
    leaf_start: np.ndarray
    leaf_value: np.ndarray
    tree_output: np.ndarray
    tree_stage: np.ndarray
    refit: np.ndarray
    parent_lo: np.ndarray
    parent_hi: np.ndarray
    row_weight: np.ndarray

    @property
    def n_trees(self) -> int:
        """Number of trees ``S``."""
        return len(self.tree_output)

    @property
    def n_leaves(self) -> int:
        """Number of leaves ``L`` over all trees."""
        return int(self.leaf_start[-1])

    @property
    def n_stages(self) -> int:
        """Number of boosting stages ``T`` (trees for forests)."""
        return int(self.tree_stage.max()) + 1 if self.n_trees else 0

    def leaf_tree(self) -> np.ndarray:
        """The tree of every global leaf position, shape ``(L,)``."""
        return np.repeat(np.arange(self.n_trees), np.diff(self.leaf_start))


@dataclass
class TreeParts:
    """What a backend reads from one fitted model (see :class:`TreeAdapter`).

    ``leaf_fn(X)`` returns the ``(n, S)`` global leaf positions of rows ``X``;
    ``raw_fn(X)`` the model's own raw outputs (for the replay check); ``weights``
    the ``(n,)`` row weights of boosting or ``(n, S)`` counts of forests.
    """

    kind: str
    layout_kwargs: dict
    leaf_fn: object
    raw_fn: object
    weights: np.ndarray
    loss: TreeLoss | None = None
    baseline: np.ndarray | None = None
    leaf_coefficients: tuple[float, float] = (1.0, 0.0)
    classes: np.ndarray | None = None
    is_classifier: bool = False
    bootstrap: bool = False
    hint: str = ""


def dense_rows(X) -> np.ndarray:
    """``X`` as a C-contiguous float64 array (sparse rows densified: trees are narrow)."""
    if sp.issparse(X):
        X = X.toarray()
    return np.ascontiguousarray(X, dtype=np.float64)


class TreeOrder:
    """A tree's leaves in depth-first order, and each leaf's parent's leaves.

    Parameters
    ----------
    left, right : ndarray of int
        Child node ids, negative for leaves (node 0 is the root).

    Attributes
    ----------
    leaves : ndarray of int
        Leaf node ids in depth-first (left first) order: a leaf's position is its
        rank here, and every subtree's leaves are a contiguous range.
    position : ndarray of int
        Node id -> leaf position (-1 for split nodes).
    parent_lo, parent_hi : ndarray of int
        The leaves under each leaf's parent node are positions ``[lo, hi)`` (the leaf
        itself for a tree without a split).
    """

    def __init__(self, left, right):
        left = np.asarray(left, dtype=np.int64)
        right = np.asarray(right, dtype=np.int64)
        n = len(left)
        split = left >= 0
        levels = [np.zeros(1, dtype=np.int64)]  # node ids by depth, root first
        while True:
            inner = levels[-1][split[levels[-1]]]
            if not len(inner):
                break
            levels.append(np.concatenate([left[inner], right[inner]]))
        count = (~split).astype(np.int64)  # leaves under each node, bottom-up
        for nodes in reversed(levels):
            inner = nodes[split[nodes]]
            count[inner] = count[left[inner]] + count[right[inner]]
        lo = np.zeros(n, dtype=np.int64)  # first leaf position under each node, top-down
        parent = np.full(n, -1, dtype=np.int64)
        for nodes in levels:
            inner = nodes[split[nodes]]
            lo[left[inner]] = lo[inner]
            lo[right[inner]] = lo[inner] + count[left[inner]]
            parent[left[inner]] = parent[right[inner]] = inner
        hi = lo + count
        leaf_nodes = np.flatnonzero(~split)
        self.leaves = leaf_nodes[np.argsort(lo[leaf_nodes], kind="stable")]
        self.position = np.where(split, -1, lo)
        up = parent[self.leaves]
        own = np.arange(len(self.leaves))
        self.parent_lo = np.where(up >= 0, lo[np.maximum(up, 0)], own)
        self.parent_hi = np.where(up >= 0, hi[np.maximum(up, 0)], own + 1)


def tree_layout_kwargs(orders, leaf_values, outputs, stages, refit) -> dict:
    """The :class:`TreeLayout` fields of trees given as :class:`TreeOrder` objects and
    their leaf values (each ``(L_s, V)``, in the orders' leaf order)."""
    counts = np.array([len(o.leaves) for o in orders], dtype=np.int64)
    start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    width = np.asarray(leaf_values[0]).reshape(counts[0], -1).shape[1]
    return {
        "leaf_start": start,
        "leaf_value": np.concatenate(
            [np.asarray(v, dtype=np.float64).reshape(-1, width) for v in leaf_values]
        ),
        "tree_output": np.asarray(outputs, dtype=np.int64),
        "tree_stage": np.asarray(stages, dtype=np.int64),
        "refit": np.asarray(refit, dtype=bool),
        "parent_lo": np.concatenate([o.parent_lo + s for o, s in zip(orders, start)]),
        "parent_hi": np.concatenate([o.parent_hi + s for o, s in zip(orders, start)]),
    }


def encode_labels(classes, y) -> np.ndarray:
    """Class positions of ``y`` in ``classes``; a clear error for unknown labels."""
    y = np.asarray(y)
    pos = np.searchsorted(classes, y)
    pos = np.clip(pos, 0, len(classes) - 1)
    if not np.all(classes[pos] == y):
        unknown = np.unique(y[classes[pos] != y])[:5]
        raise ValueError(f"labels {unknown.tolist()} are not classes of the model {classes}.")
    return pos.astype(np.int64)


def _check_rows(n: int, size: int = 512) -> np.ndarray:
    """Rows the replay check compares with the library's own predictions (evenly spaced)."""
    return np.unique(np.linspace(0, n - 1, min(n, size)).astype(np.int64))


# -- the adapters ----------------------------------------------------------------------------
class TreeAdapter(BaseAdapter):
    """Leaf assignments and leaf values of a fitted tree ensemble (``"trees"``).

    Built by :func:`make_tree_adapter`; see the module docstring for what it reads
    and checks. ``n_params`` counts the leaves of all trees (the parameters when the
    structures are fixed).
    """

    capabilities = frozenset({"trees"})

    def __init__(self, estimator, X, y, parts: TreeParts):
        self.estimator = estimator
        self._parts = parts
        self._X = X
        Xd = dense_rows(X)
        self.n_train, self.n_features = Xd.shape
        self.is_classifier = parts.is_classifier
        self.classes_ = parts.classes
        self.n_outputs = len(parts.classes) if parts.is_classifier else 1
        self.hint = parts.hint
        weights = parts.weights
        n_trees = len(parts.layout_kwargs["tree_output"])
        if weights.ndim == 1:
            weights = np.broadcast_to(weights[:, None], (self.n_train, n_trees))
        self.layout = TreeLayout(kind=parts.kind, row_weight=weights, **parts.layout_kwargs)
        self.n_params = self.layout.n_leaves
        self.n_raw_outputs = self.layout.leaf_value.shape[1] if parts.kind == "forest" else None
        self._train_leaves = parts.leaf_fn(Xd)
        self._y_enc = self.encode_y(y)

    # -- "trees" ---------------------------------------------------------------------
    def tree_layout(self) -> TreeLayout:
        """The trees' fixed structure, leaf values and row weights (:class:`TreeLayout`)."""
        return self.layout

    def leaf_indices(self, X) -> np.ndarray:
        """Global leaf positions ``(n, S)`` of rows ``X`` (int64)."""
        if X is self._X:
            return self._train_leaves
        return self._parts.leaf_fn(dense_rows(X))

    def encode_y(self, y) -> np.ndarray:
        if self.is_classifier:
            return encode_labels(self.classes_, y)
        return np.asarray(y, dtype=np.float64)

    def _fail_check(self, what: str) -> None:
        raise UnsupportedModelError(
            f"skinfluence could not reproduce the {what} of this {self.model_name} from "
            "its training rows. The tree adapter assumes the model was fitted on exactly "
            "(X, y) without sample_weight or class weights, with the settings its "
            "documentation lists (docs/trees.md)." + (f" {self.hint}" if self.hint else "")
        )


class BoostingAdapter(TreeAdapter):
    """A boosted ensemble: also per-stage loss derivatives and the leaf formula.

    Capabilities ``"trees"``, ``"boosting"`` and ``"gradients"`` (of the final
    model's loss with respect to the leaf values).
    """

    capabilities = frozenset({"trees", "boosting", "gradients"})

    def __init__(self, estimator, X, y, parts: TreeParts):
        super().__init__(estimator, X, y, parts)
        self.loss_ = parts.loss
        self.baseline = np.asarray(parts.baseline, dtype=np.float64).reshape(-1)
        self.n_raw_outputs = parts.loss.n_raw
        self._check(dense_rows(X))

    # -- "boosting" ------------------------------------------------------------------
    def leaf_coefficients(self) -> tuple[float, float]:
        """``(a, b)`` of the leaf-value formula ``v = -a G / (H + b)`` (0 for an empty leaf)."""
        return self._parts.leaf_coefficients

    def loss_derivatives(self, F, y_enc, order: int = 1):
        """``(g, h)`` at raw outputs ``F`` (each ``(n, K')``); with ``order=2`` also
        ``(∂g/∂F, ∂h/∂F)`` (each ``(n, K', K')``)."""
        g, h = self.loss_.derivatives(F, y_enc)
        if order == 1:
            return g, h
        return (g, h, *self.loss_.second(F, y_enc))

    def train_sums(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-leaf ``G``, ``H``, ``N`` of the training rows at the fitted model, each
        ``(L,)`` (computed once, when the adapter checks the leaf values)."""
        return self._train_sums

    def loss(self, F, y_enc) -> np.ndarray:
        """Per-row training loss at raw outputs ``F``, shape ``(n,)``."""
        return self.loss_.loss(F, y_enc)

    def output_proba(self, F) -> np.ndarray:
        """Class probabilities ``(n, K)`` (classifiers) or the mean ``(n,)`` at ``F``."""
        return self.loss_.proba(F)

    def raw_outputs(self, leaves) -> np.ndarray:
        """Raw outputs ``(n, K')`` of rows with leaf positions ``leaves``."""
        out = np.tile(self.baseline, (len(leaves), 1))
        values = self.layout.leaf_value[leaves, 0]
        for k in range(self.n_raw_outputs):
            out[:, k] += values[:, self.layout.tree_output == k].sum(axis=1)
        return out

    # -- "gradients" -----------------------------------------------------------------
    def loss_grad(self, X, y) -> np.ndarray:
        """``∂L(y_i, F_i)/∂v_l`` over the leaf values ``v`` of the final model, ``(n, L)``."""
        leaves = self.leaf_indices(X)
        r = self.loss_.derivatives(self.raw_outputs(leaves), y)[0]
        out = np.zeros((len(leaves), self.n_params))
        rows = np.arange(len(leaves))[:, None]
        out[rows, leaves] = r[:, self.layout.tree_output]
        return out

    def _check(self, Xd) -> None:
        """The replay and the leaf-value formula reproduce the model (module docstring)."""
        rows = _check_rows(len(Xd))
        F = self.raw_outputs(self._train_leaves[rows])
        own = np.asarray(self._parts.raw_fn(Xd[rows]), dtype=np.float64).reshape(F.shape)
        scale = 1.0 + np.abs(own).max()
        if not np.allclose(F, own, rtol=1e-4, atol=1e-5 * scale):
            self._fail_check("raw predictions")
        lay = self.layout
        G, H, N = np.zeros(lay.n_leaves), np.zeros(lay.n_leaves), np.zeros(lay.n_leaves)
        width = lay.n_trees + 3 * lay.n_stages * self.n_raw_outputs
        step = int(max(1, min(1 << 16, 2**23 // max(width, 1))))  # 64 MiB of float64
        for start in range(0, len(Xd), step):
            rows = slice(start, start + step)
            leaves = self._train_leaves[rows]
            F_stage = self.stage_inputs(leaves)
            sums = self.leaf_sums(leaves, F_stage, self._y_enc[rows], lay.row_weight[rows, 0])
            G, H, N = G + sums[0], H + sums[1], N + sums[2]
        self._train_sums = (G, H, N)
        v = self.leaf_formula(G, H, N)
        stored = lay.leaf_value[:, 0]
        fit = np.repeat(lay.refit, np.diff(lay.leaf_start))
        tol = 1e-4 * np.abs(stored[fit]).max(initial=0.0) + 1e-8
        if fit.any() and np.abs(v[fit] - stored[fit]).max() > tol:
            self._fail_check("leaf values")

    def stage_inputs(self, leaves) -> np.ndarray:
        """Raw outputs ``F^{(t-1)}`` that stage ``t`` was fitted at, shape ``(n, T, K')``."""
        lay = self.layout
        contrib = np.zeros((len(leaves), lay.n_stages, self.n_raw_outputs))
        contrib[:, lay.tree_stage, lay.tree_output] = lay.leaf_value[leaves, 0]
        before = np.cumsum(contrib, axis=1) - contrib
        return before + self.baseline

    def leaf_sums(self, leaves, F_stage, y_enc, weights):
        """Per-leaf ``G = Σ w g``, ``H = Σ w h`` and ``N = Σ w`` over rows ``leaves``.

        ``weights`` of shape ``(n,)``; returns three ``(L,)`` arrays.
        """
        lay = self.layout
        n, T, k = F_stage.shape
        y_rep = np.repeat(y_enc, T)
        g, h = self.loss_.derivatives(F_stage.reshape(n * T, k), y_rep)
        g = g.reshape(n, T, k)[:, lay.tree_stage, lay.tree_output]
        h = h.reshape(n, T, k)[:, lay.tree_stage, lay.tree_output]
        w = np.broadcast_to(np.asarray(weights, dtype=np.float64)[:, None], leaves.shape)
        flat = leaves.ravel()
        L = lay.n_leaves
        G = np.bincount(flat, (w * g).ravel(), L)
        H = np.bincount(flat, (w * h).ravel(), L)
        N = np.bincount(flat, w.ravel(), L)
        return G, H, N

    def leaf_formula(self, G, H, N) -> np.ndarray:
        """Leaf values ``-a G / (H + b)`` (0 where ``N = 0`` or ``H + b ≤ 1e-150``)."""
        a, b = self.leaf_coefficients()
        den = H + b
        ok = (N > 0) & (den > 1e-150)
        return np.where(ok, -a * G / np.where(ok, den, 1.0), 0.0)


class ForestAdapter(TreeAdapter):
    """A forest (bagged or not): leaf assignments, leaf values, row counts.

    Capabilities ``"trees"`` and ``"gradients"`` (of the Brier score or squared error
    with respect to the leaf values). ``n_params`` counts leaves times ``V``.
    """

    capabilities = frozenset({"trees", "gradients"})

    def __init__(self, estimator, X, y, parts: TreeParts):
        super().__init__(estimator, X, y, parts)
        self.n_params = self.layout.n_leaves * self.layout.leaf_value.shape[1]
        self._check(dense_rows(X))

    def loss_grad(self, X, y) -> np.ndarray:
        """``∂L(y_i, P_i)/∂V_{l,k}`` over the leaf values (leaf-major), ``(n, L·V)``:
        ``(2/S)(P_k - [y = k])`` (Brier) or ``(P - y)/S`` at the leaves the row reaches."""
        lay = self.layout
        leaves = self.leaf_indices(X)
        P = lay.leaf_value[leaves].mean(axis=1)  # (n, V)
        V = P.shape[1]
        if self.is_classifier:
            r = 2.0 * (P - np.eye(V)[y]) / lay.n_trees
        else:
            r = (P - np.asarray(y, dtype=np.float64)[:, None]) / lay.n_trees
        out = np.zeros((len(leaves), lay.n_leaves, V))
        out[np.arange(len(leaves))[:, None], leaves] = r[:, None, :]
        return out.reshape(len(leaves), -1)

    def output_proba(self, F) -> np.ndarray:
        """Class probabilities ``(n, K)`` (classifiers) or the mean ``(n,)``: the
        forest's output is already one."""
        F = np.asarray(F, dtype=np.float64)
        return F if self.is_classifier else F[:, 0]

    def loss(self, F, y_enc) -> np.ndarray:
        """Brier score ``Σ_k (F_k - [y = k])²`` (classifiers) or ``½ (y - F)²``, per row."""
        F = np.asarray(F, dtype=np.float64)
        if self.is_classifier:
            return ((F - np.eye(F.shape[1])[y_enc]) ** 2).sum(axis=1)
        return 0.5 * (np.asarray(y_enc, dtype=np.float64) - F[:, 0]) ** 2

    def _check(self, Xd) -> None:
        lay = self.layout
        rows = _check_rows(len(Xd))
        own = np.asarray(self._parts.raw_fn(Xd[rows]), dtype=np.float64).reshape(len(rows), -1)
        mean = lay.leaf_value[self._train_leaves[rows]].mean(axis=1)
        if not np.allclose(mean, own, rtol=1e-6, atol=1e-8 * (1 + np.abs(own).max())):
            self._fail_check("predictions")
        totals, count = leaf_totals(self, self._train_leaves, self._y_enc, lay.row_weight)
        seen = count > 0
        value = totals[seen] / count[seen, None]
        scale = 1.0 + np.abs(lay.leaf_value).max()
        if np.abs(value - lay.leaf_value[seen]).max(initial=0.0) > 1e-6 * scale:
            self._fail_check("leaf values")


class BootstrapForestAdapter(ForestAdapter):
    """A bagged forest: also which rows each tree left out (``"oob"``)."""

    capabilities = frozenset({"trees", "gradients", "oob"})

    def bootstrap_counts(self) -> np.ndarray:
        """How often each training row was drawn for each tree, ``(n_train, S)``; 0 = out of bag."""
        return self.layout.row_weight


def leaf_targets(adapter, y_enc) -> np.ndarray:
    """``(n, V)`` targets a forest's leaves average: one-hot classes, or ``y``."""
    if adapter.is_classifier:
        return np.eye(adapter.n_outputs)[y_enc]
    return np.asarray(y_enc, dtype=np.float64)[:, None]


def leaf_totals(adapter, leaves, y_enc, counts):
    """Per leaf of a forest: ``T = Σ c y`` ``(L, V)`` and ``N = Σ c`` ``(L,)``."""
    L = adapter.layout.n_leaves
    Y = leaf_targets(adapter, y_enc)
    flat = leaves.ravel()
    c = np.asarray(counts, dtype=np.float64)
    T = np.column_stack([np.bincount(flat, (c * Y[:, [j]]).ravel(), L) for j in range(Y.shape[1])])
    return T, np.bincount(flat, c.ravel(), L)


def make_tree_adapter(estimator, X, y) -> TreeAdapter:
    """The adapter of a fitted tree ensemble (one of :data:`TREE_MODELS`).

    Parameters
    ----------
    estimator : fitted tree ensemble
    X, y : the training rows it was fitted on

    Returns
    -------
    TreeAdapter
        A :class:`BoostingAdapter`, :class:`ForestAdapter` or
        :class:`BootstrapForestAdapter`.
    """
    package = TREE_MODELS[type(estimator).__name__]
    if package == "sklearn":
        from ._trees_sklearn import read_sklearn

        parts = read_sklearn(estimator, X, y)
    elif package == "lightgbm":
        from ._trees_lightgbm import read_lightgbm

        parts = read_lightgbm(estimator, X, y)
    else:
        from ._trees_xgboost import read_xgboost

        parts = read_xgboost(estimator, X, y)
    if parts.kind == "boosting":
        return BoostingAdapter(estimator, X, y, parts)
    if parts.bootstrap:
        return BootstrapForestAdapter(estimator, X, y, parts)
    return ForestAdapter(estimator, X, y, parts)

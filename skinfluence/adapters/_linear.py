"""Closed-form derivatives for scikit-learn linear models.

Parameters are laid out as ``θ = vec(W̃)`` (row-major) with ``W̃ = [W | b]`` of shape
``(K', q)``: ``K'`` weight rows (1 for binary classification and regression, ``K``
for multinomial logistic regression) and ``q = p + 1`` columns when the model fits
an intercept, ``q = p`` otherwise. With ``x̃ = [x, 1]`` the linear predictor is
``z = W̃ x̃`` and every per-row gradient is an outer product ``∂θ L = r ⊗ x̃`` with
``r = ∂L/∂z``. With ``S = ∂²L/∂z²`` (``K' × K'``) the closed forms are (``r``, ``S``
and the metric's ``w`` and ``D`` from the model's link, :mod:`._links`:
``"logistic"``, ``"multinomial"`` or ``"squared"``)

* Hessian ``H = mean_i S_i ⊗ x̃_i x̃_iᵀ + diag(λ)``;
* mixed product ``u·M = ∂x(r · U x̃) = (S U x̃)ᵀ W + rᵀ U_W`` for a direction
  ``u = vec(U)``, ``U = [U_W | U_b]``, and ``M c = vec((S W c) x̃ᵀ + r [c, 0]ᵀ)`` for an
  input direction ``c``;
* metric factors through the outputs: ``∂θ z_k = e_k ⊗ x̃``, ``∂x z_k = W_k`` and
  ``D[c, k] = ∂ log P(c)/∂z_k``.

Each model's own objective is rewritten in mean-loss form
``mean_i L_i + ½ Σ_j λ_j θ_j²`` so that ``H`` is the Hessian of what the model
minimised (see :func:`_penalty`). Cost: ``O(n K'² q²)`` for ``H``, ``O(n K'² q)``
per direction for the other products.

**Rows as given.** ``x̃`` is never built for the training rows: every product
splits into ``X v`` and the intercept's part. A CSR matrix stays sparse (other
sparse formats are converted to CSR once): the Hessian from the products of the
stored entries, ``H V = X̃ᵀ (S ⊙ X̃ V)`` in row blocks, gradients as residual ×
sparse row, per-row products over the stored entries; only outputs that are dense
by nature (a ``(rows, m)`` block of gradients, mixed products) are dense, one
bounded block at a time. The reductions over the training rows run in blocks of at
most 64 MiB of temporaries (or scikit-learn's smaller ``working_memory``), and on
the dask scheduler when the rows are a dask array.
"""

from __future__ import annotations

import copy
import threading
import warnings
from functools import partial

import numpy as np
import scipy.sparse as sp
from sklearn import get_config
from sklearn.utils.class_weight import compute_class_weight

from ..exceptions import InfluenceReliabilityWarning, UnsupportedModelError
from ..utils import as_rows, dask_row_blocks, is_dask_array, row_blocks, row_sum
from ._base import BaseAdapter, check_row_weights
from ._links import LinkMixin, loss_gradient, metric_factors, output_curvature, probabilities

__all__ = ["LinearAdapter", "LINEAR_MODELS"]

LINEAR_MODELS = (
    "LogisticRegression",
    "SGDClassifier",
    "LinearRegression",
    "Ridge",
    "SGDRegressor",
)


def _sgd_penalty(est, n: int, weight_sum: float) -> float:
    """λ of SGDClassifier / SGDRegressor: they minimise ``(1/n) Σ s_i L_i + α R(w)``.

    Divided by ``Σ s / n`` to the weighted mean-loss form: ``λ = α n / Σ s``.
    """
    penalty = est.penalty
    if penalty is None:
        return 0.0
    if penalty == "l2" or (penalty == "elasticnet" and est.l1_ratio == 0):
        factor = 1.0 if penalty == "l2" else 1.0 - est.l1_ratio
        return float(est.alpha) * factor * n / weight_sum
    raise UnsupportedModelError(
        f"{type(est).__name__}(penalty={penalty!r}) has an L1 part, whose Hessian "
        "does not exist; use penalty='l2' or penalty=None."
    )


def _logistic_penalty(est, n: float) -> tuple[float, float]:
    """λ for the weights and the intercept of LogisticRegression.

    scikit-learn minimises ``C Σ s_i loss_i + ½‖w‖²``, i.e. ``C n (mean loss +
    ‖w‖²/(2Cn))`` with ``n = Σ s_i`` (the row count without weights): in mean-loss
    form ``λ = 1/(C n)``. liblinear also penalises the intercept, as a
    weight ``w_b`` on a constant feature ``intercept_scaling``, so ``b = s w_b`` and
    ``λ_b = λ / s²``.
    """
    penalty = getattr(est, "penalty", "deprecated")
    l1_ratio = getattr(est, "l1_ratio", 0.0)
    if penalty == "deprecated":
        if l1_ratio not in (0, 0.0, None):
            raise UnsupportedModelError(
                f"LogisticRegression(l1_ratio={l1_ratio}) has an L1 part, whose "
                "Hessian does not exist; use l1_ratio=0 (the L2 penalty)."
            )
        penalty = None if np.isinf(est.C) else "l2"
    elif penalty in ("l1", "elasticnet"):
        raise UnsupportedModelError(
            f"LogisticRegression(penalty={penalty!r}) has an L1 part, whose Hessian "
            "does not exist; use l1_ratio=0 (the L2 penalty)."
        )
    if penalty is None or penalty == "none":
        return 0.0, 0.0
    lam = 1.0 / (float(est.C) * n)
    if est.solver == "liblinear" and est.fit_intercept:
        return lam, lam / float(est.intercept_scaling) ** 2
    return lam, 0.0


def _penalty(est, n: int, weight_sum: float) -> tuple[float, float]:
    """(λ_weights, λ_intercept) of ``est`` in mean-loss form.

    ``n`` training rows of total weight ``weight_sum`` (``= n`` unweighted).
    """
    name = type(est).__name__
    if getattr(est, "positive", False):
        raise UnsupportedModelError(
            f"{name}(positive=True) is a constrained fit without a Hessian at the "
            "boundary; use positive=False."
        )
    if name == "LogisticRegression":
        return _logistic_penalty(est, weight_sum)
    if name in ("SGDClassifier", "SGDRegressor"):
        return _sgd_penalty(est, n, weight_sum), 0.0
    if name == "Ridge":
        # Σ s r² + α‖w‖² = 2 Σs (weighted mean ½ r² + α/(2 Σs) ‖w‖²)
        alpha = np.asarray(est.alpha, dtype=float)
        if alpha.size != 1:
            raise UnsupportedModelError("Ridge with one alpha per target is not supported.")
        return float(alpha) / weight_sum, 0.0
    return 0.0, 0.0  # LinearRegression


def _row_weights(est, y, sample_weight) -> np.ndarray | None:
    """The weight of each training row in ``est``'s objective: ``sample_weight`` times
    the weights ``class_weight`` implies (LogisticRegression, as scikit-learn computes
    them: ``"balanced"`` from the weighted class counts)."""
    class_weight = getattr(est, "class_weight", None)
    if class_weight is None:
        return sample_weight
    name = type(est).__name__
    if name != "LogisticRegression":
        raise UnsupportedModelError(
            f"{name}(class_weight=...) is not supported (its class weights are computed "
            "differently from LogisticRegression's); pass the weights as sample_weight "
            "instead, or use class_weight=None."
        )
    classes = np.asarray(est.classes_)
    per_class = compute_class_weight(
        class_weight, classes=classes, y=np.asarray(y), sample_weight=sample_weight
    )
    implied = per_class[np.searchsorted(classes, np.asarray(y))]
    return implied if sample_weight is None else implied * sample_weight


def _link(est) -> str:
    name = type(est).__name__
    if name == "LogisticRegression":
        if est.coef_.shape[0] > 1:
            if est.solver == "liblinear":
                raise UnsupportedModelError(
                    "LogisticRegression(solver='liblinear') fits one-vs-rest models "
                    "for more than two classes; use the default solver (multinomial)."
                )
            return "multinomial"
        return "logistic"
    if name == "SGDClassifier":
        if est.loss != "log_loss":
            raise UnsupportedModelError(
                f"SGDClassifier(loss={est.loss!r}) is not a probabilistic model; use "
                "loss='log_loss'."
            )
        if est.coef_.shape[0] > 1:
            raise UnsupportedModelError(
                "SGDClassifier with more than two classes fits one-vs-rest models, "
                "not a softmax; use LogisticRegression for multiclass influence."
            )
        return "logistic"
    if name == "SGDRegressor" and est.loss != "squared_error":
        raise UnsupportedModelError(
            f"SGDRegressor(loss={est.loss!r}) is not supported; use loss='squared_error'."
        )
    if np.ndim(est.coef_) > 1 and np.shape(est.coef_)[0] > 1:
        raise UnsupportedModelError(
            f"{name} with several targets is not supported; fit one target at a time."
        )
    return "squared"


class _Rows:
    """The per-chunk quantities of one block of rows, computed once.

    ``X`` in the layout of :func:`~skinfluence.utils.as_rows`, the outputs ``z`` and,
    for the targets ``y`` last asked for, ``r = ∂L/∂z`` and ``S = ∂²L/∂z²``.
    """

    __slots__ = ("X", "z", "y", "r", "S")

    def __init__(self, X, z):
        self.X, self.z = X, z
        self.y = self.r = self.S = None


def _row_products(X, U: np.ndarray) -> np.ndarray:
    """``Σ_j X[i, j] U[i, l, j]`` for every row ``i`` and ``l``: ``(n, L)``.

    ``X`` dense or CSR (only its stored entries are touched), ``U`` of shape (n, L, p).
    """
    if not sp.issparse(X):
        return np.einsum("np,nlp->nl", X, U)
    n = X.shape[0]
    counts = np.diff(X.indptr)
    rows = np.repeat(np.arange(n), counts)
    prod = X.data[:, None] * U[rows, :, X.indices]  # (nnz, L)
    out = np.zeros((n, U.shape[1]))
    full = counts > 0
    if prod.shape[0]:
        out[full] = np.add.reduceat(prod, X.indptr[:-1][full], axis=0)
    return out


def _squares(X):
    """``X ∘ X`` (dense, or CSR with the same pattern)."""
    if sp.issparse(X):
        return sp.csr_matrix((X.data**2, X.indices, X.indptr), shape=X.shape, copy=False)
    return X * X


def _lowest_block(adapter, X, y, w) -> float:
    """:meth:`LinearAdapter._lowest_own_proba` of one dask block (run on a worker)."""
    X = as_rows(np.asarray(X))
    return adapter._lowest_own_proba(X, adapter.encode_y(np.asarray(y)), w)


class LinearAdapter(LinkMixin, BaseAdapter):
    """Closed-form influence derivatives of a fitted scikit-learn linear model.

    Works on the rows as given: a dense array, a CSR matrix (other sparse formats are
    converted to CSR once; a sparse matrix is never densified: every product is
    ``X @ v``, ``Xᵀ (d ⊙ X v)`` or a per-row product over the stored entries), or a
    dask array (capability ``distributed``: the reductions over the training rows run
    block by block on the dask scheduler). Reductions over the training rows go in
    blocks of bounded memory (:meth:`~skinfluence.adapters.BaseAdapter.chunk_size`).

    The quantities of one block of rows that several methods need (the outputs
    ``z``, ``r`` and ``S``) are computed once: the adapter keeps those of the last
    block it was given, recognised by identity (the same array object, not an equal
    one). Pass a new array (a new slice) for new rows; do not change a block in
    place between calls.

    Parameters
    ----------
    estimator : fitted LogisticRegression, SGDClassifier, LinearRegression, Ridge or
        SGDRegressor
    X : {array-like, sparse matrix, dask array} of shape (n, p)
        The rows the estimator was fitted on.
    y : array-like of shape (n,)
        Their targets (user labels, not encoded).
    sample_weight : array-like of shape (n,), default=None
        The weights the estimator was fitted with (``fit(X, y, sample_weight)``);
        ``LogisticRegression(class_weight=...)`` adds the weights it implies.
    """

    capabilities = frozenset(
        {
            "gradients",
            "hvp",
            "hessian",
            "hessian_diagonal",
            "hessian_null_space",
            "batch_hvp",
            "mixed",
            "metric",
            "input_grad",
            "link",
            "linear_outputs",
            "theta",
            "layers",
            "output_contributions",
            "linear_head",
            "distributed",
        }
    )

    def __init__(self, estimator, X, y, sample_weight=None):
        if type(estimator).__name__ not in LINEAR_MODELS:
            raise UnsupportedModelError(
                f"{type(estimator).__name__} is not a supported linear model; "
                f"supported: {', '.join(LINEAR_MODELS)}."
            )
        self.estimator = estimator
        self.link = _link(estimator)
        self.n_train = int(X.shape[0])
        weights = check_row_weights(sample_weight, self.n_train)
        self.sample_weight = check_row_weights(_row_weights(estimator, y, weights), self.n_train)
        self._weight_sum = (
            float(self.n_train) if self.sample_weight is None else float(self.sample_weight.sum())
        )
        self.lam, self.lam_b = _penalty(estimator, self.n_train, self.weight_sum)
        coef = np.atleast_2d(np.asarray(estimator.coef_, dtype=np.float64))
        self.W = coef  # (K', p)
        self.fit_intercept = bool(getattr(estimator, "fit_intercept", True))
        intercept = np.atleast_1d(np.asarray(estimator.intercept_, dtype=np.float64))
        self.b = intercept if self.fit_intercept else np.zeros(coef.shape[0])
        self.n_raw_outputs, self.n_features = coef.shape
        self.q = self.n_features + int(self.fit_intercept)
        self.n_params = self.n_raw_outputs * self.q
        self.is_classifier = self.link != "squared"
        if self.is_classifier:
            self.classes_ = np.asarray(estimator.classes_)
            self.n_outputs = len(self.classes_)
        else:
            self.n_outputs = 1
        self.X = as_rows(X)
        self._reset()
        if is_dask_array(y):
            self.y_enc = y.astype(np.float64) if not self.is_classifier else None
        else:
            self.y_enc = self.encode_y(y)
        if self.is_classifier:
            self._warn_if_separable(y)
        if not self.is_classifier:
            sq, total = self._train_sum("_squared_residuals", self.y_enc, self.sample_weight)
            self.sigma = float(max(np.sqrt(sq / total), 1e-12))

    # -- state -----------------------------------------------------------------------
    def _reset(self) -> None:
        self._local = threading.local()  # the last block's _Rows, per thread
        self._curv = None  # the training rows' curvature factors (CG), computed once

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_local", None)
        state["_curv"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._local = threading.local()

    @property
    def weight_sum(self) -> float:
        """``Σ_i s_i`` over the training rows (``n_train`` when unweighted)."""
        return self._weight_sum

    def detached(self) -> LinearAdapter:
        """A copy without the training rows and their weights (``distributed``).

        Returns
        -------
        LinearAdapter
        """
        new = copy.copy(self)
        new.X = None
        new.y_enc = None
        new.sample_weight = None
        return new

    def _rows(self, X) -> _Rows:
        """The per-chunk quantities of ``X`` (kept for the last block, by identity)."""
        last = getattr(self._local, "rows", None)
        if last is not None and last[0] is X:
            return last[1]
        Xr = as_rows(np.asarray(X) if is_dask_array(X) else X)
        state = _Rows(Xr, self._z(Xr))
        self._local.rows = (X, state)
        return state

    def _link_rows(self, X, y) -> _Rows:
        state = self._rows(X)
        if state.y is not y:
            state.r = loss_gradient(self.link, state.z, y)
            state.S = output_curvature(self.link, state.z)
            state.y = y
        return state

    # -- helpers -------------------------------------------------------------------
    def encode_y(self, y) -> np.ndarray:
        y = np.asarray(y)
        if not self.is_classifier:
            return y.astype(np.float64)
        idx = np.searchsorted(self.classes_, y)
        idx = np.clip(idx, 0, len(self.classes_) - 1)
        if not np.array_equal(self.classes_[idx], y):
            unknown = np.setdiff1d(y, self.classes_)
            raise ValueError(
                f"labels {unknown[:5].tolist()} were not seen when the model was "
                f"fitted (classes: {self.classes_.tolist()})."
            )
        return idx

    def _tilde(self, X):
        """``X̃ = [X, 1]`` (``X`` without intercept): dense, or CSR for CSR ``X``."""
        if not self.fit_intercept:
            return X
        if sp.issparse(X):
            ones = sp.csr_matrix(np.ones((X.shape[0], 1)))
            return sp.hstack([X, ones], format="csr")
        Xt = np.empty((X.shape[0], X.shape[1] + 1))
        Xt[:, :-1] = X
        Xt[:, -1] = 1.0
        return Xt

    def _dense_tilde(self, X) -> np.ndarray:
        """``[X, 1]`` as a dense array (for outputs that are dense per row anyway)."""
        Xd = X.toarray() if sp.issparse(X) else X
        return self._tilde(Xd)

    def _z(self, X) -> np.ndarray:
        return np.asarray(X @ self.W.T) + self.b

    def _split(self, V: np.ndarray):
        """``V`` (m, r) as ``(V_W, V_b)``: ``(K', p, r)`` and ``(K', r)`` (zeros without b)."""
        V3 = V.reshape(self.n_raw_outputs, self.q, -1)
        p = self.n_features
        Vb = V3[:, p, :] if self.fit_intercept else np.zeros((V3.shape[0], V3.shape[2]))
        return V3[:, :p, :], Vb

    def _penalty_diag(self) -> np.ndarray:
        lam = np.full((self.n_raw_outputs, self.q), self.lam)
        if self.fit_intercept:
            lam[:, -1] = self.lam_b
        return lam.ravel()

    # -- sums over the training rows ---------------------------------------------------
    def _block_rows(self, X, dense: float = 0.0, fixed: float = 1.0) -> int:
        """Rows per block so that a block's temporaries fit the block memory (64 MiB,
        or scikit-learn's ``working_memory`` when smaller): ``dense`` numbers per row
        proportional to the row's width (``p`` for a copy of the row; scaled to the
        stored entries of CSR rows) and ``fixed`` others per row."""
        budget = min(64.0, float(get_config()["working_memory"])) * 2**20
        if sp.issparse(X) and X.shape[0]:
            dense = dense * X.nnz / (X.shape[0] * max(X.shape[1], 1))
        return int(max(1, budget // (8 * max(dense + fixed, 1.0))))

    def _train_sum(self, name: str, *aligned, dense: float = 0.0, fixed: float = 1.0, **kw):
        """``Σ_blocks self.<name>(X_block, *blocks, **kw)`` over the training rows.

        In blocks of :meth:`_block_rows` rows; on the dask scheduler for a dask array,
        through the method of :meth:`detached` (the rows do not travel with the
        tasks), each dask block cut again in blocks of the dense size.
        """
        X = self.X
        fn = partial(getattr(self, name), **kw)
        if is_dask_array(X):
            remote = partial(getattr(self.detached(), name), **kw)
            size = self._block_rows(np.empty((0, X.shape[1])), dense, fixed)
            return row_sum(fn, X, *aligned, size=size, remote=remote)
        return row_sum(fn, X, *aligned, size=self._block_rows(X, dense, fixed))

    def _squared_residuals(self, X, y, w):
        resid = self._z(X)[:, 0] - y
        if w is None:
            return float(resid @ resid), float(len(resid))
        return float(w @ resid**2), float(w.sum())

    def _block_curvature(self, X, w) -> np.ndarray:
        """``S_i s_i / Σ s`` of a block of rows, ``(b, K', K')``."""
        S = output_curvature(self.link, self._z(X))
        if w is not None:
            S = S * w[:, None, None]
        return S / self.weight_sum

    def _lowest_own_proba(self, X, y_enc, w) -> float:
        """The lowest ``P(own label)`` of a block of rows (of positive weight)."""
        P = probabilities(self.link, self._z(X))
        own = P[np.arange(P.shape[0]), y_enc]
        return float((own if w is None else own[w > 0]).min(initial=np.inf))

    def _warn_if_separable(self, y, threshold: float = 0.99) -> None:
        """Warn when every weighted training row is fitted with P(own label) > threshold.

        Over the rows as given, in blocks; on the workers (one minimum per chunk) for a
        dask array.
        """
        if is_dask_array(self.X):
            import dask

            blocks, (y_blocks, w_blocks), _ = dask_row_blocks(self.X, y, self.sample_weight)
            light = dask.delayed(self.detached(), pure=True)
            task = dask.delayed(_lowest_block, pure=True)
            parts = dask.compute(
                *[task(light, b, y_blocks[i], w_blocks[i]) for i, b in enumerate(blocks)]
            )
            lowest = min(parts, default=np.inf)
        else:
            lowest = np.inf
            size = self._block_rows(self.X, fixed=3.0 * self.n_outputs)
            for rows, block in row_blocks(self.X, size):
                lowest = min(
                    lowest,
                    self._lowest_own_proba(block, self.y_enc[rows], self.row_weights(rows)),
                )
        if lowest > threshold:
            warnings.warn(
                f"{self.model_name} fits every training row with a probability above "
                f"{threshold} for its own label (lowest {lowest:.6f}): the classes are "
                "(nearly) separable, the regularised optimum is flat, and influence no "
                "longer predicts what refitting without a row does. Regularise more (a "
                "smaller C or a larger alpha) for trustworthy scores.",
                InfluenceReliabilityWarning,
                stacklevel=4,
            )

    def _curvature(self, Xd: np.ndarray, rows=slice(None), scale: float | None = None):
        """``S_i`` of the rows times their weight, over ``scale`` (default ``Σ s``)."""
        S = output_curvature(self.link, self._z(Xd))
        w = self.row_weights(rows)
        if w is not None:
            S = S * w[:, None, None]
        return S / (self.weight_sum if scale is None else scale)

    # -- curvature -----------------------------------------------------------------
    def _gram_block(self, X, w) -> np.ndarray:
        """``Σ_i S_i s_i/Σs ⊗ x̃_i x̃_iᵀ`` of a block, ``(K', q, K', q)``."""
        k, q = self.n_raw_outputs, self.q
        if self.link == "multinomial" and not sp.issparse(X):
            return self._softmax_gram_block(X, w)
        S = self._block_curvature(X, w)
        H = np.zeros((k, q, k, q))
        for a in range(k):
            for c in range(a, k):
                block = _weighted_gram(X, S[:, a, c], self.fit_intercept, nonnegative=a == c)
                H[a, :, c, :] = block
                if c != a:
                    H[c, :, a, :] = block.T
        return H

    def _softmax_gram_block(self, X, w) -> np.ndarray:
        """The softmax's block as ``Σ_i c_i (diag(P_i) ⊗ x̃x̃ᵀ) − GᵀG``, ``G_i = √c_i P_i ⊗ x̃_i``.

        ``S_i = diag(P_i) − P_i P_iᵀ``: ``K`` weighted Grams and one symmetric rank-k
        update of the ``(rows, m)`` matrix ``G``, instead of ``K(K+1)/2`` Grams.
        """
        k, q, p = self.n_raw_outputs, self.q, self.n_features
        c = np.full(X.shape[0], 1.0 / self.weight_sum) if w is None else w / self.weight_sum
        P = probabilities(self.link, self._z(X))
        G = np.empty((X.shape[0], k, q))
        roots = np.sqrt(c)[:, None] * P
        np.multiply(roots[:, :, None], X[:, None, :], out=G[:, :, :p])
        if self.fit_intercept:
            G[:, :, p] = roots
        G = G.reshape(X.shape[0], k * q)
        H = -(G.T @ G)  # symmetric rank-k update
        H = H.reshape(k, q, k, q)
        for a in range(k):
            H[a, :, a, :] += _weighted_gram(X, c * P[:, a], self.fit_intercept, nonnegative=True)
        return H

    def hessian(self) -> np.ndarray:
        """The dense ``m × m`` Hessian of the weighted mean loss, with ``λ``.

        Built in blocks of rows (``8 m²`` bytes plus one block); from the stored
        entries for sparse rows.

        Returns
        -------
        ndarray of shape (m, m)
        """
        fixed = self.n_params if self.link == "multinomial" else 1  # the softmax's G
        H = self._train_sum(
            "_gram_block", self.sample_weight, dense=2 * self.n_features, fixed=fixed
        )
        H = H.reshape(self.n_params, self.n_params)
        H[np.diag_indices_from(H)] += self._penalty_diag()
        return H

    def _diagonal_block(self, X, w) -> np.ndarray:
        """``Σ_i s_i/Σs S_i[k, l] x̃_ij²`` of a block of rows: ``(q, K', K')``."""
        S = self._block_curvature(X, w)
        k = self.n_raw_outputs
        out = np.empty((self.q, k, k))
        out[: self.n_features] = np.asarray(_squares(X).T @ S.reshape(-1, k * k)).reshape(-1, k, k)
        if self.fit_intercept:
            out[-1] = S.sum(axis=0)
        return out

    def hessian_diagonal_blocks(self) -> tuple[np.ndarray, np.ndarray]:
        """The ``K' × K'`` blocks of :meth:`hessian` that couple the outputs of one input.

        ``H[(k, j), (l, j)] = Σ_i s_i S_i[k, l] x̃_ij² / Σ s + λ_j δ_kl`` for every
        column ``j`` of ``x̃``, in one pass over the rows without building ``H``: the
        diagonal itself for one-output models (``K' = 1``), the per-feature class
        blocks of a softmax (the block-Jacobi preconditioner; the plain diagonal
        misses how the classes' logits move together).

        Returns
        -------
        blocks : ndarray of shape (q, K', K')
        index : ndarray of shape (q, K')
            Positions in ``θ`` of each block's rows and columns.
        """
        blocks = self._train_sum("_diagonal_block", self.sample_weight, dense=self.n_features)
        lam = self._penalty_diag().reshape(self.n_raw_outputs, self.q).T  # (q, K')
        k = self.n_raw_outputs
        blocks[:, np.arange(k), np.arange(k)] += lam
        index = np.arange(self.n_params).reshape(k, self.q).T
        return blocks, index

    def hessian_diagonal(self) -> np.ndarray:
        """The diagonal of :meth:`hessian` without building it, ``(m,)``.

        ``H[k j, k j] = Σ_i s_i S_i[k, k] x̃_ij² / Σ s + λ_j`` in one pass.

        Returns
        -------
        ndarray of shape (m,)
        """
        blocks, index = self.hessian_diagonal_blocks()
        out = np.empty(self.n_params)
        k = self.n_raw_outputs
        out[index] = blocks[:, np.arange(k), np.arange(k)]
        return out

    def hessian_null_space(self) -> np.ndarray:
        """Directions ``H`` is zero along whatever the data: ``(m, d)``, orthonormal.

        A softmax's logits can all move by the same amount without changing any
        probability (``S_i 1 = 0``): the sum of the intercepts when they are not
        penalised, and for each feature the sum of its weights when the weights are
        not. ``d = 0`` for the one-output models.

        Returns
        -------
        ndarray of shape (m, d)
        """
        k, q = self.n_raw_outputs, self.q
        if self.link != "multinomial":
            return np.zeros((self.n_params, 0))
        columns = []
        if self.fit_intercept and self.lam_b == 0:
            columns.append(q - 1)
        if self.lam == 0:
            columns.extend(range(self.n_features))
        N = np.zeros((k, q, len(columns)))
        for j, col in enumerate(columns):
            N[:, col, j] = 1.0 / np.sqrt(k)
        return N.reshape(self.n_params, len(columns))

    def _curvature_factors(self):
        """The training rows' curvature in the form :meth:`_apply_curvature` takes.

        Computed once (``O(n K')`` numbers): the weighted ``S`` of one-output models,
        the probabilities and the weights of a softmax.
        """
        if self._curv is None:
            w = self.sample_weight
            c = np.full(self.n_train, 1.0 / self.weight_sum) if w is None else w / self.weight_sum
            if self.link == "multinomial":
                P = np.empty((self.n_train, self.n_raw_outputs))
                for rows, block in row_blocks(
                    self.X, self._block_rows(self.X, fixed=2 * P.shape[1])
                ):
                    P[rows] = probabilities(self.link, self._z(block))
                self._curv = (c, P)
            else:
                S = np.empty(self.n_train)
                for rows, block in row_blocks(self.X, self._block_rows(self.X, fixed=4)):
                    S[rows] = output_curvature(self.link, self._z(block))[:, 0, 0]
                self._curv = (c * S, None)
        return self._curv

    def _apply_curvature(self, T: np.ndarray, c: np.ndarray, P) -> np.ndarray:
        """``c_i S_i T_i`` for ``T`` of shape (b, K', r), in place."""
        if P is None:
            T *= c[:, None, None]
            return T
        PT = np.einsum("nk,nkr->nr", P, T)  # S t = P ⊙ t - P (P · t)
        T -= PT[:, None, :]
        T *= (c[:, None] * P)[:, :, None]
        return T

    def _hvp_block(self, X, w, V2W, V2b, c=None, P=None):
        """``Σ_i s_i/Σs S_i ⊗ x̃_i x̃_iᵀ V`` of a block: ``(K', q, r)``."""
        k, r = V2W.shape[0], V2W.shape[2]
        p = self.n_features
        T = _times(X, V2W.transpose(1, 0, 2).reshape(p, k * r)).reshape(-1, k, r)
        T += V2b[None]
        if c is None:  # a block of a dask array: its curvature from its rows
            S = self._block_curvature(X, w)
            T = np.einsum("nkl,nlr->nkr", S, T)
        else:
            T = self._apply_curvature(T, c, P)
        out = np.empty((k, self.q, r))
        out[:, :p, :] = _times(X.T, T.reshape(-1, k * r)).reshape(p, k, r).transpose(1, 0, 2)
        if self.fit_intercept:
            out[:, p, :] = T.sum(axis=0)
        return out

    def hvp(self, V: np.ndarray) -> np.ndarray:
        V = np.asarray(V, dtype=np.float64)
        squeeze = V.ndim == 1
        V2 = V.reshape(self.n_params, -1)
        VW, Vb = self._split(V2)
        r = V2.shape[1]
        width = 2 * self.n_raw_outputs * r + 1
        if is_dask_array(self.X):
            out = self._train_sum("_hvp_block", self.sample_weight, fixed=width, V2W=VW, V2b=Vb)
        else:
            c, P = self._curvature_factors()
            out = None
            for rows, block in row_blocks(self.X, self._block_rows(self.X, fixed=width)):
                part = self._hvp_block(block, None, VW, Vb, c[rows], None if P is None else P[rows])
                out = part if out is None else _iadd(out, part)
        out = out.reshape(self.n_params, r) + self._penalty_diag()[:, None] * V2
        return out[:, 0] if squeeze else out

    def batch_hvp(self, V: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Return ``mean_{i ∈ rows} S_i ⊗ x̃_i x̃_iᵀ V + λ ⊙ V`` (a minibatch ``H V``).

        With weights each row counts ``n s_i / Σ s``, so that the minibatch mean is an
        unbiased estimate of the weighted Hessian's product for uniform rows.
        """
        V = np.asarray(V, dtype=np.float64)
        rows = np.asarray(rows, dtype=np.intp)
        V2 = V.reshape(self.n_params, -1)
        VW, Vb = self._split(V2)
        Xb = self.X[rows]
        Xb = as_rows(np.asarray(Xb) if is_dask_array(Xb) else Xb)
        scale = max(len(rows), 1) * self.weight_sum / self.n_train
        S = self._curvature(Xb, rows, scale)
        k, r, p = self.n_raw_outputs, V2.shape[1], self.n_features
        T = np.asarray(Xb @ VW.transpose(1, 0, 2).reshape(p, k * r)).reshape(-1, k, r) + Vb
        T = np.einsum("nkl,nlr->nkr", S, T)
        out = np.empty((k, self.q, r))
        out[:, :p, :] = np.asarray(Xb.T @ T.reshape(-1, k * r)).reshape(p, k, r).transpose(1, 0, 2)
        if self.fit_intercept:
            out[:, p, :] = T.sum(axis=0)
        out = out.reshape(self.n_params, r) + self._penalty_diag()[:, None] * V2
        return out.reshape(V.shape)

    def _abs_block(self, X) -> np.ndarray:
        return np.asarray(abs(X).sum(axis=0)).ravel()

    def output_contributions(self, X) -> np.ndarray:
        """Return ``mean_i |W̃[k, q] x̃_iq|`` per parameter (seed 004's "outputs")."""
        X = as_rows(X)
        total = row_sum(self._abs_block, X, size=self._block_rows(X, dense=self.n_features))
        mean_abs = total / X.shape[0]
        if self.fit_intercept:
            mean_abs = np.r_[mean_abs, 1.0]
        W = np.hstack([self.W, self.b[:, None]]) if self.fit_intercept else self.W
        return (np.abs(W) * mean_abs[None, :]).ravel()

    # -- derivatives -----------------------------------------------------------------
    def loss_grad(self, X, y) -> np.ndarray:
        state = self._link_rows(X, y)
        Xr, r = state.X, state.r
        n, k, p = Xr.shape[0], self.n_raw_outputs, self.n_features
        G = np.empty((n, k, self.q))
        if sp.issparse(Xr):
            G[:, :, :p] = 0.0
            rows = np.repeat(np.arange(n), np.diff(Xr.indptr))
            G[rows, :, Xr.indices] = Xr.data[:, None] * r[rows]
        else:
            np.multiply(r[:, :, None], Xr[:, None, :], out=G[:, :, :p])
        if self.fit_intercept:
            G[:, :, p] = r
        return G.reshape(n, -1)

    def loss_grad_dot(self, X, y, V) -> np.ndarray:
        """``∂θL_i · V`` without the gradients: ``Σ_k r_ik (x_i · V_W[k] + V_b[k])``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n, p)
        y : ndarray of shape (n,)
        V : ndarray of shape (m,) or (m, r)

        Returns
        -------
        ndarray of shape (n,) or (n, r)
        """
        V = np.asarray(V, dtype=np.float64)
        V2 = V.reshape(self.n_params, -1)
        VW, Vb = self._split(V2)
        state = self._link_rows(X, y)
        k, r, p = self.n_raw_outputs, V2.shape[1], self.n_features
        T = np.asarray(state.X @ VW.transpose(1, 0, 2).reshape(p, k * r)).reshape(-1, k, r)
        T += Vb[None]
        out = np.einsum("nk,nkr->nr", state.r, T)
        return out[:, 0] if V.ndim == 1 else out

    def loss_grad_sum(self, X, y, weights=None) -> np.ndarray:
        """``Σ_i w_i ∂θL_i = vec([Xᵀ(w ⊙ r) | Σ w r])`` without the gradients.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n, p)
        y : ndarray of shape (n,)
        weights : ndarray of shape (n,), default=None

        Returns
        -------
        ndarray of shape (m,)
        """
        state = self._link_rows(X, y)
        R = state.r if weights is None else state.r * np.asarray(weights)[:, None]
        out = np.empty((self.n_raw_outputs, self.q))
        out[:, : self.n_features] = np.asarray(state.X.T @ R).T
        if self.fit_intercept:
            out[:, -1] = R.sum(axis=0)
        return out.ravel()

    def outputs(self, X) -> np.ndarray:
        return self._rows(X).z

    def link_derivatives(self, X, y) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(f, r, Λ)``: raw outputs, ``∂L/∂f`` and ``∂²L/∂f²`` per row.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n, p)
        y : ndarray of shape (n,)
            Encoded targets.

        Returns
        -------
        f : ndarray of shape (n, K')
        r : ndarray of shape (n, K')
        Lam : ndarray of shape (n, K', K')
        """
        state = self._link_rows(X, y)
        return state.z, state.r, state.S

    def input_grad(self, X, y) -> np.ndarray:
        # ∂x L = rᵀ W with r = ∂L/∂z
        return self._link_rows(X, y).r @ self.W

    def _directions(self, Xr, U: np.ndarray) -> np.ndarray:
        """``t[i, j, k] = x̃_i · U[(i,) j, k]`` for shared (R, K', q) or per-row (n, R, K', q)."""
        p = self.n_features
        if U.ndim == 3:  # shared
            R, k = U.shape[:2]
            t = np.asarray(Xr @ U[..., :p].reshape(R * k, p).T).reshape(-1, R, k)
            if self.fit_intercept:
                t += U[..., p]
            return t
        n, R, k = U.shape[:3]
        t = _row_products(Xr, U[..., :p].reshape(n, R * k, p)).reshape(n, R, k)
        if self.fit_intercept:
            t += U[..., p]
        return t

    def mixed_product(self, X, y, U) -> np.ndarray:
        state = self._link_rows(X, y)
        r, S = state.r, state.S
        U = np.asarray(U, dtype=np.float64)
        k, p = self.n_raw_outputs, self.n_features
        U4 = U.reshape(U.shape[:-1] + (k, self.q))
        t = self._directions(state.X, U4)  # (n, R, K')
        if k == 1:  # one output: (S t) W + r U_W without the K' axes
            out = (S[:, 0, 0, None] * t[:, :, 0])[:, :, None] * self.W[0]
            out += r[:, 0, None, None] * U[..., :p]
            return out
        if U.ndim == 2:  # shared directions (R, m)
            rU = np.einsum("nk,jkp->njp", r, U4[:, :, :p])
        else:  # per-row directions (n, R, m)
            rU = np.einsum("nk,njkp->njp", r, U4[:, :, :, :p])
        St = t @ np.swapaxes(S, 1, 2)  # (S t_j) for every direction j
        return St @ self.W + rU

    def mixed_jvp(self, X, y, C) -> np.ndarray:
        # ∂x∂θL · c = vec((S W c) x̃ᵀ + r [c, 0]ᵀ)
        state = self._link_rows(X, y)
        r, S = state.r, state.S
        Xt = self._dense_tilde(state.X)  # the output is (n, R, m) dense anyway
        C = np.asarray(C, dtype=np.float64)
        n, R, p = C.shape
        SWc = np.einsum("nkl,nrl->nrk", S, C @ self.W.T)
        out = SWc[:, :, :, None] * Xt[:, None, None, :]  # (n, R, K', q)
        out[..., :p] += r[:, None, :, None] * C[:, :, None, :]
        return out.reshape(n, R, self.n_params)

    def output_metric(self, X):
        """``(w, D, J_x)`` of :meth:`metric_factors` without ``J_theta`` (``linear_outputs``).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n, p)

        Returns
        -------
        w : ndarray of shape (n, R)
        D : ndarray of shape (n, R, K')
        J_x : ndarray of shape (n, K', p)
        """
        z = self._rows(X).z
        w, D = metric_factors(self.link, z, getattr(self, "sigma", None))
        J_x = np.broadcast_to(self.W, (z.shape[0], self.n_raw_outputs, self.n_features))
        return w, D, J_x

    def output_features(self, X):
        """``(x̃, index)``: ``∂θ z_k = e_k ⊗ x̃`` at ``θ[index[k]]`` (``linear_outputs``).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n, p)

        Returns
        -------
        A : ndarray or CSR matrix of shape (n, q)
            ``x̃ = [x, 1]`` (``x`` without intercept), sparse for sparse ``X``.
        index : ndarray of shape (K', q)
        """
        A = self._tilde(self._rows(X).X)
        return A, np.arange(self.n_params).reshape(self.n_raw_outputs, self.q)

    def metric_factors(self, X):
        w, D, J_x = self.output_metric(X)
        Xt = self._dense_tilde(self._rows(X).X)
        n, k = Xt.shape[0], self.n_raw_outputs
        # ∂θ z_k = e_k ⊗ x̃, ∂x z_k = W_k
        if k == 1:
            J_theta = Xt[:, None, :]
        else:
            J_theta = (np.eye(k)[None, :, :, None] * Xt[:, None, None, :]).reshape(n, k, -1)
        return w, D, J_theta, J_x

    # -- parameters, layers and the linear head (ip_ensemble, tracin, datainf,
    #    representer) ------------------------------------------------------------------
    def get_theta(self) -> np.ndarray:
        """Return a copy of the fitted parameters ``θ̂ = vec([W | b])`` (row-major), shape (m,)."""
        Wt = np.hstack([self.W, self.b[:, None]]) if self.fit_intercept else self.W
        return Wt.ravel().copy()

    def at_theta(self, theta) -> LinearAdapter:
        """Return a copy of this adapter evaluated at the parameters ``theta`` (m,).

        Same training rows, targets and penalty ``λ``; every derivative of the copy
        is taken at ``theta``. The Gaussian ``sigma`` of regressors stays the fitted
        model's. The adapter itself (and the estimator) is not changed.
        """
        theta = np.asarray(theta, dtype=np.float64)
        if theta.shape != (self.n_params,):
            raise ValueError(f"theta must have shape ({self.n_params},), got {theta.shape}.")
        new = copy.copy(self)  # without the cached quantities (__getstate__)
        Wt = theta.reshape(self.n_raw_outputs, self.q)
        new.W = Wt[:, : self.n_features].copy()
        new.b = Wt[:, -1].copy() if self.fit_intercept else np.zeros(self.n_raw_outputs)
        return new

    def penalty_grad(self) -> np.ndarray:
        """Gradient ``λ ⊙ θ`` of the model's L2 penalty in mean-loss form, shape (m,).

        The intercepts carry the intercept penalty (0 unless the model penalises
        them); with the weighted mean of :meth:`loss_grad` it is the gradient of the
        objective the model minimised, which vanishes at the fitted parameters.
        """
        return self._penalty_diag() * self.get_theta()

    def layer_blocks(self) -> list[tuple[str, np.ndarray]]:
        """The parameter blocks treated as layers (DataInf): one block, every parameter."""
        return [("linear", np.arange(self.n_params))]

    def linear_head(self, X, y=None):
        """The model as a linear head ``s = Θ ã`` over features ``ã`` (representer points).

        For a linear model ``ã = x̃ = [x, 1]`` (``[x]`` without intercept) and
        ``Θ = [W | b]``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n, p)
            Rows.
        y : ndarray of shape (n,), default=None
            Encoded targets; ``None`` skips ``R``.

        Returns
        -------
        A : ndarray or CSR matrix of shape (n, d_a)
            Features ``ã`` the head sees (sparse for sparse ``X``).
        R : ndarray of shape (n, K') or None
            ``∂L/∂s`` per row.
        lam : ndarray of shape (d_a,)
            The L2 penalty ``λ`` of each column of ``Θ`` (mean-loss form).
        index : ndarray of shape (K', d_a)
            Position of ``Θ[k, j]`` in the flat ``θ``.
        """
        R = None if y is None else self._link_rows(X, y).r
        lam = np.full(self.q, self.lam)
        if self.fit_intercept:
            lam[-1] = self.lam_b
        A, index = self.output_features(X)
        return A, R, lam, index


#: Columns per sparse product: scipy's product with many dense columns reads rows of
#: the dense factor at random; in groups of 8 columns they stay in cache (2-3× faster
#: per column at 50,000 × 20,000 with 30 stored entries a row).
_SPARSE_GROUP = 8


def _times(A, B: np.ndarray) -> np.ndarray:
    """``A @ B`` for a dense or sparse ``A`` and dense ``B`` (n, r), as an ndarray."""
    if not sp.issparse(A) or B.shape[1] <= 2 * _SPARSE_GROUP:
        return np.asarray(A @ B)
    out = np.empty((A.shape[0], B.shape[1]))
    for start in range(0, B.shape[1], _SPARSE_GROUP):
        cols = slice(start, start + _SPARSE_GROUP)
        out[:, cols] = A @ np.ascontiguousarray(B[:, cols])
    return out


def _iadd(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a += b
    return a


def _weighted_gram(X, s: np.ndarray, intercept: bool, nonnegative: bool = False) -> np.ndarray:
    """``X̃ᵀ diag(s) X̃`` of a block of dense or CSR rows, ``X̃ = [X, 1]`` if ``intercept``.

    Dense rows with ``s ≥ 0`` (``nonnegative``): ``(√s ⊙ X)ᵀ (√s ⊙ X)``, a symmetric
    rank-k update. Sparse rows: the product of the stored entries, scattered into the
    dense result.
    """
    p = X.shape[1]
    q = p + int(intercept)
    G = np.empty((q, q)) if not sp.issparse(X) else np.zeros((q, q))
    if sp.issparse(X):
        scaled = X.data * np.repeat(s, np.diff(X.indptr))
        Xs = sp.csr_matrix((scaled, X.indices, X.indptr), shape=X.shape, copy=False)
        prod = (X.T @ Xs).tocoo()
        G[prod.row, prod.col] = prod.data
        col = np.asarray(X.T @ s).ravel()
    elif nonnegative and np.all(s >= 0):
        root = np.sqrt(s)
        Xs = X * root[:, None]
        G[:p, :p] = Xs.T @ Xs
        col = Xs.T @ root
    else:
        Xs = X * s[:, None]
        G[:p, :p] = Xs.T @ X
        col = X.T @ s
    if intercept:
        G[:p, p] = G[p, :p] = col
        G[p, p] = s.sum()
    return G

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

from ..exceptions import InfluenceReliabilityWarning, UnsupportedModelError
from ..utils import as_rows, dask_row_blocks, is_dask_array, row_blocks, row_sum
from ._base import BaseAdapter, check_row_weights
from ._linear_curvature import CurvatureMixin
from ._linear_objective import _link, _penalty, _row_weights
from ._linear_rows import _row_products, _Rows
from ._links import LinkMixin, loss_gradient, metric_factors, output_curvature, probabilities

__all__ = ["LinearAdapter", "LINEAR_MODELS"]

LINEAR_MODELS = (
    "LogisticRegression",
    "SGDClassifier",
    "LinearRegression",
    "Ridge",
    "SGDRegressor",
)


def _lowest_block(adapter, X, y, w) -> float:
    """:meth:`LinearAdapter._lowest_own_proba` of one dask block (run on a worker)."""
    X = as_rows(np.asarray(X))
    return adapter._lowest_own_proba(X, adapter.encode_y(np.asarray(y)), w)


class LinearAdapter(CurvatureMixin, LinkMixin, BaseAdapter):
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

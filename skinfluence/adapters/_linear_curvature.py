"""Curvature of a linear model's objective from the rows as given (:mod:`._linear`)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..utils import as_rows, is_dask_array, row_blocks, row_sum
from ._linear_rows import _iadd, _squares, _times, _weighted_gram
from ._links import output_curvature, probabilities


class CurvatureMixin:
    """The linear adapter's curvature: the Hessian, its diagonal blocks and null space,
    Hessian-vector products (:class:`~._linear.LinearAdapter` mixes it in)."""

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

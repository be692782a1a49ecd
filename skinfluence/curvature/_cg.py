"""Conjugate gradient on Hessian-vector products, batched over right-hand sides.

All right-hand sides at once (one batched HVP per iteration), ``O(iterations ·
HVP)`` time and ``O(m r)`` memory for ``r`` right-hand sides; the Hessian is never
built. Needs ``H + damping·I`` positive definite.

**Jacobi preconditioner.** With ``preconditioner="jacobi"`` (and by default when
the adapter declares ``hessian_diagonal``) the iteration runs on
``M⁻¹ (H + damping·I)`` (Hestenes–Stiefel PCG) with ``M`` the diagonal of
``H + damping·I`` — or, when the adapter gives small diagonal blocks
(``hessian_diagonal_blocks``: a softmax's ``K × K`` class block of each input
feature), those blocks (block Jacobi, their pseudo-inverses: the plain diagonal
ignores that a softmax's logits move together and slows it down). The same
solution, in fewer iterations when the curvature of the parameters differs in scale
(unscaled or sparse features, an intercept beside weights). A non-positive
diagonal entry (a feature that is zero on every training row, without a penalty)
is left unscaled.

**Singular Hessians.** When the adapter names directions along which ``H`` is zero
by the model's structure (``hessian_null_space``: a softmax's unpenalised
intercepts) and ``damping`` is 0, the right-hand sides and the solutions are
projected off them: the iteration then stays consistent and returns the
pseudo-inverse solution, as :class:`~skinfluence.curvature.ExactSolver` does.

Every column stops when its residual ``‖b − (H + damping·I) x‖`` falls below
``tol ‖b‖``; converged columns leave the batch, so later iterations multiply only
the active ones.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..adapters import require
from ..exceptions import ConvergenceWarning
from ._base import BaseSolver

__all__ = ["PRECONDITIONERS", "CGSolver"]

#: ``preconditioner=`` choices of :class:`CGSolver`.
PRECONDITIONERS = ("auto", "jacobi", None)


class CGSolver(BaseSolver):
    """Conjugate gradient on Hessian-vector products, batched over right-hand sides.

    Parameters
    ----------
    damping : float, default=0.0
        Added to the diagonal of the Hessian.
    tol : float, default=1e-8
        Stop a column when its residual norm falls below ``tol`` times the norm of
        its right-hand side.
    max_iter : int, default=None
        Iteration cap; ``None`` means ``10 · m``.
    preconditioner : {"auto", "jacobi"} or None, default="auto"
        ``"jacobi"``: precondition with the Hessian's diagonal (the adapter must
        declare ``hessian_diagonal``); ``None``: plain CG; ``"auto"``: Jacobi when
        the adapter declares ``hessian_diagonal``, plain CG otherwise.

    Attributes
    ----------
    preconditioner_ : {"jacobi", None}
        The preconditioner in use (block Jacobi when the adapter's diagonal blocks
        are larger than one).
    null_space_ : ndarray of shape (m, d) or None
        The structural null space projected out (``damping == 0`` only).
    n_iter_ : int
        Iterations of the last :meth:`solve`.
    """

    def __init__(
        self,
        damping: float = 0.0,
        tol: float = 1e-8,
        max_iter: int | None = None,
        preconditioner="auto",
    ):
        super().__init__(damping)
        self.tol = tol
        self.max_iter = max_iter
        self.preconditioner = preconditioner

    def fit(self, adapter) -> CGSolver:
        """Check the adapter and compute the preconditioner.

        Parameters
        ----------
        adapter : BaseAdapter
            Fitted adapter with Hessian-vector products.

        Returns
        -------
        self : CGSolver
        """
        super().fit(adapter)
        if self.preconditioner not in PRECONDITIONERS:
            raise ValueError(
                f"preconditioner must be one of {PRECONDITIONERS}, got {self.preconditioner!r}."
            )
        use = self.preconditioner
        if use == "auto":
            use = "jacobi" if "hessian_diagonal" in adapter.capabilities else None
        self.preconditioner_ = use
        self.inv_diagonal_ = None
        self.inv_blocks_ = None
        if use == "jacobi":
            require(
                adapter,
                "hessian_diagonal",
                what="CGSolver(preconditioner='jacobi')",
                hint="Use preconditioner=None.",
            )
            blocks, index = adapter.hessian_diagonal_blocks()
            blocks = np.array(blocks, dtype=np.float64)
            size = blocks.shape[1]
            blocks[:, np.arange(size), np.arange(size)] += self.damping
            if size == 1:  # Jacobi
                d = blocks[:, 0, 0]
                tiny = np.finfo(float).tiny * max(float(np.abs(d).max(initial=0.0)), 1.0)
                inv = np.ones_like(d)
                np.divide(1.0, d, out=inv, where=d > tiny)
                self.inv_diagonal_ = np.empty(adapter.n_params)
                self.inv_diagonal_[index[:, 0]] = inv
            else:  # block Jacobi: pseudo-inverses of the (PSD) blocks
                inv = np.linalg.pinv(blocks, rtol=1e-10, hermitian=True)
                self.inv_blocks_ = (inv, np.asarray(index))
        self.null_space_ = None
        if self.damping == 0 and "hessian_null_space" in adapter.capabilities:
            N = np.asarray(adapter.hessian_null_space(), dtype=np.float64)
            self.null_space_ = N if N.shape[1] else None
        self.n_iter_ = 0
        return self

    def _project(self, B: np.ndarray) -> np.ndarray:
        """``B`` without its part along the Hessian's structural null space."""
        if self.null_space_ is None:
            return B
        N = self.null_space_
        return B - N @ (N.T @ B)

    def _matvec(self, V: np.ndarray) -> np.ndarray:
        out = self.adapter_.hvp(V)
        if self.damping:
            out += self.damping * V
        return out

    def _precondition(self, R: np.ndarray) -> np.ndarray:
        if self.inv_diagonal_ is not None:
            return self.inv_diagonal_[:, None] * R
        if self.inv_blocks_ is not None:
            inv, index = self.inv_blocks_
            Z = np.empty_like(R)
            Z[index] = inv @ R[index]  # (g, s, s) @ (g, s, r)
            return Z
        return R

    def solve(self, B: np.ndarray) -> np.ndarray:
        B = np.asarray(B, dtype=np.float64)
        B2 = self._project(B.reshape(B.shape[0], -1))
        out = np.zeros_like(B2)
        norms = np.sqrt(np.einsum("ij,ij->j", B2, B2))
        stop = np.maximum(self.tol * norms, 1e-300)
        cols = np.flatnonzero(norms > stop)  # the active columns, in the arrays below
        X = np.zeros((B2.shape[0], cols.size))
        R = B2[:, cols].copy()
        Z = self._precondition(R)
        P = Z.copy()
        rz = np.einsum("ij,ij->j", R, Z)
        max_iter = self.max_iter or 10 * B2.shape[0]
        n_iter = 0
        while cols.size and n_iter < max_iter:
            n_iter += 1
            AP = self._matvec(P)
            pAp = np.einsum("ij,ij->j", P, AP)
            if np.any(pAp <= 0):
                raise np.linalg.LinAlgError(
                    "conjugate gradient met a direction of non-positive curvature: the "
                    f"Hessian plus damping={self.damping:g} is not positive definite (a "
                    "non-convex net away from a minimum). Pass gauss_newton=True (torch "
                    "models: positive semi-definite by construction), more damping (above "
                    "the Hessian's most negative eigenvalue), or solver='exact' (which "
                    "falls back to a pseudo-inverse and says how negative it is)."
                )
            alpha = rz / pAp
            X += alpha * P
            R -= alpha * AP
            done = np.sqrt(np.einsum("ij,ij->j", R, R)) <= stop[cols]
            if done.any():  # converged columns leave the batch
                out[:, cols[done]] = X[:, done]
                keep = ~done
                cols, X, R, P, rz = cols[keep], X[:, keep], R[:, keep], P[:, keep], rz[keep]
                if not cols.size:
                    break
            Z = self._precondition(R)
            rz_new = np.einsum("ij,ij->j", R, Z)
            P *= rz_new / rz
            P += Z
            rz = rz_new
        self.n_iter_ = n_iter
        if cols.size:
            out[:, cols] = X
            warnings.warn(
                f"conjugate gradient did not converge for {cols.size} of "
                f"{B2.shape[1]} right-hand sides in {max_iter} iterations; raise "
                "max_iter, loosen tol or add damping.",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self._project(out).reshape(B.shape)

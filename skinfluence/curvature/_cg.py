"""Conjugate gradient on Hessian-vector products, batched over right-hand sides.

All right-hand sides at once (one batched HVP per iteration), ``O(iterations ·
HVP)`` time and ``O(m r)`` memory for ``r`` right-hand sides; the Hessian is never
built. Needs ``H + damping·I`` positive definite.

**Jacobi preconditioner.** With ``preconditioner="jacobi"`` (and by default when
the adapter declares ``hessian_diagonal``) the iteration runs on
``M⁻¹ (H + damping·I)`` with ``M = diag(H) + damping`` (Hestenes–Stiefel PCG):
the same solution, in fewer iterations when the curvature of the parameters
differs in scale (unscaled or sparse features, an intercept beside weights). A
non-positive diagonal entry (a feature that is zero on every training row, without
a penalty) is left unscaled.

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
        The preconditioner in use.
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
        if use == "jacobi":
            require(
                adapter,
                "hessian_diagonal",
                what="CGSolver(preconditioner='jacobi')",
                hint="Use preconditioner=None.",
            )
            d = np.asarray(adapter.hessian_diagonal(), dtype=np.float64) + self.damping
            positive = d > np.finfo(float).tiny * max(float(np.abs(d).max(initial=0.0)), 1.0)
            self.inv_diagonal_ = np.where(positive, 1.0 / np.where(positive, d, 1.0), 1.0)
        self.n_iter_ = 0
        return self

    def _matvec(self, V: np.ndarray) -> np.ndarray:
        out = self.adapter_.hvp(V)
        if self.damping:
            out += self.damping * V
        return out

    def _precondition(self, R: np.ndarray) -> np.ndarray:
        if self.inv_diagonal_ is None:
            return R
        return self.inv_diagonal_[:, None] * R

    def solve(self, B: np.ndarray) -> np.ndarray:
        B = np.asarray(B, dtype=np.float64)
        B2 = B.reshape(B.shape[0], -1)
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
                    "Hessian is not positive definite. Pass damping > 0, "
                    "gauss_newton=True (torch models) or solver='exact'."
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
        return out.reshape(B.shape)

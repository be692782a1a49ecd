"""Conjugate gradient on Hessian-vector products, batched over right-hand sides.

All right-hand sides at once (one batched HVP per iteration), ``O(iterations ·
HVP)``. Needs ``H + damping·I`` positive definite.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..exceptions import ConvergenceWarning
from ._base import BaseSolver

__all__ = ["CGSolver"]


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
    """

    def __init__(self, damping: float = 0.0, tol: float = 1e-8, max_iter: int | None = None):
        super().__init__(damping)
        self.tol = tol
        self.max_iter = max_iter

    def _matvec(self, V: np.ndarray) -> np.ndarray:
        return self.adapter_.hvp(V) + self.damping * V

    def solve(self, B: np.ndarray) -> np.ndarray:
        B = np.asarray(B, dtype=np.float64)
        B2 = B.reshape(B.shape[0], -1)
        X = np.zeros_like(B2)
        R = B2.copy()
        P = R.copy()
        rs = np.einsum("ij,ij->j", R, R)
        stop = np.maximum(self.tol * np.sqrt(rs), 1e-300)
        max_iter = self.max_iter or 10 * B2.shape[0]
        active = np.sqrt(rs) > stop
        for _ in range(max_iter):
            if not active.any():
                break
            cols = np.flatnonzero(active)
            AP = self._matvec(P[:, cols])
            pAp = np.einsum("ij,ij->j", P[:, cols], AP)
            if np.any(pAp <= 0):
                raise np.linalg.LinAlgError(
                    "conjugate gradient met a direction of non-positive curvature: the "
                    f"Hessian plus damping={self.damping:g} is not positive definite (a "
                    "non-convex net away from a minimum). Pass gauss_newton=True (torch "
                    "models: positive semi-definite by construction), more damping (above "
                    "the Hessian's most negative eigenvalue), or solver='exact' (which "
                    "falls back to a pseudo-inverse and says how negative it is)."
                )
            alpha = rs[cols] / pAp
            X[:, cols] += alpha * P[:, cols]
            R[:, cols] -= alpha * AP
            rs_new = np.einsum("ij,ij->j", R[:, cols], R[:, cols])
            P[:, cols] = R[:, cols] + (rs_new / rs[cols]) * P[:, cols]
            rs[cols] = rs_new
            active[cols] = np.sqrt(rs_new) > stop[cols]
        if active.any():
            warnings.warn(
                f"conjugate gradient did not converge for {active.sum()} of "
                f"{active.size} right-hand sides in {max_iter} iterations; raise "
                "max_iter, loosen tol or add damping.",
                ConvergenceWarning,
                stacklevel=2,
            )
        return X.reshape(B.shape)

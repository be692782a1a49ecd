"""The exact solver: a dense inverse through a Cholesky factorisation.

``O(m³)`` once and ``O(m²)`` per right-hand side (one matrix product for all of
them). A singular or indefinite ``H`` falls back to the eigen-decomposition
pseudo-inverse with a :class:`~skinfluence.SingularHessianWarning`.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg as sla
from sklearn.base import clone

from ..exceptions import SingularHessianWarning
from ._base import BaseSolver

__all__ = ["ExactSolver"]


def _damped_hessian(adapter, damping: float) -> np.ndarray:
    """``H + damping·I``, symmetrised, as a new float64 array."""
    H = np.array(adapter.hessian(), dtype=np.float64)
    H = 0.5 * (H + H.T)
    H[np.diag_indices_from(H)] += damping
    return H


class ExactSolver(BaseSolver):
    """Dense inverse through a Cholesky factorisation (pseudo-inverse fallback).

    Parameters
    ----------
    damping : float, default=0.0
        Added to the diagonal of the Hessian before inversion.
    rcond : float, default=1e-10
        An eigenvalue below ``rcond`` times the largest one counts as zero: the
        Hessian is then treated as singular.
    """

    def __init__(self, damping: float = 0.0, rcond: float = 1e-10):
        super().__init__(damping)
        self.rcond = rcond

    needs = ("hessian",)

    def fit(self, adapter) -> ExactSolver:
        """Factorise ``H + damping·I`` of ``adapter`` and keep its inverse.

        Parameters
        ----------
        adapter : BaseAdapter
            Fitted adapter with a dense Hessian.

        Returns
        -------
        self : ExactSolver
        """
        super().fit(adapter)
        H = _damped_hessian(adapter, self.damping)
        inverse = None
        try:
            cho = sla.cho_factor(H, lower=True, check_finite=True)
            diag = np.abs(np.diag(cho[0])) ** 2
            if diag.min() > self.rcond * diag.max():
                inverse = sla.cho_solve(cho, np.eye(H.shape[0]), check_finite=False)
        except np.linalg.LinAlgError:
            pass
        if inverse is None:
            evals, evecs = np.linalg.eigh(H)
            tol = self.rcond * np.abs(evals).max()
            keep = np.abs(evals) > tol
            if evals.min() < -tol:
                advice = (
                    "it is indefinite, as for a non-convex net away from a minimum: pass "
                    f"gauss_newton=True, or damping > {-evals.min():.3g}"
                )
            else:
                advice = "pass damping > 0 to regularise it instead"
            warnings.warn(
                f"The Hessian ({H.shape[0]}×{H.shape[0]}) is singular or not positive "
                f"definite (eigenvalues from {evals.min():.3g} to {evals.max():.3g}, "
                f"rank {keep.sum()}); using its pseudo-inverse. {advice[0].upper()}"
                f"{advice[1:]}.",
                SingularHessianWarning,
                stacklevel=3,
            )
            inverse = (evecs[:, keep] / evals[keep]) @ evecs[:, keep].T
        # one dense inverse: every later solve is a single matrix product
        self.inverse_ = 0.5 * (inverse + inverse.T)
        return self

    def solve(self, B: np.ndarray) -> np.ndarray:
        B = np.asarray(B, dtype=np.float64)
        return (self.inverse_ @ B.reshape(B.shape[0], -1)).reshape(B.shape)

    def solve_restricted(self, adapter, J: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``(H_J⁺)ᵀ b[J]`` as the minimum-norm least-squares solution of ``H_Jᵀ u = b[J]``.

        Every parameter selected: the exact inverse (fitted on a copy).

        Parameters
        ----------
        adapter : BaseAdapter
        J : ndarray of int
        b : ndarray of shape (m,)

        Returns
        -------
        ndarray of shape (m,)
        """
        if J.size == adapter.n_params:
            return clone(self).fit(adapter).solve(b)
        H = _damped_hessian(adapter, self.damping)
        u, *_ = sla.lstsq(H[:, J].T, b[J], cond=self.rcond)
        return u

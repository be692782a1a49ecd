"""Inverse-Hessian-vector products behind one interface.

Every solver takes an adapter in :meth:`~BaseSolver.fit` and then answers
``solve(B) = (H + damping·I)⁻¹ B`` for right-hand sides ``B`` of shape ``(m,)`` or
``(m, r)``. Influence measures only ever call ``solve``, so a new solver slots in by
subclassing :class:`BaseSolver`.

* :class:`ExactSolver` — dense inverse through a Cholesky factorisation, ``O(m³)``
  once and ``O(m²)`` per right-hand side (one matrix product for all of them). A
  singular or indefinite ``H`` falls back to the eigen-decomposition pseudo-inverse
  with a :class:`SingularHessianWarning`.
* :class:`CGSolver` — conjugate gradient on Hessian-vector products, all right-hand
  sides at once (one batched HVP per iteration), ``O(iterations · HVP)``. Needs
  ``H + damping·I`` positive definite.
"""

from __future__ import annotations

import warnings
from numbers import Real

import numpy as np
import scipy.linalg as sla

from ..exceptions import ConvergenceWarning, SingularHessianWarning

__all__ = ["BaseSolver", "ExactSolver", "CGSolver", "make_solver", "SOLVERS"]
__all__ += ["ArnoldiSolver", "EKFACSolver", "LiSSADivergenceError", "LiSSASolver"]
__all__ += ["ModifiedLiSSASolver"]


class BaseSolver:
    """Base class of inverse-Hessian-vector-product solvers.

    Parameters
    ----------
    damping : float, default=0.0
        Added to the diagonal of the Hessian before inversion.
    """

    def __init__(self, damping: float = 0.0):
        self.damping = damping

    def fit(self, adapter) -> BaseSolver:
        """Prepare to solve with the Hessian of ``adapter``."""
        if not isinstance(self.damping, Real) or self.damping < 0:
            raise ValueError(f"damping must be a float >= 0, got {self.damping!r}.")
        self.adapter_ = adapter
        return self

    def solve(self, B: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        """Return ``(H + damping·I)⁻¹ B``."""
        raise NotImplementedError


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

    def fit(self, adapter) -> ExactSolver:
        super().fit(adapter)
        H = np.array(adapter.hessian(), dtype=np.float64)
        H = 0.5 * (H + H.T)
        H[np.diag_indices_from(H)] += self.damping
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
                    "Hessian is not positive definite. Pass damping > 0, "
                    "gauss_newton=True (torch models) or solver='exact'."
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


from ._arnoldi import ArnoldiSolver  # noqa: E402  (these subclass BaseSolver, above)
from ._ekfac import EKFACSolver  # noqa: E402
from ._kfac import KFACSolver  # noqa: E402
from ._lissa import LiSSADivergenceError, LiSSASolver, ModifiedLiSSASolver  # noqa: E402

SOLVERS = {
    "exact": ExactSolver,
    "cg": CGSolver,
    "kfac": KFACSolver,
    "lissa": LiSSASolver,
    "modified_lissa": ModifiedLiSSASolver,
    "arnoldi": ArnoldiSolver,
    "ekfac": EKFACSolver,
}


def make_solver(solver="exact", damping: float = 0.0) -> BaseSolver:
    """Return a solver instance from a name in :data:`SOLVERS` or an instance.

    Names: ``"exact"``, ``"cg"``, ``"kfac"``, ``"lissa"``, ``"modified_lissa"``,
    ``"arnoldi"``, ``"ekfac"`` (each with its default settings and ``damping``).
    """
    if isinstance(solver, BaseSolver):
        return solver
    if isinstance(solver, str) and solver in SOLVERS:
        return SOLVERS[solver](damping=damping)
    raise ValueError(
        f"solver must be one of {sorted(SOLVERS)} or a BaseSolver instance, got {solver!r}."
    )

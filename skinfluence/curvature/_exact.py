"""The exact solver: a dense inverse through a Cholesky factorisation.

``O(m³/3)`` once (Cholesky) and ``O(m²)`` per right-hand side (triangular solves,
or one product with the inverse, which the per-row measures' block solves form on
first use, ``O(m³)`` more); ``3 · 8 m²`` bytes at the peak (the Hessian, its
factor and the inverse). A
singular or indefinite ``H`` falls back to the eigen-decomposition pseudo-inverse
with a :class:`~skinfluence.SingularHessianWarning`. Above ``max_memory_mb`` (4 GiB
by default, ``m`` above 13,377) :meth:`ExactSolver.fit` refuses before building
anything and names the memory it would need.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg as sla
from sklearn.base import clone

from ..exceptions import SingularHessianWarning
from ._base import BaseSolver

__all__ = ["EXACT_MAX_MEMORY_MB", "ExactSolver", "exact_memory_mb"]

#: Default hard bound of the exact solver: the memory its factorisation may take (MiB).
EXACT_MAX_MEMORY_MB = 4096


def exact_memory_mb(n_params: int) -> float:
    """Peak memory of :class:`ExactSolver` for ``m`` parameters, in MiB (``3 · 8 m²`` bytes)."""
    return 3 * 8 * float(n_params) ** 2 / 2**20


def _damped_hessian(adapter, damping: float) -> np.ndarray:
    """``H + damping·I``, symmetrised, as a new float64 array."""
    H = np.array(adapter.hessian(), dtype=np.float64)
    H += H.T  # numpy reads the overlapping transpose from a copy
    H *= 0.5
    H[np.diag_indices_from(H)] += damping
    return H


def _check_memory(n_params: int, max_memory_mb) -> None:
    if max_memory_mb is None:
        return
    need = exact_memory_mb(n_params)
    if need > max_memory_mb:
        raise ValueError(
            f"solver='exact' needs {_size(need)} for the {n_params:,}×{n_params:,} "
            f"Hessian, its Cholesky factor and its inverse (3·8·m² bytes), above the "
            f"bound of {_size(max_memory_mb)} (ExactSolver(max_memory_mb="
            f"{max_memory_mb:g})). Use solver='auto' or 'cg' (preconditioned conjugate "
            "gradient on Hessian-vector products, O(m) memory), or raise max_memory_mb."
        )


def _as_slice(idx: np.ndarray):
    """A run of consecutive positions as a slice (a view instead of a copy)."""
    idx = np.asarray(idx)
    if idx.size and idx[-1] - idx[0] + 1 == idx.size and np.all(np.diff(idx) == 1):
        return slice(int(idx[0]), int(idx[-1]) + 1)
    return idx


def _size(mb: float) -> str:
    return f"{mb / 1024:.1f} GiB" if mb >= 1024 else f"{mb:.0f} MiB"


class ExactSolver(BaseSolver):
    """Dense inverse through a Cholesky factorisation (pseudo-inverse fallback).

    Parameters
    ----------
    damping : float, default=0.0
        Added to the diagonal of the Hessian before inversion.
    rcond : float, default=1e-10
        An eigenvalue below ``rcond`` times the largest one counts as zero: the
        Hessian is then treated as singular.
    max_memory_mb : float or None, default=4096
        Hard bound on the memory of the factorisation (``3 · 8 m²`` bytes): above it
        :meth:`fit` raises ``ValueError`` naming the memory it would need. ``None``
        removes the bound.
    """

    def __init__(
        self,
        damping: float = 0.0,
        rcond: float = 1e-10,
        max_memory_mb: float | None = EXACT_MAX_MEMORY_MB,
    ):
        super().__init__(damping)
        self.rcond = rcond
        self.max_memory_mb = max_memory_mb

    needs = ("hessian",)

    def fit(self, adapter) -> ExactSolver:
        """Factorise ``H + damping·I`` of ``adapter`` (Cholesky, or the pseudo-inverse).

        Parameters
        ----------
        adapter : BaseAdapter
            Fitted adapter with a dense Hessian.

        Returns
        -------
        self : ExactSolver
        """
        super().fit(adapter)
        _check_memory(adapter.n_params, self.max_memory_mb)
        H = _damped_hessian(adapter, self.damping)
        self.cho_ = None
        self._inverse = None
        try:
            cho = sla.cho_factor(H, lower=True, check_finite=True)
            diag = np.abs(np.diag(cho[0])) ** 2
            if diag.min() > self.rcond * diag.max():
                self.cho_ = cho
        except np.linalg.LinAlgError:
            pass
        if self.cho_ is None:
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
            del evecs
            self._set_inverse(inverse)
        return self

    def _set_inverse(self, inverse: np.ndarray) -> None:
        inverse += inverse.T  # numpy reads the overlapping transpose from a copy
        inverse *= 0.5
        self._inverse = inverse
        self.cho_ = None  # the factor is not needed any more

    @property
    def inverse_(self) -> np.ndarray:
        """The dense (pseudo-)inverse ``(H + damping·I)⁻¹``, formed on first use.

        :meth:`solve` uses the Cholesky factor until the inverse exists (one solve,
        as for ``"if"``, never forms it); :meth:`solve_outputs` forms it, since its
        row blocks are what the per-row measures contract with.
        """
        if self._inverse is None:
            m = self.cho_[0].shape[0]
            self._set_inverse(sla.cho_solve(self.cho_, np.eye(m), overwrite_b=True))
        return self._inverse

    def rebound(self, adapter) -> ExactSolver:
        """A copy answering for ``adapter`` (see :meth:`BaseSolver.rebound`), with the
        inverse formed once here rather than on every worker.

        Parameters
        ----------
        adapter : BaseAdapter

        Returns
        -------
        ExactSolver
        """
        self.inverse_  # noqa: B018 - form it before copying
        return super().rebound(adapter)

    def solve(self, B: np.ndarray) -> np.ndarray:
        B = np.asarray(B, dtype=np.float64)
        B2 = B.reshape(B.shape[0], -1)
        if self._inverse is None:
            return sla.cho_solve(self.cho_, B2, check_finite=False).reshape(B.shape)
        return (self._inverse @ B2).reshape(B.shape)

    def solve_outputs(self, A, index: np.ndarray) -> np.ndarray:
        """``H⁻¹ (e_k ⊗ A[i])`` by blocks: ``A @ inverse_[index[k]]`` for each output ``k``.

        ``O(n K' q m)`` instead of the ``O(n K' m²)`` of :meth:`solve` on the
        zero-padded columns (see :meth:`BaseSolver.solve_outputs`).

        Parameters
        ----------
        A : {ndarray, sparse matrix} of shape (n, q)
        index : ndarray of int of shape (K', q)

        Returns
        -------
        ndarray of shape (n, K', m)
        """
        inverse = self.inverse_
        n, k = A.shape[0], index.shape[0]
        out = np.empty((n, k, inverse.shape[0]))
        for block in range(k):
            # the inverse is symmetric: its rows index[k] are its columns index[k]
            out[:, block, :] = A @ inverse[_as_slice(index[block])]
        return out

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

"""The solver interface: inverse-Hessian-vector products of an adapter's curvature.

Every solver takes an adapter in :meth:`~BaseSolver.fit` and then answers
``solve(B) = (H + damping·I)⁻¹ B`` for right-hand sides ``B`` of shape ``(m,)`` or
``(m, r)``. Influence measures only ever call ``solve`` (and GIF
:meth:`~BaseSolver.solve_restricted`), so a new solver slots in by subclassing
:class:`BaseSolver`, declaring the adapter capabilities it needs in ``needs`` and
registering it in :data:`skinfluence.curvature.SOLVERS`.

Solvers are scikit-learn style objects (``get_params`` / ``set_params`` /
:func:`sklearn.base.clone`): the estimators clone the solver a user passes before
fitting it, so the user's object is never changed.
"""

from __future__ import annotations

import copy
from numbers import Real
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator

from ..adapters import require

__all__ = ["BaseSolver"]


class BaseSolver(BaseEstimator):
    """Base class of inverse-Hessian-vector-product solvers.

    Parameters
    ----------
    damping : float, default=0.0
        Added to the diagonal of the Hessian before inversion.

    Attributes
    ----------
    needs : tuple of str
        The adapter capabilities :meth:`fit` requires (class attribute).
    adapter_ : BaseAdapter
        The adapter the solver was fitted on.
    """

    needs: ClassVar[tuple[str, ...]] = ("hvp",)
    #: What to use instead when an adapter lacks one of :attr:`needs`.
    hint: ClassVar[str] = ""

    def __init__(self, damping: float = 0.0):
        self.damping = damping

    def fit(self, adapter) -> BaseSolver:
        """Prepare to solve with the Hessian of ``adapter``.

        Parameters
        ----------
        adapter : BaseAdapter
            Fitted adapter with the capabilities in :attr:`needs`.

        Returns
        -------
        self : BaseSolver
        """
        if not isinstance(self.damping, Real) or self.damping < 0:
            raise ValueError(f"damping must be a float >= 0, got {self.damping!r}.")
        require(adapter, *self.needs, what=type(self).__name__, hint=self.hint)
        self.adapter_ = adapter
        return self

    def rebound(self, adapter) -> BaseSolver:
        """A copy of this fitted solver that answers for ``adapter``.

        ``adapter`` is a copy of the one it was fitted on without the training rows
        (``adapter.detached()``): what is shipped to dask workers. A solver whose
        :meth:`solve` goes back to the training rows (conjugate gradient's
        Hessian-vector products) then cannot solve there.

        Parameters
        ----------
        adapter : BaseAdapter

        Returns
        -------
        BaseSolver
        """
        new = copy.copy(self)
        new.adapter_ = adapter
        return new

    def solve(self, B: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        """Return ``(H + damping·I)⁻¹ B``."""
        raise NotImplementedError

    def solve_outputs(self, A, index: np.ndarray) -> np.ndarray:
        """``(H + damping·I)⁻¹ ∂θ f_k(x_i)`` for outputs linear in the parameters.

        ``∂θ f_k(x_i) = e_k ⊗ A[i]`` placed at ``θ[index[k]]`` (the adapters'
        ``linear_outputs`` capability): ``K'`` columns per row that are zero outside
        one parameter block. This default builds those columns and calls
        :meth:`solve`; :class:`~skinfluence.curvature.ExactSolver` contracts the
        inverse's ``K'`` row blocks with ``A`` instead (``K'`` times fewer
        operations).

        Parameters
        ----------
        A : {ndarray, sparse matrix} of shape (n, q)
            Per-row features.
        index : ndarray of int of shape (K', q)
            Positions in ``θ`` of each output's parameters.

        Returns
        -------
        ndarray of shape (n, K', m)
        """
        n = A.shape[0]
        k = index.shape[0]
        m = self.adapter_.n_params
        dense = A.toarray() if sp.issparse(A) else np.asarray(A, dtype=np.float64)
        B = np.zeros((n, k, m))
        for out in range(k):
            B[:, out, index[out]] = dense
        return self.solve(B.reshape(n * k, m).T).T.reshape(n, k, m)

    def solve_restricted(self, adapter, J: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Return ``(H_J⁺)ᵀ b[J]``: influence restricted to the parameters ``J``.

        ``H_J = (H + damping·I)[:, J]`` and ``H_J⁺ = (H_Jᵀ H_J)⁻¹ H_Jᵀ`` is seed 004's
        Moore-Penrose solve (GIF, eq. 6). ``H⁻¹ b`` when ``J`` is every parameter.
        Only solvers that approximate ``H_J⁺`` itself (not ``H⁻¹``) provide it; they
        fit what they need on a copy, so this solver stays unfitted.

        Parameters
        ----------
        adapter : BaseAdapter
        J : ndarray of int
            Sorted positions in ``θ``.
        b : ndarray of shape (m,)

        Returns
        -------
        ndarray of shape (m,)
        """
        raise ValueError(
            "method='gif' needs the Moore-Penrose solve H_J⁺ of seed 004: pass "
            "solver='exact' (dense) or solver='modified_lissa' (the paper's series), got "
            f"{type(self).__name__}."
        )

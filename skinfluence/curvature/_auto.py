"""``solver="auto"``: the exact solver when its factorisation is small, else PCG.

The rule, applied when the solver is fitted on an adapter with ``m`` parameters:

* **exact** (:class:`~skinfluence.curvature.ExactSolver`) when the adapter has a
  dense Hessian and ``m ≤ max_exact_params`` (4,096 by default) — for measures that
  solve once (``solves="one"``: ``"if"``, whose one solve is the validation
  gradient's) ``m ≤ max_exact_params_one`` (512). At 4,096 the Hessian, its factor
  and its inverse take ``3 · 8 m² = 384 MiB`` and the factorisation and inverse
  about ``m³ ≈ 7·10¹⁰`` floating-point operations (a few seconds on one core);
  every later solve is one matrix product, which is what the per-row measures
  (``"fi"``, ``"self"``, ``"loo_confidence"``) need. One solve does not repay
  building ``H`` (``O(n m²)`` for dense rows): above 512 parameters one
  preconditioned CG solve, ``O(iterations · n m)``, is cheaper (measured: 1.3× faster
  at 50,000 × 1,000 dense rows, 10–16× at 50,000 × 2,000–4,000 sparse rows);
* **conjugate gradient** (:class:`~skinfluence.curvature.CGSolver`) otherwise, on
  Hessian-vector products, with the Jacobi (diagonal) preconditioner when the
  adapter declares ``hessian_diagonal`` (the linear models) and without one
  otherwise: ``O(m)`` memory per right-hand side, the Hessian never built.

``solver_`` is the fitted solver that was chosen and ``choice_`` its name; the
estimators record the name in their ``solver_`` attribute and print the reason
with ``verbose``.
"""

from __future__ import annotations

import numpy as np

from ..adapters import require
from ._base import BaseSolver
from ._cg import CGSolver
from ._exact import ExactSolver, exact_memory_mb

__all__ = ["AUTO_MAX_EXACT_PARAMS", "AUTO_MAX_EXACT_PARAMS_ONE", "AutoSolver"]

#: Largest ``m`` for which ``solver="auto"`` factorises the Hessian.
AUTO_MAX_EXACT_PARAMS = 4096
#: The same bound for a measure that solves once (``solves="one"``).
AUTO_MAX_EXACT_PARAMS_ONE = 512


class AutoSolver(BaseSolver):
    """The exact solver up to ``max_exact_params`` parameters, preconditioned CG above.

    Parameters
    ----------
    damping : float, default=0.0
        Added to the diagonal of the Hessian.
    max_exact_params : int, default=4096
        Largest number of parameters ``m`` solved exactly (``3 · 8 m²`` bytes and
        about ``m³`` operations for the factorisation; 384 MiB at 4,096).
    max_exact_params_one : int, default=512
        The same bound when only one solve is made (``solves="one"``).
    solves : {"rows", "one"}, default="rows"
        The measure's solves (set by the dispatch from the measure's declaration).
    tol : float, default=1e-8
        Relative residual of conjugate gradient, when chosen.
    max_iter : int, default=None
        Iteration cap of conjugate gradient (``None``: ``10 · m``).

    Attributes
    ----------
    solver_ : BaseSolver
        The fitted solver that was chosen.
    choice_ : {"exact", "cg"}
        Its name.
    reason_ : str
        Why, in words (what ``verbose`` prints).
    """

    #: What every choice can run on: conjugate gradient needs Hessian-vector products
    #: (an adapter with a dense Hessian has them too), so a model without either is
    #: refused before anything is fitted.
    needs = ("hvp",)

    def __init__(
        self,
        damping: float = 0.0,
        max_exact_params: int = AUTO_MAX_EXACT_PARAMS,
        max_exact_params_one: int = AUTO_MAX_EXACT_PARAMS_ONE,
        solves: str = "rows",
        tol: float = 1e-8,
        max_iter: int | None = None,
    ):
        super().__init__(damping)
        self.max_exact_params = max_exact_params
        self.max_exact_params_one = max_exact_params_one
        self.solves = solves
        self.tol = tol
        self.max_iter = max_iter

    def fit(self, adapter) -> AutoSolver:
        """Choose a solver for ``adapter`` (module docstring) and fit it.

        Parameters
        ----------
        adapter : BaseAdapter
            Fitted adapter with a dense Hessian or Hessian-vector products.

        Returns
        -------
        self : AutoSolver
        """
        super().fit(adapter)
        if self.solves not in ("rows", "one"):
            raise ValueError(f"solves must be 'rows' or 'one', got {self.solves!r}.")
        m = adapter.n_params
        dense = "hessian" in adapter.capabilities
        bound = self.max_exact_params if self.solves == "rows" else self.max_exact_params_one
        bound = min(bound, self.max_exact_params)
        what = "" if self.solves == "rows" else " for one solve"
        if dense and (m <= bound or "hvp" not in adapter.capabilities):
            self.choice_ = "exact"
            self.reason_ = (
                f"m = {m:,} parameters ≤ {bound:,}{what}: the dense factorisation "
                f"takes {_mb(exact_memory_mb(m))}"
            )
            self.solver_ = ExactSolver(damping=self.damping).fit(adapter)
            return self
        require(adapter, "hvp", what="solver='auto'", hint="Pass a solver that fits this model.")
        solver = CGSolver(damping=self.damping, tol=self.tol, max_iter=self.max_iter).fit(adapter)
        self.choice_ = "cg"
        pre = "Jacobi-preconditioned" if solver.preconditioner_ == "jacobi" else "unpreconditioned"
        self.reason_ = (
            f"m = {m:,} parameters > {bound:,}{what}"
            if dense
            else f"{adapter.model_name} has no dense Hessian"
        ) + (
            f" (the dense factorisation would take {_mb(exact_memory_mb(m))}): "
            f"{pre} conjugate gradient"
        )
        self.solver_ = solver
        return self

    def rebound(self, adapter) -> AutoSolver:
        """A copy whose chosen solver answers for ``adapter`` (:meth:`BaseSolver.rebound`).

        Parameters
        ----------
        adapter : BaseAdapter

        Returns
        -------
        AutoSolver
        """
        new = super().rebound(adapter)
        new.solver_ = self.solver_.rebound(adapter)
        return new

    def solve(self, B: np.ndarray) -> np.ndarray:
        return self.solver_.solve(B)

    def solve_outputs(self, A, index: np.ndarray) -> np.ndarray:
        return self.solver_.solve_outputs(A, index)

    def solve_restricted(self, adapter, J: np.ndarray, b: np.ndarray) -> np.ndarray:
        """GIF's restricted solve: the exact one (``m ≤ max_exact_params``), else refused.

        Parameters
        ----------
        adapter : BaseAdapter
        J : ndarray of int
        b : ndarray of shape (m,)

        Returns
        -------
        ndarray of shape (m,)
        """
        if "hessian" in adapter.capabilities and adapter.n_params <= self.max_exact_params:
            return ExactSolver(damping=self.damping).solve_restricted(adapter, J, b)
        return super().solve_restricted(adapter, J, b)


def _mb(mb: float) -> str:
    return f"{mb / 1024:.1f} GiB" if mb >= 1024 else f"{mb:.1f} MiB"

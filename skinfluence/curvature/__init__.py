"""Inverse-Hessian-vector products (curvature layer): one solver per module.

:data:`SOLVERS` names them for ``solver=``; :func:`make_solver` builds (or clones)
one; ``"auto"`` (:class:`AutoSolver`, the default) chooses the exact solver or
Jacobi-preconditioned conjugate gradient by the number of parameters. Each solver
declares the adapter capabilities it needs (``needs``).
"""

from ._arnoldi import ArnoldiSolver
from ._auto import AUTO_MAX_EXACT_PARAMS, AUTO_MAX_EXACT_PARAMS_ONE, AutoSolver
from ._base import BaseSolver
from ._cg import PRECONDITIONERS, CGSolver
from ._ekfac import EKFACSolver
from ._exact import EXACT_MAX_MEMORY_MB, ExactSolver, exact_memory_mb
from ._kfac import KFACSolver
from ._lissa import LiSSADivergenceError, LiSSASolver, ModifiedLiSSASolver
from ._registry import SOLVERS, make_solver, solver_name

__all__ = [
    "AUTO_MAX_EXACT_PARAMS",
    "AUTO_MAX_EXACT_PARAMS_ONE",
    "EXACT_MAX_MEMORY_MB",
    "PRECONDITIONERS",
    "ArnoldiSolver",
    "AutoSolver",
    "BaseSolver",
    "CGSolver",
    "EKFACSolver",
    "ExactSolver",
    "KFACSolver",
    "LiSSADivergenceError",
    "LiSSASolver",
    "ModifiedLiSSASolver",
    "SOLVERS",
    "exact_memory_mb",
    "make_solver",
    "solver_name",
]

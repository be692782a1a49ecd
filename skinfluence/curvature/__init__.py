"""Inverse-Hessian-vector products (curvature layer): one solver per module.

:data:`SOLVERS` names them for ``solver=``; :func:`make_solver` builds (or clones)
one. Each solver declares the adapter capabilities it needs (``needs``).
"""

from ._arnoldi import ArnoldiSolver
from ._base import BaseSolver
from ._cg import CGSolver
from ._ekfac import EKFACSolver
from ._exact import ExactSolver
from ._kfac import KFACSolver
from ._lissa import LiSSADivergenceError, LiSSASolver, ModifiedLiSSASolver
from ._registry import SOLVERS, make_solver

__all__ = [
    "ArnoldiSolver",
    "BaseSolver",
    "CGSolver",
    "EKFACSolver",
    "ExactSolver",
    "KFACSolver",
    "LiSSADivergenceError",
    "LiSSASolver",
    "ModifiedLiSSASolver",
    "SOLVERS",
    "make_solver",
]

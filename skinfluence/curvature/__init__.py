"""Inverse-Hessian-vector products (curvature layer)."""

from ._solvers import (
    SOLVERS,
    ArnoldiSolver,
    BaseSolver,
    CGSolver,
    EKFACSolver,
    ExactSolver,
    KFACSolver,
    LiSSADivergenceError,
    LiSSASolver,
    ModifiedLiSSASolver,
    make_solver,
)

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

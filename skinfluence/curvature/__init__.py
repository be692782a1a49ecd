"""Inverse-Hessian-vector products (curvature layer)."""

from ._solvers import SOLVERS, BaseSolver, CGSolver, ExactSolver, KFACSolver, make_solver

__all__ = ["BaseSolver", "CGSolver", "ExactSolver", "KFACSolver", "SOLVERS", "make_solver"]

"""Inverse-Hessian-vector products (curvature layer)."""

from ._solvers import SOLVERS, BaseSolver, CGSolver, ExactSolver, make_solver

__all__ = ["BaseSolver", "CGSolver", "ExactSolver", "SOLVERS", "make_solver"]

"""The solver registry: ``solver=`` names and :func:`make_solver`."""

from __future__ import annotations

from sklearn.base import clone

from ._arnoldi import ArnoldiSolver
from ._base import BaseSolver
from ._cg import CGSolver
from ._ekfac import EKFACSolver
from ._exact import ExactSolver
from ._kfac import KFACSolver
from ._lissa import LiSSASolver, ModifiedLiSSASolver

__all__ = ["SOLVERS", "make_solver"]

#: ``solver=`` name -> solver class (constructed with its defaults and ``damping``).
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
    """Return an unfitted solver from a name in :data:`SOLVERS` or an instance.

    Parameters
    ----------
    solver : str or BaseSolver, default="exact"
        A name (``"exact"``, ``"cg"``, ``"kfac"``, ``"lissa"``, ``"modified_lissa"``,
        ``"arnoldi"``, ``"ekfac"``: that solver with its default settings and
        ``damping``) or a solver object, which is cloned (its own ``damping`` kept),
        so that fitting never changes the caller's object.
    damping : float, default=0.0
        Damping of a solver given by name.

    Returns
    -------
    BaseSolver
    """
    if isinstance(solver, BaseSolver):
        return clone(solver)
    if isinstance(solver, str) and solver in SOLVERS:
        return SOLVERS[solver](damping=damping)
    raise ValueError(
        f"solver must be one of {sorted(SOLVERS)} or a BaseSolver instance, got {solver!r}."
    )

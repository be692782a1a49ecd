"""The solver registry: ``solver=`` names and :func:`make_solver`."""

from __future__ import annotations

from sklearn.base import clone

from ._arnoldi import ArnoldiSolver
from ._auto import AutoSolver
from ._base import BaseSolver
from ._cg import CGSolver
from ._ekfac import EKFACSolver
from ._exact import ExactSolver
from ._kfac import KFACSolver
from ._lissa import LiSSASolver, ModifiedLiSSASolver

__all__ = ["SOLVERS", "make_solver", "solver_name"]

#: ``solver=`` name -> solver class (constructed with its defaults and ``damping``).
SOLVERS = {
    "auto": AutoSolver,
    "exact": ExactSolver,
    "cg": CGSolver,
    "kfac": KFACSolver,
    "lissa": LiSSASolver,
    "modified_lissa": ModifiedLiSSASolver,
    "arnoldi": ArnoldiSolver,
    "ekfac": EKFACSolver,
}


def solver_name(solver: BaseSolver) -> str:
    """The ``solver=`` name of a (fitted) solver: what ``"auto"`` chose, else its registry name.

    Parameters
    ----------
    solver : BaseSolver

    Returns
    -------
    str
        A key of :data:`SOLVERS`, or the class name of an unregistered solver.
    """
    if isinstance(solver, AutoSolver) and hasattr(solver, "choice_"):
        return solver.choice_
    for name, cls in SOLVERS.items():
        if type(solver) is cls:
            return name
    return type(solver).__name__


def make_solver(solver="auto", damping: float = 0.0) -> BaseSolver:
    """Return an unfitted solver from a name in :data:`SOLVERS` or an instance.

    Parameters
    ----------
    solver : str or BaseSolver, default="auto"
        A name (``"auto"``, ``"exact"``, ``"cg"``, ``"kfac"``, ``"lissa"``,
        ``"modified_lissa"``, ``"arnoldi"``, ``"ekfac"``: that solver with its
        default settings and ``damping``; ``"auto"`` chooses ``"exact"`` or
        preconditioned ``"cg"`` when fitted, see :class:`AutoSolver`) or a solver
        object, which is cloned (its own ``damping`` kept), so that fitting never
        changes the caller's object.
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

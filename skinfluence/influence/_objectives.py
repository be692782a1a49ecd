"""Validation objectives whose change the gradient-based measures predict.

Every gradient-based measure needs the gradient ``∂θ f_V(θ̂)`` of a validation
objective ``f_V``. By default it is the mean validation loss (``"utility"``); the
other objectives of seed 001 plug in here. An objective is an object with one method,
``grad(adapter, X_val, y_val_enc) -> (m,)``; measures call it and nothing else, so a
new objective needs no change to any measure.

* ``"utility"`` — ``f_V = mean_v L(y_v, x_v; θ)``, the mean validation loss.
"""

from __future__ import annotations

import inspect

import numpy as np

from ._common import mean_loss_grad

__all__ = ["OBJECTIVES", "BaseObjective", "UtilityObjective", "make_objective"]


class BaseObjective:
    """A differentiable function of the parameters, evaluated on the validation set."""

    name = "base"

    def grad(self, adapter, X_val, y_val_enc) -> np.ndarray:  # pragma: no cover
        """Return ``∂θ f_V(θ̂)``, shape ``(m,)``."""
        raise NotImplementedError


class UtilityObjective(BaseObjective):
    """The mean validation loss ``mean_v L(y_v, x_v; θ̂)``."""

    name = "utility"

    def grad(self, adapter, X_val, y_val_enc) -> np.ndarray:
        return mean_loss_grad(adapter, X_val, y_val_enc)


OBJECTIVES = {"utility": UtilityObjective}


def make_objective(objective="utility", **options) -> BaseObjective:
    """Return an objective instance from a name in :data:`OBJECTIVES` or an instance.

    ``options`` are passed to the objective's constructor (names it does not take
    are ignored), e.g. ``sensitive`` for fairness or ``epsilon`` for robustness.
    """
    if isinstance(objective, BaseObjective):
        return objective
    if isinstance(objective, str) and objective in OBJECTIVES:
        cls = OBJECTIVES[objective]
        accepted = inspect.signature(cls).parameters
        return cls(**{k: v for k, v in options.items() if k in accepted})
    raise ValueError(
        f"objective must be one of {sorted(OBJECTIVES)} or a BaseObjective instance, "
        f"got {objective!r}."
    )

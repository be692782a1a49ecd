"""Classic influence of each training row on the mean validation loss (``"if"``).

Koh & Liang (2017); the IV baseline of Chhabra et al. (2024) as written in seed
``000_c2daca84f3c63cf9.txt`` §1. Removing row ``i`` moves the parameters by about
``(1/n) H⁻¹ ∂θ L_i`` and so changes the mean validation loss by about
``(1/n) ḡ_Vᵀ H⁻¹ ∂θ L_i``. The score is the negative of that change::

    score_i = -(1/n) ḡ_Vᵀ H⁻¹ ∂θ L(y_i, x_i; θ̂)

so the highest score marks the row whose removal lowers the validation loss most
(Chhabra et al.'s "negative influence" rows). It approximates
``L_V(θ̂) - L_V(θ̂_{-i})`` from leave-one-out retraining.

Cost: one inverse-Hessian-vector product, then one gradient per row: ``O(n m)``.
"""

from __future__ import annotations

import numpy as np

from ._common import inner_product_scores
from ._objectives import UtilityObjective

__all__ = ["if_scores"]


def if_scores(adapter, solver, X, y_enc, X_val, y_val_enc, *, objective=None) -> np.ndarray:
    """Influence scores of the training rows ``X`` on the validation loss.

    Parameters
    ----------
    adapter : BaseAdapter
    solver : BaseSolver, already fitted on ``adapter``
    X, y_enc : training rows and encoded targets
    X_val, y_val_enc : validation rows and encoded targets
    objective : BaseObjective, default=None
        The validation objective ``f_V`` (``None``: the mean validation loss).

    Returns
    -------
    ndarray of shape (n,)
    """
    objective = objective or UtilityObjective()
    u = solver.solve(objective.grad(adapter, X_val, y_val_enc))
    return -inner_product_scores(adapter, X, y_enc, u) / adapter.weight_sum

"""Hessian-free influence: inner products (``"ip"``) and their dropout ensemble (``"ip_ensemble"``).

Source: seed ``001_88d557979f1cfd41.txt`` (Yang et al., "Revisit, Extend, and Enhance
Hessian-Free Influence Functions"), §3 eq. (2) for IP and Appendix B.2.5 eq. (5) for
IP Ensemble. The seed's text rendering lost its display equations; they are rebuilt
here from its prose ("substituting the inverse of the Hessian matrix with an
identity matrix", "the inner product of [the validation gradient] and the sample
gradient", "IP Ensemble gets [θ] by applying dropout mechanisms on the model") and
from the papers it builds on (Koh & Liang 2017 for eq. (1); Pruthi et al. 2020,
TracIn, with one checkpoint for eq. (2)).

IP. Classic influence ``-(1/n) ∂θf_Vᵀ H⁻¹ ∂θL_i`` (``"if"``) with ``H⁻¹`` replaced by
the identity::

    score_i = -(1/n) ∂θf_V(θ̂)ᵀ ∂θL(y_i, x_i; θ̂)

``f_V`` is the validation objective (``objective=``; the mean validation loss by
default). The seed's raw IP is ``∂θf_Vᵀ ∂θL_i`` (positive = the row's gradient step
lowers ``f_V``: helpful; negative = detrimental). It is negated, so that the highest
score is trimmed first, and divided by ``n``, so that ``"ip"`` is exactly ``"if"``
with ``H = I``: the predicted decrease of ``f_V`` when the row is removed, under an
identity curvature. A positive factor changes no ranking.

IP Ensemble. ``E = n_estimators`` models are made without retraining by dropout masks
on the parameters, ``θ_e = θ̂ ⊙ m_e / (1 - p)`` with ``m_e`` i.i.d. Bernoulli(``1 - p``)
per coordinate (``p = dropout``), and their IP scores are averaged::

    score_i = -(1/n) (1/E) Σ_e ∂θf_V(θ_e)ᵀ ∂θL(y_i, x_i; θ_e)

The same mask is used for the validation gradient and every row's gradient of model
``e``. The seed does not say whether the kept parameters are rescaled; we use
inverted dropout, the convention of ``torch.nn.functional.dropout`` (which the
seed's "dropout mechanism" on a PyTorch model applies), so that ``E[θ_e] = θ̂``. The
masks cover the parameters influence is taken over (``params``; all parameters of a
linear model, intercepts included); parameters outside the selection are kept.
``dropout=0`` gives ``θ_e = θ̂`` and exactly ``"ip"``.

Cost: ``"ip"`` one validation-objective gradient and one gradient per training row,
``O((n + n_val) m)``, no Hessian (``curvature="none"`` in the registry).
``"ip_ensemble"``: ``E`` times that.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state

from ._common import inner_product_scores
from ._objectives import UtilityObjective

__all__ = ["ip_ensemble_scores", "ip_scores"]


def ip_scores(adapter, solver, X, y_enc, X_val, y_val_enc, *, objective=None) -> np.ndarray:
    """IP scores: ``-(1/n) ∂θf_Vᵀ ∂θL_i`` at the fitted parameters (higher = trim first).

    Parameters
    ----------
    adapter : BaseAdapter
    solver : None
        Unused (the measure is Hessian-free).
    X, y_enc : training rows and encoded targets
    X_val, y_val_enc : validation rows and encoded targets
    objective : BaseObjective, default=None
        The validation objective ``f_V`` (``None``: the mean validation loss).

    Returns
    -------
    ndarray of shape (n,)
    """
    objective = objective or UtilityObjective()
    v = objective.grad(adapter, X_val, y_val_enc)
    return -inner_product_scores(adapter, X, y_enc, v) / adapter.weight_sum


def ip_ensemble_scores(
    adapter,
    solver,
    X,
    y_enc,
    X_val,
    y_val_enc,
    *,
    objective=None,
    n_estimators: int = 5,
    dropout: float = 0.1,
    random_state=None,
) -> np.ndarray:
    """IP Ensemble scores: IP averaged over dropout-masked parameters (higher = trim first).

    Parameters
    ----------
    adapter : BaseAdapter
        Needs ``get_theta`` and ``at_theta``.
    solver : None
        Unused (the measure is Hessian-free).
    X, y_enc : training rows and encoded targets
    X_val, y_val_enc : validation rows and encoded targets
    objective : BaseObjective, default=None
        The validation objective ``f_V`` (``None``: the mean validation loss).
    n_estimators : int, default=5
        Ensemble size ``E``.
    dropout : float in [0, 1), default=0.1
        Probability ``p`` that a parameter is zeroed; kept ones are scaled by
        ``1/(1 - p)``.
    random_state : int, RandomState instance or None, default=None
        Seeds the masks.

    Returns
    -------
    ndarray of shape (n,)
    """
    if not isinstance(n_estimators, Integral) or isinstance(n_estimators, bool) or n_estimators < 1:
        raise ValueError(f"n_estimators must be a positive int, got {n_estimators!r}.")
    if not isinstance(dropout, Real) or not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be a float in [0, 1), got {dropout!r}.")
    objective = objective or UtilityObjective()
    rng = check_random_state(random_state)
    theta = adapter.get_theta()
    total = np.zeros(X.shape[0])
    for _ in range(n_estimators):
        mask = rng.uniform(size=theta.shape) >= dropout
        model = adapter.at_theta(theta * mask / (1.0 - dropout))
        v = objective.grad(model, X_val, y_val_enc)
        total += inner_product_scores(model, X, y_enc, v)
    return -total / (n_estimators * adapter.weight_sum)

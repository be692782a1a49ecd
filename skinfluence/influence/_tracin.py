"""TracIn-CP (``"tracin"``) and its self-influence (``"self_tracin"``).

Source: Pruthi, Liu, Kale & Sundararajan, "Estimating training data influence by
tracing gradient descent" (NeurIPS 2020), eq. (5) TracInCP; survey
``003_61d1aa66ad3d904f.txt`` §5.2.1 eq. (56); TracIn and Self-TracIn (Thakkar et al.
2023) are baselines of seed ``001_88d557979f1cfd41.txt`` (App. B.2.5 eq. (5), lost in
its text rendering and rebuilt from Pruthi et al.).

Checkpoints ``θ_1..θ_T`` and learning rates ``η_t`` are recorded during training by
:class:`skinfluence.callbacks.TracInCheckpoints` on a skorch net. With ``η_t`` the
per-parameter learning rate (one value per optimizer group)::

    tracin:       score_i = -(1/n) Σ_t Σ_j η_tj ∂θ_j f_V(θ_t) ∂θ_j L(y_i, x_i; θ_t)
    self_tracin:  score_i = Σ_t Σ_j η_tj (∂θ_j L(y_i, x_i; θ_t))²

``f_V`` is the validation objective (``objective=``, the mean validation loss by
default). Pruthi et al.'s raw TracInCP ``Σ_t η_t ∇L(z_V)·∇L(z_i)`` is positive for
proponents (the row's gradient steps lowered the validation loss); it is negated
(highest = trimmed first: the rows whose steps raised ``f_V``) and divided by ``n``:
with a mean-reduced loss, a full-batch step gives row ``i`` the share ``η/n`` of the
update, and the scale then matches ``"ip"`` — one checkpoint at the fitted
parameters gives ``η · ip`` exactly. Self-TracIn is Pruthi et al.'s self-influence
``TracInCP(z_i, z_i)`` unchanged: high = the row is hard to fit all along training
(likely mislabeled), trimmed first.

The gradients are taken over the ``params`` selection at each checkpoint, with the
rest of the module (and its buffers) at that checkpoint too (``params="last"`` is
TracIn-Last). TracIn assumes plain SGD: with momentum or Adam, ``η`` is not the step
size and the sum is a heuristic (Pruthi et al. §3.3). scikit-learn models keep no
checkpoints: use ``"ip"``, TracIn's one-checkpoint form at the fitted model.

Cost: per checkpoint, one validation gradient and one gradient per training row:
``O(T (n + n_val) m)``; no Hessian (``curvature="none"`` in the registry).
"""

from __future__ import annotations

import numpy as np

from ..utils import iter_chunks
from ._common import inner_product_scores
from ._objectives import UtilityObjective

__all__ = ["self_tracin_scores", "tracin_scores"]


def _checkpoint_adapters(adapter):
    for ckpt in adapter.checkpoints():
        yield adapter.at_state(ckpt["params"]), adapter.per_parameter(ckpt["lr"])


def tracin_scores(adapter, solver, X, y_enc, X_val, y_val_enc, *, objective=None) -> np.ndarray:
    """TracIn-CP scores ``-(1/n) Σ_t η_t ∂θf_V(θ_t)ᵀ ∂θL_i(θ_t)`` (higher = trim first).

    Parameters
    ----------
    adapter : BaseAdapter
        With the ``checkpoints`` capability (a skorch net fitted with
        ``TracInCheckpoints``).
    solver : None
        Unused (Hessian-free).
    X, y_enc : training rows and encoded targets
    X_val, y_val_enc : validation rows and encoded targets
    objective : BaseObjective, default=None
        The validation objective ``f_V`` (``None``: the mean validation loss).

    Returns
    -------
    ndarray of shape (n,)
    """
    objective = objective or UtilityObjective()
    total = np.zeros(X.shape[0])
    for model, eta in _checkpoint_adapters(adapter):
        v = eta * objective.grad(model, X_val, y_val_enc)
        total += inner_product_scores(model, X, y_enc, v)
    return -total / adapter.weight_sum


def self_tracin_scores(adapter, solver, X, y_enc, X_val, y_val_enc) -> np.ndarray:
    """Self-TracIn scores ``Σ_t η_t ‖∂θL_i(θ_t)‖²`` (higher = trim first).

    Parameters
    ----------
    adapter : BaseAdapter
        With the ``checkpoints`` capability.
    solver : None
        Unused (Hessian-free).
    X, y_enc : training rows and encoded targets
    X_val, y_val_enc : ignored

    Returns
    -------
    ndarray of shape (n,)
    """
    n = X.shape[0]
    total = np.zeros(n)
    for model, eta in _checkpoint_adapters(adapter):
        for rows in iter_chunks(n, model.chunk_size()):
            G = model.loss_grad(X[rows], y_enc[rows])
            total[rows] += (G * G) @ eta
    return total

"""Geometric ensemble of extra SGD steps (``"gex"``): the inner product averaged over them.

Source: Kim, Kim & Yang, "GEX: A flexible method for approximating influence via
geometric ensemble" (NeurIPS 2023), as seed ``001_88d557979f1cfd41.txt`` uses it as a
baseline: "GEX utilizes ensemble methods based on checkpoints from extra stochastic
gradient descent on the converged model" (§5, App. B.2.5), computed by the seed's
eq. (5) — lost in the text rendering — as the Hessian-free inner product of ``"ip"``
averaged over the ensemble ("TracIn, GEX, IP, and IP Ensemble are all Hessian-free";
"[θ_e] is obtained by training the converged model for several extra iterations";
on a convex model "TracIn and GEX simplify to IP", §6). That is the form built here.
Kim et al.'s own estimator averages products of the loss deviations
``(ℓ(z, θ_e) - ℓ(z, θ̂))(ℓ(z_V, θ_e) - ℓ(z_V, θ̂))`` over the ensemble instead; it is not
this measure.

The ensemble. ``E = n_estimators`` models ``θ_1..θ_E``, each made by continuing training
from the fitted parameters ``θ̂`` for ``n_steps`` minibatch SGD steps on the objective
the model minimised, in its mean-loss form ``R(θ) = Σ_i s_i L_i(θ) / Σ_i s_i + ½ ‖θ‖²_λ``
(the adapter's: the model's own L2 penalty ``λ``, sample weights ``s``)::

    θ ← θ - η ((n / Σ_i s_i) mean_{i ∈ B} s_i ∂θL_i(θ) + λ ⊙ θ)

(without weights: the minibatch mean gradient plus ``λ ⊙ θ``). Every model starts
again from ``θ̂``; its minibatches ``B`` are consecutive slices of ``batch_size`` rows of
a random permutation of the training rows, a new permutation each epoch (the last
slice of an epoch may be shorter). The steps move the parameters influence is taken
over (``params``; a net's other parameters stay fixed) on copies: the fitted model is
never changed. For a skorch net the steps are taken through the adapter, in float64
with the module in eval mode, along the gradient of the criterion plus the weight
decay ``wd·θ`` (half of that for ``MSELoss``, as the adapter's mean-loss form).

The score, with ``f_V`` the validation objective (``objective=``; the mean validation
loss by default)::

    score_i = -(1/n) (1/E) Σ_e ∂θf_V(θ_e)ᵀ ∂θL(y_i, x_i; θ_e)

the ``"ip"`` score of each model, averaged: the same sign and scale as ``"ip"``
(highest = trimmed first; the raw inner product, positive for a helpful row, negated).
``n_steps=0`` gives ``θ_e = θ̂`` and exactly ``"ip"``. With sample weights the score is
per unit of weight and the dispatch multiplies by ``s_i`` (``weights="scale"``).

Defaults: ``n_steps=None`` is one epoch (``ceil(n / batch_size)`` steps),
``batch_size=32`` (at most ``n``) and ``learning_rate=None`` is::

    η = min(2 b m / (n tr C), 1 / L)

The first term is the constant step size under which SGD's stationary distribution
around the optimum is closest to the posterior ``N(θ̂, H⁻¹/n)`` (Mandt, Hoffman & Blei,
"Stochastic gradient descent as approximate Bayesian inference", JMLR 2017, Thm. 1;
``b`` the batch size, ``m`` the number of parameters, ``C`` the covariance of the rows'
terms ``q_i`` of the stochastic gradient: ``q_i = ∂θL_i``, or ``(n / Σ s) s_i ∂θL_i``
with weights) — the Laplace posterior that Kim et al.'s geometric ensemble stands in
for. The second caps it for stability on the quadratic model of ``R`` around ``θ̂``:
``L`` is the largest absolute eigenvalue of ``H`` (the mean regularised Hessian),
estimated by 20 power iterations with Hessian-vector products from a random start.
The function takes ``n_steps``, ``batch_size`` and ``learning_rate``; the estimators
pass ``n_estimators`` and ``random_state``.

Random draws (reproduce them with this recipe): ``rng = check_random_state(
random_state)``; with ``learning_rate=None`` first ``rng.normal(size=m)`` starts the
power iteration; then for each model in turn ``rng.permutation(n)`` per epoch.

Cost: ``E`` times (``n_steps`` minibatch gradients, one validation-objective gradient
and one gradient per training row): ``O(E (n_steps · batch_size + n + n_val) m)``; plus
one pass of row gradients and 20 Hessian-vector products for the default learning
rate. No factorisation.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state

from ..utils import iter_chunks
from ._common import inner_product_scores
from ._objectives import UtilityObjective

__all__ = [
    "default_learning_rate",
    "gex_models",
    "gex_scores",
    "gradient_noise",
    "top_curvature",
]

#: Power iterations for the default learning rate ``1 / L``.
POWER_ITERATIONS = 20


def _check_int(name: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}.")
    return int(value)


def top_curvature(adapter, rng, n_iter: int = POWER_ITERATIONS) -> float:
    """Largest absolute eigenvalue of the mean regularised Hessian ``H``, by power iteration.

    Parameters
    ----------
    adapter : BaseAdapter
        With ``hvp``.
    rng : RandomState
        Draws the starting vector (``rng.normal(size=m)``).
    n_iter : int, default=20
        Hessian-vector products.

    Returns
    -------
    float
        ``‖H v‖`` for the last unit vector ``v`` (0 when ``H v`` vanishes).
    """
    v = rng.normal(size=adapter.n_params)
    v /= np.linalg.norm(v)
    top = 0.0
    for _ in range(n_iter):
        w = np.asarray(adapter.hvp(v), dtype=np.float64).reshape(-1)
        top = float(np.linalg.norm(w))
        if top == 0.0:
            return 0.0
        v = w / top
    return top


def gradient_noise(adapter, X, y_enc) -> float:
    """``tr C``: the total variance of the rows' terms of the stochastic gradient.

    ``q_i = ∂θL_i`` (``(n / Σ s) s_i ∂θL_i`` with sample weights), ``tr C = mean_i
    ‖q_i - mean_j q_j‖²``.

    Returns
    -------
    float
    """
    n = X.shape[0]
    weights = adapter.row_weights()
    scale = n / adapter.weight_sum
    total = np.zeros(adapter.n_params)
    sq = 0.0
    for rows in iter_chunks(n, adapter.chunk_size()):
        Q = adapter.loss_grad(X[rows], y_enc[rows])
        if weights is not None:
            Q = Q * (scale * weights[rows])[:, None]
        total += Q.sum(axis=0)
        sq += float(np.einsum("bm,bm->", Q, Q))
    mean = total / n
    return max(sq / n - float(mean @ mean), 0.0)


def default_learning_rate(adapter, X, y_enc, batch_size: int, rng) -> float:
    """``min(2 b m / (n tr C), 1 / L)`` (the module docstring); ``rng`` starts the power
    iteration.

    Returns
    -------
    float
    """
    n = X.shape[0]
    noise = gradient_noise(adapter, X, y_enc)
    top = top_curvature(adapter, rng)
    candidates = []
    if noise > 0:
        candidates.append(2.0 * batch_size * adapter.n_params / (n * noise))
    if top > 0:
        candidates.append(1.0 / top)
    return min(candidates) if candidates else 1.0


def _batches(n: int, batch_size: int, n_steps: int, rng) -> list[np.ndarray]:
    """Row indices of ``n_steps`` minibatches: slices of a new permutation per epoch."""
    out: list[np.ndarray] = []
    while len(out) < n_steps:
        perm = rng.permutation(n)
        out.extend(perm[s : s + batch_size] for s in range(0, n, batch_size))
    return out[:n_steps]


def _sgd(adapter, X, y_enc, theta0, batches, learning_rate: float) -> np.ndarray:
    """``θ`` after SGD steps on the regularised mean-loss objective, from ``theta0``."""
    weights = adapter.row_weights()
    scale = X.shape[0] / adapter.weight_sum
    theta = np.array(theta0, dtype=np.float64, copy=True)
    for rows in batches:
        model = adapter.at_theta(theta)
        G = model.loss_grad(X[rows], y_enc[rows])
        if weights is None:
            grad = G.mean(axis=0)
        else:
            grad = scale * (weights[rows] @ G) / len(rows)
        theta = theta - learning_rate * (grad + model.penalty_grad())
    return theta


def gex_models(
    adapter,
    X,
    y_enc,
    *,
    n_estimators: int = 5,
    n_steps: int | None = None,
    batch_size: int = 32,
    learning_rate: float | None = None,
    random_state=None,
) -> list[np.ndarray]:
    """The ensemble's parameters: ``n_estimators`` SGD continuations of the fitted ``θ̂``.

    Parameters
    ----------
    adapter : BaseAdapter
        With ``gradients``, ``theta`` (and ``hvp`` when ``learning_rate`` is None).
    X, y_enc : the training rows and their encoded targets
    n_estimators, n_steps, batch_size, learning_rate, random_state
        As in :func:`gex_scores`.

    Returns
    -------
    list of ndarray of shape (m,)
    """
    n_estimators = _check_int("n_estimators", n_estimators, 1)
    batch_size = _check_int("batch_size", batch_size, 1)
    n = X.shape[0]
    b = min(batch_size, n)
    n_steps = math.ceil(n / b) if n_steps is None else _check_int("n_steps", n_steps, 0)
    if learning_rate is not None and (
        isinstance(learning_rate, bool) or not isinstance(learning_rate, Real) or learning_rate <= 0
    ):
        raise ValueError(f"learning_rate must be a positive float or None, got {learning_rate!r}.")
    rng = check_random_state(random_state)
    theta = adapter.get_theta()
    if n_steps == 0:
        return [theta.copy() for _ in range(n_estimators)]
    if learning_rate is None:
        learning_rate = default_learning_rate(adapter, X, y_enc, b, rng)
    return [
        _sgd(adapter, X, y_enc, theta, _batches(n, b, n_steps, rng), float(learning_rate))
        for _ in range(n_estimators)
    ]


def gex_scores(
    adapter,
    solver,
    X,
    y_enc,
    X_val,
    y_val_enc,
    *,
    objective=None,
    n_estimators: int = 5,
    n_steps: int | None = None,
    batch_size: int = 32,
    learning_rate: float | None = None,
    random_state=None,
) -> np.ndarray:
    """GEX scores: ``"ip"`` averaged over SGD continuations of the fit (higher = trim first).

    Parameters
    ----------
    adapter : BaseAdapter
        With ``gradients``, ``theta`` and ``hvp``.
    solver : None
        Unused (Hessian-free).
    X, y_enc : training rows and encoded targets
    X_val, y_val_enc : validation rows and encoded targets
    objective : BaseObjective, default=None
        The validation objective ``f_V`` (``None``: the mean validation loss).
    n_estimators : int, default=5
        Ensemble size ``E``.
    n_steps : int or None, default=None
        SGD steps per model from the fitted parameters; ``None``: one epoch
        (``ceil(n / batch_size)``); 0 gives ``"ip"``.
    batch_size : int, default=32
        Rows per step (at most ``n``).
    learning_rate : float or None, default=None
        Step size ``η``; ``None``: ``min(2 b m / (n tr C), 1 / L)`` (the module
        docstring: Mandt et al.'s posterior-matching step, capped by the top Hessian
        eigenvalue ``L``).
    random_state : int, RandomState instance or None, default=None
        Seeds the power iteration and the minibatches.

    Returns
    -------
    ndarray of shape (n,)
    """
    objective = objective or UtilityObjective()
    thetas = gex_models(
        adapter,
        X,
        y_enc,
        n_estimators=n_estimators,
        n_steps=n_steps,
        batch_size=batch_size,
        learning_rate=learning_rate,
        random_state=random_state,
    )
    total = np.zeros(X.shape[0])
    for theta in thetas:
        model = adapter.at_theta(theta)
        total += inner_product_scores(model, X, y_enc, objective.grad(model, X_val, y_val_enc))
    return -total / (len(thetas) * adapter.weight_sum)

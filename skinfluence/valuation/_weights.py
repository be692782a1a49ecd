r"""Semivalue weights: how much each subset size counts.

A semivalue of row ``i`` under a utility ``u`` over ``N = {0, …, n-1}`` is::

    φ_i = Σ_{S ⊆ N∖{i}} w(|S|) [u(S ∪ {i}) − u(S)],   Σ_k C(n-1, k) w(k) = 1

(survey ``003_61d1aa66ad3d904f.txt`` §4.3, eq. 17 and eq. 27; Kwon & Zou 2022 for
Beta Shapley). The three families used here:

* Shapley: ``w(k) = k! (n-1-k)! / n! = 1 / (n C(n-1, k))`` — every subset *size*
  weighs ``1/n``.
* Beta(α, β) Shapley: ``w(k) = B(k + β, n-1-k + α) / B(α, β)`` — the probability of
  one particular ``S`` when each other row joins independently with a probability
  ``t ~ Beta(β, α)``. ``α > β`` favours small subsets (Kwon & Zou's Beta(16, 1));
  ``α = β = 1`` is Shapley.
* Banzhaf: ``w(k) = 1 / 2^(n-1)`` — every subset equally likely.

The permutation samplers see row ``i`` at position ``k`` (``|S| = k``) with
probability ``1/n`` whatever ``k``; :func:`permutation_importance` is the factor
``n C(n-1, k) w(k)`` that turns a marginal seen at position ``k`` into an unbiased
sample of ``φ_i`` (1 for Shapley).

All weights are computed in log space (``gammaln``/``betaln``), so they stay finite
for any ``n``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import betaln, gammaln

__all__ = ["SEMIVALUES", "permutation_importance", "semivalue_weights"]

SEMIVALUES = ("shapley", "beta", "banzhaf")


def _log_binom(n: int, k: np.ndarray) -> np.ndarray:
    return gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)


def _log_weights(n: int, kind: str, alpha: float, beta: float) -> np.ndarray:
    k = np.arange(n, dtype=np.float64)
    if kind == "shapley":
        return -np.log(n) - _log_binom(n - 1, k)
    if kind == "beta":
        if not (alpha > 0 and beta > 0):
            raise ValueError(f"Beta(alpha, beta) needs alpha, beta > 0, got ({alpha}, {beta}).")
        return betaln(k + beta, n - 1 - k + alpha) - betaln(alpha, beta)
    if kind == "banzhaf":
        return np.full(n, -(n - 1) * np.log(2.0))
    raise ValueError(f"kind must be one of {SEMIVALUES}, got {kind!r}.")


def semivalue_weights(
    n: int, kind: str = "shapley", *, alpha: float = 1.0, beta: float = 1.0
) -> np.ndarray:
    """Weight ``w(k)`` of one subset ``S ⊆ N∖{i}`` of size ``k``, for ``k = 0…n-1``.

    Parameters
    ----------
    n : int
        Number of players (training rows), at least 1.
    kind : {"shapley", "beta", "banzhaf"}, default="shapley"
        The semivalue.
    alpha, beta : float, default=1.0
        Parameters of ``kind="beta"``; Beta(1, 1) is Shapley.

    Returns
    -------
    weights : ndarray of shape (n,)
        ``w(k)``; ``Σ_k C(n-1, k) w(k) = 1``.

    Examples
    --------
    >>> from skinfluence.valuation import semivalue_weights
    >>> semivalue_weights(3).round(4).tolist()
    [0.3333, 0.1667, 0.3333]
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}.")
    return np.exp(_log_weights(n, kind, alpha, beta))


def permutation_importance(
    n: int, kind: str = "shapley", *, alpha: float = 1.0, beta: float = 1.0
) -> np.ndarray:
    """Factor ``n C(n-1, k) w(k)`` for a marginal contribution seen at position ``k``.

    Parameters
    ----------
    n : int
        Number of players.
    kind : {"shapley", "beta", "banzhaf"}, default="shapley"
        The semivalue.
    alpha, beta : float, default=1.0
        Parameters of ``kind="beta"``.

    Returns
    -------
    factors : ndarray of shape (n,)
        One factor per position ``k = 0…n-1``; all ones for Shapley. Their mean is 1.
    """
    k = np.arange(n, dtype=np.float64)
    return np.exp(np.log(n) + _log_binom(n - 1, k) + _log_weights(n, kind, alpha, beta))

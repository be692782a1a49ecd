"""Softmax weights of ``strategy="reweight"`` and their effective sample size."""

from __future__ import annotations

import numpy as np

__all__ = ["effective_size", "ess_temperature", "softmax_weights"]


def softmax_weights(scores: np.ndarray, temperature: float) -> np.ndarray:
    """``n · softmax(-scores / T)``: weights averaging 1, the highest score weighs least.

    ``T = inf`` gives equal weights.
    """
    if not np.isfinite(temperature):
        return np.ones(len(scores))
    a = -np.asarray(scores, dtype=np.float64) / temperature
    a = np.exp(a - a.max())
    return len(a) * a / a.sum()


def effective_size(weights: np.ndarray) -> float:
    """Kish's effective sample size ``(Σw)² / Σw²`` of non-negative weights."""
    return float(weights.sum() ** 2 / np.dot(weights, weights))


def ess_temperature(scores: np.ndarray, target: float) -> float:
    """The ``T`` at which the softmax weights have effective sample size ``target``.

    The effective size grows from about 1 (``T → 0``: all weight on the lowest
    score) to ``n`` (``T → ∞``: equal weights), monotonically, so ``T`` is found by
    bisection on ``log T``. ``inf`` when ``target >= n`` or the scores are all equal.
    """
    scores = np.asarray(scores, dtype=np.float64)
    spread = float(np.ptp(scores)) if len(scores) else 0.0
    if target >= len(scores) or spread == 0.0:
        return np.inf
    lo, hi = np.log(spread * 1e-8), np.log(spread * 1e8)
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if effective_size(softmax_weights(scores, np.exp(mid))) < target:
            lo = mid
        else:
            hi = mid
    return float(np.exp(0.5 * (lo + hi)))

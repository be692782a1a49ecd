"""Uncertainty query strategies of the active learner: entropy, margin, BALD.

Functions of predicted class probabilities (no derivatives), the baselines beside
FI^active (:mod:`._active`). Every score is oriented so that higher = queried first.

* ``"entropy"`` — predictive entropy ``H[P(·|x)] = -Σ_c P_c log P_c``.
* ``"margin"`` — minus the gap between the two most likely classes.
* ``"bald"`` — Houlsby et al. (2011), Gal et al. (2017): the mutual information
  between the prediction and the model, ``H[mean_e P_e] - mean_e H[P_e]`` over an
  ensemble of ``E`` members: MC-dropout passes of a net (the adapter's
  ``mc_dropout`` capability) or models refitted on bootstrap resamples.

Cost: one ``predict_proba`` (entropy, margin); ``E`` stochastic passes or ``E``
refits (BALD).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import clone
from sklearn.utils import _safe_indexing

__all__ = [
    "QUERY_STRATEGIES",
    "bald_scores",
    "bootstrap_proba",
    "entropy_scores",
    "margin_scores",
]


def entropy_scores(P: np.ndarray) -> np.ndarray:
    """Predictive entropy of every row of the probabilities ``P`` (n, K).

    Returns
    -------
    ndarray of shape (n,)
    """
    return -np.sum(np.where(P > 0, P * np.log(np.where(P > 0, P, 1.0)), 0.0), axis=1)


def margin_scores(P: np.ndarray) -> np.ndarray:
    """Minus the gap between the two most likely classes of every row of ``P`` (n, K).

    Returns
    -------
    ndarray of shape (n,)
    """
    top2 = np.sort(P, axis=1)[:, -2:]
    return top2[:, 0] - top2[:, 1]


def bald_scores(members: np.ndarray) -> np.ndarray:
    """BALD from ensemble probabilities ``members`` (E, n, K).

    Returns
    -------
    ndarray of shape (n,)
    """
    members = np.asarray(members, dtype=np.float64)
    mean_entropy = np.mean([entropy_scores(P) for P in members], axis=0)
    return entropy_scores(members.mean(axis=0)) - mean_entropy


def bootstrap_proba(estimator, X, y, X_pool, seed: int, sample_weight=None) -> np.ndarray:
    """``predict_proba`` on ``X_pool`` of a clone fitted on a bootstrap resample of (X, y).

    The resample is redrawn (up to 100 times) until it holds every class; the rows'
    ``sample_weight`` (if any) go with them into the fit.

    Returns
    -------
    ndarray of shape (n_pool, K)
    """
    rng = np.random.RandomState(seed)
    for _ in range(100):  # a resample needs every class
        idx = rng.randint(0, len(y), len(y))
        if np.unique(y[idx]).size == np.unique(y).size:
            break
    fit_params = {} if sample_weight is None else {"sample_weight": sample_weight[idx]}
    model = clone(estimator).fit(_safe_indexing(X, idx), y[idx], **fit_params)
    return model.predict_proba(X_pool)


#: Query strategies computed from class probabilities.
QUERY_STRATEGIES = ("entropy", "margin", "bald")

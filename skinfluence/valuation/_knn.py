r"""Exact KNN-Shapley in closed form (Jia et al. 2019, VLDB 12(11), Theorem 1).

The utility is the one Jia et al. derive the closed form for: for a validation row
``(x, y)`` let ``α_1(S), α_2(S), …`` be the rows of ``S`` sorted by increasing distance
to ``x`` (ties: lower row number first). Then

    u_x(S) = (1/k) Σ_{j ≤ min(k, |S|)} 1[y_{α_j(S)} = y],      u_x(∅) = 0,

the share of the ``k`` nearest rows that carry the validation row's label (divided by
``k`` even when ``|S| < k``), and ``u(S)`` is its mean over the validation rows. With
the training rows sorted by distance to ``x`` (``α_1`` nearest, ``α_n`` farthest) and
``m_j = 1[y_{α_j} = y]`` the Shapley values are (survey
``003_61d1aa66ad3d904f.txt`` §4.3.3, eq. 26)::

    s_{α_n} = m_n / max(k, n)
    s_{α_j} = s_{α_{j+1}} + (m_j − m_{j+1}) / max(k, j)       (j = n−1, …, 1)

and the value of a row is the mean of its ``s`` over the validation rows. (Jia et al.
and the survey write ``m_n / n`` for the first line, which assumes ``n ≥ k``; the
farthest row is among the ``k`` nearest of ``S`` exactly when ``|S| < k``, which under
the Shapley weights has probability ``min(k, n) / n``, hence ``max(k, n)``.) The sum over
rows equals ``u(N) − u(∅) = u(N)`` (efficiency).

One distance block per chunk of validation rows, then per row one ``argsort`` and a
reversed cumulative sum — ``O(n_val · n log n)`` time, ``O(chunk · n)`` memory. The
tie-break (lower row number first) is the stable sort's, obtained from numpy's
default (faster, unstable) sort by re-sorting only the runs of equal distances.
Chunks of validation rows run through joblib (``n_jobs``); their sums are added in
chunk order, so the result does not depend on ``n_jobs``.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import pairwise_distances
from sklearn.metrics.pairwise import euclidean_distances
from sklearn.utils.parallel import Parallel, delayed

__all__ = ["KNNUtility", "knn_shapley", "sorted_neighbours"]

_CHUNK_ENTRIES = 1 << 21  # distance-matrix entries per chunk (16 MiB of float64)
_MAX_TIE_RUNS = 64  # more runs of equal distances in one row: the stable sort of the row


def _distances(X_val, X, metric, p, metric_params) -> np.ndarray:
    params = dict(metric_params or {})
    if metric == "minkowski":
        p = params.pop("p", p)
        if p == 2 and "w" not in params:
            metric = "euclidean"
        elif p == 1 and "w" not in params:
            metric = "manhattan"
        else:
            params["p"] = p
    if metric in ("euclidean", "l2"):
        # squared distances order the rows the same way and skip a square root
        return euclidean_distances(X_val, X, squared=True)
    if metric == "precomputed":
        raise ValueError("metric='precomputed' is not supported by KNN-Shapley.")
    return pairwise_distances(X_val, X, metric=metric, **params)


def sorted_neighbours(X, X_val, *, metric="minkowski", p=2, metric_params=None) -> np.ndarray:
    """Training rows sorted by distance to each validation row (ties: lower index first).

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        Training rows.
    X_val : {ndarray, sparse matrix} of shape (n_val, n_features)
        Validation rows.
    metric : str or callable, default="minkowski"
        As ``KNeighborsClassifier(metric=...)``.
    p : float, default=2
        Minkowski power.
    metric_params : dict or None, default=None
        Extra metric arguments.

    Returns
    -------
    order : ndarray of shape (n_val, n_samples)
        ``order[v, j]`` is the ``j``-th nearest training row to validation row ``v``.
    """
    dist = _distances(X_val, X, metric, p, metric_params)
    return np.stack([_row_order(row) for row in dist]) if len(dist) else np.empty((0, X.shape[0]))


def _row_order(dist: np.ndarray) -> np.ndarray:
    """``argsort(dist, kind="stable")`` of one row: equal distances by increasing index.

    The default (unstable, SIMD) sort first; only equal neighbours in its result are
    put back in index order — the runs of ties, each sorted in place, or the stable
    sort of the whole row when the ties are many. The same order as the stable sort,
    at the cost of the fast one and one pass over the sorted distances.
    """
    order = np.argsort(dist)
    ranked = dist[order]
    tied = np.flatnonzero(ranked[1:] == ranked[:-1])  # j: d[o_j] == d[o_j+1]
    if tied.size == 0:
        return order
    gap = np.flatnonzero(tied[1:] != tied[:-1] + 1)
    if gap.size >= _MAX_TIE_RUNS:
        return np.argsort(dist, kind="stable")
    starts = np.r_[tied[0], tied[gap + 1]]
    ends = np.r_[tied[gap], tied[-1]] + 2
    for a, b in zip(starts, ends):  # each run of equal distances by increasing index
        order[a:b].sort()
    return order


def _chunk_values(X, y, X_val, y_val, k, metric, p, metric_params) -> np.ndarray:
    n = len(y)
    dist = _distances(X_val, X, metric, p, metric_params)
    # position j (1-based) = 1 … n-1: weights 1 / max(k, j) of (m_j - m_{j+1})
    weights = 1.0 / np.maximum(k, np.arange(1, n, dtype=np.float64))
    last = 1.0 / max(k, n)
    total = np.zeros(n)
    for row, label in zip(dist, y_val):
        order = _row_order(row)
        match = (y[order] == label).astype(np.float64)
        s = np.empty(n)
        s[-1] = match[-1] * last
        if n > 1:
            diff = (match[:-1] - match[1:]) * weights
            s[:-1] = s[-1] + np.cumsum(diff[::-1])[::-1]
        total[order] += s  # a permutation: no repeated index
    return total


def knn_shapley(
    X,
    y,
    X_val,
    y_val,
    n_neighbors: int = 5,
    *,
    metric="minkowski",
    p: float = 2,
    metric_params: dict | None = None,
    n_jobs: int | None = None,
    chunk_size: int | None = None,
) -> np.ndarray:
    """Exact Shapley values of the k-nearest-neighbour utility (Jia et al. 2019).

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        Training rows.
    y : ndarray of shape (n_samples,)
        Training labels.
    X_val : {ndarray, sparse matrix} of shape (n_val, n_features)
        Validation rows.
    y_val : ndarray of shape (n_val,)
        Validation labels.
    n_neighbors : int, default=5
        ``k``.
    metric : str or callable, default="minkowski"
        Distance, as in ``KNeighborsClassifier``.
    p : float, default=2
        Minkowski power.
    metric_params : dict or None, default=None
        Extra metric arguments.
    n_jobs : int or None, default=None
        Parallel chunks of validation rows (joblib).
    chunk_size : int or None, default=None
        Validation rows per chunk; ``None`` keeps each distance block near 16 MiB.

    Returns
    -------
    values : ndarray of shape (n_samples,)
        Shapley value of each training row; they sum to ``u(N)``.

    Examples
    --------
    >>> import numpy as np
    >>> from skinfluence.valuation import knn_shapley
    >>> X = np.array([[0.0], [1.0], [5.0]]); y = np.array([0, 0, 1])
    >>> knn_shapley(X, y, np.array([[0.2]]), np.array([0]), n_neighbors=1).round(3).tolist()
    [0.5, 0.5, 0.0]
    """
    y = np.asarray(y)
    y_val = np.asarray(y_val)
    n, n_val = len(y), len(y_val)
    if n == 0 or n_val == 0:
        raise ValueError("KNN-Shapley needs at least one training and one validation row.")
    if int(n_neighbors) < 1:
        raise ValueError(f"n_neighbors must be at least 1, got {n_neighbors}.")
    if chunk_size is None:
        chunk_size = max(1, _CHUNK_ENTRIES // n)
    starts = range(0, n_val, chunk_size)
    parts = Parallel(n_jobs=n_jobs)(
        delayed(_chunk_values)(
            X,
            y,
            X_val[s : s + chunk_size],
            y_val[s : s + chunk_size],
            int(n_neighbors),
            metric,
            p,
            metric_params,
        )
        for s in starts
    )
    total = np.zeros(n)
    for part in parts:  # in chunk order: the same sum for any n_jobs
        total += part
    return total / n_val


class KNNUtility:
    """The k-NN utility of Jia et al. as a set function, for enumeration and tests.

    ``u(S)`` is the mean over validation rows of ``(1/k)`` times the number of the
    ``min(k, |S|)`` rows of ``S`` nearest to it that share its label; ``u(∅) = 0``.
    :func:`knn_shapley` gives its exact Shapley values in closed form.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        Training rows.
    y : ndarray of shape (n_samples,)
        Training labels.
    X_val : {ndarray, sparse matrix} of shape (n_val, n_features)
        Validation rows.
    y_val : ndarray of shape (n_val,)
        Validation labels.
    n_neighbors : int, default=5
        ``k``.
    metric : str or callable, default="minkowski"
        Distance, as in ``KNeighborsClassifier``.
    p : float, default=2
        Minkowski power.
    metric_params : dict or None, default=None
        Extra metric arguments.
    """

    def __init__(
        self, X, y, X_val, y_val, n_neighbors=5, *, metric="minkowski", p=2, metric_params=None
    ):
        y, y_val = np.asarray(y), np.asarray(y_val)
        self.n_neighbors = int(n_neighbors)
        self.order = sorted_neighbours(X, X_val, metric=metric, p=p, metric_params=metric_params)
        self.match = y[self.order] == y_val[:, None]

    @property
    def n_samples(self) -> int:
        """Number of training rows (players)."""
        return self.order.shape[1]

    def __call__(self, indices) -> float:
        """Utility of the subset ``indices``.

        Parameters
        ----------
        indices : array-like of int
            Training rows of the subset.

        Returns
        -------
        value : float
            Mean share of matching labels among each validation row's ``k`` nearest
            rows of the subset.
        """
        mask = np.zeros(self.n_samples, dtype=bool)
        mask[np.asarray(indices, dtype=np.intp)] = True
        inside = mask[self.order]
        nearest = inside & (np.cumsum(inside, axis=1) <= self.n_neighbors)
        return float((self.match & nearest).sum(axis=1).mean() / self.n_neighbors)

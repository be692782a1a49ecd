"""Running moments of the sampled values, and the rules that stop the sampling.

Every sampling batch returns sums, never values, so that batches can be added in
their index order whatever process computed them: the estimate after ``b`` batches is
the same for any ``n_jobs``. Batch ``b`` feeds chain ``b mod n_chains``.

* :class:`SampleMoments` — permutation samplers (``tmc``, ``beta``): one sample per
  row per permutation; the estimate is the sample mean and its standard error
  ``sd / √T``.
* :class:`GroupMoments` — maximum sample reuse (``banzhaf``): every sampled subset
  ``S`` is one draw for every row, in the "with ``i``" group or the "without ``i``"
  group; the estimate is ``mean(u | i ∈ S) − mean(u | i ∉ S)`` with standard error
  ``√(var_in / T_in + var_out / T_out)``.

Stopping rules (checked after every batch, in batch order):

* ``"stderr"``: every value's standard error is at most ``tol`` (in the units of the
  score), once every row has ``min_samples`` draws.
* ``"gelman_rubin"``: the potential scale reduction ``R̂`` of every value is at most
  ``1 + tol`` (Gelman & Rubin 1992; Vehtari et al. 2021 for the ``R̂`` form). With
  ``L`` draws per chain, ``W`` the mean within-chain variance of one draw and ``B/L``
  the variance of the chain estimates::

      R̂ = √( ((L − 1)/L · W + B/L) / W )

  For the group estimator the per-draw variance is ``L`` times the variance of the
  chain's estimate. A value whose draws are all equal in every chain (``W = 0``,
  ``B = 0``) counts as converged.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "GelmanRubinRule",
    "GroupMoments",
    "MIN_SAMPLES",
    "N_CHAINS",
    "SampleMoments",
    "StandardErrorRule",
    "make_rule",
]

#: Draws every row needs before a rule may declare convergence.
MIN_SAMPLES = 100
#: Chains for the Gelman-Rubin statistic (batch ``b`` feeds chain ``b mod N_CHAINS``).
N_CHAINS = 4


def _var_of_mean(count, s1, s2):
    """Variance of a mean from count, Σx, Σx² (0 where fewer than two draws)."""
    count = np.asarray(count, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        var = (s2 - s1 * s1 / count) / (count - 1)
        out = np.where(count > 1, np.maximum(var, 0.0) / count, np.inf)
    return out


class SampleMoments:
    """Per-chain ``T``, ``Σx``, ``Σx²`` of one sample per row and draw."""

    def __init__(self, n: int, n_chains: int = N_CHAINS):
        self.count = np.zeros(n_chains)
        self.s1 = np.zeros((n_chains, n))
        self.s2 = np.zeros((n_chains, n))

    def add(self, chain: int, batch: dict) -> None:
        self.count[chain] += batch["count"]
        self.s1[chain] += batch["s1"]
        self.s2[chain] += batch["s2"]

    def draws(self) -> np.ndarray:
        """Draws per row (all rows get one per permutation)."""
        return np.full(self.s1.shape[1], self.count.sum())

    def values(self) -> np.ndarray:
        total = self.count.sum()
        return self.s1.sum(axis=0) / total if total else np.zeros(self.s1.shape[1])

    def stderr(self) -> np.ndarray:
        return np.sqrt(_var_of_mean(self.count.sum(), self.s1.sum(axis=0), self.s2.sum(axis=0)))

    def chains(self):
        """Per-chain estimates, variances of the estimates and draws per chain."""
        count = self.count[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            est = self.s1 / count
        return est, _var_of_mean(count, self.s1, self.s2), self.count


class GroupMoments:
    """Per-chain moments of ``u(S)`` split by whether each row is in ``S``."""

    def __init__(self, n: int, n_chains: int = N_CHAINS):
        shape = (n_chains, n)
        self.count = np.zeros(n_chains)
        self.c_in, self.s1_in, self.s2_in = np.zeros(shape), np.zeros(shape), np.zeros(shape)
        self.c_out, self.s1_out, self.s2_out = np.zeros(shape), np.zeros(shape), np.zeros(shape)

    def add(self, chain: int, batch: dict) -> None:
        self.count[chain] += batch["count"]
        for name in ("c_in", "s1_in", "s2_in", "c_out", "s1_out", "s2_out"):
            getattr(self, name)[chain] += batch[name]

    def draws(self) -> np.ndarray:
        return np.minimum(self.c_in.sum(axis=0), self.c_out.sum(axis=0))

    @staticmethod
    def _estimate(c_in, s1_in, s2_in, c_out, s1_out, s2_out):
        with np.errstate(divide="ignore", invalid="ignore"):
            est = s1_in / c_in - s1_out / c_out
        est = np.where((c_in > 0) & (c_out > 0), est, 0.0)
        var = _var_of_mean(c_in, s1_in, s2_in) + _var_of_mean(c_out, s1_out, s2_out)
        return est, var

    def _totals(self):
        return [
            getattr(self, name).sum(axis=0)
            for name in ("c_in", "s1_in", "s2_in", "c_out", "s1_out", "s2_out")
        ]

    def values(self) -> np.ndarray:
        return self._estimate(*self._totals())[0]

    def stderr(self) -> np.ndarray:
        return np.sqrt(self._estimate(*self._totals())[1])

    def chains(self):
        est, var = self._estimate(
            self.c_in, self.s1_in, self.s2_in, self.c_out, self.s1_out, self.s2_out
        )
        return est, var, self.count


def gelman_rubin(moments) -> np.ndarray:
    """``R̂`` of every value from the per-chain estimates (``inf`` until defined).

    Parameters
    ----------
    moments : SampleMoments or GroupMoments
        The running moments.

    Returns
    -------
    rhat : ndarray of shape (n,)
        Potential scale reduction per value.
    """
    est, var, count = moments.chains()
    n = est.shape[1]
    if np.any(count < 2):
        return np.full(n, np.inf)
    L = count.mean()
    W = np.mean(count[:, None] * var, axis=0)  # within-chain variance of one draw
    B_over_L = np.var(est, axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rhat = np.sqrt(((L - 1) / L * W + B_over_L) / W)
    rhat = np.where(W > 0, rhat, np.where(B_over_L > 0, np.inf, 1.0))
    return np.where(np.isfinite(W), rhat, np.inf)


class StandardErrorRule:
    """Converged when every standard error is at most ``tol``.

    Parameters
    ----------
    tol : float
        Largest standard error allowed, in the units of the score.
    min_samples : int, default=MIN_SAMPLES
        Draws every row needs first.
    """

    name = "stderr"

    def __init__(self, tol: float, min_samples: int = MIN_SAMPLES):
        self.tol = tol
        self.min_samples = min_samples

    def statistic(self, moments) -> float:
        """The largest standard error."""
        return float(np.max(moments.stderr()))

    def __call__(self, moments) -> bool:
        if np.min(moments.draws()) < self.min_samples:
            return False
        return self.statistic(moments) <= self.tol


class GelmanRubinRule:
    """Converged when every ``R̂`` is at most ``1 + tol``.

    Parameters
    ----------
    tol : float
        Allowed excess of ``R̂`` over 1 (``0.01`` means ``R̂ ≤ 1.01``).
    min_samples : int, default=MIN_SAMPLES
        Draws every row needs first.
    """

    name = "gelman_rubin"

    def __init__(self, tol: float, min_samples: int = MIN_SAMPLES):
        self.tol = tol
        self.min_samples = min_samples

    def statistic(self, moments) -> float:
        """The largest ``R̂``."""
        return float(np.max(gelman_rubin(moments)))

    def __call__(self, moments) -> bool:
        if np.min(moments.draws()) < self.min_samples:
            return False
        return self.statistic(moments) <= 1.0 + self.tol


def make_rule(stopping, tol: float):
    """A rule object from ``"stderr"``, ``"gelman_rubin"`` or a rule instance."""
    if stopping == "stderr":
        return StandardErrorRule(tol)
    if stopping == "gelman_rubin":
        return GelmanRubinRule(tol)
    if callable(stopping):
        return stopping
    raise ValueError(f"stopping must be 'stderr' or 'gelman_rubin', got {stopping!r}.")

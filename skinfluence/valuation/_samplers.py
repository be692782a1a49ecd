r"""Samplers: how a sampled semivalue draws, and how its draws become values.

A sampler is a small picklable object that holds its parameters (pyDVL's layering:
utility, sampler and stopping rule are separate objects). :func:`~._engine.sampled_values`
asks it for one batch of draws at a time (:meth:`BaseSampler.draw_batch`), returned as
sums, and for the accumulator of those sums (:meth:`BaseSampler.moments`, see
:mod:`._stopping`) whose ``values()`` and ``stderr()`` are the estimates.

Each batch runs in a joblib task with its own ``numpy.random.Generator`` seeded from a
``SeedSequence`` child the driver derived from ``random_state`` and the batch number, so
a batch draws the same subsets in any process.

:class:`PermutationSampler` (``tmc``; Ghorbani & Zou 2019)
    Survey ``003_61d1aa66ad3d904f.txt`` §4.3.3. Draw a permutation ``π``; fit on the
    growing prefixes ``π_1…π_j``; row ``π_j``'s marginal contribution is
    ``u(π_{≤j}) − u(π_{<j})``. Each permutation is one unbiased draw of every Shapley
    value. *Truncation*: once ``|u(π_{≤j}) − u(N)| ≤ truncation_tol · |u(N)|`` has held
    for more than ``TRUNCATION_PATIENCE`` prefixes in a row (as in Ghorbani & Zou's
    code), the remaining rows of the permutation get 0 and are not fitted — fewer fits,
    a small bias. ``u(N)`` and ``u(∅)`` are computed once.

:class:`BetaSampler` (``beta``; Kwon & Zou 2022)
    For a semivalue other than Shapley the marginal at position ``k`` of a permutation
    is multiplied by ``f(k) = n C(n-1, k) w(k)``
    (:func:`~._weights.permutation_importance`), which keeps each draw unbiased. Most
    of Beta(16, 1)'s weight sits on the first positions, so the permutation is also
    cut at a random length ``L`` with ``P(L > k) = m_k / m_0``, ``m_k = max_{j≥k} f(j)``,
    and the marginal at an evaluated position is divided by ``P(L > k)``: still
    unbiased, each weighted draw is at most ``m_0``, and a permutation costs
    ``Σ_k P(L > k)`` fits on average (about ``n / 16`` for Beta(16, 1)) instead of ``n``.
    Truncation applies as for :class:`PermutationSampler`.

:class:`MSRSampler`: maximum sample reuse (``banzhaf``; Wang & Jia 2023)
    Draw ``S`` with each row in it independently with probability 1/2; one fit gives a
    draw of ``u(S)`` for the "in" group of every member and the "out" group of every
    other row. ``φ_i ≈ mean(u | i ∈ S) − mean(u | i ∉ S)``.

Cost per draw: ``n`` fits for a permutation (fewer with truncation), one fit for a
maximum-sample-reuse subset.
"""

from __future__ import annotations

import inspect
import time
import warnings
from abc import ABC, abstractmethod
from numbers import Real

import numpy as np

from ._stopping import GroupMoments, SampleMoments
from ._weights import permutation_importance

__all__ = [
    "BaseSampler",
    "BetaSampler",
    "MSRSampler",
    "PermutationSampler",
    "TRUNCATION_PATIENCE",
]


def _past(deadline: float | None) -> bool:
    return deadline is not None and time.time() >= deadline


#: A permutation stops after more than this many consecutive prefixes within
#: ``truncation_tol`` of ``u(N)``.
TRUNCATION_PATIENCE = 5


class BaseSampler(ABC):
    """A way of sampling a semivalue: batches of draws and the estimate they make.

    Subclasses set :attr:`name` and implement :meth:`draw_batch`, :meth:`moments` and
    :meth:`fits_per_draw`; :meth:`check` and :meth:`warn_utility_range` may add checks.
    The parameters are stored unchanged by ``__init__``.

    Attributes
    ----------
    name : str
        The :class:`~skinfluence.ShapleyValuator` method it implements, used in
        progress messages.
    """

    name: str = "sampled"

    def __repr__(self) -> str:
        params = list(inspect.signature(type(self).__init__).parameters)[1:]
        args = ", ".join(f"{p}={getattr(self, p)!r}" for p in params)
        return f"{type(self).__name__}({args})"

    def check(self) -> None:
        """Raise ``ValueError`` on invalid parameters (called before any fit)."""
        return None

    def warn_utility_range(self, u_empty: float, u_full: float) -> None:
        """Warn when the utility's range defeats the sampler's settings (default: never).

        Parameters
        ----------
        u_empty, u_full : float
            ``u(∅)`` and ``u(N)``.
        """
        return None

    @abstractmethod
    def fits_per_draw(self, n: int) -> float:
        """Expected utility evaluations per draw over ``n`` rows (sizes the tasks)."""

    @abstractmethod
    def moments(self, n: int):
        """An empty accumulator of this sampler's batches over ``n`` rows.

        Its ``add(chain, batch)`` adds the sums :meth:`draw_batch` returns; its
        ``values()`` and ``stderr()`` are the estimates.
        """

    @abstractmethod
    def draw_batch(
        self,
        utility,
        n: int,
        rng: np.random.Generator,
        size: int,
        *,
        u_empty: float,
        u_full: float,
        deadline: float | None = None,
    ) -> dict:
        """Draw ``size`` samples and return their sums.

        Parameters
        ----------
        utility : callable
            ``utility(sorted_indices) -> float``.
        n : int
            Number of rows.
        rng : numpy.random.Generator
            Source of the draws.
        size : int
            Draws in this batch.
        u_empty, u_full : float
            ``u(∅)`` and ``u(N)``, computed once by the driver.
        deadline : float or None, default=None
            ``time.time()`` after which the batch stops; ``count`` may then be less
            than ``size``.

        Returns
        -------
        sums : dict
            ``count`` (draws made), ``evaluations`` (utility calls) and the sums that
            :meth:`moments` accumulates.
        """


class PermutationSampler(BaseSampler):
    """Truncated Monte Carlo Shapley: marginal contributions along random permutations.

    Parameters
    ----------
    truncation_tol : float or None, default=0.01
        A permutation stops once more than ``TRUNCATION_PATIENCE`` consecutive prefixes
        score within ``truncation_tol · |u(N)|`` of ``u(N)``; its remaining rows get 0.
        ``None`` never truncates (unbiased, slower).

    See Also
    --------
    BetaSampler : Beta(α, β) Shapley by weighted permutations.
    MSRSampler : Banzhaf values by maximum sample reuse.

    Examples
    --------
    >>> import numpy as np
    >>> from skinfluence.valuation import PermutationSampler, sampled_values
    >>> a = np.array([1.0, 2.0, 3.0])
    >>> res = sampled_values(lambda S: float(a[S].sum()), 3, PermutationSampler(),
    ...                      max_iter=500, random_state=0)
    >>> res.values.round(6).tolist()
    [1.0, 2.0, 3.0]
    """

    name = "tmc"

    def __init__(self, truncation_tol: float | None = 0.01):
        self.truncation_tol = truncation_tol

    def check(self) -> None:
        """Raise ``ValueError`` unless ``truncation_tol`` is ``None`` or a number ≥ 0."""
        tol = self.truncation_tol
        if tol is not None and not (isinstance(tol, Real) and tol >= 0):
            raise ValueError(f"truncation_tol must be None or a number >= 0, got {tol!r}.")

    def warn_utility_range(self, u_empty: float, u_full: float) -> None:
        """Warn when truncation would cut every permutation after a handful of rows.

        Parameters
        ----------
        u_empty, u_full : float
            ``u(∅)`` and ``u(N)``.
        """
        tol = self.truncation_tol
        if tol is not None and tol * abs(u_full) >= abs(u_full - u_empty):
            warnings.warn(
                f"truncation_tol={tol} allows a gap of {tol * abs(u_full):.4g} "
                f"to u(N)={u_full:.4g}, but u(N) - u(empty)={u_full - u_empty:.4g}: every "
                "permutation will be cut after a handful of rows and the values are mostly "
                "noise (typical of accuracy on imbalanced classes). Lower truncation_tol, "
                "pass None, or use another scoring.",
                UserWarning,
                stacklevel=3,  # the caller of sampled_values
            )

    def _weights(self, n: int):
        """Factor per position and ``P(L > k)`` of the permutation length (Shapley: none)."""
        return None, None

    def fits_per_draw(self, n: int) -> float:
        """``n − 1`` fits per permutation, or ``Σ_k P(L > k)`` with a random length."""
        survival = self._weights(n)[1]
        return n - 1.0 if survival is None else float(survival.sum())

    def moments(self, n: int) -> SampleMoments:
        """One sample per row and permutation: :class:`~._stopping.SampleMoments`."""
        return SampleMoments(n)

    def draw_batch(self, utility, n, rng, size, *, u_empty, u_full, deadline=None) -> dict:
        """Marginal contributions along ``size`` random permutations.

        Parameters
        ----------
        utility : callable
            ``utility(sorted_indices) -> float``.
        n : int
            Number of rows.
        rng : numpy.random.Generator
            Source of the permutations.
        size : int
            Permutations in this batch.
        u_empty, u_full : float
            ``u(∅)`` and ``u(N)``.
        deadline : float or None, default=None
            ``time.time()`` after which the batch stops; a permutation cut short is
            dropped, so ``count`` may be less than ``size``.

        Returns
        -------
        sums : dict
            ``count``, ``s1`` (Σ draws per row), ``s2`` (Σ squared draws), ``evaluations``.
        """
        importance, survival = self._weights(n)
        s1 = np.zeros(n)
        s2 = np.zeros(n)
        evaluations = 0
        bound = None if self.truncation_tol is None else self.truncation_tol * abs(u_full)
        count = 0
        for _ in range(size):
            if _past(deadline):
                break
            perm = rng.permutation(n)
            length = n if survival is None else int(np.count_nonzero(survival > rng.random()))
            mask = np.zeros(n, dtype=bool)
            marginal = np.zeros(n)
            previous, run, cut = u_empty, 0, False
            for j, row in enumerate(perm[:length]):
                mask[row] = True
                if j == n - 1:
                    current = u_full
                else:
                    if _past(deadline):
                        cut = True
                        break
                    current = utility(np.flatnonzero(mask))
                    evaluations += 1
                marginal[row] = current - previous
                previous = current
                if bound is not None:
                    run = run + 1 if abs(current - u_full) <= bound else 0
                    if run > TRUNCATION_PATIENCE:
                        break  # the rest of the permutation contributes 0
            if cut:
                break  # out of time in mid-permutation: drop it
            if importance is not None:
                factor = importance if survival is None else importance / survival
                position = np.empty(n, dtype=np.intp)
                position[perm] = np.arange(n)
                marginal *= factor[position]
            s1 += marginal
            s2 += marginal * marginal
            count += 1
        return {"count": count, "s1": s1, "s2": s2, "evaluations": evaluations}


class BetaSampler(PermutationSampler):
    """Beta(α, β) Shapley: importance-weighted permutations cut at a random length.

    Parameters
    ----------
    alpha : float, default=16.0
        ``α`` of Beta(α, β), positive; ``α > β`` favours small subsets.
    beta : float, default=1.0
        ``β``, positive; Beta(1, 1) is Shapley.
    truncation_tol : float or None, default=0.01
        As for :class:`PermutationSampler`.

    See Also
    --------
    PermutationSampler : Shapley values (``f ≡ 1``, every permutation to the end).

    Examples
    --------
    >>> import numpy as np
    >>> from skinfluence.valuation import BetaSampler, sampled_values
    >>> a = np.array([1.0, 2.0, 3.0])
    >>> beta = BetaSampler(4.0, 1.0, truncation_tol=None)
    >>> res = sampled_values(lambda S: float(a[S].sum()), 3, beta, max_iter=2000, random_state=0)
    >>> # an additive game: every semivalue is a_i
    >>> bool(np.all(np.abs(res.values - a) <= 4 * res.stderr))
    True
    """

    name = "beta"

    def __init__(self, alpha: float = 16.0, beta: float = 1.0, truncation_tol: float | None = 0.01):
        self.alpha = alpha
        self.beta = beta
        self.truncation_tol = truncation_tol

    def check(self) -> None:
        """Raise ``ValueError`` unless ``alpha, beta > 0`` and ``truncation_tol`` is valid."""
        super().check()
        if not all(isinstance(v, Real) and v > 0 for v in (self.alpha, self.beta)):
            raise ValueError(
                f"Beta(alpha, beta) needs alpha, beta > 0, got ({self.alpha}, {self.beta})."
            )

    def _weights(self, n: int):
        importance = permutation_importance(n, "beta", alpha=self.alpha, beta=self.beta)
        running_max = np.maximum.accumulate(importance[::-1])[::-1]
        return importance, running_max / running_max[0]


class MSRSampler(BaseSampler):
    """Banzhaf values by maximum sample reuse: one fit per subset serves every row.

    Each subset holds every row independently with probability 1/2; the value of row
    ``i`` is ``mean(u | i ∈ S) − mean(u | i ∉ S)``.

    See Also
    --------
    PermutationSampler : Shapley values by permutations.

    Examples
    --------
    >>> import numpy as np
    >>> from skinfluence.valuation import MSRSampler, sampled_values
    >>> a = np.array([1.0, 2.0, 3.0])
    >>> res = sampled_values(lambda S: float(a[S].sum()), 3, MSRSampler(),
    ...                      max_iter=2000, random_state=0)
    >>> bool(np.all(np.abs(res.values - a) <= 4 * res.stderr))
    True
    """

    name = "banzhaf"

    def __init__(self):
        pass

    def fits_per_draw(self, n: int) -> float:
        """One fit per subset."""
        return 1.0

    def moments(self, n: int) -> GroupMoments:
        """Every subset is a draw for every row, in or out: :class:`~._stopping.GroupMoments`."""
        return GroupMoments(n)

    def draw_batch(self, utility, n, rng, size, *, u_empty, u_full, deadline=None) -> dict:
        """Maximum-sample-reuse draws: ``size`` subsets, each row in with probability 1/2.

        Parameters
        ----------
        utility : callable
            ``utility(sorted_indices) -> float``.
        n : int
            Number of rows.
        rng : numpy.random.Generator
            Source of the subsets.
        size : int
            Subsets in this batch.
        u_empty, u_full : float
            ``u(∅)`` (unused) and ``u(N)``, subtracted from every utility before the
            moments are summed, for accurate variances.
        deadline : float or None, default=None
            ``time.time()`` after which no more subsets are fitted.

        Returns
        -------
        sums : dict
            Counts, sums and sums of squares of the shifted utilities in and out of ``S``.
        """
        masks = rng.random((size, n)) < 0.5
        u = []
        for m in masks:
            if _past(deadline):
                break
            u.append(utility(np.flatnonzero(m)))
        masks = masks[: len(u)]
        size = len(u)
        u = np.asarray(u, dtype=np.float64) - u_full
        inside = masks.astype(np.float64)
        outside = 1.0 - inside
        return {
            "count": size,
            "c_in": inside.sum(axis=0),
            "s1_in": u @ inside,
            "s2_in": (u * u) @ inside,
            "c_out": outside.sum(axis=0),
            "s1_out": u @ outside,
            "s2_out": (u * u) @ outside,
            "evaluations": size,
        }

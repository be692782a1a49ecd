"""The valuation engine: exact enumeration, leave-one-out and the sampling driver.

Every utility evaluation runs inside a joblib task (``sklearn.utils.parallel``, so that
scikit-learn's configuration reaches the workers), many evaluations per task, so the
same code runs sequentially, on loky processes, on threads, or on a dask or ray cluster
through ``joblib.parallel_backend("dask")`` / ``("ray")`` — whatever backend the caller
has set; ``n_jobs`` is handed to joblib untouched.

Determinism: the sampling batches are numbered; batch ``b`` draws from
``SeedSequence(entropy, spawn_key=(b,))`` where ``entropy`` comes from
``random_state``, and the driver adds the batches' sums in batch order and checks the
stopping rule after each one. The values after batch ``b`` are therefore the same
whatever ``n_jobs`` or backend computed them; batches that were already running when the
rule fired are waited for and discarded. Only ``max_time`` (a wall-clock budget) makes
the number of batches depend on the machine; when it stops the sampling, the batches
still in flight are waited for and kept.

Costs (``T`` = one fit and score): exact enumeration ``2^n T`` (refused above
``EXACT_MAX_N`` rows); leave-one-out ``(n + 1) T``; a permutation ``≤ (n − 1) T``; a
maximum-sample-reuse subset ``T``.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
from sklearn.exceptions import FitFailedWarning
from sklearn.utils import check_random_state
from sklearn.utils.parallel import Parallel, delayed

from ._progress import Progress
from ._samplers import BaseSampler
from ._stopping import N_CHAINS, make_rule
from ._utility import strict_full_value, worker_copy
from ._weights import semivalue_weights

__all__ = [
    "EXACT_MAX_N",
    "ValuationResult",
    "exact_values",
    "loo_values",
    "sampled_values",
]

#: Largest number of rows :func:`exact_values` enumerates (2^20 ≈ 10^6 fits).
EXACT_MAX_N = 20
#: Utility evaluations a task aims at when ``draws_per_task="auto"``.
_FITS_PER_TASK = 64


@dataclass
class ValuationResult:
    """Values of the rows and how they were obtained.

    Parameters
    ----------
    values : ndarray of shape (n,)
        One value per row; higher = more valuable.
    stderr : ndarray of shape (n,)
        Standard error of each value (0 for exact methods).
    n_iter : int
        Permutations or subsets sampled; for exact methods the subsets evaluated.
    n_evaluations : int
        Utility evaluations (fits and scores, degenerate subsets included).
    converged : bool
        Whether the stopping rule was met (always True for exact methods).
    status : str
        ``"exact"``, ``"converged"``, ``"max_iter"`` or ``"max_time"``.
    u_empty, u_full : float
        ``u(∅)`` and ``u(N)``.
    n_failed : int
        Evaluations whose fit or score raised.
    """

    values: np.ndarray
    stderr: np.ndarray
    n_iter: int
    n_evaluations: int
    converged: bool
    status: str
    u_empty: float = float("nan")
    u_full: float = float("nan")
    n_failed: int = 0
    first_error: str | None = field(default=None, repr=False)


def _warn_failures(n_failed: int, n_evaluations: int, first_error) -> None:
    if n_failed:
        warnings.warn(
            f"{n_failed} of {n_evaluations} subset fits raised and were given the default "
            f"score; the first error was {first_error}. Check the estimator on small "
            "subsets or pass default_score=.",
            FitFailedWarning,
            stacklevel=3,
        )


def _quiet(fn, *args, **kwargs):
    """Run ``fn`` with warnings silenced: thousands of tiny fits repeat the same ones."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _entropy(random_state) -> int:
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


# -- sampling ----------------------------------------------------------------------------
def _sampling_task(sampler, utility, n, seed, size, u_empty, u_full, deadline):
    local = worker_copy(utility)
    rng = np.random.default_rng(seed)
    out = _quiet(
        sampler.draw_batch, local, n, rng, size, u_empty=u_empty, u_full=u_full, deadline=deadline
    )
    out["n_failed"] = getattr(local, "n_failed", 0)
    out["first_error"] = getattr(local, "first_error", None)
    return out


def _auto_draws_per_task(fits_per_draw: float) -> int:
    return max(1, math.ceil(_FITS_PER_TASK / max(fits_per_draw, 1.0)))


def _check_sampler(sampler) -> None:
    if isinstance(sampler, BaseSampler):
        sampler.check()
        return
    hint = ""
    if isinstance(sampler, str):
        hint = (
            " The method names 'tmc', 'beta' and 'banzhaf' are ShapleyValuator's; here pass "
            "PermutationSampler(truncation_tol=...), BetaSampler(alpha, beta) or MSRSampler()."
        )
    raise TypeError(
        f"sampler must be a skinfluence.valuation sampler (a BaseSampler), got {sampler!r}.{hint}"
    )


def sampled_values(
    utility,
    n: int,
    sampler: BaseSampler,
    *,
    max_iter: int = 1000,
    max_time: float | None = None,
    tol: float = 0.01,
    stopping="stderr",
    draws_per_task="auto",
    n_jobs: int | None = None,
    random_state=None,
    verbose: int = 0,
) -> ValuationResult:
    """Monte Carlo semivalues: truncated permutations, Beta Shapley or Banzhaf (MSR).

    Parameters
    ----------
    utility : callable
        ``utility(sorted_indices) -> float`` over rows ``0…n-1``; picklable when it
        runs in worker processes.
    n : int
        Number of rows.
    sampler : BaseSampler
        How to draw and estimate: :class:`PermutationSampler` (truncated Monte Carlo
        Shapley), :class:`BetaSampler` (Beta(α, β) Shapley by weighted permutations)
        or :class:`MSRSampler` (Banzhaf by maximum sample reuse).
    max_iter : int, default=1000
        Most draws: permutations or subsets.
    max_time : float or None, default=None
        Wall-clock budget in seconds, checked after every batch.
    tol : float, default=0.01
        Threshold of the stopping rule: the largest standard error allowed
        (``"stderr"``) or of ``R̂ − 1`` (``"gelman_rubin"``).
    stopping : {"stderr", "gelman_rubin"} or callable, default="stderr"
        The convergence rule (see :mod:`skinfluence.valuation._stopping`).
    draws_per_task : int or "auto", default="auto"
        Draws (permutations or subsets) per joblib task, the size of a batch;
        ``"auto"`` aims at about 64 fits per task. Part of the random stream: change it
        and the draws change.
    n_jobs : int or None, default=None
        Passed to joblib.
    random_state : int, RandomState instance or None, default=None
        Seeds the draws.
    verbose : int, default=0
        Show a progress bar.

    Returns
    -------
    result : ValuationResult
        Values, standard errors, iterations, evaluations and convergence.

    Examples
    --------
    >>> import numpy as np
    >>> from skinfluence.valuation import PermutationSampler, sampled_values
    >>> a = np.array([1.0, 2.0, 3.0])
    >>> additive = lambda S: float(a[S].sum())
    >>> res = sampled_values(additive, 3, PermutationSampler(), max_iter=500, random_state=0)
    >>> res.values.round(6).tolist(), res.converged, res.n_iter
    ([1.0, 2.0, 3.0], True, 128)
    """
    _check_sampler(sampler)
    if n < 1:
        raise ValueError(f"there must be at least one row to value, got n={n}.")
    rule = make_rule(stopping, tol)
    entropy = _entropy(random_state)

    u_full = strict_full_value(utility, n)
    u_empty = float(utility(np.arange(0, dtype=np.intp)))
    sampler.warn_utility_range(u_empty, u_full)
    moments = sampler.moments(n)
    if draws_per_task == "auto":
        size = _auto_draws_per_task(sampler.fits_per_draw(n))
    else:
        size = int(draws_per_task)
    n_batches = math.ceil(max_iter / size)
    sizes = [size] * (n_batches - 1) + [max_iter - size * (n_batches - 1)]

    stop = [False]
    # the workers stop at the deadline themselves (a cut permutation is dropped), so
    # a time budget is not overrun by the batches already dispatched
    deadline = None if max_time is None else time.time() + max_time

    def tasks():
        for b, s in enumerate(sizes):
            if stop[0]:
                return
            seed = np.random.SeedSequence(entropy, spawn_key=(b,))
            yield delayed(_sampling_task)(sampler, utility, n, seed, s, u_empty, u_full, deadline)

    progress = Progress(max_iter, f"{sampler.name} values", bool(verbose))
    n_iter = n_evaluations = n_failed = 0
    first_error = None
    status = "max_iter"
    # pre_dispatch="n_jobs": no queue beyond the running tasks, so little work is
    # left in flight when the sampling stops
    parallel = Parallel(n_jobs=n_jobs, return_as="generator", batch_size=1, pre_dispatch="n_jobs")
    for b, out in enumerate(parallel(tasks())):
        if stop[0] and status == "converged":
            continue  # in flight when the rule fired: discarded, so n_jobs cannot matter
        # (after max_time the rest is kept: batches arrive in order, so the result is
        # still batches 0…b, and a time budget is machine-dependent anyway)
        n_evaluations += out["evaluations"]
        n_failed += out["n_failed"]
        first_error = first_error or out["first_error"]
        if out["count"]:  # 0: started after the deadline
            moments.add(b % N_CHAINS, out)
            n_iter += out["count"]
        if stop[0]:
            continue
        done = out["count"] > 0 and rule(moments)
        progress.update(out["count"], f"{rule.name}={rule.statistic(moments):.3g}")
        if done:
            status = "converged"
        elif deadline is not None and time.time() >= deadline:
            status, done = "max_time", True
        if done:
            stop[0] = True
    progress.close(status)
    _warn_failures(n_failed, n_evaluations, first_error)
    return ValuationResult(
        values=moments.values(),
        stderr=moments.stderr(),
        n_iter=n_iter,
        n_evaluations=n_evaluations + 1,  # u(N)
        converged=status == "converged",
        status=status,
        u_empty=u_empty,
        u_full=u_full,
        n_failed=n_failed,
        first_error=first_error,
    )


# -- exact enumeration ---------------------------------------------------------------------
def _exact_task(utility, n, start, stop):
    local = worker_copy(utility)
    bits = np.arange(n)
    out = np.empty(stop - start)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for m in range(start, stop):
            out[m - start] = local(bits[(m >> bits) & 1 == 1])
    return out, getattr(local, "n_failed", 0), getattr(local, "first_error", None)


def exact_values(
    utility,
    n: int,
    kind: str = "shapley",
    *,
    beta_params: tuple[float, float] = (16.0, 1.0),
    n_jobs: int | None = None,
    verbose: int = 0,
) -> ValuationResult:
    """Semivalues by enumerating all ``2^n`` subsets (``n ≤ EXACT_MAX_N``).

    Parameters
    ----------
    utility : callable
        ``utility(sorted_indices) -> float`` over rows ``0…n-1``.
    n : int
        Number of rows, at most ``EXACT_MAX_N`` (20).
    kind : {"shapley", "beta", "banzhaf"}, default="shapley"
        The semivalue (see :mod:`skinfluence.valuation._weights`).
    beta_params : tuple of two floats, default=(16.0, 1.0)
        ``(α, β)`` of ``kind="beta"``.
    n_jobs : int or None, default=None
        Passed to joblib.
    verbose : int, default=0
        Show a progress bar.

    Returns
    -------
    result : ValuationResult
        Exact values, zero standard errors.

    Examples
    --------
    >>> import numpy as np
    >>> from skinfluence.valuation import exact_values
    >>> glove = lambda S: float(min(np.isin(S, [0]).sum(), np.isin(S, [1, 2]).sum()))
    >>> exact_values(glove, 3).values.round(4).tolist()
    [0.6667, 0.1667, 0.1667]
    """
    if n < 1:
        raise ValueError(f"there must be at least one row to value, got n={n}.")
    if n > EXACT_MAX_N:
        raise ValueError(
            f"exact enumeration fits 2^n models; n={n} rows is above the limit of "
            f"{EXACT_MAX_N}. Use method='tmc', 'beta' or 'banzhaf' (sampled) or 'knn'."
        )
    alpha, beta = beta_params
    weights = semivalue_weights(n, kind, alpha=alpha, beta=beta)
    strict_full_value(utility, n)  # surface a broken estimator before 2^n fits
    total = 1 << n
    chunk = max(1, min(_FITS_PER_TASK * 4, total))
    starts = list(range(0, total, chunk))
    progress = Progress(total, f"exact {kind}", bool(verbose))
    U = np.empty(total)
    n_failed, first_error = 0, None
    parallel = Parallel(n_jobs=n_jobs, return_as="generator", batch_size=1)
    jobs = (delayed(_exact_task)(utility, n, s, min(s + chunk, total)) for s in starts)
    for s, (vals, failed, error) in zip(starts, parallel(jobs)):
        U[s : s + len(vals)] = vals
        n_failed += failed
        first_error = first_error or error
        progress.update(len(vals))
    progress.close()
    _warn_failures(n_failed, total, first_error)

    masks = np.arange(total)
    size = np.zeros(total, dtype=np.intp)
    for i in range(n):
        size += (masks >> i) & 1
    values = np.empty(n)
    for i in range(n):
        without = masks[((masks >> i) & 1) == 0]
        values[i] = np.sum(weights[size[without]] * (U[without | (1 << i)] - U[without]))
    return ValuationResult(
        values=values,
        stderr=np.zeros(n),
        n_iter=total,
        n_evaluations=total,
        converged=True,
        status="exact",
        u_empty=float(U[0]),
        u_full=float(U[-1]),
        n_failed=n_failed,
        first_error=first_error,
    )


# -- leave-one-out -------------------------------------------------------------------------
def _loo_task(utility, n, rows):
    local = worker_copy(utility)
    everyone = np.arange(n)
    out = np.empty(len(rows))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for j, i in enumerate(rows):
            out[j] = local(np.delete(everyone, i))
    return out, getattr(local, "n_failed", 0), getattr(local, "first_error", None)


def loo_values(utility, n: int, *, n_jobs: int | None = None, verbose: int = 0) -> ValuationResult:
    """Leave-one-out values ``u(N) − u(N ∖ {i})``, exactly (``n + 1`` fits).

    Parameters
    ----------
    utility : callable
        ``utility(sorted_indices) -> float`` over rows ``0…n-1``.
    n : int
        Number of rows.
    n_jobs : int or None, default=None
        Passed to joblib.
    verbose : int, default=0
        Show a progress bar.

    Returns
    -------
    result : ValuationResult
        The values, zero standard errors.

    Examples
    --------
    >>> import numpy as np
    >>> from skinfluence.valuation import loo_values
    >>> loo_values(lambda S: float(len(S) >= 2), 3).values.tolist()
    [0.0, 0.0, 0.0]
    """
    if n < 1:
        raise ValueError(f"there must be at least one row to value, got n={n}.")
    u_full = strict_full_value(utility, n)
    chunks = np.array_split(np.arange(n), max(1, math.ceil(n / _FITS_PER_TASK)))
    progress = Progress(n, "leave-one-out", bool(verbose))
    values = np.empty(n)
    n_failed, first_error = 0, None
    parallel = Parallel(n_jobs=n_jobs, return_as="generator", batch_size=1)
    jobs = (delayed(_loo_task)(utility, n, rows) for rows in chunks)
    for rows, (vals, failed, error) in zip(chunks, parallel(jobs)):
        values[rows] = u_full - vals
        n_failed += failed
        first_error = first_error or error
        progress.update(len(rows))
    progress.close()
    _warn_failures(n_failed, n + 1, first_error)
    return ValuationResult(
        values=values,
        stderr=np.zeros(n),
        n_iter=n,
        n_evaluations=n + 1,
        converged=True,
        status="exact",
        u_empty=float("nan"),
        u_full=u_full,
        n_failed=n_failed,
        first_error=first_error,
    )

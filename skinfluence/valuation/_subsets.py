"""Values from models fitted on random subsets: downsampling and the average marginal effect.

**Downsampling** (Feldman & Zhang, "What neural networks memorize and why", NeurIPS
2020; survey ``003_61d1aa66ad3d904f.txt`` §4.2, eq. 9). ``K`` subsets ``D_1..D_K`` of
``m = round(subset_fraction · n)`` rows are drawn uniformly without replacement (the
paper's ``m = 0.7 n``; clipped to ``1 ≤ m ≤ n - 1``), a model is fitted on each, and a
row's value is the mean utility of the models that contain it minus the mean of those
that do not::

    value_i = (1/K_i) Σ_{k: i ∈ D_k} u(D_k) - (1/(K - K_i)) Σ_{k: i ∉ D_k} u(D_k)

Eq. (9) is written for a loss ``L`` (the mean loss of the models without the row
minus that of the models with it); here ``u`` is a validation *score* (higher =
better), so the same difference reads the other way round: higher = more valuable. As
``K → ∞`` it converges to ``E[u(D ∪ {i})] - E[u(D')]`` with ``D`` of ``m - 1`` and
``D'`` of ``m`` rows drawn from the others (eq. 10): the expected leave-one-out effect
of the row at subset size about ``m``. ``stderr_i = √(s²_in / K_i + s²_out / (K -
K_i))`` from the sample variances of the two groups (``nan`` when a group has fewer
than 2 models); a row in every subset or in none (``K_i ∈ {0, K}``, likely only for
small ``K``) has no value: ``nan``, with a warning.

**Average marginal effect** (AME; Lin, Zhang, Lécuyer, Li, Panda & Sen, "Measuring
the effect of training data on deep learning predictions via randomized
experiments", ICML 2022; survey Table 6). Subset ``k`` includes every row
independently with probability ``p_k``, itself drawn uniformly from ``{0.2, 0.4, 0.6,
0.8}`` (the paper's ``P``). The AME of row ``i`` is its expected marginal effect over
that distribution, ``AME_i = E_p E_{S ~ Bernoulli(p)}[u(S ∪ {i}) - u(S)]``. Lin et al.
estimate it by a LASSO regression of the utilities on the design::

    X_ki = 1/p_k if i ∈ S_k,   -1/(1 - p_k) otherwise;      u(S_k) ≈ β_0 + Σ_i β_i X_ki

``E[X_ki | p] = 0``, rows are independent given ``p``, and ``E[X_ki u(S_k)] = AME_i``,
so the population least-squares coefficient is ``β_i = AME_i / E_p[1/(p(1 - p))]`` and
the value is ``AME_i = c · β̂_i`` with ``c = E_p[1/(p(1 - p))] = 5.208…`` (the paper's
code rescales its coefficients the same way). The LASSO (``sklearn.linear_model.
LassoCV``: an intercept, 5-fold cross-validated penalty, seeded from
``random_state``) keeps the estimate sparse when ``K < n``; Lin et al. use glmnet with
the one-standard-error penalty and optionally knockoffs, which are not built. For an
additive utility ``u(S) = c_0 + Σ_{j ∈ S} c_j`` every AME is ``c_i``. There is no
standard error (``nan``).

**The draws** (reproduce them with this recipe): with ``entropy =
check_random_state(random_state).randint(np.iinfo(np.int32).max)``, subset ``k = 0,
…, K-1`` draws from ``rng = np.random.default_rng(np.random.SeedSequence(entropy,
spawn_key=(k,)))``::

    downsampling:  rows = rng.choice(n, size=m, replace=False)
    ame:           p = rng.choice([0.2, 0.4, 0.6, 0.8]); rows = flatnonzero(rng.random(n) < p)

Every subset is fitted and scored inside a joblib task of ``draws_per_task``
consecutive subsets (``sklearn.utils.parallel``: ``n_jobs`` and any
``joblib.parallel_backend`` — dask and ray included — run them); each draw depends only
on ``k``, so the values do not depend on ``n_jobs``, the backend or ``draws_per_task``
(up to the order of floating-point sums). Subsets that cannot be fitted (empty, one
class) get the utility's default score, as for the other samplers.

Cost: ``K`` fits of the model on ``m`` rows (downsampling) or on about ``n/2`` rows on
average (AME), and ``K`` validation scores; memory ``O(n)`` for downsampling, the ``K ×
n`` design for AME, whose LASSO path costs about ``O(K n)`` per penalty and fold.
"""

from __future__ import annotations

import math
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.linear_model import LassoCV
from sklearn.utils import check_random_state
from sklearn.utils.parallel import Parallel, delayed

from ._engine import ValuationResult, _warn_failures
from ._progress import Progress
from ._utility import worker_copy

__all__ = [
    "AME_N_ESTIMATORS",
    "AME_PROBABILITIES",
    "DOWNSAMPLING_FRACTION",
    "DOWNSAMPLING_N_ESTIMATORS",
    "ame_values",
    "downsampling_values",
    "subset_rows",
]

#: Subsets of ``downsampling_values`` when ``n_estimators=None``.
DOWNSAMPLING_N_ESTIMATORS = 100
#: Feldman & Zhang's subset share ``m / n``.
DOWNSAMPLING_FRACTION = 0.7
#: Subsets of ``ame_values`` when ``n_estimators=None``.
AME_N_ESTIMATORS = 100
#: Lin et al.'s inclusion probabilities, drawn uniformly for each subset.
AME_PROBABILITIES = (0.2, 0.4, 0.6, 0.8)
#: Joblib tasks ``draws_per_task="auto"`` aims at.
_TASKS = 32


def subset_rows(kind: str, entropy: int, k: int, n: int, size: int = 0):
    """The rows of subset ``k`` (and its inclusion probability): the module's recipe.

    Parameters
    ----------
    kind : {"downsampling", "ame"}
    entropy : int
        ``check_random_state(random_state).randint(np.iinfo(np.int32).max)``.
    k : int
        The subset's number.
    n : int
        Number of rows.
    size : int, default=0
        ``m``, the subset size (``"downsampling"`` only).

    Returns
    -------
    rows : ndarray of int
        Sorted row numbers.
    p : float
        The inclusion probability (``"ame"``), or ``size / n``.

    Examples
    --------
    >>> from skinfluence.valuation import subset_rows
    >>> rows, p = subset_rows("downsampling", 0, 0, 10, size=7)
    >>> len(rows), p
    (7, 0.7)
    """
    rng = np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(k,)))
    if kind == "downsampling":
        return np.sort(rng.choice(n, size=size, replace=False)), size / n
    p = float(rng.choice(AME_PROBABILITIES))
    return np.flatnonzero(rng.random(n) < p), p


def _task(utility, kind, entropy, ks, n, size):
    """Fit and score subsets ``ks``: their rows (as a mask), ``p`` and utilities."""
    local = worker_copy(utility)
    masks = np.zeros((len(ks), n), dtype=bool)
    ps = np.empty(len(ks))
    us = np.empty(len(ks))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # thousands of small fits repeat the same warnings
        for j, k in enumerate(ks):
            rows, ps[j] = subset_rows(kind, entropy, k, n, size)
            masks[j, rows] = True
            us[j] = local(rows)
    return masks, ps, us, getattr(local, "n_failed", 0), getattr(local, "first_error", None)


def _check_estimators(n_estimators, default: int, what: str) -> int:
    if n_estimators is None:
        return default
    if isinstance(n_estimators, bool) or not isinstance(n_estimators, Integral) or n_estimators < 2:
        raise ValueError(f"{what} needs n_estimators >= 2 subsets, got {n_estimators!r}.")
    return int(n_estimators)


def _evaluate(utility, kind, n, n_models, size, draws_per_task, n_jobs, random_state, verbose):
    """Utilities of the ``n_models`` subsets, in order: ``(masks, ps, us)`` and failures."""
    entropy = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
    if draws_per_task == "auto":
        per = math.ceil(n_models / _TASKS)
    elif isinstance(draws_per_task, Integral) and not isinstance(draws_per_task, bool):
        per = int(draws_per_task)
    else:
        per = 0
    if per < 1:
        raise ValueError(f"draws_per_task must be >= 1 or 'auto', got {draws_per_task!r}.")
    chunks = [range(s, min(s + per, n_models)) for s in range(0, n_models, per)]
    progress = Progress(n_models, f"{kind} fits", bool(verbose))
    masks, ps, us = [], [], []
    n_failed, first_error = 0, None
    parallel = Parallel(n_jobs=n_jobs, return_as="generator", batch_size=1)
    jobs = (delayed(_task)(utility, kind, entropy, ks, n, size) for ks in chunks)
    for ks, (m, p, u, failed, error) in zip(chunks, parallel(jobs)):
        masks.append(m)
        ps.append(p)
        us.append(u)
        n_failed += failed
        first_error = first_error or error
        progress.update(len(ks))
    progress.close()
    _warn_failures(n_failed, n_models, first_error)
    return np.vstack(masks), np.concatenate(ps), np.concatenate(us), n_failed, first_error


def downsampling_values(
    utility,
    n: int,
    *,
    n_estimators: int | None = None,
    subset_fraction: float = DOWNSAMPLING_FRACTION,
    draws_per_task="auto",
    n_jobs: int | None = None,
    random_state=None,
    verbose: int = 0,
) -> ValuationResult:
    """Downsampling values (Feldman & Zhang 2020; survey eq. 9): with minus without.

    Parameters
    ----------
    utility : callable
        ``utility(sorted_indices) -> float`` over rows ``0…n-1`` (higher = better);
        picklable when it runs in worker processes.
    n : int
        Number of rows, at least 2.
    n_estimators : int or None, default=None
        Subsets ``K`` (at least 2); ``None``: ``DOWNSAMPLING_N_ESTIMATORS`` (100).
    subset_fraction : float in (0, 1), default=0.7
        ``m / n``; ``m = round(subset_fraction · n)`` clipped to ``[1, n - 1]``.
    draws_per_task : int or "auto", default="auto"
        Subsets per joblib task; ``"auto"``: ``ceil(K / 32)``. The draws do not depend
        on it.
    n_jobs : int or None, default=None
        Passed to joblib.
    random_state : int, RandomState instance or None, default=None
        Seeds the draws (the module's recipe).
    verbose : int, default=0
        Show a progress bar.

    Returns
    -------
    result : ValuationResult
        ``values`` (``nan`` for a row in every subset or in none), ``stderr``;
        ``n_iter`` and ``n_evaluations`` are ``K``.

    Examples
    --------
    >>> import numpy as np
    >>> from skinfluence.valuation import downsampling_values
    >>> c = np.array([1.0, 0.0, 0.0, 0.0])
    >>> res = downsampling_values(lambda S: float(c[S].sum()), 4, n_estimators=200,
    ...                           random_state=0)
    >>> res.values.round(2).tolist()  # → c_i - Σ_{j≠i} c_j / (n - 1) = 1, -1/3, ...
    [1.0, -0.33, -0.36, -0.35]
    """
    if n < 2:
        raise ValueError(f"downsampling needs at least 2 rows, got n={n}.")
    if isinstance(subset_fraction, bool) or not isinstance(subset_fraction, Real):
        raise ValueError(f"subset_fraction must be a float in (0, 1), got {subset_fraction!r}.")
    if not 0.0 < subset_fraction < 1.0:
        raise ValueError(f"subset_fraction must be a float in (0, 1), got {subset_fraction!r}.")
    n_models = _check_estimators(n_estimators, DOWNSAMPLING_N_ESTIMATORS, "downsampling")
    size = int(min(max(round(subset_fraction * n), 1), n - 1))
    masks, _, us, n_failed, first_error = _evaluate(
        utility, "downsampling", n, n_models, size, draws_per_task, n_jobs, random_state, verbose
    )
    k_in = masks.sum(axis=0)
    k_out = n_models - k_in
    sum_in = us @ masks
    sq_in = (us * us) @ masks
    sum_out = us.sum() - sum_in
    sq_out = (us * us).sum() - sq_in
    seen = (k_in > 0) & (k_out > 0)
    values = np.full(n, np.nan)
    mean_in = np.divide(sum_in, k_in, out=np.full(n, np.nan), where=k_in > 0)
    mean_out = np.divide(sum_out, k_out, out=np.full(n, np.nan), where=k_out > 0)
    values[seen] = mean_in[seen] - mean_out[seen]
    stderr = np.full(n, np.nan)
    two = (k_in > 1) & (k_out > 1)
    var_in = (sq_in[two] - k_in[two] * mean_in[two] ** 2) / (k_in[two] - 1)
    var_out = (sq_out[two] - k_out[two] * mean_out[two] ** 2) / (k_out[two] - 1)
    stderr[two] = np.sqrt(
        np.clip(var_in, 0.0, None) / k_in[two] + np.clip(var_out, 0.0, None) / k_out[two]
    )
    n_never = int((~seen).sum())
    if n_never:
        warnings.warn(
            f"{n_never} of {n} rows were in every one or in none of the {n_models} "
            "downsampling subsets: their value is nan. Use more subsets (n_estimators).",
            UserWarning,
            stacklevel=2,
        )
    return ValuationResult(
        values=values,
        stderr=stderr,
        n_iter=n_models,
        n_evaluations=n_models,
        converged=True,
        status="complete",
        n_failed=n_failed,
        first_error=first_error,
    )


def ame_values(
    utility,
    n: int,
    *,
    n_estimators: int | None = None,
    draws_per_task="auto",
    n_jobs: int | None = None,
    random_state=None,
    verbose: int = 0,
) -> ValuationResult:
    """Average marginal effects (Lin et al. 2022) by LASSO on the inclusion design.

    Parameters
    ----------
    utility : callable
        ``utility(sorted_indices) -> float`` over rows ``0…n-1`` (higher = better);
        picklable when it runs in worker processes.
    n : int
        Number of rows, at least 1.
    n_estimators : int or None, default=None
        Subsets ``K`` (at least 2; the cross-validated LASSO needs 5 or more);
        ``None``: ``AME_N_ESTIMATORS`` (100).
    draws_per_task : int or "auto", default="auto"
        Subsets per joblib task; ``"auto"``: ``ceil(K / 32)``. The draws do not depend
        on it.
    n_jobs : int or None, default=None
        Passed to joblib (the fits and the LASSO's cross-validation).
    random_state : int, RandomState instance or None, default=None
        Seeds the draws (the module's recipe) and the LASSO.
    verbose : int, default=0
        Show a progress bar.

    Returns
    -------
    result : ValuationResult
        ``values`` (the AMEs), ``stderr`` (``nan``: the LASSO gives none); ``n_iter``
        and ``n_evaluations`` are ``K``.

    Examples
    --------
    >>> import numpy as np
    >>> from skinfluence.valuation import ame_values
    >>> c = np.array([1.0, 0.0, 0.0, -0.5])
    >>> res = ame_values(lambda S: float(c[S].sum()), 4, n_estimators=400, random_state=0)
    >>> bool(np.allclose(res.values, c, atol=0.05))
    True
    """
    if n < 1:
        raise ValueError(f"there must be at least one row to value, got n={n}.")
    n_models = _check_estimators(n_estimators, AME_N_ESTIMATORS, "ame")
    if n_models < 5:
        raise ValueError(
            f"ame's cross-validated LASSO needs n_estimators >= 5 subsets, got {n_models}."
        )
    masks, ps, us, n_failed, first_error = _evaluate(
        utility, "ame", n, n_models, 0, draws_per_task, n_jobs, random_state, verbose
    )
    design = np.where(masks, 1.0 / ps[:, None], -1.0 / (1.0 - ps[:, None]))
    probs = np.asarray(AME_PROBABILITIES)
    scale = float(np.mean(1.0 / (probs * (1.0 - probs))))
    seed = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
    lasso = LassoCV(cv=5, random_state=seed, n_jobs=n_jobs, max_iter=10_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter on the weakest penalties
        lasso.fit(design, us)
    return ValuationResult(
        values=scale * lasso.coef_,
        stderr=np.full(n, np.nan),
        n_iter=n_models,
        n_evaluations=n_models,
        converged=True,
        status="complete",
        n_failed=n_failed,
        first_error=first_error,
    )

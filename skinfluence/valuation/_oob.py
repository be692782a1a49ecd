"""Data-OOB (Kwon & Zou, ICML 2023): every row valued by its out-of-bag predictions.

``B`` models are fitted on bootstrap samples of the ``n`` training rows. A row's value
is the mean score of its *own* target over the models that did not see it::

    value_i = (1 / |B_i|) Σ_{b ∈ B_i} T(y_i, f_b(x_i)),    B_i = {b : i ∉ bootstrap b}

with ``T(y, ŷ) = 1[ŷ = y]`` for a classifier (the correctness of the row's label) and
``T(y, ŷ) = -(y - ŷ)²`` for a regressor (Kwon & Zou 2023, "Data-OOB: out-of-bag estimate
as a simple and efficient data value", eq. 3). Higher = more valuable: a row whose label
the models that never saw it predict is worth keeping; a mislabeled row is predicted
wrongly by most of them. ``stderr_i`` is the sample standard deviation of the
``T(y_i, f_b(x_i))`` over ``B_i`` divided by ``√|B_i|`` (``nan`` when ``|B_i| < 2``). A
row inside every bootstrap sample (``|B_i| = 0``, likely only for small ``B``: each row
is out of bag with probability about ``(1 - 1/n)^n ≈ 0.37`` per model) has no value:
``nan``, and a warning says how many there were. For a classifier the result also holds
the out-of-bag vote shares ``votes_ik = |{b ∈ B_i : f_b(x_i) = k}| / |B_i|`` (its
value is the vote share of its own label), the class probabilities that
``budget="auto"`` reads.

**The bootstrap draws** (any estimator; reproduce them with this recipe): with
``entropy = check_random_state(random_state).randint(np.iinfo(np.int32).max)``, model
``b = 0, …, B-1`` is fitted on the rows::

    rng = np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(b,)))
    inbag = rng.integers(0, n, size=n)                             # no sample_weight
    inbag = rng.choice(n, size=n, replace=True, p=w / w.sum())     # sample_weight w

(with repeats, in that order) as ``clone(estimator).fit(X[inbag], y[inbag])``: sample
weights act as frequencies in the draw, as in scikit-learn's forests and bagging, and
the fit itself is unweighted. Its out-of-bag rows are those not in ``inbag``. The
models are fitted in joblib tasks of ``draws_per_task`` consecutive models
(``sklearn.utils.parallel``, so ``n_jobs`` and any ``joblib.parallel_backend`` —
dask and ray included — run them); each model's draw depends only on ``b``, so the
values are the same for any ``n_jobs``, backend and ``draws_per_task`` (up to the order
of floating-point sums for a regressor). The estimator's own randomness is its own
``random_state``'s.

**Bagging ensembles** (``RandomForestClassifier`` / ``Regressor``,
``ExtraTreesClassifier`` / ``Regressor`` with ``bootstrap=True``;
``BaggingClassifier`` / ``Regressor`` drawing fewer than all rows or with replacement):
the weak learners are the ensemble's members and their bootstrap samples are its own.
One clone of the ensemble is fitted (its ``n_estimators`` set to ``n_estimators`` when
given, its ``random_state`` set from ``random_state`` when it is ``None``, its
``n_jobs`` set to ``n_jobs`` when it is ``None``); the in-bag rows of member ``b`` are
``ensemble.estimators_samples_[b]`` — scikit-learn regenerates them from the member's
seed, and they are the rows it was fitted on (forests fit each tree on the counts
``np.bincount(estimators_samples_[b], minlength=n)``; bagging on those counts or on
the drawn rows, over the features ``estimators_features_[b]``) — and member ``b``
predicts its out-of-bag rows. That is the value of the same definition with the
members as the ``B`` models, without a refit. An ensemble that fits every member on
every row (``bootstrap=False``, the default of ``ExtraTrees*``) has no out-of-bag rows
and is refitted as any other estimator.

Cost: ``B`` fits of the model on ``n`` rows and ``B`` predictions of about ``0.37 n``
rows (``T`` = one fit: ``B T``); one fit of the ensemble for a bagging ensemble. No
validation rows.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from numbers import Integral

import numpy as np
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.ensemble import (
    BaggingClassifier,
    BaggingRegressor,
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.exceptions import FitFailedWarning
from sklearn.utils import _safe_indexing, check_array, check_random_state
from sklearn.utils.parallel import Parallel, delayed

from ._engine import ValuationResult
from ._progress import Progress

__all__ = [
    "DATA_OOB_N_ESTIMATORS",
    "DataOOBResult",
    "bootstrap_rows",
    "data_oob_values",
    "uses_own_bootstrap",
]

#: Bootstrap models of ``data_oob`` when ``n_estimators=None`` and the estimator is not a
#: bagging ensemble (each row is then out of bag for about 37 of them).
DATA_OOB_N_ESTIMATORS = 100
#: Joblib tasks ``draws_per_task="auto"`` aims at (more tasks than workers, little
#: overhead per task).
_TASKS = 32

_FORESTS = (
    RandomForestClassifier,
    RandomForestRegressor,
    ExtraTreesClassifier,
    ExtraTreesRegressor,
)
_BAGGING = (BaggingClassifier, BaggingRegressor)


@dataclass
class DataOOBResult(ValuationResult):
    """A :class:`ValuationResult` of :func:`data_oob_values`, with the out-of-bag counts.

    Parameters
    ----------
    values, stderr, n_iter, n_evaluations, converged, status, u_empty, u_full, \
n_failed, first_error
        As in :class:`ValuationResult`; ``n_iter`` is the number of bootstrap models
        ``B``, ``n_evaluations`` the fits (``B``, or 1 for a bagging ensemble),
        ``converged`` is True and ``status`` ``"complete"``.
    n_out_of_bag : ndarray of shape (n,)
        ``|B_i|``: the models each row was out of bag for.
    oob_proba : ndarray of shape (n, n_classes) or None
        Classifiers: the out-of-bag vote shares of the classes (``np.unique(y)``
        order; ``nan`` rows where ``|B_i| = 0``); ``None`` for a regressor.
    """

    n_out_of_bag: np.ndarray = field(default=None, repr=False)
    oob_proba: np.ndarray | None = field(default=None, repr=False)


def bootstrap_rows(entropy: int, b: int, n: int, p=None) -> np.ndarray:
    """The in-bag rows of bootstrap model ``b`` (with repeats; the module's recipe).

    Parameters
    ----------
    entropy : int
        ``check_random_state(random_state).randint(np.iinfo(np.int32).max)``.
    b : int
        The model's number.
    n : int
        Number of rows.
    p : ndarray of shape (n,) or None, default=None
        Draw probabilities (normalised sample weights); ``None`` = uniform.

    Returns
    -------
    inbag : ndarray of shape (n,)

    Examples
    --------
    >>> from skinfluence.valuation import bootstrap_rows
    >>> bootstrap_rows(0, 0, 5).tolist() == bootstrap_rows(0, 0, 5).tolist()
    True
    """
    rng = np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(b,)))
    if p is None:
        return rng.integers(0, n, size=n)
    return rng.choice(n, size=n, replace=True, p=p)


def uses_own_bootstrap(estimator, n: int) -> bool:
    """Whether ``estimator`` is a bagging ensemble whose members have out-of-bag rows.

    Parameters
    ----------
    estimator : estimator object
    n : int
        Number of training rows.

    Returns
    -------
    bool
        True for ``RandomForest*`` / ``ExtraTrees*`` with ``bootstrap=True`` and for
        ``Bagging*`` drawing with replacement or fewer than ``n`` rows: their own
        bootstrap samples are read instead of refitting.
    """
    if isinstance(estimator, _FORESTS):
        return bool(estimator.bootstrap)
    if isinstance(estimator, _BAGGING):
        if estimator.bootstrap:
            return True
        m = estimator.max_samples
        if m is None:
            return False
        return int(m) < n if isinstance(m, Integral) else float(m) * n < n
    return False


class _Tally:
    """Sums of the per-model scores of every row (and class votes of a classifier)."""

    def __init__(self, n: int, n_classes: int | None):
        self.count = np.zeros(n, dtype=np.int64)
        self.total = np.zeros(n)
        self.total_sq = np.zeros(n)
        self.votes = None if n_classes is None else np.zeros((n, n_classes), dtype=np.int64)

    def add(self, oob: np.ndarray, target: np.ndarray, pred: np.ndarray) -> None:
        """One model's predictions ``pred`` of rows ``oob`` (class positions or values)."""
        if self.votes is not None:
            pred = np.asarray(pred, dtype=np.intp)
            np.add.at(self.votes, (oob, pred), 1)
            t = (pred == target[oob]).astype(np.float64)
        else:
            t = -((target[oob] - np.asarray(pred, dtype=np.float64)) ** 2)
        self.count[oob] += 1
        self.total[oob] += t
        self.total_sq[oob] += t * t

    def merge(self, other: _Tally) -> None:
        self.count += other.count
        self.total += other.total
        self.total_sq += other.total_sq
        if self.votes is not None:
            self.votes += other.votes


def _positions(classes: np.ndarray, labels) -> np.ndarray:
    """Class positions of predicted labels (they are among the training labels)."""
    labels = np.asarray(labels)
    pos = np.clip(np.searchsorted(classes, labels), 0, len(classes) - 1)
    if not np.array_equal(classes[pos], labels):
        raise ValueError("the model predicted a label that is not among the training labels.")
    return pos


def _bootstrap_task(estimator, X, y, target, classes, models, entropy, p):
    """Fit and predict bootstrap models ``models``; their tally and failures."""
    n = len(y)
    tally = _Tally(n, None if classes is None else len(classes))
    n_failed, first_error = 0, None
    for b in models:
        inbag = bootstrap_rows(entropy, b, n, p)
        out = np.ones(n, dtype=bool)
        out[inbag] = False
        oob = np.flatnonzero(out)
        if len(oob) == 0:
            continue
        try:
            model = clone(estimator).fit(_safe_indexing(X, inbag), y[inbag])
            pred = model.predict(_safe_indexing(X, oob))
            if classes is not None:
                pred = _positions(classes, pred)
        except Exception as exc:  # noqa: BLE001 - reported once, as a warning
            n_failed += 1
            first_error = first_error or f"{type(exc).__name__}: {exc}"
            continue
        tally.add(oob, target, pred)
    return tally, n_failed, first_error


def _ensemble_tally(estimator, X, y, target, classifier, n_estimators, sample_weight, n_jobs, rs):
    """Fit the bagging ensemble once; tally its members' out-of-bag predictions."""
    model = clone(estimator)
    params = {}
    if n_estimators is not None:
        params["n_estimators"] = int(n_estimators)
    if model.get_params()["random_state"] is None:
        params["random_state"] = int(check_random_state(rs).randint(np.iinfo(np.int32).max))
    if model.get_params()["n_jobs"] is None and n_jobs is not None:
        params["n_jobs"] = n_jobs
    model.set_params(**params)
    kw = {} if sample_weight is None else {"sample_weight": sample_weight}
    model.fit(X, y, **kw)
    n = len(y)
    # the members were fitted on validated arrays (no column names); predict on the same
    Xa = check_array(X, accept_sparse=("csr", "csc"), dtype=None, ensure_all_finite=False)
    features = getattr(model, "estimators_features_", None)
    tally = _Tally(n, len(model.classes_) if classifier else None)
    for b, (member, inbag) in enumerate(zip(model.estimators_, model.estimators_samples_)):
        out = np.ones(n, dtype=bool)
        out[inbag] = False
        oob = np.flatnonzero(out)
        if len(oob) == 0:
            continue
        rows = Xa[oob]
        if features is not None:
            rows = rows[:, features[b]]
        pred = member.predict(rows)  # classifiers: class positions (members see codes)
        tally.add(oob, target, pred)
    return tally, len(model.estimators_)


def data_oob_values(
    estimator,
    X,
    y,
    *,
    n_estimators: int | None = None,
    sample_weight=None,
    draws_per_task="auto",
    n_jobs: int | None = None,
    random_state=None,
    verbose: int = 0,
) -> DataOOBResult:
    """Data-OOB values of the training rows (Kwon & Zou 2023; the module docstring).

    Parameters
    ----------
    estimator : estimator object
        Any scikit-learn classifier or regressor with ``fit`` and ``predict``;
        cloned, never fitted in place. A bagging ensemble (``RandomForest*``,
        ``ExtraTrees*`` or ``Bagging*`` that draws row samples) is fitted once and
        its members are the bootstrap models.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Training rows.
    y : array-like of shape (n_samples,)
        Their targets.
    n_estimators : int or None, default=None
        Bootstrap models ``B`` (at least 2). ``None``: ``DATA_OOB_N_ESTIMATORS`` (100),
        or a bagging ensemble's own ``n_estimators``; given, it also sets the
        ensemble's.
    sample_weight : array-like of shape (n_samples,) or None, default=None
        Frequency weights: rows are drawn with probability proportional to them.
    draws_per_task : int or "auto", default="auto"
        Bootstrap models per joblib task; ``"auto"``: ``ceil(B / 32)``. The draws do
        not depend on it.
    n_jobs : int or None, default=None
        Passed to joblib (and to a bagging ensemble whose ``n_jobs`` is ``None``).
    random_state : int, RandomState instance or None, default=None
        Seeds the bootstrap draws (the module's recipe), or a bagging ensemble whose
        ``random_state`` is ``None``.
    verbose : int, default=0
        Show a progress bar.

    Returns
    -------
    result : DataOOBResult
        ``values`` (higher = more valuable; ``nan`` for a row never out of bag),
        ``stderr``, ``n_out_of_bag`` and, for a classifier, ``oob_proba``.

    Raises
    ------
    ValueError
        For ``n_estimators < 2``, an estimator that is neither a classifier nor a
        regressor, or when every bootstrap fit raised.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skinfluence.valuation import data_oob_values
    >>> X, y = make_classification(n_samples=60, random_state=0)
    >>> res = data_oob_values(LogisticRegression(), X, y, n_estimators=20, random_state=0)
    >>> res.values.shape, bool(((res.values >= 0) & (res.values <= 1)).all())
    ((60,), True)
    """
    if n_estimators is not None and (
        isinstance(n_estimators, bool) or not isinstance(n_estimators, Integral) or n_estimators < 2
    ):
        raise ValueError(
            f"data_oob needs n_estimators >= 2 bootstrap models (about 100 give every "
            f"row some 37 out-of-bag predictions), got n_estimators={n_estimators!r}."
        )
    classifier = is_classifier(estimator)
    if not (classifier or is_regressor(estimator)) or not hasattr(estimator, "predict"):
        raise ValueError(
            "data_oob scores each row's own target with the predictions of models that "
            "did not see it: it needs a classifier or a regressor with fit and predict, "
            f"got {type(estimator).__name__}."
        )
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be one-dimensional, got shape {y.shape}.")
    n = len(y)
    if n < 2:
        raise ValueError(f"data_oob needs at least 2 rows, got {n}.")
    p = None
    if sample_weight is not None:
        w = np.asarray(sample_weight, dtype=np.float64)
        if w.shape != (n,) or not np.all(np.isfinite(w)) or w.min() < 0 or w.sum() <= 0:
            raise ValueError(
                "sample_weight must hold one finite, non-negative weight per row, not all 0."
            )
        p = w / w.sum()
    classes = np.unique(y) if classifier else None
    target = np.searchsorted(classes, y) if classifier else y.astype(np.float64)

    n_failed, first_error = 0, None
    if uses_own_bootstrap(estimator, n):
        tally, n_models = _ensemble_tally(
            estimator, X, y, target, classifier, n_estimators, sample_weight, n_jobs, random_state
        )
        n_fits = 1
    else:
        n_models = n_fits = int(n_estimators or DATA_OOB_N_ESTIMATORS)
        entropy = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
        size = math.ceil(n_models / _TASKS) if draws_per_task == "auto" else int(draws_per_task)
        if size < 1:
            raise ValueError(f"draws_per_task must be >= 1 or 'auto', got {draws_per_task!r}.")
        chunks = [range(s, min(s + size, n_models)) for s in range(0, n_models, size)]
        progress = Progress(n_models, "data_oob fits", bool(verbose))
        tally = _Tally(n, None if classes is None else len(classes))
        parallel = Parallel(n_jobs=n_jobs, return_as="generator", batch_size=1)
        jobs = (
            delayed(_bootstrap_task)(estimator, X, y, target, classes, models, entropy, p)
            for models in chunks
        )
        for models, (part, failed, error) in zip(chunks, parallel(jobs)):
            tally.merge(part)
            n_failed += failed
            first_error = first_error or error
            progress.update(len(models))
        progress.close()
        if n_failed == n_models:
            raise ValueError(
                f"every one of the {n_models} bootstrap fits of data_oob raised; the first "
                f"error was {first_error}."
            )
        if n_failed:
            warnings.warn(
                f"{n_failed} of {n_models} bootstrap fits of data_oob raised and were left "
                f"out; the first error was {first_error}.",
                FitFailedWarning,
                stacklevel=2,
            )
    return _result(tally, n_models, n_fits, n_failed, first_error)


def _result(tally: _Tally, n_models: int, n_fits: int, n_failed: int, first_error):
    c = tally.count
    seen = c > 0
    values = np.full(len(c), np.nan)
    np.divide(tally.total, c, out=values, where=seen)
    stderr = np.full(len(c), np.nan)
    two = c > 1
    var = (tally.total_sq[two] - c[two] * values[two] ** 2) / (c[two] - 1)
    stderr[two] = np.sqrt(np.clip(var, 0.0, None) / c[two])
    proba = None
    if tally.votes is not None:
        proba = np.full(tally.votes.shape, np.nan)
        np.divide(tally.votes, c[:, None], out=proba, where=seen[:, None])
    n_never = int((~seen).sum())
    if n_never:
        warnings.warn(
            f"{n_never} of {len(c)} rows were in every one of the {n_models} bootstrap "
            "samples (never out of bag): their data_oob value is nan. Use more bootstrap "
            "models (n_estimators).",
            UserWarning,
            stacklevel=3,
        )
    return DataOOBResult(
        values=values,
        stderr=stderr,
        n_iter=n_models,
        n_evaluations=n_fits,
        converged=True,
        status="complete",
        n_failed=n_failed,
        first_error=first_error,
        n_out_of_bag=c,
        oob_proba=proba,
    )

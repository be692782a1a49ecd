"""Out-of-fold label quality (``"oof_confidence"``): any classifier or regressor.

The model-agnostic twin of ``"loo_confidence"``: instead of the one-Newton-step
leave-one-out prediction of a model with an adapter, each row is predicted by a clone
of the estimator fitted on the other folds of a K-fold split (cross-fitting, as
scikit-learn's ``cross_val_predict``), and scored by how unlikely its own label is
under that out-of-fold prediction — confident learning's recipe (Northcutt, Jiang &
Chuang 2021, "Confident learning: estimating uncertainty in dataset labels", §2;
cleanlab computes its label-quality scores on out-of-fold probabilities).

**Folds.** ``cv`` as in scikit-learn: an int ``K`` is ``StratifiedKFold(K,
shuffle=True, random_state=random_state)`` for a classifier and ``KFold(K,
shuffle=True, random_state=random_state)`` for a regressor; a splitter or an iterable
of ``(train, test)`` pairs is used as given (through ``check_cv``) and must put every
row in exactly one test fold. Fold ``j``'s model is ``clone(estimator).fit(X[train_j],
y[train_j], sample_weight=w[train_j])`` (the weights only when given; the estimator's
``fit`` must take them); the folds run as joblib tasks (``sklearn.utils.parallel``:
``n_jobs``, or any ``joblib.parallel_backend``, dask included).

**Out-of-fold probabilities** ``P_oof`` of a classifier, in the order of
``np.unique(y)``: ``predict_proba`` where the estimator has it; otherwise its
``decision_function`` ``d`` through the logistic sigmoid (binary: ``P(classes[1]) =
1 / (1 + e^{-d})``) or the softmax over classes (``d`` of shape ``(n, K)``, one column
per class — ``SVC(decision_function_shape="ovr")``, one-vs-rest linear models). That
is the link of a logistic model on the raw margins: monotone in them, uncalibrated
(the ranking of rows within a class is the margin's; ``budget="auto"`` uses per-class
thresholds, which calibration does not move much). A class absent from a fold's
training rows gets probability 0 in that fold.

**Scores** (highest = trimmed first): classifiers ``1 - label_quality(P_oof, y,
label_score)`` with cleanlab's ``"self_confidence"`` (``P_oof(y_i)``),
``"normalized_margin"`` or ``"confidence_weighted_entropy"`` (see
:mod:`skinfluence.influence._loo`); regressors the standardised out-of-fold residual
``|y_i - μ_oof,i| / s`` with ``s`` the root mean square of all out-of-fold residuals.
For a linear model this ranks rows as ``"loo_confidence"`` does, up to the difference
between leaving out one fold and leaving out one row.

Cost: ``K`` fits on ``(K-1)/K`` of the rows and one prediction of every row; no
validation rows, no adapter.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.model_selection import KFold, StratifiedKFold, check_cv
from sklearn.utils import _safe_indexing
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import has_fit_parameter

from ..adapters import model_input
from ..exceptions import UnsupportedModelError
from ._loo import check_label_score, out_of_sample_scores

__all__ = [
    "check_model_agnostic",
    "decision_proba",
    "oof_confidence_scores",
    "oof_predictions",
    "out_of_sample_output",
]


def out_of_sample_output(estimator) -> str | None:
    """What ``"oof_confidence"`` predicts with: the estimator's method, or None.

    Parameters
    ----------
    estimator : estimator object (fitted or not)

    Returns
    -------
    str or None
        ``"predict_proba"`` or ``"decision_function"`` for a classifier (in that
        order of preference), ``"predict"`` for a regressor, ``None`` when there is
        none of these.
    """
    if is_classifier(estimator):
        for method in ("predict_proba", "decision_function"):
            if hasattr(estimator, method):
                return method
        return None
    if is_regressor(estimator) and hasattr(estimator, "predict"):
        return "predict"
    return None


def check_model_agnostic(estimator, method: str) -> str:
    """The prediction method ``method`` (a model-agnostic measure) uses on ``estimator``.

    Parameters
    ----------
    estimator : estimator object
    method : {"oof_confidence", "data_oob"}

    Returns
    -------
    str
        ``"predict_proba"``, ``"decision_function"`` or ``"predict"``.

    Raises
    ------
    UnsupportedModelError
        When the estimator lacks what the method needs; the message says what each
        model-agnostic method needs.
    """
    name = type(estimator).__name__
    needs = (
        "method='oof_confidence' needs a classifier with predict_proba or "
        "decision_function, or a regressor with predict; method='data_oob' needs a "
        "classifier or a regressor with predict"
    )
    if not (is_classifier(estimator) or is_regressor(estimator)):
        raise UnsupportedModelError(
            f"{needs}. {name} is neither a classifier nor a regressor (scikit-learn's "
            "estimator type); influence of a clusterer or a transformer is undefined."
        )
    if method == "data_oob":
        if not hasattr(estimator, "predict"):
            raise UnsupportedModelError(f"{needs}; {name} has no predict.")
        return "predict"
    output = out_of_sample_output(estimator)
    if output is None:
        hint = (
            "use method='data_oob' (it needs only predict)"
            if hasattr(estimator, "predict")
            else "give it predict_proba"
        )
        what = "predict_proba nor decision_function" if is_classifier(estimator) else "predict"
        raise UnsupportedModelError(f"{needs}; {name} has neither {what}: {hint}.")
    return output


def decision_proba(d: np.ndarray, n_classes: int) -> np.ndarray:
    """Class probabilities from decision values: sigmoid (binary) or softmax.

    Parameters
    ----------
    d : ndarray of shape (n,) or (n, n_classes)
        ``decision_function`` output.
    n_classes : int
        Classes of the model that made it.

    Returns
    -------
    ndarray of shape (n, n_classes)
    """
    d = np.asarray(d, dtype=np.float64)
    if n_classes == 2 and (d.ndim == 1 or d.shape[1] == 1):
        p1 = 1.0 / (1.0 + np.exp(-d.reshape(-1)))
        return np.column_stack([1.0 - p1, p1])
    if d.ndim != 2 or d.shape[1] != n_classes:
        raise UnsupportedModelError(
            f"decision_function returned shape {d.shape} for {n_classes} classes; "
            "oof_confidence needs one column per class (for SVC pass "
            "decision_function_shape='ovr', or probability=True)."
        )
    e = np.exp(d - d.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _folds(estimator, X, y, cv, random_state):
    n = len(y)
    if isinstance(cv, (int, np.integer)) and not isinstance(cv, bool):
        if cv < 2:
            raise ValueError(f"cv must be at least 2 folds, got cv={cv}.")
        if cv > n:
            raise ValueError(f"cv={cv} folds need at least {cv} rows, got {n}.")
        splitter = (
            StratifiedKFold(int(cv), shuffle=True, random_state=random_state)
            if is_classifier(estimator)
            else KFold(int(cv), shuffle=True, random_state=random_state)
        )
    else:
        splitter = check_cv(cv, y, classifier=is_classifier(estimator))
    folds = [(np.asarray(tr), np.asarray(te)) for tr, te in splitter.split(X, y)]
    tested = np.zeros(n, dtype=np.int64)
    for _, te in folds:
        np.add.at(tested, te, 1)
    if not np.all(tested == 1):
        raise ValueError(
            "oof_confidence needs folds whose test parts cover every row exactly once "
            f"(a partition, as cross_val_predict); {int((tested == 0).sum())} rows are in "
            f"no test fold and {int((tested > 1).sum())} in several. Pass an int or a "
            "KFold-like splitter as cv."
        )
    return folds


def _fit_predict(estimator, X, y, train, test, sample_weight, output, classes):
    """Fit a clone on ``train``, predict ``test`` (probabilities in ``classes`` order)."""
    kw = {} if sample_weight is None else {"sample_weight": sample_weight[train]}
    model = clone(estimator).fit(_safe_indexing(X, train), y[train], **kw)
    rows = _safe_indexing(X, test)
    if output == "predict":
        return np.asarray(model.predict(rows), dtype=np.float64)
    own = np.asarray(model.classes_)
    if output == "predict_proba":
        P_own = np.asarray(model.predict_proba(rows), dtype=np.float64)
    else:
        P_own = decision_proba(model.decision_function(rows), len(own))
    P = np.zeros((len(test), len(classes)))
    P[:, np.searchsorted(classes, own)] = P_own
    return P


def oof_predictions(
    estimator, X, y, *, cv=5, sample_weight=None, n_jobs=None, random_state=None
) -> np.ndarray:
    """Out-of-fold predictions of every row (the module docstring's folds).

    Parameters
    ----------
    estimator : estimator object
        An unfitted (or fitted: it is cloned) classifier with ``predict_proba`` or
        ``decision_function``, or a regressor.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Training rows (pandas kept, so that a pipeline sees its columns).
    y : array-like of shape (n_samples,)
        Their targets.
    cv : int, cross-validation generator or iterable, default=5
        Folds (a partition of the rows).
    sample_weight : array-like of shape (n_samples,) or None, default=None
        Passed to every fold's fit (sliced to its training rows).
    n_jobs : int or None, default=None
        Joblib jobs over the folds.
    random_state : int, RandomState instance or None, default=None
        Shuffles the folds of an int ``cv``.

    Returns
    -------
    ndarray of shape (n_samples, n_classes) or (n_samples,)
        Classifiers: out-of-fold class probabilities in ``np.unique(y)`` order;
        regressors: out-of-fold predictions.
    """
    output = check_model_agnostic(estimator, "oof_confidence")
    y = np.asarray(y)
    if sample_weight is not None:
        if not has_fit_parameter(estimator, "sample_weight"):
            raise ValueError(
                f"sample_weight was given, but {type(estimator).__name__}.fit takes no "
                "sample_weight: the fold fits cannot use it."
            )
        sample_weight = np.asarray(sample_weight, dtype=np.float64)
        if sample_weight.shape != y.shape:
            raise ValueError(
                f"sample_weight must have one weight per row ({len(y)}), got shape "
                f"{sample_weight.shape}."
            )
    X = model_input(estimator, X)
    classes = np.unique(y) if output != "predict" else None
    folds = _folds(estimator, X, y, cv, random_state)
    parts = Parallel(n_jobs=n_jobs)(
        delayed(_fit_predict)(estimator, X, y, tr, te, sample_weight, output, classes)
        for tr, te in folds
    )
    out = np.empty((len(y), len(classes)) if classes is not None else len(y))
    for (_, te), part in zip(folds, parts):
        out[te] = part
    return out


def oof_confidence_scores(
    estimator,
    X,
    y,
    X_val,
    y_val,
    *,
    label_score: str = "self_confidence",
    cv=5,
    n_jobs=None,
    random_state=None,
    sample_weight=None,
    cache: dict | None = None,
) -> np.ndarray:
    """``1 -`` label quality at the out-of-fold predictions (higher = trim first).

    Parameters
    ----------
    estimator : estimator object
        The unfitted classifier or regressor (clones are fitted on the folds).
    X, y : training rows and their labels
    X_val, y_val : ignored (no validation set is used)
    label_score : {"self_confidence", "normalized_margin", "confidence_weighted_entropy"}
        Classifiers only; see :func:`~skinfluence.influence.label_quality`.
    cv, n_jobs, random_state, sample_weight
        As in :func:`oof_predictions`.
    cache : dict or None, default=None
        When given, the out-of-fold class probabilities are left in
        ``cache["proba"]`` (classifiers), for ``budget="auto"``.

    Returns
    -------
    ndarray of shape (n_samples,)
    """
    check_label_score(label_score)
    out = oof_predictions(
        estimator,
        X,
        y,
        cv=cv,
        sample_weight=sample_weight,
        n_jobs=n_jobs,
        random_state=random_state,
    )
    y = np.asarray(y)
    if out.ndim == 1:
        return out_of_sample_scores(out, y, label_score, classifier=False)
    if cache is not None:
        cache["proba"] = out
    y_enc = np.searchsorted(np.unique(y), y)
    return out_of_sample_scores(out, y_enc, label_score, classifier=True)

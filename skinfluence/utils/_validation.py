"""Input checks shared by the public estimators and functions."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_array
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import _num_samples

__all__ = [
    "check_dask_xy",
    "check_target",
    "check_xy",
    "check_validation_set",
    "n_to_drop",
    "check_two_classes",
]


def check_xy(X, y, *, classifier: bool, accept_sparse=("csr", "csc"), names=("X", "y")):
    """Validate a feature matrix and its targets; return float64 ``X`` and ``y``.

    NaN / inf in ``X`` or ``y``, a wrong number of dimensions or mismatched lengths
    raise ``ValueError`` naming the input (``names``). The inputs are never modified
    (copies are made only where a conversion is needed).
    """
    X = check_array(X, accept_sparse=accept_sparse, dtype=np.float64, input_name=names[0])
    return X, check_target(X, y, classifier=classifier, name=names[1])


def check_target(X, y, *, classifier: bool, name: str = "y"):
    """Validate the targets of the rows ``X`` (one-dimensional, finite, one per row)."""
    y = check_array(
        y, ensure_2d=False, dtype=None, ensure_all_finite=not classifier, input_name=name
    )
    if y.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {y.shape}.")
    if _num_samples(X) != len(y):
        raise ValueError(
            f"{name} has {len(y)} values but the rows have {_num_samples(X)} "
            "(inconsistent numbers of samples); pass one target per row."
        )
    if classifier:
        if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
            raise ValueError(f"{name} contains NaN or infinity; drop or label those rows.")
        check_classification_targets(y)
    elif type_of_target(y) not in ("continuous", "binary", "multiclass"):
        raise ValueError(f"{name} must be a numeric target, got {type_of_target(y)}.")
    return y


def check_dask_xy(X, y, *, classifier: bool, n_features: int | None = None, who=None):
    """Validate a dask array of rows and its targets without computing the rows.

    ``X`` must be two-dimensional with known row chunks; it is cast to float64 and
    rechunked to one block of columns, lazily. ``y`` (a dask or in-memory array)
    must be one-dimensional with one target per row; for a classifier its distinct
    values are computed (a pass over ``y``, not over ``X``) and checked (at least two
    of them when ``who`` names the caller, for the message). NaN in
    ``X`` is not looked for (that would be a pass over the rows): it makes the
    Hessian's factorisation fail with a message saying so.

    Returns
    -------
    X : dask array
    y : dask array or ndarray
    """
    if X.ndim != 2:
        raise ValueError(f"X must be two-dimensional, got a dask array of shape {X.shape}.")
    if any(np.isnan(c) for c in X.chunks[0]):
        raise ValueError(
            "the dask array has unknown chunk sizes; call X.compute_chunk_sizes() first."
        )
    if X.dtype.kind not in "biuf":
        raise ValueError(f"X must be numeric, got dtype {X.dtype}.")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(
            f"X_val has {X.shape[1]} features, but the training X has {n_features}; "
            "transform X_val the same way as X."
        )
    X = X.astype(np.float64)
    if X.numblocks[1] > 1:
        X = X.rechunk({1: -1})
    y_dask = type(y).__module__.split(".")[0] == "dask"
    if not y_dask:
        y = check_array(y, ensure_2d=False, dtype=None, ensure_all_finite=not classifier)
    if y.ndim != 1:
        raise ValueError(f"y must be one-dimensional, got shape {y.shape}.")
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]} targets.")
    if classifier:
        import dask.array as da

        values = np.asarray(da.unique(y).compute() if y_dask else np.unique(y))
        check_classification_targets(values)
        if who is not None:
            check_two_classes(values, who)
    return X, y


def check_two_classes(y, who: str) -> None:
    """Raise a clear error when a classification target has fewer than two classes."""
    classes = np.unique(y)
    if classes.size < 2:
        raise ValueError(
            f"{who} needs at least two classes in the training rows, got one class "
            f"({classes.tolist()}); influence on a constant classifier is undefined."
        )


def check_validation_set(X_val, y_val, n_features: int, *, classifier: bool, raw: bool = False):
    """Validate an explicit validation set against the training feature count.

    ``raw=True`` (rows a pipeline transforms itself): ``X_val`` is kept as given and
    only its row count and ``y_val`` are checked.
    """
    if (X_val is None) != (y_val is None):
        raise ValueError("pass both X_val and y_val, or neither.")
    if raw:
        y_val = check_target(X_val, y_val, classifier=classifier, name="y_val")
        if _num_samples(X_val) != len(y_val):
            raise ValueError(
                f"X_val has {_num_samples(X_val)} rows but y_val has {len(y_val)} values."
            )
        return X_val, y_val
    X_val, y_val = check_xy(X_val, y_val, classifier=classifier, names=("X_val", "y_val"))
    if X_val.shape[1] != n_features:
        raise ValueError(
            f"X_val has {X_val.shape[1]} features, but the training X has "
            f"{n_features}; transform X_val the same way as X."
        )
    return X_val, y_val


def n_to_drop(budget, n_scored: int) -> int:
    """Number of rows a ``budget`` removes out of ``n_scored`` candidate rows.

    An int is a count, a float in ``[0, 1)`` a fraction (rounded down).
    """
    if isinstance(budget, (bool, np.bool_)):
        raise TypeError(f"budget must be an int or a float, got {budget!r}.")
    if isinstance(budget, Integral):
        n = int(budget)
        if n < 0 or n >= n_scored:
            raise ValueError(
                f"budget={n} rows must be in [0, {n_scored}): there are {n_scored} "
                "training rows to choose from."
            )
        return n
    if isinstance(budget, Real):
        if not 0.0 <= budget < 1.0:
            raise ValueError(
                f"a float budget is a fraction in [0, 1), got {budget}; pass an int "
                "for a number of rows."
            )
        return int(np.floor(budget * n_scored))
    raise TypeError(f"budget must be an int or a float, got {budget!r}.")

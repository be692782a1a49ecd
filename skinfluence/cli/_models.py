"""The ``--model`` values of the commands, and fitting a pipeline with a plain error."""

from __future__ import annotations

from functools import cache

from ..exceptions import UnsupportedModelError
from ._input import InputError

__all__ = [
    "CLEAN_MODELS",
    "MODELS",
    "QUERY_MODELS",
    "VALUE_MODELS",
    "fit_pipeline",
    "make_model",
    "model_methods",
]

#: ``--model`` values: name -> the model it stands for (shown in ``--help``)
MODELS = {
    "logistic": "LogisticRegression(max_iter=1000) (classification; the default)",
    "ridge": "Ridge(alpha=1.0) (regression; the default)",
    "linear": "LinearRegression() (regression)",
    "sgd": 'SGDClassifier(loss="log_loss") (binary) or SGDRegressor() (regression)',
    "knn": "KNeighborsClassifier(n_neighbors=5) ('value' only; the default of --method knn)",
}
_CLASSIFIERS = {"logistic", "sgd", "knn"}
CLEAN_MODELS = ("logistic", "sgd", "ridge", "linear")
VALUE_MODELS = ("logistic", "sgd", "ridge", "linear", "knn")
QUERY_MODELS = ("logistic", "sgd")
_REGRESSORS = {"ridge", "linear", "sgd"}


def make_model(name: str | None, task: str, seed: int, choices=tuple(MODELS)):
    """The unfitted model ``--model name`` stands for, for a ``task``.

    Parameters
    ----------
    name : str or None
        A key of :data:`MODELS`, or ``None`` for the task's default.
    task : {"classification", "regression"}
        The resolved task.
    seed : int
        ``random_state`` of the models that have one.
    choices : sequence of str, default=all of MODELS
        The models the command accepts (named in the error message).

    Returns
    -------
    model : estimator
        The unfitted scikit-learn model.

    Raises
    ------
    InputError
        When the model does not fit the task.
    """
    from sklearn.linear_model import (
        LinearRegression,
        LogisticRegression,
        Ridge,
        SGDClassifier,
        SGDRegressor,
    )
    from sklearn.neighbors import KNeighborsClassifier

    if name is None:
        name = "logistic" if task == "classification" else "ridge"
    allowed = (_CLASSIFIERS if task == "classification" else _REGRESSORS) & set(choices)
    if name not in allowed:
        other = "regression" if task == "classification" else "classification"
        raise InputError(
            f"--model {name} is a {other} model, but the target is a {task} target; "
            f"choose from {', '.join(sorted(allowed))} or set --task."
        )
    if name == "logistic":
        return LogisticRegression(max_iter=1000)
    if name == "ridge":
        return Ridge()
    if name == "linear":
        return LinearRegression()
    if name == "knn":
        return KNeighborsClassifier()
    if task == "classification":
        return SGDClassifier(loss="log_loss", random_state=seed)
    return SGDRegressor(random_state=seed)


@cache
def model_methods(name: str) -> tuple[str, ...]:
    """The ``--method`` values that run on ``--model name``: ``"auto"`` and the measures.

    Derived from the registry and the model's adapter, so new models and measures
    need no entry here: a measure of the fitted model (``inputs="adapter"``) runs when
    the adapter of ``name``'s model has every capability the measure needs (found by
    fitting the model on a few synthetic rows); a model-agnostic measure runs on any
    model. A model without an adapter gets the model-agnostic measures only.

    Parameters
    ----------
    name : str
        A key of :data:`MODELS`.

    Returns
    -------
    methods : tuple of str
        ``"auto"`` first (when what it picks for the model runs), then the
        registry's order.
    """
    import warnings

    import numpy as np

    from .._trimmer import auto_method
    from ..adapters import make_adapter
    from ..influence import MEASURES

    task = "classification" if name in _CLASSIFIERS else "regression"
    model = make_model(name, task, 0)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 2))
    y = (X[:, 0] > 0).astype(int) if task == "classification" else X[:, 0]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence on 20 rows says nothing
            capabilities = make_adapter(model.fit(X, y), X, y).capabilities
    except UnsupportedModelError:
        capabilities = frozenset()
    runs = tuple(
        method
        for method, measure in MEASURES.items()
        if not measure.fitted_model or set(measure.needs) <= capabilities
    )
    return ("auto", *runs) if auto_method(model) in runs else runs


def fit_pipeline(pipe, X, y, what: str):
    """Fit with the errors of the data (one class, too few rows...) as one line."""
    try:
        return pipe.fit(X, y)
    except (ValueError, UnsupportedModelError) as exc:
        message = " ".join(str(exc).split())
        raise InputError(f"{what} failed: {message}") from None

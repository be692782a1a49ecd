"""The ``--model`` values of the commands, and fitting a pipeline with a plain error."""

from __future__ import annotations

from ..exceptions import UnsupportedModelError
from ._input import InputError

__all__ = ["CLEAN_MODELS", "MODELS", "QUERY_MODELS", "VALUE_MODELS", "fit_pipeline", "make_model"]

#: ``--model`` values: name -> the model it stands for (shown in ``--help``)
MODELS = {
    "logistic": "LogisticRegression(max_iter=1000) (classification; the default)",
    "ridge": "Ridge(alpha=1.0) (regression; the default)",
    "linear": "LinearRegression() (regression)",
    "sgd": 'SGDClassifier(loss="log_loss") (binary) or SGDRegressor() (regression)',
    "knn": "KNeighborsClassifier(n_neighbors=5) (classification; value's default for --method knn)",
    "svc": "SVC() (classification, RBF kernel; scored through its decision function)",
    "mlp": "MLPClassifier(hidden_layer_sizes=(64,), early_stopping=True, max_iter=500) "
    "(classification)",
    "nb": "GaussianNB() (classification)",
}
_CLASSIFIERS = {"logistic", "sgd", "knn", "svc", "mlp", "nb"}
#: ``clean`` takes every model: those without an influence adapter (knn, svc, mlp, nb)
#: run the model-agnostic methods (``--method auto`` picks oof_confidence).
CLEAN_MODELS = ("logistic", "sgd", "ridge", "linear", "knn", "svc", "mlp", "nb")
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
    from sklearn.naive_bayes import GaussianNB
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.svm import SVC

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
    if name == "svc":
        return SVC()
    if name == "mlp":
        return MLPClassifier(
            hidden_layer_sizes=(64,), early_stopping=True, max_iter=500, random_state=seed
        )
    if name == "nb":
        return GaussianNB()
    if task == "classification":
        return SGDClassifier(loss="log_loss", random_state=seed)
    return SGDRegressor(random_state=seed)


def fit_pipeline(pipe, X, y, what: str):
    """Fit with the errors of the data (one class, too few rows...) as one line."""
    try:
        return pipe.fit(X, y)
    except (ValueError, UnsupportedModelError) as exc:
        message = " ".join(str(exc).split())
        raise InputError(f"{what} failed: {message}") from None

"""The ``--model`` values of the commands, and fitting a pipeline with a plain error."""

from __future__ import annotations

from ..exceptions import UnsupportedModelError
from ._input import InputError

__all__ = [
    "CLEAN_MODELS",
    "MODELS",
    "QUERY_MODELS",
    "TREE_MODELS",
    "VALUE_MODELS",
    "dense_input",
    "fit_pipeline",
    "make_model",
]

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
    # tree ensembles: classifier or regressor by the task; lightgbm / xgboost need
    # pip install skinfluence[trees]
    "hgb": "HistGradientBoostingClassifier / HistGradientBoostingRegressor(max_iter=100)",
    "gb": "GradientBoostingClassifier / GradientBoostingRegressor(n_estimators=100)",
    "rf": "RandomForestClassifier / RandomForestRegressor(n_estimators=100)",
    "lightgbm": "LGBMClassifier / LGBMRegressor(n_estimators=100, n_jobs=1) (skinfluence[trees])",
    "xgboost": "XGBClassifier / XGBRegressor(n_estimators=100, n_jobs=1) (skinfluence[trees])",
}
TREE_MODELS = ("hgb", "gb", "rf", "lightgbm", "xgboost")
_CLASSIFIERS = {"logistic", "sgd", "knn", "svc", "mlp", "nb", *TREE_MODELS}
#: ``clean`` takes every model: those without an influence adapter (knn, svc, mlp, nb)
#: run the model-agnostic methods (``--method auto`` picks oof_confidence).
CLEAN_MODELS = ("logistic", "sgd", "ridge", "linear", "knn", "svc", "mlp", "nb", *TREE_MODELS)
VALUE_MODELS = ("logistic", "sgd", "ridge", "linear", "knn", "hgb", "rf", "lightgbm", "xgboost")
QUERY_MODELS = ("logistic", "sgd")
_REGRESSORS = {"ridge", "linear", "sgd", *TREE_MODELS}


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
    if name in TREE_MODELS:
        return _tree_model(name, task == "classification", seed)
    if task == "classification":
        return SGDClassifier(loss="log_loss", random_state=seed)
    return SGDRegressor(random_state=seed)


def _tree_model(name: str, classifier: bool, seed: int):
    """``--model hgb | gb | rf | lightgbm | xgboost`` (the extras imported lazily)."""
    from sklearn import ensemble

    if name == "hgb":
        kind = "Classifier" if classifier else "Regressor"
        return getattr(ensemble, f"HistGradientBoosting{kind}")(max_iter=100, random_state=seed)
    if name == "gb":
        kind = "Classifier" if classifier else "Regressor"
        return getattr(ensemble, f"GradientBoosting{kind}")(n_estimators=100, random_state=seed)
    if name == "rf":
        kind = "Classifier" if classifier else "Regressor"
        return getattr(ensemble, f"RandomForest{kind}")(n_estimators=100, random_state=seed)
    package = {"lightgbm": "lightgbm", "xgboost": "xgboost"}[name]
    try:
        module = __import__(package)
    except ImportError:
        raise InputError(
            f"--model {name} needs the {package} package: pip install skinfluence[trees]"
        ) from None
    if name == "lightgbm":
        cls = module.LGBMClassifier if classifier else module.LGBMRegressor
        return cls(n_estimators=100, n_jobs=1, random_state=seed, verbose=-1)
    cls = module.XGBClassifier if classifier else module.XGBRegressor
    # one thread: on CSV-sized data OpenMP threads cost more than they save
    return cls(n_estimators=100, n_jobs=1, random_state=seed)


def dense_input(model) -> bool:
    """Whether ``model`` needs dense rows (HistGradientBoosting refuses sparse ones)."""
    return type(model).__name__.startswith("HistGradientBoosting")


def fit_pipeline(pipe, X, y, what: str):
    """Fit with the errors of the data (one class, too few rows...) as one line."""
    try:
        return pipe.fit(X, y)
    except (ValueError, UnsupportedModelError) as exc:
        message = " ".join(str(exc).split())
        raise InputError(f"{what} failed: {message}") from None

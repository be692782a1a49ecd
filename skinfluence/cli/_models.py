"""The ``--model`` values of the commands, and fitting a pipeline with a plain error."""

from __future__ import annotations

from functools import cache

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
    "method_needs",
    "model_capabilities",
    "model_methods",
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


@cache
def model_methods(name: str) -> tuple[str, ...]:
    """The ``--method`` values that run on ``--model name``: ``"auto"`` and the measures.

    Derived from the registry and the model's adapter, so new models and measures
    need no entry here: a measure of the fitted model (``inputs="adapter"``) runs when
    the adapter of ``name``'s model has every capability :func:`method_needs` names
    (the measure's, and the trimmer's solver's for a measure that solves with the
    curvature); a model-agnostic measure runs on any model. A model without an
    adapter gets the model-agnostic measures only.

    Parameters
    ----------
    name : str
        A key of :data:`MODELS`.

    Returns
    -------
    methods : tuple of str
        ``"auto"`` first (when what it picks for the model runs), then the
        registry's order.

    Raises
    ------
    InputError
        When the model's package (an extra) is not installed.
    """
    from .._trimmer import auto_method
    from ..influence import MEASURES

    capabilities = model_capabilities(name)
    runs = tuple(
        method
        for method, measure in MEASURES.items()
        if not measure.fitted_model or set(method_needs(method)) <= capabilities
    )
    model = make_model(name, _task(name), 0)
    return ("auto", *runs) if auto_method(model) in runs else runs


def method_needs(method: str) -> tuple[str, ...]:
    """The adapter capabilities ``--method method`` needs, the solver's included.

    Parameters
    ----------
    method : str
        A key of the measure registry.

    Returns
    -------
    needs : tuple of str
        The measure's needs, then those of the trimmer's default solver when the
        measure solves with the curvature.
    """
    from .._trimmer import InfluenceTrimmer
    from ..curvature import make_solver
    from ..influence import MEASURES

    measure = MEASURES[method]
    needs = list(measure.needs)
    if measure.curvature != "none":
        solver = make_solver(InfluenceTrimmer().get_params()["solver"])
        needs += [need for need in solver.needs if need not in needs]
    return tuple(needs)


@cache
def model_capabilities(name: str) -> frozenset:
    """The capabilities of the adapter of ``--model name`` (empty: no adapter).

    Found by fitting a small copy of the model on a few synthetic rows, on one thread.

    Parameters
    ----------
    name : str
        A key of :data:`MODELS`.

    Returns
    -------
    capabilities : frozenset of str
    """
    import warnings

    import numpy as np
    from threadpoolctl import threadpool_limits

    from ..adapters import make_adapter

    task = _task(name)
    model = make_model(name, task, 0)
    model.set_params(**_small(model))
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 2))
    y = (X[:, 0] > 0).astype(int) if task == "classification" else X[:, 0]
    try:
        with warnings.catch_warnings(), threadpool_limits(1):
            warnings.simplefilter("ignore")  # convergence on 20 rows says nothing
            return frozenset(make_adapter(model.fit(X, y), X, y).capabilities)
    except UnsupportedModelError:
        return frozenset()


def _task(name: str) -> str:
    return "classification" if name in _CLASSIFIERS else "regression"


def _small(model) -> dict:
    """Parameters that make a copy of ``model`` quick to fit (same adapter, same checks)."""
    from ..adapters import model_family

    params = model.get_params()
    if model_family(model) != "trees":
        return {}
    return {key: 2 for key in ("n_estimators", "max_iter") if key in params}


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

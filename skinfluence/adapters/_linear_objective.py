"""What a fitted scikit-learn linear model minimised: its penalty in mean-loss form,
the row weights its settings imply, and its link (:mod:`._linear`)."""

from __future__ import annotations

import numpy as np
from sklearn.utils.class_weight import compute_class_weight

from ..exceptions import UnsupportedModelError


def _sgd_penalty(est, n: int, weight_sum: float) -> float:
    """λ of SGDClassifier / SGDRegressor: they minimise ``(1/n) Σ s_i L_i + α R(w)``.

    Divided by ``Σ s / n`` to the weighted mean-loss form: ``λ = α n / Σ s``.
    """
    penalty = est.penalty
    if penalty is None:
        return 0.0
    if penalty == "l2" or (penalty == "elasticnet" and est.l1_ratio == 0):
        factor = 1.0 if penalty == "l2" else 1.0 - est.l1_ratio
        return float(est.alpha) * factor * n / weight_sum
    raise UnsupportedModelError(
        f"{type(est).__name__}(penalty={penalty!r}) has an L1 part, whose Hessian "
        "does not exist; use penalty='l2' or penalty=None."
    )


def _logistic_penalty(est, n: float) -> tuple[float, float]:
    """λ for the weights and the intercept of LogisticRegression.

    scikit-learn minimises ``C Σ s_i loss_i + ½‖w‖²``, i.e. ``C n (mean loss +
    ‖w‖²/(2Cn))`` with ``n = Σ s_i`` (the row count without weights): in mean-loss
    form ``λ = 1/(C n)``. liblinear also penalises the intercept, as a
    weight ``w_b`` on a constant feature ``intercept_scaling``, so ``b = s w_b`` and
    ``λ_b = λ / s²``.
    """
    penalty = getattr(est, "penalty", "deprecated")
    l1_ratio = getattr(est, "l1_ratio", 0.0)
    if penalty == "deprecated":
        if l1_ratio not in (0, 0.0, None):
            raise UnsupportedModelError(
                f"LogisticRegression(l1_ratio={l1_ratio}) has an L1 part, whose "
                "Hessian does not exist; use l1_ratio=0 (the L2 penalty)."
            )
        penalty = None if np.isinf(est.C) else "l2"
    elif penalty in ("l1", "elasticnet"):
        raise UnsupportedModelError(
            f"LogisticRegression(penalty={penalty!r}) has an L1 part, whose Hessian "
            "does not exist; use l1_ratio=0 (the L2 penalty)."
        )
    if penalty is None or penalty == "none":
        return 0.0, 0.0
    lam = 1.0 / (float(est.C) * n)
    if est.solver == "liblinear" and est.fit_intercept:
        return lam, lam / float(est.intercept_scaling) ** 2
    return lam, 0.0


def _penalty(est, n: int, weight_sum: float) -> tuple[float, float]:
    """(λ_weights, λ_intercept) of ``est`` in mean-loss form.

    ``n`` training rows of total weight ``weight_sum`` (``= n`` unweighted).
    """
    name = type(est).__name__
    if getattr(est, "positive", False):
        raise UnsupportedModelError(
            f"{name}(positive=True) is a constrained fit without a Hessian at the "
            "boundary; use positive=False."
        )
    if name == "LogisticRegression":
        return _logistic_penalty(est, weight_sum)
    if name in ("SGDClassifier", "SGDRegressor"):
        return _sgd_penalty(est, n, weight_sum), 0.0
    if name == "Ridge":
        # Σ s r² + α‖w‖² = 2 Σs (weighted mean ½ r² + α/(2 Σs) ‖w‖²)
        alpha = np.asarray(est.alpha, dtype=float)
        if alpha.size != 1:
            raise UnsupportedModelError("Ridge with one alpha per target is not supported.")
        return float(alpha) / weight_sum, 0.0
    return 0.0, 0.0  # LinearRegression


def _row_weights(est, y, sample_weight) -> np.ndarray | None:
    """The weight of each training row in ``est``'s objective: ``sample_weight`` times
    the weights ``class_weight`` implies (LogisticRegression, as scikit-learn computes
    them: ``"balanced"`` from the weighted class counts)."""
    class_weight = getattr(est, "class_weight", None)
    if class_weight is None:
        return sample_weight
    name = type(est).__name__
    if name != "LogisticRegression":
        raise UnsupportedModelError(
            f"{name}(class_weight=...) is not supported (its class weights are computed "
            "differently from LogisticRegression's); pass the weights as sample_weight "
            "instead, or use class_weight=None."
        )
    classes = np.asarray(est.classes_)
    per_class = compute_class_weight(
        class_weight, classes=classes, y=np.asarray(y), sample_weight=sample_weight
    )
    implied = per_class[np.searchsorted(classes, np.asarray(y))]
    return implied if sample_weight is None else implied * sample_weight


def _link(est) -> str:
    name = type(est).__name__
    if name == "LogisticRegression":
        if est.coef_.shape[0] > 1:
            if est.solver == "liblinear":
                raise UnsupportedModelError(
                    "LogisticRegression(solver='liblinear') fits one-vs-rest models "
                    "for more than two classes; use the default solver (multinomial)."
                )
            return "multinomial"
        return "logistic"
    if name == "SGDClassifier":
        if est.loss != "log_loss":
            raise UnsupportedModelError(
                f"SGDClassifier(loss={est.loss!r}) is not a probabilistic model; use "
                "loss='log_loss'."
            )
        if est.coef_.shape[0] > 1:
            raise UnsupportedModelError(
                "SGDClassifier with more than two classes fits one-vs-rest models, "
                "not a softmax; use LogisticRegression for multiclass influence."
            )
        return "logistic"
    if name == "SGDRegressor" and est.loss != "squared_error":
        raise UnsupportedModelError(
            f"SGDRegressor(loss={est.loss!r}) is not supported; use loss='squared_error'."
        )
    if np.ndim(est.coef_) > 1 and np.shape(est.coef_)[0] > 1:
        raise UnsupportedModelError(
            f"{name} with several targets is not supported; fit one target at a time."
        )
    return "squared"

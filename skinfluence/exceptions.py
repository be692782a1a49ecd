"""Exceptions and warnings raised by skinfluence."""

__all__ = [
    "ConvergenceWarning",
    "InfluenceReliabilityWarning",
    "SingularHessianWarning",
    "UnsupportedModelError",
]

from sklearn.exceptions import ConvergenceWarning


class UnsupportedModelError(TypeError, ValueError):
    """The estimator, or one of its settings, has no influence adapter.

    The message names the unsupported model or setting and what to use instead.
    It subclasses both :class:`TypeError` (wrong kind of estimator) and
    :class:`ValueError` (unsupported parameter value) so that either ``except``
    clause catches it.
    """


class SingularHessianWarning(UserWarning):
    """The training Hessian is singular; the pseudo-inverse was used instead.

    Harmless when every gradient lies in the range of the Hessian (for instance
    multinomial ``LogisticRegression`` with unpenalised intercepts, whose Hessian is
    singular along the sum of the intercepts); pass ``damping > 0`` to regularise
    instead.
    """


class InfluenceReliabilityWarning(UserWarning):
    """The fitted model is where influence stops predicting refits.

    Raised for a (near-)separable classifier — every training row fitted with a
    probability above 0.99 for its own label, so the weakly regularised optimum is
    flat and single rows move it far — and for a Hessian so ill-conditioned that its
    inverse amplifies rounding. The message says what to do (more regularisation:
    a smaller ``C``, a larger ``alpha``, or ``damping``).
    """

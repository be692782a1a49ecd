"""The measure registry: every ``method=`` declared once.

A :class:`Measure` names the function that computes it, the adapter capabilities it
needs, what curvature it takes, whether it scores against a validation objective,
and the keyword options the estimators pass to it. :func:`compute_scores` (in
:mod:`._dispatch`) reads nothing else: no function attributes, no signature
inspection. To add a measure, write its function (module docstring: formula,
source, sign convention, cost) and add one entry to :data:`MEASURES`.

A measure of the fitted model (``inputs="adapter"``, most of them) has the signature ::

    function(adapter, solver, X, y_enc, X_val, y_val_enc, **options) -> (n,)

and returns one score per training row, highest = trimmed first. ``solver`` is
``None`` for ``curvature="none"``, fitted on the adapter for ``"solve"``, and
unfitted for ``"restricted"`` (the measure asks the solver for what it needs).
``objective`` (a :class:`~skinfluence.influence.BaseObjective`) is passed when
``objective=True``; ``X_val`` / ``y_val_enc`` are ``None`` when ``validation=False``.

A model-agnostic measure (``inputs="estimator"``) fits what it needs itself — clones
of the *unfitted* estimator, through joblib — and has the signature ::

    function(estimator, X, y, X_val, y_val, **options) -> (n,)

with the user's labels. ``inputs="none"`` (``"random"``) gets neither.
"""

from __future__ import annotations

from dataclasses import dataclass

from sklearn.utils import check_random_state

from ._datainf import datainf_scores
from ._fi import fi_scores
from ._gif import gif_scores
from ._if import if_scores
from ._ip import ip_ensemble_scores, ip_scores
from ._loo import loo_confidence_scores
from ._representer import representer_scores
from ._self import self_scores
from ._tracin import self_tracin_scores, tracin_scores

__all__ = ["CURVATURES", "MEASURES", "Measure", "get_measure", "random_scores"]

#: How a measure uses curvature: none, a fitted solver, or a restricted solve.
CURVATURES = ("none", "solve", "restricted")


@dataclass(frozen=True)
class Measure:
    """One influence measure, as the dispatch sees it.

    Attributes
    ----------
    name : str
        The ``method=`` name.
    function : callable
        ``function(adapter, solver, X, y_enc, X_val, y_val_enc, **options)``.
    needs : tuple of str
        Adapter capabilities (:data:`skinfluence.adapters.CAPABILITIES`).
    curvature : {"none", "solve", "restricted"}
        ``"solve"``: the solver is fitted on the adapter; ``"restricted"``: it is
        passed unfitted (GIF's :meth:`~skinfluence.curvature.BaseSolver.solve_restricted`).
    objective : bool
        Scores against a validation objective (and so needs validation rows).
    options : tuple of str
        Keyword options passed by name (``scaling``, ``random_state``, ...).
    inputs : {"adapter", "estimator", "none"}, default="adapter"
        What the function receives: the fitted model's adapter (and a solver), the
        unfitted estimator (it fits clones itself), or nothing model-related.
    hint : str, default=""
        What to use instead when a capability is missing.
    solves : {"rows", "one"}, default="rows"
        How many inverse-Hessian solves the measure makes: one or more per scored row
        (``"rows"``), or one for the validation objective only (``"one"``, as
        ``"if"``); ``solver="auto"`` factorises the Hessian for the first up to
        4,096 parameters, for the second only up to 512 (beyond, one
        preconditioned conjugate-gradient solve is cheaper than building ``H``).
    weights : {"scale", "own", "none", "unsupported"}, default="scale"
        Sample weights of the training rows: ``"scale"`` — the function computes a
        row's score per unit of weight on the weighted fit (the adapter's curvature is
        the weighted one, its ``1/n`` is ``1/Σ s``) and the dispatch multiplies by
        ``s_i``, so that a row's score is its weighted term's (a zero-weight row
        scores 0, weight 2 is the row duplicated); ``"own"`` — the function reads
        ``adapter.row_weights()`` itself (the weight enters non-linearly); ``"none"``
        — weights do not matter; ``"unsupported"`` — weights are refused.
    """

    name: str
    function: object
    needs: tuple[str, ...]
    curvature: str
    objective: bool
    options: tuple[str, ...] = ()
    inputs: str = "adapter"
    hint: str = ""
    weights: str = "scale"
    solves: str = "rows"

    @property
    def fitted_model(self) -> bool:
        """Whether the measure scores a model fitted on the scored rows."""
        return self.inputs == "adapter"

    @property
    def validation(self) -> bool:
        """Whether the measure needs validation rows."""
        return self.objective


def random_scores(adapter, solver, X, y_enc, X_val, y_val_enc, *, random_state=None):
    """Uniform random scores, one per row (the baseline ``"random"``).

    Returns
    -------
    ndarray of shape (n,)
    """
    return check_random_state(random_state).uniform(size=X.shape[0])


_TRACIN_HINT = (
    "Fit a skorch net with callbacks=[skinfluence.callbacks.TracInCheckpoints()], or use "
    "method='ip' (TracIn with one checkpoint at the fitted model)."
)

#: ``method=`` name -> its :class:`Measure`.
MEASURES: dict[str, Measure] = {
    m.name: m
    for m in (
        Measure(
            "fi",
            fi_scores,
            ("gradients", "mixed", "metric"),
            "solve",
            True,
            ("scaling",),
            weights="own",
        ),
        Measure("if", if_scores, ("gradients",), "solve", True, solves="one"),
        Measure(
            "gif",
            gif_scores,
            ("gradients",),
            "restricted",
            True,
            ("gif_selection", "gif_fraction", "random_state"),
        ),
        Measure("ip", ip_scores, ("gradients",), "none", True),
        Measure(
            "ip_ensemble",
            ip_ensemble_scores,
            ("gradients", "theta"),
            "none",
            True,
            ("n_estimators", "dropout", "random_state"),
        ),
        Measure("self", self_scores, ("gradients",), "solve", False),
        Measure(
            "loo_confidence",
            loo_confidence_scores,
            ("metric", "link"),
            "solve",
            False,
            ("label_score",),
            weights="own",
        ),
        Measure(
            "tracin",
            tracin_scores,
            ("gradients", "checkpoints"),
            "none",
            True,
            hint=_TRACIN_HINT,
            weights="unsupported",
        ),
        Measure(
            "self_tracin",
            self_tracin_scores,
            ("gradients", "checkpoints"),
            "none",
            False,
            hint=_TRACIN_HINT,
            weights="unsupported",
        ),
        Measure(
            "datainf",
            datainf_scores,
            ("gradients", "layers"),
            "none",
            True,
            ("damping",),
            weights="unsupported",
        ),
        Measure("representer", representer_scores, ("linear_head",), "none", True),
        Measure(
            "random",
            random_scores,
            (),
            "none",
            False,
            ("random_state",),
            inputs="none",
            weights="none",
        ),
    )
}


def get_measure(method: str) -> Measure:
    """The registered :class:`Measure` called ``method``.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the registered ones).
    """
    if not isinstance(method, str) or method not in MEASURES:
        raise ValueError(f"method must be one of {tuple(MEASURES)}, got {method!r}.")
    return MEASURES[method]

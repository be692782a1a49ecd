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

with the user's labels, and ``sample_weight=`` when the rows are weighted (it declares
``weights="own"`` and passes the weights to its fits); with the option ``cache`` (a
dict) it leaves the out-of-sample class probabilities it computed in
``cache["proba"]``, which ``budget="auto"`` reads.
``inputs="none"`` (``"random"``) gets neither.

``"oof_confidence"`` is registered here. ``"data_oob"`` is registered by the
estimator layer (``skinfluence._trimmer``) through :func:`register_measure`: its
engine is :func:`skinfluence.valuation.data_oob_values`, and ``valuation`` is a sibling
of this package that it may not import. Every ``method=`` is in :data:`MEASURES` once
``skinfluence`` is imported.
"""

from __future__ import annotations

from dataclasses import dataclass

from sklearn.utils import check_random_state

from ._boostin import boostin_scores, boostin_self_scores
from ._datainf import datainf_scores
from ._fi import fi_scores
from ._forest import oob_scores
from ._gex import gex_scores
from ._gif import gif_scores
from ._if import if_scores
from ._ip import ip_ensemble_scores, ip_scores
from ._leaf import (
    leaf_influence_scores,
    leaf_influence_sp_scores,
    leaf_loo_scores,
    leaf_refit_scores,
)
from ._loo import loo_confidence_scores
from ._oof import oof_confidence_scores
from ._renormalized import gas_scores, relatif_scores, renormalized_if_scores
from ._representer import representer_scores
from ._self import self_scores
from ._source import source_scores
from ._tracin import self_tracin_scores, tracin_scores

__all__ = [
    "CURVATURES",
    "MEASURES",
    "Measure",
    "get_measure",
    "random_scores",
    "register_measure",
]

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
        ``adapter.row_weights()`` itself (the weight enters non-linearly), or, for a
        model-agnostic measure, takes ``sample_weight=`` for its fits; ``"none"``
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

_SOURCE_HINT = (
    "Fit a skorch net with callbacks=[skinfluence.callbacks.TracInCheckpoints()], or use "
    "method='if' (SOURCE with one converged segment)."
)

_TREE_HINT = (
    "It needs a boosted ensemble (HistGradientBoosting, GradientBoosting, LightGBM, "
    "XGBoost); for a forest use method='oob', 'leaf_loo' or 'leaf_refit'."
)
_TREES_HINT = (
    "It needs a tree ensemble (HistGradientBoosting, GradientBoosting, RandomForest, "
    "ExtraTrees, LightGBM, XGBoost)."
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
        # the gradient magnitude divided out (survey 003 §5.3)
        Measure("relatif", relatif_scores, ("gradients",), "solve", True),
        Measure("renormalized_if", renormalized_if_scores, ("gradients",), "solve", True),
        Measure("gas", gas_scores, ("gradients",), "none", True),
        Measure(
            "source",
            source_scores,
            ("gradients", "checkpoints", "hessian"),
            "none",
            True,
            ("damping",),
            hint=_SOURCE_HINT,
            weights="unsupported",
        ),
        Measure(
            "gex",
            gex_scores,
            ("gradients", "theta", "hvp"),
            "none",
            True,
            ("n_estimators", "random_state"),
        ),
        Measure(
            "oof_confidence",
            oof_confidence_scores,
            (),
            "none",
            False,
            ("label_score", "cv", "n_jobs", "random_state", "cache"),
            inputs="estimator",
            weights="own",
        ),
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
        # tree ensembles (adapters/_trees.py): the structures fixed, the leaf values move
        Measure(
            "boostin",
            boostin_scores,
            ("trees", "boosting"),
            "none",
            True,
            hint=_TREE_HINT,
            weights="unsupported",
        ),
        Measure(
            "boostin_self",
            boostin_self_scores,
            ("trees", "boosting"),
            "none",
            False,
            hint=_TREE_HINT,
            weights="unsupported",
        ),
        Measure(
            "leaf_influence",
            leaf_influence_scores,
            ("trees", "boosting"),
            "none",
            True,
            hint=_TREE_HINT,
            weights="unsupported",
        ),
        Measure(
            "leaf_influence_sp",
            leaf_influence_sp_scores,
            ("trees", "boosting"),
            "none",
            True,
            hint=_TREE_HINT,
            weights="unsupported",
        ),
        Measure(
            "leaf_refit",
            leaf_refit_scores,
            ("trees",),
            "none",
            True,
            hint=_TREES_HINT,
            weights="unsupported",
        ),
        Measure(
            "leaf_loo",
            leaf_loo_scores,
            ("trees",),
            "none",
            False,
            ("label_score",),
            hint=_TREES_HINT,
            weights="unsupported",
        ),
        Measure(
            "oob",
            oob_scores,
            ("trees", "oob"),
            "none",
            False,
            ("label_score",),
            hint="Fit the forest with bootstrap=True, or use method='leaf_loo'.",
            weights="unsupported",
        ),
    )
}


def register_measure(measure: Measure) -> Measure:
    """Add ``measure`` to :data:`MEASURES` (a layer above registers what it computes).

    Parameters
    ----------
    measure : Measure
        A new name, or the same definition again (importing twice is harmless).

    Returns
    -------
    Measure
        ``measure``.

    Raises
    ------
    ValueError
        When another measure already has its name, or it names an unknown curvature,
        inputs, weights or solves.
    """
    if measure.curvature not in CURVATURES:
        raise ValueError(f"curvature must be one of {CURVATURES}, got {measure.curvature!r}.")
    if measure.inputs not in ("adapter", "estimator", "none"):
        raise ValueError(
            f"inputs must be 'adapter', 'estimator' or 'none', got {measure.inputs!r}."
        )
    if measure.weights not in ("scale", "own", "none", "unsupported"):
        raise ValueError(
            f"weights must be 'scale', 'own', 'none' or 'unsupported', got {measure.weights!r}."
        )
    if measure.solves not in ("rows", "one"):
        raise ValueError(f"solves must be 'rows' or 'one', got {measure.solves!r}.")
    known = MEASURES.get(measure.name)
    if known is not None and known != measure:
        raise ValueError(f"a measure called {measure.name!r} is already registered.")
    MEASURES[measure.name] = measure
    return measure


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

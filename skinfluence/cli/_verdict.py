"""Did trimming help? The cross-validated verdict of ``skinfluence clean``.

The rows with a target are split into ``K`` folds (stratified for classification,
shuffled with ``--seed``). On each fold:

* the pipeline without the trimmer (preprocessing + model, every training row) is
  fitted on the other folds and scored on this one: the **untrimmed** score;
* :func:`~skinfluence.trimming_curve` fits the configured pipeline (preprocessing +
  ``InfluenceTrimmer`` with the chosen method) at the chosen budget, and with
  ``method="random"`` at the same budget, and scores both on this fold; with the
  report's curve it adds half and twice the budget.

The score is the pipeline's own ``score``: accuracy for a classifier, R² for a
regressor. The verdict compares the scores fold by fold (paired differences): a
change counts when its mean over the folds is more than twice its standard error,
otherwise it is within the fold-to-fold noise. Cost: ``K`` untrimmed fits plus
``2 K`` trimmer fits (each one scoring and one refit), ``6 K`` with the curve.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import make_pipeline

from .._curves import trimming_curve

__all__ = ["Verdict", "cross_validate_trimming", "curve_budgets", "mean_std"]

#: A change counts when its mean over the folds exceeds this many standard errors.
N_STDERR = 2.0


def curve_budgets(budget, n_flagged: int, n_folds: int, curve: bool) -> tuple[list, list, int]:
    """The budgets the cross-validation fits, their x positions and the chosen one's index.

    Parameters
    ----------
    budget : int, float or "auto"
        The chosen budget, as the trimmer takes it.
    n_flagged : int
        Rows flagged on the whole file (places ``"auto"`` on the x axis: that count
        scaled to a fold's training part).
    n_folds : int
        Folds of the cross-validation.
    curve : bool
        Add half and twice the budget (the report's trimming curve).

    Returns
    -------
    budgets : list
        Trimmer budgets, increasing; ``budget`` itself is one of them.
    x : list of float
        Where each is drawn: its row count or share (``"auto"``: the scaled count).
    chosen : int
        Position of ``budget`` in ``budgets``.
    """
    if isinstance(budget, str):  # "auto": drawn at the count it flagged, scaled to a fold
        at = max(1, round(n_flagged * (n_folds - 1) / n_folds))
        others = [at // 2, 2 * at]
    elif isinstance(budget, (int, np.integer)):
        at, others = int(budget), [int(budget) // 2, 2 * int(budget)]
    else:
        at, others = float(budget), [budget / 2, *([2 * budget] if 2 * budget < 1 else [])]
    pairs = {float(at): budget}
    for b in others if curve else ():
        if b > 0 and float(b) not in pairs:
            pairs[float(b)] = b
    x = sorted(pairs)
    budgets = [pairs[v] for v in x]
    return budgets, x, x.index(float(at))


@dataclass
class Verdict:
    """Cross-validated scores without trimming, with the method and with random trimming.

    Attributes
    ----------
    metric : str
        ``"accuracy"`` or ``"R²"`` (the pipeline's ``score``).
    method : str
        The trimming method as configured (``"auto"`` stays ``"auto"``).
    name : str
        How the method is shown (``"auto (loo_confidence)"``).
    budgets : list
        Trimmer budgets fitted (increasing); ``budgets[chosen]`` is the chosen one.
    x : list of float
        Their positions on a budget axis.
    chosen : int
        Position of the chosen budget.
    untrimmed : ndarray of shape (n_folds,)
        Score of the untrimmed pipeline on each fold.
    trimmed : ndarray of shape (n_folds, n_budgets)
        Score of the configured pipeline at each budget on each fold.
    random : ndarray of shape (n_folds, n_budgets)
        Score of random trimming at each budget on each fold.
    notes : list of str
        What changed from the request (fewer folds for a small class).
    """

    metric: str
    method: str
    name: str
    budgets: list
    x: list
    chosen: int
    untrimmed: np.ndarray
    trimmed: np.ndarray
    random: np.ndarray
    notes: list = field(default_factory=list)

    @property
    def n_folds(self) -> int:
        """Number of folds."""
        return len(self.untrimmed)

    @property
    def budget(self):
        """The chosen budget."""
        return self.budgets[self.chosen]

    def at_budget(self) -> dict[str, np.ndarray]:
        """Per-fold scores at the chosen budget: ``untrimmed``, ``trimmed``, ``random``."""
        return {
            "untrimmed": self.untrimmed,
            "trimmed": self.trimmed[:, self.chosen],
            "random": self.random[:, self.chosen],
        }

    def change(self, against: str) -> str:
        """``"up"``, ``"down"`` or ``"same"``: trimmed against ``"untrimmed"`` or ``"random"``.

        ``"same"`` when the mean paired difference is within :data:`N_STDERR`
        standard errors over the folds.
        """
        scores = self.at_budget()
        diff = scores["trimmed"] - scores[against]
        mean = float(np.mean(diff))
        stderr = float(np.std(diff, ddof=1)) / math.sqrt(len(diff)) if len(diff) > 1 else 0.0
        if mean == 0.0 or abs(mean) <= N_STDERR * stderr:
            return "same"
        return "up" if mean > 0 else "down"

    def headline(self) -> str:
        """One sentence: did trimming help, and did it beat random trimming."""
        versus = self.change("untrimmed")
        random = self.change("random")
        first = {
            "up": "Trimming helped",
            "down": "Trimming hurt",
            "same": "Trimming made no clear difference",
        }[versus]
        if self.method == "random":
            return first + "."
        second = {
            "up": "it did better than dropping as many rows at random",
            "down": "it did worse than dropping as many rows at random",
            "same": "it did about as well as dropping as many rows at random",
        }[random]
        joint = "; " if versus != "same" or random != "same" else ", and "
        return f"{first}{joint}{second}."

    def line(self) -> str:
        """The closing line of ``skinfluence clean``: the scores, their spread, the verdict."""
        scores = self.at_budget()
        parts = [
            f"untrimmed {mean_std(scores['untrimmed'])}",
            f"{self.name} at budget {self.budget} {mean_std(scores['trimmed'])}",
        ]
        if self.method != "random":
            parts.append(f"random at budget {self.budget} {mean_std(scores['random'])}")
        return (
            f"verdict ({self.n_folds}-fold cross-validated {self.metric}, mean ± std): "
            + "; ".join(parts)
            + f". {self.headline()}"
        )


def mean_std(values) -> str:
    """``"0.842 ± 0.012"``: mean and standard deviation (ddof=1) of per-fold scores."""
    values = np.asarray(values, dtype=float)
    std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return f"{float(np.mean(values)):.3f} ± {std:.3f}"


def cross_validate_trimming(
    *,
    preprocessor,
    trimmer,
    X,
    y,
    classification: bool,
    n_folds: int,
    n_flagged: int,
    curve: bool,
    seed: int,
    steps,
    name: str | None = None,
) -> Verdict | str:
    """Run the cross-validation of the module docstring.

    Parameters
    ----------
    preprocessor : transformer
        The unfitted preprocessing (cloned).
    trimmer : InfluenceTrimmer
        The configured trimmer (cloned; its ``budget`` is the chosen one).
    X : pandas.DataFrame
        The rows with a target.
    y : ndarray
        Their targets.
    classification : bool
        Stratify the folds.
    n_folds : int
        Folds requested (fewer when a class has fewer rows; a note says so).
    n_flagged : int
        Rows flagged on the whole file.
    curve : bool
        Also fit half and twice the budget.
    seed : int
        Shuffles the folds; the ``random_state`` of every trimmer.
    steps : skinfluence.cli._progress.Steps
        Progress lines.
    name : str, default=None
        How the method is shown (``"auto (loo_confidence)"``); ``trimmer.method``
        when ``None``.

    Returns
    -------
    verdict : Verdict or str
        The scores, or why there are none (a sentence).
    """
    notes = []
    if classification:
        smallest = int(np.min(np.unique(y, return_counts=True)[1]))
        if smallest < n_folds:
            if smallest < 2:
                return "no verdict: a class has a single row, too few to cross-validate."
            notes.append(
                f"{smallest} folds, not {n_folds}: the smallest class has {smallest} rows."
            )
            n_folds = smallest
        folds = StratifiedKFold(n_folds, shuffle=True, random_state=seed)
    else:
        if n_folds > len(y):
            notes.append(f"{len(y)} folds, not {n_folds}: there are {len(y)} rows.")
            n_folds = len(y)
        folds = KFold(n_folds, shuffle=True, random_state=seed)
    model = trimmer.get_params()["estimator"]
    untrimmed_pipe = make_pipeline(clone(preprocessor), clone(model))
    template = make_pipeline(clone(preprocessor), clone(trimmer).set_params(verbose=0))
    method = trimmer.method
    methods = [method] if method == "random" else [method, "random"]
    budgets, x, chosen = curve_budgets(trimmer.budget, n_flagged, n_folds, curve)
    untrimmed = np.full(n_folds, np.nan)
    trimmed = np.full((n_folds, len(budgets)), np.nan)
    random = np.full((n_folds, len(budgets)), np.nan)
    shown = ", ".join(str(b) for b in budgets)
    for k, (train, test) in enumerate(folds.split(np.zeros(len(y)), y)):
        what = f"cross-validation fold {k + 1}/{n_folds}: untrimmed, {' and '.join(methods)}"
        with steps.step(f"{what} at budget {shown}"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            Xtr, Xte = X.iloc[train], X.iloc[test]
            try:
                fitted = clone(untrimmed_pipe).fit(Xtr, y[train])
                untrimmed[k] = float(fitted.score(Xte, y[test]))
                scores = trimming_curve(
                    template,
                    Xtr,
                    y[train],
                    Xte,
                    y[test],
                    budgets=budgets,
                    methods=methods,
                    n_repeats=1,
                    random_state=seed,
                )
            except ValueError as exc:
                reason = " ".join(str(exc).split())
                return f"no verdict: fold {k + 1} of the cross-validation failed ({reason})."
        trimmed[k] = scores[method][0]
        random[k] = scores["random"][0]
    return Verdict(
        metric="accuracy" if classification else "R²",
        method=method,
        name=name or method,
        budgets=budgets,
        x=x,
        chosen=chosen,
        untrimmed=untrimmed,
        trimmed=trimmed,
        random=random,
        notes=notes,
    )

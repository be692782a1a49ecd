"""The ``demo`` command: flip some training labels, trim them back out, measure.

The demo shows what :class:`~skinfluence.InfluenceTrimmer` does on a binary
classification problem with known label noise:

1. split the rows into a stratified training part and a test part (seeded);
2. optionally subsample the training part to ``max_rows`` rows (seeded, stratified);
3. flip a seeded share ``noise`` of the *training* labels (the test labels stay clean);
4. fit ``preprocessing + LogisticRegression(max_iter=1000)`` on the noisy training
   rows — the accuracy before trimming, i.e. budget 0, where the trimmer would refit
   on every row;
5. for every method, fit ``preprocessing + InfluenceTrimmer(LogisticRegression(...))``
   with the trimmer's default ``validation`` (every training row is scored) and the
   given ``budget`` (by default the number of flipped rows) and report the test
   accuracy, the rows
   removed, how many of them were flipped (precision, recall) and the fit + score
   time.

The data is scikit-learn's bundled breast-cancer set (:func:`load_breast_cancer_problem`)
or a user's CSV file with a binary target column (:func:`read_csv_problem`, which
needs pandas; it reads the file as the other commands do,
:mod:`skinfluence.cli._input`). Errors in the user's input raise
:class:`~skinfluence.cli._input.InputError`, whose message the command line prints on
one line.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from numbers import Integral, Real
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import _safe_indexing

from .._trimmer import InfluenceTrimmer
from ._input import (
    METHODS,
    InputError,
    make_preprocessor,
    n_scored,
    parse_budget,
    prepare_features,
    read_table_with_target,
)

__all__ = [
    "DEFAULT_METHODS",
    "DemoProblem",
    "DemoReport",
    "MethodResult",
    "check_options",
    "format_report",
    "handle",
    "load_breast_cancer_problem",
    "parse_methods",
    "read_csv_problem",
    "run_demo",
]

DEFAULT_METHODS = ("auto", "fi", "if", "random")

#: Share of the rows held out as the (clean) test set.
TEST_SIZE = 0.25
#: The trimmer's validation rows: its default (none held out for a validation-free
#: method, 5-fold cross-fitting for the others, so that every row is scored).
VALIDATION = "auto"
#: Smallest accepted ``max_rows`` (other than 0, which keeps every row).
MIN_ROWS = 20
#: Every class needs this many rows in the data for the splits to work.
MIN_PER_CLASS = 5


@dataclass
class DemoProblem:
    """A binary classification problem for the demo, before any split.

    Attributes
    ----------
    name : str
        A one-line description of the data (source, rows, columns).
    X : array-like of shape (n_samples, n_features)
        The features: an ndarray or a pandas DataFrame.
    y : ndarray of shape (n_samples,)
        The target encoded as 0 / 1 (index into ``classes``).
    classes : list of str
        The two original target values, as text.
    preprocessor : estimator
        An unfitted transformer that turns ``X`` into a numeric matrix.
    """

    name: str
    X: object
    y: np.ndarray
    classes: list[str]
    preprocessor: BaseEstimator


@dataclass
class MethodResult:
    """The outcome of one trimming method.

    Attributes
    ----------
    method : str
        The trimmer's ``method`` (``"auto (loo_confidence)"`` names what auto ran).
    n_removed : int
        Training rows the trimmer dropped.
    n_flipped_removed : int
        How many of them had a flipped label.
    n_flipped_reachable : int
        Flipped rows in the part the trimmer scored: the rows of its own
        validation split are never trimmed.
    accuracy : float
        Test accuracy after trimming.
    seconds : float
        Wall time to fit the pipeline and score the test set.
    """

    method: str
    n_removed: int
    n_flipped_removed: int
    n_flipped_reachable: int
    accuracy: float
    seconds: float

    @property
    def precision(self) -> float:
        """Share of the removed rows that were flipped (``nan`` when none removed)."""
        return self.n_flipped_removed / self.n_removed if self.n_removed else float("nan")


@dataclass
class DemoReport:
    """Everything the demo measured.

    Attributes
    ----------
    name : str
        Description of the data.
    classes : list of str
        The two target values.
    n_train, n_test : int
        Rows in the (possibly subsampled) training part and in the test part.
    n_available : int
        Training rows before subsampling to ``max_rows``.
    n_features : int
        Columns of the preprocessed matrix the model sees.
    n_flipped : int
        Training labels flipped.
    noise : float
        The requested share of flipped labels.
    budget : int or float
        The trimmer's ``budget``.
    seed : int
        The seed of every random step.
    preprocessing : str
        Short description of the preprocessing steps.
    accuracy_before : float
        Test accuracy without trimming (budget 0).
    seconds_before : float
        Its fit + score time.
    results : list of MethodResult
        One entry per method, in the order asked.
    """

    name: str
    classes: list[str]
    n_train: int
    n_test: int
    n_available: int
    n_features: int
    n_flipped: int
    noise: float
    budget: int | float
    seed: int
    preprocessing: str
    accuracy_before: float
    seconds_before: float
    results: list[MethodResult] = field(default_factory=list)


# -- option parsing -------------------------------------------------------------------
def parse_methods(text: str | Sequence[str]) -> list[str]:
    """Parse a comma-separated list of trimming methods.

    Parameters
    ----------
    text : str or sequence of str
        For instance ``"fi,if,random"``. Blanks are ignored, repeats dropped.

    Returns
    -------
    methods : list of str
        The methods, in the order given.

    Raises
    ------
    InputError
        When the list is empty or names an unknown method.
    """
    items = text.split(",") if isinstance(text, str) else list(text)
    methods: list[str] = []
    for item in (str(m).strip().lower() for m in items):
        if item and item not in methods:
            methods.append(item)
    if not methods:
        raise InputError(f"--methods is empty; choose from {', '.join(METHODS)}.")
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise InputError(
            f"unknown method(s) {', '.join(unknown)} in --methods; choose from "
            f"{', '.join(METHODS)}."
        )
    return methods


def check_options(*, noise: float, max_rows: int, seed: int) -> None:
    """Check the numeric options of the demo.

    Parameters
    ----------
    noise : float
        Share of flipped training labels; must be in ``[0, 0.5)``.
    max_rows : int
        0, or at least ``MIN_ROWS``.
    seed : int
        In ``[0, 2**32)``.

    Raises
    ------
    InputError
        Naming the first option out of range.
    """
    if isinstance(noise, bool) or not (isinstance(noise, Real) and 0.0 <= noise < 0.5):
        raise InputError(f"--noise must be a fraction in [0, 0.5), got {noise}.")
    if (
        isinstance(max_rows, bool)
        or not isinstance(max_rows, Integral)
        or (max_rows != 0 and not MIN_ROWS <= max_rows)
    ):
        raise InputError(
            f"--max-rows must be 0 (every row) or at least {MIN_ROWS}, got {max_rows}."
        )
    if isinstance(seed, bool) or not isinstance(seed, Integral) or not 0 <= seed < 2**32:
        raise InputError(f"--seed must be an integer in [0, 2**32), got {seed}.")


# -- data ---------------------------------------------------------------------------
def load_breast_cancer_problem() -> DemoProblem:
    """scikit-learn's bundled breast-cancer data, standardised.

    Returns
    -------
    problem : DemoProblem
        569 rows, 30 numeric features, target ``malignant`` (0) / ``benign`` (1),
        preprocessing ``StandardScaler()``.
    """
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    X = np.asarray(data.data, dtype=np.float64)
    y = np.asarray(data.target, dtype=np.int64)
    return DemoProblem(
        name=f"breast cancer (scikit-learn), {X.shape[0]} rows x {X.shape[1]} numeric columns",
        X=X,
        y=y,
        classes=[str(c) for c in data.target_names],
        preprocessor=StandardScaler(),
    )


def read_csv_problem(path: str | Path, target: str) -> DemoProblem:
    """Read a CSV file with a binary target column into a demo problem.

    The file is read with ``pandas.read_csv(path, na_values="?",
    skipinitialspace=True)`` (compression from the suffix) and never written to.
    Rows with a missing target are dropped; every other column is a feature
    (see :func:`make_preprocessor`). Non-numeric feature columns are converted to
    text, missing values kept, so that mixed or boolean columns encode cleanly.

    Parameters
    ----------
    path : str or path-like
        The CSV file; its first line is the header.
    target : str
        Name of the target column; it must hold exactly two distinct values.

    Returns
    -------
    problem : DemoProblem
        The features as a DataFrame, the target as 0 / 1 (the sorted values),
        and the unfitted preprocessing.

    Raises
    ------
    InputError
        For a missing, unreadable or empty file, a missing target column, a target
        without exactly two classes, a class with too few rows, or no feature column.
    """
    path = Path(path)
    df = read_table_with_target(path, target, "the demo")
    df = df[df[target].notna()]
    if df.shape[0] == 0:
        raise InputError(f"column {target!r} of {path} has no values.")
    values = df[target].astype(str).to_numpy(dtype=object)
    classes, y = np.unique(values, return_inverse=True)
    if classes.size != 2:
        shown = ", ".join(repr(c) for c in classes[:10]) + (", ..." if classes.size > 10 else "")
        raise InputError(
            f"the demo needs a binary target, but column {target!r} has {classes.size} "
            f"distinct value(s): {shown}."
        )
    counts = np.bincount(y, minlength=2)
    if counts.min() < MIN_PER_CLASS:
        rare = classes[int(np.argmin(counts))]
        raise InputError(
            f"class {rare!r} of {target!r} has {counts.min()} row(s); the demo needs at "
            f"least {MIN_PER_CLASS} rows of each class."
        )
    X = df.drop(columns=[target])
    if X.shape[1] == 0:
        raise InputError(f"{path} has no feature columns besides the target {target!r}.")
    X = prepare_features(X)
    numeric = set(X.select_dtypes("number").columns)
    n_cat = X.shape[1] - len(numeric)
    return DemoProblem(
        name=(
            f"{path.name}, {df.shape[0]} rows x {X.shape[1]} feature columns "
            f"({len(numeric)} numeric, {n_cat} categorical), target {target!r}"
        ),
        X=X,
        y=y.astype(np.int64),
        classes=[str(c) for c in classes],
        preprocessor=make_preprocessor(X),
    )


# -- the experiment -----------------------------------------------------------------
def _describe(preprocessor) -> str:
    if isinstance(preprocessor, ColumnTransformer):
        return "one-hot (categorical) + impute/standardise (numeric)"
    return type(preprocessor).__name__


def run_demo(
    problem: DemoProblem,
    *,
    methods: Sequence[str] = DEFAULT_METHODS,
    budget: int | float | None = None,
    noise: float = 0.1,
    max_rows: int = 5000,
    seed: int = 0,
) -> DemoReport:
    """Flip training labels, trim with every method, and measure the result.

    Parameters
    ----------
    problem : DemoProblem
        The data, target encoded 0 / 1, and its preprocessing.
    methods : sequence of str, default=("fi", "if", "random")
        The trimmer's methods to compare.
    budget : int, float or None, default=None
        The trimmer's ``budget``: rows to drop (int) or a fraction of the rows it
        scores (float in ``[0, 1)``); ``None`` drops as many rows as were flipped.
    noise : float, default=0.1
        Share of the training labels to flip, in ``[0, 0.5)``.
    max_rows : int, default=5000
        Subsample the training part to at most this many rows (stratified, seeded);
        0 keeps every row.
    seed : int, default=0
        Seeds the train/test split, the subsample, the flipped rows and the
        trimmer.

    Returns
    -------
    report : DemoReport
        The measurements; :func:`format_report` prints them.

    Raises
    ------
    InputError
        For an option out of range, a budget larger than the rows the trimmer can
        drop, or too few rows.
    """
    methods = parse_methods(methods)
    budget = parse_budget(budget)
    check_options(noise=noise, max_rows=max_rows, seed=seed)
    seed = int(seed)

    y = np.asarray(problem.y)
    counts = np.bincount(y, minlength=2)
    if counts.min() < MIN_PER_CLASS:
        raise InputError(
            f"the demo needs at least {MIN_PER_CLASS} rows of each class, got {counts.tolist()}."
        )
    idx = np.arange(len(y))
    train, test = train_test_split(idx, test_size=TEST_SIZE, stratify=y, random_state=seed)
    n_available = len(train)
    if max_rows and len(train) > max_rows:
        train, _ = train_test_split(
            train, train_size=max_rows, stratify=y[train], random_state=seed
        )
    train, test = np.sort(train), np.sort(test)

    X_train = _safe_indexing(problem.X, train)
    X_test = _safe_indexing(problem.X, test)
    y_train, y_test = y[train].copy(), y[test]
    rng = np.random.default_rng(seed)
    n_flip = int(round(noise * len(train)))
    flipped = np.sort(rng.choice(len(train), size=n_flip, replace=False))
    y_train[flipped] = 1 - y_train[flipped]
    is_flipped = np.zeros(len(train), dtype=bool)
    is_flipped[flipped] = True
    if np.bincount(y_train, minlength=2).min() < 2:
        raise InputError("the training part has fewer than 2 rows of a class; raise --max-rows.")

    if budget is None:
        budget = n_flip
    n_rows_scored = n_scored(len(train), VALIDATION)
    if isinstance(budget, int) and budget >= n_rows_scored:
        raise InputError(
            f"--budget {budget} rows must be below the {n_rows_scored} training rows the "
            "trimmer can drop; lower --budget or --noise."
        )

    model = LogisticRegression(max_iter=1000)
    start = time.perf_counter()
    baseline = make_pipeline(clone(problem.preprocessor), clone(model)).fit(X_train, y_train)
    accuracy_before = float(baseline.score(X_test, y_test))
    seconds_before = time.perf_counter() - start

    report = DemoReport(
        name=problem.name,
        classes=list(problem.classes),
        n_train=len(train),
        n_test=len(test),
        n_available=n_available,
        n_features=int(baseline[-1].n_features_in_),
        n_flipped=n_flip,
        noise=float(noise),
        budget=budget,
        seed=seed,
        preprocessing=_describe(problem.preprocessor),
        accuracy_before=accuracy_before,
        seconds_before=seconds_before,
    )
    for method in methods:
        trimmer = InfluenceTrimmer(
            clone(model),
            method=method,
            budget=budget,
            validation=VALIDATION,
            random_state=seed,
        )
        pipe: Pipeline = make_pipeline(clone(problem.preprocessor), trimmer)
        start = time.perf_counter()
        pipe.fit(X_train, y_train)
        accuracy = float(pipe.score(X_test, y_test))
        seconds = time.perf_counter() - start
        fitted = pipe[-1]
        removed = np.asarray(fitted.trimmed_indices_)
        reachable = np.isfinite(fitted.scores_)
        report.results.append(
            MethodResult(
                method=method if fitted.method_ == method else f"{method} ({fitted.method_})",
                n_removed=int(removed.size),
                n_flipped_removed=int(is_flipped[removed].sum()),
                n_flipped_reachable=int((is_flipped & reachable).sum()),
                accuracy=accuracy,
                seconds=seconds,
            )
        )
    return report


# -- output -------------------------------------------------------------------------
def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Plain-text table: first column left-aligned, the others right-aligned."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        out = [cells[0].ljust(widths[0])]
        out += [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join(out).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return [line(header), rule, *(line(r) for r in rows)]


def format_report(report: DemoReport) -> str:
    """Render a :class:`DemoReport` as a plain-text table with a short header.

    Parameters
    ----------
    report : DemoReport
        The output of :func:`run_demo`.

    Returns
    -------
    text : str
        Lines separated by ``"\\n"``, ending with a newline.
    """
    subsample = (
        f" (subsampled from {report.n_available})" if report.n_train < report.n_available else ""
    )
    if isinstance(report.budget, float):
        budget = f"{report.budget:g} of the scored rows"
    else:
        budget = f"{report.budget} rows"
    if report.budget == report.n_flipped and isinstance(report.budget, int):
        budget += " (= the number of flipped labels)"
    lines = [
        "skinfluence demo: InfluenceTrimmer against flipped training labels",
        f"data     {report.name}",
        f"classes  {report.classes[0]} (0) / {report.classes[1]} (1)",
        f"split    {report.n_train} training rows{subsample}, {report.n_test} test rows "
        f"(stratified), seed {report.seed}",
        f"noise    {report.n_flipped} training labels flipped (noise={report.noise:g}); "
        "test labels clean",
        f"model    {report.preprocessing} -> InfluenceTrimmer(LogisticRegression("
        f"max_iter=1000)), {report.n_features} model features",
        f"budget   {budget}",
        "",
    ]
    header = ["method", "removed", "flipped", "precision", "test acc", "change", "time (s)"]
    rows = [
        [
            "none (budget 0)",
            "0",
            "-",
            "-",
            f"{report.accuracy_before:.4f}",
            "",
            f"{report.seconds_before:.2f}",
        ]
    ]
    for r in report.results:
        rows.append(
            [
                r.method,
                str(r.n_removed),
                str(r.n_flipped_removed),
                "-" if not r.n_removed else f"{r.precision:.3f}",
                f"{r.accuracy:.4f}",
                f"{r.accuracy - report.accuracy_before:+.4f}",
                f"{r.seconds:.2f}",
            ]
        )
    lines += _table(header, rows)
    lines.append("")
    lines.append(
        "test acc = accuracy on the clean test rows; change = against budget 0; "
        "precision = flipped / removed; time = fit + score."
    )
    for r in report.results:
        if r.n_flipped_reachable < report.n_flipped:
            lines.append(
                f"{r.method}: {r.n_flipped_reachable} of the {report.n_flipped} flipped rows "
                f"are in the rows it scores; the other "
                f"{report.n_flipped - r.n_flipped_reachable} fell in its validation split, "
                "which is never trimmed."
            )
    return "\n".join(lines) + "\n"


# -- the command ----------------------------------------------------------------------
def handle(args: argparse.Namespace) -> int:
    """Handler of ``skinfluence demo``."""
    methods = parse_methods(args.methods)
    budget = parse_budget(args.budget)
    check_options(noise=args.noise, max_rows=args.max_rows, seed=args.seed)
    if args.csv is None and args.target is not None:
        raise InputError("--target needs --csv (the bundled data has its own target).")
    if args.csv is not None:
        if not args.target:
            raise InputError("--csv needs --target COL, the name of the binary target column.")
        problem = read_csv_problem(args.csv, args.target)
    else:
        problem = load_breast_cancer_problem()
    report = run_demo(
        problem,
        methods=methods,
        budget=budget,
        noise=args.noise,
        max_rows=args.max_rows,
        seed=args.seed,
    )
    sys.stdout.write(format_report(report))
    return 0

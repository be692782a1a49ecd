"""The ``clean``, ``value`` and ``query`` commands: influence on a user's CSV file.

Every command reads a CSV file with a header line (``pandas.read_csv``, ``?`` read
as missing, compression from the suffix), splits off the ``--target`` column,
preprocesses the other columns by type (:func:`skinfluence._demo.make_preprocessor`:
numeric columns median-imputed and standardised, the others one-hot encoded) and
fits ``preprocessing + selector(model)``:

* ``clean`` — :class:`~skinfluence.InfluenceTrimmer`: flags the ``--budget`` most
  harmful rows, writes the file without them, a per-row scores file and, with
  ``--report``, a self-contained HTML report;
* ``value`` — :class:`~skinfluence.ShapleyValuator`: writes per-row data values;
* ``query`` — :class:`~skinfluence.InfluenceActiveLearner`: the rows whose target
  is empty are the pool; writes (and prints) the ``--n`` rows to label next.

The input file is never written to. Output rows keep the input's cell text (the
file is read a second time as text for that). Errors in the user's input raise
:class:`~skinfluence._demo.DemoInputError`, printed on one line by the command line.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._demo import DemoInputError as InputError
from ._demo import make_preprocessor, parse_budget, prepare_features, read_table_with_target
from .exceptions import UnsupportedModelError

__all__ = ["MODELS", "TASKS", "add_commands", "load_table", "make_model"]

TASKS = ("auto", "classification", "regression")
#: A numeric target with more distinct values than this (or any non-integer value) is
#: a regression target under ``--task auto``.
MAX_CLASSES_AUTO = 10

#: ``--model`` values: name -> (description, classification factory, regression factory)
MODELS = {
    "logistic": "LogisticRegression(max_iter=1000) (classification; the default)",
    "ridge": "Ridge(alpha=1.0) (regression; the default)",
    "linear": "LinearRegression() (regression)",
    "sgd": 'SGDClassifier(loss="log_loss") (binary) or SGDRegressor() (regression)',
    "knn": "KNeighborsClassifier(n_neighbors=5) ('value' only; the default of --method knn)",
}
_CLASSIFIERS = {"logistic", "sgd", "knn"}
_CLEAN_MODELS = ("logistic", "sgd", "ridge", "linear")
_VALUE_MODELS = ("logistic", "sgd", "ridge", "linear", "knn")
_QUERY_MODELS = ("logistic", "sgd")
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
    DemoInputError
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


# -- reading --------------------------------------------------------------------------
@dataclass
class Table:
    """A CSV file read for a command.

    Attributes
    ----------
    path : Path
        The file.
    raw : pandas.DataFrame
        Every cell as the text in the file (for writing rows back unchanged).
    X : pandas.DataFrame
        The feature columns, parsed and converted (:func:`prepare_features`).
    y : ndarray
        The target: class index (classification) or float (regression); only
        meaningful where ``has_target``.
    has_target : ndarray of bool
        Rows whose target is not empty.
    task : str
        ``"classification"`` or ``"regression"``.
    classes : list of str
        The class names (classification), sorted.
    """

    path: Path
    raw: object
    X: object
    y: np.ndarray
    has_target: np.ndarray
    task: str
    classes: list


def _first_bad_number(values) -> tuple[int, str] | None:
    import pandas as pd

    parsed = pd.to_numeric(values, errors="coerce")
    bad = np.flatnonzero(parsed.isna().to_numpy() & values.notna().to_numpy())
    if len(bad):
        return int(bad[0]), str(values.iloc[bad[0]])
    return None


def load_table(path: str | Path, target: str, task: str = "auto") -> Table:
    """Read a CSV file and split off its target column.

    Parameters
    ----------
    path : str or path-like
        The CSV file (header line first; may be compressed).
    target : str
        Name of the target column; empty cells (or ``?``) mark rows without target.
    task : {"auto", "classification", "regression"}, default="auto"
        ``"auto"``: regression when the target is numeric with more than
        ``MAX_CLASSES_AUTO`` distinct values or a non-integer value, else
        classification.

    Returns
    -------
    table : Table
        The parsed file.

    Raises
    ------
    DemoInputError
        For a missing, empty or unreadable file, a missing target column, a
        non-numeric target for regression, no feature column, or no target value.
    """
    import pandas as pd

    path = Path(path)
    df = read_table_with_target(path, target, "skinfluence")
    raw = pd.read_csv(
        path, dtype=str, keep_default_na=False, na_filter=False, skipinitialspace=True
    )
    if raw.shape != df.shape:  # pragma: no cover - both reads use the same parser
        raise InputError(f"cannot read {path} consistently as CSV.")
    if df.shape[1] < 2:
        raise InputError(f"{path} has no feature columns besides the target {target!r}.")
    values = df[target].reset_index(drop=True)
    has_target = values.notna().to_numpy()
    if not has_target.any():
        raise InputError(f"column {target!r} of {path} has no values.")
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if task == "auto":
        known = values[has_target]
        many = known.nunique() > MAX_CLASSES_AUTO
        task = (
            "regression"
            if numeric and (many or not np.all(np.mod(known.astype(float), 1) == 0))
            else "classification"
        )
    classes: list = []
    if task == "regression":
        bad = _first_bad_number(values)
        if bad is not None:
            raise InputError(
                f"regression needs a numeric target, but column {target!r} holds "
                f"{bad[1]!r} (data row {bad[0]}); fix the column or use --task "
                "classification."
            )
        y = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        if not np.all(np.isfinite(y[has_target])):
            raise InputError(f"column {target!r} holds an infinite value; fix the column.")
    else:
        text = values.astype(str).to_numpy(dtype=object)
        classes_arr, codes = np.unique(text[has_target], return_inverse=True)
        classes = [str(c) for c in classes_arr]
        y = np.full(len(values), -1, dtype=np.int64)
        y[has_target] = codes
    X = prepare_features(df.drop(columns=[target]))
    return Table(path, raw, X, y, has_target, task, classes)


# -- output paths ---------------------------------------------------------------------
def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".bz2", ".xz", ".zip", ".zst"):
        name = name.removesuffix(suffix)
    return name.removesuffix(".csv")


def _output(path: Path, given: str | None, kind: str) -> Path:
    """The path of an output file: ``given``, or ``<input stem>.<kind>.csv`` beside it."""
    out = Path(given) if given else path.with_name(f"{_stem(path)}.{kind}.csv")
    return out


def _check_outputs(source: Path, outputs: dict[str, Path]) -> None:
    """Refuse outputs that would overwrite the input or each other."""
    seen: dict[Path, str] = {}
    src = source.resolve()
    for option, out in outputs.items():
        target = out.resolve()
        if target == src or (out.exists() and src.exists() and out.samefile(src)):
            raise InputError(
                f"{option} {out} is the input file; skinfluence never overwrites its "
                "input. Choose another path."
            )
        if target in seen:
            raise InputError(f"{option} and {seen[target]} are the same file {out}.")
        if out.is_dir():
            raise InputError(f"{option} {out} is a directory; pass a file path.")
        if not out.parent.exists():
            raise InputError(f"{option} {out}: the folder {out.parent} does not exist.")
        seen[target] = option


def _write_csv(frame, path: Path) -> None:
    try:
        frame.to_csv(path, index=False)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None


def _fit(pipe, X, y, what: str):
    """Fit with the errors of the data (one class, too few rows...) as one line."""
    try:
        return pipe.fit(X, y)
    except (ValueError, UnsupportedModelError) as exc:
        message = " ".join(str(exc).split())
        raise InputError(f"{what} failed: {message}") from None


def _n_scored(n_rows: int, validation: float) -> int:
    """Rows a selector scores: ``train_test_split`` holds out ``ceil(v n)`` rows."""
    return n_rows - math.ceil(validation * n_rows)


def _check_validation(value: float) -> float:
    if not 0.0 < value < 1.0:
        raise InputError(f"--validation must be a fraction in (0, 1), got {value}.")
    return value


def _check_classes(table: Table, target: str) -> None:
    if table.task == "classification" and len(table.classes) < 2:
        raise InputError(
            f"column {target!r} holds one class ({table.classes[0]!r}) on the rows with a "
            "target; a classifier needs at least two."
        )


def _summary_line(table: Table) -> str:
    n_lab = int(table.has_target.sum())
    kind = (
        f"classification, {len(table.classes)} classes"
        if table.task == "classification"
        else "regression"
    )
    return (
        f"read {len(table.raw)} rows x {table.X.shape[1]} feature columns from "
        f"{table.path.name}; {n_lab} with a target ({kind})"
    )


# -- clean ----------------------------------------------------------------------------
def run_clean(args: argparse.Namespace) -> int:
    """Handler of ``skinfluence clean``."""
    from sklearn.base import clone
    from sklearn.pipeline import make_pipeline

    from ._trimmer import InfluenceTrimmer
    from .influence import MEASURES as METHODS

    method = args.method.strip().lower()
    if method not in METHODS:
        raise InputError(f"unknown --method {args.method!r}; choose from {', '.join(METHODS)}.")
    budget = parse_budget(args.budget)
    validation = _check_validation(args.validation)
    source = Path(args.data)
    out = _output(source, args.out, "cleaned")
    scores_path = _output(source, args.scores, "scores")
    outputs = {"--out": out, "--scores": scores_path}
    if args.report:
        outputs["--report"] = Path(args.report)
    _check_outputs(source, outputs)
    table = load_table(source, args.target, args.task)
    model = make_model(args.model, table.task, args.seed, _CLEAN_MODELS)
    _check_classes(table, args.target)
    labeled = np.flatnonzero(table.has_target)
    n_scored = _n_scored(len(labeled), validation)
    if n_scored < 2:
        raise InputError(f"{len(labeled)} rows with a target are too few to clean.")
    if isinstance(budget, int) and budget >= n_scored:
        raise InputError(
            f"--budget {budget} rows must be below the {n_scored} rows that are scored "
            f"(the other {len(labeled) - n_scored} rows with a target are the validation "
            "split); lower --budget."
        )
    X, y = table.X.iloc[labeled], table.y[labeled]
    preprocessor = make_preprocessor(table.X)
    trimmer = InfluenceTrimmer(
        model, method=method, budget=budget, validation=validation, random_state=args.seed
    )
    pipe = make_pipeline(preprocessor, trimmer)
    start = time.perf_counter()
    _fit(pipe, X, y, f"fitting InfluenceTrimmer(method={method!r})")
    seconds = time.perf_counter() - start
    fitted = pipe[-1]

    n = len(table.raw)
    scores = np.full(n, np.nan)
    scores[labeled] = fitted.scores_
    flagged = labeled[fitted.trimmed_indices_]  # most harmful first
    status = np.where(table.has_target, "validation", "no target").astype(object)
    status[labeled[np.isfinite(fitted.scores_)]] = "kept"
    status[flagged] = "flagged"
    rank = np.full(n, np.nan)
    finite = np.flatnonzero(np.isfinite(scores))
    rank[finite[np.argsort(-scores[finite], kind="stable")]] = np.arange(1, len(finite) + 1)

    import pandas as pd

    keep = np.setdiff1d(np.arange(n), flagged)
    _write_csv(table.raw.iloc[keep], out)
    score_frame = pd.DataFrame(
        {"row": np.arange(n), "status": status, "score": scores, "rank": rank}
    )
    score_frame["rank"] = score_frame["rank"].astype("Int64")
    _write_csv(score_frame, scores_path)
    print(_summary_line(table))
    print(
        f"method {method}, model {type(model).__name__}, budget {budget}: scored "
        f"{int(np.isfinite(scores).sum())} rows ({len(labeled) - n_scored} validation rows "
        f"kept unscored) in {seconds:.2f}s; flagged {len(flagged)}"
    )
    print(f"wrote {out} ({len(keep)} rows), {scores_path} ({n} rows)")
    if args.report:
        from ._report import clean_report

        html = clean_report(
            table=table,
            pipe=pipe,
            X=X,
            y=y,
            flagged=flagged,
            scores=scores,
            status=status,
            settings={
                "method": method,
                "model": repr(model),
                "budget": budget,
                "validation": validation,
                "seed": args.seed,
                "fit + score time": f"{seconds:.2f}s",
                "cleaned file": str(out),
                "scores file": str(scores_path),
            },
            curve=not args.no_curve,
            template=make_pipeline(clone(preprocessor), clone(trimmer)),
        )
        try:
            Path(args.report).write_text(html, encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot write {args.report}: {exc.strerror or exc}") from None
        print(f"wrote {args.report}")
    return 0


# -- value ----------------------------------------------------------------------------
def run_value(args: argparse.Namespace) -> int:
    """Handler of ``skinfluence value``."""
    import pandas as pd
    from sklearn.pipeline import make_pipeline

    from ._shapley import METHODS as VALUE_METHODS
    from ._shapley import ShapleyValuator

    method = args.method.strip().lower()
    if method not in VALUE_METHODS or method == "exact":
        shown = ", ".join(m for m in VALUE_METHODS if m != "exact")
        raise InputError(f"unknown --method {args.method!r}; choose from {shown}.")
    validation = _check_validation(args.validation)
    if args.max_iter < 1:
        raise InputError(f"--max-iter must be >= 1, got {args.max_iter}.")
    source = Path(args.data)
    out = _output(source, args.out, "values")
    _check_outputs(source, {"--out": out})
    table = load_table(source, args.target, args.task)
    model_name = args.model or ("knn" if method == "knn" else None)
    if method == "knn" and model_name != "knn":
        raise InputError("--method knn needs --model knn (the default for that method).")
    model = make_model(model_name, table.task, args.seed, _VALUE_MODELS)
    _check_classes(table, args.target)
    labeled = np.flatnonzero(table.has_target)
    if _n_scored(len(labeled), validation) < 2:
        raise InputError(f"{len(labeled)} rows with a target are too few to value.")
    valuator = ShapleyValuator(
        model,
        method=method,
        budget=0,
        validation=validation,
        max_iter=args.max_iter,
        max_time=args.max_time,
        n_jobs=args.n_jobs,
        random_state=args.seed,
    )
    pipe = make_pipeline(make_preprocessor(table.X), valuator)
    start = time.perf_counter()
    _fit(pipe, table.X.iloc[labeled], table.y[labeled], f"ShapleyValuator(method={method!r})")
    seconds = time.perf_counter() - start
    fitted = pipe[-1]
    n = len(table.raw)
    values = np.full(n, np.nan)
    stderr = np.full(n, np.nan)
    values[labeled] = fitted.values_
    stderr[labeled] = fitted.values_stderr_
    status = np.where(table.has_target, "validation", "no target").astype(object)
    status[labeled[np.isfinite(fitted.values_)]] = "valued"
    rank = np.full(n, np.nan)
    finite = np.flatnonzero(np.isfinite(values))
    rank[finite[np.argsort(-values[finite], kind="stable")]] = np.arange(1, len(finite) + 1)
    frame = pd.DataFrame(
        {"row": np.arange(n), "status": status, "value": values, "stderr": stderr, "rank": rank}
    )
    frame["rank"] = frame["rank"].astype("Int64")
    _write_csv(frame, out)
    print(_summary_line(table))
    print(
        f"method {method}, model {type(model).__name__}: valued {len(finite)} rows with "
        f"{fitted.n_evaluations_} utility evaluations in {seconds:.2f}s "
        f"(converged: {fitted.converged_})"
    )
    low = finite[np.argsort(values[finite], kind="stable")[:5]]
    print("lowest-valued rows: " + ", ".join(f"{i} ({values[i]:.4g})" for i in low))
    print(f"wrote {out} ({n} rows)")
    return 0


# -- query ----------------------------------------------------------------------------
def run_query(args: argparse.Namespace) -> int:
    """Handler of ``skinfluence query``."""
    import pandas as pd
    from sklearn.pipeline import make_pipeline

    from ._active_learner import QUERY_METHODS, InfluenceActiveLearner

    method = args.method.strip().lower()
    if method not in QUERY_METHODS:
        raise InputError(
            f"unknown --method {args.method!r}; choose from {', '.join(QUERY_METHODS)}."
        )
    if args.n < 1:
        raise InputError(f"--n must be >= 1, got {args.n}.")
    if not 0.0 < args.subsample <= 1.0:
        raise InputError(f"--subsample must be in (0, 1], got {args.subsample}.")
    if method == "if":
        raise InputError(
            "--method if needs a labeled validation set, which query does not hold out; "
            "use fi, entropy, margin, bald or random."
        )
    source = Path(args.data)
    out = _output(source, args.out, "query")
    _check_outputs(source, {"--out": out})
    task = "classification" if args.task == "auto" else args.task
    if task != "classification":
        raise InputError("query needs a classification target (active learning of labels).")
    table = load_table(source, args.target, task)
    _check_classes(table, args.target)
    pool = np.flatnonzero(~table.has_target)
    if len(pool) == 0:
        raise InputError(
            f"every row has a target, so there is nothing to query; leave the "
            f"{args.target!r} cell empty on the rows to choose from."
        )
    if args.n > len(pool):
        raise InputError(f"--n {args.n} is more than the {len(pool)} rows without a target.")
    model = make_model(args.model, "classification", args.seed, _QUERY_MODELS)
    learner = InfluenceActiveLearner(
        model,
        method=method,
        batch_size=args.n,
        subsample=args.subsample,
        n_rounds=0,
        random_state=args.seed,
    )
    pipe = make_pipeline(make_preprocessor(table.X), learner)
    start = time.perf_counter()
    _fit(pipe, table.X, table.y, f"InfluenceActiveLearner(method={method!r})")
    seconds = time.perf_counter() - start
    fitted = pipe[-1]
    picked = fitted.query(args.n)
    frame = pd.concat(
        [
            pd.DataFrame(
                {
                    "row": picked,
                    "rank": np.arange(1, len(picked) + 1),
                    "score": fitted.scores_[picked],
                }
            ),
            table.raw.iloc[picked].reset_index(drop=True),
        ],
        axis=1,
    )
    _write_csv(frame, out)
    print(_summary_line(table))
    print(
        f"method {method}, model {type(model).__name__}: scored {len(pool)} rows without a "
        f"target in {seconds:.2f}s; the {len(picked)} to label next:"
    )
    shown = frame.iloc[:, : min(frame.shape[1], 8)]
    print(shown.to_string(index=False, max_colwidth=20))
    print(f"wrote {out} ({len(picked)} rows)")
    return 0


# -- the parsers ----------------------------------------------------------------------
def _common(parser: argparse.ArgumentParser, *, model_names, task=True) -> None:
    parser.add_argument("data", metavar="DATA.csv", help="the CSV file (header line first)")
    parser.add_argument("--target", required=True, metavar="COL", help="the target column")
    if task:
        parser.add_argument(
            "--task",
            choices=TASKS,
            default="auto",
            help=(
                "classification or regression; auto: regression when the target is "
                f"numeric with more than {MAX_CLASSES_AUTO} distinct values or a "
                "non-integer value (default: %(default)s)"
            ),
        )
    parser.add_argument(
        "--model",
        choices=model_names,
        default=None,
        help="; ".join(f"{m}: {MODELS[m]}" for m in model_names),
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of every random step (default: %(default)s)"
    )


def add_commands(commands) -> None:
    """Register ``clean``, ``value`` and ``query`` on an argparse sub-parsers object.

    Parameters
    ----------
    commands : argparse._SubParsersAction
        The ``add_subparsers`` result of the ``skinfluence`` parser.
    """
    from .influence import MEASURES as METHODS

    clean = commands.add_parser(
        "clean",
        help="flag the most harmful rows of a CSV file and write it without them",
        description=(
            "Fit preprocessing + InfluenceTrimmer(model) on the rows with a target, "
            "flag the --budget highest-scored (most harmful) rows and write the file "
            "without them (--out), a CSV of per-row scores (--scores) and optionally an "
            "HTML report. The input file is never modified. A stratified --validation "
            "share of the rows is held out to score against and is never flagged; rows "
            "without a target are kept and not scored."
        ),
    )
    _common(clean, model_names=_CLEAN_MODELS)
    clean.add_argument(
        "--method",
        default="fi",
        help=f"influence method, one of {', '.join(METHODS)} (default: %(default)s)",
    )
    clean.add_argument(
        "--budget",
        default="0.05",
        help="rows to flag: a count (e.g. 40) or a fraction of the scored rows "
        "(default: %(default)s)",
    )
    clean.add_argument(
        "--validation",
        type=float,
        default=0.2,
        help="share of the rows held out to score against (default: %(default)s)",
    )
    clean.add_argument("--out", metavar="PATH", help="cleaned CSV (default: DATA.cleaned.csv)")
    clean.add_argument(
        "--scores", metavar="PATH", help="per-row scores CSV (default: DATA.scores.csv)"
    )
    clean.add_argument("--report", metavar="PATH", help="write a self-contained HTML report")
    clean.add_argument(
        "--no-curve",
        action="store_true",
        help="leave the trimming curve (extra refits on a held-out quarter) out of the report",
    )
    clean.set_defaults(handler=run_clean)

    value = commands.add_parser(
        "value",
        help="data values (Shapley and relatives) of the rows of a CSV file",
        description=(
            "Fit preprocessing + ShapleyValuator(model) on the rows with a target and "
            "write each row's value (higher = more valuable) and its standard error. "
            "A --validation share is held out to score subsets on and is not valued."
        ),
    )
    _common(value, model_names=_VALUE_MODELS)
    value.add_argument(
        "--method",
        default="tmc",
        help="tmc, beta, banzhaf, loo or knn (default: %(default)s)",
    )
    value.add_argument(
        "--max-iter",
        type=int,
        default=200,
        help="most permutations (tmc, beta) or subsets (banzhaf) (default: %(default)s)",
    )
    value.add_argument(
        "--max-time", type=float, default=None, help="stop sampling after this many seconds"
    )
    value.add_argument(
        "--validation",
        type=float,
        default=0.2,
        help="share of the rows held out to score on (default: %(default)s)",
    )
    value.add_argument("--n-jobs", type=int, default=None, help="parallel fits (joblib)")
    value.add_argument("--out", metavar="PATH", help="values CSV (default: DATA.values.csv)")
    value.set_defaults(handler=run_value)

    query = commands.add_parser(
        "query",
        help="the rows without a target that are worth labeling next",
        description=(
            "Rows whose target cell is empty are the pool. Fit preprocessing + "
            "InfluenceActiveLearner(model) on the labeled rows, score the pool and "
            "write (and print) the --n rows to label next, best first."
        ),
    )
    _common(query, model_names=_QUERY_MODELS, task=False)
    query.add_argument("--n", type=int, default=10, help="rows to pick (default: %(default)s)")
    query.add_argument(
        "--method",
        default="fi",
        help="fi, entropy, margin, bald or random (default: %(default)s)",
    )
    query.add_argument(
        "--subsample",
        type=float,
        default=1.0,
        help="share of the pool scored exactly; a random-forest surrogate ranks the rest "
        "(default: %(default)s)",
    )
    query.add_argument(
        "--out", metavar="PATH", help="CSV of the picked rows (default: DATA.query.csv)"
    )
    query.set_defaults(handler=run_query, task="classification")


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run: python -m skinfluence")

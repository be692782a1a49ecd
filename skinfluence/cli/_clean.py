"""``skinfluence clean``: flag the most harmful rows of a CSV file, write it without them.

Fits ``preprocessing + InfluenceTrimmer(model)`` on the rows with a target, writes
the file without the ``--budget`` highest-scored rows (every input column kept), a
per-row scores file and, with ``--report``, a self-contained HTML report
(:mod:`skinfluence.cli._report`); the last line it prints is the cross-validated
verdict (:mod:`skinfluence.cli._verdict`): the score untrimmed, at the budget and with
random trimming.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from sklearn.pipeline import make_pipeline

from .._trimmer import InfluenceTrimmer
from ..influence import MEASURES
from ._input import (
    METHODS,
    InputError,
    check_classes,
    check_validation,
    load_table,
    make_preprocessor,
    n_scored,
    needs_validation,
    parse_budget,
)
from ._models import (
    CLEAN_MODELS,
    dense_input,
    fit_pipeline,
    make_model,
    method_needs,
    model_methods,
)
from ._output import check_outputs, output_path, print_notes, summary_line, write_csv
from ._progress import Steps
from ._report import clean_report
from ._verdict import cross_validate_trimming

__all__ = ["handle"]


def _check_method(method: str, model_name: str, model) -> None:
    """Refuse a method that does not run on the model, naming those that do."""
    runs = model_methods(model_name)
    if method in runs:
        return
    needs = ", ".join(method_needs(method)) if method in MEASURES else "an adapter"
    raise InputError(
        f"--method {method} does not run on --model {model_name} ({type(model).__name__}): "
        f"it needs {needs}; choose from {', '.join(runs)}."
    )


def _check_cv(folds: int) -> int:
    if folds < 0 or folds == 1:
        raise InputError(f"--cv must be 0 (no verdict) or a number of folds >= 2, got {folds}.")
    return folds


def handle(args: argparse.Namespace) -> int:
    """Handler of ``skinfluence clean``."""
    steps = Steps(args.verbose, "clean")
    method = args.method.strip().lower()
    if method not in METHODS:
        raise InputError(f"unknown --method {args.method!r}; choose from {', '.join(METHODS)}.")
    budget = parse_budget(args.budget)
    validation = check_validation(args.validation)
    n_folds = _check_cv(args.cv)
    source = Path(args.data)
    out = output_path(source, args.out, "cleaned")
    scores_path = output_path(source, args.scores, "scores")
    outputs = {"--out": out, "--scores": scores_path}
    if args.report:
        outputs["--report"] = Path(args.report)
    check_outputs(source, outputs)
    table = load_table(source, args.target, args.task, drop=args.drop, keep=args.keep)
    model_name = args.model or ("logistic" if table.task == "classification" else "ridge")
    model = make_model(model_name, table.task, args.seed, CLEAN_MODELS)
    _check_method(method, model_name, model)
    check_classes(table, args.target)
    labeled = np.flatnonzero(table.has_target)
    n_rows_scored = n_scored(len(labeled), validation, needs_validation(method, model))
    if n_rows_scored < 2:
        raise InputError(f"{len(labeled)} rows with a target are too few to clean.")
    if isinstance(budget, int) and budget >= n_rows_scored:
        held_out = len(labeled) - n_rows_scored
        split = f" (the other {held_out} rows with a target are the validation split)"
        raise InputError(
            f"--budget {budget} rows must be below the {n_rows_scored} rows that are scored"
            f"{split if held_out else ''}; lower --budget."
        )
    print(summary_line(table))
    print_notes(table)
    X, y = table.X.iloc[labeled], table.y[labeled]
    preprocessor = make_preprocessor(table.X)
    if dense_input(model):
        preprocessor.set_params(sparse_threshold=0.0)
    trimmer = InfluenceTrimmer(
        model,
        method=method,
        budget=budget,
        validation=validation,
        random_state=args.seed,
        verbose=int(args.verbose),
    )
    pipe = make_pipeline(preprocessor, trimmer)
    start = time.perf_counter()
    with steps.step(f"scoring {len(labeled)} rows with {method} and refitting"):
        fit_pipeline(pipe, X, y, f"fitting InfluenceTrimmer(method={method!r})")
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
    write_csv(table.raw.iloc[keep], out)
    score_frame = pd.DataFrame(
        {"row": np.arange(n), "status": status, "score": scores, "rank": rank}
    )
    score_frame["rank"] = score_frame["rank"].astype("Int64")
    write_csv(score_frame, scores_path)
    shown = method if fitted.method_ == method else f"{method} ({fitted.method_})"
    held_out = len(labeled) - int(np.isfinite(fitted.scores_).sum())
    unscored = f" ({held_out} validation rows kept unscored)" if held_out else ""
    print(
        f"method {shown}, model {type(model).__name__}, budget {budget}: scored "
        f"{int(np.isfinite(scores).sum())} rows{unscored} in {seconds:.2f}s; "
        f"flagged {len(flagged)}"
    )
    print(f"wrote {out} ({len(keep)} rows), {scores_path} ({n} rows)")

    curve = bool(args.report) and not args.no_curve
    if not n_folds:
        verdict = "no verdict (--cv 0)."
    elif not len(flagged):
        verdict = "no verdict: nothing was flagged (budget 0)."
    else:
        verdict = cross_validate_trimming(
            preprocessor=preprocessor,
            trimmer=trimmer,
            X=X,
            y=y,
            classification=table.task == "classification",
            n_folds=n_folds,
            n_flagged=len(flagged),
            curve=curve,
            seed=args.seed,
            steps=steps,
            name=shown,
        )
    if args.report:
        with steps.step("writing the report"):
            html = clean_report(
                table=table,
                pipe=pipe,
                X=X,
                y=y,
                labeled=labeled,
                flagged=flagged,
                scores=scores,
                status=status,
                verdict=verdict,
                curve=curve,
                settings={
                    "method": shown,
                    "model": repr(model),
                    "budget": budget,
                    "validation": validation,
                    "cross-validation folds": n_folds or "none (--cv 0)",
                    "seed": args.seed,
                    "fit + score time": f"{seconds:.2f}s",
                    "cleaned file": str(out),
                    "scores file": str(scores_path),
                },
            )
            try:
                Path(args.report).write_text(html, encoding="utf-8")
            except OSError as exc:
                raise InputError(f"cannot write {args.report}: {exc.strerror or exc}") from None
        print(f"wrote {args.report}")
    for note in getattr(verdict, "notes", ()):
        print(f"note: {note}")
    print(verdict if isinstance(verdict, str) else verdict.line())
    return 0

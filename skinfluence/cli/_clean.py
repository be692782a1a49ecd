"""``skinfluence clean``: flag the most harmful rows of a CSV file, write it without them.

Fits ``preprocessing + InfluenceTrimmer(model)`` on the rows with a target, writes
the file without the ``--budget`` highest-scored rows, a per-row scores file and,
with ``--report``, a self-contained HTML report (:mod:`skinfluence.cli._report`).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.pipeline import make_pipeline

from .._trimmer import InfluenceTrimmer
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
from ._models import CLEAN_MODELS, dense_input, fit_pipeline, make_model
from ._output import check_outputs, output_path, summary_line, write_csv
from ._report import clean_report

__all__ = ["handle"]


def handle(args: argparse.Namespace) -> int:
    """Handler of ``skinfluence clean``."""
    method = args.method.strip().lower()
    if method not in METHODS:
        raise InputError(f"unknown --method {args.method!r}; choose from {', '.join(METHODS)}.")
    budget = parse_budget(args.budget)
    validation = check_validation(args.validation)
    source = Path(args.data)
    out = output_path(source, args.out, "cleaned")
    scores_path = output_path(source, args.scores, "scores")
    outputs = {"--out": out, "--scores": scores_path}
    if args.report:
        outputs["--report"] = Path(args.report)
    check_outputs(source, outputs)
    table = load_table(source, args.target, args.task)
    model = make_model(args.model, table.task, args.seed, CLEAN_MODELS)
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
    X, y = table.X.iloc[labeled], table.y[labeled]
    preprocessor = make_preprocessor(table.X)
    if dense_input(model):
        preprocessor.set_params(sparse_threshold=0.0)
    trimmer = InfluenceTrimmer(
        model, method=method, budget=budget, validation=validation, random_state=args.seed
    )
    pipe = make_pipeline(preprocessor, trimmer)
    start = time.perf_counter()
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
    print(summary_line(table))
    shown = method if fitted.method_ == method else f"{method} ({fitted.method_})"
    held_out = len(labeled) - int(np.isfinite(fitted.scores_).sum())
    unscored = f" ({held_out} validation rows kept unscored)" if held_out else ""
    print(
        f"method {shown}, model {type(model).__name__}, budget {budget}: scored "
        f"{int(np.isfinite(scores).sum())} rows{unscored} in {seconds:.2f}s; "
        f"flagged {len(flagged)}"
    )
    print(f"wrote {out} ({len(keep)} rows), {scores_path} ({n} rows)")
    if args.report:
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

"""``skinfluence query``: the rows without a target that are worth labeling next."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from sklearn.pipeline import make_pipeline

from .._active_learner import QUERY_METHODS, InfluenceActiveLearner
from ._input import InputError, check_classes, load_table, make_preprocessor
from ._models import QUERY_MODELS, fit_pipeline, make_model
from ._output import check_outputs, output_path, print_notes, summary_line, write_csv
from ._progress import Steps

__all__ = ["handle"]


def handle(args: argparse.Namespace) -> int:
    """Handler of ``skinfluence query``."""
    import pandas as pd

    steps = Steps(args.verbose, "query")
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
    out = output_path(source, args.out, "query")
    check_outputs(source, {"--out": out})
    task = "classification" if args.task == "auto" else args.task
    if task != "classification":
        raise InputError("query needs a classification target (active learning of labels).")
    table = load_table(source, args.target, task, drop=args.drop, keep=args.keep)
    check_classes(table, args.target)
    pool = np.flatnonzero(~table.has_target)
    if len(pool) == 0:
        raise InputError(
            f"every row has a target, so there is nothing to query; leave the "
            f"{args.target!r} cell empty on the rows to choose from."
        )
    if args.n > len(pool):
        raise InputError(f"--n {args.n} is more than the {len(pool)} rows without a target.")
    model = make_model(args.model, "classification", args.seed, QUERY_MODELS)
    learner = InfluenceActiveLearner(
        model,
        method=method,
        batch_size=args.n,
        subsample=args.subsample,
        n_rounds=0,
        random_state=args.seed,
        verbose=int(args.verbose),
    )
    pipe = make_pipeline(make_preprocessor(table.X), learner)
    print(summary_line(table))
    print_notes(table)
    start = time.perf_counter()
    what = f"fitting on {len(table.y) - len(pool)} labeled rows, scoring {len(pool)} pool rows"
    with steps.step(f"{what} with {method}"):
        fit_pipeline(pipe, table.X, table.y, f"InfluenceActiveLearner(method={method!r})")
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
    write_csv(frame, out)
    print(
        f"method {method}, model {type(model).__name__}: scored {len(pool)} rows without a "
        f"target in {seconds:.2f}s; the {len(picked)} to label next:"
    )
    shown = frame.iloc[:, : min(frame.shape[1], 8)]
    print(shown.to_string(index=False, max_colwidth=20))
    print(f"wrote {out} ({len(picked)} rows)")
    return 0

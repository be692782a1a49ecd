"""``skinfluence value``: data values (Shapley and relatives) of the rows of a CSV file."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from sklearn.pipeline import make_pipeline

from .._shapley import METHODS as VALUE_METHODS
from .._shapley import ShapleyValuator
from ._input import (
    InputError,
    check_classes,
    check_validation,
    load_table,
    make_preprocessor,
    n_scored,
)
from ._models import VALUE_MODELS, dense_input, fit_pipeline, make_model
from ._output import check_outputs, output_path, summary_line, write_csv

__all__ = ["handle"]


def handle(args: argparse.Namespace) -> int:
    """Handler of ``skinfluence value``."""
    import pandas as pd

    method = args.method.strip().lower()
    if method not in VALUE_METHODS or method == "exact":
        shown = ", ".join(m for m in VALUE_METHODS if m != "exact")
        raise InputError(f"unknown --method {args.method!r}; choose from {shown}.")
    validation = check_validation(args.validation, allow_folds=False)
    if args.max_iter < 1:
        raise InputError(f"--max-iter must be >= 1, got {args.max_iter}.")
    source = Path(args.data)
    out = output_path(source, args.out, "values")
    check_outputs(source, {"--out": out})
    table = load_table(source, args.target, args.task)
    model_name = args.model or ("knn" if method == "knn" else None)
    if method == "knn" and model_name != "knn":
        raise InputError("--method knn needs --model knn (the default for that method).")
    model = make_model(model_name, table.task, args.seed, VALUE_MODELS)
    check_classes(table, args.target)
    labeled = np.flatnonzero(table.has_target)
    if n_scored(len(labeled), validation) < 2:
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
    preprocessor = make_preprocessor(table.X)
    if dense_input(model):
        preprocessor.set_params(sparse_threshold=0.0)
    pipe = make_pipeline(preprocessor, valuator)
    start = time.perf_counter()
    fit_pipeline(
        pipe, table.X.iloc[labeled], table.y[labeled], f"ShapleyValuator(method={method!r})"
    )
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
    write_csv(frame, out)
    print(summary_line(table))
    print(
        f"method {method}, model {type(model).__name__}: valued {len(finite)} rows with "
        f"{fitted.n_evaluations_} utility evaluations in {seconds:.2f}s "
        f"(converged: {fitted.converged_})"
    )
    low = finite[np.argsort(values[finite], kind="stable")[:5]]
    print("lowest-valued rows: " + ", ".join(f"{i} ({values[i]:.4g})" for i in low))
    print(f"wrote {out} ({n} rows)")
    return 0

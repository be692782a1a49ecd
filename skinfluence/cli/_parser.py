"""The argument parser of the ``skinfluence`` command: one sub-parser per command.

Each sub-command sets ``handler``, the ``handle`` function of its module
(``_clean``, ``_value``, ``_query``, ``_demo``), which takes the
parsed arguments and returns the exit status.
"""

from __future__ import annotations

import argparse

from . import _clean, _demo, _query, _value
from ._input import MAX_CLASSES_AUTO, TASKS, InputError
from ._models import CLEAN_MODELS, MODELS, QUERY_MODELS, VALUE_MODELS, model_methods

__all__ = ["PROG", "build_parser"]

PROG = "skinfluence"


class _Parser(argparse.ArgumentParser):
    """An argument parser whose syntax errors are one line on stderr."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


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
    parser.add_argument(
        "--drop",
        nargs="+",
        action="extend",
        default=[],
        metavar="COL",
        help="columns that are not features (e.g. --drop name email, or --drop name,email); "
        "the output files keep them",
    )
    parser.add_argument(
        "--keep",
        nargs="+",
        action="extend",
        default=[],
        metavar="COL",
        help="use these ID-like columns as features after all; a column named like an id "
        "(id, customer_id, CustomerID, ...) or holding a distinct integer per row that "
        "counts up or runs through consecutive values is otherwise left out, with a note",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="print progress of every long step on stderr",
    )


def _method_help(model_names) -> str:
    """``--method`` of ``clean``: the methods that run on each model, grouped."""
    groups: dict[tuple, list] = {}
    absent = []
    for name in model_names:
        try:
            groups.setdefault(model_methods(name), []).append(name)
        except InputError:  # an extra that is not installed (lightgbm, xgboost)
            absent.append(name)
    if len(groups) == 1:
        (methods,) = groups
        listed = ", ".join(methods)
    else:
        listed = "; ".join(
            f"with --model {' or '.join(models)}: {', '.join(methods)}"
            for methods, models in groups.items()
        )
    if absent:
        verb = "need" if len(absent) > 1 else "needs"
        named = " and ".join(f"--model {name}" for name in absent)
        listed += f"; {named} {verb} pip install skinfluence[trees]"
    if len(groups) == 1 and not absent:
        return f"influence method, one of {listed} (default: %(default)s)"
    return f"influence method ({listed}) (default: %(default)s)"


def _add_clean(commands) -> None:
    """Register ``skinfluence clean``."""
    clean = commands.add_parser(
        "clean",
        help="flag the most harmful rows of a CSV file and write it without them",
        description=(
            "Fit preprocessing + InfluenceTrimmer(model) on the rows with a target, "
            "flag the --budget highest-scored (most harmful) rows and write the file "
            "without them (--out), a CSV of per-row scores (--scores) and optionally an "
            "HTML report. The input file is never modified. Every row with a target is "
            "scored unless --validation holds out a share to score against (never "
            "flagged); rows without a target are kept and not scored."
        ),
    )
    _common(clean, model_names=CLEAN_MODELS)
    clean.add_argument(
        "--method",
        default="auto",
        help=_method_help(CLEAN_MODELS),
    )
    clean.add_argument(
        "--budget",
        default="0.05",
        help="rows to flag: a count (e.g. 40), a fraction of the scored rows (e.g. 0.05) "
        "or auto, the estimated number of label issues (default: %(default)s)",
    )
    clean.add_argument(
        "--validation",
        default="auto",
        help="validation rows of a validation-based method: a share held out (e.g. 0.2), "
        "a number of cross-fitting folds (e.g. 5), or auto: none for a validation-free "
        "method, 5 folds otherwise (default: %(default)s)",
    )
    clean.add_argument("--out", metavar="PATH", help="cleaned CSV (default: DATA.cleaned.csv)")
    clean.add_argument(
        "--scores", metavar="PATH", help="per-row scores CSV (default: DATA.scores.csv)"
    )
    clean.add_argument("--report", metavar="PATH", help="write a self-contained HTML report")
    clean.add_argument(
        "--cv",
        type=int,
        default=5,
        metavar="K",
        help="folds of the closing verdict: the cross-validated score untrimmed, at the "
        "budget, and with as many rows trimmed at random; it costs K untrimmed fits and "
        "2K trimmer fits (6K with the report's curve), 0 skips it (default: %(default)s)",
    )
    clean.add_argument(
        "--no-curve",
        action="store_true",
        help="leave the trimming curve (4K extra trimmer fits: half and twice the budget, "
        "for the method and random trimming) out of the report",
    )
    clean.set_defaults(handler=_clean.handle)


def _add_value(commands) -> None:
    """Register ``skinfluence value``."""
    value = commands.add_parser(
        "value",
        help="data values (Shapley and relatives) of the rows of a CSV file",
        description=(
            "Fit preprocessing + ShapleyValuator(model) on the rows with a target and "
            "write each row's value (higher = more valuable) and its standard error. "
            "A --validation share is held out to score subsets on and is not valued."
        ),
    )
    _common(value, model_names=VALUE_MODELS)
    value.add_argument(
        "--method",
        default="tmc",
        help="tmc, beta, banzhaf, loo, knn, data_oob, downsampling or ame (default: "
        "%(default)s); downsampling and ame fit 100 models on random subsets",
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
    value.set_defaults(handler=_value.handle)


def _add_query(commands) -> None:
    """Register ``skinfluence query``."""
    query = commands.add_parser(
        "query",
        help="the rows without a target that are worth labeling next",
        description=(
            "Rows whose target cell is empty are the pool. Fit preprocessing + "
            "InfluenceActiveLearner(model) on the labeled rows, score the pool and "
            "write (and print) the --n rows to label next, best first."
        ),
    )
    _common(query, model_names=QUERY_MODELS, task=False)
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
    query.set_defaults(handler=_query.handle, task="classification")


def _add_demo(commands) -> None:
    """Register ``skinfluence demo``."""
    parser = commands.add_parser(
        "demo",
        help="flip some training labels and trim them back out with InfluenceTrimmer",
        description=(
            "Flip a seeded share of the training labels of a binary classification "
            "problem, fit preprocessing + InfluenceTrimmer(LogisticRegression()) with "
            "each method, and print the test accuracy before and after trimming, the "
            "rows removed and how many of them were flipped. Without --csv the data is "
            "scikit-learn's breast-cancer set."
        ),
    )
    parser.add_argument(
        "--csv",
        metavar="PATH",
        help="a CSV file (may be .gz) with a header line and a binary target column",
    )
    parser.add_argument("--target", metavar="COL", help="the target column of --csv")
    parser.add_argument(
        "--methods",
        default=",".join(_demo.DEFAULT_METHODS),
        help="comma-separated trimming methods (default: %(default)s)",
    )
    parser.add_argument(
        "--budget",
        default=None,
        help=(
            "rows to drop: a count (e.g. 40) or a fraction of the scored rows "
            "(e.g. 0.05); default: the number of flipped labels"
        ),
    )
    parser.add_argument(
        "--noise",
        type=float,
        default=0.1,
        help="share of the training labels to flip (default: %(default)s)",
    )
    parser.add_argument(
        "--max-rows",
        type=int,
        default=5000,
        help="subsample the training part to at most N rows, 0 = all (default: %(default)s)",
        metavar="N",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of every random step (default: %(default)s)"
    )
    parser.set_defaults(handler=_demo.handle)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``skinfluence`` command, with every sub-command.

    Returns
    -------
    parser : argparse.ArgumentParser
        Sub-commands set ``handler`` (a function of the parsed arguments that
        returns the exit status) and ``command`` (their name).
    """
    from .. import __version__

    parser = _Parser(
        prog=PROG,
        description="Which training rows help or hurt a scikit-learn model.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_clean(commands)
    _add_value(commands)
    _add_query(commands)
    _add_demo(commands)
    return parser

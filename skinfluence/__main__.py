"""Command line: ``python -m skinfluence COMMAND`` (also the ``skinfluence`` script).

Commands: ``clean``, ``value`` and ``query`` (:mod:`skinfluence._cli`) work on a
user's CSV file; ``demo`` (:mod:`skinfluence._demo`) shows trimming on flipped labels.

Each command registers its own sub-parser in :func:`build_parser` and sets a
``handler`` that takes the parsed arguments and returns the exit status. A handler
reports an error in the user's input by raising one of the ``_USER_ERRORS``
(:class:`ValueError` subclasses); :func:`main` prints its message on one line to
stderr and returns 1, without a traceback. Syntax errors are one line too (status 2).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ._cli import add_commands
from ._demo import DEFAULT_METHODS, DemoInputError

__all__ = ["build_parser", "main"]

PROG = "skinfluence"

_USER_ERRORS: tuple[type[Exception], ...] = (DemoInputError,)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose syntax errors are one line on stderr."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _run_demo(args: argparse.Namespace) -> int:
    """Handler of ``skinfluence demo``."""
    from ._demo import (
        check_options,
        format_report,
        load_breast_cancer_problem,
        parse_budget,
        parse_methods,
        read_csv_problem,
        run_demo,
    )

    methods = parse_methods(args.methods)
    budget = parse_budget(args.budget)
    check_options(noise=args.noise, max_rows=args.max_rows, seed=args.seed)
    if args.csv is None and args.target is not None:
        raise DemoInputError("--target needs --csv (the bundled data has its own target).")
    if args.csv is not None:
        if not args.target:
            raise DemoInputError("--csv needs --target COL, the name of the binary target column.")
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
        default=",".join(DEFAULT_METHODS),
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
    parser.set_defaults(handler=_run_demo)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``skinfluence`` command, with every sub-command.

    Returns
    -------
    parser : argparse.ArgumentParser
        Sub-commands set ``handler`` (a function of the parsed arguments that
        returns the exit status) and ``command`` (their name).
    """
    from . import __version__

    parser = _Parser(
        prog=PROG,
        description="Which training rows help or hurt a scikit-learn model.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_commands(commands)
    _add_demo(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``skinfluence`` command line.

    Parameters
    ----------
    argv : sequence of str, default=None
        The arguments after the program name; ``None`` reads ``sys.argv[1:]``.

    Returns
    -------
    status : int
        0 on success, 1 for an error in the input (a one-line message on stderr),
        2 for a command-line syntax error (also one line), 130 when
        interrupted.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(None if argv is None else list(argv))
    except SystemExit as exc:  # --help, --version, or a syntax error
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 2)
    try:
        return int(args.handler(args))
    except _USER_ERRORS as exc:
        print(f"{PROG} {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG} {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

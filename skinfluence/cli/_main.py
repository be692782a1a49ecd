"""``main``: parse the command line, run the command, turn input errors into one line."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ._input import InputError
from ._parser import PROG, build_parser

__all__ = ["main"]

#: Errors in the user's input: printed on one line to stderr, exit status 1.
_USER_ERRORS: tuple[type[Exception], ...] = (InputError,)


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
    from threadpoolctl import threadpool_limits

    try:
        # one OpenMP thread, as LightGBM and XGBoost get n_jobs=1: on CSV-sized data
        # HistGradientBoosting's threads cost more than they save (a 300-row fit took
        # 2.7 s on two threads of a busy 2-core machine, 0.06 s on one); BLAS keeps its own
        with threadpool_limits(1, user_api="openmp"):
            return int(args.handler(args))
    except _USER_ERRORS as exc:
        print(f"{PROG} {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG} {args.command}: interrupted", file=sys.stderr)
        return 130

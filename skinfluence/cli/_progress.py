"""``--verbose``: one line on stderr when a long step starts and when it ends.

The commands print their results on stdout; the progress lines go to stderr, so that
``skinfluence clean ... > log.txt`` keeps the results apart. The estimators' own
``verbose`` output (stage timings, the valuator's progress bar) goes to stderr too.
"""

from __future__ import annotations

import contextlib
import sys
import time

__all__ = ["Steps"]


class Steps:
    """Progress of a command's long steps; silent unless ``verbose``.

    Parameters
    ----------
    verbose : bool
        Print anything at all.
    command : str
        The command's name, the prefix of every line.
    """

    def __init__(self, verbose: bool, command: str):
        self.verbose = bool(verbose)
        self.prefix = f"skinfluence {command}:"

    def note(self, message: str) -> None:
        """One progress line (only when verbose)."""
        if self.verbose:
            print(f"{self.prefix} {message}", file=sys.stderr, flush=True)

    @contextlib.contextmanager
    def step(self, message: str):
        """Announce a step, run it (the estimators' prints go to stderr), time it."""
        if not self.verbose:
            yield
            return
        self.note(f"{message} ...")
        start = time.perf_counter()
        with contextlib.redirect_stdout(sys.stderr):
            yield
        self.note(f"{message}: done in {time.perf_counter() - start:.2f}s")

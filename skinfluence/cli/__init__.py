"""Command line: ``python -m skinfluence COMMAND`` (also the ``skinfluence`` script).

Commands: ``clean``, ``value`` and ``query`` work on a user's CSV file; ``demo``
shows trimming on flipped labels. One module per command (``_clean``, ``_value``,
``_query``, ``_demo``), each with a ``handle`` function of the parsed arguments that
returns the exit status; they share the reading of the CSV file, its feature columns
(``--drop``, ``--keep``, the ID-like columns), its preprocessing and the option checks
(``_input``), the ``--model`` values and the methods each runs (``_models``), the
output files (``_output``) and the ``--verbose`` progress lines (``_progress``).
``_parser`` builds the argument parser; ``_verdict`` cross-validates the trimming for
``clean``'s closing verdict, ``_report`` writes its HTML report.

A handler reports an error in the user's input by raising ``_input.InputError`` (a
:class:`ValueError`); :func:`main` prints its message on one line to stderr and
returns 1, without a traceback. Syntax errors are one line too (status 2).

This is the top layer of the package: it may import everything, nothing imports it.
"""

from ._main import main
from ._parser import build_parser

__all__ = ["build_parser", "main"]

"""What every command reads: the CSV file, its target, the options they share.

Every command (and ``demo --csv``) reads a CSV file with a header line
(``pandas.read_csv``, ``?`` read as missing, compression from the suffix) and
preprocesses its feature columns by type (:func:`make_preprocessor`: numeric columns
median-imputed and standardised, the others one-hot encoded). An error in the user's
input raises :class:`InputError`, whose message the command line prints on one line.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from numbers import Integral, Real
from pathlib import Path

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from .._methods import auto_method
from ..influence import MEASURES

#: ``--method`` choices of ``clean`` and the demo: ``auto`` and every measure.
METHODS = ("auto", *MEASURES)

__all__ = [
    "MAX_CLASSES_AUTO",
    "METHODS",
    "TASKS",
    "InputError",
    "Table",
    "check_classes",
    "check_validation",
    "load_table",
    "make_preprocessor",
    "n_scored",
    "needs_validation",
    "parse_budget",
    "prepare_features",
    "read_table_with_target",
]

TASKS = ("auto", "classification", "regression")
#: A numeric target with more distinct values than this (or any non-integer value) is
#: a regression target under ``--task auto``.
MAX_CLASSES_AUTO = 10

_FILL_CATEGORY = "missing"


class InputError(ValueError):
    """An error in the user's input (file, column, option value).

    The message says what was wrong and what to do; the command line prints it on
    one line to stderr and exits with status 1, without a traceback.
    """


# -- options --------------------------------------------------------------------------
def parse_budget(text: str | int | float | None) -> int | float | str | None:
    """Parse ``--budget``: a row count (int), a fraction in ``[0, 1)`` or ``"auto"``.

    Parameters
    ----------
    text : str, int, float or None
        ``"40"`` is 40 rows, ``"0.05"`` is 5 % of the rows the trimmer scores,
        ``"auto"`` the number of label issues the trimmer estimates; ``None`` (the
        demo's default) means "as many rows as were flipped".

    Returns
    -------
    budget : int, float, "auto" or None
        The parsed budget.

    Raises
    ------
    InputError
        When the text is not a number, is negative, or is a fraction outside
        ``[0, 1)``.
    """
    if text is None:
        return None
    if isinstance(text, bool):
        raise InputError(f"--budget must be a row count or a fraction, got {text!r}.")
    if isinstance(text, Integral):
        value: int | float = int(text)
    elif isinstance(text, Real):
        value = float(text)
    else:
        text = str(text).strip()
        if text.lower() == "auto":
            return "auto"
        try:
            value = int(text) if re.fullmatch(r"[+-]?\d+", text) else float(text)
        except ValueError:
            raise InputError(
                f"--budget must be a row count (e.g. 40) or a fraction (e.g. 0.05), got {text!r}."
            ) from None
    if isinstance(value, int):
        if value < 0:
            raise InputError(f"--budget must be a count >= 0, got {value}.")
        return value
    if not (np.isfinite(value) and 0.0 <= value < 1.0):
        raise InputError(
            f"a fractional --budget must be in [0, 1), got {value}; pass a whole number "
            "for a count of rows."
        )
    return value


def needs_validation(method: str, estimator) -> bool:
    """Whether the trimmer's ``method`` (``"auto"`` resolved) scores against validation rows."""
    return MEASURES[auto_method(estimator) if method == "auto" else method].validation


def n_scored(n_rows: int, validation, needs_validation: bool = True) -> int:
    """Rows a selector scores: all of them, unless a share ``v`` is held out.

    ``train_test_split`` holds out ``ceil(v n)`` rows for a float ``validation``
    and a method that scores against validation rows; cross-fitting (an int,
    ``"auto"``) and validation-free methods score every row.
    """
    if isinstance(validation, float) and needs_validation:
        return n_rows - math.ceil(validation * n_rows)
    return n_rows


def check_validation(value, *, allow_folds: bool = True):
    """``--validation``: ``"auto"``, a fraction in ``(0, 1)`` or a fold count ``K ≥ 2``.

    Returns ``"auto"``, a float or an int; anything else raises :class:`InputError`.
    """
    text = str(value).strip().lower()
    if text == "auto" and allow_folds:
        return "auto"
    try:
        number = float(text)
    except ValueError:
        number = None
    if number is not None and 0.0 < number < 1.0:
        return number
    if allow_folds and number is not None and number.is_integer() and number >= 2:
        return int(number)
    choices = "'auto', a fraction in (0, 1) or a number of folds >= 2"
    raise InputError(
        f"--validation must be {choices if allow_folds else 'a fraction in (0, 1)'}, got {value!r}."
    )


# -- reading --------------------------------------------------------------------------
def make_preprocessor(X) -> ColumnTransformer:
    """The preprocessing of a CSV's feature table.

    Numeric columns (``select_dtypes("number")``) are imputed with their median and
    standardised; every other column is one-hot encoded, with a missing value
    imputed as a category of its own (``"missing"``) and categories unseen in fit
    ignored at predict time.

    Parameters
    ----------
    X : pandas.DataFrame
        The feature columns; non-numeric columns should hold text (see
        :func:`prepare_features`).

    Returns
    -------
    preprocessor : ColumnTransformer
        Unfitted; its output is sparse or dense depending on its density.
    """
    numeric = list(X.select_dtypes("number").columns)
    categorical = [c for c in X.columns if c not in set(numeric)]
    transformers = []
    if numeric:
        transformers.append(
            ("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric)
        )
    if categorical:
        transformers.append(
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value=_FILL_CATEGORY),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                categorical,
            )
        )
    return ColumnTransformer(transformers)


def prepare_features(X):
    """A copy of a CSV's feature table, ready for :func:`make_preprocessor`.

    The index is reset; infinities in numeric columns become missing; every other
    column becomes text (missing values kept), so that mixed or boolean columns
    encode cleanly.

    Parameters
    ----------
    X : pandas.DataFrame
        The feature columns as ``pandas.read_csv`` parsed them.

    Returns
    -------
    X : pandas.DataFrame
        The converted copy.
    """
    X = X.reset_index(drop=True)
    numeric = set(X.select_dtypes("number").columns)
    for col in X.columns:
        if col in numeric:
            X[col] = X[col].replace([np.inf, -np.inf], np.nan)
        else:
            X[col] = X[col].astype(str).where(X[col].notna(), np.nan)
    return X


def _read_table(path: Path):
    """``pandas.read_csv`` with every failure turned into an :class:`InputError`."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is installed with the dev extra
        raise InputError("--csv needs pandas; install it with `pip install pandas`.") from None
    if not path.exists():
        raise InputError(f"no such file: {path}")
    if path.is_dir():
        raise InputError(f"{path} is a directory; pass a CSV file.")
    try:
        return pd.read_csv(path, na_values="?", skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise InputError(f"{path} is empty; it needs a header line and data rows.") from None
    except pd.errors.ParserError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "parse error"
        raise InputError(f"cannot parse {path} as CSV: {first}") from None
    except UnicodeDecodeError:
        raise InputError(f"cannot read {path}: it is not UTF-8 text.") from None
    except (OSError, EOFError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise InputError(f"cannot read {path}: {reason}") from None


def read_table_with_target(path: Path, target: str, reader: str):
    """:func:`_read_table`, then check that it has rows and the ``target`` column.

    ``reader`` names who reads the file in the hint for ';'-separated files.
    """
    df = _read_table(path)
    if df.shape[1] == 0 or df.shape[0] == 0:
        raise InputError(f"{path} has no data rows; it needs a header line and data rows.")
    if target not in df.columns:
        columns = [str(c) for c in df.columns]
        shown = ", ".join(columns[:20]) + (", ..." if len(columns) > 20 else "")
        hint = ""
        if len(columns) == 1 and ";" in columns[0]:
            hint = f" (the file seems to be ';'-separated; {reader} reads ',')"
        raise InputError(
            f"target column {target!r} is not in {path}{hint}; its columns are: {shown}"
        )
    return df


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
    InputError
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


def check_classes(table: Table, target: str) -> None:
    """A classification target needs two classes among the rows with a target."""
    if table.task == "classification" and len(table.classes) < 2:
        raise InputError(
            f"column {target!r} holds one class ({table.classes[0]!r}) on the rows with a "
            "target; a classifier needs at least two."
        )

"""What every command reads: the CSV file, its target, the options they share.

Every command (and ``demo --csv``) reads a CSV file with a header line
(``pandas.read_csv``, ``?`` read as missing, compression from the suffix) and
preprocesses its feature columns by type (:func:`make_preprocessor`: numeric columns
median-imputed and standardised, the others one-hot encoded). An error in the user's
input raises :class:`InputError`, whose message the command line prints on one line.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field
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
    "id_like_columns",
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


def unknown_column_message(name: str, columns, path: Path, what: str) -> str:
    """The message for a column ``name`` that ``path`` lacks: "did you mean", every column.

    ``what`` says which column was asked for (``"target column"``, ``"--drop column"``).
    Close matches (spelling, case, a column that contains the name) are looked up
    case-insensitively; the list of columns is complete.
    """
    columns = [str(c) for c in columns]
    lower = {c.lower(): c for c in columns}
    close = [c for c in columns if c.lower() == name.lower()]
    for match in difflib.get_close_matches(name.lower(), list(lower), n=3, cutoff=0.7):
        close += [lower[match]] if lower[match] not in close else []
    if len(name) >= 3:  # "age" for "customer_age"
        close += [c for c in columns if name.lower() in c.lower() and c not in close]
    hint = ""
    if len(columns) == 1 and ";" in columns[0]:
        hint = " (the file seems to be ';'-separated; skinfluence reads ',')"
    guess = f"; did you mean {' or '.join(repr(c) for c in close[:3])}?" if close else "."
    return (
        f"{what} {name!r} is not in {path}{hint}{guess} Its {len(columns)} columns are: "
        + ", ".join(columns)
    )


def read_table_with_target(path: Path, target: str, reader: str):
    """:func:`_read_table`, then check that it has rows and the ``target`` column.

    ``reader`` names who reads the file in the hint for ';'-separated files.
    """
    df = _read_table(path)
    if df.shape[1] == 0 or df.shape[0] == 0:
        raise InputError(f"{path} has no data rows; it needs a header line and data rows.")
    if target not in df.columns:
        message = unknown_column_message(target, df.columns, path, "target column")
        raise InputError(message.replace("skinfluence reads", f"{reader} reads"))
    return df


#: Column names that mark an identifier: ``id``, ``ID``, ``customer_id``, ``CustomerID``,
#: ``id_card``, ``uuid``, ``row_number``, pandas' ``Unnamed: 0`` (a written index)...
_ID_NAME = re.compile(
    r"(?:ids?|uuid|guid|idx|index|row|row[_ ]?(?:id|num|number|no)|record[_ ]?id"
    r"|unnamed: ?\d+)"
    r"|.*[_\-\s.](?:id|uuid|guid)"
    r"|(?:id|uuid)[_\-\s.].*",
    re.IGNORECASE,
)
#: camelCase identifiers: ``customerId``, ``CustomerID`` (not ``paid``, ``valid``).
_CAMEL_ID = re.compile(r".*[a-z0-9]I[dD]")


def id_like_columns(df) -> dict[str, str]:
    """The columns of ``df`` that look like row identifiers, with the reason.

    A column is ID-like when its name looks like an identifier (``id``,
    ``customer_id``, ``CustomerID``, ``uuid``, ``row_number``, ``Unnamed: 0``...) or
    when it holds a distinct integer on every row that counts up in file order or
    runs through consecutive values (row numbers, database keys). A measurement that
    happens to be distinct on a small file (a census weight, an income) neither counts
    up nor runs through consecutive values, so it stays a feature.

    Parameters
    ----------
    df : pandas.DataFrame
        The columns to check (as ``pandas.read_csv`` parsed them).

    Returns
    -------
    columns : dict of str to str
        ID-like column name -> why, in the order of ``df``.
    """
    import pandas as pd

    found = {}
    n = len(df)
    for col in df.columns:
        name = str(col).strip()
        if _ID_NAME.fullmatch(name) or _CAMEL_ID.fullmatch(name):
            found[col] = "named like an id"
            continue
        values = df[col]
        if n < 3 or not pd.api.types.is_integer_dtype(values) or values.isna().any():
            continue
        v = values.to_numpy()
        if len(np.unique(v)) != n:
            continue
        if np.all(np.diff(v) > 0):
            found[col] = "a distinct integer per row, counting up"
        elif int(v.max()) - int(v.min()) + 1 == n:
            found[col] = "a distinct integer per row, consecutive values"
    return found


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
    target : str
        The target column.
    excluded : dict of str to str
        Columns of the file that are not features (besides the target) -> why:
        ``"--drop"`` or the reason :func:`id_like_columns` gives.
    notes : list of str
        What the reading did that the user should know (printed by the commands).
    """

    path: Path
    raw: object
    X: object
    y: np.ndarray
    has_target: np.ndarray
    task: str
    classes: list
    target: str = ""
    excluded: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)


def _first_bad_number(values) -> tuple[int, str] | None:
    import pandas as pd

    parsed = pd.to_numeric(values, errors="coerce")
    bad = np.flatnonzero(parsed.isna().to_numpy() & values.notna().to_numpy())
    if len(bad):
        return int(bad[0]), str(values.iloc[bad[0]])
    return None


def _split_names(names) -> list[str]:
    """``--drop a b`` and ``--drop a,b``: the column names, in order, without repeats."""
    out: list[str] = []
    for item in names or ():
        for name in str(item).split(","):
            name = name.strip()
            if name and name not in out:
                out.append(name)
    return out


def _feature_columns(df, path: Path, target: str, drop, keep) -> tuple[list, dict, list]:
    """The feature columns of ``df``: all but the target, ``drop`` and the ID-like ones.

    Returns the feature columns, the excluded ones (name -> why) and the notes.
    """
    drop, keep = _split_names(drop), _split_names(keep)
    names = {str(c): c for c in df.columns}
    for option, asked in (("--drop", drop), ("--keep", keep)):
        for name in asked:
            if name not in names:
                raise InputError(unknown_column_message(name, df.columns, path, f"{option} column"))
            if names[name] == target:
                raise InputError(
                    f"{option} {name!r} is the target column; {option} names feature columns."
                )
    both = [name for name in drop if name in keep]
    if both:
        raise InputError(f"column {both[0]!r} is given to both --drop and --keep; choose one.")
    features = [c for c in df.columns if c != target]
    excluded = {names[name]: "--drop" for name in drop}
    candidates = df[[c for c in features if c not in excluded]]
    ids = {c: why for c, why in id_like_columns(candidates).items() if str(c) not in keep}
    notes = []
    rest = [c for c in features if c not in excluded]
    if ids and len(ids) == len(rest):
        shown = ", ".join(repr(str(c)) for c in ids)
        notes.append(
            f"column {shown} looks like a row id but is the only feature left; it is used."
        )
        ids = {}
    for col, why in ids.items():
        notes.append(
            f"column {str(col)!r} looks like a row id ({why}): not used as a feature "
            f"(kept in the output files); pass --keep {col} to use it."
        )
    excluded.update(ids)
    features = [c for c in features if c not in excluded]
    if not features:
        raise InputError(
            f"--drop leaves no feature column besides the target {target!r}; drop fewer columns."
        )
    if drop:
        notes.insert(0, "not used as features (--drop): " + ", ".join(drop) + ".")
    return features, excluded, notes


def load_table(path: str | Path, target: str, task: str = "auto", *, drop=(), keep=()) -> Table:
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
    drop : sequence of str, default=()
        Columns that are not features (``--drop``; ``"a,b"`` names two). They stay
        in :attr:`Table.raw`, so the output files keep them.
    keep : sequence of str, default=()
        ID-like columns to use as features after all (``--keep``).

    Returns
    -------
    table : Table
        The parsed file.

    Raises
    ------
    InputError
        For a missing, empty or unreadable file, a missing target column, a
        non-numeric target for regression, no feature column, or no target value,
        and for ``drop`` / ``keep`` names that are not columns.
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
    features, excluded, notes = _feature_columns(df, path, target, drop, keep)
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
    X = prepare_features(df[features])
    return Table(path, raw, X, y, has_target, task, classes, target, excluded, notes)


def check_classes(table: Table, target: str) -> None:
    """A classification target needs two classes among the rows with a target."""
    if table.task == "classification" and len(table.classes) < 2:
        raise InputError(
            f"column {target!r} holds one class ({table.classes[0]!r}) on the rows with a "
            "target; a classifier needs at least two."
        )

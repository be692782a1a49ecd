"""Helpers shared by the benchmark scripts: data loading, preprocessing, timing, output.

Not part of the package; imported by the scripts in this folder as ``_common``.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder, StandardScaler

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"


def default_data_dir() -> Path:
    """``$SKINFLUENCE_DATA`` or ``../shared/data`` relative to the repository root."""
    env = os.environ.get("SKINFLUENCE_DATA")
    if env:
        return Path(env)
    return (REPO_ROOT / ".." / "shared" / "data").resolve()


# -- data ------------------------------------------------------------------------------
ADULT_CATEGORICAL = [
    "workclass",
    "education",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "native-country",
]
ADULT_NUMERIC = ["age", "education-num", "capital-gain", "capital-loss", "hours-per-week"]
BANK_CATEGORICAL = [
    "job",
    "marital",
    "education",
    "default",
    "housing",
    "loan",
    "contact",
    "month",
    "poutcome",
]
BANK_NUMERIC = ["age", "balance", "day", "campaign", "pdays", "previous"]


def load_adult(data_dir: Path, which: str = "train") -> tuple[pd.DataFrame, np.ndarray]:
    """Adult features (``fnlwgt`` dropped, ``?`` kept as its own category) and 0/1 target."""
    df = pd.read_csv(Path(data_dir) / f"adult_{which}.csv.gz")
    y = (df["income"].str.rstrip(".") == ">50K").to_numpy().astype(np.int64)
    X = df[ADULT_NUMERIC + ADULT_CATEGORICAL].copy()
    # "?" marks a missing category: keep it as a level of its own ("missing")
    for col in ADULT_CATEGORICAL:
        X[col] = X[col].replace("?", "missing")
    return X, y


def load_bank(data_dir: Path) -> tuple[pd.DataFrame, np.ndarray]:
    """Bank Marketing features (``duration`` dropped: it leaks the target) and 0/1 target."""
    df = pd.read_csv(Path(data_dir) / "bank_marketing.csv.gz")
    y = (df["y"] == "yes").to_numpy().astype(np.int64)
    X = df[BANK_NUMERIC + BANK_CATEGORICAL].copy()
    return X, y


def make_preprocessor(numeric: list[str], categorical: list[str]) -> ColumnTransformer:
    """One-hot encode the categorical columns (0/1), standard-scale the numeric ones."""
    return ColumnTransformer(
        [
            ("num", StandardScaler(), numeric),
            (
                "cat",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False, dtype=np.float64),
                categorical,
            ),
        ]
    )


# -- timing ----------------------------------------------------------------------------
def best_time(fn, repeats: int) -> tuple[float, object]:
    """Best wall time of ``repeats`` calls of ``fn()`` (``time.perf_counter``) and the last result."""
    best, out = np.inf, None
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


# -- output ----------------------------------------------------------------------------
def environment() -> dict:
    """Versions and machine facts recorded with every result file."""
    import scipy
    import sklearn
    import torch

    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = None
    return {
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "pandas": pd.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "git_commit": commit,
        "command": " ".join([Path(sys.executable).name] + sys.argv),
    }


def write_json(name: str, payload: dict, out_dir: Path | None = None) -> Path:
    """Write ``payload`` to ``benchmarks/results/<name>.json`` (atomically)."""
    out_dir = Path(out_dir) if out_dir is not None else RESULTS_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=_jsonable) + "\n")
    tmp.replace(path)
    return path


def _jsonable(obj):
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def format_table(headers: list[str], rows: list[list], title: str | None = None) -> str:
    """A GitHub-flavoured markdown table (printed and pasted into the docs)."""
    cells = [[str(c) for c in row] for row in rows]
    lines = []
    if title:
        lines.append(f"**{title}**\n")
    lines.append("| " + " | ".join(headers) + " |")
    lines.append("|" + "|".join("---" for _ in headers) + "|")
    lines.extend("| " + " | ".join(row) + " |" for row in cells)
    return "\n".join(lines)

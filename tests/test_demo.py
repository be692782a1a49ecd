"""Tests of the ``demo`` command (``python -m skinfluence demo``)."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import numpy as np
import pytest

from skinfluence.__main__ import main
from skinfluence.cli._demo import (
    format_report,
    load_breast_cancer_problem,
    parse_methods,
    read_csv_problem,
    run_demo,
)
from skinfluence.cli._input import InputError as DemoInputError
from skinfluence.cli._input import parse_budget

METHODS = ("fi", "if", "random")


def _method_rows(out: str) -> dict[str, list[str]]:
    """The table rows of the demo's output, by method name."""
    rows = {}
    for line in out.splitlines():
        cells = line.split()
        if cells and cells[0] in METHODS:
            rows[cells[0]] = cells
    return rows


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def mixed_csv(tmp_path, rng):
    """A small CSV with numeric, text and boolean columns, missing values, binary target."""
    pd = pytest.importorskip("pandas")
    n = 300
    x1 = rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], size=n)
    label = np.where(x1 + (colour == "red") + rng.normal(scale=0.5, size=n) > 0.5, "yes", "no")
    df = pd.DataFrame(
        {
            "x1": x1,
            "count": rng.integers(0, 10, size=n),
            "colour": colour,
            "flag": rng.choice([True, False], size=n),
            "label": label,
        }
    )
    df.loc[::17, "x1"] = np.nan
    df.loc[::13, "colour"] = None
    df.loc[::50, "label"] = None  # rows without a target are dropped
    path = tmp_path / "mixed.csv"
    df.to_csv(path, index=False)
    return path


def test_main_demo_prints_the_three_methods(capsys):
    assert main(["demo"]) == 0
    captured = capsys.readouterr()
    rows = _method_rows(captured.out)
    assert set(rows) == set(METHODS)
    assert "none (budget 0)" in captured.out
    assert "breast cancer" in captured.out
    assert captured.err == ""
    # budget = number of flipped labels: 10 % of the 426 training rows
    for cells in rows.values():
        assert int(cells[1]) == 43
        assert 0 <= int(cells[2]) <= 43


def test_main_demo_options(capsys):
    status = main(["demo", "--methods", "random,if", "--budget", "0.05", "--seed", "3"])
    assert status == 0
    rows = _method_rows(capsys.readouterr().out)
    assert list(rows) == ["random", "if"]
    # 5 % of the 426 training rows: the trimmer scores every one (5-fold cross-fitting)
    assert all(int(cells[1]) == 21 for cells in rows.values())


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_main_demo_on_a_csv(tmp_path, mixed_csv, suffix, capsys):
    path = mixed_csv
    if suffix == ".csv.gz":
        import gzip

        path = tmp_path / "mixed.csv.gz"
        path.write_bytes(gzip.compress(mixed_csv.read_bytes()))
    before = _digest(path)
    status = main(["demo", "--csv", str(path), "--target", "label", "--max-rows", "150"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert set(_method_rows(captured.out)) == set(METHODS)
    assert "2 numeric, 2 categorical" in captured.out
    assert "subsampled" in captured.out
    assert _digest(path) == before


def test_read_csv_problem(mixed_csv):
    problem = read_csv_problem(mixed_csv, "label")
    assert problem.classes == ["no", "yes"]
    assert problem.X.shape == (300 - 6, 4)
    assert set(np.unique(problem.y)) == {0, 1}
    Xt = problem.preprocessor.fit_transform(problem.X)
    # 2 numeric + 4 colour categories (3 + "missing") + 2 flag categories
    assert Xt.shape == (294, 8)
    assert not np.isnan(Xt.toarray() if hasattr(Xt, "toarray") else Xt).any()


def test_run_demo_is_deterministic_and_counts_right():
    problem = load_breast_cancer_problem()
    a = run_demo(problem, methods=["if", "random"], seed=1)
    b = run_demo(problem, methods=["if", "random"], seed=1)
    assert a.n_flipped == round(0.1 * a.n_train)
    assert a.accuracy_before == b.accuracy_before
    for ra, rb in zip(a.results, b.results, strict=True):
        assert (ra.n_removed, ra.n_flipped_removed, ra.accuracy) == (
            rb.n_removed,
            rb.n_flipped_removed,
            rb.accuracy,
        )
        assert ra.n_removed == a.n_flipped
        assert ra.n_flipped_removed <= ra.n_flipped_reachable <= a.n_flipped
    text = format_report(a)
    assert text.endswith("\n") and "precision" in text


def test_parse_options():
    assert parse_budget("40") == 40 and isinstance(parse_budget("40"), int)
    assert parse_budget("0.05") == 0.05
    assert parse_budget(None) is None
    assert parse_methods(" fi, random,fi ") == ["fi", "random"]
    for bad in ["-3", "1.5", "abc", "nan"]:
        with pytest.raises(DemoInputError, match="budget"):
            parse_budget(bad)
    with pytest.raises(DemoInputError, match="unknown method"):
        parse_methods("fi,nope")


def _write_three_class(tmp_path):
    path = tmp_path / "three.csv"
    lines = ["x,colour,t"] + [f"{i},{'ab'[i % 2]},{'xyz'[i % 3]}" for i in range(60)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing_file", "no such file"),
        ("missing_column", "target column 'nope' is not in"),
        ("three_classes", "binary target"),
        ("empty_file", "is empty"),
        ("header_only", "no data rows"),
    ],
)
def test_csv_errors_are_one_line(tmp_path, mixed_csv, case, message, capsys):
    target = "t"
    if case == "missing_file":
        path = tmp_path / "does_not_exist.csv"
    elif case == "missing_column":
        path, target = mixed_csv, "nope"
    elif case == "three_classes":
        path = _write_three_class(tmp_path)
    elif case == "empty_file":
        path = tmp_path / "empty.csv"
        path.write_text("")
    else:
        path = tmp_path / "header.csv"
        path.write_text("x,t\n")
    before = _digest(path) if path.exists() else None
    status = main(["demo", "--csv", str(path), "--target", target])
    captured = capsys.readouterr()
    assert status != 0
    assert captured.out == ""
    assert message in captured.err
    assert captured.err.count("\n") == 1 and captured.err.startswith("skinfluence demo: error:")
    assert "Traceback" not in captured.err
    if before is not None:
        assert _digest(path) == before
    else:
        assert not path.exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--budget", "1.5"], "fractional --budget"),
        (["--budget", "10000"], "must be below the 426 training rows"),
        (["--methods", "fi,bogus"], "unknown method(s) bogus"),
        (["--noise", "0.7"], "--noise"),
        (["--max-rows", "3"], "--max-rows"),
        (["--target", "y"], "--target needs --csv"),
        (["--csv", "somefile.csv"], "--csv needs --target"),
    ],
)
def test_option_errors(argv, message, capsys):
    assert main(["demo", *argv]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_syntax_error_is_one_line(capsys):
    assert main(["demo", "--noise", "lots"]) == 2
    err = capsys.readouterr().err
    assert "invalid float value" in err and err.count("\n") == 1
    assert main([]) == 2


def test_python_dash_m_reports_errors_without_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "skinfluence", "demo", "--csv", str(tmp_path / "x.csv")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.strip().startswith("skinfluence demo: error:")
    assert "Traceback" not in result.stderr

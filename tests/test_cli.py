"""End-to-end tests of ``skinfluence clean``, ``value`` and ``query`` on small CSV files."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import numpy as np
import pytest

from skinfluence.__main__ import main

pd = pytest.importorskip("pandas")


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def data_csv(tmp_path, rng):
    """Numeric, integer and text features (some missing), a binary label, a price."""
    n = 200
    x1 = rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], size=n)
    label = np.where(x1 + (colour == "red") + rng.normal(scale=0.5, size=n) > 0.5, "yes", "no")
    df = pd.DataFrame(
        {
            "x1": np.round(x1, 6),
            "count": rng.integers(0, 10, size=n),
            "colour": colour,
            "label": label,
            "price": np.round(3 * x1 + rng.normal(size=n), 6),
        }
    )
    df.loc[::17, "x1"] = np.nan
    df.loc[::13, "colour"] = None
    path = tmp_path / "data.csv"
    df.to_csv(path, index=False)
    return path


def _lines(path) -> list[str]:
    return path.read_text().splitlines()


def _labeled_pipeline_input(path, target, drop=()):
    """The feature frame and encoded target the commands fit on, read independently."""
    from skinfluence.cli._input import make_preprocessor, prepare_features

    df = pd.read_csv(path, na_values="?", skipinitialspace=True)
    df = df.drop(columns=list(drop))
    labeled = np.flatnonzero(df[target].notna().to_numpy())
    X = prepare_features(df.drop(columns=[target]))
    return X, df[target], labeled, make_preprocessor(X)


# -- clean ----------------------------------------------------------------------------
def test_clean_end_to_end(tmp_path, data_csv, capsys):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from skinfluence import InfluenceTrimmer

    before = _digest(data_csv)
    out, scores_path, report = tmp_path / "o.csv", tmp_path / "s.csv", tmp_path / "r.html"
    status = main(
        [
            "clean",
            str(data_csv),
            "--target",
            "label",
            "--method",
            "fi",
            "--validation",
            "0.2",
            "--budget",
            "0.05",
            "--out",
            str(out),
            "--scores",
            str(scores_path),
            "--report",
            str(report),
        ]
    )
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert _digest(data_csv) == before
    assert "flagged 8" in captured.out  # floor(0.05 * 160 scored rows)

    scores = pd.read_csv(scores_path)
    assert len(scores) == 200 and scores["row"].tolist() == list(range(200))
    counts = scores["status"].value_counts().to_dict()
    assert counts == {"kept": 152, "validation": 40, "flagged": 8}
    flagged = scores.loc[scores["status"] == "flagged", "row"].to_numpy()
    # the flagged rows are the best-ranked ones, the validation rows are unscored
    assert sorted(scores.loc[flagged, "rank"]) == list(range(1, 9))
    assert scores.loc[scores["status"] == "validation", "score"].isna().all()

    # cleaned file = the input's lines without the flagged rows, text unchanged
    lines = _lines(data_csv)
    kept_lines = [lines[0]] + [lines[i + 1] for i in range(200) if i not in set(flagged)]
    assert _lines(out) == kept_lines
    assert len(_lines(out)) - 1 + len(flagged) == 200

    # the scores are InfluenceTrimmer's on the same preprocessing, fitted here
    X, target, labeled, pre = _labeled_pipeline_input(data_csv, "label")
    y = np.unique(target.astype(str), return_inverse=True)[1]
    pipe = make_pipeline(
        pre,
        InfluenceTrimmer(
            LogisticRegression(max_iter=1000),
            method="fi",
            budget=0.05,
            validation=0.2,
            random_state=0,
        ),
    ).fit(X, y)
    np.testing.assert_allclose(scores["score"], pipe[-1].scores_, rtol=1e-10, equal_nan=True)
    np.testing.assert_array_equal(np.sort(flagged), np.sort(pipe[-1].trimmed_indices_))

    page = report.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert page.count('src="data:image/png;base64,') == 2  # histogram and trimming curve
    assert "<script" not in page and "http" not in page  # self-contained
    assert "Flagged rows (8)" in page
    for i in flagged:
        assert f'<td class="num">{i}</td>' in page


def test_clean_rows_without_target_are_kept_unscored(tmp_path, data_csv, capsys):
    df = pd.read_csv(data_csv)
    df.loc[::10, "label"] = None
    path = tmp_path / "partial.csv"
    df.to_csv(path, index=False)
    before = _digest(path)
    assert main(["clean", str(path), "--target", "label", "--budget", "5", "--no-curve"]) == 0
    capsys.readouterr()
    assert _digest(path) == before
    scores = pd.read_csv(tmp_path / "partial.scores.csv")
    assert (scores.loc[::10, "status"] == "no target").all()
    assert scores.loc[::10, "score"].isna().all()
    assert (scores["status"] == "flagged").sum() == 5
    cleaned = pd.read_csv(tmp_path / "partial.cleaned.csv")
    assert len(cleaned) == 200 - 5 and cleaned["label"].isna().sum() == 20


def test_clean_regression_target(tmp_path, data_csv, capsys):
    out = tmp_path / "reg.csv"
    argv = ["clean", str(data_csv), "--target", "price", "--method", "if", "--budget", "10"]
    assert main([*argv, "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "(regression)" in captured.out and "model Ridge" in captured.out
    assert len(pd.read_csv(out)) == 190
    scores = pd.read_csv(tmp_path / "data.scores.csv")
    assert len(scores) == 200 and (scores["status"] == "flagged").sum() == 10


def test_clean_help_lists_every_method(capsys):
    from skinfluence.influence import MEASURES

    with pytest.raises(SystemExit):
        from skinfluence.__main__ import build_parser

        build_parser().parse_args(["clean", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for method in MEASURES:
        assert method in text


# -- value ----------------------------------------------------------------------------
def test_value_knn_end_to_end(tmp_path, data_csv, capsys):
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline

    from skinfluence import ShapleyValuator

    before = _digest(data_csv)
    out = tmp_path / "values.csv"
    argv = ["value", str(data_csv), "--target", "label", "--method", "knn", "--out", str(out)]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "lowest-valued rows" in captured.out
    assert _digest(data_csv) == before
    values = pd.read_csv(out)
    assert len(values) == 200
    assert values["status"].value_counts().to_dict() == {"valued": 160, "validation": 40}
    X, target, _, pre = _labeled_pipeline_input(data_csv, "label")
    y = np.unique(target.astype(str), return_inverse=True)[1]
    expected = (
        make_pipeline(
            pre, ShapleyValuator(KNeighborsClassifier(), method="knn", budget=0, random_state=0)
        )
        .fit(X, y)[-1]
        .values_
    )
    np.testing.assert_allclose(values["value"], expected, equal_nan=True)
    valued = values[values["status"] == "valued"]
    assert valued.sort_values("rank")["value"].is_monotonic_decreasing


def test_value_sampled_default_path(tmp_path, data_csv, capsys):
    argv = ["value", str(data_csv), "--target", "label", "--method", "banzhaf"]
    assert main([*argv, "--max-iter", "20"]) == 0
    capsys.readouterr()
    values = pd.read_csv(tmp_path / "data.values.csv")
    assert len(values) == 200 and values["value"].notna().sum() == 160
    assert values.loc[values["value"].notna(), "stderr"].notna().all()


# -- query ----------------------------------------------------------------------------
def test_query_end_to_end(tmp_path, data_csv, capsys):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from skinfluence import InfluenceActiveLearner

    df = pd.read_csv(data_csv)
    df.loc[df.index % 4 == 0, "label"] = None  # 50 pool rows
    path = tmp_path / "pool.csv"
    df.to_csv(path, index=False)
    before = _digest(path)
    assert main(["query", str(path), "--target", "label", "--n", "6"]) == 0
    captured = capsys.readouterr()
    assert _digest(path) == before
    picked = pd.read_csv(tmp_path / "pool.query.csv")
    assert len(picked) == 6 and picked["rank"].tolist() == list(range(1, 7))
    assert (picked["row"] % 4 == 0).all() and picked["label"].isna().all()
    # the rows keep the input's values
    pd.testing.assert_frame_equal(
        picked[["x1", "count", "colour", "price"]],
        df.loc[picked["row"], ["x1", "count", "colour", "price"]].reset_index(drop=True),
    )
    for row in picked["row"]:
        assert str(row) in captured.out
    # the same rows as the learner itself picks
    X, target, labeled, pre = _labeled_pipeline_input(path, "label")
    y = np.full(len(target), -1)
    y[labeled] = np.unique(target[labeled].astype(str), return_inverse=True)[1]
    learner = InfluenceActiveLearner(
        LogisticRegression(max_iter=1000), batch_size=6, subsample=1.0, random_state=0
    )
    expected = make_pipeline(pre, learner).fit(X, y)[-1].query(6)
    np.testing.assert_array_equal(picked["row"], expected)


# -- errors ---------------------------------------------------------------------------
def _expect_error(argv, message, capsys, command):
    status = main(argv)
    captured = capsys.readouterr()
    assert status == 1, captured
    assert message in captured.err, captured.err
    assert captured.err.startswith(f"skinfluence {command}: error:")
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err


@pytest.mark.parametrize("command", ["clean", "value", "query"])
@pytest.mark.parametrize(
    "case, message",
    [
        ("missing_column", "target column 'nope' is not in"),
        ("empty_file", "is empty"),
        ("header_only", "no data rows"),
        ("ragged", "cannot parse"),
        ("binary", "not UTF-8"),
        ("missing_file", "no such file"),
    ],
)
def test_file_errors(tmp_path, data_csv, command, case, message, capsys):
    target = "label"
    path = tmp_path / "bad.csv"
    if case == "missing_column":
        path, target = data_csv, "nope"
    elif case == "empty_file":
        path.write_text("")
    elif case == "header_only":
        path.write_text("x,label\n")
    elif case == "ragged":
        path.write_text("x,label\n1,a\n2,b,3,4\n")
    elif case == "binary":
        path.write_bytes(b"x,label\n\xff\xfe\x00\x81,\x9f\n" * 5)
    before = _digest(path) if path.exists() else None
    _expect_error([command, str(path), "--target", target], message, capsys, command)
    if before is not None:
        assert _digest(path) == before
    outputs = [p for p in tmp_path.iterdir() if p.name not in {"data.csv", "bad.csv"}]
    assert outputs == []  # nothing written


def test_option_errors(tmp_path, data_csv, capsys):
    before = _digest(data_csv)
    src = str(data_csv)
    cases = [
        (
            ["clean", src, "--target", "label", "--method", "fi", "--validation", "0.2"]
            + ["--budget", "500"],
            "below the 160 rows",
        ),
        (["clean", src, "--target", "label", "--budget", "500"], "below the 200 rows"),
        (["clean", src, "--target", "label", "--budget", "1.5"], "fractional --budget"),
        (["clean", src, "--target", "label", "--method", "nope"], "unknown --method 'nope'"),
        (["clean", src, "--target", "label", "--out", src], "is the input file"),
        (
            ["clean", src, "--target", "label", "--scores", str(tmp_path / "." / "data.csv")],
            "is the input file",
        ),
        (
            ["clean", src, "--target", "colour", "--task", "regression"],
            "regression needs a numeric target",
        ),
        (
            ["clean", src, "--target", "label", "--model", "ridge"],
            "choose from gb, hgb, knn, lightgbm, logistic, mlp, nb, rf, sgd, svc, xgboost or "
            "set --task",
        ),
        (["clean", src, "--target", "label", "--validation", "1.2"], "--validation"),
        (
            ["clean", src, "--target", "label", "--out", str(tmp_path / "no" / "o.csv")],
            "does not exist",
        ),
        (["value", src, "--target", "label", "--method", "exact"], "unknown --method"),
        (["value", src, "--target", "label", "--out", src], "is the input file"),
        (["value", src, "--target", "label", "--method", "knn", "--model", "logistic"], "knn"),
        (["query", src, "--target", "label"], "nothing to query"),
        (["query", src, "--target", "label", "--method", "if"], "validation set"),
    ]
    for argv, message in cases:
        _expect_error(argv, message, capsys, argv[0])
    assert _digest(data_csv) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]


def test_query_n_larger_than_pool(tmp_path, data_csv, capsys):
    df = pd.read_csv(data_csv)
    df.loc[:2, "label"] = None
    path = tmp_path / "p.csv"
    df.to_csv(path, index=False)
    _expect_error(
        ["query", str(path), "--target", "label", "--n", "4"], "than the 3 rows", capsys, "query"
    )


@pytest.mark.parametrize("command", ["clean", "value", "query"])
def test_single_class_target(tmp_path, command, capsys):
    path = tmp_path / "one.csv"
    path.write_text("x,label\n" + "".join(f"{i},{'a' if i else ''}\n" for i in range(30)))
    _expect_error([command, str(path), "--target", "label"], "holds one class", capsys, command)


def test_fit_failure_is_one_line(tmp_path, capsys):
    """An error inside the fit (SGD on three classes) is still one line, status 1."""
    path = tmp_path / "three.csv"
    path.write_text("x,label\n" + "".join(f"{i},{'abc'[i % 3]}\n" for i in range(60)))
    argv = ["clean", str(path), "--target", "label", "--model", "sgd"]
    _expect_error(argv, "failed", capsys, "clean")


def test_console_script_errors_without_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "skinfluence", "clean", str(tmp_path / "x.csv"), "--target", "y"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("skinfluence clean: error: no such file")
    assert "Traceback" not in result.stderr


def test_report_without_matplotlib(tmp_path, data_csv, monkeypatch, capsys):
    """Without matplotlib the report still has its tables and says how to get plots."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    report = tmp_path / "r.html"
    argv = ["clean", str(data_csv), "--target", "label", "--report", str(report)]
    assert main(argv) == 0
    capsys.readouterr()
    page = report.read_text()
    assert "data:image/png" not in page
    assert "skinfluence[plot]" in page and "Flagged rows (10)" in page  # 5 % of 200

"""The command line's options end to end, on CSV files written here.

``--drop`` and ``--keep``, the ID-like columns left out of the features, ``--verbose``,
``--method`` against ``--model``, the missing-target message, the closing verdict
(``--cv``) and the numbers of the HTML report, each against the estimators run by hand.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import numpy as np
import pytest

from skinfluence.cli import main

pd = pytest.importorskip("pandas")

N_ROWS = 160


@pytest.fixture
def people_csv(tmp_path, rng):
    """Features, a label, and the columns a user's file has that are not features."""
    n = N_ROWS
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], size=n)
    label = np.where(x1 - x2 + (colour == "red") + rng.normal(scale=0.7, size=n) > 0, "yes", "no")
    df = pd.DataFrame(
        {
            "ID": np.arange(1000, 1000 + n),  # named like an id
            "x1": np.round(x1, 6),
            "seq": rng.permutation(n),  # a distinct integer per row, consecutive values
            "colour": colour,
            "weight": rng.choice(100_000, size=n, replace=False),  # distinct, yet a feature
            "name": [f"person {i}" for i in range(n)],
            "x2": np.round(x2, 6),
            "label": label,
            "income": np.round(10 * x1 + rng.normal(size=n), 3),
        }
    )
    path = tmp_path / "people.csv"
    df.to_csv(path, index=False)
    return path


def _run(argv, capsys):
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    return captured.out, captured.err


def _error(argv, capsys) -> str:
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    assert status == 1, captured
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    return captured.err


def _features(path, columns, target="label"):
    """The rows with a target, the given feature columns and the encoded target."""
    from skinfluence.cli._input import make_preprocessor, prepare_features

    df = pd.read_csv(path, na_values="?", skipinitialspace=True)
    X = prepare_features(df[columns])
    if pd.api.types.is_numeric_dtype(df[target]):
        y = df[target].to_numpy(dtype=float)
    else:
        known = df[target].notna().to_numpy()
        y = np.full(len(df), -1)
        y[known] = np.unique(df[target][known].astype(str), return_inverse=True)[1]
    return X, y, make_preprocessor(X)


def _trimmer_pipeline(pre, method="auto", budget=0.05, model=None, **kwargs):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from skinfluence import InfluenceTrimmer

    model = LogisticRegression(max_iter=1000) if model is None else model
    trimmer = InfluenceTrimmer(model, method=method, budget=budget, random_state=0, **kwargs)
    return make_pipeline(pre, trimmer)


class _Tables(HTMLParser):
    """Every ``<table>`` of a page as a list of rows of cell texts."""

    def __init__(self):
        super().__init__()
        self.tables, self._row, self._cell = [], None, None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(html.unescape("".join(self._cell)).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1].append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _tables(page: str) -> list[list[list[str]]]:
    parser = _Tables()
    parser.feed(page)
    return parser.tables


# -- --drop, --keep and ID-like columns ------------------------------------------------
FEATURES = ["x1", "colour", "weight", "x2", "income"]  # what `--drop name` leaves


def test_drop_and_id_like_columns_end_to_end(tmp_path, people_csv, capsys):
    out, scores_path = tmp_path / "clean.csv", tmp_path / "scores.csv"
    argv = ["clean", people_csv, "--target", "label", "--drop", "name", "--cv", "0"]
    stdout, _ = _run([*argv, "--out", out, "--scores", scores_path], capsys)
    assert f"x {len(FEATURES)} feature columns" in stdout
    assert "not used as features (--drop): name." in stdout
    assert "column 'ID' looks like a row id (named like an id)" in stdout
    assert "column 'seq' looks like a row id (a distinct integer per row, consecutive" in stdout
    assert "pass --keep seq" in stdout and "weight" not in stdout

    # the cleaned file keeps every input column, dropped and ID-like ones included,
    # and its rows and the flagged rows add up to the input
    source = pd.read_csv(people_csv, dtype=str)
    cleaned = pd.read_csv(out, dtype=str)
    scores = pd.read_csv(scores_path)
    assert list(cleaned.columns) == list(source.columns)
    flagged = scores.loc[scores["status"] == "flagged", "row"].to_numpy()
    assert len(flagged) == 8  # 5 % of 160
    assert len(cleaned) + len(flagged) == len(source) == len(scores)
    pd.testing.assert_frame_equal(
        cleaned, source.drop(index=flagged).reset_index(drop=True), check_dtype=False
    )

    # the scores are the trimmer's on the features without the dropped and ID columns
    X, y, pre = _features(people_csv, FEATURES)
    pipe = _trimmer_pipeline(pre).fit(X, y)
    np.testing.assert_allclose(scores["score"], pipe[-1].scores_, rtol=1e-10)
    np.testing.assert_array_equal(np.sort(flagged), np.sort(pipe[-1].trimmed_indices_))


def test_drop_forms_and_keep(tmp_path, people_csv, capsys):
    # "a,b" and "a b" and repeated options all name the same columns
    base = ["clean", people_csv, "--target", "label", "--cv", "0", "--budget", "4"]
    runs = {
        "list": ["--drop", "name", "weight"],
        "comma": ["--drop", "name,weight"],
        "repeated": ["--drop", "name", "--drop", "weight"],
    }
    results = {}
    for key, extra in runs.items():
        stdout, _ = _run([*base, *extra, "--scores", tmp_path / f"{key}.csv"], capsys)
        assert "not used as features (--drop): name, weight." in stdout
        results[key] = pd.read_csv(tmp_path / f"{key}.csv")["score"]
    pd.testing.assert_series_equal(results["list"], results["comma"])
    pd.testing.assert_series_equal(results["list"], results["repeated"])

    # --keep uses an ID-like column as a feature after all
    scores_path = tmp_path / "kept.csv"
    argv = [*base, "--drop", "name", "--keep", "seq", "--scores", scores_path]
    stdout, _ = _run(argv, capsys)
    assert "'seq' looks like" not in stdout and "'ID' looks like" in stdout
    assert f"x {len(FEATURES) + 1} feature columns" in stdout
    X, y, pre = _features(people_csv, ["x1", "seq", "colour", "weight", "x2", "income"])
    pipe = _trimmer_pipeline(pre, budget=4).fit(X, y)
    np.testing.assert_allclose(pd.read_csv(scores_path)["score"], pipe[-1].scores_, rtol=1e-10)


def test_id_column_alone_is_used_with_a_note(tmp_path, capsys):
    path = tmp_path / "only_id.csv"
    path.write_text("id,label\n" + "".join(f"{i},{'ab'[i % 2]}\n" for i in range(40)))
    stdout, _ = _run(["clean", path, "--target", "label", "--cv", "0"], capsys)
    assert "looks like a row id but is the only feature left; it is used" in stdout
    assert "x 1 feature columns" in stdout


def test_column_option_errors(tmp_path, people_csv, capsys):
    base = ["clean", people_csv, "--target", "label"]
    err = _error([*base, "--drop", "nmae"], capsys)
    assert "--drop column 'nmae' is not in" in err and "did you mean 'name'?" in err
    err = _error([*base, "--keep", "Seq2"], capsys)
    assert "--keep column 'Seq2' is not in" in err and "'seq'" in err
    assert "is the target column" in _error([*base, "--drop", "label"], capsys)
    assert "both --drop and --keep" in _error([*base, "--drop", "ID", "--keep", "ID"], capsys)
    every = ["ID", "x1", "seq", "colour", "weight", "name", "x2", "income"]
    err = _error([*base, "--drop", ",".join(every)], capsys)
    assert "leaves no feature column" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["people.csv"]  # nothing written


def test_missing_target_did_you_mean_and_every_column(tmp_path, capsys):
    columns = [f"feature_{i:02d}" for i in range(24)] + ["Outcome"]
    path = tmp_path / "wide.csv"
    path.write_text(",".join(columns) + "\n" + ",".join("1" for _ in columns) + "\n")
    for command in ("clean", "value", "query"):
        err = _error([command, path, "--target", "outcome"], capsys)
        assert "target column 'outcome' is not in" in err
        assert "did you mean 'Outcome'?" in err
        assert f"Its {len(columns)} columns are: " + ", ".join(columns) in err  # all of them
    err = _error(["clean", path, "--target", "label"], capsys)
    assert "did you mean" not in err and "Its 25 columns are:" in err


def test_value_and_query_take_the_column_options(tmp_path, people_csv, capsys):
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline

    from skinfluence import ShapleyValuator

    out = tmp_path / "values.csv"
    argv = ["value", people_csv, "--target", "label", "--method", "knn", "--drop", "name"]
    stdout, _ = _run([*argv, "--out", out], capsys)
    assert "'ID' looks like a row id" in stdout
    X, y, pre = _features(people_csv, FEATURES)
    valuator = ShapleyValuator(KNeighborsClassifier(), method="knn", budget=0, random_state=0)
    expected = make_pipeline(pre, valuator).fit(X, y)[-1].values_
    np.testing.assert_allclose(pd.read_csv(out)["value"], expected, equal_nan=True)

    df = pd.read_csv(people_csv)
    df.loc[df.index % 4 == 0, "label"] = None
    pool = tmp_path / "pool.csv"
    df.to_csv(pool, index=False)
    stdout, _ = _run(["query", pool, "--target", "label", "--n", "3", "--drop", "name"], capsys)
    assert "'seq' looks like a row id" in stdout
    picked = pd.read_csv(tmp_path / "pool.query.csv")
    assert list(picked.columns[3:]) == list(df.columns)  # every input column


# -- --verbose ---------------------------------------------------------------------------
def test_verbose_reports_every_long_step_on_stderr(tmp_path, people_csv, capsys):
    argv = ["clean", people_csv, "--target", "label", "--drop", "name", "--cv", "3"]
    argv += ["--report", tmp_path / "r.html", "--no-curve"]
    quiet_out, quiet_err = _run(argv, capsys)
    assert quiet_err == ""
    loud_out, loud_err = _run([*argv, "--verbose"], capsys)

    def timeless(text):
        return re.sub(r"in \d+\.\d+s", "in …s", text)

    # the results are the same; the progress goes to stderr
    assert timeless(loud_out) == timeless(quiet_out)
    lines = loud_err.splitlines()
    assert all(line.startswith(("skinfluence clean:", "[InfluenceTrimmer]")) for line in lines)
    assert any("scoring 160 rows with auto" in line and "done in" in line for line in lines)
    for k in (1, 2, 3):
        assert any(f"cross-validation fold {k}/3" in line and "done in" in line for line in lines)
    assert any("writing the report: done in" in line for line in lines)
    assert any(line.startswith("[InfluenceTrimmer] scored") for line in lines)

    argv = ["value", people_csv, "--target", "label", "--method", "banzhaf", "--max-iter", "4"]
    _, err = _run([*argv, "-v"], capsys)
    assert "valuing 160 rows with banzhaf: done in" in err and "banzhaf values" in err
    df = pd.read_csv(people_csv)
    df.loc[df.index % 4 == 0, "label"] = None
    pool = tmp_path / "pool.csv"
    df.to_csv(pool, index=False)
    _, err = _run(["query", pool, "--target", "label", "--n", "2", "-v"], capsys)
    assert "scoring 40 pool rows with fi: done in" in err


# -- --method against --model ------------------------------------------------------------
def test_method_choices_follow_the_model(people_csv, capsys):
    from skinfluence.cli._models import model_methods
    from skinfluence.influence import MEASURES

    linear = model_methods("logistic")
    assert linear[0] == "auto" and "loo_confidence" in linear and "fi" in linear
    # the checkpoint methods need a net recorded during training: no CLI model has one;
    # the tree methods need a tree ensemble
    assert "tracin" not in linear and "self_tracin" not in linear
    assert set(linear) - {"auto"} == {
        m for m, measure in MEASURES.items() if not {"checkpoints", "trees"} & set(measure.needs)
    }
    # no adapter: the model-agnostic methods only, auto picks oof_confidence among them
    agnostic = ("auto", "oof_confidence", "random", "data_oob")
    assert model_methods("knn") == model_methods("svc") == agnostic
    # tree ensembles: their own measures and the model-agnostic ones, no Hessian methods
    boosted = set(model_methods("hgb"))
    assert {"leaf_loo", "boostin", "boostin_self", "leaf_refit", "oof_confidence"} <= boosted
    assert not {"fi", "if", "self", "gif", "oob", "loo_confidence"} & boosted
    forest = set(model_methods("rf"))
    assert {"leaf_loo", "oob", "data_oob"} <= forest and not {"boostin", "if"} & forest
    assert model_methods("lightgbm") == model_methods("xgboost") == model_methods("hgb")

    err = _error(["clean", people_csv, "--target", "label", "--method", "tracin"], capsys)
    assert "--method tracin does not run on --model logistic (LogisticRegression)" in err
    assert "it needs gradients, checkpoints" in err and "choose from auto, fi, if" in err
    err = _error(
        ["clean", people_csv, "--target", "income", "--model", "ridge", "--method", "self_tracin"],
        capsys,
    )
    assert "does not run on --model ridge (Ridge)" in err
    err = _error(
        ["clean", people_csv, "--target", "label", "--model", "hgb", "--method", "if"], capsys
    )
    assert "--method if does not run on --model hgb (HistGradientBoostingClassifier)" in err
    assert "it needs gradients, hvp" in err and "leaf_loo" in err  # the solver's need
    err = _error(
        ["clean", people_csv, "--target", "label", "--model", "knn", "--method", "fi"], capsys
    )
    assert "choose from auto, oof_confidence, random, data_oob." in err


@pytest.mark.parametrize("name", ["logistic", "ridge", "knn", "hgb", "rf", "lightgbm", "xgboost"])
def test_listed_methods_run_on_the_model_and_the_others_are_refused(name):
    """What ``--method`` lists for a model is what the trimmer runs on it, no more."""
    import warnings

    from sklearn.datasets import make_classification, make_regression
    from threadpoolctl import threadpool_limits

    from skinfluence import InfluenceTrimmer
    from skinfluence.cli._models import _CLASSIFIERS, make_model, model_methods
    from skinfluence.exceptions import UnsupportedModelError
    from skinfluence.influence import MEASURES

    classification = name in _CLASSIFIERS
    if classification:
        X, y = make_classification(n_samples=60, n_features=3, n_redundant=0, random_state=0)
    else:
        X, y = make_regression(n_samples=60, n_features=3, noise=1.0, random_state=0)
    model = make_model(name, "classification" if classification else "regression", 0)
    small = {k: 5 for k in ("n_estimators", "max_iter") if k in model.get_params()}
    if name in ("hgb", "rf", "lightgbm", "xgboost"):
        model.set_params(**small)
    listed = model_methods(name)
    for method in ("auto", *MEASURES):
        trimmer = InfluenceTrimmer(model, method=method, budget=3, n_estimators=3, random_state=0)
        with warnings.catch_warnings(), threadpool_limits(1):
            warnings.simplefilter("ignore")
            if method in listed:
                assert len(trimmer.fit(X, y).trimmed_indices_) == 3, method
            else:
                with pytest.raises(UnsupportedModelError):
                    trimmer.fit(X, y)


# -- the verdict ---------------------------------------------------------------------------
def _cross_validated(pipe_for, X, y, folds):
    return np.array(
        [
            pipe_for().fit(X.iloc[train], y[train]).score(X.iloc[test], y[test])
            for train, test in folds.split(np.zeros(len(y)), y)
        ]
    )


def _mean_std(values) -> str:
    return f"{np.mean(values):.3f} ± {np.std(values, ddof=1):.3f}"


def test_verdict_equals_cross_validation_by_hand(tmp_path, people_csv, capsys):
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline

    report = tmp_path / "report.html"
    argv = ["clean", people_csv, "--target", "label", "--drop", "name", "--method", "fi"]
    stdout, _ = _run([*argv, "--validation", "0.25", "--budget", "10", "--report", report], capsys)
    verdict = stdout.strip().splitlines()[-1]

    X, y, pre = _features(people_csv, FEATURES)
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    untrimmed = _cross_validated(
        lambda: make_pipeline(clone(pre), LogisticRegression(max_iter=1000)), X, y, folds
    )
    trimmed = _cross_validated(
        lambda: _trimmer_pipeline(clone(pre), "fi", 10, validation=0.25), X, y, folds
    )
    random = _cross_validated(
        lambda: _trimmer_pipeline(clone(pre), "random", 10, validation=0.25), X, y, folds
    )
    assert verdict.startswith("verdict (5-fold cross-validated accuracy, mean ± std): ")
    assert f"untrimmed {_mean_std(untrimmed)}" in verdict
    assert f"fi at budget 10 {_mean_std(trimmed)}" in verdict
    assert f"random at budget 10 {_mean_std(random)}" in verdict
    assert verdict.endswith(".") and "Trimming" in verdict

    # the report holds the same numbers: the verdict at the top, each fold further down
    page = report.read_text()
    assert page.index('class="verdict') < page.index("<h2>")  # the first thing on the page
    top = page[page.index('class="verdict') : page.index("</div>")]
    assert "Held-out accuracy, 5-fold cross-validation" in top
    for values in (untrimmed, trimmed, random):
        assert f"<b>{_mean_std(values)}</b>" in top
    per_fold = next(t for t in _tables(page) if t[0] == ["fold", "untrimmed", "fi", "random"])
    got = np.array([[float(c) for c in row[1:]] for row in per_fold[1:]])
    np.testing.assert_allclose(got, np.column_stack([untrimmed, trimmed, random]), atol=5e-5)
    # the curve adds half and twice the budget; its table lists them
    curve = next(t for t in _tables(page) if t[0][0] == "budget")
    assert [row[0] for row in curve[1:]] == ["0 (untrimmed)", "5", "10 (chosen)", "20"]
    assert curve[3][1] == _mean_std(trimmed) and curve[3][2] == _mean_std(random)


def test_verdict_for_regression_and_without_it(tmp_path, people_csv, capsys):
    from sklearn.base import clone
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import KFold
    from sklearn.pipeline import make_pipeline

    argv = ["clean", people_csv, "--target", "income", "--drop", "name,label", "--cv", "4"]
    stdout, _ = _run([*argv, "--budget", "0.05", "--method", "if"], capsys)
    verdict = stdout.strip().splitlines()[-1]
    assert verdict.startswith("verdict (4-fold cross-validated R², mean ± std): ")
    X, y, pre = _features(people_csv, ["x1", "colour", "weight", "x2"], target="income")
    folds = KFold(4, shuffle=True, random_state=0)
    untrimmed = _cross_validated(lambda: make_pipeline(clone(pre), Ridge()), X, y, folds)
    trimmed = _cross_validated(
        lambda: _trimmer_pipeline(clone(pre), "if", 0.05, model=Ridge()), X, y, folds
    )
    assert f"untrimmed {_mean_std(untrimmed)}" in verdict
    assert f"if at budget 0.05 {_mean_std(trimmed)}" in verdict

    stdout, _ = _run([*argv[:-2], "--cv", "0"], capsys)
    assert stdout.strip().splitlines()[-1] == "no verdict (--cv 0)."
    stdout, _ = _run([*argv, "--budget", "0"], capsys)
    assert stdout.strip().splitlines()[-1] == "no verdict: nothing was flagged (budget 0)."
    err = _error([*argv[:-2], "--cv", "1"], capsys)
    assert "--cv must be 0 (no verdict) or a number of folds >= 2" in err
    # a budget the whole file allows but a fold's training part does not: no verdict
    stdout, _ = _run([*argv[:-2], "--cv", "2", "--budget", "100"], capsys)
    last = stdout.strip().splitlines()[-1]
    assert last.startswith("no verdict: fold 1 of the cross-validation failed (")


def test_verdict_headline_rules():
    from skinfluence.cli._verdict import Verdict

    def verdict(untrimmed, trimmed, random):
        return Verdict(
            metric="accuracy",
            method="fi",
            name="fi",
            budgets=[10],
            x=[10.0],
            chosen=0,
            untrimmed=np.asarray(untrimmed, dtype=float),
            trimmed=np.asarray(trimmed, dtype=float)[:, None],
            random=np.asarray(random, dtype=float)[:, None],
        )

    base = [0.80, 0.82, 0.78, 0.81, 0.79]
    up = verdict(base, np.add(base, [0.02, 0.03, 0.02, 0.025, 0.03]), base)
    assert up.change("untrimmed") == "up" and up.change("random") == "up"
    assert up.headline().startswith("Trimming helped; it did better than")
    noisy = verdict(base, np.add(base, [0.03, -0.02, 0.01, -0.03, 0.02]), base)
    assert noisy.change("untrimmed") == "same"
    assert noisy.headline() == (
        "Trimming made no clear difference, and it did about as well as dropping as many "
        "rows at random."
    )
    below = verdict(base, base, np.add(base, 0.02))
    assert below.change("random") == "down"
    assert "worse than dropping as many rows at random" in below.headline()


# -- the report ----------------------------------------------------------------------------
def test_report_counts_flagged_rows_and_plots(tmp_path, people_csv, capsys):
    df = pd.read_csv(people_csv)
    df.loc[::16, "label"] = None  # 10 rows without a target
    path = tmp_path / "partial.csv"
    df.to_csv(path, index=False)
    report, out = tmp_path / "r.html", tmp_path / "c.csv"
    argv = ["clean", path, "--target", "label", "--drop", "name", "--method", "if", "--cv", "2"]
    _run([*argv, "--validation", "0.2", "--budget", "6", "--report", report, "--out", out], capsys)
    page = report.read_text()
    tables = _tables(page)

    # counts: input = flagged + cleaned file; cleaned = kept + validation + no target
    counts = dict(row for row in tables[0] if len(row) == 2)
    n_cleaned = len(pd.read_csv(out))
    assert counts["input rows"] == f"{N_ROWS} = 6 flagged + {n_cleaned} in the cleaned file"
    kept = N_ROWS - 10 - 30 - 6  # 150 rows with a target, 30 held out, 6 flagged
    assert counts["rows in the cleaned file"] == (
        f"{n_cleaned} = {kept} scored and kept + 30 validation rows (kept, not scored) + "
        "10 rows without a target (kept, not scored)"
    )
    assert n_cleaned == kept + 30 + 10
    assert "name (--drop)" in counts["columns not used as features"]
    assert "ID (named like an id)" in counts["columns not used as features"]

    # flagged rows: label first, the cleaned model's probability of it, cells rounded
    flagged = next(t for t in tables if t[0][:2] == ["rank", "row"])
    header = flagged[0]
    assert header[:5] == ["rank", "row", "label (label)", "P(label)", "score"]
    assert header[5:] == [c for c in df.columns if c != "label"]  # every other input column
    X, y, pre = _features(path, FEATURES)
    labeled = np.flatnonzero(df["label"].notna().to_numpy())
    codes = np.unique(df["label"].dropna().astype(str), return_inverse=True)[1]
    pipe = _trimmer_pipeline(pre, "if", 6, validation=0.2).fit(X.iloc[labeled], codes)
    rows = labeled[pipe[-1].trimmed_indices_]
    proba = pipe.predict_proba(X.iloc[rows])
    for k, (cells, i) in enumerate(zip(flagged[1:], rows)):
        assert cells[:3] == [str(k + 1), str(i), df.at[i, "label"]]
        code = codes[pipe[-1].trimmed_indices_[k]]
        assert cells[3] == f"{proba[k, code]:.3f}"
        assert cells[4] == f"{pipe[-1].scores_[pipe[-1].trimmed_indices_[k]]:.3g}"
        x1 = cells[header.index("x1")]
        assert x1 == f"{df.at[i, 'x1']:.4g}"  # rounded; the files keep every digit
        assert cells[header.index("name")] == df.at[i, "name"]
    # the curve and the histogram, the curve marked at the chosen budget
    assert page.count('src="data:image/png;base64,') == 2
    assert "chosen budget" in page
    _run([*argv, "--budget", "6", "--report", report, "--no-curve"], capsys)
    assert report.read_text().count('src="data:image/png;base64,') == 1


def test_report_regression_shows_the_prediction(tmp_path, people_csv, capsys):
    report = tmp_path / "r.html"
    argv = ["clean", people_csv, "--target", "income", "--drop", "name,label", "--cv", "3"]
    _run([*argv, "--budget", "5", "--report", report], capsys)
    page = report.read_text()
    flagged = next(t for t in _tables(page) if t[0][:2] == ["rank", "row"])
    assert flagged[0][2:5] == ["target (income)", "predicted", "score"]
    assert "Held-out R², 3-fold cross-validation" in page
    assert re.search(r"Trimming (helped|hurt|made no clear difference)", page)

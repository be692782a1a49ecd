"""Displays render headlessly to PNG."""

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from skinfluence import ActiveLearningDisplay, InfluenceActiveLearner  # noqa: E402


def test_active_learning_display_renders(tmp_path, binary_200x5):
    import matplotlib.pyplot as plt

    X, y = binary_200x5
    y_partial = np.where(np.arange(200) < 20, y, -1)
    fig, ax = plt.subplots()
    for method in ("entropy", "random"):
        learner = InfluenceActiveLearner(
            method=method, batch_size=10, n_rounds=3, random_state=0
        ).fit(X[:150], y_partial[:150], y_oracle=y[:150], X_val=X[150:], y_val=y[150:])
        display = ActiveLearningDisplay.from_estimator(learner, ax=ax)
        np.testing.assert_array_equal(display.line_.get_xdata(), [20, 30, 40, 50])
        np.testing.assert_allclose(
            display.line_.get_ydata(), [h["score"] for h in learner.history_]
        )
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["entropy", "random"]
    path = tmp_path / "curve.png"
    display.figure_.savefig(path)
    assert path.stat().st_size > 1000
    plt.close("all")


def test_history_without_scores_is_refused():
    with pytest.raises(ValueError, match="X_val"):
        ActiveLearningDisplay.from_history([{"n_labeled": 5, "score": np.nan}])


# -- shared data --------------------------------------------------------------------
def _noisy_problem(n=240, n_features=4, seed=0, noise=0.15):
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=n,
        n_features=n_features,
        n_informative=2,
        n_redundant=0,
        class_sep=1.5,
        random_state=seed,
    )
    rng = np.random.default_rng(seed)
    y_noisy = y.copy()
    n_train = n * 2 // 3
    flip = rng.choice(n_train, size=int(noise * n_train), replace=False)
    y_noisy[flip] = 1 - y_noisy[flip]
    return X[:n_train], y_noisy[:n_train], X[n_train:], y[n_train:]


def _png(figure, path):
    figure.savefig(path)
    assert path.stat().st_size > 1000
    with open(path, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"


# -- TrimmingCurveDisplay ------------------------------------------------------------
def test_trimming_curve_equals_refits(tmp_path):
    import matplotlib.pyplot as plt
    from sklearn.base import clone
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skinfluence import InfluenceTrimmer, TrimmingCurveDisplay

    X, y, X_test, y_test = _noisy_problem()
    X_before = X.copy()
    pipe = make_pipeline(StandardScaler(), InfluenceTrimmer(random_state=123))
    budgets = [0, 10, 0.1]
    display = TrimmingCurveDisplay.from_estimator(
        pipe, X, y, X_test, y_test, budgets=budgets, methods=["fi", "random"], n_repeats=3
    )
    np.testing.assert_array_equal(X, X_before)
    assert display.scores["fi"].shape == (1, 3) and display.scores["random"].shape == (3, 3)
    for method, repeats in (("fi", 1), ("random", 3)):
        for r in range(repeats):
            for j, budget in enumerate(budgets):
                model = clone(pipe).set_params(
                    influencetrimmer__method=method,
                    influencetrimmer__budget=budget,
                    influencetrimmer__random_state=r,  # the display's seed 0 + r
                )
                expected = model.fit(X, y).score(X_test, y_test)
                assert display.scores[method][r, j] == pytest.approx(expected)
    # budget 0 removes nothing: every curve starts at the untrimmed score
    assert np.ptp(display.scores["random"][:, 0]) == 0
    np.testing.assert_allclose(display.lines_["fi"].get_ydata(), display.scores["fi"][0])
    np.testing.assert_allclose(
        display.lines_["random"].get_ydata(), display.scores["random"].mean(axis=0)
    )
    assert set(display.bands_) == {"random"}
    band_y = display.bands_["random"].get_paths()[0].vertices[:, 1]
    assert band_y.min() == pytest.approx(display.scores["random"].min())
    assert band_y.max() == pytest.approx(display.scores["random"].max())
    assert display.ax_.get_xlabel() == "budget (share of the scored rows removed)"
    _png(display.figure_, tmp_path / "trim.png")
    plt.close("all")


def test_trimming_curve_bad_input():
    from sklearn.linear_model import LogisticRegression

    from skinfluence import InfluenceTrimmer, TrimmingCurveDisplay

    X, y, X_test, y_test = _noisy_problem(n=60)
    with pytest.raises(TypeError, match="InfluenceTrimmer"):
        TrimmingCurveDisplay.from_estimator(LogisticRegression(), X, y, X_test, y_test)
    with pytest.raises(ValueError, match="n_repeats"):
        TrimmingCurveDisplay.from_estimator(InfluenceTrimmer(), X, y, X_test, y_test, n_repeats=0)
    with pytest.raises(TypeError, match="random_state must be an int"):
        TrimmingCurveDisplay.from_estimator(
            InfluenceTrimmer(), X, y, X_test, y_test, random_state=None
        )
    with pytest.raises(ValueError, match="one per budget"):
        TrimmingCurveDisplay([0, 1], {"fi": [0.5, 0.6, 0.7]})


def test_trimming_curve_is_what_the_display_draws():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skinfluence import InfluenceTrimmer, TrimmingCurveDisplay, trimming_curve

    X, y, X_test, y_test = _noisy_problem(n=120)
    pipe = make_pipeline(StandardScaler(), InfluenceTrimmer())
    options = dict(budgets=[0, 5, 0.1], methods=["if", "random"], n_repeats=2, random_state=3)
    scores = trimming_curve(pipe, X, y, X_test, y_test, **options)
    assert list(scores) == ["if", "random"]
    assert scores["if"].shape == (1, 3) and scores["random"].shape == (2, 3)
    assert np.isfinite(scores["random"]).all()
    display = TrimmingCurveDisplay.from_estimator(pipe, X, y, X_test, y_test, **options)
    assert list(display.scores) == list(scores)
    for method, values in scores.items():
        np.testing.assert_array_equal(display.scores[method], values)
    assert display.budgets == [0, 5, 0.1]
    # a scorer name reaches every refit; the function names itself in its errors
    accuracy = trimming_curve(pipe, X, y, X_test, y_test, scoring="accuracy", **options)
    for method, values in scores.items():
        np.testing.assert_array_equal(accuracy[method], values)  # score() is accuracy
    with pytest.raises(TypeError, match="trimming_curve needs an InfluenceTrimmer"):
        trimming_curve(StandardScaler(), X, y, X_test, y_test)
    with pytest.raises(TypeError, match="TrimmingCurveDisplay needs an InfluenceTrimmer"):
        TrimmingCurveDisplay.from_estimator(StandardScaler(), X, y, X_test, y_test)
    with pytest.raises(ValueError, match="at least one budget"):
        trimming_curve(pipe, X, y, X_test, y_test, budgets=[])
    matplotlib.pyplot.close("all")


# -- InfluenceScatterDisplay ---------------------------------------------------------
def test_influence_scatter_marks_removed_rows_and_draws_boundaries(tmp_path):
    import matplotlib.pyplot as plt
    from sklearn.linear_model import LogisticRegression

    from skinfluence import InfluenceScatterDisplay, InfluenceTrimmer

    X, y, _, _ = _noisy_problem(n_features=2)
    fi = InfluenceTrimmer(method="fi", budget=8, random_state=0).fit(X, y)
    iv = InfluenceTrimmer(method="if", budget=8, random_state=0).fit(X, y)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    display = InfluenceScatterDisplay.from_estimator(
        fi, X, y, others={"IV": iv}, grid_resolution=50, ax=axes[0]
    )
    assert list(display.contours_) == ["before", "after", "IV"]
    np.testing.assert_allclose(display.removed_.get_offsets(), X[fi.trimmed_indices_])
    np.testing.assert_array_equal(display.scores, fi.scores_)
    # boundaries: predictions on the grid of the untrimmed model and of the trimmers
    grid = np.c_[display.grid[0].ravel(), display.grid[1].ravel()]
    full = LogisticRegression().fit(X, y)
    for name, model in (("before", full), ("after", fi), ("IV", iv)):
        np.testing.assert_array_equal(
            display.boundaries[name].ravel(), model.predict(grid).astype(float)
        )
    assert (display.boundaries["before"] != display.boundaries["after"]).any()
    # the highest-scored row is drawn largest, validation rows are not in the scatter
    scattered = sum(len(c.get_offsets()) for c in display.scatter_.values())
    assert scattered == np.isfinite(fi.scores_).sum()
    for cls, coll in display.scatter_.items():
        rows = np.flatnonzero((y == cls) & np.isfinite(fi.scores_))
        sizes = coll.get_sizes()
        assert np.argmax(sizes) == np.argmax(fi.scores_[rows])
        # default colour: the score's percentile among the scored rows
        scored = fi.scores_[np.isfinite(fi.scores_)]
        expected = [100 * np.mean(scored < s) / (1 - 1 / len(scored)) for s in fi.scores_[rows]]
        np.testing.assert_allclose(coll.get_array(), expected)
    linear = InfluenceScatterDisplay.from_estimator(iv, X, y, grid_resolution=50, ax=axes[1]).plot(
        ax=axes[1], scale="linear"
    )
    for cls, coll in linear.scatter_.items():
        rows = np.flatnonzero((y == cls) & np.isfinite(iv.scores_))
        np.testing.assert_allclose(coll.get_array(), iv.scores_[rows])
    _png(fig, tmp_path / "scatter.png")
    plt.close("all")


def test_influence_scatter_bad_input():
    from sklearn.exceptions import NotFittedError
    from sklearn.linear_model import LogisticRegression

    from skinfluence import InfluenceScatterDisplay, InfluenceTrimmer

    X, y, _, _ = _noisy_problem(n=90, n_features=3)
    trimmer = InfluenceTrimmer(budget=3, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="exactly 2 feature columns"):
        InfluenceScatterDisplay.from_estimator(trimmer, X, y)
    with pytest.raises(ValueError, match="exactly 2 feature columns"):
        InfluenceScatterDisplay(X[:, 0], y, np.zeros(len(y)), [])
    with pytest.raises(NotFittedError):
        InfluenceScatterDisplay.from_estimator(InfluenceTrimmer(), X[:, :2], y)
    with pytest.raises(TypeError, match="InfluenceTrimmer or ShapleyValuator"):
        InfluenceScatterDisplay.from_estimator(LogisticRegression().fit(X[:, :2], y), X[:, :2], y)
    fitted2 = InfluenceTrimmer(budget=3, random_state=0).fit(X[:, :2], y)
    with pytest.raises(ValueError, match="fitted on"):
        InfluenceScatterDisplay.from_estimator(fitted2, X[:30, :2], y[:30])


# -- ValuationCurveDisplay -----------------------------------------------------------
def test_valuation_curve_equals_refits(tmp_path):
    import matplotlib.pyplot as plt
    from sklearn.linear_model import LogisticRegression

    from skinfluence import ShapleyValuator, ValuationCurveDisplay

    X, y, X_test, y_test = _noisy_problem(n=150)
    valuator = ShapleyValuator(method="loo", budget=0, random_state=0).fit(X, y)
    fractions = [0, 0.1, 0.25]
    display = ValuationCurveDisplay.from_estimator(
        valuator, X, y, X_test, y_test, fractions=fractions
    )
    values = valuator.values_
    valued = np.flatnonzero(np.isfinite(values))
    by_value = valued[np.argsort(-values[valued], kind="stable")]
    for curve, order in ((display.high_first, by_value), (display.low_first, by_value[::-1])):
        for j, f in enumerate(fractions):
            removed = order[: int(f * len(valued))]
            keep = np.setdiff1d(np.arange(len(y)), removed)
            expected = LogisticRegression().fit(X[keep], y[keep]).score(X_test, y_test)
            assert curve[j] == pytest.approx(expected)
    assert display.high_first[0] == display.low_first[0]
    np.testing.assert_allclose(display.lines_["low_first"].get_ydata(), display.low_first)
    _png(display.figure_, tmp_path / "valuation.png")
    plt.close("all")


def test_valuation_curve_from_any_values_and_errors():
    import matplotlib.pyplot as plt
    from sklearn.exceptions import NotFittedError
    from sklearn.linear_model import LogisticRegression

    from skinfluence import InfluenceTrimmer, ShapleyValuator, ValuationCurveDisplay

    X, y, X_test, y_test = _noisy_problem(n=120)
    trimmer = InfluenceTrimmer(method="if", budget=0, random_state=0).fit(X, y)
    display = ValuationCurveDisplay.from_values(
        LogisticRegression(), -trimmer.scores_, X, y, X_test, y_test, fractions=[0, 0.2]
    )
    assert np.isfinite(display.high_first).all()
    with pytest.raises(NotFittedError):
        ValuationCurveDisplay.from_estimator(ShapleyValuator(), X, y, X_test, y_test)
    with pytest.raises(TypeError, match="from_values"):
        ValuationCurveDisplay.from_estimator(trimmer, X, y, X_test, y_test)
    with pytest.raises(ValueError, match="one entry per row"):
        ValuationCurveDisplay.from_values(LogisticRegression(), [1.0], X, y, X_test, y_test)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        ValuationCurveDisplay.from_values(
            LogisticRegression(), -trimmer.scores_, X, y, X_test, y_test, fractions=[1.0]
        )
    plt.close("all")


def test_valuation_curve_is_what_the_display_draws():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skinfluence import ShapleyValuator, ValuationCurveDisplay, valuation_curve

    X, y, X_test, y_test = _noisy_problem(n=150)
    fractions = [0, 0.1, 0.25]
    valuator = ShapleyValuator(method="loo", budget=0, random_state=0).fit(X, y)
    high_first, low_first = valuation_curve(
        LogisticRegression(), valuator.values_, X, y, X_test, y_test, fractions=fractions
    )
    assert high_first.shape == low_first.shape == (3,)
    assert high_first[0] == low_first[0]
    display = ValuationCurveDisplay.from_estimator(
        valuator, X, y, X_test, y_test, fractions=fractions
    )
    np.testing.assert_array_equal(display.high_first, high_first)
    np.testing.assert_array_equal(display.low_first, low_first)
    np.testing.assert_array_equal(display.fractions, fractions)
    # a pipeline ending in the valuator is refitted whole
    pipe = make_pipeline(StandardScaler(), ShapleyValuator(method="loo", budget=0)).fit(X, y)
    high_first, low_first = valuation_curve(
        make_pipeline(StandardScaler(), LogisticRegression()),
        pipe[-1].values_,
        X,
        y,
        X_test,
        y_test,
        fractions=fractions,
    )
    display = ValuationCurveDisplay.from_estimator(pipe, X, y, X_test, y_test, fractions=fractions)
    np.testing.assert_array_equal(display.high_first, high_first)
    np.testing.assert_array_equal(display.low_first, low_first)
    with pytest.raises(ValueError, match="no finite entry"):
        valuation_curve(LogisticRegression(), np.full(len(y), np.nan), X, y, X_test, y_test)
    matplotlib.pyplot.close("all")


def test_curves_run_without_matplotlib():
    """The experiments are plain functions: they never import matplotlib."""
    import subprocess
    import sys

    code = """
import sys
sys.modules["matplotlib"] = None
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from skinfluence import InfluenceTrimmer, trimming_curve, valuation_curve
X, y = make_classification(n_samples=80, random_state=0)
scores = trimming_curve(
    InfluenceTrimmer(), X[:60], y[:60], X[60:], y[60:], budgets=[0, 3], methods=["if"]
)
assert scores["if"].shape == (1, 2)
high, low = valuation_curve(
    LogisticRegression(), -X[:60, 0], X[:60], y[:60], X[60:], y[60:], fractions=[0, 0.1]
)
assert high.shape == low.shape == (2,)
"""
    subprocess.run([sys.executable, "-c", code], check=True)

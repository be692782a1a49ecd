"""InfluenceTrimmer strategies: trim, relabel, reweight change the data as documented."""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import softmax
from sklearn.datasets import load_breast_cancer, make_classification
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skinfluence import InfluenceTrimmer
from skinfluence._reweight import ess_temperature


@pytest.fixture
def noisy(binary_300x6):
    """``binary_300x6`` with the first 20 labels flipped."""
    X, y = binary_300x6
    y = y.copy()
    y[:20] = 1 - y[:20]
    return X, y


def _split(trim):
    scored = np.flatnonzero(~np.isnan(trim.scores_))
    return scored, np.flatnonzero(np.isnan(trim.scores_))


def test_trim_drops_the_flagged_rows(noisy):
    X, y = noisy
    trim = InfluenceTrimmer(method="if", strategy="trim", budget=15, random_state=0).fit(X, y)
    assert np.array_equal(np.setdiff1d(np.arange(300), trim.trimmed_indices_), trim.sample_indices_)
    ref = LogisticRegression().fit(X[trim.sample_indices_], y[trim.sample_indices_])
    np.testing.assert_allclose(trim.estimator_.coef_, ref.coef_)
    Xr, yr = trim.fit_resample(X, y)
    np.testing.assert_array_equal(Xr, X[trim.sample_indices_])
    np.testing.assert_array_equal(yr, y[trim.sample_indices_])
    assert not hasattr(trim, "new_labels_") and not hasattr(trim, "sample_weight_")


def test_relabel_flips_binary_labels_and_refits_on_every_row(noisy):
    X, y = noisy
    y_before = y.copy()
    trim = InfluenceTrimmer(method="if", strategy="relabel", budget=15, random_state=0)
    trim.fit(X, y)
    flagged = trim.trimmed_indices_
    assert len(flagged) == 15 and not np.isnan(trim.scores_[flagged]).any()
    np.testing.assert_array_equal(trim.new_labels_, 1 - y[flagged])
    np.testing.assert_array_equal(trim.sample_indices_, np.arange(300))
    y_new = y.copy()
    y_new[flagged] = 1 - y_new[flagged]
    ref = LogisticRegression().fit(X, y_new)
    np.testing.assert_allclose(trim.estimator_.coef_, ref.coef_)
    Xr, yr = trim.fit_resample(X, y)
    np.testing.assert_array_equal(Xr, X)
    np.testing.assert_array_equal(yr, y_new)
    np.testing.assert_array_equal(y, y_before)  # the caller's labels are untouched
    # the same rows as trimming would flag
    trimmed = InfluenceTrimmer(method="if", budget=15, random_state=0).fit(X, y)
    np.testing.assert_array_equal(trimmed.trimmed_indices_, flagged)


def test_relabel_repairs_flipped_labels():
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(y))
    val, train = order[:100], order[100:]
    flipped = rng.choice(len(train), 40, replace=False)
    y_noisy = y[train].copy()
    y_noisy[flipped] = 1 - y_noisy[flipped]
    wrong = {}
    for method in ("if", "random"):
        trim = InfluenceTrimmer(method=method, strategy="relabel", budget=40, random_state=0)
        _, y_new = trim.fit_resample(X[train], y_noisy, X_val=X[val], y_val=y[val])
        wrong[method] = int((y_new != y[train]).sum())
    assert wrong["if"] < 25  # from 40 wrong labels (measured: 18)
    assert wrong["random"] > 60  # flipping random rows adds errors (measured: 72)


def test_relabel_keeps_pandas_and_string_labels(noisy):
    X, y = noisy
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)], index=np.arange(300) + 1000)
    ys = pd.Series(np.where(y == 1, "yes", "no"), index=df.index, name="target")
    ys_before = ys.copy()
    trim = InfluenceTrimmer(method="if", strategy="relabel", budget=10, random_state=0)
    Xr, yr = trim.fit_resample(df, ys)
    assert isinstance(Xr, pd.DataFrame) and isinstance(yr, pd.Series)
    assert list(yr.index) == list(df.index)
    flagged = trim.trimmed_indices_
    expected = ys.copy()
    expected.iloc[flagged] = np.where(ys.iloc[flagged] == "yes", "no", "yes")
    pd.testing.assert_series_equal(yr, expected)
    pd.testing.assert_series_equal(ys, ys_before)
    assert set(trim.new_labels_) <= {"yes", "no"}
    np.testing.assert_array_equal(trim.estimator_.feature_names_in_, df.columns)


@pytest.mark.parametrize("method", ["if", "random"])
def test_relabel_multiclass_takes_the_likeliest_other_class(method):
    X, y = make_classification(
        n_samples=300, n_features=6, n_informative=4, n_classes=3, random_state=1
    )
    X = StandardScaler().fit_transform(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # singular multinomial Hessian (pseudo-inverse)
        trim = InfluenceTrimmer(method=method, strategy="relabel", budget=12, random_state=0)
        trim.fit(X, y)
    scored, _ = _split(trim)
    model = LogisticRegression().fit(X[scored], y[scored])
    proba = model.predict_proba(X[trim.trimmed_indices_])
    proba[np.arange(12), y[trim.trimmed_indices_]] = -1.0
    np.testing.assert_array_equal(trim.new_labels_, np.argmax(proba, axis=1))
    assert not np.any(trim.new_labels_ == y[trim.trimmed_indices_])
    y_new = y.copy()
    y_new[trim.trimmed_indices_] = trim.new_labels_
    np.testing.assert_allclose(trim.estimator_.coef_, LogisticRegression().fit(X, y_new).coef_)


def _kish(w):
    return w.sum() ** 2 / (w**2).sum()


def test_reweight_uses_softmax_weights(noisy):
    X, y = noisy
    trim = InfluenceTrimmer(method="if", strategy="reweight", budget=15, random_state=0)
    trim.fit(X, y)
    scored, held_out = _split(trim)
    s = trim.scores_[scored]
    expected = len(scored) * softmax(-s / trim.temperature_)
    np.testing.assert_allclose(trim.sample_weight_[scored], expected, rtol=1e-12)
    # "auto": the weights discount as much data as trimming 15 rows drops
    assert _kish(trim.sample_weight_[scored]) == pytest.approx(len(scored) - 15, rel=1e-9)
    np.testing.assert_array_equal(trim.sample_weight_[held_out], 1.0)
    assert trim.sample_weight_[scored].mean() == pytest.approx(1.0)
    top = scored[np.argmax(s)]
    assert trim.sample_weight_[top] == trim.sample_weight_.min()
    ref = LogisticRegression().fit(X, y, sample_weight=trim.sample_weight_)
    np.testing.assert_allclose(trim.estimator_.coef_, ref.coef_)
    np.testing.assert_array_equal(trim.sample_indices_, np.arange(300))
    # fit_resample returns every row unchanged (the weights are in sample_weight_)
    Xr, yr = trim.fit_resample(X, y)
    np.testing.assert_array_equal(Xr, X)
    np.testing.assert_array_equal(yr, y)


def test_reweight_auto_temperature_follows_the_budget(noisy):
    """A larger budget discounts more: lower effective size, lower temperature."""
    X, y = noisy
    sizes, temperatures = [], []
    for budget in (0, 5, 30, 120):
        trim = InfluenceTrimmer(method="if", strategy="reweight", budget=budget, random_state=0)
        trim.fit(X, y)
        scored, _ = _split(trim)
        w = trim.sample_weight_[scored]
        assert _kish(w) == pytest.approx(len(scored) - budget, rel=1e-9)
        sizes.append(_kish(w))
        temperatures.append(trim.temperature_)
    assert temperatures[0] == np.inf  # budget 0: equal weights
    assert np.all(np.diff(sizes) < 0) and np.all(np.diff(temperatures) < 0)
    # the rule does not depend on the scores' scale
    s = trim.scores_[scored]
    t = ess_temperature(s, len(s) - 120)
    assert ess_temperature(1e-6 * s, len(s) - 120) == pytest.approx(1e-6 * t, rel=1e-9)


def test_reweight_temperature(noisy):
    X, y = noisy
    literal = InfluenceTrimmer(method="fi", strategy="reweight", temperature=1.0, random_state=0)
    literal.fit(X, y)
    scored, _ = _split(literal)
    s = literal.scores_[scored]
    np.testing.assert_allclose(literal.sample_weight_[scored], len(s) * softmax(-s), rtol=1e-12)
    hot = InfluenceTrimmer(method="fi", strategy="reweight", temperature=1e6, random_state=0)
    np.testing.assert_allclose(hot.fit(X, y).sample_weight_, 1.0, rtol=1e-4)


def test_reweight_needs_sample_weight(noisy):
    X, y = noisy
    with pytest.raises(ValueError, match="takes no sample_weight"):
        InfluenceTrimmer(KNeighborsClassifier(), strategy="reweight").fit(X, y)


def test_relabel_needs_a_classifier(noisy):
    X, _ = noisy
    with pytest.raises(ValueError, match="needs a classifier"):
        InfluenceTrimmer(Ridge(), strategy="relabel").fit(X, X[:, 0])
    with pytest.raises(ValueError, match="strategy"):
        InfluenceTrimmer(strategy="drop").fit(X, X[:, 0] > 0)
    with pytest.raises(ValueError, match="temperature"):
        InfluenceTrimmer(strategy="reweight", temperature=0.0).fit(X, X[:, 0] > 0)


def test_reweight_for_a_regressor(noisy):
    X, _ = noisy
    target = X @ np.arange(6.0) + np.random.default_rng(0).normal(size=300)
    trim = InfluenceTrimmer(Ridge(), method="if", strategy="reweight", random_state=0)
    trim.fit(X, target)
    ref = Ridge().fit(X, target, sample_weight=trim.sample_weight_)
    np.testing.assert_allclose(trim.estimator_.coef_, ref.coef_)


def test_grid_search_over_strategy_and_budget(noisy):
    X, y = noisy
    pipe = make_pipeline(StandardScaler(), InfluenceTrimmer(method="if", random_state=0))
    grid = GridSearchCV(
        pipe,
        {
            "influencetrimmer__strategy": ["trim", "relabel", "reweight"],
            "influencetrimmer__budget": [0, 10],
        },
        cv=3,
        error_score="raise",
    ).fit(X, y)
    assert len(grid.cv_results_["params"]) == 6
    assert np.isfinite(grid.cv_results_["mean_test_score"]).all()
    best = grid.best_estimator_[-1]
    assert best.strategy == grid.best_params_["influencetrimmer__strategy"]
    assert len(best.trimmed_indices_) == grid.best_params_["influencetrimmer__budget"]
    # budget 0 with relabel is the plain fit
    zero = InfluenceTrimmer(method="if", strategy="relabel", budget=0).fit(X, y)
    np.testing.assert_allclose(zero.estimator_.coef_, LogisticRegression().fit(X, y).coef_)


def test_imblearn_pipeline_sees_the_relabeled_rows(noisy):
    from imblearn.pipeline import make_pipeline as imb_pipeline

    X, y = noisy
    pipe = imb_pipeline(
        InfluenceTrimmer(method="if", strategy="relabel", budget=15, random_state=0),
        LogisticRegression(C=0.5),
    ).fit(X, y)
    trim = pipe[0]
    y_new = y.copy()
    y_new[trim.trimmed_indices_] = trim.new_labels_
    ref = LogisticRegression(C=0.5).fit(X, y_new)
    np.testing.assert_allclose(pipe[-1].coef_, ref.coef_)

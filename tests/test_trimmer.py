"""InfluenceTrimmer: fitted attributes, composition and bad input (the scikit-learn
checks are in ``test_estimator_checks.py``)."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn import config_context
from sklearn.datasets import load_breast_cancer, make_classification, make_regression
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from skinfluence import InfluenceTrimmer, UnsupportedModelError, influence_scores


def test_fitted_attributes(binary_300x6):
    X, y = binary_300x6
    trim = InfluenceTrimmer(
        LogisticRegression(), method="fi", budget=15, validation=0.2, random_state=0
    ).fit(X, y)
    assert trim.scores_.shape == (300,)
    held_out = np.isnan(trim.scores_)
    assert held_out.sum() == 60  # validation=0.2 of the rows
    assert len(trim.trimmed_indices_) == 15
    assert not np.any(held_out[trim.trimmed_indices_])
    # most harmful first, and no kept training row scores higher than a trimmed one
    s = trim.scores_[trim.trimmed_indices_]
    assert np.all(np.diff(s) <= 0)
    kept_train = np.setdiff1d(np.flatnonzero(~held_out), trim.trimmed_indices_)
    assert trim.scores_[kept_train].max() <= s.min()
    assert np.array_equal(
        np.sort(np.r_[trim.sample_indices_, trim.trimmed_indices_]), np.arange(300)
    )
    # the refit used exactly the kept rows
    ref = LogisticRegression().fit(X[trim.sample_indices_], y[trim.sample_indices_])
    np.testing.assert_allclose(trim.estimator_.coef_, ref.coef_)
    np.testing.assert_array_equal(trim.predict(X), ref.predict(X))
    np.testing.assert_allclose(trim.predict_proba(X), ref.predict_proba(X))
    np.testing.assert_allclose(trim.decision_function(X), ref.decision_function(X))
    assert trim.score(X, y) == ref.score(X, y)
    np.testing.assert_array_equal(trim.classes_, [0, 1])


def test_scores_equal_the_functional_api(binary_300x6):
    X, y = binary_300x6
    Xtr, ytr, Xv, yv = X[:200], y[:200], X[200:], y[200:]
    for method in ("fi", "if"):
        trim = InfluenceTrimmer(LogisticRegression(), method=method, budget=5)
        trim.fit(Xtr, ytr, X_val=Xv, y_val=yv)
        model = LogisticRegression().fit(Xtr, ytr)
        np.testing.assert_allclose(
            trim.scores_, influence_scores(model, Xtr, ytr, Xv, yv, method=method)
        )


def test_budget_forms(binary_300x6):
    X, y = binary_300x6
    held_out = InfluenceTrimmer(method="fi", budget=0.1, validation=0.2).fit(X, y)
    assert len(held_out.trimmed_indices_) == 24  # 10 % of 240
    assert len(InfluenceTrimmer(budget=7).fit(X, y).trimmed_indices_) == 7
    none = InfluenceTrimmer(budget=0).fit(X, y)
    assert len(none.trimmed_indices_) == 0 and len(none.sample_indices_) == 300
    np.testing.assert_allclose(none.estimator_.coef_, LogisticRegression().fit(X, y).coef_)


def test_finds_flipped_labels_better_than_random():
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    found = {"fi": 0, "if": 0, "random": 0}
    for seed in range(3):
        flipped = np.random.default_rng(seed).choice(len(y), 50, replace=False)
        y_noisy = y.copy()
        y_noisy[flipped] = 1 - y_noisy[flipped]
        for method in found:
            trim = InfluenceTrimmer(method=method, budget=50, random_state=0).fit(X, y_noisy)
            found[method] += np.isin(trim.trimmed_indices_, flipped).sum()
    assert found["fi"] > 2 * found["random"]
    assert found["if"] > 2 * found["random"]


def test_regressor_inner_estimator():
    X, y = make_regression(n_samples=300, n_features=5, noise=5.0, random_state=0)
    Xv, yv, X, y = X[200:], y[200:], X[:200], y[:200].copy()
    y[:10] += 300.0  # gross outliers in the training rows only
    baseline = Ridge(alpha=1.0).fit(X, y).score(Xv, yv)
    for method, at_least in (("if", 8), ("fi", 4)):
        trim = InfluenceTrimmer(Ridge(alpha=1.0), method=method, budget=10)
        trim.fit(X, y, X_val=Xv, y_val=yv)
        assert np.isin(trim.trimmed_indices_, np.arange(10)).sum() >= at_least
        assert trim.score(Xv, yv) > baseline


def test_grid_search_over_budget_and_inner_params(binary_300x6):
    X, y = binary_300x6
    pipe = make_pipeline(StandardScaler(), InfluenceTrimmer(LogisticRegression(), random_state=0))
    grid = GridSearchCV(
        pipe,
        {"influencetrimmer__budget": [0, 10, 30], "influencetrimmer__estimator__C": [0.1, 1.0]},
        cv=3,
    ).fit(X, y)
    assert set(grid.best_params_) == {"influencetrimmer__budget", "influencetrimmer__estimator__C"}
    assert np.isfinite(grid.cv_results_["mean_test_score"]).all()
    assert len(grid.cv_results_["params"]) == 6
    best = grid.best_estimator_[-1]
    assert len(best.trimmed_indices_) == grid.best_params_["influencetrimmer__budget"]
    assert best.estimator_.C == grid.best_params_["influencetrimmer__estimator__C"]


def test_metadata_routing_of_validation_set(binary_300x6):
    X, y = binary_300x6
    Xv, yv = X[250:], y[250:]
    with config_context(enable_metadata_routing=True):
        trim = InfluenceTrimmer(budget=5).set_fit_request(X_val=True, y_val=True)
        grid = GridSearchCV(trim, {"method": ["fi", "if"]}, cv=2)
        grid.fit(X[:250], y[:250], X_val=Xv, y_val=yv)
    # X_val was routed: every training row was scored
    assert not np.isnan(grid.best_estimator_.scores_).any()


def test_imblearn_pipeline_resamples():
    from imblearn.pipeline import make_pipeline as imb_pipeline

    X, y = make_classification(n_samples=200, n_features=5, random_state=1)
    pipe = imb_pipeline(
        StandardScaler(),
        InfluenceTrimmer(budget=20, random_state=0),
        RandomForestClassifier(n_estimators=10, random_state=0),
    ).fit(X, y)
    trimmer, forest = pipe[1], pipe[2]
    assert forest.n_features_in_ == 5
    assert len(trimmer.sample_indices_) == 180
    assert pipe.predict(X).shape == (200,)
    Xr, yr = InfluenceTrimmer(budget=20, random_state=0).fit_resample(X, y)
    assert Xr.shape == (180, 5) and yr.shape == (180,)


def test_pandas_keeps_feature_names(binary_300x6):
    X, y = binary_300x6
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    ys = pd.Series(y, name="target")
    trim = InfluenceTrimmer(budget=10, random_state=0).fit(df, ys)
    np.testing.assert_array_equal(trim.feature_names_in_, df.columns)
    np.testing.assert_array_equal(trim.estimator_.feature_names_in_, df.columns)
    Xr, yr = trim.fit_resample(df, ys)
    assert isinstance(Xr, pd.DataFrame) and list(Xr.index) == list(df.index[trim.sample_indices_])
    assert isinstance(yr, pd.Series)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        trim.predict(df)


def test_sparse_input(binary_300x6):
    X, y = binary_300x6
    dense = InfluenceTrimmer(budget=10, random_state=0).fit(X, y)
    sparse = InfluenceTrimmer(budget=10, random_state=0).fit(sp.csr_matrix(X), y)
    np.testing.assert_allclose(sparse.scores_, dense.scores_, rtol=1e-6)
    np.testing.assert_array_equal(sparse.trimmed_indices_, dense.trimmed_indices_)


def test_pickle_round_trip(binary_300x6):
    X, y = binary_300x6
    trim = InfluenceTrimmer(budget=10, random_state=0).fit(X, y)
    back = pickle.loads(pickle.dumps(trim))
    np.testing.assert_array_equal(back.predict(X), trim.predict(X))
    np.testing.assert_array_equal(back.trimmed_indices_, trim.trimmed_indices_)


def test_deterministic_under_random_state(binary_300x6):
    X, y = binary_300x6
    a = InfluenceTrimmer(method="random", budget=10, random_state=3).fit(X, y)
    b = InfluenceTrimmer(method="random", budget=10, random_state=3).fit(X, y)
    c = InfluenceTrimmer(method="random", budget=10, random_state=4).fit(X, y)
    np.testing.assert_array_equal(a.trimmed_indices_, b.trimmed_indices_)
    assert not np.array_equal(a.trimmed_indices_, c.trimmed_indices_)


def test_caller_arrays_are_never_modified(binary_300x6):
    X, y = binary_300x6
    Xv, yv = X[:50].copy(), y[:50].copy()
    inputs = [X.copy(), y.copy(), Xv, yv]
    df = pd.DataFrame(X)
    df_copy = df.copy()
    Xs = sp.csr_matrix(X)
    Xs_copy = Xs.copy()
    for method in ("fi", "if", "random"):
        InfluenceTrimmer(method=method, budget=5).fit(inputs[0], inputs[1], X_val=Xv, y_val=yv)
        InfluenceTrimmer(method=method, budget=5).fit_resample(df, inputs[1])
        InfluenceTrimmer(method=method, budget=5).fit(Xs, inputs[1])
    np.testing.assert_array_equal(inputs[0], X)
    np.testing.assert_array_equal(inputs[1], y)
    np.testing.assert_array_equal(Xv, X[:50])
    np.testing.assert_array_equal(yv, y[:50])
    pd.testing.assert_frame_equal(df, df_copy)
    assert (Xs != Xs_copy).nnz == 0


# -- bad input -------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_features(binary_300x6, bad):
    X, y = binary_300x6
    X = X.copy()
    X[3, 2] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        InfluenceTrimmer().fit(X, y)


def test_non_finite_validation_features(binary_300x6):
    X, y = binary_300x6
    Xv = X[:20].copy()
    Xv[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        InfluenceTrimmer().fit(X, y, X_val=Xv, y_val=y[:20])


def test_mismatched_lengths(binary_300x6):
    X, y = binary_300x6
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        InfluenceTrimmer().fit(X, y[:-1])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        InfluenceTrimmer().fit(X, y, X_val=X[:10], y_val=y[:9])


@pytest.mark.parametrize("budget, match", [(-1, "budget"), (240, r"\[0, 240\)"), (1.5, "budget")])
def test_bad_budget(binary_300x6, budget, match):
    X, y = binary_300x6
    with pytest.raises(ValueError, match=match):
        InfluenceTrimmer(method="fi", budget=budget, validation=0.2).fit(X, y)


def test_one_class(binary_300x6):
    X, _ = binary_300x6
    with pytest.raises(ValueError, match="class"):
        InfluenceTrimmer().fit(X, np.zeros(len(X), dtype=int))


@pytest.mark.parametrize("est", [SVC(), DecisionTreeClassifier(max_depth=3)])
def test_unsupported_estimator(binary_300x6, est):
    # a method that needs an adapter; method="auto" runs a model-agnostic one (test_oof.py)
    X, y = binary_300x6
    with pytest.raises(UnsupportedModelError, match="has no influence adapter"):
        InfluenceTrimmer(est, method="loo_confidence").fit(X, y)


def test_validation_set_with_wrong_features(binary_300x6):
    X, y = binary_300x6
    with pytest.raises(ValueError, match="X_val has 5 features, but the training X has 6"):
        InfluenceTrimmer().fit(X, y, X_val=X[:20, :5], y_val=y[:20])
    with pytest.raises(ValueError, match="both X_val and y_val"):
        InfluenceTrimmer().fit(X, y, X_val=X[:20])


def test_unknown_method(binary_300x6):
    X, y = binary_300x6
    with pytest.raises(ValueError, match="method"):
        InfluenceTrimmer(method="magic").fit(X, y)


def test_influence_scores_requires_fitted_estimator(binary_300x6):
    from sklearn.exceptions import NotFittedError

    X, y = binary_300x6
    with pytest.raises(NotFittedError):
        influence_scores(LogisticRegression(), X, y, X, y)


@pytest.mark.torch
def test_skorch_net_inside_the_trimmer():
    import torch
    from skorch import NeuralNetClassifier

    X, y = make_classification(n_samples=200, n_features=6, random_state=0)
    X = X.astype(np.float32)
    torch.manual_seed(0)
    net = NeuralNetClassifier(
        torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2)),
        criterion=torch.nn.CrossEntropyLoss,
        max_epochs=10,
        lr=0.1,
        train_split=None,
        verbose=0,
        optimizer__weight_decay=1e-2,
    )
    for method in ("fi", "if"):
        trim = InfluenceTrimmer(net, method=method, params="last", budget=10, random_state=0)
        trim.fit(X, y)
        assert np.isfinite(trim.scores_[~np.isnan(trim.scores_)]).all()
        assert len(trim.sample_indices_) == 190
        assert 0.5 < trim.score(X, y) <= 1.0

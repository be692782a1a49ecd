"""Label issues without a clean validation set: approximate leave-one-out, cross-fitting,
``budget="auto"`` (the confident joint)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler

from skinfluence import InfluenceTrimmer, influence_scores
from skinfluence.adapters import make_adapter
from skinfluence.curvature import ExactSolver
from skinfluence.influence import estimate_n_issues, label_quality, loo_outputs


def _flipped(n=240, n_classes=2, seed=0, flip=0.1):
    X, y = make_classification(
        n_samples=n,
        n_features=6,
        n_informative=4,
        n_redundant=0,
        n_classes=n_classes,
        n_clusters_per_class=1,
        random_state=seed,
    )
    X = StandardScaler().fit_transform(X)
    rng = np.random.default_rng(seed)
    flipped = rng.choice(n, int(flip * n), replace=False)
    y = y.copy()
    y[flipped] = (y[flipped] + rng.integers(1, n_classes, len(flipped))) % n_classes
    return X, y, flipped


def _loo_proba(model, X, y):
    ad = make_adapter(model, X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # multinomial: singular along the intercept sum
        solver = ExactSolver().fit(ad)
    return ad.output_proba(loo_outputs(ad, solver, X, ad.encode_y(y)))


def _exact_loo_proba(make, X, y):
    return np.array(
        [
            make().fit(np.delete(X, i, 0), np.delete(y, i)).predict_proba(X[i : i + 1])[0]
            for i in range(len(y))
        ]
    )


@pytest.mark.parametrize("n_classes", [2, 3])
def test_loo_probabilities_match_refits(n_classes):
    X, y, _ = _flipped(n=220, n_classes=n_classes)
    make = lambda: LogisticRegression(C=0.5)  # noqa: E731
    P = _loo_proba(make().fit(X, y), X, y)
    P_exact = _exact_loo_proba(make, X, y)
    assert np.abs(P - P_exact).max() < 1e-2
    own = np.arange(len(y)), y
    assert spearmanr(P[own], P_exact[own])[0] >= 0.99


@pytest.mark.parametrize("make", [lambda: Ridge(alpha=3.0), LinearRegression])
def test_least_squares_loo_is_exact(make):
    X, y = make_regression(n_samples=60, n_features=5, noise=5.0, random_state=0)
    ad = make_adapter(make().fit(X, y), X, y)
    mu = ad.output_proba(loo_outputs(ad, ExactSolver().fit(ad), X, y))
    exact = [
        make().fit(np.delete(X, i, 0), np.delete(y, i)).predict(X[i : i + 1])[0] for i in range(60)
    ]
    np.testing.assert_allclose(mu, exact, rtol=0, atol=1e-10 * np.abs(y).max())
    # the measure: |leave-one-out residual| over its root mean square
    scores = influence_scores(make().fit(X, y), X, y, method="loo_confidence")
    resid = y - np.asarray(exact)
    np.testing.assert_allclose(scores, np.abs(resid) / np.sqrt(np.mean(resid**2)), rtol=1e-8)


def test_label_scores_are_cleanlabs_definitions():
    rng = np.random.default_rng(1)
    P = rng.dirichlet(np.ones(4), size=50)
    y = rng.integers(0, 4, 50)
    own = P[np.arange(50), y]
    np.testing.assert_allclose(label_quality(P, y, "self_confidence"), own)
    other = np.array([np.max(np.delete(P[i], y[i])) for i in range(50)])
    np.testing.assert_allclose(label_quality(P, y, "normalized_margin"), (own - other + 1) / 2)
    entropy = -(P * np.log(P)).sum(axis=1) / np.log(4)
    q = entropy / own
    np.testing.assert_allclose(
        label_quality(P, y, "confidence_weighted_entropy"), np.log(q + 1) / q
    )
    with pytest.raises(ValueError, match="label_score"):
        label_quality(P, y, "margin")


def test_loo_confidence_scores_and_trimmer():
    X, y, flipped = _flipped(n=300)
    model = LogisticRegression().fit(X, y)
    scores = influence_scores(model, X, y, method="loo_confidence")
    P = _loo_proba(model, X, y)
    np.testing.assert_allclose(scores, 1 - P[np.arange(len(y)), y])
    # finds the flipped rows: most of the top 30 are flips
    top = np.argsort(-scores)[:30]
    assert len(np.intersect1d(top, flipped)) >= 20
    # the trimmer: no row held out, every row scored, same scores
    trim = InfluenceTrimmer(method="loo_confidence", budget=30).fit(X, y)
    assert np.isfinite(trim.scores_).all() and trim.method_ == "loo_confidence"
    np.testing.assert_allclose(trim.scores_, scores)
    margin = influence_scores(model, X, y, method="loo_confidence", label_score="normalized_margin")
    np.testing.assert_allclose(margin, 1 - label_quality(P, y, "normalized_margin"))


def test_auto_method_is_recorded_and_holds_nothing_out():
    X, y, _ = _flipped(n=200)
    trim = InfluenceTrimmer(budget=10).fit(X, y)
    assert trim.method_ == "loo_confidence"
    assert np.isfinite(trim.scores_).all()


def test_cross_fitting_scores_every_row_as_folds_done_by_hand():
    X, y, _ = _flipped(n=200)
    trim = InfluenceTrimmer(
        method="if", validation=4, budget=10, noisy_validation="keep", random_state=3
    ).fit(X, y)
    assert np.isfinite(trim.scores_).all()
    total, count = np.zeros(len(y)), np.zeros(len(y))
    folds = StratifiedKFold(4, shuffle=True, random_state=3).split(X, y)
    for train, val in folds:
        model = LogisticRegression().fit(X[train], y[train])
        total[train] += influence_scores(model, X[train], y[train], X[val], y[val], "if")
        count[train] += 1
    assert (count == 3).all()
    np.testing.assert_allclose(trim.scores_, total / count)
    # the refit drops the highest mean scores from every row
    assert np.all(
        trim.scores_[trim.trimmed_indices_] >= np.delete(trim.scores_, trim.trimmed_indices_).max()
    )
    assert len(trim.sample_indices_) == 190


def test_validation_auto_cross_fits_validation_based_methods():
    X, y, _ = _flipped(n=200)
    auto = InfluenceTrimmer(method="if", budget=5, random_state=0).fit(X, y)
    five = InfluenceTrimmer(method="if", budget=5, validation=5, random_state=0).fit(X, y)
    np.testing.assert_allclose(auto.scores_, five.scores_)


def test_drop_flagged_leaves_the_flagged_validation_rows_out():
    X, y, _ = _flipped(n=200, flip=0.15)
    trim = InfluenceTrimmer(method="if", validation=0.25, budget=5, random_state=0).fit(X, y)
    assert trim.noisy_validation == "drop_flagged"
    val = np.flatnonzero(np.isnan(trim.scores_))
    train = np.flatnonzero(~np.isnan(trim.scores_))
    # the rows loo_confidence flags on every training row, as many as budget="auto"
    full = LogisticRegression().fit(X, y)
    P = _loo_proba(full, X, y)
    n_issues = estimate_n_issues(P, y)
    flagged = np.argsort(-influence_scores(full, X, y, method="loo_confidence"))[:n_issues]
    kept_val = np.setdiff1d(val, flagged)
    assert 0 < len(kept_val) < len(val)
    model = LogisticRegression().fit(X[train], y[train])
    want = influence_scores(model, X[train], y[train], X[kept_val], y[kept_val], "if")
    np.testing.assert_allclose(trim.scores_[train], want, rtol=1e-10)


def test_confident_joint_by_hand():
    # 3 classes, 8 rows; thresholds = mean P(k) over rows labelled k
    P = np.array(
        [
            [0.8, 0.1, 0.1],  # label 0, confident 0
            [0.6, 0.3, 0.1],  # label 0
            [0.1, 0.8, 0.1],  # label 0 -> confidently 1, argmax 1: an issue
            [0.2, 0.7, 0.1],  # label 1
            [0.1, 0.6, 0.3],  # label 1
            [0.1, 0.2, 0.7],  # label 1 -> confidently 2: an issue
            [0.1, 0.1, 0.8],  # label 2
            [0.3, 0.3, 0.4],  # label 2, below every threshold but its own? t2 = 0.6
        ]
    )
    y = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    t = [P[y == k, k].mean() for k in range(3)]  # 0.5, 0.5, 0.6
    assert np.allclose(t, [0.5, 0.5, 0.6])
    # row 7: P = (0.3, 0.3, 0.4) passes no threshold -> not counted
    assert estimate_n_issues(P, y) == 2


def test_budget_auto_uses_the_estimated_count():
    X, y, flipped = _flipped(n=300, flip=0.15)
    trim = InfluenceTrimmer(method="loo_confidence", budget="auto").fit(X, y)
    P = _loo_proba(LogisticRegression().fit(X, y), X, y)
    assert trim.n_issues_ == estimate_n_issues(P, y) > 0
    assert len(trim.trimmed_indices_) == trim.n_issues_
    # a validation-based method with budget="auto" drops as many rows
    other = InfluenceTrimmer(method="if", budget="auto", random_state=0).fit(X, y)
    assert other.n_issues_ == trim.n_issues_


def test_budget_auto_in_grid_search():
    from sklearn.model_selection import GridSearchCV

    X, y, _ = _flipped(n=200)
    grid = GridSearchCV(InfluenceTrimmer(), {"budget": [0, "auto"]}, cv=3).fit(X, y)
    assert np.isfinite(grid.cv_results_["mean_test_score"]).all()


def test_deterministic():
    X, y, _ = _flipped(n=200)
    a = InfluenceTrimmer(method="fi", budget=5, random_state=1).fit(X, y).scores_
    b = InfluenceTrimmer(method="fi", budget=5, random_state=1).fit(X, y).scores_
    np.testing.assert_array_equal(a, b)


def test_bad_input():
    X, y, _ = _flipped(n=60)
    y = y.copy()
    y[:57] = 0
    y[57:] = 1  # class 1 has 3 rows
    with pytest.raises(ValueError, match="class 1 has only 3 rows"):
        InfluenceTrimmer(method="if", validation=5).fit(X, y)
    with pytest.raises(ValueError, match="validation=None holds none out"):
        InfluenceTrimmer(method="if", validation=None).fit(X, y)
    with pytest.raises(ValueError, match="regressor"):
        Xr, yr = make_regression(n_samples=40, n_features=3, random_state=0)
        InfluenceTrimmer(Ridge(), method="loo_confidence", budget="auto").fit(Xr, yr)
    with pytest.raises(ValueError, match="pass X_val and y_val"):
        influence_scores(LogisticRegression().fit(X, y), X, y, method="if")


@pytest.mark.torch
@pytest.mark.parametrize("n_classes", [2, 3])
def test_single_linear_layer_net_equals_the_logistic_closed_form(n_classes):
    import skorch
    import torch

    X, y, _ = _flipped(n=200, n_classes=n_classes)
    X = X.astype(np.float32)
    C = 0.7
    lr = LogisticRegression(C=C).fit(X, y)
    # the net's parameters in float32; give the linear model exactly the same ones
    W = torch.tensor(lr.coef_, dtype=torch.float32)
    b = torch.tensor(lr.intercept_, dtype=torch.float32)
    lr.coef_, lr.intercept_ = W.double().numpy(), b.double().numpy()
    common = dict(
        max_epochs=0,
        train_split=None,
        optimizer__weight_decay=1.0 / (C * len(y)),  # λ = 1/(C n) in mean-loss form
        optimizer__param_groups=[("bias", {"weight_decay": 0.0})],
    )
    if n_classes == 2:
        net = skorch.NeuralNetBinaryClassifier(torch.nn.Linear(6, 1), **common)
        y_net = y.astype(np.float32)
    else:
        net = skorch.NeuralNetClassifier(
            torch.nn.Linear(6, 3), criterion=torch.nn.CrossEntropyLoss, **common
        )
        y_net = y
    net.initialize()
    with torch.no_grad():
        net.module_.weight.copy_(W)
        net.module_.bias.copy_(b)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # multinomial: singular along the intercept sum
        want = influence_scores(lr, X, y, method="loo_confidence")
        got = influence_scores(net, X, y_net, method="loo_confidence")
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9)

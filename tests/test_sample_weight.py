"""Sample weights: weighted curvature and gradients, a removed row's influence is its
weighted term's; class_weight is the weights it implies."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_class_weight

from skinfluence import influence_scores
from skinfluence.adapters import make_adapter

SCALED = ["if", "ip", "ip_ensemble", "gif", "self", "representer"]


@pytest.fixture(scope="module")
def weighted_binary():
    X, y = make_classification(n_samples=160, n_features=5, n_informative=3, random_state=0)
    X = StandardScaler().fit_transform(X)
    w = np.random.default_rng(0).uniform(0.2, 3.0, size=len(y))
    Xv, yv = X[120:], y[120:]
    return X[:120], y[:120], w[:120], Xv, yv


def _scores(model, X, y, Xv, yv, method, w):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return influence_scores(
            model, X, y, Xv, yv, method, sample_weight=w, random_state=0, gif_fraction=0.5
        )


@pytest.mark.parametrize("method", [*SCALED, "fi"])
def test_zero_weight_rows_have_zero_influence(weighted_binary, method):
    X, y, w, Xv, yv = weighted_binary
    w = w.copy()
    w[:10] = 0.0
    model = LogisticRegression().fit(X, y, sample_weight=w)
    scores = _scores(model, X, y, Xv, yv, method, w)
    np.testing.assert_allclose(scores[:10], 0.0, atol=1e-15)
    assert np.abs(scores[10:]).max() > 1e-8


@pytest.mark.parametrize("method", SCALED)
def test_weight_two_equals_the_row_duplicated(weighted_binary, method):
    X, y, _, Xv, yv = weighted_binary
    w = np.ones(len(y))
    w[0] = 2.0
    weighted = LogisticRegression(tol=1e-12, max_iter=10000).fit(X, y, sample_weight=w)
    Xd, yd = np.vstack([X, X[:1]]), np.concatenate([y, y[:1]])
    duplicated = LogisticRegression(tol=1e-12, max_iter=10000).fit(Xd, yd)
    a = _scores(weighted, X, y, Xv, yv, method, w)
    b = _scores(duplicated, Xd, yd, Xv, yv, method, None)
    # removing the weight-2 row is removing both copies: first order, the sum
    np.testing.assert_allclose(a[0], b[0] + b[-1], rtol=1e-5)
    np.testing.assert_allclose(a[1:], b[1:-1], rtol=1e-5, atol=1e-12)


def test_class_weight_is_the_implied_sample_weight(weighted_binary):
    X, y, w, Xv, yv = weighted_binary
    balanced = LogisticRegression(class_weight="balanced").fit(X, y, sample_weight=w)
    per_class = compute_class_weight("balanced", classes=np.unique(y), y=y, sample_weight=w)
    explicit_w = w * per_class[y]
    explicit = LogisticRegression().fit(X, y, sample_weight=explicit_w)
    np.testing.assert_allclose(balanced.coef_, explicit.coef_, rtol=1e-5)
    for method in ("if", "loo_confidence", "fi"):
        got = _scores(balanced, X, y, Xv, yv, method, w)
        want = _scores(explicit, X, y, Xv, yv, method, explicit_w)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-10)


def test_weighted_penalty_makes_the_gradient_vanish(weighted_binary):
    X, y, w, _, _ = weighted_binary
    for model in (LogisticRegression(C=0.3, tol=1e-12, max_iter=5000), Ridge(alpha=2.0)):
        target = y if isinstance(model, LogisticRegression) else X[:, 0] + y
        model.fit(X, target, sample_weight=w)
        ad = make_adapter(model, X, target, sample_weight=w)
        G = ad.loss_grad(X, ad.encode_y(target))
        grad = w @ G / w.sum() + ad._penalty_diag() * ad.get_theta()
        assert np.abs(grad).max() < 1e-6


def _loo_refit_loss_change(make, X, y, w, Xv, yv, loss):
    full = loss(make().fit(X, y, sample_weight=w), Xv, yv)
    out = []
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        out.append(full - loss(make().fit(X[keep], y[keep], sample_weight=w[keep]), Xv, yv))
    return np.array(out)  # the decrease of the validation loss when row i is removed


def test_weighted_if_predicts_weighted_leave_one_out_refits(weighted_binary):
    X, y, w, Xv, yv = weighted_binary

    def log_loss(model, Xv, yv):
        p = model.predict_proba(Xv)[np.arange(len(yv)), yv]
        return -np.mean(np.log(p))

    make = lambda: LogisticRegression(C=0.5, tol=1e-10, max_iter=5000)  # noqa: E731
    refit = _loo_refit_loss_change(make, X, y, w, Xv, yv, log_loss)
    scores = _scores(make().fit(X, y, sample_weight=w), X, y, Xv, yv, "if", w)
    assert spearmanr(scores, refit)[0] >= 0.95


def test_weighted_ridge_if_and_loo_against_refits():
    X, y = make_regression(n_samples=80, n_features=4, noise=10.0, random_state=1)
    w = np.random.default_rng(1).uniform(0.2, 3.0, size=80)
    Xt, yt, wt, Xv, yv = X[:60], y[:60], w[:60], X[60:], y[60:]

    def mse(model, Xv, yv):
        return 0.5 * np.mean((model.predict(Xv) - yv) ** 2)

    make = lambda: Ridge(alpha=3.0)  # noqa: E731
    refit = _loo_refit_loss_change(make, Xt, yt, wt, Xv, yv, mse)
    model = make().fit(Xt, yt, sample_weight=wt)
    scores = _scores(model, Xt, yt, Xv, yv, "if", wt)
    assert spearmanr(scores, refit)[0] >= 0.95
    # the weighted leave-one-out prediction of least squares is exact
    loo = np.array(
        [
            make()
            .fit(np.delete(Xt, i, 0), np.delete(yt, i), sample_weight=np.delete(wt, i))
            .predict(Xt[i : i + 1])[0]
            for i in range(60)
        ]
    )
    resid = yt - loo
    got = _scores(model, Xt, yt, None, None, "loo_confidence", wt)
    np.testing.assert_allclose(got, np.abs(resid) / np.sqrt(np.mean(resid**2)), rtol=1e-8)


def test_bad_weights_and_unsupported_methods(weighted_binary):
    X, y, w, Xv, yv = weighted_binary
    model = LogisticRegression().fit(X, y, sample_weight=w)
    with pytest.raises(ValueError, match="one value per training row"):
        influence_scores(model, X, y, Xv, yv, "if", sample_weight=w[:-1])
    with pytest.raises(ValueError, match=">= 0"):
        influence_scores(model, X, y, Xv, yv, "if", sample_weight=-w)
    with pytest.raises(ValueError, match="does not support sample weights"):
        influence_scores(model, X, y, Xv, yv, "datainf", sample_weight=w)


# -- ShapleyValuator: the weights reach every coalition's fit ------------------------
def _brute_force_shapley(X, y, Xv, yv, w):
    """Exact Shapley values of u(S) = accuracy of LR fitted on S with its weights."""
    from itertools import combinations
    from math import factorial

    n = len(y)
    prior = np.mean(yv == np.bincount(y).argmax())  # the dummy model's accuracy

    def u(S):
        S = [i for i in S if w[i] > 0]
        if len(set(y[S])) < 2:
            return prior
        model = LogisticRegression().fit(X[S], y[S], sample_weight=w[S])
        return np.mean(model.predict(Xv) == yv)

    values = np.zeros(n)
    for i in range(n):
        others = [j for j in range(n) if j != i]
        for k in range(n):
            c = factorial(k) * factorial(n - k - 1) / factorial(n)
            for S in combinations(others, k):
                values[i] += c * (u([*S, i]) - u(list(S)))
    return values


def test_shapley_exact_with_weights_equals_the_weighted_game():
    from skinfluence import ShapleyValuator

    X, y = make_classification(n_samples=40, n_features=3, n_informative=3, n_redundant=0,
                               random_state=3)  # fmt: skip
    Xt, yt, Xv, yv = X[:6], y[:6], X[6:], y[6:]
    w = np.array([1.0, 0.0, 2.5, 0.5, 0.0, 3.0])
    val = ShapleyValuator(LogisticRegression(), method="exact", budget=1).fit(
        Xt, yt, Xv, yv, sample_weight=w
    )
    np.testing.assert_allclose(val.values_, _brute_force_shapley(Xt, yt, Xv, yv, w), atol=1e-12)
    assert val.values_[1] == 0.0 and val.values_[4] == 0.0  # weight 0 changes no fit
    unweighted = ShapleyValuator(LogisticRegression(), method="exact", budget=1).fit(Xt, yt, Xv, yv)
    assert not np.allclose(unweighted.values_, val.values_)


def test_shapley_loo_zero_weight_rows_are_worth_nothing(weighted_binary):
    from skinfluence import ShapleyValuator

    X, y, w, Xv, yv = weighted_binary
    w = w.copy()
    w[:10] = 0.0
    val = ShapleyValuator(LogisticRegression(), method="loo", scoring="neg_log_loss").fit(
        X, y, Xv, yv, sample_weight=w
    )
    assert np.all(val.values_[w == 0] == 0.0)
    assert np.any(val.values_[w > 0] != 0.0)


def test_weights_routed_through_pipeline_and_grid_search(weighted_binary):
    from sklearn import config_context
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline

    from skinfluence import InfluenceTrimmer

    X, y, w, _, _ = weighted_binary
    direct = InfluenceTrimmer(LogisticRegression(), budget=10).fit(X, y, sample_weight=w)
    unweighted = InfluenceTrimmer(LogisticRegression(), budget=10).fit(X, y)
    assert not np.allclose(direct.scores_, unweighted.scores_)
    with config_context(enable_metadata_routing=True):
        trim = InfluenceTrimmer(LogisticRegression(), budget=10)
        trim.set_fit_request(sample_weight=True).set_score_request(sample_weight=False)
        # the scaler takes weights too; it must say it does not want them
        scaler = StandardScaler().set_fit_request(sample_weight=False)
        pipe = make_pipeline(scaler, trim).fit(X, y, sample_weight=w)
        search = GridSearchCV(trim, {"budget": [5, 10]}, cv=3).fit(X, y, sample_weight=w)
    by_hand = InfluenceTrimmer(LogisticRegression(), budget=10)
    by_hand.fit(StandardScaler().fit_transform(X), y, sample_weight=w)
    np.testing.assert_allclose(pipe[-1].scores_, by_hand.scores_, rtol=1e-10)
    best = search.best_estimator_
    expected = InfluenceTrimmer(LogisticRegression(), budget=best.budget)
    np.testing.assert_allclose(
        best.scores_, expected.fit(X, y, sample_weight=w).scores_, rtol=1e-10
    )

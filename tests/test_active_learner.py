"""FI^active and InfluenceActiveLearner against their definitions and the AL protocol."""

import copy
import warnings

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.tree import DecisionTreeRegressor

from skinfluence import InfluenceActiveLearner
from skinfluence.adapters import make_adapter
from skinfluence.curvature import ExactSolver
from skinfluence.exceptions import SingularHessianWarning
from skinfluence.influence import fi_scores
from skinfluence.influence._active import aggregate, fi_active_scores, fi_pairs


def _problem(n=120, p=5, classes=2, seed=0):
    X, y = make_classification(
        n_samples=n,
        n_features=p,
        n_informative=4,
        n_redundant=0,
        n_classes=classes,
        n_clusters_per_class=1,
        random_state=seed,
    )
    return X, y


def _fitted(classes, n_lab=40):
    X, y = _problem(classes=classes)
    XL, yL, XU = X[:n_lab], y[:n_lab], X[n_lab:]
    model = LogisticRegression().fit(XL, yL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularHessianWarning)
        adapter = make_adapter(model, XL, yL)
        solver = ExactSolver().fit(adapter)
    return model, adapter, solver, XL, adapter.encode_y(yL), XU


@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize("scaling", ["appendix", "algorithm"])
def test_pair_equals_fi_util_with_the_pool_row_as_validation_set(classes, scaling):
    model, adapter, solver, XL, yL, XU = _fitted(classes)
    F = fi_pairs(adapter, solver, XL, yL, XU, scaling=scaling)
    y_pred = adapter.encode_y(model.predict(XU))
    for u in range(0, len(XU), 13):
        ref = fi_scores(adapter, solver, XL, yL, XU[u : u + 1], y_pred[u : u + 1], scaling=scaling)
        np.testing.assert_allclose(F[:, u], ref, rtol=1e-9, atol=1e-12 * np.abs(ref).max())


@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize("aggregation", ["trimmed_mean", "mean", 0.75, lambda F: F.max(axis=0)])
def test_blocked_product_equals_a_double_loop(classes, aggregation):
    model, adapter, solver, XL, yL, XU = _fitted(classes)
    y_pred = adapter.encode_y(model.predict(XU))
    loop = np.column_stack(
        [
            fi_scores(adapter, solver, XL, yL, XU[u : u + 1], y_pred[u : u + 1])
            for u in range(len(XU))
        ]
    )
    # a tiny block forces many pool blocks
    got = fi_active_scores(adapter, solver, XL, yL, XU, aggregation=aggregation, block_mb=0.002)
    np.testing.assert_allclose(got, aggregate(loop, aggregation), rtol=1e-9)


def test_trimmed_mean_is_the_mean_between_the_10th_and_90th_percentile():
    values = np.arange(1.0, 101.0)[:, None]  # 1..100
    lo, hi = np.quantile(values, [0.1, 0.9])
    expected = values[(values >= lo) & (values <= hi)].mean()
    assert aggregate(values, "trimmed_mean")[0] == pytest.approx(expected)
    assert aggregate(values, "trimmed_mean")[0] == pytest.approx(50.5)  # symmetric
    with pytest.raises(ValueError, match="aggregation"):
        aggregate(values, "median")
    with pytest.raises(ValueError, match="shape"):
        aggregate(values, lambda F: F)


def _pool_problem(n=300, n_lab=30, seed=0):
    X, y = _problem(n=n, seed=seed)
    y_partial = np.where(np.arange(n) < n_lab, y, -1)
    return X, y, y_partial


def test_subsample_one_is_the_exact_ranking():
    X, y, y_partial = _pool_problem()
    learner = InfluenceActiveLearner(subsample=1.0, random_state=0).fit(X, y_partial)
    lab = np.arange(30)
    model = LogisticRegression().fit(X[lab], y[lab])
    adapter = make_adapter(model, X[lab], y[lab])
    exact = fi_active_scores(adapter, ExactSolver().fit(adapter), X[lab], y[lab], X[30:])
    np.testing.assert_allclose(learner.scores_[30:], exact, rtol=1e-10)
    assert np.isnan(learner.scores_[:30]).all()
    np.testing.assert_array_equal(learner.query(10), 30 + np.argsort(-exact, kind="stable")[:10])


def test_surrogate_ranks_follow_the_exact_ones():
    X, y, y_partial = _pool_problem(n=600)
    exact = InfluenceActiveLearner(subsample=1.0).fit(X, y_partial).scores_[30:]
    approx = InfluenceActiveLearner(subsample=0.3, random_state=0).fit(X, y_partial).scores_[30:]
    assert spearmanr(exact, approx).statistic > 0.7
    tree = InfluenceActiveLearner(
        subsample=0.3, surrogate=DecisionTreeRegressor(max_depth=3), random_state=0
    ).fit(X, y_partial)
    assert np.unique(tree.scores_[30:]).size <= 8  # a depth-3 tree predicted the ranks


def test_query_is_pure():
    X, y, y_partial = _pool_problem()
    learner = InfluenceActiveLearner(random_state=0).fit(X, y_partial)
    before = copy.deepcopy(learner.__dict__)
    first = learner.query(7)
    np.testing.assert_array_equal(learner.query(7), first)
    for key, value in before.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(learner.__dict__[key], value)
    assert len(first) == 7 and np.all(first >= 30)
    with pytest.raises(ValueError, match="pool size"):
        learner.query(271)


@pytest.mark.parametrize("method", ["fi", "random", "entropy", "margin", "bald"])
def test_rounds_label_pool_rows_once(method):
    X, y, y_partial = _pool_problem()
    y_partial_copy = y_partial.copy()
    learner = InfluenceActiveLearner(
        method=method, batch_size=15, n_rounds=4, n_estimators=3, random_state=0
    ).fit(X, y_partial, y_oracle=y)
    np.testing.assert_array_equal(y_partial, y_partial_copy)  # the caller's y is untouched
    it = learner.labeled_iter_
    assert np.all(it[:30] == 0)
    for r in range(1, 5):
        assert np.sum(it == r) == 15
    assert np.sum(it == -1) == 300 - 30 - 60
    np.testing.assert_array_equal(learner.transduction_[it >= 0], y[it >= 0])
    assert [h["n_labeled"] for h in learner.history_] == [30, 45, 60, 75, 90]
    assert learner.query(5).tolist() == [i for i in learner.query(5) if it[i] == -1]


def test_history_scores_on_validation_set_and_if_method():
    X, y, y_partial = _pool_problem(n=400)
    Xv, yv = _problem(n=100, seed=1)
    learner = InfluenceActiveLearner(
        method="if", batch_size=20, n_rounds=3, subsample=1.0, random_state=0
    ).fit(X, y_partial, y_oracle=y, X_val=Xv, y_val=yv)
    assert all(0 <= h["score"] <= 1 for h in learner.history_)
    assert learner.history_[-1]["score"] == learner.estimator_.score(Xv, yv)
    with pytest.raises(ValueError, match="X_val"):
        InfluenceActiveLearner(method="if").fit(X, y_partial)


def test_nan_marks_the_pool_too():
    X, y, y_partial = _pool_problem()
    y_nan = np.where(y_partial == -1, np.nan, y_partial.astype(float))
    a = InfluenceActiveLearner(random_state=0).fit(X, y_nan)
    b = InfluenceActiveLearner(random_state=0).fit(X, y_partial)
    np.testing.assert_allclose(a.scores_, b.scores_)


def test_missing_oracle_label_raises():
    X, y, y_partial = _pool_problem()
    oracle = np.full_like(y, -1)
    with pytest.raises(ValueError, match="y_oracle has no label"):
        InfluenceActiveLearner(n_rounds=1).fit(X, y_partial, y_oracle=oracle)


def test_deterministic_under_random_state():
    X, y, y_partial = _pool_problem()
    runs = [
        InfluenceActiveLearner(subsample=0.3, n_rounds=2, random_state=s)
        .fit(X, y_partial, y_oracle=y)
        .labeled_iter_
        for s in (3, 3, 4)
    ]
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_grid_search_scores_held_out_labeled_rows():
    X, y, y_partial = _pool_problem(n=300, n_lab=90)
    rng = np.random.default_rng(0)
    perm = rng.permutation(300)
    X, y, y_partial = X[perm], y[perm], y_partial[perm]
    grid = GridSearchCV(
        InfluenceActiveLearner(batch_size=10, n_rounds=2, random_state=0),
        {"method": ["fi", "entropy"]},
        cv=3,
    ).fit(X, y_partial, y_oracle=y)
    assert np.isfinite(grid.cv_results_["mean_test_score"]).all()
    learner = grid.best_estimator_
    labeled = y_partial != -1
    assert learner.score(X, y_partial) == learner.estimator_.score(X[labeled], y[labeled])


def test_bad_input():
    X, y, y_partial = _pool_problem()
    with pytest.raises(ValueError, match="predict_proba"):
        InfluenceActiveLearner(Ridge()).fit(X, y_partial)
    with pytest.raises(ValueError, match="one class"):
        InfluenceActiveLearner().fit(X, np.where(np.arange(300) < 30, 1, -1))
    with pytest.raises(ValueError, match="one class"):
        InfluenceActiveLearner().fit(X, np.full(300, -1))
    with pytest.raises(ValueError, match="inconsistent"):
        InfluenceActiveLearner().fit(X, y_partial, y_oracle=y[:-1])
    X_bad = X.copy()
    X_bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        InfluenceActiveLearner().fit(X_bad, y_partial)


# -- skorch nets ------------------------------------------------------------------------
@pytest.fixture
def skorch_net():
    import torch
    from _nets import MLP
    from skorch import NeuralNetClassifier

    torch.manual_seed(0)
    return NeuralNetClassifier(
        MLP,
        module__p=5,
        module__k=2,
        module__hidden=16,
        module__activation=torch.nn.ReLU,
        module__dropout=0.3,
        criterion=torch.nn.CrossEntropyLoss,
        max_epochs=15,
        lr=0.1,
        train_split=None,
        verbose=0,
        optimizer__weight_decay=1e-3,
    )


@pytest.mark.torch
@pytest.mark.parametrize("method", ["fi", "if", "bald", "entropy"])
def test_skorch_net(skorch_net, method):
    X, y, y_partial = _pool_problem(n=200, n_lab=40)
    X = X.astype(np.float32)
    Xv, yv = _problem(n=60, seed=1)  # float64 on purpose: the learner converts
    learner = InfluenceActiveLearner(
        skorch_net, method=method, params="last", batch_size=10, n_rounds=2, random_state=0
    ).fit(X, y_partial, y_oracle=y, X_val=Xv, y_val=yv)
    assert all(0 <= h["score"] <= 1 for h in learner.history_)
    assert [h["n_labeled"] for h in learner.history_] == [40, 50, 60]
    assert np.isfinite(learner.scores_[learner.labeled_iter_ == -1]).all()


@pytest.mark.torch
def test_mc_dropout_passes(skorch_net):
    import torch

    from skinfluence.adapters._torch import mc_dropout_proba
    from skinfluence.exceptions import UnsupportedModelError

    X, y = _problem(n=100)
    X = X.astype(np.float32)
    net = skorch_net.fit(X, y)
    state = torch.get_rng_state()
    modes = [m.training for m in net.module_.modules()]
    a, b, c = mc_dropout_proba(net, X, [1, 1, 2])
    assert torch.equal(state, torch.get_rng_state())  # the global RNG is untouched
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)  # dropout was active
    np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=1e-6)
    assert [m.training for m in net.module_.modules()] == modes  # modes restored
    np.testing.assert_allclose(net.predict_proba(X), net.predict_proba(X))  # no dropout
    net.module_.body[2] = torch.nn.Identity()
    with pytest.raises(UnsupportedModelError, match="dropout"):
        mc_dropout_proba(net, X, [0])

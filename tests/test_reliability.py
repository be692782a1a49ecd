"""Inputs that used to break with an unclear error, and the warnings that say when
influence stops being trustworthy."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from skinfluence import (
    InfluenceActiveLearner,
    InfluenceReliabilityWarning,
    InfluenceTrimmer,
    ShapleyValuator,
    influence_scores,
)


@pytest.fixture(scope="module")
def binary():
    X, y = make_classification(
        n_samples=150, n_features=4, n_informative=3, n_redundant=1, random_state=0
    )
    return X, y


def test_separable_classifier_warns():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] > 0).astype(int)
    X[:, 0] += np.where(y == 1, 0.5, -0.5)  # a gap between the classes
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        weak = LogisticRegression(C=1e6, max_iter=10000).fit(X, y)
    with pytest.warns(InfluenceReliabilityWarning, match="separable.*smaller C"):
        influence_scores(weak, X, y, method="loo_confidence")
    strong = LogisticRegression(C=1.0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", InfluenceReliabilityWarning)
        influence_scores(strong, X, y, method="loo_confidence")  # p < 0.99 somewhere


def test_feature_count_mismatch_names_both(binary):
    X, y = binary
    model = LogisticRegression().fit(X, y)
    X5 = np.hstack([X, X[:, :1]])
    with pytest.raises(
        ValueError, match="X has 5 features, but LogisticRegression was fitted on 4"
    ):
        influence_scores(model, X5, y, method="loo_confidence")
    with pytest.raises(ValueError, match="X_val has 5 features"):
        influence_scores(model, X, y, X5[:10], y[:10], "if")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_validation_inputs_are_named(binary, bad):
    X, y = binary
    model = LogisticRegression().fit(X, y)
    Xv = X[:20].copy()
    Xv[0, 0] = bad
    with pytest.raises(ValueError, match="X_val"):
        influence_scores(model, X, y, Xv, y[:20], "if")
    yv = y[:20].astype(float)
    yv[0] = np.nan
    with pytest.raises(ValueError, match="y_val"):
        influence_scores(model, X, y, X[:20], yv, "if")


def test_fit_resample_takes_every_sparse_format(binary):
    X, y = binary
    for fmt in ("coo", "lil", "dok", "csc"):
        Xs = sp.random(len(y), 4, density=0.5, format=fmt, random_state=0) + sp.csr_matrix(X)
        Xs = Xs.asformat(fmt)
        Xr, yr = InfluenceTrimmer(budget=5).fit_resample(Xs, y)
        assert sp.issparse(Xr) and Xr.shape == (len(y) - 5, 4)


def test_learner_names_its_missing_label_marker(binary):
    X, y = binary
    signed = np.where(y == 1, 1, -1)  # -1 is a real class here
    with pytest.raises(ValueError, match="-1 .*missing_label"):
        InfluenceActiveLearner().fit(X, signed)
    y_partial = np.where(np.arange(len(y)) < 40, signed, 99)
    learner = InfluenceActiveLearner(missing_label=99, random_state=0).fit(X, y_partial)
    assert np.isnan(learner.scores_[:40]).all() and np.isfinite(learner.scores_[40:]).all()
    y_nan = np.where(np.arange(len(y)) < 40, signed, np.nan)
    same = InfluenceActiveLearner(missing_label=np.nan, random_state=0).fit(X, y_nan)
    np.testing.assert_allclose(same.scores_, learner.scores_)


@pytest.mark.torch
def test_skorch_inputs_that_used_to_break(binary):
    torch = pytest.importorskip("torch")
    skorch = pytest.importorskip("skorch")
    X, y = binary
    X = X.astype(np.float32)
    net = skorch.NeuralNetClassifier(
        torch.nn.Linear(4, 2),
        criterion=torch.nn.CrossEntropyLoss,
        max_epochs=2,
        train_split=None,
        verbose=0,
    )
    labels = np.where(y == 1, "yes", "no")
    with pytest.raises(ValueError, match="integer class indices.*LabelEncoder"):
        InfluenceTrimmer(net).fit(X, labels)
    split = skorch.NeuralNetClassifier(
        torch.nn.Linear(4, 2), criterion=torch.nn.CrossEntropyLoss, max_epochs=2, verbose=0
    ).fit(X, y)
    with pytest.warns(UserWarning, match="train_split=None"):
        influence_scores(split, X, y, method="loo_confidence")
    # ShapleyValuator fits and scores the net on float32 rows, as the trimmer does
    for method, kw in (("loo", {"validation": 0.25}), ("data_oob", {"n_estimators": 4})):
        val = ShapleyValuator(net, method=method, budget=1, random_state=0, **kw)
        val.fit(X[:60], y[:60])
        assert np.isfinite(val.values_).sum() > 30
        assert val.predict(X).shape == y.shape


@pytest.mark.torch
def test_cg_on_an_indefinite_net_says_what_to_do():
    torch = pytest.importorskip("torch")
    skorch = pytest.importorskip("skorch")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3)).astype(np.float32)
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    torch.manual_seed(0)
    net = skorch.NeuralNetClassifier(
        torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2)),
        criterion=torch.nn.CrossEntropyLoss,
        max_epochs=3,
        lr=0.5,
        train_split=None,
        verbose=0,
    ).fit(X, y)
    with pytest.raises(np.linalg.LinAlgError, match="damping=0.01.*gauss_newton=True"):
        influence_scores(net, X, y, X[:20], y[:20], "if", solver="cg", damping=1e-2)

"""Model-agnostic trimming: oof_confidence against cross_val_predict, any estimator, the CLI."""

import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import threadpoolctl
from scipy.stats import spearmanr
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import StackingClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import KFold, ShuffleSplit, StratifiedKFold, cross_val_predict
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, SVR
from sklearn.utils._param_validation import InvalidParameterError

from skinfluence import InfluenceTrimmer, UnsupportedModelError, influence_scores
from skinfluence._methods import AUTO_METHOD, auto_method
from skinfluence.influence import (
    LABEL_SCORES,
    MEASURES,
    estimate_n_issues,
    label_quality,
    oof_confidence_scores,
    oof_predictions,
)


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    with threadpoolctl.threadpool_limits(1):
        yield


def _flipped(n=200, n_classes=2, seed=0, flip=0.1):
    X, y = make_classification(
        n_samples=n,
        n_features=6,
        n_informative=4,
        n_classes=n_classes,
        class_sep=1.5,
        random_state=seed,
    )
    X = StandardScaler().fit_transform(X)
    rng = np.random.default_rng(seed)
    flipped = rng.choice(n, int(flip * n), replace=False)
    y[flipped] = (y[flipped] + rng.integers(1, n_classes, len(flipped))) % n_classes
    return X, y, flipped


def _by_hand(estimator, X, y, method="predict_proba", seed=0, label_score="self_confidence"):
    """cross_val_predict with the documented folds, then 1 - label quality."""
    cv = StratifiedKFold(5, shuffle=True, random_state=seed)
    out = cross_val_predict(estimator, X, y, cv=cv, method=method)
    if method == "decision_function":
        if out.ndim == 1:
            p1 = 1 / (1 + np.exp(-out))
            out = np.column_stack([1 - p1, p1])
        else:
            out = np.exp(out - out.max(axis=1, keepdims=True))
            out /= out.sum(axis=1, keepdims=True)
    y_enc = np.searchsorted(np.unique(y), y)
    return 1 - label_quality(out, y_enc, label_score), out


# -- against the definition ---------------------------------------------------------------------
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("label_score", LABEL_SCORES)
def test_equals_cross_val_predict_and_label_quality(n_classes, label_score):
    X, y, _ = _flipped(n_classes=n_classes)
    want, P = _by_hand(GaussianNB(), X, y, label_score=label_score)
    got = oof_confidence_scores(
        GaussianNB(), X, y, None, None, label_score=label_score, random_state=0
    )
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(oof_predictions(GaussianNB(), X, y, random_state=0), P, rtol=1e-12)
    # the trimmer scores every row with the same numbers
    trim = InfluenceTrimmer(
        GaussianNB(), method="oof_confidence", label_score=label_score, budget=5, random_state=0
    ).fit(X, y)
    np.testing.assert_allclose(trim.scores_, want, rtol=1e-12)
    # and influence_scores, from a fitted model (it is cloned)
    fitted = GaussianNB().fit(X, y)
    got = influence_scores(
        fitted, X, y, method="oof_confidence", label_score=label_score, random_state=0
    )
    np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_decision_function_through_sigmoid_or_softmax(n_classes):
    X, y, _ = _flipped(n_classes=n_classes)
    want, _ = _by_hand(SVC(), X, y, method="decision_function")
    trim = InfluenceTrimmer(SVC(), method="oof_confidence", budget=5, random_state=0).fit(X, y)
    np.testing.assert_allclose(trim.scores_, want, rtol=1e-10)


def test_regressor_standardised_out_of_fold_residual():
    X, y = make_regression(n_samples=120, n_features=5, noise=10.0, random_state=0)
    cv = KFold(5, shuffle=True, random_state=0)
    resid = y - cross_val_predict(SVR(C=100.0), X, y, cv=cv)
    want = np.abs(resid) / np.sqrt(np.mean(resid**2))
    trim = InfluenceTrimmer(SVR(C=100.0), budget=10, random_state=0).fit(X, y)
    assert trim.method_ == "oof_confidence"
    np.testing.assert_allclose(trim.scores_, want, rtol=1e-10)


def test_a_splitter_as_cv_and_a_fold_missing_a_class():
    X, y, _ = _flipped(n=60, n_classes=3)
    cv = KFold(3, shuffle=True, random_state=1)
    got = oof_predictions(GaussianNB(), X, y, cv=cv)
    np.testing.assert_allclose(
        got, cross_val_predict(GaussianNB(), X, y, cv=cv, method="predict_proba")
    )
    # an unstratified fold whose training rows lack a class: probability 0 for it
    y = y.copy()
    y[:4] = 3
    order = np.argsort(y != 3, kind="stable")  # the class-3 rows first, all in fold 0
    folds = [(order[20:], order[:20]), (order[:20], order[20:])]
    P = oof_predictions(GaussianNB(), X, y, cv=folds)
    assert P.shape == (60, 4) and np.all(P[order[:20], 3] == 0)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)


def test_sample_weight_reaches_the_fold_fits():
    X, y, _ = _flipped()
    w = np.random.default_rng(0).uniform(0.1, 3.0, len(y))
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    for est, method in (
        (GaussianNB(), "predict_proba"),
        (LogisticRegression(), "predict_proba"),
        (SVC(), "decision_function"),
    ):
        want = cross_val_predict(est, X, y, cv=cv, method=method, params={"sample_weight": w})
        got = oof_predictions(est, X, y, sample_weight=w, random_state=0)
        plain = oof_predictions(est, X, y, random_state=0)
        if method == "decision_function":  # the sigmoid undone
            got, plain = (np.log(P[:, 1] / P[:, 0]) for P in (got, plain))
        np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-10)
        assert not np.allclose(got, plain)
    # through the trimmer's fit: the same fold fits
    trim = InfluenceTrimmer(GaussianNB(), method="oof_confidence", budget=5, random_state=0)
    trim.fit(X, y, sample_weight=w)
    P = cross_val_predict(
        GaussianNB(), X, y, cv=cv, method="predict_proba", params={"sample_weight": w}
    )
    np.testing.assert_allclose(trim.scores_, 1 - P[np.arange(len(y)), y], rtol=1e-10)
    with pytest.raises(ValueError, match="takes no sample_weight"):
        oof_predictions(KNeighborsClassifier(), X, y, sample_weight=w)
    with pytest.raises(ValueError, match="one weight per row"):
        oof_predictions(GaussianNB(), X, y, sample_weight=w[:-1])


def test_deterministic_under_random_state_and_for_n_jobs():
    X, y, _ = _flipped()
    est = MLPClassifier(hidden_layer_sizes=(8,), max_iter=200, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLP convergence
        a = InfluenceTrimmer(est, method="oof_confidence", budget=5, random_state=3).fit(X, y)
        b = InfluenceTrimmer(est, method="oof_confidence", budget=5, random_state=3).fit(X, y)
        with joblib.parallel_config(backend="threading"):
            c = InfluenceTrimmer(
                est, method="oof_confidence", budget=5, random_state=3, n_jobs=2
            ).fit(X, y)
        d = InfluenceTrimmer(est, method="oof_confidence", budget=5, random_state=4).fit(X, y)
    np.testing.assert_array_equal(a.scores_, b.scores_)
    np.testing.assert_array_equal(a.scores_, c.scores_)
    assert not np.allclose(a.scores_, d.scores_)  # other folds


def test_dask_backend_equals_sequential():
    distributed = pytest.importorskip("distributed")
    X, y, _ = _flipped()
    sequential = InfluenceTrimmer(SVC(), method="oof_confidence", random_state=0).fit(X, y)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster),
    ):
        with joblib.parallel_backend("dask"):
            on_dask = InfluenceTrimmer(SVC(), method="oof_confidence", random_state=0).fit(X, y)
    np.testing.assert_array_equal(on_dask.scores_, sequential.scores_)


def test_ranks_as_loo_confidence_on_a_well_conditioned_logistic_regression():
    X, y, _ = _flipped(n=400)
    model = LogisticRegression(C=1.0)
    oof = InfluenceTrimmer(model, method="oof_confidence", budget=0, random_state=0).fit(X, y)
    loo = InfluenceTrimmer(model, method="loo_confidence", budget=0).fit(X, y)
    rho = spearmanr(oof.scores_, loo.scores_).statistic
    assert rho >= 0.9, rho


# -- any estimator in the trimmer ---------------------------------------------------------------
def _stack():
    return StackingClassifier(
        [("nb", GaussianNB()), ("knn", KNeighborsClassifier())], LogisticRegression(), cv=3
    )


@pytest.mark.parametrize(
    "est",
    [
        SVC(),
        KNeighborsClassifier(),
        MLPClassifier(hidden_layer_sizes=(16,), max_iter=300, random_state=0),
        GaussianNB(),
        CalibratedClassifierCV(SVC(), cv=3),
        _stack(),
        make_pipeline(StandardScaler(), SVC()),
    ],
    ids=lambda e: type(e).__name__,
)
def test_auto_scores_every_row_of_any_classifier(est):
    X, y, flipped = _flipped(n=200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trim = InfluenceTrimmer(est, budget="auto", random_state=0).fit(X, y)
    assert trim.method_ == AUTO_METHOD == "oof_confidence"
    assert np.isfinite(trim.scores_).all()
    # budget="auto" is the confident joint of the same out-of-fold probabilities
    P = oof_predictions(est, X, y, random_state=0)
    assert trim.n_issues_ == estimate_n_issues(P, y) == len(trim.trimmed_indices_)
    is_flipped = np.isin(np.arange(len(y)), flipped)
    assert roc_auc_score(is_flipped, trim.scores_) > 0.75  # GaussianNB 0.76, the others > 0.9
    assert trim.predict(X).shape == y.shape


def test_pandas_columns_reach_the_clones():
    X, y, _ = _flipped()
    frame = pd.DataFrame(X, columns=[f"c{j}" for j in range(X.shape[1])])
    by_name = make_pipeline(
        ColumnTransformer([("num", StandardScaler(), ["c0", "c1", "c2"])]), KNeighborsClassifier()
    )
    trim = InfluenceTrimmer(by_name, budget=5, random_state=0).fit(frame, y)
    want, _ = _by_hand(by_name, frame, y)
    np.testing.assert_allclose(trim.scores_, want)


def test_strategies_on_a_model_without_an_adapter():
    X, y, _ = _flipped(n_classes=3)
    relabel = InfluenceTrimmer(SVC(), budget=10, strategy="relabel", random_state=0).fit(X, y)
    assert np.all(relabel.new_labels_ != y[relabel.trimmed_indices_])
    weights = InfluenceTrimmer(SVC(), budget=10, strategy="reweight", random_state=0).fit(X, y)
    assert np.isclose(weights.sample_weight_.mean(), 1.0)


class PredictOnly(ClassifierMixin, BaseEstimator):
    """A classifier with fit and predict only (nearest class mean)."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.means_ = np.stack([X[y == c].mean(axis=0) for c in self.classes_])
        return self

    def predict(self, X):
        d = ((np.asarray(X)[:, None, :] - self.means_[None]) ** 2).sum(axis=2)
        return self.classes_[d.argmin(axis=1)]


def test_a_classifier_with_predict_only_gets_data_oob():
    X, y, _ = _flipped()
    assert auto_method(PredictOnly()) == "data_oob"
    trim = InfluenceTrimmer(PredictOnly(), budget="auto", n_estimators=20, random_state=0)
    assert trim.fit(X, y).method_ == "data_oob" and np.isfinite(trim.scores_).all()
    with pytest.raises(
        UnsupportedModelError, match="neither predict_proba nor decision_function.*data_oob"
    ):
        InfluenceTrimmer(PredictOnly(), method="oof_confidence").fit(X, y)


class NoFit:
    def predict(self, X):
        return np.zeros(len(X))


def test_bad_input():
    X, y, _ = _flipped()
    with pytest.raises(UnsupportedModelError, match="oof_confidence.*needs.*KMeans is neither"):
        InfluenceTrimmer(KMeans(2, n_init=1)).fit(X, y)
    for est in (StandardScaler(), NoFit()):  # a transformer; no fit
        with pytest.raises(InvalidParameterError, match="'fit' and 'predict'"):
            InfluenceTrimmer(est, method="oof_confidence").fit(X, y)
    with pytest.raises(InvalidParameterError, match="cv"):
        InfluenceTrimmer(SVC(), cv="five").fit(X, y)
    with pytest.raises(ValueError, match="cv must be at least 2"):
        oof_predictions(SVC(), X, y, cv=1)
    with pytest.raises(ValueError, match="exactly once"):
        oof_predictions(SVC(), X, y, cv=ShuffleSplit(3, random_state=0))
    with pytest.raises(ValueError, match="label_score"):
        oof_confidence_scores(SVC(), X, y, None, None, label_score="margin")
    X4, y4, _ = _flipped(n_classes=4)  # one-vs-one: 6 columns for 4 classes
    with pytest.raises(UnsupportedModelError, match="decision_function_shape='ovr'"):
        oof_predictions(SVC(decision_function_shape="ovo"), X4, y4)
    # an adapter method still names what is missing
    with pytest.raises(UnsupportedModelError, match="has no influence adapter"):
        InfluenceTrimmer(SVC(), method="loo_confidence").fit(X, y)
    Xr, yr = make_regression(n_samples=50, random_state=0)
    with pytest.raises(ValueError, match='budget="auto".*classifier'):
        InfluenceTrimmer(Ridge(), method="oof_confidence", budget="auto").fit(Xr, yr)


def test_measures_are_registered_as_model_agnostic():
    for name in ("oof_confidence", "data_oob"):
        m = MEASURES[name]
        assert m.inputs == "estimator" and m.curvature == "none" and not m.objective
        assert {"n_jobs", "random_state", "cache"} <= set(m.options)
    assert "cv" in MEASURES["oof_confidence"].options
    assert "n_estimators" in MEASURES["data_oob"].options
    trim = InfluenceTrimmer()
    assert trim.cv == 5 and trim.n_jobs is None and trim.n_estimators is None


# -- the scikit-learn contract: tests/test_estimator_checks.py ---------------------------------


# -- the command line ---------------------------------------------------------------------------
@pytest.mark.parametrize("model", ["svc", "knn", "mlp", "nb"])
def test_cli_clean_with_a_model_without_an_adapter(tmp_path, capsys, model):
    from skinfluence.__main__ import main

    X, y, _ = _flipped(n=120)
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])])
    frame["label"] = np.array(["no", "yes"])[y]
    data = tmp_path / "data.csv"
    frame.to_csv(data, index=False)
    argv = ["clean", str(data), "--target", "label", "--model", model, "--budget", "auto"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(argv) == 0
    out = capsys.readouterr().out
    assert "method auto (oof_confidence)" in out
    scores = pd.read_csv(tmp_path / "data.scores.csv")
    assert len(scores) == 120 and scores["score"].notna().all()


def test_auto_looks_through_a_pipeline_for_an_adapter():
    assert auto_method(make_pipeline(StandardScaler(), LogisticRegression())) == "loo_confidence"
    assert auto_method(make_pipeline(StandardScaler(), SVC())) == "oof_confidence"
    assert auto_method(LogisticRegression()) == "loo_confidence"

"""Data-OOB (Kwon & Zou 2023): the engine against hand loops, ensembles, the estimators."""

import joblib
import numpy as np
import pytest
import threadpoolctl
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import (
    BaggingClassifier,
    BaggingRegressor,
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.validation import has_fit_parameter

from skinfluence import InfluenceTrimmer, ShapleyValuator, UnsupportedModelError
from skinfluence.influence import MEASURES, estimate_n_issues
from skinfluence.valuation import (
    DATA_OOB_N_ESTIMATORS,
    bootstrap_rows,
    data_oob_values,
    uses_own_bootstrap,
)

# small B on purpose in many tests: a few rows are never out of bag (tested apart)
pytestmark = pytest.mark.filterwarnings("ignore:.*never out of bag:UserWarning")


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    with threadpoolctl.threadpool_limits(1):
        yield


@pytest.fixture
def binary():
    X, y = make_classification(n_samples=80, n_features=5, random_state=0)
    return X, y


@pytest.fixture
def multiclass():
    X, y = make_classification(
        n_samples=90, n_features=6, n_informative=4, n_classes=3, random_state=1
    )
    return X, np.array(["a", "b", "c"])[y]  # string labels: values are label correctness


@pytest.fixture
def regression():
    X, y = make_regression(n_samples=60, n_features=4, noise=5.0, random_state=2)
    return X, y


def _entropy(random_state):
    return check_random_state(random_state).randint(np.iinfo(np.int32).max)


def _hand_loop(estimator, X, y, B, random_state, sample_weight=None):
    """Data-OOB by the documented recipe: fit on each bootstrap draw, score its OOB rows."""
    n = len(y)
    entropy = _entropy(random_state)
    p = None if sample_weight is None else sample_weight / sample_weight.sum()
    scores = [[] for _ in range(n)]
    votes = np.zeros((n, len(np.unique(y))))
    classes = np.unique(y)
    classifier = y.dtype.kind not in "f"
    for b in range(B):
        rng = np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(b,)))
        inbag = rng.integers(0, n, size=n) if p is None else rng.choice(n, n, replace=True, p=p)
        oob = np.setdiff1d(np.arange(n), inbag)
        model = clone(estimator).fit(X[inbag], y[inbag])
        pred = model.predict(X[oob])
        for i, pi in zip(oob, pred):
            if classifier:
                scores[i].append(float(pi == y[i]))
                votes[i, np.searchsorted(classes, pi)] += 1
            else:
                scores[i].append(-((y[i] - pi) ** 2))
    values = np.array([np.mean(s) if s else np.nan for s in scores])
    stderr = np.array(
        [np.std(s, ddof=1) / np.sqrt(len(s)) if len(s) > 1 else np.nan for s in scores]
    )
    counts = np.array([len(s) for s in scores])
    return values, stderr, counts, votes / np.maximum(counts, 1)[:, None]


# -- the engine against the definition ----------------------------------------------------------
@pytest.mark.parametrize("data", ["binary", "multiclass"])
def test_classifier_values_equal_a_hand_loop(data, request):
    X, y = request.getfixturevalue(data)
    est = LogisticRegression(max_iter=500)
    res = data_oob_values(est, X, y, n_estimators=12, random_state=3)
    values, stderr, counts, votes = _hand_loop(est, X, y, 12, 3)
    np.testing.assert_array_equal(res.n_out_of_bag, counts)
    np.testing.assert_allclose(res.values, values, equal_nan=True)
    np.testing.assert_allclose(res.stderr, stderr, equal_nan=True, atol=1e-12)
    seen = counts > 0
    np.testing.assert_allclose(res.oob_proba[seen], votes[seen])
    # a row's value is the vote share of its own label
    y_enc = np.searchsorted(np.unique(y), y)
    np.testing.assert_allclose(res.values[seen], res.oob_proba[seen, y_enc[seen]])
    assert res.n_iter == res.n_evaluations == 12 and res.converged and res.status == "complete"


def test_regressor_values_equal_a_hand_loop(regression):
    X, y = regression
    res = data_oob_values(Ridge(), X, y, n_estimators=15, random_state=0)
    values, stderr, counts, _ = _hand_loop(Ridge(), X, y, 15, 0)
    np.testing.assert_allclose(res.values, values, rtol=1e-10, equal_nan=True)
    np.testing.assert_allclose(res.stderr, stderr, rtol=1e-8, equal_nan=True)
    assert res.oob_proba is None and np.all(res.values[counts > 0] <= 0)


def test_sample_weight_draws_rows_in_proportion(binary):
    X, y = binary
    w = np.linspace(0.1, 2.0, len(y))
    res = data_oob_values(GaussianNB(), X, y, n_estimators=10, sample_weight=w, random_state=4)
    values, _, counts, _ = _hand_loop(GaussianNB(), X, y, 10, 4, sample_weight=w)
    np.testing.assert_allclose(res.values, values, equal_nan=True)
    np.testing.assert_array_equal(res.n_out_of_bag, counts)
    # heavy rows are drawn more often, so they are out of bag less often
    assert counts[-20:].mean() < counts[:20].mean()
    # the trimmer's sample_weight reaches the draws
    trim = InfluenceTrimmer(GaussianNB(), method="data_oob", n_estimators=10, budget=3)
    trim.set_params(random_state=4).fit(X, y, sample_weight=w)
    seen = counts > 0
    np.testing.assert_allclose(trim.scores_[seen], -values[seen])


def test_bootstrap_rows_is_the_documented_recipe():
    entropy = _entropy(7)
    rng = np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(5,)))
    np.testing.assert_array_equal(bootstrap_rows(entropy, 5, 30), rng.integers(0, 30, size=30))


# -- ensembles: their own bootstrap samples ----------------------------------------------------
def _members_by_hand(model, X, y_target, classifier):
    """Refit each member on its own in-bag rows; value the out-of-bag rows with it."""
    n = len(y_target)
    total, count = np.zeros(n), np.zeros(n)
    features = getattr(model, "estimators_features_", [None] * len(model.estimators_))
    for member, inbag, feats in zip(model.estimators_, model.estimators_samples_, features):
        Xm = X if feats is None else X[:, feats]
        refit = clone(member)
        if has_fit_parameter(refit, "sample_weight"):  # as bagging decides; forests always
            refit.fit(Xm, y_target, sample_weight=np.bincount(inbag, minlength=n))
        else:
            refit.fit(Xm[inbag], y_target[inbag])
        oob = np.setdiff1d(np.arange(n), inbag)
        # the refit on the in-bag rows is the member itself
        np.testing.assert_allclose(refit.predict(Xm), member.predict(Xm), rtol=1e-12)
        pred = refit.predict(Xm[oob])
        total[oob] += (pred == y_target[oob]) if classifier else -((y_target[oob] - pred) ** 2)
        count[oob] += 1
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


@pytest.mark.parametrize(
    "ensemble",
    [
        RandomForestClassifier(n_estimators=15, random_state=0),
        ExtraTreesClassifier(n_estimators=15, bootstrap=True, random_state=0),
        BaggingClassifier(
            DecisionTreeClassifier(), n_estimators=12, max_features=0.6, random_state=0
        ),
        # KNN takes no sample_weight: bagging fits it on the drawn rows themselves
        BaggingClassifier(KNeighborsClassifier(3), n_estimators=8, random_state=0),
        BaggingClassifier(GaussianNB(), n_estimators=8, bootstrap=False, max_samples=0.7),
    ],
    ids=lambda e: type(e).__name__ + ("" if not hasattr(e, "estimator") else f"-{e.estimator!r}"),
)
def test_ensemble_shortcut_equals_refitting_its_members(ensemble, multiclass):
    X, y = multiclass
    assert uses_own_bootstrap(ensemble, len(y))
    res = data_oob_values(ensemble, X, y, random_state=0)
    # a random_state of None is seeded from the engine's random_state: refit alike
    seed = _entropy(0) if ensemble.random_state is None else ensemble.random_state
    model = clone(ensemble).set_params(random_state=seed).fit(X, y)
    y_enc = np.searchsorted(model.classes_, y)  # members are fitted on class positions
    want = _members_by_hand(model, X, y_enc, classifier=True)
    np.testing.assert_allclose(res.values, want, equal_nan=True)
    assert res.n_evaluations == 1 and res.n_iter == len(model.estimators_)


@pytest.mark.parametrize(
    "ensemble",
    [
        RandomForestRegressor(n_estimators=10, random_state=1),
        ExtraTreesRegressor(n_estimators=10, bootstrap=True, random_state=1),
        BaggingRegressor(Ridge(), n_estimators=10, random_state=1),
    ],
    ids=lambda e: type(e).__name__,
)
def test_regression_ensemble_shortcut_equals_refitting(ensemble, regression):
    X, y = regression
    res = data_oob_values(ensemble, X, y)
    model = clone(ensemble).fit(X, y)
    want = _members_by_hand(model, X, y, False)
    np.testing.assert_allclose(res.values, want, rtol=1e-10, equal_nan=True)


def test_forest_samples_are_the_trees_own_rows(binary):
    # estimators_samples_ regenerates each tree's draw from its seed; a tree refitted on
    # the counts of those rows is the same tree, split for split
    X, y = binary
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    for tree, inbag in zip(forest.estimators_, forest.estimators_samples_):
        refit = clone(tree).fit(X, y, sample_weight=np.bincount(inbag, minlength=len(y)))
        np.testing.assert_array_equal(refit.tree_.feature, tree.tree_.feature)
        np.testing.assert_array_equal(refit.tree_.threshold, tree.tree_.threshold)
        np.testing.assert_array_equal(refit.tree_.value, tree.tree_.value)


def test_ensemble_parameters_and_fallbacks(binary):
    X, y = binary
    # n_estimators given sets the forest's size; random_state None is seeded
    forest = RandomForestClassifier(n_estimators=3)
    res = data_oob_values(forest, X, y, n_estimators=20, random_state=5)
    again = data_oob_values(forest, X, y, n_estimators=20, random_state=5)
    assert res.n_iter == 20 and res.n_evaluations == 1
    np.testing.assert_array_equal(res.values, again.values)
    assert forest.n_estimators == 3 and forest.random_state is None  # never modified
    # a forest without bootstrap has no out-of-bag rows: refitted as any estimator
    no_bag = ExtraTreesClassifier(n_estimators=3, random_state=0)
    assert not uses_own_bootstrap(no_bag, len(y))
    res = data_oob_values(no_bag, X, y, n_estimators=4, random_state=0)
    assert res.n_evaluations == 4
    assert not uses_own_bootstrap(BaggingClassifier(bootstrap=False), len(y))
    assert uses_own_bootstrap(BaggingClassifier(bootstrap=False, max_samples=50), len(y))


# -- determinism and parallel paths -------------------------------------------------------------
def test_deterministic_for_any_n_jobs_and_task_size(binary):
    X, y = binary
    kw = dict(n_estimators=10, random_state=0)
    one = data_oob_values(GaussianNB(), X, y, n_jobs=1, **kw)
    with joblib.parallel_config(backend="threading"):  # two workers, no process start-up
        two = data_oob_values(GaussianNB(), X, y, n_jobs=2, draws_per_task=3, **kw)
    three = data_oob_values(GaussianNB(), X, y, draws_per_task=1, **kw)
    for other in (two, three):
        np.testing.assert_array_equal(one.values, other.values)
        np.testing.assert_array_equal(one.stderr, other.stderr)
    other_seed = data_oob_values(GaussianNB(), X, y, n_estimators=10, random_state=1)
    assert not np.array_equal(one.n_out_of_bag, other_seed.n_out_of_bag)


def test_dask_backend_equals_sequential(binary):
    distributed = pytest.importorskip("distributed")
    X, y = binary
    kw = dict(n_estimators=8, draws_per_task=2, random_state=3)
    sequential = ShapleyValuator(LogisticRegression(), method="data_oob", **kw).fit(X, y)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster),
    ):
        with joblib.parallel_backend("dask"):
            on_dask = ShapleyValuator(LogisticRegression(), method="data_oob", **kw).fit(X, y)
    np.testing.assert_array_equal(on_dask.values_, sequential.values_)
    np.testing.assert_array_equal(on_dask.trimmed_indices_, sequential.trimmed_indices_)


# -- rows never out of bag ----------------------------------------------------------------------
def test_rows_never_out_of_bag_are_nan_with_a_warning(binary):
    X, y = binary
    with pytest.warns(UserWarning, match="never out of bag"):
        res = data_oob_values(GaussianNB(), X, y, n_estimators=2, random_state=0)
    never = res.n_out_of_bag == 0
    assert never.any() and np.isnan(res.values[never]).all()
    assert np.isfinite(res.values[~never]).all() and np.isnan(res.oob_proba[never]).all()
    with pytest.warns(UserWarning, match="never out of bag"):
        val = ShapleyValuator(
            GaussianNB(), method="data_oob", n_estimators=2, budget=10, random_state=0
        ).fit(X, y)
    np.testing.assert_array_equal(np.isnan(val.values_), never)
    assert not np.isin(val.trimmed_indices_, np.flatnonzero(never)).any()


# -- ShapleyValuator(method="data_oob") ---------------------------------------------------------
def test_valuator_values_every_row_without_validation(binary):
    X, y = binary
    val = ShapleyValuator(
        LogisticRegression(), method="data_oob", n_estimators=30, budget=8, random_state=0
    ).fit(X, y)
    res = data_oob_values(LogisticRegression(), X, y, n_estimators=30, random_state=0)
    np.testing.assert_array_equal(val.values_, res.values)
    np.testing.assert_array_equal(val.values_stderr_, res.stderr)
    assert val.n_iter_ == 30 and val.n_evaluations_ == 30 and val.converged_
    assert val._needs_validation() is False
    lowest = np.argsort(res.values, kind="stable")[:8]
    np.testing.assert_array_equal(np.sort(val.trimmed_indices_), np.sort(lowest))
    # the other methods still hold out 0.2 under validation="auto"
    tmc = ShapleyValuator(GaussianNB(), max_iter=2, random_state=0).fit(X, y)
    assert np.isnan(tmc.values_).sum() == 16
    with pytest.raises(ValueError, match="method='tmc' needs validation rows"):
        ShapleyValuator(GaussianNB(), validation=None).fit(X, y)
    # an explicit share is still held out for data_oob
    held = ShapleyValuator(GaussianNB(), method="data_oob", validation=0.25, random_state=0)
    assert np.isnan(held.fit(X, y).values_).sum() == 20


def test_valuator_data_oob_finds_flipped_labels():
    X, y = make_classification(n_samples=300, n_features=6, class_sep=1.5, random_state=0)
    flipped = np.random.default_rng(0).choice(len(y), 30, replace=False)
    y[flipped] = 1 - y[flipped]
    val = ShapleyValuator(
        RandomForestClassifier(n_estimators=100, random_state=0), method="data_oob", budget=30
    ).fit(X, y)
    assert len(np.intersect1d(val.trimmed_indices_, flipped)) >= 20


def test_valuator_with_a_forest_reads_its_trees(binary):
    X, y = binary
    forest = RandomForestClassifier(n_estimators=25, random_state=0)
    val = ShapleyValuator(forest, method="data_oob").fit(X, y)
    np.testing.assert_array_equal(val.values_, data_oob_values(forest, X, y).values)
    assert val.n_evaluations_ == 1 and val.n_iter_ == 25


# the scikit-learn contract of ShapleyValuator(method="data_oob"): tests/test_estimator_checks.py


# -- InfluenceTrimmer(method="data_oob") -------------------------------------------------------
def test_trimmer_scores_are_minus_the_values_and_budget_auto_reads_the_votes(multiclass):
    X, y = multiclass
    trim = InfluenceTrimmer(
        GaussianNB(), method="data_oob", n_estimators=40, budget="auto", random_state=0
    ).fit(X, y)
    res = data_oob_values(GaussianNB(), X, y, n_estimators=40, random_state=0)
    np.testing.assert_array_equal(trim.scores_, -res.values)
    assert trim.method_ == "data_oob" and MEASURES["data_oob"].inputs == "estimator"
    assert trim.n_issues_ == estimate_n_issues(res.oob_proba, np.searchsorted(trim.classes_, y))
    # default n_estimators: the engine's 100 bootstrap fits
    assert DATA_OOB_N_ESTIMATORS == 100
    default = InfluenceTrimmer(GaussianNB(), method="data_oob", budget=5, random_state=0)
    res = data_oob_values(GaussianNB(), X, y, random_state=0)
    np.testing.assert_array_equal(default.fit(X, y).scores_, -res.values)


def test_trimmer_scores_rows_never_out_of_bag_lowest(binary):
    X, y = binary
    with pytest.warns(UserWarning, match="never out of bag"):
        trim = InfluenceTrimmer(
            GaussianNB(), method="data_oob", n_estimators=2, budget=5, random_state=0
        ).fit(X, y)
    res = data_oob_values(GaussianNB(), X, y, n_estimators=2, random_state=0)
    never = np.isnan(res.values)
    assert np.isfinite(trim.scores_).all()
    np.testing.assert_array_equal(trim.scores_[never], np.min(-res.values[~never]))
    assert not np.isin(trim.trimmed_indices_, np.flatnonzero(never)).any()


def test_trimmer_data_oob_on_a_regressor(regression):
    X, y = regression
    trim = InfluenceTrimmer(Ridge(), method="data_oob", n_estimators=20, budget=5, random_state=1)
    res = data_oob_values(Ridge(), X, y, n_estimators=20, random_state=1)
    np.testing.assert_allclose(trim.fit(X, y).scores_, -res.values)
    with pytest.raises(ValueError, match='budget="auto".*classifier'):
        InfluenceTrimmer(Ridge(), method="data_oob", budget="auto").fit(X, y)


# -- bad input ----------------------------------------------------------------------------------
def test_bad_input(binary):
    X, y = binary
    for bad in (1, 0, -3, 2.5, True):
        with pytest.raises(ValueError, match="n_estimators >= 2"):
            data_oob_values(GaussianNB(), X, y, n_estimators=bad)
    with pytest.raises(InvalidParameterError, match="n_estimators"):
        ShapleyValuator(method="data_oob", n_estimators=1).fit(X, y)
    with pytest.raises(ValueError, match="n_estimators >= 2"):
        InfluenceTrimmer(GaussianNB(), method="data_oob", n_estimators=1).fit(X, y)
    with pytest.raises(ValueError, match="classifier or a regressor"):
        data_oob_values(KMeans(2, n_init=1), X, y)
    with pytest.raises(UnsupportedModelError, match="neither a classifier nor a regressor"):
        InfluenceTrimmer(KMeans(2, n_init=1), method="data_oob").fit(X, y)
    with pytest.raises(ValueError, match="sample_weight"):
        data_oob_values(GaussianNB(), X, y, sample_weight=-np.ones(len(y)))
    with pytest.raises(ValueError, match="every one of the 3 bootstrap fits"):
        data_oob_values(LogisticRegression(C=-1.0), X, y, n_estimators=3)
    with pytest.raises(ValueError, match="draws_per_task"):
        data_oob_values(GaussianNB(), X, y, draws_per_task=0)


def test_caller_arrays_are_not_modified(binary):
    X, y = binary
    X0, y0 = X.copy(), y.copy()
    data_oob_values(GaussianNB(), X, y, n_estimators=5, random_state=0)
    data_oob_values(RandomForestClassifier(n_estimators=3), X, y, random_state=0)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)

"""Tree ensembles: the adapter and the tree measures against brute-force definitions.

The oracles replay every boosting stage in plain Python loops (over stages, trees and
leaves) with the loss written out here, reading only the structure from the adapter
(leaf assignments, validated against the library's own predictions when the adapter
is built): refits with a row removed, finite differences under reweighting a row,
BoostIn's sum over stages. Forests are refit from their bootstrap counts, and the
out-of-bag predictions compared with scikit-learn's ``oob_decision_function_``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.special import expit, softmax
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.exceptions import NotFittedError

from skinfluence import InfluenceActiveLearner, InfluenceTrimmer, influence_scores
from skinfluence.adapters import make_adapter, model_family
from skinfluence.exceptions import UnsupportedModelError
from skinfluence.influence import MEASURES, estimate_label_issues, leaf_loo_proba, oob_proba

# -- data and models --------------------------------------------------------------------


def _data(task, seed=0, n=70):
    if task == "regression":
        X, y = make_regression(n + 30, 4, noise=10.0, random_state=seed)
        y = y / 50.0
    else:
        classes = 2 if task == "binary" else 3
        X, y = make_classification(
            n + 30, 4, n_informative=3, n_redundant=0, n_classes=classes, random_state=seed
        )
        rng = np.random.default_rng(seed)
        flip = rng.choice(n, n // 10, replace=False)
        y[flip] = (y[flip] + 1) % classes
    return X[:n], y[:n], X[n:], y[n:]


def _lightgbm(task):
    lgb = pytest.importorskip("lightgbm")
    kw = dict(n_estimators=3, num_leaves=4, min_child_samples=5, reg_lambda=0.5, verbose=-1)
    kw["n_jobs"] = 1
    return lgb.LGBMRegressor(**kw) if task == "regression" else lgb.LGBMClassifier(**kw)


def _xgboost(task):
    xgb = pytest.importorskip("xgboost")
    kw = dict(n_estimators=3, max_depth=2, learning_rate=0.3, reg_lambda=0.5, n_jobs=1)
    return xgb.XGBRegressor(**kw) if task == "regression" else xgb.XGBClassifier(**kw)


BOOSTING = {
    "hgb": lambda task: (
        HistGradientBoostingRegressor if task == "regression" else HistGradientBoostingClassifier
    )(max_iter=3, max_leaf_nodes=4, min_samples_leaf=5, l2_regularization=0.5, learning_rate=0.3),
    "gb": lambda task: (
        GradientBoostingRegressor if task == "regression" else GradientBoostingClassifier
    )(n_estimators=3, max_depth=2, learning_rate=0.3, random_state=0),
    "lightgbm": _lightgbm,
    "xgboost": _xgboost,
}
FORESTS = {
    "rf": lambda task: (RandomForestRegressor if task == "regression" else RandomForestClassifier)(
        n_estimators=6, max_depth=4, random_state=0
    ),
    "et": lambda task: (ExtraTreesRegressor if task == "regression" else ExtraTreesClassifier)(
        n_estimators=6, random_state=0
    ),
}
TASKS = ("binary", "multiclass", "regression")


def _fitted(kind, task, seed=0):
    X, y, Xv, yv = _data(task, seed)
    make = BOOSTING.get(kind) or FORESTS[kind]
    model = make(task).fit(X, y)
    return model, X, y, Xv, yv


# -- the brute-force oracles -------------------------------------------------------------
def _loss_parts(adapter, F, y):
    """g, h (the library's), loss and probabilities written out for the oracles."""
    name = type(adapter.estimator).__name__
    K = F.shape[1]
    if not adapter.is_classifier:
        return F - y[:, None], np.ones_like(F), 0.5 * (y - F[:, 0]) ** 2
    if K == 1:
        p = expit(F[:, 0])
        loss = np.logaddexp(0, F[:, 0]) - y * F[:, 0]
        return (p - y)[:, None], (p * (1 - p))[:, None], loss
    P = softmax(F, axis=1)
    Y = np.eye(K)[y]
    factor = {"LGBMClassifier": K / (K - 1), "XGBClassifier": 2.0}.get(name, 1.0)
    loss = -np.log(P[np.arange(len(y)), y])
    return P - Y, factor * P * (1 - P), loss


def _replay(adapter, X, y, weights, X_eval, frozen=None, follow=None):
    """Raw outputs of ``X_eval`` after refitting every leaf, stage by stage, with row
    weights ``weights``. ``frozen``: per-stage (g, h) used for every row but ``follow``
    (the single-point refit). An emptied leaf takes its parent's rows."""
    lay = adapter.tree_layout()
    a, b = adapter.leaf_coefficients()
    leaves = adapter.leaf_indices(X)
    ev = adapter.leaf_indices(X_eval)
    F = np.tile(adapter.baseline, (len(X), 1))
    Fe = np.tile(adapter.baseline, (len(X_eval), 1))
    for t in range(lay.n_stages):
        g, h, _ = _loss_parts(adapter, F, y)
        if frozen is not None:
            g0, h0 = frozen[t]
            g, h = g0.copy(), h0.copy()
            if follow is not None:
                gi, hi, _ = _loss_parts(adapter, F[[follow]], y[[follow]])
                g[follow], h[follow] = gi[0], hi[0]
        dF, dFe = np.zeros_like(F), np.zeros_like(Fe)
        for s in np.flatnonzero(lay.tree_stage == t):
            k = lay.tree_output[s]
            start, stop = lay.leaf_start[s], lay.leaf_start[s + 1]
            values = lay.leaf_value[start:stop, 0].copy()
            if lay.refit[s]:
                for pos in range(start, stop):
                    rows = leaves[:, s] == pos
                    if weights[rows].sum() == 0:
                        lo, hi = lay.parent_lo[pos], lay.parent_hi[pos]
                        rows = (leaves[:, s] >= lo) & (leaves[:, s] < hi)
                    G = (weights[rows] * g[rows, k]).sum()
                    H = (weights[rows] * h[rows, k]).sum()
                    values[pos - start] = -a * G / (H + b) if H + b > 1e-150 else 0.0
            dF[:, k] += values[leaves[:, s] - start]
            dFe[:, k] += values[ev[:, s] - start]
        F += dF
        Fe += dFe
    return Fe


def _stage_gradients(adapter, X, y):
    """Per-stage (g, h) of the fitted model, for frozen refits."""
    lay = adapter.tree_layout()
    leaves = adapter.leaf_indices(X)
    F = np.tile(adapter.baseline, (len(X), 1))
    out = []
    for t in range(lay.n_stages):
        g, h, _ = _loss_parts(adapter, F, y)
        out.append((g, h))
        for s in np.flatnonzero(lay.tree_stage == t):
            F[:, lay.tree_output[s]] += lay.leaf_value[leaves[:, s], 0]
    return out


def _val_loss(adapter, F, y):
    return _loss_parts(adapter, F, y)[2].mean()


def _forest_refit(adapter, X, y, removed, X_eval):
    """A forest's predictions at ``X_eval`` with every leaf refit without ``removed``."""
    lay = adapter.tree_layout()
    counts = np.array(lay.row_weight, dtype=float)
    if removed is not None:
        counts[removed] = 0
    Y = np.eye(adapter.n_outputs)[y] if adapter.is_classifier else y[:, None]
    leaves, ev = adapter.leaf_indices(X), adapter.leaf_indices(X_eval)
    total = np.zeros((len(X_eval), Y.shape[1]))
    for s in range(lay.n_trees):
        for pos in range(lay.leaf_start[s], lay.leaf_start[s + 1]):
            rows = leaves[:, s] == pos
            if counts[rows, s].sum() == 0:
                lo, hi = lay.parent_lo[pos], lay.parent_hi[pos]
                rows = (leaves[:, s] >= lo) & (leaves[:, s] < hi)
            c = counts[rows, s]
            value = c @ Y[rows] / c.sum() if c.sum() > 0 else lay.leaf_value[pos]
            total[ev[:, s] == pos] += value
    return total / lay.n_trees


def _forest_loss(adapter, P, y):
    if adapter.is_classifier:
        return ((P - np.eye(P.shape[1])[y]) ** 2).sum(axis=1).mean()
    return (0.5 * (y - P[:, 0]) ** 2).mean()


# -- leaf_refit: leave-one-out with the structures fixed, by hand ------------------------
@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("kind", list(BOOSTING) + list(FORESTS))
def test_leaf_refit_equals_refit_by_hand(kind, task):
    model, X, y, Xv, yv = _fitted(kind, task)
    adapter = make_adapter(model, X, y)
    y_enc, yv_enc = adapter.encode_y(y), adapter.encode_y(yv)
    scores = influence_scores(model, X, y, Xv, yv, method="leaf_refit")
    rows = [0, 3, 17, 41, 66]
    expected = []
    for i in rows:
        if kind in FORESTS:
            full = _forest_loss(adapter, _forest_refit(adapter, X, y_enc, None, Xv), yv_enc)
            loo = _forest_loss(adapter, _forest_refit(adapter, X, y_enc, i, Xv), yv_enc)
        else:
            w = np.ones(len(X))
            full = _val_loss(adapter, _replay(adapter, X, y_enc, w, Xv), yv_enc)
            w[i] = 0
            loo = _val_loss(adapter, _replay(adapter, X, y_enc, w, Xv), yv_enc)
        expected.append(full - loo)
    np.testing.assert_allclose(scores[rows], expected, rtol=1e-7, atol=1e-12)


# -- boostin: its definition on a three-tree model ----------------------------------------
@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("kind", ["hgb", "gb", "lightgbm", "xgboost"])
def test_boostin_equals_definition(kind, task):
    model, X, y, Xv, yv = _fitted(kind, task)
    adapter = make_adapter(model, X, y)
    lay = adapter.tree_layout()
    assert lay.n_stages == 3
    y_enc, yv_enc = adapter.encode_y(y), adapter.encode_y(yv)
    a, b = adapter.leaf_coefficients()
    stages_tr = _stage_gradients(adapter, X, y_enc)
    stages_va = _stage_gradients(adapter, Xv, yv_enc)
    leaves, val_leaves = adapter.leaf_indices(X), adapter.leaf_indices(Xv)
    eps = 1e-6
    rows = [0, 5, 30, 69]
    expected, expected_self = [], []
    for i in rows:
        total, own = 0.0, 0.0
        for s in range(lay.n_trees):
            if not lay.refit[s]:
                continue
            t, k, pos = lay.tree_stage[s], lay.tree_output[s], leaves[i, s]
            g, h = stages_tr[t]
            members = leaves[:, s] == pos

            def leaf_value(w_i):
                w = members.astype(float)
                w[i] = w_i
                return -a * (w * g[:, k]).sum() / ((w * h[:, k]).sum() + b)

            delta = (leaf_value(1 + eps) - leaf_value(1 - eps)) / (2 * eps)
            shared = val_leaves[:, s] == pos
            total += stages_va[t][0][shared, k].sum() / len(Xv) * delta
            own -= g[i, k] * delta
        expected.append(total)
        expected_self.append(own)
    scores = influence_scores(model, X, y, Xv, yv, method="boostin")
    self_scores = influence_scores(model, X, y, method="boostin_self")
    np.testing.assert_allclose(scores[rows], expected, rtol=1e-5, atol=1e-10)
    np.testing.assert_allclose(self_scores[rows], expected_self, rtol=1e-5, atol=1e-10)


# -- leaf_influence: finite differences of the leaf values under reweighting -----------------
@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("kind", ["hgb", "gb", "xgboost"])
def test_leaf_influence_equals_finite_differences(kind, task):
    model, X, y, Xv, yv = _fitted(kind, task)
    adapter = make_adapter(model, X, y)
    y_enc, yv_enc = adapter.encode_y(y), adapter.encode_y(yv)
    full = influence_scores(model, X, y, Xv, yv, method="leaf_influence")
    single = influence_scores(model, X, y, Xv, yv, method="leaf_influence_sp")
    frozen = _stage_gradients(adapter, X, y_enc)
    eps = 1e-5
    rows = [1, 12, 50]
    expected_full, expected_single = [], []
    for i in rows:
        up, down = np.ones(len(X)), np.ones(len(X))
        up[i], down[i] = 1 + eps, 1 - eps

        def loss(w, **kw):
            return _val_loss(adapter, _replay(adapter, X, y_enc, w, Xv, **kw), yv_enc)

        expected_full.append((loss(up) - loss(down)) / (2 * eps))
        kw = {"frozen": frozen, "follow": i}
        expected_single.append((loss(up, **kw) - loss(down, **kw)) / (2 * eps))
    np.testing.assert_allclose(full[rows], expected_full, rtol=1e-4, atol=1e-9)
    np.testing.assert_allclose(single[rows], expected_single, rtol=1e-4, atol=1e-9)


# -- leaf_loo: leave-one-out label quality, single point for boosting, exact for forests --
@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
@pytest.mark.parametrize("kind", ["hgb", "gb", "lightgbm", "rf", "et"])
def test_leaf_loo_equals_refit_by_hand(kind, task):
    model, X, y, _, _ = _fitted(kind, task)
    adapter = make_adapter(model, X, y)
    y_enc = adapter.encode_y(y)
    P = leaf_loo_proba(adapter, X, y_enc)
    frozen = None if kind in FORESTS else _stage_gradients(adapter, X, y_enc)
    for i in [0, 9, 33, 68]:
        if kind in FORESTS:
            expected = _forest_refit(adapter, X, y_enc, i, X[[i]])[0]
        else:
            w = np.ones(len(X))
            w[i] = 0
            F = _replay(adapter, X, y_enc, w, X[[i]], frozen=frozen)
            expected = adapter.output_proba(F)[0]
        expected = expected if adapter.is_classifier else np.ravel(expected)[0]
        np.testing.assert_allclose(P[i], expected, rtol=1e-6, atol=1e-7)
    scores = influence_scores(model, X, y, method="leaf_loo")
    if adapter.is_classifier:
        np.testing.assert_allclose(scores, 1 - P[np.arange(len(y)), y_enc])


def test_oob_equals_sklearn_oob_decision_function():
    X, y, _, _ = _data("multiclass", n=120)
    model = RandomForestClassifier(n_estimators=15, oob_score=True, random_state=0).fit(X, y)
    adapter = make_adapter(model, X, y)
    P = oob_proba(adapter, X, adapter.encode_y(y))
    seen = ~np.isnan(model.oob_decision_function_).any(axis=1)
    np.testing.assert_allclose(P[seen], model.oob_decision_function_[seen], atol=1e-12)
    scores = influence_scores(model, X, y, method="oob")
    np.testing.assert_allclose(scores, 1 - P[np.arange(len(y)), y])
    Xr, yr, _, _ = _data("regression", n=120)
    reg = RandomForestRegressor(n_estimators=15, oob_score=True, random_state=0).fit(Xr, yr)
    mu = oob_proba(make_adapter(reg, Xr, yr), Xr, yr)
    np.testing.assert_allclose(mu, reg.oob_prediction_, atol=1e-12)


# -- LightGBM and XGBoost give the scikit-learn scores when the models coincide -------------
def _coinciding(task):
    """Two binary features: every library finds the same stumps."""
    rng = np.random.default_rng(3)
    X = rng.integers(0, 2, size=(80, 2)).astype(float)
    if task == "binary":
        y = (rng.uniform(size=80) < 0.2 + 0.5 * X[:, 0] + 0.2 * X[:, 1]).astype(int)
    else:
        y = 2.0 * X[:, 0] - X[:, 1] + rng.normal(scale=0.5, size=80)
    return X[:60], y[:60], X[60:], y[60:]


@pytest.mark.parametrize("task", ["binary", "regression"])
def test_lightgbm_and_xgboost_equal_sklearn_on_the_same_trees(task):
    lgb = pytest.importorskip("lightgbm")
    xgb = pytest.importorskip("xgboost")
    X, y, Xv, yv = _coinciding(task)
    lr, lam, n = 0.3, 1.0, 4
    hgb = HistGradientBoostingRegressor if task == "regression" else HistGradientBoostingClassifier
    ref = hgb(max_iter=n, max_depth=1, min_samples_leaf=1, l2_regularization=lam, learning_rate=lr)
    lgb_cls = lgb.LGBMRegressor if task == "regression" else lgb.LGBMClassifier
    light = lgb_cls(
        n_estimators=n, num_leaves=2, min_child_samples=1, min_child_weight=0, reg_lambda=lam,
        learning_rate=lr, verbose=-1, n_jobs=1,
    )  # fmt: skip
    base = float(np.mean(y))
    xgb_cls = xgb.XGBRegressor if task == "regression" else xgb.XGBClassifier
    boost = xgb_cls(
        n_estimators=n, max_depth=1, min_child_weight=0, reg_lambda=lam, learning_rate=lr,
        base_score=base, n_jobs=1,
    )  # fmt: skip
    models = [m.fit(X, y) for m in (ref, light, boost)]
    adapters = [make_adapter(m, X, y) for m in models]
    raw = [a.raw_outputs(a.leaf_indices(X)) for a in adapters]
    np.testing.assert_allclose(raw[1], raw[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(raw[2], raw[0], rtol=1e-5, atol=1e-5)
    for method in ("boostin", "boostin_self", "leaf_influence_sp", "leaf_refit", "leaf_loo"):
        scores = [influence_scores(m, X, y, Xv, yv, method=method) for m in models]
        scale = np.abs(scores[0]).max()
        np.testing.assert_allclose(scores[1], scores[0], atol=1e-5 * scale, err_msg=method)
        np.testing.assert_allclose(scores[2], scores[0], atol=1e-4 * scale, err_msg=method)


# -- the adapter's reading of the models --------------------------------------------------------
@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("kind", list(BOOSTING) + list(FORESTS))
def test_adapter_replays_the_model(kind, task):
    model, X, y, Xv, _ = _fitted(kind, task)
    adapter = make_adapter(model, X, y)
    lay = adapter.tree_layout()
    leaves = adapter.leaf_indices(Xv)
    assert leaves.shape == (len(Xv), lay.n_trees)
    starts = lay.leaf_start[np.arange(lay.n_trees)]
    assert np.all((leaves >= starts) & (leaves < lay.leaf_start[1:]))
    assert model_family(model) == "trees"
    if kind in FORESTS:
        P = lay.leaf_value[leaves].mean(axis=1)
        own = model.predict_proba(Xv) if adapter.is_classifier else model.predict(Xv)[:, None]
        np.testing.assert_allclose(P, own, atol=1e-12)
    else:
        F = adapter.raw_outputs(leaves)
        P = adapter.output_proba(F)
        own = model.predict_proba(Xv) if adapter.is_classifier else model.predict(Xv)
        np.testing.assert_allclose(P, own, rtol=1e-5, atol=1e-6)


def test_hgb_early_stopping_rows_weigh_nothing():
    X, y, _, _ = _data("binary", n=300)
    model = HistGradientBoostingClassifier(
        max_iter=30, early_stopping=True, validation_fraction=0.2, n_iter_no_change=2,
        random_state=0,
    ).fit(X, y)  # fmt: skip
    adapter = make_adapter(model, X, y)
    weight = np.asarray(adapter.tree_layout().row_weight[:, 0])
    assert weight.sum() == 240
    P = leaf_loo_proba(adapter, X, adapter.encode_y(y))
    held = weight == 0
    np.testing.assert_allclose(P[held], model.predict_proba(X[held]), atol=1e-6)


def test_hgb_categorical_splits_from_codes():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.integers(0, 5, 200), rng.normal(size=200)]).astype(float)
    y = ((X[:, 0] % 2 == 0) ^ (rng.uniform(size=200) < 0.1)).astype(int)
    model = HistGradientBoostingClassifier(max_iter=5, categorical_features=[0]).fit(X, y)
    assert influence_scores(model, X, y, method="leaf_loo").shape == (200,)


# -- bad input ------------------------------------------------------------------------------
def test_unfitted_model():
    X, y, _, _ = _data("binary")
    with pytest.raises(NotFittedError):
        influence_scores(HistGradientBoostingClassifier(), X, y, method="leaf_loo")


@pytest.mark.parametrize(
    "model, match",
    [
        (HistGradientBoostingRegressor(loss="absolute_error", max_iter=3), "absolute_error"),
        (HistGradientBoostingRegressor(max_iter=3, monotonic_cst=[1, 0, 0, 0]), "monotonic"),
        (GradientBoostingRegressor(loss="huber", n_estimators=3), "huber"),
        (GradientBoostingRegressor(subsample=0.5, n_estimators=3), "subsample"),
        (RandomForestRegressor(n_estimators=3, criterion="absolute_error"), "absolute_error"),
    ],
)
def test_unsupported_regressor_settings(model, match):
    X, y, _, _ = _data("regression")
    model.fit(X, y)
    with pytest.raises(UnsupportedModelError, match=match):
        influence_scores(model, X, y, method="leaf_loo")


def test_unsupported_classifier_settings():
    X, y, _, _ = _data("binary")
    forest = RandomForestClassifier(n_estimators=3, class_weight="balanced").fit(X, y)
    with pytest.raises(UnsupportedModelError, match="class_weight"):
        influence_scores(forest, X, y, method="oob")
    weighted = HistGradientBoostingClassifier(max_iter=3).fit(X, y, sample_weight=1 + np.arange(70))
    with pytest.raises(UnsupportedModelError, match="sample_weight"):
        influence_scores(weighted, X, y, method="leaf_loo")
    other_rows = HistGradientBoostingClassifier(max_iter=3).fit(X[::-1], y)
    with pytest.raises(UnsupportedModelError, match="could not reproduce"):
        influence_scores(other_rows, X, y, method="leaf_loo")
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"a": pd.Categorical(np.array(["u", "v", "w"])[np.arange(70) % 3]),
                       "b": X[:, 0]})  # fmt: skip
    cat = HistGradientBoostingClassifier(max_iter=3).fit(df, y)
    with pytest.raises(UnsupportedModelError, match="categorical"):
        make_adapter(cat, df, y)


def test_unsupported_library_settings():
    lgb = pytest.importorskip("lightgbm")
    xgb = pytest.importorskip("xgboost")
    X, y, _, _ = _data("binary")
    for model, match in [
        (lgb.LGBMClassifier(n_estimators=3, boosting_type="dart", verbose=-1), "dart"),
        (lgb.LGBMClassifier(n_estimators=3, subsample=0.5, subsample_freq=1, verbose=-1), "bag"),
        (lgb.LGBMClassifier(n_estimators=3, reg_alpha=1.0, verbose=-1), "reg_alpha"),
        (xgb.XGBClassifier(n_estimators=3, booster="dart"), "dart"),
        (xgb.XGBClassifier(n_estimators=3, subsample=0.5), "subsample"),
        (xgb.XGBClassifier(n_estimators=3, max_delta_step=1.0), "max_delta_step"),
    ]:
        model.fit(X, y)
        with pytest.raises(UnsupportedModelError, match=match):
            influence_scores(model, X, y, method="leaf_loo")


def test_measures_refuse_other_ensembles_and_objectives():
    X, y, Xv, yv = _data("binary")
    forest = ExtraTreesClassifier(n_estimators=3).fit(X, y)
    with pytest.raises(UnsupportedModelError, match="boosting"):
        influence_scores(forest, X, y, method="boostin_self")
    with pytest.raises(UnsupportedModelError, match="bootstrap"):
        influence_scores(forest, X, y, method="oob")
    boosted = HistGradientBoostingClassifier(max_iter=3).fit(X, y)
    with pytest.raises(UnsupportedModelError, match="metric"):
        influence_scores(boosted, X, y, Xv, yv, method="boostin", objective="fairness",
                         sensitive_val=np.arange(len(yv)) % 2)  # fmt: skip
    with pytest.raises(UnsupportedModelError, match="metric"):
        influence_scores(boosted, X, y, Xv, yv, method="fi")
    # the Hessian methods name the solver's missing capability, GIF's restricted solve too
    for method in ("if", "self", "gif"):
        with pytest.raises(UnsupportedModelError, match="AutoSolver.*needs hvp"):
            influence_scores(boosted, X, y, Xv, yv, method=method)


# -- everything flows through the estimators ---------------------------------------------------
@pytest.fixture
def noisy_trees():
    X, y = make_classification(300, 5, n_informative=4, n_redundant=0, random_state=1)
    rng = np.random.default_rng(1)
    flip = rng.choice(300, 30, replace=False)
    y[flip] = 1 - y[flip]
    return X, y, flip


@pytest.mark.parametrize(
    "model",
    [
        HistGradientBoostingClassifier(max_iter=30),
        GradientBoostingClassifier(n_estimators=20, random_state=0),
        RandomForestClassifier(n_estimators=30, random_state=0),
        ExtraTreesClassifier(n_estimators=30, random_state=0),
    ],
    ids=lambda m: type(m).__name__,
)
def test_trimmer_auto_method_and_budget(noisy_trees, model):
    X, y, flip = noisy_trees
    trim = InfluenceTrimmer(model, budget="auto").fit(X, y)
    assert trim.method_ == "leaf_loo"
    assert 0 < trim.n_issues_ < 100
    assert np.isin(trim.trimmed_indices_, flip).mean() > 0.4
    assert trim.n_issues_ == estimate_label_issues(model.fit(X, y), X, y)


@pytest.mark.parametrize("strategy", ["trim", "relabel", "reweight"])
def test_trimmer_strategies_and_validation_methods(noisy_trees, strategy):
    X, y, _ = noisy_trees
    model = HistGradientBoostingClassifier(max_iter=20)
    for method in ("leaf_loo", "boostin_self", "boostin"):
        trim = InfluenceTrimmer(model, method=method, strategy=strategy, budget=20).fit(X, y)
        assert np.isfinite(trim.scores_).all()
        assert trim.score(X, y) > 0.5


def test_active_learner_with_trees(noisy_trees):
    X, y, _ = noisy_trees
    y_semi = y.copy()
    y_semi[100:] = -1
    learner = InfluenceActiveLearner(HistGradientBoostingClassifier(max_iter=10),
                                     method="entropy", batch_size=5).fit(X, y_semi)  # fmt: skip
    assert len(learner.query(5)) == 5
    with pytest.raises(UnsupportedModelError, match="metric"):
        InfluenceActiveLearner(
            HistGradientBoostingClassifier(max_iter=10), method="fi", batch_size=5
        ).fit(X, y_semi)


def test_tree_measures_are_registered():
    tree_methods = {m for m, spec in MEASURES.items() if "trees" in spec.needs}
    assert tree_methods == {
        "boostin", "boostin_self", "leaf_influence", "leaf_influence_sp", "leaf_refit",
        "leaf_loo", "oob",
    }  # fmt: skip
    for name in tree_methods:
        spec = MEASURES[name]
        assert spec.curvature == "none" and spec.inputs == "adapter"


def test_no_warnings_on_pandas_fitted_models(noisy_trees):
    pd = pytest.importorskip("pandas")
    X, y, _ = noisy_trees
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        trim = InfluenceTrimmer(HistGradientBoostingClassifier(max_iter=10), budget=5).fit(df, y)
        trim.predict(df)


# -- the command line ---------------------------------------------------------------------------
@pytest.mark.parametrize("model", ["hgb", "gb", "rf", "lightgbm", "xgboost"])
def test_cli_clean_with_tree_models(tmp_path, model):
    pd = pytest.importorskip("pandas")
    if model in ("lightgbm", "xgboost"):
        pytest.importorskip(model)
    from skinfluence.__main__ import main

    rng = np.random.default_rng(0)
    x = rng.normal(size=150)
    colour = rng.choice(["red", "green"], size=150)
    label = np.where(x + (colour == "red") + rng.normal(scale=0.5, size=150) > 0.5, "yes", "no")
    path = tmp_path / "data.csv"
    pd.DataFrame({"x": x, "colour": colour, "label": label}).to_csv(path, index=False)
    out, scores = tmp_path / "clean.csv", tmp_path / "scores.csv"
    argv = ["clean", str(path), "--target", "label", "--model", model, "--budget", "auto"]
    assert main([*argv, "--out", str(out), "--scores", str(scores)]) == 0
    frame = pd.read_csv(scores)
    assert frame["score"].notna().all()
    assert 0 < (frame["status"] == "flagged").sum() < 50
    assert len(pd.read_csv(out)) == 150 - (frame["status"] == "flagged").sum()

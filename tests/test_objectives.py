"""Fairness and robustness objectives: gradients and influence vs finite differences.

Oracles:

* the objective gradient ``∂θ f_V`` against central differences in ``θ`` (the
  fitted coefficients perturbed, probabilities from ``predict_proba``);
* ``"if"`` under each objective against refits: up-weighting row ``i`` by ``±δ``
  (``sample_weight``) moves ``f_V`` by ``±δ · score_i`` to first order, so the
  central difference of the refitted objective equals the score;
* ``"fi"`` under each objective against a brute-force FI built from refits with the
  row's features perturbed (``∂ωθ̂`` and ``∂ω f_V`` by central differences).
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from sklearn import config_context
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skinfluence import InfluenceTrimmer, UnsupportedModelError, influence_scores
from skinfluence.adapters import make_adapter
from skinfluence.influence import MEASURES, BaseObjective
from skinfluence.influence._objectives import (
    FairnessObjective,
    RobustnessObjective,
    UtilityObjective,
    make_objective,
)

EPS = {"boundary": 1.3, "linf": 0.2, "l2": 0.5}


def _tight_lr(**kw):
    return LogisticRegression(C=0.5, solver="newton-cholesky", tol=1e-14, max_iter=1000, **kw)


@pytest.fixture(scope="module")
def binary():
    X, y = make_classification(
        n_samples=140, n_features=4, n_informative=3, n_redundant=0, flip_y=0.1, random_state=3
    )
    X = StandardScaler().fit_transform(X)
    s = (X[:, 0] + np.random.default_rng(1).normal(size=len(y)) > 0).astype(int)
    return X[:100], y[:100], X[100:], y[100:], s[100:]


def _proba_dp(model, Xv, sv):
    P = model.predict_proba(Xv)
    first = np.unique(sv)[0]
    return 0.5 * np.abs(P[sv == first].mean(0) - P[sv != first].mean(0)).sum()


def _log_loss(model, X, y):
    P = model.predict_proba(X)
    return -np.mean(np.log(P[np.arange(len(y)), np.searchsorted(model.classes_, y)]))


def _adversarial(model, Xv, yv, attack, eps):
    """The attacks written out for binary logistic regression (exact worst cases)."""
    w, b = model.coef_[0], model.intercept_[0]
    z = Xv @ w + b
    if attack == "boundary":
        return Xv - eps * (z / (w @ w))[:, None] * w
    sign_y = np.where(yv == model.classes_[1], 1.0, -1.0)  # ∂x L = (σ(z) - y) w
    direction = -sign_y[:, None] * (np.sign(w) if attack == "linf" else w / np.linalg.norm(w))
    return Xv + eps * direction


def _objective_value(model, kind, Xv, yv, sv, attack=None, X_adv=None):
    if kind == "utility":
        return _log_loss(model, Xv, yv)
    if kind == "fairness":
        return _proba_dp(model, Xv, sv)
    if X_adv is None:  # re-attack the refitted model (ε-ball worst case)
        X_adv = _adversarial(model, Xv, yv, attack, EPS[attack])
    return _log_loss(model, X_adv, yv)


# -- the objective gradients -------------------------------------------------------------
@pytest.mark.parametrize("n_classes", [2, 3])
def test_fairness_gradient_matches_finite_differences_in_theta(n_classes):
    X, y = make_classification(
        n_samples=160, n_features=4, n_informative=3, n_redundant=0,
        n_classes=n_classes, random_state=0,
    )  # fmt: skip
    s = np.where(X[:, 1] > 0, "F", "M")
    model = LogisticRegression().fit(X[:120], y[:120])
    adapter = make_adapter(model, X[:120], y[:120])
    Xv, sv = X[120:], s[120:]
    obj = FairnessObjective(sensitive=sv)
    g = obj.grad(adapter, Xv, adapter.encode_y(y[120:]))
    assert obj.value(adapter, Xv) == pytest.approx(_proba_dp(model, Xv, sv), rel=1e-12)
    W = np.hstack([model.coef_, model.intercept_[:, None]])
    fd = np.zeros(W.size)
    h = 1e-6
    for j in range(W.size):
        for sign in (1, -1):
            Wp = W.ravel().copy()
            Wp[j] += sign * h
            Wp = Wp.reshape(W.shape)
            model.coef_, model.intercept_ = Wp[:, :-1], Wp[:, -1]
            fd[j] += sign * _proba_dp(model, Xv, sv) / (2 * h)
    np.testing.assert_allclose(g, fd, atol=1e-8 * np.abs(fd).max() + 1e-10, rtol=1e-6)


def test_fairness_gap_is_the_binary_dp_gap(binary):
    X, y, Xv, yv, sv = binary
    model = LogisticRegression().fit(X, y)
    p1 = model.predict_proba(Xv)[:, 1]
    gap = abs(p1[sv == 0].mean() - p1[sv == 1].mean())
    value = FairnessObjective(sv).value(make_adapter(model, X, y), Xv)
    assert value == pytest.approx(gap, rel=1e-12)


@pytest.mark.parametrize("attack", ["boundary", "linf", "l2"])
def test_adversarial_rows_are_the_closed_form_attacks(binary, attack):
    X, y, Xv, yv, _ = binary
    model = LogisticRegression().fit(X, y)
    adapter = make_adapter(model, X, y)
    obj = RobustnessObjective(epsilon=EPS[attack], attack=attack)
    X_adv = obj.perturb(adapter, Xv, adapter.encode_y(yv))
    np.testing.assert_allclose(X_adv, _adversarial(model, Xv, yv, attack, EPS[attack]))
    if attack == "boundary":  # ε = 1.3 crosses the boundary: every prediction flips
        z = model.decision_function(X_adv)
        np.testing.assert_allclose(z, -0.3 * model.decision_function(Xv), atol=1e-10)
    else:  # the worst case of the ε-ball: no point of the ball has a larger loss
        rng = np.random.default_rng(0)
        worst = _log_loss(model, X_adv, yv)
        for _ in range(20):
            d = rng.normal(size=Xv.shape)
            if attack == "linf":
                d = EPS[attack] * np.sign(d)
            else:
                d *= EPS[attack] / np.linalg.norm(d, axis=1, keepdims=True)
            assert _log_loss(model, Xv + d, yv) <= worst


@pytest.mark.parametrize("attack", ["boundary", "linf", "l2"])
def test_robustness_epsilon_zero_is_utility(binary, attack):
    X, y, Xv, yv, _ = binary
    model = LogisticRegression().fit(X, y)
    a = influence_scores(model, X, y, Xv, yv, "if", objective="robustness", epsilon=0.0,
                         attack=attack)  # fmt: skip
    b = influence_scores(model, X, y, Xv, yv, "if")
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


# -- influence on each objective vs refits -------------------------------------------------
CASES = [
    ("utility", None),
    ("fairness", None),
    ("robustness", "boundary"),
    ("robustness", "linf"),
    ("robustness", "l2"),
]


@pytest.mark.parametrize("kind, attack", CASES)
def test_if_predicts_the_objective_change_under_reweighting(binary, kind, attack):
    X, y, Xv, yv, sv = binary
    model = _tight_lr().fit(X, y)
    scores = influence_scores(
        model, X, y, Xv, yv, "if", objective=kind, sensitive_val=sv,
        epsilon=EPS.get(attack), attack=attack or "boundary",
    )  # fmt: skip
    # the boundary attack is crafted once at θ̂ and held fixed; the ε-ball attacks are
    # re-run on every refit (Danskin: the same first-order change)
    X_adv = _adversarial(model, Xv, yv, "boundary", 1.3) if attack == "boundary" else None
    delta = 1e-3
    for i in (0, 17, 42, 63, 99):
        values = []
        for sign in (1, -1):
            weight = np.ones(len(y))
            weight[i] += sign * delta
            refit = _tight_lr().fit(X, y, sample_weight=weight)
            values.append(_objective_value(refit, kind, Xv, yv, sv, attack, X_adv))
        actual = (values[0] - values[1]) / (2 * delta)
        assert scores[i] == pytest.approx(actual, rel=2e-4, abs=1e-9)


def _fi_brute_force(X, y, i, value_of, h=1e-4):
    """FI of row i from refits with its features perturbed (binary LR, appendix scaling)."""
    base = _tight_lr().fit(X, y)
    p = X.shape[1]
    J = np.zeros((p + 1, p))  # ∂ωθ̂
    v = np.zeros(p)  # ∂ω f_V
    for j in range(p):
        for sign in (1, -1):
            Xp = X.copy()
            Xp[i, j] += sign * h
            refit = _tight_lr().fit(Xp, y)
            theta = np.r_[refit.coef_[0], refit.intercept_]
            J[:, j] += sign * theta / (2 * h)
            v[j] += sign * value_of(refit) / (2 * h)
    w, b = base.coef_[0], base.intercept_[0]
    x_t = np.r_[X[i], 1.0]
    s = expit(x_t[:-1] @ w + b)
    G = np.zeros((p, p))
    for prob, dlogp in ((1 - s, -s), (s, 1 - s)):  # ∂z log P(c)
        a = dlogp * (x_t @ J) + dlogp * w
        G += prob * np.outer(a, a)
    return v @ np.linalg.pinv(G, rcond=1e-10, hermitian=True) @ v


@pytest.mark.parametrize("kind, attack", [("fairness", None), ("robustness", "boundary")])
def test_fi_matches_brute_force_refits(binary, kind, attack):
    X, y, Xv, yv, sv = binary
    X, y = X[:60], y[:60]
    model = _tight_lr().fit(X, y)
    X_adv = _adversarial(model, Xv, yv, "boundary", 1.3)
    scores = influence_scores(
        model, X, y, Xv, yv, "fi", objective=kind, sensitive_val=sv, attack="boundary"
    )
    for i in (3, 31):
        ref = _fi_brute_force(
            X, y, i, lambda m: _objective_value(m, kind, Xv, yv, sv, attack, X_adv)
        )
        assert scores[i] == pytest.approx(ref, rel=1e-3)


class _Delegating(BaseObjective):
    """Fairness, reached only through ``grad`` (counts the calls)."""

    def __init__(self, sensitive):
        self.inner = FairnessObjective(sensitive)
        self.calls = 0

    def grad(self, adapter, X_val, y_val_enc):
        self.calls += 1
        return self.inner.grad(adapter, X_val, y_val_enc)


#: measures that need a skorch net with checkpoints; their objective routing is tested
#: in tests/test_tracin.py::test_tracin_uses_the_objective
_NET_ONLY = {"tracin"}


def _measures_taking_an_objective():
    # tree measures take the objective on tree models (tests/test_trees.py)
    return [
        m
        for m, measure in MEASURES.items()
        if measure.objective and m not in _NET_ONLY and "trees" not in measure.needs
    ]


@pytest.mark.parametrize("method", _measures_taking_an_objective())
def test_every_measure_uses_the_objective_gradient(binary, method):
    """Each gradient-based measure reaches the objective through ``grad`` only.

    A wrapper that exposes nothing but ``grad`` gives the same scores as
    ``objective="fairness"``, and those differ from the utility scores (the
    correctness of the gradient itself is checked by finite differences above).
    """
    X, y, Xv, yv, sv = binary
    model = LogisticRegression().fit(X, y)
    kw = dict(random_state=0)
    fair = influence_scores(model, X, y, Xv, yv, method, objective="fairness",
                            sensitive_val=sv, **kw)  # fmt: skip
    wrapped = _Delegating(sv)
    np.testing.assert_allclose(
        influence_scores(model, X, y, Xv, yv, method, objective=wrapped, **kw),
        fair, rtol=1e-10, atol=1e-14,
    )  # fmt: skip
    assert wrapped.calls >= 1
    utility = influence_scores(model, X, y, Xv, yv, method, **kw)
    assert not np.allclose(fair, utility)


# -- the estimators: passing the sensitive attribute -------------------------------------------
@pytest.fixture(scope="module")
def with_groups():
    X, y = make_classification(n_samples=240, n_features=5, n_informative=3, random_state=5)
    X = StandardScaler().fit_transform(X)
    s = (np.random.default_rng(0).uniform(size=len(y)) < 0.4).astype(int)
    X[:, 4] = s  # a column that holds the sensitive attribute
    return X, y, s


def test_trimmer_slices_the_sensitive_fit_param_to_the_held_out_rows(with_groups):
    X, y, s = with_groups
    trim = InfluenceTrimmer(
        method="if", objective="fairness", budget=10, validation=0.2, random_state=0
    )
    trim.fit(X, y, sensitive=s)
    val = np.flatnonzero(np.isnan(trim.scores_))
    train = np.flatnonzero(~np.isnan(trim.scores_))
    model = LogisticRegression().fit(X[train], y[train])
    ref = influence_scores(model, X[train], y[train], X[val], y[val], "if",
                           objective="fairness", sensitive_val=s[val])  # fmt: skip
    np.testing.assert_allclose(trim.scores_[train], ref)
    utility = InfluenceTrimmer(method="if", budget=10, validation=0.2, random_state=0).fit(X, y)
    assert not np.allclose(utility.scores_[train], ref)
    # the same groups given as a column of X, by position or by name
    by_col = InfluenceTrimmer(method="if", objective="fairness", sensitive_feature=4,
                              budget=10, validation=0.2, random_state=0).fit(X, y)  # fmt: skip
    np.testing.assert_allclose(by_col.scores_, trim.scores_, equal_nan=True)
    df = pd.DataFrame(X, columns=["a", "b", "c", "d", "sex"])
    by_name = InfluenceTrimmer(method="if", objective="fairness", sensitive_feature="sex",
                               budget=10, validation=0.2, random_state=0).fit(df, y)  # fmt: skip
    np.testing.assert_allclose(by_name.scores_, trim.scores_, equal_nan=True)
    # a pandas Series of strings works the same
    groups = pd.Series(np.where(s == 1, "F", "M"))
    by_str = InfluenceTrimmer(
        method="if", objective="fairness", budget=10, validation=0.2, random_state=0
    )
    np.testing.assert_allclose(by_str.fit(X, y, sensitive=groups).scores_, trim.scores_,
                               equal_nan=True)  # fmt: skip


def test_trimmer_with_explicit_validation_set(with_groups):
    X, y, s = with_groups
    trim = InfluenceTrimmer(method="fi", objective="fairness", budget=5)
    trim.fit(X[:180], y[:180], X_val=X[180:], y_val=y[180:], sensitive_val=s[180:])
    model = LogisticRegression().fit(X[:180], y[:180])
    ref = influence_scores(model, X[:180], y[:180], X[180:], y[180:], "fi",
                           objective="fairness", sensitive_val=s[180:])  # fmt: skip
    np.testing.assert_allclose(trim.scores_, ref)
    with pytest.raises(ValueError, match="sensitive_val"):
        trim.fit(X[:180], y[:180], X_val=X[180:], y_val=y[180:], sensitive=s[:180])
    with pytest.raises(ValueError, match="goes with X_val"):
        trim.fit(X, y, sensitive_val=s[180:])
    with pytest.raises(ValueError, match="one value per row of X_val"):
        trim.fit(X[:180], y[:180], X_val=X[180:], y_val=y[180:], sensitive_val=s[:10])
    with pytest.raises(ValueError, match="one value per row of X"):
        InfluenceTrimmer(objective="fairness").fit(X, y, sensitive=s[:10])
    with pytest.raises(ValueError, match="not both"):
        InfluenceTrimmer(objective="fairness", sensitive_feature=4).fit(X, y, sensitive=s)


def test_sensitive_attribute_in_a_pipeline_and_grid_search(with_groups):
    X, y, s = with_groups
    pipe = make_pipeline(
        StandardScaler(), InfluenceTrimmer(method="if", objective="fairness", random_state=0)
    )
    pipe.fit(X, y, influencetrimmer__sensitive=s)
    assert np.isfinite(pipe[-1].scores_[~np.isnan(pipe[-1].scores_)]).all()
    grid = GridSearchCV(
        pipe,
        {"influencetrimmer__budget": [0, 10], "influencetrimmer__objective": ["fairness"]},
        cv=3,
        error_score="raise",
    ).fit(X, y, influencetrimmer__sensitive=s)  # sliced with the CV rows
    assert np.isfinite(grid.cv_results_["mean_test_score"]).all()
    # the column form needs no fit parameter: it survives the scaler (two values)
    grid = GridSearchCV(
        make_pipeline(StandardScaler(), InfluenceTrimmer(objective="fairness",
                                                         sensitive_feature=4)),
        {"influencetrimmer__method": ["fi", "if"]}, cv=3, error_score="raise",
    ).fit(X, y)  # fmt: skip
    assert np.isfinite(grid.cv_results_["mean_test_score"]).all()


def test_metadata_routing_of_the_sensitive_attribute(with_groups):
    X, y, s = with_groups
    with config_context(enable_metadata_routing=True):
        trim = InfluenceTrimmer(method="if", objective="fairness", budget=5, random_state=0)
        trim.set_fit_request(sensitive=True)
        grid = GridSearchCV(trim, {"budget": [0, 5]}, cv=2, error_score="raise")
        grid.fit(X, y, sensitive=s)
    assert np.isfinite(grid.best_estimator_.scores_[~np.isnan(grid.best_estimator_.scores_)]).all()


def test_trimmer_robustness_objective(with_groups):
    X, y, _ = with_groups
    for attack in ("boundary", "linf", "l2"):
        trim = InfluenceTrimmer(method="if", objective="robustness", attack=attack,
                                budget=10, validation=0.2, random_state=0).fit(X, y)  # fmt: skip
        train = np.flatnonzero(~np.isnan(trim.scores_))
        val = np.flatnonzero(np.isnan(trim.scores_))
        model = LogisticRegression().fit(X[train], y[train])
        ref = influence_scores(model, X[train], y[train], X[val], y[val], "if",
                               objective="robustness", attack=attack)  # fmt: skip
        np.testing.assert_allclose(trim.scores_[train], ref)


# -- bad input -------------------------------------------------------------------------------
def test_fairness_errors(binary):
    X, y, Xv, yv, sv = binary
    model = LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match="sensitive attribute of the validation rows"):
        influence_scores(model, X, y, Xv, yv, "if", objective="fairness")
    with pytest.raises(ValueError, match="exactly two groups"):
        influence_scores(model, X, y, Xv, yv, "if", objective="fairness",
                         sensitive_val=np.arange(len(yv)) % 3)  # fmt: skip
    with pytest.raises(ValueError, match="one value per validation row"):
        influence_scores(model, X, y, Xv, yv, "if", objective="fairness", sensitive_val=sv[:5])
    with pytest.raises(ValueError, match="NaN"):
        influence_scores(model, X, y, Xv, yv, "if", objective="fairness",
                         sensitive_val=np.where(sv == 1, np.nan, 0.0))  # fmt: skip
    ridge = Ridge().fit(X, X[:, 0])
    with pytest.raises(UnsupportedModelError, match="classifier"):
        influence_scores(ridge, X, X[:, 0], Xv, Xv[:, 0], "if", objective="fairness",
                         sensitive_val=sv)  # fmt: skip
    with pytest.raises(ValueError, match="objective must be one of"):
        influence_scores(model, X, y, Xv, yv, "if", objective="accuracy")
    with pytest.raises(ValueError, match="objective"):
        InfluenceTrimmer(objective="accuracy").fit(X, y)


def test_robustness_errors(binary):
    X, y, Xv, yv, _ = binary
    model = LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match="epsilon must be"):
        influence_scores(model, X, y, Xv, yv, "if", objective="robustness", epsilon=-1.0)
    with pytest.raises(ValueError, match="attack must be one of"):
        influence_scores(model, X, y, Xv, yv, "if", objective="robustness", attack="pgd")
    with pytest.raises(ValueError, match="epsilon"):
        InfluenceTrimmer(objective="robustness", epsilon=-1.0).fit(X, y)
    X3, y3 = make_classification(n_samples=90, n_features=4, n_informative=3, n_redundant=0,
                                 n_classes=3, random_state=0)  # fmt: skip
    multi = LogisticRegression().fit(X3[:60], y3[:60])
    with pytest.raises(UnsupportedModelError, match='attack="linf" or "l2"'):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            influence_scores(multi, X3[:60], y3[:60], X3[60:], y3[60:], "if",
                             objective="robustness")  # fmt: skip
    # the ε-ball attacks work for multinomial models (one FGSM step)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = influence_scores(multi, X3[:60], y3[:60], X3[60:], y3[60:], "if",
                                  objective="robustness", attack="linf")  # fmt: skip
    assert np.isfinite(scores).all()
    # the regressor's ε-ball worst case is exact as well
    ridge = Ridge().fit(X, X[:, 0] + 0.1 * y)
    rob = RobustnessObjective(0.2, "linf").perturb(make_adapter(ridge, X, X[:, 0]), Xv, Xv[:, 0])
    resid = ridge.predict(Xv) - Xv[:, 0]
    np.testing.assert_allclose(rob, Xv + 0.2 * np.sign(resid)[:, None] * np.sign(ridge.coef_))


def test_make_objective():
    assert isinstance(make_objective("utility", sensitive=[0, 1]), UtilityObjective)
    obj = make_objective("robustness", epsilon=0.5, attack="l2", sensitive=None)
    assert (obj.epsilon, obj.attack) == (0.5, "l2")
    fair = FairnessObjective([0, 1])
    assert make_objective(fair) is fair


@pytest.mark.torch
def test_torch_adapter_outputs_and_input_gradients():
    """skorch nets: ``outputs``/``input_grad`` of a logistic net against the closed form."""
    import skorch
    import torch

    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 4)).astype(np.float32)
    y = (X @ rng.normal(size=4) + rng.normal(size=80) > 0).astype(np.int64)
    torch.manual_seed(0)
    net = skorch.NeuralNetBinaryClassifier(
        torch.nn.Linear(4, 1), max_epochs=5, lr=0.1, train_split=None, verbose=0
    ).fit(X, y.astype(np.float32))
    adapter = make_adapter(net, X, y)
    w = net.module_.weight.detach().double().numpy()[0]
    b = float(net.module_.bias.detach().double().numpy()[0])
    z = X.astype(np.float64) @ w + b
    np.testing.assert_allclose(adapter.outputs(X)[:, 0], z, rtol=1e-10, atol=1e-12)
    y_enc = adapter.encode_y(y)
    expected = (expit(z) - y_enc)[:, None] * w
    np.testing.assert_allclose(adapter.input_grad(X, y_enc), expected, rtol=1e-10, atol=1e-12)
    # the attacks run on the net: FGSM is exact for this one-output linear model
    X_adv = RobustnessObjective(0.2, "linf").perturb(adapter, X, y_enc)
    np.testing.assert_allclose(X_adv, X + 0.2 * np.sign(expected), rtol=1e-6)
    X_b = RobustnessObjective(1.0, "boundary").perturb(adapter, X, y_enc)
    np.testing.assert_allclose(X_b @ w + b, 0.0, atol=1e-6)
    # the fairness gradient of the net equals that of the same logistic regression
    lr = LogisticRegression()
    lr.coef_, lr.intercept_, lr.classes_ = w[None, :], np.array([b]), np.array([0, 1])
    s = (X[:, 0] > 0).astype(int)
    g_net = FairnessObjective(s).grad(adapter, X, y_enc)
    g_lr = FairnessObjective(s).grad(make_adapter(lr, X.astype(np.float64), y), X, y_enc)
    np.testing.assert_allclose(g_net, g_lr, rtol=1e-8, atol=1e-12)

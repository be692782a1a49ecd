"""Influence estimates against brute-force retraining."""

import numpy as np
from scipy.stats import spearmanr
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import log_loss

from skinfluence import influence_scores
from skinfluence.adapters import make_adapter
from skinfluence.curvature import ExactSolver


def _binary(n, p, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    y = (X @ rng.normal(size=p) + rng.normal(size=n) > 0).astype(int)
    return X, y


def test_if_matches_leave_one_out_refits():
    X, y = _binary(140, 3, seed=3)
    Xtr, ytr, Xv, yv = X[:100], y[:100], X[100:], y[100:]

    def fit(Xa, ya):
        return LogisticRegression(C=1.0, tol=1e-12, max_iter=10_000).fit(Xa, ya)

    full = fit(Xtr, ytr)
    base = log_loss(yv, full.predict_proba(Xv))
    # sklearn keeps C fixed: removing a row changes λ = 1/(Cn) by a factor n/(n-1),
    # a second-order effect next to the row's own contribution
    loo = np.array(
        [
            base - log_loss(yv, fit(np.delete(Xtr, i, 0), np.delete(ytr, i)).predict_proba(Xv))
            for i in range(len(ytr))
        ]
    )
    scores = influence_scores(full, Xtr, ytr, Xv, yv, method="if")
    assert spearmanr(scores, loo).statistic >= 0.95
    top = np.argsort(-np.abs(loo))[:10]
    assert np.all(np.sign(scores[top]) == np.sign(loo[top]))
    # the size is right too, up to the first-order error (about 25 % here at n = 100)
    assert np.abs(scores[top] - loo[top]).max() < 0.3 * np.abs(loo[top]).max()


def test_parameter_derivative_matches_perturbed_refits():
    """Appendix A: ∂ωθ̂ = -(1/n) H⁻¹ ∂x∂θL, checked by refitting with x_i + εe_k."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + rng.normal(size=50)
    model = Ridge(alpha=2.0).fit(X, y)
    adapter = make_adapter(model, X, y)
    solver = ExactSolver().fit(adapter)
    i, eps = 7, 1e-6
    M = adapter.mixed_product(X[i : i + 1], y[i : i + 1], np.eye(adapter.n_params))[0]  # (m, p)
    predicted = -solver.solve(M) / len(X)
    theta0 = np.r_[model.coef_, model.intercept_]
    for k in range(3):
        Xp = X.copy()
        Xp[i, k] += eps
        refit = Ridge(alpha=2.0).fit(Xp, y)
        numeric = (np.r_[refit.coef_, refit.intercept_] - theta0) / eps
        np.testing.assert_allclose(numeric, predicted[:, k], rtol=1e-4, atol=1e-9)

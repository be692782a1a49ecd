"""solver="auto": what it picks and why; preconditioned CG against the exact solver."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression, Ridge

from skinfluence import InfluenceActiveLearner, InfluenceTrimmer, influence_scores
from skinfluence.adapters import make_adapter
from skinfluence.curvature import (
    AUTO_MAX_EXACT_PARAMS,
    AUTO_MAX_EXACT_PARAMS_ONE,
    AutoSolver,
    CGSolver,
    ExactSolver,
    exact_memory_mb,
    make_solver,
    solver_name,
)
from skinfluence.exceptions import ConvergenceWarning


class _Wide:
    """An adapter double with ``m`` parameters whose Hessian must never be built."""

    capabilities = frozenset({"hvp", "hessian"})
    n_train = 1
    model_name = "Wide"

    def __init__(self, m):
        self.n_params = m

    def hessian(self):  # pragma: no cover - the bound is checked first
        raise AssertionError("the Hessian was built")

    def hvp(self, V):
        return 2.0 * V


def _rel(a, b):
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


@pytest.fixture(scope="module")
def binary():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6)) * rng.uniform(0.1, 10.0, size=6)  # badly scaled
    y = (X @ rng.normal(size=6) + rng.logistic(size=300) > 0).astype(int)
    return LogisticRegression(C=0.3, max_iter=5000).fit(X, y), X, y


def test_registry_and_default():
    assert isinstance(make_solver(), AutoSolver)
    assert isinstance(make_solver("auto", damping=0.5), AutoSolver)
    assert make_solver("auto", damping=0.5).damping == 0.5
    user = AutoSolver(max_exact_params=10)
    assert make_solver(user) is not user and make_solver(user).max_exact_params == 10


@pytest.mark.parametrize(
    "m, solves, choice",
    [
        (AUTO_MAX_EXACT_PARAMS, "rows", "exact"),
        (AUTO_MAX_EXACT_PARAMS + 1, "rows", "cg"),
        (AUTO_MAX_EXACT_PARAMS_ONE, "one", "exact"),
        (AUTO_MAX_EXACT_PARAMS_ONE + 1, "one", "cg"),
    ],
)
def test_the_documented_rule(m, solves, choice, monkeypatch):
    # the exact branch is checked without factorising a large matrix
    monkeypatch.setattr(ExactSolver, "fit", lambda self, adapter: self)
    solver = AutoSolver(solves=solves).fit(_Wide(m))
    assert solver.choice_ == choice == solver_name(solver)
    assert f"{m:,}" in solver.reason_
    if choice == "cg":
        assert isinstance(solver.solver_, CGSolver) and solver.solver_.preconditioner_ is None


def test_without_a_dense_hessian_it_is_cg():
    adapter = _Wide(10)
    adapter.capabilities = frozenset({"hvp"})
    solver = AutoSolver().fit(adapter)
    assert solver.choice_ == "cg" and "no dense Hessian" in solver.reason_


def test_exact_refuses_above_its_bound_and_says_the_memory():
    m = 20_001
    with pytest.raises(ValueError, match=r"needs 8\.9 GiB") as err:
        ExactSolver().fit(_Wide(m))
    assert "solver='auto'" in str(err.value) and "20,001" in str(err.value)
    assert exact_memory_mb(m) == pytest.approx(3 * 8 * m * m / 2**20)
    with pytest.raises(ValueError, match="max_memory_mb=1"):
        ExactSolver(max_memory_mb=1).fit(_Wide(400))


def test_influence_scores_records_and_prints_the_choice(binary, capsys):
    model, X, y = binary
    influence_scores(model, X, y, X[:50], y[:50], "fi", verbose=1)
    assert "solver='auto' chose 'exact'" in capsys.readouterr().out
    forced = AutoSolver(max_exact_params=3)
    influence_scores(model, X, y, X[:50], y[:50], "fi", solver=forced, verbose=1)
    out = capsys.readouterr().out
    assert "chose 'cg'" in out and "Jacobi-preconditioned" in out
    assert not hasattr(forced, "choice_")  # the user's object is cloned, never fitted


def test_trimmer_and_learner_record_solver_(binary):
    model, X, y = binary
    trim = InfluenceTrimmer(LogisticRegression(C=0.3), method="fi", validation=0.3).fit(X, y)
    assert trim.solver == "auto" and trim.solver_ == "exact"
    trim = InfluenceTrimmer(LogisticRegression(), method="random", validation=None).fit(X, y)
    assert trim.solver_ is None
    trim = InfluenceTrimmer(
        LogisticRegression(C=0.3), method="if", solver="cg", validation=0.3
    ).fit(X, y)
    assert trim.solver_ == "cg"
    y_partial = np.where(np.arange(len(y)) < 60, y, -1)
    learner = InfluenceActiveLearner(LogisticRegression(), batch_size=5, random_state=0)
    assert learner.fit(X, y_partial).solver_ == "exact"
    learner = clone(learner).set_params(method="entropy").fit(X, y_partial)
    assert learner.solver_ is None


def _problems():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 12)) * rng.uniform(0.1, 10.0, size=12)
    Xs = sp.random(400, 40, density=0.1, random_state=2, format="csr")
    yb = (X[:, 0] + rng.logistic(size=400) > 0).astype(int)
    ym = rng.integers(0, 3, 400)
    yr = X @ rng.normal(size=12) + rng.normal(size=400)
    w = rng.uniform(0.3, 3.0, 400)
    return [
        ("binary", LogisticRegression(C=0.3, max_iter=5000), X, yb, None),
        ("binary-weighted", LogisticRegression(C=0.3, max_iter=5000), X, yb, w),
        ("multinomial", LogisticRegression(C=0.3, max_iter=5000), X, ym, None),
        ("ridge", Ridge(alpha=2.0), X, yr, None),
        (
            "sparse-binary",
            LogisticRegression(C=1.0),
            Xs,
            (Xs @ np.ones(40) > 0.5).astype(int),
            None,
        ),
        ("sparse-multinomial", LogisticRegression(C=1.0), Xs, ym, None),
    ]


@pytest.mark.parametrize("name, model, X, y, w", _problems(), ids=lambda v: str(v)[:20])
def test_preconditioned_cg_equals_exact(name, model, X, y, w):
    model = model.fit(X, y, sample_weight=w)
    adapter = make_adapter(model, X, y, sample_weight=w)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the softmax's free intercepts: pseudo-inverse
        exact = ExactSolver().fit(adapter)
    B = np.random.default_rng(0).normal(size=(adapter.n_params, 4))
    plain = CGSolver(tol=1e-10, preconditioner=None).fit(adapter)
    pcg = CGSolver(tol=1e-10).fit(adapter)
    assert pcg.preconditioner_ == "jacobi"
    assert _rel(pcg.solve(B), exact.solve(B)) <= 1e-8
    assert _rel(pcg.solve(B[:, 0]), exact.solve(B[:, 0])) <= 1e-8
    assert _rel(plain.solve(B), exact.solve(B)) <= 1e-8
    for method in ("fi", "if", "self", "loo_confidence"):
        kw = {"sample_weight": w}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a = influence_scores(model, X, y, X[:40], y[:40], method, solver="exact", **kw)
            b = influence_scores(
                model, X, y, X[:40], y[:40], method, solver=CGSolver(tol=1e-10), **kw
            )
        assert _rel(b, a) <= 1e-8, method


def test_jacobi_needs_fewer_iterations_on_badly_scaled_features():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 60)) * rng.uniform(0.1, 10.0, size=60)
    for y in ((X[:, 0] > 0).astype(int), rng.integers(0, 3, 2000)):
        model = LogisticRegression(max_iter=5000).fit(X, y)
        adapter = make_adapter(model, X, y)
        B = rng.normal(size=(adapter.n_params, 3))
        iters = {}
        for pre in (None, "jacobi"):
            solver = CGSolver(tol=1e-10, preconditioner=pre).fit(adapter)
            solver.solve(B)
            iters[pre] = solver.n_iter_
        assert iters["jacobi"] < iters[None], iters


def test_cg_warns_without_convergence(binary):
    model, X, y = binary
    solver = CGSolver(max_iter=2, preconditioner=None).fit(make_adapter(model, X, y))
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        solver.solve(np.ones((solver.adapter_.n_params, 2)))


def test_loo_confidence_on_sparse_rows_with_cg():
    rng = np.random.default_rng(4)
    X = sp.random(600, 80, density=0.08, random_state=4, format="csr")
    y = rng.integers(0, 3, 600)
    model = LogisticRegression(C=1.0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exact = influence_scores(model, X, y, method="loo_confidence", solver="exact")
    cg = influence_scores(
        model, X, y, method="loo_confidence", solver=AutoSolver(max_exact_params=10, tol=1e-10)
    )
    assert _rel(cg, exact) <= 1e-8

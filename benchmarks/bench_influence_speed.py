"""Speed of every influence method and every curvature solver, with pyDVL alongside.

Three settings, one run:

1. **Logistic regression on Adult** (5,000 training rows, 1,000 validation rows;
   ``--quick``: 1,500 / 500). Every method of ``skinfluence._scores.METHODS``
   (iterated at run time, so methods added later are timed too) as a ratio to
   ``method="if"`` with ``solver="exact"``; a method that cannot run on this model
   (e.g. ``tracin`` needs a skorch net with its checkpoint callback) is skipped with
   the reason printed. Then ``"if"`` with every solver of ``SOLVERS`` (relative error
   of the scores against the exact ones), and pyDVL's ``DirectInfluence``,
   ``CgInfluence`` and ``LissaInfluence`` on the same model written as a torch
   ``nn.Linear`` (weights copied, the L2 penalty as pyDVL's ``regularization``; pyDVL
   regularises the intercept too, so its scores differ from ours by that much).
   pyDVL scores a validation *set* through per-row influence factors; we time
   ``influence_factors`` on the validation rows, their mean, and
   ``influences_from_factors`` on the training rows — the same quantity as ours.
   pyDVL's LiSSA runs 1,000 steps (``--quick``: 100).
2. **MLP through skorch on Adult** (one hidden layer of 32, ``--quick`` 8; 5,000 rows,
   ``--quick`` 1,000; LiSSA depths capped at 1,000, ``--quick`` 100, errors reported): every method and solver, seconds per 1,000 training rows.
3. **Small CNN on scikit-learn's digits** (1,437 rows, ``--quick`` 400; conv 1→4,
   3×3, then a linear head): the same, with ``params="all"`` and ``params="last"``.

pyDVL is a benchmark-only dependency; pyDVL 0.10.0 pins ``numpy<2`` and its influence
module needs zarr, so in a numpy-2 environment:
``pip install --no-deps pydvl==0.10.0 && pip install pyDeprecate more-itertools cvxpy zarr``.

Writes ``benchmarks/results/bench_influence_speed[_quick].json``.
Run: ``python benchmarks/bench_influence_speed.py [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    ADULT_CATEGORICAL,
    ADULT_NUMERIC,
    default_data_dir,
    environment,
    format_table,
    load_adult,
    make_preprocessor,
    write_json,
)
from sklearn.linear_model import LogisticRegression  # noqa: E402

from skinfluence import influence_scores  # noqa: E402
from skinfluence.curvature import SOLVERS  # noqa: E402
from skinfluence.influence import MEASURES as METHODS  # noqa: E402

METHOD_HEADERS = ["method", "seconds", "÷ if exact", "s / 1,000 rows"]
SOLVER_HEADERS = ["solver for 'if'", "seconds", "÷ if exact", "rel. error", "s / 1,000 rows"]

# solver settings used in the tables (defaults otherwise)
SOLVER_SETTINGS = {"arnoldi": {"n_components": 20}}


def show(tables: list, title: str, table: str) -> None:
    """Print a table and keep it, with its title, for the JSON (and run_all's page)."""
    print(table)
    tables.append(f"**{title}**\n\n{table}")


def rel(a, b) -> float:
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def timed(fn):
    """Wall time of ``fn()``; best of 3 when one call takes under half a second."""
    best, out, calls = np.inf, None, 0
    while calls == 0 or (calls < 3 and best < 0.5):
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = fn()
        best = min(best, time.perf_counter() - start)
        calls += 1
    return best, out


def make_solver(name, damping=0.0, random_state=0):
    kwargs = dict(SOLVER_SETTINGS.get(name, {}))
    cls = SOLVERS[name]
    if "random_state" in cls.__init__.__code__.co_varnames:
        kwargs["random_state"] = random_state
    return cls(damping=damping, **kwargs)


def run_methods(
    model, X, y, Xv, yv, n, *, label, damping=0.0, extra=None, skip_solver=(), net_iter=None
):
    """Time every method and every solver; returns (method rows, solver rows, json)."""
    extra = extra or {}
    out = {"methods": {}, "solvers": {}}
    t_if, ref = timed(lambda: influence_scores(model, X, y, Xv, yv, "if", damping=damping, **extra))
    rows = []
    for method in METHODS:
        try:
            t, _ = timed(
                lambda m=method: influence_scores(
                    model, X, y, Xv, yv, m, damping=damping, random_state=0, **extra
                )
            )
        except Exception as exc:  # noqa: BLE001 - report why a method cannot run here
            note = f"{type(exc).__name__}: {str(exc).splitlines()[0][:110]}"
            print(f"  [{label}] skip method {method!r}: {note}")
            out["methods"][method] = {"skipped": note}
            continue
        out["methods"][method] = {"seconds": t}
        rows.append([method, t])
    t_if = out["methods"]["if"]["seconds"]  # warm, like the others
    for row in rows:
        out["methods"][row[0]]["ratio_to_if_exact"] = row[1] / t_if
        row[1:] = [f"{row[1]:.3f}", f"{row[1] / t_if:.2f}", f"{1000 * row[1] / n:.3f}"]
    srows = []
    for name in SOLVERS:
        if name in skip_solver:
            continue
        try:
            solver = make_solver(name, damping)
            if net_iter is not None and hasattr(solver, "max_iter"):
                solver.max_iter = net_iter  # bounded depth on nets: the error is reported
            t, s = timed(
                lambda sv=solver: influence_scores(
                    model, X, y, Xv, yv, "if", solver=sv, damping=damping, **extra
                )
            )
        except Exception as exc:  # noqa: BLE001
            note = f"{type(exc).__name__}: {str(exc).splitlines()[0][:110]}"
            print(f"  [{label}] skip solver {name!r}: {note}")
            out["solvers"][name] = {"skipped": note}
            continue
        err = rel(s, ref)
        out["solvers"][name] = {"seconds": t, "ratio_to_if_exact": t / t_if, "rel_error": err}
        srows.append([name, f"{t:.3f}", f"{t / t_if:.2f}", f"{err:.1e}", f"{1000 * t / n:.3f}"])
    return rows, srows, out


# -- pyDVL -----------------------------------------------------------------------------
def pydvl_scores(model, X, y, Xv, yv, lam, kind, scale, lissa_iter=1000):
    """pyDVL's influence of each training row on the mean validation loss (our sign)."""
    import torch
    from pydvl.influence.torch import CgInfluence, DirectInfluence, LissaInfluence
    from torch.utils.data import DataLoader, TensorDataset

    torch.set_default_dtype(torch.float64)
    lin = torch.nn.Linear(X.shape[1], 1)
    with torch.no_grad():
        lin.weight.copy_(torch.as_tensor(model.coef_))
        lin.bias.copy_(torch.as_tensor(model.intercept_))

    def loss(out, target):
        return torch.nn.functional.binary_cross_entropy_with_logits(out[:, 0], target)

    t = torch.as_tensor
    Xt, yt, Xvt, yvt = t(X), t(y.astype(float)), t(Xv), t(yv.astype(float))
    loader = DataLoader(TensorDataset(Xt, yt), batch_size=len(X))
    if kind == "direct":
        inf = DirectInfluence(lin, loss, regularization=lam)
    elif kind == "cg":
        inf = CgInfluence(lin, loss, regularization=lam, rtol=1e-8, solve_simultaneously=True)
    else:
        inf = LissaInfluence(
            lin, loss, regularization=lam, maxiter=lissa_iter, scale=scale, rtol=1e-6
        )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inf.fit(loader)
        factors = inf.influence_factors(Xvt, yvt).mean(dim=0, keepdim=True)
        scores = inf.influences_from_factors(factors, Xt, yt)[0].detach().numpy()
    seconds = time.perf_counter() - start
    torch.set_default_dtype(torch.float32)
    # pyDVL returns ∇L_vᵀ H⁻¹ ∇L_i; ours is -(1/n) ḡ_Vᵀ H⁻¹ ∇L_i (removal, per n)
    return seconds, -scores / len(X)


# -- settings ----------------------------------------------------------------------------
def adult(n_train, n_val, seed=0):
    X, y = load_adult(default_data_dir())
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(y))[: n_train + n_val]
    pre = make_preprocessor(ADULT_NUMERIC, ADULT_CATEGORICAL)
    Xa = pre.fit_transform(X.iloc[idx[:n_train]])
    Xb = pre.transform(X.iloc[idx[n_train:]])
    return Xa, y[idx[:n_train]], Xb, y[idx[n_train:]]


def skorch_net(module, max_epochs, **kw):
    import torch
    from skorch import NeuralNetClassifier

    from skinfluence.callbacks import TracInCheckpoints

    torch.manual_seed(0)
    return NeuralNetClassifier(
        module,
        criterion=torch.nn.CrossEntropyLoss,
        max_epochs=max_epochs,
        lr=0.1,
        batch_size=128,
        train_split=None,
        verbose=0,
        optimizer__weight_decay=1e-3,
        callbacks=[TracInCheckpoints()],
        **kw,
    )


def part_lr(quick: bool) -> dict:
    """1. Logistic regression on Adult: every method and solver, and pyDVL."""
    tables = []
    n, n_val = (1500, 500) if quick else (5000, 1000)
    X, y, Xv, yv = adult(n, n_val)
    model = LogisticRegression(C=1.0, max_iter=2000).fit(X, y)
    print(f"# Logistic regression on Adult: {n} rows, {X.shape[1]} features\n")
    rows, srows, out = run_methods(model, X, y, Xv, yv, n, label="LR")
    lr_title = f"Logistic regression on Adult, {n} rows, {X.shape[1]} features"
    show(tables, lr_title + ": every method", format_table(METHOD_HEADERS, rows))
    print()
    show(tables, lr_title + ": solvers for 'if'", format_table(SOLVER_HEADERS, srows))
    ref = influence_scores(model, X, y, Xv, yv, "if")
    lam = 1.0 / (model.C * n)
    t_if = out["methods"]["if"]["seconds"]
    prow = []
    out["pydvl"] = {}
    from skinfluence.adapters import make_adapter
    from skinfluence.curvature import LiSSASolver

    scale = LiSSASolver(random_state=0).fit(make_adapter(model, X, y)).scale_
    for kind in ("direct", "cg", "lissa"):
        try:
            t, s = pydvl_scores(
                model, X, y, Xv, yv, lam, kind, scale, lissa_iter=100 if quick else 1000
            )
        except Exception as exc:  # noqa: BLE001
            note = f"{type(exc).__name__}: {str(exc).splitlines()[0][:110]}"
            print(f"  [LR] skip pyDVL {kind}: {note}")
            out["pydvl"][kind] = {"skipped": note}
            continue
        corr = float(np.corrcoef(s, ref)[0, 1])
        out["pydvl"][kind] = {
            "seconds": t,
            "ratio_to_if_exact": t / t_if,
            "rel_error": rel(s, ref),
            "pearson": corr,
        }
        prow.append(
            [f"pyDVL {kind}", f"{t:.3f}", f"{t / t_if:.2f}", f"{rel(s, ref):.1e}", f"{corr:.4f}"]
        )
    print()
    headers = ["pyDVL (torch LR)", "seconds", "÷ our if exact", "rel. diff.", "Pearson"]
    show(tables, lr_title + ": pyDVL on the same model", format_table(headers, prow))
    out["tables"] = tables
    return out


def part_mlp(quick: bool) -> dict:
    """2. An MLP through skorch on Adult."""
    import torch

    tables = []
    n_mlp = 1000 if quick else 5000
    net_iter = 100 if quick else 1000  # LiSSA depth on the nets
    Xm, ym, Xmv, ymv = (
        a.astype(np.float32) if a.dtype.kind == "f" else a for a in adult(n_mlp, 500)
    )

    class MLP(torch.nn.Module):
        def __init__(self, p=Xm.shape[1], hidden=8 if quick else 32):
            super().__init__()
            self.hidden = torch.nn.Linear(p, hidden)
            self.out = torch.nn.Linear(hidden, 2)

        def forward(self, x):
            return self.out(torch.relu(self.hidden(x)))

    net = skorch_net(MLP, 3 if quick else 10).fit(Xm, ym)
    print(f"\n# MLP (skorch) on Adult: {n_mlp} rows\n")
    extra = {"gauss_newton": True}
    rows, srows, out = run_methods(
        net, Xm, ym, Xmv, ymv, n_mlp, label="MLP", damping=1e-2, extra=extra, net_iter=net_iter
    )
    mlp_title = f"MLP (skorch) on Adult, {n_mlp} rows"
    show(tables, mlp_title + ": every method", format_table(METHOD_HEADERS, rows))
    print()
    show(tables, mlp_title + ": solvers for 'if'", format_table(SOLVER_HEADERS, srows))
    out["tables"] = tables
    return out


def part_cnn(quick: bool) -> dict:
    """3. A small CNN through skorch on scikit-learn's digits."""
    import torch

    tables = []
    net_iter = 100 if quick else 1000  # LiSSA depth on the nets
    from sklearn.datasets import load_digits

    Xd, yd = load_digits(return_X_y=True)
    Xd = (Xd / 16.0).astype(np.float32)
    n_cnn = 400 if quick else 1437
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(yd))
    tr, va = perm[:n_cnn], perm[n_cnn : n_cnn + 300]

    class CNN(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 4, 3)
            self.out = torch.nn.Linear(4 * 6 * 6, 10)

        def forward(self, x):
            h = torch.relu(self.conv(x.reshape(-1, 1, 8, 8)))
            return self.out(h.reshape(h.shape[0], -1))

    cnn = skorch_net(CNN, 3 if quick else 10).fit(Xd[tr], yd[tr])
    result = {}
    for params in ("all", "last"):
        print(f"\n# CNN (skorch) on digits: {n_cnn} rows, params={params!r}\n")
        extra = {"gauss_newton": True, "params": params}
        rows, srows, out = run_methods(
            cnn,
            Xd[tr],
            yd[tr],
            Xd[va],
            yd[va],
            n_cnn,
            label=f"CNN/{params}",
            damping=1e-2,
            extra=extra,
            net_iter=net_iter,
        )
        cnn_title = f"CNN (skorch) on digits, {n_cnn} rows, params={params!r}"
        show(tables, cnn_title + ": every method", format_table(METHOD_HEADERS, rows))
        print()
        show(tables, cnn_title + ": solvers for 'if'", format_table(SOLVER_HEADERS, srows))
        result[params] = out
    result["tables"] = tables
    return result


PARTS = {
    "lr": ("logistic_adult", part_lr),
    "mlp": ("mlp_adult", part_mlp),
    "cnn": ("cnn_digits", part_cnn),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument(
        "--parts",
        default=",".join(PARTS),
        help="comma-separated parts to run (lr, mlp, cnn); the others are kept from the "
        "result file already written, each part with the environment it was measured in",
    )
    args = parser.parse_args(argv)
    quick = args.quick
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown parts {unknown}; choose from {sorted(PARTS)}")
    import torch

    torch.set_num_threads(1)
    name = "bench_influence_speed" + ("_quick" if quick else "")
    previous = Path(__file__).resolve().parent / "results" / f"{name}.json"
    result = {}
    if set(parts) != set(PARTS) and previous.exists():
        result = json.loads(previous.read_text())
    result.update(environment=environment(), quick=quick)
    for part in parts:
        key, run = PARTS[part]
        result[key] = run(quick)
        result[key]["environment"] = environment()
    path = write_json(name, result)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()

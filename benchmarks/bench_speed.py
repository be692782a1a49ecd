"""Speed of the influence computation against the model fit and a per-row autograd loop.

What is timed (all with ``time.perf_counter``, best of ``--repeats``):

* ``fit``  — ``LogisticRegression(max_iter=1000).fit(X, y)`` (default lbfgs, C=1);
* ``fi``   — ``influence_scores(model, X, y, X_val, y_val, "fi", solver="exact")``, once
  per FI scaling ("appendix", the default, "algorithm", "main");
* ``if``   — the same call with ``method="if"``;
* ``loop`` — a straightforward torch float64 implementation of FI^util from the
  definitions (seed 000 §2-3, Algorithm 1): for every training row the ``m × p``
  mixed derivative ``∂x∂θL`` by ``torch.autograd.functional.jacobian``, ``∂ωθ̂ =
  -(1/n) H⁻¹ M``, ``∂θ log P(c)`` and ``∂x log P(c)`` by autograd, the ``p × p`` metric
  ``G_z`` built explicitly and ``torch.linalg.pinv``'d. Its one-off set-up (Hessian of
  the training objective by ``torch.autograd.functional.hessian``, its inverse, the
  validation gradient) is timed once; the per-row part is timed on a subsample of
  ``--loop-rows`` rows and extrapolated linearly to all ``n`` rows:
  ``loop_total = setup + n · (per-row time)``.

Before timing, the loop's FI is checked against ``influence_scores`` on a few rows for
all three scalings (relative difference ≤ 1e-6, asserted), so the comparison is like for
like.

Datasets: (a) Adult (``adult_train.csv.gz``, all 32,561 rows; ``fnlwgt`` dropped, ``?``
as its own category, one-hot + standard-scaled numeric columns; stratified 80/20
train/validation split), (b) ``make_classification`` with p=50 and n ∈ {1,000; 5,000;
20,000} training rows (+25 % more rows as validation).

Usage::

    python benchmarks/bench_speed.py            # full size (a few minutes on 2 cores)
    python benchmarks/bench_speed.py --quick    # n ∈ {1,000; 5,000}, Adult on 8,000 rows
    python benchmarks/bench_speed.py --profile  # also cProfile the FI call on the largest case

Writes ``benchmarks/results/bench_speed.json`` (``bench_speed_quick.json`` with --quick).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import time
from pathlib import Path

import numpy as np
import torch
from _common import (
    ADULT_CATEGORICAL,
    ADULT_NUMERIC,
    best_time,
    default_data_dir,
    environment,
    format_table,
    load_adult,
    make_preprocessor,
    write_json,
)
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from skinfluence import influence_scores
from skinfluence.influence import FI_SCALINGS

SCALE_FACTORS = {
    "appendix": lambda n: -1.0 / n,
    "algorithm": lambda n: 1.0,
    "main": lambda n: 1.0 / n,
}


# -- the per-row autograd loop (what a user without the closed forms would write) -------
class AutogradFI:
    """FI^util of a fitted binary LogisticRegression by per-row autograd, torch float64.

    Parameters are ``θ = [w, b]``. The training objective is sklearn's, in mean form:
    ``mean_i L_i(θ) + λ/2 ‖w‖²`` with ``λ = 1/(C n)`` (lbfgs does not penalise ``b``).
    """

    def __init__(
        self,
        model: LogisticRegression,
        X: np.ndarray,
        y: np.ndarray,
        X_val: np.ndarray,
        y_val: np.ndarray,
        scaling: str = "appendix",
    ):
        start = time.perf_counter()
        self.X = torch.as_tensor(X, dtype=torch.float64)
        self.y = torch.as_tensor(y, dtype=torch.float64)
        n, p = self.X.shape
        self.n, self.p = n, p
        self.theta = torch.as_tensor(
            np.concatenate([model.coef_.ravel(), model.intercept_]), dtype=torch.float64
        )
        lam = 1.0 / (model.C * n)
        self.pen = torch.cat(
            [torch.full((p,), lam, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)]
        )
        self.s = SCALE_FACTORS[scaling](n)
        H = torch.autograd.functional.hessian(self._objective, self.theta)
        self.H_inv = torch.linalg.inv(H)
        Xv = torch.as_tensor(X_val, dtype=torch.float64)
        yv = torch.as_tensor(y_val, dtype=torch.float64)
        theta = self.theta.clone().requires_grad_(True)
        (self.g_val,) = torch.autograd.grad(self._loss(theta, Xv, yv).mean(), theta)
        self.setup_seconds = time.perf_counter() - start

    @staticmethod
    def _loss(theta, x, y):
        """Per-row logistic loss; ``x`` (p,) or (n, p)."""
        z = x @ theta[:-1] + theta[-1]
        return torch.nn.functional.softplus(z) - y * z

    @staticmethod
    def _log_proba(theta, x):
        z = x @ theta[:-1] + theta[-1]
        return torch.stack([-torch.nn.functional.softplus(z), -torch.nn.functional.softplus(-z)])

    def _objective(self, theta):
        return self._loss(theta, self.X, self.y).mean() + 0.5 * (self.pen * theta**2).sum()

    def row(self, i: int) -> float:
        """FI^util of training row ``i`` straight from the definitions."""
        x0, yi = self.X[i], self.y[i]

        def grad_theta(x):  # ∂θ L(y_i, x; θ̂) as a function of x
            theta = self.theta.clone().requires_grad_(True)
            (g,) = torch.autograd.grad(self._loss(theta, x, yi), theta, create_graph=True)
            return g

        M = torch.autograd.functional.jacobian(grad_theta, x0)  # (m, p) = ∂x∂θ L
        J = self.s * (self.H_inv @ M)  # ∂ωθ̂, (m, p)
        v = self.g_val @ J  # ∂ω L(V), (p,)
        theta = self.theta.clone().requires_grad_(True)
        x = x0.clone().requires_grad_(True)
        log_p = self._log_proba(theta, x)
        G = torch.zeros(self.p, self.p, dtype=torch.float64)
        for c in range(2):
            g_theta, g_x = torch.autograd.grad(log_p[c], (theta, x), retain_graph=True)
            a = g_theta @ J + g_x  # ∂ω log P(c|x+ω, θ̂(x+ω)), (p,)
            G += torch.exp(log_p[c].detach()) * torch.outer(a, a)
        return float(v @ torch.linalg.pinv(G, hermitian=True) @ v)


def check_loop(model, X, y, X_val, y_val, rows: np.ndarray) -> float:
    """Assert the loop agrees with ``influence_scores`` on ``rows``; return the max rel. error."""
    worst = 0.0
    for scaling in FI_SCALINGS:
        ours = influence_scores(model, X, y, X_val, y_val, "fi", solver="exact", scaling=scaling)
        loop = AutogradFI(model, X, y, X_val, y_val, scaling=scaling)
        theirs = np.array([loop.row(int(i)) for i in rows])
        rel = np.abs(theirs - ours[rows]) / np.maximum(np.abs(ours[rows]), 1e-300)
        worst = max(worst, float(rel.max()))
        assert rel.max() <= 1e-6, (
            f"autograd loop disagrees with influence_scores (scaling={scaling}): "
            f"max relative difference {rel.max():.3g} on rows {rows.tolist()}"
        )
    return worst


# -- one case --------------------------------------------------------------------------
def run_case(name, X, y, X_val, y_val, *, repeats, loop_rows, check_rows, rng, profile=False):
    n, p = X.shape
    model = LogisticRegression(max_iter=1000).fit(X, y)
    # Round-robin repeats (fit, fi ×3, if, fit, ...) so that load from other processes on
    # a shared machine hits every contender alike; the best of ``repeats`` is reported.
    tasks = {"fit": lambda: LogisticRegression(max_iter=1000).fit(X, y)}
    for scaling in FI_SCALINGS:
        tasks[f"fi_{scaling}"] = lambda s=scaling: influence_scores(
            model, X, y, X_val, y_val, "fi", solver="exact", scaling=s
        )
    tasks["if"] = lambda: influence_scores(model, X, y, X_val, y_val, "if", solver="exact")
    times = {key: [] for key in tasks}
    for _ in range(repeats):
        for key, fn in tasks.items():
            times[key].append(best_time(fn, 1)[0])
    best = {key: min(ts) for key, ts in times.items()}
    fit_s, if_s = best["fit"], best["if"]
    fi_s = {scaling: best[f"fi_{scaling}"] for scaling in FI_SCALINGS}
    check_idx = rng.choice(n, size=min(check_rows, n), replace=False)
    max_rel = check_loop(model, X, y, X_val, y_val, check_idx)

    loop = AutogradFI(model, X, y, X_val, y_val, scaling="appendix")
    sub = rng.choice(n, size=min(loop_rows, n), replace=False)
    start = time.perf_counter()
    for i in sub:
        loop.row(int(i))
    loop_per_row = (time.perf_counter() - start) / len(sub)
    loop_total = loop.setup_seconds + n * loop_per_row

    result = {
        "case": name,
        "n": n,
        "p": p,
        "n_val": X_val.shape[0],
        "n_iter_lbfgs": int(model.n_iter_[0]),
        "fit_s": fit_s,
        "fi_s": fi_s["appendix"],
        "fi_s_by_scaling": fi_s,
        "if_s": if_s,
        "fi_over_fit": fi_s["appendix"] / fit_s,
        "if_over_fit": if_s / fit_s,
        "loop_rows_timed": len(sub),
        "loop_setup_s": loop.setup_seconds,
        "loop_s_per_row": loop_per_row,
        "loop_total_s_extrapolated": loop_total,
        "speedup_fi_vs_loop": loop_total / fi_s["appendix"],
        "loop_check_rows": len(check_idx),
        "loop_check_max_rel_diff": max_rel,
        "all_times_s": times,
    }
    if profile:
        prof = cProfile.Profile()
        prof.enable()
        influence_scores(model, X, y, X_val, y_val, "fi", solver="exact")
        prof.disable()
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(12)
        result["profile_fi_tottime"] = buf.getvalue()
    return result


def adult_case(data_dir: Path, n_rows: int | None, seed: int):
    X_df, y = load_adult(data_dir, "train")
    if n_rows is not None and n_rows < len(y):
        keep = np.random.default_rng(seed).choice(len(y), size=n_rows, replace=False)
        X_df, y = X_df.iloc[keep], y[keep]
    X_tr, X_va, y_tr, y_va = train_test_split(X_df, y, test_size=0.2, stratify=y, random_state=seed)
    pre = make_preprocessor(ADULT_NUMERIC, ADULT_CATEGORICAL).fit(X_tr)
    return pre.transform(X_tr), y_tr, pre.transform(X_va), y_va


def synthetic_case(n: int, p: int, seed: int):
    n_val = n // 4
    X, y = make_classification(
        n_samples=n + n_val,
        n_features=p,
        n_informative=10,
        n_redundant=5,
        random_state=seed,
    )
    return X[:n], y[:n], X[n:], y[n:]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a minute or two")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="folder of the CSV files (default: $SKINFLUENCE_DATA or ../shared/data)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timing repeats, round-robin over the contenders, best of (default 5)",
    )
    parser.add_argument(
        "--loop-rows",
        type=int,
        default=None,
        help="rows the autograd loop is timed on (default 200, quick 30)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the FI call on the largest case"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BLAS/OpenMP and torch threads (default 1; 0 = leave the libraries' defaults)",
    )
    parser.add_argument("--out-dir", type=Path, default=None, help="default benchmarks/results")
    args = parser.parse_args(argv)
    if args.threads > 0:
        threadpool_limits(args.threads)
        torch.set_num_threads(args.threads)
    load_before = os.getloadavg()

    data_dir = args.data_dir or default_data_dir()
    repeats = args.repeats or 5
    loop_rows = args.loop_rows or (30 if args.quick else 200)
    sizes = [1000, 5000] if args.quick else [1000, 5000, 20000]
    adult_rows = 8000 if args.quick else None
    rng = np.random.default_rng(args.seed)
    torch.manual_seed(args.seed)

    cases = [("adult", *adult_case(data_dir, adult_rows, args.seed))]
    cases += [(f"make_classification n={n}", *synthetic_case(n, 50, args.seed)) for n in sizes]

    results = []
    for k, (name, X, y, X_val, y_val) in enumerate(cases):
        largest = k == 0  # Adult is the largest (n≈26,000, p≈107)
        res = run_case(
            name,
            X,
            y,
            X_val,
            y_val,
            repeats=repeats,
            loop_rows=loop_rows,
            check_rows=5,
            rng=rng,
            profile=args.profile and largest,
        )
        results.append(res)
        print(
            f"done {name}: fit {res['fit_s']:.3f}s fi {res['fi_s']:.3f}s if {res['if_s']:.3f}s "
            f"loop {res['loop_s_per_row'] * 1e3:.2f} ms/row",
            flush=True,
        )

    headers = [
        "data",
        "n",
        "p",
        "fit s",
        "fi s",
        "if s",
        "fi/fit",
        "if/fit",
        "loop s/row (timed on k rows)",
        "loop total s (extrapolated)",
        "speed-up fi vs loop",
    ]
    rows = [
        [
            r["case"],
            f"{r['n']:,}",
            r["p"],
            f"{r['fit_s']:.3f}",
            f"{r['fi_s']:.3f}",
            f"{r['if_s']:.3f}",
            f"{r['fi_over_fit']:.2f}",
            f"{r['if_over_fit']:.2f}",
            f"{r['loop_s_per_row']:.2e} (k={r['loop_rows_timed']})",
            f"{r['loop_total_s_extrapolated']:.1f}",
            f"{r['speedup_fi_vs_loop']:.0f}×",
        ]
        for r in results
    ]
    table = format_table(
        headers,
        rows,
        "Influence computation vs LogisticRegression fit (best of "
        f"{repeats}; loop = per-row torch autograd, extrapolated from k rows)",
    )
    print("\n" + table)
    headers2 = [
        "data",
        "n",
        "fi appendix s",
        "fi algorithm s",
        "fi main s",
        "max rel. diff loop vs ours",
    ]
    rows2 = [
        [r["case"], f"{r['n']:,}"]
        + [f"{r['fi_s_by_scaling'][s]:.3f}" for s in FI_SCALINGS]
        + [f"{r['loop_check_max_rel_diff']:.1e} ({r['loop_check_rows']} rows × 3 scalings)"]
        for r in results
    ]
    table2 = format_table(
        headers2,
        rows2,
        f"The three FI scalings (best of {repeats}) and the loop's agreement with influence_scores",
    )
    print("\n" + table2)
    for r in results:
        if "profile_fi_tottime" in r:
            print(f"\ncProfile of influence_scores(method='fi') on {r['case']}:\n")
            print(r["profile_fi_tottime"])

    payload = {
        "benchmark": "bench_speed",
        "quick": args.quick,
        "settings": {
            "repeats": repeats,
            "threads": args.threads or "library defaults",
            "load_average_1_5_15_before": load_before,
            "load_average_1_5_15_after": os.getloadavg(),
            "loop_rows": loop_rows,
            "seed": args.seed,
            "estimator": "LogisticRegression(max_iter=1000) (lbfgs, C=1)",
            "solver": "exact",
            "adult_rows": adult_rows or "all 32,561 (80/20 stratified train/validation)",
            "synthetic": "make_classification(n_features=50, n_informative=10, n_redundant=5), "
            "validation = n/4 further rows",
        },
        "environment": environment(),
        "results": results,
        "tables_markdown": [table, table2],
    }
    path = write_json("bench_speed_quick" if args.quick else "bench_speed", payload, args.out_dir)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()

"""KFSVD (seed 000 §4) against the exact FI^active computation on a small net.

Setting: scikit-learn's bundled ``load_digits`` (1,797 rows, 64 pixels / 16, 10
classes), shuffled with ``--seed``: ``--n-labeled`` labeled rows, ``--n-pool`` pool
rows. A skorch ``NeuralNetClassifier`` MLP 64-``hidden``-10 (tanh, logits,
``CrossEntropyLoss``), SGD lr 0.1, weight decay ``--weight-decay``, 60 epochs, batch 32,
``torch.manual_seed(seed)``; influence over **all** its parameters
(``m = 65·hidden + (hidden+1)·10``). ``TorchAdapter(gauss_newton=True)`` so that the
exact solver and K-FAC approximate the same positive semi-definite matrix, both with
``damping = --damping`` on top of the weight-decay penalty.

Reference: ``fi_active_scores`` with the exact pair factors (``fi_pair_factors``) and
the exact (dense Cholesky) solver, per seed (``--seeds``, default 0 1 2: data split,
net initialisation and SVD start directions). Every other configuration is
``solver ∈ {exact, kfac}`` × ``svd_rank ∈ {-, 1, 2, 5, 10, full = min(m, p) = 64}``
(``-`` = the exact mixed derivative, i.e. K-FAC alone), with ``kfsvd_pair_factors``
(``n_iter=2``, 5 oversamples, ``random_state=seed``) and the default aggregation
(trimmed mean). Reported per configuration:

* ``rel. err`` — ``‖s - s_ref‖₂ / ‖s_ref‖₂`` over the pool scores;
* ``scale`` — ``mean(s) / mean(s_ref)``;
* ``Spearman`` — rank correlation with the reference scores;
* ``top-30`` — overlap of the 30 highest-scored (queried first) pool rows, out of 30;
* ``SVD floats/row`` — ``(m + p + 1)·k``, the truncated SVD's storage (the explicit
  mixed derivative would be ``m·p``); ``N floats/row`` — what the FI^active product
  holds per labeled row in every configuration, ``R'·m``;
* ``products/row`` — input or parameter directions pushed through the adapter's
  mixed products per labeled row: ``K' + R'`` exact, ``(2·n_iter + 2)·l`` for the SVD
  (the ``K' + R'`` products that follow are then with the low-rank factors);
* ``solver s`` — fitting the solver (dense GN Hessian + Cholesky, or the K-FAC
  factors and their eigen-decompositions); ``scores s`` — ``fi_active_scores``
  (best of ``--repeats``).

Metrics are means over the seeds, with the range in brackets. For scale, one
baseline row ranks the pool by predictive entropy (no influence at all) and is
compared with the reference the same way.

Usage::

    python benchmarks/bench_kfsvd.py            # 300 labeled, 1,000 pool, hidden 16, 3 seeds
    python benchmarks/bench_kfsvd.py --quick    # 150 labeled, 300 pool, hidden 8

Writes ``benchmarks/results/bench_kfsvd.json`` (``bench_kfsvd_quick.json`` with --quick).
"""

from __future__ import annotations

import argparse
import time
import warnings
from functools import partial
from pathlib import Path

import numpy as np
import torch
from _common import environment, format_table, write_json
from scipy.stats import spearmanr
from sklearn.datasets import load_digits
from threadpoolctl import threadpool_limits

from skinfluence.adapters._torch import TorchAdapter
from skinfluence.curvature import ExactSolver
from skinfluence.curvature._kfac import KFACSolver
from skinfluence.exceptions import SingularHessianWarning
from skinfluence.influence._active import fi_active_scores, fi_pair_factors
from skinfluence.influence._kfsvd import kfsvd_pair_factors

TOP = 30
N_ITER, OVERSAMPLES = 2, 5
RANKS = (None, 1, 2, 5, 10, "full")


class MLP(torch.nn.Module):
    def __init__(self, p=64, hidden=16, k=10):
        super().__init__()
        self.hidden = torch.nn.Linear(p, hidden)
        self.out = torch.nn.Linear(hidden, k)

    def forward(self, x):
        return self.out(torch.tanh(self.hidden(x)))


def fit_net(X, y, hidden, weight_decay, seed):
    from skorch import NeuralNetClassifier

    torch.manual_seed(seed)
    net = NeuralNetClassifier(
        MLP,
        module__hidden=hidden,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.SGD,
        lr=0.1,
        max_epochs=60,
        batch_size=32,
        optimizer__weight_decay=weight_decay,
        train_split=None,
        classes=np.arange(10),
        verbose=0,
    )
    return net.fit(X, y)


def timed(fn, repeats=1):
    best, out = np.inf, None
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def run_seed(seed, args, n_lab, n_pool, hidden):
    """All configurations on one seed: a list of result dicts and the settings."""
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    order = np.random.default_rng(seed).permutation(len(y))
    lab, pool = order[:n_lab], order[n_lab : n_lab + n_pool]
    XL, yL, XU = X[lab], y[lab], X[pool]
    net = fit_net(XL, yL, hidden, args.weight_decay, seed)
    train_acc = float(net.score(XL, yL))
    ad = TorchAdapter(net, XL, yL, gauss_newton=True)
    y_enc = ad.encode_y(yL)
    m, p, k_out = ad.n_params, ad.n_features, ad.n_raw_outputs
    full = min(m, p)
    print(f"seed {seed}: m={m}, p={p}, train accuracy {train_acc:.3f}", flush=True)

    solvers = {}
    for name, cls in (("exact", ExactSolver), ("kfac", KFACSolver)):
        with warnings.catch_warnings():
            # a singular matrix would make a poor benchmark
            warnings.simplefilter("error", SingularHessianWarning)
            seconds, solver = timed(lambda c=cls: c(damping=args.damping).fit(ad))
        solvers[name] = (solver, seconds)

    def compare(scores):
        rel = float(np.linalg.norm(scores - reference) / np.linalg.norm(reference))
        rho = float(spearmanr(scores, reference).statistic)
        top = len(set(np.argsort(-scores)[:TOP]) & set(np.argsort(-reference)[:TOP]))
        return rel, rho, top

    reference = None
    results = []
    for solver_name, rank in [(s, r) for s in ("exact", "kfac") for r in RANKS]:
        solver, solver_s = solvers[solver_name]
        rank = full if rank == "full" else rank
        if rank is None:
            factors, products = fi_pair_factors, 2 * k_out
        else:
            factors = partial(
                kfsvd_pair_factors,
                svd_rank=rank,
                n_iter=N_ITER,
                random_state=seed,
                n_oversamples=OVERSAMPLES,
            )
            products = (2 * N_ITER + 2) * min(rank + OVERSAMPLES, m, p)
        seconds, scores = timed(
            lambda f=factors, s=solver: fi_active_scores(ad, s, XL, y_enc, XU, pair_factors=f),
            args.repeats,
        )
        if reference is None:
            reference = scores
        rel, rho, top = compare(scores)
        results.append(
            {
                "solver": solver_name,
                "svd_rank": rank,
                "rel_err": rel,
                "scale": float(scores.mean() / reference.mean()),
                "spearman": rho,
                "top30_overlap": top,
                "svd_floats_per_row": None if rank is None else (m + p + 1) * rank,
                "n_floats_per_row": k_out * m,
                "mixed_products_per_row": products,
                "solver_s": solver_s,
                "scores_s": seconds,
            }
        )
        print(f"  {solver_name} rank={rank}: rho {rho:.4f} top {top} {seconds:.2f}s", flush=True)
    proba = net.predict_proba(XU)
    entropy = -np.sum(proba * np.log(np.clip(proba, 1e-300, None)), axis=1)
    _, rho, top = compare(entropy)
    baseline = {"spearman": rho, "top30_overlap": top}
    settings = {"m": m, "p": p, "train_accuracy": train_acc}
    return results, baseline, settings


def _mean_range(values, fmt):
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(values.mean())} [{fmt.format(values.min())}, {fmt.format(values.max())}]"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, about a minute")
    parser.add_argument("--n-labeled", type=int, default=None)
    parser.add_argument("--n-pool", type=int, default=None)
    parser.add_argument("--hidden", type=int, default=None)
    parser.add_argument("--damping", type=float, default=1e-3)
    parser.add_argument("--weight-decay", type=float, default=1e-3)
    parser.add_argument("--repeats", type=int, default=1, help="timing repeats (best of)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1, help="torch and BLAS threads")
    parser.add_argument("--out-dir", type=Path, default=None, help="default benchmarks/results")
    args = parser.parse_args(argv)
    n_lab = args.n_labeled or (150 if args.quick else 300)
    n_pool = args.n_pool or (300 if args.quick else 1000)
    hidden = args.hidden or (8 if args.quick else 16)
    torch.set_num_threads(args.threads)

    per_seed = {}
    with threadpool_limits(args.threads):
        for seed in args.seeds:
            per_seed[seed] = run_seed(seed, args, n_lab, n_pool, hidden)
    first = per_seed[args.seeds[0]]
    m, p = first[2]["m"], first[2]["p"]
    rows = []
    for j, res in enumerate(first[0]):
        runs = [per_seed[seed][0][j] for seed in args.seeds]
        rank = res["svd_rank"]
        rank_label = "-" if rank is None else (f"{rank} (full)" if rank == min(m, p) else str(rank))
        rows.append(
            [
                res["solver"],
                rank_label,
                _mean_range([r["rel_err"] for r in runs], "{:.3g}"),
                _mean_range([r["scale"] for r in runs], "{:.3g}"),
                _mean_range([r["spearman"] for r in runs], "{:.3f}"),
                _mean_range([r["top30_overlap"] for r in runs], "{:.1f}"),
                "-" if rank is None else f"{res['svd_floats_per_row']:,}",
                f"{res['n_floats_per_row']:,}",
                res["mixed_products_per_row"],
                f"{np.mean([r['solver_s'] for r in runs]):.2f}",
                f"{np.mean([r['scores_s'] for r in runs]):.2f}",
            ]
        )
    base = [per_seed[seed][1] for seed in args.seeds]
    rows.append(
        [
            "entropy baseline",
            "",
            "",
            "",
            _mean_range([b["spearman"] for b in base], "{:.3f}"),
            _mean_range([b["top30_overlap"] for b in base], "{:.1f}"),
            "",
            "",
            "",
            "",
            "",
        ]
    )
    headers = [
        "solver",
        "svd_rank",
        "rel. err",
        "scale",
        "Spearman",
        "top-30 (of 30)",
        "SVD floats/row",
        "N floats/row",
        "products/row",
        "solver s",
        "scores s",
    ]
    title = (
        f"FI^active on digits, MLP 64-{hidden}-10 (m={m:,}, p={p}; explicit M = "
        f"{m * p:,} floats/row), {n_lab} labeled x {n_pool} pool, damping "
        f"{args.damping:g}, seeds {args.seeds}: mean [min, max] against the exact solver + "
        "exact mixed derivative"
    )
    table = format_table(headers, rows, title)
    print("\n" + table)
    payload = {
        "benchmark": "bench_kfsvd",
        "quick": args.quick,
        "settings": {
            "n_labeled": n_lab,
            "n_pool": n_pool,
            "hidden": hidden,
            "m": m,
            "p": p,
            "damping": args.damping,
            "weight_decay": args.weight_decay,
            "seeds": args.seeds,
            "n_iter": N_ITER,
            "n_oversamples": OVERSAMPLES,
            "top": TOP,
            "threads": args.threads,
        },
        "per_seed": {
            str(seed): {"results": r, "entropy_baseline": b, "model": st}
            for seed, (r, b, st) in per_seed.items()
        },
        "table": table,
        "environment": environment(),
    }
    path = write_json("bench_kfsvd_quick" if args.quick else "bench_kfsvd", payload, args.out_dir)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()

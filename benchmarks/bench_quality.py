"""Quality of influence-based trimming: test accuracy after dropping the top-b rows.

Part (a) — seed 000, §5.1 "Validation on 2D Linear Model" / Table 1 protocol:
two isotropic 2-D Gaussians, N((-1.25, -1.25), I) for class 0 and N((1.25, 1.25), I)
for class 1 (mean distance 3.54 σ: Bayes accuracy Φ(1.77) = 96.2 %, in the mid-90s
like the paper's 96 %), balanced classes, 150 train / 100 validation / 600 test rows,
``--seeds`` data seeds (30), budgets 5/10/20. Estimator ``LogisticRegression()``.
Each method runs through ``InfluenceTrimmer(..., budget=b).fit(X, y, X_val=, y_val=)``:
with an explicit validation set the final refit uses the kept *training* rows only
(the validation rows are not added back). Methods: ``fi`` with scaling "appendix"
(``∂ωθ̂ = -H⁻¹M/n``, the package default), ``fi`` "algorithm" (``H⁻¹M``), ``fi``
"main" (``+H⁻¹M/n``), ``if`` (the IV baseline), ``random`` (mean of 5 seeds) and no
trimming. Reported: mean ± std test accuracy over seeds and, per fi scaling, the
number of seeds where fi is strictly better than if, tied, worse.

Part (b) — seed 000, §5.1 "Validation on Real-World Datasets" / Appendix D.1 sizes:
Adult (train rows from ``adult_train.csv.gz``, test rows from ``adult_test.csv.gz``)
and Bank (``bank_marketing.csv.gz``, ``duration`` dropped; train/validation/test
drawn disjointly from the one file). Per data seed: 5,000 training rows, 1,000
validation rows (disjoint from training), 4,200 test rows; preprocessing (fitted on the
5,000 training rows) one-hot encodes the categorical columns and standard-scales the
numeric ones. Estimator ``LogisticRegression(max_iter=1000)``. Budgets b ∈ {50, 100,
250, 500, 1000}; methods ``fi`` (appendix, algorithm), ``if``, ``random`` (mean of 5
seeds); on clean labels and with 10 % (500) of the *training* labels flipped
(validation and test labels stay clean). With flipped labels, also the precision of
the trimmed set: (trimmed rows that were flipped) / b; random's expectation is 10 %.
Note: the paper's "noisy" variant (App. D.1) adds white noise to 500 rows' features
instead; label flipping is this benchmark's choice.

Implementation note for (b): for each method the trimmer is fitted once at the largest
budget; ``trimmed_indices_`` is sorted most-harmful-first, so the set trimmed at a
smaller budget b is its first b entries and only the refit is repeated. That this
equals a fresh ``InfluenceTrimmer(budget=b)`` is asserted at the smallest budget.

Usage::

    python benchmarks/bench_quality.py            # full: 30 seeds (a), 10 data seeds (b)
    python benchmarks/bench_quality.py --quick    # 5 seeds (a), 1 data seed, b ∈ {50, 250, 1000}
    python benchmarks/bench_quality.py --part a   # only one part

Writes ``benchmarks/results/bench_quality.json`` (``bench_quality_quick.json`` with --quick).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch
from _common import (
    ADULT_CATEGORICAL,
    ADULT_NUMERIC,
    BANK_CATEGORICAL,
    BANK_NUMERIC,
    default_data_dir,
    environment,
    format_table,
    load_adult,
    load_bank,
    make_preprocessor,
    write_json,
)
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from skinfluence import InfluenceTrimmer

RANDOM_SEEDS = 5
MEAN_0, MEAN_1, SIGMA = (-1.25, -1.25), (1.25, 1.25), 1.0

# (label, method, scaling)
METHODS_A = [
    ("fi (appendix)", "fi", "appendix"),
    ("fi (algorithm)", "fi", "algorithm"),
    ("fi (main)", "fi", "main"),
    ("if", "if", "appendix"),
]
METHODS_B = [
    ("fi (appendix)", "fi", "appendix"),
    ("fi (algorithm)", "fi", "algorithm"),
    ("if", "if", "appendix"),
]


def pm(values, scale=100.0, digits=2) -> str:
    values = np.asarray(values, dtype=float) * scale
    return f"{values.mean():.{digits}f}±{values.std():.{digits}f}"


# -- part (a) ----------------------------------------------------------------------------
def gaussians(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` rows, half from each class (class 0 first half, class 1 second half)."""
    n0 = n // 2
    X = np.vstack(
        [
            rng.normal(MEAN_0, SIGMA, size=(n0, 2)),
            rng.normal(MEAN_1, SIGMA, size=(n - n0, 2)),
        ]
    )
    y = np.r_[np.zeros(n0, dtype=int), np.ones(n - n0, dtype=int)]
    perm = rng.permutation(n)
    return X[perm], y[perm]


def part_a(n_seeds: int, budgets: list[int]) -> dict:
    est = LogisticRegression()
    per_seed = []
    for seed in range(n_seeds):
        rng = np.random.default_rng(seed)
        Xtr, ytr = gaussians(150, rng)
        Xva, yva = gaussians(100, rng)
        Xte, yte = gaussians(600, rng)
        rec = {"seed": seed, "no_trim": clone(est).fit(Xtr, ytr).score(Xte, yte), "acc": {}}
        for b in budgets:
            for label, method, scaling in METHODS_A:
                trim = InfluenceTrimmer(clone(est), method=method, scaling=scaling, budget=b)
                trim.fit(Xtr, ytr, X_val=Xva, y_val=yva)
                rec["acc"][f"{label}|{b}"] = trim.score(Xte, yte)
            rand = [
                InfluenceTrimmer(clone(est), method="random", budget=b, random_state=r)
                .fit(Xtr, ytr, X_val=Xva, y_val=yva)
                .score(Xte, yte)
                for r in range(RANDOM_SEEDS)
            ]
            rec["acc"][f"random|{b}"] = float(np.mean(rand))
        per_seed.append(rec)

    no_trim = np.array([r["no_trim"] for r in per_seed])
    summary, rows = [], []
    for b in budgets:
        acc = {
            lab: np.array([r["acc"][f"{lab}|{b}"] for r in per_seed])
            for lab in [m[0] for m in METHODS_A] + ["random"]
        }
        entry = {"budget": b, "mean": {}, "std": {}, "fi_vs_if": {}}
        for lab, a in acc.items():
            entry["mean"][lab], entry["std"][lab] = float(a.mean()), float(a.std())
        for lab in ("fi (appendix)", "fi (algorithm)", "fi (main)"):
            diff = acc[lab] - acc["if"]
            entry["fi_vs_if"][lab] = {
                "better": int((diff > 0).sum()),
                "tie": int((diff == 0).sum()),
                "worse": int((diff < 0).sum()),
            }
        summary.append(entry)
        entry["vs_no_trim"] = {}
        for lab, a in acc.items():
            diff = a - no_trim
            entry["vs_no_trim"][lab] = {
                "better": int((diff > 0).sum()),
                "tie": int((diff == 0).sum()),
                "worse": int((diff < 0).sum()),
            }
        wlt = {lab: entry["fi_vs_if"][lab] for lab in entry["fi_vs_if"]}
        rows.append(
            [
                b,
                "{better}/{tie}/{worse}".format(**wlt["fi (appendix)"]),
                "{better}/{tie}/{worse}".format(**wlt["fi (algorithm)"]),
                "{better}/{tie}/{worse}".format(**wlt["fi (main)"]),
                pm(acc["fi (appendix)"]),
                pm(acc["fi (algorithm)"]),
                pm(acc["fi (main)"]),
                pm(acc["if"]),
                pm(acc["random"]),
                pm(no_trim),
                "{better}/{tie}/{worse}".format(**entry["vs_no_trim"]["fi (appendix)"]),
                "{better}/{tie}/{worse}".format(**entry["vs_no_trim"]["if"]),
            ]
        )
    headers = [
        "b",
        "fi(app) vs if: better/tie/worse",
        "fi(alg) vs if",
        "fi(main) vs if",
        "Acc fi(app) %",
        "Acc fi(alg) %",
        "Acc fi(main) %",
        "Acc if %",
        "Acc random %",
        "Acc no trim %",
        "fi(app) vs no trim",
        "if vs no trim",
    ]
    table = format_table(
        headers,
        rows,
        f"(a) 2-D Gaussians, LogisticRegression, {n_seeds} seeds "
        "(150 train / 100 val / 600 test); mean±std test accuracy",
    )
    return {"per_seed": per_seed, "summary": summary, "table": table}


# -- part (b) ----------------------------------------------------------------------------
def sample_dataset(name: str, data_dir: Path, seed: int, n_train: int, n_val: int, n_test: int):
    rng = np.random.default_rng(seed)
    if name == "adult":
        X_df, y = load_adult(data_dir, "train")
        X_te_df, y_te = load_adult(data_dir, "test")
        idx = rng.permutation(len(y))
        tr, va = idx[:n_train], idx[n_train : n_train + n_val]
        te = rng.choice(len(y_te), size=n_test, replace=False)
        parts = (X_df.iloc[tr], y[tr], X_df.iloc[va], y[va], X_te_df.iloc[te], y_te[te])
        numeric, categorical = ADULT_NUMERIC, ADULT_CATEGORICAL
    else:
        X_df, y = load_bank(data_dir)
        idx = rng.permutation(len(y))
        tr = idx[:n_train]
        va = idx[n_train : n_train + n_val]
        te = idx[n_train + n_val : n_train + n_val + n_test]
        parts = (X_df.iloc[tr], y[tr], X_df.iloc[va], y[va], X_df.iloc[te], y[te])
        numeric, categorical = BANK_NUMERIC, BANK_CATEGORICAL
    Xtr, ytr, Xva, yva, Xte, yte = parts
    pre = make_preprocessor(numeric, categorical).fit(Xtr)
    return pre.transform(Xtr), ytr, pre.transform(Xva), yva, pre.transform(Xte), yte


def _kept(n: int, trimmed: np.ndarray) -> np.ndarray:
    keep = np.ones(n, dtype=bool)
    keep[trimmed] = False
    return keep


def run_b_setting(est, Xtr, ytr, Xva, yva, Xte, yte, budgets, flipped=None) -> dict:
    """All methods × budgets on one (dataset, seed, noise) setting."""
    n, bmax, bmin = len(ytr), max(budgets), min(budgets)
    out = {
        "no_trim": clone(est).fit(Xtr, ytr).score(Xte, yte),
        "acc": {},
        "precision": {},
        "seconds": {},
    }

    def evaluate(trimmer_factory, label, n_runs=1):
        start = time.perf_counter()
        accs = {b: [] for b in budgets}
        precs = {b: [] for b in budgets}
        for run in range(n_runs):
            trim = trimmer_factory(bmax, run).fit(Xtr, ytr, X_val=Xva, y_val=yva)
            order = trim.trimmed_indices_
            # a fresh trimmer at the smallest budget trims exactly the first bmin rows
            if run == 0:
                small = trimmer_factory(bmin, run).fit(Xtr, ytr, X_val=Xva, y_val=yva)
                assert np.array_equal(small.trimmed_indices_, order[:bmin]), label
            for b in budgets:
                dropped = order[:b]
                model = clone(est).fit(Xtr[_kept(n, dropped)], ytr[_kept(n, dropped)])
                if b == bmin and run == 0:
                    assert np.isclose(model.score(Xte, yte), small.score(Xte, yte)), label
                accs[b].append(model.score(Xte, yte))
                if flipped is not None:
                    precs[b].append(np.isin(dropped, flipped).mean())
        for b in budgets:
            out["acc"][f"{label}|{b}"] = float(np.mean(accs[b]))
            if flipped is not None:
                out["precision"][f"{label}|{b}"] = float(np.mean(precs[b]))
        out["seconds"][label] = time.perf_counter() - start

    for label, method, scaling in METHODS_B:
        evaluate(
            lambda b, r, m=method, s=scaling: InfluenceTrimmer(
                clone(est), method=m, scaling=s, budget=b
            ),
            label,
        )
    evaluate(
        lambda b, r: InfluenceTrimmer(clone(est), method="random", budget=b, random_state=r),
        "random",
        n_runs=RANDOM_SEEDS,
    )
    return out


def part_b(
    data_dir: Path,
    seeds: list[int],
    budgets: list[int],
    n_train=5000,
    n_val=1000,
    n_test=4200,
    flip_rate=0.10,
) -> dict:
    est = LogisticRegression(max_iter=1000)
    labels = [m[0] for m in METHODS_B] + ["random"]
    records, tables, summary = [], [], []
    for dataset in ("adult", "bank"):
        for noise in ("clean", "flip10"):
            recs = []
            for seed in seeds:
                Xtr, ytr, Xva, yva, Xte, yte = sample_dataset(
                    dataset, data_dir, seed, n_train, n_val, n_test
                )
                flipped = None
                if noise == "flip10":
                    rng = np.random.default_rng(10_000 + seed)
                    flipped = np.sort(
                        rng.choice(n_train, size=int(flip_rate * n_train), replace=False)
                    )
                    ytr = ytr.copy()
                    ytr[flipped] = 1 - ytr[flipped]
                res = run_b_setting(est, Xtr, ytr, Xva, yva, Xte, yte, budgets, flipped)
                res.update(
                    {
                        "dataset": dataset,
                        "noise": noise,
                        "seed": seed,
                        "n_features": Xtr.shape[1],
                        "positive_share_train": float(ytr.mean()),
                    }
                )
                recs.append(res)
                print(
                    f"  (b) {dataset} {noise} seed {seed}: no trim {res['no_trim']:.4f}, "
                    f"{', '.join(f'{k} {v:.1f}s' for k, v in res['seconds'].items())}",
                    flush=True,
                )
            records.extend(recs)
            no_trim = [r["no_trim"] for r in recs]
            rows = []
            for b in budgets:
                row = [b]
                entry = {
                    "dataset": dataset,
                    "noise": noise,
                    "budget": b,
                    "acc_mean": {},
                    "acc_std": {},
                    "precision_mean": {},
                }
                for lab in labels:
                    a = [r["acc"][f"{lab}|{b}"] for r in recs]
                    entry["acc_mean"][lab], entry["acc_std"][lab] = (
                        float(np.mean(a)),
                        float(np.std(a)),
                    )
                    row.append(pm(a))
                if noise == "flip10":
                    for lab in labels:
                        pr = [r["precision"][f"{lab}|{b}"] for r in recs]
                        entry["precision_mean"][lab] = float(np.mean(pr))
                        row.append(pm(pr, digits=1))
                row.append(pm(no_trim))
                rows.append(row)
                summary.append(entry)
            delta_rows = []
            for b in budgets:
                row = [b]
                for lab in labels:
                    d = np.array([r["acc"][f"{lab}|{b}"] - r["no_trim"] for r in recs]) * 100
                    row.append(f"{d.mean():+.2f}±{d.std():.2f} ({(d > 0).sum()}↑/{(d < 0).sum()}↓)")
                delta_rows.append(row)
            headers = ["b"] + [f"Acc {lab} %" for lab in labels]
            if noise == "flip10":
                headers += [f"Prec {lab} %" for lab in labels]
            headers.append("Acc no trim %")
            noise_txt = "clean labels" if noise == "clean" else "10 % training labels flipped"
            p_lo, p_hi = min(r["n_features"] for r in recs), max(r["n_features"] for r in recs)
            p_txt = str(p_lo) if p_lo == p_hi else f"{p_lo}–{p_hi} by seed"
            tables.append(
                format_table(
                    headers,
                    rows,
                    f"(b) {dataset.capitalize()}, {noise_txt}: mean±std over {len(seeds)} data seed(s) "
                    f"({n_train} train / {n_val} val / {n_test} test, p={p_txt})",
                )
            )
            tables.append(
                format_table(
                    ["b"] + [f"Δ {lab} pp" for lab in labels],
                    delta_rows,
                    f"(b) {dataset.capitalize()}, {noise_txt}: paired change of test accuracy vs no "
                    "trimming, mean±std over data seeds (seeds up↑/down↓)",
                )
            )
    return {"records": records, "summary": summary, "tables": tables}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="few seeds and budgets (a minute or two)"
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="folder of the CSV files (default: $SKINFLUENCE_DATA or ../shared/data)",
    )
    parser.add_argument("--part", choices=["a", "b", "both"], default="both")
    parser.add_argument(
        "--seeds", type=int, default=None, help="seeds of part (a) (default 30, quick 5)"
    )
    parser.add_argument(
        "--data-seeds", type=int, default=None, help="data seeds of part (b) (default 10, quick 1)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BLAS/OpenMP and torch threads (default 1; 0 = library defaults)",
    )
    parser.add_argument("--out-dir", type=Path, default=None, help="default benchmarks/results")
    args = parser.parse_args(argv)
    if args.threads > 0:
        threadpool_limits(args.threads)
        torch.set_num_threads(args.threads)

    data_dir = args.data_dir or default_data_dir()
    n_seeds = args.seeds or (5 if args.quick else 30)
    data_seeds = list(range(args.data_seeds or (1 if args.quick else 10)))
    budgets_a = [5, 10, 20]
    budgets_b = [50, 250, 1000] if args.quick else [50, 100, 250, 500, 1000]

    payload = {
        "benchmark": "bench_quality",
        "quick": args.quick,
        "settings": {
            "part_a": {
                "seeds": n_seeds,
                "budgets": budgets_a,
                "means": [MEAN_0, MEAN_1],
                "sigma": SIGMA,
                "sizes": "150 train / 100 val / 600 test, balanced",
                "estimator": "LogisticRegression()",
                "random_seeds": RANDOM_SEEDS,
            },
            "part_b": {
                "data_seeds": data_seeds,
                "budgets": budgets_b,
                "sizes": "5000 train / 1000 val / 4200 test",
                "flip_rate": 0.10,
                "estimator": "LogisticRegression(max_iter=1000)",
                "random_seeds": RANDOM_SEEDS,
            },
            "threads": args.threads or "library defaults",
            "load_average_before": os.getloadavg(),
        },
        "environment": environment(),
    }
    tables = []
    if args.part in ("a", "both"):
        start = time.perf_counter()
        res_a = part_a(n_seeds, budgets_a)
        res_a["seconds"] = time.perf_counter() - start
        payload["part_a"] = res_a
        tables.append(res_a["table"])
        print("\n" + res_a["table"] + f"\n\n(part a: {res_a['seconds']:.0f}s)\n", flush=True)
    if args.part in ("b", "both"):
        start = time.perf_counter()
        res_b = part_b(data_dir, data_seeds, budgets_b)
        res_b["seconds"] = time.perf_counter() - start
        payload["part_b"] = res_b
        tables.extend(res_b["tables"])
        print(
            "\n" + "\n\n".join(res_b["tables"]) + f"\n\n(part b: {res_b['seconds']:.0f}s)",
            flush=True,
        )
    payload["tables_markdown"] = tables
    payload["settings"]["load_average_after"] = os.getloadavg()
    suffix = "" if args.part == "both" else f"_{args.part}"
    name = ("bench_quality_quick" if args.quick else "bench_quality") + suffix
    path = write_json(name, payload, args.out_dir)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()

"""ShapleyValuator benchmarks: against pyDVL, noisy-label detection, seed 000 Appendix E.

Part ``pydvl`` — the same problems in one run with pyDVL 0.10 (benchmark-only
dependency; this part is skipped with a message when it is missing):

* (a) throughput: permutation Shapley (no truncation) of ``LogisticRegression()`` on
  200 Bank training rows, accuracy on 500 validation rows, the same utility in both
  (pyDVL's scorer ``default`` set to skinfluence's value of the empty and one-class
  subsets, a feature-blind model's accuracy); each library runs for the
  same wall-clock budget with ``n_jobs`` 1 and 2 (pyDVL through
  ``joblib.parallel_config(n_jobs=...)``, as its docs say). Reported: utility
  evaluations per second (fits and scores of a subset; pyDVL: its value updates, one per
  prefix; skinfluence: ``n_evaluations_``) and permutations per second. Worker pools
  and imports are warmed up for both before timing.
* (b) error at equal time: a long reference run (skinfluence, no truncation, another
  seed), then both libraries at equal wall-clock budgets, without truncation and with
  each library's TMC truncation (relative tolerance 0.01); error = ``‖v − ref‖₂ /
  ‖ref‖₂`` and Spearman ρ with the reference.
* (c) exact KNN-Shapley, ``KNeighborsClassifier(5)``, 20,000 Bank training rows and
  1,000 validation rows, ``n_jobs`` 1 and 2; the two libraries' values are compared.

Part ``noisy`` — noisy-label detection on Bank: 2,000 training rows with 10 % (200) of
the labels flipped, 1,000 clean validation rows (the utility's), 4,200 clean test rows.
Values from ``tmc`` (no truncation, and with the default ``truncation_tol=0.01``),
``beta`` (16, 1), ``banzhaf`` — each with the same wall-clock budget and ``n_jobs=2`` —
``loo`` (exact), ``knn`` (``KNeighborsClassifier(5)``, the closed form, as a surrogate)
and, beside them, the influence scores ``fi`` and ``if`` of ``skinfluence.influence_scores``
for the ``LogisticRegression`` fitted on the noisy rows. Reported: precision@200 (share
of flipped rows among the 200 lowest-valued), AUROC of "flipped" against the score, and
the test accuracy of ``LogisticRegression`` refitted after dropping the 100/200/400
lowest-valued rows (no drop and dropping exactly the flipped rows for reference).

Part ``appendix_e`` — seed 000 Appendix E, Figure 11 ("Performance comparison of
different methods on Bank, including the newly added Shapley method"): on clean Bank
data, drop ``b`` rows by ``fi``, ``if``, ``tmc`` Shapley (no truncation, time-budgeted),
``knn`` Shapley and ``random`` (mean of 5 seeds), refit ``LogisticRegression``, test
accuracy. Sizes 2,000 train / 1,000 validation / 4,200 test (the paper's App. D.1 uses
5,000 training rows; TMC at 5,000 rows does not fit the 2-core budget).

Every timing runs with BLAS pinned to one thread per process (``threadpoolctl``; joblib
pins its workers), and the 1-minute load average is recorded before and after each part:
the machine has 2 cores and is shared, so the load says how much of it we had.

Usage::

    python benchmarks/bench_shapley.py            # full (about 40 minutes on 2 cores)
    python benchmarks/bench_shapley.py --quick    # a few minutes, smaller budgets
    python benchmarks/bench_shapley.py --part pydvl

pyDVL 0.10.0 pins ``numpy<2``; to add it to a numpy-2 environment without downgrading::

    pip install --no-deps pydvl==0.10.0 && pip install pyDeprecate more-itertools cvxpy

Data: ``$SKINFLUENCE_DATA`` or ``../shared/data`` relative to the repository root.
Writes ``benchmarks/results/shapley.json`` (``shapley_quick.json`` with ``--quick``) after
every part; ``--part`` replaces that part in the file and keeps the others.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings

import joblib
import numpy as np
from _common import (
    BANK_CATEGORICAL,
    BANK_NUMERIC,
    RESULTS_DIR,
    default_data_dir,
    environment,
    format_table,
    load_bank,
    make_preprocessor,
    write_json,
)
from scipy.stats import spearmanr
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import KNeighborsClassifier
from threadpoolctl import threadpool_limits

from skinfluence import ShapleyValuator, influence_scores
from skinfluence.valuation import ModelUtility, knn_shapley

PYDVL_HINT = "pip install --no-deps pydvl==0.10.0 && pip install pyDeprecate more-itertools cvxpy"


def load() -> str:
    return f"{os.getloadavg()[0]:.2f}"


def bank_split(data_dir, seed: int, n_train: int, n_val: int, n_test: int = 0):
    """Disjoint random rows of Bank, preprocessed with a transformer fitted on the train rows."""
    X_df, y = load_bank(data_dir)
    idx = np.random.default_rng(seed).permutation(len(y))
    tr, va = idx[:n_train], idx[n_train : n_train + n_val]
    te = idx[n_train + n_val : n_train + n_val + n_test]
    pre = make_preprocessor(BANK_NUMERIC, BANK_CATEGORICAL).fit(X_df.iloc[tr])
    out = [pre.transform(X_df.iloc[tr]), y[tr], pre.transform(X_df.iloc[va]), y[va]]
    if n_test:
        out += [pre.transform(X_df.iloc[te]), y[te]]
    return out


def rel_error(v, ref) -> float:
    return float(np.linalg.norm(v - ref) / np.linalg.norm(ref))


# -- part: pyDVL ---------------------------------------------------------------------------
def _pydvl_tmc(Xtr, ytr, Xv, yv, seconds, n_jobs, truncate, seed):
    # the same game as skinfluence's: degenerate subsets (empty, one class) score like a
    # feature-blind model, not pyDVL's usual default of 0
    default = ModelUtility(LogisticRegression(), Xtr, ytr, Xv, yv).default_score_
    from pydvl.valuation import (
        Dataset,
        MaxTime,
        ShapleyValuation,
        SupervisedScorer,
        TMCShapleyValuation,
    )
    from pydvl.valuation.samplers import NoTruncation, PermutationSampler

    train, test = Dataset(Xtr, ytr), Dataset(Xv, yv)
    scorer = SupervisedScorer("accuracy", test, default=default, range=(0.0, 1.0))
    from pydvl.valuation import ModelUtility as PyDVLUtility

    utility = PyDVLUtility(LogisticRegression(), scorer, show_warnings=False)
    if truncate:  # pyDVL's TMC defaults: RelativeTruncation(rtol=0.01, burn_in_fraction=0.4)
        valuation = TMCShapleyValuation(utility, is_done=MaxTime(seconds), seed=seed)
    else:
        sampler = PermutationSampler(truncation=NoTruncation(), seed=seed)
        valuation = ShapleyValuation(utility, sampler, MaxTime(seconds), progress=False)
    start = time.perf_counter()
    with warnings.catch_warnings(), joblib.parallel_config(n_jobs=n_jobs):
        warnings.simplefilter("ignore")
        valuation.fit(train)
    wall = time.perf_counter() - start
    result = valuation.result
    updates = int(result.counts.sum())
    return {
        "values": np.asarray(result.values, dtype=float),
        "wall_s": wall,
        "evaluations": updates,
        "permutations": updates / len(ytr),
    }


def _ours_tmc(Xtr, ytr, Xv, yv, seconds, n_jobs, truncate, seed, max_iter=10**7):
    est = ShapleyValuator(
        LogisticRegression(),
        method="tmc",
        truncation_tol=0.01 if truncate else None,
        max_iter=max_iter,
        max_time=seconds,
        tol=0.0,
        budget=0,
        n_jobs=n_jobs,
        random_state=seed,
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(Xtr, ytr, X_val=Xv, y_val=yv)
    wall = time.perf_counter() - start
    return {
        "values": est.values_,
        "stderr": est.values_stderr_,
        "wall_s": wall,
        "evaluations": est.n_evaluations_,
        "permutations": est.n_iter_,
    }


def part_pydvl(data_dir, quick: bool) -> dict:
    try:
        import pydvl
    except ImportError:
        msg = f"pyDVL is not installed; skipped. Install it with: {PYDVL_HINT}"
        print(msg)
        return {"skipped": msg}
    out = {"pydvl_version": pydvl.__version__, "load_before": load()}
    Xtr, ytr, Xv, yv = bank_split(data_dir, seed=0, n_train=200, n_val=500)

    # warm-up: worker pools and imports, for both libraries
    for jobs in (1, 2):
        _pydvl_tmc(Xtr, ytr, Xv, yv, 1.0, jobs, False, 0)
        _ours_tmc(Xtr, ytr, Xv, yv, 1.0, jobs, False, 0, max_iter=4)

    # (a) throughput
    seconds = 4.0 if quick else 30.0
    rows, tput = [], []
    for jobs in (1, 2):
        for lib, run in (("pyDVL", _pydvl_tmc), ("skinfluence", _ours_tmc)):
            before = load()
            r = run(Xtr, ytr, Xv, yv, seconds, jobs, False, 1)
            rec = {
                "library": lib,
                "n_jobs": jobs,
                "wall_s": r["wall_s"],
                "evaluations": r["evaluations"],
                "permutations": r["permutations"],
                "evaluations_per_s": r["evaluations"] / r["wall_s"],
                "permutations_per_s": r["permutations"] / r["wall_s"],
                "load_before": before,
            }
            tput.append(rec)
            rows.append([lib, jobs, f"{r['wall_s']:.1f}", r["evaluations"],
                         f"{rec['evaluations_per_s']:.0f}", f"{r['permutations']:.1f}",
                         f"{rec['permutations_per_s']:.2f}", before])  # fmt: skip
    out["throughput"] = tput
    out["throughput_table"] = format_table(
        ["library", "n_jobs", "wall s", "utility evaluations", "evaluations/s",
         "permutations", "permutations/s", "load before"],
        rows,
        f"(a) Permutation Shapley throughput, LogisticRegression, Bank n=200 train / 500 "
        f"validation, accuracy, no truncation, {seconds:.0f} s budget per run",
    )  # fmt: skip
    print(out["throughput_table"], "\n")

    # (b) error vs a long-run reference at equal time
    ref_seconds = 30.0 if quick else 600.0
    before = load()
    ref = _ours_tmc(Xtr, ytr, Xv, yv, ref_seconds, 2, False, 12345)
    ref_noise = float(np.linalg.norm(ref["stderr"]) / np.linalg.norm(ref["values"]))
    out["reference"] = {
        "seconds": ref_seconds,
        "permutations": ref["permutations"],
        "rel_l2_stderr": ref_noise,
        "load_before": before,
        "values": ref["values"],
        "stderr": ref["stderr"],
    }
    budgets = [3.0, 8.0] if quick else [10.0, 30.0, 90.0]
    rows, err = [], []
    for truncate in (False, True):
        for seconds in budgets:
            for lib, run in (("pyDVL", _pydvl_tmc), ("skinfluence", _ours_tmc)):
                before = load()
                r = run(Xtr, ytr, Xv, yv, seconds, 2, truncate, 7)
                e, rho = (
                    rel_error(r["values"], ref["values"]),
                    spearmanr(r["values"], ref["values"])[0],
                )
                err.append({"library": lib, "truncation": truncate, "budget_s": seconds,
                            "wall_s": r["wall_s"], "permutations": r["permutations"],
                            "rel_l2_error": e, "spearman": float(rho), "load_before": before})  # fmt: skip
                rows.append([lib, "TMC rtol 0.01" if truncate else "none", f"{seconds:.0f}",
                             f"{r['wall_s']:.1f}", f"{r['permutations']:.1f}", f"{e:.3f}",
                             f"{rho:.3f}", before])  # fmt: skip
    out["equal_time"] = err
    out["equal_time_table"] = format_table(
        ["library", "truncation", "budget s", "wall s", "permutations", "rel. L2 error",
         "Spearman ρ", "load before"],
        rows,
        f"(b) Error vs a {ref_seconds:.0f} s reference ({ref['permutations']} permutations, "
        f"skinfluence, no truncation, another seed; its own ‖stderr‖/‖values‖ = "
        f"{ref_noise:.3f}), n_jobs=2, same problem as (a)",
    )  # fmt: skip
    print(out["equal_time_table"], "\n")

    # (c) exact KNN-Shapley, n = 20,000, n_val = 1,000 (quick: 5,000 / 300)
    from pydvl.valuation import Dataset, KNNShapleyValuation

    n_knn, n_knn_val = (5_000, 300) if quick else (20_000, 1_000)
    Xk, yk, Xkv, ykv = bank_split(data_dir, seed=1, n_train=n_knn, n_val=n_knn_val)
    rows, knn = [], []
    values = {}
    for jobs in (1, 2):
        before = load()
        start = time.perf_counter()
        ours = knn_shapley(Xk, yk, Xkv, ykv, 5, n_jobs=jobs)
        t_ours = time.perf_counter() - start
        valuation = KNNShapleyValuation(KNeighborsClassifier(5), Dataset(Xkv, ykv), progress=False)
        start = time.perf_counter()
        with joblib.parallel_config(n_jobs=jobs):
            valuation.fit(Dataset(Xk, yk))
        t_pydvl = time.perf_counter() - start
        theirs = np.asarray(valuation.result.values, dtype=float)
        values[jobs] = (ours, theirs)
        diff = float(np.max(np.abs(ours - theirs)))
        knn.append({"n_jobs": jobs, "skinfluence_s": t_ours, "pydvl_s": t_pydvl,
                    "speedup": t_pydvl / t_ours, "max_abs_diff": diff, "load_before": before})  # fmt: skip
        rows.append([jobs, f"{t_ours:.2f}", f"{t_pydvl:.2f}", f"{t_pydvl / t_ours:.1f}×",
                     f"{diff:.1e}", before])  # fmt: skip
    out["knn"] = knn
    out["knn_table"] = format_table(
        ["n_jobs", "skinfluence s", "pyDVL s", "speed-up", "max |Δ value|", "load before"],
        rows,
        f"(c) Exact KNN-Shapley, KNeighborsClassifier(5), Bank n={n_knn:,} train / "
        f"{n_knn_val:,} validation",
    )
    print(out["knn_table"], "\n")
    out["load_after"] = load()
    return out


# -- part: noisy labels --------------------------------------------------------------------
def precision_at(scores, flipped_mask, k) -> float:
    top = np.argsort(-scores, kind="stable")[:k]
    return float(flipped_mask[top].mean())


def lr() -> LogisticRegression:
    """The model of the noisy-label and Appendix E parts."""
    return LogisticRegression(max_iter=1000)


def refit_accuracy(X, y, drop, Xte, yte) -> float:
    """Test accuracy of the model refitted without ``drop``.

    When the dropped rows held every row of a class, the refit is the constant
    prediction of the remaining class (LogisticRegression refuses one class).
    """
    keep = np.setdiff1d(np.arange(len(y)), drop)
    classes = np.unique(y[keep])
    if classes.size == 1:
        return float(np.mean(yte == classes[0]))
    return float(lr().fit(X[keep], y[keep]).score(Xte, yte))


def value_methods(X, y, Xv, yv, seconds, seed, methods):
    """name -> (drop-first score, seconds, note); higher score = dropped first."""
    out = {}
    for name in methods:
        start = time.perf_counter()
        note = ""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if name in ("fi", "if"):
                scores = influence_scores(lr().fit(X, y), X, y, Xv, yv, method=name)
            elif name == "knn":
                est = ShapleyValuator(KNeighborsClassifier(5), method="knn", budget=0, n_jobs=2)
                scores = -est.fit(X, y, X_val=Xv, y_val=yv).values_
            elif name == "loo":
                est = ShapleyValuator(lr(), method="loo", budget=0, n_jobs=2)
                scores = -est.fit(X, y, X_val=Xv, y_val=yv).values_
                note = f"{est.n_evaluations_} fits"
            else:
                method, trunc = {
                    "tmc": ("tmc", None),
                    "tmc (trunc 0.01)": ("tmc", 0.01),
                    "beta(16,1)": ("beta", None),
                    "banzhaf": ("banzhaf", None),
                }[name]
                est = ShapleyValuator(
                    lr(),
                    method=method,
                    truncation_tol=trunc,
                    max_iter=10**7,
                    max_time=seconds,
                    tol=0.0,
                    budget=0,
                    n_jobs=2,
                    random_state=seed,
                )
                scores = -est.fit(X, y, X_val=Xv, y_val=yv).values_
                unit = "subsets" if method == "banzhaf" else "permutations"
                note = (
                    f"{est.n_iter_} {unit}, {est.n_evaluations_} fits, "
                    f"max stderr {np.max(est.values_stderr_):.2g}"
                )
        out[name] = (np.asarray(scores, dtype=float), time.perf_counter() - start, note)
    return out


def part_noisy(data_dir, quick: bool, seconds: float) -> dict:
    out = {"load_before": load(), "budget_s": seconds}
    X, y, Xv, yv, Xte, yte = bank_split(data_dir, seed=2, n_train=2000, n_val=1000, n_test=4200)
    rng = np.random.default_rng(2)
    flipped = rng.choice(len(y), size=len(y) // 10, replace=False)
    y_noisy = y.copy()
    y_noisy[flipped] = 1 - y_noisy[flipped]
    is_flipped = np.zeros(len(y), dtype=bool)
    is_flipped[flipped] = True
    k = len(flipped)
    methods = ["tmc", "tmc (trunc 0.01)", "beta(16,1)", "banzhaf", "loo", "knn", "fi", "if"]
    scored = value_methods(X, y_noisy, Xv, yv, seconds, 0, methods)
    drops = [100, 200, 400]
    rows, recs = [], []
    for name, (scores, secs, note) in scored.items():
        order = np.argsort(-scores, kind="stable")
        acc = {b: refit_accuracy(X, y_noisy, order[:b], Xte, yte) for b in drops}
        rec = {"method": name, "seconds": secs, "note": note,
               "precision_at_k": precision_at(scores, is_flipped, k),
               "auroc": float(roc_auc_score(is_flipped, scores)),
               "test_acc_after_drop": acc}  # fmt: skip
        recs.append(rec)
        rows.append([name, f"{rec['precision_at_k']:.3f}", f"{rec['auroc']:.3f}",
                     *(f"{100 * acc[b]:.2f}" for b in drops), f"{secs:.0f}", note])  # fmt: skip
    rand = [np.random.default_rng(s).uniform(size=len(y)) for s in range(5)]
    acc_rand = {b: float(np.mean([refit_accuracy(X, y_noisy, np.argsort(-r)[:b], Xte, yte)
                                  for r in rand])) for b in drops}  # fmt: skip
    rows.append(["random (5 seeds)", f"{k / len(y):.3f} (expected)", "0.500 (expected)",
                 *(f"{100 * acc_rand[b]:.2f}" for b in drops), "0", ""])  # fmt: skip
    no_drop = refit_accuracy(X, y_noisy, np.array([], dtype=int), Xte, yte)
    oracle = refit_accuracy(X, y_noisy, flipped, Xte, yte)
    clean = refit_accuracy(X, y, np.array([], dtype=int), Xte, yte)
    out.update({"methods": recs, "random_acc": acc_rand, "no_drop_acc": no_drop,
                "drop_flipped_acc": oracle, "clean_labels_acc": clean})  # fmt: skip
    out["table"] = format_table(
        ["method", f"precision@{k}", "AUROC", *(f"test acc % drop {b}" for b in drops),
         "seconds", "work"],
        rows,
        f"Noisy-label detection, Bank: 2,000 train rows ({k} labels flipped), 1,000 clean "
        f"validation, 4,200 test; sampled methods {seconds:.0f} s each on n_jobs=2. "
        f"Test accuracy without dropping {100 * no_drop:.2f} %, dropping exactly the "
        f"flipped rows {100 * oracle:.2f} %, with clean labels {100 * clean:.2f} %",
    )  # fmt: skip
    out["load_after"] = load()
    print(out["table"], "\n")
    return out


# -- part: Appendix E ----------------------------------------------------------------------
def part_appendix_e(data_dir, quick: bool, seconds: float) -> dict:
    seeds = [10] if quick else [10, 11, 12]
    budgets = [20, 100, 400] if quick else [20, 50, 100, 200, 400]
    methods = ["fi", "if", "tmc", "knn"]
    out = {"load_before": load(), "seeds": seeds, "budget_s": seconds, "per_seed": []}
    for seed in seeds:
        X, y, Xv, yv, Xte, yte = bank_split(data_dir, seed, n_train=2000, n_val=1000, n_test=4200)
        scored = value_methods(X, y, Xv, yv, seconds, seed, methods)
        rec = {"seed": seed, "no_trim": refit_accuracy(X, y, np.array([], int), Xte, yte),
               "n_positive": int(y.sum()),
               "acc": {}, "seconds": {m: scored[m][1] for m in methods},
               "notes": {m: scored[m][2] for m in methods}}  # fmt: skip
        rec["positives_dropped"] = {}
        for b in budgets:
            for m in methods:
                order = np.argsort(-scored[m][0], kind="stable")
                rec["acc"][f"{m}|{b}"] = refit_accuracy(X, y, order[:b], Xte, yte)
                rec["positives_dropped"][f"{m}|{b}"] = int(y[order[:b]].sum())
            rec["acc"][f"random|{b}"] = float(np.mean([
                refit_accuracy(X, y, np.random.default_rng(r).permutation(len(y))[:b], Xte, yte)
                for r in range(5)
            ]))  # fmt: skip
        out["per_seed"].append(rec)
        print(
            f"  seed {seed}: " + ", ".join(f"{m} {scored[m][2]}" for m in methods if scored[m][2])
        )
    rows = []
    no_trim = np.array([r["no_trim"] for r in out["per_seed"]])
    for b in budgets:
        row = [b]
        for m in methods + ["random"]:
            a = 100 * np.array([r["acc"][f"{m}|{b}"] for r in out["per_seed"]])
            row.append(f"{a.mean():.2f}±{a.std():.2f}")
        rows.append(row)
    rows.append(["0 (no trim)"] + [f"{100 * no_trim.mean():.2f}±{100 * no_trim.std():.2f}"] * 5)
    b = budgets[-1]
    rows.append(
        [
            f"positives among the {b} dropped (of {out['per_seed'][0]['n_positive']}, seed {seeds[0]})"
        ]
        + [str(out["per_seed"][0]["positives_dropped"][f"{m}|{b}"]) for m in methods]
        + [f"{b * out['per_seed'][0]['n_positive'] / 2000:.0f} (expected)"]
    )
    out["table"] = format_table(
        ["b", "fi", "if (IV)", "tmc Shapley", "knn Shapley", "random"],
        rows,
        f"Seed 000 App. E (Fig. 11) protocol on Bank: test accuracy % after trimming b rows, "
        f"LogisticRegression, 2,000 train / 1,000 val / 4,200 test, {len(seeds)} data seed(s), "
        f"tmc {seconds:.0f} s per seed on n_jobs=2 (mean±std over seeds)",
    )  # fmt: skip
    out["load_after"] = load()
    print(out["table"], "\n")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small budgets, one seed")
    parser.add_argument("--part", choices=["all", "pydvl", "noisy", "appendix_e"], default="all")
    parser.add_argument("--data", type=str, default=None, help="data folder")
    parser.add_argument("--seconds", type=float, default=None,
                        help="wall-clock budget per sampled method (default 240, quick 8)")  # fmt: skip
    args = parser.parse_args()
    data_dir = args.data or default_data_dir()
    seconds = args.seconds or (8.0 if args.quick else 240.0)
    name = "shapley_quick" if args.quick else "shapley"
    path = RESULTS_DIR / f"{name}.json"
    # one file; a --part run replaces its own part and keeps the others
    payload = json.loads(path.read_text()) if path.exists() and args.part != "all" else {}
    payload.update({"quick": args.quick, "data_dir": str(data_dir)})
    parts = {
        "pydvl": lambda: part_pydvl(data_dir, args.quick),
        "noisy": lambda: part_noisy(data_dir, args.quick, seconds),
        "appendix_e": lambda: part_appendix_e(data_dir, args.quick, seconds / 2),
    }
    with threadpool_limits(1):
        for part, run in parts.items():
            if args.part in ("all", part):
                start = time.perf_counter()
                payload[part] = run()
                payload[part]["environment"] = environment()
                payload[part]["part_s"] = time.perf_counter() - start
                print("wrote", write_json(name, payload))  # after every part


if __name__ == "__main__":
    main()

"""Mislabeled rows of tree ensembles on Adult and Bank, next to cleanlab, Data-OOB and
tree-influence.

Setting (per data set, data seed and noise level): 5,000 training rows, 1,000
validation rows and 4,200 test rows drawn disjointly and preprocessed as in
``bench_noisy_labels.py`` (``bench_quality.sample_dataset``: one-hot categorical,
standard-scaled numeric columns); 10 % or 40 % of the training labels flipped (``k``
rows); validation and test labels clean. Models (``--models``): ``hgb``
``HistGradientBoostingClassifier(max_iter=100)``, ``lightgbm``
``LGBMClassifier(n_estimators=100)``, ``rf`` ``RandomForestClassifier(n_estimators=100)``
(and ``gb`` ``GradientBoostingClassifier(n_estimators=100)``, ``xgboost``
``XGBClassifier(n_estimators=100)`` on request), one thread each.

Every tree measure that applies to the model scores the training rows, under both
protocols of ``/work/shared/DESIGN.md``:

* **realistic** (what users have, defaults are chosen on it): validation rows come
  from the same noisy training data. Validation-free measures (``leaf_loo``,
  ``boostin_self``, ``oob``) score the model fitted on all rows; validation-based ones
  (``boostin``, ``leaf_influence_sp``, ``leaf_refit``, ``leaf_influence``) use the
  trimmer's default ``validation="auto"``, 5-fold cross-fitting (each fold the
  validation set of a fit on the other four; a row's score is the mean over the four
  fits that trained on it; checked once against ``InfluenceTrimmer.scores_``).
* **clean**: the 1,000 clean validation rows as ``X_val`` for validation-based
  measures (one fit on all training rows); validation-free measures as above.

Reported per method: AUROC of the scores for "flipped", precision@k, test accuracy
after trimming the ``k`` highest-scored rows and refitting the same model, and the
seconds the scores took as a ratio to one fit of the model on the 5,000 rows (the
cross-fitted measures include their five fits; CPU seconds, ``time.process_time``, of
a single thread: the machine is shared, and wall time would measure the neighbours). Next to them, with the same model:
cleanlab's self-confidence ranking on 5-fold out-of-fold probabilities
(``cross_val_predict``) and ``find_label_issues`` (its flagged set, its own budget);
Data-OOB read from a ``RandomForestClassifier(n_estimators=100)`` (``method="oob"``,
the mean out-of-bag self-confidence; ranking the rows the boosted model is then
refit without); ``budget="auto"`` of ``InfluenceTrimmer(model)`` (our default method
and the confident-joint count on its leave-one-out probabilities); and, when it can be
imported (``--tree-influence PATH``: its public repository built in a folder outside
this one — its PyPI source package does not build), tree-influence's BoostIn
self-influence and, under the clean protocol, BoostIn's influence on the clean
validation rows' loss (summed over them), with LeafInfluenceSP self-influence under
``--quick``. The exact measures (``leaf_refit``, ``leaf_influence`` on boosting, cost
``O(n² S)``) run on the first ``--exact-seeds`` data seeds of ``hgb`` only, under the
clean protocol (one fit; ``--exact-realistic`` cross-fits them too, five times the
cost). ``OMP_NUM_THREADS`` is set to ``--threads`` (1) before scikit-learn starts.

Usage::

    python benchmarks/bench_trees.py --quick    # Adult, 10 %, 1 seed (LeafInfluenceSP too)
    python benchmarks/bench_trees.py            # both data sets and noise levels, 5 seeds

Writes ``benchmarks/results/bench_trees.json`` (``bench_trees_quick.json``) after every
setting, and prints the tables of ``docs/trees.md`` (``--tables FILE`` prints them again
from a results file).
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time
import warnings
from pathlib import Path

# one OpenMP thread for HistGradientBoosting, set before its runtime starts (threadpoolctl
# alone does not stop its threads from spinning on a shared machine)
if "--threads" in sys.argv:
    os.environ["OMP_NUM_THREADS"] = sys.argv[sys.argv.index("--threads") + 1]
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from _common import default_data_dir, environment, format_table, write_json  # noqa: E402
from bench_quality import sample_dataset  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.ensemble import (  # noqa: E402
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.model_selection import StratifiedKFold, cross_val_predict  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from skinfluence import InfluenceTrimmer, influence_scores  # noqa: E402

SELF = {"boosting": ["leaf_loo", "boostin_self"], "forest": ["leaf_loo", "oob"]}
VALIDATED = {"boosting": ["boostin", "leaf_influence_sp"], "forest": ["leaf_refit"]}
EXACT = ["leaf_refit", "leaf_influence"]
TREE_INFLUENCE_COMMIT = "a32579475adee845547a71f992f238807b1a2d1d"


def make_model(name: str, seed: int):
    if name == "hgb":
        return HistGradientBoostingClassifier(max_iter=100, random_state=seed)
    if name == "gb":
        return GradientBoostingClassifier(n_estimators=100, random_state=seed)
    if name == "rf":
        return RandomForestClassifier(n_estimators=100, n_jobs=1, random_state=seed)
    if name == "lightgbm":
        from lightgbm import LGBMClassifier

        return LGBMClassifier(n_estimators=100, n_jobs=1, verbose=-1, random_state=seed)
    if name == "xgboost":
        from xgboost import XGBClassifier

        return XGBClassifier(n_estimators=100, n_jobs=1, random_state=seed)
    raise ValueError(name)


def _flip(y, fraction, rng):
    flipped = np.sort(rng.choice(len(y), size=int(round(fraction * len(y))), replace=False))
    y_noisy = y.copy()
    y_noisy[flipped] = 1 - y_noisy[flipped]
    return y_noisy, flipped


class Setting:
    """One (data set, seed, noise, model): data, the fitted model and its fit time."""

    def __init__(self, name, seed, noise, model_name, data_dir):
        Xtr, ytr, Xva, yva, Xte, yte = sample_dataset(name, data_dir, seed, 5000, 1000, 4200)
        self.X, self.Xva, self.Xte = (np.ascontiguousarray(a) for a in (Xtr, Xva, Xte))
        self.y_clean, self.yva, self.yte = ytr, yva, yte
        self.y, self.flipped = _flip(ytr, noise, np.random.default_rng(1000 + seed))
        self.is_flipped = np.isin(np.arange(len(ytr)), self.flipped)
        self.k = len(self.flipped)
        self.seed, self.model_name = seed, model_name
        self.base = make_model(model_name, seed)
        fits = []
        for _ in range(2):  # the better of two fits
            self.model, seconds = _timed(clone(self.base).fit, self.X, self.y)
            fits.append(seconds)
        self.fit_seconds = min(fits)

    def evaluate(self, scores, seconds) -> dict:
        order = np.argsort(-scores, kind="stable")
        keep = np.ones(len(self.y), dtype=bool)
        keep[order[: self.k]] = False
        refit = clone(self.base).fit(self.X[keep], self.y[keep])
        return {
            "auroc": float(roc_auc_score(self.is_flipped, scores)),
            "precision_at_k": float(self.is_flipped[order[: self.k]].mean()),
            "trim_accuracy": float(refit.score(self.Xte, self.yte)),
            "seconds": float(seconds),
            "ratio": float(seconds / self.fit_seconds),
        }


def _timed(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` and the CPU seconds it took (everything runs on one
    thread, so CPU time is the work, whatever else shares the machine)."""
    start = time.process_time()
    out = fn(*args, **kwargs)
    return out, time.process_time() - start


def crossfit(st: Setting, methods, check_trimmer: bool) -> dict:
    """The trimmer's default 5-fold cross-fitting, every method on the same fits."""
    n = len(st.y)
    total = {m: np.zeros(n) for m in methods}
    seconds = dict.fromkeys(methods, 0.0)
    count = np.zeros(n)
    folds = StratifiedKFold(5, shuffle=True, random_state=st.seed).split(st.X, st.y)
    fit_seconds = 0.0
    for tr, va in folds:
        tr, va = np.sort(tr), np.sort(va)
        model, sec = _timed(clone(st.base).fit, st.X[tr], st.y[tr])
        fit_seconds += sec
        for m in methods:
            scores, sec = _timed(
                influence_scores, model, st.X[tr], st.y[tr], st.X[va], st.y[va], method=m
            )
            total[m][tr] += scores
            seconds[m] += sec
        count[tr] += 1
    out = {m: (total[m] / count, seconds[m] + fit_seconds) for m in methods}
    if check_trimmer and methods:
        m = methods[0]
        trim = InfluenceTrimmer(st.base, method=m, budget=st.k, random_state=st.seed)
        trim.fit(st.X, st.y)
        np.testing.assert_allclose(trim.scores_, out[m][0], rtol=1e-6, atol=1e-12)
    return out


def tree_influence_rows(st: Setting, path, quick: bool) -> dict:
    """tree-influence's BoostIn (and LeafInfluenceSP under --quick) on the same model."""
    if path is None or st.model_name not in ("hgb", "lightgbm", "gb", "xgboost"):
        return {}
    sys.path.insert(0, str(path))
    try:
        from tree_influence.explainers import BoostIn, LeafInfluenceSP
    except ImportError as exc:
        print(f"  tree-influence not importable from {path}: {exc}", flush=True)
        return {}
    model = copy.copy(st.model)  # its parser predates scikit-learn 1.6: give it what it reads
    model._estimator_type = "classifier"
    if hasattr(model, "_baseline_prediction"):
        model._baseline_prediction = np.float64(np.ravel(model._baseline_prediction)[0])
    out = {}
    explainers = [("BoostIn", BoostIn)] + ([("LeafInfluenceSP", LeafInfluenceSP)] if quick else [])
    for name, cls in explainers:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            explainer, fitted = _timed(cls().fit, model, st.X, st.y)
            self_inf, sec = _timed(explainer.get_self_influence, st.X, st.y)
            out[f"tree-influence {name} self"] = ("self", self_inf, fitted + sec)
            if name == "BoostIn":
                local, sec = _timed(explainer.get_local_influence, st.Xva, st.yva)
                # positive = helpful: its negated sum is the harm to the clean validation loss
                out[f"tree-influence {name} (clean validation)"] = (
                    "clean",
                    -local.sum(axis=1),
                    fitted + sec,
                )
    return out


def run_setting(name, seed, noise, model_name, args, check_trimmer) -> dict:
    st = Setting(name, seed, noise, model_name, args.data_dir or default_data_dir())
    family = "forest" if model_name == "rf" else "boosting"
    exact = family == "boosting" and model_name == "hgb" and seed < args.exact_seeds
    validated = VALIDATED[family]
    # the O(n² S) measures: the clean protocol (one fit), and 5 folds of them on request
    crossfitted = validated + (EXACT if exact and args.exact_realistic else [])
    validated = validated + (EXACT if exact else [])
    out = {
        "dataset": name,
        "seed": seed,
        "noise": noise,
        "model": model_name,
        "k": st.k,
        "fit_seconds": st.fit_seconds,
        "no_trimming": float(st.model.score(st.Xte, st.yte)),
        "clean_labels": float(clone(st.base).fit(st.X, st.y_clean).score(st.Xte, st.yte)),
        "realistic": {},
        "clean": {},
    }
    tag = f"[{name} seed {seed} noise {noise:.0%} {model_name}]"
    for m in SELF[family]:
        scores, sec = _timed(influence_scores, st.model, st.X, st.y, method=m)
        row = st.evaluate(scores, sec)
        out["realistic"][m] = out["clean"][m] = row
        print(f"  {tag} {m}: AUROC {row['auroc']:.3f}, ×fit {row['ratio']:.2f}", flush=True)
    for m, (scores, sec) in crossfit(st, crossfitted, check_trimmer).items():
        out["realistic"][m] = row = st.evaluate(scores, sec)
        print(
            f"  {tag} {m} (5-fold): AUROC {row['auroc']:.3f}, ×fit {row['ratio']:.2f}", flush=True
        )
    for m in validated:
        scores, sec = _timed(influence_scores, st.model, st.X, st.y, st.Xva, st.yva, m)
        out["clean"][m] = row = st.evaluate(scores, sec)
        print(f"  {tag} {m} (clean): AUROC {row['auroc']:.3f}, ×fit {row['ratio']:.2f}", flush=True)

    # cleanlab with the same model: 5-fold out-of-fold probabilities
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    cv = StratifiedKFold(5, shuffle=True, random_state=seed)
    proba, sec = _timed(
        lambda: cross_val_predict(clone(st.base), st.X, st.y, cv=cv, method="predict_proba")
    )
    quality = get_label_quality_scores(st.y, proba)
    out["realistic"]["cleanlab"] = out["clean"]["cleanlab"] = st.evaluate(-quality, sec)
    issues = find_label_issues(st.y, proba)
    refit = clone(st.base).fit(st.X[~issues], st.y[~issues])
    out["cleanlab_issues"] = {
        "found": int(issues.sum()),
        "precision": float(st.is_flipped[issues].mean()) if issues.any() else float("nan"),
        "recall": float(issues[st.is_flipped].mean()),
        "test_accuracy": float(refit.score(st.Xte, st.yte)),
    }

    # Data-OOB from a random forest, ranking the rows this model is refit without
    if model_name != "rf":
        forest, fsec = _timed(lambda: make_model("rf", seed).fit(st.X, st.y))
        scores, sec = _timed(lambda: influence_scores(forest, st.X, st.y, method="oob"))
        row = st.evaluate(scores, fsec + sec)
        out["realistic"]["Data-OOB (forest)"] = out["clean"]["Data-OOB (forest)"] = row

    # budget="auto": our default method and its count of label issues
    trim, sec = _timed(lambda: InfluenceTrimmer(st.base, budget="auto").fit(st.X, st.y))
    trimmed = trim.trimmed_indices_
    out["auto"] = {
        "method": trim.method_,
        "n_issues": int(trim.n_issues_),
        "precision": float(st.is_flipped[trimmed].mean()) if len(trimmed) else float("nan"),
        "recall": float(np.isin(st.flipped, trimmed).mean()),
        "test_accuracy": float(trim.score(st.Xte, st.yte)),
        "seconds": float(sec),
    }

    for label, (protocol, scores, sec) in tree_influence_rows(
        st, args.tree_influence, args.quick
    ).items():
        row = st.evaluate(scores, sec)
        targets = ("realistic", "clean") if protocol == "self" else ("clean",)
        for p in targets:
            out[p][label] = row
        print(f"  {tag} {label}: AUROC {row['auroc']:.3f}, ×fit {row['ratio']:.2f}", flush=True)
    return out


# -- tables ----------------------------------------------------------------------------------
def _pm(values, scale=1.0, digits=3) -> str:
    values = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    if len(values) == 0:
        return "—"
    if len(values) == 1:
        return f"{scale * values[0]:.{digits}f}"
    return f"{scale * values.mean():.{digits}f} ± {scale * values.std(ddof=1):.{digits}f}"


def tables(results: list[dict]) -> list[str]:
    out = []
    datasets = list(dict.fromkeys(r["dataset"] for r in results))
    models = list(dict.fromkeys(r["model"] for r in results))
    for protocol in ("realistic", "clean"):
        for noise in sorted({r["noise"] for r in results}):
            rows = []
            for model in models:
                rs = [r for r in results if r["model"] == model and r["noise"] == noise]
                methods = list(dict.fromkeys(m for r in rs for m in r[protocol]))
                for m in methods:
                    cells = [model, m]
                    for field, scale, digits in (
                        ("auroc", 1.0, 3),
                        ("precision_at_k", 100.0, 1),
                        ("trim_accuracy", 100.0, 2),
                    ):
                        for d in datasets:
                            vals = [
                                r[protocol][m][field]
                                for r in rs
                                if r["dataset"] == d and m in r[protocol]
                            ]
                            cells.append(_pm(vals, scale, digits))
                    cells.append(
                        _pm([r[protocol][m]["ratio"] for r in rs if m in r[protocol]], 1, 2)
                    )
                    rows.append(cells)
                for label, key in (
                    ("no trimming", "no_trimming"),
                    ("clean labels", "clean_labels"),
                ):
                    cells = [model, label] + [""] * (2 * len(datasets))
                    cells += [
                        _pm([r[key] for r in rs if r["dataset"] == d], 100, 2) for d in datasets
                    ]
                    rows.append(cells + [""])
            headers = (
                ["model", "method"]
                + [f"AUROC {d}" for d in datasets]
                + [f"precision@k {d} (%)" for d in datasets]
                + [f"acc. after trimming k {d} (%)" for d in datasets]
                + ["seconds ÷ fit"]
            )
            n_seeds = len({r["seed"] for r in results})
            title = (
                f"{protocol} protocol, {noise:.0%} of the labels flipped "
                f"(k = {int(noise * 5000)}), {n_seeds} seed(s)"
            )
            out.append(format_table(headers, rows, title=title))
    rows = []
    for model in models:
        for noise in sorted({r["noise"] for r in results}):
            for d in datasets:
                rs = [
                    r
                    for r in results
                    if r["model"] == model and r["noise"] == noise and r["dataset"] == d
                ]
                if not rs:
                    continue
                a = [r["auto"] for r in rs]
                c = [r["cleanlab_issues"] for r in rs]
                rows.append(
                    [
                        model,
                        f"{d} {noise:.0%} (k = {rs[0]['k']})",
                        f"{a[0]['method']}: {_pm([x['n_issues'] for x in a], 1, 0)}",
                        _pm([x["precision"] for x in a], 100, 1),
                        _pm([x["recall"] for x in a], 100, 1),
                        _pm([x["test_accuracy"] for x in a], 100, 2),
                        _pm([x["found"] for x in c], 1, 0),
                        _pm([x["precision"] for x in c], 100, 1),
                        _pm([x["recall"] for x in c], 100, 1),
                        _pm([x["test_accuracy"] for x in c], 100, 2),
                    ]
                )
    out.append(
        format_table(
            [
                "model",
                "setting",
                'budget="auto": rows trimmed',
                "precision (%)",
                "recall (%)",
                "test acc. (%)",
                "cleanlab find_label_issues: rows",
                "precision (%)",
                "recall (%)",
                "test acc. (%)",
            ],
            rows,
            title='budget="auto" (InfluenceTrimmer(model), default method) next to cleanlab\'s '
            "find_label_issues on the same model's out-of-fold probabilities",
        )
    )
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 data seed instead of 5")
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--datasets", nargs="+", default=["adult", "bank"])
    parser.add_argument("--noise", nargs="+", type=float, default=[0.1, 0.4])
    parser.add_argument("--models", nargs="+", default=["hgb", "lightgbm", "rf"])
    parser.add_argument("--exact-seeds", type=int, default=1, help="seeds with the O(n²S) ones")
    parser.add_argument(
        "--exact-realistic", action="store_true", help="cross-fit the O(n²S) ones too (5×)"
    )
    default_ti = Path("/tmp/tree_influence")
    parser.add_argument(
        "--tree-influence", type=Path, default=default_ti if default_ti.exists() else None
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--out-dir", type=Path, default=None)
    parser.add_argument(
        "--tables", type=Path, default=None, help="print the tables of a results file and stop"
    )
    args = parser.parse_args(argv)
    if args.tables is not None:
        import json

        for table in tables(json.loads(args.tables.read_text())["results"]):
            print(table + "\n")
        return
    n_seeds = args.seeds or (1 if args.quick else 5)
    if args.quick and argv is None and "--datasets" not in sys.argv:
        args.datasets = ["adult"]
    if args.quick and argv is None and "--noise" not in sys.argv:
        args.noise = [0.1]
    threadpool_limits(args.threads)
    out_name = "bench_trees_quick" if args.quick else "bench_trees"
    results = []
    first = True
    for noise in args.noise:
        for seed in range(n_seeds):
            for name in args.datasets:
                for model_name in args.models:
                    start = time.perf_counter()
                    results.append(run_setting(name, seed, noise, model_name, args, first))
                    first = False
                    print(
                        f"{name} seed {seed} noise {noise} {model_name}: "
                        f"{time.perf_counter() - start:.0f}s",
                        flush=True,
                    )
                    payload = {
                        "settings": {
                            "n_train": 5000,
                            "n_val": 1000,
                            "n_test": 4200,
                            "noise": args.noise,
                            "seeds": n_seeds,
                            "models": args.models,
                            "exact_seeds": args.exact_seeds,
                            "tree_influence": None
                            if args.tree_influence is None
                            else {
                                "path": str(args.tree_influence),
                                "commit": TREE_INFLUENCE_COMMIT,
                            },
                        },
                        "results": results,
                        "environment": environment(),
                    }
                    write_json(out_name, payload, args.out_dir)
    for table in tables(results):
        print(table + "\n")


if __name__ == "__main__":
    main()

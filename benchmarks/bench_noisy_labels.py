"""Noisy-label detection and repair on Adult and Bank, next to cleanlab.

Setting (per data set and data seed): 5,000 training rows, 1,000 validation rows and
4,200 test rows drawn disjointly (Adult: training/validation rows from
``adult_train.csv.gz``, test rows from ``adult_test.csv.gz``; Bank: all from
``bank_marketing.csv.gz`` with ``duration`` dropped), preprocessed as in
``bench_quality.py`` (one-hot categorical, standard-scaled numeric columns, fitted on
the training rows). 10 % of the *training* labels are flipped (``k = 500`` rows);
validation and test labels stay clean. Estimator ``LogisticRegression(max_iter=1000)``.

1. **Detection.** Every method in ``skinfluence._scores.METHODS`` (read at run time,
   so new methods join automatically) scores the training rows with
   ``influence_scores(model, X, y_noisy, X_val, y_val, method)`` (defaults: exact
   solver, utility objective; methods that cannot run on a LogisticRegression are
   skipped with a printed note). Reported: precision@k (flipped rows among the k
   highest scores; random's expectation is 10 %), AUROC of the scores for
   "flipped", and the scoring time. Next to it, cleanlab: the label-quality ranking
   (``cleanlab.rank.get_label_quality_scores``, self-confidence) on out-of-fold
   predicted probabilities (5-fold ``cross_val_predict``, as cleanlab recommends)
   gives precision@k and AUROC; ``cleanlab.filter.find_label_issues`` on the same
   probabilities gives its own flagged set (size, precision, recall).
2. **Repair.** Test accuracy after trimming the k highest-scored rows and refitting on
   the kept training rows (the validation rows are not added back, as
   ``InfluenceTrimmer(budget=k).fit(X, y, X_val=, y_val=)`` does — asserted once),
   for every method; next to no trimming, the clean-label model, cleanlab's
   ``CleanLearning(LogisticRegression(max_iter=1000))`` (drops every issue it finds)
   and trimming cleanlab's k lowest-quality rows. For ``fi`` and ``if`` also the
   ``"relabel"`` strategy (flip the k flagged labels, refit on every row; the count
   of wrong training labels afterwards is reported) and the ``"reweight"`` strategy
   (sample weights ``w = n · softmax(-scores / T)``, refit on every row) at budget k,
   with the default ``temperature="auto"`` (``T`` such that the weights' effective
   sample size ``(Σw)²/Σw²`` is ``n − k``, the rows trimming keeps — asserted) and with
   the earlier default ``T`` = std of the scores passed as a float; reported: mean
   weight of the flipped and the clean rows, effective sample size, largest weight.

Part ``net`` (``--part net``): every method, ``tracin`` and ``self_tracin`` included,
on two torch models through skorch, with the same data, the same flipped rows per seed
and the same detection measures (no repair part). Both are
``NeuralNetBinaryClassifier`` (``BCEWithLogitsLoss``) on float32 inputs, trained by
plain SGD (no momentum: TracIn's ``η`` is then the step size) for a fixed number of
epochs (``--epochs``, 20; batch 128, learning rate 0.1), ``optimizer__weight_decay``
1e-3 on every parameter (the objective's ``½ λ‖θ‖²``, which makes the linear model's
Hessian positive definite and gives ``representer`` its L2-regularised last layer),
``train_split=None`` and ``callbacks=[TracInCheckpoints()]`` (one checkpoint per
epoch, so ``tracin`` sums over 20 real checkpoints):

* ``linear``: logistic regression as one ``nn.Linear(p, 1)`` layer; exact Hessian.
* ``mlp``: ``Linear(p, h) → tanh → Linear(h, 1)`` (``--hidden``, 8). Its exact
  Hessian is indefinite (the smallest eigenvalue of the exact Hessian, weight decay
  included, is recorded per seed), so every Hessian-based method (``fi``, ``if``,
  ``gif``, ``self``) uses ``gauss_newton=True`` (``Jᵀ Λ J + λ I``, positive definite).

Every method runs with ``params="all"`` and ``random_state`` = the data seed; torch
is seeded with ``torch.manual_seed(seed)`` before each fit, so runs repeat. Beside
them, cleanlab's self-confidence ranking on the same net's 5-fold out-of-fold
probabilities (the net refitted 5 times without the callback). Reported per model:
precision@k, AUROC, seconds per method (adapter, Hessian and scores), the net's test
accuracy.

Usage::

    python benchmarks/bench_noisy_labels.py           # full: 5 data seeds, 5,000 rows
    python benchmarks/bench_noisy_labels.py --quick   # 1 data seed (same sizes)
    python benchmarks/bench_noisy_labels.py --part net          # torch models, 5 seeds
    python benchmarks/bench_noisy_labels.py --part net --quick  # 1 seed, 1,500 rows, 5 epochs

Writes ``benchmarks/results/bench_noisy_labels.json`` (``..._quick.json`` with
--quick); the net part writes ``bench_noisy_labels_net.json`` (``..._net_quick.json``).
cleanlab is a benchmark-only dependency (``pip install cleanlab``); the net part also
needs skorch.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from _common import default_data_dir, environment, format_table, write_json
from bench_quality import sample_dataset
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from threadpoolctl import threadpool_limits

from skinfluence import InfluenceTrimmer, UnsupportedModelError, influence_scores
from skinfluence._reweight import effective_size
from skinfluence.influence import MEASURES as METHODS

STRATEGY_METHODS = ("fi", "if")


def _estimator():
    return LogisticRegression(max_iter=1000)


def _flip(y: np.ndarray, fraction: float, rng: np.random.Generator):
    flipped = np.sort(rng.choice(len(y), size=int(round(fraction * len(y))), replace=False))
    y_noisy = y.copy()
    y_noisy[flipped] = 1 - y_noisy[flipped]
    return y_noisy, flipped


def _detection(scores: np.ndarray, is_flipped: np.ndarray, k: int) -> dict:
    order = np.argsort(-scores, kind="stable")
    return {
        "precision_at_k": float(is_flipped[order[:k]].mean()),
        "auroc": float(roc_auc_score(is_flipped, scores)),
    }


def _trimmed_accuracy(X, y, drop, Xte, yte) -> float:
    keep = np.ones(len(y), dtype=bool)
    keep[drop] = False
    return float(_estimator().fit(X[keep], y[keep]).score(Xte, yte))


def run_setting(name, seed, data_dir, n_train, n_val, n_test, noise, check_trimmer):
    """Every method and cleanlab on one (data set, seed)."""
    import cleanlab
    from cleanlab.classification import CleanLearning
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    Xtr, ytr, Xva, yva, Xte, yte = sample_dataset(name, data_dir, seed, n_train, n_val, n_test)
    rng = np.random.default_rng(1000 + seed)
    y_noisy, flipped = _flip(ytr, noise, rng)
    is_flipped = np.zeros(len(ytr), dtype=bool)
    is_flipped[flipped] = True
    k = len(flipped)
    out = {"dataset": name, "seed": seed, "k": k, "methods": {}, "skipped": {}}
    out["no_trimming"] = float(_estimator().fit(Xtr, y_noisy).score(Xte, yte))
    out["clean_labels"] = float(_estimator().fit(Xtr, ytr).score(Xte, yte))

    model = _estimator().fit(Xtr, y_noisy)
    for method in METHODS:
        start = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                scores = influence_scores(model, Xtr, y_noisy, Xva, yva, method, random_state=seed)
        except UnsupportedModelError as exc:
            out["skipped"][method] = str(exc)
            print(f"  [{name} seed {seed}] skipped {method!r}: {exc}", flush=True)
            continue
        seconds = time.perf_counter() - start
        order = np.argsort(-scores, kind="stable")
        row = _detection(scores, is_flipped, k)
        row["seconds"] = seconds
        row["trim_accuracy"] = _trimmed_accuracy(Xtr, y_noisy, order[:k], Xte, yte)
        out["methods"][method] = row
        if check_trimmer and method == "if":
            trim = InfluenceTrimmer(_estimator(), method="if", budget=k)
            trim.fit(Xtr, y_noisy, X_val=Xva, y_val=yva)
            assert np.array_equal(trim.trimmed_indices_, order[:k])
            assert trim.score(Xte, yte) == row["trim_accuracy"]

    # strategies of the trimmer (seed 001 §7) for fi and if: relabel and reweight at budget
    # k; reweight with the default temperature="auto" (effective sample size n - k) and
    # with the earlier default T = std of the scores, passed as a float
    out["strategies"] = {}
    for method in STRATEGY_METHODS:
        for strategy in ("relabel", "reweight", "reweight_std"):
            temperature = "auto"
            if strategy == "reweight_std":
                temperature = float(np.std(out["strategies"][f"{method}/reweight"]["scores"]))
            trim = InfluenceTrimmer(
                _estimator(),
                method=method,
                strategy=strategy.removesuffix("_std"),
                budget=k,
                temperature=temperature,
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _, y_new = trim.fit_resample(Xtr, y_noisy, X_val=Xva, y_val=yva)
            entry = {"test_accuracy": float(trim.score(Xte, yte))}
            if strategy == "relabel":
                entry["wrong_labels_after"] = int((y_new != ytr).sum())
            else:
                w = trim.sample_weight_
                entry["temperature"] = float(trim.temperature_)
                entry["effective_n"] = effective_size(w)
                entry["max_weight"] = float(w.max())
                entry["mean_weight_flipped"] = float(w[flipped].mean())
                entry["mean_weight_clean"] = float(w[~is_flipped].mean())
                if strategy == "reweight":
                    # the rule: effective sample size = the n - k rows trimming keeps
                    assert abs(entry["effective_n"] - (len(ytr) - k)) <= 1e-6 * len(ytr)
                    entry["scores"] = trim.scores_
            out["strategies"][f"{method}/{strategy}"] = entry
        out["strategies"][f"{method}/reweight"].pop("scores")

    # cleanlab on out-of-fold probabilities
    start = time.perf_counter()
    pred_probs = cross_val_predict(
        _estimator(), Xtr, y_noisy, cv=5, method="predict_proba", n_jobs=1
    )
    quality = get_label_quality_scores(y_noisy, pred_probs)
    issues = find_label_issues(y_noisy, pred_probs)
    seconds = time.perf_counter() - start
    row = _detection(-quality, is_flipped, k)
    row["seconds"] = seconds
    row["trim_accuracy"] = _trimmed_accuracy(
        Xtr, y_noisy, np.argsort(quality, kind="stable")[:k], Xte, yte
    )
    row["issues_found"] = int(issues.sum())
    row["issues_precision"] = float(is_flipped[issues].mean()) if issues.any() else float("nan")
    row["issues_recall"] = float(issues[is_flipped].mean())
    out["cleanlab"] = row
    start = time.perf_counter()
    cl = CleanLearning(_estimator(), seed=seed, verbose=False).fit(Xtr, y_noisy)
    out["cleanlearning"] = {
        "test_accuracy": float(cl.score(Xte, yte)),
        "seconds": time.perf_counter() - start,
        "rows_removed": int(cl.label_issues_df["is_label_issue"].sum()),
    }
    out["cleanlab_version"] = cleanlab.__version__
    return out


def _pm(values, scale=100.0, digits=1) -> str:
    values = np.asarray([v for v in values if v is not None], dtype=float)
    if len(values) == 0:
        return "—"
    if len(values) == 1:
        return f"{scale * values[0]:.{digits}f}"
    return f"{scale * values.mean():.{digits}f} ± {scale * values.std(ddof=1):.{digits}f}"


def tables(results: list[dict]) -> list[str]:
    out = []
    for name in dict.fromkeys(r["dataset"] for r in results):
        rs = [r for r in results if r["dataset"] == name]
        k = rs[0]["k"]
        methods = list(dict.fromkeys(m for r in rs for m in r["methods"]))
        rows = []
        for m in methods:
            vals = [r["methods"][m] for r in rs if m in r["methods"]]
            rows.append(
                [
                    m,
                    _pm([v["precision_at_k"] for v in vals]),
                    _pm([v["auroc"] for v in vals], digits=3, scale=1.0),
                    _pm([v["trim_accuracy"] for v in vals], digits=2),
                    _pm([v["seconds"] for v in vals], scale=1.0, digits=2),
                ]
            )
        cl = [r["cleanlab"] for r in rs]
        rows.append(
            [
                "cleanlab (self-confidence, out-of-fold)",
                _pm([v["precision_at_k"] for v in cl]),
                _pm([v["auroc"] for v in cl], digits=3, scale=1.0),
                _pm([v["trim_accuracy"] for v in cl], digits=2),
                _pm([v["seconds"] for v in cl], scale=1.0, digits=2),
            ]
        )
        out.append(
            format_table(
                [
                    "method",
                    f"precision@{k} (%)",
                    "AUROC",
                    f"test acc. after trimming {k} (%)",
                    "seconds",
                ],
                rows,
                title=f"{name}: {len(rs)} seed(s), {k} of the training labels flipped",
            )  # fmt: skip
        )
        rows = [
            ["no trimming", _pm([r["no_trimming"] for r in rs], digits=2), ""],
            ["clean labels (oracle)", _pm([r["clean_labels"] for r in rs], digits=2), ""],
            [
                "cleanlab CleanLearning",
                _pm([r["cleanlearning"]["test_accuracy"] for r in rs], digits=2),
                f"removes {np.mean([r['cleanlearning']['rows_removed'] for r in rs]):.0f} rows",
            ],
            [
                "cleanlab find_label_issues (flagged set)",
                "",
                f"{np.mean([r['cleanlab']['issues_found'] for r in rs]):.0f} flagged, precision "
                f"{_pm([r['cleanlab']['issues_precision'] for r in rs])} %, recall "
                f"{_pm([r['cleanlab']['issues_recall'] for r in rs])} %",
            ],
        ]
        for key in rs[0]["strategies"]:
            vals = [r["strategies"][key] for r in rs]
            if key.endswith("relabel"):
                note = (
                    f"wrong training labels after: "
                    f"{np.mean([v['wrong_labels_after'] for v in vals]):.0f} (from {k})"
                )
            else:
                note = (
                    f"mean weight flipped {np.mean([v['mean_weight_flipped'] for v in vals]):.2f}"
                    f" / clean {np.mean([v['mean_weight_clean'] for v in vals]):.2f}; "
                    f"effective n {np.mean([v['effective_n'] for v in vals]):.0f}, "
                    f"max weight {np.mean([v['max_weight'] for v in vals]):.3g}"
                )
            label = {
                "reweight": f"{key} (T auto, budget {k})",
                "reweight_std": f"{key.removesuffix('_std')} (T=std, old default)",
            }.get(key.split("/")[1], key)
            rows.append([label, _pm([v["test_accuracy"] for v in vals], digits=2), note])
        out.append(
            format_table(
                ["model", "test accuracy (%)", "notes"],
                rows,
                title=f"{name}: baselines, cleanlab and the relabel / reweight strategies",
            )
        )
    return out


# -- part "net": every method on torch models ---------------------------------------------
NET_MODELS = ("linear", "mlp")


class LinearLogit(torch.nn.Module):
    """Logistic regression as one linear layer: one logit per row."""

    def __init__(self, n_features: int):
        super().__init__()
        self.linear = torch.nn.Linear(n_features, 1)

    def forward(self, x):
        return self.linear(x).squeeze(-1)


class MLPLogit(torch.nn.Module):
    """One hidden tanh layer, then one logit per row."""

    def __init__(self, n_features: int, hidden: int = 8):
        super().__init__()
        self.hidden = torch.nn.Linear(n_features, hidden)
        self.out = torch.nn.Linear(hidden, 1)

    def forward(self, x):
        return self.out(torch.tanh(self.hidden(x))).squeeze(-1)


def _net(kind: str, n_features: int, config: dict, checkpoints: bool = True):
    from skorch import NeuralNetBinaryClassifier

    from skinfluence.callbacks import TracInCheckpoints

    if kind == "linear":
        module, extra = LinearLogit, {}
    else:
        module, extra = MLPLogit, {"module__hidden": config["hidden"]}
    return NeuralNetBinaryClassifier(
        module,
        module__n_features=n_features,
        criterion=torch.nn.BCEWithLogitsLoss,
        optimizer=torch.optim.SGD,
        optimizer__weight_decay=config["weight_decay"],
        lr=config["lr"],
        batch_size=config["batch_size"],
        max_epochs=config["epochs"],
        train_split=None,
        callbacks=[TracInCheckpoints()] if checkpoints else None,
        verbose=0,
        **extra,
    )


def run_net_setting(name, seed, data_dir, n_train, n_val, n_test, noise, config):
    """Every method in METHODS and cleanlab (out-of-fold) on each torch model."""
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    from skinfluence.adapters import make_adapter

    Xtr, ytr, Xva, yva, Xte, yte = sample_dataset(name, data_dir, seed, n_train, n_val, n_test)
    rng = np.random.default_rng(1000 + seed)  # the same flipped rows as the LR part
    y_noisy, flipped = _flip(ytr, noise, rng)
    is_flipped = np.zeros(len(ytr), dtype=bool)
    is_flipped[flipped] = True
    k = len(flipped)
    Xtr, Xva, Xte = (np.asarray(a, dtype=np.float32) for a in (Xtr, Xva, Xte))
    y_fit = y_noisy.astype(np.float32)  # BCEWithLogitsLoss wants float targets
    out = {"dataset": name, "seed": seed, "k": k, "models": {}}
    for kind in NET_MODELS:
        gauss_newton = kind == "mlp"
        entry = {"gauss_newton": gauss_newton, "methods": {}, "skipped": {}}
        torch.manual_seed(seed)
        start = time.perf_counter()
        net = _net(kind, Xtr.shape[1], config).fit(Xtr, y_fit)
        entry["fit_seconds"] = time.perf_counter() - start
        entry["n_params"] = int(sum(p.numel() for p in net.module_.parameters()))
        entry["train_loss"] = float(net.history[-1]["train_loss"])
        entry["test_accuracy"] = float(net.score(Xte, yte))
        ckpts = next(cb for _, cb in net.callbacks_ if hasattr(cb, "checkpoints_"))
        entry["n_checkpoints"] = len(ckpts.checkpoints_)
        # the exact Hessian (weight decay included): positive definite or not?
        eig = np.linalg.eigvalsh(make_adapter(net, Xtr, y_noisy, params="all").hessian())
        entry["exact_hessian_eig_min"] = float(eig[0])
        entry["exact_hessian_eig_max"] = float(eig[-1])
        for method in METHODS:
            start = time.perf_counter()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    scores = influence_scores(
                        net,
                        Xtr,
                        y_noisy,
                        Xva,
                        yva,
                        method,
                        params="all",
                        gauss_newton=gauss_newton,
                        random_state=seed,
                    )
            except UnsupportedModelError as exc:
                entry["skipped"][method] = str(exc)
                print(f"  [{name} seed {seed} {kind}] skipped {method!r}: {exc}", flush=True)
                continue
            row = _detection(scores, is_flipped, k)
            row["seconds"] = time.perf_counter() - start
            entry["methods"][method] = row
        # cleanlab: self-confidence on the same net's out-of-fold probabilities
        torch.manual_seed(seed)
        start = time.perf_counter()
        # by hand: cross_val_predict label-encodes y to int64, which BCEWithLogitsLoss refuses
        pred_probs = np.zeros((len(y_fit), 2))
        for fit_rows, held_out in StratifiedKFold(5).split(Xtr, y_noisy):
            fold = _net(kind, Xtr.shape[1], config, checkpoints=False)
            fold.fit(Xtr[fit_rows], y_fit[fit_rows])
            pred_probs[held_out] = fold.predict_proba(Xtr[held_out])
        quality = get_label_quality_scores(y_noisy, pred_probs)
        issues = find_label_issues(y_noisy, pred_probs)
        row = _detection(-quality, is_flipped, k)
        row["seconds"] = time.perf_counter() - start
        row["issues_found"] = int(issues.sum())
        row["issues_precision"] = float(is_flipped[issues].mean()) if issues.any() else None
        row["issues_recall"] = float(issues[is_flipped].mean())
        entry["cleanlab"] = row
        out["models"][kind] = entry
    return out


def net_tables(results: list[dict], config: dict) -> list[str]:
    out = []
    for name in dict.fromkeys(r["dataset"] for r in results):
        rs = [r for r in results if r["dataset"] == name]
        k = rs[0]["k"]
        for kind in NET_MODELS:
            es = [r["models"][kind] for r in rs]
            rows = []
            for m in dict.fromkeys(m for e in es for m in e["methods"]):
                vals = [e["methods"][m] for e in es if m in e["methods"]]
                rows.append(
                    [
                        m,
                        _pm([v["precision_at_k"] for v in vals]),
                        _pm([v["auroc"] for v in vals], digits=3, scale=1.0),
                        _pm([v["seconds"] for v in vals], scale=1.0, digits=2),
                    ]
                )
            cl = [e["cleanlab"] for e in es]
            rows.append(
                [
                    "cleanlab (self-confidence, out-of-fold, same net)",
                    _pm([v["precision_at_k"] for v in cl]),
                    _pm([v["auroc"] for v in cl], digits=3, scale=1.0),
                    _pm([v["seconds"] for v in cl], scale=1.0, digits=2),
                ]
            )
            model = (
                "nn.Linear (logistic regression), exact Hessian"
                if kind == "linear"
                else f"MLP (hidden {config['hidden']}, tanh), Gauss-Newton"
            )
            eig_min = [e["exact_hessian_eig_min"] for e in es]
            title = (
                f"{name}, {model}: {len(rs)} seed(s), {k} labels flipped; "
                f"{es[0]['n_params']} parameters, {es[0]['n_checkpoints']} checkpoints, "
                f"test acc. {_pm([e['test_accuracy'] for e in es], digits=2)} %, "
                f"smallest exact-Hessian eigenvalue {min(eig_min):.2e} to {max(eig_min):.2e}"
            )
            headers = ["method", f"precision@{k} (%)", "AUROC", "seconds"]
            out.append(format_table(headers, rows, title=title))
    return out


def main_net(args, data_dir, n_seeds):
    """The ``--part net`` run: tables on stdout, JSON in ``benchmarks/results``."""
    config = {
        "epochs": args.epochs or (5 if args.quick else 20),
        "hidden": args.hidden,
        "lr": 0.1,
        "batch_size": 128,
        "weight_decay": 1e-3,
    }
    n_train = args.n_train or (1500 if args.quick else 5000)
    n_val, n_test = 1000, 4200
    results = []
    total = time.perf_counter()
    for name in args.datasets:
        for seed in range(n_seeds):
            start = time.perf_counter()
            results.append(
                run_net_setting(name, seed, data_dir, n_train, n_val, n_test, args.noise, config)
            )
            print(f"{name} seed {seed}: {time.perf_counter() - start:.1f}s", flush=True)
    seconds = time.perf_counter() - total
    text = net_tables(results, config)
    print("\n\n".join(text))
    print(f"total {seconds:.0f}s")
    payload = {
        "benchmark": "bench_noisy_labels",
        "part": "net",
        "quick": args.quick,
        "settings": {
            "n_train": n_train,
            "n_val": n_val,
            "n_test": n_test,
            "noise": args.noise,
            "seeds": n_seeds,
            "methods": list(METHODS),
            "models": {
                "linear": "NeuralNetBinaryClassifier(nn.Linear(p, 1)), exact Hessian",
                "mlp": "NeuralNetBinaryClassifier(Linear(p, hidden) -> tanh -> Linear(hidden, 1)),"
                " gauss_newton=True",
            },
            "net": {**config, "optimizer": "SGD", "callbacks": "TracInCheckpoints(every=1)"},
            "threads": args.threads,
        },
        "total_seconds": seconds,
        "environment": environment(),
        "results": results,
        "tables": text,
    }
    out_name = "bench_noisy_labels_net_quick" if args.quick else "bench_noisy_labels_net"
    print("wrote", write_json(out_name, payload, args.out_dir))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 data seed instead of 5")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--seeds", type=int, default=None, help="data seeds (default 5, quick 1)")
    parser.add_argument(
        "--part",
        choices=("lr", "net"),
        default="lr",
        help="lr: LogisticRegression, repair, strategies (default); net: torch models",
    )
    parser.add_argument(
        "--n-train", type=int, default=None, help="training rows (5,000; net --quick 1,500)"
    )
    parser.add_argument("--epochs", type=int, default=None, help="net: SGD epochs (20, quick 5)")
    parser.add_argument("--hidden", type=int, default=8, help="net: hidden units of the MLP")
    parser.add_argument("--datasets", nargs="+", default=["adult", "bank"])
    parser.add_argument("--noise", type=float, default=0.1, help="share of labels flipped")
    parser.add_argument("--threads", type=int, default=1, help="BLAS and torch threads")
    parser.add_argument("--out-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    try:
        import cleanlab  # noqa: F401
    except ModuleNotFoundError as exc:
        raise SystemExit(
            "bench_noisy_labels compares with cleanlab: pip install cleanlab "
            "(a benchmark-only dependency)."
        ) from exc
    if args.threads > 0:
        threadpool_limits(args.threads)
        torch.set_num_threads(args.threads)
    data_dir = args.data_dir or default_data_dir()
    n_seeds = args.seeds or (1 if args.quick else 5)
    if args.part == "net":
        return main_net(args, data_dir, n_seeds)
    n_train, n_val, n_test = args.n_train or 5000, 1000, 4200

    results = []
    for name in args.datasets:
        for seed in range(n_seeds):
            start = time.perf_counter()
            results.append(
                run_setting(name, seed, data_dir, n_train, n_val, n_test, args.noise, seed == 0)
            )
            print(f"{name} seed {seed}: {time.perf_counter() - start:.1f}s", flush=True)
    text = tables(results)
    print("\n\n".join(text))
    payload = {
        "benchmark": "bench_noisy_labels",
        "quick": args.quick,
        "settings": {
            "n_train": n_train,
            "n_val": n_val,
            "n_test": n_test,
            "noise": args.noise,
            "seeds": n_seeds,
            "methods": list(METHODS),
        },
        "environment": environment(),
        "results": results,
        "tables": text,
    }
    name = "bench_noisy_labels_quick" if args.quick else "bench_noisy_labels"
    print("wrote", write_json(name, payload, args.out_dir))


if __name__ == "__main__":
    main()

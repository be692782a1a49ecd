"""Active learning with FI^active: test accuracy per round, time per round, speed.

Part (a) — Adult, seed 000 §5.2 / Appendix D.2 Table 4 setting. Per data seed (3):
from ``adult_train.csv.gz`` 300 initial labeled rows, a pool of 5,000 rows and a
separate 1,000-row validation sample (disjoint); from ``adult_test.csv.gz`` a 4,200-row
test sample. Preprocessing as in ``bench_quality.py`` (``fnlwgt`` dropped, ``?`` its own
category, one-hot + standard-scaled numeric columns), fitted on the 5,300 labeled + pool
rows (features only). ``LogisticRegression(max_iter=1000)``, acquisition 500 per round.
Table 4 asks for 12 rounds, but 12 × 500 = 6,000 > 5,000 pool rows: the learner runs
``n_rounds=12`` and stops when the pool is exhausted, after **10 rounds** (round 10
labels the last 500 rows, so every method ends on the same 5,300 rows).
Methods (``InfluenceActiveLearner``): ``fi`` (the default ``subsample=0.2`` with the
random-forest rank surrogate, seed 000 Algorithm 4), ``fi exact`` (``subsample=1.0``),
``if`` (``subsample=1.0``, ``X_val`` = the validation sample), ``bald`` (bootstrap
ensemble of 10 refits), ``entropy``, ``random``.

How test accuracy is measured: the learner never sees the test set. For LR the refit
is deterministic (lbfgs), so the model of round r is refitted here from the rows with
``0 <= labeled_iter_ <= r`` and scored on the test sample; the script asserts that the
refit on the final rows reproduces ``estimator_.coef_`` bit for bit and that the row
counts match ``history_``. Only ``if`` gets ``X_val`` (its validation sample).

Part (b) — sklearn's bundled ``load_digits`` (8×8, 10 classes, 1,797 rows, pixels / 16,
float32), Table 5's MNIST schedule: 60 initial labeled rows, a pool of 420, 30 per round,
14 rounds (14 × 30 = 420: the pool is used up), 3 seeds; a 300-row validation sample
(for ``if`` only) and the remaining 1,017 rows as the test set. A skorch
``NeuralNetClassifier`` (``--digits-net``: ``mlp`` 64-128-Dropout(0.5)-64-10 by default,
or ``cnn``, Table 6 scaled to 8×8: Conv(16)-Conv(32, stride 2)-Dropout-Linear(64)-Linear(10)),
CrossEntropyLoss, Adam lr 1e-3, weight decay 1e-4, 50 epochs, batch 32,
``train_split=None``, ``classes=0..9``; ``torch.manual_seed(seed)`` before every
learner run (so round 0 is the same net for all methods). Methods: ``fi``
(``params="last"``, ``subsample=0.2``), ``if`` (``params="last"``, ``subsample=1.0``),
``bald`` (10 MC-dropout passes), ``entropy``, ``random``. Test accuracy is recorded by a
skorch callback at the end of every fit the learner makes (``on_train_end``), i.e. on
the learner's own net of every round; its time is subtracted from the round's seconds.
The module casts its input to its weights' dtype: a no-op for training and for the
influence adapter (float64 weights, float64 rows), needed only because the learner
scores ``X_val`` as float64 on a float32 net (see docs/benchmarks_issue4.md).

Part (c) — speed of FI^active on LR, 5,000 labeled × 5,000 pool rows:
``make_classification(n_samples=10,000, n_features=100, n_informative=10,
n_redundant=5)`` and 10,000 Adult rows. Timed: adapter + exact solver set-up and
``fi_active_scores`` (trimmed mean), best of ``--repeats``; one learner round
(``history_[1]["seconds"]``: scoring, labeling 500, refit) with ``subsample=1.0`` and
``0.2``, round-robin, best of ``--repeats``; the surrogate forest's fit+predict alone.
Rank agreement: ``scores_`` after ``fit`` without ``y_oracle`` (the scores of the
initial model for the whole pool) exact vs surrogate (3 surrogate seeds): Spearman over
all pool rows and over the 80 % the surrogate did not see (the subsample is
re-drawn as the learner draws it: ``RandomState(seed).choice``), and the overlap of the
top-500 sets (the batch that would be labeled; 10 % expected by chance).

Usage::

    python benchmarks/bench_active.py            # full size (5-8 minutes on 2 shared cores)
    python benchmarks/bench_active.py --quick    # 1 seed, 3 rounds (a), 4 rounds (b), about a minute
    python benchmarks/bench_active.py --part c   # one part only (a, b, c)
    python benchmarks/bench_active.py --part b --digits-net cnn   # the CNN (about 12 minutes)

Writes ``benchmarks/results/bench_active.json`` (``bench_active_quick.json`` with
--quick, ``_a``/``_b``/``_c`` suffix with --part).
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
    best_time,
    default_data_dir,
    environment,
    format_table,
    load_adult,
    make_preprocessor,
    write_json,
)
from scipy.stats import rankdata, spearmanr
from sklearn.datasets import load_digits, make_classification
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from skinfluence import InfluenceActiveLearner
from skinfluence.adapters import make_adapter
from skinfluence.curvature import make_solver
from skinfluence.influence._active import fi_active_scores

# (label, method, extra learner parameters)
ADULT_METHODS = [
    ("fi", "fi", {"subsample": 0.2}),
    ("fi exact", "fi", {"subsample": 1.0}),
    ("if", "if", {"subsample": 1.0}),
    ("bald", "bald", {}),
    ("entropy", "entropy", {}),
    ("random", "random", {}),
]
DIGITS_METHODS = [
    ("fi", "fi", {"subsample": 0.2, "params": "last"}),
    ("if", "if", {"subsample": 1.0, "params": "last"}),
    ("bald", "bald", {}),
    ("entropy", "entropy", {}),
    ("random", "random", {}),
]


def pm(values, scale=100.0, digits=2) -> str:
    values = np.asarray(values, dtype=float) * scale
    return f"{values.mean():.{digits}f}±{values.std():.{digits}f}"


def lr() -> LogisticRegression:
    return LogisticRegression(max_iter=1000)


def accuracy_tables(
    runs: dict, labels: list[str], n_labeled: list[int], title: str, seconds_title: str
) -> tuple[str, str, dict]:
    """Tables rounds × methods of test accuracy (mean±std, %) and mean seconds per round."""
    n_rounds = len(n_labeled)
    summary = {}
    acc_rows, sec_rows = [], []
    for r in range(n_rounds):
        acc_rows.append(
            [r, f"{n_labeled[r]:,}"]
            + [pm([run["test_acc"][r] for run in runs[lab]]) for lab in labels]
        )
        if r > 0:
            sec_rows.append(
                [r, f"{n_labeled[r]:,}"]
                + [f"{np.mean([run['seconds'][r] for run in runs[lab]]):.2f}" for lab in labels]
            )
    for lab in labels:
        acc = np.array([run["test_acc"] for run in runs[lab]])  # (seeds, rounds)
        sec = np.array([run["seconds"][1:] for run in runs[lab]])
        summary[lab] = {
            "test_acc_mean": acc.mean(axis=0).tolist(),
            "test_acc_std": acc.std(axis=0).tolist(),
            "mean_acc_over_rounds_1_to_last": float(acc[:, 1:].mean()),
            "seconds_per_round_mean": float(sec.mean()),
            "seconds_per_run_mean": float(sec.sum(axis=1).mean()),
        }
    acc_rows.append(
        ["mean r≥1", ""]
        + [f"{100 * summary[lab]['mean_acc_over_rounds_1_to_last']:.2f}" for lab in labels]
    )
    sec_rows.append(
        ["mean", ""] + [f"{summary[lab]['seconds_per_round_mean']:.2f}" for lab in labels]
    )
    sec_rows.append(
        ["total per run", ""] + [f"{summary[lab]['seconds_per_run_mean']:.1f}" for lab in labels]
    )
    headers = ["round", "labeled"] + labels
    return (
        format_table(headers, acc_rows, title),
        format_table(headers, sec_rows, seconds_title),
        summary,
    )


# -- part (a): Adult ---------------------------------------------------------------------
def sample_adult(data_dir: Path, seed: int, n_init: int, n_pool: int, n_val: int, n_test: int):
    rng = np.random.default_rng(seed)
    X_df, y = load_adult(data_dir, "train")
    X_te_df, y_te = load_adult(data_dir, "test")
    idx = rng.permutation(len(y))
    train = idx[: n_init + n_pool]
    val = idx[n_init + n_pool : n_init + n_pool + n_val]
    te = rng.choice(len(y_te), size=n_test, replace=False)
    pre = make_preprocessor(ADULT_NUMERIC, ADULT_CATEGORICAL).fit(X_df.iloc[train])
    X = pre.transform(X_df.iloc[train])
    return (
        X,
        y[train],
        pre.transform(X_df.iloc[val]),
        y[val],
        pre.transform(X_te_df.iloc[te]),
        y_te[te],
    )


def run_adult_method(method, kw, X, y, y_partial, Xva, yva, Xte, yte, *, batch, rounds, seed):
    learner = InfluenceActiveLearner(
        lr(), method=method, batch_size=batch, n_rounds=rounds, random_state=seed, **kw
    )
    val = {"X_val": Xva, "y_val": yva} if method == "if" else {}
    start = time.perf_counter()
    learner.fit(X, y_partial, y_oracle=y, **val)
    total = time.perf_counter() - start
    it = learner.labeled_iter_
    test_acc, model = [], None
    for h in learner.history_:
        rows = np.flatnonzero((it >= 0) & (it <= h["round"]))
        assert len(rows) == h["n_labeled"], (len(rows), h)
        model = lr().fit(X[rows], y[rows])
        test_acc.append(float(model.score(Xte, yte)))
    # the refit is the learner's own model (deterministic lbfgs on the same rows)
    assert np.array_equal(model.coef_, learner.estimator_.coef_)
    assert np.array_equal(model.intercept_, learner.estimator_.intercept_)
    return {
        "test_acc": test_acc,
        "n_labeled": [h["n_labeled"] for h in learner.history_],
        "seconds": [h["seconds"] for h in learner.history_],
        "val_score": [h["score"] for h in learner.history_],
        "fit_seconds_total": total,
    }


def part_a(
    data_dir: Path,
    seeds: list[int],
    rounds: int,
    *,
    n_init=300,
    n_pool=5000,
    batch=500,
    n_val=1000,
    n_test=4200,
) -> dict:
    labels = [lab for lab, _, _ in ADULT_METHODS]
    runs = {lab: [] for lab in labels}
    p = None
    for seed in seeds:
        X, y, Xva, yva, Xte, yte = sample_adult(data_dir, seed, n_init, n_pool, n_val, n_test)
        p = X.shape[1]
        y_partial = y.copy()
        y_partial[n_init:] = -1
        for lab, method, kw in ADULT_METHODS:
            res = run_adult_method(
                method,
                kw,
                X,
                y,
                y_partial,
                Xva,
                yva,
                Xte,
                yte,
                batch=batch,
                rounds=rounds,
                seed=seed,
            )
            res["seed"] = seed
            runs[lab].append(res)
            print(
                f"  adult seed {seed} {lab:9s}: {len(res['test_acc']) - 1} rounds, "
                f"final test acc {res['test_acc'][-1]:.4f}, {res['fit_seconds_total']:.1f}s",
                flush=True,
            )
    n_labeled = runs[labels[0]][0]["n_labeled"]
    for lab in labels:
        assert all(run["n_labeled"] == n_labeled for run in runs[lab])
    done = len(n_labeled) - 1
    acc_table, sec_table, summary = accuracy_tables(
        runs,
        labels,
        n_labeled,
        f"(a) Adult, LogisticRegression: test accuracy (%) per round, mean±std over "
        f"{len(seeds)} seed(s) ({n_init} initial, pool {n_pool:,}, batch {batch}, "
        f"{done} rounds run of {rounds} asked; test {n_test:,} rows of adult_test, p={p})",
        f"(a) Adult: wall seconds per round (scoring + labeling + refit; mean over "
        f"{len(seeds)} seed(s), 1 thread)",
    )
    return {
        "runs": runs,
        "summary": summary,
        "rounds_run": done,
        "p": p,
        "tables": [acc_table, sec_table],
    }


# -- part (b): digits ----------------------------------------------------------------------
class DigitsMLP(torch.nn.Module):
    """64-128-Dropout-64-10 MLP (logits)."""

    def __init__(self, n_classes=10, dropout=0.5):
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Linear(64, 128),
            torch.nn.ReLU(),
            torch.nn.Dropout(dropout),
            torch.nn.Linear(128, 64),
            torch.nn.ReLU(),
        )
        self.out = torch.nn.Linear(64, n_classes)

    def forward(self, x):
        x = x.to(self.out.weight.dtype)  # see the module docstring: X_val arrives as float64
        return self.out(self.features(x))


class DigitsCNN(torch.nn.Module):
    """Seed 000 Table 6 scaled to 8×8 inputs (logits)."""

    def __init__(self, n_classes=10, dropout=0.5):
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(1, 16, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.Conv2d(16, 32, 3, stride=2, padding=1),
            torch.nn.ReLU(),
            torch.nn.Dropout(dropout),
            torch.nn.Flatten(),
            torch.nn.Linear(32 * 4 * 4, 64),
            torch.nn.ReLU(),
        )
        self.out = torch.nn.Linear(64, n_classes)

    def forward(self, x):
        x = x.to(self.out.weight.dtype)
        return self.out(self.features(x.reshape(-1, 1, 8, 8)))


class TestRecorder:
    """Shared sink of test accuracies; ``deepcopy`` (hence ``sklearn.clone``) keeps it shared."""

    def __init__(self, X_test, y_test):
        self.X_test, self.y_test = X_test, y_test
        self.acc, self.seconds = [], []

    def __deepcopy__(self, memo):
        return self

    def reset(self):
        self.acc, self.seconds = [], []


def make_net(module, recorder: TestRecorder):
    from skorch import NeuralNetClassifier
    from skorch.callbacks import Callback

    class RecordTest(Callback):
        def __init__(self, recorder=None):
            self.recorder = recorder

        def on_train_end(self, net, X=None, y=None, **kwargs):
            start = time.perf_counter()
            self.recorder.acc.append(float(net.score(self.recorder.X_test, self.recorder.y_test)))
            self.recorder.seconds.append(time.perf_counter() - start)

    return NeuralNetClassifier(
        module,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=1e-3,
        optimizer__weight_decay=1e-4,
        max_epochs=50,
        batch_size=32,
        train_split=None,
        classes=list(range(10)),
        callbacks=[("record_test", RecordTest(recorder))],
        verbose=0,
    )


def part_b(
    seeds: list[int], rounds: int, net_name: str, *, n_init=60, n_pool=420, batch=30, n_val=300
) -> dict:
    X_all, y_all = load_digits(return_X_y=True)
    X_all = (X_all / 16.0).astype(np.float32)
    module = {"mlp": DigitsMLP, "cnn": DigitsCNN}[net_name]
    labels = [lab for lab, _, _ in DIGITS_METHODS]
    runs = {lab: [] for lab in labels}
    n_test = None
    for seed in seeds:
        idx = np.random.default_rng(seed).permutation(len(y_all))
        tr = idx[: n_init + n_pool]
        va = idx[n_init + n_pool : n_init + n_pool + n_val]
        te = idx[n_init + n_pool + n_val :]
        n_test = len(te)
        X, y = X_all[tr], y_all[tr]
        y_partial = y.copy()
        y_partial[n_init:] = -1
        recorder = TestRecorder(X_all[te], y_all[te])
        for lab, method, kw in DIGITS_METHODS:
            recorder.reset()
            learner = InfluenceActiveLearner(
                make_net(module, recorder),
                method=method,
                batch_size=batch,
                n_rounds=rounds,
                n_estimators=10,
                random_state=seed,
                **kw,
            )
            val = {"X_val": X_all[va], "y_val": y_all[va]} if method == "if" else {}
            torch.manual_seed(seed)
            start = time.perf_counter()
            learner.fit(X, y_partial, y_oracle=y, **val)
            total = time.perf_counter() - start
            hist = learner.history_
            assert len(recorder.acc) == len(hist), (len(recorder.acc), len(hist))
            res = {
                "seed": seed,
                "test_acc": list(recorder.acc),
                "n_labeled": [h["n_labeled"] for h in hist],
                "seconds": [h["seconds"] - s for h, s in zip(hist, recorder.seconds)],
                "recorder_seconds": list(recorder.seconds),
                "val_score": [h["score"] for h in hist],
                "fit_seconds_total": total,
            }
            runs[lab].append(res)
            print(
                f"  digits seed {seed} {lab:8s}: {len(hist) - 1} rounds, final test acc "
                f"{res['test_acc'][-1]:.4f}, {total:.1f}s",
                flush=True,
            )
    n_labeled = runs[labels[0]][0]["n_labeled"]
    acc_table, sec_table, summary = accuracy_tables(
        runs,
        labels,
        n_labeled,
        f"(b) Digits, skorch {net_name.upper()}: test accuracy (%) per round, mean±std over "
        f"{len(seeds)} seed(s) ({n_init} initial, pool {n_pool}, batch {batch}; "
        f"test {n_test:,} rows)",
        f"(b) Digits, {net_name.upper()}: wall seconds per round (scoring + labeling + "
        f"refit of 50 epochs; mean over {len(seeds)} seed(s), 1 thread)",
    )
    return {
        "runs": runs,
        "summary": summary,
        "net": net_name,
        "n_test": n_test,
        "tables": [acc_table, sec_table],
    }


# -- part (c): speed --------------------------------------------------------------------
def speed_case(
    name, X_lab, y_lab, X_pool, y_pool, *, repeats: int, batch: int, surrogate_seeds: list[int]
) -> dict:
    n_lab, n_pool = len(y_lab), len(y_pool)
    model = lr().fit(X_lab, y_lab)

    def setup():
        adapter = make_adapter(model, X_lab, y_lab)
        return adapter, make_solver("exact", 0.0).fit(adapter)

    setup_s, (adapter, solver) = best_time(setup, repeats)
    y_enc = adapter.encode_y(y_lab)
    fi_s, exact = best_time(
        lambda: fi_active_scores(adapter, solver, X_lab, y_enc, X_pool), repeats
    )

    X = np.vstack([X_lab, X_pool])
    y = np.concatenate([y_lab, y_pool])
    y_partial = y.copy()
    y_partial[n_lab:] = -1

    def one_round(sub):
        learner = InfluenceActiveLearner(
            lr(), method="fi", batch_size=batch, n_rounds=1, subsample=sub, random_state=0
        )
        learner.fit(X, y_partial, y_oracle=y)
        return learner.history_[1]["seconds"]

    rounds = {1.0: [], 0.2: []}
    for _ in range(repeats):  # round-robin: load from other processes hits both alike
        for sub in rounds:
            rounds[sub].append(one_round(sub))

    # the surrogate alone: forest fit on 20 % + predict on the pool (as the learner does)
    n_exact = int(np.ceil(0.2 * n_pool))
    sub_idx = np.sort(np.random.RandomState(0).choice(n_pool, n_exact, replace=False))

    def forest():
        rf = RandomForestRegressor(n_estimators=100, random_state=0)
        rf.fit(X_pool[sub_idx], rankdata(exact[sub_idx]))
        return rf.predict(X_pool)

    forest_s, _ = best_time(forest, repeats)

    # rank agreement on the same round: scores_ of the initial model, no oracle
    full = InfluenceActiveLearner(lr(), method="fi", subsample=1.0, random_state=0)
    scores_exact = full.fit(X, y_partial).scores_[n_lab:]
    max_rel = float(np.max(np.abs(scores_exact - exact) / np.abs(exact)))
    agreement = []
    top_exact = set(np.argsort(-scores_exact, kind="stable")[:batch].tolist())
    for seed in surrogate_seeds:
        approx = InfluenceActiveLearner(lr(), method="fi", subsample=0.2, random_state=seed)
        scores_sur = approx.fit(X, y_partial).scores_[n_lab:]
        seen = np.zeros(n_pool, dtype=bool)
        seen[np.sort(np.random.RandomState(seed).choice(n_pool, n_exact, replace=False))] = True
        top_sur = set(np.argsort(-scores_sur, kind="stable")[:batch].tolist())
        agreement.append(
            {
                "surrogate_seed": seed,
                "spearman_all": float(spearmanr(scores_exact, scores_sur).statistic),
                "spearman_unseen": float(
                    spearmanr(scores_exact[~seen], scores_sur[~seen]).statistic
                ),
                "spearman_seen": float(spearmanr(scores_exact[seen], scores_sur[seen]).statistic),
                "top_batch_overlap": len(top_exact & top_sur) / batch,
            }
        )
    best = {sub: min(ts) for sub, ts in rounds.items()}
    return {
        "case": name,
        "n_labeled": n_lab,
        "n_pool": n_pool,
        "p": X_lab.shape[1],
        "setup_s": setup_s,
        "fi_active_scores_s": fi_s,
        "round_exact_s": best[1.0],
        "round_sub02_s": best[0.2],
        "round_speedup": best[1.0] / best[0.2],
        "round_times_s": {str(k): v for k, v in rounds.items()},
        "forest_fit_predict_s": forest_s,
        "learner_vs_direct_max_rel_diff": max_rel,
        "rank_agreement": agreement,
    }


def part_c(data_dir: Path, repeats: int, n_lab: int, n_pool: int, batch: int) -> dict:
    Xs, ys = make_classification(
        n_samples=n_lab + n_pool, n_features=100, n_informative=10, n_redundant=5, random_state=0
    )
    cases = [("make_classification p=100", Xs[:n_lab], ys[:n_lab], Xs[n_lab:], ys[n_lab:])]
    X_df, y = load_adult(data_dir, "train")
    keep = np.random.default_rng(0).choice(len(y), size=n_lab + n_pool, replace=False)
    pre = make_preprocessor(ADULT_NUMERIC, ADULT_CATEGORICAL).fit(X_df.iloc[keep])
    Xa, ya = pre.transform(X_df.iloc[keep]), y[keep]
    cases.append(("adult", Xa[:n_lab], ya[:n_lab], Xa[n_lab:], ya[n_lab:]))
    results = []
    for name, X_lab, y_lab, X_pool, y_pool in cases:
        res = speed_case(
            name,
            X_lab,
            y_lab,
            X_pool,
            y_pool,
            repeats=repeats,
            batch=batch,
            surrogate_seeds=[0, 1, 2],
        )
        results.append(res)
        print(
            f"  speed {name}: fi_active_scores {res['fi_active_scores_s']:.2f}s, round exact "
            f"{res['round_exact_s']:.2f}s vs 0.2 {res['round_sub02_s']:.2f}s",
            flush=True,
        )
    rows = [
        [
            r["case"],
            f"{r['n_labeled']:,} × {r['n_pool']:,}",
            r["p"],
            f"{r['setup_s']:.3f}",
            f"{r['fi_active_scores_s']:.2f}",
            f"{r['round_exact_s']:.2f}",
            f"{r['round_sub02_s']:.2f}",
            f"{r['round_speedup']:.2f}×",
            f"{r['forest_fit_predict_s']:.2f}",
        ]
        for r in results
    ]
    table = format_table(
        [
            "data",
            "labeled × pool",
            "p",
            "adapter+solver s",
            "fi_active_scores s",
            "round exact s",
            "round subsample 0.2 s",
            "speed-up",
            "forest fit+predict s",
        ],
        rows,
        f"(c) FI^active on LogisticRegression: best of {repeats}, 1 thread; a round = "
        f"score the pool, label {batch}, refit",
    )
    rows2 = []
    for r in results:
        for a in r["rank_agreement"]:
            rows2.append(
                [
                    r["case"],
                    a["surrogate_seed"],
                    f"{a['spearman_all']:.3f}",
                    f"{a['spearman_unseen']:.3f}",
                    f"{a['spearman_seen']:.3f}",
                    f"{100 * a['top_batch_overlap']:.1f} %",
                ]
            )
    table2 = format_table(
        [
            "data",
            "surrogate seed",
            "Spearman all pool",
            "Spearman unseen 80 %",
            "Spearman seen 20 %",
            f"top-{batch} overlap",
        ],
        rows2,
        "(c) Surrogate (subsample 0.2) vs exact FI^active on the same model: rank "
        f"agreement over the {n_pool:,} pool rows (chance overlap {100 * batch / n_pool:.0f} %)",
    )
    return {"results": results, "tables": [table, table2]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 seed, few rounds (a minute or two)")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="folder of the CSV files (default: $SKINFLUENCE_DATA or ../shared/data)",
    )
    parser.add_argument("--part", choices=["a", "b", "c", "all"], default="all")
    parser.add_argument(
        "--seeds", type=int, default=None, help="seeds of (a) and (b) (default 3, quick 1)"
    )
    parser.add_argument(
        "--digits-net",
        choices=["mlp", "cnn"],
        default="mlp",
        help="network of part (b) (default mlp; cnn is about 3× slower)",
    )
    parser.add_argument(
        "--repeats", type=int, default=None, help="timing repeats of (c) (default 3, quick 1)"
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
    seeds = list(range(args.seeds or (1 if args.quick else 3)))
    rounds_a = 3 if args.quick else 12
    rounds_b = 4 if args.quick else 14
    repeats = args.repeats or (1 if args.quick else 3)
    n_speed = 2000 if args.quick else 5000
    payload = {
        "benchmark": "bench_active",
        "quick": args.quick,
        "settings": {
            "seeds": seeds,
            "part_a": {
                "n_init": 300,
                "n_pool": 5000,
                "batch": 500,
                "rounds_asked": rounds_a,
                "n_val": 1000,
                "n_test": 4200,
                "estimator": "LogisticRegression(max_iter=1000)",
                "methods": [[lab, m, kw] for lab, m, kw in ADULT_METHODS],
                "bald": "bootstrap ensemble, n_estimators=10",
            },
            "part_b": {
                "n_init": 60,
                "n_pool": 420,
                "batch": 30,
                "rounds": rounds_b,
                "n_val": 300,
                "net": args.digits_net,
                "training": "Adam lr 1e-3, weight decay 1e-4, 50 epochs, batch 32, "
                "CrossEntropyLoss, float32, train_split=None",
                "methods": [[lab, m, kw] for lab, m, kw in DIGITS_METHODS],
                "bald": "MC dropout, n_estimators=10",
            },
            "part_c": {
                "n_labeled": n_speed,
                "n_pool": n_speed,
                "batch": 500,
                "repeats": repeats,
                "aggregation": "trimmed_mean",
            },
            "threads": args.threads or "library defaults",
            "load_average_before": os.getloadavg(),
        },
        "environment": environment(),
    }
    tables = []
    for part in ("a", "b", "c"):
        if args.part not in (part, "all"):
            continue
        start = time.perf_counter()
        if part == "a":
            res = part_a(data_dir, seeds, rounds_a)
        elif part == "b":
            res = part_b(seeds, rounds_b, args.digits_net)
        else:
            res = part_c(data_dir, repeats, n_speed, n_speed, 500)
        res["seconds"] = time.perf_counter() - start
        payload[f"part_{part}"] = res
        tables.extend(res["tables"])
        print(
            "\n" + "\n\n".join(res["tables"]) + f"\n\n(part {part}: {res['seconds']:.0f}s)\n",
            flush=True,
        )
    payload["tables_markdown"] = tables
    payload["settings"]["load_average_after"] = os.getloadavg()
    name = "bench_active_quick" if args.quick else "bench_active"
    if args.part != "all":
        name += f"_{args.part}"
    if args.digits_net != "mlp":
        name += f"_{args.digits_net}"
    path = write_json(name, payload, args.out_dir)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()

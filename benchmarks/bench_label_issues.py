"""Finding mislabeled training rows: noisy validation next to clean validation, and cleanlab.

The benchmark of the label-issue work (``method="loo_confidence"``, ``method="auto"``,
``validation="auto"``, ``budget="auto"``, ``noisy_validation=``). It follows
DESIGN.md, "The realistic protocol": every method is measured with validation rows
drawn from the same noisy data (what users have) and with clean validation labels
(what the papers assume), next to cleanlab on the same split.

**Data** (per data set, data seed and noise rate):

* ``adult``, ``bank`` — 5,000 training rows, 1,000 validation rows and 4,200 test
  rows, drawn disjointly and preprocessed as in ``bench_noisy_labels.py``
  (``bench_quality.sample_dataset``: one-hot categorical, standard-scaled numeric
  columns, fitted on the training rows; Adult's test rows from ``adult_test.csv.gz``,
  Bank's ``duration`` dropped).
* ``breast_cancer`` (binary), ``digits`` (10 classes) — bundled with scikit-learn, so
  that defaults are not tuned to Adult and Bank: a stratified 70/30 train/test split;
  the train part is cut (stratified) into 80 % training rows and a 20 % validation
  draw; standard-scaled on the training rows.

Only the training rows' labels are flipped, at 10 % and 30 % of them (binary: to the
other class; digits: to a uniformly random other class). The validation and test
labels stay clean. The flipped rows depend only on (data set, seed, noise rate) and
are the same for every method and peer (rng ``1000 + seed``; at 10 % on Adult/Bank
they are the rows ``bench_noisy_labels.py`` flips). ``k`` = number of flipped rows.

**Protocols** (model ``LogisticRegression(max_iter=1000)``, default ``C``):

* (a) **noisy validation** — the trimmer's own defaults on the noisy training rows
  only: ``validation="auto"`` (5-fold cross-fitting for a validation-based method,
  every row scored), and, for reference, the original ``validation=0.2`` (a
  stratified 20 % of the training rows held out as validation, never scored, never
  trimmed, used in the final refit). Every validation-based method runs with each
  ``noisy_validation`` choice (``keep``, ``drop_flagged``, ``trim_loss``). The clean
  validation draw is not used.
* (b) **clean validation** — the same noisy training rows, with the clean validation
  draw passed as ``fit(X, y, X_val=, y_val=)`` (``noisy_validation`` does not act on
  an explicit ``X_val``: one run per method).

Validation-free methods (``loo_confidence`` with each ``label_score``, ``self``,
``random``) and the peers use no validation rows: one run, the same under both.

**Methods of ours**: ``loo_confidence`` (``self_confidence``, ``normalized_margin``,
``confidence_weighted_entropy``), ``self``, ``fi``, ``if``, ``ip``, ``ip_ensemble``,
``gif``, ``datainf``, ``representer``, ``random``, each through
``InfluenceTrimmer(LogisticRegression(max_iter=1000), method=..., random_state=seed)``
with every other parameter at its default. The all-defaults trimmer
(``method="auto"``) is fitted too: its ``method_`` is recorded and its scores are
compared with the run of the method it chose.

**Peers** on the same training rows: cleanlab's label-quality ranking
(``cleanlab.rank.get_label_quality_scores``, self-confidence) and
``cleanlab.filter.find_label_issues`` (its own flagged set) on 5-fold out-of-fold
probabilities (``cross_val_predict``, stratified, shuffled with the seed) of
``LogisticRegression(max_iter=1000)`` and of ``HistGradientBoostingClassifier()``;
Data-OOB (``ShapleyValuator(RandomForestClassifier(n_estimators=300),
method="data_oob", validation=None)``, score ``-values_``) when
``"data_oob" in skinfluence._shapley.METHODS`` (else skipped with a printed note).
Whatever ranks the rows, the model refitted after trimming is the same
``LogisticRegression(max_iter=1000)``; the random forest and the boosted trees only
rank.

**Measures**: AUROC of the scores for "flipped" (under ``validation=0.2`` over the
scored 80 %); precision@k (share of flipped rows among the ``k`` rows trimmed first);
test accuracy after trimming ``k`` rows and refitting (the trimmer's own refit,
``budget=k``); test accuracy at ``budget="auto"`` (ours: a second trimmer fit;
cleanlab: dropping its ``find_label_issues`` set; not for Data-OOB), next to no
trimming and to dropping exactly the flipped rows; the estimated number of issues
(``n_issues_``; cleanlab's flagged count) against ``k``; time of the ``budget=k`` fit
(scoring and the final refit) as a ratio to cleanlab's 5-fold out-of-fold time with
the same model (out-of-fold probabilities, ranking and ``find_label_issues``) and to
one fit of the model. Tables show mean ± std over seeds; nothing is tuned.

Sizes: full — 4 data sets × 2 noise rates × 5 seeds; ``--quick`` — 1 seed, 2,000
training rows for Adult/Bank (the small sets keep theirs), 10 % noise only.

**``--part agnostic``** — models without an influence adapter, the same data, flips
and measures. Models: ``SVC(probability=True, random_state=seed)``, ``SVC()`` (its
decision function through the sigmoid / softmax; no cleanlab peer, which needs
probabilities), ``KNeighborsClassifier()``, ``MLPClassifier(hidden_layer_sizes=(64,),
early_stopping=True, max_iter=500, random_state=seed)`` and ``GaussianNB()``. Ours:
``InfluenceTrimmer(model, method=m, budget="auto", random_state=seed)`` for ``m`` in
``oof_confidence`` and ``data_oob`` (every other parameter at its default: 5 folds;
100 bootstrap fits), one fit: its ``scores_`` give AUROC and precision@k, its refit
the accuracy at ``budget="auto"``; accuracy at ``k`` refits the same model without the
``k`` highest-scored rows. ``method="auto"``'s choice is recorded. Peer: cleanlab on
the same model's 5-fold out-of-fold probabilities (the folds ``oof_confidence`` uses,
so the same quantity: equal AUROC is the target), its ranking, ``find_label_issues``
and the model refitted without them. Every accuracy is the same model's, refitted.
Both protocols: these methods (and cleanlab) use no validation rows, so (a) and (b)
are one run; that passing the clean ``X_val`` changes nothing is checked on one model
of every setting (GaussianNB when it runs). Time: the trimmer's fit (scoring,
``budget="auto"``, refit) ÷ cleanlab's (out-of-fold probabilities, ranking,
``find_label_issues``, refit) with the same model, and ÷ one fit of the model. Sizes as
above; ``--models`` picks some, ``--noise`` other noise rates (its own result file).

Usage::

    python benchmarks/bench_label_issues.py [--quick] [--part main|agnostic] \
        [--datasets adult,bank,breast_cancer,digits] [--seeds N] [--models svc,knn,...] \
        [--noise 0.3]

Run it with one BLAS thread (``--threads``, default 1). Writes
``benchmarks/results/bench_label_issues.json`` (``bench_label_issues_quick.json``
with ``--quick``; ``bench_label_issues_agnostic[_quick].json`` for ``--part agnostic``).
cleanlab is a benchmark-only dependency (``pip install cleanlab``).
"""

from __future__ import annotations

import argparse
import re
import time
import warnings
from pathlib import Path

import numpy as np
from _common import best_time, default_data_dir, environment, format_table, write_json
from bench_quality import sample_dataset
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict, train_test_split
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from threadpoolctl import threadpool_limits

import skinfluence
from skinfluence import InfluenceTrimmer, ShapleyValuator
from skinfluence._methods import auto_method
from skinfluence._trimmer import NOISY_VALIDATION

DATASETS = ("adult", "bank", "breast_cancer", "digits")
NOISE_RATES = (0.1, 0.3)
LABEL_SCORES = ("self_confidence", "normalized_margin", "confidence_weighted_entropy")
VALIDATION_METHODS = ("fi", "if", "ip", "ip_ensemble", "gif", "datainf", "representer")
FREE_METHODS = ("self", "random")
#: protocol key -> column-group title
PROTOCOLS = {
    "noisy_cv": "(a) noisy, validation='auto' (5-fold)",
    "noisy_share": "(a) noisy, validation=0.2",
    "clean": "(b) clean X_val",
}
N_VAL, N_TEST = 1000, 4200


def _estimator():
    return LogisticRegression(max_iter=1000)


# -- data ------------------------------------------------------------------------------
def load_split(name: str, seed: int, data_dir: Path, n_train: int) -> dict:
    """Training, clean validation and test rows of one data set and seed (clean labels)."""
    if name in ("adult", "bank"):
        Xtr, ytr, Xva, yva, Xte, yte = sample_dataset(name, data_dir, seed, n_train, N_VAL, N_TEST)
    else:
        loader = load_breast_cancer if name == "breast_cancer" else load_digits
        X, y = loader(return_X_y=True)
        Xtrain, Xte, ytrain, yte = train_test_split(
            X, y, test_size=0.3, stratify=y, random_state=seed
        )
        Xtr, Xva, ytr, yva = train_test_split(
            Xtrain, ytrain, test_size=0.2, stratify=ytrain, random_state=seed
        )
        scaler = StandardScaler().fit(Xtr)
        Xtr, Xva, Xte = scaler.transform(Xtr), scaler.transform(Xva), scaler.transform(Xte)
    return {"X": Xtr, "y": ytr, "X_val": Xva, "y_val": yva, "X_test": Xte, "y_test": yte}


def flip_labels(y: np.ndarray, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Flip ``noise`` of the labels: binary to the other class, else to a random other one."""
    rng = np.random.default_rng(1000 + seed)
    flipped = np.sort(rng.choice(len(y), size=int(round(noise * len(y))), replace=False))
    classes = np.unique(y)
    y_noisy = y.copy()
    if len(classes) == 2:
        y_noisy[flipped] = np.where(y[flipped] == classes[0], classes[1], classes[0])
    else:
        pos = np.searchsorted(classes, y[flipped])
        shift = rng.integers(1, len(classes), size=len(flipped))
        y_noisy[flipped] = classes[(pos + shift) % len(classes)]
    assert np.array_equal(np.flatnonzero(y_noisy != y), flipped)
    return y_noisy, flipped


# -- measures --------------------------------------------------------------------------
def detection(scores: np.ndarray, is_flipped: np.ndarray, trimmed: np.ndarray) -> dict:
    """AUROC over the scored rows (finite scores) and precision of the ``k`` trimmed rows."""
    scored = np.isfinite(scores)
    return {
        "auroc": float(roc_auc_score(is_flipped[scored], scores[scored])),
        "precision_at_k": float(is_flipped[trimmed].mean()),
        "n_scored": int(scored.sum()),
    }


def top_rows(scores: np.ndarray, n: int) -> np.ndarray:
    """The ``n`` highest-scored rows, highest first (ties in row order, as the trimmer)."""
    return np.argsort(-scores, kind="stable")[:n]


def accuracy_without(data: dict, y_noisy: np.ndarray, drop: np.ndarray) -> float:
    """Test accuracy of the model refitted on the training rows outside ``drop``."""
    keep = np.ones(len(y_noisy), dtype=bool)
    keep[drop] = False
    model = _estimator().fit(data["X"][keep], y_noisy[keep])
    return float(model.score(data["X_test"], data["y_test"]))


_NUMBER = re.compile(r"-?\d[\d.e+-]*")


def _warnings_seen(caught) -> list[str]:
    """Distinct warnings, numbers replaced by ``#`` (one entry per kind, not per fold)."""
    return sorted(
        {f"{w.category.__name__}: {_NUMBER.sub('#', str(w.message))[:200]}" for w in caught}
    )


# -- our methods -----------------------------------------------------------------------
def our_runs() -> list[dict]:
    """Every (method, protocol, options) run of ours, as trimmer parameters."""
    runs = []
    for label_score in LABEL_SCORES:
        runs.append(
            {
                "row": f"loo_confidence · {label_score}",
                "protocol": "free",
                "params": {"method": "loo_confidence", "label_score": label_score},
            }
        )
    for method in FREE_METHODS:
        runs.append({"row": method, "protocol": "free", "params": {"method": method}})
    for method in VALIDATION_METHODS:
        for noisy_validation in NOISY_VALIDATION:
            for protocol, validation in (("noisy_cv", "auto"), ("noisy_share", 0.2)):
                runs.append(
                    {
                        "row": f"{method} · {noisy_validation}",
                        "protocol": protocol,
                        "params": {
                            "method": method,
                            "validation": validation,
                            "noisy_validation": noisy_validation,
                        },
                    }
                )
        runs.append({"row": f"{method} · keep", "protocol": "clean", "params": {"method": method}})
    return runs


def fit_trimmer(params: dict, budget, data: dict, y_noisy: np.ndarray, clean: bool, seed: int):
    """A fitted ``InfluenceTrimmer``, its fit time and the warnings it raised."""
    trim = InfluenceTrimmer(_estimator(), budget=budget, random_state=seed, **params)
    fit_params = {"X_val": data["X_val"], "y_val": data["y_val"]} if clean else {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        trim.fit(data["X"], y_noisy, **fit_params)
        seconds = time.perf_counter() - start
    return trim, seconds, _warnings_seen(caught)


def run_ours(run: dict, data: dict, y_noisy, is_flipped, k: int, seed: int):
    """One run of ours: detection and accuracy at ``budget=k``, then at ``budget="auto"``.

    Returns the result entry and the ``budget=k`` fit's scores.
    """
    clean = run["protocol"] == "clean"
    trim, seconds, seen = fit_trimmer(run["params"], k, data, y_noisy, clean, seed)
    entry = detection(trim.scores_, is_flipped, trim.trimmed_indices_)
    entry["trim_accuracy"] = float(trim.score(data["X_test"], data["y_test"]))
    entry["seconds"] = seconds
    entry["method_"] = trim.method_
    auto, auto_seconds, auto_seen = fit_trimmer(run["params"], "auto", data, y_noisy, clean, seed)
    entry["auto_accuracy"] = float(auto.score(data["X_test"], data["y_test"]))
    entry["n_issues"] = int(auto.n_issues_)
    entry["auto_precision"] = (
        float(is_flipped[auto.trimmed_indices_].mean()) if len(auto.trimmed_indices_) else None
    )
    entry["auto_seconds"] = auto_seconds
    entry["warnings"] = sorted(set(seen) | set(auto_seen))
    return entry, trim.scores_


def check_auto_method(data, y_noisy, k, seed, scores_by_params) -> dict:
    """The all-defaults trimmer: which method ``"auto"`` chose, and the same scores?"""
    trim, _, _ = fit_trimmer({}, k, data, y_noisy, False, seed)
    reference = scores_by_params.get((trim.method_, trim.label_score))
    same = None if reference is None else bool(np.allclose(trim.scores_, reference, equal_nan=True))
    return {"method_": trim.method_, "label_score": trim.label_score, "same_scores": same}


# -- peers -----------------------------------------------------------------------------
def out_of_fold_proba(model, X, y, seed: int) -> np.ndarray:
    cv = StratifiedKFold(5, shuffle=True, random_state=seed)
    return cross_val_predict(model, X, y, cv=cv, method="predict_proba", n_jobs=1)


def run_cleanlab(model, data, y_noisy, is_flipped, k: int, seed: int, repeats: int) -> dict:
    """cleanlab's ranking and flagged set on ``model``'s 5-fold out-of-fold probabilities.

    Timed as the best of ``repeats`` runs (it is the yardstick of the time ratios).
    """
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    def rank():
        pred_probs = out_of_fold_proba(model, data["X"], y_noisy, seed)
        quality = get_label_quality_scores(y_noisy, pred_probs, method="self_confidence")
        return quality, find_label_issues(y_noisy, pred_probs)

    seconds, (quality, issues) = best_time(rank, repeats)
    scores = 1.0 - quality
    trimmed = top_rows(scores, k)
    entry = detection(scores, is_flipped, trimmed)
    entry["trim_accuracy"] = accuracy_without(data, y_noisy, trimmed)
    flagged = np.flatnonzero(issues)
    entry["auto_accuracy"] = accuracy_without(data, y_noisy, flagged)
    entry["n_issues"] = len(flagged)
    entry["auto_precision"] = float(is_flipped[flagged].mean()) if len(flagged) else None
    entry["seconds"] = seconds
    return entry


def run_data_oob(data, y_noisy, is_flipped, k: int, seed: int) -> dict:
    """Data-OOB values of a random forest; score ``-values_``; LR refitted after trimming."""
    forest = RandomForestClassifier(n_estimators=300, random_state=seed, n_jobs=1)
    valuator = ShapleyValuator(
        forest, method="data_oob", validation=None, budget=k, random_state=seed
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        valuator.fit(data["X"], y_noisy)
        seconds = time.perf_counter() - start
    scores = -np.asarray(valuator.values_, dtype=np.float64)
    trimmed = top_rows(np.nan_to_num(scores, nan=-np.inf), k)
    entry = detection(scores, is_flipped, trimmed)
    entry["trim_accuracy"] = accuracy_without(data, y_noisy, trimmed)
    entry["seconds"] = seconds
    entry["warnings"] = _warnings_seen(caught)
    return entry


def has_data_oob() -> bool:
    return "data_oob" in skinfluence._shapley.METHODS


# -- one setting -----------------------------------------------------------------------
def run_setting(name: str, seed: int, noise: float, data_dir: Path, n_train: int) -> dict:
    """Every run of ours and every peer on one (data set, seed, noise rate)."""
    data = load_split(name, seed, data_dir, n_train)
    y_noisy, flipped = flip_labels(data["y"], noise, seed)
    is_flipped = np.zeros(len(y_noisy), dtype=bool)
    is_flipped[flipped] = True
    k = len(flipped)
    fit_seconds, _ = best_time(lambda: _estimator().fit(data["X"], y_noisy), repeats=5)
    out = {
        "dataset": name,
        "seed": seed,
        "noise": noise,
        "n_train": len(y_noisy),
        "n_val": len(data["y_val"]),
        "n_test": len(data["y_test"]),
        "n_features": data["X"].shape[1],
        "n_classes": len(np.unique(data["y"])),
        "k": k,
        "fit_seconds": fit_seconds,
        "no_trimming": accuracy_without(data, y_noisy, np.array([], dtype=int)),
        "drop_flipped": accuracy_without(data, y_noisy, flipped),
        "runs": [],
        "peers": {},
        "failures": [],
    }
    where = f"[{name} {noise:.0%} seed {seed}]"
    scores_by_params = {}
    for run in our_runs():
        try:
            entry, scores = run_ours(run, data, y_noisy, is_flipped, k, seed)
        except Exception as exc:  # a method that cannot run here is a note, not a crash
            note = f"{run['row']} ({run['protocol']}): {type(exc).__name__}: {exc}"
            print(f"  {where} could not run {note}", flush=True)
            out["failures"].append(note)
            continue
        out["runs"].append({"row": run["row"], "protocol": run["protocol"], **entry})
        if run["protocol"] == "free":
            params = run["params"]
            scores_by_params[(params["method"], params.get("label_score", "self_confidence"))] = (
                scores
            )
    seen = sorted({w for r in out["runs"] for w in r["warnings"]})
    for w in seen:
        n_runs = sum(w in r["warnings"] for r in out["runs"])
        print(f"  {where} warning in {n_runs} of {len(out['runs'])} runs: {w}", flush=True)
    out["auto_method"] = check_auto_method(data, y_noisy, k, seed, scores_by_params)
    peers = {
        "cleanlab · LR out-of-fold": lambda: run_cleanlab(
            _estimator(), data, y_noisy, is_flipped, k, seed, repeats=3
        ),
        "cleanlab · HGB out-of-fold": lambda: run_cleanlab(
            HistGradientBoostingClassifier(random_state=seed),
            data,
            y_noisy,
            is_flipped,
            k,
            seed,
            repeats=1,
        ),
    }
    if has_data_oob():
        peers["data_oob · random forest"] = lambda: run_data_oob(data, y_noisy, is_flipped, k, seed)
    for label, peer in peers.items():
        try:
            out["peers"][label] = peer()
        except Exception as exc:
            note = f"{label}: {type(exc).__name__}: {exc}"
            print(f"  {where} could not run {note}", flush=True)
            out["failures"].append(note)
    return out


# -- tables ----------------------------------------------------------------------------
def _pm(values, scale: float = 100.0, digits: int = 1) -> str:
    values = np.asarray([v for v in values if v is not None], dtype=float)
    if len(values) == 0:
        return "—"
    if len(values) == 1:
        return f"{scale * values[0]:.{digits}f}"
    return f"{scale * values.mean():.{digits}f} ± {scale * values.std(ddof=1):.{digits}f}"


def _cells(entries: list[dict], with_auto: bool = True) -> list[str]:
    if not entries:
        return ["n/a"] * (4 if with_auto else 3)
    cells = [
        _pm([e["auroc"] for e in entries], scale=1.0, digits=3),
        _pm([e["precision_at_k"] for e in entries]),
        _pm([e["trim_accuracy"] for e in entries], digits=2),
    ]
    if with_auto:
        cells.append(_pm([e.get("auto_accuracy") for e in entries], digits=2))
    return cells


def _ratios(entries: list[dict], settings: list[dict]) -> list[str]:
    """Seconds ÷ cleanlab's LR out-of-fold time and ÷ one LR fit, per seed then averaged."""
    by_oof, by_fit = [], []
    for e, s in zip(entries, settings):
        oof = s["peers"].get("cleanlab · LR out-of-fold")
        by_oof.append(e["seconds"] / oof["seconds"] if oof else None)
        by_fit.append(e["seconds"] / s["fit_seconds"])
    return [_pm(by_oof, scale=1.0, digits=2), _pm(by_fit, scale=1.0, digits=1)]


def table(settings: list[dict]) -> str:
    """One markdown table of one (data set, noise rate): both protocols side by side."""
    first = settings[0]
    headers = ["method · noisy_validation"]
    for protocol in PROTOCOLS:
        short = {"noisy_cv": "(a)", "noisy_share": "(a, 0.2)", "clean": "(b)"}[protocol]
        headers += [f"{short} AUROC", f"{short} P@k (%)", f"{short} acc@k (%)"]
        if protocol != "noisy_share":
            headers.append(f"{short} acc@auto (%)")
    headers += ["(a) time ÷ cleanlab LR OOF", "(a) time ÷ 1 fit"]
    rows = []
    row_names = list(dict.fromkeys(r["row"] for s in settings for r in s["runs"]))
    for row in row_names:
        cells, timed = [row], None
        for protocol in PROTOCOLS:
            pairs = [
                (r, s)
                for s in settings
                for r in s["runs"]
                if r["row"] == row and r["protocol"] in (protocol, "free")
            ]
            entries = [r for r, _ in pairs]
            cells += _cells(entries, with_auto=protocol != "noisy_share")
            if protocol == "noisy_cv" and pairs:
                timed = pairs
        cells += _ratios(*zip(*timed)) if timed else ["—", "—"]
        rows.append(cells)
    peer_names = list(dict.fromkeys(p for s in settings for p in s["peers"]))
    for peer in peer_names:
        pairs = [(s["peers"][peer], s) for s in settings if peer in s["peers"]]
        entries = [e for e, _ in pairs]
        cells = [peer]
        for protocol in PROTOCOLS:
            cells += _cells(entries, with_auto=protocol != "noisy_share")
        rows.append(cells + _ratios(*zip(*pairs)))
    for label, key in (("no trimming", "no_trimming"), ("drop the flipped rows", "drop_flipped")):
        acc = _pm([s[key] for s in settings], digits=2)
        cells = [label]
        for protocol in PROTOCOLS:
            cells += ["", "", acc] + ([acc] if protocol != "noisy_share" else [])
        rows.append(cells + ["", ""])
    return format_table(headers, rows, title=_title(settings, first))


def _title(settings: list[dict], first: dict) -> str:
    def issues(select):
        return _pm([select(s) for s in settings], scale=1.0, digits=0)

    def ours(s, protocol):
        for r in s["runs"]:
            if r["row"] == "fi · keep" and r["protocol"] == protocol:
                return r["n_issues"]
        return None

    def loo(s):
        for r in s["runs"]:
            if r["row"] == "loo_confidence · self_confidence":
                return r["n_issues"]
        return None

    def peer(name):
        return issues(lambda s: s["peers"].get(name, {}).get("n_issues"))

    chosen = sorted({s["auto_method"]["method_"] for s in settings})
    same = [s["auto_method"]["same_scores"] for s in settings]
    return (
        f"{first['dataset']}, {first['noise']:.0%} of the training labels flipped "
        f"(k = {first['k']} of {first['n_train']} rows, {first['n_classes']} classes, "
        f"{first['n_features']} features), {len(settings)} seed(s). Issues estimated "
        f"(budget='auto') vs k = {first['k']}: ours {issues(loo)} (validation=0.2: "
        f"{issues(lambda s: ours(s, 'noisy_share'))}), cleanlab LR {peer('cleanlab · LR out-of-fold')}, "
        f"HGB {peer('cleanlab · HGB out-of-fold')}. method='auto' ran {', '.join(chosen)} "
        f"(same scores as the named run: {all(same)}). Validation-free rows and peers "
        "repeat one run in every protocol; n/a: noisy_validation does not act on an "
        "explicit X_val."
    )


def tables(results: list[dict]) -> list[str]:
    out = []
    keys = list(dict.fromkeys((r["dataset"], r["noise"]) for r in results))
    for name, noise in keys:
        out.append(table([r for r in results if r["dataset"] == name and r["noise"] == noise]))
    return out


# -- the agnostic part: models without an adapter ----------------------------------------
#: ``--models`` key -> (row label, the model for a seed, whether cleanlab can use it)
AGNOSTIC_MODELS = {
    "svc": (
        "SVC(probability=True)",
        lambda seed: SVC(probability=True, random_state=seed),
        True,
    ),
    "svc_decision": ("SVC() (decision function)", lambda seed: SVC(), False),
    "knn": ("KNeighborsClassifier()", lambda seed: KNeighborsClassifier(), True),
    "mlp": (
        "MLPClassifier((64,), early stopping)",
        lambda seed: MLPClassifier(
            hidden_layer_sizes=(64,), early_stopping=True, max_iter=500, random_state=seed
        ),
        True,
    ),
    "nb": ("GaussianNB()", lambda seed: GaussianNB(), True),
}
AGNOSTIC_METHODS = ("oof_confidence", "data_oob")


def _quiet_fit(fn):
    """``fn()`` with its warnings recorded (distinct kinds), timed."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        out = fn()
        seconds = time.perf_counter() - start
    return out, seconds, _warnings_seen(caught)


def _model_accuracy(model, data, y_noisy, drop) -> tuple[float, float]:
    """Test accuracy of ``model`` refitted without the rows ``drop``, and the fit time."""
    keep = np.ones(len(y_noisy), dtype=bool)
    keep[drop] = False
    fitted, seconds, _ = _quiet_fit(lambda: clone(model).fit(data["X"][keep], y_noisy[keep]))
    return float(fitted.score(data["X_test"], data["y_test"])), seconds


def run_agnostic_ours(model, method, data, y_noisy, is_flipped, k, seed, check_clean=False):
    """One trimmer fit at ``budget="auto"``: detection, accuracy at ``k`` and at auto."""
    trim = InfluenceTrimmer(model, method=method, budget="auto", random_state=seed)
    _, seconds, seen = _quiet_fit(lambda: trim.fit(data["X"], y_noisy))
    scores = trim.scores_
    trimmed = top_rows(scores, k)
    entry = detection(scores, is_flipped, trimmed)
    entry["trim_accuracy"], _ = _model_accuracy(model, data, y_noisy, trimmed)
    entry["auto_accuracy"] = float(trim.score(data["X_test"], data["y_test"]))
    entry["n_issues"] = int(trim.n_issues_)
    flagged = trim.trimmed_indices_
    entry["auto_precision"] = float(is_flipped[flagged].mean()) if len(flagged) else None
    entry["seconds"] = seconds
    entry["method_"] = trim.method_
    entry["warnings"] = seen
    if check_clean:  # protocol (b): the clean validation rows change nothing
        other = InfluenceTrimmer(model, method=method, budget="auto", random_state=seed)
        _quiet_fit(lambda: other.fit(data["X"], y_noisy, X_val=data["X_val"], y_val=data["y_val"]))
        entry["same_with_clean_X_val"] = bool(
            np.array_equal(other.scores_, scores, equal_nan=True)
            and np.array_equal(other.trimmed_indices_, flagged)
        )
    return entry


def run_agnostic_cleanlab(model, data, y_noisy, is_flipped, k, seed) -> dict:
    """cleanlab on ``model``'s out-of-fold probabilities; the same model refitted."""
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    def rank():
        pred_probs = out_of_fold_proba(model, data["X"], y_noisy, seed)
        quality = get_label_quality_scores(y_noisy, pred_probs, method="self_confidence")
        return quality, find_label_issues(y_noisy, pred_probs)

    (quality, issues), seconds, seen = _quiet_fit(rank)
    scores = 1.0 - quality
    trimmed = top_rows(scores, k)
    entry = detection(scores, is_flipped, trimmed)
    entry["trim_accuracy"], _ = _model_accuracy(model, data, y_noisy, trimmed)
    flagged = np.flatnonzero(issues)
    entry["auto_accuracy"], refit_seconds = _model_accuracy(model, data, y_noisy, flagged)
    entry["n_issues"] = len(flagged)
    entry["auto_precision"] = float(is_flipped[flagged].mean()) if len(flagged) else None
    entry["seconds"] = seconds + refit_seconds  # the same work as the trimmer's fit
    entry["warnings"] = seen
    return entry


def run_agnostic_setting(name, seed, noise, data_dir, n_train, models) -> dict:
    """Every model without an adapter, ours and cleanlab, on one (data set, seed, noise)."""
    data = load_split(name, seed, data_dir, n_train)
    y_noisy, flipped = flip_labels(data["y"], noise, seed)
    is_flipped = np.zeros(len(y_noisy), dtype=bool)
    is_flipped[flipped] = True
    k = len(flipped)
    out = {
        "dataset": name,
        "seed": seed,
        "noise": noise,
        "n_train": len(y_noisy),
        "n_features": data["X"].shape[1],
        "n_classes": len(np.unique(data["y"])),
        "k": k,
        "models": {},
        "failures": [],
    }
    where = f"[{name} {noise:.0%} seed {seed}]"
    for i, key in enumerate(models):
        label, make, has_proba = AGNOSTIC_MODELS[key]
        model = make(seed)
        no_trim, fit_seconds = _model_accuracy(model, data, y_noisy, np.array([], dtype=int))
        entry = {
            "label": label,
            "auto_method": auto_method(model),
            "fit_seconds": fit_seconds,
            "no_trimming": no_trim,
            "drop_flipped": _model_accuracy(model, data, y_noisy, flipped)[0],
            "runs": {},
        }
        for run in (*AGNOSTIC_METHODS, "cleanlab"):
            try:
                if run == "cleanlab":
                    if not has_proba:
                        continue
                    got = run_agnostic_cleanlab(model, data, y_noisy, is_flipped, k, seed)
                else:
                    # protocol (b) checked on one cheap model (GaussianNB when it runs)
                    check = key == "nb" or (i == 0 and "nb" not in models)
                    got = run_agnostic_ours(
                        model, run, data, y_noisy, is_flipped, k, seed, check_clean=check
                    )
            except Exception as exc:  # a note, not a crash
                note = f"{label} · {run}: {type(exc).__name__}: {exc}"
                print(f"  {where} could not run {note}", flush=True)
                out["failures"].append(note)
                continue
            entry["runs"][run] = got
        print(
            f"  {where} {label}: "
            + ", ".join(
                f"{r} AUROC {e['auroc']:.3f} ({e['seconds']:.1f}s)"
                for r, e in entry["runs"].items()
            ),
            flush=True,
        )
        out["models"][key] = entry
    return out


def agnostic_table(settings: list[dict], models) -> str:
    """One markdown table of one (data set, noise rate): every model, ours next to cleanlab."""
    first = settings[0]
    headers = [
        "model · method",
        "AUROC",
        "P@k (%)",
        "acc@k (%)",
        "acc@auto (%)",
        "issues (auto)",
        "time ÷ cleanlab",
        "time ÷ 1 fit",
    ]
    rows = []
    for key in models:
        entries = [s["models"][key] for s in settings if key in s["models"]]
        if not entries:
            continue
        label = entries[0]["label"]
        for run in (*AGNOSTIC_METHODS, "cleanlab"):
            got = [(e, e["runs"][run]) for e in entries if run in e["runs"]]
            if not got:
                continue
            runs = [r for _, r in got]
            by_peer, by_fit = [], []
            for e, r in got:
                peer = e["runs"].get("cleanlab")
                by_peer.append(r["seconds"] / peer["seconds"] if peer else None)
                by_fit.append(r["seconds"] / e["fit_seconds"])
            name = "cleanlab (same model)" if run == "cleanlab" else run
            if run == entries[0]["auto_method"]:
                name += " = auto"
            rows.append(
                [f"{label} · {name}"]
                + _cells(runs)
                + [
                    _pm([r["n_issues"] for r in runs], scale=1.0, digits=0),
                    _pm(by_peer, scale=1.0, digits=2),
                    _pm(by_fit, scale=1.0, digits=1),
                ]
            )
        for text, field in (
            ("no trimming", "no_trimming"),
            ("drop the flipped rows", "drop_flipped"),
        ):
            acc = _pm([e[field] for e in entries], digits=2)
            rows.append([f"{label} · {text}", "", "", acc, acc, "", "", ""])
    same = [
        e["runs"][m].get("same_with_clean_X_val")
        for s in settings
        for e in s["models"].values()
        for m in AGNOSTIC_METHODS
        if m in e["runs"] and "same_with_clean_X_val" in e["runs"][m]
    ]
    title = (
        f"{first['dataset']}, {first['noise']:.0%} of the training labels flipped "
        f"(k = {first['k']} of {first['n_train']} rows, {first['n_classes']} classes, "
        f"{first['n_features']} features), {len(settings)} seed(s). Validation-free: "
        f"protocols (a) noisy and (b) clean validation are one run (scores unchanged by "
        f"a clean X_val: {all(same) if same else 'not checked'}). Accuracy of the same "
        "model refitted; time ÷ cleanlab's out-of-fold run and refit with that model."
    )
    return format_table(headers, rows, title=title)


def agnostic_tables(results: list[dict], models) -> list[str]:
    """One table per (data set, noise rate), over the seeds run so far."""
    keys = list(dict.fromkeys((r["dataset"], r["noise"]) for r in results))
    return [
        agnostic_table([r for r in results if (r["dataset"], r["noise"]) == key], models)
        for key in keys
    ]


def run_agnostic(args, datasets, data_dir, n_seeds, noise_rates, n_train, cleanlab_version):
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = sorted(set(models) - set(AGNOSTIC_MODELS))
    if unknown:
        raise SystemExit(f"unknown model(s) {unknown}; choose from {', '.join(AGNOSTIC_MODELS)}")
    settings = {
        "datasets": datasets,
        "noise_rates": list(noise_rates),
        "seeds": n_seeds,
        "n_train_adult_bank": n_train,
        "models": {m: AGNOSTIC_MODELS[m][0] for m in models},
        "methods": list(AGNOSTIC_METHODS),
        "threads": args.threads,
        "cleanlab": cleanlab_version,
    }
    results = []
    total = time.perf_counter()
    # seeds outermost: a long run has every table after its first pass
    for seed in range(n_seeds):
        for name in datasets:
            for noise in noise_rates:
                start = time.perf_counter()
                results.append(run_agnostic_setting(name, seed, noise, data_dir, n_train, models))
                print(
                    f"{name} {noise:.0%} seed {seed}: {time.perf_counter() - start:.0f}s",
                    flush=True,
                )
                # the results so far, so that a long run can be read as it goes
                _write_agnostic(args, settings, results, models, time.perf_counter() - total)
    seconds = time.perf_counter() - total
    print("\n\n".join(agnostic_tables(results, models)))
    print(f"total {seconds:.0f}s")
    print("wrote", _write_agnostic(args, settings, results, models, seconds, done=True))


def _write_agnostic(args, settings, results, models, seconds, done=False):
    payload = {
        "benchmark": "bench_label_issues --part agnostic",
        "quick": args.quick,
        "complete": done,
        "settings": settings,
        "total_seconds": seconds,
        "environment": environment(),
        "results": results,
        "tables": agnostic_tables(results, models),
    }
    name = "bench_label_issues_agnostic" + ("_quick" if args.quick else "")
    if args.noise:  # another noise rate than the mode's: a file of its own
        name += "_noise" + "-".join(f"{100 * r:.0f}" for r in settings["noise_rates"])
    return write_json(name, payload, args.out_dir)


# -- main ------------------------------------------------------------------------------
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="1 seed, 2,000 Adult/Bank rows, 10 %% noise"
    )
    parser.add_argument(
        "--datasets", default=",".join(DATASETS), help="comma-separated (default: all four)"
    )
    parser.add_argument("--seeds", type=int, default=None, help="data seeds (5; quick 1)")
    parser.add_argument(
        "--noise",
        default=None,
        help="--part agnostic: comma-separated noise rates instead of the mode's (0.1 quick)",
    )
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1, help="BLAS / OpenMP threads")
    parser.add_argument("--out-dir", type=Path, default=None)
    parser.add_argument(
        "--part",
        choices=("main", "agnostic"),
        default="main",
        help="main: the linear model's methods; agnostic: models without an adapter",
    )
    parser.add_argument(
        "--models",
        default=",".join(AGNOSTIC_MODELS),
        help=f"--part agnostic: comma-separated, of {', '.join(AGNOSTIC_MODELS)}",
    )
    args = parser.parse_args(argv)
    try:
        import cleanlab
    except ModuleNotFoundError as exc:
        raise SystemExit(
            "bench_label_issues compares with cleanlab: pip install cleanlab "
            "(a benchmark-only dependency)."
        ) from exc
    datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    unknown = sorted(set(datasets) - set(DATASETS))
    if unknown:
        parser.error(f"unknown data set(s) {unknown}; choose from {', '.join(DATASETS)}")
    if args.threads > 0:
        threadpool_limits(args.threads)
    data_dir = args.data_dir or default_data_dir()
    n_seeds = args.seeds or (1 if args.quick else 5)
    noise_rates = (0.1,) if args.quick else NOISE_RATES
    n_train = 2000 if args.quick else 5000
    if args.part == "agnostic":
        if args.noise:
            noise_rates = tuple(float(r) for r in args.noise.split(","))
        run_agnostic(args, datasets, data_dir, n_seeds, noise_rates, n_train, cleanlab.__version__)
        return
    if not has_data_oob():
        print(
            "note: 'data_oob' is not in skinfluence._shapley.METHODS yet: Data-OOB is "
            "skipped (a later run picks it up once it exists).",
            flush=True,
        )

    results = []
    total = time.perf_counter()
    for name in datasets:
        for noise in noise_rates:
            for seed in range(n_seeds):
                start = time.perf_counter()
                results.append(run_setting(name, seed, noise, data_dir, n_train))
                print(
                    f"{name} {noise:.0%} seed {seed}: {time.perf_counter() - start:.0f}s",
                    flush=True,
                )
    seconds = time.perf_counter() - total
    text = tables(results)
    print("\n\n".join(text))
    print(f"total {seconds:.0f}s")
    payload = {
        "benchmark": "bench_label_issues",
        "quick": args.quick,
        "settings": {
            "datasets": datasets,
            "noise_rates": list(noise_rates),
            "seeds": n_seeds,
            "n_train_adult_bank": n_train,
            "n_val_adult_bank": N_VAL,
            "n_test_adult_bank": N_TEST,
            "small_sets": "70/30 stratified train/test; train cut 80/20 into training / "
            "clean validation; standard-scaled",
            "estimator": "LogisticRegression(max_iter=1000)",
            "protocols": PROTOCOLS,
            "label_scores": list(LABEL_SCORES),
            "validation_methods": list(VALIDATION_METHODS),
            "noisy_validation": list(NOISY_VALIDATION),
            "data_oob": has_data_oob(),
            "threads": args.threads,
            "cleanlab": cleanlab.__version__,
        },
        "total_seconds": seconds,
        "environment": environment(),
        "results": results,
        "tables": text,
    }
    out_name = "bench_label_issues_quick" if args.quick else "bench_label_issues"
    print("wrote", write_json(out_name, payload, args.out_dir))


if __name__ == "__main__":
    main()

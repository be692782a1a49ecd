"""What the fairness and robustness objectives buy: trimming / reweighting on Adult and Bank.

Tests the claims of seed ``001_88d557979f1cfd41.txt`` (§3 "Extension", §6, §7,
App. C.1) that influence on a *fairness* or *robustness* validation objective finds
training rows whose removal (or down-weighting) makes the refitted model fairer or
more robust, and that the Hessian-free ``ip`` is as good as ``if`` for it.

Setting (per data set and data seed; sizes of the seed's §7 / App. B.1.4 Bank split:
18,292 training, 6,098 validation, 6,098 test rows): Adult (training and validation
rows from ``adult_train.csv.gz``, test rows from ``adult_test.csv.gz``) and Bank
(``bank_marketing.csv.gz``, ``duration`` dropped, the three parts drawn disjointly),
preprocessed as in ``bench_quality.py`` (one-hot categorical, standard-scaled numeric
columns, fitted on the training rows; same random splits for the same seed and
sizes). Estimator ``LogisticRegression(max_iter=1000)`` (the seed's §7 model).
Sensitive attribute (a model input too, as in Li & Liu 2022): Adult ``sex``
(Female vs Male); Bank ``age`` outside ``[25, 60)`` vs inside (AIF360's
``BankDataset`` convention; the seed's fairness experiments are on NLP data and name
no tabular attribute).

Objectives (``skinfluence.influence._objectives``), each scored by ``if``, ``ip`` and
``fi`` (every measure that takes ``objective=`` among the three the brief names):

* ``utility`` — mean validation log-loss (the baseline objective);
* ``fairness`` — demographic-parity gap of predicted probabilities between the two
  groups on the validation rows (``sensitive_val=``);
* ``robustness`` with ``attack="boundary"``, ``epsilon=1.3`` (the seed's white-box
  adversary and the reference code's strength) and with ``attack="linf"``,
  ``epsilon=0.1`` (FGSM; the package default).

Selections: the ``b`` highest-scored training rows for budgets ``b`` = 1 %, 5 %, 10 %
of the training rows (``strategy="trim"``: refit on the kept rows), and
``InfluenceTrimmer(strategy="reweight")`` (weights ``w = n · softmax(-scores / T)``,
refit on every row): with the trimmer's default ``temperature="auto"`` at *every*
budget ``b`` (``T`` chosen so that the weights' Kish effective sample size
``(Σw)²/Σw²`` equals ``n − b``, the rows trimming keeps — asserted — so reweighting and
trimming are compared at equal budget), with the earlier default ``T`` = std of the
scores as an explicit float (``temperature=float(np.std(scores))``, "T=std (old
default)") and with ``temperature=1.0`` (the seed's literal softmax of the raw scores);
the last two do not depend on the budget (one column each). Reported for each: the
temperature (in units of the scores' std), the largest weight, the effective sample
size and the mean weight of the rows trimming would drop. Next to them, ``random``
trimming at the same budgets (mean of 3 draws) and no trimming.

Test-set metrics (each refitted model): accuracy; DP gap of predicted probabilities
and of hard predictions between the groups; for each attack, accuracy on the test rows
attacked white-box *against the refitted model* ("adaptive": the adversary knows the
defended model) and on the test rows attacked once against the untrimmed model
("transfer": the fixed adversarial test set, the counterpart of the objective's fixed
adversarial validation set); and the seed's §7 protocol (10 attacks, each on a random
5–25 % of the test rows; the same attacked rows for every model).

Oracle check: for ``if`` and ``ip`` and each objective, the predicted change of the
validation objective when a set ``S`` of rows is removed, ``-Σ_{i∈S} score_i``
(first order; ``if`` is in the objective's units, ``ip`` only in sign and rank), against
the actual change after refitting without ``S``, over 9 sets per seed (the top, the
bottom and a random ``b`` rows for each budget); reported: Pearson r, Spearman ρ,
share of sets with the predicted sign, and actual / predicted for the top-1 % and
top-10 % sets. The robustness objective is evaluated on the *fixed* adversarial
validation set (what the score differentiates) and, in extra rows, on the validation
rows attacked again against each refitted model ("re-attacked"). ``fi`` (a non-negative sensitivity,
no predicted change) is not in the oracle check. Also the reweighting prediction
``Σ_i (w_i − 1) score_i`` against its actual change (auto at the smallest and largest
budget, and T=std).

Usage::

    python benchmarks/bench_objectives.py           # full: 5 data seeds, paper sizes
    python benchmarks/bench_objectives.py --quick   # 1 seed, 5,000 / 2,000 / 2,000 rows

Writes ``benchmarks/results/bench_objectives.json`` (``..._quick.json`` with --quick).
"""

from __future__ import annotations

import argparse
import time
import warnings
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
from scipy.stats import pearsonr, spearmanr
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from skinfluence import InfluenceTrimmer, influence_scores
from skinfluence._reweight import effective_size
from skinfluence.adapters import make_adapter
from skinfluence.influence._objectives import FairnessObjective, RobustnessObjective

BUDGETS = (0.01, 0.05, 0.10)
METHODS = ("if", "ip", "fi")
ORACLE_METHODS = ("if", "ip")
RANDOM_DRAWS = 3
ATTACKS = {"boundary": 1.3, "linf": 0.1}
# objective key -> InfluenceTrimmer / influence_scores options
OBJECTIVES = {
    "utility": {"objective": "utility"},
    "fairness": {"objective": "fairness"},
    "robust_boundary": {"objective": "robustness", "attack": "boundary", "epsilon": 1.3},
    "robust_linf": {"objective": "robustness", "attack": "linf", "epsilon": 0.1},
}
# strategy="reweight" columns besides the default temperature="auto" at every budget:
# the earlier default T = std(scores), and the seed's literal softmax of the raw scores
REWEIGHT_FIXED = {"std": "T=std (old default)", "t1": "T=1"}
N_PAPER_ATTACKS = 10  # seed 001 §7: 10 attacks, each on a random 5-25 % of the test rows


def _estimator():
    return LogisticRegression(max_iter=1000)


# -- data --------------------------------------------------------------------------------
def sample_with_groups(name, data_dir, seed, n_train, n_val, n_test):
    """``bench_quality.sample_dataset``'s split (same rows), plus the sensitive groups."""
    rng = np.random.default_rng(seed)
    if name == "adult":
        X_df, y = load_adult(data_dir, "train")
        X_te_df, y_te = load_adult(data_dir, "test")
        idx = rng.permutation(len(y))
        tr, va = idx[:n_train], idx[n_train : n_train + n_val]
        te = rng.choice(len(y_te), size=n_test, replace=False)
        parts = (X_df.iloc[tr], y[tr], X_df.iloc[va], y[va], X_te_df.iloc[te], y_te[te])
        numeric, categorical = ADULT_NUMERIC, ADULT_CATEGORICAL

        def group(df):  # 1 = Female
            return (df["sex"] == "Female").to_numpy().astype(np.int64)
    else:
        X_df, y = load_bank(data_dir)
        idx = rng.permutation(len(y))
        tr = idx[:n_train]
        va = idx[n_train : n_train + n_val]
        te = idx[n_train + n_val : n_train + n_val + n_test]
        parts = (X_df.iloc[tr], y[tr], X_df.iloc[va], y[va], X_df.iloc[te], y[te])
        numeric, categorical = BANK_NUMERIC, BANK_CATEGORICAL

        def group(df):  # 1 = age outside [25, 60) (AIF360's unprivileged group)
            age = df["age"].to_numpy()
            return ((age < 25) | (age >= 60)).astype(np.int64)

    Xtr, ytr, Xva, yva, Xte, yte = parts
    pre = make_preprocessor(numeric, categorical).fit(Xtr)
    return {
        "Xtr": pre.transform(Xtr),
        "ytr": ytr,
        "Xva": pre.transform(Xva),
        "yva": yva,
        "sva": group(Xva),
        "Xte": pre.transform(Xte),
        "yte": yte,
        "ste": group(Xte),
    }


# -- metrics -----------------------------------------------------------------------------
def _gap(values, groups) -> float:
    return float(abs(values[groups == 1].mean() - values[groups == 0].mean()))


def _log_loss(model, X, y) -> float:
    p = np.clip(model.predict_proba(X)[:, 1], 1e-15, 1 - 1e-15)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))


class Evaluator:
    """Every metric of a refitted model, against fixed data and fixed attacks."""

    def __init__(self, d, base, seed):
        self.d = d
        adapter = make_adapter(base, d["Xtr"], d["ytr"])
        self.fixed = {}  # attack -> (V' crafted against the base model, T' likewise)
        for attack, eps in ATTACKS.items():
            obj = RobustnessObjective(epsilon=eps, attack=attack)
            self.fixed[attack] = (
                obj.perturb(adapter, d["Xva"], adapter.encode_y(d["yva"])),
                obj.perturb(adapter, d["Xte"], adapter.encode_y(d["yte"])),
            )
        rng = np.random.default_rng(5000 + seed)
        n_te = len(d["yte"])
        self.paper_masks = []
        for _ in range(N_PAPER_ATTACKS):
            size = int(round(rng.uniform(0.05, 0.25) * n_te))
            mask = np.zeros(n_te, dtype=bool)
            mask[rng.choice(n_te, size=size, replace=False)] = True
            self.paper_masks.append(mask)

    def __call__(self, model) -> dict:
        d = self.d
        adapter = make_adapter(model, d["Xtr"], d["ytr"])
        p_te = model.predict_proba(d["Xte"])[:, 1]
        hard = model.predict(d["Xte"])
        correct = hard == d["yte"]
        out = {
            "acc": float(correct.mean()),
            "dp_prob_test": _gap(p_te, d["ste"]),
            "dp_pred_test": _gap(hard.astype(float), d["ste"]),
            "dp_prob_val": _gap(model.predict_proba(d["Xva"])[:, 1], d["sva"]),
            "val_loss": _log_loss(model, d["Xva"], d["yva"]),
        }
        for attack, eps in ATTACKS.items():
            obj = RobustnessObjective(epsilon=eps, attack=attack)
            va_fixed, te_fixed = self.fixed[attack]
            te_adapt = obj.perturb(adapter, d["Xte"], adapter.encode_y(d["yte"]))
            va_adapt = obj.perturb(adapter, d["Xva"], adapter.encode_y(d["yva"]))
            adv_adapt = model.predict(te_adapt) == d["yte"]
            adv_transfer = model.predict(te_fixed) == d["yte"]
            out[f"adv_acc_adaptive_{attack}"] = float(adv_adapt.mean())
            out[f"adv_acc_transfer_{attack}"] = float(adv_transfer.mean())
            out[f"val_adv_loss_fixed_{attack}"] = _log_loss(model, va_fixed, d["yva"])
            out[f"val_adv_loss_reattacked_{attack}"] = _log_loss(model, va_adapt, d["yva"])
            out[f"paper_mix_adaptive_{attack}"] = float(
                np.mean([np.where(m, adv_adapt, correct).mean() for m in self.paper_masks])
            )
            out[f"paper_mix_transfer_{attack}"] = float(
                np.mean([np.where(m, adv_transfer, correct).mean() for m in self.paper_masks])
            )
        return out


def objective_value(metrics: dict, key: str) -> float:
    """The validation objective ``f_V`` that objective ``key``'s scores differentiate."""
    if key == "utility":
        return metrics["val_loss"]
    if key == "fairness":
        return metrics["dp_prob_val"]
    return metrics[f"val_adv_loss_fixed_{key.removeprefix('robust_')}"]


def _fit(X, y, keep=None, sample_weight=None):
    if keep is not None:
        X, y = X[keep], y[keep]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _estimator().fit(X, y, sample_weight=sample_weight)


def _keep(n, rows):
    keep = np.ones(n, dtype=bool)
    keep[rows] = False
    return keep


def _rounded(obj, digits=6):
    """``obj`` with every float rounded to ``digits`` significant digits (smaller JSON)."""
    if isinstance(obj, float):
        return float(f"{obj:.{digits}g}")
    if isinstance(obj, dict):
        return {k: _rounded(v, digits) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_rounded(v, digits) for v in obj]
    return obj


def _mean_dicts(dicts):
    return {k: float(np.mean([x[k] for x in dicts])) for k in dicts[0]}


def _reweight_settings(ks, scores):
    """(label, temperature, budget) of every ``strategy="reweight"`` fit of one run.

    ``temperature="auto"`` depends on the budget (effective sample size ``n - k``), so
    it runs at every budget; the fixed temperatures do not (budget ``ks[0]``).
    """
    out = [(f"auto_{k}", "auto", k) for k in ks]
    out.append(("std", float(np.std(scores)), ks[0]))
    out.append(("t1", 1.0, ks[0]))
    return out


def _reweight_metrics(run, label):
    """The metrics of the reweighted refit of column ``label`` ("auto_<k>", "std", "t1")."""
    if label.startswith("auto_"):
        return run["reweight_auto"][label.removeprefix("auto_")]
    return run[f"reweight_{label}"]


# -- one setting -------------------------------------------------------------------------
def run_setting(name, seed, data_dir, n_train, n_val, n_test, check_trimmer):
    """Every objective × method × budget / strategy on one (data set, seed)."""
    d = sample_with_groups(name, data_dir, seed, n_train, n_val, n_test)
    Xtr, ytr, Xva, yva = d["Xtr"], d["ytr"], d["Xva"], d["yva"]
    n = len(ytr)
    ks = [int(round(b * n)) for b in BUDGETS]
    base = _fit(Xtr, ytr)
    evaluate = Evaluator(d, base, seed)
    none = evaluate(base)
    # with epsilon > 1 the boundary attack crosses the boundary of the model it targets:
    # every prediction flips, so adaptive accuracy is 1 - clean accuracy (checked)
    assert abs(none["adv_acc_adaptive_boundary"] - (1 - none["acc"])) <= 2 / len(d["yte"])
    out = {
        "dataset": name,
        "seed": seed,
        "n_train": n,
        "budgets": ks,
        "group_share_val": float(d["sva"].mean()),
        "group_share_test": float(d["ste"].mean()),
        "none": none,
        "random": {},
        "runs": {},
        "oracle": {},
    }
    # FairnessObjective.value (the package's f_V) equals the gap computed here
    fair = FairnessObjective(d["sva"]).value(make_adapter(base, Xtr, ytr), Xva)
    assert np.isclose(fair, none["dp_prob_val"], rtol=1e-9, atol=1e-12)

    rng = np.random.default_rng(2000 + seed)
    random_sets = {
        k: [rng.choice(n, size=k, replace=False) for _ in range(RANDOM_DRAWS)] for k in ks
    }
    for k in ks:
        out["random"][str(k)] = _mean_dicts(
            [evaluate(_fit(Xtr, ytr, _keep(n, rows))) for rows in random_sets[k]]
        )
    random_first = {k: evaluate(_fit(Xtr, ytr, _keep(n, random_sets[k][0]))) for k in ks}

    for key, options in OBJECTIVES.items():
        fit_extra = {"sensitive_val": d["sva"]} if key == "fairness" else {}
        for method in METHODS:
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                scores = influence_scores(base, Xtr, ytr, Xva, yva, method, **options, **fit_extra)
            seconds = time.perf_counter() - start
            order = np.argsort(-scores, kind="stable")
            run = {"seconds_scoring": seconds, "trim": {}, "bottom": {}}
            for k in ks:
                run["trim"][str(k)] = evaluate(_fit(Xtr, ytr, _keep(n, order[:k])))
            run["weights"] = {}
            run["reweight_auto"] = {}
            weights = {}  # column label -> sample weights (for the oracle's reweight rows)
            for label, temperature, budget in _reweight_settings(ks, scores):
                trimmer = InfluenceTrimmer(
                    _estimator(),
                    method=method,
                    strategy="reweight",
                    budget=budget,
                    temperature=temperature,
                    **options,
                )
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    trimmer.fit(Xtr, ytr, X_val=Xva, y_val=yva, **fit_extra)
                assert np.allclose(trimmer.scores_, scores, rtol=1e-8, atol=1e-14), (key, method)
                w = trimmer.sample_weight_
                metrics = evaluate(trimmer.estimator_)
                ess = effective_size(w)
                if label.startswith("auto_"):
                    # the rule: effective sample size = the rows trimming would keep
                    assert abs(ess - (n - budget)) <= 1e-6 * n, (key, method, budget, ess)
                    run["reweight_auto"][str(budget)] = metrics
                else:
                    run[f"reweight_{label}"] = metrics
                run["weights"][label] = {
                    "temperature": float(trimmer.temperature_),
                    "temperature_over_std": float(trimmer.temperature_ / np.std(scores)),
                    "min": float(w.min()),
                    "max": float(w.max()),
                    "effective_n": ess,
                    # mean weight of the rows trimming at this budget would drop
                    "mean_top": {str(k): float(w[order[:k]].mean()) for k in ks},
                }
                weights[label] = w
            if check_trimmer:
                trim = InfluenceTrimmer(_estimator(), method=method, budget=ks[1], **options)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    trim.fit(Xtr, ytr, X_val=Xva, y_val=yva, **fit_extra)
                assert np.array_equal(trim.trimmed_indices_, order[: ks[1]]), (key, method)
                assert np.isclose(trim.score(d["Xte"], d["yte"]), run["trim"][str(ks[1])]["acc"])

            if method in ORACLE_METHODS:
                f0 = objective_value(none, key)
                predicted, actual, reattacked, kinds = [], [], [], []
                attack = key.removeprefix("robust_") if key.startswith("robust_") else None
                for k in ks:
                    bottom = evaluate(_fit(Xtr, ytr, _keep(n, order[-k:])))
                    # only the validation objectives of the bottom sets are kept
                    run["bottom"][str(k)] = {m: v for m, v in bottom.items() if "val" in m}
                    for kind, rows, metrics in (
                        ("top", order[:k], run["trim"][str(k)]),
                        ("bottom", order[-k:], bottom),
                        ("random", random_sets[k][0], random_first[k]),
                    ):
                        predicted.append(-float(scores[rows].sum()))
                        actual.append(objective_value(metrics, key) - f0)
                        if attack is not None:
                            name_r = f"val_adv_loss_reattacked_{attack}"
                            reattacked.append(metrics[name_r] - none[name_r])
                        kinds.append(f"{kind}{k}")
                predicted, actual = np.asarray(predicted), np.asarray(actual)
                top = {k: kinds.index(f"top{k}") for k in ks}
                out["oracle"][f"{key}/{method}"] = {
                    "sets": kinds,
                    "predicted": predicted.tolist(),
                    "actual": actual.tolist(),
                    "pearson": float(pearsonr(predicted, actual)[0]),
                    "spearman": float(spearmanr(predicted, actual)[0]),
                    "sign_agreement": float(np.mean(np.sign(predicted) == np.sign(actual))),
                    "ratio_top_small": float(actual[top[ks[0]]] / predicted[top[ks[0]]]),
                    "ratio_top_large": float(actual[top[ks[-1]]] / predicted[top[ks[-1]]]),
                    # first-order prediction of reweighting, Σ (w_i - 1) score_i, per column
                    "reweight_predicted": {
                        label: float(np.sum((w - 1.0) * scores)) for label, w in weights.items()
                    },
                    "reweight_actual": {
                        label: objective_value(_reweight_metrics(run, label), key) - f0
                        for label in weights
                    },
                }
                if attack is not None:
                    # the loss on the validation rows attacked again against each refit
                    reattacked = np.asarray(reattacked)
                    out["oracle"][f"{key}/{method}"].update(
                        actual_reattacked=reattacked.tolist(),
                        pearson_reattacked=float(pearsonr(predicted, reattacked)[0]),
                        sign_agreement_reattacked=float(
                            np.mean(np.sign(predicted) == np.sign(reattacked))
                        ),
                        ratio_top_small_reattacked=float(
                            reattacked[top[ks[0]]] / predicted[top[ks[0]]]
                        ),
                        ratio_top_large_reattacked=float(
                            reattacked[top[ks[-1]]] / predicted[top[ks[-1]]]
                        ),
                    )
            out["runs"][f"{key}/{method}"] = run
    return out


# -- tables ------------------------------------------------------------------------------
def _pm(values, scale=100.0, digits=1, signed=False) -> str:
    values = np.asarray(values, dtype=float) * scale
    sign = "+" if signed else ""
    if len(values) == 1:
        return f"{values[0]:{sign}.{digits}f}"
    return f"{values.mean():{sign}.{digits}f} ± {values.std(ddof=1):.{digits}f}"


def _delta_table(rs, metric, objective_keys, title, unit="pp", scale=100.0, digits=2):
    """Rows: selections; columns: trim and reweight (auto) at each budget, then the fixed
    temperatures; paired Δ vs none."""
    ks = rs[0]["budgets"]
    n = rs[0]["n_train"]
    headers = ["selection"]
    for k in ks:
        headers += [f"trim {k} ({100 * k / n:.0f} %)", f"reweight auto {k}"]
    headers += [f"reweight {what}" for what in REWEIGHT_FIXED.values()]
    n_fixed = len(REWEIGHT_FIXED)

    def delta(values):
        return _pm(values, scale, digits, True)

    level = _pm([r["none"][metric] for r in rs], scale, digits)
    rows = [["no trimming (absolute level)"] + [level, ""] * len(ks) + [""] * n_fixed]
    row = [f"random (mean of {RANDOM_DRAWS})"]
    for k in ks:
        row += [delta([r["random"][str(k)][metric] - r["none"][metric] for r in rs]), "—"]
    rows.append(row + ["—"] * n_fixed)
    for key in objective_keys:
        for method in METHODS:
            runs = [(r, r["runs"][f"{key}/{method}"]) for r in rs]
            row = [f"{key} / {method}"]
            for k in ks:
                row.append(
                    delta([run["trim"][str(k)][metric] - r["none"][metric] for r, run in runs])
                )
                row.append(
                    delta(
                        [
                            run["reweight_auto"][str(k)][metric] - r["none"][metric]
                            for r, run in runs
                        ]
                    )
                )
            for label in REWEIGHT_FIXED:
                row.append(
                    delta([run[f"reweight_{label}"][metric] - r["none"][metric] for r, run in runs])
                )
            rows.append(row)
    return format_table(headers, rows, title=f"{title} — change vs no trimming ({unit})")


def _paper_table(rs, attack):
    """Seed 001 Table 2 counterpart: 5 % budget, 10 attacks on 5-25 % of the test rows."""
    k = rs[0]["budgets"][1]
    key = f"robust_{attack}"

    def cell(values):
        return _pm(values, 100.0, 2)

    rows = [
        ["Pre (no trimming, clean)", cell([r["none"]["acc"] for r in rs]), ""],
        [
            "Post (no trimming, attacked)",
            cell([r["none"][f"paper_mix_adaptive_{attack}"] for r in rs]),
            cell([r["none"][f"paper_mix_transfer_{attack}"] for r in rs]),
        ],
        [
            f"random trim {k}",
            cell([r["random"][str(k)][f"paper_mix_adaptive_{attack}"] for r in rs]),
            cell([r["random"][str(k)][f"paper_mix_transfer_{attack}"] for r in rs]),
        ],
    ]
    for obj in ("utility", key):
        for method in METHODS:
            selections = {
                f"trim {k}": "trim",
                f"reweight auto {k}": "reweight_auto",
                "reweight T=std (old default)": "reweight_std",
            }  # T=1 leaves the weights ≈ 1
            for what, field in selections.items():
                ms = [
                    r["runs"][f"{obj}/{method}"][field][str(k)]
                    if field in ("trim", "reweight_auto")
                    else r["runs"][f"{obj}/{method}"][field]
                    for r in rs
                ]
                rows.append(
                    [
                        f"{obj} / {method} / {what}",
                        cell([m[f"paper_mix_adaptive_{attack}"] for m in ms]),
                        cell([m[f"paper_mix_transfer_{attack}"] for m in ms]),
                    ]
                )
    return format_table(
        ["model", "accuracy, adaptive attack (%)", "accuracy, transfer attack (%)"],
        rows,
        title=(
            f"{rs[0]['dataset']}: seed 001 §7 protocol, {attack} ε={ATTACKS[attack]}, "
            f"{N_PAPER_ATTACKS} attacks on a random 5–25 % of the test rows"
        ),
    )


def _oracle_table(results):
    ks = results[0]["budgets"]
    reweight_labels = (f"auto_{ks[0]}", f"auto_{ks[-1]}", "std")
    rows = []
    for name in dict.fromkeys(r["dataset"] for r in results):
        rs = [r for r in results if r["dataset"] == name]
        for key in OBJECTIVES:
            for method in ORACLE_METHODS:
                o = [r["oracle"][f"{key}/{method}"] for r in rs]
                ratios = method == "if"
                rows.append(
                    [
                        f"{name} / {key} / {method}",
                        _pm([x["pearson"] for x in o], 1.0, 2),
                        _pm([x["spearman"] for x in o], 1.0, 2),
                        _pm([x["sign_agreement"] for x in o], 100.0, 0),
                        _pm([x["ratio_top_small"] for x in o], 1.0, 2) if ratios else "—",
                        _pm([x["ratio_top_large"] for x in o], 1.0, 2) if ratios else "—",
                    ]
                    + [
                        _pm(
                            [
                                x["reweight_actual"][label] / x["reweight_predicted"][label]
                                for x in o
                            ],
                            1.0,
                            2,
                        )
                        if ratios
                        else "—"
                        for label in reweight_labels
                    ]
                )
                if "pearson_reattacked" in o[0]:
                    rows.append(
                        [
                            f"{name} / {key} / {method}, re-attacked",
                            _pm([x["pearson_reattacked"] for x in o], 1.0, 2),
                            "",
                            _pm([x["sign_agreement_reattacked"] for x in o], 100.0, 0),
                            _pm([x["ratio_top_small_reattacked"] for x in o], 1.0, 2)
                            if ratios
                            else "—",
                            _pm([x["ratio_top_large_reattacked"] for x in o], 1.0, 2)
                            if ratios
                            else "—",
                        ]
                        + [""] * len(reweight_labels)
                    )
    return format_table(
        [
            "data / objective / method",
            "Pearson r",
            "Spearman ρ",
            "predicted sign (%)",
            f"actual / predicted, top {ks[0]}",
            f"actual / predicted, top {ks[-1]}",
            f"actual / predicted, reweight auto {ks[0]}",
            f"actual / predicted, reweight auto {ks[-1]}",
            "actual / predicted, reweight T=std",
        ],
        rows,
        title=(
            "oracle: predicted change of the validation objective (-Σ removed scores) vs "
            f"actual change after refitting, 9 sets per seed (top / bottom / random {ks})"
        ),
    )


def _weights_table(results):
    ks = results[0]["budgets"]
    rows = []
    for name in dict.fromkeys(r["dataset"] for r in results):
        rs = [r for r in results if r["dataset"] == name]
        for key in OBJECTIVES:
            for method in METHODS:
                row = [f"{name} / {key} / {method}"]
                for k in ks:
                    ws = [r["runs"][f"{key}/{method}"]["weights"][f"auto_{k}"] for r in rs]
                    row.append(f"{np.mean([w['temperature_over_std'] for w in ws]):.3g}")
                    row.append(
                        f"{np.mean([w['max'] for w in ws]):.3g} / "
                        f"{np.mean([w['mean_top'][str(k)] for w in ws]):.3g}"
                    )
                for label in REWEIGHT_FIXED:
                    ws = [r["runs"][f"{key}/{method}"]["weights"][label] for r in rs]
                    row.append(
                        f"{np.mean([w['effective_n'] for w in ws]):.0f} / "
                        f"{np.mean([w['max'] for w in ws]):.3g}"
                    )
                rows.append(row)
    n = results[0]["n_train"]
    headers = ["data / objective / method"]
    for k in ks:
        headers += [f"auto {k}: T / std", f"auto {k}: max w / mean w of top {k}"]
    headers += [f"{what}: effective n / max w" for what in REWEIGHT_FIXED.values()]
    return format_table(
        headers,
        rows,
        title=(
            f'strategy="reweight" weights over the {n} training rows (mean over seeds): '
            "auto (effective sample size (Σw)²/Σw² = n − k, asserted) at each budget k — "
            "its temperature in units of the scores' std, the largest weight and the mean "
            "weight of the k rows trimming drops; the fixed temperatures — effective sample "
            "size and largest weight"
        ),
    )


def tables(results: list[dict]) -> list[str]:
    out = []
    for name in dict.fromkeys(r["dataset"] for r in results):
        rs = [r for r in results if r["dataset"] == name]
        head = f"{name}: {len(rs)} seed(s), {rs[0]['n_train']} training rows"
        fair = ("utility", "fairness")
        out.append(_delta_table(rs, "dp_prob_test", fair, f"{head}; test DP gap of P(y=1)"))
        out.append(_delta_table(rs, "dp_pred_test", fair, f"{head}; test DP gap of predictions"))
        out.append(
            _delta_table(rs, "acc", tuple(OBJECTIVES), f"{head}; clean test accuracy", digits=2)
        )
        for attack in ATTACKS:
            keys = ("utility", f"robust_{attack}")
            if attack != "boundary":  # boundary, ε > 1: adaptive accuracy = 1 - clean accuracy
                out.append(
                    _delta_table(
                        rs,
                        f"adv_acc_adaptive_{attack}",
                        keys,
                        f"{head}; test accuracy under {attack} ε={ATTACKS[attack]}, adaptive",
                    )
                )
            out.append(
                _delta_table(
                    rs,
                    f"adv_acc_transfer_{attack}",
                    keys,
                    f"{head}; test accuracy under {attack} ε={ATTACKS[attack]}, transfer "
                    "(crafted against the untrimmed model)",
                )
            )
        out.append(_paper_table(rs, "boundary"))
    out.append(_weights_table(results))
    out.append(_oracle_table(results))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 seed, 5,000 training rows")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--seeds", type=int, default=None, help="data seeds (default 5, quick 1)")
    parser.add_argument("--datasets", nargs="+", default=["adult", "bank"])
    parser.add_argument("--threads", type=int, default=1, help="BLAS and torch threads")
    parser.add_argument("--out-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.threads > 0:
        threadpool_limits(args.threads)
        torch.set_num_threads(args.threads)
    data_dir = args.data_dir or default_data_dir()
    n_seeds = args.seeds or (1 if args.quick else 5)
    # seed 001 App. B.1.4 (Bank): 18,292 / 6,098 / 6,098 rows
    n_train, n_val, n_test = (5000, 2000, 2000) if args.quick else (18292, 6098, 6098)

    total = time.perf_counter()
    results = []
    for name in args.datasets:
        for seed in range(n_seeds):
            start = time.perf_counter()
            results.append(run_setting(name, seed, data_dir, n_train, n_val, n_test, seed == 0))
            print(f"{name} seed {seed}: {time.perf_counter() - start:.1f}s", flush=True)
    seconds = time.perf_counter() - total
    text = tables(results)
    print("\n\n".join(text))
    print(f"\ntotal {seconds:.0f}s")
    payload = {
        "benchmark": "bench_objectives",
        "quick": args.quick,
        "settings": {
            "n_train": n_train,
            "n_val": n_val,
            "n_test": n_test,
            "seeds": n_seeds,
            "budgets": list(BUDGETS),
            "methods": list(METHODS),
            "oracle_methods": list(ORACLE_METHODS),
            "objectives": OBJECTIVES,
            "attacks": ATTACKS,
            "random_draws": RANDOM_DRAWS,
            "sensitive": {
                "adult": "sex == Female (1) vs Male (0)",
                "bank": "age < 25 or age >= 60 (1) vs 25 <= age < 60 (0)",
            },
        },
        "environment": environment(),
        "seconds": seconds,
        "results": _rounded(results),
        "tables": text,
    }
    name = "bench_objectives_quick" if args.quick else "bench_objectives"
    print("wrote", write_json(name, payload, args.out_dir))


if __name__ == "__main__":
    main()

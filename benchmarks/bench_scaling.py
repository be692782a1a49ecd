"""Scaling of the influence computations: against the model's fit, a numpy minimum, memory.

Every computation runs in its own subprocess on data written once per case (so that a
case's peak resident memory is its own): the child loads the data, resets its peak RSS
(``/proc/self/clear_refs``), runs the computation (best of ``--repeats`` wall times,
``time.perf_counter``) and reports the time and the peak RSS above what it held before
(``VmHWM − VmRSS``, MiB). BLAS runs on one thread (``threadpoolctl``) except in the dask
case, whose two workers run one thread each.

For each computation a **numpy minimum** is written here, in the benchmark itself: the
same quantity with the closed forms typed out for that one model, each per-chunk
quantity computed once, in row chunks of the same size as the package's (64 MiB
blocks). Its result is checked against the package's (relative max difference
≤ 1e-8, asserted) before any ratio is reported. Ratios are reported, not seconds:
``fit`` = time / the model's own ``fit``; ``min`` = time / the minimum's time; memory
as MiB above the loaded data and as a ratio to the minimum's.

Cases (full run; ``--quick`` shrinks every size):

* ``dense``: binary ``LogisticRegression`` on ``make_classification``-like Gaussian
  data, p = 50 and n ∈ {10k, 100k, 1M}; n = 50k and p ∈ {50, 200, 1,000}; methods
  ``if``, ``fi``, ``self`` (validation set: 10 % of n rows more).
* ``sparse``: CSR with 30 non-zeros a row, 50k × 20k and 200k × 100k, binary
  ``LogisticRegression``; ``if`` on every row; ``self`` and ``fi`` need one
  inverse-Hessian solve per row (conjugate gradient, ``solver="auto"`` above 4,096
  parameters) and are timed on the first ``--sparse-rows`` rows and extrapolated
  linearly (set-up once + n / rows × the rows' time), against a minimum on the same
  rows.
* ``multinomial``: 50k × 64, 10 classes; ``fi`` and ``if``.
* ``knn``: exact KNN-Shapley (k = 5, 200 validation rows, p = 10) at n ∈ {5k, 20k,
  100k}, with a tie-heavy variant (rounded features) at 20k.
* ``active``: FI^active's ``trimmed_mean`` over the labeled rows, 5k × 5k and
  20k × 20k pair values in the pool-row-major blocks ``fi_active_scores`` makes
  (64 MiB), against the plain mean and a contiguous-partition minimum; plus the whole
  ``fi_active_scores`` at 5k × 5k (p = 20) with both aggregations.
* ``dask``: ``influence_scores`` of a 2,000,000 × 50 dask array in chunks of 100,000
  rows on a ``LocalCluster`` of 2 worker processes (one thread each) against the same
  call on the in-memory array; results asserted equal (1e-10). The client's memory is
  what is reported (the data lives in the workers).

Usage::

    python benchmarks/bench_scaling.py --quick        # a few minutes
    python benchmarks/bench_scaling.py                # the full run (see docs/scaling.md)
    python benchmarks/bench_scaling.py --cases dense_p1000,knn_100k

Writes ``benchmarks/results/bench_scaling.json`` (``bench_scaling_quick.json`` with
``--quick``) and prints markdown tables.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from scipy.special import expit, softmax

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

CHUNK_MB = 64.0  # the package's row blocks (BaseAdapter.chunk_size)


# -- cases ---------------------------------------------------------------------------------
def _cases(quick: bool) -> dict:
    if quick:
        dense = [("dense_n5k", 5_000, 50), ("dense_n20k", 20_000, 50), ("dense_p200", 10_000, 200)]
        sparse = [("sparse_5k", 5_000, 2_000)]
        multi = [("multinomial", 5_000, 64, 10)]
        knn = [("knn_2k", 2_000, False), ("knn_5k", 5_000, False), ("knn_5k_ties", 5_000, True)]
        active = [("active_1k", 1_000, 1_000, True)]
        dask = [("dask", 200_000, 50, 20_000)]
    else:
        dense = [
            ("dense_n10k", 10_000, 50),
            ("dense_n100k", 100_000, 50),
            ("dense_n1M", 1_000_000, 50),
            ("dense_p50", 50_000, 50),
            ("dense_p200", 50_000, 200),
            ("dense_p1000", 50_000, 1_000),
        ]
        sparse = [("sparse_50k", 50_000, 20_000), ("sparse_200k", 200_000, 100_000)]
        multi = [("multinomial", 50_000, 64, 10)]
        knn = [
            ("knn_5k", 5_000, False),
            ("knn_20k", 20_000, False),
            ("knn_100k", 100_000, False),
            ("knn_20k_ties", 20_000, True),
        ]
        active = [("active_5k", 5_000, 5_000, True), ("active_20k", 20_000, 20_000, False)]
        dask = [("dask", 2_000_000, 50, 100_000)]
    cases = {}
    for name, n, p in dense:
        cases[name] = {"kind": "dense", "n": n, "p": p}
    for name, n, p in sparse:
        cases[name] = {"kind": "sparse", "n": n, "p": p, "nnz": 30}
    for name, n, p, k in multi:
        cases[name] = {"kind": "multinomial", "n": n, "p": p, "classes": k}
    for name, n, ties in knn:
        cases[name] = {"kind": "knn", "n": n, "p": 10, "n_val": 200, "ties": ties}
    for name, n_lab, n_pool, full in active:
        cases[name] = {"kind": "active", "n_lab": n_lab, "n_pool": n_pool, "full": full}
    for name, n, p, chunk in dask:
        cases[name] = {"kind": "dask", "n": n, "p": p, "chunk": chunk}
    return cases


#: computations per kind: (task, minimum task or None)
TASKS = {
    "dense": [("fit", None), ("if", "if_min"), ("fi", "fi_min"), ("self", "self_min")],
    "sparse": [("fit", None), ("if", "if_min"), ("self", "self_min"), ("fi", "fi_min")],
    "multinomial": [("fit", None), ("if", "if_min"), ("fi", "fi_min")],
    "knn": [("knn", "knn_min"), ("knn_stable", None)],
    "active": [
        ("trimmed_mean", "trimmed_mean_min"),
        ("mean", None),
        ("trimmed_mean_axis0", None),
        ("fi_active", None),
        ("fi_active_mean", None),
    ],
    "dask": [("fit", None), ("inmemory_if", None), ("dask_if", None), ("inmemory_fi", None)]
    + [("dask_fi", None), ("inmemory_self", None), ("dask_self", None)],
}


# -- data ----------------------------------------------------------------------------------
def _binary_labels(z, rng):
    return (z + rng.logistic(size=z.shape) > 0).astype(np.int64)


def prepare(case: dict, folder: Path) -> None:
    """Write the case's data (and fitted model) to ``folder``."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    kind = case["kind"]
    if kind in ("dense", "sparse", "multinomial"):
        n, p = case["n"], case["p"]
        n_val = max(n // 10, 100)
        if kind == "sparse":
            X, Xv = (_sparse_rows(m, p, case["nnz"], rng) for m in (n, n_val))
            w = rng.normal(size=p) * 2.0
            y, yv = (_binary_labels(np.asarray(A @ w).ravel(), rng) for A in (X, Xv))
        else:
            X = rng.normal(size=(n, p))
            Xv = rng.normal(size=(n_val, p))
            if kind == "dense":
                w = rng.normal(size=p) / np.sqrt(p) * 2.0
                y, yv = _binary_labels(X @ w, rng), _binary_labels(Xv @ w, rng)
            else:
                W = rng.normal(size=(case["classes"], p)) / np.sqrt(p) * 2.0
                y, yv = (
                    np.array([rng.choice(case["classes"], p=row) for row in softmax(A @ W.T, 1)])
                    for A in (X, Xv)
                )
        model = LogisticRegression(max_iter=1000).fit(X, y)
        _save(folder, X=X, y=y, Xv=Xv, yv=yv, model=model)
    elif kind == "knn":
        n, p = case["n"], case["p"]
        X = rng.normal(size=(n, p))
        Xv = rng.normal(size=(case["n_val"], p))
        if case["ties"]:  # coarse features: many equal distances
            X, Xv = np.round(X), np.round(Xv)
        y = rng.integers(0, 3, n)
        yv = rng.integers(0, 3, case["n_val"])
        _save(folder, X=X, y=y, Xv=Xv, yv=yv)
    elif kind == "active":
        _save(folder, spec=case)
        if case["full"]:
            n, p = case["n_lab"], 20
            X = rng.normal(size=(n, p))
            w = rng.normal(size=p) / np.sqrt(p) * 2.0
            y = _binary_labels(X @ w, rng)
            Xu = rng.normal(size=(case["n_pool"], p))
            model = LogisticRegression(max_iter=2000).fit(X, y)
            _save(folder, X=X, y=y, Xu=Xu, model=model)
    elif kind == "dask":
        n, p = case["n"], case["p"]
        w = rng.normal(size=p) / np.sqrt(p) * 2.0
        n_val = 20_000
        Xv = rng.normal(size=(n_val, p))
        yv = _binary_labels(Xv @ w, rng)
        # the training rows are regenerated from their seed, block by block, in the workers
        _save(folder, w=w, Xv=Xv, yv=yv, spec=case)
        X, y = _dask_rows(case, w).compute(), None
        y = np.concatenate([_dask_labels(X[s : s + case["chunk"]], w, i) for i, s in _starts(case)])
        model = LogisticRegression(max_iter=1000).fit(X, y)
        _save(folder, model=model)


def _sparse_rows(n, p, nnz, rng):
    indices = np.sort(rng.integers(0, p, size=(n, nnz)), axis=1).ravel()
    data = rng.normal(size=n * nnz)
    X = sp.csr_matrix((data, indices, np.arange(0, n * nnz + 1, nnz)), shape=(n, p))
    X.sum_duplicates()
    return X


def _starts(case):
    return enumerate(range(0, case["n"], case["chunk"]))


def _dask_block(seed, rows, p):
    return np.random.default_rng(1000 + seed).normal(size=(rows, p))


def _dask_labels(block, w, seed):
    return _binary_labels(block @ w, np.random.default_rng(5000 + seed))


def _dask_rows(case, w):
    import dask
    import dask.array as da

    blocks = [
        da.from_delayed(
            dask.delayed(_dask_block)(i, min(case["chunk"], case["n"] - s), case["p"]),
            shape=(min(case["chunk"], case["n"] - s), case["p"]),
            dtype=np.float64,
        )
        for i, s in _starts(case)
    ]
    return da.concatenate(blocks, axis=0)


def _save(folder: Path, **items) -> None:
    for key, value in items.items():
        with open(folder / f"{key}.pkl", "wb") as fh:
            pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)


def _load(folder: Path) -> dict:
    return {f.stem: pickle.load(open(f, "rb")) for f in folder.glob("*.pkl")}


# -- numpy minima ----------------------------------------------------------------------------
def _rows_per_chunk(width: int, m: int, p: int) -> int:
    return int(max(1, min(1 << 16, CHUNK_MB * 2**20 // (8 * max(width, 1) * max(m, p, 1)))))


def _chunks(n, size):
    return [slice(s, min(s + size, n)) for s in range(0, n, size)]


def _binary_params(model, n):
    """``w, b, λ`` of lbfgs ``LogisticRegression`` in mean-loss form (``λ = 1/(C n)``)."""
    return model.coef_[0].astype(float), float(model.intercept_[0]), 1.0 / (model.C * n)


def _binary_hessian(X, w, b, lam):
    n, p = X.shape
    H = np.zeros((p + 1, p + 1))
    for rows in _chunks(n, _rows_per_chunk(1, p + 1, p)):
        Xc = X[rows]
        sg = expit(Xc @ w + b)
        s = sg * (1 - sg)
        if sp.issparse(Xc):
            Xs = Xc.multiply(s[:, None]).tocsr()
            H[:p, :p] += (Xc.T @ Xs).toarray()
            H[:p, p] += np.asarray(Xs.sum(axis=0)).ravel()
        else:
            Xs = Xc * s[:, None]
            H[:p, :p] += Xs.T @ Xc
            H[:p, p] += Xs.sum(axis=0)
        H[p, p] += s.sum()
    H[p, :p] = H[:p, p]
    H /= n
    H[np.arange(p), np.arange(p)] += lam
    return H


def _binary_val_grad(Xv, yv, w, b):
    r = expit(Xv @ w + b) - yv
    return np.r_[Xv.T @ r, r.sum()] / Xv.shape[0]


def _inverse(H):
    return sla.cho_solve(sla.cho_factor(H, lower=True), np.eye(H.shape[0]))


def min_binary_if(d):
    X, y, model = d["X"], d["y"], d["model"]
    n, p = X.shape
    w, b, lam = _binary_params(model, n)
    H = _binary_hessian(X, w, b, lam)
    u = sla.cho_solve(sla.cho_factor(H, lower=True), _binary_val_grad(d["Xv"], d["yv"], w, b))
    out = np.empty(n)
    Wu = np.column_stack([w, u[:p]])
    for rows in _chunks(n, _rows_per_chunk(1, p + 1, p)):
        Z = X[rows] @ Wu  # z and x·u_W in one pass
        r = expit(Z[:, 0] + b) - y[rows]
        out[rows] = -r * (Z[:, 1] + u[p]) / n
    return out


def _binary_fi_rows(X, y, w, b, Hinv, u, n, s_fi, want="fi"):
    p = X.shape[1]
    out = np.empty(X.shape[0])
    Wu = np.column_stack([w, u[:p]])
    for rows in _chunks(X.shape[0], _rows_per_chunk(4, p + 1, p)):
        Xc = X[rows]
        Z = Xc @ Wu
        sg = expit(Z[:, 0] + b)
        r = sg - y[rows]
        S = sg * (1 - sg)
        HJ = Xc @ Hinv[:p] + Hinv[p]  # H⁻¹ x̃ per row (b, q)
        if sp.issparse(Xc):
            lev = np.asarray(Xc.multiply(HJ[:, :p]).sum(axis=1)).ravel() + HJ[:, p]
        else:
            lev = np.einsum("bp,bp->b", Xc, HJ[:, :p]) + HJ[:, p]
        if want == "self":
            out[rows] = r * r * lev
            continue
        A = HJ[:, :p]
        A *= (s_fi * r)[:, None]
        A += np.outer(1.0 + s_fi * S * lev, w)
        v = np.outer(s_fi * S * (Z[:, 1] + u[p]), w) + np.outer(s_fi * r, u[:p])
        av = np.einsum("bp,bp->b", A, v)
        aa = np.einsum("bp,bp->b", A, A)
        out[rows] = av * av / (S * aa * aa)
    return out


def min_binary_fi(d, want="fi"):
    X, y, model = d["X"], d["y"], d["model"]
    n, p = X.shape
    w, b, lam = _binary_params(model, n)
    Hinv = _inverse(_binary_hessian(X, w, b, lam))
    u = Hinv @ _binary_val_grad(d["Xv"], d["yv"], w, b) if want == "fi" else np.zeros(p + 1)
    return _binary_fi_rows(X, y, w, b, Hinv, u, n, -1.0 / n, want)


# multinomial: θ = vec([W | b]) row-major, (K, q)
def _multi_hessian(X, W, b, lam):
    n, p = X.shape
    k, q = W.shape[0], p + 1
    H = np.zeros((k * q, k * q))
    for rows in _chunks(n, _rows_per_chunk(k + 1, k * q, p)):
        Xt = np.hstack([X[rows], np.ones((X[rows].shape[0], 1))])
        P = softmax(Xt[:, :p] @ W.T + b, axis=1)
        G = (P[:, :, None] * Xt[:, None, :]).reshape(len(Xt), -1)  # P ⊗ x̃
        H -= G.T @ G
        for c in range(k):
            H[c * q : (c + 1) * q, c * q : (c + 1) * q] += (Xt * P[:, c : c + 1]).T @ Xt
    H /= n
    lam_vec = np.tile(np.r_[np.full(p, lam), 0.0], k)
    H[np.diag_indices_from(H)] += lam_vec
    return H


def _pinv(H, rcond=1e-10):
    """The exact solver's inverse: Cholesky, or the eigen pseudo-inverse when singular."""
    try:
        c = sla.cho_factor(H, lower=True)
        dg = np.abs(np.diag(c[0])) ** 2
        if dg.min() > rcond * dg.max():
            return sla.cho_solve(c, np.eye(len(H)))
    except np.linalg.LinAlgError:
        pass
    ev, V = np.linalg.eigh(H)
    keep = np.abs(ev) > rcond * np.abs(ev).max()
    return (V[:, keep] / ev[keep]) @ V[:, keep].T


def _multi_val_grad(Xv, yv, W, b):
    P = softmax(Xv @ W.T + b, axis=1)
    P[np.arange(len(yv)), yv] -= 1.0
    return np.hstack([P.T @ Xv, P.sum(0)[:, None]]).ravel() / len(yv)


def _multi_setup(d):
    X, model = d["X"], d["model"]
    n, p = X.shape
    W, b = model.coef_.astype(float), model.intercept_.astype(float)
    lam = 1.0 / (model.C * n)
    Hinv = _pinv(_multi_hessian(X, W, b, lam))
    Hinv = 0.5 * (Hinv + Hinv.T)
    u = Hinv @ _multi_val_grad(d["Xv"], d["yv"], W, b)
    return W, b, Hinv, u


class _SoftmaxHessian:
    """``H V`` of multinomial LR in row chunks, and its per-feature ``K × K`` blocks."""

    def __init__(self, X, W, b, lam):
        self.X, self.W, self.b, self.lam = X, W, b, lam
        n, p = X.shape
        k = W.shape[0]
        self.P = softmax(X @ W.T + b, axis=1)
        self.pen = np.tile(np.r_[np.full(p, lam), 0.0], k)
        blocks = np.empty((p + 1, k, k))
        S = self.P[:, :, None] * np.eye(k) - self.P[:, :, None] * self.P[:, None, :]
        blocks[:p] = ((X * X).T @ S.reshape(n, k * k)).reshape(p, k, k) / n
        blocks[p] = S.sum(axis=0) / n
        blocks[:p] += lam * np.eye(k)
        self.inv = np.linalg.pinv(blocks, rtol=1e-10, hermitian=True)
        self.index = np.arange(k * (p + 1)).reshape(k, p + 1).T
        self.null = np.zeros((k, p + 1))
        self.null[:, p] = 1.0 / np.sqrt(k)  # the free intercepts
        self.null = self.null.ravel()

    def matvec(self, V):
        X, P = self.X, self.P
        n, p = X.shape
        k, r = self.W.shape[0], V.shape[1]
        V3 = V.reshape(k, p + 1, r)
        out = np.zeros((k, p + 1, r))
        for rows in _chunks(n, _rows_per_chunk(2 * k * r, 1, 1)):
            T = np.einsum("np,kpr->nkr", X[rows], V3[:, :p]) + V3[:, p][None]
            Pc = P[rows]
            T = Pc[:, :, None] * (T - np.einsum("nk,nkr->nr", Pc, T)[:, None, :])
            out[:, :p] += np.einsum("np,nkr->kpr", X[rows], T)
            out[:, p] += T.sum(axis=0)
        return out.reshape(-1, r) / n + self.pen[:, None] * V

    def precondition(self, R):
        Z = np.empty_like(R)
        Z[self.index] = self.inv @ R[self.index]
        return Z


def _pcg_softmax(A, B, tol=1e-8):
    B = B - np.outer(A.null, A.null @ B)
    X, R = np.zeros_like(B), B.copy()
    Z = A.precondition(R)
    P, rz = Z.copy(), np.einsum("ij,ij->j", R, Z)
    stop = tol * np.linalg.norm(B, axis=0)
    for _ in range(10 * B.shape[0]):
        AP = A.matvec(P)
        alpha = rz / np.einsum("ij,ij->j", P, AP)
        X += alpha * P
        R -= alpha * AP
        if np.all(np.linalg.norm(R, axis=0) <= stop):
            break
        Z = A.precondition(R)
        rz_new = np.einsum("ij,ij->j", R, Z)
        P = Z + (rz_new / rz) * P
        rz = rz_new
    return X - np.outer(A.null, A.null @ X)


def min_multi_if(d):
    """``if`` of multinomial LR: above 512 parameters one block-Jacobi PCG solve (as the
    package's ``solver="auto"`` for one solve), the Hessian's factorisation below."""
    X, y, model = d["X"], d["y"], d["model"]
    n, p = X.shape
    W, b = model.coef_.astype(float), model.intercept_.astype(float)
    if W.shape[0] * (p + 1) <= 512:
        W, b, Hinv, u = _multi_setup(d)
    else:
        A = _SoftmaxHessian(X, W, b, 1.0 / (model.C * n))
        u = _pcg_softmax(A, _multi_val_grad(d["Xv"], d["yv"], W, b)[:, None])[:, 0]
    U = u.reshape(W.shape[0], p + 1)
    out = np.empty(n)
    WU = np.vstack([W, U[:, :p]]).T  # (p, 2K): logits and x·U_k in one pass
    k = W.shape[0]
    for rows in _chunks(n, _rows_per_chunk(1, k * (p + 1), p)):
        Z = X[rows] @ WU
        P = softmax(Z[:, :k] + b, axis=1)
        P[np.arange(len(P)), y[rows]] -= 1.0
        out[rows] = -np.einsum("bk,bk->b", P, Z[:, k:] + U[:, p]) / n
    return out


def min_multi_fi(d):
    X, y = d["X"], d["y"]
    n, p = X.shape
    W, b, Hinv, u = _multi_setup(d)
    k, q = W.shape[0], p + 1
    s = -1.0 / n
    U = u.reshape(k, q)
    out = np.empty(n)
    eye = np.eye(k)
    for rows in _chunks(n, _rows_per_chunk(k + 2, k * q, p)):
        Xc = X[rows]
        nb = Xc.shape[0]
        Xt = np.hstack([Xc, np.ones((nb, 1))])
        P = softmax(Xc @ W.T + b, axis=1)
        r = P.copy()
        r[np.arange(nb), y[rows]] -= 1.0
        S = P[:, :, None] * eye - P[:, :, None] * P[:, None, :]
        # H⁻¹ (e_j ⊗ x̃) for every output j, by the inverse's row blocks: (b, K_j, K, q)
        HJ = np.stack([Xt @ Hinv[j * q : (j + 1) * q] for j in range(k)], axis=1)
        HJ = HJ.reshape(nb, k, k, q)
        t = np.einsum("bq,bjkq->bjk", Xt, HJ)  # x̃ · (H⁻¹J_j)_k
        A = np.einsum("bkl,bjl->bjk", S, t) @ W + np.einsum("bk,bjkp->bjp", r, HJ[..., :p])
        A *= s
        A += W  # ∂ω f_j = s (H⁻¹J_j)ᵀ M + W_j
        tu = Xt @ U.T  # (b, K)
        v = s * (np.einsum("bkl,bl->bk", S, tu) @ W + r @ U[:, :p])  # (b, p)
        B = np.sqrt(P)[:, :, None] * (A - np.einsum("bk,bkp->bp", P, A)[:, None, :])
        ev, Q = np.linalg.eigh(B @ np.swapaxes(B, 1, 2))
        keep = ev > np.maximum(1e-10 * ev.max(axis=1, keepdims=True), np.finfo(float).tiny)
        inv = np.where(keep, 1.0 / np.where(keep, ev, 1.0), 0.0)
        Bv = np.einsum("bkp,bp->bk", B, v)
        out[rows] = np.sum((inv * np.einsum("bkj,bk->bj", Q, Bv)) ** 2, axis=1)
    return out


# sparse: Jacobi-preconditioned CG on X̃ᵀ S X̃ / n + λ
class _SparseHessian:
    def __init__(self, X, w, b, lam):
        self.X, self.n, self.p = X, X.shape[0], X.shape[1]
        sg = expit(np.asarray(X @ w).ravel() + b)
        self.S = sg * (1 - sg)
        self.lam = np.r_[np.full(self.p, lam), 0.0]
        sq = X.multiply(X).T @ self.S
        self.diag = np.r_[np.asarray(sq).ravel(), self.S.sum()] / self.n + self.lam

    def matvec(self, V):
        p = self.p
        T = self.X @ V[:p] + V[p]
        T *= self.S[:, None]
        out = np.empty_like(V)
        out[:p] = self.X.T @ T
        out[p] = T.sum(axis=0)
        out /= self.n
        out += self.lam[:, None] * V
        return out


def _pcg(A, B, tol=1e-8):
    X = np.zeros_like(B)
    R = B.copy()
    Minv = 1.0 / A.diag
    Z = Minv[:, None] * R
    P = Z.copy()
    rz = np.einsum("ij,ij->j", R, Z)
    stop = tol * np.linalg.norm(B, axis=0)
    for _ in range(10 * B.shape[0]):
        AP = A.matvec(P)
        alpha = rz / np.einsum("ij,ij->j", P, AP)
        X += alpha * P
        R -= alpha * AP
        if np.all(np.linalg.norm(R, axis=0) <= stop):
            break
        Z = Minv[:, None] * R
        rz_new = np.einsum("ij,ij->j", R, Z)
        P = Z + (rz_new / rz) * P
        rz = rz_new
    return X


def min_sparse_if(d):
    X, y, model = d["X"], d["y"], d["model"]
    n, p = X.shape
    w, b, lam = _binary_params(model, n)
    A = _SparseHessian(X, w, b, lam)
    u = _pcg(A, _binary_val_grad(d["Xv"], d["yv"], w, b)[:, None])[:, 0]
    r = expit(A_z(X, w, b)) - y
    return -r * (np.asarray(X @ u[:p]).ravel() + u[p]) / n


def A_z(X, w, b):
    return np.asarray(X @ w).ravel() + b


def min_sparse_setup(d, want):
    """The set-up of ``self`` / ``fi`` on sparse rows: the curvature and ``u``.

    As the package's rule: the dense inverse up to 4,096 parameters, else one
    Jacobi-PCG solve per row.
    """
    X, model = d["X"], d["model"]
    n, p = X.shape
    w, b, lam = _binary_params(model, n)
    A = _SparseHessian(X, w, b, lam)
    Hinv = _inverse(_binary_hessian(X, w, b, lam)) if p + 1 <= 4096 else None
    u = np.zeros(p + 1)
    if want == "fi":
        g = _binary_val_grad(d["Xv"], d["yv"], w, b)
        u = Hinv @ g if Hinv is not None else _pcg(A, g[:, None])[:, 0]
    return A, Hinv, u


def min_sparse_rows(d, want, setup):
    """``self`` / ``fi`` of the first ``rows`` rows: ``H⁻¹ x̃`` per row, in blocks."""
    X, y, model = d["X"], d["y"], d["model"]
    n, p = X.shape
    k = d["rows"]
    w, b, lam = _binary_params(model, n)
    A, Hinv, u = setup
    Xk, yk = X[:k], y[:k]
    z = A_z(Xk, w, b)
    sg = expit(z)
    r, S = sg - yk, sg * (1 - sg)
    out = np.empty(k)
    s_fi = -1.0 / n
    for rows in _chunks(k, _rows_per_chunk(3, p + 1, p)):
        Xc = Xk[rows]
        if Hinv is not None:
            HJ = np.asarray(Xc @ Hinv[:p]) + Hinv[p]
        else:
            B = np.vstack([Xc.T.toarray(), np.ones((1, Xc.shape[0]))])  # x̃ per column
            HJ = _pcg(A, B).T  # (b, q)
        lev = np.asarray(Xc.multiply(HJ[:, :p]).sum(axis=1)).ravel() + HJ[:, p]
        rr, SS = r[rows], S[rows]
        if want == "self":
            out[rows] = rr * rr * lev
            continue
        Av = HJ[:, :p] * (s_fi * rr)[:, None] + np.outer(1.0 + s_fi * SS * lev, w)
        tu = np.asarray(Xc @ u[:p]).ravel() + u[p]
        v = np.outer(s_fi * SS * tu, w) + np.outer(s_fi * rr, u[:p])
        av = np.einsum("bp,bp->b", Av, v)
        aa = np.einsum("bp,bp->b", Av, Av)
        out[rows] = av * av / (SS * aa * aa)
    return out


def min_knn(d):
    from sklearn.metrics.pairwise import euclidean_distances

    X, y, Xv, yv, k = d["X"], d["y"], d["Xv"], d["yv"], 5
    n = len(y)
    total = np.zeros(n)
    weights = 1.0 / np.maximum(k, np.arange(1, n, dtype=np.float64))
    for rows in _chunks(len(yv), max(1, (1 << 21) // n)):
        dist = euclidean_distances(Xv[rows], X, squared=True)
        order = np.argsort(dist, axis=1)  # no tie-break: the minimum
        match = (y[order] == yv[rows, None]).astype(np.float64)
        s = np.empty_like(match)
        s[:, -1] = match[:, -1] / max(k, n)
        s[:, :-1] = (
            s[:, -1:] + np.cumsum(((match[:, :-1] - match[:, 1:]) * weights)[:, ::-1], 1)[:, ::-1]
        )
        for i in range(len(order)):
            total[order[i]] += s[i]
    return total / len(yv)


def stable_knn(d):
    """The former implementation (the stable sort): the reference for the tie-breaks."""
    from sklearn.metrics.pairwise import euclidean_distances

    X, y, Xv, yv, k = d["X"], d["y"], d["Xv"], d["yv"], 5
    n = len(y)
    total = np.zeros(n)
    for rows in _chunks(len(yv), max(1, (1 << 21) // n)):
        order = np.argsort(euclidean_distances(Xv[rows], X, squared=True), axis=1, kind="stable")
        match = (y[order] == yv[rows, None]).astype(np.float64)
        diff = (match[:, :-1] - match[:, 1:]) / np.maximum(k, np.arange(1, n, dtype=float))
        s = np.empty_like(match)
        s[:, -1] = match[:, -1] / max(k, n)
        s[:, :-1] = s[:, -1:] + np.cumsum(diff[:, ::-1], axis=1)[:, ::-1]
        values = np.empty_like(s)
        np.put_along_axis(values, order, s, axis=1)
        total += values.sum(axis=0)
    return total / len(yv)


def _trimmed_min(VT):
    """The contiguous-partition minimum of the 10–90 % trimmed mean of every row of ``VT``."""
    n = VT.shape[1]
    i, j = int(np.floor(0.1 * (n - 1))), int(np.floor(0.9 * (n - 1)))
    gi, gj = 0.1 * (n - 1) - i, 0.9 * (n - 1) - j
    VT.partition([i, i + 1, j, min(j + 1, n - 1)], axis=1)
    lo = VT[:, i] + (VT[:, i + 1] - VT[:, i]) * gi
    hi = VT[:, j] + (VT[:, j + 1] - VT[:, j]) * gj
    inside = (VT >= lo[:, None]) & (VT <= hi[:, None])
    return np.where(inside, VT, 0.0).sum(axis=1) / inside.sum(axis=1)


# -- the package's computations ----------------------------------------------------------
def _active_blocks(spec):
    """The pair-value blocks ``fi_active_scores`` hands to its aggregation (pool-row-major)."""
    n_lab, n_pool = spec["n_lab"], spec["n_pool"]
    block = int(max(1, CHUNK_MB * 2**20 // (8 * n_lab)))
    for s in range(0, n_pool, block):
        rng = np.random.default_rng(s)
        yield (rng.normal(size=(min(block, n_pool - s), n_lab)) ** 2).astype(np.float64)


def _timed_blocks(spec, fn):
    """Total time of ``fn`` over the blocks (the blocks' generation is not timed)."""
    seconds, parts = 0.0, []
    for V in _active_blocks(spec):
        start = time.perf_counter()
        parts.append(fn(V))
        seconds += time.perf_counter() - start
    return seconds, np.concatenate(parts)


def run_task(kind: str, task: str, d: dict, repeats: int):
    """Run one computation; return ``(seconds, result)`` (best of ``repeats``)."""
    from threadpoolctl import threadpool_limits

    from skinfluence import influence_scores

    def best(fn):
        out, t_best = None, np.inf
        for _ in range(repeats):
            start = time.perf_counter()
            out = fn()
            t_best = min(t_best, time.perf_counter() - start)
        return t_best, out

    if kind == "dask":
        return _run_dask(task, d, repeats)
    with threadpool_limits(1):
        if kind == "active":
            return _run_active(task, d)
        if task == "fit":
            from sklearn.base import clone

            return best(lambda: (clone(d["model"]).fit(d["X"], d["y"]), None)[1])
        if kind == "knn":
            from skinfluence.valuation import knn_shapley

            if task == "knn":
                return best(lambda: knn_shapley(d["X"], d["y"], d["Xv"], d["yv"], 5))
            if task == "knn_stable":
                return best(lambda: stable_knn(d))
            return best(lambda: min_knn(d))
        if kind == "sparse" and task in ("self", "fi", "self_min", "fi_min"):
            return _run_sparse_rows(task, d)
        minima = {
            "dense": {"if_min": min_binary_if, "fi_min": min_binary_fi},
            "sparse": {"if_min": min_sparse_if},
            "multinomial": {"if_min": min_multi_if, "fi_min": min_multi_fi},
        }[kind]
        if task == "self_min":
            return best(lambda: min_binary_fi(d, want="self"))
        if task in minima:
            return best(lambda: minima[task](d))
        return best(
            lambda: influence_scores(d["model"], d["X"], d["y"], d["Xv"], d["yv"], method=task)
        )


def _run_sparse_rows(task, d):
    """Per-row solves on the first ``rows`` rows: (set-up, rows' time) and the scores."""
    from skinfluence.adapters import make_adapter
    from skinfluence.curvature import make_solver
    from skinfluence.influence import fi_scores, self_scores

    want = task.replace("_min", "")
    if task.endswith("_min"):
        start = time.perf_counter()
        setup = min_sparse_setup(d, want)
        setup_seconds = time.perf_counter() - start
        start = time.perf_counter()
        out = min_sparse_rows(d, want, setup)
        return (setup_seconds, time.perf_counter() - start), out
    k = d["rows"]
    start = time.perf_counter()
    adapter = make_adapter(d["model"], d["X"], d["y"])
    solver = make_solver("auto").fit(adapter)
    if solver.choice_ == "exact":  # the inverse is formed once, by the first block solve
        solver.solve_outputs(*adapter.output_features(d["X"][:1]))
    y_enc = adapter.encode_y(d["y"])
    yv_enc = adapter.encode_y(d["yv"])
    setup = time.perf_counter() - start
    start = time.perf_counter()
    if want == "self":
        out = self_scores(adapter, solver, d["X"][:k], y_enc[:k], None, None)
    else:
        out = fi_scores(adapter, solver, d["X"][:k], y_enc[:k], d["Xv"], yv_enc)
    return (setup, time.perf_counter() - start), out


def _run_active(task, d):
    from skinfluence.influence import fi_active_scores
    from skinfluence.influence._active import trimmed_mean_rows

    spec = d["spec"]
    if task == "trimmed_mean":
        return _timed_blocks(spec, trimmed_mean_rows)
    if task == "trimmed_mean_min":
        return _timed_blocks(spec, _trimmed_min)
    if task == "mean":
        return _timed_blocks(spec, lambda V: V.mean(axis=1))
    if task == "trimmed_mean_axis0":  # the former layout: np.quantile along axis 0

        def axis0(V):
            values = V.T  # (n_lab, block), the labeled rows along the strided axis
            lo, hi = np.quantile(values, [0.1, 0.9], axis=0)
            inside = (values >= lo) & (values <= hi)
            return np.where(inside, values, 0.0).sum(axis=0) / inside.sum(axis=0)

        return _timed_blocks(spec, axis0)
    if "model" not in d:
        return None, None
    from skinfluence.adapters import make_adapter
    from skinfluence.curvature import make_solver

    adapter = make_adapter(d["model"], d["X"], d["y"])
    solver = make_solver("auto").fit(adapter)
    agg = "mean" if task == "fi_active_mean" else "trimmed_mean"
    start = time.perf_counter()
    out = fi_active_scores(
        adapter, solver, d["X"], adapter.encode_y(d["y"]), d["Xu"], aggregation=agg
    )
    return time.perf_counter() - start, out


def _run_dask(task, d, repeats):
    from sklearn.base import clone

    from skinfluence import influence_scores

    spec, w = d["spec"], d["w"]
    method = task.split("_")[1] if "_" in task else None
    if task == "fit" or task.startswith("inmemory"):
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            X = _dask_rows(spec, w).compute(scheduler="synchronous")
            y = np.concatenate(
                [_dask_labels(X[s : s + spec["chunk"]], w, i) for i, s in _starts(spec)]
            )
            _reset_peak()
            start = time.perf_counter()
            if task == "fit":
                clone(d["model"]).fit(X, y)
                return time.perf_counter() - start, None
            out = influence_scores(d["model"], X, y, d["Xv"], d["yv"], method=method)
            return time.perf_counter() - start, out
    import dask
    import dask.array as da
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as cluster:
        with Client(cluster):
            X = _dask_rows(spec, w).persist()
            y = da.concatenate(
                [
                    da.from_delayed(
                        dask.delayed(_dask_labels)(X.blocks[i], w, i),
                        shape=(X.chunks[0][i],),
                        dtype=np.int64,
                    )
                    for i, _ in _starts(spec)
                ]
            ).persist()
            dask.distributed.wait([X, y])
            # a warm cluster: the workers import the package once, before the timing
            rows = spec["chunk"]
            influence_scores(d["model"], X[:rows], y[:rows], d["Xv"], d["yv"], method=method)
            _reset_peak()
            start = time.perf_counter()
            out = influence_scores(d["model"], X, y, d["Xv"], d["yv"], method=method)
            return time.perf_counter() - start, out


# -- the child process ------------------------------------------------------------------------
def _status() -> dict:
    out = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(("VmRSS", "VmHWM")):
                key, value = line.split(":")
                out[key] = int(value.split()[0]) / 1024.0
    return out


def _reset_peak() -> None:
    global _BASELINE
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    _BASELINE = _status()["VmRSS"]


_BASELINE = 0.0


def child(folder: Path, kind: str, task: str, repeats: int, out_path: Path, rows: int) -> None:
    d = _load(folder)
    d["rows"] = rows
    _reset_peak()
    seconds, result = run_task(kind, task, d, repeats)
    peak = _status()["VmHWM"] - _BASELINE
    if result is not None:
        np.save(out_path, np.asarray(result))
    print(json.dumps({"seconds": seconds, "extra_mb": peak}))


# -- the parent -------------------------------------------------------------------------------
def _spawn(args: list[str], timeout: float) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, __file__, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=str(HERE.parent),
    )
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1:] or ["failed"]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _rel(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def run_case(name: str, case: dict, work: Path, args) -> dict:
    folder = work / name
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    res = _spawn(["--prepare", name, str(folder)] + (["--quick"] if args.quick else []), 3600)
    if "error" in res:
        return {"case": case, "error": res["error"]}
    out = {"case": case, "prepare_seconds": time.perf_counter() - t0, "tasks": {}}
    size = case.get("n", 0) * max(case.get("p", 1), 1) if case["kind"] != "knn" else case["n"]
    repeats = args.repeats if size <= 2_000_000 else 1  # best of 3 for the small cases
    for task, minimum in TASKS[case["kind"]]:
        for t in (task, minimum):
            if t is None or t in out["tasks"]:
                continue
            npy = folder / f"{t}.npy"
            r = _spawn(
                [
                    "--child",
                    str(folder),
                    case["kind"],
                    t,
                    str(repeats),
                    str(npy),
                    str(args.sparse_rows),
                ],
                args.timeout,
            )
            if npy.exists():
                r["result"] = str(npy)
            out["tasks"][t] = r
            print(f"  {name:14s} {t:20s} {r}", flush=True)
    # agreement with the minima (and the dask case with the in-memory path)
    pairs = [(t, m) for t, m in TASKS[case["kind"]] if m]
    if case["kind"] == "knn" and case["ties"]:  # the minimum breaks ties arbitrarily
        pairs = [("knn", "knn_stable")]
    if case["kind"] == "dask":
        pairs = [(f"dask_{m}", f"inmemory_{m}") for m in ("if", "fi", "self")]
    for t, m in pairs:
        a, b = out["tasks"].get(t, {}), out["tasks"].get(m, {})
        if "result" in a and "result" in b:
            err = _rel(np.load(a["result"]), np.load(b["result"]))
            out["tasks"][t]["rel_err"] = err
            limit = 1e-10 if case["kind"] == "dask" else 1e-8
            assert err <= limit, f"{name}: {t} differs from {m} by {err:.2e}"
    return out


def _seconds(entry, n=None, rows=None):
    """Wall time; per-row timings (set-up, rows) extrapolated to ``n`` rows."""
    s = entry.get("seconds")
    if isinstance(s, list):
        setup, part = s
        return setup + part * n / rows
    return s


def tables(results: dict, rows: int) -> str:
    out = []
    fmt = "{:.2f}".format

    def ratio(a, b):
        return fmt(a / b) if a is not None and b else "—"

    lines = []
    for res in results.values():
        case = res["case"]
        if case["kind"] not in ("dense", "sparse", "multinomial") or "tasks" not in res:
            continue
        tasks = res["tasks"]
        fit = _seconds(tasks.get("fit", {}))
        for t, m in TASKS[case["kind"]]:
            if t == "fit":
                continue
            mine = _seconds(tasks.get(t, {}), case["n"], rows)
            base = _seconds(tasks.get(m, {}), case["n"], rows) if m else None
            mem, mem_min = tasks.get(t, {}).get("extra_mb"), tasks.get(m, {}).get("extra_mb")
            shape = f"{case['n']:,} × {case['p']:,}"
            if case["kind"] == "multinomial":
                shape += f" × {case['classes']}"
            lines.append(
                [
                    case["kind"],
                    shape,
                    t + (" *" if isinstance(tasks.get(t, {}).get("seconds"), list) else ""),
                    ratio(mine, fit),
                    ratio(mine, base),
                    f"{mem:.0f}" if mem is not None else "—",
                    f"{mem_min:.0f}" if mem_min is not None else "—",
                    ratio(mem, mem_min) if mem and mem_min and mem_min > 1 else "—",
                ]
            )
    from _common import format_table

    out.append(
        format_table(
            ["data", "n × p", "method", "÷ fit", "÷ minimum", "extra MiB", "minimum MiB", "÷"],
            lines,
            "Influence of linear models: time as a ratio to the fit and to the numpy minimum",
        )
    )
    lines = []
    for res in results.values():
        case = res["case"]
        if case["kind"] == "knn" and "tasks" in res:
            a, b = res["tasks"].get("knn", {}), res["tasks"].get("knn_min", {})
            c = res["tasks"].get("knn_stable", {})
            lines.append(
                [
                    f"{case['n']:,}" + (" (ties)" if case["ties"] else ""),
                    ratio(a.get("seconds"), b.get("seconds")),
                    ratio(c.get("seconds"), b.get("seconds")),
                    f"{a.get('extra_mb', 0):.0f}",
                    f"{b.get('extra_mb', 0):.0f}",
                ]
            )
    out.append(
        format_table(
            [
                "n (200 validation rows)",
                "÷ minimum",
                "former (stable sort) ÷ minimum",
                "extra MiB",
                "minimum MiB",
            ],
            lines,
            "Exact KNN-Shapley",
        )
    )
    lines = []
    for res in results.values():
        case = res["case"]
        if case["kind"] == "active" and "tasks" in res:
            t = res["tasks"]
            tm = t.get("trimmed_mean", {}).get("seconds")
            lines.append(
                [
                    f"{case['n_lab']:,} × {case['n_pool']:,}",
                    ratio(tm, t.get("trimmed_mean_min", {}).get("seconds")),
                    ratio(tm, t.get("mean", {}).get("seconds")),
                    ratio(t.get("trimmed_mean_axis0", {}).get("seconds"), tm),
                    ratio(
                        t.get("fi_active", {}).get("seconds"),
                        t.get("fi_active_mean", {}).get("seconds"),
                    ),
                ]
            )
    out.append(
        format_table(
            [
                "labeled × pool",
                "trimmed ÷ minimum",
                "trimmed ÷ mean",
                "former (axis 0) ÷ trimmed",
                "fi_active trimmed ÷ mean",
            ],
            lines,
            "FI^active aggregation",
        )
    )
    lines = []
    for res in results.values():
        case = res["case"]
        if case["kind"] == "dask" and "tasks" in res:
            t = res["tasks"]
            fit = t.get("fit", {}).get("seconds")
            for m in ("if", "fi", "self"):
                a, b = t.get(f"dask_{m}", {}), t.get(f"inmemory_{m}", {})
                lines.append(
                    [
                        f"{case['n']:,} × {case['p']}",
                        m,
                        ratio(b.get("seconds"), fit),
                        ratio(a.get("seconds"), fit),
                        ratio(a.get("seconds"), b.get("seconds")),
                        f"{b.get('extra_mb', 0):.0f}",
                        f"{a.get('extra_mb', 0):.0f}",
                        f"{a.get('rel_err', float('nan')):.1e}",
                    ]
                )
    out.append(
        format_table(
            [
                "n × p",
                "method",
                "in-memory ÷ fit",
                "dask ÷ fit",
                "dask ÷ in-memory",
                "in-memory MiB",
                "dask client MiB",
                "max rel. diff",
            ],
            lines,
            "Dask (2 worker processes, 1 thread each) against in-memory (1 thread)",
        )
    )
    return "\n\n".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--cases", default=None, help="comma-separated case names")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sparse-rows", type=int, default=None)
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--prepare", nargs=2, metavar=("CASE", "FOLDER"))
    parser.add_argument("--child", nargs=6)
    args = parser.parse_args()
    if args.prepare:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            prepare(_cases(args.quick)[args.prepare[0]], Path(args.prepare[1]))
        print(json.dumps({"ok": True}))
        return
    if args.child:
        folder, kind, task, repeats, out_path, rows = args.child
        child(Path(folder), kind, task, int(repeats), Path(out_path), int(rows))
        return
    if args.sparse_rows is None:
        args.sparse_rows = 200 if args.quick else 40
    cases = _cases(args.quick)
    if args.cases:
        cases = {k: v for k, v in cases.items() if k in args.cases.split(",")}
    from _common import environment, write_json

    results = {}
    name_out = "bench_scaling_quick" if args.quick else "bench_scaling"
    with tempfile.TemporaryDirectory(prefix="bench_scaling_") as work:
        for name, case in cases.items():
            print(f"[{name}] {case}", flush=True)
            results[name] = run_case(name, case, Path(work), args)
            write_json(name_out, {"environment": environment(), "results": results})
    text = tables(results, args.sparse_rows)
    print(text)
    write_json(name_out, {"environment": environment(), "results": results, "tables": text})


if __name__ == "__main__":
    main()

"""Brute-force references in torch float64, written from the definitions.

The parameter layout is the linear adapter's: ``θ = vec([W | b])`` row-major.
Everything here is deliberately naive (explicit Jacobians, explicit pinv) so that it
can serve as an oracle for the closed forms.
"""

from __future__ import annotations

import numpy as np
import torch


class TorchLinear:
    """A linear model's loss, log-probabilities and penalty as torch functions."""

    def __init__(self, link: str, n_rows_w: int, p: int, intercept: bool, lam, lam_b):
        self.link, self.k, self.p, self.intercept = link, n_rows_w, p, intercept
        self.q = p + int(intercept)
        pen = np.full((n_rows_w, self.q), lam)
        if intercept:
            pen[:, -1] = lam_b
        self.pen = torch.tensor(pen.ravel())

    def z(self, theta, x):
        Wt = theta.reshape(self.k, self.q)
        xt = torch.cat([x, torch.ones(1, dtype=x.dtype)]) if self.intercept else x
        return Wt @ xt

    def loss(self, theta, x, y):
        z = self.z(theta, x)
        if self.link == "logistic":
            return torch.nn.functional.softplus(z[0]) - y * z[0]
        if self.link == "multinomial":
            return torch.logsumexp(z, 0) - z[int(y)]
        return 0.5 * (z[0] - y) ** 2

    def logp(self, theta, x):
        """Log-probabilities of every class (classifiers) or the mean (regressors)."""
        z = self.z(theta, x)
        if self.link == "logistic":
            return torch.stack(
                [-torch.nn.functional.softplus(z[0]), -torch.nn.functional.softplus(-z[0])]
            )
        if self.link == "multinomial":
            return torch.log_softmax(z, 0)
        return z

    def objective(self, theta, X, Y):
        losses = torch.stack([self.loss(theta, x, y) for x, y in zip(X, Y)])
        return losses.mean() + 0.5 * (self.pen * theta**2).sum()


def theta_of(adapter) -> torch.Tensor:
    Wt = np.hstack([adapter.W, adapter.b[:, None]]) if adapter.fit_intercept else adapter.W
    return torch.tensor(Wt.ravel())


def torch_model_of(adapter) -> TorchLinear:
    return TorchLinear(
        adapter.link,
        adapter.n_raw_outputs,
        adapter.n_features,
        adapter.fit_intercept,
        adapter.lam,
        adapter.lam_b,
    )


def brute_force(adapter, X, y_enc, X_val, y_val_enc, scale: float, sigma: float | None = None):
    """Per-row gradients, Hessian, FI and IF straight from the definitions."""
    tm = torch_model_of(adapter)
    theta = theta_of(adapter)
    X_t, y_t = torch.tensor(np.asarray(X)), torch.tensor(np.asarray(y_enc, dtype=float))
    Xv, yv = torch.tensor(np.asarray(X_val)), torch.tensor(np.asarray(y_val_enc, dtype=float))
    H = torch.autograd.functional.hessian(lambda t: tm.objective(t, X_t, y_t), theta)
    Hinv = torch.linalg.pinv(H)
    g_val = torch.stack([torch.func.grad(tm.loss)(theta, x, yy) for x, yy in zip(Xv, yv)]).mean(0)
    n = len(X_t)
    grads, fi, mixed = [], [], []
    for x, yy in zip(X_t, y_t):
        g = torch.func.grad(tm.loss)(theta, x, yy)
        grads.append(g)
        # M = ∂x ∂θ L: (m, p)
        M = torch.autograd.functional.jacobian(
            lambda xx: torch.func.grad(tm.loss)(theta, xx, yy), x
        )
        mixed.append(M)
        J = scale * Hinv @ M  # ∂ωθ̂
        v = g_val @ J
        jt = torch.autograd.functional.jacobian(lambda t: tm.logp(t, x), theta)  # (R, m)
        jx = torch.autograd.functional.jacobian(lambda xx: tm.logp(theta, xx), x)  # (R, p)
        A = jt @ J + jx
        if tm.link == "squared":
            G = A.T @ A / sigma**2
        else:
            P = torch.exp(tm.logp(theta, x))
            G = (A.T * P) @ A
        fi.append(v @ torch.linalg.pinv(G, rtol=1e-10, hermitian=True) @ v)
    grads = torch.stack(grads)
    if_scores = -(grads @ (Hinv @ g_val)) / n
    return {
        "H": H.numpy(),
        "grads": grads.numpy(),
        "mixed": torch.stack(mixed).numpy(),
        "fi": torch.stack(fi).numpy(),
        "if": if_scores.numpy(),
        "g_val": g_val.numpy(),
        "tm": tm,
        "theta": theta,
    }

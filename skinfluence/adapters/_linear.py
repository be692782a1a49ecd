"""Closed-form derivatives for scikit-learn linear models.

Parameters are laid out as ``θ = vec(W̃)`` (row-major) with ``W̃ = [W | b]`` of shape
``(K', q)``: ``K'`` weight rows (1 for binary classification and regression, ``K``
for multinomial logistic regression) and ``q = p + 1`` columns when the model fits
an intercept, ``q = p`` otherwise. With ``x̃ = [x, 1]`` the linear predictor is
``z = W̃ x̃`` and every per-row gradient is an outer product ``∂θ L = r ⊗ x̃`` with
``r = ∂L/∂z``. With ``S = ∂²L/∂z²`` (``K' × K'``) the closed forms are (``r``, ``S``
and the metric's ``w`` and ``D`` from the model's link, :mod:`._links`:
``"logistic"``, ``"multinomial"`` or ``"squared"``)

* Hessian ``H = mean_i S_i ⊗ x̃_i x̃_iᵀ + diag(λ)``;
* mixed product ``u·M = ∂x(r · U x̃) = (S U x̃)ᵀ W + rᵀ U_W`` for a direction
  ``u = vec(U)``, ``U = [U_W | U_b]``, and ``M c = vec((S W c) x̃ᵀ + r [c, 0]ᵀ)`` for an
  input direction ``c``;
* metric factors through the outputs: ``∂θ z_k = e_k ⊗ x̃``, ``∂x z_k = W_k`` and
  ``D[c, k] = ∂ log P(c)/∂z_k``.

Each model's own objective is rewritten in mean-loss form
``mean_i L_i + ½ Σ_j λ_j θ_j²`` so that ``H`` is the Hessian of what the model
minimised (see :func:`_penalty`). Cost: ``O(n K'² q²)`` for ``H``, ``O(n K'² q)``
per direction for the other products.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.utils.class_weight import compute_class_weight

from ..exceptions import UnsupportedModelError
from ._base import BaseAdapter, check_row_weights
from ._links import LinkMixin, loss_gradient, metric_factors, output_curvature

__all__ = ["LinearAdapter", "LINEAR_MODELS"]

LINEAR_MODELS = (
    "LogisticRegression",
    "SGDClassifier",
    "LinearRegression",
    "Ridge",
    "SGDRegressor",
)


def _dense_rows(X) -> np.ndarray:
    if sp.issparse(X):
        return np.asarray(X.toarray(), dtype=np.float64)
    return np.asarray(X, dtype=np.float64)


def _sgd_penalty(est, n: int, weight_sum: float) -> float:
    """λ of SGDClassifier / SGDRegressor: they minimise ``(1/n) Σ s_i L_i + α R(w)``.

    Divided by ``Σ s / n`` to the weighted mean-loss form: ``λ = α n / Σ s``.
    """
    penalty = est.penalty
    if penalty is None:
        return 0.0
    if penalty == "l2" or (penalty == "elasticnet" and est.l1_ratio == 0):
        factor = 1.0 if penalty == "l2" else 1.0 - est.l1_ratio
        return float(est.alpha) * factor * n / weight_sum
    raise UnsupportedModelError(
        f"{type(est).__name__}(penalty={penalty!r}) has an L1 part, whose Hessian "
        "does not exist; use penalty='l2' or penalty=None."
    )


def _logistic_penalty(est, n: float) -> tuple[float, float]:
    """λ for the weights and the intercept of LogisticRegression.

    scikit-learn minimises ``C Σ s_i loss_i + ½‖w‖²``, i.e. ``C n (mean loss +
    ‖w‖²/(2Cn))`` with ``n = Σ s_i`` (the row count without weights): in mean-loss
    form ``λ = 1/(C n)``. liblinear also penalises the intercept, as a
    weight ``w_b`` on a constant feature ``intercept_scaling``, so ``b = s w_b`` and
    ``λ_b = λ / s²``.
    """
    penalty = getattr(est, "penalty", "deprecated")
    l1_ratio = getattr(est, "l1_ratio", 0.0)
    if penalty == "deprecated":
        if l1_ratio not in (0, 0.0, None):
            raise UnsupportedModelError(
                f"LogisticRegression(l1_ratio={l1_ratio}) has an L1 part, whose "
                "Hessian does not exist; use l1_ratio=0 (the L2 penalty)."
            )
        penalty = None if np.isinf(est.C) else "l2"
    elif penalty in ("l1", "elasticnet"):
        raise UnsupportedModelError(
            f"LogisticRegression(penalty={penalty!r}) has an L1 part, whose Hessian "
            "does not exist; use l1_ratio=0 (the L2 penalty)."
        )
    if penalty is None or penalty == "none":
        return 0.0, 0.0
    lam = 1.0 / (float(est.C) * n)
    if est.solver == "liblinear" and est.fit_intercept:
        return lam, lam / float(est.intercept_scaling) ** 2
    return lam, 0.0


def _penalty(est, n: int, weight_sum: float) -> tuple[float, float]:
    """(λ_weights, λ_intercept) of ``est`` in mean-loss form.

    ``n`` training rows of total weight ``weight_sum`` (``= n`` unweighted).
    """
    name = type(est).__name__
    if getattr(est, "positive", False):
        raise UnsupportedModelError(
            f"{name}(positive=True) is a constrained fit without a Hessian at the "
            "boundary; use positive=False."
        )
    if name == "LogisticRegression":
        return _logistic_penalty(est, weight_sum)
    if name in ("SGDClassifier", "SGDRegressor"):
        return _sgd_penalty(est, n, weight_sum), 0.0
    if name == "Ridge":
        # Σ s r² + α‖w‖² = 2 Σs (weighted mean ½ r² + α/(2 Σs) ‖w‖²)
        alpha = np.asarray(est.alpha, dtype=float)
        if alpha.size != 1:
            raise UnsupportedModelError("Ridge with one alpha per target is not supported.")
        return float(alpha) / weight_sum, 0.0
    return 0.0, 0.0  # LinearRegression


def _row_weights(est, y, sample_weight) -> np.ndarray | None:
    """The weight of each training row in ``est``'s objective: ``sample_weight`` times
    the weights ``class_weight`` implies (LogisticRegression, as scikit-learn computes
    them: ``"balanced"`` from the weighted class counts)."""
    class_weight = getattr(est, "class_weight", None)
    if class_weight is None:
        return sample_weight
    name = type(est).__name__
    if name != "LogisticRegression":
        raise UnsupportedModelError(
            f"{name}(class_weight=...) is not supported (its class weights are computed "
            "differently from LogisticRegression's); pass the weights as sample_weight "
            "instead, or use class_weight=None."
        )
    classes = np.asarray(est.classes_)
    per_class = compute_class_weight(
        class_weight, classes=classes, y=np.asarray(y), sample_weight=sample_weight
    )
    implied = per_class[np.searchsorted(classes, np.asarray(y))]
    return implied if sample_weight is None else implied * sample_weight


def _link(est) -> str:
    name = type(est).__name__
    if name == "LogisticRegression":
        if est.coef_.shape[0] > 1:
            if est.solver == "liblinear":
                raise UnsupportedModelError(
                    "LogisticRegression(solver='liblinear') fits one-vs-rest models "
                    "for more than two classes; use the default solver (multinomial)."
                )
            return "multinomial"
        return "logistic"
    if name == "SGDClassifier":
        if est.loss != "log_loss":
            raise UnsupportedModelError(
                f"SGDClassifier(loss={est.loss!r}) is not a probabilistic model; use "
                "loss='log_loss'."
            )
        if est.coef_.shape[0] > 1:
            raise UnsupportedModelError(
                "SGDClassifier with more than two classes fits one-vs-rest models, "
                "not a softmax; use LogisticRegression for multiclass influence."
            )
        return "logistic"
    if name == "SGDRegressor" and est.loss != "squared_error":
        raise UnsupportedModelError(
            f"SGDRegressor(loss={est.loss!r}) is not supported; use loss='squared_error'."
        )
    if np.ndim(est.coef_) > 1 and np.shape(est.coef_)[0] > 1:
        raise UnsupportedModelError(
            f"{name} with several targets is not supported; fit one target at a time."
        )
    return "squared"


class LinearAdapter(LinkMixin, BaseAdapter):
    """Closed-form influence derivatives of a fitted scikit-learn linear model.

    Parameters
    ----------
    estimator : fitted LogisticRegression, SGDClassifier, LinearRegression, Ridge or
        SGDRegressor
    X : {array-like, sparse matrix} of shape (n, p)
        The rows the estimator was fitted on.
    y : array-like of shape (n,)
        Their targets (user labels, not encoded).
    sample_weight : array-like of shape (n,), default=None
        The weights the estimator was fitted with (``fit(X, y, sample_weight)``);
        ``LogisticRegression(class_weight=...)`` adds the weights it implies.
    """

    capabilities = frozenset(
        {
            "gradients",
            "hvp",
            "hessian",
            "batch_hvp",
            "mixed",
            "metric",
            "input_grad",
            "link",
            "theta",
            "layers",
            "output_contributions",
            "linear_head",
        }
    )

    def __init__(self, estimator, X, y, sample_weight=None):
        if type(estimator).__name__ not in LINEAR_MODELS:
            raise UnsupportedModelError(
                f"{type(estimator).__name__} is not a supported linear model; "
                f"supported: {', '.join(LINEAR_MODELS)}."
            )
        self.estimator = estimator
        self.link = _link(estimator)
        self.n_train = X.shape[0]
        weights = check_row_weights(sample_weight, self.n_train)
        self.sample_weight = check_row_weights(_row_weights(estimator, y, weights), self.n_train)
        self.lam, self.lam_b = _penalty(estimator, self.n_train, self.weight_sum)
        coef = np.atleast_2d(np.asarray(estimator.coef_, dtype=np.float64))
        self.W = coef  # (K', p)
        self.fit_intercept = bool(getattr(estimator, "fit_intercept", True))
        intercept = np.atleast_1d(np.asarray(estimator.intercept_, dtype=np.float64))
        self.b = intercept if self.fit_intercept else np.zeros(coef.shape[0])
        self.n_raw_outputs, self.n_features = coef.shape
        self.q = self.n_features + int(self.fit_intercept)
        self.n_params = self.n_raw_outputs * self.q
        self.is_classifier = self.link != "squared"
        if self.is_classifier:
            self.classes_ = np.asarray(estimator.classes_)
            self.n_outputs = len(self.classes_)
        else:
            self.n_outputs = 1
        self.X = X
        self.y_enc = self.encode_y(y)
        if not self.is_classifier:
            resid = self._z(_dense_rows(X))[:, 0] - self.y_enc
            mean_sq = np.average(resid**2, weights=self.sample_weight)
            self.sigma = float(max(np.sqrt(mean_sq), 1e-12))

    # -- helpers -------------------------------------------------------------------
    def encode_y(self, y) -> np.ndarray:
        y = np.asarray(y)
        if not self.is_classifier:
            return y.astype(np.float64)
        idx = np.searchsorted(self.classes_, y)
        idx = np.clip(idx, 0, len(self.classes_) - 1)
        if not np.array_equal(self.classes_[idx], y):
            unknown = np.setdiff1d(y, self.classes_)
            raise ValueError(
                f"labels {unknown[:5].tolist()} were not seen when the model was "
                f"fitted (classes: {self.classes_.tolist()})."
            )
        return idx

    def _tilde(self, Xd: np.ndarray) -> np.ndarray:
        if not self.fit_intercept:
            return Xd
        Xt = np.empty((Xd.shape[0], Xd.shape[1] + 1))
        Xt[:, :-1] = Xd
        Xt[:, -1] = 1.0
        return Xt

    def _z(self, Xd: np.ndarray) -> np.ndarray:
        return Xd @ self.W.T + self.b

    def _curvature(self, Xd: np.ndarray, rows=slice(None), scale: float | None = None):
        """``S_i`` of the rows times their weight, over ``scale`` (default ``Σ s``)."""
        S = output_curvature(self.link, self._z(Xd))
        w = self.row_weights(rows)
        if w is not None:
            S = S * w[:, None, None]
        return S / (self.weight_sum if scale is None else scale)

    def _penalty_diag(self) -> np.ndarray:
        lam = np.full((self.n_raw_outputs, self.q), self.lam)
        if self.fit_intercept:
            lam[:, -1] = self.lam_b
        return lam.ravel()

    # -- curvature -----------------------------------------------------------------
    def hessian(self) -> np.ndarray:
        k, q = self.n_raw_outputs, self.q
        H = np.zeros((k, q, k, q))
        X = self.X
        S = self._curvature(_dense_rows(X))
        for a in range(k):
            for c in range(a, k):
                s = S[:, a, c]
                block = _weighted_gram(X, s, self.fit_intercept)
                H[a, :, c, :] = block
                if c != a:
                    H[c, :, a, :] = block.T
        H = H.reshape(k * q, k * q)
        H[np.diag_indices_from(H)] += self._penalty_diag()
        return H

    def hvp(self, V: np.ndarray) -> np.ndarray:
        V = np.asarray(V, dtype=np.float64)
        squeeze = V.ndim == 1
        V2 = V.reshape(self.n_raw_outputs, self.q, -1)  # (K', q, r)
        Xt = self._tilde(_dense_rows(self.X))
        S = self._curvature(Xt[:, : self.n_features])
        T = np.einsum("nq,kqr->nkr", Xt, V2)  # (n, K', r)
        ST = np.einsum("nkl,nlr->nkr", S, T)
        out = np.einsum("nq,nkr->kqr", Xt, ST)
        out = out.reshape(self.n_params, -1) + self._penalty_diag()[:, None] * V.reshape(
            self.n_params, -1
        )
        return out[:, 0] if squeeze else out

    def batch_hvp(self, V: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Return ``mean_{i ∈ rows} S_i ⊗ x̃_i x̃_iᵀ V + λ ⊙ V`` (a minibatch ``H V``).

        With weights each row counts ``n s_i / Σ s``, so that the minibatch mean is an
        unbiased estimate of the weighted Hessian's product for uniform rows.
        """
        V = np.asarray(V, dtype=np.float64)
        rows = np.asarray(rows, dtype=np.intp)
        V2 = V.reshape(self.n_raw_outputs, self.q, -1)
        Xt = self._tilde(_dense_rows(self.X[rows]))
        scale = max(len(rows), 1) * self.weight_sum / self.n_train
        S = self._curvature(Xt[:, : self.n_features], rows, scale)
        ST = np.einsum("nkl,nlr->nkr", S, np.einsum("nq,kqr->nkr", Xt, V2))
        out = np.einsum("nq,nkr->kqr", Xt, ST).reshape(self.n_params, -1)
        out += self._penalty_diag()[:, None] * V.reshape(self.n_params, -1)
        return out.reshape(V.shape)

    def output_contributions(self, X) -> np.ndarray:
        """Return ``mean_i |W̃[k, q] x̃_iq|`` per parameter (seed 004's "outputs")."""
        Xt = self._tilde(_dense_rows(X))
        W = np.hstack([self.W, self.b[:, None]]) if self.fit_intercept else self.W
        return (np.abs(W) * np.abs(Xt).mean(axis=0)[None, :]).ravel()

    # -- derivatives -----------------------------------------------------------------
    def loss_grad(self, X, y) -> np.ndarray:
        Xd = _dense_rows(X)
        r = loss_gradient(self.link, self._z(Xd), y)
        Xt = self._tilde(Xd)
        return (r[:, :, None] * Xt[:, None, :]).reshape(len(Xd), -1)

    def outputs(self, X) -> np.ndarray:
        return self._z(_dense_rows(X))

    def input_grad(self, X, y) -> np.ndarray:
        # ∂x L = rᵀ W with r = ∂L/∂z
        Xd = _dense_rows(X)
        return loss_gradient(self.link, self._z(Xd), y) @ self.W

    def mixed_product(self, X, y, U) -> np.ndarray:
        Xd = _dense_rows(X)
        Xt = self._tilde(Xd)
        z = self._z(Xd)
        r, S = loss_gradient(self.link, z, y), output_curvature(self.link, z)
        U = np.asarray(U, dtype=np.float64)
        k, p = self.n_raw_outputs, self.n_features
        if k == 1:  # one output: (S t) W + r U_W without the K' axes
            if U.ndim == 2:
                t = Xt @ U.T
            else:
                t = np.einsum("nq,nrq->nr", Xt, U)
            out = (S[:, 0, 0, None] * t)[:, :, None] * self.W[0]
            out += r[:, 0, None, None] * U[..., :p]
            return out
        if U.ndim == 2:  # shared directions (R, m)
            U4 = U.reshape(U.shape[0], k, self.q)
            t = np.einsum("nq,jkq->njk", Xt, U4)
            rU = np.einsum("nk,jkp->njp", r, U4[:, :, :p])
        else:  # per-row directions (n, R, m)
            U4 = U.reshape(U.shape[0], U.shape[1], k, self.q)
            t = np.einsum("nq,njkq->njk", Xt, U4)
            rU = np.einsum("nk,njkp->njp", r, U4[:, :, :, :p])
        St = np.einsum("nkl,njl->njk", S, t)
        return St @ self.W + rU

    def mixed_jvp(self, X, y, C) -> np.ndarray:
        # ∂x∂θL · c = vec((S W c) x̃ᵀ + r [c, 0]ᵀ)
        Xd = _dense_rows(X)
        Xt = self._tilde(Xd)
        z = self._z(Xd)
        r, S = loss_gradient(self.link, z, y), output_curvature(self.link, z)
        C = np.asarray(C, dtype=np.float64)
        n, R, p = C.shape
        SWc = np.einsum("nkl,nrl->nrk", S, C @ self.W.T)
        out = SWc[:, :, :, None] * Xt[:, None, None, :]  # (n, R, K', q)
        out[..., :p] += r[:, None, :, None] * C[:, :, None, :]
        return out.reshape(n, R, self.n_params)

    def metric_factors(self, X):
        Xd = _dense_rows(X)
        Xt = self._tilde(Xd)
        n, k = len(Xd), self.n_raw_outputs
        w, D = metric_factors(self.link, self._z(Xd), getattr(self, "sigma", None))
        # ∂θ z_k = e_k ⊗ x̃, ∂x z_k = W_k
        if k == 1:
            J_theta = Xt[:, None, :]
        else:
            J_theta = (np.eye(k)[None, :, :, None] * Xt[:, None, None, :]).reshape(n, k, -1)
        J_x = np.broadcast_to(self.W, (n, k, self.n_features))
        return w, D, J_theta, J_x

    # -- parameters, layers and the linear head (ip_ensemble, tracin, datainf,
    #    representer) ------------------------------------------------------------------
    def get_theta(self) -> np.ndarray:
        """Return a copy of the fitted parameters ``θ̂ = vec([W | b])`` (row-major), shape (m,)."""
        Wt = np.hstack([self.W, self.b[:, None]]) if self.fit_intercept else self.W
        return Wt.ravel().copy()

    def at_theta(self, theta) -> LinearAdapter:
        """Return a copy of this adapter evaluated at the parameters ``theta`` (m,).

        Same training rows, targets and penalty ``λ``; every derivative of the copy
        is taken at ``theta``. The Gaussian ``sigma`` of regressors stays the fitted
        model's. The adapter itself (and the estimator) is not changed.
        """
        import copy

        theta = np.asarray(theta, dtype=np.float64)
        if theta.shape != (self.n_params,):
            raise ValueError(f"theta must have shape ({self.n_params},), got {theta.shape}.")
        new = copy.copy(self)
        Wt = theta.reshape(self.n_raw_outputs, self.q)
        new.W = Wt[:, : self.n_features].copy()
        new.b = Wt[:, -1].copy() if self.fit_intercept else np.zeros(self.n_raw_outputs)
        return new

    def layer_blocks(self) -> list[tuple[str, np.ndarray]]:
        """The parameter blocks treated as layers (DataInf): one block, every parameter."""
        return [("linear", np.arange(self.n_params))]

    def linear_head(self, X, y=None):
        """The model as a linear head ``s = Θ ã`` over features ``ã`` (representer points).

        For a linear model ``ã = x̃ = [x, 1]`` (``[x]`` without intercept) and
        ``Θ = [W | b]``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n, p)
            Rows.
        y : ndarray of shape (n,), default=None
            Encoded targets; ``None`` skips ``R``.

        Returns
        -------
        A : ndarray of shape (n, d_a)
            Features ``ã`` the head sees.
        R : ndarray of shape (n, K') or None
            ``∂L/∂s`` per row.
        lam : ndarray of shape (d_a,)
            The L2 penalty ``λ`` of each column of ``Θ`` (mean-loss form).
        index : ndarray of shape (K', d_a)
            Position of ``Θ[k, j]`` in the flat ``θ``.
        """
        Xd = _dense_rows(X)
        R = None if y is None else loss_gradient(self.link, self._z(Xd), y)
        lam = np.full(self.q, self.lam)
        if self.fit_intercept:
            lam[-1] = self.lam_b
        return self._tilde(Xd), R, lam, np.arange(self.n_params).reshape(self.n_raw_outputs, self.q)


def _weighted_gram(X, s: np.ndarray, intercept: bool) -> np.ndarray:
    """``X̃ᵀ diag(s) X̃`` for dense or sparse ``X``, ``X̃ = [X, 1]`` if ``intercept``."""
    if sp.issparse(X):
        XtX = np.asarray((X.T @ sp.diags(s) @ X).toarray())
        Xs = np.asarray(X.T @ s).ravel()
    else:
        Xd = np.asarray(X, dtype=np.float64)
        XtX = (Xd * s[:, None]).T @ Xd
        Xs = Xd.T @ s
    if not intercept:
        return XtX
    p = XtX.shape[0]
    G = np.empty((p + 1, p + 1))
    G[:p, :p] = XtX
    G[:p, p] = G[p, :p] = Xs
    G[p, p] = s.sum()
    return G

"""Derivatives of fitted skorch nets, computed with :mod:`torch.func`.

Supported nets and the per-row loss ``L(y, x; θ)`` the adapter differentiates (the
criterion skorch's ``get_loss`` applies, evaluated in float64):

* ``NeuralNetClassifier`` with ``CrossEntropyLoss`` (the module returns logits
  ``f``): ``L = logsumexp(f) - f_y``.
* ``NeuralNetClassifier`` with ``NLLLoss``, skorch's default (the module returns
  probabilities ``P``; ``get_loss`` takes ``log(P + eps)``): the outputs are
  ``f = log(P + eps)`` and ``L = -f_y``. ``eps`` is the machine epsilon of the
  float64 computation, as ``get_loss`` would use on float64 predictions.
* ``NeuralNetBinaryClassifier`` with ``BCEWithLogitsLoss`` (one logit ``f``):
  ``L = log(1 + e^f) - y f``.
* ``NeuralNetRegressor`` with ``MSELoss`` (one mean ``f = μ``): ``L = ½(μ - y)²``,
  half of what ``MSELoss`` computes per row, as in the linear adapter.

The objective is ``R(θ) = mean_i L_i + ½ Σ_j λ_j θ_j²`` over the chosen parameters
``θ`` (``params``; the other parameters and the buffers are held fixed). The
optimizer's ``weight_decay`` (per parameter group) adds ``wd·θ`` to the gradient of
the mean criterion, i.e. the penalty ``½ wd ‖θ‖²``, so ``λ = wd`` for classifiers
and ``λ = wd/2`` for regressors (``MSELoss`` is twice ``mean L``). Computed:

* ``loss_grad``: ``vmap`` over rows of ``grad`` of ``L`` — ``O(b)`` backward passes.
* ``hvp``: ``H V = mean_i ∂²θ L_i V + λ ⊙ V`` by forward-over-reverse
  (``jvp`` of ``grad``), ``vmap``-ed over the columns of ``V``, over all training
  rows in chunks — about ``3 r`` passes over the training data for ``r`` columns.
  With ``gauss_newton=True`` the Hessian of ``L`` is replaced by ``Jᵀ Λ J``
  (``J = ∂θ f``, ``Λ = ∂²L/∂f²``; ``jvp`` then ``vjp``), which is positive
  semi-definite for any net.
* ``hessian``: the dense ``m × m`` matrix from ``hvp`` against blocks of identity
  columns — ``O(n m)`` row-tangent passes — or, with ``gauss_newton=True``, from the
  rows' output Jacobians (``jacrev``, ``K'`` backward passes per row) and one matrix
  product per chunk; only for ``m ≤ max_dense_params``.
* ``mixed_product``: ``∂x (u · ∂θ L(y, x; θ))`` as ``grad`` in ``x`` of the forward
  directional derivative ``jvp`` of ``L`` in ``θ`` along ``u``, ``vmap``-ed over rows
  and directions — one forward-and-backward pass per (row, direction), never the
  ``m × p`` mixed derivative.
* ``metric_factors``: ``jacrev`` of the outputs ``f`` in ``θ`` and ``x`` per row —
  ``K'`` backward passes per row; ``w`` and ``D`` from the link (:mod:`._links`).

Each criterion is a link of :mod:`._links` (``CrossEntropyLoss``: ``"multinomial"``,
``NLLLoss``: ``"log_probability"``, ``BCEWithLogitsLoss``: ``"logistic"``,
``MSELoss``: ``"squared"``). The class is assembled from one module per job, a
mixin per capability group beyond the derivatives:

* ``_torch_checks``: which nets and criteria are supported, the parameter selection
  and its layout in ``θ``, weight decay, eval mode;
* this module: the derivatives above, ``θ`` and the model at other parameters, the
  parameter groups and layer blocks;
* ``_torch_kfac``: the Kronecker factors ``A = mean ã ãᵀ`` and ``G = mean Jᵀ Λ J``
  (``J = ∂f/∂s``, ``s`` a layer's pre-activations) of every ``nn.Linear`` layer for
  the K-FAC and EK-FAC solvers, and each parameter's output contribution;
* ``_torch_head``: the last ``nn.Linear`` layer as a linear head over the
  penultimate features, with the linear closed forms of the link;
* ``_torch_tracin``: TracIn's checkpoints and the model at a saved state;
* ``_torch_dropout``: class probabilities under MC dropout.

Derivatives in ``x`` go through the whole module to its raw input, whatever
``params`` selects. All computations run in float64 on ``net.device`` with the
module in eval mode (its previous mode is restored afterwards); the net's own
parameters are never changed.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.exceptions import NotFittedError
from torch.func import functional_call, grad, jacrev, jvp, vjp, vmap

from ..utils import iter_chunks
from ._base import BaseAdapter
from ._links import LinkMixin, metric_factors
from ._torch_checks import (
    _check_criterion,
    _check_outputs,
    _device,
    _eval_mode,
    _flatten_params,
    _lookup,
    _select_params,
    _weight_decays,
)
from ._torch_dropout import MCDropoutMixin, mc_dropout_proba
from ._torch_head import LinearHeadMixin
from ._torch_kfac import KFACFactors, KFACLayer, KFACMixin
from ._torch_tracin import CheckpointsMixin

__all__ = ["KFACFactors", "KFACLayer", "TorchAdapter", "mc_dropout_proba"]

_EPS64 = float(torch.finfo(torch.float64).eps)


class TorchAdapter(
    CheckpointsMixin, KFACMixin, LinearHeadMixin, MCDropoutMixin, LinkMixin, BaseAdapter
):
    """Influence derivatives of a fitted skorch net, by torch.func in float64.

    Parameters
    ----------
    estimator : fitted skorch net
        ``NeuralNetClassifier`` (``NLLLoss`` on probability outputs or
        ``CrossEntropyLoss`` on logits), ``NeuralNetBinaryClassifier``
        (``BCEWithLogitsLoss``) or ``NeuralNetRegressor`` (``MSELoss``, one target),
        taking a single 2-D float array as input.
    X : array-like or sparse matrix of shape (n, p)
        The rows the net was fitted on (float32 is fine; it is converted).
    y : array-like of shape (n,)
        Their targets (user labels, not encoded).
    params : "all", "last" or list of str, default="all"
        Parameters influence is taken over: every trainable parameter, the weight
        and bias of the last ``nn.Linear`` in ``module_.modules()`` order, or the
        named parameters (names from ``module_.named_parameters()``). The others are
        held fixed.
    gauss_newton : bool, default=False
        Use the Gauss-Newton matrix ``mean_i J_iᵀ Λ_i J_i + diag(λ)`` (``J = ∂θ f``,
        ``Λ = ∂²L/∂f²``) in :meth:`hvp` and :meth:`hessian` instead of the
        Hessian. It is positive semi-definite for any net. For ``NLLLoss`` nets the
        outputs are log-probabilities, on which ``L`` is linear; ``Λ = diag(P)``
        (the Fisher form) is used there, which equals the Gauss-Newton matrix over
        the logits when the module ends in a softmax.

    Attributes
    ----------
    n_params, n_features, n_outputs, n_raw_outputs, is_classifier, n_train
        As in :class:`~skinfluence.adapters.BaseAdapter`.
    link : str
        The criterion's link in :mod:`._links`: ``"multinomial"``
        (``CrossEntropyLoss``), ``"log_probability"`` (``NLLLoss``), ``"logistic"``
        (``BCEWithLogitsLoss``) or ``"squared"`` (``MSELoss``).
    param_names : list of str
        The selected parameters; ``θ`` concatenates them flattened, in this order.
    lam : ndarray of shape (n_params,)
        The L2 penalty ``λ`` of every parameter (see Notes).
    classes_ : ndarray
        Class labels (classifiers), position = encoded label.
    sigma : float
        Regressors only: ``√(mean squared training residual)``, the Gaussian
        likelihood's standard deviation used by :meth:`metric_factors`.

    Notes
    -----
    Weight decay is read from ``net.optimizer_.param_groups`` (so per-parameter
    groups such as ``optimizer__param_groups=[("*.bias", {"weight_decay": 0})]``
    are honoured). SGD, Adam and the like add ``wd·θ`` to the gradient: an exact L2
    penalty. AdamW's decoupled decay has no objective; it is treated as the same L2
    penalty, which is only an approximation of where AdamW stops.

    Metric factors (see :meth:`metric_factors`): the outputs ``f`` are the logits
    (``CrossEntropyLoss``: ``D = I - 1Pᵀ``, ``K' = K``), the log-probabilities
    (``NLLLoss``: ``l_c = f_c`` so ``D = I``, ``K' = K``), the single logit
    (binary: ``D = [[-σ], [1 - σ]]``, ``K' = 1``) or the mean (regression:
    ``D = [[1]]``, ``w = 1/σ``).
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
            "kfac",
            "checkpoints",
            "mc_dropout",
        }
    )

    #: Largest number of parameters for which :meth:`hessian` builds a dense matrix.
    max_dense_params = 5000

    def __init__(self, estimator, X, y, *, params="all", gauss_newton: bool = False):
        net = estimator
        if not getattr(net, "initialized_", False) or not hasattr(net, "module_"):
            raise NotFittedError(
                f"This {type(net).__name__} is not initialized yet; call fit (or "
                "initialize and load_params) before computing influence."
            )
        self.estimator = net
        if getattr(net, "train_split", None) is not None:
            warnings.warn(
                f"{type(net).__name__}(train_split=...) holds out part of the rows it is "
                "fitted on as its own validation split, so the net never trained on them; "
                "influence assumes it trained on every row of X. Fit it with "
                "train_split=None.",
                UserWarning,
                stacklevel=3,
            )
        self.link = _check_criterion(net)
        self.gauss_newton = bool(gauss_newton)
        module = net.module_
        self.module = module
        self.device = _device(net)

        # parameters: the selected ones flattened into θ, the rest held fixed
        self.param_names = _select_params(module, params)
        self._layout, self._theta, self._fixed = _flatten_params(
            module, self.param_names, self.device
        )
        self.n_params = self._layout[-1][2]

        # the penalty λ in mean-loss form
        wds, self.decoupled_decay = _weight_decays(net, module, self.param_names)
        scale = 0.5 if self.link == "squared" else 1.0
        lam = np.concatenate(
            [np.full(stop - begin, scale * wds[name]) for name, begin, stop, _ in self._layout]
        )
        self.lam = lam
        self._lam = torch.as_tensor(lam, device=self.device)

        # training rows
        self._X = self._rows(X)
        self.n_train, self.n_features = self._X.shape
        with _eval_mode(module), torch.no_grad():
            n_out = self._raw(self._theta, self._X[:1]).shape[1]
        self.n_raw_outputs = n_out  # K': number of module outputs
        classes, self.n_outputs = _check_outputs(net, self.link, n_out)
        self.is_classifier = classes is not None
        if self.is_classifier:
            self.classes_ = classes
        self.y_enc = self.encode_y(y)
        if len(self.y_enc) != self.n_train:
            raise ValueError(f"X has {self.n_train} rows but y has {len(self.y_enc)} entries.")
        self._T = self._targets(self.y_enc)
        if self.link == "squared":
            sq = 0.0
            with _eval_mode(module), torch.no_grad():
                for rows in iter_chunks(self.n_train, self.chunk_size()):
                    mu = self._forward(self._theta, self._X[rows])[:, 0]
                    sq += float(((mu - self._T[rows]) ** 2).sum())
            self.sigma = float(max(np.sqrt(sq / self.n_train), 1e-12))

    # -- helpers ---------------------------------------------------------------------
    def _rows(self, X) -> torch.Tensor:
        """``X`` as a float64 (rows, p) tensor on the net's device."""
        if isinstance(X, torch.Tensor):
            t = X.detach().to(self.device, torch.float64)
        else:
            if sp.issparse(X):
                X = X.toarray()
            t = torch.as_tensor(np.asarray(X, dtype=np.float64), device=self.device)
        if t.ndim != 2:
            raise ValueError(f"X must be 2-D (rows, features), got shape {tuple(t.shape)}.")
        return t

    def _targets(self, y_enc) -> torch.Tensor:
        """Encoded targets as the tensors the losses take (one-hot for softmax)."""
        y_enc = np.asarray(y_enc)
        if self.link in ("multinomial", "log_probability"):
            onehot = np.zeros((len(y_enc), self.n_outputs))
            onehot[np.arange(len(y_enc)), y_enc.astype(np.intp)] = 1.0
            return torch.as_tensor(onehot, device=self.device)
        return torch.as_tensor(y_enc.astype(np.float64), device=self.device)

    def _tensor(self, a) -> torch.Tensor:
        return torch.as_tensor(np.asarray(a, dtype=np.float64), device=self.device)

    def _params(self, theta: torch.Tensor) -> dict:
        """The module's parameter and buffer dict with ``θ`` unflattened into it."""
        out = dict(self._fixed)
        for name, begin, stop, shape in self._layout:
            out[name] = theta[begin:stop].view(shape)
        return out

    def _module_output(self, theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        """The module's (first) output on rows ``X``, as the module returns it."""
        out = functional_call(self.module, self._params(theta), (X,))
        return out[0] if isinstance(out, (tuple, list)) else out

    def _raw(self, theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        """The module's (first) output on rows ``X``, shape (rows, K')."""
        return self._module_output(theta, X).reshape(X.shape[0], -1)

    def _outputs_of(self, out: torch.Tensor, rows: int) -> torch.Tensor:
        """The outputs ``f`` from the module's output ``out`` on ``rows`` rows."""
        out = out.reshape(rows, -1)
        return torch.log(out + _EPS64) if self.link == "log_probability" else out

    def _forward(self, theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        """The outputs ``f`` (logits, log-probabilities or mean), shape (rows, K')."""
        return self._outputs_of(self._module_output(theta, X), X.shape[0])

    def _f_row(self, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self._forward(theta, x.unsqueeze(0))[0]

    def _loss(self, f: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Per-row loss from outputs ``f`` (..., K') and targets ``t``."""
        if self.link == "multinomial":
            return torch.logsumexp(f, dim=-1) - (t * f).sum(-1)
        if self.link == "log_probability":
            return -(t * f).sum(-1)
        z = f[..., 0]
        if self.link == "logistic":
            return torch.logaddexp(torch.zeros_like(z), z) - t * z
        return 0.5 * (z - t) ** 2

    def _row_loss(self, theta, x, t):
        return self._loss(self._f_row(theta, x), t)

    def _output_curvature(self, f: torch.Tensor) -> torch.Tensor:
        """``Λ = ∂²L/∂f²`` per row (rows, K', K') (the Fisher form for NLLLoss).

        The torch twin of :func:`._links.output_curvature`, for use inside the
        torch.func passes.
        """
        if self.link == "multinomial":
            P = torch.softmax(f, dim=-1)
            return torch.diag_embed(P) - P[:, :, None] * P[:, None, :]
        if self.link == "log_probability":
            return torch.diag_embed(torch.exp(f))
        if self.link == "logistic":
            s = torch.sigmoid(f)
            return (s * (1.0 - s))[:, :, None]
        return torch.ones(f.shape[0], 1, 1, dtype=f.dtype, device=f.device)

    def _curvature_sum(self, V: torch.Tensor, Xc: torch.Tensor, Tc: torch.Tensor):
        """``Σ_rows ∂²θ L V`` (or Gauss-Newton) over a chunk, for ``V`` of shape (r, m)."""
        theta = self._theta
        if self.gauss_newton:

            def outputs(th):
                return self._forward(th, Xc)

            f, vjp_fn = vjp(outputs, theta)
            Lam = self._output_curvature(f.detach())

            def gn(v):
                _, Jv = jvp(outputs, (theta,), (v,))
                return vjp_fn(torch.einsum("bkl,bl->bk", Lam, Jv))[0]

            return vmap(gn)(V)

        def total(th):
            return self._loss(self._forward(th, Xc), Tc).sum()

        g = grad(total)

        def hv(v):
            return jvp(g, (theta,), (v,))[1]

        return vmap(hv)(V)

    # -- curvature -------------------------------------------------------------------
    def hvp(self, V: np.ndarray) -> np.ndarray:
        """Return ``H @ V`` (or the Gauss-Newton product).

        One pass over the training rows in chunks; forward-over-reverse
        (``jvp`` of ``grad``) for the Hessian, ``jvp`` then ``vjp`` for
        Gauss-Newton, ``vmap``-ed over the columns.

        Parameters
        ----------
        V : ndarray of shape (m,) or (m, r)
            Parameter directions, laid out as :attr:`param_names`.

        Returns
        -------
        ndarray of the shape of ``V``
            ``mean_i ∂²θ L_i V + λ ⊙ V`` (``J_iᵀ Λ_i J_i`` with ``gauss_newton``).
        """
        V = np.asarray(V, dtype=np.float64)
        squeeze = V.ndim == 1
        V2 = V.reshape(self.n_params, -1)
        Vt = self._tensor(V2.T.copy())  # (r, m)
        out = torch.zeros_like(Vt)
        with _eval_mode(self.module):
            for rows in iter_chunks(self.n_train, self.chunk_size(Vt.shape[0])):
                out += self._curvature_sum(Vt, self._X[rows], self._T[rows]).detach()
        out = out / self.n_train + self._lam * Vt
        res = out.T.cpu().numpy()
        return res[:, 0] if squeeze else res

    def batch_hvp(self, V: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Return ``mean_{i ∈ rows} ∂²θ L_i V + λ ⊙ V`` (a minibatch :meth:`hvp`).

        Parameters
        ----------
        V : ndarray of shape (m,) or (m, r)
            Parameter directions.
        rows : ndarray of int
            Positions of training rows (an unbiased estimate of ``H V`` when drawn
            uniformly).

        Returns
        -------
        ndarray of the shape of ``V``
        """
        V = np.asarray(V, dtype=np.float64)
        rows = np.asarray(rows, dtype=np.intp)
        Vt = self._tensor(V.reshape(self.n_params, -1).T.copy())
        out = torch.zeros_like(Vt)
        with _eval_mode(self.module):
            for part in iter_chunks(len(rows), self.chunk_size(Vt.shape[0])):
                idx = torch.as_tensor(rows[part], device=self.device)
                out += self._curvature_sum(Vt, self._X[idx], self._T[idx]).detach()
        out = out / max(len(rows), 1) + self._lam * Vt
        return out.T.cpu().numpy().reshape(V.shape)

    def hessian(self) -> np.ndarray:
        """Return the dense ``m × m`` Hessian (or Gauss-Newton matrix), with ``λ``.

        Built from :meth:`hvp` against blocks of identity columns (``O(n m)``
        row-tangent passes), or for Gauss-Newton from the rows' output Jacobians;
        ``8 m²`` bytes.

        Returns
        -------
        ndarray of shape (m, m)
            The symmetrised matrix.

        Raises
        ------
        NotImplementedError
            When ``m > max_dense_params``; use an iterative solver (``solver="cg"``).
        """
        m = self.n_params
        if m > self.max_dense_params:
            raise NotImplementedError(
                f"the net has {m} parameters in the influence selection, more than "
                f"max_dense_params={self.max_dense_params}: a dense Hessian would "
                f"take {8 * m * m / 2**30:.1f} GiB and {m} Hessian-vector passes. "
                "Pass solver='cg' (Hessian-vector products), or select fewer "
                "parameters with params='last' or a list of names."
            )
        if self.gauss_newton:
            H = self._gauss_newton_matrix()
        else:
            H = np.empty((m, m))
            block = max(1, min(m, 256))
            for start in range(0, m, block):
                stop = min(start + block, m)
                E = np.zeros((m, stop - start))
                E[np.arange(start, stop), np.arange(stop - start)] = 1.0
                H[:, start:stop] = self.hvp(E)
        return 0.5 * (H + H.T)

    def _gauss_newton_matrix(self) -> np.ndarray:
        """``mean_i J_iᵀ Λ_i J_i + diag(λ)`` from the rows' output Jacobians.

        The same matrix :meth:`hvp` multiplies by with ``gauss_newton=True``, built
        from ``jacrev`` of the outputs per row (``K'`` backward passes) and one
        ``(b K') × m`` matrix product per chunk of rows, instead of ``m``
        Hessian-vector products over the data.
        """
        m = self.n_params
        H = torch.zeros((m, m), dtype=self._theta.dtype, device=self.device)
        jac = vmap(jacrev(self._f_row), in_dims=(None, 0))
        with _eval_mode(self.module):
            for rows in iter_chunks(self.n_train, self.chunk_size(2 * self.n_outputs)):
                Xc = self._X[rows]
                J = jac(self._theta, Xc).detach()  # (b, K', m)
                Lam = self._output_curvature(self._forward(self._theta, Xc).detach())
                LJ = torch.einsum("bkl,blm->bkm", Lam, J)
                H += J.reshape(-1, m).T @ LJ.reshape(-1, m)
        H = H / self.n_train + torch.diag(self._lam.to(H.dtype))
        return H.cpu().numpy()

    # -- first order -----------------------------------------------------------------
    def encode_y(self, y) -> np.ndarray:
        """Encode targets: class positions in ``classes_``, floats for regression.

        skorch trains classifiers on the labels themselves as class indices, so for
        ``NeuralNetClassifier`` labels are looked up in ``net.classes_`` when it has
        one entry per module output, and otherwise (or when they are not all found
        there) integer labels ``0..K-1`` are taken as the indices the criterion saw.

        Parameters
        ----------
        y : array-like of shape (n,)
            Labels (classifiers) or targets (regressors; one column is accepted).

        Returns
        -------
        ndarray of shape (n,)
            Class positions (int) or float64 targets.
        """
        y = np.asarray(y)
        if self.link == "squared":
            if y.ndim == 2 and y.shape[1] == 1:
                y = y[:, 0]
            if y.ndim != 1:
                raise ValueError(
                    f"y must be 1-D (or one column) for a regressor, got shape {y.shape}."
                )
            return y.astype(np.float64)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        idx = _lookup(y, self.classes_)
        if idx is None and self.link in ("multinomial", "log_probability"):
            idx = _lookup(y, np.arange(self.n_outputs))
        if idx is None:
            raise ValueError(
                f"labels {np.unique(y)[:5].tolist()} do not match the classes of the "
                f"net ({self.classes_.tolist()})."
            )
        return idx

    def loss_grad(self, X, y) -> np.ndarray:
        """Return the per-row loss gradients ``∂θ L(y_i, x_i; θ̂)`` (``vmap`` of ``grad``).

        Parameters
        ----------
        X : array-like of shape (n, p)
            Rows.
        y : ndarray of shape (n,)
            Encoded targets (:meth:`encode_y`).

        Returns
        -------
        ndarray of shape (n, m)
            One gradient per row, laid out as :attr:`param_names`.
        """
        Xt, Tt = self._rows(X), self._targets(y)
        with _eval_mode(self.module):
            G = vmap(grad(self._row_loss), in_dims=(None, 0, 0))(self._theta, Xt, Tt)
        return G.detach().cpu().numpy()

    def outputs(self, X) -> np.ndarray:
        """Return the outputs ``f`` (logits, log-probabilities or mean), shape (n, K').

        Parameters
        ----------
        X : array-like of shape (n, p)
            Rows.

        Returns
        -------
        ndarray of shape (n, K')
        """
        with _eval_mode(self.module), torch.no_grad():
            return self._forward(self._theta, self._rows(X)).cpu().numpy()

    def input_grad(self, X, y) -> np.ndarray:
        """Return the per-row input gradients ``∂x L(y_i, x_i; θ̂)`` (``vmap`` of ``grad``).

        Parameters
        ----------
        X : array-like of shape (n, p)
            Rows.
        y : ndarray of shape (n,)
            Encoded targets (:meth:`encode_y`).

        Returns
        -------
        ndarray of shape (n, p)
        """
        Xt, Tt = self._rows(X), self._targets(y)
        with _eval_mode(self.module):
            G = vmap(grad(self._row_loss, argnums=1), in_dims=(None, 0, 0))(self._theta, Xt, Tt)
        return G.detach().cpu().numpy()

    # -- mixed derivative ------------------------------------------------------------
    def mixed_product(self, X, y, U) -> np.ndarray:
        """Return ``∂x (U[i, r] · ∂θ L(y_i, x; θ̂))`` at ``x = x_i`` for every row.

        ``grad`` in ``x`` of the directional derivative ``jvp`` of ``L`` in ``θ``,
        ``vmap``-ed over rows and directions: never the ``m × p`` mixed derivative.

        Parameters
        ----------
        X : array-like of shape (n, p)
            Rows.
        y : ndarray of shape (n,)
            Encoded targets (:meth:`encode_y`).
        U : ndarray of shape (r, m) or (n, r, m)
            Parameter directions, shared by all rows or one set per row.

        Returns
        -------
        ndarray of shape (n, r, p)
            ``U[i, r] @ M_i`` with ``M_i = ∂x∂θ L`` of row ``i``.
        """
        Xt, Tt = self._rows(X), self._targets(y)
        U = np.asarray(U, dtype=np.float64)
        if U.ndim not in (2, 3) or U.shape[-1] != self.n_params:
            raise ValueError(
                f"U must have shape (r, {self.n_params}) or (n, r, {self.n_params}), got {U.shape}."
            )
        Ut = self._tensor(U)
        theta = self._theta

        def one(x, t, u):
            def directional(x_):
                return jvp(lambda th: self._row_loss(th, x_, t), (theta,), (u,))[1]

            return grad(directional)(x)

        per_direction = vmap(one, in_dims=(None, None, 0))
        per_row = vmap(per_direction, in_dims=(0, 0, None if U.ndim == 2 else 0))
        with _eval_mode(self.module):
            out = per_row(Xt, Tt, Ut)
        return out.detach().cpu().numpy()

    def mixed_jvp(self, X, y, C) -> np.ndarray:
        """Return ``∂θ (∂x L(y_i, x; θ̂) · C[i, r])`` at ``x = x_i`` for every row.

        ``grad`` in ``θ`` of the directional derivative ``jvp`` of ``L`` in ``x``,
        ``vmap``-ed over rows and directions: never the ``m × p`` mixed derivative.

        Parameters
        ----------
        X : array-like of shape (n, p)
            Rows.
        y : ndarray of shape (n,)
            Encoded targets (:meth:`encode_y`).
        C : ndarray of shape (n, r, p)
            Input-space directions, one set per row.

        Returns
        -------
        ndarray of shape (n, r, m)
            ``M_i @ C[i, r]`` with ``M_i = ∂x∂θ L`` of row ``i``.
        """
        Xt, Tt = self._rows(X), self._targets(y)
        C = np.asarray(C, dtype=np.float64)
        if C.ndim != 3 or C.shape[-1] != self.n_features:
            raise ValueError(f"C must have shape (n, r, {self.n_features}), got {C.shape}.")
        Ct = self._tensor(C)
        theta = self._theta

        def one(x, t, c):
            def directional(th):
                return jvp(lambda x_: self._row_loss(th, x_, t), (x,), (c,))[1]

            return grad(directional)(theta)

        per_row = vmap(vmap(one, in_dims=(None, None, 0)), in_dims=(0, 0, 0))
        with _eval_mode(self.module):
            out = per_row(Xt, Tt, Ct)
        return out.detach().cpu().numpy()

    # -- metric ----------------------------------------------------------------------
    def metric_factors(self, X):
        """Return the factors of the metric ``G_z`` through the outputs ``f``.

        ``J_theta = ∂θ f`` and ``J_x = ∂x f`` by ``jacrev`` per row; ``f``, ``w`` and
        ``D`` as in the class Notes and :meth:`BaseAdapter.metric_factors`.

        Parameters
        ----------
        X : array-like of shape (n, p)
            Rows.

        Returns
        -------
        w : ndarray of shape (n, R)
            ``√P(r|x)`` (classifiers) or ``1/σ`` (regressors).
        D : ndarray of shape (n, R, K')
            ``∂ l_r / ∂ f_k``.
        J_theta : ndarray of shape (n, K', m)
            ``∂θ f_k``.
        J_x : ndarray of shape (n, K', p)
            ``∂x f_k``.
        """
        Xt = self._rows(X)

        def outputs(th, x):
            f = self._f_row(th, x)
            return f, f

        jac = jacrev(outputs, argnums=(0, 1), has_aux=True)
        with _eval_mode(self.module):
            (J_theta, J_x), f = vmap(jac, in_dims=(None, 0))(self._theta, Xt)
        f = f.detach().cpu().numpy()
        J_theta = J_theta.detach().cpu().numpy()
        J_x = J_x.detach().cpu().numpy()
        w, D = metric_factors(self.link, f, getattr(self, "sigma", None))
        return w, D, J_theta, J_x

    # -- parameters and layers (ip_ensemble, datainf, gif) ------------------------------
    def get_theta(self) -> np.ndarray:
        """Return a copy of the selected parameters ``θ̂``, flat in :attr:`param_names` order.

        Returns
        -------
        ndarray of shape (m,)
        """
        return self._theta.detach().cpu().numpy().copy()

    def at_theta(self, theta) -> TorchAdapter:
        """Return a copy of this adapter evaluated at the selected parameters ``theta``.

        The parameters outside the selection, the buffers, the training rows and the
        penalty ``λ`` are shared with this adapter; the net is not changed.

        Parameters
        ----------
        theta : ndarray of shape (m,)
            Values of the selected parameters, laid out as :attr:`param_names`.

        Returns
        -------
        TorchAdapter
        """
        import copy

        theta = np.asarray(theta, dtype=np.float64)
        if theta.shape != (self.n_params,):
            raise ValueError(f"theta must have shape ({self.n_params},), got {theta.shape}.")
        new = copy.copy(self)
        new._theta = self._tensor(theta)
        return new

    def layer_blocks(self) -> list[tuple[str, np.ndarray]]:
        """The selected parameters grouped by the module that owns them (DataInf's layers).

        Returns
        -------
        list of (str, ndarray of int)
            Module name and the positions of its selected parameters in ``θ``, in
            :attr:`param_names` order.
        """
        blocks: dict[str, list[np.ndarray]] = {}
        for name, begin, stop, _ in self._layout:
            blocks.setdefault(name.rpartition(".")[0], []).append(np.arange(begin, stop))
        return [(mod, np.concatenate(parts)) for mod, parts in blocks.items()]

    def param_groups(self) -> list[np.ndarray]:
        """Positions in ``θ`` of each selected parameter tensor (one group each).

        Returns
        -------
        list of ndarray of int
            In :attr:`param_names` order.
        """
        return [np.arange(begin, stop) for _, begin, stop, _ in self._layout]

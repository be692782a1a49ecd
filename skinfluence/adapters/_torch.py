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
  ``K'`` backward passes per row.
* ``kfac_factors``: the Kronecker factors ``A = mean ã ãᵀ`` and
  ``G = mean Jᵀ Λ J`` (``J = ∂f/∂s``, ``s`` a layer's pre-activations) of every
  ``nn.Linear`` layer, for the K-FAC solver — one forward pass with hooks and ``K'``
  vector-Jacobian products per chunk of training rows.

Derivatives in ``x`` go through the whole module to its raw input, whatever
``params`` selects. All computations run in float64 on ``net.device`` with the
module in eval mode (its previous mode is restored afterwards); the net's own
parameters are never changed.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from scipy.special import expit, softmax
from sklearn.exceptions import NotFittedError
from torch.func import functional_call, grad, jacrev, jvp, vjp, vmap

from ..exceptions import UnsupportedModelError
from ..utils import iter_chunks
from ._base import BaseAdapter

__all__ = ["KFACFactors", "KFACLayer", "TorchAdapter", "mc_dropout_proba"]

# criterion class name -> internal loss kind
_CRITERIA = {
    "CrossEntropyLoss": "ce",
    "NLLLoss": "nll",
    "BCEWithLogitsLoss": "bce",
    "MSELoss": "mse",
}
# skorch net class name -> the loss kinds it supports
_NETS = {
    "NeuralNetClassifier": ("ce", "nll"),
    "NeuralNetBinaryClassifier": ("bce",),
    "NeuralNetRegressor": ("mse",),
}
_EPS64 = float(torch.finfo(torch.float64).eps)


@contextmanager
def _eval_mode(module):
    """Put ``module`` in eval mode, then restore every submodule's previous mode."""
    modes = [(mod, mod.training) for mod in module.modules()]
    module.eval()
    try:
        yield
    finally:
        for mod, mode in modes:
            mod.training = mode


def _net_kind(net) -> str | None:
    """Name of the skorch net class ``net`` derives from (None for a plain net)."""
    for cls in type(net).__mro__:
        if cls.__name__ in _NETS and cls.__module__.startswith("skorch"):
            return cls.__name__
    return None


def _check_criterion(net) -> str:
    """Return the loss kind of ``net``'s criterion, or raise if it is unsupported."""
    crit = net.criterion_
    name = type(crit).__name__
    if name not in _CRITERIA or not type(crit).__module__.startswith("torch"):
        raise UnsupportedModelError(
            f"the criterion {name} has no influence adapter; supported: "
            "NeuralNetClassifier with NLLLoss (probability outputs) or "
            "CrossEntropyLoss (logits), NeuralNetBinaryClassifier with "
            "BCEWithLogitsLoss, NeuralNetRegressor with MSELoss."
        )
    kind = _CRITERIA[name]
    net_kind = _net_kind(net)
    if net_kind is not None and kind not in _NETS[net_kind]:
        raise UnsupportedModelError(
            f"{net_kind} with criterion {name} is not supported; use "
            f"{' or '.join(k for k, v in _CRITERIA.items() if v in _NETS[net_kind])}."
        )
    if getattr(crit, "reduction", "mean") != "mean":
        raise UnsupportedModelError(
            f"{name}(reduction={crit.reduction!r}) is not supported: with mini-batches "
            "its effective weight-decay scale depends on the batch size; use "
            "reduction='mean' (the default)."
        )
    for attr in ("weight", "pos_weight"):
        if getattr(crit, attr, None) is not None:
            raise UnsupportedModelError(
                f"{name}({attr}=...) weights the loss per class, which the influence "
                f"adapters do not model; use {attr}=None."
            )
    if getattr(crit, "label_smoothing", 0.0):
        raise UnsupportedModelError(
            f"{name}(label_smoothing={crit.label_smoothing}) is not supported; use "
            "label_smoothing=0."
        )
    if net_kind is not None:
        base = next(c for c in type(net).__mro__ if c.__name__ == net_kind)
        if type(net).get_loss is not base.get_loss:
            warnings.warn(
                f"{type(net).__name__} overrides get_loss; the influence adapter "
                f"differentiates the plain {name} and ignores the override.",
                UserWarning,
                stacklevel=3,
            )
    return kind


def _select_params(module, params) -> list[str]:
    """Names of the parameters influence is taken over, in named_parameters order."""
    named = dict(module.named_parameters())
    if isinstance(params, str):
        if params == "all":
            names = [n for n, p in named.items() if p.requires_grad]
        elif params == "last":
            last = None
            for name, mod in module.named_modules():
                if isinstance(mod, torch.nn.Linear):
                    last = name
            if last is None:
                raise ValueError(
                    f"params='last' needs an nn.Linear layer, but {type(module).__name__}"
                    " has none; pass a list of parameter names instead (from "
                    "net.module_.named_parameters())."
                )
            prefix = f"{last}." if last else ""
            wanted = {prefix + "weight", prefix + "bias"}
            names = [n for n in named if n in wanted]
        else:
            raise ValueError(
                f"params must be 'all', 'last' or a list of parameter names, got {params!r}."
            )
    else:
        try:
            wanted = list(params)
        except TypeError:
            raise ValueError(
                f"params must be 'all', 'last' or a list of parameter names, got {params!r}."
            ) from None
        unknown = [n for n in wanted if n not in named]
        if unknown:
            raise ValueError(
                f"parameters {unknown} are not in the module; its parameters are {list(named)}."
            )
        names = [n for n in named if n in set(wanted)]
    if not names:
        raise ValueError(f"no parameters selected for influence (params={params!r}).")
    return names


def _weight_decays(net, module, names: list[str]) -> tuple[dict[str, float], bool]:
    """Per-parameter weight decay from the optimizer's groups, and if it is decoupled."""
    opt = getattr(net, "optimizer_", None)
    if opt is not None and hasattr(opt, "param_groups"):
        by_id = {}
        for group in opt.param_groups:
            for p in group["params"]:
                by_id[id(p)] = float(group.get("weight_decay", 0.0) or 0.0)
        named = dict(module.named_parameters())
        decoupled = type(opt).__name__ == "AdamW"
        return {n: by_id.get(id(named[n]), 0.0) for n in names}, decoupled
    wd = float(net.get_params().get("optimizer__weight_decay", 0.0) or 0.0)
    return {n: wd for n in names}, False


@dataclass(frozen=True)
class KFACLayer:
    """An ``nn.Linear`` layer of the parameter selection, as K-FAC sees it.

    The layer computes ``s = W a + b``. Its K-FAC block acts on ``vec([W | b])``
    row-major (row ``o`` of ``W`` followed by ``b[o]``, for ``o = 0..d_out-1``), so the
    block is ``G ⊗ A`` with ``G`` over outputs and ``A`` over ``ã = [a; 1]``.

    Attributes
    ----------
    module : str
        Name of the layer in ``module_.named_modules()``.
    weight, bias : str or None
        Names of its selected parameters; ``bias`` is None when the layer has no bias
        or its bias is not selected (held fixed: then ``ã = a``).
    d_out, d_in : int
        Output and input widths of the layer.
    index : ndarray of shape (d_out * d_a,)
        Position in the adapter's flat ``θ`` of every entry of the block layout
        (``d_a = d_in + 1`` with a bias, ``d_in`` without): ``θ[index]`` is
        ``vec([W | b])`` row-major.
    """

    module: str
    weight: str
    bias: str | None
    d_out: int
    d_in: int
    index: np.ndarray

    @property
    def d_a(self) -> int:
        """Width of ``ã``: ``d_in + 1`` with a bias, else ``d_in``."""
        return self.d_in + (self.bias is not None)


@dataclass(frozen=True)
class KFACFactors:
    """The Kronecker factors of one layer: the K-FAC block is ``G ⊗ A``.

    Attributes
    ----------
    layer : KFACLayer
        The layer and its index map.
    A : ndarray of shape (d_a, d_a)
        ``mean_i ã_i ã_iᵀ`` over the training rows.
    G : ndarray of shape (d_out, d_out)
        ``mean_i J_iᵀ Λ_i J_i`` with ``J_i = ∂f/∂s`` at row ``i`` and ``Λ_i`` the
        output curvature ``∂²L/∂f²`` (an exact expectation over the classes, no
        label sampling).
    """

    layer: KFACLayer
    A: np.ndarray
    G: np.ndarray


class TorchAdapter(BaseAdapter):
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
    n_params, n_features, n_outputs, is_classifier, n_train
        As in :class:`~skinfluence.adapters.BaseAdapter`.
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
        self.kind = _check_criterion(net)
        self.gauss_newton = bool(gauss_newton)
        module = net.module_
        self.module = module
        device = getattr(net, "device", None)
        if device is None:
            first = next(iter(module.parameters()), None)
            device = first.device if first is not None else "cpu"
        self.device = torch.device(device)

        # parameters: the selected ones flattened into θ, the rest held fixed
        self.param_names = _select_params(module, params)
        named = dict(module.named_parameters())
        self._layout = []
        start = 0
        for name in self.param_names:
            shape = named[name].shape
            size = int(np.prod(shape)) if len(shape) else 1
            self._layout.append((name, start, start + size, shape))
            start += size
        self.n_params = start
        selected = set(self.param_names)
        with torch.no_grad():
            self._theta = torch.cat(
                [
                    named[name].detach().to(self.device, torch.float64).reshape(-1)
                    for name in self.param_names
                ]
            )
            fixed = {
                n: p.detach().to(self.device, torch.float64)
                for n, p in named.items()
                if n not in selected
            }
            for n, b in module.named_buffers():
                dtype = torch.float64 if b.is_floating_point() else b.dtype
                fixed[n] = b.detach().to(self.device, dtype)
        self._fixed = fixed

        # the penalty λ in mean-loss form
        wds, self.decoupled_decay = _weight_decays(net, module, self.param_names)
        scale = 0.5 if self.kind == "mse" else 1.0
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
        if self.kind in ("ce", "nll"):
            if n_out < 2:
                raise UnsupportedModelError(
                    f"{type(net).__name__} with {type(net.criterion_).__name__} needs "
                    f"a module with one output per class, got {n_out}; for two "
                    "classes with one logit use NeuralNetBinaryClassifier."
                )
            classes = None
            try:
                classes = np.asarray(net.classes_)
            except AttributeError:
                pass
            if classes is None or classes.ndim != 1 or len(classes) != n_out:
                classes = np.arange(n_out)
            self.classes_ = classes
            self.n_outputs = n_out
            self.is_classifier = True
        elif self.kind == "bce":
            self._check_single(n_out)
            self.classes_ = np.array([0, 1])
            self.n_outputs = 2
            self.is_classifier = True
        else:
            self._check_single(n_out)
            self.n_outputs = 1
            self.is_classifier = False
        self.y_enc = self.encode_y(y)
        if len(self.y_enc) != self.n_train:
            raise ValueError(f"X has {self.n_train} rows but y has {len(self.y_enc)} entries.")
        self._T = self._targets(self.y_enc)
        if self.kind == "mse":
            sq = 0.0
            with _eval_mode(module), torch.no_grad():
                for rows in iter_chunks(self.n_train, self.chunk_size()):
                    mu = self._forward(self._theta, self._X[rows])[:, 0]
                    sq += float(((mu - self._T[rows]) ** 2).sum())
            self.sigma = float(max(np.sqrt(sq / self.n_train), 1e-12))

    # -- helpers ---------------------------------------------------------------------
    def _check_single(self, n_out: int) -> None:
        if n_out != 1:
            raise UnsupportedModelError(
                f"{type(self.estimator).__name__} must have a module with one output "
                f"per row, got {n_out}; several targets are not supported."
            )

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
        if self.kind in ("ce", "nll"):
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

    def _raw(self, theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        """The module's (first) output on rows ``X``, shape (rows, K')."""
        out = functional_call(self.module, self._params(theta), (X,))
        if isinstance(out, (tuple, list)):
            out = out[0]
        return out.reshape(X.shape[0], -1)

    def _forward(self, theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        """The outputs ``f`` (logits, log-probabilities or mean), shape (rows, K')."""
        out = self._raw(theta, X)
        if self.kind == "nll":
            out = torch.log(out + _EPS64)
        return out

    def _f_row(self, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self._forward(theta, x.unsqueeze(0))[0]

    def _loss(self, f: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Per-row loss from outputs ``f`` (..., K') and targets ``t``."""
        if self.kind == "ce":
            return torch.logsumexp(f, dim=-1) - (t * f).sum(-1)
        if self.kind == "nll":
            return -(t * f).sum(-1)
        z = f[..., 0]
        if self.kind == "bce":
            return torch.logaddexp(torch.zeros_like(z), z) - t * z
        return 0.5 * (z - t) ** 2

    def _row_loss(self, theta, x, t):
        return self._loss(self._f_row(theta, x), t)

    def _output_curvature(self, f: torch.Tensor) -> torch.Tensor:
        """``Λ = ∂²L/∂f²`` per row (rows, K', K') (the Fisher form for NLLLoss)."""
        if self.kind == "ce":
            P = torch.softmax(f, dim=-1)
            return torch.diag_embed(P) - P[:, :, None] * P[:, None, :]
        if self.kind == "nll":
            return torch.diag_embed(torch.exp(f))
        if self.kind == "bce":
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
        if self.kind == "mse":
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
        if idx is None and self.kind in ("ce", "nll"):
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

    # -- Kronecker factors (K-FAC, and EK-FAC later) -----------------------------------
    def kfac_layers(self) -> list[KFACLayer]:
        """The ``nn.Linear`` layers that hold the selected parameters, with index maps.

        Returns
        -------
        list of KFACLayer
            In ``module_.named_modules()`` order.

        Raises
        ------
        UnsupportedModelError
            When a selected parameter is not the weight (or, with its weight, the
            bias) of an ``nn.Linear`` layer; the message names them.
        """
        if getattr(self, "_kfac_layers", None) is not None:
            return self._kfac_layers
        starts = {name: begin for name, begin, _, _ in self._layout}
        layers, covered, seen = [], set(), set()
        for name, mod in self.module.named_modules():
            if not isinstance(mod, torch.nn.Linear):
                continue
            prefix = f"{name}." if name else ""
            weight = prefix + "weight"
            if weight not in starts or id(mod.weight) in seen:
                continue
            seen.add(id(mod.weight))
            bias = prefix + "bias" if mod.bias is not None else None
            bias = bias if bias in starts else None
            d_out, d_in = mod.weight.shape
            index = np.empty((d_out, d_in + (bias is not None)), dtype=np.intp)
            index[:, :d_in] = starts[weight] + np.arange(d_out * d_in).reshape(d_out, d_in)
            if bias is not None:
                index[:, d_in] = starts[bias] + np.arange(d_out)
            layers.append(KFACLayer(name, weight, bias, d_out, d_in, index.ravel()))
            covered.update(n for n in (weight, bias) if n is not None)
        other = [n for n in self.param_names if n not in covered]
        if other:
            raise UnsupportedModelError(
                f"K-FAC covers the weights (and biases) of nn.Linear layers only, but the "
                f"parameter selection also holds {other}; pass params='last' (or a list "
                "of nn.Linear weights and biases), or use solver='cg' or 'exact'."
            )
        self._kfac_layers = layers
        return layers

    def kfac_row_factors(self, X) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per-row Kronecker factors of every K-FAC layer on rows ``X``.

        For row ``i`` and a layer ``s = W a + b`` the Gauss-Newton block of the row
        is ``(S_i S_iᵀ) ⊗ (ã_i ã_iᵀ)``, with ``ã_i = [a_i; 1]`` and
        ``S_i = J_iᵀ R_i`` (``J_i = ∂f/∂s``, ``R_i R_iᵀ = Λ_i`` the output
        curvature, ``R_i`` from its eigen-decomposition). One forward pass with
        hooks records ``a`` and adds a zero tangent to ``s``; ``K'`` batched
        vector-Jacobian products in the tangents give ``S``. Rows must be
        independent in the forward pass (true in eval mode for the usual layers).
        K-FAC means these over the training rows; EK-FAC can project them.

        Parameters
        ----------
        X : array-like of shape (n, p)
            Rows.

        Returns
        -------
        list of (ndarray of shape (n, d_a), ndarray of shape (n, d_out, K'))
            ``(ã, S)`` per layer of :meth:`kfac_layers`.

        Raises
        ------
        UnsupportedModelError
            When a layer is not applied exactly once per forward pass to a 2-D
            ``(rows, d_in)`` input.
        """
        layers = self.kfac_layers()
        Xt = self._rows(X)
        b = Xt.shape[0]
        modules = dict(self.module.named_modules())
        zeros = {
            L.module: torch.zeros(b, L.d_out, dtype=torch.float64, device=self.device)
            for L in layers
        }
        calls = {L.module: 0 for L in layers}

        def outputs(tangents):
            acts = {}

            def hook_for(name):
                def hook(mod, inputs, output):
                    calls[name] += 1
                    acts[name] = inputs[0]
                    return output + tangents[name]

                return hook

            handles = [modules[L.module].register_forward_hook(hook_for(L.module)) for L in layers]
            try:
                f = self._forward(self._theta, Xt)
            finally:
                for handle in handles:
                    handle.remove()
            return f, acts

        with _eval_mode(self.module):
            f, vjp_fn, acts = vjp(outputs, zeros, has_aux=True)
            for L in layers:
                if calls[L.module] != 1 or acts[L.module].shape != (b, L.d_in):
                    raise UnsupportedModelError(
                        f"K-FAC needs every nn.Linear layer applied once per forward pass "
                        f"to (rows, features) inputs; layer {L.module!r} ran "
                        f"{calls[L.module]} time(s) on inputs of shape "
                        f"{tuple(acts[L.module].shape) if L.module in acts else None}. "
                        "Use solver='cg' or 'exact'."
                    )
            evals, evecs = torch.linalg.eigh(self._output_curvature(f.detach()))
            R = evecs * evals.clamp_min(0.0).sqrt()[:, None, :]  # Λ = R Rᵀ, (b, K', K')
            (S,) = vmap(vjp_fn, in_dims=2)(R)  # per layer (K', b, d_out)
        out = []
        for L in layers:
            a = acts[L.module].detach()
            if L.bias is not None:
                a = torch.cat([a, torch.ones(b, 1, dtype=a.dtype, device=a.device)], dim=1)
            out.append((a.cpu().numpy(), S[L.module].detach().permute(1, 2, 0).cpu().numpy()))
        return out

    def kfac_factors(self) -> list[KFACFactors]:
        """Kronecker factors ``A`` and ``G`` of every ``nn.Linear`` layer (float64).

        ``A = mean_i ã_i ã_iᵀ`` and ``G = mean_i J_iᵀ Λ_i J_i`` over the training rows
        (:meth:`kfac_row_factors`, in chunks), so that the K-FAC approximation of the
        Gauss-Newton matrix (Martens & Grosse 2015) is block-diagonal over layers with
        blocks ``G ⊗ A``, whatever ``gauss_newton`` says. The penalty ``λ`` is not in
        the factors; the solver adds it.

        Returns
        -------
        list of KFACFactors
            One per layer of :meth:`kfac_layers`.
        """
        layers = self.kfac_layers()
        A = [np.zeros((L.d_a, L.d_a)) for L in layers]
        G = [np.zeros((L.d_out, L.d_out)) for L in layers]
        for rows in iter_chunks(self.n_train, self.chunk_size(self.n_raw_outputs + 2)):
            for j, (a, S) in enumerate(self.kfac_row_factors(self._X[rows])):
                A[j] += a.T @ a
                S2 = S.transpose(1, 0, 2).reshape(S.shape[1], -1)
                G[j] += S2 @ S2.T
        n = self.n_train
        return [KFACFactors(L, A[j] / n, G[j] / n) for j, L in enumerate(layers)]

    def param_groups(self) -> list[np.ndarray]:
        """Positions in ``θ`` of each selected parameter tensor (one group each).

        Returns
        -------
        list of ndarray of int
            In :attr:`param_names` order.
        """
        return [np.arange(begin, stop) for _, begin, stop, _ in self._layout]

    def output_contributions(self, X) -> np.ndarray:
        """Return ``mean_i |W[o, j] a_ij|`` (and ``|b[o]|``) of every ``nn.Linear`` layer.

        The size of each parameter's term in its layer's pre-activation on rows ``X``
        (seed 004's "outputs" selection), from the activations :meth:`kfac_row_factors`
        records.

        Parameters
        ----------
        X : array-like of shape (n, p)
            Rows.

        Returns
        -------
        ndarray of shape (m,)

        Raises
        ------
        UnsupportedModelError
            When a selected parameter is not in an ``nn.Linear`` layer.
        """
        layers = self.kfac_layers()
        Xt = self._rows(X)
        sums = [np.zeros(L.d_a) for L in layers]
        for rows in iter_chunks(Xt.shape[0], self.chunk_size(self.n_raw_outputs + 2)):
            for j, (a, _) in enumerate(self.kfac_row_factors(Xt[rows])):
                sums[j] += np.abs(a).sum(axis=0)
        theta = self._theta.detach().cpu().numpy()
        out = np.zeros(self.n_params)
        for L, total in zip(layers, sums, strict=True):
            W = np.abs(theta[L.index]).reshape(L.d_out, L.d_a)
            out[L.index] = (W * (total / max(Xt.shape[0], 1))[None, :]).ravel()
        return out

    def ekfac_eigenvalues(self, bases) -> list[np.ndarray]:
        """Corrected eigenvalues of every K-FAC layer in a Kronecker eigenbasis (EK-FAC).

        For layer ``l`` with basis ``(Q_G, Q_A)`` (orthogonal, e.g. the eigenvectors of
        its ``G`` and ``A``), the diagonal of the layer's exact Gauss-Newton block
        ``mean_i Σ_k (S_ik ⊗ ã_i)(S_ik ⊗ ã_i)ᵀ`` in the basis ``Q_G ⊗ Q_A``
        (George et al. 2018)::

            Λ[o, j] = mean_i (Σ_k (Q_Gᵀ S_i)[o, k]²) · (Q_Aᵀ ã_i)[j]²

        from :meth:`kfac_row_factors` in chunks of training rows.

        Parameters
        ----------
        bases : list of (ndarray of shape (d_out, d_out), ndarray of shape (d_a, d_a))
            ``(Q_G, Q_A)`` per layer of :meth:`kfac_layers`.

        Returns
        -------
        list of ndarray of shape (d_out, d_a)
        """
        layers = self.kfac_layers()
        if len(bases) != len(layers):
            raise ValueError(f"bases must hold one (Q_G, Q_A) pair per layer ({len(layers)}).")
        out = [np.zeros((L.d_out, L.d_a)) for L in layers]
        for rows in iter_chunks(self.n_train, self.chunk_size(self.n_raw_outputs + 2)):
            for j, (a, S) in enumerate(self.kfac_row_factors(self._X[rows])):
                QG, QA = bases[j]
                u = (np.einsum("lo,ilk->iok", QG, S) ** 2).sum(axis=2)  # (rows, d_out)
                v = (a @ QA) ** 2  # (rows, d_a)
                out[j] += u.T @ v
        return [o / self.n_train for o in out]

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
        n = Xt.shape[0]

        def outputs(th, x):
            f = self._f_row(th, x)
            return f, f

        jac = jacrev(outputs, argnums=(0, 1), has_aux=True)
        with _eval_mode(self.module):
            (J_theta, J_x), f = vmap(jac, in_dims=(None, 0))(self._theta, Xt)
        f = f.detach().cpu().numpy()
        J_theta = J_theta.detach().cpu().numpy()
        J_x = J_x.detach().cpu().numpy()
        if self.kind == "ce":
            P = softmax(f, axis=1)
            D = np.eye(self.n_outputs)[None, :, :] - P[:, None, :]
            w = np.sqrt(P)
        elif self.kind == "nll":
            D = np.broadcast_to(np.eye(self.n_outputs), (n, self.n_outputs, self.n_outputs))
            w = np.sqrt(np.exp(f))
        elif self.kind == "bce":
            s = expit(f[:, 0])
            D = np.stack([-s, 1.0 - s], axis=1)[:, :, None]
            w = np.sqrt(np.stack([1.0 - s, s], axis=1))
        else:
            D = np.ones((n, 1, 1))
            w = np.full((n, 1), 1.0 / self.sigma)
        return w, np.array(D), J_theta, J_x

    # -- parameters, layers and the linear head (ip_ensemble, tracin, datainf,
    #    representer) ------------------------------------------------------------------
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

    def at_state(self, state) -> TorchAdapter:
        """Return a copy of this adapter evaluated at a whole saved module state.

        Every parameter (selected or held fixed) and every floating-point buffer found
        in ``state`` replaces the adapter's; buffers missing from ``state`` keep their
        fitted values. Used by TracIn, whose checkpoints hold the whole module.

        Parameters
        ----------
        state : mapping of str to array-like
            Module parameter (and buffer) values by ``module_.named_parameters()``
            name, e.g. from ``module_.state_dict()`` or a
            :class:`~skinfluence.callbacks.TracInCheckpoints` checkpoint.

        Returns
        -------
        TorchAdapter
        """
        import copy

        named = dict(self.module.named_parameters())
        missing = [n for n in named if n not in state]
        if missing:
            raise ValueError(f"the saved state lacks the parameters {missing}.")

        def tensor(name):
            value = torch.as_tensor(np.asarray(state[name]), device=self.device)
            return value.to(torch.float64) if value.is_floating_point() else value

        new = copy.copy(self)
        new._theta = torch.cat([tensor(n).reshape(-1) for n in self.param_names])
        if new._theta.shape[0] != self.n_params:
            raise ValueError("the saved state's parameter shapes do not match the module's.")
        fixed = dict(self._fixed)
        for name in fixed:
            if name in state:
                fixed[name] = tensor(name).reshape(fixed[name].shape)
        new._fixed = fixed
        return new

    def checkpoints(self) -> list[dict]:
        """The checkpoints recorded by the net's ``TracInCheckpoints`` callback.

        Returns
        -------
        list of dict
            ``checkpoints_`` of the callback, oldest first (see
            :class:`skinfluence.callbacks.TracInCheckpoints`).

        Raises
        ------
        UnsupportedModelError
            When the net has no such callback, or it recorded no checkpoint.
        """
        from ._checkpoints import TracInCheckpoints

        found = [
            cb
            for _, cb in getattr(self.estimator, "callbacks_", [])
            if isinstance(cb, TracInCheckpoints)
        ]
        if not found:
            raise UnsupportedModelError(
                f"this {self.model_name} has no TracInCheckpoints callback; fit it with "
                "callbacks=[skinfluence.callbacks.TracInCheckpoints()] to use "
                "method='tracin' or 'self_tracin', or use method='ip'."
            )
        checkpoints = getattr(found[-1], "checkpoints_", [])
        if not checkpoints:
            raise UnsupportedModelError(
                "the TracInCheckpoints callback holds no checkpoint: fit the net for at "
                "least one epoch."
            )
        return checkpoints

    def mc_dropout_proba(self, X, seeds) -> list[np.ndarray]:
        """Class probabilities with the net's dropout layers active (MC dropout).

        See :func:`mc_dropout_proba`.

        Parameters
        ----------
        X : array-like of shape (n, p)
        seeds : sequence of int
            One seed per stochastic pass.

        Returns
        -------
        list of ndarray of shape (n, K)
        """
        return mc_dropout_proba(self.estimator, X, seeds)

    def per_parameter(self, values) -> np.ndarray:
        """Spread one value per parameter name over ``θ``'s layout.

        Parameters
        ----------
        values : mapping of str to float
            A value for every selected parameter (e.g. its learning rate).

        Returns
        -------
        ndarray of shape (m,)
        """
        return np.concatenate(
            [np.full(stop - begin, float(values[name])) for name, begin, stop, _ in self._layout]
        )

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

    def linear_head(self, X, y=None):
        """The last ``nn.Linear`` layer ``s = W a + b`` as a linear head over ``ã = [a; 1]``.

        ``a`` is the layer's input (the penultimate features). One forward pass with
        a hook records ``a`` and adds a zero tangent to ``s``; the gradient of the
        summed loss in that tangent is ``∂L_i/∂s_i`` per row.

        Parameters
        ----------
        X : array-like of shape (n, p)
            Rows.
        y : ndarray of shape (n,), default=None
            Encoded targets; ``None`` skips ``R``.

        Returns
        -------
        A : ndarray of shape (n, d_a)
            ``ã`` (``a`` alone when the bias is absent or not selected).
        R : ndarray of shape (n, d_out) or None
            ``∂L/∂s`` per row.
        lam : ndarray of shape (d_a,)
            The L2 penalty ``λ`` of each column of ``[W | b]``.
        index : ndarray of shape (d_out, d_a)
            Position of ``[W | b][o, j]`` in ``θ``.

        Raises
        ------
        UnsupportedModelError
            When the last ``nn.Linear`` weight is not among the selected parameters,
            or the layer does not run once on 2-D inputs.
        """
        last = _select_params(self.module, "last")
        weight = next(n for n in last if n.endswith("weight"))
        starts = {name: begin for name, begin, _, _ in self._layout}
        if weight not in starts:
            raise UnsupportedModelError(
                f"the linear head is the last nn.Linear layer ({weight!r}), which is not "
                f"in the parameter selection {self.param_names}; use params='last' or "
                "'all'."
            )
        mod_name = weight[: -len("weight")].rstrip(".")
        layer = dict(self.module.named_modules())[mod_name]
        d_out, d_in = layer.weight.shape
        bias = (f"{mod_name}.bias" if mod_name else "bias") if layer.bias is not None else None
        bias = bias if bias in starts else None
        index = np.empty((d_out, d_in + (bias is not None)), dtype=np.intp)
        index[:, :d_in] = starts[weight] + np.arange(d_out * d_in).reshape(d_out, d_in)
        if bias is not None:
            index[:, d_in] = starts[bias] + np.arange(d_out)
        Xt = self._rows(X)
        b = Xt.shape[0]
        seen = []
        tangent = torch.zeros(b, d_out, dtype=torch.float64, device=self.device)

        def hook(mod, inputs, output):
            seen.append(inputs[0])
            return output + tangent

        with _eval_mode(self.module):
            handle = layer.register_forward_hook(hook)
            try:
                if y is None:
                    with torch.no_grad():
                        self._forward(self._theta, Xt)
                    R = None
                else:
                    tangent.requires_grad_(True)
                    loss = self._loss(self._forward(self._theta, Xt), self._targets(y)).sum()
                    R = torch.autograd.grad(loss, tangent)[0].cpu().numpy()
            finally:
                handle.remove()
        if len(seen) != 1 or seen[0].shape != (b, d_in):
            raise UnsupportedModelError(
                f"the linear head needs the last nn.Linear layer {mod_name!r} applied once "
                "per forward pass to (rows, features) inputs."
            )
        A = seen[0].detach().cpu().numpy()
        if bias is not None:
            A = np.hstack([A, np.ones((b, 1))])
        return A, R, self.lam[index[0]].copy(), index


def _lookup(y: np.ndarray, classes: np.ndarray) -> np.ndarray | None:
    """Positions of ``y`` in ``classes`` (any order), or None if one is missing."""
    try:
        order = np.argsort(classes, kind="stable")
        sorted_classes = classes[order]
        pos = np.clip(np.searchsorted(sorted_classes, y), 0, len(classes) - 1)
        if not np.all(sorted_classes[pos] == y):
            return None
    except (TypeError, ValueError):
        return None
    return order[pos].astype(np.intp)


def mc_dropout_proba(net, X, seeds) -> list[np.ndarray]:
    """Class probabilities of a skorch classifier with its dropout layers active.

    One stochastic forward pass over ``X`` per seed (MC dropout, Gal et al. 2017): the
    net's own ``predict_proba`` runs with every dropout module switched to training
    mode by a forward pre-hook; the other modules (batch norm included) stay in
    evaluation mode. The global torch RNG is left as it was.

    Parameters
    ----------
    net : fitted skorch NeuralNetClassifier or NeuralNetBinaryClassifier
    X : array-like of shape (n, p)
    seeds : sequence of int
        One seed per pass.

    Returns
    -------
    list of ndarray of shape (n, K)
    """
    module = net.module_
    dropouts = [m for m in module.modules() if isinstance(m, torch.nn.modules.dropout._DropoutNd)]
    if not dropouts:
        raise UnsupportedModelError(
            f"BALD on a skorch net uses MC dropout, but {type(module).__name__} has no "
            "dropout layer; add one (e.g. torch.nn.Dropout) or use method='entropy'."
        )
    device = torch.device(net.device)
    cuda = [device.index or 0] if device.type == "cuda" else []
    X = np.asarray(X.toarray() if sp.issparse(X) else X, dtype=np.float32)

    def switch_on(mod, args):  # a pre-hook returning None keeps the inputs as they are
        mod.train()

    hooks = [m.register_forward_pre_hook(switch_on) for m in dropouts]
    modes = {m: m.training for m in module.modules()}
    try:
        out = []
        for seed in seeds:
            with torch.random.fork_rng(devices=cuda):
                torch.manual_seed(int(seed))
                out.append(np.asarray(net.predict_proba(X), dtype=np.float64))
        return out
    finally:
        for hook in hooks:
            hook.remove()
        for m, mode in modes.items():
            m.train(mode)

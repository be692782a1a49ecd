"""What the torch adapter accepts, and how it reads a skorch net.

* The supported nets and criteria (:func:`_check_criterion`): each criterion maps to
  its link in :mod:`._links` (``CrossEntropyLoss`` -> ``"multinomial"``, ``NLLLoss``
  -> ``"log_probability"``, ``BCEWithLogitsLoss`` -> ``"logistic"``, ``MSELoss`` ->
  ``"squared"``), and only the plain mean-reduced, unweighted criterion is accepted.
* The module's output width against the criterion, and the classes
  (:func:`_check_outputs`).
* The parameter selection (:func:`_select_params`), its layout in the flat ``θ``
  (:func:`_flatten_params`) and the positions of an ``nn.Linear`` layer's
  ``[W | b]`` in it (:func:`_linear_index`).
* The weight decay of every selected parameter (:func:`_weight_decays`).
* The device (:func:`_device`), eval mode for the adapter's passes
  (:func:`_eval_mode`) and label lookup (:func:`_lookup`).
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager

import numpy as np
import torch

from ..exceptions import UnsupportedModelError

# criterion class name -> its link (see _links)
_CRITERIA = {
    "CrossEntropyLoss": "multinomial",
    "NLLLoss": "log_probability",
    "BCEWithLogitsLoss": "logistic",
    "MSELoss": "squared",
}
# skorch net class name -> the links it supports
_NETS = {
    "NeuralNetClassifier": ("multinomial", "log_probability"),
    "NeuralNetBinaryClassifier": ("logistic",),
    "NeuralNetRegressor": ("squared",),
}


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
    """Return the link of ``net``'s criterion, or raise if it is unsupported."""
    crit = net.criterion_
    name = type(crit).__name__
    if name not in _CRITERIA or not type(crit).__module__.startswith("torch"):
        raise UnsupportedModelError(
            f"the criterion {name} has no influence adapter; supported: "
            "NeuralNetClassifier with NLLLoss (probability outputs) or "
            "CrossEntropyLoss (logits), NeuralNetBinaryClassifier with "
            "BCEWithLogitsLoss, NeuralNetRegressor with MSELoss."
        )
    link = _CRITERIA[name]
    net_kind = _net_kind(net)
    if net_kind is not None and link not in _NETS[net_kind]:
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
    return link


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


def _device(net) -> torch.device:
    """``net.device``, or the device of the module's parameters when it has none."""
    device = getattr(net, "device", None)
    if device is None:
        first = next(iter(net.module_.parameters()), None)
        device = first.device if first is not None else "cpu"
    return torch.device(device)


def _flatten_params(module, names: list[str], device):
    """The selected parameters flattened into ``θ``, and the module's other tensors.

    Returns
    -------
    layout : list of (str, int, int, torch.Size)
        ``(name, begin, stop, shape)`` of each selected parameter in ``θ``.
    theta : torch.Tensor of shape (m,)
        The selected parameters in float64, in ``names`` order.
    fixed : dict of str to torch.Tensor
        The other parameters (float64) and the buffers (floating ones in float64),
        held fixed.
    """
    named = dict(module.named_parameters())
    layout = []
    start = 0
    for name in names:
        shape = named[name].shape
        size = int(np.prod(shape)) if len(shape) else 1
        layout.append((name, start, start + size, shape))
        start += size
    selected = set(names)
    with torch.no_grad():
        theta = torch.cat([named[n].detach().to(device, torch.float64).reshape(-1) for n in names])
        fixed = {
            n: p.detach().to(device, torch.float64) for n, p in named.items() if n not in selected
        }
        for n, b in module.named_buffers():
            dtype = torch.float64 if b.is_floating_point() else b.dtype
            fixed[n] = b.detach().to(device, dtype)
    return layout, theta, fixed


def _check_outputs(net, link: str, n_out: int) -> tuple[np.ndarray | None, int]:
    """Check the module's output width ``K'`` against the criterion's link.

    Returns the class labels (position = encoded label; None for a regressor) and
    ``K``, the number of classes (1 for a regressor).
    """
    if link in ("multinomial", "log_probability"):
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
        return classes, n_out
    if n_out != 1:
        raise UnsupportedModelError(
            f"{type(net).__name__} must have a module with one output "
            f"per row, got {n_out}; several targets are not supported."
        )
    return (np.array([0, 1]), 2) if link == "logistic" else (None, 1)


def _linear_index(starts: dict[str, int], weight: str, bias: str | None, d_out: int, d_in: int):
    """Position in ``θ`` of every entry of an ``nn.Linear`` layer's ``[W | b]``.

    Parameters
    ----------
    starts : dict of str to int
        Where each selected parameter begins in ``θ`` (flattened row-major).
    weight, bias : str or None
        The layer's selected weight and bias (None: no bias, or not selected).
    d_out, d_in : int
        The weight's shape.

    Returns
    -------
    ndarray of shape (d_out, d_in + 1) or (d_out, d_in)
        ``index[o, j]`` is the position of ``W[o, j]`` (``j < d_in``) or ``b[o]``.
    """
    index = np.empty((d_out, d_in + (bias is not None)), dtype=np.intp)
    index[:, :d_in] = starts[weight] + np.arange(d_out * d_in).reshape(d_out, d_in)
    if bias is not None:
        index[:, d_in] = starts[bias] + np.arange(d_out)
    return index


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

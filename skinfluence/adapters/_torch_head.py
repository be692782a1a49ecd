"""A net's last ``nn.Linear`` layer as a linear model over its penultimate features.

The torch adapter's ``linear_head`` capability (:class:`LinearHeadMixin`), used by
representer points. The last ``nn.Linear`` layer ``s = W a + b`` (in
``module_.named_modules()`` order) over its input ``a`` (the penultimate features)
is a linear model ``s = Θ ã`` with ``ã = [a; 1]`` and ``Θ = [W | b]``; the layers
below it are a fixed feature map. One forward pass with a hook records ``ã`` and
the layer's output ``s``.

When ``s`` is the module's output unchanged (the layer is the module's last
operation), the head is a linear logistic, softmax or least-squares model on ``ã``,
exactly like a scikit-learn linear model on ``x̃``, and ``R = ∂L/∂s`` comes from the
same closed forms (:func:`._links.loss_gradient` of the net's link at ``s``): no
backward pass. Otherwise ``s`` reaches the loss through more operations: a softmax
for ``NLLLoss`` nets (whose outputs are ``log(P + eps)``, never ``s``), or anything
else a module does after its last linear layer. There ``R`` is the gradient of the
summed loss in a zero tangent added to ``s``, by autograd (one more forward pass
with a backward pass, two passes in all when the closed form was tried first).
"""

from __future__ import annotations

import numpy as np
import torch

from ..exceptions import UnsupportedModelError
from ._links import loss_gradient
from ._torch_checks import _eval_mode, _linear_index, _select_params

__all__ = ["LinearHeadMixin"]


class LinearHeadMixin:
    """The ``linear_head`` method of :class:`~skinfluence.adapters._torch.TorchAdapter`.

    Uses the host adapter's ``module``, ``link``, ``param_names``, ``_layout``,
    ``_theta``, ``lam``, ``device``, ``_rows``, ``_targets``, ``_module_output``,
    ``_outputs_of`` and ``_loss``.
    """

    def linear_head(self, X, y=None):
        """The last ``nn.Linear`` layer ``s = W a + b`` as a linear head over ``ã = [a; 1]``.

        ``a`` is the layer's input (the penultimate features). One forward pass with
        a hook records ``a`` and ``s``. When ``s`` is the module's output, ``R`` is the
        link's closed form at ``s`` (as for a linear model); otherwise (``NLLLoss``
        nets, or an operation after the layer) it is the gradient of the summed loss
        in a zero tangent added to ``s``, by autograd.

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
        name, layer, bias, index = self._head_layer()
        Xt = self._rows(X)
        b = Xt.shape[0]
        R = None
        with _eval_mode(self.module):
            if y is not None and self.link == "log_probability":
                a, R = self._head_autograd(name, layer, Xt, y)
            else:
                with torch.no_grad():
                    a, out, is_output = self._head_pass(name, layer, Xt)
                if y is not None and is_output:  # out = s = f: the linear closed form
                    R = loss_gradient(self.link, out.cpu().numpy(), y)
                elif y is not None:
                    _, R = self._head_autograd(name, layer, Xt, y)
        A = a.detach().cpu().numpy()
        if bias is not None:
            A = np.hstack([A, np.ones((b, 1))])
        return A, R, self.lam[index[0]].copy(), index

    def _head_layer(self):
        """The head's module name, module, selected bias name (or None) and index map."""
        last = _select_params(self.module, "last")
        weight = next(n for n in last if n.endswith("weight"))
        starts = {name: begin for name, begin, _, _ in self._layout}
        if weight not in starts:
            raise UnsupportedModelError(
                f"the linear head is the last nn.Linear layer ({weight!r}), which is not "
                f"in the parameter selection {self.param_names}; use params='last' or "
                "'all'."
            )
        name = weight[: -len("weight")].rstrip(".")
        layer = dict(self.module.named_modules())[name]
        d_out, d_in = layer.weight.shape
        bias = (f"{name}.bias" if name else "bias") if layer.bias is not None else None
        bias = bias if bias in starts else None
        return name, layer, bias, _linear_index(starts, weight, bias, d_out, d_in)

    def _head_pass(self, name, layer, Xt, tangent=None):
        """One forward pass recording the head's input ``a``.

        Returns ``(a, out, is_output)``: the module's (first) output and whether it
        is the head's output ``s`` itself, unmodified (the same tensor, not changed
        in place after the layer). With ``tangent``, the hook adds it to ``s`` (and
        ``is_output`` is False).
        """
        seen = []

        def hook(mod, inputs, output):
            seen.append((inputs[0], output, output._version))
            return None if tangent is None else output + tangent

        handle = layer.register_forward_hook(hook)
        try:
            out = self._module_output(self._theta, Xt)
        finally:
            handle.remove()
        b, d_in = Xt.shape[0], layer.weight.shape[1]
        if len(seen) != 1 or seen[0][0].shape != (b, d_in):
            raise UnsupportedModelError(
                f"the linear head needs the last nn.Linear layer {name!r} applied once "
                "per forward pass to (rows, features) inputs."
            )
        a, s, version = seen[0]
        return a, out, tangent is None and out is s and s._version == version

    def _head_autograd(self, name, layer, Xt, y):
        """``(a, ∂L/∂s)`` by autograd through a zero tangent added to ``s``."""
        tangent = torch.zeros(
            Xt.shape[0], layer.weight.shape[0], dtype=torch.float64, device=self.device
        )
        tangent.requires_grad_(True)
        a, out, _ = self._head_pass(name, layer, Xt, tangent)
        loss = self._loss(self._outputs_of(out, Xt.shape[0]), self._targets(y)).sum()
        return a, torch.autograd.grad(loss, tangent)[0].cpu().numpy()

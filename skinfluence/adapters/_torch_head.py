"""A net's last ``nn.Linear`` layer as a linear model over its penultimate features.

The torch adapter's ``linear_head`` capability (:class:`LinearHeadMixin`), used by
representer points: the last ``nn.Linear`` layer ``s = W a + b`` (in
``module_.named_modules()`` order) over its input ``a`` (the penultimate features)
is a linear model ``s = Θ ã`` with ``ã = [a; 1]`` and ``Θ = [W | b]``; the layers
below it are a fixed feature map.
"""

from __future__ import annotations

import numpy as np
import torch

from ..exceptions import UnsupportedModelError
from ._torch_checks import _eval_mode, _linear_index, _select_params

__all__ = ["LinearHeadMixin"]


class LinearHeadMixin:
    """The ``linear_head`` method of :class:`~skinfluence.adapters._torch.TorchAdapter`.

    Uses the host adapter's ``module``, ``param_names``, ``_layout``, ``_theta``,
    ``lam``, ``device``, ``_rows``, ``_targets``, ``_forward`` and ``_loss``.
    """

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
        index = _linear_index(starts, weight, bias, d_out, d_in)
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

"""Class probabilities of a skorch classifier under MC dropout (BALD's passes).

The torch adapter's ``mc_dropout`` capability (:class:`MCDropoutMixin`), and the
function it runs, :func:`mc_dropout_proba`.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from ..exceptions import UnsupportedModelError

__all__ = ["MCDropoutMixin", "mc_dropout_proba"]


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


class MCDropoutMixin:
    """The ``mc_dropout`` method of :class:`~skinfluence.adapters._torch.TorchAdapter`."""

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

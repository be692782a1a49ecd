"""The skorch callback that records TracIn checkpoints (public as ``skinfluence.callbacks``).

It lives beside the torch adapter, which reads the checkpoints back
(:meth:`TorchAdapter.checkpoints`); import it from :mod:`skinfluence.callbacks`.
Nothing imports this module at ``import skinfluence`` time, so skorch stays
optional (``pip install skinfluence[skorch]``).
"""

from __future__ import annotations

from numbers import Integral

import numpy as np

try:
    from skorch.callbacks import Callback
except ImportError as exc:  # pragma: no cover - exercised without skorch only
    raise ImportError(
        "skinfluence.callbacks needs skorch; install it with "
        "`pip install skinfluence[skorch]` (or `pip install skorch`)."
    ) from exc

__all__ = ["TracInCheckpoints"]


class TracInCheckpoints(Callback):
    """Record parameter checkpoints and learning rates for TracIn (Pruthi et al. 2020).

    Add it to a skorch net's ``callbacks``; after ``fit``, ``method="tracin"`` and
    ``method="self_tracin"`` of :class:`~skinfluence.InfluenceTrimmer` and
    :func:`~skinfluence.influence_scores` read the checkpoints from the fitted net.
    A checkpoint is taken at the end of every ``every``-th epoch, and at the end of
    training if the last epoch was not one of them (so the fitted parameters are
    always the last checkpoint). Each holds a CPU copy of every module parameter and
    floating-point buffer, in the dtype the module trains in (float32 for default
    nets; the measures compute in float64), and the learning rate of each
    parameter's optimizer group at that moment.

    Memory: ``n_checkpoints × (number of parameters + buffers)`` values. A new
    ``fit`` (which re-initialises the net) clears the checkpoints; ``partial_fit``
    appends to them.

    Parameters
    ----------
    every : int, default=1
        Take a checkpoint every ``every`` epochs (``1`` = every epoch).

    Attributes
    ----------
    checkpoints_ : list of dict
        One per checkpoint, oldest first, with keys ``"epoch"`` (int, epochs done),
        ``"step"`` (int, optimizer steps done: training batches since the net was
        initialised), ``"params"`` (dict of parameter and buffer name to ndarray)
        and ``"lr"`` (dict of parameter name to float).
    steps_ : int
        Optimizer steps counted so far.

    See Also
    --------
    skinfluence.influence_scores : ``method="tracin"``, ``"self_tracin"``, ``"gas"``
        or ``"source"``.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from skorch import NeuralNetBinaryClassifier
    >>> from skinfluence.callbacks import TracInCheckpoints
    >>> X = np.random.default_rng(0).normal(size=(64, 3)).astype(np.float32)
    >>> y = (X[:, 0] > 0).astype(np.float32)
    >>> checkpoints = TracInCheckpoints(every=2)
    >>> net = NeuralNetBinaryClassifier(
    ...     torch.nn.Linear(3, 1), max_epochs=5, train_split=None,
    ...     callbacks=[checkpoints], verbose=0,
    ... ).fit(X, y)
    >>> [c["epoch"] for c in checkpoints.checkpoints_]
    [2, 4, 5]
    """

    def __init__(self, every: int = 1):
        self.every = every

    def initialize(self):
        """Validate ``every`` and clear the checkpoints (called by the net's ``initialize``).

        Returns
        -------
        self : TracInCheckpoints
        """
        if not isinstance(self.every, Integral) or isinstance(self.every, bool) or self.every < 1:
            raise ValueError(f"every must be a positive int, got {self.every!r}.")
        self.checkpoints_ = []
        self.steps_ = 0
        return self

    def _record(self, net) -> None:
        epoch = len(net.history)
        if self.checkpoints_ and self.checkpoints_[-1]["epoch"] == epoch:
            return
        module = net.module_
        params = {
            name: p.detach().to("cpu", copy=True).numpy() for name, p in module.named_parameters()
        }
        for name, b in module.named_buffers():
            if b.is_floating_point():
                params[name] = b.detach().to("cpu", copy=True).numpy()
        by_id = {}
        for group in net.optimizer_.param_groups:
            for p in group["params"]:
                by_id[id(p)] = float(group["lr"])
        lr = {name: by_id.get(id(p), 0.0) for name, p in module.named_parameters()}
        step = int(getattr(self, "steps_", 0))
        self.checkpoints_.append({"epoch": epoch, "step": step, "params": params, "lr": lr})

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        """Count the optimizer steps (one per training batch)."""
        if training:
            self.steps_ = getattr(self, "steps_", 0) + 1

    def on_epoch_end(self, net, **kwargs):
        """Take a checkpoint when the number of finished epochs is a multiple of ``every``."""
        if len(net.history) % self.every == 0:
            self._record(net)

    def on_train_end(self, net, **kwargs):
        """Take a checkpoint of the final parameters unless the last epoch already did."""
        if len(net.history):
            self._record(net)

    def total_bytes(self) -> int:
        """Memory held by the checkpoints, in bytes.

        Returns
        -------
        int
        """
        return int(
            sum(
                sum(np.asarray(a).nbytes for a in c["params"].values())
                for c in getattr(self, "checkpoints_", [])
            )
        )

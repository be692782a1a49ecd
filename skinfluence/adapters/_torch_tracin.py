"""TracIn's checkpoints, read back from a skorch net, and the net at each of them.

The torch adapter's ``checkpoints`` capability (:class:`CheckpointsMixin`): the
checkpoints the :class:`~skinfluence.callbacks.TracInCheckpoints` callback recorded
during training (:mod:`._checkpoints`), the adapter at a whole saved module state,
and one value per parameter (a learning rate) spread over ``θ``.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from ..exceptions import UnsupportedModelError

__all__ = ["CheckpointsMixin"]


class CheckpointsMixin:
    """The ``checkpoints`` methods of :class:`~skinfluence.adapters._torch.TorchAdapter`.

    Uses the host adapter's ``estimator``, ``module``, ``param_names``, ``n_params``,
    ``_layout``, ``_fixed``, ``device`` and ``model_name``.
    """

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

    def at_state(self, state):
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

    def step_sizes(self, lr) -> np.ndarray:
        """The optimizer's step along ``-∂θR`` per parameter, for learning rates ``lr``.

        ``R`` is the adapter's mean-loss form. The optimizer steps along the gradient
        of the mean criterion plus ``wd·θ``: that is ``∂θR`` for the classifiers'
        criteria and ``2 ∂θR`` for ``MSELoss`` (whose mean-loss form is half the
        criterion), so the step is ``lr``, or ``2 lr`` for a regressor (plain SGD).

        Parameters
        ----------
        lr : mapping of str to float
            A learning rate for every selected parameter (a checkpoint's ``"lr"``).

        Returns
        -------
        ndarray of shape (m,)
        """
        scale = 2.0 if self.link == "squared" else 1.0
        return scale * self.per_parameter(lr)

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

"""The small torch modules the tests train with skorch.

It imports torch: torch-only test modules import it at the top, after skipping where
torch is missing; modules that also hold numpy-only tests import it inside their
torch-marked tests and fixtures. A test picks its variant through skorch's
``module__...`` arguments or ``functools.partial`` (skorch calls any callable given as
``module`` with those arguments).

Parameter names, in θ's order: :class:`Linear` has ``lin.weight``, ``lin.bias``;
:class:`MLP` has ``body.0.weight``, ``body.0.bias`` (the first hidden layer; with
``depth=2`` the second is ``body.2``, or ``body.3`` after a dropout layer),
``head.weight``, ``head.bias``. ``scale=True`` adds a scalar ``scale`` that multiplies
the outputs, a parameter outside every linear layer (first in θ: torch lists a module's
own parameters before its submodules').
"""

from __future__ import annotations

import torch


def _output_options(module, softmax, scale):
    module.softmax = softmax  # probabilities out, for NLLLoss
    module.scale = torch.nn.Parameter(torch.ones(1)) if scale else None


def _output(module, z):
    if module.scale is not None:
        z = z * module.scale
    return torch.softmax(z, dim=-1) if module.softmax else z


class Linear(torch.nn.Module):
    """One linear layer ``lin``, ``p`` inputs to ``k`` outputs: a linear model."""

    def __init__(self, p=4, k=3, bias=True, softmax=False, scale=False):
        super().__init__()
        self.lin = torch.nn.Linear(p, k, bias=bias)
        _output_options(self, softmax, scale)

    def forward(self, x):
        return _output(self, self.lin(x))


class MLP(torch.nn.Module):
    """``body``: ``depth`` hidden layers of width ``hidden`` (linear, activation, and
    dropout when ``dropout > 0``); ``head``: the linear layer to ``k`` outputs."""

    def __init__(
        self,
        p=4,
        k=3,
        hidden=5,
        depth=1,
        activation=torch.nn.Tanh,
        dropout=0.0,
        softmax=False,
        scale=False,
    ):
        super().__init__()
        layers = []
        for i in range(depth):
            layers += [torch.nn.Linear(p if i == 0 else hidden, hidden), activation()]
            if dropout:
                layers.append(torch.nn.Dropout(dropout))
        self.body = torch.nn.Sequential(*layers)
        self.head = torch.nn.Linear(hidden, k)
        _output_options(self, softmax, scale)

    def forward(self, x):
        return _output(self, self.head(self.body(x)))

"""Shared fixtures, and what the ``torch`` marker does.

A test marked ``torch`` (by a decorator, on its class, or by a module's ``pytestmark``)
is skipped, with the reason, where torch or skorch cannot be imported, and runs with
one torch thread (tiny tensors gain nothing from threads, and contended threads are
slow). Modules that mix numpy-only and torch tests import torch, skorch, ``_nets`` and
``_oracles`` inside the torch tests and their fixtures, so that ``python -m pytest -m
"not torch"`` runs every other test on a machine without torch; torch-only modules skip
themselves at the top where torch is missing.
"""

import functools

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.preprocessing import StandardScaler

# helper modules without doctests; --doctest-modules would import them (and torch)
collect_ignore = ["_nets.py", "_oracles.py"]


@functools.cache
def _torch_missing():
    """Why the torch-marked tests cannot run here, or None."""
    try:
        import skorch  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        return f"needs torch and skorch: {exc}"
    return None


_torch_threads = []  # the thread count to restore after a torch-marked test


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    # runs before the test's fixtures are set up, module-scoped nets included
    if item.get_closest_marker("torch") is None:
        return
    reason = _torch_missing()
    if reason:
        pytest.skip(reason)
    import torch

    _torch_threads.append(torch.get_num_threads())
    torch.set_num_threads(1)


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item, nextitem):
    if _torch_threads:
        import torch

        torch.set_num_threads(_torch_threads.pop())


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def binary_300x6():
    """300 rows, 6 standardised features (4 informative), labels 0/1."""
    X, y = make_classification(n_samples=300, n_features=6, n_informative=4, random_state=0)
    return StandardScaler().fit_transform(X), y


@pytest.fixture
def binary_200x5():
    """200 rows, 5 raw features (make_classification's defaults), labels 0/1."""
    return make_classification(n_samples=200, n_features=5, random_state=0)

"""Fixtures shared by the test modules."""

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.preprocessing import StandardScaler


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

"""
Data Shapley values and removal curves
======================================

:class:`~skinfluence.ShapleyValuator` gives every training row a value: its average
contribution to the validation accuracy over random orders of the rows (truncated Monte
Carlo Shapley, ``method="tmc"``), or, for a k-nearest-neighbours model, the exact
closed form (``method="knn"``). Higher = more valuable; ``budget`` drops the lowest.

A good valuation passes the removal test drawn by
:class:`~skinfluence.ValuationCurveDisplay` (as in OpenDataVal): removing the most
valuable rows first should hurt the test accuracy quickly, removing the least valuable
first should not (and helps when those rows are mislabeled). Here 15 % of the training
labels are flipped, so we can also check that the flipped rows get low values.
"""

# sphinx_gallery_thumbnail_path = "images/gallery/plot_shapley_valuation.png"

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler

from skinfluence import ShapleyValuator, ValuationCurveDisplay

X, y = load_breast_cancer(return_X_y=True)
X = StandardScaler().fit_transform(X)
X_train, X_rest, y_train, y_rest = train_test_split(
    X, y, train_size=120, random_state=0, stratify=y
)
X_val, X_test, y_val, y_test = train_test_split(
    X_rest, y_rest, train_size=100, random_state=0, stratify=y_rest
)
rng = np.random.default_rng(0)
flipped = rng.choice(len(y_train), size=18, replace=False)
y_noisy = y_train.copy()
y_noisy[flipped] = 1 - y_noisy[flipped]

# %%
# Truncated Monte Carlo Shapley and exact KNN-Shapley
# ---------------------------------------------------
valuators = {
    "tmc": ShapleyValuator(
        LogisticRegression(), method="tmc", max_iter=40, max_time=20, random_state=0
    ),
    "knn": ShapleyValuator(KNeighborsClassifier(5), method="knn"),
}
for name, valuator in valuators.items():
    valuator.fit(X_train, y_noisy, X_val=X_val, y_val=y_val)
    lowest = np.argsort(valuator.values_)[: len(flipped)]
    hits = np.isin(lowest, flipped).sum()
    print(
        f"{name}: {valuator.n_iter_} iteration(s); {hits} of the {len(flipped)} "
        f"lowest-valued rows are flipped (random: about {len(flipped) ** 2 / len(y_train):.1f})"
    )

# %%
# Removal curves
# --------------
fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
for ax, (name, valuator) in zip(axes, valuators.items()):
    ValuationCurveDisplay.from_estimator(
        valuator,
        X_train,
        y_noisy,
        X_test,
        y_test,
        fractions=(0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4),
        ax=ax,
    )
    ax.set_title(f"method={name!r}")
fig.tight_layout()
plt.show()

"""
Trimming the training set of a skorch network
=============================================

:class:`~skinfluence.InfluenceTrimmer` works with skorch nets as with scikit-learn
models. Influence is taken over the last linear layer (``params="last"``: a linear
softmax model on the network's penultimate features, small and convex), with a little
``damping``. The net is trained with ``train_split=None`` so that the influence refers to
every training row, and it gets ``float32`` rows.

The data are scikit-learn's breast-cancer set with 10 % of the training labels flipped;
we count how many flipped rows the trimmer removes, and draw how many of the rows each
method ranks first are flipped ones.
"""

# sphinx_gallery_thumbnail_path = "images/gallery/plot_skorch_mlp.png"

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from skorch import NeuralNetClassifier

from skinfluence import InfluenceTrimmer

torch.manual_seed(0)
X, y = load_breast_cancer(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
scaler = StandardScaler().fit(X_train)
X_train = scaler.transform(X_train).astype(np.float32)
X_test = scaler.transform(X_test).astype(np.float32)

rng = np.random.default_rng(0)
flipped = rng.choice(len(y_train), size=len(y_train) // 10, replace=False)
y_noisy = y_train.copy()
y_noisy[flipped] = 1 - y_noisy[flipped]


class MLP(torch.nn.Module):
    def __init__(self, n_features=30, hidden=32):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(n_features, hidden), torch.nn.ReLU())
        self.out = torch.nn.Linear(hidden, 2)

    def forward(self, x):
        return self.out(self.body(x))


net = NeuralNetClassifier(
    MLP,
    criterion=torch.nn.CrossEntropyLoss,
    optimizer=torch.optim.Adam,
    optimizer__weight_decay=1e-3,
    lr=1e-2,
    max_epochs=40,
    batch_size=64,
    train_split=None,
    verbose=0,
)

# %%
# Trim by the default and by influence on the last layer
# ------------------------------------------------------
# ``method="auto"`` runs ``loo_confidence`` on a net too (how unlikely each row's label
# is when the row is left out, from one Newton step on the last layer); ``"if"`` and
# ``"fi"`` score against validation rows cross-fitted from the same noisy data.
baseline = net.fit(X_train, y_noisy).score(X_test, y_test)
print(f"test accuracy, all rows: {baseline:.3f}")
trimmers = {}
for method in ("auto", "if", "fi"):
    torch.manual_seed(0)
    trimmers[method] = trimmer = InfluenceTrimmer(
        net, method=method, params="last", damping=1e-3, budget=30, random_state=0
    ).fit(X_train, y_noisy)
    hits = np.isin(trimmer.trimmed_indices_, flipped).sum()
    print(
        f"{method!r} ({trimmer.method_}): {hits} of {len(trimmer.trimmed_indices_)} trimmed "
        f"rows were flipped (random: about 3); test accuracy {trimmer.score(X_test, y_test):.3f}"
    )

# %%
# Which rows come first
# ---------------------
# The share of flipped rows among the ``k`` rows each method scores highest: the
# trimmer with ``budget=k`` removes exactly those. A random order finds the flipped
# rows at their base rate, 10 %.
is_flipped = np.isin(np.arange(len(y_train)), flipped)
k = np.arange(1, 101)
fig, ax = plt.subplots(figsize=(6.4, 4), layout="constrained")
for method, trimmer in trimmers.items():
    order = np.argsort(-trimmer.scores_, kind="stable")
    ax.plot(k, np.cumsum(is_flipped[order][: len(k)]) / k, label=f"{method} ({trimmer.method_})")
ax.axhline(is_flipped.mean(), color="0.4", linestyle="--", label="random order")
ax.axvline(30, color="0.6", linestyle=":", linewidth=1)
ax.set_xlabel("rows examined, highest score first (budget)")
ax.set_ylabel("share of them with a flipped label")
ax.set_ylim(0, 1.02)
ax.legend(loc="upper right")
plt.show()

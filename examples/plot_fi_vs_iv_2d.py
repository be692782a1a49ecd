"""
FI versus classic influence on two Gaussians (seed 000, Figure 1)
=================================================================

Seed 000 (*Enhancing Training Robustness through Influence Measure*) opens with a
two-dimensional picture: two Gaussian classes, a logistic regression, and the rows that
two influence measures would trim — FI^util (``method="fi"``) and the classic influence
on the validation loss (``method="if"``, the IV baseline). This example draws that picture
with :class:`~skinfluence.InfluenceScatterDisplay`: point size and colour grow with the
score (higher = trimmed first), trimmed rows are ringed, and the decision boundary is
drawn before and after trimming.

The setting is the one of the paper's Table 1 (``benchmarks/bench_quality.py`` part a):
class means ``±(1.25, 1.25)``, unit variance, 150 training rows, 100 validation rows,
600 test rows. Over 30 seeds that benchmark found FI ahead of IV in 25 of 30 seeds at
20 trimmed rows, but neither above no trimming on average
(:doc:`the speed and trimming benchmarks </benchmarks_issue2>`); one seed, as here,
shows what each measure picks, not which is better.
"""

# sphinx_gallery_thumbnail_path = "images/gallery/plot_fi_vs_iv_2d.png"

import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LogisticRegression

from skinfluence import InfluenceScatterDisplay, InfluenceTrimmer


def gaussians(n, rng):
    y = np.arange(n) % 2
    X = rng.normal(size=(n, 2)) + np.where(y[:, None] == 1, 1.25, -1.25)
    return X, y


rng = np.random.default_rng(3)
X, y = gaussians(150, rng)
X_val, y_val = gaussians(100, rng)
X_test, y_test = gaussians(600, rng)

# %%
# Trim 20 rows with each measure
# ------------------------------
# With an explicit validation set every training row is scored, and the final model is
# refitted on the kept training rows only.
budget = 20
trimmers = {
    method: InfluenceTrimmer(LogisticRegression(), method=method, budget=budget).fit(
        X, y, X_val=X_val, y_val=y_val
    )
    for method in ("fi", "if")
}
untrimmed = LogisticRegression().fit(X, y)
print(f"test accuracy, no trimming: {untrimmed.score(X_test, y_test):.3f}")
for method, trimmer in trimmers.items():
    removed = trimmer.trimmed_indices_
    print(
        f"test accuracy after trimming {budget} rows by {method!r}: "
        f"{trimmer.score(X_test, y_test):.3f}; removed rows per class: "
        f"{np.bincount(y[removed], minlength=2)}"
    )

# %%
# Scores, trimmed rows and boundaries
# -----------------------------------
# Compare where each measure's high scores lie, which rows it removes and how far the
# boundary moves (the paper's Figure 1.C–D shows IV trimming mostly one class on some
# seeds; change the seed above to see how much the picture varies).
fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharex=True, sharey=True)
for ax, (method, trimmer) in zip(axes, trimmers.items()):
    InfluenceScatterDisplay.from_estimator(trimmer, X, y, ax=ax, grid_resolution=150)
    ax.set_title(f"method={method!r}: {budget} rows trimmed")
fig.tight_layout()
plt.show()

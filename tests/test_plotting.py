"""Displays render headlessly to PNG."""

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from skinfluence import ActiveLearningDisplay, InfluenceActiveLearner  # noqa: E402


def test_active_learning_display_renders(tmp_path):
    import matplotlib.pyplot as plt
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=200, n_features=5, random_state=0)
    y_partial = np.where(np.arange(200) < 20, y, -1)
    fig, ax = plt.subplots()
    for method in ("entropy", "random"):
        learner = InfluenceActiveLearner(
            method=method, batch_size=10, n_rounds=3, random_state=0
        ).fit(X[:150], y_partial[:150], y_oracle=y[:150], X_val=X[150:], y_val=y[150:])
        display = ActiveLearningDisplay.from_estimator(learner, ax=ax)
        np.testing.assert_array_equal(display.line_.get_xdata(), [20, 30, 40, 50])
        np.testing.assert_allclose(
            display.line_.get_ydata(), [h["score"] for h in learner.history_]
        )
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["entropy", "random"]
    path = tmp_path / "curve.png"
    display.figure_.savefig(path)
    assert path.stat().st_size > 1000
    plt.close("all")


def test_history_without_scores_is_refused():
    with pytest.raises(ValueError, match="X_val"):
        ActiveLearningDisplay.from_history([{"n_labeled": 5, "score": np.nan}])

"""Pipelines: influence of the final model on the transformed rows, one score per raw row."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skinfluence import InfluenceActiveLearner, InfluenceTrimmer, influence_scores

pd = pytest.importorskip("pandas")


def _frame(n=160, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n),
            "income": rng.lognormal(3, 0.5, n),
            "city": rng.choice(["paris", "lyon", "nice"], n),
            "plan": rng.choice(["a", "b"], n),
        }
    )
    logit = 0.08 * (df["age"] - 40) + (df["city"] == "paris") - 0.5 * (df["plan"] == "b")
    y = (logit + rng.normal(0, 1, n) > 0).astype(int).to_numpy()
    return df, y


def _pipeline(sparse: bool) -> Pipeline:
    pre = ColumnTransformer(
        [
            ("num", StandardScaler(), ["age", "income"]),
            ("cat", OneHotEncoder(sparse_output=sparse), ["city", "plan"]),
        ],
        sparse_threshold=1.0 if sparse else 0.0,
    )
    return make_pipeline(pre, LogisticRegression())


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("method", ["if", "fi", "loo_confidence", "self"])
def test_pipeline_scores_equal_the_final_step_on_transformed_rows(sparse, method):
    df, y = _frame()
    train, val = df.iloc[:120], df.iloc[120:]
    pipe = _pipeline(sparse).fit(train, y[:120])
    Xt, Xvt = pipe[:-1].transform(train), pipe[:-1].transform(val)
    assert sp.issparse(Xt) == sparse
    got = influence_scores(pipe, train, y[:120], val, y[120:], method)
    want = influence_scores(pipe[-1], Xt, y[:120], Xvt, y[120:], method)
    np.testing.assert_allclose(got, want, rtol=1e-10)
    assert got.shape == (120,)


def test_trimmer_around_a_pipeline_on_raw_rows():
    df, y = _frame()
    before = df.copy()
    trim = InfluenceTrimmer(_pipeline(False), budget=8).fit(df, y)
    pd.testing.assert_frame_equal(df, before)  # the caller's frame is untouched
    assert trim.method_ == "loo_confidence" and np.isfinite(trim.scores_).all()
    # the scores are the final model's on the rows its own preprocessing produced
    fitted = _pipeline(False).fit(df, y)
    want = influence_scores(fitted, df, y, method="loo_confidence")
    np.testing.assert_allclose(trim.scores_, want, rtol=1e-10)
    assert len(trim.sample_indices_) == len(y) - 8
    assert trim.predict(df).shape == (len(y),)
    # a validation-based method, cross-fitted, with the raw validation rows
    cross = InfluenceTrimmer(_pipeline(True), method="if", budget=8, random_state=0).fit(df, y)
    assert np.isfinite(cross.scores_).all()
    Xr, yr = cross.fit_resample(df, y)
    assert isinstance(Xr, pd.DataFrame) and len(Xr) == len(y) - 8
    # explicit raw validation rows
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no feature-name warnings
        held = InfluenceTrimmer(_pipeline(False), method="if", budget=5).fit(
            df.iloc[:120], y[:120], X_val=df.iloc[120:], y_val=y[120:]
        )
    fitted = _pipeline(False).fit(df.iloc[:120], y[:120])
    want = influence_scores(fitted, df.iloc[:120], y[:120], df.iloc[120:], y[120:], "if")
    np.testing.assert_allclose(held.scores_, want, rtol=1e-10)


def test_active_learner_around_a_pipeline():
    df, y = _frame()
    y_partial = np.where(np.arange(len(y)) < 60, y, -1)
    learner = InfluenceActiveLearner(_pipeline(False), random_state=0).fit(df, y_partial)
    assert learner.query(5).shape == (5,)
    assert np.isfinite(learner.scores_[60:]).all()


@pytest.mark.parametrize("method", ["fi", "entropy", "bald"])
def test_active_learner_on_a_dataframe_warns_nothing(method):
    df, y = _frame()
    numeric = df[["age", "income"]]
    numeric = (numeric - numeric.mean()) / numeric.std()
    y_partial = np.where(np.arange(len(y)) < 60, y, -1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. "X does not have valid feature names"
        learner = InfluenceActiveLearner(
            method=method, n_rounds=2, n_estimators=3, random_state=0
        ).fit(numeric, y_partial, y_oracle=y, X_val=numeric.iloc[:40], y_val=y[:40])
    assert learner.history_[-1]["n_labeled"] == 80

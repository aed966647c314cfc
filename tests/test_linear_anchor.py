"""The linear anchor: shrinkage-LDA weights, activation pattern (Haufe) and w*x as relevance."""

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.pipeline import make_pipeline

from neurolrp import cross_validate, explain
from neurolrp.datasets import epochs_to_arrays, simulate_erp
from neurolrp.decoding import (TimeWindowMeans, linear_relevance, linear_relevance_out_of_fold,
                               linear_weights, make_slda, slda_pattern)
from neurolrp.evaluation import localization
from neurolrp.relevance import validate_relevance


@pytest.fixture(scope="module")
def erp():
    return simulate_erp(60, "p300", snr=3.0, verbose=False)


@pytest.fixture(scope="module")
def fitted(erp):
    ep, _ = erp
    X, y, _ = epochs_to_arrays(ep)  # labels are the event names, as in cross_validate
    return make_slda().fit(X, y), X, y


def _plain_lda(n_windows=1):
    # no shrinkage: then LDA's weights are exactly Sigma_within^-1 (mu_1 - mu_0)
    return make_pipeline(TimeWindowMeans(n_windows), LinearDiscriminantAnalysis(solver="lsqr"))


def test_pattern_is_the_class_mean_difference_for_lda():
    # total covariance = within + p0 p1 dmu dmu^T, so Cov w = dmu (1 + p0 p1 dmu^T w):
    # the pattern of LDA points along the class-mean difference whatever the covariance
    rng = np.random.default_rng(0)
    mix = np.array([[1.0, 0.8, 0.0], [0.8, 1.0, 0.3], [0.0, 0.3, 1.0]])
    y = np.repeat([0, 1], 150)
    X = rng.standard_normal((300, 3)) @ np.linalg.cholesky(mix).T
    X[y == 1] += [1.0, -0.5, 0.2]
    X = X[:, :, None]  # three channels, one sample
    est = _plain_lda().fit(X, y)
    a = slda_pattern(est, X)[1, :, 0]
    dmu = X[y == 1, :, 0].mean(0) - X[y == 0, :, 0].mean(0)
    assert abs(a @ dmu) / np.linalg.norm(a) / np.linalg.norm(dmu) == pytest.approx(1, abs=1e-10)
    w = linear_weights(est)[0][1, :, 0]
    assert w @ a == pytest.approx(1, rel=1e-10)  # Haufe's scaling: w^T a = 1
    # two classes: the first class's score is -d, its pattern the opposite one
    np.testing.assert_allclose(slda_pattern(est, X)[0], -slda_pattern(est, X)[1])


def test_distractor_channel_has_weight_but_no_pattern():
    # channel 2 carries only the noise that channel 1 also has: the filter subtracts it
    # (large weight), the pattern says no signal is there (Haufe et al. 2014, Fig. 1)
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1], 500)
    noise = 2.0 * rng.standard_normal(1000)
    X = np.stack([np.where(y == 1, 1.0, -1.0) + noise + 0.1 * rng.standard_normal(1000),
                  noise + 0.1 * rng.standard_normal(1000)], axis=1)[:, :, None]
    est = _plain_lda().fit(X, y)
    w = linear_weights(est)[0][1, :, 0]
    a = slda_pattern(est, X)[1, :, 0]
    assert abs(w[1]) > 0.9 * abs(w[0])  # the filter uses the distractor
    assert abs(a[1]) < 0.05 * abs(a[0])  # the pattern does not


def test_pattern_window_means_are_haufe_on_the_features(fitted):
    est, X, _ = fitted
    windows, lda = est.steps[0][1], est.steps[1][1]
    F = windows.transform(X)
    cov = np.cov(F, rowvar=False, bias=True)
    w = lda.coef_[0]
    expected = cov @ w / (w @ cov @ w)  # A = Cov(f) W (W^T Cov(f) W)^-1, one output
    a = slda_pattern(est, X)[1]
    split = np.array_split(np.arange(X.shape[2]), windows.n_windows)
    means = np.stack([a[:, idx].mean(axis=1) for idx in split], axis=1).ravel()
    np.testing.assert_allclose(means, expected, rtol=1e-6, atol=1e-9 * np.abs(expected).max())


def test_weights_reproduce_the_decision(fitted):
    est, X, _ = fitted
    W, b = linear_weights(est)
    d = est.decision_function(X)
    scores = np.einsum("kct,nct->nk", W, X) + b
    np.testing.assert_allclose(scores[:, 1], d, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(scores[:, 0], -d, rtol=1e-8, atol=1e-10)


def test_w_times_x_adds_up_to_the_score(erp, fitted):
    ep, truth = erp
    est, X, _ = fitted
    rel = linear_relevance(est, ep)
    validate_relevance(rel)
    assert rel.attrs["method"] == "slda:w*x"
    classes = list(est.classes_.astype(str))
    pred = est.predict(X).astype(str)
    np.testing.assert_array_equal(rel.y_pred.values.astype(str), pred)
    np.testing.assert_array_equal(rel.target.values, rel.y_pred.values)
    d = est.decision_function(X)
    sign = np.where(pred == classes[1], 1.0, -1.0)
    np.testing.assert_allclose(rel.score.values, sign * d, rtol=1e-5)
    b = est.steps[1][1].intercept_[0] * sign
    np.testing.assert_allclose(rel.sum(("channel", "time")).values, rel.score.values - b,
                               rtol=1e-4, atol=1e-5 * np.abs(rel.score.values).max())
    # the true class explained: positive score on correct trials only
    true = linear_relevance(est, ep, target="true")
    np.testing.assert_array_equal(true.score.values > 0, true.correct.values)
    assert (localization(rel, truth).auc > 0.5).mean() > 0.8  # it reads the P300 region


def test_pattern_relevance(erp, fitted):
    ep, truth = erp
    est, X, _ = fitted
    rel = linear_relevance(est, ep, "pattern", X_train=ep)
    validate_relevance(rel)
    a = slda_pattern(est, X)
    k = [list(est.classes_.astype(str)).index(t) for t in rel.target.values]
    np.testing.assert_allclose(rel.values, a[k] * rel.score.values[:, None, None], rtol=1e-5,
                               atol=1e-6 * np.abs(rel.values).max())
    assert localization(rel, truth).auc.mean() > 0.9  # the pattern sits on CPz at 300 ms


def test_same_coordinates_as_explain(erp, fitted):
    ep, _ = erp
    est, _, _ = fitted
    sub = ep[[3, 7, 9, 20]]
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(28 * 51, 2))
    deep = explain(net, sub, method="gradient", verbose=False)
    lin = linear_relevance(est, sub)
    assert deep.dims == lin.dims
    for c in ("trial", "channel", "time", "ch_x", "ch_y", "ch_z"):
        np.testing.assert_array_equal(deep[c].values, lin[c].values)
    assert list(lin.trial.values) == [3, 7, 9, 20]


def test_out_of_fold(erp):
    ep, _ = erp
    cv = cross_validate(ep, models=(), baselines=("slda",), n_splits=3, verbose=False)
    for method in ("w*x", "pattern"):
        rel = linear_relevance_out_of_fold(cv, ep, method)
        np.testing.assert_array_equal(rel.trial.values, ep.selection)
        preds = cv.predictions[cv.predictions.model == "slda"]
        np.testing.assert_array_equal(rel.y_pred.values.astype(str),
                                      preds.y_pred.values.astype(str))
        train, test = cv.folds[1]
        one = linear_relevance(cv.estimators["slda"][1], ep[test], method, X_train=ep[train])
        np.testing.assert_allclose(rel.sel(trial=one.trial.values).values, one.values)
        assert rel.attrs["out_of_fold"] == 3


def test_bad_input(erp, fitted):
    ep, _ = erp
    est, X, _ = fitted
    with pytest.raises(ValueError, match="X_train"):
        linear_relevance(est, ep, "pattern")
    with pytest.raises(ValueError, match="method"):
        linear_relevance(est, ep, "w*a")
    with pytest.raises(TypeError, match="make_slda"):
        linear_relevance(LinearDiscriminantAnalysis(), ep)
    with pytest.raises(NotFittedError, match="not fitted"):
        linear_relevance(make_slda(), ep)
    with pytest.raises(ValueError, match="fitted on 28 x 51"):
        linear_relevance(est, X[:, :, :40])
    with pytest.raises(ValueError, match="needs labels"):
        linear_relevance(est, X, target="true")
    with pytest.raises(ValueError, match="target"):
        linear_relevance(est, ep, target="left")
    with pytest.raises(ValueError, match="two trials"):
        slda_pattern(est, X[:1])

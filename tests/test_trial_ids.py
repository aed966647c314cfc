"""Trial identity: relevance (and cross-validation) number trials as the user's epochs do."""

import mne
import numpy as np
import pytest

import neurolrp
from neurolrp import EEGClassifier, cross_validate, explain
from neurolrp.attribution import explain_out_of_fold
from neurolrp.evaluation import perturbation

CH = ["C3", "Cz", "C4", "Pz"]
FAST = dict(max_epochs=2, patience=2, verbose=False)


@pytest.fixture(scope="module")
def epochs_with_gaps():
    """24 toy trials of two classes; trials 0 and 5 rejected, so the numbers have gaps."""
    rng = np.random.default_rng(0)
    n = 26
    codes = np.array([1, 2] * (n // 2))
    X = rng.standard_normal((n, len(CH), 64)) * 1e-5
    X[codes == 2, 0] *= 3.0
    info = mne.create_info(CH, 64.0, "eeg")
    info.set_montage(neurolrp.datasets.standard_montage())
    events = np.c_[np.arange(n) * 100, np.zeros(n, int), codes]
    ep = mne.EpochsArray(X, info, events=events, event_id={"a": 1, "b": 2}, verbose=False)
    return ep.drop([0, 5], verbose=False)


@pytest.fixture(scope="module")
def clf(epochs_with_gaps):
    return EEGClassifier("sturm", **FAST).fit(epochs_with_gaps)


def test_explain_keeps_the_epochs_numbers(clf, epochs_with_gaps, tmp_path):
    ep = epochs_with_gaps
    some = ep[[3, 7, 9]]
    rel = explain(clf, some, verbose=False)
    np.testing.assert_array_equal(rel.trial.values, some.selection)
    np.testing.assert_array_equal(rel.trial.values, [4, 9, 11])  # 0 and 5 were rejected
    whole = explain(clf, ep, verbose=False)
    np.testing.assert_array_equal(whole.trial.values, ep.selection)
    # the same trial has the same map, whichever selection it was explained in (up to
    # float32 round-off: a batch of 3 and one of 24 take different GEMM kernels on some
    # CPUs); a neighbour's map would differ by far more
    mine, theirs = whole.sel(trial=9).values, rel.sel(trial=9).values
    np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-5 * np.abs(mine).max())
    assert np.abs(whole.sel(trial=11).values - theirs).max() > 1e-2 * np.abs(mine).max()
    # in the order asked for, not sorted
    np.testing.assert_array_equal(explain(clf, ep[[9, 3]], verbose=False).trial.values, [11, 4])
    # arrays: numbered from 0, as before
    arr = explain(clf, ep.get_data()[[3, 7, 9]], verbose=False)
    np.testing.assert_array_equal(arr.trial.values, [0, 1, 2])
    # repeated trials cannot be told apart by number: numbered from 0
    twice = explain(clf, ep[[3, 3]], verbose=False)
    np.testing.assert_array_equal(twice.trial.values, [0, 1])
    # a file keeps them
    assert neurolrp.load_relevance(neurolrp.save_relevance(rel, tmp_path / "r.nc")).identical(
        rel)


@pytest.mark.parametrize("order", ["kept", "permuted"])
def test_out_of_fold_numbers_match_cross_validation(epochs_with_gaps, order):
    ep = epochs_with_gaps
    if order == "permuted":  # numbers that do not follow the epochs' order
        ep = ep[np.random.default_rng(1).permutation(len(ep))]
    cv = cross_validate(ep, models=("sturm",), n_splits=2, baseline=False,
                        classifier_params=dict(max_epochs=2, patience=2), verbose=False)
    preds = cv.predictions[cv.predictions.model == "sturm"]
    np.testing.assert_array_equal(preds.trial.values, ep.selection)  # in the epochs' order
    for k, (_, test) in enumerate(cv.folds):
        assert set(preds[preds.fold == k].trial) == set(ep.selection[test])
    rel = explain_out_of_fold(cv, ep, "sturm")
    np.testing.assert_array_equal(rel.trial.values, ep.selection)
    np.testing.assert_array_equal(rel.y_pred.values, preds.y_pred.values)
    # each trial is explained by the network that did not train on it
    for k, (_, test) in enumerate(cv.folds):
        own = explain(cv.estimators["sturm"][k], ep[test], verbose=False)
        np.testing.assert_array_equal(rel.sel(trial=own.trial.values).values, own.values)
    res = perturbation(cv, ep, {"lrp": rel}, granularities=("time",), n_steps=2,
                       verbose=False)
    assert np.isfinite(res.aopc.aopc).all()

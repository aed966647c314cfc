"""model="auto" (the default): the network is chosen by a test of the training data only."""

import json

import mne
import numpy as np
import pytest
from scipy.stats import binomtest
from sklearn.model_selection import StratifiedKFold, cross_val_predict

import neurolrp
from neurolrp import EEGClassifier, cross_validate
from neurolrp.classifier import AUTO_ALPHA, AUTO_CANDIDATES, AUTO_FOLDS
from neurolrp.datasets import epochs_to_arrays, simulate_erp, simulate_motor_imagery
from neurolrp.decoding import make_slda

FIT = {"max_epochs": 6, "patience": 3}
FAST = {**FIT, "verbose": False}


@pytest.fixture(scope="module")
def erp():
    ep, _ = simulate_erp(48, "readiness", snr=2.0, verbose=False)
    return ep


@pytest.fixture(scope="module")
def auto(erp):
    return EEGClassifier("auto", **FAST).fit(erp)


def test_choice_is_the_waveform_test_computed_another_way(erp, auto):
    X, y, sfreq = epochs_to_arrays(erp)
    folds = StratifiedKFold(AUTO_FOLDS, shuffle=True, random_state=0)
    pred = cross_val_predict(make_slda(), X, y, cv=folds)
    k = int((pred == y).sum())
    p = binomtest(k, len(y), 0.5, alternative="greater").pvalue
    sel = auto.model_selection_
    assert sel["slda_accuracy"] == pytest.approx(k / len(y), abs=0)
    assert sel["p_value"] == pytest.approx(p, rel=1e-9) and sel["chance"] == 0.5
    assert auto.model_ == ("eegnet" if p < AUTO_ALPHA else "shallow")
    assert all(isinstance(v, (int, float)) for v in sel.values())  # printable, roundable
    # the final network is the chosen one, trained on all the data given, as by name
    assert type(auto.module_).__name__ == {"shallow": "ShallowNet", "eegnet": "EEGNet"}[
        auto.model_]
    ref = EEGClassifier(auto.model_, **FAST).fit(erp)
    np.testing.assert_array_equal(auto.predict_proba(erp), ref.predict_proba(erp))
    assert EEGClassifier().model == "auto"  # the default


def test_default_picks_the_network_for_the_evidence():
    """Waveform network on both ERP paradigms, band-power network on motor imagery."""
    one = {"max_epochs": 1, "verbose": False}
    for paradigm in ("readiness", "p300"):
        ep, _ = simulate_erp(80, paradigm, verbose=False)  # default SNR: sLDA about 0.8
        clf = EEGClassifier(**one).fit(ep)
        assert clf.model_ == "eegnet", (paradigm, clf.model_selection_)
    mi, _ = simulate_motor_imagery(60, sfreq=50.0, tmin=0.0, tmax=3.0, erd_window=(0.5, 2.5),
                                   verbose=False)
    mi = mi.filter(7.0, 20.0, fir_design="firwin", verbose=False)
    clf = EEGClassifier(**one).fit(mi)
    assert clf.model_ == "shallow", clf.model_selection_
    assert clf.model_selection_["p_value"] > AUTO_ALPHA


def test_no_leakage_from_the_test_folds(erp):
    """Each outer fold chooses on its own training trials: test trials changed, choice kept."""
    cv = cross_validate(erp, ("auto",), n_splits=3, baseline=False, classifier_params=FIT,
                        verbose=False)
    train0, test0 = cv.folds[0]
    data = erp.get_data(copy=True)
    data[test0] = np.random.default_rng(1).standard_normal(data[test0].shape) * 1e-4
    spoiled = mne.EpochsArray(data, erp.info, events=erp.events, event_id=erp.event_id,
                              tmin=erp.tmin, verbose=False)
    cv2 = cross_validate(spoiled, ("auto",), n_splits=3, baseline=False, classifier_params=FIT,
                         verbose=False)
    a, b = cv.estimators["auto"][0], cv2.estimators["auto"][0]
    assert a.model_selection_ == b.model_selection_
    alone = EEGClassifier("auto", **FAST).fit(erp[train0])
    assert alone.model_selection_ == a.model_selection_
    assert list(cv.scores.network) == [e.model_ for e in cv.estimators["auto"]]
    # a selection on all trials would have seen the spoiled ones: prove the spoiling matters
    whole = EEGClassifier("auto", **FAST)
    assert whole.fit(erp).model_selection_ != whole.fit(spoiled).model_selection_


def test_saved_and_explained(auto, erp, tmp_path):
    f = auto.save(tmp_path / "auto.pt")
    back = EEGClassifier.load(f)
    assert back.model == "auto" and back.model_ == auto.model_
    assert back.model_selection_ == auto.model_selection_
    np.testing.assert_array_equal(back.predict_proba(erp), auto.predict_proba(erp))
    rel = neurolrp.explain(auto, erp[:4], verbose=False)
    assert json.loads(rel.attrs["model_selection"]) == auto.model_selection_
    assert "model_selection" not in neurolrp.explain(
        EEGClassifier("shallow", **FAST).fit(erp), erp[:4], verbose=False).attrs


def test_bad_input_before_work(erp):
    with pytest.raises(ValueError, match="model_params"):
        EEGClassifier("auto", model_params={"n_filters": 4}, **FAST).fit(erp)
    with pytest.raises(ValueError, match="at least 3 trials of every class"):
        EEGClassifier("auto", **FAST).fit(erp[_two_per_class(erp)])
    with pytest.raises(ValueError, match="auto"):
        EEGClassifier("autom", **FAST).fit(erp)


def _two_per_class(ep):
    y = epochs_to_arrays(ep)[1]
    return np.concatenate([np.flatnonzero(y == c)[:2] for c in np.unique(y)])


def test_out_of_fold_names_each_folds_network(erp):
    """Folds that chose different networks: the relevance says which explained which fold."""
    cv = cross_validate(erp, ("auto",), n_splits=3, baseline=False, classifier_params=FIT,
                        verbose=False)
    # make fold 2 differ from fold 1 for certain: retrain it as the other candidate
    first = cv.estimators["auto"][0].model_
    other = [m for m in AUTO_CANDIDATES if m != first][0]
    train = cv.folds[1][0]
    cv.estimators["auto"][1] = EEGClassifier(other, **FAST).fit(erp[train])
    rel = neurolrp.explain_out_of_fold(cv, erp, "auto")
    names = {"shallow": "ShallowNet", "eegnet": "EEGNet"}
    expected = [names[e.model_] for e in cv.estimators["auto"]]
    assert json.loads(rel.attrs["model"]) == expected
    assert len(json.loads(rel.attrs["rules"])) == 3

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from neurolrp import EEGClassifier, cross_validate
from neurolrp.classifier import epochs_to_arrays


def _toy(n=40, seed=0):
    """Two classes that differ in the power of channel 0."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4, 64)).astype(np.float32)
    y = np.array(["a", "b"] * (n // 2))
    X[y == "b", 0] *= 3.0
    return X, y


FAST = dict(max_epochs=20, patience=20, verbose=False)


def test_sklearn_contract_on_arrays():
    X, y = _toy()
    clf = EEGClassifier("shallow", sfreq=32.0, **FAST)
    assert clone(clf).get_params() == clf.get_params()
    clf.set_params(lr=5e-3)
    assert clf.lr == 5e-3
    clf.fit(X, y)
    assert list(clf.classes_) == ["a", "b"]
    proba = clf.predict_proba(X)
    assert proba.shape == (40, 2) and np.allclose(proba.sum(1), 1)
    assert set(clf.predict(X)) <= {"a", "b"}
    assert clf.score(X, y) > 0.8
    assert isinstance(clf.module_, torch.nn.Module) and not clf.module_.training
    scores = cross_val_score(EEGClassifier("shallow", sfreq=32.0, **FAST), X, y, cv=2)
    assert scores.shape == (2,)
    pipe = make_pipeline(FunctionTransformer(lambda v: v * 2.0), EEGClassifier("sturm", sfreq=32.0,
                                                                               **FAST))
    assert pipe.fit(X, y).score(X, y) > 0.5


def test_fine_tune_continues_the_fitted_network():
    """fine_tune trains the fitted network further with fit's loop: seeded, labels checked."""
    X, y = _toy()
    clf = EEGClassifier("shallow", sfreq=32.0, **FAST).fit(X[:20], y[:20])
    with pytest.raises(NotFittedError):
        EEGClassifier("shallow", sfreq=32.0, **FAST).fine_tune(X, y)
    with pytest.raises(ValueError, match="not classes"):
        clf.fine_tune(X, np.where(y == "a", "a", "c"))
    before = {k: v.clone() for k, v in clf.module_.state_dict().items()}
    scale = clf.scale_std_.copy()
    assert clf.fine_tune(X[20:], y[20:], seed=3) is clf
    after = clf.module_.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)  # the weights moved
    np.testing.assert_array_equal(clf.scale_std_, scale)  # what fit learned otherwise stays
    assert len(clf.history_) >= 1 and not clf.module_.training
    # the patterns describe the layers as they are now, measured on the new trials
    from neurolrp.lrp import compute_between_class_patterns, compute_patterns

    x_new = torch.from_numpy(clf.scale(X[20:]))
    for name, a in compute_patterns(clf.module_, x_new).items():
        torch.testing.assert_close(clf.patterns_[name], a)
    y_idx = np.searchsorted(clf.classes_, y[20:])
    for name, a in compute_between_class_patterns(clf.module_, x_new, y_idx).items():
        torch.testing.assert_close(clf.class_patterns_[name], a)
    # the same start and seed give the same network
    twin = EEGClassifier("shallow", sfreq=32.0, **FAST).fit(X[:20], y[:20])
    twin.fine_tune(X[20:], y[20:], seed=3)
    np.testing.assert_array_equal(twin.logits(X), clf.logits(X))


def test_same_seed_same_predictions_and_exact_save_load(tmp_path):
    X, y = _toy()
    a = EEGClassifier("eegnet", sfreq=32.0, seed=3, **FAST).fit(X, y)
    b = EEGClassifier("eegnet", sfreq=32.0, seed=3, **FAST).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    a.save(tmp_path / "clf.pt")
    c = EEGClassifier.load(tmp_path / "clf.pt")
    np.testing.assert_array_equal(c.predict_proba(X), a.predict_proba(X))
    assert c.get_params() == a.get_params()
    np.testing.assert_array_equal(c.classes_, a.classes_)


def test_fit_and_predict_take_epochs(fitted_shallow, hands_feet_small):
    ep = hands_feet_small
    clf = fitted_shallow  # EEGClassifier("shallow").fit(ep), fitted once for the session
    assert clf.sfreq_ == 80 and clf.ch_names_ == ep.ch_names
    assert set(clf.classes_) == {"hands", "feet"}
    X, y, _ = epochs_to_arrays(ep)
    assert clf.score(ep) == clf.score(X, y)
    np.testing.assert_array_equal(clf.predict(ep), clf.predict(X))


def test_bad_input_errors(fitted_shallow, hands_feet_small):
    X, y = _toy()
    with pytest.raises(NotFittedError):
        EEGClassifier(sfreq=32.0).predict(X)
    with pytest.raises(ValueError, match="sfreq"):
        EEGClassifier(**FAST).fit(X, y)
    with pytest.raises(ValueError, match="one label per trial"):
        EEGClassifier(sfreq=32.0, **FAST).fit(X, y[:-1])
    with pytest.raises(ValueError, match="at least two classes"):
        EEGClassifier(sfreq=32.0, **FAST).fit(X, np.array(["a"] * 40))
    with pytest.raises(ValueError, match=r"shape \(n_trials, n_channels, n_times\)"):
        EEGClassifier(sfreq=32.0, **FAST).fit(X[0], y)
    bad = X.copy()
    bad[3, 1, 7] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        EEGClassifier(sfreq=32.0, **FAST).fit(bad, y)
    with pytest.raises(ValueError, match="model must be one of"):
        EEGClassifier("resnet", sfreq=32.0).fit(X, y)
    clf = EEGClassifier("shallow", sfreq=32.0, max_epochs=1, verbose=False).fit(X, y)
    with pytest.raises(ValueError, match="fitted on 4 x 64"):
        clf.predict(X[:, :3])
    with pytest.raises(ValueError, match="fitted on 4 x 64"):
        clf.predict(X[:, :, :50])
    with pytest.raises(ValueError, match="needs at least"):
        EEGClassifier("shallow", sfreq=32.0, **FAST).fit(X[:, :, :5], y)
    ep_clf = fitted_shallow  # fitted on hands_feet_small
    with pytest.raises(ValueError, match="sampled at"):
        ep_clf.predict(hands_feet_small.copy().resample(40))
    with pytest.raises(ValueError, match="channels differ"):
        ep_clf.predict(hands_feet_small.copy().reorder_channels(hands_feet_small.ch_names[::-1]))


def test_cross_validate_same_folds_and_out_of_fold_predictions(hands_feet_small):
    res = cross_validate(hands_feet_small, models=("shallow",), n_splits=3,
                         classifier_params={"max_epochs": 5, "patience": 5}, verbose=False)
    assert set(res.scores.model) == {"shallow", "csp+lda"}
    assert len(res.scores) == 6
    preds = res.predictions
    for name, df in preds.groupby("model"):
        assert sorted(df.trial) == list(range(45))  # every trial exactly once, out of fold
        for k, (train, test) in enumerate(res.folds):
            assert set(df[df.fold == k].trial) == set(test)
            assert not set(train) & set(test)
        acc = res.scores[res.scores.model == name].set_index("fold").accuracy
        np.testing.assert_allclose(df.groupby("fold").correct.mean().values, acc.values)
    assert {"proba_hands", "proba_feet"} <= set(preds.columns)
    assert len(res.estimators["shallow"]) == 3
    assert set(res.summary().index) == {"shallow", "csp+lda"}
    with pytest.raises(ValueError, match="Unknown model"):
        cross_validate(hands_feet_small, models=("resnet",))
    with pytest.raises(ValueError, match="fewer folds"):
        cross_validate(hands_feet_small, n_splits=30)

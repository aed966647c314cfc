"""Explainer: explain's work done once per model, the same relevance on every call."""

import re

import mne
import numpy as np
import pytest
import torch
import xarray as xr
from torch import nn

import neurolrp
import neurolrp.attribution as attribution
from neurolrp import EEGClassifier, Explainer, explain
from neurolrp.attribution import METHODS, REGISTRY
from neurolrp.models import ShallowNet

CH = ["C3", "Cz", "C4", "Pz"]


def _epochs(n=24, seed=0, names=CH):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, len(names), 64)) * 1e-5
    codes = np.array([1, 2] * (n // 2))
    X[codes == 2, 0] *= 3.0
    info = mne.create_info(list(names), 64.0, "eeg")
    info.set_montage("standard_1020")
    events = np.c_[np.arange(n) * 100, np.zeros(n, int), codes]
    return mne.EpochsArray(X, info, events=events, event_id={"left": 1, "right": 2}, tmin=0.0)


@pytest.fixture(scope="module")
def epochs():
    return _epochs()


@pytest.fixture(scope="module")
def clf(epochs):
    """EEGNet: ELU activations, so every method applies."""
    return EEGClassifier("eegnet", max_epochs=2, patience=2, verbose=False).fit(epochs)


def _same(a, b):
    xr.testing.assert_identical(a, b)
    assert list(a.coords) == list(b.coords)


@pytest.mark.parametrize("method", METHODS)
def test_explainer_gives_explains_relevance_for_every_method(clf, epochs, method):
    explainer = Explainer(clf, method)
    first = explainer(epochs[:5])
    _same(first, explain(clf, epochs[:5], method, verbose=False))
    # later calls (fixed coordinates reused) give what explain gives, on other data too
    X = epochs.get_data()
    _same(explainer(epochs[:5]), first)
    _same(explainer(X[5:9], y=["left", "right", "left", "right"]),
          explain(clf, X[5:9], method, y=["left", "right", "left", "right"], verbose=False))
    _same(explainer.explain(X[9:12]), explain(clf, X[9:12], method, verbose=False))


def test_explainer_options_reach_the_method(clf, epochs):
    X = epochs.get_data()[:4]
    for kwargs in ({"method": "lrp", "composite": "epsilon", "ignore_bias": True},
                   {"method": "lrp", "target": ("right", "left")},
                   {"method": "integrated-gradients", "n_steps": 4, "target": "true"},
                   {"method": "random", "seed": 3}):
        y = ["left", "right"] * 2
        _same(Explainer(clf, **kwargs)(X, y=y), explain(clf, X, y=y, verbose=False, **kwargs))


def test_options_a_method_does_not_use_are_refused(clf, epochs):
    given = {"composite": "epsilon", "ignore_bias": False, "n_steps": 8, "seed": 1}
    for method in METHODS:
        for option, value in given.items():
            if option in REGISTRY[method].options:
                continue
            for call in (lambda: Explainer(clf, method, **{option: value}),
                         lambda: explain(clf, epochs, method, **{option: value})):
                with pytest.raises(ValueError, match=rf"{option}=.* does not apply to "
                                                     rf"method='{re.escape(method)}'.*Leave it "
                                                     "out"):
                    call()
    # the defaults (None) are no option given
    Explainer(clf, "gradient", composite=None, ignore_bias=None, n_steps=None, seed=None)
    assert REGISTRY["lrp"].options == ("composite", "ignore_bias")
    assert REGISTRY["integrated-gradients"].options == ("n_steps",)
    assert REGISTRY["random"].options == ("seed",)


def test_bad_options_and_targets_raise_before_any_data(clf):
    with pytest.raises(ValueError, match="method must be one of"):
        Explainer(clf, "smoothgrad")
    with pytest.raises(ValueError, match="composite must be"):
        Explainer(clf, composite="nope")
    with pytest.raises(ValueError, match="not a class of the model"):
        Explainer(clf, target="feet")
    with pytest.raises(TypeError, match="contrast is a tuple"):
        Explainer(clf, target=["left", "right"])
    with pytest.raises(ValueError, match="batch_size must be"):
        Explainer(clf, batch_size=0)
    with pytest.raises(TypeError, match="model must be a fitted"):
        Explainer("eegnet")


def test_composite_is_resolved_once(clf, epochs, monkeypatch):
    calls = []
    real = attribution.get_composite
    monkeypatch.setattr(attribution, "get_composite", lambda c: calls.append(c) or real(c))
    explain(clf, epochs[:3], verbose=False)
    assert calls == [neurolrp.lrp.WAVEFORM_COMPOSITE]  # EEGNet: its default, chosen once
    calls.clear()
    explainer = Explainer(clf, composite="epsilon")
    explainer(epochs[:3])
    explainer(epochs[3:6])
    assert calls == ["epsilon"]


def test_one_trial(clf, epochs):
    explainer = Explainer(clf)
    X = epochs.get_data()
    one = explainer(X[3])  # (n_channels, n_times)
    assert one.dims == ("trial", "channel", "time") and one.shape == (1, 4, 64)
    _same(one, explain(clf, X[3:4], verbose=False))
    _same(explainer(torch.from_numpy(X[3])), one)
    for k in (4, 5, 6):  # another trial each time: a result of its own, nothing carried over
        _same(explainer(X[k]), explain(clf, X[k:k + 1], verbose=False))
    labelled = explainer(X[3], y="right")
    assert labelled.y_true.values.tolist() == ["right"]
    assert bool(labelled.correct[0]) == (labelled.y_pred.values[0] == "right")
    for k, label in ((4, "left"), (5, "right")):
        _same(explainer(X[k], y=label), explain(clf, X[k:k + 1], y=[label], verbose=False))
    # results share nothing writable: changing one changes no other
    a = explainer(X[7])
    b = explainer(X[7])
    a.values[:] = 0
    a.ch_x.values[:] = 0
    a.score.values[:] = 0
    _same(b, explainer(X[7]))
    assert np.abs(b.values).max() > 0 and not (b.ch_x.values == 0).any()
    assert (b.score.values != 0).all()
    _same(explain(clf, X[3], verbose=False), one)  # explain takes one trial too
    with pytest.raises(ValueError, match="shape"):
        explainer(X[3, 0])  # one channel's samples: not a trial


def test_data_are_checked_on_every_call(clf, epochs):
    explainer = Explainer(clf)
    explainer(epochs[:2])
    moved = epochs.copy().reorder_channels(CH[::-1])
    with pytest.raises(ValueError, match="another order"):
        explainer(moved)
    explainer(epochs[2:4])  # a good call in between changes nothing
    with pytest.raises(ValueError, match="missing"):
        explainer(_epochs(names=["C3", "Cz", "C4", "Oz"]))
    with pytest.raises(ValueError, match="sampled at"):
        explainer(epochs.copy().resample(32))
    with pytest.raises(ValueError, match="fitted on 4 x 64"):
        explainer(np.zeros((2, 4, 50)))
    with pytest.raises(ValueError, match="NaN or infinite"):
        bad = epochs.get_data()[:2].copy()
        bad[1, 2, 3] = np.nan
        explainer(bad)
    with pytest.raises(ValueError, match="not classes of the model"):
        explainer(epochs.get_data()[:2], y=["left", "feet"])


def test_an_explainer_is_bound_to_its_model(epochs):
    a = EEGClassifier("eegnet", max_epochs=1, patience=1, verbose=False, seed=1).fit(epochs)
    b = EEGClassifier("eegnet", max_epochs=1, patience=1, verbose=False, seed=2).fit(epochs)
    explainer = Explainer(a)
    assert explainer.model is a
    with pytest.raises(AttributeError):
        explainer.model = b
    _same(explainer(epochs[:4]), explain(a, epochs[:4], verbose=False))
    assert not np.allclose(explainer(epochs[:4]).values, explain(b, epochs[:4],
                                                                 verbose=False).values)


def test_the_explainer_follows_changes_of_its_model(epochs):
    clf = EEGClassifier("eegnet", max_epochs=1, patience=1, verbose=False, seed=1).fit(epochs)
    explainer = Explainer(clf)
    before = explainer(epochs[:4])
    with torch.no_grad():  # trained in place, as an adaptive decoder would
        next(clf.module_.parameters()).mul_(1.5)
    after = explainer(epochs[:4])
    assert not np.allclose(after.values, before.values)
    _same(after, explain(clf, epochs[:4], verbose=False))
    clf.set_params(seed=5).fit(epochs)  # fitted again: a new network
    _same(explainer(epochs[:4]), explain(clf, epochs[:4], verbose=False))


def _close(a, b):
    """The same maps up to float32 round-off (batches of other sizes take other kernels)."""
    np.testing.assert_allclose(a.values, b.values, rtol=1e-4, atol=1e-6 * np.abs(b.values).max())
    np.testing.assert_allclose(a.score.values, b.score.values, rtol=1e-5)
    assert a.y_pred.values.tolist() == b.y_pred.values.tolist()
    assert a.trial.values.tolist() == b.trial.values.tolist()


def _plain_net():
    torch.manual_seed(0)
    return ShallowNet(4, 64, 2, 64.0).eval()


def test_plain_network_bounds_and_patterns_come_from_x():
    net = _plain_net()
    X = np.random.default_rng(0).standard_normal((12, 4, 64)).astype(np.float32)
    with pytest.raises(ValueError, match="needs the input's range.*signal patterns.*Pass X="):
        Explainer(net)
    explainer = Explainer(net, X=X)
    # measured once on X: what explain measures on the data it explains
    ref = explain(net, X, verbose=False)
    got = explainer(X)
    assert got.attrs["patterns_from"] == "the Explainer's X"
    assert ref.attrs["patterns_from"] == "explained data"
    _same(got, ref.assign_attrs(patterns_from="the Explainer's X"))
    # ... and kept: one trial is explained with the bounds and patterns of X, not its own
    one = explainer(X[0])
    _close(one, got.isel(trial=[0]))
    assert not np.allclose(one.values, explain(net, X[:1], verbose=False).values)
    # composites that need nothing from data, and methods without rules, take no X
    Explainer(net, composite="epsilon")
    Explainer(net, "gradient")
    with pytest.raises(ValueError, match="Leave X out"):
        Explainer(net, "gradient", X=X)
    with pytest.raises(ValueError, match="Leave X out"):
        Explainer(net, composite="epsilon", X=X)


def test_a_classifier_brings_its_own_bounds_and_patterns(clf, epochs):
    with pytest.raises(ValueError, match="Leave X out"):
        Explainer(clf, X=epochs)
    old = EEGClassifier("eegnet", max_epochs=1, patience=1, verbose=False).fit(epochs)
    old.patterns_ = None  # as loaded from a file saved before patterns were kept
    with pytest.raises(ValueError, match="signal patterns.*Pass X="):
        Explainer(old)
    explainer = Explainer(old, X=epochs)
    rel = explainer(epochs[:3])
    assert rel.attrs["patterns_from"] == "the Explainer's X"
    # explain measures them on the data it explains, here the same epochs
    _close(rel, explain(old, epochs, verbose=False).isel(trial=[0, 1, 2]))


def test_plain_network_target_checked_at_the_first_call():
    net = _plain_net()
    X = np.random.default_rng(1).standard_normal((3, 4, 64)).astype(np.float32)
    explainer = Explainer(net, "gradient", target=5)
    with pytest.raises(ValueError, match="out of range for 2 outputs"):
        explainer(X)
    with pytest.raises(TypeError, match="give a class name or an integer"):
        Explainer(net, "gradient", target=1.0)
    _same(Explainer(net, "gradient", target=1)(X), explain(net, X, "gradient", target=1,
                                                           verbose=False))
    with pytest.raises(ValueError, match="target='true' needs labels"):
        Explainer(net, "gradient", target="true")(X)


def test_explain_leaves_the_network_as_it_was():
    net = nn.Sequential(nn.Flatten(), nn.Linear(4 * 64, 8), nn.Dropout(0.5), nn.ReLU(),
                        nn.Linear(8, 2))
    net.train()
    X = np.random.default_rng(2).standard_normal((3, 4, 64)).astype(np.float32)
    a = explain(net, X, "gradient", verbose=False)  # in eval mode: dropout off
    b = explain(net.eval(), X, "gradient", verbose=False)  # no copy of an eval network
    _same(a, b)
    net.train()
    explain(net, X, "gradient", verbose=False)
    assert net.training
    assert all(not m._forward_hooks for m in net.modules())


def test_one_trial_takes_one_pass(clf, epochs, monkeypatch):
    """A GPU's batch-size probe would explain a few trials twice; they need no batches."""
    calls = []
    real = attribution.auto_batch_size
    monkeypatch.setattr(attribution, "auto_batch_size",
                        lambda *a: calls.append(a[1]) or real(*a))
    explainer = Explainer(clf)
    explainer(epochs.get_data()[0])
    explainer(epochs[:4])
    assert calls == []
    explainer(epochs[:10])
    assert calls == [10]


def test_device_is_resolved_like_explains(clf, epochs, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="torch sees none"):
        Explainer(clf, device="cuda")
    with pytest.raises(ValueError, match="not a device"):
        Explainer(clf, device="gpu")
    explainer = Explainer(clf, device="cpu")
    assert explainer.device == torch.device("cpu")
    assert Explainer(clf).device == clf.device_
    rel = explainer(epochs[:2])
    assert isinstance(rel.values, np.ndarray)
    assert "method='lrp'" in repr(explainer)


def test_online_loop_example(capsys):
    """examples/online_loop.py runs: one explainer, each trial decoded and explained."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "online_loop.py"
    spec = importlib.util.spec_from_file_location("online_loop", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    rows = example.main(n_train=12, n_online=3, max_epochs=1, n_top=2)
    assert [r["onset"] for r in rows] == [0.0, 2.0, 4.0]
    for r in rows:
        assert r["predicted"] in ("left", "right") and r["label"] in ("left", "right")
        assert len(r["top"]) == 2 and r["latency"] > 0
    out = capsys.readouterr().out
    assert out.count("explained in") == 3 and "latency median" in out

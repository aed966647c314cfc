"""explain(): the other attribution methods and the relevance it returns."""

import numpy as np
import pytest
import torch
from torch import nn

import neurolrp
from neurolrp.models import EEGNet


def _relu_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 7), nn.ReLU(), nn.Linear(7, 3)).eval()


X = np.random.default_rng(0).standard_normal((5, 3, 4)).astype(np.float32)


def _manual(net, x, target, mode):
    W1, b1 = net[1].weight.detach().numpy(), net[1].bias.detach().numpy()
    W2 = net[3].weight.detach().numpy()
    z = W1 @ x.reshape(-1) + b1
    g = W2[target].copy()
    if mode == "gradient":
        g = g * (z > 0)
    elif mode == "deconvnet":
        g = np.maximum(g, 0)
    elif mode == "guided-backprop":
        g = np.maximum(g * (z > 0), 0)
    return (W1.T @ g).reshape(x.shape)


@pytest.mark.parametrize("method", ["gradient", "deconvnet", "guided-backprop"])
def test_backprop_methods_match_hand_computation(method):
    net = _relu_net()
    rel = neurolrp.explain(net, X, method=method, target=2, verbose=False)
    for t in range(len(X)):
        np.testing.assert_allclose(rel.values[t], _manual(net, X[t], 2, method), rtol=1e-5,
                                   atol=1e-6)


def test_gradient_times_input_and_integrated_gradients():
    net = EEGNet(4, 64, 2, 64.0).eval()
    Xe = np.random.default_rng(1).standard_normal((3, 4, 64)).astype(np.float32)
    g = neurolrp.explain(net, Xe, method="gradient", target=0, verbose=False)
    gi = neurolrp.explain(net, Xe, method="gradient*input", target=0, verbose=False)
    np.testing.assert_allclose(gi.values, g.values * Xe, rtol=1e-5, atol=1e-7)
    ig = neurolrp.explain(net, Xe, method="integrated-gradients", target=0, n_steps=128,
                          verbose=False)
    with torch.no_grad():
        f0 = net(torch.zeros(1, 4, 64))[0, 0].item()
    # completeness: integrated gradients sum to f(x) - f(baseline)
    np.testing.assert_allclose(ig.sum(("channel", "time")).values, ig.score.values - f0,
                               rtol=0.02, atol=1e-3)


def test_random_is_seeded():
    net = _relu_net()
    a = neurolrp.explain(net, X, method="random", seed=1, verbose=False)
    b = neurolrp.explain(net, X, method="random", seed=1, verbose=False)
    c = neurolrp.explain(net, X, method="random", seed=2, verbose=False)
    np.testing.assert_array_equal(a.values, b.values)
    assert not np.allclose(a.values, c.values)
    assert np.isnan(a.attrs["conservation_error"])


def test_relevance_of_epochs_through_a_classifier(fitted_shallow, hands_feet_small, tmp_path):
    ep = hands_feet_small
    rel = neurolrp.explain(fitted_shallow, ep, verbose=False)
    assert rel.dims == ("trial", "channel", "time")
    assert list(rel.channel.values) == ep.ch_names
    np.testing.assert_allclose(rel.time.values, ep.times)
    assert np.isfinite(rel.ch_x.values).all()
    names = {v: k for k, v in ep.event_id.items()}
    assert list(rel.y_true.values) == [names[c] for c in ep.events[:, 2]]
    np.testing.assert_array_equal(rel.y_pred.values, fitted_shallow.predict(ep))
    np.testing.assert_array_equal(rel.target.values, rel.y_pred.values)
    logits = fitted_shallow.logits(ep)
    np.testing.assert_allclose(rel.score.values, logits.max(axis=1), rtol=1e-4, atol=1e-5)
    mis = rel.sel(trial=~rel.correct)
    assert (mis.y_true.values != mis.y_pred.values).all()
    assert rel.attrs["composite"] == neurolrp.lrp.DEFAULT_COMPOSITE
    assert rel.attrs["classes"] == list(fitted_shallow.classes_)
    assert rel.attrs["sfreq"] == 80.0
    back = neurolrp.load_relevance(neurolrp.save_relevance(rel, tmp_path / "r.nc"))
    assert back.identical(rel)
    # explaining the true class and a named contrast
    true = neurolrp.explain(fitted_shallow, ep, target="true", verbose=False)
    np.testing.assert_array_equal(true.target.values, true.y_true.values)
    contrast = neurolrp.explain(fitted_shallow, ep, target=("hands", "feet"), verbose=False)
    np.testing.assert_allclose(contrast.score.values, logits[:, list(fitted_shallow.classes_).index(
        "hands")] - logits[:, list(fitted_shallow.classes_).index("feet")], rtol=1e-4, atol=1e-5)
    assert set(contrast.target.values) == {"hands-feet"}


def test_batches_do_not_change_the_result(fitted_shallow, hands_feet_small):
    a = neurolrp.explain(fitted_shallow, hands_feet_small, batch_size=7, verbose=False)
    b = neurolrp.explain(fitted_shallow, hands_feet_small, batch_size=64, verbose=False)
    np.testing.assert_allclose(a.values, b.values, rtol=1e-5, atol=1e-6)


def test_explain_checks_the_data_against_the_classifier(fitted_shallow, hands_feet_small):
    with pytest.raises(ValueError, match="sampled at"):
        neurolrp.explain(fitted_shallow, hands_feet_small.copy().resample(40))
    with pytest.raises(ValueError, match="fitted on 64 x 241"):
        neurolrp.explain(fitted_shallow, np.zeros((2, 64, 100), np.float32))

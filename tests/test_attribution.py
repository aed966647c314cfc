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


def _derivative(layer, x):
    """f'(x) of a ReLU-family layer, in closed form."""
    if isinstance(layer, nn.ReLU):
        return (x > 0).to(x.dtype)
    if isinstance(layer, nn.LeakyReLU):
        return torch.where(x > 0, 1.0, layer.negative_slope)
    return torch.where(x > 0, 1.0, layer.alpha * torch.exp(x))  # ELU


def _chain(net, x, target, method):
    """The definitions applied layer by layer, input to output and back.

    A ReLU-family layer passes ``g * f'(x)`` (gradient), ``max(g, 0)``
    (deconvnet) or ``max(g, 0) * f'(x)`` (guided backprop); every other layer
    its own vector-Jacobian product at its input.
    """
    inputs = []
    h = torch.as_tensor(x)
    for layer in net:
        inputs.append(h)
        h = layer(h)
    g = torch.zeros_like(h)
    g[:, target] = 1.0
    for layer, h in zip(reversed(net), reversed(inputs)):
        if isinstance(layer, (nn.ReLU, nn.LeakyReLU, nn.ELU)):
            if method == "gradient":
                g = g * _derivative(layer, h)
            elif method == "deconvnet":
                g = g.clamp(min=0)
            else:
                g = g.clamp(min=0) * _derivative(layer, h)
        else:
            _, g = torch.autograd.functional.vjp(layer, h, g)
    return g.numpy()


def _mixed_net():
    torch.manual_seed(1)
    return nn.Sequential(nn.Conv1d(3, 5, 3, padding=1), nn.ELU(0.7), nn.Conv1d(5, 4, 3),
                         nn.LeakyReLU(0.1), nn.Flatten(), nn.Linear(4 * 14, 9), nn.ReLU(),
                         nn.Linear(9, 3)).eval()


@pytest.mark.parametrize("method", ["gradient", "deconvnet", "guided-backprop"])
def test_backprop_methods_follow_their_definition_through_relu_elu_leaky(method):
    net = _mixed_net()
    Xm = np.random.default_rng(2).standard_normal((6, 3, 16)).astype(np.float32)
    rel = neurolrp.explain(net, Xm, method=method, target=1, verbose=False)
    with torch.no_grad():
        ref = _chain(net, Xm, 1, method)
    np.testing.assert_allclose(rel.values, ref, rtol=1e-5, atol=1e-6)
    if method != "gradient":  # not the plain gradient in disguise
        grad = neurolrp.explain(net, Xm, method="gradient", target=1, verbose=False)
        assert np.abs(rel.values - grad.values).max() > 0.1 * np.abs(grad.values).max()


def test_guided_backprop_through_elu_by_hand():
    """Guided backprop through ELUs: max(g, 0) * ELU'(z) at each, in NumPy."""
    torch.manual_seed(3)
    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 7), nn.ELU(0.5), nn.Linear(7, 6), nn.ELU(),
                        nn.Linear(6, 3)).eval()
    W1, b1, W2, b2, W3 = (p.detach().numpy().astype(np.float64) for p in (
        net[1].weight, net[1].bias, net[3].weight, net[3].bias, net[5].weight))
    rel = neurolrp.explain(net, X, method="guided-backprop", target=0, verbose=False)
    for t in range(len(X)):
        z1 = W1 @ X[t].reshape(-1) + b1
        a1 = np.where(z1 > 0, z1, 0.5 * (np.exp(z1) - 1))
        z2 = W2 @ a1 + b2
        g = np.maximum(W3[0], 0) * np.where(z2 > 0, 1.0, np.exp(z2))
        g = np.maximum(W2.T @ g, 0) * np.where(z1 > 0, 1.0, 0.5 * np.exp(z1))
        np.testing.assert_allclose(rel.values[t], (W1.T @ g).reshape(X[t].shape), rtol=1e-4,
                                   atol=1e-6)


@pytest.mark.parametrize("method", ["deconvnet", "guided-backprop"])
def test_backprop_methods_on_eegnet_are_not_the_gradient(method):
    net = EEGNet(4, 64, 2, 64.0)
    torch.manual_seed(4)
    for m in net.modules():  # batch norms that do something, so folding them is tested
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    net.eval()
    Xe = np.random.default_rng(5).standard_normal((4, 4, 64)).astype(np.float32)
    rel = neurolrp.explain(net, Xe, method=method, target=0, verbose=False)
    grad = neurolrp.explain(net, Xe, method="gradient", target=0, verbose=False)
    scale = np.abs(grad.values).max()
    assert np.abs(rel.values - grad.values).max() > 0.1 * scale
    with torch.no_grad():
        ref = _chain(net, Xe, 0, method)
    np.testing.assert_allclose(rel.values, ref, rtol=1e-4, atol=1e-5 * scale)


def test_backprop_methods_refuse_a_network_without_relu_family():
    from neurolrp.models import ShallowNet

    net = ShallowNet(3, 64, 2, 64.0).eval()
    for method in ("deconvnet", "guided-backprop"):
        with pytest.raises(ValueError, match="no ReLU-family activation.*plain gradient"):
            neurolrp.explain(net, np.zeros((2, 3, 64), np.float32), method=method)


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

"""The Pattern rule: relevance follows what a filter detects, not its weights."""

import numpy as np
import pytest
import torch
from torch import nn

import neurolrp
from neurolrp.lrp import Composite, Epsilon, Pattern, compute_patterns
from neurolrp.lrp.composites import is_spatial_filter


def test_patterns_equal_the_covariance_formula():
    """a_j = cov(x, y_j) / var(y_j), computed directly, for a dense and a conv layer."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 5)).astype(np.float32) @ rng.standard_normal((5, 5)).astype(
        np.float32) + 1.0
    net = nn.Sequential(nn.Linear(5, 3), nn.ReLU(), nn.Linear(3, 2))
    pats = compute_patterns(net, X)
    w = net[0].weight.detach().double().numpy()
    Y = X.astype(np.float64) @ w.T
    cov = ((X - X.mean(0)).T @ (Y - Y.mean(0)) / len(X)).T  # (out, in)
    expected = cov / (w * cov).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(pats["0"].numpy(), expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose((pats["0"].numpy() * w).sum(axis=1), 1.0, rtol=1e-5)

    # a spatial convolution over (1, channels, times): patches are the channels
    conv = nn.Sequential(nn.Unflatten(1, (1, 4)), nn.Conv2d(1, 2, (4, 1)), nn.Flatten(),
                         nn.Linear(2 * 30, 2))
    Xc = rng.standard_normal((50, 4, 30)).astype(np.float32)
    pc = compute_patterns(conv, Xc)["1"].numpy()[:, 0, :, 0]  # (filters, channels)
    wc = conv[1].weight.detach().double().numpy()[:, 0, :, 0]
    flat = Xc.transpose(0, 2, 1).reshape(-1, 4).astype(np.float64)
    Yc = flat @ wc.T
    covc = ((flat - flat.mean(0)).T @ (Yc - Yc.mean(0)) / len(flat)).T
    np.testing.assert_allclose(pc, covc / (wc * covc).sum(1, keepdims=True), rtol=1e-4,
                               atol=1e-6)
    assert is_spatial_filter(conv[1]) and not is_spatial_filter(conv[3])


def test_patterns_of_a_grouped_convolution_and_of_chosen_layers():
    """Grouped, offset input (the mean term matters): each output's patches are its
    group's channels; ``layers=`` computes just those layers, the same values."""
    rng = np.random.default_rng(1)
    net = nn.Sequential(nn.Conv1d(4, 6, 3, groups=2), nn.ReLU(), nn.Flatten(),
                        nn.Linear(6 * 18, 2))
    X = (rng.standard_normal((40, 4, 20)) + rng.standard_normal((1, 4, 1)) * 2 + 1.5).astype(
        np.float32)
    pats = compute_patterns(net, X)
    w = net[0].weight.detach().double().numpy()  # (6, 2, 3)
    for o in range(6):
        g = o // 3
        patches = np.stack([X[:, 2 * g:2 * g + 2, t:t + 3] for t in range(18)], axis=1)
        patches = patches.reshape(-1, 6).astype(np.float64)  # (trials x positions, 2 x 3)
        y = patches @ w[o].reshape(-1)
        cov = (patches - patches.mean(0)).T @ (y - y.mean()) / len(y)
        np.testing.assert_allclose(pats["0"].numpy()[o].reshape(-1), cov / (w[o].reshape(-1) @ cov),
                                   rtol=1e-4, atol=1e-6)
    only = compute_patterns(net, X, layers=["3"])
    assert list(only) == ["3"]
    np.testing.assert_allclose(only["3"].numpy(), pats["3"].numpy(), rtol=1e-6, atol=1e-8)


def test_pattern_rule_ignores_a_distractor_that_lrp0_credits():
    """Haufe et al. 2014's example: x1 = s + d, x2 = d, the filter w = (1, -1) finds s.

    The filter needs x2 to cancel the distractor d, but x2 holds nothing of
    the signal: the pattern is (1, 0), and all relevance goes to x1. LRP-0
    hands x2 the large term -d * w2, with either sign.
    """
    rng = np.random.default_rng(1)
    n = 400
    s, d = rng.standard_normal(n), 3.0 * rng.standard_normal(n)
    s, d = s - s.mean(), d - d.mean()
    d -= (d @ s) / (s @ s) * s  # uncorrelated in the sample, as in the population
    X = np.stack([s + d, d], axis=1)[:, :, None].astype(np.float32)  # (n, 2 channels, 1)
    net = nn.Sequential(nn.Unflatten(1, (1, 2)), nn.Conv2d(1, 1, (2, 1), bias=False),
                        nn.Flatten(), nn.Linear(1, 2))
    with torch.no_grad():
        net[1].weight.copy_(torch.tensor([1.0, -1.0]).view(1, 1, 2, 1))
        net[3].weight.copy_(torch.tensor([[1.0], [-1.0]]))
        net[3].bias.zero_()
    pats = compute_patterns(net, X)
    np.testing.assert_allclose(pats["1"].numpy().ravel(), [1.0, 0.0], atol=1e-4)
    pattern = Composite({(nn.Linear,): Epsilon()}, spatial=Pattern(), name="pattern")
    zero = Composite({(nn.Linear, nn.Conv2d): Epsilon(0.0)}, name="zero")
    r_pat = neurolrp.explain(net, X, composite=pattern, target=0, verbose=False)
    r_zero = neurolrp.explain(net, X, composite=zero, target=0, verbose=False)
    share = lambda r: np.abs(r.values[:, 1]).sum() / np.abs(r.values).sum()  # noqa: E731
    assert share(r_pat) < 0.05
    assert share(r_zero) > 0.4
    # both conserve: the output is all on the inputs (no bias here)
    for r in (r_pat, r_zero):
        np.testing.assert_allclose(r.values.sum(axis=(1, 2)), r.score.values, rtol=1e-4,
                                   atol=1e-4)


def test_classifier_measures_patterns_at_fit_and_keeps_them(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((24, 4, 64)).astype(np.float32)
    y = np.array(["a", "b"] * 12)
    clf = neurolrp.EEGClassifier("shallow", sfreq=32.0, max_epochs=2, verbose=False).fit(X, y)
    net, names = neurolrp.lrp.prepare_model(clf.module_)
    weighted = [n for n in names if hasattr(net.get_submodule(n), "weight")]
    assert set(clf.patterns_) == set(weighted)
    for n in weighted:
        assert clf.patterns_[n].shape == net.get_submodule(n).weight.shape
    rel = neurolrp.explain(clf, X[:3], y=y[:3], verbose=False)
    assert rel.attrs["patterns_from"] == "training data"
    assert '"Pattern"' in rel.attrs["rules"]
    clf.save(tmp_path / "m.pt")
    again = neurolrp.EEGClassifier.load(tmp_path / "m.pt")
    np.testing.assert_array_equal(neurolrp.explain(again, X[:3], y=y[:3], verbose=False).values,
                                  rel.values)


def test_unbound_pattern_is_a_clear_error():
    rule = Pattern()
    with pytest.raises(ValueError, match="pattern"):
        rule.terms(torch.zeros(1, 2), torch.zeros(3, 2), None)
    with pytest.raises(ValueError, match="another model"):
        Pattern(torch.zeros(2, 2)).terms(torch.zeros(1, 2), torch.zeros(3, 2), None)

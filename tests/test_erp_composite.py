"""The waveform networks' composite: PatternEnergy, pointwise layers, the default per family."""

import json

import numpy as np
import pytest
import torch
from torch import nn

import neurolrp
from neurolrp.lrp import (COMPOSITES, DEFAULT_COMPOSITE, WAVEFORM_COMPOSITE, Composite,
                          Pattern, PatternEnergy, compute_between_class_patterns,
                          compute_patterns, default_composite, get_composite, prepare_model)
from neurolrp.lrp.composites import is_pointwise_mixing, is_spatial_filter
from neurolrp.lrp.layers import LinearOp
from neurolrp.lrp.rules import Rule
from neurolrp.models import EEGNet, ShallowNet, SturmDNN


def test_pattern_energy_splits_by_the_squared_pattern():
    """Two channels, one spatial filter with pattern a = (3, 4): 9/25 and 16/25 of each
    output's relevance, whatever the weights, the bias and the input."""
    torch.manual_seed(0)
    conv = nn.Conv2d(1, 1, (2, 1))
    a = torch.tensor([3.0, 4.0]).view(1, 1, 2, 1)
    x = torch.randn(6, 1, 2, 5)
    R = torch.randn(6, 1, 1, 5)
    R_in, absorbed = PatternEnergy(a)(LinearOp(conv), x, R)
    np.testing.assert_allclose(R_in[:, :, 0].numpy(), 9 / 25 * R[:, :, 0].numpy(), rtol=1e-5)
    np.testing.assert_allclose(R_in[:, :, 1].numpy(), 16 / 25 * R[:, :, 0].numpy(), rtol=1e-5)
    np.testing.assert_allclose(absorbed.numpy(), 0, atol=1e-5)  # all of it passes


def test_pattern_energy_closed_form_equals_its_terms():
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 6, (3, 1), groups=2).double()
    x = torch.randn(3, 4, 3, 9, dtype=torch.float64)
    op = LinearOp(conv)
    w, b = op.params(x)
    z = op(x, w, b)
    R = torch.randn(z.shape, dtype=torch.float64)
    rule = PatternEnergy(torch.randn(w.shape, dtype=torch.float64))
    fast, kept = rule.propagate(op, x, R, z, w, None)
    slow, slow_kept = Rule.propagate(rule, op, x, R, z, w, None)
    np.testing.assert_allclose(fast.numpy(), slow.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(kept.numpy(), slow_kept.numpy(), rtol=1e-10)
    # all relevance passes (no bias share): what reaches the input is R's sum
    np.testing.assert_allclose(fast.sum(dim=(1, 2, 3)).numpy(), R.sum(dim=(1, 2, 3)).numpy(),
                               rtol=1e-10)


def test_pattern_energy_needs_its_pattern():
    with pytest.raises(ValueError, match="PatternEnergy needs"):
        PatternEnergy().weight(torch.zeros(2, 2))
    with pytest.raises(ValueError, match="another model"):
        PatternEnergy(torch.zeros(3, 2)).weight(torch.zeros(2, 2))
    assert PatternEnergy().describe()["rule"] == "PatternEnergy"


def test_layer_kinds_of_eegnet():
    net = EEGNet(8, 64, 2, 64.0)
    kinds = {i: (is_spatial_filter(m), is_pointwise_mixing(m)) for i, m in enumerate(net)
             if isinstance(m, nn.Conv2d)}
    # temporal, spatial (depthwise over electrodes), separable depthwise, pointwise
    assert kinds == {1: (False, False), 3: (True, False), 8: (False, False), 9: (False, True)}
    assert not is_pointwise_mixing(nn.Conv2d(4, 4, 1, groups=4))  # 1 x 1 but mixes nothing


def test_default_composite_by_family():
    assert default_composite(EEGNet(8, 64, 2, 64.0)) == WAVEFORM_COMPOSITE
    assert default_composite(ShallowNet(8, 64, 2, 64.0)) == DEFAULT_COMPOSITE
    assert default_composite(SturmDNN(8, 64, 2, 64.0)) == DEFAULT_COMPOSITE
    assert default_composite(nn.Sequential(nn.Flatten(), nn.Linear(8, 2))) == DEFAULT_COMPOSITE

    class Fitted:  # an EEGClassifier is looked at through its module_
        module_ = EEGNet(8, 64, 2, 64.0)

    assert default_composite(Fitted()) == WAVEFORM_COMPOSITE
    assert WAVEFORM_COMPOSITE in COMPOSITES
    with pytest.raises(TypeError, match="torch.nn.Module"):
        default_composite("eegnet")


def test_waveform_composite_on_eegnet_binds_patterns_and_conserves():
    torch.manual_seed(0)
    net = EEGNet(6, 64, 2, 64.0).eval()
    with torch.no_grad():  # an untrained network: without its bias it predicts both classes
        net[15].bias.zero_()
    X = np.random.default_rng(0).standard_normal((8, 6, 64)).astype(np.float32)
    comp = get_composite(WAVEFORM_COMPOSITE)
    prepared, names = prepare_model(net)
    rules = comp.assign([(n, prepared.get_submodule(n)) for n in names])
    assert {n: type(r).__name__ for n, r in rules.items()} == {
        "1": "Pattern", "3": "PatternEnergy", "6": "Flat", "8": "Gamma", "9": "PatternEnergy",
        "12": "Flat", "15": "Epsilon"}
    layers = [(n, prepared.get_submodule(n)) for n in names]
    # the spatial filter's rule is on the class means: never bound to the total pattern
    with pytest.raises(ValueError, match="layer '3' needs its between-class pattern"):
        comp.with_patterns(compute_patterns(net, X), layers)
    y = np.repeat([0, 1], 4)
    bound = comp.with_patterns(compute_patterns(net, X), layers,
                               compute_between_class_patterns(net, X, y))
    assert type(bound.rule_for(prepared.get_submodule("9"), 3, 5, "9")) is PatternEnergy
    rel = neurolrp.explain(net, X, composite=WAVEFORM_COMPOSITE, ignore_bias=True,
                           verbose=False)
    assert rel.attrs["composite"] == WAVEFORM_COMPOSITE
    described = json.loads(rel.attrs["rules"])
    assert described["3"]["rule"] == described["9"]["rule"] == "PatternEnergy"
    assert (described["3"]["signal"], described["9"]["signal"]) == ("between", "total")
    # a plain network: measured on the explained data, grouped as the network predicts,
    # or by the labels where given (as at fit)...
    assert rel.attrs["class_patterns_from"] == "explained data, by predicted class"
    labelled = neurolrp.explain(net, X, y=y, composite=WAVEFORM_COMPOSITE, verbose=False)
    assert labelled.attrs["class_patterns_from"] == "explained data, by label"
    assert not np.allclose(labelled.values, rel.values)
    with torch.no_grad():  # ... which must be more than one class
        net[15].bias.copy_(torch.tensor([0.0, 10.0]))
    with pytest.raises(ValueError, match="all of it is of one predicted class"):
        neurolrp.explain(net, X, composite=WAVEFORM_COMPOSITE, verbose=False)
    with pytest.raises(ValueError, match="all of it is of one label"):
        neurolrp.explain(net, X, y=[1] * 8, composite=WAVEFORM_COMPOSITE, verbose=False)
    assert rel.attrs["conservation_error_accounted"] < 1e-4
    # without the pointwise rule the same layer gets the convolutions' gamma
    plain = Composite(comp.layer_map, comp.first, comp.last, "x", spatial=comp.spatial)
    assert type(plain.rule_for(prepared.get_submodule("9"), 3, 5, "9")).__name__ == "Gamma"
    assert isinstance(get_composite(WAVEFORM_COMPOSITE).first, Pattern)

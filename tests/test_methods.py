"""explain's methods as small registered classes; composites that return changed copies."""

import numpy as np
import pytest
import torch
from torch import nn

import neurolrp
from neurolrp import explain
from neurolrp.attribution import METHODS, REGISTRY, Gradient, Method, register
from neurolrp.lrp import Composite, Epsilon, Pass, ZBox, get_composite


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 16, 8), nn.ReLU(), nn.Linear(8, 2)).eval()


def _X(n=5):
    return np.random.default_rng(0).standard_normal((n, 3, 16)).astype(np.float32)


def test_registry_holds_every_method():
    assert METHODS == ("lrp", "gradient", "gradient*input", "integrated-gradients", "deconvnet",
                       "guided-backprop", "random")
    assert all(issubclass(REGISTRY[m], Method) and REGISTRY[m].name == m for m in METHODS)
    with pytest.raises(ValueError, match="method must be one of"):
        explain(_net(), _X(), method="smoothgrad")


def test_a_new_method_is_one_class():
    @register
    class Doubled(Gradient):
        """Twice the gradient: checks that explain runs a registered class."""

        name = "doubled-gradient"

        def relevance(self, net, x, select, sl):
            logit, e, g = super().relevance(net, x, select, sl)
            return logit, e, 2 * g

    try:
        net, X = _net(), _X()
        new = explain(net, X, method="doubled-gradient", batch_size=2, verbose=False)
        grad = explain(net, X, method="gradient", batch_size=2, verbose=False)
        np.testing.assert_array_equal(new.values, 2 * grad.values)
        assert new.attrs["method"] == "doubled-gradient"
        np.testing.assert_array_equal(new.score.values, grad.score.values)
    finally:
        REGISTRY.pop("doubled-gradient")


def test_options_are_checked_before_any_work():
    with pytest.raises(ValueError, match="n_steps"):
        explain(_net(), _X(), method="integrated-gradients", n_steps=0)
    with pytest.raises(ValueError, match="composite must be"):
        explain(_net(), _X(), composite="no-such-composite")
    with pytest.raises(TypeError, match="ignore_bias"):
        explain(_net(), _X(), ignore_bias="yes")


def test_modified_gradients_are_composites_but_not_lrp_ones():
    from neurolrp.lrp import GRADIENT_COMPOSITES, Guided, Rectify

    assert not set(GRADIENT_COMPOSITES) & set(neurolrp.lrp.COMPOSITES)
    for name, rule in (("deconvnet", Rectify), ("guided-backprop", Guided)):
        comp = GRADIENT_COMPOSITES[name]()
        assert not comp.is_lrp
        assert isinstance(comp.activation_for(nn.ELU()), rule)
        assert comp.activation_for(nn.Dropout()) is None  # keeps its gradient
        with pytest.raises(ValueError, match="not an LRP composite"):
            explain(_net(), _X(), composite=name)
        with pytest.raises(ValueError, match="no LRP rules"):
            explain(_net(), _X(), composite=comp)
    lrp = get_composite("epsilon")
    assert lrp.is_lrp and isinstance(lrp.activation_for(nn.ReLU()), Pass)
    assert isinstance(lrp.with_patterns({}, []).activation_for(nn.ReLU()), Pass)
    with pytest.raises(TypeError, match="must be an ActivationRule"):
        Composite({nn.Linear: Epsilon()}, activations={nn.ReLU: Epsilon()})
    for key in (nn.Flatten, (nn.ReLU, nn.Conv2d), "relu"):  # never hooked: refused
        with pytest.raises(TypeError, match="element-wise layer types"):
            Composite({nn.Linear: Epsilon()}, activations={key: Pass()})


def test_rules_that_ignore_the_forward_keep_nothing_for_the_backward():
    """Pass and Rectify hold no tensors until the backward (GPU memory); Guided does."""
    from neurolrp.lrp import Guided, Rectify
    from neurolrp.lrp.engine import _ActivationFunction

    x = torch.randn(3, 4, requires_grad=True)
    for rule, kept in ((Pass(), 0), (Rectify(), 0), (Guided(), 2)):
        out = _ActivationFunction.apply(x, torch.relu(x), nn.ReLU(), rule)
        assert len(out.grad_fn.saved_tensors) == kept, rule
        (g,) = torch.autograd.grad(out, x, grad_outputs=torch.tensor([-1.0, 2.0, 0.5, 3.0]
                                                                      ).expand(3, 4))
        assert g.shape == x.shape


def test_an_lrp_composite_can_take_other_activation_rules():
    from neurolrp.lrp import Rectify

    net, X = _net(), _X()
    # Rectify on the ReLU, Pass left off: LRP-epsilon with deconvnet's ReLU
    comp = Composite({nn.Linear: Epsilon()}, activations={nn.ReLU: Rectify()})
    a = explain(net, X, composite=comp, target=0, verbose=False)
    b = explain(net, X, composite=Composite({nn.Linear: Epsilon()}), target=0, verbose=False)
    assert not np.allclose(a.values, b.values)


def test_composite_returns_changed_copies():
    comp = get_composite("epsilon-gamma-box")
    assert comp.needs_input_bounds()
    bounded = comp.with_input_bounds(-2.0, 3.0)
    assert comp.first.low is None and comp.first.high is None  # unchanged
    assert (bounded.first.low, bounded.first.high) == (-2.0, 3.0)
    assert not bounded.needs_input_bounds() and bounded.name == comp.name
    # bounds a rule already has are kept
    own = Composite({nn.Linear: Epsilon()}, first=ZBox(-1.0, None)).with_input_bounds(-5.0, 5.0)
    assert (own.first.low, own.first.high) == (-1.0, 5.0)
    no_bias = bounded.without_bias()
    assert all(r.bias for r in bounded.rules()) and not any(r.bias for r in no_bias.rules())


def test_composite_assigns_first_and_last_in_one_place():
    net = _net()
    layers = [("1", net[1]), ("3", net[3])]
    comp = Composite({nn.Linear: Epsilon(0.5)}, first=ZBox(-1.0, 1.0), last=Epsilon(0.0))
    rules = comp.assign(layers)
    assert isinstance(rules["1"], ZBox) and rules["3"] is comp.last
    assert list(comp.assign(layers)) == ["1", "3"]


def test_explain_without_bias_equals_the_composite_without_bias():
    net, X = _net(), _X()
    a = explain(net, X, composite="zero", ignore_bias=True, verbose=False)
    b = explain(net, X, composite=get_composite("zero").without_bias(), verbose=False)
    np.testing.assert_array_equal(a.values, b.values)
    # LRP-0 without biases: all relevance reaches the input
    assert a.attrs["conservation_error"] < 1e-4
    assert explain(net, X, composite="zero", verbose=False).attrs["conservation_error"] > 1e-3


def test_predict_and_explain_read_input_the_same_way(fitted_shallow, hands_feet_small):
    moved = hands_feet_small.copy().reorder_channels(hands_feet_small.ch_names[::-1])
    with pytest.raises(ValueError, match="another order") as by_predict:
        fitted_shallow.predict(moved)
    with pytest.raises(ValueError, match="another order") as by_explain:
        neurolrp.explain(fitted_shallow, moved)
    # the same check, naming the input as each entry point calls it
    assert str(by_predict.value).replace("X:", "data:", 1) == str(by_explain.value)

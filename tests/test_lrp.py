"""The LRP engine: independent references, conservation, layers, errors."""

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

import neurolrp
from neurolrp.lrp import (COMPOSITES, AlphaBeta, Composite, Epsilon, Flat, Gamma,
                          UnsupportedModelError, WSquare, Zero, ZBox, ZPlus, prepare_model)
from neurolrp.models import MODELS, make_model

RULES = {
    "zero": Zero(), "epsilon": Epsilon(0.1), "gamma": Gamma(0.25), "alpha2beta1": AlphaBeta(2, 1),
    "alpha1beta0": AlphaBeta(1, 0), "zplus": ZPlus(), "flat": Flat(), "wsquare": WSquare(),
    "zbox": ZBox(-3.0, 3.0),
}


def _stab(z, eps):
    return z + (eps if z >= 0 else -eps)


def _ref_dense(name, x, W, b, R):
    """Explicit loops over inputs i and outputs j (W has shape (out, in))."""
    n_out, n_in = W.shape
    R_in = np.zeros(n_in)
    for j in range(n_out):
        z_j = sum(x[i] * W[j, i] for i in range(n_in)) + b[j]
        if name in ("zero", "epsilon"):
            eps = 0.1 if name == "epsilon" else 1e-12
            num = [x[i] * W[j, i] for i in range(n_in)]
            den = _stab(sum(num) + b[j], eps)
            R_in += np.array(num) / den * R[j]
        elif name in ("zplus", "alpha1beta0", "alpha2beta1"):
            alpha, beta = (2.0, 1.0) if name == "alpha2beta1" else (1.0, 0.0)
            pos = [max(0.0, x[i] * W[j, i]) for i in range(n_in)]
            neg = [min(0.0, x[i] * W[j, i]) for i in range(n_in)]
            dp = _stab(sum(pos) + max(b[j], 0.0), 1e-6)
            dn = _stab(sum(neg) + min(b[j], 0.0), 1e-6)
            R_in += (alpha * np.array(pos) / dp - beta * np.array(neg) / dn) * R[j]
        elif name == "gamma":
            g = 0.25
            if z_j > 0:
                num = [x[i] * W[j, i] + g * max(0.0, x[i] * W[j, i]) for i in range(n_in)]
                den = _stab(sum(num) + b[j] + g * max(b[j], 0.0), 1e-6)
            elif z_j < 0:
                num = [x[i] * W[j, i] + g * min(0.0, x[i] * W[j, i]) for i in range(n_in)]
                den = _stab(sum(num) + b[j] + g * min(b[j], 0.0), 1e-6)
            else:
                continue
            R_in += np.array(num) / den * R[j]
        elif name == "flat":
            R_in += R[j] / n_in
        elif name == "wsquare":
            w2 = W[j] ** 2
            R_in += w2 / w2.sum() * R[j]
        elif name == "zbox":
            lo, hi = -3.0, 3.0
            num = [x[i] * W[j, i] - lo * max(W[j, i], 0) - hi * min(W[j, i], 0)
                   for i in range(n_in)]
            R_in += np.array(num) / _stab(sum(num) + b[j], 1e-6) * R[j]
    return R_in


def _tiny_net(seed=0, bias=True):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Flatten(), nn.Linear(6, 5, bias=bias), nn.ReLU(),
                        nn.Linear(5, 3, bias=bias))
    return net.double().eval()


@pytest.mark.parametrize("name", sorted(RULES))
def test_engine_matches_explicit_numpy_loops(name):
    net = _tiny_net()
    rng = np.random.default_rng(1)
    X = rng.standard_normal((4, 2, 3)) * 2  # signed input
    comp = Composite({nn.Linear: RULES[name]}, name=name)
    rel = neurolrp.explain(net.float(), X.astype(np.float32), composite=comp, target=1,
                           verbose=False)
    net = net.double()
    W1, b1 = net[1].weight.detach().numpy(), net[1].bias.detach().numpy()
    W2, b2 = net[3].weight.detach().numpy(), net[3].bias.detach().numpy()
    for t in range(len(X)):
        x = X[t].reshape(-1).astype(np.float32).astype(np.float64)
        h = np.maximum(W1 @ x + b1, 0)
        out = W2 @ h + b2
        R_top = np.zeros(3)
        R_top[1] = out[1]
        R_h = _ref_dense(name, h, W2, b2, R_top)
        R_x = _ref_dense(name, x, W1, b1, R_h)  # ReLU passes relevance unchanged
        np.testing.assert_allclose(rel.values[t].reshape(-1), R_x, rtol=1e-4, atol=1e-5)


def test_lrp0_equals_gradient_times_input_on_bias_free_relu_net():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(32, 16, bias=False), nn.ReLU(),
                        nn.Linear(16, 8, bias=False), nn.ReLU(), nn.Linear(8, 2, bias=False))
    X = np.random.default_rng(0).standard_normal((10, 4, 8)).astype(np.float32)
    lrp = neurolrp.explain(net, X, composite="zero", verbose=False)
    gxi = neurolrp.explain(net, X, method="gradient*input", verbose=False)
    np.testing.assert_allclose(lrp.values, gxi.values, rtol=1e-4, atol=1e-6)
    assert lrp.attrs["conservation_error"] < 1e-5  # and it conserves exactly


def _dense_equivalent(layer, in_shape):
    """The Linear layer with the same map as ``layer`` (via its Jacobian)."""
    x = torch.zeros(1, *in_shape, dtype=torch.float64)
    layer = layer.double()
    f = (lambda v: layer(v.view(1, *in_shape)).reshape(-1))
    with torch.no_grad():
        bias = f(x.reshape(-1)).clone()
    jac = torch.autograd.functional.jacobian(f, x.reshape(-1))
    dense = nn.Linear(jac.shape[1], jac.shape[0]).double()
    with torch.no_grad():
        dense.weight.copy_(jac)
        dense.bias.copy_(bias)
    return dense


@pytest.mark.parametrize("name,kind", [
    (name, kind) for kind in ("conv1d", "conv2d", "avgpool")
    for name in ("zero", "epsilon", "gamma", "alpha2beta1", "zplus", "wsquare", "zbox")])
def test_convolutions_and_pooling_equal_their_dense_form(name, kind):
    """Grouped, strided, padded, dilated convolutions and average pooling give
    the relevance of the dense layer with the same weights."""
    torch.manual_seed(0)
    if kind == "conv1d":
        shape = (4, 11)
        layer = nn.Conv1d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2)
    elif kind == "conv2d":
        shape = (2, 3, 9)
        layer = nn.Conv2d(2, 4, (2, 3), stride=(1, 2), padding=(0, 1), groups=2)
    else:
        shape = (2, 3, 9)
        layer = nn.AvgPool2d((1, 3), stride=(1, 2), padding=(0, 1))
    with torch.no_grad():
        out_shape = layer(torch.zeros(1, *shape)).shape[1:]
    n_out = int(np.prod(out_shape))
    head = nn.Linear(n_out, 2)
    structured = nn.Sequential(nn.Flatten(), nn.Unflatten(1, shape), layer, nn.Flatten(),
                               nn.ReLU(), head)
    dense = nn.Sequential(nn.Flatten(), _dense_equivalent(layer, shape).float(), nn.ReLU(), head)
    layer.float()
    X = np.random.default_rng(0).standard_normal((5, int(np.prod(shape)), 1)).astype(np.float32)
    comp = Composite({(nn.Linear, nn.Conv1d, nn.Conv2d, nn.AvgPool2d): RULES[name]})
    a = neurolrp.explain(structured, X, composite=comp, verbose=False)
    b = neurolrp.explain(dense, X, composite=comp, verbose=False)
    np.testing.assert_allclose(a.values, b.values, rtol=1e-3, atol=1e-5)


def _random_bn(net):
    g = torch.Generator().manual_seed(3)
    for m in net.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g))
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.randn(m.num_features, generator=g))
            m.bias.data.copy_(torch.randn(m.num_features, generator=g))
    return net


@pytest.mark.parametrize("name", sorted(MODELS))
def test_batchnorm_folding_keeps_outputs_and_leaves_user_model_alone(name):
    torch.manual_seed(0)
    net = _random_bn(make_model(name, 8, 120, 2, 80.0))
    net.train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    prepared, linear = prepare_model(net)
    assert net.training  # the user's model keeps its mode
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert not any(isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) for m in prepared.modules())
    x = torch.randn(4, 8, 120)
    net.eval()
    torch.testing.assert_close(prepared(x), net(x), rtol=1e-4, atol=1e-5)
    assert len(linear) >= 2


@pytest.mark.parametrize("model", sorted(MODELS))
@pytest.mark.parametrize("composite", sorted(COMPOSITES))
def test_every_model_explains_with_every_composite_and_conserves(model, composite):
    torch.manual_seed(0)
    net = _random_bn(make_model(model, 16, 160, 3, 80.0)).eval()
    X = np.random.default_rng(0).standard_normal((6, 16, 160)).astype(np.float32)
    y = [0, 1, 2] * 2  # labels: the waveform composite's between-class patterns group by them
    for ignore_bias in (False, True):
        rel = neurolrp.explain(net, X, y=y, composite=composite, ignore_bias=ignore_bias,
                               verbose=False)
        assert rel.shape == (6, 16, 160) and np.isfinite(rel.values).all()
        assert rel.attrs["composite"] == composite
        # biases and stabilisers given their share: conservation to 1e-4, or
        # to float32 round-off where relevance of both signs cancels heavily
        # (LRP-0 on a random EEGNet: sum |R| is 5e4 times the score)
        cancel = np.abs(rel.values).sum(axis=(1, 2)) / np.abs(rel.score.values)
        accounted = rel.attrs["conservation_error_accounted"]
        assert accounted < max(1e-4, 1e-7 * 10 * cancel.max()), (accounted, cancel.max())
        if composite == "zero" and ignore_bias:
            # nothing is absorbed: the input relevance sums to the score
            assert rel.attrs["conservation_error"] < max(1e-4, 1e-6 * cancel.max())


def test_conservation_on_real_trials(fitted_shallow, hands_feet_small):
    for composite in ("zero", "epsilon-plus", "alpha2-beta1", "epsilon-plus-epsilon"):
        rel = neurolrp.explain(fitted_shallow, hands_feet_small, composite=composite,
                               verbose=False)
        assert rel.attrs["conservation_error_accounted"] < 1e-4
        assert (rel.conservation.values >= 0).all()
    rel = neurolrp.explain(fitted_shallow, hands_feet_small, composite="zero",
                           ignore_bias=True, verbose=False)
    # all of the score reaches the input, to float32 round-off of the sum
    cancel = np.abs(rel.values).sum(axis=(1, 2)) / np.abs(rel.score.values)
    assert (rel.conservation.values < np.maximum(1e-4, 1e-6 * cancel)).all()


def test_contrast_is_difference_of_the_two_explanations():
    net = _tiny_net().float()
    X = np.random.default_rng(2).standard_normal((5, 2, 3)).astype(np.float32)
    for comp in ("zero", "epsilon-plus", "alpha2-beta1"):
        a = neurolrp.explain(net, X, composite=comp, target=0, verbose=False)
        b = neurolrp.explain(net, X, composite=comp, target=2, verbose=False)
        ab = neurolrp.explain(net, X, composite=comp, target=(0, 2), verbose=False)
        np.testing.assert_allclose(ab.values, a.values - b.values, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(ab.score.values, a.score.values - b.score.values, rtol=1e-5)
        assert set(ab.target.values) == {"0-2"}


def test_unsupported_layer_is_named_before_any_work():
    net = nn.Sequential(nn.Flatten(), nn.Linear(6, 4), nn.GELU(), nn.Linear(4, 2))
    with pytest.raises(UnsupportedModelError, match=r"'2' \(GELU\)"):
        neurolrp.explain(net, np.zeros((2, 2, 3), np.float32))

    class Functional(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(6, 2)

        def forward(self, x):
            return torch.tanh(self.fc(x.flatten(1)))

    with pytest.raises(UnsupportedModelError, match="tanh"):
        neurolrp.explain(Functional(), np.zeros((2, 2, 3), np.float32))

    class LooseBN(nn.Module):
        def __init__(self):
            super().__init__()
            self.bn = nn.BatchNorm1d(6)
            self.fc = nn.Linear(6, 2)

        def forward(self, x):
            return self.fc(self.bn(x.flatten(1)))

    with pytest.raises(UnsupportedModelError, match="'bn'.*cannot be folded"):
        neurolrp.explain(LooseBN(), np.zeros((2, 2, 3), np.float32))


def test_custom_module_with_reshape_is_traced_and_explained():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(3, 4, 3)
            self.act = nn.ELU()
            self.fc = nn.Linear(4 * 6, 2)

        def forward(self, x):
            h = self.act(self.conv(x))
            return self.fc(h.view(h.shape[0], -1))

    rel = neurolrp.explain(Net(), np.random.default_rng(0).standard_normal((3, 3, 8)),
                           composite="epsilon-plus", verbose=False)
    assert rel.attrs["conservation_error_accounted"] < 1e-4


def test_bad_arguments():
    net = _tiny_net().float()
    X = np.zeros((2, 2, 3), np.float32)
    with pytest.raises(ValueError, match="method must be one of"):
        neurolrp.explain(net, X, method="shap")
    with pytest.raises(ValueError, match="composite must be"):
        neurolrp.explain(net, X, composite="nope")
    with pytest.raises(ValueError, match="not a class"):
        neurolrp.explain(net, X, target="left")
    with pytest.raises(ValueError, match="out of range"):
        neurolrp.explain(net, X, target=5)
    with pytest.raises(ValueError, match="needs labels"):
        neurolrp.explain(net, X, target="true")
    with pytest.raises(ValueError, match="cannot take data"):
        neurolrp.explain(net, np.zeros((2, 3, 3), np.float32))
    with pytest.raises(ValueError, match="NaN"):
        neurolrp.explain(net, np.full((2, 2, 3), np.nan, np.float32))
    with pytest.raises(TypeError, match="torch.nn.Module"):
        neurolrp.explain("model", X)
    with pytest.raises(ValueError, match="alpha - beta = 1"):
        AlphaBeta(2, 2)


_LAYERS = {
    "conv2d-strided-dilated": (lambda: nn.Conv2d(3, 6, (2, 5), stride=(1, 2), padding=(1, 2),
                                                 dilation=(1, 2)), (4, 3, 7, 40)),
    "conv2d-grouped": (lambda: nn.Conv2d(4, 8, (3, 3), groups=2, padding=1), (4, 4, 6, 20)),
    "conv2d-same": (lambda: nn.Conv2d(4, 8, (3, 4), padding="same"), (4, 4, 6, 20)),
    "conv1d-strided": (lambda: nn.Conv1d(3, 5, 4, stride=3, padding=2), (4, 3, 31)),
    "conv1d-no-bias": (lambda: nn.Conv1d(3, 5, 4, bias=False), (4, 3, 31)),
    "linear": (lambda: nn.Linear(10, 6), (4, 10)),
    "avgpool2d": (lambda: nn.AvgPool2d((1, 4), stride=(1, 3), padding=(0, 1)), (4, 3, 2, 20)),
    "avgpool1d": (lambda: nn.AvgPool1d(3), (4, 3, 20)),
}


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("layer", sorted(_LAYERS))
@pytest.mark.parametrize("name", sorted(RULES))
def test_closed_forms_equal_the_rules_terms(layer, name):
    """Each built-in rule's fast closed form gives what its terms define (relevance of
    the input and what reaches it, with and without biases), as accurately: its error
    against the terms in float64 is at most a few times that of the terms in float32
    (ignoring biases makes gamma's denominators near 0 and both lose digits there)."""
    from neurolrp.lrp.layers import LinearOp
    from neurolrp.lrp.rules import Rule

    make, shape = _LAYERS[layer]
    torch.manual_seed(0)
    module, rule = make(), RULES[name]
    assert type(rule).propagate is not Rule.propagate  # a closed form is tested
    x = torch.randn(shape)
    for bias in (True, False):
        results = {}
        for dtype in (torch.float32, torch.float64):
            op = LinearOp(module.to(dtype))
            xd = x.to(dtype)
            with torch.no_grad():
                w, b = op.params(xd)
                z = op(xd, w, b)
                R = torch.randn(z.shape, generator=torch.Generator().manual_seed(1),
                                dtype=torch.float64).to(dtype)  # the same numbers
                b = b if bias else None
                results[dtype] = (rule.propagate(op, xd, R, z, w, b),
                                  Rule.propagate(rule, op, xd, R, z, w, b))
        (fast, fast_kept), (terms, terms_kept) = results[torch.float32]
        exact, exact_kept = results[torch.float64][1]
        for got, ref, truth in ((fast, terms, exact), (fast_kept, terms_kept, exact_kept)):
            err_fast = (got.double() - truth).abs().max()
            err_terms = (ref.double() - truth).abs().max()
            assert err_fast <= 4 * err_terms + 1e-6 * truth.abs().max(), (bias, err_fast,
                                                                            err_terms)


def test_lrp0_equals_gradient_times_input_with_same_padding():
    """String padding goes through autograd's own transposed convolution."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Unflatten(1, (1, 4)), nn.Conv2d(1, 3, (1, 4), padding="same",
                                                            bias=False),
                        nn.ReLU(), nn.Flatten(), nn.Linear(3 * 4 * 16, 2, bias=False))
    X = np.random.default_rng(0).standard_normal((5, 4, 16)).astype(np.float32)
    lrp = neurolrp.explain(net, X, composite="zero", verbose=False)
    gxi = neurolrp.explain(net, X, method="gradient*input", verbose=False)
    np.testing.assert_allclose(lrp.values, gxi.values, rtol=1e-4, atol=1e-6)


_CHUNK_LAYERS = dict(_LAYERS, **{
    "spatial-filter": (lambda: nn.Conv2d(3, 4, (5, 1)), (7, 3, 5, 30)),
    "spatial-filter-grouped": (lambda: nn.Conv2d(4, 8, (5, 1), groups=2, bias=False),
                               (7, 4, 5, 30)),
})


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("layer", sorted(_CHUNK_LAYERS))
@pytest.mark.parametrize("name", sorted(RULES) + ["pattern"])
def test_chunked_rules_equal_the_whole_batch(layer, name, monkeypatch):
    """On the CPU the built-in rules run over chunks of the batch, writing into a given
    buffer and reusing their scratch across calls: the same relevance and absorbed share
    as one pass over the whole batch (float32 round-off), whatever the buffer held."""
    from neurolrp.lrp import Pattern
    from neurolrp.lrp import rules as rules_mod
    from neurolrp.lrp.layers import LinearOp

    make, shape = _CHUNK_LAYERS[layer]
    torch.manual_seed(0)
    module = make()
    op = LinearOp(module)
    x = torch.randn(shape)
    with torch.no_grad():
        w, b = op.params(x)
        z = op(x, w, b)
    if name == "pattern":
        if not hasattr(module, "weight"):
            pytest.skip("the pattern rule needs a layer with weights")
        rule = Pattern(torch.rand_like(module.weight) + 0.5)
    else:
        rule = RULES[name]
    R = torch.randn(z.shape, generator=torch.Generator().manual_seed(1))
    for bias in (True, False):
        rule.bias = bias
        try:
            monkeypatch.setattr(rules_mod, "CHUNK_BYTES", 1 << 40)
            whole, absorbed_whole = rule(op, x, R, z)
            monkeypatch.setattr(rules_mod, "CHUNK_BYTES", 1)
            monkeypatch.setattr(rules_mod, "MIN_CHUNK_TRIALS", 3)  # chunks of 3, 3 and 1
            assert rules_mod.chunk_trials(x, z) == 3
            for _ in range(2):  # the second call finds the first call's scratch
                buf = torch.full(x.shape, float("nan"))
                chunked, absorbed = rule(op, x, R, z, out=buf)
                assert chunked is buf
                scale = whole.abs().max()
                torch.testing.assert_close(chunked, whole, rtol=0, atol=1e-5 * scale)
                torch.testing.assert_close(absorbed, absorbed_whole, rtol=1e-5,
                                           atol=1e-5 * R.abs().sum(dim=tuple(range(1, R.dim()))).max())
        finally:
            rule.bias = True


@pytest.mark.parametrize("groups", [1, 2])
def test_spatial_filter_vjp_as_matrix_product(groups):
    """A convolution whose kernel spans its input's height: its transpose as one batched
    matrix product into the given buffer equals the transposed convolution."""
    from neurolrp.lrp.layers import LinearOp

    torch.manual_seed(0)
    conv = nn.Conv2d(4, 6, (5, 1), groups=groups)
    op = LinearOp(conv)
    shape = (3, 4, 5, 17)
    assert op.spans_input(shape) and not op.spans_input((3, 4, 6, 17))
    assert not LinearOp(nn.Conv2d(4, 6, (5, 1), padding=(1, 0))).spans_input(shape)
    s = torch.randn(3, 6, 1, 17)
    buf = torch.empty(shape)
    got = op.vjp(s, shape, conv.weight, out=buf)
    assert got is buf
    torch.testing.assert_close(got, op.vjp(s, shape, conv.weight), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kernel, padding, n", [(5, 0, 3), (8, 4, 2), (4, 2, 5)])
def test_temporal_filter_vjp_equals_autograd(kernel, padding, n, monkeypatch):
    """A filter along time of one input map: the transpose as per-tap products added
    in shifted equals autograd's, for one weight and several stacked, whole and in chunks
    of trials (the chunk size cut to a few kilobytes)."""
    from neurolrp.lrp import layers
    from neurolrp.lrp.layers import LinearOp

    torch.manual_seed(0)
    conv = nn.Conv2d(1, 6, (1, kernel), padding=(0, padding)).double()
    op = LinearOp(conv)
    shape = (n, 1, 7, 30)
    assert op._is_temporal(shape)
    for other in (nn.Conv2d(1, 6, (1, kernel), stride=(1, 2)), nn.Conv2d(1, 6, (2, kernel)),
                  nn.Conv2d(2, 6, (1, kernel)), nn.Conv2d(1, 6, (1, 3), padding="same")):
        assert not LinearOp(other)._is_temporal((n, other.in_channels, 7, 30))
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    z = F.conv2d(x, conv.weight, None, padding=(0, padding))
    s = torch.randn(z.shape, dtype=torch.float64)
    w2 = torch.randn_like(conv.weight)
    expected = [torch.autograd.grad(F.conv2d(x, w, None, padding=(0, padding)), x, s)[0]
                for w in (conv.weight, w2)]
    for chunk_bytes in (layers.TEMPORAL_CHUNK_BYTES, 1):  # whole, then one trial per chunk
        monkeypatch.setattr(layers, "TEMPORAL_CHUNK_BYTES", chunk_bytes)
        for _ in range(2):  # the second call finds the first call's buffers
            got = op.vjp_shared(s, shape, [conv.weight.detach(), w2])
            for g, e in zip(got, expected):
                torch.testing.assert_close(g, e, rtol=1e-12, atol=1e-12)
            torch.testing.assert_close(op.vjp(s, shape, conv.weight.detach(), own=True),
                                       expected[0], rtol=1e-12, atol=1e-12)


def test_reused_buffers_never_reach_the_caller():
    """The engine reuses buffers across batches for relevance between layers, never for
    what reaches the input: a relevance kept from one pass is unchanged by the next."""
    from neurolrp.lrp import get_composite
    from neurolrp.lrp.engine import Hooks, workspaces

    net, names = prepare_model(make_model("shallow", 8, 200, 2, 100.0).eval())
    comp = get_composite("epsilon")

    def relevance(x):
        x = x.clone().requires_grad_(True)
        with Hooks(net, names, comp):
            out = net(x)
            (R,) = torch.autograd.grad(out, x, out.detach() * torch.tensor([1.0, 0.0]))
        return R

    torch.manual_seed(0)
    x1, x2 = torch.randn(5, 8, 200), torch.randn(5, 8, 200)
    first = relevance(x1)
    kept = first.clone()
    second = relevance(x2)
    assert torch.equal(first, kept) and not torch.equal(first, second)
    assert torch.equal(relevance(x1), kept)  # reused scratch gives the same numbers
    # the spatial filter's input relevance went to a reused buffer; nothing of the input's
    assert "R_in" in workspaces(net)[names[1]]._buffers
    assert "R_in" not in workspaces(net)[names[0]]._buffers


def test_spatial_filter_forward_as_matrix_product_while_hooked():
    """Under the engine's hooks a spatial filter's forward is a matrix product (the same
    output up to round-off); removing the hooks gives the layer its own forward back."""
    from neurolrp.lrp import get_composite
    from neurolrp.lrp.engine import Hooks

    net, names = prepare_model(make_model("eegnet", 8, 200, 2, 100.0).eval())
    spatial = net.get_submodule(names[1])
    assert spatial.kernel_size[0] == 8 and spatial.groups > 1
    x = torch.randn(3, 8, 200)
    with torch.no_grad():
        plain = net(x)
        with Hooks(net, names, get_composite("epsilon")):
            assert "forward" in vars(spatial)
            hooked = net(x)
    assert "forward" not in vars(spatial)
    torch.testing.assert_close(hooked, plain, rtol=1e-5, atol=1e-6)


def test_layer_applied_twice_keeps_its_relevance_apart():
    """One module called twice in a row: the relevance it receives the second time is the
    buffer it would write to; the engine then writes elsewhere, so that the relevance
    (LRP-0 = gradient x input on a bias-free linear network) and the accounted conservation
    (epsilon's absorbed shares, read from the received relevance) stay right."""
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.unflat = nn.Unflatten(1, (1, 4))
            self.conv = nn.Conv2d(1, 1, (4, 1), bias=False)
            self.spread = nn.Conv2d(1, 1, (1, 1), bias=False)
            self.flat = nn.Flatten()
            self.fc = nn.Linear(8, 2, bias=False)

        def forward(self, x):
            h = self.spread(self.spread(self.conv(self.unflat(x))))
            return self.fc(self.flat(h))

    torch.manual_seed(0)
    net = Twice().eval()
    X = np.random.default_rng(0).standard_normal((3, 4, 8)).astype(np.float32)
    lrp = neurolrp.explain(net, X, composite="zero", verbose=False)
    gxi = neurolrp.explain(net, X, method="gradient*input", verbose=False)
    np.testing.assert_allclose(lrp.values, gxi.values, rtol=1e-4, atol=1e-6)
    eps = neurolrp.explain(net, X, composite="epsilon", verbose=False)
    assert eps.attrs["conservation_error"] > 1e-3  # epsilon absorbs a visible share
    assert eps.attrs["conservation_error_accounted"] < 1e-5

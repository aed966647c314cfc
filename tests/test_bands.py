"""Relevance per frequency band (neurolrp.bands)."""

import numpy as np
import pytest
import torch
from torch import nn

import neurolrp
from neurolrp.bands import band_components, band_share, explain_bands
from neurolrp.datasets import simulate_motor_imagery

BANDS = {"theta": (4, 8), "mu": (8, 13), "beta": (13, 30)}


@pytest.fixture(scope="module")
def sim_fit():
    """Simulated left/right, 1-30 Hz, a ShallowNet fitted on half, the other half held out."""
    ep, truth = simulate_motor_imagery(n_trials=120, tmin=-0.5, tmax=3.0, erd_window=(0.5, 2.5),
                                       sfreq=80.0, verbose=False)
    ep = ep.copy().filter(1.0, 30.0, verbose=False)
    clf = neurolrp.EEGClassifier("shallow", max_epochs=30, patience=15, verbose=False, seed=0)
    clf.fit(ep[::2])
    return clf, ep[1::2], truth


def test_band_components_partition_the_signal():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 5, 200))
    comps, names = band_components(x, 100.0, {"mu": (8, 13), "beta": (13, 30)})
    assert names == ["mu", "beta", "residual"]
    assert comps.shape == (3, 5, 3, 200)
    np.testing.assert_allclose(comps.sum(axis=-2), x, atol=1e-12)
    freqs = np.fft.rfftfreq(200, 1 / 100.0)
    spec = np.abs(np.fft.rfft(comps, axis=-1))
    in_mu = (freqs >= 8) & (freqs < 13)
    assert spec[..., 0, ~in_mu].max() < 1e-9 and spec[..., 0, in_mu].min() > 1e-6
    assert spec[..., 2, in_mu].max() < 1e-9  # the residual holds nothing of mu
    # bands covering 0 Hz to Nyquist leave no residual; the Nyquist bin is in the last
    comps, names = band_components(x, 100.0, {"low": (0, 25), "high": (25, 50)})
    assert names == ["low", "high"]
    np.testing.assert_allclose(comps.sum(axis=-2), x, atol=1e-12)


@pytest.mark.parametrize("bands, match", [
    ({"a": (8, 14), "b": (13, 30)}, "overlap"),
    ({"a": (8, 13), "b": (5, 40)}, "overlap"),
    ({"mu": (8, 13), "gamma": (30, 45)}, "Nyquist"),
    ({"narrow": (10.1, 10.2)}, "holds no frequency"),
    ({"bad": (13, 8)}, "fmin < fmax"),
    ({"residual": (1, 4)}, "reserved"),
])
def test_bad_bands_are_refused_before_any_work(bands, match):
    calls = []

    class Spy(nn.Module):
        def forward(self, x):
            calls.append(1)
            return x.mean(-1)[:, :2]

    X = np.random.default_rng(0).standard_normal((4, 3, 80)).astype(np.float32)
    with pytest.raises(ValueError, match=match):
        explain_bands(Spy(), X, bands, sfreq=80.0)
    assert not calls  # nothing ran
    with pytest.raises(ValueError, match=match):
        band_components(X, 80.0, bands)


def test_bad_arguments_are_refused():
    net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 80, 2))
    X = np.zeros((2, 3, 80), dtype=np.float32)
    with pytest.raises(ValueError, match="needs sfreq"):
        explain_bands(net, X, BANDS)
    with pytest.raises(ValueError, match="sums to the explained output"):
        explain_bands(net, X, BANDS, sfreq=80.0, method="gradient")
    with pytest.raises(TypeError, match="dict"):
        explain_bands(net, X, [(8, 13)], sfreq=80.0)
    with pytest.raises(TypeError, match="pair"):
        explain_bands(net, X, {"mu": 8}, sfreq=80.0)


def test_split_is_lrp0_through_the_virtual_layer():
    """A linear network and LRP-0: R = x * w, so band b's relevance must be x_b * w."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(2 * 160, 2, bias=False))
    t = np.arange(160) / 80.0
    rng = np.random.default_rng(1)
    X = (np.sin(2 * np.pi * 10 * t) + 0.5 * np.sin(2 * np.pi * 20 * t + 1.0)
         + 0.3 * rng.standard_normal((4, 2, 160))).astype(np.float32)
    rel = explain_bands(net, X, {"mu": (8, 13), "beta": (13, 30)}, sfreq=80.0, epsilon=0.0,
                        composite="zero", target=0, verbose=False)
    assert rel.attrs["sfreq"] == 80.0
    np.testing.assert_allclose(rel.time.values, np.arange(160) / 80.0)  # timed by sfreq=
    w = net[1].weight.detach().numpy()[0].reshape(2, 160)
    comps, _ = band_components(X, 80.0, {"mu": (8, 13), "beta": (13, 30)})
    expected = np.moveaxis(comps, -2, 1) * w  # (trial, band, channel, time)
    np.testing.assert_allclose(rel.values, expected, atol=2e-4 * np.abs(expected).max())


def test_bands_sum_to_the_broadband_relevance(sim_fit):
    clf, test, _ = sim_fit
    test = test[:20]
    for kw in ({}, {"composite": "epsilon", "target": "true"}):
        broad = neurolrp.explain(clf, test, verbose=False, **kw)
        rel = explain_bands(clf, test, BANDS, verbose=False, **kw)
        err = float(np.abs(rel.sum("band") - broad).max() / np.abs(broad).max())
        print(f"band conservation error ({kw or 'default composite'}): {err:.2e}")
        assert err < 1e-5
        assert rel.attrs["band_conservation_error"] < 1e-5
        # every coordinate and attr of the broadband relevance is kept
        assert rel.dims == ("trial", "band", "channel", "time") and rel.dtype == np.float32
        for name, coord in broad.coords.items():
            np.testing.assert_array_equal(rel[name].values, coord.values)
        assert {k: v for k, v in rel.attrs.items() if k in broad.attrs} == broad.attrs
        assert list(rel.band.values) == ["theta", "mu", "beta", "residual"]
        np.testing.assert_array_equal(rel.fmin.values[:3], [4, 8, 13])
        np.testing.assert_array_equal(rel.fmax.values[:3], [8, 13, 30])
        assert np.isnan(rel.fmin.values[3])
        assert rel.attrs["freq_resolution"] == pytest.approx(80.0 / len(test.times))


def test_stabiliser_bounds_the_split(sim_fit):
    """|R_b| <= |R| (|x_b| / (2 eps) + 1): no band gets a huge value where bands cancel."""
    clf, test, _ = sim_fit
    test = test[:6]
    rel = explain_bands(clf, test, BANDS, epsilon=0.1, verbose=False)
    x = clf.scale(test.get_data()).astype(np.float64)
    comps, _ = band_components(x, 80.0, BANDS)
    comps = np.moveaxis(comps, -2, 1)
    eps = 0.1 * np.sqrt(np.mean(comps.sum(1) ** 2, axis=-1, keepdims=True))[:, None]
    R = rel.sum("band").values[:, None]
    bound = np.abs(R) * (np.abs(comps) / (2 * eps) + 1)
    assert (np.abs(rel.values) <= bound * (1 + 1e-4) + 1e-12).all()
    raw = explain_bands(clf, test, BANDS, epsilon=0.0, verbose=False)
    assert np.abs(raw).max() > np.abs(rel).max()  # the pure ratio is the larger one


def test_erd_relevance_lies_in_the_mu_band(sim_fit):
    """The simulator's ERD is a mu (8-13 Hz) rhythm: inside the truth, mu leads."""
    clf, test, truth = sim_fit
    assert clf.score(test) > 0.8
    region = truth.isel({"class": 0}, drop=True)
    shares = {}
    for composite in ("epsilon", None):
        kw = {} if composite is None else {"composite": composite}
        rel = explain_bands(clf, test, {"delta": (0.5, 4), **BANDS}, verbose=False, **kw)
        inside = band_share(rel, region).mean("trial")
        outside = band_share(rel, ~region).mean("trial")
        np.testing.assert_allclose(band_share(rel, region).sum("band"), 1.0, rtol=1e-6)
        shares[composite or "default"] = (inside, outside)
        print(composite or "default", "inside", dict(zip(rel.band.values,
                                                         inside.values.round(3))),
              "outside", dict(zip(rel.band.values, outside.values.round(3))))
    inside, outside = shares["epsilon"]
    mu = float(inside.sel(band="mu"))
    assert mu == float(inside.max()) and mu > 0.4, inside.values
    assert mu > float(outside.sel(band="mu")) + 0.05
    # the default composite: mu still gains inside the truth
    inside, outside = shares["default"]
    assert float(inside.sel(band="mu")) > float(outside.sel(band="mu"))


def test_band_share_refuses_bad_regions(sim_fit):
    clf, test, truth = sim_fit
    rel = explain_bands(clf, test[:2], BANDS, verbose=False)
    region = truth.isel({"class": 0}, drop=True)
    with pytest.raises(ValueError, match="selects no sample"):
        band_share(rel, region & False)
    with pytest.raises(ValueError, match="band"):
        band_share(rel.sum("band"), region)
    with pytest.raises(ValueError, match="times differ"):
        band_share(rel, region.isel(time=slice(0, 10)))


def test_arrays_and_epochs_give_the_same_bands(sim_fit):
    clf, test, _ = sim_fit
    test = test[:4]
    from_epochs = explain_bands(clf, test, BANDS, verbose=False)
    from_array = explain_bands(clf, test.get_data(), BANDS, verbose=False)
    np.testing.assert_array_equal(from_array.values, from_epochs.values)
    with pytest.raises(ValueError, match="contradicts"):
        explain_bands(clf, test, BANDS, sfreq=100.0)


def test_post_hoc_split_equals_the_engine_through_a_virtual_layer():
    """The split done after explain() is LRP through a real front layer in the engine.

    The band components go into a wrapper network whose first layer (a fixed
    1x1 convolution) sums them; the engine applies the split as that
    layer's rule (bound by name through the composite). Its input relevance
    must equal explain_bands' result, which never puts the layer in.
    """
    from neurolrp.bands import _split
    from neurolrp.lrp import Composite, Epsilon, Rule, get_composite
    from neurolrp.lrp.composites import CONV, DENSE, POOL

    class BandSplit(Rule):
        def __init__(self, n_bands, epsilon):
            self.n_bands, self.epsilon = n_bands, epsilon

        def __call__(self, op, x, R, z=None):
            n, bc, t = x.shape
            comps = x.detach().double().reshape(n, self.n_bands, bc // self.n_bands, t)
            R_in = _split(R.detach().double().numpy(), np.moveaxis(comps.numpy(), 1, 2),
                          self.epsilon)
            R_in = torch.from_numpy(R_in.reshape(n, bc, t)).to(R.dtype)
            return R_in, R.sum(dim=(1, 2)) - R_in.sum(dim=(1, 2))

    torch.manual_seed(0)
    n_ch, n_t, sfreq = 3, 120, 60.0
    net = nn.Sequential(nn.Unflatten(1, (1, n_ch)), nn.Conv2d(1, 4, (1, 7)), nn.ReLU(),
                        nn.Conv2d(4, 4, (n_ch, 1)), nn.ReLU(), nn.AvgPool2d((1, 10)),
                        nn.Flatten(), nn.Linear(4 * 11, 2))
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5, n_ch, n_t)).astype(np.float32)
    bands = {"mu": (8, 13), "beta": (13, 30)}
    rel = explain_bands(net, X, bands, sfreq=sfreq, composite="epsilon", target=0,
                        verbose=False)
    comps, names = band_components(X, sfreq, bands)
    n_b = len(names)
    stack = np.moveaxis(comps, -2, 1).reshape(5, n_b * n_ch, n_t)
    front = nn.Conv1d(n_b * n_ch, n_ch, 1, bias=False)
    with torch.no_grad():
        front.weight.zero_()
        for b in range(n_b):
            front.weight[torch.arange(n_ch), b * n_ch + torch.arange(n_ch), 0] = 1.0
    wrapped = nn.Sequential(front, net)
    plain = get_composite("epsilon")
    assert plain.first is None  # no positional rule that the front layer would shift
    comp = Composite({CONV + DENSE + POOL: Epsilon(0.25)}, last=Epsilon(), name="epsilon",
                     by_name={"0": BandSplit(n_b, rel.attrs["band_epsilon"])})
    via_engine = neurolrp.explain(wrapped, stack.astype(np.float64), composite=comp,
                                  target=0, verbose=False)
    via_engine = via_engine.values.reshape(5, n_b, n_ch, n_t)  # (trial, band, channel, time)
    scale = np.abs(rel.values).max()
    np.testing.assert_allclose(via_engine, rel.values, atol=1e-4 * scale)

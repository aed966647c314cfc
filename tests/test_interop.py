"""Relevance handed to MNE (neurolrp.mne_interop) and reduced relevance on disk."""

import matplotlib.pyplot as plt
import mne
import numpy as np
import pytest
import xarray as xr
from torch import nn

import neurolrp
from neurolrp.datasets import simulate_motor_imagery
from neurolrp.mne_interop import SCALINGS, UNITS, to_epochs, to_evoked
from neurolrp.relevance import (POS_COORDS, channel_positions, load_relevance, make_relevance,
                                save_relevance, validate_relevance)


@pytest.fixture(scope="module")
def sim():
    ep, _ = simulate_motor_imagery(n_trials=12, tmin=0.0, tmax=1.0, erd_window=(0.2, 0.8),
                                   sfreq=50.0, verbose=False)
    return ep


@pytest.fixture(scope="module")
def rel(sim):
    """Relevance of a small network on simulated epochs: positions, labels, scores."""
    net = nn.Sequential(nn.Flatten(), nn.Linear(64 * len(sim.times), 2))
    out = neurolrp.explain(net, sim, y=sim.events[:, 2] - 1, verbose=False)
    return out


def _positions(rel):
    return np.column_stack([rel[c].values for c in POS_COORDS])


def test_to_evoked_gives_class_averages_with_positions(rel, sim):
    evokeds = to_evoked(rel)
    y = rel.y_true.values
    assert [ev.comment for ev in evokeds] == list(rel.attrs["classes"])
    for ev in evokeds:
        keep = y == ev.comment
        assert ev.nave == keep.sum() > 0
        np.testing.assert_allclose(ev.data, rel.values[keep].mean(0), rtol=1e-6, atol=1e-12)
        np.testing.assert_allclose(ev.times, rel.time.values, atol=1e-9)
        assert ev.ch_names == [str(c) for c in rel.channel.values]
        np.testing.assert_allclose(channel_positions(ev.info), _positions(rel))
        np.testing.assert_allclose(channel_positions(ev.info), channel_positions(sim.info))
    by_pred = to_evoked(rel, by="y_pred")
    assert sum(ev.nave for ev in by_pred) == rel.sizes["trial"]
    with pytest.raises(ValueError, match="no per-trial coordinate"):
        to_evoked(rel, by="subject")


def test_mne_plots_take_the_evoked(rel):
    ev = to_evoked(rel)[0]
    fig = ev.plot_joint(times=[0.5], ts_args=dict(scalings=SCALINGS, units=UNITS),
                        topomap_args=dict(scalings=SCALINGS, units="relevance"), show=False)
    # the topomap drew the relevance itself (not x1e6): its colour limits match the data
    images = [im for ax in fig.axes for im in ax.get_images()]
    assert images
    vmax = max(abs(np.asarray(im.get_clim())).max() for im in images)
    assert vmax == pytest.approx(np.abs(ev.copy().crop(0.5, 0.5).data).max(), rel=0.5)
    plt.close("all")
    fig = ev.plot_topo(scalings=SCALINGS, show=False)
    plt.close(fig)


def test_to_epochs_round_trips_trials_and_metadata(rel):
    sub = rel.isel(trial=[1, 3, 4, 8, 10])  # a selection: trial numbers are not 0..n-1
    epochs = to_epochs(sub)
    np.testing.assert_allclose(epochs.get_data(), sub.values, rtol=1e-6)
    assert list(epochs.selection) == list(sub.trial.values)
    assert list(epochs.metadata.trial) == list(sub.trial.values)
    for col in ("y_true", "y_pred", "target", "correct"):
        assert list(epochs.metadata[col]) == list(sub[col].values)
    np.testing.assert_allclose(epochs.metadata.score, sub.score.values, rtol=1e-6)
    codes = {v: k for k, v in epochs.event_id.items()}
    assert [codes[e] for e in epochs.events[:, 2]] == list(sub.y_true.values)
    for cls in epochs.event_id:
        np.testing.assert_allclose(epochs[cls].get_data(),
                                   sub.values[sub.y_true.values == cls], rtol=1e-6)
    wrong = epochs["correct == False"]
    assert len(wrong) == int((~sub.correct.values).sum())
    np.testing.assert_allclose(channel_positions(epochs.info), _positions(sub))


def test_mne_stats_take_the_epochs(rel):
    epochs = to_epochs(rel)
    adjacency, names = mne.channels.find_ch_adjacency(epochs.info, "eeg")
    assert names == epochs.ch_names
    a, b = (epochs[c].get_data().transpose(0, 2, 1) for c in epochs.event_id)
    t_obs, _, p, _ = mne.stats.permutation_cluster_test(
        [a, b], adjacency=adjacency, n_permutations=20, tail=1, seed=0, out_type="mask", verbose=False)
    assert t_obs.shape == (len(epochs.times), len(epochs.ch_names))
    assert np.all((p > 0) & (p <= 1))


def test_relevance_without_positions_still_converts():
    rng = np.random.default_rng(0)
    rel = make_relevance(rng.standard_normal((4, 3, 20)), channels=["a", "b", "c"],
                         times=np.arange(20) / 10.0, y_pred=["x", "y", "x", "y"],
                         target=["x", "y", "x", "y"], score=np.ones(4),
                         attrs={"sfreq": 10.0, "classes": ["x", "y"]})
    evokeds = to_evoked(rel)
    assert [ev.comment for ev in evokeds] == ["x", "y"]  # no labels: grouped by target
    assert evokeds[0].info["sfreq"] == 10.0
    epochs = to_epochs(rel)
    assert epochs.event_id == {"x": 1, "y": 2} and "y_true" not in epochs.metadata


def test_band_relevance_needs_a_band(rel, sim):
    net = nn.Sequential(nn.Flatten(), nn.Linear(64 * len(sim.times), 2))
    rb = neurolrp.explain_bands(net, sim, {"mu": (8, 13), "beta": (13, 25)}, verbose=False)
    with pytest.raises(ValueError, match="band="):
        to_evoked(rb)
    with pytest.raises(ValueError, match="No band 'gamma'"):
        to_epochs(rb, band="gamma")
    with pytest.raises(ValueError, match="no band dim"):
        to_evoked(rel, band="mu")
    mu = to_evoked(rb, band="mu")
    keep = rb.y_true.values == mu[0].comment
    np.testing.assert_allclose(mu[0].data, rb.sel(band="mu").values[keep].mean(0), rtol=1e-6,
                               atol=1e-12)
    np.testing.assert_allclose(to_epochs(rb, band="beta").get_data(),
                               rb.sel(band="beta").values, rtol=1e-6)


def test_uneven_time_axis_is_refused(rel):
    with pytest.raises(ValueError, match="evenly spaced"):
        to_evoked(rel.isel(time=[0, 1, 5, 6]))
    with pytest.raises(TypeError, match="DataArray"):
        to_epochs(rel.values)


def test_save_relevance_takes_reduced_relevance(rel, sim, tmp_path):
    avg = rel.groupby("y_true").mean("trial")
    assert avg.dims == ("y_true", "channel", "time")
    with pytest.raises(ValueError, match="dims"):
        validate_relevance(avg)  # the single-trial convention still holds by default
    validate_relevance(avg, reduced=True)
    for name, arr in (("avg", avg), ("window", rel.mean("time")),
                      ("bands", neurolrp.explain_bands(
                          nn.Sequential(nn.Flatten(), nn.Linear(64 * len(sim.times), 2)),
                          sim, {"mu": (8, 13)}, verbose=False))):
        fname = save_relevance(arr, tmp_path / f"{name}.nc")
        back = load_relevance(fname)
        xr.testing.assert_identical(back, arr)
    with pytest.raises(ValueError, match="channel"):
        save_relevance(rel.mean("channel"), tmp_path / "nochannel.nc")
    with pytest.raises(ValueError, match="float32"):
        save_relevance(avg.astype(np.float64), tmp_path / "f64.nc")

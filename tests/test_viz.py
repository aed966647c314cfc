"""Figures: channel x time maps grouped by region, shared colour scales, stats overlays."""

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import LineCollection

from neurolrp import channels, stats, viz
from neurolrp.viz._draw import _outline

from test_stats import _relevance, _truth

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def sim():
    truth, pos = _truth()
    rel = _relevance(truth, pos, n_per_class=12, effect=1.5, sign={"right": -1})
    res = stats.one_sample_test(rel, n_permutations=100, verbose=False)
    return rel, res


def _texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_regions_from_names_and_positions(sim):
    rel, _ = sim
    reg = channels.channel_regions(rel)
    expect = {"Fp2": ("frontal", "right"), "AF7": ("frontal", "left"),
              "FC3": ("central", "left"), "Cz": ("central", "midline"),
              "CP4": ("central", "right"), "FT8": ("temporal", "right"),
              "T9": ("temporal", "left"), "P7": ("parietal", "left"),
              "PO8": ("occipital", "right"), "Iz": ("occipital", "midline")}
    for ch, (region, hemi) in expect.items():
        assert tuple(reg.loc[ch]) == (region, hemi), ch
    # names that are not 10-10 fall back on the positions
    renamed = rel.assign_coords(channel=[f"E{i}" for i in range(64)])
    by_pos = channels.channel_regions(renamed)
    by_pos.index = reg.index
    for ch in ("Fp1", "C3", "C4", "Cz", "Oz", "P3"):
        assert tuple(by_pos.loc[ch]) == tuple(reg.loc[ch]), ch
    assert (by_pos.region == reg.region).sum() >= 60  # measured 61 of 64
    assert (by_pos.hemisphere == reg.hemisphere).all()


def test_region_order_blocks(sim):
    rel, _ = sim
    order, blocks = channels.region_order(rel)
    assert sorted(order) == list(range(64))
    assert [b[0] for b in blocks][0] == "frontal" and blocks[-1][0] == "occipital"
    spans = [(a, b) for *_, a, b in blocks]
    assert spans[0][0] == 0 and spans[-1][1] == 64
    assert all(s[1] == t[0] for s, t in zip(spans, spans[1:]))  # contiguous, no overlap
    names = list(rel.channel.values[order])
    central_left = next(b for b in blocks if b[:2] == ("central", "left"))
    assert set(names[central_left[2]:central_left[3]]) == {
        "FC5", "FC3", "FC1", "C5", "C3", "C1", "CP5", "CP3", "CP1"}
    # within a block front to back, then left to right
    assert names.index("FC5") < names.index("C5") < names.index("C3") < names.index("CP1")


def test_channel_time_is_labelled_by_region_with_readable_labels(sim):
    rel, res = sim
    fig = viz.plot_channel_time(rel.sel(trial=rel.target == "left"))
    ax = fig.axes[0]
    texts = _texts(fig)
    for region in ("frontal", "central", "temporal", "parietal", "occipital"):
        assert region in texts
    assert {"L", "z", "R"} <= set(texts)
    names = [t.get_text() for t in ax.texts if t.get_text() in set(rel.channel.values)]
    assert 15 <= len(names) <= 30  # the 10-20 channels and the strongest rows, not 64
    assert {"C3", "Cz", "C4", "Oz"} <= set(names)
    assert all(t.get_fontsize() >= 7 for t in ax.texts)
    # names never overlap: at least one font height apart once drawn
    fig.canvas.draw()
    ys = sorted(t.get_window_extent().y0 for t in ax.texts if t.get_text() in names)
    assert np.min(np.diff(ys)) >= 0.9 * 7 * fig.dpi / 72
    lo, hi = ax.images[0].get_clim()
    assert lo == -hi
    assert fig.get_size_inches()[0] * 100 <= 850  # fits mne.Report's width without rescaling
    plt.close(fig)


def test_channel_time_outlines_the_clusters(sim):
    rel, res = sim
    left = res.sel(group="left")
    fig = viz.plot_channel_time(rel.sel(trial=rel.target == "left"), stats=left)
    ax = fig.axes[0]
    outlines = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert len(outlines) == 1
    segs = outlines[0].get_segments()
    # the outline encloses exactly the significant rows: every segment lies on the rows
    # of significant channels, which are all in the left class's (C4) region
    order, _ = channels.region_order(rel)
    names = list(rel.channel.values[order])
    sig_rows = {names.index(c) for c in left.channel.values[left.mask.any("time").values]}
    rows = {int(round(y + 0.5)) for seg in segs for y in seg[:, 1]} | {
        int(round(y - 0.5)) for seg in segs for y in seg[:, 1]}
    assert rows & sig_rows and rows <= sig_rows | {r + 1 for r in sig_rows} | {
        r - 1 for r in sig_rows}
    assert len(ax.images) == 2  # the map and the veil over what is not significant
    plt.close(fig)
    # a mask of other channels is an error, not a silently misplaced contour
    with pytest.raises(ValueError, match="lack channel"):
        viz.plot_channel_time(rel.isel(channel=slice(0, 10)).isel(trial=[0]),
                              stats=left.isel(channel=slice(10, 20)))


def test_outline_of_a_single_cell_and_the_frame():
    segs = _outline(np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], bool),
                        np.arange(4.0), np.arange(4.0))
    assert len(segs) == 4
    # cells on the frame: their frame edges are not drawn
    segs = _outline(np.array([[1, 1], [0, 0]], bool), np.arange(3.0), np.arange(3.0))
    assert sorted(segs) == [((0.0, 1.0), (1.0, 1.0)), ((1.0, 1.0), (2.0, 1.0))]


def test_topomap_marks_significant_sensors(sim):
    rel, res = sim
    left = res.sel(group="left")
    fig = viz.plot_topomap(rel.sel(trial=rel.target == "left"), window=1.0, stats=left)
    wins = [(0.0, 1.0), (1.0, 2.0), (2.0, 3.0), (3.0, 4.0)]
    for ax, (a, b) in zip(fig.axes[:4], wins):
        marked = [ln for ln in ax.lines if ln.get_markerfacecolor() == "w"]
        n_marked = sum(len(ln.get_xdata()) for ln in marked)
        t = left.time.values
        sel = (t >= a) & ((t < b) if b < t[-1] else (t <= b))
        assert n_marked == int(left.mask.values[:, sel].any(axis=1).sum())
    plt.close(fig)


def test_group_figures_share_one_symmetric_scale(sim):
    rel, res = sim
    fig = viz.plot_group_channel_time(rel, stats=res)
    clims = {ax.images[0].get_clim() for ax in fig.axes if ax.images}
    assert len(clims) == 1
    lo, hi = clims.pop()
    assert lo == -hi
    expected = max(np.abs(rel.sel(trial=rel.target == g).mean("trial")).max() for g in
                   ("left", "right"))
    np.testing.assert_allclose(hi, float(expected), rtol=1e-5)
    plt.close(fig)
    fig = viz.plot_group_topomaps(rel, window=1.0, stats=res)
    clims = {im.get_clim() for ax in fig.axes for im in ax.images}
    assert len(clims) == 1
    assert fig.get_size_inches()[0] * 100 <= 850
    plt.close(fig)
    with pytest.raises(ValueError, match="no group 'left'; they have \\['feet'\\]"):
        viz.plot_group_channel_time(rel, stats=res.sel(group=["left"]).assign_coords(
            group=["feet"]))


def test_cluster_figure(sim):
    rel, res = sim
    fig = viz.plot_cluster_test(res, group="right", n_clusters=2)
    n_sig = int((res.sel(group="right").p_value < 0.05).sum())
    topo_titles = [ax.get_title() for ax in fig.axes if ax.get_title().startswith("cluster")]
    assert len(topo_titles) == min(2, n_sig) >= 1
    assert "(\u2212)" in topo_titles[0]  # the right class's effect is negative here
    plt.close(fig)
    with pytest.raises(ValueError, match="pick one"):
        viz.plot_cluster_test(res)
    two = stats.two_sample_test(rel, by="y_true", n_permutations=100, verbose=False)
    fig = viz.plot_cluster_test(two)
    assert "left (12) minus right (12)" in fig._suptitle.get_text()
    plt.close(fig)

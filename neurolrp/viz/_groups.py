"""Groups of trials side by side on one colour scale, and cluster tests at a glance."""

import matplotlib.pyplot as plt
import numpy as np

from ..channels import region_order
from ..relevance import split_trials, to_info, window_sums
from ..stats import select_group
from ._draw import (MAX_WIDTH, UNIT, channel_time_panel, draw_topomap, stats_mask, sym_limit,
                    time_windows, window_mask)


def _group_stats(stats, label):
    """The part of a per-group test result that belongs to ``label``."""
    if stats is None:
        return None
    if "group" in getattr(stats, "dims", ()):
        have = list(map(str, stats.group.values))
        if label not in have:
            raise ValueError(f"The statistics have no group {label!r}; they have {have}.")
        return stats.sel(group=label)
    return stats


def plot_group_topomaps(rel, by="target", *, groups=None, times=None, window=1.0, tmin=None,
                        tmax=None, vmax=None, stats=None, title=None):
    """Topographies of several groups of trials, one row each, on one colour scale.

    Parameters
    ----------
    rel : xarray.DataArray
        Relevance with channel positions.
    by : str
        Trial coordinate that defines the groups (``"target"``, ``"y_true"``,
        ``"y_pred"``, ``"correct"``), as in :func:`neurolrp.stats.one_sample_test`.
    groups : list | None
        Values of ``by`` to show, in this order; default all.
    times, window, tmin, tmax
        Windows, as in :func:`plot_topomap`.
    vmax : float | None
        Symmetric colour limit shared by every map; default the largest
        absolute window sum over all groups.
    stats : xarray.Dataset | None
        A :func:`neurolrp.stats.one_sample_test` result with the same groups:
        significant sensors are marked in each row.
    title : str | None
        Figure title.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    info = to_info(rel)
    parts = split_trials(rel, by, groups)
    wins = times if times is not None else time_windows(rel.time.values, window, tmin, tmax)
    maps = [window_sums(g, wins) for _, g in parts]
    vmax = sym_limit(np.array(maps)) if vmax is None else vmax
    n, rows = len(wins), len(parts)
    w = min(1.55, (MAX_WIDTH - 0.4) / n)
    height = (w + 0.25) * rows + 0.55
    fig, axes = plt.subplots(rows, n + 1, figsize=(w * n + 1.2, height), squeeze=False,
                             gridspec_kw={"width_ratios": [1] * n + [0.07], "hspace": 0.25,
                                          "wspace": 0.08})
    fig.subplots_adjust(top=1 - 0.6 / height, bottom=0.05 / height, left=0.7 / (w * n + 1.2),
                        right=0.9)
    names = [str(c) for c in rel.channel.values]
    for r, ((label, g), m_row) in enumerate(zip(parts, maps)):
        mask = stats_mask(_group_stats(stats, label), names)
        for k, (ax, m, (a, b)) in enumerate(zip(axes[r, :n], m_row, wins)):
            im = draw_topomap(ax, m, info, vmax,
                              mask=window_mask(mask, a, b, b >= rel.time.values[-1]))
            if r == 0:
                ax.set_title(f"{a:.1f} to {b:.1f} s", fontsize=9)
            if k == 0:
                ax.set_ylabel(f"{label}\n({g.sizes['trial']} trials)", fontsize=9)
                ax.yaxis.set_visible(True)
                ax.set_yticks([])
        if r:
            axes[r, n].remove()
    cax = axes[0, n]
    cb = fig.colorbar(im, cax=cax)
    pos0, pos1 = axes[0, n].get_position(), axes[-1, 0].get_position()
    cax.set_position([pos0.x0, pos1.y0, pos0.width, pos0.y1 - pos1.y0])
    cb.set_label(f"{UNIT} (sum over window)", fontsize=8)
    cb.ax.tick_params(labelsize=7)
    what = "significant sensors (cluster test) marked white" if stats is not None else ""
    fig.suptitle(title if title is not None else
                 f"mean relevance by {by}; one colour scale" + (f"; {what}" if what else ""),
                 fontsize=10)
    return fig


def plot_group_channel_time(rel, by="target", *, groups=None, vmax=None, stats=None,
                            title=None, labels="auto"):
    """Channel x time maps of several groups of trials side by side, one colour scale.

    Parameters
    ----------
    rel : xarray.DataArray
        Relevance.
    by : str
        Trial coordinate that defines the groups, as in
        :func:`plot_group_topomaps`.
    groups : list | None
        Values of ``by`` to show, in this order; default all.
    vmax : float | None
        Symmetric colour limit shared by the maps; default the largest
        absolute mean relevance over the groups.
    stats : xarray.Dataset | None
        A :func:`neurolrp.stats.one_sample_test` result with the same groups:
        significant clusters are outlined.
    title : str | None
        Figure title.
    labels : "auto" | "all" | "landmarks" | "none"
        Which channels are named (on the first map).

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    parts = split_trials(rel, by, groups)
    idx, blocks = region_order(rel)
    names = [str(c) for c in rel.channel.values[idx]]
    avgs = [g.mean("trial").values[idx] for _, g in parts]
    vmax = sym_limit(np.array(avgs)) if vmax is None else vmax
    t = rel.time.values
    k = len(parts)
    fig, axes = plt.subplots(1, k, figsize=(min(8.4, 1.6 + 3.4 * k), 5.2), squeeze=False,
                             layout="constrained")
    for i, ((label, g), v) in enumerate(zip(parts, avgs)):
        ax = axes[0, i]
        im = channel_time_panel(ax, v, t, names, blocks, vmax,
                                stats_mask(_group_stats(stats, label), names),
                                labels if i == 0 else "none", region_labels=i == 0)
        ax.set_title(f"{label} ({g.sizes['trial']} trials)", fontsize=9, pad=12)
    cb = fig.colorbar(im, ax=axes[0, :], fraction=0.04, pad=0.01, aspect=30)
    cb.set_label(f"mean {UNIT}", fontsize=8)
    cb.ax.tick_params(labelsize=7)
    what = "; outlined: significant clusters" if stats is not None else ""
    fig.suptitle(title if title is not None else f"mean relevance by {by}, one colour scale{what}",
                 fontsize=10)
    return fig


def plot_cluster_test(result, *, group=None, n_clusters=3, title=None, labels="auto"):
    """A cluster test at a glance: t-values over channel x time and the clusters' scalp maps.

    Left: the t-values (relevance against zero, or group a minus group b)
    with every significant cluster outlined. Right: for each of the
    ``n_clusters`` most significant clusters, the t-values averaged over its
    time span on the scalp, with the cluster's channels marked.

    Parameters
    ----------
    result : xarray.Dataset
        From :func:`neurolrp.stats.one_sample_test` or
        :func:`~neurolrp.stats.two_sample_test`.
    group : str | None
        Which group of a per-group one-sample result to show (needed when it
        holds more than one).
    n_clusters : int
        Significant clusters drawn as scalp maps (the most significant).
    title : str | None
        Figure title; default names the test, the group(s) and the numbers.
    labels : "auto" | "all" | "landmarks" | "none"
        Which channels are named on the map.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    res = select_group(result, group)
    idx, blocks = region_order(res)
    names = [str(c) for c in res.channel.values[idx]]
    tvals = res.t.values[idx]
    alpha = float(result.attrs.get("alpha", 0.05))
    sig = [int(c) for c in res.cluster.values if float(res.p_value.sel(cluster=c)) < alpha]
    shown = sig[:n_clusters]
    vmax = sym_limit(tvals)
    n_topo = max(len(shown), 1)
    fig = plt.figure(figsize=(8.4, 5.0), layout="constrained")
    gs = fig.add_gridspec(n_topo, 2, width_ratios=[2.3, 1])
    ax = fig.add_subplot(gs[:, 0])
    im = channel_time_panel(ax, tvals, res.time.values, names, blocks, vmax,
                            res["mask"].isel(channel=idx), labels)
    cb = fig.colorbar(im, ax=ax, fraction=0.05, pad=0.02)
    cb.set_label("t-value", fontsize=8)
    cb.ax.tick_params(labelsize=7)
    ax.set_title(f"t-values; outlined: clusters with p < {alpha:g}", fontsize=9, pad=12)
    info = to_info(res.isel(time=[0]).t.expand_dims(trial=[0]).transpose(
        "trial", "channel", "time").assign_attrs(sfreq=1.0))
    for k in range(n_topo):
        tax = fig.add_subplot(gs[k, 1])
        if k >= len(shown):
            tax.set_axis_off()
            tax.text(0.5, 0.5, f"no cluster\nwith p < {alpha:g}", ha="center", va="center",
                     fontsize=9, transform=tax.transAxes)
            continue
        c = shown[k]
        inside = (res.cluster_id == c).values
        span = res.time.values[inside.any(axis=0)]
        t_mean = res.t.values[:, inside.any(axis=0)].mean(axis=1)
        draw_topomap(tax, t_mean, info, vmax, mask=inside.any(axis=1))
        p = float(res.p_value.sel(cluster=c))
        sign = "+" if int(res.sign.sel(cluster=c)) > 0 else "\u2212"
        tax.set_title(f"cluster {c} ({sign}), p = {p:.3g}\n{span.min():.2f} to "
                      f"{span.max():.2f} s, {int(inside.any(axis=1).sum())} channels",
                      fontsize=8)
    if title is None:
        kind = result.attrs.get("kind", "")
        if kind == "two-sample":
            what = (f"{result.attrs['group_a']} ({int(res.n_a)}) minus "
                    f"{result.attrs['group_b']} ({int(res.n_b)})")
        else:
            g = str(res.group.values) if "group" in res.coords else "selected trials"
            what = f"relevance vs 0, {g} ({int(res.n_trials)} trials)"
        title = (f"{kind} cluster test: {what}; {result.attrs.get('n_permutations')} "
                 f"permutations, seed {result.attrs.get('seed')}")
    fig.suptitle(title, fontsize=10)
    return fig

"""Maps of relevance: scalp topographies over time and channel x time maps."""

import matplotlib.pyplot as plt
import numpy as np

from ..channels import region_order, scalp_order
from ..relevance import to_info, trial_average, window_sums
from ._draw import (MAX_WIDTH, UNIT, channel_time_panel, describe, draw_eeg, draw_topomap,
                    stats_mask, sym_limit, time_windows, window_mask)


def plot_topomap(rel, times=None, *, window=0.5, tmin=None, tmax=None, vmax=None, title=None,
                 axes=None, stats=None):
    """Scalp topographies of relevance, one per time window.

    Parameters
    ----------
    rel : xarray.DataArray
        Relevance (``trial`` x ``channel`` x ``time``) with channel positions:
        one trial, a selection (``rel.sel(trial=~rel.correct)``) or all;
        several trials are averaged.
    times : list of (float, float) | None
        Windows (start, stop) in seconds. Default: consecutive windows of
        ``window`` seconds from ``tmin`` to ``tmax``.
    window : float
        Window length in seconds when ``times`` is None.
    tmin, tmax : float | None
        Span to cover; default the whole epoch.
    vmax : float | None
        Colour limit; default the largest absolute value over the row, so
        all maps share symmetric limits.
    title : str | None
        Figure title; default describes the trials shown.
    axes : list of matplotlib Axes | None
        Where to draw (one per window, plus one for the colour bar if given
        one more). The figure's layout is then left as it is (``title``, if
        given, becomes its title).
    stats : xarray.Dataset | xarray.DataArray | None
        A result of :func:`neurolrp.stats.one_sample_test` (one group) or
        :func:`~neurolrp.stats.two_sample_test`, or a boolean mask with dims
        ``channel`` (and ``time``): in each window, the channels inside a
        significant cluster at any time of the window are marked with white
        dots (:data:`MASK_PARAMS`).

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    info = to_info(rel)
    wins = times if times is not None else time_windows(rel.time.values, window, tmin, tmax)
    maps = window_sums(rel, wins)
    mask = stats_mask(stats, [str(c) for c in rel.channel.values])
    vmax = sym_limit(maps) if vmax is None else vmax
    n = len(wins)
    own = axes is None
    if own:
        w = min(1.7, MAX_WIDTH / n)
        fig, axes = plt.subplots(1, n + 1, figsize=(w * n + 0.8, 0.55 + w),
                                 gridspec_kw={"width_ratios": [1] * n + [0.08]})
    else:
        fig = axes[0].figure
    for ax, m, (a, b) in zip(axes, maps, wins):
        last = b >= rel.time.values[-1]
        im = draw_topomap(ax, m, info, vmax, mask=window_mask(mask, a, b, last))
        ax.set_title(f"{a:.1f} to {b:.1f} s", fontsize=9)
    if len(axes) > n:
        cb = fig.colorbar(im, cax=axes[n])
        cb.set_label(f"{UNIT} (sum over window)", fontsize=8)
        cb.ax.tick_params(labelsize=7)
    if own:
        fig.suptitle(title if title is not None else describe(rel), fontsize=10)
        fig.subplots_adjust(top=0.72)  # room for the title above the maps' own titles
    elif title is not None:
        fig.suptitle(title, fontsize=10)
    return fig


def _resolve_order(rel, order):
    if order == "regions":
        return region_order(rel)
    if order == "scalp":
        return scalp_order(rel), []
    raise ValueError(f"order must be 'regions' or 'scalp', got {order!r}.")


def plot_channel_time(rel, data=None, *, vmax=None, title=None, ax=None, stats=None,
                      order="regions", labels="auto"):
    """Channel x time map of relevance, channels grouped by scalp region.

    Rows are grouped by region (frontal, central, temporal, parietal,
    occipital) and, within each, by hemisphere (L, z, R), with the region
    written beside its rows; the 10-20 channels are named (all channels when
    there are at most 32). Colours are symmetric around zero.

    Parameters
    ----------
    rel : xarray.DataArray
        Relevance; several trials are averaged.
    data : array, shape (n_channels, n_times) | None
        The trial's EEG (same channels and times) to draw beside the map.
    vmax : float | None
        Symmetric colour limit; default the largest absolute value. Pass
        the same value to maps that are compared.
    title : str | None
        Axes title.
    ax : matplotlib Axes | None
        Where to draw the relevance (without ``data``).
    stats : xarray.Dataset | xarray.DataArray | None
        A result of :func:`neurolrp.stats.one_sample_test` (one group) or
        :func:`~neurolrp.stats.two_sample_test`, or a boolean mask with dims
        ``channel`` (and ``time``): significant clusters are outlined in
        black (channel-only masks are marked beside the rows).
    order : "regions" | "scalp"
        Rows grouped by region and hemisphere, or ordered front to back,
        left to right over the whole scalp (the former layout).
    labels : "auto" | "all" | "landmarks" | "none"
        Which channels are named on the y axis.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    avg = trial_average(rel)
    idx, blocks = _resolve_order(rel, order)
    values = avg.values[idx]
    names = [str(c) for c in avg.channel.values[idx]]
    mask = stats_mask(stats, names)
    t = avg.time.values
    vmax = sym_limit(values) if vmax is None else vmax
    if ax is None:
        ncols = 2 if data is not None else 1
        height = min(5.4, 0.06 * len(names) + 1.6)
        fig, axs = plt.subplots(1, ncols, figsize=(6.8 if ncols == 1 else 8.4, height),
                                squeeze=False, layout="constrained")
        ax = axs[0, -1] if data is not None else axs[0, 0]
        if data is not None:
            draw_eeg(axs[0, 0], np.asarray(data)[idx], t, names, blocks, labels, values)
    else:
        fig = ax.figure
    im = channel_time_panel(ax, values, t, names, blocks, vmax, mask,
                            labels if data is None else "none", region_labels=data is None)
    cb = fig.colorbar(im, ax=ax, fraction=0.05, pad=0.02)
    cb.set_label(UNIT, fontsize=8)
    cb.ax.tick_params(labelsize=7)
    ax.set_title(title if title is not None else describe(rel), fontsize=9, pad=12)
    return fig

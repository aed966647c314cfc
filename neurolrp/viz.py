"""Pictures of relevance: scalp topographies, channel x time maps, galleries.

All figures take the relevance DataArray (with the channel positions it
carries) and return a matplotlib Figure; nothing here calls ``show()``.
Colours: a diverging map centred at zero with symmetric limits, red for
evidence for the explained class, blue for evidence against it; figures
that compare groups share one scale. Channel x time maps group their rows by
scalp region and hemisphere. Results of :mod:`neurolrp.stats` are overlaid
with ``stats=``: significant sensors marked on topomaps, clusters outlined on
channel x time maps. The figures of :mod:`neurolrp.evaluation`'s results are
here too (perturbation curves, two classifiers compared, trial consistency).
Every figure is at most 8.5 in wide, so mne.Report shows it at 100 dpi
without rescaling (850 px).
"""

import re

import matplotlib.pyplot as plt
import numpy as np

from .evaluation import GRANULARITIES, _aligned, compare_classifiers
from .relevance import POS_COORDS, to_info

CMAP = "RdBu_r"
UNIT = "relevance"
#: Width (inches) a row of maps may take: mne.Report draws figures wider than
#: 8.5 in at a reduced, non-integer resolution, which garbles the image.
MAX_WIDTH = 7.6


def _as_average(rel):
    """Average over trials when there is a trial dimension."""
    if "trial" in rel.dims:
        if rel.sizes["trial"] == 0:
            raise ValueError("No trials to plot (the selection is empty).")
        return rel.mean("trial")
    return rel


def _windows(times, window, tmin=None, tmax=None):
    t0 = times[0] if tmin is None else tmin
    t1 = times[-1] if tmax is None else tmax
    edges = np.arange(t0, t1 + 1e-9, window)
    if len(edges) < 2:
        edges = np.array([t0, t1])
    return list(zip(edges[:-1], edges[1:]))


def window_sums(rel, windows):
    """Relevance summed over each (start, stop) window: (n_windows, n_channels).

    A sum, not a mean, so the maps of adjacent windows add up to the
    relevance of the whole span (conservation carries over to the picture).
    """
    rel = _as_average(rel)
    t = rel.time.values
    maps = []
    for a, b in windows:
        sel = (t >= a) & (t < b) if b < t[-1] else (t >= a) & (t <= b)
        if not sel.any():
            raise ValueError(f"No samples in the window {a:g}-{b:g} s.")
        maps.append(rel.values[:, sel].sum(axis=1))
    return np.array(maps)


def _sym_limit(values):
    m = float(np.nanmax(np.abs(values))) if np.size(values) else 0.0
    return m if m > 0 else 1.0


#: How significant sensors are marked on topomaps (mne.viz.plot_topomap's mask_params).
MASK_PARAMS = dict(marker="o", markerfacecolor="w", markeredgecolor="k", markeredgewidth=0.8,
                   linewidth=0, markersize=3.5)


def _topomap(ax, values, info, vmax, names=None, mask=None):
    import mne

    im, _ = mne.viz.plot_topomap(values, info, axes=ax, cmap=CMAP, vlim=(-vmax, vmax),
                                 sensors=True, contours=0, show=False, names=names,
                                 mask=mask, mask_params=MASK_PARAMS)
    return im


def _window_mask(mask, a, b, last):
    """Channels significant anywhere in the window [a, b) (closed at the end)."""
    if mask is None:
        return None
    if "time" not in mask.dims:
        return mask.values
    t = mask.time.values
    sel = (t >= a) & ((t < b) if not last else (t <= b))
    return mask.values[:, sel].any(axis=1)


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
    wins = times if times is not None else _windows(rel.time.values, window, tmin, tmax)
    maps = window_sums(rel, wins)
    mask = _stats_mask(stats, [str(c) for c in rel.channel.values])
    vmax = _sym_limit(maps) if vmax is None else vmax
    n = len(wins)
    own = axes is None
    if own:
        w = min(1.7, MAX_WIDTH / n)
        fig, axes = plt.subplots(1, n + 1, figsize=(w * n + 0.8, 0.55 + w),
                                 gridspec_kw={"width_ratios": [1] * n + [0.08]})
    else:
        fig = axes[0].figure
    for ax, m, (a, b) in zip(axes, maps, wins):
        im = _topomap(ax, m, info, vmax, mask=_window_mask(mask, a, b, b >= rel.time.values[-1]))
        ax.set_title(f"{a:.1f} to {b:.1f} s", fontsize=9)
    if len(axes) > n:
        cb = fig.colorbar(im, cax=axes[n])
        cb.set_label(f"{UNIT} (sum over window)", fontsize=8)
        cb.ax.tick_params(labelsize=7)
    if own:
        fig.suptitle(title if title is not None else _describe(rel), fontsize=10)
        fig.subplots_adjust(top=0.72)  # room for the title above the maps' own titles
    elif title is not None:
        fig.suptitle(title, fontsize=10)
    return fig


def _describe(rel):
    if "trial" not in rel.dims:
        return "relevance"
    n = rel.sizes["trial"]
    tgt = set(map(str, rel.target.values)) if "target" in rel.coords else set()
    what = f"target {', '.join(sorted(tgt))}" if tgt else ""
    if n == 1:
        t = rel.trial.values[0]
        return f"trial {t}: " + _trial_label(rel.isel(trial=0))
    return f"mean of {n} trials, {what}".strip(", ")


def _trial_label(r):
    parts = []
    if "y_true" in r.coords:
        parts.append(f"true {r.y_true.item()}")
    parts.append(f"predicted {r.y_pred.item()}")
    return ", ".join(parts)


def scalp_order(rel):
    """Channel order front to back, then left to right (by position)."""
    x, y = rel[POS_COORDS[0]].values, rel[POS_COORDS[1]].values
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        return np.arange(rel.sizes["channel"])
    rows = np.round(-y / 0.015)  # rows of electrodes about 1.5 cm apart
    return np.lexsort((x, rows))


#: Scalp regions, front to back, in the order the channel x time maps show them.
REGIONS = ("frontal", "central", "temporal", "parietal", "occipital", "other")
HEMISPHERES = ("left", "midline", "right")
#: 10-10 name prefix -> region (FC and CP count as central, FT and TP as temporal,
#: PO and I as occipital).
_PREFIX_REGION = {"FP": "frontal", "AF": "frontal", "F": "frontal", "FC": "central",
                  "C": "central", "CP": "central", "FT": "temporal", "T": "temporal",
                  "TP": "temporal", "P": "parietal", "PO": "occipital", "O": "occipital",
                  "I": "occipital"}
_ROWS = ("FP", "AF", "F", "FT", "FC", "T", "C", "TP", "CP", "P", "PO", "O", "I")
_NAME_RE = re.compile(r"^(FP|AF|FT|FC|TP|CP|PO|F|T|C|P|O|I)(Z|\d+)$", re.IGNORECASE)
#: Channels named on the maps when not all are (the 10-20 system's, old and new names).
LANDMARKS = ("Fp1", "Fpz", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "T3", "C3", "Cz", "C4",
             "T8", "T4", "P7", "T5", "P3", "Pz", "P4", "P8", "T6", "O1", "Oz", "O2")


def channel_regions(rel):
    """The scalp region and hemisphere of every channel.

    From the 10-10 name where it parses (``Fp``, ``AF``, ``F``: frontal;
    ``FC``, ``C``, ``CP``: central; ``FT``, ``T``, ``TP``: temporal; ``P``:
    parietal; ``PO``, ``O``, ``I``: occipital; odd numbers left, even right,
    ``z`` midline), otherwise from the channel's position (approximate),
    otherwise ``"other"``.

    Parameters
    ----------
    rel : xarray.DataArray | xarray.Dataset
        Anything with a ``channel`` dimension (positions ``ch_x``, ``ch_y``,
        ``ch_z`` used when a name does not parse).

    Returns
    -------
    regions : pandas.DataFrame
        Indexed by channel name, columns ``region`` and ``hemisphere``.
    """
    import pandas as pd

    names = [str(c) for c in rel.channel.values]
    pos = (np.column_stack([rel[c].values for c in POS_COORDS])
           if all(c in rel.coords for c in POS_COORDS) else np.full((len(names), 3), np.nan))
    ok = np.isfinite(pos).all(axis=1)
    unit = np.full_like(pos, np.nan)
    if ok.sum() >= 3:
        centred = pos[ok] - pos[ok].mean(axis=0)
        unit[ok] = centred / np.linalg.norm(centred, axis=1, keepdims=True)
    rows = []
    for name, u in zip(names, unit):
        m = _NAME_RE.match(name)
        if m:
            region = _PREFIX_REGION[m.group(1).upper()]
            num = m.group(2)
            hemi = "midline" if num.upper() == "Z" else ("left" if int(num) % 2 else "right")
        elif np.isfinite(u).all():
            # unit vectors from the electrodes' centroid; limits fitted to the 10-10
            # layout (61 of its 64 channels agree with their names; FC1, FCz and FC2
            # come out frontal)
            x, y, z = u
            hemi = "left" if x < -0.1 else ("right" if x > 0.1 else "midline")
            if z < -0.3 and abs(y) < 0.4 and abs(x) > 0.6:
                region = "temporal"
            elif y > 0.53:
                region = "frontal"
            elif y < -0.78:
                region = "occipital"
            elif y < -0.45:
                region = "parietal"
            else:
                region = "central"
        else:
            region, hemi = "other", "midline"
        rows.append((region, hemi))
    return pd.DataFrame(rows, index=pd.Index(names, name="channel"),
                        columns=["region", "hemisphere"])


def region_order(rel):
    """Channel order for channel x time maps: by region, then hemisphere.

    Regions front to back (:data:`REGIONS`), within each the left
    hemisphere, the midline, then the right; within a block front to back,
    then left to right, so each block reads like the scalp.

    Parameters
    ----------
    rel : xarray.DataArray | xarray.Dataset
        Anything with a ``channel`` dimension.

    Returns
    -------
    order : array of int
        Indices into ``rel.channel``.
    blocks : list of (str, str, int, int)
        ``(region, hemisphere, start, stop)`` row spans in the new order.
    """
    reg = channel_regions(rel)
    r = np.array([REGIONS.index(v) for v in reg.region])
    h = np.array([HEMISPHERES.index(v) for v in reg.hemisphere])
    matches = [_NAME_RE.match(str(c)) for c in rel.channel.values]
    x = rel[POS_COORDS[0]].values if POS_COORDS[0] in rel.coords else None
    if all(matches) and x is not None and np.isfinite(x).all():
        # the 10-10 row from the name (rows curve over the head), then left to right
        row = np.array([_ROWS.index(m.group(1).upper()) for m in matches])
        within = np.lexsort((x, row))
    else:
        within = scalp_order(rel)
    rank = np.empty(len(r), int)
    rank[within] = np.arange(len(r))
    order = np.lexsort((rank, h, r))
    blocks, start = [], 0
    for k in range(1, len(order) + 1):
        if k == len(order) or (r[order[k]], h[order[k]]) != (r[order[start]], h[order[start]]):
            blocks.append((REGIONS[r[order[start]]], HEMISPHERES[h[order[start]]], start, k))
            start = k
    return order, blocks


def _resolve_order(rel, order):
    if order == "regions":
        return region_order(rel)
    if order == "scalp":
        return scalp_order(rel), []
    raise ValueError(f"order must be 'regions' or 'scalp', got {order!r}.")


def _stats_mask(stats, names):
    """A boolean (channel, time) or (channel,) DataArray from a test result or a mask."""
    import xarray as xr

    if stats is None:
        return None
    if isinstance(stats, xr.Dataset):
        from .stats import _single

        stats = _single(stats)["mask"]
    if not isinstance(stats, xr.DataArray) or "channel" not in stats.dims:
        raise TypeError("stats must be a result of neurolrp.stats (a Dataset) or a boolean "
                        "DataArray with a 'channel' dimension.")
    have = set(map(str, stats.channel.values))
    missing = [n for n in names if n not in have]
    if missing:
        raise ValueError(f"The statistics lack channel(s) {missing[:10]} of the relevance; "
                         "test the same channels you plot.")
    return stats.astype(bool).sel(channel=list(names))


def _edges(t):
    """Edges of the cells centred on the (evenly spaced) times ``t``."""
    t = np.asarray(t, dtype=float)
    dt = float(np.median(np.diff(t))) if len(t) > 1 else 1.0
    return np.concatenate([t - dt / 2, [t[-1] + dt / 2]])


def _outline(mask, x_edges, y_edges):
    """Line segments around the True cells of ``mask`` (rows: y, columns: x).

    Edges on the outer frame of the grid are left out (the axes' frame is
    there already).
    """
    m = np.pad(np.asarray(mask, bool), 1)
    segs = []
    # horizontal boundaries: between (padded) rows i and i + 1, i.e. above grid row i
    rows, cols = np.nonzero(m[1:, 1:-1] != m[:-1, 1:-1])
    keep = (rows > 0) & (rows < mask.shape[0])
    segs += [((x_edges[j], y_edges[i]), (x_edges[j + 1], y_edges[i]))
             for i, j in zip(rows[keep], cols[keep])]
    rows, cols = np.nonzero(m[1:-1, 1:] != m[1:-1, :-1])
    keep = (cols > 0) & (cols < mask.shape[1])
    segs += [((x_edges[j], y_edges[i]), (x_edges[j], y_edges[i + 1]))
             for i, j in zip(rows[keep], cols[keep])]
    return segs


def _on_grid(mask, t):
    """A (channel, time) mask at the times ``t`` of the map (nearest tested bin; False
    outside the tested span)."""
    edges = _edges(mask.time.values)
    k = np.searchsorted(edges, t, side="right") - 1
    inside = (k >= 0) & (k < mask.sizes["time"])
    out = np.zeros((mask.sizes["channel"], len(t)), bool)
    out[:, inside] = mask.values[:, k[inside]]
    return out


def _draw_outline(ax, mask, x_edges, y_edges, **kwargs):
    from matplotlib.collections import LineCollection

    segs = _outline(mask, x_edges, y_edges)
    if segs:
        style = dict(colors="k", linewidths=1.2)
        style.update(kwargs)
        ax.add_collection(LineCollection(segs, **style))
    return len(segs)


def _spread(pos, gap, lo, hi, n_iter=200):
    """Move sorted positions apart until neighbours are ``gap`` apart, within [lo, hi]."""
    q = np.asarray(pos, dtype=float).copy()
    if len(q) < 2 or gap <= 0:
        return q
    gap = min(gap, (hi - lo) / (len(q) - 1))
    for _ in range(n_iter):
        d = np.diff(q)
        tight = d < gap - 1e-9
        if not tight.any():
            break
        push = np.where(tight, (gap - d) / 2, 0.0)
        q[:-1] -= push
        q[1:] += push
        np.clip(q, lo, hi, out=q)
    return q


#: Rows named beside the landmarks with ``labels="auto"``: the strongest rows.
N_PEAK_LABELS = 3


def _pick_labels(names, labels, values=None):
    """Rows to name, and which of them are named as peaks (strongest rows)."""
    n = len(names)
    if labels not in ("auto", "all", "landmarks", "none"):
        raise ValueError(f"labels must be 'auto', 'all', 'landmarks' or 'none', got {labels!r}.")
    if labels == "none":
        return [], set()
    if labels == "all" or (labels == "auto" and n <= 32):
        return list(range(n)), set()
    marks = {m.upper() for m in LANDMARKS}
    ticks = {i for i, nm in enumerate(names) if nm.upper() in marks}
    peaks = set()
    if labels == "auto" and values is not None:
        strength = np.abs(np.asarray(values)).sum(axis=1)
        peaks = {int(i) for i in np.argsort(-strength)[:N_PEAK_LABELS]} - ticks
    return sorted(ticks | peaks), peaks


def _separators(ax, blocks):
    """Lines between regions across the map."""
    seen = set()
    for region, _, a, _ in blocks:
        if region not in seen and a > 0:
            ax.axhline(a - 0.5, color="0.35", lw=0.7)
        seen.add(region)


def _label_rows(ax, names, blocks, labels, fontsize=7, values=None):
    """Channel names (nudged apart where crowded), hemispheres and regions on the left.

    With ``labels="auto"`` and many channels: the 10-20 channels plus the
    strongest rows of ``values`` (in bold). Returns the names shown.
    """
    from matplotlib.transforms import blended_transform_factory, offset_copy

    fig = ax.figure
    n = len(names)
    ticks, peaks = _pick_labels(names, labels, values)
    ax.set_yticks(ticks)
    ax.set_yticklabels([])
    ax.tick_params(axis="y", length=2.5)
    trans = blended_transform_factory(ax.transAxes, ax.transData)
    pts_per_row = ax.get_position().height * fig.get_size_inches()[1] * 72 / max(n, 1)
    shown = _spread(ticks, 1.2 * fontsize / pts_per_row, -0.5, n - 0.5)
    for row, y in zip(ticks, shown):
        moved = abs(row - y) > 0.2
        ax.annotate(names[row], xy=(0, row), xycoords=trans,
                    xytext=(-3.5 - 4 * moved, (row - y) * pts_per_row), textcoords="offset points",
                    ha="right", va="center", fontsize=fontsize, annotation_clip=False,
                    fontweight="bold" if row in peaks else "normal",
                    arrowprops=dict(arrowstyle="-", lw=0.5, color="0.5", shrinkA=0, shrinkB=0)
                    if moved else None)
    if not blocks:
        return [names[i] for i in ticks]
    label_w = max([len(names[i]) for i in ticks], default=0) * 0.62 * fontsize + 8
    x_hemi, x_bracket, x_region = label_w + 6, label_w + 13, label_w + 17
    hemi_t = offset_copy(trans, fig, x=-x_hemi, y=0, units="points")
    brk_t = offset_copy(trans, fig, x=-x_bracket, y=0, units="points")
    reg_t = offset_copy(trans, fig, x=-x_region, y=0, units="points")
    regions = {}
    for region, hemi, a, b in blocks:
        regions.setdefault(region, []).append((hemi, a, b))
    for region, parts in regions.items():
        a, b = parts[0][1], parts[-1][2]
        ax.plot([0, 0], [a - 0.4, b - 0.6], color="0.25", lw=1.2, transform=brk_t,
                clip_on=False, solid_capstyle="butt")
        ax.text(0, (a + b - 1) / 2, region, ha="right", va="center", fontsize=fontsize + 1,
                fontweight="bold", transform=reg_t)
        if len(parts) > 1:
            for hemi, ha_, hb in parts:
                if (hb - ha_) * pts_per_row >= fontsize:
                    ax.text(0, (ha_ + hb - 1) / 2, {"left": "L", "midline": "z",
                                                    "right": "R"}[hemi],
                            ha="center", va="center", fontsize=fontsize, color="0.35",
                            transform=hemi_t)
                if ha_ > a:  # a short dash between hemispheres
                    ax.annotate("", xy=(0, ha_ - 0.5), xytext=(8, 0), textcoords="offset points",
                                xycoords=offset_copy(trans, fig, x=-x_hemi - 4, units="points"),
                                arrowprops=dict(arrowstyle="-", lw=0.7, color="0.55",
                                                shrinkA=0, shrinkB=0), annotation_clip=False)
    return [names[i] for i in ticks]


#: Opacity of the white veil over points outside significant clusters.
VEIL_ALPHA = 0.55


def _channel_time_panel(ax, values, t, names, blocks, vmax, mask=None, labels="auto",
                        cue=True, region_labels=True, veil=True):
    """Draw one channel x time map (rows already in display order)."""
    x_edges = _edges(t)
    n = len(names)
    extent = (x_edges[0], x_edges[-1], n - 0.5, -0.5)
    im = ax.imshow(values, aspect="auto", cmap=CMAP, vmin=-vmax, vmax=vmax, extent=extent,
                   interpolation="nearest")
    _separators(ax, blocks)
    _label_rows(ax, names, blocks if region_labels else [], labels, values=values)
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_xlabel("time (s)", fontsize=8)
    ax.tick_params(axis="x", labelsize=7)
    if mask is not None:
        if "time" in mask.dims:
            sig = _on_grid(mask, t)
            if veil:  # fade what lies outside the clusters, as mne's mask_style="both"
                rgba = np.zeros(sig.shape + (4,))
                rgba[..., :3] = 1.0
                rgba[..., 3] = np.where(sig, 0.0, VEIL_ALPHA)
                ax.imshow(rgba, aspect="auto", interpolation="nearest", extent=extent)
            # outlined on the tested grid (bins), whose outer frame is not drawn
            _draw_outline(ax, mask.values, _edges(mask.time.values), np.arange(n + 1) - 0.5)
        else:  # per channel: mark the rows
            for i in np.flatnonzero(mask.values):
                ax.plot([x_edges[-1]], [i], marker="<", color="k", ms=3, clip_on=False)
    if cue and t[0] < 0 < t[-1]:
        ax.axvline(0, color="k", lw=0.8, ls="--")
        ax.text(0, -0.6, "cue", ha="center", va="bottom", fontsize=7)
    ax.set_xlim(x_edges[0], x_edges[-1])
    return im


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
    avg = _as_average(rel)
    idx, blocks = _resolve_order(rel, order)
    values = avg.values[idx]
    names = [str(c) for c in avg.channel.values[idx]]
    mask = _stats_mask(stats, names)
    t = avg.time.values
    vmax = _sym_limit(values) if vmax is None else vmax
    if ax is None:
        ncols = 2 if data is not None else 1
        height = min(5.4, 0.06 * len(names) + 1.6)
        fig, axs = plt.subplots(1, ncols, figsize=(6.8 if ncols == 1 else 8.4, height),
                                squeeze=False, layout="constrained")
        ax = axs[0, -1] if data is not None else axs[0, 0]
        if data is not None:
            _plot_eeg(axs[0, 0], np.asarray(data)[idx], t, names, blocks, labels, values)
    else:
        fig = ax.figure
    im = _channel_time_panel(ax, values, t, names, blocks, vmax, mask,
                             labels if data is None else "none", region_labels=data is None)
    cb = fig.colorbar(im, ax=ax, fraction=0.05, pad=0.02)
    cb.set_label(UNIT, fontsize=8)
    cb.ax.tick_params(labelsize=7)
    ax.set_title(title if title is not None else _describe(rel), fontsize=9, pad=12)
    return fig


def _plot_eeg(ax, data, t, names, blocks=(), labels="auto", peak_values=None):
    scale = 2.5 * np.median(np.abs(data)) or 1.0
    for i, row in enumerate(data):
        ax.plot(t, i + (-row / (4 * scale)), lw=0.4, color="k")
    _separators(ax, list(blocks))
    _label_rows(ax, names, list(blocks), labels, values=peak_values)
    ax.set_ylim(len(names) - 0.5, -0.5)
    ax.set_xlabel("time (s)", fontsize=8)
    ax.tick_params(axis="x", labelsize=7)
    ax.set_title("EEG (z-scored per channel for display)", fontsize=9, pad=12)
    if t[0] < 0 < t[-1]:
        ax.axvline(0, color="k", lw=0.8, ls="--")


def _require_labels(rel):
    if "correct" not in rel.coords:
        raise ValueError("The relevance has no labels (y_true/correct); explain mne.Epochs or "
                         "pass y to explain().")


def plot_class_gallery(rel, cls, *, n_correct=3, n_wrong=4, tmin=0.5, tmax=2.5,
                       proba=None, consistency=None):
    """A class average beside confident correct trials and misclassified ones.

    "What made this trial fail?" (Sturm et al. 2016; Lawhern et al. 2018,
    Fig. 9). Each map is relevance summed over ``tmin`` to ``tmax`` and scaled
    by its own largest absolute value (single trials differ in scale; the
    pattern is what is compared).

    Parameters
    ----------
    rel : xarray.DataArray
        Relevance of all trials, with ``y_true`` and ``correct``.
    cls : str
        The true class whose trials are shown.
    n_correct, n_wrong : int
        Most confident correct trials (highest explained score) and
        misclassified trials to show.
    tmin, tmax : float
        Time span summed in every map.
    proba : dict | None
        Trial index -> probability of the predicted class, shown in titles.
    consistency : pandas.DataFrame | None
        :func:`neurolrp.evaluation.trial_consistency` of ``rel``: the
        correct trials shown then span its range (the most typical, the
        median and the least typical trial by ``corr_map``, the correlation
        of the trial's channel x time map with the average of the other
        trials explained for the same class), and every single trial's
        title gives its ``r``.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    _require_labels(rel)
    of_class = rel.sel(trial=rel.y_true == cls)
    if of_class.sizes["trial"] == 0:
        raise ValueError(f"No trials of class {cls!r}; classes: {sorted(set(rel.y_true.values))}")
    correct = of_class.sel(trial=of_class.correct)
    wrong = of_class.sel(trial=~of_class.correct)
    r_of = {}
    if consistency is not None:
        r_of = dict(zip(consistency.trial.astype(int), consistency.corr_map.astype(float)))
    if r_of and correct.sizes["trial"]:
        ranked = sorted(correct.trial.values, key=lambda t: -r_of.get(int(t), -np.inf))
        picks = np.unique(np.round(np.linspace(0, len(ranked) - 1, n_correct)).astype(int))
        best = [ranked[i] for i in picks]
        names = ["most typical", "median", "least typical"] if len(best) == 3 else \
            ["correct"] * len(best)
    else:
        best = correct.trial.values[np.argsort(-correct.score.values)][:n_correct]
        names = ["correct"] * len(best)
    panels = [("class average\n"
               f"{correct.sizes['trial']} correct\ntrials", correct if correct.sizes["trial"]
               else of_class)]
    panels += [(f"trial {t}\n{name}", of_class.sel(trial=[t])) for t, name in zip(best, names)]
    panels += [(f"trial {t}\npredicted {of_class.sel(trial=t).y_pred.item()}",
                of_class.sel(trial=[t])) for t in wrong.trial.values[:n_wrong]]
    info = to_info(rel)
    n = len(panels)
    w = min(1.6, MAX_WIDTH / n)
    head = 0.95  # the figure title and three lines of map titles, inches
    height = head + w + 0.1
    fig, axes = plt.subplots(1, n + 1, figsize=(w * n + 0.8, height),
                             gridspec_kw={"width_ratios": [1] * n + [0.08], "wspace": 0.12})
    fig.subplots_adjust(left=0.01, right=1 - 0.55 / (w * n + 0.8), top=1 - head / height,
                        bottom=0.1 / height)
    for ax, (label, r) in zip(axes, panels):
        m = window_sums(r, [(tmin, tmax)])[0]
        im = _topomap(ax, m / _sym_limit(m), info, 1.0)
        extra = []
        if r.sizes["trial"] == 1:
            t = int(r.trial.values[0])
            if proba is not None and t in proba:
                extra.append(f"p={proba[t]:.2f}")
            if t in r_of:
                extra.append(f"r={r_of[t]:.2f}")
        label += "\n" + (", ".join(extra) if extra else "")
        ax.set_title(label, fontsize=7.5, color="C3" if "predicted" in label else "k")
    cb = fig.colorbar(im, cax=axes[n])
    cb.set_label(f"{UNIT} / own max", fontsize=6)
    cb.ax.tick_params(labelsize=6)
    n_wrong_total = wrong.sizes["trial"]
    what = "p: probability of the predicted class" + ("; r: correlation with the class "
                                                      "average" if r_of else "")
    fig.suptitle(f"true class {cls}: relevance {tmin:g} to {tmax:g} s for the predicted class "
                 f"({n_wrong_total} misclassified)\n{what}", fontsize=9,
                 y=1 - 0.06 / height, va="top")
    return fig


# ------------------------------------------------- groups side by side, statistics


def _groups(rel, by, groups):
    from .stats import _split

    return _split(rel, by, groups)


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
    parts = _groups(rel, by, groups)
    wins = times if times is not None else _windows(rel.time.values, window, tmin, tmax)
    maps = [window_sums(g, wins) for _, g in parts]
    vmax = _sym_limit(np.array(maps)) if vmax is None else vmax
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
        mask = _stats_mask(_group_stats(stats, label), names)
        for k, (ax, m, (a, b)) in enumerate(zip(axes[r, :n], m_row, wins)):
            im = _topomap(ax, m, info, vmax,
                          mask=_window_mask(mask, a, b, b >= rel.time.values[-1]))
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
    parts = _groups(rel, by, groups)
    idx, blocks = region_order(rel)
    names = [str(c) for c in rel.channel.values[idx]]
    avgs = [g.mean("trial").values[idx] for _, g in parts]
    vmax = _sym_limit(np.array(avgs)) if vmax is None else vmax
    t = rel.time.values
    k = len(parts)
    fig, axes = plt.subplots(1, k, figsize=(min(8.4, 1.6 + 3.4 * k), 5.2), squeeze=False,
                             layout="constrained")
    for i, ((label, g), v) in enumerate(zip(parts, avgs)):
        ax = axes[0, i]
        im = _channel_time_panel(ax, v, t, names, blocks, vmax,
                                 _stats_mask(_group_stats(stats, label), names),
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
    from .stats import _single

    res = result.sel(group=group) if group is not None else _single(result)
    idx, blocks = region_order(res)
    names = [str(c) for c in res.channel.values[idx]]
    tvals = res.t.values[idx]
    alpha = float(result.attrs.get("alpha", 0.05))
    sig = [int(c) for c in res.cluster.values if float(res.p_value.sel(cluster=c)) < alpha]
    shown = sig[:n_clusters]
    vmax = _sym_limit(tvals)
    n_topo = max(len(shown), 1)
    fig = plt.figure(figsize=(8.4, 5.0), layout="constrained")
    gs = fig.add_gridspec(n_topo, 2, width_ratios=[2.3, 1])
    ax = fig.add_subplot(gs[:, 0])
    im = _channel_time_panel(ax, tvals, res.time.values, names, blocks, vmax,
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
        _topomap(tax, t_mean, info, vmax, mask=inside.any(axis=1))
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



# ------------------------------------------------------------ single trials, errors


def _one_trial(rel, trial):
    """The relevance of the trial labelled ``trial`` (a ``trial`` coordinate value)."""
    if "trial" not in rel.dims:
        raise ValueError("rel has no trial dimension.")
    have = rel.trial.values
    if trial not in have:
        raise ValueError(f"No trial {trial!r} in the relevance (trials {have[:10].tolist()}"
                         f"{'...' if len(have) > 10 else ''}).")
    return rel.sel(trial=[trial])


def _target_name(r):
    return str(r.target.values[0]) if "target" in r.coords else "the explained output"


def plot_trial(rel, trial, *, other=None, window=1.0, tmin=None, tmax=None, title=None,
               labels="auto"):
    """One trial at a glance: its scalp maps over time and its channel x time map.

    Top: relevance summed in consecutive windows (one row; a second row with
    ``other``, the same trial explained for another class, on the same
    colour scale so the two rows compare). Bottom: the channel x time map of
    ``rel``'s explanation, channels grouped by scalp region. Each trial has
    its own symmetric colour scale (single trials differ in scale).

    Parameters
    ----------
    rel : xarray.DataArray
        Relevance of one or more trials (e.g. explained for the predicted
        class).
    trial : int
        The trial to show: a value of the ``trial`` coordinate (the index
        into the epochs that were explained).
    other : xarray.DataArray | None
        Relevance of the same trial explained for another class (the true
        class of a misclassified trial, the runner-up of a correct one).
    window : float
        Window length of the scalp maps, in seconds.
    tmin, tmax : float | None
        Span covered by the scalp maps; default the whole epoch.
    title : str | None
        Figure title; default names the trial, its true and predicted class.
    labels : "auto" | "all" | "landmarks" | "none"
        Which channels are named on the channel x time map.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    r = _one_trial(rel, trial)
    rows = [r] + ([_one_trial(other, trial)] if other is not None else [])
    info = to_info(r)
    wins = _windows(r.time.values, window, tmin, tmax)
    maps = [window_sums(x, wins) for x in rows]
    vmax = _sym_limit(np.array(maps))
    n = len(wins)
    topo_h, ct_h, head = 1.35, 4.1, 0.62
    height = head + topo_h * len(rows) + 0.35 + ct_h
    fig = plt.figure(figsize=(8.4, height))
    top = 1 - head / height
    bottom = 1 - (head + topo_h * len(rows)) / height
    gs = fig.add_gridspec(len(rows), n + 1, left=0.15, right=0.9, top=top, bottom=bottom,
                          width_ratios=[1] * n + [0.06], wspace=0.08, hspace=0.18)
    for i, (x, m_row) in enumerate(zip(rows, maps)):
        for k, (m, (a, b)) in enumerate(zip(m_row, wins)):
            ax = fig.add_subplot(gs[i, k])
            im = _topomap(ax, m, info, vmax)
            if i == 0:
                ax.set_title(f"{a:.1f} to {b:.1f} s", fontsize=8)
            if k == 0:
                role = ""
                if "y_pred" in x.coords and _target_name(x) == str(x.y_pred.values[0]):
                    role = "\n(predicted)"
                elif "y_true" in x.coords and _target_name(x) == str(x.y_true.values[0]):
                    role = "\n(true class)"
                ax.set_ylabel(f"for {_target_name(x)}{role}", fontsize=8)
                ax.yaxis.set_visible(True)
                ax.set_yticks([])
        if i == 0:
            cax = fig.add_subplot(gs[:, n])
            cb = fig.colorbar(im, cax=cax)
            cb.set_label(f"{UNIT}\n(sum over window)", fontsize=7)
            cb.ax.tick_params(labelsize=6)
    # the channel x time map of the first row's explanation
    gs2 = fig.add_gridspec(1, 2, left=0.2, right=0.9, top=bottom - 0.45 / height,
                           bottom=0.45 / height, width_ratios=[1, 0.025], wspace=0.03)
    ax = fig.add_subplot(gs2[0, 0])
    idx, blocks = region_order(r)
    values = r.values[0][idx]
    names = [str(c) for c in r.channel.values[idx]]
    im = _channel_time_panel(ax, values, r.time.values, names, blocks, _sym_limit(values),
                             labels=labels)
    ax.set_title(f"channel x time, for {_target_name(r)}", fontsize=8, pad=10)
    cb = fig.colorbar(im, cax=fig.add_subplot(gs2[0, 1]))
    cb.set_label(UNIT, fontsize=7)
    cb.ax.tick_params(labelsize=6)
    if title is None:
        title = f"trial {trial}: " + _trial_label(r.isel(trial=0))
        if "correct" in r.coords and not bool(r.correct.values[0]):
            title += " (misclassified)"
    fig.suptitle(title, fontsize=10, y=1 - 0.12 / height, va="top")
    return fig


def plot_misclassified(rel, other, *, trials=None, tmin=0.5, tmax=2.5, proba=None, ncols=3,
                       title=None):
    """What the network saw, and what it missed: each trial explained for two classes.

    For a misclassified trial, the relevance for the class it was given
    ("saw": the evidence that won) beside the relevance for its true class
    ("missed": the evidence for the right answer, and what spoke against
    it). For a correct trial (e.g. the least confident ones, when nothing
    was misclassified), the chosen class beside the runner-up. The two maps
    of a trial share one colour scale, so their strengths compare; each pair
    is scaled by its own largest value (trials differ in scale).

    Parameters
    ----------
    rel : xarray.DataArray
        Relevance for the predicted class, with ``y_true``, ``y_pred``,
        ``correct``.
    other : xarray.DataArray
        The same trials explained for the true class (misclassified trials)
        or the runner-up (correct ones); for example
        ``explain_out_of_fold(cv, epochs, target="true")``.
    trials : list | None
        Trials to show, in order (values of ``trial``); default every trial
        of ``rel``.
    tmin, tmax : float
        Time span summed in every map.
    proba : dict | None
        Trial -> probability of the predicted class, shown in titles.
    ncols : int
        Trials per row.
    title : str | None
        Figure title.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    _require_labels(rel)
    trials = list(rel.trial.values) if trials is None else list(trials)
    if not trials:
        raise ValueError("No trials to show.")
    info = to_info(rel)
    n = len(trials)
    ncols = max(1, min(int(ncols), n))
    nrows = int(np.ceil(n / ncols))
    w = min(1.3, (MAX_WIDTH + 0.2) / (2 * ncols + 0.35 * (ncols - 1)))
    head = 0.62  # two lines of map titles and the trial's line above them, inches
    row_h = w + head
    height = 0.45 + row_h * nrows
    fig = plt.figure(figsize=(8.4, height))
    outer = fig.add_gridspec(nrows, ncols + 1, left=0.02, right=0.93,
                             top=1 - (0.45 + head) / height, bottom=0.08 / height,
                             hspace=head / w, wspace=0.22, width_ratios=[1] * ncols + [0.05])
    im = None
    for k, t in enumerate(trials):
        a = _one_trial(rel, t)
        b = _one_trial(other, t)
        ma, mb = (window_sums(x, [(tmin, tmax)])[0] for x in (a, b))
        scale = _sym_limit(np.r_[ma, mb])
        inner = outer[k // ncols, k % ncols].subgridspec(1, 2, wspace=0.05)
        correct = bool(a.correct.values[0])
        if correct:
            heads = (f"for {_target_name(a)}\n(chosen)", f"for {_target_name(b)}\n(runner-up)")
        else:
            heads = (f"saw: {_target_name(a)}\n(predicted)", f"missed: {_target_name(b)}\n(true)")
        for j, (m, head) in enumerate(zip((ma, mb), heads)):
            ax = fig.add_subplot(inner[0, j])
            im = _topomap(ax, m / scale, info, 1.0)
            ax.set_title(head, fontsize=7, color="C3" if (j == 0 and not correct) else "k")
        label = f"trial {t}: true {a.y_true.values[0]}"
        if proba is not None and int(t) in proba:
            label += f", p={proba[int(t)]:.2f}"
        cell = outer[k // ncols, k % ncols].get_position(fig)
        fig.text((cell.x0 + cell.x1) / 2, cell.y1 + 0.4 / height, label, ha="center",
                 va="bottom", fontsize=8, fontweight="bold")
    cax = fig.add_subplot(outer[:min(nrows, 2), ncols])  # at most two rows tall
    cb = fig.colorbar(im, cax=cax)
    cb.set_label(f"{UNIT} / max of the pair", fontsize=7)
    cb.ax.tick_params(labelsize=6)
    if title is None:
        title = f"each trial explained for two classes, {tmin:g} to {tmax:g} s"
    fig.suptitle(title, fontsize=10, y=1 - 0.1 / height, va="top")
    return fig


def plot_trial_consistency(table, *, title=None):
    """How far each trial's explanation lies from its class average.

    One column per explained class: every trial's ``corr_map`` (the
    correlation of its channel x time relevance with the average of the
    other trials explained for the same class; 1 = the average pattern, 0 =
    unrelated), correct trials in black and misclassified ones in red, with
    their medians as bars.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`neurolrp.evaluation.trial_consistency`.
    title : str | None
        Figure title.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    if len(table) == 0:
        raise ValueError("The consistency table is empty.")
    classes = sorted(table.target.astype(str).unique())
    fig, ax = plt.subplots(figsize=(1.6 + 1.5 * len(classes), 3.0))
    rng = np.random.default_rng(0)
    has_correct = "correct" in table.columns
    for i, cls in enumerate(classes):
        d = table[table.target.astype(str) == cls]
        groups = [(d[d.correct], "k", "correct"), (d[~d.correct], "C3", "misclassified")] \
            if has_correct else [(d, "k", "trials")]
        for j, (g, color, name) in enumerate(groups):
            if not len(g):
                continue
            x0 = i + (j - 0.5) * 0.36 if has_correct else i
            x = x0 + rng.uniform(-0.08, 0.08, len(g))
            ax.plot(x, g.corr_map, "o", ms=3.5, color=color, alpha=0.75,
                    label=name if i == 0 or name not in ax.get_legend_handles_labels()[1]
                    else None)
            med = float(np.nanmedian(g.corr_map))
            ax.plot([x0 - 0.14, x0 + 0.14], [med, med], color=color, lw=2)
            ax.text(x0 + 0.16, med, f"{med:.2f}", va="center", fontsize=7, color=color)
    ax.axhline(0, color="0.6", lw=0.8, ls=":")
    ax.set_xticks(range(len(classes)), [f"for {c}" for c in classes], fontsize=8)
    ax.set_xlim(-0.6, len(classes) - 0.3)
    lo = min(-0.2, float(np.nanmin(table.corr_map)) - 0.05)
    ax.set_ylim(lo, 1.0)
    ax.set_ylabel("r with the class average\n(leave one out)", fontsize=8)
    ax.tick_params(axis="y", labelsize=7)
    handles, names = ax.get_legend_handles_labels()
    if handles:
        uniq = dict(zip(names, handles))
        ax.legend(uniq.values(), uniq.keys(), fontsize=7, loc="upper left",
                  bbox_to_anchor=(1.0, 1.0), frameon=False)
    ax.set_title(title if title is not None else
                 "single trials vs their class average", fontsize=9)
    fig.tight_layout()
    return fig


def plot_perturbation(result, order="morf"):
    """Perturbation curves, one panel per granularity.

    Each panel shows the mean drop of the explained score against the share
    of units removed (patches, channels or time windows), one line per
    method with its standard error as a band and its AOPC in the legend;
    the random order is the dashed grey line.

    Parameters
    ----------
    result : neurolrp.evaluation.PerturbationResult
        From :func:`neurolrp.evaluation.perturbation`.
    order : "morf" | "lerf"
        Most relevant first (``"morf"``) or least relevant first
        (``"lerf"``).

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    df = result.curves[result.curves.order == order]
    grans = [g for g in GRANULARITIES if g in set(df.granularity)]
    fig, axes = plt.subplots(1, len(grans), figsize=(2.8 * len(grans), 2.8), squeeze=False)
    aopc = result.aopc.set_index(["method", "granularity", "order"]).aopc
    for ax, g in zip(axes[0], grans):
        for k, (method, d) in enumerate(df[df.granularity == g].groupby("method", sort=False)):
            style = dict(color="0.5", ls="--") if method == "random" else dict(color=f"C{k}")
            ax.plot(d.fraction * 100, d["drop"], label=f"{method} ({aopc[method, g, order]:.2f})",
                    **style)
            ax.fill_between(d.fraction * 100, d["drop"] - d["sem"], d["drop"] + d["sem"],
                            alpha=0.2, color=style["color"])
        unit = {"patch": "patches", "channel": "channels", "time": "time windows"}[g]
        ax.set_title(f"{unit} removed, {'most' if order == 'morf' else 'least'} relevant first",
                     fontsize=8)
        ax.set_xlabel("% removed")
        ax.axhline(0, color="k", lw=0.5)
        ax.legend(fontsize=6, title="method (AOPC)", title_fontsize=6)
    axes[0, 0].set_ylabel("score drop f(x) - f(x_k)")
    fig.tight_layout()
    return fig


def plot_compare_classifiers(rel_a, rel_b, names=("a", "b"), tmin=0.5, tmax=2.5):
    """Class-average maps of two classifiers side by side, with the agreement.

    One row per true class: the relevance of each classifier summed over
    ``tmin`` to ``tmax`` and averaged over the trials of that class (each
    map on its own symmetric scale), with the correlation of the two
    channel maps and the overlap of their top-10 channels from
    :func:`neurolrp.evaluation.compare_classifiers`.

    Parameters
    ----------
    rel_a, rel_b : xarray.DataArray
        Relevance of the same trials, explained for the same targets, by two
        classifiers (with ``y_true``).
    names : (str, str)
        Labels of the two classifiers.
    tmin, tmax : float
        Time window (s) summed into each map.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    rel_a, rel_b = _aligned(rel_a, rel_b)
    table = compare_classifiers(rel_a, rel_b, names=names)
    classes = list(table["class"])
    info = to_info(rel_a)
    fig, axes = plt.subplots(len(classes), 2, figsize=(5.4, 2.1 * len(classes)), squeeze=False)
    fig.subplots_adjust(left=0.02, right=0.78, wspace=0.1)  # room for the agreement on the right
    for i, cls in enumerate(classes):
        for j, (rel, name) in enumerate(zip((rel_a, rel_b), names)):
            sub = rel.isel(trial=np.flatnonzero(rel.y_true.values == cls))
            m = window_sums(sub, [(tmin, tmax)])[0]
            _topomap(axes[i, j], m, info, _sym_limit(m))
            axes[i, j].set_title(f"{name}: {cls}", fontsize=8)
        row = table.iloc[i]
        axes[i, 1].text(1.05, 0.5, f"r = {row.corr_topo:.2f}\ntop-10 overlap "
                        f"{row.topk_overlap:.2f}", transform=axes[i, 1].transAxes, fontsize=7,
                        va="center")
    fig.suptitle(f"relevance {tmin:g}-{tmax:g} s, class averages", fontsize=9)
    return fig


def class_average(rel, cls):
    """Mean relevance of the correctly classified trials of ``cls``."""
    sel = rel.sel(trial=(rel.y_true == cls) & rel.correct)
    if sel.sizes["trial"] == 0:
        sel = rel.sel(trial=rel.y_true == cls)
    return sel


__all__ = ["plot_topomap", "plot_channel_time", "plot_class_gallery", "plot_group_topomaps",
           "plot_group_channel_time", "plot_cluster_test", "plot_trial", "plot_misclassified",
           "plot_trial_consistency", "plot_perturbation", "plot_compare_classifiers",
           "window_sums", "scalp_order", "region_order", "channel_regions", "class_average"]

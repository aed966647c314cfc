"""What the figures share: colours, scalp maps, channel x time panels, overlays.

The figure modules of :mod:`neurolrp.viz` draw with these; nothing here makes
a figure of its own.
"""

import numpy as np
import xarray as xr

from .._timing import serial_blas
from ..channels import LANDMARKS
from ..stats import select_group


#: Colour map of relevance: diverging, red for evidence for, blue against.
CMAP = "RdBu_r"
#: Unit of relevance on colour bars.
UNIT = "relevance"
#: Width (inches) a row of maps may take: mne.Report draws figures wider than
#: 8.5 in at a reduced, non-integer resolution, which garbles the image.
MAX_WIDTH = 7.6


def time_windows(times, window, tmin=None, tmax=None):
    """Consecutive (start, stop) windows of ``window`` s from ``tmin`` to ``tmax``."""
    t0 = times[0] if tmin is None else tmin
    t1 = times[-1] if tmax is None else tmax
    edges = np.arange(t0, t1 + 1e-9, window)
    if len(edges) < 2:
        edges = np.array([t0, t1])
    return list(zip(edges[:-1], edges[1:]))


def sym_limit(values):
    """The largest absolute value (1 where there is none): a symmetric colour limit."""
    m = float(np.nanmax(np.abs(values))) if np.size(values) else 0.0
    return m if m > 0 else 1.0


#: How significant sensors are marked on topomaps (mne.viz.plot_topomap's mask_params).
MASK_PARAMS = dict(marker="o", markerfacecolor="w", markeredgecolor="k", markeredgewidth=0.8,
                   linewidth=0, markersize=3.5)


def draw_topomap(ax, values, info, vmax, names=None, mask=None):
    """One scalp map of ``values`` on ``ax``, symmetric around zero; returns the image."""
    import mne

    with serial_blas():  # the interpolation's many tiny LAPACK calls
        im, _ = mne.viz.plot_topomap(values, info, axes=ax, cmap=CMAP, vlim=(-vmax, vmax),
                                     sensors=True, contours=0, show=False, names=names,
                                     mask=mask, mask_params=MASK_PARAMS)
    return im


def window_mask(mask, a, b, last):
    """Channels significant anywhere in the window [a, b) (closed at the end)."""
    if mask is None:
        return None
    if "time" not in mask.dims:
        return mask.values
    t = mask.time.values
    sel = (t >= a) & ((t < b) if not last else (t <= b))
    return mask.values[:, sel].any(axis=1)


def describe(rel):
    """A default title: which trials (or the average of how many) are shown."""
    if "trial" not in rel.dims:
        return "relevance"
    n = rel.sizes["trial"]
    tgt = set(map(str, rel.target.values)) if "target" in rel.coords else set()
    what = f"target {', '.join(sorted(tgt))}" if tgt else ""
    if n == 1:
        t = rel.trial.values[0]
        return f"trial {t}: " + trial_label(rel.isel(trial=0))
    return f"mean of {n} trials, {what}".strip(", ")


def trial_label(r):
    """``"true a, predicted b"`` of one trial."""
    parts = []
    if "y_true" in r.coords:
        parts.append(f"true {r.y_true.item()}")
    parts.append(f"predicted {r.y_pred.item()}")
    return ", ".join(parts)


def stats_mask(stats, names):
    """A boolean (channel, time) or (channel,) DataArray from a test result or a mask."""
    if stats is None:
        return None
    if isinstance(stats, xr.Dataset):
        stats = select_group(stats)["mask"]
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


def channel_time_panel(ax, values, t, names, blocks, vmax, mask=None, labels="auto",
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


def draw_eeg(ax, data, t, names, blocks=(), labels="auto", peak_values=None):
    """The trial's EEG as stacked traces, rows as on the channel x time map beside it."""
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

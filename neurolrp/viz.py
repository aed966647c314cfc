"""Pictures of relevance: scalp topographies, channel x time maps, galleries.

All figures take the relevance DataArray (with the channel positions it
carries) and return a matplotlib Figure; nothing here calls ``show()``.
Colours: a diverging map centred at zero with symmetric limits, red for
evidence for the explained class, blue for evidence against it.
"""

import matplotlib.pyplot as plt
import numpy as np

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


def _topomap(ax, values, info, vmax, names=None):
    import mne

    im, _ = mne.viz.plot_topomap(values, info, axes=ax, cmap=CMAP, vlim=(-vmax, vmax),
                                 sensors=True, contours=0, show=False, names=names)
    return im


def plot_topomap(rel, times=None, *, window=0.5, tmin=None, tmax=None, vmax=None, title=None,
                 axes=None):
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
        one more).

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    info = to_info(rel)
    wins = times if times is not None else _windows(rel.time.values, window, tmin, tmax)
    maps = window_sums(rel, wins)
    vmax = _sym_limit(maps) if vmax is None else vmax
    n = len(wins)
    if axes is None:
        w = min(1.7, MAX_WIDTH / n)
        fig, axes = plt.subplots(1, n + 1, figsize=(w * n + 0.8, 0.55 + w),
                                 gridspec_kw={"width_ratios": [1] * n + [0.08]})
    else:
        fig = axes[0].figure
    for ax, m, (a, b) in zip(axes, maps, wins):
        im = _topomap(ax, m, info, vmax)
        ax.set_title(f"{a:.1f} to {b:.1f} s", fontsize=9)
    if len(axes) > n:
        cb = fig.colorbar(im, cax=axes[n])
        cb.set_label(f"{UNIT} (sum over window)", fontsize=8)
        cb.ax.tick_params(labelsize=7)
    fig.suptitle(title if title is not None else _describe(rel), fontsize=10)
    fig.subplots_adjust(top=0.72)  # room for the title above the maps' own titles
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


def plot_channel_time(rel, data=None, *, vmax=None, title=None, ax=None):
    """Channel x time map of relevance, channels ordered over the scalp.

    Parameters
    ----------
    rel : xarray.DataArray
        Relevance; several trials are averaged.
    data : array, shape (n_channels, n_times) | None
        The trial's EEG (same channels and times) to draw beside the map.
    vmax : float | None
        Symmetric colour limit; default the largest absolute value.
    title : str | None
        Axes title.
    ax : matplotlib Axes | None
        Where to draw the relevance (without ``data``).

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    avg = _as_average(rel)
    order = scalp_order(rel)
    values = avg.values[order]
    names = [str(c) for c in avg.channel.values[order]]
    t = avg.time.values
    vmax = _sym_limit(values) if vmax is None else vmax
    if ax is None:
        ncols = 2 if data is not None else 1
        fig, axs = plt.subplots(1, ncols, figsize=(min(6.5, 8.4 / ncols) * ncols,
                                                   0.075 * len(names) + 1.4),
                                squeeze=False, sharey=True)
        ax = axs[0, -1] if data is not None else axs[0, 0]
        if data is not None:
            _plot_eeg(axs[0, 0], np.asarray(data)[order], t, names)
    else:
        fig = ax.figure
    extent = (t[0], t[-1], len(names) - 0.5, -0.5)
    im = ax.imshow(values, aspect="auto", cmap=CMAP, vmin=-vmax, vmax=vmax, extent=extent,
                   interpolation="nearest")
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels(names, fontsize=4.5)
    ax.set_xlabel("time (s)")
    if t[0] < 0 < t[-1]:
        ax.axvline(0, color="k", lw=0.8, ls="--")
        ax.text(0, -0.6, "cue", ha="center", va="bottom", fontsize=7)
    cb = fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02)
    cb.set_label(UNIT)
    ax.set_title(title if title is not None else _describe(rel), fontsize=9)
    return fig


def _plot_eeg(ax, data, t, names):
    scale = 2.5 * np.median(np.abs(data)) or 1.0
    for i, row in enumerate(data):
        ax.plot(t, i + (-row / (4 * scale)), lw=0.4, color="k")
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels(names, fontsize=5)
    ax.set_ylim(len(names) - 0.5, -0.5)
    ax.set_xlabel("time (s)")
    ax.set_title("EEG (z-scored per channel for display)", fontsize=9)
    if t[0] < 0 < t[-1]:
        ax.axvline(0, color="k", lw=0.8, ls="--")


def plot_class_gallery(rel, cls, *, n_correct=3, n_wrong=4, tmin=0.5, tmax=2.5,
                       proba=None):
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

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    if "correct" not in rel.coords:
        raise ValueError("The relevance has no labels (y_true/correct); explain mne.Epochs or "
                         "pass y to explain().")
    of_class = rel.sel(trial=rel.y_true == cls)
    if of_class.sizes["trial"] == 0:
        raise ValueError(f"No trials of class {cls!r}; classes: {sorted(set(rel.y_true.values))}")
    correct = of_class.sel(trial=of_class.correct)
    wrong = of_class.sel(trial=~of_class.correct)
    best = correct.trial.values[np.argsort(-correct.score.values)][:n_correct]
    panels = [("class average\n"
               f"({correct.sizes['trial']} correct trials)", correct if correct.sizes["trial"]
               else of_class)]
    panels += [(f"trial {t}: correct", of_class.sel(trial=[t])) for t in best]
    panels += [(f"trial {t}: predicted\n{of_class.sel(trial=t).y_pred.item()}",
                of_class.sel(trial=[t])) for t in wrong.trial.values[:n_wrong]]
    info = to_info(rel)
    n = len(panels)
    w = min(1.8, MAX_WIDTH / n)
    fig, axes = plt.subplots(1, n + 1, figsize=(w * n + 0.8, 0.8 + w),
                             gridspec_kw={"width_ratios": [1] * n + [0.08]})
    for ax, (label, r) in zip(axes, panels):
        m = window_sums(r, [(tmin, tmax)])[0]
        im = _topomap(ax, m / _sym_limit(m), info, 1.0)
        if proba is not None and r.sizes["trial"] == 1:
            label += f" (p={proba[int(r.trial.values[0])]:.2f})"
        ax.set_title(label, fontsize=8, color="C3" if "predicted" in label else "k")
    cb = fig.colorbar(im, cax=axes[n])
    cb.set_label(f"{UNIT} / max |{UNIT}|", fontsize=8)
    n_wrong_total = wrong.sizes["trial"]
    fig.suptitle(f"true class {cls}: relevance {tmin:g} to {tmax:g} s for the predicted class "
                 f"({n_wrong_total} misclassified)", fontsize=10)
    return fig


def class_average(rel, cls):
    """Mean relevance of the correctly classified trials of ``cls``."""
    sel = rel.sel(trial=(rel.y_true == cls) & rel.correct)
    if sel.sizes["trial"] == 0:
        sel = rel.sel(trial=rel.y_true == cls)
    return sel


__all__ = ["plot_topomap", "plot_channel_time", "plot_class_gallery", "window_sums",
           "scalp_order", "class_average"]

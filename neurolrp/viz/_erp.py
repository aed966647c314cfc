"""Event-related potentials: class-average waveforms beside relevance over time."""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FuncFormatter

from .._trials import epoch_ids, pick_eeg
from ..relevance import class_average
from ._draw import MAX_WIDTH, UNIT

#: Line colours of the classes: neither red nor blue, which mean evidence for and
#: against in every relevance figure.
CLASS_COLORS = ("0.15", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:olive",
                "tab:cyan", "tab:pink")


def _erp_data(data, rel):
    """The trials of ``data`` that ``rel`` explains, as ``(array, unit, scale)``.

    Channels are taken by the relevance's names (epochs) or position
    (arrays); trials must be the same, in ``rel``'s order.
    """
    import mne

    names = [str(c) for c in rel.channel.values]
    n_rel, n_times = rel.sizes["trial"], rel.sizes["time"]
    if isinstance(data, mne.BaseEpochs):
        epochs = pick_eeg(data, "data")
        missing = [n for n in names if n not in epochs.ch_names]
        if missing:
            raise ValueError(f"The epochs lack channel(s) {missing[:10]} of the relevance; "
                             "pass the epochs that were explained.")
        if len(epochs) != n_rel:
            raise ValueError(f"The epochs hold {len(epochs)} trials, the relevance {n_rel}; "
                             "pass the epochs that were explained.")
        ids = epoch_ids(epochs).tolist()
        want = [int(t) for t in rel.trial.values]
        if sorted(ids) == sorted(want):  # the epochs' own trial numbers: match by them
            position = {t: k for k, t in enumerate(ids)}
            order = [position[t] for t in want]
        else:  # numbered 0..n-1 (an explained array): the same order
            order = list(range(n_rel))
        X = epochs.get_data(picks=names, copy=True)[order]
        times = epochs.times
        unit, scale = "µV", 1e6  # MNE keeps EEG in volts
    else:
        X = np.asarray(data, dtype=float)
        if X.ndim != 3 or X.shape[0] != n_rel or X.shape[1] != len(names):
            raise ValueError(f"data must be the explained trials, shape ({n_rel}, "
                             f"{len(names)}, {n_times}) like the relevance; got "
                             f"{X.shape}.")
        times = rel.time.values
        unit, scale = "amplitude", 1.0
    if X.shape[2] != n_times or not np.allclose(times, rel.time.values, atol=1e-6):
        raise ValueError(f"The data's {X.shape[2]} samples ({times[0]:g} to {times[-1]:g} s) "
                         f"are not the relevance's {n_times} ({float(rel.time[0]):g} to "
                         f"{float(rel.time[-1]):g} s); crop or resample them alike.")
    return X * scale, unit


def _span(values):
    """y limits that hold ``values`` and zero, with a margin."""
    lo = min(0.0, min(float(np.min(v)) for v in values))
    hi = max(0.0, max(float(np.max(v)) for v in values))
    pad = 0.06 * (hi - lo) or 1.0
    return lo - pad, hi + pad


def _strongest(avgs, names, n):
    """The ``n`` channels with the largest mean |class-average relevance| over time."""
    strength = np.mean([np.abs(a).sum(axis=1) for a in avgs], axis=0)
    return [names[i] for i in np.argsort(-strength, kind="stable")[:n]]


def plot_erp_relevance(data, rel, *, channels=None, n_channels=3, title=None):
    """Class-average waveforms (ERPs) with the relevance over time beneath them.

    What an ERP researcher reads first, with the explanation aligned to it:
    per channel, the class averages of the EEG (top, with the standard error
    of the mean shaded) and the class averages of the relevance at that
    channel (bottom, same time axis). The last column takes the whole
    scalp: the global field power (standard deviation over channels) of
    the difference of the two class averages (of each class average from
    their mean, with more classes): the data's own evidence in time, with
    the level it reaches from sampling noise alone shaded; beneath it the
    relevance summed over channels: the network's evidence in time (its sum
    over time is the explained score, up to the biases' share). Where a
    network reads the waveform, its relevance should rise where the
    classes' waveforms part.

    Parameters
    ----------
    data : mne.Epochs | array, shape (n_trials, n_channels, n_times)
        The explained trials (the same trials as ``rel``; epochs are matched
        to it by their trial numbers, arrays by position). Their EEG is
        drawn in µV (epochs) or as given (arrays).
    rel : xarray.DataArray
        Relevance of those trials with labels (``y_true``, ``correct``),
        e.g. from :func:`neurolrp.explain` or
        :func:`~neurolrp.attribution.explain_out_of_fold`. Per class, the
        relevance lines average its correctly classified trials as
        explained (:func:`neurolrp.relevance.class_average`); the
        waveforms average all its trials.
    channels : list of str | None
        Channels to draw. ``None``: the ``n_channels`` with the largest mean
        absolute class-average relevance (where the network found its
        evidence).
    n_channels : int
        How many channels to pick when ``channels`` is None.
    title : str | None
        Figure title.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Raises
    ------
    ValueError
        ``rel`` has no labels; ``data`` are not the explained trials (number
        of trials, channels, samples); an unknown channel; ``n_channels``
        below 1.
    TypeError
        ``channels`` is not a list of names.
    """
    if "trial" not in rel.dims or "correct" not in rel.coords or "y_true" not in rel.coords:
        raise ValueError("rel must be relevance of labelled trials (y_true, correct): "
                         "explain mne.Epochs or pass y to explain().")
    names = [str(c) for c in rel.channel.values]
    if channels is None:
        if isinstance(n_channels, bool) or not isinstance(n_channels, (int, np.integer)) \
                or n_channels < 1:
            raise ValueError(f"n_channels must be an integer >= 1, got {n_channels!r}.")
    else:
        if isinstance(channels, str) or not all(isinstance(c, str) for c in channels):
            raise TypeError(f"channels must be a list of channel names, got {channels!r}.")
        unknown = [c for c in channels if c not in names]
        if unknown or not channels:
            raise ValueError(f"Unknown channel(s) {unknown}; the relevance has "
                             f"{names[:10]}{'...' if len(names) > 10 else ''}.")
    X, unit = _erp_data(data, rel)
    t = rel.time.values
    y = rel.y_true.values.astype(str)
    classes = sorted(set(y))
    rel_avg = [class_average(rel, c).mean("trial").values for c in classes]
    n_rel = [class_average(rel, c).sizes["trial"] for c in classes]
    chans = list(channels) if channels is not None else _strongest(rel_avg, names,
                                                                  min(n_channels, len(names)))
    idx = [names.index(c) for c in chans]
    erp = [X[y == c].mean(axis=0) for c in classes]
    sem = [X[y == c].std(axis=0, ddof=1) / np.sqrt(max((y == c).sum(), 1)) if (y == c).sum() > 1
           else np.zeros_like(erp[0]) for c in classes]
    colors = [CLASS_COLORS[k % len(CLASS_COLORS)] for k in range(len(classes))]

    n_col = len(chans) + 1
    fig, axes = plt.subplots(2, n_col, figsize=(min(MAX_WIDTH, 1.9 * n_col + 0.6), 4.4),
                             sharex=True, layout="constrained",
                             gridspec_kw={"height_ratios": [1.25, 1]})
    axes = np.asarray(axes).reshape(2, n_col)
    wave_lim = max(float(np.abs(e[idx]).max() + s[idx].max()) for e, s in zip(erp, sem))
    rel_lim = _span([a[idx] for a in rel_avg])
    for j, (ch, i) in enumerate(zip(chans, idx)):
        top, bottom = axes[0, j], axes[1, j]
        for e, s, a, col in zip(erp, sem, rel_avg, colors):
            top.fill_between(t, e[i] - s[i], e[i] + s[i], color=col, alpha=0.2, lw=0)
            top.plot(t, e[i], color=col, lw=1.2)
            bottom.plot(t, a[i], color=col, lw=1.2)
        top.set_title(ch, fontsize=9, fontweight="bold")
        top.set_ylim(-1.05 * wave_lim, 1.05 * wave_lim)
        bottom.set_ylim(*rel_lim)
        if j:
            top.tick_params(labelleft=False)
            bottom.tick_params(labelleft=False)
    axes[0, 0].set_ylabel(f"EEG ({unit})", fontsize=8)
    axes[1, 0].set_ylabel(f"{UNIT}\nfor own class", fontsize=8)

    # the whole scalp: the data's evidence (GFP of the class difference) above the
    # network's (relevance summed over channels)
    top, bottom = axes[0, -1], axes[1, -1]
    for a, col in zip(rel_avg, colors):
        bottom.plot(t, a.sum(axis=0), color=col, lw=1.2)
    if len(classes) == 2:
        top.plot(t, (erp[0] - erp[1]).std(axis=0), color="k", lw=1.2, label="difference")
    else:  # each class against the mean of the classes
        mean = np.mean(erp, axis=0)
        for e, col in zip(erp, colors):
            top.plot(t, (e - mean).std(axis=0), color=col, lw=1.2)
    # what the difference's GFP reaches without any class difference: the sampling noise
    # of the averages (their standard errors, RMS over channels)
    if len(classes) == 2:
        floor = np.sqrt(np.mean(sem[0] ** 2 + sem[1] ** 2, axis=0))
        top.fill_between(t, 0, floor, color="0.85", lw=0, label="noise level")
    top.legend(fontsize=7, frameon=False, loc="upper left", handlelength=1.5)
    top.set_ylim(0, 1.3 * top.get_ylim()[1])  # room for the legend above the lines
    top.set_title("all channels", fontsize=9, fontweight="bold")
    top.set_ylabel(f"GFP of the class\ndifference ({unit})", fontsize=8)
    bottom.set_ylabel(f"{UNIT}, sum\nover channels", fontsize=8)
    bottom.set_ylim(*_span([a.sum(axis=0) for a in rel_avg]))

    for ax in axes.ravel():
        ax.tick_params(labelsize=7)
        ax.axhline(0, color="0.6", lw=0.6, zorder=0)
        if t[0] <= 0 <= t[-1]:
            ax.axvline(0, color="k", lw=0.7, ls=":", zorder=0)
        ax.set_xlim(t[0], t[-1])
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    for ax in axes[1]:
        ax.set_xlabel("time (s)", fontsize=8)
        # plain tick labels: an offset text ("1e-5") would sit on the panel above
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.2g}"))
    handles = [plt.Line2D([], [], color=col, lw=2) for col in colors]
    correct = rel.correct.values.astype(bool)
    labels = [f"{c} (EEG: {(y == c).sum()} trials; relevance: "
              + (f"{n} correct)" if ((y == c) & correct).any() else f"all {n}, none correct)")
              for c, n in zip(classes, n_rel)]
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(classes), 2),
               fontsize=7.5, frameon=False)
    if title is not None:
        fig.suptitle(title, fontsize=10)
    return fig

"""Figures of :mod:`neurolrp.evaluation`'s results: perturbation curves, two
classifiers compared, single trials against their class average."""

import matplotlib.pyplot as plt
import numpy as np

from ..evaluation import GRANULARITIES, align_relevance, compare_classifiers
from ..relevance import to_info, window_sums
from ._draw import draw_topomap, sym_limit


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
    rel_a, rel_b = align_relevance(rel_a, rel_b)
    table = compare_classifiers(rel_a, rel_b, names=names)
    classes = list(table["class"])
    info = to_info(rel_a)
    fig, axes = plt.subplots(len(classes), 2, figsize=(5.4, 2.1 * len(classes)), squeeze=False)
    fig.subplots_adjust(left=0.02, right=0.78, wspace=0.1)  # room for the agreement on the right
    for i, cls in enumerate(classes):
        for j, (rel, name) in enumerate(zip((rel_a, rel_b), names)):
            sub = rel.isel(trial=np.flatnonzero(rel.y_true.values == cls))
            m = window_sums(sub, [(tmin, tmax)])[0]
            draw_topomap(axes[i, j], m, info, sym_limit(m))
            axes[i, j].set_title(f"{name}: {cls}", fontsize=8)
        row = table.iloc[i]
        axes[i, 1].text(1.05, 0.5, f"r = {row.corr_topo:.2f}\ntop-10 overlap "
                        f"{row.topk_overlap:.2f}", transform=axes[i, 1].transAxes, fontsize=7,
                        va="center")
    fig.suptitle(f"relevance {tmin:g}-{tmax:g} s, class averages", fontsize=9)
    return fig

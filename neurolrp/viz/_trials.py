"""Single trials: one trial at a glance, the misclassified ones, a class's gallery."""

import matplotlib.pyplot as plt
import numpy as np

from ..channels import region_order
from ..relevance import to_info, window_sums
from ._draw import (MAX_WIDTH, UNIT, channel_time_panel, draw_topomap, sym_limit, time_windows,
                    trial_label)


def _require_labels(rel):
    if "correct" not in rel.coords:
        raise ValueError("The relevance has no labels (y_true/correct); explain mne.Epochs or "
                         "pass y to explain().")


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
    wins = time_windows(r.time.values, window, tmin, tmax)
    maps = [window_sums(x, wins) for x in rows]
    vmax = sym_limit(np.array(maps))
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
            im = draw_topomap(ax, m, info, vmax)
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
    im = channel_time_panel(ax, values, r.time.values, names, blocks, sym_limit(values),
                            labels=labels)
    ax.set_title(f"channel x time, for {_target_name(r)}", fontsize=8, pad=10)
    cb = fig.colorbar(im, cax=fig.add_subplot(gs2[0, 1]))
    cb.set_label(UNIT, fontsize=7)
    cb.ax.tick_params(labelsize=6)
    if title is None:
        title = f"trial {trial}: " + trial_label(r.isel(trial=0))
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
        scale = sym_limit(np.r_[ma, mb])
        inner = outer[k // ncols, k % ncols].subgridspec(1, 2, wspace=0.05)
        correct = bool(a.correct.values[0])
        if correct:
            heads = (f"for {_target_name(a)}\n(chosen)", f"for {_target_name(b)}\n(runner-up)")
        else:
            heads = (f"saw: {_target_name(a)}\n(predicted)", f"missed: {_target_name(b)}\n(true)")
        for j, (m, head) in enumerate(zip((ma, mb), heads)):
            ax = fig.add_subplot(inner[0, j])
            im = draw_topomap(ax, m / scale, info, 1.0)
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
        im = draw_topomap(ax, m / sym_limit(m), info, 1.0)
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

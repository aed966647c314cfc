"""The group report: accuracy, grand averages, every subject, consistency, transfer."""

import json
import os
from pathlib import Path

import numpy as np

from .._files import atomic_file
from .._html import add_figure, html_table
from .._version import __version__
from ._store import Study, as_relevance, group_maps, load_study, normalised_class_means

#: Unit of the normalised maps.
PCT_LABEL = "% of the subject's |relevance|"


def _accuracy_figure(table, model):
    import matplotlib.pyplot as plt

    dnn, base = table[f"accuracy_{model}"], table["accuracy_csp+lda"]
    order = np.argsort(-dnn.values, kind="stable")
    names = list(table.index[order])
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(8.4, 3.0),
                                  gridspec_kw={"width_ratios": [2.6, 1]})
    x = np.arange(len(names))
    ax.plot(x, dnn.values[order], "o", color="C0", label=model)
    ax.plot(x, base.values[order], "s", color="0.5", mfc="none", label="CSP + LDA")
    ax.vlines(x, np.minimum(dnn.values[order], base.values[order]),
              np.maximum(dnn.values[order], base.values[order]), color="0.8", lw=1, zorder=0)
    chance = 1.0 / max(2, max(len(str(c).split("/")) for c in table.classes))
    ax.axhline(chance, color="k", ls=":", lw=0.8)
    if len(names) <= 24:
        ax.set_xticks(x, names, rotation=60 if len(names) > 6 else 0,
                      ha="right" if len(names) > 6 else "center",
                      fontsize=7 if len(names) > 12 else 8)
    else:  # too many to name: their rank (the table names them)
        ax.set_xlabel(f"{len(names)} subjects, best first (names in the table)", fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accuracy (out of fold)")
    ax.set_title(f"per subject, sorted by {model}", fontsize=9)
    ax.legend(fontsize=8, loc="lower left")
    ax2.plot([0, 1], [0, 1], color="0.7", lw=0.8)
    ax2.plot(base, dnn, "o", color="C0", ms=4)
    ax2.set_xlim(0.3, 1.02)
    ax2.set_ylim(0.3, 1.02)
    ax2.set_aspect("equal")
    ax2.set_xlabel("CSP + LDA", fontsize=8)
    ax2.set_ylabel(model, fontsize=8)
    ax2.set_title(f"{int((dnn > base).sum())} of {len(dnn)} above the diagonal", fontsize=9)
    ax2.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


def _span(times):
    """The window the per-subject maps summarise: from the cue (0 s) to the end."""
    t0 = 0.0 if times[0] < 0 < times[-1] else float(times[0])
    return t0, float(times[-1])


def _small_multiples(norm, study, cls, model, span, vmax, n_cols=8):
    import matplotlib.pyplot as plt

    from .. import viz

    keys = [k for k in norm if cls in list(map(str, norm[k]["class"].values))]
    n = len(keys)
    cols = min(n_cols, n)
    rows = int(np.ceil(n / cols))
    w = min(1.3, 7.0 / cols)  # inches per map
    width, height = max(4.6, w * cols + 1.1), (w + 0.42) * rows + 0.7
    fig, axes = plt.subplots(rows, cols, figsize=(width, height), squeeze=False)
    right = (w * cols + 0.15) / width
    top_margin = 1 - 0.7 / height  # the title, then the first row's two-line map titles
    fig.subplots_adjust(top=top_margin, bottom=0.03 / height, left=0.1 / width, right=right,
                        hspace=0.42 / w, wspace=0.08)
    for ax in axes.ravel()[n:]:
        ax.set_axis_off()
    for i, key in enumerate(keys):
        ax = axes[i // cols, i % cols]
        cm = norm[key].sel({"class": cls})
        viz.plot_topomap(as_relevance(cm.values[None], [cls], cm), times=[span], axes=[ax],
                         vmax=vmax)
        row = study.table.loc[key]
        ax.set_title(f"{key}\n{row[f'accuracy_{model}']:.2f} | {row['accuracy_csp+lda']:.2f}",
                     fontsize=7, pad=2)
    fig.suptitle(f"{cls}: each subject's class average, {span[0]:g} to {span[1]:g} s "
                 f"(titles: {model} | CSP + LDA accuracy)", fontsize=9,
                 y=1 - 0.12 / height, va="top")
    fig.subplots_adjust(top=top_margin)  # plot_topomap moved it
    top = axes[0, 0].get_position().y1
    bottom = max(axes[rows - 1, 0].get_position().y0, top - 2.6 / height)
    cax = fig.add_axes([right + 0.25 / width, bottom, 0.12 / width, top - bottom])
    cb = fig.colorbar(axes[0, 0].images[-1], cax=cax)
    cb.set_label(PCT_LABEL, fontsize=7)
    cb.ax.tick_params(labelsize=7)
    return fig


def _consistency(norm, classes, span, top=0.1):
    """Per class x channel: share of subjects with positive mean relevance over the span,
    and share of subjects for whom the channel is among their ``top`` most relevant."""
    shares, tops, counts = {}, {}, {}
    for cls in classes:
        pos, best = [], []
        for cm in norm.values():
            if cls not in list(map(str, cm["class"].values)):
                continue
            t = cm.time.values
            sel = (t >= span[0]) & (t <= span[1])
            m = cm.sel({"class": cls}).values[:, sel].mean(axis=1)
            k = max(1, int(round(top * len(m))))
            pos.append(m > 0)
            best.append(np.isin(np.arange(len(m)), np.argsort(-m, kind="stable")[:k]))
        shares[cls], tops[cls], counts[cls] = np.mean(pos, axis=0), np.mean(best, axis=0), len(pos)
    return shares, tops, counts


def _sign_test_share(n, alpha=0.05):
    """Smallest share k/n whose two-sided sign test gives p < alpha (None if none does)."""
    from scipy.stats import binomtest

    for k in range(n // 2 + 1, n + 1):
        if binomtest(k, n, 0.5).pvalue < alpha:
            return k
    return None


def _consistency_figure(shares, tops, counts, template, top=0.1):
    import matplotlib.pyplot as plt
    import mne

    from ..relevance import to_info
    from ..viz import CMAP, MASK_PARAMS

    info = to_info(as_relevance(template.values[:1], ["x"], template))
    classes = list(shares)
    n_cls = len(classes)
    fig, axes = plt.subplots(2, n_cls + 1, figsize=(2.0 * n_cls + 1.5, 4.9),
                             gridspec_kw={"width_ratios": [1] * n_cls + [0.07]})
    n_top = max(1, int(round(top * template.sizes["channel"])))
    for row, (values, cmap, label) in enumerate((
            (shares, CMAP, "share of subjects with\npositive mean relevance"),
            (tops, "Reds", f"share of subjects with the\nchannel among their {n_top} most "
                           "relevant"))):
        for ax, cls in zip(axes[row], classes):
            n = counts[cls]
            k = _sign_test_share(n)
            mask = None
            if row == 0 and k is not None:
                mask = (values[cls] >= k / n) | (values[cls] <= 1 - k / n)
            im, _ = mne.viz.plot_topomap(values[cls], info, axes=ax, cmap=cmap, vlim=(0, 1),
                                         sensors=True, contours=0, show=False, mask=mask,
                                         mask_params=MASK_PARAMS)
            ax.set_title(f"{cls} ({n} subjects)", fontsize=9)
        cb = fig.colorbar(im, cax=axes[row, -1])
        cb.set_label(label, fontsize=7)
        cb.ax.tick_params(labelsize=7)
    fig.subplots_adjust(top=0.93, bottom=0.03, left=0.03, right=0.8, wspace=0.15, hspace=0.25)
    return fig


def _transfer_figure(transfer, model):
    import matplotlib.pyplot as plt

    means = transfer.groupby("subject")[["within", "pretrained", "transfer"]].mean()
    fig, ax = plt.subplots(figsize=(5.2, 2.8))
    x = np.arange(3)
    for key, row in means.iterrows():
        ax.plot(x, row.values, "-o", color="C0" if row.transfer >= row.within else "C3",
                ms=3, lw=0.8, alpha=0.8)
    ax.set_xticks(x, ["within subject", "pre-trained on others", "fine-tuned (transfer)"],
                  fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accuracy (held-out folds)", fontsize=8)
    ax.set_title(f"{model}: blue = transfer helps, red = it does not", fontsize=9)
    fig.tight_layout()
    return fig


def group_report(study, fname=None, *, window=None):
    """Write the group report: accuracy, grand averages, every subject, consistency.

    Parameters
    ----------
    study : Study | path-like
        A study (:func:`load_study`) or its folder.
    fname : path-like | None
        Output file; default ``report.html`` in the study folder (written to
        a temporary name and renamed into place).
    window : float | None
        Length (s) of the time windows of the grand-average topographies;
        default 1 s for epochs of 3 s or more, else 0.5 s.

    Returns
    -------
    fname : pathlib.Path

    Notes
    -----
    Each subject's class averages (mean relevance of its correctly classified
    trials, explained for their class) are divided by their mean absolute sum
    over channels and time, so every subject weighs the same in the grand
    average whatever the scale of its network's scores. Subjects are
    averaged where they share channels and samples (one section per such
    group).
    """
    import mne

    if not isinstance(study, Study):
        study = load_study(study)
    if not study.subjects:
        raise ValueError(f"{study.path} holds no complete subject yet; nothing to report.")
    fname = Path(fname) if fname is not None else study.report
    model = study.config["explain_model"]
    table = study.table
    rep = mne.Report(title=f"neurolrp study: {len(study.subjects)} subjects", verbose=False)

    rows, links = [], []
    for key, r in table.iterrows():
        row = [key, r.dataset, r.classes, int(r.n_trials),
               f"{r[f'accuracy_{model}']:.3f} ± {r[f'sd_{model}']:.3f}",
               f"{r['accuracy_csp+lda']:.3f} ± {r['sd_csp+lda']:.3f}"]
        if "transfer_transfer" in table and np.isfinite(r.get("transfer_transfer", np.nan)):
            row.append(f"{r.transfer_transfer:.3f}")
        elif "transfer_transfer" in table:
            row.append("-")
        row += [f"{r.conservation_error_accounted:.1e}",
                f"{(r.load_seconds or 0) + (r.work_seconds or 0):.0f}"]
        rows.append(row)
        rel_link = os.path.relpath(study.path / r.report, fname.parent) if r.report else None
        links.append(rel_link)
    header = ["subject", "dataset", "classes", "trials", f"{model} (mean ± sd)",
              "CSP + LDA"] + (["transfer"] if "transfer_transfer" in table else []) + \
             ["conservation", "seconds"]
    mean_dnn, mean_base = table[f"accuracy_{model}"].mean(), table["accuracy_csp+lda"].mean()
    rows.append(["mean", "", "", int(table.n_trials.sum()), f"{mean_dnn:.3f}",
                 f"{mean_base:.3f}"] + (["{:.3f}".format(table.transfer_transfer.mean())]
                                        if "transfer_transfer" in table else []) + ["", ""])
    links.append(None)
    add_figure(rep, _accuracy_figure(table, model), "Network vs CSP + LDA",
               section="Accuracy",
               caption=f"{study.config['folds']}-fold cross-validation per subject, the same "
                       "folds for both. Dotted: chance. Below, click a subject for its own "
                       "report.")
    rep.add_html(html_table(rows, header, links=links, nowrap=True), "Accuracy per subject",
                 section="Accuracy")

    groups = _compatible_groups(study)
    for (n_ch, n_t), keys in groups.items():
        where = "" if len(groups) == 1 else f" ({n_ch} channels, {n_t} samples)"
        norm = normalised_class_means(study, keys)
        template = next(iter(norm.values()))
        classes = list(dict.fromkeys(str(c) for k in keys for c in norm[k]["class"].values))
        times = template.time.values
        win = window or (1.0 if times[-1] - times[0] >= 3 - 1e-6 else 0.5)
        pseudo = group_maps(study, keys)
        labels = [str(c) for c in pseudo.target.values]
        from ..viz import plot_group_topomaps

        fig = plot_group_topomaps(pseudo, by="target", groups=classes, window=win,
                                  title=f"grand average of {len(keys)} subjects{where}, each "
                                        "normalised; one colour scale")
        for ax in fig.axes:
            label = ax.get_ylabel()
            if label.startswith("relevance"):  # the colour bar
                ax.set_ylabel(PCT_LABEL + "\n(sum over window)", fontsize=8)
            for cls in classes:
                if label.startswith(f"{cls}\n("):
                    ax.set_ylabel(f"{cls}\n({labels.count(cls)} subjects)", fontsize=9)
        add_figure(rep, fig, f"Grand average per class{where}",
                   section="Grand average",
                   caption="Mean over subjects of each subject's class average (its correctly "
                           "classified trials, explained for their class), after dividing "
                           "each subject's averages by their mean absolute sum so that no "
                           f"subject dominates; summed in {win:g} s windows. Red: evidence "
                           "for the class; blue: against it.")
        span = _span(times)
        vmax = max(float(np.abs(norm[k].sel(time=slice(*span)).sum("time")).max()) for k in keys)
        for cls in classes:
            fig = _small_multiples(norm, study, cls, model, span, vmax)
            add_figure(rep, fig, f"Every subject: {cls}{where}",
                       section="Every subject",
                       caption="Individual explanations: each subject's class average "
                               f"summed from {span[0]:g} to {span[1]:g} s, on one colour "
                               "scale after normalisation. Subjects near chance explain "
                               "noise.")
        shares, tops, counts = _consistency(norm, classes, span)
        n_min = min(counts.values())
        k = _sign_test_share(n_min)
        n_top = max(1, int(round(0.1 * template.sizes["channel"])))
        add_figure(rep, _consistency_figure(shares, tops, counts, template),
                   f"How consistent are the subjects?{where}", section="Consistency",
                   caption="Per channel, from the subjects' class averages over "
                           f"{span[0]:g} to {span[1]:g} s. Top: the share of subjects whose mean "
                           "relevance there is positive (red: most subjects find evidence for the "
                           "class; blue: against it; white: they disagree). " + (
                               f"White dots: {k} or more of {n_min} subjects agree in sign "
                               "(two-sided sign test p < 0.05, not corrected for the channels). "
                               if k is not None else
                               f"With {n_min} subjects no share reaches p < 0.05 in a sign test. ")
                           + "Correctly classified trials carry net positive relevance, so this "
                             "share is high almost everywhere for a network that works; the "
                             f"bottom row asks where: the share of subjects for whom the channel "
                             f"is among their {n_top} most relevant (chance "
                             f"{n_top / template.sizes['channel']:.2f}).")
    if study.transfer is not None:
        tr = study.transfer.groupby("subject")[["within", "pretrained", "transfer"]].mean()
        rows = [[k, f"{r.within:.3f}", f"{r.pretrained:.3f}", f"{r.transfer:.3f}",
                 f"{r.transfer - r.within:+.3f}"] for k, r in tr.iterrows()]
        rep.add_html(html_table(rows, ["subject", "within subject", "pre-trained on others",
                                       "fine-tuned", "transfer - within"], nowrap=True),
                     "Subject-to-subject transfer", section="Transfer")
        add_figure(rep, _transfer_figure(study.transfer, model),
                   "Within-subject vs transfer", section="Transfer",
                   caption="For each subject the network was pre-trained on the other "
                           "subjects, then fine-tuned on the subject's training folds and "
                           "tested on its held-out folds (the within-subject folds).")
    cfg = study.config
    rows = [["subjects", f"{len(study.subjects)} complete"
             + (f"; {len(study.incomplete)} incomplete (not shown)" if study.incomplete else "")],
            ["networks", f"{', '.join(cfg['models'])} (explained: {model}); parameters "
                         f"{json.dumps(cfg['classifier_params']) or '{}'}"],
            ["evaluation", f"stratified {cfg['folds']}-fold CV per subject, seed {cfg['seed']}; "
                           "every trial explained by the fold's network that did not train on "
                           "it"],
            ["explanation", "LRP, composite " + (
                cfg["composite"] or "chosen per network: " + ", ".join(
                    map(str, dict.fromkeys(table.composite)))) + ", target = predicted class"],
            ["data", f"resampled to {cfg['resample']} Hz; window "
                     f"{cfg['tmin'] if cfg['tmin'] is not None else 'loader default'} to "
                     f"{cfg['tmax'] if cfg['tmax'] is not None else 'loader default'} s"],
            ["normalisation", "each subject's class averages / their mean absolute sum over "
                              "channels and time"],
            ["store", f"{study.store} (load_study)"],
            ["neurolrp", __version__]]
    rep.add_html(html_table(rows, ["", ""], nowrap=True), "How it was made",
                 section="How it was made")
    fname.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(fname) as tmp:
        rep.save(tmp, open_browser=False, overwrite=True, verbose=False)
    return fname


def _compatible_groups(study):
    groups = {}
    for key in study.subjects:
        r = study.table.loc[key]
        ds = study.dataset(key)
        sig = (int(r.n_channels), int(ds.sizes["time"]))
        ds.close()
        groups.setdefault(sig, []).append(key)
    return groups

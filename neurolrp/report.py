"""Per-subject HTML report (``mne.Report``) with a JSON summary beside it."""

import html
import json
import platform
import time

import matplotlib.pyplot as plt
import mne
import numpy as np
import torch

from ._version import __version__
from ._checks import check_bool, check_int
from ._files import atomic_folder, check_output_folder
from ._html import add_figure, html_table
from ._timing import StageClock, serial_blas, stage
from ._trials import pick_eeg
from ._utils import logger, verbose
from .attribution import explain_out_of_fold
from .decoding import BASELINE, best_network, chance_test, cross_validate
from .lrp.composites import WAVEFORM_COMPOSITE, default_composite, get_composite
from .relevance import channel_positions, class_average, save_relevance
from .viz import plot_erp_relevance
from .viz import (plot_channel_time, plot_class_gallery, plot_group_channel_time,
                  plot_group_topomaps, plot_misclassified, plot_perturbation, plot_topomap,
                  plot_trial, plot_trial_consistency)

#: The files a report folder holds (all written together, or none).
REPORT_FILES = ("report.html", "summary.json", "relevance.nc")

SECTIONS = ("Summary", "Data", "Accuracy", "Relevance over time", "Channel x time",
            "Statistics", "Misclassified trials", "Every trial", "Explanation quality", "How it was made")

#: Conservation passes when relevance adds up to the score within this (relative),
#: the biases' and the stabiliser's shares counted.
CONSERVATION_TOL = 1e-3
#: Resolution and format of the trial slider's images (one per trial): small enough
#: that a report of 100 trials stays a few MB.
SLIDER_DPI = 90
SLIDER_FORMAT = "webp-lossy"
#: Cluster tests in the report: permutations and time bins (seconds).
STATS_PERMUTATIONS = 500
STATS_BIN = 0.1
#: Perturbation analysis in the report: methods against LRP, and steps per curve.
QUALITY_METHODS = ("gradient", "random")
QUALITY_STEPS = 10
#: Trials drawn in the misclassified-trials figure (the rest are on the slider).
MAX_ERRORS = 18


def _accuracy_figure(result, chance_table):
    summ = result.summary()
    ct = chance_table.set_index("model")
    fig, ax = plt.subplots(figsize=(4.8, 2.8))
    colors = ["0.6" if m == BASELINE else "C0" for m in summ.index]
    ax.bar(summ.index, summ["accuracy"], yerr=summ["sd"], color=colors, capsize=4)
    for k, (m, row) in enumerate(summ.iterrows()):
        folds = result.scores[result.scores.model == m].accuracy
        ax.plot(np.full(len(folds), k) + np.linspace(-0.15, 0.15, len(folds)), folds, "k.",
                ms=4)
        if bool(ct.loc[m, "within_chance"]):
            ax.text(k, 0.04, "within\nchance", ha="center", va="bottom", fontsize=7,
                    color="C3", fontweight="bold",
                    bbox=dict(boxstyle="round,pad=0.2", fc="w", ec="C3", lw=0.6))
    chance = float(ct.chance.max())
    ax.axhline(chance, color="k", ls=":", lw=0.8)
    ax.text(len(summ) - 0.5, chance, "chance", va="bottom", ha="right", fontsize=7)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accuracy (out of fold)")
    ax.set_title(f"{len(result.folds)}-fold cross-validation, same folds", fontsize=9)
    fig.tight_layout()
    return fig


def _confusion_figure(result, model):
    preds = result.predictions[result.predictions.model == model]
    classes = list(result.classes)
    mat = np.zeros((len(classes), len(classes)), int)
    for t, p in zip(preds.y_true, preds.y_pred):
        mat[classes.index(t), classes.index(p)] += 1
    fig, ax = plt.subplots(figsize=(2.8, 2.6))
    ax.imshow(mat, cmap="Blues")
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, mat[i, j], ha="center", va="center",
                    color="w" if mat[i, j] > mat.max() / 2 else "k")
    ax.set_xticks(range(len(classes)), classes)
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{model}, out of fold", fontsize=9)
    fig.tight_layout()
    return fig


@verbose
def subject_report(epochs, out_dir, *, models=("shallow",), explain_model="best",
                   composite=None, n_splits=5, seed=0, title=None, quality=True,
                   quality_steps=QUALITY_STEPS, classifier_params=None, max_trials=100,
                   note=None, overwrite=False, verbose=None):
    """Cross-validate, explain every trial out of fold, and write a report.

    The report explains the best cross-validated network (unless told which)
    and says first whether any model is within chance. Its sections: a
    summary, the data, accuracy per fold beside CSP + LDA, class-average
    relevance over time and channel x time, the misclassified trials each
    explained for the predicted and the true class ("what it saw" vs "what it
    missed"; the least confident correct trials when none was
    misclassified), every trial on a slider (misclassified first), the
    perturbation analysis and how every number was made.

    Parameters
    ----------
    epochs : mne.Epochs
        One subject's epochs (classes are the event names).
    out_dir : path-like
        Folder for ``report.html``, ``summary.json`` and ``relevance.nc``.
        The folder is written as a whole: the files go to a temporary folder
        beside it, which is renamed into place when all are done, so an
        interrupted run leaves the previous report (if any) as it was.
    models : sequence of str
        Networks to cross-validate beside CSP + LDA.
    explain_model : "best" | str
        Which of ``models`` to explain: ``"best"`` (default) takes the one
        with the highest cross-validated accuracy (ties: the first listed).
    composite : str | Composite | None
        LRP composite. ``None`` (default): chosen per network by
        :func:`neurolrp.lrp.default_composite` (``"epsilon-energy-pattern"``
        for EEGNet, ``"epsilon-pattern-box"`` for ShallowNet and SturmDNN);
        the summary's ``composite`` says which was used.
    n_splits, seed : int
        Cross-validation folds and seed.
    title : str | None
        Report title.
    quality : bool
        Add the perturbation analysis (explanation quality): LRP against the
        gradient and a random order, each fold's network on its own held-out
        trials. It runs the network once per trial, method, granularity,
        order and step: after the training, the costliest part of a report.
    quality_steps : int
        Steps of the perturbation curves (``n_steps`` of
        :func:`~neurolrp.evaluation.perturbation`; its cost is proportional to
        ``quality_steps + 1``). The report says how many were taken.
    classifier_params : dict | None
        Extra :class:`~neurolrp.EEGClassifier` parameters.
    max_trials : int
        At most this many trials on the report's slider (misclassified
        first, then the correct trials in order); the report says when some
        were left out. ``0``: no slider (one figure per trial: after the
        training, the costliest part of the report). Every trial is in
        ``relevance.nc`` regardless.
    note : str | None
        A paragraph at the top of the report, under the headline (e.g.
        settings that differ from the defaults).
    overwrite : bool
        Replace an existing report in ``out_dir``. A non-empty ``out_dir`` is
        an error without it (MNE's convention), and a folder that holds
        files other than a report's is never replaced.
    %(verbose)s

    Returns
    -------
    summary : dict
        The headline numbers (also written to ``summary.json``), with the
        paths of the files written.

    Raises
    ------
    FileExistsError
        ``out_dir`` is not empty and ``overwrite`` is False, or it holds
        files that are not a report's.
    NotADirectoryError
        ``out_dir`` is a file.
    PermissionError
        ``out_dir`` cannot be written.
    TypeError, ValueError
        Bad arguments, or epochs without usable EEG channels or scalp
        positions. All raised before any work.
    """
    from .classifier import MODEL_CHOICES

    t_start = time.perf_counter()
    out_dir = check_output_folder(out_dir, overwrite, REPORT_FILES)
    if isinstance(models, str):
        models = (models,)
    if not isinstance(models, (list, tuple)) or not models or \
            any(not isinstance(m, str) or m not in MODEL_CHOICES for m in models):
        raise ValueError(f"models must be a non-empty list of {list(MODEL_CHOICES)}, got "
                         f"{models!r}.")
    if explain_model is None:
        explain_model = "best"
    if explain_model != "best" and explain_model not in models:
        raise ValueError(f"explain_model must be 'best' or one of models {list(models)}, got "
                         f"{explain_model!r}.")
    # None: each fold's network gets its own default (neurolrp.lrp.default_composite)
    comp = None if composite is None else get_composite(composite)
    n_splits = check_int(n_splits, "n_splits", low=2)
    check_int(seed, "seed", low=0)
    max_trials = check_int(max_trials, "max_trials", low=0)
    quality = check_bool(quality, "quality")
    quality_steps = check_int(quality_steps, "quality_steps", low=1)
    if title is not None and not isinstance(title, str):
        raise TypeError(f"title must be a string, got {type(title).__name__}.")
    if note is not None and not isinstance(note, str):
        raise TypeError(f"note must be a string, got {type(note).__name__}.")
    if classifier_params is not None and not isinstance(classifier_params, dict):
        raise TypeError("classifier_params must be a dict or None, got "
                        f"{type(classifier_params).__name__}.")
    epochs = pick_eeg(epochs)
    no_pos = [n for n, p in zip(epochs.ch_names, channel_positions(epochs.info))
              if not np.isfinite(p).all()]
    if no_pos:
        raise ValueError(
            f"{len(no_pos)} EEG channel(s) have no scalp position ({', '.join(no_pos[:10])}); "
            "the report draws topographies. Set a montage (epochs.set_montage) or load the "
            "data with neurolrp.datasets.load_epochs(..., montage='standard_1005')."
        )
    title = title or (epochs.info.get("description") or "neurolrp subject report")
    clock = StageClock()
    with clock.running(), atomic_folder(out_dir) as tmp_dir:
        logger.info(f"Cross-validating {', '.join(models)} and CSP+LDA ({n_splits} folds)")
        with stage("cross-validation"):
            result = cross_validate(epochs, models=models, n_splits=n_splits, seed=seed,
                                    classifier_params=classifier_params, verbose=verbose)
        chance = chance_test(result)
        how_chosen = "named by the user"
        if explain_model == "best":
            explain_model = best_network(result)
            how_chosen = ("the only network cross-validated" if len(models) == 1 else
                          "the best cross-validated network")
        row = chance.set_index("model").loc[explain_model]
        logger.info(f"Explaining all {len(epochs)} trials out of fold ({explain_model}, "
                    f"{how_chosen}; composite "
                    f"{comp.name if comp is not None else 'chosen per network'})")
        with stage("explaining"):
            rel = explain_out_of_fold(result, epochs, explain_model, composite=comp)
            used = _composite_used(rel)
            rel.attrs.update({
                "cv_accuracy": float(row.accuracy), "chance_level": float(row.chance),
                "binomial_p": float(row.p_value), "within_chance": int(bool(row.within_chance)),
                "explained_model_choice": how_chosen})
            # every trial explained for every class: the true class of a misclassified
            # trial ("what it missed") and the runner-up of a correct one
            # (by position when a class is named like a target keyword)
            per_class = {str(c): explain_out_of_fold(
                result, epochs, explain_model, composite=comp,
                target=k if str(c) in ("predicted", "true") else c)
                for k, c in enumerate(result.classes)}
            proba = _proba_of_prediction(result, explain_model, rel)
            other = _other_class(rel, per_class, result, explain_model)
        with stage("files"):
            save_relevance(rel, tmp_dir / "relevance.nc")
        rel_path = out_dir / "relevance.nc"

        report = mne.Report(title=title, verbose=False)
        summary = _summary(epochs, result, rel, explain_model, used, 0.0, None, chance,
                           how_chosen)
        quality_table = None
        with serial_blas():  # small matrices from here on (see serial_blas)
            with stage("figures"):
                _add_headline(report, summary, chance)
                if note:
                    report.add_html(f"<p>{html.escape(note)}</p>", "Settings",
                                    section="Summary")
                _add_data(report, epochs)
                _add_accuracy(report, result, chance, explain_model, n_splits)
                _add_erp(report, epochs, rel, result, explain_model)
                _add_class_maps(report, rel)
                _add_statistics(report, rel, seed)
                _add_errors(report, rel, other, proba, max_trials)
                _add_gallery(report, rel, proba)
            if max_trials:
                with stage("slider"):
                    _add_slider(report, rel, other, proba, max_trials)
            if quality:
                quality_table = _add_quality(report, result, epochs, explain_model, rel,
                                             seed, quality_steps)
        elapsed = time.perf_counter() - t_start
        summary = _summary(epochs, result, rel, explain_model, used, elapsed, quality_table,
                           chance, how_chosen)
        if quality:
            summary["quality_steps"] = quality_steps
        summary["stages"] = clock.rounded()  # so far: the provenance table shows them
        with stage("files"):
            _add_provenance(report, summary, result, explain_model)
            html_path = out_dir / "report.html"
            report.save(tmp_dir / "report.html", open_browser=False, overwrite=True,
                        verbose=False)
        summary["files"] = {"report": str(html_path), "relevance": str(rel_path),
                            "summary": str(out_dir / "summary.json")}
        # what each stage cost (the files' own writing and renaming excepted)
        summary["stages"] = clock.rounded()
        (tmp_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def conservation_sentence(accounted, raw=None):
    """Conservation in plain words: does relevance add up to the explained score?

    Parameters
    ----------
    accounted : float
        Largest relative error of the sum with the biases' and the
        stabiliser's shares counted (``rel.attrs["conservation_error_accounted"]``).
    raw : float | None
        The same without those shares (``rel.attrs["conservation_error"]``);
        when given, one more sentence says what it means.

    Returns
    -------
    text : str
    """
    if accounted <= CONSERVATION_TOL:
        text = (f"Relevance adds up to the network's score within {accounted:.2g} (relative) "
                "once the biases' share is counted: the explanation accounts for the whole "
                "decision.")
    else:
        text = (f"Relevance does NOT add up to the network's score: off by {accounted:.1e} "
                "(relative) even with the biases' share counted; the maps may be wrong.")
    if raw is not None:
        text += (f" The EEG's relevance alone differs from the score by up to {raw:.1f} times "
                 "the score, because the network's biases (bias terms, folded batch norms) "
                 "take their own share of it, which LRP leaves with them.")
    return text


def _composite_used(rel):
    """The composite that made ``rel``, in words: its name, or one per fold where they differ.

    Parameters
    ----------
    rel : xarray.DataArray
        LRP relevance (from :func:`~neurolrp.explain` or
        :func:`~neurolrp.attribution.explain_out_of_fold`, whose
        ``attrs["composite"]`` is a JSON list when the folds differ, e.g.
        ``model="auto"`` chose EEGNet in some folds and ShallowNet in others).

    Returns
    -------
    name : str
        ``"epsilon-energy-pattern"``, or e.g. ``"epsilon-energy-pattern
        (folds 1, 2, 4), epsilon-pattern-box (folds 3, 5)"``.
    """
    name = str(rel.attrs.get("composite", ""))
    try:
        per_fold = json.loads(name)
    except ValueError:
        return name
    if not isinstance(per_fold, list):
        return name
    folds = {}
    for k, n in enumerate(per_fold, 1):
        folds.setdefault(str(n), []).append(str(k))
    return ", ".join(f"{n} (folds {', '.join(f)})" for n, f in folds.items())


def _proba_of_prediction(result, model, rel):
    """Trial (a value of ``rel.trial``) -> probability of the predicted class."""
    df = result.predictions[result.predictions.model == model]
    proba = {int(r.trial): float(getattr(r, f"proba_{r.y_pred}")) for r in df.itertuples()}
    missing = [int(t) for t in rel.trial.values if int(t) not in proba]
    if missing:  # the relevance and the predictions must name the same trials
        raise RuntimeError(f"No out-of-fold prediction for trial(s) {missing[:5]}.")
    return proba


def _runner_up(result, model):
    """Trial -> the class with the second highest out-of-fold probability."""
    df = result.predictions[result.predictions.model == model]
    classes = [str(c) for c in result.classes]
    probs = df[[f"proba_{c}" for c in classes]].to_numpy()
    order = np.argsort(-probs, axis=1, kind="stable")
    k = 1 if len(classes) > 1 else 0
    return {int(t): classes[o[k]] for t, o in zip(df.trial, order)}


def _other_class(rel, per_class, result, model):
    """Each trial explained for its true class (misclassified) or the runner-up (correct)."""
    import xarray as xr

    runner = _runner_up(result, model)
    parts = []
    for k, t in enumerate(rel.trial.values):
        r = rel.isel(trial=k)
        cls = str(r.y_true.item()) if not bool(r.correct.item()) else runner[int(t)]
        parts.append(per_class[cls].sel(trial=[t]))
    return xr.concat(parts, dim="trial", combine_attrs="override")


def error_trials(rel, proba=None, n_fallback=6):
    """The trials to examine: the misclassified ones, else the least confident correct ones.

    Parameters
    ----------
    rel : xarray.DataArray
        Relevance with ``correct`` (and ``score``).
    proba : dict | None
        Trial -> probability of the predicted class; orders the trials
        (most confident error first; least confident correct trial first).
        Without it, the explained score orders them.
    n_fallback : int
        How many correct trials stand in when none was misclassified.

    Returns
    -------
    trials : list
        Values of ``rel.trial``.
    misclassified : bool
        True when these are misclassified trials, False for the stand-ins.
    """
    trials = [t.item() for t in rel.trial.values]
    conf = {t: (proba[int(t)] if proba is not None and int(t) in proba else
                float(rel.sel(trial=t).score)) for t in trials}
    correct = dict(zip(trials, map(bool, rel.correct.values)))
    wrong = [t for t in trials if not correct[t]]
    if wrong:
        return sorted(wrong, key=lambda t: -conf[t]), True
    right = sorted(trials, key=lambda t: conf[t])
    return right[:n_fallback], False
def format_p(p):
    """A p-value for people: two significant digits, or "< 0.0001"."""
    return "< 0.0001" if p < 1e-4 else f"= {p:.2g}"


def _alert(text, kind="warning"):
    return f'<div class="alert alert-{kind}" role="alert">{text}</div>'


def _add_headline(report, summary, chance):
    """What was explained and whether to trust it, before any map."""
    model = summary["explained_model"]
    row = chance.set_index("model").loc[model]
    acc = summary["accuracy"][model]
    parts = []
    if bool(row.within_chance):
        parts.append(_alert(
            f"<b>{html.escape(model)} is within chance</b>: {row.n_correct} of {row.n_trials} "
            f"trials right out of fold ({row.n_correct / row.n_trials:.0%}), binomial "
            f"p {format_p(row.p_value)} against always guessing the most frequent class "
            f"({row.chance:.0%}). The maps below explain a network that has not shown it "
            "learned the task: read them as what it used, not as brain activity that tells "
            "the classes apart.", "danger"))
    others = [m for m in chance.model[chance.within_chance] if m != model]
    if others:
        parts.append(_alert("Within chance as well (binomial p &ge; 0.05): "
                            + ", ".join(html.escape(m) for m in others) + ".", "warning"))
    items = [
        f"Explained: <b>{html.escape(model)}</b>, {html.escape(summary['explained_model_choice'])}"
        f" (accuracy {acc['mean']:.3f} &plusmn; {acc['sd']:.3f} over folds; "
        f"binomial p {format_p(row.p_value)} against chance, {row.chance:.0%}).",
        f"Every one of the {summary['n_trials']} trials explained by the fold's network that "
        f"did not train on it; {summary['n_misclassified']} misclassified.",
        html.escape(summary["conservation"]),
    ]
    body = "".join(parts) + "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"
    report.add_html(body, "At a glance", section="Summary")


def _add_accuracy(report, result, chance, model, n_splits):
    summ = result.summary()
    ct = chance.set_index("model")
    rows = []
    for m in summ.index:
        folds = result.scores[result.scores.model == m].sort_values("fold")
        flag = "within chance" if bool(ct.loc[m, "within_chance"]) else "above chance"
        rows.append([m] + [f"{a:.3f}" for a in folds.accuracy] +
                    [f"{summ.loc[m, 'accuracy']:.3f} ± {summ.loc[m, 'sd']:.3f}",
                     f"{format_p(ct.loc[m, 'p_value']).lstrip('= ')} ({flag})"])
    header = (["model"] + [f"fold {k + 1}" for k in range(n_splits)] +
              ["mean ± sd", "binomial p"])
    report.add_html(html_table(rows, header) +
                    "<p>Binomial p: the chance of getting as many trials right out of fold by "
                    "always guessing the most frequent class; p &ge; 0.05 is within chance.</p>",
                    "Accuracy per model and fold", section="Accuracy")
    add_figure(report, _accuracy_figure(result, chance), "Cross-validated accuracy",
               caption="Bars: mean ± sd over folds; dots: the folds. Grey: the classical "
                       "baseline CSP (4 components, log-variance) + LDA. Dotted line: chance "
                       "(the most frequent class's share); a model marked 'within chance' has "
                       "not shown that it learned the task.", section="Accuracy")
    add_figure(report, _confusion_figure(result, model), "Confusion matrix",
               caption=f"Rows: the true class; columns: the class {model} gave, out of fold. "
                       "The off-diagonal cells are the misclassified trials examined below.",
               section="Accuracy")


def _add_erp(report, epochs, rel, result, model):
    """Class-average waveforms beside relevance over time, for a network that reads them.

    Only where a fold's network is a waveform network (EEGNet): a band-power
    network's evidence is the power of an oscillation, whose phase differs
    from trial to trial, so its class-average waveforms are flat and say
    nothing about what it used.
    """
    if not any(default_composite(e) == WAVEFORM_COMPOSITE for e in result.estimators[model]):
        return
    fig = plot_erp_relevance(epochs, rel)
    add_figure(report, fig, "Class-average waveforms and relevance over time",
               section="Relevance over time",
               caption="Top: the class averages of the EEG (ERPs, mean ± standard error over "
                       "all trials of each class) at the channels where the network found "
                       "most relevance, and the global field power of the class difference "
                       "(right; shaded: what sampling noise alone reaches). Bottom, on the "
                       "same time axis: the mean relevance of each class's correctly "
                       "classified trials, explained for their class, at those channels and "
                       "summed over all channels. A network that reads the waveform gathers "
                       "its evidence where the classes' waveforms part; relevance far from "
                       "that points at something else (drifts, blinks).")


def _add_class_maps(report, rel):
    t0, t1 = float(rel.time.values[0]), float(rel.time.values[-1])
    cue = ("Relevance before the cue (t < 0) cannot come from the imagery, which starts at the "
           "cue: where it is strong, the network uses something else (slow drifts, eye "
           "movements, the trial before).")
    for cls in map(str, np.unique(rel.y_true.values)):
        avg = class_average(rel, cls)
        fig = plot_topomap(avg, window=1.0, tmin=t0, tmax=t1,
                           title=f"{cls}: mean relevance of {avg.sizes['trial']} correctly "
                                 f"classified trials, for the class {cls}")
        add_figure(report, fig, f"Class average: {cls}", section="Relevance over time",
                   caption=f"Relevance for {cls}, summed in 1 s windows over its correctly "
                           f"classified trials. Red: evidence for {cls}; blue: evidence "
                           "against it. A network on band power reads power changes, so red "
                           "at C3/C4 for both classes is no contradiction: each class finds "
                           "its evidence there, in opposite changes of the mu/beta rhythm. "
                           + cue)
        fig = plot_channel_time(avg, title=f"{cls}: mean relevance, correct trials")
        add_figure(report, fig, f"Channel x time: {cls}", section="Channel x time",
                   caption="Rows: channels grouped by region and hemisphere (L, z, R), the "
                           "10-20 channels and the strongest rows (bold) named; dashed line: "
                           "the cue. Look for where (rows) and when (columns) evidence "
                           "gathers; a stripe over all rows at one moment points at an "
                           "artefact rather than a brain source.")


def _add_statistics(report, rel, seed):
    """Cluster-based permutation tests of the correct trials' relevance, per class."""
    from .stats import one_sample_test

    correct = rel.sel(trial=rel.correct)
    try:
        with stage("statistics"):
            res = one_sample_test(correct, by="target", n_permutations=STATS_PERMUTATIONS,
                                  bin_width=STATS_BIN, seed=seed, verbose=False)
    except ValueError as err:  # e.g. a class with fewer than two correct trials
        report.add_html(f"<p>Not computed: {html.escape(str(err))}</p>",
                        "Where relevance differs from zero", section="Statistics")
        return
    alpha = res.attrs.get("alpha", 0.05)
    n_sig = {str(g): int((res.p_value.sel(group=g) < alpha).sum()) for g in res.group.values}
    how = (f"One-sample cluster-based permutation tests (mne.stats, {STATS_PERMUTATIONS} "
           f"sign-flip permutations, seed {seed}, relevance averaged in {STATS_BIN:g} s bins, "
           "neighbouring sensors and adjacent bins clustered) of the correctly classified "
           "trials' relevance for their class, against zero. Significant clusters (p < "
           f"{alpha:g}): " + ", ".join(f"{g}: {n}" for g, n in n_sig.items()) + "."
           + (" With none, no channel x time region carries relevance reliably across "
              "trials." if not any(n_sig.values()) else ""))
    fig = plot_group_topomaps(correct, by="target", window=1.0, stats=res)
    add_figure(report, fig, "Where relevance differs from zero: scalp", section="Statistics",
               caption=how + " White dots: sensors inside a significant cluster at some time "
                       "of the window; one colour scale for both classes. Relevance that "
                       "is strong but not marked is not reliable across trials.")
    fig = plot_group_channel_time(correct, by="target", stats=res)
    add_figure(report, fig, "Where relevance differs from zero: channel x time",
               section="Statistics",
               caption="The same test over channel x time: outlined, the significant "
                       "clusters; the rest is veiled. Mean relevance of the correct trials, "
                       "one colour scale for both classes.")


def _add_gallery(report, rel, proba):
    """Class averages beside typical, atypical and misclassified single trials."""
    from .evaluation import trial_consistency

    try:
        consistency = trial_consistency(rel)
    except ValueError:  # fewer than two trials per explained class
        consistency = None
    for cls in map(str, np.unique(rel.y_true.values)):
        fig = plot_class_gallery(rel, cls, proba=proba, consistency=consistency)
        add_figure(report, fig, f"Class average and single trials: true {cls}",
                   section="Misclassified trials",
                   caption="Relevance over 0.5-2.5 s, each map scaled by its own largest "
                           "value (the pattern, not the strength, compares). Black: correct "
                           "trials, from the most typical to the least typical (r: "
                           "correlation with the class average); red: misclassified trials, "
                           "explained for the class they were wrongly given.")
    if consistency is not None:
        add_figure(report, plot_trial_consistency(consistency), "Single trials vs their class "
                   "average", section="Misclassified trials",
                   caption="Each dot a trial: how much its channel x time relevance resembles "
                           "the average of the other trials explained for the same class "
                           "(1: the same pattern, 0: unrelated). Misclassified trials (red) "
                           "far below the correct ones were decided on other evidence.")


def _add_errors(report, rel, other, proba, max_trials):
    """The misclassified trials (or stand-ins), each for the predicted and the true class."""
    trials, wrong = error_trials(rel, proba)
    shown = trials[:MAX_ERRORS]
    if wrong:
        if len(shown) == len(trials):
            rest = ""
        elif max_trials >= len(trials):
            rest = f"; the first {len(shown)} here, all on the slider below"
        elif max_trials:
            rest = (f"; the first {len(shown)} here, the first {max_trials} on the slider "
                    "below, all in relevance.nc")
        else:
            rest = f"; the first {len(shown)} here, all in relevance.nc"
        head = (f"{len(trials)} trial(s) misclassified out of fold, most confident error "
                "first" + rest + ".")
        what = "Misclassified trials: what it saw, what it missed"
        title = "misclassified trials, predicted vs true class, 0.5 to 2.5 s"
        caption = ("Each trial twice, on one colour scale: left, relevance for the class the "
                   "network gave (\"saw\": the evidence that won); right, for the true class "
                   "(\"missed\": red where the trial did hold evidence for the right answer, "
                   "blue where it argued against it). p: the network's probability for its "
                   "(wrong) answer.")
    else:
        head = (f"No trial was misclassified out of fold. In their place: the {len(shown)} "
                "least confident correct trials (lowest probability of the chosen class), "
                "each explained for the chosen class and the runner-up.")
        what = "Least confident correct trials (none misclassified)"
        title = ("no trial misclassified: the least confident correct trials, "
                 "chosen class vs runner-up")
        caption = ("No misclassified trial: these are the correct trials the network was "
                   "least sure of. Each trial twice, on one colour scale: left, relevance for "
                   "the class it chose; right, for the runner-up. p: probability of the "
                   "chosen class.")
    fig = plot_misclassified(rel, other, trials=shown, proba=proba, title=title)
    add_figure(report, fig, what, caption=head + " " + caption, section="Misclassified trials")


def _trial_caption(r, p, wrong):
    text = (f"Trial {r.trial.item()}: true {r.y_true.item()}, predicted {r.y_pred.item()}"
            + (f" (p = {p:.2f})" if p is not None else ""))
    return text + (" - misclassified." if wrong else ".")


def _rgba(fig, dpi):
    """The figure's pixels (uint8 RGBA) from its own canvas, then closed.

    The same pixels as :func:`neurolrp._html.fig_to_array` without the PNG
    written and read back: 15-20 % less per slider image.
    """
    fig.set_dpi(dpi)
    fig.canvas.draw()
    image = np.array(fig.canvas.buffer_rgba())
    plt.close(fig)
    return image


def _add_slider(report, rel, other, proba, max_trials):
    """Every trial on a slider: misclassified first (most confident error first)."""
    trials, misclassified = error_trials(rel, proba)
    wrong = trials if misclassified else []
    rest = [t.item() for t in rel.trial.values if t.item() not in set(wrong)]
    order = (list(wrong) + rest)[:max_trials]
    arrays, captions = [], []
    for t in order:
        r = rel.sel(trial=t)
        wrong_t = not bool(r.correct.item())
        fig = plot_trial(rel, t, other=other if wrong_t else None)  # one row less: faster
        arrays.append(_rgba(fig, SLIDER_DPI))
        captions.append(_trial_caption(r, proba.get(int(t)) if proba else None, wrong_t))
    n = rel.sizes["trial"]
    left_out = n - len(order)
    first = (f"the {len(wrong)} misclassified first (most confident error first), then the "
             "correct ones in order" if wrong else "in order (none misclassified)")
    note = (f"All {n} trials, {first}." if not left_out else
            f"{len(order)} of {n} trials (the report shows at most {max_trials}; every trial "
            f"is in relevance.nc), {first}.")
    report.add_html(
        f"<p>{html.escape(note)} Move the slider or use the arrows. Top: relevance summed "
        "in 1 s windows for the predicted class (red: evidence for it, blue: against it) "
        "and, for a misclassified trial, a second row for its true class on the same colour "
        "scale (what the network missed). Bottom: the channel x time map for the predicted "
        "class, on its own scale. Each trial has its own scale: single trials differ in "
        "strength.</p>", "How to read the trial slider", section="Every trial")
    report.add_figure(arrays, f"Every trial ({len(order)})", caption=captions,
                      image_format=SLIDER_FORMAT, section="Every trial")


def _add_data(report, epochs):
    counts = {c: len(epochs[c]) for c in epochs.event_id}
    rows = [
        ["recording", epochs.info.get("description") or "-"],
        ["trials", f"{len(epochs)} ({', '.join(f'{c}: {n}' for c, n in counts.items())})"],
        ["channels", f"{len(epochs.ch_names)} EEG with scalp positions"],
        ["sampling rate", f"{epochs.info['sfreq']:g} Hz"],
        ["epoch window", f"{epochs.tmin:g} to {epochs.tmax:g} s around the cue (no baseline)"],
        ["band-pass", f"{epochs.info['highpass']:g}-{epochs.info['lowpass']:g} Hz"],
    ]
    report.add_html(html_table(rows, ["", ""]), "Data and preprocessing", section="Data")


def _add_quality(report, result, epochs, model, rel, seed, n_steps):
    from .evaluation import perturbation

    # the LRP of every trial is the report's own (the predicted class, out of fold);
    # the other methods are explained here, fold by fold as perturbation would
    with stage("explaining"):
        rels = {"lrp": rel}
        rels.update({m: explain_out_of_fold(result, epochs, model, method=m,
                                            **({"seed": seed} if m == "random" else {}))
                     for m in QUALITY_METHODS})
    with stage("perturbation"):
        curves = perturbation(result, epochs, rels, network=model, n_steps=n_steps,
                              seed=seed, verbose=False)
    how = (f"{n_steps} steps per curve, up to half of the units removed; units: patches of "
           "one channel x 0.25 s, whole channels, 0.25 s windows over all channels; removed "
           "samples replaced by a random training trial's, conditioned on the channels that "
           f"remain; methods: {', '.join(rels)}; each fold's network on its own held-out "
           "trials.")
    with stage("figures"):
        add_figure(report, plot_perturbation(curves), "Perturbation analysis (AOPC)",
                   section="Explanation quality",
                   caption="Most relevant inputs removed first (MoRF): the faster the score "
                           "falls, the better the explanation (Samek et al. 2017); LRP should "
                           "fall faster than the random order, or its maps are not what the "
                           "network used. AOPC: area over the perturbation curve (higher is "
                           "better). " + how)
    aopc = curves.aopc
    report.add_html(aopc.round(3).to_html(classes="table table-sm", index=False) +
                    "<p>morf: most relevant first (higher is better); lerf: least relevant "
                    "first (lower is better); ci_low, ci_high: 95% normal interval over "
                    f"trials. AOPC averages the score drop over the {n_steps + 1} points of a "
                    "curve (the unperturbed trial included): curves of another number of "
                    "steps give other values.</p>", "AOPC per method",
                    section="Explanation quality")
    return aopc


def _summary(epochs, result, rel, model, used, elapsed, quality_table, chance, how_chosen):
    summ = result.summary()
    ct = chance.set_index("model")
    out = {
        "recording": epochs.info.get("description") or "",
        "n_trials": len(epochs), "classes": list(map(str, result.classes)),
        "n_channels": len(epochs.ch_names), "sfreq": float(epochs.info["sfreq"]),
        "accuracy": {m: {"mean": round(float(r["accuracy"]), 4), "sd": round(float(r["sd"]), 4),
                         "binomial_p": round(float(ct.loc[m, "p_value"]), 4),
                         "within_chance": bool(ct.loc[m, "within_chance"])}
                     for m, r in summ.iterrows()},
        "chance_level": round(float(ct.chance.max()), 4),
        "explained_model": model, "explained_model_choice": how_chosen,
        "explained_model_within_chance": bool(ct.loc[model, "within_chance"]),
        "composite": used,
        "n_misclassified": int((~rel.correct.values).sum()),
        "conservation_error": rel.attrs["conservation_error"],
        "conservation_error_accounted": rel.attrs["conservation_error_accounted"],
        "conservation": conservation_sentence(rel.attrs["conservation_error_accounted"]),
        "wall_seconds": round(elapsed, 1),
        "versions": {"neurolrp": __version__, "mne": mne.__version__, "torch": torch.__version__,
                     "numpy": np.__version__, "python": platform.python_version()},
    }
    if quality_table is not None:
        morf = quality_table[quality_table.order == "morf"]
        out["aopc_most_relevant_first"] = {
            m: {r.granularity: round(float(r.aopc), 4) for r in d.itertuples()}
            for m, d in morf.groupby("method", sort=False)}
    return out


def _add_provenance(report, summary, result, model):
    est = result.estimators[model][0]
    rows = [["neurolrp", summary["versions"]["neurolrp"]],
            ["MNE / torch / numpy / Python", " / ".join(
                summary["versions"][k] for k in ("mne", "torch", "numpy", "python"))],
            ["network", f"{model} ({summary['explained_model_choice']}): "
                        f"{type(est.module_).__name__}, parameters "
                        f"{json.dumps(est.get_params(), default=str)}"],
            ["evaluation", f"stratified {len(result.folds)}-fold CV (seed in parameters); "
                           "every trial explained by the fold's network that did not train "
                           "on it; binomial test of the out-of-fold predictions against "
                           f"always guessing the most frequent class "
                           f"({summary['chance_level']:.0%})"],
            ["explanation", f"LRP, composite {summary['composite']}, target = predicted class "
                            "(and every class, for the misclassified trials and the slider)"],
            ["conservation", conservation_sentence(summary["conservation_error_accounted"],
                                                   summary["conservation_error"])]]
    if "quality_steps" in summary:
        rows.append(["explanation quality", f"perturbation (AOPC), {summary['quality_steps']} "
                     f"steps per curve, LRP against {', '.join(QUALITY_METHODS)}"])
    rows.append(["wall time", f"{summary['wall_seconds']} s"])
    if summary.get("stages"):
        rows.append(["time per stage (wall / CPU s)", ", ".join(
            f"{k} {v['wall_s']:.1f} / {v['cpu_s']:.1f}" for k, v in summary["stages"].items())])
    report.add_html(html_table(rows, ["", ""]), "How every number was made",
                    section="How it was made")

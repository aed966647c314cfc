"""Per-subject HTML report (``mne.Report``) with a JSON summary beside it."""

import html
import json
import platform
import time
from pathlib import Path

import matplotlib.pyplot as plt
import mne
import numpy as np
import torch

from . import __version__
from ._checks import (atomic_folder, check_bool, check_int, check_output_folder, pick_eeg)
from ._utils import logger, use_log_level
from .attribution import explain_out_of_fold
from .decoding import BASELINE, cross_validate
from .lrp.composites import DEFAULT_COMPOSITE, get_composite
from .relevance import channel_positions, save_relevance
from .viz import class_average, plot_channel_time, plot_class_gallery, plot_topomap

#: The files a report folder holds (all written together, or none).
REPORT_FILES = ("report.html", "summary.json", "relevance.nc")

SECTIONS = ("Data", "Accuracy", "Relevance over time", "Channel x time",
            "Misclassified trials", "Explanation quality", "How it was made")


def _table(rows, header):
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
                   for row in rows)
    return (f'<table class="table table-sm table-striped" style="width:auto">'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def _add_figure(report, fig, title, **kwargs):
    """Add a figure as a PNG rendered here, then close it.

    mne.Report renders matplotlib figures from a raw pixel buffer whose shape
    it computes separately; for some figures the two disagree and the image
    comes out sheared. A PNG we render ourselves goes in unchanged.
    """
    from io import BytesIO

    from matplotlib.image import imread

    buf = BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    buf.seek(0)
    report.add_figure(imread(buf), title, **kwargs)


def _accuracy_figure(result):
    summ = result.summary()
    fig, ax = plt.subplots(figsize=(4.5, 2.6))
    colors = ["0.6" if m == BASELINE else "C0" for m in summ.index]
    ax.bar(summ.index, summ["accuracy"], yerr=summ["sd"], color=colors, capsize=4)
    for k, (m, row) in enumerate(summ.iterrows()):
        folds = result.scores[result.scores.model == m].accuracy
        ax.plot(np.full(len(folds), k) + np.linspace(-0.15, 0.15, len(folds)), folds, "k.",
                ms=4)
    chance = 1.0 / len(result.classes)
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


def subject_report(epochs, out_dir, *, models=("shallow",), explain_model=None,
                   composite=None, n_splits=5, seed=0, title=None, quality=True,
                   classifier_params=None, overwrite=False, verbose=True):
    """Cross-validate, explain every trial out of fold, and write a report.

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
    explain_model : str | None
        Which of ``models`` to explain; default the first.
    composite : str | Composite | None
        LRP composite; default :data:`neurolrp.lrp.DEFAULT_COMPOSITE`.
    n_splits, seed : int
        Cross-validation folds and seed.
    title : str | None
        Report title.
    quality : bool
        Add perturbation curves (explanation quality) when the evaluation
        module is available.
    classifier_params : dict | None
        Extra :class:`~neurolrp.EEGClassifier` parameters.
    overwrite : bool
        Replace an existing report in ``out_dir``. A non-empty ``out_dir`` is
        an error without it (MNE's convention), and a folder that holds
        files other than a report's is never replaced.
    verbose : bool
        Show progress.

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
    from .models import MODELS

    t_start = time.perf_counter()
    out_dir = check_output_folder(out_dir, overwrite, REPORT_FILES)
    if isinstance(models, str):
        models = (models,)
    if not isinstance(models, (list, tuple)) or not models or \
            any(not isinstance(m, str) or m not in MODELS for m in models):
        raise ValueError(f"models must be a non-empty list of {sorted(MODELS)}, got {models!r}.")
    explain_model = explain_model or models[0]
    if explain_model not in models:
        raise ValueError(f"explain_model {explain_model!r} is not among models {list(models)}.")
    comp = get_composite(composite if composite is not None else DEFAULT_COMPOSITE)
    n_splits = check_int(n_splits, "n_splits", low=2)
    check_int(seed, "seed", low=0)
    quality = check_bool(quality, "quality")
    if title is not None and not isinstance(title, str):
        raise TypeError(f"title must be a string, got {type(title).__name__}.")
    if classifier_params is not None and not isinstance(classifier_params, dict):
        raise TypeError("classifier_params must be a dict or None, got "
                        f"{type(classifier_params).__name__}.")
    with use_log_level(verbose):
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
    with use_log_level(verbose), atomic_folder(out_dir) as tmp_dir:
        logger.info(f"Cross-validating {', '.join(models)} and CSP+LDA ({n_splits} folds)")
        result = cross_validate(epochs, models=models, n_splits=n_splits, seed=seed,
                                classifier_params=classifier_params, verbose=verbose)
        logger.info(f"Explaining all {len(epochs)} trials out of fold ({explain_model}, "
                    f"composite {comp.name})")
        rel = explain_out_of_fold(result, epochs, explain_model, composite=comp)
        save_relevance(rel, tmp_dir / "relevance.nc")
        rel_path = out_dir / "relevance.nc"

        report = mne.Report(title=title, verbose=False)
        _add_data(report, epochs)
        summ = result.summary()
        rows = []
        for m in summ.index:
            folds = result.scores[result.scores.model == m].sort_values("fold")
            rows.append([m] + [f"{a:.3f}" for a in folds.accuracy] +
                        [f"{summ.loc[m, 'accuracy']:.3f} ± {summ.loc[m, 'sd']:.3f}"])
        header = ["model"] + [f"fold {k + 1}" for k in range(n_splits)] + ["mean ± sd"]
        report.add_html(_table(rows, header), "Accuracy per model and fold", section="Accuracy")
        _add_figure(report, _accuracy_figure(result), "Cross-validated accuracy",
                          caption="Bars: mean ± sd over folds; dots: folds. Grey: the "
                                  "classical baseline CSP (4 components, log-variance) + LDA.",
                          section="Accuracy")
        _add_figure(report, _confusion_figure(result, explain_model), "Confusion matrix",
                          section="Accuracy")

        proba = _proba_of_prediction(result, explain_model)
        t0, t1 = float(rel.time.values[0]), float(rel.time.values[-1])
        for cls in result.classes:
            avg = class_average(rel, cls)
            fig = plot_topomap(avg, window=1.0, tmin=t0, tmax=t1,
                               title=f"{cls}: mean relevance of {avg.sizes['trial']} correctly "
                                     f"classified trials, for the class {cls}")
            _add_figure(report, fig, f"Class average: {cls}", section="Relevance over time",
                              caption="Relevance summed in 1 s windows. Red: evidence for "
                                      "the class; blue: evidence against it.")
            fig = plot_channel_time(avg, title=f"{cls}: mean relevance, correct trials")
            _add_figure(report, fig, f"Channel x time: {cls}", section="Channel x time",
                              caption="Channels ordered front to back, left to right; "
                                      "dashed line: the cue.")
            fig = plot_class_gallery(rel, cls, proba=proba)
            _add_figure(report, fig, f"Misclassified vs correct: true {cls}",
                              section="Misclassified trials",
                              caption="Left: class average; then the most confident correct "
                                      "trials; in red the misclassified trials, explained for "
                                      "the class they were (wrongly) given.")

        quality_table = None
        if quality:
            quality_table = _add_quality(report, result, epochs, explain_model, comp)
        elapsed = time.perf_counter() - t_start
        summary = _summary(epochs, result, rel, explain_model, comp, elapsed, quality_table)
        _add_provenance(report, summary, result, explain_model)
        html_path = out_dir / "report.html"
        report.save(tmp_dir / "report.html", open_browser=False, overwrite=True, verbose=False)
        summary["files"] = {"report": str(html_path), "relevance": str(rel_path),
                            "summary": str(out_dir / "summary.json")}
        (tmp_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def _proba_of_prediction(result, model):
    df = result.predictions[result.predictions.model == model]
    return {int(r.trial): float(getattr(r, f"proba_{r.y_pred}")) for r in df.itertuples()}


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
    report.add_html(_table(rows, ["", ""]), "Data and preprocessing", section="Data")


def _add_quality(report, result, epochs, model, comp):
    try:
        from .evaluation import perturbation, plot_perturbation
    except ImportError:
        report.add_html("<p>Not computed.</p>", "Perturbation analysis",
                        section="Explanation quality")
        return None
    curves = perturbation(result, epochs, network=model, composite=comp, verbose=False)
    fig = plot_perturbation(curves)
    _add_figure(report, fig, "Perturbation analysis (AOPC)", section="Explanation quality",
                      caption="Most relevant inputs removed first (MoRF): the faster the "
                              "score falls, the better the explanation (Samek et al. 2017). "
                              "AOPC: area over the perturbation curve.")
    aopc = curves.aopc
    report.add_html(aopc.round(3).to_html(classes="table table-sm", index=False),
                    "AOPC per method", section="Explanation quality")
    return aopc


def _summary(epochs, result, rel, model, comp, elapsed, quality_table):
    summ = result.summary()
    out = {
        "recording": epochs.info.get("description") or "",
        "n_trials": len(epochs), "classes": list(map(str, result.classes)),
        "n_channels": len(epochs.ch_names), "sfreq": float(epochs.info["sfreq"]),
        "accuracy": {m: {"mean": round(float(r["accuracy"]), 4), "sd": round(float(r["sd"]), 4)}
                     for m, r in summ.iterrows()},
        "explained_model": model, "composite": comp.name,
        "n_misclassified": int((~rel.correct.values).sum()),
        "conservation_error": rel.attrs["conservation_error"],
        "conservation_error_accounted": rel.attrs["conservation_error_accounted"],
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
            ["network", f"{model}: {type(est.module_).__name__}, parameters "
                        f"{json.dumps(est.get_params(), default=str)}"],
            ["evaluation", f"stratified {len(result.folds)}-fold CV (seed in parameters); "
                           "every trial explained by the fold's network that did not train "
                           "on it"],
            ["explanation", f"LRP, composite {summary['composite']}, target = predicted class"],
            ["conservation", f"largest |sum R - score| / |score| = "
                             f"{summary['conservation_error']:.2e} (biases keep their share); "
                             f"with bias and stabiliser shares counted: "
                             f"{summary['conservation_error_accounted']:.1e}"],
            ["wall time", f"{summary['wall_seconds']} s"]]
    report.add_html(_table(rows, ["", ""]), "How every number was made",
                    section="How it was made")

"""The ``neurolrp`` command line: ``demo`` and ``run``.

Every user error (a bad option, a missing or unreadable file, an output
folder that is not empty) prints one line, ``neurolrp CMD: error: ...``, and
exits with a non-zero status (2 for options argparse refuses, 1 for the
rest, 130 when interrupted); never a traceback.
"""

import argparse
import sys
import time
from pathlib import Path

from .datasets import TASKS


def _summary(epochs):
    counts = ", ".join(f"{name}: {len(epochs[name])}" for name in epochs.event_id)
    return (
        f"{epochs.info.get('description') or 'epochs'}: {len(epochs)} trials ({counts}), "
        f"{len(epochs.ch_names)} EEG channels, {epochs.info['sfreq']:g} Hz, "
        f"{epochs.tmin:g} to {epochs.tmax:g} s, band-pass "
        f"{epochs.info['highpass']:g}-{epochs.info['lowpass']:g} Hz"
    )


def _run_report(epochs, args, out=None, **kwargs):
    from .report import format_p, subject_report

    print(_summary(epochs), flush=True)
    t0 = time.perf_counter()
    summary = subject_report(epochs, out or args.out, models=tuple(args.models),
                             explain_model=args.explain, composite=args.composite,
                             n_splits=args.folds, seed=args.seed, overwrite=args.overwrite,
                             verbose=args.verbose, **kwargs)
    print("\nCross-validated accuracy (same folds; binomial test against chance "
          f"{summary['chance_level']:.0%}, the most frequent class):")
    for model, acc in summary["accuracy"].items():
        flag = "WITHIN CHANCE" if acc["within_chance"] else "above chance"
        print(f"  {model:10s} {acc['mean']:.3f} ± {acc['sd']:.3f}   "
              f"p {format_p(acc['binomial_p'])} ({flag})")
    model = summary["explained_model"]
    if summary["explained_model_within_chance"]:
        print(f"WARNING: {model} is within chance (p >= 0.05): its maps explain a network that "
              "has not shown it learned the task.")
    print(f"Explained {summary['n_trials']} trials out of fold with {model} "
          f"({summary['explained_model_choice']}; composite {summary['composite']}); "
          f"{summary['n_misclassified']} misclassified.")
    print(f"Conservation: {summary['conservation']}")
    if "aopc_most_relevant_first" in summary:
        print(f"Perturbation ({summary['quality_steps']} steps), AOPC with the most relevant "
              "removed first (higher is better; patch / channel / time window):")
        for m, v in summary["aopc_most_relevant_first"].items():
            print(f"  {m:10s} " + " / ".join(f"{v[g]:.2f}" for g in ("patch", "channel", "time")))
    print(f"Report: {Path(summary['files']['report']).resolve()}")
    print(f"Done in {time.perf_counter() - t0:.0f} s.")
    return summary


def _check_common(args):
    """Option values argparse cannot check, and the output folder: before any work."""
    from ._files import check_output_folder
    from .report import REPORT_FILES

    if args.folds < 2:
        raise ValueError(f"--folds must be at least 2, got {args.folds}")
    if args.seed < 0:
        raise ValueError(f"--seed must be 0 or more, got {args.seed}")
    if len(set(args.models)) != len(args.models):
        raise ValueError(f"--models lists a network twice: {' '.join(args.models)}")
    if args.explain != "best" and args.explain not in args.models:
        raise ValueError(f"--explain {args.explain} is not among --models "
                         f"{' '.join(args.models)}")
    if getattr(args, "command", None) != "demo":
        check_output_folder(args.out, args.overwrite, REPORT_FILES)


#: The demo's tasks (both imagery tasks of the bundled subject) and their folders.
DEMO_TASKS = (("imagery/hands-feet", "hands-feet"), ("imagery/left-right", "left-right"))
#: What the demo does more cheaply than ``neurolrp run`` (said in its output, on its index
#: page and at the top of each report). Measured on subject 1, 5-fold CV, side by side:
#: - early stopping after 10 epochs without a better validation loss instead of 30: 458
#:   training epochs over both tasks instead of 920; one trial of 45 more misclassified per
#:   task (hands/feet 1.000 -> 0.978, left/right 0.600 -> 0.578; patience 20: 724 epochs,
#:   0.978 and 0.600);
#: - perturbation curves of 5 steps instead of 10: AOPC of hands/feet, patch / channel /
#:   time, LRP 0.76 / 0.36 / 1.42 against 0.78 / 0.38 / 1.45, the gradient and random orders
#:   alike, the methods ranked the same; half the forward passes;
#: - 20 trials on the slider instead of all 45 (misclassified first, so left/right's 19
#:   errors are all there): a slider figure took 0.8-1 s of CPU, a third of the demo's.
DEMO_REPORT = {"quality_steps": 5, "classifier_params": {"patience": 10}, "max_trials": 20}
DEMO_NOTE = ("Demo settings, to finish sooner: the networks stop training after 10 epochs "
             "without a better validation loss (neurolrp run: 30), the perturbation curves "
             "have 5 steps (neurolrp run: 10), and the slider shows 20 trials, misclassified "
             "first (neurolrp run: up to 100; every trial is in relevance.nc). On this "
             "subject the shorter training misclassifies one more trial per task, and AOPC "
             "values move by a few hundredths while the comparison of the methods stays the "
             "same.")


def demo_jobs(jobs=None):
    """How the demo runs its tasks: ``(processes, torch threads per process)``.

    Networks this small keep one core busy per training but gain little
    from a second thread, which on a shared machine waits for a descheduled
    partner at every operation (on the 2-core development machine with
    other jobs running, a ShallowNet forward pass of 9 trials took 11-15 ms
    of CPU on one thread and 53-127 ms on two). So the tasks run side by
    side, each in a worker process of a dask LocalCluster (the study
    runner's), one per core, each with its share of the cores.

    Parameters
    ----------
    jobs : int | None
        Processes; ``None``: one per task, at most one per core.

    Returns
    -------
    processes, threads : int
    """
    from ._threads import available_cores

    cores = available_cores()
    n = min(len(DEMO_TASKS), cores if jobs is None else jobs)
    return n, max(1, cores // n)


def _demo_task(task, folder, out, args, threads=None):
    """One task of the demo: load, report; ``(summary, its printed text, its stages)``.

    With ``threads`` (run in a dask worker process of its own) the process is tuned as the
    command's, torch gets ``threads`` threads (BLAS got them from the worker's
    environment, set by the study runner's ``dask_client``), and what the task
    prints is returned instead of printed (the parent prints each task's
    text when it is done, so that two tasks do not interleave their lines).
    """
    import contextlib
    import io
    import logging
    import os

    from ._timing import StageClock, stage
    from ._utils import logger
    from .datasets import load_eegbci

    buf, handlers, old = None, [], []
    if threads is not None:
        from ._threads import tune_process

        os.environ["NEUROLRP_PROGRESS"] = "0"  # two bars on one terminal garble each other
        tune_process()
        import torch

        torch.set_num_threads(threads)  # BLAS: the worker's environment (dask_client)
        buf = io.StringIO()
        handlers = [h for h in logger.handlers if isinstance(h, logging.StreamHandler)]
        old = [h.setStream(buf) for h in handlers]
    try:
        with contextlib.redirect_stdout(buf) if buf else contextlib.nullcontext(), \
                StageClock().running() as clock:
            with stage("loading"):
                epochs = load_eegbci(1, task, resample=80, verbose=False)
            summary = _run_report(epochs, args, out / folder, note=DEMO_NOTE, **DEMO_REPORT)
    finally:
        for h, stream in zip(handlers, old):
            h.setStream(stream)
    return summary, buf.getvalue() if buf else "", clock.stages


def cmd_demo(args):
    from ._files import check_output_folder
    from ._timing import StageClock, stage
    from ._utils import logger, use_log_level
    from .report import REPORT_FILES

    _check_common(args)
    if args.jobs is not None and args.jobs < 1:
        raise ValueError(f"--jobs must be at least 1, got {args.jobs}")
    out = check_output_folder(args.out, args.overwrite,
                              ("index.html",) + tuple(d for _, d in DEMO_TASKS))
    for _, folder in DEMO_TASKS:
        check_output_folder(out / folder, args.overwrite, REPORT_FILES)
    t0 = time.perf_counter()
    n_proc, threads = demo_jobs(args.jobs)
    clock = StageClock()
    heads = [f"\n== Task {k + 1} of {len(DEMO_TASKS)}: {task} ==" for k, (task, _) in
             enumerate(DEMO_TASKS)]
    results = [None] * len(DEMO_TASKS)
    if n_proc == 1:
        for k, (task, folder) in enumerate(DEMO_TASKS):
            print(heads[k], flush=True)
            results[k] = _demo_task(task, folder, out, args)
    else:
        # the study runner's way onto a LocalCluster: one worker process per task
        from dask.distributed import as_completed

        from .study._runner import dask_client

        print(f"Running the {len(DEMO_TASKS)} tasks side by side on dask ({n_proc} worker "
              f"processes, {threads} thread(s) each; --jobs 1: one after the other); each "
              "task's output follows when it is done.", flush=True)
        with dask_client(None, n_proc, threads, args.verbose) as (client, _):
            futures = {client.submit(_demo_task, task, folder, out, args, threads,
                                     pure=False): k
                       for k, (task, folder) in enumerate(DEMO_TASKS)}
            for fut in as_completed(futures):
                k = futures[fut]
                results[k] = fut.result()
                print(heads[k] + "\n" + results[k][1].rstrip(), flush=True)
    for _, _, stages in results:
        clock.add(stages)
    done = [(task, folder, r[0]) for (task, folder), r in zip(DEMO_TASKS, results)]
    with clock.running(), stage("files"):
        index = write_index(out, done, overwrite=True, note=DEMO_NOTE)
    wall = time.perf_counter() - t0
    print(f"\nIndex of both reports: {index.resolve()}")
    print(DEMO_NOTE)
    print(f"Demo done in {wall:.0f} s.")
    with use_log_level(args.verbose):
        logger.info("\nWhere the time went (both tasks"
                    + (f"; wall: time spent in each stage, added over the {n_proc} processes "
                       f"that ran side by side for {wall:.0f} s" if n_proc > 1 else "")
                    + "):\n" + clock.table())
    return 0


def write_index(out, reports, overwrite=False, note=None):
    """An index page linking the demo's reports, with their headline numbers.

    Parameters
    ----------
    out : path-like
        Folder holding the reports' folders; ``index.html`` goes there.
    reports : list of (str, str, dict)
        ``(task, folder, summary)`` per report, ``summary`` as returned by
        :func:`neurolrp.report.subject_report`.
    overwrite : bool
        Replace an existing ``index.html``.
    note : str | None
        A paragraph under the table (e.g. what the demo did more cheaply).

    Returns
    -------
    path : pathlib.Path
        The index page.
    """
    import html

    from ._files import atomic_file

    out = Path(out)
    path = out / "index.html"
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True (--overwrite) to replace it.")
    rows = []
    for task, folder, s in reports:
        acc = s["accuracy"][s["explained_model"]]
        flag = (' <b style="color:#b00">within chance</b>' if s["explained_model_within_chance"]
                else "")
        base = s["accuracy"].get("csp+lda")
        base_txt = "" if base is None else f"{base['mean']:.3f} ± {base['sd']:.3f}"
        rows.append(
            f'<tr><td><a href="{html.escape(folder)}/report.html">{html.escape(task)}</a></td>'
            f"<td>{s['n_trials']}</td><td>{html.escape(s['explained_model'])}: "
            f"{acc['mean']:.3f} ± {acc['sd']:.3f}{flag}</td>"
            f"<td>{base_txt}</td><td>{s['n_misclassified']}</td></tr>")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>neurolrp demo</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.4}}
td,th{{padding:.3em .8em;text-align:left;border-bottom:1px solid #ddd}}</style></head>
<body><h1>neurolrp demo: PhysioNet eegmmidb subject 1, motor imagery</h1>
<p>One report per task. Each trial is explained with LRP by the cross-validation fold's
network that did not train on it; the misclassified trials are explained for the predicted
and for the true class.</p>
<table><tr><th>task (report)</th><th>trials</th><th>explained network, accuracy</th>
<th>CSP + LDA</th><th>misclassified</th></tr>
{"".join(rows)}</table>
{f"<p>{html.escape(note)}</p>" if note else ""}
<p>neurolrp {html.escape(reports[0][2]["versions"]["neurolrp"]) if reports else ""}</p>
</body></html>
"""
    with atomic_file(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path


def cmd_run(args):
    import math

    from .datasets import load_eegbci, load_epochs

    if args.dataset is None and args.epochs is None and (args.subject is not None or
                                                         args.task is not None):
        args.dataset = "eegbci"  # --subject or --task name an eegbci recording
    if (args.dataset is None) == (args.epochs is None):
        raise ValueError("give either --dataset eegbci (the default with --subject N or "
                         "--task T) or --epochs FILE")
    if args.epochs is not None and (args.subject is not None or args.task is not None):
        raise ValueError("--subject and --task name an eegbci recording; they do not go with "
                         "--epochs")
    args.subject = 1 if args.subject is None else args.subject
    args.task = args.task or "imagery/hands-feet"
    if not 1 <= args.subject <= 109:
        raise ValueError(f"--subject must be from 1 to 109, got {args.subject}")
    if not math.isfinite(args.resample) or args.resample < 0:
        raise ValueError(f"--resample must be a rate in Hz (0 keeps the data's), got "
                         f"{args.resample:g}")
    if args.data_path is not None and Path(args.data_path).exists() and \
            not Path(args.data_path).is_dir():
        raise ValueError(f"--data-path {args.data_path} is a file, not a folder")
    _check_common(args)
    if args.epochs is not None:
        epochs = load_epochs(args.epochs, verbose=False)
        if args.resample:
            epochs = epochs.resample(args.resample)
    else:
        epochs = load_eegbci(args.subject, args.task, path=args.data_path,
                             resample=args.resample or None, verbose=False)
    _run_report(epochs, args)
    return 0


def _add_common(p, models):
    from .lrp.composites import COMPOSITES
    from .classifier import MODEL_CHOICES

    p.add_argument("--out", default="neurolrp-output", metavar="DIR",
                   help="folder for report.html, summary.json and relevance.nc (the demo: "
                        "one such folder per task and index.html) (default: %(default)s)")
    p.add_argument("--models", nargs="+", default=[models], choices=MODEL_CHOICES,
                   metavar="MODEL", help="networks to cross-validate beside CSP+LDA "
                   f"({', '.join(MODEL_CHOICES)}; auto: ShallowNet for band power or EEGNet "
                   "for waveforms, chosen in each fold by an inner cross-validation on its "
                   f"training trials; default: {models})")
    p.add_argument("--explain", default="best", choices=["best", *MODEL_CHOICES],
                   metavar="MODEL", help="which network to explain: 'best' (the highest "
                   "cross-validated accuracy; default) or one of --models")
    p.add_argument("--composite", default=None, choices=sorted(COMPOSITES),
                   metavar="NAME", help=f"LRP composite ({', '.join(sorted(COMPOSITES))}; "
                   "default: chosen per network, epsilon-energy-pattern for eegnet (waveform), "
                   "epsilon-pattern-box for shallow and sturm (band power))")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds (default: 5)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the report in a non-empty --out folder (default: refuse)")
    p.add_argument("--quiet", dest="verbose", action="store_false", help="no progress output")


class _Parser(argparse.ArgumentParser):
    """argparse, with option errors on one line (no usage block)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser():
    parser = _Parser(
        prog="neurolrp",
        description="Explain deep-learning decisions on EEG, trial by trial, with LRP.",
    )
    from ._version import __version__

    parser.add_argument("--version", action="version", version=f"neurolrp {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    demo = sub.add_parser(
        "demo", help="run the whole job on the bundled subject (both imagery tasks)",
        description="Run the whole job on the bundled subject 1 of PhysioNet eegmmidb, "
                    "offline, for both motor-imagery tasks (hands vs feet, left vs right; "
                    "7-30 Hz, -1 to 4 s, 80 Hz): cross-validated training beside CSP+LDA, "
                    "out-of-fold LRP of every trial, one HTML report per task "
                    "(OUT/hands-feet/, OUT/left-right/) and OUT/index.html linking them.")
    _add_common(demo, "shallow")  # the bundled data are band power: no choice to make
    demo.add_argument("--jobs", type=int, default=None, metavar="N",
                      help="tasks run at once, each in a worker process of a dask "
                           "LocalCluster with its share of the cores (default: one per task, "
                           "at most one per core; 1: one after the other in this process)")
    demo.set_defaults(func=cmd_demo, out="neurolrp-demo")  # also the default --help shows
    run = sub.add_parser(
        "run", help="the same job for another subject, task or your own epochs",
        description="Cross-validate, explain every trial and write a report for one subject: "
                    "PhysioNet eegmmidb (--subject N --task T; --dataset eegbci is implied) "
                    "or your own epochs (--epochs FILE-epo.fif). The best cross-validated "
                    "network is explained (--explain), and any model within chance is "
                    "flagged.")
    run.add_argument("--dataset", choices=["eegbci"],
                     help="a dataset the loaders know (default with --subject: eegbci)")
    run.add_argument("--subject", type=int, default=None,
                     help="subject number of PhysioNet eegmmidb (default: 1)")
    run.add_argument("--task", default=None, choices=sorted(TASKS),
                     metavar="TASK", help=f"{', '.join(sorted(TASKS))} "
                     "(default: imagery/hands-feet)")
    run.add_argument("--data-path", default=None, metavar="DIR",
                     help="folder holding MNE-eegbci-data/ (default: $NEUROLRP_DATA, the "
                          "repository's datasets/, MNE's data folder)")
    run.add_argument("--epochs", default=None, metavar="FILE",
                     help="your own epochs (-epo.fif); classes are the event names")
    run.add_argument("--resample", type=float, default=80.0, metavar="HZ",
                     help="resample to this rate first; 0 keeps the data's rate "
                          "(default: %(default)s)")
    _add_common(run, "auto")  # the user's data: the paradigm, so the network, is unknown
    run.set_defaults(func=cmd_run)
    from .study import add_parser as add_study_parser  # neurolrp study: many subjects on dask

    add_study_parser(sub)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    # the command's own process: thread pools and allocator tuned for long CPU work
    # (importing neurolrp leaves them alone; see neurolrp.tune_process)
    from ._threads import tune_process

    tune_process()
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print(f"neurolrp {args.command}: interrupted; nothing was written", file=sys.stderr)
        return 130
    except (OSError, ValueError, TypeError) as err:  # user errors; anything else is a bug
        message = " ".join(line.strip() for line in str(err).splitlines() if line.strip())
        if isinstance(err, OSError) and err.filename and str(err.filename) not in message:
            message += f": {err.filename}"
        print(f"neurolrp {args.command}: error: {message or type(err).__name__}",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

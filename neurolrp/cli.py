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


def _run_report(epochs, args):
    from .report import subject_report

    print(_summary(epochs), flush=True)
    t0 = time.perf_counter()
    summary = subject_report(epochs, args.out, models=tuple(args.models),
                             composite=args.composite, n_splits=args.folds, seed=args.seed,
                             overwrite=args.overwrite, verbose=args.verbose)
    print("\nCross-validated accuracy (same folds):")
    for model, acc in summary["accuracy"].items():
        print(f"  {model:10s} {acc['mean']:.3f} ± {acc['sd']:.3f}")
    print(f"Explained {summary['n_trials']} trials out of fold ({summary['explained_model']}, "
          f"composite {summary['composite']}); {summary['n_misclassified']} misclassified.")
    print(f"Conservation: sum of relevance vs score, largest relative error "
          f"{summary['conservation_error']:.2e} (biases keep their share); "
          f"{summary['conservation_error_accounted']:.1e} with those shares counted.")
    if "aopc_most_relevant_first" in summary:
        print("Perturbation, AOPC with the most relevant removed first (higher is better; "
              "patch / channel / time window):")
        for m, v in summary["aopc_most_relevant_first"].items():
            print(f"  {m:10s} " + " / ".join(f"{v[g]:.2f}" for g in ("patch", "channel", "time")))
    print(f"Report: {Path(summary['files']['report']).resolve()}")
    print(f"Done in {time.perf_counter() - t0:.0f} s.")
    return 0


def _check_common(args):
    """Option values argparse cannot check, and the output folder: before any work."""
    from ._checks import check_output_folder
    from .report import REPORT_FILES

    if args.folds < 2:
        raise ValueError(f"--folds must be at least 2, got {args.folds}")
    if args.seed < 0:
        raise ValueError(f"--seed must be 0 or more, got {args.seed}")
    if len(set(args.models)) != len(args.models):
        raise ValueError(f"--models lists a network twice: {' '.join(args.models)}")
    check_output_folder(args.out, args.overwrite, REPORT_FILES)


def cmd_demo(args):
    from .datasets import load_eegbci

    _check_common(args)
    epochs = load_eegbci(1, "imagery/hands-feet", resample=80, verbose=False)
    return _run_report(epochs, args)


def cmd_run(args):
    import math

    from .datasets import load_eegbci, load_epochs

    if (args.dataset is None) == (args.epochs is None):
        raise ValueError("give either --dataset eegbci (with --subject, --task) or --epochs FILE")
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
    return _run_report(epochs, args)


def _add_common(p):
    from .lrp.composites import COMPOSITES, DEFAULT_COMPOSITE
    from .models import MODELS

    p.add_argument("--out", default="neurolrp-output", metavar="DIR",
                   help="folder for report.html, summary.json and relevance.nc "
                        "(default: %(default)s)")
    p.add_argument("--models", nargs="+", default=["shallow"], choices=sorted(MODELS),
                   metavar="MODEL", help="networks to cross-validate beside CSP+LDA; the first "
                   f"is explained ({', '.join(sorted(MODELS))}; default: shallow)")
    p.add_argument("--composite", default=DEFAULT_COMPOSITE, choices=sorted(COMPOSITES),
                   metavar="NAME", help=f"LRP composite ({', '.join(sorted(COMPOSITES))}; "
                   "default: %(default)s)")
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
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    demo = sub.add_parser(
        "demo", help="run the whole job on the bundled subject (imagery, hands vs feet)",
        description="Run the whole job on the bundled subject 1 of PhysioNet eegmmidb "
                    "(motor imagery, hands vs feet, 7-30 Hz, -1 to 4 s, 80 Hz), offline: "
                    "cross-validated training beside CSP+LDA, out-of-fold LRP of every "
                    "trial, and an HTML report.")
    _add_common(demo)
    demo.set_defaults(func=cmd_demo, out="neurolrp-demo")
    for action in demo._actions:
        if action.dest == "out":
            action.default = "neurolrp-demo"
    run = sub.add_parser(
        "run", help="the same job for another subject, task or your own epochs",
        description="Cross-validate, explain every trial and write a report for one subject: "
                    "PhysioNet eegmmidb (--dataset eegbci --subject N --task T) or your own "
                    "epochs (--epochs FILE-epo.fif).")
    run.add_argument("--dataset", choices=["eegbci"], help="a dataset the loaders know")
    run.add_argument("--subject", type=int, default=1, help="subject number (default: 1)")
    run.add_argument("--task", default="imagery/hands-feet", choices=sorted(TASKS),
                     metavar="TASK", help=f"{', '.join(sorted(TASKS))} "
                     "(default: %(default)s)")
    run.add_argument("--data-path", default=None, metavar="DIR",
                     help="folder holding MNE-eegbci-data/ (default: $NEUROLRP_DATA, the "
                          "repository's datasets/, MNE's data folder)")
    run.add_argument("--epochs", default=None, metavar="FILE",
                     help="your own epochs (-epo.fif); classes are the event names")
    run.add_argument("--resample", type=float, default=80.0, metavar="HZ",
                     help="resample to this rate first; 0 keeps the data's rate "
                          "(default: %(default)s)")
    _add_common(run)
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

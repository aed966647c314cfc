"""``neurolrp study``: the study runner on the command line."""

import sys
import time


def _subjects(text):
    """'3' -> [3]; '1-8' -> [1, ..., 8]."""
    import argparse

    try:
        if "-" in text:
            a, b = (int(x) for x in text.split("-", 1))
            if a > b:
                raise ValueError
            return list(range(a, b + 1))
        return [int(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a subject number or range "
                                         "(like 3 or 1-8)") from None


def add_parser(sub):
    """Add the ``study`` subcommand to the ``neurolrp`` command line's subparsers."""
    from ..datasets import TASKS
    from ..lrp.composites import COMPOSITES
    from ..classifier import MODEL_CHOICES

    p = sub.add_parser(
        "study", help="many subjects on dask: one zarr store, a report per subject and a "
                      "group report; resumable",
        description="Cross-validate, explain every trial out of fold and report, for many "
                    "subjects in parallel on dask (a LocalCluster sized to this machine, or "
                    "--scheduler tcp://host:8786). Results go to one zarr store in --out; a "
                    "killed run is resumed by running the same command again.")
    p.add_argument("--subjects", nargs="+", type=_subjects, required=True, metavar="N",
                   help="subject numbers or ranges, e.g. 1 2 5-8")
    p.add_argument("--dataset", default="eegbci", metavar="NAME",
                   help="eegbci, simulated, or moabb:<name> (e.g. moabb:BNCI2014_001; needs "
                        "pip install 'neurolrp[moabb]') (default: %(default)s)")
    p.add_argument("--task", default="imagery/hands-feet", choices=sorted(TASKS),
                   metavar="TASK", help="eegbci task (default: %(default)s)")
    p.add_argument("--trials", type=int, default=None, metavar="N",
                   help="trials per simulated subject (default: 100)")
    p.add_argument("--paradigm", default=None, metavar="NAME",
                   help="MOABB paradigm: imagery, left-right or p300 (default: imagery)")
    p.add_argument("--out", default="neurolrp-study", metavar="DIR",
                   help="study folder (default: %(default)s)")
    p.add_argument("--models", nargs="+", default=["shallow"], choices=MODEL_CHOICES,
                   metavar="MODEL", help="networks beside CSP+LDA (auto: chosen per fold by an "
                   "inner cross-validation); the first is explained (default: shallow)")
    p.add_argument("--composite", default=None, choices=sorted(COMPOSITES),
                   metavar="NAME", help="LRP composite (default: chosen per network, "
                   "epsilon-energy-pattern for eegnet, epsilon-pattern-box for shallow and "
                   "sturm)")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds (default: 5)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--resample", type=float, default=80.0, metavar="HZ",
                   help="sampling rate; 0 keeps each dataset's (default: %(default)s)")
    p.add_argument("--tmin", type=float, default=None, help="crop the epochs from (s)")
    p.add_argument("--tmax", type=float, default=None, help="crop the epochs to (s)")
    p.add_argument("--max-epochs", type=int, default=None, metavar="N",
                   help="training epochs at most (default: the network's own)")
    p.add_argument("--patience", type=int, default=None, metavar="N",
                   help="early-stopping patience (default: the network's own)")
    p.add_argument("--no-quality", dest="quality", action="store_false",
                   help="no perturbation analysis in the subject reports (faster)")
    p.add_argument("--slider-trials", type=int, default=20, metavar="N",
                   help="trials on each subject report's slider, misclassified first; 0: "
                        "none (default: %(default)s)")
    p.add_argument("--transfer", action="store_true",
                   help="also subject-to-subject transfer (pre-train on the others, "
                        "fine-tune, test)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="an existing dask scheduler, tcp://host:8786 (default: a "
                        "LocalCluster on this machine)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="LocalCluster workers (default: cores // threads per worker)")
    p.add_argument("--threads-per-worker", type=int, default=1, metavar="N",
                   help="torch threads per worker (default: 1)")
    p.add_argument("--data-path", default=None, metavar="DIR",
                   help="folder holding MNE-eegbci-data/ (as the workers see it)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing study in --out (default: resume or extend it)")
    p.add_argument("--quiet", dest="verbose", action="store_false", help="no progress output")
    p.set_defaults(func=cmd_study)
    return p


def cmd_study(args):
    """Run ``neurolrp study``; returns the exit code (1 if any subject failed)."""
    from . import run_study

    subjects = [s for part in args.subjects for s in part]
    params = {}
    if args.trials is not None:
        params["n_trials"] = args.trials
    if args.paradigm is not None:
        params["paradigm"] = args.paradigm
    clf = {k: v for k, v in (("max_epochs", args.max_epochs), ("patience", args.patience))
           if v is not None}
    t0 = time.perf_counter()
    try:
        study = run_study(
            subjects, dataset=args.dataset, task=args.task, out=args.out, models=args.models,
            composite=args.composite, folds=args.folds, seed=args.seed,
            classifier_params=clf or None, resample=args.resample or None, tmin=args.tmin,
            tmax=args.tmax, quality=args.quality, transfer=args.transfer,
            dataset_params=params or None, data_path=args.data_path,
            scheduler=args.scheduler, n_workers=args.workers,
            threads_per_worker=args.threads_per_worker, slider_trials=args.slider_trials,
            overwrite=args.overwrite,
            verbose=args.verbose)
    except KeyboardInterrupt:
        print("neurolrp study: interrupted; the complete subjects are kept, run the same "
              "command again to resume", file=sys.stderr)
        return 130
    except (OSError, ValueError, TypeError, ImportError) as err:
        message = " ".join(line.strip() for line in str(err).splitlines() if line.strip())
        print(f"neurolrp study: error: {message or type(err).__name__}", file=sys.stderr)
        return 1
    model = study.config["explain_model"]
    cols = [f"accuracy_{model}", "accuracy_csp+lda"] + (
        ["transfer_transfer"] if "transfer_transfer" in study.table else [])
    if len(study.table):
        print("\nCross-validated accuracy per subject (same folds):")
        print(study.table[["n_trials"] + cols].round(3).to_string())
    for key, err in study.failed.items():
        print(f"FAILED {key}: {err.splitlines()[0]}", file=sys.stderr)
    print(f"Store: {study.store.resolve()}")
    if study.report.exists():
        print(f"Group report: {study.report.resolve()}")
    print(f"Done in {time.perf_counter() - t0:.0f} s.")
    return 1 if study.failed else 0


__all__ = ["add_parser", "cmd_study"]

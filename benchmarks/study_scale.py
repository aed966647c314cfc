"""How a study scales: 1 vs 2 dask workers, the cost of the store and scheduler, memory.

Runs the same simulated cohort three ways, in this order, each into a fresh
folder:

1. a plain loop in this process: :func:`neurolrp.study.process_subject` per
   subject (load, cross-validation beside CSP + LDA, out-of-fold LRP, the
   subject's report), nothing written, no dask;
2. :func:`neurolrp.study.run_study` on a LocalCluster of 1 worker x 1 torch
   thread (the same work, plus the scheduler, the zarr store, the reports on
   disk and study.csv; no group report);
3. the same on 2 workers x 1 thread.

It prints wall and CPU time of each, the speed-up (2) / (3), the overhead
(2) / (1) - 1, the peak resident memory of a worker after each subject (does
it grow with the number of subjects?), the load average seen, and the
per-subject cost of one bundled eegmmidb subject at the study's defaults
(5 folds, the network's own training, perturbation analysis), from which
the cost of all 109 eegmmidb subjects on N workers follows.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/study_scale.py            # 8 subjects, ~15 min on 2 cores
    OMP_NUM_THREADS=1 python benchmarks/study_scale.py --subjects 4 --trials 40 --skip-eegbci

CPU times count every process (this one and the workers, from the tasks'
own ``process_time``), so they show the work done whatever else runs on the
machine; wall times and the speed-up need idle cores.
"""

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def _load():
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def _settings(args):
    from neurolrp.study._inputs import check_config, resolve_dataset

    subjects = list(range(1, args.subjects + 1))
    source = resolve_dataset("simulated", None, {"n_trials": args.trials}, None, subjects)
    params = {"max_epochs": args.max_epochs} if args.max_epochs else {}
    config, _ = check_config(("shallow",), None, args.folds, 0, params, 80.0, None, None,
                             args.quality)
    kw = dict(dataset="simulated", dataset_params={"n_trials": args.trials}, folds=args.folds,
              classifier_params=params or None, resample=80.0, quality=args.quality,
              report=False, verbose=False)
    return subjects, source, config, kw


def plain_loop(subjects, source, config):
    """The same per-subject work in a loop, in this process, nothing written."""
    import torch

    from neurolrp.study import process_subject

    torch.set_num_threads(1)
    t0, c0 = time.perf_counter(), time.process_time()
    per_subject = []
    for s in subjects:
        t = time.perf_counter()
        res = process_subject(source, s, config, threads=1)
        per_subject.append(time.perf_counter() - t)
        del res
    return {"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0,
            "per_subject": per_subject}


def on_dask(subjects, kw, n_workers, root):
    from neurolrp.study import load_study, run_study

    out = Path(root) / f"workers-{n_workers}"
    t0, c0 = time.perf_counter(), time.process_time()
    run_study(subjects, out=out, n_workers=n_workers, threads_per_worker=1, **kw)
    wall = time.perf_counter() - t0
    client_cpu = time.process_time() - c0
    table = load_study(out).table
    return {"wall": wall, "cpu": client_cpu + float(table.cpu_seconds.sum()),
            "client_cpu": client_cpu, "table": table}


def eegbci_cost(quality):
    """Per-subject cost of the bundled S001 at run_study's defaults, in this process."""
    import torch

    from neurolrp.study import process_subject
    from neurolrp.study._inputs import check_config, resolve_dataset

    torch.set_num_threads(1)
    source = resolve_dataset("eegbci", "imagery/hands-feet", None, None, [1])
    config, _ = check_config(("shallow",), None, 5, 0, None, 80.0, None, None, quality)
    t0, c0 = time.perf_counter(), time.process_time()
    res = process_subject(source, 1, config, threads=1)
    return {"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0,
            "accuracy": res["summary"]["accuracy"], "n_trials": res["summary"]["n_trials"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subjects", type=int, default=8)
    parser.add_argument("--trials", type=int, default=60, help="trials per simulated subject")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--max-epochs", type=int, default=None,
                        help="cap on training epochs (default: the network's own)")
    parser.add_argument("--quality", action="store_true",
                        help="perturbation analysis in every subject (off by default here)")
    parser.add_argument("--skip-eegbci", action="store_true",
                        help="do not measure the eegmmidb per-subject cost")
    args = parser.parse_args()
    from neurolrp.study._inputs import cores_given

    subjects, source, config, kw = _settings(args)
    print(f"{len(subjects)} simulated subjects x {args.trials} trials, 64 channels, -1 to 4 s "
          f"at 80 Hz, {args.folds}-fold CV of ShallowNet "
          f"({'max_epochs ' + str(args.max_epochs) if args.max_epochs else 'its own training'})"
          f" beside CSP + LDA, out-of-fold LRP, subject reports "
          f"({'with' if args.quality else 'without'} perturbation); cores given: "
          f"{cores_given()}; load average at start {_load()}", flush=True)
    root = tempfile.mkdtemp(prefix="neurolrp-study-scale-")
    try:
        results = {}
        for name, run in (("plain loop", lambda: plain_loop(subjects, source, config)),
                          ("dask, 1 worker", lambda: on_dask(subjects, kw, 1, root)),
                          ("dask, 2 workers", lambda: on_dask(subjects, kw, 2, root))):
            before = _load()
            results[name] = r = run()
            print(f"{name:16s} wall {r['wall']:7.1f} s   CPU {r['cpu']:7.1f} s   "
                  f"load average before {before}, after {_load()}", flush=True)
        loop, one, two = (results[k] for k in ("plain loop", "dask, 1 worker",
                                              "dask, 2 workers"))
        print(f"\nspeed-up, 2 workers vs 1: {one['wall'] / two['wall']:.2f}x (wall); "
              f"CPU per subject {one['cpu'] / len(subjects):.1f} s (1 worker), "
              f"{two['cpu'] / len(subjects):.1f} s (2 workers)")
        print(f"overhead of scheduler + store vs the plain loop: "
              f"{100 * (one['wall'] / loop['wall'] - 1):+.1f} % wall, "
              f"{100 * (one['cpu'] / loop['cpu'] - 1):+.1f} % CPU "
              f"(client process {one['client_cpu']:.1f} s CPU)")
        print(f"plain loop per subject: {np.mean(loop['per_subject']):.1f} s "
              f"(min {min(loop['per_subject']):.1f}, max {max(loop['per_subject']):.1f})")
        t = one["table"].sort_values("subject")
        print("\npeak resident memory of the single worker after each subject (MiB), in "
              "subject order:\n  " + ", ".join(f"{k.split('-')[-1]}: {v:.0f}"
                                                for k, v in t.peak_rss_mb.items()))
        t2 = two["table"]
        print(f"2 workers: peak RSS per subject {t2.peak_rss_mb.min():.0f} to "
              f"{t2.peak_rss_mb.max():.0f} MiB; this process (plain loop and client) peaked "
              f"at {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
        print("\nper subject (2 workers): " + ", ".join(
            f"{k.split('-')[-1]} {r['accuracy_shallow']:.2f}/{r['accuracy_csp+lda']:.2f}"
            for k, r in t2.iterrows()) + "  (ShallowNet/CSP+LDA accuracy)")
        if not args.skip_eegbci:
            e = eegbci_cost(True)
            per = e["wall"]
            print(f"\neegmmidb S001 imagery/hands-feet ({e['n_trials']} trials) at run_study's "
                  f"defaults (5 folds, ShallowNet's own training, perturbation analysis): "
                  f"{per:.1f} s wall, {e['cpu']:.1f} s CPU on 1 thread (load average "
                  f"{_load()}); accuracy {e['accuracy']['shallow']['mean']:.3f} vs CSP + LDA "
                  f"{e['accuracy']['csp+lda']['mean']:.3f}")
            for n in (1, 2, 8, 32, 109):
                print(f"  109 subjects on {n:3d} workers x 1 thread: about "
                      f"{np.ceil(109 / n) * per / 60:6.1f} min (ceil(109 / {n}) x "
                      f"{per:.0f} s)")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Where ``neurolrp demo``'s time goes: wall, CPU, system time and page faults per stage.

Runs the demo (``neurolrp.cli.main(["demo", ...])``, the exact code path of the
command) in fresh subprocesses, once per variant, and prints one table with
the variants side by side. Every stage is timed with ``resource.getrusage``
(all threads of the process) around the functions the demo calls; time is
charged to the innermost stage, so the stages add up to the total. The stages
are those of the demo's own table (``neurolrp._timing``; printed at the end of
the demo and kept per task in ``summary.json``), with cross-validation split
into the networks and CSP:

- imports: Python, torch, MNE, neurolrp (before anything runs)
- loading: ``load_eegbci`` (read, filter, epoch, resample the bundled subject)
- training: ``EEGClassifier.fit`` / ``predict`` of every fold
- CSP: the rest of ``cross_validate`` (CSP + LDA per fold, bookkeeping)
- explaining: ``explain_out_of_fold`` (LRP of every trial, for every class)
- statistics: ``stats.one_sample_test`` (cluster permutation tests)
- perturbation: ``evaluation.perturbation`` (AOPC; its own explanations included
  unless the report hands them over)
- figures: every figure of the report but the slider's, and its PNG
- slider: one image per trial (figure, PNG, the report's image encoding)
- files: ``relevance.nc``, ``report.html`` (``mne.Report.save``), ``index.html``
- other: the rest (``mne.Report`` bookkeeping, summaries, tables)

Variants (``--variants``): ``tuned`` (as shipped: the command calls
``neurolrp.tune_process()`` at its start; importing neurolrp tunes nothing),
``untuned`` (``NEUROLRP_MALLOPT=0``: the allocator left alone),
``spinning`` (``NEUROLRP_THREADS=0``: thread pools' wait policies left at their
defaults), ``1thread`` (``OMP_NUM_THREADS=1``). ``--rev REV`` adds the same variants on
the code of a git revision (extracted with ``git archive`` into a temporary
folder and put first on ``PYTHONPATH``), e.g. ``--rev main`` for before/after.
Results of all variants are compared (accuracies, out-of-fold probabilities,
relevance, AOPC) and printed per variant: accuracy per task and model, AOPC of
the methods.

``--load`` measures the demo's training (5-fold cross-validation of
ShallowNet) alone and beside ``--competitors`` CPU-bound processes (default
1, pure-Python busy loops) and checks that its CPU time and page faults stay
within 2x of the idle run's.

Usage::

    python benchmarks/demo_profile.py                      # tuned vs untuned, this code
    python benchmarks/demo_profile.py --rev main --variants tuned   # before / after
    python benchmarks/demo_profile.py --load --variants    # only the shared-machine check
    python benchmarks/demo_profile.py --load --variants --load-variants tuned spinning

Numbers depend on what else runs on the machine: the script prints the load
average before and after each run; CPU times, their shares and page faults are
the robust measures, wall time is not.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAGES = ("imports", "worker start-up", "loading", "cross-validation", "training", "CSP",
          "explaining", "statistics", "perturbation", "figures", "slider", "files", "other",
          "main process")
VARIANTS = {"tuned": {}, "untuned": {"NEUROLRP_MALLOPT": "0"}, "spinning": {"NEUROLRP_THREADS": "0"},
            "1thread": {"OMP_NUM_THREADS": "1"},
            # the tasks one after the other in one process (``--jobs 1``), as before the
            # demo ran them side by side: the only variant that splits training from CSP
            # when the tasks run in processes of their own
            "serial": {"NEUROLRP_DEMO_ARGS": "--jobs 1"}}


# ----------------------------------------------------------------- in the worker
class _Clock:
    """Exclusive per-stage getrusage accounting (time goes to the innermost stage)."""

    def __init__(self, start_stage):
        self.totals = {}
        self.stack = [start_stage]
        self.last = self._now()

    @staticmethod
    def _now():
        r = resource.getrusage(resource.RUSAGE_SELF)
        return {"wall": time.perf_counter(), "user": r.ru_utime, "sys": r.ru_stime,
                "faults": r.ru_minflt}

    def _charge(self):
        now = self._now()
        acc = self.totals.setdefault(self.stack[-1], dict.fromkeys(now, 0.0))
        for k in now:
            acc[k] += now[k] - self.last[k]
        self.last = now

    def wrap(self, stage, func):
        def wrapper(*args, **kwargs):
            self._charge()
            self.stack.append(stage)
            try:
                return func(*args, **kwargs)
            finally:
                self._charge()
                self.stack.pop()
        wrapper.__wrapped__ = func
        return wrapper


def _worker_demo(out_dir):
    """Run the demo with per-stage accounting; write stages.json and results.npz."""
    t_import = time.perf_counter()
    import neurolrp  # first, as the command does: it sets the thread pools' policies
    import neurolrp.cli
    import neurolrp.datasets
    import neurolrp.decoding
    import neurolrp.evaluation
    import neurolrp.report
    from neurolrp.classifier import EEGClassifier

    clock = _Clock("imports")
    # imports: from process start (rusage counts the interpreter's start-up too)
    clock.last = {"wall": t_import, "user": 0.0, "sys": 0.0, "faults": 0}
    clock._charge()
    clock.stack = ["other"]  # whatever is not wrapped below

    import mne
    import neurolrp.stats

    ds, rp, ev, st = neurolrp.datasets, neurolrp.report, neurolrp.evaluation, neurolrp.stats
    wrapped = [(ds, "load_eegbci", "loading"), (rp, "cross_validate", "CSP"),
               (rp, "explain_out_of_fold", "explaining"), (st, "one_sample_test", "statistics"),
               (ev, "perturbation", "perturbation"), (rp, "_add_slider", "slider"),
               (rp, "save_relevance", "files"), (mne.Report, "save", "files"),
               (neurolrp.cli, "write_index", "files")]
    wrapped += [(EEGClassifier, name, "training") for name in ("fit", "predict", "predict_proba")]
    wrapped += [(rp, name, "figures") for name in (
        "plot_topomap", "plot_channel_time", "plot_class_gallery", "plot_misclassified",
        "plot_group_topomaps", "plot_group_channel_time", "plot_trial_consistency",
        "plot_perturbation", "_accuracy_figure", "_confusion_figure", "add_figure")]
    for owner, name, stage in wrapped:
        if not hasattr(owner, name):  # an older revision
            continue
        setattr(owner, name, clock.wrap(stage, getattr(owner, name)))

    import contextlib
    import io

    demo_clocks = []
    try:
        from neurolrp._timing import StageClock
    except ImportError:  # a revision before the demo timed its stages
        StageClock = None
    else:
        table = StageClock.table

        def keep_table(self):
            demo_clocks.append({k: dict(v) for k, v in self.stages.items()})
            return table(self)
        StageClock.table = keep_table

    extra = os.environ.get("NEUROLRP_DEMO_ARGS", "").split()
    with contextlib.redirect_stdout(io.StringIO()) as text:
        rc = neurolrp.cli.main(["demo", "--out", str(Path(out_dir) / "demo")] + extra)
    clock._charge()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    children_peak = children.ru_maxrss / 1024
    children = {"user": children.ru_utime, "sys": children.ru_stime,
                "faults": children.ru_minflt}
    stages = clock.totals
    if children["user"] > 1.0 and demo_clocks:
        # the tasks ran in worker processes: their own clocks, added up by the demo, and
        # what the workers spent outside them (starting: Python, torch, MNE, neurolrp)
        stages = {"imports": clock.totals["imports"]}
        stages.update(demo_clocks[-1])
        inside = {k: sum(v[k] for v in demo_clocks[-1].values()) for k in children}
        stages["worker start-up"] = {"wall": 0.0, **{k: max(0.0, children[k] - inside[k])
                                                     for k in children}}
        main_rest = {k: sum(v[k] for n, v in clock.totals.items() if n != "imports")
                     for k in ("wall", "user", "sys", "faults")}
        stages["main process"] = dict(main_rest, wall=0.0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    import numpy as np

    # results from the files the demo wrote (the tasks may have run in other processes)
    import xarray as xr

    summaries, rels = {}, []
    for f in sorted(Path(out_dir).glob("demo/*/summary.json")):
        summaries[f.parent.name] = json.loads(f.read_text())
        with xr.open_dataarray(f.parent / "relevance.nc") as r:
            rels.append(r.load())
    accuracy = [[v["mean"] for _, v in sorted(s["accuracy"].items())] for s in summaries.values()]
    aopc = [[v for _, g in sorted(s.get("aopc_most_relevant_first", {}).items())
             for _, v in sorted(g.items())] for s in summaries.values()]
    np.savez(Path(out_dir) / "results.npz",
             relevance=np.concatenate([r.values.ravel() for r in rels]),
             accuracy=np.concatenate(accuracy), aopc=np.concatenate(aopc),
             score=np.concatenate([r.score.values for r in rels]))
    tables = [{"task": task, "method": m, "granularity": g, "order": "morf", "aopc": v}
              for task, s in summaries.items()
              for m, gs in s.get("aopc_most_relevant_first", {}).items() for g, v in gs.items()]
    (Path(out_dir) / "stages.json").write_text(json.dumps(
        {"rc": rc, "stages": stages, "peak_mib": peak, "stdout": text.getvalue(),
         "wall": sum(v["wall"] for v in clock.totals.values()), "children": children,
         "threads": (f"{'x'.join(map(str, neurolrp.cli.demo_jobs(int(extra[1]) if extra else None)))}"
                     if hasattr(neurolrp.cli, "demo_jobs") else
                     f"1x{__import__('torch').get_num_threads()}"),
         "children_peak_mib": children_peak,
         "accuracy": {task: {m: v["mean"] for m, v in s["accuracy"].items()}
                      for task, s in summaries.items()},
         "aopc": tables}))


def _worker_train(out_dir):
    """The demo's training alone (5-fold CV of ShallowNet); write its rusage."""
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    import neurolrp  # first, as the command does  # isort: skip

    import mne
    from neurolrp.datasets import load_eegbci

    epochs = load_eegbci(1, "imagery/hands-feet", resample=80, verbose=False)
    r1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    with mne.utils.use_log_level("WARNING"):
        cv = neurolrp.cross_validate(epochs, models=("shallow",), baseline=False, verbose=False)
    r2, t2 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    (Path(out_dir) / "train.json").write_text(json.dumps({
        "wall": t2 - t1, "user": r2.ru_utime - r1.ru_utime, "sys": r2.ru_stime - r1.ru_stime,
        "faults": r2.ru_minflt - r1.ru_minflt, "startup_faults": r1.ru_minflt - r0.ru_minflt,
        "accuracy": cv.scores.accuracy.tolist()}))


# ------------------------------------------------------------------- in the driver
def _loadavg():
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def _run_worker(kind, env_extra, pythonpath, out_dir):
    env = dict(os.environ, **env_extra)
    env["PYTHONPATH"] = os.pathsep.join([str(pythonpath)] + (
        [env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env.setdefault("MPLBACKEND", "Agg")
    load0 = _loadavg()
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", kind,
                           str(out_dir)], env=env, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"worker {kind} failed:\n{proc.stdout}\n{proc.stderr}")
    return time.perf_counter() - t0, load0, _loadavg()


def _extract(rev, dest):
    """The package as of git revision ``rev``, in ``dest`` (for PYTHONPATH)."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "neurolrp", "datasets"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    sha = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", rev], check=True,
                         capture_output=True, text=True).stdout.strip()
    return sha


def _table(runs):
    names = list(runs)
    width = max(34, *(len(n) + 2 for n in names))
    head = f"{'stage':16s}" + "".join(f"{n:>{width}s}" for n in names)
    print("\nper stage: wall s / CPU s (user + system) [share of CPU] / system s / minor page "
          "faults\n(tasks run side by side: wall is the time each process spent in the stage, "
          "added up; the run's own wall time is the last row)")
    print(head)
    print("-" * len(head))
    keys = ("wall", "user", "sys", "faults")

    def total(st):
        return {k: sum(s[k] for s in st.values()) for k in keys}

    present = [st for st in STAGES if any(st in runs[n]["stages"] for n in names)]
    present += sorted({st for n in names for st in runs[n]["stages"]} - set(present))
    for stage in present + ["total"]:
        row = f"{stage:16s}"
        for n in names:
            st = runs[n]["stages"]
            tot = total(st)
            d = tot if stage == "total" else st.get(stage, dict.fromkeys(keys, 0.0))
            cpu = d["user"] + d["sys"]
            share = 100 * cpu / max(tot["user"] + tot["sys"], 1e-9)
            cell = (f"{d['wall']:.1f} / {cpu:.1f} [{share:.0f}%] / {d['sys']:.1f} / "
                    f"{d['faults'] / 1e3:.0f}k")
            row += f"{cell:>{width}s}"
        print(row)
    print(f"{'wall of the run':16s}" + "".join(
        f"{runs[n].get('wall', total(runs[n]['stages'])['wall']):>{width}.1f}" for n in names))
    print("-" * len(head))

    def sys_share(r):
        tot = total(r["stages"])
        return f"{100 * tot['sys'] / max(tot['user'] + tot['sys'], 1e-9):.1f} %"

    rows = [("sys / CPU", sys_share),
            ("peak RSS MiB", lambda r: f"{r['peak_mib']:.0f}" + (
                f" (workers {r['children_peak_mib']:.0f})" if r.get("children", {}).get(
                    "user", 0) > 1 else "")),
            ("procs x threads", lambda r: str(r["threads"])),
            ("load avg", lambda r: f"{r['load'][0]:.1f} -> {r['load'][1]:.1f}")]
    for label, fn in rows:
        print(f"{label:16s}" + "".join(f"{fn(runs[n]):>{width}s}" for n in names))
    # accuracy per task and model, AOPC (MoRF) per task, method and granularity
    acc = [(t, m) for t, d in next(iter(runs.values())).get("accuracy", {}).items() for m in d]
    if acc:
        print("\nmean accuracy over folds, per task and model")
    for t, m in acc:
        vals = [runs[n].get("accuracy", {}).get(t, {}).get(m, float("nan")) for n in names]
        print(f"{t + ' ' + m:24s}" + "".join(f"{v:>{width - 8}.3f}" for v in vals))
    aopc = {}
    for n in names:
        for r in runs[n].get("aopc", []):
            if r["order"] == "morf":
                aopc.setdefault((r["task"], r["method"]), {}).setdefault(n, {})[
                    r["granularity"]] = r["aopc"]
    if aopc:
        print("\nAOPC, most relevant first (patch / channel / time), per task and method")
    for (t, m), per in sorted(aopc.items()):
        cells = [" / ".join(f"{per[n].get(g, float('nan')):.2f}" for g in
                            ("patch", "channel", "time")) if n in per else "-" for n in names]
        print(f"{'task ' + str(t) + ' ' + m:24s}" + "".join(f"{c:>{width - 8}s}" for c in cells))


def _compare(results, sources):
    """Largest differences against the first run; runs of one source must agree."""
    import numpy as np

    names = list(results)
    ref = results[names[0]]
    print(f"\nResults against {names[0]} (largest absolute difference):")
    ok = True
    for n in names[1:]:
        diffs = {}
        for k in ref.files:
            a, b = ref[k], results[n][k]
            diffs[k] = float(np.max(np.abs(a - b))) if a.shape == b.shape else float("nan")
        scale = float(np.max(np.abs(ref["relevance"])))
        same = diffs["relevance"] <= 1e-3 * scale and diffs["accuracy"] == 0
        if sources[n] == sources[names[0]]:  # the same code: only the environment differs
            ok &= same
            verdict = "same" if same else "DIFFERENT"
        else:
            verdict = "same" if same else "differs (another revision)"
        print(f"  {n}: " + ", ".join(f"{k} {v:.2e}" for k, v in diffs.items()) +
              f" (relevance scale {scale:.2e}; nan: other shapes) -> {verdict}")
    return ok


def _competitor():
    """A CPU-bound process: a pure-Python busy loop until killed."""
    x = 0
    while True:
        x = (x * 1103515245 + 12345) & 0xFFFFFFFF


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", nargs="*", default=["untuned", "tuned"],
                        choices=sorted(VARIANTS), help="demo runs on this code (default: "
                        "untuned tuned)")
    parser.add_argument("--rev", action="append", default=[],
                        help="also run the variants on this git revision (repeatable)")
    parser.add_argument("--load", action="store_true",
                        help="also time the demo's training idle and beside competitors")
    parser.add_argument("--competitors", type=int, default=1,
                        help="CPU-bound processes beside the training (default: 1)")
    parser.add_argument("--load-variants", nargs="+", default=["tuned"], choices=sorted(VARIANTS),
                        help="variants of the shared-machine run (default: tuned; add "
                        "spinning for the thread pools' defaults)")
    parser.add_argument("--worker", nargs=2, metavar=("KIND", "DIR"), help=argparse.SUPPRESS)
    parser.add_argument("--competitor", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.competitor:
        return _competitor()
    if args.worker:
        kind, out_dir = args.worker
        return _worker_demo(out_dir) if kind == "demo" else _worker_train(out_dir)

    import numpy as np

    print(f"{os.cpu_count()} CPUs, {len(os.sched_getaffinity(0))} usable; load average "
          f"{' / '.join(f'{v:.2f}' for v in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="neurolrp-profile-") as tmp:
        tmp = Path(tmp)
        sources = [("", REPO)]
        for rev in args.rev:
            src = tmp / f"src-{rev.replace('/', '_')}"
            src.mkdir()
            sources.append((f"{_extract(rev, src)}:", src))
        runs, results, source_of = {}, {}, {}
        for prefix, src in sources:
            for v in args.variants:
                name = f"{prefix}{v}"
                out = tmp / name.replace(":", "_")
                out.mkdir()
                wall, l0, l1 = _run_worker("demo", VARIANTS[v], src, out)
                runs[name] = json.loads((out / "stages.json").read_text())
                runs[name]["load"] = (l0, l1)
                results[name] = np.load(out / "results.npz")
                source_of[name] = str(src)
                print(f"  ran {name}: {wall:.0f} s (load average {l0:.1f} -> {l1:.1f})",
                      flush=True)
        if runs:
            _table(runs)
            print("\nDemo output of", next(iter(runs)) + ":")
            print(next(iter(runs.values()))["stdout"].rstrip())
        ok = _compare(results, source_of) if len(results) > 1 else True

        if args.load:
            ok &= _shared_machine(tmp, args.competitors, args.load_variants)
    return 0 if ok else 1


def _shared_machine(tmp, n_competitors, env_variants):
    print(f"\nThe demo's training (5-fold CV, ShallowNet) idle and beside {n_competitors} "
          "CPU-bound process(es) (\"idle\" means without them: other jobs on the machine "
          "still run, see the load average):")
    ok = True
    for variant in env_variants:
        res = {}
        for label in ("idle", "loaded"):
            comps = []
            if label == "loaded":
                comps = [subprocess.Popen([sys.executable, str(Path(__file__).resolve()),
                                           "--competitor"]) for _ in range(n_competitors)]
                time.sleep(1.0)
            try:
                out = tmp / f"train-{variant}-{label}"
                out.mkdir()
                l0 = _loadavg()
                _run_worker("train", VARIANTS[variant], REPO, out)
                res[label] = json.loads((out / "train.json").read_text())
            finally:
                for p in comps:
                    p.kill()
                    p.wait()
            r = res[label]
            print(f"  {variant:9s} {label:7s} wall {r['wall']:6.1f} s, user {r['user']:6.1f} s, "
                  f"system {r['sys']:5.2f} s, CPU {r['user'] + r['sys']:6.1f} s, page faults "
                  f"{r['faults'] / 1e3:7.0f}k; load average {l0:.1f} -> {_loadavg():.1f}",
                  flush=True)
        cpu = [(res[k]["user"] + res[k]["sys"]) for k in ("idle", "loaded")]
        flt = [res[k]["faults"] for k in ("idle", "loaded")]
        same = res["idle"]["accuracy"] == res["loaded"]["accuracy"]
        good = cpu[1] <= 2 * cpu[0] and flt[1] <= 2 * max(flt[0], 1) and same
        print(f"  {variant:9s} loaded / idle: CPU time {cpu[1] / cpu[0]:.2f}x, page faults "
              f"{flt[1] / max(flt[0], 1):.2f}x (goal: both <= 2x); accuracies "
              f"{'identical' if same else 'DIFFER'} -> {'ok' if good else 'MISSED'}")
        if variant == "tuned":
            ok &= good
    return ok


if __name__ == "__main__":
    sys.exit(main())

"""Where ``neurolrp demo``'s time goes: wall, user, system time and page faults per stage.

Runs the demo (``neurolrp.cli.main(["demo", ...])``, the exact code path of the
command) in fresh subprocesses, once per variant, and prints one table with
the variants side by side. Every stage is timed with ``resource.getrusage``
(all threads of the process) around the functions the demo calls; time is
charged to the innermost stage, so the stages add up to the total:

- imports: Python, torch, MNE, neurolrp (before anything runs)
- loading: ``load_eegbci`` (read, filter, epoch, resample the bundled subject)
- training: ``EEGClassifier.fit`` / ``predict`` of every fold
- CSP: the rest of ``cross_validate`` (CSP + LDA per fold, bookkeeping)
- explaining: ``explain_out_of_fold`` (LRP of every trial)
- perturbation: ``evaluation.perturbation`` (including its own explanations)
- plotting: every figure and its PNG
- report: the rest (``mne.Report``, HTML, relevance file, summary)

Variants (``--variants``): ``tuned`` (as shipped: the command calls
``neurolrp.tune_process()`` at its start; importing neurolrp tunes nothing),
``untuned`` (``NEUROLRP_MALLOPT=0``: the allocator left alone),
``spinning`` (``NEUROLRP_THREADS=0``: thread pools' wait policies left at their
defaults), ``1thread`` (``OMP_NUM_THREADS=1``). ``--rev REV`` adds the same variants on
the code of a git revision (extracted with ``git archive`` into a temporary
folder and put first on ``PYTHONPATH``), e.g. ``--rev main`` for before/after.
Results of all variants are compared (accuracies, out-of-fold probabilities,
relevance, AOPC): they must agree to float round-off.

``--load`` measures the demo's training (5-fold cross-validation of
ShallowNet) alone and beside ``--competitors`` CPU-bound processes (default
1, pure-Python busy loops) and checks that its CPU time and page faults stay
within 2x of the idle run's.

Usage::

    python benchmarks/demo_profile.py                      # tuned vs untuned, this code
    python benchmarks/demo_profile.py --rev main --variants tuned
    python benchmarks/demo_profile.py --load --variants    # only the shared-machine check
    python benchmarks/demo_profile.py --load --variants --load-variants tuned spinning

Numbers depend on what else runs on the machine: the script prints the load
average before and after each run; CPU times and page faults are the robust
measures, wall time is not.
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
STAGES = ("imports", "loading", "training", "CSP", "explaining", "perturbation", "plotting",
          "report")
VARIANTS = {"tuned": {}, "untuned": {"NEUROLRP_MALLOPT": "0"}, "spinning": {"NEUROLRP_THREADS": "0"},
            "1thread": {"OMP_NUM_THREADS": "1"}}


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
    clock.stack = ["report"]  # whatever is not wrapped below is the report's

    ds, rp, ev, dec = neurolrp.datasets, neurolrp.report, neurolrp.evaluation, neurolrp.decoding
    ds.load_eegbci = clock.wrap("loading", ds.load_eegbci)
    for name in ("fit", "predict", "predict_proba"):
        setattr(EEGClassifier, name, clock.wrap("training", getattr(EEGClassifier, name)))
    rp.cross_validate = clock.wrap("CSP", rp.cross_validate)
    captured = {}

    def keep(key, func):
        def inner(*a, **k):
            captured[key] = func(*a, **k)
            return captured[key]
        return inner

    rp.cross_validate = keep("cv", rp.cross_validate)
    rp.explain_out_of_fold = clock.wrap("explaining", keep("rel", rp.explain_out_of_fold))
    ev.perturbation = clock.wrap("perturbation", keep("pert", ev.perturbation))
    for mod, name in ((rp, "plot_topomap"), (rp, "plot_channel_time"), (rp, "plot_class_gallery"),
                      (rp, "_accuracy_figure"), (rp, "_confusion_figure"), (rp, "add_figure"),
                      (rp, "plot_perturbation")):
        setattr(mod, name, clock.wrap("plotting", getattr(mod, name)))

    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()) as text:
        rc = neurolrp.cli.main(["demo", "--out", str(Path(out_dir) / "demo"), "--quiet"])
    clock._charge()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    import numpy as np

    cv, rel, pert = captured["cv"], captured["rel"], captured["pert"]
    preds = cv.predictions.sort_values(["model", "trial"])
    proba = preds[[c for c in preds.columns if c.startswith("proba_")]].to_numpy(float)
    aopc = pert.aopc.sort_values(["method", "granularity", "order"])
    np.savez(Path(out_dir) / "results.npz", relevance=rel.values, proba=proba,
             accuracy=cv.scores.sort_values(["model", "fold"]).accuracy.to_numpy(float),
             aopc=aopc.aopc.to_numpy(float), score=rel.score.values)
    (Path(out_dir) / "stages.json").write_text(json.dumps(
        {"rc": rc, "stages": clock.totals, "peak_mib": peak, "stdout": text.getvalue(),
         "threads": __import__("torch").get_num_threads()}))


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
    width = max(28, *(len(n) + 2 for n in names))
    head = f"{'stage':13s}" + "".join(f"{n:>{width}s}" for n in names)
    print("\nwall s / user s / system s / minor page faults (thousands), per stage")
    print(head)
    print("-" * len(head))
    fmt = "{wall:.1f} / {user:.1f} / {sys:.1f} / {faults:.0f}k"

    def cell(d):
        d = dict(d, faults=d["faults"] / 1e3)
        return fmt.format(**d)

    for stage in STAGES + ("total",):
        row = f"{stage:13s}"
        for n in names:
            st = runs[n]["stages"]
            if stage == "total":
                d = {k: sum(s[k] for s in st.values()) for k in ("wall", "user", "sys", "faults")}
            else:
                d = st.get(stage, {"wall": 0, "user": 0, "sys": 0, "faults": 0})
            row += f"{cell(d):>{width}s}"
        print(row)
    print("-" * len(head))
    for label, fn in (
            ("sys / CPU", lambda st: sum(s["sys"] for s in st.values()) /
             max(1e-9, sum(s["sys"] + s["user"] for s in st.values()))),
            ("peak RSS MiB", None), ("torch threads", None), ("load avg", None)):
        row = f"{label:13s}"
        for n in names:
            r = runs[n]
            if label == "sys / CPU":
                val = f"{100 * fn(r['stages']):.1f} %"
            elif label == "peak RSS MiB":
                val = f"{r['peak_mib']:.0f}"
            elif label == "torch threads":
                val = str(r["threads"])
            else:
                val = f"{r['load'][0]:.1f} -> {r['load'][1]:.1f}"
            row += f"{val:>{width}s}"
        print(row)


def _compare(results):
    import numpy as np

    names = list(results)
    ref = results[names[0]]
    print(f"\nResults against {names[0]} (largest absolute difference):")
    ok = True
    for n in names[1:]:
        diffs = {k: float(np.max(np.abs(results[n][k] - ref[k]))) for k in ref.files}
        scale = float(np.max(np.abs(ref["relevance"])))
        rel_ok = diffs["relevance"] <= 1e-3 * scale and diffs["accuracy"] == 0
        ok &= rel_ok
        print(f"  {n}: " + ", ".join(f"{k} {v:.2e}" for k, v in diffs.items()) +
              f" (relevance scale {scale:.2e}) -> {'same' if rel_ok else 'DIFFERENT'}")
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
        runs, results = {}, {}
        for prefix, src in sources:
            for v in args.variants:
                name = f"{prefix}{v}"
                out = tmp / name.replace(":", "_")
                out.mkdir()
                wall, l0, l1 = _run_worker("demo", VARIANTS[v], src, out)
                runs[name] = json.loads((out / "stages.json").read_text())
                runs[name]["load"] = (l0, l1)
                results[name] = np.load(out / "results.npz")
                print(f"  ran {name}: {wall:.0f} s (load average {l0:.1f} -> {l1:.1f})",
                      flush=True)
        if runs:
            _table(runs)
            print("\nDemo output of", next(iter(runs)) + ":")
            print(next(iter(runs.values()))["stdout"].rstrip())
        ok = _compare(results) if len(results) > 1 else True

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

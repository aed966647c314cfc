"""Where ``neurolrp.explain``'s time goes, and its cost per trial against a raw gradient.

Usage::

    python benchmarks/explain_profile.py                       # both parts, both networks
    python benchmarks/explain_profile.py --part split --models shallow
    python benchmarks/explain_profile.py --part table --batches 16 32 64 128 256
    python benchmarks/explain_profile.py --tuned                # after neurolrp.tune_process()

Data: 64 channels x 640 samples (4 s at 160 Hz), standard normal, explained by
a ShallowNet or EEGNet that an ``EEGClassifier`` fitted briefly (2 epochs) on
64 such trials, so that explain runs its whole classifier path (scaling,
classes, patterns measured at fit, the input range for z^B).

1. ``split``: one ``explain`` call (default composite, then epsilon and
   ``method="gradient"``) cut into stages by wrapping the functions it calls:
   checks and reading the data, the model copy for the engine, binding the
   composite, scaling the data, per layer the engine's forward and the
   rule's backward (the rest of the backward is autograd's own), the
   relevance's targets, packaging (the xarray container, conservation).
   "pass: forward, bookkeeping of the pass" is the method's pass minus the
   stages timed inside it (for the gradient: its whole forward); "rest" is
   what no wrapper covers: explain's own loop (the probe forward that checks
   the model takes the data, copies back to NumPy, scores, predictions).
2. ``table``: per network and batch size, one fresh process that runs, side
   by side and alternated (best of ``--reps`` rounds), a raw
   ``torch.autograd.grad`` of the same network over the same scaled trials
   at the same batch size, ``explain(method="gradient")``,
   ``explain(composite="epsilon")`` and ``explain()``: milliseconds per
   trial (wall, and user + system CPU), minor page faults per trial, and each
   one's ratio to the raw gradient. A fresh process per batch size: the
   allocator's state (glibc's dynamic mmap threshold) would otherwise carry
   over from one batch size to the next.

The allocator is left as glibc sets it (as importing neurolrp leaves it);
``--tuned`` calls :func:`neurolrp.tune_process` first, as the command line
does. Numbers depend on what else runs on the machine; ratios in one process
are the robust measure, page faults do not depend on the load.
"""

import argparse
import json
import os
import pickle
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

N_CHANNELS, N_TIMES, SFREQ = 64, 640, 160.0


def _rusage():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return time.perf_counter(), r.ru_utime + r.ru_stime, r.ru_minflt


def fit_classifiers(models, folder):
    """Fit each network briefly and pickle it; return the file names."""
    import numpy as np

    import neurolrp

    rng = np.random.default_rng(1)
    X = rng.standard_normal((64, N_CHANNELS, N_TIMES)).astype(np.float32)
    y = np.repeat(["a", "b"], 32)
    X[y == "a", 3] *= 1.5
    paths = {}
    for model in models:
        clf = neurolrp.EEGClassifier(model, sfreq=SFREQ, max_epochs=2, seed=0,
                                     verbose=False).fit(X, y)
        paths[model] = os.path.join(folder, f"{model}.pkl")
        with open(paths[model], "wb") as f:
            pickle.dump(clf, f)
    return paths


def _data(n):
    import numpy as np

    return np.random.default_rng(0).standard_normal((n, N_CHANNELS, N_TIMES), dtype=np.float32)


# ------------------------------------------------------------------------- split
class _Stages:
    """Exclusive wall-clock accounting: time goes to the innermost open stage."""

    def __init__(self):
        self.totals = defaultdict(float)
        self.stack = ["rest"]
        self.last = time.perf_counter()

    def _charge(self):
        now = time.perf_counter()
        self.totals[self.stack[-1]] += now - self.last
        self.last = now

    def enter(self, name):
        self._charge()
        self.stack.append(name)

    def leave(self):
        self._charge()
        self.stack.pop()

    def wrap(self, name, fn):
        def wrapped(*args, **kwargs):
            self.enter(name)
            try:
                return fn(*args, **kwargs)
            finally:
                self.leave()
        wrapped.__wrapped__ = fn
        return wrapped


def _instrument(stages, clf):
    """Wrap what explain calls; return a function that undoes it."""
    import neurolrp.attribution as attribution
    from neurolrp.lrp import engine

    undo = []

    def patch(obj, name, stage):
        if hasattr(obj, name):
            orig = getattr(obj, name)
            setattr(obj, name, stages.wrap(stage, orig))
            undo.append(lambda: setattr(obj, name, orig))

    for name in ("_resolve_model", "_resolve_data", "_label_names", "_check_target",
                 "check_device", "module_device", "epoch_ids"):
        patch(attribution, name, "checks and reading")
    patch(attribution, "prepare_model", "model copy for the engine")
    patch(attribution, "_target_matrix", "targets")
    patch(attribution, "make_relevance", "packaging")
    for cls in attribution.REGISTRY.values():
        if "bind" in vars(cls):
            patch(cls, "bind", "binding (composite, patterns)")
        if "finish" in vars(cls):
            patch(cls, "finish", "packaging")
        if "relevance" in vars(cls):  # what the stages inside do not take: the forward
            patch(cls, "relevance", "pass: forward, bookkeeping of the pass")
    clf.scale = stages.wrap("scaling the data", clf.scale)
    undo.append(lambda: vars(clf).pop("scale", None))

    base = engine.Hooks

    class TimedHooks(base):
        """The engine's hooks, with each layer's forward and rule timed."""

        def __init__(self, model, linear_names, composite):
            stages.enter("engine: hooks set-up")
            try:
                super().__init__(model, linear_names, composite)
                for name, m in model.named_modules():
                    if list(m.children()):
                        continue
                    label = f"engine forward: {name} ({type(m).__name__})"
                    self.handles.append(m.register_forward_pre_hook(
                        lambda mod, inp, label=label: stages.enter(label)))
                    self.handles.append(m.register_forward_hook(
                        lambda mod, inp, out: stages.leave()))
            finally:
                stages.leave()

        def _rule_hook(self, op, rule):
            label = f"engine backward: {_layer_name(op)} ({type(rule).__name__})"

            class Timed:
                def __call__(self, *args, **kwargs):
                    stages.enter(label)
                    try:
                        return rule(*args, **kwargs)
                    finally:
                        stages.leave()

            return super()._rule_hook(op, Timed())

    names = {}

    def _layer_name(op):
        return names.get(id(op.module), type(op.module).__name__)

    orig_prepare = attribution.prepare_model

    def prepare(module):
        net, linear = orig_prepare(module)
        names.update({id(net.get_submodule(n)): n for n in linear})
        return net, linear

    attribution.prepare_model = prepare
    undo.append(lambda: setattr(attribution, "prepare_model", orig_prepare))
    attribution.Hooks = TimedHooks
    undo.append(lambda: setattr(attribution, "Hooks", base))

    def autograd_grad(*args, **kwargs):
        stages.enter("engine backward: autograd's own")
        try:
            return orig_grad(*args, **kwargs)
        finally:
            stages.leave()

    import torch

    orig_grad = torch.autograd.grad
    torch.autograd.grad = autograd_grad
    undo.append(lambda: setattr(torch.autograd, "grad", orig_grad))
    return lambda: [u() for u in reversed(undo)]


def split(paths, n_trials, batch, reps):
    import neurolrp

    X = _data(n_trials)
    for model, path in paths.items():
        with open(path, "rb") as f:
            clf = pickle.load(f)
        for label, kwargs in (("default composite", {}), ("epsilon", {"composite": "epsilon"}),
                              ("method='gradient'", {"method": "gradient"})):
            neurolrp.explain(clf, X[:batch], batch_size=batch, verbose=False, **kwargs)
            best = None
            for _ in range(reps):
                stages = _Stages()
                undo = _instrument(stages, clf)
                try:
                    t0 = time.perf_counter()
                    neurolrp.explain(clf, X, batch_size=batch, verbose=False, **kwargs)
                    stages._charge()
                    total = time.perf_counter() - t0
                finally:
                    undo()
                if best is None or total < best[0]:
                    best = (total, dict(stages.totals))
            total, totals = best
            print(f"\n{model}, explain({label}), {n_trials} trials, batch {batch}: "
                  f"{total * 1e3 / n_trials:.2f} ms per trial (best of {reps})")
            for stage, t in sorted(totals.items(), key=lambda kv: -kv[1]):
                if t * 1e3 / n_trials >= 0.005:
                    print(f"  {stage:58s} {t * 1e3 / n_trials:7.3f} ms/trial "
                          f"{100 * t / total:5.1f} %")


# ------------------------------------------------------------------------- table
def table_child(cfg):
    """One network, one batch size: the four runs alternated; prints JSON."""
    import numpy as np
    import torch

    import neurolrp

    if cfg["tuned"]:
        neurolrp.tune_process()
    torch.set_num_threads(cfg["threads"])
    with open(cfg["path"], "rb") as f:
        clf = pickle.load(f)
    n, batch = cfg["n_trials"], cfg["batch"]
    X = _data(n)
    net = clf.module_.eval()

    def raw():
        Xs = clf.scale(X)
        for start in range(0, n, batch):
            x = torch.from_numpy(Xs[start:start + batch]).requires_grad_(True)
            out = net(x)
            e = torch.zeros_like(out)
            e[torch.arange(len(out)), out.argmax(1)] = 1
            torch.autograd.grad(out, x, e)

    runs = {"raw gradient": raw,
            "explain gradient": lambda: neurolrp.explain(clf, X, method="gradient",
                                                         batch_size=batch, verbose=False),
            "explain epsilon": lambda: neurolrp.explain(clf, X, composite="epsilon",
                                                        batch_size=batch, verbose=False),
            "explain default": lambda: neurolrp.explain(clf, X, batch_size=batch,
                                                        verbose=False)}
    for fn in runs.values():  # warm-up
        fn()
    rows = {k: [] for k in runs}
    for _ in range(cfg["reps"]):
        for name, fn in runs.items():
            a = _rusage()
            fn()
            b = _rusage()
            rows[name].append([(v1 - v0) / n for v0, v1 in zip(a, b)])
    out = {}
    for name, r in rows.items():
        best = min(r, key=lambda v: v[0])
        out[name] = {"wall_ms": best[0] * 1e3, "cpu_ms": best[1] * 1e3,
                     "faults": best[2], "ratios": [v[0] / w[0] for v, w in
                                                   zip(r, rows["raw gradient"])]}
    print(json.dumps(out))


def table(paths, batches, n_trials, reps, threads, tuned):
    print(f"\nCost per trial: {n_trials} trials of {N_CHANNELS} x {N_TIMES}, best of {reps} "
          f"alternated rounds, {threads} threads, allocator "
          f"{'tuned (neurolrp.tune_process)' if tuned else 'as glibc leaves it'}; x = ratio "
          "to the raw gradient (median of the per-round ratios)")
    for model, path in paths.items():
        print(f"\n{model:8s} {'batch':>5s}  " + "  ".join(
            f"{k:>31s}" for k in ("raw gradient", "explain gradient", "explain epsilon",
                                  "explain default")))
        print(f"{'':8s} {'':5s}  " + "  ".join(f"{'ms wall / cpu, faults, x':>31s}"
                                               for _ in range(4)))
        for batch in batches:
            cfg = {"path": path, "batch": batch, "n_trials": n_trials, "reps": reps,
                   "threads": threads, "tuned": tuned}
            res = subprocess.run([sys.executable, __file__, "--child", json.dumps(cfg)],
                                 capture_output=True, text=True)
            if res.returncode:
                print(res.stderr)
                raise SystemExit(res.returncode)
            r = json.loads(res.stdout.strip().splitlines()[-1])
            cells = []
            for name in ("raw gradient", "explain gradient", "explain epsilon",
                         "explain default"):
                v = r[name]
                ratios = sorted(v["ratios"])
                cells.append(f"{v['wall_ms']:6.2f} / {v['cpu_ms']:6.2f}, {v['faults']:5.0f}, "
                             f"{ratios[len(ratios) // 2]:4.2f}x")
            print(f"{model:8s} {batch:5d}  " + "  ".join(f"{c:>31s}" for c in cells),
                  flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("split", "table", "both"), default="both")
    parser.add_argument("--models", nargs="+", default=["shallow", "eegnet"])
    parser.add_argument("--batches", nargs="+", type=int, default=[16, 32, 64, 128, 256])
    parser.add_argument("--trials", type=int, default=256)
    parser.add_argument("--split-batch", type=int, default=32)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tuned", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return table_child(json.loads(args.child))
    import torch

    import neurolrp

    if args.tuned:
        neurolrp.tune_process()
    torch.set_num_threads(args.threads)
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    print(f"neurolrp {neurolrp.__version__}, torch {torch.__version__}, {args.threads} threads; "
          f"load average {load}")
    with tempfile.TemporaryDirectory() as folder:
        paths = fit_classifiers(args.models, folder)
        if args.part in ("split", "both"):
            split(paths, args.trials, args.split_batch, args.reps)
        if args.part in ("table", "both"):
            table(paths, args.batches, args.trials, args.reps, args.threads, args.tuned)
    with open("/proc/loadavg") as f:
        print(f"\nload average after: {' '.join(f.read().split()[:3])}")


if __name__ == "__main__":
    main()

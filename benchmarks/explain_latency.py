"""Latency of explaining one trial, beside predict, measured side by side in one run.

Usage: python benchmarks/explain_latency.py [--reps 300] [--channels 64] [--times 640]
       [--model shallow] [--composite NAME] [--threads N] [--trials 128] [--batch 32]

1. One trial of a fitted classifier (ShallowNet, 64 channels x 640 samples by
   default; fitted for one epoch on noise: latency does not depend on the
   weights), median and 95th percentile over ``--reps`` calls, the calls of
   all rows interleaved so that a busy machine slows them alike:

   - ``predict``: ``clf.predict`` of the trial, the reference;
   - ``raw forward+backward``: one plain input-gradient pass of the prepared
     network on the scaled trial, tensors at hand: what any backpropagation
     explanation costs at least;
   - ``raw LRP pass``: the engine's pass with the composite's hooks installed,
     tensors at hand, no checks and no container: the floor of the Explainer;
   - ``Explainer (warm)``: ``explainer(trial)`` with an Explainer made once;
     issue 23's target is at most 3x ``predict``;
   - ``explain() (cold)``: ``neurolrp.explain(clf, trial)``, which prepares
     the model on every call (every 4th repetition).

   Ratios are to ``predict``'s median.
2. End to end: ``explain`` on ``--trials`` trials at ``--batch`` trials per
   batch against a raw autograd input gradient of the same network at the
   same batch size (tensors at hand): ``method="gradient"`` through the
   classifier and on the plain network, and LRP with the composite; the
   median of the ratios of 5 alternated runs.

Timings on a shared machine move; the ratios, measured side by side, are
what to compare. ``--threads`` sets torch's threads (default: torch's own;
importing neurolrp changes nothing, see :func:`neurolrp.tune_process`).
"""

import argparse
import statistics
import time

import numpy as np
import torch

import neurolrp
from neurolrp import EEGClassifier, Explainer, explain
from neurolrp.lrp import DEFAULT_COMPOSITE, get_composite, prepare_model
from neurolrp.lrp.engine import Hooks


def _fitted(model, n_channels, n_times, sfreq=128.0):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((32, n_channels, n_times)).astype(np.float32) * 1e-5
    y = np.array(["left", "right"] * 16)
    clf = EEGClassifier(model, max_epochs=1, patience=1, sfreq=sfreq, verbose=False, seed=0)
    return clf.fit(X, y), X


def _bound_composite(clf, net, names, composite):
    """The composite with the classifier's input range and patterns, as the Explainer binds it."""
    comp = get_composite(composite)
    if comp.needs_input_bounds():
        comp = comp.with_input_bounds(*clf.input_range_)
    if comp.needs_patterns():
        comp = comp.with_patterns(clf.patterns_, [(n, net.get_submodule(n)) for n in names])
    return comp


def _single_trial(clf, x, composite, reps):
    explainer = Explainer(clf, composite=composite)
    net, names = prepare_model(clf.module_)
    hooks = Hooks(net, names, _bound_composite(clf, net, names, composite))
    plain, _ = prepare_model(clf.module_)
    xs = torch.from_numpy(clf.scale(x[None]))

    def raw_grad():
        xg = xs.clone().requires_grad_(True)
        out = plain(xg)
        e = torch.zeros_like(out)
        e[0, out.argmax()] = 1.0
        torch.autograd.grad(out, xg, grad_outputs=e)

    def raw_lrp():
        hooks.absorbed.clear()
        xg = xs.clone().requires_grad_(True)
        out = net(xg)
        e = torch.zeros_like(out)
        e[0, out.argmax()] = 1.0
        torch.autograd.grad(out, xg, grad_outputs=out.detach() * e)

    rows = {
        "predict": lambda: clf.predict(x[None]),
        "raw forward+backward": raw_grad,
        "raw LRP pass": raw_lrp,
        "Explainer (warm)": lambda: explainer(x),
        "explain() (cold)": lambda: explain(clf, x[None], composite=composite, verbose=False),
    }
    times = {k: [] for k in rows}
    for f in rows.values():  # warm-up
        f()
    names = list(rows)
    for i in range(reps):
        order = names[i % len(names):] + names[:i % len(names)]
        for name in order:
            if name == "explain() (cold)" and i % 4:
                continue
            t0 = time.perf_counter()
            rows[name]()
            times[name].append(time.perf_counter() - t0)
    hooks.remove()
    ref = np.median(times["predict"])
    print(f"{'one trial':24s} {'median ms':>10s} {'p95 ms':>8s} {'x predict':>10s} {'p95 x':>6s}")
    for name, t in times.items():
        med, p95 = np.median(t), np.percentile(t, 95)
        print(f"{name:24s} {med * 1e3:10.2f} {p95 * 1e3:8.2f} {med / ref:10.2f} "
              f"{p95 / np.percentile(times['predict'], 95):6.2f}")
    over = np.median(times["Explainer (warm)"]) - np.median(times["raw LRP pass"])
    print(f"Explainer beyond the raw LRP pass: {over * 1e3:.2f} ms "
          f"({over / ref:.2f}x predict)")


def _paired(base, other, reps=5):
    base(), other()  # warm-up
    ratios = []
    for _ in range(reps):
        t0 = time.perf_counter()
        base()
        t1 = time.perf_counter()
        other()
        t2 = time.perf_counter()
        ratios.append((t2 - t1) / (t1 - t0))
    return statistics.median(ratios), min(ratios)


def _end_to_end(clf, n_trials, batch, composite):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((n_trials, clf.n_channels_, clf.n_times_)).astype(np.float32) * 1e-5
    Xs = clf.scale(X)
    net = clf.module_
    xt = torch.from_numpy(Xs)

    def raw():
        for s in range(0, len(xt), batch):
            x = xt[s:s + batch].clone().requires_grad_(True)
            out = net(x)
            e = torch.zeros_like(out)
            e[torch.arange(len(out)), out.argmax(1)] = 1.0
            torch.autograd.grad(out, x, grad_outputs=e)

    runs = {
        "explain(clf, method='gradient')":
            lambda: explain(clf, X, "gradient", batch_size=batch, verbose=False),
        "explain(net, method='gradient')":
            lambda: explain(net, Xs, "gradient", batch_size=batch, verbose=False),
        f"explain(clf, composite={composite!r})":
            lambda: explain(clf, X, composite=composite, batch_size=batch, verbose=False),
    }
    print(f"\n{n_trials} trials at batch {batch}, against a raw input gradient "
          "(median [min] of 5 alternated runs):")
    for name, run in runs.items():
        med, low = _paired(raw, run)
        print(f"  {name:40s} {med:5.2f}x [{low:.2f}x]")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=300)
    p.add_argument("--channels", type=int, default=64)
    p.add_argument("--times", type=int, default=640)
    p.add_argument("--model", default="shallow")
    p.add_argument("--composite", default=DEFAULT_COMPOSITE, help="LRP composite")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--trials", type=int, default=128)
    p.add_argument("--batch", type=int, default=32)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"neurolrp {neurolrp.__version__}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} thread(s); {args.model}, {args.channels} channels x "
          f"{args.times} samples; composite {args.composite!r}")
    clf, X = _fitted(args.model, args.channels, args.times)
    _single_trial(clf, X[0], args.composite, args.reps)
    if args.trials:
        _end_to_end(clf, args.trials, args.batch, args.composite)


if __name__ == "__main__":
    main()

"""Speed and memory of the LRP engine, measured side by side in one run.

Usage: python benchmarks/lrp_speed.py [--batch 64] [--reps 7] [--models shallow eegnet sturm]
       [--end-to-end] [--memory]

1. Time of one LRP pass on a batch against one plain input-gradient pass
   (forward + backward to the input) on the same model and batch: the ratio.
2. Where zennit imports, zennit's time for the same model and the same rules
   (a zennit composite that mirrors ours layer by layer: first and last layers,
   pass-through element-wise layers; every composite but those with the pattern
   rule, which zennit lacks, and LRP-0), the throughput ratio and the largest
   difference of the two relevances. zennit imports torchvision, which does
   not load beside the CPU torch; zennit uses it only for torchvision's ResNet
   canonizers, so a stub package does: ``PYTHONPATH=<stub>:<zennit> python
   benchmarks/lrp_speed.py`` with ``<stub>/torchvision/models/resnet.py``
   defining empty ``Bottleneck`` and ``BasicBlock`` classes and
   ``<zennit>`` an unpacked zennit wheel (``pip download zennit --no-deps``).
   One convention differs: zennit's z^B applies its bound terms' parameter
   changes to the bias too, so the first layer's bias cancels from its
   denominator, while ours counts the bias as every rule here does; so for
   a first layer with a bias (ShallowNet) epsilon-gamma-box differs by a few
   percent. With biases ignored on both sides (``without_bias()``, zennit's
   ``zero_params="bias"``) the two agree to 3e-10.
3. End to end (``--end-to-end``): ``neurolrp.explain`` on 256 trials of 64
   channels x 640 samples with its default batch size, a plain network (so the
   patterns the default composite needs are measured on the explained data,
   as explain does), the default composite and epsilon against
   ``method="gradient"``: trials/s and the ratio, median of 3 alternated runs.
4. With --memory: peak resident memory while explaining 2,000 trials of 64
   channels x 640 samples (run in a fresh process).
"""

import argparse
import resource
import statistics
import subprocess
import sys
import time

import numpy as np
import torch

from neurolrp.lrp import DEFAULT_COMPOSITE, compute_patterns, get_composite, prepare_model
from neurolrp.lrp.engine import Hooks
from neurolrp.models import make_model


def _median_time(fn, reps):
    fn()  # warm-up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _paired_times(base, other, reps):
    """Median times of ``base`` and ``other`` run alternately, and the median of their ratios."""
    base(), other()  # warm-up
    pairs = []
    for _ in range(reps):
        t0 = time.perf_counter()
        base()
        t1 = time.perf_counter()
        other()
        t2 = time.perf_counter()
        pairs.append((t1 - t0, t2 - t1))
    return (statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs),
            statistics.median(p[1] / p[0] for p in pairs))


def gradient_pass(net, x, e):
    x = x.clone().requires_grad_(True)
    out = net(x)
    (g,) = torch.autograd.grad(out, x, grad_outputs=e)
    return g


def lrp_pass(net, names, comp, x, e):
    x = x.clone().requires_grad_(True)
    with Hooks(net, names, comp):
        out = net(x)
        (R,) = torch.autograd.grad(out, x, grad_outputs=out.detach() * e)
    return R


def zennit_composite(comp, net, names):
    """A zennit composite with our composite's rule on every layer (None: no counterpart)."""
    from zennit import rules as zr
    from zennit.core import Composite as ZennitComposite

    from neurolrp.lrp import AlphaBeta, Epsilon, Gamma, ZBox, ZPlus
    from neurolrp.lrp.layers import ELEMENTWISE_TYPES

    def counterpart(rule):
        kind = type(rule)
        if kind is Epsilon and rule.epsilon > 0:
            return zr.Epsilon(epsilon=rule.epsilon)
        if kind is Gamma:
            return zr.Gamma(gamma=rule.gamma, stabilizer=rule.epsilon)
        if kind is ZPlus:
            return zr.ZPlus(stabilizer=rule.epsilon)
        if kind is AlphaBeta:
            return zr.AlphaBeta(alpha=rule.alpha, beta=rule.beta, stabilizer=rule.epsilon)
        if kind is ZBox:
            return zr.ZBox(low=rule.low, high=rule.high, stabilizer=rule.epsilon)
        return None

    assigned = comp.assign([(n, net.get_submodule(n)) for n in names])
    rules = {name: counterpart(rule) for name, rule in assigned.items()}
    if any(r is None for r in rules.values()):
        return None

    def module_map(ctx, name, module):
        if name in rules:
            return rules[name]
        return zr.Pass() if isinstance(module, ELEMENTWISE_TYPES) else None

    return ZennitComposite(module_map=module_map)


def zennit_pass(net, composite, x, e):
    from zennit.attribution import Gradient

    with Gradient(model=net, composite=composite) as attributor:
        _, R = attributor(x, e)
    return R


def _peak_rss_mib():
    """Peak resident memory of this process so far, in MiB.

    From /proc (VmHWM) where there is one: ru_maxrss of a process started by
    another carries the parent's peak over (fork), so the benchmark would
    report the parent's memory.
    """
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_child():
    import neurolrp

    try:  # forget the peak inherited from the parent (Linux)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    net = make_model("shallow", 64, 640, 2, 160.0).eval()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2000, 64, 640), dtype=np.float32)
    before = _peak_rss_mib()
    rel = neurolrp.explain(net, X, verbose=True)  # default batch size
    peak = _peak_rss_mib()
    print(f"{rel.shape} explained; peak RSS {peak:.0f} MiB (input alone {X.nbytes / 2**20:.0f} "
          f"MiB, relevance {rel.values.nbytes / 2**20:.0f} MiB, RSS before explain "
          f"{before:.0f} MiB)")


def end_to_end(models, reps=3):
    import neurolrp

    X = np.random.default_rng(0).standard_normal((256, 64, 640), dtype=np.float32)
    print("\nEnd to end: neurolrp.explain, 256 trials x 64 channels x 640 samples, default "
          f"batch size, plain network; median of {reps} alternated runs")
    for model in models:
        net = make_model(model, 64, 640, 2, 160.0).eval()
        runs = {"gradient": dict(method="gradient"), DEFAULT_COMPOSITE: {},
                "epsilon": dict(composite="epsilon")}
        times = {k: [] for k in runs}
        for kwargs in runs.values():  # warm-up
            neurolrp.explain(net, X[:32], verbose=False, **kwargs)
        for _ in range(reps):
            for name, kwargs in runs.items():
                t0 = time.perf_counter()
                neurolrp.explain(net, X, verbose=False, **kwargs)
                times[name].append(time.perf_counter() - t0)
        t = {k: statistics.median(v) for k, v in times.items()}
        print(f"{model:8s} " + "  ".join(
            f"{k} {len(X) / v:5.0f} trials/s ({v / t['gradient']:.2f}x)" for k, v in t.items()),
            flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--models", nargs="+", default=["shallow", "eegnet", "sturm"])
    parser.add_argument("--memory", action="store_true")
    parser.add_argument("--end-to-end", action="store_true")
    parser.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        return memory_child()
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; batch {args.batch} "
          "trials of 64 channels x 321 samples (4 s at 80 Hz); median of "
          f"{args.reps} runs\n")
    try:
        import zennit  # noqa: F401
        has_zennit = True
    except Exception as err:  # noqa: BLE001 - zennit fails on torchvision import errors too
        has_zennit = False
        print(f"zennit not importable here ({type(err).__name__}); skipping that comparison\n")

    x = torch.randn(args.batch, 64, 321)
    rows = []
    for model in args.models:
        net = make_model(model, 64, 321, 2, 80.0).eval()
        e = torch.zeros(args.batch, 2)
        e[:, 0] = 1
        prepared, names = prepare_model(net)
        layers = [(n, prepared.get_submodule(n)) for n in names]
        for comp_name in dict.fromkeys(("epsilon", "zero", "epsilon-plus", "alpha2-beta1",
                                        "epsilon-gamma-box", DEFAULT_COMPOSITE)):
            # bound as explain binds it: the input's range, the patterns of the data
            comp = get_composite(comp_name).with_input_bounds(float(x.min()), float(x.max()))
            if comp.needs_patterns():
                comp = comp.with_patterns(compute_patterns(net, x), layers)
            # gradient and LRP alternate and the ratio is taken per pair: on a shared
            # machine the load drifts, and two times taken apart would drift with it
            t_grad, t_lrp, ratio = _paired_times(
                lambda: gradient_pass(prepared, x, e),
                lambda: lrp_pass(prepared, names, comp, x, e), args.reps)
            row = f"{model:8s} {comp_name:22s} gradient {t_grad * 1e3:7.1f} ms  LRP " \
                  f"{t_lrp * 1e3:7.1f} ms  LRP/gradient {ratio:4.2f}"
            zc = zennit_composite(comp, prepared, names) if has_zennit else None
            if zc is not None:
                # zennit's attributor is given the relevance to start from, as ours is
                start = prepared(x).detach() * e
                t_ours, t_z, ratio_z = _paired_times(
                    lambda: lrp_pass(prepared, names, comp, x, e),
                    lambda: zennit_pass(prepared, zc, x, start), args.reps)
                ours = lrp_pass(prepared, names, comp, x, e)
                diff = (ours - zennit_pass(prepared, zc, x, start)).abs().max().item()
                row += f"  zennit {t_z * 1e3:7.1f} ms  zennit/ours {ratio_z:4.2f}  " \
                       f"max |diff| {diff:.1e} (of max |R| {ours.abs().max().item():.1e})"
            rows.append(row)
            print(row, flush=True)
    if args.end_to_end:
        end_to_end([m for m in args.models if m != "sturm"])
    if args.memory:
        print("\nMemory: explaining 2,000 trials x 64 channels x 640 samples (ShallowNet, default "
              "composite and batch size) in a fresh process")
        subprocess.run([sys.executable, __file__, "--memory-child"], check=True)


if __name__ == "__main__":
    main()

"""Speed and memory of the LRP engine, measured side by side in one run.

Usage: python benchmarks/lrp_speed.py [--batch 64] [--reps 7] [--models shallow eegnet sturm]
       [--memory]

1. Time of one LRP pass on a batch against one plain input-gradient pass
   (forward + backward to the input) on the same model and batch: the ratio.
2. Where zennit imports (it needs torchvision; see the README), zennit's time
   for the same model and composite, and the largest difference of the two
   relevances.
3. With --memory: peak resident memory while explaining 2,000 trials of 64
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


def zennit_pass(net, comp_name, x, e):
    from zennit.attribution import Gradient
    from zennit.composites import EpsilonAlpha2Beta1, EpsilonPlus

    composite = {"epsilon-plus": EpsilonPlus, "alpha2-beta1": EpsilonAlpha2Beta1}[comp_name]()
    with Gradient(model=net, composite=composite) as attributor:
        out, R = attributor(x, e)
    return R


def memory_child():
    import neurolrp

    net = make_model("shallow", 64, 640, 2, 160.0).eval()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2000, 64, 640), dtype=np.float32)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rel = neurolrp.explain(net, X, verbose=True)  # default batch size
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{rel.shape} explained; peak RSS {peak:.0f} MiB (input alone {X.nbytes / 2**20:.0f} "
          f"MiB, relevance {rel.values.nbytes / 2**20:.0f} MiB, RSS before explain "
          f"{before:.0f} MiB)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--models", nargs="+", default=["shallow", "eegnet", "sturm"])
    parser.add_argument("--memory", action="store_true")
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
            if has_zennit and comp_name in ("epsilon-plus", "alpha2-beta1"):
                t_z = _median_time(lambda: zennit_pass(prepared, comp_name, x, e), args.reps)
                diff = (lrp_pass(prepared, names, comp, x, e)
                        - zennit_pass(prepared, comp_name, x, e)).abs().max().item()
                row += f"  zennit {t_z * 1e3:7.1f} ms  zennit/ours {t_z / t_lrp:4.2f}  " \
                       f"max |diff| {diff:.1e}"
            rows.append(row)
            print(row, flush=True)
    if args.memory:
        print("\nMemory: explaining 2,000 trials x 64 channels x 640 samples (ShallowNet, default "
              "composite and batch size) in a fresh process")
        subprocess.run([sys.executable, __file__, "--memory-child"], check=True)


if __name__ == "__main__":
    main()

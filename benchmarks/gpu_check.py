"""Check the CUDA path end to end, and print its throughput and peak memory.

Usage: python benchmarks/gpu_check.py [--device cuda] [--trials 2048] [--batch 256]

On a machine with a CUDA GPU:

1. trains a small ShallowNet on the simulator with ``device="cuda"`` (the
   network must end up on the GPU, the predictions come back as NumPy);
2. explains the trials on the GPU and, after a save/load onto the CPU, on
   the CPU, and compares the two relevances (largest difference relative to
   the largest relevance, which must stay below 1e-4 with TF32 off; the
   difference with PyTorch's TF32 default is printed for information);
3. explains with a raw ``torch.nn.Module`` already on the GPU, and with
   guided backprop through an EEGNet (ShallowNet has no ReLU-family
   activation, which guided backprop needs);
4. runs a short perturbation analysis with the GPU classifier;
5. times end-to-end ``explain`` (ShallowNet, 64 channels x 640 samples,
   default composite) at ``--batch`` trials per pass, against one
   input-gradient pass over the same trials, and prints trials/s and the
   peak GPU memory.

Without CUDA it says so and exits with status 0. A failed check exits with
status 1.
"""

import argparse
import copy
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

TOLERANCE = 1e-4


def _relative_diff(a, b):
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def _check(ok, text, failures):
    print(("ok    " if ok else "FAIL  ") + text, flush=True)
    if not ok:
        failures.append(text)


def correctness(device, failures):
    from neurolrp import EEGClassifier, explain
    from neurolrp._device import module_device
    from neurolrp.datasets import simulate_motor_imagery
    from neurolrp.evaluation import perturbation
    from neurolrp.models import make_model

    epochs, _ = simulate_motor_imagery(n_trials=80, verbose=False)
    epochs = epochs.copy().resample(80, verbose=False)
    t0 = time.perf_counter()
    clf = EEGClassifier("shallow", max_epochs=10, patience=10, device=device,
                        verbose=False).fit(epochs)
    print(f"trained on {module_device(clf.module_)} in {time.perf_counter() - t0:.1f} s; "
          f"training accuracy {clf.score(epochs):.2f}")
    _check(module_device(clf.module_).type == "cuda", "the network trained on the GPU",
           failures)
    proba = clf.predict_proba(epochs)
    _check(isinstance(proba, np.ndarray), "predict_proba returns NumPy", failures)

    with tempfile.TemporaryDirectory() as tmp:
        fname = clf.save(Path(tmp) / "gpu.pt")
        on_cpu = EEGClassifier.load(fname, device="cpu")
    _check(module_device(on_cpu.module_).type == "cpu", "a GPU-saved classifier loads on the CPU",
           failures)
    _check(np.allclose(on_cpu.predict_proba(epochs), proba, atol=1e-4),
           "the same probabilities on the CPU", failures)

    for tf32 in (False, True):
        torch.backends.cudnn.allow_tf32 = tf32
        torch.backends.cuda.matmul.allow_tf32 = tf32
        for method in ("lrp", "gradient", "integrated-gradients"):
            gpu = explain(clf, epochs[:32], method, verbose=False)
            cpu = explain(on_cpu, epochs[:32], method, verbose=False)
            diff = _relative_diff(gpu.values, cpu.values)
            text = (f"{method:22s} GPU vs CPU relevance: max |diff| / max |R| = {diff:.1e}"
                    f" (TF32 {'on' if tf32 else 'off'})")
            if tf32:
                print("info  " + text)
            else:
                _check(diff <= TOLERANCE and isinstance(gpu.values, np.ndarray), text, failures)
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False

    X = clf.scale(epochs.get_data())
    raw = explain(clf.module_, X, verbose=False)  # a plain network already on the GPU
    ref = explain(on_cpu.module_, X, verbose=False)
    _check(_relative_diff(raw.values, ref.values) <= TOLERANCE,
           "a raw torch module on the GPU explains like its CPU copy", failures)
    torch.manual_seed(0)
    eegnet = make_model("eegnet", X.shape[1], X.shape[2], 2, clf.sfreq_).eval()
    guided = explain(copy.deepcopy(eegnet).to(device), X, "guided-backprop", verbose=False)
    _check(_relative_diff(guided.values, explain(eegnet, X, "guided-backprop",
                                                 verbose=False).values) <= TOLERANCE,
           "guided backprop (EEGNet) on the GPU explains like on the CPU", failures)
    forced = explain(on_cpu, epochs[:8], device=device, verbose=False)
    _check(_relative_diff(forced.values, explain(on_cpu, epochs[:8], verbose=False).values)
           <= TOLERANCE and module_device(on_cpu.module_).type == "cpu",
           "explain(device='cuda') of a CPU classifier (the classifier is not moved)", failures)

    res = perturbation(clf, epochs[:16], methods=("lrp", "random"), granularities=("patch",),
                       n_steps=3, verbose=False)
    _check(np.isfinite(res.aopc.aopc).all(), "perturbation runs with the GPU classifier",
           failures)


def throughput(device, n_trials, batch):
    from neurolrp import explain
    from neurolrp.models import make_model

    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    net = make_model("shallow", 64, 640, 2, 160.0).eval().to(device)
    X = np.random.default_rng(0).standard_normal((n_trials, 64, 640), dtype=np.float32)
    print(f"\nShallowNet 64 x 640, {n_trials} trials, batch {batch}, "
          f"{torch.cuda.get_device_name(device)}, TF32 off")
    for method in ("gradient", "lrp"):
        explain(net, X[:batch], method, batch_size=batch, verbose=False)  # warm-up
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        t0 = time.perf_counter()
        rel = explain(net, X, method, batch_size=batch, verbose=False)
        torch.cuda.synchronize(device)
        dt = time.perf_counter() - t0
        peak = (torch.cuda.max_memory_allocated(device) - base) / 2**30
        label = "lrp (" + rel.attrs.get("composite", "") + ")" if method == "lrp" else method
        print(f"{label:32s} {n_trials / dt:8.0f} trials/s  ({dt:.2f} s end to end)  "
              f"peak GPU memory {peak:.2f} GiB")
    # batch_size=None: the batch measured from the free memory (half of it at most)
    from neurolrp._device import auto_batch_size

    chosen = auto_batch_size(device, n_trials, lambda k: explain(
        net, X[:k], batch_size=k, verbose=False))
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    free = torch.cuda.mem_get_info(device)[0]
    t0 = time.perf_counter()
    explain(net, X, verbose=False)
    torch.cuda.synchronize(device)
    dt = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated(device) / 2**30
    print(f"{'lrp, batch_size=None':32s} {n_trials / dt:8.0f} trials/s  (batch {chosen} of "
          f"{free / 2**30:.1f} GiB free; peak GPU memory {peak:.2f} GiB)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--trials", type=int, default=2048)
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print(f"No CUDA GPU visible to torch {torch.__version__} here; nothing to check. Run "
              "this on a machine with a GPU.")
        return 0
    device = torch.device(args.device)
    failures = []
    correctness(device, failures)
    throughput(device, args.trials, args.batch)
    if failures:
        print(f"\n{len(failures)} check(s) failed.")
        return 1
    print("\nAll GPU checks passed.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

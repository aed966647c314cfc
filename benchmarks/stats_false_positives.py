"""False-positive rate of neurolrp.stats' cluster tests on pure noise, and their power.

Usage: python benchmarks/stats_false_positives.py [--seeds 100] [--permutations 1000]
       [--native]

Noise: Laplace (heavy-tailed, like relevance), 64 channels of the 10-10 layout
(positions from the simulator) x 101 times (20 Hz, -1 to 4 s); one-sample test
on 20 trials, two-sample test on 20 + 20. A seed counts as a false positive
when any cluster has p < 0.05. ``--native`` also counts MNE's two-sample test
called directly with tail=0 and a t statistic (the version stats avoids).
Power: the same with the simulator's truth region (C4 for left, C3 for right,
0.5-3.5 s) raised by 0.5 noise sd in every trial of the class.
"""

import argparse
import time

import mne
import numpy as np

import neurolrp
from neurolrp import stats
from neurolrp.datasets import simulate_motor_imagery
from neurolrp.relevance import channel_positions


def relevance(truth, pos, effect, seed, n=20):
    rng = np.random.default_rng(seed)
    y = np.repeat(["left", "right"], n)
    X = rng.laplace(size=(len(y), truth.sizes["channel"], truth.sizes["time"]))
    for c in ("left", "right"):
        X[y == c] += effect * truth.sel({"class": c}).values
    return neurolrp.make_relevance(X, channels=list(truth.channel.values),
                                   times=truth.time.values, y_pred=y, target=y,
                                   score=np.ones(len(y)), y_true=y, ch_pos=pos,
                                   attrs={"method": "simulated", "sfreq": 20.0})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--permutations", type=int, default=1000)
    parser.add_argument("--native", action="store_true")
    args = parser.parse_args()
    mne.set_log_level("ERROR")
    epochs, truth = simulate_motor_imagery(n_trials=4, verbose=False)
    truth = truth.isel(time=slice(None, None, 5))
    window = truth.any(("class", "channel"))  # each class's own source region in it
    for cls, chans in zip(truth["class"].values, truth.attrs["source_channels"]):
        truth.loc[{"class": cls}] = truth.channel.isin(chans.split()) & window
    pos = channel_positions(epochs.info)
    adj = stats.channel_adjacency(relevance(truth, pos, 0.0, 0, n=2))
    sd = np.sqrt(2.0)  # of the Laplace noise
    for label, effect in (("noise", 0.0), ("effect 0.5 sd", 0.5 * sd)):
        hits = {"one-sample": 0, "two-sample": 0, "mne tail=0 (native)": 0}
        t0 = time.perf_counter()
        for s in range(args.seeds):
            rel = relevance(truth, pos, effect, 1000 + s)
            r1 = stats.one_sample_test(rel.sel(trial=rel.y_true == "left"), by=None,
                                       n_permutations=args.permutations, adjacency=adj,
                                       seed=s, verbose=False)
            r2 = stats.two_sample_test(rel, by="y_true", n_permutations=args.permutations,
                                       adjacency=adj, seed=s, verbose=False)
            hits["one-sample"] += bool(r1.mask.any())
            hits["two-sample"] += bool(r2.mask.any())
            if args.native:
                a = rel.sel(trial=rel.y_true == "left").values.transpose(0, 2, 1)
                b = rel.sel(trial=rel.y_true == "right").values.transpose(0, 2, 1)
                thr = r2.attrs["threshold"]
                _, _, p, _ = mne.stats.spatio_temporal_cluster_test(
                    [a.astype(float), b.astype(float)], threshold=thr, tail=0,
                    stat_fun=mne.stats.ttest_ind_no_p, adjacency=adj,
                    n_permutations=args.permutations, rng=s, out_type="mask")
                hits["mne tail=0 (native)"] += bool(len(p) and np.min(p) < 0.05)
        elapsed = time.perf_counter() - t0
        for k, v in hits.items():
            if k.startswith("mne") and not args.native:
                continue
            print(f"{label:14s} {k:22s} {v} of {args.seeds} seeds with a cluster p < 0.05")
        print(f"{label:14s} {elapsed / args.seeds:.2f} s per seed")


if __name__ == "__main__":
    main()

"""Explanation quality: AOPC per method and granularity, and ground truth.

Usage: python benchmarks/explanation_quality.py [--folds 5]

Real data: bundled subject 1, imagery hands vs feet (7-30 Hz, -1..4 s, 80 Hz);
simulated: 200 trials (default SNR, 7-30 Hz). ShallowNet is cross-validated and
every trial is explained and perturbed by the network that did not train on it
(noise replacement with the training statistics, up to 50 % of the units in 10
steps). AOPC (Samek et al. 2017) for most-relevant-first (MoRF, higher is
better) and least-relevant-first (LeRF, lower is better); 95 % intervals over
trials. On the simulator also the share of positive relevance inside the true
(channel, time) region and the ROC-AUC of relevance against it.
"""

import argparse
import time

import mne
import numpy as np
import pandas as pd

from neurolrp import cross_validate, explain
from neurolrp.attribution import explain_out_of_fold
from neurolrp.datasets import load_eegbci, simulate_motor_imagery
from neurolrp.evaluation import localization, perturbation

COMPOSITES = ("epsilon", "zero", "epsilon-plus", "epsilon-plus-flat", "epsilon-gamma-box",
              "alpha2-beta1")
OTHERS = ("gradient", "gradient*input", "integrated-gradients", "deconvnet", "guided-backprop",
          "random")
METHODS = tuple(f"lrp:{c}" for c in COMPOSITES) + OTHERS


def _fmt(res, order):
    df = res.aopc[res.aopc.order == order].copy()
    df["value"] = [f"{a:6.3f} [{lo:5.2f}, {hi:5.2f}]" for a, lo, hi in
                   zip(df.aopc, df.ci_low, df.ci_high)]
    tab = df.pivot(index="method", columns="granularity", values="value")
    key = df[df.granularity == "channel"].set_index("method").aopc
    return tab.loc[key.sort_values(ascending=(order == "lerf")).index,
                   ["patch", "channel", "time"]]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    mne.set_log_level("ERROR")
    data = {
        "real: S1 imagery hands/feet": (load_eegbci(1, "imagery/hands-feet", resample=80,
                                                    verbose=False), None),
    }
    sim, truth = simulate_motor_imagery(200, verbose=False)
    data["simulated: 200 trials"] = (sim.filter(7.0, 30.0, fir_design="firwin"), truth)
    for name, (epochs, truth) in data.items():
        t0 = time.perf_counter()
        cv = cross_validate(epochs, models=("shallow",), n_splits=args.folds, verbose=False)
        print(f"\n=== {name}: ShallowNet accuracy {cv.summary().loc['shallow', 'accuracy']:.3f}"
              f" (CSP+LDA {cv.summary().loc['csp+lda', 'accuracy']:.3f})", flush=True)
        res = perturbation(cv, epochs, network="shallow", methods=METHODS, verbose=False)
        print("\nAOPC, most relevant first (higher is better) [95% CI over trials]:")
        print(_fmt(res, "morf").to_string())
        print("\nAOPC, least relevant first (lower is better):")
        print(_fmt(res, "lerf").to_string())
        if truth is not None:
            rows = []
            for m in METHODS:
                method, comp = ("lrp", m.split(":")[1]) if m.startswith("lrp:") else (m, None)
                rel = explain_out_of_fold(cv, epochs, "shallow", method=method,
                                          composite=comp)
                loc = localization(rel, truth)
                rows.append({"method": m, "share_inside": loc.share_inside.mean(),
                             "auc": loc.auc.mean(), "chance_share": loc.chance.mean()})
            print("\nGround truth (simulator): positive relevance inside the true region, "
                  "and ROC-AUC of relevance vs the region:")
            print(pd.DataFrame(rows).sort_values("auc", ascending=False).round(3)
                  .to_string(index=False))
        print(f"({time.perf_counter() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()

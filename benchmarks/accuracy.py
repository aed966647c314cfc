"""Cross-validated accuracy of the networks beside CSP + LDA, measured in one run.

Usage: python benchmarks/accuracy.py [--models shallow eegnet sturm] [--seed 0]

Data: bundled subject 1 (7-30 Hz, -1..4 s around the cue, resampled to 80 Hz),
imagery hands vs feet and left vs right, 45 trials each; and the simulator
(200 trials, default SNR, 100 Hz) with the same 7-30 Hz band-pass. 5-fold
stratified CV, every model on the same folds.
"""

import argparse
import time

import mne
import pandas as pd

from neurolrp import EEGClassifier, cross_validate
from neurolrp.datasets import load_eegbci, simulate_motor_imagery


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["shallow", "eegnet", "sturm"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    mne.set_log_level("ERROR")

    datasets = {
        "S1 imagery hands/feet": load_eegbci(1, "imagery/hands-feet", resample=80, verbose=False),
        "S1 imagery left/right": load_eegbci(1, "imagery/left-right", resample=80, verbose=False),
        "simulated (200 trials)": simulate_motor_imagery(200, verbose=False)[0].filter(
            7.0, 30.0, fir_design="firwin"),
    }
    rows = []
    for name, epochs in datasets.items():
        print(f"\n== {name}: {len(epochs)} trials x {len(epochs.ch_names)} ch x "
              f"{len(epochs.times)} samples @ {epochs.info['sfreq']:g} Hz", flush=True)
        res = cross_validate(epochs, models=args.models, n_splits=5, seed=args.seed)
        summ = res.summary()
        fit = res.scores.groupby("model", sort=False)["fit_seconds"].mean()
        for model, row in summ.iterrows():
            rows.append({"data": name, "model": model, "accuracy": row["accuracy"],
                         "sd": row["sd"], "fit_s": fit[model]})

    table = pd.DataFrame(rows)
    wide = table.pivot(index="model", columns="data", values="accuracy")
    print("\nMean 5-fold accuracy (same folds for every model):")
    print(wide.round(3).to_string())
    print("\nPer model and data set (sd over folds, mean fit time per fold):")
    print(table.round(3).to_string(index=False))

    ep = datasets["S1 imagery hands/feet"]
    t0 = time.perf_counter()
    EEGClassifier("shallow", seed=args.seed, verbose=False).fit(ep)
    print(f"\nTraining the default model (shallow) on all 45 trials: "
          f"{time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()

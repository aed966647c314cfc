"""Cross-validated accuracy of the networks beside CSP + LDA and shrinkage LDA, measured in one run.

Usage: python benchmarks/accuracy.py [--models shallow eegnet sturm auto]
       [--data hands-feet left-right mi-sim readiness p300] [--seeds 0]

Data: bundled subject 1 (7-30 Hz, -1..4 s around the cue, resampled to 80 Hz),
imagery hands vs feet and left vs right, 45 trials each; the motor-imagery
simulator (200 trials, default SNR, 100 Hz) with the same 7-30 Hz band-pass;
the ERP simulator (200 trials, 28 channels, 0.5 s at 100 Hz, no filter, the
default SNR: 0.4 for the readiness potential, 1.5 for the P300, where
shrinkage LDA reaches about 0.8). 5-fold stratified CV, every model and both
baselines (CSP + LDA, shrinkage LDA on window means) on the same folds. With
several ``--seeds``, each seed draws new simulated data, folds and network
initialisations; the real data stay the same.
"""

import argparse
import time

import mne
import pandas as pd

from neurolrp import EEGClassifier, cross_validate
from neurolrp.datasets import load_eegbci, simulate_erp, simulate_motor_imagery

DATA = {
    # key: (column name, loader(seed), depends on the seed)
    "hands-feet": ("S1 imagery hands/feet (45)",
                   lambda s: load_eegbci(1, "imagery/hands-feet", resample=80, verbose=False), False),
    "left-right": ("S1 imagery left/right (45)",
                   lambda s: load_eegbci(1, "imagery/left-right", resample=80, verbose=False), False),
    "mi-sim": ("simulated MI (200)",
               lambda s: simulate_motor_imagery(200, seed=s, verbose=False)[0].filter(
                   7.0, 30.0, fir_design="firwin"), True),
    "readiness": ("simulated readiness potential (200)",
                  lambda s: simulate_erp(200, "readiness", seed=s, verbose=False)[0], True),
    "p300": ("simulated P300 (200)",
             lambda s: simulate_erp(200, "p300", seed=s, verbose=False)[0], True),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["shallow", "eegnet", "sturm"])
    parser.add_argument("--data", nargs="+", default=list(DATA), choices=list(DATA))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--seed", type=int, help="same as --seeds SEED")
    args = parser.parse_args()
    seeds = [args.seed] if args.seed is not None else args.seeds
    mne.set_log_level("ERROR")
    t_start = time.perf_counter()

    rows, walls, cache = [], [], {}
    for seed in seeds:
        for key in args.data:
            name, load, seeded = DATA[key]
            if seeded or key not in cache:
                cache[key] = load(seed)
            epochs = cache[key]
            print(f"\n== {name}, seed {seed}: {len(epochs)} trials x {len(epochs.ch_names)} ch x "
                  f"{len(epochs.times)} samples @ {epochs.info['sfreq']:g} Hz", flush=True)
            t0 = time.perf_counter()
            res = cross_validate(epochs, models=args.models, n_splits=5, seed=seed,
                                 baselines=("csp+lda", "slda"))
            walls.append({"data": name, "seed": seed, "wall_s": time.perf_counter() - t0})
            if "auto" in args.models:
                auto = res.scores[res.scores.model == "auto"]
                print(f"model='auto' chose, per fold: {', '.join(auto.network)}", flush=True)
            summ = res.summary()
            fit = res.scores.groupby("model", sort=False)["fit_seconds"].mean()
            for model, row in summ.iterrows():
                rows.append({"data": name, "seed": seed, "model": model,
                             "accuracy": row["accuracy"], "sd": row["sd"], "fit_s": fit[model]})

    table = pd.DataFrame(rows)
    order = list(dict.fromkeys(table["model"]))
    cols = [DATA[k][0] for k in args.data]
    wide = (table.groupby(["model", "data"])["accuracy"].mean().unstack("data")
            .reindex(index=order, columns=cols))
    print(f"\nMean 5-fold accuracy (same folds for every model; mean over seeds {seeds}):")
    print(wide.round(3).to_string())
    if len(seeds) > 1:
        print("\nPer seed:")
        print(table.pivot_table(index=["data", "model"], columns="seed", values="accuracy",
                                sort=False).round(3).to_string())
    print("\nPer model, data set and seed (sd over folds, mean fit time per fold):")
    print(table.round(3).to_string(index=False))
    print("\nWall time per data set and seed (s):")
    print(pd.DataFrame(walls).round(1).to_string(index=False))

    if "hands-feet" in cache:
        t0 = time.perf_counter()
        clf = EEGClassifier(seed=seeds[0], verbose=False).fit(cache["hands-feet"])
        print(f"\nTraining the default model (auto, chose {clf.model_}) on all 45 trials: "
              f"{time.perf_counter() - t0:.1f} s")
    print(f"Total: {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()

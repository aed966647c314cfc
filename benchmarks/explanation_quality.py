"""Can the explanations be trusted? Perturbation, ground truth and single trials.

Usage: python benchmarks/explanation_quality.py [--folds 5] [--quick] [--json FILE]

Everything is measured side by side in one run, out of fold: each network is
cross-validated (5-fold, the same folds for every model and CSP + LDA) and
every trial is explained and perturbed by the fold's network that did not
train on it. No setting is chosen on these folds.

1. Neutrality of the perturbation. Remove a random 10 % of the units
   (patches of 0.25 s x one channel, whole channels, 0.25 s windows) with
   each replacement and watch accuracy and the outputs' mean: a replacement
   that removes information and nothing else leaves both alone.
2. Per data set (S001 imagery hands/feet, 7-30 Hz, -1..4 s, 80 Hz; the
   simulator, 200 trials, 7-30 Hz, 100 Hz) and network (ShallowNet, EEGNet):
   AOPC (Samek et al. 2017), most relevant first, with the default
   (conditional) replacement, up to 50 % in 10 steps, per method and
   granularity with 95 % intervals over trials. Guided backprop runs only
   where every fold's network has a ReLU-family activation (EEGNet's ELUs;
   ShallowNet has none, and there it would be the plain gradient).
3. Ground truth (simulator): ROC-AUC of |relevance| against where the classes
   differ, the share of |relevance| inside (chance 0.09), and on correctly
   classified trials the share of the relevance inside that is positive.
4. Single trials against their class average (correlation, leave one out).
5. SNR sweep on the simulator: accuracy and localisation side by side.
6. The targets of issue 10, checked.
7. Event-related potentials (the ERP simulator, readiness potential and P300,
   200 trials, 28 channels, 0.5 s at 100 Hz): model="auto" beside shrinkage
   LDA, which network each fold chose, AOPC and ground truth of its
   relevance, and the lateralisation of the readiness potential's class
   averages (relevance at C3 and C4). ``--erp-only`` runs this part alone.
"""

import argparse
import json
import time

import mne
import numpy as np
import pandas as pd

from neurolrp import cross_validate
from neurolrp.attribution import explain_out_of_fold
from neurolrp.datasets import load_eegbci, simulate_erp, simulate_motor_imagery
from neurolrp.evaluation import (REPLACEMENTS, localization, neutrality, perturbation,
                                 trial_consistency)
from neurolrp.lrp import DEFAULT_COMPOSITE, RELU_FAMILY

NETWORKS = ("shallow", "eegnet")
DEFAULT = f"lrp:{DEFAULT_COMPOSITE}"
COMPOSITES = (DEFAULT_COMPOSITE, "epsilon-gamma-box", "epsilon", "epsilon-plus")
OTHERS = ("gradient", "gradient*input", "integrated-gradients", "guided-backprop", "random")
METHODS = tuple(dict.fromkeys(f"lrp:{c}" for c in COMPOSITES)) + OTHERS
#: Methods that act on ReLU-family activations only (explain refuses them elsewhere).
RELU_METHODS = ("deconvnet", "guided-backprop")
GRANS = ("patch", "channel", "time")


def _explain_all(cv, epochs, network, methods):
    rels = {}
    relu = all(any(isinstance(layer, RELU_FAMILY) for layer in est.module_.modules())
               for est in cv.estimators[network])
    for m in methods:
        if m in RELU_METHODS and not relu:
            print(f"({m} skipped for {network}: no ReLU-family activation, it would be the "
                  "plain gradient)", flush=True)
            continue
        method, comp = ("lrp", m.split(":", 1)[1]) if m.startswith("lrp:") else (m, None)
        rels[m] = explain_out_of_fold(cv, epochs, network, method=method, composite=comp)
    return rels


def _aopc_table(res, order="morf"):
    df = res.aopc[res.aopc.order == order]
    cell = {(r.method, r.granularity): f"{r.aopc:5.2f} [{r.ci_low:5.2f}, {r.ci_high:5.2f}]"
            for r in df.itertuples()}
    methods = list(dict.fromkeys(df.method))
    mean = df.groupby("method").aopc.mean()
    rows = [[m] + [cell[m, g] for g in GRANS] + [f"{mean[m]:5.2f}"] for m in methods]
    return pd.DataFrame(rows, columns=["method"] + list(GRANS) + ["mean"]).set_index("method")


def _localization_table(rels, truth):
    rows = []
    for m, rel in rels.items():
        loc = localization(rel, truth)
        ok = loc[loc.correct]
        rows.append({"method": m, "auc": loc.auc.mean(), "mass_inside": loc.mass_inside.mean(),
                     "positive_inside(correct)": ok.positive_inside.mean(),
                     "chance": loc.chance.mean()})
    return pd.DataFrame(rows).set_index("method")


def _consistency(rel):
    tc = trial_consistency(rel)
    return {"corr_topo": float(tc.corr_topo.mean()), "corr_map": float(tc.corr_map.mean()),
            "corr_topo_q10": float(tc.corr_topo.quantile(0.1)),
            "corr_topo_misclassified": float(tc[~tc.correct].corr_topo.mean())
            if "correct" in tc and (~tc.correct).any() else float("nan")}


def _paired(res):
    """Paired differences of AOPC: the default against sensitivity and random."""
    rows = []
    for other in ("gradient", "random"):
        d = res.compare(DEFAULT, other)
        rows += [{"vs": other, "granularity": r.granularity,
                  "difference": f"{r.difference:5.2f} [{r.ci_low:5.2f}, {r.ci_high:5.2f}]"}
                 for r in d.itertuples()]
    return pd.DataFrame(rows).pivot(index="vs", columns="granularity",
                                    values="difference")[list(GRANS)]


def _targets(res, loc):
    """Issue 10's AOPC and ground-truth targets for one data set and network."""
    a = res.aopc[res.aopc.order == "morf"].set_index(["method", "granularity"])
    vs_random = res.compare(DEFAULT, "random").set_index("granularity")
    out = {}
    out["above random at all 3, own CIs apart"] = all(
        a.loc[(DEFAULT, g), "ci_low"] > a.loc[("random", g), "ci_high"] for g in GRANS)
    out["above random at all 3, paired CI above 0"] = bool((vs_random.ci_low > 0).all())
    out["above sensitivity at >= 2 of 3"] = sum(
        a.loc[(DEFAULT, g), "aopc"] > a.loc[("gradient", g), "aopc"] for g in GRANS) >= 2
    mean = {m: a.loc[m].aopc.mean() for m in (DEFAULT, "gradient", "random")}
    out["LRP > sensitivity > random (mean)"] = mean[DEFAULT] > mean["gradient"] > mean["random"]
    if loc is not None:
        row = loc.loc[DEFAULT]
        out["ROC-AUC >= 0.85"] = row.auc >= 0.85
        out["mass inside >= 0.5"] = row.mass_inside >= 0.5
        out["positive inside >= 0.8 (correct)"] = row["positive_inside(correct)"] >= 0.8
    return out


def _erp_section(folds, methods):
    """model="auto" on the ERP simulator: accuracy, AOPC, ground truth, lateralisation."""
    out = {}
    for paradigm in ("readiness", "p300"):
        t0 = time.perf_counter()
        epochs, truth = simulate_erp(200, paradigm, verbose=False)
        cv = cross_validate(epochs, models=("auto",), n_splits=folds,
                            baselines=("slda", "csp+lda"), verbose=False)
        chose = list(cv.scores[cv.scores.model == "auto"].network)
        acc = cv.summary()
        print(f"\n=== ERP simulator, {paradigm}: accuracy (mean ± sd over folds); auto chose "
              f"{', '.join(chose)}\n" + acc.round(3).to_string(), flush=True)
        rels = _explain_all(cv, epochs, "auto", methods)
        res = perturbation(cv, epochs, rels, network="auto", verbose=False)
        print(f"\n--- {paradigm}, auto: AOPC most relevant first [95 % CI over trials]\n"
              + _aopc_table(res).to_string(), flush=True)
        loc = _localization_table(rels, truth)
        print(f"\nGround truth ({paradigm}, auto): |R| ROC-AUC, |R| mass inside, positive "
              "share inside on correct trials\n" + loc.round(3).to_string(), flush=True)
        e = {"accuracy": acc.round(4).to_dict(orient="index"), "chose": chose,
             "aopc": res.aopc.round(4).to_dict(orient="records"),
             "localization": loc.round(4).to_dict(orient="index")}
        if paradigm == "readiness":
            # each class's own trials explained for it, summed over the truth window
            rel = rels[DEFAULT]
            window = truth.time.values[truth.isel({"class": 0}).any("channel").values]
            lat = {}
            for cls in ("left", "right"):
                own = rel.sel(trial=(rel.y_true == cls) & rel.correct)
                own = own.sel(time=slice(window.min(), window.max())).sum("time").mean("trial")
                lat[cls] = {ch: float(own.sel(channel=ch)) for ch in ("C3", "C4")}
            print("\nLateralisation (readiness, correct trials, mean relevance summed over the "
                  "truth window; left should be largest at C4, right at C3):\n"
                  + pd.DataFrame(lat).T.to_string(float_format=lambda v: f"{v:.3f}"),
                  flush=True)
            e["lateralisation"] = lat
        out[paradigm] = e
        print(f"({time.perf_counter() - t0:.0f} s)", flush=True)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--quick", action="store_true",
                        help="fewer methods and no SNR sweep (a smoke test, minutes)")
    parser.add_argument("--json", default=None, help="also write every number to this file")
    parser.add_argument("--erp-only", action="store_true",
                        help="only the ERP simulator with model='auto' (part 7)")
    args = parser.parse_args()
    mne.set_log_level("ERROR")
    methods = (DEFAULT, "gradient", "random") if args.quick else METHODS
    t_all = time.perf_counter()
    if args.erp_only:
        out = {"erp": _erp_section(args.folds, methods)}
        print(f"\nTotal {time.perf_counter() - t_all:.0f} s")
        if args.json:
            with open(args.json, "w") as f:
                json.dump(out, f, indent=1, default=float)
        return
    sim, truth = simulate_motor_imagery(200, verbose=False)
    data = {
        "S1 hands/feet": (load_eegbci(1, "imagery/hands-feet", resample=80, verbose=False),
                          None),
        "simulator": (sim.filter(7.0, 30.0, fir_design="firwin"), truth),
    }
    out = {"methods": list(methods), "default": DEFAULT, "data": {}}
    for name, (epochs, tr) in data.items():
        t0 = time.perf_counter()
        cv = cross_validate(epochs, models=NETWORKS + ("sturm",), n_splits=args.folds,
                            verbose=False)
        acc = cv.summary()
        print(f"\n=== {name}: {len(epochs)} trials; accuracy (mean ± sd over folds)\n"
              + acc.round(3).to_string(), flush=True)
        entry = {"accuracy": acc.round(4).to_dict(orient="index")}
        neut = pd.concat([neutrality(cv, epochs, network="shallow", granularity=g, n_repeats=3)
                          for g in GRANS])
        print("\nNeutrality (ShallowNet, 10 % removed at random; score_shift in sd of the "
              "outputs, 0 = neutral):\n" + neut.round(3).to_string(index=False), flush=True)
        entry["neutrality"] = neut.round(4).to_dict(orient="records")
        for net in NETWORKS:
            rels = _explain_all(cv, epochs, net, methods)
            res = perturbation(cv, epochs, rels, network=net, verbose=False)
            print(f"\n--- {name}, {net}: AOPC most relevant first (higher is better) "
                  "[95 % CI over trials]\n" + _aopc_table(res).to_string(), flush=True)
            print(f"\nPaired AOPC differences ({DEFAULT} minus ...), same trials:\n"
                  + _paired(res).to_string(), flush=True)
            e = {"aopc": res.aopc.round(4).to_dict(orient="records"),
                 "paired": {o: res.compare(DEFAULT, o).round(4).to_dict(orient="records")
                            for o in ("gradient", "random")}}
            loc = None
            if tr is not None:
                loc = _localization_table(rels, tr)
                print(f"\nGround truth ({net}): |R| ROC-AUC, |R| mass inside, positive share "
                      "inside on correct trials\n" + loc.round(3).to_string(), flush=True)
                e["localization"] = loc.round(4).to_dict(orient="index")
            e["consistency"] = _consistency(rels[DEFAULT])
            print(f"\nSingle trials vs class average ({net}, {DEFAULT}): " + ", ".join(
                f"{k} {v:.2f}" for k, v in e["consistency"].items()), flush=True)
            e["targets"] = _targets(res, loc)
            entry[net] = e
            if net == "shallow" and not args.quick:
                rows = []
                for rep in REPLACEMENTS:
                    r = perturbation(cv, epochs, {m: rels[m] for m in (DEFAULT, "gradient",
                                                                        "random")},
                                     network=net, replacement=rep, verbose=False)
                    t = r.table()
                    rows += [{"replacement": rep, "method": m,
                              **{g: round(float(t.loc[m, g]), 3) for g in GRANS}}
                             for m in t.index]
                reps = pd.DataFrame(rows)
                print("\nAOPC (MoRF) of the same relevance under each replacement:\n"
                      + reps.to_string(index=False), flush=True)
                e["aopc_by_replacement"] = reps.to_dict(orient="records")
        if tr is not None:
            rel_s = explain_out_of_fold(cv, epochs, "sturm")
            loc_s = localization(rel_s, tr)
            entry["sturm_localization"] = {"auc": float(loc_s.auc.mean()),
                                           "mass_inside": float(loc_s.mass_inside.mean())}
        out["data"][name] = entry
        print(f"({time.perf_counter() - t0:.0f} s)", flush=True)

    if not args.quick:
        rows = []
        for snr in (0.5, 1.0, 3.0, 6.0):
            ep, tr = simulate_motor_imagery(200, snr=snr, verbose=False)
            ep = ep.filter(7.0, 30.0, fir_design="firwin")
            cv = cross_validate(ep, models=NETWORKS, n_splits=args.folds, verbose=False)
            acc = cv.summary().accuracy
            row = {"snr": snr, "csp+lda": acc["csp+lda"]}
            for net in NETWORKS:
                loc = localization(explain_out_of_fold(cv, ep, net), tr)
                ok = loc[loc.correct]
                row.update({f"{net} acc": acc[net], f"{net} auc": loc.auc.mean(),
                            f"{net} mass": loc.mass_inside.mean(),
                            f"{net} pos": ok.positive_inside.mean()})
            rows.append(row)
            print(f"  SNR {snr}: done", flush=True)
        sweep = pd.DataFrame(rows)
        print("\nSNR sweep (simulator, default composite): accuracy and localisation\n"
              + sweep.round(3).to_string(index=False), flush=True)
        out["snr_sweep"] = sweep.round(4).to_dict(orient="records")

    real, simd = out["data"]["S1 hands/feet"], out["data"]["simulator"]
    csp_real = real["accuracy"]["csp+lda"]["accuracy"]
    targets = {f"{d}, {net}: {k}": bool(v) for d, e in out["data"].items()
               for net in NETWORKS for k, v in e[net]["targets"].items()}
    targets["SturmDNN within 0.05 of CSP + LDA on S1 hands/feet"] = bool(
        real["accuracy"]["sturm"]["accuracy"] >= csp_real - 0.05)
    targets["SturmDNN >= 0.85 on the simulator"] = bool(
        simd["accuracy"]["sturm"]["accuracy"] >= 0.85)
    out["erp"] = _erp_section(args.folds, methods)
    out["targets"] = targets
    print("\nTargets (issue 10):")
    for k, v in targets.items():
        print(f"  [{'x' if v else ' '}] {k}")
    print(f"\nTotal {time.perf_counter() - t_all:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1, default=float)


if __name__ == "__main__":
    main()

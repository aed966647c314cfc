"""Slow potentials explained: the deep map beside the linear anchor, and the default network.

Usage: python benchmarks/erp_explanations.py [--folds 5] [--seed 0] [--quick] [--no-mi]
       [--no-aopc] [--no-timing] [--only-default] [--erp readiness:0.4 p300:1.5]
       [--json FILE]

Everything is measured side by side in one run, out of fold (5-fold CV, the
same folds for every model and both baselines; each trial explained by the
fold's network that did not train on it). Nothing is chosen on these folds.

Data: the ERP simulator (200 trials, 28 channels, 0.5 s at 100 Hz, no filter),
readiness potential at SNR 0.4 and 1.0, P300 at SNR 1.5 and 3.0; the
motor-imagery simulator (200 trials, 7-30 Hz, SNR 3); S001 imagery hands/feet
(45 trials, 7-30 Hz, 80 Hz) for perturbation (AOPC).

1. Accuracy: ``EEGClassifier()`` (model="auto", the default) beside ShallowNet,
   EEGNet, shrinkage LDA (sLDA) and CSP + LDA on the same folds, what auto
   chose per fold and its test (inner sLDA accuracy and p-value).
2. Ground truth, the network auto chose explained with its default composite
   as resolved (``neurolrp.lrp.default_composite``), beside the old default
   (epsilon-pattern-box), the gradient, the linear anchor (sLDA w*x and
   sLDA pattern, ``neurolrp.decoding.linear_relevance``) and random:
   per-trial ROC-AUC of |R| against the truth, the share of |R| inside and
   its chance level. On motor imagery both networks, before and after.
3. Layer by layer (EEGNet on both ERP paradigms): the old default, then one
   layer's rule changed at a time until the waveform composite, with the
   ROC-AUC split into where (electrodes: |R| summed over time) and when
   (samples: |R| summed over electrodes).
4. Perturbation on S001 hands/feet, EEGNet: AOPC of the old and the new
   default against sensitivity and random, paired differences.
5. Cost of model="auto": fits of auto and of the network it chose,
   interleaved, on one ERP and one motor-imagery data set.
6. Issue 21's table (ours = ``EEGClassifier()`` explained by ``explain`` with
   its default composite, gradient, sLDA w*x, sLDA pattern, random; the ERP
   paradigms with motor imagery beside; accuracy of the default network vs
   sLDA on the same folds; mass inside vs chance) and its targets, checked.

``--only-default`` cross-validates the default network alone (beside the
baselines): what the table needs, without the per-network and layer-by-layer
sections (a fraction of the time on a CPU).
"""

import argparse
import json
import time

import mne
import numpy as np
import pandas as pd
import xarray as xr
from sklearn.metrics import roc_auc_score

from neurolrp import EEGClassifier, cross_validate, explain
from neurolrp.datasets import load_eegbci, simulate_erp, simulate_motor_imagery
from neurolrp.attribution import explain_out_of_fold
from neurolrp.decoding import linear_relevance_out_of_fold
from neurolrp.evaluation import localization, perturbation
from neurolrp.lrp import (DEFAULT_COMPOSITE, WAVEFORM_COMPOSITE, Composite, Epsilon, Flat,
                          Gamma, Pattern, PatternEnergy, ZBox, default_composite, get_composite)
from neurolrp.lrp.composites import CONV, DENSE, POOL

NETWORKS = ("shallow", "eegnet")
ERP_DATA = (("readiness", 0.4), ("readiness", 1.0), ("p300", 1.5), ("p300", 3.0))


def _steps():
    """The old default, then one layer's rule changed at a time, ending at the new one."""
    def comp(name, first, spatial, pointwise=None, pool=None):
        return Composite({CONV: Gamma(0.25), DENSE: Epsilon(), POOL: pool or Epsilon()},
                         first=first, last=Epsilon(), name=name, spatial=spatial,
                         pointwise=pointwise)
    return {
        "old default (z^B input, Pattern spatial)": get_composite(DEFAULT_COMPOSITE),
        "+ Pattern on the temporal conv": comp("s1", Pattern(), Pattern()),
        "+ PatternEnergy on the spatial conv": comp("s2", Pattern(), PatternEnergy()),
        "+ PatternEnergy on the pointwise conv": comp("s3", Pattern(), PatternEnergy(),
                                                      PatternEnergy()),
        "+ flat pooling": comp("s4", Pattern(), PatternEnergy(), PatternEnergy(), Flat()),
        "+ between-class pattern on the spatial conv (= epsilon-energy-pattern)":
            get_composite(WAVEFORM_COMPOSITE),
        "new spatial rules, z^B input kept": comp("s5", ZBox(), PatternEnergy(signal="between"),
                                                  PatternEnergy(), Flat()),
    }


def _oof(cv, epochs, network, composite=None, method="lrp"):
    """Out-of-fold relevance; ``composite`` may be a function of the fold's classifier."""
    parts = []
    for est, (_, test) in zip(cv.estimators[network], cv.folds):
        kw = {"method": method}
        if method == "lrp":
            kw["composite"] = composite(est) if callable(composite) else composite
        parts.append(explain(est, epochs[test], verbose=False, **kw))
    rel = xr.concat(parts, "trial", combine_attrs="override")
    order = np.argsort(np.concatenate([test for _, test in cv.folds]), kind="stable")
    return rel.isel(trial=order)


def _where_when(rel, truth):
    """ROC-AUC of |R| per trial: full map, electrodes (summed over time), samples."""
    m = truth.isel({"class": 0}).sel(channel=[str(c) for c in rel.channel.values]).values
    A = np.abs(rel.values.astype(np.float64))
    return (np.mean([roc_auc_score(m.any(1), a.sum(1)) for a in A]),
            np.mean([roc_auc_score(m.any(0), a.sum(0)) for a in A]))


def _ceiling(truth):
    """ROC-AUC and mass inside of the best graded map: the noise-free class difference.

    The truth is a product of a channel and a time mask cut at half the peak,
    and a map that follows the potential's size has mass below half its peak
    too: this is what a perfect explanation of a graded signal reaches.
    """
    a = truth.attrs
    epochs, _ = simulate_erp(2000, a["paradigm"], 1e4, blink_rate=0.0, seed=a["seed"],
                             verbose=False)
    X, y = epochs.get_data(), epochs.events[:, 2]
    diff = np.abs(X[y == y.min()].mean(0) - X[y == y.max()].mean(0))
    m = truth.isel({"class": 0}).values
    return {"auc": roc_auc_score(m.ravel(), diff.ravel()),
            "mass_inside": diff[m].sum() / diff.sum(), "chance": m.mean(),
            "auc_electrodes": roc_auc_score(m.any(1), diff.sum(1)),
            "auc_samples": roc_auc_score(m.any(0), diff.sum(0))}


def _loc_row(rel, truth):
    loc = localization(rel, truth)
    ok = loc[loc.correct] if "correct" in loc else loc
    return {"auc": loc.auc.mean(), "mass_inside": loc.mass_inside.mean(),
            "chance": loc.chance.mean(), "positive_inside(correct)": ok.positive_inside.mean()}


def _accuracy(cv):
    summ = cv.summary()
    auto = cv.scores[cv.scores.model == "auto"]
    sel = [e.model_selection_ for e in cv.estimators["auto"]]
    return summ, {"chose": list(auto.network),
                  "inner_slda": [round(s["slda_accuracy"], 3) for s in sel],
                  "p_value": [float(f"{s['p_value']:.2g}") for s in sel]}


OURS = "ours: EEGClassifier() explained by default"


def _data_section(name, epochs, truth, folds, seed, quick, networks_both, only_default=False):
    t0 = time.perf_counter()
    models = ("auto",) if only_default else ("auto",) + NETWORKS
    cv = cross_validate(epochs, models=models, n_splits=folds, seed=seed,
                        baselines=("slda", "csp+lda"), verbose=False)
    summ, chose = _accuracy(cv)
    print(f"\n=== {name}: accuracy (mean ± sd over folds); auto chose "
          f"{', '.join(chose['chose'])}; inner sLDA {chose['inner_slda']}, p {chose['p_value']}\n"
          + summ.round(3).to_string(), flush=True)
    rows, out = [], {"accuracy": summ.round(4).to_dict(orient="index"), "auto": chose}
    rels = {}
    # the path a user takes: explain's own default (composite=None), out of fold
    rels[OURS] = explain_out_of_fold(cv, epochs, "auto")
    resolved = [default_composite(e) for e in cv.estimators["auto"]]
    recorded = rels[OURS].attrs["composite"]
    assert recorded in (resolved[0], json.dumps(resolved)), (recorded, resolved)
    rels["old default (epsilon-pattern-box)"] = _oof(cv, epochs, "auto", DEFAULT_COMPOSITE)
    rels["gradient"] = _oof(cv, epochs, "auto", method="gradient")
    rels["sLDA w*x"] = linear_relevance_out_of_fold(cv, epochs, "w*x")
    rels["sLDA pattern"] = linear_relevance_out_of_fold(cv, epochs, "pattern")
    rels["random"] = _oof(cv, epochs, "auto", method="random")
    if networks_both and not only_default:  # before and after for each network
        for net in NETWORKS:
            rels[f"{net}: new default"] = _oof(cv, epochs, net, default_composite)
            rels[f"{net}: old default"] = _oof(cv, epochs, net, DEFAULT_COMPOSITE)
    erp = truth.attrs.get("paradigm") in ("readiness", "p300")
    for method, rel in rels.items():
        row = {"method": method, **_loc_row(rel, truth)}
        if erp:  # where (electrodes) and when (samples) the map finds the truth
            row["auc_electrodes"], row["auc_samples"] = _where_when(rel, truth)
        rows.append(row)
    if erp:
        rows.append({"method": "ceiling: |expected class difference|", **_ceiling(truth)})
    loc = pd.DataFrame(rows).set_index("method")
    resolved = sorted(set(resolved))
    print(f"\nGround truth ({name}; ours = {', '.join(resolved)}): per-trial ROC-AUC of |R|, "
          "share of |R| inside the truth (chance), positive share inside on correct trials\n"
          + loc.round(3).to_string(), flush=True)
    out["localization"] = loc.round(4).to_dict(orient="index")
    out["composite"] = resolved
    if not quick and not only_default and truth.attrs.get("paradigm") in (
            "readiness", "p300"):
        rows = []
        for step, comp in _steps().items():
            rel = _oof(cv, epochs, "eegnet", comp)
            where, when = _where_when(rel, truth)
            rows.append({"EEGNet composite": step, **_loc_row(rel, truth),
                         "auc_electrodes": where, "auc_samples": when})
        steps = pd.DataFrame(rows).set_index("EEGNet composite").drop(
            columns="positive_inside(correct)")
        print(f"\nLayer by layer ({name}, EEGNet): ROC-AUC of the map, of its electrodes "
              "(|R| summed over time) and of its samples (summed over electrodes)\n"
              + steps.round(3).to_string(), flush=True)
        out["layer_by_layer"] = steps.round(4).to_dict(orient="index")
    print(f"({time.perf_counter() - t0:.0f} s)", flush=True)
    return out, cv


def _aopc_section(folds, seed):
    epochs = load_eegbci(1, "imagery/hands-feet", resample=80, verbose=False)
    cv = cross_validate(epochs, models=("eegnet",), n_splits=folds, seed=seed, baselines=(),
                        verbose=False)
    rels = {"lrp:new": _oof(cv, epochs, "eegnet", WAVEFORM_COMPOSITE),
            "lrp:old": _oof(cv, epochs, "eegnet", DEFAULT_COMPOSITE),
            "gradient": _oof(cv, epochs, "eegnet", method="gradient"),
            "random": _oof(cv, epochs, "eegnet", method="random")}
    res = perturbation(cv, epochs, rels, network="eegnet", verbose=False)
    table = res.table()
    print("\n=== S001 hands/feet, EEGNet (accuracy "
          f"{cv.summary().accuracy['eegnet']:.3f}): AOPC most relevant first "
          "(patch / channel / time)\n" + table.round(3).to_string(), flush=True)
    paired = {}
    for a, b in (("lrp:new", "gradient"), ("lrp:old", "gradient"), ("lrp:new", "random"),
                 ("lrp:new", "lrp:old")):
        d = res.compare(a, b)
        paired[f"{a} - {b}"] = {r.granularity: f"{r.difference:5.2f} [{r.ci_low:5.2f}, "
                                f"{r.ci_high:5.2f}]" for r in d.itertuples()}
    print("\nPaired AOPC differences [95 % CI], same trials:\n"
          + pd.DataFrame(paired).T.to_string(), flush=True)
    return {"aopc": table.round(4).to_dict(orient="index"), "paired": paired}


def _timing(seed, reps=3):
    """Fit auto and the network it chose, interleaved; median ratio."""
    data = {"readiness (200 trials)": simulate_erp(200, "readiness", seed=seed,
                                                   verbose=False)[0],
            "S001 hands/feet (45 trials)": load_eegbci(1, "imagery/hands-feet", resample=80,
                                                       verbose=False)}
    rows = []
    for name, epochs in data.items():
        times = {"auto": [], "chosen": []}
        chosen = EEGClassifier(seed=seed, verbose=False).fit(epochs).model_
        for _ in range(reps):
            for key, model in (("auto", "auto"), ("chosen", chosen)):
                t0 = time.perf_counter()
                EEGClassifier(model, seed=seed, verbose=False).fit(epochs)
                times[key].append(time.perf_counter() - t0)
        ratios = np.array(times["auto"]) / np.array(times["chosen"])
        rows.append({"data": name, "chose": chosen, "auto_s": np.median(times["auto"]),
                     "one_training_s": np.median(times["chosen"]),
                     "ratio (median of pairs)": np.median(ratios)})
    table = pd.DataFrame(rows).set_index("data")
    print("\n=== Cost of model='auto' (the test, then one training) against training the "
          f"chosen network, interleaved, {reps} pairs:\n" + table.round(2).to_string(),
          flush=True)
    return table.round(3).to_dict(orient="index")


#: The rows of issue 21's table, in its order.
TABLE_ROWS = ((OURS, "ours (default network, default composite)"), ("gradient", "gradient"),
              ("sLDA w*x", "sLDA w*x"), ("sLDA pattern", "sLDA pattern"), ("random", "random"),
              ("ceiling: |expected class difference|", "ceiling: noise-free class difference"))


def _issue_table(data):
    """One table: methods x data sets (ERP paradigms, motor imagery beside)."""
    cols = {}
    for key, e in data.items():
        loc, acc = e["localization"], e["accuracy"]
        col = {label: (f"{loc[m]['auc']:.3f}  {loc[m]['mass_inside']:.2f}/{loc[m]['chance']:.2f}"
                       if m in loc else "-") for m, label in TABLE_ROWS}
        chose = sorted(set(e["auto"]["chose"]))
        col["accuracy: default network"] = (f"{acc['auto']['accuracy']:.3f}  "
                                            f"({'/'.join(chose)})")
        col["accuracy: sLDA"] = f"{acc['slda']['accuracy']:.3f}"
        col["accuracy: CSP+LDA"] = f"{acc['csp+lda']['accuracy']:.3f}"
        col["composite (resolved)"] = ", ".join(e["composite"])
        cols[key] = col
    table = pd.DataFrame(cols)
    print("\n=== Issue 21: per-trial ROC-AUC of |R| against the truth, then the share of |R| "
          "inside the truth / its chance level (out of fold, same folds and trials for every "
          "row); accuracy of the default network (the networks it chose) and of sLDA on the "
          "same folds\n" + table.to_string(), flush=True)
    return table


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true",
                        help="default SNRs only, no layer-by-layer table")
    parser.add_argument("--no-mi", action="store_true", help="skip the motor-imagery simulator")
    parser.add_argument("--no-aopc", action="store_true", help="skip S001 perturbation")
    parser.add_argument("--no-timing", action="store_true", help="skip the cost of auto")
    parser.add_argument("--only-default", action="store_true",
                        help="cross-validate only the default network (and the baselines)")
    parser.add_argument("--erp", nargs="+", default=None, metavar="PARADIGM:SNR",
                        help="ERP data sets, e.g. readiness:0.4 p300:1.5 (default: all four, "
                             "or the first of each paradigm with --quick)")
    parser.add_argument("--json", default=None, help="also write every number to this file")
    args = parser.parse_args()
    mne.set_log_level("ERROR")
    t_all = time.perf_counter()
    out = {"data": {}}
    erp = ERP_DATA[::2] if args.quick else ERP_DATA
    if args.erp:
        erp = [(p, float(snr)) for p, snr in (e.split(":") for e in args.erp)]
    for paradigm, snr in erp:
        epochs, truth = simulate_erp(200, paradigm, snr, seed=args.seed, verbose=False)
        out["data"][f"{paradigm} SNR {snr:g}"], _ = _data_section(
            f"{paradigm}, SNR {snr:g}", epochs, truth, args.folds, args.seed, args.quick, False,
            args.only_default)
    if not args.no_mi:
        sim, truth = simulate_motor_imagery(200, seed=args.seed, verbose=False)
        sim = sim.filter(7.0, 30.0, fir_design="firwin", verbose=False)
        out["data"]["MI simulator"], _ = _data_section(
            "motor-imagery simulator", sim, truth, args.folds, args.seed, args.quick, True,
            args.only_default)
    if not args.no_aopc:
        out["aopc_s001_eegnet"] = _aopc_section(args.folds, args.seed)
    if not args.no_timing:
        out["timing"] = _timing(args.seed)

    ours = OURS
    _issue_table(out["data"])
    targets = {}
    for key, e in out["data"].items():
        loc, acc = e["localization"], e["accuracy"]
        if key.startswith("MI"):
            for net in (NETWORKS if "shallow: new default" in loc else ()):
                new, old = loc[f"{net}: new default"]["auc"], loc[f"{net}: old default"]["auc"]
                targets[f"{key}, {net}: ROC-AUC not below the old default ({new:.3f} vs "
                        f"{old:.3f})"] = new >= old - 0.005
            if "shallow" in acc:
                targets[f"{key}: auto not below ShallowNet ({acc['auto']['accuracy']:.3f} vs "
                        f"{acc['shallow']['accuracy']:.3f})"] = (acc["auto"]["accuracy"]
                                                                 >= acc["shallow"]["accuracy"])
            continue
        auc, wx = loc[ours]["auc"], loc["sLDA w*x"]["auc"]
        mass, chance = loc[ours]["mass_inside"], loc[ours]["chance"]
        targets[f"{key}: ROC-AUC >= 0.85 ({auc:.3f})"] = auc >= 0.85
        targets[f"{key}: ROC-AUC >= sLDA w*x ({auc:.3f} vs {wx:.3f})"] = auc >= wx
        ceil = loc.get("ceiling: |expected class difference|", {}).get("mass_inside")
        targets[f"{key}: mass inside >= 3x chance ({mass:.3f} vs 3 x {chance:.3f}"
                + (f"; the noise-free class difference itself: {ceil:.3f}" if ceil else "")
                + ")"] = mass >= 3 * chance
        a, s = acc["auto"]["accuracy"], acc["slda"]["accuracy"]
        targets[f"{key}: default network >= sLDA - 0.03 ({a:.3f} vs {s:.3f})"] = a >= s - 0.03
    if "timing" in out:
        for k, v in out["timing"].items():
            r = v["ratio (median of pairs)"]
            targets[f"auto costs <= 2.5x one training, {k} ({r:.2f}x)"] = r <= 2.5
    out["targets"] = {k: bool(v) for k, v in targets.items()}
    print("\nTargets (issue 21):")
    for k, v in targets.items():
        print(f"  [{'x' if v else ' '}] {k}")
    print(f"\nTotal {time.perf_counter() - t_all:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1, default=float)


if __name__ == "__main__":
    main()

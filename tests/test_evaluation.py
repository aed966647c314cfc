"""Explanation quality: perturbation, ground truth, context use, comparisons."""

import subprocess
import sys

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import neurolrp
from neurolrp.datasets import simulate_motor_imagery
from neurolrp import evaluation
from neurolrp.evaluation import (compare_classifiers, context_use, localization,
                                 neutrality, perturbation, trial_consistency)
from neurolrp.viz import plot_compare_classifiers, plot_perturbation


def test_evaluation_imports_no_plotting():
    """evaluation computes only: importing it does not load pyplot."""
    code = ("import sys, neurolrp.evaluation; "
            "print('matplotlib.pyplot' in sys.modules, neurolrp.evaluation.__file__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[1] == evaluation.__file__
    assert out[0] == "False"


def test_perturbation_curves_and_aopc(fitted_shallow, hands_feet_small):
    ep = hands_feet_small[:12]
    rels = {m: neurolrp.explain(fitted_shallow, ep, method=m, verbose=False)
            for m in ("lrp", "random")}
    res = perturbation(fitted_shallow, ep, rels, n_steps=4, verbose=False)
    assert set(res.aopc.granularity) == {"patch", "channel", "time"}
    assert set(res.aopc.order) == {"morf", "lerf"}
    c = res.curves
    assert (c[c.step == 0]["drop"] == 0).all()  # nothing removed, nothing dropped
    assert c.fraction.max() == pytest.approx(0.5, abs=0.05)
    # AOPC is the mean of the curve over its steps
    for (m, g, o), d in c.groupby(["method", "granularity", "order"]):
        a = res.aopc.set_index(["method", "granularity", "order"]).loc[(m, g, o)]
        assert a.aopc == pytest.approx(d["drop"].mean(), rel=1e-6)
        assert a.ci_low <= a.aopc <= a.ci_high and a.n_trials == 12
    # the most relevant channels first hurt the explained score more than the least
    tab = res.aopc.set_index(["method", "granularity", "order"]).aopc
    assert tab["lrp", "channel", "morf"] > tab["lrp", "channel", "lerf"]
    assert res.table().shape == (2, 3)
    fig = plot_perturbation(res)
    assert len(fig.axes) == 3
    # the figures live in neurolrp.viz only (the 0.1 shims in evaluation are gone)
    assert not hasattr(evaluation, "plot_perturbation")
    plt.close("all")
    with pytest.raises(ValueError, match="replacement"):
        perturbation(fitted_shallow, ep, rels, replacement="zeros")
    with pytest.raises(ValueError, match="granularity"):
        perturbation(fitted_shallow, ep, rels, granularities=("pixel",))


def test_perturbation_removes_exactly_the_ranked_units(fitted_shallow, hands_feet_small):
    """With 'mean' replacement, removing a channel equals zeroing it by hand."""
    ep = hands_feet_small[:3]
    X = fitted_shallow.scale(ep.get_data())
    rel = neurolrp.explain(fitted_shallow, ep, verbose=False)
    res = perturbation(fitted_shallow, ep, {"lrp": rel}, granularities=("channel",),
                       n_steps=64, max_fraction=1 / 64, replacement="mean", verbose=False)
    # one step: the single most relevant channel per trial is set to the mean
    import torch

    top = rel.sum("time").values.argmax(axis=1)
    Xp = X.copy()
    Xp[np.arange(3), top] = 0
    cls = list(fitted_shallow.classes_)
    idx = [cls.index(t) for t in rel.target.values]
    with torch.no_grad():
        f0 = fitted_shallow.module_(torch.from_numpy(X.astype(np.float32))).numpy()
        f1 = fitted_shallow.module_(torch.from_numpy(Xp.astype(np.float32))).numpy()
    expected = (f0 - f1)[np.arange(3), idx].mean()
    c = res.curves[(res.curves.order == "morf") & (res.curves.step == 1)]
    assert c["drop"].item() == pytest.approx(expected, rel=1e-4)


def test_localization_and_context_use():
    ep, truth = simulate_motor_imagery(n_trials=8, verbose=False)
    decision = truth.sel({"class": "left"}).values
    # a map that is exactly the decision's truth: both sensorimotor regions
    rel = neurolrp.make_relevance(
        np.where(decision, 1.0, 0.0)[None].repeat(8, 0),
        channels=ep.ch_names, times=ep.times, y_pred=["left"] * 8, target=["left"] * 8,
        score=np.ones(8), y_true=["left"] * 8)
    loc = localization(rel, truth)
    assert (loc.mass_inside == 1).all() and (loc.auc == 1).all()
    assert (loc.positive_inside == 1).all()
    assert (loc.chance < 0.1).all()
    # a map on the explained class's own source only (C4 for left) is half right
    own = np.isin(ep.ch_names, truth.attrs["source_channels"][0].split())
    half = neurolrp.make_relevance(
        np.where(decision & own[:, None], -1.0, 0.0)[None].repeat(8, 0),
        channels=ep.ch_names, times=ep.times, y_pred=["left"] * 8, target=["left"] * 8,
        score=np.ones(8), y_true=["left"] * 8)
    loc = localization(half, truth)
    assert (loc.mass_inside == 1).all() and (loc.positive_inside == 0).all()
    # |R| ranks half the region (the own source) above everything outside, the
    # other half ties with it: ROC-AUC = 1/2 * 1 + 1/2 * 1/2
    assert np.allclose(loc.auc, 0.75)
    # channels matched by name, times by the nearest sample: a reordered, resampled map
    sub = rel.isel(channel=slice(None, None, -1), time=slice(None, None, 2))
    assert (localization(sub, truth).mass_inside == 1).all()
    with pytest.raises(ValueError, match="no channel"):
        localization(rel.assign_coords(channel=[f"X{i}" for i in range(64)]), truth)
    with pytest.raises(ValueError, match="no class"):
        localization(rel.assign_coords(target=("trial", ["feet"] * 8)), truth)
    ctx = context_use(rel, channels=["C4", "C2", "C6", "FC4", "CP4"], times=(0.5, 3.5))
    assert np.allclose(ctx.share_inside, 0.5)
    ctx = context_use(rel, times=(-1.0, 0.0))  # pre-cue baseline holds nothing
    assert np.allclose(ctx.share_inside, 0.0)
    with pytest.raises(ValueError, match="not in the relevance"):
        context_use(rel, channels=["XYZ"])
    with pytest.raises(ValueError, match="region of interest"):
        context_use(rel)


def test_trial_consistency():
    rng = np.random.default_rng(0)
    base = rng.standard_normal((2, 4, 6))
    values = np.concatenate([base[0][None].repeat(3, 0), base[1][None].repeat(3, 0)])
    kw = dict(channels=list("abcd"), times=np.arange(6.0), y_pred=["x"] * 3 + ["y"] * 3,
              target=["x"] * 3 + ["y"] * 3, score=np.ones(6))
    same = trial_consistency(neurolrp.make_relevance(values, **kw))
    assert np.allclose(same.corr_map, 1) and np.allclose(same.corr_topo, 1)
    # a trial unlike the others of its class stands out (leave-one-out average)
    values[0] = -values[0]
    odd = trial_consistency(neurolrp.make_relevance(values, **kw))
    assert odd.corr_map[0] == pytest.approx(-1) and (odd.corr_map[3:] > 0.99).all()
    with pytest.raises(ValueError, match="two trials"):
        trial_consistency(neurolrp.make_relevance(values[:1], **{
            k: (v[:1] if k in ("y_pred", "target", "score") else v) for k, v in kw.items()}))


def test_conditional_replacement_is_the_gaussian_conditional():
    """Removed channels = donor + E[x - donor | remaining channels], computed directly."""
    from neurolrp.evaluation._perturbation import _Filler, _unit_ids, spatial_precision

    rng = np.random.default_rng(0)
    mix = rng.standard_normal((6, 6))
    X = np.einsum("cd,ndt->nct", mix, rng.standard_normal((5, 6, 40))).astype(np.float32)
    P = spatial_precision(X)
    cov = np.linalg.inv(P)
    ids, w = _unit_ids("patch", 6, 40, 100.0, 0.1)  # windows of 10 samples
    filler = _Filler("conditional", X, ids, w, "patch", X, True, np.random.default_rng(1), P)
    removed = np.zeros(X.shape, bool)
    removed[0, [1, 4], 10:20] = True  # trial 0: channels 1 and 4, second window
    removed[2, :, 30:40] = True  # trial 2: every channel of the last window
    out = filler.fill(removed, np.empty_like(X))
    np.testing.assert_array_equal(out[~removed], X[~removed])
    S, R = [1, 4], [0, 2, 3, 5]
    A = cov[np.ix_(S, R)] @ np.linalg.inv(cov[np.ix_(R, R)])
    d = filler.values[0][:, 10:20]
    expected = d[S] + A @ (X[0][R][:, 10:20] - d[R])
    np.testing.assert_allclose(out[0][S][:, 10:20], expected, rtol=1e-4, atol=1e-5)
    # a donor never gives a trial its own data, and a fully removed window is the donor's
    np.testing.assert_array_equal(out[2][:, 30:40], filler.values[2][:, 30:40])
    assert not np.allclose(out[2][:, 30:40], X[2][:, 30:40])


def test_neutrality_conditional_vs_mean(fitted_shallow, hands_feet_small):
    """Removing 10 % at random: the default replacement leaves decisions alone, 'mean' not."""
    ep = hands_feet_small
    tab = neutrality(fitted_shallow, ep[1::2], reference=ep[::2], n_repeats=3).set_index(
        "replacement")
    cond, mean = tab.loc["conditional"], tab.loc["mean"]
    # tolerance: the outputs move by at most 0.05 of their spread over trials on
    # average, and accuracy by at most one trial in 22
    assert cond.score_shift < 0.05
    assert abs(cond.accuracy_after - cond.accuracy_before) <= 1 / 22 + 1e-9
    assert mean.score_shift > 0.1 and mean.score_shift > 10 * cond.score_shift
    with pytest.raises(ValueError, match="replacement"):
        neutrality(fitted_shallow, ep, replacements=("zeros",))


def test_perturbation_checks_that_relevance_fits_the_model(fitted_shallow, hands_feet_small):
    ep = hands_feet_small[:8]
    rel = neurolrp.explain(fitted_shallow, ep, verbose=False)
    # relevance of other trials (here: the trials in another order) is refused
    with pytest.raises(ValueError, match="not computed by this model"):
        perturbation(fitted_shallow, ep[::-1], {"lrp": rel}, verbose=False)
    with pytest.raises(ValueError, match="trials"):
        perturbation(fitted_shallow, ep[:4], {"lrp": rel}, verbose=False)
    with pytest.raises(ValueError, match="channels"):
        perturbation(fitted_shallow, ep, {"lrp": rel.assign_coords(
            channel=rel.channel.values[::-1])}, verbose=False)
    # a contrast target is scored as the difference of the two outputs
    contrast = neurolrp.explain(fitted_shallow, ep, target=("hands", "feet"), verbose=False)
    res = perturbation(fitted_shallow, ep, {"lrp": contrast}, granularities=("time",),
                       n_steps=2, verbose=False)
    assert np.isfinite(res.aopc.aopc).all()
    import torch

    with torch.no_grad():
        f = fitted_shallow.module_(torch.from_numpy(fitted_shallow.scale(ep.get_data())))
    i, j = list(fitted_shallow.classes_).index("hands"), list(fitted_shallow.classes_).index("feet")
    np.testing.assert_allclose(contrast.score.values, (f[:, i] - f[:, j]).numpy(), rtol=1e-5)


def test_compare_classifiers(fitted_shallow, hands_feet_small):
    rel = neurolrp.explain(fitted_shallow, hands_feet_small, verbose=False)
    same = compare_classifiers(rel, rel)
    assert np.allclose(same.corr_map, 1) and np.allclose(same.topk_overlap, 1)
    other = neurolrp.explain(fitted_shallow, hands_feet_small, method="random", verbose=False)
    diff = compare_classifiers(rel, other, names=("lrp", "random"))
    assert (diff.corr_map.abs() < 0.3).all()
    assert {"roi_share_lrp", "roi_share_random"} <= set(diff.columns)
    fig = plot_compare_classifiers(rel, other, names=("lrp", "random"))
    assert len(fig.axes) == 2 * diff.shape[0]
    assert not hasattr(evaluation, "plot_compare_classifiers")
    plt.close("all")
    with pytest.raises(ValueError, match="same trials"):
        compare_classifiers(rel, rel.isel(trial=slice(0, 5)))


@pytest.mark.slow
def test_relevance_exposes_a_clever_hans_classifier():
    """A class-correlated frontal artefact: fine accuracy, relevance on the front."""
    kw = dict(n_trials=120, tmin=-0.5, tmax=3.0, erd_window=(0.5, 2.5), sfreq=80.0,
              verbose=False)
    clean, _ = simulate_motor_imagery(**kw)
    biased, truth = simulate_motor_imagery(confound=True, **kw)
    frontal = truth.attrs["confound_channels"]
    shares = {}
    for name, ep in (("clean", clean), ("biased", biased)):
        ep = ep.copy().filter(1.0, 30.0, verbose=False)
        clf = neurolrp.EEGClassifier("shallow", max_epochs=40, patience=15, verbose=False)
        clf.fit(ep[::2])
        acc = clf.score(ep[1::2])
        rel = neurolrp.explain(clf, ep[1::2], verbose=False)
        shares[name] = (acc, context_use(rel, channels=frontal).share_inside.mean())
    acc_b, share_b = shares["biased"]
    acc_c, share_c = shares["clean"]
    assert acc_b > 0.8  # the cheat looks fine on accuracy
    # but its relevance sits on the frontal channels: more than twice as much as
    # for the clean one, and more than their share of the inputs (8 of 64)
    assert share_b > 2 * share_c and share_b > len(frontal) / 64, shares
    assert share_c < len(frontal) / 64, shares


def test_evaluation_refuses_bad_input_clearly(fitted_shallow, hands_feet_small):
    ep = hands_feet_small[:6]
    rel = neurolrp.explain(fitted_shallow, ep, verbose=False)
    with pytest.raises(TypeError, match="list of channel names"):
        context_use(rel, channels="C3")
    with pytest.raises(ValueError, match="holds no sample"):
        context_use(rel, times=(10.0, 11.0))
    bad = rel.copy()
    bad.values[0, 0, 0] = np.nan
    for fn in (lambda r: context_use(r, channels=["C3"]), trial_consistency):
        with pytest.raises(ValueError, match="NaN"):
            fn(bad)
    with pytest.raises(ValueError, match="NaN"):
        perturbation(fitted_shallow, ep, {"lrp": bad}, verbose=False)
    # relevance of the same trials from another classifier would pass every shape check
    other = rel.copy()
    other["score"] = other.score + 1.0
    with pytest.raises(ValueError, match="not computed by this model"):
        perturbation(fitted_shallow, ep, {"lrp": other}, verbose=False)
    # the same channels in another order are aligned by name, other targets are refused
    same = compare_classifiers(rel, rel.isel(channel=slice(None, None, -1)))
    assert np.allclose(same.corr_map, 1)
    with pytest.raises(ValueError, match="other targets"):
        compare_classifiers(rel, rel.assign_coords(target=("trial", ["feet"] * 6)))
    with pytest.raises(ValueError, match="no y_true"):
        compare_classifiers(rel, rel.drop_vars(["y_true", "correct"]))


def test_perturbation_of_epochs_with_a_stim_channel(fitted_shallow, hands_feet_small):
    """Non-EEG channels are dropped as everywhere, not read as a channel mismatch."""
    import mne

    ep = hands_feet_small[:6].copy()
    stim = mne.EpochsArray(np.zeros((6, 1, len(ep.times))),
                           mne.create_info(["STI 014"], ep.info["sfreq"], "stim"),
                           tmin=ep.tmin, verbose=False)
    with_stim = ep.copy().add_channels([stim], force_update_info=True)
    rel = neurolrp.explain(fitted_shallow, ep, verbose=False)
    a = perturbation(fitted_shallow, ep, {"lrp": rel}, granularities=("time",), n_steps=2,
                     verbose=False)
    b = perturbation(fitted_shallow, with_stim, {"lrp": rel}, granularities=("time",),
                     n_steps=2, verbose=False)
    pd.testing.assert_frame_equal(a.aopc, b.aopc)


def test_perturbation_with_a_cv_result_checks_the_epochs(hands_feet_small):
    cv = neurolrp.cross_validate(hands_feet_small, models=("shallow",), n_splits=2,
                                 baseline=False, verbose=False,
                                 classifier_params={"max_epochs": 2})
    with pytest.raises(ValueError, match="labels differ"):
        perturbation(cv, hands_feet_small[::-1], methods=("random",), verbose=False)
    with pytest.raises(ValueError, match="cross-validation had"):
        perturbation(cv, hands_feet_small[:10], methods=("random",), verbose=False)

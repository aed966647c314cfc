"""Explanation quality: perturbation, ground truth, context use, comparisons."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

import neurolrp
from neurolrp.datasets import simulate_motor_imagery
from neurolrp.evaluation import (SENSORIMOTOR, compare_classifiers, context_use, localization,
                                 perturbation, plot_compare_classifiers, plot_perturbation)


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
    plt.close(fig)
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
    rel = neurolrp.make_relevance(
        np.where(truth.sel({"class": "left"}).values, 1.0, 0.0)[None].repeat(8, 0),
        channels=ep.ch_names, times=ep.times, y_pred=["left"] * 8, target=["left"] * 8,
        score=np.ones(8), y_true=["left"] * 8)
    loc = localization(rel, truth)
    assert (loc.share_inside == 1).all() and (loc.auc == 1).all()
    assert (loc.chance < 0.1).all()
    ctx = context_use(rel, channels=["C4", "C2", "C6", "FC4", "CP4"], times=(0.5, 3.5))
    assert np.allclose(ctx.share_inside, 1.0)
    ctx = context_use(rel, times=(-1.0, 0.0))  # pre-cue baseline holds nothing
    assert np.allclose(ctx.share_inside, 0.0)
    with pytest.raises(ValueError, match="not in the relevance"):
        context_use(rel, channels=["XYZ"])
    with pytest.raises(ValueError, match="region of interest"):
        context_use(rel)


def test_compare_classifiers(fitted_shallow, hands_feet_small):
    rel = neurolrp.explain(fitted_shallow, hands_feet_small, verbose=False)
    same = compare_classifiers(rel, rel)
    assert np.allclose(same.corr_map, 1) and np.allclose(same.topk_overlap, 1)
    other = neurolrp.explain(fitted_shallow, hands_feet_small, method="random", verbose=False)
    diff = compare_classifiers(rel, other, names=("lrp", "random"))
    assert (diff.corr_map.abs() < 0.3).all()
    assert {"roi_share_lrp", "roi_share_random"} <= set(diff.columns)
    fig = plot_compare_classifiers(rel, other, names=("lrp", "random"))
    plt.close(fig)
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

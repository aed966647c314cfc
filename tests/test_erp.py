"""The ERP simulator (slow potentials with a ground truth) and the sLDA baseline."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold, cross_val_score

from neurolrp import cross_validate
from neurolrp.datasets import epochs_to_arrays
from neurolrp.datasets import EEGBCI_CHANNELS, ERP_CHANNELS, simulate_erp
from neurolrp.datasets._simulate import band_power
from neurolrp.decoding import TimeWindowMeans, make_slda


@pytest.fixture(scope="module")
def readiness():
    return simulate_erp(200, "readiness", verbose=False)


@pytest.fixture(scope="module")
def p300():
    return simulate_erp(200, "p300", verbose=False)


def _where(truth):
    """Channels and times of the (first class's) truth mask."""
    m = truth.isel({"class": 0})
    return (list(truth.channel.values[m.any("time").values]),
            truth.time.values[m.any("channel").values])


def test_defaults_shape_and_truth(readiness, p300):
    for (ep, truth), classes in ((readiness, {"left", "right"}), (p300, {"target", "nontarget"})):
        assert len(ep) == 200 and ep.ch_names == ERP_CHANNELS and len(ep.ch_names) == 28
        assert ep.info["sfreq"] == 100 and len(ep.times) == 51
        assert set(ep.event_id) == classes
        assert all(len(ep[c]) == 100 for c in classes)
        pos = np.array([ch["loc"][:3] for ch in ep.info["chs"]])
        assert np.isfinite(pos).all() and (np.abs(pos).sum(axis=1) > 0).all()
        assert 3e-6 < ep.get_data().std() < 3e-5  # volts, about 10 uV
        assert truth.dims == ("class", "channel", "time") and truth.dtype == bool
        assert set(truth["class"].values) == classes
        np.testing.assert_allclose(truth.time, ep.times)
        # a two-class decision: the same region for both classes
        assert (truth.isel({"class": 0}) == truth.isel({"class": 1})).all()
    chans, times = _where(readiness[1])
    assert {"C3", "C4", "C1", "C2"} <= set(chans)  # both hemispheres' motor cortex
    assert "Cz" not in chans and "O1" not in chans  # Cz: the common (bilateral) potential
    assert times.max() == 0.0 and -0.25 < times.min() < -0.15  # growing towards the movement
    chans, times = _where(p300[1])
    assert chans == ["CP1", "CPz", "CP2"]  # centro-parietal (Pz is not among the 28)
    assert 0.22 < times.min() < times.max() < 0.38 and 0.3 in np.round(times, 2)
    assert readiness[1].attrs["peak_channels"] == ["C4", "C3"]
    assert p300[1].attrs["peak_channels"] == ["CPz", ""]


def test_seeded():
    a, ta = simulate_erp(20, "p300", seed=3, verbose=False)
    b, tb = simulate_erp(20, "p300", seed=3, verbose=False)
    c, _ = simulate_erp(20, "p300", seed=4, verbose=False)
    np.testing.assert_array_equal(a.get_data(), b.get_data())
    np.testing.assert_array_equal(a.events, b.events)
    assert ta.identical(tb)
    assert not np.allclose(a.get_data(), c.get_data())


@pytest.mark.parametrize("paradigm, snr", [("readiness", 0.4), ("p300", 1.5), ("readiness", 2.0)])
def test_snr_definition(paradigm, snr):
    # the data are exactly "everything else" (snr=0, same seed) plus the
    # class-specific potential; at its peak channel, over the truth window,
    # the potential's mean square over its class's trials is snr times the
    # mean square of everything else over all trials
    ep, truth = simulate_erp(60, paradigm, snr, seed=1, verbose=False)
    rest, _ = simulate_erp(60, paradigm, 0.0, seed=1, verbose=False)
    x, y, _ = epochs_to_arrays(ep)
    r = rest.get_data()
    signal = x - r
    window = truth.isel({"class": 0}).any("channel").values
    for cls, peak in zip(truth["class"].values, truth.attrs["peak_channels"]):
        if not peak:  # nontarget: no class-specific potential at all
            np.testing.assert_array_equal(signal[y == cls], 0)
            continue
        i = ep.ch_names.index(peak)
        s = signal[y == cls][:, i][:, window]
        n = r[:, i][:, window]
        assert np.mean(s**2) / np.mean(n**2) == pytest.approx(snr, rel=1e-9)
        assert np.abs(signal[y == cls]).max(axis=(0, 2)).argmax() == i  # largest at its peak channel
    # the other classes' trials carry none of this class's potential
    if paradigm == "readiness":
        left, right = signal[y == "left"], signal[y == "right"]
        c3, c4 = ep.ch_names.index("C3"), ep.ch_names.index("C4")
        assert np.abs(left[:, c4]).mean() > 20 * np.abs(left[:, c3]).mean()
        assert np.abs(right[:, c3]).mean() > 20 * np.abs(right[:, c4]).mean()
        assert (left[:, c4].mean(axis=0)[-10:] < 0).all()  # a negative shift


def test_truth_is_where_the_class_means_differ():
    # many trials, no noise in the comparison: the class-mean difference of
    # the data minus everything else (which carries no class information)
    n, kw = 300, dict(seed=2, verbose=False)
    for paradigm in ("readiness", "p300"):
        ep, truth = simulate_erp(n, paradigm, 1.0, **kw)
        rest, _ = simulate_erp(n, paradigm, 0.0, **kw)
        x, y, _ = epochs_to_arrays(ep)
        c0, c1 = truth["class"].values
        d = np.abs(x[y == c0].mean(0) - x[y == c1].mean(0))
        mask = truth.isel({"class": 0}).values
        assert mask.any() and not mask.all()
        assert mask.flat[d.argmax()]  # the largest difference lies inside the truth
        assert d[mask].mean() > 3 * d[~mask].mean()
        # everything else (background, blinks, common potentials) differs
        # between the class means only by chance: little beside the signal
        # (measured, seeds 2-4: 0.06-0.22)
        r = rest.get_data()
        dr = np.abs(r[y == c0].mean(0) - r[y == c1].mean(0))
        assert dr[mask].mean() < 0.35 * d[mask].mean()


def _density(x, sf, band):
    """Mean power per frequency bin in ``band`` (trials and bins averaged)."""
    freqs = np.fft.rfftfreq(x.shape[-1], 1 / sf)
    return band_power(x, sf, band).mean() / np.sum((freqs >= band[0]) & (freqs <= band[1]))


def test_background_blinks_and_alpha():
    kw = dict(tmin=-4.0, tmax=0.0, snr=0.0, seed=0, verbose=False)
    ep, _ = simulate_erp(40, "readiness", blink_rate=0.0, **kw)
    blinks, _ = simulate_erp(40, "readiness", blink_rate=1.0, **kw)
    x, sf = ep.get_data(), ep.info["sfreq"]
    ch = ep.ch_names.index
    # 1/f: more power at low frequencies, at a central channel
    c3, o1 = x[:, ch("C3")], x[:, ch("O1")]
    assert _density(c3, sf, (1, 4)) > 4 * _density(c3, sf, (20, 30))  # measured 8.3
    # posterior alpha: at O1 the 8-12 Hz band stands out against its neighbours
    assert _density(o1, sf, (8, 12)) > 2 * _density(o1, sf, (14, 18))
    assert _density(o1, sf, (8, 12)) > 2 * _density(c3, sf, (8, 12))
    # blinks (the same background, same seed): frontal, in about blink_rate of
    # the trials whatever the class
    kw = dict(snr=0.0, seed=0, verbose=False)
    ep, _ = simulate_erp(200, "p300", blink_rate=0.0, **kw)
    blinks, _ = simulate_erp(200, "p300", blink_rate=0.3, **kw)
    x, y, _ = epochs_to_arrays(ep)
    blink = blinks.get_data() - x
    power = (blink**2).mean(axis=(0, 2))
    assert power[ch("Fz")] > 0.5 * (x[:, ch("Fz")] ** 2).mean()  # clearly visible at Fz
    assert power[ch("Fz")] > 10 * power[ch("FCz")] > 10 * power[ch("Cz")] > 0
    assert power[ch("O1")] < 1e-6 * power[ch("Fz")]
    has = (blink[:, ch("Fz")] ** 2).max(axis=1) > 0.05 * (blink[:, ch("Fz")] ** 2).max()
    assert 0.2 < has.mean() < 0.4
    assert abs(has[y == "target"].mean() - has[y == "nontarget"].mean()) < 0.12


def test_channels_sfreq_and_window():
    ep, truth = simulate_erp(10, "readiness", channels=EEGBCI_CHANNELS, sfreq=160.0,
                             tmin=-0.6, tmax=0.2, verbose=False)
    assert ep.ch_names == list(EEGBCI_CHANNELS) and ep.info["sfreq"] == 160
    assert len(ep.times) == 129 and truth.shape == (2, 64, 129)
    _, times = _where(truth)
    assert times.min() < 0 < times.max() < 0.25  # up to the movement and decaying after it
    sub = ["C3", "Cz", "C4", "Pz", "AF3"]  # AF3 is not an eegmmidb channel name... but in 10-05
    ep, truth = simulate_erp(10, "p300", channels=sub, verbose=False)
    assert ep.ch_names == sub
    chans, _ = _where(truth)
    assert chans == ["Pz"] and truth.attrs["peak_channels"] == ["Pz", ""]


def test_bad_parameters():
    with pytest.raises(ValueError, match="paradigm must be one of"):
        simulate_erp(paradigm="lrp")
    with pytest.raises(ValueError, match="snr must be"):
        simulate_erp(snr=-1)
    with pytest.raises(ValueError, match="n_trials must be"):
        simulate_erp(3)
    with pytest.raises(ValueError, match="blink_rate"):
        simulate_erp(blink_rate=1.5)
    with pytest.raises(ValueError, match="sfreq"):
        simulate_erp(sfreq=0)
    with pytest.raises(ValueError, match="not in the 10-05 template"):
        simulate_erp(channels=["C3", "C4", "c5", "XYZ"])
    with pytest.raises(ValueError, match="repeat; repeated: C3"):
        simulate_erp(channels=["C3", "C4", "C3"])
    with pytest.raises(TypeError, match="list of channel names"):
        simulate_erp(channels="C3")
    with pytest.raises(ValueError, match=r"None of the channels carries .* C4"):
        simulate_erp(channels=["O1", "O2", "Oz"])
    with pytest.raises(ValueError, match="misses the readiness potential"):
        simulate_erp(tmin=-1.0, tmax=-0.5)
    with pytest.raises(ValueError, match="at least 2 samples"):
        simulate_erp(tmin=0.0, tmax=-0.5)


# ---------------------------------------------------------------- sLDA baseline

def test_time_window_means():
    X = np.arange(2 * 3 * 11, dtype=float).reshape(2, 3, 11)
    tw = TimeWindowMeans(3).fit(X)
    F = tw.transform(X)
    assert F.shape == (2, 9)
    # array_split: windows of 4, 4 and 3 samples, channel-major
    np.testing.assert_allclose(F[1, :3], [X[1, 0, :4].mean(), X[1, 0, 4:8].mean(), X[1, 0, 8:].mean()])
    np.testing.assert_allclose(F[0, 3], X[0, 1, :4].mean())
    assert clone(make_slda(7)).get_params()["timewindowmeans__n_windows"] == 7
    with pytest.raises(ValueError, match="n_windows must be an integer from 1 to the number of samples"):
        TimeWindowMeans(12).fit(X)
    with pytest.raises(ValueError, match="n_windows"):
        TimeWindowMeans(0).fit(X)
    with pytest.raises(ValueError, match="3-D"):
        tw.transform(X[0])
    with pytest.raises(ValueError, match="fit saw 3 x 11"):
        tw.transform(X[:, :2])


def test_slda_beats_chance_and_csp_on_erps(readiness, p300):
    # measured (seeds 0-3, 200 trials, default SNR, 5 folds): sLDA 0.79-0.83 on
    # "readiness", 0.77-0.86 on "p300"; 0.46-0.53 on both with snr=0
    for ep, _ in (readiness, p300):
        res = cross_validate(ep, models=(), baselines=("slda",), verbose=False)
        assert res.summary().loc["slda", "accuracy"] >= 0.72
    ep, _ = simulate_erp(200, "readiness", 0.0, verbose=False)
    res = cross_validate(ep, models=(), baselines=("slda",), verbose=False)
    assert abs(res.summary().loc["slda", "accuracy"] - 0.5) < 0.1
    # CSP + LDA classifies power: it does worse on a slow potential. With 600
    # trials (sLDA no longer limited by the number of trials; seeds 0-3:
    # sLDA 0.93-0.95, CSP + LDA 0.80-0.85, gap >= 0.09)
    ep, _ = simulate_erp(600, "readiness", 0.5, seed=0, verbose=False)
    acc = cross_validate(ep, models=(), baselines=("csp+lda", "slda"),
                         verbose=False).summary()["accuracy"]
    assert acc["slda"] >= 0.9 and acc["slda"] - acc["csp+lda"] >= 0.06


def test_cross_validate_baselines_share_the_folds(p300):
    ep, _ = p300
    res = cross_validate(ep, models=(), baselines=("csp+lda", "slda"), n_splits=4, seed=5,
                         verbose=False)
    X, y, _ = epochs_to_arrays(ep)
    expected = list(StratifiedKFold(4, shuffle=True, random_state=5).split(X, y))
    assert len(res.folds) == 4
    for (tr, te), (etr, ete) in zip(res.folds, expected):
        np.testing.assert_array_equal(tr, etr)
        np.testing.assert_array_equal(te, ete)
    # every model saw each trial once, in the same fold
    p = res.predictions
    assert list(res.summary().index) == ["csp+lda", "slda"]
    folds = {m: g.sort_values("trial")["fold"].to_numpy() for m, g in p.groupby("model")}
    np.testing.assert_array_equal(folds["csp+lda"], folds["slda"])
    assert len(folds["slda"]) == len(ep)
    # the same accuracies as scikit-learn on these folds
    manual = cross_val_score(make_slda(), X.astype(float), y, cv=expected)
    np.testing.assert_allclose(res.scores.query("model == 'slda'")["accuracy"], manual)


def test_cross_validate_baseline_options(p300):
    ep = p300[0][:40]
    kw = dict(models=(), n_splits=2, verbose=False)
    assert list(cross_validate(ep, **kw).summary().index) == ["csp+lda"]  # unchanged default
    assert cross_validate(ep, baseline=False, models=("eegnet",), n_splits=2,
                          classifier_params={"max_epochs": 1}, verbose=False
                          ).scores["model"].unique().tolist() == ["eegnet"]
    assert list(cross_validate(ep, baselines="slda", **kw).summary().index) == ["slda"]
    with pytest.raises(ValueError, match="Nothing to evaluate"):
        cross_validate(ep, baselines=(), **kw)
    with pytest.raises(ValueError, match="Nothing to evaluate"):
        cross_validate(ep, baseline=False, **kw)
    with pytest.raises(ValueError, match=r"Unknown baseline\(s\) \['lda'\]"):
        cross_validate(ep, baselines=("lda",), **kw)
    with pytest.raises(ValueError, match="baseline=False contradicts"):
        cross_validate(ep, baseline=False, baselines=("slda",), **kw)
    with pytest.raises(ValueError, match="more than once"):
        cross_validate(ep, baselines=("slda", "slda"), **kw)

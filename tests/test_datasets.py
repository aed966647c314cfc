import hashlib

import mne
import numpy as np
import pytest

from neurolrp.datasets import (TASKS, load_eegbci, load_epochs, simulate_motor_imagery,
                               standard_montage)
from neurolrp.datasets._eegbci import REPO_DATA
from neurolrp.datasets._simulate import MU_BAND, band_power


def test_bundled_files_match_their_hashes():
    sums = (REPO_DATA / "SHA256SUMS").read_text().split("\n")
    entries = [line.split() for line in sums if line.strip()]
    assert len(entries) == 6
    folder = REPO_DATA / "MNE-eegbci-data" / "files" / "eegmmidb" / "1.0.0"
    for digest, rel in entries:
        assert hashlib.sha256((folder / rel).read_bytes()).hexdigest() == digest, rel


def test_load_eegbci_hands_feet_offline(hands_feet):
    ep = hands_feet
    assert len(ep) == 45
    assert len(ep.ch_names) == 64
    assert set(ep.event_id) == {"hands", "feet"}
    assert ep.info["sfreq"] == 160
    assert ep.tmin == -1.0 and ep.tmax == 4.0
    assert ep.baseline is None
    assert set(ep.get_channel_types()) == {"eeg"}
    assert "Cz" in ep.ch_names and "FCz" in ep.ch_names  # standardised names
    pos = np.array([ch["loc"][:3] for ch in ep.info["chs"]])
    assert np.isfinite(pos).all() and (np.abs(pos).sum(axis=1) > 0).all()
    assert ep.info["highpass"] == 7 and ep.info["lowpass"] == 30


def test_load_eegbci_options():
    ep = load_eegbci(1, "imagery/left-right", l_freq=None, h_freq=None, tmin=0, tmax=2,
                     resample=80, verbose=False)
    assert set(ep.event_id) == {"left", "right"}
    assert ep.info["sfreq"] == 80
    assert len(ep.times) == 161
    assert len(ep) == 45


def test_load_eegbci_bad_arguments():
    with pytest.raises(ValueError, match="task must be one of"):
        load_eegbci(1, "imagery/tongue")
    with pytest.raises(ValueError, match="subject must be"):
        load_eegbci(110)
    with pytest.raises(ValueError, match="tmax"):
        load_eegbci(1, tmin=2, tmax=1)


def test_load_eegbci_missing_data_is_one_clear_error(tmp_path, monkeypatch):
    # execution runs are not bundled, and there is no network here (or in CI):
    # make sure no download can happen even where there is one
    import mne.datasets.eegbci as eegbci_mod

    def no_network(*args, **kwargs):
        raise ConnectionError("network disabled in this test")

    monkeypatch.setattr(eegbci_mod, "load_data", no_network)
    monkeypatch.setenv("NEUROLRP_DATA", str(tmp_path / "env"))
    with pytest.raises(FileNotFoundError) as err:
        load_eegbci(1, "execution/hands-feet", path=tmp_path / "mine")
    msg = str(err.value)
    assert "Looked in" in msg and str(tmp_path / "mine") in msg and str(tmp_path / "env") in msg
    assert str(REPO_DATA) in msg and "physionet" in msg.lower()


def test_load_eegbci_reads_from_path(tmp_path):
    # a copy of the bundled layout elsewhere is found through path=
    import shutil

    shutil.copytree(REPO_DATA / "MNE-eegbci-data", tmp_path / "MNE-eegbci-data")
    ep = load_eegbci(1, "imagery/hands-feet", path=tmp_path, verbose=False)
    assert len(ep) == 45
    assert str(tmp_path) in ep.filename.as_posix() if getattr(ep, "filename", None) else True


def test_tasks_table():
    assert TASKS["imagery/hands-feet"] == ((6, 10, 14), ("hands", "feet"))
    assert TASKS["imagery/left-right"] == ((4, 8, 12), ("left", "right"))


# ---------------------------------------------------------------- load_epochs

def _small_epochs(n_per_class=3, montage=True):
    rng = np.random.default_rng(0)
    ch = ["C3", "Cz", "C4", "Pz"]
    info = mne.create_info(ch, 100.0, "eeg")
    if montage:
        info.set_montage(standard_montage())
    n = 2 * n_per_class
    events = np.column_stack([np.arange(n) * 100, np.zeros(n, int), np.tile([1, 2], n_per_class)])
    return mne.EpochsArray(rng.standard_normal((n, 4, 50)) * 1e-5, info, events=events,
                           event_id={"LH": 1, "RH": 2}, verbose=False)


def test_load_epochs_from_epochs_and_fif(tmp_path):
    ep = _small_epochs()
    out = load_epochs(ep, verbose=False)
    assert len(out) == 6 and set(out.event_id) == {"LH", "RH"}
    renamed = load_epochs(ep, event_id={"left": "LH", "right": "RH"}, verbose=False)
    assert set(renamed.event_id) == {"left", "right"}
    assert len(renamed["left"]) == 3
    fname = tmp_path / "x-epo.fif"
    ep.save(fname, verbose=False)
    back = load_epochs(fname, verbose=False)
    np.testing.assert_allclose(back.get_data(), ep.get_data())


def test_load_epochs_from_raw_files_with_annotations(tmp_path):
    f = REPO_DATA / "MNE-eegbci-data/files/eegmmidb/1.0.0/S001/S001R06.edf"
    # EDF names such as "Fc5." match no montage: a clear error names them
    with pytest.raises(ValueError, match=r"64 EEG channel\(s\) have no scalp position: Fc5\."):
        load_epochs(f, {"hands": "T1", "feet": "T2"}, montage="standard_1005", verbose=False)
    raw = mne.io.read_raw_edf(f, preload=True, verbose=False)
    mne.datasets.eegbci.standardize(raw)
    raw.save(tmp_path / "s1_raw.fif", verbose=False)
    with pytest.raises(ValueError, match="no scalp position"):
        load_epochs(tmp_path / "s1_raw.fif", {"hands": "T1", "feet": "T2"}, verbose=False)
    ep = load_epochs(tmp_path / "s1_raw.fif", {"hands": "T1", "feet": "T2"},
                     montage="standard_1005", tmin=0, tmax=1, l_freq=7, h_freq=30, verbose=False)
    assert set(ep.event_id) == {"hands", "feet"} and len(ep) == 15
    assert ep.tmax == 1 and ep.info["highpass"] == 7


def test_load_epochs_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="No such file"):
        load_epochs(tmp_path / "nope-epo.fif")
    with pytest.raises(TypeError, match="source must be"):
        load_epochs(np.zeros((2, 2, 2)))
    f = REPO_DATA / "MNE-eegbci-data/files/eegmmidb/1.0.0/S001/S001R06.edf"
    with pytest.raises(ValueError, match="pass event_id"):
        load_epochs(f)
    with pytest.raises(ValueError, match="not in the recording"):
        load_epochs(f, {"a": "T7", "b": "T1"})
    with pytest.raises(ValueError, match="no scalp position: C3, Cz, C4, Pz"):
        load_epochs(_small_epochs(montage=False))
    with pytest.raises(ValueError, match="At least two classes"):
        load_epochs(_small_epochs()["LH"])
    with pytest.raises(ValueError, match="at least two trials"):
        load_epochs(_small_epochs()[[0, 1, 3]])
    bad = _small_epochs()
    bad._data[2, 1, 5] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        load_epochs(bad)
    with pytest.raises(ValueError, match="do not have"):
        load_epochs(_small_epochs(), event_id={"left": "XX", "right": "RH"})
    misc = mne.EpochsArray(np.zeros((4, 1, 10)), mne.create_info(["a"], 100.0, "misc"), verbose=False)
    with pytest.raises(ValueError, match="no EEG channels"):
        load_epochs(misc)


# ------------------------------------------------------------------ simulator

def test_simulator_shapes_and_seed(simulated):
    ep, truth = simulated
    assert ep.get_data().shape == (200, 64, 501)
    assert set(ep.event_id) == {"left", "right"}
    assert [len(ep[c]) for c in ep.event_id] == [100, 100]
    assert truth.dims == ("class", "channel", "time") and truth.dtype == bool
    assert list(truth["class"].values) == ["left", "right"]
    assert list(truth.channel.values) == ep.ch_names
    np.testing.assert_allclose(truth.time.values, ep.times)
    # each class's own source: right hemisphere for left-hand imagery and vice versa
    left, right = (set(s.split()) for s in truth.attrs["source_channels"])
    assert "C4" in left and "C3" in right and not left & right
    assert all(ch.endswith(("4", "2", "6")) for ch in left)  # right hemisphere
    # the decision's truth is where the classes differ: both sources, for both classes
    for cls in ("left", "right"):
        inside = set(truth.channel.values[truth.sel({"class": cls}).any("time").values])
        assert inside == left | right
    again, _ = simulate_motor_imagery(n_trials=200, verbose=False)
    np.testing.assert_array_equal(again.get_data(), ep.get_data())
    other, _ = simulate_motor_imagery(n_trials=200, seed=1, verbose=False)
    assert not np.allclose(other.get_data(), ep.get_data())


def test_simulator_ground_truth_is_right(simulated):
    """Mu power differs by the documented amount inside the mask, not outside."""
    ep, truth = simulated
    snr, erd = truth.attrs["snr"], truth.attrs["erd"]
    expected = (1 + snr * (1 - erd) ** 2) / (1 + snr)
    X, y, sf = ep.get_data(), ep.events[:, 2], ep.info["sfreq"]
    lo, hi = truth.attrs["erd_window"]
    inside = (ep.times >= lo + 0.3) & (ep.times <= hi - 0.3)
    before = ep.times <= -0.1

    def ratio(ch, sel, cls_a, cls_b):
        i = ep.ch_names.index(ch)
        a = band_power(X[y == ep.event_id[cls_a]][:, i][:, sel], sf, MU_BAND).mean()
        b = band_power(X[y == ep.event_id[cls_b]][:, i][:, sel], sf, MU_BAND).mean()
        return a / b

    # inside the mask: the desynchronising class has the documented power drop
    assert abs(ratio("C4", inside, "left", "right") - expected) < 0.1
    assert abs(ratio("C3", inside, "right", "left") - expected) < 0.1
    # same channels before the cue, and channels outside the mask: no difference
    for ch, sel in [("C4", before), ("C3", before), ("Oz", inside), ("Fpz", inside),
                    ("Cz", inside), ("P7", inside)]:
        assert not truth.sel(channel=ch).values[:, sel].any()
        assert abs(ratio(ch, sel, "left", "right") - 1) < 0.2, ch


def test_simulator_three_classes_and_confound():
    ep, truth = simulate_motor_imagery(n_trials=60, n_classes=3, confound=True, verbose=False)
    assert set(ep.event_id) == {"left", "right", "feet"}
    assert truth.sizes["class"] == 3
    assert truth.sel({"class": "feet", "channel": "Cz"}).any()
    X, y = ep.get_data(), ep.events[:, 2]
    i = ep.ch_names.index("Fpz")
    peak = np.abs(X[:, i]).max(axis=1)
    # the blink-like artefact is much more frequent in the first class
    assert np.median(peak[y == 1]) > 2 * np.median(peak[y == 3])
    clean, _ = simulate_motor_imagery(n_trials=60, n_classes=3, verbose=False)
    assert np.median(np.abs(clean.get_data()[:, i]).max(axis=1)) < np.median(peak[y == 1]) / 2


def test_simulator_bad_arguments():
    with pytest.raises(ValueError, match="n_classes"):
        simulate_motor_imagery(n_classes=4)
    with pytest.raises(ValueError, match="n_trials"):
        simulate_motor_imagery(n_trials=3)
    with pytest.raises(ValueError, match="erd must"):
        simulate_motor_imagery(erd=1.5)
    with pytest.raises(ValueError, match="erd_window"):
        simulate_motor_imagery(erd_window=(3, 5))

"""Nothing a user saved is lost: writes are atomic, even when the process is killed.

Each kill test starts a real Python process that overwrites a file (or a
report folder) the test wrote before. A patched writer ends that process
with ``os._exit`` (no cleanup, no ``finally``, as SIGKILL) at a chosen
moment: after the new content went to disk, cut to half its size, so the
process dies in the middle of its write. The old file must still be there,
intact and readable. Under the old in-place writes the file was truncated
(and the reload error blamed NaN). The moment is chosen, not raced against
the clock, so the tests are deterministic.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import mne
import numpy as np
import pytest
import xarray as xr

import neurolrp
from neurolrp import EEGClassifier, load_relevance, save_relevance

KILLED = 137  # the exit status the child dies with (128 + SIGKILL)

#: Child-side helper: the ``call``-th call of ``owner.name`` does its work, cuts the
#: file it wrote (argument ``path_arg``) to half, and ends the process on the spot.
DIE_INSIDE = """
import os

def die_inside(owner, name, path_arg, call=1):
    real = getattr(owner, name)
    calls = []

    def dying(*args, **kwargs):
        out = real(*args, **kwargs)
        calls.append(1)
        if len(calls) == call:
            path = os.fspath(args[path_arg])
            with open(path, "r+b") as f:  # half of it reached the disk
                f.truncate(os.path.getsize(path) // 2)
            os._exit(KILLED)
        return out

    setattr(owner, name, dying)
"""


def _killed_inside(code):
    """Run ``code`` (after :data:`DIE_INSIDE`) in a child; it must die as planned."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    script = f"KILLED = {KILLED}\n" + DIE_INSIDE + textwrap.dedent(code)
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == KILLED, f"the child was not killed where planned " \
        f"(exit {proc.returncode}):\n{proc.stderr[-3000:]}"


def _rel(n_trials, n_channels, n_times, seed=0):
    rng = np.random.default_rng(seed)
    return neurolrp.make_relevance(
        rng.standard_normal((n_trials, n_channels, n_times)),
        channels=[f"E{i}" for i in range(n_channels)], times=np.arange(n_times) / 100.0,
        y_pred=["a"] * n_trials, target=["a"] * n_trials, score=np.ones(n_trials),
        attrs={"method": "lrp", "sfreq": 100.0, "conservation_error": 0.0})


def _hidden_leftovers(folder, name):
    """What a killed writer left beside ``name``: its temporary files or folders."""
    return [p for p in Path(folder).iterdir() if p.name.startswith(f".{name}.")]


def test_save_relevance_killed_mid_write_keeps_the_old_file(tmp_path):
    old = _rel(3, 4, 5)
    fname = save_relevance(old, tmp_path / "rel.nc")
    _killed_inside(f"""
        import numpy as np, xarray as xr, neurolrp
        die_inside(xr.DataArray, "to_netcdf", path_arg=1)
        rng = np.random.default_rng(1)
        rel = neurolrp.make_relevance(
            rng.standard_normal((6, 4, 5)), channels=[f"E{{i}}" for i in range(4)],
            times=np.arange(5) / 100.0, y_pred=["b"] * 6, target=["b"] * 6,
            score=np.ones(6), attrs={{"method": "lrp", "sfreq": 100.0,
                                      "conservation_error": 0.0}})
        neurolrp.save_relevance(rel, {str(fname)!r}, overwrite=True)
    """)
    back = load_relevance(fname)
    xr.testing.assert_identical(back, old)
    # the new file was being written beside it, under a hidden temporary name
    assert len(_hidden_leftovers(tmp_path, "rel.nc")) == 1


def _fitted(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, 3, 32)).astype(np.float32)
    y = np.array(["a", "b"] * 6)
    return EEGClassifier("sturm", sfreq=32.0, max_epochs=2, patience=2, verbose=False,
                         model_params={"hidden": 4}).fit(X, y), X


def test_classifier_save_killed_mid_write_keeps_the_old_file(tmp_path):
    clf, X = _fitted(tmp_path)
    fname = clf.save(tmp_path / "clf.pt")
    expected = clf.predict_proba(X)
    _killed_inside(f"""
        import torch
        from neurolrp import EEGClassifier
        die_inside(torch, "save", path_arg=1)
        clf = EEGClassifier.load({str(fname)!r})
        clf.history_ = [{{"new": 1}}] * 7  # something else to write
        clf.save({str(fname)!r}, overwrite=True)
    """)
    back = EEGClassifier.load(fname)
    np.testing.assert_array_equal(back.predict_proba(X), expected)
    assert back.history_ == clf.history_
    assert len(_hidden_leftovers(tmp_path, "clf.pt")) == 1


def _tiny_epochs():
    rng = np.random.default_rng(0)
    ch = ["C3", "Cz", "C4", "Pz"]
    info = mne.create_info(ch, 32.0, "eeg")
    info.set_montage(neurolrp.datasets.standard_montage())
    events = np.column_stack([np.arange(12) * 100, np.zeros(12, int), [1, 2] * 6])
    return mne.EpochsArray(rng.standard_normal((12, 4, 64)) * 1e-5, info, events=events,
                           event_id={"a": 1, "b": 2}, verbose=False)


OLD_REPORT = {"report.html": "<html>old</html>", "summary.json": '{"old": true}',
              "relevance.nc": "old relevance"}


def _old_report(folder):
    folder.mkdir()
    for name, text in OLD_REPORT.items():
        (folder / name).write_text(text)


def _assert_old_report(folder):
    assert sorted(p.name for p in folder.iterdir()) == sorted(OLD_REPORT)
    for name, text in OLD_REPORT.items():
        assert (folder / name).read_text() == text, name


def test_report_killed_mid_run_leaves_the_old_report_as_it_was(tmp_path):
    out = tmp_path / "sub-01"
    _old_report(out)
    ep_file = tmp_path / "tiny-epo.fif"
    _tiny_epochs().save(ep_file, verbose=False)
    # killed while writing report.html into the temporary folder: the new relevance.nc is
    # complete by then and must not have replaced the old one
    _killed_inside(f"""
        import mne
        from neurolrp.report import subject_report
        die_inside(mne.Report, "save", path_arg=1)
        ep = mne.read_epochs({str(ep_file)!r}, verbose=False)
        subject_report(ep, {str(out)!r}, models=("sturm",), n_splits=2, quality=False,
                       classifier_params={{"max_epochs": 1, "model_params": {{"hidden": 4}}}},
                       overwrite=True, verbose=False)
    """)
    _assert_old_report(out)
    [tmp] = _hidden_leftovers(tmp_path, "sub-01")
    assert {"relevance.nc", "report.html"} <= {p.name for p in tmp.iterdir()}


def test_report_that_fails_leaves_the_old_report_and_no_temporary_folder(tmp_path,
                                                                        monkeypatch):
    from neurolrp import report

    out = tmp_path / "sub-01"
    _old_report(out)

    def broken_save(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(report.mne.Report, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        report.subject_report(_tiny_epochs(), out, models=("sturm",), n_splits=2,
                              quality=False, overwrite=True, verbose=False,
                              classifier_params={"max_epochs": 1,
                                                 "model_params": {"hidden": 4}})
    _assert_old_report(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub-01"]  # no leftovers


def test_report_replaces_a_previous_report_as_a_whole(tmp_path):
    from neurolrp.report import subject_report

    out = tmp_path / "sub-01"
    _old_report(out)
    summary = subject_report(_tiny_epochs(), out, models=("sturm",), n_splits=2,
                             quality=False, overwrite=True, verbose=False,
                             classifier_params={"max_epochs": 1,
                                                "model_params": {"hidden": 4}})
    assert sorted(p.name for p in out.iterdir()) == sorted(OLD_REPORT)
    assert json.loads((out / "summary.json").read_text())["n_trials"] == 12
    assert load_relevance(out / "relevance.nc").sizes["trial"] == 12
    assert Path(summary["files"]["relevance"]) == out / "relevance.nc"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub-01"]  # no leftovers

"""Nothing a user saved is lost: writes are atomic, even under SIGKILL.

Each kill test starts a real Python process that overwrites a file (or a
report folder) the test wrote before, waits until that process is writing
its temporary file, kills it with SIGKILL, and checks that the old file is
still there, intact and readable. Under the old in-place writes the file
was truncated (and the reload error blamed NaN).
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import mne
import numpy as np
import pytest
import xarray as xr

import neurolrp
from neurolrp import EEGClassifier, load_relevance, save_relevance

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")


def _rel(n_trials, n_channels, n_times, seed=0):
    rng = np.random.default_rng(seed)
    return neurolrp.make_relevance(
        rng.standard_normal((n_trials, n_channels, n_times)),
        channels=[f"E{i}" for i in range(n_channels)], times=np.arange(n_times) / 100.0,
        y_pred=["a"] * n_trials, target=["a"] * n_trials, score=np.ones(n_trials),
        attrs={"method": "lrp", "sfreq": 100.0, "conservation_error": 0.0})


def _kill_while_writing(code, folder, pattern, min_size=1, timeout=120):
    """Run ``code`` in a child; SIGKILL it once a file matching ``pattern`` under
    ``folder`` has ``min_size`` bytes. Return whether it was caught mid-write.
    """
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            hits = [p for p in Path(folder).glob(pattern) if p.is_file()]
            if any(p.stat().st_size >= min_size for p in hits):
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(30)
                # caught mid-write when the temporary file is still there
                return any(p.exists() for p in hits)
            if proc.poll() is not None:
                return False  # finished (or failed) before we saw it write
            time.sleep(0.001)
        raise AssertionError("the child never started writing")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
        if proc.returncode not in (None, -signal.SIGKILL, 0):
            raise AssertionError(proc.stderr.read().decode()[-3000:])


def test_save_relevance_killed_mid_write_keeps_the_old_file(tmp_path):
    old = _rel(3, 4, 5)
    fname = save_relevance(old, tmp_path / "rel.nc")
    for size in (200, 400, 800):  # a bigger new file if the child was too quick
        code = f"""
            import numpy as np, neurolrp
            rng = np.random.default_rng(1)
            n, c, t = {size}, 64, 400
            rel = neurolrp.make_relevance(
                rng.standard_normal((n, c, t)), channels=[f"E{{i}}" for i in range(c)],
                times=np.arange(t) / 100.0, y_pred=["b"] * n, target=["b"] * n,
                score=np.ones(n), attrs={{"method": "lrp", "sfreq": 100.0,
                                          "conservation_error": 0.0}})
            neurolrp.save_relevance(rel, {str(fname)!r}, overwrite=True)
        """
        if _kill_while_writing(code, tmp_path, ".rel.nc.*.tmp", min_size=4096):
            break
        save_relevance(old, fname, overwrite=True)  # the child won: start again
    else:
        pytest.skip("the child always finished writing before it could be killed")
    back = load_relevance(fname)
    xr.testing.assert_identical(back, old)


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
    for size in (5_000_000, 20_000_000, 60_000_000):
        code = f"""
            import numpy as np
            from neurolrp import EEGClassifier
            clf = EEGClassifier.load({str(fname)!r})
            clf.history_ = [{{"padding": np.ones({size} // 8)}}]  # a big file to write
            clf.save({str(fname)!r}, overwrite=True)
        """
        if _kill_while_writing(code, tmp_path, ".clf.pt.*.tmp", min_size=4096):
            break
        clf.save(fname, overwrite=True)
    else:
        pytest.skip("the child always finished writing before it could be killed")
    back = EEGClassifier.load(fname)
    np.testing.assert_array_equal(back.predict_proba(X), expected)
    assert len(back.history_) == len(clf.history_)


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
    code = f"""
        import mne
        from neurolrp.report import subject_report
        ep = mne.read_epochs({str(ep_file)!r}, verbose=False)
        subject_report(ep, {str(out)!r}, models=("sturm",), n_splits=2, quality=False,
                       classifier_params={{"max_epochs": 1, "model_params": {{"hidden": 4}}}},
                       overwrite=True, verbose=False)
    """
    # kill once the new relevance.nc is written in the temporary folder
    caught = _kill_while_writing(code, tmp_path, ".sub-01.*.tmp/relevance.nc", min_size=1)
    assert caught, "the report finished before it could be killed"
    _assert_old_report(out)


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

"""One table of bad or unusual inputs to every public entry point.

Each case is a call and what must come of it: an exception type and a phrase
of its message (said before any work), or a check of the result (the right
answer, where a wrong one used to come back without a word). The table runs
on tiny data (4 EEG channels, 1 s at 64 Hz, small networks, two training
epochs), so it stays fast.

``CASES`` is plain data: ``python tests/test_bad_inputs.py`` (with any
neurolrp on the path) runs the table outside pytest and prints what each
case gives, which is how the "silently wrong before" count was made.
"""

import functools
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import mne
import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from torch import nn

import neurolrp
import neurolrp.report  # noqa: F401 - the report module is not imported by the package
from neurolrp import EEGClassifier, explain, load_relevance, save_relevance
from neurolrp.datasets import load_eegbci, load_epochs

CH = ["C3", "Cz", "C4", "Pz"]
SFREQ = 64.0
FAST = dict(model="sturm", max_epochs=2, patience=2, verbose=False,
            model_params={"hidden": 8, "dropout": 0.0})


class Ctx:
    """Inputs shared by the cases, built once, lazily (a folder for files)."""

    def __init__(self, root):
        self.root = Path(root)
        self.n = 0

    def path(self, name):
        """A fresh path (not yet existing) under the case folder."""
        self.n += 1
        folder = self.root / f"c{self.n}"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / name

    @functools.cached_property
    def X(self):
        rng = np.random.default_rng(0)
        X = rng.standard_normal((16, 4, 64)).astype(np.float32)
        X[8:, 0] *= 3.0
        return X

    @functools.cached_property
    def y(self):
        return np.array(["a"] * 8 + ["b"] * 8, dtype=object)

    def epochs(self, extra=(), bads=(), names=None, event_names=("a", "b")):
        """EEG epochs with optional extra channels (name, type) and bads."""
        ch = list(names or CH) + [n for n, _ in extra]
        types = ["eeg"] * 4 + [t for _, t in extra]
        info = mne.create_info(ch, SFREQ, types)
        info.set_montage(neurolrp.datasets.standard_montage(), on_missing="ignore")
        data = np.concatenate([self.X.astype(np.float64) * 1e-5,
                               np.zeros((16, len(extra), 64))], axis=1)
        codes = np.array([1] * 8 + [2] * 8)
        for k, (_, t) in enumerate(extra):
            if t == "stim":
                data[:, 4 + k] = codes[:, None]  # the class code itself
        events = np.column_stack([np.arange(16) * 100, np.zeros(16, int), codes])
        ep = mne.EpochsArray(data, info, events=events, tmin=0.0,
                             event_id={event_names[0]: 1, event_names[1]: 2}, verbose=False)
        ep.info["bads"] = list(bads)
        return ep

    @functools.cached_property
    def ep(self):
        return self.epochs()

    @functools.cached_property
    def clf(self):
        """Fitted on epochs (channel names known)."""
        return EEGClassifier(**FAST).fit(self.ep)

    @functools.cached_property
    def clf_late(self):
        """Fitted on epochs that start 0.5 s after the event."""
        ep = self.ep.copy()
        ep.shift_time(0.5, relative=False)
        return EEGClassifier(**FAST).fit(ep)

    @functools.cached_property
    def clf_int(self):
        """Fitted on arrays with integer labels 1 and 2."""
        y = np.array([1] * 8 + [2] * 8)
        return EEGClassifier(sfreq=SFREQ, **FAST).fit(self.X, y)

    @functools.cached_property
    def clf_textnum(self):
        """Fitted with class names that are numbers written as text."""
        y = np.array(["1"] * 8 + ["2"] * 8)
        return EEGClassifier(sfreq=SFREQ, **FAST).fit(self.X, y)

    @functools.cached_property
    def rel(self):
        return explain(self.clf, self.ep, verbose=False)

    @functools.cached_property
    def saved_clf(self):
        return self.clf.save(self.path("clf.pt"))

    @functools.cached_property
    def saved_rel(self):
        return save_relevance(self.rel, self.path("rel.nc"))

    @functools.cached_property
    def cv(self):
        return neurolrp.cross_validate(self.ep, models=("sturm",), n_splits=2,
                                       classifier_params={k: v for k, v in FAST.items()
                                                          if k not in ("model", "verbose")},
                                       verbose=False)

    @functools.cached_property
    def raw_fif(self):
        info = mne.create_info(CH, SFREQ, "eeg")
        info.set_montage(neurolrp.datasets.standard_montage())
        raw = mne.io.RawArray(np.random.default_rng(1).standard_normal((4, 64 * 40)) * 1e-5,
                              info, verbose=False)
        onsets = np.arange(2, 36, 2.0)
        raw.set_annotations(mne.Annotations(onsets, 1.0, ["T1", "T2"] * (len(onsets) // 2)
                                            + ["T1"] * (len(onsets) % 2)))
        f = self.path("rec_raw.fif")
        raw.save(f, verbose=False)
        return f

    def file_with(self, name, content):
        f = self.path(name)
        f.write_bytes(content)
        return f

    def torch_file(self, obj, name):
        f = self.path(name)
        torch.save(obj, f)
        return f

    def truncated(self, src, name):
        data = Path(src).read_bytes()
        return self.file_with(name, data[: len(data) // 2])

    def nonempty_dir(self, files=("report.html",)):
        d = self.path("out")
        d.mkdir()
        for f in files:
            (d / f).write_text("old")
        return d


def _with(X, index, value, dtype=None):
    out = np.array(X, dtype=dtype or X.dtype)
    out[index] = value
    return out


def _net(*layers):
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), *layers).eval()


class MyReLU(nn.ReLU):
    def forward(self, x):  # not a ReLU at all
        return torch.sigmoid(x) * 3.0


class Attn(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(64, 1, batch_first=True)
        self.out = nn.Linear(64, 2)

    def forward(self, x):
        h, _ = self.attn(x, x, x)
        return self.out(h.mean(1))


def _hooked():
    net = _net(nn.Linear(256, 2))
    net[1].register_forward_hook(lambda m, i, o: o * 2.0)
    return net


def _cli(*argv):
    """Run the command line in this process: (exit code, stdout, stderr)."""
    import contextlib
    import io

    from neurolrp.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def _cli_process(*argv):
    """Run the command line in a real subprocess: (exit code, stdout, stderr)."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    res = subprocess.run([sys.executable, "-m", "neurolrp.cli", *map(str, argv)],
                         capture_output=True, text=True, env=env, timeout=300)
    return res.returncode, res.stdout, res.stderr


def _cli_error(code, phrase):
    """Check: the CLI exited with ``code`` and one line on stderr holding ``phrase``."""
    def check(result, ctx):
        rc, out, err = result
        lines = [line for line in err.splitlines() if line.strip()]
        assert rc == code, (rc, err[-2000:])
        assert len(lines) == 1, err[-2000:]
        assert "Traceback" not in err
        assert phrase in lines[0], lines[0]
    return check


def _perm(names):
    return [names[i] for i in (1, 0, 2, 3)]


# --------------------------------------------------------------- checks
def _no_channel(name):
    def check(rel, ctx):
        assert name not in list(map(str, rel.channel.values))
    return check


def _target_is(expected):
    def check(rel, ctx):
        assert set(rel.target.values) == {expected}, set(rel.target.values)
    return check


def _round_trip_clf(clf, ctx):
    np.testing.assert_array_equal(clf.predict_proba(ctx.ep), ctx.clf.predict_proba(ctx.ep))
    assert clf.ch_names_ == ctx.clf.ch_names_


def _fit_dropped_stim(clf, ctx):
    assert clf.ch_names_ == CH


def _cv_dropped_stim(res, ctx):
    assert all(est.ch_names_ == CH for est in res.estimators["sturm"])


def _loaded_bads(ep, ctx):
    assert ep.ch_names == ["C3", "C4", "Pz"] and ep.info["bads"] == []


def _classes(expected):
    def check(ep, ctx):
        assert sorted(ep.event_id) == expected
    return check


# ---------------------------------------------------------------- the table
#: (id, call(ctx), expected): expected is (exception type, phrase of the
#: message) or a check(result, ctx) of the right result.
CASES = [
    # ---- loaders: load_eegbci (bundled subject 1; errors come before any reading)
    ("eegbci-subject-0", lambda c: load_eegbci(0), (ValueError, "subject must be")),
    ("eegbci-subject-110", lambda c: load_eegbci(110), (ValueError, "subject must be")),
    ("eegbci-subject-bool", lambda c: load_eegbci(True), (ValueError, "subject must be")),
    ("eegbci-subject-float", lambda c: load_eegbci(1.0), (ValueError, "subject must be")),
    ("eegbci-subject-np-int64", lambda c: load_eegbci(
        np.int64(1), tmin=0.0, tmax=0.5, resample=40.0, verbose=False),
        lambda ep, c: (len(ep) == 45 and ep.info["sfreq"] == 40) or pytest.fail(str(ep))),
    ("eegbci-task-unknown", lambda c: load_eegbci(1, "tongue"),
     (ValueError, "task must be one of")),
    ("eegbci-task-list", lambda c: load_eegbci(1, ["imagery/hands-feet"]),
     (ValueError, "task must be one of")),
    ("eegbci-tmax-before-tmin", lambda c: load_eegbci(1, tmin=2, tmax=1), (ValueError, "tmax")),
    ("eegbci-tmin-nan", lambda c: load_eegbci(1, tmin=np.nan), (ValueError, "finite")),
    ("eegbci-resample-0", lambda c: load_eegbci(1, resample=0), (ValueError, "resample must")),
    ("eegbci-resample-negative", lambda c: load_eegbci(1, resample=-80),
     (ValueError, "resample must")),
    ("eegbci-resample-text", lambda c: load_eegbci(1, resample="80"),
     (TypeError, "resample must be a number")),
    ("eegbci-band-reversed", lambda c: load_eegbci(1, l_freq=30, h_freq=7),
     (ValueError, "must be below h_freq")),
    ("eegbci-band-above-nyquist", lambda c: load_eegbci(1, h_freq=100),
     (ValueError, "h_freq must be")),
    ("eegbci-band-negative", lambda c: load_eegbci(1, l_freq=-1), (ValueError, "l_freq must be")),
    ("eegbci-path-is-file", lambda c: load_eegbci(1, path=c.file_with("x.txt", b"x")),
     (NotADirectoryError, "is a file")),
    # ---- loaders: load_epochs
    ("epochs-source-int", lambda c: load_epochs(42), (TypeError, "source must be")),
    ("epochs-missing-file", lambda c: load_epochs(c.root / "missing-epo.fif"),
     (FileNotFoundError, "No such file")),
    ("epochs-source-folder", lambda c: load_epochs(c.root), (IsADirectoryError, "is a folder")),
    ("epochs-garbage-fif", lambda c: load_epochs(c.file_with("bad-epo.fif", b"garbage" * 10)),
     (ValueError, "MNE could not read")),
    ("epochs-raw-without-event-id", lambda c: load_epochs(c.raw_fif),
     (ValueError, "pass event_id")),
    ("epochs-raw-list-event-id", lambda c: load_epochs(c.raw_fif, ["T1", "T2"], tmin=0, tmax=0.5,
                                                        verbose=False), _classes(["T1", "T2"])),
    ("epochs-raw-missing-annotation", lambda c: load_epochs(c.raw_fif, {"a": "T1", "b": "T9"}),
     (ValueError, "not in the recording")),
    ("epochs-raw-tmax-before-tmin", lambda c: load_epochs(c.raw_fif, {"a": "T1", "b": "T2"},
                                                          tmin=1, tmax=0),
     (ValueError, "tmax")),
    ("epochs-raw-band-reversed", lambda c: load_epochs(c.raw_fif, {"a": "T1", "b": "T2"},
                                                       l_freq=20, h_freq=10),
     (ValueError, "must be below h_freq")),
    ("epochs-event-id-list", lambda c: load_epochs(c.ep, ["a", "b"], verbose=False),
     _classes(["a", "b"])),
    ("epochs-event-id-empty", lambda c: load_epochs(c.ep, {}), (ValueError, "empty")),
    ("epochs-event-id-string", lambda c: load_epochs(c.ep, "a"),
     (TypeError, "event_id must be a dict")),
    ("epochs-event-id-duplicate", lambda c: load_epochs(c.ep, {"x": "a", "y": "a"}),
     (ValueError, "more than one class")),
    ("epochs-event-id-code-for-epochs", lambda c: load_epochs(c.ep, {"x": 1, "y": 2}),
     (ValueError, "not an event name")),
    ("epochs-bad-channel-dropped", lambda c: load_epochs(c.epochs(bads=["Cz"]), verbose=False),
     _loaded_bads),
    ("epochs-nan", lambda c: load_epochs(mne.EpochsArray(
        _with(c.ep.get_data(), (0, 1, 2), np.nan), c.ep.info, c.ep.events, verbose=False)),
     (ValueError, "NaN or infinite")),
    ("epochs-beyond-float32", lambda c: load_epochs(mne.EpochsArray(
        _with(c.ep.get_data(), (0, 1, 2), 1e39), c.ep.info, c.ep.events, verbose=False)),
     (ValueError, "float32")),
    ("epochs-montage-type", lambda c: load_epochs(c.ep, montage=123),
     (TypeError, "montage must be")),
    # ---- classifier: parameters, refused at fit before any training
    ("clf-batch-size-1", lambda c: EEGClassifier(sfreq=SFREQ, **{**FAST, "batch_size": 1}).fit(
        c.X, c.y), (ValueError, "batch_size must be at least 2")),
    ("clf-batch-size-0", lambda c: EEGClassifier(sfreq=SFREQ, **{**FAST, "batch_size": 0}).fit(
        c.X, c.y), (ValueError, "batch_size must be")),
    ("clf-batch-size-float", lambda c: EEGClassifier(sfreq=SFREQ, **{**FAST, "batch_size": 2.5}
                                                     ).fit(c.X, c.y),
     (TypeError, "batch_size must be an integer")),
    ("clf-max-epochs-0", lambda c: EEGClassifier(sfreq=SFREQ, **{**FAST, "max_epochs": 0}).fit(
        c.X, c.y), (ValueError, "max_epochs must be")),
    ("clf-max-epochs-text", lambda c: EEGClassifier(sfreq=SFREQ, **{**FAST, "max_epochs": "9"}
                                                    ).fit(c.X, c.y),
     (TypeError, "max_epochs must be an integer")),
    ("clf-patience-negative", lambda c: EEGClassifier(sfreq=SFREQ, **{**FAST, "patience": -1}
                                                      ).fit(c.X, c.y),
     (ValueError, "patience must be")),
    ("clf-validation-size-1", lambda c: EEGClassifier(sfreq=SFREQ, validation_size=1.0, **FAST
                                                      ).fit(c.X, c.y),
     (ValueError, "validation_size must be")),
    ("clf-validation-size-negative", lambda c: EEGClassifier(sfreq=SFREQ, validation_size=-0.2,
                                                             **FAST).fit(c.X, c.y),
     (ValueError, "validation_size must be")),
    ("clf-lr-0", lambda c: EEGClassifier(sfreq=SFREQ, lr=0.0, **FAST).fit(c.X, c.y),
     (ValueError, "lr must be")),
    ("clf-weight-decay-negative", lambda c: EEGClassifier(sfreq=SFREQ, weight_decay=-1.0,
                                                          **FAST).fit(c.X, c.y),
     (ValueError, "weight_decay must be")),
    ("clf-seed-negative", lambda c: EEGClassifier(sfreq=SFREQ, seed=-1, **FAST).fit(c.X, c.y),
     (ValueError, "seed must be")),
    ("clf-seed-float", lambda c: EEGClassifier(sfreq=SFREQ, seed=1.5, **FAST).fit(c.X, c.y),
     (TypeError, "seed must be an integer")),
    ("clf-sfreq-0", lambda c: EEGClassifier(sfreq=0, **FAST).fit(c.X, c.y),
     (ValueError, "sfreq must be")),
    ("clf-sfreq-nan", lambda c: EEGClassifier(sfreq=np.nan, **FAST).fit(c.X, c.y),
     (ValueError, "sfreq must be a finite")),
    ("clf-model-params-unknown", lambda c: EEGClassifier(sfreq=SFREQ, **{
        **FAST, "model_params": {"bogus": 1}}).fit(c.X, c.y),
     (ValueError, "not arguments of the 'sturm' network")),
    ("clf-model-params-list", lambda c: EEGClassifier(sfreq=SFREQ, **{
        **FAST, "model_params": [1]}).fit(c.X, c.y), (TypeError, "model_params must be a dict")),
    ("clf-model-none", lambda c: EEGClassifier(None, sfreq=SFREQ).fit(c.X, c.y),
     (ValueError, "model must be one of")),
    # ---- classifier: data and labels
    ("clf-labels-none", lambda c: EEGClassifier(sfreq=SFREQ, **FAST).fit(
        c.X, _with(c.y, 3, None)), (ValueError, "missing label")),
    ("clf-labels-nan", lambda c: EEGClassifier(sfreq=SFREQ, **FAST).fit(
        c.X, _with(np.r_[np.zeros(8), np.ones(8)], 3, np.nan)), (ValueError, "missing label")),
    ("clf-labels-mixed", lambda c: EEGClassifier(sfreq=SFREQ, **FAST).fit(
        c.X, _with(c.y, 3, 7)), (ValueError, "mixes text and numbers")),
    ("clf-labels-short", lambda c: EEGClassifier(sfreq=SFREQ, **FAST).fit(c.X, c.y[:-1]),
     (ValueError, "one label per trial")),
    ("clf-x-beyond-float32", lambda c: EEGClassifier(sfreq=SFREQ, **FAST).fit(
        _with(c.X, (0, 0, 0), 1e39, np.float64), c.y), (ValueError, "float32")),
    ("clf-x-inf", lambda c: EEGClassifier(sfreq=SFREQ, **FAST).fit(
        _with(c.X, (0, 0, 0), np.inf), c.y), (ValueError, "NaN or infinite")),
    ("clf-x-bool", lambda c: EEGClassifier(sfreq=SFREQ, **FAST).fit(c.X > 0, c.y),
     (ValueError, "real numbers")),
    ("clf-x-2d", lambda c: EEGClassifier(sfreq=SFREQ, **FAST).fit(c.X[:, 0], c.y),
     (ValueError, "shape (n_trials, n_channels, n_times)")),
    ("clf-x-ragged", lambda c: EEGClassifier(sfreq=SFREQ, **FAST).fit(
        [np.zeros((4, 64)), np.zeros((4, 60))], ["a", "b"]), (ValueError, "array")),
    ("clf-fit-drops-stim", lambda c: EEGClassifier(**FAST).fit(c.epochs([("STI 014", "stim")])),
     _fit_dropped_stim),
    ("clf-fit-drops-eog-and-bads", lambda c: EEGClassifier(**FAST).fit(
        c.epochs([("EOG1", "eog")], bads=["Pz"])),
     lambda clf, c: clf.ch_names_ == ["C3", "Cz", "C4"] or pytest.fail(str(clf.ch_names_))),
    ("clf-predict-unfitted", lambda c: EEGClassifier(sfreq=SFREQ).predict(c.X),
     (NotFittedError, "not fitted")),
    ("clf-scale-unfitted", lambda c: EEGClassifier(sfreq=SFREQ).scale(c.X),
     (NotFittedError, "not fitted")),
    ("clf-predict-reordered", lambda c: c.clf.predict(c.ep.copy().reorder_channels(_perm(CH))),
     (ValueError, "another order")),
    ("clf-predict-renamed", lambda c: c.clf.predict(c.epochs(names=["C3", "Cz", "C4", "Oz"])),
     (ValueError, "channels differ")),
    ("clf-predict-other-sfreq", lambda c: c.clf.predict(c.ep.copy().resample(32)),
     (ValueError, "sampled at")),
    ("clf-predict-channels", lambda c: c.clf.predict(c.X[:, :3]), (ValueError, "fitted on 4 x 64")),
    ("clf-predict-drops-stim", lambda c: c.clf.predict(c.epochs([("STI 014", "stim")])),
     lambda p, c: np.testing.assert_array_equal(p, c.clf.predict(c.ep))),
    ("clf-predict-microvolts", lambda c: c.clf.predict(c.ep.get_data() * 1e6),
     (ValueError, "units differ")),
    ("clf-labels-continuous", lambda c: EEGClassifier(sfreq=SFREQ, **FAST).fit(
        c.X, np.linspace(0, 1, 16)), (ValueError, "continuous")),
    ("clf-x-sparse", lambda c: EEGClassifier(sfreq=SFREQ, **FAST).fit(
        __import__("scipy.sparse").sparse.csr_matrix(c.X[:, 0]), c.y),
     (TypeError, "sparse input is not supported")),
    ("clf-x-object-numbers", lambda c: EEGClassifier(sfreq=SFREQ, **FAST).fit(
        c.X.astype(object), c.y), lambda clf, c: clf.n_channels_ == 4 or pytest.fail("")),
    ("clf-x-torch-tensor", lambda c: EEGClassifier(sfreq=SFREQ, **FAST).fit(
        torch.from_numpy(c.X), c.y), lambda clf, c: clf.n_times_ == 64 or pytest.fail("")),
    ("clf-fit-without-y", lambda c: EEGClassifier(sfreq=SFREQ, **FAST).fit(c.X),
     (ValueError, "requires y to be passed")),
    ("clf-score-array-without-y", lambda c: c.clf.score(c.X), (ValueError, "y is required")),
    # ---- classifier: save and load
    ("clf-save-exists", lambda c: c.clf.save(c.saved_clf), (FileExistsError, "overwrite=True")),
    ("clf-save-folder", lambda c: c.clf.save(c.root), (IsADirectoryError, "is a folder")),
    ("clf-save-missing-folder", lambda c: c.clf.save(c.root / "nope" / "clf.pt"),
     (FileNotFoundError, "does not exist")),
    ("clf-save-unfitted", lambda c: EEGClassifier().save(c.path("u.pt")),
     (NotFittedError, "not fitted")),
    ("clf-save-load-round-trip", lambda c: EEGClassifier.load(c.clf.save(
        c.saved_clf, overwrite=True)), _round_trip_clf),
    ("clf-load-truncated", lambda c: EEGClassifier.load(c.truncated(c.saved_clf, "t.pt")),
     (ValueError, "truncated")),
    ("clf-load-text-file", lambda c: EEGClassifier.load(c.file_with("x.pt", b"hello")),
     (ValueError, "could not be read")),
    ("clf-load-other-torch-file", lambda c: EEGClassifier.load(c.torch_file({"a": 1}, "o.pt")),
     (ValueError, "not a file written by EEGClassifier.save")),
    ("clf-load-missing", lambda c: EEGClassifier.load(c.root / "none.pt"),
     (FileNotFoundError, "No such classifier file")),
    # ---- explain: data against the fit, labels, targets, arguments
    ("explain-reordered-channels", lambda c: explain(
        c.clf, c.ep.copy().reorder_channels(_perm(CH)), verbose=False),
     (ValueError, "another order")),
    ("explain-renamed-channels", lambda c: explain(
        c.clf, c.epochs(names=["C3", "Cz", "C4", "Oz"]), verbose=False),
     (ValueError, "channels differ")),
    ("explain-other-sfreq", lambda c: explain(c.clf, c.ep.copy().resample(32), verbose=False),
     (ValueError, "sampled at")),
    ("explain-drops-stim", lambda c: explain(c.clf, c.epochs([("STI 014", "stim")]),
                                             verbose=False), _no_channel("STI 014")),
    ("explain-fit-and-explain-with-stim", lambda c: explain(
        EEGClassifier(**FAST).fit(c.epochs([("STI 014", "stim")])), c.epochs([("STI 014", "stim")]),
        verbose=False), _no_channel("STI 014")),
    ("explain-bad-channel-in-data", lambda c: explain(c.clf, c.epochs(bads=["Cz"]), verbose=False),
     (ValueError, "missing ['Cz']")),
    ("explain-int-target-names-class", lambda c: explain(c.clf_int, c.X, target=1, verbose=False),
     _target_is("1")),
    ("explain-int-target-not-a-class", lambda c: explain(c.clf_int, c.X, target=0, verbose=False),
     (ValueError, "target 0 is not a class")),
    ("explain-int-target-ambiguous", lambda c: explain(c.clf_textnum, c.X, target=1,
                                                       verbose=False),
     (ValueError, "ambiguous")),
    ("explain-text-target-by-name", lambda c: explain(c.clf_textnum, c.X, target="2",
                                                      verbose=False), _target_is("2")),
    ("explain-int-target-text-classes", lambda c: explain(c.clf, c.ep, target=1, verbose=False),
     _target_is("b")),
    ("explain-bool-target", lambda c: explain(c.clf, c.ep, target=True), (TypeError, "target")),
    ("explain-float-target", lambda c: explain(c.clf_int, c.X, target=1.0),
     (TypeError, "class name or an integer")),
    ("explain-list-contrast", lambda c: explain(c.clf, c.ep, target=["a", "b"]),
     (TypeError, "tuple")),
    ("explain-contrast-same", lambda c: explain(c.clf, c.ep, target=("a", "a")),
     (ValueError, "two different classes")),
    ("explain-contrast-name-ambiguous", lambda c: explain(
        EEGClassifier(sfreq=SFREQ, **FAST).fit(c.X, np.array(["a", "b-c", "a-b", "c"] * 4)),
        c.X, target=("a", "b-c")), (ValueError, "also names another contrast")),
    ("explain-contrast-three", lambda c: explain(c.clf, c.ep, target=("a", "b", "a")),
     (ValueError, "pair")),
    ("explain-labels-not-classes", lambda c: explain(c.clf, c.ep.get_data(), y=["x"] * 16),
     (ValueError, "not classes of the model")),
    ("explain-int-labels-as-floats", lambda c: explain(c.clf_int, c.X, y=np.r_[[1.0] * 8, [2.0] * 8],
                                                       verbose=False),
     lambda rel, c: set(rel.y_true.values) == {"1", "2"} or pytest.fail(str(rel.y_true.values))),
    ("explain-array-timed-like-fit", lambda c: explain(c.clf_late, c.ep.get_data(),
                                                       verbose=False),
     lambda rel, c: np.testing.assert_allclose(rel.time.values, 0.5 + np.arange(64) / SFREQ)),
    ("explain-epochs-shifted", lambda c: explain(c.clf_late, c.ep, verbose=False),
     (ValueError, "start at 0 s")),
    ("clf-predict-epochs-shifted", lambda c: c.clf_late.predict(c.ep),
     (ValueError, "fitted on epochs starting at 0.5 s")),
    ("explain-microvolts", lambda c: explain(c.clf, c.X * 1e6), (ValueError, "units differ")),
    ("explain-epochs-of-another-class", lambda c: explain(
        c.clf, c.epochs(event_names=("a", "rest"))), (ValueError, "epochs[classes]")),
    ("explain-labels-none", lambda c: explain(c.clf, c.X, y=_with(c.y, 0, None)),
     (ValueError, "missing label")),
    ("explain-array-keeps-fitted-names", lambda c: explain(c.clf, c.ep.get_data(), verbose=False),
     lambda rel, c: list(rel.channel.values) == CH or pytest.fail(str(rel.channel.values))),
    ("explain-batch-size-0", lambda c: explain(c.clf, c.ep, batch_size=0),
     (ValueError, "batch_size must be")),
    ("explain-batch-size-float", lambda c: explain(c.clf, c.ep, batch_size=2.5),
     (TypeError, "batch_size must be an integer")),
    ("explain-n-steps-0", lambda c: explain(c.clf, c.ep, method="integrated-gradients",
                                            n_steps=0), (ValueError, "n_steps must be")),
    ("explain-ignore-bias-text", lambda c: explain(c.clf, c.ep, ignore_bias="yes"),
     (TypeError, "ignore_bias must be")),
    ("explain-inf", lambda c: explain(c.clf, _with(c.X, (1, 2, 3), np.inf)),
     (ValueError, "NaN or infinite")),
    ("explain-beyond-float32", lambda c: explain(_net(nn.Linear(256, 2)),
                                                 _with(c.X, (1, 2, 3), 1e39, np.float64)),
     (ValueError, "float32")),
    ("explain-unfitted", lambda c: explain(EEGClassifier(), c.X), (NotFittedError, "not fitted")),
    ("explain-model-string", lambda c: explain("shallow", c.X),
     (TypeError, "model must be a fitted")),
    ("explain-method-unknown", lambda c: explain(c.clf, c.X, method="shap"),
     (ValueError, "method must be one of")),
    ("explain-deconvnet-no-relu", lambda c: explain(
        neurolrp.models.ShallowNet(4, 64, 2, SFREQ), c.X, method="deconvnet"),
     (ValueError, "ShallowNet has no ReLU-family activation")),
    ("explain-guided-no-relu-before-work", lambda c: explain(  # data of the wrong shape too
        neurolrp.models.ShallowNet(4, 64, 2, SFREQ), c.X[:, :3], method="guided-backprop"),
     (ValueError, "would be the plain gradient. Use method='gradient'")),
    ("explain-lrp-guided-composite", lambda c: explain(c.clf, c.ep, composite="guided-backprop"),
     (ValueError, "not an LRP composite")),
    ("explain-relu-subclass", lambda c: explain(_net(nn.Linear(256, 8), MyReLU(),
                                                     nn.Linear(8, 2)), c.X),
     (neurolrp.lrp.UnsupportedModelError, "'2' (MyReLU) override")),
    ("explain-multihead-attention", lambda c: explain(Attn(), c.X),
     (neurolrp.lrp.UnsupportedModelError, "'attn' (MultiheadAttention)")),
    ("explain-forward-hook", lambda c: explain(_hooked(), c.X),
     (neurolrp.lrp.UnsupportedModelError, "forward hook")),
    ("explain-softmax-layer", lambda c: explain(_net(nn.Linear(256, 2), nn.Softmax(1)), c.X),
     (neurolrp.lrp.UnsupportedModelError, "(Softmax)")),
    ("explain-out-of-fold-other-epochs", lambda c: neurolrp.attribution.explain_out_of_fold(
        c.cv, c.ep[:8], "sturm"), (ValueError, "epochs that were cross-validated")),
    ("explain-out-of-fold-baseline", lambda c: neurolrp.attribution.explain_out_of_fold(
        c.cv, c.ep, "csp+lda"), (ValueError, "No cross-validated network")),
    # ---- relevance container and files
    ("rel-save-exists", lambda c: save_relevance(c.rel, c.saved_rel),
     (FileExistsError, "overwrite=True")),
    ("rel-save-overwrite", lambda c: load_relevance(save_relevance(
        c.rel.isel(trial=[0]), c.saved_rel, overwrite=True)),
     lambda r, c: r.sizes["trial"] == 1 or pytest.fail(str(r.sizes))),
    ("rel-save-folder", lambda c: save_relevance(c.rel, c.root), (IsADirectoryError, "folder")),
    ("rel-save-overwrite-text", lambda c: save_relevance(c.rel, c.path("r.nc"), overwrite="yes"),
     (TypeError, "overwrite must be")),
    ("rel-save-not-relevance", lambda c: save_relevance(c.rel.values, c.path("r.nc")),
     (TypeError, "DataArray")),
    ("rel-load-truncated", lambda c: load_relevance(c.truncated(c.saved_rel, "t.nc")),
     (ValueError, "rel")),
    ("rel-load-text-file", lambda c: load_relevance(c.file_with("x.nc", b"hello")),
     (ValueError, "could not be read as relevance")),
    ("rel-load-folder", lambda c: load_relevance(c.root), (IsADirectoryError, "folder")),
    ("rel-duplicate-channels", lambda c: neurolrp.make_relevance(
        np.zeros((1, 2, 3)), channels=["C3", "C3"], times=np.arange(3.0), y_pred=["a"],
        target=["a"], score=[1.0]), (ValueError, "duplicate channel")),
    # ---- report (errors before any work)
    ("report-nonempty-folder", lambda c: neurolrp.report.subject_report(c.ep, c.nonempty_dir()),
     (FileExistsError, "not empty")),
    ("report-foreign-files", lambda c: neurolrp.report.subject_report(
        c.ep, c.nonempty_dir(("mine.txt",)), overwrite=True), (FileExistsError, "did not write")),
    ("report-out-is-file", lambda c: neurolrp.report.subject_report(
        c.ep, c.file_with("f.txt", b"x")), (NotADirectoryError, "is a file")),
    ("report-models-unknown", lambda c: neurolrp.report.subject_report(
        c.ep, c.path("o"), models=("resnet",)), (ValueError, "models must be")),
    ("report-n-splits-1", lambda c: neurolrp.report.subject_report(c.ep, c.path("o"),
                                                                  n_splits=1),
     (ValueError, "n_splits must be")),
    ("report-array-input", lambda c: neurolrp.report.subject_report(c.X, c.path("o")),
     (TypeError, "must be mne.Epochs")),
    ("report-no-positions", lambda c: neurolrp.report.subject_report(
        c.epochs(names=["A1x", "B2x", "C3x", "D4x"]), c.path("o")),
     (ValueError, "no scalp position")),
    ("report-params-not-dict", lambda c: neurolrp.report.subject_report(
        c.ep, c.path("o"), classifier_params=[1]), (TypeError, "classifier_params must be")),
    # ---- cross_validate (input checks before any fold)
    ("cv-array-input", lambda c: neurolrp.cross_validate(c.X), (TypeError, "mne.Epochs")),
    ("cv-n-splits-1", lambda c: neurolrp.cross_validate(c.ep, n_splits=1),
     (ValueError, "n_splits must be")),
    ("cv-models-twice", lambda c: neurolrp.cross_validate(c.ep, models=("sturm", "sturm")),
     (ValueError, "twice")),
    ("cv-batch-size-1", lambda c: neurolrp.cross_validate(
        c.ep, models=("sturm",), classifier_params={"batch_size": 1}),
     (ValueError, "batch_size must be at least 2")),
    ("cv-params-set-seed", lambda c: neurolrp.cross_validate(
        c.ep, classifier_params={"seed": 3}), (ValueError, "cannot set ['seed']")),
    ("cv-drops-stim", lambda c: neurolrp.cross_validate(
        c.epochs([("STI 014", "stim")]), models=("sturm",), n_splits=2, baseline=False,
        classifier_params={"max_epochs": 1, "model_params": {"hidden": 4}}, verbose=False),
     _cv_dropped_stim),
    # ---- command line: one line on stderr, non-zero exit, no traceback
    ("cli-folds-1", lambda c: _cli("run", "--dataset", "eegbci", "--folds", "1", "--out",
                                   c.path("o")), _cli_error(1, "--folds must be")),
    ("cli-folds-text", lambda c: _cli("run", "--folds", "x"),
     _cli_error(2, "invalid int value")),
    ("cli-resample-negative", lambda c: _cli("run", "--dataset", "eegbci", "--resample", "-5",
                                             "--out", c.path("o")),
     _cli_error(1, "--resample must be")),
    ("cli-subject-0", lambda c: _cli("run", "--dataset", "eegbci", "--subject", "0", "--out",
                                     c.path("o")), _cli_error(1, "--subject must be")),
    ("cli-seed-negative", lambda c: _cli("run", "--dataset", "eegbci", "--seed", "-1", "--out",
                                         c.path("o")), _cli_error(1, "--seed must be")),
    ("cli-out-nonempty", lambda c: _cli_process("demo", "--out", c.nonempty_dir()),
     _cli_error(1, "not empty")),
    ("cli-out-is-file", lambda c: _cli("run", "--dataset", "eegbci", "--out",
                                       c.file_with("f.txt", b"x")), _cli_error(1, "is a file")),
    ("cli-epochs-missing", lambda c: _cli("run", "--epochs", c.root / "none-epo.fif", "--out",
                                          c.path("o")), _cli_error(1, "No such file")),
    ("cli-epochs-garbage", lambda c: _cli("run", "--epochs", c.file_with("g-epo.fif", b"xx"),
                                          "--out", c.path("o")),
     _cli_error(1, "MNE could not read")),
    ("cli-neither-source", lambda c: _cli("run"), _cli_error(1, "give either --dataset")),
    ("cli-both-sources", lambda c: _cli("run", "--dataset", "eegbci", "--epochs", "x-epo.fif"),
     _cli_error(1, "give either --dataset")),
    ("cli-models-twice", lambda c: _cli("run", "--dataset", "eegbci", "--models", "shallow",
                                        "shallow", "--out", c.path("o")),
     _cli_error(1, "twice")),
    ("cli-data-path-file", lambda c: _cli("run", "--dataset", "eegbci", "--data-path",
                                          c.file_with("d.txt", b"x"), "--out", c.path("o")),
     _cli_error(1, "is a file")),
    ("cli-unknown-option", lambda c: _cli("run", "--bogus"),
     _cli_error(2, "unrecognized arguments")),
    ("cli-unknown-task", lambda c: _cli("run", "--dataset", "eegbci", "--task", "tongue"),
     _cli_error(2, "invalid choice")),
]


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    return Ctx(tmp_path_factory.mktemp("bad_inputs"))


@pytest.mark.parametrize("case_id,call,expected", CASES, ids=[c[0] for c in CASES])
def test_bad_input(case_id, call, expected, ctx):
    if isinstance(expected, tuple):
        exc, phrase = expected
        with pytest.raises(exc) as info:
            call(ctx)
        assert phrase in str(info.value), str(info.value)
    else:
        expected(call(ctx), ctx)


def test_the_table_is_large_enough():
    assert len(CASES) >= 60
    assert len({c[0] for c in CASES}) == len(CASES)


def _run_outside_pytest():  # pragma: no cover - a tool, not a test
    """Print what every case gives with the neurolrp on the path."""
    import traceback

    ctx = Ctx(tempfile.mkdtemp())
    for case_id, call, expected in CASES:
        try:
            result = call(ctx)
        except Exception as err:  # noqa: BLE001
            kind = "raised"
            detail = f"{type(err).__name__}: {str(err).splitlines()[0][:150] if str(err) else ''}"
            if isinstance(expected, tuple):
                ok = isinstance(err, expected[0]) and expected[1] in str(err)
            else:
                ok = False
        else:
            kind = "returned"
            if isinstance(expected, tuple):
                ok, detail = False, "no error"
            else:
                try:
                    expected(result, ctx)
                    ok, detail = True, "right result"
                except BaseException as err:  # noqa: BLE001 - pytest.fail is one
                    ok, detail = False, f"WRONG RESULT: {err}"[:150]
        print(f"{'ok  ' if ok else 'FAIL'} {kind:8s} {case_id:40s} {detail}", flush=True)
    del traceback


if __name__ == "__main__":  # pragma: no cover
    _run_outside_pytest()

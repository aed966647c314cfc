"""Many subjects: simulated cohorts, MOABB data, the study runner on dask, kill and resume."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from neurolrp.datasets import cohort_parameters, simulate_cohort, simulate_motor_imagery
from neurolrp.study import STORE, load_study, run_study

#: Small and fast: what every study in these tests runs with.
TINY = ["--trials", "30", "--folds", "2", "--tmin", "0", "--tmax", "2", "--max-epochs", "3",
        "--patience", "3", "--no-quality", "--slider-trials", "2", "--quiet"]
TINY_KW = dict(folds=2, tmin=0.0, tmax=2.0, quality=False,
               classifier_params={"max_epochs": 3, "patience": 3}, slider_trials=2,
               verbose=False)


def _cli(*args, timeout=600):
    """Run the installed ``neurolrp`` console script; return the finished process."""
    exe = shutil.which("neurolrp") or str(Path(sys.executable).with_name("neurolrp"))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=timeout,
                          env=env)


def _hashes(folder):
    """SHA-256 of every file under ``folder`` (relative path -> digest)."""
    folder = Path(folder)
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------ simulated cohorts
def test_simulator_default_output_unchanged():
    """source_sigma's default leaves simulate_motor_imagery's output as it was.

    The numbers were recorded before the parameter existed (the SHA-256 of the
    data and truth were also identical then); any change of the random draws'
    order would change them completely, floating-point noise would not.
    """
    ep, truth = simulate_motor_imagery(n_trials=20, seed=3, verbose=False)
    X = ep.get_data()
    np.testing.assert_allclose(
        X[[0, -1]][:, [8, 12, 40], 100].ravel(),
        [2.28083596e-05, -1.64690148e-05, 2.09539786e-05, -1.06552847e-05, -3.09771420e-06,
         -3.83286755e-06], rtol=1e-8)
    np.testing.assert_allclose([X.sum(), (X ** 2).sum()],
                               [-0.0017399600944116426, 7.359099534663391e-05], rtol=1e-9)
    assert int(truth.values.sum()) == 5980
    assert ep.events[:12, 2].tolist() == [1, 1, 1, 1, 2, 2, 2, 1, 1, 2, 1, 2]
    ep3, truth3 = simulate_motor_imagery(n_trials=30, n_classes=3, confound=True, seed=1,
                                         sfreq=80.0, verbose=False)
    np.testing.assert_allclose(ep3.get_data().sum(), 0.074825696115884, rtol=1e-9)
    assert int(truth3.values.sum()) == 9321
    same, _ = simulate_motor_imagery(n_trials=20, seed=3, source_sigma=0.5, verbose=False)
    assert np.array_equal(same.get_data(), X)
    wide, wide_truth = simulate_motor_imagery(n_trials=20, seed=3, source_sigma=0.7,
                                              verbose=False)
    assert not np.array_equal(wide.get_data(), X)
    assert wide_truth.values.sum() > truth.values.sum()  # a wider source, a wider truth
    with pytest.raises(ValueError, match="source_sigma"):
        simulate_motor_imagery(n_trials=20, source_sigma=0)


def test_cohort_subjects_differ_and_poor_responders():
    params = cohort_parameters(range(1, 17), seed=0)
    assert list(params.index[params.responder == "weak"]) == [4, 12]
    assert list(params.index[params.responder == "none"]) == [8, 16]
    assert (params.loc[[8, 16], "erd"] == 0).all()
    assert params.loc[params.responder == "yes", "erd"].min() >= 0.35
    assert params.erd.nunique() > 10 and params.source_sigma.nunique() == 16
    # a subject's settings depend on the seed and its number only
    alone = cohort_parameters([5], seed=0)
    assert alone.loc[5].equals(params.loc[5])
    assert not cohort_parameters([5], seed=1).loc[5].equals(params.loc[5])
    cohort = simulate_cohort([2, 8], n_trials=12, sfreq=50.0, verbose=False)
    ep, truth = cohort[8]
    assert len(ep) == 12 and truth.attrs["responder"] == "none" and truth.attrs["erd"] == 0
    assert "subject 8" in ep.info["description"]
    again = simulate_cohort([8], n_trials=12, sfreq=50.0, verbose=False)[8][0]
    assert np.array_equal(again.get_data(), ep.get_data())
    with pytest.raises(ValueError, match="positive integers"):
        cohort_parameters([0])
    with pytest.raises(ValueError, match="must start before"):
        simulate_cohort([1], tmin=0.5)


# ------------------------------------------------------------------ MOABB
def test_load_moabb_needs_the_extra(monkeypatch):
    from neurolrp.datasets import load_moabb

    monkeypatch.setitem(sys.modules, "moabb", None)
    with pytest.raises(ImportError, match=r"neurolrp\[moabb\]"):
        load_moabb("BNCI2014_001", 1)
    with pytest.raises(ImportError, match=r"neurolrp\[moabb\]"):
        run_study([1], dataset="moabb:BNCI2014_001", out="never-made")
    assert not Path("never-made").exists()


def _fake_moabb(**kwargs):
    pytest.importorskip("moabb", reason="MOABB is an optional extra (pip install "
                                        "'neurolrp[moabb]')")
    from moabb.datasets.fake import FakeDataset

    kw = dict(n_sessions=1, n_runs=1, n_events=30, n_subjects=3, seed=7,
              event_list=("left_hand", "right_hand"), channels=("C3", "Cz", "C4", "CP3", "CP4"))
    kw.update(kwargs)
    return FakeDataset(**kw)


def test_load_moabb_fake_dataset(monkeypatch):
    from neurolrp.datasets import load_moabb

    ds = _fake_moabb()
    ep = load_moabb(ds, 2, resample=64.0, verbose=False)
    assert ep.event_id == {"left_hand": 1, "right_hand": 2}
    assert len(ep) == 30 and ep.info["sfreq"] == 64.0 and ep.ch_names == list(ds.channels)
    assert all(type(k) is str for k in ep.event_id)
    assert ep.get_montage() is not None and "subject 2" in ep.info["description"]
    with pytest.raises(ValueError, match="has no subject 9"):
        load_moabb(ds, 9)
    with pytest.raises(ValueError, match="MOABB has no data set 'NoSuch'"):
        load_moabb("NoSuch", 1)
    with pytest.raises(ValueError, match="Unknown paradigm"):
        load_moabb(ds, 1, paradigm="tongue")

    # a paradigm object of the user's own goes through the study's loader; its name is recorded
    from moabb.paradigms import LeftRightImagery

    from neurolrp.study import load_subject
    from neurolrp.study._inputs import check_config, resolve_dataset

    source = resolve_dataset(ds, None, {"paradigm": LeftRightImagery(resample=64)}, None, [1])
    assert source.options["paradigm"].endswith("LeftRightImagery")
    json.dumps(source.options)  # what the store records
    config, _ = check_config(("shallow",), None, 2, 0, None, 80.0, None, None, False)
    ep = load_subject(source, 1, config)
    assert len(ep) == 30 and ep.info["sfreq"] == 80.0

    def offline(*args, **kwargs):
        raise ConnectionError("Name or service not known")  # what requests raises offline

    import moabb.paradigms

    monkeypatch.setattr(moabb.paradigms.MotorImagery, "get_data", offline)
    with pytest.raises(FileNotFoundError, match="not on this machine.*MNE_DATA"):
        load_moabb(ds, 1)


# ------------------------------------------------------------------ bad input, before work
def test_bad_input_is_refused_before_any_work(tmp_path, monkeypatch):
    out = tmp_path / "s"
    for subjects, exc, what in [(["1"], TypeError, "integers"), ([1.0], TypeError, "integers"),
                                ([True], TypeError, "integers"), ("1-3", TypeError, "list"),
                                (3, TypeError, "list"), ([], ValueError, "empty"),
                                ([1, 1], ValueError, "more than once"),
                                ([0], TypeError, "positive")]:
        with pytest.raises(exc, match=what):
            run_study(subjects, out=out)
    with pytest.raises(ValueError, match="Unknown dataset 'eegbcii'"):
        run_study([1], dataset="eegbcii", out=out)
    with pytest.raises(ValueError, match="Unknown task"):
        run_study([1], task="tongue", out=out)
    with pytest.raises(ValueError, match="1 to 109"):
        run_study([110], out=out)
    with pytest.raises(ValueError, match="models"):
        run_study([1], models=("resnet",), out=out)
    with pytest.raises(ValueError, match="folds"):
        run_study([1], folds=1, out=out)
    with pytest.raises(ValueError, match="not EEGClassifier parameters"):
        run_study([1], classifier_params={"epochs": 3}, out=out)
    with pytest.raises(ValueError, match="do not apply"):
        run_study([1], dataset="simulated", dataset_params={"task": "x"}, out=out)
    with pytest.raises(ValueError, match="exceed the"):
        run_study([1], n_workers=os.cpu_count() + 1, out=out)
    with pytest.raises(TypeError, match="scheduler"):
        run_study([1], scheduler=42, out=out)
    with pytest.raises(ValueError, match="slider_trials"):
        run_study([1], slider_trials=-1, out=out)
    assert not out.exists()  # nothing was written
    afile = tmp_path / "a-file"
    afile.write_text("x")
    with pytest.raises(NotADirectoryError):
        run_study([1], out=afile)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="made by something else"):
        run_study([1], out=foreign)
    fake_store = tmp_path / "fake"
    (fake_store / STORE).mkdir(parents=True)
    (fake_store / STORE / "zarr.json").write_text('{"zarr_format": 3, "node_type": "group"}')
    with pytest.raises(FileExistsError, match="made by something else"):
        run_study([1], out=fake_store, overwrite=True)
    assert (fake_store / STORE / "zarr.json").exists()  # never removed
    with pytest.raises(ValueError, match="not written by neurolrp"):
        load_study(fake_store)
    with pytest.raises(FileNotFoundError, match="No study"):
        load_study(tmp_path / "nothing")
    monkeypatch.setattr(os, "access", lambda *a, **k: False)
    with pytest.raises(PermissionError, match="not writable"):
        run_study([1], out=tmp_path / "locked")


# ------------------------------------------------------------------ store, in process
@pytest.fixture(scope="module")
def one_subject():
    """What a worker returns for one tiny simulated subject (computed here, no cluster)."""
    from neurolrp.study._inputs import check_config, resolve_dataset
    from neurolrp.study._runner import process_subject

    source = resolve_dataset("simulated", None, {"n_trials": 30}, None, [3])
    config, _ = check_config(("shallow",), None, 2, 0, {"max_epochs": 3, "patience": 3}, 80.0,
                             0.0, 2.0, False)
    return source, config, process_subject(source, 3, config)


def test_subject_report_gets_the_slider_size(monkeypatch):
    """process_subject hands slider_trials to the subject report (default 20)."""
    import neurolrp.report
    from neurolrp.study._inputs import check_config, resolve_dataset
    from neurolrp.study._runner import SLIDER_TRIALS, process_subject

    asked = []

    def fake_report(*args, **kwargs):
        asked.append(kwargs["max_trials"])
        raise KeyboardInterrupt  # stop before any work

    monkeypatch.setattr(neurolrp.report, "subject_report", fake_report)
    source = resolve_dataset("simulated", None, {"n_trials": 10}, None, [3])
    config, _ = check_config(("shallow",), None, 2, 0, None, 80.0, 0.0, 2.0, False)
    for kwargs in ({}, {"slider_trials": 0}):
        with pytest.raises(KeyboardInterrupt):
            process_subject(source, 3, config, **kwargs)
    assert asked == [SLIDER_TRIALS, 0] and SLIDER_TRIALS == 20


def test_interrupted_write_is_never_read_and_is_redone(tmp_path, one_subject, monkeypatch):
    """A run killed while writing a subject leaves nothing that reads as complete."""
    from neurolrp.study import _store

    source, config, result = one_subject
    out = tmp_path / "s"
    assert _store.check_out(out, config, True, False) == "new"
    paths = _store.study_paths(out)
    _store.create_store(paths, config)

    def killed(*args):
        raise KeyboardInterrupt  # stands in for SIGKILL between the write and the rename

    monkeypatch.setattr(_store.os, "rename", killed)
    with pytest.raises(KeyboardInterrupt):
        _store.commit_subject(paths, source, result)
    monkeypatch.undo()
    leftovers = list((out / ".partial").iterdir())
    assert len(leftovers) == 1 and (leftovers[0] / "relevance").is_dir()
    study = load_study(out)
    assert study.subjects == [] and study.incomplete == []
    # a subject folder without the completion mark (e.g. copied by hand) is not read either
    half = paths["subjects"] / "simulated-003"
    shutil.copytree(leftovers[0], half)
    meta = json.loads((half / "zarr.json").read_text())
    meta["attributes"].pop("complete")
    (half / "zarr.json").write_text(json.dumps(meta))
    study = load_study(out)
    assert study.subjects == [] and study.incomplete == ["subjects/simulated-003"]
    with pytest.raises(KeyError, match="No complete subject"):
        study.relevance("simulated-003")
    # committing again replaces the incomplete folder; the store then reads it back whole
    _store.commit_subject(paths, source, result)
    study = load_study(out)
    assert study.subjects == ["simulated-003"] and study.incomplete == []
    rel = study.relevance("simulated-003")
    expected = result["dataset"]["relevance"]
    np.testing.assert_array_equal(rel.values, expected.values)
    assert rel.attrs == expected.attrs and rel.dtype == np.float32
    for name in ("y_true", "y_pred", "target", "correct", "score", "ch_x", "channel", "time"):
        np.testing.assert_array_equal(rel[name].values, expected[name].values)
        assert rel[name].dtype == expected[name].dtype, name
    assert study.table.loc["simulated-003", "n_trials"] == 30
    cv = study.cv("simulated-003")
    assert cv.cv_accuracy.dims == ("model", "fold") and list(cv.model.values) == [
        "shallow", "csp+lda"]
    assert cv.cv_proba.sizes == {"model": 2, "trial": 30, "class": 2}
    acc = study.table.loc["simulated-003", "accuracy_shallow"]
    assert np.isclose(float(cv.cv_accuracy.sel(model="shallow").mean()), acc, atol=1e-4)
    # the explained network's out-of-fold predictions are those the relevance carries
    assert list(cv.cv_y_pred.sel(model="shallow").values) == list(rel.y_pred.values)
    means = study.class_means("simulated-003")
    assert means.dims == ("class", "channel", "time") and list(means.n_trials.values) == [
        int(((rel.y_true == c) & rel.correct).sum()) or int((rel.y_true == c).sum())
        for c in ("left", "right")]


# ------------------------------------------------------------------ the command line, end to end
#: A ``neurolrp study`` that ends, as SIGKILL would (``os._exit``: no cleanup, no finally),
#: at a chosen moment: once the second subject is written under ``.partial`` and before it
#: is renamed into the store. It first writes the pids of the processes it started (the
#: cluster's workers) to ``argv[1]``.
KILLED_AT_SECOND_SUBJECT = """
import os, sys
from pathlib import Path

import psutil

from neurolrp.cli import main

real_rename = os.rename
renamed = []


def rename(src, dst, *args, **kwargs):
    if Path(dst).parent.name == "subjects":
        renamed.append(dst)
        if len(renamed) == 2:
            pids = [p.pid for p in psutil.Process().children(recursive=True)]
            Path(sys.argv[1]).write_text(" ".join(map(str, pids)))
            os._exit(137)
    return real_rename(src, dst, *args, **kwargs)


if __name__ == "__main__":  # the workers import this file again: not them
    os.rename = rename
    sys.exit(main(sys.argv[2:]))
"""


@pytest.fixture(scope="module")
def cli_study(tmp_path_factory, cluster):
    """One study through ``neurolrp study``, in the steps a user takes; what each left.

    1. two simulated subjects with transfer on a LocalCluster of 2 workers, killed
       while storing the second subject;
    2. the same command again: resumed;
    3. extended with eegbci S001 (left/right), on a cluster we give it (``--scheduler``).
    """
    tmp = tmp_path_factory.mktemp("cli-study")
    out = tmp / "study"
    args = ["study", "--dataset", "simulated", "--subjects", "1-2", "--transfer",
            "--workers", "2", "--out", str(out), *TINY]
    script, pid_file = tmp / "killed.py", tmp / "pids"
    script.write_text(KILLED_AT_SECOND_SUBJECT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, str(script), str(pid_file), *args],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 137, f"not killed where planned:\n{proc.stderr[-3000:]}"
    subjects = out / STORE / "subjects"
    killed = {"workers": [int(p) for p in pid_file.read_text().split()],
              "study": load_study(out),
              # what sat aside when it was killed (resuming clears it): name -> entries
              "partial": {p.name: sorted(c.name for c in p.iterdir())
                          for p in (out / ".partial").iterdir()},
              "on_disk": sorted(p.name for p in subjects.iterdir() if p.is_dir()),
              "hashes": {p.name: _hashes(p) for p in subjects.iterdir() if p.is_dir()}}
    resumed = _cli(*args)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    resumed_hashes = {p.name: _hashes(p) for p in subjects.iterdir() if p.is_dir()}
    extended = _cli("study", "--dataset", "eegbci", "--task", "imagery/left-right",
                    "--subjects", "1", "--scheduler", cluster.scheduler.address,
                    "--out", str(out), *[a for a in TINY if a not in ("--trials", "30")])
    assert extended.returncode == 0, extended.stderr[-3000:]
    return {"args": args, "out": out, "killed": killed, "resumed": resumed_hashes,
            "stdout": resumed.stdout + extended.stdout}


@pytest.mark.slow
def test_killed_study_leaves_only_complete_subjects(cli_study):
    """What a killed study leaves: whole subjects, nothing half-written among them."""
    import psutil

    killed = cli_study["killed"]
    # the cluster's workers go with the process that started them
    assert killed["workers"], "the study ran no worker process"
    gone, alive = psutil.wait_procs([psutil.Process(p) for p in killed["workers"]
                                     if psutil.pid_exists(p)], timeout=20)
    for p in alive:
        p.kill()
    assert not alive, f"worker processes outlived the killed study: {alive}"
    study = killed["study"]
    assert len(study.subjects) == 1 and study.incomplete == [], study.subjects
    assert killed["on_disk"] == study.subjects  # nothing half-written among the subjects
    # the second subject was written aside, in full, and never renamed in
    [(half, entries)] = killed["partial"].items()  # .partial/subjects-<key>-<8 hex>
    assert half.startswith("subjects-"), half
    key = half[len("subjects-"):-len("-0123abcd")]
    assert key.startswith("simulated-00") and key not in study.subjects
    assert {"relevance", "zarr.json"} <= set(entries)


@pytest.mark.slow
def test_killed_study_resumes_keeping_what_was_complete(cli_study):
    out = cli_study["out"]
    subjects = out / STORE / "subjects"
    [done] = cli_study["killed"]["study"].subjects
    # resuming left the subject complete before the kill bit for bit, and did the others
    assert cli_study["resumed"][done] == cli_study["killed"]["hashes"][done]
    assert _hashes(subjects / done) == cli_study["killed"]["hashes"][done]
    assert sorted(cli_study["resumed"]) == [f"simulated-{s:03d}" for s in range(1, 3)]
    study = load_study(out)
    assert study.incomplete == [] and not (out / ".partial").exists()
    for key in cli_study["resumed"]:  # everything read as complete is whole
        rel = study.relevance(key)
        assert rel.sizes["trial"] == 30 and np.isfinite(rel.values).all()


@pytest.mark.slow
def test_cli_study_simulated_cohort_plus_s001(cli_study):
    """neurolrp study: a simulated cohort with transfer, then S001 added on a given cluster."""
    out = cli_study["out"]
    assert "simulated-002" in cli_study["stdout"] and "Group report" in cli_study["stdout"]
    study = load_study(out)
    assert study.subjects == ["eegbci-001", "simulated-001", "simulated-002"]
    for key, digests in cli_study["resumed"].items():  # extending left the others untouched
        assert _hashes(out / STORE / "subjects" / key) == digests
    t = study.table
    assert t.loc["eegbci-001", "n_trials"] == 45 and (t.loc[t.dataset == "simulated",
                                                            "n_trials"] == 30).all()
    assert set(t.classes) == {"left/right"}
    assert t[["accuracy_shallow", "accuracy_csp+lda"]].stack().between(0, 1).all()
    assert (t.conservation_error_accounted < 1e-3).all()
    csv = (out / "study.csv").read_text().splitlines()
    assert csv[0].startswith("subject,dataset") and len(csv) == 4
    for key in study.subjects:
        assert (out / "reports" / f"{key}.html").stat().st_size > 10_000
    assert study.accuracy.dims == ("subject", "model")
    # transfer: pre-trained on the other, fine-tuned and tested on the subject's folds
    tr = study.transfer
    assert set(tr.subject) == {"simulated-001", "simulated-002"}
    assert tr[["within", "pretrained", "transfer"]].stack().between(0, 1).all()
    assert len(tr) == 2 * 2  # subjects x folds
    page = (out / "report.html").read_text()
    for what in ("Accuracy per subject", "Grand average per class", "Every subject: left",
                 "How consistent are the subjects?", "Subject-to-subject transfer",
                 'href="reports/eegbci-001.html"'):
        assert what in page, what
    assert not (out / ".partial").exists()


@pytest.mark.slow
def test_group_report_renders_in_chromium(cli_study, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium)")
    shot = tmp_path / "group.png"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", f"--user-data-dir={tmp_path / 'chrome'}",
                    "--window-size=1200,3000", f"--screenshot={shot}",
                    (cli_study["out"] / "report.html").as_uri()], check=True,
                   capture_output=True, timeout=120)
    from matplotlib.image import imread

    img = imread(shot)
    assert img.shape[:2] == (3000, 1200)
    assert len(np.unique((img[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)) > 200


@pytest.mark.slow
def test_rerunning_a_finished_study_does_no_work(cli_study):
    out = cli_study["out"]
    before = _hashes(out / STORE)
    # without --quiet: it says why it did nothing; without --transfer: no cluster needed
    res = _cli(*[a for a in cli_study["args"] if a not in ("--quiet", "--transfer")])
    assert res.returncode == 0 and "2 of 2 subject(s) already complete" in res.stdout
    assert _hashes(out / STORE) == before


# ------------------------------------------------------------------ on a cluster we are given
@pytest.fixture(scope="module")
def cluster():
    """One LocalCluster (2 workers x 1 thread) the next tests send their work to."""
    import cloudpickle
    from dask.distributed import Client, LocalCluster

    from neurolrp.study._runner import environ_kept

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests
    with environ_kept(), LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=None) as lc, Client(lc) as client:
        yield client
    cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def _loader_failing_on_2(subject):
    if subject == 2:
        raise RuntimeError("recording of subject 2 is corrupt")
    return simulate_cohort([subject], n_trials=30, sfreq=80.0, verbose=False)[subject][0]


@pytest.mark.slow
def test_failing_subject_does_not_stop_the_others(tmp_path, cluster):
    # a study folder named like the store inside it (a natural name): it used to run every
    # subject, then crash writing the table (the folder was read as the store itself)
    out = tmp_path / STORE
    study = run_study([1, 2, 3], dataset=_loader_failing_on_2, out=out,
                      scheduler=cluster, report=False, **TINY_KW)
    assert list(study.failed) == ["loader-failing-on-2-002"]
    assert "recording of subject 2 is corrupt" in study.failed["loader-failing-on-2-002"]
    assert study.subjects == ["loader-failing-on-2-001", "loader-failing-on-2-003"]
    import pandas as pd

    assert pd.read_csv(out / "study.csv", index_col=0).index.tolist() == study.subjects
    assert load_study(out / STORE).subjects == study.subjects  # the store itself reads too
    with pytest.raises(ValueError, match="is the store of a study, not its folder"):
        run_study([1], dataset=_loader_failing_on_2, out=out / STORE, scheduler=cluster,
                  **TINY_KW)
    assert not cluster.status == "closed"  # a cluster we were given stays up
    with pytest.raises(ValueError, match="other settings.*folds"):
        run_study([1], dataset=_loader_failing_on_2, out=out, scheduler=cluster,
                  **{**TINY_KW, "folds": 3})
    with pytest.raises(FileExistsError, match="resume=True"):
        run_study([1], dataset=_loader_failing_on_2, out=out, scheduler=cluster,
                  resume=False, **TINY_KW)


@pytest.mark.slow
def test_local_cluster_leaves_the_environment_as_it_was():
    """dask's nanny writes its workers' settings into our environment: they reach the
    workers, and are gone from ours once the cluster is (a notebook that ran a study
    would otherwise start every later process on one thread)."""
    from neurolrp.study._runner import dask_client

    before = dict(os.environ)
    with dask_client(None, 1, 1, False) as (client, _):
        [seen] = client.run(lambda: (os.environ.get("OMP_NUM_THREADS"),
                                     os.environ.get("MALLOC_ARENA_MAX"))).values()
    assert seen == ("1", "1")
    assert dict(os.environ) == before


def test_script_from_stdin_is_told_what_to_do(tmp_path):
    """Worker processes re-import the calling script, which stdin cannot give them again:
    a clear error before any work, not dask's bare "Nanny failed to start"."""
    script = (f"from neurolrp.study import run_study\n"
              f"run_study([1], dataset='simulated', out={str(tmp_path / 's')!r}, n_workers=1)\n")
    proc = subprocess.run([sys.executable, "-"], input=script, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "MPLBACKEND": "Agg"})
    assert proc.returncode != 0
    assert "read from <stdin>" in proc.stderr and "if __name__ ==" in proc.stderr
    assert "processes=False" in proc.stderr and "Nanny" not in proc.stderr
    assert not (tmp_path / "s").exists()  # before any work


@pytest.mark.slow
def test_moabb_fake_dataset_through_run_study(tmp_path, cluster):
    ds = _fake_moabb()
    study = run_study([1, 2], dataset=ds, dataset_params={"paradigm": "left-right"},
                      out=tmp_path / "m", scheduler=cluster.scheduler.address, resample=64.0,
                      tmin=None, tmax=None, **{k: v for k, v in TINY_KW.items()
                                               if k not in ("tmin", "tmax")})
    assert not study.failed, study.failed
    assert len(study.subjects) == 2 and study.subjects[0].startswith("moabb-FakeDataset")
    assert set(study.table.classes) == {"left_hand/right_hand"}
    assert (study.table.n_channels == 5).all()
    assert (tmp_path / "m" / "report.html").exists()

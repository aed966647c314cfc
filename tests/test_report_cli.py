"""Plots, the HTML report (looked at in headless Chromium), and the command line."""

import io
import json
import logging
import shutil
import subprocess
import sys

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

import neurolrp
from neurolrp import channels, relevance, viz
from neurolrp._utils import logger
from neurolrp.cli import main

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def rel(fitted_shallow, hands_feet_small):
    return neurolrp.explain(fitted_shallow, hands_feet_small, verbose=False)


def test_topomap_single_trial_selection_and_average(rel):
    for r in (rel.isel(trial=[0]), rel.sel(trial=rel.y_true == "feet"), rel):
        fig = viz.plot_topomap(r, window=1.0)
        axes = fig.axes
        assert len(axes) == 4  # 3 windows over 0-3 s + colour bar
        assert "relevance" in axes[-1].get_ylabel()
        vmins = {im.get_clim() for ax in axes[:-1] for im in ax.images}
        assert len(vmins) == 1  # one symmetric limit for the row
        lo, hi = vmins.pop()
        assert lo == -hi > -np.inf
        plt.close(fig)


def test_window_sums_conserve_relevance(rel):
    maps = relevance.window_sums(rel, [(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)])
    np.testing.assert_allclose(maps.sum(), rel.mean("trial").sum().item(), rtol=1e-4)


def test_channel_time_orders_channels_over_the_scalp(rel):
    order = channels.scalp_order(rel)
    names = list(rel.channel.values[order])
    assert names.index("Fp1") < names.index("Cz") < names.index("Oz")
    assert names.index("C3") < names.index("Cz") < names.index("C4")
    fig = viz.plot_channel_time(rel.isel(trial=[0]), data=np.zeros((64, rel.sizes["time"])))
    assert len(fig.axes) == 3  # EEG, relevance, colour bar
    plt.close(fig)


def test_gallery_and_errors(rel):
    fig = viz.plot_class_gallery(rel, "feet", n_correct=2)
    assert "feet" in fig._suptitle.get_text()
    plt.close(fig)
    with pytest.raises(ValueError, match="No trials of class"):
        viz.plot_class_gallery(rel, "tongue")
    unlabeled = neurolrp.explain(neurolrp.models.SturmDNN(4, 20, 2, 10.0),
                                 np.zeros((3, 4, 20), np.float32), verbose=False)
    with pytest.raises(ValueError, match="no labels"):
        viz.plot_class_gallery(unlabeled, "0")
    with pytest.raises(ValueError, match="no scalp positions"):
        viz.plot_topomap(unlabeled)
    with pytest.raises(ValueError, match="No trials"):
        viz.plot_topomap(rel.sel(trial=rel.y_true == "tongue"))


@pytest.mark.slow
def test_report_opens_in_chromium(hands_feet_small, tmp_path):
    from neurolrp.report import SECTIONS, subject_report

    # a few trials on the slider (each is a figure; test_report checks its order and
    # size): the page still has every section, rendered
    summary = subject_report(hands_feet_small, tmp_path, n_splits=3, max_trials=4,
                             classifier_params={"max_epochs": 3, "patience": 3},
                             verbose=False)
    html = (tmp_path / "report.html").read_text()
    for section in SECTIONS:
        assert section in html, section
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved["accuracy"].keys() == {"shallow", "csp+lda"}
    assert saved["n_trials"] == 45 and saved["conservation_error_accounted"] < 1e-4
    back = neurolrp.load_relevance(tmp_path / "relevance.nc")
    assert back.sizes["trial"] == 45 and list(back.trial.values) == list(range(45))
    assert summary["files"]["report"].endswith("report.html")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium)")
    shot = tmp_path / "report.png"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'chrome'}", "--window-size=1280,2000",
                    f"--screenshot={shot}", (tmp_path / "report.html").as_uri()],
                   check=True, capture_output=True, timeout=120)
    from matplotlib.image import imread

    img = imread(shot)
    assert img.shape[0] == 2000 and img.shape[1] == 1280
    # a rendered page, not a blank one: many distinct colours
    assert len(np.unique((img[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)) > 200


def test_cli_help_and_errors(capsys):
    for argv in (["--help"], ["demo", "--help"], ["run", "--help"]):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 0
    out = capsys.readouterr().out
    assert "demo" in out and "--composite" in out and "--epochs" in out
    assert main(["run", "--epochs", "missing-epo.fif"]) == 1
    assert "No such file" in capsys.readouterr().err
    assert main(["run"]) == 1
    assert "--dataset" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["run", "--dataset", "eegbci", "--task", "tongue"])
    assert e.value.code == 2


def test_console_script_runs():
    res = subprocess.run([sys.executable, "-m", "neurolrp.cli", "demo", "--help"],
                         capture_output=True, text=True)
    assert res.returncode == 0 and "--out" in res.stdout
    exe = shutil.which("neurolrp")
    assert exe is not None, "the neurolrp console script is not installed"


def test_cli_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"neurolrp {neurolrp.__version__}"


def _fake_summary(task, n_wrong, within=False):
    return {"n_trials": 45, "explained_model": "shallow", "explained_model_within_chance": within,
            "accuracy": {"shallow": {"mean": 0.6, "sd": 0.1}, "csp+lda": {"mean": 0.5, "sd": 0.1}},
            "n_misclassified": n_wrong, "versions": {"neurolrp": neurolrp.__version__}}


def test_cli_subject_implies_eegbci_and_explain_checked(monkeypatch, tmp_path, capsys):
    import neurolrp.cli as cli
    import neurolrp.datasets as datasets

    calls = []
    monkeypatch.setattr(datasets, "load_eegbci", lambda s, t, **kw: calls.append((s, t)) or "ep")
    monkeypatch.setattr(cli, "_run_report", lambda ep, args, out=None: calls.append(args.explain))
    out = str(tmp_path / "o")
    assert main(["run", "--subject", "2", "--task", "imagery/left-right", "--out", out]) == 0
    assert calls == [(2, "imagery/left-right"), "best"]
    assert main(["run", "--task", "imagery/left-right", "--out", out]) == 0
    assert calls[-2] == (1, "imagery/left-right")
    assert main(["run", "--epochs", "x-epo.fif", "--subject", "2", "--out", out]) == 1
    assert "do not go with --epochs" in capsys.readouterr().err
    assert main(["run", "--subject", "1", "--models", "shallow", "--explain", "eegnet",
                 "--out", out]) == 1
    assert "--explain eegnet is not among --models" in capsys.readouterr().err


def test_cli_demo_writes_both_tasks_and_an_index(monkeypatch, tmp_path, capsys):
    import neurolrp.cli as cli
    import neurolrp.datasets as datasets

    monkeypatch.setattr(datasets, "load_eegbci", lambda s, t, **kw: t)

    asked = []

    def fake_run(task, args, out=None, **kwargs):
        asked.append(kwargs)
        out.mkdir(parents=True)
        (out / "report.html").write_text("r")
        return _fake_summary(task, 0 if "hands" in task else 18, within="left" in task)

    monkeypatch.setattr(cli, "_run_report", fake_run)
    out = tmp_path / "demo"
    log = io.StringIO()  # the table goes through neurolrp's logger
    handler = logging.StreamHandler(log)
    logger.addHandler(handler)
    try:
        # --jobs 1: in this process, where the fakes are
        assert main(["demo", "--out", str(out), "--jobs", "1"]) == 0
        assert main(["demo", "--out", str(tmp_path / "quiet"), "--quiet", "--jobs", "1"]) == 0
    finally:
        logger.removeHandler(handler)
    assert sorted(p.name for p in out.iterdir()) == ["hands-feet", "index.html", "left-right"]
    page = (out / "index.html").read_text()
    assert 'href="hands-feet/report.html"' in page and 'href="left-right/report.html"' in page
    assert page.count("within chance") == 1 and "<td>18</td>" in page
    # what the demo does more cheaply is asked for and said, on the page and in the output
    assert asked == [dict(cli.DEMO_REPORT, note=cli.DEMO_NOTE)] * 4  # two demos
    assert asked[0]["quality_steps"] == 5 and asked[0]["classifier_params"] == {"patience": 10}
    assert "5 steps" in page
    text = capsys.readouterr().out
    assert "Index of both reports" in text and "5 steps" in text
    # the time per stage, loading included, as a table at the end; not with --quiet
    table = log.getvalue()
    assert table.count("Where the time went") == 1
    assert "loading" in table and "total" in table and "CPU s" in table
    # a second run refuses without --overwrite, before any work
    assert main(["demo", "--out", str(out)]) == 1
    assert "not empty" in capsys.readouterr().err
    (out / "notes.txt").write_text("mine")
    assert main(["demo", "--out", str(out), "--overwrite"]) == 1
    assert "notes.txt" in capsys.readouterr().err


def test_cli_demo_side_by_side_goes_through_dask(monkeypatch, tmp_path, capsys):
    """The parallel path: each task submitted to the dask client, its output printed whole."""
    import contextlib

    import torch
    from dask.distributed import Client

    import neurolrp._threads as threads
    import neurolrp.cli as cli
    import neurolrp.datasets as datasets
    import neurolrp.study._runner as runner

    monkeypatch.setattr(datasets, "load_eegbci", lambda s, t, **kw: t)

    def fake_run(task, args, out=None, **kwargs):
        print(f"report of {task}")
        out.mkdir(parents=True)
        (out / "report.html").write_text("r")
        return _fake_summary(task, 0 if "hands" in task else 18, within="left" in task)

    monkeypatch.setattr(cli, "_run_report", fake_run)
    monkeypatch.setattr(threads, "tune_process", lambda: {})  # the test process stays as is
    monkeypatch.setattr(threads, "available_cores", lambda: 2)
    submitted = []

    @contextlib.contextmanager
    def threads_client(scheduler, n_workers, threads_per_worker, verbose):
        # in-process worker (one thread): the fakes above are what it runs
        assert scheduler is None and (n_workers, threads_per_worker) == (2, 1)
        with Client(processes=False, n_workers=1, threads_per_worker=1,
                    dashboard_address=None) as client:
            real_submit = client.submit

            def submit(fn, *args, **kwargs):
                submitted.append(fn.__name__)
                return real_submit(fn, *args, **kwargs)

            client.submit = submit
            yield client, "threads"

    monkeypatch.setattr(runner, "dask_client", threads_client)
    n_threads = torch.get_num_threads()
    try:
        assert main(["demo", "--out", str(tmp_path / "demo")]) == 0
    finally:
        torch.set_num_threads(n_threads)
    assert submitted == ["_demo_task", "_demo_task"]
    out = capsys.readouterr().out
    assert "side by side on dask (2 worker processes, 1 thread(s) each" in out
    # each task's lines printed whole under its own heading (captured in the worker)
    for k, task in enumerate(("imagery/hands-feet", "imagery/left-right")):
        assert f"== Task {k + 1} of 2: {task} ==\nreport of {task}\n" in out
    assert (tmp_path / "demo" / "index.html").exists()


def test_demo_jobs_share_the_cores(monkeypatch):
    import neurolrp._threads as threads
    from neurolrp.cli import DEMO_TASKS, demo_jobs

    assert len(DEMO_TASKS) == 2
    for cores, jobs, expected in ((1, None, (1, 1)), (2, None, (2, 1)), (16, None, (2, 8)),
                                  (2, 1, (1, 2)), (8, 5, (2, 4))):
        monkeypatch.setattr(threads, "available_cores", lambda: cores)
        assert demo_jobs(jobs) == expected
    assert main(["demo", "--jobs", "0", "--out", "x"]) == 1

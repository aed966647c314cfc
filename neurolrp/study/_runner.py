"""run_study: the per-subject tasks on dask, written to the store as they arrive."""

import contextlib
import logging
import os
import shutil
import sys
import threading
import time
import traceback
import uuid
from pathlib import Path

from .._checks import check_int
from .._utils import logger, verbose
from ._inputs import (check_config, check_count, check_subjects, load_subject, local_size,
                      progress_bar, resolve_dataset, set_threads)
from ._store import (check_dataset_options, check_out, commit_subject, create_store, group_state,
                     load_study, remove_study, study_paths, subject_dataset, write_table)


_capture = threading.local()


#: Trials on each subject report's slider in a study (misclassified first): one
#: figure per trial is about a third of a report's time, and a study's reports
#: are looked at one subject at a time; every trial is in the store regardless.
SLIDER_TRIALS = 20

def _capturing_cross_validate(*args, **kwargs):
    """neurolrp.report's cross_validate, keeping its result for the calling thread.

    :func:`~neurolrp.report.subject_report` returns headline numbers only; the
    study also stores the per-fold table and every trial's out-of-fold
    prediction, which its cross-validation already computed. Installed once
    per process; returns exactly what cross_validate returns.
    """
    from ..decoding import cross_validate

    result = cross_validate(*args, **kwargs)
    if getattr(_capture, "sink", None) is not None:
        _capture.sink.append(result)
    return result


@contextlib.contextmanager
def _capture_cv():
    from .. import report

    if report.cross_validate is not _capturing_cross_validate:
        report.cross_validate = _capturing_cross_validate
    _capture.sink = sink = []
    try:
        yield sink
    finally:
        _capture.sink = None


def process_subject(source, subject, config, threads=1, slider_trials=SLIDER_TRIALS):
    """Everything for one subject: the task a dask worker runs.

    Loads the epochs, runs :func:`~neurolrp.report.subject_report`
    (cross-validation beside CSP + LDA, out-of-fold LRP of every trial, the
    HTML report) with ``threads`` torch threads, and returns the results.
    Writes nothing outside a temporary folder: the client stores them.

    Parameters
    ----------
    source : Source
        Where the subject's epochs come from (built by :func:`run_study`
        from ``dataset``, ``task`` and ``dataset_params``).
    subject : int
        Subject number.
    config : dict
        The study's settings (``models``, ``composite``, ``folds``, ``seed``,
        ``classifier_params``, ``resample``, ``tmin``, ``tmax``, ``quality``).
    threads : int
        Torch threads for this task.
    slider_trials : int
        Trials on the subject report's slider (``0``: none).

    Returns
    -------
    result : dict
        ``key``, ``subject``, ``dataset`` (:func:`subject_dataset`),
        ``summary`` (the report's headline numbers), ``html`` (the report,
        bytes) and ``timing`` (load, work and CPU seconds, peak resident
        memory of the process, torch threads, process id).

    Raises
    ------
    RuntimeError
        ``subject_report`` no longer runs its cross-validation through
        ``neurolrp.report.cross_validate`` (the study keeps that result).
    """
    import resource
    import tempfile

    from ..relevance import load_relevance
    from ..report import subject_report

    t0 = time.perf_counter()
    c0 = time.process_time()
    set_threads(threads)
    epochs = load_subject(source, subject, config)
    t_load = time.perf_counter() - t0
    key = source.key(subject)
    with tempfile.TemporaryDirectory(prefix="neurolrp-study-") as tmp:
        folder = Path(tmp) / "report"
        with _capture_cv() as sink:
            summary = subject_report(
                epochs, folder, models=tuple(config["models"]),
                explain_model=config["explain_model"], composite=config["composite"],
                n_splits=config["folds"], seed=config["seed"], quality=config["quality"],
                classifier_params=config["classifier_params"] or None,
                max_trials=slider_trials,
                title=f"{key}: {epochs.info.get('description') or key}", verbose=False)
        if len(sink) != 1:
            raise RuntimeError("neurolrp.report.subject_report no longer calls "
                               "neurolrp.report.cross_validate once; update neurolrp.study.")
        rel = load_relevance(folder / "relevance.nc")
        page = (folder / "report.html").read_bytes()
    ds = subject_dataset(rel, sink[0], config)
    timing = {"load_seconds": round(t_load, 3),
              "work_seconds": round(time.perf_counter() - t0 - t_load, 3),
              "cpu_seconds": round(time.process_time() - c0, 3),
              "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
              "torch_threads": threads, "pid": os.getpid()}
    summary.pop("files", None)
    return {"key": key, "subject": subject, "dataset": ds, "summary": summary, "html": page,
            "timing": timing}


def _worker_config(threads):
    """Dask settings for the LocalCluster's worker processes (set before they start).

    - ``OMP/MKL/OPENBLAS_NUM_THREADS``: the torch and BLAS threads each worker
      may use (dask's default is 1).
    - ``MALLOC_ARENA_MAX=1``: a dask worker runs its task in a thread, and
      glibc gives each thread its own malloc arena, which
      :func:`neurolrp._utils.tune_allocator`'s thresholds do not keep from
      handing memory back to the kernel: training then faults its memory
      in again on every step (1.1 million page faults and 2 s of system time
      for a small subject, against 0.13 million and 0.3 s in the main
      thread). One arena brings the worker to the main thread's numbers.
    - the worker's statistical profiler (a dashboard feature, sampling every
      thread 100 times a second) is switched off: nobody looks at it here.
    """
    env = "distributed.nanny.pre-spawn-environ."
    out = {f"{env}{k}": str(threads) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                               "OPENBLAS_NUM_THREADS")}
    out[f"{env}MALLOC_ARENA_MAX"] = "1"
    out["distributed.worker.profile.enabled"] = False
    return out


def unreadable_main():
    """The script a worker process cannot re-read, or None.

    Worker processes are spawned: each re-imports the ``__main__`` module of
    the process that started them from its file. A script read from standard
    input (``python - < script.py``, a heredoc) has the file name ``<stdin>``,
    which they cannot read. A Python prompt, Jupyter and ``python -c`` have
    no file, and spawning skips them.
    """
    main = sys.modules.get("__main__")
    fname = getattr(main, "__file__", None)
    if fname is None or os.path.isfile(fname):
        return None
    return fname


def _spawn_advice():
    fname = unreadable_main()
    where = (f"This script was read from {fname}, which the worker processes re-import "
             "and cannot read again. " if fname else "")
    return (where + "Save the script to a file and put the call under "
            "`if __name__ == \"__main__\":` (workers re-import the script that starts them), "
            "or run it on threads: run_study(..., scheduler=dask.distributed.Client("
            "processes=False)).")


@contextlib.contextmanager
def environ_kept():
    """Put ``os.environ`` back as it was on leaving.

    A dask nanny writes its workers' environment (``OMP_NUM_THREADS=1``,
    ``MALLOC_ARENA_MAX``, ``PYTHONHASHSEED``...) into the environment of the
    process that starts it, to hand it to the worker it spawns, and leaves
    it there: every process the caller starts after a study (another tool,
    a notebook kernel) would otherwise run on one thread.
    """
    before = dict(os.environ)
    try:
        yield
    finally:
        for key in set(os.environ) - set(before):
            del os.environ[key]
        os.environ.update(before)


@contextlib.contextmanager
def dask_client(scheduler, n_workers, threads_per_worker, verbose):
    """A dask client: on a LocalCluster we start (and stop), or on the cluster given.

    Yields ``(client, a phrase saying where the tasks run)``; the study runner's and
    the demo's (:func:`neurolrp.cli.cmd_demo`) one way onto dask.
    """
    from dask.distributed import Client

    if scheduler is not None and not isinstance(scheduler, str):
        yield scheduler, f"the given dask client ({scheduler.scheduler.address})"
        return
    if isinstance(scheduler, str):
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as err:
            raise ConnectionError(f"Could not reach the dask scheduler at {scheduler} "
                                  f"({type(err).__name__}: {err}). Is it running, and is "
                                  "the address tcp://host:port?") from None
        try:
            n = sum(w["nthreads"] for w in client.scheduler_info()["workers"].values())
            yield client, f"the dask cluster at {scheduler} ({n} worker threads)"
        finally:
            client.close()
        return
    import dask
    from dask.distributed import LocalCluster

    with dask.config.set(_worker_config(threads_per_worker)), environ_kept():
        try:
            cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.ERROR)
        except RuntimeError as err:  # dask says only "Nanny failed to start"
            raise RuntimeError(f"The dask worker processes did not start ({err}). "
                               + _spawn_advice()) from err
        client = Client(cluster)
        try:
            yield client, (f"a dask LocalCluster of {n_workers} worker(s) x "
                           f"{threads_per_worker} torch thread(s)")
        finally:
            client.close()
            cluster.close()


@verbose
def run_study(subjects, *, dataset="eegbci", task="imagery/hands-feet", out="neurolrp-study",
              models=("shallow",), composite=None, folds=5, seed=0, classifier_params=None,
              resample=80.0, tmin=None, tmax=None, quality=True, transfer=False,
              dataset_params=None, data_path=None, scheduler=None, n_workers=None,
              threads_per_worker=1, slider_trials=SLIDER_TRIALS, resume=True, overwrite=False,
              report=True, verbose=None):
    """Run the whole job for many subjects on dask, into one zarr store.

    Per subject: cross-validation of the networks beside CSP + LDA on the
    same folds, out-of-fold LRP of every trial and the subject's HTML report
    (:func:`neurolrp.report.subject_report`). Subjects run in parallel as
    dask tasks; each finished subject is written to ``out/study.zarr`` as it
    arrives, so a run can be killed and resumed. Then the study table
    (``out/study.csv``), optionally subject-to-subject transfer, and the
    group report (``out/report.html``).

    Parameters
    ----------
    subjects : list of int
        Subject numbers, e.g. ``range(1, 110)`` for all of eegmmidb.
    dataset : str | MOABB dataset | callable
        ``"eegbci"`` (PhysioNet eegmmidb, :func:`~neurolrp.datasets.load_eegbci`),
        ``"simulated"`` (a simulated cohort,
        :func:`~neurolrp.datasets.simulate_cohort`), ``"moabb:<name>"`` or a
        MOABB dataset object (:func:`~neurolrp.datasets.load_moabb`), or your
        own picklable function ``subject -> mne.Epochs``. One study folder may
        hold subjects of several datasets (run once per dataset); keys are
        ``<dataset>-<subject:03d>``.
    task : str
        The eegmmidb task (``"imagery/hands-feet"``...); eegbci only.
    out : path-like
        The study folder (created; see the module docstring). An existing
        study there is resumed or extended.
    models : sequence of str
        Networks cross-validated beside CSP + LDA; the first is explained.
    composite : str | Composite | None
        LRP composite. ``None`` (default): chosen per network by
        :func:`neurolrp.lrp.default_composite` (``"epsilon-energy-pattern"``
        for EEGNet, ``"epsilon-pattern-box"`` for ShallowNet and SturmDNN);
        the study table's ``composite`` column says which each subject got.
    folds, seed : int
        Stratified cross-validation folds and the seed of folds and networks.
    classifier_params : dict | None
        Extra :class:`~neurolrp.EEGClassifier` parameters (e.g.
        ``{"max_epochs": 50}``).
    resample : float | None
        Sampling rate (Hz) every subject is brought to; simulated subjects
        are generated at it. ``None`` keeps each dataset's rate.
    tmin, tmax : float | None
        Crop the epochs to this window (s); default the loader's (-1 to 4 s
        for eegbci and the simulator).
    quality : bool
        Perturbation analysis in each subject's report (costs about as much
        again as the explanation).
    transfer : bool
        Also subject-to-subject transfer: for each subject, pre-train the
        explained network on the other subjects of this call (those with the
        same classes, channels and samples), fine-tune it on the subject's
        training folds and test it on its held-out folds (the folds of the
        within-subject cross-validation). Stored under ``transfer/``.
    dataset_params : dict | None
        Options of the dataset: eegbci ``l_freq``, ``h_freq``; simulated
        ``n_trials`` (100), ``n_classes`` (2), ``cohort_seed`` (0), ``l_freq``,
        ``h_freq`` (7 and 30 Hz, FIR, as eegbci's band-pass); MOABB
        ``paradigm`` ("imagery", "left-right", "p300" or a paradigm
        object), ``events``, ``l_freq``, ``h_freq``.
    data_path : path-like | None
        Folder holding ``MNE-eegbci-data/`` (eegbci), as seen by the workers.
    scheduler : str | dask.distributed.Client | None
        ``None``: a ``LocalCluster`` on this machine, ``n_workers`` worker
        processes of ``threads_per_worker`` torch threads. An address
        (``"tcp://host:8786"``) or a Client: the same tasks on that cluster.
    n_workers : int | None
        Local workers; default the cores given // ``threads_per_worker``.
    threads_per_worker : int
        Torch threads each task uses (one subject per worker at a time). On a
        LocalCluster, ``n_workers * threads_per_worker`` may not exceed the
        cores given.
    slider_trials : int
        Trials on each subject report's slider, misclassified first (default
        20; ``0``: no slider). Every trial's relevance is in the store.
    resume : bool
        Continue an existing study in ``out``: complete subjects are skipped,
        incomplete ones redone, new ones added. With False an existing study
        is an error.
    overwrite : bool
        Replace an existing study in ``out`` (only what a study wrote there
        is removed).
    report : bool
        Write the group report.
    %(verbose)s
        At ``"info"``: progress over subjects and a line per finished subject.

    Returns
    -------
    study : Study
        What :func:`load_study` returns, plus ``failed``: subject key ->
        error of the subjects that failed in this run (the others are not
        stopped by them).

    Raises
    ------
    TypeError, ValueError
        Bad subjects, dataset, task, models, composite, folds, parameters, or
        settings that differ from those of the study being resumed.
    FileExistsError
        ``out`` holds something that is not a neurolrp study, or a study
        while ``resume=False`` and ``overwrite=False``.
    PermissionError, NotADirectoryError
        ``out`` cannot be written or is a file.
    ImportError
        A MOABB dataset without MOABB installed.
    ConnectionError
        The scheduler at the given address cannot be reached.
    RuntimeError
        On a LocalCluster, the worker processes cannot start: e.g. the
        calling script was read from standard input (``python - <
        script.py``), which they cannot re-import (checked before any work;
        the message says what to do).
    """
    from ._group_report import group_report
    from ._transfer import run_transfer

    subjects = check_subjects(subjects)
    source = resolve_dataset(dataset, task, dataset_params, data_path, subjects)
    config, _ = check_config(models, composite, folds, seed, classifier_params, resample,
                             tmin, tmax, quality)
    slider_trials = check_int(slider_trials, "slider_trials", low=0)
    if scheduler is None:
        n_workers = local_size(n_workers, threads_per_worker)
    elif not isinstance(scheduler, str) and not hasattr(scheduler, "submit"):
        raise TypeError(f"scheduler must be None, an address 'tcp://host:port' or a dask "
                        f"Client, got {type(scheduler).__name__}.")
    else:  # the cluster's own workers: their cores are not ours to count
        check_count("threads_per_worker", threads_per_worker)
        if n_workers is not None:
            raise ValueError("n_workers sizes a LocalCluster; with scheduler= the cluster "
                             "has its own workers.")
    if scheduler is None and unreadable_main():  # before any work, not as dask's bare error
        raise RuntimeError("run_study starts a dask LocalCluster of worker processes. "
                           + _spawn_advice())
    mode = check_out(out, config, resume, overwrite)
    paths = study_paths(out)
    check_dataset_options(paths, source)

    if mode == "overwrite":
        logger.info(f"Replacing the study in {paths['out']}")
        remove_study(paths)
    if mode in ("new", "overwrite"):
        create_store(paths, config)
    shutil.rmtree(paths["partial"], ignore_errors=True)  # leftovers of a killed run
    keys = {s: source.key(s) for s in subjects}
    done = [s for s in subjects if group_state(paths["subjects"] / keys[s]) == "complete"]
    todo = [s for s in subjects if s not in done]
    if done:
        logger.info(f"{len(done)} of {len(subjects)} subject(s) already complete in "
                    f"{paths['store']}; skipped.")
    failed = {}
    t0 = time.perf_counter()
    if todo or transfer:
        with dask_client(scheduler, n_workers, threads_per_worker, verbose) as (client, where):
            if todo:
                logger.info(f"Running {len(todo)} subject(s) of {source.label} on {where}")
                failed.update(_run_subjects(client, paths, source, todo, config,
                                            threads_per_worker, slider_trials, verbose))
            if transfer:
                failed.update(run_transfer(client, paths, source, subjects, config,
                                           threads_per_worker, verbose))
    shutil.rmtree(paths["partial"], ignore_errors=True)
    write_table(paths["out"])
    if failed:
        logger.warning(f"{len(failed)} failed: " + "; ".join(
            f"{k}: {v.splitlines()[0]}" for k, v in failed.items()))
    if report:
        study = load_study(paths["out"])
        if study.subjects:
            path = group_report(study)
            logger.info(f"Group report: {path.resolve()}")
    logger.info(f"Study: {len(subjects) - len(failed)} of {len(subjects)} subject(s) "
                f"complete in {paths['store']} ({time.perf_counter() - t0:.0f} s)")
    study = load_study(paths["out"])
    study.failed = failed
    return study


def _run_subjects(client, paths, source, todo, config, threads, slider_trials, verbose):
    from dask.distributed import as_completed

    futures = {client.submit(process_subject, source, s, config, threads, slider_trials,
                             key=f"neurolrp-{source.key(s)}-{uuid.uuid4().hex[:6]}",
                             pure=False): s for s in todo}
    bar = progress_bar(len(todo), "Subjects", verbose)
    failed = {}
    try:
        for fut in as_completed(futures):
            s = futures.pop(fut)
            key = source.key(s)
            if fut.status != "finished":
                err = fut.exception()
                tb = "".join(traceback.format_exception(type(err), err, fut.traceback()))
                failed[key] = f"{type(err).__name__}: {err}\n{tb}"
                logger.warning(f"{key} failed: {type(err).__name__}: {err}")
            else:
                res = fut.result()
                commit_subject(paths, source, res)
                acc = res["summary"]["accuracy"]
                logger.info(f"{key} done: " + ", ".join(
                    f"{m} {a['mean']:.3f}" for m, a in acc.items()) +
                    f" ({res['timing']['load_seconds'] + res['timing']['work_seconds']:.0f} s)")
            fut.release()
            if bar is not None:
                bar.update(1)
                bar.set_postfix(failed=len(failed))
    finally:
        if bar is not None:
            bar.close()
        for fut in futures:
            fut.cancel()
    return failed

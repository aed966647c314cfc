"""Subject-to-subject transfer: pre-train on the others, fine-tune, test on held-out folds."""

import copy
import time
import uuid

import numpy as np
import pandas as pd
import xarray as xr

from .._utils import logger
from ._inputs import load_subject, progress_bar, set_threads
from ._store import commit_group, group_attrs, group_state


def _subject_arrays(source, subject, config):
    """Data, labels and geometry of one subject (a dask task of the transfer stage)."""
    from ..datasets import epochs_to_arrays

    epochs = load_subject(source, subject, config)
    X, y, sfreq = epochs_to_arrays(epochs)
    return {"X": np.asarray(X, dtype=np.float32), "y": np.asarray(y).astype(str), "sfreq": sfreq,
            "ch_names": list(epochs.ch_names), "times": epochs.times}


def transfer_subject(key, target, others, folds, config, threads=1):
    """Pre-train on other subjects, fine-tune on each training fold, test on its held-out fold.

    Parameters
    ----------
    key : str
        The subject's key.
    target : dict
        The subject's data (``X``, ``y``, ``sfreq``).
    others : list of dict
        The other subjects' data.
    folds : array of int, shape (n_trials,)
        Fold of each trial (of the within-subject cross-validation).
    config : dict
        The study's settings.
    threads : int
        Torch threads.

    Returns
    -------
    result : dict
        Per fold: accuracy of the pre-trained network as it is (``pretrained``)
        and after fine-tuning (``transfer``); timings.
    """
    from ..classifier import EEGClassifier

    t0 = time.perf_counter()
    set_threads(threads)
    model = config["explain_model"]
    params = dict(config["classifier_params"])
    X_pre = np.concatenate([o["X"] for o in others])
    y_pre = np.concatenate([o["y"] for o in others])
    base = EEGClassifier(model, sfreq=target["sfreq"], seed=config["seed"], verbose=False,
                         **params).fit(X_pre, y_pre)
    t_pre = time.perf_counter() - t0
    X, y = target["X"], target["y"]
    rows = []
    for k in range(int(folds.max()) + 1):
        train, test = np.flatnonzero(folds != k), np.flatnonzero(folds == k)
        clf = copy.deepcopy(base)
        # the subject's own per-channel scaling, from its training trials (no labels)
        clf.scale_mean_ = X[train].mean(axis=(0, 2)).astype(np.float32)
        std = X[train].std(axis=(0, 2)).astype(np.float32)
        clf.scale_std_ = np.where(std == 0, 1.0, std).astype(np.float32)
        zero_shot = float(np.mean(clf.predict(X[test]) == y[test]))
        clf.fine_tune(X[train], y[train], seed=config["seed"] + k)
        acc = float(np.mean(clf.predict(X[test]) == y[test]))
        rows.append({"fold": k, "n_train": len(train), "n_test": len(test),
                     "pretrained": zero_shot, "transfer": acc})
    return {"key": key, "rows": rows, "n_pretrain_trials": len(y_pre),
            "pretrain_seconds": round(t_pre, 2),
            "seconds": round(time.perf_counter() - t0, 2)}


def _signature(path):
    """Classes, channels and samples of a stored subject (who can pre-train whom)."""
    ds = xr.open_zarr(str(path), consolidated=False)
    try:
        return (tuple(map(str, ds["class"].values)), tuple(map(str, ds.channel.values)),
                ds.sizes["time"])
    finally:
        ds.close()


def run_transfer(client, paths, source, subjects, config, threads, verbose):
    """Transfer for every complete subject that has partners; store each as it arrives."""
    from dask.distributed import as_completed

    keys = {s: source.key(s) for s in subjects}
    ready = [s for s in subjects if group_state(paths["subjects"] / keys[s]) == "complete"]
    groups = {}
    for s in ready:
        groups.setdefault(_signature(paths["subjects"] / keys[s]), []).append(s)
    jobs = []
    for members in groups.values():
        if len(members) < 2:
            continue
        for s in members:
            others = [o for o in members if o != s]
            pre_on = [keys[o] for o in others]
            done = paths["transfer"] / keys[s]
            if group_state(done) == "complete" and \
                    group_attrs(done).get("neurolrp_transfer", {}).get("pretrained_on") == pre_on:
                continue
            jobs.append((s, others, pre_on))
    if not jobs:
        if len(ready) < 2:
            logger.info("Transfer needs at least two complete subjects with the same classes, "
                        "channels and samples; skipped.")
        else:
            logger.info("Transfer: every subject already complete; skipped.")
        return {}
    needed = sorted({s for s, others, _ in jobs} | {o for _, others, _ in jobs for o in others})
    logger.info(f"Transfer: pre-training on the other subjects for {len(jobs)} subject(s) "
                f"(data of {len(needed)} subjects held by the cluster meanwhile)")
    data = {s: client.submit(_subject_arrays, source, s, config, pure=False,
                             key=f"neurolrp-data-{keys[s]}-{uuid.uuid4().hex[:6]}")
            for s in needed}
    futures = {}
    for s, others, pre_on in jobs:
        ds = xr.open_zarr(str(paths["subjects"] / keys[s]), consolidated=False)
        folds = ds["cv_fold"].values.copy()
        ds.close()
        fut = client.submit(transfer_subject, keys[s], data[s], [data[o] for o in others],
                            folds, config, threads, pure=False,
                            key=f"neurolrp-transfer-{keys[s]}-{uuid.uuid4().hex[:6]}")
        futures[fut] = (s, pre_on)
    bar = progress_bar(len(futures), "Transfer", verbose)
    failed = {}
    try:
        for fut in as_completed(list(futures)):
            s, pre_on = futures.pop(fut)
            key = keys[s]
            if fut.status != "finished":
                err = fut.exception()
                failed[f"transfer {key}"] = f"{type(err).__name__}: {err}"
                logger.warning(f"transfer {key} failed: {type(err).__name__}: {err}")
            else:
                res = fut.result()
                table = pd.DataFrame(res["rows"]).set_index("fold")
                within = _within_accuracy(paths, key, config["explain_model"], table.index)
                table["within"] = within
                ds = xr.Dataset.from_dataframe(table)
                attrs = {"neurolrp_transfer": {
                    "key": key, "model": config["explain_model"], "pretrained_on": pre_on,
                    "n_pretrain_trials": res["n_pretrain_trials"],
                    "pretrain_seconds": res["pretrain_seconds"], "seconds": res["seconds"],
                    "scaling": "per channel, from the subject's training folds",
                    "fine_tuning": "all weights, Adam at the network's learning rate, early "
                                   "stopping on a stratified 20 % of the training folds"}}
                commit_group(paths, "transfer", key, ds, attrs)
                logger.info(f"transfer {key}: within {table.within.mean():.3f}, pre-trained "
                            f"{table.pretrained.mean():.3f}, fine-tuned "
                            f"{table.transfer.mean():.3f}")
            fut.release()
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
        for fut in list(futures) + list(data.values()):
            fut.cancel()
    return failed


def _within_accuracy(paths, key, model, folds):
    ds = xr.open_zarr(str(paths["subjects"] / key), consolidated=False)
    try:
        acc = ds["cv_accuracy"].load()
        models = [str(m) for m in ds.model.values]
        return acc.values[models.index(model)][np.asarray(folds)]
    finally:
        ds.close()

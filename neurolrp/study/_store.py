"""The study folder and its zarr store: created once, a group per subject, read back.

A group is written whole under ``.partial/``, marked complete last, and
renamed into ``study.zarr/subjects/``; only a group that sits there and
carries the mark is read (see :mod:`neurolrp.study`).
"""

import json
import os
import shutil
import time
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from .._files import write_bytes_atomic
from .._version import __version__
from ..relevance import class_average, make_relevance, validate_relevance


#: Name of the zarr store inside a study's output folder.
STORE = "study.zarr"


FORMAT = 1


_OUR_ENTRIES = (STORE, "study.csv", "report.html", "reports", ".partial")


def study_paths(out):
    """Every path of the study folder ``out``, by role (see :mod:`neurolrp.study`)."""
    out = Path(out).expanduser()
    return {"out": out, "store": out / STORE, "subjects": out / STORE / "subjects",
            "transfer": out / STORE / "transfer", "partial": out / ".partial",
            "reports": out / "reports", "csv": out / "study.csv", "report": out / "report.html"}


def _read_json(path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def _study_attrs(store):
    meta = _read_json(Path(store) / "zarr.json")
    if not meta:
        return None
    return (meta.get("attributes") or {}).get("neurolrp_study")


def check_out(out, config, resume, overwrite):
    """Decide what happens to ``out``: 'new', 'resume'. Raise before any work."""
    p = study_paths(out)
    folder = p["out"]
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"out={str(folder)!r} is a file; a study needs a folder.")
    existing = _study_attrs(p["store"]) if p["store"].exists() else None
    # a store being created when a run was killed is ours and incomplete: not a study yet
    entries = [e for e in folder.iterdir() if not e.name.startswith(f".{STORE}.")] \
        if folder.is_dir() else []
    if entries and existing is None and _study_attrs(folder) is not None:
        raise ValueError(f"out={str(folder)!r} is the store of a study, not its folder; give "
                         f"the folder that holds it: out={str(folder.parent)!r}.")
    if entries and existing is None:
        ours = [e.name for e in entries if e.name == STORE]
        raise FileExistsError(
            f"{folder} is not empty and holds no neurolrp study "
            f"({'its study.zarr was' if ours else 'it was'} made by something else). "
            "Choose a new or empty folder for out=; neurolrp never replaces files it did "
            "not write.")
    parent = folder if folder.exists() else next(
        (q for q in folder.parents if q.exists()), Path("."))
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f"Cannot write the study to {folder}: {parent} is not writable.")
    if existing is None:
        return "new"
    if overwrite:
        return "overwrite"
    if not resume:
        raise FileExistsError(f"{folder} already holds a study. Pass resume=True to continue "
                              "or extend it, or overwrite=True to replace it.")
    if existing.get("format") != FORMAT:
        raise ValueError(f"{p['store']} was written in study format {existing.get('format')}; "
                         f"this neurolrp writes format {FORMAT}. Use a new out=.")
    old = existing.get("config", {})
    diff = {k: (old.get(k), v) for k, v in config.items() if old.get(k) != v}
    if diff:
        said = "; ".join(f"{k}: the study has {a!r}, you asked {b!r}" for k, (a, b) in diff.items())
        raise ValueError(f"{folder} was made with other settings ({said}). Resume with the "
                         "same settings, or choose a new out= (overwrite=True replaces it).")
    return "resume"


def create_store(paths, config):
    """Write the store's root (once): built aside, then renamed into place."""
    import zarr

    paths["out"].mkdir(parents=True, exist_ok=True)
    for old in paths["out"].glob(f".{STORE}.*"):  # left by a run killed while creating it
        shutil.rmtree(old, ignore_errors=True)
    tmp = paths["out"] / f".{STORE}.{uuid.uuid4().hex[:8]}"
    root = zarr.open_group(str(tmp), mode="w-")
    root.attrs["neurolrp_study"] = {
        "format": FORMAT, "config": config, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "neurolrp_version": __version__,
        "layout": "subjects/<key>: one group per complete subject (attribute complete=true); "
                  "transfer/<key>: subject-to-subject transfer"}
    root.create_group("subjects")
    root.create_group("transfer")
    os.rename(tmp, paths["store"])


def remove_study(paths):
    """Remove what a study wrote (only that); the folder's other files stay."""
    for name in _OUR_ENTRIES:
        target = paths["out"] / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()


def group_state(path):
    """'complete', 'incomplete' or None for a subject/transfer group folder."""
    meta = _read_json(Path(path) / "zarr.json")
    if meta is None:
        return "incomplete" if Path(path).exists() else None
    return "complete" if (meta.get("attributes") or {}).get("complete") is True else "incomplete"


def group_attrs(path):
    """The attributes of a subject or transfer group, read from its zarr.json."""
    meta = _read_json(Path(path) / "zarr.json") or {}
    return meta.get("attributes") or {}


def subject_dataset(rel, cv, config):
    """The subject's relevance, class averages and cross-validation as one Dataset.

    Parameters
    ----------
    rel : xarray.DataArray
        The subject's out-of-fold relevance (all trials).
    cv : CVResult
        Its cross-validation (:func:`neurolrp.cross_validate`).
    config : dict
        The study's settings.

    Returns
    -------
    ds : xarray.Dataset
        ``relevance`` (with its coordinates and attrs), ``class_mean``
        (class, channel, time) and ``class_n_trials``, ``cv_accuracy`` and
        ``cv_fit_seconds`` (model, fold), ``cv_fold`` (trial), ``cv_y_pred``
        (model, trial) and ``cv_proba`` (model, trial, class); strings as
        variable-length strings (what zarr v3 stores stably).
    """
    ds = rel.to_dataset()
    classes = [str(c) for c in cv.classes]
    means, counts = [], []
    for cls in classes:
        avg = class_average(rel, cls)
        means.append(avg.mean("trial").values.astype(np.float32))
        counts.append(avg.sizes["trial"])
    ds["class_mean"] = (("class", "channel", "time"), np.stack(means))
    ds["class_mean"].attrs["description"] = (
        "mean relevance of the correctly classified trials of each class (all its trials "
        "where none was correct), explained for that class")
    ds["class_n_trials"] = (("class",), np.asarray(counts, dtype=np.int64))
    ds = ds.assign_coords({"class": np.asarray(classes, dtype=object)})
    scores = cv.scores
    models = list(dict.fromkeys(scores.model))
    n_folds = len(cv.folds)
    acc = np.full((len(models), n_folds), np.nan)
    fit_s = np.full_like(acc, np.nan)
    for r in scores.itertuples():
        acc[models.index(r.model), r.fold] = r.accuracy
        fit_s[models.index(r.model), r.fold] = r.fit_seconds
    ds["cv_accuracy"] = (("model", "fold"), acc)
    ds["cv_fit_seconds"] = (("model", "fold"), fit_s)
    fold_of = np.full(rel.sizes["trial"], -1, dtype=np.int64)
    trials = rel.trial.values  # the epochs' own indices, in the epochs' order
    for k, (_, test) in enumerate(cv.folds):
        fold_of[test] = k  # folds hold positions in the epochs
    ds["cv_fold"] = (("trial",), fold_of)
    pred = cv.predictions.set_index(["model", "trial"]).sort_index()
    y_pred = np.empty((len(models), len(trials)), dtype=object)
    proba = np.full((len(models), len(trials), len(classes)), np.nan)
    for i, m in enumerate(models):
        part = pred.loc[m].reindex(trials)
        y_pred[i] = [str(v) for v in part.y_pred.values]
        for j, c in enumerate(classes):
            if f"proba_{c}" in part:
                proba[i, :, j] = part[f"proba_{c}"].values
    ds["cv_y_pred"] = (("model", "trial"), y_pred)
    ds["cv_proba"] = (("model", "trial", "class"), proba)
    ds = ds.assign_coords(model=np.asarray(models, dtype=object), fold=np.arange(n_folds))
    # variable-length strings: zarr v3 has no stable specification for fixed-width ones
    return _as_object_strings(ds)


def _encoding(ds):
    n_t = ds.sizes["trial"]
    chunk = (min(n_t, 64), ds.sizes["channel"], ds.sizes["time"])
    return {"relevance": {"chunks": chunk}}


def commit_group(paths, group, key, ds, attrs):
    """Write a group under .partial, mark it complete last, rename it into the store."""
    tmp = paths["partial"] / f"{group}-{key}-{uuid.uuid4().hex[:8]}"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)  # zarr v3 string dtype notices
        ds.to_zarr(str(tmp), mode="w-", consolidated=False,
                   encoding=_encoding(ds) if "relevance" in ds else None)
    import zarr

    g = zarr.open_group(str(tmp), mode="r+")
    g.attrs.update({**attrs, "complete": True})  # the completion mark, written last
    final = paths[group] / key
    if final.exists():  # an incomplete leftover (complete groups are never redone)
        shutil.rmtree(final)
    os.rename(tmp, final)
    return final


def commit_subject(paths, source, result):
    """Store one subject's result: its report, then its group (see :func:`commit_group`)."""
    key = result["key"]
    write_bytes_atomic(paths["reports"] / f"{key}.html", result["html"])
    attrs = {"neurolrp_subject": {
        "key": key, "dataset": source.label, "subject": result["subject"],
        "dataset_options": source.options, "summary": result["summary"],
        "timing": result["timing"], "report": f"reports/{key}.html",
        "written": time.strftime("%Y-%m-%dT%H:%M:%S")}}
    return commit_group(paths, "subjects", key, result["dataset"], attrs)


def check_dataset_options(paths, source):
    """A dataset already in the study must come with the same options."""
    folder = paths["subjects"]
    if not folder.is_dir():
        return
    for entry in sorted(folder.iterdir()):
        info = group_attrs(entry).get("neurolrp_subject") or {}
        if info.get("dataset") == source.label:
            old = info.get("dataset_options")
            if old != json.loads(json.dumps(source.options)):
                raise ValueError(f"The study's {source.label} subjects were made with "
                                 f"{old}; you asked {source.options}. Use the same options or "
                                 "another out=.")
            return


@dataclass
class Study:
    """A study read back from its folder (:func:`load_study`).

    Attributes
    ----------
    path : pathlib.Path
        The study folder.
    config : dict
        The settings every subject was run with.
    table : pandas.DataFrame
        One row per complete subject (index: the subject key): dataset,
        subject number, trials, classes, accuracy (mean and sd over folds) of
        every network and CSP + LDA, conservation, timings, the report's
        path; with transfer, the mean within-subject, pre-trained and
        fine-tuned accuracies.
    subjects : list of str
        Keys of the complete subjects.
    incomplete : list of str
        Subjects or transfer results present but not complete (a killed
        run); never read.
    transfer : pandas.DataFrame | None
        One row per subject and fold: ``within``, ``pretrained``,
        ``transfer`` accuracy.
    failed : dict
        Subject key -> error, of the run that returned this (empty when
        loaded).
    """

    path: Path
    config: dict
    table: pd.DataFrame
    subjects: list
    incomplete: list
    transfer: object = None
    failed: dict = field(default_factory=dict)

    @property
    def store(self):
        """Path of the zarr store."""
        return self.path / STORE

    @property
    def report(self):
        """Path of the group report (may not exist yet)."""
        return self.path / "report.html"

    def _check(self, key):
        if key not in self.subjects:
            raise KeyError(f"No complete subject {key!r} in {self.path}; have "
                           f"{self.subjects[:10]}{' ...' if len(self.subjects) > 10 else ''}.")

    def dataset(self, key):
        """Everything stored for one subject, as a lazy ``xarray.Dataset``."""
        self._check(key)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=UserWarning)
            ds = xr.open_zarr(str(self.store), group=f"subjects/{key}", consolidated=False)
        return ds

    def relevance(self, key):
        """The subject's relevance (validated DataArray, loaded, as it was explained)."""
        ds = self.dataset(key)
        try:
            names = [n for n, c in ds.coords.items() if set(c.dims) <= {"trial", "channel",
                                                                         "time"}]
            rel = ds["relevance"].reset_coords(drop=True).assign_coords(
                {n: ds.coords[n] for n in names}).load()
        finally:
            ds.close()
        rel = _as_object_strings(rel)
        rel.attrs = {k: (v.tolist() if isinstance(v, np.ndarray) else v)
                     for k, v in rel.attrs.items()}
        validate_relevance(rel)
        return rel

    def class_means(self, key):
        """The subject's class averages: DataArray ``(class, channel, time)``."""
        ds = self.dataset(key)
        try:
            out = ds["class_mean"].load()
            out = out.assign_coords(n_trials=("class", ds["class_n_trials"].values))
            for c in ("ch_x", "ch_y", "ch_z"):
                out = out.assign_coords({c: ("channel", ds[c].values)})
            out.attrs["sfreq"] = float(ds["relevance"].attrs.get("sfreq", np.nan))
        finally:
            ds.close()
        return _as_object_strings(out)

    def cv(self, key):
        """The subject's cross-validation: accuracy per model and fold, predictions per trial."""
        ds = self.dataset(key)
        try:
            out = ds[["cv_accuracy", "cv_fit_seconds", "cv_fold", "cv_y_pred", "cv_proba"]]
            out = out.reset_coords(drop=True).assign_coords(
                y_true=ds.y_true).load()
        finally:
            ds.close()
        return _as_object_strings(out)

    def group_maps(self, subjects=None, *, normalise=True):
        """Every subject's class averages as one relevance array (see :func:`group_maps`)."""
        return group_maps(self, subjects, normalise=normalise)

    @property
    def accuracy(self):
        """Mean cross-validated accuracy, ``xarray.DataArray`` (subject, model)."""
        models = [c[len("accuracy_"):] for c in self.table.columns if c.startswith("accuracy_")]
        vals = self.table[[f"accuracy_{m}" for m in models]].to_numpy(dtype=float)
        return xr.DataArray(vals, dims=("subject", "model"),
                            coords={"subject": list(self.table.index), "model": models},
                            name="accuracy")


def _as_object_strings(obj):
    """zarr v3 hands strings back as numpy StringDType; the convention is object."""
    def fix(v):
        return v.astype(object) if v.dtype.kind in "TU" else v

    if isinstance(obj, xr.Dataset):
        obj = obj.assign({n: obj[n].copy(data=fix(obj[n].values)) for n in obj.data_vars})
    else:
        obj = obj.copy(data=fix(obj.values))
    return obj.assign_coords({n: (c.dims, fix(c.values), c.attrs)
                              for n, c in obj.coords.items()})


def normalised_class_means(study, keys):
    """Each subject's class averages in % of their mean absolute sum (no subject dominates)."""
    out = {}
    for key in keys:
        cm = study.class_means(key)
        scale = float(np.abs(cm.values).sum(axis=(1, 2)).mean())
        out[key] = cm * (100.0 / scale if scale > 0 else 1.0)
    return out


def as_relevance(maps, labels, template):
    """Maps (n, channel, time) as a relevance DataArray the viz functions take."""
    pos = np.column_stack([template[c].values for c in ("ch_x", "ch_y", "ch_z")])
    return make_relevance(np.asarray(maps, dtype=np.float32),
                          channels=[str(c) for c in template.channel.values],
                          times=template.time.values, y_pred=labels, target=labels,
                          score=np.zeros(len(labels)), ch_pos=pos,
                          attrs={"method": "group average", "sfreq": template.attrs["sfreq"]})


def group_maps(study, subjects=None, *, normalise=True):
    """Every subject's class averages as one relevance array, ready for :mod:`neurolrp.viz`.

    Parameters
    ----------
    study : Study | path-like
        A study (:func:`load_study`) or its folder.
    subjects : list of str | None
        Subject keys; default every complete subject. They must share
        channels and samples.
    normalise : bool
        Express each subject's class averages in % of their mean absolute sum
        over channels and time (the group report's normalisation), so that
        no subject dominates an average over subjects.

    Returns
    -------
    maps : xarray.DataArray
        A relevance array (dims ``trial``, ``channel``, ``time``) with one
        "trial" per subject and class: ``target`` (and ``y_pred``) the
        class, ``subject`` the subject's key. ``viz.plot_group_topomaps(maps,
        by="target")`` draws the grand average per class;
        ``maps.sel(trial=maps.subject == key)`` one subject's maps.

    Raises
    ------
    ValueError
        No subjects, or subjects with different channels or samples.
    """
    if not isinstance(study, Study):
        study = load_study(study)
    keys = list(study.subjects if subjects is None else subjects)
    if not keys:
        raise ValueError(f"{study.path} holds no complete subject.")
    if normalise:
        means = normalised_class_means(study, keys)
    else:
        means = {k: study.class_means(k) for k in keys}
    template = means[keys[0]]
    for k in keys[1:]:
        if list(means[k].channel.values) != list(template.channel.values) or \
                means[k].sizes["time"] != template.sizes["time"]:
            raise ValueError(f"{k} and {keys[0]} differ in channels or samples; choose "
                             "subjects= that share them.")
    maps, labels, owners = [], [], []
    for k in keys:
        for cls in map(str, means[k]["class"].values):
            maps.append(means[k].sel({"class": cls}).values)
            labels.append(cls)
            owners.append(k)
    out = as_relevance(maps, labels, template)
    out.attrs["method"] = ("class averages per subject" +
                           (", in % of each subject's mean absolute sum" if normalise else ""))
    return out.assign_coords(subject=("trial", np.asarray(owners, dtype=object)))


def _subject_row(key, attrs):
    info = attrs["neurolrp_subject"]
    summ = info["summary"]
    row = {"subject": key, "dataset": info["dataset"], "number": info["subject"],
           "task": info["dataset_options"].get("task", info["dataset_options"].get("paradigm", "")),
           "n_trials": summ["n_trials"], "classes": "/".join(summ["classes"]),
           "n_channels": summ["n_channels"], "sfreq": summ["sfreq"]}
    for m, a in summ["accuracy"].items():
        row[f"accuracy_{m}"] = a["mean"]
        row[f"sd_{m}"] = a["sd"]
    row.update(explained_model=summ["explained_model"], composite=summ["composite"],
               n_misclassified=summ["n_misclassified"],
               conservation_error=summ["conservation_error"],
               conservation_error_accounted=summ["conservation_error_accounted"])
    timing = info.get("timing", {})
    for k in ("load_seconds", "work_seconds", "cpu_seconds", "peak_rss_mb"):
        row[k] = timing.get(k)
    row["report"] = info.get("report")
    return row


def load_study(path):
    """Read a study folder (or its ``study.zarr``) back.

    Only complete subjects are read: a subject half-written by a killed run
    is listed in ``incomplete`` and never returned.

    Parameters
    ----------
    path : path-like
        The ``out`` folder of :func:`run_study` (whatever its name, ``study.zarr``
        included), or the ``study.zarr`` store in it.

    Returns
    -------
    study : Study
        The settings, the study table, and access to every subject's
        relevance (``study.relevance(key)``, an ``xarray.DataArray``), class
        averages and cross-validation (``xarray.Dataset``).

    Raises
    ------
    FileNotFoundError
        No study there.
    ValueError
        The folder holds a zarr store not written by neurolrp's study runner.
    """
    path = Path(path).expanduser()
    # the study folder holds the store; a folder may itself be named study.zarr (out=
    # "x/study.zarr"), so a store inside wins over reading the folder as the store
    if not (path / STORE).exists() and _study_attrs(path) is not None:
        path = path.parent
    paths = study_paths(path)
    if not paths["store"].exists():
        raise FileNotFoundError(f"No study in {path} (no {STORE} there).")
    meta = _study_attrs(paths["store"])
    if meta is None:
        raise ValueError(f"{paths['store']} was not written by neurolrp.study.run_study.")
    rows, incomplete = [], []
    for group in ("subjects", "transfer"):
        folder = paths[group]
        entries = sorted(e for e in folder.iterdir() if e.is_dir()) if folder.is_dir() else []
        for entry in entries:
            state = group_state(entry)
            if state != "complete":
                incomplete.append(f"{group}/{entry.name}")
            elif group == "subjects":
                rows.append(_subject_row(entry.name, group_attrs(entry)))
    table = pd.DataFrame(rows).set_index("subject") if rows else pd.DataFrame(
        columns=["dataset", "number"]).rename_axis("subject")
    transfer = _read_transfer(paths, table.index)
    if transfer is not None and len(table):
        means = transfer.groupby("subject")[["within", "pretrained", "transfer"]].mean()
        table = table.join(means.add_prefix("transfer_"), how="left")
    return Study(path=path, config=meta["config"], table=table, subjects=list(table.index),
                 incomplete=incomplete, transfer=transfer)


def _read_transfer(paths, subjects):
    folder = paths["transfer"]
    if not folder.is_dir():
        return None
    parts = []
    for key in subjects:
        entry = folder / key
        if group_state(entry) != "complete":
            continue
        ds = xr.open_zarr(str(entry), consolidated=False).load()
        df = ds.to_dataframe().reset_index()
        df.insert(0, "subject", key)
        parts.append(df)
        ds.close()
    return pd.concat(parts, ignore_index=True) if parts else None


def write_table(path):
    """Write ``study.csv`` (one row per complete subject) atomically.

    Parameters
    ----------
    path : path-like
        The study folder.

    Returns
    -------
    fname : pathlib.Path
        ``study.csv`` in the study folder.
    """
    study = load_study(path)
    target = study_paths(path)["csv"]
    write_bytes_atomic(target, study.table.to_csv().encode())
    return target

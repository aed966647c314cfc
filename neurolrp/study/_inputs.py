"""What a study takes in: subjects, the dataset, the settings; one subject's epochs."""

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


#: Dataset names run_study knows (plus "moabb:<name>" and MOABB dataset objects).
DATASETS = ("eegbci", "simulated")


#: Options each dataset takes through ``dataset_params`` (with their defaults).
DATASET_PARAMS = {
    "eegbci": {"l_freq": 7.0, "h_freq": 30.0},
    "simulated": {"n_trials": 100, "n_classes": 2, "cohort_seed": 0, "l_freq": 7.0,
                  "h_freq": 30.0},
    "moabb": {"paradigm": "imagery", "events": None, "l_freq": 7.0, "h_freq": 30.0},
    "custom": {},
}


def cores_given():
    """CPU cores this process may use (affinity and cgroup quota), at least 1."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        n = os.cpu_count() or 1
    try:  # a container's CPU quota (cgroup v2)
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            n = min(n, max(1, int(int(quota) // int(period))))
    except (OSError, ValueError):
        pass
    return max(1, n)


def check_subjects(subjects):
    """Subject numbers as a list of distinct positive ints; raise before any work."""
    if isinstance(subjects, (str, bytes)) or not hasattr(subjects, "__iter__"):
        raise TypeError(f"subjects must be a list of subject numbers (integers), got "
                        f"{subjects!r}.")
    subjects = list(subjects)
    bad = [s for s in subjects
           if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1]
    if bad:
        raise TypeError(f"subjects must be a list of positive integers; {bad[:5]} "
                        f"{'is' if len(bad) == 1 else 'are'} not.")
    if not subjects:
        raise ValueError("subjects is empty: name at least one subject.")
    twice = sorted({int(s) for s in subjects if subjects.count(s) > 1})
    if twice:
        raise ValueError(f"subject(s) {twice} named more than once.")
    return [int(s) for s in subjects]


@dataclass(frozen=True)
class Source:
    """Where a subject's epochs come from (picklable: it travels to the workers)."""

    label: str  # names the dataset in keys and tables
    kind: str  # "eegbci", "simulated", "moabb", "custom"
    options: dict = field(default_factory=dict)  # recorded; a resumed study must match
    obj: object = None  # (MOABB dataset, paradigm) or the user's loader
    data_path: str = None  # where eegbci files are (not recorded: differs per machine)

    def key(self, subject):
        return f"{self.label}-{subject:03d}"


def resolve_dataset(dataset, task, dataset_params, data_path, subjects):
    """Check the dataset and its options; return a Source. Raises before any work."""
    params = dict(dataset_params or {})
    if callable(dataset) and not isinstance(dataset, str) and not hasattr(dataset, "subject_list"):
        name = getattr(dataset, "__name__", type(dataset).__name__)
        if params:
            raise ValueError("dataset_params do not apply to your own loader; bind them to it "
                             "(functools.partial).")
        return Source(name.replace("_", "-").strip("<>-") or "custom", "custom",
                      {"loader": f"{getattr(dataset, '__module__', '')}.{name}"}, obj=dataset)
    if isinstance(dataset, str) and dataset in DATASETS:
        kind = dataset
    elif (isinstance(dataset, str) and dataset.startswith("moabb:")) or \
            hasattr(dataset, "subject_list"):
        kind = "moabb"
    else:
        raise ValueError(f"Unknown dataset {dataset!r}; choose from {list(DATASETS)}, "
                         "'moabb:<name>' (e.g. 'moabb:BNCI2014_001', needs pip install "
                         "'neurolrp[moabb]'), a MOABB dataset object, or a function "
                         "subject -> mne.Epochs.")
    unknown = sorted(set(params) - set(DATASET_PARAMS[kind]))
    if unknown:
        raise ValueError(f"dataset_params {unknown} do not apply to {kind!r}; it takes "
                         f"{sorted(DATASET_PARAMS[kind])}.")
    options = {**DATASET_PARAMS[kind], **params}
    if kind == "eegbci":
        from ..datasets import TASKS

        if task not in TASKS:
            raise ValueError(f"Unknown task {task!r}; choose from {sorted(TASKS)}.")
        beyond = [s for s in subjects if s > 109]
        if beyond:
            raise ValueError(f"eegmmidb has subjects 1 to 109; {beyond} are not among them.")
        options["task"] = task
        return Source("eegbci", kind, options, data_path=None if data_path is None
                      else str(Path(data_path).expanduser()))
    if kind == "simulated":
        n = options["n_classes"]
        if n not in (2, 3) or not isinstance(options["n_trials"], (int, np.integer)) or \
                options["n_trials"] < 4 * n:
            raise ValueError(f"simulated: n_classes must be 2 or 3 and n_trials an integer of "
                             f"at least {4 * n}; got {options}.")
        return Source("simulated", kind, options)
    from ..datasets._moabb import PARADIGMS, resolve_moabb_dataset

    ds = resolve_moabb_dataset(dataset[len("moabb:"):] if isinstance(dataset, str) else dataset)
    if isinstance(options["paradigm"], str) and options["paradigm"] not in PARADIGMS:
        raise ValueError(f"Unknown MOABB paradigm {options['paradigm']!r}; choose from "
                         f"{sorted(PARADIGMS)}.")
    missing = [s for s in subjects if s not in list(ds.subject_list)]
    if missing:
        raise ValueError(f"{ds.code} has no subject(s) {missing}; its subjects are "
                         f"{list(ds.subject_list)[:20]}.")
    if options["events"] is not None:
        options["events"] = list(options["events"])
    options["moabb_dataset"] = ds.code
    paradigm = options["paradigm"]
    if not isinstance(paradigm, str):  # a paradigm object travels along; its name is recorded
        options["paradigm"] = f"{type(paradigm).__module__}.{type(paradigm).__name__}"
    label = "moabb-" + "".join(c if c.isalnum() else "-" for c in
                               (dataset[6:] if isinstance(dataset, str) else ds.code))[:60]
    return Source(label, kind, options, obj=(ds, paradigm))


def check_config(models, composite, folds, seed, classifier_params, resample, tmin, tmax,
                 quality):
    """The study's settings, checked, as the dict the store records, and the composite."""
    from ..classifier import MODEL_CHOICES, EEGClassifier
    from ..lrp.composites import get_composite

    if isinstance(models, str):
        models = (models,)
    models = list(models)
    unknown = [m for m in models if m not in MODEL_CHOICES]
    if not models or unknown:
        raise ValueError(f"models must name networks from {list(MODEL_CHOICES)}; got {models}.")
    # None: chosen per network (neurolrp.lrp.default_composite), recorded per subject
    comp = None if composite is None else get_composite(composite)
    for name, val, lo in (("folds", folds, 2), ("seed", seed, 0)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < lo:
            raise ValueError(f"{name} must be an integer >= {lo}, got {val!r}.")
    params = dict(classifier_params or {})
    allowed = set(EEGClassifier().get_params()) - {"model", "seed", "verbose", "sfreq"}
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ValueError(f"classifier_params {unknown} are not EEGClassifier parameters "
                         f"(allowed: {sorted(allowed)}).")
    try:
        json.dumps(params)
    except TypeError:
        raise ValueError("classifier_params must be plain numbers, strings, lists and dicts "
                         "(they are recorded in the store).") from None
    if resample is not None and not resample > 0:
        raise ValueError(f"resample must be a positive rate in Hz or None, got {resample!r}.")
    if tmin is not None and tmax is not None and not tmin < tmax:
        raise ValueError(f"tmin ({tmin}) must be earlier than tmax ({tmax}).")
    return {"models": models, "explain_model": models[0],
            "composite": None if comp is None else comp.name,
            "folds": int(folds), "seed": int(seed), "classifier_params": params,
            "resample": None if resample is None else float(resample),
            "tmin": None if tmin is None else float(tmin),
            "tmax": None if tmax is None else float(tmax), "quality": bool(quality)}, comp


def load_subject(source, subject, config):
    """One subject's epochs, prepared as the study's settings say (runs on a worker).

    Parameters
    ----------
    source : Source
        The dataset (see :func:`run_study`).
    subject : int
        Subject number.
    config : dict
        The study's settings; ``resample``, ``tmin`` and ``tmax`` apply here.

    Returns
    -------
    epochs : mne.Epochs
        Validated, band-passed as the dataset's loader does (simulated data:
        ``l_freq``-``h_freq``, FIR), resampled and cropped.

    Raises
    ------
    ValueError
        ``tmin``/``tmax`` outside the epochs; any error of the loader.
    """
    from ..datasets import load_eegbci, load_epochs

    opt = source.options
    resample = config["resample"]
    if source.kind == "eegbci":
        epochs = load_eegbci(subject, opt["task"], path=source.data_path, l_freq=opt["l_freq"],
                             h_freq=opt["h_freq"], resample=resample, verbose=False)
    elif source.kind == "simulated":
        from ..datasets import simulate_cohort

        epochs = simulate_cohort([subject], seed=opt["cohort_seed"], n_trials=opt["n_trials"],
                                 n_classes=opt["n_classes"], sfreq=resample or 100.0,
                                 verbose=False)[subject][0]
        if opt["l_freq"] is not None or opt["h_freq"] is not None:  # as eegbci's loader
            epochs = epochs.filter(opt["l_freq"], opt["h_freq"], fir_design="firwin",
                                   verbose=False)
    elif source.kind == "moabb":
        from ..datasets import load_moabb

        ds, paradigm = source.obj
        if isinstance(paradigm, str):
            epochs = load_moabb(ds, subject, paradigm, events=opt["events"],
                                l_freq=opt["l_freq"], h_freq=opt["h_freq"], resample=resample,
                                verbose=False)
        else:  # the user's paradigm object sets events and rates itself
            epochs = load_moabb(ds, subject, paradigm, verbose=False)
            if resample and not np.isclose(epochs.info["sfreq"], resample):
                epochs = epochs.resample(resample, verbose=False)
    else:
        epochs = load_epochs(source.obj(subject), verbose=False)
        if resample and not np.isclose(epochs.info["sfreq"], resample):
            epochs = epochs.resample(resample, verbose=False)
    if config["tmin"] is not None or config["tmax"] is not None:
        tmin = config["tmin"] if config["tmin"] is not None else epochs.tmin
        tmax = config["tmax"] if config["tmax"] is not None else epochs.tmax
        if not (epochs.tmin - 1e-9 <= tmin < tmax <= epochs.tmax + 1e-9):
            raise ValueError(f"tmin/tmax ({tmin:g}, {tmax:g}) s lie outside the epochs "
                             f"({epochs.tmin:g} to {epochs.tmax:g} s).")
        epochs = epochs.crop(tmin, tmax, verbose=False)
    return epochs


def set_threads(n):
    """Give torch ``n`` threads in this process (a worker's task)."""
    import torch

    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


def progress_bar(total, desc, verbose):
    """A bar of ``total`` steps to ``update`` by hand, or None where no bar shows."""
    from .._utils import progress

    bar = progress(range(total), desc, total=total, verbose=verbose)
    return bar if hasattr(bar, "update") else None


def check_count(name, val):
    """Raise unless ``val`` is None or a positive integer."""
    if val is not None and (isinstance(val, bool) or not isinstance(val, (int, np.integer))
                            or val < 1):
        raise ValueError(f"{name} must be a positive integer, got {val!r}.")


def local_size(n_workers, threads_per_worker):
    """Workers of a LocalCluster here: never more worker x torch threads than cores given."""
    check_count("n_workers", n_workers)
    check_count("threads_per_worker", threads_per_worker)
    cores = cores_given()
    if n_workers is None:
        n_workers = max(1, cores // threads_per_worker)
    if n_workers * threads_per_worker > cores:
        raise ValueError(f"{n_workers} workers x {threads_per_worker} torch threads exceed the "
                         f"{cores} core(s) this process was given; oversubscribed torch "
                         "threads make training many times slower. Use fewer.")
    return n_workers

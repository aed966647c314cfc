"""Any MOABB data set in, as the same validated ``mne.Epochs`` as our other loaders.

MOABB (Mother of All BCI Benchmarks, Jayaram & Barachant 2018) knows dozens
of public BCI data sets and how to cut them into trials. It is an optional
extra: ``pip install neurolrp[moabb]``.
"""

import warnings

import numpy as np

from .._utils import logger, verbose
from ._epochs import load_epochs

#: Our paradigm names -> MOABB paradigm classes (in ``moabb.paradigms``).
PARADIGMS = {"imagery": "MotorImagery", "left-right": "LeftRightImagery", "p300": "P300"}


def _import_moabb():
    try:
        import moabb  # noqa: F401
        import moabb.datasets
        import moabb.paradigms
    except ImportError as err:
        raise ImportError(
            "Loading MOABB data sets needs the optional extra: pip install 'neurolrp[moabb]' "
            f"(or pip install moabb). Importing it failed: {err}"
        ) from None
    return moabb


def _is_moabb_dataset(obj):
    return any(c.__module__.startswith("moabb.datasets") and c.__name__ == "BaseDataset"
               for c in type(obj).__mro__)


def resolve_moabb_dataset(dataset):
    """A MOABB dataset object from a name (``"BNCI2014_001"``) or the object itself.

    Raises
    ------
    ImportError
        MOABB is not installed.
    ValueError
        The name is not a data set MOABB knows.
    TypeError
        ``dataset`` is neither a name nor a MOABB dataset.
    """
    moabb = _import_moabb()
    if isinstance(dataset, str):
        cls = getattr(moabb.datasets, dataset, None)
        if not isinstance(cls, type) or not any(b.__name__ == "BaseDataset" for b in cls.__mro__):
            known = sorted(n for n in dir(moabb.datasets) if not n.startswith("_")
                           and isinstance(getattr(moabb.datasets, n), type))
            raise ValueError(f"MOABB has no data set {dataset!r}; names look like "
                             f"'BNCI2014_001' (MOABB {moabb.__version__} knows "
                             f"{len(known)}: {', '.join(known[:8])}, ...).")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return cls()
    if _is_moabb_dataset(dataset):
        return dataset
    raise TypeError(f"dataset must be a MOABB data set name or object, got "
                    f"{type(dataset).__name__}.")


def _make_paradigm(paradigm, events, l_freq, h_freq, tmin, tmax, resample):
    import moabb.paradigms as P

    if not isinstance(paradigm, str):
        if events is not None or resample is not None:
            raise ValueError("events= and resample= apply to a paradigm given by name; set "
                             "them on your MOABB paradigm object instead.")
        return paradigm
    if paradigm not in PARADIGMS:
        raise ValueError(f"Unknown paradigm {paradigm!r}; choose from {sorted(PARADIGMS)} or "
                         "pass a moabb.paradigms object.")
    kwargs = dict(fmin=l_freq, fmax=h_freq, tmin=tmin, tmax=tmax, resample=resample)
    if events is not None:
        kwargs["events"] = list(events)
        if paradigm == "imagery":
            kwargs["n_classes"] = len(events)
    return getattr(P, PARADIGMS[paradigm])(**kwargs)


@verbose
def load_moabb(dataset, subject, paradigm="imagery", *, events=None, l_freq=7.0, h_freq=30.0,
               tmin=0.0, tmax=None, resample=None, verbose=None):
    """Load one subject of a MOABB data set as validated epochs.

    Parameters
    ----------
    dataset : str | moabb.datasets.base.BaseDataset
        A data set MOABB knows, by class name (``"BNCI2014_001"``,
        ``"Cho2017"``...) or as an object (e.g. MOABB's
        ``FakeDataset()`` for offline tests).
    subject : int
        Subject number, as MOABB counts them (``dataset.subject_list``).
    paradigm : "imagery" | "left-right" | "p300" | moabb paradigm
        How MOABB cuts the recordings into trials: ``MotorImagery``
        (all imagery classes, or ``events``), ``LeftRightImagery`` or
        ``P300``; or your own ``moabb.paradigms`` object.
    events : list of str | None
        Classes to keep (MOABB's event names, e.g. ``["left_hand",
        "right_hand"]``); default all of the paradigm's.
    l_freq, h_freq : float
        Band-pass edges in Hz (MOABB's ``fmin``, ``fmax``); 7-30 Hz as our
        eegmmidb loader.
    tmin, tmax : float | None
        Epoch window relative to the data set's own trial interval (MOABB's
        convention: 0 is the start of the cue interval; ``tmax=None`` its
        end).
    resample : float | None
        Sampling rate in Hz; default the data set's.
    %(verbose)s
        Also MOABB's and MNE's (``None``: errors only).

    Returns
    -------
    epochs : mne.Epochs
        The subject's trials of all sessions and runs, EEG channels with
        scalp positions, event names = class names, validated as
        :func:`~neurolrp.datasets.load_epochs` validates your own data.

    Raises
    ------
    ImportError
        MOABB is not installed (``pip install 'neurolrp[moabb]'``).
    ValueError
        Unknown data set, paradigm or subject; fewer than two classes.
    FileNotFoundError
        The data are not on this machine and could not be downloaded (no
        network): one message with where MOABB keeps its files.
    """
    moabb = _import_moabb()
    if isinstance(subject, bool) or not isinstance(subject, (int, np.integer)):
        raise TypeError(f"subject must be an integer, got {subject!r}.")
    ds = resolve_moabb_dataset(dataset)
    if int(subject) not in list(ds.subject_list):
        more = " ..." if len(ds.subject_list) > 20 else ""
        raise ValueError(f"{ds.code} has no subject {subject}; its subjects are "
                         f"{list(ds.subject_list)[:20]}{more}.")
    par = _make_paradigm(paradigm, events, l_freq, h_freq, tmin, tmax, resample)
    if not par.is_valid(ds):
        raise ValueError(f"MOABB's {type(par).__name__} does not apply to {ds.code} "
                         f"(paradigm {ds.paradigm!r}).")
    mne_level = "INFO" if verbose not in (None, False) else "ERROR"
    import logging

    moabb_log = logging.getLogger("moabb")
    old_level = moabb_log.level
    moabb_log.setLevel(logging.INFO if verbose not in (None, False) else logging.ERROR)
    try:
        return _get_epochs(ds, subject, par, verbose, mne_level, moabb)
    finally:
        moabb_log.setLevel(old_level)


def _get_epochs(ds, subject, par, verbose, mne_level, moabb):
    import mne

    with mne.utils.use_log_level(mne_level), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # MOABB's own deprecations
        warnings.simplefilter("ignore", RuntimeWarning)  # e.g. its NEMAR mirror being offline
        logger.info(f"Loading {ds.code} subject {subject} through MOABB {moabb.__version__}")
        try:
            epochs, labels, _ = par.get_data(ds, subjects=[int(subject)], return_epochs=True)
        except OSError as err:  # no network: requests' and pooch's errors are OSErrors
            from mne import get_config

            where = get_config("MNE_DATA") or "~/mne_data"
            raise FileNotFoundError(
                f"MOABB could not get {ds.code} subject {subject}: it is not on this machine "
                f"and downloading it failed ({type(err).__name__}: {str(err)[:200]}). MOABB "
                f"keeps its files under MNE_DATA ({where}); download them on a machine with a "
                "network (moabb's dataset.download()) and copy them there."
            ) from None
        # MOABB names the events by their codes; the labels carry the class names
        labels = [str(c) for c in labels]
        classes = sorted(set(labels))
        codes = {c: k + 1 for k, c in enumerate(classes)}
        epochs = epochs.copy()
        epochs.events[:, 2] = [codes[c] for c in labels]
        epochs.event_id = codes
        epochs.info["description"] = f"MOABB {ds.code}, subject {subject}"
        return load_epochs(epochs, verbose=verbose)

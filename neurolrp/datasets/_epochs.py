"""The user's own recordings in, validated, as ``mne.Epochs``."""

import numbers
import os
from pathlib import Path

import mne
import numpy as np

from .._checks import check_number
from .._trials import check_data, epochs_arrays, pick_eeg
from .._utils import logger, verbose
from ._eegbci import standard_montage


@verbose
def load_epochs(
    source,
    event_id=None,
    *,
    tmin=-1.0,
    tmax=4.0,
    l_freq=None,
    h_freq=None,
    montage=None,
    verbose=None,
):
    """Load and validate epochs of the user's own EEG.

    Parameters
    ----------
    source : mne.Epochs | path-like
        Epochs already in memory, a path to an ``-epo.fif`` file, or a path to
        any continuous recording that ``mne.io.read_raw`` reads (EDF, BDF,
        BrainVision, EEGLAB, FIF...).
    event_id : dict | list of str | None
        Class name -> event. For a raw file it is required: each event is an
        annotation description (``{"left": "T1", "right": "T2"}``) or an
        integer code on the stim channel (``{"left": 769, "right": 770}``).
        For epochs it selects and renames classes by their existing event
        names (``{"left": "LH", "right": "RH"}``); ``None`` keeps them all.
        A list of names (``["LH", "RH"]``) keeps those events under their own
        names. Each event may belong to one class only.
    tmin, tmax : float
        Epoch window in seconds around each event (raw files only).
    l_freq, h_freq : float | None
        Band-pass edges in Hz applied to a raw recording before epoching;
        ``None`` (default) leaves the data as they are.
    montage : str | mne.channels.DigMontage | None
        Montage to set when the data carry no channel positions, for example
        ``"standard_1005"``. ``None`` keeps the positions the data have.
    %(verbose)s
        Also MNE's log level while reading (``None``: ``"warning"``).

    Returns
    -------
    epochs : mne.Epochs
        Preloaded epochs of the good EEG channels only (non-EEG channels and
        channels in ``info["bads"]`` are dropped; the log says which), with
        event names as class names.

    Raises
    ------
    FileNotFoundError
        ``source`` is a path that does not exist.
    TypeError
        ``source`` is neither epochs nor a path.
    ValueError
        - a raw file is given without ``event_id``, or an event in
          ``event_id`` is not in the recording; ``event_id`` that is not a
          mapping (or list) of names, that is empty, or that gives one
          event to two classes;
        - ``tmax <= tmin``, band edges out of range, a file MNE cannot read;
        - there are no EEG channels;
        - some EEG channels have no scalp position (the message names them;
          pass ``montage=`` or set one with ``set_montage``);
        - fewer than two classes, or a class with fewer than two trials;
        - the data hold NaN or infinite values.
    """
    mne_verbose = "WARNING" if verbose in (None, False) else verbose
    event_id = _check_event_id(event_id, raw=not isinstance(source, mne.BaseEpochs)
                               and not str(source).endswith(_EPO_SUFFIXES))
    tmin, tmax = check_number(tmin, "tmin"), check_number(tmax, "tmax")
    if tmax <= tmin:
        raise ValueError(f"tmax ({tmax:g}) must be greater than tmin ({tmin:g}).")
    if montage is not None and not isinstance(montage, (str, mne.channels.DigMontage)):
        raise TypeError(f"montage must be a name, a DigMontage or None, got "
                        f"{type(montage).__name__}.")
    if isinstance(source, mne.BaseEpochs):
        epochs = source.copy().load_data()
        if event_id is not None:
            epochs = _select_classes(epochs, event_id)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"No such file: {path}")
        if path.is_dir():
            raise IsADirectoryError(f"{path} is a folder; give a recording or -epo.fif file.")
        if path.name.endswith(_EPO_SUFFIXES):
            epochs = _read(mne.read_epochs, path, preload=True, verbose=mne_verbose)
            if event_id is not None:
                epochs = _select_classes(epochs, event_id)
        else:
            if not event_id:
                raise ValueError(
                    f"{path.name} is a continuous recording: pass event_id, a mapping "
                    "from class name to annotation description or event code, e.g. "
                    "{'left': 'T1', 'right': 'T2'}."
                )
            raw = _read(mne.io.read_raw, path, preload=True, verbose=mne_verbose)
            from ._eegbci import check_band

            check_band(l_freq, h_freq, raw.info["sfreq"])
            epochs = _epochs_from_raw(raw, event_id, tmin, tmax, l_freq, h_freq, mne_verbose)
    else:
        raise TypeError(
            "source must be mne.Epochs or a path to an -epo.fif or raw file, got "
            f"{type(source).__name__}."
        )
    epochs = _validate(epochs, montage, mne_verbose)
    logger.info(
        f"{len(epochs)} trials x {len(epochs.ch_names)} EEG channels x {len(epochs.times)} "
        f"samples at {epochs.info['sfreq']:g} Hz; classes "
        + ", ".join(f"{c}: {len(epochs[c])}" for c in epochs.event_id)
    )
    return epochs


_EPO_SUFFIXES = ("-epo.fif", "_epo.fif", "-epo.fif.gz", "_epo.fif.gz")


def _read(reader, path, **kwargs):
    """Call an MNE reader; any failure becomes one ValueError naming the file.

    Warnings MNE gives while failing are dropped (the error says it all);
    those of a successful read are passed on.
    """
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = reader(path, **kwargs)
        except Exception as err:  # noqa: BLE001 - a file MNE cannot parse fails in many ways
            raise ValueError(f"MNE could not read {path} ({type(err).__name__}: {err}). Is it "
                             "complete and in a format MNE reads?") from None
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return out


def _check_event_id(event_id, raw):
    """Validate ``event_id`` (dict or list of names); return a dict or None."""
    if event_id is None:
        return None
    if isinstance(event_id, (list, tuple)):
        if not all(isinstance(v, str) for v in event_id):
            raise ValueError("A list event_id holds event names (strings); for integer codes "
                             "name the classes: {'left': 769, 'right': 770}.")
        event_id = {v: v for v in event_id}
    if not isinstance(event_id, dict):
        raise TypeError(f"event_id must be a dict (class name -> event) or a list of event "
                        f"names, got {type(event_id).__name__}.")
    if not event_id:
        raise ValueError("event_id is empty; name at least two classes.")
    bad_keys = [k for k in event_id if not isinstance(k, str) or not k]
    if bad_keys:
        raise ValueError(f"Class names must be non-empty strings, got {bad_keys}.")
    for v in event_id.values():
        ok = isinstance(v, str) or (raw and isinstance(v, numbers.Integral)
                                    and not isinstance(v, (bool, np.bool_)))
        if not ok:
            raise ValueError(
                f"event_id value {v!r} is not "
                + ("an annotation description or integer event code." if raw else
                   "an event name of the epochs (their event_id keys).")
            )
    values = list(event_id.values())
    dup = sorted({str(v) for v in values if values.count(v) > 1})
    if dup:
        raise ValueError(f"event_id gives the event(s) {dup} to more than one class; each "
                         "trial must belong to one class.")
    return event_id


def _select_classes(epochs, event_id):
    missing = [v for v in event_id.values() if v not in epochs.event_id]
    if missing:
        raise ValueError(
            f"event_id names event(s) {missing} that the epochs do not have; they have "
            f"{sorted(epochs.event_id)}."
        )
    epochs = epochs[list(event_id.values())]
    epochs.event_id = {new: epochs.event_id[old] for new, old in event_id.items()}
    return epochs


def _epochs_from_raw(raw, event_id, tmin, tmax, l_freq, h_freq, mne_verbose):
    kinds = {type(v) for v in event_id.values()}
    if kinds <= {str}:
        descriptions = set(raw.annotations.description)
        missing = [v for v in event_id.values() if v not in descriptions]
        if missing:
            raise ValueError(
                f"Annotation(s) {missing} are not in the recording; it has "
                f"{sorted(descriptions) or 'no annotations'}."
            )
        codes = {desc: i + 1 for i, desc in enumerate(event_id.values())}
        events, _ = mne.events_from_annotations(raw, event_id=codes, verbose=mne_verbose)
        class_codes = {name: codes[desc] for name, desc in event_id.items()}
    elif all(isinstance(v, numbers.Integral) for v in event_id.values()):
        events = mne.find_events(raw, verbose=mne_verbose)
        present = set(events[:, 2].tolist())
        missing = [v for v in event_id.values() if v not in present]
        if missing:
            raise ValueError(
                f"Event code(s) {missing} are not in the recording; it has {sorted(present)}."
            )
        class_codes = {k: int(v) for k, v in event_id.items()}
    else:
        raise ValueError("event_id values must be all annotation strings or all integer codes.")
    if l_freq is not None or h_freq is not None:
        raw.filter(l_freq, h_freq, fir_design="firwin", skip_by_annotation="edge",
                   verbose=mne_verbose)
    return mne.Epochs(raw, events, event_id=class_codes, tmin=tmin, tmax=tmax, baseline=None,
                      preload=True, on_missing="ignore", verbose=mne_verbose)


def _validate(epochs, montage, mne_verbose):
    if "eeg" not in epochs.get_channel_types():
        raise ValueError(
            f"The data have no EEG channels (channel types: {sorted(set(epochs.get_channel_types()))})."
        )
    epochs = pick_eeg(epochs, "data")  # EEG only, bad channels dropped (logged)
    if montage is not None:
        if montage in ("standard_1005", "colin27_1005"):
            montage = standard_montage()
        epochs.set_montage(montage, on_missing="ignore", verbose=mne_verbose)
    pos = np.array([ch["loc"][:3] for ch in epochs.info["chs"]])
    no_pos = [name for name, p in zip(epochs.ch_names, pos) if not np.all(np.isfinite(p)) or not p.any()]
    if no_pos:
        raise ValueError(
            f"{len(no_pos)} EEG channel(s) have no scalp position: {', '.join(no_pos[:20])}"
            f"{'...' if len(no_pos) > 20 else ''}. Pass montage='standard_1005' (if the names "
            "follow the 10-20 system), set one with epochs.set_montage(...), or drop them."
        )
    counts = {name: int((epochs.events[:, 2] == code).sum()) for name, code in epochs.event_id.items()}
    counts = {k: v for k, v in counts.items() if v > 0}
    if len(counts) < 2:
        raise ValueError(f"At least two classes are needed, got {counts or 'no trials'}.")
    small = {k: v for k, v in counts.items() if v < 2}
    if small:
        raise ValueError(f"Every class needs at least two trials; too few in {small}.")
    epochs.event_id = {k: v for k, v in epochs.event_id.items() if k in counts}
    check_data(epochs.get_data(copy=False), "The epochs' data", cast=False)
    return epochs


def epochs_to_arrays(epochs):
    """Data, class-name labels and sampling rate of ``mne.Epochs``.

    Only the good EEG channels are used: stim, EOG and other non-EEG
    channels and the channels in ``info["bads"]`` are dropped (and the log
    says so), as everywhere in neurolrp.

    Parameters
    ----------
    epochs : mne.Epochs
        The trials; classes are the event names.

    Returns
    -------
    data : ndarray, shape (n_trials, n_channels, n_times)
    y : ndarray of str
        The event name of every trial.
    sfreq : float
        Sampling rate in Hz.
    """
    data, y, sfreq, _ = epochs_arrays(epochs)
    return data, y, sfreq

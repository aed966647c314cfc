"""The user's own recordings in, validated, as ``mne.Epochs``."""

from pathlib import Path

import mne
import numpy as np

from .._utils import check_finite, logger, use_log_level
from ._eegbci import standard_montage


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
    event_id : dict | None
        Class name -> event. For a raw file it is required: each event is an
        annotation description (``{"left": "T1", "right": "T2"}``) or an
        integer code on the stim channel (``{"left": 769, "right": 770}``).
        For epochs it selects and renames classes by their existing event
        names (``{"left": "LH", "right": "RH"}``); ``None`` keeps them all.
    tmin, tmax : float
        Epoch window in seconds around each event (raw files only).
    l_freq, h_freq : float | None
        Band-pass edges in Hz applied to a raw recording before epoching;
        ``None`` (default) leaves the data as they are.
    montage : str | mne.channels.DigMontage | None
        Montage to set when the data carry no channel positions, for example
        ``"standard_1005"``. ``None`` keeps the positions the data have.
    verbose : bool | str | int | None
        Controls neurolrp's and MNE's log output.

    Returns
    -------
    epochs : mne.Epochs
        Preloaded epochs of the EEG channels only, with event names as class
        names.

    Raises
    ------
    FileNotFoundError
        ``source`` is a path that does not exist.
    TypeError
        ``source`` is neither epochs nor a path.
    ValueError
        - a raw file is given without ``event_id``, or an event in
          ``event_id`` is not in the recording;
        - there are no EEG channels;
        - some EEG channels have no scalp position (the message names them;
          pass ``montage=`` or set one with ``set_montage``);
        - fewer than two classes, or a class with fewer than two trials;
        - the data hold NaN or infinite values.
    """
    mne_verbose = "WARNING" if verbose in (None, False) else verbose
    with use_log_level(verbose):
        if isinstance(source, mne.BaseEpochs):
            epochs = source.copy().load_data()
            if event_id is not None:
                epochs = _select_classes(epochs, event_id)
        elif isinstance(source, (str, Path)):
            path = Path(source).expanduser()
            if not path.exists():
                raise FileNotFoundError(f"No such file: {path}")
            if path.name.endswith(("-epo.fif", "_epo.fif", "-epo.fif.gz", "_epo.fif.gz")):
                epochs = mne.read_epochs(path, preload=True, verbose=mne_verbose)
                if event_id is not None:
                    epochs = _select_classes(epochs, event_id)
            else:
                if not event_id:
                    raise ValueError(
                        f"{path.name} is a continuous recording: pass event_id, a mapping "
                        "from class name to annotation description or event code, e.g. "
                        "{'left': 'T1', 'right': 'T2'}."
                    )
                raw = mne.io.read_raw(path, preload=True, verbose=mne_verbose)
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
    elif kinds <= {int, np.int64}:
        events = mne.find_events(raw, verbose=mne_verbose)
        present = set(events[:, 2].tolist())
        missing = [v for v in event_id.values() if v not in present]
        if missing:
            raise ValueError(
                f"Event code(s) {missing} are not in the recording; it has {sorted(present)}."
            )
        class_codes = dict(event_id)
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
    epochs = epochs.pick("eeg")
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
    check_finite(epochs.get_data(copy=False), "The epochs' data")
    return epochs

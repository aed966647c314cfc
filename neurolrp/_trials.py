"""One reading path for every entry point that takes trials, so checks cannot drift.

Every public function that takes EEG (``EEGClassifier``, ``explain``,
``cross_validate``, the report, the loaders, the evaluation) reads it here:

- :func:`pick_eeg` keeps the EEG channels of ``mne.Epochs`` and drops the
  others (stim, EOG, EMG, misc...) and the channels marked bad, saying so in
  the log;
- :func:`epochs_arrays` turns epochs into data, class-name labels, sampling
  rate and channel names (after :func:`pick_eeg`); :func:`epoch_ids` gives
  their own trial indices (``epochs.selection``);
- :func:`check_data` makes sure an array is ``(n_trials, n_channels,
  n_times)``, real, finite and within float32's range (it is computed in
  float32); :func:`check_labels` that labels are one class per trial;
- :func:`check_like_fit` compares the channel names and their order, the
  sampling rate and the shape with what a classifier saw at fit;
- :func:`read_trials` chains these for any entry point that takes trials
  (``EEGClassifier`` and ``explain`` alike).

Their messages speak of the user's input (channel names, shapes, labels) and
say what to do.
"""

import numbers

import numpy as np

from ._utils import logger, verbose

#: Largest magnitude a float32 holds; finite float64 values above it become inf.
FLOAT32_MAX = float(np.finfo(np.float32).max)


def check_data(data, what="X", cast=True):
    """Return ``data`` as float32 ``(n_trials, n_channels, n_times)``; raise if unusable.

    Parameters
    ----------
    data : array-like
        The trials.
    what : str
        How the message names the input.
    cast : bool
        Return float32 (default); ``False`` keeps the input's dtype.

    Returns
    -------
    data : ndarray
        float32 (no copy when it is float32 already) unless ``cast=False``.

    Raises
    ------
    ValueError
        Not 3-D, empty, not real numbers, NaN or infinite values, or values
        beyond float32's range (about 3.4e38), which would become infinite
        when cast.
    """
    if hasattr(data, "tocsr") or hasattr(data, "todense"):  # scipy.sparse
        raise TypeError(f"{what} is a sparse matrix; sparse input is not supported. EEG trials "
                        "are dense arrays (n_trials, n_channels, n_times).")
    if isinstance(data, (str, bytes, dict)) or data is None:
        raise ValueError(f"{what} must be an array (n_trials, n_channels, n_times) or "
                         f"mne.Epochs, got {type(data).__name__}.")
    if hasattr(data, "detach") and hasattr(data, "cpu"):  # a torch tensor, maybe on a GPU
        data = data.detach().cpu().numpy()
    try:
        arr = np.asarray(data)
    except (ValueError, TypeError) as err:  # ragged lists
        raise ValueError(f"{what} must be an array (n_trials, n_channels, n_times); "
                         f"it could not be read as one ({err}).") from None
    if arr.ndim != 3:
        raise ValueError(
            f"{what} must have shape (n_trials, n_channels, n_times), got an array with "
            f"{arr.ndim} dimension(s) and shape {arr.shape}."
        )
    if arr.dtype == object:  # e.g. a list of lists of numbers: fine if they are numbers
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as err:
            raise TypeError(f"{what} must hold real numbers, not objects of other kinds "
                            f"({err}).") from None
    if np.iscomplexobj(arr):
        raise ValueError(f"Complex data not supported: {what} must hold real numbers, got "
                         f"dtype {arr.dtype}.")
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{what} must hold real numbers, got dtype {arr.dtype}.")
    if 0 in arr.shape:
        raise ValueError(f"{what} is empty (shape {arr.shape}).")
    bad = ~np.isfinite(arr)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{what} contains {int(bad.sum())} NaN or infinite value(s) (first at trial "
            f"{where[0]}, channel {where[1]}, sample {where[2]}). Remove or interpolate bad "
            "segments before using neurolrp."
        )
    if arr.dtype.kind == "f" and arr.dtype.itemsize > 4:
        big = np.abs(arr) > FLOAT32_MAX
        if big.any():
            where = tuple(int(i) for i in np.argwhere(big)[0])
            raise ValueError(
                f"{what} holds {int(big.sum())} value(s) beyond float32's range (+-3.4e38; "
                f"first at trial {where[0]}, channel {where[1]}, sample {where[2]}), which "
                "would become infinite. Rescale the data (EEG in volts is ~1e-5)."
            )
    return arr.astype(np.float32, copy=False) if cast else arr


def check_labels(y, n_trials, what="y"):
    """Return labels as a 1-D array, one per trial; raise if unusable.

    Labels may be strings or numbers (not a mix), never None or NaN.

    Raises
    ------
    ValueError
        Wrong length or dimensions, None/NaN labels, or strings mixed with
        numbers.
    """
    arr = np.asarray(y, dtype=object) if not isinstance(y, np.ndarray) else y
    if arr.ndim != 1 or len(arr) != n_trials:
        raise ValueError(
            f"{what} must have one label per trial: the data have {n_trials} trials, {what} "
            f"has shape {np.shape(arr)}."
        )
    values = list(arr)
    missing = [i for i, v in enumerate(values)
               if v is None or (isinstance(v, (float, np.floating)) and not np.isfinite(v))]
    if missing:
        raise ValueError(
            f"{what} holds {len(missing)} missing label(s) (None or NaN; first at trial "
            f"{missing[0]}). Give every trial a class, or drop the unlabelled trials."
        )
    is_str = [isinstance(v, (str, np.str_)) for v in values]
    if any(is_str) and not all(is_str):
        raise ValueError(
            f"{what} mixes text and numbers ({values[is_str.index(False)]!r} and "
            f"{values[is_str.index(True)]!r}); use one kind of label."
        )
    if all(is_str):
        return np.asarray(values, dtype=object)
    bad = [v for v in values if not isinstance(v, (numbers.Real, np.bool_))]
    if bad:
        raise ValueError(f"{what} must hold class names or numbers, got {bad[0]!r} "
                         f"({type(bad[0]).__name__}).")
    frac = [v for v in values if float(v) != int(v)]
    if frac:
        raise ValueError(
            f"{what} looks continuous ({frac[0]!r} is not a whole number): a classifier needs "
            "class labels (names, or integers), not a continuous target."
        )
    return np.asarray(values)


def pick_eeg(epochs, what="epochs"):
    """Keep the EEG channels of ``epochs`` that are not marked bad.

    Stim, EOG, EMG, ECG, misc and other non-EEG channels carry no brain
    signal a model should learn from (a stim channel holds the class code
    itself), and bad channels are bad; both are dropped, and the log says
    which.

    Parameters
    ----------
    epochs : mne.Epochs
        Any epochs.
    what : str
        How the messages name them.

    Returns
    -------
    epochs : mne.Epochs
        ``epochs`` itself when nothing is dropped, else a copy holding only
        the good EEG channels (in their original order).

    Raises
    ------
    TypeError
        ``epochs`` is not ``mne.Epochs``.
    ValueError
        No good EEG channel is left.
    """
    import mne

    if not isinstance(epochs, mne.BaseEpochs):
        raise TypeError(f"{what} must be mne.Epochs, got {type(epochs).__name__}.")
    types = epochs.get_channel_types()
    bads = set(epochs.info["bads"])
    other = [(n, t) for n, t in zip(epochs.ch_names, types) if t != "eeg"]
    bad_eeg = [n for n, t in zip(epochs.ch_names, types) if t == "eeg" and n in bads]
    keep = [n for n, t in zip(epochs.ch_names, types) if t == "eeg" and n not in bads]
    if not keep:
        raise ValueError(
            f"The {what} have no good EEG channel (channel types: {sorted(set(types))}; marked "
            f"bad: {sorted(bads) or 'none'}). Set the EEG channels' type with "
            "set_channel_types or unmark them in info['bads']."
        )
    if not other and not bad_eeg:
        return epochs
    parts = []
    if other:
        listed = ", ".join(f"{n} ({t})" for n, t in other[:8])
        parts.append(f"{len(other)} non-EEG channel(s): {listed}"
                     f"{', ...' if len(other) > 8 else ''}")
    if bad_eeg:
        parts.append(f"{len(bad_eeg)} channel(s) marked bad: {', '.join(bad_eeg[:8])}"
                     f"{', ...' if len(bad_eeg) > 8 else ''}")
    logger.info(f"Using the {len(keep)} good EEG channels of the {what}; dropped "
                + " and ".join(parts) + ".")
    picked = epochs.copy().pick(keep, verbose=False)
    picked.info["bads"] = []
    return picked


def epochs_arrays(epochs, what="epochs"):
    """Data, class-name labels, sampling rate and channel names of epochs.

    The epochs pass through :func:`pick_eeg` first. The data are read before
    the events, so trials that MNE drops while loading (rejection) cannot
    leave labels without data.

    Returns
    -------
    data : ndarray, shape (n_trials, n_channels, n_times)
    y : ndarray of str (object)
        Event names.
    sfreq : float
    ch_names : list of str

    Raises
    ------
    ValueError
        No trials, an event code without a name in ``event_id``, or two
        names for one code.
    """
    epochs = pick_eeg(epochs, what)
    data = epochs.get_data(copy=False)
    if len(data) == 0:
        raise ValueError(f"The {what} hold no trials (all dropped?).")
    codes = list(epochs.event_id.values())
    if len(set(codes)) != len(codes):
        raise ValueError(f"The {what}' event_id gives one code several names: "
                         f"{epochs.event_id}; class names must be unique per code.")
    names = {code: name for name, code in epochs.event_id.items()}
    unknown = sorted({int(c) for c in epochs.events[:, 2]} - set(names))
    if unknown:
        raise ValueError(f"The {what} hold events with code(s) {unknown} that have no name in "
                         f"event_id {epochs.event_id}; name them or drop those trials.")
    y = np.array([names[code] for code in epochs.events[:, 2]], dtype=object)
    return data, y, float(epochs.info["sfreq"]), list(epochs.ch_names)


class Trials:
    """What :func:`read_trials` read: the data and what the epochs said about them.

    Attributes
    ----------
    data : ndarray, shape (n_trials, n_channels, n_times)
    y : ndarray | None
        Labels (the epochs' event names unless given).
    epochs : mne.Epochs | None
        The epochs with their good EEG channels (None for an array).
    ch_names : list of str | None
    sfreq, tmin : float | None
    """

    def __init__(self, data, y, epochs=None, ch_names=None, sfreq=None, tmin=None):
        self.data, self.y, self.epochs = data, y, epochs
        self.ch_names, self.sfreq, self.tmin = ch_names, sfreq, tmin


@verbose
def read_trials(X, y=None, *, est=None, what="X", epochs_what="epochs", cast=True,
                verbose=None):
    """The one input check of every entry point that takes trials.

    ``EEGClassifier`` (fit, predict and the rest) and :func:`neurolrp.explain`
    both read their input here, so the two cannot drift apart: epochs lose
    their non-EEG and bad channels (:func:`pick_eeg`), the data must be 3-D,
    finite and within float32's range (:func:`check_data`), labels one per
    trial (:func:`check_labels`), and with a fitted classifier ``est`` the
    channel names and order, sampling rate, start, shape and amplitude must
    match the fit (:func:`check_like_fit`).

    Parameters
    ----------
    X : mne.Epochs | array, shape (n_trials, n_channels, n_times)
        The trials.
    y : array | None
        Labels; default: the epochs' event names (None for an array).
    est : EEGClassifier | None
        A fitted classifier the data must match.
    what, epochs_what : str
        How messages name the input, and epochs in particular.
    cast : bool
        Return float32 data (else the input's dtype).
    %(verbose)s

    Returns
    -------
    trials : Trials
    """
    import mne

    ch_names = sfreq = tmin = picked = None
    if isinstance(X, mne.BaseEpochs):
        picked = pick_eeg(X, epochs_what)
        data, y_ep, sfreq, ch_names = epochs_arrays(picked, epochs_what)
        tmin = float(picked.tmin)
        if y is None:
            y = y_ep
    else:
        data = X
    data = check_data(data, what, cast=cast)
    if y is not None:
        y = check_labels(y, len(data))
    if est is not None:
        check_like_fit(est, n_channels=data.shape[1], n_times=data.shape[2], ch_names=ch_names,
                       sfreq=sfreq, tmin=tmin, data=data, what=what)
    return Trials(data, y, picked, ch_names, sfreq, tmin)


def epoch_ids(epochs, n_trials=None):
    """The epochs' own trial indices (``epochs.selection``): what ``trial`` holds.

    Trials keep the numbers the user knows after selections and rejection
    (``epochs[[3, 7, 9]]`` are trials 3, 7 and 9). Where those numbers repeat
    (``epochs[[3, 3]]``), or do not fit the data, trials are numbered
    ``0 .. n-1`` in their order, as for arrays.

    Parameters
    ----------
    epochs : mne.Epochs
        Epochs whose data were read (so that rejected trials are gone).
    n_trials : int | None
        Number of trials read from them; default ``len(epochs)``.

    Returns
    -------
    ids : ndarray of int64, shape (n_trials,)
    """
    n = len(epochs) if n_trials is None else n_trials
    ids = np.asarray(getattr(epochs, "selection", np.arange(n)), dtype=np.int64)
    if len(ids) != n or len(np.unique(ids)) != n:
        logger.info("The epochs' indices (epochs.selection) repeat; trials are numbered "
                    f"0 to {n - 1} in their order instead.")
        return np.arange(n, dtype=np.int64)
    return ids


#: Largest plausible ratio between the amplitude of new data and the training
#: data (median over channels); beyond it the units differ (V vs uV is 1e6).
AMPLITUDE_RATIO = 100.0


def check_like_fit(est, *, n_channels, n_times, ch_names=None, sfreq=None, tmin=None,
                   data=None, what="data"):
    """Raise unless the data match what the fitted classifier ``est`` saw at fit.

    Channel names are compared by name and order when both sides have them
    (epochs at fit and now); the message names the missing, extra or moved
    channels and how to fix it.

    With ``data``, the amplitude is compared with the training data's
    (median over channels of the standard deviation): a ratio beyond
    :data:`AMPLITUDE_RATIO` means other units (volts against microvolts),
    which the network would read as something else entirely.

    Raises
    ------
    ValueError
        Another sampling rate, other channels (names or order), another
        number of channels or samples, or an amplitude in other units.
    """
    fit_names = getattr(est, "ch_names_", None)
    if ch_names is not None and fit_names is not None and list(ch_names) != list(fit_names):
        missing = [c for c in fit_names if c not in ch_names]
        extra = [c for c in ch_names if c not in fit_names]
        if missing or extra:
            detail = "; ".join(
                f"{label} {names[:10]}{'...' if len(names) > 10 else ''}"
                for label, names in (("missing", missing), ("not seen at fit", extra)) if names)
            raise ValueError(
                f"{what}: channels differ from those at fit ({detail}). Pick and reorder them "
                "with epochs.reorder_channels(clf.ch_names_) (interpolate missing ones first)."
            )
        moved = [c for c, d in zip(ch_names, fit_names) if c != d]
        raise ValueError(
            f"{what}: channels differ from those at fit: the same channels in another order "
            f"(first moved: {moved[:5]}). The network reads channels by position; reorder "
            "them with epochs.reorder_channels(clf.ch_names_)."
        )
    if sfreq is not None and not np.isclose(sfreq, est.sfreq_):
        raise ValueError(f"{what}: sampled at {sfreq:g} Hz; the classifier was fitted at "
                         f"{est.sfreq_:g} Hz. Resample them first.")
    fit_tmin = getattr(est, "tmin_", None)
    if tmin is not None and fit_tmin is not None and \
            abs(tmin - fit_tmin) > 0.5 / est.sfreq_:
        raise ValueError(
            f"{what}: the epochs start at {tmin:g} s; the classifier was fitted on epochs "
            f"starting at {fit_tmin:g} s, so the network would read another part of each "
            f"trial. Cut them like at fit (tmin={fit_tmin:g}, or epochs.crop)."
        )
    if (n_channels, n_times) != (est.n_channels_, est.n_times_):
        raise ValueError(
            f"{what}: {n_channels} channels x {n_times} samples; the classifier was fitted "
            f"on {est.n_channels_} x {est.n_times_}."
        )
    fit_std = getattr(est, "scale_std_", None)
    if data is not None and fit_std is not None:
        std = np.asarray(data).std(axis=(0, 2), dtype=np.float64)
        ok = (std > 0) & (np.asarray(fit_std) > 0)
        if ok.any():
            ratio = float(np.median(std[ok] / np.asarray(fit_std, dtype=np.float64)[ok]))
            if not 1.0 / AMPLITUDE_RATIO <= ratio <= AMPLITUDE_RATIO:
                raise ValueError(
                    f"{what}: the amplitude is {ratio:.3g} times that of the training data "
                    "(median over channels); the units differ (volts vs microvolts?). Give "
                    "the data in the units used at fit (mne.Epochs are in volts)."
                )

"""The relevance container: one ``xarray.DataArray`` every stage shares.

A relevance array is named ``relevance``, has dims ``("trial", "channel",
"time")`` and dtype float32. Its coordinates:

``trial``
    the trial's own number: for ``mne.Epochs`` their index
    ``epochs.selection`` (so ``epochs[[3, 7, 9]]`` gives trials 3, 7 and 9,
    and trials rejected earlier leave gaps), for an array its position from
    0. It is kept when trials are selected, so ``rel.sel(trial=~rel.correct)``
    still says which epochs; ``rel.sel(trial=7)`` picks trial 7 by number,
    ``rel.isel(trial=0)`` the first by position.
``channel``
    channel names, with ``ch_x``, ``ch_y``, ``ch_z`` (positions in metres, MNE
    head coordinates; NaN where unknown) on the same dimension, so a file
    can be plotted without the recording.
``time``
    seconds relative to the event.
per trial
    ``y_pred`` (predicted class name), ``target`` (the explained class, or
    ``"a-b"`` for a contrast), ``score`` (the explained output); when labels
    are known also ``y_true`` and ``correct`` (bool); optionally
    ``conservation`` (relative conservation error of that trial).

``attrs`` say how it was made: ``method``, ``composite``, ``rules`` (JSON),
``model``, ``classes``, ``sfreq``, ``neurolrp_version`` and
``conservation_error`` (largest relative error over trials, NaN where the
method does not conserve). Every attr is a string, a number or a list of
strings, so a file round-trips through netCDF unchanged.
"""

from pathlib import Path

import numpy as np
import xarray as xr

from ._version import __version__

DIMS = ("trial", "channel", "time")
POS_COORDS = ("ch_x", "ch_y", "ch_z")
REQUIRED_TRIAL_COORDS = ("y_pred", "target", "score")
REQUIRED_ATTRS = ("method", "sfreq", "neurolrp_version", "conservation_error")


def make_relevance(
    values,
    *,
    channels,
    times,
    y_pred,
    target,
    score,
    y_true=None,
    ch_pos=None,
    trial=None,
    conservation=None,
    attrs=None,
):
    """Build a validated relevance DataArray.

    Parameters
    ----------
    values : array, shape (n_trials, n_channels, n_times)
        Signed relevance; stored as float32.
    channels : list of str
        Channel names.
    times : array, shape (n_times,)
        Time of each sample in seconds.
    y_pred, target : array of str, shape (n_trials,)
        Predicted and explained class per trial.
    score : array, shape (n_trials,)
        The explained model output per trial.
    y_true : array of str | None
        True class per trial; adds ``y_true`` and ``correct``.
    ch_pos : array, shape (n_channels, 3) | None
        Channel positions in metres (MNE head coordinates); NaN if unknown.
    trial : array of int | None
        Trial indices; default ``0 .. n_trials - 1``.
    conservation : array, shape (n_trials,) | None
        Per-trial relative conservation error.
    attrs : dict | None
        Provenance (see the module docstring); ``neurolrp_version`` is added.

    Returns
    -------
    relevance : xarray.DataArray
    """
    values = np.asarray(values, dtype=np.float32)
    n_trials, n_ch, n_t = values.shape
    if ch_pos is None:
        ch_pos = np.full((n_ch, 3), np.nan)
    ch_pos = np.asarray(ch_pos, dtype=np.float64)
    coords = {
        "trial": np.arange(n_trials) if trial is None else np.asarray(trial, dtype=np.int64),
        "channel": np.asarray(channels, dtype=object),
        "time": np.asarray(times, dtype=np.float64),
        "y_pred": ("trial", np.asarray(y_pred, dtype=object)),
        "target": ("trial", np.asarray(target, dtype=object)),
        "score": ("trial", np.asarray(score, dtype=np.float32)),
    }
    for name, col in zip(POS_COORDS, ch_pos.T):
        coords[name] = ("channel", col)
    if y_true is not None:
        y_true = np.asarray(y_true, dtype=object)
        coords["y_true"] = ("trial", y_true)
        coords["correct"] = ("trial", y_true == np.asarray(y_pred, dtype=object))
    if conservation is not None:
        coords["conservation"] = ("trial", np.asarray(conservation, dtype=np.float32))
    full_attrs = {"method": "", "sfreq": np.nan, "conservation_error": np.nan}
    full_attrs.update(attrs or {})
    full_attrs["neurolrp_version"] = __version__
    rel = xr.DataArray(values, dims=DIMS, coords=coords, name="relevance", attrs=full_attrs)
    validate_relevance(rel)
    return rel


def validate_relevance(rel, *, reduced=False):
    """Check that ``rel`` follows the relevance convention; raise if not.

    Parameters
    ----------
    rel : xarray.DataArray
        The array to check.
    reduced : bool
        Also accept relevance with other dims than ``("trial", "channel",
        "time")`` as long as it keeps ``channel`` (with positions) and the
        attrs: a class average (``rel.groupby("y_true").mean("trial")``), a
        time window's mean, band-resolved relevance from
        :func:`neurolrp.explain_bands`. The per-trial coordinates are
        required only while ``trial`` is a dim.

    Raises
    ------
    TypeError
        ``rel`` is not a DataArray.
    ValueError
        Wrong name, dims or dtype; a missing coordinate or attr; an attr of a
        type netCDF cannot store; NaN or inf relevance; ``correct`` not equal
        to ``y_true == y_pred``.
    """
    if not isinstance(rel, xr.DataArray):
        raise TypeError(f"relevance must be an xarray.DataArray, got {type(rel).__name__}.")
    if rel.name != "relevance":
        raise ValueError(f"relevance DataArray must be named 'relevance', got {rel.name!r}.")
    if not reduced and rel.dims != DIMS:
        raise ValueError(f"relevance must have dims {DIMS}, got {rel.dims}.")
    if reduced and "channel" not in rel.dims:
        raise ValueError(f"relevance must keep the 'channel' dim, got dims {rel.dims}.")
    if rel.dtype != np.float32:
        raise ValueError(f"relevance must be float32, got {rel.dtype}.")
    needed = ("trial", "channel", "time", *POS_COORDS, *REQUIRED_TRIAL_COORDS)
    if reduced:
        needed = tuple(c for c in needed if c in rel.dims or c in POS_COORDS
                       or (c in REQUIRED_TRIAL_COORDS and "trial" in rel.dims))
    missing = [c for c in needed if c not in rel.coords]
    if missing:
        raise ValueError(f"relevance lacks coordinate(s) {missing}.")
    for name in REQUIRED_TRIAL_COORDS + ("y_true", "correct", "conservation"):
        if reduced and "trial" not in rel.dims:
            break  # a reduction over trials may turn a trial coordinate into a dim
        if name in rel.coords and rel.coords[name].dims != ("trial",):
            raise ValueError(f"coordinate {name!r} must lie on 'trial'.")
    if "trial" in rel.dims and ("y_true" in rel.coords) != ("correct" in rel.coords):
        raise ValueError("'y_true' and 'correct' go together.")
    if "correct" in rel.coords and rel["correct"].dims == ("trial",):
        expected = rel["y_true"].values == rel["y_pred"].values
        if not np.array_equal(rel["correct"].values.astype(bool), expected):
            raise ValueError("'correct' must equal y_true == y_pred.")
    missing = [a for a in REQUIRED_ATTRS if a not in rel.attrs]
    if missing:
        raise ValueError(f"relevance lacks attr(s) {missing}.")
    for key, val in rel.attrs.items():
        ok = isinstance(val, (str, int, float, np.number)) and not isinstance(val, bool)
        ok = ok or (isinstance(val, (list, tuple)) and all(isinstance(v, str) for v in val))
        if not ok:
            raise ValueError(
                f"attr {key!r} is a {type(val).__name__}; netCDF stores only strings, numbers "
                "and lists of strings (encode dicts as JSON)."
            )
    names = [str(c) for c in rel.channel.values]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"relevance has duplicate channel names {dup[:10]}.")
    if not np.isfinite(rel.values).all():
        raise ValueError("relevance holds NaN or infinite values.")


def save_relevance(rel, fname, *, overwrite=False):
    """Save relevance to a netCDF-4 file (netCDF4 engine).

    The file is written under a temporary name in the same folder and then
    renamed into place, so a run killed while saving leaves the previous
    file (if any) intact and readable.

    Parameters
    ----------
    rel : xarray.DataArray
        A relevance array (validated before writing): single-trial relevance
        or a reduction that keeps ``channel`` and the attrs, such as a class
        average ``rel.groupby("y_true").mean("trial")`` or the band-resolved
        relevance of :func:`neurolrp.explain_bands` (see
        :func:`validate_relevance` with ``reduced=True``).
    fname : path-like
        Output file, conventionally ``*.nc``.
    overwrite : bool
        Replace an existing file (MNE's convention: off by default).

    Returns
    -------
    fname : pathlib.Path

    Raises
    ------
    FileExistsError
        ``fname`` exists and ``overwrite`` is False.
    IsADirectoryError
        ``fname`` is a folder.
    FileNotFoundError
        The folder of ``fname`` does not exist.
    ValueError, TypeError
        ``rel`` does not follow the relevance convention.
    """
    from ._files import atomic_file, check_output_file

    validate_relevance(rel, reduced=True)
    fname = check_output_file(fname, overwrite)
    with atomic_file(fname) as tmp:
        rel.to_netcdf(tmp, engine="netcdf4")
    return fname


def load_relevance(fname):
    """Load relevance saved by :func:`save_relevance`.

    Parameters
    ----------
    fname : path-like
        A netCDF file written by :func:`save_relevance`.

    Returns
    -------
    relevance : xarray.DataArray
        Identical (values, coordinates, attrs) to what was saved.

    Raises
    ------
    FileNotFoundError
        No such file.
    IsADirectoryError
        ``fname`` is a folder.
    ValueError
        The file is truncated or corrupt, not a netCDF file, or holds
        something other than one relevance array.
    """
    fname = Path(fname).expanduser()
    if fname.is_dir():
        raise IsADirectoryError(f"{fname} is a folder; give a relevance file (.nc).")
    if not fname.is_file():
        raise FileNotFoundError(f"No such relevance file: {fname}")
    try:
        with xr.open_dataarray(fname, engine="netcdf4") as rel:
            rel = rel.load()
    except (OSError, ValueError, RuntimeError, KeyError) as err:
        raise ValueError(
            f"{fname} could not be read as relevance: it is truncated, corrupt, not a netCDF "
            f"file or holds several variables ({type(err).__name__}: {err})."
        ) from None
    for key, val in rel.attrs.items():
        # netCDF hands lists back as arrays; the convention keeps lists
        if isinstance(val, np.ndarray):
            rel.attrs[key] = val.tolist()
    try:
        validate_relevance(rel, reduced=True)
    except (ValueError, TypeError) as err:
        raise ValueError(f"{fname} is not a valid relevance file: {err}") from None
    return rel


def channel_positions(info):
    """Positions (n_channels, 3) in metres from an ``mne.Info``; NaN if unset."""
    pos = np.array([ch["loc"][:3] for ch in info["chs"]], dtype=np.float64)
    pos[~np.isfinite(pos).all(axis=1) | ~pos.any(axis=1)] = np.nan
    return pos


def to_info(rel):
    """An ``mne.Info`` with the relevance's channels, positions and sfreq.

    Raises a ValueError when the relevance carries no channel positions
    (computed from a plain array), since nothing can then be drawn on a scalp.
    """
    import mne

    pos = np.column_stack([rel[c].values for c in POS_COORDS])
    names = [str(c) for c in rel.channel.values]
    missing = [n for n, p in zip(names, pos) if not np.isfinite(p).all()]
    if missing:
        raise ValueError(
            f"relevance has no scalp positions for channel(s) {missing[:10]}; explain "
            "mne.Epochs with a montage to plot topographies."
        )
    sfreq = float(rel.attrs.get("sfreq", np.nan))
    if not np.isfinite(sfreq):
        sfreq = 1.0 / float(np.diff(rel.time.values[:2])[0]) if rel.sizes["time"] > 1 else 1.0
    info = mne.create_info(names, sfreq, "eeg")
    montage = mne.channels.make_dig_montage(dict(zip(names, pos)), coord_frame="head")
    info.set_montage(montage)
    return info


# ------------------------------------------------------------ data steps on relevance

#: How the values of a boolean trial coordinate are named in groups.
GROUP_NAMES = {"correct": {True: "correct", False: "misclassified"}}


def trial_average(rel):
    """The mean over trials, when ``rel`` has a ``trial`` dimension (else ``rel``).

    Parameters
    ----------
    rel : xarray.DataArray
        Relevance of one or more trials, or an average already.

    Returns
    -------
    average : xarray.DataArray
        Without the ``trial`` dimension.

    Raises
    ------
    ValueError
        ``rel`` holds no trial (an empty selection).
    """
    if "trial" in rel.dims:
        if rel.sizes["trial"] == 0:
            raise ValueError("No trials to average (the selection is empty).")
        return rel.mean("trial")
    return rel


def window_sums(rel, windows):
    """Relevance summed over each (start, stop) window, averaged over trials.

    A sum, not a mean, so the maps of adjacent windows add up to the
    relevance of the whole span (conservation carries over to the picture).

    Parameters
    ----------
    rel : xarray.DataArray
        Relevance (several trials are averaged first, see :func:`trial_average`).
    windows : list of (float, float)
        Windows in seconds; each holds the samples with ``start <= t < stop``
        (``<= stop`` for a window that ends at the last sample).

    Returns
    -------
    sums : ndarray, shape (n_windows, n_channels)

    Raises
    ------
    ValueError
        A window holds no sample, or ``rel`` holds no trial.
    """
    rel = trial_average(rel)
    t = rel.time.values
    maps = []
    for a, b in windows:
        sel = (t >= a) & (t < b) if b < t[-1] else (t >= a) & (t <= b)
        if not sel.any():
            raise ValueError(f"No samples in the window {a:g}-{b:g} s.")
        maps.append(rel.values[:, sel].sum(axis=1))
    return np.array(maps)


def class_average(rel, cls):
    """The trials a class average of ``cls`` is taken over.

    The correctly classified trials of true class ``cls`` (all its trials
    where none is correct), explained as they were: averaging them
    (``class_average(rel, cls).mean("trial")``, or any figure of
    :mod:`neurolrp.viz`, which averages what it is given) gives the class
    average the reports show.

    Parameters
    ----------
    rel : xarray.DataArray
        Relevance with ``y_true`` and ``correct``.
    cls : str
        A true class.

    Returns
    -------
    trials : xarray.DataArray
        A selection of ``rel``'s trials.
    """
    sel = rel.sel(trial=(rel.y_true == cls) & rel.correct)
    if sel.sizes["trial"] == 0:
        sel = rel.sel(trial=rel.y_true == cls)
    return sel


def split_trials(rel, by, groups=None):
    """The trials of ``rel`` in groups, by the value of a trial coordinate.

    Parameters
    ----------
    rel : xarray.DataArray
        Relevance.
    by : str | None
        A trial coordinate (``"target"``, ``"y_true"``, ``"y_pred"``,
        ``"correct"``...); ``None``: all trials in one group.
    groups : list | None
        Values of ``by`` to keep, in this order; default every value present,
        sorted (for ``"correct"``: the correct trials first). The values of
        ``correct`` may be named ``"correct"`` and ``"misclassified"``.

    Returns
    -------
    parts : list of (str | None, xarray.DataArray)
        Each group's name (``None`` with ``by=None``) and its trials.

    Raises
    ------
    ValueError
        ``by`` is not a trial coordinate, or a group holds no trial.
    """
    if by is None:
        if rel.sizes["trial"] == 0:
            raise ValueError("No trials to test (the selection is empty).")
        return [(None, rel)]
    if by not in rel.coords or rel[by].dims != ("trial",):
        have = [c for c in rel.coords if rel[c].dims == ("trial",) and c != "trial"]
        raise ValueError(f"by={by!r} is not a trial coordinate of the relevance; have {have}.")
    values = rel[by].values
    present = list(dict.fromkeys(values.tolist()))
    if by == "correct":
        present = sorted(present, reverse=True)  # correct first
    else:
        try:
            present = sorted(present)
        except TypeError:
            pass
    if groups is None:
        groups = present
    names = GROUP_NAMES.get(by, {})
    aliases = {v: k for k, v in names.items()}  # "misclassified" -> False
    groups = [aliases.get(g, g) if isinstance(g, str) else g for g in groups]
    out = []
    for g in groups:
        sel = rel.isel(trial=values == g)
        if sel.sizes["trial"] == 0:
            raise ValueError(f"Group {g!r} of {by!r} has no trials; present: {present}."
                             + (" No trial was misclassified." if by == "correct" else ""))
        out.append((names.get(g, str(g)), sel))
    return out

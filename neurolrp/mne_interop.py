"""Relevance as MNE objects: class averages as ``mne.Evoked``, trials as ``mne.Epochs``.

So MNE's own tools take relevance directly: ``Evoked.plot_joint``,
``plot_topo``, ``mne.viz.plot_compare_evokeds``, ``mne.stats`` cluster tests
with ``mne.channels.find_ch_adjacency``.

Units
-----
The channels are typed ``"eeg"`` (with the relevance's positions as the
montage), because MNE draws topomaps, ``plot_joint`` and ``plot_topo`` only
for data channels with positions; ``"misc"`` channels get no scalp maps and
no adjacency. MNE stores EEG in volts and its plots multiply EEG by 1e6 and
label it "uV" by default. Relevance is neither: the values are stored
unscaled, and plots must be told so. :data:`SCALINGS` and :data:`UNITS` do
that::

    ev.plot_joint(ts_args=dict(scalings=SCALINGS, units=UNITS),
                  topomap_args=dict(scalings=SCALINGS, units="relevance"))
    epochs.plot_image(scalings=SCALINGS, units=UNITS)
    ev.plot_topomap(times=[1.5], average=1.0, scalings=SCALINGS, units="relevance",
                    cbar_fmt="%.0e")  # the default "%3.1f" shows small relevance as 0.0

``get_data()`` and ``mne.stats`` see the relevance values unchanged.
"""

import numpy as np
import xarray as xr

from .relevance import POS_COORDS, to_info

#: Pass as ``scalings`` to MNE plots: relevance is drawn as is (not x1e6).
SCALINGS = {"eeg": 1.0}
#: Pass as ``units`` to MNE plots that take a dict (``plot``, ``plot_image``).
UNITS = {"eeg": "relevance"}

_TRIAL_DIMS = ("trial", "channel", "time")


def _trials(rel, band, what):
    """``rel`` as (trial, channel, time), the band selected; raise for anything else."""
    if not isinstance(rel, xr.DataArray):
        raise TypeError(f"{what} needs a relevance DataArray (from neurolrp.explain), got "
                        f"{type(rel).__name__}.")
    if "band" in rel.dims:
        names = [str(b) for b in rel.band.values]
        if band is None:
            raise ValueError(f"This relevance is per frequency band {names}; choose one with "
                             f"band=, e.g. band={names[0]!r} (or sum over bands: "
                             "rel.sum('band')).")
        if band not in names:
            raise ValueError(f"No band {band!r}; the relevance has {names}.")
        rel = rel.sel(band=band)
        rel = rel.drop_vars([c for c in ("band", "fmin", "fmax") if c in rel.coords])
    elif band is not None:
        raise ValueError(f"band={band!r} given, but the relevance has no band dim (only "
                         "neurolrp.explain_bands gives one).")
    if set(rel.dims) != set(_TRIAL_DIMS):
        raise ValueError(f"{what} needs single-trial relevance with dims {_TRIAL_DIMS}, got "
                         f"{rel.dims}.")
    rel = rel.transpose(*_TRIAL_DIMS)
    if rel.sizes["trial"] == 0:
        raise ValueError("The relevance holds no trial.")
    if not np.isfinite(rel.values).all():
        raise ValueError("The relevance holds NaN or infinite values.")
    return rel


def _info(rel):
    """An ``mne.Info`` (EEG channels, the relevance's positions and sampling rate).

    Relevance computed from a plain array has no positions: its channels get
    none (time courses and statistics still work; scalp maps do not).
    """
    import mne

    pos = np.column_stack([rel[c].values for c in POS_COORDS]) if all(
        c in rel.coords for c in POS_COORDS) else None
    if pos is not None and np.isfinite(pos).all(axis=1).any():
        return to_info(rel)  # raises when only some channels have positions
    times = rel.time.values
    sfreq = float(rel.attrs.get("sfreq", np.nan))
    if not np.isfinite(sfreq):
        sfreq = 1.0 / float(np.diff(times[:2])[0]) if len(times) > 1 else 1.0
    return mne.create_info([str(c) for c in rel.channel.values], sfreq, "eeg")


def _check_timing(rel, info):
    times = rel.time.values
    if len(times) > 1 and not np.allclose(np.diff(times), 1.0 / info["sfreq"], rtol=1e-3):
        raise ValueError(
            f"The relevance's time axis is not sampled at its sfreq ({info['sfreq']:g} Hz); "
            "MNE needs evenly spaced samples (select time with a slice, not a list).")


def _labels(rel, by):
    """The grouping coordinate's values as text, and their order (classes first)."""
    if by is None:
        by = "y_true" if "y_true" in rel.coords else "target"
    if by not in rel.coords or rel[by].dims != ("trial",):
        per_trial = [c for c in rel.coords if rel[c].dims == ("trial",) and c != "trial"]
        raise ValueError(f"by={by!r} is no per-trial coordinate; have {per_trial}.")
    values = np.asarray([str(v) for v in rel[by].values], dtype=object)
    classes = [str(c) for c in rel.attrs.get("classes", [])]
    if isinstance(rel.attrs.get("classes"), str):
        classes = [rel.attrs["classes"]]
    order = [c for c in classes if c in set(values)]
    order += sorted(set(values) - set(order))
    return by, values, order


def to_evoked(rel, by=None, *, band=None):
    """Class averages of relevance as ``mne.Evoked``, one per class.

    Parameters
    ----------
    rel : xarray.DataArray
        Single-trial relevance from :func:`neurolrp.explain` (or
        :func:`neurolrp.explain_bands` with ``band``).
    by : str | None
        The per-trial coordinate that groups the trials: ``"y_true"`` (the
        default when labels are known), ``"target"`` (the default otherwise),
        ``"y_pred"`` or ``"correct"``.
    band : str | None
        With band-resolved relevance, the band to average.

    Returns
    -------
    evokeds : list of mne.Evoked
        One per group, in the model's class order: ``comment`` is the group
        (class name), ``nave`` the number of trials averaged, the channels
        are EEG with the relevance's positions, ``tmin`` its first time.
        ``{ev.comment: ev for ev in evokeds}`` suits
        :func:`mne.viz.plot_compare_evokeds`. Plot with
        ``scalings=neurolrp.mne_interop.SCALINGS`` (see the module's notes
        on units).

    Raises
    ------
    ValueError
        Not single-trial relevance, a band missing or not chosen, an
        unknown ``by``, relevance whose channels only partly have positions,
        a time axis that is not evenly sampled.

    Examples
    --------
    >>> evokeds = neurolrp.to_evoked(rel)
    >>> evokeds[0].plot_joint(ts_args=dict(scalings=SCALINGS, units=UNITS),
    ...                       topomap_args=dict(scalings=SCALINGS, units="relevance"))
    """
    import mne

    rel = _trials(rel, band, "to_evoked")
    by, values, order = _labels(rel, by)
    info = _info(rel)
    _check_timing(rel, info)
    data = rel.values
    tmin = float(rel.time.values[0])
    out = []
    for name in order:
        keep = values == name
        avg = data[keep].mean(axis=0, dtype=np.float64)
        out.append(mne.EvokedArray(avg, info.copy(), tmin=tmin, comment=name,
                                   nave=int(keep.sum()), kind="average", verbose=False))
    return out


def to_epochs(rel, *, band=None):
    """Single-trial relevance as ``mne.EpochsArray``.

    Parameters
    ----------
    rel : xarray.DataArray
        Single-trial relevance from :func:`neurolrp.explain` (or
        :func:`neurolrp.explain_bands` with ``band``).
    band : str | None
        With band-resolved relevance, the band to take.

    Returns
    -------
    epochs : mne.EpochsArray
        One epoch per trial, in the relevance's order. Events and
        ``event_id`` come from ``y_true`` (from ``target`` when labels are
        unknown), numbered in the model's class order from 1, so
        ``epochs["left"]`` selects a class. ``metadata`` holds ``trial``
        (the relevance's trial coordinate) and every per-trial coordinate
        present (``y_true``, ``y_pred``, ``target``, ``correct``, ``score``,
        ``conservation``), so ``epochs["not correct"]`` selects the
        misclassified trials; ``selection`` is the trial coordinate. EEG
        channels with the relevance's positions; units: see the module.

    Raises
    ------
    ValueError
        As :func:`to_evoked`.
    """
    import mne
    import pandas as pd

    rel = _trials(rel, band, "to_epochs")
    _, values, order = _labels(rel, None)
    info = _info(rel)
    _check_timing(rel, info)
    event_id = {name: k + 1 for k, name in enumerate(order)}
    n, n_times = rel.sizes["trial"], rel.sizes["time"]
    # one epoch after another on a virtual recording: unique, increasing samples
    events = np.column_stack([np.arange(n) * n_times, np.zeros(n, int),
                              [event_id[v] for v in values]]).astype(int)
    meta = {"trial": rel.trial.values.astype(np.int64)}
    for c in ("y_true", "y_pred", "target", "correct", "score", "conservation"):
        if c in rel.coords and rel[c].dims == ("trial",):
            v = rel[c].values
            meta[c] = v.astype(bool) if c == "correct" else \
                v.astype(float) if c in ("score", "conservation") else [str(s) for s in v]
    trial = rel.trial.values.astype(np.int64)
    selection = trial if len(np.unique(trial)) == n and (np.diff(trial) > 0).all() else None
    return mne.EpochsArray(rel.values.astype(np.float64), info, events=events,
                           tmin=float(rel.time.values[0]), event_id=event_id,
                           metadata=pd.DataFrame(meta), selection=selection, baseline=None,
                           verbose=False)

"""Simulated motor-imagery EEG with a known ground truth.

The generative model, in sensor space on the 64 channels of the 10-10 layout
used by PhysioNet's eegmmidb:

- background: pink (1/f) noise, one independent process per channel, mixed
  by a broad spatial kernel to mimic volume conduction;
- a posterior alpha rhythm (8-12 Hz, centred on Oz);
- sensorimotor rhythms (mu 8-13 Hz plus a weaker beta 18-26 Hz) from sources
  under C3, C4 and Cz;
- white sensor noise;
- for a trial of class *k*, event-related desynchronisation (ERD): the
  amplitude of class *k*'s sensorimotor source falls by ``erd`` inside
  ``erd_window`` (left hand: C4, right hand: C3, feet: Cz);
- optionally (``confound=True``) an eye-blink-like deflection on the frontal
  channels whose presence depends on the class.

Spatial spread uses a documented smooth kernel instead of a forward model:
the amplitude of a source at channel *c* is ``exp(-a**2 / (2 * sigma**2))``,
with *a* the angle between the source's and the channel's template positions
seen from the centroid of all electrodes, and ``sigma`` 0.5 rad for the
sensorimotor sources (their mask then holds the centre channel and its four
nearest neighbours, e.g. C4, C2, C6, FC4, CP4). It needs no download and is
fast.
"""

import functools

import numpy as np
import xarray as xr

import mne

from .._utils import logger, verbose
from ._eegbci import standard_montage

#: The 64 channels of PhysioNet's eegmmidb, in recording order.
EEGBCI_CHANNELS = (
    "FC5 FC3 FC1 FCz FC2 FC4 FC6 C5 C3 C1 Cz C2 C4 C6 CP5 CP3 CP1 CPz CP2 CP4 CP6 "
    "Fp1 Fpz Fp2 AF7 AF3 AFz AF4 AF8 F7 F5 F3 F1 Fz F2 F4 F6 F8 FT7 FT8 T7 T8 T9 T10 "
    "TP7 TP8 P7 P5 P3 P1 Pz P2 P4 P6 P8 PO7 PO3 POz PO4 PO8 O1 Oz O2 Iz"
).split()

#: Class name -> channel over the sensorimotor source that desynchronises.
CLASS_SOURCES = {"left": "C4", "right": "C3", "feet": "Cz"}
FRONTAL_CHANNELS = ("Fp1", "Fpz", "Fp2", "AF7", "AF3", "AFz", "AF4", "AF8")

SOURCE_SIGMA = 0.5  # radians, seen from the centroid of the electrodes
MASK_LEVEL = 0.5  # channels where the source's amplitude is >= half its peak
MU_BAND = (8.0, 13.0)
BETA_BAND = (18.0, 26.0)
ALPHA_BAND = (8.0, 12.0)


@functools.lru_cache(maxsize=1)
def template_positions():
    """The 10-05 template's positions (read once: building the montage takes ~4 ms)."""
    return standard_montage().get_positions()["ch_pos"]


def _unit_positions(ch_names):
    pos = template_positions()
    xyz = np.array([pos[ch] for ch in ch_names])
    xyz = xyz - xyz.mean(axis=0)  # centre the template head before projecting
    return xyz / np.linalg.norm(xyz, axis=1, keepdims=True)


def spatial_kernel(ch_names, centre, sigma=SOURCE_SIGMA):
    """Amplitude of a source under channel ``centre`` at every channel."""
    xyz = _unit_positions(ch_names)
    angle = np.arccos(np.clip(xyz @ xyz[ch_names.index(centre)], -1.0, 1.0))
    return np.exp(-(angle**2) / (2 * sigma**2))


def band_noise(rng, shape, sfreq, band):
    """Gaussian noise band-limited to ``band`` with unit variance."""
    n = shape[-1]
    spec = np.fft.rfft(rng.standard_normal(shape), axis=-1)
    freqs = np.fft.rfftfreq(n, 1 / sfreq)
    spec[..., (freqs < band[0]) | (freqs > band[1])] = 0
    x = np.fft.irfft(spec, n=n, axis=-1)
    return x / x.std()


def pink_noise(rng, shape, sfreq):
    """Gaussian noise with a 1/f power spectrum (no DC) and unit variance."""
    n = shape[-1]
    spec = np.fft.rfft(rng.standard_normal(shape), axis=-1)
    freqs = np.fft.rfftfreq(n, 1 / sfreq)
    spec[..., 0] = 0
    spec[..., 1:] /= np.sqrt(freqs[1:])
    x = np.fft.irfft(spec, n=n, axis=-1)
    return x / x.std()


def _window_envelope(times, window, ramp=0.2):
    """1 inside ``window``, 0 outside, with raised-cosine ramps of ``ramp`` s."""
    t0, t1 = window
    env = np.clip(np.minimum(times - t0, t1 - times) / ramp + 0.5, 0, 1)
    return 0.5 - 0.5 * np.cos(np.pi * env)


def simulated_epochs(data, ch_names, sfreq, tmin, y, classes, description):
    """Simulated trials as ``mne.Epochs`` at the 10-05 template's positions.

    Parameters
    ----------
    data : ndarray, shape (n_trials, n_channels, n_times)
        The trials, in volts.
    ch_names : list of str
        Their EEG channels (10-05 names).
    sfreq, tmin : float
        Sampling rate (Hz) and the first sample's time (s).
    y : ndarray of int, shape (n_trials,)
        Each trial's class, as a position in ``classes``.
    classes : sequence of str
        The class names: the event names (event codes 1, 2, ...).
    description : str
        ``info["description"]``.

    Returns
    -------
    epochs : mne.EpochsArray
    """
    n_trials, _, n_t = data.shape
    info = mne.create_info(list(ch_names), sfreq, "eeg")
    info.set_montage(standard_montage())
    events = np.column_stack([np.arange(n_trials) * n_t, np.zeros(n_trials, int), y + 1])
    epochs = mne.EpochsArray(
        data, info, events=events, tmin=tmin,
        event_id={c: k + 1 for k, c in enumerate(classes)}, verbose=False,
    )
    epochs.info["description"] = description
    return epochs


def band_power(data, sfreq, band):
    """Mean power in ``band`` along the last axis (periodogram)."""
    freqs = np.fft.rfftfreq(data.shape[-1], 1 / sfreq)
    spec = np.abs(np.fft.rfft(data, axis=-1)) ** 2
    keep = (freqs >= band[0]) & (freqs <= band[1])
    return spec[..., keep].sum(axis=-1) / data.shape[-1] ** 2


@verbose
def simulate_motor_imagery(
    n_trials=200,
    n_classes=2,
    snr=3.0,
    *,
    erd=0.5,
    erd_window=(0.5, 3.5),
    sfreq=100.0,
    tmin=-1.0,
    tmax=4.0,
    confound=False,
    confound_rate=(0.9, 0.1),
    seed=0,
    source_sigma=SOURCE_SIGMA,
    verbose=None,
):
    """Simulate motor-imagery EEG epochs with a known ground truth.

    Parameters
    ----------
    n_trials : int
        Number of trials, split evenly (round-robin) between classes.
    n_classes : 2 | 3
        Classes ``left``, ``right`` (and ``feet`` for 3). Left-hand imagery
        desynchronises the rhythm over the right hemisphere (C4), right-hand
        imagery over the left (C3), feet at the vertex (Cz).
    snr : float
        Signal-to-noise ratio of the sensorimotor rhythm at its source's
        centre channel: its mu-band (8-13 Hz) power divided by the mu-band
        power of everything else there (background, alpha, sensor noise).
    erd : float
        Depth of the desynchronisation, 0 to 1: inside ``erd_window`` the
        rhythm's amplitude is multiplied by ``1 - erd``. At the centre
        channel the mu-band power of the desynchronising class is then
        ``(1 + snr * (1 - erd)**2) / (1 + snr)`` times that of the other
        classes (0.44 with the defaults); outside the mask the classes do
        not differ.
    erd_window : tuple of float
        Start and end (s, relative to the cue) of the desynchronisation, with
        0.2 s raised-cosine ramps centred on the edges. The default keeps it
        up while the imagery lasts, as in a 4 s cue.
    sfreq, tmin, tmax : float
        Sampling rate (Hz) and epoch window (s).
    confound : bool
        Add an eye-blink-like artefact (a 0.3 s positive deflection, largest
        at Fp1/Fpz/Fp2) in the task window, present in a share
        ``confound_rate[0]`` of the first class's trials and
        ``confound_rate[1]`` of the others': a shortcut a classifier can
        exploit (a "Clever Hans" cue).
    confound_rate : tuple of float
        See ``confound``.
    seed : int
        Seed of the random generator; the same seed gives the same data.
    source_sigma : float
        Spatial spread (radians, seen from the electrodes' centroid) of the
        sensorimotor sources: 0.5 (the default) puts half the peak amplitude
        on the centre channel's four nearest neighbours; smaller is more
        focal, larger more diffuse. The truth mask follows it. One of the
        knobs that make simulated subjects differ (see
        :func:`simulate_cohort`); the default leaves the data exactly as
        before the parameter existed.
    %(verbose)s

    Returns
    -------
    epochs : mne.Epochs
        ``n_trials`` x 64 channels, with ``standard_1005`` positions and the
        class names as event names. Data are in volts (background about
        10 uV).
    truth : xarray.DataArray
        Boolean, dims ``("class", "channel", "time")``: True where the
        evidence for or against the class lies in the decision between the
        simulated classes, i.e. where their generating processes differ: the
        channels where any class's source has at least half its peak
        amplitude, within ``erd_window``. For left vs right both
        sensorimotor regions count for both classes (less power over C4 and
        normal power over C3 both speak for "left"), so every class has the
        same mask. ``attrs`` hold the simulation's parameters, the centre
        channel of each class, each class's own source channels
        (``source_channels``, space-separated) and the confound channels.
        The confound (when simulated) is deliberately not in the truth: it
        is the shortcut a good explanation exposes.
    """
    if n_classes not in (2, 3):
        raise ValueError(f"n_classes must be 2 or 3, got {n_classes!r}.")
    if n_trials < 2 * n_classes:
        raise ValueError(f"n_trials must be at least {2 * n_classes} (two per class), got {n_trials}.")
    if not 0 <= erd <= 1:
        raise ValueError(f"erd must lie between 0 and 1, got {erd}.")
    if snr < 0:
        raise ValueError(f"snr must be non-negative, got {snr}.")
    if not np.isfinite(source_sigma) or source_sigma <= 0:
        raise ValueError(f"source_sigma must be a positive number of radians, got {source_sigma}.")
    if not tmin < erd_window[0] < erd_window[1] <= tmax:
        raise ValueError(f"erd_window {erd_window} must lie inside the epoch ({tmin}, {tmax}).")

    rng = np.random.default_rng(seed)
    classes = list(CLASS_SOURCES)[:n_classes]
    ch_names = list(EEGBCI_CHANNELS)
    n_ch = len(ch_names)
    times = tmin + np.arange(int(round((tmax - tmin) * sfreq)) + 1) / sfreq
    n_t = len(times)
    y = np.arange(n_trials) % n_classes
    rng.shuffle(y)
    shape = (n_trials, n_ch, n_t)

    # background: pink noise mixed by a broad kernel (volume conduction)
    mix = np.stack([spatial_kernel(ch_names, c, sigma=0.6) for c in ch_names])
    mix /= np.linalg.norm(mix, axis=1, keepdims=True)
    background = np.einsum("cd,ndt->nct", mix, pink_noise(rng, shape, sfreq))
    alpha = band_noise(rng, (n_trials, 1, n_t), sfreq, ALPHA_BAND)
    background += 0.7 * spatial_kernel(ch_names, "Oz", sigma=0.5)[:, None] * alpha
    background += 0.3 * rng.standard_normal(shape)

    env = _window_envelope(times, erd_window)
    data = background
    centres = {}
    for k, cls in enumerate(classes):
        centre = CLASS_SOURCES[cls]
        centres[cls] = centre
        i = ch_names.index(centre)
        rhythm = band_noise(rng, (n_trials, n_t), sfreq, MU_BAND)
        rhythm += 0.5 * band_noise(rng, (n_trials, n_t), sfreq, BETA_BAND)
        # scale so that the rhythm's mu power at the centre is snr x the rest's
        gain = np.sqrt(snr * band_power(background[:, i], sfreq, MU_BAND).mean()
                       / band_power(rhythm, sfreq, MU_BAND).mean())
        amplitude = np.where((y == k)[:, None], 1 - erd * env, 1.0)
        data = data + spatial_kernel(ch_names, centre, source_sigma)[None, :, None] * (
            gain * amplitude * rhythm
        )[:, None, :]

    if confound:
        blink_t = rng.uniform(*erd_window, size=n_trials)
        rate = np.where(y == 0, confound_rate[0], confound_rate[1])
        has_blink = rng.random(n_trials) < rate
        bump = np.exp(-((times[None] - blink_t[:, None]) ** 2) / (2 * 0.075**2))
        front = np.maximum(spatial_kernel(ch_names, "Fpz", sigma=0.35), 0)
        front[front < 0.05] = 0
        data = data + 8.0 * has_blink[:, None, None] * front[None, :, None] * bump[:, None, :]

    data *= 1e-5  # volts: background around 10 uV
    epochs = simulated_epochs(data, ch_names, sfreq, tmin, y, classes,
                              f"neurolrp simulated motor imagery (seed {seed})")

    # The truth of a decision between the classes is where their generating
    # processes differ: every class's source region, inside the window.
    # For left vs right, low power over C4 *and* normal power over C3 both
    # speak for "left", so both regions belong to the truth of every class.
    in_window = env >= 0.5
    sources = np.stack([spatial_kernel(ch_names, centres[c], source_sigma) >= MASK_LEVEL
                        for c in classes])
    decision = sources.any(axis=0)[:, None] & in_window[None]
    mask = np.repeat(decision[None], len(classes), axis=0)
    truth = xr.DataArray(
        mask, dims=("class", "channel", "time"),
        coords={"class": classes, "channel": ch_names, "time": times}, name="truth",
        attrs={
            "source_channels": [" ".join(np.asarray(ch_names)[src]) for src in sources],
            "snr": snr, "erd": erd, "erd_window": list(erd_window), "seed": seed,
            "source_sigma_rad": float(source_sigma), "mask_level": MASK_LEVEL,
            "centre_channels": [centres[c] for c in classes],
            "confound": int(confound), "confound_channels": list(FRONTAL_CHANNELS),
        },
    )
    logger.info(f"Simulated {n_trials} trials ({', '.join(classes)}) x {n_ch} channels x {n_t} samples")
    return epochs, truth


#: How cohort subjects differ (see :func:`cohort_parameters`): ranges of the
#: uniform draws for responders, and the desynchronisation of poor responders.
COHORT_RANGES = {"erd": (0.35, 0.8), "snr": (1.0, 4.0), "source_sigma": (0.35, 0.7),
                 "erd_onset": (0.3, 1.0), "erd_offset": (2.5, 3.5)}
WEAK_ERD = (0.1, 0.2)


def _check_subjects(subjects):
    if isinstance(subjects, (int, np.integer)) and not isinstance(subjects, bool):
        subjects = [subjects]
    try:
        subjects = list(subjects)
    except TypeError:
        raise TypeError(f"subjects must be a list of positive integers, got "
                        f"{type(subjects).__name__}.") from None
    bad = [s for s in subjects
           if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1]
    if bad or not subjects:
        raise ValueError(f"subjects must be a non-empty list of positive integers; "
                         f"{bad[:5] if bad else 'got none'} is not.")
    return [int(s) for s in subjects]


def cohort_parameters(subjects, *, seed=0):
    """The simulator settings of each subject of a simulated cohort.

    Subjects differ as BCI users do: in the depth of their desynchronisation
    (ERD), the signal-to-noise ratio of their sensorimotor rhythm, how focal
    its sources are, and when the ERD starts and ends. Every fourth subject
    is a poor responder: subjects 4, 12, 20... desynchronise weakly (ERD
    0.1-0.2), subjects 8, 16, 24... not at all (ERD 0), so a cohort of 8 has
    a realistic spread in accuracy with two near chance. A subject's settings
    depend only on ``seed`` and its own number, so a cohort can be extended
    and any subject regenerated alone.

    Parameters
    ----------
    subjects : list of int
        Subject numbers (1, 2, ...).
    seed : int
        Seed of the cohort.

    Returns
    -------
    params : pandas.DataFrame
        One row per subject, indexed by ``subject``: ``responder``
        (``"yes"``, ``"weak"``, ``"none"``), ``erd``, ``snr``,
        ``source_sigma``, ``erd_onset``, ``erd_offset`` (s) and
        ``data_seed`` (the seed of its trials), in the terms of
        :func:`simulate_motor_imagery`.
    """
    import pandas as pd

    rows = []
    for s in _check_subjects(subjects):
        rng = np.random.default_rng([int(seed), s])
        row = {k: float(rng.uniform(*r)) for k, r in COHORT_RANGES.items()}
        weak = float(rng.uniform(*WEAK_ERD))
        responder = "none" if s % 8 == 0 else "weak" if s % 4 == 0 else "yes"
        if responder != "yes":
            row["erd"] = 0.0 if responder == "none" else weak
        row.update(subject=s, responder=responder,
                   data_seed=int(np.random.SeedSequence([int(seed), s]).generate_state(1)[0]))
        rows.append(row)
    cols = ["subject", "responder", *COHORT_RANGES, "data_seed"]
    return pd.DataFrame(rows, columns=cols).set_index("subject")


@verbose
def simulate_cohort(subjects, *, seed=0, n_trials=100, n_classes=2, sfreq=100.0, tmin=-1.0,
                    tmax=4.0, verbose=None):
    """Simulate the motor imagery of several subjects who differ like real users.

    Parameters
    ----------
    subjects : list of int
        Subject numbers; each subject's settings come from
        :func:`cohort_parameters` (the same ``seed`` and number always give
        the same subject).
    seed : int
        Seed of the cohort.
    n_trials, n_classes, sfreq, tmin, tmax
        As in :func:`simulate_motor_imagery`, the same for every subject.
        The ERD window is cut to the epoch's end where it would outlast it.
    %(verbose)s

    Returns
    -------
    cohort : dict
        Subject number -> ``(epochs, truth)`` as returned by
        :func:`simulate_motor_imagery`; the epochs' description names the
        subject, and ``truth.attrs`` holds its settings.
    """
    params = cohort_parameters(subjects, seed=seed)
    first, last = COHORT_RANGES["erd_onset"]
    if not (tmin < first and tmax >= last + 0.5):
        raise ValueError(f"The epoch ({tmin:g} to {tmax:g} s) must start before {first:g} s and "
                         f"end at {last + 0.5:g} s or later, so that every subject's ERD (onset "
                         f"{first:g}-{last:g} s) lies in it.")
    cohort = {}
    for s, p in params.iterrows():
        window = (p.erd_onset, min(p.erd_offset, tmax))
        epochs, truth = simulate_motor_imagery(
            n_trials, n_classes, p.snr, erd=p.erd, erd_window=window, sfreq=sfreq, tmin=tmin,
            tmax=tmax, seed=int(p.data_seed), source_sigma=p.source_sigma, verbose=verbose)
        epochs.info["description"] = (f"neurolrp simulated motor imagery, cohort seed {seed}, "
                                      f"subject {s}")
        truth.attrs.update(subject=int(s), cohort_seed=int(seed), responder=p.responder)
        cohort[int(s)] = (epochs, truth)
    return cohort

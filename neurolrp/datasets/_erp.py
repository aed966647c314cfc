"""Simulated event-related potentials (slow waveforms) with a known ground truth.

Where the motor-imagery simulator puts the class information in band power,
this one puts it in the *waveform*: the classes differ by a slow potential,
as in readiness-potential and P300 paradigms. The generative model, in sensor
space (any channels of the 10-05 template; by default the 28 channels of the
BCI Competition II self-paced typing data set, Blankertz et al. 2002):

- background (as in :func:`~neurolrp.datasets.simulate_motor_imagery`):
  pink (1/f) noise per channel mixed by a broad spatial kernel (volume
  conduction), a posterior alpha rhythm (8-12 Hz, centred on Oz) and white
  sensor noise. Both are generated over a 4 s stretch and the epoch is cut
  from its end, so that slow drifts below ``1 / epoch length`` are present,
  as they are in real recordings: they are what a slow potential competes
  with;
- eye blinks: in a share ``blink_rate`` of the trials, whatever the class, a
  0.3 s positive deflection (about 80 uV at Fpz, 45 % of that at Fz, 1 % at
  Cz) centred at a random time in or just around the epoch;
- potentials common to both classes, with a fixed amplitude relative to the
  background (they carry no class information):
  ``"readiness"``: the bilateral Bereitschaftspotential, a negative ramp
  from -1 s to the movement at 0 s centred on Cz;
  ``"p300"``: the exogenous N1 (negative, 100 ms) and P2 (positive, 200 ms)
  at Cz;
- the class-specific potential:
  ``"readiness"``: the lateralised readiness potential, a negative shift
  that grows linearly from -0.4 s to the movement at 0 s (and decays over
  0.4 s after it) over the motor cortex contralateral to the moved hand
  (left hand: C4; right hand: C3);
  ``"p300"``: in ``target`` trials only, a positive deflection peaking
  300 ms after the stimulus (Gaussian, sd 60 ms), centro-parietal (Pz).
  Each trial's potential has its own amplitude (x N(1, 0.25), at least 0)
  and latency (+ N(0, 30 ms)).

Spatial spread uses the motor-imagery simulator's kernel: the amplitude of a
source at channel *c* is ``exp(-a**2 / (2 * sigma**2))`` with *a* the angle
between the source's and the channel's template positions, seen from the
centroid of the 64 eegmmidb electrodes (so a channel subset sees the same
kernel as the full cap).
"""

import functools

import numpy as np
import xarray as xr
from scipy.stats import norm

from .._utils import logger, verbose
from ._simulate import (ALPHA_BAND, EEGBCI_CHANNELS, MASK_LEVEL, band_noise, pink_noise,
                        simulated_epochs, template_positions)

#: The 28 EEG channels of the BCI Competition II self-paced typing data
#: (data set IV; Blankertz et al. 2002), the default of :func:`simulate_erp`.
ERP_CHANNELS = (
    "F3 F1 Fz F2 F4 FC5 FC3 FC1 FCz FC2 FC4 FC6 C5 C3 C1 Cz C2 C4 C6 "
    "CP5 CP3 CP1 CPz CP2 CP4 CP6 O1 O2"
).split()

PARADIGMS = {
    # paradigm: (classes, default epoch window in s, default snr)
    "readiness": (("left", "right"), (-0.5, 0.0), 0.4),
    "p300": (("target", "nontarget"), (0.0, 0.5), 1.5),
}

#: Class -> centre channel of its class-specific potential (``None``: none).
ERP_SOURCES = {"left": "C4", "right": "C3", "target": "Pz", "nontarget": None}
ERP_SIGMA = {"readiness": 0.5, "p300": 0.6}  # spatial spread (rad) of the class-specific source

LRP_ONSET = -0.4  # s before the movement at which the lateralised shift starts
P300_LATENCY, P300_WIDTH = 0.3, 0.06  # s: peak and sd of the P300
AMPLITUDE_SD = 0.25  # trial-to-trial amplitude jitter (factor ~ N(1, sd), >= 0)
LATENCY_SD = 0.03  # s, trial-to-trial latency jitter
BLINK_SD = 0.075  # s: a blink is a Gaussian bump of this sd (about 0.3 s long)
BLINK_AMPLITUDE = 8.0  # at Fpz, in units of the background's sd (about 80 uV)
BLINK_SIGMA = 0.6  # rad: of the Fpz amplitude 45 % at Fz, 11 % at FCz, 1 % at Cz
COMMON_AMPLITUDE = 1.0  # peak of the common potentials at Cz, same units (about 10 uV)
BACKGROUND_SECONDS = 4.0  # length of the stretch the background is cut from
_JITTER_QUANTILES = np.linspace(0.005, 0.995, 199)


@functools.lru_cache(maxsize=1)
def _template():
    """Channel name -> position (10-05 template), and the eegmmidb centroid."""
    pos = template_positions()
    return pos, np.mean([pos[c] for c in EEGBCI_CHANNELS], axis=0)


def _directions(names):
    """Unit vectors from the centroid of the 64 eegmmidb electrodes."""
    pos, centroid = _template()
    xyz = np.array([pos[c] for c in names]) - centroid
    return xyz / np.linalg.norm(xyz, axis=1, keepdims=True)


def _kernel(ch_names, centre, sigma):
    """Amplitude at ``ch_names`` of a source under template channel ``centre``."""
    angle = np.arccos(np.clip(_directions(ch_names) @ _directions([centre])[0], -1.0, 1.0))
    return np.exp(-(angle**2) / (2 * sigma**2))


def _waveform(paradigm, t):
    """Class-specific potential (peak magnitude 1) at times ``t`` (s)."""
    if paradigm == "readiness":
        # rises linearly from LRP_ONSET to the movement at 0 s, decays as fast after it
        return -np.clip(1 - np.abs(t) / -LRP_ONSET, 0, None)
    return np.exp(-((t - P300_LATENCY) ** 2) / (2 * P300_WIDTH**2))


def _common(paradigm, t):
    """Potential common to both classes (peak magnitude 1) at times ``t``."""
    if paradigm == "readiness":  # bilateral Bereitschaftspotential from -1 s
        return -np.clip(1 - np.abs(t) / 1.0, 0, None)
    return (-np.exp(-((t - 0.1) ** 2) / (2 * 0.025**2))  # N1
            + 0.8 * np.exp(-((t - 0.2) ** 2) / (2 * 0.035**2)))  # P2


def _check_channels(channels):
    if channels is None:
        return list(ERP_CHANNELS)
    if isinstance(channels, str):
        raise TypeError(f"channels must be a list of channel names, got the string {channels!r}.")
    ch_names = [str(c) for c in channels]
    if len(ch_names) < 2:
        raise ValueError(f"channels must name at least 2 channels, got {ch_names}.")
    dupes = sorted({c for c in ch_names if ch_names.count(c) > 1})
    if dupes:
        raise ValueError(f"channels must not repeat; repeated: {', '.join(dupes)}.")
    known = _template()[0]
    unknown = [c for c in ch_names if c not in known]
    if unknown:
        raise ValueError(
            f"Channel(s) {', '.join(unknown)} are not in the 10-05 template (standard_1005); "
            f"use names such as {', '.join(ERP_CHANNELS[:4])} (case-sensitive)."
        )
    return ch_names


@verbose
def simulate_erp(
    n_trials=200,
    paradigm="readiness",
    snr=None,
    *,
    channels=None,
    sfreq=100.0,
    tmin=None,
    tmax=None,
    blink_rate=0.2,
    seed=0,
    verbose=None,
):
    """Simulate EEG epochs whose classes differ by a slow potential.

    See the module's notes (``neurolrp.datasets._erp``) for the generative
    model. In short: realistic background (1/f noise, posterior alpha,
    sensor noise, class-independent eye blinks, potentials common to both
    classes) plus a class-specific slow potential.

    Parameters
    ----------
    n_trials : int
        Number of trials, split evenly (round-robin, then shuffled) between
        the two classes.
    paradigm : "readiness" | "p300"
        ``"readiness"``: classes ``left`` and ``right`` (the hand about to
        move); a lateralised readiness potential, a negative shift growing
        towards the movement at 0 s over the contralateral motor cortex
        (left: C4, right: C3). ``"p300"``: classes ``target`` and
        ``nontarget``; target trials carry a centro-parietal positive
        deflection peaking 300 ms after the stimulus at 0 s.
    snr : float
        Signal-to-noise ratio of the class-specific potential, as a power
        ratio at its peak channel (the simulated channel where that class's
        potential is largest, e.g. C4 for ``left``; CPz for ``target`` with
        the default channels, which lack Pz) over the samples of the truth
        window: the mean square of the potential over the trials of its
        class, divided by the mean square of everything else at that channel
        over all trials (background, blinks and the common potentials). A
        trial's data are exactly the background plus the class-specific
        potential, so ``simulate_erp(..., snr=0)`` with the same seed gives
        "everything else" (a test checks the ratio). 0 gives classes that
        do not differ. ``None``: 0.4 for ``"readiness"``, 1.5 for
        ``"p300"``, where shrinkage LDA (:func:`neurolrp.decoding.make_slda`)
        reaches about 0.8 in 5-fold CV with 200 trials and the other
        defaults (0.79-0.83 and 0.77-0.86 over seeds 0-3).
    channels : list of str | None
        Channels to simulate, any names of the 10-05 template. ``None``:
        the 28 channels of BCI Competition II data set IV
        (:data:`ERP_CHANNELS`: F, FC, C and CP rows, O1, O2).
    sfreq : float
        Sampling rate (Hz).
    tmin, tmax : float | None
        Epoch window (s) relative to the movement (``"readiness"``) or the
        stimulus (``"p300"``). ``None``: -0.5 to 0 s for ``"readiness"``
        and 0 to 0.5 s for ``"p300"``.
    blink_rate : float
        Share of trials (0 to 1) with an eye blink, independent of class.
    seed : int
        Seed of the random generator; the same seed gives the same data.
    %(verbose)s

    Returns
    -------
    epochs : mne.Epochs
        ``n_trials`` x ``len(channels)``, with ``standard_1005`` positions
        and the class names as event names. Data are in volts (background
        about 10 uV).
    truth : xarray.DataArray
        Boolean, dims ``("class", "channel", "time")``: True where the class
        means differ, the same region for both classes of the two-class
        decision. It is the product of a channel mask and a time mask:
        channels where the difference of the classes' expected spatial
        patterns is at least half its peak over the scalp, and samples
        where the expected potential (averaged over the latency jitter) is
        at least half its peak in magnitude. The common potentials are not
        part of it. ``attrs`` hold the simulation's parameters and, per
        class, the source's centre channel (``source_channels``; ``""``:
        none), the simulated channel where the potential is largest
        (``peak_channels``, where ``snr`` is defined) and the potential's
        peak amplitude at the source's centre before the trial's jitter
        (``gain_volts``: what ``snr`` became in volts).

    Raises
    ------
    ValueError
        If a parameter is out of range, a channel is not in the template,
        the epoch has fewer than 2 samples, or the chosen channels miss the
        region where the classes differ (the truth would be empty).
    TypeError
        If ``channels`` is a string.
    """
    if paradigm not in PARADIGMS:
        raise ValueError(f"paradigm must be one of {sorted(PARADIGMS)}, got {paradigm!r}.")
    if not isinstance(n_trials, (int, np.integer)) or n_trials < 4:
        raise ValueError(f"n_trials must be an integer of at least 4 (two per class), got {n_trials!r}.")
    if paradigm in PARADIGMS and snr is None:
        snr = PARADIGMS[paradigm][2]
    if not isinstance(snr, (int, float, np.number)) or not np.isfinite(snr) or snr < 0:
        raise ValueError(f"snr must be a non-negative number, got {snr!r}.")
    if not 0 <= blink_rate <= 1:
        raise ValueError(f"blink_rate must lie between 0 and 1, got {blink_rate!r}.")
    if not np.isfinite(sfreq) or sfreq <= 0:
        raise ValueError(f"sfreq must be a positive number (Hz), got {sfreq!r}.")
    classes, window, _ = PARADIGMS[paradigm]
    tmin = window[0] if tmin is None else float(tmin)
    tmax = window[1] if tmax is None else float(tmax)
    n_t = int(round((tmax - tmin) * sfreq)) + 1
    if not tmin < tmax or n_t < 2:
        raise ValueError(f"The epoch window ({tmin}, {tmax}) s must hold at least 2 samples at "
                         f"{sfreq:g} Hz (tmin < tmax).")
    ch_names = _check_channels(channels)
    n_ch = len(ch_names)
    times = tmin + np.arange(n_t) / sfreq

    # where the classes' expected patterns differ: channels and samples
    sigma = ERP_SIGMA[paradigm]
    patterns = {c: (np.zeros(n_ch) if ERP_SOURCES[c] is None else _kernel(ch_names, ERP_SOURCES[c], sigma))
                for c in classes}
    ref = list(dict.fromkeys(list(EEGBCI_CHANNELS) + ch_names))  # the peak over the scalp
    scalp = [np.zeros(len(ref)) if ERP_SOURCES[c] is None else _kernel(ref, ERP_SOURCES[c], sigma)
             for c in classes]
    diff = np.abs(patterns[classes[0]] - patterns[classes[1]])
    ch_mask = diff >= MASK_LEVEL * np.abs(scalp[0] - scalp[1]).max()
    if not ch_mask.any():
        near = [ref[i] for i in np.argsort(-np.abs(scalp[0] - scalp[1]))[:4]]
        raise ValueError(
            f"None of the channels carries the {paradigm} potential (the classes differ most at "
            f"{', '.join(near)}); include channels there."
        )
    lat_q = LATENCY_SD * norm.ppf(_JITTER_QUANTILES)

    def expected(t):  # the potential averaged over the latency jitter
        return _waveform(paradigm, t[None, :] - lat_q[:, None]).mean(axis=0)

    peak = np.abs(expected(np.arange(-2.0, 2.0, 0.001))).max()
    t_mask = np.abs(expected(times)) >= MASK_LEVEL * peak
    if not t_mask.any():
        raise ValueError(
            f"The epoch window ({tmin}, {tmax}) s misses the {paradigm} potential (it is at least "
            f"half its peak from {_half_window(expected, peak)}); widen the window."
        )
    mask = ch_mask[:, None] & t_mask[None, :]

    rng = np.random.default_rng(seed)
    y = np.arange(n_trials) % 2
    rng.shuffle(y)
    # background: cut from the end of a longer stretch so slow drifts are present
    n_long = max(n_t, int(round(BACKGROUND_SECONDS * sfreq)))
    mix = np.stack([_kernel(ch_names, c, 0.6) for c in ch_names])
    mix /= np.linalg.norm(mix, axis=1, keepdims=True)
    pink = pink_noise(rng, (n_trials, n_ch, n_long), sfreq)[..., -n_t:]
    background = np.einsum("cd,ndt->nct", mix, pink)
    alpha = band_noise(rng, (n_trials, 1, n_long), sfreq, ALPHA_BAND)[..., -n_t:]
    background += 0.7 * _kernel(ch_names, "Oz", 0.5)[:, None] * alpha
    background += 0.3 * rng.standard_normal(background.shape)

    has_blink = rng.random(n_trials) < blink_rate
    blink_t = rng.uniform(tmin - 2 * BLINK_SD, tmax + 2 * BLINK_SD, size=n_trials)
    bump = np.exp(-((times[None] - blink_t[:, None]) ** 2) / (2 * BLINK_SD**2))
    front = _kernel(ch_names, "Fpz", BLINK_SIGMA)
    background += (BLINK_AMPLITUDE * has_blink[:, None, None] * front[None, :, None]
                   * bump[:, None, :])
    background += (COMMON_AMPLITUDE * _kernel(ch_names, "Cz", 0.6)[:, None]
                   * _common(paradigm, times)[None, :])

    # the class-specific potential, one amplitude and latency per trial
    amp = np.clip(1 + AMPLITUDE_SD * rng.standard_normal(n_trials), 0, None)
    lat = LATENCY_SD * rng.standard_normal(n_trials)
    wave = amp[:, None] * _waveform(paradigm, times[None, :] - lat[:, None])
    data = background.copy()
    peaks, gains = {}, {}
    for k, cls in enumerate(classes):
        if ERP_SOURCES[cls] is None:
            continue
        i = int(np.argmax(patterns[cls]))
        peaks[cls] = ch_names[i]
        trials = y == k
        signal = patterns[cls][i] * wave[trials][:, t_mask]
        noise = background[:, i][:, t_mask]
        gain = np.sqrt(snr * np.mean(noise**2) / np.mean(signal**2)) if trials.any() else 0.0
        gains[cls] = float(gain) * 1e-5
        data[trials] += gain * patterns[cls][None, :, None] * wave[trials][:, None, :]

    data *= 1e-5  # volts: background around 10 uV
    epochs = simulated_epochs(data, ch_names, sfreq, tmin, y, classes,
                              f"neurolrp simulated {paradigm} potential (seed {seed})")

    truth = xr.DataArray(
        np.stack([mask] * len(classes)), dims=("class", "channel", "time"),
        coords={"class": list(classes), "channel": ch_names, "time": times}, name="truth",
        attrs={
            "paradigm": paradigm, "snr": float(snr), "seed": int(seed),
            "blink_rate": float(blink_rate), "source_sigma_rad": sigma,
            "mask_level": MASK_LEVEL,
            "source_channels": [ERP_SOURCES[c] or "" for c in classes],
            "peak_channels": [peaks.get(c, "") for c in classes],
            "gain_volts": [gains.get(c, 0.0) for c in classes],
        },
    )
    logger.info(f"Simulated {n_trials} {paradigm} trials ({', '.join(classes)}) x {n_ch} "
                f"channels x {n_t} samples")
    return epochs, truth


def _half_window(expected, peak):
    grid = np.arange(-2.0, 2.0, 0.001)
    above = grid[np.abs(expected(grid)) >= MASK_LEVEL * peak]
    return f"{above[0]:.2f} to {above[-1]:.2f} s"

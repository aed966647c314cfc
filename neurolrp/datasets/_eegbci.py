"""PhysioNet EEG Motor Movement/Imagery (eegmmidb) through MNE's loader."""

import numbers
import os
import warnings
from pathlib import Path

import mne
import numpy as np

from .._checks import check_number
from .._utils import logger, verbose

#: Runs and class names of each task (PhysioNet's table; T1/T2 per run).
TASKS = {
    "execution/left-right": ((3, 7, 11), ("left", "right")),
    "imagery/left-right": ((4, 8, 12), ("left", "right")),
    "execution/hands-feet": ((5, 9, 13), ("hands", "feet")),
    "imagery/hands-feet": ((6, 10, 14), ("hands", "feet")),
}

REPO_DATA = Path(__file__).resolve().parents[2] / "datasets"
_SUBDIR = Path("MNE-eegbci-data", "files", "eegmmidb", "1.0.0")


def check_band(l_freq, h_freq, sfreq):
    """Validate band-pass edges in Hz for data sampled at ``sfreq``; raise if unusable.

    Raises
    ------
    TypeError
        An edge that is not a number or None.
    ValueError
        An edge <= 0, at or above Nyquist (``sfreq / 2``), or
        ``l_freq >= h_freq``.
    """
    nyq = sfreq / 2.0
    l_freq = check_number(l_freq, "l_freq", low=0, low_open=True, high=nyq, high_open=True,
                          none_ok=True)
    h_freq = check_number(h_freq, "h_freq", low=0, low_open=True, high=nyq, high_open=True,
                          none_ok=True)
    if l_freq is not None and h_freq is not None and l_freq >= h_freq:
        raise ValueError(f"l_freq ({l_freq:g} Hz) must be below h_freq ({h_freq:g} Hz).")
    return l_freq, h_freq


def standard_montage():
    """The 10-05 template montage (``standard_1005``).

    MNE 1.13 renamed ``standard_1005`` to ``colin27_1005`` (same positions);
    use whichever this MNE has, without the deprecation warning.
    """
    name = "colin27_1005"
    if name not in mne.channels.get_builtin_montages():
        name = "standard_1005"
    return mne.channels.make_standard_montage(name)


def _run_files(root, subject, runs):
    folder = Path(root) / _SUBDIR / f"S{subject:03d}"
    return [folder / f"S{subject:03d}R{run:02d}.edf" for run in runs]


def _candidate_roots(path):
    roots = []
    if path is not None:
        roots.append(Path(path).expanduser())
    if os.environ.get("NEUROLRP_DATA"):
        roots.append(Path(os.environ["NEUROLRP_DATA"]).expanduser())
    roots.append(REPO_DATA)
    # where MNE itself keeps downloaded data sets
    mne_root = mne.get_config("MNE_DATASETS_EEGBCI_PATH") or mne.get_config("MNE_DATA")
    roots.append(Path(mne_root or "~/mne_data").expanduser())
    return roots


def _find_files(subject, runs, path):
    """Return the run files: found locally, or downloaded through MNE."""
    from mne.datasets import eegbci

    roots = _candidate_roots(path)
    for root in roots:
        if all(f.exists() for f in _run_files(root, subject, runs)):
            # The files are there, so MNE's loader only returns their paths.
            return eegbci.load_data(subject, list(runs), path=str(root), update_path=False)
    # a download goes where the user pointed, else to MNE's own data folder
    download_root = roots[0] if roots[0] != REPO_DATA else roots[-1]
    import pooch

    pooch.get_logger().setLevel("WARNING" if logger.level > 20 else "INFO")
    try:
        logger.info(f"Downloading eegmmidb subject {subject} runs {list(runs)} to {download_root}")
        download_root.mkdir(parents=True, exist_ok=True)
        with mne.utils.use_log_level("INFO" if logger.level <= 20 else "WARNING"):
            return eegbci.load_data(subject, list(runs), path=str(download_root),
                                    update_path=False)
    except Exception as err:  # pooch raises many kinds of network errors
        looked = "\n".join(f"  - {r / _SUBDIR / f'S{subject:03d}'}" for r in roots)
        raise FileNotFoundError(
            f"EEGBCI subject {subject}, runs {list(runs)} are not available offline "
            f"and could not be downloaded ({type(err).__name__}: {err}).\nLooked in:\n{looked}\n"
            "Get the EDF files from https://physionet.org/content/eegmmidb/1.0.0/ (or run "
            "mne.datasets.eegbci.load_data on a machine with a network) and point "
            "path= or $NEUROLRP_DATA at the folder that holds MNE-eegbci-data/."
        ) from None


@verbose
def load_eegbci(
    subject=1,
    task="imagery/hands-feet",
    path=None,
    *,
    l_freq=7.0,
    h_freq=30.0,
    tmin=-1.0,
    tmax=4.0,
    resample=None,
    verbose=None,
):
    """Load one subject of PhysioNet's motor movement/imagery data as epochs.

    Parameters
    ----------
    subject : int
        Subject number, 1 to 109. Subject 1's imagery runs ship with
        neurolrp; other subjects are downloaded through MNE when a network is
        available.
    task : str
        One of ``"imagery/hands-feet"`` (runs 6, 10, 14; classes ``hands``,
        ``feet``), ``"imagery/left-right"`` (runs 4, 8, 12; ``left``,
        ``right``), ``"execution/hands-feet"`` (runs 5, 9, 13) and
        ``"execution/left-right"`` (runs 3, 7, 11).
    path : path-like | None
        Folder that holds ``MNE-eegbci-data/``. Files are looked for in
        ``path``, then ``$NEUROLRP_DATA``, then the repository's
        ``datasets/``; a download goes to the first of these.
    l_freq, h_freq : float | None
        Band-pass edges in Hz (FIR, zero phase), applied to the continuous
        data before epoching. Defaults: 7-30 Hz, the mu and beta bands, as in
        MNE's CSP motor-imagery example. ``None`` skips that edge.
    tmin, tmax : float
        Epoch window in seconds around the cue. The default -1 to 4 s holds a
        pre-cue baseline and the whole 4.1 s cue. No baseline correction is
        applied.
    resample : float | None
        New sampling rate in Hz (after filtering, before epoching), or
        ``None`` to keep the recording's 160 Hz.
    %(verbose)s
        Also MNE's log level while reading (``None``: ``"warning"``).

    Returns
    -------
    epochs : mne.Epochs
        Preloaded epochs of the 64 EEG channels with standardised names
        (``Cz``, ``FCz``...) and ``standard_1005`` positions. Event names are
        the class names.

    Raises
    ------
    ValueError
        An unknown task, a subject outside 1-109 (NumPy integers are fine),
        ``tmax <= tmin``, band edges outside (0, 80) Hz or in the wrong
        order, ``resample <= 0``, or a window that fits no trial.
    NotADirectoryError
        ``path`` is a file.
    FileNotFoundError
        The files are neither found nor downloadable (the message says
        where it looked).
    """
    if not isinstance(task, str) or task not in TASKS:
        raise ValueError(f"task must be one of {sorted(TASKS)}, got {task!r}.")
    if isinstance(subject, (bool, np.bool_)) or not isinstance(subject, numbers.Integral) \
            or not 1 <= subject <= 109:
        raise ValueError(f"subject must be an integer from 1 to 109, got {subject!r}.")
    subject = int(subject)  # np.int64 from an array of subjects is fine
    if path is not None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a folder path or None, got {type(path).__name__}.")
        if Path(path).expanduser().exists() and not Path(path).expanduser().is_dir():
            raise NotADirectoryError(f"path={str(path)!r} is a file; give the folder that holds "
                                     "MNE-eegbci-data/.")
    tmin = check_number(tmin, "tmin")
    tmax = check_number(tmax, "tmax")
    if tmax <= tmin:
        raise ValueError(f"tmax ({tmax}) must be greater than tmin ({tmin}).")
    check_band(l_freq, h_freq, 160.0)
    resample = check_number(resample, "resample", low=0, low_open=True, none_ok=True)
    runs, classes = TASKS[task]
    mne_verbose = "WARNING" if verbose in (None, False) else verbose
    files = _find_files(subject, runs, path)
    logger.info(f"Loading eegmmidb S{subject:03d} {task}: {len(files)} runs")
    raws = [mne.io.read_raw_edf(f, preload=True, verbose=mne_verbose) for f in files]
    raw = mne.concatenate_raws(raws, verbose=mne_verbose)
    mne.datasets.eegbci.standardize(raw)
    raw.set_montage(standard_montage(), verbose=mne_verbose)
    raw.pick("eeg")
    if l_freq is not None or h_freq is not None:
        raw.filter(l_freq, h_freq, fir_design="firwin", skip_by_annotation="edge",
                   verbose=mne_verbose)
    if resample is not None:
        raw.resample(resample, verbose=mne_verbose)
    events, _ = mne.events_from_annotations(
        raw, event_id={"T1": 1, "T2": 2}, verbose=mne_verbose
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*annotation.*")
        epochs = mne.Epochs(
            raw, events, event_id={classes[0]: 1, classes[1]: 2}, tmin=tmin, tmax=tmax,
            baseline=None, preload=True, verbose=mne_verbose,
        )
    if len(epochs) < len(events):
        logger.info(f"{len(events) - len(epochs)} of {len(events)} trials reach outside the "
                    f"recording with tmin={tmin:g}, tmax={tmax:g} s and were dropped.")
    if len(epochs) == 0:
        raise ValueError(f"No trial fits the window tmin={tmin:g} to tmax={tmax:g} s inside "
                         "the recording; use a shorter window.")
    epochs.info["description"] = f"PhysioNet eegmmidb S{subject:03d} {task}"
    return epochs


@verbose
def eegbci_files(subject=1, runs=(6,), path=None, verbose=None):
    """Paths of PhysioNet eegmmidb EDF files: the bundled copy, a local one, or downloaded.

    Subject 1's imagery runs (4, 6, 8, 10, 12, 14) ship with the repository;
    other files are looked for where :func:`load_eegbci` looks (``path``,
    ``$NEUROLRP_DATA``, the repository's ``datasets/``, MNE's data folder)
    and downloaded through MNE when missing.

    Parameters
    ----------
    subject : int
        Subject number, 1 to 109.
    runs : int | sequence of int
        Run numbers, 1 to 14.
    path : path-like | None
        A folder holding ``MNE-eegbci-data/``, looked in first.
    %(verbose)s

    Returns
    -------
    files : list of pathlib.Path
        One EDF file per run, in the order of ``runs``.
    """
    if isinstance(runs, numbers.Integral):
        runs = (runs,)
    if isinstance(subject, (bool, np.bool_)) or not isinstance(subject, numbers.Integral) \
            or not 1 <= subject <= 109:
        raise ValueError(f"subject must be an integer from 1 to 109, got {subject!r}.")
    runs = tuple(runs)
    if not runs or any(isinstance(r, (bool, np.bool_)) or not isinstance(r, numbers.Integral)
                       or not 1 <= r <= 14 for r in runs):
        raise ValueError(f"runs must be run numbers from 1 to 14, got {runs!r}.")
    return [Path(f) for f in _find_files(int(subject), [int(r) for r in runs], path)]

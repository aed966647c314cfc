"""Small helpers shared by every stage: logging, progress, input checks."""

import contextlib
import logging
import sys

import numpy as np

logger = logging.getLogger("neurolrp")
if not logger.handlers:
    _handler = logging.StreamHandler(sys.stdout)
    _handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(_handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def _verbose_level(verbose):
    """Translate MNE-style ``verbose`` into a logging level."""
    if verbose is None or verbose is True:
        return logging.INFO
    if verbose is False:
        return logging.WARNING
    if isinstance(verbose, str):
        return getattr(logging, verbose.upper())
    return int(verbose)


@contextlib.contextmanager
def use_log_level(verbose):
    """Temporarily set neurolrp's log level from an MNE-style ``verbose``."""
    old = logger.level
    logger.setLevel(_verbose_level(verbose))
    try:
        yield
    finally:
        logger.setLevel(old)


def progress(iterable, desc, total=None, verbose=None):
    """Wrap ``iterable`` in a progress bar unless ``verbose`` silences it.

    The bar is tqdm's (a dependency of MNE); it goes to stderr and adapts to
    Jupyter, like MNE's own progress bars.
    """
    if _verbose_level(verbose) > logging.INFO:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, leave=False, file=sys.stderr)


def check_finite(data, what="data"):
    """Raise a ValueError naming where NaN or inf values sit in ``data``."""
    data = np.asarray(data)
    bad = ~np.isfinite(data)
    if bad.any():
        where = np.argwhere(bad)[0]
        raise ValueError(
            f"{what} contains {int(bad.sum())} NaN or infinite value(s) "
            f"(first at index {tuple(int(i) for i in where)}). Remove or "
            "interpolate bad segments before using neurolrp."
        )


def check_3d(data, what="X"):
    """Return ``data`` as a float array (n_trials, n_channels, n_times)."""
    data = np.asarray(data)
    if data.ndim != 3:
        raise ValueError(
            f"{what} must have shape (n_trials, n_channels, n_times), got an "
            f"array with {data.ndim} dimension(s) and shape {data.shape}."
        )
    if not np.issubdtype(data.dtype, np.number) or np.iscomplexobj(data):
        raise ValueError(f"{what} must hold real numbers, got dtype {data.dtype}.")
    if 0 in data.shape:
        raise ValueError(f"{what} is empty (shape {data.shape}).")
    return data

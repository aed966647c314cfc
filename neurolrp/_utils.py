"""Small helpers shared by every stage: logging (the ``verbose`` convention) and progress."""

import contextlib
import contextvars
import functools
import inspect
import logging
import os
import sys

from ._docs import fill_doc

logger = logging.getLogger("neurolrp")
if not logger.handlers:
    _handler = logging.StreamHandler(sys.stdout)
    _handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(_handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def tune_allocator():
    """Keep freed memory in the process instead of handing it back to the kernel.

    glibc serves every allocation above its mmap threshold (128 KiB, rising
    to at most 32 MiB) with a fresh ``mmap`` and returns it with ``munmap`` on
    free. Training and explaining allocate and free tensors of a few MiB on
    every step, so each step faults its memory in again page by page: on a
    2-core machine ``neurolrp demo`` spent 105 s of 265 s CPU time in the
    kernel with 35 million minor page faults (issue 15). Raising the mmap
    and trim thresholds lets glibc reuse freed blocks; one ShallowNet fit
    went from 4.1 s user + 3.7 s system to 3.3 s + 0.1 s (2.3 M -> 0.06 M
    page faults). Peak memory is unchanged: blocks are reused, not added.
    The trim threshold is 1 GiB: with 512 MiB, an LRP pass over 64 trials
    of 64 x 321 samples freed more than that at the top of the heap at
    random, and about one process in three then faulted 140,000 pages per
    pass and ran at half speed (gradient and LRP alike). Memory a run
    freed stays with the process up to that amount.

    Called once when neurolrp is imported; it affects the whole process and
    only glibc (Linux). Set the environment variable ``NEUROLRP_MALLOPT=0``
    before importing neurolrp to leave the allocator alone.

    Returns
    -------
    tuned : bool
        Whether the thresholds were set.
    """
    if os.environ.get("NEUROLRP_MALLOPT", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes
        import ctypes.util

        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl): nothing to tune
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    return bool(mallopt(m_mmap_threshold, 256 << 20)) and bool(mallopt(m_trim_threshold, 1 << 30))


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


def verbose(function):
    """Decorator: run ``function`` at the log level its ``verbose`` argument asks for.

    MNE's convention (:func:`mne.verbose`): ``verbose=None`` leaves neurolrp's
    log level as it is, so a call inside another inherits the caller's level;
    any other value sets it for the call (:func:`use_log_level`). The
    docstring's ``%(verbose)s`` (and any other :data:`~neurolrp._docs.docdict`
    entry) is filled in.

    Parameters
    ----------
    function : callable
        A function with a ``verbose`` parameter whose default is ``None``.

    Returns
    -------
    wrapper : callable
        ``function`` with the level applied around each call.

    Raises
    ------
    TypeError
        ``function`` has no ``verbose`` parameter, or its default is not None.
    """
    params = inspect.signature(function).parameters
    if "verbose" not in params or params["verbose"].default is not None:
        raise TypeError(f"{function.__qualname__} must take verbose=None to use @verbose.")
    names = list(params)
    # where a positional verbose would sit (most functions take it by keyword only)
    position = (names.index("verbose")
                if params["verbose"].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD else None)
    fill_doc(function)

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        if "verbose" in kwargs:
            level = kwargs["verbose"]
        elif position is not None and len(args) > position:
            level = args[position]
        else:
            level = None
        if level is None:
            return function(*args, **kwargs)
        with use_log_level(level):
            return function(*args, **kwargs)

    return wrapper


#: Prefix of every progress bar's description in the current context (see
#: :func:`progress_prefix`).
_PREFIX = contextvars.ContextVar("neurolrp_progress_prefix", default="")


@contextlib.contextmanager
def progress_prefix(text):
    """Name what the progress bars opened inside this block belong to.

    ``cross_validate`` uses it so that each training run's bar reads
    ``shallow fold 2/5 | Training shallow``.
    """
    token = _PREFIX.set(f"{_PREFIX.get()}{text} | ")
    try:
        yield
    finally:
        _PREFIX.reset(token)


def in_notebook():
    """Whether this process is a Jupyter kernel (not a terminal IPython)."""
    shell = sys.modules.get("IPython")
    if shell is None or "ipykernel" not in sys.modules:
        return False
    try:
        ip = shell.get_ipython()
    except AttributeError:
        return False
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def _isatty(stream):
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or replaced streams
        return False


def progress_mode(verbose=None):
    """Where progress bars go: ``"notebook"``, ``"terminal"``, ``"text"`` or None (none).

    - ``verbose`` False or ``"warning"`` and above: none.
    - In a Jupyter kernel: a widget bar when ``ipywidgets`` is installed,
      otherwise ``"text"`` (tqdm's plain bar, which Jupyter redraws in place;
      no "IProgress not found" warning).
    - In a terminal (stderr is a TTY): ``"terminal"``.
    - Anywhere else (output piped to a file, CI logs): none, so a log does not
      fill with hundreds of bar updates; ``verbose="debug"`` or the
      environment variable ``NEUROLRP_PROGRESS=1`` asks for them anyway
      (``NEUROLRP_PROGRESS=0`` turns every bar off).
    """
    if _verbose_level(verbose) > logging.INFO:
        return None
    env = os.environ.get("NEUROLRP_PROGRESS", "").strip().lower()
    if env in ("0", "no", "off", "never", "false"):
        return None
    if in_notebook():
        import importlib.util

        return "notebook" if importlib.util.find_spec("ipywidgets") else "text"
    if _isatty(sys.stderr):
        return "terminal"
    if env in ("1", "yes", "on", "always", "true") or _verbose_level(verbose) < logging.INFO:
        return "text"
    return None


def progress(iterable, desc, total=None, verbose=None):
    """Wrap ``iterable`` in a progress bar where one helps (see :func:`progress_mode`).

    The bar is tqdm's (a dependency of MNE) on stderr, one line that is
    removed when done; in Jupyter a widget (with ``ipywidgets``) or tqdm's
    text bar. Outside a terminal or notebook ``iterable`` is returned as it
    is unless asked for (``verbose="debug"``, ``NEUROLRP_PROGRESS=1``).
    """
    mode = progress_mode(verbose)
    if mode is None:
        return iterable
    desc = f"{_PREFIX.get()}{desc}"
    if mode == "notebook":
        from tqdm.notebook import tqdm

        return tqdm(iterable, desc=desc, total=total, leave=False)
    from tqdm.std import tqdm

    return tqdm(iterable, desc=desc, total=total, leave=False, file=sys.stderr,
                dynamic_ncols=mode == "terminal", mininterval=0.2 if mode == "terminal" else 2.0)

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


#: glibc's thresholds set by :func:`tune_allocator`: mmap and trim.
MMAP_THRESHOLD = 256 << 20
TRIM_THRESHOLD = 1 << 30


def tune_allocator():
    """Keep freed memory in the process instead of handing it back to the kernel.

    Part of :func:`neurolrp.tune_process` (the command line calls it; importing
    neurolrp does not).

    glibc serves every allocation above its mmap threshold (128 KiB, raised
    by its own heuristic to at most 32 MiB) with a fresh ``mmap`` and
    returns it with ``munmap`` on free; memory freed at the top of the heap
    beyond the trim threshold (twice the mmap threshold) goes back too.
    Training allocates and frees tensors of a few MiB on every step, so each
    step faults its memory in again page by page: on a 2-core machine
    ``neurolrp demo`` spent 105 s of 265 s CPU time in the kernel with 35
    million minor page faults (issue 15). With an mmap threshold of 256 MiB
    and a trim threshold of 1 GiB glibc reuses freed blocks; one ShallowNet
    fit went from 4.1 s user + 3.7 s system to 3.3 s + 0.1 s (2.3 M -> 0.06 M
    page faults). Peak memory is unchanged: blocks are reused, not added.
    Memory a run freed stays with the process up to the trim threshold.
    A tensor larger than 256 MiB is still mapped fresh each time.

    Each threshold is set on its own (glibc refuses an mmap threshold above
    32 MiB in some versions: then only the trim threshold is set, and the
    result says so). The environment variables ``MALLOC_MMAP_THRESHOLD_``
    and ``MALLOC_TRIM_THRESHOLD_`` are set too (unless set), so that the
    processes this one starts (a study's dask workers) begin with the same
    thresholds. Only glibc (Linux); set ``NEUROLRP_MALLOPT=0`` to leave the
    allocator alone.

    Returns
    -------
    changed : list of str
        The thresholds that glibc accepted (empty when none was set).
    """
    if os.environ.get("NEUROLRP_MALLOPT", "1") == "0" or not sys.platform.startswith("linux"):
        return []
    try:
        import ctypes
        import ctypes.util

        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl): nothing to tune
        return []
    changed = []
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    for name, param, value, env in (
            ("mmap", m_mmap_threshold, MMAP_THRESHOLD, "MALLOC_MMAP_THRESHOLD_"),
            ("trim", m_trim_threshold, TRIM_THRESHOLD, "MALLOC_TRIM_THRESHOLD_")):
        if mallopt(param, value):  # 0: refused
            changed.append(f"malloc {name} threshold={value >> 20} MiB")
            os.environ.setdefault(env, str(value))
    return changed


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

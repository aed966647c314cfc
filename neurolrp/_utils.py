"""Small helpers shared by every stage: logging, progress, input checks."""

import contextlib
import logging
import os
import sys

import numpy as np

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
    return bool(mallopt(m_mmap_threshold, 256 << 20)) and bool(mallopt(m_trim_threshold, 512 << 20))


def available_cores():
    """Cores this process may run on: its CPU affinity, capped by a cgroup CPU quota.

    ``os.cpu_count()`` counts the machine's cores; a process started with
    ``taskset`` or in a container with ``--cpus`` gets fewer. Both limits are
    read here (the affinity mask, then cgroup v2 ``cpu.max`` or v1
    ``cpu.cfs_quota_us``, rounded up to whole cores).
    """
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        n = os.cpu_count() or 1
    quota = None
    try:
        fields = open("/sys/fs/cgroup/cpu.max").read().split()
        if fields and fields[0] != "max":
            quota = int(fields[0]) / int(fields[1])
    except (OSError, ValueError, IndexError):
        try:
            q = int(open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read())
            p = int(open("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read())
            quota = q / p if q > 0 and p > 0 else None
        except (OSError, ValueError):
            pass
    if quota:
        n = min(n, max(1, int(-(-quota // 1))))
    return max(1, n)


def tune_threads():
    """Let torch's worker threads sleep when idle, and use no more than the cores given.

    torch's CPU kernels run on an OpenMP thread pool (GNU libgomp in the
    PyPI wheels). By default a worker that finishes its share of an
    operation *spins* for up to 300,000 iterations (milliseconds) waiting
    for the next one. On an idle machine that saves a wake-up; on a shared
    one the spinning threads compete with the thread that still has work,
    and every operation waits for a descheduled thread. Measured on the
    2-core development machine with other jobs running (load average
    5-7), fitting ShallowNet for 15 epochs with 2 threads: 6.4-10.7 s user
    CPU and 12.6-26.9 s wall when spinning, 1.9-2.0 s and 4.5-5.4 s with
    passive waiting (``OMP_WAIT_POLICY=PASSIVE``); one thread: 1.5-1.6 s,
    3.3-4.6 s. Passive waiting keeps the thread count, so results are
    bit-for-bit those of the spinning pool.

    What it does, once, when neurolrp is imported:

    - if torch is not imported yet and neither ``OMP_WAIT_POLICY`` nor
      ``GOMP_SPINCOUNT`` is set, imports torch with
      ``OMP_WAIT_POLICY=PASSIVE`` (libgomp reads it when it is loaded; the
      variable is then restored, so child processes are not affected). If
      torch was imported before neurolrp, the wait policy cannot change any
      more: import neurolrp first, or set ``OMP_WAIT_POLICY=PASSIVE``
      yourself;
    - unless ``OMP_NUM_THREADS`` is set (then torch follows it, as always),
      lowers torch's intra-op threads to :func:`available_cores` (the CPU
      affinity and any container CPU quota, which torch does not read).

    Set ``NEUROLRP_THREADS=0`` before importing neurolrp to leave both alone.
    For a machine that is always busy, ``OMP_NUM_THREADS=1`` is the fastest
    setting we measured (but results then differ from a multi-threaded run
    by float round-off that training amplifies).

    Returns
    -------
    changed : list of str
        What was set (empty when nothing was).
    """
    if os.environ.get("NEUROLRP_THREADS", "1") == "0":
        return []
    changed = []
    if ("torch" not in sys.modules and "OMP_WAIT_POLICY" not in os.environ
            and "GOMP_SPINCOUNT" not in os.environ):
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
        try:
            import torch  # noqa: F401  (libgomp reads the policy as it loads)
        finally:
            del os.environ["OMP_WAIT_POLICY"]
        changed.append("OMP_WAIT_POLICY=PASSIVE")
    import torch

    if "OMP_NUM_THREADS" not in os.environ:
        n = available_cores()
        if torch.get_num_threads() > n:
            torch.set_num_threads(n)
            changed.append(f"torch threads={n}")
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

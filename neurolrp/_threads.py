"""Process-wide tuning the command line applies at its start (never at import).

Thread pools that behave on a shared machine and glibc's allocator kept from
unmapping memory (:func:`tune_process`). This module imports nothing but the
standard library at import.
"""

import os

#: Environment set before the numerical libraries load, unless already set.
#: OMP_WAIT_POLICY: GNU OpenMP (torch, MKL and oneDNN inside it, scikit-learn).
#: OPENBLAS_THREAD_TIMEOUT: OpenBLAS (numpy, scipy): 2**4 cycles of spinning
#: before a worker sleeps, instead of 2**28 (about 0.1 s).
WAIT_ENV = {"OMP_WAIT_POLICY": "PASSIVE", "OPENBLAS_THREAD_TIMEOUT": "4"}


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
        with open("/sys/fs/cgroup/cpu.max") as f:
            fields = f.read().split()
        if fields and fields[0] != "max":
            quota = int(fields[0]) / int(fields[1])
    except (OSError, ValueError, IndexError, ZeroDivisionError):
        try:
            with open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us") as f:
                q = int(f.read())
            with open("/sys/fs/cgroup/cpu/cpu.cfs_period_us") as f:
                p = int(f.read())
            quota = q / p if q > 0 and p > 0 else None
        except (OSError, ValueError):
            pass
    if quota:
        n = min(n, max(1, int(-(-quota // 1))))
    return max(1, n)


def tune_threads():
    """Let idle worker threads sleep instead of spinning, and use no more than the cores given.

    Part of :func:`tune_process`; see there for when to call it.

    torch's CPU kernels run on a GNU OpenMP pool, numpy's and scipy's
    linear algebra on OpenBLAS pools. By default a worker that finishes its
    share *spins* waiting for the next operation (libgomp: 300,000
    iterations; OpenBLAS: 2**28 cycles, about 0.1 s). On an idle machine
    that saves a wake-up; on a shared one the spinning threads take the
    cores from the threads that still have work, and every operation waits
    for a descheduled thread. Measured on the 2-core development machine
    with other jobs running (load average 5-7), 2 threads:

    - fitting ShallowNet for 15 epochs: spinning 6.4-15.1 s user CPU and
      10-29 s wall; passive waiting 1.7-2.0 s and 1.9-5.4 s (one thread:
      1.5-1.6 s, 3.3-4.6 s);
    - CSP + LDA fitted 5 times: 8.6-10.7 s user, 13-22 s wall with
      OpenBLAS's default; 0.4-1.6 s, 0.4-1.6 s with a short timeout;
    - 3 topomaps: 2.1-14.8 s user, 3.8-22 s wall; 0.5 s, 0.6-0.8 s.

    The thread counts stay as they were, so every result is bit-for-bit the
    same.

    What it does:

    - sets ``OMP_WAIT_POLICY=PASSIVE`` and ``OPENBLAS_THREAD_TIMEOUT=4`` in
      the environment unless they (or ``GOMP_SPINCOUNT``) are set. A library
      reads them when it is loaded, so they act in the processes this one
      starts (a study's dask workers) and on libraries not loaded yet; for
      this process itself, set them before Python starts (``export
      OMP_WAIT_POLICY=PASSIVE``);
    - unless ``OMP_NUM_THREADS`` is set (torch follows it, as always), lowers
      torch's intra-op threads to :func:`available_cores`: the CPU affinity
      and a container's CPU quota, which torch does not read.

    Set ``NEUROLRP_THREADS=0`` to leave all this alone.

    Returns
    -------
    changed : list of str
        What was set (empty when nothing was).
    """
    if os.environ.get("NEUROLRP_THREADS", "1") == "0":
        return []
    changed = []
    user_spin = "GOMP_SPINCOUNT" in os.environ
    for key, value in WAIT_ENV.items():
        if key not in os.environ and not (user_spin and key == "OMP_WAIT_POLICY"):
            os.environ[key] = value
            changed.append(f"{key}={value}")
    import torch

    if "OMP_NUM_THREADS" not in os.environ:
        n = available_cores()
        if torch.get_num_threads() > n:
            torch.set_num_threads(n)
            changed.append(f"torch threads={n}")
    return changed


def tune_process():
    """Tune this process for long CPU work: thread pools and glibc's allocator.

    Importing neurolrp changes nothing in the process (as MNE and
    scikit-learn); the ``neurolrp`` command (``demo``, ``run``, ``study``)
    calls this at its start, and a script may call it once, first thing, for
    the same speed. It changes process-wide state, so your own torch and
    numpy code runs under it too:

    - :func:`tune_threads`: idle OpenMP and OpenBLAS workers sleep instead of
      spinning (for the processes started from now on, and libraries loaded
      from now on), and torch uses no more threads than the cores this
      process was given. Off with ``NEUROLRP_THREADS=0``.
    - :func:`neurolrp._utils.tune_allocator`: glibc keeps freed memory for
      reuse instead of unmapping it, so training does not fault its memory
      in again on every step (the command's demo: 36.6 million page faults
      and 39 % system time without it, 0.3 million and 4 % with it). Off with
      ``NEUROLRP_MALLOPT=0``.

    Explaining does not need it: the LRP engine reuses its own buffers
    (:class:`neurolrp.lrp.layers.Workspace`).

    Returns
    -------
    changed : list of str
        What was set, e.g. ``["OMP_WAIT_POLICY=PASSIVE", "torch threads=2",
        "malloc mmap threshold=256 MiB", "malloc trim threshold=1024 MiB"]``.

    Examples
    --------
    >>> import neurolrp
    >>> changed = neurolrp.tune_process()  # doctest: +SKIP
    """
    from ._utils import tune_allocator

    return tune_threads() + tune_allocator()

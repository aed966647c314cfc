"""Where a run's time goes: wall time, CPU time and page faults per stage.

The report and the demo open stages (:func:`stage`); every clock that is
running (:meth:`StageClock.running`) charges the time since its last event
to its innermost open stage, so a clock's stages add up to its total and a
stage nested inside another is not counted twice. Outside any stage, time
goes to ``"other"``. Standard library only.
"""

import contextlib
import time

try:
    import resource
except ImportError:  # not POSIX (Windows): CPU time from the process clock, no faults
    resource = None

#: The clocks running now, outermost first (one run per process: not thread-local).
_RUNNING = []


def _now():
    if resource is None:
        return {"wall": time.perf_counter(), "user": time.process_time(), "sys": 0.0,
                "faults": 0}
    r = resource.getrusage(resource.RUSAGE_SELF)  # every thread of the process
    return {"wall": time.perf_counter(), "user": r.ru_utime, "sys": r.ru_stime,
            "faults": r.ru_minflt}


class StageClock:
    """Wall time, CPU time (user and system, all threads) and minor page faults per stage.

    Attributes
    ----------
    stages : dict
        Stage name -> ``{"wall", "user", "sys", "faults"}`` (seconds and a
        count), in the order the stages were first entered; ``"other"``: the
        time outside any stage.
    """

    def __init__(self):
        self.stages = {}
        self._stack = []
        self._last = None

    def _charge(self):
        now = _now()
        if self._last is not None:
            name = self._stack[-1] if self._stack else "other"
            acc = self.stages.setdefault(name, dict.fromkeys(now, 0.0))
            for k in now:
                acc[k] += now[k] - self._last[k]
        self._last = now

    @contextlib.contextmanager
    def running(self):
        """Measure from here to the end of the block (stages opened with :func:`stage`)."""
        self._last = _now()
        _RUNNING.append(self)
        try:
            yield self
        finally:
            self._charge()
            _RUNNING.remove(self)
            self._last = None

    def add(self, stages):
        """Add the stages of another clock (e.g. of another process) to this one's.

        Parameters
        ----------
        stages : dict
            Another clock's :attr:`stages`.
        """
        for name, s in stages.items():
            acc = self.stages.setdefault(name, dict.fromkeys(s, 0.0))
            for k, v in s.items():
                acc[k] = acc.get(k, 0.0) + v

    def _ordered(self):
        """Stages in the order entered, time outside them (``"other"``) last."""
        items = [(k, v) for k, v in self.stages.items() if k != "other"]
        return items + ([("other", self.stages["other"])] if "other" in self.stages else [])

    def total(self):
        """The sum over stages: ``{"wall", "user", "sys", "faults"}``."""
        keys = ("wall", "user", "sys", "faults")
        return {k: sum(s[k] for s in self.stages.values()) for k in keys}

    def rounded(self):
        """Stage -> ``{"wall_s", "cpu_s", "sys_s", "faults"}``, rounded (for a JSON summary)."""
        return {name: {"wall_s": round(s["wall"], 2), "cpu_s": round(s["user"] + s["sys"], 2),
                       "sys_s": round(s["sys"], 2), "faults": int(s["faults"])}
                for name, s in self._ordered()}

    def table(self):
        """A short text table: stage, wall seconds, CPU seconds, share of the CPU time."""
        tot = self.total()
        cpu_all = max(tot["user"] + tot["sys"], 1e-9)
        width = max([len("total")] + [len(n) for n in self.stages])
        lines = [f"{'stage':{width}s}  wall s   CPU s   CPU share"]
        for name, s in self._ordered() + [("total", tot)]:
            cpu = s["user"] + s["sys"]
            share = 100 * cpu / cpu_all
            lines.append(f"{name:{width}s}  {s['wall']:6.1f}  {cpu:6.1f}  {share:8.0f} %")
        lines.append(f"(CPU: user + system time of all threads; system {tot['sys']:.1f} s, "
                     f"{tot['faults'] / 1e3:.0f}k minor page faults)")
        return "\n".join(lines)


@contextlib.contextmanager
def stage(name):
    """Charge the block's time to ``name`` in every running :class:`StageClock`."""
    clocks = list(_RUNNING)
    for c in clocks:
        c._charge()
        c._stack.append(name)
    try:
        yield
    finally:
        for c in clocks:
            c._charge()
            c._stack.pop()


_CONTROLLER = []


@contextlib.contextmanager
def serial_blas():
    """numpy's and scipy's BLAS and LAPACK on one thread inside the block.

    The report's numerical work besides the networks is on small matrices:
    the barycentric transforms of a topomap's interpolation (2 x 2 LAPACK
    calls per triangle), the perturbation's 64 x 64 solves. OpenBLAS hands
    each call to its thread pool, and waking the second thread costs more
    than the call: on the 2-core development machine a fresh topomap
    interpolation took 2.5 ms of CPU on one thread and 17-450 ms on two
    (the more so the busier the machine), and the demo's perturbation
    analysis 30-40 % less CPU time on one. Results are the same. torch's
    own thread pool (the networks) is left alone; without ``threadpoolctl``
    (a dependency of scikit-learn) nothing changes.
    """
    if not _CONTROLLER:
        try:
            import scipy.linalg  # noqa: F401  (loads scipy's OpenBLAS before the scan)
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _CONTROLLER.append(None)
        else:
            _CONTROLLER.append(ThreadpoolController())  # scans the loaded libraries once
    if _CONTROLLER[0] is None:
        yield
        return
    with _CONTROLLER[0].limit(limits=1, user_api="blas"):
        yield

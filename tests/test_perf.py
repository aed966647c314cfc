"""Process-wide tuning: never at import; tune_process (the command line's) sets threads and the
allocator, and results are identical either way."""

import os
import subprocess
import sys

import numpy as np
import pytest

from neurolrp._threads import available_cores


def _run(code, **env):
    """Run ``code`` in a fresh Python; the environment without this process's tuning."""
    base = {k: v for k, v in os.environ.items() if k not in (
        "OMP_NUM_THREADS", "OMP_WAIT_POLICY", "OPENBLAS_THREAD_TIMEOUT", "GOMP_SPINCOUNT",
        "NEUROLRP_THREADS", "NEUROLRP_MALLOPT", "MALLOC_MMAP_THRESHOLD_",
        "MALLOC_TRIM_THRESHOLD_")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(base, **env), check=True)
    return out.stdout.strip()


#: Whether glibc maps a new 100 MiB tensor with its own mmap (its default: above 32 MiB at
#: most) or serves it from the heap (mmap threshold raised by tune_process); read while
#: the tensor lives from mallinfo2 (glibc 2.33+): bytes in mmapped chunks.
_MAPPED = ("import ctypes, torch\n"
           "class _Info(ctypes.Structure):\n"
           "    _fields_ = [(n, ctypes.c_size_t) for n in ('arena', 'ordblks', 'smblks', "
           "'hblks', 'hblkhd', 'usmblks', 'fsmblks', 'uordblks', 'fordblks', 'keepcost')]\n"
           "_libc = ctypes.CDLL('libc.so.6'); _libc.mallinfo2.restype = _Info\n"
           "def mapped():\n"
           "    before = _libc.mallinfo2().hblkhd\n"
           "    t = torch.ones(100 << 18)\n"
           "    return _libc.mallinfo2().hblkhd - before >= 100 << 20\n")


def _has_mallinfo2():
    import ctypes

    try:
        return hasattr(ctypes.CDLL("libc.so.6"), "mallinfo2")
    except OSError:
        return False


needs_glibc = pytest.mark.skipif(not _has_mallinfo2(), reason="needs glibc 2.33+")


@needs_glibc
def test_import_changes_no_process_state():
    """Importing neurolrp (as MNE and scikit-learn) leaves the environment, torch's threads
    and glibc's allocator as they were."""
    code = ("import os, torch; env = dict(os.environ); threads = torch.get_num_threads(); "
            "torch.set_num_threads(threads + 3)\n" + _MAPPED +
            "import neurolrp\n"
            "print(dict(os.environ) == env, torch.get_num_threads() == threads + 3, mapped())")
    assert _run(code).split() == ["True", "True", "True"]


def test_available_cores_within_affinity():
    assert 1 <= available_cores() <= len(os.sched_getaffinity(0))


@needs_glibc
def test_tune_process_threads_and_allocator():
    code = ("import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})\n" + _MAPPED +
            "import neurolrp, torch; changed = neurolrp.tune_process()\n"
            "print(torch.get_num_threads(), os.environ.get('OMP_WAIT_POLICY'), "
            "os.environ.get('OPENBLAS_THREAD_TIMEOUT'), os.environ.get('MALLOC_TRIM_THRESHOLD_'), "
            "mapped(), 'malloc mmap threshold=256 MiB' in changed)")
    out = _run(code).split()
    # one core given: one torch thread; idle workers wait passively (in the processes
    # started from now on); a 100 MiB tensor comes from the heap, where freed memory is
    # reused, also in those processes (the environment variables)
    assert out == ["1", "PASSIVE", "4", str(1 << 30), "False", "True"]
    child = _run(_MAPPED + "print(mapped())", MALLOC_MMAP_THRESHOLD_=str(256 << 20))
    assert child == "False"


def test_user_settings_win():
    out = _run("import os, neurolrp; neurolrp.tune_process(); "
               "print(os.environ['OMP_WAIT_POLICY'], os.environ.get('OPENBLAS_THREAD_TIMEOUT'))",
               OMP_WAIT_POLICY="ACTIVE", NEUROLRP_THREADS="1")
    assert out.split()[0] == "ACTIVE"
    out = _run("import os, neurolrp; print(neurolrp.tune_process(), "
               "os.environ.get('OMP_WAIT_POLICY'))", NEUROLRP_THREADS="0", NEUROLRP_MALLOPT="0")
    assert out == "[] None"


def test_omp_num_threads_is_respected():
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs two cores")
    out = _run("import neurolrp, torch; neurolrp.tune_process(); print(torch.get_num_threads())",
               OMP_NUM_THREADS="2")
    assert out == "2"


def test_command_line_tunes_its_process(tmp_path):
    """The command calls tune_process at its start (here: before it refuses a missing file)."""
    code = ("import os, neurolrp.cli as cli; "
            f"rc = cli.main(['run', '--epochs', {str(tmp_path / 'missing-epo.fif')!r}, "
            f"'--out', {str(tmp_path / 'out')!r}]); "
            "print(rc, os.environ.get('OMP_WAIT_POLICY'), os.environ.get('MALLOC_MMAP_THRESHOLD_'))")
    assert _run(code).splitlines()[-1].split() == ["1", "PASSIVE", str(256 << 20)]


def test_tuning_does_not_change_results():
    """Passive waiting keeps the thread count and the allocator only reuses memory: the same
    fit and explanation give the same bits."""
    code = (
        "import os, numpy as np, neurolrp, torch\n"
        "if os.environ.get('TUNE'): neurolrp.tune_process()\n"
        "torch.set_num_threads(2); "
        "rng = np.random.default_rng(0); X = rng.standard_normal((24, 8, 160)); "
        "y = np.repeat(['a', 'b'], 12); X[y == 'a', 2] *= 2; "
        "clf = neurolrp.EEGClassifier('shallow', sfreq=80, max_epochs=8, verbose=False)"
        ".fit(X, y); p = clf.predict_proba(X); "
        "r = neurolrp.explain(clf, X, y=y).values; "
        "print(repr(float(p.sum(0)[0])), repr(float(np.abs(r).sum())))")
    tuned = _run(code, TUNE="1")
    untuned = _run(code)
    assert tuned == untuned
    assert np.all(np.isfinite([float(v) for v in tuned.split()]))

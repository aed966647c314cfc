"""Process-wide tuning done at import: threads (and the allocator), and identical results."""

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
        "NEUROLRP_THREADS", "NEUROLRP_MALLOPT")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(base, **env), check=True)
    return out.stdout.strip()


def test_available_cores_within_affinity():
    assert 1 <= available_cores() <= len(os.sched_getaffinity(0))


def test_threads_never_more_than_cores_given():
    code = ("import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
            "import neurolrp, torch; "
            "print(torch.get_num_threads(), os.environ.get('OMP_WAIT_POLICY'), "
            "os.environ.get('OPENBLAS_THREAD_TIMEOUT'))")
    out = _run(code).split()
    # one core given: one torch thread; idle workers wait passively
    assert out == ["1", "PASSIVE", "4"]


def test_user_settings_win():
    out = _run("import os, neurolrp; print(os.environ['OMP_WAIT_POLICY'], "
               "os.environ.get('OPENBLAS_THREAD_TIMEOUT'))",
               OMP_WAIT_POLICY="ACTIVE", NEUROLRP_THREADS="1")
    assert out.split()[0] == "ACTIVE"
    out = _run("import os, neurolrp; print(os.environ.get('OMP_WAIT_POLICY'))",
               NEUROLRP_THREADS="0")
    assert out == "None"


def test_omp_num_threads_is_respected():
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs two cores")
    out = _run("import neurolrp, torch; print(torch.get_num_threads())", OMP_NUM_THREADS="2")
    assert out == "2"


def test_tuning_does_not_change_results():
    """Passive waiting keeps the thread count: the same fit gives the same bits."""
    code = (
        "import numpy as np, neurolrp, torch; torch.set_num_threads(2); "
        "rng = np.random.default_rng(0); X = rng.standard_normal((24, 8, 160)); "
        "y = np.repeat(['a', 'b'], 12); X[y == 'a', 2] *= 2; "
        "clf = neurolrp.EEGClassifier('shallow', sfreq=80, max_epochs=8, verbose=False)"
        ".fit(X, y); p = clf.predict_proba(X); "
        "r = neurolrp.explain(clf, X, y=y).values; "
        "print(repr(float(p.sum(0)[0])), repr(float(np.abs(r).sum())))")
    tuned = _run(code)
    untuned = _run(code, NEUROLRP_THREADS="0", NEUROLRP_MALLOPT="0")
    assert tuned == untuned
    assert np.all(np.isfinite([float(v) for v in tuned.split()]))

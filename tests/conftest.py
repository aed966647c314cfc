import os

import matplotlib
import mne
import pytest

matplotlib.use("Agg")
mne.set_log_level("ERROR")
os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_configure(config):
    """Under pytest-xdist, the workers share the cores: one share of threads each.

    Two workers with torch's default (one thread per core), and the notebook
    kernels and command lines they start with theirs, put twice as many
    threads as cores to work, and OpenMP threads that wait for each other on
    a loaded core spin. ``OMP_NUM_THREADS`` reaches the processes a test
    starts (torch and OpenBLAS read it); tests of the thread settings
    themselves start theirs without it.
    """
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers:
        share = max(1, len(os.sched_getaffinity(0)) // int(workers))
        os.environ["OMP_NUM_THREADS"] = str(share)
        import torch

        torch.set_num_threads(share)


#: Started first (pytest-xdist hands each worker whole modules, in this order), so that
#: the longest modules do not end up last on one worker.
_FIRST = ("test_tutorials.py", "test_study.py", "test_report_cli.py", "test_atomic_writes.py")


def pytest_collection_modifyitems(config, items):
    def rank(item):
        name = item.path.name
        return _FIRST.index(name) if name in _FIRST else len(_FIRST)

    items.sort(key=rank)  # stable: the order within a module stays


@pytest.fixture(scope="session")
def hands_feet():
    from neurolrp.datasets import load_eegbci

    return load_eegbci(1, "imagery/hands-feet", verbose=False)


@pytest.fixture(scope="session")
def simulated():
    from neurolrp.datasets import simulate_motor_imagery

    return simulate_motor_imagery(n_trials=200, verbose=False)


@pytest.fixture(scope="session")
def hands_feet_small(hands_feet):
    """Hands/feet at 80 Hz, 0-3 s: quick to train and explain."""
    return hands_feet.copy().resample(80).crop(0.0, 3.0)


@pytest.fixture(scope="session")
def fitted_shallow(hands_feet_small):
    from neurolrp import EEGClassifier

    return EEGClassifier("shallow", max_epochs=15, patience=15, verbose=False).fit(
        hands_feet_small)

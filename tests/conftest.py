import os

import matplotlib
import mne
import pytest

matplotlib.use("Agg")
mne.set_log_level("ERROR")
os.environ.setdefault("MPLBACKEND", "Agg")


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

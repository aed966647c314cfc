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

"""Data in: real EEG through MNE, the user's own epochs, and a simulator."""

from ._eegbci import TASKS, load_eegbci, standard_montage
from ._epochs import load_epochs
from ._simulate import EEGBCI_CHANNELS, simulate_motor_imagery

__all__ = ["TASKS", "EEGBCI_CHANNELS", "load_eegbci", "load_epochs", "simulate_motor_imagery",
           "standard_montage"]

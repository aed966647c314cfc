"""Data in: real EEG through MNE, the user's own epochs, and simulators (motor imagery, ERPs)."""

from ._eegbci import TASKS, eegbci_files, load_eegbci, standard_montage
from ._epochs import epochs_to_arrays, load_epochs
from ._erp import ERP_CHANNELS, simulate_erp
from ._moabb import load_moabb
from ._simulate import EEGBCI_CHANNELS, cohort_parameters, simulate_cohort, simulate_motor_imagery

__all__ = ["TASKS", "EEGBCI_CHANNELS", "ERP_CHANNELS", "cohort_parameters", "eegbci_files",
           "epochs_to_arrays",
           "load_eegbci", "load_epochs", "load_moabb", "simulate_cohort", "simulate_erp",
           "simulate_motor_imagery", "standard_montage"]

"""neurolrp: explain deep-learning decisions on EEG, trial by trial, with LRP."""

from ._version import __version__  # noqa: F401

# Importing changes no process-wide state (threads, environment, allocator); the
# command line calls tune_process() at its start, a script may too (see its docstring).
from ._threads import tune_process  # noqa: E402
from . import datasets, lrp, stats  # noqa: E402
from .attribution import Explainer, explain, explain_out_of_fold  # noqa: E402
from .classifier import EEGClassifier  # noqa: E402
from .decoding import cross_validate, make_csp_lda  # noqa: E402
from .relevance import load_relevance, make_relevance, save_relevance  # noqa: E402
from .bands import explain_bands  # noqa: E402
from .mne_interop import to_epochs, to_evoked  # noqa: E402

__all__ = ["EEGClassifier", "Explainer", "cross_validate", "datasets", "explain", "explain_bands",
           "explain_out_of_fold", "load_relevance", "lrp", "make_csp_lda", "make_relevance",
           "save_relevance", "to_epochs", "to_evoked", "tune_process", "__version__"]

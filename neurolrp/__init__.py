"""neurolrp: explain deep-learning decisions on EEG, trial by trial, with LRP."""

from ._version import __version__  # noqa: F401

from ._threads import tune_threads  # noqa: E402

tune_threads()  # before numpy and torch load: idle worker threads sleep; why: its docstring
from ._utils import tune_allocator  # noqa: E402

tune_allocator()  # before any tensor is allocated; why: see its docstring

from . import datasets, lrp, stats  # noqa: E402
from .attribution import Explainer, explain, explain_out_of_fold  # noqa: E402
from .classifier import EEGClassifier  # noqa: E402
from .decoding import cross_validate, make_csp_lda  # noqa: E402
from .relevance import load_relevance, make_relevance, save_relevance  # noqa: E402
from .bands import explain_bands  # noqa: E402
from .mne_interop import to_epochs, to_evoked  # noqa: E402

__all__ = ["EEGClassifier", "Explainer", "cross_validate", "datasets", "explain", "explain_bands",
           "explain_out_of_fold", "load_relevance", "lrp", "make_csp_lda", "make_relevance",
           "save_relevance", "to_epochs", "to_evoked", "__version__"]

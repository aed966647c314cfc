"""neurolrp: explain deep-learning decisions on EEG, trial by trial, with LRP."""

__version__ = "0.1.0"

from . import datasets  # noqa: E402
from .relevance import load_relevance, make_relevance, save_relevance  # noqa: E402

__all__ = ["datasets", "load_relevance", "make_relevance", "save_relevance", "__version__"]

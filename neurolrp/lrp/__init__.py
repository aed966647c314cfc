"""The LRP engine: rules, composites, supported layers and propagation."""

from .composites import COMPOSITES, DEFAULT_COMPOSITE, Composite, get_composite
from .layers import SUPPORTED_TYPES, UnsupportedModelError, prepare_model
from .patterns import compute_patterns
from .rules import AlphaBeta, Epsilon, Flat, Gamma, Pattern, Rule, WSquare, Zero, ZBox, ZPlus

__all__ = ["COMPOSITES", "DEFAULT_COMPOSITE", "Composite", "get_composite", "SUPPORTED_TYPES",
           "UnsupportedModelError", "prepare_model", "compute_patterns", "AlphaBeta", "Epsilon", "Flat", "Gamma", "Pattern",
           "Rule", "WSquare", "Zero", "ZBox", "ZPlus"]

"""The LRP engine: rules, composites, supported layers and propagation."""

from .activations import RELU_FAMILY, ActivationRule, Guided, Pass, Rectify
from .composites import (COMPOSITES, DEFAULT_COMPOSITE, GRADIENT_COMPOSITES, WAVEFORM_COMPOSITE,
                         Composite, default_composite, get_composite)
from .layers import SUPPORTED_TYPES, UnsupportedModelError, prepare_model
from .patterns import compute_between_class_patterns, compute_patterns
from .rules import (AlphaBeta, Epsilon, Flat, Gamma, Pattern, PatternEnergy, Rule, WSquare, Zero,
                    ZBox, ZPlus)

__all__ = ["COMPOSITES", "DEFAULT_COMPOSITE", "GRADIENT_COMPOSITES", "WAVEFORM_COMPOSITE",
           "Composite", "default_composite", "get_composite", "SUPPORTED_TYPES",
           "UnsupportedModelError", "prepare_model", "compute_patterns",
           "compute_between_class_patterns", "AlphaBeta", "Epsilon", "Flat", "Gamma", "Pattern",
           "PatternEnergy",
           "Rule",
           "WSquare", "Zero", "ZBox", "ZPlus", "ActivationRule", "Pass", "Rectify", "Guided",
           "RELU_FAMILY"]

"""How good is an explanation? Perturbation, ground truth, context use, comparison.

Perturbation (``_perturbation``):

- :func:`perturbation`: remove inputs in order of relevance and watch the
  score of the explained class (Samek et al. 2017), at three granularities,
  with AOPC per method and a confidence interval over trials.
- :func:`neutrality`: does removing inputs at random leave the decisions
  alone? (the check a perturbation must pass before it can judge anything).

Ground truth and comparisons (``_ground_truth``):

- :func:`localization`: on simulated data, how much relevance falls where the
  classes differ, how well it ranks that region (ROC-AUC), and its sign.
- :func:`trial_consistency`: single trials against their class average.
- :func:`context_use`: relevance inside vs outside a region of interest
  (channels and/or a time window), after Lapuschkin et al. 2016.
- :func:`compare_classifiers`: do two classifiers use the same evidence?

This package computes only (it does not import matplotlib); the figures of
these results are in :mod:`neurolrp.viz` (:func:`~neurolrp.viz.plot_perturbation`,
:func:`~neurolrp.viz.plot_compare_classifiers`,
:func:`~neurolrp.viz.plot_trial_consistency`).
"""

from ._ground_truth import (SENSORIMOTOR, align_relevance, compare_classifiers, context_use,
                            localization, trial_consistency)
from ._perturbation import (GRANULARITIES, MAGNITUDE_METHODS, REPLACEMENTS, PerturbationResult,
                            neutrality, perturbation, spatial_precision, target_selector)

__all__ = ["GRANULARITIES", "MAGNITUDE_METHODS", "REPLACEMENTS", "SENSORIMOTOR",
           "PerturbationResult", "align_relevance", "compare_classifiers", "context_use",
           "localization", "neutrality", "perturbation", "spatial_precision",
           "target_selector", "trial_consistency"]

"""Pictures of relevance: scalp topographies, channel x time maps, galleries.

All figures take the relevance DataArray (with the channel positions it
carries) and return a matplotlib Figure; nothing here calls ``show()``.
Colours: a diverging map centred at zero with symmetric limits, red for
evidence for the explained class, blue for evidence against it; figures
that compare groups share one scale. Channel x time maps group their rows by
scalp region and hemisphere (:mod:`neurolrp.channels`). Results of
:mod:`neurolrp.stats` are overlaid with ``stats=``: significant sensors
marked on topomaps, clusters outlined on channel x time maps. Every figure is
at most 8.5 in wide, so mne.Report shows it at 100 dpi without rescaling
(850 px).

By kind of figure:

- maps (``_maps``): :func:`plot_topomap`, :func:`plot_channel_time`;
- single trials (``_trials``): :func:`plot_trial`, :func:`plot_misclassified`,
  :func:`plot_class_gallery`;
- event-related potentials (``_erp``): :func:`plot_erp_relevance`, class-average
  waveforms beside the relevance over time;
- groups and statistics (``_groups``): :func:`plot_group_topomaps`,
  :func:`plot_group_channel_time`, :func:`plot_cluster_test`;
- :mod:`neurolrp.evaluation`'s results (``_evaluation``):
  :func:`plot_perturbation`, :func:`plot_compare_classifiers`,
  :func:`plot_trial_consistency`.

The data steps the figures rest on are in :mod:`neurolrp.relevance`
(:func:`~neurolrp.relevance.window_sums`,
:func:`~neurolrp.relevance.class_average`).
"""

from ._draw import CMAP, MASK_PARAMS, MAX_WIDTH, UNIT
from ._erp import plot_erp_relevance
from ._evaluation import plot_compare_classifiers, plot_perturbation, plot_trial_consistency
from ._groups import plot_cluster_test, plot_group_channel_time, plot_group_topomaps
from ._maps import plot_channel_time, plot_topomap
from ._trials import plot_class_gallery, plot_misclassified, plot_trial

__all__ = ["plot_topomap", "plot_channel_time", "plot_class_gallery", "plot_group_topomaps",
           "plot_group_channel_time", "plot_cluster_test", "plot_trial", "plot_misclassified",
           "plot_trial_consistency", "plot_perturbation", "plot_compare_classifiers",
           "plot_erp_relevance",
           "CMAP", "MASK_PARAMS", "MAX_WIDTH", "UNIT"]

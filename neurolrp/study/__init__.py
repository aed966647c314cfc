"""Many subjects: a study runner on dask, resumable and crash-safe, with one zarr store.

One study is a dask graph of per-subject tasks. Each task loads one subject,
cross-validates the networks beside CSP + LDA, explains every trial out of
fold and writes the subject's HTML report (:func:`neurolrp.report.subject_report`);
the client writes what it returns into one zarr store, a group per subject.
By default the tasks run on a :class:`dask.distributed.LocalCluster` sized to
the cores this process was given; ``scheduler="tcp://host:8786"`` sends the
same tasks to an existing cluster. Nothing here schedules work itself.

The study folder (``out``)::

    out/
      study.zarr/             the results: one zarr (v3) store
        subjects/<key>/       one group per complete subject
        transfer/<key>/       subject-to-subject transfer (transfer=True)
      study.csv               one row per subject (accuracy, trials, timings)
      report.html             the group report
      reports/<key>.html      each subject's report
      .partial/               work in progress (removed when a run starts)

Crash safety: a subject's group is written whole under ``.partial/``, its
completion mark (``complete: true`` in its attributes) written last, and the
folder is then renamed into ``study.zarr/subjects/`` (one atomic rename on a
local or shared POSIX file system). A subject is read as complete only when
it sits there *and* carries the mark, so a run killed at any moment leaves
the finished subjects intact and nothing half-written that looks complete;
running the same call again skips the complete subjects and redoes the rest.
The store's root is written once, when the study is created, and never
rewritten; an existing study is only extended or resumed, and replaced only
with ``overwrite=True``.
"""

from ._group_report import group_report
from ._runner import process_subject, run_study
from ._store import STORE, Study, group_maps, load_study, subject_dataset, write_table
from ._transfer import transfer_subject
from ._inputs import DATASETS, load_subject
from ._cli import add_parser, cmd_study

__all__ = ["DATASETS", "STORE", "Study", "add_parser", "cmd_study", "group_maps", "group_report",
           "load_study", "load_subject", "process_subject", "run_study", "subject_dataset",
           "transfer_subject", "write_table"]

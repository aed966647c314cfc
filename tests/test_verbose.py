"""One ``verbose`` convention (MNE's): a decorator sets the log level per call, a docdict
documents the parameter in the same words everywhere, and ``None`` is the default."""

import importlib
import inspect
import logging

import pytest

from neurolrp._docs import docdict, fill_doc
from neurolrp._utils import logger, verbose

#: Modules a user imports: their public functions are the entry points.
PUBLIC = ["neurolrp", "neurolrp.datasets", "neurolrp.decoding", "neurolrp.stats",
          "neurolrp.evaluation", "neurolrp.report", "neurolrp.relevance", "neurolrp.study",
          "neurolrp.viz", "neurolrp.bands", "neurolrp.channels", "neurolrp.mne_interop"]
#: Entry points being rewritten elsewhere (attribution's reusable Explainer), which
#: adopt the decorator there.
PENDING = set()


def _entry_points():
    found = {}
    for name in PUBLIC:
        module = importlib.import_module(name)
        for attr in dir(module):
            obj = getattr(module, attr)
            if attr.startswith("_") or not inspect.isfunction(obj) or \
                    not obj.__module__.startswith("neurolrp"):
                continue
            if "verbose" in inspect.signature(obj).parameters:
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return found


def test_the_walk_finds_the_entry_points():
    found = _entry_points()
    assert {"neurolrp.decoding.cross_validate", "neurolrp.report.subject_report",
            "neurolrp.study._runner.run_study", "neurolrp.stats.one_sample_test",
            "neurolrp.datasets._eegbci.load_eegbci"} <= set(found)


def test_every_entry_point_follows_the_convention():
    first_line = docdict["verbose"].splitlines()[1].strip()
    wrong = []
    for name, func in _entry_points().items():
        if name in PENDING:
            continue
        if inspect.signature(func).parameters["verbose"].default is not None:
            wrong.append((name, "default is not None"))
        if not hasattr(func, "__wrapped__"):
            wrong.append((name, "not decorated with @verbose"))
        if first_line not in (func.__doc__ or ""):
            wrong.append((name, "verbose not documented by the docdict"))
    assert not wrong, wrong


def test_the_decorator_sets_the_level_for_the_call_and_none_inherits():
    @verbose
    def level(verbose=None):
        """Report the level.

        Parameters
        ----------
        %(verbose)s
        """
        return logger.level

    old = logger.level
    try:
        logger.setLevel(logging.INFO)
        assert level(verbose=False) == logging.WARNING
        assert level(False) == logging.WARNING  # positional as well
        assert level(verbose="debug") == logging.DEBUG
        assert logger.level == logging.INFO  # restored after each call
        logger.setLevel(logging.WARNING)
        assert level() == logging.WARNING  # None: the caller's level
        assert level(verbose=True) == logging.INFO
        assert logger.level == logging.WARNING
    finally:
        logger.setLevel(old)
    assert docdict["verbose"].splitlines()[1] in level.__doc__
    assert "%(" not in level.__doc__


def test_the_decorator_restores_the_level_when_the_call_raises():
    @verbose
    def fail(verbose=None):
        raise RuntimeError("boom")

    old = logger.level
    with pytest.raises(RuntimeError, match="boom"):
        fail(verbose="error")
    assert logger.level == old


def test_the_decorator_refuses_a_function_without_verbose_none():
    with pytest.raises(TypeError, match="verbose=None"):
        verbose(lambda x: x)
    with pytest.raises(TypeError, match="verbose=None"):
        verbose(lambda verbose=True: verbose)


def test_fill_doc_names_a_missing_entry():
    def f():
        """Doc.

        Parameters
        ----------
        %(nonexistent)s
        """

    with pytest.raises(RuntimeError, match="nonexistent"):
        fill_doc(f)

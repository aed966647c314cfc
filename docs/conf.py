"""Sphinx configuration of the neurolrp documentation.

Build (offline, warnings as errors), from the repository root, after the tests wrote
the executed tutorials to ``docs/_build/tutorials/``::

    python -m pytest tests/test_tutorials.py
    sphinx-build -W --keep-going -b html docs docs/_build/html
"""

import inspect
import re
import sys
from pathlib import Path

import nbformat
from sphinx.errors import ConfigError

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))

import neurolrp  # noqa: E402

project = "neurolrp"
author = "the neurolrp developers"
copyright = "the neurolrp developers"
release = version = neurolrp.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax 3 copied into the site: no CDN is reachable
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_nb",
    "cli_help",
]

exclude_patterns = ["_build", "_intersphinx", "_scripts", "**.ipynb_checkpoints"]
templates_path = ["_templates"]
html_static_path = ["_static"]
html_css_files = ["custom.css"]

# -- API reference -------------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"inherited-members": False}
autodoc_typehints = "none"  # numpydoc's Parameters section says it
numpydoc_show_class_members = False  # the class template lists the members
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = True
numpydoc_xref_ignore = {"of", "or", "and", "optional", "default", "shape", "like", "None",
                        "array-like", "callable", "instance", "a", "the", "to", "from", "one",
                        "n_trials", "n_channels", "n_times", "n_classes"}
numpydoc_xref_aliases = {
    "Epochs": "mne.Epochs",
    "DataArray": "xarray.DataArray",
    "Dataset": "xarray.Dataset",
    "Module": "torch.nn.Module",
    "EEGClassifier": "neurolrp.EEGClassifier",
    "Composite": "neurolrp.lrp.Composite",
    "Rule": "neurolrp.lrp.Rule",
}

# Inventories vendored from Debian's python3.11-doc and python-sklearn-doc (the build
# is offline): links to Python and scikit-learn resolve; NumPy, MNE, torch and xarray
# names stay plain text. See _intersphinx/README.md.
intersphinx_mapping = {
    "python": ("https://docs.python.org/3/", str(DOCS / "_intersphinx" / "python-3.11.inv")),
    "sklearn": ("https://scikit-learn.org/stable/",
                str(DOCS / "_intersphinx" / "sklearn-1.2.1.inv")),
}

# -- Notebooks and Markdown ----------------------------------------------------------
nb_execution_mode = "off"  # the tests executed them once: see _executed_tutorials below
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
suppress_warnings = ["mystnb.unknown_mime_type"]  # tqdm's widget view in the notebooks

# -- HTML ----------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"neurolrp {version}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "navbar_align": "left",
    "header_links_before_dropdown": 7,  # every top-level page in the bar
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
    "secondary_sidebar_items": ["page-toc"],
}
html_sidebars = {page: [] for page in ("index", "install", "cite", "benchmarks", "changelog")}
html_show_sourcelink = False
toc_object_entries_show_parents = "hide"  # "fit()", not "EEGClassifier.fit()", in the page toc


# -- Tutorials: the executed copies the tests wrote ------------------------------------
EXECUTED = DOCS / "_build" / "tutorials"  # written by tests/test_tutorials.py
RENDERED = DOCS / "tutorials"             # what Sphinx reads (generated, gitignored)


def _sources(nb):
    # A cell the tests inject or fill in (papermill's "parameters" tag) may differ.
    return [c.source for c in nb.cells if "parameters" not in c.metadata.get("tags", [])]


# tqdm.auto warns in a kernel without ipywidgets (the tests' kernel), naming the path of
# the test run's virtual environment: not part of the tutorial.
_TQDM_WARNING = re.compile(r"^.*TqdmWarning: IProgress not found.*\n(?:\s+from .*\n)?", re.M)


def _without_noise(outputs):
    kept = []
    for o in outputs:
        if o.get("output_type") == "stream":
            text = "".join(o.get("text", ""))
            first = next((k for k in kept if k.get("output_type") == "stream"
                          and k.get("name") == o.get("name")), None)
            if first is not None:  # one stdout and one stderr per cell, as myst-nb merges
                first["text"] += text  # (the kernel flushes a progress bar per update)
                continue
            o["text"] = text
        kept.append(o)
    for o in kept:
        if o.get("output_type") == "stream":
            # a shell command's output (`!cmd`, through a terminal) ends its lines in "\r\n"
            text = _TQDM_WARNING.sub("", o["text"].replace("\r\n", "\n"))
            # A progress bar redraws its line after "\r": keep its last state (none once
            # cleared), as a terminal shows it.
            o["text"] = "\n".join(line.rsplit("\r", 1)[-1] for line in text.split("\n"))
    return [o for o in kept if o.get("output_type") != "stream" or o["text"].strip()]


def _executed_tutorials():
    """Copy the executed tutorials into the source tree; refuse missing or stale ones."""
    tutorials = sorted((ROOT / "tutorials").glob("*.ipynb"))
    missing = [p.name for p in tutorials if not (EXECUTED / p.name).is_file()]
    if missing:
        raise ConfigError(
            f"no executed tutorial in {EXECUTED} for {', '.join(missing)}. The docs "
            "render the notebooks the tests executed; run "
            "`python -m pytest tests/test_tutorials.py` (it writes them there) first.")
    stale = []
    for p in tutorials:
        src = _sources(nbformat.read(p, as_version=4))
        ran = iter(_sources(nbformat.read(EXECUTED / p.name, as_version=4)))
        if not all(cell in ran for cell in src):  # the source cells, in order
            stale.append(p.name)
    if stale:
        raise ConfigError(
            f"the executed copies in {EXECUTED} of {', '.join(stale)} are older than "
            "the notebooks in tutorials/; run `python -m pytest tests/test_tutorials.py` "
            "again.")
    RENDERED.mkdir(exist_ok=True)
    for p in tutorials:
        nb = nbformat.read(EXECUTED / p.name, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs = _without_noise(cell.outputs)
        text = nbformat.writes(nb)
        dest = RENDERED / p.name
        if not dest.is_file() or dest.read_text(encoding="utf-8") != text:
            dest.write_text(text, encoding="utf-8")  # an unchanged copy is not rebuilt
    for old in set(RENDERED.glob("*.ipynb")) - {RENDERED / p.name for p in tutorials}:
        old.unlink()


_executed_tutorials()


# -- Cross-references to names documented under another import path ------------------
def _documented_alias(app, env, node, contnode):
    """Resolve ``neurolrp.attribution.explain`` to the documented ``neurolrp.explain``.

    Docstrings name objects by the module that defines them; the reference documents
    each object once, where users import it from.
    """
    target = node.get("reftarget", "")
    if node.get("refdomain") != "py" or not target.startswith("neurolrp."):
        return None
    obj = _import(target)
    if obj is None:
        return None
    domain = env.get_domain("py")
    for name, entry in domain.objects.items():
        if name != target and name.startswith("neurolrp") and \
                name.rsplit(".", 1)[-1] == target.rsplit(".", 1)[-1] and _import(name) is obj:
            return domain.resolve_xref(env, node["refdoc"], app.builder, entry.objtype,
                                       name, node, contnode)
    return None


def _import(dotted):
    import importlib

    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


def _skip_member(app, what, name, obj, skip, options):
    # scikit-learn adds set_<method>_request to estimators; its docstring is theirs.
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def _constant_comment(app, what, name, obj, options, lines):
    """A constant re-exported by a package keeps the ``#:`` comment of its home module.

    autodoc looks for the comment in the module it documents the name under, finds
    none, and would show the docstring of the value's type (``dict``, ``tuple``).
    """
    if what != "data" or lines != _type_doc(obj):
        return
    from sphinx.pycode import ModuleAnalyzer

    attr = name.rsplit(".", 1)[-1]
    for modname, module in sorted(sys.modules.items()):
        if not modname.startswith("neurolrp") or getattr(module, attr, None) is not obj:
            continue
        try:
            comment = ModuleAnalyzer.for_module(modname).find_attr_docs().get(("", attr))
        except Exception:  # a module without source
            continue
        if comment:
            lines[:] = list(comment)
            return
    lines[:] = []


def _type_doc(obj):
    from sphinx.util.docstrings import prepare_docstring

    doc = inspect.getdoc(type(obj))
    return prepare_docstring(doc) if doc else []


def setup(app):
    app.connect("missing-reference", _documented_alias)
    app.connect("autodoc-skip-member", _skip_member)
    app.connect("autodoc-process-docstring", _constant_comment, priority=100)  # before numpydoc

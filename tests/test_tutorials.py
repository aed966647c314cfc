"""Every tutorial notebook runs from top to bottom, at reduced sizes.

Each notebook holds its sizes (training epochs, folds, trials, subjects...) in one
code cell tagged ``parameters``, at full size: what a reader runs. The tests run
it smaller, papermill-style: a cell tagged ``injected-parameters`` with the values
of :data:`SMALL` goes right after it. The executed notebooks (with their outputs
and the injected cell) are written to ``docs/_build/tutorials/``: the
documentation renders those copies instead of running the tutorials a second time.
"""

import ast
import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).parents[1]
TUTORIALS = sorted((ROOT / "tutorials").glob("*.ipynb"))
EXECUTED = ROOT / "docs" / "_build" / "tutorials"  # read by docs/conf.py

#: The sizes the tests (and so the documentation) run each tutorial at. Small, yet every
#: figure keeps its meaning: the networks still learn where the text says they do.
SMALL = {
    "01_quickstart": {"n_splits": 3, "max_epochs": 40},
    "02_lrp_for_eeg": {"max_epochs": 40},
    "03_is_the_explanation_any_good": {"n_trials": 120, "max_epochs": 30, "n_repeats": 1,
                                       "n_steps": 4},
    "04_your_own_study": {"n_splits": 2, "max_epochs": 20, "max_trials": 4, "quality_steps": 3},
    "05_a_whole_study": {"subjects": [3, 5, 8], "n_trials": 30, "folds": 2, "max_epochs": 20,
                         "slider_trials": 2},
}

INJECTED_NOTE = ("# Injected by the tests: the documentation was run at these reduced sizes;\n"
                 "# the full values (what you run) are in the cell above.\n")


def _write_executed(nb, path):
    """Write ``nb`` to ``EXECUTED / path.name`` through a temporary name and a rename."""
    EXECUTED.mkdir(parents=True, exist_ok=True)
    tmp = EXECUTED / f".{path.name}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            nbformat.write(nb, f)
        os.replace(tmp, EXECUTED / path.name)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _tagged(nb, tag):
    return [i for i, c in enumerate(nb.cells) if tag in c.metadata.get("tags", [])]


def _assigned(source):
    """Names the cell assigns at top level, each to a literal (the only statements allowed)."""
    names = {}
    for stmt in ast.parse(source).body:
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name)):
            raise ValueError(f"the parameters cell holds plain assignments only, not "
                             f"{ast.unparse(stmt)!r}")
        names[stmt.targets[0].id] = ast.literal_eval(stmt.value)
    return names


def _python(source):
    """A code cell as Python: IPython's magics and shell lines left out."""
    return "\n".join(line for line in source.splitlines()
                     if not line.lstrip().startswith(("%", "!")))


def inject_parameters(nb, values):
    """Insert a cell tagged ``injected-parameters`` with ``values`` after ``parameters``.

    Raises
    ------
    ValueError
        No (or more than one) code cell tagged ``parameters``, or a name in
        ``values`` it does not assign: the injection would change nothing.
    """
    found = _tagged(nb, "parameters")
    if len(found) != 1 or nb.cells[found[0]].cell_type != "code":
        raise ValueError(f"a tutorial needs one code cell tagged 'parameters', found "
                         f"{len(found)}")
    at = found[0]
    unknown = set(values) - set(_assigned(nb.cells[at].source))
    if unknown:
        raise ValueError(f"the parameters cell does not assign {sorted(unknown)}")
    source = INJECTED_NOTE + "\n".join(f"{k} = {v!r}" for k, v in values.items())
    nb.cells.insert(at + 1, nbformat.v4.new_code_cell(
        source, metadata={"tags": ["injected-parameters"]}))
    return nb


def test_there_are_five_tutorials():
    assert len(TUTORIALS) == 5
    assert sorted(SMALL) == [p.stem for p in TUTORIALS]


@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_parameters_cell_holds_the_sizes_used_below(path):
    """The cell exists near the top, assigns every injected name, and each name is used."""
    nb = nbformat.read(path, as_version=4)
    [at] = _tagged(nb, "parameters")
    assert at <= 3 and nb.cells[at].cell_type == "code"
    assert not _tagged(nb, "injected-parameters"), "the tests inject that cell"
    full = _assigned(nb.cells[at].source)
    assert set(SMALL[path.stem]) <= set(full), sorted(set(SMALL[path.stem]) - set(full))
    later = [ast.parse(_python(c.source)) for c in nb.cells[at + 1:] if c.cell_type == "code"]
    used = {n.id for tree in later for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert set(full) <= used, f"assigned but never used: {sorted(set(full) - used)}"
    for name, small in SMALL[path.stem].items():  # reduced sizes, not other settings
        assert type(small) is type(full[name]), name
        if isinstance(small, list):
            assert set(small) < set(full[name]), name
        else:
            assert small < full[name], name


def test_injection_refuses_what_would_change_nothing():
    cells = [nbformat.v4.new_code_cell("import numpy"),
             nbformat.v4.new_code_cell("max_epochs = 150\nn_splits = 5",
                                       metadata={"tags": ["parameters"]}),
             nbformat.v4.new_code_cell("print(max_epochs)")]
    nb = inject_parameters(nbformat.v4.new_notebook(cells=cells), {"max_epochs": 3})
    assert [c.metadata.get("tags") for c in nb.cells] == [None, ["parameters"],
                                                          ["injected-parameters"], None]
    assert nb.cells[2].source == INJECTED_NOTE + "max_epochs = 3"
    with pytest.raises(ValueError, match=r"does not assign \['epochs'\]"):
        inject_parameters(nbformat.v4.new_notebook(cells=cells[:2]), {"epochs": 3})
    with pytest.raises(ValueError, match="one code cell tagged 'parameters', found 0"):
        inject_parameters(nbformat.v4.new_notebook(cells=cells[::2]), {"max_epochs": 3})
    loop = nbformat.v4.new_code_cell("for k in range(3):\n    n = k",
                                     metadata={"tags": ["parameters"]})
    with pytest.raises(ValueError, match="plain assignments only"):
        inject_parameters(nbformat.v4.new_notebook(cells=[loop]), {"n": 1})


@pytest.mark.slow
@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_executes(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), \
        "commit tutorials without outputs"
    # A failed run must not leave an older rendering in the docs behind.
    (EXECUTED / path.name).unlink(missing_ok=True)
    inject_parameters(nb, SMALL[path.stem])
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors
    _write_executed(nb, path)


def test_executed_copy_is_written_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "EXECUTED", tmp_path / "executed")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    nb.cells[0].outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "2"},
                                                  execution_count=1)]
    _write_executed(nb, Path("tutorials") / "99_x.ipynb")
    assert [p.name for p in (tmp_path / "executed").iterdir()] == ["99_x.ipynb"]
    back = nbformat.read(tmp_path / "executed" / "99_x.ipynb", as_version=4)
    assert back.cells[0].outputs[0]["data"]["text/plain"] == "2"


def test_tutorials_use_public_names_only():
    import re

    private = re.compile(r"\b(?:neurolrp|viz|datasets|stats|lrp|evaluation|report|relevance)"
                         r"(?:\.\w+)*\._(?!_)\w+")
    for path in TUTORIALS:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                found = private.findall(cell.source)
                assert not found, (path.name, found)

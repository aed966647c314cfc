"""Every tutorial notebook runs from top to bottom.

The executed notebooks (with their outputs) are written to ``docs/_build/tutorials/``:
the documentation renders those copies instead of running the tutorials a second time.
"""

import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).parents[1]
TUTORIALS = sorted((ROOT / "tutorials").glob("*.ipynb"))
EXECUTED = ROOT / "docs" / "_build" / "tutorials"  # read by docs/conf.py


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


def test_there_are_five_tutorials():
    assert len(TUTORIALS) == 5


@pytest.mark.slow
@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_executes(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), \
        "commit tutorials without outputs"
    # A failed run must not leave an older rendering in the docs behind.
    (EXECUTED / path.name).unlink(missing_ok=True)
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

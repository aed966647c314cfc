"""The package's import graph: data flows one way, and stages share public names only.

Walks every module's imports with ``ast`` (module level and inside functions, since
a circle through a lazy import is still a circle) and checks what DESIGN.md asks:
no import cycle, no module reaching up into the package root, no private name of
one module imported by another, and the stages ranked so that none imports a later
one.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "neurolrp"
ROOT = "neurolrp"

# The stages of the job, lowest first: a module may import only modules of its own
# rank or below. Modules not listed share rank 0 (helpers every stage uses).
STAGES = [
    # rank 1: data in, networks and the LRP engine
    ["neurolrp.nn", "neurolrp.models", "neurolrp.datasets", "neurolrp.lrp",
     "neurolrp.channels", "neurolrp.relevance"],
    # rank 2: training and baselines
    ["neurolrp.classifier", "neurolrp.decoding"],
    # rank 3: explaining, and what is computed from relevance
    ["neurolrp.attribution", "neurolrp.bands", "neurolrp.stats", "neurolrp.mne_interop"],
    # rank 4: judging and drawing explanations
    ["neurolrp.evaluation", "neurolrp.viz"],
    # rank 5: reports
    ["neurolrp.report"],
    # rank 6: many subjects and the command line
    ["neurolrp.study", "neurolrp.cli"],
]


def _module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules():
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(module, is_package, node):
    """The absolute module an ``ImportFrom`` node names (``None`` if outside the package)."""
    if node.level == 0:
        base = node.module or ""
    else:
        parts = module.split(".")
        if not is_package:
            parts = parts[:-1]
        parts = parts[:len(parts) - (node.level - 1)]
        base = ".".join(parts + ([node.module] if node.module else []))
    return base if base == ROOT or base.startswith(ROOT + ".") else None


def _imports(modules):
    """Every import inside the package: ``(importer, imported module, name or None, line)``.

    ``from a import b`` where ``a.b`` is a module counts as importing ``a.b``.
    """
    found = []
    for module, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == ROOT or alias.name.startswith(ROOT + "."):
                        found.append((module, alias.name, None, node.lineno))
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(module, is_package, node)
                if target is None:
                    continue
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    if sub in modules:
                        found.append((module, sub, None, node.lineno))
                    else:
                        found.append((module, target, alias.name, node.lineno))
    return found


def _graph(modules):
    """Module -> set of modules it imports (a module's own package ``__init__`` excluded,
    since Python runs it first anyway and it only re-exports)."""
    graph = {m: set() for m in modules}
    for importer, target, _, _ in _imports(modules):
        if target != importer:
            graph[importer].add(target)
    return graph


def _cycles(graph):
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _package_cycles(modules):
    """Cycles once each package's ``__init__`` is left out of the edges into it.

    ``neurolrp.study.__init__`` re-exports its submodules, and a submodule's
    ``from . import x`` goes through it; counting those edges would make every
    package a cycle with its own members. An import of the package *name* from
    elsewhere still counts (it is an import of everything the package re-exports).
    """
    graph = _graph(modules)
    for importer in graph:
        graph[importer] = {t for t in graph[importer]
                           if not (modules[t].name == "__init__.py"
                                   and importer.startswith(t + "."))}
    # A package __init__ re-exports its members: it stands for the edges to them.
    return _cycles(graph)


def _rank(module):
    if module == ROOT:  # the root re-exports every stage: it sits above them all
        return len(STAGES) + 1
    for rank, stage in enumerate(STAGES, start=1):
        if any(module == s or module.startswith(s + ".") for s in stage):
            return rank
    return 0


def test_the_walk_sees_every_module_and_lazy_imports():
    """Guard the walker itself: it finds modules, and imports inside functions."""
    modules = _modules()
    assert {"neurolrp", "neurolrp.attribution", "neurolrp.lrp.engine",
            "neurolrp.study"} <= set(modules)
    lazy = [(i, t) for i, t, _, line in _imports(modules)
            if i == "neurolrp.cli" and t == "neurolrp.study"]
    assert lazy, "cli imports the study inside a function; the walk must see it"


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle():
    cycles = _package_cycles(_modules())
    assert not cycles, f"import cycles: {cycles}"


def test_nothing_imports_the_package_root():
    """Upward arrows: a module that imports ``neurolrp`` itself depends on everything."""
    upward = [(i, line) for i, t, _, line in _imports(_modules())
              if t == ROOT and i != ROOT]
    assert not upward, f"modules importing the package root: {upward}"


def test_no_private_name_imported_from_another_module():
    modules = _modules()
    private = [(i, f"{t}.{name}", line) for i, t, name, line in _imports(modules)
               if name is not None and name.startswith("_") and not name.startswith("__")]
    assert not private, f"private names imported across modules: {private}"


def _private_definitions(tree):
    """Private names a module defines: functions, classes, methods, class and instance
    attributes (``self._x = ...``) and module-level assignments."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for t in ast.walk(target):
                    if isinstance(t, ast.Name):
                        names.add(t.id)
                    elif isinstance(t, ast.Attribute):
                        names.add(t.attr)
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


def _private_attribute_uses(modules):
    """``obj._name`` where ``_name`` is defined in another module of the package only
    (``model._check_fitted()`` from outside the classifier's module)."""
    trees = {m: ast.parse(p.read_text(), str(p)) for m, p in modules.items()}
    defined = {m: _private_definitions(t) for m, t in trees.items()}
    owners = {}
    for m, names in defined.items():
        for n in names:
            owners.setdefault(n, set()).add(m)
    found = []
    for m, tree in trees.items():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                    and not node.attr.startswith("__")):
                continue
            base = node.value
            if isinstance(base, ast.Name) and base.id in ("self", "cls"):
                continue
            if isinstance(base, ast.Call) and getattr(base.func, "id", None) == "super":
                continue
            if node.attr not in defined[m] and owners.get(node.attr):
                found.append((m, node.attr, node.lineno, sorted(owners[node.attr])))
    return found


def test_no_private_attribute_of_another_module():
    uses = _private_attribute_uses(_modules())
    assert not uses, f"private attributes used outside their module: {uses}"


def test_stages_import_only_downward():
    upward = [(i, t, line) for i, t, _, line in _imports(_modules())
              if _rank(t) > _rank(i)]
    assert not upward, f"imports of a later stage: {upward}"


def _draws(path):
    """Whether a module imports matplotlib's pyplot (at module level or in a function)."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import) and any(a.name == "matplotlib.pyplot"
                                                for a in node.names):
            return True
        if (isinstance(node, ast.ImportFrom) and node.module == "matplotlib"
                and any(a.name == "pyplot" for a in node.names)):
            return True
    return False


def _reachable(graph, start):
    seen, todo = set(), [start]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(graph[module])
    return seen


NOT_DRAWING = ["neurolrp.evaluation", "neurolrp.study._store", "neurolrp.relevance",
               "neurolrp.channels", "neurolrp.stats"]


@pytest.mark.parametrize("module", NOT_DRAWING)
def test_no_pyplot_reachable_where_nothing_is_drawn(module):
    """Metrics, a study's store and the data steps never reach pyplot, not even lazily."""
    modules = _modules()
    assert module in modules
    drawing = sorted(m for m in _reachable(_graph(modules), module) if _draws(modules[m]))
    assert not drawing, f"{module} reaches pyplot through {drawing}"


def test_importing_what_does_not_draw_loads_no_pyplot():
    code = (f"import sys, {', '.join(NOT_DRAWING)}; "
            "print('matplotlib.pyplot' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"

"""Parameter descriptions shared by many docstrings, filled in where they are used.

MNE's docdict convention: a docstring says ``%(verbose)s`` where the
parameter is described, and :func:`fill_doc` (or the
:func:`~neurolrp._utils.verbose` decorator, which calls it) puts the one
description from :data:`docdict` there, indented to fit. Every function then
documents the parameter in the same words.
"""

#: Parameter name -> its numpydoc entry (the ``name : type`` line and the
#: description below it, without indentation).
docdict = {}

docdict["verbose"] = """\
verbose : bool | str | int | None
    What neurolrp logs during the call, MNE's convention: ``True`` or
    ``"info"`` its messages, ``False`` or ``"warning"`` only warnings,
    ``"debug"`` everything. ``None`` (default) keeps the level of the
    ``"neurolrp"`` logger as it is (``"info"`` unless changed with
    ``logging.getLogger("neurolrp").setLevel``). Progress bars, where the
    call has them, show in a terminal or notebook unless ``verbose`` is
    ``False`` or ``"warning"`` and above. Should only be passed as a keyword
    argument."""

_indented = {}


def _indent_of(lines):
    """Smallest indentation of the non-blank lines."""
    widths = [len(line) - len(line.lstrip()) for line in lines if line.strip()]
    return min(widths) if widths else 0


def fill_doc(function):
    """Put the :data:`docdict` entries into ``function``'s docstring (in place).

    Each ``%(name)s`` becomes the entry, its continuation lines indented like
    the docstring's body.

    Parameters
    ----------
    function : callable
        A function or class whose docstring may hold ``%(name)s`` fields.

    Returns
    -------
    function : callable
        The same object.

    Raises
    ------
    RuntimeError
        The docstring names an entry that :data:`docdict` does not have (or
        holds a stray ``%``).
    """
    doc = function.__doc__
    if not doc:
        return function
    lines = doc.splitlines()
    indent = _indent_of(lines[1:]) if len(lines) > 1 else 0
    if indent not in _indented:
        pad = "\n" + " " * indent
        _indented[indent] = {k: pad.join(v.splitlines()) for k, v in docdict.items()}
    try:
        function.__doc__ = doc % _indented[indent]
    except (TypeError, ValueError, KeyError) as err:
        raise RuntimeError(f"Error documenting {function.__qualname__}: {err!r}") from None
    return function

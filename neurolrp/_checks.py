"""Argument checks shared by every entry point: integers, numbers, flags.

Each returns the value in its plain Python type or raises a ``TypeError`` or
``ValueError`` naming the argument and what it should be, before any work.
Trials and labels are read in :mod:`neurolrp._trials`; files are written in
:mod:`neurolrp._files`.
"""

import numbers

import numpy as np


def check_int(value, name, *, low=None, high=None):
    """Return ``value`` as an int; raise if it is not an integer in [low, high].

    Accepts Python and NumPy integers; refuses bools, floats and strings.

    Raises
    ------
    TypeError
        Not an integer.
    ValueError
        Outside ``[low, high]``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__}).")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        rng = (f"from {low} to {high}" if high is not None else f"at least {low}") \
            if low is not None else f"at most {high}"
        raise ValueError(f"{name} must be an integer {rng}, got {value}.")
    return value


def check_number(value, name, *, low=None, high=None, low_open=False, high_open=False,
                 none_ok=False):
    """Return ``value`` as a finite float within the given bounds.

    Parameters
    ----------
    value : object
        The argument.
    name : str
        Its name, for the message.
    low, high : float | None
        Bounds; ``None`` for none.
    low_open, high_open : bool
        Whether the bound itself is excluded.
    none_ok : bool
        Whether ``None`` is allowed (then returned as is).

    Raises
    ------
    TypeError
        Not a real number.
    ValueError
        NaN, infinite or outside the bounds.
    """
    if value is None and none_ok:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__}).")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}.")
    bad_low = low is not None and (value <= low if low_open else value < low)
    bad_high = high is not None and (value >= high if high_open else value > high)
    if bad_low or bad_high:
        parts = []
        if low is not None:
            parts.append(f"{'>' if low_open else '>='} {low:g}")
        if high is not None:
            parts.append(f"{'<' if high_open else '<='} {high:g}")
        raise ValueError(f"{name} must be {' and '.join(parts)}, got {value:g}.")
    return value


def check_bool(value, name):
    """Return ``value`` if it is a bool (Python or NumPy); raise TypeError if not."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r} ({type(value).__name__}).")
    return bool(value)

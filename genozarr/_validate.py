"""Argument checks shared by every layer (integers and booleans)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from genozarr.errors import ArgumentError

__all__ = ["as_index", "check_bool", "check_int", "check_name", "check_number", "name_list",
           "name_text", "path_text", "plain", "unordered"]


def as_index(value: Any) -> int:
    """``value`` as an int where it is an integer of Python, numpy or torch (a 0-d array
    or tensor too: ``operator.index``), not a bool; else a TypeError (``int()`` would read
    2.7 as 2 and True as 1).
    """
    import operator

    if isinstance(value, (bool, np.bool_)) or str(getattr(value, "dtype", "")) in (
            "bool", "torch.bool"):
        raise TypeError(f"a bool is not an index: {value!r}")
    return operator.index(value)


def check_int(name: str, value: Any, minimum: int = 1, *, allow_none: bool = True) -> int | None:
    """``value`` as a Python int, checked to be an integer (numpy ones included, bool not)
    of at least ``minimum``; None passes when ``allow_none``.

    Raises
    ------
    ArgumentError
        Naming the argument, the rule and the value given.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
            or value < minimum:
        rule = f"an integer >= {minimum}" + (" or None" if allow_none else "")
        raise ArgumentError(f"{name} must be {rule}, got {value!r}")
    return int(value)


def check_name(value: Any) -> str:
    """A dataset's name, checked: a non-empty string without ``/`` or ``\\`` that does not
    start with ``.`` (it names the store's folder and exported files).

    Raises
    ------
    ArgumentError
        Naming the rule and the value given.
    """
    if not isinstance(value, str) or not value or "/" in value or "\\" in value \
            or value.startswith("."):
        raise ArgumentError(
            f"name must be a non-empty string without '/' or '\\' that does not start with "
            f"'.', got {value!r}")
    return value


def check_bool(name: str, value: Any) -> bool:
    """``value`` as a Python bool, checked to be one (numpy's included): a string such as
    ``"false"`` from a spec file, or a number, is an error rather than taken as true.

    Raises
    ------
    ArgumentError
        Naming the argument and the value given.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise ArgumentError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_number(name: str, value: Any) -> float:
    """``value`` as a Python float, checked to be a finite real number: anything ``float``
    takes as one (numpy scalars, ``Fraction``, ``Decimal``, a one-value torch tensor), not
    bool, complex numbers, strings or None.

    Raises
    ------
    ArgumentError
        Naming the argument and the value given.
    """
    number = None
    dtype = getattr(value, "dtype", None)  # (an array or tensor of a bool, complex or text)
    typed_ok = dtype is None or not ("complex" in str(dtype) or "bool" in str(dtype)
                                     or getattr(dtype, "kind", None) in ("U", "S", "O"))
    if typed_ok and not isinstance(value, (bool, np.bool_, str, bytes, complex,
                                           np.complexfloating)) \
            and hasattr(value, "__float__"):
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            number = None
    if number is None or not math.isfinite(number):
        raise ArgumentError(f"{name} must be a finite number, got {value!r}")
    return number


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (for messages); anything else as it is."""
    return value.item() if isinstance(value, np.generic) else value


def path_text(path: Any) -> str:
    """A path or URL as text: ``os.PathLike`` objects through ``__fspath__`` and bytes
    decoded as the file system does (``str()`` of a PathLike that is not a
    ``pathlib.Path`` is its repr: a store was written under ``<__main__.P object ...>``);
    anything else as ``str``."""
    import os

    if isinstance(path, (str, bytes, os.PathLike)):
        return os.fsdecode(path)
    return str(path)


def name_text(value: Any) -> str:
    """A name as text: bytes decoded as UTF-8 (their ``str`` is ``"b'x'"``, a name of
    nothing), numpy strings as Python's, anything else through ``str``."""
    return value.decode() if isinstance(value, (bytes, np.bytes_)) else str(value)


def unordered(value: Any) -> bool:
    """Whether ``value`` is a set: names or files in it would be matched in hash order,
    another in each process. A dict's keys are ordered, though a
    ``collections.abc.Set``: they are not."""
    from collections.abc import KeysView
    from collections.abc import Set as AbstractSet

    return isinstance(value, AbstractSet) and not isinstance(value, KeysView)


def name_list(name: str, value: Any) -> list[str]:
    """Names given as one name or an ordered collection of them (list, tuple, array,
    pandas Series or Index, generator), as a list of str: bytes decoded as UTF-8 (their
    ``str`` is ``"b'x'"``), numpy strings as Python's.

    Raises
    ------
    ArgumentError
        For a set (it has no order: names would be matched to files or channels in hash
        order, another in each process), a mapping, anything else that is not names, or
        a name holding a NUL character (numpy's strings drop trailing ones: xarray would
        select ``'A\\x00'`` as ``'A'``).
    """
    from collections.abc import Mapping

    if isinstance(value, (str, bytes, np.str_, np.bytes_)):
        value = [value]
    # (a dict's keys pass; its items are pairs, not names)
    is_set = unordered(value)
    if is_set or isinstance(value, Mapping) or not hasattr(value, "__iter__"):
        what = "a set, which has no order" if is_set else repr(value)
        raise ArgumentError(f"{name} must be a name or a list of names in order, got {what}")
    names = [name_text(v) for v in value]
    for text in names:
        if "\x00" in text:
            raise ArgumentError(f"{name}: {text!r} holds a NUL character; numpy's strings "
                                "drop it, so a selection by name could find another one")
    return names

"""Content-hash cache keys (SHA256 over input files and their indexes, regions and
data-changing arguments).

A remote input (``http(s)://``, ``s3://``) enters a key through its local copy in the
input cache (:mod:`genozarr.io._remote`): the SHA256 of each downloaded file was computed
while it was downloaded and is recorded beside the copy, so a key never reads a remote
file a second time (nor the copy), and a URL gives the same key as a local file of the
same content.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
import types
from functools import lru_cache
from typing import Any

import numpy as np

from genozarr.errors import InputFileError

__all__ = ["file_digest", "input_digests", "cache_key"]

_BLOCK = 1 << 20

#: revision of the values a build stores: raised by a release whose fix changes the values
#: stored for the same inputs and arguments, so that a store cached by an earlier release
#: has another key and is rebuilt, not reused (2: the whole-genome layout's last partial
#: bin of a chromosome ends with the chromosome; an empty BigWig reads as missing data;
#: paired-end midpoints of the partial layout count every fragment of a window;
#: overlapping BED features of the category modes set one category per base; 3 was used by
#: releases that counted one mate of a paired-end '5prime' pair, and is never used again;
#: 4: fixes since revision 2 that changed stored values, among them BED lines on chromosomes
#: named like UCSC header lines (``trackA``, ``browser1``) no longer dropped, BED files with
#: bare CR line ends no longer losing a line, BAM reads past a chromosome end counted 0
#: there, overlapping BigWig records read as pyBigWig reads them, bfloat16 rounded once,
#: protein sequences no longer encoded as DNA; 5: bins of 1 kb or more of one channel
#: summed pairwise, float16 tracks summed in float32 (a bin's sum past 65504 was stored
#: as inf), short BigWig windows of a chromosome of 2**31 bases or more read as their
#: values, not as missing data)
VALUES_REVISION = 5


@lru_cache(maxsize=1024)
def _digest(path: str, signature: tuple[int, ...]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_BLOCK):
            h.update(block)
    return h.hexdigest()


def file_digest(path: str | os.PathLike) -> str:
    """SHA256 of a file's content, streamed in 1 MiB blocks.

    Memoised per process on the path and the file's size, modification time, inode and
    change time (:func:`genozarr.io._handles.stat_signature`), so a file is read once per
    session unless it changes or is replaced; a file changed in the last seconds
    (``genozarr.io._handles.changed_lately``) is read at every call.

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    str
        Hex digest.
    """
    try:
        st = os.stat(path)
    except OSError as e:
        raise InputFileError(f"cannot read input file {path}: {e.strerror}") from e
    from genozarr.io._handles import changed_lately, stat_signature

    path, sig = os.fspath(os.path.abspath(path)), stat_signature(st)
    if changed_lately(st):  # (another write this second could leave the signature alike)
        return _digest.__wrapped__(path, sig)
    return _digest(path, sig)


def _index_files(path: str) -> list[str]:
    """The index files read together with ``path``: the ``.csi``/``.bai`` htslib picks for a
    BAM file, ``.fai``/``.gzi`` for a FASTA file and ``.tbi``/``.csi`` for a VCF/BCF file
    (those that exist)."""
    from genozarr.io.bam import find_bam_index

    found = []
    bam_index = find_bam_index(path)
    if bam_index is not None:
        found.append(bam_index)
    found += [p for p in (path + ".fai", path + ".gzi") if os.path.isfile(p)]
    if path.lower().endswith((".vcf.gz", ".vcf.bgz", ".bcf")):
        from genozarr.variants import TABIX_INDEXES

        found += [path + ext for ext in TABIX_INDEXES
                  if os.path.isfile(path + ext) and path + ext not in found]
    return found


def input_digests(path: str | os.PathLike) -> list[str]:
    """Digests of an input file and of the index files read with it.

    A BAM file is read through its ``.bai``/``.csi`` index, a FASTA file through its
    ``.fai`` (and ``.gzi``) and a VCF/BCF file through its ``.tbi``/``.csi``, so a store
    built from them depends on the indexes too: a re-indexed file whose index changed
    gets another cache key. Files without an index give just their own digest.

    A URL is looked up through its copy in the input cache (the one this process fetched,
    else fetched now: :func:`genozarr.io._remote.fetched`): the digests recorded when
    the files were downloaded are used, and only index files built locally (a ``.fai``
    the remote FASTA lacked) are read.

    Parameters
    ----------
    path
        The input file, or its URL.

    Returns
    -------
    list of str
        ``[sha256 of the file, '<suffix>:<sha256 of the index>', ...]``, the index
        suffix (``.bai``, ``.fai``, ...) labelling each index digest.
    """
    from genozarr.io._remote import fetched, is_url

    known: dict[str, str] = {}
    if is_url(path):
        copy = fetched(str(path))
        path, known = copy.path, copy.digests
    path = os.fspath(path)
    digests = [known.get(path) or file_digest(path)]
    for index in _index_files(path):
        suffix = os.path.splitext(index)[1]
        digests.append(f"{suffix}:{known.get(index) or file_digest(index)}")
    return digests


def _code_digest(code: types.CodeType) -> str:
    """SHA256 of a code object: its bytecode, names and constants (nested functions'
    code objects by their own digest)."""
    h = hashlib.sha256(code.co_code)
    h.update(repr(code.co_names).encode())
    for const in code.co_consts:
        h.update((_code_digest(const) if isinstance(const, types.CodeType)
                  else _const_repr(const)).encode())
    return h.hexdigest()


def _const_repr(const: Any) -> str:
    """A code constant's representation, the same in every process: a frozenset's items
    sorted (its repr follows string hashing, which differs per process)."""
    if isinstance(const, frozenset):
        return "frozenset(" + repr(sorted(_const_repr(c) for c in const)) + ")"
    if isinstance(const, tuple):
        return "(" + ", ".join(_const_repr(c) for c in const) + ",)"
    return repr(const)


def _object_state(value: Any) -> dict[str, Any]:
    """An object's attributes: its ``__dict__`` and the ``__slots__`` of its classes,
    less the values of ``functools.cached_property`` (filled on first use: the key would
    change once the object has been used)."""
    cached = {name for cls in type(value).__mro__ for name, attr in vars(cls).items()
              if isinstance(attr, functools.cached_property)}
    state = {k: v for k, v in vars(value).items() if k not in cached} \
        if isinstance(getattr(value, "__dict__", None), dict) else {}
    for cls in type(value).__mro__:
        slots = vars(cls).get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if name in ("__dict__", "__weakref__"):
                continue
            stored = f"_{cls.__name__.lstrip('_')}{name}" \
                if name.startswith("__") and not name.endswith("__") else name  # mangled
            if stored not in state and hasattr(value, stored):
                state[stored] = getattr(value, stored)
    return state


def _own_repr(value: Any) -> bool:
    """Whether ``value``'s class has a representation of its own (not object's default
    ``<X object at 0x...>``)."""
    return type(value).__repr__ is not object.__repr__


def _content(value: Any) -> Any:
    """The content of objects whose representation does not hold it (None for others):
    numpy random generators by their state, pandas objects by a hash of their values and
    index, xarray objects by their values, dims and coordinates."""
    if isinstance(value, np.random.Generator):
        value = value.bit_generator
    if isinstance(value, (np.random.BitGenerator, np.random.RandomState)):
        state = value.get_state() if isinstance(value, np.random.RandomState) else value.state
        return {"random": type(value).__name__, "state": _jsonable(state)}
    import sys

    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(value, (pd.Series, pd.DataFrame, pd.Index)):
        frame = value if isinstance(value, pd.DataFrame) else None
        try:
            hashed = _jsonable(pd.util.hash_pandas_object(
                value, index=not isinstance(value, pd.Index)).to_numpy())
        except TypeError:  # unhashable values (lists, dicts): their pickle
            import pickle

            hashed = hashlib.sha256(pickle.dumps(value)).hexdigest()
        return {"pandas": type(value).__name__, "hash": hashed,
                "names": ([str(c) for c in frame.columns] if frame is not None else [])
                + [str(getattr(value, "name", None))],
                "dtypes": [str(d) for d in frame.dtypes] if frame is not None
                else [str(value.dtype)]}
    xr = sys.modules.get("xarray")
    if xr is not None and isinstance(value, (xr.DataArray, xr.Dataset)):
        variables = value.variables if isinstance(value, xr.Dataset) else \
            {**value.coords.variables, value.name or "<data>": value.variable}
        return {"xarray": type(value).__name__,
                "variables": {str(k): [list(v.dims), _jsonable(np.asarray(v.values))]
                              for k, v in variables.items()}}
    return None


def _callable_params(value: Any, depth: int) -> Any:
    """A callable in a cache key: its module and qualified name, and for a Python
    function also its code, its default arguments and the values its closure holds, so
    that two closures or lambdas of one name (``make_collapser(2)`` and
    ``make_collapser(3)``) have different keys; a ``functools.partial`` by its function
    and arguments; another callable object by its class, attributes (or, having none,
    its representation) and the code of its ``__call__``. Globals the function reads are
    not in the key."""
    name = f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', None)}"
    if isinstance(value, functools.partial):
        return {"partial": _jsonable(value.func, depth), "args": _jsonable(value.args, depth),
                "keywords": _jsonable(value.keywords, depth)}
    if isinstance(value, types.MethodType):  # a bound method: its function and its object
        return {"method": _callable_params(value.__func__, depth + 1),
                "self": _jsonable(value.__self__, depth)}
    if not isinstance(value, types.FunctionType):
        # builtins and numpy functions (np.mean) by name, a builtin method also by its
        # object (np.maximum.reduce and np.minimum.reduce are both 'ufunc.reduce'); other
        # callable objects by their class, representation, attributes and the code of
        # their __call__ (a repr that leaves a parameter out does not make two objects
        # share a store)
        if getattr(value, "__qualname__", None) is not None:
            owner = getattr(value, "__self__", None)
            if owner is None or isinstance(owner, types.ModuleType):
                return name
            return {"builtin": name, "self": _jsonable(owner, depth)}
        out: dict[str, Any] = {
            "object": f"{type(value).__module__}.{type(value).__qualname__}"}
        state = _object_state(value)
        if state:
            out["attrs"] = _jsonable(state, depth)
        elif _own_repr(value):  # (the default one says nothing the class does not)
            # only where no attribute describes the object: a repr printing them prints a
            # set in an order that differs per process (string hashing; an audit)
            out["repr"] = repr(value)
        call = next((vars(c)["__call__"] for c in type(value).__mro__
                     if "__call__" in vars(c)), None)
        if isinstance(call, types.FunctionType):
            out["call"] = _callable_params(call, depth + 1)
        return out
    cells = []
    for cell in value.__closure__ or ():
        try:
            cells.append(_jsonable(cell.cell_contents, depth))
        except ValueError:  # an empty cell (a name assigned after the function)
            cells.append(None)
    return {"callable": name, "code": _code_digest(value.__code__),
            "defaults": _jsonable(value.__defaults__ or (), depth),
            "kwdefaults": _jsonable(value.__kwdefaults__ or {}, depth), "closure": cells}


def callable_token(func: Any) -> str:
    """A short description of a callable for derived cache keys and operation logs:
    ``module.qualname#<16 hex digits>``, the digits a hash of what enters a cache key for
    it (its code, defaults, closure or attributes: two lambdas of one name differ)."""
    name = f"{getattr(func, '__module__', '')}.{getattr(func, '__qualname__', None) or type(func).__qualname__}"
    digest = hashlib.sha256(json.dumps(_jsonable(func), sort_keys=True, default=str)
                            .encode()).hexdigest()[:16]
    return f"{name}#{digest}"


def class_token(cls: type) -> str:
    """:func:`callable_token` of a class of the user's own (a :class:`Normalizer`
    subclass): ``module.qualname#<16 hex digits>``, the digits a hash of the code of
    every function, and the public values (numbers, text, tuples, lists, dicts, sets,
    arrays), that the class and its bases outside genozarr and the standard library
    define, so that a method or constant edited since gives another token. Memory
    addresses in representations (a default ``object()``) are left out: the token of
    unchanged code is the same in every process of one Python version (bytecode differs
    between versions)."""
    import re
    import sys

    parts = []
    for klass in cls.__mro__:
        module = str(getattr(klass, "__module__", "")).split(".")[0]
        if module in ("genozarr", "builtins") or module in sys.stdlib_module_names:
            continue
        for attr, value in sorted(vars(klass).items()):
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            if isinstance(value, property):
                value = [value.fget, value.fset, value.fdel]
            code = isinstance(value, types.FunctionType) or (
                isinstance(value, list)
                and any(isinstance(f, types.FunctionType) for f in value))
            plain = not attr.startswith("_") and isinstance(
                value, (str, int, float, bool, type(None), tuple, list, dict, set,
                        frozenset, np.ndarray, np.generic))
            if code or plain:
                parts.append([klass.__qualname__, attr, _jsonable(value)])
            # (others: __dict__, __module__, abc's _abc_impl (an address), nested classes)
    name = f"{cls.__module__}.{cls.__qualname__}"
    text = re.sub(r" at 0x[0-9a-fA-F]+", " at 0x", json.dumps(parts, sort_keys=True,
                                                                default=str))
    return f"{name}#{hashlib.sha256(text.encode()).hexdigest()[:16]}"


# one walk of _jsonable per thread: {(id, depth): (object, result)} of the objects
# described so far (the object kept, so that its id is not reused by another during the
# walk), and the ids of the objects being described (a reference back to one is a cycle)
_walk = threading.local()


def _jsonable(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON-able data for a cache key. Objects (instances with Python state,
    callables) are described once per walk and depth: a second reference at the same
    depth gives the same description again, and a reference back to an object being
    described (``obj.owner = obj``) gives ``{"cycle": class}``, so that the work follows
    the number of objects, not of paths."""
    state = getattr(_walk, "state", None)
    if state is None:
        _walk.state = ({}, set())
        try:
            return _jsonable(value, depth)
        finally:
            _walk.state = None
    if isinstance(value, (str, int, float, bool, type(None), bytes, dict, list, tuple, set,
                          frozenset, np.ndarray, np.generic)):
        return _describe(value, depth)
    memo, active = state
    if id(value) in active:
        return {"cycle": f"{type(value).__module__}.{type(value).__qualname__}"}
    key = (id(value), depth)  # (a description cut at the depth limit holds only there)
    if key in memo:
        return memo[key][1]
    active.add(id(value))
    try:
        result = _describe(value, depth)
    finally:
        active.discard(id(value))
    memo[key] = (value, result)
    return result


def _describe(value: Any, depth: int) -> Any:
    depth += 1
    if depth > 20:  # a deep (or self-referencing) structure
        return "..."
    if isinstance(value, dict):
        return {str(k): _jsonable(v, depth)
                for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, depth) for v in value]
    if isinstance(value, (set, frozenset)):  # sorted: a set's order differs per process
        return sorted((_jsonable(v, depth) for v in value),
                      key=lambda v: json.dumps(v, sort_keys=True, default=str))
    if isinstance(value, np.ndarray):
        return {"ndarray": hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest(),
                "shape": list(value.shape), "dtype": str(value.dtype)}
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if hasattr(value, "cache_params") and not isinstance(value, type):
        # (before callables: a collapser object may have one)
        return _jsonable(value.cache_params(), depth)
    if callable(value):
        return _callable_params(value, depth)
    if isinstance(value, (str, int, float, bool, type(None))):
        return value
    content = _content(value)
    if content is not None:
        return content
    if _python_state(value) and (not (_own_repr(value) and _standard(value))
                                 or isinstance(value, types.SimpleNamespace)):
        # an instance (a bound method's, a closure's, a partial's argument) by its class
        # and attributes (all of them: a repr that leaves a parameter out does not make
        # two objects share a store; not its repr, which prints a set's items in an order
        # that differs per process). Others (the standard library's values: paths,
        # decimals, dates, enums) by their representation (one with a memory address
        # makes the key unique: never reused, its state unknown)
        return {"object": f"{type(value).__module__}.{type(value).__qualname__}",
                "attrs": _jsonable(_object_state(value), depth)}
    return repr(value)


def _standard(value: Any) -> bool:
    """Whether ``value``'s class comes with Python (builtins or the standard library),
    whose representations hold their values."""
    import sys

    module = type(value).__module__.split(".")[0]
    return module == "builtins" or module in sys.stdlib_module_names


def _python_state(value: Any) -> bool:
    """Whether all of ``value``'s state is in its ``__dict__`` and ``__slots__`` (an
    instance of a class written in Python), not hidden in a C structure."""
    if isinstance(getattr(value, "__dict__", None), dict):
        return True
    return any("__slots__" in vars(cls) for cls in type(value).__mro__[:-1])


def cache_key(files: list[str], arrays: dict[str, np.ndarray], args: dict[str, Any]) -> str:
    """SHA256 over input file contents, region arrays and data-changing arguments.

    Parameters
    ----------
    files
        Input files or URLs; their content (not their names) enters the key, with their
        order, and so does the content of their indexes (see :func:`input_digests`).
    arrays
        Arrays describing the regions (chrom, start, end, strand of every window).
    args
        Every argument that changes the stored data (binsize, resolution, mode, ...).

    Returns
    -------
    str
        Hex digest.
    """
    from genozarr.store.layout import FORMAT_VERSION

    h = hashlib.sha256()
    h.update(f"genozarr-format-{FORMAT_VERSION}-values-{VALUES_REVISION}".encode())
    for path in files:
        for digest in input_digests(path):
            h.update(digest.encode())
    for name in sorted(arrays):
        values = np.asarray(arrays[name])
        h.update(name.encode())
        if values.dtype == object:
            h.update("\x00".join(map(str, values)).encode())
        else:
            h.update(np.ascontiguousarray(values).tobytes())
    h.update(json.dumps(_jsonable(args), sort_keys=True).encode())
    return h.hexdigest()

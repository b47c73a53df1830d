"""Per-process cache of open BAM, FASTA and BigWig handles.

File handles cannot cross process boundaries, so genozarr never pickles one: readers pass
paths around and call :func:`get_handle` where they read. The cache is keyed by the
process id (and the thread id, since pysam and pyBigWig handles are not thread-safe), so a
dask worker process, forked or spawned, opens its own handles lazily on first use. A
handle is reopened when the file changed on disk since it was opened (size or mtime), and
the least recently used handle is closed once more than :func:`max_open_handles` are open.

Handles inherited through ``fork`` are never closed or used by the child: closing a BGZF
handle whose decompression threads did not survive the fork can hang, so the child only
drops them from its cache (they stay referenced until the child exits).
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Literal

from genozarr.errors import ArgumentError, InputFileError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["HandleKind", "get_handle", "close_handles", "max_open_handles"]

logger = logging.getLogger(__name__)

HandleKind = Literal["bam", "fasta", "bigwig"]

_KINDS: tuple[str, ...] = ("bam", "fasta", "bigwig")
_DEFAULT_MAX_OPEN = 32

# key (pid, thread id, kind, path) -> (stat signature, handle)
_cache: OrderedDict[tuple[int, int, str, str], tuple[tuple[int, int], Any]] = OrderedDict()
_lock = threading.Lock()
_max_open = _DEFAULT_MAX_OPEN
# handles inherited from a parent process: kept referenced, never closed (see module doc)
_orphans: list[Any] = []


def _forget_inherited() -> None:
    """After ``fork``: move the parent's handles aside instead of using or closing them."""
    global _lock
    _orphans.extend(handle for _, handle in _cache.values())
    _cache.clear()
    _lock = threading.Lock()  # the parent's lock may have been held by another thread


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_inherited)


def max_open_handles(n: int | None = None) -> int:
    """Get, or set, how many handles one process keeps open at most.

    Parameters
    ----------
    n
        New limit (at least 1); ``None`` only returns the current one.

    Returns
    -------
    int
        The limit in force before this call.
    """
    global _max_open
    old = _max_open
    if n is not None:
        if int(n) < 1:
            raise ArgumentError(f"max_open_handles needs a positive number, got {n!r}")
        _max_open = int(n)
        with _lock:
            _evict_over_limit()
    return old


def _signature(path: str) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except FileNotFoundError as e:
        raise InputFileError(f"{path} does not exist") from e
    except OSError as e:
        raise InputFileError(f"{path} cannot be read: {e}") from e
    return (st.st_size, st.st_mtime_ns)


def _open_bam(path: str) -> Any:
    import pysam

    return pysam.AlignmentFile(path, "rb")


def _open_fasta(path: str) -> Any:
    import pysam

    return pysam.FastaFile(path)


def _open_bigwig(path: str) -> Any:
    import pyBigWig

    handle = pyBigWig.open(path)
    if handle is None:
        raise RuntimeError("pyBigWig.open returned None")
    if not handle.isBigWig():
        handle.close()
        raise RuntimeError("the file is a bigBed, not a BigWig")
    return handle


_OPENERS: dict[str, Callable[[str], Any]] = {
    "bam": _open_bam,
    "fasta": _open_fasta,
    "bigwig": _open_bigwig,
}
_NAMES = {"bam": "BAM", "fasta": "FASTA", "bigwig": "BigWig"}


def _close(handle: Any) -> None:
    try:
        handle.close()
    except Exception as e:  # closing a read-only handle should not fail the caller
        logger.debug("closing %r failed: %s", handle, e)


def _evict_over_limit() -> None:
    while len(_cache) > _max_open:
        key, (_, handle) = _cache.popitem(last=False)
        logger.debug("closing least recently used handle %s", key)
        _close(handle)


def _is_stale(kind: str, handle: Any, path: str) -> bool:
    # a BAM opened before its index was built cannot fetch: reopen once the index exists
    if kind == "bam":
        try:
            return not handle.has_index()
        except Exception:
            return True
    return False


def get_handle(kind: HandleKind, path: str) -> Any:
    """Return an open handle for ``path``, cached per process and thread.

    Parameters
    ----------
    kind
        ``"bam"`` (:class:`pysam.AlignmentFile`), ``"fasta"`` (:class:`pysam.FastaFile`,
        which needs the ``.fai``: see :func:`genozarr.io.fasta.ensure_fai`) or ``"bigwig"``
        (a :mod:`pyBigWig` handle).
    path
        File path.

    Returns
    -------
    object
        The open handle. Do not close it: the cache owns it.

    Raises
    ------
    InputFileError
        If the file does not exist or cannot be opened as ``kind``.
    ArgumentError
        For an unknown ``kind``.
    """
    if kind not in _OPENERS:
        raise ArgumentError(f"handle kind must be one of {_KINDS}, got {kind!r}")
    path = os.fspath(path)
    sig = _signature(path)
    key = (os.getpid(), threading.get_ident(), kind, path)
    with _lock:
        entry = _cache.get(key)
        if entry is not None:
            if entry[0] == sig and not _is_stale(kind, entry[1], path):
                _cache.move_to_end(key)
                return entry[1]
            del _cache[key]
            _close(entry[1])
    try:
        handle = _OPENERS[kind](path)
    except (OSError, ValueError, RuntimeError) as e:
        raise InputFileError(
            f"{path} is not a {_NAMES[kind]} file or cannot be opened: {e}"
        ) from e
    with _lock:
        old = _cache.pop(key, None)
        if old is not None:  # another call of this thread raced us (re-entrancy): keep one
            _close(old[1])
        _cache[key] = (sig, handle)
        _evict_over_limit()
    return handle


def close_handles(path: str | None = None) -> int:
    """Close this process's cached handles (all, or those of one path).

    Parameters
    ----------
    path
        Close only the handles of this file; ``None`` closes every handle.

    Returns
    -------
    int
        Number of handles closed.
    """
    pid = os.getpid()
    target = None if path is None else os.fspath(path)
    with _lock:
        keys = [k for k in _cache if k[0] == pid and (target is None or k[3] == target)]
        handles = [_cache.pop(k)[1] for k in keys]
    for handle in handles:
        _close(handle)
    return len(handles)

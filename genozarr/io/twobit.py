"""UCSC 2bit genome reading through :mod:`py2bit`, with the interface of
:mod:`genozarr.io.fasta`: :func:`twobit_chrom_sizes` and :func:`read_twobit_sequence`.

A 2bit file packs four bases per byte and records runs of ``N`` ("N blocks") and of
soft-masked, lower-case bases ("mask blocks") separately. Sequences are returned upper
case, so masked bases read (and encode) like unmasked ones, and N blocks read as ``N``.
A file is recognised by its magic number ``0x1A412743`` (either byte order) or by the
suffix ``.2bit`` (:func:`is_twobit`).

py2bit handles are not thread-safe and cannot cross processes: as for the handles of
:mod:`genozarr.io._handles`, this module keeps one per process, thread and file, reopened
when the file changes on disk (size or modification time).
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from typing import Any

from genozarr.errors import ChromosomeNotFoundError, InputFileError, RegionError

__all__ = ["TWOBIT_MAGIC", "is_twobit", "twobit_chrom_sizes", "read_twobit_sequence",
           "close_twobit_handles"]

log = logging.getLogger(__name__)

#: the first four bytes of a 2bit file, as a 32-bit integer in the file's byte order
TWOBIT_MAGIC = 0x1A412743
_MAGIC_BYTES = (TWOBIT_MAGIC.to_bytes(4, "little"), TWOBIT_MAGIC.to_bytes(4, "big"))
_MAX_OPEN = 16

# (pid, thread id, path) -> ((size, mtime_ns), handle); least recently used first
_cache: OrderedDict[tuple[int, int, str], tuple[tuple[int, int], Any]] = OrderedDict()
_lock = threading.Lock()


def is_twobit(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a 2bit file: its suffix is ``.2bit`` or it starts with the
    2bit magic number ``0x1A412743``.

    Parameters
    ----------
    path
        A file path (a missing or unreadable file is not a 2bit file unless its suffix
        says so; the reader then reports the problem).

    Returns
    -------
    bool
    """
    path = os.fspath(path)
    if path.lower().endswith(".2bit"):
        return True
    try:
        with open(path, "rb") as fh:
            return fh.read(4) in _MAGIC_BYTES
    except OSError:
        return False


def _open(path: str) -> Any:
    """A py2bit handle of ``path`` (upper case: masked bases are not lower-cased)."""
    try:
        import py2bit
    except ImportError as e:  # pragma: no cover - py2bit is a core dependency
        raise InputFileError(
            f"{path}: reading 2bit genomes needs py2bit ('pip install py2bit')") from e
    from genozarr.io._handles import captured_stderr

    with captured_stderr() as err:  # py2bit prints its reason on the C stderr
        try:
            return py2bit.open(path, False)
        except (RuntimeError, OSError) as e:
            failure = e
    raise InputFileError(
        f"{path} is not a 2bit file or cannot be opened: {failure}"
        f"{'; ' + err.reason() if err.text else ''}") from failure


def _handle(path: str | os.PathLike) -> Any:
    """The cached py2bit handle of ``path`` for this process and thread."""
    from genozarr.io._handles import check_input_file
    from genozarr.io._remote import localize

    path = localize(path, "2bit")  # a URL: its copy in the input cache
    check_input_file(path, "2bit")  # missing, a directory, permission denied
    st = os.stat(path)
    sig = (st.st_size, st.st_mtime_ns)
    key = (os.getpid(), threading.get_ident(), path)
    with _lock:
        entry = _cache.get(key)
        if entry is not None:
            if entry[0] == sig:
                _cache.move_to_end(key)
                return entry[1]
            del _cache[key]
            _close(entry[1])
    handle = _open(path)
    with _lock:
        old = _cache.pop(key, None)
        if old is not None:
            _close(old[1])
        _cache[key] = (sig, handle)
        while len(_cache) > _MAX_OPEN:
            _, (_, stale) = _cache.popitem(last=False)
            _close(stale)
    return handle


def _close(handle: Any) -> None:
    try:
        handle.close()
    except Exception as e:  # closing a read-only handle should not fail the caller
        log.debug("closing a 2bit handle failed: %s", e)


def close_twobit_handles(path: str | os.PathLike | None = None) -> int:
    """Close this process's cached 2bit handles (all, or those of one path).

    Parameters
    ----------
    path
        Close only the handles of this file; None closes every one.

    Returns
    -------
    int
        Number of handles closed.
    """
    pid = os.getpid()
    target = None if path is None else os.fspath(path)
    with _lock:
        keys = [k for k in _cache if k[0] == pid and (target is None or k[2] == target)]
        handles = [_cache.pop(k)[1] for k in keys]
    for handle in handles:
        _close(handle)
    return len(handles)


def twobit_chrom_sizes(path: str | os.PathLike) -> dict[str, int]:
    """Sequence lengths of a 2bit file.

    Parameters
    ----------
    path
        2bit file.

    Returns
    -------
    dict
        ``{name: length}`` in file order.

    Raises
    ------
    InputFileError
        If the file is missing, unreadable or not a 2bit file.
    """
    return {str(k): int(v) for k, v in _handle(path).chroms().items()}


def read_twobit_sequence(path: str | os.PathLike, chrom: str, start: int, end: int,
                         pad: bytes = b"N") -> bytes:
    """Upper-case sequence of ``[start, end)``; positions outside the sequence are ``pad``
    (as :func:`genozarr.io.fasta.read_sequence`).

    Soft-masked (lower-case) bases are returned upper case; N blocks as ``N``.

    Parameters
    ----------
    path
        2bit file.
    chrom
        Sequence name.
    start, end
        0-based half-open interval; may run past either end of the sequence.
    pad
        One byte used for positions outside the sequence.

    Returns
    -------
    bytes
        ``end - start`` bytes.

    Raises
    ------
    ChromosomeNotFoundError
        If ``chrom`` is not in the file.
    RegionError
        If ``end < start``, or the interval lies absurdly far outside the sequence
        (:func:`genozarr.genome.check_span`).
    """
    from genozarr.genome import check_chrom_name, check_span

    if end < start:
        raise RegionError(f"{path}: interval {chrom}:{start}-{end} has start > end")
    check_chrom_name(chrom, str(path))
    tb = _handle(path)
    sizes = tb.chroms()
    if chrom not in sizes:
        raise ChromosomeNotFoundError(
            f"{path}: sequence {chrom!r} not found; the file has {list(sizes)[:10]}")
    length = int(sizes[chrom])
    check_span(chrom, start, end, length, str(path))
    lo, hi = max(start, 0), min(end, length)
    # py2bit reads end=0 as "to the end of the sequence": ask only for non-empty ranges
    seq = tb.sequence(chrom, lo, hi).upper().encode("ascii") if hi > lo else b""
    if lo == start and hi == end:
        return seq
    left = pad * (min(lo, end) - start)
    return left + seq + pad * (end - start - len(left) - len(seq))

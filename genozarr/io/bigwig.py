"""BigWig reading through :mod:`pyBigWig`, and :mod:`pybigtools` for short windows.

Short intervals (up to :data:`WINDOW_MAX_BASES`: the windows of the partial layout) are
decoded by pybigtools, which reads only the data blocks overlapping the interval and is
3-10x faster there than pyBigWig on bedGraph-style files; longer ones (the chromosome
blocks of the whole-genome layout) by pyBigWig, which is up to 2x faster on them. Both give
the same float32 values (a BigWig stores float32; pybigtools' float64 values cast back
exactly). If pybigtools is not installed or fails on a file, pyBigWig reads it (and
reports a corrupt file).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from genozarr.errors import ChromosomeNotFoundError, MalformedFileError, RegionError

__all__ = ["WINDOW_MAX_BASES", "bigwig_chrom_sizes", "read_values"]

#: intervals up to this many bases are decoded with pybigtools (see the module doc)
WINDOW_MAX_BASES = 32_768
_PBT_MAX_OPEN = 32
# (pid, thread id, path) -> ((size, mtime_ns), pybigtools reader or None if it failed)
_pbt_cache: OrderedDict[tuple[int, int, str], tuple[Any, Any]] = OrderedDict()
_pbt_lock = threading.Lock()


def _pybigtools_reader(path: str) -> Any:
    """A pybigtools reader of ``path`` cached per process and thread (reopened when the
    file changed), or None (not installed, or the file cannot be opened by it)."""
    from genozarr.io._handles import file_signature

    sig = file_signature(path)
    key = (os.getpid(), threading.get_ident(), path)
    with _pbt_lock:
        entry = _pbt_cache.get(key)
        if entry is not None and entry[0] == sig:
            _pbt_cache.move_to_end(key)
            return entry[1]
    try:
        import pybigtools

        reader = pybigtools.open(path)
    except BaseException as e:  # pyo3 panics derive from BaseException
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        reader = None
    with _pbt_lock:
        _pbt_cache[key] = (sig, reader)
        _pbt_cache.move_to_end(key)
        while len(_pbt_cache) > _PBT_MAX_OPEN:
            _pbt_cache.popitem(last=False)
    return reader


def _window_values(path: str, chrom: str, start: int, end: int) -> np.ndarray | None:
    """float32 values of ``[start, end)`` (inside the chromosome) by pybigtools, NaN where
    there is no data; None where pybigtools cannot read them."""
    reader = _pybigtools_reader(path)
    if reader is None:
        return None
    try:
        return reader.values(chrom, start, end, fillna=None).astype(np.float32)
    except BaseException as e:  # pyBigWig reads it and reports the error
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        return None


def bigwig_chrom_sizes(path: str | os.PathLike) -> dict[str, int]:
    """Chromosome sizes from a BigWig header.

    Parameters
    ----------
    path
        BigWig file.

    Returns
    -------
    dict
        ``{chrom: length}``.
    """
    from genozarr.io._handles import get_handle

    return {str(k): int(v) for k, v in get_handle("bigwig", os.fspath(path)).chroms().items()}


def read_values(path: str | os.PathLike, chrom: str, start: int, end: int, *,
                nan_to_num: bool = True) -> np.ndarray:
    """Per-base values of ``[start, end)`` as float32.

    Bases without data (not covered by any interval of the file) are NaN, or 0 with
    ``nan_to_num=True``; so are positions outside the chromosome.

    Parameters
    ----------
    path
        BigWig file.
    chrom
        Chromosome name as spelled in the file.
    start, end
        0-based half-open interval; may run past either end of the chromosome.
    nan_to_num
        Replace missing values by 0.

    Returns
    -------
    numpy.ndarray
        float32, shape ``(end - start,)``.

    Raises
    ------
    ChromosomeNotFoundError
        If the file has no chromosome ``chrom``.
    RegionError
        If ``end < start``, the name holds a NUL byte, or the interval runs absurdly far
        past the chromosome (see :func:`genozarr.genome.check_span`).
    """
    from genozarr.genome import check_chrom_name, check_span
    from genozarr.io._handles import get_handle
    from genozarr.io._remote import is_url

    if end < start:
        raise RegionError(f"{path}: interval {chrom}:{start}-{end} has start > end")
    check_chrom_name(chrom, str(path))  # pyBigWig would cut a name at a NUL byte
    bw = get_handle("bigwig", os.fspath(path))
    length = bw.chroms(chrom)
    if length is None:
        raise ChromosomeNotFoundError(
            f"{path}: chromosome {chrom!r} not found; the file has {list(bw.chroms())[:10]}")
    check_span(chrom, start, end, int(length), str(path))
    lo, hi = max(start, 0), min(end, int(length))
    out = None
    if lo == start and hi == end and 0 < hi - lo <= WINDOW_MAX_BASES \
            and not is_url(os.fspath(path)):
        # a short window (partial layout): pybigtools reads only the blocks it overlaps
        out = _window_values(os.fspath(path), chrom, lo, hi)
    try:
        if out is not None:
            pass
        elif lo == start and hi == end and hi > lo:
            # the common case: the whole interval is inside the chromosome; pyBigWig's
            # values(numpy=True) decodes straight into a float32 array (NaN: no data), several
            # times faster than painting the runs of intervals()
            out = bw.values(chrom, lo, hi, numpy=True)
            if out.dtype != np.float32:
                out = out.astype(np.float32)
        else:
            out = np.full(end - start, np.nan, dtype=np.float32)
            if hi > lo:
                out[lo - start:hi - start] = bw.values(chrom, lo, hi, numpy=True)
    except RuntimeError as e:  # pyBigWig's only signal of a corrupt or truncated data block
        raise MalformedFileError(
            f"{path}: cannot decode {chrom}:{lo}-{hi}; the BigWig file is truncated or "
            f"corrupt ({e})") from e
    if nan_to_num:
        # boolean-mask assignment: ~7x faster than np.nan_to_num on float32
        out[np.isnan(out)] = 0.0
    return out

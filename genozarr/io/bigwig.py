"""BigWig reading through :mod:`pyBigWig` and :mod:`pybigtools`; the cost follows the data.

Three decoders, all giving the same float32 values (a BigWig stores float32; pybigtools'
float64 values cast back exactly), NaN where the file has no data:

- Short intervals (up to :data:`WINDOW_MAX_BASES`: the windows of the partial layout) are
  decoded by pybigtools' ``values``, which reads only the data blocks overlapping the
  interval and is 3-10x faster there than pyBigWig on bedGraph-style files. pybigtools
  adds up records that overlap a base (a fixedStep section of span > step, as
  sliding-window tracks are written) where pyBigWig takes the last one: the first
  :data:`OVERLAP_CHECKS` windows holding data of each chromosome of a file are also
  read as per-base means and maxima, which both equal the sums only where no two
  records overlap (or those that do hold 0); a chromosome where they differ is read by
  pyBigWig from then on. Records overlapping only past those windows (a chromosome
  whose sections change kind after them, or an invalid bedGraph-style file, which
  UCSC's tools refuse to write) would still be added up there.
- Longer ones (the chromosome blocks of the whole-genome layout) where the file is
  *sparse* (at most one record per :data:`RECORD_SPAN_MIN` bases: peaks only, large gaps)
  are painted from the file's records (pybigtools ``records``: only the covered runs, as
  ``(start, end, value)``) with one vectorised ``np.repeat`` over the runs and the gaps
  between them; the gaps are written with the fill value directly, so no per-base NaN pass
  is needed.
- Longer ones elsewhere (dense files) by pyBigWig's ``values(numpy=True)``, which decodes
  straight into a float32 array and is the fastest per-base decoder there.

Reads of a sparse file collapsed to bins by a sum or a mean (:func:`read_binned_values`,
a whole-genome store at a resolution above 1 bp) decode no base inside the chromosome:
each bin is summed from the file's records (pybigtools ``records``, in float64), a cost
that follows the records, not the bases (:data:`BINNED_SUMS`,
:data:`SUMS_BYTES_PER_BASE`).

Whether a chromosome is sparse is found out on the read itself, at a bounded cost: its
records are pulled lazily up to the budget of the interval (``(end - start) //
RECORD_SPAN_MIN``); one record more and the read goes to pyBigWig instead, and so does every
later long read of that chromosome of that file in this process (its first probe is the
only one paid).

Chromosome sizes are cached per file (and re-read when the file changes), so that a read
does not need an open pyBigWig handle: with more files than pyBigWig handles are cached
(a many-condition ingest, whose tasks read every file in turn), every read used to reopen
one. Open pybigtools readers are cached per process and thread, up to
:data:`PYBIGTOOLS_MAX_OPEN`. A pybigtools reader keeps every data block it decoded (up to
5000 decompressed blocks, tens of MB) until it is dropped, so the reads of the cached
readers are bounded together (:data:`PYBIGTOOLS_READ_BUDGET`): memory stays bounded
whatever is read, and flat in the number of files.

If pybigtools is not installed or fails on a file, pyBigWig reads it (and reports a corrupt
file).
"""

from __future__ import annotations

import itertools
import os
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from genozarr._kernels import nan_to_zero
from genozarr.errors import ChromosomeNotFoundError, MalformedFileError, RegionError, get_logger

__all__ = ["BINNED_SUMS", "OVERLAP_CHECKS", "PYBIGTOOLS_MAX_OPEN", "PYBIGTOOLS_READ_BUDGET",
           "RECORD_SPAN_MIN", "SUMS_BYTES_PER_BASE", "WINDOW_MAX_BASES",
           "bigwig_chrom_sizes", "read_binned_values", "read_values"]

log = get_logger(__name__)

#: intervals up to this many bases are decoded with pybigtools' ``values`` (module doc)
WINDOW_MAX_BASES = 32_768
#: a longer interval is painted from the file's records when it holds at most one record
#: per this many bases, else decoded by pyBigWig's ``values``; 0 disables the records path,
#: 1 takes it whenever the records are no more than the bases
RECORD_SPAN_MIN = 512
#: reads collapsed to bins by a sum or a mean are summed per bin from the records of files
#: sparse enough (:data:`SUMS_BYTES_PER_BASE`); False: every base is decoded and
#: collapsed, as for max and min
BINNED_SUMS = True
#: a file is summed per bin from its records where its data take at most this many
#: compressed bytes per base of its chromosomes (about one record per 200 bases or fewer:
#: peaks, coarse steps). A record costs about 0.45 us to sum (pybigtools' tuple, then
#: numpy), a base about 2.5-4 ns to decode and collapse, so denser files decode faster
#: base by base (``docs/tuning.md``). The density is the file's average: a file dense on
#: a few chromosomes only is summed everywhere (the same values, more slowly there)
SUMS_BYTES_PER_BASE = 0.03


#: open pybigtools readers one process (thread) keeps at most; with more files than this
#: read in turn (a many-condition ingest) each read opens its reader (~0.1 ms): readers
#: kept open for every file cost more memory (their block caches, fragmented) than the
#: reopening costs time
PYBIGTOOLS_MAX_OPEN = 32
#: reads the cached pybigtools readers of one thread serve together before one is
#: reopened: a reader keeps every data block it decoded (decompressed, up to 5000 of them,
#: tens of MB) until it is dropped, so each serves ``max(4, budget / open readers)`` reads
#: (64 with 32 readers open, 1024 with 2): memory stays bounded whatever is read
PYBIGTOOLS_READ_BUDGET = 2048
_INFO_MAX = 4096  # files whose chromosome sizes are cached
_DENSE_MAX = 100_000  # (file, chromosome) pairs remembered as too dense for records
#: short windows holding data of a chromosome of a file checked for overlapping records (a
#: fixedStep section of span > step), which pybigtools adds up where pyBigWig takes the
#: last one; one found, the chromosome is read by pyBigWig (module doc)
OVERLAP_CHECKS = 32

# (pid, thread id, path, purpose) -> [(size, mtime_ns), pybigtools reader or None, reads]
_pbt_cache: OrderedDict[tuple[int, int, str, str], list[Any]] = OrderedDict()
_pbt_lock = threading.Lock()
# local path -> ((size, mtime_ns), {chrom: length})
_info_cache: OrderedDict[str, tuple[Any, dict[str, int]]] = OrderedDict()
# (local path, signature, chrom, RECORD_SPAN_MIN) of chromosomes read with pyBigWig
_dense: dict[tuple[str, Any, str, int], None] = {}
# (local path, signature, SUMS_BYTES_PER_BASE) -> whether the file's bins are summed from its
# records (_sparse_file)
_summable: dict[tuple[str, Any, float], bool] = {}
# (local path, signature, chrom) of chromosomes whose records overlap (read base by base,
# by pyBigWig)
_overlapping: dict[tuple[str, Any, str], None] = {}
# (local path, signature, chrom) -> windows found free of overlapping records
_checked: dict[tuple[str, Any, str], int] = {}
_info_lock = threading.Lock()


def _fatal(e: BaseException) -> bool:
    """Whether an exception must propagate (pybigtools' Rust panics are BaseExceptions)."""
    return isinstance(e, (KeyboardInterrupt, SystemExit, GeneratorExit))


def _pybigtools_reader(path: str, purpose: str = "values") -> Any:
    """A pybigtools reader of ``path`` cached per process, thread and ``purpose``
    (reopened when the file changed, or when it served its share of
    :data:`PYBIGTOOLS_READ_BUDGET`), or None (not installed, or the file cannot be opened
    by it).

    ``purpose`` keeps apart the readers whose ``records`` are iterated: pybigtools copies a
    reader's block cache into every ``records`` iterator, so those readers must never
    decode ``values`` (which fills it).
    """
    from genozarr.io._handles import once, reuse_signature

    sig = once(("reader signature", path), lambda: reuse_signature(path))
    key = (os.getpid(), threading.get_ident(), path, purpose)
    with _pbt_lock:
        entry = _pbt_cache.get(key)
        if entry is not None and entry[0] == sig:
            entry[2] += 1
            if entry[2] <= max(4, PYBIGTOOLS_READ_BUDGET // len(_pbt_cache)):
                _pbt_cache.move_to_end(key)
                return entry[1]
    try:
        import pybigtools

        reader = pybigtools.open(path)
    except BaseException as e:  # pyo3 panics derive from BaseException
        if _fatal(e):
            raise
        log.debug("pybigtools cannot open %s (%s); pyBigWig reads it", path, e)
        reader = None
    with _pbt_lock:
        _pbt_cache[key] = [sig, reader, 1]
        _pbt_cache.move_to_end(key)
        while len(_pbt_cache) > PYBIGTOOLS_MAX_OPEN:
            _pbt_cache.popitem(last=False)
    return reader


def _file_info(path: str | os.PathLike, local: str) -> tuple[Any, dict[str, int]]:
    """``(signature, {chrom: length})`` of a BigWig (``local``: the file read for
    ``path``), cached per file and re-read when it changed; the first read opens it with
    :func:`genozarr.io._handles.get_handle`, which reports a missing or unreadable file or
    one that is not a BigWig."""
    from genozarr.io._handles import file_signature, get_handle, once, reuse_signature

    sig = once(("signature", local), lambda: file_signature(local))
    # (unequal to sig where the file changed lately: its sizes are read again)
    fresh = once(("reader signature", local), lambda: reuse_signature(local))
    with _info_lock:
        entry = _info_cache.get(local)
        if entry is not None and sig is not None and entry[0] == sig and fresh == sig:
            _info_cache.move_to_end(local)
            return entry
    bw = get_handle("bigwig", os.fspath(path))
    entry = (file_signature(local), {str(k): int(v) for k, v in bw.chroms().items()})
    with _info_lock:
        _info_cache[local] = entry
        _info_cache.move_to_end(local)
        while len(_info_cache) > _INFO_MAX:
            _info_cache.popitem(last=False)
    return entry


def bigwig_chrom_sizes(path: str | os.PathLike) -> dict[str, int]:
    """Chromosome sizes from a BigWig header.

    Parameters
    ----------
    path
        BigWig file (or URL, read through its local copy).

    Returns
    -------
    dict
        ``{chrom: length}``, in the order of the file.
    """
    from genozarr.io._remote import localize

    return dict(_file_info(path, localize(os.fspath(path), "bigwig"))[1])


def _window_values(path: str, chrom: str, start: int, end: int,
                   check: tuple[str, Any, str] | None = None) -> np.ndarray | None:
    """float32 values of ``[start, end)`` (inside the chromosome) by pybigtools, NaN where
    there is no data; None where pybigtools cannot read them, or (``check``: the key of
    the file's chromosome, while fewer than :data:`OVERLAP_CHECKS` of its windows were
    checked) where records overlap in the window."""
    reader = _pybigtools_reader(path)
    if reader is None:
        return None
    try:
        values = reader.values(chrom, start, end, fillna=None)
        # pybigtools adds up the records overlapping a base (a fixedStep section of span
        # > step), where pyBigWig takes the last one: the sum of a base's values equals
        # both their mean and their maximum only where one record covers it, or where
        # every record covering it holds 0 (the mean alone misses values that cancel,
        # 1 and -1; the maximum alone misses a 0 beside another value)
        summaries = [] if check is None else [
            reader.values(chrom, start, end, bins=end - start, summary=summary, exact=True,
                          fillna=None) for summary in ("mean", "max")]
    except BaseException as e:  # pyBigWig reads it and reports the error
        if _fatal(e):
            raise
        return None
    if check is not None:
        clean = all(np.array_equal(values, other, equal_nan=True) for other in summaries)
        with _info_lock:
            if len(_overlapping) >= _DENSE_MAX or len(_checked) >= _DENSE_MAX:
                _overlapping.clear()
                _checked.clear()
            if clean:  # (a window without data shows no overlap: it is no check)
                if not np.isnan(values).all():
                    _checked[check] = _checked.get(check, 0) + 1
            else:  # this chromosome of the file is read by pyBigWig from now on
                _overlapping[check] = None
        if not clean:
            return None
    return values.astype(np.float32)


def _records_values(path: str, chrom: str, lo: int, hi: int, budget: int,
                    fill: float) -> np.ndarray | None:
    """float32 values of ``[lo, hi)`` (inside the chromosome) painted from the records of
    the file, ``fill`` where there is none; None where the interval holds more than
    ``budget`` records (only ``budget + 1`` are decoded), where they overlap each other, or
    where pybigtools cannot read them."""
    reader = _pybigtools_reader(path, "records")
    if reader is None:
        return None
    try:
        records = list(itertools.islice(reader.records(chrom, lo, hi), budget + 1))
    except BaseException as e:
        if _fatal(e):
            raise
        return None
    if len(records) > budget:
        return None
    n = hi - lo
    if not records:
        return np.full(n, fill, dtype=np.float32)
    s_, e_, v_ = zip(*records)
    starts = np.maximum(np.array(s_, dtype=np.int64), lo)
    ends = np.minimum(np.array(e_, dtype=np.int64), hi)
    values = np.array(v_, dtype=np.float64).astype(np.float32)
    keep = ends > starts
    if not keep.all():
        starts, ends, values = starts[keep], ends[keep], values[keep]
        if not starts.size:
            return np.full(n, fill, dtype=np.float32)
    if (starts[1:] < ends[:-1]).any():  # overlapping or unsorted: pyBigWig decides
        return None
    if fill == 0:
        nan_to_zero(values)  # a stored NaN reads as 0 with nan_to_num too
    # runs: gap, record, gap, record, ..., record, gap; one repeat paints them all
    m = starts.size
    lengths = np.empty(2 * m + 1, dtype=np.int64)
    runs = np.full(2 * m + 1, fill, dtype=np.float32)
    lengths[1::2] = ends - starts
    runs[1::2] = values
    lengths[0] = starts[0] - lo
    lengths[2:-1:2] = starts[1:] - ends[:-1]
    lengths[-1] = hi - ends[-1]
    return np.repeat(runs, lengths)


def _pybigwig_values(path: str | os.PathLike, chrom: str, lo: int, hi: int) -> np.ndarray:
    """float32 values of ``[lo, hi)`` (inside the chromosome) by pyBigWig, NaN where there
    is no data."""
    from genozarr.io._handles import get_handle

    bw = get_handle("bigwig", os.fspath(path))
    try:
        # values(numpy=True) decodes straight into a float32 array (NaN: no data)
        out = bw.values(chrom, lo, hi, numpy=True)
    except RuntimeError as e:  # pyBigWig's only signal of a corrupt or truncated data block
        raise MalformedFileError(
            f"{path}: cannot decode {chrom}:{lo}-{hi}; the BigWig file is truncated or "
            f"corrupt ({e})") from e
    if out.shape != (hi - lo,):
        if out.size == 0 and not bw.intervals(chrom, lo, hi):
            # a file of no data at all (an empty track): pyBigWig reads nothing, not NaN
            # (its header() would say so, but crashes on some files)
            return np.full(hi - lo, np.nan, dtype=np.float32)
        raise MalformedFileError(
            f"{path}: {chrom}:{lo}-{hi} decodes to {out.size} values, not {hi - lo}; the "
            "BigWig file is corrupt")
    return out if out.dtype == np.float32 else out.astype(np.float32)


#: chromosomes of this length or more are read by pyBigWig: pybigtools 0.3's ``values``
#: read every base of such a chromosome as missing data (NaN), which served 0 (its
#: ``records`` read them)
PYBIGTOOLS_VALUES_MAX_LENGTH = 2**31


def _decode(path: str | os.PathLike, local: str, sig: Any, chrom: str, lo: int, hi: int,
            fill: float, length: int) -> tuple[np.ndarray, bool]:
    """Values of ``[lo, hi)`` (non-empty, inside the chromosome of ``length`` bases) and
    whether missing data already reads as ``fill`` (else it is NaN)."""
    if hi - lo <= WINDOW_MAX_BASES and (local, sig, chrom) not in _overlapping \
            and length < PYBIGTOOLS_VALUES_MAX_LENGTH:
        # a short window (partial layout): pybigtools reads only the blocks it overlaps;
        # the first windows of a chromosome are checked for overlapping records
        key = (local, sig, chrom)
        check = key if _checked.get(key, 0) < OVERLAP_CHECKS else None
        out = _window_values(local, chrom, lo, hi, check)
        if out is not None:
            return out, False
    elif RECORD_SPAN_MIN > 0:
        key = (local, sig, chrom, RECORD_SPAN_MIN)
        if key not in _dense:
            out = _records_values(local, chrom, lo, hi, (hi - lo) // RECORD_SPAN_MIN, fill)
            if out is not None:
                return out, True
            with _info_lock:
                if len(_dense) >= _DENSE_MAX:
                    _dense.clear()
                _dense[key] = None
            log.debug("%s: %s has more than one record per %d bases; read with pyBigWig",
                      path, chrom, RECORD_SPAN_MIN)
    return _pybigwig_values(path, chrom, lo, hi), False


def read_values(path: str | os.PathLike, chrom: str, start: int, end: int, *,
                nan_to_num: bool = True, pad: float | None = None) -> np.ndarray:
    """Per-base values of ``[start, end)`` as float32.

    Bases without data (not covered by any interval of the file) are NaN, or 0 with
    ``nan_to_num=True`` (as is a value stored as NaN); so are positions outside the
    chromosome, unless ``pad`` is given. The decoder is chosen per read (see the module
    doc); every decoder gives the same values.

    Parameters
    ----------
    path
        BigWig file (or URL, read through its local copy).
    chrom
        Chromosome name as spelled in the file.
    start, end
        0-based half-open interval; may run past either end of the chromosome.
    nan_to_num
        Replace missing values by 0.
    pad
        The value of positions outside the chromosome (a store's pad value); None: as
        bases without data.

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
    MalformedFileError
        If a data block of the interval cannot be decoded (truncated or corrupt file).
    """
    out, gaps = _values(path, chrom, start, end, 0.0 if nan_to_num else np.nan, pad)
    if nan_to_num and gaps:
        # an integer multiply of the bits (see the kernel): faster than a masked copyto
        # (itself ~7x faster than np.nan_to_num) on the gaps of sparse files
        nan_to_zero(out)
    return out


def read_binned_values(path: str | os.PathLike, chrom: str, start: int, end: int,
                       resolution: int, how: str = "mean") -> np.ndarray:
    """Values of ``[start, end)`` collapsed to bins of ``resolution`` bases, missing data
    counted as 0: the values of ``collapse(read_values(path, chrom, start, end)[:, None,
    None], resolution, how)[:, 0, 0]``.

    On a sparse file (:data:`SUMS_BYTES_PER_BASE`) a sum or a mean is summed per bin from
    the file's records, in float64 (see :data:`BINNED_SUMS`): it may differ from the
    float32 collapse of the decoded values in the last bits, being the exact sum rounded
    once, and a mean whose float32 sum would overflow (values near float32's largest)
    stays finite. Otherwise (a denser file, max, min, records that overlap, or where pybigtools
    cannot read the file) the gaps are not replaced base by base first: the bins are
    collapsed as decoded, and only the bins that hold a gap are collapsed again with it
    replaced (see :func:`genozarr._kernels.collapse_nan_as_zero`). Bins that run past
    either end of the chromosome are collapsed from their bases.

    Parameters
    ----------
    path, chrom, start, end
        As :func:`read_values`; ``end - start`` must be a multiple of ``resolution``.
    resolution
        Bases per bin.
    how
        ``'sum'``, ``'mean'``, ``'max'`` or ``'min'``.

    Returns
    -------
    numpy.ndarray
        float32, shape ``((end - start) // resolution,)``.

    Raises
    ------
    ChromosomeNotFoundError, RegionError, MalformedFileError
        As :func:`read_values`.
    ArgumentError
        For a bad ``resolution`` or ``how``, or ``end - start`` not a multiple of
        ``resolution``.
    """
    from genozarr._kernels import _positive_int

    if BINNED_SUMS and how in ("sum", "mean"):
        resolution = _positive_int(resolution, "resolution")
        if resolution > 1 and not (int(end) - int(start)) % resolution:
            out = _binned_sums(path, chrom, int(start), int(end), resolution, how)
            if out is not None:
                return out
    return _binned_per_base(path, chrom, start, end, resolution, how)


def _binned_per_base(path: str | os.PathLike, chrom: str, start: int, end: int,
                     resolution: int, how: str) -> np.ndarray:
    """:func:`read_binned_values` from the decoded values of every base."""
    from genozarr._kernels import collapse, collapse_nan_as_zero

    out, gaps = _values(path, chrom, start, end, 0.0)
    values = out.reshape(-1, 1, 1)
    if gaps:
        return collapse_nan_as_zero(values, resolution, how)[:, 0, 0]
    return collapse(values, resolution, how)[:, 0, 0]


def _binned_sums(path: str | os.PathLike, chrom: str, start: int, end: int,
                 resolution: int, how: str) -> np.ndarray | None:
    """Sums (``how='sum'``) or means (``'mean'``) of the bins of ``[start, end)``, gaps
    counted as 0, from the records of a sparse file (:data:`SUMS_BYTES_PER_BASE`), in
    float64 (the bins running past an end of the chromosome from their bases); None for a
    denser file, where records overlap (pyBigWig's values then decide which one a base
    reads), or where pybigtools cannot read them."""
    local, sig, sizes = _locate(path, chrom, start, end)
    lo, hi = max(start, 0), min(end, sizes[chrom])
    # the bins wholly inside the chromosome: [a, b)
    a = start + -(-(lo - start) // resolution) * resolution
    b = start + (hi - start) // resolution * resolution
    if b <= a:
        return None
    key = (local, sig, SUMS_BYTES_PER_BASE)
    if _summable.get(key) is False:
        return None  # (known without opening a reader)
    if (local, sig, chrom) in _overlapping:
        return None
    reader = _pybigtools_reader(local, "records")
    if reader is None or not _sparse_file(reader, key, sizes):
        return None
    try:
        sums = _sum_records(reader.records(chrom, a, b), a, (b - a) // resolution,
                            resolution)
    except BaseException as e:  # the per-base path reads it and reports the error
        if _fatal(e):
            raise
        return None
    if sums is None:  # overlapping records: every later read of them goes base by base
        with _info_lock:
            if len(_overlapping) >= _DENSE_MAX:
                _overlapping.clear()
            _overlapping[(local, sig, chrom)] = None
        return None
    if how == "mean":
        sums /= resolution
    with np.errstate(over="ignore"):  # a sum past float32's range is inf, as base by base
        out = sums.astype(np.float32)
    if a == start and b == end:
        return out
    parts = [_binned_per_base(path, chrom, start, a, resolution, how)] if a > start else []
    parts.append(out)
    if b < end:
        parts.append(_binned_per_base(path, chrom, b, end, resolution, how))
    return np.concatenate(parts)


#: records summed at once by :func:`_sum_records` (bounds the memory of a read)
_RECORDS_BATCH = 1 << 16
_RECORD = np.dtype([("start", np.int64), ("end", np.int64), ("value", np.float64)])


def _sum_records(records: Any, a: int, n: int, resolution: int) -> np.ndarray | None:
    """float64 sums of the ``n`` bins of ``resolution`` bases from ``a`` of the values of
    ``records`` (``(start, end, value)``, sorted), gaps as 0 and a value stored as NaN as 0
    (as read base by base); None where two records overlap."""
    sums = np.zeros(n, dtype=np.float64)
    b = a + n * resolution
    done = a  # the end of the records summed so far
    while True:
        batch = np.fromiter(itertools.islice(records, _RECORDS_BATCH), dtype=_RECORD)
        if not batch.size:
            return sums
        starts = np.maximum(batch["start"], a)
        ends = np.minimum(batch["end"], b)
        keep = ends > starts
        if not keep.all():
            starts, ends, batch = starts[keep], ends[keep], batch[keep]
            if not starts.size:
                continue
        if starts[0] < done or (starts[1:] < ends[:-1]).any():
            return None
        done = int(ends[-1])
        values = batch["value"]
        values[np.isnan(values)] = 0.0
        starts -= a
        ends -= a
        first, last = starts // resolution, (ends - 1) // resolution
        one = first == last  # a record inside one bin
        sums += np.bincount(first[one], weights=values[one] * (ends[one] - starts[one]),
                            minlength=n)
        if one.all():
            continue
        s, e, v, f, l = (x[~one] for x in (starts, ends, values, first, last))
        # a record over several bins (records do not overlap: each bin is added to
        # once per record, and the bins wholly covered by a record by it only)
        np.add.at(sums, f, v * ((f + 1) * resolution - s))
        np.add.at(sums, l, v * (e - l * resolution))
        inner = l - f - 1
        if inner.any():
            k = int(inner.sum())
            idx = np.repeat(f + 1 - np.cumsum(np.r_[0, inner[:-1]]), inner) + np.arange(k)
            sums[idx] += np.repeat(v, inner) * resolution


def _sparse_file(reader: Any, key: tuple[str, Any, float], sizes: dict[str, int]) -> bool:
    """Whether a file (``key``: its local path, signature and the threshold; ``sizes``:
    its chromosomes) is sparse enough that bins are summed from its records
    (:data:`SUMS_BYTES_PER_BASE`), from the size of its data in its header; found once per
    file (version), so a file is always read the same way."""
    ok = _summable.get(key)
    if ok is None:
        try:
            density = int(reader.info()["primaryDataSize"]) / max(1, sum(sizes.values()))
        except BaseException as e:  # pybigtools cannot tell
            if _fatal(e):
                raise
            density = float("inf")
        ok = density <= SUMS_BYTES_PER_BASE
        with _info_lock:
            if len(_summable) >= _INFO_MAX:
                _summable.clear()
            _summable[key] = ok
    return ok


def _locate(path: str | os.PathLike, chrom: str, start: int,
            end: int) -> tuple[str, Any, dict[str, int]]:
    """``(local file, its signature, its chromosome sizes)`` for a read of ``[start, end)``
    of ``chrom``, after the checks every read makes (see :func:`read_values`' Raises)."""
    from genozarr.genome import check_chrom_name, check_span
    from genozarr.io._remote import localize

    if end < start:
        raise RegionError(f"{path}: interval {chrom}:{start}-{end} has start > end")
    check_chrom_name(chrom, str(path))  # pyBigWig would cut a name at a NUL byte
    local = localize(os.fspath(path), "bigwig")
    sig, sizes = _file_info(path, local)
    length = sizes.get(chrom)
    if length is None:
        raise ChromosomeNotFoundError(
            f"{path}: chromosome {chrom!r} not found; the file has {list(sizes)[:10]}")
    check_span(chrom, start, end, length, str(path))
    return local, sig, sizes


def _values(path: str | os.PathLike, chrom: str, start: int, end: int,
            fill: float, pad: float | None = None) -> tuple[np.ndarray, bool]:
    """float32 values of ``[start, end)``, ``fill`` in the gaps (or NaN there where the
    second item is True) and outside the chromosome, unless ``pad`` is given for there
    (see :func:`read_values`)."""
    local, sig, sizes = _locate(path, chrom, start, end)
    lo, hi = max(int(start), 0), min(int(end), sizes[chrom])
    outside = fill if pad is None else pad
    if hi <= lo:
        return np.full(int(end) - int(start), outside, dtype=np.float32), False
    out, filled = _decode(path, local, sig, chrom, lo, hi, fill, sizes[chrom])
    if lo > start or hi < end:  # padding outside the chromosome
        padded = np.full(int(end) - int(start), outside, dtype=np.float32)
        padded[lo - start:hi - start] = out
        out = padded
    return out, not filled and not np.isnan(fill)

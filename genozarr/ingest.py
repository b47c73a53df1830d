"""Ingest: regions + a source reader -> a store, as independent chunk-aligned dask tasks.

Each task covers one block (a chromosome block in the whole-genome layout, a block of
rows in the partial layout) aligned to the zarr chunks, opens its own file handles, reads
every input file (condition) of the block, collapses it to the resolution and writes whole
chunks of its own, so no two tasks write one chunk and memory stays bounded by the block
size whatever the genome size. The same task graph runs on dask's local schedulers and on
a ``dask.distributed`` cluster.
"""

from __future__ import annotations

import functools
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from genozarr.errors import ArgumentError, InputFileError, RegionError, get_logger
from genozarr.genome import chrom_mapping
from genozarr.regions import GenomicIndexer
from genozarr.store._run import planned_workers, shutdown_pool
from genozarr.store.dtypes import fit_problem, store_dtype
from genozarr.store.handle import Store
from genozarr.store.layout import DATA, StoreMeta, array_path, plan_layout

__all__ = ["Source", "build_store", "shutdown_pool"]

log = get_logger(__name__)


def input_state(paths: Sequence[str]) -> tuple[tuple[str, Any], ...]:
    """``(path, signature)`` of local files now
    (``genozarr.io._handles.file_signature``): what :attr:`Source.input_state` holds.

    Parameters
    ----------
    paths
        Local files.

    Returns
    -------
    tuple
    """
    from genozarr.io._handles import file_signature

    return tuple((str(p), file_signature(str(p))) for p in paths)


class Source(ABC):
    """Base class of data sources: reads one block of every file at base resolution.

    Subclasses set ``files``, ``conditions``, ``strands``, ``dtype``, ``pad_value``,
    ``collapser`` and implement :meth:`read_file` and :meth:`file_chrom_sizes`. Instances
    must pickle cheaply (paths and options only): ingest tasks run in other processes.
    """

    kind = "coverage"
    files: list[str]
    conditions: list[str]
    strands: list[str] = ["."]
    dtype: str = "float32"
    pad_value: float = 0
    collapser: str | Callable[..., Any] = "sum"
    chrom_names: list[dict[str, str]]  # per file: region chrom -> file chrom
    #: bytes per value of the per-base blocks :meth:`read_file` returns (float32 decodes;
    #: 1 for sequence codes): bounds the memory of a whole-genome task's reads
    read_itemsize: int = 4
    #: whether base ``p`` of a read is position ``p`` of the inputs (False: a personal
    #: genome, whose windows follow a haplotype through its insertions and deletions)
    positional: bool = True
    #: windows of a partial-layout task at most this many bases apart are read as one
    #: span (None: :data:`_MERGE_GAP`); a source whose fetches cost more than the bases
    #: between them sets a larger one (BAM: from its reads' density)
    merge_gap: int | None = None
    #: whether :meth:`read_binned` bins as it reads, holding no per-base values (BAM read
    #: counts): a whole-genome read then spans as many bins as its binned values allow
    bins_while_reading: bool = False
    #: ``(path, signature)`` of every local input file as it was when the source was made,
    #: before anything read or hashed it (:meth:`record_inputs`, :meth:`check_inputs`)
    input_state: tuple[tuple[str, Any], ...] = ()

    def record_inputs(self, paths: Sequence[str]) -> None:
        """Take the state (``genozarr.io._handles.file_signature``) of the local input
        files ``paths``, added to :attr:`input_state`; called when the source is made,
        before it reads or hashes them.

        Parameters
        ----------
        paths
            Local files the source reads.
        """
        self.input_state = self.input_state + input_state(paths)

    def check_inputs(self) -> None:
        """Raise where an input file is not in the state :meth:`record_inputs` took: it was
        replaced, rewritten or deleted while the build read it, so the values its tasks
        read (and the content hash of the cache key) may come from two versions of it.
        A build calls this when its tasks are done, before it publishes anything.

        Raises
        ------
        InputFileError
            Naming the file.
        """
        from genozarr.io._handles import file_signature

        for path, signature in self.input_state:
            if file_signature(path) != signature:
                raise InputFileError(
                    f"{path} changed while genozarr read it (replaced, rewritten, deleted, "
                    "or its times or permissions changed during the build): its values "
                    "may come from two versions of the file, so nothing was published. "
                    "Build again once it no longer changes")

    @property
    def merges_windows(self) -> bool:
        """Whether a base's value in :meth:`read_window` is the same whichever window reads
        it, so that nearby windows of a partial-layout task are read as one span and cut
        (not so where a value depends on the window: BED ``minoverlap``, personal
        genomes)."""
        return self.positional and type(self).read_window is Source.read_window

    @abstractmethod
    def file_chrom_sizes(self, i: int) -> dict[str, int]:
        """Chromosome sizes of file ``i`` (from its header or index).

        Parameters
        ----------
        i
            Index of the file in :attr:`files`.

        Returns
        -------
        dict[str, int]
            ``{chrom: length in bases}`` under the file's own chromosome names, in the
            file's order.
        """

    @abstractmethod
    def read_file(self, i: int, chrom: str, start: int, end: int) -> np.ndarray:
        """Values of file ``i`` on ``[start, end)`` of (file) chromosome ``chrom``:
        shape ``(end - start, n_strands, n_channels)``, padded outside the chromosome.

        Parameters
        ----------
        i
            Index of the file in :attr:`files`.
        chrom
            Chromosome as the file names it (see :attr:`chrom_names`).
        start, end
            0-based half-open interval, in bases; it may reach outside the chromosome.

        Returns
        -------
        numpy.ndarray
            Per-base values of shape ``(end - start, n_strands, n_channels)`` (position,
            strand, condition): :attr:`pad_value` outside the chromosome.
        """

    def channels_per_file(self) -> int:
        """Channels (entries of the condition axis) each file contributes to a read.

        Bounds the memory of a whole-genome task's reads; 1 here, more where a file
        gives several conditions (BED category modes).

        Returns
        -------
        int
            1.
        """
        return 1

    def resolve_chroms(self, chroms: list[str], mapping: Any = None) -> None:
        """Match region chromosome names to every file's names (see
        :func:`genozarr.genome.chrom_mapping`).

        Sets :attr:`chrom_names`: per file, ``{region chrom: file chrom}``.

        Parameters
        ----------
        chroms
            Chromosome names of the regions.
        mapping
            None (default): names must match exactly; ``'auto'``: match ``chr1``/``1``
            and ``chrM``/``MT`` twins; a dict: explicit ``{region name: file name}``
            renames.

        Raises
        ------
        ChromosomeNotFoundError
            If a file lacks a chromosome of the regions.
        ChromosomeNamingError
            If names differ only by the ``chr`` prefix and no mapping was given.
        """
        self.chrom_names = [
            chrom_mapping(chroms, self.file_chrom_sizes(i), self.files[i], mapping)
            for i in range(len(self.files))
        ]

    def read_window(self, chrom: str, start: int, end: int, limit: int = 0) -> np.ndarray:
        """One partial-layout window ``[start, end)``: :meth:`read` of it, cut at ``limit``
        (> 0: the chromosome's length as the dataset has it; the caller pads the rest).

        Parameters
        ----------
        chrom
            Region chromosome name.
        start, end
            0-based half-open window, in bases (flank included).
        limit
            The chromosome's length as the dataset has it: the read stops there (but not
            before ``start``); 0 or less: no limit.

        Returns
        -------
        numpy.ndarray
            Shape ``(stop - start, n_strands, n_conditions)``, ``stop = min(end,
            max(start, limit))`` where ``limit > 0``, else ``end``.
        """
        return self.read(chrom, start, _limited_end(start, end, limit))

    def read(self, chrom: str, start: int, end: int) -> np.ndarray:
        """All files on ``[start, end)`` of region chromosome ``chrom``: ``(L, S, C)``.

        Parameters
        ----------
        chrom
            Region chromosome name (mapped to each file's by :attr:`chrom_names`).
        start, end
            0-based half-open interval, in bases.

        Returns
        -------
        numpy.ndarray
            Shape ``(end - start, n_strands, n_conditions)``: the files' channels
            concatenated along the last (condition) axis, in the order of :attr:`files`.
        """
        parts = [self.read_file(i, self.chrom_names[i][chrom], start, end)
                 for i in range(len(self.files))]
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=-1)

    def read_binned(self, chrom: str, start: int, end: int, resolution: int) -> np.ndarray:
        """``read`` collapsed to ``resolution`` (``end - start`` divisible by it).

        Parameters
        ----------
        chrom
            Region chromosome name.
        start, end
            0-based half-open interval, in bases; ``end - start`` a multiple of
            ``resolution``.
        resolution
            Bases per bin; each bin is reduced with :attr:`collapser`.

        Returns
        -------
        numpy.ndarray
            Shape ``((end - start) // resolution, n_strands, n_conditions)``; at
            ``resolution == 1``, :meth:`read` of the interval.
        """
        from genozarr._kernels import collapse

        if resolution == 1:
            return self.read(chrom, start, end)
        if not self.collapses_per_file:  # a source that reads its files together
            return collapse(self.read(chrom, start, end), resolution, self.collapser)
        # each file collapsed on its own, then copied into the joined block: the channels
        # are reduced independently either way, and the per-base values of the files are
        # never held together in one interleaved block (which also made the reduction
        # slower)
        def binned(i: int) -> np.ndarray:
            return self.read_file_binned(i, self.chrom_names[i][chrom], start, end,
                                         resolution)

        first = binned(0)
        if len(self.files) == 1:
            return first
        k = first.shape[-1]
        out = np.empty(first.shape[:-1] + (len(self.files) * k,), dtype=first.dtype)
        out[..., :k] = first
        for i in range(1, len(self.files)):
            out[..., i * k:(i + 1) * k] = binned(i)
        return out

    def read_file_binned(self, i: int, chrom: str, start: int, end: int,
                         resolution: int) -> np.ndarray:
        """:meth:`read_file` collapsed to ``resolution`` (``end - start`` divisible by it):
        shape ``((end - start) // resolution, n_strands, n_channels)``.

        Parameters
        ----------
        i
            Index of the file in :attr:`files`.
        chrom
            Chromosome as the file names it.
        start, end
            0-based half-open interval, in bases; ``end - start`` a multiple of
            ``resolution``.
        resolution
            Bases per bin; each bin is reduced with :attr:`collapser`.

        Returns
        -------
        numpy.ndarray
            Shape ``((end - start) // resolution, n_strands, n_channels)``.
        """
        from genozarr._kernels import collapse

        return collapse(self.read_file(i, chrom, start, end), resolution, self.collapser)

    @property
    def collapses_per_file(self) -> bool:
        """Whether :meth:`read_binned` holds the per-base values of one file at a time
        (collapsing each before reading the next), not of every file at once."""
        return type(self).read is Source.read and type(self).read_binned is Source.read_binned


# ---------------------------------------------------------------------------- tasks
#: decoded bytes one whole-genome task aims at: a few chunks, so that the fixed cost of a
#: task (scheduling, pickling the source, opening the zarr array, one asynchronous zarr
#: write, seeking in the input files) is paid once per several chunks, and zarr encodes
#: the chunks of one write concurrently; memory per task stays bounded by this size
_TASK_BYTES = 8 * 2**20


#: decoded bytes of a partial-layout store whose windows are in no genomic order (a
#: shuffled ROI) up to which the build reads them in genomic order into memory, then writes
#: the store chunk by chunk (larger ones are read by tasks of consecutive rows); the build
#: holds about twice this while it reads (the array, and the tasks' blocks)
_GATHER_BYTES = 128 * 2**20


#: bases of input one whole-genome task covers at most (unless one chunk is longer): keeps
#: enough tasks for every worker at coarse resolutions, where a chunk spans many bases
_TASK_BASES = 16 * 2**20


def _genomic_order(chroms: np.ndarray, starts: np.ndarray) -> np.ndarray | None:
    """The order of windows that sorts them by start within each chromosome, each
    chromosome's windows in one run (the chromosomes in the order they first appear);
    None where the windows are in such an order already."""
    import pandas as pd

    codes = pd.factorize(np.asarray(chroms, dtype=object))[0]
    starts = np.asarray(starts, dtype=np.int64)
    step = np.diff(codes)
    if not (step < 0).any() and not (np.diff(starts)[step == 0] < 0).any():
        return None
    return np.lexsort((starts, codes))


def _chunks_per_task(chunk_bytes: int, chunk_bases: int | None = None) -> int:
    """Whole zarr chunks per whole-genome ingest task (chunks of ``chunk_bytes`` decoded,
    covering ``chunk_bases`` bases of input)."""
    n = max(1, _TASK_BYTES // max(chunk_bytes, 1))
    if chunk_bases:
        n = min(n, max(1, _TASK_BASES // chunk_bases))
    return n


def _window_values(source: Source, chrom: str, start: int, end: int, length: int,
                   resolution: int | None, limit: int = 0) -> np.ndarray:
    """Values of one partial-layout row: data on ``[start, end)`` then padding to
    ``length`` bases, collapsed to the resolution (``None``: one value). ``limit`` (> 0):
    the chromosome's length as the dataset has it (``genomesize``), past which the row is
    padding too, even where a file holds more."""
    return _finish_window(source, source.read_window(chrom, start, end, limit), length,
                          resolution)


def _finish_window(source: Source, data: np.ndarray, length: int,
                   resolution: int | None) -> np.ndarray:
    """A window's data (its bases, up to where the read stopped) padded to ``length`` and
    collapsed to the resolution."""
    from genozarr._kernels import collapse

    if data.shape[0] < length:
        pad = np.full((length - data.shape[0],) + data.shape[1:], source.pad_value,
                      dtype=data.dtype)
        data = np.concatenate([data, pad], axis=0)
    if resolution is None:
        return collapse(data, data.shape[0], source.collapser) if data.shape[0] else \
            np.zeros((1,) + data.shape[1:], dtype=data.dtype)
    return data if resolution == 1 else collapse(data, resolution, source.collapser)


#: decoded bytes of the windows :func:`_finish_windows` gathers and collapses at once
_FINISH_BYTES = 4 * 2**20


def _finish_windows(source: Source, data: np.ndarray, lo: int, members: list[int],
                    starts: np.ndarray, ends: np.ndarray, length: int | None,
                    resolution: int | None,
                    put: Callable[[np.ndarray, np.ndarray], None]) -> list[int]:
    """:func:`_finish_window` of the windows of a span read from ``lo`` that lie whole in
    ``data`` with the same number of bases, gathered into one array and collapsed in one
    call per group of them (a call per window cost about 25 us, as much as the collapse
    of a 1 kb window: most of a build of many small windows or many files); ``put(rows,
    values)`` stores them. Returns the windows left for :func:`_finish_window` (padded,
    or the only ones of their length)."""
    from genozarr._kernels import collapse

    m = np.asarray(members, dtype=np.int64)
    s = np.asarray(starts, dtype=np.int64)[m]
    e = np.asarray(ends, dtype=np.int64)[m]
    want = e - s if length is None else np.full(len(m), int(length), dtype=np.int64)
    whole = (e - s == want) & (e - lo <= data.shape[0]) & (want > 0)
    if resolution is not None and resolution > 1:
        whole &= want % resolution == 0
    rest = m[~whole].tolist()
    row_bytes = max(int(np.prod(data.shape[1:], dtype=np.int64)) * data.itemsize, 1)
    for width in np.unique(want[whole]).tolist():
        pick = np.flatnonzero(whole & (want == width))
        if len(pick) < 2:
            rest.extend(m[pick].tolist())
            continue
        step = max(1, _FINISH_BYTES // (width * row_bytes))
        for g in range(0, len(pick), step):
            group = pick[g:g + step]
            block = data[(s[group] - lo)[:, None] + np.arange(width)]
            if resolution is None:
                block = collapse(block, width, source.collapser)
            elif resolution != 1:
                block = collapse(block, resolution, source.collapser)
            put(m[group], block)
    return rest


def _cast(values: np.ndarray, dtype: str, source: Source, where: str) -> np.ndarray:
    """``values`` as ``dtype``. A value the dtype cannot hold is an error naming it and the
    inputs (:func:`~genozarr.store.dtypes.fit_problem`), not an infinity or a wrapped
    integer; values that fit are cast as numpy casts them (rounded to the dtype's
    precision, truncated to integers)."""
    target = store_dtype(dtype)
    problem = fit_problem(values, target)
    if problem is not None:
        files = ", ".join(str(f) for f in getattr(source, "files", [])) or "the input"
        raise ArgumentError(
            f"dtype={target.name!r}: the data of {files} at {where} {problem}; choose a wider "
            "dtype (float32, the default) or scale the input")
    with np.errstate(over="ignore"):  # (a value just past the largest rounds to it)
        return values.astype(target, copy=False)


def _rows_task(source: Source, chroms: np.ndarray, starts: np.ndarray, ends: np.ndarray,
               length: int | None, resolution: int | None, dtype: str,
               row0: int | np.ndarray, sizes: Mapping[str, int] | None = None,
               ) -> tuple[str, int | np.ndarray, np.ndarray]:
    """The rows of windows ``[starts, ends)`` of ``chroms``: rows ``row0`` on (an int) or
    the rows ``row0`` (an array, for a build kept in memory only)."""
    from genozarr.io._handles import checks_once

    sizes = sizes or {}
    if _FILE_BY_FILE and len(source.files) > 1 and source.merges_windows \
            and type(source).read is Source.read:
        # a source that reads each file on its own: file after file, each file's spans as
        # long as one file's bases allow (not all files' together), and one file read
        # through before the next, so a handle cache smaller than the number of files is
        # not cycled through at every span (a many-condition build reopened every file at
        # every read past 32 files)
        parts: list[tuple[int | None, Callable[..., np.ndarray]]] = [
            (1, functools.partial(_read_file_window, source, i))
            for i in range(len(source.files))]
    else:
        parts = [(None, source.read_window)]
    out: np.ndarray | None = None

    def put(rows: np.ndarray | list[int], values: np.ndarray, j: int) -> None:
        nonlocal out
        width = values.shape[-1]
        if out is None:
            out = np.empty((len(chroms),) + values.shape[1:-1] + (width * len(parts),),
                           dtype=values.dtype)
        out[rows, ..., j * width:(j + 1) * width] = values

    with checks_once():  # each input file checked on disk at its first window only
        for j, (files, read) in enumerate(parts):
            for members in _window_spans(source, chroms, starts, ends, files=files):
                # nearby windows of one chromosome (or one window): one read of their
                # span, cut per window
                c = str(chroms[members[0]])
                lo = int(min(starts[k] for k in members))
                data = read(c, lo, int(max(ends[k] for k in members)),
                            int(sizes.get(c, 0) or 0))
                rest = members
                if len(members) > 1:
                    rest = _finish_windows(source, data, lo, members, starts, ends, length,
                                           resolution, lambda rows, v, j=j: put(rows, v, j))
                for k in rest:
                    s, e = int(starts[k]), int(ends[k])
                    row = _finish_window(source, data[s - lo:e - lo],
                                         int(length if length is not None else e - s),
                                         resolution)
                    put([k], row[None], j)
    assert out is not None  # (a task has windows)
    try:
        return DATA, row0, _cast(out, dtype, source, "these windows")
    except ArgumentError:  # name the first window the dtype cannot hold
        k = next(k for k in range(len(out))
                 if fit_problem(out[k], store_dtype(dtype)) is not None)
        row = row0 + k if np.ndim(row0) == 0 else row0[k]
        _cast(out[k], dtype, source,
              f"{chroms[k]}:{int(starts[k])}-{int(ends[k])} (window {int(row)})")
        raise


def _read_file_window(source: Source, i: int, chrom: str, start: int, end: int,
                      limit: int = 0) -> np.ndarray:
    """:meth:`Source.read_window` of file ``i`` alone."""
    return source.read_file(i, source.chrom_names[i][chrom], start,
                            _limited_end(start, end, limit))


def _limited_end(start: int, end: int, limit: int) -> int:
    """Where a read of ``[start, end)`` stops: at ``limit`` (> 0: the chromosome's length
    as the dataset has it), past which a window is padding."""
    return min(end, max(start, limit)) if limit > 0 else end


#: windows of a partial-layout task closer than this many bases are read as one span
_MERGE_GAP = 4096


#: partial-layout tasks of several files read them file after file where the source reads
#: them one by one (False: all files span by span, as before; tests and benchmarks)
_FILE_BY_FILE = True


def _window_spans(source: Source, chroms: np.ndarray, starts: np.ndarray,
                  ends: np.ndarray, files: int | None = None) -> list[list[int]]:
    """The task's windows (indices) grouped into spans read at once: by chromosome and
    start, a window joins the span before it where it starts at most
    :attr:`Source.merge_gap` (default :data:`_MERGE_GAP`) bases after the span's end and
    the span stays within the bases one whole-genome read holds (:data:`_READ_BYTES`);
    every window by itself for a source whose values depend on the window
    (:attr:`Source.merges_windows`)."""
    if len(chroms) < 2 or not source.merges_windows:
        return [[k] for k in range(len(chroms))]
    most = _read_step(source, 1, files)
    # a negative _MERGE_GAP reads every window by itself, whatever the source's gap (the
    # baseline of benchmarks/partial_windows.py, and tests)
    gap = _MERGE_GAP if source.merge_gap is None or _MERGE_GAP < 0 else source.merge_gap
    order = np.lexsort((np.asarray(starts), np.asarray(chroms, dtype=str)))
    spans: list[list[int]] = []
    chrom, lo, hi = None, 0, 0
    for k in order.tolist():
        c, s, e = chroms[k], int(starts[k]), int(ends[k])
        if c == chrom and s <= hi + gap and max(hi, e) - lo <= most:
            spans[-1].append(k)
            hi = max(hi, e)
        else:
            spans.append([k])
            chrom, lo, hi = c, s, e
    return spans


#: bytes of per-base values (bases x strands x input channels) one read of a whole-genome
#: task holds at most before collapsing them to the resolution: those of every input file
#: (a source that reads its files together, and every source at 1 bp), or of one file
#: (:attr:`Source.collapses_per_file`). A read covers fewer bases the more files it holds
#: at once, and memory stays flat in the number of files (4 Mi float32 values; a sequence
#: task of 8 Mi one-byte codes is one read, not two)
_READ_BYTES = 16 * 2**20


def _read_step(source: Source, resolution: int, files: int | None = None) -> int:
    """Bins of ``resolution`` one read of a whole-genome task covers (``files``: of that
    many of the source's files at once; default: all, or one where each file is collapsed
    on its own): :data:`_READ_BYTES` of per-base values, or for a source that bins as it
    reads (:attr:`Source.bins_while_reading`) of binned values of all its files and of
    per-base values of one file."""
    try:
        per_file = source.channels_per_file() * len(source.strands)
        if files is None:
            files = 1 if resolution > 1 and source.collapses_per_file else len(source.files)
    except (AttributeError, TypeError):  # a source without files: count one channel
        per_file, files = 1, 1
    width = max(files * per_file, 1)
    itemsize = max(int(getattr(source, "read_itemsize", 4)), 1)
    if resolution > 1 and getattr(source, "bins_while_reading", False):
        # one value per bin is held, not per base; what a file's scan holds per read is
        # bounded as a per-base block of that file would be (80 BAMs at 50 bp were read in
        # steps 80 times shorter, each reopening every file past the handle cache's 32)
        return max(1, min(_READ_BYTES // (width * itemsize),
                          _READ_BYTES // (resolution * max(per_file, 1) * itemsize)))
    return max(1, _READ_BYTES // (resolution * width * itemsize))


def _genome_task(source: Source, chrom: str, b0: int, b1: int, resolution: int,
                 dtype: str, length: int | None = None) -> tuple[str, int, np.ndarray]:
    """Bins ``[b0, b1)`` of chromosome ``chrom`` (``length`` bases: the dataset's, where a
    last bin runs past it)."""
    if length is None or b1 * resolution <= length:
        return array_path(chrom), b0, _genome_block(source, chrom, b0, b1, resolution, dtype)
    # the chromosome's last bin, partial, is read as a partial-layout row: the data up to
    # the chromosome's end, then padding. read_binned would read past the end what a source
    # holds there (a BED feature running past it, a file whose chromosome is longer than
    # genomesize says), and a BED source's minoverlap counts those bases as uncovered
    start = (b1 - 1) * resolution
    last = _cast(_window_values(source, chrom, start, b1 * resolution, resolution,
                                resolution, limit=length), dtype, source,
                 f"{chrom}:{start}-{length}")
    if b1 - 1 == b0:
        return array_path(chrom), b0, last
    head = _genome_block(source, chrom, b0, b1 - 1, resolution, dtype)
    return array_path(chrom), b0, np.concatenate([head, last])


def _genome_tasks(source: Source, parts: list[tuple[str, int, int, int]], resolution: int,
                  dtype: str) -> list[tuple[str, int, np.ndarray]]:
    """Several small whole-genome tasks in one: :func:`_genome_task` of each ``(chrom, b0,
    b1, length)`` in ``parts`` (whole contigs of a genome of many), its input files checked
    on disk once."""
    from genozarr.io._handles import checks_once

    with checks_once():
        return [_genome_task(source, chrom, b0, b1, resolution, dtype, length)
                for chrom, b0, b1, length in parts]


def _group_small(sized: list[tuple[int, tuple[Callable[..., Any], tuple[Any, ...]]]],
                 budget: int, row_bytes: int, source: Source, resolution: int,
                 dtype: str) -> list[tuple[Callable[..., Any], tuple[Any, ...]]]:
    """The tasks of ``sized`` (``(bins, task)``, largest first), those of fewer bins
    joined into tasks of up to ``budget`` bytes each (:func:`_genome_tasks`).

    A genome of thousands of contigs has a task per contig, each of a few kb: scheduling,
    sending and starting a task costs more than reading such a contig. Joined, they keep
    at least as many tasks as a build of the same bytes in large chromosomes would have
    (four or more where there is data for them)."""
    total = sum(bins for bins, _ in sized) * row_bytes
    budget = max(row_bytes, min(budget, total // 4))
    out: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []
    group: list[tuple[str, int, int, int]] = []
    held = 0
    for bins, task in sized:
        fn, args = task
        if bins * row_bytes * 2 > budget or fn is not _genome_task:
            out.append(task)
            continue
        if group and held + bins * row_bytes > budget:
            out.append((_genome_tasks, (source, group, resolution, dtype)))
            group, held = [], 0
        _, chrom, b0, b1, _, _, length = args
        group.append((chrom, b0, b1, length))
        held += bins * row_bytes
    if len(group) == 1:
        chrom, b0, b1, length = group[0]
        out.append((_genome_task, (source, chrom, b0, b1, resolution, dtype, length)))
    elif group:
        out.append((_genome_tasks, (source, group, resolution, dtype)))
    return out


def _genome_block(source: Source, chrom: str, b0: int, b1: int, resolution: int,
                  dtype: str) -> np.ndarray:
    """Bins ``[b0, b1)`` of ``chrom`` read with ``source.read_binned``, as ``dtype``."""
    step = _read_step(source, resolution)
    if b1 - b0 <= step:
        out = source.read_binned(chrom, b0 * resolution, b1 * resolution, resolution)
        return _cast(out, dtype, source, f"{chrom}:{b0 * resolution}-{b1 * resolution}")
    # read and collapse in sub-blocks, so that memory stays bounded, each copied into the
    # task's block as it is read
    out = None
    for s in range(b0, b1, step):
        e = min(s + step, b1)
        values = source.read_binned(chrom, s * resolution, e * resolution, resolution)
        if out is None:
            out = np.empty((b1 - b0,) + values.shape[1:], dtype=store_dtype(dtype))
        out[s - b0:e - b0] = _cast(values, dtype, source,
                                   f"{chrom}:{s * resolution}-{e * resolution}")
    return out


# ---------------------------------------------------------------------------- build
def build_store(
    source: Source,
    gindexer: GenomicIndexer | None,
    *,
    name: str,
    whole_genome: bool,
    resolution: int | None,
    chroms: Mapping[str, int],
    storage: str,
    path: str | None,
    cache_key: str | None = None,
    storage_options: dict[str, Any] | None = None,
    recipe: dict[str, Any] | None = None,
    seqtype: str | None = None,
    overwrite: bool = False,
    condition_metadata: dict[str, list[Any]] | None = None,
    keep_same_key: bool = True,
    before_publish: Callable[[Store], dict[str, Any] | None] | None = None,
    limits: Mapping[str, int] | None = None,
) -> Store:
    """Read ``source`` over the indexer's windows (or whole chromosomes) into a store.

    Plans one task per chunk-aligned block and hands the plan to
    :func:`genozarr.store.builder.build`.

    Parameters
    ----------
    source
        The data source (files already matched to the region chromosome names).
    gindexer
        Windows; required for the partial layout, recorded in the whole-genome one.
    name
        Dataset name.
    whole_genome
        Whole-genome layout (a group per chromosome) instead of one row per window.
    resolution
        Bases per stored bin; None for one value per window (partial layout only).
    chroms
        Chromosome lengths (region names) to store in the whole-genome layout; used for
        the store metadata in both layouts.
    storage
        'ndarray', 'sparse' or 'zarr'.
    path
        Store location for 'zarr' (and for cached in-memory stores); None builds in memory.
    cache_key
        Written into the completion marker and the metadata.
    storage_options
        fsspec options for remote stores.
    recipe
        How the dataset was built (see :mod:`genozarr.store.recipe`).
    seqtype
        For sequence stores.
    overwrite
        Replace a published store at ``path`` even if it has the same cache key.
    condition_metadata
        Per-condition metadata (from a sample sheet), stored as coordinates along
        ``condition``.
    keep_same_key
        Keep a store already published at ``path`` with the same cache key (a cached
        build: first writer wins); False replaces it with this build.
    before_publish
        Called with the complete new version before it is published; what it returns is
        set in its recipe (see :func:`genozarr.store.builder.build`).
    limits
        Partial layout: chromosome lengths past which a window is padding, even where the
        files hold more (the lengths the user gave, ``genomesize``).

    Returns
    -------
    Store
    """
    from genozarr.io._remote import recorded_name
    from genozarr.store.builder import BuildPlan, build

    n_s, n_c = len(source.strands), len(source.conditions)
    itemsize = store_dtype(source.dtype).itemsize
    # the work of a build, as parallel_threshold_bases counts it: bases times input files
    # (200 BigWigs over a 15 Mb genome were built in one thread, as one file of 15 Mb)
    n_inputs = max(1, len(getattr(source, "files", None) or ()) or n_c)
    meta = StoreMeta(
        name=name, kind=source.kind, layout="whole_genome" if whole_genome else "partial",
        resolution=resolution,
        binsize=None if gindexer is None else gindexer.binsize,
        stepsize=None if gindexer is None else gindexer.stepsize,
        flank=0 if gindexer is None else gindexer.flank,
        dtype=str(store_dtype(source.dtype)), conditions=list(source.conditions),
        strands=list(source.strands), chroms={k: int(v) for k, v in chroms.items()},
        sources=[recorded_name(f) for f in source.files], cache_key=cache_key,
        seqtype=seqtype,
        pad_value=source.pad_value, recipe=dict(recipe or {}),
        condition_metadata={k: list(v) for k, v in (condition_metadata or {}).items()},
    )
    tasks: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []
    gather = False  # (rows read in any order, gathered in memory: see below)
    table = None
    if whole_genome:
        if resolution is None:
            raise ArgumentError("resolution=None needs store_whole_genome=False")
        windows = None
        if gindexer is not None:
            windows = (gindexer.chrs, gindexer.starts, gindexer.ends, gindexer.strand,
                       gindexer.names)
        specs, coords = plan_layout(meta, windows=windows, runs=resolution == 1)
        sized: list[tuple[int, tuple[Callable[..., Any], tuple[Any, ...]]]] = []
        for chrom, length in chroms.items():
            spec = specs[array_path(chrom)]
            clen = spec.chunks[0]
            step = clen * _chunks_per_task(clen * n_s * n_c * itemsize, clen * resolution)
            for b0 in range(0, spec.shape[0], step):
                b1 = min(b0 + step, spec.shape[0])
                sized.append((b1 - b0, (_genome_task, (source, chrom, b0, b1, resolution,
                                                       meta.dtype, int(length)))))
        # the largest first: a build of a few chromosome-sized tasks (coarse resolutions)
        # then ends with its small ones spread over the workers, not with one large task
        # started last (a stable sort: equal tasks keep the genome's order)
        sized.sort(key=lambda item: -item[0])
        tasks.extend(_group_small(sized, _TASK_BYTES, n_s * n_c * itemsize, source,
                                  resolution, meta.dtype))
        work = int(sum(chroms.values())) * n_inputs
    else:
        assert gindexer is not None
        chrs, starts, ends, strands = gindexer.as_arrays()
        n = len(gindexer)
        if resolution is None:
            length = None
        else:
            if gindexer.binsize is None:
                raise RegionError("windows of different lengths need resolution=None")
            length = gindexer.binsize + 2 * gindexer.flank
            if length % resolution:
                raise ArgumentError(
                    f"window length {length} (binsize {gindexer.binsize} + 2 x flank "
                    f"{gindexer.flank}) is not divisible by resolution {resolution}; choose "
                    "a binsize and flank for which it is"
                )
        table = {"chrom": chrs.astype(object), "start": starts, "end": ends, "strand": strands,
                 **({} if gindexer.names is None else {"name": gindexer.names})}
        specs, coords = plan_layout(meta, n_regions=n, region_table=table,
                                    runs=resolution == 1)
        clen = specs[DATA].chunks[0]
        # several chunks of rows per task, as in the whole genome (nearby windows of a
        # task are read as one span, and regions in no order are denser per task), but at
        # least about four tasks where there are chunks for them
        row_bytes = math.prod(specs[DATA].shape[1:]) * itemsize
        n_chunks = -(-n // clen)
        per_task = min(_chunks_per_task(clen * row_bytes), max(1, n_chunks // 4))
        # windows in no genomic order (a shuffled ROI): a task of consecutive rows has its
        # windows all over the genome, and the spans it reads (_window_spans) hold the
        # windows of the other tasks too, so every task reads most of the input
        order = _genomic_order(chrs, starts) \
            if source.merges_windows and n_chunks > 1 else None
        gather = order is not None and path is not None and n * row_bytes <= _GATHER_BYTES
        if order is not None and (path is None or gather):
            # tasks of windows in genomic order, whose rows the builder puts back in the
            # regions' order: in memory, or gathered in memory before a store is written
            groups = [order[r0:r0 + clen * per_task] for r0 in range(0, n, clen * per_task)]
        else:
            if order is not None:
                # a store too large to gather: its tasks write whole chunks of consecutive
                # rows, as few tasks as run at once, within the memory a task may hold (80
                # BAMs, 900 shuffled windows: 6 tasks each read the files 1.7x over, 56 ms a
                # file against 36-39 ms for the same windows sorted)
                runs = planned_workers(int((ends - starts).sum()) * n_inputs,
                                       -(-n_chunks // per_task))
                per_task = min(_chunks_per_task(clen * row_bytes),
                               max(per_task, -(-n_chunks // runs)))
            groups = [slice(r0, min(r0 + clen * per_task, n))
                      for r0 in range(0, n, clen * per_task)]
        for rows in groups:
            row0 = rows if isinstance(rows, np.ndarray) else rows.start
            tasks.append((_rows_task, (source, chrs[rows], starts[rows], ends[rows],
                                       length, resolution, meta.dtype, row0, limits)))
        work = int((ends - starts).sum()) * n_inputs
    plan = BuildPlan(meta, specs, coords, table, tasks=tasks, work_bases=work,
                     gather=gather, check_inputs=source.check_inputs)
    return build(plan, storage=storage, path=path, storage_options=storage_options,
                 overwrite=overwrite, label=name, keep_same_key=keep_same_key,
                 before_publish=before_publish)

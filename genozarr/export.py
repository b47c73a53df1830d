"""Export a :class:`~genozarr.dataset.Cover` to BigWig and bedGraph-like BED files.

One file is written per condition (and per strand for two-strand covers) in genomic
orientation: minus-strand windows are written at the bases they describe (Janggu wrote
them reversed). Values are the ones ``cover[i]`` returns (normalizers applied). The files
are written by :mod:`genozarr.io.export`: in a BigWig runs of equal adjacent values become
one entry and NaN (no data) is left out, so a BigWig exported from a Cover built from a
BigWig is about the size of the original; BigWigs carry zoom levels. BED files hold one
line per bin (as Janggu's) unless ``merge=True``, and leave NaN out too.

This module reads a Cover through its public reading interface only
(:meth:`~genozarr.dataset.Dataset.read_genomic`, ``gindexer``, ``resolution``, ``strands``,
``conditions``, ``chrom_sizes``, ``window_bins``, and ``garray.read_bins`` for whole-genome
stores), chromosome by chromosome in bounded blocks, logging progress per chromosome
through :mod:`logging` (logger ``genozarr.export``) and, as ingest does, showing a
progress bar over chromosomes (:mod:`tqdm.auto`) under ``set_options(progress=...)``:
``'auto'`` shows it when stderr is a terminal or in a notebook, False never.

Reading runs ahead of writing: the blocks of up to :func:`_reader_threads` chromosomes are
read in threads (zarr decoding and numpy release the GIL), each a few blocks ahead, while
the calling thread merges runs and writes every file chromosome by chromosome in header
order (a BigWig writer is not thread-safe). pyBigWig holds the GIL while it compresses
entries and writes zoom levels, so an export over chromosomes of :data:`_PROCESS_BASES`
bases or more (all files together), or any export under a file size limit (``ulimit
-f``: libBigWig's failure past it can corrupt the writing process), runs each BigWig's
pyBigWig in a process of its own (``BigWigWriter(..., process=True)``), fed through a
pipe, unless
``set_options(scheduler='sync')`` asks for no processes (or this is a daemon process,
which may not start any).

File names
    ``<name>.<condition>.bigwig`` (``.bed``) for one strand; for two strands
    ``<name>.<condition>.plus.bigwig`` and ``<name>.<condition>.minus.bigwig``. A
    condition name is written with ``%``, path separators, control characters and line
    or paragraph separators percent-encoded (and the dots of ``.`` or ``..``; a file name
    that, with the writer's temporary name, passes 255 bytes is refused), so that every
    condition a Cover accepts has a file of its own in the output directory:
    ``K562/H3K27ac`` gives ``<name>.K562%2FH3K27ac.bigwig``, and
    :func:`urllib.parse.unquote` gives the name back (earlier versions refused names with
    path separators and wrote ``%``, C1 control characters and line separators as they
    were: a condition ``top5%`` is now written ``<name>.top5%25.bigwig``). The
    dataset name is a plain file-name part (the Cover refuses ``/`` in it).
Windows and overlaps
    What is written is the Cover's windows, flank included, sorted by chromosome (in the
    order of the chromosome sizes) and start; the padded tail of a partial last window of
    a region (past its end + flank) and bases outside the chromosome are left out (a bin
    straddling either is cut to it). The chromosome ends there at the smaller of its
    export length (below) and the length the Cover's store records (when it records
    one): an export ``genomesize`` longer than the store's declares the longer chromosome
    in the header but writes nothing past the store's length, in both layouts (a
    whole-genome store holds nothing there, and a partial-layout row's bases there lie
    past the chromosome the Cover was built for). For a whole-genome store the stored
    bins under the windows are written once however the windows overlap; a Cover tiling
    the genome (``roi=None``) thus exports its whole chromosomes, and so does a
    whole-genome store without windows (built with no ``roi`` and no ``binsize``); a view
    or split of no window of a Cover whose windows have a ``binsize`` writes files without
    values (one of windows of their regions' lengths, ``binsize=None``, exports as a Cover
    without windows does). In the
    partial layout (one row per window) overlapping windows carry separate values:
    ``overlap='error'`` (default) raises before any file is written (its message names the
    format being written), ``overlap='mean'`` writes the mean of the
    windows covering a base that have a value there (NaN, no data, is left out of the
    mean; the bins of overlapping windows must then be aligned to each other; a bin a
    region end cuts short is split there).
Missing and infinite values
    NaN values are not written (a BigWig has no NaN; ``pyBigWig.values`` reads them back
    as NaN); the BED files leave them out too. A BigWig holds finite float32 values:
    infinities and values past float32's range raise
    :class:`~genozarr.errors.ArgumentError` naming the file, position and value (clip or
    scale them first), and no file is created or replaced (see
    :mod:`genozarr.io.export`); the BED files are text and write them (``inf``,
    ``-inf``, ``1e+39``).
Input
    A Cover (or a view of one). A wrapper (:mod:`genozarr.wrappers`) transforms the values
    it reads, so it raises :class:`~genozarr.errors.ArgumentError`: build a Cover from its
    values with ``Cover.create_from_array(name, wrapper[:], wrapper.gindexer, ...)``.
Chromosome sizes
    From ``genomesize`` (all of its chromosomes, in its order), else the Cover's store
    metadata (in its order: for a Cover from predictions, see
    :meth:`Cover.create_from_array <genozarr.dataset.Cover.create_from_array>`), with the
    largest window end on each chromosome the store does not record appended. The BigWig
    header lists them in that order, and the files hold the chromosomes in that order.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from genozarr._validate import check_bool
from genozarr.errors import ArgumentError, ChromosomeNotFoundError, get_logger
from genozarr.io.export import (
    BedGraphWriter,
    BigWigWriter,
    add_shared,
    add_shared_bins,
    check_name_length,
    encoded_file_part,
    safe_file_part,
    signals_deferred,
)

__all__ = ["export_to_bigwig", "export_to_bed", "OVERLAP_MODES"]

log = get_logger(__name__)

OVERLAP_MODES = ("error", "mean")
_STRAND_NAMES = {"+": "plus", "-": "minus", ".": "unstranded"}
_BLOCK_BYTES = 64 * 2**20  # values read at a time (float64 equivalent), all threads together
_MAX_THREADS = 4  # reader threads at most
_AHEAD = 2  # blocks a reader thread holds ready at most
#: bases (over all files) from which each BigWig is written by a process of its own
_PROCESS_BASES = 16 * 2**20

# (starts, ends, values (m, strand, condition)) of sorted, non-overlapping entries
Entries = tuple[np.ndarray, np.ndarray, np.ndarray]


class _OverlapError(ArgumentError):
    """Overlapping windows that the ``overlap`` mode cannot write: the message is
    ``parts`` joined by how the caller passes that mode, ``overlap='mean'`` in Python;
    :meth:`naming` words it for another interface (the command line's ``--overlap
    mean``)."""

    def __init__(self, *parts: str) -> None:
        self.parts = parts
        super().__init__(self.naming("overlap='mean'"))

    def naming(self, option: str) -> str:
        """The message with ``option`` as the way to ask for averaged windows."""
        return option.join(self.parts)


class _Bins(NamedTuple):
    """Consecutive bins ``[first + k * span, first + (k + 1) * span)`` cut to ``[lo, hi)``
    and their values ``(bins, strand, condition)``: a whole-genome store's block, kept
    without a start and end per bin (see :func:`genozarr.io.export.add_shared_bins`)."""

    lo: int
    hi: int
    first: int
    span: int
    values: np.ndarray


Block = Entries | _Bins


# ---------------------------------------------------------------------------- names
def _output_paths(cover: Any, output_dir: str | os.PathLike,
                  suffix: str) -> list[tuple[int, int, Path]]:
    """``[(strand index, condition index, path)]``; checks every name."""
    name = safe_file_part(cover.name, "dataset")
    conds = [encoded_file_part(c, "condition") for c in cover.conditions]
    strands = list(cover.strands)
    directory = Path(output_dir)
    if directory.exists() and not directory.is_dir():
        raise ArgumentError(f"output directory {directory} exists and is not a directory")
    root = directory.resolve()
    out = []
    seen: set[Path] = set()
    for ci, cond in enumerate(conds):
        for si, strand in enumerate(strands):
            parts = [name, cond]
            if len(strands) > 1:
                parts.append(_STRAND_NAMES.get(strand, encoded_file_part(strand, "strand")))
            # the name's UTF-8 bytes, as the file system takes them (under an ASCII locale
            # a condition named 'Kä562' was a UnicodeEncodeError; an audit)
            path = directory / os.fsdecode((".".join(parts) + suffix).encode(
                "utf-8", "surrogateescape"))
            check_name_length(path)
            if (root / path.name).resolve().parent != root:
                raise ArgumentError(f"output file {path} would lie outside {directory}")
            if path in seen:
                raise ArgumentError(f"two conditions give the same output file {path}")
            seen.add(path)
            out.append((si, ci, path))
    return out


# ---------------------------------------------------------------------------- plan
def _window_chroms(gi: Any) -> tuple[list[str], np.ndarray]:
    """The chromosome names of the windows of ``gi`` (as text, in order of first
    appearance) and each window's place among them. From the labels' integer codes: a
    text copy of every window's name, sorted (as before), took about 260 bytes and 1 us
    a window (4 GB for the 15.5 M windows of the human genome tiled by 200 bp). The codes
    the indexer found already (:meth:`~genozarr.regions.GenomicIndexer.label_codes`) serve
    where every label is text; the labels alike as text are one name either way."""
    from genozarr._kernels import factorize_labels

    codes, labels = gi.label_codes("chrs")
    if (len(codes) and (codes < 0).any()) or not all(isinstance(c, str) for c in labels):
        # (None, NaN, numbers: named by their text, as str() has it; hashing alone would
        # take 1, 1.0 and True for one label)
        codes, labels = factorize_labels(np.asarray(gi.chrs).astype(str))
    return [str(c) for c in labels], np.asarray(codes, dtype=np.intp)


def _sizes(cover: Any, genomesize: Any, names: list[str], codes: np.ndarray
           ) -> dict[str, int]:
    """The chromosome lengths of an export: ``genomesize``'s, else those the Cover
    records and, for chromosomes it records none of, their windows' last end (``names``
    and ``codes``: :func:`_window_chroms`)."""
    from genozarr.genome import chrom_sizes

    gi = cover.gindexer
    if genomesize is not None:
        sizes = {str(c): int(v) for c, v in chrom_sizes(genomesize).items()}
        missing = [c for c in names if c not in sizes]
        if missing:
            raise ChromosomeNotFoundError(
                f"genomesize has no length for chromosome(s) {missing[:5]} of {cover.name}'s "
                f"windows; it has {list(sizes)[:8]}")
        return sizes
    sizes = {c: v for c, v in cover.chrom_sizes.items() if v}
    if any(c not in sizes for c in names):  # the last window end of each, in one pass
        last = np.full(len(names), np.iinfo(np.int64).min, dtype=np.int64)
        np.maximum.at(last, codes, np.asarray(gi.ends, dtype=np.int64) + gi.flank)
        for k, c in enumerate(names):
            if c not in sizes:
                sizes[c] = int(last[k])
    return sizes


def _data_end(stored_sizes: dict[str, int], chrom: str, size: int) -> int:
    """Where data may be written on ``chrom``: its export length ``size`` cut to the
    length the Cover's store records (``stored_sizes``, its ``chrom_sizes``; none
    recorded: ``size``). Nothing is stored past the store's length in the whole-genome
    layout (``read_bins`` pads there), and in the partial layout the rows' bases there
    lie past the chromosome the Cover was built for, so neither layout writes them,
    whatever ``genomesize`` the export is given."""
    stored = int(stored_sizes.get(chrom, 0) or 0)
    return min(size, stored) if stored > 0 else size


class _Chrom:
    """The windows of one chromosome, sorted, with their data extents ``[lo, hi)``, cut to
    ``[0, size)`` (``size``: see :func:`_data_end`)."""

    def __init__(self, cover: Any, chrom: str, size: int, sel: np.ndarray) -> None:
        gi = cover.gindexer
        wstart = np.asarray(gi.starts)[sel] - gi.flank
        order = np.argsort(wstart, kind="stable")
        sel, wstart = sel[order], wstart[order]
        wend = np.asarray(gi.ends)[sel] + gi.flank
        lo = np.maximum(wstart, 0)
        hi = np.minimum(wend, size)
        keep = hi > lo  # windows wholly outside the chromosome write nothing
        self.chrom, self.size = chrom, size
        self.idx, self.wstart, self.wend = sel[keep], wstart[keep], wend[keep]
        self.lo, self.hi = lo[keep], hi[keep]
        if len(self.lo) > 1:
            prev_end = np.maximum.accumulate(self.hi)[:-1]
            self.clash = self.lo[1:] < prev_end
        else:
            prev_end = np.zeros(0, np.int64)
            self.clash = np.zeros(0, bool)
        self.prev_end = prev_end

    @classmethod
    def whole(cls, chrom: str, size: int) -> _Chrom:
        """A whole chromosome of a whole-genome store without windows (built with no
        ``roi`` and no ``binsize``): one extent, ``[0, size)``."""
        ch = cls.__new__(cls)
        ch.chrom, ch.size = chrom, size
        ch.idx = np.zeros(0, dtype=np.int64)
        ch.wstart, ch.wend = np.array([0]), np.array([size])
        ch.lo, ch.hi = np.array([0]), np.array([size])
        ch.clash, ch.prev_end = np.zeros(0, bool), np.zeros(0, np.int64)
        return ch

    @property
    def overlapping(self) -> bool:
        return bool(self.clash.any())

    def check_overlaps(self, cover: Any, overlap: str, fmt: str,
                       output_dir: str | os.PathLike) -> None:
        """Partial layout: raise for overlapping windows (``'error'``) or for overlapping
        windows whose bins are not aligned (``'mean'``); ``fmt`` names the file format
        being written (``'BigWig'``, ``'BED'``), ``output_dir`` where."""
        if not self.overlapping:
            return
        chrom = self.chrom
        what = f"{cover.name}: cannot write {fmt} files to {output_dir}:"
        if overlap == "error":
            k = int(np.flatnonzero(self.clash)[0]) + 1
            raise _OverlapError(
                f"{what} windows overlap on {chrom} (the window at {chrom}:"
                f"{self.lo[k]}-{self.hi[k]}, flank included, overlaps the previous one ending "
                f"at {int(self.prev_end[k - 1])}); a {fmt} file holds one value per base. "
                "Export non-overlapping windows (stepsize >= binsize + 2 * flank), or pass ",
                " to average the overlapping windows (a Cover whose overlapping windows "
                "agree where they overlap can also be built with store_whole_genome=True)")
        # clusters of windows linked by overlaps must share one bin grid
        cluster = np.cumsum(np.r_[True, ~self.clash])
        first = np.r_[0, np.flatnonzero(cluster[1:] != cluster[:-1]) + 1]
        head = np.repeat(first, np.diff(np.r_[first, len(cluster)]))
        res = cover.resolution
        if res is None:
            bad = (self.lo != self.lo[head]) | (self.hi != self.hi[head])
        else:
            bad = (self.wstart - self.wstart[head]) % res != 0
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise _OverlapError(
                f"{what} windows on {chrom} overlap with bins that are not aligned to "
                f"each other (the window at {chrom}:{self.lo[k]}-{self.hi[k]}), so ",
                " cannot average them; use windows whose starts differ by multiples of the "
                "resolution")


# ---------------------------------------------------------------------------- reading
def _reader_threads() -> int:
    """Threads reading chromosomes ahead of the writer: ``num_workers`` (default: the CPUs
    this process may use), at most :data:`_MAX_THREADS`."""
    from genozarr.store._run import _local_workers

    return max(1, min(_MAX_THREADS, _local_workers()))


def _block_rows(cover: Any, per_row: int) -> int:
    # the blocks of every thread in flight (being read, queued, written) share _BLOCK_BYTES
    cells = max(1, per_row * len(cover.strands) * len(cover.conditions))
    return max(1, _BLOCK_BYTES // ((_AHEAD + 2) * _reader_threads() * 8 * cells))


def _whole_genome_blocks(cover: Any, ch: _Chrom) -> Iterator[Block]:
    """Stored bins under the windows of a whole-genome store, read with
    ``garray.read_bins`` in blocks of bounded size."""
    res = int(cover.resolution)
    if not len(ch.lo):
        return
    # union of the windows' data extents
    new = np.r_[True, ch.lo[1:] > np.maximum.accumulate(ch.hi)[:-1]]
    first = np.flatnonzero(new)
    a = ch.lo[first]
    b = np.maximum.reduceat(ch.hi, first)
    b0, b1 = a // res, -(-b // res)
    block = _block_rows(cover, 1)

    def read(lo_bin: int, hi_bin: int) -> np.ndarray:  # (only read: views where they can)
        return cover.garray.read_bins(ch.chrom, lo_bin, hi_bin, view=True)

    i, n = 0, len(a)
    while i < n:
        if b1[i] - b0[i] > block:  # one long interval: read it piece by piece
            for lo_bin in range(int(b0[i]), int(b1[i]), block):
                hi_bin = min(lo_bin + block, int(b1[i]))
                yield _cut_range(read(lo_bin, hi_bin), lo_bin,
                                 hi_bin, res, int(a[i]), int(b[i]))
            i += 1
            continue
        # several short intervals: one read over them (gaps included) up to a block
        j = i + 1
        while j < n and b1[j] - b0[i] <= block:
            j += 1
        if j == i + 1:  # a single one (a chromosome tiled by the windows): no gather
            yield _cut_range(read(int(b0[i]), int(b1[i])),
                             int(b0[i]), int(b1[i]), res, int(a[i]), int(b[i]))
            i = j
            continue
        span = read(int(b0[i]), int(b1[j - 1]))
        counts = b1[i:j] - b0[i:j]
        bins = np.repeat(b0[i:j] - np.cumsum(np.r_[0, counts[:-1]]), counts) \
            + np.arange(int(counts.sum()), dtype=np.int64)
        yield _cut(span, bins, res, np.repeat(a[i:j], counts), np.repeat(b[i:j], counts),
                   int(b0[i]))
        i = j


def _cut_range(span: np.ndarray, lo_bin: int, hi_bin: int, res: int, lo: int,
               hi: int) -> _Bins:
    """:func:`_cut` of the consecutive bins ``[lo_bin, hi_bin)`` of one interval
    ``[lo, hi)``: the values are ``span`` itself (no gather), only the first and last bin
    can be cut."""
    return _Bins(max(lo_bin * res, lo), min(hi_bin * res, hi), lo_bin * res, res,
                 np.asarray(span))


def _cut(span: np.ndarray, bins: np.ndarray, res: int, lo: Any, hi: Any,
         first_bin: int) -> Entries:
    starts = bins * res
    return (np.maximum(starts, lo), np.minimum(starts + res, hi),
            np.asarray(span)[bins - first_bin])


def _window_blocks(cover: Any, ch: _Chrom, mode: str) -> Iterator[Block]:
    """Bins of the windows read with ``read_genomic`` in batches of windows.

    ``mode``: ``'plain'`` (windows do not overlap), ``'first'`` (overlapping windows hold
    the same values: keep each bin once) or ``'mean'`` (average the windows covering a
    bin; their bins are aligned).
    """
    res = cover.resolution
    nb = max(1, cover.window_bins)
    batch = _block_rows(cover, nb)
    carry: tuple[np.ndarray, ...] | None = None
    n = len(ch.idx)
    for k0 in range(0, n, batch):
        k1 = min(k0 + batch, n)
        x = np.asarray(cover.read_genomic(ch.idx[k0:k1]))  # (k, bins, S, C), genomic
        if res is None:
            bs = ch.wstart[k0:k1, None]
            be = ch.wend[k0:k1, None]
        else:
            bs = ch.wstart[k0:k1, None] + res * np.arange(x.shape[1], dtype=np.int64)
            be = bs + res
        cs = np.maximum(bs, ch.lo[k0:k1, None])
        ce = np.minimum(be, ch.hi[k0:k1, None])
        ok = ce > cs
        s, e, v = cs[ok], ce[ok], x[ok]
        if mode == "plain":
            yield s, e, v
            continue
        if mode == "mean":
            v = v.astype(np.float64)
        if carry is not None:
            s, e, v = (np.concatenate([c, t]) for c, t in zip(carry, (s, e, v)))
        order = np.lexsort((-e, s))  # by start; the longest (uncut) bin first
        s, e, v = s[order], e[order], v[order]
        # bins starting before the next window's data can get no more values; the others
        # wait for the next batch of windows, as they are
        nxt = ch.lo[k1] if k1 < n else np.iinfo(np.int64).max
        done = s < nxt
        carry = (s[~done], e[~done], v[~done])
        s, e, v = s[done], e[done], v[done]
        if not len(s):
            continue
        head = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
        if mode == "mean":
            yield _mean_of_bins(s, e, v, head)
        else:
            yield s[head], np.maximum.reduceat(e, head), v[head]


def _mean_of_bins(s: np.ndarray, e: np.ndarray, v: np.ndarray, head: np.ndarray) -> Block:
    """The mean of the windows' values per bin: bins ``[s, e)`` sorted by start (the
    longest first among equal starts), ``head`` the first of each start. A bin that some
    windows have cut short (a window ending inside it) is split at each cut: each part is
    the mean of the windows that cover it. NaN (no data) is left out of a mean; a bin
    no window has data for stays NaN (not written)."""
    gs, ge = s[head], np.maximum.reduceat(e, head)
    counts = np.diff(np.r_[head, len(s)])
    means = _nanmean_reduceat(v, head)
    ragged = np.flatnonzero(np.minimum.reduceat(e, head) != ge)
    if not ragged.size:
        return gs, ge, means
    keep = np.ones(len(head), dtype=bool)
    keep[ragged] = False
    out_s, out_e, out_v = [gs[keep]], [ge[keep]], [means[keep]]
    for g in ragged.tolist():
        a, b = int(head[g]), int(head[g] + counts[g])
        ends, values = e[a:b], v[a:b]
        lo = int(gs[g])
        for end in np.unique(ends).tolist():  # ascending: the windows past it get fewer
            covering = ends >= end
            out_s.append(np.array([lo]))
            out_e.append(np.array([end]))
            out_v.append(_nanmean_reduceat(values[covering], np.zeros(1, dtype=np.intp)))
            lo = end
    s, e, v = np.concatenate(out_s), np.concatenate(out_e), np.concatenate(out_v)
    order = np.argsort(s, kind="stable")
    return s[order], e[order], v[order]


def _nanmean_reduceat(v: np.ndarray, head: np.ndarray) -> np.ndarray:
    """The mean of ``v`` (float64) over the rows from each of ``head`` to the next,
    NaN left out (NaN where every row is NaN)."""
    known = ~np.isnan(v)
    sums = np.add.reduceat(np.where(known, v, 0.0), head, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / np.add.reduceat(known, head, axis=0, dtype=np.int64)


def _blocks(cover: Any, ch: _Chrom) -> Iterator[Block]:
    whole = bool(cover.garray.whole_genome)
    if whole and cover.resolution is not None and not getattr(cover, "normalizers", None):
        return _whole_genome_blocks(cover, ch)
    if not ch.overlapping:
        return _window_blocks(cover, ch, "plain")
    return _window_blocks(cover, ch, "first" if whole else "mean")


_END = object()


class _Reader:
    """Blocks of each chromosome of ``plan`` read in threads, at most ``threads``
    chromosomes at a time, each at most :data:`_AHEAD` blocks ahead of the consumer, which
    takes them chromosome by chromosome in plan order (:meth:`blocks`)."""

    def __init__(self, cover: Any, plan: list[_Chrom], threads: int) -> None:
        self.cover, self.plan = cover, plan
        self.stop = threading.Event()
        self.slots = threading.Semaphore(threads)
        self.queues: list[queue.Queue[Any]] = [queue.Queue(_AHEAD) for _ in plan]
        self.thread = threading.Thread(target=self._start_all, name="genozarr-export",
                                       daemon=True)
        self.workers: list[threading.Thread] = []
        self.thread.start()

    def _start_all(self) -> None:
        # chromosomes start in plan order as slots free up, so the next to be written
        # is always being read
        for k in range(len(self.plan)):
            while not self.slots.acquire(timeout=0.1):
                if self.stop.is_set():
                    return
            if self.stop.is_set():
                self.slots.release()
                return
            t = threading.Thread(target=self._read, args=(k,), daemon=True,
                                 name=f"genozarr-export-{k}")
            self.workers.append(t)
            t.start()

    def _put(self, k: int, item: Any) -> bool:
        while not self.stop.is_set():
            try:
                self.queues[k].put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _read(self, k: int) -> None:
        from genozarr.store.backend import reading_once

        try:
            with reading_once():  # every bin is read once: the store is not kept for it
                for block in _blocks(self.cover, self.plan[k]):
                    if not self._put(k, block):
                        return
            self._put(k, _END)
        except BaseException as e:  # noqa: BLE001 - raised again in the consumer
            self._put(k, e)
        finally:
            self.slots.release()

    def blocks(self, k: int) -> Iterator[Block]:
        q = self.queues[k]
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        for t in self.workers:
            t.join()


def _progress_bar(total: int, desc: str) -> Any:
    """A tqdm bar over chromosomes, or None under ``progress=False`` (or ``'auto'``
    outside a terminal and a notebook): see :mod:`genozarr._progress`."""
    from genozarr._progress import progress_bar

    return progress_bar(total, desc, unit="chrom", leave=True)


# ---------------------------------------------------------------------------- export
#: what the export reads of a Cover (:func:`_check_cover`)
_COVER_INTERFACE = ("name", "gindexer", "resolution", "strands", "conditions",
                    "chrom_sizes", "window_bins", "read_genomic", "garray")


def _check_cover(cover: Any, output_dir: str | os.PathLike, fmt: str) -> None:
    """Raise for what is not a Cover (or an object with its reading interface). A wrapper
    (:mod:`genozarr.wrappers`) is refused too: it transforms the values it reads (and its
    output need not be a track), so the Cover it wraps does not hold what it serves."""
    from genozarr.wrappers import Wrapper

    kind = getattr(getattr(getattr(cover, "garray", None), "meta", None), "kind", None)
    if kind not in (None, "coverage") and not isinstance(cover, Wrapper):
        raise ArgumentError(
            f"cannot write {fmt} files in {output_dir} from {getattr(cover, 'name', cover)!r}:"
            f" it holds {kind}, and only coverage datasets (genozarr.Cover) export")
    if isinstance(cover, Wrapper) or not all(hasattr(cover, a) for a in _COVER_INTERFACE):
        kind = type(cover).__name__
        what = (f"a {kind} transforms the values it reads, so the Cover it wraps does not "
                "hold what it serves. " if isinstance(cover, Wrapper) else "")
        raise ArgumentError(
            f"cannot write {fmt} files in {output_dir} from a {kind}: export writes a Cover "
            f"(genozarr.Cover); {what}Build a Cover from the values to write with "
            "Cover.create_from_array(name, values, gindexer, genomesize=...), e.g. values = "
            "wrapper[:] (or a model's predictions for its windows) and gindexer = "
            "wrapper.gindexer; values of shape (n, condition), (n, position, condition) or "
            "(n, position, strand, condition)")


def _writer_processes(files: int, any_cpus: bool = False) -> bool:
    """Whether ``files`` BigWig files are written by processes of their own: where there is
    more than one CPU to run them (``num_workers``, else the CPUs this process may use: on
    one, 8 writer processes beside the reader took 1.1-2.2x the time of writing in this
    process; ``any_cpus``: on one too), and at most 8 or twice the CPUs (hundreds of
    processes add nothing but memory; an export of more writes them all in this
    process)."""
    from genozarr.store._run import _local_workers

    cpus = _local_workers()
    return (cpus > 1 or any_cpus) and files <= max(8, 2 * cpus)


def _file_size_limited() -> bool:
    """Whether this process runs under a file size limit (``ulimit -f``,
    ``RLIMIT_FSIZE``). libBigWig can corrupt its heap when a write fails past the limit
    (seen once an audit's export crashed the process), so BigWig files are then written
    by processes of their own, whose failure is reported, whatever their size."""
    try:
        import resource

        return resource.getrlimit(resource.RLIMIT_FSIZE)[0] != resource.RLIM_INFINITY
    except (ImportError, OSError, ValueError):  # (no resource module: Windows)
        return False


#: descriptors this process holds for a writer process (its pipe, its sentinel, slack)
_FDS_PER_PROCESS = 4
#: descriptors kept free for everything else (stores, inputs, the decode threads' reads)
_FDS_SPARE = 64


def _check_open_files(needed: int, fmt: str, output_dir: str | os.PathLike) -> None:
    """Make sure this process may open ``needed`` more files at once for the export's
    writers (all are open until the last chromosome is written): the soft limit is raised
    up to the hard one where it is lower; past the hard limit, an ArgumentError. (pyBigWig
    crashed the process when it could not open a file: a segmentation fault and partial
    files left.)"""
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        in_use = len(os.listdir("/proc/self/fd"))
    except OSError:
        in_use = 0
    want = needed + in_use + _FDS_SPARE
    if soft == resource.RLIM_INFINITY or want <= soft:
        return
    if hard == resource.RLIM_INFINITY or want <= hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
            return
        except (ValueError, OSError):
            pass
    raise ArgumentError(
        f"cannot write {needed} {fmt} files at once in {output_dir}: this process may open "
        f"{hard if hard != resource.RLIM_INFINITY else soft} files at most ({in_use} open "
        "now), and every file of an export stays open until it is complete. Raise the "
        "limit (ulimit -n), or export a Cover of fewer conditions")


def _export(cover: Any, output_dir: str | os.PathLike, genomesize: Any, overlap: str,
            suffix: str, writer_cls: type, merge: bool, skip_zeros: bool = False) -> list[str]:
    if overlap not in OVERLAP_MODES:
        raise ArgumentError(f"overlap must be one of {OVERLAP_MODES}, got {overlap!r}")
    merge = check_bool("merge", merge)  # "no" from a script or spec is not True
    skip_zeros = check_bool("skip_zeros", skip_zeros)
    fmt = "BigWig" if writer_cls is BigWigWriter else "BED"
    from genozarr.io._remote import local_form

    given, output_dir = output_dir, local_form(output_dir)  # a file:// URL: its path
    if "://" in output_dir:
        raise ArgumentError(f"cannot write {fmt} files to {given}: exports are written to a "
                            "local directory (copy them to object storage afterwards)")
    _check_cover(cover, output_dir, fmt)
    targets = _output_paths(cover, output_dir, suffix)
    names, codes = _window_chroms(cover.gindexer)
    sizes = _sizes(cover, genomesize, names, codes)
    # plan and check every chromosome before a file is written
    stored_sizes = cover.chrom_sizes  # (made anew at each call)
    plan = []
    if not len(codes) and cover.garray.whole_genome and cover.gindexer.binsize is None:
        # built without windows (roi=None, no binsize): every stored chromosome (a view or
        # a split of no window of a Cover with windows of a binsize exports no value)
        if getattr(cover, "normalizers", None):
            raise ArgumentError(
                f"{cover.name} is a whole-genome store without windows and with normalizers, "
                "which apply to windows: give it windows (roi, or binsize to tile the "
                "genome) to export its normalized values, or export it without normalizers")
        stored = {c for c, n in stored_sizes.items() if n}
        plan = [_Chrom.whole(c, _data_end(stored_sizes, c, int(n)))
                for c, n in sizes.items() if n and c in stored]
    # each chromosome's windows, in their order (found once: a genome of many contigs)
    order = np.argsort(codes, kind="stable")
    counts = np.bincount(codes, minlength=len(names))
    windows_of = dict(zip(names, np.split(order, np.cumsum(counts)[:-1])))
    for chrom, size in sizes.items():
        sel = windows_of.get(chrom)
        if sel is None or not len(sel):
            continue
        ch = _Chrom(cover, chrom, _data_end(stored_sizes, chrom, int(size)), sel)
        if not cover.garray.whole_genome:
            ch.check_overlaps(cover, overlap, fmt, output_dir)
        plan.append(ch)
    if not sizes:
        raise ArgumentError(
            f"cannot export {cover.name} to {output_dir}: it has no windows and its store "
            "records no chromosome length, so there is nothing to write (pass genomesize to "
            "write files without values)")
    Path(output_dir).mkdir(parents=True, exist_ok=True)
    from genozarr.config import OPTIONS

    extra = {}
    limited = _file_size_limited()
    if writer_cls is BigWigWriter and OPTIONS["scheduler"] != "sync" and \
            (len(targets) * sum(ch.size for ch in plan) >= _PROCESS_BASES or limited) and \
            _writer_processes(len(targets), any_cpus=limited) and \
            not multiprocessing.current_process().daemon:  # a daemon may not have children
        extra["process"] = True
    _check_open_files(len(targets) * (_FDS_PER_PROCESS if extra else 1), fmt, output_dir)
    t0 = time.perf_counter()
    with contextlib.ExitStack() as stack:
        writers = [(si, ci, stack.enter_context(writer_cls(path, sizes, merge=merge, **extra)))
                   for si, ci, path in targets]
        reader = _Reader(cover, plan, _reader_threads())
        stack.callback(reader.close)  # before the writers close (or abort)
        bar = _progress_bar(len(plan), f"export {cover.name}")
        if bar is not None:
            stack.callback(bar.close)
        for k, ch in enumerate(plan, 1):
            bases = 0
            for block in reader.blocks(k - 1):
                if isinstance(block, _Bins):  # runs found from the values alone
                    if len(block.values):
                        bases += block.hi - block.lo
                        add_shared_bins([w for _, _, w in writers], ch.chrom, block.lo,
                                        block.hi, block.first, block.span,
                                        [block.values[:, si, ci] for si, ci, _ in writers],
                                        skip_zeros=skip_zeros)
                    continue
                starts, ends, values = block
                if not len(starts):
                    continue
                bases += int((ends - starts).sum())
                if not skip_zeros:  # every file gets the same entries: checked once
                    add_shared([w for _, _, w in writers], ch.chrom, starts, ends,
                               [values[:, si, ci] for si, ci, _ in writers])
                    continue
                for si, ci, w in writers:  # bins of 0 left out, as positions without data
                    v = values[:, si, ci]
                    keep = v != 0
                    w.add_intervals(ch.chrom, starts[keep], ends[keep], v[keep])
            # (logged at INFO without a bar; with one, which shows it, at DEBUG: an INFO
            # line written to the terminal under the open bar was glued to its remains)
            log.log(logging.INFO if bar is None else logging.DEBUG,
                    "%s: exported %s (%d bp in %d windows; chromosome %d of %d, %.1f s)",
                    cover.name, ch.chrom, bases, len(ch.idx), k, len(plan),
                    time.perf_counter() - t0)
            if bar is not None:
                bar.set_postfix_str(ch.chrom, refresh=False)
                bar.update(1)
        if bar is not None:  # (its last state shown: a log file kept its 0 % only)
            bar.refresh()
        for _, _, w in writers:  # files complete side by side (zoom levels), then close
            w.finish()
        for _, _, w in writers:  # every file complete under its temporary name ...
            w.seal()
        with signals_deferred():  # ... then all named, or none (an interrupt waits)
            for _, _, w in writers:
                w.close()
    paths = [str(p) for _, _, p in targets]
    log.info("%s: wrote %d %s file(s) to %s", cover.name, len(paths),
             writer_cls.kind, output_dir)
    return paths


def export_to_bigwig(cover: Any, output_dir: str | os.PathLike, genomesize: Any = None,
                     *, overlap: str = "error", skip_zeros: bool = False) -> list[str]:
    """Write a Cover as BigWig files, one per condition (and strand).

    See the module documentation for file names, overlaps, NaN and chromosome sizes.

    Parameters
    ----------
    cover
        The Cover (e.g. from :meth:`Cover.create_from_array`).
    output_dir
        Directory for the files (created if missing).
    genomesize
        Chromosome sizes (dict or file) for the BigWig header, in its order; default: the
        Cover's store metadata, else the largest window end per chromosome. Nothing past
        the length the store records for a chromosome is written (see the module
        documentation).
    overlap
        'error' (default) or 'mean', for overlapping windows of a partial-layout Cover.
    skip_zeros
        Leave bins holding 0 out of the files, as positions without data (what
        ``bamCoverage --skipNonCoveredRegions`` writes). A store built with
        ``nan_to_num=True`` (the default) holds 0 where its source had no data; with
        this option its export covers what the source covered, when the source held no
        explicit zeros.

    Returns
    -------
    list of str
        Paths of the written files, condition by condition (plus strand first).

    Raises
    ------
    ArgumentError
        For what is not a Cover (a wrapper included), names that cannot be file names, or
        overlapping windows with ``overlap='error'`` (before any file is written); for an
        infinite value or one past float32's range (naming its position; no file is
        created or replaced).
    ChromosomeNotFoundError
        If ``genomesize`` lacks a chromosome of the windows.

    Examples
    --------
    >>> import numpy as np, pandas as pd, pyBigWig, tempfile
    >>> from genozarr import Cover, GenomicIndexer
    >>> roi = pd.DataFrame({"chrom": ["chr1"], "start": [100], "end": [400]})
    >>> gi = GenomicIndexer.create_from_file(roi, binsize=100, stepsize=100)
    >>> cover = Cover.create_from_array("pred", np.array([[0.5], [0.5], [2.0]]), gi,
    ...                                 conditions=["score"])
    >>> (path,) = export_to_bigwig(cover, tempfile.mkdtemp(), genomesize={"chr1": 1000})
    >>> path.endswith("pred.score.bigwig"), pyBigWig.open(path).intervals("chr1")
    (True, ((100, 300, 0.5), (300, 400, 2.0)))
    """
    return _export(cover, output_dir, genomesize, overlap, ".bigwig", BigWigWriter, True,
                   skip_zeros)


def export_to_bed(cover: Any, output_dir: str | os.PathLike, genomesize: Any = None,
                  *, overlap: str = "error", merge: bool = False,
                  skip_zeros: bool = False) -> list[str]:
    """Write a Cover as bedGraph-like BED files, one per condition (and strand).

    Each line is ``chrom  start  end  value`` (tab separated, 0-based half-open, no header),
    one per stored bin as Janggu wrote them (``merge=True``: one per run of equal adjacent
    values, as in the BigWig), sorted by chromosome and start; see the module
    documentation for file names (``.bed``), overlaps and NaN.

    Parameters
    ----------
    cover
        The Cover.
    output_dir
        Directory for the files (created if missing).
    genomesize
        Chromosome sizes (dict or file) to clip bins to; default as for
        :func:`export_to_bigwig`.
    overlap
        'error' (default) or 'mean', for overlapping windows of a partial-layout Cover.
    merge
        Merge runs of equal adjacent values into one line (False: one line per bin).
    skip_zeros
        Leave bins holding 0 out of the files (see :func:`export_to_bigwig`).

    Returns
    -------
    list of str
        Paths of the written files.

    Raises
    ------
    ArgumentError
        As :func:`export_to_bigwig`, except that infinite values and values past
        float32's range are written (as ``inf``, ``-inf``, ``1e+39``): a text file holds
        them.
    ChromosomeNotFoundError
        If ``genomesize`` lacks a chromosome of the windows.
    """
    return _export(cover, output_dir, genomesize, overlap, ".bed", BedGraphWriter, merge,
                   skip_zeros)

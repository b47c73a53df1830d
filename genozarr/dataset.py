"""``Cover`` and ``Bioseq``: indexer + reader + store + per-batch transforms, with
numpy-like access.

``dataset[i]``, ``dataset[a:b]``, ``dataset[[i, j]]`` return numpy arrays; every key
returns a batch, an integer one of one window (as Janggu's). ``dataset['chr1', start,
end]`` (optionally with a strand) returns the data of any genomic interval at base
resolution.
"""

from __future__ import annotations

import bisect
import copy
import os
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from genozarr._kernels import (
    DNA_ALPHABET,
    PROTEIN_ALPHABET,
    _seqtype,
    alphabet_size,
    encode_sequence,
    onehot,
    orient_windows,
    regular_windows,
    window_views,
)
from genozarr._typing import FilesLike, PathLike, SequencesLike
from genozarr._validate import as_index, check_bool, check_int, check_name, name_text
from genozarr.config import pins_layout
from genozarr.errors import (
    ArgumentError,
    ChromosomeNotFoundError,
    GenomeMismatchError,
    GenozarrWarning,
    RegionError,
    StoreError,
    get_logger,
    hide_secrets,
)
from genozarr.genome import check_within, chrom_sizes
from genozarr.io._remote import fetch_inputs
from genozarr.regions import GenomicIndexer, RegionsLike, load_regions
from genozarr.store.backend import normalise_storage
from genozarr.store.dtypes import check_storage, check_store_dtype, value_dtype
from genozarr.store.handle import Store, load_store

if TYPE_CHECKING:
    import xarray as xr

    from genozarr.ingest import Source

__all__ = ["Dataset", "Cover", "Bioseq", "open_dataset"]

log = get_logger(__name__)


def _disk_bytes(path: str) -> int:
    """Apparent size of the files under a local store."""
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(dirpath, f))
            except OSError:  # removed meanwhile
                pass
    return total


def _human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


def _int_or_none(name: str, value: Any, minimum: int = 1) -> int | None:
    return check_int(name, value, minimum)


def _janggu_datatags(datatags: Any) -> None:
    """Janggu's ``datatags`` argument: accepted and ignored, with its deprecation warning."""
    if datatags is not None:
        from genozarr.errors import JangguDeprecationWarning, warn

        warn("datatags is deprecated (as in Janggu 0.10) and ignored: stores are named by "
             "the dataset name and their cache key", JangguDeprecationWarning, stacklevel=3)


def _verbose(verbose: bool) -> Any:
    """Janggu's ``verbose`` argument: True shows a progress bar for the build (as
    ``set_options(progress=True)``); False leaves it to the ``progress`` option."""
    import contextlib

    from genozarr.config import set_options

    return set_options(progress=True) if check_bool("verbose", verbose) \
        else contextlib.nullcontext()


def _whole(name: str, value: Any) -> int:
    """``value`` as an int (:func:`~genozarr._validate.as_index`); else an ArgumentError
    naming the argument."""
    try:
        return as_index(value)
    except TypeError:
        raise ArgumentError(f"{name} must be an integer, got {value!r}") from None


def _interval_key(key: Any) -> tuple[str, int, int, str] | None:
    """``(chrom, start, end, strand)`` of a genomic-interval key, or None for other keys."""
    if isinstance(key, (bytes, np.bytes_)):  # (bytes names decoded, as by every reader)
        key = key.decode()
    if isinstance(key, tuple) and key and isinstance(key[0], (bytes, np.bytes_)):
        key = (key[0].decode(), *key[1:])
    if isinstance(key, str):
        from genozarr.regions import parse_region

        region = parse_region(key)
        return region.chrom, region.start, region.end, region.strand or "+"
    if isinstance(key, tuple) and key and isinstance(key[0], str):
        if len(key) not in (3, 4):
            raise ArgumentError(
                f"a genomic interval key is (chrom, start, end[, strand]), got {key!r}")
        chrom, start, end = key[0], key[1], key[2]
        strand = key[3] if len(key) == 4 else "+"
        # (checked as read_interval checks them: a start before the chromosome's, as a
        # flanked window's, is padding, as for that window's region, ds[ds.gindexer[i]])
        return chrom, _whole("start", start), _whole("end", end), strand
    if all(hasattr(key, a) for a in ("chrom", "start", "end")) and not isinstance(key, np.ndarray):
        strand = getattr(key, "strand", "+") or "+"
        return str(key.chrom), int(key.start), int(key.end), "+" if strand == "." else strand
    return None


def _same_windows(gindexer: GenomicIndexer, table: dict[str, np.ndarray]) -> bool:
    """Whether the indexer's windows (flank included) are the stored rows, in order."""
    chrs, starts, ends, _ = gindexer.as_arrays()
    return (np.array_equal(starts, np.asarray(table["start"]))
            and np.array_equal(ends, np.asarray(table["end"]))
            and np.array_equal(chrs.astype(str), np.asarray(table["chrom"]).astype(str)))


def _same_indexer(a: GenomicIndexer, b: GenomicIndexer | None) -> bool:
    """Whether two indexers hold the same windows (flank included) on the same strands,
    in order."""
    if b is None or len(a) != len(b):
        return False
    if a is b:
        return True
    chrom, start, end, strand = b.as_arrays()
    return _same_windows(a, {"chrom": chrom, "start": start, "end": end}) and np.array_equal(
        np.asarray(a.strand).astype(str), np.asarray(strand).astype(str))


#: windows whose steps :meth:`_GenomePlan.run_step` compares at a time (bounded memory)
_STEP_BLOCK = 1 << 20


@dataclass(frozen=True)
class _GenomePlan:
    """What a whole-genome read needs of every window: its first stored bin, its
    chromosome (a number into ``names``), and, when some window is partial (zero-padded),
    the bins each window holds data for.

    ``run_starts`` are the first windows of the runs of consecutive windows on one
    chromosome (then the number of windows): a batch of consecutive windows within a run
    whose windows follow each other at one step (a tiling; worked out per run when first
    needed) is one range of bins."""

    first_bin: np.ndarray
    chrom: np.ndarray
    names: list[str]
    stored_bins: np.ndarray | None
    run_starts: np.ndarray
    #: the step of each run looked at: ``{run: step}``, negative where it varies
    _steps: dict[int, int] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def make(cls, first_bin: np.ndarray, chrom: np.ndarray, names: list[str],
             stored_bins: np.ndarray | None) -> _GenomePlan:
        n = len(first_bin)
        run_starts = np.concatenate(
            ([0], np.flatnonzero(chrom[1:] != chrom[:-1]) + 1, [n])).astype(np.int64)
        return cls(first_bin, chrom, names, stored_bins, run_starts)

    def run_step(self, k: int) -> int:
        """The step between the first bins of consecutive windows of run ``k`` where it is
        one step (0 for a run of one window), else -1 (where it varies, or steps back)."""
        step = self._steps.get(k)
        if step is None:
            lo, hi = int(self.run_starts[k]), int(self.run_starts[k + 1])
            fb = self.first_bin
            step = int(fb[lo + 1] - fb[lo]) if hi - lo > 1 else 0
            for b in range(lo, hi - 1, _STEP_BLOCK):  # a block of steps at a time
                if step < 0 or not bool((np.diff(fb[b:min(b + _STEP_BLOCK + 1, hi)])
                                         == step).all()):
                    step = -1
                    break
            self._steps[k] = step
        return step

    def run_range(self, a: int, b: int) -> tuple[str, int, int] | None:
        """For windows ``a`` to ``b - 1`` (``a < b``): ``(chromosome, first bin, step)``
        when they lie in one run of windows at one step, else None."""
        k = bisect.bisect_right(self.run_starts, a) - 1  # faster than numpy for one value
        if b > self.run_starts[k + 1]:
            return None
        step = self.run_step(k) if b - a > 1 else 0  # (one window: any step)
        if step < 0:
            return None
        return self.names[self.chrom[a]], int(self.first_bin[a]), step

    def by_chromosome(self, idx: np.ndarray) -> list[tuple[str, np.ndarray | None, np.ndarray]]:
        """Windows ``idx`` grouped by chromosome: ``(name, positions in idx, first bins)``
        per chromosome, positions None when all windows are on one."""
        first, chrom = self.first_bin[idx], self.chrom[idx]
        if len(idx) and (chrom == chrom[0]).all():
            return [(self.names[chrom[0]], None, first)]
        groups = []
        for c in np.unique(chrom):
            sel = np.flatnonzero(chrom == c)
            groups.append((self.names[c], sel, first[sel]))
        return groups


def _own_windows(block: np.ndarray, span: np.ndarray) -> np.ndarray:
    """Windows ``block`` cut from ``span`` as a batch of the caller's own: the span itself
    when the windows tile it in order and it is a new array, else a copy (an in-memory
    store's span is a view of the stored array)."""
    return block if block.flags.c_contiguous and span.flags.owndata else block.copy()


def _same_values(a: Any, b: Any) -> bool:
    """Whether two window columns (or two absent ones, None) hold the same values, compared
    as text."""
    if a is None or b is None:
        return a is None and b is None
    return len(a) == len(b) and np.array_equal(np.asarray(a).astype(str),
                                               np.asarray(b).astype(str))



def _check_window_starts(gindexer: GenomicIndexer, resolution: int) -> None:
    """Refuse windows of a whole-genome store that do not start (minus the flank) on its
    bins of ``resolution`` bases (at 1 bp every start is: nothing to compare)."""
    if resolution == 1:
        return
    starts = gindexer.starts
    off = np.flatnonzero((starts - gindexer.flank if gindexer.flank else starts) % resolution)
    if len(off):
        raise RegionError(
            f"window {gindexer[int(off[0])]} starts at a position not divisible by resolution "
            f"{resolution}; with store_whole_genome=True window starts (minus flank) must be "
            "multiples of the resolution: trim the regions with `genozarr trim` or "
            "genozarr.trim_regions")

class Dataset:
    """A genomic dataset: windows of a :class:`~genozarr.regions.GenomicIndexer` read from a
    :class:`~genozarr.store.Store`.

    Not built directly: use the ``create_from_*`` constructors of :class:`Cover` and
    :class:`Bioseq`, or :func:`open_dataset`.

    The public reading interface, used by batching, loaders, wrappers and export:
    :meth:`read` (served batches), :meth:`read_genomic` (values in genomic orientation),
    :attr:`chunk_rows`, :meth:`prefetch` and :meth:`subset`. Assigning :attr:`gindexer`
    (a Janggu idiom) serves the new windows.

    Parameters
    ----------
    name
        Dataset name.
    gindexer
        The windows served, in order (:attr:`gindexer`). A whole-genome store must hold
        their chromosomes, and their starts minus the flank must be multiples of its
        resolution; a partial store must hold each window.
    store
        The store holding the values (kept as ``garray``).
    channel_last
        True (default): batches of shape ``(window, position, strand, condition)``; False
        moves the condition axis to position 1.
    rows
        Partial layout: the store row of each window (one per window, int64); None
        (default): found from the windows' coordinates and strands
        (:meth:`~genozarr.store.handle.Store.rows_of`). Ignored in the whole-genome
        layout.
    normalizers
        Normalizers applied, in order, to the values of every read (normalizer objects
        or callables over a batch ``(window, position, strand, condition)``); None
        (default): none.
    """

    def __init__(self, name: str, gindexer: GenomicIndexer, store: Store, *,
                 channel_last: bool = True, rows: np.ndarray | None = None,
                 normalizers: list[Any] | None = None) -> None:
        self.name = name
        self.garray = store
        self.channel_last = bool(channel_last)
        self.normalizers = list(normalizers or [])
        self._set_windows(gindexer, rows)

    # ------------------------------------------------------------------ windows
    @property
    def gindexer(self) -> GenomicIndexer:
        """The windows served, in order. Assigning another indexer serves its windows
        (any window of a whole-genome store; stored windows of a partial one). This
        object serves them; the store keeps the windows recorded when it was built, so
        ``open_dataset`` of it serves those (build with ``roi`` to record others: a build
        over the same cached store records its windows in it)."""
        return self._gindexer

    @gindexer.setter
    def gindexer(self, gindexer: GenomicIndexer) -> None:
        self._check_assigned(gindexer)
        self._set_windows(gindexer)

    def _check_assigned(self, gindexer: GenomicIndexer) -> None:
        """Refuse windows a user assigns to a whole-genome dataset that start past the end
        of their chromosome (they would be served as padding alone), as the constructors
        refuse such regions; a tail window of a region running past the end (a whole
        number of steps after a window of its chromosome that starts on it) is checked
        for its end only (:func:`~genozarr.genome.check_span`). Works on the chromosomes'
        codes: no object per window (a frame of them cost about 160 bytes and 1.7 us a
        window, 1.3 GB for 8 million windows)."""
        from genozarr.genome import MAX_PADDING, check_span

        store = self.garray
        if not (isinstance(gindexer, GenomicIndexer) and store.whole_genome and len(gindexer)):
            return
        sizes = store.meta.chroms
        chrs, starts, ends, _ = gindexer.as_arrays()
        codes, names = gindexer.label_codes("chrs")
        where = f"{self.name!r} (store {store.path or store.meta.name})"
        if (codes < 0).any():  # (None or NaN: served as another chromosome's windows)
            k = int(np.flatnonzero(codes < 0)[0])
            raise ArgumentError(f"{where}: window {k} ({chrs[k]!r}:{starts[k]}-{ends[k]}) "
                                "has no chromosome")
        names = [name_text(c) for c in names]
        # (unknown chromosomes, length -1: _set_windows says so)
        lengths = np.array([sizes.get(c, -1) for c in names], dtype=np.int64)[codes]
        starts = np.asarray(starts, dtype=np.int64)
        ends = np.asarray(ends, dtype=np.int64)
        known = lengths >= 0
        past = known & (starts >= lengths)
        tail = np.zeros(len(starts), dtype=bool)
        step = int(gindexer.stepsize or 0)
        if past.any() and step:
            key = codes.astype(np.int64) * step + starts % step  # (chromosome, phase)
            tail = past & np.isin(key, np.unique(key[known & ~past]))
        bad = np.flatnonzero(past & ~tail)
        if len(bad):
            k = int(bad[0])
            chrom = names[codes[k]]
            raise RegionError(f"{where}: region {chrom}:{starts[k]}-{ends[k]} starts past the "
                              f"end of {chrom} (length {sizes[chrom]})")
        far = np.flatnonzero(known & (ends - lengths > np.maximum(lengths, MAX_PADDING)))
        if len(far):
            k = int(far[0])
            chrom = names[codes[k]]
            check_span(chrom, int(lengths[k] - 1 if tail[k] else starts[k]), int(ends[k]),
                       int(sizes[chrom]), where)

    def _set_windows(self, gindexer: GenomicIndexer, rows: np.ndarray | None = None) -> None:
        if not isinstance(gindexer, GenomicIndexer):
            raise ArgumentError(f"gindexer must be a GenomicIndexer, got {type(gindexer).__name__}")
        store = self.garray
        meta = store.meta
        chroms = None
        if store.whole_genome:
            res = meta.resolution or 1
            codes, names = gindexer.label_codes("chrs")
            chroms = (codes, [str(c) for c in names])
            missing = sorted(set(chroms[1]) - set(meta.chroms))
            if missing:
                raise ChromosomeNotFoundError(
                    f"{self.name!r}: chromosomes {missing[:5]} are not in its store "
                    f"{store.path or meta.name} (it has {list(meta.chroms)[:8]})")
            _check_window_starts(gindexer, res)
            rows = None
        elif rows is None:
            table = store.region_table
            held = getattr(self, "_rows", None)
            if held is not None and _same_indexer(gindexer, getattr(self, "_gindexer", None)):
                rows = held  # (its own windows again: its own rows, repeated ones included)
            elif len(gindexer) == len(table["chrom"]) and _same_windows(gindexer, table) and (
                    not store.repeated_windows or np.array_equal(
                        np.asarray(gindexer.strand).astype(str),
                        np.asarray(table["strand"]).astype(str))):
                rows = np.arange(len(gindexer))
            else:  # (windows of the same coordinates: those this dataset holds first)
                chrs, starts, ends, strands = gindexer.as_arrays()
                rows = store.rows_of(chrs, starts, ends, strands, held)
        self._gindexer = gindexer
        self._rows = None if rows is None else np.asarray(rows, dtype=np.int64)
        strand, labels = gindexer.label_codes("strand")
        self._minus = (strand == labels.index("-") if "-" in labels
                       else np.zeros(len(strand), dtype=bool))
        self._any_minus = bool(self._minus.any())
        #: whole genome: the chromosome of every window, as codes into names
        self._chroms: tuple[np.ndarray, list[str]] | None = chroms
        self._plan: _GenomePlan | None = None  # made at the first whole-genome read

    # ------------------------------------------------------------------ numpy-like
    def __len__(self) -> int:
        return len(self.gindexer)

    def _facts(self) -> list[tuple[str, str]]:
        """What the repr shows: name, shape and dims, layout, storage and path, conditions,
        resolution, normalizers, size on disk."""
        meta = self.garray.meta
        dims = ("window", "position", "strand", "condition")
        if not self.channel_last:
            dims = ("window", "condition", "position", "strand")
        facts = [("shape", f"{self.shape}  ({', '.join(dims)})"),
                 ("layout", "whole genome" if meta.whole_genome else "partial"),
                 ("storage", self.garray.backend.storage  # (a URL without its secrets)
                  + (f" at {hide_secrets(str(self.garray.path))}" if self.garray.path
                     else ""))]
        if isinstance(self, Bioseq):
            facts.append(("sequence", f"{self.seqtype}, order {self.order}"))
        else:
            conds = list(meta.conditions)
            facts.append(("conditions", ", ".join(conds[:8])
                          + (f", ... ({len(conds)})" if len(conds) > 8 else "")))
            facts.append(("strands", ", ".join(meta.strands)))
            facts.append(("resolution", str(meta.resolution)))
        facts.append(("normalizers", ", ".join(type(n).__name__ for n in self.normalizers)
                      or "none"))
        if self.garray.path and self.garray.backend.storage == "zarr":
            from genozarr.store.open import is_remote

            if not is_remote(self.garray.path):
                facts.append(("size on disk", _human_bytes(_disk_bytes(self.garray.path))))
        return facts

    def __repr__(self) -> str:
        lines = [f"<genozarr.{type(self).__name__} {self.name!r}>"]
        lines += [f"  {k:<13}{v}" for k, v in self._facts()]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        """An HTML table of the same facts as ``repr`` (Jupyter)."""
        from html import escape

        rows = "".join(f"<tr><th style='text-align:left'>{escape(k)}</th>"
                       f"<td style='text-align:left'>{escape(v)}</td></tr>"
                       for k, v in self._facts())
        return (f"<div><b>genozarr.{type(self).__name__}</b> <code>{escape(self.name)}</code>"
                f"<table>{rows}</table></div>")

    @property
    def window_bins(self) -> int:
        """Stored bins per window (flanks included): the position length before one-hot
        k-mers."""
        meta = self.garray.meta
        if meta.resolution is None:
            return 1
        if self.gindexer.binsize is not None:
            return (self.gindexer.binsize + 2 * self.gindexer.flank) // meta.resolution
        if meta.whole_genome:  # whole chromosomes without windows (roi=None, no binsize)
            return 0
        return meta.nbins

    @property
    def resolution(self) -> int | None:
        """Bases per stored bin (None: one value per window)."""
        return self.garray.meta.resolution

    @property
    def strands(self) -> list[str]:
        """Strand labels of the stored values."""
        return list(self.garray.meta.strands)

    @property
    def chrom_sizes(self) -> dict[str, int]:
        """Chromosome lengths recorded in the store."""
        return {str(c): int(v) for c, v in self.garray.meta.chroms.items()}

    @property
    def _raw_shape(self) -> tuple[int, int, int]:
        """Shape of one window as stored: (position, strand, condition)."""
        return (self.window_bins, self.garray.n_strands, self.garray.n_conditions)

    @property
    def element_shape(self) -> tuple[int, ...]:
        """Shape of one window as returned (channel order applied)."""
        shape = self._element_shape_channel_last()
        if not self.channel_last:
            shape = (shape[-1],) + shape[:-1]
        return shape

    def _element_shape_channel_last(self) -> tuple[int, ...]:
        return self._raw_shape

    @property
    def shape(self) -> tuple[int, ...]:
        """``(len(self),) + element_shape``."""
        return (len(self),) + self.element_shape

    @property
    def ndim(self) -> int:
        """Number of dimensions of :attr:`shape`."""
        return len(self.shape)

    def __getitem__(self, key: Any) -> np.ndarray:
        """A batch, whatever the key (as Janggu): ``ds[i]`` has shape ``(1, L, S, C)``,
        ``ds[a:b]`` and ``ds[[i, j]]`` one row per window, and a genomic interval
        (``ds['chr1', start, end]``, ``ds['chr1', start, end, '-']``,
        ``ds['chr1:1000-1100']``, or a region object with ``chrom``, ``start``, ``end``
        and optionally ``strand``, such as ``ds[ds.gindexer[4]]``) ``(1, end - start,
        S, C)`` at base resolution (``end - start - order + 1`` positions for a Bioseq of
        ``order`` > 1: one k-mer per position); positions outside the chromosome (a
        negative start, as a flanked window's at the chromosome start) are padding."""
        if isinstance(key, slice):  # no index array over the whole dataset per batch
            return self.read(np.arange(*key.indices(len(self))))
        interval = _interval_key(key)
        if interval is not None:
            return self.read_interval(*interval)[None]
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            n = len(self)
            i = int(key)
            if not -n <= i < n:
                raise IndexError(f"index {i} out of range for {type(self).__name__} of length {n}")
            return self.read(np.array([i % n]))
        idx = np.atleast_1d(np.arange(len(self))[key])
        if idx.ndim > 1:  # an index array of several axes: numpy's shape, (*key, L, S, C)
            return self.read(idx.ravel()).reshape(idx.shape + self.shape[1:])
        return self.read(idx)

    def __iter__(self):  # noqa: ANN204
        for i in range(len(self)):
            yield self[i]

    # ------------------------------------------------------------------ reading
    def read(self, idx: np.ndarray) -> np.ndarray:
        """The served batch of windows ``idx`` (integer positions): oriented to each
        window's strand, normalized, encoded and in the dataset's channel order.

        Parameters
        ----------
        idx
            Window positions (integers, in any order, repeats allowed).

        Returns
        -------
        numpy.ndarray
            One row per position of ``idx``: ``(len(idx),) + element_shape``.
        """
        return self._finish(self._read_oriented(idx))

    def _read_oriented(self, idx: np.ndarray, view: bool = False) -> np.ndarray:
        """Windows ``idx`` as stored, oriented to each window's strand (what :meth:`read`
        encodes and puts in channel order); a new array the caller may modify, or, with
        ``view`` (a caller that only reads it), possibly a read-only view of cached
        chunks (never where a window is oriented: that is done in place)."""
        view = view and not self._any_minus
        raw = self.read_genomic(np.asarray(idx, dtype=np.int64), view=view)
        if not view and not raw.flags.writeable:
            raw = raw.copy()
        return self._orient(raw, np.asarray(idx))

    def read_genomic(self, idx: np.ndarray, *, view: bool = False) -> np.ndarray:
        """Windows ``idx`` as stored: ``(k, position, strand, condition)`` in genomic
        (plus-strand) orientation, normalizers applied (sequence: uint8 codes).

        Parameters
        ----------
        idx
            Window positions.
        view
            The caller only reads the result: windows read in order may then be a view
            of the stored data (read-only, of the decoded chunks, for a zarr store)
            instead of a new array.

        Returns
        -------
        numpy.ndarray
        """
        idx = np.asarray(idx, dtype=np.int64)
        if self._rows is not None:
            out = self.garray.read_rows(self._rows[idx])
        else:
            out = self._read_whole_genome(idx, view)
        if self.normalizers:
            out = self._normalize(out, idx)
        return out

    @property
    def chunk_rows(self) -> int:
        """Windows per zarr chunk of the store (1 for in-memory data): the natural block
        size for shuffled batches that decode each chunk once."""
        store = self.garray
        if store.backend.storage != "zarr":
            return 1
        meta = store.meta
        if store.whole_genome:
            if not meta.chroms:  # (no chromosome, no window: any block size serves)
                return 1
            size = store.backend.chunk_len(meta.array_path(next(iter(meta.chroms))))
            step = self.gindexer.stepsize or self.gindexer.binsize or 1
            return max(1, size * (meta.resolution or 1) // step)
        return max(1, store.backend.chunk_len(meta.array_path()))

    def prefetch(self, idx: np.ndarray, fetch_only: bool = False) -> int:
        """Start decoding, in background threads, the chunks windows ``idx`` need (a no-op
        for in-memory data).

        Parameters
        ----------
        idx
            Window positions.
        fetch_only
            Only start fetching the chunks' stored bytes from a remote store.

        Returns
        -------
        int
            The decoded bytes of the chunks started.
        """
        idx = np.asarray(idx, dtype=np.int64)
        if self._rows is not None:
            return self.garray.prefetch_rows(self._rows[idx], fetch_only)
        if self.garray.backend.storage != "zarr":  # in memory: nothing to decode ahead
            return 0
        nb = self.window_bins
        return sum(self.garray.prefetch_bins(name, first, nb, fetch_only)
                   for name, _, first in self._genome_plan().by_chromosome(idx))

    def _examples_of(self, windows: np.ndarray) -> np.ndarray:
        """The places in this dataset of the examples of window indices ``windows`` (into
        :attr:`gindexer`), window by window: the windows themselves (a personal genome:
        its items of each window)."""
        return np.asarray(windows, dtype=np.int64)

    def subset(self, index: Any) -> Dataset:
        """A dataset over some windows of this one, sharing its store (no copy).

        Parameters
        ----------
        index
            An int (a dataset of one window), ints (a list, tuple or array), a slice or a
            boolean mask.

        Returns
        -------
        Dataset
            Of the same class, serving those windows in that order.

        Raises
        ------
        ArgumentError
            For an index of more than one dimension.
        """
        if isinstance(index, (int, np.integer)) and not isinstance(index, (bool, np.bool_)):
            index = [index]  # (the indexer's [int] is one Region, not an indexer)
        if isinstance(index, tuple):  # (numpy reads a tuple as an index per axis)
            index = list(index)
        if index is Ellipsis:
            index = slice(None)
        if not isinstance(index, slice) and np.ndim(index) != 1:
            raise ArgumentError(f"subset takes an int, a 1-D sequence of window indices, a "
                                f"slice or a boolean mask, got shape {np.shape(index)}")
        new = copy.copy(self)
        # (the fitted normalizer objects are shared; the list is the view's own: a view
        # that dropped or added one changed its parent)
        new.normalizers = list(self.normalizers)
        new._gindexer = self.gindexer[index]
        new._minus = self._minus[index]
        new._any_minus = bool(new._minus.any())
        if self._chroms is not None:
            new._chroms = (self._chroms[0][index], self._chroms[1])
        new._plan = None
        if self._rows is not None:
            new._rows = self._rows[index]
        return new

    def _normalize(self, x: np.ndarray, idx: np.ndarray,
                   lengths: np.ndarray | None = None) -> np.ndarray:
        """Fitted normalizers on a raw batch (numpy, elementwise with fitted statistics).

        ``lengths`` are the bases each stored value summarises: the window length (flanks
        included) in the partial layout, the resolution in the whole-genome one; given,
        they replace those of the windows ``idx``.
        """
        if lengths is not None:
            lengths = np.asarray(lengths, dtype=np.int64)
        elif self.garray.whole_genome:
            lengths = np.full(len(idx), self.garray.meta.resolution or 1, dtype=np.int64)
        else:
            lengths = (self.gindexer.ends[idx] - self.gindexer.starts[idx]
                       + 2 * self.gindexer.flank)
        from genozarr.ops.normalizers import check_kernel_shape

        x = x.astype(np.result_type(x.dtype, np.float32), copy=True)
        for norm in self.normalizers:
            order = self._condition_order(norm)
            if order is not None:  # into the order the statistics were fitted in, and back
                x = x[..., order[0]]
            y = norm.transform_batch(x, lengths) if hasattr(norm, "transform_batch") else norm(x)
            x = check_kernel_shape(norm, y, x.shape)  # (a duck-typed one too)
            if order is not None:
                x = x[..., order[1]]
        return x

    def _genome_plan(self) -> _GenomePlan:
        """Per-window facts of the whole-genome layout that every batch needs, worked out
        once for all windows instead of per batch."""
        if self._plan is None:
            gi, res = self.gindexer, self.garray.meta.resolution or 1
            nb = self.window_bins
            assert self._chroms is not None  # set with the windows of a whole-genome dataset
            chrom, names = self._chroms
            # a partial (zero-padded) window holds data up to its region end + flank only:
            # ceil((end - start + 2 * flank) / res) < nb bins
            stored = -(-(gi.ends - gi.starts + 2 * gi.flank) // res)
            self._plan = _GenomePlan.make(
                (gi.starts - gi.flank) // res, chrom, names,
                stored if (stored < nb).any() else None)
        return self._plan

    def _read_whole_genome(self, idx: np.ndarray, view: bool = False) -> np.ndarray:
        store = self.garray
        plan = self._genome_plan()
        nb = self.window_bins
        k = len(idx)
        # a batch the caller keeps (or one padded below) is its own array
        own = not view or plan.stored_bins is not None
        if k and plan.stored_bins is None:  # consecutive windows (a batch read in order)
            a = int(idx[0])
            # (idx is int64: comparing bytes takes a quarter of the time of comparing
            # lists, itself faster than numpy's elementwise test on a batch)
            if int(idx[-1]) - a == k - 1 and (
                    k < 3 or idx.tobytes() == np.arange(a, a + k, dtype=np.int64).tobytes()):
                run = plan.run_range(a, a + k)
                if run is not None:  # ... at one step on one chromosome: one range of bins
                    name, lo, step = run
                    span = store.read_bins(name, lo, lo + (k - 1) * step + nb, not own)
                    block = regular_windows(np.ascontiguousarray(span), k, step, nb)
                    return _own_windows(block, span) if own else block
        groups = plan.by_chromosome(idx)
        out = None  # the one chromosome's windows are the batch; several fill a new one
        if len(groups) != 1:
            out = np.empty((len(idx), nb, store.n_strands, store.n_conditions),
                           value_dtype(store.meta.dtype))
        for name, sel, offsets in groups:
            lo, hi = int(offsets.min()), int(offsets.max()) + nb
            if hi - lo <= max(4 * nb * len(offsets), 1 << 16):
                span = store.read_bins(name, lo, hi, not own)
                block = window_views(span, offsets - lo, nb)
                if out is None:
                    out = _own_windows(block, span) if own else block
                else:
                    out[sel] = block
            elif out is None:  # windows scattered along the chromosome (a shuffled batch)
                out = store.read_windows(name, offsets, nb)
            else:  # ... gathered straight into their rows of the batch
                store.read_windows(name, offsets, nb, out, sel)
        if plan.stored_bins is not None:
            stored = plan.stored_bins[idx]
            short = np.flatnonzero(stored < nb)
            if len(short):
                pad = store.meta.served_pad  # (worked out from the dtype: once a batch)
                for j in short:
                    out[j, int(stored[j]):] = pad
        return out

    def _orient(self, x: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """Reverse position and strand axes of minus-strand windows (as Janggu)."""
        if not self._any_minus:  # no window to orient
            return x
        return orient_windows(x, self._minus[idx], seqtype=self._seqtype_or_none)

    @property
    def _seqtype_or_none(self) -> str | None:
        """None for coverage; the sequence type of sequence codes."""
        return None

    def _finish(self, x: np.ndarray) -> np.ndarray:
        if not self.channel_last:
            x = np.moveaxis(x, -1, 1)
        return x

    def _interval_raw(self, chrom: str, start: int, end: int) -> np.ndarray:
        """Base-resolution ``(end - start, strand, condition)`` genomic-orientation data of an
        interval, padded outside stored data; where partial-layout windows overlap, the
        window stored last gives the values."""
        store = self.garray
        meta = store.meta
        start, end = int(start), int(end)
        if end < start:
            raise RegionError(f"interval {chrom}:{start}-{end} has start > end")
        # (whole genome: the chromosome lengths are known; a partial store's may be the
        # reach of its windows, or 0 for BED inputs: outside windows is padding there)
        length = meta.chroms.get(chrom) if store.whole_genome else None
        if length is not None and start >= length:  # as a region there is refused
            raise RegionError(
                f"interval {chrom}:{start}-{end} starts past the end of {chrom} (length "
                f"{length}) in store {store.path or meta.name}")
        res = meta.resolution or 1
        if store.whole_genome:
            if meta.resolution is None:
                raise ArgumentError("interval access needs a store with a resolution")
            b0, b1 = start // res, -(-end // res)
            bins = store.read_bins(chrom, b0, b1)
            base = np.repeat(bins, res, axis=0) if res > 1 else bins
            out = base[start - b0 * res:end - b0 * res]
            if res > 1 and length and end > length:
                # the last bin of a chromosome ending inside it holds the mean of the bases
                # there; repeated, it covered bases past the end, which are padding
                out = out.copy()
                out[length - start:] = meta.served_pad
        else:
            t = store.region_table
            assert t is not None
            # outside the stored windows, also on other chromosomes: the padding, as
            # Janggu's partial storage (its plots of predictions show such regions); a
            # chromosome without windows is said once, since a misnamed one ('1' for
            # 'chr1') looks just the same
            told = _TOLD_NO_WINDOWS.setdefault(store, set())
            if chrom not in meta.chroms and chrom not in told:
                told.add(chrom)
                from genozarr.errors import warn

                warn(f"chromosome {chrom!r} has no windows in store "
                     f"{store.path or meta.name} (it has {list(meta.chroms)[:8]}): its "
                     "intervals read as the padding value. Check the name if it should "
                     "hold data ('chr1' vs '1').")
            out = np.full((end - start, store.n_strands, store.n_conditions), meta.served_pad,
                          dtype=value_dtype(meta.dtype))
            if self.normalizers:  # outside stored windows: the padding, normalized
                out = self._normalize(out[None], np.zeros(1, np.int64), np.ones(1))[0]
            hit = self._stored_rows(chrom, start, end)
            # bases past a known chromosome end keep the padding (a window's last bin
            # running past it holds the mean of the bases inside; 0: length not known)
            known = int(meta.chroms.get(chrom) or 0)
            if len(hit):
                rows = store.read_rows(hit)
                if self.normalizers:  # each row with its own window's length, as ds[i]
                    rows = self._normalize(rows, hit, (t["end"][hit] - t["start"][hit]))
                for row, r in zip(rows, hit):
                    s, e = int(t["start"][r]), int(t["end"][r])
                    # resolution=None: the window's one value at each of its bases (as
                    # Janggu's)
                    rep = res if meta.resolution is not None else max(e - s, 1)
                    base = np.repeat(row, rep, axis=0) if rep > 1 else row
                    base = base[: e - s]
                    lo, hi = max(s, start), min(e, end)
                    if known and rep > 1:
                        hi = min(hi, known)
                    if hi > lo:
                        out[lo - start:hi - start] = base[lo - s:hi - s]
            return out
        if self.normalizers:
            out = self._normalize(out[None], np.zeros(1, dtype=np.int64))[0]
        return out

    def _stored_rows(self, chrom: str, start: int, end: int) -> np.ndarray:
        """Partial layout: the store rows of this dataset's windows that overlap
        ``chrom:[start, end)``, ascending. A view holds its own windows only (as Janggu's
        subsets: a held-out split does not read the other split's windows)."""
        rows = self.garray.rows_overlapping(chrom, start, end)
        if self._rows is None:
            return rows
        cached = getattr(self, "_own_mask", None)
        if cached is None or cached[0] is not self._rows:  # (a view copies its parent's)
            table = self.garray.region_table
            mask = np.zeros(len(table["chrom"]) if table is not None else 0, dtype=bool)
            mask[self._rows] = True
            cached = self._own_mask = (self._rows, mask)
        return rows[cached[1][rows]]

    def read_interval(self, chrom: str, start: int, end: int, strand: str = "+") -> np.ndarray:
        """One genomic interval at base resolution, normalized and in channel order.

        Parameters
        ----------
        chrom, start, end
            The interval (0-based, end exclusive).
        strand
            ``'-'`` reverse-complements a sequence and flips coverage (strands swapped);
            ``'+'`` or ``'.'`` read it as stored.

        Returns
        -------
        numpy.ndarray
            ``(end - start, S, C)`` (channels first where the dataset is;
            ``end - start - order + 1`` positions for a Bioseq of ``order`` > 1). Bases
            before the chromosome start (a flanked window's, ``start < 0``) read as
            padding.

        Raises
        ------
        ArgumentError
            For another strand, or a start or end that is not an integer (0.5 was read
            as 0).
        """
        if strand not in ("+", "-", "."):
            raise ArgumentError(f"strand must be '+', '-' or '.', got {strand!r}")
        start, end = _whole("start", start), _whole("end", end)
        x = np.array(self._interval_raw(chrom, start, end)[None], copy=True)
        if strand == "-":
            orient_windows(x, np.ones(1, dtype=bool), seqtype=self._seqtype_or_none)
        return self._finish(x)[0]

    # ------------------------------------------------------------------ views & xarray
    def to_torch(self, targets: Any = None, **kwargs: Any) -> Any:
        """A ready :class:`torch.utils.data.DataLoader` over this dataset.

        Parameters
        ----------
        targets
            Datasets or arrays served with it as targets (None: inputs only).
        **kwargs
            The options of :func:`genozarr.loaders.torch.torch_loader` (batch size,
            shuffle, workers, ranks, augmentation).

        Returns
        -------
        torch.utils.data.DataLoader
        """
        from genozarr.loaders.torch import torch_loader

        return torch_loader(self, targets, **kwargs)

    def with_windows(self, gindexer: GenomicIndexer) -> Dataset:
        """A dataset over other windows of the same store (no copy).

        Parameters
        ----------
        gindexer
            The windows: any windows of a whole-genome store, stored windows of a partial
            one.

        Returns
        -------
        Dataset
            Of the same class, with this one's normalizers and channel order.

        Raises
        ------
        RegionError
            For a window of a whole-genome store that starts past its chromosome's end
            (not a tail window of a tiling).
        ChromosomeNotFoundError
            For a chromosome a whole-genome store does not hold.
        ArgumentError
            For a window a partial store does not hold.
        """
        self._check_assigned(gindexer)
        new = copy.copy(self)
        new.normalizers = list(self.normalizers)  # (as subset's)
        new._set_windows(gindexer)
        return new

    def to_xarray(self) -> Any:
        """The dataset's store as a lazy xarray object (dask arrays): an
        :class:`xarray.Dataset` (partial layout) or :class:`xarray.DataTree` (whole genome),
        as :func:`genozarr.open_store` gives. A whole-genome tree's ``genozarr-windows``
        are the windows the store records (those of the dataset built over it, not a
        view's); a store held in memory records none, and has this dataset's.

        Returns
        -------
        xarray.Dataset or xarray.DataTree
            Partial layout: a Dataset with variable ``data`` (dims ``(region, position,
            strand, condition)``) over every stored row, not only this dataset's windows;
            whole-genome layout: a DataTree with one child per chromosome holding ``data``
            (dims ``(position, strand, condition)``, ``position`` in bins). Values as
            stored: no normalizer applied, genomic orientation.
        """
        from genozarr.store.view import as_xarray

        store = self.garray
        windows = None
        on_disk = store.backend.storage == "zarr" and store.path is not None
        if store.whole_genome and not on_disk and len(self.gindexer):
            # an in-memory store (with a store path or not) records no windows: this
            # dataset's, as a zarr store holds the windows of the dataset built over it
            # (write_store keeps them)
            gi = self.gindexer
            windows = (gi.chrs, gi.starts, gi.ends, gi.strand, gi.names)
        return as_xarray(store, windows=windows)

    # ------------------------------------------------------------------ building
    @classmethod
    def _create(cls, *args: Any, verbose: bool = False, **kwargs: Any) -> Any:
        """:meth:`_build`, with a progress bar where ``verbose`` (Janggu's flag)."""
        with _verbose(verbose):
            return cls._build(*args, **kwargs)

    @classmethod
    @pins_layout  # (the store's key and its layout from one reading of the options)
    def _build(
        cls, name: str, source: Source, *, roi: RegionsLike | None, genomesize: Any,
        binsize: int | None, stepsize: int | None, flank: int, resolution: int | None,
        storage: str, cache: bool, overwrite: bool, channel_last: bool, zero_padding: bool,
        random_state: Any, store_whole_genome: bool, store: PathLike | None,
        args: dict[str, Any], normalizer: Any = None, chrom_map: Any = None,
        storage_options: dict[str, Any] | None = None, seqtype: str | None = None,
        feature: str | None = None, gindexer: GenomicIndexer | None = None,
        constructor: str = "", order: int | None = None,
        condition_metadata: dict[str, list[Any]] | None = None,
        regions_of: Any = None,
    ) -> Any:
        from genozarr.ingest import build_store
        from genozarr.sources import is_remote
        from genozarr.store.builder import reuse_cached, store_location
        from genozarr.store.cache import cache_key
        from genozarr.store.recipe import make_recipe

        check_name(name)
        if not (chrom_map is None or (isinstance(chrom_map, str) and chrom_map == "auto")
                or isinstance(chrom_map, Mapping)):
            # (create_from_bed never looked at it: chrom_map='Auto' was ignored)
            raise ArgumentError(f"chrom_map must be None, 'auto' or a mapping {{region name: "
                                f"name in the file}}, got {chrom_map!r}")
        storage = normalise_storage(storage)
        dtype = check_store_dtype(getattr(source, "dtype", "float32"))
        check_storage(dtype, storage)
        cache, overwrite, channel_last, zero_padding, store_whole_genome = (
            check_bool(k, v) for k, v in (
                ("cache", cache), ("overwrite", overwrite), ("channel_last", channel_last),
                ("zero_padding", zero_padding), ("store_whole_genome", store_whole_genome)))
        binsize = _int_or_none("binsize", binsize)
        stepsize = _int_or_none("stepsize", stepsize)
        resolution = _int_or_none("resolution", resolution)
        flank = _int_or_none("flank", flank, 0) or 0
        # (resolution=None stores bins of binsize in the whole-genome layout)
        bins = resolution if resolution is not None or not store_whole_genome else binsize
        if bins is not None and flank % bins and store_whole_genome:
            # (windows must start on the store's bins; in the partial layout a window's
            # length, binsize + 2 x flank, must hold whole bins: checked by the build)
            raise ArgumentError(
                f"flank {flank} is not divisible by resolution {bins}"
                f"{' (resolution=None: bins of binsize)' if resolution is None else ''} "
                "(store_whole_genome=True: windows must start on the bins)")
        if binsize is not None and resolution is not None and binsize % resolution:
            raise ArgumentError(
                f"binsize {binsize} is not divisible by resolution {resolution}; choose a "
                "binsize that is a multiple of the resolution")
        # genome: chromosome lengths (region names) from genomesize or the first file
        file_sizes = source.file_chrom_sizes(0)
        sizes = chrom_sizes(genomesize) if genomesize is not None else None
        regions = None
        all_chroms = False
        tiled = False  # windows tiling the chromosome lengths: each starts on its chromosome
        if gindexer is None:
            if roi is None and binsize is None:
                # Janggu: the whole genome is stored and read by genomic interval; windows
                # are attached later by assigning gindexer
                store_whole_genome = True
                gindexer = GenomicIndexer(np.array([], dtype=object), np.array([], np.int64),
                                          np.array([], np.int64), np.array([], dtype=object),
                                          None, None, flank)
                all_chroms = True
            elif roi is None:
                gindexer = GenomicIndexer.create_from_genome(
                    sizes if sizes is not None else {k: v for k, v in file_sizes.items() if v},
                    binsize, stepsize, flank, zero_padding, random_state)
                tiled = True
            else:
                regions = load_regions(roi, feature=feature)
                gindexer = GenomicIndexer._from_frame(
                    regions, binsize, stepsize, flank, zero_padding,
                    collapse=resolution is None, random_state=random_state)
        chroms = list(dict.fromkeys(str(c) for c in dict.fromkeys(gindexer.chrs.tolist())))
        if all_chroms or (tiled and store_whole_genome):
            # (Janggu's whole-genome store over roi=None: every chromosome, also one too
            # short for a window without zero_padding, read by interval and fitted on)
            chroms = [str(c) for c, v in (sizes if sizes is not None else file_sizes).items()
                      if v]
        if sizes is not None:
            unknown = [c for c in chroms if c not in sizes]
            if unknown:  # genome sizes named as the files are: chrom_map matches them too
                from genozarr.genome import chrom_mapping

                named = chrom_mapping(
                    unknown, sizes, f"genomesize {os.fspath(genomesize)}"
                    if isinstance(genomesize, (str, os.PathLike)) else "genomesize",
                    chrom_map)
                sizes = {**sizes, **{c: sizes[named[c]] for c in unknown}}
        source.resolve_chroms(chroms, chrom_map)
        where: str | dict[str, str] = f"genomesize {os.fspath(genomesize)}" \
            if isinstance(genomesize, (str, os.PathLike)) else "genomesize"
        if sizes is None:
            sizes, where = {}, {}
            # (each file's sizes asked once: a BED source works them out at each call, so
            # asking per chromosome was chromosomes x features)
            known = [source.file_chrom_sizes(i) for i in range(len(source.files))]
            for c in chroms:  # the length the input files that have it agree on
                # (length, file, the file's name of it): those that have it
                held = [(int(known[i].get(source.chrom_names[i][c], 0)),
                         str(source.files[i]), source.chrom_names[i][c])
                        for i in range(len(source.files))]
                held = [h for h in held if h[0]]
                if len({h[0] for h in held}) > 1:
                    (n1, f1, c1), (n2, f2, c2) = held[0], next(
                        h for h in held if h[0] != held[0][0])
                    raise GenomeMismatchError(
                        f"chromosome {c} is {n1:,} bp long in {f1}"
                        f"{f' (as {c1})' if c1 != c else ''} but {n2:,} bp in {f2}"
                        f"{f' (as {c2})' if c2 != c else ''}: "
                        "the input files come from different genome builds (hg19 and hg38 "
                        "name their chromosomes alike), so the same position holds other "
                        "bases in each. Use files of one build, or pass genomesize to state "
                        "the lengths (a file's positions past its own length then read as "
                        "padding, 0)")
                sizes[c] = held[0][0] if held else 0
                # (named after where the lengths come from: a BED file holds none)
                where[c] = held[0][1] if held else str(source.files[0])
        region_sizes = {c: sizes[c] for c in chroms}
        if any(region_sizes.values()) and not tiled:
            # a region must start on its chromosome; its tail (and tail windows) past the
            # end are padded. Windows given as a GenomicIndexer made from regions (a
            # personal genome's, ``regions_of``): the regions are checked, as when given
            frame = regions if regions is not None else regions_of \
                if regions_of is not None else gindexer.to_dataframe()
            known = frame["chrom"].map(region_sizes) > 0
            check_within(frame[known], region_sizes, where)
        if store_whole_genome:
            if resolution is None:
                if binsize is None:
                    raise ArgumentError("store_whole_genome=True with resolution=None needs binsize")
                resolution = binsize
            _check_window_starts(gindexer, resolution)  # (before a store is built)
            missing = [c for c, v in region_sizes.items() if v == 0]
            if missing and genomesize is None and len(gindexer):
                # a chromosome no input file has (read as zeros, with a warning): as Janggu,
                # it extends to the largest end of the regions on it (flank included)
                frame = regions if regions is not None else gindexer.to_dataframe()
                ends = frame.groupby("chrom", sort=False)["end"].max()
                for c in missing:
                    if c in ends.index:
                        region_sizes[c] = int(ends[c]) + flank
                missing = [c for c, v in region_sizes.items() if v == 0]
            if missing:
                raise ArgumentError(
                    f"store_whole_genome=True needs chromosome lengths for {missing[:5]}; pass "
                    "genomesize (dict or .chrom.sizes file)")
        norms: list[Any] = []
        if normalizer is not None:
            from genozarr.ops.normalizers import resolve_normalizers

            norms = resolve_normalizers(normalizer)
        # where the store goes, and whether a cached one can be reused
        key = None
        path = None
        if cache or storage == "zarr" or store is not None:
            regions_key: dict[str, np.ndarray] = {}
            if not store_whole_genome:
                chrs, starts, ends, strands = gindexer.as_arrays()
                regions_key = {"chrom": chrs, "start": starts, "end": ends}
                if gindexer.names is not None:  # names are stored: they make the store
                    regions_key["name"] = np.asarray(gindexer.names, dtype=object)
            # a whole-genome store holds every base whatever the windows: their tiling
            # (binsize, stepsize, flank, zero_padding) is recorded by _record_served, not
            # keyed, so another tiling over the genome reuses the store
            tiling = ("binsize", "stepsize", "flank", "zero_padding")
            # an input's path recorded in the recipe (a personal genome's VCF) is not
            # keyed: its content is, with source.files, so a moved file reuses the store
            key_args = dict({k: v for k, v in args.items() if k != "variants"
                             and not (store_whole_genome and k in tiling)},
                            kind=source.kind, resolution=resolution,
                            # (the columns in their order: the key's dicts are sorted)
                            condition_metadata=[[c, list(v)] for c, v in
                                                condition_metadata.items()]
                            if condition_metadata else {},
                            whole_genome=store_whole_genome, conditions=source.conditions,
                            # the partial layout's chromosome lengths are the files'
                            # (in the key with them) unless given: then they are keyed,
                            # in their order (the store's and its exports' chromosome
                            # order; the key's dicts are sorted)
                            chroms=[[c, n] for c, n in region_sizes.items()]
                            if store_whole_genome or genomesize is not None else None,
                            seqtype=seqtype)
            from genozarr.config import layout_choices

            if layout_choices():  # another chunking or codec: another store
                key_args["layout"] = layout_choices()
            if (source.kind == "coverage" and getattr(source, "nan_to_num", True) is False) \
                    or (seqtype is not None and seqtype != "dna"):
                # bases outside a chromosome hold the pad value, no longer NaN (BigWig,
                # nan_to_num=False) or 'N' (asparagine for protein): a store cached
                # before is built again, not reused
                key_args["outside_chromosome"] = "pad"
            if getattr(source, "pairedend", None) == "midpoint" and store_whole_genome:
                # every fragment at its midpoint across blocks (before: some dropped)
                key_args["midpoints"] = "all"
            if getattr(source, "pairedend", None) == "midpoint":
                # read 1 placed past the chromosome end counts at its fragment's midpoint
                # (before: not fetched): a store cached before is built again
                key_args["read1_past_end"] = "fetched"
            # which contig of each file a region chromosome reads (chrom_map, 'auto'):
            # another mapping, other data; left out where every name is its own
            renamed = [{c: str(n) for c, n in names.items() if c != n}
                       for names in getattr(source, "chrom_names", None) or []]
            if any(renamed):
                key_args["chrom_names"] = renamed
            # normalizers are not in the key: the store holds raw values, and a dataset
            # with other normalizers reuses it (its recipe records the served settings)
            files = [f for f in source.files if is_remote(f) or os.path.isfile(f)]
            key = cache_key(files, regions_key, key_args)
            path = store_location(name, key, store)
        recipe_args = dict(args, resolution=resolution, store_whole_genome=store_whole_genome,
                           conditions=list(source.conditions), chroms=region_sizes,
                           seqtype=seqtype)
        inputs = list(source.files)
        if isinstance(roi, (str, os.PathLike)):
            recipe_args["roi"] = str(roi)
            inputs.append(str(roi))
        recipe = make_recipe(cls.__name__, constructor, recipe_args, inputs,
                             channel_last=channel_last, order=order)
        built: Store | None = None
        if cache and not overwrite and path is not None:
            built = reuse_cached(path, key, storage, storage_options)
        fresh = built is None  # built here: its recipe holds these windows already
        extra = {} if order is None else {"order": order, "seqtype": seqtype}
        if built is None:
            def served(new: Store) -> dict[str, Any]:
                # the normalizers fitted on the new version before it is published: a
                # reader never opens it without them (nor a build stopped here leaves it so)
                from genozarr.store.recipe import jsonable

                unpublished = cls(name, gindexer, new, channel_last=channel_last,
                                  normalizers=norms, **extra)
                unpublished._fit_normalizers()
                return jsonable(unpublished._served())

            built = build_store(
                source, gindexer, name=name, whole_genome=store_whole_genome,
                resolution=resolution, chroms=region_sizes, storage=storage, path=path,
                cache_key=key, storage_options=storage_options, recipe=recipe,
                seqtype=seqtype, overwrite=overwrite, condition_metadata=condition_metadata,
                keep_same_key=bool(cache), before_publish=served if norms else None,
                # windows past the lengths given are padding, as in the whole-genome
                # layout (a personal genome's windows follow its haplotypes instead)
                limits=region_sizes if genomesize is not None
                and getattr(source, "positional", True) else None)
            # a version another build published first was kept: its windows are that build's
            fresh = not built.kept_existing
        obj = cls(name, gindexer, built, channel_last=channel_last, normalizers=norms, **extra)
        if norms:
            obj._fit_normalizers()
        obj._record_served(storage_options, windows_recorded=fresh, built_recipe=recipe)
        return obj

    def _served(self) -> dict[str, Any]:
        """The served part of this dataset's recipe (see :mod:`genozarr.store.recipe`)."""
        served: dict[str, Any] = {"normalizers": [n.to_dict() for n in self.normalizers],
                                  "channel_last": self.channel_last}
        if isinstance(self, Bioseq):
            served["order"] = self.order
        return served

    def _record_served(self, storage_options: dict[str, Any] | None = None, *,
                       windows_recorded: bool = False,
                       built_recipe: dict[str, Any] | None = None) -> None:
        """Record the served settings (and whole-genome windows) in the store's recipe
        where they differ from what it holds, so :func:`open_dataset` gives this dataset.
        ``windows_recorded``: the store was just built over this dataset's windows, so
        reading its windows back to compare them is skipped. ``built_recipe``: the recipe
        of the build that reuses the store; where it records other windows, the regions it
        names (``args['roi']`` and the inputs) are recorded with them."""
        from genozarr.store.recipe import jsonable, read_windows, update_served

        store = self.garray
        served = jsonable(self._served())
        recipe = store.meta.recipe
        changed = {k: v for k, v in served.items() if recipe.get(k) != v}
        windows = None
        coords = None
        table = store.region_table
        if not store.whole_genome and not windows_recorded and table is not None:
            # a store reused for the same windows on other strands (strands are not in
            # the key: rows are stored in genomic orientation) records this dataset's
            rows = np.arange(len(self.gindexer)) if self._rows is None else self._rows
            stored = np.asarray(table["strand"]).astype(str)
            mine = stored.copy()
            mine[rows] = np.asarray(self.gindexer.strand).astype(str)
            if not np.array_equal(stored, mine):
                table.replace("strand", mine)
                coords = {"region_strand": (("region",), mine.astype(object))}
        if store.whole_genome and not windows_recorded:
            gi = self.gindexer
            mine = (gi.chrs.astype(str), gi.starts, gi.ends, gi.strand.astype(str), gi.names)
            stored = None
            if store.path is not None:
                # a store held in memory (storage='ndarray') keeps no zarr group: its
                # windows are read from the store on disk (they were recorded anew, the
                # store rewritten, at each reuse)
                on_disk = store if getattr(store.backend, "group", None) is not None \
                    else load_store(store.path, "zarr", storage_options)
                stored = read_windows(on_disk)
            if stored is None or not all(_same_values(a, b) for a, b in zip(stored, mine)):
                windows = mine
            # the windows' tiling, which open_dataset restores them with (a store reused
            # for another binsize, stepsize, flank or zero_padding: not in its cache key)
            meta = store.meta
            tiling = {"binsize": gi.binsize, "stepsize": gi.stepsize, "flank": int(gi.flank)}
            args = dict(recipe.get("args") or {})
            want = jsonable(dict(tiling, zero_padding=bool(gi.zero_padding)))
            given = dict(args)  # as the build was called: a stepsize of None is the binsize
            if given.get("stepsize") is None:
                given["stepsize"] = given.get("binsize")
            if any(getattr(meta, k) != v for k, v in tiling.items()) or \
                    any(given.get(k) != v for k, v in want.items()):
                meta.binsize, meta.stepsize, meta.flank = (tiling["binsize"],
                                                           tiling["stepsize"], tiling["flank"])
                changed["args"] = dict(args, **want)
            if built_recipe is not None and (windows is not None or "args" in changed):
                # the windows of another region list: the recipe names that list (a path,
                # and its digest among the inputs), or none (regions given as a frame)
                args = dict(changed.get("args") or args)
                roi = (built_recipe.get("args") or {}).get("roi")
                if args.get("roi") != roi:
                    args.pop("roi", None)
                    if roi is not None:
                        args["roi"] = roi
                    changed["args"] = args
                if recipe.get("inputs") != built_recipe.get("inputs"):
                    changed["inputs"] = built_recipe.get("inputs")
        if not changed and windows is None and coords is None:
            return
        if store.path is None:
            store.meta.recipe = dict(recipe, **changed)
            return
        try:
            update_served(store.path, storage_options, store.meta, changed, windows, coords)
        except StoreError as e:
            # a store this process may not write (a shared read-only cache, a full disk):
            # the dataset serves its settings all the same; only the record is left out
            from genozarr.store.open import UNWRITABLE_ERRNOS

            if getattr(e.__cause__, "errno", None) not in UNWRITABLE_ERRNOS:
                raise
            what = ", ".join(sorted(changed)) or "windows"
            from genozarr.errors import warn

            warn(f"{store.path}: this dataset's settings ({what}) are served but not "
                 f"recorded in the store ({e}); open_dataset() of it gives the settings "
                 "recorded before", GenozarrWarning)

    def _fit_view(self) -> Any:
        """The raw values normalizers are fitted on, as a lazy xarray object: the store,
        cut to this dataset's rows in the partial layout (a view's own windows); a
        whole-genome store whole (every stored value enters, as in Janggu)."""
        from genozarr.store.view import as_xarray

        # in the dtype batches are normalized in (_normalize: float32 at least): a callable
        # fitted on an int16 or float16 store saw values wrapped or rounded where the
        # served batches' were not, and its fitted successors took the wrong statistics
        ds = as_xarray(self.garray, through_backend=True, widen=True)
        if self.garray.whole_genome and not self.garray.meta.chroms:
            # no chromosome stored (no region held a window): fitted on no values, as a
            # partial-layout dataset of no window is (a tree without data arrays is none)
            import xarray as xr

            meta = self.garray.meta
            empty = np.zeros((0, 1, len(meta.strands), len(meta.conditions)), np.float32)
            return xr.Dataset({"data": (("region", "position", "strand", "condition"), empty)},
                              coords={"strand": list(meta.strands),
                                      "condition": list(meta.conditions)},
                              attrs=dict(ds.attrs))
        if self._rows is not None:
            n = ds.sizes.get("region", len(self._rows))
            if len(self._rows) != n or not np.array_equal(np.sort(self._rows), np.arange(n)):
                ds = ds.isel(region=self._rows)
        return ds

    def _fit_normalizers(self) -> None:
        """Fit unfitted normalizers on this dataset's raw values, in order, each on the
        output of the previous ones (dask reductions over a lazy view of the store: one
        chunk at a time, sparse rows densified per chunk). Fitted ones are kept as they are.
        """
        if not self.normalizers:
            return
        from genozarr.ops import normalizers

        with normalizers.FIT_LOCK:  # (a normalizer shared with a dataset built in another
            # thread: fitted, and copied, by one thread at a time)
            self._fit_normalizers_locked()

    def _fit_normalizers_locked(self) -> None:
        if all(getattr(n, "fitted", True) for n in self.normalizers):
            # nothing to fit (a new store's normalizers are fitted before it is published):
            # no lazy view of the store to open
            self._check_normalizer_shapes()
            self._own_statistics()
            return
        ds = self._fit_view()
        for i, norm in enumerate(self.normalizers):
            if hasattr(norm, "fit"):
                norm.fit(ds)
            if i + 1 < len(self.normalizers) and hasattr(norm, "transform"):
                order = self._condition_order(norm)
                if order is None:
                    ds = norm.transform(ds)
                else:  # statistics fitted on the conditions in another order
                    ds = norm.transform(ds.isel(condition=order[0])).isel(condition=order[1])
        self._check_normalizer_shapes()
        self._own_statistics()

    def _own_statistics(self) -> None:
        """Serve with copies of the fitted normalizers (the objects given stay fitted, to
        be reused for other datasets): as Janggu normalized at build time, a shared object
        reset and refitted elsewhere, or a statistic of it edited, does not change what
        this dataset serves, nor set it apart from the statistics its store records.
        Views share the copies. A normalizer that is not genozarr's, a function (which
        holds no statistics; it may hold what cannot be copied, or much memory), and one
        that cannot be copied are kept as given."""
        from genozarr.ops.normalizers import FunctionNormalizer, Normalizer

        def own(norm: Any) -> Any:
            if not isinstance(norm, Normalizer) or isinstance(norm, FunctionNormalizer):
                return norm
            try:
                return copy.deepcopy(norm)
            except Exception:  # noqa: BLE001 - a subclass holding a lock, an open file
                return norm

        self.normalizers = [own(n) for n in self.normalizers]

    def _check_normalizer_shapes(self, warn: bool = True) -> None:
        """Refuse fitted statistics of another shape than this dataset's (strand,
        condition): a normalizer fitted on 2 conditions and reused on 1 would broadcast
        the batch to 2, one fitted on 1 condition would serve its statistics for all.
        Statistics restored from a store's recipe count as fitted unless the recipe says
        they were given. Statistics fitted on other condition names apply by position,
        with a warning (see :meth:`_condition_order`)."""
        n_s, n_c = self.garray.n_strands, self.garray.n_conditions
        for norm in self.normalizers:
            params = norm.params() if hasattr(norm, "params") else {}
            given = getattr(norm, "_given", True)
            # a flag per statistic (ZScore's mean and std): one given, the other fitted
            per_stat = dict(zip(getattr(norm, "_statistics", ()), given)) \
                if isinstance(given, tuple) else {}
            stats = [(key, value, not per_stat.get(
                key, any(given) if isinstance(given, tuple) else given))
                for key, value in params.items()
                if isinstance(value, np.ndarray) and value.ndim == 2]
            name = getattr(norm, "name", type(norm).__name__)
            strands = getattr(norm, "strands", None)
            if strands is not None and strands != n_s and any(f for _, _, f in stats):
                # (pooled statistics of two strands describe each strand's values, not
                # their sum in unstranded data: their shape, (1, C), fits either)
                raise ArgumentError(
                    f"normalizer {name!r} was fitted on data of {strands} strand(s); "
                    f"dataset {self.name!r} has {n_s} strand(s) and {n_c} condition(s). "
                    "Fit it on data of this shape: pass an unfitted one (its name), or "
                    "call its reset() first")
            for key, value, fitted in sorted(stats, key=lambda t: not t[2]):  # fitted first
                s, c = value.shape
                if s in (1, n_s) and (c == n_c or (c == 1 and not fitted)):
                    continue
                raise ArgumentError(
                    f"normalizer {name!r} holds {key} "
                    f"of shape {value.shape} (strand, condition), "
                    f"{'fitted on' if fitted else 'given for'} data of another shape; "
                    f"dataset {self.name!r} has {n_s} strand(s) and {n_c} condition(s). Fit "
                    "the normalizer on data of this shape: pass an unfitted one (its "
                    "name), or call its reset() first")
            self._condition_order(norm, warn=warn)

    def _condition_order(self, norm: Any,
                         warn: bool = False) -> tuple[np.ndarray, np.ndarray] | None:
        """How to match ``norm``'s per-condition statistics to this dataset's conditions
        by name: None where they apply as they are (same names in the same order; names
        unknown, as for given statistics or an older recipe: by position; statistics with
        one value for every condition: broadcast; other names: by position, with a
        :class:`~genozarr.errors.ConditionNamesWarning` when ``warn``); else
        ``(to_fitted, back)``, the condition indices that put a batch in the order the
        statistics were fitted in (``x[..., to_fitted]``) and the ones that restore this
        dataset's order."""
        fitted_on = getattr(norm, "conditions", None)
        if fitted_on is None:
            return None
        # worked out once per fit (a batch of a store of thousands of conditions would
        # otherwise pay for the names each time)
        cache = self.__dict__.setdefault("_condition_orders", {})
        hit = cache.get(id(norm))
        if hit is not None and hit[0] is fitted_on and not warn:
            return hit[1]
        order = self._match_conditions(norm, fitted_on, warn)
        cache[id(norm)] = (fitted_on, order)
        return order

    def _match_conditions(self, norm: Any, names: list[str],
                          warn: bool) -> tuple[np.ndarray, np.ndarray] | None:
        """:meth:`_condition_order` of ``norm`` fitted on the conditions ``names``."""
        mine = [str(c) for c in (self.garray.meta.conditions or [])]
        fitted_on = [str(c) for c in names]
        if not mine or fitted_on == mine:
            return None
        params = norm.params() if hasattr(norm, "params") else {}
        if not any(isinstance(v, np.ndarray) and v.ndim == 2 and v.shape[1] > 1
                   for v in params.values()):
            return None  # one value for every condition: nothing to match by name
        if sorted(fitted_on) == sorted(mine) and len(set(mine)) == len(mine):
            at_mine = {c: i for i, c in enumerate(mine)}
            at_fitted = {c: i for i, c in enumerate(fitted_on)}
            return (np.array([at_mine[c] for c in fitted_on]),
                    np.array([at_fitted[c] for c in mine]))
        if warn:  # other names (statistics of one cell line's tracks reused on another's)
            from genozarr.errors import ConditionNamesWarning
            from genozarr.errors import warn as _warn

            _warn(f"normalizer {getattr(norm, 'name', type(norm).__name__)!r} was fitted on "
                  f"the conditions {fitted_on}, dataset {self.name!r} has the conditions "
                  f"{mine}: its statistics are applied by position ({fitted_on[0]!r}'s to "
                  f"{mine[0]!r}, ...). Where the same tracks have other names, give the "
                  "dataset the training set's names (conditions=...) to match them by "
                  "name; set the normalizer's .conditions = None to apply it by position "
                  "without this warning", ConditionNamesWarning)
        return None


#: per store (held weakly: an id could be a later store's), the chromosomes of interval
#: reads already warned to fall outside every window of the partial-layout store
_TOLD_NO_WINDOWS: weakref.WeakKeyDictionary[Store, set[str]] = weakref.WeakKeyDictionary()


class Cover(Dataset):
    """Coverage tracks (BAM, BigWig, BED, arrays) over genomic windows.

    ``cover[i]`` has shape ``(binsize // resolution + 2 * flank // resolution, strand,
    condition)`` (``channel_last=True``); ``resolution=None`` gives length 1.
    """

    @property
    def conditions(self) -> list[str]:
        """Condition (channel) names."""
        return list(self.garray.meta.conditions)

    @property
    def condition_metadata(self) -> Any:
        """Per-condition metadata (a :class:`pandas.DataFrame` indexed by condition, one
        column per sample-sheet metadata column; empty without a sample sheet)."""
        import pandas as pd

        from genozarr.store.layout import metadata_kind, metadata_values

        meta = self.garray.meta
        index = pd.Index(meta.conditions, name="condition")
        # each column as the store's coordinates keep it (a store of an older release
        # may hold a column's raw values where they are now text); text as objects, None
        # where missing (pandas 3 would make it its string dtype, missing values NaN)
        return pd.DataFrame(
            {c: pd.Series(metadata_values(v), index=index,
                          dtype=object if metadata_kind(v) == "text" else None)
             for c, v in meta.condition_metadata.items()}, index=index)

    @classmethod
    def create_from_bigwig(
        cls, name: str, bigwigfiles: FilesLike,
        roi: RegionsLike | None = None, genomesize: Any = None,
        conditions: Sequence[str] | None = None, binsize: int | None = None,
        stepsize: int | None = None, resolution: int | None = 1, flank: int = 0,
        storage: str = "ndarray", dtype: str = "float32", overwrite: bool = False,
        datatags: Any = None, cache: bool = False, store_whole_genome: bool = False,
        zero_padding: bool = True, normalizer: Any = None,
        collapser: str | Callable[..., Any] | None = None, random_state: Any = None,
        nan_to_num: bool = True, verbose: bool = False, *, channel_last: bool = True,
        store: PathLike | None = None, chrom_map: Any = None,
        storage_options: dict[str, Any] | None = None, feature: str | None = None,
        input_storage_options: dict[str, Any] | None = None,
    ) -> Cover:
        """Coverage from BigWig files, one condition per file.

        The positional arguments are Janggu's, in Janggu's order; the others are
        keyword-only.

        Parameters
        ----------
        name
            Dataset name (also names its store directory).
        bigwigfiles
            One BigWig path, a list, or a sample sheet (CSV/TSV path or DataFrame with
            ``file``, ``condition`` and metadata columns; see :mod:`genozarr.samples`).
        roi
            Regions of interest (BED/GFF path, DataFrame, PyRanges); None tiles the genome.
        genomesize
            Chromosome lengths (dict or file) restricting or supplying the files' ones.
        conditions
            Condition names; default: file names without extension.
        binsize, stepsize
            Window length and step in bp (see GenomicIndexer).
        resolution
            Bases per bin; None gives one value per window.
        flank
            Bases added on each side of a window (see GenomicIndexer).
        storage
            'ndarray', 'sparse', 'zarr' ('hdf5' maps to 'zarr').
        dtype
            Stored and returned dtype (``'float16'`` halves the bytes: see the docs'
            tuning page). ``'bfloat16'`` (``storage='zarr'`` only) halves them too and
            keeps float32's range with 8 significant bits; it is served as float32. A
            value the dtype cannot hold (past 65504 in float16, NaN or out of range in an
            integer dtype) raises ArgumentError during the build. An integer dtype
            truncates fractional values toward zero (as ``numpy.astype``: 2.9 is stored
            as 2, -0.5 as 0), with no error; normalizers are fitted on and applied to
            the stored values. With a normalizer, values are served as
            ``numpy.result_type(dtype, 'float32')``: float32 for float16, bfloat16,
            float32 and integers of up to 16 bits, float64 for float64 and wider
            integers.
        overwrite
            Rebuild even if a cached store matches.
        cache
            Reuse a store whose content hash (files, regions, arguments) matches.
        channel_last
            False moves the condition axis to position 1.
        normalizer
            Name, normalizer object, callable or a list of them (see genozarr.ops). A
            callable receives a batch ``(windows, position, strand, condition)`` and must
            return an array of the same shape (another shape raises ArgumentError). A
            fitted normalizer is matched to this dataset's conditions by name (see
            :mod:`genozarr.ops.normalizers`).
        collapser
            'sum', 'mean' (default), 'max' or a callable over (bins, resolution, strand).
        zero_padding
            Keep partial windows at region ends, padded with zeros.
        random_state
            Seed for a load-time permutation of the windows.
        store_whole_genome
            Store whole chromosomes (windows read from them) instead of one row per window.
        nan_to_num
            Missing BigWig values (NaN) become 0. With False they stay NaN, and a collapser
            that meets one gives NaN for its whole bin (``'mean'``, ``'sum'``, ``'max'``,
            ``'min'``, as numpy's, as in Janggu); ``np.nanmean`` or another NaN-aware
            function as ``collapser`` leaves them out instead.
        verbose
            Show a progress bar for the build (as ``set_options(progress=True)``);
            False leaves it to the ``progress`` option (Janggu's flag).
        datatags
            Accepted and ignored (Janggu's labels of cached files).
        store
            Path or URL of the zarr store (default: under the output directory).
        chrom_map
            'auto' or a dict to match ``chr1``/``1`` (and ``chrM``/``MT``) naming differences.
        storage_options
            fsspec options for remote stores.
        feature
            GFF feature type to keep when ``roi`` is a GFF/GTF file.
        input_storage_options
            fsspec options (credentials, endpoint) for input files given as URLs
            (``http(s)://``, ``s3://``), or a dict of them by protocol (``{"s3": {...},
            "https": {...}}``); remote inputs are copied once into
            ``<output root>/inputs`` (see :mod:`genozarr.io._remote`).

        Returns
        -------
        Cover
        """
        from genozarr.samples import resolve_inputs
        from genozarr.sources import BigWigSource, as_file_list

        _janggu_datatags(datatags)
        bigwigfiles, conditions, sheet_meta = resolve_inputs(
            bigwigfiles, conditions, "BigWig", input_storage_options)
        files = as_file_list(bigwigfiles, "BigWig", storage_options=input_storage_options)
        fetch_inputs({"regions": roi, "genome sizes": genomesize}, input_storage_options)
        nan_to_num = check_bool("nan_to_num", nan_to_num)  # ("false" from a spec: an error)
        source = BigWigSource(files, conditions, nan_to_num=nan_to_num, collapser=collapser,
                              dtype=dtype)
        args = dict(source="bigwig", nan_to_num=nan_to_num, collapser=source.collapser,
                    dtype=dtype, binsize=binsize, stepsize=stepsize, flank=flank,
                    zero_padding=zero_padding)
        return cls._create(
            name, source, verbose=verbose,
            constructor="create_from_bigwig", condition_metadata=sheet_meta, roi=roi,
            genomesize=genomesize, binsize=binsize, stepsize=stepsize, flank=flank,
            resolution=resolution, storage=storage, cache=cache, overwrite=overwrite,
            channel_last=channel_last, zero_padding=zero_padding, random_state=random_state,
            store_whole_genome=store_whole_genome, store=store, args=args,
            normalizer=normalizer, chrom_map=chrom_map, storage_options=storage_options,
            feature=feature)

    @classmethod
    def create_from_bam(
        cls, name: str, bamfiles: FilesLike,
        roi: RegionsLike | None = None, genomesize: Any = None,
        conditions: Sequence[str] | None = None, min_mapq: float | None = None,
        binsize: int | None = None, stepsize: int | None = None, flank: int = 0,
        resolution: int | None = 1, storage: str = "ndarray", dtype: str = "float32",
        stranded: bool = True, overwrite: bool = False, pairedend: str = "5prime",
        template_extension: int = 0, datatags: Any = None, cache: bool = False,
        normalizer: Any = None, zero_padding: bool = True, random_state: Any = None,
        store_whole_genome: bool = False, verbose: bool = False, *,
        aggregate: Callable[..., Any] | None = None, channel_last: bool = True,
        store: PathLike | None = None, include_flagged: bool = False,
        chrom_map: Any = None, storage_options: dict[str, Any] | None = None,
        feature: str | None = None, input_storage_options: dict[str, Any] | None = None,
    ) -> Cover:
        """Read 5'-end coverage from BAM files, one condition per file.

        Reads are counted once at their 5' end (forward: ``reference_start``; reverse: the
        last reference base the alignment spans, ``reference_end - 1``, as ``bedtools
        genomecov -5``; a deletion at a read's end is spanned too). Unmapped (0x4),
        secondary (0x100) and supplementary (0x800) reads are always skipped; QC-fail
        (0x200) and duplicate (0x400) reads unless ``include_flagged=True``. See
        :func:`genozarr.io.bam.count_5prime` for paired-end handling.

        The positional arguments are Janggu's, in Janggu's order; the others are
        keyword-only.

        Parameters
        ----------
        name, roi, genomesize, conditions, binsize, stepsize, flank, storage, dtype
            As in :meth:`create_from_bigwig`.
        overwrite, datatags, cache, normalizer, zero_padding, random_state
            As in :meth:`create_from_bigwig`.
        store_whole_genome, verbose, channel_last, store, chrom_map, storage_options
            As in :meth:`create_from_bigwig`.
        feature, input_storage_options
            As in :meth:`create_from_bigwig`.
        bamfiles
            One BAM path or a list (indexed), or a sample sheet (see
            :mod:`genozarr.samples`).
        min_mapq
            Skip reads with a lower mapping quality (a fractional value rounds up: 20.5
            keeps reads of quality 21 and more).
        resolution
            Bases per bin; counts are summed within a bin; None: one count per window.
        stranded
            Keep forward/reverse counts as two strand channels; False sums them.
        pairedend
            '5prime' counts both mates at their 5' ends (as Janggu); 'midpoint' counts read
            1 once at the fragment midpoint.
        template_extension
            Janggu's argument; genozarr finds every fragment whose midpoint lies in a
            window (``pairedend='midpoint'``) whatever it is: reads are fetched at least
            this far (bp) beyond each window, and farther where fragments are longer.
        aggregate
            Optional callable applied to each window's counts after reading (Janggu),
            before the normalizers (which are fitted on its output). It receives a batch
            ``(windows, position, strand, condition)`` and must return an array of the
            same shape, treating each value independently (``numpy.log1p``); another
            shape raises ArgumentError naming it and both shapes. To sum the strands, use
            ``stranded=False``.
        include_flagged
            Count QC-fail (0x200) and duplicate (0x400) reads too.

        Returns
        -------
        Cover
        """
        from genozarr.samples import resolve_inputs
        from genozarr.sources import BamSource, as_file_list

        if pairedend == "5pend":  # Janggu's spelling
            pairedend = "5prime"
        _janggu_datatags(datatags)
        bamfiles, conditions, sheet_meta = resolve_inputs(
            bamfiles, conditions, "BAM", input_storage_options)
        files = as_file_list(bamfiles, "BAM", storage_options=input_storage_options)
        fetch_inputs({"regions": roi, "genome sizes": genomesize}, input_storage_options)
        stranded = check_bool("stranded", stranded)  # ("false" from a spec: an error)
        include_flagged = check_bool("include_flagged", include_flagged)
        source = BamSource(files, conditions, stranded=stranded, min_mapq=min_mapq,
                           pairedend=pairedend, template_extension=template_extension,
                           include_flagged=include_flagged, dtype=dtype)
        args = dict(source="bam", stranded=stranded, min_mapq=min_mapq, pairedend=pairedend,
                    template_extension=template_extension, include_flagged=include_flagged,
                    dtype=dtype, binsize=binsize, stepsize=stepsize, flank=flank,
                    zero_padding=zero_padding)
        if aggregate is not None:  # applied first, so fitted normalizers see its output
            if not callable(aggregate):  # (a text value was taken for a normalizer name:
                # "unknown normalizer 'false'")
                raise ArgumentError(f"aggregate must be a callable applied to each window's "
                                    f"counts (numpy.log1p), or None; got {aggregate!r}")
            rest = [] if normalizer is None else (
                list(normalizer) if isinstance(normalizer, (list, tuple)) else [normalizer])
            normalizer = [aggregate, *rest]
        cover = cls._create(
            name, source, verbose=verbose,
            constructor="create_from_bam", condition_metadata=sheet_meta, roi=roi,
            genomesize=genomesize, binsize=binsize, stepsize=stepsize, flank=flank,
            resolution=resolution, storage=storage, cache=cache, overwrite=overwrite,
            channel_last=channel_last, zero_padding=zero_padding, random_state=random_state,
            store_whole_genome=store_whole_genome, store=store, args=args,
            normalizer=normalizer, chrom_map=chrom_map, storage_options=storage_options,
            feature=feature)
        return cover

    @classmethod
    def create_from_bed(
        cls, name: str, bedfiles: FilesLike,
        roi: RegionsLike | None = None, genomesize: Any = None,
        conditions: Sequence[str] | None = None, binsize: int | None = None,
        stepsize: int | None = None, resolution: int | None = 1, flank: int = 0,
        storage: str = "ndarray", dtype: str = "float32", mode: str = "binary",
        store_whole_genome: bool = False, overwrite: bool = False, zero_padding: bool = True,
        normalizer: Any = None, collapser: str | Callable[..., Any] | None = None,
        minoverlap: float | None = None, random_state: Any = None, datatags: Any = None,
        cache: bool = False, verbose: bool = False, *, channel_last: bool = True,
        store: PathLike | None = None, chrom_map: Any = None,
        storage_options: dict[str, Any] | None = None, feature: str | None = None,
        input_storage_options: dict[str, Any] | None = None,
    ) -> Cover:
        """Coverage of BED features.

        The positional arguments are Janggu's, in Janggu's order; the others are
        keyword-only.

        Parameters
        ----------
        name, roi, genomesize, conditions, binsize, stepsize, flank, resolution, storage
            As in :meth:`create_from_bigwig`.
        dtype, overwrite, datatags, cache, normalizer, zero_padding, random_state
            As in :meth:`create_from_bigwig`.
        store_whole_genome, verbose, channel_last, store, chrom_map, storage_options
            As in :meth:`create_from_bigwig`.
        input_storage_options
            As in :meth:`create_from_bigwig`.
        feature
            GFF feature type to keep when ``roi`` or a file of ``bedfiles`` is a GFF/GTF
            file (None: ``gene`` lines; ``'*'``: every line).
        bedfiles
            One BED path or a list (one condition per file, except categorical modes), or
            a sample sheet (see :mod:`genozarr.samples`; not in the categorical modes,
            whose conditions are the categories of one file). GFF/GTF files (by their
            suffix) are read as features too: their feature lines (``feature``),
            0-based, with the name of :func:`genozarr.io.gff.read_gff` and the 6th column
            as the score.
        collapser
            Reduction within a bin at resolution > 1; default 'max'.
        mode
            'binary', 'score', 'bedgraph', 'categorical'/'score_category' (one condition
            per distinct score), 'name_category' (one per distinct name). Where features
            overlap, the maximum value wins; in the category modes, the category of the
            feature later in the file (one category per base, as Janggu's).
        minoverlap
            Fraction of a bin that features must cover for it to get a value.

        Returns
        -------
        Cover
        """
        from genozarr.samples import resolve_inputs, sheet_of
        from genozarr.sources import BedSource, as_file_list

        _janggu_datatags(datatags)
        if (str(mode).endswith(("categorical", "category"))
                and sheet_of(bedfiles, bed=True) is not None):
            # (a sheet names one condition per file)
            raise ArgumentError(
                f"mode={mode!r} names its conditions after the categories of one BED "
                "file, which a sample sheet (one condition per file, with its "
                "metadata) cannot describe: give the BED file itself")
        bedfiles, conditions, sheet_meta = resolve_inputs(
            bedfiles, conditions, "BED", input_storage_options, bed=True)
        files = as_file_list(bedfiles, "BED", storage_options=input_storage_options)
        fetch_inputs({"regions": roi, "genome sizes": genomesize}, input_storage_options)
        source = BedSource(files, conditions, mode=mode, minoverlap=minoverlap,
                           collapser=collapser, dtype=dtype, feature=feature)
        if genomesize is None and roi is None:
            raise ArgumentError(
                "create_from_bed needs genomesize when roi is None (a BED file has no "
                "chromosome lengths)")
        if genomesize is None and store_whole_genome:
            # Janggu's rule: each chromosome extends to the largest end among the ROI's
            # regions on it (flank included)
            frame = load_regions(roi, feature=feature)
            if not isinstance(roi, (str, os.PathLike)) and not hasattr(roi, "columns"):
                roi = frame  # (an iterator of regions is read once: the build reads roi too)
            _flank = 0 if flank is None else int(flank)
            genomesize = {str(c): int(e) + _flank
                          for c, e in frame.groupby("chrom", sort=False)["end"].max().items()}
        args = dict(source="bed", mode=mode, minoverlap=minoverlap, collapser=source.collapser,
                    dtype=dtype, binsize=binsize, stepsize=stepsize, flank=flank,
                    zero_padding=zero_padding)
        if source.gff:  # the feature lines read of a GFF/GTF file: other lines, other data
            args["feature"] = feature
        return cls._create(
            name, source, verbose=verbose,
            constructor="create_from_bed", condition_metadata=sheet_meta, roi=roi,
            genomesize=genomesize, binsize=binsize, stepsize=stepsize, flank=flank,
            resolution=resolution, storage=storage, cache=cache, overwrite=overwrite,
            channel_last=channel_last, zero_padding=zero_padding, random_state=random_state,
            store_whole_genome=store_whole_genome, store=store, args=args,
            normalizer=normalizer, chrom_map=chrom_map, storage_options=storage_options,
            feature=feature)

    @classmethod
    def create_from_array(cls, name: str, array: np.ndarray, gindexer: GenomicIndexer,
                          genomesize: Any = None, conditions: Sequence[str] | None = None,
                          resolution: int | None = None, storage: str = "ndarray",
                          overwrite: bool = False, cache: bool = False, datatags: Any = None,
                          padding_value: float = 0.0, store_whole_genome: bool = False,
                          verbose: bool = False, *, channel_last: bool = True,
                          **kwargs: Any) -> Cover:
        """Predictions (numpy) associated with the indexer's windows.

        The positional arguments are Janggu's, in Janggu's order (``datatags`` accepted
        and ignored; ``verbose`` as in :meth:`create_from_bigwig`). See
        :func:`genozarr.predictions.cover_from_array` for the parameters.

        Parameters
        ----------
        name
            Dataset name (names the store directory and exported files).
        array
            Predictions, one entry per window of ``gindexer``: ``(n, length, strand,
            condition)``, ``(n, length, condition)`` (one strand) or ``(n, condition)``
            (one value per window); with ``channel_last=False`` the condition axis is
            second. ``strand`` is 1 or 2 (``'+'``, ``'-'``).
        gindexer
            The windows the predictions were made for, e.g. ``dataset.gindexer`` of the
            model's input.
        genomesize
            Chromosome lengths (dict or file); default: the largest window end (flank
            included) per chromosome.
        conditions
            Condition names; default ``Cond_0, Cond_1, ...`` (as Janggu).
        resolution
            Bases per value; default ``(binsize + 2 * flank) // length``. When given, the
            position axis must have ``(binsize + 2 * flank) // resolution`` entries, or 1.
        storage
            'ndarray' (default), 'sparse' or 'zarr' ('hdf5' maps to 'zarr').
        overwrite
            Rebuild a cached store.
        cache
            Reuse a store built earlier from the same array content, windows and
            arguments.
        datatags
            Accepted and ignored, with a :class:`~genozarr.errors.JangguDeprecationWarning`
            when given (Janggu's labels of cached files).
        padding_value
            Value of positions without data (whole-genome layout, flanks past a
            chromosome end); default 0.0.
        store_whole_genome
            Scatter the windows into one array per chromosome instead of one row per
            window; window starts (minus flank) must then be multiples of the resolution.
        verbose
            Show a progress bar for the build (as ``set_options(progress=True)``);
            False leaves it to the ``progress`` option (Janggu's flag).
        channel_last
            Whether the condition axis of ``array`` (and of the batches served) is the
            last (True, default) or the second (False) one.
        **kwargs
            More keyword arguments of :func:`~genozarr.predictions.cover_from_array`:
            ``store`` (path or URL of a zarr store to write), ``dtype`` (stored dtype;
            default the array's), ``storage_options`` (fsspec options for a remote
            ``store``) and ``condition_metadata`` (metadata per condition, as a sample
            sheet's columns).

        Returns
        -------
        Cover
            A Cover whose ``cover[i][0]`` holds ``array[i]`` (as ``(position, strand,
            condition)``, or in the layout ``channel_last`` gives), whatever the strand of
            window ``i``.
        """
        from genozarr.predictions import cover_from_array

        _janggu_datatags(datatags)
        with _verbose(verbose):
            return cover_from_array(cls, name, array, gindexer, genomesize=genomesize,
                                    conditions=conditions, resolution=resolution,
                                    storage=storage, channel_last=channel_last,
                                    store_whole_genome=store_whole_genome,
                                    padding_value=padding_value, overwrite=overwrite,
                                    cache=cache, **kwargs)

    def to_anndata(self, *, aggregate: str | None = "sum", sparse: bool = False,
                   layer: str | None = None, strand: str = "sum") -> Any:
        """This Cover as an :class:`anndata.AnnData` of windows x conditions; see
        :func:`genozarr.scverse.to_anndata`.

        Parameters
        ----------
        aggregate
            ``"sum"`` (default), ``"mean"`` or ``"max"`` over the bins of each window
            (flanks and padding included), into ``X``. None keeps the bins:
            ``obsm["profile"]`` of shape ``(n, L, n_vars)``; ``X`` is then the single value
            of each window where ``L == 1`` and None otherwise.
        sparse
            Return ``X`` (or the layer) as a :class:`scipy.sparse.csr_matrix` (16-bit
            floats as float32).
        layer
            Put the matrix in ``layers[layer]`` instead of ``X`` (``X`` is then None).
        strand
            ``"sum"`` (default) adds the stored strands; ``"split"`` keeps each strand as
            its own variable ``condition/strand`` (genomic strands).

        Returns
        -------
        anndata.AnnData
            One row (obs) per window, in order, one variable per condition (or per
            condition and strand); this Cover's normalizers are applied.
        """
        from genozarr.scverse import to_anndata

        return to_anndata(self, aggregate=aggregate, sparse=sparse, layer=layer, strand=strand)

    @classmethod
    def create_from_anndata(cls, adata: Any, gindexer: GenomicIndexer | None = None,
                            **kwargs: Any) -> Cover:
        """A Cover from an AnnData of regions x conditions; see
        :func:`genozarr.scverse.create_from_anndata`.

        Parameters
        ----------
        adata
            One row per window. ``X`` (dense or sparse), ``layers[layer]`` or
            ``obsm[obsm]`` holds the values.
        gindexer
            The windows of the rows. None (default): built from ``obs`` columns ``chrom``
            (or ``chr``), ``start``, ``end`` and optional ``strand``, or from
            ``chrom:start-end`` obs names.
        **kwargs
            The keyword arguments of :func:`genozarr.scverse.create_from_anndata`
            (``name``, ``layer``, ``obsm``, ``conditions``, ``storage``, ``genomesize``)
            and more of :meth:`create_from_array` (``store``, ``cache``, ``dtype``,
            ``padding_value``, ``channel_last``, ...).

        Returns
        -------
        Cover
            With a matrix: ``resolution=None`` (one value per window), ``cover[i]`` of
            shape ``(1, 1, S, C)`` (one position per window).
        """
        from genozarr.scverse import create_from_anndata

        return create_from_anndata(adata, gindexer, cls=cls, **kwargs)

    def export_to_bigwig(self, output_dir: PathLike, genomesize: Any = None, *,
                         overlap: str = "error", skip_zeros: bool = False) -> list[str]:
        """Write one BigWig per condition, ``<name>.<condition>.bigwig``; the arguments
        are those of :func:`genozarr.export.export_to_bigwig`.

        Parameters
        ----------
        output_dir
            Directory for the files (created if missing).
        genomesize
            Chromosome sizes (dict or file) for the BigWig header, in its order; default:
            the store metadata's, else the largest window end per chromosome.
        overlap
            'error' (default) or 'mean', for overlapping windows of a partial-layout Cover.
        skip_zeros
            Leave bins holding 0 out of the files, as positions without data (default
            False).

        Returns
        -------
        list of str
            Paths of the written files, condition by condition (plus strand first for a
            stranded Cover).
        """
        from genozarr.export import export_to_bigwig

        return export_to_bigwig(self, output_dir, genomesize=genomesize, overlap=overlap,
                                skip_zeros=skip_zeros)

    def export_to_bed(self, output_dir: PathLike, genomesize: Any = None, *,
                      overlap: str = "error", merge: bool = False,
                      skip_zeros: bool = False) -> list[str]:
        """Write one bedGraph-like BED per condition; the arguments are those of
        :func:`genozarr.export.export_to_bed`.

        Parameters
        ----------
        output_dir
            Directory for the files (created if missing).
        genomesize
            Chromosome sizes (dict or file) to clip bins to; default as for
            :meth:`export_to_bigwig`.
        overlap
            'error' (default) or 'mean', for overlapping windows of a partial-layout Cover.
        merge
            Merge runs of equal adjacent values into one line (default False: one line
            per bin).
        skip_zeros
            Leave bins holding 0 out of the files (default False).

        Returns
        -------
        list of str
            Paths of the written files, condition by condition (plus strand first for a
            stranded Cover).
        """
        from genozarr.export import export_to_bed

        return export_to_bed(self, output_dir, genomesize=genomesize, overlap=overlap,
                             merge=merge, skip_zeros=skip_zeros)


class Bioseq(Dataset):
    """One-hot encoded DNA or protein sequence over genomic windows.

    Sequences are stored compactly as uint8 codes (one byte per base) and one-hot encoded
    per batch with a lookup table. ``bioseq[i]`` has shape ``(length - order + 1, 1,
    4**order)`` for DNA (``20**order`` for protein) with ``channel_last=True``. Letters
    other than the alphabet (N, IUPAC ambiguity codes) encode as all zeros, except ``U``
    in DNA, read as ``T`` (Janggu encodes it as all zeros); lower case encodes like upper
    case.

    Parameters
    ----------
    *args, **kwargs
        Those of :class:`Dataset`: ``name``, ``gindexer``, ``store`` and the keyword-only
        ``channel_last``, ``rows`` and ``normalizers``.
    order
        k-mer length of the one-hot encoding (default 1: one letter per position): each
        position encodes the ``order`` letters from it on; windows must hold at least
        ``order`` positions (flanks included).
    seqtype
        Alphabet: ``'dna'`` (default) or ``'protein'``, in any case.
    """

    def __init__(self, *args: Any, order: int = 1, seqtype: str = "dna", **kwargs: Any) -> None:
        self.order = int(order)
        self.seqtype = _seqtype(seqtype)  # 'DNA' is 'dna' everywhere after this
        super().__init__(*args, **kwargs)
        self._check_order()

    @property
    def conditions(self) -> list[str]:
        """Channel names: the k-mers in encoding order."""
        from itertools import product

        alphabet = DNA_ALPHABET if self.seqtype == "dna" else PROTEIN_ALPHABET
        return ["".join(p) for p in product(alphabet, repeat=self.order)]

    def _element_shape_channel_last(self) -> tuple[int, ...]:
        length = max(self.window_bins - self.order + 1, 0)  # (0: a dataset without windows)
        return (length, 1, alphabet_size(self.seqtype) ** self.order)

    @property
    def _seqtype_or_none(self) -> str | None:
        return self.seqtype

    def _finish(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """One-hot of codes ``x``; into ``out`` (float32, the served shape) where given,
        for channel-last data."""
        codes = x[:, :, 0, 0]
        if codes.shape[1] < self.order:  # no k-mer fits: windows of no length (a store
            # without windows), or an interval key shorter than the order
            _, _, channels = self._element_shape_channel_last()
            return super()._finish(np.zeros((len(codes), 0, 1, channels), "float32"))
        if out is not None and self.channel_last:
            onehot(codes, self.order, self.seqtype, out=out[:, :, 0, :])
            return out
        hot = onehot(codes, self.order, self.seqtype)
        hot = hot[:, :, None, :]
        return super()._finish(hot)

    def read(self, idx: np.ndarray) -> np.ndarray:
        """The served batch of windows ``idx``: the stored codes are only read, into a new
        one-hot array, so windows read in order are encoded straight from the cached
        chunks, not from a copy of them.

        Parameters
        ----------
        idx
            Window positions (integers, in any order, repeats allowed).

        Returns
        -------
        numpy.ndarray
            One-hot, ``(len(idx),) + element_shape``.
        """
        return self._finish(self._read_oriented(idx, view=True))

    @classmethod
    def create_from_refgenome(
        cls, name: str, refgenome: SequencesLike, roi: RegionsLike | None = None,
        binsize: int | None = None, stepsize: int | None = None, flank: int = 0,
        order: int = 1, storage: str = "ndarray", datatags: Any = None, cache: bool = False,
        overwrite: bool = False, random_state: Any = None, store_whole_genome: bool = False,
        verbose: bool = False, *, channel_last: bool = True, zero_padding: bool = True,
        seqtype: str = "dna", store: PathLike | None = None,
        genomesize: Any = None, chrom_map: Any = None,
        storage_options: dict[str, Any] | None = None, feature: str | None = None,
        input_storage_options: dict[str, Any] | None = None,
        variants: str | os.PathLike | None = None,
        samples: Sequence[str] | None = None, unphased: str = "error",
    ) -> Bioseq:
        """One-hot sequence of windows of a reference genome (FASTA, indexed on demand).

        Parameters
        ----------
        name
            Dataset name.
        refgenome
            FASTA path (``.fai`` built if missing), or Biopython ``SeqRecord`` objects (a
            list of them), as Janggu takes.
        roi
            Regions of interest; None tiles every chromosome (needs ``binsize``).
        binsize, stepsize, flank, zero_padding, random_state
            Windowing, as in :class:`~genozarr.regions.GenomicIndexer`.
        order
            k-mer order: ``4**order`` channels; a window yields ``length - order + 1``
            positions.
        storage, cache, overwrite, store, storage_options
            Storage and caching, as for :class:`Cover`.
        channel_last
            False moves the channel axis to position 1.
        store_whole_genome
            Store whole chromosomes instead of one row per window.
        seqtype
            'dna' or 'protein'.
        genomesize, chrom_map, feature, input_storage_options, datatags, verbose
            As for :class:`Cover`.
        variants
            A VCF/BCF file: the dataset serves personal genomes, the reference with each
            sample's variants applied (a :class:`~genozarr.personal.PersonalBioseq`, see
            :func:`~genozarr.personal.create_personal`); None, the reference.
        samples
            With ``variants``: the samples to serve (None: every sample of the file).
        unphased
            With ``variants``: an unphased heterozygous call is an error (``'error'``),
            keeps the reference on both haplotypes (``'ref'``) or takes the ALT allele on
            both (``'alt'``).

        Returns
        -------
        Bioseq
            A :class:`~genozarr.personal.PersonalBioseq` when ``variants`` is given.
        """
        from genozarr.sources import FastaSource, as_file_list

        if variants is not None:  # personal genomes: genozarr.personal
            from genozarr.personal import create_personal

            return create_personal(
                name, refgenome, roi, binsize, stepsize, flank, order, storage, datatags,
                cache, overwrite, random_state, store_whole_genome, verbose,
                channel_last=channel_last, zero_padding=zero_padding, seqtype=seqtype,
                store=store, genomesize=genomesize, chrom_map=chrom_map,
                storage_options=storage_options, feature=feature,
                input_storage_options=input_storage_options, variants=variants,
                samples=samples, unphased=unphased)
        _janggu_datatags(datatags)
        order_ = _int_or_none("order", order)
        seqtype = _seqtype(seqtype)  # checked, lower case (keys, recipes)
        from genozarr.io.fasta import is_seqrecords, seqrecords_as_fasta, seqrecords_seqtype

        if is_seqrecords(refgenome):  # Biopython SeqRecords, as Janggu takes (and
            # create_from_seq): a FASTA file holding them, named by their content
            alphabet = seqrecords_seqtype(refgenome)
            if alphabet not in (None, seqtype):
                raise ArgumentError(
                    f"the SeqRecords' alphabet is {alphabet}, but seqtype={seqtype!r}: pass "
                    f"seqtype={alphabet!r} (Janggu took the type from the records' alphabet)")
            refgenome = seqrecords_as_fasta(refgenome)
        (fasta,) = as_file_list(refgenome, "FASTA", storage_options=input_storage_options)
        fetch_inputs({"regions": roi, "genome sizes": genomesize}, input_storage_options)
        source = FastaSource(fasta, seqtype)
        args = dict(source="fasta", seqtype=seqtype, binsize=binsize, stepsize=stepsize,
                    flank=flank, zero_padding=zero_padding)
        obj = cls._create(
            name, source, verbose=verbose,
            constructor="create_from_refgenome", order=order_, roi=roi,
            genomesize=genomesize, binsize=binsize, stepsize=stepsize, flank=flank,
            resolution=1, storage=storage, cache=cache, overwrite=overwrite,
            channel_last=channel_last, zero_padding=zero_padding, random_state=random_state,
            store_whole_genome=store_whole_genome, store=store, args=args,
            chrom_map=chrom_map, storage_options=storage_options, seqtype=seqtype,
            feature=feature)
        return obj

    def _check_order(self) -> None:
        if len(self.gindexer) and self.window_bins < self.order:
            raise ArgumentError(
                f"windows of {self.window_bins} bases are shorter than order {self.order}")

    @classmethod
    def create_from_seq(
        cls, name: str, fastafile: SequencesLike,
        storage: str = "ndarray", seqtype: str = "dna", order: int = 1,
        fixedlen: int | None = None, datatags: Any = None, cache: bool = False,
        overwrite: bool = False, verbose: bool = False, *, channel_last: bool = True,
        store: PathLike | None = None,
        storage_options: dict[str, Any] | None = None,
        input_storage_options: dict[str, Any] | None = None,
    ) -> Bioseq:
        """One-hot sequences of the records of FASTA file(s) (e.g. promoters). The
        positional arguments are Janggu's, in Janggu's order (``datatags`` accepted and
        ignored, as by every constructor; ``verbose`` as in
        :meth:`Cover.create_from_bigwig`); the others are keyword-only.

        Parameters
        ----------
        name
            Dataset name.
        fastafile
            FASTA path(s), optionally gzipped, or Biopython-like SeqRecords; the records of
            several files are read together, one sequence per record (record names must
            be unique across them).
        storage, cache, overwrite, store, storage_options, channel_last, order, seqtype
            As in :meth:`create_from_refgenome`.
        input_storage_options
            As in :meth:`Cover.create_from_bigwig`.
        fixedlen
            Pad (with N, i.e. all-zero rows) or truncate every sequence at its end to this
            length. Without it, sequences of unequal length are an error.
        datatags, verbose
            As in :meth:`create_from_refgenome`.

        Returns
        -------
        Bioseq

        Notes
        -----
        Blanks inside sequence lines are not bases: they are left out, as Biopython does.
        """
        import pandas as pd

        from genozarr.errors import MalformedFileError
        from genozarr.io.fasta import (
            is_seqrecords,
            iter_fasta_records,
            seqrecords_as_fasta,
            seqrecords_seqtype,
        )
        from genozarr.sources import RecordsSource, as_file_list

        _janggu_datatags(datatags)
        seqtype = _seqtype(seqtype)  # checked, lower case (keys, recipes)
        from_records = is_seqrecords(fastafile)
        alphabet = seqrecords_seqtype(fastafile) if from_records else None
        if alphabet not in (None, seqtype):
            raise ArgumentError(
                f"the SeqRecords' alphabet is {alphabet}, but seqtype={seqtype!r}: pass "
                f"seqtype={alphabet!r} (Janggu took the type from the records' alphabet)")
        fastafile = seqrecords_as_fasta(fastafile)  # Biopython SeqRecords, as Janggu takes
        files = as_file_list(fastafile, "FASTA", storage_options=input_storage_options)
        fixedlen = _int_or_none("fixedlen", fixedlen)
        order_ = _int_or_none("order", order)
        records: dict[str, np.ndarray] = {}
        from genozarr.ingest import input_state
        from genozarr.sources import _local

        # (their state before they are read: as a source's)
        state = input_state(_local(files, "FASTA"))
        for f in files:
            for rec_name, seq in iter_fasta_records(f):
                if rec_name in records:
                    raise MalformedFileError(f"{f}: sequence name {rec_name!r} occurs twice")
                if not rec_name:  # (it would name a chromosome '')
                    raise MalformedFileError(
                        f"{f}: record {len(records) + 1} has no name (a '>' line without "
                        "one)")
                amino = seq.translate(None, _NOT_AMINO_ONLY) if seqtype == "dna" else b""
                if amino:  # (a protein encoded as DNA is all-zero rows but for A, C, G, T)
                    raise MalformedFileError(
                        f"{'SeqRecord list' if from_records else f}: record {rec_name!r} "
                        "holds letters that are amino acids and no "
                        f"nucleotide code ({', '.join(sorted(set(amino.decode())))}): for "
                        "protein sequences pass seqtype='protein'")
                records[rec_name] = encode_sequence(seq, seqtype)
        if not records:
            raise MalformedFileError(f"{', '.join(files)}: no sequences found")
        lengths = {k: len(v) for k, v in records.items()}
        empty = [k for k, n in lengths.items() if n == 0]
        if empty:  # a window of no bases (Janggu served it as padding, of a record
            # that holds none) is a FASTA written wrong; exports refuse its length 0
            raise MalformedFileError(
                f"{', '.join(files)}: record(s) {empty[:5]} hold no bases; remove them")
        if fixedlen is None:
            distinct = sorted(set(lengths.values()))
            if len(distinct) > 1:
                examples = {k: lengths[k] for k in list(lengths)[:3]}
                raise MalformedFileError(
                    f"{', '.join(files)}: sequences have different lengths ({distinct[0]}.."
                    f"{distinct[-1]}, e.g. {examples}); pass fixedlen to pad/truncate them")
            fixedlen = distinct[0]
        regions = pd.DataFrame({"chrom": list(records), "start": 0,
                                "end": [min(lengths[k], fixedlen) for k in records],
                                "strand": "+"})
        regions.attrs["source"] = files[0]
        gi = GenomicIndexer(regions["chrom"].to_numpy(), regions["start"].to_numpy(),
                            regions["end"].to_numpy(), regions["strand"].to_numpy(),
                            fixedlen, fixedlen, 0, True)
        source = RecordsSource(files, records, seqtype)
        source.input_state = state
        args = dict(source="seq", seqtype=seqtype, fixedlen=fixedlen)
        obj = cls._create(
            name, source, verbose=verbose,
            constructor="create_from_seq", order=order_, roi=None,
            genomesize=lengths, binsize=fixedlen, stepsize=fixedlen, flank=0, resolution=1,
            storage=storage, cache=cache, overwrite=overwrite, channel_last=channel_last,
            zero_padding=True, random_state=None, store_whole_genome=False, store=store,
            args=args, storage_options=storage_options, seqtype=seqtype, gindexer=gi)
        return obj


_UNSET: Any = object()

#: every byte but the upper-case letters of amino acids that are no IUPAC nucleotide
#: code, inosine's I aside (``bytes.translate`` deletes these, keeping those)
_NOT_AMINO_ONLY = bytes(b for b in range(256) if chr(b) not in "EFJLOPQZ")


def _size_cache(store: Store, cache: str | int | None) -> None:
    """Resize the decoded-chunk cache of a zarr-backed store (see :func:`open_dataset`)."""
    from genozarr.store.backend import ZarrBackend

    if cache == "auto":
        return
    if cache == "memory":  # every array decoded once into one in-memory array
        if isinstance(store.backend, ZarrBackend):
            store.backend.resident = True
        return
    if cache is None:
        size = None
    elif isinstance(cache, (int, np.integer)) and not isinstance(cache, bool) and cache >= 0:
        size = int(cache)
    else:
        raise ArgumentError(
            f"cache must be 'auto', 'memory', None or a size in bytes, got {cache!r}")
    if isinstance(store.backend, ZarrBackend):  # a chunk cache only
        from genozarr.config import OPTIONS

        store.backend.cache_bytes = OPTIONS["chunk_cache_bytes"] if size is None else size
        store.backend.resident = False


def _restore_normalizers(recorded: list[Any], path: Any,
                         trust_callables: bool = False) -> list[Any]:
    """The recorded normalizers, restored; one that cannot be (a lambda, a local function)
    raises naming its place in the list and how to pass it while the others are restored
    with their fitted statistics."""
    from genozarr.errors import StoreFormatError
    from genozarr.ops.normalizers import normalizer_from_dict

    out = []
    for i, d in enumerate(recorded):
        try:
            out.append(normalizer_from_dict(d, trust_callables))
        except StoreFormatError as e:
            if len(recorded) == 1:
                raise StoreFormatError(f"{path}: {e}") from e
            places = ", ".join("f" if k == i else "None" for k in range(len(recorded)))
            raise StoreFormatError(
                f"{e}. It is normalizer {i} of the {len(recorded)} the store {path} records: "
                f"pass it and restore the others as recorded, fitted statistics included, "
                f"with open_dataset(..., normalizer=[{places}]) (a name such as 'zscore' "
                "instead of None would fit that normalizer again on this store)") from e
    return out


def _check_recorded_windows(meta: Any, start: np.ndarray, end: np.ndarray,
                            where: str) -> None:
    """Refuse recorded windows of a whole-genome store that its metadata cannot have
    tiled: a start before 0, no length, or a length over ``binsize`` (the windows of an
    edited ``binsize`` would be served cut to it; the windows recorded are cut at their
    region's end, so shorter ones are the tail windows).

    Raises
    ------
    StoreFormatError
        Naming the store and the first such window.
    """
    from genozarr.errors import StoreFormatError

    start, end = np.asarray(start, dtype=np.int64), np.asarray(end, dtype=np.int64)
    bad = (start < 0) | (end <= start)
    if meta.binsize is not None:
        bad |= end - start > int(meta.binsize)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise StoreFormatError(
            f"{where}: recorded window {i} ({int(start[i])}-{int(end[i])}) does not fit the "
            f"genozarr metadata (binsize {meta.binsize}); the store was edited or damaged. "
            "Rebuild it (overwrite=True).")


def open_dataset(path: PathLike, storage_options: dict[str, Any] | None = None, *,
                 storage: str = "zarr", normalizer: Any = _UNSET,
                 channel_last: bool | None = None,
                 cache: str | int | None = "auto",
                 trust_callables: bool = False) -> Dataset:
    """Open a store as the :class:`Cover` or :class:`Bioseq` that was built over it.

    The store's recipe gives the dataset class, its windows (the stored rows of a partial
    store; the recorded windows of a whole-genome store), the fitted normalizers, the
    one-hot order and the channel order, so the dataset serves exactly what the original
    object served, on any machine.

    Parameters
    ----------
    path
        Store directory or fsspec URL (``s3://...``, ``http(s)://...``).
    storage_options
        fsspec options for remote stores (credentials, endpoint).
    storage
        'zarr' reads from the store on access; 'ndarray' or 'sparse' load it into memory.
    normalizer
        Replaces the recorded normalizers (None: raw values); needed where the store was
        normalized with a callable that cannot be imported by name. A list as long as
        the recorded one may hold None for the entries to restore as recorded (fitted
        statistics included): ``normalizer=[my_function, None]`` passes the callable and
        keeps the second normalizer's statistics (a name, ``'zscore'``, would fit it
        again on this store).
    channel_last
        Replaces the recorded channel order.
    cache
        Decoded data kept in memory by ``storage='zarr'``. ``'memory'`` decodes each chunk
        once into one in-memory array per stored array (the whole store's decoded size),
        so epochs after the first decode nothing and a batch in any order is one numpy
        indexing; ``'auto'`` (default) does so when the store's decoded arrays fit in
        what is left of ``set_options(memory_cache_bytes=...)`` (a quarter of the memory
        the process can use, under a container's or ``ulimit``'s cap, for all the stores
        of a process together, shared out among DataLoader workers), else keeps a cache
        of recently decoded chunks; None keeps only that chunk cache
        (``set_options(chunk_cache_bytes=...)``, 256 MiB); an int is the chunk cache's
        size in bytes. Each DataLoader worker process keeps its
        own. ``'auto'`` decides at the first read, by the budget in force then; a
        process forked from one that did not prepare the store for its workers (the
        PyTorch datasets of :mod:`genozarr.loaders` do; a plain ``DataLoader`` over the
        dataset does not) keeps the chunk cache only, so N workers never hold N decoded
        copies.
    trust_callables
        Restore a normalizer function or class of your own that the recipe names by its
        import path (``mylab.norms:scale``): it is imported and runs on the values
        served. A recipe is data from wherever the store came from, and a crafted one
        could name any function, so only numpy's ufuncs (``numpy:log1p``), its
        ``nan_to_num``, ``round`` and ``fix``, and genozarr's classes are restored
        without it; pass True for stores you trust, or pass the function with
        ``normalizer=``.

    Returns
    -------
    Dataset

    Raises
    ------
    StoreError
        Missing or incomplete store.
    StoreFormatError
        A store of a newer format, or a recorded normalizer that cannot be restored (or
        is not trusted: see ``trust_callables``).
    ArgumentError
        A ``normalizer`` for a sequence store, or one that does not fit the store; a
        ``channel_last`` that is not a bool.

    Examples
    --------
    >>> import genozarr
    >>> from genozarr.resources import resource_path
    >>> cover = genozarr.Cover.create_from_bigwig(
    ...     "demo", resource_path("sample_a.bw"), roi=resource_path("sample.bed"),
    ...     binsize=1000, resolution=50, storage="zarr", normalizer="zscore")
    >>> again = genozarr.open_dataset(cover.garray.path)
    >>> bool((again[:4] == cover[:4]).all()), again.normalizers[0].fitted
    (True, True)
    """
    from genozarr.store.handle import load_store
    from genozarr.store.recipe import read_windows

    if channel_last is not None:  # (a "false" from a config file is true to bool())
        channel_last = check_bool("channel_last", channel_last)
    trust_callables = check_bool("trust_callables", trust_callables)

    storage = normalise_storage(storage)
    store = load_store(path, "zarr", storage_options)
    meta = store.meta
    recipe = meta.recipe
    # how the windows were tiled (views over other regions tile them the same way)
    zero_padding = bool((recipe.get("args") or {}).get("zero_padding", True))
    if meta.whole_genome:
        windows = read_windows(store)
        res = int(meta.resolution or 1)
        if windows is not None:
            chrom, start, end, strand, names = windows
            _check_recorded_windows(meta, start, end, str(path))
            for values in windows:  # (read here and nowhere else: the indexer's, uncopied)
                if values is not None:
                    values.flags.writeable = False
            gi = GenomicIndexer(chrom, start, end, strand, meta.binsize, meta.stepsize,
                                int(meta.flank), zero_padding, names=names)
        else:  # format 1 recorded no windows: tile every chromosome
            sizes = {str(c): int(v) for c, v in meta.chroms.items() if v}
            longest = -(-max(sizes.values()) // res) * res
            gi = GenomicIndexer.create_from_genome(sizes, min(res * 65536, longest))
    else:
        t = store.region_table
        assert t is not None
        flank = int(meta.flank)
        # (the labels as the table holds them: str objects shared by the windows of a
        # chromosome; astype(str) made a str per window again)
        gi = GenomicIndexer(t["chrom"], np.asarray(t["start"]) + flank,
                            np.asarray(t["end"]) - flank, t["strand"],
                            meta.binsize, meta.stepsize, flank, zero_padding,
                            names=t.get("name"))
    if meta.kind == "sequence" and normalizer is not _UNSET and normalizer is not None \
            and not (isinstance(normalizer, (list, tuple)) and len(normalizer) == 0):
        # (as Bioseq's constructors: a normalizer would be fitted on the base codes)
        raise ArgumentError(
            f"normalizer: the store {path} holds sequences (a Bioseq), which are served "
            f"one-hot and take no normalizer; got {normalizer!r}")
    recorded = list(recipe.get("normalizers", []))
    if normalizer is _UNSET:
        norms = _restore_normalizers(recorded, path, trust_callables)
    elif isinstance(normalizer, (list, tuple)) and any(n is None for n in normalizer):
        if len(normalizer) != len(recorded):
            raise ArgumentError(
                f"normalizer: {len(normalizer)} entries with None (restore as recorded), but "
                f"the store {path} records {len(recorded)} normalizer(s)")
        from genozarr.ops.normalizers import normalizer_from_dict, resolve_normalizers

        norms = [normalizer_from_dict(d, trust_callables) if n is None
                 else resolve_normalizers(n)[0]
                 for n, d in zip(normalizer, recorded)]
    else:
        from genozarr.ops.normalizers import resolve_normalizers

        norms = resolve_normalizers(normalizer) if normalizer is not None else []
    if channel_last is None:
        channel_last = bool(recipe.get("channel_last", True))
    store = store.to_backend(storage)
    _size_cache(store, cache)
    obj: Dataset
    if meta.kind == "sequence":
        seq_cls: type[Bioseq] = Bioseq
        if recipe.get("args", {}).get("variants") is not None:  # a personal-genome store
            from genozarr.personal import PersonalBioseq as seq_cls
        obj = seq_cls(meta.name, gi, store, order=int(recipe.get("order", 1)),
                     seqtype=meta.seqtype or "dna", channel_last=channel_last,
                     normalizers=norms)
    else:
        obj = Cover(meta.name, gi, store, channel_last=channel_last, normalizers=norms)
    if normalizer is not _UNSET or any(not getattr(n, "fitted", True) for n in norms):
        obj._fit_normalizers()  # the unfitted ones; and every one checked against the store
    elif norms:
        # the recorded statistics checked against the data too: an edited recipe's mean
        # of another shape was served broadcast (a batch of 2 strands from a 1-strand
        # store), one condition's statistics for every condition
        from genozarr.errors import StoreFormatError

        try:  # (no warning of other condition names: the build warned of them)
            obj._check_normalizer_shapes(warn=False)
        except ArgumentError as e:
            raise StoreFormatError(f"the store {path} records normalizer statistics that do "
                                   f"not fit its data: {e}") from e
    return obj

"""The :class:`Store`: metadata plus a backend, with window reads in both layouts."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from genozarr.errors import ArgumentError, ChromosomeNotFoundError
from genozarr.store.backend import (
    Backend,
    MemoryBackend,
    SparseBackend,
    SparseRows,
    ZarrBackend,
    _read_only,
    reading_once,
    window_chunks,
)
from genozarr.store.dtypes import value_dtype
from genozarr.store.layout import DATA, REGION_COORDS, REGION_NAME, StoreMeta

__all__ = ["RegionTable", "Store", "load_store"]


class Store:
    """A built store: :class:`StoreMeta` plus the backend holding its arrays.

    Parameters
    ----------
    meta
        Store metadata.
    backend
        Where the arrays live.
    path
        Location on disk / object storage, if any.
    region_table
        Partial layout: ``(chrom, start, end, strand)`` arrays of the stored rows
        (genomic coordinates of each row, flank included).
    """

    def __init__(self, meta: StoreMeta, backend: Backend, path: str | None = None,
                 region_table: dict[str, np.ndarray] | None = None) -> None:
        self.meta = meta
        self.backend = backend
        self.path = path
        self.region_table = region_table
        self._row_lookup: dict[tuple[str, int, int], int] | None = None
        self._repeats: list[list[int]] = []
        self._repeated_arrays: tuple[np.ndarray, np.ndarray] | None = None
        self._repeated: bool | None = None
        #: partial layout, per chromosome: its rows by start, their starts and ends, and
        #: the longest row (for :meth:`rows_overlapping`)
        self._by_start: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, int]] | None = None
        #: whole-genome layout: the data array of each chromosome read
        self._chrom_paths: dict[str, str] = {}
        #: a build's store: the version another writer published first with the same cache
        #: key was kept instead of this build's (its recipe and windows are that writer's)
        self.kept_existing = False

    @property
    def region_table(self) -> RegionTable | None:
        """Partial layout: the ``(chrom, start, end, strand)`` arrays of the stored rows
        (``name`` where recorded), read-only (a :class:`RegionTable`): the rows' lookups
        are built once from it, so a column edited or replaced would be served by some
        reads and not others. Setting it (a table of the same rows) keeps a read-only
        copy of the mapping given and builds the lookups anew."""
        return self._region_table

    @region_table.setter
    def region_table(self, table: Mapping[str, Any] | None) -> None:
        self._region_table = None if table is None else RegionTable(table)
        self._row_lookup = None  # (the lookups built from the table before)
        self._by_start = None

    # ------------------------------------------------------------ geometry
    @property
    def whole_genome(self) -> bool:
        """Whether the store has the whole-genome layout (one array per chromosome), not
        the partial one (one row per window)."""
        return self.meta.layout == "whole_genome"

    @property
    def resolution(self) -> int | None:
        """Bases per stored bin (None: one value per window), as Janggu's
        ``garray.resolution``."""
        return self.meta.resolution

    @property
    def n_strands(self) -> int:
        """Number of strands stored (length of the ``strand`` dimension)."""
        return len(self.meta.strands)

    @property
    def n_conditions(self) -> int:
        """Number of conditions stored (length of the ``condition`` dimension)."""
        return len(self.meta.conditions)

    def rows_of(self, chrs: Any, starts: Any, ends: Any, strands: Any,
                held: np.ndarray | None = None) -> np.ndarray:
        """Rows of the partial-layout windows ``chrs:starts-ends`` (flank included).

        Where several stored rows have a window's coordinates (one interval stored on both
        strands, or overlapping regions tiled into one window), the rows among ``held``
        (the rows of the dataset the windows are chosen from, in its order) come first,
        then those of the window's strand; the k-th request of such a window takes the
        k-th of those rows, so a dataset's own windows, asked for in its order, give its
        own rows.

        Parameters
        ----------
        chrs, starts, ends
            Chromosome, start and end (0-based, end exclusive, in bases, flank included) of
            each window, sequences of the same length; the coordinates must be those of a
            stored row exactly (chromosome names given as numbers are compared as str).
        strands
            Strand of each window (``'+'``, ``'-'``, ``'.'``), one per window: picks among
            the stored rows of the same coordinates.
        held
            Rows of the dataset the windows are chosen from, in its order (1-D integer
            array); None: the rows of the same coordinates are taken in store order.

        Returns
        -------
        numpy.ndarray
            int64 array of the row of each window, in the order of the windows.

        Raises
        ------
        ArgumentError
            For a window not stored in this partial-layout store.
        """
        if self._row_lookup is None:
            t = self.region_table
            assert t is not None
            # a window's row, or -1 - k for the k-th window of several rows (_repeats)
            lookup: dict[tuple[str, int, int], int] = {}
            repeats: list[list[int]] = []
            for i, key in enumerate(zip(np.asarray(t["chrom"]).astype(str).tolist(),
                                        np.asarray(t["start"]).tolist(),
                                        np.asarray(t["end"]).tolist())):
                found = lookup.setdefault(key, i)
                if found != i:
                    if found >= 0:
                        lookup[key] = -1 - len(repeats)
                        repeats.append([found, i])
                    else:
                        repeats[-1 - found].append(i)
            self._row_lookup, self._repeats = lookup, repeats
        lookup = self._row_lookup
        rows = np.empty(len(chrs), dtype=np.int64)
        for j, (c, s, e) in enumerate(zip(chrs, starts, ends)):
            row = lookup.get((str(c), int(s), int(e)), None)  # (names given as numbers)
            if row is None:
                raise ArgumentError(
                    f"window {c}:{s}-{e} is not stored in this partial-genome store; views "
                    "of a store_whole_genome=False dataset must use windows of its ROI")
            rows[j] = row
        repeated = np.flatnonzero(rows < 0)
        if len(repeated):
            rows[repeated] = self._choose_repeated(rows[repeated], np.asarray(strands)[repeated],
                                                   held)
        return rows

    def _choose_repeated(self, groups: np.ndarray, strands: np.ndarray,
                         held: np.ndarray | None) -> np.ndarray:
        """The rows of windows of several stored rows (``groups``: ``-1 - k`` for the k-th
        group of rows of one window's coordinates), by the rule of :meth:`rows_of`, for
        all the windows at once."""
        rep_group, rep_row = self._repeated_rows()
        stored = np.asarray(self.region_table["strand"]).astype(str)
        names, codes = np.unique(np.concatenate([stored[rep_row],
                                                 np.asarray(strands).astype(str)]),
                                 return_inverse=True)
        n_names, n_groups = len(names), int(rep_group.max()) + 1
        cand_strand, want_strand = codes[:len(rep_row)], codes[len(rep_row):]
        group = -1 - groups
        order = rep_row  # rows of a group in store order, unless held
        eligible = np.ones(len(rep_row), dtype=bool)
        if held is not None and not (len(held) == len(stored)
                                     and np.array_equal(held, np.arange(len(held)))):
            # (a dataset over every row in store order orders nothing)
            place = np.zeros(len(stored), dtype=np.int64)  # place among those held; 0: not
            place[held[::-1]] = np.arange(len(held), 0, -1)
            cand_place = place[rep_row]
            some_held = np.bincount(rep_group[cand_place > 0], minlength=n_groups) > 0
            eligible = (cand_place > 0) | ~some_held[rep_group]
            order = np.where(some_held[rep_group], cand_place, rep_row)
        cand_key = rep_group * n_names + cand_strand  # (group, strand)
        want_key = group * n_names + want_strand
        by_strand = np.bincount(cand_key[eligible], minlength=n_groups * n_names)[want_key]
        by_group = np.bincount(rep_group[eligible], minlength=n_groups)[group]
        # the k-th request of each (group, strand)
        sort = np.argsort(want_key, kind="stable")
        first = np.searchsorted(want_key[sort], want_key[sort])
        kth = np.empty(len(want_key), dtype=np.int64)
        kth[sort] = np.arange(len(want_key)) - first
        kept = np.flatnonzero(eligible)
        out = np.empty(len(group), dtype=np.int64)
        strand_ok = by_strand > 0
        for mask, keys, cand, count in ((strand_ok, want_key, cand_key, by_strand),
                                        (~strand_ok, group, rep_group, by_group)):
            if mask.any():
                ranked = kept[np.lexsort((order[kept], cand[kept]))]
                start = np.searchsorted(cand[ranked], keys[mask])
                out[mask] = rep_row[ranked[start + kth[mask] % count[mask]]]
        return out

    def _repeated_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """``(group, row)`` of every row of the windows stored in several rows."""
        if self._repeated_arrays is None:
            sizes = [len(g) for g in self._repeats]
            self._repeated_arrays = (
                np.repeat(np.arange(len(sizes), dtype=np.int64), sizes),
                np.fromiter((r for g in self._repeats for r in g), dtype=np.int64,
                            count=sum(sizes)))
        return self._repeated_arrays

    @property
    def repeated_windows(self) -> bool:
        """Partial layout: whether two stored rows have the same coordinates."""
        if self._repeated is None:
            t = self.region_table
            assert t is not None
            frame = {"chrom": np.asarray(t["chrom"]).astype(str),
                     "start": np.asarray(t["start"]), "end": np.asarray(t["end"])}
            import pandas as pd

            self._repeated = bool(pd.DataFrame(frame).duplicated().any())
        return self._repeated

    def rows_overlapping(self, chrom: str, start: int, end: int) -> np.ndarray:
        """Partial layout: the rows whose bases (flank included) overlap
        ``chrom:[start, end)``, in ascending order; a binary search in an index built on
        first use, not a scan of every row.

        Parameters
        ----------
        chrom
            Chromosome name.
        start, end
            0-based, half-open interval on ``chrom``, in bases.

        Returns
        -------
        numpy.ndarray
            Sorted int64 row indices (empty for a chromosome with no stored row).
        """
        if self._by_start is None:
            t = self.region_table
            assert t is not None
            chroms = np.asarray(t["chrom"])
            if chroms.dtype.kind == "T":  # (numpy's StringDType casts to '<U' via object)
                chroms = chroms.astype(object)
            chroms = chroms.astype(str)
            starts = np.asarray(t["start"], dtype=np.int64)
            ends = np.asarray(t["end"], dtype=np.int64)
            order = np.lexsort((starts, chroms))
            names, first = np.unique(chroms[order], return_index=True)
            bounds = list(first) + [len(order)]
            index = {}
            for k, name in enumerate(names.tolist()):
                rows = order[bounds[k]:bounds[k + 1]]
                index[name] = (rows, starts[rows], ends[rows],
                               int((ends[rows] - starts[rows]).max()) if len(rows) else 0)
            self._by_start = index
        entry = self._by_start.get(str(chrom))
        if entry is None:
            return np.zeros(0, dtype=np.int64)
        rows, starts, ends, longest = entry
        lo = int(np.searchsorted(starts, int(start) - longest, side="left"))
        hi = int(np.searchsorted(starts, int(end), side="left"))
        near = slice(lo, hi)
        hit = rows[near][ends[near] > int(start)]
        return np.sort(hit)

    # ------------------------------------------------------------ reads
    def read_rows(self, rows: np.ndarray) -> np.ndarray:
        """Partial layout: rows ``(k, position, strand, condition)`` in genomic orientation.

        Parameters
        ----------
        rows
            1-D integer array of row indices of the ``data`` array (in any order, repeats
            allowed), as :meth:`rows_of` gives them.

        Returns
        -------
        numpy.ndarray
            A new array of shape ``(len(rows), position, strand, condition)`` (``position``
            in bins, flank included), in the order of ``rows``, in the dtype reads serve.
        """
        return self.backend.read_rows(DATA, rows)

    def _chrom_array(self, chrom: str) -> str:
        """Whole-genome layout: the path of ``chrom``'s array."""
        path = self._chrom_paths.get(chrom)
        if path is not None:
            return path
        if chrom not in self.meta.chroms:
            raise ChromosomeNotFoundError(
                f"chromosome {chrom!r} is not in store {self.path or self.meta.name} "
                f"(it has {list(self.meta.chroms)[:8]})"
            )
        path = self._chrom_paths[chrom] = self.meta.array_path(chrom)
        return path

    def read_bins(self, chrom: str, start_bin: int, stop_bin: int,
                  view: bool = False) -> np.ndarray:
        """Whole-genome layout: bins ``[start_bin, stop_bin)`` of ``chrom``, padded with the
        store's pad value outside the chromosome. ``view``: the caller only reads them (see
        :meth:`~genozarr.store.backend.Backend.read_range`).

        Parameters
        ----------
        chrom
            Chromosome name (one of the store's chromosomes).
        start_bin, stop_bin
            0-based, half-open range of bins of ``chrom`` (bins of the store's resolution);
            it may reach past either end of the chromosome.
        view
            The caller only reads the result: a range within the chromosome may be a
            read-only view of cached chunks instead of a new array (default False).

        Returns
        -------
        numpy.ndarray
            Shape ``(stop_bin - start_bin, strand, condition)``, in the dtype reads serve;
            bins outside the chromosome hold the store's pad value
            (:attr:`~genozarr.store.layout.StoreMeta.served_pad`).

        Raises
        ------
        ChromosomeNotFoundError
            For a chromosome the store does not have.
        """
        name = self._chrom_array(chrom)
        n = self.backend.shape(name)[0]
        lo, hi = max(start_bin, 0), min(stop_bin, n)
        width = stop_bin - start_bin
        if lo == start_bin and hi == stop_bin:
            return self.backend.read_range(name, lo, hi, view)
        out = np.full((width, self.n_strands, self.n_conditions), self.meta.served_pad,
                      dtype=value_dtype(self.meta.dtype))
        if hi > lo:
            out[lo - start_bin:hi - start_bin] = self.backend.read_range(name, lo, hi,
                                                                          view=True)
        return out

    def read_windows(self, chrom: str, start_bins: np.ndarray, nbins: int,
                     out: np.ndarray | None = None, rows: np.ndarray | None = None) -> np.ndarray:
        """Whole-genome layout: bins ``[s, s + nbins)`` of ``chrom`` for every ``s`` of
        ``start_bins`` (at least one), shape ``(len(start_bins), nbins, strand,
        condition)``, padded outside the chromosome: windows scattered along a chromosome
        (a shuffled batch) read chunk by chunk, not window by window. With ``out``, they
        are written into ``out[rows]`` (``rows``: the row of ``out`` of each window;
        default the first ones), and ``out`` is returned.

        Parameters
        ----------
        chrom
            Chromosome name (one of the store's chromosomes).
        start_bins
            1-D integer array: the first bin of each window (read as int64); a window may
            reach past either end of the chromosome.
        nbins
            Bins per window.
        out
            Array to write the windows into, of shape ``(n, nbins, strand, condition)``
            with ``n`` covering ``rows``; None (default): a new array.
        rows
            With ``out``: the row of ``out`` that receives each window (one per start);
            None (default): rows ``0`` to ``len(start_bins) - 1``.

        Returns
        -------
        numpy.ndarray
            ``out``, or a new array of shape ``(len(start_bins), nbins, strand,
            condition)`` in the dtype reads serve.

        Raises
        ------
        ChromosomeNotFoundError
            For a chromosome the store does not have.
        """
        name = self._chrom_array(chrom)
        start_bins = np.asarray(start_bins, dtype=np.int64)
        inside = (start_bins >= 0) & (start_bins + nbins <= self.backend.shape(name)[0])
        if inside.all():
            return self.backend.read_windows(name, start_bins, nbins, out, rows)
        if out is None:
            out = np.empty((len(start_bins), nbins, self.n_strands, self.n_conditions),
                           dtype=value_dtype(self.meta.dtype))
        dest = np.arange(len(start_bins)) if rows is None else np.asarray(rows)
        if inside.any():
            self.backend.read_windows(name, start_bins[inside], nbins, out, dest[inside])
        for j in np.flatnonzero(~inside).tolist():
            out[dest[j]] = self.read_bins(chrom, int(start_bins[j]),
                                          int(start_bins[j]) + nbins)
        return out

    def prefetch_rows(self, rows: np.ndarray, fetch_only: bool = False) -> int:
        """Partial layout: start decoding the chunks of ``rows`` in the background (zarr
        backend only; a no-op otherwise), or with ``fetch_only`` start fetching their
        stored bytes (remote stores only). Returns the decoded bytes started.

        Parameters
        ----------
        rows
            Row indices of the ``data`` array about to be read (any order, repeats
            allowed).
        fetch_only
            Only start fetching the stored bytes of a remote store's chunks (default
            False).

        Returns
        -------
        int
            Decoded bytes of the chunks whose decoding was started: 0 without a zarr
            backend, for no rows, and with ``fetch_only``
            (:meth:`~genozarr.store.backend.ZarrBackend.prefetch_rows`).
        """
        if isinstance(self.backend, ZarrBackend) and len(rows):
            return self.backend.prefetch_rows(DATA, rows, fetch_only=fetch_only)
        return 0

    def prefetch_bins(self, chrom: str, start_bins: np.ndarray, nbins: int,
                      fetch_only: bool = False) -> int:
        """Whole-genome layout: start decoding the chunks of the windows
        ``[start_bins, start_bins + nbins)`` of ``chrom`` in the background (zarr backend
        only; a no-op otherwise), or with ``fetch_only`` start fetching their stored bytes
        (remote stores only). Returns the decoded bytes started.

        Parameters
        ----------
        chrom
            Chromosome name; one the store does not have prefetches nothing.
        start_bins
            1-D integer array: the first bin of each window (windows may reach past the
            chromosome's ends: only the chunks within it are started).
        nbins
            Bins per window.
        fetch_only
            Only start fetching the stored bytes of a remote store's chunks (default
            False).

        Returns
        -------
        int
            Decoded bytes of the chunks whose decoding was started: 0 without a zarr
            backend, for no windows, for a chromosome not in the store, and with
            ``fetch_only``
            (:meth:`~genozarr.store.backend.ZarrBackend.prefetch_chunks`).
        """
        if (not isinstance(self.backend, ZarrBackend) or not len(start_bins)
                or chrom not in self.meta.chroms):
            return 0
        name = self._chrom_array(chrom)
        size, last = self.backend.chunk_len(name), max(self.backend.shape(name)[0] - 1, 0)
        start_bins = np.asarray(start_bins, dtype=np.int64)
        first = np.minimum(np.maximum(start_bins, 0), last) // size
        end = np.minimum(np.maximum(start_bins + nbins - 1, 0), last) // size
        # a window no longer than a chunk lies in its first and last chunks
        ids = np.concatenate((first, end)) if nbins <= size else window_chunks(first, end)
        return self.backend.prefetch_chunks(name, ids, fetch_only=fetch_only)

    def dense(self, name: str = DATA) -> np.ndarray:
        """A whole array as numpy: ``data`` (partial layout), or a chromosome's array by
        its name or path (whole-genome layout).

        Parameters
        ----------
        name
            Array path (one of :meth:`array_names`; default ``'data'``, the partial
            layout's array), or in the whole-genome layout a chromosome name.

        Returns
        -------
        numpy.ndarray
            The whole array: ``(region, position, strand, condition)`` for ``data``,
            ``(position, strand, condition)`` for a chromosome's array (``position`` in
            bins).
        """
        if self.whole_genome and name in self.meta.chroms:
            name = self.meta.array_path(name)
        return self.backend.dense(name)

    def array_names(self) -> list[str]:
        """Paths of the data arrays (``data``, or one per chromosome).

        Returns
        -------
        list of str
            ``['data']`` in the partial layout; one path per chromosome, in chromosome
            order, in the whole-genome layout
            (:meth:`~genozarr.store.layout.StoreMeta.array_paths`).
        """
        return self.meta.array_paths()

    def to_backend(self, storage: str) -> Store:
        """This store with its arrays moved to an in-memory backend (``ndarray``/``sparse``).

        Parameters
        ----------
        storage
            ``'ndarray'`` (numpy arrays) or ``'sparse'`` (scipy.sparse); the storage of the
            current backend (``'zarr'`` for a store read from disk) returns this store
            itself.

        Returns
        -------
        Store
            ``self`` when ``storage`` is the backend's own; else a new :class:`Store` with
            the same metadata, path and region table whose arrays are read whole into
            memory.

        Raises
        ------
        ArgumentError
            For a float16 store with ``storage='sparse'`` (a bfloat16 store is loaded
            as float32).
        """
        if storage == self.backend.storage:
            return self
        from genozarr.store.dtypes import check_storage, value_dtype

        # what the arrays are served as (a bfloat16 zarr store is loaded as float32)
        check_storage(value_dtype(self.meta.dtype), storage)
        backend: Backend
        if storage == "ndarray":
            backend = MemoryBackend({name: self.dense(name) for name in self.array_names()})
        else:  # read block by block, never the whole dense array
            backend = SparseBackend({name: self._sparse_rows(name)
                                     for name in self.array_names()})
        store = Store(self.meta, backend, self.path, self.region_table)
        store.kept_existing = self.kept_existing
        return store

    def _sparse_rows(self, name: str) -> SparseRows:
        """Array ``name`` as :class:`~genozarr.store.backend.SparseRows`, read in blocks
        of about :data:`SPARSE_READ_BYTES` (decoded)."""
        shape, dtype = self.backend.shape(name), value_dtype(self.meta.dtype)
        rows = SparseRows(shape, dtype)
        entry = max(1, math.prod(shape[1:]) * np.dtype(dtype).itemsize)
        step = max(1, SPARSE_READ_BYTES // entry)
        chunk = getattr(self.backend, "chunk_len", None)
        if chunk is not None:  # whole chunks (read once: no chunk is cached here)
            clen = chunk(name)
            step = max(1, step // clen) * clen
        with reading_once():  # (every chunk is read once: none kept in the chunk cache)
            for start in range(0, shape[0], step):
                rows.put(start, self.backend.read_range(name, start,
                                                        min(start + step, shape[0])))
        return rows


class RegionTable(dict):
    """The region table of a partial store (``chrom``, ``start``, ``end``, ``strand``
    arrays of its rows, ``name`` where recorded): a dict (``pd.DataFrame(table)``,
    ``dict(table)``, ``table.copy()`` as before) that refuses changes, of read-only
    arrays.

    Parameters
    ----------
    columns
        Column name to array.
    """

    def __init__(self, columns: Mapping[str, Any] = ()) -> None:
        super().__init__((key, _read_only_view(values)) for key, values in dict(columns).items())

    def __reduce__(self) -> tuple[Any, ...]:  # (pickle sets no item one by one)
        return type(self), (dict(self),)

    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("a store's region_table cannot be changed: its rows' lookups are "
                        "built from it (to change a copy: {key: np.array(values) for key, "
                        "values in table.items()}, whose arrays are writable)")

    __setitem__ = __delitem__ = __ior__ = _refuse  # type: ignore[assignment]
    update = pop = popitem = clear = setdefault = _refuse  # type: ignore[assignment]

    def replace(self, key: str, values: Any) -> None:
        """Replace column ``key`` (genozarr's own record of the strands a reused store
        serves, before any read by interval).

        Parameters
        ----------
        key
            Column name.
        values
            Its new array (kept as a read-only view).
        """
        dict.__setitem__(self, key, _read_only_view(values))


def _read_only_view(values: Any) -> Any:
    """A read-only view of a numpy array (anything else as it is)."""
    return _read_only(values, True) if isinstance(values, np.ndarray) else values


#: a store loaded as ``storage='sparse'`` is read this many decoded bytes at a time
SPARSE_READ_BYTES = 4 << 20


def _check_region_table(table: dict[str, np.ndarray], where: str) -> None:
    """Refuse a partial store's windows that no build writes: a window not ending after
    its start (chunks of the coordinates deleted, or the arrays resized, in a store whose
    record of its chunks was edited to match: every window read as ``:0-0``, an audit).
    Windows of no chromosome or strand are refused by :func:`_labels_of`."""
    from genozarr.errors import StoreFormatError

    start, end = np.asarray(table["start"]), np.asarray(table["end"])
    bad = np.flatnonzero(end <= start)
    if len(bad):
        i = int(bad[0])
        raise StoreFormatError(
            f"store {where}: {len(bad)} stored window(s) do not end after their start, as "
            f"row {i} ({table['chrom'][i]}:{start[i]}-{end[i]}); the store's region "
            "coordinates were edited or are damaged. Rebuild it (overwrite=True).")


def _labels_of(values: np.ndarray, shared: bool, where: str | None = None,
               column: str = "") -> np.ndarray:
    """Text labels as an object array of str; ``shared``: one str object per distinct
    label (a window's chromosome and strand: a str of its own per window cost about 60
    bytes each, a million windows' worth at every open of a partial store). With
    ``where`` (the store), an empty label of ``column`` is refused: no build writes a
    window of no chromosome or strand."""
    if not shared or len(values) == 0:
        return np.array(values.tolist(), dtype=object)
    from genozarr._kernels import factorize_labels

    codes, uniques = factorize_labels(values)
    if where is not None and ("" in uniques or bool((codes < 0).any())):
        from genozarr.errors import StoreFormatError

        empty = np.flatnonzero((codes < 0) | (codes == (uniques.index("") if "" in uniques
                                                         else -1)))
        raise StoreFormatError(
            f"store {where}: {len(empty)} stored window(s) have no {column}, as row "
            f"{int(empty[0])}; the store's region coordinates were edited or are damaged "
            "(chunks of them deleted). Rebuild it (overwrite=True).")
    names = np.array([str(u) for u in uniques] + [""], dtype=object)
    return names[codes]


def load_store(path: str | os.PathLike, storage: str = "zarr",
               storage_options: dict[str, Any] | None = None) -> Store:
    """Open a complete store at ``path`` with the requested backend.

    The version published at ``path`` is resolved once and read from then on (a rebuild
    of the store meanwhile does not change what this store reads), and its arrays are
    checked against its metadata first.

    Parameters
    ----------
    path
        Store location.
    storage
        'zarr' reads from the store; 'ndarray' and 'sparse' load it into memory.
    storage_options
        fsspec options.

    Returns
    -------
    Store

    Raises
    ------
    StoreError
        Missing, incomplete, unreachable or non-genozarr store.
    StoreFormatError
        Newer format version, or arrays that disagree with the metadata (dtype, shape,
        chunk shape, strands, conditions, bins, regions).
    """
    from genozarr.store.open import absolute_store_path, check_arrays, open_resolved, read_whole

    path = absolute_store_path(path)
    opened = open_resolved(path, storage_options)
    meta = opened.meta()
    check_arrays(opened.group(), meta, str(path), opened.marker)
    backend = ZarrBackend(str(path), storage_options, opened=opened)
    table = None
    if meta.layout == "partial":
        g = backend.group
        keys = dict(zip(("chrom", "start", "end", "strand"), REGION_COORDS))
        if REGION_NAME in g:  # optional: region names from the ROI's name column
            keys["name"] = REGION_NAME
        table = {
            col: values if values.dtype.kind in "iu" else _labels_of(
                values, col != "name", str(path), "chromosome" if col == "chrom" else col)
            for col, values in zip(keys, read_whole([g[key] for key in keys.values()],
                                                    str(path)))}
        _check_region_table(table, str(path))
    store = Store(meta, backend, str(path), table)
    return store.to_backend(storage)

"""Model predictions (numpy) back onto the genome: :meth:`Cover.create_from_array`.

A model's output for the windows of a :class:`~genozarr.regions.GenomicIndexer` is an
ordinary array. :func:`cover_from_array` re-attaches the genomic coordinates: the result
is a :class:`~genozarr.dataset.Cover` whose ``cover[i]`` is ``array[i]`` again, which can be
plotted (:func:`genozarr.plot.plot_genome_track`), read by genomic interval
(``cover['chr1', start, end]``) or exported (:meth:`Cover.export_to_bigwig`).

Differences from Janggu's ``Cover.create_from_array``:

- Two strands are kept as two strand channels (Janggu summed them into one).
- The resolution is ``(binsize + 2 * flank) // length`` (Janggu ignored the flank) or given.
- Minus-strand windows are stored in genomic orientation (position and strand axes flipped
  back), so that the genomic-interval view and the exported BigWig show the values at the
  bases they were predicted for; reading ``cover[i]`` flips them again.
- With ``store_whole_genome=True`` overlapping windows are accepted when they agree on
  their common bins (Janggu refused any ``binsize > stepsize``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from genozarr._typing import PathLike
from genozarr._validate import check_name, name_list
from genozarr.config import pins_layout
from genozarr.errors import ArgumentError, ChromosomeNotFoundError, RegionError, get_logger
from genozarr.regions import GenomicIndexer

if TYPE_CHECKING:
    from genozarr.dataset import Cover
    from genozarr.store.handle import Store

__all__ = ["cover_from_array", "prepare_array"]

log = get_logger(__name__)


def prepare_array(array: Any, n_windows: int, channel_last: bool = True) -> np.ndarray:
    """Bring predictions to the 4-D ``(window, position, strand, condition)`` layout.

    Parameters
    ----------
    array
        ``(n, condition)``, ``(n, position, condition)`` or ``(n, position, strand,
        condition)`` with ``channel_last=True``; with ``channel_last=False`` the condition
        axis comes second: ``(n, condition)``, ``(n, condition, position)`` or ``(n,
        condition, position, strand)``. Any array-like (a torch tensor on the CPU works).
    n_windows
        Number of windows of the indexer; must equal ``len(array)``.
    channel_last
        Where the condition axis is.

    Returns
    -------
    numpy.ndarray
        A 4-D view (or copy) of the array; missing axes have length 1.

    Raises
    ------
    ArgumentError
        For a wrong number of dimensions or windows, or more than two strands.
    """
    if isinstance(array, np.ma.MaskedArray) and np.ma.is_masked(array):
        # (np.asarray serves the values under the mask)
        raise ArgumentError("array is a masked array with masked entries: fill them first "
                            "(array.filled(np.nan), or another value)")
    if hasattr(array, "__dask_graph__") and callable(getattr(array, "compute", None)):
        # a dask array is computed on the scheduler genozarr's options name (np.asarray
        # would take dask's default: an active dask.distributed client, whatever they say)
        from genozarr.store._run import in_process_scheduler

        with in_process_scheduler(array) as kwargs:
            array = array.compute(**kwargs)
    x = np.asarray(array)
    if x.dtype.name == "bfloat16":  # (ml_dtypes': every value is a float32 one)
        x = x.astype(np.float32)
    if x.dtype.kind not in "biuf":
        raise ArgumentError(f"array must hold numbers (bool, int or float), got dtype {x.dtype}")
    if not x.dtype.isnative:  # ('>f4': stored, served and recorded as float32; a store of
        x = x.astype(x.dtype.newbyteorder("="))  # '>f4' was refused at open as damaged)
    if x.ndim not in (2, 3, 4):
        raise ArgumentError(
            f"array must have 2, 3 or 4 dimensions ((n, condition), (n, position, condition) "
            f"or (n, position, strand, condition)), got shape {x.shape}")
    if not channel_last and x.ndim > 2:
        x = np.moveaxis(x, 1, -1)
    if x.ndim == 2:
        x = x[:, None, None, :]
    elif x.ndim == 3:
        x = x[:, :, None, :]
    if x.shape[0] != n_windows:
        raise ArgumentError(
            f"the array holds {x.shape[0]} windows but the indexer has {n_windows} "
            "(len(gindexer) must equal array.shape[0])")
    if x.shape[2] not in (1, 2):
        raise ArgumentError(
            f"the strand axis must have length 1 or 2, got {x.shape[2]} (array shape after "
            f"moving the condition axis last: {x.shape}); pass channel_last=False if the "
            "condition axis is second")
    if x.shape[1] == 0 or x.shape[3] == 0:
        raise ArgumentError(f"the array has an empty position or condition axis: {x.shape}")
    return x


def _store_dtype(x: np.ndarray, dtype: Any, padding_value: float) -> np.dtype:
    if dtype is not None:
        from genozarr.store.dtypes import check_store_dtype, store_dtype

        return store_dtype(check_store_dtype(dtype))
    out = x.dtype
    if out.kind == "f":
        return out
    pad = float(padding_value)
    if not math.isfinite(pad) or not pad.is_integer():
        return np.dtype("float64")
    if out.kind == "b":
        return out if pad in (0.0, 1.0) else np.dtype("float32")
    info = np.iinfo(out)
    return out if info.min <= pad <= info.max else np.dtype("float64")


def _resolve_resolution(gindexer: GenomicIndexer, length: int,
                        resolution: int | None) -> tuple[int | None, int]:
    """``(resolution, bins per window)`` for arrays with ``length`` positions."""
    if resolution is not None and (isinstance(resolution, bool)
                                   or not isinstance(resolution, (int, np.integer))
                                   or resolution < 1):
        raise ArgumentError(f"resolution must be a positive integer or None, got {resolution!r}")
    if gindexer.binsize is None:
        # windows of different lengths (GenomicIndexer with collapse=True)
        if length != 1:
            raise ArgumentError(
                "the indexer has windows of different lengths, so the array can hold only one "
                f"value per window (position axis of length 1), got length {length}")
        return None, 1
    window = gindexer.binsize + 2 * gindexer.flank
    if resolution is None:
        if window % length:
            raise ArgumentError(
                f"window length {window} (binsize {gindexer.binsize} + 2 x flank "
                f"{gindexer.flank}) is not divisible by the array's position axis ({length}); "
                "the resolution (bases per value) is window length // length")
        return window // length, length
    resolution = int(resolution)
    if window % resolution:
        raise ArgumentError(
            f"window length {window} (binsize {gindexer.binsize} + 2 x flank "
            f"{gindexer.flank}) is not divisible by resolution {resolution}")
    nbins = window // resolution
    if length not in (1, nbins):
        raise ArgumentError(
            f"with resolution {resolution} a window of {window} bases has {nbins} bins, but the "
            f"array's position axis has length {length} (expected {nbins}, or 1 to repeat one "
            "value over the window)")
    return resolution, nbins


def _genome_sizes(gindexer: GenomicIndexer, genomesize: Any) -> dict[str, int]:
    """Chromosome lengths of the indexer's chromosomes: from ``genomesize``, in its order,
    or, without it, the largest window end (flank included) on each chromosome, in the
    order the windows first reach them."""
    from genozarr._kernels import factorize_labels
    from genozarr.genome import chrom_sizes

    chrs, _, ends, _ = gindexer.as_arrays()
    # the chromosomes in the order the windows first reach them, in one pass (a mask per
    # chromosome was windows x chromosomes: minutes for a genome of many contigs)
    codes, uniques = factorize_labels(chrs.astype(str))
    chroms = [str(c) for c in uniques]
    if genomesize is not None:
        given = chrom_sizes(genomesize)
        missing = [c for c in chroms if c not in given]
        if missing:
            raise ChromosomeNotFoundError(
                f"genomesize has no length for chromosome(s) {missing[:5]} of the indexer; it "
                f"has {list(given)[:8]}")
        have = set(chroms)
        return {c: int(n) for c, n in given.items() if c in have}
    largest = np.full(len(chroms), np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(largest, codes, np.asarray(ends, dtype=np.int64))
    return {c: int(n) for c, n in zip(chroms, largest)}


def _partial_rows(x: np.ndarray, minus: np.ndarray, nbins: int) -> np.ndarray:
    """Rows in genomic orientation (minus-strand windows flipped), broadcast to ``nbins``."""
    if x.shape[1] != nbins:
        x = np.broadcast_to(x, (x.shape[0], nbins) + x.shape[2:])
    from genozarr._kernels import orient_windows

    return orient_windows(np.array(x, copy=True), minus)


def _whole_genome_arrays(x: np.ndarray, gindexer: GenomicIndexer, minus: np.ndarray,
                         nbins: int, resolution: int, sizes: dict[str, int], dtype: np.dtype,
                         padding_value: float) -> dict[str, np.ndarray]:
    """Scatter windows into per-chromosome arrays at ``resolution`` (padding elsewhere)."""
    from genozarr._kernels import orient_windows
    from genozarr.store.layout import array_path

    chrs, wstarts, _, _ = gindexer.as_arrays()
    chr_str = chrs.astype(str)
    bad = np.flatnonzero(wstarts % resolution)
    if len(bad):
        region = gindexer[int(bad[0])]
        raise RegionError(
            f"window {region.chrom}:{region.start}-{region.end} (flank included) starts at a "
            f"position not divisible by resolution {resolution}; with store_whole_genome=True "
            "every window start must be a multiple of the resolution. Trim the regions "
            "(genozarr.trim_regions), pass a smaller resolution that divides the starts (a "
            "length-1 position axis is then repeated over the window), or use "
            "store_whole_genome=False")
    # bins holding data: a partial last window of a region ends at its end + flank
    data_bins = np.minimum(-(-(gindexer.ends + gindexer.flank - wstarts) // resolution), nbins)
    out: dict[str, np.ndarray] = {}
    offsets = np.arange(nbins)
    for chrom, size in sizes.items():
        n_chrom_bins = -(-size // resolution)
        arr = np.full((n_chrom_bins, x.shape[2], x.shape[3]), padding_value, dtype=dtype)
        sel = np.flatnonzero(chr_str == chrom)
        if len(sel):
            win = x[sel]
            if win.shape[1] != nbins:
                win = np.broadcast_to(win, (len(sel), nbins) + win.shape[2:])
            win = orient_windows(np.array(win, dtype=dtype, copy=True), minus[sel])
            bins = (wstarts[sel] // resolution)[:, None] + offsets
            valid = (offsets < data_bins[sel][:, None]) & (bins >= 0) & (bins < n_chrom_bins)
            target = bins[valid]
            values = win[valid]
            arr[target] = values
            if len(target) != len(np.unique(target)):
                # overlapping windows: accepted only where they agree
                stored = arr[target]
                same = stored == values
                if dtype.kind == "f":
                    same |= np.isnan(stored) & np.isnan(values)
                if not np.all(same):
                    k = int(np.flatnonzero(~same.reshape(len(target), -1).all(axis=1))[0])
                    pos = int(target[k]) * resolution
                    raise ArgumentError(
                        f"windows overlap with different values at {chrom}:{pos}-"
                        f"{pos + resolution}; a whole-genome store holds one value per bin. "
                        "Use store_whole_genome=False (one row per window) for overlapping "
                        "windows (stepsize < binsize or flank > 0)")
        out[array_path(chrom)] = arr
    return out


@pins_layout  # (the store's key and its layout from one reading of the options)
def cover_from_array(
    cls: type[Cover], name: str, array: Any, gindexer: GenomicIndexer,
    genomesize: Any = None, conditions: Sequence[str] | None = None,
    resolution: int | None = None, storage: str = "ndarray", channel_last: bool = True,
    store_whole_genome: bool = False, padding_value: float = 0.0,
    store: PathLike | None = None, cache: bool = False, *, overwrite: bool = False,
    dtype: Any = None, storage_options: dict[str, Any] | None = None,
    condition_metadata: Any = None,
) -> Cover:
    """A :class:`~genozarr.dataset.Cover` holding predictions for the windows of an indexer.

    ``cover[i]`` returns ``array[i]`` (in the layout given by ``channel_last``), whatever
    the strand of window ``i``: values are stored in genomic orientation and minus-strand
    windows are flipped back on read, as for every Cover. With ``store_whole_genome=True``
    the parts of a window that are not stored (past a chromosome end, or the padding of a
    region's zero-padded last window: see ``store_whole_genome``) read as
    ``padding_value`` instead; the partial layout keeps every row as given.

    Parameters
    ----------
    cls
        The Cover class (or a subclass) to build.
    name
        Dataset name (names the store directory and exported files).
    array
        Predictions, one entry per window of ``gindexer``: ``(n, length, strand,
        condition)``, or ``(n, length, condition)`` (one strand), or ``(n, condition)``
        (one value per window). With ``channel_last=False`` the condition axis is second:
        ``(n, condition, length, strand)``. ``strand`` is 1 or 2 (``'+'``, ``'-'``); Janggu
        summed two strands into one, genozarr keeps both.
    gindexer
        The windows the predictions were made for, e.g. ``dataset.gindexer`` of the
        model's input.
    genomesize
        Chromosome lengths (dict or file). The Cover records the chromosomes that hold
        windows (others are left out), in the order of ``genomesize``; an exported BigWig
        declares them in that order (unless the export is given its own ``genomesize``),
        and nothing past these lengths is exported. Without it the lengths are inferred as
        the largest window end (flank included) on each chromosome, in the order the
        windows first reach the chromosomes: enough for the windows, but a BigWig exported
        from such a Cover declares chromosomes that short.
    conditions
        Condition names; default ``Cond_0, Cond_1, ...`` (as Janggu).
    resolution
        Bases per value. Default: ``(binsize + 2 * flank) // length``, so a length-1
        position axis gives one value per window (resolution = window length). When
        given, the position axis must have ``(binsize + 2 * flank) // resolution`` entries,
        or 1 (the value is repeated over the window's bins). Windows of different lengths
        (an indexer with ``binsize=None``) take one value each and store
        ``resolution=None``.
    storage
        'ndarray', 'sparse' or 'zarr' ('hdf5' maps to 'zarr').
    channel_last
        Whether the condition axis is the last (True) or the second (False) one.
    store_whole_genome
        Scatter the windows into one array per chromosome (``resolution`` bins, positions
        not covered by a window hold ``padding_value``) instead of keeping one row per
        window. Window starts (minus flank) must be multiples of the resolution;
        overlapping windows must agree where they overlap. Only the bins of a window that
        lie on the chromosome, and before the end (+ flank) of a partial last window of a
        region, are kept: the rest reads back as ``padding_value``.
    padding_value
        Value of positions without data (whole-genome layout, flanks past a chromosome
        end).
    store
        Path or URL of a zarr store to write (default for 'zarr' or ``cache=True``: under
        the output directory, ``datasets/<name>/``).
    cache
        Reuse a store built earlier from the same array content, windows and arguments.
    overwrite
        Rebuild a cached store.
    dtype
        Stored dtype; default the array's (integer arrays become float64 when
        ``padding_value`` is not an integer; a bfloat16 array is stored as bfloat16 in
        zarr, as float32 in memory). ``'bfloat16'`` (``storage='zarr'`` only)
        stores half the bytes of float32 with float32's range and 8 significant bits, and
        is served as float32.
    storage_options
        fsspec options for a remote ``store``.
    condition_metadata
        Metadata per condition, as a sample sheet's columns (``cell_type``, ``assay``
        ...): a :class:`pandas.DataFrame` (one row per condition, indexed by the condition
        names or in their order) or a mapping ``{column: values}``. Stored and served as
        a sample sheet's are (``cover.condition_metadata``, coordinates along
        ``condition``); default none.

    Returns
    -------
    Cover

    Raises
    ------
    ArgumentError
        For shapes that do not match the indexer or the resolution, windows that overlap
        with different values in the whole-genome layout, or metadata that are not one
        value per condition.
    RegionError
        For window starts that are not multiples of the resolution (whole-genome layout).

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from genozarr import Cover, GenomicIndexer
    >>> roi = pd.DataFrame({"chrom": ["chr1"] * 2, "start": [0, 400], "end": [200, 600],
    ...                     "strand": ["+", "-"]})
    >>> gi = GenomicIndexer.create_from_file(roi, binsize=200, stepsize=200)
    >>> pred = np.arange(8, dtype="float32").reshape(2, 4, 1)   # 4 bins of 50 bp
    >>> cover = Cover.create_from_array("pred", pred, gi, conditions=["score"])
    >>> cover.shape, cover.garray.meta.resolution
    ((2, 4, 1, 1), 50)
    >>> cover[1][0, :, 0, 0]
    array([4., 5., 6., 7.], dtype=float32)
    >>> cover["chr1", 400, 600][0, ::50, 0, 0]  # genomic orientation: the minus window reversed
    array([7., 6., 5., 4.], dtype=float32)
    """
    from genozarr.samples import condition_metadata as sheet_columns
    from genozarr.store.backend import normalise_storage
    from genozarr.store.builder import BuildPlan, build, reuse_cached, store_location
    from genozarr.store.cache import cache_key
    from genozarr.store.dtypes import check_storage, fit_problem, is_bfloat16, value_dtype
    from genozarr.store.layout import DATA, StoreMeta, plan_layout
    from genozarr.store.recipe import make_recipe

    name = check_name(name)
    if not isinstance(gindexer, GenomicIndexer):
        raise ArgumentError(f"gindexer must be a GenomicIndexer, got {type(gindexer).__name__}")
    storage = normalise_storage(storage)
    if dtype is None and is_bfloat16(getattr(array, "dtype", None)):
        # stored as given in zarr; in memory as float32 (exact: numpy has no bfloat16)
        dtype = "bfloat16" if storage == "zarr" else "float32"
    x = prepare_array(array, len(gindexer), channel_last)
    n_strands, n_conditions = x.shape[2], x.shape[3]
    if conditions is None:
        conds = [f"Cond_{i}" for i in range(n_conditions)]
    else:
        conds = name_list("conditions", conditions)
        if len(conds) != n_conditions:
            raise ArgumentError(
                f"conditions has {len(conds)} names for {n_conditions} conditions in the array "
                f"(condition axis of length {n_conditions}): {conds}")
        if len(set(conds)) != len(conds):
            raise ArgumentError(f"condition names must be unique, got {conds}")
    metadata = {} if condition_metadata is None else sheet_columns(condition_metadata, conds)
    strands = ["."] if n_strands == 1 else ["+", "-"]
    res, nbins = _resolve_resolution(gindexer, x.shape[1], resolution)
    if store_whole_genome and res is None:
        raise ArgumentError(
            "store_whole_genome=True needs windows of one length (an indexer with a binsize); "
            "windows of different lengths can only be stored with store_whole_genome=False")
    pad = float(padding_value)
    store_dtype = _store_dtype(x, dtype, pad)
    check_storage(store_dtype, storage)
    for what, values in (("the array", x), ("padding_value", np.array([pad]))):
        problem = fit_problem(values, store_dtype)
        if problem is not None:
            raise ArgumentError(f"dtype={str(store_dtype)!r}: {what} {problem}; choose a "
                                "dtype that holds it (dtype='float64' holds any number) "
                                "or scale the values")
    work = value_dtype(store_dtype)  # bfloat16: assembled in float32, rounded as written
    if is_bfloat16(store_dtype) and x.dtype.itemsize >= 4 and x.dtype != work:
        # rounded to bfloat16 once, from the values given: through float32 first, a float64
        # (or a large integer) rounds twice, one bfloat16 step off at times, or past the
        # largest bfloat16 to an infinity
        with np.errstate(over="ignore"):
            x = x.astype(store_dtype).astype(work)
    sizes = _genome_sizes(gindexer, genomesize)
    minus = gindexer.strand.astype(str) == "-"
    meta = StoreMeta(
        name=name, kind="coverage", layout="whole_genome" if store_whole_genome else "partial",
        resolution=res, binsize=gindexer.binsize, stepsize=gindexer.stepsize,
        flank=gindexer.flank, dtype=str(store_dtype), conditions=conds, strands=strands,
        chroms=sizes, sources=[], pad_value=pad, condition_metadata=metadata,
        recipe=make_recipe("Cover", "create_from_array",
                           {"padding_value": pad, "resolution": res,
                            "store_whole_genome": bool(store_whole_genome),
                            "conditions": conds, "dtype": str(store_dtype)},
                           [], channel_last=channel_last),
    )
    # where the store goes, and whether a cached one can be reused
    path = None
    key = None
    if cache or storage == "zarr" or store is not None:
        chrs, starts, ends, wstrands = gindexer.as_arrays()
        windows_key = {"chrom": chrs, "start": starts, "end": ends, "strand": wstrands}
        if gindexer.names is not None:  # names are stored (both layouts): they make the store
            windows_key["name"] = np.asarray(gindexer.names, dtype=object)
        key_args = {"source": "array", "array": np.ascontiguousarray(x),
                    "resolution": res, "whole_genome": bool(store_whole_genome),
                    "conditions": conds, "padding_value": pad,
                    **({"condition_metadata": [[c, v] for c, v in metadata.items()]}
                       if metadata else {}),
                    # in their order: the store's and its exports' (the key's dicts are
                    # sorted)
                    "chroms": [[c, n] for c, n in sizes.items()],
                    "dtype": str(store_dtype), "binsize": gindexer.binsize,
                    "flank": gindexer.flank}
        from genozarr.config import layout_choices

        if layout_choices():  # another chunking or codec: another store (as for files)
            key_args["layout"] = layout_choices()
        key = cache_key([], windows_key, key_args)
        meta.cache_key = key
        path = store_location(name, key, store)
    built = None
    if cache and not overwrite and path is not None:
        built = reuse_cached(path, key, storage, storage_options)
    if built is None:
        table = None
        if store_whole_genome:
            assert res is not None
            arrays = _whole_genome_arrays(x, gindexer, minus, nbins, res, sizes, work, pad)
            windows = (gindexer.chrs.astype(str), gindexer.starts, gindexer.ends,
                       gindexer.strand.astype(str), gindexer.names)
            specs, coords = plan_layout(meta, windows=windows)
        else:
            chrs, starts, ends, wstrands = gindexer.as_arrays()
            table = {"chrom": chrs.astype(str).astype(object), "start": starts, "end": ends,
                     "strand": wstrands.astype(str).astype(object),
                     **({} if gindexer.names is None else {"name": gindexer.names})}
            arrays = {DATA: _partial_rows(x.astype(work, copy=False), minus, nbins)}
            specs, coords = plan_layout(meta, n_regions=len(gindexer), region_table=table)
        plan = BuildPlan(meta, specs, coords, table, arrays=arrays)
        built = build(plan, storage=storage, path=path, storage_options=storage_options,
                      overwrite=overwrite, label=name)
        log.info("%s: %d windows, resolution %s, %s layout, %s storage", name, len(gindexer),
                 res, meta.layout, storage)
    obj = cls(name, gindexer, built, channel_last=channel_last)
    # a store reused (or published first by another build) may record another
    # channel_last: open_dataset gives the dataset built last (the windows, strands
    # included, are in the cache key)
    obj._record_served(storage_options, windows_recorded=True)
    return obj

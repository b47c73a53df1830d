"""Ingest: regions + a source reader -> a store, as independent chunk-aligned dask tasks.

Each task covers one block (a chromosome block in the whole-genome layout, a block of
rows in the partial layout) aligned to the zarr chunks, opens its own file handles, reads
every input file (condition) of the block, collapses it to the resolution and writes whole
chunks of its own, so no two tasks write one chunk and memory stays bounded by the block
size whatever the genome size. The same task graph runs on dask's local schedulers and on
a ``dask.distributed`` cluster.
"""

from __future__ import annotations

import logging
import math
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from genozarr.config import OPTIONS
from genozarr.errors import ArgumentError, RegionError
from genozarr.genome import chrom_mapping
from genozarr.regions import GenomicIndexer
from genozarr.store.backend import Backend, MemoryBackend, SparseBackend, ZarrBackend
from genozarr.store.handle import Store
from genozarr.store.layout import DATA, REGION_COORDS, StoreMeta, array_name, position_dim
from genozarr.store.write import ArraySpec, StoreWriter, write_block

__all__ = ["Source", "build_store", "run_tasks", "chunk_length"]

_TARGET = "\x00target-store"

log = logging.getLogger(__name__)


class Source:
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

    def file_chrom_sizes(self, i: int) -> dict[str, int]:
        """Chromosome sizes of file ``i`` (from its header or index)."""
        raise NotImplementedError

    def read_file(self, i: int, chrom: str, start: int, end: int) -> np.ndarray:
        """Values of file ``i`` on ``[start, end)`` of (file) chromosome ``chrom``:
        shape ``(end - start, n_strands, n_channels)``, padded outside the chromosome."""
        raise NotImplementedError

    def channels_per_file(self) -> int:
        return 1

    def resolve_chroms(self, chroms: list[str], mapping: Any = None) -> None:
        """Match region chromosome names to every file's names (see
        :func:`genozarr.genome.chrom_mapping`)."""
        self.chrom_names = [
            chrom_mapping(chroms, self.file_chrom_sizes(i), self.files[i], mapping)
            for i in range(len(self.files))
        ]

    def read(self, chrom: str, start: int, end: int) -> np.ndarray:
        """All files on ``[start, end)`` of region chromosome ``chrom``: ``(L, S, C)``."""
        parts = [self.read_file(i, self.chrom_names[i][chrom], start, end)
                 for i in range(len(self.files))]
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=-1)

    def read_binned(self, chrom: str, start: int, end: int, resolution: int) -> np.ndarray:
        """``read`` collapsed to ``resolution`` (``end - start`` divisible by it)."""
        from genozarr._kernels import collapse

        values = self.read(chrom, start, end)
        if resolution == 1:
            return values
        return collapse(values, resolution, self.collapser)


def chunk_length(row_bytes: int, n: int) -> int:
    """First-axis chunk length so one chunk decodes to about ``chunk_bytes``."""
    target = OPTIONS["chunk_bytes"]
    return max(1, min(n if n > 0 else 1, target // max(row_bytes, 1)))


# ---------------------------------------------------------------------------- tasks
#: decoded bytes one whole-genome task aims at: a few chunks, so that the fixed cost of a
#: task (scheduling, pickling the source, opening the zarr array, one asynchronous zarr
#: write, seeking in the input files) is paid once per several chunks, and zarr encodes
#: the chunks of one write concurrently; memory per task stays bounded by this size
_TASK_BYTES = 8 * 2**20


#: bases of input one whole-genome task covers at most (unless one chunk is longer): keeps
#: enough tasks for every worker at coarse resolutions, where a chunk spans many bases
_TASK_BASES = 16 * 2**20


def _chunks_per_task(chunk_bytes: int, chunk_bases: int | None = None) -> int:
    """Whole zarr chunks per whole-genome ingest task (chunks of ``chunk_bytes`` decoded,
    covering ``chunk_bases`` bases of input)."""
    n = max(1, _TASK_BYTES // max(chunk_bytes, 1))
    if chunk_bases:
        n = min(n, max(1, _TASK_BASES // chunk_bases))
    return n


def _window_values(source: Source, chrom: str, start: int, end: int, length: int,
                   resolution: int | None) -> np.ndarray:
    """Values of one partial-layout row: data on ``[start, end)`` then padding to
    ``length`` bases, collapsed to the resolution (``None``: one value)."""
    from genozarr._kernels import collapse

    data = source.read(chrom, start, end)
    if data.shape[0] < length:
        pad = np.full((length - data.shape[0],) + data.shape[1:], source.pad_value,
                      dtype=data.dtype)
        data = np.concatenate([data, pad], axis=0)
    if resolution is None:
        return collapse(data, data.shape[0], source.collapser) if data.shape[0] else \
            np.zeros((1,) + data.shape[1:], dtype=data.dtype)
    return data if resolution == 1 else collapse(data, resolution, source.collapser)


def _rows_task(source: Source, chroms: np.ndarray, starts: np.ndarray, ends: np.ndarray,
               length: int | None, resolution: int | None, dtype: str,
               target: str | None, row0: int, storage_options: Any) -> np.ndarray | None:
    out = np.stack([
        _window_values(source, c, int(s), int(e), int(length if length is not None else e - s),
                       resolution)
        for c, s, e in zip(chroms, starts, ends)
    ]).astype(dtype, copy=False)
    if target is None:
        return out
    _write(target, DATA, row0, out, storage_options)
    return None


#: bases one read of a whole-genome task covers at most: the per-base block of every input
#: file is held in memory before it is collapsed to the resolution
_READ_BASES = 4 * 2**20


def _genome_task(source: Source, chrom: str, b0: int, b1: int, resolution: int, dtype: str,
                 target: str | None, storage_options: Any) -> np.ndarray | None:
    step = max(1, _READ_BASES // resolution)
    if b1 - b0 <= step:
        out = source.read_binned(chrom, b0 * resolution, b1 * resolution, resolution)
        out = out.astype(dtype, copy=False)
    else:  # coarse resolutions: read and collapse in sub-blocks, so memory stays bounded
        out = np.concatenate([
            source.read_binned(chrom, s * resolution, min(s + step, b1) * resolution,
                               resolution).astype(dtype, copy=False)
            for s in range(b0, b1, step)])
    if target is None:
        return out
    if _all_fill(out, source.pad_value):
        return None  # the fresh array already reads as its fill value here
    _write(target, array_name(chrom), b0, out, storage_options)
    return None


def _all_fill(values: np.ndarray, fill: float) -> bool:
    """Whether every element equals the array's fill value (NaN never does)."""
    if fill == 0:
        return not values.any()
    return bool((values == fill).all())


def _write(target: str, name: str, start: int, values: np.ndarray, storage_options: Any) -> None:
    """:func:`write_block` with zarr's per-chunk emptiness test off.

    zarr compares every chunk it writes with the fill value (``write_empty_chunks=False``)
    through a ``void``-dtype ``array_equal`` that costs more CPU than compressing the chunk
    with lz4; a task block is tested once, cheaply, by :func:`_all_fill` instead.
    """
    import zarr

    with zarr.config.set({"array.write_empty_chunks": True}):
        write_block(target, name, start, values, storage_options)


def _active_client() -> Any:
    if "distributed" not in sys.modules:
        return None
    try:
        from distributed import default_client

        return default_client()
    except (ValueError, ImportError):
        return None


def run_tasks(tasks: list[tuple[Callable[..., Any], tuple[Any, ...]]], work_bases: int,
              label: str) -> list[Any]:
    """Run ``(function, args)`` tasks with the configured dask scheduler.

    Parameters
    ----------
    tasks
        Independent tasks.
    work_bases
        Bases of work, used by ``scheduler='auto'`` to decide on processes.
    label
        What is being built, for the log.

    Returns
    -------
    list
        Task results in order.
    """
    import dask

    scheduler = OPTIONS["scheduler"]
    client = _active_client() if scheduler in ("auto", "distributed") else None
    if scheduler == "distributed" and client is None:
        raise ArgumentError("scheduler='distributed' needs an active dask.distributed Client")
    if scheduler == "auto" and client is None:
        big = work_bases >= OPTIONS["parallel_threshold_bases"] and len(tasks) > 1
        scheduler = "processes" if big else "sync"
    show = OPTIONS["progress"]
    if show == "auto":
        show = sys.stderr.isatty()
    log.info("%s: %d tasks on %s", label, len(tasks),
             "dask.distributed" if client is not None else f"dask {scheduler} scheduler")
    delayed = [dask.delayed(fn, pure=False)(*args) for fn, args in tasks]
    if client is not None:
        futures = client.compute(delayed)
        if show:
            from distributed import progress

            progress(futures)
        return client.gather(futures)
    kwargs: dict[str, Any] = {"scheduler": scheduler}
    pool = None
    if scheduler == "processes":
        pool = shared_pool(OPTIONS["num_workers"] or os.cpu_count() or 1)
        kwargs["pool"] = pool
        # one task per submission: dask batches 6 by default, which leaves workers idle
        # when a build has few, large tasks (coarse resolutions, few chromosomes)
        kwargs["chunksize"] = 1
    from concurrent.futures.process import BrokenProcessPool

    try:
        if show:
            from dask.diagnostics import ProgressBar

            with ProgressBar(out=sys.stderr):
                return list(dask.compute(*delayed, **kwargs))
        return list(dask.compute(*delayed, **kwargs))
    except BrokenProcessPool as e:
        shutdown_pool()
        raise ArgumentError(
            f"{label}: the ingest worker processes died. If this runs from a script, put "
            "the code under `if __name__ == '__main__':` (worker processes re-import the "
            "script, as with any multiprocessing), or use "
            "genozarr.set_options(scheduler='sync'); a worker killed for memory shows the "
            "same error") from e


#: modules the fork server imports once, so that forked workers start without imports
_PRELOAD = ["genozarr.ingest", "genozarr.sources", "genozarr.io.bam", "genozarr.io.bigwig",
            "genozarr.io.fasta", "genozarr.io.bed", "zarr", "numcodecs", "pysam", "pyBigWig"]


_POOL: dict[str, Any] = {"pool": None, "key": None}


def shared_pool(n: int) -> Any:
    """The process pool of the ``'processes'`` scheduler, kept between builds.

    Starting a pool costs ~0.1 s per build (more than a small ingest); the pool is started
    on first use and reused by later builds of this process with the same number of
    workers. Idle workers hold their imports and a few cached file handles; call
    :func:`shutdown_pool` to release them (they also end with the interpreter).

    Parameters
    ----------
    n
        Number of worker processes.

    Returns
    -------
    concurrent.futures.ProcessPoolExecutor
    """
    key = (os.getpid(), int(n))
    pool = _POOL["pool"]
    if pool is not None and (_POOL["key"] != key or getattr(pool, "_broken", False)):
        shutdown_pool()
        pool = None
    if pool is None:
        pool = _process_pool(max(1, int(n)))
        _POOL.update(pool=pool, key=key)
    return pool


def shutdown_pool() -> None:
    """Stop the worker processes kept by :func:`shared_pool` (a no-op without a pool)."""
    pool, key = _POOL["pool"], _POOL["key"]
    _POOL.update(pool=None, key=None)
    if pool is not None and key is not None and key[0] == os.getpid():
        pool.shutdown(wait=True, cancel_futures=True)


def _process_pool(n: int) -> Any:
    """A process pool for dask's processes scheduler that starts its workers quickly.

    dask's default ``spawn`` context imports genozarr, zarr, pysam and pyBigWig anew in every
    worker of every build (~0.4 s per worker here, more than a whole small ingest). On
    platforms that have it the ``forkserver`` context is used instead: the server process
    imports those modules once per session and forks each worker from itself, so workers
    start in milliseconds, and no worker inherits the caller's threads (zarr's event loop,
    a dask thread pool) as a plain ``fork`` would. An explicit dask setting
    ``multiprocessing.context`` wins.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    import dask

    name = dask.config.get("multiprocessing.context", None)
    if name is None:
        name = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() \
            else "spawn"
    context = multiprocessing.get_context(name)
    if name == "forkserver":
        context.set_forkserver_preload(_PRELOAD)
    return ProcessPoolExecutor(max(1, n), mp_context=context, initializer=_worker_init)


def _worker_init() -> None:
    """In ingest worker processes, Blosc compresses in the calling thread: parallelism
    comes from the processes, and Blosc's own threads in every process only contend for
    the same cores."""
    try:
        import numcodecs.blosc

        numcodecs.blosc.use_threads = False
    except ImportError:  # pragma: no cover - numcodecs is a dependency
        pass


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
    extra: dict[str, Any] | None = None,
    seqtype: str | None = None,
    overwrite: bool = False,
) -> Store:
    """Read ``source`` over the indexer's windows (or whole chromosomes) into a store.

    Parameters
    ----------
    source
        The data source (files already matched to the region chromosome names).
    gindexer
        Windows; required for the partial layout.
    name
        Dataset name.
    whole_genome
        Whole-genome layout (per-chromosome arrays) instead of one row per window.
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
    extra
        Extra metadata (normaliser names, arguments).
    seqtype
        For sequence stores.
    overwrite
        Replace a published store at ``path`` even if it has the same cache key.

    Returns
    -------
    Store
    """
    n_s, n_c = len(source.strands), len(source.conditions)
    itemsize = np.dtype(source.dtype).itemsize
    meta = StoreMeta(
        name=name, kind=source.kind, layout="whole_genome" if whole_genome else "partial",
        resolution=resolution,
        binsize=None if gindexer is None else gindexer.binsize,
        stepsize=None if gindexer is None else gindexer.stepsize,
        flank=0 if gindexer is None else gindexer.flank,
        dtype=str(np.dtype(source.dtype)), conditions=list(source.conditions),
        strands=list(source.strands), chroms={k: int(v) for k, v in chroms.items()},
        sources=[str(f) for f in source.files], cache_key=cache_key, seqtype=seqtype,
        pad_value=source.pad_value, extra=dict(extra or {}),
    )
    specs: dict[str, ArraySpec] = {}
    coords: dict[str, tuple[tuple[str, ...], np.ndarray]] = {
        "strand": (("strand",), np.array(source.strands, dtype=object)),
        "condition": (("condition",), np.array(source.conditions, dtype=object)),
    }
    tasks: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []
    table = None
    # tasks name their output store by a placeholder, replaced by the temporary store path
    target = _TARGET if path is not None else None
    if whole_genome:
        if resolution is None:
            raise ArgumentError("resolution=None needs store_whole_genome=False")
        work = 0
        for chrom, length in chroms.items():
            nbins = math.ceil(length / resolution)
            clen = chunk_length(n_s * n_c * itemsize, nbins)
            specs[array_name(chrom)] = ArraySpec((nbins, n_s, n_c), (clen, n_s, n_c),
                                                 meta.dtype, (position_dim(chrom), "strand",
                                                              "condition"), source.pad_value)
            step = clen * _chunks_per_task(clen * n_s * n_c * itemsize, clen * resolution)
            for b0 in range(0, nbins, step):
                tasks.append((_genome_task, (source, chrom, b0, min(b0 + step, nbins),
                                             resolution, meta.dtype, target, storage_options)))
            work += length
    else:
        assert gindexer is not None
        chrs, starts, ends, strands = gindexer.as_arrays()
        n = len(gindexer)
        if resolution is None:
            length = None
            nbins = 1
        else:
            if gindexer.binsize is None:
                raise RegionError("windows of different lengths need resolution=None")
            length = gindexer.binsize + 2 * gindexer.flank
            if length % resolution:
                raise ArgumentError(
                    f"window length {length} (binsize {gindexer.binsize} + 2 x flank "
                    f"{gindexer.flank}) is not divisible by resolution {resolution}; choose "
                    "a binsize and flank divisible by the resolution"
                )
            nbins = length // resolution
        # data ends: partial windows read only to their own end (+ flank), padding follows
        data_ends = ends
        clen = chunk_length(nbins * n_s * n_c * itemsize, n)
        specs[DATA] = ArraySpec((n, nbins, n_s, n_c), (clen, nbins, n_s, n_c), meta.dtype,
                                ("region", "position", "strand", "condition"),
                                source.pad_value, " ".join(REGION_COORDS))
        table = {"chrom": chrs.astype(object), "start": starts, "end": ends, "strand": strands}
        for key, values in zip(REGION_COORDS, (chrs, starts, ends, strands)):
            coords[key] = (("region",), values)
        for r0 in range(0, n, clen):
            r1 = min(r0 + clen, n)
            tasks.append((_rows_task, (source, chrs[r0:r1], starts[r0:r1], data_ends[r0:r1],
                                       length, resolution, meta.dtype, target, r0,
                                       storage_options)))
        work = int((ends - starts).sum())
    backend: Backend
    if path is None:
        results = run_tasks(tasks, work, name)
        if whole_genome:
            arrays = {}
            i = 0
            for chrom in chroms:
                spec = specs[array_name(chrom)]
                step = spec.chunks[0] * _chunks_per_task(spec.chunks[0] * n_s * n_c * itemsize,
                                                         spec.chunks[0] * resolution)
                k = math.ceil(spec.shape[0] / step)
                arrays[array_name(chrom)] = (np.concatenate(results[i:i + k]) if k else
                                             np.zeros(spec.shape, meta.dtype))
                i += k
        else:
            arrays = {DATA: np.concatenate(results) if results else
                      np.zeros(specs[DATA].shape, meta.dtype)}
        backend = MemoryBackend(arrays) if storage != "sparse" else SparseBackend(arrays)
        return Store(meta, backend, None, table)
    writer = StoreWriter(path, meta, specs, coords, storage_options, replace=overwrite)
    try:
        tasks = [(fn, _retarget(args, writer.tmp)) for fn, args in tasks]
        run_tasks(tasks, work, name)
        final = writer.commit()
    except BaseException:
        writer.abort()
        raise
    store = Store(meta, ZarrBackend(final, storage_options), final, table)
    return store.to_backend(storage)


def _retarget(args: tuple[Any, ...], tmp: str) -> tuple[Any, ...]:
    """Point a task's target argument at the temporary store."""
    return tuple(tmp if (isinstance(a, str) and a == _TARGET) else a for a in args)

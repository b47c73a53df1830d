"""The one builder behind every store: plan, run, publish.

Every writer describes the store it wants as a :class:`BuildPlan` (metadata, array specs
and coordinates from :func:`~genozarr.store.layout.plan_layout`, plus what fills the
arrays) and hands it to :func:`build`:

- ingest (:func:`genozarr.ingest.build_store`) fills the arrays with *tasks*, functions
  that each return one chunk-aligned block ``(array path, first-axis offset, values)``
  (or a list of them: the small contigs of a genome of many, read by one task);
- predictions (:meth:`Cover.create_from_array <genozarr.dataset.Cover.create_from_array>`)
  and :func:`write_store` give whole *arrays* (numpy or dask).

:func:`build` runs the tasks with the configured scheduler (:mod:`genozarr.store._run`),
writes each block into a temporary store (or assembles it in memory), and publishes the
store atomically with its completion marker (:class:`~genozarr.store.write.StoreWriter`).
:func:`store_location` and :func:`reuse_cached` are the cache rules every constructor uses.
"""

from __future__ import annotations

import dataclasses
import errno
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from genozarr._validate import path_text
from genozarr.errors import ArgumentError, GenozarrError, StoreError, get_logger, hide_secrets
from genozarr.store.backend import (
    Backend,
    MemoryBackend,
    SparseBackend,
    SparseRows,
    ZarrBackend,
)
from genozarr.store.dtypes import store_dtype
from genozarr.store.handle import Store
from genozarr.store.layout import ArraySpec, StoreMeta
from genozarr.store.write import EarlyFlush, StoreWriter, WrittenChunk, write_block

__all__ = ["BuildPlan", "build", "store_location", "reuse_cached", "write_store"]

log = get_logger(__name__)

Block = tuple[str, int, np.ndarray]
Task = tuple[Callable[..., Block | list[Block]], tuple[Any, ...]]


@dataclass
class BuildPlan:
    """Everything :func:`build` needs to write one store.

    Parameters
    ----------
    meta
        Store metadata (recipe included).
    specs
        ``{array path: ArraySpec}`` of the data arrays.
    coords
        ``{array path: (dims, values)}`` of the coordinate arrays.
    region_table
        Partial layout: ``chrom``, ``start``, ``end``, ``strand`` of every row.
    tasks
        ``(function, args)``; each call returns one chunk-aligned block
        ``(array path, first-axis offset, values)``, or a list of them. Functions and
        arguments must pickle (tasks may run in other processes). They start in this
        order on dask's local schedulers (:func:`~genozarr.store._run.run_tasks`).
    arrays
        ``{array path: numpy or dask array}`` holding whole arrays.
    work_bases
        Bases of input, for the scheduler's choice of processes.
    gather
        The tasks' blocks may hold rows in any order (their offset an array of rows): a
        store written to a path gathers them in memory first (the arrays, and the blocks
        until every task is done: about twice the arrays' size), then writes the arrays
        chunk by chunk.
    check_inputs
        Called when the tasks are done, before anything is published or returned; raises
        where the inputs changed while the tasks read them
        (:meth:`genozarr.ingest.Source.check_inputs`).
    """

    meta: StoreMeta
    specs: dict[str, ArraySpec]
    coords: dict[str, tuple[tuple[str, ...], np.ndarray]]
    region_table: dict[str, np.ndarray] | None = None
    tasks: list[Task] = field(default_factory=list)
    arrays: dict[str, Any] = field(default_factory=dict)
    work_bases: int = 0
    gather: bool = False
    check_inputs: Callable[[], None] | None = None


def _block_task(fn: Callable[..., Block | list[Block]], args: tuple[Any, ...],
                target: str | None, storage_options: dict[str, Any] | None,
                fill: float) -> list[Any]:
    """Run one task: write its block (or blocks) into ``target`` and return the files
    written (what :func:`~genozarr.store.write.write_block` returns), or, with ``target``
    None, return the blocks."""
    result = fn(*args)
    blocks = result if isinstance(result, list) else [result]
    if target is None:
        return blocks
    written: list[str] = []
    for path, start, values in blocks:
        written += _write_values(path, start, values, target, storage_options, fill)
    return written


def _write_values(name: str, start: int, values: np.ndarray, target: str,
                  storage_options: dict[str, Any] | None, fill: float) -> list[Any]:
    """Write a block with :func:`~genozarr.store.write.write_block`, unless it holds only
    the fill value (a fresh array already reads as it; a block with data is known from a
    sample of its values, without a pass over all of them)."""
    from genozarr.store._direct import _only

    values = np.ascontiguousarray(values)
    if _only(values, fill):
        return []
    return write_block(target, name, start, values, storage_options)


def _gathered(plan: BuildPlan, label: str, names: list[str],
              sparse: bool = False) -> dict[str, Any]:
    """Arrays ``names`` of ``plan`` in memory: its whole arrays, or the blocks its tasks
    return put in place (at an offset, or at the rows an array of rows gives); with
    ``sparse``, the arrays of its tasks as :class:`~genozarr.store.backend.SparseRows`
    (their non-zero values only, for a :class:`~genozarr.store.backend.SparseBackend`)."""
    from genozarr.store._run import run_tasks

    fill = plan.meta.pad_value
    arrays: dict[str, Any] = {}
    for name in names:
        spec = plan.specs[name]
        if name in plan.arrays:
            arrays[name] = np.asarray(plan.arrays[name], dtype=spec.dtype)
        elif sparse:
            arrays[name] = SparseRows(spec.shape, spec.dtype, fill)
        else:
            arrays[name] = np.full(spec.shape, fill, dtype=spec.dtype)
    tasks = [(_block_task, (fn, args, None, None, fill)) for fn, args in plan.tasks]

    def put(blocks: list[Block]) -> None:
        for name, start, values in blocks:
            target = arrays[name]
            if isinstance(target, SparseRows):
                target.put(start, values)
            elif isinstance(start, np.ndarray):  # the block's rows, in any order
                target[start] = values
            else:
                target[start:start + len(values)] = values
        # dask's local schedulers keep every task's result until the last task ends: the
        # blocks put are dropped now, so that the build holds the arrays and the blocks
        # of the tasks running, not the arrays twice over
        blocks.clear()

    for blocks in run_tasks(tasks, plan.work_bases, label, on_result=put):
        put(blocks)  # (on dask.distributed, which calls no on_result)
    return arrays


def _array_blocks(name: str, spec: ArraySpec, values: np.ndarray) -> list[Task]:
    """Tasks writing a numpy array chunk block by chunk block (about 8 chunks each)."""
    step = spec.chunks[0] * 8
    return [(_slice_block, (name, s, values[s:s + step])) for s in range(0, len(values), step)]


def _slice_block(name: str, start: int, values: np.ndarray) -> Block:
    return name, start, values


def build(plan: BuildPlan, *, storage: str, path: str | None,
          storage_options: dict[str, Any] | None = None, overwrite: bool = False,
          label: str = "store", keep_same_key: bool = True,
          before_publish: Callable[[Store], dict[str, Any] | None] | None = None) -> Store:
    """Run a plan and return the built :class:`~genozarr.store.handle.Store`.

    Parameters
    ----------
    plan
        What to write.
    storage
        'ndarray', 'sparse' or 'zarr'. In-memory storages with a ``path`` (a cached
        build) are written to ``path`` and then loaded into memory.
    path
        Store location; None builds in memory only.
    storage_options
        fsspec options for remote stores.
    overwrite
        Publish over a store with the same cache key instead of keeping it.
    label
        What is being built, for logs and progress.
    keep_same_key
        Keep a store published at ``path`` with the same cache key instead of this build
        (a cached build); False replaces it (see
        :class:`~genozarr.store.write.StoreWriter`).
    before_publish
        Stores with a ``path``: called with the new version, complete but not yet
        published (a :class:`Store` over it), before it is published; the entries of the
        dict it returns are set in the recipe the version is published with (the served
        settings: normalizers fitted on the new data), so no reader ever opens the store
        without them.

    Returns
    -------
    Store
    """
    from genozarr.store._run import run_tasks

    fill = plan.meta.pad_value
    if path is None:
        arrays = _gathered(plan, label, list(plan.specs), sparse=storage == "sparse")
        if plan.check_inputs is not None:
            plan.check_inputs()
        backend: Backend = (SparseBackend(arrays) if storage == "sparse"
                            else MemoryBackend(arrays))
        return Store(plan.meta, backend, None, plan.region_table)
    if plan.meta.whole_genome:  # before anything is written
        from genozarr.store.layout import check_chrom_cases

        check_chrom_cases(plan.meta.chroms)
    writer = StoreWriter(path, plan.meta, plan.specs, plan.coords, storage_options,
                         replace=overwrite, keep_same_key=keep_same_key)
    early = None
    try:
        # a local store's files are flushed to disk while the build runs: those of its
        # metadata and coordinates now, a task's as it finishes (in the try: an error
        # here, a thread that cannot start, must remove the temporary version too)
        early = None if writer.remote else EarlyFlush(root=writer.tmp)
        if early is not None:
            early.add(writer.created)
        if plan.gather:  # rows in any order: read into memory, then written chunk by chunk
            gathered = _gathered(plan, f"{label} (read)",
                                 [n for n in plan.specs if n not in plan.arrays])
            plan = dataclasses.replace(plan, tasks=[], arrays={**plan.arrays, **gathered})
            label = f"{label} (write)"
        fns = list(plan.tasks)
        lazy: dict[str, Any] = {}
        for name, values in plan.arrays.items():
            if isinstance(values, np.ndarray):
                fns += _array_blocks(name, plan.specs[name], values)
            else:
                lazy[name] = values
        tasks = [(_block_task, (fn, args, writer.tmp, storage_options, fill))
                 for fn, args in fns]
        # gathered arrays are written in this process, by threads unless the scheduler
        # is synchronous (Blosc and the writes release the GIL): sent to worker
        # processes, each block was pickled twice more
        written = [item for result in run_tasks(
            tasks, plan.work_bases, label, on_result=None if early is None else early.add,
            in_process=plan.gather) for item in result]
        if lazy:
            lazy_written = _store_dask(lazy, plan.specs, writer.tmp, storage_options, fill)
            if early is not None:
                early.add(lazy_written)  # (it takes the files, and leaves the rest)
            written += lazy_written
        # (a remote store's tasks name the chunk files they wrote: the object store must
        # hold each, whatever its listing says)
        chunks_written = [item for item in written if isinstance(item, WrittenChunk)]
        if plan.check_inputs is not None:  # (the values read: from one state of each)
            plan.check_inputs()
        if before_publish is not None:
            _served_before_publish(plan, writer, storage_options, before_publish)
        final = writer.commit(early.finish() if early is not None else frozenset(),
                              chunks_written=chunks_written)
    except BaseException as e:
        if early is not None:
            early.close()
        writer.abort()
        if isinstance(e, OSError) and not isinstance(e, GenozarrError) \
                and e.errno in _STORAGE_ERRNOS:
            raise writer.error(e) from e  # the disk filled up under zarr's own writes
        if isinstance(e, StoreError) and getattr(e, "stopped", False):
            # (a task's storage error: whether its temporary copy is gone is known now)
            raise StoreError(f"{e}; {writer.removal()}") from e
        raise
    try:  # open the version we published (or kept) before the writer lets it go
        backend = ZarrBackend(final, storage_options, root=writer.root)
        backend.group
        if writer.marker is not None and backend.marker != writer.marker:
            try:
                _check_same_build(final, writer.marker, backend.marker)
            except StoreError:
                backend.close()
                raise
        # a version another writer published first is served with its own metadata (its
        # recipe holds that writer's served settings, which the caller may record over)
        meta = backend.stored_meta() if writer.kept_existing else plan.meta
        store = Store(meta, backend, final, plan.region_table)
        store.kept_existing = writer.kept_existing
        return store.to_backend(storage)
    finally:
        writer.close()


def _check_same_build(path: str, published: dict[str, Any],
                      opened: dict[str, Any] | None) -> None:
    """After a build published (or kept) the version with marker ``published``: refuse
    to serve the version opened at ``path`` (marker ``opened``) when another build
    replaced it in between with other values (:func:`~genozarr.store.layout.same_content`:
    another cache key, or another build without one); another build of the same key (every
    rank of a job building one dataset) holds the same values and is served.

    Raises
    ------
    StoreError
        Naming the store and both cache keys.
    """
    from genozarr.store.layout import same_content

    if same_content(published, opened):
        return
    if opened is None:
        raise StoreError(
            f"store {hide_secrets(path)} was published by this build, but its completion "
            "marker cannot be read now (the storage did not keep it, or another build "
            "removed the store meanwhile): it is not served. Build it again.")
    key = published.get("cache_key")
    theirs = opened.get("cache_key")
    if key is not None and theirs == key and (published.get("forced") or opened.get("forced")):
        raise StoreError(
            f"store {path} was replaced by another build of the same cache key just after "
            "this build published it, and one of them was asked for with overwrite=True "
            "(what changed may be outside the key): its values cannot be taken for this "
            "build's. Where several processes build one dataset (the ranks of a job), pass "
            "overwrite=True in one of them only, or use cache=True; or build again.")
    raise StoreError(
        f"store {path} was replaced by another build (cache key {theirs!r}) just after this "
        f"build published it (cache key {key!r}): two builds wrote the same store path at "
        "once. Give each dataset its own store path, or build it again.")


def _served_before_publish(plan: BuildPlan, writer: StoreWriter,
                           storage_options: dict[str, Any] | None,
                           served: Callable[[Store], dict[str, Any] | None]) -> None:
    """Call ``served`` with a :class:`Store` over the unpublished version and set what it
    returns in that version's recipe (its root metadata)."""
    backend = ZarrBackend(writer.tmp, storage_options, root=writer.tmp, resident=False)
    try:  # (no path: read through this backend, not opened as a published store)
        changed = served(Store(plan.meta, backend, None, plan.region_table))
    finally:
        backend.close()
    if changed:
        plan.meta.recipe = dict(plan.meta.recipe, **changed)
        writer.set_meta(plan.meta)


#: errors of the storage itself, never of an input file
_STORAGE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG)


def _store_dask(arrays: dict[str, Any], specs: dict[str, ArraySpec], target: str,
                storage_options: dict[str, Any] | None, fill: float) -> list[Any]:
    """Write dask arrays block by block, each a chunk (shard) of the store, as the build's
    tasks write theirs (:func:`~genozarr.store.write.write_block`: a local store's chunks
    directly, a block holding only the fill value not at all); one dask task per block.

    Returns
    -------
    list
        What the writes return: the files written (local), or the chunk keys
        (:class:`~genozarr.store.write.WrittenChunk`, remote) that the commit checks the
        object store holds. (``dask.array.store`` through zarr reported nothing, and cost
        a zarr call per chunk and a graph tokenised per array: seconds for a genome of
        thousands of contigs.)
    """
    import uuid

    import dask
    import dask.array as da

    from genozarr.store._run import in_process_scheduler

    sources, parts = [], []
    prefix = f"genozarr-write-{uuid.uuid4().hex}"
    for name, arr in arrays.items():
        spec = specs[name]
        source = da.asarray(arr).astype(store_dtype(spec.dtype)).rechunk(spec.chunks)
        sources.append(source)
        starts = np.cumsum((0,) + tuple(source.chunks[0][:-1])) if source.ndim else [0]
        for start, block in zip(starts, source.to_delayed().ravel()):
            parts.append(dask.delayed(_write_values)(
                name, int(start), block, target, storage_options, fill,
                dask_key_name=f"{prefix}-{len(parts)}"))
    if not parts:
        return []
    with in_process_scheduler(*sources) as kwargs:  # (as the options say, a client's or not)
        results = dask.compute(*parts, **kwargs)
    return [item for result in results for item in result]


# ---------------------------------------------------------------------------- caching
def store_location(name: str, key: str | None, store: str | os.PathLike | None) -> str:
    """Where a dataset's zarr store goes: ``store`` if given, else under the output
    directory, named by the cache key (so a dataset with the same name but other data
    never replaces a store another dataset still reads).

    Parameters
    ----------
    name
        Dataset name (a directory of the output root when ``store`` is None).
    key
        The build's cache key; required when ``store`` is None (its first 20 characters
        name the store).
    store
        Store path or URL chosen by the caller; None places it under the output
        directory.

    Returns
    -------
    str
        A local ``store`` as an absolute path (a ``file://`` URL's path, ``~``
        expanded), a remote URL as given; without ``store``, the absolute path
        ``<output dir>/datasets/<name>/<key[:20]>.zarr``.

    Raises
    ------
    ArgumentError
        For a ``store`` that is not a path or URL, a store path or a dataset name that
        cannot name a store (:func:`~genozarr.store.write.check_store_path`,
        :func:`~genozarr.store.write.check_dataset_name`).
    """
    from genozarr.io._remote import local_form
    from genozarr.store.open import absolute_store_path
    from genozarr.store.write import check_store_path

    if store is not None:
        if not isinstance(store, (str, bytes, os.PathLike)):  # (str(False) named a store)
            raise ArgumentError(f"store must be a path or URL (or None), got {store!r}")
        store = local_form(store)
        check_store_path(store)  # '.', '' name no store (not the cwd)
        return absolute_store_path(store)
    from genozarr.config import output_dir
    from genozarr.store.write import check_dataset_name

    check_dataset_name(name)  # it names a directory of the output root

    assert key is not None
    return absolute_store_path(output_dir() / "datasets" / name / f"{key[:20]}.zarr")


def reuse_cached(path: str, key: str | None, storage: str,
                 storage_options: dict[str, Any] | None = None) -> Store | None:
    """The published store at ``path`` if its completion marker holds ``key``, loaded with
    ``storage``; else None. Versions of a local store that earlier builds replaced while
    readers held them are removed once no reader holds them any more.

    Parameters
    ----------
    path
        Store location (as :func:`store_location` gives it).
    key
        The cache key wanted; None never reuses.
    storage
        ``'ndarray'``, ``'sparse'`` or ``'zarr'``: how the store is loaded.
    storage_options
        fsspec options for remote URLs.

    Returns
    -------
    Store or None
        The store, loaded with ``storage``; None when ``path`` holds no published store
        of ``key`` (none, another key, or rebuilt from other inputs meanwhile).
    """
    from genozarr.store.handle import load_store
    from genozarr.store.open import is_remote, read_marker
    from genozarr.store.write import sweep_stale

    marker = read_marker(path, storage_options)
    if key is None or marker is None or marker.get("cache_key") != key:
        return None
    store = load_store(path, storage, storage_options)
    if store.meta.cache_key != key:  # rebuilt from other inputs since the marker was read
        log.info("store %s was replaced by another build meanwhile; not reusing it", path)
        if isinstance(store.backend, ZarrBackend):
            store.backend.close()
        return None
    log.info("reusing cached store %s", path)
    if not is_remote(path):
        sweep_stale(path)
    return store


# ---------------------------------------------------------------------------- xarray
def write_store(ds: Any, path: str | os.PathLike, *, name: str | None = None,
                overwrite: bool = False, storage_options: dict[str, Any] | None = None,
                cache_key: str | None = None) -> str:
    """Write a (lazy) xarray Dataset or DataTree in genozarr's layout as a new store.

    Data are computed and written one zarr chunk per dask task, so memory stays near a few
    chunks whatever the size of the store.

    Parameters
    ----------
    ds
        An :class:`xarray.Dataset` with a ``data`` variable ``(region, position, strand,
        condition)`` and the ``region_*`` coordinates (partial layout), or an
        :class:`xarray.DataTree` with one child per chromosome holding ``data``
        ``(position, strand, condition)`` (whole-genome layout): what
        :func:`genozarr.open_store` returns, typically after
        :func:`genozarr.ops.normalize` or :func:`genozarr.ops.collapse`. Its ``data``
        may have its dimensions in any order (they are written in the stored one). What
        is written is the store: values, labels, windows and metadata, not the served
        settings of a dataset built over the source (its recipe: normalizers, one-hot
        order, channel order); :func:`genozarr.open_dataset` of the copy serves the
        values as stored, with the defaults or the options it is given.
    path
        Store location (directory or fsspec URL).
    name
        Store name in its metadata (default: the ``name`` attribute).
    overwrite
        Replace an existing store at ``path``.
    storage_options
        fsspec options for remote URLs.
    cache_key
        Key written into the completion marker (default: the ``cache_key`` attribute,
        where it still describes the data: data that :func:`genozarr.open_store` opened
        or :mod:`genozarr.ops` made; none for data changed by other means, such as
        ``ds["data"] * 2``, which keeps the attributes of ``ds``).

    Returns
    -------
    str
        The published store path.

    Raises
    ------
    StoreError
        When ``path`` holds a store and ``overwrite`` is False.
    ArgumentError
        When ``ds`` is not in genozarr's layout.
    """
    from genozarr.errors import StoreError
    from genozarr.store.open import is_remote, read_marker
    from genozarr.store.view import meta_from_xarray

    path = path_text(path)
    if (read_marker(path, storage_options) is not None
            or (not is_remote(path) and os.path.exists(path))) and not overwrite:
        raise StoreError(f"{path} already exists; pass overwrite=True to replace it")
    meta, arrays, table, windows = meta_from_xarray(ds, name=name, cache_key=cache_key)
    from genozarr.store.layout import plan_layout

    specs, coords = plan_layout(meta, n_regions=None if table is None else len(table["chrom"]),
                                region_table=table, windows=windows)
    for key, arr in arrays.items():  # the attributes describe these data, or nothing is
        # written (a crop of the positions was written shifted, padded with zeros; a
        # resolution attribute edited cut every row)
        want = tuple(specs[key].shape)
        if tuple(arr.shape) != want:
            raise ArgumentError(
                f"write_store: the data {key!r} have the shape {tuple(arr.shape)}, the "
                f"attributes describe {want} (resolution {meta.resolution}, binsize "
                f"{meta.binsize}, flank {meta.flank}, {len(meta.strands)} strands, "
                f"{len(meta.conditions)} conditions): data cut or changed along position "
                "keep their layout only through genozarr.ops; set the attributes to match")
    plan = BuildPlan(meta, specs, coords, table, arrays=arrays)
    build(plan, storage="zarr", path=path, storage_options=storage_options, overwrite=True,
          label=meta.name)
    return path

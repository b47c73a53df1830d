"""The xarray backend for genozarr stores: ``xarray.open_dataset(path, engine="genozarr")``
and ``xarray.open_datatree(path, engine="genozarr")``.

Registered as the entry point ``genozarr`` of the group ``xarray.backends``. It resolves
the store version published at the path once (:func:`genozarr.store.open.open_resolved`),
checks the store (completion marker, format version, arrays against the metadata), opens
it through xarray's zarr backend over a :class:`~genozarr.store.open.CheckedStore` with
consolidated metadata and no CF masking (a stored 0 stays 0), puts the store metadata in
the attributes, and maps format-1 whole-genome stores (one root array per chromosome with
dimension ``position_<chrom>``) to the format-2 structure (one group per chromosome with
``data`` over ``position``), so every caller sees one structure. A bfloat16 store's data
are read as float32 (exactly), as genozarr's datasets serve them.
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
from xarray.backends import BackendArray, BackendEntrypoint

from genozarr.store.dtypes import is_bfloat16, widen
from genozarr.store.layout import DATA, DATA_TOKEN, WINDOWS, StoreMeta

__all__ = ["GenozarrBackendEntrypoint", "open_chunked_tree", "open_store_tree",
           "open_store_dataset"]


def _attrs(meta: StoreMeta, path: str) -> dict[str, Any]:
    from genozarr.store.view import _attrs as store_attrs

    attrs = store_attrs(meta, path)  # (as genozarr.open_store's)
    # no token of the data (xarray's lazy arrays have no dask names): the cache key is
    # not kept for what is written from them, changed or not (genozarr.open_store's
    # data keep it while unchanged)
    attrs[DATA_TOKEN] = None
    return attrs


def _zarr_open(store: Any, *, group: str | None, tree: bool,
               drop_variables: Any = None, opened: Any = None) -> Any:
    """Open a (checked) zarr store with xarray's zarr backend; zarr's own errors become
    :class:`~genozarr.errors.StoreError` naming the store (a store replaced or removed
    meanwhile says so)."""
    import xarray as xr

    from genozarr.errors import GenozarrError, StoreError

    kwargs = dict(engine="zarr", consolidated=True, zarr_format=3, chunks=None,
                  mask_and_scale=False, drop_variables=drop_variables)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
            if tree:
                opened_tree = xr.open_datatree(store, group=group, **kwargs)
                if any(is_bfloat16(v.dtype) for node in opened_tree.subtree
                       for v in node.variables.values()):
                    opened_tree = opened_tree.map_over_datasets(_widened)
                return opened_tree
            return _widened(xr.open_dataset(store, group=group, **kwargs))
    except GenozarrError:
        raise
    except Exception as e:
        damaged = isinstance(e, json.JSONDecodeError)  # (zarr's parse of a metadata document)
        # (zarr raises builtin errors too: ValueError for a node named '..' in an edited
        # store's consolidated metadata)
        if opened is None or not (type(e).__module__.startswith("zarr") or damaged
                                  or isinstance(e, ValueError)):
            raise
        from genozarr.store.open import _marker_at

        if opened.complete and _marker_at(opened.io_root, opened.storage_options) is None:
            raise StoreError(f"store {opened.path} was replaced or removed while it was being "
                             "opened; open it again") from e
        if damaged:
            raise StoreError(f"cannot open store {opened.path}: a metadata document of it is "
                             f"not JSON ({e}); it was edited or damaged, or changed while it "
                             "was read: open it again, or rebuild it (overwrite=True)") from e
        raise StoreError(f"cannot open store {opened.path}: {e}") from e


def _widened(ds: Any) -> Any:
    """``ds`` with its bfloat16 variables read as float32, lazily (each block widened as
    it is read, as genozarr's datasets serve them; :func:`genozarr.store.dtypes.widen`)."""
    bf16 = [k for k, v in ds.variables.items() if is_bfloat16(v.dtype)]
    if bf16:
        ds = ds.copy()  # (a tree node's dataset is a read-only view)
    for k in bf16:
        ds[k] = _widened_variable(ds.variables[k])
    return ds


def _widened_variable(var: Any) -> Any:
    """``var`` read as float32 where it is bfloat16 (lazily), else itself."""
    if not is_bfloat16(var.dtype):
        return var
    import xarray as xr
    from xarray.coding.variables import lazy_elemwise_func

    data = lazy_elemwise_func(var._data, _widen_block, np.dtype(np.float32))
    return xr.Variable(var.dims, data, var.attrs, var.encoding)


def _widen_block(x: np.ndarray) -> np.ndarray:
    """A block of bfloat16 values as float32 (a function of the module: pickled by name)."""
    return widen(np.ascontiguousarray(x))


def _open_checked(path: Any, storage_options: dict[str, Any] | None) -> tuple[Any, StoreMeta]:
    """The store version at ``path`` (or an already opened one) and its metadata, with
    the arrays checked against the metadata."""
    from genozarr.store.open import OpenedStore, check_arrays, open_resolved

    opened = path if isinstance(path, OpenedStore) else open_resolved(path, storage_options)
    meta = opened.meta()
    check_arrays(opened.group(), meta, opened.path, opened.marker)
    return opened, meta


class _ZarrData(BackendArray):
    """A zarr array of a store, lazily indexed by xarray (orthogonal selections; other
    selections are taken from an orthogonal one by xarray). The chunks of a local
    store's data array are read and decoded straight from their files
    (:class:`~genozarr.store._direct.DirectChunks`, as datasets read them, with the same
    checks) where a selection takes a range of rows: through zarr, each read cost a call
    into zarr's event loop (1-3 ms a chunk). Other selections, and other arrays, are
    zarr's."""

    __slots__ = ("array", "direct", "dtype", "shape")

    def __init__(self, array: Any) -> None:
        self.array = array
        self.shape = tuple(int(n) for n in array.shape)
        self.dtype = np.dtype(array.dtype)
        self.direct = None
        if self.shape and not is_bfloat16(self.dtype):  # (read as float32 directly)
            from genozarr.store._direct import DirectChunks

            self.direct = DirectChunks.for_array(array)

    def __getstate__(self) -> Any:  # (pickled: to a dask.distributed worker, say)
        return self.array

    def __setstate__(self, array: Any) -> None:  # (its own reader of the files, there)
        self.__init__(array)  # type: ignore[misc]

    def __getitem__(self, key: Any) -> Any:
        from xarray.core import indexing

        return indexing.explicit_indexing_adapter(key, self.shape,
                                                  indexing.IndexingSupport.OUTER, self._read)

    def _read(self, key: tuple[Any, ...]) -> np.ndarray:
        first = key[0] if key else slice(None)
        if self.direct is None or not isinstance(first, (slice, int, np.integer)):
            return self.array.get_orthogonal_selection(key)
        if isinstance(first, slice):
            rows = range(*first.indices(self.shape[0]))
        else:  # (a negative row counts from the end)
            row = int(first) + (self.shape[0] if int(first) < 0 else 0)
            rows = range(row, row + 1)
        if not len(rows):
            return self.array.get_orthogonal_selection(key)
        lo, hi = min(rows[0], rows[-1]), max(rows[0], rows[-1]) + 1
        length = self.direct.chunk_shape[0]
        c0 = lo // length
        parts = self.direct.read_many(list(range(c0, (hi - 1) // length + 1)))
        block = np.concatenate(parts) if len(parts) > 1 else parts[0].copy()
        out = block[rows.start - c0 * length::rows.step][:len(rows)] if rows.step > 0 \
            else block[np.arange(rows.start, rows.stop, rows.step) - c0 * length]
        for axis in range(len(key) - 1, 0, -1):  # the other axes, one at a time (last
            if not (isinstance(key[axis], slice) and key[axis] == slice(None)):  # first)
                out = out[(slice(None),) * axis + (key[axis],)]
        return out[0] if not isinstance(first, slice) else out


def _encoding(array: Any, dims: tuple[str, ...]) -> dict[str, Any]:
    """The encoding xarray's zarr backend gives a variable read from ``array`` (kept so
    that ``to_zarr`` writes it back with the same chunks and codecs)."""
    chunks = tuple(int(c) for c in array.chunks)
    return {"chunks": chunks, "preferred_chunks": dict(zip(dims, chunks)),
            "compressors": array.compressors, "filters": array.filters,
            "shards": array.shards, "serializer": array.serializer,
            "fill_value": array.fill_value, "dtype": array.dtype}


def _whole_genome_tree(opened: Any, meta: StoreMeta, group: str | None,
                       drop_variables: Any, chunks: Any = None) -> Any:
    """A format-2 whole-genome store as a tree, built from its consolidated metadata.

    xarray's zarr backend opens every chromosome's group on its own (the group's
    arrays, two label reads and an index per node, the tree assembled twice: about
    8 ms a chromosome, minutes for an assembly of tens of thousands of contigs). The
    groups differ only in their data array: the labels and sample-sheet metadata along
    ``strand`` and ``condition`` are written alike into each, and those of the first
    chromosome are checked against the store's metadata
    (:func:`~genozarr.store.open.check_arrays`); they are read once, from there (the
    indexed labels shared by every node, the metadata copied into each), and every node
    gets its data array from the consolidated metadata, without a read.
    With ``chunks`` (as :func:`xarray.open_datatree` takes them) the arrays are dask
    arrays (:func:`_chunked`).
    """
    import xarray as xr
    from zarr import Array
    from zarr.core.array import AsyncArray
    from zarr.storage import StorePath

    from genozarr.store.open import array_metadata, read_whole

    zgroup = opened.group()
    arrays = array_metadata(zgroup)
    store = opened.zarr_store()
    dropped = {drop_variables} if isinstance(drop_variables, str) \
        else set(drop_variables or ())
    chroms = list(meta.chroms) if group is None else [group] if group in meta.chroms else []
    windows = group in (None, WINDOWS) and any(p.startswith(f"{WINDOWS}/") for p in arrays)

    def array(path: str) -> Any:
        return Array(AsyncArray(metadata=arrays[path], store_path=StorePath(store, path)))

    def variable(path: str, values: Any = None) -> Any:
        from xarray.core import indexing

        arr = array(path)
        dims = tuple(arrays[path].dimension_names or ())
        data = values if values is not None else indexing.LazilyIndexedArray(_ZarrData(arr))
        attrs, encoding = dict(arrays[path].attributes), _encoding(arr, dims)
        if "coordinates" in attrs:  # (as xarray decodes it: the names are coordinates)
            encoding["coordinates"] = attrs.pop("coordinates")
        return xr.Variable(dims, data, attrs, encoding)

    nodes: dict[str, Any] = {}
    if chroms:
        first = next(iter(meta.chroms)) if group is None else group
        listed = str(arrays[f"{first}/{DATA}"].attributes.get("coordinates") or "").split()
        names = [n for n in ("strand", "condition", *listed)
                 if f"{first}/{n}" in arrays and n not in dropped]
        values = read_whole([array(f"{first}/{n}") for n in names], opened.path)
        labels = {n: variable(f"{first}/{n}", v) for n, v in zip(names, values)}
        # the indexed labels are shared by every node (an index is not changed in place);
        # the sample-sheet metadata are each node's own copy, as xarray's backend made
        # them (a node's edited in place changes no other node)
        indexed = xr.Coordinates({n: v for n, v in labels.items() if v.dims == (n,)})
        extra = {n: v for n, v in labels.items() if n not in indexed}
        for chrom in chroms:
            data = {}
            if DATA not in dropped:
                var = _widened_variable(variable(f"{chrom}/{DATA}"))
                data[DATA] = _chunked_variable(var, DATA, chunks, (opened, chrom))
            coords = indexed if not extra else xr.Coordinates(
                {**indexed.variables, **{n: v.copy(deep=True) for n, v in extra.items()}},
                indexes=indexed.xindexes)
            nodes[f"/{chrom}"] = xr.Dataset(data, coords=coords)
    if windows:  # (xarray's backend would parse the whole store's metadata again)
        stored = [p for p in arrays if p.startswith(f"{WINDOWS}/") and p.count("/") == 1]
        ds = xr.Dataset({p.split("/", 1)[1]: variable(p) for p in stored
                         if p.split("/", 1)[1] not in dropped})
        ds.attrs = dict(zgroup[WINDOWS].attrs)
        nodes[f"/{WINDOWS}"] = _chunked(ds, chunks, (opened, WINDOWS))
    if group is not None:
        if f"/{group}" not in nodes:
            from genozarr.errors import ChromosomeNotFoundError

            raise ChromosomeNotFoundError(f"store {opened.path} has no {group!r} group")
        return xr.DataTree(nodes[f"/{group}"])
    return xr.DataTree.from_dict(nodes)


def _chunked(ds: Any, chunks: Any, token: Any) -> Any:
    """``ds`` with the variables it does not hold in memory as dask arrays
    (:func:`_chunked_variable`); None: ``ds`` unchanged."""
    if chunks is None:
        return ds
    out = {k: _chunked_variable(v, k, chunks, token) for k, v in ds.variables.items()
           if not v._in_memory}
    coords = {k: v for k, v in out.items() if k in ds.coords}
    return ds.assign_coords(coords).assign({k: v for k, v in out.items() if k not in coords})


def _chunked_variable(var: Any, name: str, chunks: Any, token: Any) -> Any:
    """``var`` as a dask array, as :func:`xarray.open_dataset` makes it with ``chunks``:
    a dict gives some dimensions' chunk lengths (the others take the stored chunks,
    ``preferred_chunks``), ``{}`` the stored chunks; an int or ``"auto"`` is dask's.
    None: ``var`` unchanged. The dask name is made of ``token`` (the opened version and
    the node), ``name`` and the chunks."""
    if chunks is None:
        return var
    from dask.base import tokenize

    if isinstance(chunks, dict):
        preferred = var.encoding.get("preferred_chunks", {})
        want: Any = {d: chunks.get(d, preferred.get(d, -1)) for d in var.dims}
    else:
        want = chunks
    dask_name = f"open_store-{name}-{tokenize(token, name, str(want))}"
    return var.chunk(want, from_array_kwargs={"name": dask_name})


def _v1_chrom(root: Any, meta: StoreMeta, chrom: str) -> Any:
    """One chromosome of a format-1 whole-genome store in the format-2 structure."""
    var = root[chrom].rename({f"position_{chrom}": "position"})
    return var.to_dataset(name=DATA).assign_coords(strand=root["strand"].values,
                                                   condition=root["condition"].values)


def open_store_dataset(path: str | os.PathLike | Any,
                       storage_options: dict[str, Any] | None = None,
                       group: str | None = None, drop_variables: Any = None) -> Any:
    """One group of a store as an :class:`xarray.Dataset` (lazily indexed, not dask).

    ``group=None`` is the root: the whole store in the partial layout; in the whole-genome
    layout the metadata only (pass a chromosome name as ``group``, or open the store as
    a tree with :func:`open_store_tree`). ``path`` may also be a store opened with
    :func:`genozarr.store.open.open_resolved`.

    Parameters
    ----------
    path
        Local directory or fsspec URL of the store, or an opened store
        (:class:`~genozarr.store.open.OpenedStore`).
    storage_options
        fsspec options for remote URLs.
    group
        A chromosome's group (whole-genome layout) or ``genozarr-windows``; None (or
        ``'/'``) opens the root.
    drop_variables
        Variables to leave out, as xarray's zarr engine takes them (not applied to a
        format-1 whole-genome store).

    Returns
    -------
    xarray.Dataset
        Lazily indexed (not dask), without CF masking (a stored 0 stays 0); bfloat16
        variables read as float32. Partial layout, root: ``data`` over ``(region,
        position, strand, condition)`` with its coordinates; a chromosome's group:
        ``data`` over ``(position, strand, condition)`` (``position`` in bins).
        Attributes hold the store metadata.

    Raises
    ------
    ChromosomeNotFoundError
        For a ``group`` that is not a stored chromosome nor the windows (or any group of
        a partial-layout store).
    StoreError
        Missing, incomplete, unreachable or non-genozarr store.
    StoreFormatError
        Newer format version, or arrays that disagree with the metadata.
    """
    opened, meta = _open_checked(path, storage_options)
    path = opened.path
    group = _check_group(group, meta, path)
    store = opened.zarr_store()
    if meta.whole_genome and meta.format_version == 1:
        root = _zarr_open(store, group=None, tree=False, opened=opened)
        ds = (_v1_chrom(root, meta, group) if group is not None
              else root[["strand", "condition"]].drop_vars(list(root.data_vars),
                                                           errors="ignore"))
    else:
        ds = _zarr_open(store, group=group, tree=False, drop_variables=drop_variables,
                        opened=opened)
    ds.attrs = _attrs(meta, path)
    return ds


def _check_group(group: str | None, meta: StoreMeta, path: str) -> str | None:
    """``group`` without its slashes (None for the root: ``'/'``, ``''``), after a
    ChromosomeNotFoundError for one that is neither a stored chromosome nor the windows
    (a partial-layout store has no groups): zarr's own was a bare KeyError without the
    store's path."""
    from genozarr.errors import ChromosomeNotFoundError

    name = None if group is None else (group.strip("/") or None)
    if name is None:
        return None
    if not meta.whole_genome:
        raise ChromosomeNotFoundError(
            f"store {path} is in the partial layout, which has no groups (no {name!r}): "
            "open it without group=")
    if name not in meta.chroms and name != WINDOWS:
        raise ChromosomeNotFoundError(
            f"chromosome {name!r} is not in store {path} (it has {list(meta.chroms)[:8]})")
    return name


def open_store_tree(path: str | os.PathLike | Any,
                    storage_options: dict[str, Any] | None = None, group: str | None = None,
                    drop_variables: str | Iterable[str] | None = None) -> Any:
    """A store as an :class:`xarray.DataTree` (lazily indexed, not dask): one child per
    chromosome in the whole-genome layout, the data at the root in the partial one;
    ``group`` roots the tree at that node (a chromosome) and ``drop_variables`` leaves
    variables out, as xarray's zarr engine does. ``path`` may also be a store opened with
    :func:`genozarr.store.open.open_resolved`.

    Parameters
    ----------
    path
        Local directory or fsspec URL of the store, or an opened store
        (:class:`~genozarr.store.open.OpenedStore`).
    storage_options
        fsspec options for remote URLs.
    group
        Node to root the tree at (a chromosome); None: the store's root.
    drop_variables
        Variables to leave out.

    Returns
    -------
    xarray.DataTree
        Lazily indexed (not dask); attributes of the root hold the store metadata. In the
        whole-genome layout each chromosome's child holds ``data`` over ``(position,
        strand, condition)``.

    Raises
    ------
    ChromosomeNotFoundError
        For a ``group`` that is not a stored chromosome nor the windows.
    StoreError
        As :func:`open_store_dataset`.
    """
    import xarray as xr

    opened, meta = _open_checked(path, storage_options)
    path = opened.path
    name = _check_group(group, meta, path)
    store = opened.zarr_store()
    if meta.whole_genome and meta.format_version == 1:
        root = _zarr_open(store, group=None, tree=False, opened=opened,
                          drop_variables=drop_variables)
        tree = xr.DataTree.from_dict({f"/{c}": _v1_chrom(root, meta, c) for c in meta.chroms})
        if group:
            tree = tree[group.strip("/")].copy()
            tree.orphan()
    elif meta.whole_genome:
        tree = _whole_genome_tree(opened, meta, name, drop_variables)
    else:
        tree = xr.DataTree(_zarr_open(store, group=group, tree=False, opened=opened,
                                      drop_variables=drop_variables))
    tree.attrs = _attrs(meta, path)
    return tree


def open_chunked_tree(opened: Any, chunks: Any) -> Any:
    """A whole-genome store (format 2 on) as a tree of dask arrays: what
    :func:`xarray.open_datatree` gives with ``engine="genozarr"`` and ``chunks``, built
    in one pass (``_whole_genome_tree``) where xarray would build the tree again to
    chunk it.

    Parameters
    ----------
    opened
        The store version (:class:`~genozarr.store.open.OpenedStore`).
    chunks
        Dask chunks as :func:`xarray.open_datatree` takes them (``{}``: the stored ones).

    Returns
    -------
    xarray.DataTree
        As :func:`open_store_tree`, with dask arrays.
    """
    opened, meta = _open_checked(opened, None)
    tree = _whole_genome_tree(opened, meta, None, None, chunks)
    tree.attrs = _attrs(meta, opened.path)
    return tree


class GenozarrBackendEntrypoint(BackendEntrypoint):
    """``engine="genozarr"``: open genozarr stores with :func:`xarray.open_dataset` and
    :func:`xarray.open_datatree` (see :mod:`genozarr.store.xarray_backend`)."""

    description = "genozarr stores (zarr v3 with genozarr metadata and layout)"
    url = "https://github.com/genozarr/genozarr"
    open_dataset_parameters = ("filename_or_obj", "drop_variables", "group", "storage_options")

    def guess_can_open(self, filename_or_obj: Any) -> bool:
        """Whether xarray may pick this engine without being asked: an opened store, or a
        local store path whose root metadata holds the ``genozarr`` attribute.

        Parameters
        ----------
        filename_or_obj
            What was passed to :func:`xarray.open_dataset`.

        Returns
        -------
        bool
            False for remote URLs (``engine="genozarr"`` opens them) and for anything
            unreadable.
        """
        import json

        from genozarr.store.open import OpenedStore, is_remote, resolve_root

        if isinstance(filename_or_obj, OpenedStore):
            return True
        if not isinstance(filename_or_obj, (str, os.PathLike)) or is_remote(filename_or_obj):
            return False
        try:
            root = resolve_root(os.fspath(filename_or_obj))
            with open(os.path.join(root, "zarr.json"), "rb") as f:
                return "genozarr" in json.loads(f.read()).get("attributes", {})
        except (OSError, ValueError, AttributeError):
            return False

    def open_dataset(self, filename_or_obj: Any, *,
                     drop_variables: str | Iterable[str] | None = None,
                     group: str | None = None,
                     storage_options: dict[str, Any] | None = None) -> Any:
        """Open one group of a store: :func:`open_store_dataset`.

        Parameters
        ----------
        filename_or_obj
            Store path, fsspec URL, or an opened store.
        drop_variables
            Variables to leave out.
        group
            A chromosome (whole-genome layout); None: the root.
        storage_options
            fsspec options for remote URLs.

        Returns
        -------
        xarray.Dataset
            As :func:`open_store_dataset`.
        """
        with _edited_metadata(filename_or_obj):
            return open_store_dataset(_path_or_opened(filename_or_obj), storage_options,
                                      group, drop_variables)

    def open_datatree(self, filename_or_obj: Any, *,
                      drop_variables: str | Iterable[str] | None = None,
                      group: str | None = None,
                      storage_options: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """Open a store as a tree: :func:`open_store_tree`.

        Parameters
        ----------
        filename_or_obj
            Store path, fsspec URL, or an opened store.
        drop_variables
            Variables to leave out.
        group
            Node to root the tree at (a chromosome); None: the root.
        storage_options
            fsspec options for remote URLs.
        **kwargs
            Other arguments of :func:`xarray.open_datatree`: ignored.

        Returns
        -------
        xarray.DataTree
            As :func:`open_store_tree`.
        """
        with _edited_metadata(filename_or_obj):
            return open_store_tree(_path_or_opened(filename_or_obj), storage_options, group,
                                   drop_variables)


@contextlib.contextmanager
def _edited_metadata(filename_or_obj: Any) -> Iterator[None]:
    """xarray's KeyError for an array whose zarr metadata lacks what it needs (an array
    without ``dimension_names`` added beside the data), as the StoreFormatError that
    :func:`~genozarr.store.open.open_store` gives (the engine raised it bare)."""
    from genozarr.errors import GenozarrError, StoreFormatError, hide_secrets

    try:
        yield
    except GenozarrError:  # (ChromosomeNotFoundError is a KeyError too)
        raise
    except KeyError as e:
        path = getattr(filename_or_obj, "path", filename_or_obj)
        raise StoreFormatError(
            f"store {hide_secrets(str(path))}: {e.args[0] if e.args else e}; the store's "
            "metadata was edited or damaged. Rebuild it (overwrite=True).") from e


def _path_or_opened(filename_or_obj: Any) -> Any:
    from genozarr.store.open import OpenedStore

    return filename_or_obj if isinstance(filename_or_obj, OpenedStore) \
        else os.fspath(filename_or_obj)

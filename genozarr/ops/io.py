"""Materializing lazy Datasets as genozarr stores, and lazy Datasets over in-memory stores.

:func:`write_store` writes the output of :func:`genozarr.ops.normalize.normalize` or
:func:`genozarr.ops.collapse.collapse` (or any Dataset in genozarr's layout) chunk by chunk with
``dask.array.store`` through :class:`~genozarr.store.write.StoreWriter`, so the result is
published atomically with a completion marker and reopens with
:func:`genozarr.open_store` and :func:`genozarr.store.load_store`.
"""

from __future__ import annotations

import os
import uuid
from typing import TYPE_CHECKING, Any

import numpy as np

from genozarr.errors import ArgumentError, StoreError

if TYPE_CHECKING:
    import xarray as xr

    from genozarr.store.handle import Store

__all__ = ["write_store", "lazy_dataset"]


def _meta_from(ds: xr.Dataset, names: list[str], whole: bool, name: str | None) -> Any:
    from genozarr.store.layout import StoreMeta

    attrs = dict(ds.attrs)
    first = ds[names[0]]
    known = set(StoreMeta.__dataclass_fields__)
    fields = {k: v for k, v in attrs.items() if k in known}
    extra = dict(fields.pop("extra", {}) or {})
    for k, v in attrs.items():
        if k not in known and k != "store" and isinstance(v, (str, int, float, bool, list)):
            extra[k] = v
    chroms = fields.get("chroms") or {}
    if whole and not chroms:
        chroms = {n: int(ds[n].shape[0]) * int(fields.get("resolution") or 1) for n in names}
    resolution = fields.get("resolution")
    fields.update(
        name=name or fields.get("name") or "store",
        kind=fields.get("kind", "coverage"),
        layout="whole_genome" if whole else "partial",
        resolution=None if resolution is None else int(resolution),
        binsize=fields.get("binsize"),
        stepsize=fields.get("stepsize"),
        flank=int(fields.get("flank", 0) or 0),
        dtype=str(first.dtype),
        conditions=[str(c) for c in ds["condition"].values],
        strands=[str(s) for s in ds["strand"].values],
        chroms={str(k): int(v) for k, v in dict(chroms).items()},
        sources=list(fields.get("sources", [])),
        extra=extra,
    )
    fields.pop("format_version", None)
    fields.pop("encoding_type", None)
    return StoreMeta(**fields)


def write_store(ds: xr.Dataset, path: str | os.PathLike, *, name: str | None = None,
                overwrite: bool = False, storage_options: dict[str, Any] | None = None,
                cache_key: str | None = None) -> str:
    """Write a (lazy) Dataset in genozarr's layout as a zarr v3 store.

    Data are computed and written one zarr chunk per dask task (chunks of about
    ``set_options(chunk_bytes=...)`` along the first axis), so memory stays near a few
    chunks whatever the size of the store.

    Parameters
    ----------
    ds
        A Dataset with a ``data`` variable ``(region, position, strand, condition)`` and
        the ``region_*`` coordinates (partial layout), or one variable per chromosome
        ``(position_<chrom>, strand, condition)`` (whole-genome layout); typically from
        :func:`genozarr.open_store` followed by :func:`genozarr.ops.normalize.normalize` or
        :func:`genozarr.ops.collapse.collapse`.
    path
        Store location (directory or fsspec URL).
    name
        Store name in its metadata (default: the Dataset's ``name`` attribute).
    overwrite
        Replace an existing store at ``path``.
    storage_options
        fsspec options for remote URLs.
    cache_key
        Key written into the completion marker (default: the ``cache_key`` attribute,
        which :func:`genozarr.ops.normalize.normalize` and
        :func:`genozarr.ops.collapse.collapse` derive
        from the source store's key and the operation).

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
    import dask.array as da
    import zarr

    from genozarr.config import OPTIONS
    from genozarr.ops.normalize import data_var_names
    from genozarr.store.layout import REGION_COORDS
    from genozarr.store.open import is_remote, read_marker, zarr_store
    from genozarr.store.write import ArraySpec, StoreWriter

    path = str(path)
    names = data_var_names(ds)
    whole = not (names == ["data"] and ds["data"].dims[0] == "region")
    if not whole and not all(c in ds.coords for c in REGION_COORDS):
        raise ArgumentError(f"a partial-layout Dataset needs the coordinates {REGION_COORDS}")
    exists = read_marker(path, storage_options) is not None or (
        not is_remote(path) and os.path.exists(path))
    if exists and not overwrite:
        raise StoreError(f"{path} already exists; pass overwrite=True to replace it")
    meta = _meta_from(ds, names, whole, name)
    meta.cache_key = cache_key if cache_key is not None else ds.attrs.get("cache_key")
    meta.pad_value = float(ds.attrs.get("pad_value", 0) or 0)
    specs: dict[str, ArraySpec] = {}
    sources: dict[str, Any] = {}
    for n in names:
        var = ds[n]
        arr = var.data if isinstance(var.data, da.Array) else da.asarray(np.asarray(var.data))
        row_bytes = int(np.prod(arr.shape[1:], dtype=np.int64)) * arr.dtype.itemsize
        clen = max(1, min(arr.shape[0] or 1, OPTIONS["chunk_bytes"] // max(row_bytes, 1)))
        arr = arr.rechunk((clen,) + tuple(-1 for _ in arr.shape[1:]))
        dims = tuple(str(d) for d in var.dims)
        specs[n] = ArraySpec(tuple(arr.shape), (clen,) + tuple(arr.shape[1:]), str(arr.dtype),
                             dims, meta.pad_value,
                             None if whole else " ".join(REGION_COORDS))
        sources[n] = arr
    coords: dict[str, tuple[tuple[str, ...], np.ndarray]] = {
        "strand": (("strand",), np.asarray(ds["strand"].values).astype(object)),
        "condition": (("condition",), np.asarray(ds["condition"].values).astype(object)),
    }
    if not whole:
        for key in REGION_COORDS:
            coords[key] = (("region",), np.asarray(ds[key].values))
    writer = StoreWriter(path, meta, specs, coords, storage_options)
    try:
        targets = [zarr.open_array(zarr_store(writer.tmp, "r+", storage_options), path=n,
                                   mode="r+", zarr_format=3) for n in names]
        da.store([sources[n] for n in names], targets, lock=False)
        return writer.commit()
    except BaseException:
        writer.abort()
        raise


class _BackendArray:
    """Array-like over one array of a store backend: slices along the first axis are read
    with ``read_range`` (densifying sparse rows per chunk)."""

    def __init__(self, store: Store, name: str) -> None:
        self.backend = store.backend
        self.name = name
        self.shape = tuple(store.backend.shape(name))
        self.dtype = np.dtype(store.meta.dtype)
        self.ndim = len(self.shape)

    def __getitem__(self, key: Any) -> np.ndarray:
        key = key if isinstance(key, tuple) else (key,)
        first = key[0] if key else slice(None)
        if not isinstance(first, slice) or first.step not in (None, 1):
            raise IndexError("only contiguous first-axis slices are supported")
        start, stop, _ = first.indices(self.shape[0])
        block = self.backend.read_range(self.name, start, max(start, stop))
        return np.asarray(block)[(slice(None),) + tuple(key[1:])]


def lazy_dataset(store: Store) -> xr.Dataset:
    """A lazy :class:`xarray.Dataset` over a built :class:`~genozarr.store.Store`.

    Zarr-backed stores are opened with :func:`genozarr.open_store`; in-memory ones
    (``ndarray``, ``sparse``) are wrapped so that each dask chunk reads (and, for sparse,
    densifies) only its own rows.

    Parameters
    ----------
    store
        The store.

    Returns
    -------
    xarray.Dataset
        Same layout as :func:`genozarr.open_store`.
    """
    import dask.array as da
    import xarray as xr

    from genozarr.config import OPTIONS
    from genozarr.store.layout import array_name, position_dim

    if store.backend.storage == "zarr" and store.path is not None:
        from genozarr.store.open import open_store

        return open_store(store.path, getattr(store.backend, "storage_options", None))
    meta = store.meta
    coords: dict[str, Any] = {"strand": ("strand", list(meta.strands)),
                              "condition": ("condition", list(meta.conditions))}
    data_vars: dict[str, Any] = {}
    for n in store.array_names():
        src = _BackendArray(store, n)
        row_bytes = int(np.prod(src.shape[1:], dtype=np.int64)) * src.dtype.itemsize
        clen = max(1, min(src.shape[0] or 1, OPTIONS["chunk_bytes"] // max(row_bytes, 1)))
        arr = da.from_array(src, chunks=(clen,) + tuple(-1 for _ in src.shape[1:]),
                            name=f"genozarr-{n}-{uuid.uuid4().hex}",
                            meta=np.empty((0,) * src.ndim, src.dtype))
        if store.whole_genome:
            chrom = next(c for c in meta.chroms if array_name(c) == n)
            data_vars[n] = ((position_dim(chrom), "strand", "condition"), arr)
        else:
            data_vars[n] = (("region", "position", "strand", "condition"), arr)
    if not store.whole_genome:
        t = store.region_table
        assert t is not None
        coords.update({"region_chrom": ("region", np.asarray(t["chrom"]).astype(str)),
                       "region_start": ("region", np.asarray(t["start"])),
                       "region_end": ("region", np.asarray(t["end"])),
                       "region_strand": ("region", np.asarray(t["strand"]).astype(str))})
    attrs = {k: v for k, v in meta.to_attrs().items() if v is not None and k != "extra"}
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)

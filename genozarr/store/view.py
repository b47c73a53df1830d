"""Stores as xarray objects, and xarray objects as stores.

:func:`as_xarray` is the one lazy view of a built :class:`~genozarr.store.handle.Store`:
a zarr store opens through the ``genozarr`` xarray backend (:func:`genozarr.open_store`);
an in-memory one (``ndarray``, ``sparse``) is wrapped in dask arrays that read (and, for
sparse, densify) only their own rows, in the same structure. :func:`meta_from_xarray`
reads that structure back for :func:`genozarr.store.builder.write_store`.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import numpy as np

from genozarr.errors import ArgumentError, get_logger, hide_secrets
from genozarr.store.dtypes import value_dtype
from genozarr.store.layout import (
    DATA,
    REGION_COORDS,
    WINDOW_COORDS,
    WINDOW_NAME,
    WINDOWS,
    StoreMeta,
    labeled_values,
)

log = get_logger(__name__)

if TYPE_CHECKING:
    from genozarr.store.handle import Store

__all__ = ["as_xarray", "meta_from_xarray"]


class _BackendArray:
    """Array-like over one array of a store backend: slices along the first axis are read
    with ``read_range`` (densifying sparse rows per chunk)."""

    def __init__(self, store: Store, name: str) -> None:
        self.backend = store.backend
        self.name = name
        self.shape = tuple(store.backend.shape(name))
        self.dtype = value_dtype(store.meta.dtype)
        self.ndim = len(self.shape)

    def __getitem__(self, key: Any) -> np.ndarray:
        key = key if isinstance(key, tuple) else (key,)
        first = key[0] if key else slice(None)
        if isinstance(first, (int, np.integer)) and not isinstance(first, bool):
            # an integer (dask hands one on for .isel(region=3)): that row, axis dropped
            i = int(first) + (self.shape[0] if first < 0 else 0)
            if not 0 <= i < self.shape[0]:
                raise IndexError(f"index {int(first)} out of range for {self.shape[0]} rows")
            return self[(slice(i, i + 1),) + tuple(key[1:])][0]
        if not isinstance(first, slice):  # a list or array of rows: read their span
            rows = np.arange(self.shape[0])[first]
            if rows.size == 0:
                return self[(slice(0, 0),) + tuple(key[1:])]
            lo = int(rows.min())
            return self[(slice(lo, int(rows.max()) + 1),) + tuple(key[1:])][rows - lo]
        start, stop, step = first.indices(self.shape[0])
        if step != 1:
            return self[(np.arange(start, stop, step),) + tuple(key[1:])]
        block = self.backend.read_range(self.name, start, max(start, stop))
        return np.asarray(block)[(slice(None),) + tuple(key[1:])]


def _attrs(meta: StoreMeta, path: str | None) -> dict[str, Any]:
    attrs = {k: v for k, v in meta.to_attrs().items() if v is not None and k != "recipe"}
    if path is not None:
        attrs["store"] = hide_secrets(path)  # (a URL's password: not into what is written)
    return attrs


def as_xarray(store: Store, *, through_backend: bool = False, widen: bool = False,
              windows: tuple[Any, ...] | None = None) -> Any:
    """The store as a lazy xarray object (dask arrays), in the structure of
    :func:`genozarr.open_store`: a Dataset (partial layout) or a DataTree with one child
    per chromosome (whole-genome layout).

    A zarr store opens through :func:`genozarr.open_store`, unless ``through_backend``:
    then its arrays are read through the store's own backend, as an in-memory store's
    are (what fitting normalizers needs: the values, labeled with the store's strands and
    conditions, without xarray's own opening of every chromosome's group, about 6 ms a
    chromosome). ``widen`` (with ``through_backend``): the data as a batch is served
    to normalizers, in float32 at least (an int16 or float16 store widened). ``windows``
    (``(chrom, start, end, strand, names)``): the ``genozarr-windows`` group of a
    whole-genome store held in memory, which records none of its own (a zarr store's
    are its recorded ones).

    Parameters
    ----------
    store
        A built store (any storage).
    through_backend
        Read a zarr store's arrays through its backend instead of opening it with
        :func:`genozarr.open_store` (in-memory stores always are).
    widen
        Serve the data as ``numpy.result_type(dtype, float32)`` (only where the arrays
        are read through the backend).
    windows
        ``(chrom, start, end, strand)`` or ``(chrom, start, end, strand, names)`` of the
        windows, written as the ``genozarr-windows`` child of a whole-genome tree read
        through the backend; None: no such child.

    Returns
    -------
    xarray.Dataset or xarray.DataTree
        Partial layout: a Dataset with ``data`` over ``(region, position, strand,
        condition)`` and the region, strand and condition coordinates. Whole-genome
        layout: a DataTree with one child per chromosome holding ``data`` over
        ``(position, strand, condition)`` (``position`` in bins). Attributes hold the
        store metadata (without ``recipe`` and null fields).
    """
    import dask.array as da
    import xarray as xr

    from genozarr.ops._layout import with_data_token
    from genozarr.store.layout import chunk_length

    meta = store.meta
    if store.backend.storage == "zarr" and store.path is not None and not through_backend:
        from genozarr.store.open import open_store

        return open_store(store.path, getattr(store.backend, "storage_options", None))
    from genozarr.store.layout import condition_coords

    labels = {"strand": ("strand", list(meta.strands)),
              "condition": ("condition", list(meta.conditions))}
    labels.update({k: ("condition", v) for k, v in condition_coords(meta).items()})

    def lazy(name: str) -> Any:
        src = _BackendArray(store, name)
        row_bytes = int(np.prod(src.shape[1:], dtype=np.int64)) * src.dtype.itemsize
        clen = chunk_length(row_bytes, src.shape[0])
        stored = getattr(store.backend, "chunk_len", None)
        if stored is not None:  # a zarr store: whole chunks of its own (each decoded once)
            size = stored(name)
            clen = max(size, clen // size * size)
        arr = da.from_array(src, chunks=(clen,) + tuple(-1 for _ in src.shape[1:]),
                            name=f"genozarr-{name}-{uuid.uuid4().hex}",
                            meta=np.empty((0,) * src.ndim, src.dtype))
        served = np.result_type(src.dtype, np.float32)
        return arr.astype(served) if widen and served != src.dtype else arr

    if meta.whole_genome:
        nodes = {f"/{c}": xr.Dataset({DATA: (("position", "strand", "condition"),
                                             lazy(meta.array_path(c)))}, coords=labels)
                 for c in meta.chroms}
        if windows is not None:
            columns = dict(zip(WINDOW_COORDS, windows[:4]))
            group = {k: (("window",), np.asarray(v).astype(
                np.int64 if k in WINDOW_COORDS[1:3] else str)) for k, v in columns.items()}
            if len(windows) > 4 and windows[4] is not None:
                group[WINDOW_NAME] = (("window",), np.asarray(windows[4]).astype(str))
            nodes[f"/{WINDOWS}"] = xr.Dataset(group)
        tree = xr.DataTree.from_dict(nodes)
        tree.attrs = _attrs(meta, store.path)
        return with_data_token(tree)
    t = store.region_table
    assert t is not None
    coords = dict(labels)
    coords.update({"region_chrom": ("region", np.asarray(t["chrom"]).astype(str)),
                   "region_start": ("region", np.asarray(t["start"])),
                   "region_end": ("region", np.asarray(t["end"])),
                   "region_strand": ("region", np.asarray(t["strand"]).astype(str))})
    if t.get("name") is not None:
        coords["region_name"] = ("region", np.asarray(t["name"]).astype(str))
    return with_data_token(xr.Dataset(
        {DATA: (("region", "position", "strand", "condition"), lazy(DATA))},
        coords=coords, attrs=_attrs(meta, store.path)))


def _inherited_key(obj: Any, attrs: dict[str, Any]) -> str | None:
    """The ``cache_key`` attribute, where it still describes the data: the data arrays
    are those genozarr.open_store opened or genozarr.ops made (their token); data changed
    by other means (``ds["data"] * 2``) hold other values under the same attributes, and
    get no key (a store written from them is never taken for the source's build)."""
    from genozarr.ops._layout import data_token
    from genozarr.store.layout import DATA_TOKEN

    key = attrs.get("cache_key")
    if key is None or DATA_TOKEN not in attrs:
        return key
    if attrs[DATA_TOKEN] is None or attrs[DATA_TOKEN] != data_token(obj):  # (None: numpy
        # data, which cannot be told from data changed since)
        log.info("the data were changed since their attributes were made (not by "
                 "genozarr.ops): the store written gets no cache key")
        return None
    return key


def _condition_sources(sources: list[Any], recorded: list[str],
                       conditions: list[str]) -> list[Any]:
    """The input files of ``conditions`` where the attributes record one per condition
    (``sources`` aligned with the ``recorded`` conditions): reordered and subset with the
    conditions (``ds.isel(condition=...)``); left out where a condition is not among the
    recorded ones. Sources that are not one per condition (a BED file of categories) are
    the inputs of every condition and stay as they are."""
    if not recorded or len(sources) != len(recorded) or recorded == conditions:
        return sources
    by_condition = dict(zip(recorded, sources))
    if len(by_condition) != len(recorded) or any(c not in by_condition for c in conditions):
        return []
    return [by_condition[c] for c in conditions]


def _stored_order(var: Any, dims: tuple[str, ...], where: str) -> Any:
    """The data of ``var`` with its axes in the stored order ``dims`` (a transposed
    variable, ``.transpose("region", "position", "condition", "strand")``, was written
    as it was: strands and conditions swapped where their numbers agree)."""
    if sorted(var.dims) != sorted(dims):
        raise ArgumentError(f"{where}: 'data' has the dimensions {tuple(var.dims)}; a genozarr "
                            f"store holds {dims}")
    return var.transpose(*dims).data


def meta_from_xarray(obj: Any, *, name: str | None = None, cache_key: str | None = None
                     ) -> tuple[StoreMeta, dict[str, Any], dict[str, np.ndarray] | None,
                                tuple[np.ndarray, ...] | None]:
    """Metadata, data arrays, region table and windows of a Dataset or DataTree in
    genozarr's structure (what :func:`genozarr.open_store` returns).

    Parameters
    ----------
    obj
        An :class:`xarray.Dataset` (partial layout: ``data`` over ``(region, position,
        strand, condition)``, ``region`` first and the others in any order, and the
        ``region_*`` coordinates) or an :class:`xarray.DataTree` (whole-genome layout: one child per
        chromosome holding ``data``, and optionally ``genozarr-windows``). Its attributes
        supply the metadata fields they hold.
    name
        Dataset name; None takes the ``name`` attribute, else ``'store'``.
    cache_key
        Cache key of the new store; None keeps the ``cache_key`` attribute only where
        it still describes the data.

    Returns
    -------
    meta, arrays, region_table, windows
        ``arrays`` maps array paths to (dask) arrays; ``region_table`` is None in the
        whole-genome layout, ``windows`` None in the partial one (or when absent).

    Raises
    ------
    ArgumentError
        When ``obj`` is not in genozarr's structure.
    """
    import xarray as xr

    from genozarr.store.layout import array_path

    if not isinstance(obj, (xr.Dataset, xr.DataTree)):  # (a Cover: a bare AttributeError)
        hint = (": pass its .to_xarray(), or genozarr.open_store(path)"
                if hasattr(obj, "garray") and hasattr(obj, "to_xarray") else "")
        # (a genozarr dataset's; a DataFrame's to_xarray gives no genozarr layout)
        raise ArgumentError(f"expected an xarray Dataset or DataTree in genozarr's layout, "
                            f"got {type(obj).__name__}{hint}")
    attrs = dict(obj.attrs)
    known = set(StoreMeta.__dataclass_fields__) - {"format_version", "encoding_type"}
    fields = {k: v for k, v in attrs.items() if k in known}
    windows = None
    table = None
    if isinstance(obj, xr.DataTree):
        chroms = {c: node for c, node in obj.children.items()
                  if c != WINDOWS and DATA in node.data_vars}
        if not chroms:
            raise ArgumentError("the DataTree has no child group holding a 'data' variable")
        first = next(iter(chroms.values())).to_dataset()
        res = int(fields.get("resolution") or 1)
        lengths = dict(fields.get("chroms") or {})
        arrays = {array_path(c): _stored_order(node[DATA], ("position", "strand", "condition"),
                                               f"group {c!r}")
                  for c, node in chroms.items()}
        sizes = {c: int(lengths.get(c, node.sizes["position"] * res))
                 for c, node in chroms.items()}
        layout = "whole_genome"
        if WINDOWS in obj.children:
            w = obj[WINDOWS].to_dataset()
            decoded = {k: labeled_values(w[k], f"{WINDOWS}/{k}") for k in WINDOW_COORDS}
            windows = tuple(np.asarray(w[k].values) if v is None else v
                            for k, v in decoded.items())
            if WINDOW_NAME in w:  # the windows' names, where they have names
                windows += (np.asarray(w[WINDOW_NAME].values, dtype=object),)
            lost = [str(c) for c in dict.fromkeys(np.asarray(windows[0]).tolist())
                    if str(c) not in chroms]
            if lost:  # (the store would be written, and open_dataset refuse it)
                raise ArgumentError(
                    f"the windows ({WINDOWS}) lie on chromosomes {lost[:10]} the DataTree has "
                    f"no group for (dropped?); keep those chromosomes, or drop the "
                    f"{WINDOWS} group too (a store without windows)")
    else:
        if DATA not in obj.data_vars or obj[DATA].dims[0] != "region":
            raise ArgumentError(
                "write_store needs a Dataset with a 'data' variable (region, position, strand, "
                "condition) or a DataTree with one group per chromosome; got variables "
                f"{list(obj.data_vars)}")
        missing = [c for c in REGION_COORDS if c not in obj.coords]
        if missing:
            raise ArgumentError(f"a partial-layout Dataset needs the coordinates {missing}")
        first = obj
        arrays = {DATA: _stored_order(obj[DATA], ("region", "position", "strand", "condition"),
                                      "the Dataset")}
        table = {col: np.asarray(obj[key].values) for col, key in
                 zip(("chrom", "start", "end", "strand"), REGION_COORDS)}
        if "region_name" in obj.coords:
            table["name"] = np.asarray(obj["region_name"].values)
        sizes = {str(k): int(v) for k, v in dict(fields.get("chroms") or {}).items()}
        layout = "partial"
    # missing values: NaN in a number column, '' in a text one (condition_coords); the
    # columns in the order the store recorded (xarray may sort coordinates by name)
    columns = [str(k) for k in first.coords
               if k != "condition" and first[k].dims == ("condition",)]
    recorded_order = [str(k) for k in dict(fields.get("condition_metadata") or {})]
    columns.sort(key=lambda k: (recorded_order.index(k) if k in recorded_order
                                else len(recorded_order)))

    def _missing(v: Any, text: bool) -> bool:
        return (isinstance(v, float) and np.isnan(v)) or (text and v == "")

    fields["condition_metadata"] = {}
    for k in columns:
        values = np.asarray(first[k].values)
        text = values.dtype.kind in "UOT"  # T: numpy 2's StringDType
        fields["condition_metadata"][k] = [None if _missing(v, text) else v
                                           for v in values.tolist()]
    conditions = [str(c) for c in first["condition"].values]
    sources = _condition_sources(list(fields.get("sources", [])),
                                 [str(c) for c in attrs.get("conditions", [])], conditions)
    resolution = fields.get("resolution")
    fields.update(
        name=name or fields.get("name") or "store",
        kind=fields.get("kind", "coverage"), layout=layout,
        resolution=None if resolution is None else int(resolution),
        binsize=fields.get("binsize"), stepsize=fields.get("stepsize"),
        flank=int(fields.get("flank", 0) or 0),
        dtype=str(first[DATA].dtype),
        conditions=conditions,
        strands=[str(s) for s in first["strand"].values],
        chroms=sizes, sources=sources,
        cache_key=cache_key if cache_key is not None else _inherited_key(obj, attrs),
        pad_value=float(fields.get("pad_value", 0) or 0),
        recipe=dict(fields.get("recipe") or {}),
    )
    return StoreMeta(**fields), arrays, table, windows

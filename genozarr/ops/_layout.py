"""Where an opened store keeps its data, for the lazy operations.

An opened store is either an :class:`xarray.Dataset` with one variable ``data`` (partial
layout: dims ``(region, position, strand, condition)`` and the ``region_*``
coordinates; or one chromosome: ``(position, strand, condition)``) or an
:class:`xarray.DataTree` of a whole-genome store, one node per chromosome, each holding a
Dataset with ``data`` ``(position, strand, condition)``. :func:`data_datasets` lists the
data-bearing datasets of either; :func:`map_data` rebuilds the input with each of them
replaced.

Format 1 (until format 2 is written everywhere): a whole-genome store opens as one
Dataset with one variable per chromosome, named by the chromosome, with dims
``(position_<chrom>, strand, condition)``. Both entry points convert it to the tree form
and :func:`map_data` converts the result back.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from genozarr.errors import ArgumentError
from genozarr.store.layout import DATA_TOKEN

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["DATA", "data_datasets", "data_arrays", "map_data", "region_lengths",
           "derive_attrs"]

#: Name of the data variable.
DATA = "data"


def data_datasets(obj: xr.Dataset | xr.DataTree) -> list[xr.Dataset]:
    """The datasets holding a ``data`` variable, in store order.

    Parameters
    ----------
    obj
        A Dataset with ``data`` or a DataTree; in a tree, each node's dataset carries the
        inherited coordinates and the root's attributes updated with the node's.

    Returns
    -------
    list of xarray.Dataset

    Raises
    ------
    ArgumentError
        When nothing holds a ``data`` variable ``(..., strand, condition)``.
    """
    import xarray as xr

    if _is_format1(obj):
        obj = _format1_to_tree(obj)
    if isinstance(obj, xr.DataTree):
        out = [_node_dataset(obj, node) for node in obj.subtree if DATA in node.data_vars]
    elif isinstance(obj, xr.Dataset) and DATA in obj.data_vars:
        out = [obj]
    else:
        out = []
    if not out or any(tuple(d.variables[DATA].dims[-2:]) != ("strand", "condition")
                      for d in out):  # (.variables: a DataArray per node costs 0.1 ms)
        raise ArgumentError(
            f"not a genozarr dataset: expected an xarray Dataset with a variable 'data' "
            f"(..., strand, condition) or a DataTree of them, got {type(obj).__name__}; open "
            f"the store with genozarr.open_store")
    return out


def data_arrays(obj: xr.Dataset | xr.DataTree) -> list[Any]:
    """The ``data`` arrays (numpy or dask) of :func:`data_datasets`.

    Parameters
    ----------
    obj
        A Dataset or DataTree.

    Returns
    -------
    list
    """
    # (lazily indexed arrays of xarray's genozarr engine as dask in their stored chunks:
    # their .data read each whole array at once, where a fit is to hold one chunk)
    return [lazy(d[DATA]).data for d in data_datasets(obj)]


def data_token(obj: Any) -> str | None:
    """A hash of the dask names of the data arrays of ``obj`` and of the values of its
    coordinates (regions, conditions, strands; a tree's windows), or None where a data
    array is not a dask array (numpy data cannot be told apart so cheaply): data changed
    by other means than genozarr.ops (``ds["data"] * 2``, ``assign_coords``) give
    another token, so the attributes no longer describe them."""
    import dask.array as da
    import xarray as xr

    from genozarr.store.layout import WINDOWS

    try:
        datasets = data_datasets(obj)
    except Exception:  # noqa: BLE001 - not a genozarr dataset: nothing to name
        return None
    arrays = [d.variables[DATA].data for d in datasets]  # (Variables: no DataArray made)
    if not arrays or not all(isinstance(a, da.Array) for a in arrays):
        return None
    h = hashlib.sha256("\n".join(a.name for a in arrays).encode())
    extra = [obj[WINDOWS].to_dataset()] if isinstance(obj, xr.DataTree) \
        and WINDOWS in obj.children else []
    for d in [*datasets, *extra]:
        for name in sorted(map(str, d.coords)) + sorted(
                str(v) for v in d.data_vars if str(v) != DATA):
            var = d.variables[name]
            if isinstance(var.data, da.Array):  # by name: never computed here
                h.update(f"{name}:{var.data.name}".encode())
                continue
            values = np.asarray(var.values)
            h.update(f"{name}:{values.dtype}:{values.shape}".encode())
            if values.dtype.kind in "biufcmM":
                h.update(values.tobytes())
            else:  # text (numpy's StringDType keeps long strings outside its bytes), each
                # value length-prefixed
                for v in values.ravel().tolist():
                    text = str(v).encode()
                    h.update(len(text).to_bytes(8, "little") + text)
    return h.hexdigest()


def with_data_token(obj: Any) -> Any:
    """``obj`` with its attribute :data:`DATA_TOKEN` set to :func:`data_token` of its
    data (the data its attributes describe); returns ``obj``."""
    obj.attrs[DATA_TOKEN] = data_token(obj)
    return obj


def map_data(obj: Any, fn: Callable[[xr.Dataset], xr.Dataset], token: Any) -> Any:
    """Replace every data-bearing dataset ``d`` of ``obj`` by ``fn(d)``.

    Parameters
    ----------
    obj
        A Dataset or DataTree (or a format 1 whole-genome Dataset).
    fn
        Gets a dataset as :func:`data_datasets` gives it, returns its replacement (a tree
        node keeps only its own attributes, with the values ``fn`` gives them).
    token
        JSON-able description of the operation, chained into the ``cache_key`` and
        ``operations`` attributes of the result (the root's, for a tree).

    Returns
    -------
    xarray.Dataset or xarray.DataTree
        Same type and structure as ``obj``.
    """
    import xarray as xr

    from genozarr.store.view import _inherited_key

    data_datasets(obj)  # validates
    if _is_format1(obj):
        return _tree_to_format1(map_data(_format1_to_tree(obj), fn, token))
    # a key the data no longer hold (changed by other means than genozarr.ops) is not
    # chained: the result gets none, as write_store gives the data themselves
    attrs = dict(obj.attrs)
    if attrs.get("cache_key") and _inherited_key(obj, attrs) is None:
        attrs.pop("cache_key")
    if isinstance(obj, xr.Dataset):
        out = fn(obj)
        out.attrs = _with_dtype(derive_attrs(attrs, token), [out])
        return with_data_token(out)
    # the new tree is assembled once from its nodes' datasets: a copy of the tree with
    # each node's dataset set in turn aligned every node with its parent twice (about
    # 4 ms a node, seconds for a genome of thousands of contigs)
    nodes: dict[str, xr.Dataset] = {}
    for node in obj.subtree:
        local = node.to_dataset(inherit=False)
        if DATA in node.data_vars:
            ctx = _node_dataset(obj, node)
            new = fn(ctx)
            inherited = [k for k in new.coords if k in ctx.coords and k not in local.coords]
            if inherited:
                new = new.drop_vars(inherited)
            new.attrs = {k: new.attrs[k] for k in local.attrs if k in new.attrs}
            local = new
        nodes["/" if node is obj else "/" + node.relative_to(obj)] = local
    out = xr.DataTree.from_dict(nodes, name=obj.name)
    out.attrs = _with_dtype(derive_attrs(attrs, token), data_datasets(out))
    return with_data_token(out)


def _with_dtype(attrs: dict[str, Any], datasets: list[xr.Dataset]) -> dict[str, Any]:
    """``attrs`` with the ``dtype`` attribute (``docs/format.md``: the dtype of the data
    arrays) of the result's data, where it records one: an operation may widen them."""
    if "dtype" in attrs and datasets:
        attrs["dtype"] = str(np.dtype(datasets[0][DATA].dtype))
    return attrs


def lazy(var: xr.DataArray) -> xr.DataArray:
    """``var`` as dask where a store opened by xarray's ``genozarr`` engine (or
    ``xr.open_zarr`` without ``chunks``) gives a lazily indexed array: chunked as stored,
    so that the ops read nothing until their result is computed (``np.asarray`` of such an
    array reads the whole of it). Arrays in memory, and dask ones, stay as they are."""
    if var.chunks is not None or getattr(var.variable, "_in_memory", True):
        return var
    stored = var.encoding.get("preferred_chunks") or var.encoding.get("chunks")
    if isinstance(stored, dict):
        return var.chunk({d: c for d, c in stored.items() if d in var.dims})
    if stored and len(stored) == var.ndim:
        return var.chunk(dict(zip(var.dims, stored)))
    return var.chunk("auto")


def region_lengths(ds: xr.Dataset) -> Any:
    """Bases summarised by each value of ``ds.data``: the window length per region in the
    partial layout (flanks included), the resolution for a chromosome.

    Parameters
    ----------
    ds
        A dataset of :func:`data_datasets`.

    Returns
    -------
    xarray.DataArray or numpy.ndarray
        Dims ``(region,)`` (integers), or a 0-d array.

    Raises
    ------
    ArgumentError
        When the coordinates or the resolution are missing.
    """
    if "region" in ds[DATA].dims:
        if not ds.sizes["region"] and "region_start" not in ds.coords:
            import xarray as xr  # no region, no length (a store without any window)

            return xr.DataArray(np.zeros(0, np.int64), dims=("region",))
        if "region_start" not in ds.coords or "region_end" not in ds.coords:
            raise ArgumentError("region-length normalization of the partial layout needs the "
                                "region_start and region_end coordinates")
        return (ds["region_end"] - ds["region_start"]).reset_coords(drop=True)
    res = ds.attrs.get("resolution")
    if res is None:
        raise ArgumentError("region-length normalization of the whole-genome layout needs the "
                            "store's resolution attribute")
    return np.asarray(res)


def derive_attrs(attrs: dict[str, Any], token: Any) -> dict[str, Any]:
    """Attributes of a derived store: the cache key chains the operation's token.

    Parameters
    ----------
    attrs
        Attributes of the input.
    token
        JSON-able description of the operation.

    Returns
    -------
    dict
    """
    new = dict(attrs)
    op = json.dumps(token, sort_keys=True, default=repr)
    if new.get("cache_key"):
        new["cache_key"] = hashlib.sha256((str(new["cache_key"]) + op).encode()).hexdigest()
    new["operations"] = [*list(new.get("operations", [])), op]
    return new


def _node_dataset(tree: xr.DataTree, node: xr.DataTree) -> xr.Dataset:
    ds = node.to_dataset()
    ds.attrs = {**tree.attrs, **ds.attrs}
    return ds


# ------------------------------------------------------------------ format 1
def _is_format1(obj: Any) -> bool:
    """A format 1 whole-genome Dataset: variables ``chrom`` with dims
    ``(position_chrom, strand, condition)``, no ``data``."""
    import xarray as xr

    return (isinstance(obj, xr.Dataset) and DATA not in obj.data_vars and bool(obj.data_vars)
            and all(v.dims == (f"position_{k}", "strand", "condition")
                    for k, v in obj.data_vars.items()))


def _format1_to_tree(ds: xr.Dataset) -> xr.DataTree:
    import xarray as xr

    shared = [k for k, c in ds.coords.items() if not any(str(d).startswith("position_")
                                                          for d in c.dims)]
    root = xr.Dataset(coords={k: ds.coords[k] for k in shared}, attrs=ds.attrs)
    nodes: dict[str, xr.Dataset] = {"/": root}
    for name in ds.data_vars:
        var = ds[name].drop_vars(shared).rename({f"position_{name}": "position"})
        nodes[str(name)] = xr.Dataset({DATA: var})
    return xr.DataTree.from_dict(nodes)


def _tree_to_format1(tree: xr.DataTree) -> xr.Dataset:
    import xarray as xr

    data = {node.name: node[DATA].rename({"position": f"position_{node.name}"})
            for node in tree.subtree if DATA in node.data_vars}
    return xr.Dataset(data, attrs=tree.attrs)


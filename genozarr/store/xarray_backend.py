"""The xarray backend for genozarr stores: ``xarray.open_dataset(path, engine="genozarr")``
and ``xarray.open_datatree(path, engine="genozarr")``.

Registered as the entry point ``genozarr`` of the group ``xarray.backends``. It checks the
store (completion marker, format version), opens it through xarray's zarr backend with
consolidated metadata and no CF masking (a stored 0 stays 0), puts the store metadata in
the attributes, and maps format-1 whole-genome stores (one root array per chromosome with
dimension ``position_<chrom>``) to the format-2 structure (one group per chromosome with
``data`` over ``position``), so every caller sees one structure.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from typing import Any

from xarray.backends import BackendEntrypoint

from genozarr.store.layout import DATA, WINDOWS, StoreMeta

__all__ = ["GenozarrBackendEntrypoint", "open_store_tree", "open_store_dataset"]


def _attrs(meta: StoreMeta, path: str) -> dict[str, Any]:
    attrs = {k: v for k, v in meta.to_attrs().items() if v is not None and k != "recipe"}
    attrs["store"] = path
    return attrs


def _zarr_open(path: str, storage_options: dict[str, Any] | None, *, group: str | None,
               tree: bool, drop_variables: Any = None) -> Any:
    import xarray as xr

    from genozarr.store.open import zarr_store

    kwargs = dict(engine="zarr", consolidated=True, zarr_format=3, chunks=None,
                  mask_and_scale=False, drop_variables=drop_variables)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        store = zarr_store(path, "r", storage_options)
        if tree:
            return xr.open_datatree(store, **kwargs)
        return xr.open_dataset(store, group=group, **kwargs)


def _v1_chrom(root: Any, meta: StoreMeta, chrom: str) -> Any:
    """One chromosome of a format-1 whole-genome store in the format-2 structure."""
    var = root[chrom].rename({f"position_{chrom}": "position"})
    return var.to_dataset(name=DATA).assign_coords(strand=root["strand"].values,
                                                   condition=root["condition"].values)


def open_store_dataset(path: str | os.PathLike, storage_options: dict[str, Any] | None = None,
                       group: str | None = None, drop_variables: Any = None) -> Any:
    """One group of a store as an :class:`xarray.Dataset` (lazily indexed, not dask).

    ``group=None`` is the root: the whole store in the partial layout; in the whole-genome
    layout the metadata only (pass a chromosome name as ``group``, or open the store as
    a tree with :func:`open_store_tree`).
    """
    from genozarr.errors import ChromosomeNotFoundError
    from genozarr.store.open import read_meta

    path = str(path)
    meta = read_meta(path, storage_options)
    if group is not None and meta.whole_genome and group not in meta.chroms \
            and group != WINDOWS:
        raise ChromosomeNotFoundError(
            f"chromosome {group!r} is not in store {path} (it has {list(meta.chroms)[:8]})")
    if meta.whole_genome and meta.format_version == 1:
        root = _zarr_open(path, storage_options, group=None, tree=False)
        ds = (_v1_chrom(root, meta, group) if group is not None
              else root[["strand", "condition"]].drop_vars(list(root.data_vars)))
    else:
        ds = _zarr_open(path, storage_options, group=group, tree=False,
                        drop_variables=drop_variables)
    ds.attrs = _attrs(meta, path)
    return ds


def open_store_tree(path: str | os.PathLike,
                    storage_options: dict[str, Any] | None = None) -> Any:
    """A store as an :class:`xarray.DataTree` (lazily indexed, not dask): one child per
    chromosome in the whole-genome layout, the data at the root in the partial one."""
    import xarray as xr

    from genozarr.store.open import read_meta

    path = str(path)
    meta = read_meta(path, storage_options)
    if meta.whole_genome and meta.format_version == 1:
        root = _zarr_open(path, storage_options, group=None, tree=False)
        tree = xr.DataTree.from_dict({f"/{c}": _v1_chrom(root, meta, c) for c in meta.chroms})
    elif meta.whole_genome:
        tree = _zarr_open(path, storage_options, group=None, tree=True)
    else:
        tree = xr.DataTree(_zarr_open(path, storage_options, group=None, tree=False))
    tree.attrs = _attrs(meta, path)
    return tree


class GenozarrBackendEntrypoint(BackendEntrypoint):
    """``engine="genozarr"``: open genozarr stores with :func:`xarray.open_dataset` and
    :func:`xarray.open_datatree` (see :mod:`genozarr.store.xarray_backend`)."""

    description = "genozarr stores (zarr v3 with genozarr metadata and layout)"
    url = "https://github.com/genozarr/genozarr"
    open_dataset_parameters = ("filename_or_obj", "drop_variables", "group", "storage_options")

    def guess_can_open(self, filename_or_obj: Any) -> bool:
        import json

        if not isinstance(filename_or_obj, (str, os.PathLike)):
            return False
        try:
            with open(os.path.join(os.fspath(filename_or_obj), "zarr.json"), "rb") as f:
                return "genozarr" in json.loads(f.read()).get("attributes", {})
        except (OSError, ValueError, AttributeError):
            return False

    def open_dataset(self, filename_or_obj: Any, *,
                     drop_variables: str | Iterable[str] | None = None,
                     group: str | None = None,
                     storage_options: dict[str, Any] | None = None) -> Any:
        return open_store_dataset(os.fspath(filename_or_obj), storage_options, group,
                                  drop_variables)

    def open_datatree(self, filename_or_obj: Any, *,
                      drop_variables: str | Iterable[str] | None = None,
                      storage_options: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        return open_store_tree(os.fspath(filename_or_obj), storage_options)

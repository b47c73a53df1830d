"""Opening stores: zarr groups, metadata and the lazy :class:`xarray.Dataset` view."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

from genozarr.errors import StoreError, StoreFormatError
from genozarr.store.layout import MARKER, MARKER_FILE, StoreMeta

__all__ = ["is_remote", "open_group", "read_marker", "read_meta", "open_store", "zarr_store"]


def is_remote(path: str | os.PathLike) -> bool:
    """True for fsspec URLs other than ``file://``."""
    text = str(path)
    return "://" in text and not text.startswith("file://")


def _local(path: str | os.PathLike) -> Path:
    text = str(path)
    return Path(text[len("file://"):] if text.startswith("file://") else text)


def zarr_store(path: str | os.PathLike, mode: str = "r",
               storage_options: dict[str, Any] | None = None) -> Any:
    """A zarr store object for a local directory or an fsspec URL."""
    from zarr.storage import FsspecStore, LocalStore

    if is_remote(path):
        return FsspecStore.from_url(str(path), storage_options=storage_options or {},
                                    read_only=(mode == "r"))
    return LocalStore(str(_local(path)), read_only=(mode == "r"))


def open_group(path: str | os.PathLike, mode: str = "r",
               storage_options: dict[str, Any] | None = None) -> Any:
    """Open the zarr v3 group of a store (consolidated metadata when reading)."""
    import zarr

    if not is_remote(path) and not _local(path).exists():
        raise StoreError(f"store {path} does not exist")
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
            return zarr.open_group(zarr_store(path, mode, storage_options), mode=mode,
                                   zarr_format=3,
                                   use_consolidated=True if mode == "r" else None)
    except (FileNotFoundError, KeyError, ValueError, TypeError) as e:
        raise StoreError(f"{path} is not a genozarr store (no readable zarr v3 group): {e}") from e
    except Exception as e:  # zarr raises its own GroupNotFoundError / NodeTypeValidationError
        if type(e).__module__.startswith("zarr"):
            raise StoreError(f"{path} is not a genozarr store (no readable zarr v3 group): {e}") from e
        raise


def read_marker(path: str | os.PathLike,
                storage_options: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The completion marker of a store, or None when the store is absent or incomplete."""
    try:
        if is_remote(path):
            import fsspec

            fs, root = fsspec.core.url_to_fs(str(path), **(storage_options or {}))
            with fs.open(f"{root.rstrip('/')}/{MARKER_FILE}", "rb") as f:
                content = json.loads(f.read())
        else:
            with open(_local(path) / MARKER_FILE, "rb") as f:
                content = json.loads(f.read())
        return dict(content["attributes"])
    except (FileNotFoundError, json.JSONDecodeError, NotADirectoryError, KeyError, TypeError):
        return None


def read_meta(path: str | os.PathLike, storage_options: dict[str, Any] | None = None,
              require_complete: bool = True) -> StoreMeta:
    """Read and check a store's metadata.

    Parameters
    ----------
    path
        Store location (directory or URL).
    storage_options
        fsspec options.
    require_complete
        Raise when the completion marker is missing (an interrupted build).

    Raises
    ------
    StoreError
        Missing, incomplete or non-genozarr store.
    StoreFormatError
        Written by a newer format version.
    """
    if require_complete and read_marker(path, storage_options) is None:
        if not is_remote(path) and not _local(path).exists():
            raise StoreError(f"store {path} does not exist")
        raise StoreError(
            f"{path} is not a complete genozarr store (no completion marker {MARKER}); it was "
            "interrupted while being written or is not a genozarr store. Rebuild it."
        )
    group = open_group(path, "r", storage_options)
    attrs = dict(group.attrs)
    if "genozarr" not in attrs:
        raise StoreFormatError(f"{path} is not a genozarr store (no 'genozarr' attribute)")
    return StoreMeta.from_attrs(attrs["genozarr"], str(path))


def open_store(path: str | os.PathLike, storage_options: dict[str, Any] | None = None,
               chunks: Any = None) -> Any:
    """Open a store lazily with dask arrays: the ``genozarr`` xarray backend with chunks.

    Parameters
    ----------
    path
        Local directory or fsspec URL (``s3://``, ``gs://``, ``http(s)://``).
    storage_options
        fsspec options for remote URLs.
    chunks
        Dask chunks; None keeps the stored chunks.

    Returns
    -------
    xarray.Dataset or xarray.DataTree
        Partial layout: a Dataset with variable ``data`` (dims ``(region, position, strand,
        condition)``) and coordinates ``region_chrom``, ``region_start``, ``region_end``,
        ``region_strand``, ``strand``, ``condition``. Whole-genome layout: a DataTree with
        one child per chromosome holding ``data`` (dims ``(position, strand,
        condition)``). Attributes hold the store metadata (``resolution``, ``binsize``,
        ``flank``, ``sources``, ``cache_key``...).
    """
    import xarray as xr

    meta = read_meta(path, storage_options)
    opener = xr.open_datatree if meta.whole_genome else xr.open_dataset
    obj = opener(str(path), engine="genozarr", storage_options=storage_options,
                 chunks={} if chunks is None else chunks)
    if not meta.whole_genome:  # small coordinates are loaded (selection by value works)
        obj = obj.assign_coords({k: obj[k].compute() for k in obj.coords})
    return obj

"""Lazy re-binning of an opened store to a coarser resolution.

``genozarr.ops.collapse(ds, resolution=..., how=...)`` aggregates ``resolution //
ds.attrs['resolution']`` consecutive stored positions with the same kernel the ingest uses
(``genozarr._kernels.collapse``), mapped over dask chunks whose position axis is
rechunked to multiples of the factor: nothing is computed until the result is written or
loaded. A whole-genome chromosome whose bin count is not a multiple of the factor gets its
last bin padded with the store's ``pad_value`` (0), as at ingest.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from genozarr.errors import ArgumentError

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["collapse"]


def _collapse_block(block: np.ndarray, factor: int, how: Any) -> np.ndarray:
    from genozarr._kernels import collapse as kernel

    return kernel(block, factor, how)


def _collapse_array(arr: Any, axis: int, factor: int, how: Any, pad_value: float) -> Any:
    """Collapse dask array ``arr`` along ``axis`` (the position axis; strand and condition
    are the last two axes)."""
    import dask.array as da

    if not isinstance(arr, da.Array):
        arr = da.asarray(np.asarray(arr))
    length = arr.shape[axis]
    rest = length % factor
    if rest:
        pad_shape = list(arr.shape)
        pad_shape[axis] = factor - rest
        arr = da.concatenate([arr, da.full(tuple(pad_shape), pad_value, dtype=arr.dtype)],
                             axis=axis)
    n_out = arr.shape[axis] // factor
    # chunks along the position axis: whole multiples of the factor, about the old size
    old = max(arr.chunks[axis]) if arr.chunks[axis] else factor
    step = max(1, old // factor)
    new_chunks = {i: -1 for i in range(arr.ndim) if i != axis and i >= arr.ndim - 2}
    new_chunks[axis] = step * factor
    arr = arr.rechunk(new_chunks)
    probe_shape = [1] * arr.ndim
    probe_shape[axis] = factor
    probe_shape[-2:] = arr.shape[-2:]
    dtype = _collapse_block(np.zeros(probe_shape, arr.dtype), factor, how).dtype
    out_chunks = list(arr.chunks)
    out_chunks[axis] = tuple(c // factor for c in arr.chunks[axis])
    out = arr.map_blocks(_collapse_block, factor, how, dtype=dtype, chunks=tuple(out_chunks),
                         meta=np.empty((0,) * arr.ndim, dtype))
    assert out.shape[axis] == n_out
    return out


def collapse(ds: xr.Dataset, *, resolution: int | None,
             how: str | Callable[..., Any] = "sum") -> xr.Dataset:
    """Aggregate an opened store to a coarser resolution, lazily.

    Parameters
    ----------
    ds
        A Dataset from :func:`genozarr.open_store` (either layout) with a ``resolution``
        attribute.
    resolution
        New bases per bin, a multiple of the current resolution; None collapses each
        partial-layout row to one value (not defined for the whole-genome layout).
    how
        ``'sum'``, ``'mean'``, ``'max'``, ``'min'`` or a callable following Janggu's
        collapser contract (see ``genozarr._kernels.collapse``).

    Returns
    -------
    xarray.Dataset
        Dask-backed, with ``resolution`` updated and a derived ``cache_key``.

    Raises
    ------
    ArgumentError
        For a resolution that is not a multiple of the current one, a partial-layout row
        length not divisible by the factor, ``resolution=None`` on the whole-genome layout
        or an unknown ``how``.
    """
    import xarray as xr

    from genozarr.ops.normalize import _derive_attrs, data_var_names

    current = ds.attrs.get("resolution")
    if current is None:
        raise ArgumentError("collapse needs a store with a resolution (this one stores one "
                            "value per region)")
    current = int(current)
    names = data_var_names(ds)
    whole = "data" not in names or ds["data"].dims[0] != "region"
    if resolution is None:
        if whole:
            raise ArgumentError("resolution=None is only defined for the partial layout "
                                "(store_whole_genome=False)")
    elif isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) \
            or resolution < 1 or resolution % current:
        raise ArgumentError(f"resolution must be a positive multiple of the store's resolution "
                            f"{current}, got {resolution!r}")
    if not (callable(how) or how in ("sum", "mean", "max", "min")):
        raise ArgumentError(f"how must be 'sum', 'mean', 'max', 'min' or a callable, got {how!r}")
    pad_value = float(ds.attrs.get("pad_value", 0) or 0)
    data_vars = {}
    for name in names:
        var = ds[name]
        axis = var.dims.index("position") if not whole else 0
        length = var.shape[axis]
        factor = length if resolution is None else int(resolution) // current
        if not whole and length % factor:
            raise ArgumentError(
                f"rows of {length} bins at resolution {current} cannot be collapsed to "
                f"resolution {resolution}: {length * current} bases is not a multiple of it")
        data = _collapse_array(var.data, axis, max(factor, 1), how, pad_value)
        data_vars[name] = (var.dims, data, var.attrs)
    pos_dims = {d for n in names for d in ds[n].dims if str(d).startswith("position")}
    coords = {k: v for k, v in ds.coords.items() if not set(v.dims) & pos_dims}
    out = xr.Dataset(data_vars, coords=coords)
    token = {"op": "collapse", "resolution": resolution,
             "how": how if isinstance(how, str) else
             f"{getattr(how, '__module__', '')}.{getattr(how, '__qualname__', repr(how))}"}
    attrs = _derive_attrs(ds.attrs, token)
    if resolution is None:
        attrs.pop("resolution", None)
    else:
        attrs["resolution"] = int(resolution)
    out.attrs = attrs
    return out


class _CallableModule(types.ModuleType):
    """``genozarr.ops.collapse(ds, ...)`` calls :func:`collapse`."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return collapse(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

"""Lazy operations on opened stores: :func:`normalize` and :func:`collapse`.

Both take a Dataset with a ``data`` variable (partial layout, or one chromosome) or a
whole-genome DataTree (one node per chromosome) and return the same type, dask-backed:
nothing is computed until the result is written (:func:`genozarr.ops.write_store`) or
loaded, except the reductions that fit unfitted normalizers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from genozarr.errors import ArgumentError
from genozarr.ops._layout import DATA, data_datasets, lazy, map_data
from genozarr.ops.normalizers import resolve_normalizers
from genozarr.store.cache import callable_token

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["normalize", "collapse"]

_COLLAPSERS = ("sum", "mean", "max", "min")


def normalize(data: Any, normalizer: Any, *, fit: bool = True) -> Any:
    """Normalize an opened store lazily.

    Unfitted normalizers are fitted first, in order, each on the output of the previous
    ones (dask reductions, chunk by chunk: the only computation); already fitted ones are
    used unchanged. Statistics of a DataTree are pooled over all its chromosomes. Each
    normalizer gets the values in float32 at least (an int or float16 store widened, as
    a dataset serves them), with the region axis first; statistics of another (strand,
    condition) shape than the data's are refused.

    Parameters
    ----------
    data
        An opened store: :class:`xarray.Dataset` with ``data``, or
        :class:`xarray.DataTree`.
    normalizer
        A name, normalizer, callable or list of them (see
        :func:`genozarr.ops.normalizers.resolve_normalizers`).
    fit
        False requires fitted normalizers (raises otherwise) and never computes.

    Returns
    -------
    xarray.Dataset or xarray.DataTree
        Same type as ``data``, with a derived ``cache_key``.

    Notes
    -----
    Only stored values are normalized. A whole-genome store holds no values outside its
    chromosomes: a window's flank before a chromosome's start (or past its end) is
    padding made up when a dataset reads it, and a :class:`~genozarr.dataset.Cover` with
    a normalizer serves the normalized padding (a z-score's ``-mean / std``), while a
    store written from this result (``write_store``) and opened again pads with its
    ``pad_value`` (0). Statistics per strand apply to the strands in a store's order
    (``'+'``, ``'-'``); data with the strands reordered are refused.

    Examples
    --------
    >>> import genozarr, genozarr.ops  # doctest: +SKIP
    >>> z = genozarr.ops.normalize(genozarr.open_store(path), "zscore")  # doctest: +SKIP
    """
    for norm in resolve_normalizers(normalizer):
        if fit:
            norm.fit(data)
        data = norm.transform(data)
    return data


def _collapse_block(block: np.ndarray, factor: int, how: Any) -> np.ndarray:
    from genozarr._kernels import collapse as kernel

    return kernel(block, factor, how)


def _collapse_array(arr: Any, axis: int, factor: int, how: Any, pad_value: float) -> Any:
    """Collapse ``arr`` (``(..., strand, condition)``) by ``factor`` along ``axis``,
    padding the end with ``pad_value`` to a multiple of ``factor``."""
    import dask.array as da

    if not isinstance(arr, da.Array):
        arr = da.asarray(np.asarray(arr))
    if arr.dtype == np.float16 and (how == "sum" or callable(how)):
        # a sum of float16 values past 65504 is inf: summed in float32 (an ingest refuses
        # such a store; a lazy collapse cannot, and widens it)
        arr = arr.astype(np.float32)
    rest = arr.shape[axis] % factor
    if rest:
        pad_shape = list(arr.shape)
        pad_shape[axis] = factor - rest
        arr = da.concatenate([arr, da.full(tuple(pad_shape), pad_value, dtype=arr.dtype)],
                             axis=axis)
    # chunks along the position axis: whole multiples of the factor, about the old size
    old = max(arr.chunks[axis]) if arr.chunks[axis] else factor
    new_chunks = {i: -1 for i in (arr.ndim - 2, arr.ndim - 1)}
    new_chunks[axis] = max(1, old // factor) * factor
    arr = arr.rechunk(new_chunks)
    probe_shape = [1] * arr.ndim
    probe_shape[axis] = factor
    probe_shape[-2:] = arr.shape[-2:]
    dtype = _collapse_block(np.zeros(probe_shape, arr.dtype), factor, how).dtype
    out_chunks = list(arr.chunks)
    out_chunks[axis] = tuple(c // factor for c in arr.chunks[axis])
    return arr.map_blocks(_collapse_block, factor, how, dtype=dtype, chunks=tuple(out_chunks),
                          meta=np.empty((0,) * arr.ndim, dtype))


def collapse(data: Any, *, resolution: int | None,
             collapser: str | Callable[..., Any] | None = None,
             how: str | Callable[..., Any] | None = None) -> Any:
    """Aggregate an opened store to a coarser resolution, lazily.

    ``resolution // current`` consecutive positions are aggregated with the ingest's
    kernel (``genozarr._kernels.collapse``) per dask chunk. A chromosome whose bin count
    is not a multiple of the factor gets its last bin padded with the store's
    ``pad_value`` (0), as at ingest. A float16 store is summed (or given to a callable)
    in float32: its sums may pass float16's largest value.

    Parameters
    ----------
    data
        An opened store (Dataset with ``data``, or DataTree) with a ``resolution``
        attribute.
    resolution
        New bases per bin, a multiple of the current resolution; None collapses each
        partial-layout row to one value (not defined for chromosomes).
    collapser
        ``'sum'`` (default), ``'mean'``, ``'max'``, ``'min'`` or a callable following
        Janggu's collapser contract (see ``genozarr._kernels.collapse``).
    how
        Former name of ``collapser``.

    Returns
    -------
    xarray.Dataset or xarray.DataTree
        Same type as ``data``, with ``resolution`` updated and a derived ``cache_key``.

    Raises
    ------
    ArgumentError
        For a resolution that is not a multiple of the current one, a partial-layout row
        length not divisible by the factor, ``resolution=None`` on chromosomes, an unknown
        collapser, or both ``collapser`` and ``how``.
    """
    if collapser is not None and how is not None:
        raise ArgumentError("pass collapser= or its former name how=, not both")
    kind = collapser if collapser is not None else how if how is not None else "sum"
    if not (callable(kind) or kind in _COLLAPSERS):
        raise ArgumentError(f"collapser must be 'sum', 'mean', 'max', 'min' or a callable, "
                            f"got {kind!r}")
    datasets = data_datasets(data)
    current = datasets[0].attrs.get("resolution")
    if current is None:
        raise ArgumentError("collapse needs a store with a resolution (this one stores one "
                            "value per region)")
    current = int(current)
    if resolution is None:
        if any("region" not in d[DATA].dims for d in datasets):
            raise ArgumentError("resolution=None is only defined for the partial layout "
                                "(store_whole_genome=False)")
    elif isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) \
            or resolution < 1 or resolution % current:
        raise ArgumentError(f"resolution must be a positive multiple of the store's resolution "
                            f"{current}, got {resolution!r}")
    _check_windows_collapse(data, resolution)
    for d in datasets:
        length = d.sizes["position"]
        if "region" in d[DATA].dims and resolution is not None \
                and length % (int(resolution) // current):
            raise ArgumentError(
                f"rows of {length} bins at resolution {current} cannot be collapsed to "
                f"resolution {resolution}: {length * current} bases is not a multiple of it")

    def one(ds: xr.Dataset) -> xr.Dataset:
        import xarray as xr

        var = lazy(ds[DATA])
        axis = var.dims.index("position")
        factor = var.shape[axis] if resolution is None else int(resolution) // current
        pad_value = float(ds.attrs.get("pad_value", 0) or 0)
        arr = _collapse_array(var.data, axis, max(factor, 1), kind, pad_value)
        coords = {k: v for k, v in ds.coords.items() if "position" not in v.dims}
        return xr.Dataset({DATA: (var.dims, arr, var.attrs)}, coords=coords,
                          attrs=_with_resolution(ds.attrs, resolution))

    token = {"op": "collapse", "resolution": resolution,
             "how": kind if isinstance(kind, str) else callable_token(kind)}
    out = map_data(data, one, token)
    out.attrs = _with_resolution(out.attrs, resolution)
    return out


def _check_windows_collapse(data: Any, resolution: int | None) -> None:
    """Refuse to collapse a whole-genome store to a resolution its recorded windows do not
    fit: windows that do not start on a multiple of it (start minus flank) or whose length
    is not one (binsize), as the constructors refuse them; the store written from the
    result could not be opened as the dataset it records (or would serve empty windows).

    Raises
    ------
    ArgumentError
        Naming the first such window.
    """
    import xarray as xr

    from genozarr.store.layout import WINDOWS, labeled_values

    if resolution is None or not isinstance(data, xr.DataTree):
        return
    res = int(resolution)
    flank = int(data.attrs.get("flank", 0) or 0)
    if WINDOWS in data.children and "window_start" in data[WINDOWS].to_dataset():
        windows = data[WINDOWS].to_dataset()
        starts = np.asarray(windows["window_start"].values, dtype=np.int64)
        ends = np.asarray(windows["window_end"].values, dtype=np.int64)
        lengths = ends - starts
        if "window_chrom" in windows:  # a window cut at its chromosome's end (zero
            # padding) is served as binsize bases, padded: its length need not fit
            sizes = {str(k): int(v) for k, v in dict(data.attrs.get("chroms") or {}).items()}
            chroms = labeled_values(windows["window_chrom"], f"{WINDOWS}/window_chrom")
            if chroms is None:
                chroms = np.asarray(windows["window_chrom"].values)
            chrom_ends = np.array([sizes.get(str(c), -1) for c in chroms], dtype=np.int64)
            lengths = lengths[ends != chrom_ends]
    elif data.attrs.get("stepsize") or data.attrs.get("binsize"):  # tiled by stepsize
        step = int(data.attrs.get("stepsize") or data.attrs.get("binsize"))
        starts = np.array([0, step])
        lengths = np.array([int(data.attrs.get("binsize") or step)])
    else:
        return
    what = None
    if np.any((starts - flank) % res):
        first = int(starts[np.flatnonzero((starts - flank) % res)[0]])
        what = f"one starts at {first}{f' with flank {flank}' if flank else ''}"
    elif np.any((lengths + 2 * flank) % res):
        first = int(lengths[np.flatnonzero((lengths + 2 * flank) % res)[0]])
        what = f"one is {first} bases long{f' with flank {flank}' if flank else ''}"
    if what is not None:
        raise ArgumentError(
            f"the store records windows that do not fit resolution {resolution} ({what}): "
            "its dataset could not be opened at that resolution. Collapse to a resolution "
            "that divides the window starts (minus the flank) and lengths.")


def _with_resolution(attrs: dict[str, Any], resolution: int | None) -> dict[str, Any]:
    new = {k: v for k, v in attrs.items() if k != "resolution"}
    if resolution is not None:
        new["resolution"] = int(resolution)
    return new

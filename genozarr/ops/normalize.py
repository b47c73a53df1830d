"""Normalizers: fitted once with dask reductions, applied lazily or per batch.

A normalizer has three faces:

``fit(ds)``
    Computes its statistics from an opened store (:class:`xarray.Dataset` from
    :func:`genozarr.open_store` or :meth:`genozarr.Dataset.to_xarray`) with dask reductions
    that read one chunk at a time; the whole array is never loaded. An instance that is
    already fitted is left unchanged, so one instance fitted on a training set applies the
    same statistics to a test set (Janggu's ``ZScore`` example).
``transform(ds)``
    Returns a lazy :class:`xarray.Dataset` (dask arrays; nothing is computed).
``transform_batch(x, lengths)``
    The same elementwise arithmetic in numpy on one batch ``(k, position, strand,
    condition)``: the serving path of :class:`~genozarr.Cover` stores raw values and
    applies the fitted transform per batch (no dask graph per batch), so one raw store
    serves every normalizer and the sparse backend stays sparse.

**Statistics.** They are computed **per condition, pooled over strands** (as Janggu did): the two
strands of a stranded BAM track are one library, and pooling keeps a window and its
reverse complement on the same scale. :class:`ZScore` and :class:`PercentileTrimming` take
``per_strand=True`` for separate statistics per (strand, condition). Every stored value
enters: all positions of all rows of the partial layout (flanks and zero padding
included, overlapping windows counted once per row) or all bins of all chromosomes of the
whole-genome layout. NaN values are ignored by the statistics and stay NaN.

**Region lengths.** :class:`RegionLengthNormalization` (``'binsizenorm'``) divides every
value by the number
of bases it summarises at the level of a stored row: in the partial layout the row's
window length (``region_end - region_start``, flanks included, as Janggu divided by the
region length), in the whole-genome layout the bin size (``resolution``). ``'tpm'``
divides by that length in kilobases and then scales each condition so that its values
sum to one million over the fitted data; on the whole-genome layout this is TPM per bin:
``x / (resolution / 1000)`` scaled to a genome-wide sum of 1e6.

**Percentiles** (:class:`PercentileTrimming`, ``'perctrim'``) are exact, equal to
``numpy.nanpercentile`` with its default ``'linear'`` method, found by histogram
refinement over the chunks (:func:`nan_percentile`), not dask's approximate
``percentile``.

**Cache keys.** :meth:`Normalizer.cache_params` (class, options and fitted statistics)
enters the key of a cached :class:`~genozarr.Cover` store and the ``cache_key`` attribute
of the Datasets returned by :meth:`Normalizer.transform`, so a different normalizer, or
the same one with other statistics, never matches a stale result.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import types
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from genozarr.errors import ArgumentError

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "NAMES",
    "Normalizer",
    "ZScore",
    "ZScoreLog",
    "LogTransform",
    "PercentileTrimming",
    "RegionLengthNormalization",
    "RegionLength",
    "TPM",
    "FunctionNormalizer",
    "resolve_normalizers",
    "normalizer_tokens",
    "normalize",
    "data_var_names",
    "nan_percentile",
]

log = logging.getLogger(__name__)

#: Names accepted for ``normalizer=``.
NAMES = ("tpm", "zscore", "zscorelog", "binsizenorm", "perctrim")

_HIST_BINS = 1024
_MAX_PASSES = 80
_SPLIT_EVERY = 16


# ---------------------------------------------------------------------------- helpers
def data_var_names(ds: xr.Dataset) -> list[str]:
    """Names of the data variables of a genozarr Dataset (dims ending in ``strand,
    condition``): ``['data']`` in the partial layout, the chromosomes in the whole-genome
    layout.

    Parameters
    ----------
    ds
        An opened store.

    Returns
    -------
    list of str
    """
    names = [str(k) for k, v in ds.data_vars.items()
             if tuple(v.dims[-2:]) == ("strand", "condition")]
    if not names:
        raise ArgumentError(
            f"not a genozarr dataset: no data variable with dimensions (..., strand, condition) "
            f"among {list(ds.data_vars)}; open the store with genozarr.open_store")
    return names


def _out_dtype(dtype: Any) -> np.dtype:
    return np.result_type(dtype, np.float32)


def _derive_attrs(attrs: dict[str, Any], token: Any) -> dict[str, Any]:
    """Attributes of a derived Dataset: the cache key chains the operation's token."""
    new = dict(attrs)
    op = json.dumps(token, sort_keys=True, default=repr)
    if new.get("cache_key"):
        new["cache_key"] = hashlib.sha256((str(new["cache_key"]) + op).encode()).hexdigest()
    new["operations"] = [*list(new.get("operations", [])), op]
    return new


def _apply(ds: xr.Dataset, fn: Callable[[xr.DataArray], xr.DataArray], token: Any) -> xr.Dataset:
    """``fn`` on every data variable; attributes derived."""
    out = ds.copy()
    for name in data_var_names(ds):
        out[name] = fn(ds[name])
    out.attrs = _derive_attrs(ds.attrs, token)
    return out


def _stat_array(values: Any, dtype: Any) -> Any:
    """A statistic as an xarray object broadcasting by dimension name.

    Scalars stay scalars; ``(1, C)`` arrays get dims ``condition``, ``(S, C)`` arrays
    ``(strand, condition)``."""
    import xarray as xr

    v = np.asarray(values, dtype=dtype)
    if v.ndim == 0:
        return v[()]
    if v.ndim == 1:
        return xr.DataArray(v, dims=("condition",))
    if v.shape[0] == 1:
        return xr.DataArray(v[0], dims=("condition",))
    return xr.DataArray(v, dims=("strand", "condition"))


def _as_stat(value: Any, name: str) -> np.ndarray | None:
    """A user-given statistic: scalar, per condition ``(C,)`` or ``(S, C)``."""
    if value is None:
        return None
    v = np.asarray(value, dtype=np.float64)
    if v.ndim > 2:
        raise ArgumentError(f"{name} must be a scalar, one value per condition or an array "
                            f"(strand, condition), got shape {v.shape}")
    return v[None] if v.ndim == 1 else v


def _plain(value: Any) -> Any:
    if value is None:
        return None
    v = np.asarray(value)
    return v.item() if v.ndim == 0 else v.tolist()


def _columns(block: np.ndarray) -> np.ndarray:
    """A block ``(..., S, C)`` as a ``(values, S * C)`` view: one column per (strand,
    condition), column ``s * C + c``. Reductions run down the columns, without copies."""
    b = np.asarray(block)
    return b.reshape(-1, b.shape[-2] * b.shape[-1])


def _n_groups(ds: xr.Dataset, per_strand: bool) -> tuple[int, int]:
    s, c = ds.sizes["strand"], ds.sizes["condition"]
    return (s, c) if per_strand else (1, c)


def _reduce(ds: xr.Dataset, chunk: Callable[..., Any], combine: Callable[..., Any],
            *args: Any) -> Any:
    """Apply ``chunk(columns, *args)`` to every chunk of every data variable and merge the
    results with ``combine`` in a tree (dask.delayed); one ``dask.compute``.

    Only one chunk per worker (plus the small per-chunk results) is in memory. Results are
    per (strand, condition) column; see ``_by_group`` for pooling."""
    import dask
    import dask.array as da

    parts = []
    for name in data_var_names(ds):
        arr = ds[name].data
        if not isinstance(arr, da.Array):
            arr = da.asarray(np.asarray(arr))
        arr = arr.rechunk({arr.ndim - 2: -1, arr.ndim - 1: -1})
        parts.extend(dask.delayed(lambda b, *a: chunk(_columns(b), *a))(b, *args)
                     for b in arr.to_delayed().ravel())
    if not parts:
        return None
    while len(parts) > 1:
        parts = [dask.delayed(combine)(*parts[i:i + _SPLIT_EVERY])
                 for i in range(0, len(parts), _SPLIT_EVERY)]
    (result,) = dask.compute(parts[0])
    return result


def _by_group(values: np.ndarray, ds: xr.Dataset, per_strand: bool) -> np.ndarray:
    """Per-column results ``(S * C, ...)`` as ``(S, C, ...)`` (per strand) or with the
    strands stacked first for pooling: ``(S, 1, C, ...)`` -> callers reduce axis 0."""
    s, c = ds.sizes["strand"], ds.sizes["condition"]
    v = np.asarray(values).reshape((s, c) + np.shape(values)[1:])
    return v[:, None] if not per_strand else v[None]


def _to_columns(values: np.ndarray, ds: xr.Dataset) -> np.ndarray:
    """Per-group parameters ``(1 or S, C, ...)`` broadcast to one row per column."""
    s, c = ds.sizes["strand"], ds.sizes["condition"]
    v = np.asarray(values)
    return np.broadcast_to(v, (s, c) + v.shape[2:]).reshape((s * c,) + v.shape[2:])


# ---------------------------------------------------------------------------- block reductions
def _moments_chunk(x: np.ndarray) -> tuple[np.ndarray, ...]:
    ok = ~np.isnan(x)
    n = ok.sum(axis=0).astype(np.float64)
    total = np.sum(x, axis=0, dtype=np.float64, where=ok)
    mean = np.divide(total, n, out=np.zeros_like(total), where=n > 0)
    d = x - mean
    np.square(d, out=d)
    return n, mean, np.sum(d, axis=0, where=ok)


def _moments_combine(*parts: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    """Chan et al.'s pairwise merge of (count, mean, sum of squared deviations)."""
    n, mean, m2 = parts[0]
    for nb, mb, m2b in parts[1:]:
        tot = n + nb
        w = np.divide(nb, tot, out=np.zeros_like(tot), where=tot > 0)
        delta = mb - mean
        mean = mean + delta * w
        m2 = m2 + m2b + delta * delta * n * w
        n = tot
    return n, mean, m2


def _moments(ds: xr.Dataset, per_strand: bool) -> tuple[np.ndarray, ...]:
    """(count, mean, sum of squared deviations) per group, shape ``(1 or S, C)``."""
    shape = _n_groups(ds, per_strand)
    cols = ds.sizes["strand"] * ds.sizes["condition"]
    res = _reduce(ds, _moments_chunk, _moments_combine)
    if res is None:
        res = (np.zeros(cols),) * 3
    n, mean, m2 = (_by_group(r, ds, per_strand) for r in res)
    merged = _moments_combine(*[(n[k], mean[k], m2[k]) for k in range(n.shape[0])])
    return tuple(m.reshape(shape) for m in merged)


def _sum_chunk(x: np.ndarray) -> np.ndarray:
    return np.sum(x, axis=0, dtype=np.float64, where=~np.isnan(x))


def _sum_combine(*parts: np.ndarray) -> np.ndarray:
    return np.sum(parts, axis=0)


def _range_chunk(x: np.ndarray) -> tuple[np.ndarray, ...]:
    n = x.shape[0] - np.isnan(x).sum(axis=0)
    return (n, np.fmin.reduce(x, axis=0, initial=np.inf).astype(np.float64),
            np.fmax.reduce(x, axis=0, initial=-np.inf).astype(np.float64))


def _range_combine(*parts: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    return (np.sum([p[0] for p in parts], axis=0), np.min([p[1] for p in parts], axis=0),
            np.max([p[2] for p in parts], axis=0))


def _hist_chunk(x: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                n_bins: int) -> tuple[np.ndarray, ...]:
    """For every (column, target) with ``lo < hi``: the count of values below ``lo``, equal
    to ``lo``, and a histogram of ``[lo, hi]`` in ``n_bins`` equal bins with the minimum and
    maximum value of each bin (bins are contiguous value ranges: the bin index is a
    monotone function of the value)."""
    n_g, n_t = lo.shape
    below = np.zeros((n_g, n_t), np.int64)
    equal = np.zeros((n_g, n_t), np.int64)
    counts = np.zeros((n_g, n_t, n_bins), np.int64)
    bmin = np.full((n_g, n_t, n_bins), np.inf)
    bmax = np.full((n_g, n_t, n_bins), -np.inf)
    for i in range(n_g):
        v = x[:, i]
        for t in range(n_t):
            low, high = lo[i, t], hi[i, t]
            if not low < high:
                continue
            if t and lo[i, t - 1] == low and hi[i, t - 1] == high:  # same interval
                below[i, t], equal[i, t] = below[i, t - 1], equal[i, t - 1]
                counts[i, t] = counts[i, t - 1]
                bmin[i, t], bmax[i, t] = bmin[i, t - 1], bmax[i, t - 1]
                continue
            below[i, t] = np.count_nonzero(v < low)
            equal[i, t] = np.count_nonzero(v == low)
            w = v[(v >= low) & (v <= high)].astype(np.float64)
            if not w.size:
                continue
            j = ((w - low) * (n_bins / (high - low))).astype(np.int64)
            np.clip(j, 0, n_bins - 1, out=j)
            counts[i, t] = np.bincount(j, minlength=n_bins)
            np.minimum.at(bmin[i, t], j, w)
            np.maximum.at(bmax[i, t], j, w)
    return below, equal, counts, bmin, bmax


def _hist_combine(*parts: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    return (np.sum([p[0] for p in parts], axis=0), np.sum([p[1] for p in parts], axis=0),
            np.sum([p[2] for p in parts], axis=0), np.min([p[3] for p in parts], axis=0),
            np.max([p[4] for p in parts], axis=0))


def nan_percentile(ds: xr.Dataset, percentile: float, *, per_strand: bool = False) -> np.ndarray:
    """Exact percentile of every condition (or strand and condition), NaN ignored, with
    ``numpy.nanpercentile``'s default ``'linear'`` method, never loading the whole array.

    The two order statistics around the percentile's rank are found by successive
    histogram refinement: a first pass finds each group's range and count, then every pass
    histograms the values inside the current interval into 1024 bins (one dask reduction,
    chunk by chunk) and narrows the interval to the bin holding the rank, until it holds a
    single distinct value. Float32 data needs about three passes.

    Parameters
    ----------
    ds
        An opened store.
    percentile
        In ``[0, 100]``.
    per_strand
        Separate percentiles per (strand, condition).

    Returns
    -------
    numpy.ndarray
        Shape ``(1, C)`` (or ``(S, C)``); NaN where a group has no values.
    """
    if not 0 <= float(percentile) <= 100:
        raise ArgumentError(f"percentile must be in [0, 100], got {percentile!r}")
    shape = _n_groups(ds, per_strand)
    n_groups = shape[0] * shape[1]
    res = _reduce(ds, _range_chunk, _range_combine)
    if res is None:
        return np.full(shape, np.nan)
    count = _by_group(res[0], ds, per_strand).sum(axis=0).reshape(n_groups)
    vmin = _by_group(res[1], ds, per_strand).min(axis=0).reshape(n_groups)
    vmax = _by_group(res[2], ds, per_strand).max(axis=0).reshape(n_groups)
    q = float(percentile) / 100.0
    h = (count - 1) * q
    k0 = np.floor(h).astype(np.int64)
    k1 = np.minimum(k0 + 1, count - 1)
    ranks = np.stack([k0, k1], axis=1)  # (G, 2)
    lo = np.repeat(vmin[:, None], 2, axis=1)
    hi = np.repeat(vmax[:, None], 2, axis=1)
    value = np.full(lo.shape, np.nan)
    done = (count == 0)[:, None] | (lo == hi)
    value[done] = lo[done]
    value[count == 0] = np.nan
    for _ in range(_MAX_PASSES):
        if done.all():
            break
        lo_q = _to_columns(np.where(done, 0.0, lo).reshape(shape + (2,)), ds)
        hi_q = _to_columns(np.where(done, 0.0, hi).reshape(shape + (2,)), ds)
        parts = _reduce(ds, _hist_chunk, _hist_combine, lo_q, hi_q, _HIST_BINS)
        below, equal, counts = (_by_group(p, ds, per_strand).sum(axis=0).reshape(
            (n_groups,) + p.shape[1:]) for p in parts[:3])
        bmin = _by_group(parts[3], ds, per_strand).min(axis=0).reshape(
            (n_groups,) + parts[3].shape[1:])
        bmax = _by_group(parts[4], ds, per_strand).max(axis=0).reshape(
            (n_groups,) + parts[4].shape[1:])
        for i, t in zip(*np.nonzero(~done)):
            k = ranks[i, t]
            if np.nextafter(lo[i, t], np.inf) >= hi[i, t]:  # two adjacent floats left
                value[i, t] = lo[i, t] if k < below[i, t] + equal[i, t] else hi[i, t]
                done[i, t] = True
                continue
            cum = below[i, t] + np.cumsum(counts[i, t])
            j = min(int(np.searchsorted(cum, k, side="right")), _HIST_BINS - 1)
            lo[i, t], hi[i, t] = bmin[i, t, j], bmax[i, t, j]
            if lo[i, t] == hi[i, t]:
                value[i, t] = lo[i, t]
                done[i, t] = True
    if not done.all():  # pragma: no cover - needs > 80 passes, not seen on real data
        log.warning("percentile refinement did not converge; using interval lower bounds")
        value[~done] = lo[~done]
    v0, v1 = value[:, 0], value[:, 1]
    frac = h - k0
    out = v0 + (v1 - v0) * frac
    out = np.where(frac >= 0.5, v1 - (v1 - v0) * (1 - frac), out)
    return out.reshape(shape)


# ---------------------------------------------------------------------------- normalizers
class Normalizer:
    """Base class of genozarr's normalizers (see the module docs for the protocol).

    Subclasses implement ``_fit``, ``_transform_var`` (lazy, one data variable),
    :meth:`transform_batch` (numpy) and :meth:`cache_params`.
    """

    #: name used in reprs
    name = "normalizer"

    @property
    def fitted(self) -> bool:
        """Whether the statistics are known (always True for stateless normalizers)."""
        return True

    def fit(self, ds: xr.Dataset) -> Normalizer:
        """Compute the statistics from ``ds`` unless already fitted.

        Parameters
        ----------
        ds
            An opened store (lazy :class:`xarray.Dataset`).

        Returns
        -------
        Normalizer
            ``self``.
        """
        if not self.fitted:
            self._fit(ds)
            log.info("fitted %r", self)
        return self

    def reset(self) -> Normalizer:
        """Forget fitted statistics (user-given ones are kept); returns ``self``."""
        return self

    def _fit(self, ds: xr.Dataset) -> None:
        """Compute statistics (override)."""

    def _check_fitted(self) -> None:
        if not self.fitted:
            raise ArgumentError(f"{self!r} is not fitted: call fit(ds) on a dataset first, or "
                                "use genozarr.ops.normalize(ds, normalizer) which fits it")

    def transform(self, ds: xr.Dataset) -> xr.Dataset:
        """Lazily apply the fitted transform to every data variable of ``ds``.

        Parameters
        ----------
        ds
            An opened store.

        Returns
        -------
        xarray.Dataset
            Lazy (dask) Dataset; its ``cache_key`` attribute chains this normalizer's
            :meth:`cache_params`.
        """
        self._check_fitted()
        return _apply(ds, lambda var: self._transform_var(var, ds), self.cache_params())

    def _transform_var(self, var: xr.DataArray, ds: xr.Dataset) -> xr.DataArray:
        raise NotImplementedError  # pragma: no cover - interface

    def transform_batch(self, x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Apply the fitted transform to a numpy batch.

        Parameters
        ----------
        x
            Batch ``(k, position, strand, condition)`` in genomic orientation.
        lengths
            Bases summarised per value of each of the ``k`` rows (window length in the
            partial layout, the resolution in the whole-genome layout).

        Returns
        -------
        numpy.ndarray
        """
        raise NotImplementedError  # pragma: no cover - interface

    def cache_params(self) -> dict[str, Any]:
        """JSON-able description including fitted statistics (enters cache keys)."""
        return {"normalizer": type(self).__name__}

    def __repr__(self) -> str:
        params = {k: v for k, v in self.cache_params().items() if k != "normalizer"}
        inner = ", ".join(f"{k}={v!r}" for k, v in params.items())
        return f"{type(self).__name__}({inner})"


class LogTransform(Normalizer):
    """``log(x + 1)`` (as Janggu's ``LogTransform``); stateless."""

    name = "log"

    def _transform_var(self, var: xr.DataArray, ds: xr.Dataset) -> xr.DataArray:
        return np.log1p(var.astype(_out_dtype(var.dtype)))

    def transform_batch(self, x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """``log1p`` of the batch (see :meth:`Normalizer.transform_batch`).

        Parameters
        ----------
        x
            Batch.
        lengths
            Unused.

        Returns
        -------
        numpy.ndarray
        """
        return np.log1p(x.astype(_out_dtype(x.dtype), copy=False))


class ZScore(Normalizer):
    """``(x - mean) / std`` with per-condition statistics.

    Parameters
    ----------
    mean
        Fixed mean (scalar, one per condition, or ``(strand, condition)``); None computes
        it on the first :meth:`fit`.
    std
        Fixed standard deviation; None computes it on the first fit, as the sample
        standard deviation (``ddof=1``, as Janggu) around ``mean``. A zero deviation is
        replaced by 1 (constant tracks become ``x - mean``).
    per_strand
        Statistics per (strand, condition) instead of per condition.
    """

    name = "zscore"

    def __init__(self, mean: Any = None, std: Any = None, per_strand: bool = False) -> None:
        self._given = (mean is not None, std is not None)
        self.mean = _as_stat(mean, "mean")
        self.std = _as_stat(std, "std")
        self.per_strand = bool(per_strand)

    @property
    def fitted(self) -> bool:
        """True once mean and std are known."""
        return self.mean is not None and self.std is not None

    def reset(self) -> ZScore:
        """Forget fitted statistics (user-given ones are kept); returns ``self``."""
        if not self._given[0]:
            self.mean = None
        if not self._given[1]:
            self.std = None
        return self

    def _fit(self, ds: xr.Dataset) -> None:
        shape = _n_groups(ds, self.per_strand)
        n, mu, m2 = _moments(ds, self.per_strand)
        mean = self.mean if self.mean is not None else mu
        if self.std is None:
            ss = m2 + n * np.square(mu - mean)  # squared deviations around `mean`
            std = np.sqrt(np.divide(ss, n - 1, out=np.zeros_like(ss), where=n > 1))
            self.std = np.where(std > 0, std, 1.0)
        self.mean = np.broadcast_to(mean, np.broadcast_shapes(np.shape(mean), shape)).copy()

    def _stats(self, dtype: Any) -> tuple[np.ndarray, np.ndarray]:
        assert self.mean is not None and self.std is not None
        return self.mean.astype(dtype), self.std.astype(dtype)

    def _transform_var(self, var: xr.DataArray, ds: xr.Dataset) -> xr.DataArray:
        dt = _out_dtype(var.dtype)
        mean, std = self._stats(dt)
        return (var.astype(dt) - _stat_array(mean, dt)) / _stat_array(std, dt)

    def transform_batch(self, x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """``(x - mean) / std`` (see :meth:`Normalizer.transform_batch`).

        Parameters
        ----------
        x
            Batch.
        lengths
            Unused.

        Returns
        -------
        numpy.ndarray
        """
        self._check_fitted()
        dt = _out_dtype(x.dtype)
        mean, std = self._stats(dt)
        return (x.astype(dt, copy=False) - mean) / std

    def cache_params(self) -> dict[str, Any]:
        """Class, options and (fitted) mean and std."""
        return {"normalizer": "ZScore", "per_strand": self.per_strand,
                "mean": _plain(self.mean), "std": _plain(self.std)}


class ZScoreLog(Normalizer):
    """:class:`LogTransform` then :class:`ZScore` (statistics of the log values).

    Parameters
    ----------
    mean, std, per_strand
        As for :class:`ZScore`, on the log scale.
    """

    name = "zscorelog"

    def __init__(self, mean: Any = None, std: Any = None, per_strand: bool = False) -> None:
        self.log = LogTransform()
        self.zscore = ZScore(mean, std, per_strand)

    @property
    def mean(self) -> np.ndarray | None:
        """Mean of ``log(x + 1)``."""
        return self.zscore.mean

    @property
    def std(self) -> np.ndarray | None:
        """Standard deviation of ``log(x + 1)``."""
        return self.zscore.std

    @property
    def fitted(self) -> bool:
        """True once the z-score statistics are known."""
        return self.zscore.fitted

    def reset(self) -> ZScoreLog:
        """Forget fitted statistics; returns ``self``."""
        self.zscore.reset()
        return self

    def _fit(self, ds: xr.Dataset) -> None:
        self.zscore._fit(self.log.transform(ds))

    def _transform_var(self, var: xr.DataArray, ds: xr.Dataset) -> xr.DataArray:
        return self.zscore._transform_var(self.log._transform_var(var, ds), ds)

    def transform_batch(self, x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """``(log1p(x) - mean) / std`` (see :meth:`Normalizer.transform_batch`).

        Parameters
        ----------
        x
            Batch.
        lengths
            Unused.

        Returns
        -------
        numpy.ndarray
        """
        return self.zscore.transform_batch(self.log.transform_batch(x, lengths), lengths)

    def cache_params(self) -> dict[str, Any]:
        """Class and the z-score parameters."""
        return {**self.zscore.cache_params(), "normalizer": "ZScoreLog"}


class PercentileTrimming(Normalizer):
    """Clip values above a percentile (computed per condition) to that percentile.

    The percentile is exact (``numpy.nanpercentile``, method ``'linear'``), found by
    histogram refinement over dask chunks (see :func:`nan_percentile`); values below it
    are unchanged (Janggu trimmed only the upper tail).

    Parameters
    ----------
    percentile
        In ``[0, 100]``; ``'perctrim'`` uses 99.
    threshold
        Fixed clipping value(s) instead of fitting.
    per_strand
        Percentiles per (strand, condition).
    """

    name = "perctrim"

    def __init__(self, percentile: float = 99, threshold: Any = None,
                 per_strand: bool = False) -> None:
        if not isinstance(percentile, (int, float, np.integer, np.floating)) \
                or not 0 <= float(percentile) <= 100:
            raise ArgumentError(f"percentile must be a number in [0, 100], got {percentile!r}")
        self.percentile = float(percentile)
        self._given = threshold is not None
        self.threshold = _as_stat(threshold, "threshold")
        self.per_strand = bool(per_strand)

    @property
    def fitted(self) -> bool:
        """True once the threshold is known."""
        return self.threshold is not None

    def reset(self) -> PercentileTrimming:
        """Forget a fitted threshold; returns ``self``."""
        if not self._given:
            self.threshold = None
        return self

    def _fit(self, ds: xr.Dataset) -> None:
        self.threshold = nan_percentile(ds, self.percentile, per_strand=self.per_strand)

    def _transform_var(self, var: xr.DataArray, ds: xr.Dataset) -> xr.DataArray:
        import xarray as xr

        dt = _out_dtype(var.dtype)
        thr = _stat_array(self.threshold, dt)
        v = var.astype(dt)
        return xr.where(v > thr, thr, v).transpose(*var.dims)

    def transform_batch(self, x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """``where(x > threshold, threshold, x)`` (see :meth:`Normalizer.transform_batch`).

        Parameters
        ----------
        x
            Batch.
        lengths
            Unused.

        Returns
        -------
        numpy.ndarray
        """
        self._check_fitted()
        dt = _out_dtype(x.dtype)
        thr = np.asarray(self.threshold, dtype=dt)
        x = x.astype(dt, copy=False)
        return np.where(x > thr, thr, x)

    def cache_params(self) -> dict[str, Any]:
        """Class, percentile and (fitted) threshold."""
        return {"normalizer": "PercentileTrimming", "percentile": self.percentile,
                "per_strand": self.per_strand, "threshold": _plain(self.threshold)}


def _region_lengths(var: xr.DataArray, ds: xr.Dataset, dtype: Any) -> Any:
    """Bases per value of ``var``: window lengths (partial) or the resolution."""
    if "region" in var.dims:
        if "region_start" not in ds.coords or "region_end" not in ds.coords:
            raise ArgumentError("region-length normalization of the partial layout needs the "
                                "region_start and region_end coordinates")
        return (ds["region_end"] - ds["region_start"]).astype(dtype).reset_coords(drop=True)
    res = ds.attrs.get("resolution")
    if res is None:
        raise ArgumentError("region-length normalization of the whole-genome layout needs the "
                            "store's resolution attribute")
    return np.asarray(res, dtype=dtype)[()]


class RegionLengthNormalization(Normalizer):
    """Divide every value by the bases it summarises (``'binsizenorm'``): the window length
    in the partial layout (flanks included), the resolution in the whole-genome layout.

    Parameters
    ----------
    unit
        Length unit in bases (1000 divides by kilobases).
    """

    name = "binsizenorm"

    def __init__(self, unit: float = 1) -> None:
        if not float(unit) > 0:
            raise ArgumentError(f"unit must be > 0, got {unit!r}")
        self.unit = float(unit)

    def _transform_var(self, var: xr.DataArray, ds: xr.Dataset) -> xr.DataArray:
        dt = _out_dtype(var.dtype)
        return var.astype(dt) / (_region_lengths(var, ds, dt) / dt.type(self.unit))

    def transform_batch(self, x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Divide row ``i`` by ``lengths[i] / unit`` (see
        :meth:`Normalizer.transform_batch`).

        Parameters
        ----------
        x
            Batch.
        lengths
            Bases per value of each row.

        Returns
        -------
        numpy.ndarray
        """
        dt = _out_dtype(x.dtype)
        scale = np.asarray(lengths).astype(dt) / dt.type(self.unit)
        return x.astype(dt, copy=False) / scale.reshape((-1,) + (1,) * (x.ndim - 1))

    def cache_params(self) -> dict[str, Any]:
        """Class and unit."""
        return {"normalizer": "RegionLengthNormalization", "unit": self.unit}


#: Alias named in DESIGN.md.
RegionLength = RegionLengthNormalization


class TPM(Normalizer):
    """Transcripts per million (``'tpm'``), per condition: divide by the length in
    kilobases (:class:`RegionLengthNormalization` with ``unit=1000``), then by the
    condition's total over the fitted data divided by one million, so each condition
    sums to 1e6 on the fitted data (pooled over strands).

    Parameters
    ----------
    scale
        Fixed per-condition divisor (total / 1e6) instead of fitting.
    """

    name = "tpm"

    def __init__(self, scale: Any = None) -> None:
        self.length = RegionLengthNormalization(unit=1000)
        self._given = scale is not None
        self.scale = _as_stat(scale, "scale")

    @property
    def fitted(self) -> bool:
        """True once the scale is known."""
        return self.scale is not None

    def reset(self) -> TPM:
        """Forget a fitted scale; returns ``self``."""
        if not self._given:
            self.scale = None
        return self

    def _fit(self, ds: xr.Dataset) -> None:
        shape = _n_groups(ds, False)
        sums = _reduce(self.length.transform(ds), _sum_chunk, _sum_combine)
        sums = (np.zeros(shape) if sums is None
                else _by_group(sums, ds, False).sum(axis=0).reshape(shape))
        scale = sums / 1e6
        self.scale = np.where(scale != 0, scale, 1.0)

    def _transform_var(self, var: xr.DataArray, ds: xr.Dataset) -> xr.DataArray:
        dt = _out_dtype(var.dtype)
        return self.length._transform_var(var, ds) / _stat_array(self.scale, dt)

    def transform_batch(self, x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """``x / (lengths / 1000) / scale`` (see :meth:`Normalizer.transform_batch`).

        Parameters
        ----------
        x
            Batch.
        lengths
            Bases per value of each row.

        Returns
        -------
        numpy.ndarray
        """
        self._check_fitted()
        y = self.length.transform_batch(x, lengths)
        return y / np.asarray(self.scale, dtype=y.dtype)

    def cache_params(self) -> dict[str, Any]:
        """Class and (fitted) scale."""
        return {"normalizer": "TPM", "scale": _plain(self.scale)}


class FunctionNormalizer(Normalizer):
    """A user callable applied to numpy data: per batch on the serving path and per dask
    chunk (``map_blocks``) lazily. It must act on each position independently and keep
    the shape (elementwise transforms such as ``numpy.log1p`` or ``lambda x: x * 2``).

    Parameters
    ----------
    func
        Callable taking and returning a numpy array.
    """

    name = "function"

    def __init__(self, func: Callable[[np.ndarray], np.ndarray]) -> None:
        self.func = func

    def _transform_var(self, var: xr.DataArray, ds: xr.Dataset) -> xr.DataArray:
        import dask.array as da

        data = var.data
        if isinstance(data, da.Array):
            return var.copy(data=data.map_blocks(self.func))
        return var.copy(data=np.asarray(self.func(np.asarray(data))))

    def transform_batch(self, x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """``func(x)``.

        Parameters
        ----------
        x
            Batch.
        lengths
            Unused.

        Returns
        -------
        numpy.ndarray
        """
        return np.asarray(self.func(x))

    def cache_params(self) -> dict[str, Any]:
        """The callable's module and qualified name (two lambdas share a name)."""
        f = self.func
        return {"normalizer": "function",
                "func": f"{getattr(f, '__module__', '')}.{getattr(f, '__qualname__', repr(f))}"}


_BY_NAME: dict[str, Callable[[], Normalizer]] = {
    "tpm": TPM,
    "zscore": ZScore,
    "zscorelog": ZScoreLog,
    "binsizenorm": RegionLengthNormalization,
    "perctrim": lambda: PercentileTrimming(99),
}


def resolve_normalizers(normalizer: Any) -> list[Any]:
    """Normalizer objects for a ``normalizer=`` argument.

    Parameters
    ----------
    normalizer
        None, a name (``'tpm'``, ``'zscore'``, ``'zscorelog'``, ``'binsizenorm'``,
        ``'perctrim'``), a :class:`Normalizer`, a callable over numpy arrays, or a list of
        these (applied in order, each fitted on the output of the previous ones). Objects
        are used as given (not copied), so a fitted instance is reused.

    Returns
    -------
    list
        :class:`Normalizer` instances (callables wrapped in :class:`FunctionNormalizer`).

    Raises
    ------
    ArgumentError
        For an unknown name or an object that is neither a normalizer nor callable.
    """
    if normalizer is None:
        return []
    if isinstance(normalizer, (list, tuple)):
        return [n for item in normalizer for n in resolve_normalizers(item)]
    if isinstance(normalizer, str):
        try:
            return [_BY_NAME[normalizer.lower()]()]
        except KeyError:
            raise ArgumentError(f"unknown normalizer {normalizer!r}; valid names: "
                                f"{list(NAMES)}, or pass a normalizer object or callable") from None
    if hasattr(normalizer, "transform_batch"):
        return [normalizer]
    if callable(normalizer):
        return [FunctionNormalizer(normalizer)]
    raise ArgumentError(f"normalizer must be a name {list(NAMES)}, a normalizer object, a "
                        f"callable or a list of them, got {normalizer!r}")


def normalizer_tokens(normalizers: Sequence[Any]) -> list[Any]:
    """JSON-able descriptions (with fitted statistics) of normalizers, for cache keys.

    Parameters
    ----------
    normalizers
        Output of :func:`resolve_normalizers`.

    Returns
    -------
    list
    """
    out: list[Any] = []
    for n in normalizers:
        if hasattr(n, "cache_params"):
            out.append(n.cache_params())
        else:
            out.append(f"{getattr(n, '__module__', '')}.{getattr(n, '__qualname__', repr(n))}")
    return out


def normalize(ds: xr.Dataset, normalizer: Any, *, fit: bool = True) -> xr.Dataset:
    """Normalize an opened store lazily.

    Unfitted normalizers are fitted first, in order, each on the output of the previous
    ones (dask reductions, chunk by chunk: the only computation); the returned Dataset is
    lazy. With fitted normalizers nothing is computed.

    Parameters
    ----------
    ds
        A Dataset from :func:`genozarr.open_store` (either layout).
    normalizer
        Anything :func:`resolve_normalizers` accepts.
    fit
        False requires fitted normalizers (raises otherwise) and never computes.

    Returns
    -------
    xarray.Dataset
        Dask-backed; write it with :func:`genozarr.ops.io.write_store` or ``.to_zarr``.

    Examples
    --------
    >>> import genozarr, genozarr.ops  # doctest: +SKIP
    >>> z = genozarr.ops.normalize(genozarr.open_store(path), "zscore")  # doctest: +SKIP
    """
    for norm in resolve_normalizers(normalizer):
        if fit:
            norm.fit(ds)
        ds = norm.transform(ds)
    return ds


class _CallableModule(types.ModuleType):
    """``genozarr.ops.normalize(ds, ...)`` calls :func:`normalize` while
    ``genozarr.ops.normalize.ZScore`` etc. stay module attributes."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return normalize(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

"""Statistics of genozarr arrays by dask reductions, one chunk in memory at a time.

Every function takes a sequence of arrays (numpy or dask) shaped ``(..., strand,
condition)`` with the same strand and condition sizes, for example the ``data`` arrays of
all chromosomes of a whole-genome store. Each chunk is reduced to small per-column
results (one column per (strand, condition)), merged in a tree and computed with one
``dask.compute`` per pass. Results are per group: ``(1, C)`` pooled over strands, or
``(S, C)`` with ``per_strand=True``. NaN values are ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from genozarr.errors import ArgumentError, get_logger

__all__ = ["reduce_columns", "moments", "sums", "ranges", "histograms", "nan_percentile"]

log = get_logger(__name__)

HIST_BINS = 1024
_MAX_PASSES = 80
_SPLIT_EVERY = 16


def _columns(block: np.ndarray) -> np.ndarray:
    """A block ``(..., S, C)`` as a ``(values, S * C)`` view (column ``s * C + c``)."""
    b = np.asarray(block)
    return b.reshape(-1, b.shape[-2] * b.shape[-1])


def _sc(arrays: Sequence[Any]) -> tuple[int, int]:
    if not arrays:
        raise ArgumentError("no data arrays to compute statistics of")
    s, c = arrays[0].shape[-2:]
    return int(s), int(c)


def _groups(arrays: Sequence[Any], per_strand: bool) -> tuple[int, int]:
    s, c = _sc(arrays)
    return (s, c) if per_strand else (1, c)


def _by_group(values: np.ndarray, sc: tuple[int, int], per_strand: bool) -> np.ndarray:
    """Per-column results ``(S * C, ...)`` stacked for pooling: ``(S, 1, C, ...)`` (callers
    reduce axis 0) or ``(1, S, C, ...)`` per strand."""
    v = np.asarray(values).reshape(sc + np.shape(values)[1:])
    return v[None] if per_strand else v[:, None]


def _to_columns(values: np.ndarray, sc: tuple[int, int]) -> np.ndarray:
    """Per-group parameters ``(1 or S, C, ...)`` broadcast to one row per column."""
    v = np.asarray(values)
    return np.broadcast_to(v, sc + v.shape[2:]).reshape((sc[0] * sc[1],) + v.shape[2:])


def reduce_columns(arrays: Sequence[Any], chunk: Callable[..., Any],
                   combine: Callable[..., Any], *args: Any, desc: str = "statistics") -> Any:
    """Reduce every chunk of every array and merge the results, computing once.

    Under ``set_options(progress=...)`` a bar counts the chunks reduced
    (:mod:`genozarr._progress`; a normalizer's fit labels it, e.g. ``fit ZScore:
    moments``).

    Parameters
    ----------
    arrays
        Arrays ``(..., S, C)`` (numpy or dask).
    chunk
        ``chunk(columns, *args)`` on a ``(values, S * C)`` view of one chunk.
    combine
        ``combine(*results)`` merges chunk results (applied in a tree).
    *args
        Extra arguments of ``chunk``.
    desc
        What is computed, for the progress bar.

    Returns
    -------
    Any
        The merged result, per column.
    """
    import dask
    import dask.array as da

    def run(block: np.ndarray, *a: Any) -> Any:
        return chunk(_columns(block), *a)

    from genozarr._progress import compute

    parts = []
    for arr in arrays:
        arr = arr if isinstance(arr, da.Array) else da.asarray(np.asarray(arr))
        arr = arr.rechunk({arr.ndim - 2: -1, arr.ndim - 1: -1})
        parts.extend(dask.delayed(run)(b, *args) for b in arr.to_delayed().ravel())
    chunk_keys = [p.key for p in parts]
    while len(parts) > 1:
        parts = [dask.delayed(combine)(*parts[i:i + _SPLIT_EVERY])
                 for i in range(0, len(parts), _SPLIT_EVERY)]
    (result,) = compute([parts[0]], chunk_keys, desc, "chunk")
    return result


# ------------------------------------------------------------------ moments
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


def moments(arrays: Sequence[Any], *, per_strand: bool = False) -> tuple[np.ndarray, ...]:
    """Count, mean and sum of squared deviations from the mean, per group.

    Parameters
    ----------
    arrays
        Arrays ``(..., S, C)``.
    per_strand
        Groups per (strand, condition) instead of per condition.

    Returns
    -------
    tuple of numpy.ndarray
        ``(n, mean, m2)``, each of shape ``(1 or S, C)``.
    """
    sc, shape = _sc(arrays), _groups(arrays, per_strand)
    res = reduce_columns(arrays, _moments_chunk, _moments_combine, desc="moments")
    n, mean, m2 = (_by_group(r, sc, per_strand) for r in res)
    merged = _moments_combine(*[(n[k], mean[k], m2[k]) for k in range(n.shape[0])])
    return tuple(m.reshape(shape) for m in merged)


# ------------------------------------------------------------------ sums and ranges
def _sum_chunk(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ok = ~np.isnan(x)
    total = np.sum(x, axis=0, dtype=np.float64, where=ok)
    # the negative values' sum (not np.abs: abs(int8(-128)) is -128), where there are any
    below = x < 0
    negative = np.sum(x, axis=0, dtype=np.float64, where=below) if below.any() \
        else np.zeros_like(total)
    return total, ok.sum(axis=0).astype(np.float64), negative


def _sum_combine(*parts: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    return tuple(np.sum(p, axis=0) for p in zip(*parts))


def sums(arrays: Sequence[Any], *, per_strand: bool = False,
         counts: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sum of the values of each group (float64), NaN left out.

    Parameters
    ----------
    arrays
        Arrays ``(..., S, C)``.
    per_strand
        Groups per (strand, condition).
    counts
        Also return the number of values (not NaN) of each group and the sum of their
        absolute values, from the same pass.

    Returns
    -------
    numpy.ndarray or tuple of numpy.ndarray
        Shape ``(1 or S, C)``; ``(sums, counts, absolute sums)`` with ``counts=True``.
    """
    res = reduce_columns(arrays, _sum_chunk, _sum_combine, desc="sums")
    sc, shape = _sc(arrays), _groups(arrays, per_strand)
    total, n, negative = (_by_group(r, sc, per_strand).sum(axis=0).reshape(shape)
                          for r in res)
    return (total, n, total - 2 * negative) if counts else total


def _range_chunk(x: np.ndarray) -> tuple[np.ndarray, ...]:
    if x.dtype.kind != "f":  # integer stores: no NaN, and no infinite initial value
        x = x.astype(np.float64)
    n = x.shape[0] - np.isnan(x).sum(axis=0)
    return (n, np.fmin.reduce(x, axis=0, initial=np.inf).astype(np.float64),
            np.fmax.reduce(x, axis=0, initial=-np.inf).astype(np.float64))


def _range_combine(*parts: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    return (np.sum([p[0] for p in parts], axis=0), np.min([p[1] for p in parts], axis=0),
            np.max([p[2] for p in parts], axis=0))


def ranges(arrays: Sequence[Any], *, per_strand: bool = False) -> tuple[np.ndarray, ...]:
    """Count of non-NaN values, minimum and maximum of each group.

    Parameters
    ----------
    arrays
        Arrays ``(..., S, C)``.
    per_strand
        Groups per (strand, condition).

    Returns
    -------
    tuple of numpy.ndarray
        ``(count, vmin, vmax)``, each of shape ``(1 or S, C)``; an empty group has
        ``vmin = inf`` and ``vmax = -inf``.
    """
    sc, shape = _sc(arrays), _groups(arrays, per_strand)
    count, vmin, vmax = reduce_columns(arrays, _range_chunk, _range_combine,
                                       desc="ranges")
    return (_by_group(count, sc, per_strand).sum(axis=0).reshape(shape),
            _by_group(vmin, sc, per_strand).min(axis=0).reshape(shape),
            _by_group(vmax, sc, per_strand).max(axis=0).reshape(shape))


def _finite_range_chunk(x: np.ndarray) -> tuple[np.ndarray, ...]:
    x = x.astype(np.float64, copy=False)
    neg, pos = np.isneginf(x), np.isposinf(x)
    inf = neg | pos
    return (neg.sum(axis=0), pos.sum(axis=0),
            np.fmin.reduce(np.where(inf, np.nan, x), axis=0, initial=np.inf),
            np.fmax.reduce(np.where(inf, np.nan, x), axis=0, initial=-np.inf))


def _finite_range_combine(*parts: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    return (np.sum([p[0] for p in parts], axis=0), np.sum([p[1] for p in parts], axis=0),
            np.min([p[2] for p in parts], axis=0), np.max([p[3] for p in parts], axis=0))


def finite_ranges(arrays: Sequence[Any], *, per_strand: bool = False) -> tuple[np.ndarray, ...]:
    """Counts of -inf and +inf values, and the minimum and maximum finite value, of each
    group (shapes as :func:`ranges`; no finite value: ``inf, -inf``)."""
    sc, shape = _sc(arrays), _groups(arrays, per_strand)
    neg, pos, fmin, fmax = reduce_columns(arrays, _finite_range_chunk, _finite_range_combine,
                                          desc="finite ranges")
    return (_by_group(neg, sc, per_strand).sum(axis=0).reshape(shape),
            _by_group(pos, sc, per_strand).sum(axis=0).reshape(shape),
            _by_group(fmin, sc, per_strand).min(axis=0).reshape(shape),
            _by_group(fmax, sc, per_strand).max(axis=0).reshape(shape))


# ------------------------------------------------------------------ histograms
def _hist_chunk(x: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                n_bins: int) -> tuple[np.ndarray, ...]:
    """For every (column, target) with ``lo < hi``: the count of values below ``lo``, equal
    to ``lo``, and a histogram of ``[lo, hi]`` in ``n_bins`` equal bins with the minimum and
    maximum value of each bin (the bin index is a monotone function of the value)."""
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


def histograms(arrays: Sequence[Any], lo: np.ndarray, hi: np.ndarray, n_bins: int = HIST_BINS,
               *, per_strand: bool = False) -> tuple[np.ndarray, ...]:
    """Histograms of the values of each group inside intervals ``[lo, hi]``.

    Parameters
    ----------
    arrays
        Arrays ``(..., S, C)``.
    lo, hi
        Interval bounds per group and target, shape ``(1 or S, C, T)``; a target with
        ``lo >= hi`` is skipped (all zeros).
    n_bins
        Equal-width bins per interval.
    per_strand
        Groups per (strand, condition).

    Returns
    -------
    tuple of numpy.ndarray
        ``(below, equal, counts, bmin, bmax)``: values below ``lo`` and equal to ``lo``
        ``(G, T)``, and per bin the count, minimum and maximum value ``(G, T, n_bins)``,
        with ``G`` the number of groups.
    """
    sc, shape = _sc(arrays), _groups(arrays, per_strand)
    n_groups = shape[0] * shape[1]
    parts = reduce_columns(arrays, _hist_chunk, _hist_combine,
                           _to_columns(lo, sc), _to_columns(hi, sc), n_bins, desc="histograms")
    below, equal, counts = (_by_group(p, sc, per_strand).sum(axis=0).reshape(
        (n_groups,) + p.shape[1:]) for p in parts[:3])
    bmin = _by_group(parts[3], sc, per_strand).min(axis=0).reshape(
        (n_groups,) + parts[3].shape[1:])
    bmax = _by_group(parts[4], sc, per_strand).max(axis=0).reshape(
        (n_groups,) + parts[4].shape[1:])
    return below, equal, counts, bmin, bmax


def nan_percentile(arrays: Sequence[Any], percentile: float, *,
                   per_strand: bool = False) -> np.ndarray:
    """Exact percentile of each group, NaN ignored, as ``numpy.nanpercentile`` with its
    default ``'linear'`` method, never loading the whole data. Infinite values count as
    values; where the percentile falls on an infinite order statistic, or between two
    equal ones, it is that value (numpy's interpolation gives NaN there: the median of
    ``[1, 2, inf]`` is 2, not NaN).

    The two order statistics around the percentile's rank are found by histogram
    narrowing: :func:`ranges` gives each group's count and range, then every pass
    (:func:`histograms`, one reduction) bins the values inside the current interval into
    1024 bins and narrows the interval to the bin holding the rank, until it holds a
    single distinct value. Float32 data needs about three passes.

    Parameters
    ----------
    arrays
        Arrays ``(..., S, C)`` (a single array is accepted too).
    percentile
        In ``[0, 100]``.
    per_strand
        Separate percentiles per (strand, condition).

    Returns
    -------
    numpy.ndarray
        Shape ``(1, C)`` (or ``(S, C)``); NaN where a group has no values.

    Raises
    ------
    ArgumentError
        For a percentile outside ``[0, 100]``.
    """
    if not 0 <= float(percentile) <= 100:
        raise ArgumentError(f"percentile must be in [0, 100], got {percentile!r}")
    if hasattr(arrays, "ndim"):
        arrays = [arrays]
    shape = _groups(arrays, per_strand)
    count, vmin, vmax = (r.reshape(-1) for r in ranges(arrays, per_strand=per_strand))
    h = (count - 1) * (float(percentile) / 100.0)
    k0 = np.floor(h).astype(np.int64)
    ranks = np.stack([k0, np.minimum(k0 + 1, count - 1)], axis=1)  # (G, 2)
    lo = np.repeat(vmin[:, None], 2, axis=1)
    hi = np.repeat(vmax[:, None], 2, axis=1)
    value = np.full(lo.shape, np.nan)
    done = (count == 0)[:, None] | (lo == hi)
    value[done] = lo[done]
    if np.isinf(vmin).any() or np.isinf(vmax).any():
        # infinities: a rank among them is that infinity; the others are narrowed over the
        # finite values (equal bins over an infinite interval would all be one bin); a
        # -inf counts as a value below the interval, a +inf falls outside it
        neg, pos, fmin, fmax = (r.reshape(-1) for r in
                                finite_ranges(arrays, per_strand=per_strand))
        infinite = (count > 0) & (np.isinf(vmin) | np.isinf(vmax))
        for i in np.flatnonzero(infinite):
            for t in range(2):
                if ranks[i, t] < neg[i]:
                    value[i, t], done[i, t] = -np.inf, True
                elif ranks[i, t] >= count[i] - pos[i]:
                    value[i, t], done[i, t] = np.inf, True
                else:
                    lo[i, t], hi[i, t] = fmin[i], fmax[i]
                    done[i, t] = fmin[i] == fmax[i]
                    value[i, t] = fmin[i]
    value[count == 0] = np.nan
    for _ in range(_MAX_PASSES):
        if done.all():
            break
        below, equal, counts, bmin, bmax = histograms(
            arrays, np.where(done, 0.0, lo).reshape(shape + (2,)),
            np.where(done, 0.0, hi).reshape(shape + (2,)), HIST_BINS, per_strand=per_strand)
        for i, t in zip(*np.nonzero(~done)):
            k = ranks[i, t]
            if np.nextafter(lo[i, t], np.inf) >= hi[i, t]:  # two adjacent floats left
                value[i, t] = lo[i, t] if k < below[i, t] + equal[i, t] else hi[i, t]
                done[i, t] = True
                continue
            cum = below[i, t] + np.cumsum(counts[i, t])
            j = min(int(np.searchsorted(cum, k, side="right")), HIST_BINS - 1)
            lo[i, t], hi[i, t] = bmin[i, t, j], bmax[i, t, j]
            if lo[i, t] == hi[i, t]:
                value[i, t] = lo[i, t]
                done[i, t] = True
    if not done.all():  # pragma: no cover - needs > 80 passes, not seen on real data
        log.warning("percentile refinement did not converge; using interval lower bounds")
        value[~done] = lo[~done]
    v0, v1 = value[:, 0], value[:, 1]
    frac = h - k0
    with np.errstate(invalid="ignore"):  # (inf - inf where both are one infinity)
        out = v0 + (v1 - v0) * frac
        out = np.where(frac >= 0.5, v1 - (v1 - v0) * (1 - frac), out)
    # an order statistic that is exactly the percentile, or two equal ones (infinities
    # included: numpy's interpolation makes NaN of inf * 0 and inf - inf there)
    out = np.where(np.isposinf(v1) & ~np.isneginf(v0) & (frac > 0), np.inf, out)
    out = np.where(np.isneginf(v0) & ~np.isposinf(v1), -np.inf, out)
    out = np.where((frac == 0) | (v0 == v1), v0, out)
    return out.reshape(shape)

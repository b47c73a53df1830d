"""BigWig reading through :mod:`pyBigWig`."""

from __future__ import annotations

import os

import numpy as np

from genozarr.errors import ChromosomeNotFoundError, RegionError

__all__ = ["bigwig_chrom_sizes", "read_values"]


def bigwig_chrom_sizes(path: str | os.PathLike) -> dict[str, int]:
    """Chromosome sizes from a BigWig header.

    Parameters
    ----------
    path
        BigWig file.

    Returns
    -------
    dict
        ``{chrom: length}``.
    """
    from genozarr.io._handles import get_handle

    return {str(k): int(v) for k, v in get_handle("bigwig", os.fspath(path)).chroms().items()}


def read_values(path: str | os.PathLike, chrom: str, start: int, end: int, *,
                nan_to_num: bool = True) -> np.ndarray:
    """Per-base values of ``[start, end)`` as float32.

    Bases without data (not covered by any interval of the file) are NaN, or 0 with
    ``nan_to_num=True``; so are positions outside the chromosome.

    Parameters
    ----------
    path
        BigWig file.
    chrom
        Chromosome name as spelled in the file.
    start, end
        0-based half-open interval; may run past either end of the chromosome.
    nan_to_num
        Replace missing values by 0.

    Returns
    -------
    numpy.ndarray
        float32, shape ``(end - start,)``.

    Raises
    ------
    ChromosomeNotFoundError
        If the file has no chromosome ``chrom``.
    """
    from genozarr.io._handles import get_handle

    if end < start:
        raise RegionError(f"{path}: interval {chrom}:{start}-{end} has start > end")
    bw = get_handle("bigwig", os.fspath(path))
    length = bw.chroms(chrom)
    if length is None:
        raise ChromosomeNotFoundError(
            f"{path}: chromosome {chrom!r} not found; the file has {list(bw.chroms())[:10]}")
    out = np.full(end - start, 0.0 if nan_to_num else np.nan, dtype=np.float32)
    lo, hi = max(start, 0), min(end, int(length))
    if hi <= lo:
        return out
    intervals = bw.intervals(chrom, lo, hi)
    if not intervals:
        return out
    iv = np.asarray(intervals, dtype=np.float64)
    s = np.clip(iv[:, 0].astype(np.int64), lo, hi) - start
    e = np.clip(iv[:, 1].astype(np.int64), lo, hi) - start
    vals = iv[:, 2].astype(np.float32)
    # paint the runs: values repeated over their run lengths, placed at their offsets
    lengths = e - s
    keep = lengths > 0
    s, lengths, vals = s[keep], lengths[keep], vals[keep]
    if len(s) == 0:
        return out
    idx = np.repeat(s - np.cumsum(np.r_[0, lengths[:-1]]), lengths) + np.arange(lengths.sum())
    out[idx] = np.repeat(vals, lengths)
    if nan_to_num:
        np.nan_to_num(out, copy=False, nan=0.0)
    return out

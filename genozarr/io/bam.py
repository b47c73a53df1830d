"""BAM reading through :mod:`pysam`: index checks, header sizes and 5'-end counting.

Counting rule (Janggu's, with one deliberate difference): each read is counted once at its
5' end. A forward read's 5' end is ``reference_start``; a reverse read's is its **last
aligned base**, ``reference_end - 1``. Janggu counted reverse reads at ``reference_end``,
one base past the alignment; genozarr uses the aligned base, so forward and reverse counts
of the same fragment end land on bases the reads cover (this is what ``samtools view`` /
``bedtools genomecov -5`` report).

Skipped reads (SAM flags): unmapped (0x4), secondary (0x100) and supplementary (0x800)
always; failing QC (0x200) and PCR/optical duplicates (0x400) unless
``include_flagged=True``; reads with mapping quality below ``min_mapq``. A paired read
(0x1) counts only if it is a proper pair (0x2) with its mate on the same chromosome.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from genozarr.errors import ArgumentError, ChromosomeNotFoundError, InputFileError, MissingIndexError

__all__ = ["check_bam", "index_bam", "bam_chrom_sizes", "count_5prime", "ALWAYS_SKIPPED",
           "SKIPPED_UNLESS_INCLUDED"]

#: unmapped | secondary | supplementary
ALWAYS_SKIPPED = 0x4 | 0x100 | 0x800
#: QC fail | duplicate
SKIPPED_UNLESS_INCLUDED = 0x200 | 0x400


def _index_paths(path: str) -> list[str]:
    base = path[:-4] if path.endswith(".bam") else path
    return [path + ".bai", path + ".csi", base + ".bai", base + ".csi"]


def check_bam(path: str | os.PathLike) -> str:
    """Check that a BAM file exists and has an index (``.bai`` or ``.csi``).

    Parameters
    ----------
    path
        BAM file.

    Returns
    -------
    str
        The path.

    Raises
    ------
    InputFileError
        If the file does not exist.
    MissingIndexError
        If no index is found; the message names the command to build one
        (``samtools index`` or :func:`index_bam`).
    """
    path = os.fspath(path)
    if not Path(path).is_file():
        raise InputFileError(f"BAM file {path} does not exist")
    if not any(Path(p).is_file() for p in _index_paths(path)):
        raise MissingIndexError(
            f"{path} has no index (.bai/.csi); build one with 'samtools index {path}' or "
            "genozarr.io.bam.index_bam()")
    return path


def index_bam(path: str | os.PathLike) -> str:
    """Build the ``.bai`` index of a coordinate-sorted BAM file with ``pysam.index``.

    Parameters
    ----------
    path
        Coordinate-sorted BAM file.

    Returns
    -------
    str
        Path of the index.
    """
    import pysam

    path = os.fspath(path)
    try:
        pysam.index(path)
    except pysam.utils.SamtoolsError as e:
        raise InputFileError(f"{path}: cannot be indexed (is it coordinate-sorted?): {e}") from e
    return path + ".bai"


def bam_chrom_sizes(path: str | os.PathLike) -> dict[str, int]:
    """Reference sequence lengths from a BAM header.

    Parameters
    ----------
    path
        BAM file (no index needed).

    Returns
    -------
    dict
        ``{chrom: length}`` in header order.
    """
    import pysam

    path = os.fspath(path)
    if not Path(path).is_file():
        raise InputFileError(f"BAM file {path} does not exist")
    try:
        with pysam.AlignmentFile(path, "rb") as bam:
            return dict(zip(bam.references, (int(n) for n in bam.lengths)))
    except (OSError, ValueError) as e:
        raise InputFileError(f"{path} is not a BAM file or cannot be read: {e}") from e


def count_5prime(path: str | os.PathLike, chrom: str, start: int, end: int, *,
                 min_mapq: int | None = None, pairedend: str = "5prime",
                 template_extension: int = 0, include_flagged: bool = False,
                 resolution: int = 1) -> np.ndarray:
    """Count reads at their 5' ends (or fragment midpoints) in ``[start, end)``.

    Parameters
    ----------
    path
        Indexed BAM file.
    chrom
        Chromosome as spelled in the BAM header.
    start, end
        0-based half-open window; parts outside the chromosome count 0.
    min_mapq
        Skip reads with a lower mapping quality.
    pairedend
        ``'5prime'``: every read of a proper pair counts at its own 5' end (Janggu's rule).
        ``'midpoint'``: read 1 of each proper pair counts once at the fragment midpoint
        ``min(start, mate start) + |TLEN| // 2``, on read 1's strand; read 2 is not counted.
        Unpaired reads always count at their 5' end.
    template_extension
        Fetch reads this far beyond both window ends, so midpoints inside the window of
        fragments whose read 1 lies outside are found.
    include_flagged
        Also count QC-failed (0x200) and duplicate (0x400) reads.
    resolution
        Bases per bin of the result.

    Returns
    -------
    numpy.ndarray
        int32 of shape ``(ceil((end - start) / resolution), 2)``: forward, reverse counts.

    Raises
    ------
    ChromosomeNotFoundError
        If ``chrom`` is not in the BAM header.
    MissingIndexError
        If the BAM file has no index.
    """
    from genozarr._kernels import bin_counts
    from genozarr.io._handles import get_handle

    if pairedend not in ("5prime", "midpoint"):
        raise ArgumentError(f"pairedend must be '5prime' or 'midpoint', got {pairedend!r}")
    path = check_bam(path)
    bam = get_handle("bam", path)
    try:
        tid = bam.get_tid(chrom)
    except (KeyError, ValueError):
        tid = -1
    if tid < 0:
        raise ChromosomeNotFoundError(
            f"{path}: chromosome {chrom!r} not in the BAM header; it has {list(bam.references)[:10]}")
    length = bam.get_reference_length(chrom)
    ext = max(int(template_extension), 0)
    lo, hi = max(start - ext, 0), min(end + ext, length)
    skip = ALWAYS_SKIPPED | (0 if include_flagged else SKIPPED_UNLESS_INCLUDED)
    mapq = -1 if min_mapq is None else int(min_mapq)
    midpoint = pairedend == "midpoint"
    fwd: list[int] = []
    rev: list[int] = []
    if hi > lo:
        for read in bam.fetch(chrom, lo, hi):
            flag = read.flag
            if flag & skip or read.mapping_quality < mapq:
                continue
            is_reverse = flag & 0x10
            if flag & 0x1:
                if not (flag & 0x2) or flag & 0x8 or read.next_reference_id != tid:
                    continue
                if midpoint:
                    if not flag & 0x40:
                        continue
                    left = min(read.reference_start, read.next_reference_start)
                    pos = left + abs(read.template_length) // 2
                    (rev if is_reverse else fwd).append(pos)
                    continue
            if is_reverse:
                rev.append(read.reference_end - 1)
            else:
                fwd.append(read.reference_start)
    n = end - start
    out = np.empty((-(-n // resolution), 2), dtype=np.int32)
    out[:, 0] = bin_counts(np.asarray(fwd, dtype=np.int64), start, n, resolution)
    out[:, 1] = bin_counts(np.asarray(rev, dtype=np.int64), start, n, resolution)
    return out

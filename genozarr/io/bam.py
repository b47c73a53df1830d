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

from genozarr.errors import (ArgumentError, ChromosomeNotFoundError, InputFileError,
                             MalformedFileError, MissingIndexError)

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
    mapq = None if min_mapq is None or int(min_mapq) <= 0 else int(min_mapq)
    try:
        flags, positions, quals = _scan(bam, chrom, tid, lo, hi,
                                        midpoint=pairedend == "midpoint",
                                        with_mapq=mapq is not None)
    except OSError as e:
        from genozarr.io._handles import close_handles

        close_handles(path)
        raise MalformedFileError(f"{path}: cannot read {chrom}:{lo}-{hi}; the BAM file is "
                                 f"truncated or corrupt ({e})") from e
    # the per-read rules, vectorised over the block
    keep = (flags & skip) == 0
    if mapq is not None:
        keep &= quals >= mapq
    paired = (flags & 0x1) != 0
    if paired.any():
        proper = ((flags & 0x2) != 0) & ((flags & (0x8 | _MATE_ELSEWHERE)) == 0)
        if pairedend == "midpoint":
            proper &= (flags & 0x40) != 0
        keep &= ~paired | proper
    reverse = (flags & 0x10) != 0
    n = end - start
    out = np.empty((-(-n // resolution), 2), dtype=np.int32)
    out[:, 0] = bin_counts(positions[keep & ~reverse], start, n, resolution)
    out[:, 1] = bin_counts(positions[keep & reverse], start, n, resolution)
    return out


#: synthetic flag bit set by :func:`_scan` on paired reads whose mate maps to another chromosome
_MATE_ELSEWHERE = 0x10000


def _scan(bam: object, chrom: str, tid: int, lo: int, hi: int, *, midpoint: bool,
          with_mapq: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Flags, counting positions and (optionally) MAPQs of the reads fetched on ``[lo, hi)``.

    The Python loop reads as few attributes per read as it can (flag and one position;
    mate fields only for paired reads) and appends to lists (faster than item assignment
    into numpy arrays); the filtering is vectorised by the caller. The position is the 5'
    end (``reference_start``, or ``reference_end - 1`` for mapped reverse reads), or the
    fragment midpoint for read 1 of a pair when ``midpoint`` is set. A paired read whose
    mate lies on another chromosome gets the synthetic flag bit ``_MATE_ELSEWHERE``.
    """
    flags: list[int] = []
    positions: list[int] = []
    quals: list[int] = []
    if hi <= lo:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, (empty if with_mapq else None)
    add_flag, add_pos, add_q = flags.append, positions.append, quals.append
    fetch = bam.fetch(chrom, lo, hi)  # type: ignore[attr-defined]
    for read in fetch:
        flag = read.flag
        if with_mapq:
            add_q(read.mapping_quality)
        if flag & 0x1:
            if read.next_reference_id != tid:
                flag |= _MATE_ELSEWHERE
            elif midpoint and flag & 0x40:
                add_flag(flag)
                add_pos(min(read.reference_start, read.next_reference_start)
                        + abs(read.template_length) // 2)
                continue
        add_flag(flag)
        add_pos(read.reference_end - 1 if flag & 0x14 == 0x10 else read.reference_start)
    return (np.array(flags, dtype=np.int64), np.array(positions, dtype=np.int64),
            np.array(quals, dtype=np.int64) if with_mapq else None)

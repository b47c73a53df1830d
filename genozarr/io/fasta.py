"""FASTA reading through :mod:`pysam` (``.fai`` index, random access, plain iteration)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

from genozarr.errors import ChromosomeNotFoundError, InputFileError, MissingIndexError, RegionError

__all__ = ["ensure_fai", "fasta_chrom_sizes", "read_sequence", "iter_fasta_records"]

logger = logging.getLogger(__name__)


def ensure_fai(path: str | os.PathLike) -> str:
    """Make sure a FASTA file has its ``.fai`` index, building it with ``pysam.faidx``.

    Parameters
    ----------
    path
        Plain or bgzip-compressed FASTA file.

    Returns
    -------
    str
        Path of the index.

    Raises
    ------
    InputFileError
        If the file does not exist.
    MissingIndexError
        If there is no index and it cannot be built (e.g. a gzip, not bgzip, file, or a
        read-only directory); the message says how to build it.
    """
    import pysam

    path = os.fspath(path)
    if not Path(path).is_file():
        raise InputFileError(f"FASTA file {path} does not exist")
    fai = path + ".fai"
    if Path(fai).is_file() and Path(fai).stat().st_mtime >= Path(path).stat().st_mtime:
        return fai
    logger.info("indexing %s", path)
    try:
        pysam.faidx(path)
    except (pysam.utils.SamtoolsError, OSError) as e:
        raise MissingIndexError(
            f"{path}: no usable .fai index and it could not be built ({e}); run "
            f"'samtools faidx {path}' (a compressed FASTA must be bgzip-compressed)") from e
    return fai


def fasta_chrom_sizes(path: str | os.PathLike) -> dict[str, int]:
    """Sequence lengths of an indexed FASTA file (the index is built if missing).

    Parameters
    ----------
    path
        FASTA file.

    Returns
    -------
    dict
        ``{name: length}`` in file order.
    """
    from genozarr.io._handles import get_handle

    ensure_fai(path)
    fa = get_handle("fasta", os.fspath(path))
    return dict(zip(fa.references, (int(n) for n in fa.lengths)))


def read_sequence(path: str | os.PathLike, chrom: str, start: int, end: int,
                  pad: bytes = b"N") -> bytes:
    """Upper-case sequence of ``[start, end)``; positions outside the sequence are ``pad``.

    Parameters
    ----------
    path
        Indexed FASTA file (see :func:`ensure_fai`).
    chrom
        Sequence name.
    start, end
        0-based half-open interval; may run past either end of the sequence.
    pad
        One byte used for positions outside the sequence.

    Returns
    -------
    bytes
        ``end - start`` bytes.

    Raises
    ------
    ChromosomeNotFoundError
        If ``chrom`` is not in the file.
    RegionError
        If ``end < start``.
    """
    from genozarr.io._handles import get_handle

    if end < start:
        raise RegionError(f"{path}: interval {chrom}:{start}-{end} has start > end")
    fa = get_handle("fasta", os.fspath(path))
    try:
        length = fa.get_reference_length(chrom)
    except KeyError as e:
        raise ChromosomeNotFoundError(
            f"{path}: sequence {chrom!r} not found; the file has {list(fa.references)[:10]}"
        ) from e
    lo, hi = max(start, 0), min(end, length)
    seq = fa.fetch(chrom, lo, hi).upper().encode("ascii") if hi > lo else b""
    if lo == start and hi == end:
        return seq
    left = pad * (min(lo, end) - start)
    return left + seq + pad * (end - start - len(left) - len(seq))


def iter_fasta_records(path: str | os.PathLike) -> Iterator[tuple[str, bytes]]:
    """Iterate over the records of a FASTA file (plain or gzip; no index needed).

    Parameters
    ----------
    path
        FASTA file.

    Yields
    ------
    tuple of (str, bytes)
        Record name (up to the first whitespace) and upper-case sequence.
    """
    import pysam

    path = os.fspath(path)
    if not Path(path).is_file():
        raise InputFileError(f"FASTA file {path} does not exist")
    try:
        with pysam.FastxFile(path) as fh:
            for rec in fh:
                yield rec.name, (rec.sequence or "").upper().encode("ascii")
    except (OSError, ValueError) as e:
        raise InputFileError(f"{path}: cannot be read as FASTA: {e}") from e

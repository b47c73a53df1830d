"""FASTA reading through :mod:`pysam` (``.fai`` index, random access, plain iteration)."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

from genozarr.errors import (
    ChromosomeNotFoundError,
    InputFileError,
    MalformedFileError,
    MissingIndexError,
    RegionError,
)

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
    MalformedFileError
        If a sequence name occurs twice (checked when the index is built).
    """
    import pysam

    path = os.fspath(path)
    if not Path(path).is_file():
        raise InputFileError(f"FASTA file {path} does not exist")
    fai = path + ".fai"
    if Path(fai).is_file() and Path(fai).stat().st_mtime >= Path(path).stat().st_mtime:
        return fai
    logger.info("indexing %s", path)
    # build under temporary names and rename into place, so that a concurrent reader (or
    # an interrupted build) never sees a partial index
    tag = f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    with open(path, "rb") as fh:
        compressed = fh.read(2) == b"\x1f\x8b"
    outputs = {fai: fai + tag}
    if compressed:
        outputs[path + ".gzi"] = path + ".gzi" + tag
    try:
        args = [path, "--fai-idx", outputs[fai]]
        if compressed:
            args += ["--gzi-idx", outputs[path + ".gzi"]]
        try:
            pysam.faidx(*args)
        except (pysam.utils.SamtoolsError, OSError) as e:
            raise MissingIndexError(f"{path}: no usable .fai index and it could not be built: "
                                    f"{_index_problem(path, fai)}") from e
        n_headers = _count_headers(path)
        with open(outputs[fai], "rb") as fh:
            n_indexed = sum(1 for line in fh if line.strip())
        if n_headers > n_indexed:
            names = _duplicate_names(path)
            if names:  # faidx would keep only the first record of each name
                raise MalformedFileError(
                    f"{path}: sequence name(s) {names[:5]} occur more than once; names must "
                    "be unique (rename the duplicates)")
        for final, tmp in sorted(outputs.items(), key=lambda kv: kv[0] == fai):  # .fai last
            os.replace(tmp, final)
    finally:
        for tmp in outputs.values():
            Path(tmp).unlink(missing_ok=True)
    return fai


def _index_problem(path: str, fai: str) -> str:
    """Why ``samtools faidx`` could not index ``path``, with the fix."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head[:2] == b"\x1f\x8b":
        if len(head) < 4 or not head[3] & 0x04:  # no FEXTRA field: plain gzip, not BGZF blocks
            plain = path[:-3] if path.endswith(".gz") else path + ".fa"
            return ("it is gzip-compressed, not bgzip-compressed, and only bgzip files can be "
                    f"indexed; recompress it: 'gunzip -c {path} > {plain} && bgzip {plain}' "
                    "(Bioseq.create_from_seq reads plain gzip files without an index)")
    elif not head.startswith(b">"):
        return "it does not start with a '>' header line, so it is not a FASTA file"
    parent = Path(fai).parent
    probe = parent / f".{Path(fai).name}.write-test-{os.getpid()}"
    try:
        probe.touch()
        probe.unlink()
    except OSError as e:
        return (f"the index {fai} cannot be written ({e.strerror}: the directory is read-only); "
                f"run 'samtools faidx {path} --fai-idx <writable path>' and symlink or copy the "
                "FASTA and its index to a writable directory")
    return f"samtools faidx failed; run 'samtools faidx {path}' to see why"


def _header_lines(path: str) -> Iterator[bytes]:
    import gzip

    with open(path, "rb") as fh:
        compressed = fh.read(2) == b"\x1f\x8b"
    with (gzip.open(path, "rb") if compressed else open(path, "rb")) as fh:
        for line in fh:
            if line.startswith(b">"):
                yield line


def _count_headers(path: str) -> int:
    """Number of lines starting with '>' (counted in blocks, without splitting lines)."""
    import gzip

    with open(path, "rb") as fh:
        compressed = fh.read(2) == b"\x1f\x8b"
    count, last = 0, b"\n"
    with (gzip.open(path, "rb") if compressed else open(path, "rb")) as fh:
        while block := fh.read(1 << 24):
            count += block.count(b"\n>") + (last == b"\n" and block[:1] == b">")
            last = block[-1:]
    return count


def _duplicate_names(path: str) -> list[str]:
    seen: set[str] = set()
    dups: list[str] = []
    for line in _header_lines(path):
        fields = line[1:].split()
        name = fields[0].decode("utf-8", "replace") if fields else ""
        if name in seen and name not in dups:
            dups.append(name)
        seen.add(name)
    return dups


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

    fai = ensure_fai(path)
    fa = get_handle("fasta", os.fspath(path))
    names = list(fa.references)
    with open(fai) as f:  # htslib keeps one of duplicate .fai entries silently
        listed = [line.split("\t", 1)[0] for line in f if line.strip()]
    if len(set(listed)) != len(listed):  # an existing .fai built by another tool
        seen: set[str] = set()
        dups = sorted({n for n in listed if n in seen or seen.add(n)})
        raise MalformedFileError(
            f"{path}: sequence names must be unique, but {dups[:5]} appear more than once "
            "(rename the duplicates)")
    return dict(zip(names, (int(n) for n in fa.lengths)))


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

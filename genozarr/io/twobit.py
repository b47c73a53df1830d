"""UCSC 2bit genome reading through :mod:`py2bit`, with the interface of
:mod:`genozarr.io.fasta`: :func:`twobit_chrom_sizes` and :func:`read_twobit_sequence`.

A 2bit file packs four bases per byte and records runs of ``N`` ("N blocks") and of
soft-masked, lower-case bases ("mask blocks") separately. Sequences are returned upper
case, so masked bases read (and encode) like unmasked ones, and N blocks read as ``N``.
A file is recognised by its magic number ``0x1A412743`` (either byte order) or by the
suffix ``.2bit`` (:func:`is_twobit`); py2bit reads little-endian files only (those
faToTwoBit writes on x86 and ARM machines), and a big-endian one is refused with a message
saying so.

py2bit handles are not thread-safe and cannot cross processes: they are kept in the handle
cache of :mod:`genozarr.io._handles` (kind ``"twobit"``), one per process, thread and file,
reopened when the file changes on disk (size or modification time).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from genozarr.errors import ChromosomeNotFoundError, InputFileError, RegionError, get_logger

__all__ = ["TWOBIT_MAGIC", "is_twobit", "twobit_chrom_sizes", "read_twobit_sequence",
           "close_twobit_handles"]

log = get_logger(__name__)

#: the first four bytes of a 2bit file, as a 32-bit integer in the file's byte order
TWOBIT_MAGIC = 0x1A412743
_MAGIC_BYTES = (TWOBIT_MAGIC.to_bytes(4, "little"), TWOBIT_MAGIC.to_bytes(4, "big"))


def is_twobit(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a 2bit file: its suffix is ``.2bit`` or it starts with the
    2bit magic number ``0x1A412743``.

    Parameters
    ----------
    path
        A file path (a missing or unreadable file is not a 2bit file unless its suffix
        says so; the reader then reports the problem).

    Returns
    -------
    bool
    """
    path = os.fspath(path)
    if path.lower().endswith(".2bit"):
        return True
    try:
        with open(path, "rb") as fh:
            return fh.read(4) in _MAGIC_BYTES
    except OSError:
        return False


def open_twobit(path: str) -> Any:
    """A new py2bit handle of ``path`` (upper case: masked bases are not lower-cased); the
    opener of the ``"twobit"`` handles of :func:`genozarr.io._handles.get_handle`.

    Raises
    ------
    InputFileError
        If the file is not a 2bit file or cannot be opened.
    """
    try:
        import py2bit
    except ImportError as e:  # pragma: no cover - py2bit is a core dependency
        raise InputFileError(
            f"{path}: reading 2bit genomes needs py2bit ('pip install py2bit')") from e
    from genozarr.io._handles import captured_stderr

    try:
        with open(path, "rb") as fh:
            big_endian = fh.read(4) == _MAGIC_BYTES[1]
    except OSError:
        big_endian = False
    if big_endian:
        raise InputFileError(
            f"{path} is a big-endian 2bit file, which py2bit (genozarr's 2bit reader) cannot "
            "read; convert it on this machine (twoBitToFa, then faToTwoBit) or give the "
            "genome as FASTA")
    try:
        with open(path, "rb") as fh:
            is_twobit = fh.read(4) == _MAGIC_BYTES[0]
    except OSError:
        is_twobit = False
    if is_twobit:  # before py2bit, which reads a damaged file into a crash (a double free)
        _check_layout(path)
    with captured_stderr() as err:  # py2bit prints its reason on the C stderr
        try:
            handle = py2bit.open(path, False)
        except (RuntimeError, OSError) as e:
            failure = e
        else:
            try:
                _check_layout(path)
            except BaseException:
                handle.close()
                raise
            return handle
    raise InputFileError(
        f"{path} is not a 2bit file or cannot be opened: {failure}"
        f"{'; ' + err.reason() if err.text else ''}") from failure


# (path, signature) of the files whose layout was checked in this process
_checked: set[tuple[str, tuple[Any, ...]]] = set()


def _check_layout(path: str) -> None:
    """Raise :class:`InputFileError` if a sequence of ``path`` has a name that is not
    text, or its header or bases lie past the end of the file (a cut file: py2bit reads
    the missing bases as ``T`` without an error; a damaged block count crashes py2bit).
    One read of the index, two of each sequence's header."""
    import struct

    from genozarr.io._handles import changed_lately, stat_signature

    st = os.stat(path)
    key = (path, stat_signature(st))  # (size and time alone: a same-size copy, cp -p)
    if key in _checked and not changed_lately(st):
        return
    size = st.st_size
    fd = os.open(path, os.O_RDONLY)
    try:
        def read(offset: int, n: int) -> bytes:
            data = os.pread(fd, n, offset)
            if len(data) != n:
                raise InputFileError(f"{path}: the 2bit file is truncated: {n} bytes at "
                                     f"offset {offset} lie past its end ({size} bytes)")
            return data

        head = read(0, 16)
        endian = "<" if head[:4] == _MAGIC_BYTES[0] else ">"
        _, version, count, _ = struct.unpack(endian + "IIII", head)
        width = 8 if version == 1 else 4
        # the index (name length, name, offset per record) in one read: at most 256 +
        # width bytes a record
        index = os.pread(fd, min(count * (1 + 255 + width), max(size - 16, 0)), 16)
        at, records = 0, []
        for _ in range(count):
            if at >= len(index) or at + 1 + index[at] + width > len(index):
                raise InputFileError(f"{path}: the 2bit file is truncated: its index of "
                                     f"{count} sequences ends past its end ({size} bytes)")
            n = index[at]
            name = bytes(index[at + 1:at + 1 + n])
            try:
                name.decode("utf-8")
            except UnicodeDecodeError:
                raise InputFileError(
                    f"{path}: the 2bit file is damaged: the name of its sequence "
                    f"{len(records) + 1} in its index ({name!r}) is not text") from None
            (offset,) = struct.unpack_from(endian + ("Q" if width == 8 else "I"), index,
                                           at + 1 + n)
            at += 1 + n + width
            records.append((name, offset))
        if records:  # every header, and the bases, inside the file (for all at once: a
            # read per sequence took seconds for an assembly of a million contigs)
            _check_records(path, size, endian, records)
    finally:
        os.close(fd)
    _checked.add(key)


def _check_records(path: str, size: int, endian: str,
                   records: list[tuple[bytes, int]]) -> None:
    """Raise :class:`InputFileError` for the first record (``(name, offset)``) whose
    header, N and mask blocks or bases lie past the end of the file (``size`` bytes)."""
    for name, at in records:  # (as Python ints: a damaged 64-bit offset overflows int64)
        if at + 8 > size:
            raise InputFileError(
                f"{path}: the 2bit file is truncated: the header of "
                f"{name.decode('utf-8', 'replace')!r} at byte {at} lies past its end "
                f"({size} bytes)")
    try:
        mapped = np.memmap(path, dtype=np.uint8, mode="r")
    except (OSError, ValueError):  # a file system that cannot map files: read them
        with open(path, "rb") as f:
            mapped = np.frombuffer(f.read(), dtype=np.uint8)
    u32 = np.dtype(endian + "u4")

    def numbers(at: np.ndarray) -> np.ndarray:  # the 4-byte integers at offsets ``at``
        return mapped[at[:, None] + np.arange(4)].copy().view(u32)[:, 0].astype(np.int64)

    def first(bad: np.ndarray) -> tuple[int, str]:
        i = int(np.flatnonzero(bad)[0])
        return i, records[i][0].decode("utf-8", "replace")

    offset = np.array([o for _, o in records], dtype=np.int64)
    dna_size, n_blocks = numbers(offset), numbers(offset + 4)
    at = offset + 8 + 8 * n_blocks
    bad = at + 4 > size
    if bad.any():
        i, shown = first(bad)
        raise InputFileError(
            f"{path}: the 2bit file is damaged or truncated: the {n_blocks[i]} N blocks "
            f"of {shown!r} end at byte {at[i]}, past its end ({size} bytes)")
    end = at + 4 + 8 * numbers(at) + 4 + (dna_size + 3) // 4
    bad = end > size
    if bad.any():
        i, shown = first(bad)
        raise InputFileError(
            f"{path}: the 2bit file is truncated: the bases of {shown!r} "
            f"({dna_size[i]}) end at byte {end[i]}, past its end ({size} bytes)")


def _handle(path: str | os.PathLike) -> Any:
    """The cached py2bit handle of ``path`` for this process and thread."""
    from genozarr.io._handles import get_handle
    from genozarr.io._remote import localize

    return get_handle("twobit", localize(path, "2bit"))  # a URL: its copy in the cache


def close_twobit_handles(path: str | os.PathLike | None = None) -> int:
    """Close this process's cached 2bit handles (all, or those of one path).

    Parameters
    ----------
    path
        Close only the handles of this file; None closes every one.

    Returns
    -------
    int
        Number of handles closed.
    """
    from genozarr.io._handles import close_handles

    return close_handles(None if path is None else os.fspath(path), kind="twobit")


def twobit_chrom_sizes(path: str | os.PathLike) -> dict[str, int]:
    """Sequence lengths of a 2bit file.

    Parameters
    ----------
    path
        2bit file.

    Returns
    -------
    dict
        ``{name: length}`` in file order.

    Raises
    ------
    InputFileError
        If the file is missing, unreadable or not a 2bit file.
    """
    return {str(k): int(v) for k, v in _handle(path).chroms().items()}


def read_twobit_sequence(path: str | os.PathLike, chrom: str, start: int, end: int,
                         pad: bytes = b"N", *, upper: bool = True) -> bytes:
    """Upper-case sequence of ``[start, end)``; positions outside the sequence are ``pad``
    (as :func:`genozarr.io.fasta.read_sequence`).

    Soft-masked (lower-case) bases are returned upper case, whatever ``upper`` says: the
    file is read without its mask blocks. N blocks read as ``N``.

    Parameters
    ----------
    path
        2bit file.
    chrom
        Sequence name.
    start, end
        0-based half-open interval; may run past either end of the sequence.
    pad
        One byte used for positions outside the sequence.
    upper
        Accepted for the interface of :func:`genozarr.io.fasta.read_sequence`: the bases
        are upper case either way (False skips an upper-casing pass that changes nothing).

    Returns
    -------
    bytes
        ``end - start`` bytes.

    Raises
    ------
    ChromosomeNotFoundError
        If ``chrom`` is not in the file.
    RegionError
        If ``end < start``, or the interval lies absurdly far outside the sequence
        (:func:`genozarr.genome.check_span`).
    """
    from genozarr.genome import check_chrom_name, check_span

    if end < start:
        raise RegionError(f"{path}: interval {chrom}:{start}-{end} has start > end")
    check_chrom_name(chrom, str(path))
    tb = _handle(path)
    sizes = tb.chroms()
    if chrom not in sizes:
        raise ChromosomeNotFoundError(
            f"{path}: sequence {chrom!r} not found; the file has {list(sizes)[:10]}")
    length = int(sizes[chrom])
    check_span(chrom, start, end, length, str(path))
    from genozarr.io.fasta import padded_fetch

    # py2bit reads end=0 as "to the end of the sequence": padded_fetch asks only for
    # non-empty ranges
    return padded_fetch(lambda lo, hi: tb.sequence(chrom, lo, hi), start, end, length, pad,
                        upper=upper, source=f"{path} ({chrom})")

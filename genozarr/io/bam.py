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

import gzip
import math
import os
import threading
import zlib
from collections import OrderedDict
from typing import Any

import numpy as np

from genozarr.errors import (
    ArgumentError,
    ChromosomeNotFoundError,
    GenozarrError,
    InputFileError,
    MalformedFileError,
    MalformedHeaderWarning,
    MissingIndexError,
    StaleIndexError,
    UnsupportedFormatError,
    get_logger,
    warn,
)
from genozarr.io._handles import HTS_MAX_LENGTH, CheckedFiles

__all__ = ["check_bam", "index_bam", "bam_chrom_sizes", "count_5prime", "find_bam_index",
           "ALWAYS_SKIPPED", "SKIPPED_UNLESS_INCLUDED"]

logger = get_logger(__name__)

#: unmapped | secondary | supplementary
ALWAYS_SKIPPED = 0x4 | 0x100 | 0x800
#: QC fail | duplicate
SKIPPED_UNLESS_INCLUDED = 0x200 | 0x400

#: at most this many reference sequences are probed when an index is checked (evenly spaced)
_MAX_PROBES = 256
#: records read on past the index's reach at the end of the last reference (the probe of
#: :func:`_probe_tail` stops there and accepts the index)
_TAIL_SCAN = 100_000

# the BAM files checked in this process, with (BAM signature, index path, index signature)
_checked = CheckedFiles()
# BAM files whose header problem was reported in this process
_header_warned: set[str] = set()


def _index_paths(path: str) -> list[str]:
    """Index paths in the order htslib tries them: ``.csi`` before ``.bai``, each first
    appended to the full name, then replacing the ``.bam`` extension."""
    base = path[:-4] if path.endswith(".bam") else path
    return list(dict.fromkeys([path + ".csi", base + ".csi", path + ".bai", base + ".bai"]))


def find_bam_index(path: str | os.PathLike) -> str | None:
    """The index htslib would load for a BAM file: the first of ``x.bam.csi``, ``x.csi``,
    ``x.bam.bai``, ``x.bai`` that exists, or None.

    Parameters
    ----------
    path
        BAM file, or the URL of one (its local copy's index is returned).

    Returns
    -------
    str or None
    """
    from genozarr.io._remote import localize

    path = localize(path, "bam")
    return next((p for p in _index_paths(path) if os.path.exists(p)), None)


def _fix(path: str) -> str:
    return f"rebuild it with 'samtools index {path}' or genozarr.io.bam.index_bam()"


def check_bam(path: str | os.PathLike) -> str:
    """Check that a file is a BAM file with an index (``.bai`` or ``.csi``) that matches it.

    The checks run once per process for a given file and index (path, size, modification
    time): the file must be readable BAM (not CRAM or SAM text); the index must exist, be
    readable, be no older than the BAM, describe as many reference sequences as the BAM
    header, and point at reads of the right reference sequence (the first read of every
    reference the index lists reads for, or of up to 256 of them, evenly spaced). htslib
    itself only warns about a stale index and then returns wrong or zero counts. A header
    line htslib cannot parse gives one :class:`~genozarr.errors.MalformedHeaderWarning`
    (genozarr reads by reference index, which does not need it).

    A URL (``http(s)://``, ``s3://``) is checked through its local copy, fetched with its
    index into the input cache (see :mod:`genozarr.io._remote`).

    Parameters
    ----------
    path
        BAM file, or its URL.

    Returns
    -------
    str
        The path (for a URL: the path of its local copy, the file to read).

    Raises
    ------
    InputFileError
        If the file does not exist or is not a BAM file (``NotAFileError`` for a
        directory, ``UnreadableFileError`` when permission is denied), or the URL cannot
        be read.
    UnsupportedFormatError
        For a CRAM or SAM text file.
    MissingIndexError
        If no index is found; the message names the command to build one
        (``samtools index`` or :func:`index_bam`).
    StaleIndexError
        If the index is older than the BAM, cannot be loaded, or does not match it.
    MalformedFileError
        If a read the index points at cannot be read (truncated or corrupt BAM, or an
        index of another file).
    """
    from genozarr.io._handles import once

    return once(("check_bam", os.fspath(path)), lambda: _check_bam(path))


def _check_bam(path: str | os.PathLike) -> str:
    """:func:`check_bam`, every time."""
    from genozarr.io._handles import check_input_file, file_signature
    from genozarr.io._remote import localize

    path = localize(path, "bam")
    check_input_file(path, "BAM")
    index = find_bam_index(path)
    key = (file_signature(path), index, file_signature(index) if index else None)
    if (path, key) in _checked:
        return path
    n_ref = None
    if index is not None:  # (before pysam opens the BAM: it loads the index too)
        check_input_file(index, "BAM index", of=path)
        n_ref, damage = _walk_index(index)
        if damage is not None:
            raise StaleIndexError(f"the index {index} of {path} cannot be loaded ({damage}); "
                                  f"{_fix(path)}")
    order = _check_format(path)
    if index is None:
        if order in ("unsorted", "queryname"):
            sort = os.path.splitext(path)[0] + ".sorted.bam"
            raise MissingIndexError(
                f"{path} has no index (.bai/.csi), and its header says it is not sorted by "
                f"position (SO:{order}), which an index needs: sort it, then index the "
                f"sorted file: 'samtools sort -o {sort} {path}' then 'samtools index {sort}'")
        raise MissingIndexError(
            f"{path} has no index (.bai/.csi); build one with 'samtools index {path}' or "
            "genozarr.io.bam.index_bam()")
    _verify_index(path, index, n_ref)
    _checked.add(path, key)
    return path


def _open(path: str, index: str | None = None) -> Any:
    """Open with pysam, htslib's complaints folded into the InputFileError."""
    import pysam

    from genozarr.io._handles import captured_stderr

    with captured_stderr() as err:
        try:
            if index is not None:
                return pysam.AlignmentFile(path, "rb", index_filename=index)
            return pysam.AlignmentFile(path, "rb")
        except (OSError, ValueError) as e:
            failure = e
    raise InputFileError(f"{path} is not a BAM file or cannot be opened: {failure}"
                         f"{'; ' + err.reason() if err.text else ''}") from failure


def _close(handle: Any) -> None:
    try:
        handle.close()
    except Exception as e:  # a handle whose reads failed may fail to close; nothing to keep
        logger.debug("closing %r failed: %s", handle, e)


def _check_format(path: str) -> str | None:
    """Refuse CRAM and SAM text, and files pysam cannot open, with the conversion to run;
    the sort order the BAM's header states (``SO`` of its ``@HD`` line), if any."""
    stem = os.path.splitext(path[:-3] if path.endswith(".gz") else path)[0]
    if stem + ".bam" == path:
        stem += ".converted"
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic == b"CRAM":
        raise UnsupportedFormatError(
            f"{path} is a CRAM file; genozarr reads BAM files only (decoding CRAM needs its "
            "reference FASTA, which genozarr does not take). Convert it to BAM and index "
            f"that: 'samtools view -b -T reference.fa -o {stem}.bam {path}' then "
            f"'samtools index {stem}.bam'")
    handle = _open(path)
    try:
        fmt = handle.format
        order = (handle.header.to_dict().get("HD") or {}).get("SO")
    finally:
        _close(handle)
    if fmt == "SAM":
        raise UnsupportedFormatError(
            f"{path} is a SAM text file, not BAM; text cannot be indexed for random access. "
            f"Convert it to BAM and index that: 'samtools view -b -o {stem}.bam {path}' "
            f"(pipe through 'samtools sort' if it is not coordinate-sorted) then "
            f"'samtools index {stem}.bam'")
    if fmt != "BAM":
        raise UnsupportedFormatError(f"{path} is a {fmt} file, not BAM")
    return order if isinstance(order, str) else None


class _Cut(Exception):
    """An index's counts run past its end."""


def _walk_index(index: str) -> tuple[int | None, str | None]:
    """``(n_ref, damage)`` of the BAI or CSI index ``index``: the number of reference
    sequences it describes, and why it is damaged (None: it is not), its counts (bins,
    chunks, intervals per reference sequence) walked against its length. htslib reads a
    cut or corrupt index without these checks and may crash the process (a double free
    or a segmentation fault) before it reports anything, so genozarr walks it first. Not
    a BAI or CSI index at all, or unreadable: ``(None, None)`` (the checks that follow say
    so)."""
    import struct

    try:
        with open(index, "rb") as fh:
            data = fh.read()
        if data[:2] == b"\x1f\x8b":  # CSI: BGZF, concatenated gzip members
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError, zlib.error) as e:
                return None, f"its compressed data are damaged: {e}"
    except OSError:
        return None, None
    csi = data[:4] == b"CSI\x01"
    if not (csi or data[:4] == b"BAI\x01"):
        return None, None
    view, end = memoryview(data), len(data)
    i32, u32_i32, u64_i32 = struct.Struct("<i"), struct.Struct("<Ii"), struct.Struct("<IQi")

    def take(pos: int, fmt: struct.Struct) -> tuple[int, ...]:
        if pos + fmt.size > end:
            raise _Cut
        return fmt.unpack_from(view, pos)

    n_ref = None
    try:
        pos = 4
        if csi:
            _, _, l_aux = take(pos, struct.Struct("<iii"))
            if l_aux < 0:
                return None, f"a negative length of its auxiliary data ({l_aux})"
            pos += 12 + l_aux
        (n_ref,), pos = take(pos, i32), pos + 4
        if n_ref < 0:
            return n_ref, f"a negative number of reference sequences ({n_ref})"
        bin_fmt = u64_i32 if csi else u32_i32
        for ref in range(n_ref):
            (n_bin,), pos = take(pos, i32), pos + 4
            if n_bin < 0:
                return n_ref, f"a negative number of bins ({n_bin}) for reference {ref}"
            for _ in range(n_bin):
                n_chunk = take(pos, bin_fmt)[-1]
                if n_chunk < 0:
                    return n_ref, (f"a negative number of chunks ({n_chunk}) for reference "
                                   f"{ref}")
                pos += bin_fmt.size + 16 * n_chunk
            if not csi:  # BAI's linear index
                (n_intv,), pos = take(pos, i32), pos + 4
                if n_intv < 0:
                    return n_ref, (f"a negative number of intervals ({n_intv}) for "
                                   f"reference {ref}")
                pos += 8 * n_intv
        if pos > end:
            raise _Cut
    except _Cut:
        return n_ref, (f"it is cut short: its counts run past its end ({end} bytes"
                       f"{' uncompressed' if csi else ''})")
    return n_ref, None


def _verify_index(path: str, index: str, n_index: int | None) -> None:
    """The index checks after pysam can load it: no older than the BAM, ``n_index``
    (its number of reference sequences, from :func:`_walk_index`; None: not a BAI or CSI
    index) the BAM header's, the reads it points at of the right reference sequence."""
    from genozarr.io._handles import captured_stderr, check_input_file, mtime_text, older_file

    check_input_file(index, "BAM index", of=path)
    bam_ns, index_ns = os.stat(path).st_mtime_ns, os.stat(index).st_mtime_ns
    if older_file(index_ns, bam_ns):
        raise StaleIndexError(
            f"the index {index} is older than its BAM file {path} (index written "
            f"{mtime_text(index_ns)}, BAM {mtime_text(bam_ns)}): the BAM was rewritten after it was "
            "indexed, so the index may point at the wrong reads (htslib only warns, then "
            f"returns wrong or zero counts); {_fix(path)}")
    try:
        handle = _open(path, index)  # the BAM itself opened in _check_format
    except InputFileError as e:
        why = ("the file is empty" if os.path.getsize(index) == 0
               else str(e).split("cannot be opened: ", 1)[-1])
        raise StaleIndexError(f"the index {index} of {path} cannot be loaded ({why}); "
                              f"{_fix(path)}") from e
    try:
        with captured_stderr() as err:
            loaded = handle.has_index()
        if not loaded or n_index is None:
            why = err.reason() or "it is not a BAI or CSI index"
            raise StaleIndexError(
                f"the index {index} of {path} cannot be loaded ({why}); {_fix(path)}")
        if n_index != handle.nreferences:
            names = list(handle.references)
            raise StaleIndexError(
                f"the index {index} does not match {path}: it describes {n_index} reference "
                f"sequences, the BAM header {handle.nreferences} ({names[:5]}"
                f"{' ...' if len(names) > 5 else ''}); the index belongs to another BAM file "
                f"(or an earlier version of this one); {_fix(path)}")
        _probe(handle, path, index)
        _check_header(handle, path)
    finally:
        _close(handle)


def _probe_tail(handle: Any, path: str, index: str, tid: int) -> None:
    """Read through the index the reads of the last stretch of reference ``tid`` (the last
    reference with reads: the end of the file's mapped reads) that holds any (windows of
    1 kb, 4 kb, ... from its end), then on in file order from where the index's reach
    ends: no read of ``tid`` there may reach into the window. The index of another BAM
    file that shares this file's first reads (the same header, then reads added) ends
    its last chunk where the other file's reads end: the reads past it were never
    fetched (93 of 133 counted in a window, silently), while the first reads of each
    reference pass every other check. Reads of ``tid`` there that end before the window
    are skipped (up to :data:`_TAIL_SCAN` records): short reads after a long one reaching
    into the window lie in bins the query does not visit, in a valid index."""
    from genozarr.io._handles import captured_stderr

    name, length = handle.references[tid], int(handle.lengths[tid])
    span = 1 << 10
    with captured_stderr() as err:
        try:
            while True:
                start = max(0, length - span)
                found = False
                for read in handle.fetch(tid=tid, start=start, stop=length):
                    found = True
                    if read.reference_id != tid:
                        raise StaleIndexError(
                            f"the index {index} does not match {path}: where it places the "
                            f"reads of {name}:{start}-{length}, the BAM has a read on "
                            f"reference id {read.reference_id}; the index belongs to another "
                            f"BAM file (or an earlier version of this one); {_fix(path)}")
                if found or start == 0:
                    break
                span *= 4
            if not found:
                return
            # where the index's chunks end, read on in file order: reads of tid that end
            # before the window are legitimately outside the chunks fetched (short reads
            # after a long one that reaches into the window, in bins the query does not
            # visit); one that reaches into the window was missed. (A read an aligner
            # placed past the chromosome end, after the window, is not in it: the fetch
            # stops at the first such read, and they count 0.)
            handle.seek(handle.tell())
            after = None
            for _, record in zip(range(_TAIL_SCAN), handle):
                if record.reference_id != tid:
                    break
                end = record.reference_end if record.reference_end is not None else \
                    record.reference_start + 1
                if end > start and record.reference_start < length:
                    after = record
                    break
        except (OSError, ValueError) as e:
            raise MalformedFileError(
                f"{path}: the reads its index {index} places at the end of {name} cannot be "
                f"read ({err.reason(str(e))}): the index belongs to another BAM file (or an "
                "earlier version of this one), or the BAM file is truncated or corrupt; "
                f"check it with 'samtools quickcheck {path}' and {_fix(path)}") from e
    if after is not None and after.reference_id == tid:
        raise StaleIndexError(
            f"the index {index} does not match {path}: it ends the reads of {name} before "
            f"the BAM does (a read at {name}:{after.reference_start} lies past the last one "
            "it reaches); the index belongs to another BAM file (or an earlier version of "
            f"this one, with reads added since); {_fix(path)}")


#: ``id(handle) -> (handle, {name: tid}, lengths)`` of the BAM handles read last
_reference_tables: OrderedDict[int, tuple[Any, dict[str, int], tuple[int, ...]]] = \
    OrderedDict()
_reference_lock = threading.Lock()


def _forget_references() -> None:
    """After ``fork``: a fresh lock (the parent's may have been held by another thread)
    and no tables (the child opens handles of its own)."""
    global _reference_lock
    _reference_tables.clear()
    _reference_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_references)


def _references(bam: Any) -> tuple[dict[str, int], tuple[int, ...]]:
    """``({name: tid}, lengths)`` of an open BAM handle's binary reference list, made once
    per handle: pysam builds its tuples of names and lengths at each access, so a lookup
    in them cost a pass over every reference (minutes per build of a genome of 100,000
    contigs). The first of two references of one name is kept, as ``list.index``."""
    key = id(bam)
    with _reference_lock:
        entry = _reference_tables.get(key)
        if entry is not None and entry[0] is bam:
            _reference_tables.move_to_end(key)
            return entry[1], entry[2]
    tids: dict[str, int] = {}
    for tid, name in enumerate(bam.references):
        tids.setdefault(name, tid)
    lengths = tuple(int(n) for n in bam.lengths)
    with _reference_lock:
        _reference_tables[key] = (bam, tids, lengths)
        while len(_reference_tables) > 64:
            _reference_tables.popitem(last=False)
    return tids, lengths


def _probe(handle: Any, path: str, index: str) -> None:
    """Read the first read of each reference the index lists reads for: it must be there;
    and the reads at the end of the last such reference (:func:`_probe_tail`)."""
    from genozarr.io._handles import captured_stderr

    with_reads = [(tid, st.mapped) for tid, st in enumerate(handle.get_index_statistics())
                  if st.mapped > 0]
    # (pysam builds the tuples of names and lengths at each access: read them once)
    names, lengths = handle.references, handle.lengths
    too_long = [(names[tid], int(lengths[tid])) for tid, _ in with_reads
                if int(lengths[tid]) > HTS_MAX_LENGTH]
    if too_long:  # (htslib reads no position past it: every read below failed as corrupt;
        # a reference without reads is read by no one)
        raise InputFileError(
            f"{path}: reference {too_long[0][0]!r} has {too_long[0][1]} bases, more than the "
            f"2**31 - 1 = {HTS_MAX_LENGTH} a SAM/BAM reference may have (the SAM "
            "specification's limit, which htslib reads up to): split it into pieces of at "
            "most that length")
    if with_reads:
        _probe_tail(handle, path, index, with_reads[-1][0])
    if len(with_reads) > _MAX_PROBES:
        picks = np.unique(np.linspace(0, len(with_reads) - 1, _MAX_PROBES).astype(int))
        with_reads = [with_reads[i] for i in picks]
    for tid, mapped in with_reads:
        name = names[tid]
        with captured_stderr() as err:
            try:
                read = next(handle.fetch(tid=tid), None)
            except (OSError, ValueError) as e:
                read, failure = None, str(e)
            else:
                failure = ""
        if read is None and not (failure or err.text):
            raise StaleIndexError(
                f"the index {index} does not match {path}: it lists {mapped} reads on {name}, "
                f"but where it places them the BAM has no read on {name}; the index belongs "
                f"to another BAM file (or an earlier version of this one); {_fix(path)}")
        if read is None:
            failure = f" ({err.reason(failure)})"
            raise MalformedFileError(
                f"{path}: its index {index} lists {mapped} reads on {name}, but none can be "
                f"read there{failure}: the BAM file is truncated or corrupt, or the index "
                f"belongs to another file; check the BAM with 'samtools quickcheck {path}' "
                f"and {_fix(path)}")
        # (a read placed past the chromosome end, as aligners do on a circular chrM or a
        # BAM reheadered to shorter contigs, is where a whole-reference fetch finds it;
        # it counts 0)
        if read.reference_id != tid or read.reference_start < 0:
            where = (names[read.reference_id] if 0 <= read.reference_id < len(names)
                     else f"reference id {read.reference_id}")
            raise StaleIndexError(
                f"the index {index} does not match {path}: where it places the reads of "
                f"{name} (length {lengths[tid]}), the BAM has a read on {where} at "
                f"{read.reference_start}; the index belongs to another BAM file (or an "
                f"earlier version of this one); {_fix(path)}")


def _bad_header_line(handle: Any) -> str | None:
    """The first header line (not @SQ) that htslib cannot parse on its own, numbered."""
    import pysam

    from genozarr.io._handles import captured_stderr

    try:
        text = str(handle.header)
    except Exception:  # the raw text should always be there; without it nothing to name
        return None
    for number, line in enumerate(text.splitlines()[:10000], start=1):
        if not line.strip() or line.startswith("@SQ\t"):
            continue
        probe = pysam.AlignmentHeader.from_text(f"@SQ\tSN:x\tLN:1\n{line}\n")
        with captured_stderr():
            try:
                probe.get_tid("x")
            except ValueError:
                return f"line {number}: {line!r}"
    return None


def _check_header(handle: Any, path: str) -> None:
    """Warn once if htslib cannot parse the header text (names then cannot be looked up)."""
    from genozarr.io._handles import captured_stderr

    if not handle.nreferences or path in _header_warned:
        return
    with captured_stderr() as err:
        try:
            handle.get_tid(handle.references[0])
        except ValueError as e:
            failure: Exception | None = e
        else:
            failure = None
    if failure is None:
        return
    _header_warned.add(path)
    line = _bad_header_line(handle)
    reason = err.reason(str(failure))
    warn(f"{path}: htslib cannot parse the BAM header text"
         f"{' at ' + line if line else ''} ({reason}); genozarr reads this file by reference "
         "index, which does not need the header text, so counts are unaffected. To fix the "
         f"file, correct that line ('samtools view -H {path}' shows the header) and replace "
         "the header with 'samtools reheader'", MalformedHeaderWarning)


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

    from genozarr.io._handles import captured_stderr, check_input_file
    from genozarr.io._remote import display_url, is_url

    if is_url(path):
        raise ArgumentError(
            f"{display_url(str(path))} is a URL: index the BAM file where it is stored "
            "('samtools index') and put the index next to it")
    path = os.fspath(path)
    check_input_file(path, "BAM")
    with captured_stderr() as err:
        try:
            pysam.index(path)
        except pysam.utils.SamtoolsError as e:
            failure: Exception | None = e
        else:
            failure = None
    if failure is not None:
        raise InputFileError(f"{path}: cannot be indexed (is it a coordinate-sorted BAM?): "
                             f"{err.reason(str(failure))}") from failure
    return path + ".bai"


def bam_chrom_sizes(path: str | os.PathLike) -> dict[str, int]:
    """Reference sequence lengths from a BAM header.

    Parameters
    ----------
    path
        BAM file (no index needed), or its URL.

    Returns
    -------
    dict
        ``{chrom: length}`` in header order.
    """
    from genozarr.io._handles import check_input_file
    from genozarr.io._remote import localize

    path = localize(path, "bam")
    check_input_file(path, "BAM")
    handle = _open(path)
    try:
        return dict(zip(handle.references, (int(n) for n in handle.lengths)))
    finally:
        _close(handle)


def mapped_reads(path: str | os.PathLike) -> int | None:
    """Mapped reads of an indexed BAM file as its index counts them (no read is decoded),
    or None where the index keeps no such counts.

    Parameters
    ----------
    path
        BAM file with an index (see :func:`check_bam`), or its URL.

    Returns
    -------
    int or None
    """
    from genozarr.io._handles import get_handle

    bam = get_handle("bam", check_bam(os.fspath(path)))
    try:
        return int(sum(s.mapped for s in bam.get_index_statistics()))
    except (ValueError, AttributeError, OSError):  # no counts in this index
        return None


#: the ``pairedend`` values of :func:`count_5prime`
PAIREDEND_MODES = ("5prime", "midpoint")

#: ``count_5prime(..., all_midpoints=True)``: bases fetched beyond both ends of a block at
#: least (fragments up to twice as long are found in one pass)
MIDPOINT_REACH = 1024


def count_5prime(path: str | os.PathLike, chrom: str, start: int, end: int, *,
                 min_mapq: float | None = None, pairedend: str = "5prime",
                 template_extension: int = 0, include_flagged: bool = False,
                 resolution: int = 1, all_midpoints: bool = False) -> np.ndarray:
    """Count reads at their 5' ends (or fragment midpoints) in ``[start, end)``.

    Parameters
    ----------
    path
        Indexed BAM file, or its URL (read through its local copy).
    chrom
        Chromosome as spelled in the BAM header.
    start, end
        0-based half-open window; parts outside the chromosome count 0.
    min_mapq
        Skip reads with a lower mapping quality.
    pairedend
        ``'5prime'``: every read of a proper pair counts at its own 5' end, both mates (as
        Janggu 0.10.2, which counts a read at its fragment's 5' end: the same base unless
        the mates overhang each other). ``'midpoint'``: read 1 of each proper pair counts
        once at the fragment midpoint ``min(start, mate start) + |TLEN| // 2``, on read
        1's strand; read 2 is not counted. Unpaired reads always count at their 5' end.
    template_extension
        Fetch reads this far beyond both window ends, so midpoints inside the window of
        fragments whose read 1 lies outside are found (with ``all_midpoints``: at least
        this far).
    include_flagged
        Also count QC-failed (0x200) and duplicate (0x400) reads.
    resolution
        Bases per bin of the result.
    all_midpoints
        ``'midpoint'``: count every fragment whose midpoint lies in ``[start, end)``,
        wherever its read 1 lies: reads are fetched at least :data:`MIDPOINT_REACH`
        bases beyond both ends, and again farther when a fragment seen there is longer
        than twice the reach. For blocks of a chromosome read one after another (the
        whole-genome layout), whose ends are not the user's: a fragment across two blocks
        counts once, in the block of its midpoint. A fragment longer than twice the reach
        whose read 1 lies beyond it is found only where a fragment fetched is long enough
        to widen the fetch to it: ``template_extension`` (half the longest fragment)
        makes the reach long enough for every one.

    Returns
    -------
    numpy.ndarray
        int32 of shape ``(ceil((end - start) / resolution), 2)``: forward, reverse counts.

    Raises
    ------
    ChromosomeNotFoundError
        If ``chrom`` is not in the BAM header (looked up in the binary reference list, so a
        header text htslib cannot parse does not hide it).
    MissingIndexError
        If the BAM file has no index.
    StaleIndexError
        If the index is older than the BAM or does not match it (see :func:`check_bam`).
    MalformedFileError
        For a truncated or corrupt BAM file, or a mapped reverse read without CIGAR.
    RegionError
        If the window runs absurdly far past the chromosome
        (:func:`genozarr.genome.check_span`).
    """
    from genozarr.genome import check_span
    from genozarr.io._handles import get_handle

    if pairedend not in PAIREDEND_MODES:
        raise ArgumentError(f"pairedend must be '5prime' or 'midpoint', got {pairedend!r}")
    path = check_bam(os.fspath(path))
    bam = get_handle("bam", path)
    # names are looked up in the binary reference list, never through htslib's parsed
    # header text: a header line htslib cannot parse would make every name lookup fail
    tids, lengths = _references(bam)
    tid = tids.get(chrom)
    if tid is None:
        raise ChromosomeNotFoundError(
            f"{path}: chromosome {chrom!r} not in the BAM header; it has "
            f"{list(tids)[:10]}") from None
    length = lengths[tid]
    check_span(chrom, start, end, length, path)
    ext = max(int(template_extension), 0)
    midpoint = pairedend == "midpoint"
    if midpoint and all_midpoints:
        ext = max(ext, MIDPOINT_REACH)
    skip = ALWAYS_SKIPPED | (0 if include_flagged else SKIPPED_UNLESS_INCLUDED)
    # at least min_mapq: a fractional threshold rounds up (20.5 keeps MAPQ 21, not 20)
    mapq = None if min_mapq is None else math.ceil(float(min_mapq))
    mapq = None if mapq is None or mapq <= 0 else mapq
    try:
        while True:
            # (a read placed past the chromosome end, as aligners place some on a
            # circular chrM, is fetched too: its fragment's midpoint may lie inside)
            # (htslib takes no stop past 2**31 - 1)
            lo, hi = max(start - ext, 0), min(end + ext, HTS_MAX_LENGTH if midpoint else length)
            flags, positions, quals, longest = _scan(bam, path, chrom, tid, lo, hi,
                                                     midpoint=midpoint, skip=skip,
                                                     mapq=mapq)
            # a fragment whose midpoint is inside has its read 1 within half its length
            # of it; its other read is then among those fetched: fetch farther where a
            # fragment seen is longer than twice the reach
            if not (midpoint and all_midpoints) or longest // 2 + 1 <= ext:
                break
            ext = longest // 2 + 1
    except GenozarrError:
        raise
    except ValueError as e:  # "fetch called on bamfile without index": the index went away
        from genozarr.io._handles import close_handles

        close_handles(path)
        raise MissingIndexError(f"{path}: its index ({find_bam_index(path) or 'none found'}) "
                                f"cannot be used ({e}); {_fix(path)}") from e
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
    n = end - start
    nbins = -(-n // resolution)
    offset = positions[keep] - start
    reverse = (flags[keep] & 0x10) != 0
    # an aligner may place a read past the chromosome end (chrM is circular): what lies
    # past it counts 0 here, as in the whole-genome layout
    inside = (offset >= 0) & (offset < min(n, length - start))
    if not inside.all():
        offset, reverse = offset[inside], reverse[inside]
    if resolution > 1:
        offset //= resolution
    # both strands in one count, bin by bin (forward, reverse): one pass, no strided writes
    counts = np.bincount(2 * offset + reverse, minlength=2 * nbins)
    return counts.astype(np.int32).reshape(nbins, 2)


#: synthetic flag bit set by :func:`_scan` on paired reads whose mate maps to another chromosome
_MATE_ELSEWHERE = 0x10000


def _scan(bam: Any, path: str, chrom: str, tid: int, lo: int, hi: int, *, midpoint: bool,
          skip: int = 0, mapq: int | None = None,
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, int]:
    """Flags, counting positions and (with ``mapq``) MAPQs of the reads fetched on
    ``[lo, hi)``, and (``midpoint``) the longest fragment (``|TLEN|``) among them of a read
    that counts at its midpoint: read 1 of a proper pair on this chromosome, none of whose
    flags is in ``skip``, of mapping quality ``mapq`` or more (0 when there is none).
    Improper pairs (whose TLEN may span a chromosome) do not make a window fetch farther.

    The Python loop reads as few attributes per read as it can (flag and one position;
    mate fields only for paired reads) and appends to lists (faster than item assignment
    into numpy arrays); the filtering is vectorised by the caller. The position is the 5'
    end (``reference_start``, or ``reference_end - 1`` for mapped reverse reads), or the
    fragment midpoint for read 1 of a pair when ``midpoint`` is set. A paired read whose
    mate lies on another chromosome gets the synthetic flag bit ``_MATE_ELSEWHERE``.
    Reads are fetched by reference id (``tid``), which works even when htslib cannot parse
    the header text. A mapped reverse read without CIGAR has no 5' end: MalformedFileError.
    """
    flags: list[int] = []
    positions: list[int] = []
    quals: list[int] = []
    with_mapq = mapq is not None
    longest = 0
    if hi <= lo:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, (empty if with_mapq else None), longest
    add_flag, add_pos, add_q = flags.append, positions.append, quals.append
    read = None
    try:
        for read in bam.fetch(tid=tid, start=lo, stop=hi):
            flag = read.flag
            if with_mapq:
                add_q(read.mapping_quality)
            if flag & 0x1:
                if read.next_reference_id != tid:
                    flag |= _MATE_ELSEWHERE
                elif midpoint:
                    size = abs(read.template_length)
                    if size > longest and flag & 0x42 == 0x42 and not flag & skip and (
                            not with_mapq or read.mapping_quality >= mapq):
                        longest = size
                    if flag & 0x40:
                        add_flag(flag)
                        add_pos(min(read.reference_start, read.next_reference_start)
                                + size // 2)
                        continue
            add_flag(flag)
            add_pos(read.reference_end - 1 if flag & 0x14 == 0x10 else read.reference_start)
    except TypeError as e:  # reference_end is None: a mapped read without CIGAR
        if read is None or read.reference_end is not None:
            raise
        raise MalformedFileError(
            f"{path}: read {read.query_name!r} at {chrom}:{read.reference_start + 1} (flag "
            f"{read.flag}) is mapped to the reverse strand but has no CIGAR ('*'), so its 5' "
            "end (its last aligned base) is unknown. Remove such reads, e.g. 'samtools view "
            f"-b -e \"ncigar > 0 || flag.unmap\" -o fixed.bam {path}', and index the "
            "result") from e
    return (np.array(flags, dtype=np.int64), np.array(positions, dtype=np.int64),
            np.array(quals, dtype=np.int64) if with_mapq else None, longest)

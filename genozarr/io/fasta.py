"""FASTA reading through :mod:`pysam` (``.fai`` index, random access, plain iteration)."""

from __future__ import annotations

import contextlib
import os
import re
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from genozarr.errors import (
    ChromosomeNotFoundError,
    InputFileError,
    MalformedFileError,
    MissingIndexError,
    RegionError,
    StaleIndexError,
    get_logger,
)
from genozarr.io._handles import HTS_MAX_LENGTH, CheckedFiles, is_gzip, open_bytes

__all__ = ["ensure_fai", "fasta_chrom_sizes", "read_sequence", "iter_fasta_records",
           "is_seqrecords", "iter_seqrecords", "seqrecords_as_fasta", "seqrecords_seqtype"]

logger = get_logger(__name__)

#: at most this many records of a ``.fai`` are checked against a plain (or bgzip) FASTA,
#: evenly spaced: a bgzip check decompresses a block per read
_MAX_CHECKED_RECORDS = {False: 4096, True: 1024}

#: bytes that are no bases inside a sequence line
_BLANKS = b" \t\r\v\f"

# the FASTA files whose indexes were checked in this process, with the signatures of the
# FASTA, .fai and .gzi then
_checked = CheckedFiles()


def ensure_fai(path: str | os.PathLike) -> str:
    """Make sure a FASTA file has a ``.fai`` index that matches it, building it with
    ``pysam.faidx`` when it is missing or stale.

    An existing ``.fai`` (and, for a bgzip file, ``.gzi``) is used only if it is no older
    than the FASTA and its records match the FASTA's layout: before each recorded offset
    lies a line ``>name``, the first sequence line holds bases only, and the recorded
    length ends where a sequence line ends, with no more sequence after it (checked
    for every record, or for 4096 evenly spaced ones; 1024 for a bgzip file). A copy of
    another FASTA made with ``cp -p`` or ``rsync`` keeps an old date but fails this check.
    A stale index is rebuilt under a temporary name and renamed into place. The check runs
    once per process for a given FASTA and index (path, size, modification time).

    For a URL (``http(s)://``, ``s3://``) the local copy in the input cache is indexed,
    with the ``.fai`` and ``.gzi`` found next to the URL (see :mod:`genozarr.io._remote`).

    Parameters
    ----------
    path
        Plain or bgzip-compressed FASTA file, or its URL.

    Returns
    -------
    str
        Path of the index.

    Raises
    ------
    InputFileError
        If the file does not exist (``NotAFileError`` for a directory,
        ``UnreadableFileError`` when it or its index cannot be read).
    MissingIndexError
        If there is no index and it cannot be built (e.g. a gzip, not bgzip, file, a
        ragged FASTA, or a read-only directory); the message gives htslib's reason and
        how to fix it.
    StaleIndexError
        If the index is stale (older than the FASTA, or not matching it) and cannot be
        rebuilt; the message names both files.
    MalformedFileError
        If a sequence name occurs twice, or the index htslib builds does not fit the file
        (blanks inside sequence lines: htslib counts printable characters as bases but
        reads by byte offset), checked when the index is built.
    """
    from genozarr.io._handles import check_input_file, file_signature
    from genozarr.io._remote import localize

    path = localize(path, "fasta")  # a URL: its local copy, with the .fai/.gzi found
    check_input_file(path, "FASTA")
    fai = path + ".fai"
    compressed = is_gzip(path)
    gzi = path + ".gzi" if compressed else None

    def signature() -> tuple[Any, ...]:
        return (file_signature(path), file_signature(fai),
                file_signature(gzi) if gzi else None)

    if (path, signature()) in _checked:
        return fai
    stale = None
    if os.path.exists(fai):
        check_input_file(fai, "FASTA index", of=path)
        if gzi and os.path.exists(gzi):
            check_input_file(gzi, "BGZF index", of=path)
        stale = _stale_reason(path, fai, gzi)
        if stale is None:
            _checked.add(path, signature())
            return fai
        logger.info("%s: rebuilding its index: %s", path, stale)
    _build_fai(path, fai, gzi, stale)
    _checked.add(path, signature())
    return fai


def _build_fai(path: str, fai: str, gzi: str | None, stale: str | None) -> None:
    """Index ``path`` with ``pysam.faidx`` under temporary names, then rename into place."""
    import pysam

    from genozarr.io._handles import captured_stderr

    logger.info("indexing %s", path)
    # build under temporary names and rename into place, so that a concurrent reader (or
    # an interrupted build) never sees a partial index
    tag = f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    outputs = {fai: fai + tag}
    if gzi:
        outputs[gzi] = gzi + tag
    try:
        args = [path, "--fai-idx", outputs[fai]]
        if gzi:
            args += ["--gzi-idx", outputs[gzi]]
        with captured_stderr() as err:
            try:
                pysam.faidx(*args)
            except (pysam.utils.SamtoolsError, OSError) as e:
                failure: Exception | None = e
            else:
                failure = None
        if failure is not None:
            problem, read_only = _index_problem(path, fai, err.reason(str(failure)))
            if "truncated" in problem and (last := _empty_last_record(path)) is not None:
                problem = (f"its last record {last!r} holds no bases (a header line ends the "
                           f"file), which htslib cannot index ({problem}): remove that "
                           "header, or give its sequence")
            if stale is not None:
                cls = StaleIndexError if read_only else MissingIndexError
                raise cls(f"the index {fai} of {path} is stale ({stale}) and could not be "
                          f"rebuilt: {problem}") from failure
            raise MissingIndexError(f"{path}: no usable .fai index and it could not be "
                                    f"built: {problem}") from failure
        n_headers = _count_headers(path)
        with open(outputs[fai], "rb") as fh:
            n_indexed = sum(1 for line in fh if line.strip())
        if n_headers > n_indexed:
            names = _duplicate_names(path)
            if names:  # faidx would keep only the first record of each name
                raise MalformedFileError(
                    f"{path}: sequence name(s) {names[:5]} occur more than once; names must "
                    "be unique (rename the duplicates)")
        problem = _stale_reason(path, outputs[fai], outputs.get(gzi) if gzi else None,
                                check_age=False) or _blank_before_a_base(path)
        if problem is not None:  # htslib counts only printable characters as bases
            # (said of the index just built: not its temporary name, nor a guess that the
            # file changed since)
            detail = problem.split(f"{path}: ", 1)[-1].replace(outputs[fai], fai)
            detail = detail.removesuffix("; a record added since the index was made?")
            raise MalformedFileError(
                f"{path}: cannot be read by position: the index htslib builds for it does not "
                f"fit the file ({detail}); a record's sequence "
                "lines must hold bases only, no blanks, all of one length but the last")
        for final, tmp in sorted(outputs.items(), key=lambda kv: kv[0] == fai):  # .fai last
            os.replace(tmp, final)
    finally:  # (on a read-only file system, unlinking a file never made is EROFS, not
        # ENOENT: it replaced the MissingIndexError that names the cause, an audit)
        for tmp in outputs.values():
            with contextlib.suppress(OSError):
                Path(tmp).unlink()


def _empty_last_record(path: str) -> str | None:
    """The name of a FASTA file's last record where it holds no bases (its header is the
    file's last line holding text), else None."""
    import gzip

    last = b""
    try:
        if is_gzip(path):
            with gzip.open(path, "rb") as fh:
                for line in fh:
                    if line.strip():
                        last = line
        else:
            with open(path, "rb") as fh:
                fh.seek(max(0, os.path.getsize(path) - 65536))
                lines = [line for line in fh.read().splitlines() if line.strip()]
                last = lines[-1] if lines else b""
    except (OSError, EOFError, zlib.error):
        return None
    if not last.startswith(b">"):
        return None
    fields = last[1:].split()
    return fields[0].decode("utf-8", "replace") if fields else ""


#: bytes of a FASTA file :func:`_blank_before_a_base` looks at at once
_SCAN_BYTES = 16 * 2**20
_IS_BLANK = np.zeros(256, dtype=bool)
_IS_BLANK[list(_BLANKS)] = True
#: a blank, or a line end: what may follow a blank in a sequence line
_BLANK_OR_END = _IS_BLANK.copy()
_BLANK_OR_END[ord("\n")] = True


def _blank_before_a_base(path: str) -> str | None:
    """The first sequence line of ``path`` holding a blank before a base (``'A CTG'``,
    ``' ACGT'``), as 'line N holds a blank before a base: ...', or None. Blanks after a
    line's last base are harmless when every line has them alike (htslib counts them in
    the line width); one before a base shifts every position read by offset. The whole
    file is read once, when its index is built (numpy over blocks of
    :data:`_SCAN_BYTES`, however long its lines; header lines, which may hold blanks, are
    left out)."""
    line0 = 0  # lines before the block
    header = False  # whether the line running into the block is a header line
    prev = ord("\n")  # the byte before the block
    with open_bytes(path) as fh:
        while True:
            block = fh.read(_SCAN_BYTES)
            if not block:
                return None
            arr = np.frombuffer(block, dtype=np.uint8)
            if prev == ord("\n"):  # a line starts with the block
                header = arr[0] == ord(">")
            # a blank whose next byte is neither a blank nor a line end (position p - 1
            # for the pair that straddles the blocks; a blank at the file's end is fine).
            # (blanks, line ends and other control bytes are all below 33, bases above:
            # most blocks hold none but their line ends, found in two passes)
            newline = arr == 10
            ends = np.flatnonzero(newline)
            bad: Any = ()
            low = arr < 33
            if _IS_BLANK[prev] or np.count_nonzero(low) != len(ends):
                blank = np.flatnonzero(low & ~newline)
                blank = blank[_IS_BLANK[arr[blank]]]
                nxt = arr[np.minimum(blank + 1, len(arr) - 1)]
                bad = blank[~_BLANK_OR_END[nxt] & (blank + 1 < len(arr))] + 1
                if _IS_BLANK[prev] and not _BLANK_OR_END[arr[0]]:
                    bad = np.r_[0, bad]
            if len(bad):
                line = np.searchsorted(ends, bad)  # (bad is the pair's second byte)
                starts = np.r_[0, ends + 1][line]
                in_header = np.where(line == 0, header, arr[np.minimum(starts, len(arr) - 1)]
                                     == ord(">"))
                if not in_header.all():
                    k = int(np.flatnonzero(~in_header)[0])
                    stop = block.find(b"\n", int(starts[k]))
                    shown = block[int(starts[k]):stop if stop >= 0 else None][:60]
                    return (f"line {line0 + int(line[k]) + 1} holds a blank before a base: "
                            f"{shown.decode('utf-8', 'replace')!r}")
            if len(ends):
                line0 += len(ends)
                if ends[-1] + 1 < len(arr):
                    header = arr[ends[-1] + 1] == ord(">")
            prev = int(arr[-1])


class _Uncompressed:
    """Random access to the uncompressed bytes of a plain or bgzip file (with its .gzi)."""

    def __init__(self, path: str, gzi: str | None) -> None:
        self._gzi = gzi
        if gzi is None:
            self._fd = os.open(path, os.O_RDONLY)
            return
        import pysam.libcbgzf

        entries = np.fromfile(gzi, dtype="<u8")
        if entries.size == 0 or entries.size != 1 + 2 * int(entries[0]):
            raise ValueError(f"{gzi} is not a BGZF index (.gzi) or is truncated")
        pairs = entries[1:].reshape(-1, 2)
        # the first block, at (0, 0), is implicit in the .gzi
        self._compressed = np.concatenate([[0], pairs[:, 0]]).astype(np.uint64)
        self._uncompressed = np.concatenate([[0], pairs[:, 1]]).astype(np.int64)
        self._fh = pysam.libcbgzf.BGZFile(path, "rb")

    def read(self, offset: int, n: int) -> bytes:
        if self._gzi is None:
            return os.pread(self._fd, n, offset)
        block = int(np.searchsorted(self._uncompressed, offset, side="right")) - 1
        within = offset - int(self._uncompressed[block])
        if within >= 1 << 16:  # no BGZF block is that long: the .gzi does not cover it
            return b""
        self._fh.seek((int(self._compressed[block]) << 16) | within)
        return self._fh.read(n)

    def close(self) -> None:
        if self._gzi is None:
            os.close(self._fd)
        else:
            self._fh.close()


def _stale_reason(path: str, fai: str, gzi: str | None,
                  check_age: bool = True) -> str | None:
    """Why the ``.fai`` (or ``.gzi``) of ``path`` cannot be trusted, or None if it matches
    (``check_age=False``: its records only, not the files' dates)."""
    data_ns = os.stat(path).st_mtime_ns
    if check_age and os.stat(fai).st_mtime_ns < data_ns:
        return f"{fai} is older than {path}"
    if gzi is not None:
        if not os.path.exists(gzi):
            return f"{path} is bgzip-compressed but has no {gzi}"
        if check_age and os.stat(gzi).st_mtime_ns < data_ns:
            return f"{gzi} is older than {path}"
    with open(fai, "rb") as fh:
        lines = [(number, line) for number, line in enumerate(fh, start=1) if line.strip()]
    if not lines:
        return f"{fai} is empty"
    picks: Any = range(len(lines))
    most = _MAX_CHECKED_RECORDS[gzi is not None]
    if len(lines) > most:
        picks = np.unique(np.linspace(0, len(lines) - 1, most).astype(int))
    records = []
    for i in picks:
        number, line = lines[int(i)]
        fields = line.rstrip(b"\r\n").split(b"\t")
        try:
            name, length, offset, linebases, linewidth = (
                fields[0], *(int(f) for f in fields[1:5]))
        except ValueError:
            return f"{fai} line {number} is not a .fai record: {line[:80]!r}"
        records.append((name, length, offset, linebases, linewidth))
    last = None  # the record that starts last in the file (a .fai in any order)
    for number, line in lines:
        fields = line.rstrip(b"\r\n").split(b"\t")
        try:
            record = (int(fields[2]), int(fields[1]), int(fields[3]), int(fields[4]))
        except (ValueError, IndexError):
            return f"{fai} line {number} is not a .fai record: {line[:80]!r}"
        if last is None or record[0] > last[0][0]:
            last = (record, fields[0])
    assert last is not None
    (offset, length, linebases, linewidth), name = last
    end = offset + (length // linebases) * linewidth + length % linebases \
        if linebases > 0 else offset
    from genozarr.io._handles import captured_stderr

    # (htslib prints a stale .gzi's bad block offsets: kept out of the user's terminal,
    # as the index is rebuilt)
    with captured_stderr():
        return _tail_and_records_problem(path, fai, gzi, end, name, records)


def _tail_and_records_problem(path: str, fai: str, gzi: str | None, end: int, name: bytes,
                              records: list[tuple[bytes, int, int, int, int]]) -> str | None:
    """:func:`_stale_reason`'s checks of the file's content: nothing after the last record
    (at uncompressed offset ``end``), and each of ``records`` where the index says."""
    try:
        reader = _Uncompressed(path, gzi)
    except (OSError, ValueError) as e:
        return f"{gzi or path} cannot be read: {e}"
    try:
        # line ends checked per record: up to 8, fewer where there are many records, at
        # least 1 (in a bgzip file each may cost a block's decompression: fewer sooner)
        budget = (4096 if gzi is None else 512) // max(len(records), 1)
        lines = min(8, max(budget, 1))
        for record in records:
            problem = _record_problem(reader, *record, lines=lines)
            if problem:
                return f"{fai} does not match {path}: {problem}"
        # nothing but line ends after the last record it lists (a record appended since
        # the index was made: its sequence would be missing silently; in a bgzip file the
        # blocks before it are the same, so the old .gzi still reaches it). Read last:
        # without a final line end, `end` lies one past the data, where BGZF refuses to
        # seek (OSError): nothing follows there
        try:
            tail = reader.read(end, 1 << 16)
        except OSError:
            tail = b""
        if tail.strip():
            return (f"{path} holds more after the last record of {fai} "
                    f"({name.decode(errors='replace')!r}): {tail.strip()[:40]!r}; "
                    "a record added since the index was made?")
    except (OSError, ValueError) as e:
        return f"{fai} cannot be checked against {path}: {e}"
    finally:
        try:
            reader.close()
        except OSError:  # htslib's close reports the read error already returned
            pass
    return None


def _record_problem(reader: _Uncompressed, name: bytes, length: int, offset: int,
                    linebases: int, linewidth: int, lines: int = 8) -> str | None:
    """Whether one ``.fai`` record fits the file: a ``>name`` line ends just before
    ``offset``, ``lines`` sequence lines spread over the record end where the index says,
    and the last base ends a line."""
    shown = name.decode("utf-8", "replace")
    if length < 0 or offset <= 0 or (length and (linebases <= 0 or linewidth < linebases)):
        return f"record {shown!r} has impossible values (length {length}, offset {offset})"
    look = 256
    while True:
        lo = max(0, offset - look)
        chunk = reader.read(lo, offset - lo)
        if len(chunk) != offset - lo or not chunk.endswith(b"\n"):
            return (f"record {shown!r}: the byte before its offset {offset} is not the end of "
                    "a header line")
        newline = chunk.rfind(b"\n", 0, len(chunk) - 1)
        if newline >= 0 or lo == 0:
            break
        if look >= 1 << 20:
            return f"record {shown!r}: no header line found before offset {offset}"
        look *= 16
    header = chunk[newline + 1:].rstrip(b"\r\n")
    if not header.startswith(b">") or header[1:].split()[:1] != [name]:
        return (f"record {shown!r}: the line before its offset {offset} is "
                f"{header[:60].decode('utf-8', 'replace')!r}, not '>{shown}'")
    if length:  # the first line: bases, then blanks (if any) up to its line end
        n = min(linebases, length)
        first = reader.read(offset, n + max(linewidth - linebases, 1))
        bases, rest = first[:n], first[n:]
        if bases.translate(None, _BLANKS) != bases or rest.strip() or \
                (rest and not rest.endswith(b"\n")):
            return (f"record {shown!r}: its first sequence line is not {linebases} bases "
                    f"and a line end: {first[:60]!r}")
        # line ends inside the record, at lines spread over it (one: the middle one): a
        # line of another length (an uneven file of the same size, as `cp -p` leaves it,
        # so with another line of the other length) moves the line ends between them
        full = (length - 1) // linebases  # lines before the last one
        n = min(lines, full - 1)
        for k in sorted({int(k) for k in ([full // 2] if n == 1 else
                                          np.linspace(1, full - 1, n))} if n > 0 else ()):
            end = offset + k * linewidth + linebases  # its last base, blanks, line end
            got = reader.read(end - 1, linewidth - linebases + 1)
            if len(got) != linewidth - linebases + 1 or got[:1].isspace() \
                    or got[:1] == b">" or got[1:].strip() or not got.endswith(b"\n"):
                return (f"record {shown!r}: its sequence line {k + 1} does not end after "
                        f"{linebases} bases, as the index records")
        last = offset + ((length - 1) // linebases) * linewidth + (length - 1) % linebases
        tail = reader.read(last, 256)
        line_end, _, after = tail[1:].partition(b"\n")
        if (not tail or tail[:1] in (b"\n", b"\r", b">") or tail[:1].isspace()
                or line_end.strip()):
            return (f"record {shown!r}: its recorded length {length} does not end at the end "
                    "of a sequence line")
        after = after.lstrip()
        if after and not after.startswith(b">"):  # more bases after the recorded length
            return (f"record {shown!r}: more sequence follows its recorded length {length} "
                    f"({after[:20]!r})")
    return None


def _index_problem(path: str, fai: str, reason: str) -> tuple[str, bool]:
    """Why ``samtools faidx`` could not index ``path``, with the fix; and whether the
    cause is a read-only directory."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head[:2] == b"\x1f\x8b":
        if len(head) < 4 or not head[3] & 0x04:  # no FEXTRA field: plain gzip, not BGZF blocks
            plain = path[:-3] if path.endswith(".gz") else path + ".fa"
            return ("it is gzip-compressed, not bgzip-compressed, and only bgzip files can be "
                    f"indexed; recompress it: 'gunzip -c {path} > {plain} && bgzip {plain}' "
                    "(Bioseq.create_from_seq reads plain gzip files without an index)"), False
    elif not head.startswith(b">"):
        return "it does not start with a '>' header line, so it is not a FASTA file", False
    parent = Path(fai).parent
    probe = parent / f".{Path(fai).name}.write-test-{os.getpid()}"
    try:
        probe.touch()
        probe.unlink()
    except OSError as e:
        return (f"the index {fai} cannot be written ({e.strerror}: the directory is read-only); "
                f"run 'samtools faidx {path} --fai-idx <writable path>' and symlink or copy the "
                "FASTA and its index to a writable directory"), True
    hint = ""
    if "format error" in reason.lower() or "line length" in reason.lower():
        hint = ("; every line of a record but its last must have the same length: rewrap "
                "the sequences to one line length (e.g. 'seqtk seq -l 60 in.fa > out.fa')")
    return f"htslib says: {reason}{hint}", False


#: a header line's name: its first word after the '>' ('> chrB' is chrB, as htslib reads it)
_HEADER_NAME = re.compile(rb"\n>[^\S\n]*(\S*)")


def _record_names(path: str) -> Iterator[str]:
    """The names of a FASTA file's header lines, in file order (records without bases
    too, which its index leaves out), read in blocks (the header lines found by
    :data:`_HEADER_NAME`)."""
    import itertools

    tail = b"\n"  # the unfinished last line of the block before
    with open_bytes(path) as fh:
        # (a line end after the last block ends the file's last line)
        for block in itertools.chain(iter(lambda: fh.read(_SCAN_BYTES), b""), [b"\n"]):
            text = tail + block
            cut = text.rfind(b"\n")
            for m in _HEADER_NAME.finditer(text, 0, max(cut, 0)):
                yield m.group(1).decode("utf-8", "replace")
            tail = text[cut:] if cut >= 0 else text


def _count_headers(path: str) -> int:
    """Number of lines starting with '>' (counted in blocks, without splitting lines)."""
    count, last = 0, b"\n"
    with open_bytes(path) as fh:
        while block := fh.read(1 << 24):
            count += block.count(b"\n>") + (last == b"\n" and block[:1] == b">")
            last = block[-1:]
    return count


def _duplicate_names(path: str) -> list[str]:
    seen: set[str] = set()
    dups: list[str] = []
    for name in _record_names(path):
        if name in seen and name not in dups:
            dups.append(name)
        seen.add(name)
    return dups


def empty_records(path: str | os.PathLike, names: Iterable[str]) -> list[str]:
    """Those of ``names`` that ``path`` holds as records without bases (a header line
    followed by none), which its index leaves out; read through the whole file (in
    blocks: :func:`_record_names`), for a message."""
    from genozarr.io._remote import localize

    path = localize(path, "fasta")
    sizes = fasta_chrom_sizes(path)
    wanted = {n for n in names if n not in sizes}
    if not wanted:
        return []
    return [n for n in dict.fromkeys(_record_names(path)) if n in wanted]


def fasta_chrom_sizes(path: str | os.PathLike) -> dict[str, int]:
    """Sequence lengths of an indexed FASTA file (the index is built if missing).

    Parameters
    ----------
    path
        FASTA file, or its URL (read through its local copy).

    Returns
    -------
    dict
        ``{name: length}`` in file order.
    """
    from genozarr.io._handles import get_handle
    from genozarr.io._remote import localize

    path = localize(path, "fasta")
    fai = ensure_fai(path)
    fa = get_handle("fasta", path)
    names = list(fa.references)
    with open(fai) as f:  # htslib keeps one of duplicate .fai entries silently
        records = [line.split("\t", 2)[:2] for line in f if line.strip()]
    listed = [r[0] for r in records]
    if len(set(listed)) != len(listed):  # an existing .fai built by another tool
        seen: set[str] = set()
        dups = sorted({n for n in listed if n in seen or seen.add(n)})
        raise MalformedFileError(
            f"{path}: sequence names must be unique, but {dups[:5]} appear more than once "
            "(rename the duplicates)")
    # (pysam gives a longer sequence the length 2**31 - 1: its own is the index's; a read
    # of it is refused, see read_sequence)
    return dict(zip(names, (int(n) for n in fa.lengths)), **_long_sequences(records))


def _long_sequences(records: list[list[str]]) -> dict[str, int]:
    """``{name: length}`` of the sequences longer than htslib reads, from ``.fai`` records
    ``[name, length]``."""
    return {r[0]: int(r[1]) for r in records
            if len(r) == 2 and r[1].strip().isdigit() and int(r[1]) > HTS_MAX_LENGTH}


def read_sequence(path: str | os.PathLike, chrom: str, start: int, end: int,
                  pad: bytes = b"N", *, upper: bool = True) -> bytes:
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
    upper
        Upper-case the bases (False: as stored, soft-masked bases lower case; for a
        caller whose encoding reads both cases, which saves a pass over the sequence).

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
    from genozarr.genome import check_chrom_name, check_span
    from genozarr.io._handles import get_handle

    if end < start:
        raise RegionError(f"{path}: interval {chrom}:{start}-{end} has start > end")
    check_chrom_name(chrom, str(path))  # htslib would cut a name at a NUL byte
    fa = get_handle("fasta", os.fspath(path))
    try:
        length = fa.get_reference_length(chrom)
    except KeyError as e:
        raise ChromosomeNotFoundError(
            f"{path}: sequence {chrom!r} not found; the file has {list(fa.references)[:10]}"
        ) from e
    if length >= HTS_MAX_LENGTH:  # (pysam's length of any longer sequence too)
        # pysam cut such a sequence there, and the bases past it were served as N
        true = fasta_chrom_sizes(path)[chrom]
        if true > HTS_MAX_LENGTH:
            raise InputFileError(
                f"{path}: sequence {chrom!r} has {true} bases; htslib (pysam) reads FASTA "
                f"sequences of up to 2**31 - 1 = {HTS_MAX_LENGTH} bases: split it into "
                "pieces of at most that length")
    check_span(chrom, start, end, length, str(path))
    return padded_fetch(lambda lo, hi: fa.fetch(chrom, lo, hi), start, end, length, pad,
                        upper=upper, source=f"{path} ({chrom})")


def padded_fetch(fetch: Callable[[int, int], str], start: int, end: int, length: int,
                 pad: bytes = b"N", *, upper: bool = True, source: str = "") -> bytes:
    """Upper-case sequence of ``[start, end)`` of a sequence of ``length`` bases, read with
    ``fetch(lo, hi)`` (called only for a non-empty part within the sequence), with
    ``pad`` at the positions outside it.

    Parameters
    ----------
    fetch
        Reads ``[lo, hi)`` of the sequence as text.
    start, end
        0-based half-open interval; may run past either end of the sequence.
    length
        Length of the sequence.
    pad
        One byte used for positions outside the sequence.
    upper
        Upper-case the bases (False: as ``fetch`` returns them).
    source
        The file read, named in errors.

    Returns
    -------
    bytes
        ``end - start`` bytes.

    Raises
    ------
    InputFileError
        If ``fetch`` fails (htslib and py2bit raise OSError or RuntimeError without the
        file's name) or returns fewer bases than asked for: a truncated or damaged file.
    """
    lo, hi = max(start, 0), min(end, length)
    try:
        text = fetch(lo, hi) if hi > lo else ""
    except (OSError, RuntimeError) as e:
        raise InputFileError(f"{source}: cannot read bases {lo}-{hi} ({e}); is the file "
                             "truncated or damaged?") from e
    if hi > lo and len(text) != hi - lo:
        raise InputFileError(f"{source}: {len(text)} bases read where {hi - lo} were asked "
                             f"for ({lo}-{hi}); is the file truncated or damaged?")
    seq = (text.upper() if upper else text).encode("ascii")
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
        Record name (up to the first whitespace) and upper-case sequence (blanks inside
        sequence lines left out).
    """
    import pysam

    from genozarr.io._handles import check_input_file
    from genozarr.io._remote import localize

    path = localize(path, "fasta")
    check_input_file(path, "FASTA")
    try:
        with pysam.FastxFile(path) as fh:
            for rec in fh:
                # a header with blanks after the '>' is named by its first word, as
                # Biopython (which Janggu read with) and htslib (create_from_refgenome)
                # name it; pysam gives it no name. Blanks inside sequence lines are no
                # bases (pysam keeps them; Biopython drops them)
                name = rec.name or next(iter((rec.comment or "").split(None, 1)), "")
                yield name, (rec.sequence or "").upper().encode("ascii").translate(
                    None, _BLANKS)
    except (OSError, ValueError) as e:
        raise InputFileError(f"{path}: cannot be read as FASTA: {e}") from e


# ---------------------------------------------------------------------------- SeqRecords
def _is_seqrecord(obj: Any) -> bool:
    return hasattr(obj, "id") and hasattr(obj, "seq") and not isinstance(obj, (str, bytes))


def is_seqrecords(obj: Any) -> bool:
    """Whether ``obj`` is a Biopython ``SeqRecord`` or a non-empty list/tuple of them
    (duck-typed: objects with ``.id`` and ``.seq``; Biopython is not needed).

    Parameters
    ----------
    obj
        Anything, e.g. the ``fastafile`` argument of ``Bioseq.create_from_seq``.

    Returns
    -------
    bool
    """
    if _is_seqrecord(obj):
        return True
    return isinstance(obj, (list, tuple)) and len(obj) > 0 and all(_is_seqrecord(r) for r in obj)


def iter_seqrecords(records: Any) -> Iterator[tuple[str, bytes]]:
    """Biopython ``SeqRecord`` objects as the records :func:`iter_fasta_records` yields.

    Parameters
    ----------
    records
        A ``SeqRecord`` or an iterable of them; any objects with ``.id`` (the name) and
        ``.seq`` (a ``Bio.Seq.Seq`` or a string) work.

    Yields
    ------
    tuple of (str, bytes)
        Record name and upper-case ASCII sequence, as read from a FASTA file.

    Raises
    ------
    MalformedFileError
        For a record without a name, a name with whitespace (a FASTA file could not hold
        it), or a sequence with non-ASCII letters.

    Examples
    --------
    >>> class Rec:  # a stand-in for Bio.SeqRecord.SeqRecord
    ...     def __init__(self, id, seq):
    ...         self.id, self.seq = id, seq
    >>> list(iter_seqrecords([Rec("s1", "acgt"), Rec("s2", "NNA")]))
    [('s1', b'ACGT'), ('s2', b'NNA')]
    """
    if _is_seqrecord(records):
        records = [records]
    for i, rec in enumerate(records):
        if not _is_seqrecord(rec):
            raise MalformedFileError(
                f"SeqRecord list: item {i} ({type(rec).__name__}) has no .id and .seq")
        name = str(rec.id)
        if not name or name.split()[0] != name:
            raise MalformedFileError(
                f"SeqRecord list: record {i} has the id {name!r}; ids must be non-empty and "
                "free of whitespace (they name the sequences, as FASTA headers do)")
        try:
            seq = str(rec.seq).upper().encode("ascii")
        except UnicodeEncodeError as e:
            raise MalformedFileError(
                f"SeqRecord list: record {name!r} holds a non-ASCII letter ({e.reason})") from e
        if b">" in seq:  # (a header line in the FASTA file the records are read as)
            raise MalformedFileError(
                f"SeqRecord list: the sequence of record {name!r} holds '>', which is not "
                "a letter")
        yield name, seq


def seqrecords_seqtype(records: Any) -> str | None:
    """The sequence type the Biopython alphabet of ``records`` names: ``'protein'``,
    ``'dna'`` (DNA, RNA, nucleotides), or None where the records carry no alphabet that
    says (Biopython 1.78 and later dropped alphabets) or where they disagree.

    Janggu 0.10.2 encoded ``SeqRecord`` lists by the first record's alphabet, whatever
    ``seqtype`` said.

    Parameters
    ----------
    records
        A ``SeqRecord`` or a list of them (see :func:`is_seqrecords`).

    Returns
    -------
    str or None
    """
    if _is_seqrecord(records):
        records = [records]
    kinds = set()
    for rec in records:
        alphabet = getattr(getattr(rec, "seq", None), "alphabet", None)
        for _ in range(8):  # (an AlphabetEncoder, e.g. Gapped, wraps the alphabet)
            inner = getattr(alphabet, "alphabet", None)
            if inner is None or inner is alphabet:
                break
            alphabet = inner
        names = {c.__name__ for c in type(alphabet).__mro__} if alphabet is not None else set()
        kinds.add("protein" if "ProteinAlphabet" in names
                  else "dna" if "NucleotideAlphabet" in names else None)
    return kinds.pop() if len(kinds) == 1 else None


def seqrecords_as_fasta(fastafile: Any, directory: str | os.PathLike | None = None) -> Any:
    """``fastafile`` unchanged, or, for ``SeqRecord`` objects, the path of a FASTA file
    holding them.

    The file is named by the SHA256 of its content (under ``<output root>/seqrecords``, see
    :func:`genozarr.config.output_dir`), so the same records give the same file, and a
    dataset built from them is cached (``cache=True``) by their content, as one built from
    a FASTA file.

    Parameters
    ----------
    fastafile
        A path, a list of paths, or a ``SeqRecord`` / list of them (see
        :func:`is_seqrecords`).
    directory
        Where to write the file instead of the output root.

    Returns
    -------
    object
        ``fastafile`` itself, or the path (str) of the FASTA file.
    """
    import hashlib

    if not is_seqrecords(fastafile):
        return fastafile
    records = list(iter_seqrecords(fastafile))
    seen: set[str] = set()
    for name, _ in records:  # named here: the file written below is genozarr's own
        if name in seen:
            raise MalformedFileError(f"SeqRecord list: id {name!r} occurs twice")
        seen.add(name)
    content = b"".join(b">" + name.encode("utf-8") + b"\n" + seq + b"\n"
                       for name, seq in records)
    digest = hashlib.sha256(content).hexdigest()
    if directory is None:
        from genozarr.config import output_dir

        directory = output_dir() / "seqrecords"
    folder = Path(directory)
    path = folder / f"{digest[:32]}.fa"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.stat().st_size != len(content):
            tmp = folder / f".{path.name}.{uuid.uuid4().hex}.tmp"
            try:
                tmp.write_bytes(content)
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    tmp.unlink()
                raise
            logger.info("wrote %d bytes of SeqRecords to %s", len(content), path)
    except OSError as e:  # (a read-only output root, GENOZARR_OUTPUT naming a file)
        raise InputFileError(
            f"cannot write the SeqRecords as a FASTA file in {folder}: {e.strerror or e}; "
            "the records are read through one there: choose a writable output root "
            "(GENOZARR_OUTPUT)") from e
    return str(path)

"""BigWig and bedGraph writers over numpy arrays.

These writers know nothing of datasets: they take chromosome sizes and tracks of values
with their coordinates. :mod:`genozarr.export` (``Cover.export_to_bigwig`` and
``Cover.export_to_bed``) reads a Cover and feeds them.

Tracks
    Each track is ``(chrom, start, span, values)``: ``values`` is 1-D, one value per bin of
    ``span`` bases, the first bin starting at ``start`` (0-based). Tracks of one chromosome
    come one after another, sorted by position and not overlapping; chromosomes come in
    the order of ``chrom_sizes`` (the header order), each at most once. Every bin lies
    inside its chromosome. :class:`BigWigWriter` and :class:`BedGraphWriter` also take
    ``(starts, ends, values)`` arrays of entries of any width
    (:meth:`~BigWigWriter.add_intervals`).
Runs and missing values
    Adjacent entries that touch and hold the same value are written as one entry (a
    constant 1 kb stretch at 1 bp resolution is one entry, not 1,000), also across tracks
    and across calls (``merge=False`` keeps one entry per value given). NaN means "no
    data" and is left out (``pyBigWig.values`` reads it back as NaN, ``intervals()`` skips
    it); a BigWig stores float32, so values are compared (and merged) as float32 there.
    A BigWig holds no infinity either: an infinite value, or one past float32's range, is
    an :class:`~genozarr.errors.ArgumentError` that names the file, the value and its
    position (a bedGraph file writes such values as text: ``inf``, ``-inf``, ``1e+39``).
Files
    A file is written under a temporary name next to it (``.<name>.<pid>.part``) and renamed
    when complete: an error leaves no partial file (and an older file of that name
    untouched).
    BigWig files get up to 10 zoom levels (``addHeader(..., maxZooms=10)``), so genome
    browsers draw whole chromosomes quickly; a run longer than :data:`MAX_ENTRY_BASES`
    (64 Mi bases) is written as several entries of its value, as libBigWig cannot make
    zoom levels over entries of hundreds of megabases. Errors are
    :mod:`genozarr.errors` exceptions that name the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from genozarr.errors import (
    ArgumentError,
    ChromosomeNotFoundError,
    InputFileError,
    NotAFileError,
    get_logger,
)
from genozarr.io._handles import BIGWIG_MAGIC

__all__ = [
    "add_shared",
    "add_shared_bins",
    "write_bigwig",
    "write_bedgraph",
    "BigWigWriter",
    "BedGraphWriter",
    "merge_runs",
    "safe_file_part",
    "encoded_file_part",
    "check_name_length",
    "temporary_path",
    "NAME_MAX",
    "MAX_ENTRY_BASES",
    "split_long_entries",
]

log = get_logger(__name__)

Track = tuple[str, int, int, np.ndarray]

#: characters that separate the folders of a path (a file-name part may not hold them)
_SEPARATORS = frozenset({"/", "\\", os.sep} | ({os.altsep} if os.altsep else set()))
_FLUSH_ENTRIES = 1 << 20  # entries buffered per file before they are written
_TEXT_LINES = 1 << 16  # bedGraph lines formatted at once
_F32_MAX = float(np.finfo(np.float32).max)  # a BigWig's largest value


class _Unwritable(Exception):
    """A value a file cannot hold: ``values[index]`` (raised by ``_values``, turned into an
    :class:`ArgumentError` naming its position by :func:`_values_of`)."""

    def __init__(self, index: int, value: Any, why: str) -> None:
        super().__init__(why)
        self.index, self.value, self.why = index, value, why


def safe_file_part(text: Any, what: str) -> str:
    """Check that ``text`` can be used as one part of a file name.

    Parameters
    ----------
    text
        A dataset or condition name.
    what
        What it names, for the error message.

    Returns
    -------
    str
        ``text`` unchanged.

    Raises
    ------
    ArgumentError
        For an empty name, ``.`` or ``..``, a name holding ``/``, ``\\``, the OS path
        separator, a NUL or another control character, or an absolute path.

    Examples
    --------
    >>> safe_file_part("H3K4me3", "condition")
    'H3K4me3'
    """
    text = str(text)
    bad = (not text or text in (".", "..") or any(s in text for s in _SEPARATORS)
           or any(ord(ch) < 32 for ch in text) or os.path.isabs(text))
    if bad:
        raise ArgumentError(
            f"{what} name {text!r} cannot be used in an output file name: names must be "
            "non-empty, not '.' or '..', and hold no path separator ('/', '\\') or control "
            "character; rename it (e.g. conditions=[...] when building the Cover)")
    return text


def encoded_file_part(text: Any, what: str) -> str:
    """``text`` as one part of a file name, with the characters a file name cannot hold
    percent-encoded (UTF-8, as :func:`urllib.parse.quote` does): ``%``, path separators,
    control characters and line or paragraph separators, and the dots of a name that is
    ``.`` or ``..``. :func:`urllib.parse.unquote` gives ``text`` back.

    Parameters
    ----------
    text
        A condition or strand name.
    what
        What it names, for the error message.

    Returns
    -------
    str

    Raises
    ------
    ArgumentError
        For an empty name.

    Examples
    --------
    >>> encoded_file_part("K562/H3K27ac", "condition")
    'K562%2FH3K27ac'
    >>> encoded_file_part("..", "condition")
    '%2E%2E'
    """
    import unicodedata
    import urllib.parse

    text = str(text)
    if not text:
        raise ArgumentError(f"{what} name {text!r} cannot be used in an output file name: "
                            "names must be non-empty; rename it (e.g. conditions=[...] when "
                            "building the Cover)")
    if text in (".", ".."):
        return "%2E" * len(text)
    return "".join(urllib.parse.quote(ch, safe="") if ch in _SEPARATORS or ch == "%"
                   or unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in text)


#: bytes a file name may hold on common file systems (ext4, XFS, APFS, NTFS)
NAME_MAX = 255


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """While the block runs, SIGINT and SIGTERM wait, and are raised again once it ends:
    an export names its complete files in one short loop, which an interrupt cut in two
    (a workflow manager's SIGTERM left some files of a failed export under their names,
    an audit). Only in the main thread (the one that runs signal handlers); a handler
    set outside Python is left alone.

    Yields
    ------
    None
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got: list[int] = []
    old: dict[int, Any] = {}
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            if signal.getsignal(sig) is not None:
                old[sig] = signal.signal(sig, lambda signum, frame: got.append(signum))
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        for sig in dict.fromkeys(got):
            signal.raise_signal(sig)


def temporary_path(path: Path, pid: int | None = None) -> Path:
    """Where a writer writes ``path`` until the file is complete (then renamed to it);
    ``pid``: the id of the writing process (default this one's).

    Parameters
    ----------
    path
        The output file.
    pid
        Process id put into the name; None (default): this process's, :func:`os.getpid`.

    Returns
    -------
    pathlib.Path
        ``.<name>.<pid>.part`` in the directory of ``path`` (a hidden file next to it);
        for a name that is not text in this locale (UTF-8 bytes under ``LANG=C``), a
        digest of it in place of ``<name>``.
    """
    name = path.name
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # a name in UTF-8 bytes under an ASCII locale (os.fsdecode
        # escapes them): pyBigWig takes text only, so the temporary name is ASCII
        name = hashlib.sha256(os.fsencode(name)).hexdigest()[:16]
    return path.with_name(f".{name}.{os.getpid() if pid is None else pid}.part")


#: digits of the widest process id (32 bits) a temporary name is checked with, so that
#: whether a name fits does not depend on the id of the process writing it
_PID_DIGITS = 10


def check_name_length(path: Path) -> None:
    """Refuse a file name that, with the temporary name a writer uses for it
    (:func:`temporary_path`), can pass :data:`NAME_MAX` bytes (pyBigWig crashed the process
    on such a name): names of up to ``NAME_MAX - 17`` (238) bytes are taken, whatever the
    id of the process (up to :data:`_PID_DIGITS` digits in the temporary name).

    Parameters
    ----------
    path
        The output file.

    Raises
    ------
    ArgumentError
        For a name too long.
    """
    size = max(len(os.fsencode(temporary_path(path, 10 ** (_PID_DIGITS - 1)).name)),
               len(os.fsencode(path.name)))
    if size > NAME_MAX:
        raise ArgumentError(
            f"output file name {path.name!r} is too long: the temporary file it is written "
            f"as first ({temporary_path(path).name!r}, with a process id of up to "
            f"{_PID_DIGITS} digits) has up to {size} bytes, more than the {NAME_MAX} file "
            "systems allow; give the dataset or condition a shorter name (conditions=[...] "
            "when building the Cover)")


def merge_runs(starts: np.ndarray, ends: np.ndarray, values: np.ndarray,
               gaps: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Drop NaN entries and merge touching entries of equal value.

    Parameters
    ----------
    starts, ends
        Sorted, non-overlapping entries ``[start, end)``.
    values
        One value per entry.
    gaps
        ``starts[1:] != ends[:-1]``, when the caller has it (the same entries for several
        files); used only when no value is NaN.

    Returns
    -------
    tuple of numpy.ndarray
        ``(starts, ends, values)`` of the runs.

    Examples
    --------
    >>> s, e, v = merge_runs(np.array([0, 10, 20, 30, 40]), np.array([10, 20, 30, 40, 50]),
    ...                      np.array([1.0, 1.0, np.nan, 2.0, 2.0]))
    >>> s.tolist(), e.tolist(), v.tolist()
    ([0, 30], [20, 50], [1.0, 2.0])
    """
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    values = np.asarray(values)
    n = len(starts)
    if n < 2:
        keep = ~np.isnan(values) if values.dtype.kind == "f" else slice(None)
        return starts[keep], ends[keep], values[keep]
    first, stop, runs = _runs(values, np.not_equal(starts[1:], ends[:-1]) if gaps is None
                              else gaps)
    if len(first) == n:
        return starts, ends, values
    return starts[first], ends[stop - 1], runs


def _runs(values: np.ndarray, gaps: np.ndarray | None = None,
          skip_zeros: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The runs of equal touching values of a non-empty 1-D array: ``(first, stop,
    value)``, each run covering indices ``[first, stop)``; runs of NaN (and with
    ``skip_zeros`` of 0) left out. ``gaps[i]``: entries ``i`` and ``i + 1`` do not touch
    (None: all touch)."""
    n = len(values)
    # NaN never equals a neighbour, so each NaN is a run of its own, dropped below: no
    # pass over all values for NaN (a store built with nan_to_num holds none)
    brk = np.empty(n, dtype=bool)
    brk[0] = True
    np.not_equal(values[1:], values[:-1], out=brk[1:])
    if gaps is not None:
        brk[1:] |= gaps
    first = np.flatnonzero(brk)
    stop = np.empty_like(first)
    stop[:-1] = first[1:]
    stop[-1] = n
    runs = values[first]
    data = ~np.isnan(runs) if runs.dtype.kind == "f" else None
    if skip_zeros:
        data = runs != 0 if data is None else data & (runs != 0)
    if data is not None and not data.all():
        first, stop, runs = first[data], stop[data], runs[data]
    return first, stop, runs


def _check_chrom_sizes(chrom_sizes: Mapping[str, int], path: Path) -> dict[str, int]:
    if not isinstance(chrom_sizes, Mapping):
        raise ArgumentError(f"{path}: chrom_sizes must be a dict of chromosome name to length, "
                            f"got {type(chrom_sizes).__name__}")
    if not chrom_sizes:
        raise ArgumentError(f"{path}: chrom_sizes is empty; a track file needs at least one "
                            "chromosome")
    out: dict[str, int] = {}
    for chrom, size in chrom_sizes.items():
        chrom = str(chrom)
        if not chrom or any(ch.isspace() or ord(ch) < 32 for ch in chrom):
            raise ArgumentError(f"{path}: chromosome name {chrom!r} is empty or holds white "
                                "space or control characters")
        try:
            n = int(size)
        except (TypeError, ValueError):
            n = -1
        if n <= 0 or n != size or n >= 2**32:
            raise ArgumentError(f"{path}: chromosome {chrom} has length {size!r}; lengths must "
                                "be positive integers below 2**32")
        out[chrom] = n
    return out


class _TrackWriter:
    """Shared checks, run merging and buffering of :class:`BigWigWriter` and
    :class:`BedGraphWriter`."""

    kind = "track"

    def __init__(self, path: str | os.PathLike, chrom_sizes: Mapping[str, int], *,
                 merge: bool = True) -> None:
        self.path = Path(os.fspath(path))
        self.merge = bool(merge)
        self.chrom_sizes = _check_chrom_sizes(chrom_sizes, self.path)
        self._rank = {c: i for i, c in enumerate(self.chrom_sizes)}
        self._chrom: str | None = None
        self._end = 0  # end of the last entry given on the current chromosome
        self._pending: tuple[int, int, Any] | None = None  # last run, may still grow
        self._buf: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._nbuf = 0
        self._finished = False  # finish() called: no more entries
        self.entries = 0  # entries written
        check_name_length(self.path)  # (first: is_dir raises on a name too long)
        if self.path.is_dir():
            raise NotAFileError(f"cannot write the {self.kind} file {self.path}: it is a "
                                "directory")
        self._tmp = temporary_path(self.path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise InputFileError(f"cannot write the {self.kind} file {self.path}: {e}") from e
        self._closed = False
        self._sealed = False  # complete under the temporary name (seal())
        try:
            self._open()
        except BaseException:  # an interrupt too: no writer process or partial file left
            self.abort()
            raise

    # -------------------------------------------------------- backend hooks
    def _open(self) -> None:
        raise NotImplementedError

    def _write(self, chrom: str, starts: np.ndarray, ends: np.ndarray,
               values: np.ndarray) -> None:
        raise NotImplementedError

    def _close_handle(self) -> None:
        raise NotImplementedError

    def _values(self, values: Any) -> np.ndarray:
        v = np.asarray(values)
        if v.ndim != 1:
            raise ArgumentError(f"{self.path}: values must be 1-D, got shape {v.shape}")
        if v.dtype.kind == "b":
            v = v.astype(np.int8)
        elif v.dtype.kind not in "iuf":
            raise ArgumentError(f"{self.path}: values must be numbers, got dtype {v.dtype}")
        return v

    # -------------------------------------------------------- public
    def __enter__(self) -> _TrackWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def add(self, chrom: str, start: int, span: int, values: Any) -> None:
        """Add bins of ``span`` bases from ``start``, one per value.

        Parameters
        ----------
        chrom
            Chromosome (of the header).
        start
            Start of the first bin (0-based).
        span
            Bases per bin.
        values
            1-D values; NaN: no data.
        """
        if not isinstance(start, (int, np.integer)) or isinstance(start, bool):
            raise ArgumentError(f"{self.path}: start must be an integer, got {start!r}")
        if not isinstance(span, (int, np.integer)) or isinstance(span, bool) or span < 1:
            raise ArgumentError(f"{self.path}: span must be a positive integer, got {span!r}")
        # 1-D numbers; converted to what the file holds (and checked) once, by add_shared,
        # which names a value it cannot hold by its bin
        v = _TrackWriter._values(self, values)
        starts = int(start) + int(span) * np.arange(len(v), dtype=np.int64)
        self.add_intervals(chrom, starts, starts + int(span), v)

    def add_intervals(self, chrom: str, starts: Any, ends: Any, values: Any) -> None:
        """Add entries ``[starts[i], ends[i])`` holding ``values[i]``.

        Parameters
        ----------
        chrom
            Chromosome (of the header, in header order across calls).
        starts, ends
            Sorted, non-overlapping entries after the previous ones of ``chrom``.
        values
            One value per entry; NaN: no data.
        """
        add_shared([self], chrom, starts, ends, [values])

    def _check(self, chrom: str, starts: np.ndarray, ends: np.ndarray) -> None:
        """Raise for entries that are empty, outside ``chrom`` or not after the previous
        ones (of the current chromosome)."""
        size = self.chrom_sizes[chrom]
        bad = ends <= starts
        if bad.any():  # any() first: cheaper than finding where, for valid entries
            k = int(np.flatnonzero(bad)[0])
            raise ArgumentError(f"{self.path}: empty or reversed entry {chrom}:{starts[k]}-"
                                f"{ends[k]}")
        if starts[0] < 0 or ends[-1] > size or (ends > size).any():
            k = int(np.flatnonzero((starts < 0) | (ends > size))[0])
            raise ArgumentError(f"{self.path}: entry {chrom}:{starts[k]}-{ends[k]} lies outside "
                                f"the chromosome (length {size})")
        back = starts[1:] < ends[:-1]
        if starts[0] < self._end or back.any():
            k = int(np.flatnonzero(back)[0]) + 1 if back.any() else 0
            prev = int(ends[k - 1]) if k else self._end
            raise ArgumentError(f"{self.path}: entry {chrom}:{starts[k]}-{ends[k]} starts "
                                f"before the previous one ends ({prev}); entries of a "
                                "chromosome must be sorted and must not overlap")

    def _add(self, starts: np.ndarray, ends: np.ndarray, v: np.ndarray,
             gaps: np.ndarray | None = None) -> None:
        """Merge and buffer non-empty entries of the current chromosome that passed
        :meth:`_check` (``gaps``: see :func:`merge_runs`)."""
        self._end = int(ends[-1])
        if not self.merge:
            if v.dtype.kind == "f":
                ok = ~np.isnan(v)
                starts, ends, v = starts[ok], ends[ok], v[ok]
            if len(v):
                self._emit(starts, ends, v)
            return
        s, e, r = merge_runs(starts, ends, v, gaps)
        if not len(s):
            return
        if self._pending is not None:
            ps, pe, pv = self._pending
            if pe == s[0] and pv == r[0]:
                s = s.copy()
                s[0] = ps
            else:
                self._emit(np.array([ps]), np.array([pe]), np.array([pv], dtype=r.dtype))
        self._pending = (int(s[-1]), int(e[-1]), r[-1])
        if len(s) > 1:
            self._emit(s[:-1], e[:-1], r[:-1])

    def finish(self) -> None:
        """Write what is buffered; no entries may follow, and :meth:`close` then completes
        the file (a BigWig writer with ``process=True`` starts its zoom levels here, so the
        files of one export finish side by side)."""
        if not self._closed and not self._finished:
            self._end_chrom()
            self._finished = True

    def close(self) -> str:
        """Write what is buffered, close the file and give it its name.

        Returns
        -------
        str
            The path.
        """
        if self._closed:
            return str(self.path)
        self.seal()
        self._closed = True
        try:
            os.replace(self._tmp, self.path)
        except OSError as e:
            self._unlink_tmp()
            raise InputFileError(f"cannot write the {self.kind} file {self.path}: {e}") from e
        log.debug("%s: %d entries", self.path, self.entries)
        return str(self.path)

    def seal(self) -> None:
        """Write what is buffered and close the file, complete under its temporary name:
        :meth:`close` then only gives it its name (an export of several files seals them
        all before naming any, so that a failure or an interrupt while one is completed
        leaves none of them under its name, where the files named before it stayed)."""
        if self._closed or self._sealed:
            return
        try:
            self._end_chrom()
            self._close_handle()
        except BaseException:
            self.abort()
            raise
        self._sealed = True

    def abort(self) -> None:
        """Close without keeping the file (an older file of that name stays)."""
        if self._closed:
            return
        self._closed = True
        if not self._sealed:
            try:
                self._close_handle()
            except Exception:  # noqa: BLE001 - the file is discarded anyway
                pass
        self._unlink_tmp()

    # -------------------------------------------------------- internals
    def _unlink_tmp(self) -> None:
        try:
            self._tmp.unlink()
        except FileNotFoundError:
            pass

    def _enter_chrom(self, chrom: Any) -> None:
        chrom = str(chrom)
        if chrom == self._chrom:
            return
        if chrom not in self._rank:
            raise ChromosomeNotFoundError(
                f"{self.path}: chromosome {chrom!r} is not in the header "
                f"({list(self.chrom_sizes)[:8]}); add it to chrom_sizes")
        if self._chrom is not None and self._rank[chrom] <= self._rank[self._chrom]:
            raise ArgumentError(
                f"{self.path}: chromosome {chrom} comes after {self._chrom}; tracks must "
                "come chromosome by chromosome in the order of chrom_sizes")
        self._end_chrom()
        self._chrom = chrom
        self._end = 0

    def _end_chrom(self) -> None:
        if self._pending is not None:
            ps, pe, pv = self._pending
            self._pending = None
            self._emit(np.array([ps]), np.array([pe]), np.array([pv]))
        self._flush()

    def _emit(self, starts: np.ndarray, ends: np.ndarray, values: np.ndarray) -> None:
        self._buf.append((starts, ends, values))
        self._nbuf += len(starts)
        if self._nbuf >= _FLUSH_ENTRIES:
            self._flush()

    def _flush(self) -> None:
        if not self._buf:
            return
        assert self._chrom is not None
        starts = np.concatenate([b[0] for b in self._buf])
        ends = np.concatenate([b[1] for b in self._buf])
        values = np.concatenate([b[2] for b in self._buf])
        self._buf, self._nbuf = [], 0
        try:
            self._write(self._chrom, starts, ends, values)
        except (RuntimeError, OSError) as e:
            raise InputFileError(f"cannot write the {self.kind} file {self.path} "
                                 f"({self._chrom}): {e}") from e
        self.entries += len(starts)


#: longest BigWig entry written: libBigWig (pyBigWig 0.3) crashes the process while it
#: makes the zoom levels of a file whose entries average more than about 2**28 bases (a
#: constant or empty track over chromosomes of 540 Mb and more), so longer runs are
#: written as several entries of the same value
MAX_ENTRY_BASES = 1 << 26


def split_long_entries(starts: np.ndarray, ends: np.ndarray, values: np.ndarray,
                       longest: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The entries ``[starts, ends)`` with those longer than ``longest`` bases cut into
    consecutive pieces of at most ``longest`` bases, each with the entry's value.

    Parameters
    ----------
    starts, ends
        Start and end positions of the entries (0-based, end exclusive, in bases), 1-D of
        the same length; read as int64.
    values
        The value of each entry, 1-D of the same length.
    longest
        Most bases in one entry written (a positive number, as :data:`MAX_ENTRY_BASES`).

    Returns
    -------
    tuple of numpy.ndarray
        ``(starts, ends, values)`` of the pieces, in the order of the entries: int64
        positions and the values with their dtype. An entry of at most ``longest`` bases
        is kept as it is; one of 0 bases gives no piece.
    """
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    pieces = -(-(ends - starts) // longest)
    first = np.repeat(starts, pieces)
    offset = np.arange(len(first), dtype=np.int64) - np.repeat(np.cumsum(pieces) - pieces,
                                                               pieces)
    new_starts = first + offset * longest
    new_ends = np.minimum(new_starts + longest, np.repeat(ends, pieces))
    return new_starts, new_ends, np.repeat(values, pieces)


#: the magic number that begins and ends a BigWig file, as libBigWig writes it (either byte
#: order)
_BIGWIG_MAGIC = BIGWIG_MAGIC.to_bytes(4, "little"), BIGWIG_MAGIC.to_bytes(4, "big")


def _close_bigwig(bw: Any, path: str | os.PathLike) -> None:
    """Close a pyBigWig writer (its zoom levels and index are written then), raising
    ``OSError`` where the file at ``path`` it wrote does not end with the BigWig magic
    number: libBigWig reports a failed write (a full disk, a file size limit) on stderr at
    most, and the truncated file was published as complete."""
    bw.close()
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(size - 4, 0))
        end = f.read(4)
    if size < 8 or end not in _BIGWIG_MAGIC:
        raise OSError(f"the file libBigWig wrote ends short ({size} bytes, not ending with "
                      "the BigWig magic number): a write failed (a full disk, or a file size "
                      "limit)")


#: fewest back-to-back entries of one span written as a fixedStep section: its entries
#: take 4 bytes each where bedGraph entries take 12, but each change of entry type closes
#: libBigWig's data block (a block of its own, compressed on its own)
FIXED_STEP_LEAST = 64


def entry_pieces(starts: np.ndarray, ends: np.ndarray, values: np.ndarray,
                 least: int = FIXED_STEP_LEAST) -> list[tuple[Any, ...]]:
    """The BigWig entries ``[starts, ends)`` (sorted, not overlapping) as the calls that
    write them, in order: ``("fixed", start, span, values)`` for each run of at least
    ``least`` entries of one span, each starting where the last ended (the bins of a
    store whose values change from bin to bin: a fixedStep source), and
    ``("intervals", starts, ends, values)`` for the others. Written as bedGraph entries
    alone, a 50 bp fixedStep BigWig was exported at 1.57x its size."""
    n = len(starts)
    if n < least:
        return [("intervals", starts, ends, values)]
    spans = ends - starts
    link = (starts[1:] == ends[:-1]) & (spans[1:] == spans[:-1])
    edges = np.flatnonzero(np.diff(np.concatenate(([0], link.view(np.int8), [0]))))
    first, last = edges[0::2], edges[1::2]  # runs of entries first..last (inclusive)
    long = last - first + 1 >= least
    pieces: list[tuple[Any, ...]] = []
    done = 0
    for a, b in zip(first[long].tolist(), last[long].tolist()):
        if a > done:
            pieces.append(("intervals", starts[done:a], ends[done:a], values[done:a]))
        pieces.append(("fixed", int(starts[a]), int(spans[a]), values[a:b + 1]))
        done = b + 1
    if done < n:
        pieces.append(("intervals", starts[done:], ends[done:], values[done:]))
    return pieces


def _add_pieces(bw: Any, chrom: str, pieces: list[tuple[Any, ...]],
                path: str | os.PathLike | None = None) -> None:
    """Write :func:`entry_pieces` with pyBigWig writer ``bw`` (entries checked by the
    caller: pyBigWig's own check of each call looks the chromosome up by its place in the
    header, which made exporting a genome of n contigs take time quadratic in n); a failed
    write of the file ``path`` raises OSError."""
    try:
        for piece in pieces:
            if piece[0] == "fixed":
                _, start, span, values = piece
                bw.addEntries(chrom, start, values=values, span=span, step=span,
                              validate=False)
            else:
                _, starts, ends, values = piece
                bw.addEntries([chrom] * len(starts), starts, ends=ends, values=values,
                              validate=False)
    except SystemError as e:  # (pyBigWig returns NULL without an exception where libBigWig
        # fails to write a data block: the export raised a bare SystemError, an audit)
        raise OSError(f"libBigWig failed to write the entries ({_write_failure(path)})") \
            from e


def _write_failure(path: str | os.PathLike | None) -> str:
    """What most likely made a write of libBigWig's into ``path`` fail: a full disk, or a
    file size limit (``RLIMIT_FSIZE``), as far as can be told after the fact."""
    import shutil

    if path is not None:
        try:
            size = os.path.getsize(path)
            free = shutil.disk_usage(os.path.dirname(os.path.abspath(path))).free
        except OSError:
            size = free = None
        try:
            import resource

            limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
            if limit == resource.RLIM_INFINITY:
                limit = -1
        except (ImportError, OSError, ValueError):  # (no resource module: Windows)
            limit = -1
        if free is not None and free < 1 << 20:
            return f"its file system is full: {free} bytes free"
        if size is not None and limit >= 0 and size + (1 << 16) >= limit:
            return f"the file reached this process's file size limit of {limit} bytes"
    return "a write failed: a full disk, or a file size limit"


def _child_writer(conn: Any, path: str, header: list[tuple[str, int]]) -> None:
    """Body of the process of a ``BigWigWriter(..., process=True)``: open the file, add the
    entries that come through ``conn`` (``(chrom, pieces)``, :func:`entry_pieces`; None:
    done), close it (zoom levels), then send None, or the error that stopped it."""
    try:
        import pyBigWig

        bw = pyBigWig.open(path, "w")
        if bw is None:
            raise OSError("pyBigWig cannot open it for writing")
        bw.addHeader(header, maxZooms=10)
        while (item := conn.recv()) is not None:
            _add_pieces(bw, *item, path)  # (checked by the writer in the parent)
        _close_bigwig(bw, path)
        conn.send(None)
    except EOFError:  # the writer in the parent went away: nothing to report to, and
        try:          # its file is never completed
            os.unlink(path)
        except OSError:
            pass
    except BaseException as e:  # noqa: BLE001 - reported to the parent
        try:
            conn.send(f"{type(e).__name__}: {e}")
        except OSError:
            pass


class BigWigWriter(_TrackWriter):
    """Write a BigWig entry by entry (see the module documentation).

    Parameters
    ----------
    path
        Output file.
    chrom_sizes
        Chromosome lengths, in the order of the header and of the data.
    merge
        Merge touching entries of equal value (default); False writes one entry per
        non-NaN value given.
    process
        Run pyBigWig in a process of its own (forked from genozarr's fork server where
        there is one), fed through a pipe. pyBigWig holds the GIL while it compresses
        entries and writes zoom levels, so this lets several files, and the reading and
        run merging of this process, go on side by side; worth it for large files (it
        costs a process start).

    Examples
    --------
    >>> import pyBigWig, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "x.bigwig")
    >>> with BigWigWriter(path, {"chr1": 1000}) as w:
    ...     w.add("chr1", 0, 10, np.array([1.0, 1.0, np.nan, 2.0]))
    >>> pyBigWig.open(path).intervals("chr1")
    ((0, 20, 1.0), (30, 40, 2.0))
    """

    kind = "BigWig"

    def __init__(self, path: str | os.PathLike, chrom_sizes: Mapping[str, int], *,
                 merge: bool = True, process: bool = False) -> None:
        self.process = bool(process)
        self._conn: Any = None
        self._proc: Any = None
        super().__init__(path, chrom_sizes, merge=merge)

    def _open(self) -> None:
        # libBigWig cannot create a file there (a folder this process may not write):
        # pyBigWig.open(..., "w") then ends the process (a segmentation fault), and its
        # writer process only with a broken pipe. The file is made first, here: the
        # system's reason is an error naming it
        try:
            os.close(os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666))
        except OSError as e:
            raise InputFileError(f"cannot write the BigWig file {self.path}: "
                                 f"{e.strerror or e} ({self._tmp.parent})") from e
        if self.process:
            import multiprocessing

            from genozarr.store._run import start_process

            self._conn, child = multiprocessing.Pipe()
            try:
                self._proc = start_process(
                    _child_writer, (child, str(self._tmp), list(self.chrom_sizes.items())),
                    f"genozarr-bigwig-{self.path.name}")
            except (OSError, RuntimeError, ValueError) as e:
                self._conn.close()
                raise InputFileError(f"cannot start the writer process of the BigWig file "
                                     f"{self.path}: {e}") from e
            finally:
                child.close()
            return
        import pyBigWig

        try:
            bw = pyBigWig.open(str(self._tmp), "w")
        except (RuntimeError, OSError) as e:
            raise InputFileError(f"cannot open the BigWig file {self.path} for writing: "
                                 f"{e}") from e
        if bw is None:
            raise InputFileError(f"cannot open the BigWig file {self.path} for writing")
        self._bw = bw
        try:
            bw.addHeader(list(self.chrom_sizes.items()), maxZooms=10)
        except (RuntimeError, OSError) as e:
            self.abort()
            raise InputFileError(f"cannot write the header of the BigWig file {self.path}: "
                                 f"{e}") from e

    def _values(self, values: Any) -> np.ndarray:
        # a BigWig holds float32: compare and merge what will be stored. pyBigWig refuses
        # infinities (and values past float32's range, which the cast makes infinite)
        # mid-file without saying where: refused here, before they are buffered
        v = super()._values(values)
        if v.dtype.kind != "f":
            return v.astype(np.float32, copy=False)
        with np.errstate(over="ignore"):
            out = v.astype(np.float32, copy=False)
        inf = np.isinf(out)
        if inf.any():
            k = int(np.flatnonzero(inf)[0])
            raise _Unwritable(k, v[k], "infinite" if np.isinf(v[k]) else
                              f"past float32's largest, +-{_F32_MAX:.6g}")
        return out

    def _write(self, chrom: str, starts: np.ndarray, ends: np.ndarray,
               values: np.ndarray) -> None:
        if len(starts) and int((ends - starts).max()) > MAX_ENTRY_BASES:
            starts, ends, values = split_long_entries(starts, ends, values, MAX_ENTRY_BASES)
        pieces = entry_pieces(np.ascontiguousarray(starts), np.ascontiguousarray(ends),
                              np.ascontiguousarray(values, dtype=np.float64))
        if self._conn is None:  # (validated here, _check and _enter_chrom, when buffered)
            _add_pieces(self._bw, chrom, pieces, self._tmp)
            return
        try:
            self._conn.send((chrom, pieces))
        except OSError as e:  # the process ended: say why, if it told
            raise RuntimeError(self._child_error() or f"the writer process ended ({e})") \
                from e

    def _child_error(self) -> str | None:
        """What the writer process reported before it ended (None: nothing)."""
        try:
            if self._conn.poll(10):
                return self._conn.recv()
        except (EOFError, OSError):
            pass
        return None

    def finish(self) -> None:
        if self._finished or self._closed:
            return
        super().finish()
        if self._conn is not None:
            try:
                self._conn.send(None)  # the process writes the zoom levels and closes
            except OSError:
                pass  # it ended: close() says why

    def _close_handle(self) -> None:
        conn, proc = self._conn, self._proc
        if conn is not None:
            self._conn = self._proc = None
            try:
                if not self._finished:  # finish() told it already
                    conn.send(None)
                error = conn.recv()
            except (EOFError, OSError) as e:
                error = f"the writer process ended without completing the file ({e})"
            finally:
                conn.close()
                proc.join()
            if error is not None:
                raise InputFileError(f"cannot write the BigWig file {self.path}: {error}")
            return
        bw, self._bw = getattr(self, "_bw", None), None
        if bw is not None:
            try:
                _close_bigwig(bw, self._tmp)
            except OSError as e:
                raise InputFileError(f"cannot write the BigWig file {self.path}: {e}") from e

    def abort(self) -> None:
        proc, conn = self._proc, self._conn
        if not self._closed and (proc is not None or conn is not None):
            self._proc = self._conn = None  # stop it: no zoom levels for a discarded file
            if proc is not None:
                proc.terminate()
                proc.join()
            if conn is not None:  # (a process started as an interrupt came, not known
                conn.close()      # here, ends at the closed pipe and removes its file)
        super().abort()


class BedGraphWriter(_TrackWriter):
    """Write a bedGraph file (``chrom  start  end  value``, tab separated, 0-based
    half-open) entry by entry (see the module documentation).

    Parameters
    ----------
    path
        Output file.
    chrom_sizes
        Chromosome lengths, in the order of the data (checks that entries lie inside).
    name
        If given, a first line ``track type=bedGraph name="<name>"`` (which the UCSC
        browser needs for custom tracks); default: no header line.
    merge
        Merge touching entries of equal value into one line (default); False writes one
        line per non-NaN value given.
    """

    kind = "bedGraph"

    def __init__(self, path: str | os.PathLike, chrom_sizes: Mapping[str, int],
                 name: str | None = None, *, merge: bool = True) -> None:
        if name is not None and (not str(name) or any(
                ord(ch) < 32 or ch == '"' for ch in str(name))):
            raise ArgumentError(f"{path}: track name {name!r} must be non-empty and hold no "
                                "quote or control character")
        self._name = name
        super().__init__(path, chrom_sizes, merge=merge)

    def _open(self) -> None:
        try:
            self._fh = open(self._tmp, "w", encoding="utf-8", newline="\n")  # noqa: SIM115
        except OSError as e:
            raise InputFileError(f"cannot open the bedGraph file {self.path} for writing: "
                                 f"{e}") from e
        if self._name is not None:
            self._fh.write(f'track type=bedGraph name="{self._name}"\n')

    def _values(self, values: Any) -> np.ndarray:
        # float16 written as its exact value (float64's text, 6.0390625): float16's own
        # shortest text (6.04) reads back as another number in a float32 or double reader
        v = super()._values(values)
        return v.astype(np.float64) if v.dtype == np.float16 else v

    def _write(self, chrom: str, starts: np.ndarray, ends: np.ndarray,
               values: np.ndarray) -> None:
        # the text pandas' to_csv wrote (numpy's shortest text of each value, as
        # values.astype(str) gives it), 1.7x faster: numpy formats the values, Python's
        # str.format the lines
        line = chrom.replace("{", "{{").replace("}", "}}") + "\t{}\t{}\t{}\n"
        for i in range(0, len(values), _TEXT_LINES):  # (text of ~300 bytes a value)
            part = values[i:i + _TEXT_LINES]
            text = part.tolist() if part.dtype.kind in "iub" else part.astype(str).tolist()
            self._fh.write("".join(map(line.format, starts[i:i + _TEXT_LINES].tolist(),
                                       ends[i:i + _TEXT_LINES].tolist(), text)))

    def _close_handle(self) -> None:
        fh, self._fh = getattr(self, "_fh", None), None
        if fh is not None:
            fh.close()


def add_shared(writers: list[_TrackWriter], chrom: str, starts: np.ndarray, ends: np.ndarray,
               columns: list[np.ndarray]) -> None:
    """Add the same entries to several writers, ``columns[i]`` the values of
    ``writers[i]`` (:meth:`~BigWigWriter.add_intervals` each): the entries are checked
    once and where they touch is found once.

    Parameters
    ----------
    writers
        Writers that have all been given the same entries so far.
    chrom
        Chromosome.
    starts, ends
        The entries (as for ``add_intervals``).
    columns
        One 1-D array of values per writer.
    """
    if not writers:
        return
    _check_open(writers)
    starts = np.asarray(starts, dtype=np.int64).reshape(-1)
    ends = np.asarray(ends, dtype=np.int64).reshape(-1)
    values = [_values_of(w, v, chrom, lambda k: (starts[k], ends[k]))
              for w, v in zip(writers, columns)]
    for w, v in zip(writers, values):
        if not len(starts) == len(ends) == len(v):
            raise ArgumentError(f"{w.path}: {len(starts)} starts, {len(ends)} ends and "
                                f"{len(v)} values; they must have the same length")
        w._enter_chrom(chrom)
    if not len(starts):
        return
    if len({w._end for w in writers}) != 1:
        raise ArgumentError(f"{writers[0].path}: add_shared needs writers given the same "
                            "entries so far")
    writers[0]._check(chrom, starts, ends)
    gaps = np.not_equal(starts[1:], ends[:-1])
    for w, v in zip(writers, values):
        w._add(starts, ends, v, gaps)


def add_shared_bins(writers: list[_TrackWriter], chrom: str, lo: int, hi: int, first: int,
                    span: int, columns: list[np.ndarray], *, skip_zeros: bool = False) -> None:
    """:func:`add_shared` of consecutive bins, without an entry per bin: bin ``k`` is
    ``[first + k * span, first + (k + 1) * span)`` cut to ``[lo, hi)``.

    The bins are valid by construction, so only the block's ends are checked, and each
    writer's runs are found from its values alone (where a value differs from the one
    before), so no start and end of every bin is built: what a whole-genome store's
    per-base blocks need. Writers that do not merge runs (one line per bin) get the bins
    through :func:`add_shared`.

    Parameters
    ----------
    writers
        Writers that have all been given the same entries so far.
    chrom
        Chromosome.
    lo, hi
        Extent of the bins: ``first <= lo < first + span`` and ``hi`` inside the last bin.
    first, span
        Start of the first (uncut) bin, and bases per bin.
    columns
        One 1-D array of values per writer, one value per bin.
    skip_zeros
        Leave bins of 0 out, as bins without data (NaN) are.
    """
    n = len(columns[0]) if columns else 0
    if not writers or not n:
        return
    if not all(w.merge for w in writers):
        starts = first + span * np.arange(n, dtype=np.int64)
        ends = starts + span
        starts[0], ends[-1] = lo, hi
        if not skip_zeros:
            add_shared(writers, chrom, starts, ends, columns)
            return
        for w, v in zip(writers, columns):
            keep = np.asarray(v) != 0
            w.add_intervals(chrom, starts[keep], ends[keep], np.asarray(v)[keep])
        return
    _check_open(writers)
    values = [_values_of(w, v, chrom, lambda k: (max(first + k * span, lo),
                                                 min(first + (k + 1) * span, hi)))
              for w, v in zip(writers, columns)]
    for w, v in zip(writers, values):
        if len(v) != n:
            raise ArgumentError(f"{w.path}: {len(v)} values for {n} bins")
        w._enter_chrom(chrom)
    w0 = writers[0]
    if not first <= lo < first + span or not first + (n - 1) * span < hi <= first + n * span:
        raise ArgumentError(f"{w0.path}: bins {chrom}:{lo}-{hi} do not match {n} bins of "
                            f"{span} from {first}")
    size = w0.chrom_sizes[chrom]
    if lo < w0._end or hi > size:
        raise ArgumentError(f"{w0.path}: bins {chrom}:{lo}-{hi} start before the previous "
                            f"entries end ({w0._end}) or end past the chromosome ({size})")
    for w, v in zip(writers, values):
        heads, tails, runs = _runs(v, skip_zeros=skip_zeros)
        starts = first + span * heads
        ends = first + span * tails
        if len(heads):  # the first and last bin may be cut
            starts[0] = max(int(starts[0]), lo)
            ends[-1] = min(int(ends[-1]), hi)
            w._add(starts, ends, runs)
        w._end = hi


def _values_of(writer: _TrackWriter, values: Any, chrom: str,
               where: Callable[[int], tuple[int, int]]) -> np.ndarray:
    """``writer._values(values)``; a value the file cannot hold is an ArgumentError that
    names the file and the value's position (``where(k)``: the entry of ``values[k]``)."""
    try:
        return writer._values(values)
    except _Unwritable as e:
        try:
            start, end = where(e.index)
            at = f"{chrom}:{start}-{end}"
        except IndexError:  # more values than entries: reported by the caller's checks
            at = f"{chrom} (value {e.index})"
        raise ArgumentError(
            f"cannot write the {writer.kind} file {writer.path}: the value at {at} is "
            f"{float(e.value):g} ({e.why}); a {writer.kind} file holds finite float32 values. "
            "Clip or scale the values to a finite float32 range before writing them (e.g. "
            "numpy.clip, or numpy.nan_to_num for infinities such as a log-probability of "
            "-inf); a bedGraph file writes them as text") from None


def _check_open(writers: list[_TrackWriter]) -> None:
    """Raise for a writer that is closed or finished."""
    for w in writers:
        if w._closed or w._finished:
            raise ArgumentError(f"{w.path}: the writer is "
                                f"{'closed' if w._closed else 'finished'}")


def _write_tracks(writer: _TrackWriter, tracks: Iterable[Track]) -> str:
    with writer:
        for item in tracks:
            try:
                chrom, start, span, values = item
            except (TypeError, ValueError):
                raise ArgumentError(f"{writer.path}: each track must be (chrom, start, span, "
                                    f"values), got {type(item).__name__}") from None
            writer.add(chrom, start, span, values)
    return str(writer.path)


def write_bigwig(path: str | os.PathLike, chrom_sizes: Mapping[str, int],
                 tracks: Iterable[Track]) -> str:
    """Write tracks of binned values to a BigWig file.

    Parameters
    ----------
    path
        Output file (its directory is created if missing).
    chrom_sizes
        Chromosome lengths: the header, in order; tracks come in this order.
    tracks
        ``(chrom, start, span, values)`` items: 1-D ``values``, one per bin of ``span``
        bases from ``start``; NaN: no data. See the module documentation.

    Returns
    -------
    str
        ``path``.

    Raises
    ------
    ArgumentError
        For invalid sizes or names, entries outside a chromosome, unsorted or overlapping
        entries, chromosomes out of header order, infinite values or values past float32's
        range.
    ChromosomeNotFoundError
        For a track on a chromosome missing from ``chrom_sizes``.
    InputFileError
        If the file cannot be written.

    Examples
    --------
    >>> import pyBigWig, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "signal.bigwig")
    >>> values = np.r_[np.full(1000, 2.5), np.full(500, np.nan), np.arange(3.0)]
    >>> write_bigwig(path, {"chr1": 5000}, [("chr1", 100, 1, values)]) == path
    True
    >>> pyBigWig.open(path).intervals("chr1")
    ((100, 1100, 2.5), (1600, 1601, 0.0), (1601, 1602, 1.0), (1602, 1603, 2.0))
    """
    return _write_tracks(BigWigWriter(path, chrom_sizes), tracks)


def write_bedgraph(path: str | os.PathLike, chrom_sizes: Mapping[str, int],
                   tracks: Iterable[Track], *, name: str | None = None,
                   merge: bool = True) -> str:
    """Write tracks of binned values to a bedGraph file.

    One line ``chrom  start  end  value`` per run of equal values (tab separated, 0-based
    half-open; ``merge=False``: one per bin); NaN bins are left out.

    Parameters
    ----------
    path
        Output file (its directory is created if missing).
    chrom_sizes
        Chromosome lengths; tracks come in this order.
    tracks
        ``(chrom, start, span, values)`` items, as for :func:`write_bigwig`.
    name
        Track name for a ``track type=bedGraph`` header line; default: no header.
    merge
        One line per run of equal values (default); False: one line per non-NaN bin.

    Returns
    -------
    str
        ``path``.

    Raises
    ------
    ArgumentError, ChromosomeNotFoundError, InputFileError
        As :func:`write_bigwig`.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "signal.bedgraph")
    >>> _ = write_bedgraph(path, {"chr1": 500}, [("chr1", 0, 50, np.array([1, 1, 0, 4.5]))])
    >>> print(open(path).read().replace(chr(9), " "), end="")
    chr1 0 100 1.0
    chr1 100 150 0.0
    chr1 150 200 4.5
    """
    return _write_tracks(BedGraphWriter(path, chrom_sizes, name=name, merge=merge), tracks)

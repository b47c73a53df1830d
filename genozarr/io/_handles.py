"""Per-process cache of open BAM, FASTA and BigWig handles.

File handles cannot cross process boundaries, so genozarr never pickles one: readers pass
paths around and call :func:`get_handle` where they read. The cache is keyed by the
process id (and the thread id, since pysam and pyBigWig handles are not thread-safe), so a
dask worker process, forked or spawned, opens its own handles lazily on first use. A
handle is reopened when the file or its index (``.bai``/``.csi`` of a BAM, ``.fai``/``.gzi``
of a FASTA) changed on disk since it was opened (path, size or mtime), and the least
recently used handle is closed once more than :func:`max_open_handles` are open (the
opening thread's own, or one of a thread that ended: never a handle another running
thread may be reading through).

Before a file is opened, :func:`check_input_file` turns the everyday problems (missing
file, a directory, permission denied) into :class:`~genozarr.errors.InputFileError`
subclasses naming the path; :func:`captured_stderr` catches what htslib prints on the C
``stderr`` so that error messages can carry htslib's own reason.

Handles inherited through ``fork`` are never closed or used by the child: closing a BGZF
handle whose decompression threads did not survive the fork can hang, so the child only
drops them from its cache (they stay referenced until the child exits).
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import sys
import tempfile
import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Literal

from genozarr.errors import (
    ArgumentError,
    InputFileError,
    MissingFileError,
    NotAFileError,
    UnreadableFileError,
    get_logger,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

__all__ = ["HandleKind", "get_handle", "close_handles", "max_open_handles",
           "check_input_file", "captured_stderr", "CapturedStderr", "index_files",
           "file_signature", "stat_signature", "checks_once", "once", "HTS_MAX_LENGTH"]

logger = get_logger(__name__)

#: the longest sequence htslib (pysam) reads, the SAM specification's limit on a reference:
#: pysam gives any longer FASTA sequence this length, and fetches no position past it
HTS_MAX_LENGTH = 2**31 - 1

HandleKind = Literal["bam", "fasta", "bigwig", "twobit"]

_KINDS: tuple[str, ...] = ("bam", "fasta", "bigwig", "twobit")
_DEFAULT_MAX_OPEN = 32

# key (pid, thread id, kind, path) -> (stat signature of the file and its index, handle)
_cache: OrderedDict[tuple[int, int, str, str], tuple[tuple[Any, ...], Any]] = OrderedDict()
_lock = threading.Lock()
_max_open = _DEFAULT_MAX_OPEN
# handles inherited from a parent process: kept referenced, never closed (see module doc)
_orphans: list[Any] = []


def _forget_inherited() -> None:
    """After ``fork``: move the parent's handles aside instead of using or closing them."""
    global _lock
    _orphans.extend(handle for _, handle in _cache.values())
    _cache.clear()
    _lock = threading.Lock()  # the parent's lock may have been held by another thread


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_inherited)


def max_open_handles(n: int | None = None) -> int:
    """Get, or set, how many handles one process keeps open at most (a thread never closes
    another running thread's handles: with several threads reading, more may be open).

    Parameters
    ----------
    n
        New limit (at least 1); ``None`` only returns the current one.

    Returns
    -------
    int
        The limit in force before this call.
    """
    global _max_open
    old = _max_open
    if n is not None:
        if int(n) < 1:
            raise ArgumentError(f"max_open_handles needs a positive number, got {n!r}")
        _max_open = int(n)
        with _lock:
            _evict_over_limit()
    return old


#: what :func:`checks_once` remembers in this thread (None: outside such a block)
_scope = threading.local()


@contextlib.contextmanager
def checks_once() -> Iterator[None]:
    """Within the block, in this thread, what :func:`once` computes is computed once per
    key: an input file's checks on disk (its ``stat`` signature, the signature of its
    handle and index, :func:`genozarr.io.bam.check_bam`) run at its first read only.

    An ingest task reading many windows of the same files one after another (a
    partial-layout build over scattered windows) pays those checks once instead of at
    every window. A file replaced while the block runs is noticed at the next block
    (the next task), not within it: the block's reads go on through the handle opened
    first. Blocks nest (the outermost one counts); errors are not remembered.

    Yields
    ------
    None
    """
    if getattr(_scope, "memo", None) is not None:
        yield
        return
    _scope.memo = {}
    try:
        yield
    finally:
        _scope.memo = None


def once(key: Any, compute: Callable[[], Any]) -> Any:
    """``compute()``, or, inside a :func:`checks_once` block, what it gave for ``key``
    the first time in the block.

    Parameters
    ----------
    key
        Hashable; name the check and the file (``("check_bam", path)``).
    compute
        Computes the value (an exception propagates and nothing is remembered).

    Returns
    -------
    object
    """
    memo = getattr(_scope, "memo", None)
    if memo is None:
        return compute()
    try:
        return memo[key]
    except KeyError:
        value = memo[key] = compute()
        return value


def _remember(key: Any, value: Any) -> None:
    """Inside a :func:`checks_once` block, make ``value`` what :func:`once` gives for
    ``key`` (a value computed again after a change genozarr made itself)."""
    memo = getattr(_scope, "memo", None)
    if memo is not None:
        memo[key] = value


def _describe_permissions(path: str) -> str:
    try:
        st = os.stat(path)
    except OSError:
        return ""
    you = f", you are uid {os.geteuid()}" if hasattr(os, "geteuid") else ""
    return f" (mode {stat.filemode(st.st_mode)}, owner uid {st.st_uid}{you})"


def is_gzip(path: str | os.PathLike) -> bool:
    """Whether the file at ``path`` starts with the gzip magic bytes (gzip or bgzip)."""
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def open_bytes(path: str | os.PathLike) -> Any:
    """The file at ``path`` opened for reading bytes, decompressed where its content is
    gzip or bgzip (:func:`is_gzip`, whatever its name)."""
    import gzip

    return gzip.open(path, "rb") if is_gzip(path) else open(path, "rb")


#: the magic numbers of the UCSC binary track formats, which begin (and, BigWig, end) a
#: file in the byte order of the machine that wrote it
BIGWIG_MAGIC, BIGBED_MAGIC = 0x888FFC26, 0x8789F2EB
_BINARY_TRACKS = {magic.to_bytes(4, order): kind
                  for magic, kind in ((BIGWIG_MAGIC, "BigWig"), (BIGBED_MAGIC, "bigBed"))
                  for order in ("little", "big")}
_WIG_LINE = re.compile(rb"(variableStep|fixedStep)\s")
_BEDGRAPH_LINE = re.compile(rb"[^\t]+\t\d+\t\d+\t[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?"
                            rb"|[^\t]+\t\d+\t\d+\t[-+]?(nan|inf)", re.IGNORECASE)


def track_kind(path: str | os.PathLike) -> str | None:
    """What a track file given in the wrong place is: ``'BigWig'`` or ``'bigBed'`` (by
    their magic numbers); ``'bedGraph'`` or ``'WIG'`` for text whose first data line (past
    comment, ``track`` and ``browser`` lines) is four tab-separated bedGraph fields, or a
    WIG step line; ``'text'`` for other text (a GFF, a VCF, a BED file of other columns);
    None for anything else (unknown binary, or unreadable)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return None
    kind = _BINARY_TRACKS.get(head[:4])
    if kind is not None:
        return kind
    lines = head.split(b"\n")
    if len(lines) > 1:
        lines = lines[:-1]  # (the last may be cut short)
    try:
        b"\n".join(lines).decode("utf-8")
    except UnicodeDecodeError:
        return None
    for raw in lines:
        line = raw.rstrip(b"\r")
        if not line.strip() or line.startswith((b"#", b"track", b"browser")):
            continue
        if _WIG_LINE.match(line):
            return "WIG"
        if line.count(b"\t") == 3 and _BEDGRAPH_LINE.fullmatch(line):
            return "bedGraph"
        return "text"
    return "text"


def check_input_file(path: str | os.PathLike, what: str, *, of: str | None = None) -> str:
    """Check that ``path`` is an existing, regular, readable file.

    A URL (``http(s)://``, ``s3://``) is checked through its copy in the input cache (the
    one this process fetched, else fetched now: :func:`genozarr.io._remote.fetched`); a
    URL that cannot be read raises an :class:`~genozarr.errors.InputFileError` naming the URL and the
    cause (``HTTP 404 Not Found``, connection refused).

    Parameters
    ----------
    path
        The file, or a URL.
    what
        What the file is, for messages (``"BAM"``, ``"FASTA index"``, ...).
    of
        The data file this one belongs to (for an index), named in messages too.

    Returns
    -------
    str
        The path (or URL).

    Raises
    ------
    InputFileError
        If the file does not exist, or the URL cannot be read.
    NotAFileError
        If it is a directory or another non-regular file (a FIFO, a device).
    UnreadableFileError
        If it cannot be opened for reading (permission denied).
    """
    from genozarr.io._remote import fetched, is_url

    if is_url(path):
        # a URL: it must be readable (a copy in the input cache, fetched if need be; see
        # genozarr.io._remote); the URL itself is returned
        copy = fetched(str(path), what)
        check_input_file(copy.path, what, of=of)
        return str(path)
    path = os.fspath(path)
    owner = f" (the index of {of})" if of else ""
    try:
        st = os.stat(path)
    except FileNotFoundError as e:
        raise MissingFileError(f"{what} file {path}{owner} does not exist", path) from e
    except PermissionError as e:
        raise UnreadableFileError(
            f"{what} file {path}{owner} cannot be read: permission denied on a directory "
            "above it; make the directories searchable (chmod a+x) or copy the file") from e
    except OSError as e:
        raise InputFileError(f"{what} file {path}{owner} cannot be read: {e.strerror}") from e
    if stat.S_ISDIR(st.st_mode):
        raise NotAFileError(
            f"{what} path {path}{owner} is a directory, not a file; give the path of the "
            f"{what} file itself")
    if not stat.S_ISREG(st.st_mode):
        raise NotAFileError(
            f"{what} path {path}{owner} is not a regular file (a pipe, socket or device); "
            f"genozarr needs a {what} file it can seek in: save the data to a file first")
    try:
        fd = os.open(path, os.O_RDONLY)
    except PermissionError as e:
        raise UnreadableFileError(
            f"{what} file {path}{owner} cannot be read: permission denied"
            f"{_describe_permissions(path)}; make it readable (chmod a+r {path}) or run as "
            "a user who may read it") from e
    except OSError as e:
        raise InputFileError(f"{what} file {path}{owner} cannot be read: {e.strerror}") from e
    os.close(fd)
    return path


def older_file(index_ns: int, data_ns: int) -> bool:
    """Whether an index written at ``index_ns`` (``st_mtime_ns``) is older than its data
    file written at ``data_ns``, as htslib tells it: by whole seconds (an index copied
    just before its data file, ``cp x.bam.bai x.bam dest/``, is as old, not stale)."""
    return index_ns // 10**9 < data_ns // 10**9


def mtime_text(ns: int) -> str:
    """A modification time (``st_mtime_ns``) as local date and time to the millisecond,
    for messages comparing two files' times (an index and its data file written within
    a second read apart)."""
    import datetime

    return datetime.datetime.fromtimestamp(ns / 1e9).isoformat(sep=" ",
                                                                timespec="milliseconds")


#: seconds within which a file's time stamps may not tell two writes apart: FAT keeps
#: modification times in 2-second steps, ext2/ext3 and HFS+ in whole seconds
RACY_SECONDS = 3.0


def stat_signature(st: os.stat_result) -> tuple[int, int, int, int]:
    """``(size, mtime_ns, inode, ctime_ns)`` of a file's ``stat``: what tells a changed file
    from the one read before. Size and modification time alone miss a file replaced by
    another of the same size with its time kept (``cp -p``, ``rsync -t``, ``os.replace``
    of such a copy); the inode changes when the file is replaced, and the change time on
    every write and every change of the modification time (but see
    :func:`changed_lately`)."""
    return (st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)


def _signs_lately(signature: Any) -> bool:
    """Whether a :func:`stat_signature` inside ``signature`` (nested in tuples) is of a
    file changed in the last :data:`RACY_SECONDS`."""
    if not isinstance(signature, tuple):
        return False
    if len(signature) == 4 and all(type(x) is int for x in signature):
        return _lately(max(signature[1], signature[3]))
    return any(_signs_lately(x) for x in signature)


def changed_lately(st: os.stat_result | None) -> bool:
    """Whether a file's modification or change time is within :data:`RACY_SECONDS` of
    now: another write of the same size within the same
    step of the file system's time stamps (a second on some) would leave its
    :func:`stat_signature` as it is (git's "racily clean" files), so what was learnt of
    such a file (its content hash, a checked index, an open handle) is not remembered.

    Parameters
    ----------
    st
        The file's ``stat``, or None (no file: False).

    Returns
    -------
    bool
    """
    if st is None:
        return False
    return _lately(max(st.st_mtime_ns, st.st_ctime_ns))


def _lately(ns: int) -> bool:
    """Whether a time stamp (ns) is within :data:`RACY_SECONDS` of now, either side (a
    time further ahead, a clock set wrong or an archive's, is no step a write of now
    would share)."""
    return abs(time.time_ns() - ns) < RACY_SECONDS * 1e9


def _stat_or_none(path: str) -> os.stat_result | None:
    """A file's ``stat``, or None where it cannot be had (no such file)."""
    try:
        return os.stat(path)
    except OSError:
        return None


def file_signature(path: str) -> tuple[int, int, int, int] | None:
    """:func:`stat_signature` of a file, or None when it does not exist."""
    st = _stat_or_none(path)
    return None if st is None else stat_signature(st)


def reuse_signature(path: str) -> tuple[Any, ...] | None:
    """:func:`file_signature` for a cache of open readers or of what was read of a file:
    with a fresh ``object()`` appended (equal to no other signature, so nothing cached is
    reused) where the file :func:`changed_lately`.

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    tuple or None
        None when the file does not exist.
    """
    st = _stat_or_none(path)
    if st is None:
        return None
    return stat_signature(st) + ((object(),) if changed_lately(st) else ())


class CheckedFiles:
    """The files (with their indexes) checked in this process, as ``path -> signature``
    (their :func:`file_signature` tuple): one entry per path, the one checked last, so
    that a file rewritten over and over in a long session adds none; at most ``limit``
    paths, the oldest forgotten first (checked again if read again)."""

    def __init__(self, limit: int = 4096) -> None:
        self.limit = limit
        self._seen: OrderedDict[str, tuple[Any, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def __contains__(self, item: tuple[str, tuple[Any, ...]]) -> bool:
        path, signature = item
        with self._lock:
            return self._seen.get(path) == signature

    def add(self, path: str, signature: tuple[Any, ...]) -> None:
        """Record ``path`` as checked in the state ``signature`` (its files'
        :func:`stat_signature` tuples); not where one of them changed in the last seconds
        (:func:`changed_lately`: checked again at the next read)."""
        if _signs_lately(signature):
            with self._lock:
                self._seen.pop(path, None)
            return
        with self._lock:
            self._seen[path] = signature
            self._seen.move_to_end(path)
            while len(self._seen) > self.limit:
                self._seen.popitem(last=False)

    def clear(self) -> None:
        """Forget every file (each is checked again when next read)."""
        with self._lock:
            self._seen.clear()

    def __len__(self) -> int:
        return len(self._seen)


def index_files(kind: str, path: str) -> list[str]:
    """Index files of ``path`` that htslib reads with it (those that exist).

    Parameters
    ----------
    kind
        ``"bam"`` (the ``.csi`` or ``.bai`` htslib picks) or ``"fasta"`` (``.fai`` and,
        for bgzip files, ``.gzi``); other kinds have no index.
    path
        The data file.

    Returns
    -------
    list of str
    """
    if kind == "bam":
        from genozarr.io.bam import find_bam_index

        found = find_bam_index(path)
        return [found] if found else []
    if kind == "fasta":
        return [p for p in (path + ".fai", path + ".gzi") if os.path.exists(p)]
    return []


def _signature(kind: str, path: str) -> tuple[Any, ...]:
    try:
        st = os.stat(path)
    except FileNotFoundError as e:
        raise MissingFileError(f"{_NAMES.get(kind, kind)} file {path} does not exist",
                               path) from e
    except OSError:
        check_input_file(path, _NAMES.get(kind, kind))
        raise
    if not stat.S_ISREG(st.st_mode):
        check_input_file(path, _NAMES.get(kind, kind))
    stats = [(p, _stat_or_none(p)) for p in index_files(kind, path)]
    indexes = tuple((p, None if s is None else stat_signature(s)) for p, s in stats)
    if changed_lately(st) or any(changed_lately(s) for _, s in stats):
        # (a fresh object: equal to no later signature, so the handle is not reused)
        return stat_signature(st) + indexes + (object(),)
    return stat_signature(st) + indexes


class CapturedStderr:
    """What htslib (or any C code) wrote to file descriptor 2; see :func:`captured_stderr`.

    Attributes
    ----------
    text
        The captured text, stripped; set when the ``with`` block ends.
    """

    def __init__(self) -> None:
        self.text = ""

    def reason(self, default: str = "") -> str:
        """The captured lines joined by '; ' (htslib's ``[E::...]`` prefixes kept), or
        ``default`` when nothing was written."""
        lines = [line.strip() for line in self.text.splitlines() if line.strip()]
        return "; ".join(dict.fromkeys(lines)) or default


_capture_lock = threading.RLock()


@contextlib.contextmanager
def captured_stderr() -> Iterator[CapturedStderr]:
    """Redirect the C-level ``stderr`` (file descriptor 2) to a temporary file.

    pysam reports htslib's reasons (``[E::fai_build_core] Format error ...``) only there;
    this captures them so that an exception can carry them. The descriptor is restored in
    ``finally``; the captured text is also logged at debug level.

    Yields
    ------
    CapturedStderr
        Its ``text`` is set when the block ends (also when it raises).
    """
    captured = CapturedStderr()
    with _capture_lock, tempfile.TemporaryFile() as tmp:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        saved = os.dup(2)
        try:
            os.dup2(tmp.fileno(), 2)
            try:
                yield captured
            finally:
                with contextlib.suppress(Exception):
                    sys.stderr.flush()
                os.dup2(saved, 2)
        finally:
            os.close(saved)
            tmp.seek(0)
            captured.text = tmp.read().decode("utf-8", "replace").strip()
            if captured.text:
                logger.debug("htslib: %s", captured.text)


def _open_bam(path: str) -> Any:
    import pysam

    from genozarr.io.bam import find_bam_index

    index = find_bam_index(path)
    with captured_stderr() as err:
        try:
            # open exactly the index genozarr checked (see genozarr.io.bam.check_bam)
            return pysam.AlignmentFile(path, "rb", index_filename=index) if index else \
                pysam.AlignmentFile(path, "rb")
        except (OSError, ValueError) as e:
            failure = e
    raise OSError(f"{failure}{'; ' + err.reason() if err.text else ''}") from failure


def _open_fasta(path: str) -> Any:
    import pysam

    with captured_stderr() as err:
        try:
            return pysam.FastaFile(path)
        except (OSError, ValueError) as e:
            failure = e
    raise OSError(f"{failure}{'; ' + err.reason() if err.text else ''}") from failure


def _open_bigwig(path: str) -> Any:
    import pyBigWig

    with captured_stderr() as err:
        try:
            handle = pyBigWig.open(path)
        except RuntimeError as e:
            failure: Exception | None = e
        else:
            failure = None
        if failure is not None or handle is None:
            # libBigWig says "Couldn't open" for any reason: the system's (no descriptor
            # left, permission denied) is named instead where a plain open fails too
            try:
                os.close(os.open(path, os.O_RDONLY))
            except OSError as e:
                raise e from failure
    if failure is not None or handle is None:
        kind = track_kind(path)
        if kind == "bedGraph":
            raise RuntimeError(
                "the file is a bedGraph text file, not a BigWig: convert it with UCSC's "
                "bedGraphToBigWig, or read it with Cover.create_from_bed(..., "
                "mode='bedgraph')")
        if kind == "WIG":
            raise RuntimeError("the file is a WIG text file, not a BigWig: convert it with "
                               "UCSC's wigToBigWig")
        if kind == "text":
            raise RuntimeError("the file is text, not a BigWig (a binary file)")
        raise RuntimeError(f"{failure or 'pyBigWig.open returned None'}"
                           f"{'; ' + err.reason() if err.text else ''}")
    if not handle.isBigWig():
        handle.close()
        raise RuntimeError("the file is a bigBed, not a BigWig")
    return handle


def _open_twobit(path: str) -> Any:
    from genozarr.io.twobit import open_twobit

    return open_twobit(path)


_OPENERS: dict[str, Callable[[str], Any]] = {
    "bam": _open_bam,
    "fasta": _open_fasta,
    "bigwig": _open_bigwig,
    "twobit": _open_twobit,
}
_NAMES = {"bam": "BAM", "fasta": "FASTA", "bigwig": "BigWig", "twobit": "2bit"}


def _close(handle: Any) -> None:
    try:
        handle.close()
    except Exception as e:  # closing a read-only handle should not fail the caller
        logger.debug("closing %r failed: %s", handle, e)


def _closable_threads() -> Callable[[int], bool]:
    """Whether a handle cached for thread ``ident`` may be closed now: the calling
    thread's, or one of a thread that ended; another running thread may be reading
    through its own (a BAM iterator whose file is closed under it fails, htslib may
    crash the process)."""
    me = threading.get_ident()
    running = {t.ident for t in threading.enumerate()}
    return lambda ident: ident == me or ident not in running


def _evict_over_limit(keep: Any = None) -> None:
    """Close the least recently used handles while more than the limit are open (the
    caller holds ``_lock``): those of threads that ended and the calling thread's own but
    ``keep`` (the key of the handle being handed out), never a handle of another running
    thread, which may be reading through it (a BAM iterator whose file is closed under it
    fails as a truncated file). The limit is then exceeded while other threads hold more
    handles than it."""
    if len(_cache) <= _max_open:
        return
    closable = _closable_threads()
    for key in list(_cache):  # the least recently used first
        if len(_cache) <= _max_open:
            break
        if key != keep and closable(key[1]):
            _, handle = _cache.pop(key)
            logger.debug("closing least recently used handle %s", key)
            _close(handle)


def _is_stale(kind: str, handle: Any, path: str) -> bool:
    # a BAM opened before its index was built cannot fetch: reopen once the index exists
    if kind == "bam":
        try:
            return not handle.has_index()
        except Exception:
            return True
    return False


def get_handle(kind: HandleKind, path: str) -> Any:
    """Return an open handle for ``path``, cached per process and thread.

    Parameters
    ----------
    kind
        ``"bam"`` (:class:`pysam.AlignmentFile`), ``"fasta"`` (:class:`pysam.FastaFile`,
        which needs the ``.fai``: see :func:`genozarr.io.fasta.ensure_fai`) or ``"bigwig"``
        (a :mod:`pyBigWig` handle).
    path
        File path, or a URL (read through its copy in the input cache, see
        :mod:`genozarr.io._remote`).

    Returns
    -------
    object
        The open handle. Do not close it: the cache owns it.

    Raises
    ------
    InputFileError
        If the file does not exist or cannot be opened as ``kind``.
    ArgumentError
        For an unknown ``kind``.
    """
    from genozarr.io._remote import localize

    if kind not in _OPENERS:
        raise ArgumentError(f"handle kind must be one of {_KINDS}, got {kind!r}")
    path = localize(path, kind)  # a URL reads its local copy (genozarr.io._remote)
    sig = once(("handle", kind, path), lambda: _signature(kind, path))
    key = (os.getpid(), threading.get_ident(), kind, path)
    with _lock:
        entry = _cache.get(key)
        if entry is not None:
            if entry[0] == sig and not _is_stale(kind, entry[1], path):
                _cache.move_to_end(key)
                return entry[1]
            del _cache[key]
            _close(entry[1])
    check_input_file(path, _NAMES[kind])  # missing, a directory, permission denied
    if kind == "fasta":
        from genozarr.io.fasta import ensure_fai

        ensure_fai(path)  # may rebuild the index: sign the file with the index in use
        sig = _signature(kind, path)
        _remember(("handle", kind, path), sig)
    try:
        handle = _OPENERS[kind](path)
    except InputFileError:
        raise
    except (OSError, ValueError, RuntimeError) as e:
        raise InputFileError(
            f"{path} is not a {_NAMES[kind]} file or cannot be opened: {e}"
        ) from e
    with _lock:
        old = _cache.pop(key, None)
        if old is not None:  # another call of this thread raced us (re-entrancy): keep one
            _close(old[1])
        _cache[key] = (sig, handle)
        _evict_over_limit(keep=key)
    return handle


def close_handles(path: str | None = None, kind: str | None = None) -> int:
    """Close this process's cached handles (all, or those of one path and/or kind).

    The calling thread's handles and those of threads that ended are closed at once. A
    handle of another running thread, which may be reading through it (htslib crashes
    the process when a file is closed under a read), is only taken out of the cache:
    that thread opens a new one at its next read, and the old one closes when its last
    read lets it go.

    Parameters
    ----------
    path
        Close only the handles of this file; ``None`` closes every handle.
    kind
        Close only the handles of this kind (``"bam"``, ``"twobit"``...); ``None``: any.

    Returns
    -------
    int
        Number of handles taken out of the cache.
    """
    pid = os.getpid()
    target = None if path is None else os.fspath(path)
    closable = _closable_threads()
    with _lock:
        keys = [k for k in _cache if k[0] == pid and (target is None or k[3] == target)
                and (kind is None or k[2] == kind)]
        entries = [(k[1], _cache.pop(k)[1]) for k in keys]
    for thread, handle in entries:
        if closable(thread):
            _close(handle)
    return len(entries)

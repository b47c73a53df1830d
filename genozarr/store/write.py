"""Writing stores: create the arrays as a new version, fill them chunk-aligned, then publish
the version in one step and remove the version it replaced once no reader holds it.

Local stores (``docs/format.md``, "Completion marker and atomic publish"): a build writes a
temporary directory ``.<name>.tmp-<host>-<pid>-<hex>`` beside the store, fsyncs it, writes
the completion marker, and exchanges it with the store directory in one step
(``renameat2(RENAME_EXCHANGE)``; a plain rename when there is no store yet), under an
exclusive ``flock`` of the parent directory that serialises publishers. The replaced
version is renamed ``.<name>.old-<hex>`` and deleted (marker first) when its exclusive lock
can be taken, i.e. when no reader holds it; otherwise a later build's :func:`sweep_stale`
removes it. Where the file system cannot exchange directories, the old store is moved
aside and the new one renamed in (the path is missing for that moment; readers that
opened the old one keep reading it).

Remote stores (fsspec URLs): a build writes ``<url>/v-<hex>/``, its marker last, then
writes the pointer object ``<url>/genozarr-current`` (one PUT). The version it replaced is
marked retired and deleted by a later build after :data:`REMOTE_GRACE_SECONDS`, so readers
that resolved it keep reading it meanwhile; a reader still on it after that gets
:class:`~genozarr.errors.StoreError` ("replaced or removed, reopen it"), never fill values.

A store without a marker is never read as valid.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import socket
import sys
import threading
import time
import uuid
import warnings
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from genozarr._validate import path_text
from genozarr.errors import (
    ArgumentError,
    GenozarrError,
    StoreError,
    StoreFormatError,
    get_logger,
    hide_secrets,
)
from genozarr.store._run import pid_alive
from genozarr.store.dtypes import register_zarr, store_dtype
from genozarr.store.layout import (
    FORMAT_VERSION,
    LABELS_ATTR,
    MARKER,
    MARKER_FILE,
    RETIRED,
    WINDOWS,
    ArraySpec,
    ChunkInventory,
    Labeled,
    StoreMeta,
    chunk_inventory,
    marker_bytes,
)
from genozarr.store.open import (
    POINTER,
    _local,
    _marker_at,
    is_remote,
    read_marker,
    read_pointer,
    resolve_root,
    storage_error,
    zarr_store,
)

__all__ = ["StoreWriter", "write_block", "remove_store", "sweep_stale", "check_store_path",
           "check_dataset_name", "rewrite_root_attrs", "REMOTE_GRACE_SECONDS", "WrittenChunk"]

log = get_logger(__name__)


#: Blosc block size: Blosc splits a chunk into blocks it compresses independently; its
#: automatic choice for zstd level 1 is small. 256 KiB blocks (8 per 2 MiB chunk, so Blosc
#: threads still share a chunk) measured here on BigWig coverage: encode 1.13 -> 1.89 GB/s,
#: decode 1.05 -> 1.62 GB/s per core, ratio 24.7 -> 26.9
BLOSC_BLOCKSIZE = 256 * 2**10

#: values of at most this many bytes are bit-shuffled before compression. A byte shuffle
#: does nothing to 1-byte values; sequence codes (0-4) use 3 of a byte's 8 bits, so with
#: the bits grouped by plane 5 planes are all zero. Measured here on 8 Mb of DNA codes,
#: zstd level 1, one thread: encode 210 -> 851 MB/s, decode 445 -> 1,103 MB/s, ratio
#: 3.2 -> 4.0 (float32 coverage keeps the byte shuffle: bit shuffle halved its speed and
#: cut its ratio 3x)
BIT_SHUFFLE_ITEMSIZE = 1

#: the Blosc shuffle of arrays whose values come in runs of equal values along the bases
#: (:attr:`~genozarr.store.layout.ArraySpec.runs`: per-base coverage of BigWig, BAM and
#: BED files). zstd then finds each run as a repeat of the same 4 (or 4 x conditions)
#: bytes; a byte shuffle splits every value into 4 planes of its own and leaves it less to
#: match. Measured here on 2 MiB chunks of the benchmark corpus, zstd level 1, one
#: thread, shuffle -> none: dense 1 bp BigWig coverage encode 0.86 -> 1.70 GB/s, decode
#: 1.28 -> 3.63 GB/s, ratio 22.5 -> 32.9; sparse BigWig encode 1.43 -> 2.04, decode
#: 3.64 -> 7.10 GB/s, ratio 190 -> 314; BAM 5' counts encode 0.84 -> 1.26, decode 1.74 ->
#: 2.63 GB/s, ratio 51 -> 76. Collapsed values (means over 50 bp) keep the byte shuffle:
#: without it their encoding was up to 1.7x slower
RUNS_SHUFFLE = "noshuffle"

#: chunk keys of the data arrays: ``c.<i>.<j>.<k>`` files beside the array's ``zarr.json``
#: (zarr v3's ``default`` encoding with the ``.`` separator) instead of nested directories
#: ``c/<i>/<j>/<k>``: a chunk file then needs no directory of its own (on the development
#: machine's ext4 disk each ``mkdir`` cost about 1 ms: 15 % of a dense and 28 % of a sparse
#: 1 bp BigWig ingest)
CHUNK_KEY_ENCODING = {"name": "default", "separator": "."}

#: seconds a replaced remote version stays readable before a later build deletes it
REMOTE_GRACE_SECONDS = 3600.0
#: seconds after which an unpublished remote version (a writer that died) is deleted
REMOTE_ABANDON_SECONDS = 2 * 86400.0
#: seconds a publisher waits for another publisher of the same directory
PUBLISH_LOCK_TIMEOUT = 120.0


def _codec_options() -> dict[str, Any]:
    """The compressor and level a store laid out now in this thread takes (read in the
    thread that builds: zarr creates the arrays in its own event loop's thread)."""
    from genozarr.config import layout_option

    return {k: layout_option(k) for k in ("compressor", "compression_level")}


def _compressors(dtype: Any, runs: bool = False,
                 options: dict[str, Any] | None = None) -> list[Any]:
    """The Blosc codec of a new array of ``dtype``: byte shuffle, except for 1-byte values
    (sequence codes), which Blosc's bit shuffle groups by bit plane (see
    :data:`BIT_SHUFFLE_ITEMSIZE`), and values in runs (``runs``), which are not shuffled
    (:data:`RUNS_SHUFFLE`); ``options``: :func:`_codec_options` (None: read now)."""
    from zarr.codecs import BloscCodec

    options = _codec_options() if options is None else options
    if options["compressor"] is None:
        return []
    if store_dtype(dtype).itemsize <= BIT_SHUFFLE_ITEMSIZE:
        shuffle = "bitshuffle"
    else:
        shuffle = RUNS_SHUFFLE if runs else "shuffle"
    return [BloscCodec(cname=options["compressor"], clevel=options["compression_level"],
                       shuffle=shuffle, blocksize=BLOSC_BLOCKSIZE)]


# ---------------------------------------------------------------------------- names
_TMP = ".tmp-"
_OLD = ".old-"
#: what follows ``.<name>.`` in the names of a store's siblings
_SIBLING = re.compile(r"^(?:tmp-(?P<host>[^-/]+)-(?P<pid>\d+)-[0-9a-f]+|old-[0-9a-f]+)$")
_INTERNAL = re.compile(r"^\..+\.(?:tmp|old)-")
#: characters refused in dataset names (they name directories of the output root)
_RESERVED = set('<>:"/\\|?*')
NAME_MAX = 255


def _owner_tag() -> str:
    """``<host>-<pid>`` of this process, kept in temporary store names so a later build can
    tell a dead writer's leftovers from a live writer's work in progress."""
    return f"{socket.gethostname().replace('-', '_')}-{os.getpid()}"


def _name_bytes(name: str) -> int:
    return len(os.fsencode(name))


def check_dataset_name(name: str) -> str:
    """Check a dataset name that names a directory of the output root.

    Parameters
    ----------
    name
        Dataset name.

    Returns
    -------
    str
        ``name``, unchanged.

    Raises
    ------
    ArgumentError
        For an empty name, ``.``/``..``, a name with NUL, control characters or one of
        ``< > : " / \\ | ? *``, or one longer than 200 bytes (UTF-8).
    """
    bad = sorted({c for c in name if c in _RESERVED or ord(c) < 32 or ord(c) == 127})
    if not name or name in (".", "..") or bad or _name_bytes(name) > 200:
        raise ArgumentError(
            f"dataset name {name!r} cannot name a directory of the output root: expected a "
            "non-empty name of at most 200 bytes without NUL, control characters or any of "
            f"< > : \" / \\ | ? * (found {bad or _name_bytes(name)}); choose another name")
    return name


def check_store_path(path: str | os.PathLike) -> str:
    """Check a store path or URL before anything is written there.

    Parameters
    ----------
    path
        Local store path or fsspec URL (a remote URL is only checked for NUL and control
        characters).

    Returns
    -------
    str
        ``path`` as text (:func:`os.fspath`).

    Raises
    ------
    ArgumentError
        For a path with NUL or control characters, a component longer than 255 bytes, a
        store name too long for its temporary and version names, or a name genozarr uses
        for its own temporary and version directories.
    """
    text = os.fspath(path)
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ArgumentError(f"store path {text!r} holds NUL or control characters; choose "
                            "another path")
    if is_remote(text):
        return text
    final = Path(text)
    for part in final.parts:
        if _name_bytes(part) > NAME_MAX:
            raise ArgumentError(
                f"store path {text!r} has a component of {_name_bytes(part)} bytes; file "
                f"systems allow {NAME_MAX}. Choose a shorter path")
    name = final.name
    if name in ("", ".", "..") or _INTERNAL.match(name):
        raise ArgumentError(f"store path {text!r} does not name a store directory (or names "
                            "one of genozarr's temporary or version directories); choose "
                            "another path")
    longest = _name_bytes(f".{name}{_TMP}{_owner_tag()}-{'0' * 12}")
    if longest > NAME_MAX:
        raise ArgumentError(
            f"store name {name!r} is too long: its temporary directory name would take "
            f"{longest} bytes, file systems allow {NAME_MAX}. Choose a name of at most "
            f"{NAME_MAX - longest + _name_bytes(name)} bytes")
    return text


def _resolve_final(path: str | os.PathLike) -> Path:
    """The store location to write for ``path``: parent directories resolved, and a user's
    symbolic link at the store path followed to its target, which is written in its place
    (the link is never followed into a delete: the target is replaced as a store)."""
    final = Path(os.path.abspath(_local(path)))  # a file:// URL: its path
    for _ in range(40):
        final = Path(os.path.realpath(final.parent)) / final.name
        if not final.is_symlink():
            return final
        target = os.readlink(final)
        log.info("store path %s is a symbolic link; writing to its target %s", final, target)
        final = Path(os.path.abspath(target if os.path.isabs(target)
                                     else final.parent / target))
    raise StoreError(f"store path {path} is a chain of more than 40 symbolic links; pass "
                     "the store's real path")


def _exchange(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Exchange two existing paths in one step (Linux ``renameat2(RENAME_EXCHANGE)``);
    False where the platform or the file system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EPERM):
        return False
    raise OSError(code, os.strerror(code), os.fspath(b))


# ---------------------------------------------------------------------------- deleting
#: pauses before an aborted build removes its temporary store again, where files came in
#: while it was removed (seconds; 1.55 s in all)
_ABORT_PAUSES = (0.05, 0.1, 0.2, 0.4, 0.8)


def _rmtree_store(path: str | os.PathLike) -> None:
    """Delete a local store directory, its completion marker first: a deletion interrupted
    half way leaves a directory that reads as incomplete, never one that reads as valid.
    A symbolic link is removed itself, never followed."""
    path = Path(path)
    if path.is_symlink():
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        return
    marker = path / MARKER
    if marker.is_dir() and not marker.is_symlink():
        shutil.rmtree(marker, ignore_errors=True)
    shutil.rmtree(path, ignore_errors=True)


def _lock_dir(path: str | os.PathLike, exclusive: bool, block: bool = False) -> int | None:
    """An open descriptor of directory ``path`` holding a ``flock``; None when another
    process holds a conflicting lock (``block=False``). A file system without ``flock``
    gives the descriptor without a lock.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return os.open(path, os.O_RDONLY)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    flags = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | (0 if block else fcntl.LOCK_NB)
    try:
        fcntl.flock(fd, flags)
    except BlockingIOError:
        os.close(fd)
        return None
    except OSError as e:
        if e.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
            os.close(fd)
            raise
    return fd


def _close(fd: int | None) -> None:
    if fd is not None:
        try:
            os.close(fd)
        except OSError:
            pass


#: descriptors holding a short exclusive lock (a publish, a removal) in a thread of this
#: process: a child forked meanwhile closes its copies, which would hold the lock with
#: the parent's (a flock belongs to the open file, shared across fork: the child then
#: waited PUBLISH_LOCK_TIMEOUT for a lock only its own copy held, and the parent's next
#: publish in that folder waited for the child to end; an audit)
_BRIEF_LOCKS: set[int] = set()
#: held while a descriptor is opened and added to (or removed from and closed) the set,
#: and across a fork, so that no descriptor is between the two when the child is made
_BRIEF_LOCKS_LOCK = threading.Lock()


def _close_brief_locks_in_child() -> None:
    global _BRIEF_LOCKS_LOCK
    for fd in list(_BRIEF_LOCKS):
        _close(fd)
    _BRIEF_LOCKS.clear()
    _BRIEF_LOCKS_LOCK = threading.Lock()


def _lock_briefly(path: str | os.PathLike) -> int | None:
    """:func:`_lock_dir` exclusive, without waiting, its descriptor kept in
    :data:`_BRIEF_LOCKS` (None: another process holds the lock)."""
    with _BRIEF_LOCKS_LOCK:
        fd = _lock_dir(path, exclusive=True)
        if fd is not None:
            _BRIEF_LOCKS.add(fd)
    return fd


def _unlock_briefly(fd: int) -> None:
    with _BRIEF_LOCKS_LOCK:
        _BRIEF_LOCKS.discard(fd)
        _close(fd)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=lambda: _BRIEF_LOCKS_LOCK.acquire(),
                        after_in_parent=lambda: _BRIEF_LOCKS_LOCK.release(),
                        after_in_child=_close_brief_locks_in_child)


def _remove_if_unused(path: str | os.PathLike) -> bool:
    """Delete a local store version unless a reader holds it; whether it was deleted."""
    try:
        fd = _lock_briefly(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    if fd is None:
        log.info("keeping %s: a reader still uses it; a later build removes it", path)
        return False
    try:
        _rmtree_store(path)
    finally:
        _unlock_briefly(fd)
    return True


@contextmanager
def _publish_lock(directory: Path) -> Iterator[None]:
    """An exclusive ``flock`` of ``directory`` for the short critical section of a publish
    (look at the current version, swap the link), so two publishers never interleave."""
    deadline = time.monotonic() + PUBLISH_LOCK_TIMEOUT
    while True:
        fd = _lock_briefly(directory)
        if fd is not None:
            break
        if time.monotonic() > deadline:
            raise StoreError(f"could not publish a store in {directory}: another process "
                             f"held its publish lock for {PUBLISH_LOCK_TIMEOUT:.0f} s; retry")
        time.sleep(0.005)
    try:
        yield
    finally:
        _unlock_briefly(fd)


def remove_store(path: str | os.PathLike, storage_options: dict[str, Any] | None = None) -> None:
    """Delete a store (every version, marker first) if it exists.

    A local store is moved aside first (the path is free at once), then deleted unless a
    reader holds it (then a later :func:`sweep_stale` deletes it). A symbolic link at the
    store path is removed itself, never its target.

    Parameters
    ----------
    path
        Local store directory or fsspec URL; nothing happens when it does not exist.
    storage_options
        fsspec options for remote URLs.

    Raises
    ------
    StoreError
        When the local ``path`` is a file.
    """
    if is_remote(path):
        fs, root = _fs(path, storage_options)
        if not fs.exists(root):
            return
        if read_pointer(path, storage_options) is not None:
            rm_literal(fs, f"{root}/{POINTER}")
        for key in _remote_markers(fs, root):
            rm_literal(fs, key)
        rm_literal(fs, root, recursive=True)
        return
    final = Path(os.path.abspath(_local(path)))  # a file:// URL: its path
    if final.is_symlink():
        final.unlink()  # the link goes, never its target
        return
    if not final.exists():
        return
    if not final.is_dir():
        raise StoreError(f"cannot remove store {final}: it is a file, not a store")
    aside = final.parent / f".{final.name}{_OLD}{uuid.uuid4().hex[:12]}"
    os.rename(final, aside)
    _remove_if_unused(aside)


#: the temporary directories this process's writers are writing (absolute paths): any
#: other of this process is left over (a failed parallel build's task that was still
#: running re-created it after the build removed it), see :func:`sweep_stale`
_OWN_TMP: set[str] = set()
_OWN_TMP_LOCK = threading.Lock()


def sweep_stale(path: str | os.PathLike) -> list[str]:
    """Remove what earlier builds of the local store ``path`` left beside it.

    Temporary stores (``.<name>.tmp-<host>-<pid>-<id>``) of a writer on this host whose
    process no longer runs, or of this process that none of its writers is writing, and
    replaced stores (``.<name>.old-<id>``), are deleted when no process holds them (a
    reader's shared lock, a writer's lock on its own work). Temporary stores of other live
    writers, or of other hosts, are kept.

    Parameters
    ----------
    path
        Final location of a local store.

    Returns
    -------
    list of str
        The paths removed.
    """
    if is_remote(path):
        return []
    final = Path(os.path.abspath(_local(path)))  # a file:// URL: its path
    if not final.parent.is_dir():
        return []
    host = socket.gethostname().replace("-", "_")
    prefix = f".{final.name}."
    removed = []
    try:
        entries = list(os.scandir(final.parent))
    except OSError:
        return []
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        match = _SIBLING.match(entry.name[len(prefix):])
        if match is None:
            continue
        pid = match.group("pid")
        if pid is not None:
            if match.group("host") != host:
                continue  # another host's
            if int(pid) == os.getpid():
                with _OWN_TMP_LOCK:
                    if os.path.abspath(entry.path) in _OWN_TMP:
                        continue  # being written here
            elif pid_alive(int(pid)):
                continue  # a live writer's work
        if entry.is_symlink() or not entry.is_dir(follow_symlinks=False):
            continue
        if not _remove_if_unused(entry.path):
            continue
        log.info("removed %s, left by an earlier build", entry.path)
        removed.append(entry.path)
    return removed


def _is_genozarr_dir(path: Path) -> bool:
    """Whether a directory holds a genozarr store (complete or not) or is empty."""
    if read_marker(path) is not None:
        return True
    try:
        with open(path / "zarr.json", "rb") as f:
            if "genozarr" in json.loads(f.read()).get("attributes", {}):
                return True
    except (OSError, ValueError, AttributeError):
        pass
    try:
        return not any(path.iterdir())
    except OSError:
        return False


def _check_replaceable(final: Path) -> None:
    """Refuse to replace an existing, non-empty directory that is not a genozarr store, or
    a file."""
    if final.is_symlink() or not final.exists():
        return
    if not final.is_dir():
        raise StoreError(f"cannot write a store to {final}: it exists and is a file, not a "
                         "genozarr store; remove it or choose another store path")
    if not _is_genozarr_dir(final):
        raise StoreError(
            f"cannot write a store to {final}: the directory exists and is not a genozarr "
            "store (no genozarr metadata); genozarr does not delete it. Remove it or choose "
            "another store path")


def _stored_version(marker: dict[str, Any] | None, root_doc: Any) -> int | None:
    """The largest integer format version the marker or the root metadata record."""
    found = []
    if marker is not None:
        found.append(marker.get("format_version"))
    try:
        found.append(root_doc["attributes"]["genozarr"]["format_version"])
    except (KeyError, TypeError):
        pass
    ints = [v for v in found if isinstance(v, int) and not isinstance(v, bool)]
    return max(ints) if ints else None


def _check_newer(where: str, version: int | None, replace: bool) -> None:
    """Never replace a store of a newer format version without ``overwrite=True``."""
    if version is None or version <= FORMAT_VERSION:
        return
    if not replace:
        raise StoreFormatError(
            f"{where} holds a store written in genozarr format version {version}; this "
            f"genozarr writes version {FORMAT_VERSION} and does not replace a newer store. "
            "Upgrade genozarr, or pass overwrite=True to replace it")
    from genozarr.errors import warn

    warn(f"replacing {where}, a store written in genozarr format version {version} (newer "
         f"than this genozarr's {FORMAT_VERSION}), because overwrite=True")


def _root_doc(root: str, storage_options: dict[str, Any] | None) -> Any:
    try:
        if is_remote(root):
            fs, key = _fs(root, storage_options)
            return json.loads(fs.cat_file(f"{key}/zarr.json"))
        with open(os.path.join(root, "zarr.json"), "rb") as f:
            return json.loads(f.read())
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------------------- remote
def _fs(path: str | os.PathLike, storage_options: dict[str, Any] | None) -> tuple[Any, str]:
    import fsspec

    fs, root = fsspec.core.url_to_fs(str(path), **(storage_options or {}))
    return fs, root.rstrip("/")


def _remote_markers(fs: Any, root: str) -> list[str]:
    """The completion markers under a remote store (flat and every version)."""
    keys = []
    try:
        fs.invalidate_cache(root)
        names = fs.ls(root, detail=False)
    except FileNotFoundError:
        return []
    for name in names:
        base = name.rstrip("/").rsplit("/", 1)[-1]
        if base == MARKER or re.fullmatch(r"v-[0-9a-f]+", base):
            key = f"{root}/{MARKER_FILE}" if base == MARKER else f"{root}/{base}/{MARKER_FILE}"
            if fs.exists(key):
                keys.append(key)
    return keys


def _remote_versions(fs: Any, root: str) -> list[str]:
    """The version prefixes (``v-<hex>``) under a remote store."""
    try:
        fs.invalidate_cache(root)
        names = [n.rstrip("/").rsplit("/", 1)[-1] for n in fs.ls(root, detail=False)]
    except FileNotFoundError:
        return []
    return [n for n in names if re.fullmatch(r"v-[0-9a-f]+", n)]


def _mtime(fs: Any, key: str) -> float | None:
    """An object's modification time (seconds since the epoch), or None."""
    try:
        fs.invalidate_cache(key)
        info = fs.info(key)
    except (OSError, ValueError):
        return None
    return _mtime_of(info)


def _mtime_of(info: dict[str, Any]) -> float | None:
    """The modification time in an fsspec ``info`` entry (seconds since the epoch)."""
    for field in ("LastModified", "mtime", "last_modified", "updated", "created"):
        value = info.get(field)
        if value is None:
            continue
        if hasattr(value, "timestamp"):
            return float(value.timestamp())
        try:
            return float(value)
        except (TypeError, ValueError):
            continue
    return None


def rm_literal(fs: Any, path: str, recursive: bool = False) -> None:
    """Delete the object ``path`` of an fsspec file system by its exact key, or with
    ``recursive`` every object under it: fsspec's ``rm`` takes a path holding ``*``, ``?``
    or ``[`` for a glob pattern, so removing ``s3://b/a?.zarr`` deleted ``s3://b/ab.zarr``
    too, and the versions of ``run[1].zarr`` were never deleted (an audit). The keys are
    listed by prefix (literal), and those holding such characters deleted one by one.

    Parameters
    ----------
    fs
        The file system.
    path
        The object, or the prefix (a folder) with ``recursive``.
    recursive
        Delete everything under ``path``.

    Raises
    ------
    FileNotFoundError
        Where nothing is there to delete.
    """
    keys = [str(k) for k in fs.find(path)] if recursive else [path]
    if not keys and fs.isfile(path):  # (recursive, of one object)
        keys = [path]
    if not keys:
        raise FileNotFoundError(path)
    if any(re.search(r"[*?\[]", k) for k in keys):
        for key in keys:
            fs.rm_file(key)
    else:
        fs.rm(keys)
    fs.invalidate_cache(path)


def _delete_remote_version(fs: Any, prefix: str) -> None:
    """Delete a remote version, its marker first."""
    try:
        if fs.exists(f"{prefix}/{MARKER_FILE}"):
            rm_literal(fs, f"{prefix}/{MARKER_FILE}")
        rm_literal(fs, prefix, recursive=True)
    except FileNotFoundError:
        pass
    fs.invalidate_cache(prefix)


def _newest_mtime(fs: Any, prefix: str) -> float | None:
    """The latest modification time of the objects under ``prefix`` (a version's chunks,
    written all through its build), or None where the object store reports none."""
    try:
        fs.invalidate_cache(prefix)
        infos = fs.find(prefix, detail=True)
    except (OSError, ValueError):
        return None
    times = [t for t in (_mtime_of(info) for info in infos.values()) if t is not None]
    return max(times) if times else None


def _sweep_remote(fs: Any, root: str, url: str, storage_options: dict[str, Any] | None,
                  keep: str | None = None, now: float | None = None) -> list[str]:
    """Delete the versions of a remote store that are retired for longer than
    :data:`REMOTE_GRACE_SECONDS`, or unpublished for longer than
    :data:`REMOTE_ABANDON_SECONDS`; returns their prefixes.

    Ages are measured on the object store's clock (the hosts of the builds that retire,
    sweep and write a version may keep other times): ``now`` is the modification time of
    an object this build has just written (this host's clock where the store reports
    none), a retired version's age is taken from its retirement mark's modification
    time, and an unpublished one is abandoned only when none of its objects was written
    for :data:`REMOTE_ABANDON_SECONDS` (a build writes chunks all along)."""
    current = read_pointer(url, storage_options)
    now = time.time() if now is None else now
    removed = []
    for name in _remote_versions(fs, root):
        if name in (current, keep):
            continue
        prefix = f"{root}/{name}"
        retired = _mtime(fs, f"{prefix}/{RETIRED}")
        if retired is None:  # (a store that reports no times: the time the mark holds)
            try:
                retired = float(json.loads(fs.cat_file(f"{prefix}/{RETIRED}"))["retired_at"])
            except (OSError, ValueError, KeyError, TypeError):
                retired = None
        if retired is not None:
            stale = now - retired > REMOTE_GRACE_SECONDS
        else:
            times = [t for t in (_mtime(fs, f"{prefix}/{MARKER_FILE}"),
                                 _mtime(fs, f"{prefix}/zarr.json")) if t is not None]
            stale = bool(times) and now - max(times) > REMOTE_ABANDON_SECONDS
            if stale:  # (its first objects are old: is any written lately?)
                newest = _newest_mtime(fs, prefix)  # (None, a listing that failed: kept)
                stale = newest is not None and now - newest > REMOTE_ABANDON_SECONDS
        if stale:
            log.info("removing %s/%s, a replaced or abandoned version", url, name)
            _delete_remote_version(fs, prefix)
            removed.append(f"{url.rstrip('/')}/{name}")
    return removed


def _is_remote_genozarr(fs: Any, root: str) -> bool:
    """Whether a remote prefix is empty or holds genozarr content only."""
    try:
        fs.invalidate_cache(root)
        names = [n.rstrip("/").rsplit("/", 1)[-1] for n in fs.ls(root, detail=False)]
    except FileNotFoundError:
        return True
    if not names:
        return True
    if POINTER in names or all(re.fullmatch(r"v-[0-9a-f]+", n) for n in names):
        return True
    try:
        doc = json.loads(fs.cat_file(f"{root}/zarr.json"))
        return "genozarr" in doc.get("attributes", {})
    except (OSError, ValueError, AttributeError):
        return False


# ---------------------------------------------------------------------------- the writer
class StoreWriter:
    """Creates a new version of a store and publishes it when complete.

    Parameters
    ----------
    path
        Final location (directory or fsspec URL).
    meta
        Store metadata, written to the root group's ``genozarr`` attribute.
    arrays
        ``{name: ArraySpec}`` for the data arrays.
    coords
        ``{name: (dims, values)}`` small coordinate arrays written immediately.
    storage_options
        fsspec options for remote URLs.
    replace
        Publish over a store with the same cache key instead of keeping it
        (``overwrite=True`` of the dataset constructors); also allows replacing a store of
        a newer format version (with a warning).
    keep_same_key
        Where a store with the same cache key was published meanwhile (or before), keep
        it and discard this version (first writer wins: what a cached build wants); False
        publishes this version over it, as a build without ``cache`` does.
    expect_key
        Publish only over a store whose marker holds this cache key (a new version of the
        same store: :func:`genozarr.store.recipe.update_served`); otherwise the new version
        is discarded.
    copy_from
        A version (directory or URL prefix) whose files the new version starts from,
        except the root metadata, the completion marker and the windows group (local:
        hard links where the file system allows, else copies; remote: server-side copies).
        ``arrays`` and ``coords`` are then not created.

    Attributes
    ----------
    tmp
        Where the new version is written (build tasks write there).
    created
        Local store: the files written when the version was created (its metadata and
        coordinates), which an :class:`EarlyFlush` may flush while the build runs.
    root
        After :meth:`commit`: the version the store path names (ours, or the one kept).
    """

    def __init__(self, path: str | os.PathLike, meta: StoreMeta, arrays: dict[str, ArraySpec],
                 coords: dict[str, tuple[tuple[str, ...], np.ndarray]],
                 storage_options: dict[str, Any] | None = None, *,
                 replace: bool = False, expect_key: str | None = None,
                 copy_from: str | None = None, keep_same_key: bool = True) -> None:
        self.final = path_text(path)
        self.replace = bool(replace)
        self.keep_same_key = bool(keep_same_key)
        self.meta = meta
        self.storage_options = storage_options
        self.expect_key = expect_key
        self.remote = is_remote(path)
        self.root: str | None = None
        self.published = False
        #: after :meth:`commit`: whether a version published by another writer (same cache
        #: key) was kept instead of this one (its metadata, served settings included, are
        #: that writer's)
        self.kept_existing = False
        #: after :meth:`commit`: the completion marker (attributes) of the version
        #: published, ours or the one kept; a reader opened on the path afterwards checks
        #: it holds this one (another build may have replaced it meanwhile)
        self.marker: dict[str, Any] | None = None
        #: the id written into the marker: a new one, or a source's (``copy_from``)
        self._build: str | None = uuid.uuid4().hex
        #: whether the version starts from another's files (``copy_from``), and then
        #: whether that one's build was forced (the marker says so again)
        self._copied = copy_from is not None
        self._forced = False
        self.tmp = ""
        self.created: list[str] = []
        self._fd: int | None = None  # local: a shared lock on our own directory
        #: whether the version's consolidated metadata is written and current
        self._consolidated = False
        check_store_path(self.final)
        try:
            if self.remote:
                self._init_remote()
            else:
                self._init_local()
            if copy_from is not None:
                self._copy(copy_from)
            else:
                self._create(arrays, coords)
            if self.remote:  # (now, by the object store's clock: our root document's time)
                _sweep_remote(self._rfs, self._rroot, self.final, self.storage_options,
                              now=_mtime(self._rfs, f"{self.tmp_key}/zarr.json"))
        except BaseException as e:
            self.abort()
            if isinstance(e, GenozarrError) or not isinstance(e, Exception):
                raise
            raise self.error(e, "create") from e
        self.arrays = arrays

    # -------------------------------------------------------------- set-up
    def _init_local(self) -> None:
        final = _resolve_final(self.final)
        check_store_path(final)
        self.path = final
        _check_replaceable(final)
        if final.exists():
            root = os.path.realpath(final)
            _check_newer(self.final, _stored_version(read_marker(final),
                                                     _root_doc(root, None)), self.replace)
        final.parent.mkdir(parents=True, exist_ok=True)
        sweep_stale(final)
        self.tmp = str(final.parent / f".{final.name}{_TMP}{_owner_tag()}-"
                       f"{uuid.uuid4().hex[:12]}")
        with _OWN_TMP_LOCK:  # (before the directory exists: a sweep never sees it unheld)
            _OWN_TMP.add(os.path.abspath(self.tmp))
        os.mkdir(self.tmp)
        self._fd = _lock_dir(self.tmp, exclusive=False)  # sweepers leave it alone

    def _init_remote(self) -> None:
        fs, root = _fs(self.final, self.storage_options)
        self._rfs, self._rroot = fs, root
        if not _is_remote_genozarr(fs, root):
            raise StoreError(
                f"cannot write a store to {self.final}: the prefix holds objects that are "
                "not a genozarr store; genozarr does not delete them. Remove them or choose "
                "another URL")
        current = resolve_root(self.final, self.storage_options)
        _check_newer(self.final, _stored_version(read_marker(self.final, self.storage_options),
                                                 _root_doc(current, self.storage_options)),
                     self.replace)
        self.version = f"v-{uuid.uuid4().hex[:16]}"
        self.tmp = f"{self.final.rstrip('/')}/{self.version}"

    def _create(self, arrays: dict[str, ArraySpec],
                coords: dict[str, tuple[tuple[str, ...], np.ndarray]]) -> None:
        from zarr.core.sync import sync

        register_zarr()
        MemoryStore = _listed_memory_store()
        # zarr assembles the metadata of every node, the coordinate arrays and the
        # consolidated metadata in memory, and the files are then written in one go: each
        # zarr call on a local store costs 2-5 ms of CPU in zarr's event loop and file
        # threads (the 25 nodes of a store of 4 chromosomes took about 0.15 s of CPU,
        # competing with the build's workers)
        entries: dict[str, Any] = {}
        # small coordinate arrays repeated under many paths (each chromosome's strand and
        # condition labels) are made once and their files copied to the other paths: an
        # array's files do not name its path
        copies = _repeated_coords(coords)
        sync(self._assemble(MemoryStore(entries), arrays,
                            {k: v for k, v in coords.items() if k not in copies},
                            _codec_options()))
        files_of = {first: [(key[len(first):], value) for key, value in entries.items()
                            if key.startswith(f"{first}/")] for first in set(copies.values())}
        for name, first in copies.items():
            entries.update((f"{name}{rest}", value) for rest, value in files_of[first])
        self._consolidate(MemoryStore(entries))
        files = {key: value.to_bytes() for key, value in entries.items()}
        if self.remote:
            self._rfs.pipe({f"{self.tmp_key}/{key}": data for key, data in files.items()})
        else:
            self.created = _write_files({os.path.join(self.tmp, key): data
                                         for key, data in files.items()})
        self._consolidated = True

    async def _assemble(self, store: Any, arrays: dict[str, ArraySpec],
                        coords: dict[str, tuple[tuple[str, ...], np.ndarray]],
                        codec: dict[str, Any]) -> None:
        """Create the nodes of the new version in ``store``: the root group (with the store
        metadata), the groups above the arrays, the (empty) data arrays (compressed as
        ``codec``, :func:`_codec_options`) and the coordinate arrays, the nodes of one
        level concurrently."""
        import asyncio

        from zarr.core.group import AsyncGroup

        # the root's attributes (the store metadata, which names every chromosome) are
        # set last: zarr reads the metadata of a node's parent at each node it creates, so
        # with them a store of n contigs took time quadratic in n (4,000 contigs: 9 s)
        groups = {"": await AsyncGroup.from_store(store, overwrite=True, zarr_format=3)}
        levels: dict[int, set[str]] = {}
        for name in list(arrays) + list(coords):
            parts = name.split("/")[:-1]
            for depth in range(1, len(parts) + 1):
                levels.setdefault(depth, set()).add("/".join(parts[:depth]))
        for depth in sorted(levels):
            paths = sorted(levels[depth])
            made = await asyncio.gather(*(
                groups[path.rpartition("/")[0]].create_group(path.rpartition("/")[2])
                for path in paths))
            groups.update(zip(paths, made))

        def create(name: str, spec: ArraySpec) -> Any:
            head, _, leaf = name.rpartition("/")
            chunks, shards = spec.chunks, None
            if spec.inner is not None and spec.inner < spec.chunks[0]:
                chunks, shards = (spec.inner,) + tuple(spec.chunks[1:]), spec.chunks
            return groups[head].create_array(
                leaf, shape=spec.shape, chunks=chunks, shards=shards, dtype=spec.dtype,
                fill_value=spec.fill_value,
                compressors=_compressors(spec.dtype, spec.runs, codec),
                dimension_names=spec.dims,
                attributes={"coordinates": spec.coordinates} if spec.coordinates else {},
                chunk_key_encoding=CHUNK_KEY_ENCODING)

        await asyncio.gather(
            *(create(name, spec) for name, spec in arrays.items()),
            *(_write_coord_async(groups[name.rpartition("/")[0]], name.rpartition("/")[2],
                                 dims, values) for name, (dims, values) in coords.items()))
        await groups[""].update_attributes({"genozarr": self.meta.to_attrs()})

    def _consolidate(self, store: Any = None) -> None:
        """Write the consolidated metadata of the new version (or of the zarr ``store``
        where it is assembled) into its root."""
        import zarr

        if store is None:
            store = zarr_store(self.tmp, "w", self.storage_options)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
            zarr.consolidate_metadata(store, zarr_format=3)

    def _copy(self, source: str) -> None:
        """Start from the files of version ``source`` (see ``copy_from``)."""
        def wanted(rel: str) -> bool:
            top = rel.split("/", 1)[0]
            # (not a chunk file the source's marker records as never written: another
            # build's, left by a copy over an older copy; the source reads it as an error)
            return rel != "zarr.json" and top not in (MARKER, WINDOWS) and top != RETIRED \
                and not (inventory is not None and inventory.stray(rel))

        doc = _root_doc(source, self.storage_options)
        if not isinstance(doc, dict):
            raise StoreError(f"cannot read the root metadata of {source}")
        doc.pop("consolidated_metadata", None)
        attrs = dict(doc.get("attributes") or {})
        attrs["genozarr"] = self.meta.to_attrs()
        doc["attributes"] = attrs
        content = json.dumps(doc).encode()
        marker = _marker_at(source, self.storage_options)
        inventory = ChunkInventory.from_marker(marker)
        # the same values: the new version keeps the source's build id (readers of the
        # source go on reading the new version)
        self._build = (marker or {}).get("build")
        self._forced = bool((marker or {}).get("forced"))
        if self.remote:
            fs, src = _fs(source, self.storage_options)
            _, dst = _fs(self.tmp, self.storage_options)
            found = {f: f[len(src) + 1:] for f in fs.find(src)}  # key -> relative key
            _check_lost(inventory, list(found.values()), source)
            files = [f for f, rel in found.items() if wanted(rel)]
            if files:
                fs.copy(files, [f"{dst}/{found[f]}" for f in files])
            fs.pipe_file(f"{dst}/zarr.json", content)
            return
        found = _relative_files(source)
        _check_lost(inventory, found, source)
        for rel in filter(wanted, found):
            target = os.path.join(self.tmp, rel)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            try:
                os.link(os.path.join(source, rel), target)
            except OSError:  # another file system, or no hard links: copy
                shutil.copyfile(os.path.join(source, rel), target)
        with open(os.path.join(self.tmp, "zarr.json"), "wb") as f:
            f.write(content)

    def open_group(self) -> Any:
        """The new version's zarr group, for writing (its metadata is consolidated again
        at :meth:`commit`).

        Returns
        -------
        zarr.Group
            The root group of :attr:`tmp`, opened ``r+``.
        """
        import zarr

        self._consolidated = False

        return zarr.open_group(zarr_store(self.tmp, "w", self.storage_options), mode="r+",
                               zarr_format=3, use_consolidated=False)

    # -------------------------------------------------------------- errors
    def error(self, e: BaseException, action: str = "write") -> StoreError:
        """A :class:`StoreError` for a storage failure while building this store (disk full,
        permission denied, missing bucket...), naming the store path and the cause.

        Parameters
        ----------
        e
            The storage failure.
        action
            ``'create'``, ``'publish'``, or anything else for ``'write'``: what failed,
            for the message.

        Returns
        -------
        StoreError
            The error to raise (the caller raises it); before publication, it also says
            what became of the temporary version (:meth:`removal`).
        """
        what = {"create": "create store", "publish": "publish store"}.get(action, "write store")
        err = storage_error(what, self.final, e)
        if not self.published:
            err = StoreError(f"{err}. Nothing was published at {self.final}; "
                             f"{self.removal()}")
        return err

    def removal(self) -> str:
        """What became of the unpublished temporary version, for a message (after
        :meth:`abort`).

        Returns
        -------
        str
            That it was removed, or the local path that could not be removed.
        """
        if self.remote or not self.tmp or not os.path.lexists(self.tmp):
            return "the temporary copy was removed"
        # (an error such as too many open files may also keep its removal from working)
        return (f"the temporary copy {self.tmp} could not be removed; the next build of "
                "this store removes it")

    # -------------------------------------------------------------- writing
    def write(self, name: str, start: int, values: np.ndarray) -> None:
        """Write ``values`` at first-axis offset ``start`` of array ``name`` (in process).

        Parameters
        ----------
        name
            Array path (a key of ``arrays``).
        start
            First-axis offset (row, or bin in the whole-genome layout) of the block's
            first entry, on a chunk (shard) boundary.
        values
            The block, of shape ``(n,) + the array's shape[1:]``.

        See Also
        --------
        write_block
        """
        write_block(self.tmp, name, start, values, self.storage_options)

    def commit(self, flushed: frozenset[str] | set[str] = frozenset(),
               chunks_written: Iterable[WrittenChunk] = ()) -> str:
        """Consolidate metadata, write the marker and publish; returns the final path.

        If another process published a valid store with the same cache key first, this
        one is discarded and the other is kept (first writer wins), unless ``replace`` or
        not ``keep_same_key``.
        ``flushed``: real paths of files already flushed to disk, complete
        (:meth:`EarlyFlush.finish`), which publication does not flush again.

        Parameters
        ----------
        flushed
            Real paths of files already flushed (local stores).
        chunks_written
            :class:`WrittenChunk` of each chunk file the build's tasks wrote (remote
            stores, :func:`write_block`): each must be in the object store, whatever its
            listing says, or nothing is published.

        Returns
        -------
        str
            The store path (``path`` as given, as text). :attr:`root` then names the
            version published or kept.

        Raises
        ------
        StoreError
            When the storage fails (the temporary version is then removed), or the store
            path became a file or a symbolic link during the build.
        StoreFormatError
            When a store of a newer format version was published at the path during the
            build (and ``replace`` is False).
        """
        written = {chunk.key for chunk in chunks_written}
        try:
            if not self._consolidated:
                self._consolidate()
            marker = marker_bytes(self.meta.cache_key, self.meta.format_version,
                                  self._inventory(written), build=self._build,
                                  forced=self._forced if self._copied else self.replace,
                                  version=uuid.uuid4().hex)
            self.marker = json.loads(marker)["attributes"]
            if self.remote:
                self._rfs.pipe_file(f"{self.tmp_key}/{MARKER_FILE}", marker)
                self._publish_remote()
                return self.final
            # every chunk on disk before the marker says complete
            _fsync_tree(self.tmp, skip=flushed)
            (Path(self.tmp) / MARKER).mkdir()
            with open(Path(self.tmp) / MARKER_FILE, "wb") as f:
                f.write(marker)
                f.flush()
                os.fsync(f.fileno())
            _fsync_dir(Path(self.tmp) / MARKER)
            _fsync_dir(self.tmp)
            self._publish_local()
        except GenozarrError:
            raise
        except Exception as e:
            self.abort()  # (first: the error says whether the temporary copy is gone)
            raise self.error(e, "publish") from e
        return self.final

    def _inventory(self, written: set[str]) -> dict[str, Any]:
        """Which chunk files of each array the new version holds (:func:`chunk_inventory`),
        from a listing of its files and its consolidated metadata; ``written``: the keys of
        the chunk files the build wrote (each asked for where a remote listing leaves it
        out)."""
        if self.remote:
            prefix = self.tmp_key.rstrip("/") + "/"
            root_doc = json.loads(self._rfs.cat_file(f"{prefix}zarr.json"))
            keys = [key[len(prefix):] for key in self._rfs.find(prefix)
                    if key.startswith(prefix)]
            keys += self._unlisted_chunks(prefix, keys, written)
        else:
            with open(os.path.join(self.tmp, "zarr.json"), "rb") as f:
                root_doc = json.loads(f.read())
            keys = _relative_files(self.tmp)
        metadata = (root_doc.get("consolidated_metadata") or {}).get("metadata") or {}
        return chunk_inventory(metadata, keys)

    def _unlisted_chunks(self, prefix: str, keys: list[str], written: set[str]) -> list[str]:
        """The keys of chunk files the build's tasks wrote that the object store's listing
        (``keys``) left out, found by asking for each (a listing may lag behind the
        writes); one not there is an error: the store acknowledged its write and did not
        keep it, and its data would read as the fill value."""
        found = []
        for key in sorted(written - set(keys)):
            self._rfs.invalidate_cache(f"{prefix}{key}")  # (and its folders' listings)
            try:
                self._rfs.info(f"{prefix}{key}")
            except FileNotFoundError:
                raise StoreError(
                    f"cannot publish {hide_secrets(self.final)}: its chunk file {key} was "
                    "written by the build, but the object store does not hold it (a write "
                    "it acknowledged and did not keep); nothing was published. Build "
                    "again") from None
            log.warning("%s: the object store's listing left out chunk file %s, which it "
                        "holds", hide_secrets(self.final), key)
            found.append(key)
        return found

    def set_meta(self, meta: StoreMeta) -> None:
        """Replace the store metadata of the new version before it is published (its root
        metadata document is rewritten and flushed).

        Parameters
        ----------
        meta
            The new metadata, written to the root group's ``genozarr`` attribute and
            recorded in the marker at :meth:`commit` (its cache key).
        """
        self.meta = meta
        _replace_root_attrs(self.tmp, self.storage_options, meta, self.final)

    @property
    def tmp_key(self) -> str:
        """The new version's key prefix on object storage."""
        return f"{self._rroot}/{self.version}"

    def _keep_existing(self, marker: dict[str, Any] | None) -> bool:
        """Whether the published version with ``marker`` wins over ours."""
        if marker is None:
            return False
        if self.expect_key is not None and marker.get("cache_key") != self.expect_key:
            log.info("store %s was replaced by another build meanwhile; not publishing",
                     self.final)
            return True
        return (self.keep_same_key and not self.replace and self.meta.cache_key is not None
                and marker.get("cache_key") == self.meta.cache_key)

    def _publish_local(self) -> None:
        final = self.path
        old: Path | None = None
        with _publish_lock(final.parent):
            if final.is_symlink() or (final.exists() and not final.is_dir()):
                raise StoreError(f"cannot publish a store at {final}: it became a file or a "
                                 "symbolic link while the store was written; not replacing it")
            exists = final.exists()
            marker = read_marker(final) if exists else None
            if exists and not self.replace:  # a newer store appeared during the build
                _check_newer(self.final, _stored_version(marker, _root_doc(str(final), None)),
                             False)
            if self._keep_existing(marker):
                log.info("store %s was published by another writer; keeping it", final)
                _rmtree_store(self.tmp)
                self.root = str(final)
                self.marker = marker
                self.published = True  # nothing of ours is left to remove
                self.kept_existing = True
                return
            if not exists:
                os.rename(self.tmp, final)
            else:
                _check_replaceable(final)
                aside = final.parent / f".{final.name}{_OLD}{uuid.uuid4().hex[:12]}"
                if _exchange(self.tmp, final):  # the path names the new version at once
                    self.published = True
                    old = Path(self.tmp)  # now the replaced version
                    os.rename(old, aside)
                else:  # no exchange here: the path is missing for a moment
                    os.rename(final, aside)
                    try:
                        os.rename(self.tmp, final)
                    except BaseException:
                        os.rename(aside, final)  # put the old store back
                        raise
                old = aside
            self.published = True
            self.root = str(final)
            _fsync_dir(final.parent)
        if old is not None:
            _remove_if_unused(old)
        sweep_stale(final)

    def _publish_remote(self) -> None:
        fs, root = self._rfs, self._rroot
        current = read_pointer(self.final, self.storage_options)
        # the published version: the one the pointer names now, or a flat store's root
        published = f"{self.final.rstrip('/')}/{current}" if current else self.final.rstrip("/")
        marker = _marker_at(published, self.storage_options)
        flat = current is None and (marker is not None or fs.exists(f"{root}/zarr.json"))
        if (current is not None or flat) and not self.replace:  # appeared during the build
            _check_newer(self.final, _stored_version(
                marker, _root_doc(f"{self.final.rstrip('/')}/{current}" if current
                                  else self.final, self.storage_options)), False)
        if self._keep_existing(marker):
            log.info("store %s was published by another writer; keeping it", self.final)
            _delete_remote_version(fs, self.tmp_key)
            self.root = published  # the version that marker belongs to (whatever was
            # published since: the caller checks the marker of what it opens)
            self.marker = marker
            self.published = True
            self.kept_existing = True
            return
        if self.expect_key is not None:  # only over the version it was made from: another
            # build published since the look above (ours would put the older data back)
            again = read_pointer(self.final, self.storage_options)
            if again != current:
                log.info("store %s was replaced by another build meanwhile; not publishing",
                         self.final)
                _delete_remote_version(fs, self.tmp_key)
                self.root = resolve_root(self.final, self.storage_options)
                self.marker = _marker_at(self.root, self.storage_options)
                self.published = True
                self.kept_existing = True
                return
        if current is not None:  # marked first: a version marked long ago by a racing
            # build must not look stale to a sweep the moment the pointer leaves it
            _retire(fs, f"{root}/{current}")
        fs.pipe_file(f"{root}/{POINTER}", json.dumps({"version": self.version}).encode())
        self.published = True
        self.root = self.tmp
        if flat:  # a store written before versioning: deleted now, marker first
            _delete_flat_remote(fs, root)
        now = read_pointer(self.final, self.storage_options)
        if now is None:  # (a racing build writes a pointer too: none is a lost write)
            self.published = False  # (removed by abort: no pointer names it)
            self.root = None
            raise StoreError(
                f"cannot publish {hide_secrets(self.final)}: the object store does not hold "
                f"the pointer {POINTER} this build wrote (a write it acknowledged and did "
                "not keep); nothing was published. Build again")
        # every other complete version is replaced now: ours if another build published
        # after us, and one that published between our look at the pointer and our write.
        # A mark is never taken away: ``now`` may be stale by the time we look (a racing
        # build overwrote the pointer and marked ours), and the current version keeps a
        # racing build's mark harmlessly (a sweep never deletes the current version, and
        # the build that replaces it marks it again with its own time)
        for name in _remote_versions(fs, root):
            prefix = f"{root}/{name}"
            if name != now and not fs.exists(f"{prefix}/{RETIRED}") \
                    and fs.exists(f"{prefix}/{MARKER_FILE}"):
                _retire(fs, prefix)
        _sweep_remote(fs, root, self.final, self.storage_options, keep=self.version,
                      now=_mtime(fs, f"{root}/{POINTER}"))

    def abort(self) -> None:
        """Remove the unpublished new version (after an error); never raises."""
        try:
            if not self.published and self.tmp:
                if self.remote:
                    _delete_remote_version(self._rfs, self.tmp_key)
                else:
                    _rmtree_store(self.tmp)
                    # tasks of the stopped build that still run (on dask.distributed,
                    # which does not wait for them) may write while it is removed: again
                    # until it is gone, after which they write nothing (they never make
                    # its folders again)
                    for pause in _ABORT_PAUSES:
                        if not os.path.lexists(self.tmp):
                            break
                        time.sleep(pause)
                        _rmtree_store(self.tmp)
        except Exception as e:  # noqa: BLE001 - cleaning up after another error
            log.warning("could not remove the temporary store %s: %s", self.tmp, e)
        finally:
            self.close()

    def close(self) -> None:
        """Release this writer's lock on its version (after the caller opened it)."""
        fd, self._fd = getattr(self, "_fd", None), None  # (stopped early in __init__)
        _close(fd)
        if getattr(self, "tmp", None) and not getattr(self, "remote", True):
            with _OWN_TMP_LOCK:
                _OWN_TMP.discard(os.path.abspath(self.tmp))

    def __del__(self) -> None:
        self.close()


def _relative_files(root: str) -> list[str]:
    """Every file under local directory ``root``, as a key relative to it ('/'-separated)."""
    return [os.path.relpath(os.path.join(top, name), root).replace(os.sep, "/")
            for top, _, names in os.walk(root) for name in names]


def _check_lost(inventory: ChunkInventory | None, keys: list[str], source: str) -> None:
    """Refuse to start a new version from version ``source`` (file keys ``keys``) when
    it lacks chunk files its marker records as written (it would publish them as fill
    values).

    Raises
    ------
    StoreError
        Naming the store and the first lost chunk files.
    """
    lost = inventory.lost(keys) if inventory is not None else []
    if lost:
        raise StoreError(
            f"store {source} is incomplete: {len(lost)} chunk file(s) its completion marker "
            f"records as written are missing ({', '.join(lost[:3])}"
            f"{', ...' if len(lost) > 3 else ''}; copied in part, or files deleted since). "
            "Copy it again or rebuild it (overwrite=True).")


def _retire(fs: Any, prefix: str) -> None:
    """Mark a remote version as replaced now (a later build deletes it after the grace,
    counted from the mark's modification time on the object store's clock; the time in
    it, this host's, serves only a store that reports no times)."""
    try:
        fs.pipe_file(f"{prefix}/{RETIRED}", json.dumps({"retired_at": time.time()}).encode())
    except OSError as e:
        log.warning("could not mark %s as replaced: %s", prefix, e)


def _delete_flat_remote(fs: Any, root: str) -> None:
    """Delete a remote store written before versioning (its marker first), keeping the
    pointer and the versions beside it."""
    try:
        if fs.exists(f"{root}/{MARKER_FILE}"):
            rm_literal(fs, f"{root}/{MARKER_FILE}")
        fs.invalidate_cache(root)
        for name in fs.ls(root, detail=False):
            base = name.rstrip("/").rsplit("/", 1)[-1]
            if base == POINTER or re.fullmatch(r"v-[0-9a-f]+", base):
                continue
            rm_literal(fs, f"{root}/{base}", recursive=True)
    except FileNotFoundError:
        pass


def rewrite_root_attrs(path: str | os.PathLike, storage_options: dict[str, Any] | None,
                       meta: StoreMeta) -> bool:
    """Replace the ``genozarr`` attribute of the published version's root metadata in one
    step (local: a new file renamed over ``zarr.json``; remote: one PUT), when that
    version still holds ``meta.cache_key``. Readers see the old or the new document.

    Parameters
    ----------
    path
        Local store path or fsspec URL of a published store.
    storage_options
        fsspec options for remote URLs.
    meta
        The metadata to write.

    Returns
    -------
    bool
        False when the store now holds another build (nothing was changed).
    """
    from genozarr.store.open import open_resolved

    opened = open_resolved(path, storage_options)
    try:
        if opened.meta().cache_key != meta.cache_key:
            log.info("store %s now holds another build; not recording served settings", path)
            return False
        # the version checked above, even if exchanged meanwhile
        _replace_root_attrs(opened.io_root, storage_options, meta, str(path))
        return True
    finally:
        opened.release()


def _replace_root_attrs(root: str, storage_options: dict[str, Any] | None, meta: StoreMeta,
                        where: str) -> None:
    """Replace the ``genozarr`` attribute in the root metadata document of the version at
    ``root`` in one step (local: a new file, flushed, renamed over ``zarr.json``; remote:
    one PUT); ``where`` names the store in messages."""
    doc = _root_doc(root, storage_options)
    if not isinstance(doc, dict):
        raise StoreError(f"cannot read the root metadata of {where}")
    doc.setdefault("attributes", {})["genozarr"] = meta.to_attrs()
    content = json.dumps(doc).encode()
    try:
        if is_remote(root):
            fs, key = _fs(root, storage_options)
            fs.pipe_file(f"{key}/zarr.json", content)
            return
        tmp = os.path.join(root, f".zarr.json.{uuid.uuid4().hex[:12]}")
        try:
            with open(tmp, "wb") as f:
                f.write(content)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, os.path.join(root, "zarr.json"))
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        _fsync_dir(root)
    except GenozarrError:
        raise
    except Exception as e:
        raise storage_error("update store", where, e) from e


def _fsync_dir(path: str | os.PathLike) -> None:
    """Flush a directory's entries to disk (where the platform allows it)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _flush_file(path: str) -> str:
    """``fsync`` one file (or directory); returns its path."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


def _fsync_tree(root: str | os.PathLike, skip: frozenset[str] | set[str] = frozenset()) -> None:
    """Flush every file and directory under ``root`` to disk (``fsync``), so that a power
    cut after the completion marker is written never leaves damaged chunks behind it;
    files whose real path is in ``skip`` were flushed complete before.

    Files are flushed from several threads (``fsync`` releases the GIL): the file system
    commits concurrent flushes together, which measured about 2x faster than one after
    another for a store of a few hundred chunk files on the development machine's disk."""
    from concurrent.futures import ThreadPoolExecutor

    files, dirs = [], []
    for dirpath, _, names in os.walk(os.path.realpath(root)):
        files += [p for p in (os.path.join(dirpath, name) for name in names) if p not in skip]
        dirs.append(dirpath)
    if len(files) < 16:
        for path in files:
            _flush_file(path)
    else:
        with ThreadPoolExecutor(max_workers=_FSYNC_THREADS) as pool:
            list(pool.map(_flush_file, files))
    for path in reversed(dirs):  # deepest first: a directory after its entries
        _flush_file(path)


#: threads flushing a new store's files at publication
_FSYNC_THREADS = 8


class EarlyFlush:
    """Flushes (``fsync``) the files of finished build tasks in background threads while
    later tasks run, so that publication flushes only what is left.

    A 400 Mb sequence store holds about 100 MB of compressed codes: flushed all at
    publication, they took 0.15-0.19 s of a 0.7-0.8 s build; flushed as tasks finish,
    publication's flush took 0.01-0.02 s. A task's files are complete when it finishes (no
    two tasks write one file), so a file flushed then needs no second flush; so are the
    metadata and coordinate files written when the version is created (a 50 Mb sequence
    store's 33: flushed at publication they took 7-9 ms, flushed while its tasks ran
    publication's flush took 2-3 ms). A file whose flush fails is left to publication's
    flush.

    Parameters
    ----------
    threads
        Flushing threads.
    root
        The build's temporary folder, made by the build with everything below it (no
        links there): the real paths of its files are found from its own.
    """

    def __init__(self, threads: int = 2, root: str | None = None) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="genozarr-flush")
        self._futures: list[Any] = []
        #: a folder the build made (with everything below it, no links): its files' real
        #: paths are found from its own, not file by file (``realpath`` looks at every
        #: folder of a path: 0.5 s for the 24,000 files of a store of 4,000 contigs)
        self._root = None if root is None else (os.path.join(root, ""),
                                                os.path.join(os.path.realpath(root), ""))

    def _real(self, path: str) -> str:
        if self._root is not None and path.startswith(self._root[0]):
            return self._root[1] + path[len(self._root[0]):]
        return os.path.realpath(path)

    def add(self, paths: Any) -> None:
        """Start flushing ``paths`` (files a finished task wrote; anything else is
        ignored)."""
        if isinstance(paths, list):
            self._futures += [self._pool.submit(_flush_file, self._real(p))
                              for p in paths if isinstance(p, str)]

    def finish(self) -> frozenset[str]:
        """Wait for the flushes; the real paths of the files flushed."""
        done = set()
        for future in self._futures:
            try:
                done.add(future.result())
            except OSError:
                pass
        self.close()
        return frozenset(done)

    def close(self) -> None:
        """Stop: flushes not started are dropped."""
        self._pool.shutdown(wait=True, cancel_futures=True)


def _parent(group: Any, path: str) -> tuple[Any, str]:
    """The (created) parent group of ``path`` and the leaf name."""
    if "/" not in path:
        return group, path
    head, leaf = path.rsplit("/", 1)
    return group.require_group(head), leaf


#: files of a new store's metadata and coordinates from which they are written by several
#: threads (a genome of many contigs: 6 files and folders per contig)
_MANY_FILES = 64


def _write_files(files: dict[str, bytes]) -> list[str]:
    """Write ``{path: bytes}`` as files, making their folders; returns the paths. Many
    files are written from several threads, their folders made level by level first:
    creating a file or a folder waits on the file system. Where each took about 1 ms on
    the development machine's disk, 8 threads made 300 folders with a file each 4x faster
    than one; where each took 0.1 ms, they gained nothing."""
    from concurrent.futures import ThreadPoolExecutor

    from genozarr.store._direct import write_file

    made: set[str] = set()
    if len(files) < _MANY_FILES:
        for path, data in files.items():
            write_file(path, data, made)
        return list(files)
    folders = {os.path.dirname(path) for path in files}
    todo = {f for f in folders if not os.path.isdir(f)}
    for folder in list(todo):  # and the missing folders above them
        parent = os.path.dirname(folder)
        while parent not in todo and not os.path.isdir(parent):
            todo.add(parent)
            parent = os.path.dirname(parent)
    with ThreadPoolExecutor(max_workers=_FSYNC_THREADS) as pool:
        depth = lambda f: f.count(os.sep)
        for level in sorted({depth(f) for f in todo}):
            list(pool.map(os.mkdir, [f for f in todo if depth(f) == level]))
        made.update(folders)
        list(pool.map(lambda item: write_file(item[0], item[1], made), files.items()))
    return list(files)


#: coordinate arrays of at most this many values are compared with the others when a
#: store is created, and written once for all that are equal (:func:`_repeated_coords`)
_SMALL_COORD = 256


def _repeated_coords(coords: dict[str, tuple[tuple[str, ...], Any]]) -> dict[str, str]:
    """``{path: first path}`` of the small coordinate arrays equal (dimensions, type,
    values) to one of the same name at the same depth at an earlier path, such as every
    chromosome's strand and condition labels."""
    first: dict[Any, str] = {}
    copies: dict[str, str] = {}
    for name, (dims, values) in coords.items():
        if isinstance(values, Labeled):
            if values.codes.size > _SMALL_COORD:
                continue
            key: Any = ("labeled", values.codes.dtype.str, values.codes.tobytes(),
                        tuple(values.labels))
        else:
            arr = np.asarray(values)
            if arr.size > _SMALL_COORD:
                continue
            key = ("array", arr.dtype.str, arr.shape, tuple(arr.ravel().tolist()))
        key = (name.count("/"), name.rpartition("/")[2], tuple(dims), key)
        if key in first:
            copies[name] = first[key]
        else:
            first[key] = name
    return copies


#: decoded bytes of one chunk of a numeric coordinate array (window starts and ends)
COORD_CHUNK_BYTES = 8 * 2**20


def write_coord(group: Any, path: str, dims: tuple[str, ...], values: Any) -> None:
    """Write a coordinate array: strings as zarr's variable-length strings, a
    :class:`~genozarr.store.layout.Labeled` as its codes with the labels as attribute."""
    parent, leaf = _parent(group, path)
    kwargs, data = _coord_args(dims, values)
    arr = parent.create_array(leaf, overwrite=True, **kwargs)
    if data.size and not _write_strings(arr, data):
        arr[...] = data


async def _write_coord_async(parent: Any, leaf: str, dims: tuple[str, ...],
                             values: Any) -> None:
    """:func:`write_coord` into the ``AsyncGroup`` ``parent``."""
    kwargs, data = _coord_args(dims, values)
    arr = await parent.create_array(leaf, overwrite=True, **kwargs)
    if data.size and not _write_strings(arr, data):
        await arr.setitem(Ellipsis, data)


def _coord_args(dims: tuple[str, ...], values: Any) -> tuple[dict[str, Any], np.ndarray]:
    """``create_array`` arguments of a coordinate array (see :func:`write_coord`) and the
    values to write."""
    if isinstance(values, Labeled):
        return {"shape": values.codes.shape, "dtype": values.codes.dtype,
                "dimension_names": dims, "fill_value": 0,
                "attributes": {LABELS_ATTR: values.labels}}, values.codes
    values = np.asarray(values)
    if values.dtype.kind in "OUST":
        if values.dtype.kind != "O" or not all(type(v) is str for v in values.ravel().tolist()):
            values = values.astype(object).astype(str).astype(object)  # Python str each
        return {"shape": values.shape, "dtype": str, "dimension_names": dims,
                "fill_value": ""}, values
    # chunks of up to 8 MiB: zarr's default (1 MiB here) made reading the starts and
    # ends of 8 M windows cost 0.33 s in its per-chunk overhead
    chunks = (max(1, min(values.shape[0], COORD_CHUNK_BYTES // values.dtype.itemsize)),
              ) + values.shape[1:] if values.ndim else "auto"
    return {"shape": values.shape, "dtype": values.dtype, "chunks": chunks,
            "dimension_names": dims, "fill_value": 0}, values


def _write_strings(arr: Any, values: np.ndarray) -> bool:
    """Write a 1-D array of ``str`` straight into its chunks where
    :func:`~genozarr.store._direct.write_strings` applies."""
    from genozarr.store._direct import write_strings

    return values.dtype == object and values.ndim == 1 and write_strings(arr, values)


def _store_of(path: str) -> str:
    """The store path a version being written belongs to (for messages)."""
    if is_remote(path):
        base, _, last = path.rstrip("/").rpartition("/")
        return base if re.fullmatch(r"v-[0-9a-f]+", last) else path
    name = os.path.basename(path)
    match = re.match(r"^\.(.+)\.tmp-[^-/]+-\d+-[0-9a-f]+$", name)
    return os.path.join(os.path.dirname(path), match.group(1)) if match else path


def _listed_memory_store() -> type:
    """zarr's ``MemoryStore``, listing a folder in time proportional to what it holds.

    zarr's own ``list_dir`` looks at every key of the store for each folder it lists, so
    consolidating the metadata of a store of ``n`` nodes took time quadratic in ``n``
    (4,000 contigs: 4 nodes each, 14 s). This one lists from an index of the keys, made
    at the first listing after a change.
    """
    cls = _LISTED.get("cls")
    if cls is not None:
        return cls
    from zarr.storage import MemoryStore

    class ListedMemoryStore(MemoryStore):
        # the index, shared with the store's read-only copies (which list the same dict):
        # [children by folder, number of keys it was made from], dropped at every change
        # made through any of them, and remade where the number of keys differs (the dict
        # changed directly)
        _held: list[Any]

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._held = [None, -1]

        def with_read_only(self, read_only: bool = False) -> Any:
            copy = super().with_read_only(read_only)
            copy._held = self._held
            return copy

        def _index(self) -> dict[str, set[str]]:
            children, count = self._held
            if children is None or count != len(self._store_dict):
                children = {}
                for key in self._store_dict:
                    parts = key.split("/")
                    for depth in range(len(parts)):
                        children.setdefault("/".join(parts[:depth]), set()).add(parts[depth])
                self._held[:] = [children, len(self._store_dict)]
            return children

        def _changed(self) -> None:
            self._held[0] = None

        async def list_dir(self, prefix: str) -> Any:
            for name in list(self._index().get(prefix.rstrip("/"), ())):
                yield name

        async def set(self, key: str, value: Any, byte_range: Any = None) -> None:
            self._changed()
            await super().set(key, value, byte_range)

        async def set_if_not_exists(self, key: str, value: Any) -> None:
            self._changed()
            await super().set_if_not_exists(key, value)

        async def delete(self, key: str) -> None:
            self._changed()
            await super().delete(key)

        async def clear(self) -> None:
            self._changed()
            await super().clear()

        def set_sync(self, key: str, value: Any) -> None:
            self._changed()
            super().set_sync(key, value)

        def delete_sync(self, key: str) -> None:
            self._changed()
            super().delete_sync(key)

    _LISTED["cls"] = ListedMemoryStore
    return ListedMemoryStore


_LISTED: dict[str, type] = {}


#: arrays of stores being written, opened once per process: ``(pid, path, name)`` ->
#: ``(zarr array, direct writer or None)``; local stores only (a build writes into a fresh
#: temporary directory, never reused, so an entry cannot outlive what it names)
_WRITING: OrderedDict[tuple[int, str, str], tuple[Any, Any]] = OrderedDict()
_WRITING_MAX = 64
_WRITING_LOCK = threading.Lock()


def _open_for_writing(path: str, name: str,
                      storage_options: dict[str, Any] | None) -> tuple[Any, Any]:
    """The zarr array ``name`` of the store being written at ``path`` and its direct
    writer: opening them costs about 10 ms (metadata reads, codec set-up), more than
    writing a chunk, so a worker opens each array once for all its tasks."""
    import zarr

    from genozarr.store._direct import DirectChunks

    local = "://" not in str(path)
    key = (os.getpid(), str(path), name)
    if local:
        with _WRITING_LOCK:
            found = _WRITING.get(key)
            if found is not None:
                _WRITING.move_to_end(key)
                return found
        if not os.path.isdir(path):  # (zarr's LocalStore would make it again)
            raise StoreError(f"the build of {_store_of(path)} was stopped: its temporary "
                             f"copy {path} is gone, so nothing is written there")
    arr = _local_array(path, name) if local else None
    if arr is None:
        arr = zarr.open_array(zarr_store(path, "r+", storage_options), path=name, mode="r+",
                              zarr_format=3)
    opened = (arr, DirectChunks.for_array(arr))
    if local:
        with _WRITING_LOCK:
            _WRITING[key] = opened
            while len(_WRITING) > _WRITING_MAX:
                _WRITING.popitem(last=False)
    return opened


def _local_array(path: str, name: str) -> Any:
    """The zarr array ``name`` of the local store being written at ``path``, made from
    its metadata file: ``zarr.open_array`` reads the same file through zarr's event loop
    and its file threads, 1.5-3 ms an array where this takes 0.2 ms (a genome of
    thousands of contigs has an array each; documents equal but for the shape are
    parsed once). None where the file is not a readable zarr v3 array's metadata: zarr
    opens it then, and says what is wrong."""
    import zarr
    from zarr.core.array import AsyncArray
    from zarr.storage import StorePath

    from genozarr.store.open import parse_array_metadata

    register_zarr()
    try:
        with open(os.path.join(path, name, "zarr.json"), "rb") as f:
            doc = json.loads(f.read())
        if not isinstance(doc, dict) or doc.get("zarr_format") != 3:
            return None
        with _WRITING_LOCK:
            if len(_PARSED) > _WRITING_MAX:
                _PARSED.clear()
            metadata = parse_array_metadata(doc, _PARSED)
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if metadata is None:
        return None
    return zarr.Array(AsyncArray(metadata=metadata,
                                 store_path=StorePath(zarr_store(path, "r+", None), name)))


#: zarr's parses of the array metadata documents :func:`_local_array` read, by the
#: document but its shape (:func:`genozarr.store.open.parse_array_metadata`)
_PARSED: dict[str, Any] = {}


def write_block(path: str, name: str, start: int, values: np.ndarray,
                storage_options: dict[str, Any] | None = None) -> list[str]:
    """Write a chunk-aligned block into array ``name`` of the store at ``path``.

    Runs inside build tasks (any process); opens the array itself. Chunks of local stores
    are written directly (:mod:`genozarr.store._direct`); :meth:`StoreWriter.commit`
    flushes them to disk before it writes the completion marker.

    Parameters
    ----------
    path
        The version being written (:attr:`StoreWriter.tmp`): a local directory or an
        fsspec URL prefix.
    name
        Array path.
    start
        First-axis offset (row, or bin in the whole-genome layout) of the block's first
        entry, on a chunk boundary (a shard boundary in a sharded array).
    values
        The block, of shape ``(n,) + the array's shape[1:]``, ending on a chunk (shard)
        boundary or at the array's end.
    storage_options
        fsspec options for remote URLs.

    Returns
    -------
    list
        The files written directly (str; none when zarr wrote the block): what an
        :class:`EarlyFlush` may flush while later blocks are written. For a remote store,
        a :class:`WrittenChunk` of each chunk file (shard file) the block holds data for,
        which :meth:`StoreWriter.commit` checks the object store holds.

    Raises
    ------
    StoreError
        When the storage fails (disk full, permission denied, connection lost), naming
        the store and the cause.
    """
    import zarr

    from genozarr.store._direct import write_chunks

    written: list[str] = []
    try:
        arr, direct = _open_for_writing(path, name, storage_options)
        if not write_chunks(arr, start, values, direct=direct, written=written):
            with zarr.config.set({"array.write_empty_chunks": False}):
                arr[start:start + len(values)] = values
            if "://" in str(path):
                written += _chunk_files_with_data(arr, name, start, values)
        return written
    except GenozarrError:
        raise
    except OSError as e:
        raise _build_stopped(storage_error("write store", _store_of(path), e)) from e
    except Exception as e:
        if type(e).__module__.split(".")[0] in ("botocore", "aiobotocore", "aiohttp", "s3fs",
                                                 "fsspec", "gcsfs", "adlfs"):
            raise _build_stopped(storage_error("write store", _store_of(path), e)) from e
        raise


class WrittenChunk(NamedTuple):
    """A chunk file (shard file) a build task wrote into a remote store: its key
    relative to the version's root, as zarr encodes it (``data/c.3.0.0.0``)."""

    key: str


def _chunk_files_with_data(arr: Any, name: str, start: int,
                           values: np.ndarray) -> list[WrittenChunk]:
    """The chunk files (shard files) of array ``name`` (``arr``) that the block at
    ``start`` holds data for: those zarr writes (it leaves out files holding only the
    fill value). None for an array also cut along another axis, or of a fill value that
    is no number."""
    from genozarr.store._direct import _only
    from genozarr.store.dtypes import is_bfloat16, widen
    from genozarr.store.layout import first_axis_grid

    outer = tuple(arr.shards or arr.chunks)
    if first_axis_grid(arr.shape, outer) is None:
        return []
    step, n = outer[0], len(values)
    try:  # (any float kind, ml_dtypes' bfloat16 included)
        fill = float(arr.fill_value) if arr.dtype.kind in "fV" or is_bfloat16(arr.dtype) \
            else arr.fill_value
        nan_fill = isinstance(fill, float) and np.isnan(fill)
    except (TypeError, ValueError):
        return []  # (a fill value of another kind: nothing to check)
    out = []
    for f in range(start // step, -(-(start + n) // step)):
        part = values[max(f * step - start, 0):min((f + 1) * step - start, n)]
        # as zarr compares it: in the stored dtype (float32 rows of a bfloat16 store are
        # rounded as written: 1e-42 is a stored 0). Where the two may differ, the file is
        # taken for empty (then not checked), never for written where zarr leaves it out
        # (the build would fail as if the store had lost it)
        stored = np.asarray(part).astype(arr.dtype)
        if is_bfloat16(arr.dtype):
            stored = widen(np.ascontiguousarray(stored))
        stored = np.ascontiguousarray(stored)
        empty = bool(np.isnan(stored).all()) if nan_fill else _only(stored, fill)
        if not empty:
            zeros = (0,) * (len(arr.shape) - 1)
            out.append(WrittenChunk(f"{name}/{arr.metadata.encode_chunk_key((f, *zeros))}"))
    return out


def _build_stopped(error: StoreError) -> StoreError:
    """A task's storage error: the build it belongs to says what became of its temporary
    copy (see ``stopped``)."""
    err = StoreError(f"{error}. The build stopped: nothing was published")
    err.stopped = True  # type: ignore[attr-defined]
    return err

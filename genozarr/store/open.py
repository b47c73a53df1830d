"""Opening stores: the published version, zarr groups, metadata and its checks, and the
lazy :class:`xarray.Dataset` view.

A store path names the *published version* of a store (``docs/format.md``, "Completion
marker and atomic publish"). A local store is a directory; a rebuild exchanges the new
directory with it in one step, so the path always names one complete version. A remote
store holds a pointer object ``genozarr-current`` naming the prefix ``v-<hex>`` that holds
the zarr group (stores written before versioning hold the group at the URL itself). Every
reader resolves the version once, when it opens the store (:func:`open_resolved`), and
keeps reading that version:

- a local reader opens the version directory once and reads through that descriptor
  (``/proc/self/fd/<n>`` on Linux), so it keeps reading the same directory after a rebuild
  exchanged it away; it holds a shared ``flock`` on it, and a publisher deletes a replaced
  version only when it can take the exclusive lock (otherwise a later sweep does);
- every read goes through :class:`CheckedStore`, which refuses to read a missing chunk as
  the fill value once the version's completion marker is gone (the store was replaced or
  removed: :class:`~genozarr.errors.StoreError`, "reopen it") or where the marker's chunk
  inventory records the chunk as written (lost since: "is missing"; one recorded as not
  written is the fill value without a request), checks the stored size of
  every chunk before zarr decodes it, and turns the storage layer's own errors
  (connection refused, missing bucket) into :class:`~genozarr.errors.StoreError` naming
  the store.
"""

from __future__ import annotations

import copy
import errno
import json
import math
import os
import re
import stat
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from genozarr._typing import PathLike
from genozarr._validate import path_text, plain
from genozarr.errors import (
    GenozarrError,
    MissingStoreError,
    StoreError,
    StoreFormatError,
    get_logger,
    hide_secrets,
)
from genozarr.store.dtypes import is_bfloat16, register_zarr, store_dtype
from genozarr.store.layout import (
    CHUNK_KEY,
    DATA,
    MARKER,
    MARKER_FILE,
    ChunkInventory,
    StoreMeta,
    first_axis_grid,
    first_index,
    same_content,
)

__all__ = ["is_remote", "open_group", "read_marker", "read_meta", "open_store", "zarr_store",
           "open_resolved", "resolve_root", "OpenedStore", "CheckedStore", "check_arrays",
           "POINTER", "storage_error", "unreadable"]

log = get_logger(__name__)

#: the pointer object of a versioned remote store: JSON ``{"version": "v-<hex>"}``
POINTER = "genozarr-current"
_VERSION_NAME = re.compile(r"^v-[0-9a-f]+$")


def is_remote(path: str | os.PathLike) -> bool:
    """True for fsspec URLs other than ``file://``.

    Parameters
    ----------
    path
        A local path or a URL.

    Returns
    -------
    bool
        Whether ``path`` holds ``://`` and does not start with ``file://``.
    """
    text = path_text(path)
    return "://" in text and not text.startswith("file://")


def _local(path: str | os.PathLike) -> Path:
    from genozarr.io._remote import local_form

    return Path(local_form(path))


def absolute_store_path(path: str | os.PathLike) -> str:
    """``path`` as a store is known by: a local path (a ``file://`` URL's path, ``~``
    expanded) made absolute (a copy of a dataset, pickled into a worker or used after
    ``os.chdir``, reads the same store); any other URL as given."""
    from genozarr.io._remote import local_form

    text = local_form(path)
    return text if "://" in text else os.path.abspath(text)


def _missing_bucket(error: BaseException) -> bool:
    """Whether a storage error says that the bucket does not exist (S3's and GCS's
    ``NoSuchBucket``), as opposed to a missing object: the URL, which may well contain the
    word "bucket", is not looked at."""
    text = str(error).lower()
    if "specified bucket does not exist" in text or "nosuchbucket" in text:
        return True
    cause = error.__cause__ or error.__context__
    return cause is not None and "NoSuchBucket" in type(cause).__name__


#: the errors that say a store cannot be written here (permissions, a read-only or full
#: file system), as opposed to a damaged store or a failing storage
UNWRITABLE_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC,
                               errno.EDQUOT})


def unreadable(what: str, error: BaseException) -> StoreError:
    """A :class:`StoreError` for a chunk or array that zarr or a codec failed to read
    (``what``: e.g. ``"chunk <store>/<array>/<key> (rows 0 to 10)"``), naming the error.

    Parameters
    ----------
    what
        What could not be read, put into the message after "cannot read".
    error
        The error zarr or the codec raised.

    Returns
    -------
    StoreError
        The error to raise (not raised here), its message naming ``what``, the type and
        text of ``error``, and advising a rebuild or a check of the storage.
    """
    return StoreError(f"cannot read {what}: {type(error).__name__}: {error}. The store is "
                      "damaged or unreachable; rebuild it (overwrite=True) or check the "
                      "storage")


def storage_error(action: str, where: str, error: BaseException) -> StoreError:
    """A :class:`StoreError` for a failure of the storage itself (disk full, permission
    denied, missing bucket, unreachable endpoint), naming the store and the cause.

    Parameters
    ----------
    action
        What was being done, e.g. ``"write store"``.
    where
        The store path or URL.
    error
        The error the storage layer raised.

    Returns
    -------
    StoreError
        The error to raise (not raised here): ``"cannot <action> <where>: <cause>"``, with
        a hint where the cause is known (the ``errno`` of a full disk, a quota, a denied
        access, a read-only file system, too many open files; for a remote ``where`` a
        missing bucket, a server error, a lost connection, a timeout, else a check of the
        URL, endpoint and credentials).
    """
    cause = getattr(error, "strerror", None) or str(error) or type(error).__name__
    code = getattr(error, "errno", None)
    reading = action.startswith(("read", "open", "list"))
    denied = ("this process may not read there (the store's files belong to another user, "
              "or their modes keep others out); ask for read access, or copy the store"
              if reading else "this process may not write there; choose a writable store "
              "path or output root (GENOZARR_OUTPUT)")
    hint = {
        errno.ENOSPC: "the file system is full; free space or choose another store path",
        errno.EDQUOT: "the disk quota is exhausted; free space or choose another store path",
        errno.EACCES: denied,
        errno.EPERM: denied,
        errno.EROFS: "the file system is read-only; choose another store path",
        errno.EMFILE: "this process has too many open files; close datasets it no longer "
                      "uses, or raise the limit (ulimit -n)",
    }.get(code)  # type: ignore[arg-type]
    if hint is None and is_remote(where):
        from genozarr.io._remote import _chain, _connection_lost, _timed_out, redirect_loop

        if any(isinstance(e, ImportError) for e in _chain(error)):
            from genozarr.io._remote import install_hint

            hint = f"a package this URL needs is not installed: {install_hint(where)}"
        elif (loop := redirect_loop(error)) is not None:
            cause, hint = loop, "fix the server's redirects, or give the URL they should end at"
        elif isinstance(error, FileNotFoundError) and _missing_bucket(error):
            hint = "the bucket does not exist; create it or fix the URL"
        elif (status := _server_error(error)) is not None:
            hint = (f"the server answered HTTP {status}, an error of its own (not a missing "
                    "store or bad credentials); retry, or check the server")
        elif _connection_lost(error) is not None:
            hint = "the connection was lost (reset by the server or the network); retry"
        elif any(_timed_out(e) for e in _chain(error)):
            from genozarr.config import OPTIONS

            limit = OPTIONS["remote_timeout"]
            detail = f": {error}" if str(error) else ""
            cause = f"no answer in time ({type(error).__name__}{detail})"
            hint = ("the storage did not answer within "
                    + (f"remote_timeout={limit:g} s" if limit else "the client's default limit")
                    + "; it is unreachable or overloaded: check the endpoint, or bound the "
                    "wait with genozarr.set_options(remote_timeout=...) (seconds)")
        else:
            hint = "check the URL, the endpoint (storage_options) and the credentials"
    filename = getattr(error, "filename", None)
    detail = f"{cause} ({filename})" if filename and str(filename) not in cause else cause
    return StoreError(_unpinned(f"cannot {action} {where}: {detail}"
                                + (f"; {hint}" if hint else "")))


_PINNED_PATH = re.compile(r"/proc/self/fd/(\d+)")


def _unpinned(text: str) -> str:
    """``text`` with the paths of directories read through a held descriptor
    (``/proc/self/fd/<n>``, see :class:`ReaderHold`) named by the folder they are."""
    def folder(match: re.Match[str]) -> str:
        try:
            return os.readlink(match.group(0))
        except OSError:
            return match.group(0)

    return _PINNED_PATH.sub(folder, text)


def _server_error(error: BaseException) -> int | None:
    """The HTTP status of a server error (5xx) in ``error``'s chain, else None."""
    from genozarr.io._remote import _status

    status, _ = _status(error)
    return status if status is not None and 500 <= status < 600 else None


def _remote_fs(path: str | os.PathLike, storage_options: dict[str, Any] | None
               ) -> tuple[Any, str]:
    import fsspec

    if str(path).lower().startswith(("http://", "https://")):  # (its redirects checked)
        return _checked_http_class()(**(storage_options or {})), str(path).rstrip("/")
    fs, root = fsspec.core.url_to_fs(str(path), **(storage_options or {}))
    return fs, root.rstrip("/")


def _remote_read(fs: Any, key: str) -> bytes | None:
    """An object's bytes, or None when it does not exist; within ``remote_timeout``
    seconds when that option is set (an asynchronous fsspec filesystem: HTTP, S3, GCS),
    past it a StoreError naming the object."""
    from genozarr.config import OPTIONS

    limit = OPTIONS["remote_timeout"]
    try:
        if limit is not None and getattr(fs, "async_impl", False):
            from fsspec.asyn import sync

            return sync(fs.loop, _timed, fs._cat_file(key), fs.unstrip_protocol(key))
        return fs.cat_file(key)
    except FileNotFoundError as e:
        if _missing_bucket(e):
            raise
        return None
    except IsADirectoryError:
        return None


def _forbidden(error: BaseException) -> bool:
    """Whether ``error`` is an access refusal (HTTP 403, or a PermissionError of the
    storage layer)."""
    from genozarr.io._remote import _chain, _status

    status, _ = _status(error)
    if status is not None:
        return status == 403
    return any(isinstance(node, PermissionError) for node in _chain(error))


def _json_or_none(raw: bytes | None) -> Any:
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None


def _remote_json(fs: Any, key: str, what: str) -> Any:
    """:func:`_remote_read` of a JSON document (None: absent or not JSON), except that an
    HTML page the server answered instead (an error or login page) is a StoreError that
    says so, not a store without that document."""
    raw = _remote_read(fs, key)
    content = _json_or_none(raw)
    if content is None and raw is not None:
        from genozarr.store._direct import html_answer

        page = html_answer(fs.unstrip_protocol(key), raw, what=what)
        if page is not None:
            raise page
    return content


def read_pointer(path: str | os.PathLike, storage_options: dict[str, Any] | None = None
                 ) -> str | None:
    """The version a store's pointer names (``v-<hex>``), or None without a pointer."""
    if is_remote(path):
        fs, root = _remote_fs(path, storage_options)
        try:
            content = _remote_json(fs, f"{root}/{POINTER}", "the store's version pointer")
        except Exception as e:
            if not _forbidden(e) or _remote_read(fs, f"{root}/zarr.json") is None:
                raise
            # an object store that may not be listed answers 403 for a missing key: the
            # group at the URL itself is readable, so this is a store without versions
            return None
    else:
        from genozarr.store._direct import read_local_file

        pointer = _local(path) / POINTER
        try:
            content = _json_or_none(read_local_file(str(pointer)))
        except OSError as e:
            if e.errno == errno.EINVAL:  # a FIFO (would block for ever), a link, a device
                raise StoreError(f"store {path}: its version pointer {POINTER} cannot be "
                                 f"read: {e.strerror}; the store was edited. Rebuild it or "
                                 "copy it again") from e
            return None
    version = content.get("version") if isinstance(content, dict) else None
    if not isinstance(version, str) or not _VERSION_NAME.match(version):
        return None
    return version


def resolve_root(path: str | os.PathLike,
                 storage_options: dict[str, Any] | None = None) -> str:
    """The directory or URL prefix holding the zarr group of the store published at ``path``.

    Local: the directory itself (symbolic links resolved), or the version its pointer
    names (a copy of a versioned remote store). Remote: ``<url>/<version>`` named by the
    pointer, or ``<url>`` without a pointer (a store written before versioning).

    Parameters
    ----------
    path
        Store path or URL, as published.
    storage_options
        fsspec options for remote URLs.

    Returns
    -------
    str
        The resolved local directory (absolute, symbolic links resolved) or URL prefix
        (``path`` without a trailing ``/``, plus ``/<version>`` where a pointer names
        one). Nothing checks that a store is there.

    Raises
    ------
    StoreError
        When the storage cannot be reached.
    """
    try:
        version = read_pointer(path, storage_options)
    except GenozarrError:
        raise
    except Exception as e:  # noqa: BLE001 - fsspec/botocore raise their own errors
        raise storage_error("read store", str(path), e) from e
    if is_remote(path):
        base = str(path).rstrip("/")
        return f"{base}/{version}" if version else base
    local = _local(path)
    return os.path.realpath(local / version if version else local)


def _marker_at(root: str, storage_options: dict[str, Any] | None) -> dict[str, Any] | None:
    """The completion marker's attributes at a resolved root (None when absent)."""
    if is_remote(root):
        fs, key = _remote_fs(root, storage_options)
        content = _remote_json(fs, f"{key}/{MARKER_FILE}", "the store's completion marker")
    else:
        from genozarr.store._direct import read_local_file

        try:
            content = _json_or_none(read_local_file(os.path.join(root, MARKER_FILE)))
        except (FileNotFoundError, NotADirectoryError, ValueError):
            return None
        except OSError as e:  # EACCES, EMFILE, EIO ...: a marker that may be there
            if e.errno == errno.ENAMETOOLONG:  # no store can be there (the path is checked
                return None                    # and named where a store is written)
            if e.errno == errno.EINVAL:  # a FIFO (would block for ever), a link, a device
                raise StoreError(f"{root}: its completion marker {MARKER_FILE} cannot be "
                                 f"read: {e.strerror}; the store was edited. Rebuild it or "
                                 "copy it again") from e
            raise storage_error("read store", root, e) from e
    try:
        return dict(content["attributes"])
    except (KeyError, TypeError, ValueError):
        return None


def read_marker(path: str | os.PathLike,
                storage_options: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The completion marker of the store published at ``path``, or None when the store is
    absent or incomplete.

    Parameters
    ----------
    path
        Store path or URL, as published (resolved as :func:`resolve_root` does).
    storage_options
        fsspec options for remote URLs.

    Returns
    -------
    dict[str, Any] or None
        The ``attributes`` of the version's completion marker; None when there is no
        marker or it is not readable as one.

    Raises
    ------
    StoreError
        When the storage cannot be reached (unreachable endpoint, missing bucket).
    """
    try:
        root = resolve_root(path, storage_options)
        return _marker_at(root, storage_options)
    except GenozarrError:
        raise
    except FileNotFoundError as e:  # a missing bucket
        raise storage_error("read store", str(path), e) from e
    except Exception as e:  # noqa: BLE001 - fsspec/botocore raise their own errors
        raise storage_error("read store", str(path), e) from e


# ---------------------------------------------------------------------------- holds
class _Pin:
    """A descriptor of a directory that names it for reads (``/proc/self/fd/<n>``), closed
    only when nothing refers to it any more: the number is never given to another file
    while a reader may still read through it."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __del__(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass


class ReaderHold:
    """An open descriptor of a local store version directory, held while a reader uses it.

    Reads go through a descriptor of the directory (:attr:`io_root`,
    ``/proc/self/fd/<n>`` on Linux), so they stay in this directory when a rebuild
    exchanges it away from the store path. The hold's descriptor holds a shared ``flock``:
    a publisher removes a replaced version only when it gets the exclusive lock, so a
    version stays on disk while any reader holds it. The hold ends when released or
    garbage-collected (the descriptor is closed, never unlocked explicitly, so a forked
    child closing its copy does not release the parent's lock).

    Reads name the directory through a second descriptor of their own (without the lock),
    closed only when the hold and every zarr store made over it are gone, not when the
    hold is released: a read still running in another thread when the reader lets the
    version go (``ZarrBackend.close``) goes on in this directory, instead of through a
    descriptor number the system may already have given to another store's directory.
    """

    def __init__(self, root: str, fd: int | None, locked: bool) -> None:
        self.root = root
        self.fd = fd
        self.locked = locked
        self.io_root = root
        self._pin: _Pin | None = None
        if fd is not None:
            try:
                pin = _Pin(os.open(f"/proc/self/fd/{fd}",
                                   os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)))
            except OSError:  # no /proc: read by the directory's name
                return
            pinned = f"/proc/self/fd/{pin.fd}"
            if os.path.isdir(pinned):
                self._pin, self.io_root = pin, pinned

    @classmethod
    def acquire(cls, root: str) -> ReaderHold | None:
        """Open ``root`` and take a shared lock on it; None while a deleter holds it
        exclusively. A file system without ``flock`` gives a hold without a lock.

        Raises
        ------
        OSError
            When ``root`` cannot be opened (it does not exist any more).
        """
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            return cls(root, None, False)
        fd = os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except OSError:  # no flock on this file system: pin the directory all the same
            return cls(root, fd, False)
        return cls(root, fd, True)

    def same_as(self, path: str) -> bool:
        """Whether ``path`` still names the held directory."""
        if self.fd is None:
            return True
        try:
            a, b = os.fstat(self.fd), os.stat(path)
        except OSError:
            return False
        return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)

    def release(self) -> None:
        """End the hold (close the descriptor)."""
        fd, self.fd = self.fd, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass

    def __del__(self) -> None:
        self.release()

    def __reduce__(self) -> Any:
        raise TypeError("a store version held by a reader cannot be pickled; pickle the "
                        "store path instead")


# ---------------------------------------------------------------------------- checked store
def _crc_indexed(meta: dict[str, Any]) -> bool:
    """Whether an array's zarr v3 metadata document shards it with the sharding codec's
    default index (``bytes`` then ``crc32c``, at the end of each shard): its index reads
    can be checked."""
    try:
        codecs = meta["codecs"]
        if len(codecs) != 1 or codecs[0].get("name") != "sharding_indexed":
            return False
        config = codecs[0].get("configuration") or {}
        index = [c.get("name") if isinstance(c, dict) else c
                 for c in config.get("index_codecs") or []]
        return index == ["bytes", "crc32c"] and config.get("index_location", "end") == "end"
    except (KeyError, TypeError, AttributeError, IndexError):
        return False


def _chunk_info(meta: dict[str, Any]) -> tuple[int, bool, tuple[int, ...], str] | None:
    """``(decoded bytes, compressed, chunk shape, dtype)`` of an array's chunks from its
    zarr v3 metadata document, or None where the sizes cannot be checked (other codecs,
    non-numeric data types)."""
    try:
        if meta.get("node_type") != "array":
            return None
        grid = meta["chunk_grid"]
        if grid.get("name") != "regular":
            return None
        shape = tuple(int(c) for c in grid["configuration"]["chunk_shape"])
        dtype = meta["data_type"]
        if not isinstance(dtype, str):
            return None
        np_dtype = store_dtype(dtype)
        if np_dtype.kind not in "biuf" and not is_bfloat16(np_dtype):
            return None
        codecs = [c.get("name") if isinstance(c, dict) else c for c in meta["codecs"]]
        if codecs == ["bytes"]:
            compressed = False
        elif codecs == ["bytes", "blosc"]:
            compressed = True
        else:
            return None
        nbytes = int(np.prod(shape, dtype=np.int64)) * np_dtype.itemsize
        return nbytes, compressed, shape, dtype
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _inner_chunk_info(meta: dict[str, Any]) -> tuple[int, bool, tuple[int, ...], str] | None:
    """:func:`_chunk_info` of the inner chunks of a sharded array (each read by a ranged
    request), from its zarr v3 metadata document; None where the array is not sharded or
    its inner chunks cannot be checked."""
    try:
        codecs = meta["codecs"]
        if len(codecs) != 1 or not isinstance(codecs[0], dict) \
                or codecs[0].get("name") != "sharding_indexed":
            return None
        config = codecs[0].get("configuration") or {}
        inner = {**meta, "codecs": config["codecs"],
                 "chunk_grid": {"name": "regular",
                                "configuration": {"chunk_shape": config["chunk_shape"]}}}
        return _chunk_info(inner)
    except (KeyError, TypeError, AttributeError):
        return None


def _array_checks(meta: Any) -> tuple[Any, bool, Any, bool]:
    """What :class:`CheckedStore` checks of an array's chunks, from its zarr v3 metadata
    document: ``(chunk sizes, whether its shards have a CRC32C index, inner chunk
    sizes, whether it holds coordinates)`` (None where not known). Coordinates (the window
    table, labels) are the arrays of one dimension, and arrays not known as data arrays:
    a store's data arrays have a strand and a condition axis."""
    if not isinstance(meta, dict):
        return None, False, None, True
    shape = meta.get("shape")
    coordinates = not isinstance(shape, list) or len(shape) < 3
    return _chunk_info(meta), _crc_indexed(meta), _inner_chunk_info(meta), coordinates


def _check_local_file(root: str, key: str, where: str) -> None:
    """Raise where the file ``key`` of the local store at ``root`` (named ``where``) is
    there but is no regular file of its own: a symbolic link (its bytes another file's,
    outside the store too), one under a folder of the store that is a link
    (:func:`~genozarr.store._direct.check_not_linked`), a FIFO (a read would block for
    ever) or a device (``/dev/zero``: read until memory runs out); a missing file is left
    to the caller."""
    from genozarr.store._direct import check_not_linked, file_kind

    path = os.path.join(root, key)
    try:
        st = os.lstat(path)
    except OSError:
        return
    if not stat.S_ISREG(st.st_mode):
        raise StoreError(f"{where}/{key} is {file_kind(st.st_mode)}, not a file of the "
                         "store; the store was edited. Rebuild it or copy it again (cp -rL "
                         "copies what links name)")
    check_not_linked(root, os.path.dirname(path), where)


def _checked_store_class() -> type:
    """:class:`CheckedStore`, defined on first use (zarr is imported lazily)."""
    global _CHECKED
    if _CHECKED is not None:
        return _CHECKED
    from zarr.storage import LocalStore, WrapperStore

    from genozarr.store._direct import _file_id, check_chunk_bytes, html_answer, index_crc_ok

    class _Checked(WrapperStore):  # type: ignore[misc,type-arg]
        """A read-only zarr store over one store version: see :class:`CheckedStore`.

        Parameters
        ----------
        store
            The zarr store it reads through (:func:`zarr_store` of the version's
            directory, descriptor or URL prefix).
        where
            The store path or URL, as messages name it (default empty).
        complete
            Whether the version had its completion marker when it was opened: then a
            missing or short chunk is checked against the marker (gone: the store was
            replaced or removed). Default False.
        hold
            The :class:`ReaderHold` of a local version pinned by a descriptor (None for a
            remote store): a pickled copy reopens the store instead
            (``_reopen_checked``).
        storage_options
            fsspec options, kept for a pickled copy.
        marker
            ``(path, file id)`` of the completion marker of a local version read by its
            path: a chunk read after the file changed is refused. None (default): taken
            from the store's root when ``complete`` and the root is not a pinned
            ``/proc/self/fd/<n>`` descriptor.
        seen
            The completion marker's attributes at open, for a store without versions (a
            directory a web server serves): a chunk read after the marker changed to
            another build's is refused. None (default): no such check.
        inventory
            The version's :class:`~genozarr.store.layout.ChunkInventory`: a chunk recorded
            as never written is the fill value without a request (remote stores), one
            recorded as written and missing is an error. None (default): none recorded.
        opened
            The completion marker's attributes when the version was opened: a copy
            unpickled elsewhere refuses a store published since with other content. None
            (default): not known.
        carried
            ``(process token, remote_timeout)`` of the process that pickled this copy
            (set by unpickling); None (default): made here.
        """

        def __init__(self, store: Any, where: str = "", complete: bool = False,
                     hold: ReaderHold | None = None,
                     storage_options: dict[str, Any] | None = None,
                     marker: tuple[str, Any] | None = None,
                     seen: dict[str, Any] | None = None,
                     inventory: ChunkInventory | None = None,
                     opened: dict[str, Any] | None = None,
                     carried: tuple[str, float | None] | None = None) -> None:
            super().__init__(store)
            self.where = where
            #: ``(process token, remote_timeout)`` of the process that pickled this copy:
            #: in another process (a dask worker) its limit, where that one sets none
            self._carried = carried
            self.complete = complete
            #: the chunk files the version held when it was published (from its marker):
            #: one of them missing now is an error, not the fill value
            self.inventory = inventory
            #: the completion marker's attributes when the version was opened: a marker
            #: with others means a rebuild published over this version (a store without
            #: versions, such as a directory a web server serves)
            self.seen = seen
            self.hold = hold
            #: the completion marker's attributes when the version was opened: a copy
            #: unpickled elsewhere refuses a store published since with other content
            self.opened = opened
            self._opened_token: Any = None  # (:func:`_marker_token` of it, once pickled)
            self.storage_options = storage_options
            self._arrays: dict[str, Any] | None = None
            #: checks of the marker of a store without versions (see _unchanged): the one
            #: running, the one that starts when it ends, and their event loop
            self._checks: list[Any] = [None, None, None]
            #: the marker's bytes last found to stand for the values seen (a store of
            #: many contigs has a large marker: its chunk inventory), and those of the very
            #: version seen
            self._same: bytes | None = None
            self._exact: bytes | None = None
            root = getattr(store, "root", None)
            if marker is None and complete and root is not None \
                    and not str(root).startswith("/proc/self/fd/"):
                # a local version read by its path (no descriptor pins it): a rebuild may
                # exchange another version in, so every chunk read checks the marker
                path = os.path.join(str(root), MARKER_FILE)
                marker = (path, _file_id(path))
            self._marker = marker

        def _with_store(self, store: Any) -> Any:
            return type(self)(store, self.where, self.complete, self.hold,
                              self.storage_options, self._marker, self.seen, self.inventory,
                              self.opened, self._carried)

        def _limit(self) -> float | None:
            """``remote_timeout`` for this copy's reads: the option of this process; in
            another process this copy was unpickled in (a dask worker), where that
            process set none, the limit of the process that pickled it (dask's workers
            do not get the options set in the process that computes)."""
            from genozarr.config import OPTIONS

            limit = OPTIONS["remote_timeout"]
            if limit is None and self._carried is not None \
                    and self._carried[0] != _PROCESS_TOKEN:
                return self._carried[1]
            return limit

        def _replaced(self, key: str) -> StoreError:
            return StoreError(
                f"store {self.where} was replaced or removed while it was open (reading its "
                f"chunk {key}). Reopen the store (genozarr.open_dataset, genozarr.open_store, "
                "load_store) to read the current version.")

        def __repr__(self) -> str:
            return f"CheckedStore({self.where!r})"

        def __str__(self) -> str:
            return self.where

        def __reduce__(self) -> Any:
            if self.hold is not None:  # a local version pinned by a descriptor
                if self._opened_token is None:  # (a dask graph pickles it with every task)
                    self._opened_token = _marker_token(self.opened)
                return _reopen_checked, (self.where, self.storage_options, self.read_only,
                                         self._opened_token)
            # (a remote reader keeps the version prefix it resolved: it needs no marker to
            # check, and one of many contigs would be pickled with every task)
            return type(self), (self._store, self.where, self.complete, None,
                                self.storage_options, None, self.seen, self.inventory, None,
                                (_PROCESS_TOKEN, self._limit()))

        def _keep_root(self, raw: bytes | None) -> None:
            """Take the chunk sizes of every array from the root metadata document ``raw``
            (its consolidated metadata)."""
            doc = _json_or_none(raw) if raw is not None else None
            consolidated = (doc or {}).get("consolidated_metadata") or {}
            metadata = consolidated.get("metadata") or {}
            self._arrays = {k: _array_checks(v) for k, v in metadata.items()
                            if isinstance(v, dict)}

        async def _array_meta(self, array: str) -> Any:
            """:func:`_array_checks` of ``array`` (from the root's consolidated
            metadata)."""
            if self._arrays is None:
                raw = await self._metadata_read("zarr.json")
                self._keep_root(raw.to_bytes() if raw is not None else None)
            if array not in self._arrays:
                raw = await self._metadata_read(f"{array}/zarr.json")
                doc = _json_or_none(raw.to_bytes()) if raw is not None else None
                self._arrays[array] = _array_checks(doc)
            return self._arrays[array]

        async def _check_range(self, key: str, array: str, byte_range: Any,
                               buf: Any) -> None:
            """Check a ranged read of chunk (shard) ``key``: as many bytes as asked for,
            a shard index that passes its CRC32C, and an inner chunk whose size (and Blosc
            frame header) is one inner chunk's (zarr reads sharded arrays so: the index,
            then each inner chunk by one ranged request)."""
            from zarr.abc.store import RangeByteRequest, SuffixByteRequest

            if isinstance(byte_range, RangeByteRequest):
                want = int(byte_range.end) - int(byte_range.start)
                what = f"bytes {byte_range.start}-{byte_range.end}"
            elif isinstance(byte_range, SuffixByteRequest):
                want, what = int(byte_range.suffix), f"its last {byte_range.suffix} bytes"
            else:
                return
            got = len(buf)
            where = f"{self.where}/{key}"
            if got > want:
                raise StoreError(
                    f"reading {where}: asked for {what}, received {got} bytes: the server "
                    "ignores range requests (HTTP Range), which sharded stores need; serve "
                    "the store from one that answers them (status 206)")
            if got < want:
                if await self._gone():
                    raise self._replaced(key)
                if is_remote(self.where):
                    raise StoreError(
                        f"reading {where}: asked for {what}, the server returned only {got} "
                        f"bytes: the server or a proxy cut its answer short, or the file "
                        "it serves is shorter than the store wrote it. Check the server; "
                        "if the file there is truncated, rebuild the store (overwrite=True)")
                raise StoreError(
                    f"chunk {where} is damaged: {what} could not be read (only {got} "
                    "bytes came); the store was truncated or edited. Rebuild it "
                    "(overwrite=True).")
            if isinstance(byte_range, RangeByteRequest):
                _, indexed, inner, _ = await self._array_meta(array)
                if indexed and inner is not None and inner[1]:
                    # inner chunks start with a Blosc frame header: its decoded size must be
                    # one inner chunk's and its frame fit the bytes read (one inner chunk, as
                    # zarr reads them, or several neighbours, as RemoteChunks coalesces them)
                    nbytes, _, shape, dtype = inner
                    header = bytes(buf.as_numpy_array()[:16])
                    frame = int.from_bytes(header[12:16], "little") if got >= 16 else -1
                    if got < 16 or int.from_bytes(header[4:8], "little") != nbytes \
                            or not 16 <= frame <= got:
                        if await self._gone():
                            raise self._replaced(key)
                        check_chunk_bytes(f"{where} ({what})", header,
                                          got if frame > got or frame < 16 else frame,
                                          nbytes, True, shape, dtype)
            if isinstance(byte_range, SuffixByteRequest) and want >= 4 \
                    and (await self._array_meta(array))[1]:
                if not index_crc_ok(buf.to_bytes()):
                    if await self._gone():
                        raise self._replaced(key)
                    raise StoreError(
                        f"shard {where} is damaged: its index fails its CRC32C checksum; "
                        "the store was truncated or edited. Rebuild it (overwrite=True).")

        async def _metadata_read(self, key: str) -> Any:
            """A metadata document of the version (a ``zarr.json``, the completion
            marker), within ``remote_timeout``; storage errors as a StoreError naming
            it (a read after a chunk's, to check it, hung past the limit)."""
            from zarr.core.buffer import default_buffer_prototype

            where = f"{self.where}/{key}"
            try:  # a get, not exists: fsspec's HTTP exists() says False for any error
                return await _timed(self._store.get(key, default_buffer_prototype()), where,
                                    self._limit())
            except GenozarrError:
                raise
            except Exception as e:  # noqa: BLE001 - storage errors
                raise storage_error("read store", where, e) from e

        async def _marker_now(self) -> bytes | None:
            """The bytes of the completion marker now (None: there is none)."""
            marker = await self._metadata_read(MARKER_FILE)
            return None if marker is None else marker.to_bytes()

        def _differs(self, raw: bytes | None, exact: bool = False) -> bool:
            """Whether the completion marker ``raw`` (None: none) is not this version's:
            missing, or, in a store without versions, another build's (replaced), or with
            ``exact`` another version's at all (a version that records new windows keeps
            the build's values and id, not the coordinates)."""
            if raw is None:
                return True
            if self.seen is None or raw == self._exact:
                return False
            if not exact and raw == self._same:  # the bytes found the same before
                return False
            doc = _json_or_none(raw)
            attrs = doc.get("attributes") if isinstance(doc, dict) else None
            if attrs == self.seen:
                self._exact = raw
                return False
            if exact or not same_content(attrs, self.seen):
                return True
            self._same = raw
            return False

        async def _gone(self) -> bool:
            """Whether this version's completion marker is gone (removed), or, in a store
            without versions, is another build's (replaced)."""
            if not self.complete:
                return False
            return self._differs(await self._marker_now())

        async def _unchanged(self, exact: bool = False) -> bool:
            """Whether the marker of a store without versions, read after the bytes of a
            chunk came (now), still stands for the version seen at open (``exact``: is
            still that version's, for a chunk of coordinates): a version, once replaced,
            never comes back, so the bytes came from the version opened.

            One read of the marker serves every chunk whose bytes came before it began:
            a chunk that comes while a read runs waits for the next one, which begins
            when that read ends. So a store without versions costs about one more
            request per round trip, not per chunk."""
            import asyncio

            checks = self._checks
            loop = asyncio.get_running_loop()
            if checks[2] is not loop:  # (a new event loop: a forked process)
                checks[:] = [None, None, loop]
            running, following = checks[0], checks[1]
            if running is None or running.done():
                task = checks[0] = asyncio.ensure_future(self._marker_now())
            elif following is not None:
                task = following
            else:
                async def after(previous: Any) -> bytes | None:
                    await asyncio.wait([previous])
                    checks[0], checks[1] = checks[1], None  # this one runs now
                    return await self._marker_now()

                task = checks[1] = asyncio.ensure_future(after(running))
            return not self._differs(await asyncio.shield(task), exact)

        async def get(self, key: str, prototype: Any, byte_range: Any = None) -> Any:
            """Read ``key`` as the wrapped store does, with the checks of this store: a
            chunk recorded in the inventory as never written is None without a request
            (a remote store), a chunk's size (or a ranged read's, a shard index's CRC32C)
            is checked, and the storage layer's errors become
            :class:`~genozarr.errors.StoreError`.

            Parameters
            ----------
            key
                Key in the store: ``zarr.json``, the completion marker, or a chunk key
                (``<array>/c/...``).
            prototype
                zarr buffer prototype of the result.
            byte_range
                zarr byte request (a range, an offset, a suffix); None (default): the
                whole object.

            Returns
            -------
            Any
                The zarr buffer read, or None where the object does not exist (a chunk
                that is the fill value).

            Raises
            ------
            StoreError
                When the store was replaced or removed while open, a chunk recorded as
                written is missing, a chunk or range has the wrong size or fails its
                checksum, the storage fails, or a remote read takes longer than
                ``remote_timeout``.
            """
            match = CHUNK_KEY.match(key)
            if match is not None and self.inventory is not None \
                    and not isinstance(self._store, LocalStore) \
                    and self.inventory.absent(match.group("array") or "", first_index(match)):
                # never written: the fill value of the version opened, without a request
                # (an object store that may not be listed answers 403 for a missing key).
                # A local file is read, and refused where it exists (below), as the
                # serving path does: a file of another build, or an edited marker
                if self._marker is not None \
                        and _file_id(self._marker[0]) != self._marker[1]:
                    raise self._replaced(key)
                return None
            if isinstance(self._store, LocalStore):
                _check_local_file(str(self._store.root), key, self.where)
            try:
                buf = await _timed(self._store.get(key, prototype, byte_range),
                                   f"{self.where}/{key}", self._limit())
            except GenozarrError:
                raise
            except Exception as e:  # noqa: BLE001 - fsspec/botocore raise their own errors
                raise storage_error("read store", f"{self.where}/{key}", e) from e
            if match is None:
                if key == "zarr.json" and byte_range is None and self._arrays is None \
                        and buf is not None:  # opening the group: no second read later
                    self._keep_root(buf.to_bytes())
                return buf
            if self._marker is not None and _file_id(self._marker[0]) != self._marker[1]:
                raise self._replaced(key)
            if buf is None:
                if await self._gone():
                    raise self._replaced(key)
                if self.inventory is not None:
                    self.inventory.check_present(match.group("array") or "",
                                                 first_index(match), f"{self.where}/{key}")
                return buf
            if self.inventory is not None and isinstance(self._store, LocalStore):
                self.inventory.check_not_absent(match.group("array") or "",
                                                first_index(match), f"{self.where}/{key}")
            if self.seen is not None and not await self._unchanged(
                    (await self._array_meta(match.group("array") or ""))[3]):
                # a store without versions (a directory a web server serves) rebuilt in
                # place: these bytes may be the new build's, mixed with the old one's
                # (coordinates: or another version's of the same build, whose windows
                # differ from those of the metadata read at open)
                raise self._replaced(key)
            if byte_range is not None:
                await self._check_range(key, match.group("array") or "", byte_range, buf)
            else:
                info = (await self._array_meta(match.group("array") or ""))[0]
                data = buf.as_numpy_array()
                if info is not None:
                    nbytes, compressed, shape, dtype = info
                    check_chunk_bytes(f"{self.where}/{key}", bytes(data[:16]), len(buf),
                                      nbytes, compressed, shape, dtype)
                elif (page := html_answer(f"{self.where}/{key}", bytes(data[:64]),
                                          len(buf))) is not None:
                    raise page  # (arrays of other codecs: coordinates, labels)
            return buf

        async def _get_many(self, requests: Any) -> Any:
            for key, prototype, byte_range in requests:
                yield key, await self.get(key, prototype, byte_range)

        #: no synchronous reads: zarr 3.2 and later read through a store's ``get_sync``
        #: where it has one, which a WrapperStore hands straight to the wrapped store,
        #: around :meth:`get` and its checks
        _supports_sync_io = False

        async def get_partial_values(self, prototype: Any,
                                     key_ranges: Any) -> list[Any]:
            """Each ``(key, byte range)`` read by :meth:`get` (checked), in order."""
            return [await self.get(key, prototype, byte_range)
                    for key, byte_range in key_ranges]

        async def get_ranges(self, key: str, byte_ranges: Any, *, prototype: Any,
                             max_concurrency: int | None = 10, **kwargs: Any) -> Any:
            """Many byte ranges of ``key`` (zarr 3.2 and later read a shard's inner chunks
            so; a WrapperStore hands them straight to the wrapped store, unchecked): each
            read by :meth:`get`, up to ``max_concurrency`` at a time, yielded as one group
            of ``(index, buffer)``; a genozarr error one of them raised is raised as it
            is, not inside an exception group. An absent ``key`` is zarr's
            ``FileNotFoundError`` in an exception group, as its ``Store.get_ranges``
            says."""
            import asyncio

            limit = asyncio.Semaphore(max(1, int(max_concurrency or 10)))

            async def one(index: int, byte_range: Any) -> tuple[int, Any]:
                async with limit:
                    return index, await self.get(key, prototype, byte_range)

            try:
                async with asyncio.TaskGroup() as tasks:
                    running = [tasks.create_task(one(i, r)) for i, r in enumerate(byte_ranges)]
            except BaseExceptionGroup as group:
                ours = _genozarr_error_in(group)
                if ours is None:
                    raise
                raise ours from None
            found = [task.result() for task in running]
            if any(buf is None for _, buf in found):
                raise BaseExceptionGroup(f"{key} is absent", [FileNotFoundError(key)])
            yield found

        async def exists(self, key: str) -> bool:
            """Whether ``key`` exists in the wrapped store.

            Parameters
            ----------
            key
                Key in the store.

            Returns
            -------
            bool
                The wrapped store's answer.

            Raises
            ------
            StoreError
                When the storage layer raises (naming the store and the key).
            """
            try:
                return await self._store.exists(key)
            except Exception as e:  # noqa: BLE001 - fsspec/botocore raise their own errors
                raise storage_error("read store", f"{self.where}/{key}", e) from e

    _Checked.__name__ = _Checked.__qualname__ = "CheckedStore"
    _Checked.__module__ = __name__
    _CHECKED = _Checked
    globals()["CheckedStore"] = _Checked
    return _Checked


_CHECKED: type | None = None

#: this process's token in a pickled CheckedStore's carried limit (made at import: a
#: spawned process makes its own, a forked one shares its parent's options and token;
#: process ids may repeat across hosts and over time)
_PROCESS_TOKEN = uuid.uuid4().hex


#: :func:`_timed`'s default limit: the ``remote_timeout`` option of this process
_OPTION: Any = object()


async def _timed(read: Any, where: str, limit: Any = _OPTION) -> Any:
    """Await ``read`` (a read of a remote store), within ``limit`` seconds (default: the
    ``remote_timeout`` option) when one is set; past it, a StoreError naming ``where``
    and the option."""
    import asyncio

    from genozarr.config import OPTIONS

    if limit is _OPTION:
        limit = OPTIONS["remote_timeout"]
    if limit is None or not is_remote(where):
        return await read
    task = asyncio.ensure_future(read)
    done, _ = await asyncio.wait([task], timeout=limit)
    if not done:  # (the client's own timeouts raise from the task, as they are)
        task.cancel()
        raise StoreError(
            f"reading {where}: no answer within {limit:g} s (set_options(remote_timeout=...)"
            "); the storage is unreachable or overloaded. Check the endpoint, or raise "
            "the limit")
    return task.result()


def _marker_token(marker: dict[str, Any] | None) -> tuple[dict[str, Any], str] | None:
    """A completion marker's attributes as a pickled reader carries them: without the
    chunk inventory (large for a genome of many contigs: pickled with every task of a
    dask graph), and the SHA256 of the data arrays' part of it (their chunk grid: a
    version that records new windows rewrites the window arrays only, and a reader's
    coordinates are loaded when it opens)."""
    if marker is None:
        return None
    import hashlib

    chunks = marker.get("chunks")
    data = {k: v for k, v in chunks.items() if str(k).rsplit("/", 1)[-1] == DATA} \
        if isinstance(chunks, dict) else chunks
    return ({k: v for k, v in marker.items() if k != "chunks"},
            hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest())


def _reopen_checked(path: str, storage_options: dict[str, Any] | None, read_only: bool,
                    opened: tuple[dict[str, Any], str] | None = None) -> Any:
    """Unpickle a reader's store in another process: the version published now, refused
    (StoreError) where it holds other content than the one ``opened``
    (:func:`_marker_token` of the completion marker the reader saw) describes, or other
    chunk files (a rebuild of the same content with other chunks: the reader's arrays
    hold the chunk grid it opened)."""
    if isinstance(opened, dict):  # (pickled by genozarr before the token: the marker)
        opened = (opened, _marker_token(opened)[1])  # type: ignore[index]
    found = open_resolved(path, storage_options, require_complete=False,
                          marker=None if opened is None else opened[0])
    token = _marker_token(found.marker)
    if opened is not None and (token is None or token[1] != opened[1]):
        found.release()
        raise StoreError(
            f"store {path} was replaced since it was opened, with other chunks (a copy of a "
            "dataset, pickled or in a worker process, reads the version first opened). "
            "Reopen the store (genozarr.open_dataset, genozarr.open_store, load_store) to "
            "read the current version.")
    return found.zarr_store()


_RANGE_ASKED = re.compile(r"bytes=(\d*)-(\d*)$")
_RANGE_GIVEN = re.compile(r"\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)


def check_range_answer(url: str, asked: str, status: int, content_range: str | None,
                       content_type: str | None, size: int) -> None:
    """Check the answer to a ranged HTTP request before its bytes are used.

    Parameters
    ----------
    url
        The object's URL, for the message.
    asked
        The request's ``Range`` header (``bytes=a-b``, ``bytes=a-`` or ``bytes=-n``).
    status
        The answer's status (a 2xx one).
    content_range, content_type
        The answer's ``Content-Range`` and ``Content-Type`` headers (None: absent).
    size
        Bytes in the answer's body.

    Raises
    ------
    StoreError
        When a 206 answer holds other bytes than those asked for (its ``Content-Range``
        starts or ends elsewhere, is missing, or disagrees with the body's length), or a
        200 answer is an HTML page. A 200 answer with other content (a server that
        ignores ranges) is left to the caller, which names it by the body's length.
    """
    m = _RANGE_ASKED.match(asked)
    if m is None:  # pragma: no cover - fsspec builds these headers
        return
    a, b = m.groups()
    what = f"Range: {asked}" if a else f"its last {b} bytes"
    if status != 206:
        if content_type is not None and "html" in content_type.lower():
            raise StoreError(
                f"reading {url}: asked for {what}, the server answered status {status} with "
                f"an HTML page ({size} bytes, Content-Type {content_type}), not the "
                "store's bytes: an error or login page of the server or a proxy. Check the "
                "URL and the server; the store itself may be intact")
        return
    given = _RANGE_GIVEN.match(content_range or "")
    if given is None:
        raise StoreError(
            f"reading {url}: asked for {what}, the server answered 206 (partial content) "
            f"without a valid Content-Range ({content_range!r}): which bytes came is "
            "unknown, so they are not used. Serve the store from a server that answers "
            "range requests correctly")
    x, y, total = int(given.group(1)), int(given.group(2)), given.group(3)
    n = None if total == "*" else int(total)
    if a:  # bytes=a-b or bytes=a-
        start, last = int(a), (int(b) if b else None)
        # an unknown total ('*'): the answer may end before the last byte asked for (the
        # end of the file), as with a known total
        good = x == start and (y == last or (last is None or y < last)
                               and (n is None or y == n - 1))
    else:  # the last b bytes
        good = n is None or (x == max(n - int(b), 0) and y == n - 1)
    if not good and a and b and x == int(a) and y < int(b) and size == y - x + 1 \
            and n is not None and y < n - 1:
        raise StoreError(
            f"reading {url}: asked for {what}, the server returned only {size} bytes "
            f"(206, Content-Range {content_range!r}) though the file is longer: the server "
            "or a proxy cut its answer short; the store itself may be intact. Check the "
            "server, or try again")
    if not good or size != y - x + 1:
        raise StoreError(
            f"reading {url}: asked for {what}, the server answered 206 with {size} bytes "
            f"of Content-Range {content_range!r}: the bytes of another range (a server, "
            "proxy or cache that mixes up ranges). They are not used, as they would give "
            "wrong values; serve the store from a server that answers range requests "
            "correctly")


async def _same_origin(session: Any, context: Any, params: Any) -> None:
    """aiohttp's hook of a redirect: refuse one to another origin (the request carries
    the caller's headers or credentials, which would be sent there)."""
    from yarl import URL

    location = params.response.headers.get("Location")
    if location is None:
        return
    target = params.url.join(URL(location))
    same = (target.scheme, target.host, target.port) == (params.url.scheme, params.url.host,
                                                         params.url.port)
    upgrade = (params.url.scheme, target.scheme) == ("http", "https") \
        and target.host == params.url.host and target.port == 443 and params.url.port == 80
    if not (same or upgrade):  # (http to https of the same host: as browsers and requests)
        raise StoreError(
            f"{hide_secrets(str(params.url))}: the server redirects to another host "
            f"({target.scheme}://{target.host}:{target.port}); genozarr does not send the "
            "headers or credentials of storage_options there. Use the final URL")


def _checked_http_class() -> type:
    """:class:`CheckedHTTPFileSystem`, defined on first use (fsspec is imported lazily)."""
    global _CHECKED_HTTP
    if _CHECKED_HTTP is not None:
        return _CHECKED_HTTP
    from fsspec.implementations.http import HTTPFileSystem

    from genozarr.io._remote import ranged_headers

    class _CheckedHTTP(HTTPFileSystem):  # type: ignore[misc]
        """fsspec's HTTP filesystem whose ranged reads check the answer: fsspec's own
        ``_cat_file`` neither checks a 206 answer's ``Content-Range`` nor tells it from a
        200 one, so a server, proxy or cache that answers another range than the one
        asked for gave wrong values silently (:func:`check_range_answer`). Given headers
        or credentials (``storage_options``), it follows no redirect to another origin
        (scheme, host and port): aiohttp sent the headers there (:func:`_same_origin`)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            client = dict(self.client_kwargs or {})
            if self.kwargs.get("headers") or self.kwargs.get("auth") \
                    or client.get("headers") or client.get("auth"):
                import aiohttp

                trace = aiohttp.TraceConfig()
                trace.on_request_redirect.append(_same_origin)
                client["trace_configs"] = [*client.get("trace_configs", ()), trace]
                self.client_kwargs = client

        async def _cat_file(self, url: str, start: int | None = None,
                            end: int | None = None, **kwargs: Any) -> bytes:
            if start is None and end is None:
                return await super()._cat_file(url, **kwargs)
            if start == end:
                return b""
            kw = self.kwargs.copy()
            kw.update(kwargs)
            asked = await self._process_limits(url, start, end)
            kw["headers"] = ranged_headers(kw.pop("headers", {}), asked)
            session = await self.set_session()
            async with session.get(self.encode_url(url), **kw) as r:
                out = await r.read()
                self._raise_not_found_for_status(r, url)
                check_range_answer(url, asked, r.status, r.headers.get("Content-Range"),
                                   r.headers.get("Content-Type"), len(out))
            return out

    _CheckedHTTP.__name__ = _CheckedHTTP.__qualname__ = "CheckedHTTPFileSystem"
    _CheckedHTTP.__module__ = __name__
    _CHECKED_HTTP = _CheckedHTTP
    globals()["CheckedHTTPFileSystem"] = _CheckedHTTP
    import atexit

    atexit.register(_close_http_sessions)
    return _CheckedHTTP


_CHECKED_HTTP: type | None = None


def _close_http_sessions() -> None:
    """At exit, close the HTTP sessions of the :class:`CheckedHTTPFileSystem` instances
    (asynchronous ones, which fsspec leaves open; aiohttp then warns "Unclosed client
    session" as the interpreter ends)."""
    cls = _CHECKED_HTTP
    for fs in list(getattr(cls, "_cache", {}).values()):
        session = getattr(fs, "_session", None)
        if session is not None and not session.closed:
            try:
                cls.close_session(getattr(session, "_loop", None), session)
            except Exception as e:  # noqa: BLE001 - at exit: nothing to do about it
                log.debug("closing the HTTP session of %r failed: %s", fs, e)


def __getattr__(name: str) -> Any:
    if name == "CheckedStore":
        return _checked_store_class()
    if name == "CheckedHTTPFileSystem":
        return _checked_http_class()
    raise AttributeError(name)


def zarr_store(path: str | os.PathLike, mode: str = "r",
               storage_options: dict[str, Any] | None = None) -> Any:
    """A plain zarr store object for a local directory or an fsspec URL (no version
    resolution: writers use it on the version they write).

    Parameters
    ----------
    path
        Local directory (a ``file://`` URL's path too) or fsspec URL.
    mode
        ``'r'`` (default) opens the store read-only; any other mode writable.
    storage_options
        fsspec options for remote URLs.

    Returns
    -------
    Any
        A ``zarr.storage.LocalStore`` for a local path; for a URL a
        ``zarr.storage.FsspecStore``, over a ``CheckedHTTPFileSystem`` (ranged reads
        checked) for ``http(s)://``.
    """
    from zarr.storage import FsspecStore, LocalStore

    register_zarr()
    if is_remote(path):
        if str(path).split("://", 1)[0].lower() in ("http", "https"):
            fs = _checked_http_class()(**{"asynchronous": True, **(storage_options or {})})
            return FsspecStore(fs=fs, path=fs._strip_protocol(str(path)),
                               read_only=(mode == "r"))
        return FsspecStore.from_url(str(path), storage_options=storage_options or {},
                                    read_only=(mode == "r"))
    return LocalStore(str(_local(path)), read_only=(mode == "r"))


# ---------------------------------------------------------------------------- opening
class OpenedStore:
    """One version of a store, resolved once and held while in use.

    Parameters
    ----------
    path
        The store path or URL as given.
    root
        The directory or URL prefix of the version resolved (:func:`resolve_root`).
    storage_options
        fsspec options.
    hold
        The :class:`ReaderHold` of a local version (its ``io_root`` is where it is
        read); None for a remote store.
    complete
        Whether the completion marker was there when the store was opened.
    marker
        The completion marker's attributes then; None (default): none.

    Attributes
    ----------
    path
        The store path or URL as given.
    root
        The directory (as it was named when opened) or URL prefix of this version.
    io_root
        Where this version is read: ``root``, or for a local store the descriptor that
        pins its directory (``/proc/self/fd/<n>``).
    storage_options
        fsspec options.
    hold
        The open, locked version directory of a local store (None for remote stores).
    complete
        Whether the completion marker was there when the store was opened.
    marker
        The completion marker's attributes then (None without one).
    """

    def __init__(self, path: str, root: str, storage_options: dict[str, Any] | None,
                 hold: ReaderHold | None, complete: bool,
                 marker: dict[str, Any] | None = None) -> None:
        self.path = path
        self.root = root
        self.io_root = hold.io_root if hold is not None else root
        self.storage_options = storage_options
        self.hold = hold
        self.complete = complete
        self.marker = marker
        self._meta: StoreMeta | None = None
        self._group: Any = None

    def __repr__(self) -> str:
        return f"OpenedStore({self.path!r}, root={self.root!r})"

    def __dask_tokenize__(self) -> tuple[str, str, str, str]:
        # the build's and the version's random ids: a store rebuilt at the same path (a
        # local store's root is its path) is another version, whose dask arrays must not
        # share names with this one's (dask would take one's chunks for the other's)
        marker = self.marker if isinstance(self.marker, dict) else {}
        ids = json.dumps([marker.get("build"), marker.get("version"),
                          marker.get("cache_key")], default=str)
        return ("genozarr-store", self.path, self.root, ids)

    def zarr_store(self) -> Any:
        """A read-only :class:`CheckedStore` over this version.

        Returns
        -------
        CheckedStore
            A new store reading :attr:`io_root`, checking chunks against this opening's
            completion marker and its chunk inventory.
        """
        # a remote store without versions (a directory on a web server) is rebuilt in
        # place: its marker, compared when a read fails, tells a rebuild from damage
        seen = self.marker if self.hold is None and self.root == self.path.rstrip("/") \
            else None
        return _checked_store_class()(zarr_store(self.io_root, "r", self.storage_options),
                                      self.path, self.complete, self.hold,
                                      self.storage_options, None, seen,
                                      ChunkInventory.from_marker(self.marker), self.marker)

    def group(self) -> Any:
        """The version's zarr v3 group (consolidated metadata).

        Returns
        -------
        zarr.Group
            The root group, read through :meth:`zarr_store`; opened on the first call and
            kept.

        Raises
        ------
        StoreError
            When the group cannot be read, or the store was replaced or removed while it
            was being opened.
        """
        if self._group is None:
            try:
                self._group = _open_zarr_group(self.zarr_store(), self.path)
            except StoreError as first:
                try:
                    gone = self.complete and \
                        _marker_at(self.io_root, self.storage_options) is None
                except Exception:  # noqa: BLE001 - the marker unreadable too (a server
                    raise first from None  # failing): the first error says what happened
                if gone:
                    raise StoreError(
                        f"store {self.path} was replaced or removed while it was being "
                        "opened; open it again") from None
                raise
        return self._group

    def adopt(self, other: OpenedStore) -> None:
        """Take the parsed metadata of ``other``, an opening of this same version (root
        and completion marker) in the process this one was forked from (a DataLoader
        worker's parent): its zarr group with every array's metadata (consolidated) and its
        genozarr metadata, read from now on through this opening's own store, so that a
        forked reader does not parse them again (0.6 s per worker and epoch for a genome
        of 2,000 contigs). Another version's, or unparsed metadata, is left.

        Parameters
        ----------
        other
            The parent process's opening of the store (inherited through the fork).
        """
        if other is self or other.root != self.root or other.marker != self.marker:
            return
        if self._group is None and other._group is not None:
            from zarr.core.group import AsyncGroup, Group
            from zarr.storage import StorePath

            self._group = Group(AsyncGroup(metadata=other._group.metadata,
                                           store_path=StorePath(self.zarr_store())))
        if self._meta is None:
            self._meta = other._meta

    def meta(self) -> StoreMeta:
        """The checked ``genozarr`` metadata of the root group.

        Returns
        -------
        StoreMeta
            Parsed from the ``genozarr`` attribute on the first call and kept.

        Raises
        ------
        StoreFormatError
            When the group has no ``genozarr`` attribute or it is of a newer or unknown
            format version, or invalid.
        """
        if self._meta is None:
            attrs = dict(self.group().attrs)
            if "genozarr" not in attrs:
                raise StoreFormatError(f"{self.path} is not a genozarr store (no 'genozarr' "
                                       "attribute)")
            self._meta = StoreMeta.from_attrs(attrs["genozarr"], self.path)
        return self._meta

    def release(self) -> None:
        """Let the version go (a later publish may delete it)."""
        if self.hold is not None:
            self.hold.release()


def _open_zarr_group(store: Any, where: str) -> Any:
    import zarr

    register_zarr()
    try:
        group = _consolidated_group(store)
        if group is not None:
            return group
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
            return zarr.open_group(store, mode="r", zarr_format=3, use_consolidated=True)
    except GenozarrError:
        raise
    except json.JSONDecodeError as e:  # a store whose metadata file was cut or overwritten
        raise StoreError(
            f"{where}: its zarr.json (the group's metadata) is damaged, not JSON ({e}); the "
            "store cannot be read: rebuild it") from e
    except (FileNotFoundError, KeyError, ValueError, TypeError) as e:
        if isinstance(e, ValueError) and "onsolidated metadata" in str(e):
            raise StoreError(
                f"{where}: its zarr.json holds no consolidated metadata, which genozarr "
                "writes with every store (a tool that rewrote the root left it out): run "
                "zarr.consolidate_metadata on the store, or rebuild it") from e
        raise StoreError(f"{where} is not a genozarr store (no readable zarr v3 group): {e}") from e
    except Exception as e:  # zarr raises its own GroupNotFoundError / NodeTypeValidationError
        if type(e).__module__.startswith("zarr"):
            raise StoreError(
                f"{where} is not a genozarr store (no readable zarr v3 group): {e}") from e
        raise storage_error("read store", where, e) from e


def _consolidated_group(store: Any) -> Any | None:
    """The zarr group of ``store``'s root ``zarr.json`` with its inline consolidated
    metadata, parsed as zarr parses it but with arrays whose metadata differ only in
    their shape parsed once (a store of thousands of contigs holds thousands of equal
    label arrays, and data arrays that differ in length only: zarr's own parse took 0.4 ms
    per array, seconds per open). None where the document is not such a zarr v3 group (or
    cannot be read): zarr opens it then, and says what is wrong."""
    from dataclasses import replace

    from zarr.core.buffer import default_buffer_prototype
    from zarr.core.group import AsyncGroup, ConsolidatedMetadata, Group, GroupMetadata
    from zarr.core.sync import sync
    from zarr.storage import StorePath

    raw = sync(store.get("zarr.json", default_buffer_prototype()))
    try:
        doc = json.loads(raw.to_bytes()) if raw is not None else None
    except ValueError:
        return None
    if not isinstance(doc, dict) or doc.get("zarr_format") != 3 \
            or doc.get("node_type") != "group":
        return None
    consolidated = doc.get("consolidated_metadata")
    if not isinstance(consolidated, dict) or consolidated.get("kind") != "inline" \
            or not isinstance(consolidated.get("metadata"), dict):
        return None
    flat: dict[str, Any] = {}
    parsed: dict[str, Any] = {}  # an array's metadata but its shape -> its parse
    try:
        for path, node in consolidated["metadata"].items():
            if not isinstance(node, dict) or node.get("zarr_format") != 3:
                return None
            if node.get("node_type") == "group":
                if (node.get("consolidated_metadata") or {}).get("metadata"):
                    return None  # (zarr writes the children at the root: flat)
                flat[path] = GroupMetadata.from_dict(
                    {k: v for k, v in node.items() if k != "consolidated_metadata"})
                continue
            found = parse_array_metadata(node, parsed)
            if found is None:
                return None
            flat[path] = found
        root = GroupMetadata.from_dict({k: v for k, v in doc.items()
                                        if k != "consolidated_metadata"})
    except (TypeError, ValueError, KeyError):
        return None
    # nested as zarr nests it: each group holds its children's metadata
    children: dict[str, dict[str, str]] = {}
    for path in flat:
        parent, _, name = path.rpartition("/")
        children.setdefault(parent, {})[name] = path

    def nest(parent: str) -> dict[str, Any]:
        out = {}
        for name, path in children.get(parent, {}).items():
            node = flat[path]
            if isinstance(node, GroupMetadata):
                node = replace(node, consolidated_metadata=ConsolidatedMetadata(nest(path)))
            out[name] = node
        return out

    root = replace(root, consolidated_metadata=ConsolidatedMetadata(nest("")))
    return Group(AsyncGroup(metadata=root, store_path=StorePath(store)))


def parse_array_metadata(node: dict[str, Any], parsed: dict[str, Any]) -> Any:
    """zarr's metadata of an array from its ``zarr.json`` document ``node``, parsed once
    per document but its shape: ``parsed`` keeps the parses by the rest of the document
    (zarr's own parse takes about 0.4 ms; the arrays of a genome's contigs differ in
    their shapes only, or in a few chunk shapes).

    Parameters
    ----------
    node
        The document (a dict).
    parsed
        ``{key: parsed metadata}``, added to.

    Returns
    -------
    zarr.core.metadata.v3.ArrayV3Metadata or None
        None where ``node`` is not an array's document with a shape of whole numbers
        (zarr's own parse says what is wrong then).

    Raises
    ------
    TypeError, ValueError, KeyError
        zarr's errors for a document it cannot parse.
    """
    from zarr.core.metadata.v3 import ArrayV3Metadata

    shape = node.get("shape")
    if node.get("node_type") != "array" or not isinstance(shape, list) or not all(
            type(n) is int and n >= 0 for n in shape):
        return None
    key = json.dumps([len(shape), {k: v for k, v in node.items() if k != "shape"}],
                     sort_keys=True)
    first = parsed.get(key)
    if first is None:
        first = parsed[key] = ArrayV3Metadata.from_dict(dict(node))
    if list(first.shape) != shape:  # zarr's own update_shape validates again
        first = copy.copy(first)
        object.__setattr__(first, "shape", tuple(shape))
    return first


def _missing(path: str, storage_options: dict[str, Any] | None) -> StoreError:
    """The error for a store path where no store was found."""
    if is_remote(path):
        try:
            fs, root = _remote_fs(path, storage_options)
            bucket = root.split("/", 1)[0]
            if str(path).startswith(("s3://", "s3a://", "gs://", "gcs://", "az://", "abfs://")) \
                    and not fs.exists(bucket):
                return MissingStoreError(
                    f"store {path} does not exist: the bucket {bucket!r} does not exist (or "
                    "these credentials may not see it); create it or fix the URL", path)
        except Exception as e:  # noqa: BLE001 - storage errors
            return storage_error("read store", path, e)
        return StoreError(
            f"{path} is not a complete genozarr store (no completion marker {MARKER}); it does "
            "not exist, was interrupted while being written, or is not a genozarr store. "
            "Rebuild it.")
    return MissingStoreError(f"store {path} does not exist", path)


def open_resolved(path: str | os.PathLike, storage_options: dict[str, Any] | None = None, *,
                  require_complete: bool = True, root: str | None = None,
                  marker: dict[str, Any] | None = None) -> OpenedStore:
    """Resolve the version published at ``path`` once, hold it, and check its marker.

    Parameters
    ----------
    path
        Store path or URL.
    storage_options
        fsspec options.
    require_complete
        Raise when the completion marker is missing (an interrupted build).
    root
        Remote stores: a version prefix resolved before (a pickled reader): open exactly
        that one. Ignored for local stores (a local version is pinned by a descriptor,
        which does not cross processes).
    marker
        The completion marker the store had when it was first opened (a pickled or forked
        reader): a store published since with other content
        (:func:`~genozarr.store.layout.same_content`: another cache key, or another build
        without one) is refused, not read in its place.

    Returns
    -------
    OpenedStore

    Raises
    ------
    StoreError
        Missing, incomplete, replaced, unreachable or non-genozarr store.
    """
    path = path_text(path)  # (as every opener)
    remote = is_remote(path)
    last = path.rsplit("::", 1)[-1]  # (a chained URL: simplecache::https://...)
    if remote and ("?" in last or "#" in last) and last.lower().startswith(("http://",
                                                                              "https://")):
        from urllib.parse import urlsplit

        # (in an object store's key, '?' and '#' are characters like any other)
        if urlsplit(last).query or urlsplit(last).fragment:
            # each of the store's files is the URL plus its key: a query would end up
            # inside every key (every file then reads as missing: "rebuild it")
            raise StoreError(
                f"store {path}: a store URL cannot carry a query string or fragment (a "
                "store is many files, each at the store's URL plus its key); pass "
                "credentials in storage_options (e.g. {'headers': {'Authorization': ...}} "
                "over HTTP, or the object store's keys)")
    for attempt in range(50):
        found = root if (root is not None and remote) else resolve_root(path, storage_options)
        hold = None
        io_root = found
        if not remote:
            local = _local(path)
            if not os.path.isdir(found):
                if os.path.islink(local):
                    raise StoreError(f"store {path} is a symbolic link to {found}, which "
                                     "does not exist; rebuild the store or fix the link")
                if os.path.exists(local) and not os.path.isdir(local):
                    raise StoreError(f"{path} is a file, not a genozarr store (a directory)")
                if attempt < 3:  # a store being exchanged by a fallback publish
                    time.sleep(0.005 * (attempt + 1))
                    continue
                if os.path.isdir(local):  # a copy of a versioned store: its pointer's
                    raise StoreError(
                        f"store {path}: its version pointer ({POINTER}) names "
                        f"{os.path.basename(found)}, which the directory does not hold (the "
                        "store copied in part, or that directory renamed); copy the store "
                        "again or rebuild it")
                raise _missing(path, storage_options)
            try:
                hold = ReaderHold.acquire(found)
            except (FileNotFoundError, NotADirectoryError):
                continue  # gone between resolving and opening: resolve again
            except OSError as e:  # EACCES, EMFILE ...: not a race, said as it is
                raise storage_error("open store", path, e) from e
            if hold is None:  # a replaced version being deleted: resolve again
                time.sleep(0.001 * attempt)
                continue
            io_root = hold.io_root
        try:
            found_marker = _marker_at(io_root, storage_options)
        except GenozarrError as e:
            if hold is not None and str(e).startswith(f"{io_root}:"):  # (the pinned root)
                raise StoreError(f"store {path}{str(e)[len(io_root):]}") from e
            raise
        except Exception as e:  # noqa: BLE001 - fsspec/botocore raise their own errors
            raise storage_error("read store", path, e) from e
        if found_marker is None and hold is not None \
                and not hold.same_as(resolve_root(path, storage_options)):
            hold.release()
            continue  # exchanged away and deleted meanwhile: the path names another one
        if marker is not None and not same_content(found_marker, marker):
            if hold is not None:
                hold.release()
            raise StoreError(
                f"store {path} was replaced or removed since it was opened (a copy of a "
                "dataset, pickled or in a worker process, reads the version first opened). "
                "Reopen the store (genozarr.open_dataset, genozarr.open_store, load_store) "
                "to read the current version.")
        if found_marker is None and require_complete:
            if hold is not None:
                hold.release()
            if remote and found == str(path).rstrip("/") \
                    and read_pointer(path, storage_options) is None:
                raise _missing(path, storage_options)
            raise StoreError(
                f"{path} is not a complete genozarr store (no completion marker {MARKER}); it "
                "was interrupted while being written or is not a genozarr store. Rebuild it."
            )
        return OpenedStore(path, found, storage_options, hold, found_marker is not None,
                           found_marker)
    raise StoreError(f"could not open store {path}: it was replaced again and again while "
                     "being opened; retry")


def open_group(path: str | os.PathLike, mode: str = "r",
               storage_options: dict[str, Any] | None = None) -> Any:
    """Open the zarr v3 group of a store (consolidated metadata when reading).

    Reading resolves the published version and reads it through a :class:`CheckedStore`;
    other modes open ``path`` itself (a version being written).

    Parameters
    ----------
    path
        Store path or URL.
    mode
        zarr access mode: ``'r'`` (default) reads the published version, complete or not;
        any other (``'r+'``, ``'a'``, ``'w'``, ...) is passed to ``zarr.open_group`` over
        :func:`zarr_store` of ``path``.
    storage_options
        fsspec options for remote URLs.

    Returns
    -------
    zarr.Group
        The store's root group.

    Raises
    ------
    StoreError
        Missing store (a local ``path`` that does not exist), no readable zarr v3 group,
        or an unreachable storage.
    """
    import zarr

    if mode == "r":
        return open_resolved(path, storage_options, require_complete=False).group()
    if not is_remote(path) and not _local(path).exists():
        raise MissingStoreError(f"store {path} does not exist", path)
    try:
        return zarr.open_group(zarr_store(path, mode, storage_options), mode=mode,
                               zarr_format=3)
    except Exception as e:
        if type(e).__module__.startswith("zarr") or isinstance(e, (KeyError, ValueError)):
            raise StoreError(f"{path} is not a genozarr store (no readable zarr v3 group): "
                             f"{e}") from e
        raise


def read_meta(path: str | os.PathLike, storage_options: dict[str, Any] | None = None,
              require_complete: bool = True) -> StoreMeta:
    """Read and check a store's metadata.

    Parameters
    ----------
    path
        Store location (directory or URL).
    storage_options
        fsspec options.
    require_complete
        Raise when the completion marker is missing (an interrupted build).

    Returns
    -------
    StoreMeta
        The store's metadata, parsed from the ``genozarr`` attribute of its root group
        and checked.

    Raises
    ------
    StoreError
        Missing, incomplete or non-genozarr store.
    StoreFormatError
        Written by a newer format version.
    """
    return open_resolved(path, storage_options, require_complete=require_complete).meta()


# ---------------------------------------------------------------------------- checks
def _refuse(where: str, field: str, expected: Any, found: Any, what: str) -> StoreFormatError:
    return StoreFormatError(
        f"{where}: {what} disagrees with the genozarr metadata ({field}): the metadata says "
        f"{expected!r}, the arrays hold {found!r}. The store was edited or damaged; rebuild "
        "it (overwrite=True).")


def read_whole(arrays: list[Any], where: str | None = None) -> list[np.ndarray]:
    """The values of whole zarr arrays, read concurrently: one round trip for all of them
    on object storage, not one per array.

    Raises
    ------
    StoreError
        Where an array cannot be read or decoded (a damaged or truncated chunk: zarr's and
        the codecs' own errors), naming the store ``where`` and the array.
    """
    import asyncio

    from zarr.core.sync import sync

    async def read() -> list[Any]:
        return await asyncio.gather(*(arr.async_array.getitem(Ellipsis) for arr in arrays),
                                    return_exceptions=True)

    if not arrays:
        return []
    results = sync(read())
    for arr, value in zip(arrays, results):
        if not isinstance(value, BaseException):
            continue
        if isinstance(value, GenozarrError) or not isinstance(value, Exception):
            raise value
        raise unreadable(f"array {where or 'of the store'}/{getattr(arr, 'path', '?')}",
                         value) from value
    return [np.asarray(values) for values in results]


def array_metadata(group: Any) -> dict[str, Any]:
    """Every array's zarr metadata in ``group``'s consolidated metadata, by path (empty
    where the group was opened without it): read without a call into zarr's event loop
    per array (about 0.5 ms each, seconds for a genome of thousands of contigs)."""
    from zarr.core.group import GroupMetadata

    found: dict[str, Any] = {}

    def walk(metadata: Any, prefix: str) -> None:
        consolidated = getattr(metadata, "consolidated_metadata", None)
        for name, node in (consolidated.metadata if consolidated is not None else {}).items():
            if isinstance(node, GroupMetadata):
                walk(node, f"{prefix}{name}/")
            else:
                found[f"{prefix}{name}"] = node

    walk(group.metadata, "")
    return found


def check_arrays(group: Any, meta: StoreMeta, where: str,
                 marker: dict[str, Any] | None = None) -> None:
    """Refuse a store whose arrays disagree with its ``genozarr`` metadata.

    Checks, from the (consolidated) array metadata: every data array exists, has the
    metadata's dtype, the shape it implies (bins per window or per chromosome, strands,
    conditions; in the partial layout as many rows as region coordinates), chunks cut
    along the first axis only, and the fill value the metadata's ``pad_value``; the
    ``strand`` and ``condition`` labels (of the first chromosome in the whole-genome
    layout) equal the metadata's; every array of the completion marker's chunk inventory
    has as many chunk files along its first axis as the inventory records (an array
    rechunked or resized since would read written chunks as never written); and the
    stored size of the first chunk of the first data array matches its chunk shape.

    Parameters
    ----------
    group
        The store's zarr group (as opened for reading).
    meta
        Its metadata.
    where
        The store path, for messages.
    marker
        The completion marker's attributes (its chunk inventory), if any.

    Raises
    ------
    StoreFormatError
        Naming the store and the field that disagrees.
    """
    n_s, n_c = len(meta.strands), len(meta.conditions)
    expected: dict[str, tuple[int, ...]] = {}
    if meta.whole_genome:
        res = int(meta.resolution or 1)
        for chrom, length in meta.chroms.items():
            expected[meta.array_path(chrom)] = (-(-int(length) // res), n_s, n_c)
    else:
        try:
            rows = int(group["region_chrom"].shape[0])
        except KeyError:
            raise StoreFormatError(f"{where}: the region coordinates (region_chrom) are "
                                   "missing; the store is damaged. Rebuild it.") from None
        for coord in ("region_start", "region_end", "region_strand"):
            try:
                n = int(group[coord].shape[0])
            except KeyError:
                raise StoreFormatError(f"{where}: the region coordinate {coord} is missing; "
                                       "the store is damaged. Rebuild it.") from None
            if n != rows:
                raise _refuse(where, "number of regions", rows, n, f"coordinate {coord}")
        nbins = meta.nbins if (meta.resolution is None or meta.binsize is not None) else None
        expected[DATA] = (rows, nbins if nbins is not None else -1, n_s, n_c)
    fields = (("bins per chromosome", "strands", "conditions") if meta.whole_genome
              else ("number of regions", "bins per window", "strands", "conditions"))
    first = None
    arrays = array_metadata(group)
    for name, shape in expected.items():
        try:
            arr = arrays[name] if name in arrays else group[name]
        except KeyError:
            raise StoreFormatError(
                f"{where}: the data array {name!r} named by the genozarr metadata "
                f"(chroms/layout) is missing; the store is damaged. Rebuild it.") from None
        if not hasattr(arr, "chunks"):
            raise StoreFormatError(f"{where}: {name!r} is a group, not an array; the store is "
                                   "damaged. Rebuild it.")
        from genozarr.store._direct import _native_dtype

        dtype = _native_dtype(arr)
        if dtype != store_dtype(meta.dtype):
            raise _refuse(where, "dtype", meta.dtype, str(dtype), f"data array {name!r}")
        got = tuple(int(s) for s in arr.shape)
        if len(got) != len(shape):
            raise _refuse(where, "shape", shape, got, f"data array {name!r}")
        for field, want, have in zip(fields, shape, got):
            if want >= 0 and want != have:
                raise _refuse(where, field, want, have, f"data array {name!r} (shape {got})")
        chunks = tuple(int(c) for c in arr.chunks)
        # (no build writes a chunk longer than its array, nor a shard past the chunk that
        # holds the array's end: a crafted one made a read of one window allocate and fill
        # the whole declared chunk, 1.6 GB for a store of 200 windows, an audit)
        if chunks[1:] != got[1:] or not 1 <= chunks[0]:
            raise _refuse(where, "chunk shape", (chunks[0],) + got[1:], chunks,
                          f"data array {name!r}")
        shard = getattr(arr, "shards", None)
        if chunks[0] > max(got[0], 1) or (
                shard is not None and int(shard[0]) >= max(got[0], 1) + chunks[0]):
            raise StoreFormatError(
                f"{where}: data array {name!r} of {got[0]} entries along its first axis "
                f"declares chunks of {chunks[0]}"
                + (f" in shards of {int(shard[0])}" if shard is not None else "")
                + ", longer than any build writes; its zarr metadata was edited or is "
                "damaged. Rebuild the store (overwrite=True).")
        fill = getattr(arr, "fill_value", meta.pad_value)
        if not _same_value(fill, meta.served_pad):
            raise _refuse(where, "pad_value", plain(meta.served_pad), plain(fill),
                          f"the fill value of {name!r}")
        if first is None:
            first = name
    _check_inventory(arrays, marker, where)
    # labels: those of the partial layout, or of the first chromosome
    if meta.whole_genome and meta.chroms:
        chrom = next(iter(meta.chroms))
        prefix = "" if meta.format_version == 1 else f"{chrom}/"
    else:
        prefix = ""
    stored = {}
    for label in ("strand", "condition"):
        try:
            stored[label] = group[f"{prefix}{label}"]
        except KeyError:
            pass
    for label, values in zip(stored, read_whole(list(stored.values()), where)):
        want = list(meta.strands if label == "strand" else meta.conditions)
        have = [str(v) for v in values.tolist()]
        if have != [str(w) for w in want]:
            field = "strands" if label == "strand" else "conditions"
            raise _refuse(where, field, want, have, f"the {prefix}{label} labels")
    if first is not None:
        _probe_first_chunk(group[first], where)


def _same_value(a: Any, b: Any) -> bool:
    """Whether two fill values are the same number (NaN equal to NaN)."""
    try:
        x, y = float(a), float(b)
    except (TypeError, ValueError):
        return False
    return x == y or (math.isnan(x) and math.isnan(y))


def _genozarr_error_in(group: BaseException) -> GenozarrError | None:
    """The first genozarr error inside an exception group (nested groups too)."""
    for error in getattr(group, "exceptions", ()):
        if isinstance(error, GenozarrError):
            return error
        found = _genozarr_error_in(error)
        if found is not None:
            return found
    return None


def _check_inventory(arrays: dict[str, Any], marker: dict[str, Any] | None,
                     where: str) -> None:
    """Refuse arrays whose chunk (shard) files along the first axis are not as many as
    the completion marker's inventory records for them: the inventory's indices would
    name other chunks (a chunk with data read as never written, so as the fill value)."""
    from genozarr.store._direct import regular_chunk_shape

    chunks = (marker or {}).get("chunks") if isinstance(marker, dict) else None
    if not isinstance(chunks, dict) or not arrays:
        return
    for path, entry in chunks.items():
        arr = arrays.get(str(path).strip("/"))
        if arr is None or not isinstance(entry, dict):
            continue
        try:
            shape = [int(n) for n in arr.shape]
            outer = regular_chunk_shape(getattr(arr, "metadata", arr))
            recorded = int(entry["grid"])
        except (AttributeError, KeyError, TypeError, ValueError):
            continue
        if outer is None:  # (not a regular grid: no direct reader takes it)
            continue
        have = first_axis_grid(shape, outer)  # (as the inventory counted them)
        if have != recorded:
            raise StoreFormatError(
                f"{where}: array {str(path).strip('/')!r} has {have} chunk files along its "
                f"first axis (shape {tuple(shape)}, chunks {tuple(outer)}); the store's "
                f"completion marker records {recorded}. The array was rechunked or resized "
                "after the store was built (its record of the chunks never written no longer "
                "applies); rebuild the store (overwrite=True).")


def _probe_first_chunk(arr: Any, where: str) -> None:
    """Check the stored size of chunk 0 of ``arr`` (its chunk shape and dtype were not
    edited): its size and, for Blosc, the 16-byte frame header (a ranged read)."""
    from zarr.abc.store import RangeByteRequest
    from zarr.core.buffer import default_buffer_prototype
    from zarr.core.sync import sync

    meta = arr.metadata
    info = _chunk_info(meta.to_dict()) if hasattr(meta, "to_dict") else None
    if info is None or arr.shape[0] == 0:
        return
    store = arr.store_path.store
    while hasattr(store, "_store"):
        store = store._store
    key = meta.encode_chunk_key((0,) * len(arr.shape))
    path = f"{arr.store_path.path}/{key}" if arr.store_path.path else key
    nbytes, compressed, shape, dtype = info

    async def probe() -> tuple[int, bytes] | None:
        try:
            size = await store.getsize(path)
        except (FileNotFoundError, KeyError):
            return None
        header = b""
        if compressed and size:
            buf = await store.get(path, default_buffer_prototype(),
                                  RangeByteRequest(0, min(16, size)))
            if buf is None:  # gone since its size was read: the store is being replaced,
                return None  # which reading it reports
            header = buf.to_bytes()
        return size, header

    try:
        found = sync(_timed(probe(), f"{where}/{path}"))
    except GenozarrError:
        raise
    except Exception as e:  # noqa: BLE001 - storage errors
        raise storage_error("read store", where, e) from e
    if found is None:
        return
    from genozarr.store._direct import check_chunk_bytes

    try:
        check_chunk_bytes(f"{where}/{path}", found[1], found[0], nbytes, compressed, shape,
                          dtype)
    except StoreError as e:
        raise StoreFormatError(
            f"{where}: the first chunk of data array {arr.store_path.path!r} does not hold one "
            f"chunk of the chunk shape {shape} {np.dtype(dtype)} the array metadata gives "
            f"(chunk shape or dtype edited, or the chunk damaged): {e}") from None


# ---------------------------------------------------------------------------- xarray
def open_store(path: PathLike, storage_options: dict[str, Any] | None = None,
               chunks: Any = None) -> Any:
    """Open a store lazily with dask arrays: the ``genozarr`` xarray backend with chunks.

    The version published at ``path`` is resolved once: the returned object keeps reading
    it (and holds it, for a local store) even when the store is rebuilt meanwhile.

    Parameters
    ----------
    path
        Local directory or fsspec URL (``s3://``, ``gs://``, ``http(s)://``).
    storage_options
        fsspec options for remote URLs.
    chunks
        Dask chunks; None keeps the stored chunks.

    Returns
    -------
    xarray.Dataset or xarray.DataTree
        Partial layout: a Dataset with variable ``data`` (dims ``(region, position, strand,
        condition)``) and coordinates ``region_chrom``, ``region_start``, ``region_end``,
        ``region_strand``, ``strand``, ``condition``. Whole-genome layout: a DataTree with
        one child per chromosome holding ``data`` (dims ``(position, strand,
        condition)``). Attributes hold the store metadata (``resolution``, ``binsize``,
        ``flank``, ``sources``, ``cache_key``...).
    """
    import xarray as xr

    from genozarr.store.xarray_backend import _edited_metadata, open_chunked_tree

    opened = open_resolved(path, storage_options)
    meta = opened.meta()
    chunks = {} if chunks is None else chunks
    with _edited_metadata(path):  # (xarray's KeyError: an array's metadata lacks a field)
        if meta.whole_genome and meta.format_version >= 2:
            obj = open_chunked_tree(opened, chunks)
        else:
            opener = xr.open_datatree if meta.whole_genome else xr.open_dataset
            obj = opener(opened, engine="genozarr", storage_options=storage_options,
                         chunks=chunks)
    if not meta.whole_genome:  # small coordinates are loaded (selection by value works),
        # here: not on a dask.distributed client's workers, which may not reach the store
        import dask

        loaded = {}
        for k in obj.coords:
            try:
                with dask.config.set(scheduler="sync"):
                    loaded[k] = obj[k].variable.compute()  # (itself alone, not its coords)
            except GenozarrError:
                raise
            except (RuntimeError, ValueError, TypeError) as e:  # a codec's own error
                raise StoreError(
                    f"cannot decode the coordinate {k!r} of store {hide_secrets(str(path))}: "
                    f"{type(e).__name__}: {e}. Its chunk is damaged, or (a remote store) the "
                    "server cut its answer short; check the server, or rebuild the store "
                    "(overwrite=True)") from e
        obj = obj.assign_coords(loaded)
    from genozarr.ops._layout import with_data_token

    try:
        return with_data_token(obj)  # (the data the attributes describe)
    except MemoryError as e:  # (coordinates of gigabytes: a label chunk of an edited store)
        raise StoreError(
            f"cannot open store {hide_secrets(str(path))}: its coordinates take more memory "
            "than this process may have (an edited or damaged store, e.g. a label chunk "
            "that decompresses to gigabytes); rebuild it (overwrite=True)") from e

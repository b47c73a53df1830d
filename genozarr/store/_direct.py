"""Direct chunk reads and writes: the one place that bypasses zarr's own machinery.

The serving and ingest hot paths read and write the chunks of local zarr v3 arrays
straight from and to their files and decode/encode them with numcodecs' Blosc, the codec
zarr's ``BloscCodec`` uses: no zarr indexing, no event loop, no dask. This is exact only
for the arrays :meth:`DirectChunks.for_array` accepts (a local store, a regular grid
chunked along the first axis only, codecs ``bytes`` little endian then optionally
``blosc``, either as the array's codecs or as the inner codecs of a ``sharding_indexed``
codec with its default index: ``bytes`` little endian then ``crc32c``, at the end of the
shard), and only for the zarr versions whose chunk encoding was checked
(:data:`ZARR_VERSIONS`); anything else goes through zarr.

In a sharded array the unit read is the *inner* chunk: a shard file holds its inner
chunks back to back followed by an index of ``(offset, nbytes)`` pairs (``2**64 - 1`` for
an inner chunk holding only the fill value) and the index's CRC32C. The reader keeps the
index of every shard it opened and reads one inner chunk with one ranged read, so a random
window costs the decode of its inner chunk, not of the whole shard.

Every decoded chunk is checked: its decompressed size must equal the chunk's bytes, or
:class:`~genozarr.errors.StoreError` names the chunk file (a truncated, empty or foreign
file never reads as values; :func:`check_chunk_bytes` is the one check, also used on the
chunks zarr reads). A missing chunk file reads as the fill value only while the store it
belongs to is still there: the reader remembers the completion marker it opened and raises
:class:`~genozarr.errors.StoreError` ("replaced or removed, reopen it") when the marker is
gone or is another one; and only where the marker's chunk inventory
(:class:`~genozarr.store.layout.ChunkInventory`) records the chunk file as not written
(one written and lost since is a StoreError naming it).
"""

from __future__ import annotations

import errno
import itertools
import os
import stat
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

import numpy as np

from genozarr.errors import StoreError
from genozarr.store._lru import _ChunkCache
from genozarr.store.dtypes import is_bfloat16, widen
from genozarr.store.layout import MARKER_FILE

__all__ = ["DirectChunks", "RemoteChunks", "write_chunks", "write_strings", "read_strings",
           "read_local_file", "check_not_linked", "file_kind",
           "check_chunk_bytes", "html_answer", "index_crc_ok", "ZARR_VERSIONS"]

#: a directory pinned by an open descriptor (Linux): it stays the directory the reader
#: opened, whatever is renamed or exchanged at its old path
_PINNED = "/proc/self/fd/"

#: zarr major versions whose on-disk chunk encoding this module reproduces
ZARR_VERSIONS = (3,)


def _zarr_supported() -> bool:
    import zarr

    try:
        return int(zarr.__version__.split(".")[0]) in ZARR_VERSIONS
    except ValueError:  # pragma: no cover - unparseable version: stay on zarr's path
        return False


def regular_chunk_shape(meta: Any) -> tuple[int, ...] | None:
    """The chunk shape of zarr v3 array metadata ``meta`` on a regular chunk grid; None
    for any other grid. Read from the grid's JSON form (``{"name": "regular", ...}``),
    which every zarr 3 release writes alike (the grid's class was ``RegularChunkGrid`` up
    to zarr 3.1 and ``RegularChunkGridMetadata`` from 3.2)."""
    grid = getattr(meta, "chunk_grid", None)
    try:
        doc = grid.to_dict()
        if doc.get("name") != "regular":
            return None
        return tuple(int(n) for n in doc["configuration"]["chunk_shape"])
    except (AttributeError, KeyError, TypeError, ValueError):
        return None


def _native_dtype(array: Any) -> np.dtype:
    dt = array.dtype
    return np.dtype(dt.to_native_dtype()) if hasattr(dt, "to_native_dtype") else np.dtype(dt)


def index_crc_ok(raw: bytes) -> bool:
    """Whether a shard index read with its CRC32C (the sharding codec's default index:
    the table's bytes, then their CRC32C, 4 bytes little endian) matches it."""
    import google_crc32c

    return int(google_crc32c.value(raw[:-4])) == int.from_bytes(raw[-4:], "little")


def html_answer(where: str, head: bytes, size: int | None = None,
                what: str = "the chunk") -> StoreError | None:
    """The StoreError for what a server answered for ``where`` (a URL) when it is an HTML
    page (an error or login page of the server or a proxy), else None.

    Parameters
    ----------
    where
        The URL read (a local path: never a page).
    head
        The first bytes answered (a few dozen suffice).
    size
        The bytes answered in all (default ``len(head)``).
    what
        What was expected, for the message.
    """
    start = bytes(head[:64]).lstrip().lower()
    if "://" not in where or not start.startswith((b"<!doctype html", b"<html")):
        return None
    return StoreError(
        f"reading {where}: the server returned an HTML page "
        f"({len(head) if size is None else size} bytes) instead of {what}: an error or "
        "login page of the server or a proxy. Check the URL and the server; the store "
        "itself may be intact.")


def check_chunk_bytes(where: str, header: bytes, size: int, nbytes: int, compressed: bool,
                      shape: tuple[int, ...], dtype: Any) -> None:
    """Check that a stored chunk decodes to exactly one chunk (before decoding it).

    Parameters
    ----------
    where
        The chunk's path or URL, for the message.
    header
        The chunk's first 16 bytes (fewer when the chunk is shorter).
    size
        The chunk's stored size in bytes.
    nbytes
        Bytes of one decoded chunk.
    compressed
        Whether the chunk is a Blosc frame (codecs ``bytes`` then ``blosc``), else raw bytes.
    shape, dtype
        The chunk shape and dtype, for the message.

    Raises
    ------
    StoreError
        When the stored sizes do not match one chunk (truncated, empty, foreign file, or
        array metadata edited after writing).
    """
    if compressed:
        # the Blosc frame header: uncompressed bytes at 4:8, frame bytes at 12:16
        decoded, frame = ((int.from_bytes(header[4:8], "little"),
                           int.from_bytes(header[12:16], "little"))
                          if len(header) >= 16 else (-1, -1))
        if decoded == nbytes and frame == size:
            return
    elif size == nbytes:
        return
    page = html_answer(where, header, size)
    if page is not None:
        raise page
    raise StoreError(
        f"chunk {where} is damaged: it holds {size} bytes that do not decode to one chunk "
        f"of {tuple(shape)} {np.dtype(dtype)} ({nbytes} bytes); the store was truncated or "
        "edited. Rebuild it (overwrite=True).")


def _file_id(path: str) -> tuple[int, int] | None:
    """``(device, inode)`` of a file, or None when it does not exist."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def blosc_for(codec: Any) -> Any:
    """The numcodecs Blosc that zarr's ``BloscCodec`` uses for this array (same fields)."""
    from numcodecs import Blosc

    shuffle = {"noshuffle": 0, "shuffle": 1, "bitshuffle": 2}[str(
        getattr(codec.shuffle, "name", codec.shuffle))]
    config = {"cname": str(getattr(codec.cname, "name", codec.cname)), "clevel": codec.clevel,
              "shuffle": shuffle, "blocksize": codec.blocksize}
    if codec.typesize is not None:
        config["typesize"] = codec.typesize
    return Blosc.from_config(config)


class _ChunkReader:
    """What :class:`DirectChunks` and :class:`RemoteChunks` share: the chunk layout of an
    accepted array (:func:`_readable`), the parsing of a shard's index and the decoding of
    one stored chunk."""

    def _init_layout(self, array: Any) -> None:
        self.metadata = array.metadata
        self.chunk_shape = tuple(int(c) for c in array.chunks)
        #: the stored dtype (bfloat16 chunks are widened to float32 as they are read)
        self.dtype = _native_dtype(array)
        #: what a chunk is decoded into (bfloat16: its bits, as Blosc takes no such buffer)
        self.decode_dtype = np.dtype(np.uint16) if is_bfloat16(self.dtype) else self.dtype
        self.fill_value = array.fill_value
        codecs = list(array.metadata.codecs)
        sharding = _sharding_codec(codecs)
        #: inner chunks per shard along the first axis (0: the array is not sharded)
        self.per_shard = 0
        if sharding is not None:
            self.per_shard = int(array.shards[0]) // self.chunk_shape[0]
            codecs = list(sharding.codecs)
        self.compressed = len(codecs) == 2
        self.blosc = blosc_for(codecs[1]) if self.compressed else None
        self.nbytes = int(np.prod(self.chunk_shape, dtype=np.int64)) * self.dtype.itemsize
        self._index: dict[int, np.ndarray | None] = {}

    def _parse_index(self, raw: bytes, data_bytes: int | None,
                     damaged: Callable[[str], StoreError]) -> np.ndarray:
        """A shard's ``(per_shard, 2)`` index from its last ``per_shard * 16 + 4`` bytes,
        CRC32C checked (and, given the bytes before the index, checked to point within
        them); ``damaged(why)`` makes the error."""
        size = self.per_shard * 16 + 4
        if len(raw) != size:
            raise damaged(f"its index is {len(raw)} bytes, not {size}")
        if not index_crc_ok(raw):
            raise damaged("its index fails its CRC32C checksum")
        index = np.frombuffer(raw[:-4], dtype="<u8").reshape(self.per_shard, 2)
        if data_bytes is not None:
            stored = index[:, 0] != _EMPTY
            if bool(np.any(stored & (index[:, 0] + index[:, 1] > data_bytes))):
                raise damaged("its index points past the end of the shard")
        return index

    def _keep_index(self, shard: int, index: np.ndarray | None) -> np.ndarray | None:
        if len(self._index) >= 65536:
            self._index.clear()
        self._index[shard] = index
        return index

    def _filled(self) -> np.ndarray:
        """A chunk of the fill value (a chunk not stored), as read."""
        out = np.empty(self.chunk_shape, dtype=self.dtype)
        out.fill(self.fill_value)
        return widen(out)

    def _decode(self, raw: bytes, where: Callable[[], str]) -> np.ndarray:
        """Decode one stored chunk (a bfloat16 one widened to float32). Its size (and
        Blosc frame header) is checked first, inline; ``where()`` names the chunk, built
        only for a message."""
        out = np.empty(self.chunk_shape, dtype=self.decode_dtype)
        self._decode_into(raw, out, where)
        return out if out.dtype == self.dtype else widen(out.view(self.dtype))

    def _decode_into(self, raw: bytes, out: np.ndarray, where: Callable[[], str]) -> None:
        """Decode one stored chunk into ``out`` (C-contiguous, of the chunk's shape and
        :attr:`decode_dtype`), after checking its size (and Blosc frame header)."""
        size = len(raw)
        if self.compressed:
            if size < 16 or int.from_bytes(raw[4:8], "little") != self.nbytes \
                    or int.from_bytes(raw[12:16], "little") != size:
                check_chunk_bytes(where(), raw[:16], size, self.nbytes, True,
                                  self.chunk_shape, self.dtype)
            try:
                _blosc().decompress(raw, out)
            except Exception as e:  # noqa: BLE001 - numcodecs raises RuntimeError
                raise StoreError(f"chunk {where()} is damaged: {e}. Rebuild the store "
                                 "(overwrite=True).") from e
        else:
            if size != self.nbytes:
                check_chunk_bytes(where(), raw[:16], size, self.nbytes, False,
                                  self.chunk_shape, self.dtype)
            out.reshape(-1).view(np.uint8)[:] = np.frombuffer(raw, dtype=np.uint8)


def _readable(array: Any) -> bool:
    """Whether the chunks of ``array`` are what the direct readers decode: zarr v3, a
    regular grid chunked along the first axis only, codecs ``bytes`` (little endian) then
    optionally ``blosc``, either as the array's codecs or inside a ``sharding_indexed``
    codec with zarr's default index, shards along the first axis only."""
    from zarr.codecs import BloscCodec, BytesCodec

    meta = array.metadata
    if getattr(meta, "zarr_format", 3) != 3 or regular_chunk_shape(meta) is None:
        return False
    if tuple(array.chunks[1:]) != tuple(array.shape[1:]):
        return False
    codecs = list(meta.codecs)
    sharding = _sharding_codec(codecs)
    if sharding is not None:
        if not _plain_index(sharding) or tuple(array.shards[1:]) != tuple(
                array.shape[1:]) or array.shards[0] % array.chunks[0]:
            return False
        codecs = list(sharding.codecs)
    if not codecs or not isinstance(codecs[0], BytesCodec):
        return False
    dtype = _native_dtype(array)
    endian = str(getattr(codecs[0].endian, "value", codecs[0].endian))
    if (dtype.kind not in "biuf" and not is_bfloat16(dtype)) or (
            dtype.itemsize > 1 and endian != "little"):
        return False
    return len(codecs) == 1 or (len(codecs) == 2 and isinstance(codecs[1], BloscCodec))


def _local_directory(array: Any) -> tuple[str, str] | None:
    """``(store root, array directory)`` of an array of a local directory store; None for
    any other store."""
    from zarr.storage import LocalStore

    store = _base_store(array)
    if not isinstance(store, LocalStore):
        return None
    root = str(store.root)
    return root, os.path.join(root, array.store_path.path)


def _base_store(array: Any) -> Any:
    """The store under genozarr's checked reading wrapper (and any other wrapper)."""
    from zarr.storage import WrapperStore

    store = array.store_path.store
    while isinstance(store, WrapperStore):
        store = store._store
    return store


class DirectChunks(_ChunkReader):
    """Reads the chunks of one zarr v3 array straight from a local directory store."""

    def __init__(self, directory: str, array: Any, root: str | None = None,
                 where: str | None = None, keep: Any = None, complete: bool = False,
                 inventory: Any = None) -> None:
        self.directory = directory
        #: the chunk files the store held when it was published
        #: (:class:`~genozarr.store.layout.ChunkInventory`; None: not recorded), and this
        #: array's path in it: a missing one is an error, not the fill value
        self.inventory = inventory
        self.path = str(getattr(array, "path", "") or "")
        #: the store's root directory and the identity of the completion marker it held
        #: when this reader was made (None: no marker, e.g. a store being written)
        self.root = root
        self.marker = os.path.join(root, MARKER_FILE) if root is not None else None
        self.marker_id = _file_id(self.marker) if self.marker is not None else None
        #: whether the store had its marker when it was opened (then a marker missing now,
        #: or another one, means the store was replaced or removed)
        self.expect_marker = self.marker is not None and (complete
                                                          or self.marker_id is not None)
        #: a root read by its path (not pinned by a descriptor) may be exchanged with a
        #: new version: the marker is then checked after every read
        self.by_path = root is not None and not root.startswith(_PINNED)
        #: the store path named in messages (chunk files under it)
        self.where = where
        self._keep = keep  # what keeps a pinned root's descriptor open
        if root is not None:
            check_not_linked(root, directory, where)
        self._init_layout(array)
        self._paths: dict[int, str] = {}
        #: folders :func:`write_chunks` made (or found) for chunk files
        self.folders: set[str] = set()
        #: open descriptors of shard files (read with ``os.pread`` under ``_fd_lock``)
        self._fds: OrderedDict[int, int] = OrderedDict()
        self._fd_lock = threading.Lock()
        self._pid = os.getpid()

    def __del__(self) -> None:
        if getattr(self, "_pid", None) == os.getpid():
            for fd in getattr(self, "_fds", {}).values():
                try:
                    os.close(fd)
                except OSError:
                    pass

    def _pread(self, shard: int, size: int, offset: int, index: int) -> bytes:
        """``size`` bytes at ``offset`` of shard file ``shard``, through a kept descriptor.

        Descriptors are opened, used and closed (when more than :func:`_fd_cap` are open)
        under one lock: a descriptor closed by one thread while another reads through it
        could be reused by the system for another shard file, and the read would return
        that file's bytes. A read of a few kB from the page cache takes microseconds, so
        the lock costs little; the decoding happens outside it."""
        with self._fd_lock:
            fd = self._fds.get(shard)
            if fd is None:
                _HOLDERS.add(self)
                fd = self._open_freeing(self.chunk_file(index), locked=True)
                self._fds[shard] = fd
                cap = _fd_cap()
                while len(self._fds) > cap:
                    _, old = self._fds.popitem(last=False)
                    os.close(old)
            else:
                self._fds.move_to_end(shard)
            return os.pread(fd, size, offset)

    def _open_freeing(self, path: str, *, locked: bool) -> int:
        """A descriptor of chunk file ``path`` (:func:`_open_chunk_file`); where the
        process has no descriptor left, the shard files this reader keeps open go first
        (``locked``: the caller holds ``_fd_lock``)."""
        try:
            return _open_chunk_file(path)
        except OSError as e:
            if e.errno != errno.EMFILE or not self._fds:
                raise
        if locked:
            self._close_fds()
        else:
            with self._fd_lock:
                self._close_fds()
        return _open_chunk_file(path)

    def _close_fds(self) -> None:
        """Close the shard files this reader keeps open (the caller holds ``_fd_lock``)."""
        while self._fds:
            _, fd = self._fds.popitem(last=False)
            try:
                os.close(fd)
            except OSError:
                pass

    @classmethod
    def for_array(cls, array: Any) -> DirectChunks | None:
        """A direct reader for ``array``, or None where the fast path does not apply."""
        if not _zarr_supported():
            return None
        try:
            local, outer = _local_directory(array), array.store_path.store
            if local is None or not _readable(array):
                return None
            root, directory = local
            where = getattr(outer, "where", None)
            if where is not None and not isinstance(where, str):
                where = None
            return cls(directory, array, root, where, outer,
                       bool(getattr(outer, "complete", False)),
                       getattr(outer, "inventory", None))
        except StoreError:  # (a folder of the store that is a link: refused)
            raise
        except Exception:  # noqa: BLE001 - any surprise: use zarr's own path
            return None

    def chunk_file(self, index: int) -> str:
        """Path of the file of chunk ``index`` along the first axis (in a sharded array:
        of the shard that holds inner chunk ``index``)."""
        if self.per_shard:
            index //= self.per_shard
        path = self._paths.get(index)
        if path is None:
            key = self.metadata.encode_chunk_key((index,) + (0,) * (len(self.chunk_shape) - 1))
            path = self._paths[index] = os.path.join(self.directory, key)
        return path

    def _label(self, path: str) -> str:
        """``path`` as named in messages: under the store path the user gave."""
        if self.where is None or self.root is None or not path.startswith(self.root):
            return path
        return self.where.rstrip("/") + path[len(self.root):]

    def check_alive(self, path: str) -> None:
        """Raise when the store this reader opened was replaced or removed since.

        Raises
        ------
        StoreError
            When the completion marker seen at open is gone or is another file.
        """
        if not self.expect_marker or self.marker is None:
            return
        if self.marker_id is None or _file_id(self.marker) != self.marker_id:
            raise StoreError(
                f"store {self.where or self.root} was replaced or removed while it was open "
                f"(reading {self._label(path)}). Reopen the store (genozarr.open_dataset, "
                "genozarr.open_store, load_store) to read the current version.")

    def _check_missing(self, path: str, outer: int) -> None:
        """Raise when chunk (shard) file ``outer``, found missing at ``path``, should be
        there: the store was replaced or removed since it was opened, or it was written
        when the store was published (lost since).

        Raises
        ------
        StoreError
            As :meth:`check_alive`, or naming the lost chunk file.
        """
        self.check_alive(path)
        if self.inventory is not None:
            self.inventory.check_present(self.path, outer, self._label(path))

    def _check_stray(self, path: str, outer: int) -> None:
        """Raise when chunk (shard) file ``outer``, found at ``path``, was not written when
        the store was published: the store was replaced since it was opened (a rebuild in
        place of a store read by path), else it is a file of another build.

        Raises
        ------
        StoreError
            As :meth:`check_alive`, or naming the file.
        """
        if self.inventory is not None and self.inventory.absent(self.path, outer):
            self.check_alive(path)
            self.inventory.check_not_absent(self.path, outer, self._label(path))

    def _damaged(self, path: str, why: str) -> StoreError:
        return StoreError(f"shard {self._label(path)} is damaged: {why}; the store was "
                          "truncated or edited. Rebuild it (overwrite=True).")

    def shard_index(self, shard: int) -> np.ndarray | None:
        """The ``(per_shard, 2)`` ``(offset, nbytes)`` index of shard ``shard`` (read once,
        CRC32C checked), or None when the shard file does not exist."""
        if shard in self._index:
            return self._index[shard]
        path = self.chunk_file(shard * self.per_shard)
        size = self.per_shard * 16 + 4
        try:
            with os.fdopen(self._open_freeing(path, locked=False), "rb") as f:
                total = f.seek(0, os.SEEK_END)
                if total < size:
                    raise self._damaged(path, f"{total} bytes, less than its index "
                                              f"({size} bytes)")
                f.seek(total - size)
                raw = f.read(size)
        except FileNotFoundError:
            self._check_missing(path, shard)
            index = None
        except StoreError:  # (an OSError too) the shard is damaged: said as it is
            raise
        except OSError as e:
            raise StoreError(f"cannot read chunk {self._label(path)}: {e.strerror or e}") from e
        else:
            self._check_stray(path, shard)
            index = self._parse_index(raw, total - size,
                                      lambda why: self._damaged(path, why))
        return self._keep_index(shard, index)

    def _raw(self, index: int) -> bytes | None:
        """The stored bytes of chunk ``index`` (None: not stored, the fill value)."""
        if self.per_shard:
            shard, j = divmod(index, self.per_shard)
            table = self._index.get(shard, _UNREAD)
            if table is _UNREAD:
                table = self.shard_index(shard)
            if table is None:
                return None
            offset, size = table[j].tolist()
            if offset == _EMPTY:
                return None
            try:
                return self._pread(shard, size, offset, index)
            except FileNotFoundError:
                path = self.chunk_file(index)
                self.check_alive(path)
                raise self._damaged(path, "it vanished while being read") from None
            except OSError as e:
                raise StoreError(f"cannot read chunk {self._label(self.chunk_file(index))}: "
                                 f"{e.strerror or e}") from e
        path = self.chunk_file(index)
        try:
            with os.fdopen(_open_chunk_file(path), "rb") as f:
                raw = f.read()
        except FileNotFoundError:  # never written (all fill value), or the store is gone
            self._check_missing(path, index)
            return None
        except OSError as e:
            raise StoreError(f"cannot read chunk {self._label(path)}: {e.strerror or e}") from e
        self._check_stray(path, index)
        return raw

    def _where(self, index: int) -> str:
        """Chunk ``index`` as named in messages."""
        where = self._label(self.chunk_file(index))
        return where + (f" (inner chunk {index % self.per_shard})" if self.per_shard else "")

    def read_many(self, indices: list[int]) -> list[np.ndarray]:
        """:meth:`read` of each of ``indices``: the stored bytes of all of them read first,
        then decoded one after another, so that a thread holds the GIL only briefly between
        two decodes (which release it), and the store is checked once for the group.

        Raises
        ------
        StoreError
            As :meth:`read`.
        """
        raws = [self._raw(index) for index in indices]
        if self.by_path and indices:
            self.check_alive(self.chunk_file(indices[0]))
        return [self._filled() if raw is None else
                self._decode(raw, lambda index=index: self._where(index))
                for index, raw in zip(indices, raws)]

    @property
    def gathers(self) -> bool:
        """Whether :meth:`gather` serves this array: chunks decoded straight into their
        dtype (not bfloat16, widened as it is read)."""
        return self.decode_dtype == self.dtype

    def gather(self, jobs: list[tuple[int, Any, Any]], out: np.ndarray,
               keep: list[tuple[int, np.ndarray]] | None = None) -> None:
        """Copy rows of chunks into ``out``, no chunk cache on the way: for each job
        ``(chunk id, rows of out, rows of the chunk)`` (each a slice or an index array),
        the chunk is read and decoded, straight into ``out`` when the job takes the whole
        chunk into consecutive rows (an inner chunk of one window, or the whole chunk of
        a batch in order), else into a scratch chunk the rows are copied from (with
        ``keep``, a new chunk appended to ``keep`` as ``(chunk id, chunk)``, for the
        caller to cache). Blosc releases the GIL while it decodes: threads gathering
        disjoint jobs into one ``out`` run in parallel, the Python work per chunk being
        a ranged read and two slicings. Only for arrays where :attr:`gathers` holds.

        Raises
        ------
        StoreError
            As :meth:`read`.
        """
        rows = self.chunk_shape[0]
        whole = slice(0, rows)
        scratch = None
        for cid, dst, src in jobs:
            raw = self._raw(cid)
            if raw is None:
                out[dst] = self.fill_value
                continue
            into = type(src) is slice and src == whole and type(dst) is slice
            if into:
                target = out[dst]
                into = target.flags.c_contiguous and len(target) == rows
            if not into:
                if keep is not None:
                    scratch = np.empty(self.chunk_shape, dtype=self.dtype)
                    keep.append((cid, scratch))
                elif scratch is None:
                    scratch = np.empty(self.chunk_shape, dtype=self.dtype)
                target = scratch
            self._decode_into(raw, target, lambda cid=cid: self._where(cid))
            if not into:
                out[dst] = scratch[src]
        if self.by_path and jobs:
            self.check_alive(self.chunk_file(jobs[0][0]))

    def read(self, index: int) -> np.ndarray:
        """Chunk ``index`` along the first axis, full chunk shape (the edge chunk too);
        in a sharded array, inner chunk ``index``. A bfloat16 chunk is returned as
        float32.

        Parameters
        ----------
        index
            Chunk (inner chunk) number along the first axis.

        Raises
        ------
        StoreError
            When the chunk file cannot be decoded to exactly one chunk of the array's dtype
            (truncated, empty, or metadata edited after writing), or when the chunk is
            missing because the store was replaced or removed after it was opened.
        """
        raw = self._raw(index)
        if raw is None:
            return self._filled()
        if self.by_path:
            self.check_alive(self.chunk_file(index))
        return self._decode(raw, lambda: self._where(index))


def kept_bytes() -> _ChunkCache:
    """The stored bytes a remote store keeps of the chunks read (:class:`RemoteChunks`),
    least recently read dropped first past :data:`FETCH_AHEAD_BYTES`; one per store,
    shared by the readers of its arrays. A chunk holding only the fill value is kept as
    :data:`_FILL` (the cache never holds None)."""
    return _ChunkCache(FETCH_AHEAD_BYTES, size=_stored_size)


def _stored_size(raw: Any) -> int:
    return 0 if raw is _FILL else len(raw)


#: a kept chunk that holds only the fill value (not stored)
_FILL: Any = object()


class RemoteChunks(_ChunkReader):
    """Reads the chunks of a zarr v3 array from a store that is not a local directory
    (HTTP, S3, GCS): whole chunk objects, or, in a sharded array, inner chunks by ranged
    requests (each shard's index read once, a suffix request, CRC32C checked), decoded as
    :class:`DirectChunks` does.

    Requests run on zarr's event loop, all in flight at once: :meth:`start` begins fetching
    the stored bytes of many chunks without waiting (read-ahead), :meth:`read` waits for a
    chunk's bytes (fetching it if nobody started to) and decodes them. A shard's wanted
    inner chunks that lie within :data:`_COALESCE_GAP` bytes of each other come in one
    ranged request, so a block of neighbouring windows costs one request per shard, as a
    whole unsharded chunk does. Fetches not read yet are bounded (:data:`FETCH_AHEAD_BYTES`
    of decoded size; the oldest are dropped past it), and the stored bytes of the chunks
    read are kept (in ``kept``, shared by the arrays of one store: :data:`FETCH_AHEAD_BYTES`
    of them, least recently read dropped first), as a local disk's page cache keeps a local
    store's: a chunk decoded again after the decoded-chunk cache dropped it costs no round
    trip. Accepted for the same arrays as :meth:`DirectChunks.for_array`, in any other
    store."""

    def __init__(self, array: Any, kept: _ChunkCache | None = None) -> None:
        self.store = array.store_path.store
        self.prefix = array.store_path.path
        self._init_layout(array)
        self.where = str(self.store)
        #: fetches started and not read yet: ``{chunk: future of {chunk: bytes or None}}``
        self._pending: OrderedDict[int, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.max_pending = max(16, FETCH_AHEAD_BYTES // max(self.nbytes, 1))
        #: stored bytes of the chunks read
        self.kept = kept if kept is not None else kept_bytes()
        #: seconds from asking for a chunk's bytes to having them (moving average)
        self.latency: float | None = None

    @classmethod
    def for_array(cls, array: Any, kept: _ChunkCache | None = None) -> RemoteChunks | None:
        """A reader for ``array``, or None where it does not apply (a local directory
        store, or an array :class:`DirectChunks` does not accept)."""
        if not _zarr_supported():
            return None
        try:
            if _local_directory(array) is not None or not _readable(array):
                return None
            return cls(array, kept)
        except Exception:  # noqa: BLE001 - any surprise: use zarr's own path
            return None

    @property
    def sharded(self) -> bool:
        return self.per_shard > 0

    def _key(self, outer: int) -> str:
        """The store key of chunk (unsharded) or shard (sharded) ``outer``."""
        key = self.metadata.encode_chunk_key((outer,) + (0,) * (len(self.chunk_shape) - 1))
        return f"{self.prefix}/{key}" if self.prefix else key

    async def _get(self, key: str, byte_range: Any = None) -> bytes | None:
        from zarr.core.buffer import default_buffer_prototype

        t = time.perf_counter()
        buf = await self.store.get(key, default_buffer_prototype(), byte_range)
        dt = time.perf_counter() - t
        self.latency = dt if self.latency is None else 0.8 * self.latency + 0.2 * dt
        return None if buf is None else buf.to_bytes()

    def _damaged(self, key: str, why: str) -> StoreError:
        return StoreError(f"shard {self.where}/{key} is damaged: {why}; the store was "
                          "truncated or edited. Rebuild it (overwrite=True).")

    async def _shard_index(self, shard: int) -> np.ndarray | None:
        """The ``(per_shard, 2)`` index of shard ``shard``, or None when it is not stored."""
        table = self._index.get(shard, _UNREAD)
        if table is not _UNREAD:
            return table  # type: ignore[return-value]
        from zarr.abc.store import SuffixByteRequest

        key = self._key(shard)
        raw = await self._get(key, SuffixByteRequest(self.per_shard * 16 + 4))
        index = None if raw is None else self._parse_index(
            raw, None, lambda why: self._damaged(key, why))
        return self._keep_index(shard, index)

    async def _fetch_chunk(self, index: int) -> dict[int, bytes | None]:
        return {index: await self._get(self._key(index))}

    async def _fetch_shard(self, shard: int, indices: list[int]) -> dict[int, bytes | None]:
        """The stored bytes of inner chunks ``indices`` of ``shard`` (None: fill value),
        neighbours coalesced into one ranged request."""
        import asyncio

        from zarr.abc.store import RangeByteRequest

        table = await self._shard_index(shard)
        got: dict[int, bytes | None] = dict.fromkeys(indices)
        if table is None:
            return got
        entries = sorted((*table[i - shard * self.per_shard].tolist(), i) for i in indices
                         if int(table[i - shard * self.per_shard, 0]) != _EMPTY)
        runs: list[list[tuple[int, int, int]]] = []
        for e in entries:
            if runs and e[0] - (runs[-1][-1][0] + runs[-1][-1][1]) <= _COALESCE_GAP:
                runs[-1].append(e)
            else:
                runs.append([e])
        key = self._key(shard)
        raws = await asyncio.gather(*(self._get(key, RangeByteRequest(
            run[0][0], run[-1][0] + run[-1][1])) for run in runs))
        for run, raw in zip(runs, raws):
            lo, hi = run[0][0], run[-1][0] + run[-1][1]
            if raw is None or len(raw) != hi - lo:
                raise self._damaged(key, f"bytes {lo} to {hi} could not be read")
            for offset, size, index in run:
                got[index] = raw[offset - lo:offset - lo + size]
        return got

    def _submit(self, indices: list[int]) -> dict[int, Any]:
        """Futures of the stored bytes of chunks ``indices``: one request per chunk, or
        one task per shard."""
        import asyncio

        from zarr.core.sync import _get_loop

        loop = _get_loop()
        if not self.sharded:
            return {i: asyncio.run_coroutine_threadsafe(self._fetch_chunk(i), loop)
                    for i in indices}
        by_shard: dict[int, list[int]] = {}
        for i in indices:
            by_shard.setdefault(i // self.per_shard, []).append(i)
        futures = {}
        for shard, ids in by_shard.items():
            fut = asyncio.run_coroutine_threadsafe(self._fetch_shard(shard, ids), loop)
            futures.update(dict.fromkeys(ids, fut))
        return futures

    def start(self, indices: list[int]) -> None:
        """Start fetching the stored bytes of chunks ``indices`` (those not fetched or in
        flight already) without waiting for them."""
        with self._lock:
            todo = [i for i in dict.fromkeys(indices)
                    if i not in self._pending and self.kept.wanted((self.prefix, i))]
            if not todo:
                return
            self._pending.update(self._submit(todo))
            while len(self._pending) > self.max_pending:  # dropped: fetched again if read
                self._pending.popitem(last=False)

    def clear(self) -> None:
        """Forget the fetched and kept bytes (the next reads fetch again)."""
        with self._lock:
            self._pending.clear()
        self.kept.clear()

    def _stored(self, index: int) -> bytes | None:
        """The stored bytes of chunk ``index`` (None: fill value): kept, or fetched (by
        :meth:`start` before, or now), then kept."""
        kept = self.kept.get((self.prefix, index))
        if kept is not None:
            return None if kept is _FILL else kept
        with self._lock:
            fut = self._pending.pop(index, None)
        if fut is None:
            fut = self._submit([index])[index]
        try:
            raw = fut.result()[index]
        except BaseException:
            # a shard's inner chunks share one fetch: forget it for all of them, so that
            # the next read of any of them asks again (a transient failure is not kept)
            with self._lock:
                for i in [i for i, f in self._pending.items() if f is fut]:
                    del self._pending[i]
            raise
        self.kept.put((self.prefix, index), _FILL if raw is None else raw)
        return raw

    def read(self, index: int) -> np.ndarray:
        """Chunk (inner chunk, when sharded) ``index`` along the first axis, full chunk
        shape; a bfloat16 chunk as float32.

        Raises
        ------
        StoreError
            When the shard's index or the chunk does not decode to one chunk, or the
            storage fails.
        """
        raw = self._stored(index)
        if raw is None:
            return self._filled()
        if self.sharded:
            shard, j = divmod(index, self.per_shard)
            key = self._key(shard)
            return self._decode(raw, lambda: f"{self.where}/{key} (inner chunk {j})")
        key = self._key(index)
        return self._decode(raw, lambda: f"{self.where}/{key}")


_UNREAD = object()


#: every how many values :func:`_only` looks first, before reading the whole chunk
_FILL_SAMPLE = 1021


def _only(chunk: np.ndarray, fill: Any) -> bool:
    """Whether ``chunk`` (C-contiguous) holds only ``fill``. A sample of its values is
    looked at first: a chunk with data is then known after a fraction of a pass."""
    flat = chunk.reshape(-1)
    for part in (flat[::_FILL_SAMPLE], flat):
        if (part.any() if fill == 0 else not bool((part == fill).all())):
            return False
    return True


def _blosc() -> Any:
    """numcodecs' blosc module (imported once)."""
    global _BLOSC
    if _BLOSC is None:
        from numcodecs import blosc

        _BLOSC = blosc
    return _BLOSC


_BLOSC: Any = None


#: the shard index entry of an inner chunk that is not stored
_EMPTY = 2**64 - 1


def _fd_budget() -> int:
    """Shard files all the readers of this process keep open together: a quarter of its
    limit on open files (256 under the common limit of 1024)."""
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, OSError, ValueError):  # pragma: no cover - no such limit
        return 256
    if soft == resource.RLIM_INFINITY:
        return 4096
    return max(64, soft // 4)


#: shard files all readers keep open together (:func:`_fd_cap` shares it out)
_FD_BUDGET = _fd_budget()
#: the readers that opened shard files (their number shares out :data:`_FD_BUDGET`)
_HOLDERS: weakref.WeakSet[Any] = weakref.WeakSet()


def _open_chunk_file(path: str) -> int:
    """A read-only descriptor of a chunk or shard file (or another file of a local store),
    refused unless it is a regular file and not a symbolic link: a FIFO in its place would
    block the read for ever, a link to ``/dev/zero`` read until memory ran out, a link to
    a file outside the store served that file's bytes (an edited or hostile store).
    Opened without blocking (a FIFO with no writer), which changes nothing for a regular
    file.

    Raises
    ------
    OSError
        As ``os.open`` (``FileNotFoundError`` for a missing file), and with ``EINVAL`` and
        the file's kind for anything but a regular file.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
                     | getattr(os, "O_NOFOLLOW", 0))
    except OSError as e:
        # (a store's files are its own: a link would serve another file's bytes, one
        # outside the store too, as the store's values)
        if e.errno == errno.ELOOP and os.path.islink(path):
            raise OSError(errno.EINVAL, "it is a symbolic link, not a file of the store",
                          path) from None
        raise
    try:
        mode = os.fstat(fd).st_mode
    except BaseException:
        os.close(fd)
        raise
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise OSError(errno.EINVAL, f"it is {file_kind(mode)}, not a regular file", path)
    return fd


def file_kind(mode: int) -> str:
    """What a file of ``stat`` mode ``mode`` that is not a regular file is, for messages
    (``"a FIFO"``, ``"a device"``, ``"a symbolic link"`` (of an ``lstat``)...).

    Parameters
    ----------
    mode
        ``st_mode`` of a ``stat`` or ``lstat``.

    Returns
    -------
    str
    """
    return "a symbolic link" if stat.S_ISLNK(mode) else "a FIFO" if stat.S_ISFIFO(mode) \
        else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a directory" \
        if stat.S_ISDIR(mode) else "a socket" if stat.S_ISSOCK(mode) else "not a file"


def read_local_file(path: str) -> bytes:
    """The bytes of a file of a local store (:func:`_open_chunk_file`'s checks).

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    bytes

    Raises
    ------
    OSError
        As :func:`_open_chunk_file`.
    """
    with os.fdopen(_open_chunk_file(path), "rb") as f:
        return f.read()


def check_not_linked(root: str, directory: str, where: str | None = None) -> None:
    """Raise where a folder between a store's ``root`` and an array's ``directory`` in it is
    a symbolic link: its chunk files would be another folder's (another store's, or any
    files), read as this store's.

    Raises
    ------
    StoreError
        Naming the folder.
    """
    rel = os.path.relpath(directory, root)
    if rel.startswith(".."):
        raise StoreError(f"{where or root}: the array folder {directory} lies outside the "
                         "store; the store was edited. Rebuild it")
    current = root
    for part in rel.split(os.sep):
        if part in ("", "."):
            continue
        current = os.path.join(current, part)
        if os.path.islink(current):
            label = "/".join(((where or root).rstrip("/"), os.path.relpath(current, root)))
            raise StoreError(f"{label} is a symbolic link, not a folder of the store: its "
                             "files would be read as the store's. Copy the store without "
                             "links (cp -rL) or rebuild it")


def _fd_cap() -> int:
    """Shard files one reader may keep open now: :data:`_FD_BUDGET` shared by the readers
    holding some, from 8 to 256 each (a fully random read of a store of more shards than
    its reader keeps opens and closes a file per inner chunk)."""
    return max(8, min(256, _FD_BUDGET // max(1, len(_HOLDERS))))


#: inner chunks of one shard at most this many bytes apart are fetched in one request
_COALESCE_GAP = 256 * 2**10
#: decoded bytes of the chunks a remote reader fetches ahead and keeps until they are read,
#: and stored bytes of the chunks read that a remote store keeps (see :class:`RemoteChunks`)
FETCH_AHEAD_BYTES = 256 * 2**20


def _sharding_codec(codecs: list[Any]) -> Any:
    """The array's ``sharding_indexed`` codec, or None."""
    from zarr.codecs import ShardingCodec

    return codecs[0] if len(codecs) == 1 and isinstance(codecs[0], ShardingCodec) else None


def _plain_index(sharding: Any) -> bool:
    """Whether a sharding codec keeps zarr's default index: ``bytes`` little endian then
    ``crc32c``, at the end of the shard (what :class:`DirectChunks` reads)."""
    from zarr.codecs import BytesCodec, Crc32cCodec

    index = list(sharding.index_codecs)
    location = str(getattr(sharding.index_location, "value", sharding.index_location))
    return (location == "end" and len(index) == 2 and isinstance(index[0], BytesCodec)
            and str(getattr(index[0].endian, "value", index[0].endian)) == "little"
            and isinstance(index[1], Crc32cCodec))


def write_chunks(arr: Any, start: int, values: np.ndarray, *, fsync: bool = False,
                 direct: DirectChunks | None = None, written: list[str] | None = None) -> bool:
    """Encode and write the chunks of a chunk-aligned block straight into a local store.

    The ingest hot path: zarr's write path (event loop hops, buffer wrapping, a per-chunk
    emptiness test) costs about as much CPU as the compression itself. Applies where
    :meth:`DirectChunks.for_array` does, for a block that starts on a chunk (in a sharded
    array: shard) boundary and ends on one or at the end of the array. Chunks that hold
    only the fill value are not written (they read back as the fill value, as zarr's
    ``write_empty_chunks=False``); a shard holds its stored inner chunks back to back, then
    their index and its CRC32C, as zarr's ``sharding_indexed`` codec writes them.

    Parameters
    ----------
    arr
        The zarr array.
    start
        First-axis offset of ``values``.
    values
        The block.
    fsync
        Flush every chunk file to disk before returning.
    direct
        The array's direct reader/writer, when the caller keeps one
        (:meth:`DirectChunks.for_array`); None makes one.
    written
        A list the path of every file written is appended to.

    Returns
    -------
    bool
        False where the fast path does not apply (the caller writes through zarr).
    """
    if direct is None:
        direct = DirectChunks.for_array(arr)
    if direct is None:
        return False
    if not os.path.isdir(direct.directory):  # (making its folders would make it again)
        raise StoreError(f"the array {direct.directory} is gone (the build writing it was "
                         "stopped), so nothing is written there")
    # its folder exists: never made again below, so a build stopped (its temporary store
    # removed) while this block is encoded gets an error here, not a folder made anew
    direct.folders.add(direct.directory)
    clen = direct.chunk_shape[0]
    unit = clen * direct.per_shard if direct.per_shard else clen  # rows per file
    stop = start + len(values)
    if start % unit or (stop % unit and stop != arr.shape[0]):
        return False
    if values.shape[1:] != tuple(arr.shape[1:]):
        return False
    values = np.ascontiguousarray(values, dtype=direct.dtype)
    fill = direct.fill_value

    def encode(i0: int) -> bytes | None:
        """The stored bytes of the chunk starting at row ``i0`` (None: fill value only)."""
        chunk = values[i0 - start:i0 - start + clen]
        if _only(chunk, fill):
            return None
        if len(chunk) < clen:  # the edge chunk is stored at full size, padded with fill
            full = np.full(direct.chunk_shape, fill, dtype=direct.dtype)
            full[:len(chunk)] = chunk
            chunk = full
        raw = chunk.reshape(-1).view(np.uint8)
        return direct.blosc.encode(raw) if direct.blosc is not None else raw.tobytes()

    def shard(f0: int) -> Iterator[bytes] | None:
        """The stored bytes of the shard starting at row ``f0``, inner chunk by inner
        chunk as each is encoded, then the index and its CRC32C (None: no inner chunk
        is stored)."""
        encoded = ((j, encode(i0)) for j, i0 in enumerate(range(f0, min(f0 + unit, stop),
                                                                  clen)))
        first = next(((j, data) for j, data in encoded if data is not None), None)
        if first is None:
            return None

        def pieces() -> Iterator[bytes]:
            import google_crc32c

            index = np.full((direct.per_shard, 2), _EMPTY, dtype="<u8")
            offset = 0
            for j, data in itertools.chain([first], encoded):
                if data is not None:
                    index[j] = (offset, len(data))
                    offset += len(data)
                    yield data
            table = index.tobytes()
            yield table
            yield int(google_crc32c.value(table)).to_bytes(4, "little")

        return pieces()

    for f0 in range(start, stop, unit):
        # a shard is written as its inner chunks are encoded: one compressed chunk is
        # held at a time besides the block, not the whole shard twice (parts, joined)
        blob = shard(f0) if direct.per_shard else encode(f0)
        if blob is None:
            continue
        target = direct.chunk_file(f0 // clen)
        write_file(target, blob, direct.folders, fsync=fsync)  # flat keys: one folder
        if written is not None:
            written.append(target)
    return True


def write_file(target: str, data: Any, made: set[str], *, fsync: bool = False) -> None:
    """Write ``data`` as the file ``target``: a bytes-like object, or an iterator of them
    written one after the other as they come (a generator's are never all held). Creates
    the folder first unless it is in ``made`` (the folders made so far, which this
    updates); ``fsync``: flush the file to disk."""
    folder = os.path.dirname(target)
    if folder not in made:
        os.makedirs(folder, exist_ok=True)
        made.add(folder)
    with open(target, "wb") as f:
        if isinstance(data, Iterator):
            f.writelines(data)
        else:
            f.write(data)
        if fsync:
            f.flush()
            os.fsync(f.fileno())


def _string_codecs(arr: Any, memory: bool = False) -> tuple[str | None, Any, int] | None:
    """``(directory, numcodecs Zstd or None, chunk length)`` of a local 1-D string array
    whose codecs are exactly ``vlen-utf8`` then optionally ``zstd`` on a regular grid (what
    :func:`write_strings` and :func:`read_strings` handle); else None. With ``memory``,
    such an array of a zarr ``MemoryStore`` qualifies too (its directory is None)."""
    if not _zarr_supported():
        return None
    try:
        from numcodecs import Zstd
        from zarr.codecs import VLenUTF8Codec, ZstdCodec
        from zarr.storage import MemoryStore

        local = _local_directory(arr)
        if local is None and not (memory and isinstance(_base_store(arr), MemoryStore)):
            return None
        meta = arr.metadata
        codecs = list(meta.codecs)
        grid = regular_chunk_shape(meta)
        if (len(arr.shape) != 1 or grid is None or not codecs
                or not isinstance(codecs[0], VLenUTF8Codec) or len(codecs) > 2
                or (len(codecs) == 2 and not isinstance(codecs[1], ZstdCodec))):
            return None
        zstd = (Zstd(level=codecs[1].level, checksum=codecs[1].checksum)
                if len(codecs) == 2 else None)
        return None if local is None else local[1], zstd, grid[0]
    except Exception:  # noqa: BLE001 - any surprise: use zarr's own path
        return None


def read_strings(arr: Any) -> np.ndarray | None:
    """A whole 1-D string array of a local store as an object array of ``str``, read
    straight from its chunk files (the inverse of :func:`write_strings`; zarr's own read
    makes a ``StringDType`` array that then costs a conversion per element: 0.2 s for the
    chromosome names and strands of the 400,000 windows of a 400 Mb genome in 1 kb
    windows, 0.09 s here).

    Parameters
    ----------
    arr
        The zarr array.

    Returns
    -------
    numpy.ndarray or None
        The values; None where this does not apply (the caller reads through zarr).
    """
    layout = _string_codecs(arr)
    if layout is None:
        return None
    from numcodecs import VLenUTF8

    directory, zstd, clen = layout
    n = int(arr.shape[0])
    fill = str(arr.metadata.fill_value)
    vlen = VLenUTF8()
    out = np.empty(n, dtype=object)
    outer = arr.store_path.store
    inventory, where = getattr(outer, "inventory", None), getattr(outer, "where", None)
    for i, c0 in enumerate(range(0, n, clen)):
        key = arr.metadata.encode_chunk_key((i,))
        target = os.path.join(directory, key)
        if isinstance(where, str) and where:  # named under the store path the user gave
            target = "/".join((where.rstrip("/"), str(arr.path), key))
        try:
            data = read_local_file(os.path.join(directory, key))
        except FileNotFoundError:
            if inventory is not None:
                inventory.check_present(str(arr.path), i, target)
            out[c0:c0 + clen] = fill
            continue
        except OSError as e:
            raise StoreError(f"cannot read chunk {target}: {e.strerror or e}") from e
        if inventory is not None:
            inventory.check_not_absent(str(arr.path), i, target)
        try:
            values = vlen.decode(zstd.decode(data) if zstd is not None else data)
        except (ValueError, RuntimeError, TypeError, MemoryError) as e:
            raise StoreError(f"chunk {target} is damaged ({e}); rebuild the store "
                             "(overwrite=True)") from e
        if len(values) != clen:
            raise StoreError(f"chunk {target} is damaged: it holds {len(values)} strings, "
                             f"not {clen}; rebuild the store (overwrite=True)")
        out[c0:c0 + clen] = values[:n - c0]
    return out


def write_strings(arr: Any, values: np.ndarray) -> bool:
    """Write a whole 1-D string array straight into a local store, chunk by chunk.

    zarr 3 holds a string chunk as a numpy ``StringDType`` array, and encoding that with
    numcodecs' ``VLenUTF8`` makes a new Python string of every element: writing the
    400,000 window chromosome names of a 400 Mb genome tiled in 1 kb windows took 0.1 s.
    Here the same numcodecs codecs (``VLenUTF8``, then ``Zstd`` with the array's settings)
    encode the object array of ``str`` the caller holds, 3x faster, into the same bytes
    zarr writes (``tests/test_store.py`` compares the files). Applies to an array of a
    local store or of a zarr ``MemoryStore`` (where a new store's metadata is assembled) on
    a regular grid whose codecs are exactly ``vlen-utf8`` then optionally ``zstd`` (what
    zarr chooses for strings); chunks holding only the fill value are not written, as
    zarr's ``write_empty_chunks=False``.

    Parameters
    ----------
    arr
        The zarr array, just created (nothing written yet).
    values
        All its values: a 1-D object array of ``str``.

    Returns
    -------
    bool
        False where this does not apply (the caller writes through zarr).
    """
    layout = _string_codecs(arr, memory=True) if values.dtype == object else None
    if layout is None or arr.shape != values.shape:
        return False
    from numcodecs import VLenUTF8

    directory, zstd, clen = layout
    if directory is None:  # a MemoryStore: its dict holds zarr buffers by key
        from zarr.core.buffer import default_buffer_prototype

        entries = getattr(_base_store(arr), "_store_dict", None)
        if not isinstance(entries, MutableMapping):
            return False
        wrap = default_buffer_prototype().buffer.from_bytes
    fill = str(arr.metadata.fill_value)
    vlen = VLenUTF8()
    made: set[str] = set()
    for i, c0 in enumerate(range(0, len(values), clen)):
        chunk = values[c0:c0 + clen]
        if len(chunk) < clen:  # the edge chunk is stored at full size, padded with fill
            chunk = np.concatenate([chunk, np.full(clen - len(chunk), fill, dtype=object)])
        if chunk.tolist().count(fill) == clen:
            continue
        data = vlen.encode(chunk)
        if zstd is not None:
            data = zstd.encode(data)
        if directory is None:
            entries[f"{arr.store_path.path}/{arr.metadata.encode_chunk_key((i,))}"] = wrap(data)
            continue
        write_file(os.path.join(directory, arr.metadata.encode_chunk_key((i,))), data, made)
    return True

"""Array backends: where a store's arrays live and how rows are read back.

``storage='ndarray'`` keeps numpy arrays in memory, ``'sparse'`` keeps scipy CSR matrices
(one row per first-axis entry, densified per read), ``'zarr'`` reads a zarr v3 store on
disk or object storage, decoding whole chunks and keeping the recently decoded ones in a
bounded cache (the serving path never builds a dask graph).

Every backend answers the same two calls: ``read_rows(name, rows)`` (first-axis fancy
indexing, used by the partial layout) and ``read_range(name, start, stop)`` (a contiguous
first-axis range, used by the whole-genome layout), plus ``shape(name)``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import numpy as np

from genozarr.errors import ArgumentError

__all__ = ["Backend", "MemoryBackend", "SparseBackend", "ZarrBackend", "STORAGES",
           "normalise_storage"]

STORAGES = ("ndarray", "sparse", "zarr")


def normalise_storage(storage: str) -> str:
    """Validate ``storage``; Janggu's ``'hdf5'`` maps to ``'zarr'`` with a warning."""
    if storage == "hdf5":
        from genozarr.errors import warn

        warn("storage='hdf5' is Janggu's name for out-of-core storage; genozarr uses 'zarr'")
        return "zarr"
    if storage not in STORAGES:
        raise ArgumentError(f"storage must be one of {STORAGES} (or 'hdf5'), got {storage!r}")
    return storage


class Backend:
    """Interface of array backends."""

    storage: str = ""

    def names(self) -> list[str]:
        raise NotImplementedError  # pragma: no cover - interface

    def shape(self, name: str) -> tuple[int, ...]:
        raise NotImplementedError  # pragma: no cover - interface

    def read_rows(self, name: str, rows: np.ndarray) -> np.ndarray:
        raise NotImplementedError  # pragma: no cover - interface

    def read_range(self, name: str, start: int, stop: int) -> np.ndarray:
        return self.read_rows(name, np.arange(start, stop))

    def dense(self, name: str) -> np.ndarray:
        """The whole array as numpy (tests and small stores)."""
        return self.read_range(name, 0, self.shape(name)[0])


class MemoryBackend(Backend):
    """Numpy arrays in memory (``storage='ndarray'``)."""

    storage = "ndarray"

    def __init__(self, arrays: Mapping[str, np.ndarray]) -> None:
        self.arrays = dict(arrays)

    def names(self) -> list[str]:
        return list(self.arrays)

    def shape(self, name: str) -> tuple[int, ...]:
        return self.arrays[name].shape

    def read_rows(self, name: str, rows: np.ndarray) -> np.ndarray:
        return self.arrays[name][rows]

    def read_range(self, name: str, start: int, stop: int) -> np.ndarray:
        return self.arrays[name][start:stop]


class SparseBackend(Backend):
    """scipy CSR matrices of shape ``(first axis, product of the rest)``; every value is
    kept (Janggu dropped values <= 0), rows are densified on read."""

    storage = "sparse"

    def __init__(self, arrays: Mapping[str, np.ndarray]) -> None:
        from scipy import sparse

        self.shapes = {k: v.shape for k, v in arrays.items()}
        self.dtypes = {k: v.dtype for k, v in arrays.items()}
        self.matrices = {
            k: sparse.csr_matrix(v.reshape(v.shape[0], -1)) for k, v in arrays.items()
        }

    def names(self) -> list[str]:
        return list(self.matrices)

    def shape(self, name: str) -> tuple[int, ...]:
        return self.shapes[name]

    def read_rows(self, name: str, rows: np.ndarray) -> np.ndarray:
        m = self.matrices[name][np.asarray(rows)]
        return m.toarray().astype(self.dtypes[name], copy=False).reshape(
            (len(rows),) + self.shapes[name][1:])

    def read_range(self, name: str, start: int, stop: int) -> np.ndarray:
        m = self.matrices[name][start:stop]
        return m.toarray().astype(self.dtypes[name], copy=False).reshape(
            (m.shape[0],) + self.shapes[name][1:])


class _ChunkCache:
    """A byte-bounded LRU of decoded chunks with hit/miss counters (thread-safe)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.nbytes = 0
        self.hits = 0
        self.misses = 0
        self._data: OrderedDict[Any, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> np.ndarray | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
                self.hits += 1
            else:
                self.misses += 1
            return value

    def put(self, key: Any, value: np.ndarray) -> None:
        if value.nbytes > self.max_bytes:
            return
        with self._lock:
            if key in self._data:
                return
            self._data[key] = value
            self.nbytes += value.nbytes
            while self.nbytes > self.max_bytes and self._data:
                _, old = self._data.popitem(last=False)
                self.nbytes -= old.nbytes


class ZarrBackend(Backend):
    """Arrays of a zarr v3 store, read chunk by chunk with a decoded-chunk cache.

    Pickles as its URL and options, so each DataLoader or dask worker reopens the store.

    Parameters
    ----------
    path
        Local directory or fsspec URL of the store.
    storage_options
        fsspec options for remote URLs.
    cache_bytes
        Bytes of decoded chunks kept (default: ``set_options(chunk_cache_bytes=...)``).
    """

    storage = "zarr"

    def __init__(self, path: str, storage_options: dict[str, Any] | None = None,
                 cache_bytes: int | None = None) -> None:
        self.path = str(path)
        self.storage_options = storage_options
        if cache_bytes is None:
            from genozarr.config import OPTIONS

            cache_bytes = OPTIONS["chunk_cache_bytes"]
        self.cache_bytes = cache_bytes
        self._reset()

    def _reset(self) -> None:
        self._group: Any = None
        self._arrays: dict[str, Any] = {}
        self.cache = _ChunkCache(self.cache_bytes)

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "storage_options": self.storage_options,
                "cache_bytes": self.cache_bytes}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._reset()

    @property
    def group(self) -> Any:
        if self._group is None:
            from genozarr.store.open import open_group

            self._group = open_group(self.path, mode="r", storage_options=self.storage_options)
        return self._group

    def array(self, name: str) -> Any:
        arr = self._arrays.get(name)
        if arr is None:
            arr = self._arrays[name] = self.group[name]
        return arr

    def names(self) -> list[str]:
        return [k for k, _ in self.group.arrays()]

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self.array(name).shape)

    def _chunk(self, name: str, index: int) -> np.ndarray:
        key = (name, index)
        block = self.cache.get(key)
        if block is None:
            arr = self.array(name)
            size = arr.chunks[0]
            block = arr[index * size:min((index + 1) * size, arr.shape[0])]
            self.cache.put(key, block)
        return block

    def read_rows(self, name: str, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        arr = self.array(name)
        size = arr.chunks[0]
        out = np.empty((len(rows),) + tuple(arr.shape[1:]), dtype=arr.dtype)
        chunk_ids = rows // size
        order = np.argsort(chunk_ids, kind="stable")
        sorted_ids = chunk_ids[order]
        bounds = np.flatnonzero(np.diff(sorted_ids)) + 1
        for group in np.split(order, bounds):
            if len(group) == 0:
                continue
            cid = int(chunk_ids[group[0]])
            block = self._chunk(name, cid)
            out[group] = block[rows[group] - cid * size]
        return out

    def read_range(self, name: str, start: int, stop: int) -> np.ndarray:
        arr = self.array(name)
        size = arr.chunks[0]
        start, stop = max(0, start), min(stop, arr.shape[0])
        if stop <= start:
            return np.empty((0,) + tuple(arr.shape[1:]), dtype=arr.dtype)
        first, last = start // size, (stop - 1) // size
        if first == last:
            block = self._chunk(name, first)
            return block[start - first * size:stop - first * size]
        parts = [self._chunk(name, c) for c in range(first, last + 1)]
        joined = np.concatenate(parts, axis=0)
        return joined[start - first * size:stop - first * size]

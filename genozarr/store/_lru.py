"""A byte-bounded, thread-safe LRU cache: the decoded-chunk cache of the zarr backend and
the stored bytes a remote store keeps."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any


def _nbytes(value: Any) -> int:
    return int(value.nbytes)


class _ChunkCache:
    """A byte-bounded LRU with hit/miss counters (thread-safe): of decoded chunks (numpy
    arrays, sized by ``nbytes``), or, with another ``size``, of other values (a remote
    store's stored bytes). None is never a value: it means "not cached".

    :meth:`get_or_load` decodes a missing chunk once even when several threads ask for it
    at the same time (the others wait for the first one)."""

    def __init__(self, max_bytes: int, size: Callable[[Any], int] = _nbytes) -> None:
        self.max_bytes = max_bytes
        self.size = size
        self.nbytes = 0
        self.hits = 0
        self.misses = 0
        self._data: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[Any, threading.Event] = {}

    def _hit_locked(self, key: Any) -> Any:
        """The cached value of ``key`` made the most recent and counted as a hit, or None
        (the caller holds the lock)."""
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
            self.hits += 1
        return value

    def get(self, key: Any) -> Any:
        with self._lock:
            value = self._hit_locked(key)
            if value is None:
                self.misses += 1
            return value

    def put(self, key: Any, value: Any) -> None:
        if self.size(value) > self.max_bytes:
            return
        with self._lock:
            self._put_locked(key, value)

    def put_many(self, items: list[tuple[Any, Any]]) -> None:
        """:meth:`put` of each ``(key, value)`` of ``items``, under one acquisition of the
        lock (each counted as a miss: it was loaded)."""
        if not items:
            return
        with self._lock:
            self.misses += len(items)
            for key, value in items:
                self._put_locked(key, value)

    def _put_locked(self, key: Any, value: Any) -> None:
        if self.size(value) > self.max_bytes or key in self._data:
            return
        self._data[key] = value
        self.nbytes += self.size(value)
        while self.nbytes > self.max_bytes and self._data:
            _, old = self._data.popitem(last=False)
            self.nbytes -= self.size(old)

    def clear(self) -> None:
        """Drop every value (the counters stay)."""
        with self._lock:
            self._data.clear()
            self.nbytes = 0

    def get_cached(self, keys: list[Any]) -> list[Any]:
        """The cached values of ``keys`` (None where not cached), looked up under one
        acquisition of the lock (each found value counts as a hit and becomes the most
        recent)."""
        with self._lock:
            return [self._hit_locked(key) for key in keys]

    def wanted(self, key: Any) -> bool:
        """Whether ``key`` is neither cached nor being loaded."""
        with self._lock:
            return key not in self._data and key not in self._loading

    def get_or_load_many(self, keys: list[Any],
                         load_many: Callable[[list[Any]], list[Any]]) -> list[Any]:
        """The values of ``keys`` (distinct), as :meth:`get_or_load` gives them one by one,
        but with one acquisition of the lock to look them up and one to cache the loaded
        ones, and the missing ones loaded together by ``load_many(missing keys)`` (a list
        of their values, in order). A key another thread is loading is waited for, not
        loaded again."""
        values: list[Any] = [None] * len(keys)
        mine: list[int] = []
        theirs: list[tuple[int, threading.Event]] = []
        with self._lock:
            for i, key in enumerate(keys):
                value = self._hit_locked(key)
                if value is not None:
                    values[i] = value
                    continue
                event = self._loading.get(key)
                if event is None:
                    self.misses += 1
                    self._loading[key] = threading.Event()
                    mine.append(i)
                else:
                    theirs.append((i, event))
        if mine:
            try:
                loaded = load_many([keys[i] for i in mine])
                with self._lock:
                    for i, value in zip(mine, loaded):
                        values[i] = value
                        self._put_locked(keys[i], value)
            finally:
                with self._lock:
                    events = [self._loading.pop(keys[i]) for i in mine]
                for event in events:
                    event.set()
        for i, event in theirs:  # loaded by another thread (or loaded here if it failed)
            event.wait()
            values[i] = self.get_or_load(keys[i], lambda k=keys[i]: load_many([k])[0])
        return values

    def get_or_load(self, key: Any, load: Callable[[], Any]) -> Any:
        """The cached value of ``key``, or ``load()`` (cached), loading it only once."""
        while True:
            with self._lock:
                value = self._hit_locked(key)
                if value is not None:
                    return value
                event = self._loading.get(key)
                if event is None:
                    self.misses += 1
                    event = self._loading[key] = threading.Event()
                    break
            event.wait()
            with self._lock:
                value = self._data.get(key)
            if value is not None or self.max_bytes == 0:
                if value is not None:
                    return value
                return load()  # nothing is cached: load our own copy
        try:
            value = load()
            with self._lock:
                self._put_locked(key, value)
            return value
        finally:
            with self._lock:
                del self._loading[key]
            event.set()

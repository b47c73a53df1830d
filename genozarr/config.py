"""Output root and validated global options.

The output root (where stores and caches go unless ``store=`` says otherwise) is
``$GENOZARR_OUTPUT``, then Janggu's ``$JANGGU_OUTPUT``, else ``~/genozarr_results``.

Options are set with :func:`set_options`, globally or as a context manager, as in
``xarray.set_options``::

    with genozarr.set_options(scheduler="processes", progress=False):
        cover = Cover.create_from_bigwig(...)
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from genozarr.errors import ArgumentError

__all__ = ["output_dir", "set_options", "get_options", "OPTIONS"]

#: the process that imported this module: another one (os.getpid() differs) is a fork of
#: it (directly, or of a fork server), which inherited the options of the process it was
#: forked from (a spawned process imports anew)
IMPORT_PID = os.getpid()

_SCHEDULERS = ("auto", "sync", "threads", "processes", "distributed")

OPTIONS: dict[str, Any] = {
    # how ingest tasks run: 'auto' uses an active dask.distributed Client if there is one,
    # else the processes scheduler for large jobs and the synchronous one for small ones
    "scheduler": "auto",
    # number of worker processes for the local processes scheduler (None: the CPUs this
    # process may use, available_cpus())
    "num_workers": None,
    # tqdm.auto bars (ingest, normalizer fitting, export): True, False or 'auto' (when
    # stderr is a terminal, or in a notebook)
    "progress": "auto",
    # target decoded size of one zarr chunk in bytes (1-4 MiB: a window of every track is one read)
    "chunk_bytes": 2 * 2**20,
    # decoded size of the inner chunks of a sharded store (None: not sharded). With a size,
    # every chunk of ``chunk_bytes`` is a zarr v3 shard of inner chunks of about this size,
    # read one by one: a random window costs one inner chunk's decode, not a whole chunk's
    "inner_chunk_bytes": None,
    # whole-genome stores without inner_chunk_bytes: up to this many chunks of a chromosome
    # are kept in one file, a zarr v3 shard (1: one file per chunk). Fewer files to create,
    # flush and fetch; each chunk is still read on its own
    "shard_chunks": 8,
    # Blosc codec for new stores
    "compressor": "zstd",
    "compression_level": 1,
    # bytes of decoded chunks kept per open zarr store (all its arrays together) on the
    # serving path
    "chunk_cache_bytes": 256 * 2**20,
    # zarr stores are kept decoded in memory as they are read (later epochs decode nothing)
    # while their decoded arrays fit in this many bytes, all of a process's stores together,
    # divided among the processes serving side by side (None: a quarter of the memory the
    # process can use: physical memory, or less under a cgroup or ulimit cap; 0: never)
    "memory_cache_bytes": None,
    # threads decoding the chunks of a local store on the serving path (None: the cores
    # shared out among the processes serving side by side, at most 4 each; in each of N
    # PyTorch DataLoader workers cores // N)
    "decode_threads": None,
    # 'auto' scheduler switches to processes above this many bases of work
    "parallel_threshold_bases": 20_000_000,
    # seconds one read of a remote store (a chunk, a shard's part, a metadata document) may
    # take before it is a StoreError (None: only the storage client's own limits: aiohttp's
    # 5 minutes per HTTP request, botocore's 60 s per attempt with retries)
    "remote_timeout": None,
}

#: the options as shipped (``set_options`` changes ``OPTIONS``, never this)
DEFAULTS: dict[str, Any] = dict(OPTIONS)

#: options that decide how a new store is laid out on disk (not its values)
LAYOUT_OPTIONS = ("chunk_bytes", "inner_chunk_bytes", "shard_chunks", "compressor",
                  "compression_level")


def layout_choices() -> dict[str, Any]:
    """The store layout options set to other values than the defaults (part of a store's
    cache key, so that asking for another layout builds it rather than reusing a store
    laid out otherwise); inside :func:`pinned_layout`, those pinned."""
    return {k: layout_option(k) for k in LAYOUT_OPTIONS if layout_option(k) != DEFAULTS[k]}


#: the layout options a build in this thread keeps to (pinned_layout)
_PINNED = threading.local()


def layout_option(key: str) -> Any:
    """The value of layout option ``key`` (one of :data:`LAYOUT_OPTIONS`) for a store laid
    out now in this thread: the one :func:`pinned_layout` took, else the option's.

    Parameters
    ----------
    key
        The option.

    Returns
    -------
    Any
        Its value.
    """
    pinned = getattr(_PINNED, "values", None)
    return pinned[key] if pinned is not None and key in pinned else OPTIONS[key]


@contextlib.contextmanager
def pinned_layout() -> Iterator[dict[str, Any]]:
    """Keep the layout options as they are now for what this thread lays out in the block
    (nested blocks keep the outermost's): a build keys its store by them, then lays it out
    by them, even where another thread's ``set_options`` block begins or ends meanwhile
    (its store was laid out with that block's chunking and codec under the default's key,
    and reused as the default's for good, an audit).

    Yields
    ------
    dict
        The pinned values.
    """
    before = getattr(_PINNED, "values", None)
    if before is None:
        _PINNED.values = {k: OPTIONS[k] for k in LAYOUT_OPTIONS}
    try:
        yield _PINNED.values
    finally:
        _PINNED.values = before


def pins_layout(func: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``func`` inside :func:`pinned_layout` (a build: its key and its layout from one
    reading of the options)."""

    @functools.wraps(func)
    def pinned(*args: Any, **kwargs: Any) -> Any:
        with pinned_layout():
            return func(*args, **kwargs)

    return pinned


def _float(v: Any) -> bool:
    """A float (numpy's too)."""
    import numpy as np

    return isinstance(v, (float, np.floating))


def _int(v: Any) -> bool:
    """An int (numpy's integers too: sizes worked out with numpy), not a bool (True would
    pass as 1: compression_level=True wrote ``"clevel": true`` into zarr.json,
    inner_chunk_bytes=True inner chunks of one row)."""
    import numpy as np

    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


_VALIDATORS: dict[str, Any] = {
    "scheduler": lambda v: v in _SCHEDULERS,
    # (a process pool's size must fit a C int, and more processes than this is a mistake)
    "num_workers": lambda v: v is None or (_int(v) and 0 < v <= 2**15),
    "progress": lambda v: v in (True, False, "auto"),
    "chunk_bytes": lambda v: _int(v) and v >= 4096,
    "inner_chunk_bytes": lambda v: v is None or (_int(v) and v >= 1),
    "shard_chunks": lambda v: _int(v) and v >= 1,
    "compressor": lambda v: v in ("zstd", "lz4", "lz4hc", "zlib", "blosclz", None),
    "compression_level": lambda v: _int(v) and 0 <= v <= 9,
    "chunk_cache_bytes": lambda v: _int(v) and v >= 0,
    "memory_cache_bytes": lambda v: v is None or (_int(v) and v >= 0),
    "decode_threads": lambda v: v is None or (_int(v) and v >= 1),
    "parallel_threshold_bases": lambda v: _int(v) and v >= 0,
    "remote_timeout": lambda v: v is None or ((_int(v) or _float(v)) and v > 0),
}


def available_cpus() -> int:
    """The CPUs this process may run on: its CPU affinity where the system tells it (a
    ``taskset``, a container's cpuset, a batch scheduler's allocation), else the machine's
    count, and at most its cgroup's CPU quota, rounded up (``docker --cpus``, a Kubernetes
    CPU limit: the cores stay visible, the time on them is capped). What genozarr sizes
    its thread and process pools by when ``num_workers`` and ``decode_threads`` are None.

    Returns
    -------
    int
        At least 1.
    """
    try:
        cpus = max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # (no affinity on macOS and Windows)
        cpus = os.cpu_count() or 1
    quota = _cgroup_cpus()
    return cpus if quota is None else max(1, min(cpus, quota))


#: the cgroup files a CPU quota is read from: v2's ``cpu.max`` (under the process's own
#: cgroup, then at the root a container sees), v1's CFS quota and period
CGROUP_ROOT = "/sys/fs/cgroup"


def _cgroup_cpus() -> int | None:
    """The CPUs the process's cgroup quota allows, rounded up; None without a quota (or
    without cgroups)."""
    import math

    paths = []
    try:
        with open("/proc/self/cgroup") as fh:  # v2: '0::/its/path'
            paths = [line.strip()[3:] for line in fh if line.startswith("0::")]
    except OSError:
        pass
    for path in [*(p for p in paths if p.strip("/")), ""]:
        try:
            with open(os.path.join(CGROUP_ROOT, path.lstrip("/"), "cpu.max")) as fh:
                quota, period = fh.read().split()[:2]
        except (OSError, ValueError):
            continue
        if quota == "max":
            return None
        try:
            return max(1, math.ceil(int(quota) / int(period)))
        except (ValueError, ZeroDivisionError):
            return None
    try:
        with open(os.path.join(CGROUP_ROOT, "cpu", "cpu.cfs_quota_us")) as fh:
            quota_us = int(fh.read())
        with open(os.path.join(CGROUP_ROOT, "cpu", "cpu.cfs_period_us")) as fh:
            period_us = int(fh.read())
    except (OSError, ValueError):
        return None
    if quota_us <= 0 or period_us <= 0:  # (-1: no quota)
        return None
    return max(1, math.ceil(quota_us / period_us))


def output_dir() -> Path:
    """Return the output root directory for stores and caches.

    Returns
    -------
    Path
        ``$GENOZARR_OUTPUT``, else ``$JANGGU_OUTPUT``, else ``~/genozarr_results``.
    """
    from genozarr.io._remote import local_form

    for var in ("GENOZARR_OUTPUT", "JANGGU_OUTPUT"):
        value = os.environ.get(var)
        if value:
            root = local_form(value)  # a file:// URL: its path
            if "://" in root:
                raise ArgumentError(
                    f"${var}={value}: the output root must be a local directory; build "
                    "a store at a URL with store='<url>'")
            return Path(root)
    return Path.home() / "genozarr_results"


def get_options() -> dict[str, Any]:
    """Return a copy of the current options.

    Returns
    -------
    dict[str, Any]
        A shallow copy of ``genozarr.config.OPTIONS``: option name to its current value
        (changing it changes no option; use :class:`set_options` for that).
    """
    return dict(OPTIONS)


class set_options:  # noqa: N801  (lower case, as xarray.set_options)
    """Set genozarr options globally or, used with ``with``, for a block.

    Parameters
    ----------
    **kwargs
        Option names and values; see ``genozarr.config.OPTIONS`` for the keys:
        ``scheduler`` ('auto', 'sync', 'threads', 'processes', 'distributed'),
        ``num_workers``, ``progress`` (True, False, 'auto'), ``chunk_bytes``,
        ``inner_chunk_bytes`` (None, or the inner chunk size of sharded stores),
        ``shard_chunks`` (chunks per zarr v3 shard file in whole-genome stores; 1: none),
        ``compressor`` ('zstd', 'lz4', ..., None), ``compression_level``,
        ``chunk_cache_bytes``, ``memory_cache_bytes`` (None: a quarter of usable memory;
        stores whose decoded arrays fit in it together are kept decoded in memory),
        ``decode_threads`` (None, or the threads decoding chunks of a local store while
        serving), ``parallel_threshold_bases``, ``remote_timeout`` (None, or the seconds
        one read of a remote store may take before it is a StoreError; also the wait for
        each answer of a remote input's server).

    Notes
    -----
    Options are the process's, as xarray's and dask's are: a ``with`` block changes them
    for every thread until it ends, so a build in another thread meanwhile is made with
    them too (but for the layout options, ``chunk_bytes``, ``inner_chunk_bytes``,
    ``shard_chunks``, ``compressor`` and ``compression_level``: a build keys and lays out
    its store by their values when it began); set options before starting threads that
    build. A block begins where
    ``set_options(...)`` is called (it sets the options there, before ``with`` enters it).
    Blocks that end in another order than they began (in several threads) still leave the
    options as they were before the first began, and each keeps its own values until
    it ends unless a block that began after it set them since. Options set for good
    while a block runs (``set_options(...)`` without ``with``) are undone when it ends,
    as in xarray, unless the object it returns is kept: a kept object counts as a block
    that began and has not ended.

    Raises
    ------
    ArgumentError
        For an unknown key or an invalid value.
    """

    def __init__(self, **kwargs: Any) -> None:
        for key, value in kwargs.items():
            if key not in OPTIONS:
                raise ArgumentError(
                    f"unknown genozarr option {key!r}; valid options: {sorted(OPTIONS)}"
                )
            if not _VALIDATORS[key](value):
                raise ArgumentError(f"invalid value {value!r} for genozarr option {key!r}")
            if _int(value):  # a numpy number kept as Python's (it goes into JSON)
                kwargs[key] = int(value)
            elif _float(value):
                kwargs[key] = float(value)
        # a block begins here, where it sets the options (a block made in another thread
        # before this one is entered began first): the values it found and its place
        # among the running blocks are taken at once
        self._depth = 0  # how many times it is entered now
        with _BLOCKS_LOCK:
            self.old: dict[str, Any] = {key: OPTIONS[key] for key in kwargs}
            OPTIONS.update(kwargs)
            _BLOCKS[:] = [ref for ref in _BLOCKS if ref() is not None]
            _BLOCKS.append(weakref.ref(self))

    def __enter__(self) -> set_options:
        with _BLOCKS_LOCK:
            self._depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        with _BLOCKS_LOCK:
            self._depth -= 1
            if self._depth > 0:  # (the same object entered again inside itself)
                return
            blocks = [b for b in (ref() for ref in _BLOCKS) if b is not None]
            at = next((i for i, b in enumerate(blocks) if b is self), None)
            if at is None:  # (exited twice)
                OPTIONS.update(self.old)
                return
            del blocks[at]
            _BLOCKS[:] = [weakref.ref(b) for b in blocks]
            for key, old in self.old.items():
                # a block that began after this one and still runs (or options set for
                # good since: an object kept) set the key since: it restores, when it
                # ends, what this one found
                later = next((b for b in blocks[at:] if key in b.old), None)
                if later is not None:
                    later.old[key] = old
                else:
                    OPTIONS[key] = old


#: the ``set_options(...)`` blocks running, in the order they began (set their options):
#: weak references, so that options set for good (an object not kept) leave none behind
_BLOCKS: list[weakref.ref[set_options]] = []
_BLOCKS_LOCK = threading.Lock()

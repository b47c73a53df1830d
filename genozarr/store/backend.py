"""Array backends: where a store's arrays live and how rows are read back.

``storage='ndarray'`` keeps numpy arrays in memory, ``'sparse'`` keeps scipy CSR matrices
(one row per first-axis entry, densified per read), ``'zarr'`` reads a zarr v3 store on
disk or object storage, decoding whole chunks and keeping the recently decoded ones in a
bounded cache, or, for a store that fits in memory, the whole store decoded as it is read
(the serving path never builds a dask graph).

Every backend answers the same two calls: ``read_rows(name, rows)`` (first-axis fancy
indexing, used by the partial layout) and ``read_range(name, start, stop)`` (a contiguous
first-axis range, used by the whole-genome layout), plus ``shape(name)``.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import math
import os
import sys
import threading
import weakref
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from genozarr._kernels import regular_windows, window_views
from genozarr._validate import path_text
from genozarr.errors import ArgumentError, GenozarrError, get_logger
from genozarr.io._remote import keep_objects
from genozarr.store._direct import DirectChunks, RemoteChunks, _native_dtype, kept_bytes
from genozarr.store._lru import _ChunkCache
from genozarr.store.dtypes import value_dtype, widen

__all__ = ["Backend", "MemoryBackend", "SparseBackend", "ZarrBackend", "STORAGES",
           "normalise_storage", "reading_once"]

STORAGES = ("ndarray", "sparse", "zarr")

log = get_logger(__name__)

#: most threads a local zarr backend decodes chunks with in parallel (Blosc releases the
#: GIL) when the ``decode_threads`` option is None
MAX_DECODE_THREADS = 4
#: processes serving batches side by side on this machine's cores (this one included): set
#: in each PyTorch DataLoader worker by :func:`share_cores`
_SHARERS = 1


def share_cores(processes: int) -> None:
    """Declare this process one of ``processes`` serving batches side by side (the
    DataLoader workers of one loader): the zarr backends it opens from now on decode with
    ``cores // processes`` threads (at least 1, at most 4) unless the ``decode_threads``
    option says otherwise, so N workers do not run N times the machine's cores.

    Parameters
    ----------
    processes
        Number of processes sharing the cores (1: this process alone).
    """
    global _SHARERS
    _SHARERS = max(1, int(processes))


def decode_threads() -> int:
    """Threads a local zarr backend decodes with: the ``decode_threads`` option, else the
    CPUs this process may use shared out among the processes serving side by side (see
    :func:`share_cores`), at most 4."""
    from genozarr.config import OPTIONS, available_cpus

    n = OPTIONS["decode_threads"]
    if n is not None:
        return int(n)
    return max(1, min(MAX_DECODE_THREADS, available_cpus() // _sharers()))


def _sharers() -> int:
    """Processes serving side by side: as declared (:func:`share_cores`), else, in a
    worker of a PyTorch ``DataLoader`` (a user's own ``Dataset`` reading genozarr
    datasets), its number of workers; else 1."""
    if _SHARERS > 1:
        return _SHARERS
    torch = sys.modules.get("torch")  # (never imported here)
    get_info = getattr(getattr(getattr(torch, "utils", None), "data", None),
                       "get_worker_info", None)
    info = get_info() if get_info is not None else None
    return max(1, int(getattr(info, "num_workers", 1) or 1))


def memory_budget() -> int:
    """Bytes one process may keep decoded in memory of the stores it reads with
    ``resident='auto'``, all of them together: the ``memory_cache_bytes`` option (None: a
    quarter of :func:`usable_memory`), shared out among the processes serving side
    by side (see :func:`share_cores`)."""
    from genozarr.config import OPTIONS

    n = OPTIONS["memory_cache_bytes"]
    if n is None:
        n = usable_memory() // 4
    return int(n) // _sharers()


#: cgroup files that cap a process's memory, under their hierarchy's mount point: cgroup
#: v2 (``max`` for none), v1 (a huge number for none)
_CGROUP_LIMITS = (("/sys/fs/cgroup", "memory.max"),
                  ("/sys/fs/cgroup/memory", "memory.limit_in_bytes"))
#: the cgroups of this process, one ``id:controllers:path`` line per hierarchy
_PROC_CGROUP = "/proc/self/cgroup"


def _cgroup_limit(mount: str, name: str, path: str) -> int | None:
    """The smallest ``name`` limit of the cgroup at ``path`` under ``mount`` and of its
    ancestors (a parent's limit caps its children); None where none is set."""
    limits = []
    parts = [p for p in path.split("/") if p]
    for depth in range(len(parts), -1, -1):
        try:
            with open(os.path.join(mount, *parts[:depth], name)) as f:
                text = f.read().strip()
        except (OSError, ValueError):  # not there (another namespace, another version)
            continue
        if text.isdigit():
            limits.append(int(text))
    return min(limits) if limits else None


def _vm_bytes(field: str) -> int:
    """A ``VmSize``/``VmData`` figure of this process from ``/proc/self/status`` (0 if
    unknown)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def usable_memory() -> int:
    """Bytes of memory this process can use: the machine's physical memory, or less where
    a container's cgroup (v1 or v2) caps it, or where ``ulimit -v``/``-d``
    (``RLIMIT_AS``/``RLIMIT_DATA``) leave less room than that beside what the process
    already maps; 0 where none of these can be read (not a POSIX system)."""
    try:
        found = [os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")]
    except (AttributeError, ValueError, OSError):  # not a POSIX system
        return 0
    try:
        with open(_PROC_CGROUP) as f:
            groups = [line.rstrip("\n").split(":", 2) for line in f]
    except OSError:
        groups = []
    for mount, name in _CGROUP_LIMITS:
        v2 = name == "memory.max"
        for group in groups:
            if len(group) == 3 and ((v2 and group[0] == "0" and group[1] == "")
                                    or (not v2 and "memory" in group[1].split(","))):
                limit = _cgroup_limit(mount, name, group[2])
                if limit is not None:
                    found.append(limit)
    try:
        import resource

        for which, field in ((resource.RLIMIT_AS, "VmSize"),
                             (getattr(resource, "RLIMIT_DATA", None), "VmData")):
            if which is None:
                continue
            soft = resource.getrlimit(which)[0]
            if soft != resource.RLIM_INFINITY and soft >= 0:
                found.append(max(0, soft - _vm_bytes(field)))
    except (ImportError, OSError, ValueError):
        pass
    return int(min(found))


#: ``[pid, bytes]``: decoded bytes claimed in process ``pid`` by the stores it keeps in
#: memory with ``resident='auto'`` (a forked child starts from none)
_CLAIMED = [0, 0]
_CLAIM_LOCK = threading.Lock()


def _claim(size: int) -> bool:
    """Claim ``size`` bytes of this process's :func:`memory_budget`; False if they do not
    fit beside what the other stores kept in memory claimed."""
    budget = memory_budget()
    with _CLAIM_LOCK:
        if _CLAIMED[0] != os.getpid():
            _CLAIMED[:] = [os.getpid(), 0]
        if size > budget - _CLAIMED[1]:
            return False
        _CLAIMED[1] += size
        return True


def memory_in_use() -> int:
    """Bytes of this process's :func:`memory_budget` claimed by the stores it keeps decoded
    in memory (``resident='auto'``)."""
    with _CLAIM_LOCK:
        return _CLAIMED[1] if _CLAIMED[0] == os.getpid() else 0


def _unclaim(size: int, pid: int) -> None:
    """Give back a claim of :func:`_claim` (when its store is closed or collected)."""
    with _CLAIM_LOCK:
        if _CLAIMED[0] == pid == os.getpid():
            _CLAIMED[1] = max(0, _CLAIMED[1] - size)


@functools.cache
def _can_share() -> bool:
    """Whether processes can be forked here, sharing anonymous memory (not on Windows)."""
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


def _shared_empty(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """An uninitialised array in anonymous shared memory: a process forked after it was
    made shares its pages (each page is allocated on first write). Empty arrays, and
    systems that cannot fork, get a private array."""
    import mmap

    nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    if nbytes and _can_share():
        try:
            buf = mmap.mmap(-1, nbytes)
        except (OSError, ValueError):  # pragma: no cover - no anonymous shared memory
            pass
        else:
            return np.frombuffer(buf, dtype=dtype).reshape(shape)
    return np.empty(shape, dtype=dtype)


#: seconds a process waits for the flags lock of shared resident arrays before going on
#: without it (see :class:`_FlagsLock`)
FLAGS_LOCK_TIMEOUT = 2.0


class _FlagsLock:
    """Orders the per-chunk flags of resident arrays and the rows they vouch for: a thread
    lock, and once :meth:`share` was called, a semaphore that the processes forked after
    that share (taking it synchronizes memory between them).

    A process killed while holding the semaphore (a DataLoader worker shut down in the
    middle of setting a flag) would leave it taken for ever. A process that waited
    :data:`FLAGS_LOCK_TIMEOUT` seconds for it logs a warning and goes on with a lock of its
    own (on x86, whose stores are seen in order, the flags stay right without it)."""

    def __init__(self) -> None:
        self._own = threading.Lock()
        self._sem: Any = None

    def share(self) -> bool:
        """Make the semaphore (before forking); whether processes can share it."""
        import multiprocessing

        if self._sem is None and _can_share():
            try:
                self._sem = multiprocessing.get_context("fork").Lock()
            except OSError:  # pragma: no cover - no POSIX semaphores
                return False
        return self._sem is not None

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        sem = self._sem
        if sem is not None:
            if sem.acquire(timeout=FLAGS_LOCK_TIMEOUT):
                try:
                    yield
                finally:
                    sem.release()
                return
            self._sem = None
            log.warning("the lock shared with other processes over decoded arrays was held "
                        "for %s s (a process died holding it?): this process goes on without "
                        "it", FLAGS_LOCK_TIMEOUT)
        with self._own:
            yield


def _new_claim_lock() -> None:
    global _CLAIM_LOCK
    _CLAIM_LOCK = threading.Lock()


_ONCE = threading.local()


@contextlib.contextmanager
def reading_once() -> Iterator[None]:
    """Reads of zarr stores in this thread, inside the ``with`` block, pass over their data
    once (an export).

    The chunks a read needs that are not decoded yet are decoded for that read only:
    neither kept decoded in memory nor put in the chunk cache (a remote store still keeps
    the stored bytes it fetched, within its bounded budget), and a store whose residency
    is not decided yet (``resident='auto'``) stays undecided; a store kept decoded already
    is read from memory. For the reads (``read_rows``, ``read_windows``, ``read_range``),
    not read-ahead.

    Yields
    ------
    None
    """
    before = getattr(_ONCE, "on", False)
    _ONCE.on = True
    try:
        yield
    finally:
        _ONCE.on = before


def _reading_once() -> bool:
    return getattr(_ONCE, "on", False)


#: this process's id, set again in a forked child: what :meth:`ZarrBackend._check_process`
#: compares on every read, without a system call each time
_PROCESS = [os.getpid()]


def _forked() -> None:
    _new_claim_lock()  # a fork while another thread held it
    _PROCESS[0] = os.getpid()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked)


#: threads of a zarr backend over a remote store (fsspec URL) that wait for and decode
#: chunks (the requests themselves are all in flight at once on zarr's event loop)
FETCH_THREADS = 8
_POOL_LOCK = threading.Lock()


def normalise_storage(storage: str) -> str:
    """Validate ``storage``; Janggu's ``'hdf5'`` maps to ``'zarr'`` with a warning.

    Parameters
    ----------
    storage
        ``'ndarray'``, ``'sparse'``, ``'zarr'`` or ``'hdf5'``.

    Returns
    -------
    str
        One of :data:`STORAGES`: ``storage`` itself, or ``'zarr'`` for ``'hdf5'``.

    Raises
    ------
    ArgumentError
        For any other value.
    """
    if storage == "hdf5":
        from genozarr.errors import warn

        warn("storage='hdf5' is Janggu's name for out-of-core storage; genozarr uses 'zarr'")
        return "zarr"
    if storage not in STORAGES:
        raise ArgumentError(f"storage must be one of {STORAGES} (or 'hdf5'), got {storage!r}")
    return storage


def window_chunks(first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Every chunk id from ``first`` to ``last`` (inclusive) of each window, as one array
    (repeated ids included)."""
    first, last = np.asarray(first, dtype=np.int64), np.asarray(last, dtype=np.int64)
    if not len(first):
        return first
    return np.minimum(first[:, None] + np.arange(int((last - first).max()) + 1),
                      last[:, None]).ravel()


class Backend(ABC):
    """Interface of array backends: where a store's arrays live."""

    storage: str = ""

    @abstractmethod
    def names(self) -> list[str]:
        """Paths of the arrays held.

        Returns
        -------
        list of str
            The array paths: ``'data'`` in the partial layout, one data array per
            chromosome (``'<chrom>/data'``; ``'<chrom>'`` in format-1 stores) in the
            whole-genome layout.
        """

    @abstractmethod
    def shape(self, name: str) -> tuple[int, ...]:
        """Shape of array ``name``.

        Parameters
        ----------
        name
            Array path (one of :meth:`names`).

        Returns
        -------
        tuple of int
            ``(region, position, strand, condition)`` sizes of the partial layout's
            ``data`` (one row per window), ``(position, strand, condition)`` of a
            chromosome's array in the whole-genome layout (``position`` in bins).
        """

    @abstractmethod
    def read_rows(self, name: str, rows: np.ndarray) -> np.ndarray:
        """First-axis entries ``rows`` of array ``name``.

        Parameters
        ----------
        name
            Array path (one of :meth:`names`).
        rows
            1-D integer array of first-axis indices (rows of the partial layout), each in
            ``[0, shape(name)[0])``, in any order, repeats allowed.

        Returns
        -------
        numpy.ndarray
            A new array of shape ``(len(rows),) + shape(name)[1:]``, in the order of
            ``rows``.
        """

    def read_range(self, name: str, start: int, stop: int, view: bool = False) -> np.ndarray:
        """First-axis entries ``[start, stop)`` of array ``name``. ``view``: the caller
        only reads them, so they may be a read-only view of cached chunks (the zarr
        backend) instead of a new array (a read that passes over the data once:
        :func:`reading_once`).

        Parameters
        ----------
        name
            Array path (one of :meth:`names`).
        start, stop
            0-based, half-open range of first-axis indices (rows in the partial layout,
            bins in the whole-genome layout), within ``[0, shape(name)[0]]``.
        view
            The caller only reads the result: it may be a read-only view instead of a
            copy of its own.

        Returns
        -------
        numpy.ndarray
            Shape ``(stop - start,) + shape(name)[1:]``.
        """
        return self.read_rows(name, np.arange(start, stop))

    def read_windows(self, name: str, starts: np.ndarray, length: int,
                     out: np.ndarray | None = None, rows: np.ndarray | None = None) -> np.ndarray:
        """Rows ``[s, s + length)`` of array ``name`` for every ``s`` of ``starts`` (at least
        one, all within the array): a new array of shape ``(len(starts), length) + row
        shape``, or, with ``out``, written into ``out[rows]`` (``rows``: the row of ``out``
        of each window; default the first ones) and ``out`` returned.

        Parameters
        ----------
        name
            Array path (one of :meth:`names`).
        starts
            1-D integer array: the first first-axis index of each window (bins of a
            chromosome's array in the whole-genome layout), each window
            ``[s, s + length)`` within ``[0, shape(name)[0]]``.
        length
            First-axis entries per window (bins).
        out
            Array to write the windows into, of shape ``(n, length) + shape(name)[1:]``
            with ``n`` covering ``rows``; None returns a new array.
        rows
            With ``out``: the row of ``out`` that receives each window (one per start);
            None: rows ``0`` to ``len(starts) - 1``.

        Returns
        -------
        numpy.ndarray
            ``out``, or a new array of shape ``(len(starts), length) + shape(name)[1:]``.
        """
        picked = np.stack([self.read_range(name, s, s + length, view=True)
                           for s in np.asarray(starts).tolist()])
        if out is None:
            return picked
        out[slice(0, len(picked)) if rows is None else rows] = picked
        return out

    def dense(self, name: str) -> np.ndarray:
        """The whole array as numpy (tests and small stores).

        Parameters
        ----------
        name
            Array path (one of :meth:`names`).

        Returns
        -------
        numpy.ndarray
            Shape ``shape(name)``.
        """
        return self.read_range(name, 0, self.shape(name)[0])


class MemoryBackend(Backend):
    """Numpy arrays in memory (``storage='ndarray'``).

    Parameters
    ----------
    arrays
        ``{array path: numpy array}``; the mapping is copied, the arrays are kept as they
        are (not copied).
    """

    storage = "ndarray"

    def __init__(self, arrays: Mapping[str, np.ndarray]) -> None:
        self.arrays = dict(arrays)

    def names(self) -> list[str]:
        """Paths of the arrays held, in the order they were given.

        Returns
        -------
        list of str
            The keys of ``arrays``.

        See Also
        --------
        Backend.names
        """
        return list(self.arrays)

    def shape(self, name: str) -> tuple[int, ...]:
        """Shape of array ``name``.

        Parameters
        ----------
        name
            Array path (one of :meth:`names`).

        Returns
        -------
        tuple of int
            The numpy array's shape.

        See Also
        --------
        Backend.shape
        """
        return self.arrays[name].shape

    def read_rows(self, name: str, rows: np.ndarray) -> np.ndarray:
        """First-axis entries ``rows`` of array ``name`` (numpy indexing).

        Parameters
        ----------
        name
            Array path (one of :meth:`names`).
        rows
            1-D integer array of first-axis indices.

        Returns
        -------
        numpy.ndarray
            Shape ``(len(rows),) + shape(name)[1:]``, in the order of ``rows``.

        See Also
        --------
        Backend.read_rows
        """
        return self.arrays[name][rows]

    def read_range(self, name: str, start: int, stop: int, view: bool = False) -> np.ndarray:
        """First-axis entries ``[start, stop)`` of array ``name``: a copy, or with ``view``
        a read-only view of the array held.

        Parameters
        ----------
        name
            Array path (one of :meth:`names`).
        start, stop
            0-based, half-open range of first-axis indices (a numpy slice).
        view
            Return a read-only view instead of a copy.

        Returns
        -------
        numpy.ndarray
            Shape ``(stop - start,) + shape(name)[1:]`` for a range within the array.

        See Also
        --------
        Backend.read_range
        """
        # (a copy, or a read-only view: a caller writing into what it got, such as a
        # normalizer function working in place while it is fitted, changed the store)
        return _read_only(self.arrays[name][start:stop], view)


class SparseBackend(Backend):
    """scipy CSR matrices, each row holding ``group`` consecutive first-axis entries of an
    array (one entry per row where an entry holds :data:`SPARSE_FEW_VALUES` values or
    more, as a window of a partial store does; :data:`SPARSE_ROW_VALUES` values' worth
    where an entry holds fewer, as a bin of a whole-genome chromosome does, so that the
    matrix's row pointers do not cost more than its values); every value is kept (Janggu dropped values <= 0) except the
    sign of a zero (-0.0 reads as 0.0, as in a zarr chunk holding only zeros), rows are
    densified on read.

    Parameters
    ----------
    arrays
        ``{array path: numpy array}`` of at least one dimension (or a :class:`SparseRows`
        the array was built into, block by block); each is kept as a CSR matrix of shape
        ``(ceil(shape[0] / group), group * product of shape[1:])``, with its shape and
        dtype.
    """

    storage = "sparse"

    def __init__(self, arrays: Mapping[str, np.ndarray | SparseRows]) -> None:
        self.shapes = {k: tuple(v.shape) for k, v in arrays.items()}
        self.dtypes = {k: np.dtype(v.dtype) for k, v in arrays.items()}
        #: first-axis entries per CSR row, per array
        self.groups = {k: _sparse_group(v.shape) for k, v in arrays.items()}
        self.matrices = {k: v.matrix() if isinstance(v, SparseRows)
                         else _grouped_csr(v, self.groups[k]) for k, v in arrays.items()}

    def names(self) -> list[str]:
        """Paths of the arrays held, in the order they were given.

        Returns
        -------
        list of str
            The keys of ``arrays``.

        See Also
        --------
        Backend.names
        """
        return list(self.matrices)

    def shape(self, name: str) -> tuple[int, ...]:
        """Shape of array ``name``, as given (not the CSR matrix's).

        Parameters
        ----------
        name
            Array path (one of :meth:`names`).

        Returns
        -------
        tuple of int
            The original array's shape.

        See Also
        --------
        Backend.shape
        """
        return self.shapes[name]

    def _dense(self, name: str, matrix: Any) -> np.ndarray:
        """CSR rows ``matrix`` of array ``name`` densified, as first-axis entries."""
        shape = self.shapes[name]
        return matrix.toarray().astype(self.dtypes[name], copy=False).reshape(
            (matrix.shape[0] * self.groups[name],) + tuple(shape[1:]))

    def read_rows(self, name: str, rows: np.ndarray) -> np.ndarray:
        """First-axis entries ``rows`` of array ``name``, densified.

        Parameters
        ----------
        name
            Array path (one of :meth:`names`).
        rows
            1-D integer array of first-axis indices.

        Returns
        -------
        numpy.ndarray
            Shape ``(len(rows),) + shape(name)[1:]``, in the order of ``rows``, in the
            original array's dtype.

        See Also
        --------
        Backend.read_rows
        """
        rows = np.asarray(rows, dtype=np.intp)
        group = self.groups[name]
        if group == 1:
            m = self.matrices[name][rows]
            return m.toarray().astype(self.dtypes[name], copy=False).reshape(
                (len(rows),) + self.shapes[name][1:])
        n = self.shapes[name][0]
        rows = np.where(rows < 0, rows + n, rows)
        if rows.size and (rows.min() < 0 or rows.max() >= n):
            raise IndexError(f"index out of range for {n} entries of {name!r}")
        blocks, where = np.unique(rows // group, return_inverse=True)
        dense = self._dense(name, self.matrices[name][blocks])
        return dense[where.reshape(-1) * group + rows % group]

    def read_range(self, name: str, start: int, stop: int, view: bool = False) -> np.ndarray:
        """First-axis entries ``[start, stop)`` of array ``name``, densified into a new
        array.

        Parameters
        ----------
        name
            Array path (one of :meth:`names`).
        start, stop
            0-based, half-open range of first-axis indices (a slice of the CSR rows).
        view
            Ignored: the densified rows are always a new array.

        Returns
        -------
        numpy.ndarray
            Shape ``(rows in range,) + shape(name)[1:]``, in the original array's dtype.

        See Also
        --------
        Backend.read_range
        """
        group = self.groups[name]
        start, stop, _ = slice(start, stop).indices(self.shapes[name][0])
        stop = max(start, stop)
        first, last = start // group, -(-stop // group)
        dense = self._dense(name, self.matrices[name][first:last])
        return np.ascontiguousarray(dense[start - first * group:stop - first * group])


#: a sparse store's CSR rows hold this many values where a first-axis entry holds fewer
#: than :data:`SPARSE_FEW_VALUES` (see :class:`SparseBackend`)
SPARSE_ROW_VALUES = 4096
#: first-axis entries of fewer values than this (a whole-genome bin: its strands and
#: conditions) are kept several to a CSR row; others (a window) one to a row
SPARSE_FEW_VALUES = 16


def _sparse_group(shape: tuple[int, ...]) -> int:
    """First-axis entries per CSR row of an array of ``shape`` (:class:`SparseBackend`)."""
    width = math.prod(shape[1:])
    return 1 if width == 0 or width >= SPARSE_FEW_VALUES else SPARSE_ROW_VALUES // width


def _grouped_csr(values: np.ndarray, group: int) -> Any:
    """``values`` as a CSR matrix of ``group`` first-axis entries per row (zeros past the
    last entry fill the last row)."""
    from scipy import sparse

    n, width = values.shape[0], math.prod(values.shape[1:])
    flat = values.reshape(n, width)  # (the width from the shape: -1 fails on no rows)
    if group == 1:
        return sparse.csr_matrix(flat)
    rows = -(-n // group)
    r, c = np.nonzero(flat)  # (NaN is not zero: kept, as csr_matrix keeps it)
    return sparse.csr_matrix((flat[r, c], (r // group, (r % group) * width + c)),
                             shape=(rows, group * width), dtype=values.dtype)


class SparseRows:
    """One array of a :class:`SparseBackend` (its grouped CSR matrix) built from blocks of
    first-axis entries, as a build's tasks return them (in any order, each entry in one
    block), keeping only their non-zero values: the dense array is never made, so a sparse
    build's memory follows its data, not the genome (a 100 Mb chromosome at 1 bp, float32,
    two strands: 800 MB dense).

    A block covering whole CSR rows becomes a CSR matrix at once; the CSR rows a block
    fills in part (at most two a block: its first and last) are kept dense, at most
    :data:`SPARSE_ROW_VALUES` values each, until the matrix is made. Where the fill value
    is not 0, or a block of rows in any order comes for an array of several entries to a
    CSR row (a partial store of few values a window, at most 15 a window), the array is
    kept dense instead, as before.

    Parameters
    ----------
    shape, dtype
        The array's.
    fill
        What entries no block covers hold.
    """

    def __init__(self, shape: tuple[int, ...], dtype: Any, fill: float = 0) -> None:
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        self.group = _sparse_group(self.shape)
        self.width = math.prod(self.shape[1:])
        #: the array, where it is kept dense
        self.values: np.ndarray | None = None
        self._fill = fill
        #: (first CSR row, CSR matrix of whole rows), or (rows, CSR matrix: one entry a
        #: row) where an entry is a CSR row
        self._pieces: list[tuple[Any, Any]] = []
        #: CSR row -> its values, of the rows blocks fill in part
        self._partial: dict[int, np.ndarray] = {}
        #: the [start, stop) of every block (checked disjoint when the matrix is made)
        self._spans: list[tuple[int, int]] = []
        if fill != 0:
            self._densify()

    def _densify(self) -> None:
        """Keep the array dense from now on (the blocks so far put in place)."""
        values = np.full(self.shape, self._fill, dtype=self.dtype)
        if self._pieces or self._partial:
            values[:] = SparseBackend({"a": self}).dense("a")
        self.values = values
        self._pieces, self._partial, self._spans = [], {}, []

    def put(self, start: int | np.ndarray, values: np.ndarray) -> None:
        """Put a block: entries ``start`` to ``start + len(values)``, or the entries
        ``start`` (an array of first-axis indices) in its order.

        Parameters
        ----------
        start
            First entry of the block, or its entries.
        values
            The block: ``(entries,) + shape[1:]``, cast to the array's dtype.
        """
        from scipy import sparse

        if isinstance(start, np.ndarray) and self.group != 1 and self.values is None:
            self._densify()
        if self.values is not None:
            if isinstance(start, np.ndarray):
                self.values[start] = values
            else:
                self.values[start:start + len(values)] = values
            return
        n = len(values)
        flat = np.asarray(values).astype(self.dtype, copy=False).reshape(n, self.width)
        if isinstance(start, np.ndarray):  # (one entry a CSR row)
            self._pieces.append((np.asarray(start, dtype=np.int64),
                                 sparse.csr_matrix(flat, dtype=self.dtype)))
            return
        start = int(start)
        stop, g, end = start + n, self.group, self.shape[0]
        self._spans.append((start, stop))
        first = -(-start // g) * g  # the first CSR row the block covers whole
        last = stop if stop == end else stop // g * g
        if first < last:
            self._pieces.append((first // g, _grouped_csr(flat[first - start:last - start], g)))
        head = min(first, stop)  # the block's parts in CSR rows it fills in part
        for lo, hi in ((start, head), (max(last, head), stop)):
            if lo < hi:
                row = lo // g
                buf = self._partial.get(row)
                if buf is None:
                    buf = self._partial[row] = np.zeros(g * self.width, dtype=self.dtype)
                buf[(lo - row * g) * self.width:(hi - row * g) * self.width] = \
                    flat[lo - start:hi - start].reshape(-1)

    def matrix(self) -> Any:
        """The array's CSR matrix (see :class:`SparseBackend`), its blocks dropped.

        Returns
        -------
        scipy.sparse.csr_matrix
            ``(ceil(shape[0] / group), group * product of shape[1:])``.

        Raises
        ------
        RuntimeError
            When two blocks put values in the same entry (a build's tasks never do).
        """
        from scipy import sparse

        if self.values is not None:
            return _grouped_csr(self.values, self.group)
        g, width = self.group, self.width
        n_rows = -(-self.shape[0] // g)
        pieces, self._pieces = self._pieces, []
        if g == 1:  # every piece's rows, as an array
            rows = [np.arange(r, r + m.shape[0]) if not isinstance(r, np.ndarray) else r
                    for r, m in pieces]
            pieces = [m for _, m in pieces]
            order = np.concatenate(rows) if rows else np.zeros(0, np.int64)
            if len(np.unique(order)) != len(order):
                raise RuntimeError("sparse build: two blocks put values in one entry")
            stacked = sparse.vstack(pieces, format="csr", dtype=self.dtype) if pieces \
                else sparse.csr_matrix((0, width), dtype=self.dtype)
            perm = np.argsort(order, kind="stable")
            stacked = stacked[perm]
            counts = np.zeros(n_rows + 1, dtype=np.int64)
            counts[order[perm] + 1] = np.diff(stacked.indptr)
            return sparse.csr_matrix((stacked.data, stacked.indices, np.cumsum(counts)),
                                     shape=(n_rows, width), dtype=self.dtype)
        spans = sorted(self._spans)
        if any(a[1] > b[0] for a, b in itertools.pairwise(spans)):
            raise RuntimeError("sparse build: two blocks put values in one entry")
        partial, self._partial = self._partial, {}
        pieces += [(row, sparse.csr_matrix(buf[None, :])) for row, buf in partial.items()]
        pieces.sort(key=lambda piece: piece[0])
        parts, at = [], 0
        for row, m in pieces:
            if row > at:
                parts.append(sparse.csr_matrix((row - at, g * width), dtype=self.dtype))
            parts.append(m)
            at = row + m.shape[0]
        if at < n_rows or not parts:
            parts.append(sparse.csr_matrix((n_rows - at, g * width), dtype=self.dtype))
        return sparse.vstack(parts, format="csr", dtype=self.dtype)


#: bytes of batch memory :func:`batch_empty` keeps for reuse in a process (in use or free)
BATCH_BLOCK_BYTES = 64 * 2**20
#: batches smaller than this come from numpy as before (glibc serves them from its heap)
_BATCH_BLOCK_MIN = 128 * 2**10


class _BatchBlocks:
    """Memory for the batches a backend reads, reused once nothing refers to it.

    A fresh array of a few hundred kB or more comes from ``mmap`` (or from a heap glibc
    has just trimmed), and the kernel faults in and zeroes each of its pages on first
    use: a block-shuffled epoch served from a store kept decoded in memory spent most of
    its time there (480-540 page faults a batch; 50-60k windows/s in a fresh process
    against 260-300k with the pages kept). Here each batch is a view of a block kept by
    this pool; a block is handed out again only when nothing else refers to it: every
    array made from a batch (a slice, a view, a tensor of ``torch.from_numpy``) refers
    to the block itself (numpy makes the block the ``base`` of views of views), so a
    batch the caller keeps, or any part of it, is never overwritten. At most
    :data:`BATCH_BLOCK_BYTES` are kept; past that, batches are numpy's own arrays.
    """

    def __init__(self) -> None:
        self._blocks: dict[int, list[np.ndarray]] = {}
        self._bytes = 0
        self._lock = threading.Lock()
        self._free_refs = self._calibrate()

    @staticmethod
    def _first_free(blocks: list[np.ndarray], free_refs: int) -> int:
        """The position in ``blocks`` of the first that nothing but this scan refers to,
        -1 where none is (by index: a name bound to a block would be a reference a
        tracer's snapshot of the frame's locals keeps, and the count calibrated under a
        tracer would be one too many)."""
        for i in range(len(blocks)):
            if sys.getrefcount(blocks[i]) <= free_refs:
                return i
        return -1

    def _calibrate(self) -> int:
        """The reference count :meth:`_first_free` sees of a block held by its list only
        (interpreters count the references of a loop differently), checked to tell a
        block held once more; 0 (no reuse) where it cannot."""
        probe = [np.empty(1, dtype=np.uint8)]
        for refs in range(1, 8):
            if self._first_free(probe, refs) == 0:
                held = probe[0]
                found = self._first_free(probe, refs)
                del held
                return refs if found < 0 else 0
        return 0

    def empty(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        dt = np.dtype(dtype)
        nbytes = math.prod(shape) * dt.itemsize
        if nbytes < _BATCH_BLOCK_MIN or nbytes > BATCH_BLOCK_BYTES // 4 or dt.hasobject \
                or not self._free_refs:
            return np.empty(shape, dtype=dt)
        with self._lock:  # (the view is made under the lock: then the block is taken)
            blocks = self._blocks.get(nbytes, [])
            i = self._first_free(blocks, self._free_refs)
            if i >= 0:
                return blocks[i].view(dt).reshape(shape)
            if self._bytes + nbytes > BATCH_BLOCK_BYTES:  # free blocks of other sizes go
                self._drop_free(self._bytes + nbytes - BATCH_BLOCK_BYTES)
            if self._bytes + nbytes > BATCH_BLOCK_BYTES:
                return np.empty(shape, dtype=dt)
            block = np.empty(nbytes, dtype=np.uint8)
            self._blocks.setdefault(nbytes, []).append(block)
            self._bytes += nbytes
            return block.view(dt).reshape(shape)

    def _drop_free(self, need: int) -> None:
        """Forget free blocks (of any size) until ``need`` bytes are given up or none is
        free; under the lock."""
        for size in list(self._blocks):
            blocks = self._blocks[size]
            while need > 0:
                i = self._first_free(blocks, self._free_refs)
                if i < 0:
                    break
                del blocks[i]
                self._bytes -= size
                need -= size
            if not blocks:  # (no entry left for a size no longer read)
                del self._blocks[size]
            if need <= 0:
                return

    def _after_fork(self) -> None:
        """In a forked process: a new lock (a thread of the parent may have held it)."""
        self._lock = threading.Lock()


_BATCHES = _BatchBlocks()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_BATCHES._after_fork)


def batch_empty(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """A new array for a batch (contents undefined), in memory reused from batches no
    longer referred to (:class:`_BatchBlocks`)."""
    return _BATCHES.empty(shape, dtype)


def _read_only(rows: np.ndarray, view: bool) -> np.ndarray:
    """``rows`` of a cached or resident array as a caller gets them: a copy of its own,
    or (``view``) a read-only view, so that no caller changes what later reads see."""
    if not view:
        return rows.copy()
    if rows.flags.writeable:  # (cached chunks are read-only already)
        rows = rows.view()
        rows.flags.writeable = False
    return rows


#: chunks of at most this many decoded bytes (the inner chunks of a sharded store) are read
#: and decoded in groups, one per decode thread: a 16 kB chunk decodes in about 23 us, as
#: long as the Python around it took chunk by chunk, and two threads taking turns at the
#: GIL for every chunk ran slower than one. Larger chunks are read one by one: there the
#: decode dominates, and a chunk is cached (and seen by other threads) as soon as it is
#: decoded
GROUP_READ_BYTES = 256 * 2**10
#: chunks a decode thread gathers at least (:meth:`ZarrBackend._gather`): fewer are
#: gathered in the caller's thread alone
_GATHER_SHARE = 8
#: decoded bytes of a chunk from which :meth:`ZarrBackend._gather` shares a batch's chunks
#: among the decode threads (Blosc decodes a 16 KiB chunk in about 10 us: less than
#: handing the GIL from thread to thread costs)
_GATHER_THREAD_BYTES = 32 * 2**10


def _chunk_runs(rows: np.ndarray, size: int) -> tuple[np.ndarray, ...]:
    """Sorted ``rows`` grouped by the chunk of ``size`` rows each lies in: the chunk ids,
    each group's ``starts`` and ``ends`` in ``rows``, every row's ``local`` row in its
    chunk, each group's ``first`` local row, and whether its rows are one run of
    consecutive rows (a repeated row, as an oversampling view makes, never is: sorted
    ``[0, 0, 2]`` would look consecutive)."""
    ids = rows // size
    bounds = np.flatnonzero(ids[1:] != ids[:-1]) + 1
    starts, ends = np.r_[0, bounds], np.r_[bounds, len(rows)]
    local = rows - ids * size
    first = local[starts]
    runs = (local[ends - 1] - first) == (ends - starts - 1)
    if bool((rows[1:] == rows[:-1]).any()):
        runs[:] = False
    return ids[starts], starts, ends, local, first, runs


class _DecodePool(ThreadPoolExecutor):
    """The decode threads of a :class:`ZarrBackend`. A task given after :meth:`ZarrBackend.close`
    shut them down (by a read that was running in another thread) runs in the thread that
    gives it, instead of failing that read."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future:
        try:
            return super().submit(fn, *args, **kwargs)
        except RuntimeError:  # shut down (by close(), or at the interpreter's exit)
            done: Future = Future()
            try:
                done.set_result(fn(*args, **kwargs))
            except BaseException as e:  # noqa: BLE001 - raised by result(), as from a thread
                done.set_exception(e)
            return done


class ZarrBackend(Backend):
    """Arrays of a zarr v3 store, read chunk by chunk with a decoded-chunk cache.

    The store version published at ``path`` is resolved once, on first use, and read (and,
    locally, held) from then on, even when the store is rebuilt meanwhile. Pickles as its
    URL and options (and, for a remote store, the version it resolved), so each DataLoader
    or dask worker reopens the store (a remote one at that same version); a forked worker
    reopens it too.

    Parameters
    ----------
    path
        Local directory or fsspec URL of the store.
    storage_options
        fsspec options for remote URLs.
    cache_bytes
        Bytes of decoded chunks kept (default: ``set_options(chunk_cache_bytes=...)``).
    root
        Remote stores: the version prefix to read (as resolved before); None resolves
        ``path`` on first use.
    opened
        The store as opened by the caller (:func:`genozarr.store.open.open_resolved`).
    resident
        Keep every array decoded in memory as it is read: each chunk is decoded once into
        one array of the whole array's size, so reading rows already decoded is one numpy
        indexing, in any order. True always (``open_dataset(..., cache='memory')``), False
        never (the chunk cache only), ``'auto'`` (default) when the store's decoded arrays
        fit in this process's share of :func:`memory_budget`, decided in each process on
        first read.
    """

    storage = "zarr"

    @property
    def remote(self) -> bool:
        """Whether the store is read over the network (an fsspec URL)."""
        return "://" in self.path

    def __init__(self, path: str, storage_options: dict[str, Any] | None = None,
                 cache_bytes: int | None = None, *, root: str | None = None,
                 opened: Any = None, resident: bool | str = "auto") -> None:
        self.path = path_text(path)
        if resident != "auto":
            resident = bool(resident)
        self.resident_mode: bool | str = resident
        self.storage_options = storage_options
        if cache_bytes is None:
            from genozarr.config import OPTIONS

            cache_bytes = OPTIONS["chunk_cache_bytes"]
        self.cache_bytes = cache_bytes
        self.root = opened.root if opened is not None else root
        #: the completion marker of the version opened first: a copy of this backend
        #: (pickled, or in a forked child) refuses a store rebuilt since
        self.marker = opened.marker if opened is not None else None
        self._reset()
        self._opened = opened

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._opened: Any = None
        #: in a forked child, the parent's opening, whose parsed metadata the child's own
        #: opening adopts (:meth:`~genozarr.store.open.OpenedStore.adopt`)
        self._parent_opened: Any = None
        self._group: Any = None
        self._arrays: dict[str, Any] = {}
        self._direct: dict[str, DirectChunks | None] = {}
        self._clen: dict[str, int] = {}
        self._shapes: dict[str, tuple[int, ...]] = {}
        self._dtypes: dict[str, np.dtype] = {}
        #: every array's zarr metadata from the consolidated metadata (shapes and dtypes
        #: without opening each array: thousands of contigs took seconds)
        self._array_meta: dict[str, Any] | None = None
        self._executor: ThreadPoolExecutor | None = None
        #: remote stores: the stored bytes of chunks read, for all arrays together
        self._stored = kept_bytes()
        #: the claim on the memory budget of arrays kept decoded with 'auto' (a forked
        #: child's copy of its parent's claim is not its own)
        self._claimed: weakref.finalize | None = None
        self._apply_mode()
        #: resident arrays: ``{name: (whole decoded array, decoded flag per chunk)}``
        self._whole: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        #: make resident arrays in memory shared with the processes forked after they
        #: were made (see :meth:`share_with_workers`)
        self._share = False
        self._whole_lock = threading.Lock()
        #: orders the flags and the rows they vouch for (between processes, once shared)
        self._flags_lock = _FlagsLock()
        #: resident arrays with every chunk decoded (in this process's view): the flags
        #: of the array found complete (a release makes a new array, never complete)
        self._complete: dict[str, np.ndarray] = {}
        #: resident chunks being decoded: ``{(name, chunk id, id of the array's flags):
        #: set when done}``
        self._decoding: dict[tuple[str, int, int], threading.Event] = {}
        #: threads decoding (and, remotely, fetching) chunks in parallel: chosen at their
        #: first use in this process (see :attr:`threads`)
        self._threads: int | None = None

    @property
    def threads(self) -> int:
        """Threads decoding (remotely: fetching) chunks in parallel, chosen when first
        needed in this process: a DataLoader worker that unpickled this store (spawn,
        forkserver) knows its share of the cores only once it runs."""
        if self._threads is None:
            self._threads = FETCH_THREADS if self.remote else decode_threads()
        return self._threads

    @threads.setter
    def threads(self, n: int) -> None:
        self._threads = int(n)

    @property
    def resident(self) -> bool:
        """Whether arrays are kept decoded in memory as they are read (``'auto'``: decided
        on first use, from the store's decoded size and :func:`memory_budget`)."""
        self._check_process()
        on = self._resident_on
        if on is None:
            with self._whole_lock:
                on = self._resident_on
                if on is None:
                    size = sum(math.prod(self.shape(name)) * self.dtype(name).itemsize
                               for name in self.names())
                    on = size > 0 and _claim(size)
                    log.debug("store %s: %d decoded bytes, memory budget %d: %s", self.path,
                              size, memory_budget(),
                              "kept decoded in memory" if on else "chunk cache")
                    if on:
                        self.cache = _ChunkCache(0)
                        self._claimed = weakref.finalize(self, _unclaim, size, os.getpid())
                    self._resident_on = on
        return on

    def _resident_now(self) -> bool:
        """:attr:`resident` for a read: inside :func:`reading_once`, whether the store is
        kept decoded already, without deciding it."""
        if _reading_once():
            self._check_process()
            return bool(self._resident_on)
        return self.resident

    @resident.setter
    def resident(self, value: bool | str) -> None:
        self.release_memory()
        self.resident_mode = value if value == "auto" else bool(value)
        self._apply_mode()

    def _apply_mode(self) -> None:
        """Residency and chunk cache as ``resident_mode`` says, before any read."""
        #: whether arrays are kept decoded in memory (None: 'auto', not decided yet)
        self._resident_on: bool | None = (None if self.resident_mode == "auto"
                                          else bool(self.resident_mode))
        # decoded chunks go either to the resident arrays or to an LRU, not to both
        self.cache = _ChunkCache(0 if self._resident_on else self.cache_bytes)

    def release_memory(self) -> None:
        """Drop the arrays kept decoded in memory and give their bytes back to the
        :func:`memory_budget` (they are decoded again if read)."""
        claimed, self._claimed = self._claimed, None
        if claimed is not None:
            claimed()
        with self._whole_lock:
            self._whole.clear()
            self._complete.clear()
            if self.resident_mode == "auto":  # decided again on the next read
                self._apply_mode()

    def close(self) -> None:
        """Let the store version go now (its hold, its decode threads, the arrays kept
        decoded); a later read opens the store again. Meant for when no other thread reads
        through this backend: a read running meanwhile does not fail and reads nothing of
        another store (the chunks it still needs are decoded in its own thread), but those
        it had not looked up yet come from the version a reopening finds."""
        opened, executor = self._opened, self._executor
        self.release_memory()
        self._reset()
        if executor is not None:
            executor.shutdown(wait=True)
        if opened is not None:
            opened.release()

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "storage_options": self.storage_options,
                "cache_bytes": self.cache_bytes, "root": self.root,
                "resident_mode": self.resident_mode, "marker": self.marker}

    def __setstate__(self, state: dict[str, Any]) -> None:
        state.setdefault("marker", None)
        self.__dict__.update(state)
        self._reset()

    def _check_process(self) -> None:
        """Reopen in a forked child (DataLoader workers): handles are per process. Resident
        arrays made before the fork are kept: they are shared memory, so what one process
        decodes into them every other one reads (the parent's claim on the memory budget
        covers them)."""
        if self._pid != _PROCESS[0]:
            whole, flags_lock, share = self._whole, self._flags_lock, self._share
            parent = self._opened
            if self.remote:  # what this reader held of the parent's clients: never
                # closed here (fsspec's cached filesystems were kept at the fork, by
                # genozarr.io._remote.keep_inherited_clients)
                keep_objects(self._opened, self._group, self._arrays, self._direct)
            self._reset()
            self._parent_opened = parent
            if share and whole:
                self._whole, self._flags_lock = dict(whole), flags_lock
                self._resident_on = True
                self.cache = _ChunkCache(0)
            elif self._resident_on is None:
                # 'auto' in a child its parent did not prepare (share_with_workers: the
                # PyTorch datasets do): its siblings are unknown, and each would keep a
                # private decoded copy against the whole budget (a plain DataLoader's N
                # workers: N copies), so it reads through the (bounded) chunk cache
                self._resident_on = False

    def share_with_workers(self) -> None:
        """Decide now (in this process) whether the store is kept decoded in memory and, if
        so, make its decoded arrays in shared memory: the processes forked from now on
        (PyTorch DataLoader workers) then fill and read one copy, each chunk decoded by
        whichever process needs it first, instead of a copy each. The arrays take memory
        only as chunks are decoded. Called by the PyTorch datasets when they are made."""
        if self.resident and self._flags_lock.share():
            self._share = True
            for name in self.names():
                self._resident(name)

    def _opening(self) -> Any:
        """The :class:`~genozarr.store.open.OpenedStore` of the version read (opened now
        if needed; a local reference, which a :meth:`close` in another thread does not
        take away)."""
        self._check_process()
        opened = self._opened
        if opened is None:
            from genozarr.store.open import open_resolved

            opened = open_resolved(self.path, self.storage_options, require_complete=False,
                                   root=self.root, marker=self.marker)
            self.root = opened.root
            if self.marker is None:
                self.marker = opened.marker
            parent, self._parent_opened = self._parent_opened, None
            if parent is not None:
                opened.adopt(parent)
            self._opened = opened
        return opened

    @property
    def group(self) -> Any:
        """The root ``zarr.Group`` of the store version read (opened on first use)."""
        self._check_process()
        group = self._group
        if group is None:
            group = self._group = self._opening().group()
        return group

    def stored_meta(self) -> Any:
        """The :class:`~genozarr.store.layout.StoreMeta` of the version this backend reads
        (as stored: the recipe it was published with or last recorded).

        Returns
        -------
        genozarr.store.layout.StoreMeta
            The metadata of the root group's ``genozarr`` attribute.
        """
        return self._opening().meta()

    def array(self, name: str) -> Any:
        """The zarr array ``name`` of the version read (opened on first use, then kept,
        with its direct chunk reader).

        Parameters
        ----------
        name
            Array path (one of :meth:`names`).

        Returns
        -------
        zarr.Array
            The opened array (stored dtype: bfloat16 not widened).
        """
        self._check_process()
        arr = self._arrays.get(name)
        if arr is None:
            arr = self._arrays[name] = self.group[name]
            self._direct[name] = (DirectChunks.for_array(arr)
                                  or RemoteChunks.for_array(arr, self._stored))
        return arr

    def names(self) -> list[str]:
        """Paths of the store's data arrays (coordinate arrays left out).

        Returns
        -------
        list of str
            :meth:`StoreMeta.array_paths <genozarr.store.layout.StoreMeta.array_paths>`
            of the stored metadata: ``['data']`` in the partial layout, one per
            chromosome, in chromosome order, in the whole-genome layout.

        See Also
        --------
        Backend.names
        """
        # the data arrays: one per chromosome in the whole-genome layout (the root group
        # holds no array there, so a whole-genome store counted 0 bytes and was never kept
        # decoded in memory by cache='auto')
        return self.stored_meta().array_paths()

    def shape(self, name: str) -> tuple[int, ...]:
        """Shape of array ``name``, from the consolidated metadata (kept once read).

        Parameters
        ----------
        name
            Array path (one of :meth:`names`).

        Returns
        -------
        tuple of int
            The zarr array's shape.

        See Also
        --------
        Backend.shape
        """
        self._check_process()
        shape = self._shapes.get(name)
        if shape is None:  # zarr's shape property is read per call: kept, as the arrays are
            shape = self._shapes[name] = tuple(int(n) for n in self._meta_of(name).shape)
        return shape

    def _meta_of(self, name: str) -> Any:
        """Array ``name``'s zarr metadata (consolidated), else the opened array."""
        if self._array_meta is None:
            from genozarr.store.open import array_metadata

            self._array_meta = array_metadata(self.group)
        found = self._array_meta.get(name)
        return found if found is not None else self.array(name)

    def dtype(self, name: str) -> np.dtype:
        """The dtype of the values read from array ``name``: its stored dtype, except
        float32 for bfloat16 (widened as each chunk is decoded).

        Parameters
        ----------
        name
            Array path (one of :meth:`names`).

        Returns
        -------
        numpy.dtype
            The dtype of every array this backend returns for ``name``.
        """
        dtype = self._dtypes.get(name)
        if dtype is None:
            dtype = self._dtypes[name] = value_dtype(_native_dtype(self._meta_of(name)))
        return dtype

    def chunk_len(self, name: str) -> int:
        """First-axis length of the chunks read: the inner chunks of a sharded array (one
        ranged read or request each, the shard's index read once), except where a remote
        sharded array is read through zarr (whole shards then: through zarr an inner chunk
        costs a request for the shard's index and one for the chunk).

        Parameters
        ----------
        name
            Array path (one of :meth:`names`).

        Returns
        -------
        int
            First-axis entries (rows, or bins in the whole-genome layout) per chunk read.
        """
        size = self._clen.get(name)
        if size is None:
            arr = self.array(name)
            shards = getattr(arr, "shards", None)
            whole = self.remote and shards is not None and self._direct.get(name) is None
            size = int(shards[0] if whole else arr.chunks[0])
            self._clen[name] = size
        return size

    def _load_chunk(self, name: str, index: int) -> np.ndarray:
        arr = self.array(name)
        size = self.chunk_len(name)
        stop = min((index + 1) * size, arr.shape[0])
        direct = self._direct.get(name)
        if direct is not None:
            return self._shared(name, index, direct.read(index))
        try:
            block = widen(np.ascontiguousarray(arr[index * size:stop]))
        except GenozarrError:
            raise
        except Exception as e:  # zarr's and the codecs' own errors: name the chunk
            from genozarr.store.open import unreadable

            key = arr.metadata.encode_chunk_key((index,) + (0,) * (arr.ndim - 1))
            raise unreadable(f"chunk {self.path}/{name}/{key} (rows {index * size} to "
                             f"{stop})", e) from e
        block.flags.writeable = False  # shared through the cache: never modified in place
        return block

    def _shared(self, name: str, index: int, block: np.ndarray) -> np.ndarray:
        """Chunk ``index`` as read directly (the full chunk shape) cut to the array's rows
        (the edge chunk), made read-only: it is shared through the cache."""
        rows = self.shape(name)[0] - index * self.chunk_len(name)  # from this chunk's first
        if rows < len(block):
            block = block[:rows]
        block.flags.writeable = False  # never modified in place
        return block

    def _chunk(self, name: str, index: int) -> np.ndarray:
        self._check_process()
        return self.cache.get_or_load((name, index), lambda: self._load_chunk(name, index))

    def _pool(self) -> ThreadPoolExecutor:
        """Threads decoding chunks in parallel (Blosc releases the GIL)."""
        self._check_process()
        if self._executor is None:
            with _POOL_LOCK:
                if self._executor is None:
                    self._executor = _DecodePool(
                        max_workers=self.threads, thread_name_prefix="genozarr-decode")
        return self._executor

    def _load_group(self, name: str, ids: list[int]) -> list[np.ndarray]:
        """Decoded chunks ``ids`` (distinct) through the chunk cache. Small chunks of a
        local store (at most :data:`GROUP_READ_BYTES` decoded) are read as one group
        (:meth:`DirectChunks.read_many`): what is not cached is read and decoded together,
        with one cache lookup and one insertion for all of them."""
        direct = self._direct.get(name)
        if len(ids) > 1 and isinstance(direct, DirectChunks) \
                and direct.nbytes <= GROUP_READ_BYTES:
            self._check_process()
            return self.cache.get_or_load_many(
                [(name, cid) for cid in ids],
                lambda keys: self._load_many(name, direct, [k[1] for k in keys]))
        return [self._chunk(name, cid) for cid in ids]

    def _load_many(self, name: str, direct: DirectChunks, ids: list[int]) -> list[np.ndarray]:
        """:meth:`_load_chunk` of each of ``ids`` (a local array read directly)."""
        return [self._shared(name, cid, block)
                for cid, block in zip(ids, direct.read_many(ids))]

    def _start(self, name: str, ids: list[int]) -> None:
        """Remote arrays: start fetching the stored bytes of chunks ``ids``, all at once
        (a no-op for local ones)."""
        direct = self._direct.get(name)
        if isinstance(direct, RemoteChunks) and ids:
            direct.start(ids)

    def _groups(self, name: str, missing: list[int]) -> list[list[int]]:
        """``missing`` chunks split into one share per thread; a remote sharded array's
        by shard, so that each share's chunks of one shard arrive in one request."""
        direct = self._direct.get(name)
        if isinstance(direct, RemoteChunks) and direct.sharded:
            by_shard: dict[int, list[int]] = {}
            for cid in missing:
                by_shard.setdefault(cid // direct.per_shard, []).append(cid)
            return list(by_shard.values())
        share = -(-len(missing) // self.threads)
        return [missing[g:g + share] for g in range(0, len(missing), share)]

    def _chunks(self, name: str, ids: list[int]) -> Iterator[tuple[int, np.ndarray]]:
        """Decoded chunks ``ids`` in order. The chunks not cached are decoded in parallel:
        each decode thread takes a contiguous share of them (one task per thread, not per
        chunk, so small inner chunks cost no scheduling overhead), a bounded number of
        chunks ahead, so a read touching many chunks never floods the cache. When every
        chunk is cached (a block-shuffled batch after its buffer's first), they are all
        looked up under one acquisition of the cache's lock (and the chunks found there
        are not looked up again when others are missing)."""
        self._check_process()
        if _reading_once():
            yield from self._chunks_once(name, ids)
            return
        cached = self.cache.get_cached([(name, cid) for cid in ids])
        if all(block is not None for block in cached):  # one lock for a batch's chunks
            yield from zip(ids, cached)
            return
        threads = self.threads
        if len(ids) == 1:
            yield ids[0], (cached[0] if cached[0] is not None else self._chunk(name, ids[0]))
            return
        pool = self._pool() if threads > 1 else None
        window = self._decode_window(name, threads)
        for w0 in range(0, len(ids), window):
            part, known = ids[w0:w0 + window], cached[w0:w0 + window]
            missing = [cid for cid, block in zip(part, known)
                       if block is None and self.cache.wanted((name, cid))]
            done: dict[int, np.ndarray] = {}
            if len(missing) > 1:
                self._start(name, missing)
                groups = self._groups(name, missing)
                if pool is None:  # one thread: every share read here
                    for g in groups:
                        done.update(zip(g, self._load_group(name, g)))
                else:
                    futures = [(g, pool.submit(self._load_group, name, g))
                               for g in groups[1:]]
                    done.update(zip(groups[0], self._load_group(name, groups[0])))
                    for g, fut in futures:
                        done.update(zip(g, fut.result()))
            for cid, block in zip(part, known):
                if block is None:
                    block = done.get(cid)
                yield cid, (block if block is not None else self._chunk(name, cid))

    def _decode_window(self, name: str, threads: int) -> int:
        """How many chunks of ``name`` :meth:`_chunks` decodes before it hands them on
        (all of them held until then): 8 per decode thread, at least 64, but no more
        than the chunk cache's bytes hold (else a fully random batch held up to 64 decoded
        chunks, 128 MiB of 2 MiB chunks, whatever ``chunk_cache_bytes`` said), and at
        least one per thread."""
        rows = math.prod(self.shape(name)[1:]) * self.dtype(name).itemsize
        fit = int(self.cache_bytes) // max(1, self.chunk_len(name) * rows)
        return max(threads, 1, min(max(8 * threads, 64), fit))

    def _chunks_once(self, name: str, ids: list[int]) -> Iterator[tuple[int, np.ndarray]]:
        """:meth:`_chunks` for a reader that passes once: cached chunks are used, the
        others decoded (in parallel, one share per decode thread, a bounded number
        ahead) and not cached."""
        cached = self.cache.get_cached([(name, cid) for cid in ids])
        direct = self._direct.get(name)
        small = isinstance(direct, DirectChunks) and direct.nbytes <= GROUP_READ_BYTES

        def load(group: list[int]) -> list[np.ndarray]:
            if small and len(group) > 1:  # read and decoded together, as _load_group does
                return self._load_many(name, direct, group)
            return [self._load_chunk(name, cid) for cid in group]

        pool = self._pool() if self.threads > 1 and len(ids) > 1 else None
        window = self._decode_window(name, self.threads)
        for w0 in range(0, len(ids), window):
            part, known = ids[w0:w0 + window], cached[w0:w0 + window]
            missing = [cid for cid, block in zip(part, known) if block is None]
            done: dict[int, np.ndarray] = {}
            if missing:
                self._start(name, missing)
                groups = self._groups(name, missing)
                results = pool.map(load, groups) if pool is not None else map(load, groups)
                for group, blocks in zip(groups, results):
                    done.update(zip(group, blocks))
            for cid, block in zip(part, known):
                yield cid, (block if block is not None else done[cid])

    # ------------------------------------------------------------------ resident arrays
    def _resident(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """The whole decoded array ``name`` and its decoded flag per chunk (allocated on
        first use; chunks are decoded into it as they are read)."""
        self._check_process()
        entry = self._whole.get(name)
        if entry is None:
            with self._whole_lock:
                entry = self._whole.get(name)
                if entry is None:
                    arr = self.array(name)
                    size = self.chunk_len(name)
                    # an array and its flags are both shared, or both private
                    dtype = self.dtype(name)
                    shared = self._share and not dtype.hasobject
                    new = _shared_empty if shared else np.empty
                    entry = (new(arr.shape, dtype),
                             new((-(-arr.shape[0] // size) if arr.shape[0] else 0,), bool))
                    entry[1][:] = False
                    self._whole[name] = entry
        return entry

    def _decode_into(self, name: str, cid: int, entry: tuple[np.ndarray, np.ndarray]) -> None:
        """Decode chunk ``cid`` of ``name`` into the resident array ``entry`` (see
        :meth:`_resident`), once: a thread asking for a chunk another thread is decoding
        waits for it (it never decodes it again)."""
        whole, done = entry
        key = (name, cid, id(done))
        # the lock and the table of the resident arrays this read resolved: close() makes
        # new ones for later reads while this one may still run
        lock, decoding, flags_lock = self._whole_lock, self._decoding, self._flags_lock
        while not done[cid]:
            with lock:
                if done[cid]:
                    return
                event = decoding.get(key)
                lead = event is None
                if lead:
                    event = decoding[key] = threading.Event()
            if not lead:
                event.wait()  # then done, or decode it here if that thread failed
                continue
            try:
                block = self._load_chunk(name, cid)
                lo, hi = cid * self.chunk_len(name), min((cid + 1) * self.chunk_len(name),
                                                         whole.shape[0])
                whole[lo:hi] = block[:hi - lo]
                with lock, flags_lock.hold():
                    done[cid] = True  # after its rows are in place
                    self.cache.misses += 1
            finally:
                with lock:
                    decoding.pop(key, None)
                event.set()

    def _fill_group(self, name: str, ids: list[int],
                    entry: tuple[np.ndarray, np.ndarray]) -> None:
        """Decode the chunks ``ids`` not yet decoded into the resident array ``entry``, in
        this thread (also a read-ahead task of the decode pool: it waits on no pool
        task)."""
        todo = [cid for cid in ids if not entry[1][cid]]
        for cid in todo:
            self._decode_into(name, cid, entry)

    def _undecoded(self, name: str, ids: np.ndarray,
                   entry: tuple[np.ndarray, np.ndarray]) -> list[int]:
        """The chunks among ``ids`` (repeats and ids out of range ignored) not yet decoded
        into the resident array ``entry``, in order.

        A read resolves its resident array once (:meth:`_resident`) and passes it to this
        and to :meth:`_fill`: the arrays may be released (:meth:`release_memory`) and made
        anew by another thread meanwhile, and the read must decode into and serve the one
        whose flags it checked."""
        _, done = entry
        if self._complete.get(name) is done:
            return []
        ids = np.asarray(self._in_range(name, ids), dtype=np.int64)
        with self._flags_lock.hold():  # rows another process decoded come with their flags
            missing = ids[~done[ids]].tolist()
            if not missing and bool(done.all()):
                self._complete[name] = done
        return missing

    def _to_load(self, name: str, ids: np.ndarray,
                  entry: tuple[np.ndarray, np.ndarray] | None) -> list[int]:
        """The chunks among ``ids`` (repeats and ids out of range ignored) still to decode:
        not yet in the resident array ``entry``, or (None: no resident array) neither
        cached nor being decoded."""
        if entry is not None:
            return self._undecoded(name, ids, entry)
        return [cid for cid in self._in_range(name, ids) if self.cache.wanted((name, cid))]

    def _in_range(self, name: str, ids: np.ndarray) -> list[int]:
        """The chunk ids among ``ids`` that exist in array ``name``, once each, sorted."""
        n = -(-self.shape(name)[0] // self.chunk_len(name))
        # a batch's ids: a few distinct values among up to a few thousand, where a set
        # is faster than np.unique
        return sorted(c for c in set(np.asarray(ids, dtype=np.int64).tolist()) if 0 <= c < n)

    @property
    def latency(self) -> float | None:
        """Remote stores: seconds from asking for a chunk's bytes to having them (a moving
        average over recent requests; the slowest array's), None before any request or
        for a local store."""
        seen = [d.latency for d in self._direct.values()
                if isinstance(d, RemoteChunks) and d.latency is not None]
        return max(seen) if seen else None

    def _fill(self, name: str, missing: list[int],
              entry: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """Decode the chunks ``missing`` (see :meth:`_undecoded`) into the resident array
        ``entry`` (in parallel, the caller's thread taking a share); return the array."""
        whole, _ = entry
        self._start(name, missing)
        if len(missing) > 1 and self.threads > 1:
            groups = self._groups(name, missing)
            pool = self._pool()
            futures = [pool.submit(self._fill_group, name, g, entry) for g in groups[1:]]
            self._fill_group(name, groups[0], entry)
            for fut in futures:
                fut.result()
        elif missing:
            self._fill_group(name, missing, entry)
        return whole

    def _read_resident(self, name: str, ids: np.ndarray) -> np.ndarray:
        """The resident array ``name`` with the chunks ``ids`` decoded into it (one array
        resolved for both steps: see :meth:`_undecoded`)."""
        entry = self._resident(name)
        return self._fill(name, self._undecoded(name, ids, entry), entry)

    def prefetch_rows(self, name: str, rows: np.ndarray, *, fetch_only: bool = False) -> int:
        """Start decoding, in background threads, the chunks holding ``rows`` that are not
        cached (read-ahead), at most a quarter of the chunk cache of them (the first ones;
        the others decode when the rows are read), so that read-ahead never evicts the
        chunks in use. With ``fetch_only``, only start fetching their stored bytes from a
        remote store (read-ahead further out: no decoded memory is used; nothing locally).
        Returns the decoded bytes of the chunks started (0 with ``fetch_only``, and for
        the small inner chunks :meth:`read_rows` gathers past the cache: nothing of them is
        decoded ahead).

        Parameters
        ----------
        name
            Array path (one of :meth:`names`).
        rows
            First-axis indices about to be read (any order, repeats allowed); rows past
            the array are ignored.
        fetch_only
            Only start fetching the stored bytes of a remote store's chunks.

        Returns
        -------
        int
            Decoded bytes of the chunks whose decoding was started.
        """
        if not self._resident_now() and self._gatherer(name) is not None:
            return 0
        return self.prefetch_chunks(name, np.asarray(rows, dtype=np.int64)
                                    // self.chunk_len(name), fetch_only=fetch_only)

    def prefetch_chunks(self, name: str, ids: np.ndarray, *, fetch_only: bool = False) -> int:
        """:meth:`prefetch_rows` for the chunks ``ids`` (repeats and ids out of range
        ignored).

        Parameters
        ----------
        name
            Array path (one of :meth:`names`).
        ids
            Chunk indices along the first axis (row // :meth:`chunk_len`).
        fetch_only
            Only start fetching the stored bytes of a remote store's chunks.

        Returns
        -------
        int
            Decoded bytes of the chunks whose decoding was started (0 with
            ``fetch_only``, or when every chunk is decoded, cached or being decoded).
        """
        entry = self._resident(name) if self.resident else None
        if entry is not None and self._complete.get(name) is entry[1]:  # all decoded already
            return 0
        arr = self.array(name)
        size = self.chunk_len(name)
        if fetch_only:
            if isinstance(self._direct.get(name), RemoteChunks):
                self._start(name, self._to_load(name, ids, entry))
            return 0
        missing = self._to_load(name, ids, entry)
        if not missing:  # the usual case of a batch ahead: its chunks are cached
            return 0
        chunk_bytes = size * math.prod(arr.shape[1:]) * self.dtype(name).itemsize
        if entry is None:
            missing = missing[:self.cache.max_bytes // 4 // max(chunk_bytes, 1)]
        if not missing:
            return 0
        self._start(name, missing)
        pool = self._pool()
        for group in self._groups(name, missing):  # one task per thread, not per chunk
            if entry is not None:
                pool.submit(self._fill_group, name, group, entry)
            else:
                pool.submit(self._load_group, name, group)
        return len(missing) * chunk_bytes

    def read_rows(self, name: str, rows: np.ndarray) -> np.ndarray:
        """First-axis entries ``rows`` of array ``name``, each chunk they lie in decoded
        once (from the resident array, the chunk cache, or straight from the chunks).

        Parameters
        ----------
        name
            Array path (one of :meth:`names`).
        rows
            1-D integer array of first-axis indices, in any order, repeats allowed.

        Returns
        -------
        numpy.ndarray
            A new array of shape ``(len(rows),) + shape(name)[1:]`` and dtype
            :meth:`dtype`, in the order of ``rows``.

        Raises
        ------
        IndexError
            When a row lies outside ``[0, shape(name)[0])``.

        See Also
        --------
        Backend.read_rows
        """
        rows = np.asarray(rows, dtype=np.int64)
        arr = self.array(name)
        size = self.chunk_len(name)
        out = batch_empty((len(rows),) + tuple(arr.shape[1:]), self.dtype(name))
        if len(rows) == 0:
            return out
        if np.any((rows < 0) | (rows >= arr.shape[0])):
            raise IndexError(f"rows out of range for array {name!r} of length {arr.shape[0]}")
        if self._resident_now():
            whole = self._read_resident(name, rows // size)
            if len(rows) > 1 and bool((np.diff(rows) == 1).all()):  # consecutive rows:
                out[...] = whole[rows[0]:rows[-1] + 1]  # one copy
                return out
            # rows checked above; with out=, mode='raise' (the default) buffers the whole
            # result and copies it again: 2.7x slower for 64 rows of 16 kB
            return np.take(whole, rows, axis=0, out=out, mode="clip")
        direct = self._gatherer(name)
        if direct is not None:
            self._gather(name, direct, rows, size, out)
            return out
        chunk_ids = rows // size
        steps = np.diff(rows)
        if bool((steps >= 0).all()):
            # sorted rows (sequential or block-shuffled batches): copy straight into `out`,
            # one slice per chunk whose rows are consecutive, else one take
            cids, starts, ends, local, first, runs = _chunk_runs(rows, size)
            spans = dict(zip(cids.tolist(),
                             zip(starts.tolist(), ends.tolist(), first.tolist(), runs.tolist())))
            for cid, block in self._chunks(name, list(spans)):
                a, b, f, run = spans[cid]
                if run:
                    out[a:b] = block[f:f + b - a]
                else:
                    np.take(block, local[a:b], axis=0, out=out[a:b], mode="clip")
            return out
        order = np.argsort(chunk_ids, kind="stable")
        sorted_ids = chunk_ids[order]
        groups = {int(sorted_ids[g[0]]): g for g in
                  np.split(np.arange(len(order)), np.flatnonzero(np.diff(sorted_ids)) + 1)}
        for cid, block in self._chunks(name, list(groups)):
            sel = order[groups[cid]]
            out[sel] = block[rows[sel] - cid * size]
        return out

    def _gatherer(self, name: str) -> DirectChunks | None:
        """The direct reader of array ``name`` where rows are gathered straight from its
        chunks, past the chunk cache (:meth:`DirectChunks.gather`): the small inner
        chunks of a local sharded array, where the cache's bookkeeping per chunk costs
        more than decoding the chunk again."""
        self.array(name)  # its reader made
        direct = self._direct.get(name)
        if isinstance(direct, DirectChunks) and direct.per_shard and direct.gathers \
                and direct.nbytes <= GROUP_READ_BYTES:
            return direct
        return None

    def _gather(self, name: str, direct: DirectChunks, rows: np.ndarray, size: int,
                out: np.ndarray) -> None:
        """Rows ``rows`` (in range) of a :meth:`_gatherer` array into ``out``: one job per
        chunk (its rows of ``out`` and of the chunk, as slices where they are
        consecutive), the jobs shared out among the decode threads. Chunks of several
        rows are looked up in the chunk cache first, and the ones decoded for only some
        of their rows are cached (a block-shuffled or random order comes back to them);
        a chunk of one row is only ever read whole, straight into ``out``."""
        order = None if bool((rows[1:] >= rows[:-1]).all()) else np.argsort(rows, kind="stable")
        cids, starts, ends, local, first, runs = _chunk_runs(
            rows if order is None else rows[order], size)
        counts = ends - starts
        if order is None:
            dst0, consec = starts, np.ones(len(starts), dtype=bool)
        else:
            step = np.r_[0, np.cumsum(np.diff(order) == 1)]
            dst0, consec = order[starts], (step[ends - 1] - step[starts]) == counts - 1
        jobs = [(cid, slice(d, d + n) if c else order[a:a + n],
                 slice(f, f + n) if r else local[a:a + n])
                for cid, a, n, f, r, d, c in zip(
                    cids.tolist(), starts.tolist(), counts.tolist(), first.tolist(),
                    runs.tolist(), dst0.tolist(), consec.tolist())]
        cache = self.cache if (size > 1 and self.cache.max_bytes > 0
                               and not _reading_once()) else None
        if cache is not None:
            cached = cache.get_cached([(name, job[0]) for job in jobs])
            todo = []
            for job, block in zip(jobs, cached):
                if block is None:
                    todo.append(job)
                else:
                    out[job[1]] = block[job[2]]
            jobs = todo
        # threads only for chunks that take a while to decode: for small ones, handing
        # the GIL back and forth between threads costs more than the decoding they share
        threads = (self.threads if len(jobs) >= 2 * _GATHER_SHARE
                   and direct.nbytes >= _GATHER_THREAD_BYTES else 1)
        share = -(-len(jobs) // threads) if jobs else 1
        # each share's chunks decoded for part of their rows, to cache (None: no cache)
        keeps: list[Any] = [[] if cache is not None else None for _ in range(threads)]
        futures = ([self._pool().submit(direct.gather, jobs[g:g + share], out,
                                        keeps[g // share])
                    for g in range(share, len(jobs), share)] if threads > 1 else [])
        try:
            direct.gather(jobs[:share], out, keeps[0])
        finally:
            for fut in futures:
                fut.result()
        if cache is not None:
            cache.put_many([((name, cid), self._shared(name, cid, block))
                            for part in keeps for cid, block in part])

    def read_windows(self, name: str, starts: np.ndarray, length: int,
                     out: np.ndarray | None = None, rows: np.ndarray | None = None) -> np.ndarray:
        """As :meth:`Backend.read_windows`: windows cut out of the decoded chunks they lie
        in, each chunk decoded once (the few windows across a chunk boundary are read as
        ranges), not one :meth:`read_range` per window, each chunk's windows gathered
        straight into their rows of the batch.

        Parameters
        ----------
        name
            Array path (one of :meth:`names`).
        starts
            1-D integer array: the first first-axis index (bin) of each window, every
            window ``[s, s + length)`` within the array.
        length
            First-axis entries per window (bins).
        out
            Array to write the windows into, of shape ``(n, length) + shape(name)[1:]``;
            None returns a new array.
        rows
            The row of the result that receives each window (one per start); None:
            rows ``0`` to ``len(starts) - 1``.

        Returns
        -------
        numpy.ndarray
            ``out``, or a new array of shape ``(len(starts), length) + shape(name)[1:]``
            and dtype :meth:`dtype`.

        See Also
        --------
        Backend.read_windows
        """
        starts = np.asarray(starts, dtype=np.int64)
        k = len(starts)
        dest = None if rows is None else np.asarray(rows)  # None: rows 0 .. k - 1
        size = self.chunk_len(name)
        if self._resident_now():
            first, last = starts // size, (starts + length - 1) // size
            whole = self._read_resident(name, window_chunks(first, last))
            picked = window_views(whole, starts, length)
            if out is None:
                if not np.may_share_memory(picked, whole):  # (a copy of its own: windows
                    return picked  # out of order, gathered by numpy's fancy indexing)
                out = batch_empty(picked.shape, picked.dtype)  # (reused memory)
                np.copyto(out, picked)
                return out
            out[slice(0, k) if dest is None else dest] = picked
            return out
        if out is None:
            out = batch_empty((k, length) + self.shape(name)[1:], self.dtype(name))
        if k > 1 and not bool((starts[1:] >= starts[:-1]).all()):  # taken in order of start
            order = np.argsort(starts, kind="stable")
            starts, dest = starts[order], (order if dest is None else dest[order])
        first, last = starts // size, (starts + length - 1) // size
        # in order of start, each chunk's windows are consecutive, the ones that lie inside
        # it first: one gather per chunk, into their rows of the batch
        change = (np.flatnonzero(first[1:] != first[:-1]) + 1).tolist()
        bounds = [0, *change, k]
        inside = np.add.reduceat(first == last, bounds[:-1]).tolist()
        across: list[int] = []  # the windows across a chunk boundary, read as ranges
        chunks = self._chunks(name, first[bounds[:-1]].tolist())
        for (cid, block), r0, r1, m in zip(chunks, bounds[:-1], bounds[1:], inside):
            if m:
                every = regular_windows(block, len(block) - length + 1, 1, length)
                # (a fancy index: np.take would first copy the overlapping view whole)
                out[slice(r0, r0 + m) if dest is None else dest[r0:r0 + m]] = \
                    every[starts[r0:r0 + m] - cid * size]
            across.extend(range(r0 + m, r1))
        for j in across:
            out[j if dest is None else dest[j]] = self.read_range(
                name, int(starts[j]), int(starts[j]) + length)
        return out

    def read_range(self, name: str, start: int, stop: int, view: bool = False) -> np.ndarray:
        """First-axis entries ``[start, stop)`` of array ``name``.

        Parameters
        ----------
        name
            Array path (one of :meth:`names`).
        start, stop
            0-based, half-open range of first-axis indices (rows, or bins in the
            whole-genome layout), clipped to ``[0, shape(name)[0]]``.
        view
            The caller only reads the result: a range within one chunk (or of a resident
            array) is then a read-only view of it instead of a copy.

        Returns
        -------
        numpy.ndarray
            Shape ``(n,) + shape(name)[1:]``, ``n`` the rows of the clipped range (0 when
            it is empty), dtype :meth:`dtype`.

        See Also
        --------
        Backend.read_range
        """
        shape = self.shape(name)
        size = self.chunk_len(name)
        start, stop = max(0, start), min(stop, shape[0])
        if stop <= start:
            return np.empty((0,) + shape[1:], dtype=self.dtype(name))
        first, last = start // size, (stop - 1) // size
        if self._resident_now():
            whole = self._read_resident(name, np.arange(first, last + 1))
            return _read_only(whole[start:stop], view)
        if first == last and not _reading_once():  # within one chunk (a batch in order)
            base = first * size
            return _read_only(self._chunk(name, first)[start - base:stop - base], view)
        out = np.empty((stop - start,) + shape[1:], dtype=self.dtype(name))
        for cid, block in self._chunks(name, list(range(first, last + 1))):
            lo, hi = max(start, cid * size), min(stop, (cid + 1) * size)
            out[lo - start:hi - start] = block[lo - cid * size:hi - cid * size]
        return out

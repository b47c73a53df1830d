"""Minibatches of aligned datasets, read chunk by chunk, prefetched in the background.

:func:`batches` is the serving loop under the PyTorch and Keras adapters: it plans the
order of the windows (:func:`batch_plan`), reads each batch of every dataset with one call
per dataset (whole zarr chunks, decoded once and kept in the store's chunk cache, or the
store kept decoded in memory), and assembles the next batches in a background thread while
the caller works on the current one.
"""

from __future__ import annotations

import itertools
import math
import queue
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from genozarr._validate import check_bool
from genozarr.errors import ArgumentError, get_logger

__all__ = ["batches", "batch_plan", "chunk_rows", "read_batch"]

log = get_logger(__name__)


def _int_arg(name: str, value: Any, minimum: int) -> int:
    from genozarr._validate import check_int

    return int(check_int(name, value, minimum, allow_none=False))  # type: ignore[arg-type]


#: a seed of an order: an integer >= 0, a sequence of them (``(seed, epoch)``), anything
#: else :func:`numpy.random.default_rng` takes (a SeedSequence, a BitGenerator, a
#: Generator), or None (fresh entropy)
SeedLike = (int | np.integer | Sequence[int] | np.ndarray | np.random.SeedSequence
            | np.random.BitGenerator | np.random.Generator | None)


def seed_generator(seed: Any) -> np.random.Generator:
    """numpy's generator of ``seed`` (anything :func:`numpy.random.default_rng` takes as a
    seed but a bool), or an :class:`~genozarr.errors.ArgumentError` naming the argument
    (numpy's own errors named none)."""
    try:
        if isinstance(seed, (bool, np.bool_)):
            raise TypeError
        return np.random.default_rng(seed)
    except (TypeError, ValueError):
        raise ArgumentError(f"seed must be an integer >= 0, a sequence of them, a numpy "
                            f"Generator or None, got {seed!r}") from None


def epoch_seed(seed: int, epoch: int) -> int:
    """The order seed of ``epoch`` under a fixed integer ``seed``: the same on every rank,
    in every process, and for the PyTorch and Keras loaders alike.

    Parameters
    ----------
    seed
        The loader's seed (an integer >= 0).
    epoch
        The epoch.

    Returns
    -------
    int
        A seed for :func:`batch_plan`.
    """
    return int(np.random.SeedSequence([int(seed), int(epoch)]).generate_state(1)[0])


def batch_plan(n: int, batch_size: int, *, shuffle: bool = False,
               seed: SeedLike = None, drop_last: bool = False,
               block_size: int = 1, buffer_blocks: int = 4,
               shard: tuple[int, int] | None = None) -> list[np.ndarray]:
    """The windows of every batch of one epoch, as :func:`batches` reads them.

    The indices ``0..n-1`` are cut into consecutive blocks of ``block_size``. Without
    shuffling, batches follow the index order. With shuffling, the block order is
    permuted, then the indices of every group of ``buffer_blocks`` consecutive (permuted)
    blocks are permuted among themselves (with blocks of one window, the first permutation
    is already a full shuffle and the second is skipped), and the stream is cut into
    batches; the indices
    of one batch are returned sorted (a batch is a set to a model, and sorted rows read
    faster).

    Parameters
    ----------
    n
        Number of windows.
    batch_size
        Windows per batch.
    shuffle
        Randomise the order (see above).
    seed
        Seed or generator of the shuffle; None draws fresh entropy.
    drop_last
        Serve full batches only: unshuffled, the last batch is dropped when it is smaller
        than ``batch_size``; shuffled, the ``n % batch_size`` windows left out are drawn
        at random from the whole epoch (each window as likely to be left out).
    block_size
        Windows per block (normally the windows per zarr chunk; 1 gives a full shuffle).
    buffer_blocks
        Blocks mixed together by the second shuffle.
    shard
        ``(k, m)``: keep only the blocks ``k, k + m, k + 2m, ...`` of the (permuted) block
        order, so ``m`` workers with the same seed cover every window once.

    Returns
    -------
    list of numpy.ndarray
        Integer indices of each batch.
    """
    n = _int_arg("n", n, 0)
    batch_size = _int_arg("batch_size", batch_size, 1)
    block_size = _int_arg("block_size", block_size, 1)
    buffer_blocks = _int_arg("buffer_blocks", buffer_blocks, 1)
    shuffle = check_bool("shuffle", shuffle)  # ("false" was true)
    drop_last = check_bool("drop_last", drop_last)
    starts = np.arange(0, n, block_size)
    rng = seed_generator(seed) if shuffle else None
    if rng is not None:
        starts = rng.permutation(starts)
    if shard is not None:
        rule = f"shard must be (k, m), integers with 0 <= k < m, got {shard!r}"
        if not isinstance(shard, (tuple, list)) or len(shard) != 2:
            raise ArgumentError(rule)
        k, m = (_int_arg("shard", v, 0) for v in shard)
        if not k < m:
            raise ArgumentError(rule)
        starts = starts[k::m]
    # the blocks' windows one after the other, in block order
    lengths = np.minimum(block_size, n - starts)
    ends = np.cumsum(lengths)
    stream = np.arange(int(ends[-1]) if len(ends) else 0, dtype=np.int64)
    stream += np.repeat(starts - (ends - lengths), lengths)
    if rng is not None and block_size > 1:  # (with blocks of one window: already uniform)
        edges = np.r_[0, ends][::buffer_blocks].tolist() + [len(stream)]
        for lo, hi in itertools.pairwise(edges):  # the windows of buffer_blocks blocks
            if hi > lo:
                stream[lo:hi] = rng.permutation(stream[lo:hi])
    rest = len(stream) % batch_size
    if drop_last and rest and rng is not None:
        # the windows left out: any of the epoch's, each as likely. The stream's tail holds
        # the last group of blocks, mixed together: a short block (n not a multiple of
        # block_size) is more of a small group, and its windows were left out up to 3x as
        # often as others
        stream = np.delete(stream, rng.choice(len(stream), rest, replace=False))
    cut = range(0, len(stream), batch_size)
    plan = [stream[i:i + batch_size] for i in cut]
    if drop_last and plan and len(plan[-1]) < batch_size:
        plan.pop()
    if rng is not None:
        plan = [np.sort(b) for b in plan]
    return plan


def chunk_rows(dataset: Any) -> int:
    """Windows of ``dataset`` per zarr chunk of its store (1 for in-memory data).

    Parameters
    ----------
    dataset
        A :class:`~genozarr.dataset.Dataset`, a wrapper of one, or any array-like.

    Returns
    -------
    int
        The natural block size of :func:`batch_plan` for this dataset.
    """
    from genozarr.dataset import Dataset
    from genozarr.wrappers import _root

    root = _root(dataset)
    return root.chunk_rows if isinstance(root, Dataset) else 1


def _cache_rows(datasets: Sequence[Any]) -> int:
    """The most windows whose decoded chunks fit in half of every zarr store's configured
    chunk cache (whether or not the store is kept decoded in memory instead, so that a
    seed gives the same order on every machine)."""
    from genozarr.store.backend import ZarrBackend
    from genozarr.wrappers import _root

    rows = 2**62
    for d in datasets:
        store = getattr(_root(d), "garray", None)
        if store is None or not isinstance(store.backend, ZarrBackend) or store.whole_genome:
            continue
        name = store.meta.array_path()
        row_bytes = int(np.prod(store.backend.shape(name)[1:], dtype=np.int64)) * \
            store.backend.dtype(name).itemsize  # decoded: bfloat16 is cached as float32
        rows = min(rows, store.backend.cache_bytes // 2 // max(row_bytes, 1))
    return rows


def read_batch(dataset: Any, idx: np.ndarray) -> np.ndarray:
    """One batch of ``dataset`` (windows ``idx``) as numpy.

    Parameters
    ----------
    dataset
        A :class:`~genozarr.dataset.Dataset`, a wrapper, or any array-like.
    idx
        Window indices.

    Returns
    -------
    numpy.ndarray
    """
    from genozarr.dataset import Dataset
    from genozarr.wrappers import Wrapper

    if isinstance(dataset, Dataset):
        return dataset.read(idx)
    if isinstance(dataset, Wrapper):
        return dataset.read(idx)
    return np.asarray(dataset[idx])


def batches(*datasets: Any, batch_size: int, shuffle: bool = False,
            seed: SeedLike = None, drop_last: bool = False,
            block_size: int | None = None, buffer_blocks: int = 4, prefetch: int = 1,
            shard: tuple[int, int] | None = None) -> Iterator[tuple[np.ndarray, ...]]:
    """Iterate over aligned minibatches of one or more datasets.

    Every batch is a tuple with one numpy array per dataset, holding the same indices
    (``datasets[k][idx]`` for the batch's indices ``idx``). One epoch visits every window
    exactly once (the last batch may be smaller unless ``drop_last``). Datasets are paired
    by index, not by their windows: build them over the same regions (each may differ in
    binsize, flank or resolution, as inputs and targets do), or over regions paired
    row by row on purpose; only their lengths are checked.

    Parameters
    ----------
    *datasets
        Datasets of equal length: :class:`~genozarr.dataset.Cover`,
        :class:`~genozarr.dataset.Bioseq`, wrappers, or numpy arrays.
    batch_size
        Windows per batch.
    shuffle
        Serve the windows in a chunk-aware random order (see Notes).
    seed
        Seed of the order (anything :func:`numpy.random.default_rng` takes); None draws
        fresh entropy. The same seed gives the same order: pass ``(seed, epoch)`` for a
        new order each epoch (not ``seed + epoch``, which gives base seed ``s`` at epoch
        ``e + 1`` the order of base seed ``s + 1`` at epoch ``e``).
    drop_last
        Serve full batches only (see :func:`batch_plan`: shuffled, the windows left out
        are drawn from the whole epoch; in order, the last, smaller batch is dropped).
    block_size
        Windows per shuffled block; default: the most windows per zarr chunk among the
        datasets (1, a full shuffle, when all are in memory).
    buffer_blocks
        Blocks whose windows are mixed together; with the default ``block_size``, fewer
        when the buffer's decoded chunks would not fit in half of a store's chunk cache
        (``set_options(chunk_cache_bytes=...)``).
    prefetch
        Batches one background thread assembles ahead of the caller (0: batches are
        assembled in the caller's thread, while the chunks of the next batches still
        decode ahead in the store's decode threads). The thread pays off when the caller
        works between batches (a GPU step), and only costs when it does not: the first
        batches are read in the caller's thread, and the thread takes over once the
        caller's own time between batches reaches :data:`HANDOVER_SHARE` of the reading
        time (``docs/tuning.md``). The batches are assembled in order, so a random
        augmentation wrapper with a seed gives reproducible augmentations.
    shard
        ``(k, m)``: serve only the k-th of m disjoint parts (whole blocks), e.g. one per
        DataLoader worker; use the same seed in every part.

    Yields
    ------
    tuple of numpy.ndarray
        One batch per dataset.

    Raises
    ------
    ArgumentError
        For no datasets, datasets of different lengths or bad sizes.

    Notes
    -----
    **Randomness versus reading speed.** Reading a window from a zarr store decodes its
    whole chunk, so a fully random order decodes about one chunk per window. The shuffled
    order therefore permutes *blocks* (one chunk of windows each) and then mixes the
    windows of ``buffer_blocks`` consecutive blocks, decoding every chunk once per epoch.
    The price: a batch draws its windows from only ``buffer_blocks`` blocks, so windows
    stored next to each other (neighbouring genomic windows) land in the same batch more
    often than under a full shuffle, and a window's position within the epoch is
    uniform only at the block level. Each epoch's first-order statistics are unchanged
    (every window once). Larger ``buffer_blocks`` (or a smaller ``block_size``) moves
    towards a full shuffle at the cost of memory (``buffer_blocks`` decoded chunks per
    dataset) or decode work. Building datasets with ``random_state`` stores the windows
    in random genomic order, which removes the neighbour correlation: block shuffling of
    such a store is then close to a full shuffle at the cost of a sequential read.

    Examples
    --------
    >>> import numpy as np
    >>> x, y = np.arange(10), np.arange(10) * 2
    >>> [b[0].tolist() for b in batches(x, y, batch_size=4)]
    [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    """
    if not datasets:
        raise ArgumentError("batches needs at least one dataset")
    for d in datasets:
        if isinstance(d, (list, tuple, dict)):
            raise ArgumentError(
                f"batches takes datasets as separate arguments, got a {type(d).__name__}: "
                "batches(x, y), or batches(*datasets); labels in a Python list: pass "
                "np.asarray(labels)")
    lengths = {len(d) for d in datasets}
    if len(lengths) != 1:
        raise ArgumentError(
            f"batches needs datasets of equal length, got lengths {[len(d) for d in datasets]}")
    n = lengths.pop()
    prefetch = _int_arg("prefetch", prefetch, 0)
    if block_size is None:
        block_size = max(chunk_rows(d) for d in datasets)
        if shuffle:
            # the windows of a buffer must fit in half of every store's chunk cache, or
            # chunks are evicted and decoded again within one buffer
            fit = _cache_rows(datasets) // block_size
            if fit < buffer_blocks:
                log.debug("batches: buffer of %d blocks of %d windows reduced to %d to fit the "
                          "chunk cache", buffer_blocks, block_size, max(fit, 1))
                buffer_blocks = max(fit, 1)
    plan = batch_plan(n, batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last,
                      block_size=block_size, buffer_blocks=buffer_blocks, shard=shard)
    return _iterate(datasets, plan, prefetch)


def share_stores(datasets: Sequence[Any]) -> None:
    """Prepare the stores under ``datasets`` for worker processes forked from now on (the
    PyTorch DataLoader's, Keras' ``use_multiprocessing``): a store kept decoded in memory
    is one copy in shared memory that every worker fills and reads, instead of a copy
    decoded in each; one that is not (too large for the budget, or ``cache=None``) is read
    through each worker's chunk cache (see ``ZarrBackend.share_with_workers``).

    Parameters
    ----------
    datasets
        Datasets (wrappers included).
    """
    from genozarr.store.backend import ZarrBackend

    for root in _roots(datasets):
        backend = root.garray.backend
        if isinstance(backend, ZarrBackend):
            backend.share_with_workers()


def _roots(datasets: Sequence[Any]) -> list[Any]:
    """The store-backed datasets under ``datasets`` (wrappers removed)."""
    from genozarr.dataset import Dataset
    from genozarr.wrappers import _root

    return [r for r in map(_root, datasets) if isinstance(r, Dataset)]


def _warm(roots: Sequence[Any], idx: np.ndarray, fetch_only: bool = False) -> int:
    """Start decoding the zarr chunks a coming batch needs (read-ahead), or with
    ``fetch_only`` start fetching their stored bytes from remote stores; the decoded bytes
    started."""
    return sum(root.prefetch(idx, fetch_only=True) if fetch_only else root.prefetch(idx)
               for root in roots)


#: batches whose chunks are always decoded ahead of the batch being read
DECODE_AHEAD = 2
#: most batches whose chunks are decoded ahead: beyond DECODE_AHEAD, read-ahead goes on while
#: the decoded bytes it started for batches not yet read stay under an eighth of the smallest
#: chunk cache. Block-shuffled batches reuse the chunks of their buffer, so only a buffer's
#: first batch decodes: its chunks start decoding up to this many batches early, not two.
MAX_DECODE_AHEAD = 32
#: most batches whose stored bytes are fetched ahead from remote stores
MAX_FETCH_AHEAD = 64
#: batches fetched ahead from remote stores before their latency is known
_FETCH_AHEAD_START = 8


class _Ahead:
    """How far ahead of the batch being read chunks are decoded (:data:`DECODE_AHEAD`
    batches) and, from remote stores, fetched: the batches that arrive within two round
    trips at the rate batches are used, that is ``2 * latency / fastest recent batch
    interval`` beyond the decoded ones, at most :data:`MAX_FETCH_AHEAD` (the fastest
    interval, not the mean, so that waiting for data never shrinks the read-ahead that
    would end the wait)."""

    def __init__(self, roots: Sequence[Any]) -> None:
        self.decode = DECODE_AHEAD
        backends = [r.garray.backend for r in roots]
        self.remote = [b for b in backends if getattr(b, "remote", False)]
        caches = [b.cache_bytes for b in backends
                  if isinstance(getattr(b, "cache_bytes", None), int)]
        #: decoded bytes started ahead beyond DECODE_AHEAD batches
        self.budget = min(caches) // 8 if caches else 0
        self._intervals: list[float] = []
        self._last: float | None = None

    def tick(self) -> None:
        """A batch was handed over."""
        now = time.perf_counter()
        if self._last is not None:
            self._intervals = self._intervals[-15:] + [now - self._last]
        self._last = now

    @property
    def fetch(self) -> int:
        if not self.remote:
            return self.decode
        latency = max((b.latency or 0.0 for b in self.remote), default=0.0)
        if not latency or not self._intervals:
            return self.decode + _FETCH_AHEAD_START
        fastest = max(min(self._intervals), 1e-5)
        return int(min(MAX_FETCH_AHEAD, self.decode + math.ceil(2 * latency / fastest)))


def _read_all(datasets: Sequence[Any], idx: np.ndarray) -> tuple[np.ndarray, ...]:
    return tuple(read_batch(d, idx) for d in datasets)


def _serial(datasets: Sequence[Any], plan: list[np.ndarray]) -> Iterator[tuple[np.ndarray, ...]]:
    """The batches of ``plan``, assembled one after the other in the calling thread while
    the chunks of the next batches decode ahead in the stores' decode threads (and, from
    remote stores, the stored bytes of the batches after those are fetched)."""
    roots = _roots(datasets)
    ahead = _Ahead(roots)
    decoded = fetched = 1  # plan[1:decoded] asked to decode, plan[1:fetched] to fetch
    started: deque[tuple[int, int]] = deque()  # (batch, decoded bytes it started) ahead
    pending = 0  # their sum
    for i, idx in enumerate(plan):
        while started and started[0][0] <= i:
            pending -= started.popleft()[1]
        if ahead.remote:
            while fetched < min(len(plan), i + 2 + ahead.fetch):
                _warm(roots, plan[fetched], fetch_only=True)
                fetched += 1
        last = min(len(plan), i + 2 + MAX_DECODE_AHEAD)
        while decoded < last and (decoded < i + 2 + ahead.decode or pending < ahead.budget):
            n = _warm(roots, plan[decoded])
            if n:
                started.append((decoded, n))
                pending += n
            decoded += 1
        yield _read_all(datasets, idx)
        ahead.tick()


def _put(out: queue.Queue, item: tuple[bool, Any], stop: threading.Event) -> bool:
    """Put ``item`` into ``out`` unless ``stop`` is set first; whether it was put."""
    while not stop.is_set():
        try:
            out.put(item, timeout=0.05)
            return True
        except queue.Full:
            continue
    return False


def _produce(batches_: Iterator[tuple[np.ndarray, ...]], out: queue.Queue,
             stop: threading.Event) -> None:
    """Put every batch of ``batches_`` into ``out`` (then :data:`_END`, or the exception
    that stopped it), until ``stop`` is set."""
    try:
        for batch in batches_:
            if not _put(out, (True, batch), stop):
                return
        item: tuple[bool, Any] = (True, _END)
    except BaseException as e:  # noqa: BLE001 - raised again in the consumer's thread
        item = (False, e)
    _put(out, item, stop)


#: end of a producer's batches
_END: Any = object()


#: the caller's own time between batches, as a share of the time to read one, from which
#: batches are assembled by a background thread (below it the hand-over costs more than the
#: overlap gains: the thread is worth it when the caller works, e.g. a GPU step)
HANDOVER_SHARE = 0.25
#: batches read in the caller's thread before the hand-over is considered
_PROBE = 2


def _iterate(datasets: Sequence[Any], plan: list[np.ndarray],
             prefetch: int) -> Iterator[tuple[np.ndarray, ...]]:
    batches_ = _serial(datasets, plan)
    if prefetch == 0 or len(plan) <= 1:
        yield from batches_
        return
    # batches are read in the caller's thread while the caller does little between them
    # (a loop that only reads: a thread would only add its hand-over); once the caller's
    # own time is HANDOVER_SHARE of the reading time, a thread takes over the rest
    read = work = 0.0
    for k in itertools.count():
        t0 = time.perf_counter()
        batch = next(batches_, _END)
        t1 = time.perf_counter()
        if batch is _END:
            return
        read += t1 - t0
        yield batch
        work += time.perf_counter() - t1
        if k + 1 >= _PROBE and work >= HANDOVER_SHARE * read:
            break
    # one thread assembles the batches in order, up to `prefetch` ahead of the consumer
    # (one thread: random augmentations draw in a reproducible order); it only waits when
    # that many batches are ready, so a consumer that keeps up never leaves it idle
    out: queue.Queue = queue.Queue(maxsize=prefetch)
    stop = threading.Event()
    producer = threading.Thread(target=_produce, args=(batches_, out, stop),
                                name="genozarr-prefetch", daemon=True)
    producer.start()
    try:
        while True:
            ok, item = out.get()
            if not ok:
                raise item
            if item is _END:
                return
            yield item
    finally:
        stop.set()
        producer.join()

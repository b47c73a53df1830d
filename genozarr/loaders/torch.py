"""PyTorch adapters: :func:`torch_loader` (a ready ``DataLoader``), the chunk-aware
:class:`TorchIterableDataset` and :class:`ChunkSampler`, and the map-style
:class:`TorchDataset`.

- :func:`torch_loader` (also ``Dataset.to_torch``) returns a :class:`GenozarrDataLoader`:
  whole batches read chunk-aware by :class:`TorchIterableDataset` (``batch_size=None`` in
  the ``DataLoader``: genozarr does the batching), sharded across ``torch.distributed``
  ranks and DataLoader workers, with optional joint augmentation
  (:class:`~genozarr.loaders.augment.Augment`) and a new order each pass.
- :class:`TorchIterableDataset` yields whole batches from :func:`genozarr.batches`.
- :class:`ChunkSampler` is a ``torch.utils.data.Sampler`` for map-style use: indices in
  :func:`~genozarr.batching.batch_plan`'s chunk-aware order, sharded across ranks like
  ``DistributedSampler`` (padded to equal lengths), with ``set_epoch``.
- :class:`TorchDataset` serves one item per index; with automatic batching the
  DataLoader asks for a whole batch at once (``__getitems__``), read with one call per
  dataset.

Everything works with ``num_workers > 0``: zarr stores reopen in each worker process
(their backends pickle as a URL and reset after a fork), and random augmentation wrappers
are reseeded per worker from PyTorch's worker seed and the ``torch.distributed`` rank, so
workers never repeat one another's draws, on one rank or across ranks.

**Sharding (iterable).** With ``R`` ranks of ``W`` DataLoader workers each, the epoch's
:func:`~genozarr.batching.batch_plan` (the same seed on every rank, mixed with the epoch)
is cut into ``R * W`` shards of whole blocks (one zarr chunk of windows each): worker
``w`` of rank ``r`` serves shard ``r * W + w`` (blocks ``r * W + w``, ``r * W + w +
R * W``, ...). Every window is served exactly once per epoch across all ranks and
workers; ranks may get a different number of batches (see :func:`torch_loader`).

**Epochs.** A pass over a :class:`GenozarrDataLoader` serves its ``epoch``, then the next
pass serves ``epoch + 1``; ``set_epoch`` (on the loader, or on its sampler or dataset, as
trainers do) chooses the epoch of the next pass. With persistent workers the epoch
reaches the workers through shared memory.

Examples
--------
>>> import numpy as np
>>> from torch.utils.data import DataLoader
>>> ds = TorchDataset(np.arange(6.0).reshape(6, 1), np.arange(6))
>>> x, y = next(iter(DataLoader(ds, batch_size=4)))
>>> x.shape, y.tolist()
(torch.Size([4, 1]), [0, 1, 2, 3])
>>> loader = torch_loader(np.arange(10), batch_size=4)
>>> [b.tolist() for b in loader]
[[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
"""

from __future__ import annotations

import math
import os
import threading
import weakref
from collections.abc import Iterator
from typing import Any

import numpy as np

try:
    import torch
except ImportError as _error:  # (an optional extra)
    raise ImportError("genozarr's PyTorch loaders need the optional package 'torch': install "
                      "it with `pip install genozarr[torch]` (or PyTorch's own instructions "
                      "for your platform)", name="torch") from _error
from torch.utils.data import DataLoader, Sampler, get_worker_info
from torch.utils.data import Dataset as _TorchDataset
from torch.utils.data import IterableDataset as _TorchIterable

from genozarr import config
from genozarr._validate import as_index, check_bool
from genozarr.batching import (
    batch_plan,
    batches,
    chunk_rows,
    epoch_seed,
    read_batch,
    share_stores,
)
from genozarr.config import OPTIONS, get_options
from genozarr.dataset import Bioseq
from genozarr.errors import ArgumentError, get_logger, warn
from genozarr.loaders import Structured
from genozarr.loaders.augment import Augment, BoundAugment, indices_key
from genozarr.wrappers import Wrapper

__all__ = ["torch_loader", "GenozarrDataLoader", "TorchDataset", "TorchIterableDataset",
           "ChunkSampler", "distributed_rank", "reseed_augmentations"]

log = get_logger(__name__)


def reseed_augmentations(datasets: list[Any], seed: int) -> None:
    """Reseed every random augmentation wrapper found in ``datasets``.

    Parameters
    ----------
    datasets
        Datasets or wrappers.
    seed
        Base seed; the k-th wrapper found gets a seed drawn from ``(seed, k)`` (numpy's
        ``SeedSequence``), so that no two (seed, wrapper) pairs share a stream: not
        ``seed + k``, which gave wrapper k + 1 of the worker seeded ``s`` the stream of
        wrapper k of the worker seeded ``s + 1`` (PyTorch seeds worker w with
        ``base_seed + w``).
    """
    for k, d in enumerate(_random_wrappers(datasets)):
        state = np.random.SeedSequence([int(seed) % 2**64, k]).generate_state(2, np.uint32)
        d.reseed((int(state[0]) << 31 | int(state[1]) >> 1) % 2**63)


def _random_wrappers(datasets: list[Any]) -> Iterator[Any]:
    """The random augmentation wrappers of ``datasets``, outermost first, dataset by
    dataset."""
    from genozarr.wrappers import Wrapper, _RandomWrapper

    for d in datasets:
        while isinstance(d, Wrapper):
            if isinstance(d, _RandomWrapper):
                yield d
            d = d.data


def _rank_streams(datasets: list[Any], rank: int) -> None:
    """Make every random wrapper of ``datasets`` draw a stream of rank ``rank``'s own,
    from its present one: loading without worker processes, every rank seeded alike
    (a seeded DDP script) drew the same factors, shifts and flips on every rank. A
    worker process reseeds its wrappers from its own seed and the rank instead
    (:meth:`_Structured.check_worker`)."""
    for d in _random_wrappers(datasets):
        d.reseed(np.random.default_rng([int(d.rng.integers(2**63)), int(rank)]))


def distributed_rank(rank: int | None = None,
                     world_size: int | None = None) -> tuple[int, int]:
    """``(rank, world_size)`` of this process for sharding.

    Each argument given wins (as ``DistributedSampler``'s ``rank`` and ``num_replicas``:
    shard over a sub-group, or test without a process group); one not given comes from
    ``torch.distributed`` when a process group is initialized, else is 0 (rank) or 1
    (world size).

    Parameters
    ----------
    rank
        Rank of this process, or None.
    world_size
        Number of processes, or None.

    Returns
    -------
    tuple of int

    Raises
    ------
    ArgumentError
        Unless ``0 <= rank < world_size``.
    """
    dist = torch.distributed
    initialized = dist.is_available() and dist.is_initialized()
    if world_size is None:
        world_size = dist.get_world_size() if initialized else 1
    if rank is None:
        rank = dist.get_rank() if initialized else 0
    for name, value in (("rank", rank), ("world_size", world_size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ArgumentError(f"{name} must be an integer, got {value!r}")
    if not 0 <= int(rank) < int(world_size):
        raise ArgumentError(f"rank must be in [0, world_size), got rank {rank} of {world_size}")
    return int(rank), int(world_size)


def _check_seed(seed: Any) -> int | None:
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ArgumentError(f"seed must be a non-negative integer or None, got {seed!r}")
    return int(seed)


def _torch_seed(generator: Any = None) -> int:
    """A seed drawn from ``generator``, or from PyTorch's default generator (reproducible
    under manual_seed)."""
    draw = torch.empty((), dtype=torch.int64)
    if generator is None:
        draw.random_()
    else:
        draw.random_(generator=generator)
    return int(draw.item()) % 2**63


class _SharedEpoch:
    """An epoch number (or a loader's pass count) in shared memory: persistent DataLoader
    workers see ``set_epoch`` calls made in the main process after they started (a plain
    attribute would not)."""

    def __init__(self, epoch: int = 0) -> None:
        self._t = torch.zeros((), dtype=torch.int64)
        try:
            self._t.share_memory_()
        except (RuntimeError, OSError) as err:  # pragma: no cover - no shared memory
            log.debug("epoch counter not in shared memory (%s): persistent workers will not "
                      "see set_epoch", err)
        self.value = epoch

    @property
    def value(self) -> int:
        return int(self._t.item())

    @value.setter
    def value(self, epoch: int) -> None:
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise ArgumentError(f"epoch must be a non-negative integer, got {epoch!r}")
        self._t.fill_(int(epoch))


def _to_tensor(x: np.ndarray) -> torch.Tensor:
    # (np.require keeps a 0-d item 0-d: ascontiguousarray made it shape (1,), so an item's
    # label was a tensor of one value where the batch's labels are scalars)
    x = np.require(x, requirements="C")
    if not x.dtype.isnative:  # (big-endian targets: torch takes native byte order only)
        x = x.astype(x.dtype.newbyteorder("="))
    elif not x.flags.writeable:
        x = x.copy()
    if x.dtype.name == "bfloat16":  # (ml_dtypes' bfloat16: torch's, bit for bit)
        return torch.from_numpy(x.view(np.uint16)).view(torch.bfloat16)
    return torch.from_numpy(x)


#: shared memory the batch slots of all of one loader's workers may hold together; past
#: it (very large batches, many workers) batches travel as PyTorch tensors
SLOT_BYTES_MAX = 512 * 2**20

#: byte alignment of the arrays of a batch inside its slot
_SLOT_ALIGN = 64


def _slot_view(buf: np.ndarray, off: int, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """The array of a batch at ``(off, shape, dtype)`` of a slot's bytes ``buf``: where a
    worker writes it and where the training process reads it."""
    dt = np.dtype(dtype)
    return buf[off:off + math.prod(shape) * dt.itemsize].view(dt).reshape(shape)


class _SlotBatch:
    """A batch on its way from a DataLoader worker to the training process: its arrays lie
    in slot ``key = (worker pid, slot)`` of the worker's shared memory at ``layout``
    (``(offset, shape, dtype)`` each); ``storage`` is the slot itself the first time the
    slot is used in a pass (the training process keeps it), else None. ``worker`` and
    ``seq`` (the worker's batch number) tell the worker when the slot is free again."""

    def __init__(self, key: tuple[int, int], storage: torch.Tensor | None,
                 layout: list[tuple[int, tuple[int, ...], str]], worker: int = 0,
                 seq: int = 0) -> None:
        self.key, self.storage, self.layout = key, storage, layout
        self.worker, self.seq = worker, seq

    def _unread(self, *args: Any) -> Any:
        raise TypeError(
            "a genozarr batch still in a DataLoader worker's shared memory: iterate the "
            "loader torch_loader returned (a DataLoader rebuilt from it as another class, "
            "as accelerate's prepare does, hands these out unread), or make it with "
            "torch_loader(..., shared_slots=False)")

    __iter__ = __getitem__ = _unread  # (not __len__: a batch stays truthy)


def _new_read_marks(num_workers: int) -> torch.Tensor | None:
    """Per worker, the number of the last batch the training process has read out of its
    slots (-1: none this pass), in shared memory; None where there is none."""
    marks = torch.full((max(num_workers, 1),), -1, dtype=torch.int64)
    try:
        return marks.share_memory_()
    except (RuntimeError, OSError) as err:  # pragma: no cover - no shared memory
        log.debug("no shared memory for batch slots (%s): batches travel as tensors", err)
        return None


class _Slots:
    """A DataLoader worker's shared-memory batch slots, made as they are needed.

    PyTorch sends a worker's tensor by moving it to a new shared-memory segment and
    handing its file descriptor to the training process over a socket connection of its
    own: 4-5 ms of CPU per batch of 2 MB, more than reading the batch. Here each batch is
    copied into a free slot the worker made earlier, and only where it lies travels; the
    training process copies it out before handing it on, then records in ``read`` (shared
    memory, one number per worker) the number of the worker's last batch it has read. A
    worker's batches are read in the order it made them, so a slot is free once the batch
    in it is numbered at most that.

    A worker makes a new slot only when none is free: while the training process keeps
    up, about ``prefetch_factor + 1`` of them, whatever the number of workers. At most
    ``n`` (the most batches the DataLoader can have requested or waiting at once, besides
    the one being handed on, could need) and at most ``SLOT_BYTES_MAX / workers`` bytes;
    past either, a batch travels as tensors.
    """

    def __init__(self, n: int, workers: int, worker: int, read: torch.Tensor) -> None:
        self.n, self.workers, self.worker = n, workers, worker
        self.read = read.numpy()
        self.storages: list[torch.Tensor] = []
        self.seqs: list[int] = []  # the batch number in each slot (-1: free this pass)
        self.sent: list[bool] = []
        self.count = 0
        self.pass_id = -1

    def at_pass(self, pass_id: int) -> None:
        """The loader's pass now: in a new one the training process holds none of the
        slots (it drops them after each pass, and has read or dropped every batch of the
        last one before it asks for this pass's); send each again with its next batch."""
        if pass_id != self.pass_id:
            self.pass_id = pass_id
            self.restart()

    def restart(self) -> None:
        """Send each slot again with its next batch, all of them free (a new pass)."""
        self.sent = [False] * len(self.storages)
        self.seqs = [-1] * len(self.storages)

    def _free_slot(self, total: int) -> int | None:
        """A slot of at least ``total`` bytes whose batch has been read, made if needed;
        None where none can be made."""
        read = int(self.read[self.worker])
        free = [s for s, seq in enumerate(self.seqs) if seq <= read]
        for s in free:
            if self.storages[s].numel() >= total:
                return s
        if free:  # free but too small (a larger batch than before): replace it
            s = free[0]
        elif len(self.storages) >= self.n or (
                (len(self.storages) + 1) * total * self.workers > SLOT_BYTES_MAX):
            log.debug("no free batch slot (%d made, batches of %d bytes): sent as tensors",
                      len(self.storages), total)
            return None
        else:
            s = len(self.storages)
            self.storages.append(torch.empty(0, dtype=torch.uint8))
            self.seqs.append(-1)
            self.sent.append(False)
        self.storages[s] = torch.empty(max(total, 1), dtype=torch.uint8).share_memory_()
        self.sent[s] = False
        return s

    def put(self, parts: list[np.ndarray]) -> _SlotBatch | None:
        """Copy ``parts`` into a free slot; None where they travel as tensors instead."""
        layout, total = [], 0
        for part in parts:
            if not isinstance(part, np.ndarray) or part.dtype.hasobject:
                return None
            layout.append((total, tuple(part.shape), part.dtype.str))
            total += -(-part.nbytes // _SLOT_ALIGN) * _SLOT_ALIGN
        s = self._free_slot(total)
        if s is None:
            return None
        seq = self.count
        self.count += 1
        storage = self.storages[s]
        buf = storage.numpy()
        for (off, shape, dtype), part in zip(layout, parts):
            np.copyto(_slot_view(buf, off, shape, dtype), part)
        self.seqs[s] = seq
        batch = _SlotBatch((os.getpid(), s), None if self.sent[s] else storage, layout,
                           self.worker, seq)
        self.sent[s] = True
        return batch


#: bytes of freed batch memory the training process keeps for the next batches
BATCH_POOL_BYTES = 128 * 2**20


class _BatchPool:
    """Memory for the arrays the training process hands on, reused once they are freed.

    A fresh array of a few MB comes from ``mmap`` (or a heap glibc just trimmed), and the
    kernel faults in and zeroes every page on first use: for a batch of 128 windows of
    1 kb (2 MB of coverage, 2 MB of one-hot), 300-550 page faults, as much CPU as copying
    the batch out of its slot and encoding it. Here each array is a view of a block
    (a numpy array of bytes) that goes back to the pool when the last tensor or array
    using it is freed (a finalizer on the view, which ``torch.from_numpy`` keeps alive
    with the tensor's storage), and the next batch of that size reuses it, its pages
    already in memory. A caller may keep batches as long as it likes: a block still in
    use is never handed out. At most ``BATCH_POOL_BYTES`` of free blocks are kept.
    """

    def __init__(self, max_bytes: int | None = None) -> None:
        self.max_bytes = max_bytes
        self._free: dict[int, list[np.ndarray]] = {}
        self._free_bytes = 0
        self._lock = threading.Lock()

    def array(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        """A new array of ``shape`` and ``dtype`` (contents undefined) in a pool block."""
        dt = np.dtype(dtype)
        nbytes = max(math.prod(shape) * dt.itemsize, 1)
        with self._lock:
            blocks = self._free.get(nbytes)
            block = blocks.pop() if blocks else None
            if block is not None:
                self._free_bytes -= nbytes
        if block is None:
            block = np.empty(nbytes, dtype=np.uint8)
        view = block[:math.prod(shape) * dt.itemsize].view(dt).reshape(shape)
        weakref.finalize(view, self._give_back, block)
        return view

    def _give_back(self, block: np.ndarray) -> None:
        cap = BATCH_POOL_BYTES if self.max_bytes is None else self.max_bytes
        with self._lock:
            if self._free_bytes + block.nbytes <= cap:
                self._free.setdefault(block.nbytes, []).append(block)
                self._free_bytes += block.nbytes

    def _after_fork(self) -> None:
        """In a forked process: a new lock (a thread of the parent may have held it) and
        no free blocks (the parent's, copied)."""
        self._lock = threading.Lock()
        self._free, self._free_bytes = {}, 0


_POOL = _BatchPool()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_POOL._after_fork)


def _can_pin() -> bool:
    """Whether ``pin_memory`` pins: CUDA is there (without it, PyTorch pins nothing either;
    the tests fake it here, not in PyTorch, whose own pinning would then fail)."""
    return torch.cuda.is_available()


def _pinned_empty(shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """A new tensor in page-locked memory (from PyTorch's caching host allocator, which
    reuses the memory of freed ones: no page faults, no second copy to pin it)."""
    return torch.empty(shape, dtype=dtype, pin_memory=True)


def _copy_out(view: np.ndarray, pin: bool) -> torch.Tensor:
    """A new tensor holding ``view`` (an array in a batch slot): copied once, straight
    into page-locked memory with ``pin``."""
    if not pin:
        out = _POOL.array(view.shape, view.dtype)
        np.copyto(out, view)
        return torch.from_numpy(out)
    src = torch.from_numpy(view)
    return _pinned_empty(tuple(src.shape), src.dtype).copy_(src)


class _Structured(Structured):
    """:class:`~genozarr.loaders.Structured` that reseeds augmentations in each worker."""

    def __init__(self, inputs: Any, targets: Any) -> None:
        super().__init__(inputs, targets)
        self._pid = os.getpid()
        #: the torch.distributed rank the loader serves (set by the loaders that know it;
        #: None: torch.distributed's, else 0), mixed into the workers' augmentation seeds
        self.rank: int | None = None
        #: genozarr's options in the training process (see :meth:`check_worker`), taken
        #: again as each pass starts (GenozarrDataLoader), and that process
        self.options = get_options()
        self.options_pid = os.getpid()
        #: whether the random wrappers' streams were made this rank's, without workers
        self._ranked = False

    def check_worker(self) -> None:
        """In a new worker process: genozarr's options as the training process has them
        (a worker started with spawn or forkserver starts from the defaults, and
        would, e.g., wait on a stalled server past ``remote_timeout``), and augmentations
        reseeded from the worker's seed."""
        if self._pid == os.getpid():
            if not self._ranked:  # (no worker process: the training process's wrappers)
                self._ranked = True
                rank = self.rank if self.rank is not None else distributed_rank()[0]
                if rank:
                    _rank_streams(self.datasets, rank)
            return
        self._pid = os.getpid()
        self._ranked = True  # (a worker: reseeded from its seed and the rank, below)
        info = get_worker_info()
        forked = config.IMPORT_PID != os.getpid() and os.getppid() == self.options_pid
        if info is not None and not forked:
            # a worker started with spawn (genozarr imported anew) or forkserver (forked
            # from the server's import) starts from the default options; one forked from
            # the training process has that process's own, as they are now
            OPTIONS.update(self.options)
        seed = info.seed if info is not None else int(torch.initial_seed())
        rank = self.rank if self.rank is not None else distributed_rank()[0]
        if rank:  # worker w of every rank has the same torch seed when every rank seeds
            seed = int(np.random.SeedSequence([seed, rank]).generate_state(  # torch alike
                1, np.uint64)[0])
        reseed_augmentations(self.datasets, seed)
        if info is not None:  # one of N workers: decode with a share of the cores
            from genozarr.store.backend import share_cores

            share_cores(info.num_workers)


def _bind(augment: Augment | None, datasets: list[Any]) -> BoundAugment | None:
    if augment is None:
        return None
    if not isinstance(augment, Augment):
        raise ArgumentError(f"augment must be a genozarr.loaders.augment.Augment or None, got "
                            f"{type(augment).__name__}")
    return augment.bind(datasets)


class _EpochDatasets:
    """What both PyTorch datasets share: the structured datasets, the bound augmentation
    and the epoch (shared with DataLoader workers)."""

    def _init_datasets(self, inputs: Any, targets: Any, augment: Augment | None,
                       epoch: int) -> None:
        self._s = _Structured(inputs, targets)
        self._augment = _bind(augment, self._s.datasets)
        self._epoch = _SharedEpoch(epoch)
        share_stores(self._s.datasets)
        #: positions (in the flat list of datasets) sent as codes from workers
        self.compact: list[int] = []
        #: the most shared-memory batch slots per worker (0: batches travel as tensors);
        #: set by torch_loader, whose GenozarrDataLoader receives them (see _Slots)
        self.slots = 0
        #: per worker, the last batch the training process read out of a slot (_Slots)
        self._read_marks: torch.Tensor | None = None
        self._ring: _Slots | None = None
        self._ring_pid = -1
        #: the loader's passes, counted by GenozarrDataLoader (workers resend their slots)
        self._pass = _SharedEpoch(0)

    def _worker_ring(self) -> _Slots | None:
        """In a DataLoader worker, with slots: this worker's ring, told the loader's pass."""
        if not self.slots or self._read_marks is None:
            return None
        info = get_worker_info()
        if info is None:
            return None
        if self._ring is None or self._ring_pid != os.getpid():
            self._ring = _Slots(self.slots, info.num_workers, info.id, self._read_marks)
            self._ring_pid = os.getpid()
        self._ring.at_pass(self._pass.value)
        return self._ring

    @staticmethod
    def _flat(parts: list[np.ndarray], ring: _Slots | None) -> Any:
        """A worker's batch for :meth:`GenozarrDataLoader._expanded`: in the ring's next
        slot, or (no ring, or a batch over the slots' budget) the flat list of its
        tensors."""
        sent = ring.put(parts) if ring is not None else None
        return sent if sent is not None else [_to_tensor(p) for p in parts]

    def expand(self, leaves: list[Any], pin: bool = False) -> Any:
        """A batch as the dataset gives it in one process, from the flat list a worker
        sent (in the training process): code arrays (``compact_sequence``; tensors or
        arrays) one-hot encoded as the datasets encode them, the structure rebuilt.

        Parameters
        ----------
        leaves
            One tensor (or array, for codes) per dataset.
        pin
            Pin the encoded tensors' memory (``pin_memory``).

        Returns
        -------
        Any
            ``x`` or ``(x, y)``.
        """
        leaves = list(leaves)
        for i in self.compact:
            codes = leaves[i] if isinstance(leaves[i], np.ndarray) else leaves[i].numpy()
            dataset = self._s.datasets[i]
            if dataset.channel_last:  # encoded straight into page-locked or reused memory
                shape = (len(codes), *dataset.shape[1:])
                if pin:  # the tensor the caching host allocator made (it tracks its use)
                    hot = _pinned_empty(shape, torch.float32)
                    out = hot.numpy()
                else:
                    out = _POOL.array(shape, np.float32)
                    hot = torch.from_numpy(out)
                dataset._finish(codes[:, :, None, None], out=out)
            else:
                # (channel first: a strided view of the encoded array, made contiguous
                # as the batches served in the loading process are)
                hot = torch.from_numpy(np.ascontiguousarray(
                    dataset._finish(codes[:, :, None, None])))
                hot = _pinned_empty(tuple(hot.shape), hot.dtype).copy_(hot) if pin else hot
            leaves[i] = hot
        return self._s.rebuild(leaves)

    def _receive(self, batch: _SlotBatch, slots: dict[tuple[int, int], torch.Tensor],
                 pin: bool) -> list[Any]:
        """The flat list of a slot's batch (``slots``: the slots received in this pass):
        new tensors (the slot is written again later), code arrays as views of the slot
        (:meth:`expand` encodes them into new arrays)."""
        if batch.storage is not None:
            slots[batch.key] = batch.storage
        buf = slots[batch.key].numpy()
        out: list[Any] = []
        for i, (off, shape, dtype) in enumerate(batch.layout):
            view = _slot_view(buf, off, shape, dtype)
            out.append(view if i in self.compact else _copy_out(view, pin))
        return out

    @property
    def epoch(self) -> int:
        """The epoch: mixed into the augmentation's draws and, for the iterable dataset,
        into a fixed seed (a new order per epoch)."""
        return self._epoch.value

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch (see :attr:`epoch`).

        Parameters
        ----------
        epoch
            Epoch number.
        """
        self._epoch.value = epoch
        self._epoch_sets = getattr(self, "_epoch_sets", 0) + 1

    @property
    def datasets(self) -> list[Any]:
        """Every input and target dataset, inputs first."""
        return self._s.datasets


class TorchDataset(_EpochDatasets, _TorchDataset):
    """A map-style PyTorch dataset over genozarr datasets.

    ``ds[i]`` is ``(x, y)`` (or ``x`` without targets) with tensors in the structure of
    ``inputs`` and ``targets``: a tensor, a list/tuple of tensors or a dict of tensors.

    Parameters
    ----------
    inputs
        A dataset (Cover, Bioseq, wrapper, numpy array), a list/tuple of them or a dict.
    targets
        The same, or None.
    augment
        Joint augmentation applied to each batch the DataLoader asks for (``__getitems__``)
        or to each item; its draws are keyed by the epoch and the windows.
    epoch
        Epoch mixed into the augmentation's draws (:meth:`set_epoch`).
    """

    def __init__(self, inputs: Any, targets: Any = None, *, augment: Augment | None = None,
                 epoch: int = 0) -> None:
        self._init_datasets(inputs, targets, augment, epoch)

    def __len__(self) -> int:
        return self._s.length

    def _read(self, idx: np.ndarray) -> list[np.ndarray]:
        parts = [read_batch(d, idx) for d in self._s.datasets]
        if self._augment is not None:
            parts = self._augment(parts, key=(self.epoch, indices_key(idx)))
        return parts

    def __getitem__(self, index: int) -> Any:
        self._s.check_worker()
        try:  # (an integer: int() served item 2 for 2.7 and item 1 for True)
            i = as_index(index)
        except TypeError:
            raise TypeError(f"TorchDataset indices must be integers, got "
                            f"{type(index).__name__} {index!r}") from None
        if not -self._s.length <= i < self._s.length:
            raise IndexError(f"index {i} out of range for a dataset of {self._s.length}")
        parts = self._read(np.array([i % self._s.length]))
        return self._s.rebuild([_to_tensor(p[0]) for p in parts])

    def __getitems__(self, indices: list[int]) -> Any:
        """Items ``indices`` read with one call per dataset (used by the DataLoader's
        automatic batching, which then collates them). In a worker of a
        :func:`torch_loader` with shared-memory slots: the whole batch instead, in the
        worker's next slot (or the flat list of its tensors), which that loader's
        ``collate_fn`` passes on as it is."""
        self._s.check_worker()
        given = np.asarray(indices)
        if given.size and given.dtype.kind not in "iu":  # (not cast: 2.7 read as 2)
            bad = next((v for v in given.ravel() if isinstance(v, (bool, np.bool_))
                        or not isinstance(v, (int, np.integer))), given.ravel()[0])
            raise TypeError(f"TorchDataset indices must be integers, got {given.dtype} "
                            f"values such as {bad!r}")
        n = self._s.length
        if given.size and given.dtype.kind == "u" and given.max() >= n:  # (no wrap to -1)
            raise IndexError(f"index {int(given.max())} out of range for a dataset of {n}")
        idx = given.astype(np.int64, copy=False)
        if idx.size and (idx.min() < -n or idx.max() >= n):  # (as __getitem__: a sampler
            bad = idx[(idx < -n) | (idx >= n)][0]  # of another dataset served others)
            raise IndexError(f"index {int(bad)} out of range for a dataset of {n}")
        idx = idx % max(n, 1)
        parts = self._read(idx)
        ring = self._worker_ring()
        if ring is not None:  # the whole batch (torch_loader's collate_fn keeps it)
            return self._flat(parts, ring)
        tensors = [_to_tensor(p) for p in parts]
        return [self._s.rebuild([p[j] for p in tensors]) for j in range(len(idx))]


class TorchIterableDataset(_EpochDatasets, _TorchIterable):
    """An iterable PyTorch dataset yielding whole batches, chunk-aware, sharded by
    ``torch.distributed`` rank and DataLoader worker.

    Use it with ``DataLoader(ds, batch_size=None, num_workers=k)`` (or :func:`torch_loader`).
    Each batch is ``(x, y)`` (or ``x``) in the structure of ``inputs`` and ``targets``.
    Worker ``w`` of ``W`` on rank ``r`` of ``R`` serves shard ``r * W + w`` of ``R * W``
    of the epoch's batch plan (whole blocks), so every window is served exactly once per
    epoch across ranks and workers; every rank must use the same ``W``.

    Parameters
    ----------
    inputs
        A dataset (Cover, Bioseq, wrapper, numpy array), a list/tuple of them or a dict.
    targets
        The same, or None.
    batch_size
        Windows per batch.
    shuffle
        Chunk-aware shuffling (see :func:`genozarr.batches`).
    seed
        Seed of the order, mixed with the epoch (:meth:`set_epoch`): the same on every
        rank. With None and one rank, each pass's order comes from the DataLoader's worker
        seeds or PyTorch's generator (reproducible under ``torch.manual_seed``); with None
        and several ranks, 0 (as ``DistributedSampler``), since the ranks must agree.
    drop_last
        Serve full batches only: each shard's windows left out are drawn from its
        epoch when shuffled, its last, smaller batch dropped in order (see
        :func:`~genozarr.batching.batch_plan`).
    block_size, buffer_blocks, prefetch
        As in :func:`genozarr.batches`.
    augment
        Joint augmentation of every batch (:class:`~genozarr.loaders.augment.Augment`),
        keyed by (epoch, shard, batch number in the shard).
    epoch
        The first epoch.
    rank, world_size
        This process's rank and the number of ranks (see :func:`distributed_rank`);
        resolved when the dataset is made, in the main process.
    num_workers
        The DataLoader's ``num_workers`` (0 for none), if known: needed for ``len()`` (the
        batches this rank serves) and checked when iterating.
    compact_sequence
        In DataLoader workers, send the batches of :class:`~genozarr.dataset.Bioseq`
        datasets as their uint8 codes (1 byte per base instead of 16 for one-hot DNA in
        float32) and yield the flat list of a batch's tensors; :class:`GenozarrDataLoader`
        one-hot encodes them in the training process and rebuilds the structure, giving
        the same batches. Moving batches between processes is what bounds a DataLoader
        with workers (``docs/tuning.md``). Set by :func:`torch_loader`; not with an
        augmentation or a plain ``DataLoader``.
    """

    def __init__(self, inputs: Any, targets: Any = None, *, batch_size: int = 32,
                 shuffle: bool = False, seed: int | None = None, drop_last: bool = False,
                 block_size: int | None = None, buffer_blocks: int = 4,
                 prefetch: int = 1, augment: Augment | None = None, epoch: int = 0,
                 rank: int | None = None, world_size: int | None = None,
                 num_workers: int | None = None, compact_sequence: bool = False) -> None:
        from genozarr._validate import check_int

        self._init_datasets(inputs, targets, augment, epoch)
        if compact_sequence and augment is not None:
            raise ArgumentError("compact_sequence does not go with an augmentation (it "
                                "works on the one-hot batches in the workers)")
        self.compact = [i for i, d in enumerate(self._s.datasets)
                        if compact_sequence and isinstance(d, Bioseq)]
        self.batch_size = int(check_int("batch_size", batch_size, 1, allow_none=False))
        self.shuffle = check_bool("shuffle", shuffle)
        self.rank, self.world_size = distributed_rank(rank, world_size)
        self._s.rank = self.rank
        self.seed = _check_seed(seed)
        if self.shuffle and self.seed is None and self.world_size > 1:
            log.info("TorchIterableDataset: shuffle with seed=None on %d ranks: using seed 0 "
                     "so that every rank plans the same order", self.world_size)
            self.seed = 0
        self.drop_last = check_bool("drop_last", drop_last)
        self.block_size = block_size
        self.buffer_blocks = buffer_blocks
        self.prefetch = prefetch
        self.num_workers = None if num_workers is None else int(
            check_int("num_workers", num_workers, 0, allow_none=False))
        #: passes this copy has served (see :meth:`_order_seed`)
        self._passes = 0

    def _block(self) -> int:
        if self.block_size is not None:
            return int(self.block_size)
        return max(chunk_rows(d) for d in self._s.datasets)

    def _order_seed(self, epoch: int, passes: int = 0) -> int | None:
        if not self.shuffle:
            return None
        if self.seed is not None:
            return epoch_seed(self.seed, epoch)
        info = get_worker_info()
        if info is not None:
            # PyTorch gives worker k the seed base + k, base shared by all workers of a
            # pass; persistent workers keep theirs, so the passes this copy of the dataset
            # has served (the same in every worker) tell their passes apart
            return epoch_seed(int((info.seed - info.id + passes) % 2**63), epoch)
        return _torch_seed()

    def _shards(self, n_workers: int) -> list[int]:
        """The shard indices of this rank's workers."""
        return [self.rank * n_workers + w for w in range(n_workers)]

    def num_batches(self, epoch: int | None = None) -> int:
        """The batches this rank serves in ``epoch`` (default: :attr:`epoch`), over all its
        workers.

        Parameters
        ----------
        epoch
            Epoch number.

        Returns
        -------
        int

        Raises
        ------
        TypeError
            When it cannot be known: ``num_workers`` not given, or a shuffled order without
            a seed whose shards differ in length.
        """
        if self.num_workers is None:
            raise TypeError("the number of batches depends on the DataLoader's num_workers: "
                            "pass num_workers to TorchIterableDataset")
        n = self._s.length
        block = self._block()
        workers = max(self.num_workers, 1)
        epoch = self.epoch if epoch is None else int(epoch)
        seed: int | None = None
        if self.shuffle:
            if self.seed is not None:
                seed = epoch_seed(self.seed, epoch)
            elif n % block == 0 or self.world_size * workers == 1:
                # all blocks full, or one shard: the lengths do not depend on the order
                seed = 0
            else:
                raise TypeError("the number of batches of a shuffled epoch without a seed "
                                "depends on its random order: pass a seed")
        m = self.world_size * workers
        total = 0
        for k in self._shards(workers):
            plan = batch_plan(n, self.batch_size, shuffle=self.shuffle, seed=seed,
                              drop_last=self.drop_last, block_size=block, buffer_blocks=1,
                              shard=(k, m) if m > 1 else None)
            total += len(plan)
        return total

    def __len__(self) -> int:
        return self.num_batches()

    def __iter__(self) -> Iterator[Any]:
        self._s.check_worker()
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        if self.num_workers is not None and max(self.num_workers, 1) != workers:
            raise ArgumentError(
                f"TorchIterableDataset was made for num_workers={self.num_workers} but runs in a "
                f"DataLoader with {workers if info is not None else 0} workers")
        m = self.world_size * workers
        k = self.rank * workers + worker
        epoch = self.epoch
        passes = getattr(self, "_passes", 0)
        self._passes = passes + 1
        log.debug("rank %d worker %d: shard %d of %d, epoch %d", self.rank, worker, k, m, epoch)
        datasets = list(self._s.datasets)
        compact = self.compact if info is not None else []
        for i in compact:
            datasets[i] = _Codes(datasets[i])
        stream = batches(*datasets, batch_size=self.batch_size, shuffle=self.shuffle,
                         seed=self._order_seed(epoch, passes), drop_last=self.drop_last,
                         block_size=self.block_size, buffer_blocks=self.buffer_blocks,
                         prefetch=self.prefetch, shard=(k, m) if m > 1 else None)
        ring = self._worker_ring()
        if ring is not None:
            # every pass of a worker sends its slots again, whatever pass number it reads:
            # with persistent workers a second iter() can count its pass before this
            # worker starts the first one, whose batches PyTorch then drops
            ring.restart()
        for j, batch in enumerate(stream):
            parts = list(batch)
            if self._augment is not None:  # (never with compact)
                parts = self._augment(parts, key=(epoch, k, j))
            if compact or ring is not None:  # the training process rebuilds (expand)
                yield self._flat(parts, ring)
            else:
                yield self._s.rebuild([_to_tensor(b) for b in parts])


class _Codes(Wrapper):
    """A :class:`~genozarr.dataset.Bioseq` read as its oriented uint8 codes ``(batch,
    length)``: what :meth:`Bioseq.read` one-hot encodes (see ``compact_sequence``)."""

    def read(self, idx: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(self.data._read_oriented(idx)[:, :, 0, 0])


def _chunk_rows_of(source: Any) -> int:
    """The natural block size of ``source``: its datasets' most windows per chunk."""
    datasets = getattr(source, "datasets", None)
    if isinstance(datasets, list) and datasets:
        return max(chunk_rows(d) for d in datasets)
    return chunk_rows(source)


class ChunkSampler(Sampler[int]):
    """A chunk-aware sampler for map-style loading, sharded like ``DistributedSampler``.

    The indices follow :func:`~genozarr.batching.batch_plan`: blocks of ``chunk_rows``
    consecutive windows in random order, the windows of every ``buffer_blocks`` blocks
    shuffled together, so consecutive samples come from the same few store chunks and
    each chunk is decoded about once per epoch.

    **Sharding.** With ``num_replicas`` ranks, the epoch's index stream is padded (or,
    with ``drop_last``, cut) to a multiple of ``num_replicas`` and rank ``r`` takes the
    ``r``-th contiguous part, so every rank serves the same number of samples (a
    ``DistributedDataParallel`` step needs every rank). Padding repeats fewer than
    ``num_replicas`` windows of the stream (served twice per epoch; a stream shorter than
    that is repeated as often as needed, so with fewer windows than ranks a window is
    served more than twice); ``drop_last=True`` instead leaves out fewer than
    ``num_replicas`` windows. Shuffled, the windows repeated or left out are drawn at
    random from the whole epoch (each as likely); in index order, they are the first
    (repeated) or last (left out). Contiguous parts rather than ``DistributedSampler``'s every
    ``num_replicas``-th index keep each rank on its own chunks.

    Parameters
    ----------
    dataset_or_n
        The number of windows, or anything with a length (a genozarr dataset, a
        :class:`TorchDataset`).
    chunk_rows
        Windows per block; None: the datasets' most windows per zarr chunk (1 for an
        integer or in-memory data: a full shuffle).
    shuffle
        Chunk-aware random order; False: index order.
    seed
        Seed, mixed with the epoch (:meth:`set_epoch`), the same on every rank. None with
        one rank: each pass draws its order from PyTorch's generator (as
        ``RandomSampler``); None with several ranks: 0 (as ``DistributedSampler``).
    drop_last
        Cut the stream to a multiple of ``num_replicas`` instead of padding it.
    num_replicas, rank
        Number of ranks and this one's (see :func:`distributed_rank`).
    batch_size
        Cut points of :func:`~genozarr.batching.batch_plan`, which returns each batch's
        indices sorted: give the DataLoader's batch size to serve exactly its batches (rows
        read in order); 1 keeps the plan's order within each batch.
    buffer_blocks
        Blocks shuffled together.
    epoch
        The first epoch.

    Examples
    --------
    >>> list(ChunkSampler(10, 4, shuffle=False, num_replicas=2, rank=1))
    [5, 6, 7, 8, 9]
    """

    def __init__(self, dataset_or_n: Any, chunk_rows: int | None = None, *,
                 shuffle: bool = True, seed: int | None = None, drop_last: bool = False,
                 num_replicas: int | None = None, rank: int | None = None,
                 batch_size: int = 1, buffer_blocks: int = 4, epoch: int = 0) -> None:
        from genozarr._validate import check_int

        if isinstance(dataset_or_n, (int, np.integer)) and not isinstance(dataset_or_n, bool):
            self.n = int(check_int("dataset_or_n", dataset_or_n, 0, allow_none=False))
            default_rows = 1
        elif hasattr(dataset_or_n, "__len__"):
            self.n = len(dataset_or_n)
            default_rows = _chunk_rows_of(dataset_or_n)
        else:
            raise ArgumentError(f"ChunkSampler needs a number of windows or a dataset, got "
                                f"{type(dataset_or_n).__name__}")
        self.chunk_rows = default_rows if chunk_rows is None else int(
            check_int("chunk_rows", chunk_rows, 1, allow_none=False))
        self.shuffle = check_bool("shuffle", shuffle)
        self.rank, self.num_replicas = distributed_rank(rank, num_replicas)
        self.seed = _check_seed(seed)
        if self.shuffle and self.seed is None and self.num_replicas > 1:
            self.seed = 0
        self.drop_last = check_bool("drop_last", drop_last)
        self.batch_size = int(check_int("batch_size", batch_size, 1, allow_none=False))
        self.buffer_blocks = int(check_int("buffer_blocks", buffer_blocks, 1, allow_none=False))
        self.epoch = 0
        self.set_epoch(epoch)

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch mixed into the seed (a new order per epoch), as
        ``DistributedSampler.set_epoch``.

        Parameters
        ----------
        epoch
            Epoch number.
        """
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise ArgumentError(f"epoch must be a non-negative integer, got {epoch!r}")
        self.epoch = int(epoch)
        self._epoch_sets = getattr(self, "_epoch_sets", 0) + 1

    @property
    def num_samples(self) -> int:
        """Indices served by this rank per epoch."""
        if self.drop_last:
            return self.n // self.num_replicas
        return math.ceil(self.n / self.num_replicas)

    def __len__(self) -> int:
        return self.num_samples

    def epoch_indices(self) -> np.ndarray:
        """This rank's indices of the current epoch, in order.

        Returns
        -------
        numpy.ndarray
        """
        seed = None
        if self.shuffle:
            seed = epoch_seed(self.seed, self.epoch) if self.seed is not None else _torch_seed()
        plan = batch_plan(self.n, self.batch_size, shuffle=self.shuffle, seed=seed,
                          block_size=self.chunk_rows, buffer_blocks=self.buffer_blocks)
        stream = np.concatenate(plan) if plan else np.zeros(0, dtype=np.int64)
        per = self.num_samples
        total = per * self.num_replicas
        if total != len(stream) and len(stream):
            # shuffled: the windows padded or left out drawn at random (the same on every
            # rank), each as likely; the stream's first or last ones were those of its
            # first or last group of blocks, a short block's more often than others
            pick = np.random.default_rng([seed, 1]) if self.shuffle else None
            if total < len(stream):  # (drop_last)
                cut = len(stream) - total
                if pick is not None:  # those drawn, swapped with the last ones: the plan's
                    # batches before keep their windows (and their boundaries)
                    out = pick.choice(len(stream), cut, replace=False)
                    holes = out[out < total]
                    stream = stream.copy()
                    stream[holes] = stream[np.setdiff1d(np.arange(total, len(stream)), out)]
                stream = stream[:total]
            else:
                repeats, extra = divmod(total - len(stream), len(stream))
                more = np.arange(extra) if pick is None else np.sort(
                    pick.choice(len(stream), extra, replace=False))
                stream = np.concatenate([stream] * (repeats + 1) + [stream[more]])
        return stream[self.rank * per:(self.rank + 1) * per]

    def __iter__(self) -> Iterator[int]:
        return iter(self.epoch_indices().tolist())


class GenozarrDataLoader(DataLoader):
    """A ``torch.utils.data.DataLoader`` that serves a new epoch each pass.

    Made by :func:`torch_loader`. Each pass serves :attr:`epoch`, then the next pass
    ``epoch + 1``; :meth:`set_epoch` chooses the next pass's epoch. A trainer that calls
    ``set_epoch`` on the sampler (map-style) or the dataset instead is followed: the next
    pass serves that epoch.

    Parameters
    ----------
    *args, **kwargs
        The arguments of ``torch.utils.data.DataLoader`` (the dataset first).
    epoch
        The epoch of the first pass (passed to :meth:`set_epoch`).
    """

    def __init__(self, *args: Any, epoch: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._next_epoch = 0
        self._seen_sets: tuple[int, int] | None = None
        #: the epoch of the pass being served (None between passes)
        self._pass_epoch: int | None = None
        #: the options the persistent workers took at their first pass (None: not yet)
        self._worker_options: dict[str, Any] | None = None
        self.set_epoch(epoch)

    def _holders(self) -> tuple[Any, Any]:
        """The objects whose ``set_epoch`` a trainer may call: the sampler and the
        dataset."""
        return self.sampler, self.dataset

    def _sets(self) -> tuple[int, int]:
        return tuple(int(getattr(obj, "_epoch_sets", 0))  # type: ignore[return-value]
                     for obj in self._holders())

    @property
    def epoch(self) -> int:
        """The epoch the next pass serves."""
        sets = self._sets()
        if self._seen_sets is not None and sets != self._seen_sets:
            # set_epoch called on the sampler or the dataset (the one called last wins
            # where both were: the dataset's, as a trainer calls it after the sampler's)
            changed = [obj for obj, now, seen in zip(self._holders(), sets, self._seen_sets)
                       if now != seen]
            return int(changed[-1].epoch)
        return self._next_epoch

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch of the next pass.

        Parameters
        ----------
        epoch
            Epoch number.
        """
        for obj in {id(self.dataset): self.dataset, id(self.sampler): self.sampler}.values():
            if callable(getattr(obj, "set_epoch", None)):
                obj.set_epoch(epoch)
        self._next_epoch = int(epoch)
        self._seen_sets = self._sets()

    def _start_epoch(self) -> int:
        epoch = self.epoch
        self.set_epoch(epoch)
        self._next_epoch = epoch + 1
        self._pass_epoch = epoch
        return epoch

    def _check_worker_options(self, options: dict[str, Any]) -> None:
        """Warn where persistent workers, started at an earlier pass, keep other options
        than the training process has now (``set_options`` between passes does not reach
        a worker process that is already running)."""
        if not (self.persistent_workers and self.num_workers > 0):
            return
        if self._worker_options is None or getattr(self, "_iterator", None) is None:
            self._worker_options = dict(options)  # the workers start with this pass
            return
        changed = sorted(k for k in options if options[k] != self._worker_options.get(k))
        if changed:
            warn(f"genozarr options {', '.join(changed)} changed since this loader's "
                 "persistent workers started; they keep the options of their first pass. "
                 "Make the loader again for the new options to reach its workers.")
            self._worker_options = dict(options)  # (said once per change)

    def _tracked(self, it: Any, epoch: int) -> Iterator[Any]:
        """The batches of ``it``, the pass of ``epoch``: ``len()`` counts its batches
        until it ends (or is dropped), then the next pass's."""
        try:
            yield from it
        finally:
            if self._pass_epoch == epoch:
                self._pass_epoch = None

    def __iter__(self) -> Any:
        epoch = self._start_epoch()
        log.debug("GenozarrDataLoader: epoch %d", epoch)
        ds = self.dataset
        if isinstance(ds, _EpochDatasets):  # the options new workers take (check_worker)
            ds._s.options, ds._s.options_pid = get_options(), os.getpid()
            self._check_worker_options(ds._s.options)
        if isinstance(ds, _EpochDatasets) and self.num_workers > 0 and (ds.compact or ds.slots):
            if ds._read_marks is not None and not self.persistent_workers:
                # workers made for this pass: read marks and a pass count of its own, so
                # that a second pass iterated at the same time (zip(loader, loader)) never
                # marks this one's slots read, nor restarts its workers' slots
                ds._read_marks = _new_read_marks(self.num_workers)
                ds._pass = _SharedEpoch(0)
            ds._pass.value = ds._pass.value + 1  # before the workers see this pass's indices
            marks = ds._read_marks
            if marks is not None:  # no batch of this pass read yet
                marks.fill_(-1)
            pin = bool(self.pin_memory) and _can_pin()
            it = super().__iter__()
            # the slots the workers sent this pass: with persistent workers PyTorch hands
            # every iter() the same iterator, reset, so the passes iterated at the same
            # time (zip(loader, loader)) share its batches and so the slots they came in
            slots: dict[tuple[int, int], torch.Tensor] = {}
            if self.persistent_workers:
                slots = it.__dict__.setdefault("_genozarr_slots", slots)
                slots.clear()  # a new pass: the workers send their slots again
            return self._tracked(self._expanded(ds, it, pin, marks, slots), epoch)
        if isinstance(ds, TorchIterableDataset):  # a pass's length depends on its epoch
            return self._tracked(super().__iter__(), epoch)
        return super().__iter__()

    def _expanded(self, ds: _EpochDatasets, it: Any, pin: bool, marks: torch.Tensor | None,
                  slots: dict[tuple[int, int], torch.Tensor]) -> Iterator[Any]:
        """The batches of a pass whose workers send flat lists or slots' batches (``marks``:
        the pass's read marks, see :class:`_Slots`; ``slots``: the slots received in the
        pass)."""
        read = marks.numpy() if marks is not None else None
        for item in it:
            if isinstance(item, _SlotBatch):
                batch = ds.expand(ds._receive(item, slots, pin), pin)
                if read is not None:  # its slot is free: codes too are read (expanded)
                    read[item.worker] = item.seq
                yield batch
            else:
                yield ds.expand(item, pin)

    def __len__(self) -> int:
        """Batches of the pass being served, or else of the next pass."""
        if isinstance(self.dataset, TorchIterableDataset):
            epoch = self._pass_epoch
            return self.dataset.num_batches(self.epoch if epoch is None else epoch)
        return super().__len__()


def _use_slots(dataset: _EpochDatasets, num_workers: int,
               dataloader_kwargs: dict[str, Any]) -> bool:
    """Give ``dataset``'s workers batch slots: at most one more than the batches the
    DataLoader can have requested or waiting at once, besides the one being handed on
    (see _Slots); False where there is no shared memory for them."""
    dataset._read_marks = _new_read_marks(num_workers)
    if dataset._read_marks is None:
        return False
    dataset.slots = int(dataloader_kwargs.get("prefetch_factor") or 2) * num_workers + 2
    return True


def _whole_batch(batch: Any) -> Any:
    """collate_fn of a map-style torch_loader with workers: ``TorchDataset.__getitems__``
    already gives the whole batch (in a slot, or as a flat list of tensors)."""
    return batch


def torch_loader(inputs: Any, targets: Any = None, *, batch_size: int = 32,
                 shuffle: bool = False, num_workers: int = 0, seed: int | None = None,
                 drop_last: bool = False, augment: Augment | None = None,
                 pin_memory: bool = False, epoch: int = 0, rank: int | None = None,
                 world_size: int | None = None, block_size: int | None = None,
                 buffer_blocks: int = 4, prefetch: int = 1, map_style: bool = False,
                 shared_slots: bool = True,
                 **dataloader_kwargs: Any) -> GenozarrDataLoader:
    """A ready ``torch.utils.data.DataLoader`` over genozarr datasets.

    Each batch is ``(x, y)`` (or ``x`` without targets), tensors in the structure of
    ``inputs`` and ``targets``. By default batches are read whole and chunk-aware by a
    :class:`TorchIterableDataset` (one batch per ``__next__``; the DataLoader's
    ``batch_size`` is None), sharded across ranks and workers so that every window is
    served exactly once per epoch.

    Parameters
    ----------
    inputs
        A dataset (Cover, Bioseq, wrapper, numpy array), a list/tuple of them or a dict.
    targets
        The same, or None.
    batch_size
        Windows per batch.
    shuffle
        Chunk-aware random order (see :func:`genozarr.batches`), new each epoch.
    num_workers
        DataLoader worker processes (0: read in the main process, with read-ahead threads).
    seed
        Seed of the order (mixed with the epoch; the same on every rank). None: drawn
        now with one rank, from the DataLoader's ``generator`` where one is given, else
        from PyTorch's default generator (reproducible under ``torch.manual_seed``); 0
        with several.
    drop_last
        Iterable: full batches only (each shard's windows left out drawn from its epoch
        when shuffled, its last, smaller batch dropped in order). Map-style: the
        DataLoader's ``drop_last`` (the sampler pads ranks to equal lengths either way).
    augment
        Joint augmentation of inputs and targets
        (:class:`~genozarr.loaders.augment.Augment`), applied per batch.
    pin_memory
        The DataLoader's ``pin_memory``.
    epoch
        The epoch of the first pass; each pass serves the next (see
        :class:`GenozarrDataLoader`).
    rank, world_size
        Sharding across processes; default from ``torch.distributed`` when initialized,
        else one process (see :func:`distributed_rank`).
    block_size, buffer_blocks, prefetch
        As in :func:`genozarr.batches` (``prefetch``: iterable only).
    map_style
        Serve a :class:`TorchDataset` through a :class:`ChunkSampler` and the DataLoader's
        batching instead: every rank gets the same number of batches (padded), as
        ``DistributedDataParallel`` needs.
    shared_slots
        Workers send their batches through shared-memory slots that the returned loader
        copies out (see Notes). False: as PyTorch tensors, for a loader that another
        library rebuilds as a ``DataLoader`` of its own class (Hugging Face accelerate's
        ``prepare``), which would hand out the slots' batches unread.
    **dataloader_kwargs
        Other ``DataLoader`` arguments (``persistent_workers``, ``prefetch_factor``,
        ``timeout``, ``multiprocessing_context``, ``worker_init_fn``, ...).

    Returns
    -------
    GenozarrDataLoader

    Raises
    ------
    ArgumentError
        For ``sampler``/``batch_sampler`` arguments, or bad sizes.

    Notes
    -----
    **Ranks and equal steps.** The iterable loader serves every window exactly once, so
    ranks can get a different number of batches in an epoch (whole blocks go to each of
    the ``world_size * num_workers`` shards); a ``DistributedDataParallel`` loop then
    needs ``torch.distributed.algorithms.Join``, or use ``map_style=True``, whose sampler
    pads every rank to the same length. With PyTorch Lightning pass
    ``use_distributed_sampler=False`` (the loader shards itself).

    **Batches from workers.** With ``num_workers > 0`` (and no ``collate_fn``; map-style
    without ``persistent_workers``) each worker copies its batches into shared-memory
    slots of its own, made as they are needed (about ``prefetch_factor + 1`` per worker),
    and this process copies each batch out into new tensors before handing it on
    (sequence codes are one-hot encoded here; with ``pin_memory``, straight into
    page-locked memory; else into blocks reused once a batch is freed, which spares the
    page faults of fresh arrays) and marks the slot free: moving a batch costs a fraction
    of what PyTorch's own tensor transfer costs (``docs/tuning.md``). A caller may keep
    batches as long as it likes.
    Only the returned loader reads the slots: for a library that rebuilds it as a
    ``DataLoader`` of another class, pass ``shared_slots=False``.

    Examples
    --------
    >>> import numpy as np
    >>> loader = torch_loader(np.arange(8.0), np.arange(8), batch_size=4, shuffle=True, seed=0)
    >>> [y.tolist() for _, y in loader]
    [[0, 5, 6, 7], [1, 2, 3, 4]]
    >>> len(loader), loader.epoch
    (2, 1)
    """
    from genozarr._validate import check_int

    for key in ("sampler", "batch_sampler", "shuffle", "batch_size"):
        if key in dataloader_kwargs:
            raise ArgumentError(f"torch_loader makes its own {key}: do not pass {key!r}")
    num_workers = int(check_int("num_workers", num_workers, 0, allow_none=False))
    # a Python int: torch's BatchSampler refuses numpy's (np.int64(8): "got batch_size=8")
    batch_size = int(check_int("batch_size", batch_size, 1, allow_none=False))
    rank, world_size = distributed_rank(rank, world_size)
    seed = _check_seed(seed)
    if shuffle and seed is None:
        seed = _torch_seed(dataloader_kwargs.get("generator")) if world_size == 1 else 0
    slots = bool(shared_slots) and num_workers > 0 and "collate_fn" not in dataloader_kwargs
    if map_style:
        dataset = TorchDataset(inputs, targets, augment=augment, epoch=epoch)
        dataset._s.rank = rank  # (its workers' augmentation seeds)
        rows = _chunk_rows_of(dataset) if block_size is None else block_size
        sampler = ChunkSampler(dataset, rows, shuffle=shuffle, seed=seed, drop_last=False,
                               num_replicas=world_size, rank=rank, batch_size=batch_size,
                               buffer_blocks=buffer_blocks, epoch=epoch)
        # slots only with workers made anew each pass: a map-style worker learns of a new
        # pass only through the pass count, which a persistent worker may read while it
        # still serves the last pass's requests (whose batches the DataLoader then drops)
        if slots and not dataloader_kwargs.get("persistent_workers") and _use_slots(
                dataset, num_workers, dataloader_kwargs):
            dataloader_kwargs = {**dataloader_kwargs, "collate_fn": _whole_batch}
        return GenozarrDataLoader(dataset, batch_size=batch_size, sampler=sampler,
                                  num_workers=num_workers, drop_last=drop_last,
                                  pin_memory=pin_memory, epoch=epoch, **dataloader_kwargs)
    # sequence batches leave the workers as 1-byte codes (one-hot in this process) unless
    # something in the workers needs the one-hot batches
    compact = num_workers > 0 and augment is None and "collate_fn" not in dataloader_kwargs
    dataset = TorchIterableDataset(inputs, targets, batch_size=batch_size, shuffle=shuffle,
                                   seed=seed, drop_last=drop_last, block_size=block_size,
                                   buffer_blocks=buffer_blocks, prefetch=prefetch,
                                   augment=augment, epoch=epoch, rank=rank,
                                   world_size=world_size, num_workers=num_workers,
                                   compact_sequence=compact)
    if slots:
        _use_slots(dataset, num_workers, dataloader_kwargs)
    return GenozarrDataLoader(dataset, batch_size=None, num_workers=num_workers,
                              pin_memory=pin_memory, epoch=epoch, **dataloader_kwargs)

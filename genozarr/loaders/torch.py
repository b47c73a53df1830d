"""PyTorch adapters: a map-style :class:`TorchDataset` and a chunk-aware
:class:`TorchIterableDataset`.

Both work with ``torch.utils.data.DataLoader(num_workers > 0)``: zarr stores reopen in
each worker process (their backends pickle as a URL and reset after a fork), and random
augmentation wrappers are reseeded per worker from PyTorch's worker seed, so workers never
repeat one another's draws.

- :class:`TorchDataset` serves one item per index (``DataLoader(ds, batch_size=...,
  shuffle=True)``); with automatic batching the DataLoader asks for a whole batch at once
  (``__getitems__``), read with one call per dataset.
- :class:`TorchIterableDataset` yields whole batches from :func:`genozarr.batches` (use
  ``DataLoader(ds, batch_size=None)``): chunk-aware shuffling, and each worker serves a
  disjoint share of the chunk blocks, so an epoch covers every window exactly once.

Examples
--------
>>> import numpy as np
>>> from torch.utils.data import DataLoader
>>> ds = TorchDataset(np.arange(6.0).reshape(6, 1), np.arange(6))
>>> x, y = next(iter(DataLoader(ds, batch_size=4)))
>>> x.shape, y.tolist()
(torch.Size([4, 1]), [0, 1, 2, 3])
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset as _TorchDataset
from torch.utils.data import IterableDataset as _TorchIterable
from torch.utils.data import get_worker_info

from genozarr.batching import batches, read_batch
from genozarr.loaders import Structured

__all__ = ["TorchDataset", "TorchIterableDataset", "reseed_augmentations"]


def reseed_augmentations(datasets: list[Any], seed: int) -> None:
    """Reseed every random augmentation wrapper found in ``datasets``.

    Parameters
    ----------
    datasets
        Datasets or wrappers.
    seed
        Base seed; the k-th wrapper found gets ``seed + k``.
    """
    from genozarr.wrappers import Wrapper, _RandomWrapper

    k = 0
    for d in datasets:
        while isinstance(d, Wrapper):
            if isinstance(d, _RandomWrapper):
                d.reseed((int(seed) + k) % 2**63)
                k += 1
            d = d.data


def _to_tensor(x: np.ndarray) -> torch.Tensor:
    x = np.ascontiguousarray(x)
    if not x.flags.writeable:
        x = x.copy()
    return torch.from_numpy(x)


class _Structured(Structured):
    """:class:`~genozarr.loaders.Structured` that reseeds augmentations in each worker."""

    def __init__(self, inputs: Any, targets: Any) -> None:
        super().__init__(inputs, targets)
        self._pid = os.getpid()

    def check_worker(self) -> None:
        """In a new worker process: reseed augmentations from the worker's seed."""
        if self._pid == os.getpid():
            return
        self._pid = os.getpid()
        info = get_worker_info()
        seed = info.seed if info is not None else int(torch.initial_seed())
        reseed_augmentations(self.datasets, seed)


class TorchDataset(_TorchDataset):
    """A map-style PyTorch dataset over genozarr datasets.

    ``ds[i]`` is ``(x, y)`` (or ``x`` without targets) with tensors in the structure of
    ``inputs`` and ``targets``: a tensor, a list/tuple of tensors or a dict of tensors.

    Parameters
    ----------
    inputs
        A dataset (Cover, Bioseq, wrapper, numpy array), a list/tuple of them or a dict.
    targets
        The same, or None.
    """

    def __init__(self, inputs: Any, targets: Any = None) -> None:
        self._s = _Structured(inputs, targets)

    def __len__(self) -> int:
        return self._s.length

    def __getitem__(self, index: int) -> Any:
        self._s.check_worker()
        i = int(index)
        if not -self._s.length <= i < self._s.length:
            raise IndexError(f"index {i} out of range for a dataset of {self._s.length}")
        idx = np.array([i % self._s.length])
        return self._s.rebuild([_to_tensor(read_batch(d, idx)[0]) for d in self._s.datasets])

    def __getitems__(self, indices: list[int]) -> list[Any]:
        """Items ``indices`` read with one call per dataset (used by the DataLoader's
        automatic batching, which then collates them)."""
        self._s.check_worker()
        idx = np.asarray(indices, dtype=np.int64) % max(self._s.length, 1)
        parts = [_to_tensor(read_batch(d, idx)) for d in self._s.datasets]
        return [self._s.rebuild([p[j] for p in parts]) for j in range(len(idx))]


class TorchIterableDataset(_TorchIterable):
    """An iterable PyTorch dataset yielding whole batches, chunk-aware, sharded by worker.

    Use it with ``DataLoader(ds, batch_size=None, num_workers=k)``. Each batch is
    ``(x, y)`` (or ``x``) in the structure of ``inputs`` and ``targets``.

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
        Seed of the order. With None, every epoch's order comes from PyTorch's random
        generator (reproducible under ``torch.manual_seed``); with a seed, the order is
        that of ``seed`` and the epoch set by :meth:`set_epoch`.
    drop_last
        Drop each worker's last, smaller batch.
    block_size, buffer_blocks, prefetch
        As in :func:`genozarr.batches`.
    """

    def __init__(self, inputs: Any, targets: Any = None, *, batch_size: int = 32,
                 shuffle: bool = False, seed: int | None = None, drop_last: bool = False,
                 block_size: int | None = None, buffer_blocks: int = 4,
                 prefetch: int = 2) -> None:
        self._s = _Structured(inputs, targets)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.block_size = block_size
        self.buffer_blocks = buffer_blocks
        self.prefetch = prefetch
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch mixed into a fixed ``seed`` (a new order per epoch).

        Parameters
        ----------
        epoch
            Epoch number.
        """
        self.epoch = int(epoch)

    def _order_seed(self) -> int | None:
        if not self.shuffle:
            return None
        if self.seed is not None:
            return int(np.random.SeedSequence([int(self.seed), self.epoch]).generate_state(1)[0])
        info = get_worker_info()
        if info is not None:
            # PyTorch gives worker k the seed base + k, base shared by all workers of an epoch
            return int((info.seed - info.id) % 2**63)
        return int(torch.empty((), dtype=torch.int64).random_().item())

    def __iter__(self) -> Iterator[Any]:
        self._s.check_worker()
        info = get_worker_info()
        shard = (info.id, info.num_workers) if info is not None and info.num_workers > 1 \
            else None
        for batch in batches(*self._s.datasets, batch_size=self.batch_size,
                             shuffle=self.shuffle, seed=self._order_seed(),
                             drop_last=self.drop_last, block_size=self.block_size,
                             buffer_blocks=self.buffer_blocks, prefetch=self.prefetch,
                             shard=shard):
            yield self._s.rebuild([_to_tensor(b) for b in batch])

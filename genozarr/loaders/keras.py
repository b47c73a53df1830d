"""Keras 3 adapter: :class:`KerasDataset`, a ``keras.utils.PyDataset`` over genozarr
datasets.

Keras picks its backend when first imported: set ``KERAS_BACKEND`` (e.g. ``'torch'``)
before importing this module.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from genozarr.batching import batch_plan, chunk_rows, read_batch
from genozarr.errors import ArgumentError
from genozarr.loaders import check_lengths, flatten

__all__ = ["KerasDataset"]


class KerasDataset(keras.utils.PyDataset):
    """Batches of genozarr datasets for ``model.fit`` / ``predict`` / ``evaluate``.

    ``dataset[k]`` is batch ``k``: ``(x, y)`` (or ``(x,)`` without targets) where ``x`` and
    ``y`` keep the structure of ``inputs`` and ``targets`` (an array, a list/tuple, or a
    dict keyed by the model's input or output names). With ``shuffle=True`` the order is
    chunk-aware (see :func:`genozarr.batches`) and renewed at every epoch end.

    Parameters
    ----------
    inputs
        A dataset (Cover, Bioseq, wrapper, numpy array), a list/tuple of them or a dict.
    targets
        The same, or None.
    batch_size
        Windows per batch.
    shuffle
        Chunk-aware shuffling, a new order each epoch.
    seed
        Seed of the first epoch's order (later epochs continue its random stream).
    drop_last
        Drop the last, smaller batch.
    block_size, buffer_blocks
        As in :func:`genozarr.batches`.
    **kwargs
        ``workers``, ``use_multiprocessing``, ``max_queue_size`` of ``PyDataset``.
    """

    def __init__(self, inputs: Any, targets: Any = None, *, batch_size: int = 32,
                 shuffle: bool = False, seed: int | None = None, drop_last: bool = False,
                 block_size: int | None = None, buffer_blocks: int = 4,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._inputs, self._rebuild_x = flatten(inputs)
        self._targets, self._rebuild_y = flatten(targets)
        if not self._inputs:
            raise ArgumentError("inputs must be a dataset, a list/tuple or a dict of datasets")
        self._datasets = self._inputs + self._targets
        self._n = check_lengths(self._datasets)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.block_size = block_size if block_size is not None else \
            max(chunk_rows(d) for d in self._datasets)
        self.buffer_blocks = buffer_blocks
        self._rng = np.random.default_rng(seed)
        self._plan = self._make_plan()

    def _make_plan(self) -> list[np.ndarray]:
        return batch_plan(self._n, self.batch_size, shuffle=self.shuffle, seed=self._rng,
                          drop_last=self.drop_last, block_size=self.block_size,
                          buffer_blocks=self.buffer_blocks)

    def __len__(self) -> int:
        return len(self._plan)

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        if not 0 <= index < len(self._plan):
            raise IndexError(f"batch {index} out of range for {len(self._plan)} batches")
        idx = self._plan[index]
        leaves = [read_batch(d, idx) for d in self._datasets]
        k = len(self._inputs)
        x = self._rebuild_x(leaves[:k])
        if not self._targets:
            return (x,)
        return x, self._rebuild_y(leaves[k:])

    def on_epoch_end(self) -> None:
        """Draw a new order for the next epoch (when shuffling)."""
        if self.shuffle:
            self._plan = self._make_plan()

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
from genozarr.loaders import Structured

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
        self._s = Structured(inputs, targets)
        self._datasets = self._s.datasets
        self._n = self._s.length
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
        out = self._s.rebuild([read_batch(d, idx) for d in self._datasets])
        if not self._s.targets:  # no targets (None or an empty list): Keras wants (x,)
            x = out[0] if self._s.has_targets else out
            return (x,)
        return out

    def on_epoch_end(self) -> None:
        """Draw a new order for the next epoch (when shuffling)."""
        if self.shuffle:
            self._plan = self._make_plan()

"""Keras 3 adapters: :class:`KerasDataset`, a ``keras.utils.PyDataset`` over genozarr
datasets, and :class:`JangguSequence`, Janggu's sequence of batches with its arguments.

Keras picks its backend when first imported: set ``KERAS_BACKEND`` (e.g. ``'torch'``)
before importing this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

try:
    import keras
except ImportError as _error:  # (an optional extra)
    raise ImportError("genozarr's Keras adapters need the optional package 'keras' (Keras 3): "
                      "install it with `pip install genozarr[keras]` and a backend (torch, "
                      "jax or tensorflow)", name="keras") from _error

from genozarr._validate import check_bool, check_int
from genozarr.batching import (
    batch_plan,
    chunk_rows,
    epoch_seed,
    read_batch,
    seed_generator,
    share_stores,
)
from genozarr.errors import ArgumentError, GenozarrWarning, warn
from genozarr.loaders import Structured

__all__ = ["KerasDataset", "JangguSequence"]


def _warn_read_ahead(loader: keras.utils.PyDataset, shuffle: bool) -> None:
    """Warn where Keras reads batches ahead (``workers > 1``, or ``use_multiprocessing``
    with a worker): it carries the batches read ahead into the next epoch (and into the
    first one those read around the batch it takes to start ``fit``), so an epoch serves
    some windows twice and others not at all, shuffled or not (this sequence's
    ``shuffle``, or ``model.fit(shuffle=True)``, Keras' default, which the sequence cannot
    see). A plain ``PyDataset`` loses windows alike."""
    workers = loader.workers or 0  # (Keras' own test for an enqueuer)
    if workers > 1 or (workers > 0 and loader.use_multiprocessing):
        warn(f"Keras' read-ahead (workers={loader.workers}, use_multiprocessing="
             f"{loader.use_multiprocessing}) carries batches read under one epoch into the "
             "next, so an epoch sees some windows twice and others not at all"
             + (f" ({type(loader).__name__}(shuffle=True) reorders them every epoch)"
                if shuffle else " (the first epoch, and every epoch of "
                "model.fit(..., shuffle=True), Keras' default)")
             + ": keep workers=1 and use_multiprocessing=False where every window must be "
             "seen once per epoch", GenozarrWarning)


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
        Seed of the orders: an integer gives epoch ``e`` the order a PyTorch loader
        (:func:`~genozarr.loaders.torch.torch_loader`, ``num_workers=0``) of the same seed
        and options serves as its epoch ``e`` (see Notes for how ``model.fit`` counts
        epochs); another seed (a sequence, a Generator) or None: each epoch takes the
        next order drawn from it.
    drop_last
        Serve full batches only (as :func:`genozarr.batches`: shuffled, the windows left
        out are drawn from the whole epoch).
    block_size, buffer_blocks
        As in :func:`genozarr.batches`.
    augment
        Joint augmentation of inputs and targets
        (:class:`~genozarr.loaders.augment.Augment`, as for the PyTorch loaders),
        reproducible by its seed, the epoch and the batch's windows.
    **kwargs
        ``workers``, ``use_multiprocessing``, ``max_queue_size`` of ``PyDataset``: Keras
        then reads batches ahead in its own threads or processes. genozarr reads and
        decodes ahead in its own threads either way, so the default (``workers=1``, no
        read-ahead by Keras) is usually as fast. With worker processes, a store kept
        decoded in memory (``cache='auto'``) is one copy shared with them. Keras 3.15's
        own read-ahead (``workers > 1``, or ``use_multiprocessing=True`` with a worker)
        carries the batches it read ahead into the next epoch, a plain ``PyDataset``
        alike: of a shuffled sequence, an epoch served 81-85 distinct windows of 94;
        unshuffled here under ``model.fit(..., shuffle=True)`` (Keras' default, which
        reorders the batches itself), 39-45 of 57 in each epoch; unshuffled in both,
        36 of 57 in the first epoch. Keep ``workers=1`` and ``use_multiprocessing=False``
        where every window must be seen once per epoch; a
        :class:`~genozarr.errors.GenozarrWarning` says so wherever Keras reads ahead.
        Random wrappers (:class:`~genozarr.wrappers.RandomOrientation`, ...) draw from
        one stream in the order batches are read, so under Keras' read-ahead their draws
        are not reproducible by their seed; ``augment`` is (its draws are keyed by the epoch and
        the windows).

    Notes
    -----
    :meth:`on_epoch_end` draws the next epoch's order and moves :attr:`epoch` on (the
    epoch number keys the augmentations). Keras calls it at the end of every epoch and
    also once before the first epoch of each ``fit`` and ``evaluate`` (it rewinds its
    iterator, in the first ``fit`` after reading a batch to build the model); ``predict``
    serves the current epoch and calls it only at its end. So the epochs a first
    ``model.fit`` trains are epochs 1, 2, ... of the seed, not 0, 1, ...: still the same
    orders and augmentations for the same seed and the same calls, and epoch ``e`` is a
    PyTorch loader's epoch ``e``, but a first ``fit``'s first epoch is epoch 1 where a
    PyTorch training loop's is epoch 0.
    """

    def __init__(self, inputs: Any, targets: Any = None, *, batch_size: int = 32,
                 shuffle: bool = False, seed: int | None = None, drop_last: bool = False,
                 block_size: int | None = None, buffer_blocks: int = 4,
                 augment: Any = None, **kwargs: Any) -> None:
        from genozarr.loaders.augment import Augment

        super().__init__(**kwargs)
        self._s = Structured(inputs, targets)
        if augment is not None and not isinstance(augment, Augment):
            raise ArgumentError(f"augment must be a genozarr.loaders.augment.Augment or None, "
                                f"got {type(augment).__name__}")
        self._augment = None if augment is None else augment.bind(self._s.datasets)
        self.epoch = 0
        self._datasets = self._s.datasets
        self._n = self._s.length
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.block_size = block_size if block_size is not None else \
            max(chunk_rows(d) for d in self._datasets)
        self.buffer_blocks = buffer_blocks
        self._rng = seed_generator(seed)  # (checks the seed)
        # an integer seed: each epoch's order from (seed, epoch), as the PyTorch loaders
        # draw theirs (from one stream, no epoch matched theirs; an audit)
        self._seed = int(seed) if isinstance(seed, (int, np.integer)) else None
        self._plan = self._make_plan()
        _warn_read_ahead(self, shuffle)
        if self.use_multiprocessing and (self.workers or 1) > 1:
            # Keras forks its worker processes: one decoded copy of each store kept in
            # memory, shared with them (else each reads through its chunk cache)
            share_stores(self._datasets)

    def _make_plan(self) -> list[np.ndarray]:
        seed = epoch_seed(self._seed, self.epoch) if self.shuffle and self._seed is not None \
            else self._rng
        return batch_plan(self._n, self.batch_size, shuffle=self.shuffle, seed=seed,
                          drop_last=self.drop_last, block_size=self.block_size,
                          buffer_blocks=self.buffer_blocks)

    def __len__(self) -> int:
        return len(self._plan)

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        if not 0 <= index < len(self._plan):
            raise IndexError(f"batch {index} out of range for {len(self._plan)} batches")
        idx = self._plan[index]
        parts = [read_batch(d, idx) for d in self._datasets]
        if self._augment is not None:
            from genozarr.loaders.augment import indices_key

            parts = self._augment(parts, key=(self.epoch, indices_key(idx)))
        out = self._s.rebuild(parts)
        if not self._s.targets:  # no targets (None or an empty list): Keras wants (x,)
            x = out[0] if self._s.has_targets else out
            return (x,)
        return out

    def on_epoch_end(self) -> None:
        """Draw a new order (when shuffling) and new augmentations for the next epoch."""
        self.set_epoch(self.epoch + 1)

    def set_epoch(self, epoch: int) -> None:
        """Serve epoch ``epoch`` next: its order and its augmentations, as the sequence
        serves them after ``epoch`` calls of :meth:`on_epoch_end` (with an integer seed;
        another seed's orders come one after the other from its stream, and only the
        augmentations follow). To resume training from a checkpoint taken after ``k``
        epochs of ``model.fit``: ``dataset.set_epoch(k)`` then ``model.fit(dataset,
        initial_epoch=k, ...)`` (``fit`` moves to the next epoch before its first one,
        as it did at the start of the first run).

        Parameters
        ----------
        epoch
            The epoch (an integer >= 0).
        """
        self.epoch = int(check_int("epoch", epoch, 0, allow_none=False))
        if self.shuffle:
            self._plan = self._make_plan()


def _named(datasets: Any, what: str) -> dict[str, Any]:
    """``{name: dataset}`` from a dict, a list/tuple or one named dataset (Janggu's
    ``as_dict=True``)."""
    if isinstance(datasets, Mapping):
        return {str(k): v for k, v in datasets.items()}
    items = list(datasets) if isinstance(datasets, (list, tuple)) else [datasets]
    out: dict[str, Any] = {}
    for d in items:
        name = getattr(d, "name", None)
        if not isinstance(name, str):
            raise ArgumentError(
                f"as_dict=True names the {what} by their .name, but a {type(d).__name__} has "
                "none: wrap numpy arrays in genozarr.janggu.Array, pass a dict, or use "
                "as_dict=False")
        if name in out:
            raise ArgumentError(f"two {what} are named {name!r}; as_dict=True needs unique names")
        out[name] = d
    return out


def _example_weights(w: np.ndarray, y: Any) -> np.ndarray:
    """One weight per example ``w`` as Keras 3 applies it to the target ``y``: spread over
    ``y``'s shape without its last axis (the one Keras' losses reduce), so that every
    element of an example carries its weight. Keras 3 does not spread one weight per
    example over a target of three or more axes (a coverage batch): it weighted nothing
    (or failed), where Janggu's Keras 2 weighted each example's mean loss."""
    shape = getattr(y, "shape", None)
    if shape is None or len(shape) <= 2 or w.ndim != 1:  # (weights per position: as given)
        return w
    return np.ascontiguousarray(np.broadcast_to(
        w.reshape((-1,) + (1,) * (len(shape) - 2)), tuple(shape[:-1])))


class JangguSequence(keras.utils.PyDataset):
    """Janggu's ``JangguSequence``: batches of inputs, outputs and sample weights for
    ``model.fit`` / ``predict`` / ``evaluate`` (a Keras 3 ``PyDataset``).

    Batch ``k`` holds the examples ``k * batch_size`` to ``(k + 1) * batch_size`` (of a
    new random order every epoch with ``shuffle=True``), read from every dataset at once:
    ``(x,)`` without outputs, ``(x, y)``, or ``(x, y, sample_weight)``.

    Parameters
    ----------
    inputs
        A dataset (:class:`~genozarr.dataset.Cover`, :class:`~genozarr.dataset.Bioseq`, a
        wrapper, a :class:`genozarr.janggu.Array` or a numpy array), a list/tuple of them
        or a dict ``{name: dataset}``.
    outputs
        The same, or None.
    sample_weights
        Array of one weight per example, or a dict of them by output name (an output
        the dict does not name weighs every example 1; a name that is no output is
        refused, as Keras 2 refused it), or None. For a target of three or more axes (a
        coverage batch), each example's weight is given to every element of it (the
        target's shape without its last axis, which Keras' losses reduce): Keras 3 does
        not spread one weight per example over such a target itself. The loss is then
        the weighted sum of the per-element losses over their number. Weights of more
        than one axis (per position) are handed on as given.
    batch_size
        Examples per batch; the last batch may be smaller.
    shuffle
        A new random order of the examples every epoch (the first one included).
    as_dict
        True (Janggu's default): ``x`` and ``y`` are dicts keyed by dataset names (the
        keys of a dict, else each dataset's ``.name``), to match a model's named inputs
        and outputs. False: as given, a list for a list, one array for one dataset.
    seed
        Seed of the shuffled orders.
    spread_weights
        True (default): spread one weight per example over a target of three or more
        axes, as above, for Keras' own losses (which reduce the last axis only). False:
        hand the weights on as given, for a loss of your own that reduces every axis but
        the batch's (it returns one value per example, which Keras weights itself).
    **kwargs
        ``workers``, ``use_multiprocessing``, ``max_queue_size`` of ``PyDataset``: Keras
        then reads batches ahead in its own threads or processes. genozarr reads and
        decodes ahead in its own threads either way, so the default (``workers=1``) is
        usually as fast. Keras calls :meth:`on_epoch_end` before the first epoch of each
        ``fit`` too, so with ``shuffle=True`` the first order drawn from ``seed`` is not
        the first one trained on (as with Janggu's own ``JangguSequence``). Keras' own
        read-ahead (``workers > 1``, or ``use_multiprocessing=True``) of a shuffled
        sequence, of any sequence under ``model.fit(..., shuffle=True)`` (Keras'
        default), and in the first epoch of any ``fit``, serves some examples twice and
        others not at all in an epoch: keep
        ``workers=1`` and ``use_multiprocessing=False`` where every example must be seen
        once per epoch (a warning says so wherever Keras reads ahead).

    Raises
    ------
    ArgumentError
        When the datasets differ in length, a dataset has no name with ``as_dict=True``,
        dicts (of datasets or of sample weights) are given with ``as_dict=False``, sample
        weights are given without outputs or are not one per example, a dict of sample
        weights names something that is not an output, or ``seed`` is not a seed.
    """

    def __init__(self, inputs: Any, outputs: Any = None, sample_weights: Any = None,
                 batch_size: int = 32, shuffle: bool = False, as_dict: bool = True, *,
                 seed: int | None = None, spread_weights: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spread_weights = check_bool("spread_weights", spread_weights)
        self.batch_size = check_int("batch_size", batch_size, 1, allow_none=False)
        self.as_dict = check_bool("as_dict", as_dict)
        if self.as_dict:
            inputs = _named(inputs, "inputs")
            outputs = None if outputs is None else _named(outputs, "outputs")
        elif isinstance(inputs, Mapping) or isinstance(outputs, Mapping):
            raise ArgumentError("dict-like inputs/outputs are not accepted with as_dict=False")
        self.inputs = inputs
        self.outputs = outputs
        self._s = Structured(inputs, outputs)
        self._n = self._s.length
        if sample_weights is not None:
            if outputs is None:  # (Keras' fit failed on the batches: "Invalid dtype")
                raise ArgumentError("sample_weights weigh the outputs' losses: they need "
                                    "outputs (got outputs=None)")
            if isinstance(sample_weights, Mapping) and not self.as_dict:
                raise ArgumentError(
                    "a dict of sample_weights names outputs: it needs as_dict=True (with "
                    "as_dict=False, give one array of weights)")
            weights = ({k: np.asarray(v) for k, v in sample_weights.items()}
                       if isinstance(sample_weights, Mapping) else np.asarray(sample_weights))
            given = list(weights.values()) if isinstance(weights, dict) else [weights]
            if any(np.ndim(w) == 0 for w in given):
                raise ArgumentError(
                    f"sample_weights need one weight per example ({self._n}), got a single "
                    "value")
            lengths = {len(w) for w in given}
            if lengths != {self._n}:
                raise ArgumentError(
                    f"sample_weights need one weight per example ({self._n}), got "
                    f"{sorted(lengths)}")
            if isinstance(weights, dict) and isinstance(outputs, Mapping):
                unknown = [k for k in weights if k not in outputs]
                if unknown:  # as Keras 2 refused them (Keras 3 fails inside fit)
                    raise ArgumentError(
                        f"sample_weights name {unknown}, which are not outputs; the outputs "
                        f"are {list(outputs)}")
                ones = np.ones(self._n)  # an output without weights: each example 1
                weights = {k: weights.get(k, ones) for k in outputs}
            sample_weights = weights
        self.sample_weights = sample_weights
        self.shuffle = check_bool("shuffle", shuffle)
        self._rng = seed_generator(seed)
        self.indices = self._rng.permutation(self._n) if self.shuffle else np.arange(self._n)
        _warn_read_ahead(self, self.shuffle)

    def __len__(self) -> int:
        return -(-self._n // self.batch_size)

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} out of range for {len(self)} batches")
        idx = np.asarray(self.indices[index * self.batch_size:(index + 1) * self.batch_size])
        out = self._s.rebuild([read_batch(d, idx) for d in self._s.datasets])
        x, y = out if self._s.has_targets else (out, None)
        if self.sample_weights is None:
            return (x,) if y is None else (x, y)
        w = self.sample_weights
        targets = list(y.values()) if isinstance(y, Mapping) else \
            list(y) if isinstance(y, (list, tuple)) else [y]
        if isinstance(w, dict):
            sw: Any = {k: _example_weights(v[idx], y.get(k) if isinstance(y, Mapping) else y)
                       if self.spread_weights else v[idx] for k, v in w.items()}
        elif not self.spread_weights or all(np.ndim(t) <= 2 for t in targets):  # as given
            sw = w[idx]
        elif isinstance(y, Mapping):  # one weight per example, for every output
            sw = {k: _example_weights(w[idx], v) for k, v in y.items()}
        elif isinstance(y, (list, tuple)):
            sw = [_example_weights(w[idx], v) for v in y]
        else:
            sw = _example_weights(w[idx], y)
        return (x, y, sw)

    def on_epoch_end(self) -> None:
        """Draw a new order for the next epoch (when shuffling)."""
        if self.shuffle:
            self.indices = self._rng.permutation(self._n)

"""Adapters feeding genozarr datasets to deep-learning frameworks.

Import the submodule you need; this package imports neither framework (the names below
import theirs when first used):

- :func:`torch_loader` (:func:`genozarr.loaders.torch.torch_loader`): a ready PyTorch
  ``DataLoader``, chunk-aware, sharded across ``torch.distributed`` ranks and workers,
  with joint augmentation;
- :mod:`genozarr.loaders.torch`: :class:`~genozarr.loaders.torch.TorchDataset` (map-style),
  :class:`~genozarr.loaders.torch.TorchIterableDataset` (chunk-aware batches, sharded
  across ranks and DataLoader workers) and :class:`~genozarr.loaders.torch.ChunkSampler`;
- :mod:`genozarr.loaders.augment`: :class:`~genozarr.loaders.augment.Augment`, random
  reverse complement and shift applied jointly to inputs and targets (numpy only);
- :mod:`genozarr.loaders.keras`: :class:`~genozarr.loaders.keras.KerasDataset` (a Keras 3
  ``PyDataset``).

Inputs and targets are a dataset, a list/tuple of datasets or a dict of them (any mix of
:class:`~genozarr.dataset.Cover`, :class:`~genozarr.dataset.Bioseq`, wrappers and numpy
arrays of the same length); batches keep that structure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from genozarr.errors import ArgumentError

if TYPE_CHECKING:
    from genozarr.loaders.augment import Augment
    from genozarr.loaders.torch import ChunkSampler, torch_loader

__all__ = ["Structured", "flatten", "unflatten", "torch_loader", "ChunkSampler", "Augment"]

#: names served lazily: name -> submodule (imported, with its framework, on first use)
_LAZY = {"torch_loader": "torch", "ChunkSampler": "torch", "TorchDataset": "torch",
         "TorchIterableDataset": "torch", "Augment": "augment"}


def __getattr__(name: str) -> Any:
    """``torch_loader``, ``ChunkSampler``, ``Augment``, ...: imported on first use."""
    sub = _LAZY.get(name)
    if sub is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"{__name__}.{sub}"), name)


class _Rebuild:
    """Rebuild a structure from its leaves; a class, not a closure, so that loaders pickle
    into spawned (or forkserver) DataLoader worker processes.

    Parameters
    ----------
    kind
        ``'none'``, ``'dict'``, ``'sequence'`` or ``'leaf'``.
    keys
        The dict's keys (``'dict'``).
    container
        The list or tuple type (``'sequence'``).
    """

    def __init__(self, kind: str, keys: list[Any] | None = None,
                 container: type | None = None) -> None:
        self.kind = kind
        self.keys = keys
        self.container = container

    def __call__(self, leaves: list[Any]) -> Any:
        if self.kind == "none":
            return None
        if self.kind == "dict":
            return dict(zip(self.keys or [], leaves))
        if self.kind == "sequence":
            assert self.container is not None
            return self.container(leaves)
        return leaves[0]


def flatten(structure: Any) -> tuple[list[Any], Callable[[list[Any]], Any]]:
    """Split a dataset, list/tuple or dict of datasets into a flat list and a function
    rebuilding the structure from a list of the same length.

    Parameters
    ----------
    structure
        A dataset, a list or tuple of datasets, a dict of datasets, or None.

    Returns
    -------
    tuple
        ``(leaves, rebuild)``.
    """
    if structure is None:
        return [], _Rebuild("none")
    if isinstance(structure, Mapping):
        keys = list(structure)
        if not keys:
            raise ArgumentError("an empty dict of datasets was given")
        leaves = [structure[k] for k in keys]
        _check_leaves(leaves)
        return leaves, _Rebuild("dict", keys=keys)
    if isinstance(structure, (list, tuple)):
        if not structure:
            raise ArgumentError("an empty list of datasets was given")
        leaves = list(structure)
        _check_leaves(leaves)
        return leaves, _Rebuild("sequence", container=type(structure))
    if not hasattr(structure, "__getitem__") or not hasattr(structure, "__len__"):
        raise ArgumentError(
            f"expected a dataset, a list/tuple or a dict of datasets, got {type(structure).__name__}")
    return [structure], _Rebuild("leaf")


def _check_leaves(leaves: list[Any]) -> None:
    """Refuse a list, tuple or dict inside a list or dict of datasets (one level only: a
    nested list was taken for a dataset whose windows are its items) and a Python list
    of labels (make it an array)."""
    for leaf in leaves:
        if isinstance(leaf, (list, tuple, Mapping, str)) or not (
                hasattr(leaf, "__getitem__") and hasattr(leaf, "__len__")):
            raise ArgumentError(
                f"a {type(leaf).__name__} inside the list or dict of datasets: give datasets "
                "one level deep (a list, tuple or dict of datasets, wrappers or arrays); "
                "for labels in a Python list, pass np.asarray(labels)")


def unflatten(rebuild: Callable[[list[Any]], Any], leaves: list[Any]) -> Any:
    """Apply ``rebuild`` from :func:`flatten` (kept for symmetry).

    Parameters
    ----------
    rebuild
        The function returned by :func:`flatten`.
    leaves
        One item per dataset.

    Returns
    -------
    object
        The rebuilt structure.
    """
    return rebuild(leaves)


def check_lengths(datasets: list[Any]) -> int:
    """The common length of ``datasets``; ArgumentError when they differ."""
    lengths = [len(d) for d in datasets]
    if len(set(lengths)) != 1:
        raise ArgumentError(f"inputs and targets must have equal lengths, got {lengths}")
    return lengths[0]


class Structured:
    """Inputs and targets as one flat list of datasets, plus the structures to rebuild.

    Shared by the framework adapters: they read one batch per dataset of
    :attr:`datasets` and hand the leaves to :meth:`rebuild`.

    Parameters
    ----------
    inputs
        A dataset, a list/tuple of them or a dict.
    targets
        The same, or None.
    """

    def __init__(self, inputs: Any, targets: Any) -> None:
        self.inputs, self._rebuild_x = flatten(inputs)
        self.targets, self._rebuild_y = flatten(targets)
        if not self.inputs:
            raise ArgumentError("inputs must be a dataset, a list/tuple or a dict of datasets")
        self.has_targets = targets is not None
        self.datasets = self.inputs + self.targets
        self.length = check_lengths(self.datasets)

    def rebuild(self, leaves: list[Any]) -> Any:
        """``x`` (no targets) or ``(x, y)`` in the structures of the inputs and targets,
        from one leaf per dataset of :attr:`datasets`.

        Parameters
        ----------
        leaves
            One item per dataset of :attr:`datasets` (a batch, a tensor, ...), in their
            order: the inputs' first, then the targets'.

        Returns
        -------
        object
            ``x`` without targets, else the tuple ``(x, y)``; ``x`` and ``y`` are the
            leaves in the structure of ``inputs`` and ``targets`` (a single leaf, a list
            or tuple of them, or a dict of them under the same keys).
        """
        k = len(self.inputs)
        x = self._rebuild_x(leaves[:k])
        if not self.has_targets:
            return x
        return x, self._rebuild_y(leaves[k:])


def as_array(x: Any) -> np.ndarray:
    """A batch as a numpy array (arrays pass through)."""
    return x if isinstance(x, np.ndarray) else np.asarray(x)

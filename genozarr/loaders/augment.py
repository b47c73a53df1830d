"""Joint augmentation of inputs and targets: random reverse complement and random shift.

:class:`Augment` draws, for every window of a batch, whether to reverse-complement it and
by how many bases to shift it, and applies the *same* draw to every input and target of
that window, so that a one-hot sequence and the coverage it should predict stay aligned.
It works on the numpy batches of the loaders (``torch_loader(..., augment=Augment(...))``)
and needs numpy only.

How each dataset is transformed (its axes are found by role, whatever the channel order
or the wrappers around it):

- **Bioseq (DNA), one-hot k-mers of order k.** Reverse complement: the position axis is
  reversed and the k-mer channels permuted to the reverse complement k-mer (A, C, G, T
  encoding order; order 1: A, C, G, T becomes T, G, C, A). Shift by ``s`` bases: the k-mer
  positions move by ``s``; k-mers that would hold bases from outside the window are all
  zeros (as N).
- **Cover at resolution r** (r bases per bin). Reverse complement: the position axis is
  reversed and the two strand channels swapped (an unstranded Cover is only reversed).
  Shift by ``s`` bases: the bins move by ``s / r``; bins shifted in from outside the window
  are 0.
- **Anything else** (numpy arrays, a Cover with one value per window ``resolution=None``,
  wrappers that summed the position axis away): treated as a per-window label. It is
  never shifted; reverse complement swaps its strand channels if it still has a strand
  axis (and reverses a position axis of length 1, a no-op).

**The shift rule (exact at every resolution).** Shifts are multiples of ``step``, the least
common multiple of the resolutions of the shifted datasets (1 for sequence), so that every
dataset moves by a whole number of bins: with ``shift=k`` the shift of a window is drawn
uniformly from ``{-m*step, ..., -step, 0, step, ..., m*step}``, ``m = k // step``. For a
one-hot sequence (resolution 1) and a Cover at resolution 10, ``shift=25`` draws from
``{-20, -10, 0, 10, 20}`` bases: 20 bases and 2 bins. No wider window is read: the
values shifted in are zeros (the window edge is unknown data, as under
:class:`~genozarr.wrappers.RandomShift`). A positive shift moves the content to higher
positions: ``out[p] = in[p - s]``.

**Order and reproducibility.** Reverse complement is applied first, then the shift. The
draws of a batch come from ``numpy.random.default_rng(SeedSequence([seed, *key]))``
where the loader's ``key`` names the batch (epoch, shard and batch number for the
iterable loader; epoch and the batch's windows for the map-style one), so a seed gives
the same augmentations whatever the workers' timing. The map-style loader's are also the
same whatever the number of workers; the iterable loader cuts its batches per shard (one
per rank and worker), so its batches, and their augmentations, are the same for the same
number of ranks and workers.

Examples
--------
>>> import numpy as np
>>> aug = Augment(reverse_complement=1.0, seed=0)
>>> onehot = np.eye(4, dtype="float32")[[0, 0, 1, 3]][None, :, None, :]  # AACT
>>> layout = Layout("seq", position=1, strand=2, channel=3,
...                 perm=np.array([3, 2, 1, 0]), resolution=1)
>>> out, = aug.bind_layouts([layout])([onehot], key=(0,))
>>> "".join("ACGT"[c] for c in out[0, :, 0].argmax(-1))  # AGTT
'AGTT'
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from genozarr._validate import check_number
from genozarr.errors import ArgumentError, get_logger

__all__ = ["Augment", "BoundAugment", "Layout", "layout_of", "reverse_complement_windows",
           "shift_windows", "indices_key"]

log = get_logger(__name__)


@dataclass(frozen=True, eq=False)
class Layout:
    """How :class:`Augment` acts on the batches of one dataset.

    Axes are batch axes (axis 0 is the window).

    Parameters
    ----------
    name
        Dataset name (messages).
    position
        Position axis, reversed by reverse complement and moved by a shift; None if the
        batches have none.
    strand
        Strand axis, reversed (strands swapped) by reverse complement; None if none.
    channel
        Channel axis permuted by reverse complement (one-hot k-mers); None if none.
    perm
        Channel permutation of reverse complement: output channel ``c`` takes input
        channel ``perm[c]``; None leaves the channels.
    resolution
        Bases per position step of a shiftable dataset (1 for sequence, the Cover's
        resolution); None: never shifted (labels).
    flip_problem, shift_problem
        Why this dataset cannot be reverse-complemented / shifted exactly (None: it can);
        binding an :class:`Augment` that does so raises it.
    """

    name: str
    position: int | None = None
    strand: int | None = None
    channel: int | None = None
    perm: np.ndarray | None = field(default=None, repr=False)
    resolution: int | None = None
    flip_problem: str | None = None
    shift_problem: str | None = None

    @property
    def label(self) -> bool:
        """True for a dataset the shift leaves alone (no shiftable position axis)."""
        return self.resolution is None


def layout_of(dataset: Any) -> Layout:
    """The :class:`Layout` of a dataset, wrapper or array-like.

    Parameters
    ----------
    dataset
        A :class:`~genozarr.dataset.Bioseq`, :class:`~genozarr.dataset.Cover`, a wrapper of
        one, or any array-like (a label: left unchanged).

    Returns
    -------
    Layout
    """
    from genozarr.dataset import Bioseq, Dataset
    from genozarr.wrappers import _revcomp_permutation, _roles, _root

    name = str(getattr(dataset, "name", type(dataset).__name__))
    root = _root(dataset)
    if not isinstance(root, Dataset):
        return Layout(name)
    roles = _roles(dataset)

    def axis(role: str) -> int | None:
        return roles.index(role) + 1 if role in roles else None

    position, strand, channel = axis("position"), axis("strand"), axis("condition")
    fixed = root.gindexer.binsize is not None
    if isinstance(root, Bioseq):
        perm = None
        flip_problem = None
        if root.seqtype != "dna":
            flip_problem = (f"{name!r} is a {root.seqtype} sequence: reverse complement is "
                            "undefined")
        elif channel is None:
            flip_problem = f"{name!r} has lost its k-mer channel axis: it cannot be complemented"
        else:
            perm = _revcomp_permutation(root.order)
        if position is not None and not fixed:
            return Layout(name, position, strand, channel, perm, None,
                          flip_problem or f"{name!r} has windows of different lengths",
                          f"{name!r} has windows of different lengths")
        return Layout(name, position, strand, channel, perm,
                      1 if position is not None else None, flip_problem)
    res = root.resolution
    if res is None or position is None:
        # one value per window, or positions summed away: a label
        return Layout(name, position, strand)
    if not fixed:
        why = (f"{name!r} has windows of different lengths at resolution {res}: its bins "
               "cannot be reversed or shifted exactly")
        return Layout(name, position, strand, None, None, None, why, why)
    return Layout(name, position, strand, None, None, int(res))


def reverse_complement_windows(batch: np.ndarray, layout: Layout,
                               flip: np.ndarray) -> np.ndarray:
    """Reverse-complement the windows ``flip`` of a batch.

    Parameters
    ----------
    batch
        A batch (window axis first).
    layout
        Its :class:`Layout`.
    flip
        Boolean per window.

    Returns
    -------
    numpy.ndarray
        A new array when a window is flipped, else ``batch``.
    """
    flip = np.asarray(flip, dtype=bool)
    if not flip.any() or (layout.position is None and layout.strand is None
                          and layout.perm is None):
        return batch
    out = np.array(batch, copy=True)
    sub = out[flip]
    for ax in (layout.position, layout.strand):
        if ax is not None:
            sub = np.flip(sub, axis=ax)
    if layout.perm is not None and layout.channel is not None:
        sub = np.take(sub, layout.perm, axis=layout.channel)
    out[flip] = sub
    return out


def shift_windows(batch: np.ndarray, axis: int, bins: np.ndarray) -> np.ndarray:
    """Shift each window of a batch along ``axis`` by ``bins[i]`` steps, filling with 0.

    ``out[i, p] = batch[i, p - bins[i]]`` along ``axis`` (0 where ``p - bins[i]`` is
    outside the window).

    Parameters
    ----------
    batch
        A batch (window axis first).
    axis
        The position axis.
    bins
        Integer shift per window.

    Returns
    -------
    numpy.ndarray
        A new array when a window moves, else ``batch``.
    """
    bins = np.asarray(bins, dtype=np.int64)
    if not bins.any():
        return batch
    moved = np.moveaxis(batch, axis, 1)
    n, length = moved.shape[:2]
    src = np.arange(length)[None, :] - bins[:, None]
    inside = (src >= 0) & (src < length)
    out = moved[np.arange(n)[:, None], np.clip(src, 0, max(length - 1, 0))]
    out[~inside] = 0
    return np.moveaxis(out, 1, axis)


def indices_key(idx: Any) -> int:
    """A 63-bit key naming a batch by its windows (for :meth:`BoundAugment.__call__`).

    Parameters
    ----------
    idx
        Window indices of the batch, in the order served.

    Returns
    -------
    int
    """
    data = np.ascontiguousarray(np.asarray(idx, dtype=np.int64)).tobytes()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little") >> 1


class Augment:
    """Random reverse complement and random shift, drawn per window and applied jointly to
    every input and target of a batch (see the module notes for the rules).

    Parameters
    ----------
    reverse_complement
        Probability that a window is reverse-complemented, in ``[0, 1]``.
    shift
        Largest shift in bases (``>= 0``); shifts are multiples of the least common
        multiple of the resolutions of the shifted datasets.
    seed
        Seed of the draws; None: fresh entropy, fixed for this object (its copies in
        worker processes draw alike).

    Examples
    --------
    >>> Augment(reverse_complement=0.5, shift=10, seed=0)
    Augment(reverse_complement=0.5, shift=10, seed=0)
    """

    def __init__(self, reverse_complement: float = 0.5, shift: int = 0,
                 seed: int | None = None) -> None:
        p = check_number("reverse_complement", reverse_complement)
        if not 0.0 <= p <= 1.0:
            raise ArgumentError(
                f"reverse_complement must be a probability in [0, 1], got {reverse_complement!r}")
        if isinstance(shift, bool) or not isinstance(shift, (int, np.integer)) or shift < 0:
            raise ArgumentError(f"shift must be a non-negative integer, got {shift!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
                                 or seed < 0):
            raise ArgumentError(f"seed must be a non-negative integer or None, got {seed!r}")
        self.reverse_complement = p
        self.shift = int(shift)
        self.seed = None if seed is None else int(seed)
        self._entropy = int(np.random.SeedSequence(self.seed).entropy)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return (f"Augment(reverse_complement={self.reverse_complement}, shift={self.shift}, "
                f"seed={self.seed})")

    def bind(self, datasets: Sequence[Any]) -> BoundAugment:
        """This augmentation for the datasets of a loader (checked once).

        Parameters
        ----------
        datasets
            Every input and target, in the order of the batches' arrays.

        Returns
        -------
        BoundAugment

        Raises
        ------
        ArgumentError
            When a dataset cannot be augmented exactly, or the shift cannot move anything.
        """
        return self.bind_layouts([layout_of(d) for d in datasets])

    def bind_layouts(self, layouts: Sequence[Layout]) -> BoundAugment:
        """As :meth:`bind`, from the datasets' :class:`Layout` objects.

        Parameters
        ----------
        layouts
            One :class:`Layout` per dataset (see :func:`layout_of`), in the order of the
            batches' arrays.

        Returns
        -------
        BoundAugment

        Raises
        ------
        ArgumentError
            When a dataset cannot be augmented exactly, or the shift cannot move anything.
        """
        return BoundAugment(self, list(layouts))


class BoundAugment:
    """An :class:`Augment` bound to the layouts of a loader's datasets.

    Parameters
    ----------
    augment
        The augmentation.
    layouts
        One :class:`Layout` per array of a batch.
    """

    def __init__(self, augment: Augment, layouts: list[Layout]) -> None:
        self.augment = augment
        self.layouts = layouts
        for lay in layouts:
            if augment.reverse_complement > 0 and lay.flip_problem:
                raise ArgumentError(f"Augment(reverse_complement > 0): {lay.flip_problem}")
            if augment.shift > 0 and lay.shift_problem:
                raise ArgumentError(f"Augment(shift > 0): {lay.shift_problem}")
        shiftable = [lay.resolution for lay in layouts if lay.resolution is not None]
        self.step = math.lcm(*shiftable) if shiftable else 1
        self.max_steps = 0
        if augment.shift:
            if not shiftable:
                raise ArgumentError(
                    f"Augment(shift={augment.shift}): no dataset has positions to shift (a "
                    "Bioseq or a Cover with a resolution)")
            self.max_steps = augment.shift // self.step
            if self.max_steps == 0:
                raise ArgumentError(
                    f"Augment(shift={augment.shift}): shifts are multiples of {self.step} "
                    f"bases (the least common multiple of the resolutions {sorted(set(shiftable))}"
                    "), so the largest shift must be at least that")
        if augment.reverse_complement > 0 and not any(
                lay.position is not None or lay.strand is not None for lay in layouts):
            raise ArgumentError("Augment(reverse_complement > 0): no dataset has a position or "
                                "strand axis to reverse")
        log.debug("Augment bound to %d datasets: shift step %d bases, up to %d steps",
                  len(layouts), self.step, self.max_steps)

    def draw(self, n: int, key: Sequence[int] = ()) -> tuple[np.ndarray, np.ndarray]:
        """The random choices for a batch of ``n`` windows.

        Parameters
        ----------
        n
            Windows in the batch.
        key
            Non-negative integers naming the batch (see the module notes).

        Returns
        -------
        tuple of numpy.ndarray
            ``(flip, shift)``: a boolean per window (reverse-complemented) and the shift of
            each window in bases (a multiple of :attr:`step`).
        """
        entropy = [self.augment._entropy] + [int(k) for k in key]
        rng = np.random.default_rng(np.random.SeedSequence(entropy))
        flip = rng.random(n) < self.augment.reverse_complement
        shift = rng.integers(-self.max_steps, self.max_steps + 1, size=n) * self.step
        return flip, shift.astype(np.int64)

    def __call__(self, arrays: Sequence[np.ndarray], key: Sequence[int] = ()) -> list[np.ndarray]:
        """Augment the arrays of one batch (one per layout, same windows).

        Parameters
        ----------
        arrays
            One batch per dataset, window axis first.
        key
            Names the batch (see :meth:`draw`).

        Returns
        -------
        list of numpy.ndarray
        """
        if len(arrays) != len(self.layouts):
            raise ArgumentError(f"Augment: {len(arrays)} arrays for {len(self.layouts)} datasets")
        if not arrays:
            return []
        n = len(arrays[0])
        flip, shift = self.draw(n, key)
        out = []
        for arr, lay in zip(arrays, self.layouts):
            arr = reverse_complement_windows(arr, lay, flip)
            if lay.resolution is not None and lay.position is not None:
                arr = shift_windows(arr, lay.position, shift // lay.resolution)
            out.append(arr)
        return out

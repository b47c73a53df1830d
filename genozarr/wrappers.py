"""Views and dataset wrappers with Janggu's names: :func:`view`, :class:`ReduceDim`,
:class:`SqueezeDim`, :class:`Transpose`, :class:`NanToNumConverter` and the augmentations
:class:`RandomOrientation`, :class:`RandomShift`, :class:`RandomSignalScale`.

A wrapper reads its dataset lazily, batch by batch: ``wrapper[i]``, ``wrapper[a:b]`` and
``wrapper[[i, j]]`` index as the wrapped dataset does (every key gives a batch: an
integer a batch of one, as in Janggu), ``len`` and ``shape`` describe the dataset
(``shape[0]`` windows, each of ``shape[1:]``). Wrappers nest, keep the
wrapped dataset's ``name``, ``gindexer`` and ``garray``, and can be passed to
:func:`genozarr.batches` and the PyTorch / Keras loaders like any dataset.

Each wrapper tracks the role of every non-region axis (``position``, ``strand``,
``condition``) so that augmentations find the axes they act on whatever the channel order
or earlier wrappers did.

Differences from Janggu 0.10.2, all deliberate:

- ``SqueezeDim`` never drops the region axis, even for a dataset of length 1;
- ``RandomSignalScale`` scales by ``1 + uniform(-deviance, deviance)`` as documented
  (Janggu's formula gave a different range);
- ``RandomShift`` draws shifts in ``[-shift, shift]`` inclusive (Janggu never drew
  ``+shift``);
- ``RandomOrientation`` reverse-complements one-hot k-mers of any order (Janggu flipped
  the strand axis only, which for a Bioseq reverses without complementing);
- augmentations take a ``random_state``; forked DataLoader workers reseed (see
  :mod:`genozarr.loaders.torch`) instead of repeating the parent's random stream.
"""

from __future__ import annotations

import copy
import functools
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from genozarr._validate import check_bool
from genozarr.dataset import Bioseq, Dataset
from genozarr.errors import ArgumentError, ChromosomeNotFoundError, RegionError
from genozarr.regions import GenomicIndexer, RegionsLike

__all__ = ["view", "Wrapper", "ReduceDim", "SqueezeDim", "Transpose", "NanToNumConverter",
           "RandomOrientation", "RandomShift", "RandomSignalScale"]

#: roles of the non-region axes of a dataset, channel_last=True / False
_ROLES_LAST = ("position", "strand", "condition")
_ROLES_FIRST = ("condition", "position", "strand")

RandomStateLike = int | np.integer | np.random.Generator | np.random.RandomState | None


def _janggu_array(init: Callable[..., None]) -> Callable[..., None]:
    """Take the wrapped dataset as ``array=`` too, Janggu's name for ``data``."""
    @functools.wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if "array" in kwargs:
            if args or "data" in kwargs:
                raise ArgumentError(f"{type(self).__name__} got the dataset twice: give "
                                    "data (or Janggu's array=) once")
            args = (kwargs.pop("array"),)
        init(self, *args, **kwargs)
    return __init__


# ---------------------------------------------------------------------------- views
def view(dataset: Any,
         roi: RegionsLike | GenomicIndexer | slice | Sequence[int] | np.ndarray | None = None,
         *, use_regions: Any = None) -> Any:
    """A dataset reading a subset of windows of the same store, without copying.

    As Janggu's ``view(dataset, use_regions)``: the regions are tiled with the dataset's
    ``binsize``, ``stepsize``, ``flank`` and ``zero_padding``. A view of a partial-layout
    dataset (``store_whole_genome=False``) may only use windows the store holds; a view of
    a whole-genome dataset may use any window on the stored chromosomes. Views of views,
    of wrappers, and of lists, tuples or dicts of datasets are allowed; fitted
    normalizers are shared with the parent.

    Parameters
    ----------
    dataset
        A :class:`~genozarr.dataset.Dataset`, a wrapper, or a list, tuple or dict of them.
    roi
        Regions (anything :func:`~genozarr.regions.load_regions` accepts: BED/GFF path,
        DataFrame, PyRanges, list of Region), a
        :class:`~genozarr.regions.GenomicIndexer`, or indices of the dataset's windows
        (a slice, integer sequence or boolean mask).
    use_regions
        Janggu's name for ``roi`` (give one of the two).

    Returns
    -------
    object
        A dataset of the same type (a wrapper, list, tuple or dict for those inputs).

    Examples
    --------
    >>> import numpy as np
    >>> from genozarr import Cover, GenomicIndexer
    >>> gi = GenomicIndexer(["chr1"] * 4, [0, 10, 20, 30], [10, 20, 30, 40], ["+"] * 4, 10, 10)
    >>> cover = Cover.create_from_array("c", np.arange(40.0).reshape(4, 10, 1, 1), gi)
    >>> sub = view(cover, [3, 1])
    >>> sub.shape, float(sub[0][0, 0, 0, 0])
    ((2, 10, 1, 1), 30.0)
    """
    if (roi is None) == (use_regions is None):
        raise ArgumentError("view needs the regions: pass roi or use_regions (Janggu's name), "
                            "not both")
    if roi is None:
        roi = use_regions
    if isinstance(dataset, Mapping):
        return {k: view(v, roi) for k, v in dataset.items()}
    if isinstance(dataset, (list, tuple)):
        return type(dataset)(view(d, roi) for d in dataset)
    if isinstance(dataset, Wrapper):
        return dataset._rewrap(view(dataset.data, roi))
    if not isinstance(dataset, Dataset):
        raise ArgumentError(f"view needs a genozarr Dataset or wrapper, got {type(dataset).__name__}")
    gi = dataset.gindexer
    index = _as_index(roi, len(gi))
    if index is not None:
        return dataset.subset(dataset._examples_of(index))  # those windows' examples
    if isinstance(roi, GenomicIndexer):
        if roi.flank != gi.flank or (gi.binsize is not None and roi.binsize != gi.binsize):
            raise ArgumentError(
                f"the indexer's windows (binsize {roi.binsize}, flank {roi.flank}) differ from "
                f"the dataset's (binsize {gi.binsize}, flank {gi.flank})")
        new_gi = roi
    else:
        # one value per region only where the dataset serves one (a partial store of
        # resolution None); a whole-genome store without windows serves the regions in
        # bins of its resolution, padded to the longest (they were served 0 bins long)
        new_gi = GenomicIndexer.create_from_file(
            roi, binsize=gi.binsize, stepsize=gi.stepsize, flank=gi.flank,
            zero_padding=gi.zero_padding,
            collapse=gi.binsize is None and not dataset.garray.whole_genome)
    store = dataset.garray
    if store.whole_genome:
        missing = sorted(set(new_gi.chrs.astype(str)) - set(store.meta.chroms))
        if missing:
            raise ChromosomeNotFoundError(
                f"view of {dataset.name!r}: chromosomes {missing[:5]} are not in its store "
                f"{store.path or store.meta.name} (it has {list(store.meta.chroms)[:8]})")
        res = store.meta.resolution or 1
        bad = np.flatnonzero((new_gi.starts - new_gi.flank) % res)
        if len(bad):
            raise RegionError(
                f"view of {dataset.name!r}: window {new_gi[int(bad[0])]} does not start at a "
                f"multiple of the resolution {res}; trim the regions with genozarr.trim_regions")
    return dataset.with_windows(new_gi)


def _as_index(roi: Any, n: int) -> np.ndarray | None:
    """Integer window indices if ``roi`` selects windows by position, else None."""
    if isinstance(roi, slice):
        return np.arange(n)[roi]
    if isinstance(roi, (str, os.PathLike, GenomicIndexer)) or hasattr(roi, "columns") \
            or hasattr(roi, "df"):
        return None
    if isinstance(roi, (range, np.ndarray)) or (
            isinstance(roi, Sequence) and
            all(isinstance(r, (int, np.integer, bool, np.bool_)) for r in roi)) or (
            # a pandas Series or Index, a torch tensor: of integers or booleans (as ds[...]
            # takes them; they were read as a list of regions)
            hasattr(roi, "__array__") and np.asarray(roi).dtype.kind in "biu"):
        arr = np.asarray(roi)
        if arr.size == 0 and arr.dtype != bool:  # [] selects no window, as ds[[]] does
            return np.empty(0, dtype=np.int64)
        if arr.dtype == bool:
            if arr.shape != (n,):
                raise ArgumentError(f"a boolean mask for view needs {n} entries, got {arr.shape}")
            return np.flatnonzero(arr)
        if arr.dtype.kind not in "iu":
            return None
        if arr.ndim != 1:  # (a view is a list of windows: a 2-D index gave one that
            raise ArgumentError(  # served an extra axis)
                f"view takes a 1-D sequence of window indices, got an array of shape "
                f"{arr.shape}; flatten it (.ravel()) for those windows in that order")
        if arr.size and (arr.min() < -n or arr.max() >= n):
            raise IndexError(f"view index out of range for a dataset of {n} windows")
        return np.arange(n)[arr]
    return None


# ---------------------------------------------------------------------------- wrappers
def _roles(data: Any) -> tuple[str | None, ...]:
    """Roles of the non-region axes of a dataset or wrapper (None: unknown)."""
    if isinstance(data, Wrapper):
        return data.axis_roles
    if isinstance(data, Dataset):
        return _ROLES_LAST if data.channel_last else _ROLES_FIRST
    return (None,) * (len(data.shape) - 1)


def _interval_roles(data: Any) -> tuple[str | None, ...]:
    """Roles of the non-region axes of what a genomic-interval key reads from ``data``:
    its :func:`_roles`, but where a :class:`SqueezeDim` below kept a position axis of
    windows of one position (see :attr:`Wrapper.interval_roles`)."""
    return data.interval_roles if isinstance(data, Wrapper) else _roles(data)


def _kept_position(data: Any) -> int | None:
    """The axis of an interval key's batch read from ``data`` that its window batches lack
    (a position axis a :class:`SqueezeDim` kept), or None where they have the same axes."""
    roles, kept = _roles(data), _interval_roles(data)
    if len(kept) == len(roles):
        return None
    for p, role in enumerate(kept, 1):
        if role == "position" and kept[:p - 1] + kept[p:] == roles:
            return p
    raise AssertionError(f"interval roles {kept} do not extend {roles}")  # pragma: no cover


def _on_interval(axes: Sequence[int], kept: int | None) -> tuple[int, ...]:
    """Window-batch axes ``axes`` as axes of an interval key's batch with the extra
    position axis ``kept`` (None: none)."""
    return tuple(a if kept is None or a < kept else a + 1 for a in axes)


def _interval_roles_without(data: Any, axes: Sequence[int]) -> tuple[str | None, ...]:
    """Roles of an interval key's batch read from ``data`` without its window-batch axes
    ``axes`` (dropped by a wrapper)."""
    dropped = set(_on_interval(axes, _kept_position(data)))
    return tuple(r for i, r in enumerate(_interval_roles(data), 1) if i not in dropped)


def _root(data: Any) -> Any:
    while isinstance(data, Wrapper):
        data = data.data
    return data


class Wrapper:
    """Base class of dataset wrappers: lazy per-batch transforms of a wrapped dataset.

    Subclasses implement :meth:`transform` (a batch with the region axis first, to a
    batch) and, where they change it, :attr:`element_shape` and :attr:`axis_roles`.

    Parameters
    ----------
    data
        A :class:`~genozarr.dataset.Dataset` or another wrapper. Every wrapper takes it
        as ``array=`` too, Janggu's name.
    """

    @_janggu_array
    def __init__(self, data: Any) -> None:
        if not hasattr(data, "__getitem__") or not hasattr(data, "shape"):
            raise ArgumentError(f"{type(self).__name__} wraps a dataset, got {type(data).__name__}")
        self.data = data
        self.name = getattr(data, "name", type(self).__name__)

    # -------------------------------------------------------------- passthrough
    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.data!r})"

    @property
    def gindexer(self) -> GenomicIndexer:
        """The wrapped dataset's indexer; setting it sets the wrapped dataset's (as
        Janggu's wrappers do)."""
        return self.data.gindexer

    @gindexer.setter
    def gindexer(self, gindexer: GenomicIndexer) -> None:
        self.data.gindexer = gindexer

    @property
    def garray(self) -> Any:
        """The wrapped dataset's store."""
        return self.data.garray

    @property
    def conditions(self) -> list[str] | None:
        """The wrapped dataset's condition names."""
        return getattr(self.data, "conditions", None)

    @property
    def element_shape(self) -> tuple[int, ...]:
        """Shape of one item."""
        return tuple(self.data.shape[1:])

    @property
    def axis_roles(self) -> tuple[str | None, ...]:
        """Role (``'position'``, ``'strand'``, ``'condition'`` or None) of each non-region
        axis of a batch."""
        return _roles(self.data)

    @property
    def interval_roles(self) -> tuple[str | None, ...]:
        """Roles of the non-region axes of what a genomic-interval key reads: those of
        :attr:`axis_roles`, plus a position axis that a :class:`SqueezeDim` below dropped
        from windows of one position (``resolution=None``) and kept for the interval's
        bases. Wrappers above such a one act on each base as they act on a window."""
        kept = _kept_position(self.data)
        if kept is None:
            return self.axis_roles
        roles = list(self.axis_roles)
        return tuple(roles[:kept - 1] + ["position"] + roles[kept - 1:])

    @property
    def shape(self) -> tuple[int, ...]:
        """``(len(self),) + element_shape``."""
        return (len(self),) + self.element_shape

    @property
    def ndim(self) -> int:
        """Number of dimensions of :attr:`shape`."""
        return len(self.shape)

    def _rewrap(self, data: Any) -> Wrapper:
        new = copy.copy(self)
        new.data = data
        return new

    # -------------------------------------------------------------- access
    def transform(self, batch: np.ndarray) -> np.ndarray:
        """Transform a batch read from the wrapped dataset (region axis first).

        Parameters
        ----------
        batch
            A batch read from the wrapped dataset, region axis first: ``(k,) +
            data.shape[1:]`` for ``k`` windows; a writable array (:meth:`read` copies a
            read-only one), which may be modified in place.

        Returns
        -------
        numpy.ndarray
            The batch as this wrapper serves it: ``(k,) + element_shape``.

        Raises
        ------
        NotImplementedError
            In this base class: subclasses implement it.
        """
        raise NotImplementedError  # pragma: no cover - interface

    def transform_interval(self, batch: np.ndarray) -> np.ndarray:
        """Transform what a genomic-interval key read (one base per position: as many
        positions as the interval has bases); :meth:`transform` unless overridden.

        Parameters
        ----------
        batch
            What a genomic-interval key read from the wrapped dataset (a writable copy),
            region axis first: one row of as many positions as the interval has bases,
            e.g. ``(1, end - start, strand, condition)`` from a channel-last Cover.

        Returns
        -------
        numpy.ndarray
            The transformed batch, its non-region axes of the roles
            :attr:`interval_roles`.
        """
        return self.transform(batch)

    def __getitem__(self, key: Any) -> np.ndarray:
        """A batch for every key, as the wrapped dataset (``w[i]`` has a leading axis of
        length 1; a genomic interval key is read from the dataset and transformed)."""
        if isinstance(key, str) or (isinstance(key, tuple) and key and isinstance(key[0], str)) \
                or all(hasattr(key, a) for a in ("chrom", "start", "end")):
            return self.transform_interval(np.array(self.data[key], copy=True))
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            n = len(self)
            i = int(key)
            if not -n <= i < n:
                raise IndexError(f"index {i} out of range for {type(self).__name__} of length {n}")
            return self.read(np.array([i % n]))
        idx = np.atleast_1d(np.arange(len(self))[key])
        if idx.ndim > 1:  # an index array of several axes: (*key, ...) as the dataset gives
            out = self.read(idx.ravel())
            return out.reshape(idx.shape + out.shape[1:])
        return self.read(idx)

    def read(self, idx: np.ndarray) -> np.ndarray:
        """The batch of windows ``idx`` (integer positions), transformed by this wrapper.

        Parameters
        ----------
        idx
            Window positions (integers, 1-D, in any order), as
            :meth:`Dataset.read <genozarr.dataset.Dataset.read>` takes them.

        Returns
        -------
        numpy.ndarray
            ``(len(idx),) + element_shape``: the wrapped dataset's batch (copied where it
            is read-only) passed through :meth:`transform`.
        """
        from genozarr.batching import read_batch

        batch = read_batch(self.data, np.asarray(idx))
        if not batch.flags.writeable:
            batch = batch.copy()
        return self.transform(batch)

    def __iter__(self):  # noqa: ANN204
        for i in range(len(self)):
            yield self[i]


def _axis_tuple(axis: int | Sequence[int], ndim: int, what: str) -> tuple[int, ...]:
    if not isinstance(axis, (int, np.integer, list, tuple, np.ndarray)) \
            or isinstance(axis, bool):
        raise ArgumentError(f"{what}: axis must be an integer or a tuple of them, got {axis!r}")
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)) or not -ndim <= a < ndim:
            raise ArgumentError(f"{what}: axis {a!r} is not an axis of a {ndim}-d dataset")
        a = int(a) % ndim
        if a == 0:
            raise ArgumentError(f"{what}: axis 0 (the region axis) cannot be used")
        out.append(a)
    if len(set(out)) != len(out):
        raise ArgumentError(f"{what}: repeated axis in {axis!r}")
    return tuple(out)


class ReduceDim(Wrapper):
    """Aggregate axes of a dataset, by default the position and strand axes of a Cover:
    ``(n, position, strand, condition)`` becomes ``(n, condition)``.

    Parameters
    ----------
    data
        Dataset or wrapper.
    aggregator
        'sum' (default), 'mean', 'max', or a callable ``f(batch, axis=tuple)`` as numpy's
        reductions; what it returns must be the batch without those axes (an
        :class:`~genozarr.errors.ArgumentError` names the shapes where it is not).
    axis
        Axes to aggregate (of the full shape, region axis 0 excluded); default the
        position and strand axes: ``(1, 2)`` as Janggu for a channel-last dataset,
        ``(2, 3)`` for a channel-first one (Janggu's ``(1, 2)`` summed its conditions
        there), the one of them that remains where a :class:`SqueezeDim` or a
        ``ReduceDim`` below dropped the other (an :class:`~genozarr.errors.ArgumentError`
        where neither remains), ``(1, 2)``
        where the wrapped axes' roles are not known. An interval key read through a
        :class:`SqueezeDim` that kept its position axis is aggregated at each base.

    Examples
    --------
    >>> import numpy as np
    >>> from genozarr import Cover, GenomicIndexer
    >>> gi = GenomicIndexer(["chr1"] * 2, [0, 10], [10, 20], ["+"] * 2, 10, 10)
    >>> cover = Cover.create_from_array("c", np.ones((2, 10, 1, 3)), gi)
    >>> ReduceDim(cover).shape, ReduceDim(cover)[0].tolist()
    ((2, 3), [[10.0, 10.0, 10.0]])
    """

    @_janggu_array
    def __init__(self, data: Any, aggregator: str | Callable[..., Any] | None = None,
                 axis: int | Sequence[int] | None = None) -> None:
        super().__init__(data)
        funcs: dict[str, Callable[..., Any]] = {"sum": np.sum, "mean": np.mean, "max": np.max}
        if aggregator is None:
            aggregator = "sum"
        if callable(aggregator):
            self.aggregator = aggregator
        elif aggregator in funcs:
            self.aggregator = funcs[aggregator]
        else:
            raise ArgumentError(
                f"ReduceDim aggregator must be 'sum', 'mean', 'max' or a callable, got {aggregator!r}")
        if axis is None:
            roles = _roles(data)
            if None in roles:  # (not known: Janggu's default)
                axis = (1, 2)
            else:  # (either may be squeezed away: the other alone then)
                axis = tuple(i for i, r in enumerate(roles, 1) if r in ("position", "strand"))
                if not axis:
                    raise ArgumentError(
                        f"ReduceDim: {data!r} has no position or strand axis to aggregate "
                        f"(its axes: {', '.join(roles)}); give the axis")
        self.axis = _axis_tuple(axis, len(data.shape), "ReduceDim")

    @property
    def element_shape(self) -> tuple[int, ...]:
        """Shape of one item: the wrapped shape without the aggregated axes."""
        return tuple(s for i, s in enumerate(self.data.shape) if i and i not in self.axis)

    @property
    def axis_roles(self) -> tuple[str | None, ...]:
        """Roles of the axes that remain."""
        return tuple(r for i, r in enumerate(_roles(self.data), 1) if i not in self.axis)

    def transform(self, batch: np.ndarray) -> np.ndarray:
        """Aggregate the axes of a batch.

        Parameters
        ----------
        batch
            A batch read from the wrapped dataset, region axis first: ``(k,) +
            data.shape[1:]`` for ``k`` windows; a writable array (:meth:`read` copies a
            read-only one), which may be modified in place.

        Returns
        -------
        numpy.ndarray
            ``(k,) + element_shape``: the aggregator applied over the axes ``axis``.
        """
        return self._aggregate(batch, self.axis)

    def _aggregate(self, batch: np.ndarray, axis: tuple[int, ...]) -> np.ndarray:
        """The aggregator over ``axis`` of ``batch``, checked to have dropped exactly those
        axes (a callable that ignores ``axis`` would reduce the whole batch to one value,
        or keep the axes, and be served as the dataset's rows)."""
        try:
            out = np.asarray(self.aggregator(batch, axis=axis))
        except TypeError as e:
            if "keyword argument 'axis'" not in str(e):  # (Python's words for it)
                raise
            raise ArgumentError(
                f"ReduceDim: the aggregator {self.aggregator!r} takes no axis= keyword; it "
                f"is called as f(batch, axis={axis}), as numpy's reductions are "
                "(e.g. lambda x, axis: np.percentile(x, 90, axis=axis))") from e
        want = tuple(n for i, n in enumerate(batch.shape) if i not in axis)
        if out.shape != want:
            raise ArgumentError(
                f"ReduceDim: the aggregator {self.aggregator!r} returned an array of shape "
                f"{out.shape} for a batch of shape {batch.shape} aggregated over axes "
                f"{axis}; expected {want}, the batch's shape without those axes (it must "
                "reduce over axis= only, without keepdims)")
        return out

    def transform_interval(self, batch: np.ndarray) -> np.ndarray:
        """Aggregate the axes of an interval key's batch (at each base, where a
        :class:`SqueezeDim` below kept a position axis).

        Parameters
        ----------
        batch
            What a genomic-interval key read from the wrapped dataset (a writable copy),
            region axis first: one row of as many positions as the interval has bases,
            e.g. ``(1, end - start, strand, condition)`` from a channel-last Cover.

        Returns
        -------
        numpy.ndarray
            The batch without the aggregated axes (its axes of the roles
            :attr:`interval_roles`).
        """
        return self._aggregate(batch, _on_interval(self.axis, _kept_position(self.data)))

    @property
    def interval_roles(self) -> tuple[str | None, ...]:
        """Roles of the axes of an interval key's batch that remain."""
        return _interval_roles_without(self.data, self.axis)


class SqueezeDim(Wrapper):
    """Drop length-1 axes (never the region axis), e.g. the strand axis of an unstranded
    Cover or of a Bioseq.

    Parameters
    ----------
    data
        Dataset or wrapper.
    axis
        Axes to drop (each must have length 1); None drops every length-1 axis.

    Notes
    -----
    A genomic-interval key reads as many positions as the interval has bases: where the
    windows have one position (``resolution=None``), that axis stays in its batches, where
    it was (:attr:`~Wrapper.interval_roles`), and wrappers above act at each base of it as
    on a window.
    """

    @_janggu_array
    def __init__(self, data: Any, axis: int | Sequence[int] | None = None) -> None:
        super().__init__(data)
        shape = data.shape
        if axis is None:
            self.axis = tuple(i for i in range(1, len(shape)) if shape[i] == 1)
        else:
            self.axis = _axis_tuple(axis, len(shape), "SqueezeDim")
            wide = [a for a in self.axis if shape[a] != 1]
            if wide:
                raise ArgumentError(
                    f"SqueezeDim: axis {wide[0]} of shape {tuple(shape)} has length "
                    f"{shape[wide[0]]}, not 1")

    @property
    def element_shape(self) -> tuple[int, ...]:
        """Shape of one item: the wrapped shape without the squeezed axes."""
        return tuple(s for i, s in enumerate(self.data.shape) if i and i not in self.axis)

    @property
    def axis_roles(self) -> tuple[str | None, ...]:
        """Roles of the axes that remain."""
        return tuple(r for i, r in enumerate(_roles(self.data), 1) if i not in self.axis)

    def transform(self, batch: np.ndarray) -> np.ndarray:
        """Squeeze the axes of a batch (those it has: a 1-D ``janggu.Array`` reports
        the shape ``(n, 1)``, as Janggu's does, and serves 1-D batches).

        Parameters
        ----------
        batch
            A batch read from the wrapped dataset, region axis first: ``(k,) +
            data.shape[1:]`` for ``k`` windows; a writable array (:meth:`read` copies a
            read-only one), which may be modified in place.

        Returns
        -------
        numpy.ndarray
            A view of ``batch`` without the squeezed axes: ``(k,) + element_shape``
            (``batch`` itself where it has none of them).
        """
        axes = tuple(a for a in self.axis if a < batch.ndim)
        return np.squeeze(batch, axis=axes) if axes else batch

    def transform_interval(self, batch: np.ndarray) -> np.ndarray:
        """Squeeze the axes of an interval key's batch but its position axis (which has
        as many positions as the interval has bases, one or more).

        Parameters
        ----------
        batch
            What a genomic-interval key read from the wrapped dataset (a writable copy),
            region axis first: one row of as many positions as the interval has bases,
            e.g. ``(1, end - start, strand, condition)`` from a channel-last Cover.

        Returns
        -------
        numpy.ndarray
            A view of ``batch`` without the squeezed axes but a position axis (its axes
            of the roles :attr:`interval_roles`).
        """
        axes = _on_interval(self._squeezed_on_interval(), _kept_position(self.data))
        return np.squeeze(batch, axis=axes) if axes else batch

    def _squeezed_on_interval(self) -> list[int]:
        """The squeezed window-batch axes that an interval key's batch squeezes too: all
        but a position axis."""
        roles = _roles(self.data)
        return [a for a in self.axis if roles[a - 1] != "position"]

    @property
    def interval_roles(self) -> tuple[str | None, ...]:
        """Roles of an interval key's axes: the squeezed ones but a position axis."""
        return _interval_roles_without(self.data, self._squeezed_on_interval())


class Transpose(Wrapper):
    """Reorder the axes of a dataset, e.g. ``(0, 3, 1, 2)`` moves the channels second.

    Parameters
    ----------
    data
        Dataset or wrapper.
    axis
        A permutation of the axes of the full shape; the region axis stays first
        (``axis[0] == 0``).
    """

    @_janggu_array
    def __init__(self, data: Any, axis: Sequence[int]) -> None:
        super().__init__(data)
        ndim = len(data.shape)
        if not isinstance(axis, (list, tuple, np.ndarray)):
            raise ArgumentError(f"Transpose: axis must be a permutation of "
                                f"{tuple(range(ndim))}, got {axis!r}")
        axes = tuple(int(a) % ndim if isinstance(a, (int, np.integer)) else a for a in axis)
        if sorted(axes) != list(range(ndim)):
            raise ArgumentError(f"Transpose: axis {tuple(axis)} is not a permutation of "
                                f"{tuple(range(ndim))}")
        if axes[0] != 0:
            raise ArgumentError("Transpose: the region axis must stay first (axis[0] == 0)")
        self.axis = axes

    @property
    def element_shape(self) -> tuple[int, ...]:
        """Shape of one item, axes reordered."""
        shape = self.data.shape
        return tuple(shape[a] for a in self.axis[1:])

    @property
    def axis_roles(self) -> tuple[str | None, ...]:
        """Roles of the reordered axes."""
        roles = _roles(self.data)
        return tuple(roles[a - 1] for a in self.axis[1:])

    def transform(self, batch: np.ndarray) -> np.ndarray:
        """Transpose a batch.

        Parameters
        ----------
        batch
            A batch read from the wrapped dataset, region axis first: ``(k,) +
            data.shape[1:]`` for ``k`` windows; a writable array (:meth:`read` copies a
            read-only one), which may be modified in place.

        Returns
        -------
        numpy.ndarray
            A C-contiguous array of the axes reordered by ``axis``:
            ``(k,) + element_shape``.
        """
        return np.ascontiguousarray(np.transpose(batch, self.axis))

    def transform_interval(self, batch: np.ndarray) -> np.ndarray:
        """Transpose an interval key's batch; a position axis a :class:`SqueezeDim` below
        kept stays where it is.

        Parameters
        ----------
        batch
            What a genomic-interval key read from the wrapped dataset (a writable copy),
            region axis first: one row of as many positions as the interval has bases,
            e.g. ``(1, end - start, strand, condition)`` from a channel-last Cover.

        Returns
        -------
        numpy.ndarray
            A C-contiguous array of the axes reordered (its axes of the roles
            :attr:`interval_roles`).
        """
        kept = _kept_position(self.data)
        if kept is None:
            return self.transform(batch)
        order = [0] + list(_on_interval(self.axis[1:], kept))
        order.insert(kept, kept)
        return np.ascontiguousarray(np.transpose(batch, order))


class NanToNumConverter(Wrapper):
    """Replace NaN by 0 and infinities by the largest finite values (``numpy.nan_to_num``).

    Parameters
    ----------
    data
        Dataset or wrapper.
    """

    def transform(self, batch: np.ndarray) -> np.ndarray:
        """NaN to 0 in a batch.

        Parameters
        ----------
        batch
            A batch read from the wrapped dataset, region axis first: ``(k,) +
            data.shape[1:]`` for ``k`` windows; a writable array (:meth:`read` copies a
            read-only one), which may be modified in place.

        Returns
        -------
        numpy.ndarray
            ``batch`` itself (converted in place, ``numpy.nan_to_num(batch, copy=False)``):
            NaN as 0, ``inf`` and ``-inf`` as the dtype's largest and smallest finite
            values; same shape.
        """
        return np.nan_to_num(batch, copy=False)


# ---------------------------------------------------------------------------- augmentation
class _RandomWrapper(Wrapper):
    """A wrapper drawing random numbers from its own generator.

    Without ``random_state`` the generator is seeded from numpy's global random state, so
    that ``np.random.seed(s)`` before creating the wrapper makes its draws reproducible,
    as Janggu's wrappers (which drew from numpy's global state) were; one created in a
    forked process mixes in the process id (forked siblings inherit one global state).
    Forked processes (DataLoader workers) get fresh entropy unless a loader reseeds them
    with :meth:`reseed`, so workers never repeat one another's draws. A view or a part of
    :func:`~genozarr.janggu.split_train_test` draws from a stream of its own, spawned from
    this wrapper's, so reading one part does not change another's draws.
    """

    @_janggu_array
    def __init__(self, data: Any, random_state: RandomStateLike = None) -> None:
        super().__init__(data)
        self.random_state = random_state
        self.reseed(random_state)

    def reseed(self, random_state: RandomStateLike = None) -> None:
        """Restart the random stream from ``random_state`` (seed, generator or None).

        Parameters
        ----------
        random_state
            Seed, :class:`numpy.random.Generator`, legacy ``RandomState`` or None (a seed
            drawn from numpy's global random state: ``np.random.seed`` makes it
            reproducible).
        """
        if random_state is None:  # (Janggu's wrappers drew from numpy's global state)
            drawn = int(np.random.randint(0, 2**31 - 1))
            # a forked process inherits that state: its draw is every sibling's, so the
            # process id is mixed in there (the process that imported genozarr, or one
            # started by spawn, draws from the global state alone)
            from genozarr import _MAIN_PID

            random_state = drawn if os.getpid() == _MAIN_PID else \
                np.random.default_rng([drawn, os.getpid()])
        if isinstance(random_state, np.random.RandomState):
            random_state = int(random_state.randint(0, 2**31 - 1))
        if isinstance(random_state, np.random.Generator):
            self._rng = random_state
        elif isinstance(random_state, (int, np.integer)) and not isinstance(
                random_state, bool) and random_state >= 0:  # (numpy's raw error)
            self._rng = np.random.default_rng(int(random_state))
        else:
            raise ArgumentError(
                f"random_state must be an int >= 0, a numpy Generator/RandomState or None, got "
                f"{random_state!r}")
        self._pid = os.getpid()

    def _rewrap(self, data: Any) -> Wrapper:
        # a part (view or split) draws from a stream of its own, spawned from this one, so
        # that reading one part never moves another's (or this wrapper's) draws
        new = super()._rewrap(data)
        try:
            new._rng = self.rng.spawn(1)[0]
        except TypeError:  # a bit generator without a SeedSequence (a legacy one)
            new._rng = np.random.default_rng(self.rng.integers(2**63))
        return new

    @property
    def rng(self) -> np.random.Generator:
        """The generator of this process."""
        if self._pid != os.getpid():
            self._rng = np.random.default_rng()
            self._pid = os.getpid()
        return self._rng

    def _axis_of(self, role: str, roles: tuple[str | None, ...] | None = None) -> int | None:
        """The axis of ``role`` among ``roles`` (default :attr:`axis_roles`)."""
        roles = self.axis_roles if roles is None else roles
        return roles.index(role) + 1 if role in roles else None


class _JangguArrayAxes:
    """For :class:`RandomOrientation` and :class:`RandomShift`: a plain
    :class:`~genozarr.janggu.Array` of four axes has a dataset's axes, channel last, as
    Janggu's wrappers take it."""

    data: Any

    @property
    def axis_roles(self) -> tuple[str | None, ...]:
        """As :attr:`Wrapper.axis_roles`; a four-axis ``Array``'s are a dataset's."""
        from genozarr.janggu import Array

        if isinstance(self.data, Array) and len(self.data.shape) == 4:
            return _ROLES_LAST
        return super().axis_roles  # type: ignore[misc]


class RandomSignalScale(_RandomWrapper):
    """Scale every item and condition by a random factor ``1 + uniform(-deviance,
    deviance)`` (signal-height augmentation).

    Parameters
    ----------
    data
        Dataset or wrapper.
    deviance
        Largest relative change, in ``[0, 1)``.
    random_state
        Seed or generator.
    """

    @_janggu_array
    def __init__(self, data: Any, deviance: float, random_state: RandomStateLike = None) -> None:
        if not isinstance(deviance, (int, float, np.integer, np.floating)) \
                or isinstance(deviance, (bool, np.bool_)) or not 0 <= float(deviance) < 1:
            raise ArgumentError(f"RandomSignalScale deviance must be in [0, 1), got {deviance!r}")
        super().__init__(data, random_state)
        self.deviance = float(deviance)

    def transform(self, batch: np.ndarray) -> np.ndarray:
        """Scale a batch.

        Parameters
        ----------
        batch
            A batch read from the wrapped dataset, region axis first: ``(k,) +
            data.shape[1:]`` for ``k`` windows; a writable array (:meth:`read` copies a
            read-only one), which may be modified in place.

        Returns
        -------
        numpy.ndarray
            A new array of the same shape, of dtype
            ``numpy.result_type(batch.dtype, 'float32')``: each item times a factor drawn
            uniformly in ``[1 - deviance, 1 + deviance)``, one per item and condition (one
            per item where there is no condition axis).
        """
        return self._scale(batch, self._axis_of("condition"))

    def transform_interval(self, batch: np.ndarray) -> np.ndarray:
        """Scale an interval key's batch: one factor per condition, at every base.

        Parameters
        ----------
        batch
            What a genomic-interval key read from the wrapped dataset (a writable copy),
            region axis first: one row of as many positions as the interval has bases,
            e.g. ``(1, end - start, strand, condition)`` from a channel-last Cover.

        Returns
        -------
        numpy.ndarray
            A new array of the same shape, of dtype
            ``numpy.result_type(batch.dtype, 'float32')``.
        """
        return self._scale(batch, self._axis_of("condition", self.interval_roles))

    def _scale(self, batch: np.ndarray, ax: int | None) -> np.ndarray:
        shape = [1] * batch.ndim
        shape[0] = batch.shape[0]
        if ax is not None:
            shape[ax] = batch.shape[ax]
        scales = 1 + self.rng.uniform(-self.deviance, self.deviance, size=shape)
        return (batch * scales.astype(np.result_type(batch.dtype, np.float32))).astype(
            np.result_type(batch.dtype, np.float32), copy=False)


def _revcomp_permutation(order: int) -> np.ndarray:
    """Channel permutation mapping each DNA k-mer's one-hot channel to its reverse
    complement's (A, C, G, T encoding order: complement of code c is 3 - c)."""
    k = np.arange(4 ** order)
    digits = (k[:, None] // 4 ** np.arange(order - 1, -1, -1)) % 4
    rc = (3 - digits)[:, ::-1]
    return (rc * 4 ** np.arange(order - 1, -1, -1)).sum(axis=1)


class RandomOrientation(_JangguArrayAxes, _RandomWrapper):
    """Present each item in a random orientation: with probability 1/2 a Cover item has
    its position and strand axes reversed, a Bioseq item is reverse-complemented (position
    axis reversed, k-mer channels complemented; any order).

    Parameters
    ----------
    data
        Cover or Bioseq (DNA), or a wrapper of one that keeps its position axis.
    random_state
        Seed or generator.
    """

    @_janggu_array
    def __init__(self, data: Any, random_state: RandomStateLike = None) -> None:
        super().__init__(data, random_state)
        root = _root(data)
        self._perm = None
        if isinstance(root, Bioseq):
            if root.seqtype != "dna":
                raise ArgumentError("RandomOrientation of a protein Bioseq is undefined")
            self._perm = _revcomp_permutation(root.order)
        if self._axis_of("position") is None:
            raise ArgumentError(f"RandomOrientation: {data!r} has no position axis")

    def transform(self, batch: np.ndarray) -> np.ndarray:
        """Flip a random half of a batch.

        Parameters
        ----------
        batch
            A batch read from the wrapped dataset, region axis first: ``(k,) +
            data.shape[1:]`` for ``k`` windows; a writable array (:meth:`read` copies a
            read-only one), which may be modified in place.

        Returns
        -------
        numpy.ndarray
            ``batch`` itself, modified in place: each item, with probability 1/2, has its
            position axis reversed, its strand axis (where there is one) reversed and,
            for a Bioseq, its k-mer channels complemented.
        """
        flip = self.rng.random(batch.shape[0]) < 0.5
        if not flip.any():
            return batch
        sub = batch[flip]
        sub = np.flip(sub, axis=self._axis_of("position"))
        strand = self._axis_of("strand")
        if strand is not None:
            sub = np.flip(sub, axis=strand)
        cond = self._axis_of("condition")
        if self._perm is not None and cond is not None:
            sub = np.take(sub, self._perm, axis=cond)
        batch[flip] = sub
        return batch


class RandomShift(_JangguArrayAxes, _RandomWrapper):
    """Shift each item along its position axis by a random number of bins in
    ``[-shift, shift]``, filling with zeros (all-zero one-hot rows for a Bioseq).

    Parameters
    ----------
    data
        Dataset or wrapper with a position axis.
    shift
        Largest shift in bins (bases for a Bioseq).
    batchwise
        Shift all items of a batch by the same amount (faster).
    random_state
        Seed or generator.
    """

    @_janggu_array
    def __init__(self, data: Any, shift: int, batchwise: bool = False,
                 random_state: RandomStateLike = None) -> None:
        if isinstance(shift, bool) or not isinstance(shift, (int, np.integer)) or shift < 0:
            raise ArgumentError(f"RandomShift shift must be a non-negative integer, got {shift!r}")
        super().__init__(data, random_state)
        self.shift = int(shift)
        self.batchwise = check_bool("batchwise", batchwise)
        if self._axis_of("position") is None:
            raise ArgumentError(f"RandomShift: {data!r} has no position axis")

    def transform(self, batch: np.ndarray) -> np.ndarray:
        """Shift the items of a batch.

        Parameters
        ----------
        batch
            A batch read from the wrapped dataset, region axis first: ``(k,) +
            data.shape[1:]`` for ``k`` windows; a writable array (:meth:`read` copies a
            read-only one), which may be modified in place.

        Returns
        -------
        numpy.ndarray
            ``batch`` itself, modified in place: each item (every item by the same amount
            with ``batchwise``) moved along its position axis by a number of bins drawn
            in ``[-shift, shift]``, the positions left empty set to 0.
        """
        ax = self._axis_of("position")
        assert ax is not None
        n = batch.shape[0]
        shifts = self.rng.integers(-self.shift, self.shift + 1,
                                   size=1 if self.batchwise else n)
        if self.batchwise:
            shifts = np.repeat(shifts, n)
        moved = np.moveaxis(batch, ax, 1)  # a view: writes go to batch
        length = moved.shape[1]
        for i, s in enumerate(shifts):
            s = int(s)
            if s == 0:
                continue
            if abs(s) >= length:
                moved[i] = 0
            elif s > 0:
                moved[i, s:] = moved[i, :-s].copy()
                moved[i, :s] = 0
            else:
                moved[i, :s] = moved[i, -s:].copy()
                moved[i, s:] = 0
        return batch

"""Normalizers: statistics fitted once by dask reductions, one numpy kernel applied lazily
or per batch.

A normalizer has one numpy :meth:`~Normalizer.kernel` ``(x, lengths) -> y`` holding its
arithmetic with the fitted statistics, and three faces:

``fit(data)``
    Computes the statistics from an opened store (a Dataset with ``data`` or a
    DataTree, see :mod:`genozarr.ops`) with reductions that read one chunk at a time. An
    instance that is already fitted is left unchanged, so one instance fitted on a
    training set applies the same statistics to a test set.
``transform(data)``
    The kernel mapped over the dask chunks (:func:`xarray.apply_ufunc`); lazy.
``transform_batch(x, lengths)``
    The kernel on one numpy batch ``(k, position, strand, condition)``: the serving path
    of :class:`~genozarr.Cover`, which stores raw values and normalizes per batch.

**Statistics** are computed per condition, pooled over strands (the two strands of a
stranded track are one library); :class:`ZScore` and :class:`PercentileTrimming` take
``per_strand=True`` for statistics per (strand, condition). Every stored value enters
(flanks and padding included); NaN values are ignored and stay NaN.

**Lengths.** :class:`RegionLengthNormalization` (``'binsizenorm'``) divides by the bases a
value summarises: the row's window length in the partial layout (flanks included), the
resolution in the whole-genome layout. :class:`TPM` divides by that length in kilobases,
then scales each condition to sum to one million over the fitted data.

**Percentiles** (:class:`PercentileTrimming`) are exact, equal to
``numpy.nanpercentile`` (method ``'linear'``), found by histogram narrowing.

**Serialization.** :meth:`Normalizer.to_dict` and :func:`normalizer_from_dict` round trip
a normalizer, fitted statistics included, through JSON (the store recipe), with whether
each statistic was fitted or given and the names of the conditions it was fitted on.
A function or a :class:`Normalizer` subclass of the user's is recorded by its import
path; a recipe is data from wherever the store came from, and a function it names runs
on the values served (``pickle:loads`` would run any code the values spell), so such a
record is imported only when trusted (``trust_callables=True``); numpy's ufuncs
(``numpy:log1p``), a few of its other arithmetic functions (``numpy:nan_to_num``) and
genozarr's own classes need no trust.
:meth:`Normalizer.cache_params` enters cache keys, so other statistics never match a
stale store.

**Conditions.** Fitted statistics are matched to a dataset's conditions by name
(:attr:`Normalizer.conditions`): a normalizer fitted on conditions ``['a', 'b']`` applied
to a dataset of conditions ``['b', 'a']`` uses each condition's own statistics; other
names (statistics of one cell line's tracks reused on another's) apply by position, as
in Janggu, with a :class:`~genozarr.errors.ConditionNamesWarning`. Statistics with one
value for every condition (given as a scalar or one value, or fitted on one condition and
applied to one) broadcast, and statistics without names (given by the user, or recorded
by an older genozarr) apply by position. :func:`genozarr.ops.normalize` and
:meth:`Normalizer.transform` match them the same way, and a selection of the fitted
conditions (``ds.sel(condition=[...])``) takes their own statistics; other names of
another number of conditions are an :class:`~genozarr.errors.ArgumentError`.
"""

from __future__ import annotations

import abc
import contextlib
import copy
import functools
import importlib
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from genozarr._validate import check_bool, check_number
from genozarr.errors import ArgumentError, GenozarrWarning, StoreFormatError, get_logger, warn
from genozarr.ops import _reductions
from genozarr.ops._layout import DATA, data_arrays, map_data, region_lengths

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "NAMES",
    "Normalizer",
    "LogTransform",
    "ZScore",
    "ZScoreLog",
    "PercentileTrimming",
    "RegionLengthNormalization",
    "RegionLength",
    "TPM",
    "CPM",
    "RPKM",
    "BPM",
    "FunctionNormalizer",
    "resolve_normalizers",
    "normalizer_tokens",
    "normalizer_from_dict",
]

log = get_logger(__name__)


def _not_fitted(norm: Any) -> ArgumentError:
    """The error of a kernel called before its normalizer was fitted (an assert was an
    AssertionError, or nothing under ``python -O``; an audit)."""
    return ArgumentError(f"{norm!r} is not fitted: fit it on the data first "
                         "(Normalizer.fit, or a dataset built with it)")


#: Held while a normalizer is fitted, and while a dataset fits and copies its normalizers:
#: two threads fitting one shared object (two datasets built at once with the same
#: ``ZScore()``) each read the statistics the other had half written, and a dataset could
#: serve one file's mean with the other's standard deviation (an audit). Reentrant
#: (:class:`ZScoreLog` fits its z-score inside its own fit); fits are one-time work.
FIT_LOCK = threading.RLock()


def _new_fit_lock() -> None:  # a child forked while another thread held the lock
    global FIT_LOCK
    FIT_LOCK = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_fit_lock)

#: Names accepted for ``normalizer=``.
NAMES = ("tpm", "zscore", "zscorelog", "binsizenorm", "perctrim", "cpm", "rpkm", "bpm")


def _out_dtype(dtype: Any) -> np.dtype:
    return np.result_type(dtype, np.float32)


def _as_stat(value: Any, name: str) -> np.ndarray | None:
    """A statistic as float64: scalar, ``(1, C)`` from one value per condition, or
    ``(S, C)``. Numbers only (a bool or a string was taken as one); a divisor (``std``,
    ``scale``, ``total``) must not be 0 (it served inf)."""
    if value is None:
        return None
    index = getattr(value, "index", None) if hasattr(value, "to_numpy") else None
    if index is not None and list(index) != list(range(len(index))):
        # (a pandas Series labelled by conditions: its labels were dropped and the values
        # applied by place, whatever the dataset's condition order)
        raise ArgumentError(f"{name}: give the statistics as an array in the dataset's "
                            f"condition order; a pandas object labelled {list(index)[:5]} "
                            "would be applied by place, not by its labels")
    dims = getattr(value, "dims", None) if hasattr(value, "coords") else None
    if dims is not None and any(d in value.coords for d in dims):
        # (an xarray DataArray labelled by conditions: applied by place, likewise)
        raise ArgumentError(f"{name}: give the statistics as an array in the dataset's "
                            "condition order; an xarray object labelled along "
                            f"{[d for d in dims if d in value.coords]} would be applied by "
                            "place, not by its labels")
    try:
        if isinstance(value, (bool, np.bool_, str, bytes)) \
                or np.asarray(value).dtype.kind in "bUS":
            raise TypeError
        v = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ArgumentError(f"{name} must be a number, one per condition or an array "
                            f"(strand, condition) of numbers, got {value!r}") from None
    if name in ("std", "scale", "total") and (v == 0).any():
        # (a fit never records 0: a condition without signal gets 1; a negative one, fitted
        # after a z-score, is warned about and kept)
        raise ArgumentError(f"{name} divides the values: it must not be 0, got {value!r}")
    if v.ndim > 2:
        raise ArgumentError(f"{name} must be a scalar, one value per condition or an array "
                            f"(strand, condition), got shape {v.shape}")
    return v[None] if v.ndim == 1 else v


def _encode(value: Any) -> Any:
    """JSON-able: arrays as nested lists of floats, NaN as None, infinities as strings."""
    if value is None or isinstance(value, (bool, str)):
        return value

    def one(v: Any) -> Any:
        if isinstance(v, list):
            return [one(i) for i in v]
        return v if math.isfinite(v) else (None if math.isnan(v) else str(v))

    return one(np.asarray(value, dtype=np.float64).tolist())


def _decode(value: Any) -> Any:
    """Inverse of :func:`_encode` for lists; other values unchanged."""
    def one(v: Any) -> Any:
        if isinstance(v, list):
            return [one(i) for i in v]
        return math.nan if v is None else float(v)

    if isinstance(value, str) and value in ("inf", "-inf"):  # (a scalar infinity)
        return float(value)
    return np.array(one(value), dtype=np.float64) if isinstance(value, list) else value


def _python_version() -> str:
    """``'3.11'``: the Python version a code hash (``token``) was taken under."""
    import sys

    return f"{sys.version_info[0]}.{sys.version_info[1]}"


def _same_python(record: dict[str, Any]) -> bool:
    """Whether a recorded code hash can be compared here: taken under this Python version
    (bytecode, and so the hash of unchanged code, differs between versions), or under an
    unrecorded one (an older store)."""
    return record.get("python") in (None, _python_version())


def _warn_if_edited(record: dict[str, Any], token: str, what: str, whose: str) -> None:
    """Warn where the code hash ``token`` of the callable or class a normalizer ``record``
    names (``what``) differs from the recorded one, taken under this Python version."""
    recorded = record.get("token")
    if recorded is not None and _same_python(record) and token != recorded:
        warn(f"the store was normalized with another version of the {what}: its code "
             "differs from the recorded one, so the values served now differ from those "
             f"the store was built with; rebuild the store, or restore the {whose} code",
             GenozarrWarning)


def check_kernel_shape(norm: Any, y: Any, shape: tuple[int, ...]) -> np.ndarray:
    """``y``, what normalizer ``norm`` made of values of ``shape``, as an array; an
    :class:`~genozarr.errors.ArgumentError` naming ``norm`` where it has another shape (a
    normalizer acts on each value: a subclass whose ``kernel`` sums an axis would be
    served as batches of another shape than the dataset's)."""
    y = np.asarray(y)
    if y.shape != tuple(shape):
        name = getattr(norm, "func", None) or norm
        raise ArgumentError(
            f"the normalizer {name!r} returned an array of shape {y.shape} for values of "
            f"shape {tuple(shape)}: a normalizer must act on each value and return the "
            "input's shape")
    return y


class Normalizer(abc.ABC):
    """Base class of genozarr's normalizers (see the module docs).

    Subclasses implement :meth:`kernel` and :meth:`params`, and, when they have
    statistics, ``fitted``, ``reset`` and ``_fit``.
    """

    #: type name in :meth:`to_dict` (and the ``normalizer=`` name where there is one)
    name: ClassVar[str] = "normalizer"
    #: whether :meth:`kernel` uses ``lengths``
    uses_lengths: ClassVar[bool] = False
    #: names of the conditions the statistics were fitted on, in the order of their
    #: condition axis (None: unknown, or nothing fitted); set by :meth:`fit`
    conditions: list[str] | None = None
    #: number of strands of the data the statistics were fitted on (None: unknown, or
    #: nothing fitted); set by :meth:`fit`: statistics pooled over two strands do not
    #: describe unstranded data (the sum of both), nor the reverse
    strands: int | None = None

    @property
    def fitted(self) -> bool:
        """Whether the statistics are known (always True for stateless normalizers)."""
        return True

    def fit(self, data: xr.Dataset | xr.DataTree) -> Normalizer:
        """Compute the statistics from ``data`` unless already fitted.

        Parameters
        ----------
        data
            An opened store (Dataset with ``data``, or DataTree).

        Returns
        -------
        Normalizer
            ``self``.

        Notes
        -----
        The statistics are dask reductions over every chunk; under
        ``set_options(progress=...)`` a bar counts the chunks, labelled ``fit <Type>``.
        """
        with FIT_LOCK:  # (checked again under the lock: another thread may have fitted it)
            if not self.fitted:
                self._fit_logged(data)
        return self

    def _fit_logged(self, data: xr.Dataset | xr.DataTree) -> None:
        """:meth:`_fit`, then the conditions and strands fitted on, logged."""
        from genozarr._progress import progress_label

        if getattr(self, "per_strand", False) or getattr(  # (ZScoreLog: its z-score's)
                getattr(self, "zscore", None), "per_strand", False):
            _check_strand_order(data, type(self).__name__)
        t0 = time.perf_counter()
        with progress_label(f"fit {type(self).__name__}"):
            self._fit(data)
        self.conditions = _condition_names(data)
        self.strands = _strand_count(data)
        if log.isEnabledFor(logging.INFO):  # (its statistics cut short: 100
            # conditions made a line of 4,000 characters)
            import textwrap

            log.info("fitted %s in %.1f s", textwrap.shorten(
                repr(self), 240, placeholder=" ...)"), time.perf_counter() - t0)

    def reset(self) -> Normalizer:
        """Forget fitted statistics (user-given ones are kept); returns ``self``.

        Returns
        -------
        Normalizer
            ``self``, unfitted again where it has fitted statistics (this base
            implementation, for stateless normalizers, changes nothing).
        """
        return self

    def _fit(self, data: xr.Dataset | xr.DataTree) -> None:
        """Compute the statistics (stateless normalizers have none)."""

    def _check_fitted(self) -> None:
        if not self.fitted:
            raise ArgumentError(f"{self!r} is not fitted: call fit(ds) on a dataset first, or "
                                "use genozarr.ops.normalize(ds, normalizer) which fits it")

    @abc.abstractmethod
    def kernel(self, x: np.ndarray, lengths: np.ndarray | None) -> np.ndarray:
        """The transform on numpy data, with the fitted statistics.

        Parameters
        ----------
        x
            Values ``(..., strand, condition)`` with all strands and conditions.
        lengths
            Bases per value of each row along the first axis: shape ``(k,)`` or
            broadcastable against ``x`` (``(k, 1, ...)``, or 0-d); None when
            :attr:`uses_lengths` is False and the caller has none.

        Returns
        -------
        numpy.ndarray
            Same shape as ``x``.
        """

    @abc.abstractmethod
    def params(self) -> dict[str, Any]:
        """Constructor arguments that rebuild this instance, fitted statistics included.

        Returns
        -------
        dict[str, Any]
            Keyword arguments of the class's constructor (``type(self)(**params)``
            rebuilds it); statistics as numpy arrays, None where not fitted yet.
            :meth:`to_dict` and :meth:`cache_params` encode them for JSON.
        """

    def out_dtype(self, dtype: Any) -> np.dtype | None:
        """Dtype of the kernel's output for input ``dtype`` (None: unknown).

        Parameters
        ----------
        dtype
            Input dtype.

        Returns
        -------
        numpy.dtype or None
        """
        return _out_dtype(dtype)

    def transform_batch(self, x: np.ndarray, lengths: np.ndarray | None) -> np.ndarray:
        """Apply the fitted transform to a numpy batch.

        Parameters
        ----------
        x
            Batch ``(k, position, strand, condition)`` in genomic orientation.
        lengths
            Bases summarised per value of each of the ``k`` rows (window length in the
            partial layout, the resolution in the whole-genome layout).

        Returns
        -------
        numpy.ndarray
        """
        self._check_fitted()
        x = np.asarray(x)
        return check_kernel_shape(self, self.kernel(x, lengths), x.shape)

    def transform(self, data: Any) -> Any:
        """Lazily apply the fitted transform to every ``data`` variable.

        Parameters
        ----------
        data
            An opened store (Dataset with ``data``, or DataTree).

        Returns
        -------
        xarray.Dataset or xarray.DataTree
            Same type, dask-backed when the input is; its ``cache_key`` attribute chains
            :meth:`cache_params`.
        """
        self._check_fitted()
        norm = self._for_conditions(data)
        norm._check_shapes(data)
        return map_data(data, norm._transform_dataset, norm.cache_params())

    def _check_shapes(self, data: Any) -> None:
        """Refuse statistics (given or fitted) of another (strand, condition) shape than
        the data's: they broadcast to another shape, or a data array of one condition
        took the first of several.

        Raises
        ------
        ArgumentError
            Naming the statistic, its shape and the data's strands and conditions.
        """
        from genozarr.ops._layout import data_datasets

        first = data_datasets(data)[0][DATA]
        n_s, n_c = int(first.sizes["strand"]), int(first.sizes["condition"])
        inner = getattr(self, "zscore", None)  # (ZScoreLog's statistics)
        stats = list(self.params().items()) + (
            list(inner.params().items()) if isinstance(inner, Normalizer) else [])
        if any(isinstance(v, np.ndarray) and v.ndim == 2 and v.shape[0] == 2 for _, v in stats):
            _check_strand_order(data, type(self).__name__)
        if self.strands is not None and self.strands != n_s:
            raise ArgumentError(
                f"normalizer {self.name!r} was fitted on data of {self.strands} strand(s); "
                f"the data have {n_s} strand(s): fit it on data of this shape (call its "
                "reset() first)")
        given = getattr(self, "_given", True)  # (a flag per statistic: ZScore's mean, std)
        per_stat = dict(zip(getattr(self, "_statistics", ()), given)) \
            if isinstance(given, tuple) else {}
        for key, value in stats:
            if not isinstance(value, np.ndarray) or value.ndim != 2:
                continue
            s, c = value.shape
            fitted = not per_stat.get(key, any(given) if isinstance(given, tuple) else given)
            # (one value given is for every condition; one fitted describes one condition:
            # applied to several, its statistics were served for the others too)
            if s in (1, n_s) and (c == n_c or (c == 1 and not fitted)):
                continue
            raise ArgumentError(
                f"normalizer {self.name!r} holds {key} of shape {value.shape} (strand, "
                f"condition), {'fitted on' if fitted else 'given for'} data of another "
                f"shape; the data have {n_s} strand(s) and {n_c} condition(s). Give one "
                "value per condition (or per strand and condition), or one for all, or fit "
                "it on data of this shape (call its reset() first)")

    def _for_conditions(self, data: Any) -> Normalizer:
        """This normalizer with its per-condition statistics matched to the conditions of
        ``data`` by name (see the module docs): itself where they apply as they are (same
        names in the same order, no names, one value for every condition, or other names
        of as many conditions: by position, with a
        :class:`~genozarr.errors.ConditionNamesWarning`); else a copy holding the
        statistics of the data's conditions, in their order (the conditions reordered, or
        some of them selected). They applied by position: a reordered condition took
        another's statistics, a subset gave values of the wrong shape.

        Raises
        ------
        ArgumentError
            Where the data have conditions the statistics were not fitted on, and not as
            many.
        """
        from genozarr.ops._layout import data_datasets

        if self.conditions is None:
            return self
        first = data_datasets(data)[0]
        if "condition" not in first.coords:
            return self
        mine = [str(c) for c in np.asarray(first["condition"].values)]
        fitted = [str(c) for c in self.conditions]
        columns = {k: v for k, v in self.params().items()
                   if isinstance(v, np.ndarray) and v.ndim == 2 and v.shape[1] > 1}
        if mine == fitted or not columns:
            return self
        # the object holding each statistic: this one, or the z-score inside ZScoreLog
        inner = getattr(self, "zscore", None)
        holders = {k: "zscore" if inner is not None and getattr(inner, k, None) is v
                   else "self" if getattr(self, k, None) is v else None
                   for k, v in columns.items()}
        if set(mine) <= set(fitted) and len(set(mine)) == len(mine) and all(
                v.shape[1] == len(fitted) and holders[k] for k, v in columns.items()):
            at = {c: i for i, c in enumerate(fitted)}
            index = np.array([at[c] for c in mine])
            new = copy.copy(self)
            # (ZScoreLog's copy has its own z-score; another class's may share it)
            if "zscore" in holders.values() and new.zscore is inner:
                new.zscore = copy.copy(inner)
            for k, v in columns.items():
                setattr(new if holders[k] == "self" else new.zscore, k, v[:, index])
            new.conditions = list(mine)
            if "zscore" in holders.values():
                new.zscore.conditions = list(mine)
            return new
        if len(mine) != len(fitted):
            raise ArgumentError(
                f"{type(self).__name__} was fitted on {len(fitted)} conditions "
                f"{fitted[:6]}, the data have {len(mine)}: {mine[:6]}; select conditions "
                "it was fitted on (ds.sel(condition=...)), or fit it anew")
        from genozarr.errors import ConditionNamesWarning

        warn(f"{type(self).__name__} was fitted on the conditions {fitted[:6]}, the data "
             f"have {mine[:6]}: its statistics apply by position ({fitted[0]!r}'s to "
             f"{mine[0]!r}, ...); set its .conditions = None to apply it so without this "
             "warning", ConditionNamesWarning)
        return self

    def _transform_dataset(self, ds: xr.Dataset) -> xr.Dataset:
        import xarray as xr

        from genozarr.ops._layout import lazy

        var = lazy(ds[DATA])  # (a store opened by xarray's engine: dask, read when computed)
        dims = var.dims
        if "region" in dims and dims[0] != "region":  # (lengths are per row of region)
            var = var.transpose("region", *(d for d in dims if d != "region"))
        served = np.result_type(var.dtype, np.float32)
        if served != var.dtype:  # (in float32 at least, as a dataset serves them: a
            var = var.astype(served)  # callable on int8 counts overflowed)
        if var.chunks is not None and any(len(c) > 1 for c in var.chunks[-2:]):
            var = var.chunk({"strand": -1, "condition": -1})  # the kernel needs whole
            # (strand, condition) blocks
        args = [var, region_lengths(ds)] if self.uses_lengths else [var]
        dtype = self.out_dtype(var.dtype)
        chromosome = "region" not in dims and var.chunks is not None
        if dtype is None and (chromosome or not self.uses_lengths):
            # the kernel on a value of every strand and condition, here: dask would call it
            # on its own probe and wrap an ArgumentError of ours (a callable that changes
            # the shape) in a ValueError ("dtype inference failed") except did not catch
            probe = np.ones((1,) * (var.ndim - 2) + tuple(var.shape[-2:]), dtype=var.dtype)
            dtype = np.asarray(self._block(probe, *[np.asarray(a) for a in args[1:]])).dtype
        if chromosome:
            # a chromosome of a whole-genome tree (its length: a number, the resolution):
            # the kernel on each dask block, and the dataset made from its parts, once per
            # node; apply_ufunc and assign cost about 3 ms a call (seconds for a genome of
            # thousands of contigs)
            kernel = self._block if not self.uses_lengths else functools.partial(
                self._block, lengths=np.asarray(args[1]))
            out = xr.Variable(var.dims, var.data.map_blocks(kernel, dtype=dtype),
                              var.attrs)
            data_vars = {k: v for k, v in ds.data_vars.items() if k != DATA}
            return xr.Dataset({DATA: out.transpose(*dims), **data_vars}, coords=ds.coords,
                              attrs=ds.attrs)
        out = xr.apply_ufunc(self._block, *args, dask="parallelized", keep_attrs=True,
                             output_dtypes=None if dtype is None else [dtype])
        return ds.assign({DATA: out.transpose(*dims)})

    def _block(self, x: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        return check_kernel_shape(self, self.kernel(x, lengths), np.shape(x))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description that :func:`normalizer_from_dict` rebuilds.

        Returns
        -------
        dict
            ``{"type": name, "params": {...}}``; statistics as nested lists of floats
            (NaN as None, infinities as ``"inf"``/``"-inf"``). A class other than the
            built-in normalizer of its ``name`` (a subclass) is recorded too, as
            ``"class": "module:qualname"`` (None where it cannot be imported again, e.g.
            a class defined in a script), so that it is not rebuilt as the built-in one,
            with ``"token"`` (:func:`~genozarr.store.cache.class_token`, a hash of its
            code) and ``"python"`` (the Python version that hash was taken under).
            A normalizer with statistics records ``"given"`` (whether each was given
            rather than fitted: a bool, or one per statistic) and, once fitted,
            ``"conditions"`` (:attr:`conditions`) and ``"strands"`` (:attr:`strands`).
        """
        d: dict[str, Any] = {"type": self.name,
                             "params": {k: _encode(v) for k, v in self.params().items()}}
        given = getattr(self, "_given", None)
        if given is not None:
            d["given"] = list(given) if isinstance(given, tuple) else bool(given)
        if self.conditions is not None:
            d["conditions"] = [str(c) for c in self.conditions]
        if self.strands is not None:
            d["strands"] = int(self.strands)
        if _TYPES.get(self.name) is not type(self):
            from genozarr.store.cache import class_token

            d["class"] = _func_ref(type(self))
            d["repr"] = f"{type(self).__module__}.{type(self).__qualname__}"
            d["token"] = class_token(type(self))
            d["python"] = _python_version()
        return d

    def cache_params(self) -> dict[str, Any]:
        """JSON-able description including fitted statistics (enters cache keys).

        Returns
        -------
        dict[str, Any]
            ``{"normalizer": <class name>, **params}``: the :meth:`params` encoded as in
            :meth:`to_dict` (statistics as nested lists of floats).
        """
        d = self.to_dict()
        out = {"normalizer": type(self).__name__, **d["params"]}
        if "token" in d:  # a subclass: its code too (an edited method is another key)
            out["class_token"] = d["token"]
        return out

    def __repr__(self) -> str:
        params = {k: v for k, v in self.cache_params().items()
                  if k not in ("normalizer", "class_token")}
        inner = ", ".join(f"{k}={_short_repr(v)}" for k, v in params.items())
        return f"{type(self).__name__}({inner})"


#: statistics of more values than this are shown summarised in a normalizer's repr
_REPR_VALUES = 12


def _short_repr(value: Any) -> str:
    """``repr(value)``; a statistic of more than :data:`_REPR_VALUES` numbers (nested
    lists, one per condition) summarised as numpy does, with its shape (a fitted
    normalizer of 10,000 conditions made a repr of 400 kB)."""
    if isinstance(value, list):
        with contextlib.suppress(ValueError, TypeError):
            arr = np.asarray(value, dtype=float)
            if arr.size > _REPR_VALUES:
                text = np.array2string(arr, separator=", ", threshold=_REPR_VALUES,
                                       edgeitems=2, max_line_width=10**6)
                return f"<{'x'.join(map(str, arr.shape))} values: {' '.join(text.split())}>"
    return repr(value)


class LogTransform(Normalizer):
    """``log(x + 1)`` (as Janggu's ``LogTransform``); stateless. Defined for values above
    -1: -1 gives ``-inf`` and a value below it NaN (which fitted statistics downstream
    leave out as missing; :class:`ZScoreLog` refuses an infinite logarithm)."""

    name = "log"

    def kernel(self, x: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        """``log1p(x)``.

        Parameters
        ----------
        x
            Values ``(..., strand, condition)``.
        lengths
            Ignored (a stateless, elementwise transform).

        Returns
        -------
        numpy.ndarray
            ``log(x + 1)``, same shape as ``x``, of dtype
            ``numpy.result_type(x.dtype, 'float32')``: ``-inf`` where ``x`` is -1, NaN
            below.

        See Also
        --------
        Normalizer.kernel
        """
        with np.errstate(invalid="ignore", divide="ignore"):  # (the -inf and NaN above:
            # numpy's bare RuntimeWarning, once per batch holding one, named no dataset)
            return np.log1p(x.astype(_out_dtype(x.dtype), copy=False))

    def params(self) -> dict[str, Any]:
        """None.

        Returns
        -------
        dict[str, Any]
            ``{}``: the constructor takes no argument.
        """
        return {}


class _InfiniteValues(ArgumentError):
    """A z-score fit met infinite values (:class:`ZScoreLog` says why they are there)."""


class ZScore(Normalizer):
    """``(x - mean) / std`` with per-condition statistics.

    Parameters
    ----------
    mean
        Fixed mean (scalar, one per condition, or ``(strand, condition)``); None computes
        it on the first :meth:`fit`.
    std
        Fixed standard deviation; None computes it on the first fit, as the sample
        standard deviation (``ddof=1``, as Janggu) around ``mean``. A zero deviation is
        replaced by 1, so a constant condition is served as ``x - mean`` (zeros), where
        Janggu's ``(x - mean) / std`` gives NaN; so is a condition with a single value
        (whose sample deviation is undefined).
    per_strand
        Statistics per (strand, condition) instead of per condition.

    Warns
    -----
    EmptyConditionWarning
        At fit time, when a condition (a (strand, condition) with ``per_strand``) holds no
        value but NaN: its mean and deviation are undefined (Janggu's are NaN, and so is
        every value it serves); the fit records mean 0 (unless given) and standard
        deviation 1 (unless given) for it, so its values are served unchanged, NaN on
        this data and as they are on other data the statistics are applied to. Not
        issued when fitted statistics are restored (:func:`genozarr.open_dataset`).
    """

    name = "zscore"
    #: the statistics that :attr:`_given` flags, in its order
    _statistics = ("mean", "std")

    def __init__(self, mean: Any = None, std: Any = None, per_strand: bool = False) -> None:
        self._given = (mean is not None, std is not None)
        self.mean = _as_stat(mean, "mean")
        self.std = _as_stat(std, "std")
        # the mean as given (a fit spreads it over the data's conditions; reset() goes
        # back to it, so that data of another number of conditions can be fitted)
        self._given_mean = self.mean
        self.per_strand = check_bool("per_strand", per_strand)

    @property
    def fitted(self) -> bool:
        """True once mean and std are known."""
        return self.mean is not None and self.std is not None

    def reset(self) -> ZScore:
        """Forget fitted statistics (user-given ones are kept); returns ``self``.

        Returns
        -------
        ZScore
            ``self``: a fitted ``mean`` or ``std`` back to None, a given mean back to its
            value as given, :attr:`~Normalizer.conditions` and
            :attr:`~Normalizer.strands` to None.
        """
        self.mean = getattr(self, "_given_mean", self.mean) if self._given[0] else None
        if not self._given[1]:
            self.std = None
        self.conditions = None
        self.strands = None
        return self

    def _fit(self, data: Any, label: str | None = None) -> None:
        """Fit the unknown statistics; ``label`` names the normalizer in messages (that
        of :class:`ZScoreLog` when it fits the log values)."""
        arrays = data_arrays(data)
        n, mu, m2 = _reductions.moments(arrays, per_strand=self.per_strand)
        if not np.isfinite(mu[n > 0]).all():  # an infinity (NaN is missing, left out)
            raise _InfiniteValues(
                f"normalizer {self.name!r}: the data hold infinite values, whose mean and "
                "standard deviation are not numbers (every value would be served as inf "
                "or NaN); replace them, or normalize without z-scores")
        n_s, n_c = _reductions._sc(arrays)
        for key, given in (("mean", self.mean), ("std", self.std)):
            shape = np.shape(given)
            if given is not None and shape != () and (
                    len(shape) != 2 or shape[0] not in (1, n_s) or shape[1] not in (1, n_c)):
                # (before the fit: a broadcast error, or a fitted mean left behind)
                raise ArgumentError(
                    f"normalizer {label or self.name!r} holds {key} of shape {shape} "
                    "(strand, condition), given for data of another shape: the data have "
                    f"{n_s} strand(s) and {n_c} condition(s). Give one value per "
                    "condition (or per strand and condition), or one for all")
        mean = self.mean if self.mean is not None else mu
        if self.std is None and not self.per_strand and np.ndim(mean) == 2 \
                and len(mean) > 1 and not all(np.array_equal(row, mean[0], equal_nan=True)
                                              for row in np.asarray(mean)[1:]):
            # (the moments pooled over strands: deviations around means that differ by
            # strand would mix the strands' values around each strand's mean)
            raise ArgumentError(
                f"normalizer {label or self.name!r} holds means that differ by strand "
                f"{np.shape(mean)} and fits the standard deviation over both strands "
                "(per_strand=False): pass per_strand=True, one mean per condition, or the "
                "std too")
        std = self.std
        if std is None:
            ss = m2 + n * np.square(mu - mean)  # squared deviations around `mean`
            std = np.sqrt(np.divide(ss, n - 1, out=np.zeros_like(ss), where=n > 1))
            std = np.where(std > 0, std, 1.0)
        # both set together, once computed (a failure between them left a fitted std
        # that the next fit took for a given one)
        self.std, self.mean = std, np.broadcast_to(
            mean, np.broadcast_shapes(np.shape(mean), mu.shape)).copy()
        if (n == 0).any():
            _warn_empty(label or self.name, data, n == 0, self.mean, self.std)

    def kernel(self, x: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        """``(x - mean) / std``.

        Parameters
        ----------
        x
            Values ``(..., strand, condition)`` with all strands and conditions; the
            statistics broadcast over the last two axes.
        lengths
            Ignored.

        Returns
        -------
        numpy.ndarray
            Same shape as ``x``, of dtype ``numpy.result_type(x.dtype, 'float32')``:
            within float32's rounding (and 1e-7) of the exact z-score of ``x`` (the mean
            is subtracted as its float32 value, then the remainder: a mean of 1e6 cast to
            float32 alone is off by up to 0.03, all of which a small deviation turned into
            z-score).

        See Also
        --------
        Normalizer.kernel
        """
        if self.mean is None or self.std is None:
            raise _not_fitted(self)
        dt = _out_dtype(x.dtype)
        high = self.mean.astype(dt)
        out = np.subtract(x, high, dtype=dt)  # exact where x is within 2x of the mean
        low = self.mean - high.astype(np.float64)
        if (np.abs(low) > 1e-7 * np.abs(self.std)).any():
            # (a pass more only where the rest of the mean moves a z-score by more than
            # 1e-7: a mean over 3.4 deviations from zero; typical tracks skip it)
            out -= low.astype(dt)
        out /= self.std.astype(dt)
        return out

    def params(self) -> dict[str, Any]:
        """``mean``, ``std`` (None until fitted) and ``per_strand``.

        Returns
        -------
        dict[str, Any]
            ``{"per_strand": bool, "mean": ..., "std": ...}``; ``mean`` and ``std`` each a
            float64 array, 0-d (one value for every condition), ``(1, condition)`` or
            ``(strand, condition)``, or None until fitted.
        """
        return {"per_strand": self.per_strand, "mean": self.mean, "std": self.std}

    def to_dict(self) -> dict[str, Any]:
        """As :meth:`Normalizer.to_dict`; a given mean that a fit spread over the
        conditions is also recorded as given (``"given_mean"``): :meth:`reset` goes back
        to it.

        Returns
        -------
        dict[str, Any]
            The record of :meth:`Normalizer.to_dict`, plus ``"given_mean"`` (encoded as
            the statistics are) where a mean was given and a fit changed its shape.
        """
        d = super().to_dict()
        given = getattr(self, "_given_mean", None)
        if self._given[0] and given is not None and np.shape(given) != np.shape(self.mean):
            d["given_mean"] = _encode(given)
        return d


class ZScoreLog(Normalizer):
    """:class:`LogTransform` then :class:`ZScore` (statistics of the log values).

    Parameters
    ----------
    mean, std, per_strand
        As for :class:`ZScore`, on the log scale (a zero deviation is replaced by 1).

    Warns
    -----
    EmptyConditionWarning
        At fit time, when a condition holds no value but NaN after ``log(x + 1)`` (all
        NaN, or below -1): as for :class:`ZScore`, mean 0 and standard deviation 1 are
        recorded for it, and its values are served as ``log(x + 1)``.

    Notes
    -----
    ``log(x + 1)`` of float32 data is taken in float32 (as :class:`LogTransform` serves
    it), so the log values carry float32's relative precision (2**-24 of the log value):
    where their standard deviation is below about 1e-4 of their mean (data such as
    1e6 +- 1), the fitted deviation and the z-scores lose precision accordingly (the
    z-scores of 1e6 +- 5 are off by up to 0.1). Such data are better served by
    :class:`ZScore`.
    """

    name = "zscorelog"

    def __init__(self, mean: Any = None, std: Any = None, per_strand: bool = False) -> None:
        self.log = LogTransform()
        self.zscore = ZScore(mean, std, per_strand)

    def __copy__(self) -> ZScoreLog:
        # its statistics live in the z-score inside: a copy gets its own (fitting or
        # resetting a copy changed the original's statistics, and what it served)
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.zscore = copy.copy(self.zscore)
        return new

    @property
    def mean(self) -> np.ndarray | None:
        """Mean of ``log(x + 1)``."""
        return self.zscore.mean

    @property
    def std(self) -> np.ndarray | None:
        """Standard deviation of ``log(x + 1)``."""
        return self.zscore.std

    @property
    def fitted(self) -> bool:
        """True once the z-score statistics are known."""
        return self.zscore.fitted

    def reset(self) -> ZScoreLog:
        """Forget fitted statistics; returns ``self``.

        Returns
        -------
        ZScoreLog
            ``self``, its z-score reset (:meth:`ZScore.reset`: given statistics are
            kept) and :attr:`~Normalizer.conditions`, :attr:`~Normalizer.strands` None.
        """
        self.zscore.reset()
        self.conditions = None
        self.strands = None
        return self

    def to_dict(self) -> dict[str, Any]:
        """As :meth:`ZScore.to_dict` (the given mean is on the log scale).

        Returns
        -------
        dict[str, Any]
            The record of :meth:`Normalizer.to_dict` (type ``"zscorelog"``, the z-score's
            :meth:`params`), with the z-score's ``"given_mean"`` where it records one.
        """
        d = super().to_dict()
        if "given_mean" in (z := self.zscore.to_dict()):
            d["given_mean"] = z["given_mean"]
        return d

    _statistics = ZScore._statistics

    @property
    def _given(self) -> tuple[bool, bool]:
        """Whether mean and std were given (not fitted), as :attr:`ZScore._given`."""
        return self.zscore._given

    @_given.setter
    def _given(self, value: tuple[bool, bool]) -> None:
        self.zscore._given = value

    def _fit(self, data: Any) -> None:
        try:
            self.zscore._fit(self.log.transform(data), self.name)
        except _InfiniteValues as e:  # an infinity: log1p(-1), or one in the data
            raise ArgumentError(
                "normalizer 'zscorelog': log(x + 1) of the data is infinite: -inf where a "
                "value is -1 (NaN below -1 is left out as missing), +inf where a value is "
                "+inf; z-scores of it are not numbers. Replace infinite values, shift the "
                "data above -1, or use 'zscore'") from e

    def kernel(self, x: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        """``(log1p(x) - mean) / std``.

        Parameters
        ----------
        x
            Values ``(..., strand, condition)`` with all strands and conditions.
        lengths
            Ignored.

        Returns
        -------
        numpy.ndarray
            Same shape as ``x``, of dtype ``numpy.result_type(x.dtype, 'float32')``.

        See Also
        --------
        Normalizer.kernel
        """
        if not self.zscore.fitted:  # (named here: the inner z-score is not the user's)
            raise _not_fitted(self)
        return self.zscore.kernel(self.log.kernel(x, lengths), lengths)

    def params(self) -> dict[str, Any]:
        """As :meth:`ZScore.params`.

        Returns
        -------
        dict[str, Any]
            ``{"per_strand": bool, "mean": ..., "std": ...}`` of the inner
            :class:`ZScore` (statistics of the log values; None until fitted).
        """
        return self.zscore.params()


class PercentileTrimming(Normalizer):
    """Clip values above a percentile (computed per condition) to that percentile.

    The percentile is exact (``numpy.nanpercentile``, method ``'linear'``, see
    :func:`genozarr.ops._reductions.nan_percentile`); values below it are unchanged
    (Janggu trimmed only the upper tail).

    Parameters
    ----------
    percentile
        In ``[0, 100]``; ``'perctrim'`` uses 99.
    threshold
        Fixed clipping value(s) instead of fitting.
    per_strand
        Percentiles per (strand, condition).

    Warns
    -----
    EmptyConditionWarning
        At fit time, for a condition without a percentile (no value but NaN, or the
        percentile between -inf and inf): its threshold is NaN, which leaves its values
        unclipped.
    """

    name = "perctrim"

    def __init__(self, percentile: float = 99, threshold: Any = None,
                 per_strand: bool = False) -> None:
        if not isinstance(percentile, (int, float, np.integer, np.floating)) \
                or not 0 <= float(percentile) <= 100:
            raise ArgumentError(f"percentile must be a number in [0, 100], got {percentile!r}")
        self.percentile = float(percentile)
        self._given = threshold is not None
        self.threshold = _as_stat(threshold, "threshold")
        self.per_strand = check_bool("per_strand", per_strand)

    @property
    def fitted(self) -> bool:
        """True once the threshold is known."""
        return self.threshold is not None

    def reset(self) -> PercentileTrimming:
        """Forget a fitted threshold; returns ``self``.

        Returns
        -------
        PercentileTrimming
            ``self``; a given threshold is kept (and nothing is changed then).
        """
        if not self._given:
            self.threshold = None
            self.conditions = None
            self.strands = None
        return self

    def _fit(self, data: Any) -> None:
        self.threshold = _reductions.nan_percentile(data_arrays(data), self.percentile,
                                                    per_strand=self.per_strand)
        if np.isnan(self.threshold).any():
            from genozarr.errors import EmptyConditionWarning

            where, names, _ = _empty_groups(data, np.isnan(self.threshold))
            subject, its, _ = _named(names, "has", "have")
            warn(f"normalizer {self.name!r} fitted on {where}: {subject} no "
                 f"{self.percentile:g}th percentile (only NaN values, or the percentile "
                 f"falls between -inf and inf); the fit records NaN, which leaves {its} "
                 "values unclipped. Give the condition "
                 "data over the regions, leave it out, or give the threshold "
                 "(PercentileTrimming(threshold=...))", EmptyConditionWarning)

    def kernel(self, x: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        """``where(x > threshold, threshold, x)``.

        Parameters
        ----------
        x
            Values ``(..., strand, condition)`` with all strands and conditions.
        lengths
            Ignored.

        Returns
        -------
        numpy.ndarray
            Same shape as ``x``, of dtype ``numpy.result_type(x.dtype, 'float32')``;
            values of a condition whose threshold is NaN are left unclipped.

        See Also
        --------
        Normalizer.kernel
        """
        if self.threshold is None:
            raise _not_fitted(self)
        dt = _out_dtype(x.dtype)
        thr = self.threshold.astype(dt)
        x = x.astype(dt, copy=False)
        return np.where(x > thr, thr, x)

    def params(self) -> dict[str, Any]:
        """``percentile``, ``per_strand`` and ``threshold`` (None until fitted).

        Returns
        -------
        dict[str, Any]
            ``{"percentile": float, "per_strand": bool, "threshold": ...}``; the
            threshold a float64 array, 0-d (one value for every condition),
            ``(1, condition)`` or ``(strand, condition)``, or None until fitted.
        """
        return {"percentile": self.percentile, "per_strand": self.per_strand,
                "threshold": self.threshold}


class RegionLengthNormalization(Normalizer):
    """Divide every value by the bases it summarises (``'binsizenorm'``): the window length
    in the partial layout (flanks included), the resolution in the whole-genome layout.

    Parameters
    ----------
    unit
        Length unit in bases (1000 divides by kilobases).
    """

    name = "binsizenorm"
    uses_lengths = True

    def __init__(self, unit: float = 1) -> None:
        if not check_number("unit", unit) > 0:
            raise ArgumentError(f"unit must be > 0, got {unit!r}")
        self.unit = float(unit)

    def kernel(self, x: np.ndarray, lengths: np.ndarray | None) -> np.ndarray:
        """Row ``i`` divided by ``lengths[i] / unit``.

        Parameters
        ----------
        x
            Values with one row per window along the first axis, e.g. ``(k, position,
            strand, condition)``.
        lengths
            Bases summarised per value of each row: shape ``(k,)`` (or one value for
            all rows).

        Returns
        -------
        numpy.ndarray
            Same shape as ``x``, of dtype ``numpy.result_type(x.dtype, 'float32')``.

        Raises
        ------
        ArgumentError
            When ``lengths`` is None.

        See Also
        --------
        Normalizer.kernel
        """
        if lengths is None:
            raise ArgumentError(f"{self!r} needs the length of each row")
        dt = _out_dtype(x.dtype)
        scale = np.asarray(lengths).astype(dt) / dt.type(self.unit)
        return x.astype(dt, copy=False) / scale.reshape((-1,) + (1,) * (x.ndim - 1))

    def params(self) -> dict[str, Any]:
        """``unit``.

        Returns
        -------
        dict[str, Any]
            ``{"unit": float}``, in bases.
        """
        return {"unit": self.unit}


#: Short alias.
RegionLength = RegionLengthNormalization


class TPM(Normalizer):
    """Transcripts per million (``'tpm'``), per condition: divide by the length in
    kilobases (:class:`RegionLengthNormalization` with ``unit=1000``), then by the
    condition's total over the fitted data divided by one million, so each condition
    sums to 1e6 on the fitted data (pooled over strands).

    Parameters
    ----------
    scale
        Fixed per-condition divisor (total / 1e6) instead of fitting.

    Warns
    -----
    EmptyConditionWarning
        At fit time, for a condition with no value but NaN: its divisor is recorded as
        1, so its values are only divided by the length. (A condition that sums to 0 gets
        the divisor 1 too, silently: its values are zeros.)
    NegativeValuesWarning
        At fit time, for a condition with negative values (after ``'zscore'``, say),
        whose total may cancel to near 0.
    """

    name = "tpm"
    uses_lengths = True

    def __init__(self, scale: Any = None) -> None:
        self.length = RegionLengthNormalization(unit=1000)
        self._given = scale is not None
        self.scale = _as_stat(scale, "scale")

    @property
    def fitted(self) -> bool:
        """True once the scale is known."""
        return self.scale is not None

    def reset(self) -> TPM:
        """Forget a fitted scale; returns ``self``.

        Returns
        -------
        TPM
            ``self``; a given scale is kept (and nothing is changed then).
        """
        if not self._given:
            self.scale = None
            self.conditions = None
            self.strands = None
        return self

    def _fit(self, data: Any) -> None:
        total, n, absolute = _reductions.sums(data_arrays(self.length.transform(data)),
                                              counts=True)
        scale = total / 1e6
        self.scale = np.where(scale != 0, scale, 1.0)
        _check_totals(self, data, total, n, absolute, "scale")

    def kernel(self, x: np.ndarray, lengths: np.ndarray | None) -> np.ndarray:
        """``x / (lengths / 1000) / scale``.

        Parameters
        ----------
        x
            Values ``(k, ..., strand, condition)``, one row per window along the first
            axis.
        lengths
            Bases summarised per value of each row, shape ``(k,)`` (as
            :meth:`RegionLengthNormalization.kernel`).

        Returns
        -------
        numpy.ndarray
            Same shape as ``x``, of dtype ``numpy.result_type(x.dtype, 'float32')``.

        Raises
        ------
        ArgumentError
            When ``lengths`` is None, or the scale is not fitted yet.

        See Also
        --------
        Normalizer.kernel
        """
        if lengths is None:  # (named here: the inner normalizer is not the user's)
            raise ArgumentError(f"{self!r} needs the length of each row")
        if self.scale is None:
            raise _not_fitted(self)
        y = self.length.kernel(x, lengths)
        return y / self.scale.astype(y.dtype)

    def params(self) -> dict[str, Any]:
        """``scale`` (None until fitted).

        Returns
        -------
        dict[str, Any]
            ``{"scale": ...}``: the divisor (each condition's total of the values
            divided by the length in kilobases, / 1e6), a float64 array, 0-d (one value
            for every condition), ``(1, condition)`` or ``(strand, condition)``, or None
            until fitted.
        """
        return {"scale": self.scale}


class CPM(Normalizer):
    """Counts per million (``'cpm'``, deepTools' ``--normalizeUsing CPM``), per condition:
    ``x * 1e6 / total``, where ``total`` is the condition's sum over the fitted data
    (pooled over strands): for a whole-genome BAM store, every counted read.

    Parameters
    ----------
    total
        Fixed per-condition total instead of fitting.

    Warns
    -----
    EmptyConditionWarning
        At fit time, for a condition with no value but NaN: its total is recorded as 1,
        so its values are served unscaled. (A condition that sums to 0 gets the total 1
        too, silently: its values are zeros.)
    NegativeValuesWarning
        At fit time, for a condition with negative values (after ``'zscore'``, say),
        whose total may cancel to near 0.
    """

    name = "cpm"

    def __init__(self, total: Any = None) -> None:
        self._given = total is not None
        self.total = _as_stat(total, "total")

    @property
    def fitted(self) -> bool:
        """True once the total is known."""
        return self.total is not None

    def reset(self) -> CPM:
        """Forget a fitted total; returns ``self``.

        Returns
        -------
        CPM
            ``self``; a given total is kept (and nothing is changed then).
        """
        if not self._given:
            self.total = None
            self.conditions = None
            self.strands = None
        return self

    def _fit(self, data: Any) -> None:
        total, n, absolute = _reductions.sums(data_arrays(data), counts=True)
        self.total = np.where(total != 0, total, 1.0)
        _check_totals(self, data, total, n, absolute, "total")

    def _per_million(self, dtype: np.dtype) -> np.ndarray:
        if self.total is None:
            raise _not_fitted(self)
        return (self.total / 1e6).astype(dtype)

    def kernel(self, x: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        """``x / (total / 1e6)``.

        Parameters
        ----------
        x
            Values ``(..., strand, condition)`` with all strands and conditions.
        lengths
            Ignored.

        Returns
        -------
        numpy.ndarray
            Same shape as ``x``, of dtype ``numpy.result_type(x.dtype, 'float32')``.

        See Also
        --------
        Normalizer.kernel
        """
        dt = _out_dtype(x.dtype)
        return x.astype(dt, copy=False) / self._per_million(dt)

    def params(self) -> dict[str, Any]:
        """``total`` (None until fitted).

        Returns
        -------
        dict[str, Any]
            ``{"total": ...}``: each condition's sum, a float64 array, 0-d (one value
            for every condition), ``(1, condition)`` or ``(strand, condition)``, or None
            until fitted.
        """
        return {"total": self.total}


class RPKM(CPM):
    """Reads per kilobase per million (``'rpkm'``, deepTools' RPKM), per condition:
    ``x * 1e6 / (total * length / 1000)``, with ``length`` the bases each value summarises
    (as :class:`RegionLengthNormalization`) and ``total`` the condition's sum over the
    fitted data.

    Parameters
    ----------
    total
        Fixed per-condition total instead of fitting.

    Warns
    -----
    EmptyConditionWarning, NegativeValuesWarning
        At fit time, as :class:`CPM`.
    """

    name = "rpkm"
    uses_lengths = True

    def kernel(self, x: np.ndarray, lengths: np.ndarray | None) -> np.ndarray:
        """``x / (total / 1e6) / (lengths / 1000)``.

        Parameters
        ----------
        x
            Values ``(k, ..., strand, condition)``, one row per window along the first
            axis.
        lengths
            Bases summarised per value of each row, shape ``(k,)`` (as
            :meth:`RegionLengthNormalization.kernel`).

        Returns
        -------
        numpy.ndarray
            Same shape as ``x``, of dtype ``numpy.result_type(x.dtype, 'float32')``.

        Raises
        ------
        ArgumentError
            When ``lengths`` is None.

        See Also
        --------
        Normalizer.kernel
        """
        if lengths is None:
            raise ArgumentError(f"{self!r} needs the length of each row")
        y = RegionLengthNormalization(unit=1000).kernel(x, lengths)
        return y / self._per_million(y.dtype)


class BPM(TPM):
    """Bins per million (``'bpm'``, deepTools' BPM): divide by the length in kilobases,
    then by the condition's total of those values over the fitted data divided by one
    million (the arithmetic of :class:`TPM`, under deepTools' name).

    Parameters
    ----------
    scale
        Fixed per-condition divisor instead of fitting.

    Warns
    -----
    EmptyConditionWarning, NegativeValuesWarning
        At fit time, as :class:`TPM`.
    """

    name = "bpm"


class FunctionNormalizer(Normalizer):
    """A user callable applied to numpy data, per batch and per dask chunk. It must act on
    each value independently and keep the shape (``numpy.log1p``, ``lambda x: x * 2``):
    an output of another shape raises :class:`~genozarr.errors.ArgumentError`.

    Parameters
    ----------
    func
        Callable taking and returning a numpy array.
    """

    name = "callable"

    def __init__(self, func: Callable[[np.ndarray], np.ndarray]) -> None:
        if not callable(func):  # (it failed when first applied: 'not callable')
            raise ArgumentError(f"FunctionNormalizer needs a callable, got {func!r}")
        self.func = func

    def kernel(self, x: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        """``func(x)``.

        Parameters
        ----------
        x
            Values ``(..., strand, condition)``, passed to ``func`` as they are.
        lengths
            Ignored.

        Returns
        -------
        numpy.ndarray
            ``numpy.asarray(func(x))``: same shape as ``x``, of the dtype ``func``
            returns.

        Raises
        ------
        ArgumentError
            When ``func(x)`` does not have the shape of ``x``.

        See Also
        --------
        Normalizer.kernel
        """
        y = np.asarray(self.func(x))
        if y.shape != np.shape(x):
            raise ArgumentError(
                f"the callable {self.func!r} (a normalizer, or create_from_bam's aggregate) "
                f"returned an array of shape {y.shape} for values of shape {np.shape(x)}: "
                "it must act on each value and return the input's shape (to sum the "
                "strands, build with stranded=False)")
        return y

    def out_dtype(self, dtype: Any) -> None:
        """Unknown: dask probes the function.

        Parameters
        ----------
        dtype
            Input dtype (not used).

        Returns
        -------
        None
            Always: :meth:`~Normalizer.transform` finds the output dtype by applying the
            kernel to a small array of ones of the data's dtype (float32 at least).
        """
        return None

    def params(self) -> dict[str, Any]:
        """``func``.

        Returns
        -------
        dict[str, Any]
            ``{"func": func}``, the callable itself.
        """
        return {"func": self.func}

    def to_dict(self) -> dict[str, Any]:
        """``{"type": "callable", "ref": "module:qualname" or None, "repr": ...,
        "token": ..., "python": ...}``; ``ref`` is None unless importing it gives back this
        very function; ``token`` is :func:`~genozarr.store.cache.callable_token` (a hash of
        its code), so that :func:`normalizer_from_dict` notices a function edited since,
        under the same Python version (``python``: the hash of unchanged code differs
        between versions, so it is not compared across them).

        Returns
        -------
        dict[str, Any]
            ``ref`` a str or None, ``repr`` the callable's repr without memory addresses,
            ``token`` a str ``module.qualname#<16 hex digits>``, ``python`` a str such as
            ``'3.11'``.
        """
        from genozarr.store.cache import callable_token
        from genozarr.store.recipe import stable_repr

        return {"type": self.name, "ref": _func_ref(self.func),
                "repr": stable_repr(self.func), "token": callable_token(self.func),
                "python": _python_version()}

    def cache_params(self) -> dict[str, Any]:
        """The callable's module, qualified name and a hash of its code, closure or
        attributes (:func:`~genozarr.store.cache.callable_token`: two lambdas of one name
        differ).

        Returns
        -------
        dict[str, Any]
            ``{"normalizer": "function", "func": "module.qualname#<16 hex digits>"}``.
        """
        from genozarr.store.cache import callable_token

        return {"normalizer": "function", "func": callable_token(self.func)}


def _empty_groups(data: Any, empty: np.ndarray,
                  *stats: np.ndarray) -> tuple[str, list[str], list[tuple[float, ...]]]:
    """Name the groups ``empty`` (``(1 or S, C)``) of a fit: where the data are (``dataset
    'x'``), the groups' names (conditions, or conditions with their strand when the fit is
    per strand) and the distinct values of ``stats`` recorded for them."""
    from genozarr.ops._layout import data_datasets

    ds = data_datasets(data)[0]
    dataset = ds.attrs.get("name")
    where = f"dataset {str(dataset)!r}" if dataset else "the data"
    conds = _condition_names(data) or [str(i) for i in range(empty.shape[1])]
    strands = [str(c) for c in ds["strand"].values] if "strand" in ds.coords \
        else [str(i) for i in range(empty.shape[0])]
    per_strand = empty.shape[0] > 1
    # (statistics given per strand may be finer than the fit's groups: (S, C) for (1, C))
    shape = np.broadcast_shapes(empty.shape, *(np.shape(v) for v in stats))
    empty = np.broadcast_to(empty, shape)
    stats = tuple(np.broadcast_to(v, shape) for v in stats)
    names: list[str] = []
    values: set[tuple[float, ...]] = set()
    for s, c in zip(*np.nonzero(empty)):
        name = f"{conds[c]} (strand {strands[s]})" if per_strand else conds[c]
        if name not in names:
            names.append(name)
        values.add(tuple(float(v[s, c]) for v in stats))
    return where, names, sorted(values)


def _named(names: list[str], one: str, many: str) -> tuple[str, str, str]:
    """The subject of a fit warning about the groups ``names``: ``("condition 'x' <one>",
    "its", "it")`` for one, ``("conditions [...] <many>", "their", "them")`` for more."""
    if len(names) == 1:
        return f"condition {names[0]!r} {one}", "its", "it"
    return f"conditions {names} {many}", "their", "them"


def _warn_empty(label: str, data: Any, empty: np.ndarray, mean: np.ndarray,
                std: np.ndarray) -> None:
    """Warn that the groups ``empty`` (``(1 or S, C)``) of a z-score fit hold no value but
    NaN, naming the dataset, the conditions and the statistics recorded for them."""
    from genozarr.errors import EmptyConditionWarning

    where, names, stats = _empty_groups(data, empty, mean, std)
    subject, its, it = _named(names, "holds", "hold")
    logged = label == ZScoreLog.name
    values = f"log(x + 1) of {its} values" if logged else f"{its} values"
    if stats == [(0.0, 1.0)]:
        used = (f"mean 0 and standard deviation 1 for {it}, which serve {values} "
                "unchanged ((x - 0) / 1): NaN on this data, and as they are on any other "
                "data these statistics are applied to (a test set)")
    else:  # a mean or deviation was given
        used = ", ".join(f"mean {m:g} and standard deviation {d:g}" for m, d in stats)
        used += (f" for {it}, which serve {values} as (x - mean) / std (NaN on this "
                 "data)")
    warn(f"normalizer {label!r} fitted on {where}: {subject}"
         + (" only NaN values after log(x + 1) (values that are NaN or below -1)" if logged
            else " only NaN values")
         + f", so {its} mean and standard deviation are undefined; the fit records {used}."
         " To avoid this, give the condition data over the regions (a BigWig without "
         "entries there reads as NaN with nan_to_num=False, as 0 with nan_to_num=True), "
         "leave it out, or give the statistics (ZScore(mean=..., std=...))",
         EmptyConditionWarning)


def _check_totals(norm: Normalizer, data: Any, total: np.ndarray, n: np.ndarray,
                  absolute: np.ndarray, what: str) -> None:
    """Warn about the conditions of a TPM/CPM fit whose divisor ``what`` is not a total
    of counts: those with no value but NaN (:class:`~genozarr.errors.EmptyConditionWarning`)
    and those with negative values (:class:`~genozarr.errors.NegativeValuesWarning`)."""
    if (n == 0).any():
        _warn_no_values(norm, data, n == 0, what)
    negative = absolute > total  # (equal sums where every value is >= 0)
    if negative.any():
        from genozarr.errors import NegativeValuesWarning

        where, names, _ = _empty_groups(data, negative)
        share = np.divide(np.abs(total), absolute, out=np.zeros_like(total),
                          where=absolute > 0)[negative]
        subject, its, _ = _named(names, "holds", "hold")
        warn(f"normalizer {norm.name!r} fitted on {where}: {subject} negative values (as "
             f"z-scores or logarithms of values below 1 do), so {its} {what}, a sum of "
             f"positive and negative values, cancels to {float(share.min()):.3g} of the "
             f"sum of {its} absolute values" + ("" if len(names) == 1 else " or less")
             + f": {type(norm).__name__} is defined for "
             "counts and other non-negative values, and dividing by a sum that cancels "
             "makes values arbitrarily large. Apply it before a normalizer that gives "
             "negative values (['tpm', 'zscore'], not ['zscore', 'tpm'])",
             NegativeValuesWarning)


def _warn_no_values(norm: Normalizer, data: Any, empty: np.ndarray, what: str) -> None:
    """Warn that the conditions ``empty`` (``(1, C)``) of a TPM/CPM fit hold no value but
    NaN, so that ``what`` (their divisor) is recorded as 1 and their values are served
    unscaled (a condition of zeros, which sums to 0 too, is data: it is served as zeros,
    silently)."""
    from genozarr.errors import EmptyConditionWarning

    where, names, _ = _empty_groups(data, empty)
    subject, its, it = _named(names, "holds", "hold")
    warn(f"normalizer {norm.name!r} fitted on {where}: {subject} only NaN values, so {its} "
         f"{what} is undefined; the fit records {what} 1 for {it}, which leaves {its} "
         "values unscaled"
         + (" (divided by the length in kilobases only)" if norm.uses_lengths else "")
         + f". Give the condition data over the regions, leave it out, or give {what} "
         f"({type(norm).__name__}({what}=...))", EmptyConditionWarning)


def _strand_count(data: Any) -> int | None:
    """The number of strands of an opened store's data (None where it has no strand
    axis)."""
    from genozarr.ops._layout import data_datasets

    try:
        return int(data_datasets(data)[0][DATA].sizes["strand"])
    except Exception:  # noqa: BLE001 - not a store's data: unknown
        return None


def _check_strand_order(data: Any, name: str) -> None:
    """Refuse statistics per strand for data whose strands are not a store's ``'+'``,
    ``'-'`` in that order (``ds.isel(strand=[1, 0])``): they are matched to strands by
    place, so the '+' values took the '-' statistics.

    Raises
    ------
    ArgumentError
        Naming the data's strands.
    """
    from genozarr.ops._layout import data_datasets

    first = data_datasets(data)[0]
    if "strand" not in first.coords or first.sizes.get("strand", 0) != 2:
        return
    labels = [str(v) for v in np.asarray(first["strand"].values)]
    if set(labels) == {"+", "-"} and labels != ["+", "-"]:
        raise ArgumentError(
            f"{name}: statistics per strand apply to the strands in a store's order "
            f"['+', '-'], the data have {labels}; normalize the store's order, then "
            "reorder (or fit per_strand=False)")


def _condition_names(data: Any) -> list[str] | None:
    """The ``condition`` coordinate of an opened store (None where it has none)."""
    from genozarr.ops._layout import data_datasets

    try:
        ds = data_datasets(data)[0]
        return [str(c) for c in ds["condition"].values] if "condition" in ds.coords else None
    except Exception:  # noqa: BLE001 - not a store's data: no names
        return None


def _restore_state(norm: Normalizer, d: dict[str, Any]) -> Normalizer:
    """Set what :meth:`Normalizer.to_dict` records beside the parameters: whether each
    statistic was given (a record without it, from an older genozarr, counts as fitted,
    so that its statistics are checked against a dataset's shape) and the conditions."""
    given = getattr(norm, "_given", None)
    if given is not None:
        value = d.get("given", False)
        if isinstance(given, tuple):
            value = tuple(bool(v) for v in value) if isinstance(value, (list, tuple)) \
                else (bool(value),) * len(given)
        else:
            value = any(value) if isinstance(value, (list, tuple)) else bool(value)
        norm._given = value  # type: ignore[attr-defined]
    conditions = d.get("conditions")
    norm.conditions = [str(c) for c in conditions] if isinstance(conditions, list) else None
    strands = d.get("strands")
    norm.strands = strands if isinstance(strands, int) and not isinstance(strands, bool) \
        else None
    zscore = getattr(norm, "zscore", norm)  # ZScoreLog holds its ZScore
    if isinstance(zscore, ZScore) and zscore._given[0] and "given_mean" in d:
        # the mean as given, not as a fit spread it (reset() goes back to it); a record
        # without it (older genozarr) keeps the recorded mean
        value = _decode(d["given_mean"])  # (a scalar NaN is recorded as None)
        zscore._given_mean = _as_stat(math.nan if value is None else value, "mean")
    return norm


#: numpy functions other than ufuncs that a recipe may name without trust: arithmetic on
#: the values only
_NUMPY_PURE = frozenset({"nan_to_num", "round", "around", "fix", "real_if_close"})


def _trusted_ref(ref: str, kind: str) -> bool:
    """Whether a recipe's import path may be imported without the user's trust: numpy's
    ufuncs (pure arithmetic on the values) and genozarr's own normalizer classes. The
    module is checked by name before anything is imported."""
    module, _, qualname = ref.partition(":")
    if kind == "callable" and module == "numpy" and qualname.isidentifier():
        import numpy

        return qualname in _NUMPY_PURE or isinstance(getattr(numpy, qualname, None),
                                                     numpy.ufunc)
    return kind == "class" and (module == "genozarr" or module.startswith("genozarr."))


def _untrusted(ref: str, text: Any) -> StoreFormatError:
    return StoreFormatError(
        f"the store was normalized with {text} ({ref}), which restoring would import and "
        "run on the values served; a store's recipe is not trusted to run code (a crafted "
        "one could name any function): pass it with open_dataset(..., normalizer=...), or "
        "open the store with trust_callables=True (genozarr's commands: "
        "--trust-callables) if you trust where it came from")


def _import_ref(ref: str) -> Any:
    module, _, qualname = ref.partition(":")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _func_ref(func: Any) -> str | None:
    module = getattr(func, "__module__", None)
    qualname = getattr(func, "__qualname__", None) or getattr(func, "__name__", None)
    if not module or not qualname or module == "__main__" or "<" in qualname:
        return None
    ref = f"{module}:{qualname}"
    try:
        return ref if _import_ref(ref) is func else None
    except Exception:
        return None


_TYPES: dict[str, type[Normalizer]] = {cls.name: cls for cls in (
    LogTransform, ZScore, ZScoreLog, PercentileTrimming, RegionLengthNormalization, TPM,
    CPM, RPKM, BPM, FunctionNormalizer)}


def normalizer_from_dict(d: dict[str, Any], trust_callables: bool = False) -> Normalizer:
    """Rebuild a normalizer from :meth:`Normalizer.to_dict`.

    Parameters
    ----------
    d
        The dict (as read back from JSON).
    trust_callables
        Import the function or :class:`Normalizer` subclass a record names by its import
        path (a normalizer of the user's own module). Without it, only numpy's ufuncs
        and genozarr's classes are: a record from an untrusted store could name any
        function, which would run on the values served.

    Returns
    -------
    Normalizer
        Fitted when the original was; statistics the original was given count as given
        (``reset`` keeps them), fitted ones as fitted (checked against a dataset's shape,
        matched to its conditions by name: see the module docs). A record without this
        (older genozarr) counts as fitted, without condition names.

    Raises
    ------
    StoreFormatError
        For an unknown type, a callable that cannot be imported again (a lambda, a
        closure): pass it with ``open_dataset(..., normalizer=...)`` instead, or one that
        is not trusted (see ``trust_callables``).

    Warns
    -----
    GenozarrWarning
        When an imported callable's or subclass's code differs from the recorded one
        (the store was built with another version of it); compared only under the Python
        version the record was made with, where it says which.
    """
    kind = d.get("type") if isinstance(d, dict) else None
    if isinstance(d, dict) and "class" in d:  # a class of its own (a subclass)
        ref, text = d.get("class"), d.get("repr")
        why = "it is not importable by module:qualname (defined in a script?)"
        if ref and not trust_callables and not _trusted_ref(str(ref), "class"):
            raise _untrusted(str(ref), f"the normalizer class {text}")
        if ref:
            try:
                cls = _import_ref(ref)
                if not (isinstance(cls, type) and issubclass(cls, Normalizer)):
                    raise TypeError(f"{ref} is not a Normalizer class")
                norm = _restore_state(
                    cls(**{k: _decode(v) for k, v in dict(d.get("params") or {}).items()}), d)
            except Exception as err:
                why = f"restoring {ref!r} failed ({err})"
            else:
                from genozarr.store.cache import class_token

                _warn_if_edited(d, class_token(cls), f"normalizer class {ref!r} ({text})",
                                "class's")
                return norm
        raise StoreFormatError(
            f"the store was normalized with the normalizer class {text} that cannot be "
            f"restored: {why}; supply it with open_dataset(..., normalizer=...)")
    if kind == FunctionNormalizer.name:
        ref, text = d.get("ref"), d.get("repr")
        why = "it is not importable by module:qualname"
        if ref and not trust_callables and not _trusted_ref(str(ref), "callable"):
            raise _untrusted(str(ref), f"the callable {text}")
        if ref:
            try:
                func = _import_ref(ref)
            except Exception as err:
                why = f"importing {ref!r} failed ({err})"
            else:
                from genozarr.store.cache import callable_token

                _warn_if_edited(d, callable_token(func), f"function {ref!r} ({text})",
                                "function's")
                return FunctionNormalizer(func)
        raise StoreFormatError(
            f"the store was normalized with a callable ({text}) that cannot be restored: "
            f"{why}; supply it with open_dataset(..., normalizer=...)")
    if not isinstance(kind, str) or kind not in _TYPES:  # (a list or dict: a TypeError)
        raise StoreFormatError(f"unknown normalizer {d!r} in the store recipe; known types: "
                               f"{sorted(_TYPES)}")
    try:
        params = d.get("params") or {}
        if not isinstance(params, dict):
            raise TypeError(f"its params are {params!r}, not a mapping")
        return _restore_state(
            _TYPES[kind](**{k: _decode(v) for k, v in params.items()}), d)
    except (TypeError, ValueError, IndexError, KeyError, ArgumentError) as e:
        # (an edited record: a parameter the class does not take, a flag list of
        # another length, a statistic that is not a number)
        raise StoreFormatError(f"the normalizer {kind!r} the store recipe records cannot be "
                               f"restored: {e}; the store was edited or damaged") from e


def resolve_normalizers(normalizer: Any) -> list[Any]:
    """Normalizer objects for a ``normalizer=`` argument.

    Parameters
    ----------
    normalizer
        None, a name (``'tpm'``, ``'zscore'``, ``'zscorelog'``, ``'binsizenorm'``,
        ``'perctrim'``, deepTools' ``'cpm'``, ``'rpkm'``, ``'bpm'``), a :class:`Normalizer`, a callable over numpy arrays, or a list of
        these (applied in order, each fitted on the output of the previous ones). Objects
        are used as given (not copied), so a fitted instance is reused.

    Returns
    -------
    list
        :class:`Normalizer` instances (callables wrapped in :class:`FunctionNormalizer`).

    Raises
    ------
    ArgumentError
        For an unknown name or an object that is neither a normalizer nor callable.
    """
    if normalizer is None:
        return []
    if isinstance(normalizer, (list, tuple)):
        return [n for item in normalizer for n in resolve_normalizers(item)]
    if isinstance(normalizer, str):
        if normalizer.lower() not in NAMES:
            raise ArgumentError(f"unknown normalizer {normalizer!r}; valid names: "
                                f"{list(NAMES)}, or pass a normalizer object or callable")
        return [_TYPES[normalizer.lower()]()]
    if hasattr(normalizer, "transform_batch"):
        return [normalizer]
    if isinstance(getattr(normalizer, "normalizer_name", None), str):
        return resolve_normalizers(normalizer.normalizer_name)  # Janggu's normalize_garray_tpm
    if callable(normalizer):
        return [FunctionNormalizer(normalizer)]
    raise ArgumentError(f"normalizer must be a name {list(NAMES)}, a normalizer object, a "
                        f"callable or a list of them, got {normalizer!r}")


def normalizer_tokens(normalizers: Sequence[Any]) -> list[Any]:
    """JSON-able descriptions (with fitted statistics) of normalizers, for cache keys.

    Parameters
    ----------
    normalizers
        Output of :func:`resolve_normalizers`.

    Returns
    -------
    list
    """
    from genozarr.store.cache import callable_token

    return [n.cache_params() if hasattr(n, "cache_params") else callable_token(n)
            for n in normalizers]

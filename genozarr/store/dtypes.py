"""Store data types, ``bfloat16`` included.

A store holds numbers of one numpy dtype (bool, integers, floats) or ``bfloat16``: the
upper 16 bits of a float32 (8 bits of precision, float32's range). numpy has no
``bfloat16``; :mod:`ml_dtypes` provides one (imported only when a bfloat16 store is
built or read), and :func:`register_zarr` makes it a zarr v3 data type named
``bfloat16`` (the name of the zarr-extensions registry). genozarr registers it before it
opens or creates a store; other zarr and xarray code opens such stores once
:func:`register_zarr` has run in the process (zarr 3.1 does not load data types from
entry points).

genozarr stores ``bfloat16`` and serves ``float32``: a chunk is widened when it is
decoded (:func:`widen`: a 16-bit shift, exact), so every array a dataset, a loader or an
export sees is float32, holding the stored values exactly. The store's bytes on disk,
over the network and in the stored-bytes cache are half those of float32.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from genozarr.errors import ArgumentError

__all__ = ["BFLOAT16_NAME", "bfloat16", "check_storage", "check_store_dtype", "fit_problem",
           "is_bfloat16",
           "largest", "register_zarr", "store_dtype", "value_dtype", "widen"]

#: the name of the bfloat16 store dtype (numpy's, through ml_dtypes, and zarr's)
BFLOAT16_NAME = "bfloat16"
#: the largest finite bfloat16, 0x7F7F in the upper half of a float32 (about 3.39e38)
_BF16_MAX = float(np.array(0x7F7F0000, dtype=np.uint32).view(np.float32))
_BF16: np.dtype | None = None
_REGISTERED = False


def bfloat16() -> np.dtype:
    """numpy's dtype for bfloat16 values (:mod:`ml_dtypes`, imported on first use: it
    takes about half a second, so stores of other dtypes never pay for it). Importing it
    also makes ``np.dtype('bfloat16')`` known.

    Returns
    -------
    numpy.dtype
        ``np.dtype(ml_dtypes.bfloat16)`` (made once, then kept).
    """
    global _BF16
    if _BF16 is None:
        import ml_dtypes

        _BF16 = np.dtype(ml_dtypes.bfloat16)
    return _BF16


def is_bfloat16(dtype: Any) -> bool:
    """Whether ``dtype`` (a dtype or its name) is bfloat16, without importing
    :mod:`ml_dtypes`.

    Parameters
    ----------
    dtype
        A numpy dtype, anything with a ``name``, or a name.

    Returns
    -------
    bool
        True when its name is ``'bfloat16'``.
    """
    return str(getattr(dtype, "name", dtype)) == BFLOAT16_NAME


def store_dtype(dtype: Any) -> np.dtype:
    """The numpy dtype of a store dtype name (``'bfloat16'`` included).

    Parameters
    ----------
    dtype
        A dtype or its name.

    Returns
    -------
    numpy.dtype
        :func:`bfloat16` for bfloat16, else ``np.dtype(dtype)``.
    """
    return bfloat16() if is_bfloat16(dtype) else np.dtype(dtype)


def register_zarr() -> None:
    """Make ``bfloat16`` a zarr v3 data type (:class:`BFloat16`), once per process.
    genozarr calls this before it opens or creates a zarr store; call it to open a
    bfloat16 store with zarr or xarray's zarr engine directly."""
    global _REGISTERED
    if not _REGISTERED:
        from zarr.core.dtype import data_type_registry

        data_type_registry.register(BFLOAT16_NAME, _zarr_type())
        _REGISTERED = True


def __getattr__(name: str) -> Any:
    """``BFloat16``, the zarr data type class (made when first asked for): pickle finds
    it by this name (a bfloat16 array's metadata sent to a dask.distributed worker)."""
    if name == "BFloat16":
        return _zarr_type()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: the zarr data type class (one per process: pickle checks it is the one it names)
_ZARR_TYPE: type | None = None


def _zarr_type() -> type:
    """The zarr data type class, defined when zarr is first needed (zarr is imported
    lazily by genozarr); :mod:`ml_dtypes` is imported only when an array of it is."""
    global _ZARR_TYPE
    if _ZARR_TYPE is None:
        _ZARR_TYPE = _make_zarr_type()
    return _ZARR_TYPE


def _make_zarr_type() -> type:
    from dataclasses import dataclass

    try:  # (zarr 3.2 and later; importing it from zarr.core warns there)
        from zarr.errors import DataTypeValidationError
    except ImportError:
        from zarr.core.dtype.common import DataTypeValidationError
    from zarr.core.dtype.npy.float import BaseFloat

    @dataclass(frozen=True, kw_only=True)
    class BFloat16(BaseFloat):  # type: ignore[type-arg]
        """The zarr v3 data type ``bfloat16`` (the zarr-extensions registry's name),
        little endian, on :mod:`ml_dtypes`' bfloat16. Fill values are written as zarr
        writes float fill values (a number, ``"NaN"``, ``"Infinity"``); zarr v2 has no
        such data type."""

        dtype_cls = np.dtype  # not used: the methods below name the dtype
        _zarr_v3_name: ClassVar[str] = BFLOAT16_NAME  # type: ignore[misc]
        _zarr_v2_names: ClassVar[tuple[str, ...]] = ()

        @classmethod
        def _check_native_dtype(cls, dtype: Any) -> bool:
            return is_bfloat16(dtype)

        @classmethod
        def from_native_dtype(cls, dtype: Any) -> BFloat16:
            if cls._check_native_dtype(dtype):
                return cls()
            raise DataTypeValidationError(f"Invalid data type: {dtype}. Expected bfloat16")

        def to_native_dtype(self) -> np.dtype:  # type: ignore[override]
            return bfloat16()

        @classmethod
        def _check_json_v2(cls, data: Any) -> bool:
            return False

        @property
        def item_size(self) -> int:
            return 2

    BFloat16.__module__ = __name__
    BFloat16.__qualname__ = "BFloat16"
    return BFloat16


def check_store_dtype(dtype: Any, where: str = "dtype") -> str:
    """The name of a store dtype: a numpy bool, integer or float dtype, or ``'bfloat16'``.

    Parameters
    ----------
    dtype
        A dtype or its name.
    where
        The argument's name, for the message.

    Returns
    -------
    str
        The dtype's name (``'float32'``, ``'bfloat16'``, ...).

    Raises
    ------
    ArgumentError
        For anything else (complex, strings, objects, unknown names).
    """
    if is_bfloat16(dtype):
        bfloat16()
        return BFLOAT16_NAME
    try:
        # numpy reads a scalar (np.int64(7)) as its type: a value is not a dtype
        dt = None if isinstance(dtype, np.generic) else np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.kind not in "biuf":
        raise ArgumentError(
            f"{where} must be a numeric dtype (bool, an integer or float dtype, or "
            f"'bfloat16'), got {dtype!r}")
    return dt.name


def check_storage(dtype: Any, storage: str) -> None:
    """Refuse a store dtype the storage cannot hold: bfloat16 only in zarr stores (numpy
    has no bfloat16 for the in-memory storages), float16 not in ``'sparse'`` (scipy.sparse
    has no such dtype).

    Parameters
    ----------
    dtype
        A store dtype or its name (checked already: :func:`check_store_dtype`).
    storage
        ``'ndarray'``, ``'sparse'`` or ``'zarr'``.

    Raises
    ------
    ArgumentError
        For bfloat16 with ``storage`` other than ``'zarr'``, or float16 with ``'sparse'``.
    """
    if storage == "sparse" and not is_bfloat16(dtype) and np.dtype(dtype) == np.float16:
        raise ArgumentError("storage='sparse' cannot hold float16 (scipy.sparse has no such "
                            "dtype): use storage='ndarray' or 'zarr' for float16, or "
                            "dtype='float32' with sparse")
    if is_bfloat16(dtype) and storage != "zarr":
        raise ArgumentError(
            f"dtype='bfloat16' is a storage type of zarr stores (storage='zarr'), served as "
            f"float32; numpy has no bfloat16 for storage={storage!r}: use storage='zarr', "
            "or dtype='float16' or 'float32' in memory")


def value_dtype(dtype: Any) -> np.dtype:
    """The dtype genozarr serves a store dtype as: float32 for ``bfloat16`` (widened
    exactly), the dtype itself otherwise.

    Parameters
    ----------
    dtype
        A store dtype or its name.

    Returns
    -------
    numpy.dtype
        float32 for bfloat16, else ``np.dtype(dtype)``.
    """
    return np.dtype(np.float32) if is_bfloat16(dtype) else np.dtype(dtype)


def largest(dtype: np.dtype) -> float:
    """The largest magnitude a numeric dtype holds (bfloat16 included; 1 for bool).

    Parameters
    ----------
    dtype
        A numpy dtype (not a name).

    Returns
    -------
    float
        The largest finite value of a float dtype (about 3.39e38 for bfloat16); for an
        integer dtype the larger of its largest value and its smallest value's magnitude
        (128.0 for int8); 1.0 for anything else.
    """
    if is_bfloat16(dtype):
        return _BF16_MAX
    if dtype.kind == "f":
        return float(np.finfo(dtype).max)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return float(max(info.max, -int(info.min)))
    return 1.0


def fit_problem(values: np.ndarray, dtype: Any) -> str | None:
    """Why ``values`` cannot be stored as ``dtype`` (None: every value can): a value past
    the largest of a float dtype, which the cast would make an infinity (float16 from
    65520 on; infinities of the input stay infinities), or NaN or a value outside the range
    of an integer dtype, which the cast would make a wrapped integer. Only casts to a
    narrower range are looked at: float32 -> float32 or int32 -> float32 cost nothing.

    Parameters
    ----------
    values
        Numbers (bool, int or float).
    dtype
        The store dtype (``'bfloat16'`` included).

    Returns
    -------
    str or None
        E.g. ``'holds 70000, past the largest float16 (65504)'``.
    """
    target = store_dtype(dtype)
    if target.kind == "b" and values.dtype.kind != "b" and values.size:
        # numpy makes any value but 0 True: NaN (missing data) would read as present
        if values.dtype.kind == "f" and np.isnan(values).any():
            return "holds NaN (missing values), which bool cannot store"
        bad = (values != 0) & (values != 1)
        if bad.any():
            return f"holds {float(values[bad].flat[0]):g}; bool stores 0 and 1 only"
        return None
    floating = target.kind == "f" or is_bfloat16(target)
    # (floats into integers are always looked at: NaN and infinities, whatever the ranges)
    if values.dtype == target or values.size == 0 or not (floating or target.kind in "iu") \
            or values.dtype.kind not in "fiub" or (
                largest(values.dtype) <= largest(target) and target.kind != "u"
                and not (values.dtype.kind == "f" and target.kind in "iu")):
        return None
    if floating:
        top = largest(target)
        lo, hi = values.min(), values.max()  # NaN propagates: then look closer
        if -top <= lo and hi <= top:
            return None
        with np.errstate(invalid="ignore"):
            big = (values > top) | (values < -top)  # (NaN: neither)
        if values.dtype.kind == "f":
            big &= ~np.isinf(values)  # infinities of the input stay infinities
        if not big.any():
            return None
        candidates = values[big]
        with np.errstate(over="ignore"):  # a value just past the largest may round to it
            over = candidates[np.isinf(candidates.astype(target))]
        if not over.size:
            return None
        return (f"holds {float(over[np.argmax(np.abs(over))]):g}, past the largest "
                f"{target.name} ({top:g})")
    if values.dtype.kind == "f" and np.isnan(values).any():
        return "holds NaN (missing values), which an integer dtype cannot store"
    # Python numbers: ints exact (a float rounds 2**63 - 1 up past int64's largest), and
    # a float compared with an int exactly
    lo, hi = values.min().item(), values.max().item()
    info = np.iinfo(target)

    def stored(v: float) -> float:  # the cast truncates toward zero
        return math.trunc(v) if isinstance(v, float) and math.isfinite(v) else v

    if stored(lo) < info.min or stored(hi) > info.max:
        bad = hi if stored(hi) > info.max else lo
        return (f"holds {bad:g}" if isinstance(bad, float) else f"holds {bad}") + (
            f", outside the range of {target.name} ({info.min} to {info.max})")
    return None


def widen(values: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """bfloat16 ``values`` as float32, exactly (each value's 16 bits become the upper half
    of a float32's: a shift, about 2.5x faster than ``astype``). Other dtypes are returned
    as they are.

    Parameters
    ----------
    values
        An array; C-contiguous where it is bfloat16.
    out
        A C-contiguous float32 array of the same shape to write into; None allocates one.
        Ignored for other dtypes.

    Returns
    -------
    numpy.ndarray
        float32 values (``out`` where given) for bfloat16 ``values``; ``values`` itself
        for any other dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from genozarr.store.dtypes import bfloat16, widen
    >>> stored = np.array([1.0, 300.5, 70000.0, np.nan], dtype=np.float32).astype(bfloat16())
    >>> widen(stored).tolist()  # 8 significant bits, float32's range
    [1.0, 300.0, 70144.0, nan]
    """
    if not is_bfloat16(values.dtype):
        return values
    if out is None:
        out = np.empty(values.shape, dtype=np.float32)
    np.left_shift(values.view(np.uint16), 16, out=out.view(np.uint32), dtype=np.uint32)
    return out

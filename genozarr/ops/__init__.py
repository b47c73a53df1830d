"""Lazy operations on opened stores.

An opened store is an :class:`xarray.Dataset` with a ``data`` variable (partial layout,
or one chromosome) or an :class:`xarray.DataTree` of a whole-genome store (one node per
chromosome). :func:`normalize` and :func:`collapse` return the same type, dask-backed;
:func:`write_store` materializes one as a genozarr store.

Modules: :mod:`genozarr.ops.transform` (the two operations),
:mod:`genozarr.ops.normalizers` (normalizer classes, registry, serialization),
:mod:`genozarr.store.builder` (writing stores).
"""

from __future__ import annotations

from genozarr.store.builder import write_store
from genozarr.ops.normalizers import (
    BPM,
    CPM,
    RPKM,
    TPM,
    FunctionNormalizer,
    LogTransform,
    Normalizer,
    PercentileTrimming,
    RegionLength,
    RegionLengthNormalization,
    ZScore,
    ZScoreLog,
    normalizer_from_dict,
    resolve_normalizers,
)
from genozarr.ops.transform import collapse, normalize

__all__ = [
    "normalize",
    "collapse",
    "write_store",
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
    "normalizer_from_dict",
    "resolve_normalizers",
]

"""Lazy operations on opened stores (``xarray.Dataset`` -> ``xarray.Dataset``).

``genozarr.ops.normalize(ds, normalizer)`` and ``genozarr.ops.collapse(ds, resolution=...,
how=...)`` return dask-backed Datasets; :func:`genozarr.ops.io.write_store` materializes
one as a genozarr store. The modules :mod:`genozarr.ops.normalize` and
:mod:`genozarr.ops.collapse` are callable and forward to the functions of the same name
(:func:`genozarr.ops.normalize.normalize`, :func:`genozarr.ops.collapse.collapse`), so
their classes (``genozarr.ops.normalize.ZScore``...) stay reachable as attributes.
"""

from __future__ import annotations

from genozarr.ops import collapse, normalize
from genozarr.ops.io import write_store

__all__ = ["collapse", "normalize", "write_store"]

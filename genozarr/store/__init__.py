"""The zarr side of genozarr: layout, writing with atomic publish, opening, cache keys."""

from genozarr.store.backend import STORAGES, normalise_storage
from genozarr.store.handle import Store, load_store
from genozarr.store.layout import FORMAT_VERSION, StoreMeta
from genozarr.store.open import open_store, read_meta

__all__ = ["FORMAT_VERSION", "STORAGES", "Store", "StoreMeta", "load_store",
           "normalise_storage", "open_store", "read_meta"]

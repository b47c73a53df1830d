"""The recipe that makes a store self-describing.

A store's metadata (:class:`~genozarr.store.layout.StoreMeta`) holds ``recipe``, a JSON
dictionary recording how the dataset over it was built::

    {"dataset": "Cover" | "Bioseq",
     "constructor": "create_from_bigwig" | "create_from_bam" | ...,
     "args": {...every argument that shapes the stored or served values...},
     "inputs": [{"path": "...", "sha256": "..."}, ...],
     "normalizers": [Normalizer.to_dict(), ...],   # fitted parameters included
     "channel_last": true, "order": 1}

The stored values depend only on the inputs and the data arguments (they make the cache
key); what is *served* also depends on the normalizers, the one-hot order, the channel
order and, in the whole-genome layout, the windows. Those are the served part of the
recipe: a dataset that reuses a cached store with other served settings records its own
(:func:`update_served`), so :func:`genozarr.open_dataset` always gives back the dataset
last built over the store.
"""

from __future__ import annotations

import os
import re
import warnings
from typing import Any

import numpy as np

from genozarr.errors import get_logger
from genozarr.store.layout import (
    WINDOW_COORDS,
    WINDOW_NAME,
    WINDOWS,
    labeled_values,
    window_coords,
)

__all__ = ["make_recipe", "jsonable", "stable_repr", "update_served", "read_windows",
           "SERVED_KEYS"]

log = get_logger(__name__)

#: recipe keys that change what a store serves but not what it stores
SERVED_KEYS = ("normalizers", "channel_last", "order")


def stable_repr(value: Any) -> str:
    """``repr(value)`` without memory addresses (``<function f at 0x7f...>`` ->
    ``<function f>``): the same in every process, so a recipe recording it is the same
    for the same build, and a reuse of the store does not see a change.

    Parameters
    ----------
    value
        Any object.

    Returns
    -------
    str
        Its ``repr`` with each memory address (``at 0x...``, and the space before it)
        removed.
    """
    return re.sub(r" at 0x[0-9A-Fa-f]+", "", repr(value))


def jsonable(value: Any) -> Any:
    """A JSON-able form of an argument value (callables by ``module:qualname``).

    Parameters
    ----------
    value
        An argument value.

    Returns
    -------
    Any
        Dicts (keys made strings), lists and tuples (as lists) converted item by item;
        numpy arrays as lists and numpy scalars as Python numbers; strings, numbers, bools
        and None as they are; a callable as ``'<module>:<qualname>'`` (its
        :func:`stable_repr` in place of the qualname where it has none, e.g. a partial);
        anything else as its :func:`stable_repr`.
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if callable(value):
        name = getattr(value, "__qualname__", None) or stable_repr(value)  # (a partial)
        return f"{getattr(value, '__module__', '?')}:{name}"
    return stable_repr(value)


def make_recipe(dataset: str, constructor: str, args: dict[str, Any], inputs: list[str], *,
                channel_last: bool = True, order: int | None = None) -> dict[str, Any]:
    """A recipe without normalizers (added by the dataset once fitted).

    Parameters
    ----------
    dataset
        'Cover' or 'Bioseq'.
    constructor
        The ``create_from_*`` method's name.
    args
        The arguments that shape the data.
    inputs
        Input file paths; their SHA256 digests are recorded beside them.
    channel_last, order
        Served settings.

    Returns
    -------
    dict[str, Any]
        The recipe: ``dataset``, ``constructor``, ``args`` (string values without a URL's
        query values or password, made :func:`jsonable`), ``inputs`` (``{"path": ...,
        "sha256": ...}`` each, the digest only for local files), ``normalizers`` (empty),
        ``channel_last``, and ``order`` where given.
    """
    from genozarr.io._remote import recorded_name
    from genozarr.store.cache import file_digest

    files = []
    for path in inputs:
        entry: dict[str, Any] = {"path": recorded_name(path)}
        if os.path.isfile(path):
            entry["sha256"] = file_digest(path)
        files.append(entry)
    # a URL is recorded without its query values or password (a signed URL's token in a
    # store that is shared)
    args = {k: recorded_name(v) if isinstance(v, str) else v for k, v in args.items()}
    recipe: dict[str, Any] = {"dataset": dataset, "constructor": constructor,
                              "args": jsonable(args), "inputs": files, "normalizers": [],
                              "channel_last": bool(channel_last)}
    if order is not None:
        recipe["order"] = int(order)
    return recipe


def read_windows(store: Any) -> tuple[Any, ...] | None:
    """``(chrom, start, end, strand, names)`` of the windows recorded in a whole-genome
    zarr store (names None where the windows have none), or None when it records no
    windows (format 1).

    Parameters
    ----------
    store
        A :class:`~genozarr.store.handle.Store` whose backend has a zarr ``group`` (a
        :class:`~genozarr.store.backend.ZarrBackend`); any other gives None.

    Returns
    -------
    tuple of numpy.ndarray or None
        ``(chrom, start, end, strand, names)``: chromosomes and strands as object arrays
        of ``str``, starts and ends as int64 (bases, 0-based half-open), names an object
        array or None; one entry per window.
    """
    backend = store.backend
    group = getattr(backend, "group", None)
    if group is None or WINDOWS not in group:
        return None
    from genozarr.store._direct import read_strings
    from genozarr.store.open import read_whole

    g = group[WINDOWS]
    keys = WINDOW_COORDS + ((WINDOW_NAME,) if WINDOW_NAME in g else ())  # names: optional
    arrays = {key: g[key] for key in keys}
    # the numeric arrays (label codes, starts, ends) in one round trip; strings (format 2)
    # straight from their files where the store is local
    numeric = [key for key, arr in arrays.items() if arr.dtype.kind in "iu"]
    values = dict(zip(numeric, read_whole([arrays[key] for key in numeric], store.path)))

    def labels(key: str) -> np.ndarray:
        arr = arrays[key]
        decoded = labeled_values(arr, f"{WINDOWS}/{key}", values.get(key))  # format 3: codes
        if decoded is not None:
            return decoded
        strings = read_strings(arr)  # format 2; None: not a local store, read through zarr
        return strings if strings is not None else np.array(arr[...].tolist(), dtype=object)

    chrom, strand = labels(WINDOW_COORDS[0]), labels(WINDOW_COORDS[3])
    start, end = (np.asarray(values[k] if k in values else arrays[k][...], dtype=np.int64)
                  for k in WINDOW_COORDS[1:3])
    names = np.asarray(labels(WINDOW_NAME), dtype=object) if WINDOW_NAME in arrays else None
    return chrom, start, end, strand, names


def update_served(path: str, storage_options: dict[str, Any] | None, meta: Any,
                  served: dict[str, Any],
                  windows: tuple[np.ndarray, ...] | None = None,
                  coords: dict[str, tuple[tuple[str, ...], Any]] | None = None) -> None:
    """Record the served part of a recipe (and the windows, or other coordinates such as
    the partial layout's ``region_strand``) in a published store.

    Only the metadata changes, never the data arrays, and readers never see a half-written
    update (``docs/format.md``, "Completion marker and atomic publish"):

    - served settings only: the root metadata document of the published version is
      replaced in one step (a new file renamed over it; one PUT on object storage);
    - new windows (whole-genome layout) or coordinates: a new version of the store is
      published, holding the data of the current one (hard links on a local file system,
      server-side copies on object storage) with the new windows (coordinates) and
      metadata.

    A reader that opened the store before keeps serving as before. Nothing is recorded
    when the store at ``path`` now holds another build (another cache key).

    Parameters
    ----------
    path
        Local path or fsspec URL of the published store.
    storage_options
        fsspec options for remote URLs.
    meta
        The store's :class:`~genozarr.store.layout.StoreMeta`; its ``recipe`` is updated
        with ``served`` in place (whether or not the store is written).
    served
        Recipe entries to set (:data:`SERVED_KEYS`, and others such as ``args``).
    windows
        Whole-genome layout: ``(chrom, start, end, strand)`` or ``(chrom, start, end,
        strand, names)`` of the windows to record (:func:`window_coords`); None records
        none.
    coords
        Other coordinate arrays to write, ``{array path: (dims, values)}``; None: none.
    """
    from genozarr.store.write import StoreWriter, rewrite_root_attrs, write_coord

    recipe = dict(meta.recipe)
    recipe.update(served)
    meta.recipe = recipe
    new = dict(window_coords(windows, meta.format_version)) if windows is not None else {}
    new.update(coords or {})
    if not new:
        if rewrite_root_attrs(path, storage_options, meta):
            log.info("%s: recorded the served settings %s", path, sorted(served))
        return
    from genozarr.store.open import open_resolved

    opened = open_resolved(path, storage_options)
    try:
        if opened.meta().cache_key != meta.cache_key:
            log.info("%s now holds another build; not recording %s", path, sorted(new))
            return
        writer = StoreWriter(path, meta, {}, {}, storage_options, replace=True,
                             expect_key=meta.cache_key, copy_from=opened.root)
    finally:
        opened.release()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
            group = writer.open_group()
            for name, (dims, values) in new.items():
                write_coord(group, name, dims, values)
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    finally:
        writer.close()
    log.info("%s: recorded the served settings %s and %s", path, sorted(served), sorted(new))

"""Store summaries for ``genozarr info`` and notebooks: layout, arrays, codecs, sizes, the
recipe (normalizers, order) and statistics of the served values."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from genozarr._validate import path_text
from genozarr.errors import GenozarrError, StoreError, hide_secrets
from genozarr.store.open import is_remote

__all__ = ["store_summary"]


def _codec_text(arr: Any) -> str:
    parts = []
    for codec in tuple(getattr(arr, "filters", ())) + tuple(getattr(arr, "compressors", ())):
        cname = getattr(codec, "cname", None)
        if cname is not None:
            shuffle = getattr(getattr(codec, "shuffle", None), "value", "")
            parts.append(f"blosc/{getattr(cname, 'value', cname)} level "
                         f"{getattr(codec, 'clevel', '?')} {shuffle}".strip())
        else:
            parts.append(type(codec).__name__)
    return ", ".join(parts) or "none"


def _disk_bytes(path: str, storage_options: dict[str, Any] | None = None) -> int | None:
    """Total size of the files of the version a store path names (apparent sizes, as
    ``du -sb`` of the files; on object storage not the replaced versions that wait under
    the same URL for their readers); None where the storage lists no files (a web server:
    a store is never 0 bytes)."""
    if is_remote(path):
        import fsspec

        from genozarr.store.open import resolve_root

        fs, root = fsspec.core.url_to_fs(resolve_root(path, storage_options),
                                         **(storage_options or {}))
        return int(fs.du(root, total=True)) or None
    text = path[len("file://"):] if path.startswith("file://") else path
    total = 0
    for dirpath, _, files in os.walk(text):
        for f in files:
            total += os.path.getsize(os.path.join(dirpath, f))
    return total


def _data_arrays(obj: Any) -> list[Any]:
    """The ``data`` variables of a Dataset or of every node of a DataTree."""
    import xarray as xr

    if isinstance(obj, xr.DataTree):
        return [node["data"] for node in obj.subtree if "data" in node.data_vars]
    return [obj["data"]]


def _stats(path: str, kind: str, storage_options: dict[str, Any] | None,
           trust_callables: bool = False) -> dict[str, Any]:
    """Per-condition statistics of what the dataset serves (normalizers applied), computed
    over the whole store with dask; for sequence, counts of the stored base codes."""
    import dask

    from genozarr.dataset import open_dataset

    ds = open_dataset(path, storage_options, trust_callables=trust_callables)
    view = ds.to_xarray()
    if ds.normalizers and kind != "sequence":
        from genozarr.ops import normalize

        view = normalize(view, ds.normalizers, fit=False)
    arrays = _data_arrays(view)
    conds = [str(c) for c in ds.garray.meta.conditions]
    if kind == "sequence":
        counts = np.zeros(256, dtype=np.int64)
        for var in arrays:
            import dask.array as da

            # one 256-bin count per block along the first axis (chunks declared per block)
            arr = var.data.rechunk((var.data.chunks[0],) + tuple(-1 for _ in var.shape[1:]))
            per_block = arr.map_blocks(
                lambda b: np.bincount(np.asarray(b, dtype=np.uint8).ravel(),
                                      minlength=256)[None, :256],
                dtype=np.int64, chunks=((1,) * arr.numblocks[0], (256,)),
                drop_axis=list(range(1, arr.ndim)), new_axis=1)
            counts += np.asarray(dask.compute(da.sum(per_block, axis=0))[0])
        return {"code_counts": counts}
    # NaN is a bin without data (nan_to_num=False, predictions): not counted, so that the
    # mean and the non-zero fraction are over the bins with a value
    sums, maxs, nonzero, valid, n = [], [], [], [], 0
    for var in arrays:
        arr = var.data.astype("float64")
        axes = tuple(range(arr.ndim - 1))
        known = ~np.isnan(arr)
        s, m, nz, v = dask.compute(np.nansum(arr, axis=axes), np.nanmax(arr, axis=axes),
                                   ((arr != 0) & known).sum(axis=axes), known.sum(axis=axes))
        sums.append(s)
        maxs.append(m)
        nonzero.append(nz)
        valid.append(v)
        n += int(np.prod(arr.shape[:-1]))
    total, counted = np.sum(sums, axis=0), np.sum(valid, axis=0)
    return {
        # None (JSON null, not NaN) for a condition without any value
        "mean": {c: float(x) / k if k else None for c, x, k in zip(conds, total, counted)},
        # fmax: a chromosome without any value of a condition (NaN) does not hide the
        # others' maximum
        "max": {c: float(x) if k else None
                for c, x, k in zip(conds, np.fmax.reduce(np.asarray(maxs), axis=0), counted)},
        "nonzero_fraction": {c: float(x) / k if k else None
                             for c, x, k in zip(conds, np.sum(nonzero, axis=0), counted)},
        "missing_fraction": {c: 1 - float(k) / max(n, 1) for c, k in zip(conds, counted)},
    }


def store_summary(path: str | os.PathLike, *, stats: bool = False,
                  storage_options: dict[str, Any] | None = None,
                  trust_callables: bool = False) -> dict[str, Any]:
    """Describe a store: layout, dims, chunks, codec, sizes and (optionally) statistics.

    Parameters
    ----------
    path
        Store directory or fsspec URL.
    stats
        Also compute per-condition statistics of the served values (normalizers
        applied; reads every chunk): ``mean``, ``max``, ``nonzero_fraction`` for coverage
        (over the stored bins with a value, strands pooled; NaN is a bin without data;
        None for a condition without any value) and ``missing_fraction`` (the bins that
        are NaN);
        ``base_fraction`` (A, C, G, T, N) and ``gc_fraction`` for sequence, of the
        stored bases (the forward strand, whatever the strand of the windows served).
    storage_options
        fsspec options for remote stores.
    trust_callables
        For ``stats``: restore a normalizer function or class of the user's that the
        store's recipe names (see :func:`genozarr.open_dataset`).

    Returns
    -------
    dict
        JSON-serialisable; ``arrays`` maps each data array to its ``shape``, ``dims``,
        ``chunks``, ``dtype``, ``codec``, ``decoded_bytes`` and ``stored_bytes``;
        ``disk_bytes`` is the size of every file of the store and ``compression_ratio``
        the data arrays' decoded bytes over their stored bytes. Sizes are None (and the
        ratio) where the storage cannot list the store's files (a store on a web server).
    """
    from genozarr.store.layout import DATA
    from genozarr.store.open import open_group, read_meta

    path = path_text(path)
    meta = read_meta(path, storage_options)
    group = open_group(path, "r", storage_options)
    names = meta.array_paths()
    arrays: dict[str, Any] = {}
    for name in names:
        arr = group[name]
        arrays[name] = {
            "shape": list(arr.shape), "dims": list(arr.metadata.dimension_names or ()),
            "chunks": list(arr.chunks), "dtype": str(arr.dtype), "codec": _codec_text(arr),
            # None where the storage lists no files (its metadata document is stored)
            "decoded_bytes": int(arr.nbytes), "stored_bytes": int(arr.nbytes_stored()) or None,
        }
    decoded = sum(a["decoded_bytes"] for a in arrays.values())
    sizes = [a["stored_bytes"] for a in arrays.values()]
    stored = None if None in sizes else sum(sizes)
    out: dict[str, Any] = {
        # (a URL without its password and query values)
        "store": hide_secrets(path), "name": meta.name, "kind": meta.kind,
        "layout": meta.layout,
        "dims": (["region", "position", "strand", "condition"] if meta.layout == "partial"
                 else ["position", "strand", "condition"]),
        "n_regions": arrays[DATA]["shape"][0] if meta.layout == "partial" else None,
        "conditions": list(meta.conditions), "strands": list(meta.strands),
        "chroms": dict(meta.chroms), "resolution": meta.resolution, "binsize": meta.binsize,
        "stepsize": meta.stepsize, "flank": meta.flank, "dtype": meta.dtype,
        "seqtype": meta.seqtype, "sources": list(meta.sources), "cache_key": meta.cache_key,
        "format_version": meta.format_version, "arrays": arrays,
        "dataset": meta.recipe.get("dataset"), "constructor": meta.recipe.get("constructor"),
        "normalizers": [n.get("type") for n in meta.recipe.get("normalizers", [])],
        "order": meta.recipe.get("order"),
        "decoded_bytes": decoded, "stored_bytes": stored,
        "disk_bytes": _disk_bytes(path, storage_options),
        "compression_ratio": decoded / stored if stored else None,
    }
    if stats:
        try:
            st = _stats(path, meta.kind, storage_options, trust_callables)
        except GenozarrError:
            raise
        except RuntimeError as e:  # the Blosc codec on a damaged chunk, through zarr
            raise StoreError(f"cannot read the values of store {path}: {e}; a chunk is "
                             "damaged. Rebuild the store (overwrite=True)") from e
        if meta.kind == "sequence":
            counts = st["code_counts"]
            letters = "ACGT" if (meta.seqtype or "dna") == "dna" else None
            if letters:
                total = int(counts.sum()) or 1
                frac = {b: int(counts[i]) / total for i, b in enumerate(letters)}
                frac["N"] = int(counts[4:].sum()) / total
                acgt = int(counts[:4].sum()) or 1
                out["stats"] = {"base_fraction": frac,
                                "gc_fraction": int(counts[1] + counts[2]) / acgt}
            else:
                out["stats"] = {"code_counts": {int(i): int(c) for i, c in
                                                enumerate(counts) if c}}
        else:
            out["stats"] = st
    return out



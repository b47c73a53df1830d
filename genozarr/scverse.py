"""The scverse bridge: a :class:`~genozarr.dataset.Cover` as an :class:`anndata.AnnData`
of regions x conditions, and back.

Needs the optional ``anndata`` package (``pip install genozarr[anndata]``); importing this
module does not import it.

Layout of :func:`to_anndata`'s result (``n`` windows, ``C`` conditions, ``S`` stored
strands, ``L`` bins per window):

``obs`` (one row per window, in the dataset's order)
    ``chrom``, ``start``, ``end``, ``strand``: the windows of ``cover.gindexer`` (0-based,
    half-open, **without** the flank, as the indexer holds them). ``obs_names`` are
    ``chrom:start-end`` (made unique with ``-1``, ``-2``, ... suffixes where windows share
    coordinates). A ``name`` column is added where the indexer carries region names.
``var`` (one row per condition, or per condition and strand)
    ``var_names`` are the condition names; with ``strand="split"`` they are
    ``condition/strand`` (``cond/+``, ``cond/-``; ``cond/.`` for unstranded data). Columns
    ``condition`` and ``strand`` (the strand column only with ``strand="split"``), and
    ``source`` (the input file of each condition) where the store records one file per
    condition; then the sample sheet's metadata columns, if the Cover was built from one
    (``cell_type``, ``assay``...; one named like a column above gets a ``sheet_`` prefix,
    and ``uns["genozarr"]["condition_metadata"]`` maps the var columns to the sheet's
    names). :func:`create_from_anndata` restores them.
``X`` (``n x n_vars``)
    The values of each window aggregated over its bins (flanks and zero padding included,
    exactly what ``cover[i]`` holds): ``"sum"``, ``"mean"`` or ``"max"``. With
    ``strand="sum"`` the strands are summed first, then aggregated over positions. Dense
    numpy, or ``scipy.sparse.csr_matrix`` with ``sparse=True``. With ``layer="name"`` the
    matrix goes to ``layers["name"]`` instead and ``X`` is None.
``obsm["profile"]`` (``aggregate=None`` only), shape ``(n, L, n_vars)``
    The values at the dataset's resolution, last axis aligned with ``var``. ``X`` then
    holds the single value of each window where ``L == 1`` (``resolution=None`` datasets),
    and is None otherwise.
``uns["genozarr"]``
    ``name``, ``resolution``, ``binsize``, ``stepsize``, ``flank``, ``strands`` (stored),
    ``aggregate``, ``strand`` (the mode), ``orientation`` (``"genomic"``),
    ``conditions`` and, with sample-sheet metadata, ``condition_metadata`` (``{var
    column: sheet column}``); keys whose value is None are left out (h5ad cannot store
    None).

Orientation: every value is read in **genomic** orientation
(:meth:`~genozarr.dataset.Dataset.read_genomic`, normalizers applied): the strand labels
of ``strand="split"`` are genomic strands and ``obsm["profile"][i, 0]`` is the bin at
``start - flank``. ``cover[i]`` instead flips minus-strand windows (5' to 3', strands
swapped); aggregates with ``strand="sum"`` are the same either way.

Windows are read in blocks of whole zarr chunks (``cover.chunk_rows`` windows, or a
multiple of it up to about 64 MiB per block), never the whole dataset at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from genozarr._validate import check_bool
from genozarr.errors import ArgumentError, get_logger
from genozarr.regions import GenomicIndexer
from genozarr.store.dtypes import value_dtype

if TYPE_CHECKING:
    import anndata as ad

    from genozarr.dataset import Cover

__all__ = ["to_anndata", "create_from_anndata"]

_AGGREGATES = ("sum", "mean", "max")
_STRAND_MODES = ("sum", "split")
_BLOCK_BYTES = 64 << 20  # target size of one block of windows read at a time
_UNS_KEY = "genozarr"
log = get_logger(__name__)


def _import_anndata() -> Any:
    """The ``anndata`` module, or an ImportError naming the extra that installs it."""
    try:
        import anndata
    except ImportError as e:  # also a None entry in sys.modules
        raise ImportError(
            "the scverse bridge needs the optional package 'anndata': install it with "
            "`pip install genozarr[anndata]` (or `pip install anndata`)") from e
    return anndata


def _block_rows(cover: Cover, bytes_per_window: int) -> int:
    """Windows per block: a multiple of ``cover.chunk_rows`` of about ``_BLOCK_BYTES``."""
    chunk = max(1, int(cover.chunk_rows))
    per_block = max(1, _BLOCK_BYTES // max(1, bytes_per_window))
    return chunk * max(1, per_block // chunk)


def _unique_names(names: list[str]) -> list[str]:
    """``names`` with repeats suffixed ``-1``, ``-2``, ... (as anndata's make_unique)."""
    seen: dict[str, int] = {}
    taken = set(names)
    out = []
    for n in names:
        if n not in seen:
            seen[n] = 0
            out.append(n)
            continue
        k = seen[n]
        while True:
            k += 1
            candidate = f"{n}-{k}"
            if candidate not in taken:
                break
        seen[n] = k
        taken.add(candidate)
        out.append(candidate)
    return out


def _obs_frame(gindexer: GenomicIndexer) -> Any:
    import pandas as pd

    chrs = gindexer.chrs.astype(str)
    starts, ends = gindexer.starts, gindexer.ends
    names = _unique_names([f"{c}:{s}-{e}" for c, s, e in zip(chrs, starts, ends)])
    obs = pd.DataFrame({"chrom": pd.Categorical(chrs, categories=list(dict.fromkeys(chrs))),
                        "start": np.asarray(starts, dtype=np.int64),
                        "end": np.asarray(ends, dtype=np.int64),
                        "strand": pd.Categorical(gindexer.strand.astype(str))},
                       index=pd.Index(names, dtype=object))
    region_names = getattr(gindexer, "names", None)  # indexers carry no names today
    if region_names is not None and len(region_names) == len(gindexer):
        obs["name"] = pd.Series(np.asarray(region_names).astype(str), index=obs.index,
                                dtype=object)
    return obs


def _var_frame(cover: Cover, split: bool) -> tuple[Any, dict[str, str]]:
    """``var``, and ``{var column: sample-sheet column}`` of the metadata columns."""
    import pandas as pd

    conds = [str(c) for c in cover.conditions]
    strands = [str(s) for s in cover.strands]
    sources = [str(s) for s in cover.garray.meta.sources]
    per_cond_source = len(sources) == len(conds) and len(conds) > 0
    if split:
        cols: dict[str, list[str]] = {
            "condition": [c for c in conds for _ in strands],
            "strand": [s for _ in conds for s in strands]}
        if per_cond_source:
            cols["source"] = [f for f in sources for _ in strands]
        index = [f"{c}/{s}" for c, s in zip(cols["condition"], cols["strand"])]
    else:
        cols = {"condition": list(conds)}
        if per_cond_source:
            cols["source"] = list(sources)
        index = list(conds)
    at = pd.Index(index, dtype=object)
    # (text as objects: pandas 3 would infer its string dtype, which anndata releases for
    # pandas 2 refuse to write)
    frame = pd.DataFrame({k: pd.Series(v, index=at, dtype=object) for k, v in cols.items()},
                         index=at)
    metadata = cover.condition_metadata  # (the sample sheet's columns, typed as stored)
    names = {}
    for column in metadata.columns:
        values = metadata.loc[conds, column].to_numpy()
        name = column
        while name in frame.columns or name in metadata.columns and name != column:
            name = f"sheet_{name}"  # (a column of ours, or another sheet column, has it)
        values = np.repeat(values, len(strands)) if split else values
        frame[name] = pd.Series(values, index=frame.index,  # (text stays objects)
                                dtype=object if values.dtype == object else None)
        names[name] = column
    return frame, names


def _result_dtype(stored: np.dtype, aggregate: str | None,
                  summed_strands: bool = False) -> np.dtype:
    """The dtype of ``X`` / the profile: the stored one where values are taken as they
    are (``max``, ``None``), unless two strands are summed first, whose sum it may not
    hold (uint8 200 + 100; float16 60000 + 60000): then int64 for integers, at least
    float32 for floats."""
    if aggregate in (None, "max"):
        if not summed_strands:
            return stored
        return np.dtype(np.int64) if stored.kind in "iub" else np.result_type(stored,
                                                                               np.float32)
    return np.dtype(np.float32) if stored == np.float32 or (
        stored.kind == "f" and stored.itemsize < 4) else np.dtype(np.float64)


def to_anndata(cover: Cover, *, aggregate: str | None = "sum", sparse: bool = False,
               layer: str | None = None, strand: str = "sum") -> ad.AnnData:
    """A :class:`~genozarr.dataset.Cover` as an :class:`anndata.AnnData` of windows x
    conditions (the layout is described in :mod:`genozarr.scverse`).

    Parameters
    ----------
    cover
        A coverage dataset (any storage, partial or whole-genome layout); its
        normalizers are applied.
    aggregate
        ``"sum"`` (default), ``"mean"`` or ``"max"`` over the bins of each window (flanks
        and padding included), into ``X``. None keeps the bins: ``obsm["profile"]`` of
        shape ``(n, L, n_vars)``; ``X`` is then the single value of each window where
        ``L == 1`` (``resolution=None``) and None otherwise.
    sparse
        Return ``X`` (or the layer) as a :class:`scipy.sparse.csr_matrix`, built block
        by block (16-bit floats as float32: scipy.sparse holds none).
    layer
        Put the matrix in ``layers[layer]`` instead of ``X`` (``X`` is then None).
    strand
        ``"sum"`` adds the stored strands; ``"split"`` keeps each strand as its own
        variable ``condition/strand`` (genomic strands).

    Returns
    -------
    anndata.AnnData

    Raises
    ------
    ImportError
        Without the ``anndata`` package (``pip install genozarr[anndata]``).
    ArgumentError
        For a sequence dataset, a dataset without windows or an unknown option.

    Examples
    --------
    >>> import genozarr
    >>> from genozarr.resources import resource_path
    >>> cover = genozarr.Cover.create_from_bigwig(
    ...     "peaks", [resource_path("sample_a.bw"), resource_path("sample_b.bw")],
    ...     roi=resource_path("sample.bed"), binsize=500, resolution=None)
    >>> adata = to_anndata(cover, aggregate="mean")
    >>> adata.shape == (len(cover), 2), list(adata.var_names)
    (True, ['sample_a', 'sample_b'])
    """
    anndata = _import_anndata()
    from genozarr.dataset import Dataset

    if not isinstance(cover, Dataset) or cover.garray.meta.kind != "coverage":
        raise ArgumentError(
            f"to_anndata needs a Cover (coverage dataset), got {type(cover).__name__}")
    sparse = check_bool("sparse", sparse)  # ("false" was true)
    if aggregate is not None and aggregate not in _AGGREGATES:
        raise ArgumentError(f"aggregate must be one of {_AGGREGATES} or None, got {aggregate!r}")
    if strand not in _STRAND_MODES:
        raise ArgumentError(f"strand must be one of {_STRAND_MODES}, got {strand!r}")
    if layer is not None and (not isinstance(layer, str) or not layer):
        raise ArgumentError(f"layer must be a non-empty string or None, got {layer!r}")
    n = len(cover)
    if n == 0:
        raise ArgumentError(
            f"{cover.name!r} has no windows; assign a gindexer (or build it with roi or "
            "binsize) before converting it")
    split = strand == "split"
    meta = cover.garray.meta
    stored = value_dtype(meta.dtype)
    if cover.normalizers:  # read_genomic returns at least float32 then
        stored = np.result_type(stored, np.float32)
    nbins = int(cover.window_bins)
    n_strands, n_conds = int(cover.garray.n_strands), int(cover.garray.n_conditions)
    n_vars = n_conds * n_strands if split else n_conds
    out_dtype = _result_dtype(stored, aggregate, summed_strands=not split and n_strands > 1)
    step = _block_rows(cover, nbins * n_strands * n_conds * max(stored.itemsize, 4) * 2)

    want_x = aggregate is not None or nbins == 1
    profile = (np.empty((n, nbins, n_vars), dtype=out_dtype) if aggregate is None else None)
    dense = np.empty((n, n_vars), dtype=out_dtype) if want_x and not sparse else None
    if sparse and out_dtype.itemsize < 4 and out_dtype.kind not in "iub":
        x_dtype = np.dtype(np.float32)  # scipy.sparse holds no 16-bit floats
    else:
        x_dtype = out_dtype
    blocks: list[Any] = []
    for lo in range(0, n, step):
        idx = np.arange(lo, min(lo + step, n), dtype=np.int64)
        raw = cover.read_genomic(idx)                      # (k, L, S, C) genomic
        if split:
            # (k, L, S, C) -> (k, L, C, S) -> (k, L, C*S): var order cond-major
            vals = np.moveaxis(raw, 2, 3).reshape(len(idx), nbins, n_vars)
        else:
            vals = raw.sum(axis=2, dtype=np.float64 if aggregate != "max" else out_dtype) \
                if n_strands > 1 else raw[:, :, 0, :]
        if aggregate == "sum":
            agg = vals.sum(axis=1, dtype=np.float64)
        elif aggregate == "mean":
            agg = vals.mean(axis=1, dtype=np.float64)
        elif aggregate == "max":
            agg = vals.max(axis=1)
        else:
            profile[lo:lo + len(idx)] = vals  # type: ignore[index]
            agg = vals[:, 0, :] if nbins == 1 else None
        if agg is None:
            continue
        agg = np.asarray(agg).astype(x_dtype, copy=False)
        if sparse:
            from scipy import sparse as sp

            blocks.append(sp.csr_matrix(agg))
        else:
            dense[lo:lo + len(idx)] = agg  # type: ignore[index]

    matrix: Any = None
    if want_x:
        if sparse:
            from scipy import sparse as sp

            matrix = sp.vstack(blocks, format="csr") if blocks else sp.csr_matrix(
                (0, n_vars), dtype=x_dtype)
            matrix = sp.csr_matrix(matrix, dtype=x_dtype)
        else:
            matrix = dense
    uns_info = {"name": cover.name, "resolution": meta.resolution,
                "binsize": cover.gindexer.binsize, "stepsize": cover.gindexer.stepsize,
                "flank": int(cover.gindexer.flank), "strands": list(cover.strands),
                "aggregate": aggregate, "strand": strand, "orientation": "genomic",
                "conditions": list(cover.conditions)}
    var, metadata_names = _var_frame(cover, split)
    if metadata_names:
        uns_info["condition_metadata"] = metadata_names
    uns = {_UNS_KEY: {k: v for k, v in uns_info.items() if v is not None}}
    adata = anndata.AnnData(
        X=None if layer is not None else matrix,
        obs=_obs_frame(cover.gindexer), var=var, uns=uns,
        layers={layer: matrix} if layer is not None and matrix is not None else None,
        obsm={"profile": profile} if profile is not None else None)
    return adata


# ---------------------------------------------------------------------------- back
def _gindexer_from_obs(adata: Any, info: dict[str, Any], one_value: bool) -> GenomicIndexer:
    """Windows from ``obs`` (``chrom``/``chr``, ``start``, ``end``, optional ``strand``) or,
    without those columns, from ``chrom:start-end`` obs names."""
    from genozarr.regions import parse_region

    obs = adata.obs
    chrom_col = next((c for c in ("chrom", "chr", "chromosome", "Chromosome") if c in obs),
                     None)
    start_col = next((c for c in ("start", "Start") if c in obs), None)
    end_col = next((c for c in ("end", "End") if c in obs), None)
    if chrom_col is not None and start_col is not None and end_col is not None:
        from genozarr.regions import _coordinates

        chrs = np.asarray(obs[chrom_col]).astype(str)
        # (checked as every region table's: a fraction, a bool or a missing value is
        # refused; a cast to int64 truncated 0.7 to 0 and read True as 1, silently)
        starts = _coordinates(f"obs column {start_col!r}", np.asarray(obs[start_col]))
        ends = _coordinates(f"obs column {end_col!r}", np.asarray(obs[end_col]))
    else:
        try:
            regions = [parse_region(str(n)) for n in adata.obs_names]
        except Exception as e:
            raise ArgumentError(
                "obs needs columns chrom, start and end (or obs_names 'chrom:start-end') to "
                f"place the rows on the genome; pass gindexer otherwise ({e})") from e
        chrs = np.array([r.chrom for r in regions], dtype=object)
        starts = np.array([r.start for r in regions], dtype=np.int64)
        ends = np.array([r.end for r in regions], dtype=np.int64)
    strand_col = next((c for c in ("strand", "Strand") if c in obs), None)
    strands = (np.asarray(obs[strand_col]).astype(str) if strand_col is not None
               else np.full(len(chrs), ".", dtype=object))
    bad = np.flatnonzero(~np.isin(strands, ["+", "-", "."]))
    if len(bad):
        raise ArgumentError(f"obs strand must be '+', '-' or '.', got {strands[bad[0]]!r}")
    if len(chrs) and np.any(ends <= starts):
        k = int(np.flatnonzero(ends <= starts)[0])
        raise ArgumentError(f"row {k} of obs has end {ends[k]} <= start {starts[k]}")
    flank = int(info.get("flank", 0) or 0)
    binsize = info.get("binsize") if not one_value else None
    stepsize = info.get("stepsize") if not one_value else None
    if not one_value and binsize is None:
        lengths = np.unique(ends - starts)
        if len(lengths) != 1:
            raise ArgumentError(
                "a profile needs windows of one length; obs windows have lengths "
                f"{lengths[:5].tolist()} (pass gindexer)")
        binsize = int(lengths[0])
    return GenomicIndexer(chrs.astype(object), starts, ends, strands.astype(object),
                          None if binsize is None else int(binsize),
                          None if stepsize is None else int(stepsize), flank)


def _matrix(adata: Any, layer: str | None, obsm: str | None) -> np.ndarray:
    """``(n, L, n_vars)`` values: ``obsm[obsm]``, ``layers[layer]`` or ``X`` (L = 1)."""
    if obsm is not None:
        if layer is not None:
            raise ArgumentError("pass layer or obsm, not both")
        if obsm not in adata.obsm:
            raise ArgumentError(f"adata.obsm has no {obsm!r} (it has {list(adata.obsm)})")
        values = np.asarray(adata.obsm[obsm])
        if values.ndim == 2:
            values = values[:, None, :]
        if values.ndim != 3 or values.shape[2] != adata.n_vars:
            raise ArgumentError(
                f"obsm[{obsm!r}] must have shape (n_obs, L, n_vars) = (n, L, {adata.n_vars}), "
                f"got {values.shape}")
        return values
    if layer is not None:
        if layer not in adata.layers:
            raise ArgumentError(f"adata.layers has no {layer!r} (it has {list(adata.layers)})")
        m = adata.layers[layer]
    else:
        m = adata.X
        if m is None:
            raise ArgumentError("adata.X is None: pass layer= or obsm= to choose the values")
    if hasattr(m, "toarray"):
        m = m.toarray()
    m = np.asarray(m)
    if m.ndim != 2:
        raise ArgumentError(f"the matrix must be 2-D (obs x var), got shape {m.shape}")
    return m[:, None, :]


def _conditions_and_strands(adata: Any) -> tuple[list[str], list[str], np.ndarray | None]:
    """Condition names, stored strands and the var order that makes ``(C, S)`` from the
    var axis (None: one strand, var order as is)."""
    var = adata.var
    if "strand" in var and "condition" in var:
        strands = np.asarray(var["strand"]).astype(str)
        conds = np.asarray(var["condition"]).astype(str)
        uniq_s = list(dict.fromkeys(strands.tolist()))
        if set(uniq_s) == {"+", "-"}:
            uniq_c = list(dict.fromkeys(conds.tolist()))
            pos = {(c, s): i for i, (c, s) in enumerate(zip(conds, strands))}
            if len(pos) == len(conds) and len(conds) == 2 * len(uniq_c) and all(
                    (c, s) in pos for c in uniq_c for s in ("+", "-")):
                order = np.array([[pos[(c, s)] for s in ("+", "-")] for c in uniq_c])
                return uniq_c, ["+", "-"], order
        if len(set(uniq_s)) == 1 and len(set(conds.tolist())) == len(conds):
            return conds.tolist(), uniq_s[:1], None
    elif "condition" in var:  # (strands summed: the condition column names the vars)
        conds = np.asarray(var["condition"]).astype(str)
        if len(set(conds.tolist())) == len(conds):
            return conds.tolist(), ["."], None
    return [str(v) for v in adata.var_names], ["."], None


def create_from_anndata(adata: ad.AnnData, gindexer: GenomicIndexer | None = None, *,
                        name: str | None = None, layer: str | None = None,
                        obsm: str | None = None, conditions: Sequence[str] | None = None,
                        storage: str = "ndarray", genomesize: Any = None,
                        cls: type[Cover] | None = None, **kwargs: Any) -> Cover:
    """A :class:`~genozarr.dataset.Cover` from an AnnData of regions x conditions (the
    inverse of :func:`to_anndata`), through :meth:`Cover.create_from_array`.

    The ``var`` columns other than ``condition``, ``strand`` and ``source`` become the
    Cover's condition metadata (as a sample sheet's columns), under the sheet's names
    where ``uns["genozarr"]["condition_metadata"]`` records them (:func:`to_anndata`); a
    column whose name a metadata column cannot take, or whose two strands of a condition
    differ, is left out (logged). ``condition_metadata=`` given replaces them.

    Parameters
    ----------
    adata
        One row per window. ``X`` (dense or sparse), ``layers[layer]`` or
        ``obsm[obsm]`` holds the values.
    gindexer
        The windows of the rows. Default: built from ``obs`` columns ``chrom`` (or
        ``chr``), ``start``, ``end`` and optional ``strand``, or from ``chrom:start-end``
        obs names (as CREsted writes them); ``uns["genozarr"]["flank"]`` is restored.
    name
        Dataset name; default ``uns["genozarr"]["name"]``, else ``"anndata"``.
    layer
        Read ``layers[layer]`` instead of ``X``.
    obsm
        Read a profile ``obsm[obsm]`` of shape ``(n, L, n_vars)`` (as ``to_anndata(...,
        aggregate=None)`` writes it, genomic orientation) instead of a matrix; the
        resolution is then the window length (flanks included) // ``L``.
    conditions
        Condition names; default the ``condition`` column of ``var`` or the var names.
    storage
        'ndarray', 'sparse' or 'zarr'.
    genomesize
        Chromosome lengths (dict or file); default the largest window end per chromosome.
    cls
        The Cover class (or a subclass) to build; default :class:`~genozarr.dataset.Cover`.
    **kwargs
        More arguments of :meth:`Cover.create_from_array` (``store``, ``cache``,
        ``dtype``, ``padding_value``, ``channel_last``, ``condition_metadata``, ...).

    Returns
    -------
    Cover
        With a matrix: ``resolution=None`` (one value per window), ``cover[i]`` of shape
        ``(1, 1, S, C)`` (one position per window); var columns ``condition``/``strand``
        holding ``+`` and ``-`` for every condition (``to_anndata(..., strand="split")``)
        become two stored strands.

    Raises
    ------
    ImportError
        Without the ``anndata`` package.
    ArgumentError
        For obs without coordinates, shapes that do not match, or both ``layer`` and
        ``obsm``.
    """
    anndata = _import_anndata()
    from genozarr.dataset import Cover

    if not isinstance(adata, anndata.AnnData):
        raise ArgumentError(f"adata must be an anndata.AnnData, got {type(adata).__name__}")
    info = dict(adata.uns.get(_UNS_KEY, {}) or {})
    values = _matrix(adata, layer, obsm)                    # (n, L, n_vars)
    one_value = values.shape[1] == 1 and obsm is None
    if gindexer is None:
        gindexer = _gindexer_from_obs(adata, info, one_value)
    elif not isinstance(gindexer, GenomicIndexer):
        raise ArgumentError(f"gindexer must be a GenomicIndexer, got {type(gindexer).__name__}")
    if len(gindexer) != adata.n_obs:
        raise ArgumentError(
            f"gindexer has {len(gindexer)} windows but adata has {adata.n_obs} rows")
    conds, strands, order = _conditions_and_strands(adata)
    length = values.shape[1]
    if order is not None:
        x = values[:, :, order]                             # (n, L, C, 2)
        x = np.moveaxis(x, 3, 2)                            # (n, L, 2, C)
    else:
        x = values[:, :, None, :]                           # (n, L, 1, C)
    if conditions is not None:
        conds = [str(c) for c in ([conditions] if isinstance(conditions, str) else conditions)]
    # the values are in genomic orientation; create_from_array takes served ones (minus
    # windows 5'->3', strands swapped) and flips them back: flip minus windows here
    minus = gindexer.strand.astype(str) == "-"
    if minus.any() and (length > 1 or x.shape[2] > 1):
        x = np.array(x, copy=True)
        x[minus] = x[minus][:, ::-1, ::-1]
    if name is None:
        name = str(info.get("name") or "anndata")
    resolution = kwargs.pop("resolution", None)
    if not kwargs.get("channel_last", True):  # served channel first: the array given so
        x = np.moveaxis(x, 3, 1)                            # (n, C, L, S)
    if "condition_metadata" not in kwargs:
        kwargs["condition_metadata"] = _var_metadata(adata, info, order) or None
    return (cls or Cover).create_from_array(name, x, gindexer, genomesize=genomesize,
                                            conditions=conds, resolution=resolution,
                                            storage=storage, **kwargs)


def _var_metadata(adata: Any, info: dict[str, Any],
                  order: np.ndarray | None) -> dict[str, list[Any]]:
    """The condition metadata held by ``var``'s other columns (see
    :func:`create_from_anndata`): ``{name: [value per condition]}``."""
    from genozarr.samples import _bad_names, _plain

    var = adata.var
    recorded = info.get("condition_metadata")
    recorded = {str(k): str(v) for k, v in recorded.items()} if isinstance(recorded, dict) \
        else {}
    # in var's order (h5py and zarr give a written uns mapping's keys sorted: a sample
    # sheet's columns came back alphabetically, an audit); the recorded names translate
    # var's column names, and columns added since are kept under their own
    names = {str(c): recorded.get(str(c), str(c)) for c in var.columns
             if str(c) in recorded or c not in ("condition", "strand", "source")}
    names.update({k: v for k, v in recorded.items() if k not in names})
    rows = np.arange(len(var)) if order is None else order[:, 0]
    out: dict[str, list[Any]] = {}
    left: list[str] = []
    for column, name in names.items():
        if column not in var.columns or _bad_names([name]) or name in out:
            left.append(column)
            continue
        values = [_plain(v) for v in var[column].tolist()]
        kept = [values[i] for i in rows]
        if order is not None and kept != [values[i] for i in order[:, 1]]:
            left.append(column)  # (not one value per condition)
            continue
        out[name] = kept
    if left:
        log.info(
            "var columns %s are not kept as condition metadata (not one value per "
            "condition, or not a name a metadata column can take)", left)
    return out

"""The on-disk layout of a genozarr store: the one place that knows it (``docs/format.md``).

A store is a zarr v3 group whose attribute ``genozarr`` holds the metadata
(:class:`StoreMeta`, including the recipe that rebuilds the dataset). Format version 3:

partial layout (``store_whole_genome=False``)
    ``data`` with dimension names ``(region, position, strand, condition)``, one row per
    window (flank included), chunked along ``region``; coordinates ``region_chrom``,
    ``region_start``, ``region_end``, ``region_strand``, ``strand`` and ``condition``,
    and, optionally (stores built from named regions), ``region_name``.
whole-genome layout (``store_whole_genome=True``)
    one group per chromosome, named by the chromosome, holding ``data`` with dimension names
    ``(position, strand, condition)`` (``position`` in units of ``resolution``, chunked along
    it) and its own ``strand`` and ``condition`` coordinates, so that
    ``xarray.open_zarr(path, group="chr1")`` is a complete dataset. The group
    ``genozarr-windows`` holds the dataset's windows (``window_chrom``, ``window_start``,
    ``window_end``, ``window_strand``, dimension ``window``); chromosomes and strands as
    integer codes into the array's ``labels`` attribute (:class:`Labeled`).

Format version 2 held the window chromosomes and strands as variable-length strings (such
stores are read, and windows recorded into one keep that encoding). Format version 1 (read
only) kept whole-genome chromosomes as root arrays named by the chromosome with dimensions
``(position_<chrom>, strand, condition)``.

Values are stored in genomic (plus-strand) orientation; minus-strand windows are flipped
on read. A store is valid only when its completion marker (group ``genozarr-complete``)
holds its cache key. The marker also records which chunk files of each array were written
(:func:`chunk_inventory`), so that a chunk file missing from a copy of the store is an
error, not the fill value (:class:`ChunkInventory`).
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from genozarr.errors import ArgumentError, StoreError, StoreFormatError
from genozarr.store.dtypes import value_dtype

__all__ = ["FORMAT_VERSION", "DATA_TOKEN", "READABLE_VERSIONS", "StoreMeta", "ArraySpec",
           "MARKER", "MARKER_FILE", "WINDOWS", "DATA", "REGION_COORDS", "REGION_NAME",
           "WINDOW_COORDS", "WINDOW_NAME",
           "marker_bytes", "array_path", "check_chrom_name", "chunk_length", "sharding",
           "plan_layout", "Labeled", "LABELS_ATTR", "decode_labels", "labeled_values",
           "window_coords", "CHUNK_KEY", "first_axis_grid", "first_index", "chunk_inventory",
           "ChunkInventory"]

FORMAT_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
ENCODING_TYPE = "genozarr"
MARKER = "genozarr-complete"  # a zarr group whose attributes hold the cache key
MARKER_FILE = f"{MARKER}/zarr.json"
WINDOWS = "genozarr-windows"
DATA = "data"
#: attribute naming the data a store's attributes describe (not stored): a hash of the
#: dask names of its data arrays, set by genozarr.open_store and genozarr.ops;
#: write_store keeps the cache key only where the data are still those
#: (:func:`genozarr.ops._layout.data_token`)
DATA_TOKEN = "data_token"
#: the region coordinates every partial-layout store has
REGION_COORDS = ("region_chrom", "region_start", "region_end", "region_strand")
#: the optional region coordinate of window names (column ``name`` of a region table);
#: stores without it (built from unnamed regions, or before it existed) stay valid
REGION_NAME = "region_name"
WINDOW_COORDS = ("window_chrom", "window_start", "window_end", "window_strand")
#: the windows' names (from the regions' name column), where they have names: strings
WINDOW_NAME = "window_name"
#: attribute of an array of integer codes that holds the labels the codes index (format 3:
#: ``window_chrom`` and ``window_strand``)
LABELS_ATTR = "labels"
#: object marking a remote version as replaced (JSON ``{"retired_at": <unix time>}``);
#: a node of that name is not copied into a store's next version
RETIRED = "genozarr-retired"
_RESERVED_NODES = {MARKER, WINDOWS, RETIRED, "zarr.json"}
#: the chunk keys of zarr v3's default chunk key encoding: ``<array path>/c.<i>.<j>...``
#: (what genozarr writes) or ``<array path>/c/<i>/<j>...`` (zarr's default separator)
CHUNK_KEY = re.compile(r"^(?:(?P<array>.+)/)?c(?P<index>(?:/\d+)+|(?:\.\d+)+)$")


def first_index(match: re.Match[str]) -> int:
    """The chunk index along the first axis in a :data:`CHUNK_KEY` match.

    Parameters
    ----------
    match
        A match of :data:`CHUNK_KEY` on a chunk key (``c.<i>.<j>...`` or ``c/<i>/<j>...``).

    Returns
    -------
    int
        ``<i>``, the first index of the key.
    """
    return int(re.split(r"[./]", match.group("index"), maxsplit=2)[1])

Layout = Literal["partial", "whole_genome"]
Kind = Literal["coverage", "sequence"]


def check_chrom_name(chrom: str) -> str:
    """Check that a chromosome name can name a zarr group (whole-genome layout).

    Any legal zarr v3 node name works: not empty, no ``/`` (nor ``\\``, which zarr's local
    store lists as one), not only periods, not starting with ``__``, and not one of
    genozarr's own node names.

    Parameters
    ----------
    chrom
        Chromosome name.

    Returns
    -------
    str
        ``chrom``, unchanged.

    Raises
    ------
    StoreFormatError
        For a name zarr cannot store.
    """
    if (not chrom or "/" in chrom or "\\" in chrom or "\x00" in chrom
            or set(chrom) == {"."} or chrom.startswith("__") or chrom in _RESERVED_NODES):
        raise StoreFormatError(
            f"chromosome name {chrom!r} cannot name a zarr group in a whole-genome store "
            "(empty, contains '/', '\\' or NUL, only periods, starts with '__', or is "
            f"reserved: {sorted(_RESERVED_NODES)}); use store_whole_genome=False")
    return chrom


def check_chrom_cases(chroms: Any) -> None:
    """Check that no two chromosome names of a whole-genome store differ by case or
    Unicode form only (``Chr1`` and ``chr1``; ``chr1`` and ``chr\uff11``; a precomposed
    ``é`` and ``e`` plus an accent): zarr's consolidated metadata sorts node names by
    ``NFKC`` form, case-blind, and then mixes such groups' children up, so the store could
    not be read.

    Raises
    ------
    StoreFormatError
        Naming the names, before anything is written.
    """
    seen: dict[str, str] = {}
    for chrom in chroms:
        key = unicodedata.normalize("NFKC", str(chrom)).casefold()  # zarr's sort key
        other = seen.setdefault(key, str(chrom))
        if other != str(chrom):
            raise StoreFormatError(
                f"chromosomes {other!r} and {chrom!r} differ by case or Unicode form "
                "only; zarr's consolidated metadata cannot tell their groups apart in a "
                "whole-genome store. Use store_whole_genome=False, or rename one of them")


def array_path(chrom: str | None, format_version: int = FORMAT_VERSION) -> str:
    """Path of the data array of a chromosome (whole genome) or of ``data`` (partial).

    Parameters
    ----------
    chrom
        Chromosome name (whole-genome layout); None for the partial layout.
    format_version
        Store format version: 1 kept each chromosome's array at the root.

    Returns
    -------
    str
        ``'data'`` for None; ``'<chrom>/data'`` (format 2 and 3) or ``'<chrom>'``
        (format 1) for a chromosome.

    Raises
    ------
    StoreFormatError
        For a chromosome name that cannot name a zarr group (:func:`check_chrom_name`).
    """
    if chrom is None:
        return DATA
    check_chrom_name(chrom)
    return chrom if format_version == 1 else f"{chrom}/{DATA}"


def sharding(row_bytes: int, clen: int, inner_bytes: int | None = None,
             min_rows: int = 1) -> tuple[int, int | None]:
    """Chunk length rounded to a multiple of the inner chunk length, and that inner
    length (None: not sharded), for inner chunks of about ``inner_bytes`` (default:
    ``set_options(inner_chunk_bytes=...)``), of at least ``min_rows`` rows (a window's
    bins in the whole-genome layout: one bin per inner chunk made a chromosome's shards
    of millions of inner chunks, built and read at about 20 us per base).

    Parameters
    ----------
    row_bytes
        Decoded bytes of one first-axis entry (a partial-layout row, all its bins; a bin
        of a chromosome's array).
    clen
        First-axis chunk length (rows), as from :func:`chunk_length`.
    inner_bytes
        Decoded bytes per inner chunk; None takes the ``inner_chunk_bytes`` option, and
        where that is None too, nothing is sharded.
    min_rows
        Fewest first-axis entries per inner chunk.

    Returns
    -------
    tuple of (int, int or None)
        ``(chunk length, inner length)`` in first-axis entries: the chunk (shard) length,
        ``clen`` rounded down to a multiple of the inner length, and that inner length
        (from 1 to ``clen``; equal to the chunk length, the array is written unsharded);
        ``(clen, None)`` without sharding.
    """
    if inner_bytes is None:
        from genozarr.config import layout_option

        inner_bytes = layout_option("inner_chunk_bytes")
    if inner_bytes is None:
        return clen, None
    inner = max(1, min(clen, max(inner_bytes // max(int(row_bytes), 1), int(min_rows))))
    return clen // inner * inner, inner


def _whole_genome_shard(clen: int, nbins: int) -> tuple[int, int | None]:
    """Shard length and chunk length of a chromosome's array of ``nbins`` bins in chunks of
    ``clen``: up to ``set_options(shard_chunks=...)`` chunks per shard (None: one chunk
    per file, for a chromosome of one chunk or ``shard_chunks=1``)."""
    from genozarr.config import layout_option

    per = min(int(layout_option("shard_chunks")), -(-nbins // clen))
    return (clen * per, clen) if per > 1 else (clen, None)


def chunk_length(row_bytes: int, n: int, chunk_bytes: int | None = None) -> int:
    """First-axis chunk length so that one chunk decodes to about ``chunk_bytes``
    (default: ``set_options(chunk_bytes=...)``), at most ``n``.

    Parameters
    ----------
    row_bytes
        Decoded bytes of one first-axis entry (row or bin).
    n
        First-axis length of the array.
    chunk_bytes
        Decoded bytes per chunk; None takes the ``chunk_bytes`` option.

    Returns
    -------
    int
        First-axis entries per chunk: ``chunk_bytes // row_bytes``, at least 1 and at
        most ``n`` (1 for an empty array).
    """
    if chunk_bytes is None:
        from genozarr.config import layout_option

        chunk_bytes = layout_option("chunk_bytes")
    return max(1, min(n if n > 0 else 1, chunk_bytes // max(int(row_bytes), 1)))


@dataclass
class ArraySpec:
    """Shape, chunking, dtype, dimension names and fill value of one array.

    Parameters
    ----------
    shape
        Array shape: ``(region, position, strand, condition)`` for the partial layout's
        ``data``, ``(position, strand, condition)`` (bins) for a chromosome's array.
    chunks
        Chunk shape (the shard shape when ``inner`` is set).
    dtype
        Store dtype name (``'bfloat16'`` included).
    dims
        Dimension names, one per axis.
    fill_value
        Value of the positions no chunk was written for (the store's pad value in
        :func:`plan_layout`).
    coordinates
        Space-separated names of the array's coordinate arrays, written as its
        ``coordinates`` attribute; None writes none.
    inner
        First-axis length of the inner chunks when ``chunks`` is a zarr v3 shard of
        them (None: not sharded).
    runs
        The values come in runs of equal values along the bases (see
        :data:`genozarr.store.write.RUNS_SHUFFLE`).
    """

    shape: tuple[int, ...]
    chunks: tuple[int, ...]
    dtype: str
    dims: tuple[str, ...]
    fill_value: Any = 0
    coordinates: str | None = None
    #: first-axis length of the inner chunks when ``chunks`` is a zarr v3 shard of them
    #: (None: not sharded); ``chunks[0]`` is a multiple of it
    inner: int | None = None
    #: the values come in runs of equal values along the bases (per-base coverage read
    #: from BigWig, BAM or BED files), which compress without a byte shuffle (see
    #: :data:`genozarr.store.write.RUNS_SHUFFLE`)
    runs: bool = False


@dataclass
class StoreMeta:
    """Metadata of a store, kept in the root group's ``genozarr`` attribute.

    ``recipe`` records how the dataset over the store was built: the dataset class and
    constructor, every argument that shapes what is served, the inputs with their
    digests, and the normalizers with their fitted parameters
    (see :mod:`genozarr.store.recipe`).

    Parameters
    ----------
    name
        Dataset name.
    kind
        ``'coverage'`` (Cover) or ``'sequence'`` (Bioseq).
    layout
        ``'partial'`` (one row per window) or ``'whole_genome'`` (one array per
        chromosome).
    resolution
        Bases per bin; None: one value per window.
    binsize
        Window length in bases, without flank; None for variable-length windows.
    stepsize
        Step between window starts, in bases.
    flank
        Bases added on both sides of every window.
    dtype
        Store dtype name of the data arrays (``'bfloat16'`` included).
    conditions
        Condition names (the ``condition`` dimension).
    strands
        Strand labels (the ``strand`` dimension).
    chroms
        ``{chrom: length in bases}`` of the chromosomes the regions use, in order.
    sources
        Input files, in condition order.
    cache_key
        SHA256 cache key the store was built for; None: none.
    seqtype
        Alphabet of a sequence store (``'dna'``, ``'protein'``); None for coverage.
    pad_value
        Value of positions without data.
    condition_metadata
        ``{column: [one value per condition]}`` from a sample sheet; empty without one.
    recipe
        How the dataset over the store was built (see above).
    format_version
        Store format version (default :data:`FORMAT_VERSION`).
    encoding_type
        Always ``'genozarr'``.
    """

    name: str
    kind: Kind
    layout: Layout
    resolution: int | None
    binsize: int | None
    stepsize: int | None
    flank: int
    dtype: str
    conditions: list[str]
    strands: list[str]
    chroms: dict[str, int] = field(default_factory=dict)  # chromosome lengths in bases
    sources: list[str] = field(default_factory=list)
    cache_key: str | None = None
    seqtype: str | None = None
    pad_value: float = 0
    condition_metadata: dict[str, list[Any]] = field(default_factory=dict)
    recipe: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    encoding_type: str = ENCODING_TYPE

    @property
    def served_pad(self) -> Any:
        """The pad value as the store holds it (rounded to :attr:`dtype`: a bfloat16 store
        holds bfloat16(0.1) for 0.1), in the dtype reads serve: what a read gives outside
        the stored windows and chromosomes, as the arrays' fill value gives it inside."""
        from genozarr.store.dtypes import store_dtype, value_dtype

        with np.errstate(over="ignore", invalid="ignore"):
            held = np.asarray(self.pad_value).astype(store_dtype(self.dtype))
            return held.astype(value_dtype(self.dtype))[()]

    def to_attrs(self) -> dict[str, Any]:
        """JSON-able dictionary for the zarr group attributes.

        Returns
        -------
        dict[str, Any]
            Every field by name (:func:`dataclasses.asdict`).
        """
        return asdict(self)

    @classmethod
    def from_attrs(cls, attrs: dict[str, Any], where: str) -> StoreMeta:
        """Parse and version-check the ``genozarr`` attribute of a store at ``where``.

        Parameters
        ----------
        attrs
            The ``genozarr`` attribute of the root group; keys that are no field are
            ignored.
        where
            The store, for messages.

        Returns
        -------
        StoreMeta
            The metadata, its values checked.

        Raises
        ------
        StoreFormatError
            For attributes that are not a mapping, not genozarr metadata, of an unknown
            or newer format version, lacking a required field, or holding a value of the
            wrong type or range.
        """
        if not isinstance(attrs, dict):
            raise StoreFormatError(f"{where}: the genozarr metadata is {attrs!r}, not a "
                                   "mapping; the store was edited or damaged")
        version = attrs.get("format_version")
        if attrs.get("encoding_type") != ENCODING_TYPE or version is None:
            raise StoreFormatError(f"{where} is not a genozarr store (no genozarr metadata)")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise StoreFormatError(
                f"{where} has an unknown genozarr format version {version!r}; this genozarr "
                f"reads versions {READABLE_VERSIONS[0]} to {FORMAT_VERSION}. Rebuild the store.")
        if version > FORMAT_VERSION:
            raise StoreFormatError(
                f"{where} was written in genozarr format version {version}; this genozarr reads "
                f"versions up to {FORMAT_VERSION}. Upgrade genozarr to open it."
            )
        known = set(cls.__dataclass_fields__)
        try:
            meta = cls(**{k: v for k, v in attrs.items() if k in known})
        except TypeError as e:  # a required field is missing
            raise StoreFormatError(f"{where} has incomplete genozarr metadata: {e}") from e
        if meta.layout not in ("partial", "whole_genome") or meta.kind not in ("coverage",
                                                                              "sequence"):
            raise StoreFormatError(
                f"{where} has unknown layout {meta.layout!r} or kind {meta.kind!r}")
        meta._check_values(where)
        return meta

    def _check_values(self, where: str) -> None:
        """Refuse metadata values a reader would fail on deep inside (or read as another
        value): an unknown dtype, a sequence store of a non-integer dtype, a recipe that
        is not a mapping, or recipe fields of the wrong type (``channel_last: "no"`` is
        true to ``bool``).

        Raises
        ------
        StoreFormatError
            Naming the store and the field.
        """
        from genozarr.store.dtypes import check_store_dtype

        def refuse(what: str, value: Any, rule: str) -> StoreFormatError:
            return StoreFormatError(
                f"{where}: the genozarr metadata's {what} is {value!r}, not {rule}; the "
                "store was edited or damaged. Rebuild it (overwrite=True).")

        def count(value: Any) -> bool:  # (a bool is no number of bases)
            return isinstance(value, int) and not isinstance(value, bool)

        # the tiling (a window's length in bases: 2**32 - 1 at most, as a coordinate; a
        # binsize of 10**15 opened and then asked for petabytes at the first read)
        for what, lowest in (("resolution", 1), ("binsize", 1), ("stepsize", 1)):
            value = getattr(self, what)
            if value is not None and not (count(value) and lowest <= value < 2**32):
                raise refuse(what, value, f"None or an integer from {lowest} to 2**32 - 1")
        if not (count(self.flank) and 0 <= self.flank < 2**32):
            raise refuse("flank", self.flank, "an integer from 0 to 2**32 - 1")
        if self.binsize is not None and self.binsize + 2 * self.flank >= 2**32:
            raise refuse("binsize + 2 * flank", self.binsize + 2 * self.flank,
                         "below 2**32 bases")
        if not isinstance(self.name, str):
            raise refuse("name", self.name, "a text")
        for what in ("conditions", "strands", "sources"):
            value = getattr(self, what)
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise refuse(what, value, "a list of names")
        if not isinstance(self.chroms, dict) or not all(
                isinstance(c, str) and count(n) and n >= 0 for c, n in self.chroms.items()):
            raise refuse("chroms", self.chroms, "a mapping of names to lengths")
        if not isinstance(self.pad_value, (int, float)) or isinstance(self.pad_value, bool):
            raise refuse("pad_value", self.pad_value, "a number")
        if not isinstance(self.condition_metadata, dict) or not all(
                isinstance(v, list) for v in self.condition_metadata.values()):
            raise refuse("condition_metadata", self.condition_metadata,
                         "a mapping of names to lists")
        try:
            name = check_store_dtype(self.dtype)
        except ArgumentError:
            raise refuse("dtype", self.dtype, "a numeric dtype") from None
        if self.kind == "sequence" and (name == "bfloat16" or np.dtype(name).kind not in "iu"):
            raise refuse("dtype", self.dtype, "an integer dtype (a sequence store holds "
                         "base codes)")
        recipe = self.recipe
        if not isinstance(recipe, dict):
            raise refuse("recipe", recipe, "a mapping")
        args = recipe.get("args")
        if args is not None and not isinstance(args, dict):
            raise refuse("recipe 'args'", args, "a mapping")
        flags = [("recipe 'channel_last'", recipe, "channel_last")]
        if args:
            flags.append(("recipe 'args.zero_padding'", args, "zero_padding"))
        for shown, holder, key in flags:
            if key in holder and not isinstance(holder[key], bool):
                raise refuse(shown, holder[key], "true or false")
        norms = recipe.get("normalizers", [])
        if not isinstance(norms, list) or not all(isinstance(n, dict) for n in norms):
            raise refuse("recipe 'normalizers'", norms, "a list of mappings")
        order = recipe.get("order")
        if order is not None and (isinstance(order, bool) or not isinstance(order, int)
                                  or order < 1):
            raise refuse("recipe 'order'", order, "an integer >= 1")

    @property
    def whole_genome(self) -> bool:
        """Whether the store holds whole chromosomes."""
        return self.layout == "whole_genome"

    @property
    def nbins(self) -> int:
        """Bins per partial-layout row (``position`` length)."""
        if self.resolution is None:
            return 1
        assert self.binsize is not None
        return (self.binsize + 2 * self.flank) // self.resolution

    def array_path(self, chrom: str | None = None) -> str:
        """Path of the data array of ``chrom`` (whole genome) or ``data`` (partial).

        Parameters
        ----------
        chrom
            Chromosome name (whole-genome layout; ignored in the partial layout).

        Returns
        -------
        str
            As :func:`array_path` for this store's layout and format version.
        """
        return array_path(chrom if self.whole_genome else None, self.format_version)

    def array_paths(self) -> list[str]:
        """Paths of every data array, in chromosome order.

        Returns
        -------
        list of str
            ``['data']`` in the partial layout; one path per chromosome of
            :attr:`chroms` in the whole-genome layout.
        """
        if self.whole_genome:
            return [self.array_path(c) for c in self.chroms]
        return [DATA]

    def chrom_of(self, path: str) -> str | None:
        """The chromosome whose data array is ``path`` (None in the partial layout).

        Parameters
        ----------
        path
            Path of a data array (as :meth:`array_path` gives it).

        Returns
        -------
        str or None
            The chromosome name; None in the partial layout.
        """
        if not self.whole_genome:
            return None
        return path if self.format_version == 1 else path.rsplit("/", 1)[0]


def _labels(values: Any) -> np.ndarray:
    return np.array([str(v) for v in values], dtype=object)


def plan_layout(
    meta: StoreMeta, *, n_regions: int | None = None,
    region_table: dict[str, np.ndarray] | None = None,
    windows: tuple[Any, ...] | None = None,
    chunk_bytes: int | None = None, runs: bool = False,
) -> tuple[dict[str, ArraySpec], dict[str, tuple[tuple[str, ...], np.ndarray]]]:
    """Array specs and coordinate arrays of a new store (format :data:`FORMAT_VERSION`).

    Parameters
    ----------
    meta
        Store metadata (layout, resolution, chromosomes, strands, conditions, dtype).
    n_regions
        Partial layout: number of rows.
    region_table
        Partial layout: ``chrom``, ``start``, ``end``, ``strand`` of every row (flank
        included), and optionally ``name`` (written as the coordinate ``region_name``).
    windows
        Whole-genome layout: ``(chrom, start, end, strand)`` of the dataset's windows
        (without flank), or ``(chrom, start, end, strand, names)`` (names None: none),
        written to the ``genozarr-windows`` group.
    chunk_bytes
        Decoded bytes per chunk (default: ``set_options(chunk_bytes=...)``).
    runs
        The values come in runs of equal values along the bases (per-base coverage
        read from files): see :attr:`ArraySpec.runs`.

    Returns
    -------
    specs : dict
        ``{array path: ArraySpec}`` of the data arrays.
    coords : dict
        ``{array path: (dims, values)}`` of the small coordinate arrays.
    """
    n_s, n_c = len(meta.strands), len(meta.conditions)
    # chunks are sized by the bytes served (a bfloat16 chunk decodes to float32)
    row = n_s * n_c * value_dtype(meta.dtype).itemsize
    specs: dict[str, ArraySpec] = {}
    coords: dict[str, tuple[tuple[str, ...], np.ndarray]] = {}
    labels = {"strand": _labels(meta.strands), "condition": _labels(meta.conditions)}
    extra = condition_coords(meta)  # sample-sheet metadata along condition
    if meta.whole_genome:
        if meta.resolution is None:
            raise StoreFormatError("the whole-genome layout needs a resolution")
        for chrom, length in meta.chroms.items():
            nbins = -(-int(length) // meta.resolution)
            clen, inner = sharding(row, chunk_length(row, nbins, chunk_bytes),
                                   min_rows=meta.nbins if meta.binsize is not None else 1)
            if inner is None:
                clen, inner = _whole_genome_shard(clen, nbins)
            specs[array_path(chrom)] = ArraySpec(
                (nbins, n_s, n_c), (clen, n_s, n_c), meta.dtype,
                ("position", "strand", "condition"), meta.pad_value,
                " ".join(extra) or None, inner, runs)
            for dim, values in labels.items():
                coords[f"{chrom}/{dim}"] = ((dim,), values)
            for name, values in extra.items():
                coords[f"{chrom}/{name}"] = (("condition",), values)
        if windows is not None:
            coords.update(window_coords(windows))
        return specs, coords
    if n_regions is None:
        raise StoreFormatError("the partial layout needs the number of regions")
    nbins = meta.nbins
    clen, inner = sharding(nbins * row, chunk_length(nbins * row, n_regions, chunk_bytes))
    named = region_table is not None and region_table.get("name") is not None
    specs[DATA] = ArraySpec((n_regions, nbins, n_s, n_c), (clen, nbins, n_s, n_c), meta.dtype,
                            ("region", "position", "strand", "condition"), meta.pad_value,
                            " ".join(REGION_COORDS + ((REGION_NAME,) if named else ())
                                     + tuple(extra)), inner, runs)
    for dim, values in labels.items():
        coords[dim] = ((dim,), values)
    for name, values in extra.items():
        coords[name] = (("condition",), values)
    if region_table is not None:
        for key, col in zip(REGION_COORDS, ("chrom", "start", "end", "strand")):
            values = np.asarray(region_table[col])
            coords[key] = (("region",), _labels(values) if col in ("chrom", "strand")
                           else values.astype(np.int64))
        if named:
            names = _labels(region_table["name"])
            if len(names) != n_regions:
                raise StoreFormatError(f"the region table has {len(names)} names for "
                                       f"{n_regions} regions")
            coords[REGION_NAME] = (("region",), names)
    return specs, coords


@dataclass(frozen=True, eq=False)
class Labeled:
    """A 1-D array of labels kept as integer codes into a list of labels: how format 3
    stores the chromosome and strand of every window. A genome tiled in 200 bp windows
    has millions of windows and a few chromosome names; as strings, each window cost a
    Python string to write and another to read (2.2 s to open the 8 M windows of a 400 Mb
    genome tiled with step 50), as codes a byte or two.

    On disk: an integer array of the smallest signed type that holds the codes, whose
    attribute :data:`LABELS_ATTR` lists the labels.

    Parameters
    ----------
    codes
        1-D integer array: the index into ``labels`` of every entry.
    labels
        The distinct labels.
    """

    codes: np.ndarray
    labels: list[str]

    @classmethod
    def of(cls, values: Any) -> Labeled:
        """Codes of ``values`` (strings), labels in order of first appearance.

        Parameters
        ----------
        values
            1-D array-like of labels (strings).

        Returns
        -------
        Labeled
            As :meth:`from_codes` gives it.
        """
        from genozarr._kernels import factorize_labels

        codes, labels = factorize_labels(np.asarray(values, dtype=object))
        return cls.from_codes(codes, [str(v) for v in labels])

    @classmethod
    def from_codes(cls, codes: Any, labels: list[str]) -> Labeled:
        """From codes (any integer type) and their labels.

        Parameters
        ----------
        codes
            Integer array-like of indices into ``labels``.
        labels
            The labels the codes index.

        Returns
        -------
        Labeled
            Codes cast to the smallest of int8, int16, int32 and int64 that holds
            ``len(labels)``, and a copy of ``labels`` as a list.
        """
        dtype = next(t for t in (np.int8, np.int16, np.int32, np.int64)
                     if len(labels) <= np.iinfo(t).max)
        return cls(np.asarray(codes).astype(dtype, copy=False), list(labels))

    def decode(self) -> np.ndarray:
        """The labels as an object array of ``str``.

        Returns
        -------
        numpy.ndarray
            Object array of the shape of :attr:`codes`: ``labels[code]`` of each code.

        Raises
        ------
        StoreFormatError
            If a code does not index :attr:`labels`.
        """
        return decode_labels(self.codes, self.labels, "labels")


def decode_labels(codes: np.ndarray, labels: Any, where: str) -> np.ndarray:
    """The object array of ``labels[code]`` for integer ``codes``.

    Parameters
    ----------
    codes
        Integer array of indices into ``labels``.
    labels
        The labels, as read from an array's :data:`LABELS_ATTR` attribute.
    where
        The array, for messages.

    Returns
    -------
    numpy.ndarray
        Object array of the shape of ``codes``.

    Raises
    ------
    StoreFormatError
        If ``labels`` is not a list of strings or a code does not index it (``where``
        names the array).
    """
    if not isinstance(labels, list) or not all(isinstance(v, str) for v in labels):
        raise StoreFormatError(f"{where}: its {LABELS_ATTR!r} attribute is not a list of "
                               "strings; rebuild the store (overwrite=True)")
    codes = np.asarray(codes)
    if codes.size and (int(codes.min()) < 0 or int(codes.max()) >= len(labels)):
        raise StoreFormatError(f"{where}: codes outside the {len(labels)} labels; rebuild "
                               "the store (overwrite=True)")
    return np.array(labels, dtype=object)[codes]


def labeled_values(arr: Any, where: str, codes: np.ndarray | None = None,
                   ) -> np.ndarray | None:
    """The labels of an array stored as :class:`Labeled` codes (a zarr array or an xarray
    variable of integers with a :data:`LABELS_ATTR` attribute), decoded; None for any other
    array (``where`` names it in errors). ``codes``: the array's values, when the caller
    has read them already.

    Parameters
    ----------
    arr
        A zarr array or an xarray variable.
    where
        The array, for messages.
    codes
        The array's values, already read; None reads them from ``arr``.

    Returns
    -------
    numpy.ndarray or None
        Object array of the labels, one per entry of ``arr``; None when ``arr`` is not an
        integer array with a :data:`LABELS_ATTR` attribute.

    Raises
    ------
    StoreFormatError
        As :func:`decode_labels`.
    """
    if arr.dtype.kind in "iu" and LABELS_ATTR in arr.attrs:
        codes = np.asarray(arr[...]) if codes is None else codes
        return decode_labels(codes, arr.attrs[LABELS_ATTR], where)
    return None


def window_coords(windows: tuple[Any, ...], format_version: int = FORMAT_VERSION,
                  ) -> dict[str, tuple[tuple[str, ...], Any]]:
    """The arrays of the ``genozarr-windows`` group for ``(chrom, start, end, strand)``,
    or ``(chrom, start, end, strand, names)``: chromosomes and strands as :class:`Labeled`
    codes (format 3; strings in format 2, for rewriting the windows of a format-2 store),
    starts and ends as integers, names (where not None) as strings.

    Parameters
    ----------
    windows
        ``(chrom, start, end, strand)`` or ``(chrom, start, end, strand, names)`` of the
        windows: equal-length 1-D arrays (chromosomes and strands may already be
        :class:`Labeled`), starts and ends in bases, names None for none.
    format_version
        Format of the store the arrays are for (below 3: strings, not codes).

    Returns
    -------
    dict[str, tuple[tuple[str, ...], Any]]
        ``{array path: (("window",), values)}``, paths under ``genozarr-windows``.

    Raises
    ------
    StoreFormatError
        When there are not as many names as windows.
    """
    out: dict[str, tuple[tuple[str, ...], Any]] = {}
    if len(windows) > 4 and windows[4] is not None:
        names = _labels(windows[4])
        if len(names) != len(windows[0]):
            raise StoreFormatError(f"{len(names)} window names for {len(windows[0])} windows")
        out[f"{WINDOWS}/{WINDOW_NAME}"] = (("window",), names)
    for key, values in zip(WINDOW_COORDS, windows[:4]):
        if not isinstance(values, Labeled):
            values = np.asarray(values)
            if values.dtype.kind in "OUS":
                values = (Labeled.of(values) if format_version >= 3
                          else np.asarray(values, dtype=object))
        elif format_version < 3:
            values = values.decode()
        out[f"{WINDOWS}/{key}"] = (("window",), values)
    return out


def metadata_kind(values: Any) -> str:
    """How a column of condition metadata is kept: ``'bool'`` (every value True or False,
    none missing), ``'int'`` (every value a whole number within int64, none missing),
    ``'float'`` (every value a number or missing, each exact as a float64) or ``'text'``
    (anything else: a mixture of kinds, True/False with a missing value, a whole number
    past int64, or one that a float64 would round)."""
    present = [v for v in values if v is not None]
    complete = len(present) == len(values)
    if complete and present and all(isinstance(v, bool) for v in present):
        return "bool"
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return "text"
    if complete and all(isinstance(v, int) and -2**63 <= v < 2**63 for v in present):
        return "int"

    def exact(v: Any) -> bool:
        try:  # (a whole number past int64 is text, even one a float64 holds: 2**63)
            return not isinstance(v, int) or (-2**63 <= v < 2**63 and float(v) == v)
        except OverflowError:
            return False

    return "float" if all(exact(v) for v in present) else "text"


def metadata_values(values: Any) -> list[Any]:
    """A column of condition metadata as it is kept (see :func:`metadata_kind`): a text
    column holds the text of each value (``True`` -> ``'True'``), None where missing;
    other columns as they are."""
    values = list(values)
    if metadata_kind(values) != "text":
        return values
    return [None if v is None else v if isinstance(v, str) else str(v) for v in values]


def condition_coords(meta: StoreMeta) -> dict[str, np.ndarray]:
    """The sample-sheet metadata as arrays along ``condition``, by
    :func:`metadata_kind`: bool; whole numbers as int64 (IDs past 2**53 stay exact);
    other numbers as float64 (missing: NaN); else strings (missing: ''; whole numbers
    past int64 as their digits)."""
    out = {}
    for name, values in meta.condition_metadata.items():
        if len(values) != len(meta.conditions):
            raise StoreFormatError(f"condition metadata {name!r} has {len(values)} values "
                                   f"for {len(meta.conditions)} conditions")
        kind = metadata_kind(values)
        out[name] = (np.array(values, dtype=np.bool_) if kind == "bool" else
                     np.array(values, dtype=np.int64) if kind == "int" else
                     np.array([np.nan if v is None else v for v in values], dtype=np.float64)
                     if kind == "float" else
                     _labels(["" if v is None else v for v in metadata_values(values)]))
    return out


def marker_bytes(cache_key: str | None, format_version: int = FORMAT_VERSION,
                 chunks: dict[str, Any] | None = None, build: str | None = None,
                 forced: bool = False, version: str | None = None) -> bytes:
    """Content of the completion marker: the ``zarr.json`` of an empty zarr group whose
    attributes hold the cache key (a group, so zarr lists it without warnings) and, when
    given, the chunk inventory (``chunks``, :func:`chunk_inventory`) and the build's own
    random id (``build``: no two builds write the same marker, so a reader that compares
    markers tells any rebuild from its store, even one of the same cache key), and
    ``forced`` for a build asked to replace the store (``overwrite=True``: the caller
    says the key does not describe what changed, such as a global a collapser reads),
    and the random id of this version (``version``: a version that records new windows
    keeps the build's id, with the same values, but not this one; a reader of a store
    without versions tells its coordinates from another version's by it).

    Parameters
    ----------
    cache_key
        The store's cache key (None: none).
    format_version
        Format version recorded in the marker.
    chunks
        The chunk inventory (:func:`chunk_inventory`); None records none.
    build
        The build's random id; None records none.
    forced
        The build was asked to replace the store (``overwrite=True``).
    version
        The random id of this version; None records none.

    Returns
    -------
    bytes
        The JSON text of the marker group's ``zarr.json``.
    """
    import json

    attrs: dict[str, Any] = {"cache_key": cache_key, "format_version": format_version}
    if chunks is not None:
        attrs["chunks"] = chunks
    if build is not None:
        attrs["build"] = build
    if forced:
        attrs["forced"] = True
    if version is not None:
        attrs["version"] = version
    return json.dumps({"zarr_format": 3, "node_type": "group", "attributes": attrs}).encode()


def same_content(marker: dict[str, Any] | None, other: dict[str, Any] | None) -> bool:
    """Whether two completion markers (attributes) stand for the same stored values:
    equal, or, where they hold a cache key, equal but for the build and version ids and the
    chunk inventory (the key is a hash of the inputs and settings, not of the chunking that
    ``chunk_bytes`` sets: two builds of one key hold the same values; a store whose data
    were changed outside genozarr gets no key). Without a cache key, or where a build
    was forced (``overwrite=True``: what changed may be outside the key), only the same
    build counts (the same build id: a version that records windows keeps it)."""
    if marker is None or other is None:
        return marker is other
    if marker == other:
        return True
    if marker.get("build") is not None and marker.get("build") == other.get("build"):
        return True  # one build's values (a version recording windows keeps its id; the
        # inventory of its coordinate arrays changes)
    if marker.get("cache_key") is None or marker.get("forced") or other.get("forced"):
        return False
    # (chunk files: the layout, which the key leaves out; the ids of the build and version)
    layout = ("build", "chunks", "version")
    return ({k: v for k, v in marker.items() if k not in layout}
            == {k: v for k, v in other.items() if k not in layout})


def _first_axis_grid(doc: Any) -> int | None:
    """The number of chunks (shards) along the first axis of the array whose metadata
    document is ``doc``; None for anything else, or an array also cut along another
    axis (such arrays are left out of the inventory)."""
    if not isinstance(doc, dict) or doc.get("node_type") != "array":
        return None
    try:
        shape = [int(n) for n in doc["shape"]]
        grid = doc["chunk_grid"]
        chunks = [int(n) for n in grid["configuration"]["chunk_shape"]]
    except (KeyError, TypeError, ValueError):
        return None
    return first_axis_grid(shape, chunks) if grid.get("name") == "regular" else None


def first_axis_grid(shape: Sequence[int], chunks: Sequence[int]) -> int | None:
    """The number of chunks (shards) along the first axis of an array of ``shape`` cut
    into (outer) ``chunks``; None where it is also cut along another axis (or the two do
    not fit).

    Parameters
    ----------
    shape
        Array shape.
    chunks
        Outer chunk (shard) shape.

    Returns
    -------
    int or None
        ``ceil(shape[0] / chunks[0])``; None for shapes of different lengths, an empty
        shape, a chunk length <= 0, or more than one chunk along a later axis.
    """
    if len(shape) != len(chunks) or not shape or any(c <= 0 for c in chunks) \
            or any(-(-n // c) > 1 for n, c in zip(shape[1:], chunks[1:])):
        return None
    return -(-shape[0] // chunks[0])


def _stored_chunks(keys: Iterable[str]) -> dict[str, set[int]]:
    """The chunk files among file keys ``keys``: ``{array path: indices along the first
    axis}``."""
    stored: dict[str, set[int]] = {}
    for key in keys:
        match = CHUNK_KEY.match(key)
        if match is not None:
            stored.setdefault(match.group("array") or "", set()).add(first_index(match))
    return stored


def chunk_inventory(metadata: dict[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    """Which chunk files of each array a version holds, as its completion marker records it.

    Parameters
    ----------
    metadata
        The version's consolidated metadata: array path -> its ``zarr.json`` document.
    keys
        Every file (object) key of the version, relative to its root.

    Returns
    -------
    dict
        ``{array path: {"grid": chunk files along the first axis, "absent": [[start,
        stop], ...]}}``: the chunk files (shard files of a sharded array) not written,
        as ranges of their index along the first axis (chunks holding only the fill
        value are not written). Arrays cut along another axis are left out.
    """
    grids = {path.strip("/"): n for path, n in
             ((path, _first_axis_grid(doc)) for path, doc in metadata.items())
             if n is not None}
    stored = _stored_chunks(keys)
    out = {}
    for path, grid in sorted(grids.items()):
        runs: list[list[int]] = []
        for i in range(grid):
            if i in stored.get(path, ()):
                continue
            if runs and runs[-1][1] == i:
                runs[-1][1] = i + 1
            else:
                runs.append([i, i + 1])
        out[path] = {"grid": grid, "absent": runs}
    return out


class ChunkInventory:
    """The chunk files a published version holds, read from its completion marker
    (:func:`chunk_inventory`): a chunk file recorded as written and missing now was lost
    after publication (a store copied in part, files deleted), and must not read as the
    fill value.

    Parameters
    ----------
    chunks
        The marker's ``chunks`` attribute.
    """

    def __init__(self, chunks: dict[str, Any]) -> None:
        self._arrays: dict[str, tuple[int, list[int], list[int]]] = {}
        for path, entry in chunks.items():
            grid = int(entry["grid"])
            runs = sorted((int(a), int(b)) for a, b in entry["absent"])
            if grid < 0 or any(not 0 <= a < b <= grid for a, b in runs):
                raise ValueError(f"absent runs {runs} outside the grid of {grid} chunk files")
            self._arrays[str(path).strip("/")] = (grid, [a for a, _ in runs],
                                                  [b for _, b in runs])

    @classmethod
    def from_marker(cls, attrs: dict[str, Any] | None) -> ChunkInventory | None:
        """The inventory in marker attributes ``attrs``; None when they hold none (a store
        published before inventories were recorded, or a marker not readable as one).

        Parameters
        ----------
        attrs
            The attributes of a completion marker, or None.

        Returns
        -------
        ChunkInventory or None
            The inventory of their ``chunks`` entry.
        """
        chunks = (attrs or {}).get("chunks") if isinstance(attrs, dict) else None
        if not isinstance(chunks, dict):
            return None
        try:
            return cls(chunks)
        except (KeyError, TypeError, ValueError):
            return None

    def written(self, array: str, index: int) -> bool:
        """Whether chunk (shard) file ``index`` along the first axis of ``array`` (its
        path in the store) was written when the version was published; False for an
        array or index the inventory does not hold.

        Parameters
        ----------
        array
            Array path in the store (leading and trailing ``/`` ignored).
        index
            Chunk (shard) index along the first axis.

        Returns
        -------
        bool
            Whether the file was recorded as written.
        """
        entry = self._arrays.get(array.strip("/"))
        if entry is None or not 0 <= index < entry[0]:
            return False
        k = bisect_right(entry[1], index) - 1
        return k < 0 or index >= entry[2][k]

    def absent(self, array: str, index: int) -> bool:
        """Whether chunk (shard) file ``index`` along the first axis of ``array`` was not
        written when the version was published (it holds only the fill value); False for
        an array or index the inventory does not hold (unknown, not absent).

        Parameters
        ----------
        array
            Array path in the store (leading and trailing ``/`` ignored).
        index
            Chunk (shard) index along the first axis.

        Returns
        -------
        bool
            Whether the file was recorded as not written.
        """
        entry = self._arrays.get(array.strip("/"))
        return entry is not None and 0 <= index < entry[0] and not self.written(array, index)

    def lost(self, keys: Iterable[str]) -> list[str]:
        """The chunk files recorded as written that ``keys`` (every file key of the
        version, relative to its root) lack, as keys ``<array path>/c<index>...``.

        Parameters
        ----------
        keys
            Every file (object) key of the version, relative to its root.

        Returns
        -------
        list of str
            ``<array path>/c.<index>`` of each lost chunk file, sorted by array path,
            then index.
        """
        present = _stored_chunks(keys)
        return [f"{path}/c.{i}" for path, (grid, _, _) in sorted(self._arrays.items())
                for i in range(grid)
                if self.written(path, i) and i not in present.get(path, ())]

    def stray(self, key: str) -> bool:
        """Whether the file ``key`` (relative to the version's root) is a chunk file that
        the inventory records as not written: a file of another build (see
        :meth:`check_not_absent`).

        Parameters
        ----------
        key
            A file (object) key of the version, relative to its root.

        Returns
        -------
        bool
        """
        match = CHUNK_KEY.match(key)
        return match is not None and self.absent(match.group("array") or "",
                                                  first_index(match))

    def check_present(self, array: str, index: int, where: str) -> None:
        """Raise when chunk file ``index`` of ``array``, found missing at ``where``, was
        written when the version was published.

        Parameters
        ----------
        array
            Array path in the store.
        index
            Chunk (shard) index along the first axis.
        where
            The missing chunk file, for the message.

        Raises
        ------
        StoreError
            Naming the chunk file.
        """
        if self.written(array, index):
            raise StoreError(
                f"chunk {where} is missing: the store's completion marker records it as "
                "written, so the store is incomplete (copied in part, or files deleted "
                "since). Copy it again or rebuild it (overwrite=True).")

    def check_not_absent(self, array: str, index: int, where: str) -> None:
        """Raise when chunk file ``index`` of ``array``, found at ``where`` (a local file),
        was not written when the version was published: a file of another build (a copy
        updated over an older one without deleting files), whose values are not this
        version's (its fill value).

        Parameters
        ----------
        array
            Array path in the store.
        index
            Chunk (shard) index along the first axis.
        where
            The chunk file, for the message.

        Raises
        ------
        StoreError
            Naming the chunk file.
        """
        if self.absent(array, index):
            raise StoreError(
                f"chunk {where} should not exist: the store's completion marker records it "
                "as never written (the fill value), so it is a file of another build (a "
                "copy updated over an older copy without deleting files: rsync without "
                "--delete, cp or unzip over it). Copy the store again into an empty "
                "directory, or rebuild it (overwrite=True).")

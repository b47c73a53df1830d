"""On-disk layout of a genozarr store (see ``docs/format.md``).

A store is a zarr v3 group. Its attribute ``genozarr`` holds the metadata
(:class:`StoreMeta`). Arrays:

partial layout (``store_whole_genome=False``)
    ``data`` with dimension names ``(region, position, strand, condition)``, one row per
    indexer window (flank included), chunked along ``region``; coordinates
    ``region_chrom``, ``region_start``, ``region_end``, ``region_strand`` (per region),
    ``strand`` and ``condition`` labels.
whole-genome layout (``store_whole_genome=True``)
    one array per chromosome, named by the chromosome, with dimension names
    ``(position_<chrom>, strand, condition)``, ``position`` in units of ``resolution``,
    chunked along position.

Values are stored in genomic (plus-strand) orientation; minus-strand windows are
flipped on read. A store is valid only when the completion marker holds its cache key.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from genozarr.errors import StoreFormatError

__all__ = ["FORMAT_VERSION", "StoreMeta", "MARKER", "MARKER_FILE", "marker_bytes", "DATA", "array_name", "position_dim",
           "REGION_COORDS"]

FORMAT_VERSION = 1
ENCODING_TYPE = "genozarr"
MARKER = "genozarr-complete"  # a zarr group whose attributes hold the cache key
MARKER_FILE = f"{MARKER}/zarr.json"
DATA = "data"
REGION_COORDS = ("region_chrom", "region_start", "region_end", "region_strand")
RESERVED = {DATA, "strand", "condition", *REGION_COORDS}

Layout = Literal["partial", "whole_genome"]
Kind = Literal["coverage", "sequence"]


def array_name(chrom: str | None) -> str:
    """Name of the zarr array holding a chromosome (whole genome) or ``data`` (partial)."""
    if chrom is None:
        return DATA
    if "/" in chrom or chrom in RESERVED or chrom.startswith("."):
        raise StoreFormatError(
            f"chromosome name {chrom!r} cannot name a zarr array in a whole-genome store "
            "(contains '/', starts with '.', or is reserved); use store_whole_genome=False"
        )
    return chrom


def position_dim(chrom: str | None) -> str:
    """Dimension name of the position axis (per chromosome in whole-genome stores)."""
    return "position" if chrom is None else f"position_{chrom}"


@dataclass
class StoreMeta:
    """Metadata of a store, kept in the root group's ``genozarr`` attribute."""

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
    extra: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    encoding_type: str = ENCODING_TYPE

    def to_attrs(self) -> dict[str, Any]:
        """JSON-able dictionary for the zarr group attributes."""
        return asdict(self)

    @classmethod
    def from_attrs(cls, attrs: dict[str, Any], where: str) -> StoreMeta:
        """Parse and version-check the ``genozarr`` attribute of a store at ``where``."""
        version = attrs.get("format_version")
        if attrs.get("encoding_type") != ENCODING_TYPE or version is None:
            raise StoreFormatError(f"{where} is not a genozarr store (no genozarr metadata)")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise StoreFormatError(
                f"{where} has an unknown genozarr format version {version!r}; this genozarr "
                f"reads versions 1 to {FORMAT_VERSION}. Rebuild the store.")
        if version > FORMAT_VERSION:
            raise StoreFormatError(
                f"{where} was written in genozarr format version {version}; this genozarr reads "
                f"versions up to {FORMAT_VERSION}. Upgrade genozarr to open it."
            )
        known = set(cls.__dataclass_fields__)
        try:
            return cls(**{k: v for k, v in attrs.items() if k in known})
        except TypeError as e:  # a required field is missing
            raise StoreFormatError(f"{where} has incomplete genozarr metadata: {e}") from e

    @property
    def nbins(self) -> int:
        """Bins per partial-layout row (``position`` length)."""
        if self.resolution is None:
            return 1
        assert self.binsize is not None
        return (self.binsize + 2 * self.flank) // self.resolution


def marker_bytes(cache_key: str | None, format_version: int = FORMAT_VERSION) -> bytes:
    """Content of the completion marker: the ``zarr.json`` of an empty zarr group whose
    attributes hold the cache key (a group, so zarr lists it without warnings)."""
    import json

    return json.dumps({"zarr_format": 3, "node_type": "group",
                       "attributes": {"cache_key": cache_key,
                                      "format_version": format_version}}).encode()

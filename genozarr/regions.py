"""Regions of interest and the :class:`GenomicIndexer` that tiles them into windows.

Regions come from a BED file (3-12 columns, strand honoured), a GFF/GTF file (read with
pyranges, converted from 1-based closed to 0-based half-open, feature type selectable),
a VCF/BCF file (one 1-bp region per record), a pandas DataFrame, a pyranges object, a
pybedtools ``BedTool`` (duck-typed: pybedtools is not needed), a list of
:class:`~genozarr.genome.Region`, of pybedtools ``Interval`` or of any objects with
``chrom``, ``start``, ``end`` (and optionally ``strand``), or region strings such as
``'chr1:1,000-1,100:+'`` (:func:`parse_region`).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np
import pandas as pd

from genozarr._validate import check_int
from genozarr.errors import ArgumentError, RegionError
from genozarr.genome import MAX_COORDINATE, GenomeLike, Region, check_chrom_name, chrom_sizes

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["RegionsLike", "load_regions", "parse_region", "GenomicIndexer",
           "check_gindexer_compatibility", "trim_regions"]

log = logging.getLogger(__name__)

RegionsLike = Union[str, os.PathLike, pd.DataFrame, Sequence[Region], Any]

REGION_COLUMNS = ["chrom", "start", "end", "name", "score", "strand"]
_GFF_SUFFIXES = (".gff", ".gff3", ".gtf", ".gff.gz", ".gff3.gz", ".gtf.gz")
_VCF_SUFFIXES = (".vcf", ".vcf.gz", ".vcf.bgz", ".bcf")

#: ``chrom:start-end`` with optional thousands separators and an optional strand, given
#: as ``:+`` / ``:-`` / ``:.`` or as ``(+)`` (the form ``str(Region)`` writes)
_REGION_TEXT = re.compile(
    r"^(?P<chrom>.+?):(?P<start>[0-9][0-9,]*)-(?P<end>[0-9][0-9,]*)"
    r"(?::(?P<strand>[+.-])|\((?P<paren>[+.-])\))?$")


def parse_region(text: str) -> Region:
    """A region from its text form ``'chr1:1000-1100'``.

    Coordinates are read as written, 0-based half-open like genozarr's
    :class:`~genozarr.genome.Region` (and like Janggu's ``'chrom:start-end'`` strings, which
    :meth:`GenomicIndexer.tostr` writes): ``'chr1:1000-1100'`` is the 100 bases
    ``[1000, 1100)``. Commas in the numbers are ignored (``'chr1:1,000-1,100'``), and a
    strand may follow as ``':+'``, ``':-'`` or ``':.'`` (or ``'(+)'``, as ``str(Region)``
    writes it); without one the strand is ``'.'``.

    Parameters
    ----------
    text
        The region text.

    Returns
    -------
    Region

    Raises
    ------
    RegionError
        When the text is not of the form ``chrom:start-end[:strand]``, or start > end.

    Examples
    --------
    >>> parse_region("chr1:1,000-1,100:-")
    Region(chrom='chr1', start=1000, end=1100, strand='-')
    >>> parse_region("chrX:5-9")
    Region(chrom='chrX', start=5, end=9, strand='.')
    """
    if not isinstance(text, str):
        raise ArgumentError(f"a region string is needed, got {type(text).__name__}")
    m = _REGION_TEXT.match(text.strip())
    if m is None:
        raise RegionError(
            f"cannot read {text!r} as a region: expected 'chrom:start-end' with an optional "
            "strand ':+' or ':-', e.g. 'chr1:1,000-1,100' or 'chr1:1000-1100:-' (0-based, "
            "end exclusive)")
    strand = m["strand"] or m["paren"] or "."
    return Region(m["chrom"], int(m["start"].replace(",", "")),
                  int(m["end"].replace(",", "")), strand)  # type: ignore[arg-type]


def _read_vcf(path: str) -> pd.DataFrame:
    """One 1-bp region per VCF/BCF record, as Janggu reads variants: ``[pos - 1, pos)``."""
    import pysam

    from genozarr.errors import InputFileError
    from genozarr.io._handles import check_input_file

    check_input_file(path, "VCF")
    chroms: list[str] = []
    starts: list[int] = []
    names: list[str] = []
    try:
        with pysam.VariantFile(path) as vcf:
            for rec in vcf:
                chroms.append(str(rec.chrom))
                starts.append(int(rec.pos) - 1)
                names.append(str(rec.id) if rec.id is not None else ".")
    except (OSError, ValueError) as e:
        raise InputFileError(f"{path}: cannot be read as VCF/BCF: {e}") from e
    start = np.asarray(starts, dtype=np.int64)
    return pd.DataFrame({"chrom": chroms, "start": start, "end": start + 1, "name": names,
                         "strand": "."})


def _interval_attr(item: Any, name: str, row: int) -> Any:
    try:
        return getattr(item, name)
    except AttributeError:
        raise ArgumentError(
            f"region {row} of the list ({type(item).__name__}) has no {name!r}: a list of "
            "regions holds genozarr.Region, pybedtools Interval or other objects with "
            "chrom, start, end (and optionally strand), or 'chrom:start-end' strings"
        ) from None


def _frame_from_items(items: list[Any]) -> pd.DataFrame:
    """Regions from Region / Interval-like objects or region strings (duck-typed)."""
    rows: dict[str, list[Any]] = {"chrom": [], "start": [], "end": [], "name": [],
                                  "strand": []}
    for row, item in enumerate(items):
        if isinstance(item, str):
            item = parse_region(item)
        rows["chrom"].append(str(_interval_attr(item, "chrom", row)))
        rows["start"].append(_interval_attr(item, "start", row))
        rows["end"].append(_interval_attr(item, "end", row))
        name = getattr(item, "name", None)
        rows["name"].append("." if name in (None, "") else str(name))
        strand = getattr(item, "strand", None)
        rows["strand"].append("." if strand in (None, "", 0) else str(strand))
    return pd.DataFrame(rows)

_PYRANGES_NAMES = {"Chromosome": "chrom", "Start": "start", "End": "end", "Name": "name",
                   "Score": "score", "Strand": "strand"}


def _normalise_frame(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """Return a copy of ``df`` with the standard region columns and validated values."""
    df = df.rename(columns=_PYRANGES_NAMES)
    missing = [c for c in ("chrom", "start", "end") if c not in df.columns]
    if missing:
        raise RegionError(
            f"{source}: regions need columns chrom, start, end (or Chromosome, Start, End); "
            f"missing {missing}"
        )
    out = pd.DataFrame(
        {
            "chrom": df["chrom"].astype(str).to_numpy(),
            "start": df["start"].to_numpy(),
            "end": df["end"].to_numpy(),
        }
    )
    for col in ("start", "end"):
        values = pd.to_numeric(out[col], errors="coerce")
        if values.isna().any() or (values != values.round()).any():
            row = int(values.isna().to_numpy().nonzero()[0][0]) if values.isna().any() else 0
            raise RegionError(f"{source}: region {row}: {col} must be an integer")
        huge = values.abs() > MAX_COORDINATE
        if huge.any():
            row = int(huge.to_numpy().nonzero()[0][0])
            raise RegionError(
                f"{source}: region {out['chrom'].iloc[row]}:{df['start'].iloc[row]}-"
                f"{df['end'].iloc[row]}: {col} {values.iloc[row]:.0f} is larger than any "
                f"position genozarr reads ({MAX_COORDINATE} = 2**32 - 1, the limit of BigWig "
                "and BAM files); check the coordinates")
        out[col] = values.astype(np.int64)
    for chrom in out["chrom"].unique():
        check_chrom_name(chrom, source)
    out["name"] = df["name"].astype(str).to_numpy() if "name" in df else "."
    out["score"] = (
        pd.to_numeric(df["score"], errors="coerce").to_numpy() if "score" in df else np.nan
    )
    if "strand" in df:
        strand = df["strand"].astype(str).replace({"1": "+", "-1": "-", "+1": "+", "0": "."})
        bad = ~strand.isin(["+", "-", "."])
        if bad.any():
            strand = strand.where(~bad, ".")
        out["strand"] = strand.to_numpy()
    else:
        out["strand"] = "."
    if (out["start"] < 0).any():
        row = out[out["start"] < 0].iloc[0]
        raise RegionError(f"{source}: region {row.chrom}:{row.start}-{row.end} has a negative start")
    if (out["start"] > out["end"]).any():
        row = out[out["start"] > out["end"]].iloc[0]
        raise RegionError(f"{source}: region {row.chrom}:{row.start}-{row.end} has start > end")
    return out


def load_regions(roi: RegionsLike, *, feature: str | None = None) -> pd.DataFrame:
    """Load regions of interest as a DataFrame with standard columns.

    Parameters
    ----------
    roi
        A BED file (optionally gzipped), a GFF/GTF file, a VCF/BCF file (one 1-bp region
        ``[pos - 1, pos)`` per record, as Janggu), a pandas DataFrame with columns
        ``chrom, start, end`` (optional ``name, score, strand``; pyranges-style
        ``Chromosome, Start, End, Strand`` also accepted), a pyranges object, a pybedtools
        ``BedTool`` (its file when it has one, else its intervals), a sequence of
        :class:`~genozarr.genome.Region`, pybedtools ``Interval`` or other objects with
        ``chrom``, ``start``, ``end`` (optional ``strand``, ``name``), or a region string
        ``'chr1:1000-1100'`` or a list of them (see :func:`parse_region`).
    feature
        For GFF/GTF files, keep only this feature type (e.g. ``'gene'``).

    Returns
    -------
    pandas.DataFrame
        Columns ``chrom, start, end, name, score, strand`` with 0-based half-open
        coordinates.

    Raises
    ------
    RegionError
        For an empty region set, negative starts or start > end.
    """
    fn = getattr(roi, "fn", None)  # a pybedtools BedTool backed by a file
    if not isinstance(roi, (str, os.PathLike, pd.DataFrame)) and \
            isinstance(fn, (str, os.PathLike)) and os.path.isfile(fn):
        roi = fn
    if isinstance(roi, str) and not os.path.exists(roi) and _REGION_TEXT.match(roi.strip()):
        roi = [roi]  # 'chr1:1000-1100': one region
    if isinstance(roi, (str, os.PathLike)):
        path = Path(roi)
        source = str(path)
        lower = path.name.lower()
        if lower.endswith(_GFF_SUFFIXES):
            from genozarr.io.gff import read_gff

            df = read_gff(source, feature=feature)
        elif lower.endswith(_VCF_SUFFIXES):
            df = _read_vcf(source)
        else:
            from genozarr.io.bed import read_bed

            df = read_bed(source)
    elif isinstance(roi, pd.DataFrame):
        source, df = "regions DataFrame", roi
    elif hasattr(roi, "df") and hasattr(roi, "Chromosome"):  # pyranges.PyRanges
        source, df = "regions PyRanges", roi.df
    elif isinstance(roi, Iterable):
        source = "regions list" if isinstance(roi, (list, tuple)) else \
            f"regions {type(roi).__name__}"
        df = _frame_from_items(list(roi))
    else:
        raise ArgumentError(
            "roi must be a BED/GFF/VCF path, a region string, a DataFrame, PyRanges, BedTool "
            f"or a list of regions (Region, Interval, 'chrom:start-end'), got {type(roi)!r}"
        )
    out = _normalise_frame(df, source)
    if out.empty:
        raise RegionError(f"{source}: the regions of interest are empty")
    out.attrs["source"] = source
    return out


def _tile_one(start: int, end: int, binsize: int, stepsize: int, zero_padding: bool) -> tuple[np.ndarray, np.ndarray]:
    """Tile ``[start, end)`` into windows; vectorised per region."""
    length = end - start
    n_full = max(0, (length - binsize) // stepsize + 1) if length >= binsize else 0
    starts = start + stepsize * np.arange(n_full, dtype=np.int64)
    ends = starts + binsize
    if zero_padding:
        next_start = start + stepsize * n_full
        last_end = ends[-1] if n_full else start
        if next_start < end and last_end < end:
            starts = np.append(starts, next_start)
            ends = np.append(ends, end)
    return starts, ends


class GenomicIndexer:
    """Maps integer indices to genomic windows, as Janggu's ``GenomicIndexer``.

    Build it with :meth:`create_from_file` (regions of interest tiled into windows) or
    :meth:`create_from_genome` (every chromosome tiled). Windows are stored without
    flank; indexing returns the window widened by ``flank`` on both sides, so its start
    may be negative near a chromosome start (read as padding).

    Parameters
    ----------
    chrs, starts, ends, strands
        Per-window chromosome, start, end (exclusive) and strand ('+', '-', '.').
    binsize
        Window length in bp, or None when windows are the regions as given (variable).
    stepsize
        Step between window starts.
    flank
        Bases added on both sides of every window.
    zero_padding
        Whether partial windows at region ends were kept (padded with zeros on read).
    """

    def __init__(
        self,
        chrs: ArrayLike,
        starts: ArrayLike,
        ends: ArrayLike,
        strands: ArrayLike,
        binsize: int | None,
        stepsize: int | None,
        flank: int = 0,
        zero_padding: bool = True,
    ) -> None:
        self.chrs = np.asarray(chrs, dtype=object)
        self.starts = np.asarray(starts, dtype=np.int64)
        self.ends = np.asarray(ends, dtype=np.int64)
        self.strand = np.asarray(strands, dtype=object)
        self.binsize = binsize
        self.stepsize = stepsize
        self.flank = int(flank)
        self.zero_padding = zero_padding

    # ------------------------------------------------------------------ constructors
    @staticmethod
    def _check_args(binsize: Any, stepsize: Any, flank: Any) -> tuple[int | None, int | None, int]:
        flank_ = check_int("flank", flank, 0)
        return (check_int("binsize", binsize, 1), check_int("stepsize", stepsize, 1),
                flank_ or 0)

    @classmethod
    def create_from_file(
        cls,
        regions: RegionsLike,
        binsize: int | None,
        stepsize: int | None,
        flank: int = 0,
        zero_padding: bool = True,
        collapse: bool = False,
        random_state: int | np.random.Generator | np.random.RandomState | None = None,
        feature: str | None = None,
    ) -> GenomicIndexer:
        """Tile regions of interest into windows.

        Parameters
        ----------
        regions
            BED/GFF/VCF path, region string, DataFrame, PyRanges, BedTool or list of
            regions (see :func:`load_regions`).
        binsize
            Window length. None uses each region as one window (as Janggu): the binsize
            is then the longest region's length, and shorter regions are zero-padded
            windows (with ``zero_padding=False`` they yield no window, as in Janggu); with
            ``collapse=True`` (one value per region) the binsize stays None.
        stepsize
            Step between window starts; defaults to ``binsize``.
        flank
            Bases added on both ends of every window.
        zero_padding
            Keep the last, partial window of a region (padded with zeros on read);
            False drops it. A region shorter than ``binsize`` then yields no window, and a
            tiling without any window gives an empty indexer (length 0), as in Janggu.
        collapse
            Windows will be summarised by one value, so variable lengths are allowed.
        random_state
            Seed (or generator) for a reproducible permutation of the window order.
        feature
            GFF/GTF feature type to keep.

        Returns
        -------
        GenomicIndexer

        Examples
        --------
        >>> import pandas as pd
        >>> roi = pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [250]})
        >>> gi = GenomicIndexer.create_from_file(roi, binsize=100, stepsize=100)
        >>> len(gi), gi[2]
        (3, Region(chrom='chr1', start=200, end=250, strand='.'))
        """
        binsize, stepsize, flank = cls._check_args(binsize, stepsize, flank)
        df = regions if isinstance(regions, pd.DataFrame) and "strand" in regions and \
            regions.attrs.get("source") else load_regions(regions, feature=feature)
        return cls._from_frame(df, binsize, stepsize, flank, zero_padding, collapse, random_state)

    @classmethod
    def _from_frame(
        cls, df: pd.DataFrame, binsize: int | None, stepsize: int | None, flank: int,
        zero_padding: bool, collapse: bool, random_state: Any,
    ) -> GenomicIndexer:
        lengths = (df["end"] - df["start"]).to_numpy()
        source = df.attrs.get("source", "regions")
        if binsize is None and collapse:
            # one window per region, summarised by one value: any lengths
            chrs, starts, ends, strands = (df["chrom"].to_numpy(), df["start"].to_numpy(),
                                           df["end"].to_numpy(), df["strand"].to_numpy())
            binsize_out = int(lengths[0]) if len(lengths) and len(np.unique(lengths)) == 1 \
                else None
        else:
            if binsize is None:
                # Janggu: the binsize is the longest region; every region is one window
                # (the shorter ones zero-padded, or dropped with zero_padding=False)
                binsize = int(lengths.max()) if len(lengths) else 0
                if binsize < 1:
                    raise RegionError(
                        f"{source}: every region has length 0; give regions with end > start "
                        "or a binsize")
            step = stepsize or binsize
            parts = [
                _tile_one(s, e, binsize, step, zero_padding)
                for s, e in zip(df["start"].to_numpy(), df["end"].to_numpy())
            ]
            counts = np.array([len(p[0]) for p in parts], dtype=np.int64)
            starts = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
            ends = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int64)
            chrs = np.repeat(df["chrom"].to_numpy(), counts)
            strands = np.repeat(df["strand"].to_numpy(), counts)
            stepsize, binsize_out = step, binsize
        gi = cls(chrs, starts, ends, strands, binsize_out, stepsize, flank, zero_padding)
        if len(gi) == 0:
            log.warning("%s: no window of binsize %s fits in the %d region(s) with "
                        "zero_padding=False: the indexer is empty", source, binsize, len(df))
        if random_state is not None:
            gi = gi[_permutation(len(gi), random_state)]
        return gi

    @classmethod
    def create_from_genome(
        cls,
        genomesize: GenomeLike,
        binsize: int,
        stepsize: int | None = None,
        flank: int = 0,
        zero_padding: bool = True,
        random_state: Any = None,
    ) -> GenomicIndexer:
        """Tile every chromosome of a genome (Janggu could not: its issue #32).

        Parameters
        ----------
        genomesize
            Chromosome sizes (dict or file, see :func:`genozarr.genome.chrom_sizes`).
        binsize, stepsize, flank, zero_padding, random_state
            As in :meth:`create_from_file`.

        Returns
        -------
        GenomicIndexer
        """
        if binsize is None:
            raise ArgumentError("tiling the whole genome (roi=None) needs a binsize")
        sizes = chrom_sizes(genomesize)
        for chrom in sizes:
            check_chrom_name(chrom, "genome")
        df = pd.DataFrame({"chrom": list(sizes), "start": 0, "end": list(sizes.values()),
                           "strand": "."})
        df.attrs["source"] = "genome"
        binsize, stepsize, flank = cls._check_args(binsize, stepsize, flank)
        return cls._from_frame(df, binsize, stepsize, flank, zero_padding, False, random_state)

    @classmethod
    def create_from_genomesize(cls, genomesize: GenomeLike) -> GenomicIndexer:
        """One window per chromosome, the whole chromosome (Janggu's
        ``create_from_genomesize``).

        Parameters
        ----------
        genomesize
            Chromosome sizes: a dict ``{chrom: length}`` or anything
            :func:`genozarr.genome.chrom_sizes` reads (``.chrom.sizes``, FASTA, BAM, BigWig).

        Returns
        -------
        GenomicIndexer
            Windows ``[0, length)``, strand ``'.'``, in the order of ``genomesize``;
            ``binsize`` and ``stepsize`` are None (the windows have the chromosomes'
            lengths), no flank, ``zero_padding=False``.

        Examples
        --------
        >>> gi = GenomicIndexer.create_from_genomesize({"chr1": 300, "chr2": 120})
        >>> gi.tostr()
        ['chr1:0-300', 'chr2:0-120']
        """
        sizes = chrom_sizes(genomesize)
        for chrom in sizes:
            check_chrom_name(chrom, "genome")
        return cls(list(sizes), np.zeros(len(sizes), dtype=np.int64), list(sizes.values()),
                   ["."] * len(sizes), None, None, 0, zero_padding=False)

    # ------------------------------------------------------------------ access
    def __len__(self) -> int:
        return len(self.chrs)

    def __repr__(self) -> str:
        return (f"GenomicIndexer(<{len(self)} windows>, binsize={self.binsize}, "
                f"stepsize={self.stepsize}, flank={self.flank})")

    def __getitem__(self, index: Any) -> Any:
        """An integer gives a :class:`Region` (flank included); a slice, list or array
        gives a new GenomicIndexer over those windows."""
        if isinstance(index, (int, np.integer)) and not isinstance(index, bool):
            i = int(index)
            if i < -len(self) or i >= len(self):
                raise IndexError(f"window {i} out of range for {len(self)} windows")
            return Region(self.chrs[i], self.starts[i] - self.flank, self.ends[i] + self.flank,
                          self.strand[i])
        idx = np.arange(len(self))[index]
        return GenomicIndexer(self.chrs[idx], self.starts[idx], self.ends[idx], self.strand[idx],
                              self.binsize, self.stepsize, self.flank, self.zero_padding)

    def __iter__(self):  # noqa: ANN204
        for i in range(len(self)):
            yield self[i]

    @property
    def lengths(self) -> np.ndarray:
        """Window lengths without flank."""
        return self.ends - self.starts

    def to_dataframe(self, flank: bool = False) -> pd.DataFrame:
        """Windows as a DataFrame ``chrom, start, end, strand`` (optionally with flank)."""
        f = self.flank if flank else 0
        return pd.DataFrame({"chrom": self.chrs.astype(str), "start": self.starts - f,
                             "end": self.ends + f, "strand": self.strand.astype(str)})

    def tostr(self) -> list[str]:
        """Windows as ``'chrom:start-end'`` strings (flank included, as Janggu)."""
        return [f"{r.chrom}:{r.start}-{r.end}" for r in self]

    def idx_by_region(self, include: str | Iterable[str] | None = None,
                      exclude: str | Iterable[str] | None = None,
                      start: int | None = None, end: int | None = None) -> np.ndarray:
        """Indices of windows on the included, not excluded chromosomes, overlapping
        ``[start, end)``.

        Parameters
        ----------
        include, exclude
            Chromosome name(s) to keep / drop; None keeps all.
        start, end
            Keep windows with ``end > start`` and ``start < end`` of the given bounds.

        Returns
        -------
        numpy.ndarray
            Sorted integer indices.
        """
        mask = np.ones(len(self), dtype=bool)
        if include is not None:
            mask &= np.isin(self.chrs.astype(str), [include] if isinstance(include, str) else list(include))
        if exclude is not None:
            mask &= ~np.isin(self.chrs.astype(str), [exclude] if isinstance(exclude, str) else list(exclude))
        if start is not None:
            mask &= self.ends > start
        if end is not None:
            mask &= self.starts < end
        return np.flatnonzero(mask)

    def filter_by_region(self, include: str | Iterable[str] | None = None,
                         exclude: str | Iterable[str] | None = None,
                         start: int | None = None, end: int | None = None) -> GenomicIndexer:
        """A new indexer with the windows selected by :meth:`idx_by_region`."""
        return self[self.idx_by_region(include, exclude, start, end)]

    def export_to_bed(self, filename: str | os.PathLike) -> None:
        """Write the windows (without flank) as a 6-column BED file.

        Parameters
        ----------
        filename
            Output path.
        """
        df = self.to_dataframe()
        df.insert(3, "name", ".")
        df.insert(4, "score", 0)
        df = df[["chrom", "start", "end", "name", "score", "strand"]]
        df.to_csv(filename, sep="\t", header=False, index=False)

    def as_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(chrom, start, end, strand)`` arrays of the windows with flank applied."""
        return self.chrs, self.starts - self.flank, self.ends + self.flank, self.strand


def _permutation(n: int, random_state: Any) -> np.ndarray:
    if isinstance(random_state, np.random.RandomState):
        return random_state.permutation(n)
    if isinstance(random_state, np.random.Generator):
        return random_state.permutation(n)
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        return np.random.default_rng(int(random_state)).permutation(n)
    raise ArgumentError(f"random_state must be an int or a numpy random generator, got {random_state!r}")


def check_gindexer_compatibility(gindexer: GenomicIndexer | None, resolution: int | None,
                                 store_whole_genome: bool) -> None:
    """Check that windows fit the resolution and layout of a dataset (Janggu's rules).

    With ``store_whole_genome=True`` and ``resolution > 1``, the values are stored in bins
    of ``resolution`` bases from each chromosome start, so every window (flank included)
    must start on a bin boundary and span whole bins: ``binsize`` and every window start
    minus the flank must be divisible by the resolution. Without the whole-genome layout
    the windows are stored as they are, and anything goes, but windows (a ``roi``) are
    then needed.

    Parameters
    ----------
    gindexer
        The windows, or None (no ``roi``).
    resolution
        Bases per stored bin, or None (one value per window).
    store_whole_genome
        Whether the dataset stores whole chromosomes.

    Raises
    ------
    ArgumentError
        When ``binsize`` is not a multiple of ``resolution``, or when there are no windows
        and ``store_whole_genome`` is False.
    RegionError
        Naming the first window whose start is not a multiple of ``resolution``, and
        pointing to ``genozarr trim`` (Janggu's ``janggu-trim``).

    Examples
    --------
    >>> gi = GenomicIndexer(["chr1"], [100], [300], ["+"], 200, 200)
    >>> check_gindexer_compatibility(gi, 50, store_whole_genome=True)  # passes
    >>> check_gindexer_compatibility(gi, 300, store_whole_genome=False)  # passes
    """
    if resolution is not None:
        resolution = check_int("resolution", resolution, 1)
    if resolution is not None and resolution > 1 and store_whole_genome and \
            gindexer is not None:
        if gindexer.binsize is not None and gindexer.binsize % resolution:
            raise ArgumentError(
                f"binsize must be an integer multiple of resolution. Got binsize="
                f"{gindexer.binsize} and resolution={resolution}")
        starts = gindexer.starts - gindexer.flank
        bad = np.flatnonzero(starts % resolution)
        if len(bad):
            i = int(bad[0])
            chrom, start, end = gindexer.chrs[i], int(starts[i]), \
                int(gindexer.ends[i] + gindexer.flank)
            raise RegionError(
                "Please ensure that all interval starts line up with the resolution-sized "
                "bins. This is necessary to prevent rounding issues. Interval "
                f"({chrom}:{start}-{end}) not compatible with resolution {resolution} "
                f"({len(bad)} of {len(gindexer)} windows are not). Consider using "
                f"'genozarr trim <input_roi> <trim_output> --resolution {resolution}' "
                "or genozarr.trim_regions")
    if not store_whole_genome and gindexer is None:
        raise ArgumentError("Either specify roi or store_whole_genome=True")


def trim_regions(regions: RegionsLike, resolution: int) -> pd.DataFrame:
    """Shrink regions so starts and ends are divisible by ``resolution`` (``janggu-trim``).

    Starts are rounded up and ends rounded down to the next multiple; regions that vanish
    are dropped.

    Parameters
    ----------
    regions
        Anything :func:`load_regions` accepts.
    resolution
        The resolution the starts and ends must be divisible by.

    Returns
    -------
    pandas.DataFrame
        The trimmed regions.

    Examples
    --------
    >>> import pandas as pd
    >>> trimmed = trim_regions(pd.DataFrame({"chrom": ["c"], "start": [3], "end": [120]}), 50)
    >>> trimmed[["start", "end"]].values.tolist()
    [[50, 100]]
    """
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) or resolution < 1:
        raise ArgumentError(f"resolution must be a positive integer, got {resolution!r}")
    df = load_regions(regions).copy()
    df["start"] = -(-df["start"] // resolution) * resolution
    df["end"] = (df["end"] // resolution) * resolution
    return df[df["end"] > df["start"]].reset_index(drop=True)


"""Regions of interest and the :class:`GenomicIndexer` that tiles them into windows.

Regions come from a BED file (3-12 columns, strand honoured), a GFF/GTF file (read with
pyranges, converted from 1-based closed to 0-based half-open, feature type selectable),
a pandas DataFrame, a pyranges object, or a list of :class:`~genozarr.genome.Region`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np
import pandas as pd

from genozarr.errors import ArgumentError, RegionError
from genozarr.genome import MAX_COORDINATE, GenomeLike, Region, check_chrom_name, chrom_sizes

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["RegionsLike", "load_regions", "GenomicIndexer", "trim_regions"]

RegionsLike = Union[str, os.PathLike, pd.DataFrame, Sequence[Region], Any]

REGION_COLUMNS = ["chrom", "start", "end", "name", "score", "strand"]
_GFF_SUFFIXES = (".gff", ".gff3", ".gtf", ".gff.gz", ".gff3.gz", ".gtf.gz")

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
        A BED file (optionally gzipped), a GFF/GTF file, a pandas DataFrame with columns
        ``chrom, start, end`` (optional ``name, score, strand``; pyranges-style
        ``Chromosome, Start, End, Strand`` also accepted), a pyranges object, or a
        sequence of :class:`~genozarr.genome.Region`.
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
    if isinstance(roi, (str, os.PathLike)):
        path = Path(roi)
        source = str(path)
        if path.name.lower().endswith(_GFF_SUFFIXES):
            from genozarr.io.gff import read_gff

            df = read_gff(source, feature=feature)
        else:
            from genozarr.io.bed import read_bed

            df = read_bed(source)
    elif isinstance(roi, pd.DataFrame):
        source, df = "regions DataFrame", roi
    elif hasattr(roi, "df") and hasattr(roi, "Chromosome"):  # pyranges.PyRanges
        source, df = "regions PyRanges", roi.df
    elif isinstance(roi, Iterable):
        items = list(roi)
        if items and not all(isinstance(r, Region) for r in items):
            raise ArgumentError("a list of regions must hold genozarr.Region objects")
        source = "regions list"
        df = pd.DataFrame(
            {"chrom": [r.chrom for r in items], "start": [r.start for r in items],
             "end": [r.end for r in items], "strand": [r.strand for r in items]}
        )
    else:
        raise ArgumentError(
            f"roi must be a BED/GFF path, DataFrame, PyRanges or list of Region, got {type(roi)!r}"
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
        def as_int(name: str, value: Any, minimum: int) -> int | None:
            if value is None:
                return None
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ArgumentError(f"{name} must be an integer, got {value!r}")
            if value < minimum:
                raise ArgumentError(f"{name} must be >= {minimum}, got {value}")
            return int(value)

        flank_ = as_int("flank", flank, 0)
        return as_int("binsize", binsize, 1), as_int("stepsize", stepsize, 1), flank_ or 0

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
            BED/GFF path, DataFrame, PyRanges or list of Region (see :func:`load_regions`).
        binsize
            Window length. None uses each region as one window; regions must then have
            equal lengths unless ``collapse=True`` (one value per region).
        stepsize
            Step between window starts; defaults to ``binsize``.
        flank
            Bases added on both ends of every window.
        zero_padding
            Keep the last, partial window of a region (padded with zeros on read);
            False drops it.
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
        if binsize is None:
            if not collapse and len(np.unique(lengths)) > 1:
                source = df.attrs.get("source", "regions")
                raise RegionError(
                    f"{source}: regions have different lengths ({lengths.min()}..{lengths.max()}); "
                    "give binsize to tile them, or resolution=None to summarise each region "
                    "by one value"
                )
            chrs, starts, ends, strands = (df["chrom"].to_numpy(), df["start"].to_numpy(),
                                           df["end"].to_numpy(), df["strand"].to_numpy())
            binsize_out = None if collapse and len(np.unique(lengths)) > 1 else int(lengths[0])
        else:
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
            raise RegionError(
                f"{df.attrs.get('source', 'regions')}: no window of binsize {binsize} fits in "
                "the regions (set zero_padding=True to keep shorter ones)"
            )
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


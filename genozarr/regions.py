"""Regions of interest and the :class:`GenomicIndexer` that tiles them into windows.

Regions come from a BED file (3-12 columns, strand honoured), a GFF/GTF file (read with
pyranges, converted from 1-based closed to 0-based half-open, feature type selectable),
a VCF/BCF file (one 1-bp region per record), a pandas DataFrame, a pyranges object, a
pybedtools ``BedTool`` (duck-typed: pybedtools is not needed), a list of
:class:`~genozarr.genome.Region`, of pybedtools ``Interval`` or of any objects with
``chrom``, ``start``, ``end`` (and optionally ``strand``), or region strings such as
``'chr1:1,000-1,100:+'`` (:func:`parse_region`).

Peak sets are usually centred and resized to one width before use:
:func:`resize_regions` (or a :class:`Resize` passed as ``roi=``, or the ``centre`` and
``width`` arguments of :func:`load_regions` and :meth:`GenomicIndexer.create_from_file`)
puts a window of ``width`` bases around each region's summit (narrowPeak column 10) or
midpoint. Region names (BED column 4, GFF ``gene_name``/``ID``..., VCF IDs) travel with
the windows (:attr:`GenomicIndexer.names`) into the stores (coordinate ``region_name``).
"""

from __future__ import annotations

import gzip
import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Union

import numpy as np
import pandas as pd

from genozarr._validate import check_bool, check_int, name_text, plain
from genozarr.errors import ArgumentError, RegionError, get_logger
from genozarr.genome import MAX_COORDINATE, GenomeLike, Region, check_chrom_name, chrom_sizes
from genozarr.io._remote import names_url
from genozarr.io.bed import _skipped as _bed_skipped

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["RegionsLike", "load_regions", "parse_region", "GenomicIndexer",
           "check_gindexer_compatibility", "trim_regions", "resize_regions", "Resize",
           "Centre"]

log = get_logger(__name__)

RegionsLike = Union[str, os.PathLike, pd.DataFrame, Sequence[Region], Any]
#: where :func:`resize_regions` centres a region: its narrowPeak summit or its midpoint
Centre = Literal["summit", "midpoint"]
_CENTRES = ("summit", "midpoint")
#: DataFrame columns read as the summit offset (0-based, from ``start``), as narrowPeak's
#: column 10; the first one present is used
_SUMMIT_COLUMNS = ("summit", "peak", "Summit", "Peak")

REGION_COLUMNS = ["chrom", "start", "end", "name", "score", "strand"]
_GFF_SUFFIXES = (".gff", ".gff3", ".gtf", ".gff.gz", ".gff3.gz", ".gtf.gz", ".gff.bgz",
                 ".gff3.bgz", ".gtf.bgz")
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


def _strand_values(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Strands as '+', '-' or '.' (1 / -1 / 0 and NaN as numbers; '*', '', None, NaN as
    '.'; bytes decoded), and where a value is none of these."""
    if raw.dtype.kind in "iuf":  # 1 / -1 / 0 (NaN: none), as numbers
        # (as float64: a nullable Int64 column's <NA> is NaN, and comparisons plain
        # booleans)
        numbers = pd.to_numeric(raw, errors="coerce").astype("float64")
        strand = pd.Series(np.select([numbers > 0, numbers < 0], ["+", "-"], "."),
                           index=raw.index)
        return strand, numbers.notna() & ~numbers.isin([1, -1, 0])

    def one(v: Any) -> Any:  # bytes decoded, numbers among other values by their sign
        if isinstance(v, bytes):
            return v.decode("utf-8", "replace")
        if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(
                v, (bool, np.bool_)) and v in (1, -1, 0):
            return {1: "+", -1: "-", 0: "."}[int(v)]
        return v

    # (a list, not Series.map, which reads a column of numbers and None as floats: '1.0')
    raw = pd.Series([one(v) for v in raw.astype(object)], index=raw.index, dtype=object)
    text = raw.where(raw.notna(), ".").astype(str).str.strip()
    strand = text.replace({"1": "+", "-1": "-", "+1": "+", "0": ".", "": ".",
                           "*": ".", "nan": ".", "None": "."})
    return strand, ~strand.isin(["+", "-", "."])


def _normalise_frame(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """Return a copy of ``df`` with the standard region columns and validated values."""
    both = [f"{old}/{new}" for old, new in _PYRANGES_NAMES.items()
            if old in df.columns and new in df.columns]
    if both:
        raise RegionError(f"{source}: columns {both} name the same field twice; keep one of "
                          "each pair")
    df = df.rename(columns=_PYRANGES_NAMES)
    missing = [c for c in ("chrom", "start", "end") if c not in df.columns]
    if missing:
        raise RegionError(
            f"{source}: regions need columns chrom, start, end (or Chromosome, Start, End); "
            f"missing {missing}"
        )
    gone = df["chrom"].isna().to_numpy()
    if gone.any():  # (read as a chromosome named 'None' or 'nan', served as zeros)
        row = int(gone.nonzero()[0][0])
        raise RegionError(f"{source}: region {row} has no chromosome "
                          f"({plain(df['chrom'].iloc[row])!r})")
    out = pd.DataFrame(
        {
            "chrom": df["chrom"].astype(str).to_numpy(),
            "start": df["start"].to_numpy(),
            "end": df["end"].to_numpy(),
        }
    )
    for col in ("start", "end"):
        values = pd.to_numeric(out[col], errors="coerce")
        flags = df[col].map(lambda v: isinstance(v, (bool, np.bool_))).to_numpy() \
            if df[col].dtype.kind in "bO" else np.zeros(len(df), bool)  # (True read as 1)
        bad = (values.isna() | (values != values.round())).to_numpy() | flags
        if bad.any():
            row = int(bad.nonzero()[0][0])  # the first bad row, missing or fractional
            raise RegionError(f"{source}: region {row}: {col} must be an integer, got "
                              f"{plain(df[col].iloc[row])!r}")
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
    # a missing name (None, NaN) is '.'; as objects first (a categorical column cannot take
    # a value that is not one of its categories)
    out["name"] = (df["name"].astype(object).where(df["name"].notna(), ".").astype(str)
                   .to_numpy() if "name" in df else ".")
    out["score"] = (
        pd.to_numeric(df["score"], errors="coerce").to_numpy() if "score" in df else np.nan
    )
    if "strand" in df:
        raw = df["strand"]
        strand, bad = _strand_values(raw)
        if bad.any():
            row = int(bad.to_numpy().nonzero()[0][0])
            raise RegionError(
                f"{source}: region {row} ({out['chrom'].iloc[row]}:{out['start'].iloc[row]}-"
                f"{out['end'].iloc[row]}) has strand {plain(raw.iloc[row])!r}; a strand is "
                "'+', '-' or '.' (or 1, -1, 0)")
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


def load_regions(roi: RegionsLike, *, feature: str | None = None,
                 centre: Centre | None = None, width: int | None = None,
                 genomesize: GenomeLike = None) -> pd.DataFrame:
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
        ``'chr1:1000-1100'`` or a list of them (see :func:`parse_region`); or a
        :class:`Resize` (regions centred and resized, see :func:`resize_regions`).
    feature
        For GFF/GTF files, keep only this feature type (e.g. ``'exon'``); None keeps the
        ``gene`` lines (and says so in an INFO log message), ``'*'`` every line (see
        :func:`genozarr.io.gff.read_gff`).
    centre, width
        Centre every region on its ``'summit'`` or ``'midpoint'`` and resize it to
        ``width`` bases (see :func:`resize_regions`); ``width`` alone centres on the
        midpoint. Not with a :class:`Resize` ``roi``.
    genomesize
        Chromosome sizes, used only with ``width``: windows pushed past a chromosome
        end are shifted back onto it (see :func:`resize_regions`).

    Returns
    -------
    pandas.DataFrame
        Columns ``chrom, start, end, name, score, strand`` with 0-based half-open
        coordinates; ``name`` is ``'.'`` where the input has none.

    Raises
    ------
    RegionError
        For an empty region set, negative starts or start > end.

    Examples
    --------
    >>> import pandas as pd
    >>> peaks = pd.DataFrame({"chrom": ["chr1"], "start": [100], "end": [300],
    ...                       "name": ["p1"], "summit": [50]})
    >>> load_regions(peaks, centre="summit", width=10)[["start", "end", "name"]].values.tolist()
    [[145, 155, 'p1']]
    """
    if isinstance(roi, Resize):
        if centre is not None or width is not None:
            raise ArgumentError(
                "roi is a Resize, which already has a width and centre: do not pass centre= "
                "or width= as well")
        return roi.load(feature=feature)
    if centre is not None or width is not None:
        if width is None:
            raise ArgumentError(f"centre={centre!r} needs a width (the resized length)")
        return resize_regions(roi, width, centre=centre or "midpoint", feature=feature,
                              genomesize=genomesize)
    if genomesize is not None:
        raise ArgumentError("genomesize is used only to resize regions: pass width= too")
    raw, source, _ = _read_regions(_pre_load(roi), feature)
    return _finish_frame(raw, source)


def _read_regions(roi: RegionsLike, feature: str | None
                  ) -> tuple[pd.DataFrame, str, str | None]:
    """The regions as read, before normalising: ``(frame, source, path or None)``."""
    if isinstance(roi, Mapping):  # columns by name, as a DataFrame takes them
        try:
            roi = pd.DataFrame(dict(roi))
        except ValueError as e:  # scalars only, columns of other lengths
            raise RegionError(f"regions given as a mapping of columns: {e}") from None
    if isinstance(roi, (str, os.PathLike)):
        path = Path(roi)
        source = roi if isinstance(roi, str) and "://" in roi else str(path)  # URLs as given
        lower = path.name.lower()
        if lower.endswith(_GFF_SUFFIXES):
            from genozarr.io.gff import read_gff

            return read_gff(source, feature=feature), source, None
        if lower.endswith(_VCF_SUFFIXES):
            return _read_vcf(source), source, None
        from genozarr.io.bed import read_bed

        return read_bed(source), source, source
    if isinstance(roi, pd.DataFrame):
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
    return df, source, None


def _finish_frame(df: pd.DataFrame, source: str) -> pd.DataFrame:
    out = _normalise_frame(df, source)
    if out.empty:
        raise RegionError(f"{source}: the regions of interest are empty")
    out.attrs["source"] = source
    return out


def _pre_load(roi: RegionsLike) -> RegionsLike:
    """A BedTool backed by a file as its path; a region string as a one-item list."""
    if isinstance(roi, bytes):  # a path (or a region text) as bytes: it was iterated
        roi = os.fsdecode(roi)  # byte by byte, as a list of regions
    fn = getattr(roi, "fn", None)  # a pybedtools BedTool backed by a file
    if not isinstance(roi, (str, os.PathLike, pd.DataFrame)) and \
            isinstance(fn, (str, os.PathLike)) and os.path.isfile(fn):
        roi = fn
    if isinstance(roi, str) and not os.path.exists(roi) and _REGION_TEXT.match(roi.strip()):
        roi = [roi]  # 'chr1:1000-1100': one region
    return roi


# ---------------------------------------------------------------------------- resizing
@names_url("bed")
def _bed_summits(path: str) -> np.ndarray:
    """narrowPeak column 10 (summit offset from the start) of every region line of a BED
    file, in the order :func:`genozarr.io.bed.read_bed` reads them; -1 where absent
    (lines of another number of columns, such as BED12, have none). A URL is read from
    its local copy, as ``read_bed`` reads it."""
    from genozarr.io._remote import localize

    path = localize(path, "bed")
    from genozarr.io._handles import is_gzip

    out: list[int] = []
    with (gzip.open(path, "rt", encoding="utf-8-sig", newline="") if is_gzip(path)
          else open(path, encoding="utf-8-sig", newline="")) as fh:
        for number, line in enumerate(fh, start=1):
            if _bed_skipped(line):
                continue
            # (trailing tabs, which read_bed reads as empty columns, are not a column 11)
            fields = line.rstrip().split("\t")
            # narrowPeak has 10 columns; BED12's column 10 is the block count, not a summit
            text = fields[9].strip() if len(fields) == 10 else ""
            if text in ("", "."):
                out.append(-1)
                continue
            try:
                out.append(int(text))
            except ValueError:
                from genozarr.errors import MalformedFileError

                raise MalformedFileError(
                    f"{path}: line {number}: the summit (narrowPeak column 10, an offset "
                    f"from the start) must be an integer, got {text!r}") from None
    return np.asarray(out, dtype=np.int64)


def _frame_summits(df: pd.DataFrame) -> np.ndarray | None:
    """Summit offsets of a DataFrame's ``summit``/``peak`` column (NaN -> -1), or None."""
    for col in _SUMMIT_COLUMNS:
        if col in df.columns:
            values = pd.to_numeric(df[col], errors="coerce")
            if ((values.notna()) & (values != values.round())).any():
                raise RegionError(f"regions DataFrame: column {col!r} (the summit offset from "
                                  "the start) must hold integers")
            return values.fillna(-1).to_numpy().astype(np.int64)
    return None


def resize_regions(roi: RegionsLike, width: int, centre: Centre = "midpoint", *,
                   genomesize: GenomeLike = None, feature: str | None = None
                   ) -> pd.DataFrame:
    """Centre regions on their summit or midpoint and give them one width.

    The way peak sets are prepared for sequence models (CREsted, gReLU, GenVarLoader):
    every region becomes ``[c - width // 2, c - width // 2 + width)`` around its centre
    ``c``. Pass the result as ``roi=`` of any ``create_from_*`` constructor (with
    ``binsize=width`` for one window per region), or pass a :class:`Resize` instead.

    Parameters
    ----------
    roi
        Anything :func:`load_regions` accepts: a BED or narrowPeak file, a DataFrame (a
        ``summit`` or ``peak`` column holds summit offsets), ...
    width
        Length of every resized region, in bases.
    centre
        ``'summit'``: ``c = start + summit``, with ``summit`` the 0-based offset from the
        start in narrowPeak column 10 (for a DataFrame: the column ``summit`` or
        ``peak``). A region without a summit (-1, ``.``, a missing column, a BED file with
        fewer than 10 columns, a GFF/VCF/list input) is centred on its midpoint instead,
        and an INFO message (a WARNING when no region has one) says how many.
        ``'midpoint'``: ``c = (start + end) // 2``.
    genomesize
        Chromosome sizes (anything :func:`genozarr.genome.chrom_sizes` reads). When
        given, a region pushed past its chromosome's end is shifted back to end there
        (as far as the chromosome is long); without it, the part past the end reads as
        padding, as for any region.
    feature
        GFF/GTF feature type, as in :func:`load_regions`.

    Returns
    -------
    pandas.DataFrame
        Regions as :func:`load_regions` returns them (names, scores and strands kept),
        every one ``width`` bases long, in the input order.

    Notes
    -----
    A region pushed before the chromosome start (``c - width // 2 < 0``) is **shifted**,
    not clipped: it becomes ``[0, width)``, so every region keeps the full width and holds
    real sequence, at the price of its centre moving off the middle. Clipping would give
    shorter regions that a fixed ``binsize`` then pads at the end, misplacing the summit
    anyway. The number of shifted regions is logged at INFO level.

    Raises
    ------
    ArgumentError
        For a width below 1 or another centre.
    RegionError
        For a summit offset below -1 or past the region's end.

    Examples
    --------
    >>> import pandas as pd
    >>> peaks = pd.DataFrame({"chrom": ["chr1", "chr1"], "start": [100, 20],
    ...                       "end": [301, 40], "name": ["a", "b"]})
    >>> resize_regions(peaks, 100)[["start", "end", "name"]].values.tolist()
    [[150, 250, 'a'], [0, 100, 'b']]
    """
    width_ = check_int("width", width, 1, allow_none=False)  # (None: a bare AssertionError)
    assert width_ is not None
    if centre not in _CENTRES:
        raise ArgumentError(f"centre must be 'summit' or 'midpoint', got {centre!r}")
    raw, source, path = _read_regions(_pre_load(roi), feature)
    df = _finish_frame(raw, source).copy()
    starts = df["start"].to_numpy(np.int64)
    ends = df["end"].to_numpy(np.int64)
    centres = (starts + ends) // 2
    if centre == "summit":
        summits = _bed_summits(path) if path is not None else _frame_summits(raw)
        if summits is None or len(summits) != len(df):
            summits = np.full(len(df), -1, dtype=np.int64)
        bad = (summits < -1) | ((summits >= 0) & (summits >= np.maximum(ends - starts, 1)))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise RegionError(
                f"{source}: region {df['chrom'].iloc[i]}:{starts[i]}-{ends[i]} has the summit "
                f"offset {summits[i]}, outside the region (narrowPeak column 10 is the summit's "
                "0-based offset from the start, or -1 for none)")
        has = summits >= 0
        centres = np.where(has, starts + summits, centres)
        if not has.all():
            level = logging.WARNING if not has.any() else logging.INFO
            log.log(level, "%s: %d of %d regions have no summit (narrowPeak column 10 "
                    "missing or -1) and are centred on their midpoint", source,
                    int((~has).sum()), len(df))
    new_starts = centres - width_ // 2
    if genomesize is not None:
        lengths = df["chrom"].map(chrom_sizes(genomesize)).to_numpy(dtype=float)
        known = ~np.isnan(lengths)
        over = known & (new_starts + width_ > np.where(known, lengths, 0))
        if over.any():
            log.info("%s: %d regions of width %d ran past their chromosome's end and were "
                     "shifted back onto it", source, int(over.sum()), width_)
            new_starts = np.where(over, np.where(known, lengths, 0).astype(np.int64) - width_,
                                  new_starts)
    before = new_starts < 0
    if before.any():
        log.info("%s: %d regions of width %d began before their chromosome's start and were "
                 "shifted to start at 0", source, int(before.sum()), width_)
        new_starts = np.maximum(new_starts, 0)
    df["start"] = new_starts.astype(np.int64)
    df["end"] = df["start"] + width_
    df.attrs["source"] = source
    df.attrs["resize"] = {"width": width_, "centre": centre}
    return df


@dataclass(frozen=True, eq=False)  # roi may be a DataFrame: compare by identity
class Resize:
    """Regions of interest to centre and resize when they are loaded: pass it as ``roi=``.

    ``Cover.create_from_bigwig(..., roi=Resize("peaks.narrowPeak", 500, "summit"),
    binsize=500)`` reads one 500-bp window around every summit. The dataset constructors
    load a ``roi`` with :func:`load_regions`, which calls :func:`resize_regions` for a
    ``Resize``.

    Parameters
    ----------
    roi
        Anything :func:`load_regions` accepts (not another ``Resize``).
    width
        Length of every region, in bases.
    centre
        ``'midpoint'`` (default) or ``'summit'`` (narrowPeak column 10).
    genomesize
        Chromosome sizes, to shift regions back from past a chromosome end.
    feature
        GFF/GTF feature type; the constructor's ``feature=`` is used when this is None.

    Examples
    --------
    >>> import pandas as pd
    >>> r = Resize(pd.DataFrame({"chrom": ["c"], "start": [10], "end": [20]}), 4)
    >>> r.load()[["start", "end"]].values.tolist()
    [[13, 17]]
    """

    roi: Any
    width: int
    centre: Centre = "midpoint"
    genomesize: Any = None
    feature: str | None = None

    def __post_init__(self) -> None:
        check_int("width", self.width, 1)
        if self.centre not in _CENTRES:
            raise ArgumentError(f"centre must be 'summit' or 'midpoint', got {self.centre!r}")
        if isinstance(self.roi, Resize):
            raise ArgumentError("a Resize of a Resize: resize the regions once")

    def load(self, feature: str | None = None) -> pd.DataFrame:
        """The resized regions (:func:`resize_regions`).

        Parameters
        ----------
        feature
            GFF/GTF feature type used when the ``Resize`` has none.

        Returns
        -------
        pandas.DataFrame
        """
        return resize_regions(self.roi, self.width, self.centre, genomesize=self.genomesize,
                              feature=self.feature if self.feature is not None else feature)


def _tile(starts: np.ndarray, ends: np.ndarray, binsize: int, stepsize: int,
          zero_padding: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tile every region ``[start, end)`` into windows of ``binsize`` every ``stepsize``
    bases, with a last, shorter window where the tiling stops short of the end
    (``zero_padding``): the windows' starts and ends, region after region, and the
    number of windows of each region (all at once: no loop over regions)."""
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    length = ends - starts
    n_full = np.where(length >= binsize, (length - binsize) // stepsize + 1, 0)
    counts = n_full.copy()
    if zero_padding:
        next_start = starts + stepsize * n_full
        last_end = np.where(n_full > 0, starts + stepsize * (n_full - 1) + binsize, starts)
        counts += (next_start < ends) & (last_end < ends)
    region = np.repeat(np.arange(len(starts)), counts)
    k = np.arange(len(region), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    win_starts = starts[region] + stepsize * k
    win_ends = np.where(k < n_full[region], win_starts + binsize, ends[region])
    return win_starts, win_ends, counts


def _coordinates(what: str, values: ArrayLike) -> np.ndarray:
    """``values`` as a 1-d int64 array of window coordinates: integers (numbers holding
    integers, as pandas gives columns with missing values, are taken), not bools or
    fractions (which ``astype`` truncated)."""
    try:
        raw = np.asarray(values)
        if raw.dtype.kind in "bUSV":
            raise TypeError
        # (a read-only int64 array is the caller's promise that nobody changes it: kept,
        # not copied; any other is copied, so that the indexer's stays its own)
        with np.errstate(invalid="ignore"):  # (NaN: refused below, with no warning)
            out = raw.astype(np.int64,
                             copy=raw.dtype != np.int64 or raw.flags.writeable).ravel()
        if raw.dtype.kind in "fO" and not np.array_equal(out, raw.astype(np.float64).ravel()):
            raise TypeError
        if raw.dtype.kind == "O" and any(isinstance(v, (bool, np.bool_)) for v in raw.flat):
            raise TypeError  # (True among numbers: 1, silently)
    except (TypeError, ValueError, OverflowError):
        raise ArgumentError(f"GenomicIndexer: {what} must hold integer coordinates, got "
                            f"{values!r}"[:300]) from None
    values = raw.ravel() if raw.dtype.kind == "u" else out  # (uint64 wraps in int64)
    far = values > MAX_COORDINATE
    if raw.dtype.kind != "u":
        far |= out < -MAX_COORDINATE  # (not np.abs: np.abs(-2**63) is negative)
    if far.any():
        bad = values[np.flatnonzero(far)[0]]
        raise ArgumentError(f"GenomicIndexer: {what} holds {int(bad)}, past +-{MAX_COORDINATE} "
                            "(2**32 - 1, the largest position BigWig and BED files hold)")
    return out


def _warn_left_out(df: pd.DataFrame, source: str, empty: np.ndarray) -> None:
    """Say that the regions of length 0 at rows ``empty`` of ``df`` give no window."""
    first = df.iloc[int(empty[0])]
    log.warning("%s: %d region(s) of length 0 (start == end, such as %s:%d) give no window "
                "and are left out: the windows do not line up one to one with the regions",
                source, len(empty), first["chrom"], int(first["start"]))


class GenomicIndexer:
    """Maps integer indices to genomic windows, as Janggu's ``GenomicIndexer``.

    Build it with :meth:`create_from_file` (regions of interest tiled into windows) or
    :meth:`create_from_genome` (every chromosome tiled). Windows are stored without
    flank; indexing returns the window widened by ``flank`` on both sides, so its start
    may be negative near a chromosome start (read as padding).

    Parameters
    ----------
    chrs, starts, ends, strands
        Per-window chromosome, start, end (exclusive) and strand ('+', '-', '.'). The
        indexer's arrays are read-only: it copies writable arrays, and takes read-only
        ones (int64 starts and ends, object chromosomes) as they are, so an array given
        read-only must not change afterwards, nor the array it is a view of.
    binsize
        Window length in bp, or None when windows are the regions as given (variable).
    stepsize
        Step between window starts.
    flank
        Bases added on both sides of every window.
    zero_padding
        Whether partial windows at region ends were kept (padded with zeros on read).
    names
        Optional per-window names (strings), or None. :meth:`create_from_file` takes them
        from the regions' names (BED column 4, ...): a region that gives one window passes
        its name on unchanged, one that gives several windows names them ``name/0``,
        ``name/1``, ... in genomic order; unnamed regions (``'.'``) give ``'.'``, and
        regions none of which has a name give ``names=None``. Stores built over the
        indexer hold them as the coordinate ``region_name`` (partial layout).
    """

    #: per-window names, or None (a class default too: indexers pickled before names
    #: existed unpickle without them)
    names: np.ndarray | None = None

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
        names: ArrayLike | None = None,
    ) -> None:
        # (the create_from_* constructors check these too; a direct call took flank=True
        # as 1, 2.5 as 2 and binsize='x' as it was)
        binsize, stepsize, flank = self._check_args(binsize, stepsize, flank)
        self.chrs = np.asarray(chrs, dtype=object).ravel()
        self.starts = _coordinates("starts", starts)
        self.ends = _coordinates("ends", ends)
        self.strand = np.asarray(strands, dtype=object).ravel()
        strand = self.strand
        #: (codes, labels) of the chromosomes and strands, found once (label_codes)
        self._codes: dict[str, tuple[np.ndarray, list[Any]]] = {}
        # the strands by their codes (strands come in long runs): comparing every window's
        # strand with each of '+', '-' and '.' took 0.3 s of an 8 M-window store's opening
        try:
            codes, labels = self.label_codes("strand")
            known = bool(len(codes) == 0 or codes.min() >= 0) and all(
                isinstance(v, str) and v in ("+", "-", ".") for v in labels)
        except TypeError:  # (pandas' NA has no truth value)
            known = False
        if not known:
            self._codes.pop("strand", None)
            # (-1, b'-', '*' or None were kept as given and read as '+'); numbers read as
            # numbers (1.0 / -1.0 / NaN), as the region readers read them
            raw = strands if isinstance(strands, pd.Series) else np.asarray(strands)
            raw = pd.Series(np.ravel(raw) if raw.dtype.kind in "iuf" else strand,
                            dtype=None if raw.dtype.kind in "iuf" else object)
            values, bad = _strand_values(raw)
            if bad.any():
                row = int(bad.to_numpy().nonzero()[0][0])
                raise ArgumentError(
                    f"GenomicIndexer: window {row} has strand {plain(self.strand[row])!r}; "
                    "a strand is '+', '-' or '.' (or 1, -1, 0)")
            self.strand = values.to_numpy(dtype=object)
        if not len(self.chrs) == len(self.starts) == len(self.ends) == len(self.strand):
            raise ArgumentError(
                f"GenomicIndexer: chrs, starts, ends and strands have {len(self.chrs)}, "
                f"{len(self.starts)}, {len(self.ends)} and {len(self.strand)} entries; "
                "give one of each per window")
        self.binsize = binsize
        self.stepsize = stepsize
        self.flank = flank
        self.zero_padding = check_bool("zero_padding", zero_padding)
        self.names = None
        if names is not None:
            # no copy for an object array (slicing an indexer passes its names on)
            self.names = np.asarray(names, dtype=object).ravel()
            if len(self.names) != len(self.chrs):
                raise ArgumentError(f"names has {len(self.names)} entries for "
                                    f"{len(self.chrs)} windows")
        # read-only (a caller's writable array copied, so that it stays the caller's): a
        # dataset derives its reads from its windows once, so a window edited in place
        # (gi.starts += 100) was served by some reads and not others; make a new indexer
        # (and assign it) instead. An indexer's own arrays (read-only) are not copied.
        for attr in ("chrs", "starts", "ends", "strand", "names"):
            values = getattr(self, attr)
            if values is not None:
                values = values.copy() if values.flags.writeable \
                    and attr in ("chrs", "strand", "names") else values.view()
                values.flags.writeable = False
                setattr(self, attr, values)

    def label_codes(self, attr: str) -> tuple[np.ndarray, list[Any]]:
        """Integer codes of the windows' chromosomes (``'chrs'``) or strands (``'strand'``)
        and the labels they index, in order of first appearance
        (:func:`genozarr._kernels.factorize_labels`); found once per indexer (its arrays
        are read-only).

        Parameters
        ----------
        attr
            ``'chrs'`` or ``'strand'``.

        Returns
        -------
        tuple
            ``(codes, labels)``: an integer array (-1 for a missing label) and a list.
        """
        from genozarr._kernels import factorize_labels

        if attr not in ("chrs", "strand"):
            raise ArgumentError(f"label_codes takes 'chrs' or 'strand', got {attr!r}")
        found = self.__dict__.setdefault("_codes", {})  # (an indexer made without __init__)
        hit = found.get(attr)
        if hit is None:
            codes, labels = factorize_labels(getattr(self, attr))
            codes.flags.writeable = False  # (shared by every caller)
            hit = found[attr] = (codes, labels)
        return hit

    def __getstate__(self) -> dict[str, Any]:
        # (the codes are found again where needed: a copy's arrays may be edited before)
        return {k: v for k, v in self.__dict__.items() if k != "_codes"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        for attr in ("chrs", "starts", "ends", "strand", "names"):  # read-only, as made
            values = getattr(self, attr, None)
            if isinstance(values, np.ndarray) and values.flags.writeable:
                values.flags.writeable = False

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
        *,
        centre: Centre | None = None,
        width: int | None = None,
        genomesize: GenomeLike = None,
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
            ``collapse=True`` (one value per region) the binsize is the regions' length
            where all have the same, else None.
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
            GFF/GTF feature type to keep (None: the ``gene`` lines; see
            :func:`load_regions`).
        centre, width, genomesize
            Centre the regions on their ``'summit'`` (narrowPeak column 10) or
            ``'midpoint'`` and resize them to ``width`` before tiling (see
            :func:`resize_regions`); ``binsize=width`` then gives one window per region.

        Returns
        -------
        GenomicIndexer
            With :attr:`names` from the regions' names, if they have any.

        Examples
        --------
        >>> import pandas as pd
        >>> roi = pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [250]})
        >>> gi = GenomicIndexer.create_from_file(roi, binsize=100, stepsize=100)
        >>> len(gi), gi[2]
        (3, Region(chrom='chr1', start=200, end=250, strand='.'))
        """
        binsize, stepsize, flank = cls._check_args(binsize, stepsize, flank)
        # every table is checked, one load_regions made too: pandas keeps a frame's attrs
        # through assign, copy and filtering, so an edited table looks like a loaded one
        df = load_regions(regions, feature=feature, centre=centre, width=width,
                          genomesize=genomesize)
        return cls._from_frame(df, binsize, stepsize, flank, zero_padding, collapse, random_state)

    @classmethod
    def create_from_region(
        cls, chrom: str, start: int, end: int, strand: str, binsize: int | None,
        stepsize: int | None, flank: int = 0, zero_padding: bool = True,
    ) -> GenomicIndexer:
        """Tile one region into windows, as Janggu's ``create_from_region``:
        :meth:`create_from_file` of that region.

        Parameters
        ----------
        chrom, start, end, strand
            The region (0-based, half-open; strand ``'+'``, ``'-'`` or ``'.'``).
        binsize, stepsize, flank, zero_padding
            As in :meth:`create_from_file`.

        Returns
        -------
        GenomicIndexer

        Examples
        --------
        >>> GenomicIndexer.create_from_region("chr1", 0, 250, "+", 100, 100).tostr()
        ['chr1:0-100', 'chr1:100-200', 'chr1:200-250']
        """
        region = pd.DataFrame({"chrom": [chrom], "start": [start], "end": [end],
                               "strand": [strand]})
        return cls.create_from_file(region, binsize, stepsize, flank, zero_padding)

    @classmethod
    def _from_frame(
        cls, df: pd.DataFrame, binsize: int | None, stepsize: int | None, flank: int,
        zero_padding: bool, collapse: bool, random_state: Any,
    ) -> GenomicIndexer:
        lengths = (df["end"] - df["start"]).to_numpy()
        source = df.attrs.get("source", "regions")
        region_names = _region_names(df)
        names = region_names
        if binsize is None and collapse:
            # one window per region, summarised by one value: any lengths but 0 (a region
            # of no bases gives no window, as without collapse, and in Janggu)
            keep = lengths > 0
            if not keep.all() and keep.any():
                _warn_left_out(df, source, np.flatnonzero(~keep))
            if len(keep) and not keep.any():
                raise RegionError(
                    f"{source}: every region has length 0; give regions with end > start")
            chrs, starts, ends, strands = (df["chrom"].to_numpy()[keep],
                                           df["start"].to_numpy()[keep],
                                           df["end"].to_numpy()[keep],
                                           df["strand"].to_numpy()[keep])
            kept_lengths = lengths[keep]
            binsize_out = int(kept_lengths[0]) if len(np.unique(kept_lengths)) == 1 else None
            names = None if region_names is None else np.asarray(region_names)[keep]
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
            starts, ends, counts = _tile(df["start"].to_numpy(), df["end"].to_numpy(),
                                         binsize, step, zero_padding)
            empty = np.flatnonzero((counts == 0) & (lengths == 0))
            if len(empty) and len(empty) < len(df):  # (all of them: said below)
                _warn_left_out(df, source, empty)
            chrs = np.repeat(df["chrom"].to_numpy(), counts)
            strands = np.repeat(df["strand"].to_numpy(), counts)
            stepsize, binsize_out = step, binsize
            names = None if region_names is None else _window_names(region_names, counts)
        gi = cls(chrs, starts, ends, strands, binsize_out, stepsize, flank, zero_padding,
                 names=names)
        if flank and len(gi) and int(gi.ends.max()) + flank > MAX_COORDINATE:
            # (each region's end is checked as read; a window's flank reaches further)
            k = int(np.argmax(gi.ends))
            raise RegionError(
                f"{source}: the window {gi.chrs[k]}:{gi.starts[k]}-{gi.ends[k]} with its flank "
                f"of {flank} ends at {int(gi.ends[k]) + flank}, past the largest position "
                f"genozarr reads ({MAX_COORDINATE} = 2**32 - 1, the limit of BigWig and BAM "
                "files): use a smaller flank, or leave that region out")
        if len(gi) == 0:
            why = "with zero_padding=False" if not zero_padding else \
                "(every region has length 0)"
            log.warning("%s: no window of binsize %s fits in the %d region(s) %s: the indexer "
                        "is empty", source, binsize, len(df), why)
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
    def create_from_genomesize(cls, genomesize: GenomeLike = None, *,
                               gsize: GenomeLike = None) -> GenomicIndexer:
        """One window per chromosome, the whole chromosome (Janggu's
        ``create_from_genomesize``).

        Parameters
        ----------
        genomesize
            Chromosome sizes: a dict ``{chrom: length}`` or anything
            :func:`genozarr.genome.chrom_sizes` reads (``.chrom.sizes``, FASTA, BAM, BigWig).
        gsize
            Janggu's name of ``genomesize`` (give one of the two).

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
        if (genomesize is None) == (gsize is None):
            raise ArgumentError("create_from_genomesize takes the chromosome sizes once: "
                                "genomesize (or Janggu's gsize)")
        sizes = chrom_sizes(genomesize if gsize is None else gsize)
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
        if isinstance(index, (bool, np.bool_)):
            raise IndexError("a window index must be an integer, a slice, a list or an array, "
                             f"not {index!r}")
        if isinstance(index, np.ndarray) and index.ndim == 0 and index.dtype.kind in "iu":
            index = int(index)  # (a 0-d array: an integer)
        if isinstance(index, (int, np.integer)):
            i = int(index)
            if i < -len(self) or i >= len(self):
                raise IndexError(f"window {i} out of range for {len(self)} windows")
            return Region(self.chrs[i], self.starts[i] - self.flank, self.ends[i] + self.flank,
                          self.strand[i])
        idx = np.arange(len(self))[index]
        return GenomicIndexer(self.chrs[idx], self.starts[idx], self.ends[idx], self.strand[idx],
                              self.binsize, self.stepsize, self.flank, self.zero_padding,
                              names=None if self.names is None else self.names[idx])

    def __iter__(self):  # noqa: ANN204
        for i in range(len(self)):
            yield self[i]

    @property
    def lengths(self) -> np.ndarray:
        """Window lengths without flank."""
        return self.ends - self.starts

    def to_dataframe(self, flank: bool = False) -> pd.DataFrame:
        """The windows as a table.

        Parameters
        ----------
        flank
            Include the flank in the starts and ends.

        Returns
        -------
        pandas.DataFrame
            Columns ``chrom``, ``start``, ``end``, ``strand``; a row per window, in order.
        """
        f = self.flank if flank else 0
        return pd.DataFrame({"chrom": self.chrs.astype(str), "start": self.starts - f,
                             "end": self.ends + f, "strand": self.strand.astype(str)})

    def tostr(self) -> list[str]:
        """The windows as ``'chrom:start-end'`` strings (flank included, as Janggu; a
        flank reaching before the chromosome start is cut at 0, as Janggu does, so
        :func:`parse_region` reads every string).

        Returns
        -------
        list of str
            One per window, in order.
        """
        return [f"{r.chrom}:{max(r.start, 0)}-{r.end}" for r in self]

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
            Keep windows that overlap ``[start, end)`` with their flank, as Janggu
            (``end + flank > start`` and ``start - flank < end``): the windows as
            ``self[i]`` gives them.

        Returns
        -------
        numpy.ndarray
            Sorted integer indices.
        """
        def names(value: Any) -> list[str]:
            # one name or a collection of them (a set too: only membership counts); a bytes
            # name decoded (list(b'chr1') was a list of integers, matching nothing)
            if isinstance(value, (str, bytes, np.str_, np.bytes_)):
                value = [value]
            if not hasattr(value, "__iter__") or isinstance(value, np.ndarray) \
                    and value.ndim == 0:
                raise ArgumentError(f"chromosomes to include or exclude must be a name or "
                                    f"a collection of names, got {value!r}")
            return [name_text(v) for v in value]

        mask = np.ones(len(self), dtype=bool)
        if include is not None:
            include = names(include)
        # an empty include is every chromosome, as in Janggu ("[] means all chromosomes")
        if include:
            mask &= np.isin(self.chrs.astype(str), include)
        if exclude is not None:
            mask &= ~np.isin(self.chrs.astype(str), names(exclude))
        if start is not None:
            mask &= self.ends + self.flank > start
        if end is not None:
            mask &= self.starts - self.flank < end
        return np.flatnonzero(mask)

    def filter_by_region(self, include: str | Iterable[str] | None = None,
                         exclude: str | Iterable[str] | None = None,
                         start: int | None = None, end: int | None = None) -> GenomicIndexer:
        """A new indexer with the windows selected by :meth:`idx_by_region`.

        Parameters
        ----------
        include, exclude, start, end
            As :meth:`idx_by_region`.

        Returns
        -------
        GenomicIndexer
        """
        return self[self.idx_by_region(include, exclude, start, end)]

    def export_to_bed(self, filename: str | os.PathLike) -> None:
        """Write the windows (without flank) as a 6-column BED file (names in column 4,
        ``'.'`` without :attr:`names`).

        Parameters
        ----------
        filename
            Output path.
        """
        df = self.to_dataframe()
        df.insert(3, "name", "." if self.names is None else self.names.astype(str))
        df.insert(4, "score", 0)
        df = df[["chrom", "start", "end", "name", "score", "strand"]]
        from genozarr.io.bed import write_bed

        write_bed(df, filename)

    def as_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The windows' coordinates with the flank applied.

        Returns
        -------
        tuple of numpy.ndarray
            ``(chrom, start, end, strand)``, one entry per window.
        """
        return self.chrs, self.starts - self.flank, self.ends + self.flank, self.strand


def _region_names(df: pd.DataFrame) -> np.ndarray | None:
    """The regions' names, or None when there is no name column or every name is '.'."""
    if "name" not in df.columns:
        return None
    names = df["name"].astype(str).to_numpy(dtype=object)
    if not len(names) or (names == ".").all():
        return None
    return names


def _window_names(names: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Per-window names: a region's name for its only window, ``name/k`` for window ``k``
    of a region tiled into several; unnamed regions ('.') stay '.'."""
    out = np.repeat(names, counts).astype(object)
    if not len(out):
        return out
    first = np.repeat(np.cumsum(counts) - counts, counts)
    k = np.arange(len(out)) - first
    several = np.repeat(counts > 1, counts) & (out != ".")
    out[several] = [f"{n}/{i}" for n, i in zip(out[several], k[several])]
    return out


def _permutation(n: int, random_state: Any) -> np.ndarray:
    if isinstance(random_state, np.random.RandomState):
        return random_state.permutation(n)
    if isinstance(random_state, np.random.Generator):
        return random_state.permutation(n)
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        seed = int(random_state)
        if 0 <= seed < 2**32:  # Janggu's order: sklearn's check_random_state(seed)
            return np.random.RandomState(seed).permutation(n)
        if seed < 0:
            raise ArgumentError(f"random_state must be a non-negative int or a numpy random "
                                f"generator, got {random_state!r}")
        return np.random.default_rng(seed).permutation(n)  # (RandomState refuses it)
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


"""Chromosome sizes, chromosome-name matching and the :class:`Region` type.

Coordinates are 0-based and half-open everywhere in genozarr; this module is the one
place where that convention is stated and checked. GFF's 1-based closed coordinates are
converted on read (``genozarr.io.gff``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Union

import numpy as np

from genozarr._validate import name_text
from genozarr.errors import (
    ArgumentError,
    ChromosomeNamingError,
    ChromosomeNotFoundError,
    MissingChromosomeWarning,
    MalformedFileError,
    RegionError,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Region",
    "GenomeLike",
    "chrom_sizes",
    "chrom_mapping",
    "match_chroms",
    "MissingChromosomeWarning",
    "toggle_chr",
    "chrom_twins",
    "check_chrom_name",
    "check_span",
    "MAX_COORDINATE",
    "MAX_NAME_BYTES",
]

#: largest start or end genozarr accepts (2**32 - 1: BigWig positions are 32-bit unsigned,
#: BAM positions 32-bit signed); larger coordinates are refused before anything is allocated
MAX_COORDINATE = 2**32 - 1
#: longest chromosome name, in UTF-8 bytes (a whole-genome store names a directory by it)
MAX_NAME_BYTES = 255
#: a window may run past a chromosome end by at most max(chromosome length, this) bases
MAX_PADDING = 2**20

GenomeLike = Union[Mapping[str, int], str, os.PathLike, None]
StrandLabel = Literal["+", "-", "."]


@dataclass(frozen=True)
class Region:
    """A genomic interval, 0-based half-open: ``[start, end)`` on ``chrom``.

    Parameters
    ----------
    chrom
        Chromosome name.
    start, end
        0-based start (inclusive) and end (exclusive); ``start <= end``. ``start`` may be
        negative only for windows widened by a flank (read as padding).
    strand
        '+', '-' or '.' (unstranded).
    """

    chrom: str
    start: int
    end: int
    strand: StrandLabel = "."

    def __post_init__(self) -> None:
        for what in ("start", "end"):
            value = getattr(self, what)
            raw = np.asarray(value) if not isinstance(value, (str, bytes, bool)) else None
            if raw is None or raw.ndim or raw.dtype.kind not in "iuf" \
                    or (raw.dtype.kind == "f" and not float(raw).is_integer()):
                # (int() truncated 2.5 to 2 and took True as 1 and '100' as 100)
                raise RegionError(f"region {self.chrom}: {what} must be an integer, got "
                                  f"{value!r}")
            object.__setattr__(self, what, int(raw))
        check_chrom_name(self.chrom, "region")
        if max(abs(self.start), abs(self.end)) > MAX_COORDINATE:
            raise RegionError(
                f"region {self.chrom}:{self.start}-{self.end}: coordinates must lie within "
                f"+-{MAX_COORDINATE} (2**32 - 1, the largest position BigWig and BED files "
                "can hold)")
        if self.end < self.start:
            raise RegionError(f"region {self.chrom}:{self.start}-{self.end} has start > end")
        if self.strand not in ("+", "-", "."):
            raise RegionError(
                f"region {self.chrom}:{self.start}-{self.end}: strand must be '+', '-' or '.', "
                f"got {self.strand!r}"
            )

    @property
    def length(self) -> int:
        """Length in bases, ``end - start``."""
        return self.end - self.start

    def __str__(self) -> str:
        return f"{self.chrom}:{self.start}-{self.end}({self.strand})"


def check_chrom_name(name: object, source: str) -> str:
    """Check that a chromosome name can be used: a string without NUL byte, at most
    255 bytes long.

    htslib and pyBigWig cut a name at a NUL byte (``'chr1\\x00x'`` would read ``chr1``),
    and a whole-genome store names a directory by the chromosome (file names have at most
    255 bytes).

    Parameters
    ----------
    name
        The chromosome name.
    source
        Where the name comes from (a file path, ``'regions DataFrame'``), for messages.

    Returns
    -------
    str
        The name.

    Raises
    ------
    RegionError
        For a name that is not a string, holds a NUL byte, or is over 255 bytes long.
    """
    if not isinstance(name, str):
        raise RegionError(f"{source}: chromosome names must be strings, got {name!r}")
    if "\x00" in name:
        raise RegionError(
            f"{source}: chromosome name {name!r} contains a NUL byte (\\x00); htslib and "
            "pyBigWig would cut the name there and could read another chromosome. Remove "
            "the NUL byte from the name")
    size = len(name.encode("utf-8", "surrogatepass"))
    if size > MAX_NAME_BYTES:
        raise RegionError(
            f"{source}: chromosome name {name[:40]!r}... is {size} bytes long; names may "
            f"have at most {MAX_NAME_BYTES} bytes (a whole-genome store names a directory by "
            "the chromosome). Rename the chromosome in the regions and the data")
    return name


def check_span(chrom: str, start: int, end: int, length: int, source: str) -> None:
    """Refuse a window that runs absurdly far past its chromosome, before it is allocated.

    Parts of a window outside ``[0, length)`` are read as padding, but only up to
    ``max(length, 2**20)`` bases on either side: a window further out is a coordinate
    error (another genome build, a typo), and would allocate its whole length as padding.

    Parameters
    ----------
    chrom
        Chromosome name.
    start, end
        The window, 0-based half-open.
    length
        Length of the chromosome.
    source
        The data file, for messages.

    Raises
    ------
    RegionError
        If the window reaches further than that past either chromosome end.
    """
    limit = max(int(length), MAX_PADDING)
    if end - length > limit or -start > limit:
        side = (f"ends {end - length} bases past the end" if end - length > limit
                else f"starts {-start} bases before the start")
        raise RegionError(
            f"{source}: region {chrom}:{start}-{end} {side} of {chrom} (length {length}); the "
            f"part outside the chromosome is padded, but by at most {limit} bases (the "
            "chromosome length or 1 Mb, whichever is larger). Check the coordinates (another "
            "genome build?) or clip the region to the chromosome")


def _starts_like_fasta(path: Path) -> bool:
    """Whether the file's text (after gzip/bgzip decompression) starts with ``>``, a FASTA
    header: no sizes table starts so."""
    from genozarr.io._handles import open_bytes

    try:
        with open_bytes(path) as f:
            return f.read(1) == b">"
    except (OSError, EOFError):  # unreadable or a damaged gzip stream: not recognised here
        return False


def _sizes_from_file(path: Path) -> dict[str, int]:
    """Read chromosome sizes from a path whose format is guessed from its name/content."""
    from genozarr.io._handles import check_input_file

    name = path.name.lower()
    check_input_file(path, "genome size source")
    if name.endswith((".bam", ".cram")):
        from genozarr.io.bam import bam_chrom_sizes

        return bam_chrom_sizes(str(path))
    if name.endswith((".bw", ".bigwig")):
        from genozarr.io.bigwig import bigwig_chrom_sizes

        return bigwig_chrom_sizes(str(path))
    if name.endswith((".fa", ".fasta", ".fna", ".fa.gz", ".fasta.gz", ".fna.gz")):
        from genozarr.io.fasta import fasta_chrom_sizes

        return fasta_chrom_sizes(str(path))
    from genozarr.io.twobit import is_twobit, twobit_chrom_sizes

    if is_twobit(path):  # the .2bit suffix or the 2bit magic number
        return twobit_chrom_sizes(str(path))
    if _starts_like_fasta(path):  # other names: .fa.bgz, .fas, .seq, none ...
        from genozarr.io.fasta import fasta_chrom_sizes

        return fasta_chrom_sizes(str(path))
    # .chrom.sizes, .genome, .fai: tab separated name, length (further columns ignored)
    import io

    import pandas as pd

    with open(path, "rb") as raw:
        data = raw.read()
    try:
        content = data.decode("utf-8-sig")  # (a byte-order mark left out)
    except UnicodeDecodeError as e:
        number = data.count(b"\n", 0, e.start) + 1
        raise MalformedFileError(f"{path}: line {number} is not UTF-8 text ({e.reason}): "
                                 "expected a chromosome sizes table") from None
    try:
        # comment lines start with '#'; a '#' inside a name is part of it (PanSN names,
        # 'sample#haplotype#contig'), so pandas' comment= (which cuts every line at its
        # first '#') is not used
        lines = [(number, line) for number, line
                 in enumerate(io.StringIO(content, newline=None), start=1)
                 if not line.startswith("#") and line.strip()]
        text = "".join(line for _, line in lines)
        # (no missing-value spellings: a chromosome named 'NA' or 'None' is a name)
        table = pd.read_csv(io.StringIO(text), sep="\t", header=None, usecols=[0, 1],
                            dtype={0: str, 1: str}, keep_default_na=False, na_filter=False)
    except pd.errors.EmptyDataError:
        raise MalformedFileError(f"{path}: chromosome sizes file is empty") from None
    except (ValueError, pd.errors.ParserError) as e:
        raise MalformedFileError(
            f"{path}: expected a chromosome sizes table (name<TAB>length per line): {e}"
        ) from e
    if table.empty:
        raise MalformedFileError(f"{path}: chromosome sizes file is empty")
    lengths = pd.to_numeric(table[1].astype(str).str.strip(), errors="coerce")
    # a whole number no larger than any position a BigWig or BAM file holds (a float
    # length or one past int64 was read as something else, silently)
    bad = lengths.isna() | (lengths < 0) | (lengths != lengths.round()) \
        | (lengths > MAX_COORDINATE)
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])  # (its line: comments and blanks counted)
        line = lines[row][0] if len(lines) == len(table) else row + 1
        raise MalformedFileError(
            f"{path}: line {line}: chromosome length must be a non-negative integer of at "
            f"most {MAX_COORDINATE}, got {table[1].iloc[row]!r}"
        )
    if table[0].duplicated().any():
        dup = table[0][table[0].duplicated()].iloc[0]
        raise MalformedFileError(f"{path}: chromosome {dup!r} is listed twice")
    return dict(zip(table[0].astype(str), lengths.astype(int)))


def chrom_sizes(source: GenomeLike) -> dict[str, int]:
    """Chromosome sizes from a dict, a ``.chrom.sizes``/``.fai`` file, FASTA, 2bit, BAM or
    BigWig.

    Parameters
    ----------
    source
        A mapping ``{chrom: length}``, or a path: ``.chrom.sizes``/``.genome``/``.fai``
        (tab separated), a FASTA (``.fa``, ``.fasta``, ``.fna``, optionally ``.gz``;
        indexed on demand), a UCSC 2bit genome (``.2bit``, or any name: recognised by its
        magic number), a BAM (header ``@SQ`` lines) or a BigWig (header). A path may be
        an ``http(s)://`` or ``s3://`` URL, read from its local copy (see
        :mod:`genozarr.io._remote`).

    Returns
    -------
    dict
        ``{chrom: length}`` in the order of the source.

    Examples
    --------
    >>> chrom_sizes({"chr1": 1000, "chr2": 500})
    {'chr1': 1000, 'chr2': 500}
    """
    if source is None:
        raise ArgumentError("a genome size source is required (dict or file path), got None")
    if isinstance(source, Mapping):
        sizes = {}
        for chrom, length in source.items():
            try:
                length_int = int(length)
            except (TypeError, ValueError) as e:
                raise ArgumentError(
                    f"chromosome {chrom!r}: length must be an integer, got {length!r}"
                ) from e
            if length_int < 0 or length_int != length or length_int > MAX_COORDINATE:
                raise ArgumentError(  # (as a file's: a longer one failed later, elsewhere)
                    f"chromosome {chrom!r}: length must be a non-negative integer of at most "
                    f"{MAX_COORDINATE}, got {length!r}")
            # (a bytes name decoded: its str is "b'chr1'", a chromosome of no file)
            sizes[name_text(chrom)] = length_int
        return sizes
    if not isinstance(source, (str, os.PathLike)):
        raise ArgumentError("a genome size source is a dict {chrom: length} or a file path "
                            f"(.chrom.sizes, .fai, FASTA, 2bit, BAM, BigWig), got {source!r}")
    from genozarr.io._remote import is_url, local_form, localize, naming

    source = local_form(source)
    if is_url(source):  # its local copy (fetched once)
        local = localize(source, "genome sizes")
        with naming(source, local):
            return _sizes_from_file(Path(local))
    return _sizes_from_file(Path(source))


def toggle_chr(name: str) -> str:
    """Return ``name`` with a leading ``chr`` removed, or added when absent.

    Parameters
    ----------
    name
        A chromosome name (``'chr1'``, ``'1'``, ``'chrM'``); the prefix is case sensitive.

    Returns
    -------
    str
        ``name`` without its first three characters if it starts with ``chr``, else
        ``'chr' + name``.

    Examples
    --------
    >>> toggle_chr("chr1"), toggle_chr("1"), toggle_chr("chrM")
    ('1', 'chr1', 'M')
    """
    return name[3:] if name.startswith("chr") else "chr" + name


#: the names the mitochondrial genome goes by (UCSC 'chrM', Ensembl/NCBI 'MT', ...)
_MITO = ("chrM", "MT", "chrMT", "M")


def chrom_twins(name: str) -> tuple[str, ...]:
    """The other names a chromosome goes by in other naming schemes, most likely first:
    the name with its ``chr`` prefix toggled, and for the mitochondrial genome its other
    names (``chrM`` / ``MT``).

    Parameters
    ----------
    name
        A chromosome name.

    Returns
    -------
    tuple of str
        :func:`toggle_chr` of ``name`` first; for a mitochondrial name (``chrM``, ``MT``,
        ``chrMT``, ``M``) followed by the others of these, ``name`` itself left out.

    Examples
    --------
    >>> chrom_twins("chr1"), chrom_twins("chrM")
    (('1',), ('M', 'MT', 'chrMT'))
    """
    twins = [toggle_chr(name)]
    if name in _MITO:
        twins += [m for m in _MITO if m != name and m not in twins]
    return tuple(twins)


def twin_of(name: str, present: Any) -> str | None:
    """The first of :func:`chrom_twins` of ``name`` that is in ``present``, or None."""
    return next((t for t in chrom_twins(name) if t in present), None)


def match_chroms(
    wanted: Iterable[str],
    available: Iterable[str],
    source: str,
    mapping: Mapping[str, str] | Literal["auto"] | None = None,
) -> tuple[dict[str, str], list[str]]:
    """Match region chromosome names to a data source's, tolerating absent chromosomes.

    As :func:`chrom_mapping`, except that a chromosome the source lacks (under its name,
    its ``mapping`` target and, with ``mapping='auto'``, its twin, :func:`chrom_twins`) is
    returned in a list instead of raising; it maps to its own (target) name. A naming
    mismatch (``chr1`` wanted, only ``1`` available, no mapping) is still an error.

    Parameters
    ----------
    wanted, available, source, mapping
        As in :func:`chrom_mapping`.

    Returns
    -------
    tuple
        ``({roi_name: data_name}, missing)``: the mapping for every wanted name, and the
        wanted names the source does not have, in the order of ``wanted``.

    Raises
    ------
    ChromosomeNamingError
        When names differ only by the ``chr`` prefix and no mapping was given.
    """
    if not (mapping is None or mapping == "auto" or isinstance(mapping, Mapping)):
        # (a spec's chrom_map: 50.0, [1, 2] or true passed where names matched anyway)
        raise ArgumentError(f"chrom_map must be None, 'auto' or a mapping {{region name: "
                            f"name in the file}}, got {mapping!r}")
    available = list(available)
    available_set = set(available)
    result: dict[str, str] = {}
    missing: list[str] = []
    twins: list[tuple[str, str, str]] = []
    for name in dict.fromkeys(wanted):
        if isinstance(mapping, Mapping) and name in mapping:
            target = str(mapping[name])
        else:
            target = name
        if target in available_set:
            result[name] = target
            continue
        twin = twin_of(target, available_set)
        if twin is not None:
            if mapping == "auto":
                result[name] = twin
                continue
            twins.append((name, target, twin))
        else:
            result[name] = target
            missing.append(name)
    mapped = [t for t in twins if isinstance(mapping, Mapping) and t[0] in mapping]
    if mapped:
        # the chrom_map dict itself names a chromosome the file lacks (an entry mapping a
        # name to itself too: "pass an explicit dict" told its author what they had done)
        listed = ", ".join(f"{a!r} -> {b!r}, but the file has {c!r}" for a, b, c in mapped[:5])
        raise ChromosomeNamingError(
            f"{source}: chrom_map maps region chromosomes to names the data does not have "
            f"({listed}{', ...' if len(mapped) > 5 else ''}); the file's chromosomes are "
            f"{_shown(available)}. Fix those chrom_map entries (or pass chrom_map='auto')."
        )
    if twins:
        listed = ", ".join(f"{a!r} vs {c!r}" for a, _, c in twins[:5])
        raise ChromosomeNamingError(
            f"{source}: chromosome names differ by a 'chr' prefix (or chrM/MT) between the "
            f"regions and the data ({listed}{', ...' if len(twins) > 5 else ''}). Rename one "
            "side, or pass "
            f"chrom_map='auto' (or an explicit dict) to match them."
        )
    return result, missing


def _shown(names: Iterable[str], most: int = 8) -> str:
    """Up to ``most`` names, sorted, for messages: ``['chr1', 'chr2', ...]``."""
    names = sorted(set(names))
    return f"{names[:most]}{' ...' if len(names) > most else ''}"


def chrom_mapping(
    wanted: Iterable[str],
    available: Iterable[str],
    source: str,
    mapping: Mapping[str, str] | Literal["auto"] | None = None,
) -> dict[str, str]:
    """Match the chromosome names of the regions to the names a data source uses.

    Parameters
    ----------
    wanted
        Chromosome names used by the regions of interest.
    available
        Chromosome names present in the data source (file header or genome).
    source
        Name of the data source (a file path) for error messages.
    mapping
        ``None`` (default): names must match exactly. ``'auto'``: where a name is
        missing but a twin (:func:`chrom_twins`: ``chr1`` / ``1``, ``chrM`` / ``MT``) exists, use it.
        A dict: explicit ``{roi_name: data_name}`` renames, other names must match.

    Returns
    -------
    dict
        ``{roi_name: data_name}`` for every wanted name.

    Raises
    ------
    ChromosomeNamingError
        When names differ only by the ``chr`` prefix and no mapping was given; the
        message lists the differing names and the fix.
    ChromosomeNotFoundError
        When a wanted chromosome is absent from the source.
    """
    available = list(available)
    result, missing = match_chroms(wanted, available, source, mapping)
    if missing:
        # name what was looked for: the region name and, where chrom_map renamed it, the
        # mapped name ('chr1' (chrom_map: 'chrI'))
        shown = ", ".join(repr(c) if result[c] == c else f"{c!r} (chrom_map: {result[c]!r})"
                          for c in missing[:5])
        raise ChromosomeNotFoundError(
            f"{source}: chromosome(s) [{shown}{', ...' if len(missing) > 5 else ''}] not "
            f"found; the source has {_shown(available)}"
        )
    return result


def check_within(regions: pd.DataFrame, sizes: Mapping[str, int],
                 source: str | Mapping[str, str]) -> None:
    """Raise if a region starts past the end of its chromosome, or ends absurdly far past
    it (ends past it are padded, by at most the chromosome length or 1 Mb, whichever is
    larger: see :func:`check_span`).

    Parameters
    ----------
    regions
        DataFrame with ``chrom``, ``start``, ``end`` columns.
    sizes
        Chromosome lengths.
    source
        Name used in the error message: where the lengths come from (a mapping: per
        chromosome).
    """
    lengths = regions["chrom"].map(sizes)
    bad = regions["start"] >= lengths
    if bad.any():
        row = regions[bad].iloc[0]
        where = source if isinstance(source, str) else source[row["chrom"]]
        raise RegionError(
            f"{where}: region {row['chrom']}:{row['start']}-{row['end']} starts past the end "
            f"of {row['chrom']} (length {sizes[row['chrom']]})"
        )
    limit = np.maximum(lengths, MAX_PADDING)
    bad = (regions["end"] - lengths) > limit
    if bad.any():
        row = regions[bad].iloc[0]
        check_span(row["chrom"], int(row["start"]), int(row["end"]), int(sizes[row["chrom"]]),
                   source if isinstance(source, str) else source[row["chrom"]])

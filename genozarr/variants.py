"""Variant effect prediction: reference and alternative one-hot windows around the
variants of a VCF/BCF file, a model's scores of both as a store, and exports.

- :class:`VariantStreamer` (Janggu's name, arguments and output) reads a VCF/BCF file
  with :class:`pysam.VariantFile` and yields, per batch, the variants' names, chromosomes,
  0-based positions, reference and alternative alleles and the reference and alternative
  one-hot windows ``(batch, binsize - order + 1, 1, 4**order)``.
- :func:`score_variants` runs a model (any ``predict(batch) -> (batch, n_conditions)``
  function) on both windows and writes ``ref``, ``alt``, ``diff`` and ``logfc`` over the
  dimensions ``(variant, condition)`` to a zarr v3 store that plain
  ``xarray.open_zarr(path)`` opens.
- :func:`export_to_vcf` and :func:`export_to_bed` write those scores as VCF INFO fields or
  BED columns.

Window placement (Janggu's): the first base of the variant (its VCF ``POS``) sits at the
0-based offset ``(binsize - 1) // 2`` of the window, i.e. ``binsize // 2 - 1`` for an even
``binsize`` and ``binsize // 2`` (the centre) for an odd one; :func:`variant_offset` gives
it. A minus-strand window (from ``annotation``) is the reverse complement of that window,
so there the variant sits at ``binsize - 1 - variant_offset(binsize)``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from genozarr._validate import check_bool, check_int, name_list
from genozarr.errors import (
    ArgumentError,
    GenozarrError,
    InputFileError,
    MalformedFileError,
    MissingIndexError,
    MissingStoreError,
    SkippedVariantsWarning,
    StaleIndexError,
    StoreError,
    get_logger,
    hide_secrets,
    warn,
)

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "VariantBatch",
    "VariantStreamer",
    "export_to_bed",
    "export_to_vcf",
    "open_results",
    "score_variants",
    "variant_offset",
]

logger = get_logger(__name__)

#: reasons a variant (an ALT allele) is skipped; all but ``NOT_SNV`` are warned about
SYMBOLIC = "symbolic ALT"
MISSING = "missing ALT"
CONTIG = "contig not in genome"
NON_ACGT = "non-ACGT allele"
OUTSIDE = "window outside the chromosome"
MISMATCH = "reference mismatch"
NOT_SNV = "not a biallelic SNV (snv_only=True)"
_REASON_ORDER = (SYMBOLIC, MISSING, CONTIG, NON_ACGT, OUTSIDE, MISMATCH)

_ACGT = re.compile(r"[ACGT]+")
_BASE_CODE = {"A": 0, "C": 1, "G": 2, "T": 3}
#: ALT alleles that stand for "no allele": VCF's missing value and the spanning deletion
_MISSING_ALLELES = frozenset({".", "*"})
#: the variables :func:`score_variants` writes, in order
VARIABLES = ("ref", "alt", "diff", "logfc")
#: the per-variant coordinates :func:`score_variants` writes, in order
COORDINATES = ("variant_chrom", "variant_pos", "variant_id", "variant_ref", "variant_alt",
               "variant_strand", "variant_allele")


def _symbolic(alt: str) -> bool:
    """Whether an ALT allele is symbolic (``<DEL>``) or a breakend (``N[chr2:10[``)."""
    return alt[:1] == "<" or "[" in alt or "]" in alt


def _not_a_sequence(alt: str) -> bool:
    """Whether an ALT allele is missing, symbolic or a breakend."""
    return alt in _MISSING_ALLELES or _symbolic(alt)


def variant_offset(binsize: int) -> int:
    """0-based offset, in a window of ``binsize`` bases, of a variant's first base.

    Janggu's placement: ``binsize // 2 - 1`` for an even ``binsize`` (the last base of the
    left half) and ``binsize // 2`` for an odd one (the centre); both are
    ``(binsize - 1) // 2``.

    Parameters
    ----------
    binsize
        Window length in bases, >= 1.

    Returns
    -------
    int
        ``(binsize - 1) // 2``.

    Raises
    ------
    ArgumentError
        For a ``binsize`` that is not an integer >= 1.

    Examples
    --------
    >>> variant_offset(10), variant_offset(11), variant_offset(1)
    (4, 5, 0)
    """
    binsize = check_int("binsize", binsize, 1, allow_none=False)
    return (binsize - 1) // 2


# ---------------------------------------------------------------------- file checks
def check_vcf_compression(path: str, name: str | None = None) -> None:
    """Refuse a VCF compressed with plain gzip (htslib reads bgzip only), with the
    command that recompresses it. ``name``: the file (or URL) named in the message."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(18)
    except OSError:  # unreadable: pysam's open says why
        return
    # gzip magic; BGZF is gzip with FLG.FEXTRA and a 'BC' extra subfield
    if head[:2] == b"\x1f\x8b" and not (head[3:4] == b"\x04" and head[12:14] == b"BC"):
        plain = path.removesuffix(".gz")
        raise InputFileError(
            f"{name or path} is compressed with plain gzip, not bgzip (block gzip, which "
            "htslib needs to read a VCF); recompress it with bgzip: "
            f"'gunzip {path} && bgzip {plain}' (then 'tabix -p vcf {plain}.gz' to index it)")


#: the index each pysam reader loads where a file has both: ``TabixFile`` the ``.tbi``,
#: ``VariantFile`` the ``.csi``
TABIX_INDEXES = (".tbi", ".csi")
VARIANTFILE_INDEXES = (".csi", ".tbi")


def check_vcf_index(path: str, name: str | None = None,
                    order: tuple[str, ...] = VARIANTFILE_INDEXES) -> None:
    """Raise :class:`~genozarr.errors.StaleIndexError` where the index htslib loads for
    the VCF/BCF file ``path`` (the first of ``order`` next to it: :data:`TABIX_INDEXES`
    for a ``TabixFile``, :data:`VARIANTFILE_INDEXES` for a ``VariantFile``) is older than
    the file: htslib only warns and then misses records or fails to read them. A few
    ``stat`` calls; run once per file open."""
    try:
        data_ns = os.stat(path).st_mtime_ns
    except OSError:
        return
    for ext in order:
        index = path + ext
        try:
            index_ns = os.stat(index).st_mtime_ns
        except OSError:
            continue
        from genozarr.io._handles import mtime_text, older_file

        if not older_file(index_ns, data_ns):
            return  # the one htslib loads (another one next to it is not read)
        import gzip

        try:
            with gzip.open(path, "rb") as fh:
                bcf = fh.read(3) == b"BCF"
        except (OSError, EOFError):
            bcf = False
        kind = "BCF" if bcf else "VCF"
        csi = ext == ".csi"
        fix = (f"'bcftools index {path}'" if bcf else
               f"'tabix -p vcf{' -C' if csi else ''} {path}' or pysam.tabix_index("
               f"{path!r}, preset='vcf', force=True{', csi=True' if csi else ''})")
        raise StaleIndexError(
            f"the index {index} is older than its {kind} file {name or path} (index written "
            f"{mtime_text(index_ns)}, {kind} {mtime_text(data_ns)}): the file was rewritten "
            "after it was indexed, so the index points at the wrong records (htslib only "
            f"warns, then misses records or fails to read them); rebuild it with {fix}")


def read_checked(items: Iterable[Any], name: str, where: Callable[[Any], str],
                 batch: int = 4096) -> Iterator[Any]:
    """``items`` (records or lines read by pysam/htslib), with a read error turned into a
    :class:`~genozarr.errors.MalformedFileError` naming the file ``name``, the last
    record read before it (``where(item)`` gives its ``contig:POS``) and htslib's reason.

    Items are read in batches of ``batch``, each with htslib's stderr captured (its
    reason for a failure is printed there only), and handed on through
    :func:`itertools.chain`: nothing is done per item in Python."""
    from itertools import chain

    return chain.from_iterable(_checked_batches(iter(items), name, where, batch))


def _checked_batches(it: Iterator[Any], name: str, where: Callable[[Any], str],
                     batch: int) -> Iterator[list[Any]]:
    from itertools import islice

    from genozarr.io._handles import captured_stderr

    last = None
    while True:
        chunk: list[Any] = []
        try:
            with captured_stderr() as err:
                chunk.extend(islice(it, batch))
        except GenozarrError:
            raise
        except (OSError, ValueError) as e:
            raise read_error(name, chunk[-1] if chunk else last, where, e,
                             err.reason(str(e) or type(e).__name__)) from e
        if not chunk:
            return
        last = chunk[-1]
        yield chunk
        if len(chunk) < batch:
            return


def read_error(name: str, last: Any, where: Callable[[Any], str], error: Exception,
               reason: str | None = None) -> MalformedFileError:
    """The error for a record of ``name`` that pysam/htslib cannot read: it names the file,
    the record read before it (``where(last)``; None: the first) and the reason."""
    after = f"the record after {where(last)}" if last is not None else "its first record"
    why = reason or str(error) or type(error).__name__
    return MalformedFileError(f"{name}: cannot read {after}: {why}")


def _record_at(rec: Any) -> str:
    return f"{rec.chrom}:{rec.pos}"


@dataclass(eq=False)
class VariantBatch:
    """One batch of :class:`VariantStreamer`: one row per ALT allele.

    Iterating (unpacking) gives Janggu's seven items in Janggu's order::

        names, chroms, positions, ref_alleles, alt_alleles, ref, alt = batch

    ``strands`` and ``allele_index`` are extra attributes.

    Parameters
    ----------
    names
        VCF ``ID`` per variant.
    chroms
        Chromosome names as written in the VCF.
    positions
        0-based positions, int64, shape ``(n,)``.
    ref_alleles, alt_alleles
        REF and ALT alleles.
    ref, alt
        One-hot windows, shape ``(n, binsize - order + 1, 1, 4**order)``.
    strands
        ``'+'`` or ``'-'`` per variant, shape ``(n,)``.
    allele_index
        1-based index of the ALT allele in its record, shape ``(n,)``.

    Attributes
    ----------
    names
        The VCF ``ID`` of each variant, ``''`` where it has none.
    chroms
        Chromosome names as written in the VCF.
    positions
        0-based positions (VCF ``POS - 1``), int64.
    ref_alleles, alt_alleles
        The REF and ALT alleles, upper case.
    ref, alt
        One-hot windows ``(n, binsize - order + 1, 1, 4**order)``.
    strands
        ``'+'`` or ``'-'`` per variant: the strand the windows are read on.
    allele_index
        1-based index of the ALT allele in its VCF record (2 for the second ALT of a
        multi-allelic record).
    """

    names: list[str]
    chroms: list[str]
    positions: np.ndarray
    ref_alleles: list[str]
    alt_alleles: list[str]
    ref: np.ndarray
    alt: np.ndarray
    strands: np.ndarray = field(repr=False)
    allele_index: np.ndarray = field(repr=False)

    def __iter__(self) -> Iterator[Any]:
        return iter((self.names, self.chroms, self.positions, self.ref_alleles,
                     self.alt_alleles, self.ref, self.alt))

    def __eq__(self, other: object) -> bool:
        # field by field, arrays by value and shape (the dataclass's own comparison of
        # tuples of arrays raised "truth value of an array ... is ambiguous")
        if not isinstance(other, VariantBatch):
            return NotImplemented
        return all(
            np.array_equal(x, y) if isinstance(x, np.ndarray) or isinstance(y, np.ndarray)
            else x == y
            for x, y in ((getattr(self, f.name), getattr(other, f.name)) for f in fields(self)))

    __hash__ = None  # type: ignore[assignment]  # (mutable, compared by value)


@dataclass
class _Part:
    """Variants whose windows are read but not yet one-hot encoded (codes ``(n, binsize)``)."""

    names: list[str]
    chroms: list[str]
    positions: np.ndarray
    refs: list[str]
    alts: list[str]
    minus: np.ndarray
    allele: np.ndarray
    ref_codes: np.ndarray
    alt_codes: np.ndarray

    def __len__(self) -> int:
        return len(self.names)

    @classmethod
    def concat(cls, parts: Sequence[_Part]) -> _Part:
        if len(parts) == 1:
            return parts[0]
        return cls(
            names=[x for p in parts for x in p.names],
            chroms=[x for p in parts for x in p.chroms],
            positions=np.concatenate([p.positions for p in parts]),
            refs=[x for p in parts for x in p.refs],
            alts=[x for p in parts for x in p.alts],
            minus=np.concatenate([p.minus for p in parts]),
            allele=np.concatenate([p.allele for p in parts]),
            ref_codes=np.concatenate([p.ref_codes for p in parts]),
            alt_codes=np.concatenate([p.alt_codes for p in parts]),
        )

    def take(self, sel: Any) -> _Part:
        """The rows ``sel`` (a slice or a boolean/integer index)."""
        if isinstance(sel, slice):
            pick: Callable[[list[str]], list[str]] = lambda xs: xs[sel]  # noqa: E731
        else:
            index = np.flatnonzero(sel) if np.asarray(sel).dtype == bool else np.asarray(sel)
            pick = lambda xs: [xs[i] for i in index]  # noqa: E731
        return _Part(pick(self.names), pick(self.chroms), self.positions[sel],
                     pick(self.refs), pick(self.alts), self.minus[sel], self.allele[sel],
                     self.ref_codes[sel], self.alt_codes[sel])


class _Candidates:
    """ALT alleles that passed the record-level checks, gathered for one block."""

    __slots__ = ("names", "chroms", "gchroms", "pos0", "refs", "alts", "allele")

    def __init__(self, rows: list[tuple[str, str, str, int, str, str, int]]) -> None:
        (self.names, self.chroms, self.gchroms, self.pos0, self.refs, self.alts,
         self.allele) = (list(col) for col in zip(*rows))

    def __len__(self) -> int:
        return len(self.pos0)


class VariantStreamer:
    """Reference and alternative one-hot windows around the variants of a VCF/BCF file.

    Janggu's ``VariantStreamer`` with its arguments and output, plus indels and
    multi-allelic records. Iterating (or :meth:`flow`, Janggu's name) yields one
    :class:`VariantBatch` per ``batch_size`` ALT alleles, in file order; it unpacks as
    Janggu's tuple ``names, chroms, positions, ref_alleles, alt_alleles, ref, alt``.

    Parameters
    ----------
    bioseq
        The reference genome: a :class:`~genozarr.dataset.Bioseq` built with
        ``store_whole_genome=True`` (DNA), or a FASTA path (indexed on demand) or a UCSC
        2bit path (or their URLs).
    variants
        VCF (plain or bgzip) or BCF file.
    binsize
        Window length in bases, as the model expects it (``binsize >= order``).
    batch_size
        ALT alleles per batch; the last batch may be shorter (no empty batch is yielded).
    annotation
        Optional features with strands (BED or GFF/GTF path, or a DataFrame, anything
        :func:`~genozarr.regions.load_regions` reads). A variant whose REF span overlaps a
        minus-strand feature gets reverse-complemented windows (as Janggu); all others,
        and every variant without ``annotation``, are read on the plus strand. Of a
        GFF/GTF file every feature line counts (see ``annotation_feature``).
    ignore_reference_match
        False (default, Janggu's rule): a variant whose REF allele differs from the genome
        is skipped. True: it is kept, and the REF allele of the VCF replaces the genome's
        bases in the reference window (as Janggu does).
    order
        k-mer order of the one-hot encoding; ``4**order`` channels and ``binsize - order +
        1`` positions per window. Every k-mer overlapping the variant is updated. Default:
        the ``Bioseq``'s order (Janggu takes it from the ``Bioseq``), 1 for a FASTA path.
    snv_only
        True keeps Janggu's rule: only records with one ALT allele, REF and ALT single bases,
        are used; others are skipped (counted in :attr:`skipped`, not warned about).
        False (default): indels and every ALT allele of multi-allelic records too.
    regions
        Optional regions (BED path, DataFrame, list of :class:`~genozarr.genome.Region`;
        VCF chromosome names, or the genome's where ``chrom_map`` maps them): only
        variants whose ``POS`` lies in them are read, through the file's index (bgzip +
        tabix ``.tbi``/``.csi``, or BCF + ``.csi``). A region on a contig the file does
        not have reads nothing, with a :class:`~genozarr.errors.SkippedVariantsWarning`.
    chrom_map
        How VCF chromosome names map to the genome's: None (exact), ``'auto'`` (``1`` and
        ``chr1`` match each other when only one exists) or a dict ``{vcf_name:
        genome_name}``.
    dtype
        dtype of the one-hot windows.
    annotation_feature
        The GFF/GTF feature type of ``annotation`` whose strands count (e.g. ``'gene'``,
        ``'exon'``); ``'*'`` (default, as Janggu read the file) every line, so a variant
        in a minus-strand exon of a file with exon lines only, or without a gene line, is
        minus-strand too. Ignored for BED files and DataFrames.

    Notes
    -----
    **Placement.** The variant's first base (``POS``) sits at offset
    :func:`variant_offset` ``(binsize)`` of the window, ``[POS - 1 - offset, POS - 1 -
    offset + binsize)`` in 0-based genome coordinates, as in Janggu (``binsize // 2 - 1``
    for an even ``binsize``, the centre ``binsize // 2`` for an odd one). Variants whose
    window does not lie wholly inside the chromosome are skipped (Janggu skips those
    reaching before its start).

    **Indels.** The alternative window stays ``binsize`` long and starts where the
    reference window starts: the bases left of ``POS``, then the ALT allele, then the
    genome after the REF allele until the window is full; an ALT allele longer than the
    rest of the window is cut at the window's end. A deletion thus pulls in genome bases
    from beyond the reference window's end (``N`` past the chromosome end); an insertion
    pushes them out. VCF's left-anchored representation is kept (no allele trimming).

    **Skipped variants.** Symbolic ALT alleles (``<DEL>``, breakends), missing ones
    (``.``, ``*``), ALT or REF alleles with letters other than ``ACGT``, contigs the genome
    lacks, windows outside the chromosome and (without ``ignore_reference_match``)
    reference mismatches are skipped. At the end of each pass over the file one
    :class:`~genozarr.errors.SkippedVariantsWarning` gives the count per reason;
    :attr:`skipped` holds the counts of the last (or current) pass.

    Examples
    --------
    >>> streamer = VariantStreamer("genome.fa", "variants.vcf.gz", binsize=1000,
    ...                            batch_size=64)  # doctest: +SKIP
    >>> for names, chroms, positions, ra, aa, ref, alt in streamer:  # doctest: +SKIP
    ...     effect = model(alt) - model(ref)
    """

    def __init__(self, bioseq: Any, variants: str | os.PathLike, binsize: int,
                 batch_size: int, annotation: Any = None, ignore_reference_match: bool = False,
                 order: int | None = None, *, snv_only: bool = False, regions: Any = None,
                 chrom_map: Any = None, dtype: Any = "float32",
                 annotation_feature: str | None = "*") -> None:
        from genozarr.dataset import Bioseq
        from genozarr.io._handles import check_input_file

        self.binsize = check_int("binsize", binsize, 1, allow_none=False)
        self.batch_size = check_int("batch_size", batch_size, 1, allow_none=False)
        from genozarr.io._remote import local_form

        self.variants = check_input_file(local_form(variants), "VCF/BCF")
        check_vcf_compression(self.variants)
        self.ignore_reference_match = check_bool("ignore_reference_match",
                                                 ignore_reference_match)
        self.snv_only = check_bool("snv_only", snv_only)
        self.dtype = np.dtype(dtype)
        self.bioseq = bioseq
        if isinstance(bioseq, Bioseq):
            store = bioseq.garray
            if not store.whole_genome:
                raise ArgumentError(
                    f"Bioseq {bioseq.name!r} holds windows, not whole chromosomes; build it "
                    "with store_whole_genome=True (as Janggu requires) or pass the FASTA path")
            if bioseq.seqtype != "dna":
                raise ArgumentError(f"Bioseq {bioseq.name!r} holds {bioseq.seqtype}, not DNA")
            self._sizes = dict(bioseq.chrom_sizes)
            self._fasta: str | None = None
            self._twobit = False
            self._fasta_state: tuple[int, ...] | None = None
            self.genome = hide_secrets(  # (a display name: a store URL's password hidden)
                f"Bioseq {bioseq.name!r}" + (f" ({store.path})" if store.path else ""))
            default_order = int(bioseq.order)
        elif isinstance(bioseq, (str, os.PathLike)):
            from genozarr.io._remote import localize
            from genozarr.io.fasta import ensure_fai, fasta_chrom_sizes
            from genozarr.io.twobit import is_twobit, twobit_chrom_sizes

            self._fasta = os.fspath(bioseq)
            local = localize(self._fasta, "genome")
            self._twobit = is_twobit(local)  # (a 2bit file was read as a FASTA: "no .fai")
            if self._twobit:
                self._fasta = local
                self._sizes = twobit_chrom_sizes(local)
            else:
                ensure_fai(self._fasta)
                self._sizes = fasta_chrom_sizes(self._fasta)
            from genozarr.io._handles import file_signature

            # (the windows that fit are decided from these sizes: a file rewritten since
            # was read, past its new end, as N, silently; an audit)
            self._fasta_state = file_signature(self._fasta)
            self.genome = hide_secrets(os.fspath(bioseq))
            default_order = 1
        else:
            raise ArgumentError(
                "bioseq must be a whole-genome Bioseq, or a FASTA or 2bit path, got "
                f"{type(bioseq).__name__}")
        self.order = check_int("order", default_order if order is None else order, 1,
                               allow_none=False)
        if self.binsize < self.order:
            raise ArgumentError(f"binsize {self.binsize} is shorter than order {self.order}")
        self.offset = variant_offset(self.binsize)
        if chrom_map is not None and chrom_map != "auto" and not isinstance(chrom_map, dict):
            raise ArgumentError(f"chrom_map must be None, 'auto' or a dict, got {chrom_map!r}")
        self.chrom_map = chrom_map
        self.annotation = annotation
        self._strand_index = (_strand_index(annotation, annotation_feature)
                              if annotation is not None else None)
        self.regions = regions
        self._regions = _merged_regions(regions) if regions is not None else None
        self.skipped: Counter[str] = Counter()
        #: VCF contig name -> genome length, for the contigs seen in the last pass
        self.contig_lengths: dict[str, int] = {}
        self._contigs: dict[str, str | None] = {}

    def __repr__(self) -> str:
        return hide_secrets(
            f"VariantStreamer({self.variants!r}, genome={self.genome!r}, "
            f"binsize={self.binsize}, batch_size={self.batch_size}, order={self.order})")

    # ------------------------------------------------------------------ public
    def __iter__(self) -> Iterator[VariantBatch]:
        pending: list[_Part] = []
        n_pending = 0
        for part in self._parts():
            pending.append(part)
            n_pending += len(part)
            if n_pending < self.batch_size:
                continue
            merged = _Part.concat(pending)
            start = 0
            while n_pending - start >= self.batch_size:
                yield self._encode(merged.take(slice(start, start + self.batch_size)))
                start += self.batch_size
            pending = [merged.take(slice(start, None))] if n_pending > start else []
            n_pending -= start
        if n_pending:
            yield self._encode(_Part.concat(pending))
        self._warn_skipped()

    def flow(self) -> Iterator[VariantBatch]:
        """The batches (Janggu's name for iterating).

        Returns
        -------
        Iterator of VariantBatch
            As ``iter(streamer)``.
        """
        return iter(self)

    def get_variant_count(self) -> int:
        """Number of window pairs a pass yields (reads the file and the genome once,
        without one-hot encoding; no warning).

        Returns
        -------
        int
        """
        return sum(len(part) for part in self._parts())

    # ------------------------------------------------------------------ reading
    def _open_vcf(self) -> Any:
        import pysam

        from genozarr.io._handles import captured_stderr

        check_vcf_compression(self.variants)
        try:
            with captured_stderr() as err:
                vcf = pysam.VariantFile(self.variants, "r")
        except (OSError, ValueError, NotImplementedError) as e:
            raise InputFileError(
                f"{self.variants}: cannot be read as VCF/BCF: {err.reason(str(e))}") from e
        if self._regions is not None and vcf.index is not None:
            try:  # the index is read for regions only
                check_vcf_index(self.variants)
            except StaleIndexError:
                vcf.close()
                raise
        return vcf

    def _records(self, vcf: Any) -> tuple[Iterator[Any], list[str]]:
        """The records to read (every one, or those in the regions, by the index) and the
        regions' contigs the file lacks (warned about at the end of the pass by the
        caller: records are read with htslib's stderr captured)."""
        if self._regions is None:
            return iter(vcf), []
        if vcf.index is None:
            raise MissingIndexError(
                f"{self.variants}: reading by regions needs an index; compress and index the "
                "file ('bgzip file.vcf && tabix -p vcf file.vcf.gz', or 'bcftools index' "
                "for BCF) or pass regions=None to read it all")
        try:  # the contigs the index has records of
            known = set(vcf.index.keys())
        except Exception:  # noqa: BLE001 - an index without names: the header's contigs
            known = set(vcf.header.contigs)
        # the regions by the VCF's name of their contig, merged there: a contig named the
        # genome's way in one region and the VCF's in another is read once
        spans: dict[str, list[tuple[int, int]]] = {}
        absent: list[str] = []
        for chrom, start, end in self._regions:
            name = next((n for n in self._vcf_names(chrom) if n in known), None)
            if name is None:
                if chrom not in absent:
                    absent.append(chrom)
                continue
            spans.setdefault(name, []).append((start, end))

        def fetched() -> Iterator[Any]:
            for name, parts in spans.items():
                starts, ends = _merge(np.array([a for a, _ in parts], dtype=np.int64),
                                      np.array([b for _, b in parts], dtype=np.int64))
                for start, end in zip(starts.tolist(), ends.tolist()):
                    for rec in vcf.fetch(name, start, end):
                        if start <= rec.pos - 1 < end:  # each record once over merged regions
                            yield rec

        return fetched(), absent

    def _warn_absent(self, vcf: Any, absent: list[str]) -> None:
        if absent:
            warn(f"{self.variants}: the regions name contigs the file does not have, so "
                 f"no variant is read there: {absent[:5]} (its contigs: "
                 f"{list(vcf.header.contigs)[:5]}); regions use the VCF's names, or the "
                 "genome's where chrom_map maps them", SkippedVariantsWarning)

    def _vcf_names(self, chrom: str) -> list[str]:
        """The names to try for a region's contig ``chrom``: itself, then the VCF name that
        ``chrom_map`` maps to it ('auto': the name with or without 'chr'; a dict: the
        keys whose value it is)."""
        from genozarr.genome import chrom_twins

        names = [chrom]
        if self.chrom_map == "auto":
            names += chrom_twins(chrom)
        elif isinstance(self.chrom_map, dict):
            names += [k for k, v in self.chrom_map.items() if v == chrom and k != chrom]
        return names

    def _genome_chrom(self, chrom: str) -> str | None:
        """The genome's name of a VCF contig, or None when the genome lacks it."""
        try:
            return self._contigs[chrom]
        except KeyError:
            pass
        from genozarr.genome import twin_of

        name: str | None = chrom
        if isinstance(self.chrom_map, dict):
            name = self.chrom_map.get(chrom, chrom)
        if name not in self._sizes:
            name = twin_of(chrom, self._sizes) if self.chrom_map == "auto" else None
        self._contigs[chrom] = name
        if name is not None:
            self.contig_lengths[chrom] = self._sizes[name]
        return name

    def _candidate_blocks(self) -> Iterator[_Candidates]:
        """Blocks of ALT alleles passing the record-level checks (the reference check
        needs the genome and comes later)."""
        skipped = self.skipped
        snv_only = self.snv_only
        binsize, offset, sizes = self.binsize, self.offset, self._sizes
        block_size = max(self.batch_size, 256)
        acgt = _ACGT.fullmatch
        bases = _BASE_CODE
        names: dict[int, tuple[str, str | None]] = {}  # rid -> (VCF name, genome name)
        rows: list[tuple[str, str, str, int, str, str, int]] = []
        add = rows.append
        vcf = self._open_vcf()
        try:
            records, absent = self._records(vcf)
            rec = None
            # read in batches with htslib's stderr captured, which holds its reason for a
            # record it cannot read (read_checked: no Python frame per record)
            for rec in read_checked(records, self.variants, _record_at):
                alleles = rec.alleles
                if alleles is None or len(alleles) < 2:
                    skipped[MISSING] += 1
                    continue
                if rec.pos < 1 and not all(_not_a_sequence(a) for a in alleles[1:]):
                    # POS 0 is VCF's telomere, for breakends and symbolic alleles (skipped
                    # below as such); htslib refuses a negative POS itself
                    raise MalformedFileError(
                        f"{self.variants}: the record {rec.chrom}:0 has the POS '0', not a "
                        "positive integer (POS 0 is a telomere's, for a breakend or a "
                        "symbolic allele only)")
                rid = rec.rid
                try:
                    chrom, gchrom = names[rid]
                except KeyError:
                    chrom = rec.chrom
                    gchrom = self._genome_chrom(chrom)
                    names[rid] = chrom, gchrom
                pos0 = rec.pos - 1
                start = pos0 - offset
                ref = alleles[0]
                if len(alleles) == 2 and len(ref) == 1 and len(alleles[1]) == 1:
                    # the common case, a biallelic SNV: no pattern matching
                    alt = alleles[1]
                    if alt in bases and ref in bases and gchrom is not None \
                            and start >= 0 and start + binsize <= sizes[gchrom]:
                        add((rec.id or "", chrom, gchrom, pos0, ref, alt, 1))
                        if len(rows) >= block_size:
                            yield _Candidates(rows)
                            rows = []
                            add = rows.append
                        continue
                ref = ref.upper()
                alts = alleles[1:]
                name = None
                for k, alt in enumerate(alts, 1):
                    if alt in _MISSING_ALLELES:
                        skipped[MISSING] += 1
                    elif _symbolic(alt):
                        skipped[SYMBOLIC] += 1
                    elif snv_only and (len(alts) != 1 or len(ref) != 1 or len(alt) != 1):
                        skipped[NOT_SNV] += 1
                    elif gchrom is None:
                        skipped[CONTIG] += 1
                    elif not acgt(ref) or not acgt(alt := alt.upper()):
                        skipped[NON_ACGT] += 1
                    elif start < 0 or start + binsize > sizes[gchrom]:
                        skipped[OUTSIDE] += 1
                    else:
                        if name is None:
                            name = rec.id or ""
                        add((name, chrom, gchrom, pos0, ref, alt, k))
                if len(rows) >= block_size:
                    yield _Candidates(rows)
                    rows = []
                    add = rows.append
            self._warn_absent(vcf, absent)
        except UnicodeDecodeError as e:  # (an ID or an allele in another encoding)
            at = f"the record {_record_at(rec)}" if rec is not None else "a record"
            raise MalformedFileError(f"{self.variants}: {at} holds text that is not UTF-8 "
                                     f"({e.reason})") from e
        finally:
            vcf.close()
        if rows:
            yield _Candidates(rows)

    def _read(self, chrom: str, start: int, end: int) -> np.ndarray:
        """uint8 codes of ``[start, end)`` of a genome chromosome, N (4) outside it."""
        from genozarr._kernels import encode_sequence

        if self._fasta is not None:
            from genozarr.io._handles import file_signature
            from genozarr.io.fasta import read_sequence
            from genozarr.io.twobit import read_twobit_sequence

            if self._fasta_state is not None and \
                    file_signature(self._fasta) != self._fasta_state:
                raise InputFileError(
                    f"{self.genome} changed since this VariantStreamer was made (replaced, "
                    "rewritten or deleted): the windows that fit its chromosomes were chosen "
                    "from the file as it was. Make the streamer again once the file no "
                    "longer changes")
            read = read_twobit_sequence if self._twobit else read_sequence
            return encode_sequence(read(self._fasta, chrom, start, end, pad=b"N"))
        size = self._sizes[chrom]
        lo, hi = max(start, 0), min(end, size)
        codes = np.asarray(self.bioseq.garray.read_bins(chrom, lo, hi))[:, 0, 0]
        codes = codes.astype(np.uint8, copy=False)
        if lo == start and hi == end:
            return codes
        out = np.full(end - start, 4, dtype=np.uint8)
        out[lo - start:hi - start] = codes
        return out

    def _parts(self) -> Iterator[_Part]:
        """Blocks of variants with their reference and alternative window codes."""
        self.skipped = Counter()
        self.contig_lengths = {}
        self._contigs = {}
        for block in self._candidate_blocks():
            part = self._windows(block)
            if len(part):
                yield part

    def _windows(self, blk: _Candidates) -> _Part:
        """Read the windows of a block, check the REF alleles, splice the ALT alleles."""
        from genozarr._kernels import encode_sequence, window_views

        binsize, offset = self.binsize, self.offset
        n = len(blk)
        pos0 = np.asarray(blk.pos0, dtype=np.int64)
        lref = np.fromiter(map(len, blk.refs), dtype=np.int64, count=n)
        lalt = np.fromiter(map(len, blk.alts), dtype=np.int64, count=n)
        starts = pos0 - offset
        # the bases the windows need: the reference window, the REF allele (checked) and,
        # for a deletion, the genome after it that fills the alternative window
        needed = np.maximum(starts + binsize,
                            pos0 + lref + np.maximum(binsize - offset - lalt, 0))
        snv = (lref == 1) & (lalt == 1)
        ref_codes = np.empty((n, binsize), dtype=np.uint8)
        alt_codes = np.empty((n, binsize), dtype=np.uint8)
        keep = np.ones(n, dtype=bool)
        gap = max(4 * binsize, 1 << 13)  # read neighbouring windows as one span
        gchroms = np.asarray(blk.gchroms, dtype=object)
        for chrom in dict.fromkeys(blk.gchroms):
            rows = np.flatnonzero(gchroms == chrom)
            rows = rows[np.argsort(starts[rows], kind="stable")]
            reach = np.maximum.accumulate(needed[rows])
            cuts = np.flatnonzero(starts[rows[1:]] - reach[:-1] > gap) + 1
            for seg in np.split(rows, cuts):
                lo, hi = int(starts[seg[0]]), int(needed[seg].max())
                span = self._read(chrom, lo, hi)
                ref_codes[seg] = window_views(span, starts[seg] - lo, binsize)
                single = seg[snv[seg]]
                if len(single):
                    ref_base = np.array([_BASE_CODE[blk.refs[i]] for i in single], np.uint8)
                    alt_base = np.array([_BASE_CODE[blk.alts[i]] for i in single], np.uint8)
                    if self.ignore_reference_match:
                        ref_codes[single, offset] = ref_base
                    else:
                        keep[single[ref_codes[single, offset] != ref_base]] = False
                    alt_codes[single] = ref_codes[single]
                    alt_codes[single, offset] = alt_base
                for i in seg[~snv[seg]]:
                    at = int(pos0[i]) - lo
                    ref_allele = encode_sequence(blk.refs[i])
                    if self.ignore_reference_match:
                        ref_codes[i] = _splice(span, at, len(ref_allele), ref_allele,
                                               offset, binsize)
                    elif not np.array_equal(span[at:at + len(ref_allele)], ref_allele):
                        keep[i] = False
                        continue
                    alt_codes[i] = _splice(span, at, len(ref_allele),
                                           encode_sequence(blk.alts[i]), offset, binsize)
        n_bad = int(n - keep.sum())
        if n_bad:
            self.skipped[MISMATCH] += n_bad
        minus = np.zeros(n, dtype=bool)
        if self._strand_index is not None:
            minus = _overlaps_minus(self._strand_index, blk.chroms, blk.gchroms, pos0,
                                    np.maximum(lref, 1))
        part = _Part(blk.names, blk.chroms, pos0, blk.refs, blk.alts, minus,
                     np.asarray(blk.allele, dtype=np.int64), ref_codes, alt_codes)
        return part if keep.all() else part.take(keep)

    def _encode(self, part: _Part) -> VariantBatch:
        from genozarr._kernels import alphabet_size, onehot, reverse_complement_codes

        ref, alt = part.ref_codes, part.alt_codes
        if part.minus.any():
            ref, alt = ref.copy(), alt.copy()
            ref[part.minus] = reverse_complement_codes(ref[part.minus], axis=1)
            alt[part.minus] = reverse_complement_codes(alt[part.minus], axis=1)
        # REF and ALT windows in one allocation: as two of 2 MB each (128 windows of
        # 1 kb), glibc gave their pages back to the system when a batch was freed and
        # the next batch faulted them in again (428k page faults per 100k variants, half
        # of the streaming time)
        length = ref.shape[1] - self.order + 1
        both = np.empty((2, len(ref), length, 1, alphabet_size("dna") ** self.order),
                        dtype=self.dtype)
        onehot(ref, self.order, "dna", dtype=self.dtype, out=both[0, :, :, 0])
        onehot(alt, self.order, "dna", dtype=self.dtype, out=both[1, :, :, 0])
        ref_hot, alt_hot = both[0], both[1]
        return VariantBatch(part.names, part.chroms, part.positions, part.refs, part.alts,
                            ref_hot, alt_hot, np.where(part.minus, "-", "+"), part.allele)

    def _warn_skipped(self) -> None:
        counts = {r: self.skipped[r] for r in _REASON_ORDER if self.skipped.get(r)}
        if not counts:
            return
        detail = ", ".join(f"{n} {reason}" for reason, n in counts.items())
        hints = []
        if CONTIG in counts:
            missing = [c for c, g in self._contigs.items() if g is None]
            from genozarr.genome import twin_of

            twins = [c for c in missing if twin_of(c, self._sizes) is not None]
            hints.append(f"contigs absent from {self.genome}: {missing[:5]}"
                         + (" (they differ by a 'chr' prefix: pass chrom_map='auto')"
                            if twins else ""))
        if MISMATCH in counts:
            hints.append("REF alleles that differ from the genome are skipped "
                         "(is it the right genome build? ignore_reference_match=True keeps them)")
        warn(f"{self.variants}: skipped {sum(counts.values())} ALT allele(s): {detail}"
             + ("; " + "; ".join(hints) if hints else ""), SkippedVariantsWarning)


def _splice(span: np.ndarray, at: int, ref_len: int, allele: np.ndarray, offset: int,
            binsize: int) -> np.ndarray:
    """The window holding ``allele`` in place of the ``ref_len`` bases at ``span[at:]``:
    ``offset`` bases before it, the allele (cut at the window end), the genome after the
    replaced bases until the window is full."""
    allele = allele[:binsize - offset]
    right = binsize - offset - len(allele)
    return np.concatenate([span[at - offset:at], allele,
                           span[at + ref_len:at + ref_len + right]])


# ---------------------------------------------------------------------- annotation, regions
def _strand_index(annotation: Any,
                  feature: str | None = "*") -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Merged minus-strand intervals per chromosome: ``{chrom: (starts, ends)}``; from a
    GFF/GTF file the lines of feature type ``feature`` (``'*'``: every line)."""
    from genozarr.regions import load_regions

    df = load_regions(annotation, feature=feature)
    minus = df[df["strand"].astype(str) == "-"]
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for chrom, grp in minus.groupby("chrom", sort=False):
        starts, ends = _merge(grp["start"].to_numpy(np.int64), grp["end"].to_numpy(np.int64))
        out[str(chrom)] = (starts, ends)
    return out


def _merge(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Union of intervals as sorted, disjoint ``(starts, ends)``."""
    order = np.argsort(starts, kind="stable")
    starts, ends = starts[order], ends[order]
    reach = np.maximum.accumulate(ends)
    first = np.ones(len(starts), dtype=bool)
    first[1:] = starts[1:] > reach[:-1]
    last = np.r_[np.flatnonzero(first)[1:] - 1, len(starts) - 1]
    return starts[first], reach[last]


def _overlaps_minus(index: dict[str, tuple[np.ndarray, np.ndarray]], chroms: list[str],
                    gchroms: list[str], pos0: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Whether each ``[pos0, pos0 + length)`` overlaps a minus-strand feature (looked up
    by the VCF's chromosome name, else the genome's)."""
    out = np.zeros(len(pos0), dtype=bool)
    chroms_arr = np.asarray(chroms, dtype=object)
    for chrom in dict.fromkeys(chroms):
        rows = np.flatnonzero(chroms_arr == chrom)
        hit = index.get(chrom) or index.get(gchroms[rows[0]])
        if hit is None:
            continue
        starts, ends = hit
        a, b = pos0[rows], pos0[rows] + length[rows]
        j = np.searchsorted(starts, b, side="left") - 1
        out[rows] = (j >= 0) & (ends[np.maximum(j, 0)] > a)
    return out


def _merged_regions(regions: Any) -> list[tuple[str, int, int]]:
    """Regions as merged ``(chrom, start, end)`` triples, chromosomes in first-seen order."""
    from genozarr.regions import load_regions

    df = load_regions(regions)
    out = []
    for chrom, grp in df.groupby("chrom", sort=False):
        starts, ends = _merge(grp["start"].to_numpy(np.int64), grp["end"].to_numpy(np.int64))
        out += [(str(chrom), int(s), int(e)) for s, e in zip(starts, ends)]
    return out


# ---------------------------------------------------------------------- scoring
def _as_scores(value: Any, n: int, what: str) -> np.ndarray:
    """A model's output as a ``(n, n_conditions)`` array of its own (a model that returns
    one buffer it reuses gave the reference scores the alternative ones)."""
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    arr = np.array(value, copy=True)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] != n:
        raise ArgumentError(
            f"predict must return an array of shape (batch, n_conditions) = ({n}, C) for "
            f"the {what} windows, got shape {arr.shape}; flatten or reduce a model's "
            "output to one score per condition")
    return arr


class _Columns:
    """The growing result columns: kept in memory (lists of blocks) or appended to a zarr
    group one chunk at a time."""

    def __init__(self, group: Any, chunk: int, dtype: np.dtype[Any]) -> None:
        self.group = group
        self.chunk = chunk
        self.dtype = dtype
        self.buffers: dict[str, list[np.ndarray]] = {}
        self.buffered = 0
        self.arrays: dict[str, Any] = {}
        self.n = 0

    def append(self, columns: dict[str, np.ndarray]) -> None:
        for name, values in columns.items():
            self.buffers.setdefault(name, []).append(values)
        self.buffered += len(next(iter(columns.values())))
        self.n += len(next(iter(columns.values())))
        if self.group is not None and self.buffered >= self.chunk:
            self.flush()

    def joined(self, name: str) -> np.ndarray:
        return np.concatenate(self.buffers[name]) if len(self.buffers[name]) > 1 \
            else self.buffers[name][0]

    def flush(self) -> None:
        """Append the buffered rows to the zarr arrays (group mode); an array of no rows
        is created too (no variant scored: an empty store, as an empty Dataset)."""
        if not self.buffered and all(name in self.arrays for name in self.buffers):
            return
        for name in list(self.buffers):
            values = self.joined(name)
            arr = self.arrays.get(name)
            if arr is None:
                arr = self._create(name, values)
            if values.dtype.kind in "OUST":
                values = values.astype(object)
            if len(values):
                arr.append(values, axis=0)
            self.buffers[name] = []
        self.buffered = 0

    def _create(self, name: str, values: np.ndarray) -> Any:
        dims = ("variant", "condition") if values.ndim == 2 else ("variant",)
        shape = (0,) + values.shape[1:]
        chunks = (self.chunk,) + tuple(max(int(s), 1) for s in values.shape[1:])
        if values.dtype.kind in "OUST":
            arr = self.group.create_array(name, shape=shape, chunks=chunks, dtype=str,
                                          dimension_names=dims, fill_value="")
        else:
            fill = np.nan if values.dtype.kind == "f" else 0
            arr = self.group.create_array(name, shape=shape, chunks=chunks,
                                          dtype=values.dtype, dimension_names=dims,
                                          fill_value=fill)
        self.arrays[name] = arr
        return arr


def score_variants(predict: Callable[[np.ndarray], Any], streamer: VariantStreamer,
                   path: str | os.PathLike | None = None, *,
                   conditions: Sequence[str] | None = None, eps: float = 1e-7,
                   overwrite: bool = False, chunk_variants: int = 65536,
                   dtype: Any = "float32") -> xr.Dataset:
    """Score the reference and alternative windows of every variant with a model.

    ``predict`` is called on each batch of reference windows and on the same batch of
    alternative windows; the scores and their differences are written to a zarr v3 store
    (or kept in memory) with the dimensions ``(variant, condition)``.

    Parameters
    ----------
    predict
        ``predict(windows) -> (batch, n_conditions)``: ``windows`` is a batch of one-hot
        windows ``(batch, binsize - order + 1, 1, 4**order)``. A 1-D result is one
        condition; torch tensors are moved to numpy. Wrap a model so that it takes that
        shape (e.g. ``lambda x: model.predict_on_batch(x)``, or squeeze the axis of length
        1 for a 1-D convolution).
    streamer
        The variants and their windows.
    path
        Directory of the store to write, e.g. ``'effects.zarr'``; None keeps the results
        in memory only. The store is written under a temporary name next to it and
        renamed into place when complete.
    conditions
        Names of the model's outputs; default ``'0'``, ``'1'``, ...
    eps
        Added to both scores in ``logfc``.
    overwrite
        Replace an existing store at ``path`` (else an error).
    chunk_variants
        Variants per chunk of the stored arrays.
    dtype
        dtype of the stored scores.

    Returns
    -------
    xarray.Dataset
        Dimensions ``(variant, condition)``; variables ``ref``, ``alt``, ``diff`` (alt -
        ref) and, when every score is non-negative, ``logfc`` (``log2((alt + eps) / (ref +
        eps))``); coordinates ``condition`` and, per variant, ``variant_chrom``,
        ``variant_pos`` (1-based, as in the VCF), ``variant_id``, ``variant_ref``,
        ``variant_alt``, ``variant_strand`` and ``variant_allele`` (the ALT's index in its
        record); attributes record the inputs and the skipped counts. For a store: the
        store opened with ``xarray.open_zarr(path)`` (lazy); otherwise in memory.

    Raises
    ------
    StoreError
        If ``path`` exists and ``overwrite`` is False.
    ArgumentError
        If ``predict`` returns a wrong shape, or ``conditions`` does not match it.
    """
    import xarray as xr

    chunk_variants = check_int("chunk_variants", chunk_variants, 1, allow_none=False)
    if conditions is not None:
        conditions = name_list("conditions", conditions)
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ArgumentError(f"dtype must be a floating-point dtype, got {dtype}")
    eps = float(eps)
    final = tmp = None
    group = None
    if path is not None:
        import zarr

        from genozarr.io._remote import local_form

        text = local_form(path)  # (a file:// URL is its path, as for every writer)
        if "://" in text:
            raise ArgumentError(f"path: score_variants writes a local store; got {text!r}")
        final = Path(text).absolute()
        if final.exists() and not overwrite:
            raise StoreError(f"{final} exists; pass overwrite=True to replace it")
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.parent / f".{final.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        group = zarr.open_group(str(tmp), mode="w", zarr_format=3)
    columns = _Columns(group, chunk_variants, dtype)
    n_cond: int | None = None
    non_negative = True
    try:
        for batch in streamer:
            n = len(batch.names)
            ref = _as_scores(predict(batch.ref), n, "reference")
            alt = _as_scores(predict(batch.alt), n, "alternative")
            if ref.shape != alt.shape:
                raise ArgumentError(f"predict returned shape {ref.shape} for the reference "
                                    f"windows but {alt.shape} for the alternative ones")
            if n_cond is None:
                n_cond = ref.shape[1]
                if conditions is not None and len(conditions) != n_cond:
                    raise ArgumentError(f"{len(conditions)} conditions given, but predict "
                                        f"returns {n_cond} scores per window")
            elif ref.shape[1] != n_cond:
                raise ArgumentError(f"predict returned {ref.shape[1]} scores per window, "
                                    f"{n_cond} before")
            ref = ref.astype(dtype, copy=False)
            alt = alt.astype(dtype, copy=False)
            non_negative = non_negative and bool((ref >= 0).all() and (alt >= 0).all())
            with np.errstate(divide="ignore", invalid="ignore"):
                logfc = np.log2((alt.astype(np.float64) + eps) / (ref.astype(np.float64) + eps))
            columns.append({
                "ref": ref, "alt": alt, "diff": alt - ref, "logfc": logfc.astype(dtype),
                "variant_chrom": np.asarray(batch.chroms, dtype=object),
                "variant_pos": batch.positions + 1,
                "variant_id": np.asarray(batch.names, dtype=object),
                "variant_ref": np.asarray(batch.ref_alleles, dtype=object),
                "variant_alt": np.asarray(batch.alt_alleles, dtype=object),
                "variant_strand": np.asarray(batch.strands, dtype=object),
                "variant_allele": batch.allele_index,
            })
        if n_cond is None:  # no variant: empty columns of the right kinds
            n_cond = len(conditions) if conditions is not None else 0
            empty_f = np.zeros((0, n_cond), dtype=dtype)
            empty_s = np.zeros(0, dtype=object)
            empty_i = np.zeros(0, dtype=np.int64)
            columns.append({
                **{v: empty_f for v in VARIABLES},
                **{c: empty_s for c in COORDINATES if c not in ("variant_pos",
                                                                "variant_allele")},
                "variant_pos": empty_i, "variant_allele": empty_i})
        names = [str(c) for c in conditions] if conditions is not None \
            else [str(i) for i in range(n_cond)]
        variables = [v for v in VARIABLES if v != "logfc" or non_negative]
        attrs = {
            "genozarr_variant_effects": 1,
            "variants": hide_secrets(streamer.variants),  # (attributes may be saved)
            "genome": streamer.genome,
            "binsize": streamer.binsize,
            "order": streamer.order,
            "variant_offset": streamer.offset,
            "ignore_reference_match": streamer.ignore_reference_match,
            "snv_only": streamer.snv_only,
            "eps": eps,
            "skipped": {k: int(v) for k, v in streamer.skipped.items()},
            "contig_lengths": dict(streamer.contig_lengths),
        }
        var_attrs = {"coordinates": " ".join(COORDINATES)}
        if group is None:
            data = {v: (("variant", "condition"), columns.joined(v)) for v in variables}
            coords: dict[str, Any] = {"condition": ("condition", np.asarray(names, dtype=object))}
            for c in COORDINATES:
                values = columns.joined(c)
                coords[c] = ("variant", values.astype(str) if values.dtype == object else values)
            ds = xr.Dataset(data, coords=coords, attrs=attrs)
            return ds
        columns.flush()
        if not non_negative:
            del group["logfc"]
        for v in variables:
            group[v].attrs.update(var_attrs)
        cond = group.create_array("condition", shape=(len(names),), dtype=str,
                                  dimension_names=("condition",), fill_value="")
        if names:
            cond[...] = np.asarray(names, dtype=object)
        group.attrs.update(attrs)
        _publish(tmp, final, overwrite)
    except BaseException:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    return open_results(final)


def _publish(tmp: Path, final: Path, overwrite: bool) -> None:
    """Consolidate the metadata of the store at ``tmp`` and rename it to ``final``."""
    import warnings

    import zarr

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        zarr.consolidate_metadata(str(tmp), zarr_format=3)
    old = None
    if final.exists():
        if not overwrite:
            raise StoreError(f"{final} appeared while the results were written; pass "
                             "overwrite=True to replace it")
        old = final.parent / f".{final.name}.old-{uuid.uuid4().hex[:8]}"
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def open_results(path: str | os.PathLike) -> xr.Dataset:
    """Open a store written by :func:`score_variants` (``xarray.open_zarr``, lazy).

    Parameters
    ----------
    path
        Local path of the zarr (format 3, consolidated) store.

    Returns
    -------
    xarray.Dataset
        The scores, read lazily.

    Raises
    ------
    StoreError
        If nothing exists at ``path``.
    """
    import xarray as xr

    if not Path(path).exists():
        raise MissingStoreError(f"variant effect store {path} does not exist", path)
    return xr.open_zarr(os.fspath(path), consolidated=True, zarr_format=3)


def _results(results: Any) -> xr.Dataset:
    if isinstance(results, (str, os.PathLike)):
        return open_results(results)
    if not hasattr(results, "data_vars") or "variant_chrom" not in results.coords:
        raise ArgumentError("results must be the Dataset score_variants returns or the path "
                            "of its store")
    return results


def _info_key(variable: str, condition: str) -> str:
    key = re.sub(r"[^A-Za-z0-9_.]", "_", f"{variable}_{condition}")
    return key if re.match(r"[A-Za-z_]", key) else "_" + key


def _score_columns(ds: xr.Dataset, variables: Iterable[str] | None
                   ) -> list[tuple[str, str, str, np.ndarray]]:
    """``(key, variable, condition, values)`` per stored variable and condition."""
    names = [v for v in (variables or VARIABLES) if v in ds.data_vars]
    missing = [v for v in (variables or []) if v not in ds.data_vars]
    if missing:
        raise ArgumentError(f"results have no variable(s) {missing}; they have "
                            f"{sorted(map(str, ds.data_vars))}")
    conds = [str(c) for c in ds["condition"].values]
    out, seen = [], set()
    for v in names:
        values = np.asarray(ds[v].values)
        for j, c in enumerate(conds):
            key = _info_key(v, c)
            while key in seen:
                key += "_"
            seen.add(key)
            out.append((key, v, c, values[:, j]))
    return out


def export_to_vcf(results: Any, path: str | os.PathLike, *,
                  variables: Sequence[str] | None = None) -> str:
    """Write variant effect scores to a VCF (``.vcf``, ``.vcf.gz`` bgzip, ``.bcf``).

    One record per scored ALT allele (multi-allelic records come out split, one ALT per
    record) with one INFO field per variable and condition, named ``<variable>_<condition>``
    (other characters than letters, digits, ``_`` and ``.`` become ``_``), declared in the
    header as ``Number=1,Type=Float``; ``VE_STRAND`` gives the strand the windows were read
    on. Records keep the order of the results (the input VCF's order); a ``.vcf.gz`` file
    is also indexed with tabix when they are sorted.

    Parameters
    ----------
    results
        What :func:`score_variants` returns, or the path of its store.
    path
        Output file.
    variables
        Variables to write; default all of ``ref``, ``alt``, ``diff``, ``logfc`` present.

    Returns
    -------
    str
        ``path``.
    """
    import pysam

    ds = _results(results)
    path = os.fspath(path)
    cols = _score_columns(ds, variables)
    chroms = [str(c) for c in ds["variant_chrom"].values]
    lengths = dict(ds.attrs.get("contig_lengths") or {})
    if isinstance(lengths, str):
        lengths = json.loads(lengths)
    header = pysam.VariantHeader()
    for chrom in dict.fromkeys(chroms):
        if chrom in lengths:
            header.contigs.add(chrom, length=int(lengths[chrom]))
        else:
            header.contigs.add(chrom)
    for key, var, cond, _ in cols:
        header.info.add(key, 1, "Float",
                        f"genozarr variant effect: {var} of condition {cond}")
    header.info.add("VE_STRAND", 1, "String",
                    "Strand the windows were read on (+, or - inside a minus-strand feature)")
    mode = "wb" if path.endswith(".bcf") else "wz" if path.endswith((".gz", ".bgz")) else "w"
    pos = np.asarray(ds["variant_pos"].values, dtype=np.int64)
    ids = [str(x) for x in ds["variant_id"].values]
    refs = [str(x) for x in ds["variant_ref"].values]
    alts = [str(x) for x in ds["variant_alt"].values]
    strands = [str(x) for x in ds["variant_strand"].values]
    with pysam.VariantFile(path, mode, header=header) as out:
        for i, chrom in enumerate(chroms):
            start = int(pos[i]) - 1
            rec = out.new_record(contig=chrom, start=start, stop=start + len(refs[i]),
                                 alleles=(refs[i], alts[i]), id=ids[i] or None)
            for key, _, _, values in cols:
                value = float(values[i])
                if not np.isnan(value):  # (no score: left out; an infinity is written)
                    rec.info[key] = value
            rec.info["VE_STRAND"] = strands[i]
            out.write(rec)
    if mode == "wz":
        _tabix(path)
    return path


def _tabix(path: str) -> None:
    """Index a bgzip VCF with tabix (``.tbi``) where its records are sorted."""
    import pysam

    from genozarr.io._handles import captured_stderr

    try:
        with captured_stderr() as err:
            pysam.tabix_index(path, preset="vcf", force=True)
    except OSError as e:  # unsorted records: the file stays valid, without an index
        logger.info("%s not indexed: %s", path, err.reason(str(e)))


def export_to_bed(results: Any, path: str | os.PathLike, *,
                  variables: Sequence[str] | None = None) -> str:
    """Write variant effect scores as a BED6+ table.

    Columns: ``chrom``, ``start`` (0-based), ``end`` (start + REF length), ``name``
    (``<ID>_<REF>><ALT>``, or ``<chrom>:<POS>_<REF>><ALT>`` without an ID, as Janggu's
    ``snps.bed``), ``score`` (``.``), ``strand``, then one column per variable and
    condition named ``<variable>_<condition>``. The first line is a header starting with
    ``#`` (``pandas.read_csv(path, sep='\\t')`` reads it; BED tools skip it).

    Parameters
    ----------
    results
        What :func:`score_variants` returns, or the path of its store.
    path
        Output file (``.gz``: gzip-compressed).
    variables
        Variables to write; default all present.

    Returns
    -------
    str
        ``path``.
    """
    import pandas as pd

    ds = _results(results)
    path = os.fspath(path)
    cols = _score_columns(ds, variables)
    chroms = [str(c) for c in ds["variant_chrom"].values]
    pos = np.asarray(ds["variant_pos"].values, dtype=np.int64)
    ids = [str(x) for x in ds["variant_id"].values]
    refs = [str(x) for x in ds["variant_ref"].values]
    alts = [str(x) for x in ds["variant_alt"].values]
    frame = pd.DataFrame({
        "#chrom": chroms,
        "start": pos - 1,
        "end": pos - 1 + np.fromiter(map(len, refs), dtype=np.int64, count=len(refs)),
        "name": [f"{i or f'{c}:{p}'}_{r}>{a}" for i, c, p, r, a in
                 zip(ids, chroms, pos, refs, alts)],
        "score": ".",
        "strand": [str(x) for x in ds["variant_strand"].values],
    })
    for key, _, _, values in cols:
        frame[key] = values
    from genozarr.io.bed import write_bed

    write_bed(frame, path, header=True, na_rep="nan")
    return path

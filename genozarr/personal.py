"""Personal genomes: one-hot windows of each sample's two haplotypes, from a reference
genome and a phased VCF/BCF file.

:func:`create_personal` (behind ``Bioseq.create_from_refgenome(..., variants=vcf,
samples=[...])``) stores, for every window, listed sample and haplotype, the window's
sequence with the sample's SNVs and indels applied, and returns a
:class:`PersonalBioseq` that serves them.

**Store.** An ordinary partial-layout sequence store: uint8 codes with the dimensions
``(region, position, strand, condition)``, whose ``condition`` axis enumerates sample x
haplotype (``NA00001|0``, ``NA00001|1``, ``NA00002|0``, ...). It is built by
:class:`PersonalSource` through :func:`genozarr.ingest.build_store`, in chunk-aligned
tasks like every other store; the recipe records ``variants``, ``samples``,
``haplotypes`` and ``unphased``, and the VCF (with its digest) as an input.

**Index.** Window-major: item ``i`` of a :class:`PersonalBioseq` is window ``i //
(2 * n_samples)``, sample ``(i // 2) % n_samples``, haplotype ``i % 2``; the items of
one window are neighbours, so a batch of neighbouring items reads few stored rows and a
chunk-aware shuffle decodes each chunk once.

**Window rule.** A window ``[start, end)`` (flank included) keeps its length and its
reference start:

- variants are applied in position order; the bases between them are the reference's;
- an insertion pushes sequence out on the right; a deletion pulls reference sequence (and
  the haplotype's variants there) in from beyond the window end, ``N`` past the
  chromosome end; an ALT allele that runs past the window end is cut;
- a variant that starts before the window and overlaps its first base contributes the
  ALT bases aligned at or after the window start (REF and ALT aligned at their first base,
  as VCF writes them): a deletion starting before the window removes the bases it covers
  inside the window, which then begins with the first base after the deletion; an
  insertion anchored on the base before the window (its REF is that one base) lies
  outside the window;
- zero-padded windows at region ends hold ``end - start`` personal bases, then ``N``.

**Calls.** Phased genotypes (``0|1``) put each allele on its haplotype; homozygous and
haploid calls (``1/1``, ``1``) are unambiguous and put the allele on both; a missing
allele (``.``) keeps the reference. An unphased heterozygous call (``0/1``, ``1/2``,
``./1``) of a record overlapping a window raises
:class:`~genozarr.errors.UnphasedGenotypeError` naming the sample and the record, before
anything is built, unless ``unphased='ref'`` (keep the reference on both haplotypes) or
``unphased='alt'`` (the ALT allele on both; two different ALT alleles in the order
written); with the default, such a call in sequence that a deletion pulls in from beyond
the window end keeps the reference. ``*`` and ``.`` ALT alleles carry nothing.

Per haplotype, a record whose REF span overlaps that of a variant already applied (in
position order, then file order) is skipped; so are symbolic ALT alleles (``<DEL>``,
breakends), alleles with letters other than ``ACGTN`` and records whose REF differs from
the genome. GT is read wherever it is in FORMAT; a record whose FORMAT has no GT has
missing calls (reason ``no GT field``). Skipped calls are counted (record x sample x
haplotype, for the records that overlap a window) and reported in one
:class:`~genozarr.errors.SkippedCallsWarning` per build. Malformed records (fewer sample
columns than the header, a negative or unreadable allele index, a bad POS) are a
:class:`~genozarr.errors.MalformedFileError` naming the file and the record; an index
older than its file a :class:`~genozarr.errors.StaleIndexError`.
"""

from __future__ import annotations

import copy
import operator
import os
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from genozarr.dataset import Bioseq
from genozarr.errors import (
    ArgumentError,
    ChromosomeNamingError,
    InputFileError,
    MalformedFileError,
    MissingChromosomeWarning,
    SkippedCallsWarning,
    UnphasedGenotypeError,
    get_logger,
    warn,
)
from genozarr.ingest import Source
from genozarr.io._remote import fetch_inputs
from genozarr.regions import GenomicIndexer
from genozarr.variants import (
    TABIX_INDEXES,
    VARIANTFILE_INDEXES,
    _not_a_sequence,
    _record_at,
    _symbolic,
    check_vcf_compression,
    check_vcf_index,
    read_checked,
)

__all__ = ["PersonalBioseq", "PersonalSource", "create_personal", "HAPLOTYPES",
           "UNPHASED_RULES", "condition_names"]

log = get_logger(__name__)

#: haplotypes per sample
HAPLOTYPES = 2
#: values of ``unphased=``
UNPHASED_RULES = ("error", "ref", "alt")

#: reasons a call is not applied (the keys of the warning's counts)
SYMBOLIC = "symbolic ALT"
NON_ACGTN = "non-ACGTN allele"
MISMATCH = "reference mismatch"
OVERLAP = "overlaps an applied variant"
NO_GT = "no GT field"
REASONS = (SYMBOLIC, NON_ACGTN, MISMATCH, OVERLAP, NO_GT)

# allele kinds
_OK, _EMPTY, _SYMBOLIC, _NON_ACGTN = 0, 1, 2, 3
_ACGTN = re.compile(r"[ACGTN]+")
#: bases of a block read at a cache miss, at least (and _BLOCK_WINDOWS windows)
_BLOCK_BASES = 32768
_BLOCK_WINDOWS = 16
#: blocks kept per process
_MAX_BLOCKS = 8


def condition_names(samples: Sequence[str]) -> list[str]:
    """Condition names of a personal-genome store: ``sample|haplotype``, sample-major.

    Parameters
    ----------
    samples
        Sample names, in the store's order.

    Returns
    -------
    list of str
        ``2 * len(samples)`` names: ``sample|0``, ``sample|1`` for each sample in turn.

    Examples
    --------
    >>> condition_names(["NA1", "NA2"])
    ['NA1|0', 'NA1|1', 'NA2|0', 'NA2|1']
    """
    return [f"{s}|{h}" for s in samples for h in range(HAPLOTYPES)]


# ------------------------------------------------------------------------- VCF records
@dataclass
class _Records:
    """Records of the listed samples, sorted by position (then file order)."""

    pos0: np.ndarray            # int64, 0-based POS
    span: np.ndarray            # int64, len(REF)
    ids: list[str]
    refs: list[str]             # upper case
    alts: list[list[str]]       # upper case; [] for ALT '.'
    gt: np.ndarray              # int16 (n, n_samples, 2), -1 missing
    phased: np.ndarray          # bool (n, n_samples)
    no_gt: np.ndarray           # bool (n,): FORMAT without GT (calls missing)

    def __len__(self) -> int:
        return len(self.pos0)

    @classmethod
    def empty(cls, n_samples: int) -> _Records:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), [], [], [],
                   np.zeros((0, n_samples, 2), np.int16), np.zeros((0, n_samples), bool),
                   np.zeros(0, bool))

    def take(self, index: np.ndarray) -> _Records:
        index = np.asarray(index, dtype=np.int64)
        return _Records(self.pos0[index], self.span[index], [self.ids[i] for i in index],
                        [self.refs[i] for i in index], [self.alts[i] for i in index],
                        self.gt[index], self.phased[index], self.no_gt[index])

    def overlapping(self, start: int, end: int, max_span: int) -> _Records:
        """The records whose REF span overlaps ``[start, end)``."""
        i0 = int(np.searchsorted(self.pos0, start - max_span, side="left"))
        i1 = int(np.searchsorted(self.pos0, end, side="left"))
        rows = np.arange(i0, i1)
        rows = rows[self.pos0[rows] + self.span[rows] > start]
        if len(rows) == len(self) and len(rows) and rows[0] == 0:
            return self
        return self.take(rows)


_GT_DIGIT = np.full(256, -2, dtype=np.int16)
_GT_DIGIT[48:58] = np.arange(10)
_GT_DIGIT[ord(".")] = -1
_GT_SPLIT = re.compile(r"[|/]")


def _parse_one_gt(text: str, where: str) -> tuple[int, int, bool]:
    """``(allele, allele, phased)`` of one GT value (haploid calls give the allele twice)."""
    text = text.strip()
    if text in ("", "."):
        return -1, -1, True
    parts = _GT_SPLIT.split(text.lstrip("|/"))
    if not all(p == "." or (p.isascii() and p.isdigit()) for p in parts):
        why = (" (a negative allele index; alleles are 0 for REF, 1, 2, ... for the ALT "
               "alleles, '.' missing)" if any(p[:1] == "-" and p[1:].isdigit() for p in parts)
               else "")
        raise MalformedFileError(f"{where}: cannot read the genotype {text!r}{why}")
    values = [-1 if p == "." else int(p) for p in parts]
    if len(values) == 1:
        return values[0], values[0], True
    if len(values) != 2:
        raise MalformedFileError(
            f"{where}: genotype {text!r} has ploidy {len(values)}; personal genomes take "
            "diploid (or haploid) calls")
    return values[0], values[1], "/" not in text.lstrip("|/")


def _parse_gts(gts: list[str], where: str | Any) -> tuple[np.ndarray, np.ndarray]:
    """Alleles ``(n, 2)`` (int16, -1 missing) and phased flags of GT values; the common
    ``a|b`` / ``a/b`` with single-digit alleles are decoded with numpy. ``where``: the
    place named in errors, or a function of the value's index giving it."""
    n = len(gts)
    alleles = np.empty((n, 2), dtype=np.int16)
    phased = np.empty(n, dtype=bool)
    if not n:
        return alleles, phased
    lengths = np.fromiter(map(len, gts), dtype=np.int64, count=n)
    fast = np.flatnonzero(lengths == 3)
    slow = [int(i) for i in np.flatnonzero(lengths != 3)]
    if len(fast):
        text = "".join(gts) if len(fast) == n else "".join([gts[i] for i in fast])
        try:
            raw = np.frombuffer(text.encode("ascii"), dtype=np.uint8).reshape(-1, 3)
        except (UnicodeEncodeError, ValueError):
            raw = None
        if raw is None:
            slow += [int(i) for i in fast]
        else:
            a0, a1, sep = _GT_DIGIT[raw[:, 0]], _GT_DIGIT[raw[:, 2]], raw[:, 1]
            good = (a0 > -2) & (a1 > -2) & ((sep == ord("|")) | (sep == ord("/")))
            alleles[fast, 0] = a0
            alleles[fast, 1] = a1
            phased[fast] = sep == ord("|")
            slow += [int(i) for i in fast[~good]]
    for i in slow:
        a, b, p = _parse_one_gt(gts[i], where(i) if callable(where) else where)
        alleles[i] = a, b
        phased[i] = p
    return alleles, phased


def _parse_lines(lines: list[str], cols: Sequence[int], name: str,
                 n_cols: int | None = None, htslib: bool = False) -> _Records:
    """VCF text lines -> records of the samples in columns ``cols`` (0-based among the
    line's ``n_cols`` sample columns).

    Lines whose FORMAT is ``GT`` and whose calls all have the form ``a|b`` or ``a/b``
    with one-digit alleles (the usual phased VCF) are decoded together with numpy; the
    others one call at a time. ``name``: the file named in errors; ``htslib``: the lines
    are pysam's text of records htslib parsed (not the file's own text).

    A record with fewer sample columns than ``n_cols``, a POS that is not a positive
    integer or an unreadable genotype is a :class:`~genozarr.errors.MalformedFileError`
    naming the file and the record. GT is read wherever it is in FORMAT; a record whose
    FORMAT has no GT (or that has no FORMAT) has missing calls and is flagged in
    ``no_gt``.
    """
    n_s = len(cols)
    if not lines:
        return _Records.empty(n_s)
    n_cols = max(cols) + 1 if n_cols is None else n_cols
    width = 4 * n_cols - 1
    getter = operator.itemgetter(*cols)
    pos_text, ids, refs, alts = [], [], [], []
    fast: list[int] = []
    tails: list[str] = []
    slow: dict[int, Sequence[str]] = {}
    no_gt: list[int] = []
    missing = ["."] * n_s
    for k, line in enumerate(lines):
        f = line.rstrip("\n").split("\t", 9)
        if len(f) < 10:
            if len(f) < 8:
                raise MalformedFileError(
                    f"{name}: the record {_at(f)} has {len(f)} tab-separated column(s), a "
                    f"VCF record at least 8: {line[:80]!r}")
            if len(f) == 9:
                raise MalformedFileError(
                    f"{name}: the record {_at(f)} has no sample column after its FORMAT "
                    f"{f[8]!r}; the samples read are {n_cols}")
            slow[k] = missing  # no FORMAT: no calls
            no_gt.append(k)
        elif f[8] == "GT" and len(f[9]) == width:
            fast.append(k)
            tails.append(f[9])
        else:
            calls = _calls(f, getter, n_s, n_cols, name, htslib)
            if calls is None:
                slow[k] = missing
                no_gt.append(k)
            else:
                slow[k] = calls
        pos_text.append(f[1])
        ids.append("" if f[2] == "." else f[2])
        refs.append(f[3].upper())
        alts.append([] if f[4] == "." else f[4].upper().split(","))
    n = len(pos_text)
    try:
        pos = np.array(pos_text, dtype=np.int64)
    except (ValueError, OverflowError):
        pos = None
    if pos is None or pos.min() < 1:
        # POS 0 is VCF's telomere, for breakends and symbolic alleles (not applied: before
        # every window, they are not counted); htslib refuses a negative POS itself
        bad = [i for i, t in enumerate(pos_text)
               if not (t.isascii() and t.isdigit() and int(t) >= 1)
               and not (t == "0" and alts[i] and all(_not_a_sequence(a) for a in alts[i]))]
        if bad:
            k = bad[0]
            raise MalformedFileError(
                f"{name}: the record {_at(lines[k].split(chr(9), 2))} has the POS "
                f"{pos_text[k]!r}, not a positive integer (POS 0 is a telomere's, for a "
                "breakend or a symbolic allele only)")
    gt = np.empty((n, n_s, 2), dtype=np.int16)
    phased = np.empty((n, n_s), dtype=bool)
    if fast:
        raw = np.frombuffer(("\t".join(tails) + "\t").encode("ascii", "replace"),
                            dtype=np.uint8).reshape(len(fast), n_cols, 4)
        a0, a1, sep = _GT_DIGIT[raw[:, :, 0]], _GT_DIGIT[raw[:, :, 2]], raw[:, :, 1]
        good = ((a0 > -2) & (a1 > -2) & ((sep == ord("|")) | (sep == ord("/")))
                & (raw[:, :, 3] == ord("\t"))).all(axis=1)
        rows = np.asarray(fast, dtype=np.int64)
        ok = rows[good]
        c = np.asarray(cols, dtype=np.int64)
        gt[ok, :, 0] = a0[good][:, c]
        gt[ok, :, 1] = a1[good][:, c]
        phased[ok] = sep[good][:, c] == ord("|")
        for j in np.flatnonzero(~good):
            k = int(rows[j])
            slow[k] = _calls(lines[k].rstrip("\n").split("\t", 9), getter, n_s, n_cols,
                             name, htslib) or missing
    if slow:
        keys = sorted(slow)

        def where(i: int) -> str:
            return f"{name}: the record {_at(lines[keys[i // n_s]].split(chr(9), 2))}"

        alleles, flags = _parse_gts([g for k in keys for g in slow[k]], where)
        gt[keys] = alleles.reshape(len(keys), n_s, 2)
        phased[keys] = flags.reshape(len(keys), n_s)
    flagged = np.zeros(n, dtype=bool)
    flagged[no_gt] = True
    return _Records(pos - 1, np.fromiter(map(len, refs), dtype=np.int64, count=n), ids,
                    refs, alts, gt, phased, flagged)


def _at(f: Sequence[str]) -> str:
    """``contig:POS`` of a record split on tabs (as much of it as there is)."""
    return ":".join(f[:2]) if len(f) > 1 else repr(f[0][:40]) if f else "''"


#: pysam's text of a GT that htslib holds as 'vector end' (a sample that drops trailing
#: FORMAT fields, GT not first): a missing call
_HTSLIB_GT_END = "-65"


def _calls(f: list[str], getter: Any, n_s: int, n_cols: int, name: str = "",
           htslib: bool = False) -> Sequence[str] | None:
    """The GT values of the listed samples of one record split as ``split('\\t', 9)``
    (GT wherever it is in FORMAT; a sample that drops it: missing), or None for a
    FORMAT without GT."""
    fmt = f[8]
    values = f[9].split("\t")
    if len(values) < n_cols:
        raise MalformedFileError(
            f"{name}: the record {_at(f)} has {len(values)} sample column(s), the header "
            f"names {n_cols} sample(s)")
    if fmt == "GT" or fmt.startswith("GT:"):
        index = 0
    else:
        keys = fmt.split(":")
        if "GT" not in keys:
            return None
        index = keys.index("GT")
    picked = getter(values)
    if n_s == 1:
        picked = (picked,)
    if fmt == "GT":
        return picked
    if index == 0:
        return [x.partition(":")[0] for x in picked]
    out = []
    for x in picked:
        sub = x.split(":")
        value = sub[index] if len(sub) > index else "."
        out.append("." if htslib and value == _HTSLIB_GT_END else value)
    return out


def _concat(parts: list[_Records], n_samples: int) -> _Records:
    if not parts:
        return _Records.empty(n_samples)
    if len(parts) == 1:
        return parts[0]
    return _Records(np.concatenate([p.pos0 for p in parts]),
                    np.concatenate([p.span for p in parts]),
                    [x for p in parts for x in p.ids], [x for p in parts for x in p.refs],
                    [x for p in parts for x in p.alts], np.concatenate([p.gt for p in parts]),
                    np.concatenate([p.phased for p in parts]),
                    np.concatenate([p.no_gt for p in parts]))


# per process: open handles (per thread) and whole-file tables of unindexed files
_lock = threading.Lock()
_handles: OrderedDict[tuple[Any, ...], Any] = OrderedDict()  # least recently used first
_tables: dict[tuple[Any, ...], dict[str, _Records]] = {}
_blocks: OrderedDict[tuple[Any, ...], _Block] = OrderedDict()
_readahead: dict[tuple[Any, ...], tuple[int, int]] = {}  # (source, chrom) -> last block


def _open_vcf(path: str, name: str | None = None) -> Any:
    """``pysam.VariantFile`` of the local file ``path`` (``name``: the file or URL named in
    messages)."""
    import pysam

    from genozarr.io._handles import captured_stderr
    check_vcf_compression(path, name)
    try:
        with captured_stderr() as err:
            return pysam.VariantFile(path, "r")
    except (OSError, ValueError, NotImplementedError) as e:
        raise InputFileError(
            f"{name or path}: cannot be read as VCF/BCF: {err.reason(str(e))}") from e


def _handle(path: str, samples: tuple[str, ...] | None = None) -> Any:
    """An open ``TabixFile`` (``samples=None``) or ``VariantFile`` reading ``samples``
    only, of this process and thread."""
    from genozarr.io._handles import reuse_signature

    # a file rewritten in place (another size or time, or changed in the last seconds)
    # gets a new handle
    key = (os.getpid(), threading.get_ident(), path, samples, reuse_signature(path))
    with _lock:
        h = _handles.get(key)
        if h is not None:
            _handles.move_to_end(key)
    if h is None:
        # once per handle (the file may have been rewritten): the index that reader loads
        check_vcf_index(path, order=TABIX_INDEXES if samples is None
                        else VARIANTFILE_INDEXES)
        if samples is None:
            import pysam

            h = pysam.TabixFile(path)
        else:
            h = _open_vcf(path)
            h.subset_samples(list(samples))
        with _lock:
            _handles[key] = h
            done = _unused_handles(key)
        for old in done:
            _close_quietly(old)
    return h


def _unused_handles(keep: tuple[Any, ...]) -> list[Any]:
    """Take out of :data:`_handles` (the caller holds ``_lock``) and return the handles to
    close: this thread's handles of ``keep``'s file and samples as the file was before it
    was rewritten, then the least recently used while more are open than
    :func:`genozarr.io._handles.max_open_handles` allows, of threads (or processes) that
    ended and this thread's own but ``keep``; never another running thread's, which may be
    reading through it. Before, every handle stayed open: a build per rewritten or per new
    VCF left one more file open, until the process could open none."""
    from genozarr.io import _handles as io_handles

    pid, me = keep[0], keep[1]
    out = [_handles.pop(k) for k in list(_handles)
           if k[:4] == keep[:4] and k != keep]
    limit = io_handles._max_open
    if len(_handles) > limit:
        running = {t.ident for t in threading.enumerate()}
        for k in list(_handles):
            if len(_handles) <= limit:
                break
            if k != keep and (k[0] != pid or k[1] == me or k[1] not in running):
                out.append(_handles.pop(k))
    return out


def _close_quietly(handle: Any) -> None:
    try:
        handle.close()
    except Exception as e:  # noqa: BLE001 - a handle that cannot close is dropped anyway
        log.debug("closing %r failed: %s", handle, e)


def _vcf_layout(path: str, name: str) -> tuple[list[str], dict[str, int], str, str]:
    """Sample names, contigs (name -> length, 0 unknown), the access mode of a VCF/BCF:
    'tabix' (bgzip VCF with an index), 'fetch' (indexed BCF) or 'scan' (no index: read
    whole, once per process), and the format ('VCF' or 'BCF'). An index older than the
    file is a :class:`~genozarr.errors.StaleIndexError`."""
    vf = _open_vcf(path, name)
    try:
        fmt = str(vf.format)
        try:
            samples = list(vf.header.samples)
            contigs = {str(c): int(vf.header.contigs[c].length or 0)
                       for c in vf.header.contigs}
        except UnicodeDecodeError as e:
            raise MalformedFileError(f"{name}: its header's sample or contig names are not "
                                     f"UTF-8 text ({e.reason})") from e
        index = vf.index
        if index is not None:
            for c in index:
                contigs.setdefault(str(c), 0)
        mode = "scan"
        if index is not None:
            mode = "fetch"
            if vf.format == "VCF" and vf.compression == "BGZF":
                try:
                    import pysam

                    pysam.TabixFile(path).close()
                    mode = "tabix"
                except (OSError, ValueError):
                    pass
            # the index the records are read through (TabixFile / VariantFile)
            check_vcf_index(path, name, order=TABIX_INDEXES if mode == "tabix"
                            else VARIANTFILE_INDEXES)
    finally:
        vf.close()
    return samples, contigs, mode, fmt


# ------------------------------------------------------------------------- blocks
@dataclass
class _Block:
    """The variants of the listed samples over ``[lo, hi)`` of a chromosome, resolved
    per haplotype, with the reference they need: windows ``[start, end)`` with ``lo <=
    start`` and ``end <= hi`` are spliced from it alone."""

    chrom: str
    lo: int
    hi: int
    ref_lo: int
    ref: np.ndarray             # uint8 codes of [ref_lo, ref_lo + len(ref))
    rec: _Records
    end: np.ndarray             # pos0 + span
    max_span: int
    applied: np.ndarray         # int16 (n, n_hap): ALT index applied, 0 none
    ambiguous: np.ndarray       # bool (n, n_samples): unphased het calls (unphased='error')
    snv: np.ndarray             # bool (n, K + 1): allele is a single-base substitution
    snv_code: np.ndarray        # uint8 (n, K + 1)
    alt_codes: list[list[np.ndarray] | None]   # per record and allele (None: snv_code)
    ev_rec: np.ndarray          # skipped calls: record, haplotype, reason index
    ev_hap: np.ndarray
    ev_reason: np.ndarray


def _resolve_overlaps(pos0: np.ndarray, end: np.ndarray, applied: np.ndarray
                      ) -> list[tuple[int, int]]:
    """Per haplotype, in position order, unset calls whose REF span overlaps a call
    already applied; return the ``(record, haplotype)`` pairs unset."""
    n = len(pos0)
    if n < 2:
        return []
    reach = np.maximum.accumulate(end)
    linked = pos0[1:] < reach[:-1]
    if not linked.any():
        return []
    group = np.concatenate([[0], np.cumsum(~linked)])
    rows = np.flatnonzero(np.bincount(group)[group] > 1)
    carried = applied[rows] > 0
    out = []
    for h in np.flatnonzero(carried.sum(axis=0) >= 2):
        last_end = None
        last_group = -1
        for r in rows[carried[:, h]]:
            if group[r] == last_group and last_end is not None and pos0[r] < last_end:
                applied[r, h] = 0
                out.append((int(r), int(h)))
            else:
                last_end, last_group = int(end[r]), int(group[r])
    return out


def _line_at(line: str) -> str:
    return _at(line.split("\t", 2))


def _describe(rec: _Records, r: int, chrom: str) -> str:
    alts = ",".join(rec.alts[r]) or "."
    name = f" {rec.ids[r]}" if rec.ids[r] else ""
    return f"{chrom}:{int(rec.pos0[r]) + 1}{name} {rec.refs[r]}>{alts}"


class PersonalSource(Source):
    """Personal window sequences of listed samples' haplotypes, as uint8 codes.

    ``read(chrom, start, end)`` gives ``(end - start, 1, 2 * n_samples)``: one column per
    sample and haplotype (``sample|0``, ``sample|1``, in the order of ``samples``). The
    source holds paths and options only; each process reads the VCF in blocks (through
    its index, or whole once per process for a file without one) and keeps the last
    blocks it read.

    Parameters
    ----------
    fasta
        Reference genome: FASTA (indexed on demand) or 2bit, a path or a URL (read through
        :class:`~genozarr.sources.FastaSource`).
    variants
        VCF (plain or bgzip, indexed or not) or BCF file, a path or a URL (fetched with its
        index by :func:`~genozarr.sources.as_file_list`).
    samples
        Samples to store; None takes every sample of the file.
    unphased
        Rule for unphased heterozygous calls: 'error', 'ref' or 'alt'.
    """

    kind = "sequence"
    positional = False  # a window follows its haplotype, not the reference's positions

    def __init__(self, fasta: str, variants: str, samples: Sequence[str] | None = None,
                 unphased: str = "error") -> None:
        from genozarr._kernels import invalid_code
        from genozarr.io._handles import file_signature
        from genozarr.io._remote import localize
        from genozarr.sources import FastaSource

        if unphased not in UNPHASED_RULES:
            raise ArgumentError(f"unphased must be one of {UNPHASED_RULES}, got {unphased!r}")
        self.reference = FastaSource(fasta, "dna")
        self.fasta = fasta
        self.variants = variants
        #: the local file read for ``variants`` (itself, or the copy of a URL), absolute:
        #: build tasks run where the working directory may be another
        self.vcf_path = os.path.abspath(localize(variants, "VCF/BCF"))
        self.input_state = self.reference.input_state
        self.record_inputs([self.vcf_path])
        self.unphased = unphased
        file_samples, self._contigs, self.mode, fmt = _vcf_layout(self.vcf_path, variants)
        if samples is None:
            samples = file_samples
        elif isinstance(samples, str):
            samples = [samples]
        samples = [str(s) for s in samples]
        if not file_samples:
            raise ArgumentError(f"{variants}: the file has no samples (genotype columns); "
                                "personal genomes need phased genotypes")
        if not samples:
            raise ArgumentError(
                f"samples={samples!r} lists no sample; list some of the file's "
                f"{len(file_samples)} samples ({file_samples[:5]}"
                f"{' ...' if len(file_samples) > 5 else ''}) or pass samples=None for all "
                f"of them ({variants})")
        dup = sorted({s for s in samples if samples.count(s) > 1})
        if dup:
            raise ArgumentError(f"samples lists {dup} more than once")
        absent = [s for s in samples if s not in file_samples]
        if absent:
            raise ArgumentError(
                f"{variants}: samples {absent[:5]} are not in the file; it has "
                f"{file_samples[:10]}" + (f" and {len(file_samples) - 10} more"
                                          if len(file_samples) > 10 else ""))
        self.samples = samples
        #: lines read with every sample column of the file (a bgzip VCF through tabix, a
        #: text VCF scanned whole: a record that lacks one is an error, whichever samples
        #: are listed); else with the listed samples only (BCF, through pysam)
        self.all_columns = self.mode == "tabix" or (self.mode == "scan" and fmt == "VCF")
        if self.all_columns:  # lines hold every sample of the file
            order = {s: i for i, s in enumerate(file_samples)}
        else:  # records read with subset_samples: the listed ones, in file order
            kept = [s for s in file_samples if s in set(samples)]
            order = {s: i for i, s in enumerate(kept)}
        self.columns = [order[s] for s in samples]
        #: sample columns of the lines read (every sample of the file, or the listed ones)
        self.n_columns = len(order)
        self.files = [fasta, variants]
        self.conditions = condition_names(samples)
        self.strands = ["."]
        self.dtype = "uint8"
        self.read_itemsize = 1
        self.seqtype = "dna"
        self.pad_value = invalid_code("dna")
        self.collapser = "max"
        self._sizes = self.reference.file_chrom_sizes(0)
        self._signature = (file_signature(self.vcf_path), self.mode,
                           tuple(file_signature(self.vcf_path + s) for s in (".tbi", ".csi")),
                           self.reference.paths[0], file_signature(self.reference.paths[0]))
        self.absent: frozenset[str] = frozenset()
        if self.mode == "scan":
            # read whole anyway: its contigs are those of its records too (a VCF need
            # not list them in ##contig lines, and without an index nothing else does)
            for chrom in self._table():
                self._contigs.setdefault(str(chrom), 0)

    # ------------------------------------------------------------------ Source interface
    @property
    def n_haplotypes(self) -> int:
        """Columns per window: ``2 * len(samples)``."""
        return HAPLOTYPES * len(self.samples)

    def file_chrom_sizes(self, i: int) -> dict[str, int]:
        """The FASTA's chromosome sizes (``i=0``) or the VCF's contigs (``i=1``, with
        length 0: the lengths are the FASTA's).

        Parameters
        ----------
        i
            0 for the reference genome; any other value (1) for the VCF/BCF file.

        Returns
        -------
        dict[str, int]
            ``{chrom: length in bases}`` (a new dict), the lengths 0 for the VCF.

        See Also
        --------
        genozarr.ingest.Source.file_chrom_sizes
        """
        return dict(self._sizes) if i == 0 else dict.fromkeys(self._contigs, 0)

    def resolve_chroms(self, chroms: list[str], mapping: Any = None) -> None:
        """Match region chromosome names to the FASTA's (all needed) and the VCF's (a
        chromosome the VCF lacks has no variants: every haplotype is the reference).

        A dict ``mapping`` renames a chromosome in the file that uses the new name: an
        entry whose key the file has and whose value it lacks is left out for that file,
        so ``{'chr1': '1'}`` matches a FASTA of ``chr1`` and a VCF of ``1``.

        Sets ``chrom_names`` (``[FASTA names, VCF names]``) and ``absent`` (the
        region chromosomes the VCF lacks).

        Parameters
        ----------
        chroms
            Chromosome names of the regions.
        mapping
            None: names must match; ``'auto'``: ``chr1``/``1`` and ``chrM``/``MT`` twins
            match; a dict: ``{region name: file name}`` renames, applied per file as
            above.

        Raises
        ------
        ChromosomeNotFoundError
            If the reference genome lacks a chromosome of the regions.
        ChromosomeNamingError
            If names differ only by the ``chr`` prefix and no mapping (or a dict that
            does not map them) was given.

        Warns
        -----
        MissingChromosomeWarning
            Once, when the VCF has contigs but none of the regions' chromosomes.

        See Also
        --------
        genozarr.ingest.Source.resolve_chroms
        """
        from genozarr.genome import chrom_mapping, match_chroms

        def per_file(names: Any) -> Any:
            if not isinstance(mapping, dict):
                return mapping
            have = set(names)
            return {k: v for k, v in mapping.items() if v in have or k not in have}

        try:
            fa = chrom_mapping(chroms, self._sizes, self.fasta, per_file(self._sizes))
            vcf, missing = match_chroms(chroms, list(self._contigs), self.variants,
                                        per_file(self._contigs))
        except ChromosomeNamingError as e:
            if not isinstance(mapping, dict):
                raise
            # (the message asked for "an explicit dict" of one who gave one the other way
            # round: VariantStreamer's dict maps VCF names to the genome's)
            raise ChromosomeNamingError(
                f"{e} The chrom_map given, {dict(list(mapping.items())[:5])}, maps none of "
                "these: here it maps the regions' (genome's) chromosome names to a file's, "
                "e.g. {'chr1': '1'} for a FASTA of chr1 and a VCF of 1") from None
        self.chrom_names = [fa, vcf]
        self.absent = frozenset(missing)
        if missing and len(set(missing)) == len(set(chroms)) and self._contigs:
            # not one chromosome of the regions in the VCF: every window would be the
            # reference, most likely a naming or genome-build mismatch (warned once: the
            # windows are matched before the calls are checked, and again to build; names
            # that differ by a 'chr' prefix only are an error of match_chroms)
            if getattr(self, "_warned_absent", None) == missing:
                return
            self._warned_absent = missing
            warn(f"{self.variants} has no contig of the regions' chromosomes {missing[:5]} "
                 f"(its contigs: {list(self._contigs)[:5]}): every window is the reference "
                 "for every haplotype. Is it the genome's build? Contigs named otherwise "
                 "can be renamed with 'bcftools annotate --rename-chrs'",
                 MissingChromosomeWarning)
        elif missing:
            log.info("%s has no variants on %s: those windows are the reference for every "
                     "haplotype", self.variants, missing[:10])

    def read_file(self, i: int, chrom: str, start: int, end: int) -> np.ndarray:
        """Reference codes of the FASTA (``i=0``) on ``[start, end)`` of its chromosome
        ``chrom``, ``(end - start, 1, 1)``, ``N`` outside it; the VCF (``i=1``) has no values
        of its own.

        Parameters
        ----------
        i
            Must be 0 (the reference genome).
        chrom
            Chromosome as the FASTA names it.
        start, end
            0-based half-open interval, in bases.

        Returns
        -------
        numpy.ndarray
            uint8 codes of shape ``(end - start, 1, 1)``.

        Raises
        ------
        ArgumentError
            For ``i != 0``: the VCF is read through :meth:`read`.

        See Also
        --------
        genozarr.sources.FastaSource.read_file
        """
        if i != 0:
            raise ArgumentError("the VCF of a PersonalSource is read through read()")
        return self.reference.read_file(0, chrom, start, end)

    def read(self, chrom: str, start: int, end: int) -> np.ndarray:
        """Personal sequences of the window ``[start, end)`` of region chromosome
        ``chrom``: ``(end - start, 1, 2 * n_samples)`` uint8 codes.

        Parameters
        ----------
        chrom
            Region chromosome name.
        start, end
            0-based half-open window, in reference coordinates (flank included); the
            window keeps its length and reference start (see :mod:`genozarr.personal`).

        Returns
        -------
        numpy.ndarray
            uint8 codes of shape ``(end - start, 1, 2 * n_samples)``: one column per
            sample and haplotype, in the order of :attr:`conditions`.

        Raises
        ------
        UnphasedGenotypeError
            With ``unphased='error'``, for an unphased heterozygous call of a listed
            sample in the window.
        """
        start, end = int(start), int(end)
        block = self.block(chrom, start, end)
        return splice_window(block, start, end, self).reshape(end - start, 1, -1)

    def read_binned(self, chrom: str, start: int, end: int, resolution: int) -> np.ndarray:
        """Not defined: personal genomes have no whole-genome layout.

        Parameters
        ----------
        chrom
            Region chromosome name.
        start, end
            0-based half-open interval, in bases.
        resolution
            Bases per bin.

        Returns
        -------
        numpy.ndarray
            Never: the call always raises.

        Raises
        ------
        ArgumentError
            Always (build with ``store_whole_genome=False``).
        """
        raise ArgumentError("personal genomes are stored per window (store_whole_genome=False)")

    # ------------------------------------------------------------------ VCF access
    def _key(self) -> tuple[Any, ...]:
        return (self.variants, self.fasta, tuple(self.samples), self.unphased,
                self._signature)

    def _fetch(self, vchrom: str, start: int, end: int) -> _Records:
        """Records whose REF span overlaps ``[start, end)`` of VCF contig ``vchrom``."""
        start = max(int(start), 0)
        if end <= start:
            return _Records.empty(len(self.samples))
        if self.mode == "scan":
            table = self._table().get(vchrom)
            if table is None:
                return _Records.empty(len(self.samples))
            return table.overlapping(start, end, int(table.span.max()))
        if self.mode == "tabix":
            tb = _handle(self.vcf_path)
            try:
                found = tb.fetch(vchrom, start, end)
            except ValueError:  # a contig the index lacks: no records
                found = iter(())
            lines = list(read_checked(found, self.variants, _line_at))
            recs = _parse_lines(lines, self.columns, self.variants, self.n_columns)
        else:
            vf = _handle(self.vcf_path, tuple(self.samples))
            try:
                found = vf.fetch(vchrom, start, end)
            except ValueError:
                found = iter(())
            lines = [str(r) for r in read_checked(found, self.variants, _record_at)]
            recs = _parse_lines(lines, self.columns, self.variants, self.n_columns,
                                htslib=True)
        if len(recs) and (np.any(np.diff(recs.pos0) < 0)):
            recs = recs.take(np.argsort(recs.pos0, kind="stable"))
        keep = recs.pos0 + recs.span > start
        return recs if keep.all() else recs.take(np.flatnonzero(keep))

    def _table(self) -> dict[str, _Records]:
        """Every record of an unindexed file, per contig (read once per process)."""
        key = (self._key(), tuple(self.columns))
        with _lock:
            table = _tables.get(key)
        if table is not None:
            return table
        vf = _open_vcf(self.vcf_path, self.variants)
        try:
            if not self.all_columns:
                vf.subset_samples(self.samples)
            lines: dict[str, list[str]] = {}
            # htslib warns on stderr of each contig the header does not list (the file
            # is valid without ##contig lines); read_checked keeps that at debug level,
            # and turns a record htslib cannot parse into a MalformedFileError
            for r in read_checked(vf, self.variants, _record_at):
                lines.setdefault(r.chrom, []).append(str(r))
        finally:
            vf.close()
        table = {}
        for chrom, chunk in lines.items():
            recs = _parse_lines(chunk, self.columns, self.variants, self.n_columns,
                                htslib=True)
            if np.any(np.diff(recs.pos0) < 0):
                recs = recs.take(np.argsort(recs.pos0, kind="stable"))
            table[chrom] = recs
        n = sum(len(v) for v in table.values())
        if n > 200_000:
            log.info("%s has no index: its %d records are held in memory by every ingest "
                     "process; compress and index it (bgzip + tabix) to read it by blocks",
                     self.variants, n)
        with _lock:
            _tables.clear()  # one unindexed file at a time per process
            _tables[key] = table
        return table

    # ------------------------------------------------------------------ blocks
    def block(self, chrom: str, start: int, end: int) -> _Block:
        """A block covering the window ``[start, end)`` (cached per process).

        A cached block that covers the window is reused; otherwise a block from ``start``
        is read with :meth:`load_block`, longer when the windows are read in order.

        Parameters
        ----------
        chrom
            Region chromosome name.
        start, end
            0-based half-open window, in bases.

        Returns
        -------
        _Block
            The resolved variants and the reference over ``[lo, hi)``, ``lo <= start``
            and ``end <= hi``.
        """
        key = self._key()
        with _lock:
            for (k, c, lo, hi), blk in reversed(_blocks.items()):
                if k == key and c == chrom and lo <= start and end <= hi:
                    _blocks.move_to_end((k, c, lo, hi))
                    return blk
        # read-ahead: a miss right after the last block of the chromosome (windows read in
        # order, as an ingest task reads its rows) doubles the block, up to the larger of
        # _BLOCK_BASES and _BLOCK_WINDOWS windows; any other miss reads a small block
        n = end - start
        with _lock:
            last_hi, last_len = _readahead.get((key, chrom), (None, 0))
        small = min(_BLOCK_BASES, 4 * n)
        if last_hi is not None and last_hi - n <= start <= last_hi + n:
            length = min(max(2 * last_len, small), max(_BLOCK_BASES, _BLOCK_WINDOWS * n))
        else:
            length = small
        hi = max(end, start + length)
        blk = self.load_block(chrom, start, hi)
        with _lock:
            _blocks[(key, chrom, start, hi)] = blk
            while len(_blocks) > _MAX_BLOCKS:
                _blocks.popitem(last=False)
            _readahead[(key, chrom)] = (hi, hi - start)
            while len(_readahead) > 64:
                _readahead.pop(next(iter(_readahead)))
        return blk

    def load_block(self, chrom: str, lo: int, hi: int) -> _Block:
        """Read and resolve the variants over ``[lo, hi)`` of region chromosome
        ``chrom``: the records overlapping it, those linked to them by overlaps on the
        left (so that per-haplotype overlap decisions are the same in every block) and
        those that deletions pull in from the right.

        Parameters
        ----------
        chrom
            Region chromosome name.
        lo, hi
            0-based half-open interval, in bases.

        Returns
        -------
        _Block
            The variants resolved per haplotype over ``[lo, hi)``, with the reference
            codes they need (from the leftmost linked record to past ``hi`` by the
            deletions' lengths).
        """
        n_s = len(self.samples)
        vchrom = None if chrom in self.absent else self.chrom_names[1][chrom]
        a, b = lo, hi
        while True:
            recs = self._fetch(vchrom, a, b) if vchrom is not None else _Records.empty(n_s)
            if len(recs) and int(recs.pos0[0]) < a:
                a = int(recs.pos0[0])
                continue
            grow = int((recs.span - 1).sum()) if len(recs) else 0
            if hi + grow > b:
                b = hi + grow
                continue
            break
        ref_lo = min(lo, a)
        fchrom = self.chrom_names[0][chrom]
        ref = self.read_file(0, fchrom, ref_lo, b).reshape(-1)
        return _resolve(self, chrom, lo, hi, ref_lo, ref, recs)


def _resolve(src: PersonalSource, chrom: str, lo: int, hi: int, ref_lo: int,
             ref: np.ndarray, rec: _Records) -> _Block:
    """Classify alleles, check REF against the genome, phase calls, resolve overlaps."""
    from genozarr._kernels import encode_sequence

    n, n_s = len(rec), len(src.samples)
    n_hap = HAPLOTYPES * n_s
    k = max((len(a) for a in rec.alts), default=0)
    kind = np.full((n, k + 1), _EMPTY, dtype=np.int8)
    kind[:, 0] = _OK
    snv = np.zeros((n, k + 1), dtype=bool)
    snv_code = np.zeros((n, k + 1), dtype=np.uint8)
    alt_codes: list[list[np.ndarray] | None] = [None] * n
    mismatch = np.zeros(n, dtype=bool)
    # biallelic single-base records (most of a VCF), all at once
    single = np.fromiter((len(a) == 1 and len(a[0]) == 1 for a in rec.alts), dtype=bool,
                         count=n) & (rec.span == 1)
    rows = np.flatnonzero(single)
    if len(rows):
        ref_b = np.frombuffer("".join([rec.refs[r] for r in rows]).encode("ascii", "replace"),
                              dtype=np.uint8)
        alt_b = np.frombuffer("".join([rec.alts[r][0] for r in rows]).encode("ascii", "replace"),
                              dtype=np.uint8)
        acgtn = np.frombuffer(b"ACGTN", dtype=np.uint8)
        ref_ok, alt_ok = np.isin(ref_b, acgtn), np.isin(alt_b, acgtn)
        good = ref_ok & alt_ok
        kind[rows, 1] = np.where(alt_b == ord("*"), _EMPTY, np.where(good, _OK, _NON_ACGTN))
        snv[rows, 1] = good
        snv_code[rows, 1] = encode_sequence(alt_b)
        mismatch[rows] = ref_ok & (ref[rec.pos0[rows] - ref_lo] != encode_sequence(ref_b))
    for r in np.flatnonzero(~single).tolist():
        ref_allele = rec.refs[r]
        ref_ok = _ACGTN.fullmatch(ref_allele) is not None
        codes_r: list[np.ndarray] = [np.zeros(0, np.uint8)]
        for j, alt in enumerate(rec.alts[r], 1):
            if alt in ("*", "."):
                codes_r.append(np.zeros(0, np.uint8))
                continue
            if _symbolic(alt):
                kind[r, j] = _SYMBOLIC
            elif not ref_ok or _ACGTN.fullmatch(alt) is None:
                kind[r, j] = _NON_ACGTN
            else:
                kind[r, j] = _OK
            code = encode_sequence(alt) if kind[r, j] == _OK else np.zeros(0, np.uint8)
            codes_r.append(code)
            if kind[r, j] == _OK and len(ref_allele) == 1 and len(alt) == 1:
                snv[r, j] = True
                snv_code[r, j] = code[0]
        alt_codes[r] = codes_r
        if ref_ok:
            at = int(rec.pos0[r]) - ref_lo
            got = ref[at:at + len(ref_allele)]
            mismatch[r] = len(got) != len(ref_allele) or not np.array_equal(
                got, encode_sequence(ref_allele))
    # calls: phase, unphased rule, missing alleles
    gt = rec.gt.astype(np.int16, copy=True)
    g0, g1 = gt[..., 0], gt[..., 1]
    n_alts = np.fromiter(map(len, rec.alts), dtype=np.int64, count=n)
    beyond = gt.max(axis=-1, initial=0) > n_alts[:, None]
    if beyond.any():
        r, s = (int(x[0]) for x in np.nonzero(beyond))
        raise MalformedFileError(
            f"{src.variants}: sample {src.samples[s]!r} calls allele "
            f"{int(gt[r, s].max())} at {_describe(rec, r, chrom)}, which has "
            f"{len(rec.alts[r])} ALT allele(s)")
    ambiguous = ~rec.phased & (g0 != g1) & (np.maximum(g0, g1) > 0)
    flagged = np.zeros((n, n_s), dtype=bool)
    if ambiguous.any():
        if src.unphased == "error":
            flagged = ambiguous
            g0[ambiguous] = 0
            g1[ambiguous] = 0
        elif src.unphased == "ref":
            g0[ambiguous] = 0
            g1[ambiguous] = 0
        else:  # 'alt'
            one = ambiguous & ~((g0 > 0) & (g1 > 0))
            top = np.maximum(g0, g1)
            g0[one] = top[one]
            g1[one] = top[one]
    gt[gt < 0] = 0
    applied = gt.reshape(n, n_hap)
    # '*' and '.' ALT alleles carry nothing; the other calls not applied are counted
    carried_kind = np.take_along_axis(kind, applied.astype(np.int64), axis=1)
    applied[carried_kind == _EMPTY] = 0
    bad = (applied > 0) & ((carried_kind != _OK) | mismatch[:, None])
    ev_rec, ev_hap = np.nonzero(bad)
    ev_reason = np.where(mismatch[ev_rec], REASONS.index(MISMATCH),
                         np.where(carried_kind[ev_rec, ev_hap] == _SYMBOLIC,
                                  REASONS.index(SYMBOLIC), REASONS.index(NON_ACGTN)))
    applied[bad] = 0
    if rec.no_gt.any():  # FORMAT without GT: every call of the record is missing
        g_rec = np.repeat(np.flatnonzero(rec.no_gt), n_hap)
        ev_rec = np.concatenate([ev_rec, g_rec])
        ev_hap = np.concatenate([ev_hap, np.tile(np.arange(n_hap), len(g_rec) // n_hap)])
        ev_reason = np.concatenate([ev_reason, np.full(len(g_rec), REASONS.index(NO_GT))])
    end = rec.pos0 + rec.span
    over = _resolve_overlaps(rec.pos0, end, applied)
    if over:
        o_rec, o_hap = (np.array(x, dtype=np.int64) for x in zip(*over))
        ev_rec = np.concatenate([ev_rec, o_rec])
        ev_hap = np.concatenate([ev_hap, o_hap])
        ev_reason = np.concatenate([ev_reason, np.full(len(o_rec), REASONS.index(OVERLAP))])
    return _Block(chrom, lo, hi, ref_lo, ref, rec, end, int(rec.span.max(initial=1)),
                  applied, flagged, snv, snv_code, alt_codes, ev_rec.astype(np.int64),
                  ev_hap.astype(np.int64), ev_reason.astype(np.int64))


def _window_records(block: _Block, start: int, end: int) -> np.ndarray:
    """Rows of the block's records a window ``[start, end)`` may use: those overlapping
    it and those its deletions pull in from the right."""
    pos0 = block.rec.pos0
    i0 = int(np.searchsorted(pos0, start - block.max_span, side="left"))
    extra = 0
    while True:
        i1 = int(np.searchsorted(pos0, end + extra, side="left"))
        rows = np.arange(i0, i1)
        rows = rows[block.end[rows] > start]
        grow = int((block.rec.span[rows] - 1).sum())
        if grow <= extra:
            return rows
        extra = grow


def _unphased_error(src: PersonalSource, block: _Block, rows: np.ndarray) -> None:
    hit = block.ambiguous[rows]
    if not hit.any():
        return
    i, s = (int(x[0]) for x in np.nonzero(hit))
    r = int(rows[i])
    a, b = (int(x) for x in block.rec.gt[r, s])
    call = "/".join("." if x < 0 else str(x) for x in (a, b))
    raise UnphasedGenotypeError(
        f"{src.variants}: sample {src.samples[s]!r} has the unphased genotype {call} at "
        f"{_describe(block.rec, r, block.chrom)}; personal sequences need phased genotypes "
        "('0|1') to know which haplotype carries the ALT allele. Phase the file (SHAPEIT, "
        "Beagle, WhatsHap), or pass unphased='ref' (keep the reference on both haplotypes) "
        "or unphased='alt' (the ALT allele on both)")


def splice_window(block: _Block, start: int, end: int, src: PersonalSource) -> np.ndarray:
    """Personal sequences ``(end - start, n_haplotypes)`` of a window from its block.

    Haplotypes with only SNVs inside the window (most of them) are the reference window
    with the ALT bases written in place, all at once; the others are spliced one by one:
    reference, ALT allele, reference after the REF allele, ... until the window is full.
    """
    n = end - start
    rows = _window_records(block, start, end)
    ref, ref_lo = block.ref, block.ref_lo
    n_hap = block.applied.shape[1]
    out = np.empty((n, n_hap), dtype=np.uint8)
    out[...] = ref[start - ref_lo:end - ref_lo, None]
    if not len(rows):
        return out
    pos0 = block.rec.pos0[rows]
    _unphased_error(src, block, rows[pos0 < end])
    applied = block.applied[rows]
    is_snv = np.take_along_axis(block.snv[rows], applied.astype(np.int64), axis=1)
    carried = applied > 0
    inside = (pos0 >= start) & (pos0 < end)
    r, h = np.nonzero(carried & is_snv & inside[:, None])
    if len(r):
        out[pos0[r] - start, h] = block.snv_code[rows[r], applied[r, h]]
    # haplotypes with an indel or MNV reaching into the window, or any variant starting
    # before it: spliced one by one
    before = pos0 < end
    complex_ = (carried & ~is_snv & before[:, None]).any(axis=0)
    for hap in np.flatnonzero(complex_):
        out[:, hap] = _walk(block, rows, applied[:, hap], start, end)
    return out


def _walk(block: _Block, rows: np.ndarray, alleles: np.ndarray, start: int,
          end: int) -> np.ndarray:
    """One haplotype's window: reference and ALT alleles in position order (see the
    module's window rule)."""
    n = end - start
    ref, ref_lo = block.ref, block.ref_lo
    pieces: list[np.ndarray] = []
    filled = 0
    cursor = start
    for i in np.flatnonzero(alleles > 0):
        r = int(rows[i])
        s, e = int(block.rec.pos0[r]), int(block.end[r])
        j = int(alleles[i])
        codes = block.alt_codes[r]
        alt = block.snv_code[r, j:j + 1] if codes is None else codes[j]
        if s < start:  # overlaps the window start: the ALT bases from the window start on
            part = alt[start - s:]
        else:
            if s - cursor >= n - filled:
                break
            pieces.append(ref[cursor - ref_lo:s - ref_lo])
            filled += s - cursor
            part = alt
        pieces.append(part)
        filled += len(part)
        cursor = e
        if filled >= n:
            break
    if filled < n:
        pieces.append(ref[cursor - ref_lo:cursor - ref_lo + n - filled])
    seq = np.concatenate(pieces) if pieces else np.zeros(0, np.uint8)
    return seq[:n]


# ------------------------------------------------------------------------- checks
def check_calls(source: PersonalSource, gindexer: GenomicIndexer) -> Counter[str]:
    """Check the calls of the records overlapping the windows, in this process, before the
    build: raise for an unphased heterozygous call (``unphased='error'``), and count the
    calls that will not be applied.

    Parameters
    ----------
    source
        The source, its chromosomes resolved.
    gindexer
        The windows.

    Returns
    -------
    collections.Counter
        Skipped calls (record x sample x haplotype) per reason (:data:`REASONS`).
    """
    counts: Counter[str] = Counter()
    records: set[tuple[Any, ...]] = set()
    seen: set[tuple[Any, ...]] = set()
    chrs, starts, ends, _ = gindexer.as_arrays()
    chrs = chrs.astype(str)
    for chrom in dict.fromkeys(chrs.tolist()):
        if chrom in source.absent:
            continue
        sel = chrs == chrom
        s, e = starts[sel], ends[sel]
        order = np.argsort(s, kind="stable")
        s, e = s[order], e[order]
        reach = np.maximum.accumulate(e)
        first = np.ones(len(s), dtype=bool)
        first[1:] = s[1:] > reach[:-1]
        last = np.r_[np.flatnonzero(first)[1:] - 1, len(s) - 1]
        for lo, hi in zip(s[first].tolist(), reach[last].tolist()):
            for p0 in range(lo, hi, _BLOCK_BASES):
                p1 = min(p0 + _BLOCK_BASES, hi)
                block = source.load_block(chrom, p0, p1)
                rows = np.flatnonzero((block.rec.pos0 < p1) & (block.end > p0))
                if not len(rows):
                    continue
                _unphased_error(source, block, rows)
                mine = np.isin(block.ev_rec, rows)
                for r, h, why in zip(block.ev_rec[mine].tolist(), block.ev_hap[mine].tolist(),
                                     block.ev_reason[mine].tolist()):
                    rec_key = (chrom, int(block.rec.pos0[r]), block.rec.refs[r],
                               tuple(block.rec.alts[r]), block.rec.ids[r])
                    key = (*rec_key, h)
                    if key in seen:
                        continue
                    seen.add(key)
                    records.add(rec_key)
                    counts[REASONS[why]] += 1
    if counts:
        detail = ", ".join(f"{counts[r]} {r}" for r in REASONS if counts[r])
        warn(f"{source.variants}: {sum(counts.values())} ALT call(s) (record x sample x "
             f"haplotype) of {len(records)} record(s) were not applied, and those haplotypes "
             f"keep the reference there: {detail}", SkippedCallsWarning)
    return counts


# ------------------------------------------------------------------------- dataset
def _unique(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values and the inverse index, without a sort for sorted input (the items
    of a batch are sorted, and a window's items are neighbours)."""
    if len(w) > 1 and bool((w[1:] >= w[:-1]).all()):
        new = np.empty(len(w), dtype=bool)
        new[0] = True
        np.not_equal(w[1:], w[:-1], out=new[1:])
        return w[new], np.cumsum(new) - 1
    values, inverse = np.unique(w, return_inverse=True)
    return values, inverse.reshape(-1)


class PersonalBioseq(Bioseq):
    """One-hot personal sequences: every window for every sample and haplotype.

    Items are ``(window, sample, haplotype)`` triples flattened window-major: item ``i``
    is window :meth:`window_of` ``(i) = i // (2 * n_samples)``, sample :meth:`sample_of`
    ``(i)`` and haplotype :meth:`haplotype_of` ``(i)``. ``ds[i]`` has the shape of a
    :class:`~genozarr.dataset.Bioseq` item, ``(length - order + 1, 1, 4**order)``;
    minus-strand windows are reverse-complemented. ``len(ds) = n_windows * n_samples * 2``
    (fewer after :meth:`subset`).

    Built by :func:`create_personal` (``Bioseq.create_from_refgenome(...,
    variants=..., samples=...)``), or reopened with :func:`genozarr.open_dataset`.

    Parameters
    ----------
    *args, **kwargs
        Passed to :class:`~genozarr.dataset.Bioseq` (``name``, ``gindexer``, ``store``,
        ``order``, ``seqtype``, ``channel_last``, ...). The store's conditions must be
        ``sample|0``, ``sample|1``, ... (else :class:`~genozarr.errors.ArgumentError`).
    samples
        The samples the store must hold, in its order (a check: another list raises
        :class:`~genozarr.errors.ArgumentError`); None takes the store's.

    Attributes
    ----------
    samples
        Sample names, in the store's order.
    skipped
        Calls not applied at build time, per reason (empty for a reopened dataset).
    """

    def __init__(self, *args: Any, samples: Sequence[str] | None = None, **kwargs: Any) -> None:
        self._items: np.ndarray | None = None
        super().__init__(*args, **kwargs)
        conds = [str(c) for c in self.garray.meta.conditions]
        parsed = [c.rsplit("|", 1)[0] for c in conds[::HAPLOTYPES]]
        if (len(conds) % HAPLOTYPES or not conds
                or conds != condition_names(parsed)):
            raise ArgumentError(
                f"store {self.garray.path or self.name!r} is not a personal-genome store: its "
                f"conditions {conds[:4]} are not 'sample|0', 'sample|1', ...")
        if samples is not None and list(samples) != parsed:
            raise ArgumentError(f"samples {list(samples)} differ from the store's {parsed}")
        self.samples: list[str] = parsed
        self.skipped: Counter[str] = Counter()

    # ------------------------------------------------------------------ index
    @property
    def items_per_window(self) -> int:
        """Items per window: ``2 * len(samples)``."""
        return HAPLOTYPES * len(self.samples) if hasattr(self, "samples") \
            else len(self.garray.meta.conditions)

    def _set_windows(self, gindexer: GenomicIndexer, rows: np.ndarray | None = None) -> None:
        if self.garray.whole_genome:
            raise ArgumentError("personal genomes are stored per window, not whole-genome")
        super()._set_windows(gindexer, rows)
        self._items = None

    def __len__(self) -> int:
        if self._items is not None:
            return len(self._items)
        return len(self.gindexer) * self.items_per_window

    def _ids(self, idx: Any) -> np.ndarray:
        """Flat ``window * items_per_window + condition`` ids of items ``idx``."""
        idx = np.asarray(idx, dtype=np.int64)
        n = len(self)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"index out of range for {type(self).__name__} of length {n}")
        idx = idx % n if idx.size else idx
        return idx if self._items is None else self._items[idx]

    def window_of(self, i: Any) -> Any:
        """Window (index into :attr:`gindexer`) of item(s) ``i``.

        Parameters
        ----------
        i
            Item index(es) of this dataset (negative ones count from the end).

        Returns
        -------
        int or numpy.ndarray
            An int for a scalar ``i``, else an int64 array of the shape of ``i``.

        Raises
        ------
        IndexError
            For an index out of range.
        """
        out = self._ids(i) // self.items_per_window
        return int(out) if np.ndim(out) == 0 else out

    def condition_of(self, i: Any) -> Any:
        """Stored condition (``sample|haplotype`` column) of item(s) ``i``.

        Parameters
        ----------
        i
            Item index(es) of this dataset (negative ones count from the end).

        Returns
        -------
        int or numpy.ndarray
            Position along the store's condition axis (``sample * 2 + haplotype``): an
            int for a scalar ``i``, else an int64 array of the shape of ``i``.

        Raises
        ------
        IndexError
            For an index out of range.
        """
        out = self._ids(i) % self.items_per_window
        return int(out) if np.ndim(out) == 0 else out

    def sample_of(self, i: Any) -> Any:
        """Sample name(s) of item(s) ``i``.

        Parameters
        ----------
        i
            Item index(es) of this dataset (negative ones count from the end).

        Returns
        -------
        str or numpy.ndarray
            A str for a scalar ``i``, else an object array of names of the shape of
            ``i``.

        Raises
        ------
        IndexError
            For an index out of range.
        """
        c = np.asarray(self.condition_of(i)) // HAPLOTYPES
        names = np.asarray(self.samples, dtype=object)[c]
        return str(names) if np.ndim(names) == 0 else names

    def haplotype_of(self, i: Any) -> Any:
        """Haplotype(s) (0 or 1) of item(s) ``i``.

        Parameters
        ----------
        i
            Item index(es) of this dataset (negative ones count from the end).

        Returns
        -------
        int or numpy.ndarray
            An int for a scalar ``i``, else an int64 array of the shape of ``i``.

        Raises
        ------
        IndexError
            For an index out of range.
        """
        out = np.asarray(self.condition_of(i)) % HAPLOTYPES
        return int(out) if np.ndim(out) == 0 else out

    def index_of(self, window: Any, sample: str | int, haplotype: int) -> int:
        """The item of ``window`` (an index into :attr:`gindexer`), ``sample`` (a name or
        position in :attr:`samples`) and ``haplotype`` (0 or 1) in the full index (before
        :meth:`subset`).

        Parameters
        ----------
        window
            Window index into :attr:`gindexer` (negative ones from the end).
        sample
            Sample name, or position in :attr:`samples`.
        haplotype
            0 or 1.

        Returns
        -------
        int
            ``(window % n_windows) * 2 * n_samples + sample position * 2 + haplotype``.

        Raises
        ------
        ArgumentError
            For an unknown sample, a sample position or window out of range, or a
            haplotype other than 0 and 1.
        """
        if isinstance(sample, str) and sample not in self.samples:
            more = " ..." if len(self.samples) > 8 else ""
            raise ArgumentError(f"no sample {sample!r} in {self.name!r}: its samples are "
                                f"{list(self.samples)[:8]}{more}")
        s = self.samples.index(sample) if isinstance(sample, str) else int(sample)
        if haplotype not in range(HAPLOTYPES) or not 0 <= s < len(self.samples):
            raise ArgumentError(f"no sample {sample!r} / haplotype {haplotype!r}")
        n = len(self.gindexer)
        if not -n <= int(window) < n:
            raise ArgumentError(f"window {window!r} out of range: {self.name!r} has {n} "
                                "windows")
        return int(window) % n * self.items_per_window + s * HAPLOTYPES + int(haplotype)

    # ------------------------------------------------------------------ reading
    def read_genomic(self, idx: np.ndarray, *, view: bool = False) -> np.ndarray:
        """Items ``idx`` as stored: ``(k, position, 1, 1)`` uint8 codes in genomic
        (plus-strand) orientation (a new array; ``view`` is accepted and changes nothing).
        Each window's stored row is read once per call.

        Parameters
        ----------
        idx
            Item indices of this dataset (integers, negative ones from the end).
        view
            Accepted for the :class:`~genozarr.dataset.Dataset` interface; not used.

        Returns
        -------
        numpy.ndarray
            uint8 codes of shape ``(len(idx), window_bins, 1, 1)`` (item, position,
            strand, condition).

        Raises
        ------
        IndexError
            For an index out of range.
        """
        ids = self._ids(idx)
        w, c = np.divmod(ids, self.items_per_window)
        if not len(w):
            return np.zeros((0, self.window_bins, 1, 1), dtype=np.uint8)
        windows, inverse = _unique(w)
        assert self._rows is not None
        raw = self.garray.read_rows(self._rows[windows])
        return raw[inverse, :, 0, c][:, :, None, None]

    def _orient(self, x: np.ndarray, idx: np.ndarray) -> np.ndarray:
        from genozarr._kernels import orient_windows

        minus = self._minus[self._ids(idx) // self.items_per_window]
        return orient_windows(x, minus, seqtype=self.seqtype)

    def prefetch(self, idx: np.ndarray, fetch_only: bool = False) -> int:
        """Start decoding, in background threads, the chunks items ``idx`` need (with
        ``fetch_only``: start fetching their stored bytes from a remote store). Returns
        the decoded bytes of the chunks started.

        Parameters
        ----------
        idx
            Item indices of this dataset.
        fetch_only
            Only fetch the stored bytes (remote zarr stores), decoding nothing.

        Returns
        -------
        int
            Decoded bytes of the chunks whose decoding was started: 0 with
            ``fetch_only``, for a store that is not zarr, or when the items' chunks are
            those of the previous call.
        """
        assert self._rows is not None
        windows, _ = _unique(self._ids(idx) // self.items_per_window)
        rows = self._rows[windows]
        if fetch_only:
            return self.garray.prefetch_rows(rows, fetch_only=True)
        # consecutive batches mostly share their windows' chunks: ask once per chunk set
        chunks = rows // max(super().chunk_rows, 1)
        last = getattr(self, "_prefetched", None)
        if last is not None and np.array_equal(last, chunks):
            return 0
        self._prefetched = chunks
        return self.garray.prefetch_rows(rows)

    @property
    def chunk_rows(self) -> int:
        """Items per zarr chunk (a chunk's windows times ``2 * n_samples``); 1 for data in
        memory."""
        rows = super().chunk_rows
        return rows if self.garray.backend.storage != "zarr" else rows * self.items_per_window

    def _examples_of(self, windows: np.ndarray) -> np.ndarray:
        """The places of the items (sample x haplotype) of ``windows`` (indices into
        :attr:`gindexer`), window by window, each window's in item order: what
        :func:`~genozarr.wrappers.view` by window indices and ``split_train_test`` take,
        as a view by the windows' regions (of a :meth:`subset`, its items of those
        windows)."""
        ids = self._ids(np.arange(len(self)))
        order = np.argsort(ids, kind="stable")  # by item, so by window
        by_window = ids[order] // self.items_per_window
        windows = np.asarray(windows, dtype=np.int64)
        lo = np.searchsorted(by_window, windows, "left")
        hi = np.searchsorted(by_window, windows, "right")
        return np.concatenate([order[a:b] for a, b in zip(lo, hi)] or
                              [np.empty(0, dtype=np.int64)])

    def subset(self, index: Any) -> PersonalBioseq:
        """A dataset over items ``index`` (ints, a slice or a boolean mask) of this one,
        sharing its store.

        Parameters
        ----------
        index
            Item positions of this dataset (ints, a slice or a boolean mask of its length).

        Returns
        -------
        PersonalBioseq
            A shallow copy serving those items, in that order (its own list of
            normalizers).
        """
        ids = self._items if self._items is not None else np.arange(len(self))
        new = copy.copy(self)
        new.normalizers = list(self.normalizers)  # (as Dataset.subset's)
        new._items = np.atleast_1d(ids[index]).astype(np.int64)
        return new

    def read_interval(self, chrom: str, start: int, end: int, strand: str = "+") -> np.ndarray:
        """Not defined: personal sequences are stored per window (indels move bases
        between genomic coordinates); index the items instead.

        Parameters
        ----------
        chrom
            Chromosome name.
        start, end
            0-based half-open interval, in bases.
        strand
            ``'+'`` or ``'-'``.

        Returns
        -------
        numpy.ndarray
            Never: the call always raises.

        Raises
        ------
        ArgumentError
            Always; use :meth:`index_of` and index the items.
        """
        raise ArgumentError(
            "genomic-interval access is not defined for personal genomes; read items by "
            "index (index_of(window, sample, haplotype))")

    def _facts(self) -> list[tuple[str, str]]:
        facts = super()._facts()
        shown = ", ".join(self.samples[:6]) + (f", ... ({len(self.samples)})"
                                                if len(self.samples) > 6 else "")
        out = []
        for k, v in facts:
            if k == "shape":
                v = v.replace("(window,", "(window x sample x haplotype,")
            out.append((k, v))
            if k == "sequence":
                out.append(("samples", shown))
        return out

    # ------------------------------------------------------------------ building
    @classmethod
    def create_from_refgenome(  # type: ignore[override]
        cls, name: str, refgenome: str | os.PathLike, roi: Any = None, *args: Any,
        variants: str | os.PathLike | None = None, samples: Sequence[str] | None = None,
        unphased: str = "error", **kwargs: Any,
    ) -> PersonalBioseq:
        """:func:`create_personal` (``variants`` is required).

        Parameters
        ----------
        name
            Dataset name.
        refgenome
            Reference genome: FASTA or 2bit path, or URL.
        roi
            Regions of interest; None tiles the genome (``binsize`` required).
        *args
            The further positional arguments of :func:`create_personal`.
        variants
            Phased VCF or BCF file (keyword-only; None raises).
        samples
            Samples to store; None takes every sample of the file.
        unphased
            Rule for unphased heterozygous calls: ``'error'``, ``'ref'`` or ``'alt'``.
        **kwargs
            The keyword arguments of :func:`create_personal`.

        Returns
        -------
        PersonalBioseq
            An instance of ``cls``: ``n_windows * n_samples * 2`` items, window-major.

        Raises
        ------
        ArgumentError
            Without ``variants``, and as :func:`create_personal`.
        """
        if variants is None:
            raise ArgumentError("PersonalBioseq.create_from_refgenome needs variants "
                                "(a phased VCF/BCF file)")
        return create_personal(name, refgenome, roi, *args, variants=variants,
                               samples=samples, unphased=unphased, cls=cls, **kwargs)


def create_personal(
    name: str, refgenome: str | os.PathLike, roi: Any = None, binsize: int | None = None,
    stepsize: int | None = None, flank: int = 0, order: int = 1, storage: str = "ndarray",
    datatags: Any = None, cache: bool = False, overwrite: bool = False,
    random_state: Any = None, store_whole_genome: bool = False, verbose: bool = False, *,
    channel_last: bool = True, zero_padding: bool = True, seqtype: str = "dna",
    store: str | os.PathLike | None = None, genomesize: Any = None, chrom_map: Any = None,
    storage_options: dict[str, Any] | None = None, feature: str | None = None,
    input_storage_options: dict[str, Any] | None = None,
    variants: str | os.PathLike, samples: Sequence[str] | None = None,
    unphased: str = "error", cls: type[PersonalBioseq] | None = None,
) -> PersonalBioseq:
    """Personal one-hot sequences of windows of a reference genome and a phased VCF.

    The arguments of :meth:`genozarr.Bioseq.create_from_refgenome`, in its order (Janggu's
    positional ones first, the others keyword-only), plus:

    Parameters
    ----------
    variants
        Phased VCF (plain or bgzip-compressed, indexed or not) or BCF file, a path or a
        URL (``input_storage_options`` as for the reference). An index (``tabix -p vcf``,
        ``bcftools index``) lets every ingest process read only the blocks it needs; a
        file without one is read whole once per process.
    samples
        Samples to store, in this order; None takes every sample of the file.
    unphased
        Unphased heterozygous calls (``0/1``): 'error' (default) raises
        :class:`~genozarr.errors.UnphasedGenotypeError` naming the sample and record;
        'ref' keeps the reference on both haplotypes; 'alt' puts the ALT allele on both
        (two different ALT alleles, ``1/2``, in the order written).
    cls
        The dataset class (a subclass of :class:`PersonalBioseq`).

    Returns
    -------
    PersonalBioseq
        ``len = n_windows * n_samples * 2`` items, window-major (see the class).

    Raises
    ------
    UnphasedGenotypeError
        An unphased heterozygous call of a listed sample overlaps a window (with
        ``unphased='error'``).
    ArgumentError
        For ``store_whole_genome=True``, protein, unknown samples, no windows.

    Warns
    -----
    SkippedCallsWarning
        Once, with the count per reason of the calls not applied (symbolic or non-ACGTN
        alleles, reference mismatches, overlaps with an applied variant).

    Notes
    -----
    The window rule for indels, the handling of calls and the store layout are described
    in :mod:`genozarr.personal` and in the "Personal genomes" section of the variant
    guide.
    """
    from genozarr.dataset import _verbose

    with _verbose(verbose):
        return _create_personal(
            name, refgenome, roi, binsize, stepsize, flank, order, storage, datatags, cache,
            overwrite, random_state, store_whole_genome, channel_last=channel_last,
            zero_padding=zero_padding, seqtype=seqtype, store=store, genomesize=genomesize,
            chrom_map=chrom_map, storage_options=storage_options, feature=feature,
            input_storage_options=input_storage_options, variants=variants, samples=samples,
            unphased=unphased, cls=cls)


def _create_personal(
    name: str, refgenome: str | os.PathLike, roi: Any, binsize: int | None,
    stepsize: int | None, flank: int, order: int, storage: str, datatags: Any, cache: bool,
    overwrite: bool, random_state: Any, store_whole_genome: bool, *, channel_last: bool,
    zero_padding: bool, seqtype: str, store: str | os.PathLike | None, genomesize: Any,
    chrom_map: Any, storage_options: dict[str, Any] | None, feature: str | None,
    input_storage_options: dict[str, Any] | None, variants: str | os.PathLike,
    samples: Sequence[str] | None, unphased: str, cls: type[PersonalBioseq] | None,
) -> PersonalBioseq:
    """:func:`create_personal`, without its progress option."""
    from genozarr._validate import check_int
    from genozarr.genome import chrom_sizes as _chrom_sizes
    from genozarr.sources import as_file_list

    cls = PersonalBioseq if cls is None else cls
    if not (isinstance(cls, type) and issubclass(cls, PersonalBioseq)):
        raise ArgumentError(f"cls must be PersonalBioseq or a subclass, got {cls!r}")
    if datatags is not None:
        from genozarr.errors import JangguDeprecationWarning

        warn("datatags is deprecated (as in Janggu 0.10) and ignored: stores are named by "
             "the dataset name and their cache key", JangguDeprecationWarning)
    if store_whole_genome:
        raise ArgumentError("personal genomes are stored per window: store_whole_genome "
                            "must be False")
    if str(seqtype).lower() != "dna":
        raise ArgumentError(f"personal genomes are DNA, got seqtype={seqtype!r}")
    order_ = check_int("order", order, 1, allow_none=False)
    binsize = check_int("binsize", binsize, 1)
    stepsize = check_int("stepsize", stepsize, 1)
    flank = check_int("flank", flank, 0, allow_none=False)
    (fasta,) = as_file_list(refgenome, "FASTA", storage_options=input_storage_options)
    (vcf,) = as_file_list(variants, "VCF/BCF", storage_options=input_storage_options)
    fetch_inputs({"regions": roi, "genome sizes": genomesize}, input_storage_options)
    source = PersonalSource(fasta, vcf, samples, unphased)
    # the windows, as Dataset._create tiles them, to check the calls over them first
    if roi is None:
        if binsize is None:
            raise ArgumentError("personal genomes need windows: pass roi and/or binsize")
        sizes = (_chrom_sizes(genomesize) if genomesize is not None
                 else {k: v for k, v in source.file_chrom_sizes(0).items() if v})
        gi = GenomicIndexer.create_from_genome(sizes, binsize, stepsize, flank, zero_padding,
                                               random_state)
        regions = None
    else:  # (read once: roi may be an iterator; the build checks these regions too)
        from genozarr.regions import load_regions

        regions = load_regions(roi, feature=feature)
        gi = GenomicIndexer.create_from_file(regions, binsize, stepsize, flank, zero_padding,
                                             random_state=random_state)
    source.resolve_chroms(list(dict.fromkeys(gi.chrs.astype(str).tolist())), chrom_map)
    skipped = check_calls(source, gi)
    args = dict(source="fasta+vcf", seqtype="dna", binsize=binsize, stepsize=stepsize,
                flank=flank, zero_padding=zero_padding, variants=vcf,
                samples=list(source.samples), haplotypes=HAPLOTYPES, unphased=unphased)
    obj = cls._create(
        name, source, constructor="create_from_refgenome", order=order_, roi=roi,
        genomesize=genomesize, binsize=binsize, stepsize=stepsize, flank=flank,
        resolution=1, storage=storage, cache=cache, overwrite=overwrite,
        channel_last=channel_last, zero_padding=zero_padding, random_state=random_state,
        store_whole_genome=False, store=store, args=args, chrom_map=chrom_map,
        storage_options=storage_options, seqtype="dna", feature=feature, gindexer=gi,
        regions_of=regions)
    obj.skipped = skipped
    return obj

"""Seeded generators of small (or large) realistic genomics files for tests and benchmarks.

Every generator takes ``seed`` and draws from ``np.random.default_rng(seed)``, so the same
arguments give the same content. Generation is vectorised with numpy: a 50 Mb genome or a
BAM of 2 M reads takes seconds, not minutes.

Coordinates follow genozarr's convention (0-based, half-open) everywhere except in the GTF
written by :func:`simulate_gtf`, which is 1-based and closed as the format requires.

Examples
--------
>>> import tempfile
>>> from genozarr.testing.simulate import simulate_dataset
>>> paths = simulate_dataset(tempfile.mkdtemp(), {"chr1": 5_000}, n_reads=500)
>>> sorted(paths)
['bam', 'bam_pe', 'bigwigs', 'chrom_sizes', 'fasta', 'gtf', 'peaks', 'roi']
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from genozarr.errors import ArgumentError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from numpy.typing import ArrayLike, NDArray

__all__ = [
    "DEFAULT_CHROM_SIZES",
    "simulate_bam",
    "simulate_bed",
    "simulate_bigwig",
    "simulate_dataset",
    "simulate_genome",
    "simulate_gtf",
    "write_bam",
    "write_bigwig",
    "write_chrom_sizes",
    "write_fasta",
]

PathLike = str | os.PathLike[str]

#: Genome used by :func:`simulate_dataset` when no ``chrom_sizes`` is given.
DEFAULT_CHROM_SIZES: dict[str, int] = {"chr1": 40_000, "chr2": 25_000}

_ACGT = np.frombuffer(b"ACGT", dtype=np.uint8)
_LINE_WIDTH = 60

# SAM flag bits
_PAIRED, _PROPER, _UNMAP, _MUNMAP, _REVERSE, _MREVERSE = 0x1, 0x2, 0x4, 0x8, 0x10, 0x20
_READ1, _READ2, _SECONDARY, _QCFAIL, _DUP, _SUPPLEMENTARY = 0x40, 0x80, 0x100, 0x200, 0x400, 0x800

# CIGAR shapes of simulated reads: all-M, or one deletion, insertion or leading soft clip
_CIG_M, _CIG_D, _CIG_I, _CIG_S = 0, 1, 2, 3


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------


def _check_sizes(chrom_sizes: Mapping[str, int]) -> tuple[list[str], NDArray[np.int64]]:
    if not chrom_sizes:
        raise ArgumentError("chrom_sizes is empty; expected a mapping such as {'chr1': 10_000}.")
    names = [str(c) for c in chrom_sizes]
    sizes = np.array([int(s) for s in chrom_sizes.values()], dtype=np.int64)
    if (sizes <= 0).any():
        bad = {c: int(s) for c, s in zip(names, sizes, strict=True) if s <= 0}
        raise ArgumentError(f"chromosome sizes must be positive; got {bad}.")
    return names, sizes


def _ensure_parent(path: PathLike) -> str:
    path = os.fspath(path)
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    return path


def _interval_mask(
    size: int, starts: NDArray[np.int64], ends: NDArray[np.int64]
) -> NDArray[np.bool_]:
    """Boolean mask of length ``size`` that is True inside any ``[starts, ends)``."""
    delta = np.zeros(size + 1, dtype=np.int32)
    np.add.at(delta, np.clip(starts, 0, size), 1)
    np.add.at(delta, np.clip(ends, 0, size), -1)
    return np.cumsum(delta[:-1], dtype=np.int32) > 0


def _random_runs(
    rng: np.random.Generator, size: int, fraction: float, mean_length: float
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Random runs covering about ``fraction`` of ``[0, size)``, lengths near ``mean_length``."""
    total = fraction * size
    if total < 1:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    mean_length = max(1.0, min(mean_length, total))
    n = max(1, round(total / mean_length))
    lengths = np.maximum(1, rng.integers(int(mean_length // 2) + 1, int(mean_length * 1.5) + 2, n))
    lengths = np.minimum(lengths, size)
    starts = rng.integers(0, size - lengths + 1)
    return starts.astype(np.int64), (starts + lengths).astype(np.int64)


def _child_seeds(seed: int, n: int) -> list[int]:
    return [int(s) for s in np.random.SeedSequence(seed).generate_state(n)]


def _rename(name: str, chr_prefix: str | None) -> str:
    if chr_prefix is None:
        return name
    base = name.removeprefix("chr")
    return chr_prefix + base


# --------------------------------------------------------------------------------------
# FASTA
# --------------------------------------------------------------------------------------


def write_fasta(
    path: PathLike, sequences: Mapping[str, str | bytes | NDArray[np.uint8]], index: bool = True
) -> str:
    """Write sequences to a FASTA file with 60-character lines, and index it.

    Parameters
    ----------
    path
        Output file.
    sequences
        Chromosome name to sequence, as ``str``, ``bytes`` or an ASCII ``uint8`` array.
    index
        Write the ``.fai`` index with ``pysam.faidx``.

    Returns
    -------
    str
        ``path``.
    """
    path = _ensure_parent(path)
    with open(path, "wb") as fh:
        for name, seq in sequences.items():
            if isinstance(seq, str):
                seq = seq.encode("ascii")
            arr = (
                np.frombuffer(seq, dtype=np.uint8)
                if isinstance(seq, bytes)
                else np.asarray(seq, np.uint8)
            )
            fh.write(f">{name}\n".encode())
            n_full = arr.size // _LINE_WIDTH
            if n_full:
                block = np.empty((n_full, _LINE_WIDTH + 1), dtype=np.uint8)
                block[:, :_LINE_WIDTH] = arr[: n_full * _LINE_WIDTH].reshape(n_full, _LINE_WIDTH)
                block[:, _LINE_WIDTH] = ord("\n")
                fh.write(block.tobytes())
            tail = arr[n_full * _LINE_WIDTH :]
            if tail.size:
                fh.write(tail.tobytes() + b"\n")
    if index:
        import pysam

        pysam.faidx(path)
    return path


def simulate_genome(
    path: PathLike,
    chrom_sizes: Mapping[str, int],
    seed: int = 0,
    n_fraction: float = 0.01,
    lowercase_fraction: float = 0.1,
    *,
    plant: Mapping[str, Iterable[tuple[int, str]]] | None = None,
) -> str:
    """Write a random genome as FASTA (60-character lines) with its ``.fai`` index.

    Bases are uniform random ``ACGT``; runs of ``N`` cover about ``n_fraction`` of each
    chromosome (runs of ~1 % of the chromosome, at most 5 kb); soft-masked lower-case runs
    (~100-300 bp, like repeats) cover about ``lowercase_fraction``.

    Parameters
    ----------
    path
        Output FASTA path; ``path + '.fai'`` is written beside it.
    chrom_sizes
        Chromosome name to length, in file order.
    seed
        Seed of ``np.random.default_rng``.
    n_fraction
        Fraction of each chromosome in ``N`` runs (0 for none).
    lowercase_fraction
        Fraction of each chromosome soft-masked (lower case; 0 for none).
    plant
        Optional sequences to write over the random ones, per chromosome, as
        ``(0-based start, sequence)`` pairs; planted after masking, so they are upper case
        and free of ``N``.

    Returns
    -------
    str
        ``path``.
    """
    names, sizes = _check_sizes(chrom_sizes)
    if not (0 <= n_fraction < 1 and 0 <= lowercase_fraction <= 1):
        raise ArgumentError(
            f"n_fraction must be in [0, 1) and lowercase_fraction in [0, 1]; got "
            f"{n_fraction} and {lowercase_fraction}."
        )
    rng = np.random.default_rng(seed)
    seqs: dict[str, NDArray[np.uint8]] = {}
    for name, size in zip(names, sizes.tolist(), strict=True):
        seq = _ACGT[rng.integers(0, 4, size, dtype=np.uint8)]
        if lowercase_fraction > 0:
            s, e = _random_runs(rng, size, lowercase_fraction, 200.0)
            seq[_interval_mask(size, s, e)] |= 0x20  # ASCII upper -> lower case
        if n_fraction > 0:
            s, e = _random_runs(rng, size, n_fraction, min(5_000.0, max(10.0, size / 100)))
            seq[_interval_mask(size, s, e)] = ord("N")
        seqs[name] = seq
    for name, items in (plant or {}).items():
        if name not in seqs:
            raise ArgumentError(f"plant names chromosome {name!r}, not in chrom_sizes {names}.")
        for start, motif in items:
            m = np.frombuffer(motif.upper().encode("ascii"), dtype=np.uint8)
            if start < 0 or start + m.size > seqs[name].size:
                raise ArgumentError(
                    f"planted sequence at {name}:{start}-{start + m.size} runs past the "
                    f"chromosome end ({seqs[name].size})."
                )
            seqs[name][start : start + m.size] = m
    return write_fasta(path, seqs)


# --------------------------------------------------------------------------------------
# BAM
# --------------------------------------------------------------------------------------


def _load_reference(
    reference: PathLike, names: list[str], renamed: list[str]
) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
    """Concatenate the reference chromosomes (upper case) and return offsets per chromosome."""
    import pysam

    parts = []
    with pysam.FastaFile(os.fspath(reference)) as fa:
        refs = set(fa.references)
        for name, new in zip(names, renamed, strict=True):
            key = name if name in refs else new
            if key not in refs:
                raise ArgumentError(f"reference {reference} has no chromosome {name!r}.")
            arr = np.frombuffer(fa.fetch(key).encode("ascii"), dtype=np.uint8)
            parts.append(arr & np.uint8(0xDF))  # upper case; 'N' stays 'N'
    offsets = np.zeros(len(parts) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([p.size for p in parts])
    return np.concatenate(parts), offsets


def _cigar_shapes(
    rng: np.random.Generator, n: int, read_length: int
) -> tuple[NDArray[np.int8], NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """CIGAR kind, split point ``a``, event length ``k`` and reference span per read."""
    kind = np.zeros(n, dtype=np.int8)
    a = np.zeros(n, dtype=np.int64)
    k = np.zeros(n, dtype=np.int64)
    if read_length >= 20:
        kind = rng.choice(4, size=n, p=[0.85, 0.05, 0.05, 0.05]).astype(np.int8)
        a = rng.integers(5, read_length - 10, n)
        k = rng.integers(1, 6, n)  # deletion / insertion length
        clip = rng.integers(1, 11, n)  # soft-clip length
        k = np.where(kind == _CIG_S, clip, k)
        a = np.where(kind == _CIG_S, 0, a)
    span = np.full(n, read_length, dtype=np.int64)
    span = np.where(kind == _CIG_D, read_length + k, span)
    span = np.where((kind == _CIG_I) | (kind == _CIG_S), read_length - k, span)
    return kind, a, k, span


def _cigar_strings(
    kind: NDArray[np.int8], a: NDArray[np.int64], k: NDArray[np.int64], read_length: int
) -> list[str]:
    L = read_length
    out = [f"{L}M"] * kind.size
    for i in np.flatnonzero(kind != _CIG_M).tolist():
        ki, ai, kk = int(kind[i]), int(a[i]), int(k[i])
        if ki == _CIG_D:
            out[i] = f"{ai}M{kk}D{L - ai}M"
        elif ki == _CIG_I:
            out[i] = f"{ai}M{kk}I{L - ai - kk}M"
        else:
            out[i] = f"{kk}S{L - kk}M"
    return out


def _read_sequences(
    rng: np.random.Generator,
    read_length: int,
    kind: NDArray[np.int8],
    a: NDArray[np.int64],
    k: NDArray[np.int64],
    gpos: NDArray[np.int64],
    mapped: NDArray[np.bool_],
    genome: NDArray[np.uint8] | None,
) -> NDArray[np.uint8]:
    """Read bases (n, read_length): the reference under each alignment, random elsewhere."""
    n = kind.size
    seq = _ACGT[rng.integers(0, 4, (n, read_length), dtype=np.uint8)]
    if genome is None:
        return seq
    j = np.arange(read_length, dtype=np.int64)[None, :]
    a2, k2 = a[:, None], k[:, None]
    kd, ki, ks = (kind == _CIG_D)[:, None], (kind == _CIG_I)[:, None], (kind == _CIG_S)[:, None]
    off = np.broadcast_to(j, (n, read_length)).copy()
    off += np.where(kd & (j >= a2), k2, 0)
    off -= np.where(ki & (j >= a2 + k2), k2, 0)
    off -= np.where(ks, k2, 0)
    from_ref = ~((ki & (j >= a2) & (j < a2 + k2)) | (ks & (j < k2))) & mapped[:, None]
    idx = np.clip(gpos[:, None] + off, 0, genome.size - 1)
    seq[from_ref] = genome[idx[from_ref]]
    return seq


def simulate_bam(
    path: PathLike,
    chrom_sizes: Mapping[str, int],
    n_reads: int,
    seed: int = 0,
    read_length: int = 50,
    paired: bool = False,
    fragment_length: int = 200,
    flagged_fraction: float = 0.05,
    min_mapq_range: tuple[int, int] = (0, 60),
    chr_prefix: str | None = None,
    *,
    reference: PathLike | None = None,
    hotspots: Mapping[str, ArrayLike] | None = None,
    hotspot_fraction: float = 0.5,
    hotspot_sd: float = 50.0,
    improper_fraction: float = 0.02,
    threads: int = 2,
) -> str:
    """Write a coordinate-sorted, indexed BAM of simulated alignments.

    The file holds exactly ``n_reads`` records. Reads lie on both strands, start uniformly
    over the genome (chromosomes weighted by length) or near ``hotspots``, and have a MAPQ
    drawn uniformly from ``min_mapq_range`` (inclusive). About 85 % of CIGARs are all-``M``;
    the rest carry one deletion, one insertion or a leading soft clip, so
    ``reference_end - reference_start`` differs from ``read_length``. A fraction
    ``flagged_fraction`` of records is flagged, in equal shares, duplicate (0x400),
    secondary (0x100), supplementary (0x800), QC-fail (0x200) or unmapped (0x4; single-end
    unmapped reads are unplaced and sort last; a paired unmapped read sits at its mate's
    position). In paired mode a duplicate or QC-fail flag is set on both mates.

    Paired mode writes ``n_reads // 2`` pairs (plus one read with an unmapped mate when
    ``n_reads`` is odd): fragments of length ~ Normal(``fragment_length``, 10 %), read 1 on
    either strand, flags 0x1|0x2|0x40/0x80 with mate strand, mate fields and
    ``template_length`` (+ for the leftmost mate). A fraction ``improper_fraction`` of pairs
    is improper: the second mate moved to a random place on the same strand, without 0x2.

    The BAM is written as SAM text in bulk and converted with ``pysam.view``; the header is
    ``@HD`` plus one ``@SQ`` per chromosome, with no ``@PG`` line.

    Parameters
    ----------
    path
        Output BAM path; the ``.bai`` index is written beside it.
    chrom_sizes
        Chromosome name to length (the ``@SQ`` lines, in order).
    n_reads
        Number of records written.
    seed
        Seed of ``np.random.default_rng``.
    read_length
        Query length of every read (CIGARs with indels need ``read_length >= 20``).
    paired
        Write paired-end reads.
    fragment_length
        Mean fragment length (paired mode); in single-end mode, the strand shift of reads
        around ``hotspots`` (forward 5' ends ``fragment_length / 2`` upstream, reverse
        ones downstream, as in ChIP-seq).
    flagged_fraction
        Fraction of records with a duplicate/secondary/supplementary/QC-fail/unmapped flag.
    min_mapq_range
        ``(low, high)`` inclusive range of MAPQ of mapped reads (unmapped ones get 0).
    chr_prefix
        When given, chromosome names in the BAM become ``chr_prefix`` plus the name without
        a leading ``chr``: ``'chr'`` turns ``1`` into ``chr1``, ``''`` turns ``chr1`` into ``1``.
    reference
        Optional FASTA (e.g. from :func:`simulate_genome`) with the chromosomes of
        ``chrom_sizes``: read bases then match the reference (except inserted and
        soft-clipped bases). Without it bases are random.
    hotspots
        Optional chromosome name to positions (0-based): a fraction ``hotspot_fraction`` of
        reads (fragments, in paired mode) is centred on these with s.d. ``hotspot_sd``.
    hotspot_fraction
        Fraction of the reads on a chromosome with ``hotspots`` that is drawn near them.
    hotspot_sd
        Standard deviation (bp) of read positions around a hotspot.
    improper_fraction
        Fraction of pairs written as improper pairs (paired mode).
    threads
        Compression threads of ``pysam.view``.

    Returns
    -------
    str
        ``path``.
    """
    import pysam

    names, sizes = _check_sizes(chrom_sizes)
    renamed = [_rename(c, chr_prefix) for c in names]
    n_reads = int(n_reads)
    if n_reads < 0 or read_length < 1:
        raise ArgumentError(
            f"n_reads must be >= 0 and read_length >= 1; got {n_reads}, {read_length}."
        )
    lo, hi = (int(v) for v in min_mapq_range)
    if not 0 <= lo <= hi <= 255:
        raise ArgumentError(
            f"min_mapq_range must satisfy 0 <= low <= high <= 255; got {min_mapq_range}."
        )
    if not 0 <= flagged_fraction <= 1:
        raise ArgumentError(f"flagged_fraction must be in [0, 1]; got {flagged_fraction}.")
    min_len = (max(fragment_length, read_length) if paired else read_length) + 10
    if sizes.max() < min_len:
        raise ArgumentError(f"every chromosome is shorter than a read or fragment ({min_len} bp).")
    rng = np.random.default_rng(seed)
    path = _ensure_parent(path)

    # ---- templates: chromosome, and the 5' end / fragment centre ----------------------
    n_templates = n_reads // 2 + n_reads % 2 if paired else n_reads
    weights = np.where(sizes >= min_len, sizes, 0).astype(float)
    tid_t = rng.choice(len(names), size=n_templates, p=weights / weights.sum())
    near = np.zeros(n_templates, dtype=bool)
    centre = np.zeros(n_templates, dtype=np.int64)
    if hotspots:
        for t, name in enumerate(names):
            pts = hotspots.get(name, hotspots.get(renamed[t], None))
            if pts is None:
                continue
            pts = np.asarray(pts, dtype=np.int64)
            if pts.size == 0:
                continue
            sel = np.flatnonzero(tid_t == t)
            sel = sel[rng.random(sel.size) < hotspot_fraction]
            near[sel] = True
            centre[sel] = pts[rng.integers(0, pts.size, sel.size)] + np.rint(
                rng.normal(0.0, hotspot_sd, sel.size)
            ).astype(np.int64)
    csize_t = sizes[tid_t]

    if not paired:
        kind, a, k, span = _cigar_shapes(rng, n_reads, read_length)
        reverse = rng.random(n_reads) < 0.5
        start = (rng.random(n_reads) * (csize_t - span + 1)).astype(np.int64)
        # 5' end near the hotspot, shifted by half a fragment as in ChIP-seq
        five = centre + np.where(reverse, fragment_length // 2, -(fragment_length // 2))
        start = np.where(near, np.where(reverse, five - span + 1, five), start)
        start = np.clip(start, 0, csize_t - span)
        tid = tid_t.astype(np.int64)
        flag = np.where(reverse, _REVERSE, 0).astype(np.int64)
        name_id = np.arange(n_reads, dtype=np.int64)
        mate = np.full(n_reads, -1, dtype=np.int64)
    else:
        kind, a, k, span = _cigar_shapes(rng, 2 * n_templates, read_length)
        frag = np.rint(rng.normal(fragment_length, 0.1 * fragment_length, n_templates)).astype(
            np.int64
        )
        frag = np.maximum(frag, read_length + 10)
        frag = np.minimum(frag, csize_t)
        fstart = (rng.random(n_templates) * (csize_t - frag + 1)).astype(np.int64)
        fstart = np.where(near, centre - frag // 2, fstart)
        fstart = np.clip(fstart, 0, csize_t - frag)
        r1_left = rng.random(n_templates) < 0.5
        # reads 0..T-1 are read 1, T..2T-1 read 2 of template t
        span1, span2 = span[:n_templates], span[n_templates:]
        right_span = np.where(r1_left, span2, span1)
        left_start, right_start = fstart, fstart + frag - right_span
        start = np.concatenate(
            [np.where(r1_left, left_start, right_start), np.where(r1_left, right_start, left_start)]
        )
        reverse = np.concatenate([~r1_left, r1_left])
        improper = rng.random(n_templates) < improper_fraction
        # improper: read 2 moved anywhere on the chromosome, on read 1's strand
        moved = np.flatnonzero(improper) + n_templates
        start[moved] = (rng.random(moved.size) * (csize_t[improper] - span2[improper] + 1)).astype(
            np.int64
        )
        reverse[moved] = reverse[moved - n_templates]
        tid = np.concatenate([tid_t, tid_t]).astype(np.int64)
        n = 2 * n_templates
        is_r1 = np.arange(n) < n_templates
        mate = np.concatenate([np.arange(n_templates, n), np.arange(n_templates)])
        flag = (
            _PAIRED
            | np.where(is_r1, _READ1, _READ2)
            | np.where(reverse, _REVERSE, 0)
            | np.where(reverse[mate], _MREVERSE, 0)
            | np.where(np.concatenate([~improper, ~improper]), _PROPER, 0)
        ).astype(np.int64)
        name_id = np.concatenate([np.arange(n_templates), np.arange(n_templates)])
        if n_reads % 2:  # odd count: the last template keeps read 1 only, its mate unmapped
            keep = np.ones(n, dtype=bool)
            keep[n - 1] = False
            lone = n_templates - 1
            flag[lone] = (flag[lone] | _MUNMAP) & ~(_PROPER | _MREVERSE)
            mate[lone] = -1
            idx = np.flatnonzero(keep)
            kind, a, k, span, start, reverse, tid, flag, name_id, mate = (
                x[idx] for x in (kind, a, k, span, start, reverse, tid, flag, name_id, mate)
            )
    end = start + span
    n = n_reads
    mapq = rng.integers(lo, hi + 1, n).astype(np.int64)

    # ---- flagged records ----------------------------------------------------------------
    flagged = rng.random(n) < flagged_fraction
    category = rng.integers(0, 5, n)  # dup, secondary, supplementary, qcfail, unmapped
    bits = np.array([_DUP, _SECONDARY, _SUPPLEMENTARY, _QCFAIL, _UNMAP], dtype=np.int64)
    unmapped = flagged & (category == 4)
    if paired:
        has_mate = mate >= 0
        # a read whose mate is absent stays mapped (it would otherwise be unplaced)
        category[unmapped & ~has_mate] = 0
        unmapped &= has_mate
        # never both mates unmapped: the second of such a pair becomes a duplicate instead
        both = unmapped & has_mate & unmapped[np.where(has_mate, mate, 0)] & (mate < np.arange(n))
        category[both] = 0
        unmapped &= ~both
        extra = np.where(flagged & ~unmapped, bits[category], 0)
        pair_bits = extra & (_DUP | _QCFAIL)
        flag |= extra
        flag[mate[has_mate]] |= pair_bits[has_mate]
    else:
        flag |= np.where(flagged & ~unmapped, bits[category], 0)

    tlen = np.zeros(n, dtype=np.int64)
    mate_tid = np.full(n, -1, dtype=np.int64)
    mate_pos = np.full(n, -1, dtype=np.int64)
    if paired:
        has_mate = mate >= 0
        m = np.where(has_mate, mate, 0)
        # unmapped mates: placed at the mate's position, no strand, no CIGAR
        u = unmapped & has_mate
        start[u] = start[m[u]]
        end[u] = start[u]
        tid[u] = tid[m[u]]
        flag[u] = (flag[u] | _UNMAP) & ~(_PROPER | _REVERSE)
        flag[m[u]] = (flag[m[u]] | _MUNMAP) & ~(_PROPER | _MREVERSE)
        mapped_pair = has_mate & ~unmapped & ~unmapped[m]
        left = np.minimum(start, start[m])
        right = np.maximum(end, end[m])
        plus = (start < start[m]) | ((start == start[m]) & ((flag & _READ1) > 0))
        tlen = np.where(mapped_pair, np.where(plus, right - left, -(right - left)), 0)
        mate_tid = np.where(has_mate, tid[m], tid)
        mate_pos = np.where(has_mate, start[m], start)
        lone = ~has_mate
        mate_tid[lone], mate_pos[lone] = tid[lone], start[lone]
    else:
        flag[unmapped] = _UNMAP
        tid[unmapped] = -1
        start[unmapped] = -1
    mapq[unmapped] = 0

    # ---- sort by coordinate (unplaced last) ---------------------------------------------
    sort_tid = np.where(tid < 0, len(names), tid)
    order = np.lexsort((np.arange(n), start, sort_tid))
    genome = None
    offsets = np.zeros(len(names) + 1, np.int64)
    if reference is not None:
        genome, offsets = _load_reference(reference, names, renamed)

    header = "@HD\tVN:1.6\tSO:coordinate\n" + "".join(
        f"@SQ\tSN:{c}\tLN:{s}\n" for c, s in zip(renamed, sizes.tolist(), strict=True)
    )
    qual_pool = _quality_pool(rng, read_length)
    prefix = "p" if paired else "r"
    rname = [*renamed, "*"]  # index -1 -> '*'
    fd, tmp = tempfile.mkstemp(suffix=".sam", dir=os.path.dirname(os.path.abspath(path)))
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(header)
            chunk = 250_000
            for c0 in range(0, n, chunk):
                sel = order[c0 : c0 + chunk]
                mp = ~unmapped[sel]
                gpos = offsets[np.where(tid[sel] < 0, 0, tid[sel])] + np.maximum(start[sel], 0)
                seq = _read_sequences(rng, read_length, kind[sel], a[sel], k[sel], gpos, mp, genome)
                seqs = seq.view(f"S{read_length}").ravel().tolist()
                cig = _cigar_strings(kind[sel], a[sel], k[sel], read_length)
                cig = [c if m_ else "*" for c, m_ in zip(cig, mp.tolist(), strict=True)]
                qi = rng.integers(0, len(qual_pool), sel.size).tolist()
                if paired:
                    rnext = np.where(mate_tid[sel] == tid[sel], -2, mate_tid[sel]).tolist()
                    rn = [("=" if t == -2 else rname[t]) for t in rnext]
                else:
                    rn = ["*"] * sel.size
                cols = zip(
                    name_id[sel].tolist(),
                    flag[sel].tolist(),
                    tid[sel].tolist(),
                    (start[sel] + 1).tolist(),
                    mapq[sel].tolist(),
                    cig,
                    rn,
                    (mate_pos[sel] + 1).tolist(),
                    tlen[sel].tolist(),
                    seqs,
                    qi,
                    strict=True,
                )
                fh.write(
                    "".join(
                        [
                            f"{prefix}{nm}\t{fl}\t{rname[t]}\t{p}\t{q}\t{cg}\t{r}\t{mp_}\t{tl}\t"
                            f"{s.decode()}\t{qual_pool[qq]}\n"
                            for nm, fl, t, p, q, cg, r, mp_, tl, s, qq in cols
                        ]
                    )
                )
        pysam.view("-b", "--no-PG", "-@", str(max(1, threads)), "-o", path, tmp, catch_stdout=False)
    finally:
        os.unlink(tmp)
    pysam.index(path)
    return path


def _quality_pool(rng: np.random.Generator, read_length: int, n: int = 16) -> list[str]:
    """A few Illumina-like quality strings (high, dropping towards the 3' end)."""
    pos = np.arange(read_length)
    base = 38 - 8 * (pos / max(1, read_length - 1)) ** 2
    q = np.clip(np.rint(base[None, :] + rng.normal(0, 1.5, (n, read_length))), 2, 41).astype(
        np.uint8
    )
    return [(row + 33).tobytes().decode() for row in q]


# --------------------------------------------------------------------------------------
# BigWig
# --------------------------------------------------------------------------------------


def write_bigwig(
    path: PathLike, tracks: Mapping[str, ArrayLike], chrom_sizes: Mapping[str, int] | None = None
) -> str:
    """Write dense per-base arrays to a BigWig; NaN positions are left without data.

    Consecutive equal values are written as one bedGraph entry.

    Parameters
    ----------
    path
        Output BigWig path.
    tracks
        Chromosome name to a 1-D float array of per-base values (NaN: no data).
    chrom_sizes
        Header chromosome sizes (default: the array lengths); chromosomes of the header
        without a track get no data.

    Returns
    -------
    str
        ``path``.
    """
    import pyBigWig

    sizes = dict(chrom_sizes) if chrom_sizes is not None else {c: len(v) for c, v in tracks.items()}
    path = _ensure_parent(path)
    bw = pyBigWig.open(path, "w")
    try:
        bw.addHeader([(c, int(s)) for c, s in sizes.items()], maxZooms=10)
        for chrom in sizes:
            if chrom not in tracks:
                continue
            v = np.asarray(tracks[chrom], dtype=np.float64)
            if v.size > sizes[chrom]:
                raise ArgumentError(f"track {chrom} is longer ({v.size}) than its chromosome.")
            starts, ends, vals = _runs(v)
            if starts.size:  # (sorted runs of one chromosome, in header order: unchecked,
                # pyBigWig's check looks the chromosome up in the header, quadratic in contigs)
                bw.addEntries([chrom] * starts.size, starts, ends=ends, values=vals,
                              validate=False)
    finally:
        bw.close()
    return path


def _runs(
    v: NDArray[np.float64],
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Run-length encode ``v``: starts, ends and values of the non-NaN runs."""
    if v.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    nan = np.isnan(v)
    w = np.where(nan, 0.0, v)
    change = np.empty(v.size, dtype=bool)
    change[0] = True
    change[1:] = (w[1:] != w[:-1]) | (nan[1:] != nan[:-1])
    starts = np.flatnonzero(change)
    ends = np.append(starts[1:], v.size)
    keep = ~nan[starts]
    return starts[keep].astype(np.int64), ends[keep].astype(np.int64), v[starts[keep]]


def _segments(
    rng: np.random.Generator, n_units: int, mean: float
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Split ``[0, n_units)`` into consecutive segments of geometric length (mean ``mean``)."""
    out: list[NDArray[np.int64]] = []
    total = 0
    while total < n_units:
        k = int((n_units - total) / mean * 1.2) + 16
        lengths = rng.geometric(1.0 / mean, k).astype(np.int64)
        out.append(lengths)
        total += int(lengths.sum())
    ends = np.cumsum(np.concatenate(out))
    cut = int(np.searchsorted(ends, n_units)) + 1
    ends = ends[:cut]
    ends[-1] = n_units
    starts = np.concatenate([[0], ends[:-1]])
    return starts, ends


def simulate_bigwig(
    path: PathLike,
    chrom_sizes: Mapping[str, int],
    seed: int = 0,
    step: int | None = None,
    coverage_fraction: float = 0.8,
    kind: str = "bedgraph",
    *,
    mean_run: float | None = None,
) -> str:
    """Write a BigWig of random float signal with gaps (no data, NaN on read).

    Each chromosome is cut into consecutive segments of geometric length (``mean_run``
    bins of ``step`` bp on average); each segment carries data with
    probability ``coverage_fraction`` and is a gap otherwise. Values are gamma(2, 2)
    distributed, rounded to 1/1000 (so they survive float32 storage), in ``[0, 100]``.

    Parameters
    ----------
    path
        Output BigWig path.
    chrom_sizes
        Chromosome name to length (the header, in order).
    seed
        Seed of ``np.random.default_rng``.
    step
        Bin width: segments align to a grid of ``step`` bp. ``None`` means 1 bp for
        ``kind='bedgraph'`` and 50 bp for ``kind='fixed'``.
    coverage_fraction
        Expected fraction of the genome with data (1.0: no gaps).
    kind
        ``'bedgraph'``: one entry (start, end, value) per segment, written with
        ``addEntries`` on arrays. ``'fixed'``: fixed-step entries (``span=step=step``), one
        value per bin; a partial bin at a chromosome end is left without data.
    mean_run
        Mean segment length in bins of ``step`` bp; default 40 when ``step`` is 1, else 8.

    Returns
    -------
    str
        ``path``.
    """
    import pyBigWig

    names, sizes = _check_sizes(chrom_sizes)
    if kind not in ("bedgraph", "fixed"):
        raise ArgumentError(f"kind must be 'bedgraph' or 'fixed'; got {kind!r}.")
    if not 0 <= coverage_fraction <= 1:
        raise ArgumentError(f"coverage_fraction must be in [0, 1]; got {coverage_fraction}.")
    if step is None:
        step = 1 if kind == "bedgraph" else 50
    if step < 1:
        raise ArgumentError(f"step must be a positive integer; got {step}.")
    if mean_run is None:
        mean_run = 40.0 if step == 1 else 8.0
    if mean_run < 1:
        raise ArgumentError(f"mean_run must be >= 1 (bins); got {mean_run}.")
    rng = np.random.default_rng(seed)
    path = _ensure_parent(path)
    bw = pyBigWig.open(path, "w")
    try:
        bw.addHeader(list(zip(names, sizes.tolist(), strict=True)), maxZooms=10)
        for name, size in zip(names, sizes.tolist(), strict=True):
            n_units = size // step if kind == "fixed" else -(-size // step)
            if n_units == 0:
                continue
            s, e = _segments(rng, n_units, mean_run)
            data = rng.random(s.size) < coverage_fraction
            if kind == "bedgraph":
                vals = np.round(np.minimum(rng.gamma(2.0, 2.0, s.size), 100.0), 3)
                s, e, vals = s[data] * step, np.minimum(e[data] * step, size), vals[data]
                if s.size:
                    bw.addEntries([name] * s.size, s, ends=e, values=vals, validate=False)
            else:
                vals = np.round(np.minimum(rng.gamma(2.0, 2.0, n_units), 100.0), 3)
                # one fixedStep block per run of consecutive data segments
                edge = np.diff(np.concatenate([[0], data.astype(np.int8), [0]]))
                first, last = np.flatnonzero(edge == 1), np.flatnonzero(edge == -1) - 1
                for s0, e0 in zip(s[first].tolist(), e[last].tolist(), strict=True):
                    bw.addEntries(name, s0 * step, values=vals[s0:e0], span=step, step=step,
                                  validate=False)
    finally:
        bw.close()
    return path


# --------------------------------------------------------------------------------------
# BED and GTF
# --------------------------------------------------------------------------------------


def _random_intervals(
    rng: np.random.Generator,
    names: list[str],
    sizes: NDArray[np.int64],
    n: int,
    width: int | tuple[int, int],
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    lo, hi = (int(width), int(width)) if np.isscalar(width) else (int(width[0]), int(width[1]))  # type: ignore[index]
    if not 1 <= lo <= hi:
        raise ArgumentError(
            f"width must be a positive int or a (min, max) pair with min <= max; got {width}."
        )
    w = (sizes >= lo).astype(float) * sizes
    if w.sum() == 0:
        raise ArgumentError(f"no chromosome is at least {lo} bp long.")
    tid = rng.choice(len(names), size=n, p=w / w.sum())
    widths = np.minimum(rng.integers(lo, hi + 1, n), sizes[tid])
    starts = (rng.random(n) * (sizes[tid] - widths + 1)).astype(np.int64)
    return tid, starts, starts + widths


def _write_table(path: str, columns: list[list[str]]) -> None:
    with open(path, "w") as fh:
        fh.write("".join("\t".join(row) + "\n" for row in zip(*columns, strict=True)))


def simulate_bed(
    path: PathLike,
    chrom_sizes: Mapping[str, int],
    n: int,
    seed: int = 0,
    width: int | tuple[int, int] = (50, 500),
    ncols: int = 6,
    n_categories: int = 3,
    sorted: bool = True,
    *,
    score: str = "float",
) -> str:
    """Write ``n`` random intervals as BED.

    Columns: ``chrom, start, end`` (0-based half-open, inside the chromosome), ``name``
    (``'cat0'`` ... ``'cat{n_categories-1}'``), ``score`` and ``strand`` (``+``/``-``);
    ``ncols`` keeps the first 3 to 6. Intervals may overlap.

    Parameters
    ----------
    path
        Output BED path.
    chrom_sizes
        Chromosome name to length.
    n
        Number of intervals.
    seed
        Seed of ``np.random.default_rng``.
    width
        Interval width, or ``(min, max)`` inclusive range drawn uniformly.
    ncols
        Number of columns written, 3 to 6.
    n_categories
        Number of distinct names.
    sorted
        Sort by chromosome (``chrom_sizes`` order), start and end.
    score
        ``'float'``: uniform in [0, 10) with 3 decimals; ``'category'``: the integer
        category of the name (``cat2`` -> ``2``), for categorical labels.

    Returns
    -------
    str
        ``path``.
    """
    names, sizes = _check_sizes(chrom_sizes)
    if not 3 <= ncols <= 6:
        raise ArgumentError(f"ncols must be between 3 and 6; got {ncols}.")
    if score not in ("float", "category"):
        raise ArgumentError(f"score must be 'float' or 'category'; got {score!r}.")
    if n_categories < 1:
        raise ArgumentError(f"n_categories must be >= 1; got {n_categories}.")
    rng = np.random.default_rng(seed)
    tid, starts, ends = _random_intervals(rng, names, sizes, int(n), width)
    cat = rng.integers(0, n_categories, tid.size)
    scores = np.round(rng.random(tid.size) * 10, 3)
    strand = np.where(rng.random(tid.size) < 0.5, "+", "-")
    if sorted:
        order = np.lexsort((ends, starts, tid))
        tid, starts, ends, cat, scores, strand = (
            x[order] for x in (tid, starts, ends, cat, scores, strand)
        )
    cols = [
        [names[t] for t in tid.tolist()],
        [str(s) for s in starts.tolist()],
        [str(e) for e in ends.tolist()],
        [f"cat{c}" for c in cat.tolist()],
        [str(c) for c in cat.tolist()]
        if score == "category"
        else [f"{s:.3f}" for s in scores.tolist()],
        strand.tolist(),
    ]
    path = _ensure_parent(path)
    _write_table(path, cols[:ncols])
    return path


def simulate_gtf(
    path: PathLike, chrom_sizes: Mapping[str, int], n_genes: int, seed: int = 0
) -> str:
    """Write a GTF of ``n_genes`` random genes with transcripts and exons.

    Each gene has 1-6 exons (50-400 bp, introns 50-2000 bp) and one or two transcripts
    (the second skips an internal exon when there are at least three). Rows are ``gene``,
    ``transcript`` and ``exon``, 1-based closed coordinates, grouped per gene and sorted by
    chromosome and start. Attributes: ``gene_id "G0001"; gene_name "GENE1";`` plus
    ``transcript_id`` and ``exon_number`` where they apply.

    Parameters
    ----------
    path
        Output GTF path.
    chrom_sizes
        Chromosome name to length.
    n_genes
        Number of genes.
    seed
        Seed of ``np.random.default_rng``.

    Returns
    -------
    str
        ``path``.
    """
    names, sizes = _check_sizes(chrom_sizes)
    rng = np.random.default_rng(seed)
    n_genes = int(n_genes)
    n_exons = rng.integers(1, 7, n_genes)
    exon_len = rng.integers(50, 401, (n_genes, 6))
    intron_len = rng.integers(50, 2001, (n_genes, 6))
    # exon starts relative to the gene start
    rel_start = np.zeros((n_genes, 6), dtype=np.int64)
    rel_start[:, 1:] = np.cumsum(exon_len[:, :-1] + intron_len[:, :-1], axis=1)
    rel_end = rel_start + exon_len
    # shrink genes that do not fit their chromosome
    tid = rng.choice(len(names), size=n_genes, p=sizes / sizes.sum())
    length = rel_end[np.arange(n_genes), n_exons - 1]
    while (too_long := length > sizes[tid]).any():
        n_exons[too_long] = np.maximum(1, n_exons[too_long] - 1)
        length = rel_end[np.arange(n_genes), n_exons - 1]
        single = too_long & (n_exons == 1)
        if single.any():
            exon_len[single, 0] = np.minimum(exon_len[single, 0], sizes[tid[single]])
            rel_end[single, 0] = exon_len[single, 0]
            length = rel_end[np.arange(n_genes), n_exons - 1]
    gstart = (rng.random(n_genes) * (sizes[tid] - length + 1)).astype(np.int64)
    strand = np.where(rng.random(n_genes) < 0.5, "+", "-")
    two_tx = rng.random(n_genes) < 0.4
    skip = rng.integers(1, 5, n_genes)
    order = np.lexsort((gstart, tid))
    lines: list[str] = []
    for rank, g in enumerate(order.tolist(), start=1):
        chrom, st = names[int(tid[g])], str(strand[g])
        gid, gname = f"G{rank:04d}", f"GENE{rank}"
        base = int(gstart[g])
        ex = [
            (base + int(rel_start[g, i]), base + int(rel_end[g, i])) for i in range(int(n_exons[g]))
        ]
        txs = [list(range(len(ex)))]
        if two_tx[g] and len(ex) >= 3:
            drop = 1 + int(skip[g]) % (len(ex) - 2)
            txs.append([i for i in range(len(ex)) if i != drop])
        attr = f'gene_id "{gid}"; gene_name "{gname}";'
        lines.append(
            _gtf_row(
                chrom, "gene", ex[0][0], ex[-1][1], st, attr + ' gene_biotype "protein_coding";'
            )
        )
        for t, members in enumerate(txs, start=1):
            tattr = f'{attr} transcript_id "{gid}.{t}";'
            lines.append(
                _gtf_row(chrom, "transcript", ex[members[0]][0], ex[members[-1]][1], st, tattr)
            )
            numbered = members if st == "+" else members[::-1]
            for num, i in enumerate(numbered, start=1):
                lines.append(
                    _gtf_row(chrom, "exon", ex[i][0], ex[i][1], st, f'{tattr} exon_number "{num}";')
                )
    path = _ensure_parent(path)
    with open(path, "w") as fh:
        fh.write("".join(lines))
    return path


def _gtf_row(chrom: str, feature: str, start0: int, end0: int, strand: str, attrs: str) -> str:
    """One GTF line from a 0-based half-open interval (written 1-based closed)."""
    return f"{chrom}\tgenozarr\t{feature}\t{start0 + 1}\t{end0}\t.\t{strand}\t.\t{attrs}\n"


# --------------------------------------------------------------------------------------
# a whole dataset
# --------------------------------------------------------------------------------------


def write_chrom_sizes(path: PathLike, chrom_sizes: Mapping[str, int]) -> str:
    """Write a UCSC ``chrom.sizes`` file (``name<TAB>length`` per line).

    Parameters
    ----------
    path
        Output path.
    chrom_sizes
        Chromosome name to length.

    Returns
    -------
    str
        ``path``.
    """
    path = _ensure_parent(path)
    with open(path, "w") as fh:
        fh.write("".join(f"{c}\t{int(s)}\n" for c, s in chrom_sizes.items()))
    return path


def write_bam(
    path: PathLike,
    chrom_sizes: Mapping[str, int],
    reads: Iterable[Mapping[str, Any]],
    *,
    index: bool = True,
) -> str:
    """Write given reads to a coordinate-sorted BAM (and its ``.bai``): small hand-made
    cases for tests, where each read's place matters.

    Parameters
    ----------
    path
        Output path.
    chrom_sizes
        The header's references (name to length), in order.
    reads
        One mapping per read: ``start`` (0-based leftmost base) and ``length`` (bases, one
        ``M`` operation), and optionally ``chrom`` (default: the first reference),
        ``flag`` (0), ``name`` (``r<k>``, ``k`` the read's place in ``reads``), ``mapq``
        (60), ``sequence`` (``length`` A's), and for a paired read ``mate_start`` and
        ``tlen`` (its mate on the same reference). Qualities are all ``I``. Reads are
        written sorted by reference, then start (stable).
    index
        Write the ``.bai`` index with ``pysam.index``.

    Returns
    -------
    str
        ``path``.

    Examples
    --------
    >>> import os, tempfile, pysam
    >>> path = write_bam(os.path.join(tempfile.mkdtemp(), "r.bam"), {"chr1": 1000},
    ...                  [{"start": 30, "length": 10}, {"start": 5, "length": 10, "flag": 16}])
    >>> [(r.reference_start, r.is_reverse) for r in pysam.AlignmentFile(path)]
    [(5, True), (30, False)]
    """
    import pysam

    path = _ensure_parent(path)
    names = list(chrom_sizes)
    if not names:
        raise ArgumentError("write_bam: chrom_sizes names no reference")
    header = {"HD": {"VN": "1.6", "SO": "coordinate"},
              "SQ": [{"SN": c, "LN": int(n)} for c, n in chrom_sizes.items()]}
    rows = []
    for k, read in enumerate(reads):
        chrom = read.get("chrom", names[0])
        if chrom not in chrom_sizes:
            raise ArgumentError(f"write_bam: read {k} is on {chrom!r}, not in chrom_sizes")
        rows.append((names.index(chrom), int(read["start"]), k, read))
    rows.sort(key=lambda row: row[:3])
    with pysam.AlignmentFile(path, "wb", header=header) as out:
        for tid, start, k, read in rows:
            length = int(read["length"])
            a = pysam.AlignedSegment(out.header)
            a.query_name = str(read.get("name", f"r{k}"))
            a.query_sequence = str(read.get("sequence", "A" * length))
            a.flag = int(read.get("flag", 0))
            a.reference_id, a.reference_start = tid, start
            a.mapping_quality = int(read.get("mapq", 60))
            a.cigartuples = [(0, length)]
            a.query_qualities = pysam.qualitystring_to_array("I" * len(a.query_sequence))
            if "mate_start" in read:
                a.next_reference_id = tid
                a.next_reference_start = int(read["mate_start"])
                a.template_length = int(read.get("tlen", 0))
            out.write(a)
    if index:
        pysam.index(path)
    return path


def _tiled_roi(
    rng: np.random.Generator,
    names: list[str],
    sizes: NDArray[np.int64],
    width: int,
    fraction: float,
) -> tuple[list[str], NDArray[np.int64], NDArray[np.str_]]:
    """Non-overlapping ``width``-bp windows on a ``width`` grid, a random ``fraction`` of them."""
    chroms: list[str] = []
    starts: list[NDArray[np.int64]] = []
    for name, size in zip(names, sizes.tolist(), strict=True):
        tiles = np.arange(size // width, dtype=np.int64) * width
        keep = tiles[rng.random(tiles.size) < fraction]
        if keep.size == 0 and tiles.size:
            keep = tiles[rng.integers(0, tiles.size, 1)]
        chroms += [name] * keep.size
        starts.append(keep)
    s = np.concatenate(starts) if starts else np.zeros(0, np.int64)
    strand = np.where(rng.random(s.size) < 0.5, "+", "-")
    return chroms, s, strand


def simulate_dataset(
    directory: PathLike,
    chrom_sizes: Mapping[str, int] | None = None,
    seed: int = 0,
    n_reads: int = 20_000,
    n_bigwigs: int = 2,
    n_peaks: int = 200,
    *,
    roi_width: int = 1000,
) -> dict[str, str | list[str]]:
    """Write a consistent set of simulated files for one genome into ``directory``.

    Files: ``genome.fa`` (+ ``.fai``), ``chrom.sizes``, ``reads.bam`` (single-end,
    ``n_reads`` records, bases from the genome) and ``reads_pe.bam`` (paired-end, also
    ``n_reads`` records), each with ``.bai``; ``signal{i}.bw`` for ``i < n_bigwigs``
    (even ``i``: variable-length bedGraph entries; odd ``i``: fixed step of 10 bp);
    ``peaks.bed`` (``n_peaks`` intervals of 100-600 bp, names ``cat0``-``cat2``, float
    scores, both strands); ``roi.bed`` (non-overlapping ``roi_width``-bp windows on a
    ``roi_width`` grid, about half of the genome, random strands, names ``roi{i}``);
    ``genes.gtf`` (one gene per ~5 kb).

    Parameters
    ----------
    directory
        Output directory (created if missing).
    chrom_sizes
        Chromosome name to length; default :data:`DEFAULT_CHROM_SIZES`.
    seed
        Seed from which each file's seed is derived.
    n_reads
        Records per BAM.
    n_bigwigs
        Number of BigWig files.
    n_peaks
        Intervals in ``peaks.bed``.
    roi_width
        Width of the ``roi.bed`` windows.

    Returns
    -------
    dict
        Paths under ``'fasta'``, ``'bam'``, ``'bam_pe'``, ``'bigwigs'`` (a list),
        ``'peaks'``, ``'roi'``, ``'gtf'`` and ``'chrom_sizes'`` (the ``chrom.sizes`` file).
    """
    chrom_sizes = dict(DEFAULT_CHROM_SIZES if chrom_sizes is None else chrom_sizes)
    names, sizes = _check_sizes(chrom_sizes)
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    seeds = _child_seeds(seed, 8 + n_bigwigs)
    out: dict[str, Any] = {}
    out["chrom_sizes"] = write_chrom_sizes(d / "chrom.sizes", chrom_sizes)
    out["fasta"] = simulate_genome(d / "genome.fa", chrom_sizes, seed=seeds[0])
    out["bam"] = simulate_bam(
        d / "reads.bam", chrom_sizes, n_reads, seed=seeds[1], reference=out["fasta"]
    )
    frag = int(min(200, max(60, sizes.max() // 4)))
    out["bam_pe"] = simulate_bam(
        d / "reads_pe.bam",
        chrom_sizes,
        n_reads,
        seed=seeds[2],
        paired=True,
        fragment_length=frag,
        reference=out["fasta"],
    )
    out["bigwigs"] = [
        simulate_bigwig(
            d / f"signal{i}.bw",
            chrom_sizes,
            seed=seeds[8 + i],
            **({"kind": "bedgraph"} if i % 2 == 0 else {"kind": "fixed", "step": 10}),
        )
        for i in range(n_bigwigs)
    ]
    out["peaks"] = simulate_bed(
        d / "peaks.bed", chrom_sizes, n_peaks, seed=seeds[3], width=(100, 600)
    )
    rng = np.random.default_rng(seeds[4])
    chroms, starts, strand = _tiled_roi(rng, names, sizes, roi_width, 0.5)
    roi = str(d / "roi.bed")
    _write_table(
        roi,
        [
            chroms,
            [str(s) for s in starts.tolist()],
            [str(s + roi_width) for s in starts.tolist()],
            [f"roi{i}" for i in range(len(chroms))],
            ["0"] * len(chroms),
            strand.tolist(),
        ],
    )
    out["roi"] = roi
    out["gtf"] = simulate_gtf(
        d / "genes.gtf", chrom_sizes, max(1, int(sizes.sum()) // 5_000), seed=seeds[5]
    )
    return out

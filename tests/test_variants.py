"""Variant effect windows (VariantStreamer), their scores as a store (score_variants) and
the VCF/BED exports.

Every window is checked against a sequence spliced by hand with string slicing and a plain
Python one-hot; SNV windows also against a re-implementation of Janggu's own k-mer index
arithmetic (``VariantStreamer.flow`` of janggu/data/dna.py).
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pysam = pytest.importorskip("pysam")
xr = pytest.importorskip("xarray")

from genozarr.errors import (  # noqa: E402
    ArgumentError,
    MissingIndexError,
    SkippedVariantsWarning,
    StoreError,
)
from genozarr.variants import (  # noqa: E402
    VariantStreamer,
    export_to_bed,
    export_to_vcf,
    score_variants,
    variant_offset,
)

COMP = {"A": "T", "C": "G", "G": "C", "T": "A", "N": "N"}


# ---------------------------------------------------------------------- fixtures
def _random_seq(rng: np.random.Generator, n: int) -> str:
    return "".join(rng.choice(list("ACGT"), n))


@pytest.fixture(scope="module")
def genome(tmp_path_factory) -> dict:
    """A FASTA of two chromosomes (soft-masked stretch and an N run on chr1)."""
    rng = np.random.default_rng(7)
    chr1 = list(_random_seq(rng, 300))
    chr1[150:156] = "NNNNNN"
    chr1[230:250] = [b.lower() for b in chr1[230:250]]
    seqs = {"chr1": "".join(chr1), "chr2": _random_seq(rng, 200)}
    d = tmp_path_factory.mktemp("variants_genome")
    fasta = d / "genome.fa"
    with open(fasta, "w") as fh:
        for name, s in seqs.items():
            fh.write(f">{name}\n")
            for i in range(0, len(s), 60):
                fh.write(s[i:i + 60] + "\n")
    upper = {k: v.upper() for k, v in seqs.items()}
    return {"fasta": str(fasta), "seqs": upper, "dir": d}


def _other(base: str, shift: int = 1) -> str:
    return "ACGT"[("ACGT".index(base) + shift) % 4]


def _write_vcf(path: Path, records: list[tuple], contigs: dict[str, int]) -> str:
    header = pysam.VariantHeader()
    for name, length in contigs.items():
        header.contigs.add(name, length=length)
    header.info.add("END", 1, "Integer", "End position")
    header.info.add("SVTYPE", 1, "String", "SV type")
    with pysam.VariantFile(str(path), "w", header=header) as out:
        for chrom, pos0, ref, alts, vid in records:
            rec = out.new_record(contig=chrom, start=pos0, stop=pos0 + len(ref),
                                 alleles=(ref, *alts), id=vid)
            out.write(rec)
    return str(path)


@pytest.fixture(scope="module")
def vcf(genome) -> dict:
    """Every kind of record: SNVs, an insertion, a deletion, an MNV, multi-allelic records,
    a reference mismatch, a symbolic allele, a missing ALT, a '*' allele, a non-ACGT allele,
    a window before the chromosome start, a long insertion, a deletion reaching past the
    chromosome end, a window past it, and a contig absent from the genome."""
    g = genome["seqs"]
    c1, c2 = g["chr1"], g["chr2"]
    records = [
        ("chr1", 2, c1[2], (_other(c1[2]),), "edge_start"),           # window outside
        ("chr1", 40, c1[40], (_other(c1[40]),), "snv1"),
        ("chr1", 45, c1[45], (_other(c1[45], 2),), None),              # no ID
        ("chr1", 60, c1[60], (c1[60] + "ACGTACG",), "ins"),
        ("chr1", 80, c1[80:86], (c1[80],), "del"),
        ("chr1", 100, c1[100], (_other(c1[100], 1), _other(c1[100], 2)), "multi"),
        ("chr1", 120, c1[120:122], (c1[120], c1[120:122] + "T", _other(c1[120]) + c1[121]),
         "mixed"),
        ("chr1", 140, _other(c1[140]), (_other(c1[140], 2),), "mismatch"),
        ("chr1", 160, c1[160], ("<DEL>",), "symbolic"),
        ("chr1", 162, c1[162], (_other(c1[162]),), "near_n"),         # N in the window
        ("chr1", 170, c1[170], (".",), "missing"),       # ALT "."
        ("chr1", 175, c1[175], ("*", _other(c1[175])), "star"),
        ("chr1", 180, c1[180], ("R",), "iupac"),
        ("chr1", 200, c1[200], (c1[200] + "GATTACAGATTACAGATTACAGATTACA",), "longins"),
        ("chr1", 240, c1[240], (_other(c1[240]),), "softmasked"),
        ("chr2", 20, c2[20], (_other(c2[20], 3),), "snv2"),
        ("chr2", 185, c2[185:195], (c2[185],), "del_end"),            # N past the end
        ("chr2", 195, c2[195], (_other(c2[195]),), "edge_end"),       # window outside
        ("chr3", 10, "A", ("C",), "absent"),
    ]
    path = _write_vcf(genome["dir"] / "variants.vcf", records,
                      {"chr1": 300, "chr2": 200, "chr3": 100})
    return {"path": path, "records": records}


#: the skipped counts of ``vcf`` at binsize 20 or 21
SKIPPED = {"symbolic ALT": 1, "missing ALT": 2, "contig not in genome": 1,
           "non-ACGT allele": 1, "window outside the chromosome": 2, "reference mismatch": 1}


@pytest.fixture(scope="module")
def annotation(genome) -> str:
    """A minus-strand feature over the insertion and deletion, a plus-strand one over the
    multi-allelic records, and a minus-strand one on chr2."""
    bed = genome["dir"] / "genes.bed"
    bed.write_text("chr1\t55\t90\tgeneA\t0\t-\n"
                   "chr1\t95\t130\tgeneB\t0\t+\n"
                   "chr2\t0\t50\tgeneC\t0\t-\n")
    return str(bed)


# ---------------------------------------------------------------------- hand-made truth
def janggu_window(binsize: int, pos1: int) -> tuple[int, int]:
    """Janggu's VariantStreamer.get_interval, verbatim."""
    start = pos1 - binsize // 2 + (1 if binsize % 2 == 0 else 0) - 1
    end = pos1 + binsize // 2
    return start, end


def spliced(seqs: dict, chrom: str, pos0: int, ref: str, alt: str, binsize: int,
            strand: str = "+", ignore: bool = False) -> tuple[str, str]:
    """Reference and alternative window sequences, by string slicing and replacement."""
    start, end = janggu_window(binsize, pos0 + 1)
    padded = seqs[chrom] + "N" * (2 * binsize)
    ref_win = padded[start:end]
    if ignore:
        ref_win = (padded[start:pos0] + ref + padded[pos0 + len(ref):])[:binsize]
    alt_win = (padded[start:pos0] + alt + padded[pos0 + len(ref):])[:binsize]
    if strand == "-":
        ref_win = "".join(COMP[b] for b in reversed(ref_win))
        alt_win = "".join(COMP[b] for b in reversed(alt_win))
    return ref_win, alt_win


def plain_onehot(seq: str, order: int) -> np.ndarray:
    """k-mer one-hot with Python loops: (len - order + 1, 1, 4**order)."""
    out = np.zeros((len(seq) - order + 1, 1, 4 ** order), dtype="float32")
    for i in range(len(seq) - order + 1):
        kmer = seq[i:i + order]
        if all(b in "ACGT" for b in kmer):
            index = 0
            for b in kmer:
                index = index * 4 + "ACGT".index(b)
            out[i, 0, index] = 1
    return out


def janggu_snv(seqs: dict, chrom: str, pos0: int, ref: str, alt: str, binsize: int,
               order: int, strand: str = "+") -> tuple[np.ndarray, np.ndarray]:
    """Janggu's flow() for one SNV: k-mer indices from np.convolve (SeqLoader), the
    variant written into every overlapping k-mer index at
    ``binsize//2 + o - order + (0 if even else 1)``, reverse complement, one-hot."""
    nmap = {"A": 0, "C": 1, "G": 2, "T": 3}
    start, end = janggu_window(binsize, pos0 + 1)
    ind = np.array([nmap.get(b, -1024) for b in seqs[chrom][start:end]])
    filt = np.array([4 ** i for i in range(order)])
    iref = np.convolve(ind, filt, mode="valid")
    ialt = iref.copy()
    for o in range(order):
        p = binsize // 2 + o - order + (0 if binsize % 2 == 0 else 1)
        assert (iref[p] // 4 ** o) % 4 == nmap[ref]
        ialt[p] += (nmap[alt] - nmap[ref]) * 4 ** o

    def rc_index(idx: int) -> int:
        irc = 0
        for iord in range(order):
            nuc = idx % 4
            idx //= 4
            irc += (3 - nuc) * 4 ** (order - iord - 1)
        return irc

    if strand == "-":
        iref = np.array([rc_index(v) if v >= 0 else v for v in iref])[::-1]
        ialt = np.array([rc_index(v) if v >= 0 else v for v in ialt])[::-1]

    def hot(iseq: np.ndarray) -> np.ndarray:
        out = np.zeros((len(iseq), 1, 4 ** order), dtype="float32")
        for nuc in range(4 ** order):
            out[:, 0, nuc][iseq == nuc] = 1
        return out

    return hot(iref), hot(ialt)


def expected_rows(vcf: dict, genome: dict, binsize: int, *, minus: set[str] = frozenset(),
                  ignore: bool = False, snv_only: bool = False) -> list[tuple]:
    """``(name, chrom, pos0, ref, alt, allele_index, strand)`` per window pair expected."""
    seqs = genome["seqs"]
    offset = (binsize - 1) // 2
    rows = []
    for chrom, pos0, ref, alts, vid in vcf["records"]:
        if chrom not in seqs:
            continue
        if pos0 - offset < 0 or pos0 - offset + binsize > len(seqs[chrom]):
            continue
        if not ignore and seqs[chrom][pos0:pos0 + len(ref)] != ref:
            continue
        for k, alt in enumerate(alts, 1):
            if alt in (".", "*", "<DEL>", "R"):
                continue
            if snv_only and (len(alts) != 1 or len(ref) != 1 or len(alt) != 1):
                continue
            rows.append((vid or "", chrom, pos0, ref, alt, k,
                         "-" if (vid or "") in minus else "+"))
    return rows


def collect(streamer: VariantStreamer) -> dict:
    out: dict = {k: [] for k in ("names", "chroms", "pos", "ra", "aa", "ref", "alt",
                                 "strands", "allele", "sizes")}
    for names, chroms, pos, ra, aa, ref, alt in streamer:
        out["names"] += names
        out["chroms"] += chroms
        out["pos"] += list(pos)
        out["ra"] += ra
        out["aa"] += aa
        out["ref"].append(ref)
        out["alt"].append(alt)
        out["sizes"].append(len(names))
    return out


def check_windows(got: dict, rows: list[tuple], genome: dict, binsize: int, order: int,
                  ignore: bool = False) -> None:
    assert got["names"] == [r[0] for r in rows]
    assert got["chroms"] == [r[1] for r in rows]
    assert got["pos"] == [r[2] for r in rows]
    assert got["ra"] == [r[3] for r in rows]
    assert got["aa"] == [r[4] for r in rows]
    ref = np.concatenate(got["ref"])
    alt = np.concatenate(got["alt"])
    assert ref.shape == (len(rows), binsize - order + 1, 1, 4 ** order)
    assert ref.dtype == np.float32 and alt.shape == ref.shape
    for i, (_, chrom, pos0, ra, aa, _, strand) in enumerate(rows):
        want_ref, want_alt = spliced(genome["seqs"], chrom, pos0, ra, aa, binsize, strand,
                                     ignore)
        assert len(want_ref) == len(want_alt) == binsize
        np.testing.assert_array_equal(ref[i], plain_onehot(want_ref, order),
                                      err_msg=f"ref window of row {i} {rows[i]}")
        np.testing.assert_array_equal(alt[i], plain_onehot(want_alt, order),
                                      err_msg=f"alt window of row {i} {rows[i]}")


# ---------------------------------------------------------------------- placement
def test_variant_offset_is_janggus():
    for binsize in range(1, 40):
        start, end = janggu_window(binsize, pos1=1000)
        assert end - start == binsize
        assert variant_offset(binsize) == 999 - start
    assert (variant_offset(1000), variant_offset(1001)) == (499, 500)


@pytest.mark.parametrize("binsize", [20, 21])
@pytest.mark.parametrize("order", [1, 2, 3])
def test_windows_match_hand_spliced_sequences(genome, vcf, binsize, order):
    streamer = VariantStreamer(genome["fasta"], vcf["path"], binsize=binsize, batch_size=4,
                               order=order)
    with pytest.warns(SkippedVariantsWarning) as record:
        got = collect(streamer)
    rows = expected_rows(vcf, genome, binsize)
    by_name = {r[0]: spliced(genome["seqs"], *r[1:5], binsize) for r in rows}
    assert "N" in by_name["near_n"][0] and by_name["del_end"][1].endswith("N")
    assert len(by_name["longins"][1]) == binsize  # cut at the window end
    check_windows(got, rows, genome, binsize, order)
    assert got["sizes"][:-1] == [4] * (len(got["sizes"]) - 1)  # full batches but the last
    assert 0 < got["sizes"][-1] <= 4
    assert len(record) == 1  # ONE summary warning
    assert dict(streamer.skipped) == SKIPPED


def test_a_2bit_genome_gives_the_windows_of_its_fasta(genome, vcf, tmp_path):
    """A 2bit genome path was read as a FASTA ("no usable .fai index ... not a FASTA
    file"), though Bioseq and personal genomes take 2bit files (an audit): its windows
    are the hand-spliced ones, as the FASTA's."""
    import warnings

    from test_regions_ux import write_2bit

    twobit = write_2bit(tmp_path / "genome.2bit", list(genome["seqs"].items()))
    streamer = VariantStreamer(twobit, vcf["path"], binsize=20, batch_size=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkippedVariantsWarning)
        got = collect(streamer)
    check_windows(got, expected_rows(vcf, genome, 20), genome, 20, 1)
    assert dict(streamer.skipped) == SKIPPED


def test_a_fasta_rewritten_after_the_streamer_was_made_is_an_error(tmp_path):
    """The windows that fit were chosen from the FASTA's sizes when the streamer was
    made; a FASTA cut short afterwards (rewritten in place) was read past its new end as
    N, and a variant's window served 173 bases and 27 N, silently (an audit). Now the
    read names the file that changed. A streamer made afterwards skips that variant, as
    documented (its window no longer fits)."""
    import warnings

    from genozarr.errors import InputFileError

    seq = "".join(np.random.default_rng(3).choice(list("ACGT"), 20000))
    fasta = tmp_path / "g.fa"
    fasta.write_text(">chr1\n" + "\n".join(seq[i:i + 60] for i in range(0, 20000, 60)) + "\n")
    header = pysam.VariantHeader()
    header.contigs.add("chr1", length=20000)
    with pysam.VariantFile(str(tmp_path / "v.vcf"), "w", header=header) as out:
        for pos in (1000, 7790):
            ref = seq[pos - 1]
            out.write(out.new_record(contig="chr1", start=pos - 1, stop=pos,
                                     alleles=(ref, "A" if ref != "A" else "C"), id=f"v{pos}"))
    streamer = VariantStreamer(str(fasta), str(tmp_path / "v.vcf"), binsize=200, batch_size=1)
    first = next(iter(streamer))  # (read before the file changes: the genome's bases)
    codes = first.ref[0, :, 0, :].argmax(-1)
    assert "".join("ACGT"[c] for c in codes) == seq[900:1100]
    with open(fasta, "r+") as f:
        f.truncate(8000)  # chr1 now holds 7,863 bases
    with pytest.raises(InputFileError, match=f"{fasta} changed since this VariantStreamer "
                                             "was made"):
        list(streamer)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        names = [str(b.names[0]) for b in VariantStreamer(str(fasta), str(tmp_path / "v.vcf"),
                                                          binsize=200, batch_size=1)]
    assert names == ["v1000"]
    assert any("window outside the chromosome" in str(w.message) for w in seen)


@pytest.mark.parametrize("binsize", [20, 21])
@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("strand", ["+", "-"])
def test_snv_windows_match_janggus_arithmetic(genome, vcf, annotation, binsize, order, strand):
    kwargs = {"annotation": annotation} if strand == "-" else {}
    streamer = VariantStreamer(genome["fasta"], vcf["path"], binsize=binsize, batch_size=64,
                               order=order, snv_only=True, **kwargs)
    with pytest.warns(SkippedVariantsWarning):
        (batch,) = list(streamer)
    minus = {"snv2"} if strand == "-" else set()
    rows = expected_rows(vcf, genome, binsize, snv_only=True, minus=minus)
    assert batch.names == [r[0] for r in rows]
    assert "ins" not in batch.names and "multi" not in batch.names  # Janggu's SNV rule
    for i, (_, chrom, pos0, ra, aa, _, s) in enumerate(rows):
        want_ref, want_alt = janggu_snv(genome["seqs"], chrom, pos0, ra, aa, binsize, order, s)
        np.testing.assert_array_equal(batch.ref[i], want_ref)
        np.testing.assert_array_equal(batch.alt[i], want_alt)
    if strand == "-":
        assert list(batch.strands) == [r[6] for r in rows] and "-" in batch.strands


def test_snv_sits_where_janggu_puts_it(genome, vcf):
    """The one position where ref and alt windows differ, for even and odd binsizes."""
    for binsize, where in ((10, 4), (11, 5), (40, 19), (41, 20)):
        streamer = VariantStreamer(genome["fasta"], vcf["path"], binsize=binsize,
                                   batch_size=100, snv_only=True)
        with pytest.warns(SkippedVariantsWarning):
            batch = list(streamer)[0]
        assert batch.names[0] == "snv1"
        diff = np.flatnonzero((batch.ref[0] != batch.alt[0]).any(axis=(1, 2)))
        assert list(diff) == [where]


# ---------------------------------------------------------------------- strands, options
@pytest.mark.parametrize("order", [1, 2, 3])
def test_minus_strand_annotation(genome, vcf, annotation, order):
    streamer = VariantStreamer(genome["fasta"], vcf["path"], binsize=21, batch_size=5,
                               order=order, annotation=annotation)
    with pytest.warns(SkippedVariantsWarning):
        batches = list(streamer)
    got = collect_from(batches)
    rows = expected_rows(vcf, genome, 21, minus={"ins", "del", "snv2"})
    check_windows(got, rows, genome, 21, order)
    strands = np.concatenate([b.strands for b in batches])
    assert [s for s, r in zip(strands, rows) if s == "-"] == ["-"] * 3
    assert list(strands) == [r[6] for r in rows]


def collect_from(batches: list) -> dict:
    class _Once:
        def __iter__(self):
            return iter(batches)

    return collect(_Once())  # type: ignore[arg-type]


def test_annotation_as_gtf_and_dataframe(genome, vcf, annotation):
    gtf = genome["dir"] / "genes.gtf"
    gtf.write_text('chr1\ttest\tgene\t56\t90\t.\t-\t.\tgene_id "A";\n'
                   'chr2\ttest\tgene\t1\t50\t.\t-\t.\tgene_id "C";\n')
    frame = pd.DataFrame({"chrom": ["chr1", "chr2"], "start": [55, 0], "end": [90, 50],
                          "strand": ["-", "-"]})
    for ann in (str(gtf), frame):
        streamer = VariantStreamer(genome["fasta"], vcf["path"], binsize=21, batch_size=50,
                                   annotation=ann)
        with pytest.warns(SkippedVariantsWarning):
            (batch,) = list(streamer)
        minus = {n for n, s in zip(batch.names, batch.strands) if s == "-"}
        assert minus == {"ins", "del", "snv2"}
    # every feature line counts: exons without a gene line (a file of exons only failed:
    # "no 'gene' lines"; beside gene lines they were left out, the variants plus-strand)
    exons = genome["dir"] / "exons.gtf"
    exons.write_text('chr1\ttest\tgene\t56\t90\t.\t-\t.\tgene_id "A";\n'
                     'chr2\ttest\texon\t1\t50\t.\t-\t.\tgene_id "C";\n')
    for text, keep, want in ((exons.read_text(), "*", {"ins", "del", "snv2"}),
                             (exons.read_text().split("\n", 1)[1], "*", {"snv2"}),
                             (exons.read_text(), "gene", {"ins", "del"})):
        exons.write_text(text)
        streamer = VariantStreamer(genome["fasta"], vcf["path"], binsize=21, batch_size=50,
                                   annotation=str(exons), annotation_feature=keep)
        with pytest.warns(SkippedVariantsWarning):
            (batch,) = list(streamer)
        assert {n for n, s in zip(batch.names, batch.strands) if s == "-"} == want


@pytest.mark.parametrize("order", [1, 3])
def test_ignore_reference_match(genome, vcf, order):
    streamer = VariantStreamer(genome["fasta"], vcf["path"], binsize=21, batch_size=8,
                               order=order, ignore_reference_match=True)
    with pytest.warns(SkippedVariantsWarning) as record:
        got = collect(streamer)
    rows = expected_rows(vcf, genome, 21, ignore=True)
    assert "mismatch" in [r[0] for r in rows]
    check_windows(got, rows, genome, 21, order, ignore=True)
    assert "reference mismatch" not in streamer.skipped
    assert "reference mismatch" not in str(record[0].message)


def test_skipped_summary_warning(genome, vcf):
    streamer = VariantStreamer(genome["fasta"], vcf["path"], binsize=21, batch_size=3)
    with pytest.warns(SkippedVariantsWarning) as record:
        list(streamer)
    assert len(record) == 1
    msg = str(record[0].message)
    assert "skipped 8 ALT allele(s)" in msg
    for reason, n in SKIPPED.items():
        assert f"{n} {reason}" in msg
    assert "chr3" in msg
    # a second pass warns again, with the same counts
    with pytest.warns(SkippedVariantsWarning) as again:
        list(streamer)
    assert len(again) == 1
    assert dict(streamer.skipped) == SKIPPED


def test_get_variant_count_and_flow(genome, vcf):
    streamer = VariantStreamer(genome["fasta"], vcf["path"], binsize=21, batch_size=3)
    n = streamer.get_variant_count()  # no warning: counting only
    assert n == len(expected_rows(vcf, genome, 21))
    with pytest.warns(SkippedVariantsWarning):
        assert sum(len(b.names) for b in streamer.flow()) == n


def test_snv_only_counts_but_does_not_warn_about_indels(genome, tmp_path):
    c1 = genome["seqs"]["chr1"]
    path = _write_vcf(tmp_path / "indels.vcf",
                      [("chr1", 60, c1[60], (c1[60] + "AC",), "ins"),
                       ("chr1", 100, c1[100], (_other(c1[100]), _other(c1[100], 2)), "multi"),
                       ("chr1", 110, c1[110], (_other(c1[110]),), "snv")],
                      {"chr1": 300})
    streamer = VariantStreamer(genome["fasta"], path, binsize=21, batch_size=8, snv_only=True)
    (batch,) = list(streamer)  # no warning: the filter was asked for
    assert batch.names == ["snv"]
    assert streamer.skipped["not a biallelic SNV (snv_only=True)"] == 3
    (both,) = list(VariantStreamer(genome["fasta"], path, binsize=21, batch_size=8))
    assert both.names == ["ins", "multi", "multi", "snv"]
    assert list(both.allele_index) == [1, 1, 2, 1]


def test_bioseq_whole_genome_gives_the_same_windows(genome, vcf, tmp_path):
    from genozarr import Bioseq

    for storage in ("ndarray", "zarr"):
        dna = Bioseq.create_from_refgenome("dna", genome["fasta"], binsize=50, order=2,
                                           store_whole_genome=True, storage=storage,
                                           store=str(tmp_path / f"dna_{storage}.zarr")
                                           if storage == "zarr" else None)
        streamer = VariantStreamer(dna, vcf["path"], binsize=20, batch_size=6)
        assert streamer.order == 2  # Janggu takes the order from the Bioseq
        with pytest.warns(SkippedVariantsWarning):
            got = collect(streamer)
        check_windows(got, expected_rows(vcf, genome, 20), genome, 20, 2)
        with pytest.warns(SkippedVariantsWarning):
            one = collect(VariantStreamer(dna, vcf["path"], binsize=20, batch_size=6, order=1))
        check_windows(one, expected_rows(vcf, genome, 20), genome, 20, 1)


def test_bioseq_must_hold_the_whole_genome(genome, vcf, tmp_path):
    from genozarr import Bioseq

    roi = tmp_path / "roi.bed"
    roi.write_text("chr1\t0\t100\n")
    dna = Bioseq.create_from_refgenome("dna", genome["fasta"], roi=str(roi), binsize=100)
    with pytest.raises(ArgumentError, match="store_whole_genome=True"):
        VariantStreamer(dna, vcf["path"], binsize=20, batch_size=4)


def test_chrom_map_auto(genome, tmp_path):
    c1 = genome["seqs"]["chr1"]
    path = _write_vcf(tmp_path / "nochr.vcf", [("1", 40, c1[40], (_other(c1[40]),), "a")],
                      {"1": 300})
    with pytest.warns(SkippedVariantsWarning, match="chrom_map='auto'"):
        assert list(VariantStreamer(genome["fasta"], path, binsize=21, batch_size=4)) == []
    (batch,) = list(VariantStreamer(genome["fasta"], path, binsize=21, batch_size=4,
                                    chrom_map="auto"))
    assert batch.chroms == ["1"]  # the VCF's name
    want_ref, want_alt = spliced(genome["seqs"], "chr1", 40, c1[40], _other(c1[40]), 21)
    np.testing.assert_array_equal(batch.alt[0], plain_onehot(want_alt, 1))
    (same,) = list(VariantStreamer(genome["fasta"], path, binsize=21, batch_size=4,
                                   chrom_map={"1": "chr1"}))
    np.testing.assert_array_equal(same.ref, batch.ref)


@pytest.mark.parametrize("csi", [False, True])
def test_indexed_vcf_streams_by_region(genome, vcf, tmp_path, csi):
    from genozarr.genome import Region

    plain = tmp_path / "indexed.vcf"
    plain.write_bytes(Path(vcf["path"]).read_bytes())
    gz = pysam.tabix_index(str(plain), preset="vcf", force=True, csi=csi)
    assert os.path.exists(gz + (".csi" if csi else ".tbi"))
    regions = [Region("chr1", 50, 130), Region("chr1", 100, 110), Region("chr2", 0, 100),
               Region("chrUn", 0, 10)]
    with pytest.warns(SkippedVariantsWarning, match=r"contigs the file does not have.*chrUn"):
        (batch,) = list(VariantStreamer(genome["fasta"], gz, binsize=21, batch_size=50,
                                        regions=regions))
    assert batch.names == ["ins", "del", "multi", "multi", "mixed", "mixed", "mixed", "snv2"]
    # regions in the genome's names where they differ from the VCF's (here: '1', '2'),
    # through chrom_map: the same variants, no warning
    renamed = tmp_path / "renamed.vcf"
    renamed.write_text("".join(
        line.replace("ID=chr", "ID=") if line.startswith("##contig")
        else line if line.startswith("#") else line[3:]
        for line in Path(vcf["path"]).read_text().splitlines(keepends=True)))
    gz1 = pysam.tabix_index(str(renamed), preset="vcf", force=True, csi=csi)
    for chrom_map in ("auto", {"1": "chr1", "2": "chr2"}):
        (same,) = list(VariantStreamer(genome["fasta"], gz1, binsize=21, batch_size=50,
                                       regions=regions[:3], chrom_map=chrom_map))
        assert same.names == batch.names
        np.testing.assert_array_equal(same.alt, batch.alt)
        # one contig named both ways, overlapping: each record once (was twice)
        (mixed,) = list(VariantStreamer(
            genome["fasta"], gz1, binsize=21, batch_size=50, chrom_map=chrom_map,
            regions=[Region("chr1", 50, 110), Region("1", 100, 130), Region("2", 0, 100)]))
        assert mixed.names == batch.names
    bed = tmp_path / "regions.bed"
    bed.write_text("chr1\t50\t130\nchr2\t0\t100\n")
    (same,) = list(VariantStreamer(genome["fasta"], gz, binsize=21, batch_size=50,
                                   regions=str(bed)))
    np.testing.assert_array_equal(same.alt, batch.alt)
    with pytest.raises(MissingIndexError, match="tabix"):
        list(VariantStreamer(genome["fasta"], vcf["path"], binsize=21, batch_size=50,
                             regions=regions))


def test_bcf_gives_the_same_windows(genome, vcf, tmp_path):
    bcf = str(tmp_path / "variants.bcf")
    with pysam.VariantFile(vcf["path"]) as src, \
            pysam.VariantFile(bcf, "wb", header=src.header) as out:
        for rec in src:
            out.write(rec)
    with pytest.warns(SkippedVariantsWarning):
        from_vcf = collect(VariantStreamer(genome["fasta"], vcf["path"], binsize=20,
                                           batch_size=7, order=2))
    with pytest.warns(SkippedVariantsWarning):
        from_bcf = collect(VariantStreamer(genome["fasta"], bcf, binsize=20, batch_size=7,
                                           order=2))
    assert from_bcf["names"] == from_vcf["names"]
    np.testing.assert_array_equal(np.concatenate(from_bcf["alt"]),
                                  np.concatenate(from_vcf["alt"]))


def test_bad_arguments(genome, vcf):
    with pytest.raises(ArgumentError, match="binsize"):
        VariantStreamer(genome["fasta"], vcf["path"], binsize=2, batch_size=4, order=3)
    with pytest.raises(ArgumentError, match="batch_size"):
        VariantStreamer(genome["fasta"], vcf["path"], binsize=20, batch_size=0)
    with pytest.raises(ArgumentError, match="bioseq"):
        VariantStreamer(42, vcf["path"], binsize=20, batch_size=4)
    from genozarr.errors import InputFileError

    with pytest.raises(InputFileError):
        VariantStreamer(genome["fasta"], "no-such.vcf", binsize=20, batch_size=4)


# ---------------------------------------------------------------------- scores
def toy_model(x: np.ndarray) -> np.ndarray:
    """GC count and the A count of the middle third: (batch, 2), non-negative."""
    gc = x[:, :, 0, 1].sum(1) + x[:, :, 0, 2].sum(1)
    third = x.shape[1] // 3
    return np.stack([gc, x[:, third:2 * third, 0, 0].sum(1)], axis=1)


def test_score_variants_store(genome, vcf, annotation, tmp_path):
    streamer = VariantStreamer(genome["fasta"], vcf["path"], binsize=21, batch_size=4,
                               annotation=annotation)
    path = tmp_path / "effects.zarr"
    with pytest.warns(SkippedVariantsWarning):
        ds = score_variants(toy_model, streamer, path, conditions=["gc", "a_mid"],
                            chunk_variants=5)
    assert not [p for p in os.listdir(tmp_path) if ".tmp-" in p]  # published atomically
    plain = xr.open_zarr(path)  # plain xarray, no genozarr engine
    assert dict(plain.sizes) == {"variant": len(expected_rows(vcf, genome, 21)),
                                 "condition": 2}
    assert set(plain.data_vars) == {"ref", "alt", "diff", "logfc"}
    assert plain["ref"].dims == ("variant", "condition")
    assert list(plain["condition"].values) == ["gc", "a_mid"]
    rows = expected_rows(vcf, genome, 21, minus={"ins", "del", "snv2"})
    assert list(plain["variant_chrom"].values) == [r[1] for r in rows]
    assert list(plain["variant_pos"].values) == [r[2] + 1 for r in rows]  # 1-based, as VCF
    assert list(plain["variant_id"].values) == [r[0] for r in rows]
    assert list(plain["variant_ref"].values) == [r[3] for r in rows]
    assert list(plain["variant_alt"].values) == [r[4] for r in rows]
    assert list(plain["variant_strand"].values) == [r[6] for r in rows]
    assert list(plain["variant_allele"].values) == [r[5] for r in rows]
    for name in ("variant_chrom", "variant_pos", "variant_strand"):
        assert name in plain.coords
    # scores: the toy model on the hand-spliced windows
    want_ref = np.stack([toy_model(plain_onehot(spliced(genome["seqs"], r[1], r[2], r[3],
                                                        r[4], 21, r[6])[0], 1)[None])[0]
                         for r in rows])
    want_alt = np.stack([toy_model(plain_onehot(spliced(genome["seqs"], r[1], r[2], r[3],
                                                        r[4], 21, r[6])[1], 1)[None])[0]
                         for r in rows])
    np.testing.assert_array_equal(plain["ref"].values, want_ref)
    np.testing.assert_array_equal(plain["alt"].values, want_alt)
    np.testing.assert_array_equal(plain["diff"].values, want_alt - want_ref)
    eps = plain.attrs["eps"]
    np.testing.assert_allclose(plain["logfc"].values,
                               np.log2((want_alt + eps) / (want_ref + eps)), rtol=1e-6)
    assert plain.attrs["binsize"] == 21 and plain.attrs["skipped"] == SKIPPED
    xr.testing.assert_identical(ds.load(), plain.load())
    # an existing store is kept unless overwrite=True
    with pytest.raises(StoreError, match="overwrite"):
        score_variants(toy_model, streamer, path)
    with pytest.warns(SkippedVariantsWarning):
        again = score_variants(lambda x: toy_model(x)[:, 0], streamer, path, overwrite=True)
    assert list(again["condition"].values) == ["0"]
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]


def test_score_variants_in_memory_without_logfc(genome, vcf):
    streamer = VariantStreamer(genome["fasta"], vcf["path"], binsize=21, batch_size=4)

    def signed(x):
        return toy_model(x) - 5.0

    with pytest.warns(SkippedVariantsWarning):
        ds = score_variants(signed, streamer)
    assert set(ds.data_vars) == {"ref", "alt", "diff"}  # negative scores: no logfc
    assert ds.sizes["variant"] == len(expected_rows(vcf, genome, 21))
    np.testing.assert_array_equal(ds["diff"].values, ds["alt"].values - ds["ref"].values)


def test_score_variants_keeps_scores_of_a_model_that_reuses_its_output(genome, vcf):
    """A model writing into one output buffer it returns each call (numpy's out=) had
    its reference scores replaced by the alternative ones before they were kept
    (an audit): the scores are those of a model returning fresh arrays."""
    buffer = np.empty((4, 1), dtype=np.float32)

    def reusing(x):
        n = len(x)
        np.sum(x[..., [1, 2]], axis=(1, 2, 3), out=buffer[:n, 0])
        return buffer[:n]

    def fresh(x):
        return x[..., [1, 2]].sum(axis=(1, 2, 3))[:, None]

    runs = []
    for model in (reusing, fresh):
        streamer = VariantStreamer(genome["fasta"], vcf["path"], binsize=21, batch_size=4)
        with pytest.warns(SkippedVariantsWarning):
            runs.append(score_variants(model, streamer))
    for key in ("ref", "alt", "diff"):
        np.testing.assert_array_equal(runs[0][key].values, runs[1][key].values)
    assert (runs[1]["diff"].values != 0).any()


def test_score_variants_of_no_variant_makes_an_empty_store(genome, tmp_path):
    """A VCF of no variant scores to an empty store, as to an empty Dataset in memory
    (before: KeyError 'ref' from the store, whose arrays were never created)."""
    empty = tmp_path / "empty.vcf"
    empty.write_text("##fileformat=VCFv4.2\n##contig=<ID=chr1,length=1000>\n"
                     "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
    streamer = VariantStreamer(genome["fasta"], str(empty), binsize=21, batch_size=4)
    memory = score_variants(toy_model, streamer, conditions=["gc", "a_mid"])
    stored = score_variants(toy_model, streamer, tmp_path / "e.zarr", conditions=["gc", "a_mid"])
    plain = xr.open_zarr(tmp_path / "e.zarr")
    for ds in (memory, stored, plain):
        assert dict(ds.sizes) == {"variant": 0, "condition": 2}
        assert {"ref", "alt", "diff"} <= set(ds.data_vars)
        assert ds["ref"].dims == ("variant", "condition")
        assert list(ds["condition"].values) == ["gc", "a_mid"]


def test_score_variants_checks_the_model(genome, vcf, tmp_path):
    streamer = VariantStreamer(genome["fasta"], vcf["path"], binsize=21, batch_size=4)
    with pytest.raises(ArgumentError, match="shape"):
        score_variants(lambda x: x, streamer, tmp_path / "bad.zarr")
    with pytest.raises(ArgumentError, match="conditions"):
        score_variants(toy_model, streamer, tmp_path / "bad.zarr", conditions=["a"])
    assert not os.listdir(tmp_path)  # nothing left behind


def test_vcf_export_keeps_infinite_scores(genome, vcf, tmp_path):
    """An infinite score (a model's log output of 0) is written as such, as the BED export
    writes it; only a missing score (NaN) is left out. Infinities were left out too."""
    streamer = VariantStreamer(genome["fasta"], vcf["path"], binsize=21, batch_size=4)
    with pytest.warns(SkippedVariantsWarning):
        ds = score_variants(toy_model, streamer, tmp_path / "effects.zarr",
                            conditions=["gc", "a"]).load()
    ds["ref"].values[0, 0] = -np.inf
    ds["alt"].values[0, 1] = np.inf
    ds["diff"].values[1, 0] = np.nan
    with pysam.VariantFile(export_to_vcf(ds, tmp_path / "e.vcf")) as vf:
        first, second = list(vf)[:2]
    assert first.info["ref_gc"] == -np.inf and first.info["alt_a"] == np.inf
    assert "diff_gc" not in second.info and "diff_a" in second.info


def test_exports_read_back(genome, vcf, tmp_path):
    streamer = VariantStreamer(genome["fasta"], vcf["path"], binsize=21, batch_size=4)
    with pytest.warns(SkippedVariantsWarning):
        ds = score_variants(toy_model, streamer, tmp_path / "effects.zarr",
                            conditions=["gc", "a mid"]).load()
    n = ds.sizes["variant"]
    for suffix in (".vcf", ".vcf.gz"):
        out = export_to_vcf(tmp_path / "effects.zarr", tmp_path / f"effects{suffix}")
        assert os.path.exists(out + ".tbi") == (suffix == ".vcf.gz")  # sorted: indexed
        with pysam.VariantFile(out) as vf:
            info = vf.header.info
            assert {"ref_gc", "alt_gc", "diff_gc", "logfc_gc", "ref_a_mid",
                    "diff_a_mid"} <= set(info)
            assert info["diff_gc"].type == "Float" and info["diff_gc"].number == 1
            recs = list(vf)
        assert len(recs) == n
        for i, rec in enumerate(recs):
            assert rec.chrom == str(ds["variant_chrom"].values[i])
            assert rec.pos == int(ds["variant_pos"].values[i])
            assert rec.ref == str(ds["variant_ref"].values[i])
            assert rec.alts == (str(ds["variant_alt"].values[i]),)
            assert (rec.id or "") == str(ds["variant_id"].values[i])
            for var in ("ref", "alt", "diff", "logfc"):
                for j, cond in enumerate(("gc", "a_mid")):
                    assert rec.info[f"{var}_{cond}"] == pytest.approx(
                        float(ds[var].values[i, j]), rel=1e-5, abs=1e-6)
            assert rec.info["VE_STRAND"] == "+"
    bed = export_to_bed(ds, tmp_path / "effects.bed")
    frame = pd.read_csv(bed, sep="\t")
    assert list(frame.columns[:6]) == ["#chrom", "start", "end", "name", "score", "strand"]
    assert len(frame) == n
    np.testing.assert_array_equal(frame["start"], ds["variant_pos"].values - 1)
    np.testing.assert_array_equal(frame["end"] - frame["start"],
                                  [len(str(r)) for r in ds["variant_ref"].values])
    np.testing.assert_allclose(frame["diff_a_mid"], ds["diff"].values[:, 1], rtol=1e-6)
    assert frame["name"].iloc[0] == f"snv1_{ds['variant_ref'].values[0]}>" \
                                    f"{ds['variant_alt'].values[0]}"
    assert "chr1:46_" in frame["name"].iloc[1]  # no ID: chrom:POS
    with open(bed) as fh:  # BED tools skip the '#' header line
        assert fh.readline().startswith("#chrom\t")


# ---------------------------------------------------------------------- docs page
@pytest.mark.slow
def test_variants_docs_page_runs(tmp_path, monkeypatch):
    from test_docs import run_page

    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    assert run_page("variants.md", ns) >= 5  # no skipped variant: no warning
    effects = ns["effects"].load()
    assert set(effects.data_vars) == {"ref", "alt", "diff", "logfc"}
    assert list(effects["variant_id"].values) == ["gata_snv", "snv1", "gata_ins", "del1",
                                                  "gata_multi", "gata_multi", "snv2"]
    # breaking a GATA site lowers the toy model's site count; the second ALT of the
    # multi-allelic record (C) breaks it as well
    gata = effects["diff"].sel(condition="gata").values
    assert list(ns["broken"]) == ["gata_snv", "gata_ins", "gata_multi", "gata_multi"]
    assert (gata[[0, 2, 4, 5]] < 0).all() and (gata[[1, 3, 6]] == 0).all()
    assert list(np.flatnonzero(ns["changed"])) == [99]
    with pysam.VariantFile(str(tmp_path / "effects.vcf.gz")) as vf:
        assert len(list(vf)) == 7
    assert len(pd.read_csv(tmp_path / "effects.bed", sep="\t")) == 7


# ---------------------------------------------------------------------- bad input files
def test_stale_index_plain_gzip_and_malformed_records(genome, vcf, tmp_path):
    """An index older than the VCF is a StaleIndexError (regions= read through it; was a
    bare OSError 'truncated file'); a plain-gzip VCF an InputFileError saying to use bgzip
    (was NotImplementedError); a malformed record a MalformedFileError naming the file and
    the record before it (was a bare OSError)."""
    import gzip

    from genozarr.errors import InputFileError, MalformedFileError, StaleIndexError
    from genozarr.genome import Region

    plain = tmp_path / "stale.vcf"
    plain.write_text(Path(vcf["path"]).read_text())
    gz = pysam.tabix_index(str(plain), preset="vcf", force=True, csi=True)
    regions = [Region("chr1", 50, 130)]
    (fresh,) = list(VariantStreamer(genome["fasta"], gz, binsize=21, batch_size=50,
                                    regions=regions))
    assert fresh.names == ["ins", "del", "multi", "multi", "mixed", "mixed", "mixed"]
    st = os.stat(gz)
    os.utime(gz + ".csi", ns=(st.st_atime_ns, st.st_mtime_ns - 10**9))
    with pytest.raises(StaleIndexError) as e:
        list(VariantStreamer(genome["fasta"], gz, binsize=21, batch_size=50, regions=regions))
    assert gz + ".csi" in str(e.value) and "tabix -p vcf -C" in str(e.value)

    zipped = str(tmp_path / "plain.vcf.gz")
    with gzip.open(zipped, "wt") as fh:
        fh.write(Path(vcf["path"]).read_text())
    with pytest.raises(InputFileError, match=r"plain gzip.*bgzip") as e:
        list(VariantStreamer(genome["fasta"], zipped, binsize=21, batch_size=50))
    assert zipped in str(e.value)

    lines = Path(vcf["path"]).read_text().splitlines(keepends=True)
    first = next(i for i, line in enumerate(lines) if not line.startswith("#"))
    for bad in ("chr1\t6x0\t.\tA\tC\t.\t.\t.\n", "chr1\t60\t.\tA\tC\t.\t.\n"):
        broken = tmp_path / "broken.vcf"
        broken.write_text("".join(lines[:first + 2]) + bad + "".join(lines[first + 2:]))
        with pytest.raises(MalformedFileError) as e:
            list(VariantStreamer(genome["fasta"], str(broken), binsize=21, batch_size=2))
        assert str(broken) in str(e.value) and "after chr1:41" in str(e.value)


def test_a_streamed_record_htslib_cannot_read_names_its_reason_and_pos_0_is_refused(
        genome, vcf, tmp_path):
    """The VariantStreamer gave 'truncated file' as the reason for a record htslib cannot
    read (its reason went to stderr only), and skipped a record of POS 0 as 'window
    outside the chromosome' where the docs (and personal genomes) refuse it."""
    from genozarr.errors import MalformedFileError

    lines = Path(vcf["path"]).read_text().splitlines(keepends=True)
    first = next(i for i, line in enumerate(lines) if not line.startswith("#"))
    cases = {"chr1\tabc\t.\tA\tC\t.\t.\t.\n": r"Could not parse the position 'abc'",
             "chr1\t0\t.\tA\tC\t.\t.\t.\n": r"the record chr1:0 has the POS '0', not a "
                                            r"positive integer"}
    for bad, reason in cases.items():
        broken = tmp_path / "broken.vcf"
        broken.write_text("".join(lines[:first]) + bad + "".join(lines[first:]))
        with pytest.raises(MalformedFileError, match=rf"broken\.vcf: .*{reason}") as e:
            list(VariantStreamer(genome["fasta"], str(broken), binsize=21, batch_size=2))
        assert "truncated file" not in str(e.value)
    # POS 0 is VCF 4.3's telomere, for a breakend or symbolic allele: skipped as such
    before = VariantStreamer(genome["fasta"], vcf["path"], binsize=21, batch_size=100)
    with pytest.warns(SkippedVariantsWarning):
        plain = list(before)
    telomere = tmp_path / "telomere.vcf"
    telomere.write_text("".join(lines[:first]) + "chr1\t0\t.\tN\t.[chr2:10[\t.\t.\t.\n"
                        + "".join(lines[first:]))
    streamer = VariantStreamer(genome["fasta"], str(telomere), binsize=21, batch_size=100)
    with pytest.warns(SkippedVariantsWarning):
        got = list(streamer)
    assert [b.names for b in got] == [b.names for b in plain]
    assert streamer.skipped["symbolic ALT"] == before.skipped["symbolic ALT"] + 1


def test_variant_batches_compare_by_value(genome, vcf):
    """``==`` between two VariantBatches of equal content raised numpy's "truth value of
    an array ... is ambiguous" (the dataclass compared tuples of arrays), and so did
    ``in`` over a list of them; now they compare field by field."""
    first = next(iter(VariantStreamer(genome["fasta"], vcf["path"], binsize=21,
                                      batch_size=4, snv_only=True)))
    again = next(iter(VariantStreamer(genome["fasta"], vcf["path"], binsize=21,
                                      batch_size=4, snv_only=True)))
    assert first is not again and first == again and again in [first]
    for name in ("ref", "positions", "names"):
        changed = copy.deepcopy(again)
        value = getattr(changed, name)
        if isinstance(value, list):
            value[0] = value[0] + "x"
        else:
            value.flat[0] = value.flat[0] + 1
        assert first != changed, name
    assert first != tuple(first)
    with pytest.raises(TypeError, match="unhashable"):
        hash(first)

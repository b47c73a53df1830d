"""Janggu users switch without surprises: region inputs (BedTool, Interval lists, VCF,
region strings), empty tilings, ``binsize=None`` with unequal regions, chromosomes absent
from a file, BED ``minoverlap`` over the window, and the ``janggu.data`` names genozarr
adds (Array, split_train_test, subset, get_genome_size, normalize_garray_tpm, SeqRecords,
JangguSequence, Track objects).

Every expected value is worked out by hand from the tiny files written here, or read back
with pysam / pyBigWig / numpy.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyBigWig
import pysam
import pytest

import genozarr
from genozarr import Bioseq, Cover, GenomicIndexer
from genozarr.errors import (
    ArgumentError,
    ChromosomeNamingError,
    GenozarrWarning,
    InputFileError,
    MalformedFileError,
    RegionError,
)
from genozarr.genome import MissingChromosomeWarning, Region, match_chroms
from genozarr.io.bed import bed_coverage
from genozarr.io.fasta import is_seqrecords, iter_fasta_records, iter_seqrecords, \
    seqrecords_as_fasta
from genozarr.janggu import (
    Array,
    get_genome_size,
    normalize_garray_tpm,
    split_train_test,
    subset,
)
from genozarr.regions import check_gindexer_compatibility, load_regions, parse_region
from genozarr.testing.simulate import write_bam

SIZES = {"chr1": 1000, "chr2": 600}


# ---------------------------------------------------------------------------- stand-ins
class Interval:
    """Stands in for ``pybedtools.Interval`` (chrom, start, end, name, strand)."""

    def __init__(self, chrom: str, start: int, end: int, name: str = ".",
                 strand: str = ".") -> None:
        self.chrom, self.start, self.end, self.name, self.strand = chrom, start, end, name, \
            strand


class BedTool:
    """Stands in for ``pybedtools.BedTool``: ``fn`` names its file, or is not a file (a
    BedTool built from intervals), in which case it iterates over its intervals."""

    def __init__(self, fn: object, intervals: list[Interval] | None = None) -> None:
        self.fn = fn
        self._intervals = intervals or []

    def __iter__(self):  # noqa: ANN204
        return iter(self._intervals)


class SeqRecord:
    """Stands in for ``Bio.SeqRecord.SeqRecord`` (``.id``, ``.seq``)."""

    def __init__(self, seq: str, id: str) -> None:  # noqa: A002 - Biopython's name
        self.seq, self.id = seq, id


# ---------------------------------------------------------------------------- files
@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Tiny inputs on chr1 (1000 bp) and chr2 (600 bp):

    - ``bw_chr1``: BigWig with chr1 only, value ``i % 7`` at base i;
    - ``bw_both``: BigWig with both chromosomes, 2.0 on chr1, 3.0 on chr2;
    - ``bam_chr1``: BAM with chr1 only: forward 20-bp reads at 100, 100, 300; a reverse one
      at [500, 520) (5' end 519);
    - ``fasta``: random sequence, plus ``chrUn_random`` (50 bp);
    - ``vcf``: three records, chr1 POS 101 and 501, chr2 POS 11;
    - ``peaks``: BED features chr1 [10, 40) and [150, 160).
    """
    d = tmp_path_factory.mktemp("janggu_compat")
    out: dict[str, str] = {}
    bw = pyBigWig.open(str(d / "chr1only.bw"), "w")
    bw.addHeader([("chr1", 1000)])
    bw.addEntries("chr1", 0, values=[float(i % 7) for i in range(1000)], span=1, step=1)
    bw.close()
    out["bw_chr1"] = str(d / "chr1only.bw")
    bw = pyBigWig.open(str(d / "both.bw"), "w")
    bw.addHeader([("chr1", 1000), ("chr2", 600)])
    bw.addEntries(["chr1", "chr2"], [0, 0], ends=[1000, 600], values=[2.0, 3.0])
    bw.close()
    out["bw_both"] = str(d / "both.bw")

    write_bam(d / "chr1only.bam", {"chr1": 1000},
              [{"start": pos, "length": 20, "flag": 16 if reverse else 0}
               for pos, reverse in [(100, False), (100, False), (300, False), (500, True)]])
    out["bam_chr1"] = str(d / "chr1only.bam")

    rng = np.random.default_rng(5)
    seqs = {c: "".join(rng.choice(list("ACGT"), n)) for c, n in SIZES.items()}
    seqs["chrUn_random"] = "ACGT" * 12 + "AC"
    (d / "genome.fa").write_text("".join(f">{c}\n{s}\n" for c, s in seqs.items()))
    out["fasta"] = str(d / "genome.fa")
    out["seq_chr1"] = seqs["chr1"]

    vh = pysam.VariantHeader()
    for c, n in SIZES.items():
        vh.add_line(f"##contig=<ID={c},length={n}>")
    with pysam.VariantFile(str(d / "calls.vcf"), "w", header=vh) as vcf:
        for chrom, pos, name in (("chr1", 101, "rs1"), ("chr1", 501, "rs2"), ("chr2", 11, None)):
            rec = vcf.new_record(contig=chrom, start=pos - 1, stop=pos, alleles=("A", "G"),
                                 id=name)
            vcf.write(rec)
    out["vcf"] = str(d / "calls.vcf")

    (d / "peaks.bed").write_text("chr1\t10\t40\nchr1\t150\t160\n")
    out["peaks"] = str(d / "peaks.bed")
    return out


def frame(*rows: tuple[str, int, int]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["chrom", "start", "end"])


def regions_of(df: pd.DataFrame) -> list[tuple[str, int, int, str]]:
    return [(str(c), int(s), int(e), str(t))
            for c, s, e, t in df[["chrom", "start", "end", "strand"]].itertuples(index=False)]


# ============================================================================ 1 regions
def test_parse_region_forms_and_errors() -> None:
    assert parse_region("chr1:1000-1100") == Region("chr1", 1000, 1100, ".")
    assert parse_region(" chr1:1,000-1,100:- ") == Region("chr1", 1000, 1100, "-")
    assert parse_region("chr1:0-5:+") == Region("chr1", 0, 5, "+")
    assert parse_region(str(Region("chrX", 3, 9, "-"))) == Region("chrX", 3, 9, "-")
    assert parse_region("HLA-A*01:01:5-8") == Region("HLA-A*01:01", 5, 8, ".")
    for bad in ("chr1", "chr1:10", "chr1:-5-10", "chr1:5-10:x", ":5-10"):
        with pytest.raises(RegionError, match="cannot read"):
            parse_region(bad)
    with pytest.raises(RegionError, match="start > end"):
        parse_region("chr1:20-10")
    assert genozarr.parse_region is parse_region


def test_regions_from_strings_intervals_and_bedtools(files: dict[str, str]) -> None:
    expected = [("chr1", 1000, 1100, "-")]
    assert regions_of(load_regions("chr1:1,000-1,100:-")) == expected
    assert regions_of(load_regions(["chr1:1000-1100:-", "chr2:5-9"])) == expected + [
        ("chr2", 5, 9, ".")]
    ivs = [Interval("chr1", 10, 20, "a", "+"), Interval("chr2", 0, 5)]
    df = load_regions(ivs)
    assert regions_of(df) == [("chr1", 10, 20, "+"), ("chr2", 0, 5, ".")]
    assert df["name"].tolist() == ["a", "."]
    # objects with chrom/start/end only (no strand attribute) and Regions, mixed
    class Plain:
        chrom, start, end = "chr1", 3, 8
    assert regions_of(load_regions([Plain(), Region("chr2", 1, 2, "-")])) == [
        ("chr1", 3, 8, "."), ("chr2", 1, 2, "-")]
    # a BedTool backed by a file reads the file; one built from intervals iterates them
    assert regions_of(load_regions(BedTool(files["peaks"]))) == [("chr1", 10, 40, "."),
                                                                 ("chr1", 150, 160, ".")]
    assert regions_of(load_regions(BedTool(iter([]), ivs))) == [("chr1", 10, 20, "+"),
                                                                 ("chr2", 0, 5, ".")]
    with pytest.raises(ArgumentError, match=r"region 1 of the list \(object\) has no 'chrom'"):
        load_regions([Interval("chr1", 1, 2), object()])


def test_regions_from_vcf(files: dict[str, str]) -> None:
    # one 1-bp region per record: start = POS - 1, end = POS (checked against pysam)
    df = load_regions(files["vcf"])
    with pysam.VariantFile(files["vcf"]) as vcf:
        truth = [(r.chrom, r.pos - 1, r.pos, ".") for r in vcf]
    assert regions_of(df) == truth == [("chr1", 100, 101, "."), ("chr1", 500, 501, "."),
                                       ("chr2", 10, 11, ".")]
    assert df["name"].tolist() == ["rs1", "rs2", "."]
    gi = GenomicIndexer.create_from_file(files["vcf"], binsize=None, stepsize=None, flank=2)
    assert gi.tostr() == ["chr1:98-103", "chr1:498-503", "chr2:8-13"]
    # region selections see the windows with their flank, as Janggu (the bare windows
    # [100, 101) and [500, 501) missed [101, 499))
    assert gi.idx_by_region(include="chr1", start=101, end=499).tolist() == [0, 1]
    assert gi.filter_by_region(start=102, end=499).tostr() == ["chr1:98-103", "chr1:498-503"]
    assert gi.idx_by_region(start=103, end=498).tolist() == []
    # a dataset over the variants: the BigWig value at each variant's base
    cover = Cover.create_from_bigwig("v", files["bw_both"], roi=files["vcf"])
    assert cover.shape == (3, 1, 1, 1)
    np.testing.assert_array_equal(cover[:][:, 0, 0, 0], [2.0, 2.0, 3.0])
    with pytest.raises(InputFileError):
        load_regions(os.path.join(os.path.dirname(files["vcf"]), "absent.vcf"))


def test_bedtool_and_interval_rois_build_datasets(files: dict[str, str]) -> None:
    ivs = [Interval("chr1", 100, 200, strand="+"), Interval("chr1", 300, 400, strand="-")]
    cover = Cover.create_from_bigwig("iv", files["bw_chr1"], roi=ivs, binsize=100)
    with pyBigWig.open(files["bw_chr1"]) as bw:
        first = np.asarray(bw.values("chr1", 100, 200), dtype="float32")
        second = np.asarray(bw.values("chr1", 300, 400), dtype="float32")
    np.testing.assert_array_equal(cover[0][0, :, 0, 0], first)
    np.testing.assert_array_equal(cover[1][0, :, 0, 0], second[::-1])  # minus strand
    from_tool = Cover.create_from_bigwig("bt", files["bw_chr1"], roi=BedTool(iter([]), ivs),
                                         binsize=100)
    np.testing.assert_array_equal(from_tool[:], cover[:])
    region = Cover.create_from_bigwig("s", files["bw_chr1"], roi="chr1:100-200", binsize=100)
    np.testing.assert_array_equal(region[:], cover[:1])


def test_empty_tiling_gives_an_empty_indexer() -> None:
    gi = GenomicIndexer.create_from_file(frame(("chr1", 0, 50)), binsize=100, stepsize=100,
                                         zero_padding=False)
    assert len(gi) == 0 and gi.tostr() == [] and gi.binsize == 100
    assert len(gi.filter_by_region(include="chr1")) == 0
    assert len(GenomicIndexer.create_from_file(frame(("chr1", 0, 50)), 100, 100,
                                               zero_padding=False, random_state=1)) == 0
    # with zero_padding (the default) the short region is one padded window
    gi = GenomicIndexer.create_from_file(frame(("chr1", 0, 50)), binsize=100, stepsize=100)
    assert gi.tostr() == ["chr1:0-50"]


def test_binsize_none_with_unequal_regions_reads_padded_windows(files: dict[str, str]) -> None:
    roi = frame(("chr1", 0, 10), ("chr1", 100, 125), ("chr1", 200, 215))
    gi = GenomicIndexer.create_from_file(roi, binsize=None, stepsize=None)
    assert gi.tostr() == ["chr1:0-10", "chr1:100-125", "chr1:200-215"] and gi.binsize == 25
    cover = Cover.create_from_bigwig("u", files["bw_chr1"], roi=roi)
    assert cover.shape == (3, 25, 1, 1)
    values = np.arange(1000) % 7
    for i, (s, e) in enumerate([(0, 10), (100, 125), (200, 215)]):
        expected = np.zeros(25, np.float32)
        expected[: e - s] = values[s:e]                # the region, then zero padding
        np.testing.assert_array_equal(cover[i][0, :, 0, 0], expected)


def test_create_from_genomesize(files: dict[str, str]) -> None:
    gi = GenomicIndexer.create_from_genomesize({"chr1": 1000, "chr2": 600})
    assert gi.tostr() == ["chr1:0-1000", "chr2:0-600"]
    assert (gi.binsize, gi.stepsize, gi.flank, gi.zero_padding) == (None, None, 0, False)
    assert gi.strand.tolist() == [".", "."]
    assert GenomicIndexer.create_from_genomesize(files["fasta"]).tostr() == [
        "chr1:0-1000", "chr2:0-600", "chrUn_random:0-50"]


def test_check_gindexer_compatibility() -> None:
    gi = GenomicIndexer.create_from_file(frame(("chr1", 100, 500)), binsize=200, stepsize=100)
    check_gindexer_compatibility(gi, 50, store_whole_genome=True)  # starts 100, 200, 300
    check_gindexer_compatibility(gi, 1, store_whole_genome=True)
    check_gindexer_compatibility(gi, None, store_whole_genome=True)
    check_gindexer_compatibility(gi, 300, store_whole_genome=False)  # rows kept as they are
    with pytest.raises(ArgumentError, match="binsize=200 and resolution=300"):
        check_gindexer_compatibility(gi, 300, store_whole_genome=True)
    with pytest.raises(RegionError, match=r"\(chr1:100-300\).*resolution 40.*genozarr trim"):
        check_gindexer_compatibility(gi, 40, store_whole_genome=True)
    # the flank counts: window starts minus the flank must line up with the bins
    flanked = GenomicIndexer.create_from_file(frame(("chr1", 100, 300)), 200, 200, flank=25)
    with pytest.raises(RegionError, match=r"chr1:75-325"):
        check_gindexer_compatibility(flanked, 50, store_whole_genome=True)
    check_gindexer_compatibility(flanked, 25, store_whole_genome=True)
    assert issubclass(RegionError, ValueError) and issubclass(ArgumentError, ValueError)
    with pytest.raises(ArgumentError, match="Either specify roi"):
        check_gindexer_compatibility(None, 1, store_whole_genome=False)
    check_gindexer_compatibility(None, 50, store_whole_genome=True)


def test_indexer_arguments_use_the_shared_integer_check() -> None:
    gi = GenomicIndexer.create_from_file(frame(("chr1", 0, 100)), np.int64(50), np.int32(25),
                                         flank=np.int16(5))
    assert (gi.binsize, gi.stepsize, gi.flank) == (50, 25, 5)
    assert type(gi.binsize) is int
    with pytest.raises(ArgumentError, match=r"flank must be an integer >= 0 or None, got -1"):
        GenomicIndexer.create_from_file(frame(("chr1", 0, 100)), 50, 50, flank=-1)
    with pytest.raises(ArgumentError, match=r"binsize must be an integer >= 1 or None, got True"):
        GenomicIndexer.create_from_file(frame(("chr1", 0, 100)), True, 50)


# ============================================================================ 2 chromosomes
ROI_BOTH = frame(("chr1", 100, 200), ("chr2", 0, 100))


def _our_warnings(record: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in record if issubclass(w.category, GenozarrWarning)]


def test_chromosome_absent_from_a_bigwig_reads_zeros_with_one_warning(
        files: dict[str, str]) -> None:
    with pytest.warns(MissingChromosomeWarning) as record:
        cover = Cover.create_from_bigwig("m", [files["bw_chr1"], files["bw_both"]],
                                         roi=ROI_BOTH, binsize=100)
    messages = _our_warnings(record)
    assert len(messages) == 1
    assert files["bw_chr1"] in messages[0] and "'chr2'" in messages[0]
    assert files["bw_both"] not in messages[0]
    with pyBigWig.open(files["bw_chr1"]) as bw:
        chr1 = np.asarray(bw.values("chr1", 100, 200), dtype="float32")
    np.testing.assert_array_equal(cover[0][0, :, 0, 0], chr1)
    np.testing.assert_array_equal(cover[0][0, :, 0, 1], 2.0)
    np.testing.assert_array_equal(cover[1][0, :, 0, 0], 0.0)    # chr2 absent: zeros
    np.testing.assert_array_equal(cover[1][0, :, 0, 1], 3.0)    # present in the other file


def test_chromosome_absent_in_whole_genome_layout(files: dict[str, str]) -> None:
    with pytest.warns(MissingChromosomeWarning, match="chr1only.bw lacks 'chr2'"):
        cover = Cover.create_from_bigwig("w", files["bw_chr1"], roi=ROI_BOTH, binsize=100,
                                         genomesize=SIZES, store_whole_genome=True)
    np.testing.assert_array_equal(cover["chr2", 0, 600][0, :, 0, 0], 0.0)
    np.testing.assert_array_equal(cover["chr1", 0, 14][0, :, 0, 0], np.arange(14) % 7)


def test_chromosome_absent_from_a_bam_reads_zeros(files: dict[str, str]) -> None:
    roi = frame(("chr1", 0, 1000), ("chr2", 0, 600))
    with pytest.warns(MissingChromosomeWarning) as record:
        cover = Cover.create_from_bam("b", files["bam_chr1"], roi=roi, binsize=None,
                                      resolution=None)
    assert len(_our_warnings(record)) == 1
    # forward reads at 100, 100, 300 and a reverse one: 3 + 1 on chr1 (pysam agrees)
    with pysam.AlignmentFile(files["bam_chr1"]) as bam:
        fwd = sum(1 for a in bam.fetch("chr1") if not a.is_reverse)
        rev = sum(1 for a in bam.fetch("chr1") if a.is_reverse)
    assert (fwd, rev) == (3, 1)
    np.testing.assert_array_equal(cover[0][0, 0, :, 0], [fwd, rev])
    np.testing.assert_array_equal(cover[1], 0.0)


def test_naming_mismatch_is_still_an_error(files: dict[str, str]) -> None:
    with pytest.raises(ChromosomeNamingError, match=r"'1' vs 'chr1'"):
        Cover.create_from_bigwig("n", files["bw_chr1"], roi=frame(("1", 0, 100)))
    with pytest.raises(ChromosomeNamingError):
        match_chroms(["chr1", "chr9"], ["1"], "x.bw")
    assert match_chroms(["chr1", "chr9"], ["chr1"], "x.bw") == (
        {"chr1": "chr1", "chr9": "chr9"}, ["chr9"])
    assert match_chroms(["1", "chr9"], ["chr1"], "x.bw", "auto") == (
        {"1": "chr1", "chr9": "chr9"}, ["chr9"])


# ============================================================================ 3 minoverlap
# peaks: chr1 [10, 40) and [150, 160)
def _bed(files: dict[str, str], roi: pd.DataFrame, **kw: object) -> np.ndarray:
    cover = Cover.create_from_bed("bed", files["peaks"], roi=roi, **kw)
    return cover[:][:, :, 0, 0]


def test_minoverlap_is_a_fraction_of_the_window_at_resolution_1(files: dict[str, str]) -> None:
    roi = frame(("chr1", 0, 200))
    # windows of 50: [0, 50) is 30/50 covered, [150, 200) 10/50, the others not at all
    got = _bed(files, roi, binsize=50, minoverlap=0.5)
    expected = np.zeros((4, 50), np.float32)
    expected[0, 10:40] = 1
    np.testing.assert_array_equal(got, expected)
    got = _bed(files, roi, binsize=50, minoverlap=0.2)      # 10/50 = 0.2 passes too
    expected[3, 0:10] = 1
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(_bed(files, roi, binsize=50), expected)  # None: any


def test_minoverlap_window_includes_the_flank(files: dict[str, str]) -> None:
    roi = frame(("chr1", 0, 100))
    # binsize 50, flank 25: windows [-25, 75) and [25, 125) with 30/100 and 15/100 covered
    got = _bed(files, roi, binsize=50, flank=25, minoverlap=0.3)
    assert got.shape == (2, 100)
    expected = np.zeros((2, 100), np.float32)
    expected[0, 35:65] = 1                                  # bases 10..40 of [-25, 75)
    np.testing.assert_array_equal(got, expected)
    # Janggu clipped the first window to [0, 75) (30/75 = 0.4 covered) and kept it here;
    # genozarr counts the 25 bases before the chromosome start as uncovered
    got = _bed(files, roi, binsize=50, flank=25, minoverlap=0.31)
    np.testing.assert_array_equal(got, 0)


def test_minoverlap_over_the_window_then_collapsed(files: dict[str, str]) -> None:
    roi = frame(("chr1", 0, 100))
    # one window [0, 100), 30/100 covered: kept with 0.3, then max over 10-bp bins
    got = _bed(files, roi, binsize=100, resolution=10, minoverlap=0.3)
    np.testing.assert_array_equal(got, [[0, 1, 1, 1, 0, 0, 0, 0, 0, 0]])
    # per-bin fractions would keep bins 1-3 (fully covered); the window rule drops all
    np.testing.assert_array_equal(_bed(files, roi, binsize=100, resolution=10,
                                       minoverlap=0.5), 0)
    # resolution=None: one value for the window
    roi2 = frame(("chr1", 0, 60), ("chr1", 140, 200))
    got = _bed(files, roi2, binsize=None, resolution=None, minoverlap=0.4)
    np.testing.assert_array_equal(got, [[1], [0]])          # 30/60 and 10/60


def test_minoverlap_window_past_the_chromosome_end(files: dict[str, str]) -> None:
    """The bases of a window's flank past the chromosome end (genomesize) are part of the
    window, uncovered, as those before its start: [85, 185) on a chromosome of 160 has 10
    of 100 bases covered (was 10 of the 75 read)."""
    roi = frame(("chr1", 110, 160))
    for genomesize in ({"chr1": 160}, None):
        kw = {"binsize": 50, "flank": 25, "genomesize": genomesize}
        np.testing.assert_array_equal(_bed(files, roi, minoverlap=0.12, **kw), 0)
        got = _bed(files, roi, minoverlap=0.1, **kw)
        np.testing.assert_array_equal(got[0, 65:75], 1)        # bases 150..160 of [85, 185)
        np.testing.assert_array_equal(np.delete(got[0], range(65, 75)), 0)


def test_minoverlap_of_a_zero_padded_last_window(files: dict[str, str]) -> None:
    # [0, 100) and the partial window [100, 160): its 10 covered bases are 10/60 of it,
    # not 10/100 of the padded window
    roi = frame(("chr1", 0, 160))
    got = _bed(files, roi, binsize=100, minoverlap=0.15)
    assert got.shape == (2, 100)
    np.testing.assert_array_equal(got[1, 50:60], 1)
    np.testing.assert_array_equal(np.delete(got[1], range(50, 60)), 0)
    np.testing.assert_array_equal(_bed(files, roi, binsize=100, minoverlap=0.17)[1], 0)


def test_minoverlap_in_the_whole_genome_layout_uses_resolution_bins(
        files: dict[str, str]) -> None:
    roi = frame(("chr1", 0, 200))
    # bins of 20: [0, 20) 10/20, [20, 40) 20/20, [140, 160) 10/20 covered
    got = _bed(files, roi, binsize=200, resolution=20, minoverlap=0.6,
               store_whole_genome=True, genomesize=SIZES)
    np.testing.assert_array_equal(got, [[0, 1, 0, 0, 0, 0, 0, 0, 0, 0]])
    got = _bed(files, roi, binsize=200, resolution=20, minoverlap=0.5,
               store_whole_genome=True, genomesize=SIZES)
    np.testing.assert_array_equal(got, [[1, 1, 0, 0, 0, 0, 0, 1, 0, 0]])
    # at resolution 1 a base is covered or not: minoverlap keeps the features as they are
    got = _bed(files, roi, binsize=200, minoverlap=0.9, store_whole_genome=True,
               genomesize=SIZES)
    expected = np.zeros(200, np.float32)
    expected[10:40] = expected[150:160] = 1
    np.testing.assert_array_equal(got, [expected])


def test_minoverlap_counts_features_of_every_category(tmp_path) -> None:  # noqa: ANN001
    bed = tmp_path / "cats.bed"
    bed.write_text("chr1\t0\t20\ta\nchr1\t20\t30\tb\n")
    roi = frame(("chr1", 0, 50))
    # a and b together cover 30/50 = 0.6 of the window, neither alone does
    cover = Cover.create_from_bed("c", str(bed), roi=roi, binsize=50, mode="name_category",
                                  minoverlap=0.6)
    got = cover[0][0, :, 0, :]
    np.testing.assert_array_equal(got[:, 0], np.r_[np.ones(20), np.zeros(30)])
    np.testing.assert_array_equal(got[:, 1], np.r_[np.zeros(20), np.ones(10), np.zeros(20)])
    cover = Cover.create_from_bed("c", str(bed), roi=roi, binsize=50, mode="name_category",
                                  minoverlap=0.61)
    np.testing.assert_array_equal(cover[:], 0)


def test_minoverlap_counts_score_zero_features(tmp_path) -> None:  # noqa: ANN001
    bed = tmp_path / "scores.bed"
    bed.write_text("chr1\t0\t20\tf\t0\nchr1\t20\t30\tg\t4\n")
    roi = frame(("chr1", 0, 50))
    # Janggu counted only the 10 bases of non-zero score (0.2); all 30 covered bases count
    cover = Cover.create_from_bed("s", str(bed), roi=roi, binsize=50, mode="score",
                                  minoverlap=0.6)
    np.testing.assert_array_equal(cover[0][0, :, 0, 0], np.r_[np.zeros(20), np.full(10, 4.0),
                                                             np.zeros(20)])


def test_bed_coverage_overlap_spans() -> None:
    df = pd.DataFrame({"chrom": ["c"], "start": [0], "end": [30], "name": ["."],
                       "score": [2.0], "strand": ["."]})
    window = bed_coverage(df, "c", 0, 60, mode="score", minoverlap=0.5, overlap_span="window")
    np.testing.assert_array_equal(window[:, 0], np.r_[np.full(30, 2.0), np.zeros(30)])
    assert not bed_coverage(df, "c", 0, 61, minoverlap=0.5, overlap_span="window").any()
    binned = bed_coverage(df, "c", 0, 60, resolution=20, minoverlap=0.5)   # per bin
    np.testing.assert_array_equal(binned[:, 0], [1, 1, 0])        # 20/20, 10/20, 0/20
    binned = bed_coverage(df, "c", 0, 60, resolution=20, minoverlap=0.6)
    np.testing.assert_array_equal(binned[:, 0], [1, 0, 0])
    with pytest.raises(ArgumentError, match="overlap_span"):
        bed_coverage(df, "c", 0, 60, minoverlap=0.5, overlap_span="region")


# ============================================================================ 4 janggu names
@pytest.fixture(scope="module")
def two_chrom_cover(files: dict[str, str]) -> Cover:
    """chr1 [0, 300) and chr2 [0, 200) in 100-bp windows: 3 + 2 windows."""
    roi = frame(("chr1", 0, 300), ("chr2", 0, 200))
    return Cover.create_from_bigwig("sig", files["bw_both"], roi=roi, binsize=100)


def test_array_dataset() -> None:
    labels = Array("labels", np.array([0, 1, 1, 0]), conditions=["bound"])
    assert len(labels) == 4 and labels.shape == (4, 1) and labels.ndim == 2
    assert labels.name == "labels" and labels.conditions == ["bound"]
    assert labels[[1, 3]].tolist() == [1, 0] and labels[2] == 1
    grid = Array("x", np.arange(12).reshape(4, 3))
    assert grid.shape == (4, 3) and grid.conditions is None
    np.testing.assert_array_equal(grid.subset([0, 2])[:], [[0, 1, 2], [6, 7, 8]])
    with pytest.raises(ArgumentError):
        Array("", np.zeros(3))
    assert genozarr.Array is Array
    # condition names label the last axis: others are refused, as Janggu refused them (they
    # were taken as given: an audit)
    with pytest.raises(ArgumentError, match=r"1 condition name\(s\) \['only'\] for the last "
                                            r"axis of shape \(4, 3\), which has 3"):
        Array("y", np.zeros((4, 3)), conditions=["only"])
    named = Array("y", np.arange(12).reshape(4, 3), conditions=["a", "b", "c"])
    assert named.subset(2).shape == (1, 3) and named.subset(2).conditions == ["a", "b", "c"]
    assert named.subset(np.array(2)).shape == named.subset(np.int64(-1)).shape == (1, 3)


def test_split_train_test_one_dataset(two_chrom_cover: Cover) -> None:
    train, test = split_train_test(two_chrom_cover, "chr2")
    assert train.gindexer.tostr() == ["chr1:0-100", "chr1:100-200", "chr1:200-300"]
    assert test.gindexer.tostr() == ["chr2:0-100", "chr2:100-200"]
    np.testing.assert_array_equal(train[:], two_chrom_cover[:3])
    np.testing.assert_array_equal(test[:], two_chrom_cover[3:])
    assert train.garray is two_chrom_cover.garray            # a view: the same store
    # an empty holdout list: idx_by_region reads include=[] as every chromosome (as
    # Janggu), so the test part would hold the training windows; refused
    with pytest.raises(ArgumentError, match="holdout_chroms names no chromosome"):
        split_train_test(two_chrom_cover, [])
    assert len(subset(two_chrom_cover, include_regions=[])) == 5  # Janggu's subset: all


def test_split_train_test_structures(two_chrom_cover: Cover) -> None:
    from genozarr import ReduceDim

    labels = np.arange(5)
    inputs = {"sig": two_chrom_cover, "flat": ReduceDim(two_chrom_cover)}
    (x_train, y_train), (x_test, y_test) = split_train_test(
        (inputs, [labels, Array("lab", labels * 10)]), holdout_chroms=["chr2"])
    assert set(x_train) == {"sig", "flat"} and len(x_train["sig"]) == 3
    np.testing.assert_array_equal(x_test["flat"][:], ReduceDim(two_chrom_cover)[3:])
    assert y_train[0].tolist() == [0, 1, 2] and y_test[0].tolist() == [3, 4]
    assert isinstance(y_test[1], Array) and y_test[1][:].tolist() == [30, 40]
    # datasets with other windows cannot be split together
    other = two_chrom_cover.subset([0, 3, 1, 2, 4])
    with pytest.raises(ArgumentError, match="same windows"):
        split_train_test([two_chrom_cover, other], "chr2")
    with pytest.raises(ArgumentError, match="no genomic dataset"):
        split_train_test([labels], "chr2")
    with pytest.raises(ArgumentError, match="4 examples"):
        split_train_test([two_chrom_cover, labels[:4]], "chr2")


def test_subset_by_chromosome(two_chrom_cover: Cover) -> None:
    assert subset(two_chrom_cover, include_regions="chr2").gindexer.tostr() == [
        "chr2:0-100", "chr2:100-200"]
    assert len(subset(two_chrom_cover, exclude_regions=["chr2"])) == 3
    assert len(subset(two_chrom_cover, include_regions=["chr1", "chr2"],
                      exclude_regions="chr1")) == 2
    assert len(subset(two_chrom_cover)) == 5
    both = subset([two_chrom_cover, np.arange(5)], include_regions="chr2")
    assert both[1].tolist() == [3, 4]


def test_subset_by_one_int_is_a_dataset_of_one_window(two_chrom_cover: Cover) -> None:
    """Dataset.subset(3) raised a TypeError (the indexer's [3] is a Region)."""
    one = two_chrom_cover.subset(3)
    assert len(one) == 1 and one.gindexer.tostr() == two_chrom_cover.gindexer.tostr()[3:4]
    np.testing.assert_array_equal(one[:], two_chrom_cover[3])
    np.testing.assert_array_equal(two_chrom_cover.subset(np.int64(-1))[:],
                                  two_chrom_cover[[4]])
    with pytest.raises(IndexError):
        two_chrom_cover.subset(5)


def test_get_genome_size(files: dict[str, str], tmp_path) -> None:  # noqa: ANN001
    assert get_genome_size(files["fasta"]) == SIZES                       # no chrUn_random
    out = tmp_path / "g.chrom.sizes"
    sizes = get_genome_size(files["fasta"], outputfile=out, skip_random=False)
    assert sizes == {**SIZES, "chrUn_random": 50}
    assert out.read_text() == "chr1\t1000\nchr2\t600\nchrUn_random\t50\n"
    # Janggu's second argument is an output directory ('./'): the file goes in it
    (tmp_path / "sizes").mkdir()
    get_genome_size(files["fasta"], str(tmp_path / "sizes"))
    name = os.path.basename(files["fasta"]).rsplit(".", 1)[0] + ".chrom.sizes"
    assert (tmp_path / "sizes" / name).read_text() == "chr1\t1000\nchr2\t600\n"
    with pytest.raises(InputFileError, match="downloads nothing"):
        get_genome_size("hg19")


def test_normalize_garray_tpm(files: dict[str, str]) -> None:
    roi = frame(("chr1", 0, 100), ("chr1", 100, 300), ("chr2", 0, 50))
    raw = Cover.create_from_bigwig("raw", files["bw_both"], roi=roi, resolution=None,
                                   collapser="sum")
    # sums 200, 400, 150 over 0.1, 0.2, 0.05 kb: 2000, 2000, 3000 per kb, total 7000
    np.testing.assert_allclose(raw[:][:, 0, 0, 0], [200, 400, 150])
    tpm = normalize_garray_tpm(raw)
    np.testing.assert_allclose(tpm[:][:, 0, 0, 0], np.array([2, 2, 3]) / 7 * 1e6, rtol=1e-6)
    np.testing.assert_allclose(raw[:][:, 0, 0, 0], [200, 400, 150])      # the source unchanged
    built = Cover.create_from_bigwig("t", files["bw_both"], roi=roi, resolution=None,
                                     collapser="sum", normalizer="tpm")
    np.testing.assert_allclose(tpm[:], built[:], rtol=1e-6)
    # a view's TPM is fitted on the view's windows, as normalizer='tpm' on them (it was
    # fitted on every window of the store)
    part = normalize_garray_tpm(genozarr.view(raw, frame(("chr1", 0, 100), ("chr2", 0, 50))))
    np.testing.assert_allclose(part[:][:, 0, 0, 0], np.array([2, 3]) / 5 * 1e6, rtol=1e-6)
    lazy = normalize_garray_tpm(raw.to_xarray())
    assert float(lazy["data"].sum()) == pytest.approx(1e6, rel=1e-6)
    # Janggu's call passes cover.garray (it was refused)
    of_garray = normalize_garray_tpm(raw.garray)
    np.testing.assert_allclose(of_garray["data"].values[:, 0, 0, 0],
                               np.array([2, 2, 3]) / 7 * 1e6, rtol=1e-6)
    with pytest.raises(ArgumentError, match="normalizer='tpm'"):
        normalize_garray_tpm(np.ones((2, 1, 1, 1)))


def test_create_from_seq_of_several_files_in_janggus_argument_order(tmp_path) -> None:  # noqa: ANN001
    """The records of several FASTA files are read together (it failed with an
    IndexError), and the positional arguments are Janggu's: (..., fixedlen, datatags,
    cache, overwrite, verbose)."""
    (tmp_path / "a.fa").write_text(">s1\nACGTA\n>s2\nACGTT\n")
    (tmp_path / "b.fa").write_text(">s3\nGGGGN\n")
    files = [str(tmp_path / "a.fa"), str(tmp_path / "b.fa")]
    dna = Bioseq.create_from_seq("s", files)
    assert dna.shape == (3, 5, 1, 4) and dna.gindexer.chrs.tolist() == ["s1", "s2", "s3"]
    eye = np.eye(4, dtype="float32")
    want = np.stack([eye[[0, 1, 2, 3, 0]], eye[[0, 1, 2, 3, 3]],
                     np.r_[eye[[2, 2, 2, 2]], np.zeros((1, 4), "float32")]])
    np.testing.assert_array_equal(dna[:][:, :, 0, :], want)
    again = Bioseq.create_from_seq("s", files, "ndarray", "dna", 1, None, None, False, False,
                                   False)
    np.testing.assert_array_equal(again[:], dna[:])
    first = Bioseq.create_from_seq("s", files, channel_last=False)
    np.testing.assert_array_equal(first[:], np.moveaxis(dna[:], 3, 1))  # channel first


#: the parameters of Janggu 0.10.2's constructors, in order (janggu/data/coverage.py and
#: dna.py of that release)
_JANGGU_SIGNATURES = {
    "Cover.create_from_bam": [
        "name", "bamfiles", "roi", "genomesize", "conditions", "min_mapq", "binsize",
        "stepsize", "flank", "resolution", "storage", "dtype", "stranded", "overwrite",
        "pairedend", "template_extension", "datatags", "cache", "normalizer", "zero_padding",
        "random_state", "store_whole_genome", "verbose"],
    "Cover.create_from_bigwig": [
        "name", "bigwigfiles", "roi", "genomesize", "conditions", "binsize", "stepsize",
        "resolution", "flank", "storage", "dtype", "overwrite", "datatags", "cache",
        "store_whole_genome", "zero_padding", "normalizer", "collapser", "random_state",
        "nan_to_num", "verbose"],
    "Cover.create_from_bed": [
        "name", "bedfiles", "roi", "genomesize", "conditions", "binsize", "stepsize",
        "resolution", "flank", "storage", "dtype", "mode", "store_whole_genome", "overwrite",
        "zero_padding", "normalizer", "collapser", "minoverlap", "random_state", "datatags",
        "cache", "verbose"],
    "Cover.create_from_array": [
        "name", "array", "gindexer", "genomesize", "conditions", "resolution", "storage",
        "overwrite", "cache", "datatags", "padding_value", "store_whole_genome", "verbose"],
    "Bioseq.create_from_refgenome": [
        "name", "refgenome", "roi", "binsize", "stepsize", "flank", "order", "storage",
        "datatags", "cache", "overwrite", "random_state", "store_whole_genome", "verbose"],
    "Bioseq.create_from_seq": [
        "name", "fastafile", "storage", "seqtype", "order", "fixedlen", "datatags", "cache",
        "overwrite", "verbose"],
}


@pytest.mark.parametrize("qualname", sorted(_JANGGU_SIGNATURES))
def test_constructors_take_janggus_positional_arguments_in_janggus_order(qualname: str) -> None:
    """Every Janggu parameter is accepted positionally at Janggu's place (a call ported
    from Janggu binds each value to the same name); genozarr's own are keyword-only."""
    import inspect

    import genozarr

    cls, method = qualname.split(".")
    params = list(inspect.signature(getattr(getattr(genozarr, cls), method)).parameters.values())
    positional = [p.name for p in params
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    assert positional == _JANGGU_SIGNATURES[qualname]


def test_verbose_shows_a_progress_bar(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """verbose=True (Janggu's flag) shows the build's bar where the progress option would
    not (a small build in a non-interactive run)."""
    from genozarr.testing.simulate import write_bigwig

    bw = write_bigwig(tmp_path / "v.bw", {"chr1": np.arange(2000, dtype=float)})
    kw = {"roi": ["chr1:0-2000"], "binsize": 100, "storage": "zarr",
          "store": str(tmp_path / "v.zarr")}
    Cover.create_from_bigwig("v", bw, verbose=False, **kw)
    assert capsys.readouterr().err == ""
    Cover.create_from_bigwig("v", bw, verbose=True, overwrite=True, **kw)
    assert "%" in capsys.readouterr().err  # tqdm's bar


def test_seqrecords_read_like_a_fasta(tmp_path) -> None:  # noqa: ANN001
    records = [SeqRecord("acgtn", "s1"), SeqRecord("TTGCA", "s2")]
    assert is_seqrecords(records) and is_seqrecords(records[0])
    assert not is_seqrecords("x.fa") and not is_seqrecords([]) and not is_seqrecords(["x.fa"])
    assert list(iter_seqrecords(records)) == [("s1", b"ACGTN"), ("s2", b"TTGCA")]
    path = seqrecords_as_fasta(records, tmp_path)
    assert list(iter_fasta_records(path)) == list(iter_seqrecords(records))
    assert seqrecords_as_fasta(records, tmp_path) == path      # content-addressed
    assert seqrecords_as_fasta("x.fa") == "x.fa"                 # paths pass through
    dna = Bioseq.create_from_seq("s", seqrecords_as_fasta(records))
    onehot = np.zeros((5, 4), np.float32)
    onehot[[0, 1, 2, 3], [0, 1, 2, 3]] = 1                         # ACGT, then N
    np.testing.assert_array_equal(dna[0][0, :, 0, :], onehot)
    with pytest.raises(MalformedFileError, match="whitespace"):
        list(iter_seqrecords([SeqRecord("A", "two words")]))
    with pytest.raises(MalformedFileError, match="non-ASCII"):
        list(iter_seqrecords([SeqRecord("AC\u00e9", "s")]))
    # a repeated id is named as the user's (it named the temporary FASTA written from them)
    with pytest.raises(MalformedFileError, match=r"^SeqRecord list: id 's1' occurs twice"):
        Bioseq.create_from_seq("s", records + [SeqRecord("AAAAA", "s1")])


class _Alphabets:
    """Stand-ins for Biopython 1.77's alphabet classes (only their class names count)."""

    class Alphabet:
        pass

    class ProteinAlphabet(Alphabet):
        pass

    class NucleotideAlphabet(Alphabet):
        pass

    class DNAAlphabet(NucleotideAlphabet):
        pass

    class IUPACProtein(ProteinAlphabet):
        pass

    class Gapped:  # an AlphabetEncoder: wraps another alphabet
        def __init__(self, alphabet: object) -> None:
            self.alphabet = alphabet


class _Seq(str):
    """A ``Bio.Seq.Seq`` of Biopython 1.77: a string with an ``alphabet``."""

    def __new__(cls, letters: str, alphabet: object) -> _Seq:
        seq = super().__new__(cls, letters)
        seq.alphabet = alphabet
        return seq


def test_protein_sequences_are_not_encoded_as_dna(tmp_path) -> None:  # noqa: ANN001
    """Protein SeqRecords with seqtype left at 'dna' were one-hot encoded as DNA: alanine,
    cysteine, glycine and threonine as bases, every other amino acid an all-zero row (an
    audit; Janggu 0.10.2 took the type from the records' alphabet). A record alphabet that
    disagrees with seqtype is refused, and so are letters of amino acids that are no
    nucleotide code in DNA records (Biopython 1.78 and later carry no alphabet); a
    sequence holding '>', which the FASTA written from the records read as a header,
    too."""
    a = _Alphabets
    protein = [SeqRecord(_Seq("MKTAYIAK", a.IUPACProtein()), "p1"),
               SeqRecord(_Seq("GCTWWHEE", a.IUPACProtein()), "p2")]
    with pytest.raises(ArgumentError, match=r"alphabet is protein, but seqtype='dna'"):
        Bioseq.create_from_seq("p", protein)
    ds = Bioseq.create_from_seq("p", protein, seqtype="protein")
    assert ds.shape == (2, 8, 1, 20)
    np.testing.assert_array_equal(ds[:].sum(axis=(1, 2, 3)), [8, 8])  # one letter a row
    dna = [SeqRecord(_Seq("ACGT", a.Gapped(a.DNAAlphabet())), "d1")]
    with pytest.raises(ArgumentError, match=r"alphabet is dna, but seqtype='protein'"):
        Bioseq.create_from_seq("d", dna, seqtype="protein")
    np.testing.assert_array_equal(Bioseq.create_from_seq("d", dna)[0][0, :, 0],
                                  np.eye(4, dtype=np.float32))
    # no alphabet (Biopython >= 1.78), or a FASTA file: the letters tell
    with pytest.raises(MalformedFileError,
                       match=r"^SeqRecord list: record 'x' holds letters that are amino "
                             r"acids and no nucleotide code \(E, L\)"):
        Bioseq.create_from_seq("x", [SeqRecord("MKLE", "x")])
    fasta = tmp_path / "p.fa"
    fasta.write_text(">ok\nACGTNRYKM\n>prot\nMKTAYIAKQR\n")
    with pytest.raises(MalformedFileError, match=r"p\.fa: record 'prot' .* \(Q\)"):
        Bioseq.create_from_seq("f", str(fasta), fixedlen=10)
    assert Bioseq.create_from_seq("f", str(fasta), seqtype="protein", fixedlen=10).shape \
        == (2, 10, 1, 20)
    with pytest.raises(MalformedFileError, match=r"record 's' holds '>'"):
        Bioseq.create_from_seq("w", [SeqRecord("AC\n>zz\nGT", "s")])
    # blanks and line breaks are left out, as in a FASTA file; I (inosine) reads as N
    np.testing.assert_array_equal(Bioseq.create_from_seq("w", [SeqRecord("AC G\tT\n", "s")])[:],
                                  Bioseq.create_from_seq("w", [SeqRecord("ACGT", "s")])[:])
    assert Bioseq.create_from_seq("i", [SeqRecord("ACIT", "s")])[0][0, 2].sum() == 0
    nameless = tmp_path / "n.fa"
    nameless.write_text(">a\nACGT\n>\nACGT\n")  # it named a chromosome ''
    with pytest.raises(MalformedFileError, match=r"n\.fa: record 2 has no name"):
        Bioseq.create_from_seq("n", str(nameless))
    # blanks after the '>': the first word names the record, as Biopython (Janggu's
    # reader) and htslib (create_from_refgenome) name it
    spaced = tmp_path / "s.fa"
    spaced.write_text("> seq1 promoter of gene X\nACGTN\n>\tseq2\tx\nTTTTT\n")
    seqs = Bioseq.create_from_seq("s", str(spaced))
    assert list(seqs.gindexer.chrs) == ["seq1", "seq2"]
    np.testing.assert_array_equal(seqs[0][0, :, 0].argmax(-1), [0, 1, 2, 3, 0])
    assert seqs[0][0, 4].sum() == 0 and (seqs[1][0, :, 0].argmax(-1) == 3).all()


# ---------------------------------------------------------------------------- keras
@pytest.fixture
def keras_torch():  # noqa: ANN201
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("keras was imported with another backend")
    return keras


def test_janggu_sequence_batches(two_chrom_cover: Cover, keras_torch) -> None:  # noqa: ANN001
    from genozarr.loaders.keras import JangguSequence

    labels = Array("y", np.arange(5.0))
    weights = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    seq = JangguSequence(two_chrom_cover, labels, sample_weights=weights, batch_size=2)
    assert len(seq) == 3
    x, y, w = seq[2]
    assert set(x) == {"sig"} and set(y) == {"y"}
    np.testing.assert_array_equal(x["sig"], two_chrom_cover[[4]])
    assert y["y"].tolist() == [4.0] and w.tolist() == [5.0]
    (x,) = JangguSequence([two_chrom_cover], batch_size=4, as_dict=False)[0]
    assert isinstance(x, list) and x[0].shape == (4, 100, 1, 1)
    # one dataset (not a list) gives one array (Janggu wrapped it in a list)
    x, y = JangguSequence(two_chrom_cover, np.arange(5), batch_size=5, as_dict=False)[0]
    assert isinstance(x, np.ndarray) and y.tolist() == list(range(5))
    np.testing.assert_array_equal(x, two_chrom_cover[:])
    # shuffling: every epoch a permutation, the same one for every dataset and the weights
    seq = JangguSequence(two_chrom_cover, labels, sample_weights=weights, batch_size=5,
                         shuffle=True, seed=3)
    x, y, w = seq[0]
    order = y["y"].astype(int)
    assert sorted(order.tolist()) == [0, 1, 2, 3, 4]
    assert order.tolist() != [0, 1, 2, 3, 4]       # the first epoch is shuffled too
    again = JangguSequence(two_chrom_cover, labels, batch_size=5, shuffle=True, seed=3)
    assert again[0][1]["y"].tolist() == y["y"].tolist()   # seed: the same order
    np.testing.assert_array_equal(x["sig"], two_chrom_cover[order])
    np.testing.assert_array_equal(w, weights[order])
    seq.on_epoch_end()
    assert sorted(seq[0][1]["y"].astype(int).tolist()) == [0, 1, 2, 3, 4]
    with pytest.raises(ArgumentError, match="no .name|has none"):
        JangguSequence(np.zeros((5, 2)))
    with pytest.raises(ArgumentError, match="equal lengths"):
        JangguSequence(two_chrom_cover, Array("y", np.arange(4)))
    with pytest.raises(ArgumentError, match="as_dict=False"):
        JangguSequence({"sig": two_chrom_cover}, as_dict=False)
    with pytest.raises(ArgumentError, match="one weight per example"):
        JangguSequence(two_chrom_cover, labels, sample_weights=np.ones(3))


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # torch
def test_janggu_sequence_fits_a_model(two_chrom_cover: Cover, keras_torch) -> None:  # noqa: ANN001
    from genozarr.loaders.keras import JangguSequence

    keras = keras_torch
    # named inputs and outputs (Keras 3 matches dict batches to dict-structured models)
    inputs = keras.Input(shape=two_chrom_cover.shape[1:], name="sig")
    out = keras.layers.Dense(1, name="y")(keras.layers.Flatten()(inputs))
    model = keras.Model({"sig": inputs}, {"y": out})
    model.compile(optimizer="sgd", loss={"y": "mse"})
    seq = JangguSequence(two_chrom_cover, Array("y", np.ones((5, 1))), batch_size=2,
                         shuffle=True, seed=0)
    history = model.fit(seq, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
    pred = model.predict(JangguSequence(two_chrom_cover, batch_size=2), verbose=0)
    assert pred["y"].shape == (5, 1)
    # lists (as_dict=False) for a model with one unnamed input and output
    plain = keras.Model(inputs, out)
    plain.compile(optimizer="sgd", loss="mse")
    seq = JangguSequence(two_chrom_cover, np.ones((5, 1)), batch_size=2, as_dict=False)
    assert np.isfinite(plain.fit(seq, epochs=1, verbose=0).history["loss"][0])


# ---------------------------------------------------------------------------- plots
def test_track_objects(two_chrom_cover: Cover, files: dict[str, str]) -> None:
    from genozarr.plot import HeatTrack, LineTrack, SeqTrack, Track, plot_genome_track

    two = Cover.create_from_bigwig("pair", [files["bw_chr1"], files["bw_both"]],
                                   roi=frame(("chr1", 0, 300)), binsize=100)
    fig = plot_genome_track([LineTrack(two, height=2, color="r", linestyle=":", linewidth=3,
                                       marker=None),
                             HeatTrack(two_chrom_cover, height=1)], "chr1", 0, 300)
    # a LineTrack: one panel per condition, 2 units (1.2 in) each; a HeatTrack 1 unit
    assert len(fig.axes) == 3
    heights = [ax.get_position().height for ax in fig.axes]
    assert heights[0] == pytest.approx(heights[1], rel=1e-3)
    assert heights[0] == pytest.approx(2 * heights[2], rel=0.05)
    line = {p.get_gid(): p for p in fig.axes[0].patches if p.get_gid()}["pair|chr1only|."]
    np.testing.assert_array_equal(line.get_data().values, np.arange(300) % 7)
    assert line.get_edgecolor()[:3] == (1.0, 0.0, 0.0) and line.get_linewidth() == 3
    assert line.get_linestyle() == ":"
    (image,) = fig.axes[2].get_images()
    np.testing.assert_array_equal(np.asarray(image.get_array())[0], 2.0)
    # Janggu's default marker 'o' draws one marker per value
    fig = plot_genome_track(LineTrack(two_chrom_cover), "chr1", 0, 50)
    (markers,) = fig.axes[0].get_lines()
    assert markers.get_marker() == "o" and len(markers.get_xdata()) == 50
    with pytest.raises(ArgumentError, match="contradicts"):
        plot_genome_track(HeatTrack(two_chrom_cover), "chr1", 0, 50, plottypes="line")
    with pytest.raises(ArgumentError, match="wraps a Cover or Bioseq"):
        Track(np.zeros(3), 3)
    assert genozarr.LineTrack is LineTrack and genozarr.SeqTrack is SeqTrack


def test_seq_track_of_bioseq_and_of_letter_scores(files: dict[str, str]) -> None:
    from genozarr.plot import SeqTrack, plot_genome_track

    dna = Bioseq.create_from_refgenome("dna", files["fasta"], roi=frame(("chr1", 0, 40)),
                                       binsize=40)
    fig = plot_genome_track(SeqTrack(dna), "chr1", 0, 40)
    assert "".join(t.get_text() for t in fig.axes[0].texts) == files["seq_chr1"][:40]
    # attribution scores: a Cover with conditions A, C, G, T; bars stack per position
    scores = np.zeros((1, 40, 1, 4), np.float32)
    scores[0, :, 0, 0] = 1.0                  # A: +1 everywhere
    scores[0, :, 0, 3] = -0.5                 # T: -0.5 everywhere
    scores[0, 5, 0, 2] = 2.0                  # G: +2 at position 5
    gi = GenomicIndexer(["chr1"], [0], [40], ["+"], 40, 40)
    attr = Cover.create_from_array("attr", scores, gi, conditions=["A", "C", "G", "T"])
    fig = plot_genome_track(SeqTrack(attr), "chr1", 0, 40)
    bars = {}
    for p in fig.axes[0].patches:
        if p.get_gid():
            bars.setdefault(p.get_gid(), []).append(p)
    assert sorted(bars) == ["attr|A", "attr|C", "attr|G", "attr|T"]
    g5 = bars["attr|G"][5]
    assert (g5.get_x(), g5.get_y(), g5.get_height()) == (5, 1.0, 2.0)  # on top of A
    t0 = bars["attr|T"][0]
    assert (t0.get_y(), t0.get_height()) == (0.0, -0.5)                  # below zero
    # the same through Janggu's plottypes
    fig = plot_genome_track(attr, "chr1", 0, 40, plottypes="seqplot")
    assert len([p for p in fig.axes[0].patches if p.get_gid() == "attr|A"]) == 40


# ---------------------------------------------------------------------------- imports
def test_janggu_names_from_genozarr(two_chrom_cover: Cover) -> None:
    """The Imports table and the Janggu internals table of *Coming from Janggu*."""
    import xarray as xr

    from genozarr import janggu, plot, regions
    from genozarr.store import Store

    for name in ("Array", "split_train_test", "subset", "get_genome_size",
                 "normalize_garray_tpm"):
        assert getattr(genozarr, name) is getattr(janggu, name)
    for name in ("Track", "LineTrack", "HeatTrack", "SeqTrack"):
        assert getattr(genozarr, name) is getattr(plot, name)
    assert genozarr.check_gindexer_compatibility is regions.check_gindexer_compatibility
    # GenomicArray -> Store; garray.handle -> to_xarray(); garray[interval] -> interval keys
    assert isinstance(two_chrom_cover.garray, Store)
    assert isinstance(two_chrom_cover.to_xarray(), xr.Dataset)
    np.testing.assert_array_equal(two_chrom_cover["chr1", 0, 100][0],
                                  two_chrom_cover.read_interval("chr1", 0, 100))
    assert two_chrom_cover.conditions == ["both"]


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # torch
@pytest.mark.parametrize("channel_last", [True, False])
def test_janggu_sequence_weights_examples_of_coverage_targets(keras_torch,
                                                              channel_last) -> None:
    """Keras 3 does not spread one weight per example over a coverage target of 4 axes:
    the weights had no effect (all weight on one window or another gave the same loss),
    or failed with channel_last=False. They weight each example's elements now; the loss
    is numpy's: sum_i w_i * (sum of the per-element mean squared errors of example i) /
    (number of per-element losses)."""
    from genozarr.loaders.keras import JangguSequence

    keras = keras_torch
    rng = np.random.default_rng(5)
    gi = GenomicIndexer.create_from_file(["chr1:0-1200"], binsize=200, stepsize=200)
    raw = rng.uniform(0, 2, (len(gi), 4, 1, 2)).astype(np.float32)  # resolution 50
    raw[0] += 100.0
    target = Cover.create_from_array("t", raw, gi, resolution=50, channel_last=channel_last)
    y = np.asarray(target[:], dtype=np.float64)
    x = np.zeros((len(gi), 3), dtype=np.float32)
    inputs = keras.Input((3,))
    out = keras.layers.Reshape(target.shape[1:])(
        keras.layers.Dense(int(np.prod(target.shape[1:])), kernel_initializer="zeros")(inputs))
    model = keras.Model(inputs, out)
    model.compile(optimizer="sgd", loss="mse")  # the model predicts 0 everywhere
    per_element = (y ** 2).mean(axis=-1)  # mse reduces the last axis
    for k in (0, 3):
        w = np.zeros(len(gi))
        w[k] = 1.0
        seq = JangguSequence(x, target, sample_weights=w, batch_size=len(gi), as_dict=False)
        want = per_element[k].sum() / per_element.size
        assert model.evaluate(seq, verbose=0) == pytest.approx(want, rel=1e-5)
    model.fit(JangguSequence(x, target, sample_weights=np.ones(len(gi)), batch_size=2,
                             as_dict=False), verbose=0)


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # torch
def test_janggu_sequence_weights_per_position_and_own_losses(keras_torch) -> None:  # noqa: ANN001
    """Weights of one value per position are handed on as given (spreading them failed);
    with spread_weights=False a loss of one's own that reduces every axis but the batch's
    gets one weight per example, as Keras weights it (spreading weighted nothing). A
    dict of weights naming only some outputs weighs the others' examples 1 (Keras 3
    failed with a KeyError), and one naming something that is not an output is refused
    by name (as Keras 2 refused it; Keras 3 ignored it beside real outputs and failed
    without them)."""
    from genozarr.loaders.keras import JangguSequence

    keras = keras_torch
    rng = np.random.default_rng(9)
    y = rng.uniform(0, 2, (6, 5, 2)).astype(np.float32)
    x = np.zeros((6, 3), dtype=np.float32)
    inputs = keras.Input((3,))
    out = keras.layers.Reshape((5, 2))(keras.layers.Dense(10, kernel_initializer="zeros")(inputs))
    per_element = (y.astype(np.float64) ** 2).mean(axis=-1)  # (6, 5): mse, prediction 0
    model = keras.Model(inputs, out)
    model.compile(optimizer="sgd", loss="mse")
    w = rng.uniform(0, 1, (6, 5))
    seq = JangguSequence(x, y, sample_weights=w, batch_size=6, as_dict=False)
    assert model.evaluate(seq, verbose=0) == pytest.approx(
        (per_element * w).sum() / per_element.size, rel=1e-5)

    y4 = y[:, :, None, :]  # a coverage target of 4 axes
    own = keras.Model(inputs, keras.layers.Reshape((5, 1, 2))(
        keras.layers.Dense(10, kernel_initializer="zeros")(inputs)))
    own.compile(optimizer="sgd", loss=lambda yt, yp: keras.ops.mean(  # one value per
        keras.ops.square(yt - yp), axis=(1, 2, 3)))                   # example
    one = np.array([1.0, 0, 0, 0, 0, 0])
    seq = JangguSequence(x, y4, sample_weights=one, batch_size=6, as_dict=False,
                         spread_weights=False)
    assert own.evaluate(seq, verbose=0) == pytest.approx(
        (y.astype(np.float64) ** 2)[0].mean() / 6, rel=1e-5)
    labels = Array("lab", y)
    with pytest.raises(ArgumentError, match=r"sample_weights name \['extra'\], which are "
                                            r"not outputs; the outputs are \['lab'\]"):
        JangguSequence(Array("x", x), labels, sample_weights={"lab": one, "extra": one},
                       batch_size=6)
    # a dict of weights without named outputs, and one number, were taken: fit then failed
    # with "Invalid dtype: object" and the construction with len()'s TypeError (an audit)
    with pytest.raises(ArgumentError, match=r"a dict of sample_weights names outputs: it "
                                            r"needs as_dict=True"):
        JangguSequence(x, labels, sample_weights={"lab": one}, batch_size=6, as_dict=False)
    with pytest.raises(ArgumentError, match=r"one weight per example \(6\), got a single"):
        JangguSequence(x, y, sample_weights=np.float64(1.0), batch_size=6, as_dict=False)

    # two named outputs, weights for one of them: the other's examples weigh 1 each
    named = keras.Input((3,), name="x")
    heads = {k: keras.layers.Reshape((5, 2), name=k)(
        keras.layers.Dense(10, kernel_initializer="zeros")(named)) for k in ("a", "b")}
    two = keras.Model(named, heads)
    two.compile(optimizer="sgd", loss={"a": "mse", "b": "mse"})
    yb = rng.uniform(0, 2, (6, 5, 2)).astype(np.float32)
    seq = JangguSequence({"x": x}, {"a": y, "b": yb}, sample_weights={"a": one},
                         batch_size=6)
    got = two.evaluate(seq, verbose=0, return_dict=True)
    assert got["a_loss"] == pytest.approx(
        (y.astype(np.float64) ** 2).mean(axis=-1)[0].sum() / 30, rel=1e-5)
    assert got["b_loss"] == pytest.approx((yb.astype(np.float64) ** 2).mean(), rel=1e-5)


def test_create_from_refgenome_takes_seqrecords_as_janggu(files: dict[str, str],
                                                          tmp_path: Path) -> None:
    """Janggu's test_dna_loading_from_seqrecord gives create_from_refgenome a list of
    SeqRecords; genozarr refused them ("FASTA files must be paths"; an audit that ran
    Janggu's own tests). They serve the FASTA's windows, in both layouts."""
    records = [SeqRecord(seq, name) for name, seq in
               ((n, s.decode()) for n, s in iter_fasta_records(files["fasta"]))]
    roi = ["chr1:100-300", "chr2:0-200"]
    for whole in (False, True):
        kw = {"roi": roi, "binsize": 100, "order": 2, "store_whole_genome": whole}
        got = Bioseq.create_from_refgenome("r", records, **kw)
        want = Bioseq.create_from_refgenome("r", files["fasta"], **kw)
        assert got.shape == want.shape == (4, 99, 1, 16)
        np.testing.assert_array_equal(got[:], want[:])


def test_janggu_wrappers_take_an_array_of_four_axes() -> None:
    """Janggu's test_randomorientation and test_randomshift wrap a plain Array of shape
    (n, position, strand, channel); genozarr refused it ("has no position axis")."""
    from genozarr import Array, RandomOrientation, RandomShift

    x = np.random.default_rng(0).random((6, 5, 2, 3))
    flips = RandomOrientation(Array("t", x), random_state=1)[:]
    for i in range(6):  # each item as it is, or with position and strand reversed
        assert np.array_equal(flips[i], x[i]) or np.array_equal(flips[i], x[i, ::-1, ::-1])
    assert not all(np.array_equal(flips[i], x[i]) for i in range(6))
    shifted = RandomShift(Array("t", x), 2, random_state=0)[:]
    assert shifted.shape == x.shape
    for i in range(6):  # a shift of at most 2 positions, padded with zeros
        assert any(np.array_equal(shifted[i], np.roll(x[i], k, axis=0) * _kept(k, 5)[:, None,
                                                                                        None])
                   for k in range(-2, 3))


def _kept(k: int, n: int) -> np.ndarray:
    """1 where a shift by ``k`` of ``n`` positions keeps a value, 0 where it pads."""
    keep = np.ones(n)
    if k > 0:
        keep[:k] = 0
    elif k < 0:
        keep[k:] = 0
    return keep


# ------------------------------------------------------------- the API surface (audit)
@pytest.mark.parametrize("make", [
    lambda ds: genozarr.RandomSignalScale(ds, deviance=0.5),
    lambda ds: genozarr.RandomOrientation(ds),
    lambda ds: genozarr.RandomShift(ds, shift=3),
], ids=["signal_scale", "orientation", "shift"])
def test_random_wrappers_follow_numpys_global_seed(make):
    """Janggu's random wrappers drew from numpy's global state, so np.random.seed made a
    run reproducible; genozarr's own generators had fresh entropy. Seeded from numpy's
    global state when made, np.random.seed before making them reproduces a run."""
    rng = np.random.default_rng(0)
    ds = genozarr.Array("x", rng.normal(size=(64, 8, 1, 4)).astype("float32"))

    def run(seed: int) -> np.ndarray:
        np.random.seed(seed)
        wrapper = make(ds)
        return np.concatenate([wrapper[:], wrapper[:]])

    first = run(5)
    np.testing.assert_array_equal(run(5), first)
    assert not np.array_equal(run(6), first)


def test_janggu_names_of_the_api_surface(tmp_path):
    """``create_from_genomesize(gsize=...)`` (Janggu's keyword) and
    ``garray.resolution`` work as in Janggu."""
    gi = GenomicIndexer.create_from_genomesize(gsize={"chr1": 300, "chr2": 120})
    assert gi.tostr() == ["chr1:0-300", "chr2:0-120"]
    assert GenomicIndexer.create_from_genomesize({"chr1": 300}).tostr() == ["chr1:0-300"]
    with pytest.raises(ArgumentError, match="takes the chromosome sizes once"):
        GenomicIndexer.create_from_genomesize({"chr1": 3}, gsize={"chr1": 3})
    x = np.ones((2, 4, 1, 1), dtype="float32")
    roi = pd.DataFrame({"chrom": ["chr1"] * 2, "start": [0, 200], "end": [200, 400]})
    cover = Cover.create_from_array("p", x, GenomicIndexer.create_from_file(roi, 200, 200))
    assert cover.garray.resolution == cover.resolution == 50


def test_unseeded_random_wrappers_made_in_forked_processes_differ():
    """Forked processes inherit numpy's global state: wrappers seeded from it alone drew
    the same numbers in every child that made one (a review); a child mixes in its id."""
    import multiprocessing

    ds = genozarr.Array("x", np.random.default_rng(0).normal(size=(32, 8, 1, 4)))
    np.random.seed(3)
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(3) as pool:
        draws = pool.map(_draw_in_child, [ds] * 3)
    assert len({d.tobytes() for d in draws}) == 3


def _draw_in_child(ds) -> np.ndarray:
    return genozarr.RandomSignalScale(ds, deviance=0.5)[:]

"""Janggu's dataset behaviours that its users' code depends on: a batch for every key,
interval and region keys, ``view(use_regions=)``, Janggu's spellings and defaults.
Values are checked against pyBigWig, pysam and plain numpy."""

from __future__ import annotations

import numpy as np
import pyBigWig
import pysam
import pytest

from genozarr import Bioseq, Cover, GenomicIndexer, ReduceDim, view
from genozarr.errors import ArgumentError, JangguDeprecationWarning


def _bw(path: str, chrom: str, start: int, end: int) -> np.ndarray:
    with pyBigWig.open(path) as bw:
        return np.nan_to_num(np.array(bw.values(chrom, start, end), dtype="float32"))


@pytest.fixture(scope="module")
def cover(sample_files):
    return Cover.create_from_bigwig("bw", [sample_files["bigwig_a"], sample_files["bigwig_b"]],
                                    roi=sample_files["roi"], binsize=200)


def test_every_key_returns_a_batch(cover, sample_files):
    region = cover.gindexer[4]
    assert cover[4].shape == (1, 200, 1, 2)
    np.testing.assert_array_equal(cover[4], cover[4:5])
    np.testing.assert_array_equal(cover[-1], cover[[len(cover) - 1]])
    # np.where over a batch of one gives positions on axis 1, as in Janggu
    pos = np.where(cover[4] == cover[4].max())[1]
    assert pos.max() < 200
    expected = _bw(sample_files["bigwig_a"], region.chrom, region.start, region.end)
    np.testing.assert_array_equal(cover[4][0, :, 0, 0], expected)
    iv = cover["chr1", 100, 200]
    assert iv.shape == (1, 100, 1, 2)
    np.testing.assert_array_equal(iv[0, :, 0, 0], _bw(sample_files["bigwig_a"], "chr1", 100, 200))
    # a region object (the indexer's own) and a 'chr:start-end' string are interval keys
    np.testing.assert_array_equal(cover[region], cover[4])
    np.testing.assert_array_equal(cover[f"{region.chrom}:{region.start}-{region.end}"],
                                  cover[4])
    np.testing.assert_array_equal(cover["chr1", 100, 200, "-"][0], iv[0, ::-1, ::-1])
    # wrappers keep the batch axis
    assert ReduceDim(cover)[4].shape == (1, 2)
    np.testing.assert_allclose(ReduceDim(cover)[4][0], cover[4][0].sum(axis=(0, 1)), rtol=1e-5)


def test_bioseq_keys_and_reverse_complement(sample_files):
    dna = Bioseq.create_from_refgenome("dna", sample_files["fasta"], roi=sample_files["roi"],
                                       binsize=200)
    assert dna[0].shape == (1, 200, 1, 4)
    with pysam.FastaFile(sample_files["fasta"]) as fa:
        seq = fa.fetch("chr1", 1000, 1010).upper()
    letters = "".join("ACGT"[i] for i in dna["chr1", 1000, 1010][0, :, 0].argmax(1))
    assert letters == seq
    comp = {"A": "T", "C": "G", "G": "C", "T": "A"}
    minus = "".join("ACGT"[i] for i in dna["chr1:1000-1010:-"][0, :, 0].argmax(1))
    assert minus == "".join(comp[b] for b in reversed(seq))


def test_view_takes_janggu_use_regions(cover, sample_files):
    by_roi = view(cover, sample_files["roi_test"])
    by_janggu = view(cover, use_regions=sample_files["roi_test"])
    np.testing.assert_array_equal(by_janggu[:], by_roi[:])
    with pytest.raises(ArgumentError, match="roi or use_regions"):
        view(cover, sample_files["roi_test"], use_regions=sample_files["roi_test"])


def test_janggu_spellings(sample_files):
    a = Cover.create_from_bam("r", sample_files["bam"], roi=sample_files["roi"], binsize=200,
                              pairedend="5pend")
    b = Cover.create_from_bam("r", sample_files["bam"], roi=sample_files["roi"], binsize=200)
    np.testing.assert_array_equal(a[:], b[:])
    with pytest.warns(JangguDeprecationWarning, match="datatags") as record:
        c = Cover.create_from_bigwig("bw", sample_files["bigwig_a"], roi=sample_files["roi"],
                                     binsize=200, datatags=["x"])
    assert len(c) > 0
    assert record[0].filename == __file__  # the warning names the user's line


def test_bed_whole_genome_extent_from_the_roi(sample_files, tmp_path):
    """Janggu: without genomesize a whole-genome BED cover spans each chromosome up to the
    largest ROI end on it."""
    roi = tmp_path / "roi.bed"
    roi.write_text("chr1\t0\t500\nchr1\t600\t1000\nchr2\t100\t300\n")
    bed = tmp_path / "f.bed"
    bed.write_text("chr1\t450\t650\tf\t1\t+\nchr2\t250\t900\tg\t1\t+\n")
    cov = Cover.create_from_bed("b", str(bed), roi=str(roi), binsize=100, resolution=50,
                                store_whole_genome=True)
    assert cov.garray.meta.chroms == {"chr1": 1000, "chr2": 300}
    got = cov["chr1", 400, 700][0, ::50, 0, 0]
    np.testing.assert_array_equal(got, [0, 1, 1, 1, 1, 0])  # 450-650 at 50 bp bins


def test_roi_none_stores_whole_chromosomes_read_by_interval(sample_files):
    cov = Cover.create_from_bigwig("bw", sample_files["bigwig_a"], roi=None,
                                   store_whole_genome=True)
    assert len(cov) == 0  # no windows until an indexer is attached (Janggu)
    with pyBigWig.open(sample_files["bigwig_a"]) as bw:
        sizes = bw.chroms()
    assert cov.garray.meta.chroms == sizes
    np.testing.assert_array_equal(cov["chr2", 5000, 5100][0, :, 0, 0],
                                  _bw(sample_files["bigwig_a"], "chr2", 5000, 5100))
    cov.gindexer = GenomicIndexer.create_from_file(sample_files["roi"], binsize=200,
                                                   stepsize=200)
    assert len(cov) > 0
    region = cov.gindexer[3]
    np.testing.assert_array_equal(cov[3][0, :, 0, 0],
                                  _bw(sample_files["bigwig_a"], region.chrom, region.start,
                                      region.end))

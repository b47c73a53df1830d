"""Input files of different genome builds (the same chromosome names, other lengths): an
error naming both files, not a store whose shorter file reads as zeros; errors naming the
file whose length they quote; regions past the end of a personal genome's chromosome
padded as a plain Bioseq pads them. Values against pyBigWig on the raw files."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pyBigWig
import pytest

from genozarr import Cover
from genozarr.errors import GenomeMismatchError, MissingChromosomeWarning, RegionError


def _bigwig(path, sizes: dict[str, int], seed: int) -> str:
    """A BigWig with the header ``sizes`` and a value on every base (1 bp entries)."""
    rng = np.random.default_rng(seed)
    with pyBigWig.open(str(path), "w") as bw:
        bw.addHeader(list(sizes.items()))
        for chrom, size in sizes.items():
            bw.addEntries(chrom, 0, values=rng.uniform(1, 10, size).tolist(), span=1, step=1)
    return str(path)


def _values(path: str, chrom: str, start: int, end: int) -> np.ndarray:
    """pyBigWig's values over ``[start, end)``, 0 past the file's chromosome end."""
    with pyBigWig.open(path) as bw:
        size = bw.chroms()[chrom]
        out = np.zeros(end - start)
        if start < size:
            out[:min(end, size) - start] = bw.values(chrom, start, min(end, size), numpy=True)
    return out


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("builds")
    return {"hg38": _bigwig(d / "hg38.bw", {"chr1": 10_000, "chr2": 8_000}, 1),
            "hg19": _bigwig(d / "hg19.bw", {"chr1": 9_000, "chr2": 8_000}, 2),
            "no_chr1": _bigwig(d / "no_chr1.bw", {"chr2": 8_000}, 3)}


@pytest.mark.parametrize("whole", [False, True])
def test_files_of_two_builds_are_an_error_naming_both(builds, whole):
    """A chromosome 9,000 bp in one BigWig and 10,000 bp in the other was stored at the
    longer length, the shorter file's part of a region past 9,000 all zeros, without a
    word (an audit); tiling the genome (roi=None) followed the first file's lengths. Now a
    GenomeMismatchError naming both files and lengths, in either order."""
    roi = pd.DataFrame({"chrom": ["chr1"], "start": [9_200], "end": [9_400]})
    for files in ([builds["hg19"], builds["hg38"]], [builds["hg38"], builds["hg19"]]):
        for kw in ({"roi": roi, "binsize": 200}, {"roi": None, "binsize": 1000}):
            with pytest.raises(GenomeMismatchError) as info:
                Cover.create_from_bigwig("c", files, store_whole_genome=whole, **kw)
            message = str(info.value)
            assert f"chr1 is {10_000 if files[0] == builds['hg38'] else 9_000:,} bp long in " \
                   f"{files[0]} but {10_000 if files[1] == builds['hg38'] else 9_000:,} bp " \
                   f"in {files[1]}" in message and "genomesize" in message
    # lengths stated with genomesize: built; each file's values as pyBigWig reads them, the
    # shorter file's past its own length padding (0, with nan_to_num=False too: as outside
    # a chromosome, as documented)
    files = [builds["hg19"], builds["hg38"]]
    for nan_to_num in (True, False):
        cover = Cover.create_from_bigwig("c", files, roi=roi, binsize=200,
                                         genomesize={"chr1": 10_000, "chr2": 8_000},
                                         store_whole_genome=whole, nan_to_num=nan_to_num)
        got = cover[0][0, :, 0, :]
        for j, path in enumerate(files):
            np.testing.assert_allclose(got[:, j], _values(path, "chr1", 9_200, 9_400),
                                       rtol=1e-6)
        assert (got[:, 0] == 0).all() and (got[:, 1] > 0).all()


def test_a_region_past_the_end_names_the_file_whose_length_it_quotes(builds):
    """The error named the first file with the length of another (the first lacked the
    chromosome): it names the file the length comes from."""
    roi = pd.DataFrame({"chrom": ["chr1"], "start": [10_500], "end": [10_700]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingChromosomeWarning)
        with pytest.raises(RegionError) as info:
            Cover.create_from_bigwig("c", [builds["no_chr1"], builds["hg38"]], roi=roi,
                                     binsize=200)
    assert str(info.value).startswith(f"{builds['hg38']}: region chr1:10500-10700 starts "
                                      "past the end of chr1 (length 10000)")


def test_files_of_one_build_with_other_contigs_still_build(builds):
    """Files that agree on every length they share (one lacks a chromosome) build as
    before: the missing chromosome reads as zeros, with its warning; values as pyBigWig's."""
    roi = pd.DataFrame({"chrom": ["chr1", "chr2"], "start": [100, 100], "end": [300, 300]})
    files = [builds["hg38"], builds["no_chr1"]]
    with pytest.warns(MissingChromosomeWarning):
        cover = Cover.create_from_bigwig("c", files, roi=roi, binsize=200)
    for i, chrom in enumerate(["chr1", "chr2"]):
        for j, path in enumerate(files):
            want = _values(path, chrom, 100, 300) if chrom == "chr2" or j == 0 else 0
            np.testing.assert_allclose(cover[i][0, :, 0, j], want, rtol=1e-6)


def test_a_personal_region_past_the_chromosome_end_is_padded(tmp_path):
    """A personal genome checked its windows (not the regions) against the chromosome
    lengths: a region running past the end, whose tail window starts there, was a
    RegionError naming that window (a plain Bioseq pads it with N; an audit). Now built:
    the tail window all N, as the plain Bioseq's, the first window the FASTA's bases."""
    import pysam

    from genozarr import Bioseq

    rng = np.random.default_rng(4)
    seq = "".join(rng.choice(list("ACGT"), 1000))
    fasta = tmp_path / "g.fa"
    fasta.write_text(">chr1\n" + "\n".join(seq[i:i + 60] for i in range(0, 1000, 60)) + "\n")
    pysam.faidx(str(fasta))
    vcf = tmp_path / "v.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n##contig=<ID=chr1,length=1000>\n"
                   '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
                   "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n"
                   f"chr1\t851\t.\t{seq[850]}\t{'A' if seq[850] != 'A' else 'C'}\t.\t.\t.\tGT"
                   "\t1|0\n")
    gz = pysam.tabix_index(str(vcf), preset="vcf", force=True)
    roi = pd.DataFrame({"chrom": ["chr1"], "start": [800], "end": [1200]})
    plain = Bioseq.create_from_refgenome("p", str(fasta), roi=roi, binsize=200)
    personal = Bioseq.create_from_refgenome("q", str(fasta), roi=roi, binsize=200,
                                            variants=gz, samples=["S1"])
    assert len(plain) == 2 and len(personal) == 4  # 2 windows x 2 haplotypes
    np.testing.assert_array_equal(personal[3], plain[1])  # the tail: all N (zeros)
    assert (plain[1] == 0).all()
    np.testing.assert_array_equal(personal[1], plain[0])  # haplotype 1: the reference
    assert (personal[0] != plain[0]).any()  # haplotype 0 holds the SNV at 850
    # regions given as an iterator, read once (a review: read again for the check, it
    # came back empty)
    once = Bioseq.create_from_refgenome("r", str(fasta), roi=(r for r in ["chr1:800-1200"]),
                                        binsize=200, variants=gz, samples=["S1"])
    np.testing.assert_array_equal(once[:], personal[:])

"""Chromosome sizes from every source and chr1/1 naming mismatches."""

from __future__ import annotations

import pysam
import pytest

from genozarr.errors import ChromosomeNamingError, ChromosomeNotFoundError, MalformedFileError
from genozarr.genome import chrom_mapping, chrom_sizes


def test_sizes_from_dict_and_file(tmp_path):
    assert chrom_sizes({"chr1": 10, "chr2": 5}) == {"chr1": 10, "chr2": 5}
    p = tmp_path / "g.chrom.sizes"
    p.write_text("chr1\t100\nchr2\t50\n")
    assert chrom_sizes(p) == {"chr1": 100, "chr2": 50}
    fai = tmp_path / "g.fa.fai"
    fai.write_text("chr1\t100\t6\t60\t61\n")
    assert chrom_sizes(fai) == {"chr1": 100}


def test_sizes_files_with_hash_in_names(tmp_path):
    """A '#' inside a name is part of it (PanSN names, 'sample#haplotype#contig'), in a
    .chrom.sizes file and in the .fai pysam writes; lines starting with '#' are comments.
    pandas' comment='#' cut the names there (the .fai: an error, the sizes file: NaN)."""
    import pysam

    fa = tmp_path / "p.fa"
    fa.write_text(">HG002#1#chr1\nACGTACGTAC\n>HG002#2#chr1\nACGTAC\n")
    pysam.faidx(str(fa))
    want = {"HG002#1#chr1": 10, "HG002#2#chr1": 6}
    assert chrom_sizes(fa) == want
    assert chrom_sizes(tmp_path / "p.fa.fai") == want
    sizes = tmp_path / "p.chrom.sizes"
    sizes.write_text("# a comment\r\nchr1\t100\r\nHG002#1#chr2\t50\r\n")
    assert chrom_sizes(sizes) == {"chr1": 100, "HG002#1#chr2": 50}


def test_sizes_from_fasta_bam_bigwig(tmp_path):
    import pyBigWig
    import pysam

    fa = tmp_path / "g.fa"
    fa.write_text(">c1\n" + "A" * 70 + "\n>c2\nACGT\n")
    assert chrom_sizes(fa) == {"c1": 70, "c2": 4}
    bam = tmp_path / "r.bam"
    with pysam.AlignmentFile(str(bam), "wb", header={"SQ": [{"SN": "c1", "LN": 70}]}):
        pass
    assert chrom_sizes(bam) == {"c1": 70}
    bw = tmp_path / "s.bw"
    h = pyBigWig.open(str(bw), "w")
    h.addHeader([("c1", 70), ("c2", 40)])
    h.close()
    assert chrom_sizes(bw) == {"c1": 70, "c2": 40}


@pytest.mark.parametrize("name", ["g.fa.bgz", "g.fas", "genome"])
def test_sizes_from_a_fasta_of_any_name(tmp_path, name):
    """A FASTA (bgzipped or plain) whose name has no FASTA suffix was read as a sizes
    table ('expected a chromosome sizes table', or binary garbage as a length); it is
    recognised by its first character. Sizes against pysam."""
    import shutil

    from genozarr.testing.simulate import write_fasta

    fa = write_fasta(tmp_path / "plain.fa", {"chr1": "ACGT" * 30, "chr2": "GATTACA" * 5})
    path = tmp_path / name
    if name.endswith(".bgz"):
        pysam.tabix_compress(fa, str(path))
    else:
        shutil.copy(fa, path)
    with pysam.FastaFile(fa) as ref:
        want = dict(zip(ref.references, ref.lengths))
    assert want == {"chr1": 120, "chr2": 35}
    assert chrom_sizes(path) == want


def test_malformed_sizes_file(tmp_path):
    p = tmp_path / "bad.sizes"
    p.write_text("chr1\t100\nchr2\tabc\n")
    with pytest.raises(MalformedFileError, match=r"bad.sizes: line 2"):
        chrom_sizes(p)


def test_chr_prefix_mismatch_is_explained():
    with pytest.raises(ChromosomeNamingError, match=r"reads.bam.*'chr1' vs '1'.*chrom_map='auto'"):
        chrom_mapping(["chr1", "chr2"], ["1", "2"], "reads.bam")
    assert chrom_mapping(["chr1"], ["1"], "reads.bam", "auto") == {"chr1": "1"}
    assert chrom_mapping(["1"], ["chr1"], "x", "auto") == {"1": "chr1"}
    assert chrom_mapping(["a"], ["b"], "x", {"a": "b"}) == {"a": "b"}
    with pytest.raises(ChromosomeNotFoundError, match="chrZ"):
        chrom_mapping(["chrZ"], ["chr1"], "x")


def test_absent_chromosomes_are_returned_not_raised():
    from genozarr.errors import GenozarrWarning
    from genozarr.genome import MissingChromosomeWarning, match_chroms

    assert match_chroms(["chr1", "chrM"], ["chr1"], "x.bw") == ({"chr1": "chr1", "chrM": "chrM"},
                                                                ["chrM"])
    assert match_chroms(["a"], ["z"], "x", {"a": "b"}) == ({"a": "b"}, ["a"])
    with pytest.raises(ChromosomeNamingError, match="'chr1' vs '1'"):
        match_chroms(["chr1", "chrM"], ["1"], "x.bw")
    assert issubclass(MissingChromosomeWarning, GenozarrWarning)


@pytest.mark.parametrize("length", ["1000.7", "99999999999999999999", "4294967296", "-1", "x"])
def test_chrom_sizes_file_lengths_are_whole_numbers_in_range(tmp_path, length):
    """A length that is not a whole number a BigWig or BAM could hold is an error naming
    the line (1000.7 was read as 1000, 1e20 as a negative number)."""
    from genozarr.errors import MalformedFileError
    from genozarr.genome import chrom_sizes

    path = tmp_path / "g.chrom.sizes"
    path.write_text(f"chr2\t500\nchr1\t{length}\n")
    with pytest.raises(MalformedFileError, match=f"line 2: .*got '{length}'"):
        chrom_sizes(str(path))
    path.write_text("chr2\t500\nchr1\t1000.0\n")
    assert chrom_sizes(str(path)) == {"chr2": 500, "chr1": 1000}


def test_chrom_sizes_files_keep_na_names_and_name_the_bad_line(tmp_path):
    """A chromosome named NA, NULL or None was renamed 'nan' (pandas' missing values); a
    bad length after comment or blank lines was named by its row, not its line; a dict
    took lengths past 2**32 - 1 that a file refuses, and failed later, elsewhere (an
    audit)."""
    from genozarr.errors import ArgumentError
    from genozarr.regions import GenomicIndexer

    sizes = tmp_path / "g.chrom.sizes"
    sizes.write_text("NA\t100\nNULL\t50\nNone\t20\n")
    assert chrom_sizes(sizes) == {"NA": 100, "NULL": 50, "None": 20}
    assert GenomicIndexer.create_from_genome(str(sizes), 50).tostr() == [
        "NA:0-50", "NA:50-100", "NULL:0-50", "None:0-20"]
    bad = tmp_path / "bad.chrom.sizes"
    bad.write_text("# my genome\n# built 2024\nchr1\t100\n\nchr2\t1.5e\n")
    with pytest.raises(MalformedFileError, match=r"line 5: chromosome length must be .* "
                                                 r"got '1\.5e'"):
        chrom_sizes(bad)
    with pytest.raises(ArgumentError, match=r"chromosome 'a': length must be a non-negative "
                                            r"integer of at most 4294967295, got 8589934592"):
        chrom_sizes({"a": 2**33})
    assert chrom_sizes({"a": 2**32 - 1}) == {"a": 2**32 - 1}


def test_a_chrom_map_entry_naming_itself_is_the_entry_to_fix():
    """An explicit chrom_map mapping 'chr1' to 'chr1' where the file says '1' was told to
    "pass chrom_map='auto' (or an explicit dict)", the dict it had passed (an audit): the
    message names its entries and the file's names."""
    from genozarr.genome import match_chroms

    with pytest.raises(ChromosomeNamingError, match=r"x\.bw: chrom_map maps region "
                       r"chromosomes to names the data does not have \('chr1' -> 'chr1', "
                       r"but the file has '1', 'chr2' -> 'chr2', but the file has '2'\)"):
        match_chroms(["chr1", "chr2"], ["1", "2"], "x.bw", {"chr1": "chr1", "chr2": "chr2"})
    # without a dict, or with entries for other names: the 'chr' prefix message, as before
    for mapping in (None, {"chrX": "X"}):
        with pytest.raises(ChromosomeNamingError, match="differ by a 'chr' prefix"):
            match_chroms(["chr1"], ["1"], "x.bw", mapping)
    assert match_chroms(["chr1"], ["1"], "x.bw", {"chr1": "1"}) == ({"chr1": "1"}, [])

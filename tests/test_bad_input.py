"""Bad input fails clearly; harmless oddities (headers, CRLF, gzip) are accepted with the right values.

Every error case expects a :class:`GenozarrError` subclass whose message names the file and
the problem. The hand-written corpus lives in ``tests/data/bad/``; binary cases (BAM without
index, truncated BAM, gzip/bgzip files) are made here from the simulated dataset. Each file is
copied to a temporary directory first, so no index or store lands in the repository.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pyBigWig
import pysam
import pytest

from genozarr.dataset import Bioseq, Cover
from genozarr.errors import (
    ArgumentError,
    ChromosomeNamingError,
    ChromosomeNotFoundError,
    GenozarrError,
    InputFileError,
    MalformedFileError,
    MissingIndexError,
    RegionError,
    StoreError,
)
from genozarr.io.bed import read_bed

BAD = Path(__file__).parent / "data" / "bad"
ONEHOT = {"A": [1, 0, 0, 0], "C": [0, 1, 0, 0], "G": [0, 0, 1, 0], "T": [0, 0, 0, 1],
          "N": [0, 0, 0, 0]}


@pytest.fixture
def bad(tmp_path):
    """Copy a corpus file into a temporary directory and return its path."""

    def copy(name: str) -> str:
        dest = tmp_path / name
        shutil.copy(BAD / name, dest)
        return str(dest)

    return copy


def expect(exc_type, where, *problems):
    """pytest.raises for ``exc_type`` (a GenozarrError) whose message names ``where`` and
    matches every regex in ``problems``."""
    assert issubclass(exc_type, GenozarrError)

    class _Check:
        def __enter__(self):
            self.ctx = pytest.raises(exc_type)
            self.info = self.ctx.__enter__()
            return self.info

        def __exit__(self, etype, value, tb):
            if etype is None or not issubclass(etype, exc_type):
                return self.ctx.__exit__(etype, value, tb)  # fails, or lets it propagate
            suppressed = self.ctx.__exit__(etype, value, tb)
            msg = str(self.info.value)
            assert str(where) in msg, f"message does not name {where}: {msg}"
            for p in problems:
                assert re.search(p, msg, re.I), f"message lacks {p!r}: {msg}"
            return suppressed

    return _Check()


def onehot(seq: str) -> np.ndarray:
    return np.array([ONEHOT[c] for c in seq.upper()], dtype=np.float32)


def bw_values(path: str, chrom: str, start: int, end: int) -> np.ndarray:
    """Reference values from pyBigWig (NaN -> 0), zero past the chromosome end."""
    with pyBigWig.open(path) as bw:
        length = bw.chroms(chrom)
        vals = np.array(bw.values(chrom, start, min(end, length)), dtype=np.float32)
    out = np.zeros(end - start, np.float32)
    out[: len(vals)] = np.nan_to_num(vals)
    return out


# ------------------------------------------------------------------------------ BAM
def test_bam_without_index(sim_data, tmp_path):
    bam = tmp_path / "reads.bam"
    shutil.copy(sim_data["bam"], bam)
    with expect(MissingIndexError, bam, r"no index", r"samtools index", r"index_bam"):
        Cover.create_from_bam("c", str(bam), roi=sim_data["roi"], binsize=200)
    # the advice works: build the index as the message says, then the same call succeeds
    from genozarr.io.bam import index_bam

    index_bam(bam)
    cover = Cover.create_from_bam("c", str(bam), roi=sim_data["roi"], binsize=200)
    ref = Cover.create_from_bam("c", sim_data["bam"], roi=sim_data["roi"], binsize=200)
    np.testing.assert_array_equal(cover[:], ref[:])
    assert cover[:].sum() > 0


def test_truncated_bam(sim_data, tmp_path):
    bam = tmp_path / "truncated.bam"
    data = Path(sim_data["bam"]).read_bytes()
    bam.write_bytes(data[: len(data) // 2])
    shutil.copy(sim_data["bam"] + ".bai", str(bam) + ".bai")
    with expect(InputFileError, bam, r"truncated|not a BAM"):
        Cover.create_from_bam("c", str(bam), roi=sim_data["roi"], binsize=200)


def test_not_a_bam(bad, sim_data, tmp_path):
    bam = tmp_path / "text.bam"
    shutil.copy(BAD / "header_track.bed", bam)
    Path(str(bam) + ".bai").write_bytes(b"")
    with expect(InputFileError, bam, r"not a BAM"):
        Cover.create_from_bam("c", str(bam), roi=sim_data["roi"], binsize=200)


# ------------------------------------------------------------------------------ BigWig
def test_bigwig_that_is_not_a_bigwig(bad, sim_data):
    path = bad("not_a_bigwig.bw")
    with expect(InputFileError, path, r"not a BigWig"):
        Cover.create_from_bigwig("c", path, roi=sim_data["roi"], binsize=200)


def test_bigwig_with_truncated_header(tmp_path, sim_data):
    from genozarr.io._handles import get_handle

    path = tmp_path / "cut.bw"
    path.write_bytes(Path(sim_data["bigwigs"][0]).read_bytes()[:40])
    with expect(InputFileError, path, r"not a BigWig|cannot be opened"):
        get_handle("bigwig", str(path))


# ------------------------------------------------------------------------------ BED
def test_empty_bed_as_roi(bad, sim_data):
    path = bad("empty.bed")
    with expect(RegionError, path, r"empty"):
        Cover.create_from_bigwig("c", sim_data["bigwigs"][0], roi=path, binsize=200)


def test_empty_bed_as_data_gives_zeros(bad, sim_data):
    """An empty peak file is a valid (if dull) input: every value is 0, the shape is right."""
    cover = Cover.create_from_bed("c", bad("empty.bed"), roi=sim_data["roi"], binsize=200,
                                  genomesize=sim_data["chrom_sizes"])
    roi = read_bed(sim_data["roi"])
    n = int(((roi["end"] - roi["start"]) // 200).sum())
    assert cover.shape == (n, 200, 1, 1)
    assert not cover[:].any()


@pytest.mark.parametrize("name, line, problem", [
    ("start_gt_end.bed", 2, r"start 500 > end 400"),
    ("negative.bed", 1, r"start must be a non-negative integer, got '-50'"),
    ("noninteger.bed", 2, r"start must be a non-negative integer, got '150\.5'"),
    ("too_few_columns.bed", 2, r"at least 3 tab-separated columns"),
])
def test_malformed_bed(bad, sim_data, name, line, problem):
    path = bad(name)
    with expect(MalformedFileError, path, rf"line {line}\b", problem):
        read_bed(path)
    # the same as a ROI and as data, through the public constructors
    with expect(MalformedFileError, path, problem):
        Cover.create_from_bigwig("c", sim_data["bigwigs"][0], roi=path, binsize=50)
    with expect(MalformedFileError, path, problem):
        Cover.create_from_bed("c", path, roi=sim_data["roi"], binsize=200)


def test_bed_more_malformed_values(tmp_path):
    cases = {
        "huge.bed": ("chr1\t1\t99999999999999999999999\n", r"end must be a non-negative"),
        "text.bed": ("chr1\tstart\tend\n", r"line 1: start must be"),
        "strand.bed": ("chr1\t1\t5\tn\t0\tx\n", r"strand must be"),
        "score.bed": ("chr1\t1\t5\tn\thigh\t+\n", r"score .* must be a number"),
        "binary.bed": (os.urandom(64).replace(b"\n", b"") + b"\xff\xfe\n", r"not .*UTF-8"),
        "spaces.bed": ("chr1 1 5\n", r"tab-separated"),
    }
    for name, (content, problem) in cases.items():
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        with expect(MalformedFileError, path, problem):
            read_bed(path)


def test_truncated_gzip_bed(tmp_path):
    path = tmp_path / "cut.bed.gz"
    data = gzip.compress(b"chr1\t10\t20\n" * 2000)
    path.write_bytes(data[: len(data) // 2])
    with expect(MalformedFileError, path, r"truncated|corrupt"):
        read_bed(path)


def test_header_and_track_lines_are_accepted(bad, sim_data):
    path = bad("header_track.bed")
    df = read_bed(path)
    assert df[["chrom", "start", "end", "name", "strand"]].values.tolist() == [
        ["chr1", 100, 200, "p1", "+"], ["chr2", 1000, 1050, "p2", "-"]]
    assert df["score"].tolist() == [5.0, 7.5]
    # as data in score mode: the scores land on exactly the features' bases
    cover = Cover.create_from_bed("c", path, roi=pd.DataFrame(
        {"chrom": ["chr1", "chr2"], "start": [0, 900], "end": [300, 1200]}), binsize=300,
        mode="score", genomesize=sim_data["chrom_sizes"])
    expected = np.zeros((2, 300), np.float32)
    expected[0, 100:200] = 5.0
    expected[1, 100:150] = 7.5
    np.testing.assert_array_equal(cover[:][:, :, 0, 0], expected)


def test_windows_line_endings_are_accepted(bad, sim_data):
    path = bad("crlf.bed")
    assert b"\r\n" in Path(path).read_bytes()  # the corpus file really has CRLF endings
    df = read_bed(path)
    assert df[["chrom", "start", "end", "name", "strand"]].values.tolist() == [
        ["chr1", 100, 200, "p1", "+"], ["chr2", 1000, 1050, "p2", "-"]]
    assert df["score"].tolist() == [5.0, 7.5]
    # as a ROI: the minus strand survives the \r (a '-\r' would silently become '.')
    cover = Cover.create_from_bigwig("c", sim_data["bigwigs"][0], roi=path, binsize=50)
    assert cover.gindexer.strand.tolist() == ["+", "+", "-"]
    bw = sim_data["bigwigs"][0]
    np.testing.assert_array_equal(cover[0][:, 0, 0], bw_values(bw, "chr1", 100, 150))
    np.testing.assert_array_equal(cover[2][:, 0, 0], bw_values(bw, "chr2", 1000, 1050)[::-1])
    # as data in score mode
    cover = Cover.create_from_bed("c", path, roi=sim_data["roi"], binsize=1000, mode="score",
                                  genomesize=sim_data["chrom_sizes"], store_whole_genome=True)
    assert cover["chr2", 0, 8000][1000:1050, 0, 0].tolist() == [7.5] * 50
    values = cover["chr1", 0, 12000][:, 0, 0]
    assert values[100:200].tolist() == [5.0] * 100 and not np.delete(values, range(100, 200)).any()


def test_crlf_fasta_is_accepted(bad):
    path = bad("crlf.fa")
    # record lengths 9 and 10: the \r is not counted as a base
    with expect(MalformedFileError, path, r"different lengths \(9\.\.10"):
        Bioseq.create_from_seq("s", path)
    seqs = Bioseq.create_from_seq("s", path, fixedlen=10)
    np.testing.assert_array_equal(seqs[0][:, 0, :], onehot("ACGTNACGTN"))
    np.testing.assert_array_equal(seqs[1][:, 0, :], onehot("GGCCATTAAC"))
    ref = Bioseq.create_from_refgenome("r", path, roi=pd.DataFrame(
        {"chrom": ["seq1", "seq2"], "start": [2, 3], "end": [8, 9]}), binsize=6)
    np.testing.assert_array_equal(ref[0][:, 0, :], onehot("GTNACG"))
    np.testing.assert_array_equal(ref[1][:, 0, :], onehot("CATTAA"))


# ------------------------------------------------------------------------------ gzip
def test_gzip_bed_is_accepted(bad, sim_data, tmp_path):
    plain = read_bed(bad("header_track.bed"))
    for name in ("peaks.bed.gz", "peaks_without_gz_suffix.bed"):
        path = tmp_path / name
        path.write_bytes(gzip.compress((BAD / "header_track.bed").read_bytes()))
        pd.testing.assert_frame_equal(read_bed(path), plain, check_like=True)
    roi = tmp_path / "roi.bed.gz"
    roi.write_bytes(gzip.compress(Path(sim_data["roi"]).read_bytes()))
    bw = sim_data["bigwigs"][0]
    a = Cover.create_from_bigwig("c", bw, roi=str(roi), binsize=200)
    b = Cover.create_from_bigwig("c", bw, roi=sim_data["roi"], binsize=200)
    np.testing.assert_array_equal(a[:], b[:])
    first = read_bed(sim_data["roi"]).iloc[0]
    expected = bw_values(bw, first.chrom, first.start, first.start + 200)
    np.testing.assert_array_equal(a[0][:, 0, 0], expected if first.strand != "-" else expected[::-1])


def test_gzip_fasta_create_from_seq(bad, tmp_path):
    path = tmp_path / "seqs.fa.gz"
    path.write_bytes(gzip.compress(b">a\nACGTN\n>b\nggcca\n"))
    seqs = Bioseq.create_from_seq("s", str(path))
    np.testing.assert_array_equal(seqs[:][:, :, 0, :], np.stack([onehot("ACGTN"), onehot("GGCCA")]))


def test_gzip_fasta_create_from_refgenome(sim_data, tmp_path):
    """Plain gzip cannot be faidx-indexed: a clear error suggesting bgzip. bgzip works."""
    text = Path(sim_data["fasta"]).read_bytes()
    gz = tmp_path / "genome.fa.gz"
    gz.write_bytes(gzip.compress(text))
    roi = pd.DataFrame({"chrom": ["chr1", "chr2"], "start": [100, 7900], "end": [300, 8100]})
    with expect(MissingIndexError, gz, r"not bgzip", r"bgzip"):
        Bioseq.create_from_refgenome("g", str(gz), roi=roi, binsize=200)
    plain = tmp_path / "genome.fa"
    plain.write_bytes(text)
    pysam.tabix_compress(str(plain), str(tmp_path / "genome.bgz.fa.gz"))
    bgz = Bioseq.create_from_refgenome("g", str(tmp_path / "genome.bgz.fa.gz"), roi=roi,
                                       binsize=200)
    with pysam.FastaFile(sim_data["fasta"]) as fa:
        first, tail = fa.fetch("chr1", 100, 300), fa.fetch("chr2", 7900, 8000)
    np.testing.assert_array_equal(bgz[0][:, 0, :], onehot(first))
    np.testing.assert_array_equal(bgz[1][:, 0, :], onehot(tail + "N" * 100))


# ------------------------------------------------------------------------------ FASTA
def test_duplicate_sequence_names(bad):
    path = bad("duplicate_names.fa")
    with expect(MalformedFileError, path, r"'seq1'", r"(twice|more than once)"):
        Bioseq.create_from_seq("s", path)
    roi = pd.DataFrame({"chrom": ["seq1"], "start": [0], "end": [10]})
    with expect(MalformedFileError, path, r"'seq1'", r"more than once"):
        Bioseq.create_from_refgenome("s", path, roi=roi, binsize=10)
    assert not Path(path + ".fai").exists()  # no index that hides the duplicate next time


def test_duplicate_sequence_names_in_an_existing_fai(tmp_path):
    fa = tmp_path / "dup.fa"
    fa.write_text(">a\nACGT\n>a\nGGGG\n")
    (tmp_path / "dup.fa.fai").write_text("a\t4\t3\t4\t5\na\t4\t11\t4\t5\n")
    roi = pd.DataFrame({"chrom": ["a"], "start": [0], "end": [4]})
    with expect(MalformedFileError, str(fa), r"'a'", r"more than once"):
        Bioseq.create_from_refgenome("s", str(fa), roi=roi, binsize=4)


def test_not_a_fasta(bad):
    path = bad("not_fasta.fa")
    with expect(MalformedFileError, path, r"no sequences"):
        Bioseq.create_from_seq("s", path)
    with expect(MissingIndexError, path, r"not a FASTA"):
        Bioseq.create_from_refgenome("s", path, roi=pd.DataFrame(
            {"chrom": ["x"], "start": [0], "end": [4]}), binsize=4)


def _make_read_only(directory: Path):
    """Make ``directory`` unwritable even for root (chattr +i); returns an undo function."""
    if os.geteuid() != 0:
        directory.chmod(0o555)
        return lambda: directory.chmod(0o755)
    if shutil.which("chattr") is None:
        pytest.skip("running as root without chattr: cannot make a directory read-only")
    done = subprocess.run(["chattr", "+i", str(directory)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"chattr +i not supported here: {done.stderr.decode().strip()}")
    return lambda: subprocess.run(["chattr", "-i", str(directory)], check=True)


def test_fasta_without_fai_in_read_only_directory(sim_data, tmp_path):
    ro = tmp_path / "readonly"
    ro.mkdir()
    fasta = ro / "genome.fa"
    shutil.copy(sim_data["fasta"], fasta)
    undo = _make_read_only(ro)
    try:
        with pytest.raises(OSError):  # the directory really is read-only
            (ro / "probe").touch()
        with expect(MissingIndexError, fasta, r"read-only", r"samtools faidx"):
            Bioseq.create_from_refgenome("s", str(fasta), roi=sim_data["roi"], binsize=200)
    finally:
        undo()
    assert not list(ro.glob("*.fai*"))
    # once writable, the same call indexes the file and reads the right sequence
    seq = Bioseq.create_from_refgenome("s", str(fasta), roi=pd.DataFrame(
        {"chrom": ["chr2"], "start": [10], "end": [60]}), binsize=50)
    with pysam.FastaFile(sim_data["fasta"]) as fa:
        np.testing.assert_array_equal(seq[0][:, 0, :], onehot(fa.fetch("chr2", 10, 60)))


# ------------------------------------------------------------------------------ chromosomes
@pytest.mark.parametrize("kind", ["bigwig", "bam", "fasta"])
def test_roi_on_absent_chromosome(bad, sim_data, kind):
    roi = bad("absent_chrom.bed")
    data = {"bigwig": sim_data["bigwigs"][0], "bam": sim_data["bam"], "fasta": sim_data["fasta"]}[kind]
    with expect(ChromosomeNotFoundError, data, r"'chr9'", r"not found"):
        if kind == "bigwig":
            Cover.create_from_bigwig("c", data, roi=roi, binsize=200)
        elif kind == "bam":
            Cover.create_from_bam("c", data, roi=roi, binsize=200)
        else:
            Bioseq.create_from_refgenome("c", data, roi=roi, binsize=200)


def test_roi_on_absent_chromosome_with_genomesize(bad, sim_data):
    """A BED file has no header; with a genome size the absent chromosome is caught."""
    with expect(ChromosomeNotFoundError, "genomesize", r"'chr9'"):
        Cover.create_from_bed("c", sim_data["peaks"], roi=bad("absent_chrom.bed"), binsize=200,
                              genomesize=sim_data["chrom_sizes"])


@pytest.mark.parametrize("kind", ["bigwig", "bam", "fasta"])
def test_chr_prefix_mismatch(bad, sim_data, kind):
    roi = bad("no_chr_prefix.bed")
    data = {"bigwig": sim_data["bigwigs"][0], "bam": sim_data["bam"], "fasta": sim_data["fasta"]}[kind]
    make = {"bigwig": Cover.create_from_bigwig, "bam": Cover.create_from_bam,
            "fasta": Bioseq.create_from_refgenome}[kind]
    with expect(ChromosomeNamingError, data, r"'1' vs 'chr1'", r"chrom_map='auto'"):
        make("c", data, roi=roi, binsize=200)
    fixed = make("c", data, roi=roi, binsize=200, chrom_map="auto")
    named = pd.DataFrame({"chrom": ["chr1", "chr2"], "start": [1000, 2000], "end": [1200, 2200],
                          "strand": ["+", "-"]})
    ref = make("c", data, roi=named, binsize=200)
    np.testing.assert_array_equal(fixed[:], ref[:])
    assert fixed[:].any()
    if kind == "bigwig":  # and the reference itself is right
        np.testing.assert_array_equal(ref[0][:, 0, 0], bw_values(data, "chr1", 1000, 1200))


def test_chr_prefix_mismatch_bed_with_genomesize(bad, sim_data):
    with expect(ChromosomeNamingError, "genomesize", r"'1' vs 'chr1'"):
        Cover.create_from_bed("c", sim_data["peaks"], roi=bad("no_chr_prefix.bed"), binsize=200,
                              genomesize=sim_data["chrom_sizes"])


def test_chr_prefix_mismatch_bed_data_without_genomesize(bad, sim_data):
    with pytest.raises(ChromosomeNamingError):
        Cover.create_from_bed("c", sim_data["peaks"], roi=bad("no_chr_prefix.bed"), binsize=200)


# ------------------------------------------------------------------------------ regions
def test_region_starting_past_chromosome_end(bad, sim_data):
    roi = bad("start_past_end.bed")
    bw = sim_data["bigwigs"][0]
    with expect(RegionError, bw, r"chr2:8000-8200", r"starts past the end", r"8000"):
        Cover.create_from_bigwig("c", bw, roi=roi, binsize=200)
    with expect(RegionError, sim_data["fasta"], r"starts past the end"):
        Bioseq.create_from_refgenome("c", sim_data["fasta"], roi=roi, binsize=200)


def test_region_tail_past_chromosome_end_is_padded(bad, sim_data):
    roi = bad("tail_past_end.bed")  # chr2:7900-8100, chr2 has 8000 bp
    bw = sim_data["bigwigs"][0]
    cover = Cover.create_from_bigwig("c", bw, roi=roi, binsize=200)
    expected = np.zeros(200, np.float32)
    expected[:100] = bw_values(bw, "chr2", 7900, 8000)
    np.testing.assert_array_equal(cover[0][:, 0, 0], expected)
    assert expected[:100].any()
    bam = Cover.create_from_bam("c", sim_data["bam"], roi=roi, binsize=200)
    counts = np.zeros((200, 2))
    with pysam.AlignmentFile(sim_data["bam"]) as f:
        for r in f.fetch("chr2", 7900, 8000):
            if r.flag & (0x4 | 0x100 | 0x800 | 0x200 | 0x400):
                continue
            pos = r.reference_end - 1 if r.is_reverse else r.reference_start
            if 7900 <= pos < 8000:
                counts[pos - 7900, int(r.is_reverse)] += 1
    assert counts.sum() > 0
    np.testing.assert_array_equal(bam[0][:, :, 0], counts)
    seq = Bioseq.create_from_refgenome("s", sim_data["fasta"], roi=roi, binsize=200)
    with pysam.FastaFile(sim_data["fasta"]) as fa:
        np.testing.assert_array_equal(seq[0][:, 0, :], onehot(fa.fetch("chr2", 7900, 8000) + "N" * 100))


def test_binsize_not_divisible_by_resolution(sim_data):
    with pytest.raises(ArgumentError, match=r"binsize 150 is not divisible by resolution 100"):
        Cover.create_from_bigwig("c", sim_data["bigwigs"][0], roi=sim_data["roi"], binsize=150,
                                 resolution=100)


@pytest.mark.parametrize("stepsize", [0, -5])
def test_stepsize_zero(sim_data, stepsize):
    with pytest.raises(ArgumentError, match=rf"stepsize .*got {stepsize}"):
        Cover.create_from_bigwig("c", sim_data["bigwigs"][0], roi=sim_data["roi"], binsize=100,
                                 stepsize=stepsize)
    from genozarr.regions import GenomicIndexer

    with pytest.raises(ArgumentError, match="stepsize"):
        GenomicIndexer.create_from_file(sim_data["roi"], binsize=100, stepsize=stepsize)


@pytest.mark.parametrize("roi", [
    pd.DataFrame({"chrom": [], "start": [], "end": []}), [],
])
def test_empty_roi(sim_data, roi):
    with pytest.raises(RegionError, match="empty"):
        Cover.create_from_bigwig("c", sim_data["bigwigs"][0], roi=roi, binsize=100)


def test_no_window_fits(sim_data):
    roi = pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [50]})
    with pytest.raises(RegionError, match="no window of binsize 100"):
        Cover.create_from_bigwig("c", sim_data["bigwigs"][0], roi=roi, binsize=100,
                                 zero_padding=False)


# ------------------------------------------------------------------------------ stores
def test_existing_directory_that_is_not_a_store(sim_data, tmp_path):
    from genozarr.store.open import open_store

    target = tmp_path / "my_results"
    target.mkdir()
    (target / "notes.txt").write_text("precious")
    with expect(StoreError, target, r"not a complete genozarr store"):
        open_store(target)
    with expect(StoreError, target, r"not a genozarr store", r"does not delete"):
        Cover.create_from_bigwig("c", sim_data["bigwigs"][0], roi=sim_data["roi"], binsize=200,
                                 storage="zarr", store=target)
    assert (target / "notes.txt").read_text() == "precious"
    assert [p.name for p in tmp_path.iterdir()] == ["my_results"]  # no temporary left over
    # a plain zarr group written by someone else is not replaced either
    import zarr

    other = tmp_path / "other.zarr"
    zarr.open_group(str(other), mode="w", zarr_format=3).create_array("x", shape=(3,), dtype="i4")
    with expect(StoreError, other, r"not a genozarr store"):
        Cover.create_from_bigwig("c", sim_data["bigwigs"][0], roi=sim_data["roi"], binsize=200,
                                 storage="zarr", store=other, cache=True)
    assert (other / "x" / "zarr.json").exists()


def test_store_path_that_is_a_file(sim_data, tmp_path):
    target = tmp_path / "file.zarr"
    target.write_text("x")
    with expect(StoreError, target, r"is a file"):
        Cover.create_from_bigwig("c", sim_data["bigwigs"][0], roi=sim_data["roi"], binsize=200,
                                 storage="zarr", store=target)


def test_empty_directory_is_used_as_store(sim_data, tmp_path):
    target = tmp_path / "empty.zarr"
    target.mkdir()
    cover = Cover.create_from_bigwig("c", sim_data["bigwigs"][0], roi=sim_data["roi"],
                                     binsize=200, storage="zarr", store=target)
    ref = Cover.create_from_bigwig("c", sim_data["bigwigs"][0], roi=sim_data["roi"], binsize=200)
    np.testing.assert_array_equal(cover[:], ref[:])


def test_bam_corrupted_mid_stream(sim_data, tmp_path):
    bam = tmp_path / "cut.bam"
    data = Path(sim_data["bam"]).read_bytes()
    eof = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
    bam.write_bytes(data[: len(data) // 2] + eof)
    shutil.copy(sim_data["bam"] + ".bai", str(bam) + ".bai")
    with expect(MalformedFileError, bam, r"truncated|corrupt"):
        Cover.create_from_bam("c", str(bam), roi=sim_data["roi"], binsize=200)
